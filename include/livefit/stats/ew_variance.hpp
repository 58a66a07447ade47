// ew_variance<Scalar>: exponentially weighted mean, variance and standard deviation of one
// series (pandas ewm(...).mean()/.var()/.std()).
#ifndef LIVEFIT_STATS_EW_VARIANCE_HPP
#define LIVEFIT_STATS_EW_VARIANCE_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/stats/detail/common.hpp"
#include "livefit/stats/detail/ew_moments.hpp"

namespace livefit {

/// Exponentially weighted variance of one series, equal to pandas
/// `ewm(..., adjust, ignore_na).var(bias)`, stable when the mean is huge next to the spread
/// (case C03: values near 1e9 that move by 0.5 or 1e-3 keep every digit of their variance).
///
/// Copyable value type, O(1) per update, no allocation; not thread-safe.
template <class Scalar>
class ew_variance : public detail::ew_moments_base<Scalar, false> {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::ew_variance supports float and double only");

 public:
  /// The floating-point type of values and results (float or double).
  using scalar_type = Scalar;
  /// The options struct that make() validates.
  using options_type = ew_moments_options;
  /// Stable type name written into checkpoints, so a file of another type is refused.
  static constexpr std::string_view checkpoint_type = "livefit.ew_variance";

  /// Validates `opts` and builds the estimator.
  [[nodiscard]] static result<ew_variance> make(const ew_moments_options& opts) {
    const result<double> a = detail::check_moments(opts, "ew_variance");
    if (!a) return a.error();
    return ew_variance(detail::ew_moments<Scalar, false>(static_cast<Scalar>(*a), opts));
  }

  /// Adds one observation.
  /// @return status::ok; status::non_finite_input for NaN or infinity (nothing changes);
  ///         status::numerical_failure when a moment would overflow (nothing changes).
  [[nodiscard]] status update(Scalar x) noexcept {
    if (!std::isfinite(x)) [[unlikely]]
      return status::non_finite_input;
    if (!m_.observe(x, x)) [[unlikely]]
      return status::numerical_failure;
    return status::ok;
  }

  /// The weighted mean (as an adjusted or plain ema). @pre count() > 0
  [[nodiscard]] Scalar mean() const noexcept { return m_.mean_x(); }
  /// The variance, bias-corrected unless the options ask for `bias`; nullopt before the
  /// warm-up and while the correction is undefined (one observation).
  [[nodiscard]] std::optional<Scalar> variance() const noexcept { return m_.finish(m_.cxx()); }
  /// The standard deviation, sqrt(variance()); nullopt when the variance is.
  [[nodiscard]] std::optional<Scalar> stddev() const noexcept {
    return detail::sqrt_of(variance());
  }

 private:
  using base = detail::ew_moments_base<Scalar, false>;
  using base::m_;
  explicit ew_variance(const detail::ew_moments<Scalar, false>& m) noexcept : base(m) {}
};

}  // namespace livefit

#endif  // LIVEFIT_STATS_EW_VARIANCE_HPP
