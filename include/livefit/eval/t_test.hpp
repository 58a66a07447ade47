// Student t tail probabilities and the paired and Welch t-tests that deployment gates use.
#ifndef LIVEFIT_EVAL_T_TEST_HPP
#define LIVEFIT_EVAL_T_TEST_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

#include "livefit/eval/detail/special_functions.hpp"

namespace livefit {

/// Outcome of a t-test.
///
/// `defined == false` means the data cannot support a test: fewer than two observations in
/// an arm, a non-finite or negative input, or zero variance with equal means (identical arms).
/// Then `statistic == 0` and `p_value == 1`, so a gate that reads only the p-value holds.
///
/// Zero variance with *different* means is the limit of the test, not a failure: every
/// observation says the same non-zero difference. Then `defined == true`, `statistic` is
/// +inf or -inf (the sign of the difference) and `p_value == 0`, as scipy returns (e.g.
/// constant arms 0 and 1). Gates that want to be careful about such degenerate early data
/// should ask for a minimum n.
///
/// Rounding rule: a zero variance proves nothing when the difference is itself at the
/// rounding level, so the test is undefined (p = 1) when the variance is zero and
///  - |difference| <= 16 eps * scale, where scale is the magnitude of the means the
///    difference was taken from (constant arms 1.0 and 1.0 - 1e-15 differ only by the
///    rounding of their inputs), or
///  - |difference| < sqrt(DBL_MIN) (about 1.5e-154): the squared deviations of such
///    differences underflow to 0, so their variance is 0 whatever their spread (paired
///    differences of 1e-300).
/// 16 eps covers the few roundings between a raw value and a mean (subtraction, Welford's
/// update); a real difference that small against its means is below double's resolution.
/// No field is ever NaN. The p-value is two-sided; the one-sided p-value for "the first arm's
/// mean is larger" is student_t_cdf(-statistic, df).
struct test_result {
  double statistic{0.0};  ///< t statistic (first minus second arm), or 0 when undefined.
  double df{0.0};         ///< Degrees of freedom (Welch-Satterthwaite for Welch), 0 if n < 2.
  double p_value{1.0};    ///< Two-sided p-value in [0, 1].
  bool defined{false};    ///< False when the data cannot support a test (see above).
};

/// Regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b).
///
/// Continued fraction with the modified Lentz algorithm; relative accuracy about 1e-14 for
/// moderate a, b (checked against scipy.special.betainc in the tests), cost growing like
/// sqrt(max(a, b)) iterations. Thread-safe and allocation-free.
/// @return I_x(a, b); NaN when an argument is NaN, a <= 0, b <= 0 or x outside [0, 1].
[[nodiscard]] inline double regularized_incomplete_beta(double a, double b, double x) noexcept {
  if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0) || !(x <= 1.0))
    return std::numeric_limits<double>::quiet_NaN();
  return detail::regularized_incomplete_beta(a, b, x, 1.0 - x);
}

namespace detail {

/// P(|T| >= |t|) for T ~ Student t with df degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2)
/// (Abramowitz & Stegun 26.7.1), with x and 1 - x formed without cancellation.
/// @pre df > 0 and t is not NaN.
[[nodiscard]] inline double student_t_two_sided(double t, double df) noexcept {
  const double at = std::fabs(t);
  if (std::isinf(at)) return 0.0;
  if (std::isinf(df)) return std::erfc(at / std::numbers::sqrt2);
  // x = df / (df + t^2) and y = t^2 / (df + t^2), scaled to avoid overflow of t^2.
  double x = 0.0;
  double y = 0.0;
  if (at * at < df * 1e280) {
    const double t2 = at * at;
    x = df / (df + t2);
    y = t2 / (df + t2);
  } else {
    const double r = df / at / at;  // tiny: x = r / (1 + r), y = 1 / (1 + r)
    x = r / (1.0 + r);
    y = 1.0 / (1.0 + r);
  }
  const double p = regularized_incomplete_beta(0.5 * df, 0.5, x, y);
  return p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p);
}

/// True when a zero-variance difference `diff` cannot be told from rounding of values of
/// magnitude `scale` (the rule in test_result's comment).
[[nodiscard]] inline bool rounding_level(double diff, double scale) noexcept {
  const double ad = std::fabs(diff);
  constexpr double underflow = 1.4916681462400413e-154;  // sqrt(DBL_MIN) = 2^-511
  return ad < underflow || ad <= 16.0 * std::numeric_limits<double>::epsilon() * scale;
}

/// Builds the result of a t statistic with numerator `diff` and squared standard error `se2`;
/// `scale` is the magnitude of the means `diff` was formed from (0 when unknown).
[[nodiscard]] inline test_result t_result(double diff, double se2, double df,
                                          double scale) noexcept {
  if (se2 == 0.0) {
    if (rounding_level(diff, scale)) return {0.0, df, 1.0, false};
    return {diff > 0.0 ? std::numeric_limits<double>::infinity()
                       : -std::numeric_limits<double>::infinity(),
            df, 0.0, true};
  }
  const double t = diff / std::sqrt(se2);
  return {t, df, student_t_two_sided(t, df), true};
}

}  // namespace detail

