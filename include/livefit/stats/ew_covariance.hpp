// ew_covariance<Scalar>: exponentially weighted covariance and correlation of two series
// observed together (pandas ewm(...).cov(other)/.corr(other)).
#ifndef LIVEFIT_STATS_EW_COVARIANCE_HPP
#define LIVEFIT_STATS_EW_COVARIANCE_HPP

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

/// Exponentially weighted covariance and correlation of a pair of series, equal to pandas
/// `x.ewm(...).cov(y, bias)` and `x.ewm(...).corr(y)`, with the same stable, shifted
/// recursion as ew_variance. Both variances are kept too.
///
/// Copyable value type, O(1) per update, no allocation; not thread-safe.
template <class Scalar>
class ew_covariance : public detail::ew_moments_base<Scalar, true> {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::ew_covariance supports float and double only");

 public:
  /// The floating-point type of values and results (float or double).
  using scalar_type = Scalar;
  /// The options struct that make() validates.
  using options_type = ew_moments_options;
  /// Stable type name written into checkpoints, so a file of another type is refused.
  static constexpr std::string_view checkpoint_type = "livefit.ew_covariance";

  /// Validates `opts` and builds the estimator.
  [[nodiscard]] static result<ew_covariance> make(const ew_moments_options& opts) {
    const result<double> a = detail::check_moments(opts, "ew_covariance");
    if (!a) return a.error();
    return ew_covariance(detail::ew_moments<Scalar, true>(static_cast<Scalar>(*a), opts));
  }

  /// Adds one observation of the pair.
  /// @return status::ok; status::non_finite_input when x or y is NaN or infinite (nothing
  ///         changes: a pair is observed whole or not at all); status::numerical_failure
  ///         when a moment would overflow (nothing changes).
  [[nodiscard]] status update(Scalar x, Scalar y) noexcept {
    if (!std::isfinite(x) || !std::isfinite(y)) [[unlikely]]
      return status::non_finite_input;
    if (!m_.observe(x, y)) [[unlikely]]
      return status::numerical_failure;
    return status::ok;
  }

  /// Weighted mean of x. @pre count() > 0
  [[nodiscard]] Scalar mean_x() const noexcept { return m_.mean_x(); }
  /// Weighted mean of y. @pre count() > 0
  [[nodiscard]] Scalar mean_y() const noexcept { return m_.mean_y(); }
  /// The covariance (bias-corrected unless `bias`); nullopt before the warm-up and while the
  /// correction is undefined.
  [[nodiscard]] std::optional<Scalar> covariance() const noexcept { return m_.finish(m_.cxy()); }
  /// The variance of x, on the same terms as covariance().
  [[nodiscard]] std::optional<Scalar> variance_x() const noexcept { return m_.finish(m_.cxx()); }
  /// The variance of y, on the same terms as covariance().
  [[nodiscard]] std::optional<Scalar> variance_y() const noexcept { return m_.finish(m_.cyy()); }

  /// The correlation cov / sqrt(var_x var_y) (the bias correction cancels); nullopt before
  /// the warm-up and when either series has had no spread (pandas returns NaN or inf there).
  [[nodiscard]] std::optional<Scalar> correlation() const noexcept {
    if (!m_.ready() || m_.count() == 0) return std::nullopt;
    // Two square roots, not sqrt(var_x var_y): the product of two finite variances can
    // overflow.
    const Scalar sx = std::sqrt(m_.cxx());
    const Scalar sy = std::sqrt(m_.cyy());
    if (!(sx > Scalar(0) && sy > Scalar(0))) return std::nullopt;
    // LIMITATION: not clamped to [-1, 1] (as pandas): rounding can exceed 1 by an ulp or so.
    return m_.cxy() / sx / sy;
  }

 private:
  using base = detail::ew_moments_base<Scalar, true>;
  using base::m_;
  explicit ew_covariance(const detail::ew_moments<Scalar, true>& m) noexcept : base(m) {}
};

}  // namespace livefit

#endif  // LIVEFIT_STATS_EW_COVARIANCE_HPP
