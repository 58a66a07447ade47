// sample: one observation of the stream, as the pipeline sees it.
#ifndef LIVEFIT_CORE_SAMPLE_HPP
#define LIVEFIT_CORE_SAMPLE_HPP

#include <cstdint>

#include <Eigen/Core>

namespace livefit {

/// One observation `(x, y, key, time)`.
///
/// `key` routes the sample through a sticky traffic split (a user or instrument id hashed by
/// the caller); `has_key == false` asks for random assignment. `time` is in the stream's own
/// unit (seconds, days) and must not decrease from one sample to the next.
template <class Scalar, int D>
struct sample {
  using scalar_type = Scalar;                      ///< float or double.
  using vector_type = Eigen::Matrix<Scalar, D, 1>;  ///< The feature vector's type.

  vector_type x;            ///< Features.
  Scalar y{0};              ///< Observed target (known after the prediction is served).
  std::uint64_t key{0};     ///< Routing key of the traffic split; read when has_key.
  bool has_key{false};      ///< False: the split assigns the sample at random (seeded).
  double time{0.0};         ///< Stream time; must not decrease from sample to sample.
};

}  // namespace livefit

#endif  // LIVEFIT_CORE_SAMPLE_HPP
