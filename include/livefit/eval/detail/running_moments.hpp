// Welford's running mean and variance: the building block of paired evidence, the sequential
// test and EDDM. Numerically stable (no sum-of-squares cancellation), O(1), no allocation.
#ifndef LIVEFIT_EVAL_DETAIL_RUNNING_MOMENTS_HPP
#define LIVEFIT_EVAL_DETAIL_RUNNING_MOMENTS_HPP

#include <cmath>
#include <cstdint>

#include "livefit/core/detail/finite.hpp"

namespace livefit::detail {

/// Count, mean and sum of squared deviations (Welford 1962; Knuth TAOCP vol. 2, 4.2.2).
struct running_moments {
  std::uint64_t n{0};
  double mean{0.0};
  double m2{0.0};  ///< Sum of squared deviations from the mean.

  /// The moments with one more finite value, not committed. Finite inputs can still
  /// overflow: v - mean for values of opposite sign near the double maximum, or the squared
  /// deviations; check the result with finite() before committing it.
  /// @pre std::isfinite(v)
  [[nodiscard]] running_moments with(double v) const noexcept {
    running_moments next = *this;
    ++next.n;
    const double delta = v - mean;
    next.mean = mean + delta / static_cast<double>(next.n);
    next.m2 = m2 + delta * (v - next.mean);
    return next;
  }

  /// Non-zero when mean or m2 is NaN or infinite; OR several of these for one test.
  [[nodiscard]] bits_of<double> non_finite_bits() const noexcept {
    return non_finite_bit(mean) | non_finite_bit(m2);
  }

  /// True when mean and m2 are finite (one branch-free test of both).
  [[nodiscard]] bool finite() const noexcept { return non_finite_bits() == 0; }

  /// Adds one finite value, or changes nothing and returns false when the moments would
  /// overflow (the value is then numerically out of reach of this estimator).
  /// @pre std::isfinite(v)
  [[nodiscard]] bool add(double v) noexcept {
    const running_moments next = with(v);
    if (!next.finite()) [[unlikely]]
      return false;
    *this = next;
    return true;
  }

  /// True for moments a sequence of add() calls can produce: finite, m2 >= 0, the empty
  /// state exactly zero, one value with no spread (checkpoint validation).
  [[nodiscard]] bool valid() const noexcept {
    if (!finite() || !(m2 >= 0.0)) return false;
    if (n == 0) return mean == 0.0 && m2 == 0.0;
    if (n == 1) return m2 == 0.0;
    return true;
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