/// Smallest degrees of freedom student_t_cdf accepts (see there).
inline constexpr double student_t_min_df = 1e-10;

/// Student t cumulative distribution function P(T <= t) with `df` degrees of freedom.
///
/// Exact through the regularized incomplete beta (no normal approximation); df = +inf gives
/// the standard normal. The smaller tail is computed directly, so P(T <= -40) keeps its
/// relative accuracy instead of becoming 1 - (1 - tiny). Relative error against 40-digit
/// mpmath: about 1e-14 up to df = 1e6 (x86-64).
///
/// LIMITATION: for very large df the continued fraction cancels about log10(df) digits per
/// step; it runs in long double past df = 2000, which keeps 1e-14 at df = 1e6 where long
/// double is the x87 format but leaves 7e-11 at df = 1e9 (and 2e-12 at df = 1e6 on
/// platforms whose long double is double). Irrelevant for gating, noted for other uses.
/// Below df = student_t_min_df the tail's scaled form df / t^2 underflows for ordinary t
/// (df = 5e-324 gave P(T <= 5) = 1 instead of about 0.5), so such df are refused; every
/// t-test here has df >= 1.
/// @return the probability; NaN when t or df is NaN or df < student_t_min_df.
[[nodiscard]] inline double student_t_cdf(double t, double df) noexcept {
  if (std::isnan(t) || !(df >= student_t_min_df))
    return std::numeric_limits<double>::quiet_NaN();
  const double half_tail = 0.5 * detail::student_t_two_sided(t, df);
  return t < 0.0 ? half_tail : 1.0 - half_tail;
}

/// Paired t-test of H0: mean difference = 0, from summary statistics of the differences.
///
/// t = mean_diff / sqrt(var_diff / n), df = n - 1, two-sided p-value (scipy.stats.ttest_rel).
/// @param n          number of pairs.
/// @param mean_diff  mean of the paired differences.
/// @param var_diff   sample variance of the differences (denominator n - 1).
/// @param scale      magnitude of the values the differences were taken from (e.g. the
///                   larger absolute mean loss), for the rounding rule of test_result;
///                   0 (default) when unknown. A non-finite or negative scale counts as 0.
/// @return see test_result for n < 2, zero variance and non-finite input.
[[nodiscard]] inline test_result paired_t_test(std::uint64_t n, double mean_diff,
                                               double var_diff, double scale = 0.0) noexcept {
  if (n < 2 || !std::isfinite(mean_diff) || !std::isfinite(var_diff) || var_diff < 0.0)
    return {0.0, n < 2 ? 0.0 : static_cast<double>(n - 1), 1.0, false};
  const double nd = static_cast<double>(n);
  const double s = std::isfinite(scale) && scale > 0.0 ? scale : 0.0;
  return detail::t_result(mean_diff, var_diff / nd, nd - 1.0, s);
}

/// Welch's two-sample t-test (unequal variances), two-sided, from summary statistics: the
/// same statistic, degrees of freedom and p-value as scipy.stats.ttest_ind_from_stats(...,
/// equal_var=False). The statistic is arm 1 minus arm 2.
///
/// Degrees of freedom (Welch-Satterthwaite): (s1 + s2)^2 / (s1^2 / (n1 - 1) + s2^2 / (n2 - 1))
/// with s_i = var_i / n_i, computed from the shares s_i / (s1 + s2) so that it neither
/// underflows nor divides by zero when one arm has zero variance (it is then n_other - 1,
/// the limit; handout case C14). Both variances zero: see test_result (df = n1 + n2 - 2).
/// @param var1, var2 sample variances (denominator n - 1).
[[nodiscard]] inline test_result welch_t_test(double mean1, double var1, std::uint64_t n1,
                                              double mean2, double var2,
                                              std::uint64_t n2) noexcept {
  const bool finite = std::isfinite(mean1) && std::isfinite(var1) && std::isfinite(mean2) &&
                      std::isfinite(var2);
  if (n1 < 2 || n2 < 2 || !finite || var1 < 0.0 || var2 < 0.0) return {0.0, 0.0, 1.0, false};
  const double f1 = static_cast<double>(n1 - 1);
  const double f2 = static_cast<double>(n2 - 1);
  const double s1 = var1 / static_cast<double>(n1);
  const double s2 = var2 / static_cast<double>(n2);
  const double s = s1 + s2;
  double df = f1 + f2;
  if (s > 0.0) {
    const double r1 = s1 / s;
    const double r2 = s2 / s;
    df = 1.0 / (r1 * r1 / f1 + r2 * r2 / f2);
  }
  const double diff = mean1 - mean2;
  if (!std::isfinite(diff)) return {0.0, df, 1.0, false};  // finite means too far apart
  return detail::t_result(diff, s, df, std::max(std::fabs(mean1), std::fabs(mean2)));
}

}  // namespace livefit

#endif  // LIVEFIT_EVAL_T_TEST_HPP
