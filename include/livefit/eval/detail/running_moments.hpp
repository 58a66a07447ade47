// Welford's running mean and variance: the building block of paired evidence, the sequential
// test and EDDM. Numerically stable (no sum-of-squares cancellation), O(1), no allocation.
#ifndef LIVEFIT_EVAL_DETAIL_RUNNING_MOMENTS_HPP
#define LIVEFIT_EVAL_DETAIL_RUNNING_MOMENTS_HPP

#include <cstdint>

namespace livefit::detail {

/// Count, mean and sum of squared deviations (Welford 1962; Knuth TAOCP vol. 2, 4.2.2).
struct running_moments {
  std::uint64_t n{0};
  double mean{0.0};
  double m2{0.0};  ///< Sum of squared deviations from the mean.

  /// Adds one finite value. @pre std::isfinite(v)
  void add(double v) noexcept {
    ++n;
    const double delta = v - mean;
    mean += delta / static_cast<double>(n);
    m2 += delta * (v - mean);
  }

  /// Sample variance (denominator n - 1); 0 when n < 2.
  [[nodiscard]] double sample_variance() const noexcept {
    return n < 2 ? 0.0 : m2 / static_cast<double>(n - 1);
  }

  /// Population variance (denominator n); 0 when n == 0.
  [[nodiscard]] double population_variance() const noexcept {
    return n == 0 ? 0.0 : m2 / static_cast<double>(n);
  }
};

}  // namespace livefit::detail

#endif  // LIVEFIT_EVAL_DETAIL_RUNNING_MOMENTS_HPP
