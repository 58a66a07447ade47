// Log-gamma, log-beta and the regularized incomplete beta function, written for p-values:
// thread-safe (no global state, unlike ::lgamma's signgam), noexcept and allocation-free.
#ifndef LIVEFIT_EVAL_DETAIL_SPECIAL_FUNCTIONS_HPP
#define LIVEFIT_EVAL_DETAIL_SPECIAL_FUNCTIONS_HPP

#include <cmath>
#include <limits>
#include <numbers>
#include <utility>

namespace livefit::detail {

/// Remainder of Stirling's series, lgamma(x) - [(x - 1/2) ln x - x + ln(2 pi) / 2], x >= 10.
/// Coefficients B_2k / (2k (2k - 1)) (Abramowitz & Stegun 6.1.40); the first omitted term,
/// 3617 / (122400 x^15), is below 3e-17 at x = 10.
[[nodiscard]] inline double stirling_remainder(double x) noexcept {
  const double r = 1.0 / x;
  const double r2 = r * r;
  return r * (1.0 / 12 + r2 * (-1.0 / 360 + r2 * (1.0 / 1260 + r2 * (-1.0 / 1680 +
         r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156)))))));
}

/// ln Gamma(x) for x > 0: Stirling's series at x >= 10, shifted up by the recurrence
/// Gamma(x + 1) = x Gamma(x) below. Absolute error about 1e-15.
[[nodiscard]] inline double log_gamma(double x) noexcept {
  double product = 1.0;
  while (x < 10.0) {
    product *= x;  // at most 10 factors below 20: no overflow; x >= 1e-308 cannot underflow
    x += 1.0;
  }
  const double half_log_two_pi = 0.5 * std::log(2.0 * std::numbers::pi);
  return (x - 0.5) * std::log(x) - x + half_log_two_pi + stirling_remainder(x) -
         std::log(product);
}

/// ln B(a, b) for a, b > 0. When an argument is large, the ln Gamma terms (each of order
/// a ln a) are combined analytically first so that they do not cancel in floating point:
/// with s = a + b, ln Gamma(a) - ln Gamma(s) = -(a - 1/2) log1p(b / a) - b ln s + b + r(a) - r(s).
[[nodiscard]] inline double log_beta(double a, double b) noexcept {
  if (a < b) std::swap(a, b);
  if (a < 10.0) return log_gamma(a) + log_gamma(b) - log_gamma(a + b);
  const double s = a + b;
  const double head = -(a - 0.5) * std::log1p(b / a) + b + stirling_remainder(a) -
                      stirling_remainder(s);
  if (b < 10.0) return head - b * std::log(s) + log_gamma(b);
  // ln Gamma(b) - b ln s = -b log1p(a / b) - ln(b) / 2 - b + ln(2 pi) / 2 + r(b)
  const double half_log_two_pi = 0.5 * std::log(2.0 * std::numbers::pi);
  return head - b * std::log1p(a / b) - 0.5 * std::log(b) - b + half_log_two_pi +
         stirling_remainder(b);
}

/// Continued fraction of I_x(a, b) (Abramowitz & Stegun 26.5.8), evaluated with the modified
/// Lentz algorithm (Lentz 1976; Thompson & Barnett 1986) in the floating type T. Converges
/// quickly for x < (a + 1) / (a + b + 2); the iteration count grows like sqrt(max(a, b)).
/// y = 1 - x.
template <class T>
[[nodiscard]] T incomplete_beta_fraction(T a, T b, T x, T y) noexcept {
  constexpr T tiny = T(1e-300);  // keeps Lentz's ratios off an exact zero
  constexpr T eps = std::numeric_limits<T>::epsilon();
  constexpr int max_iterations = 100000;
  const auto guard = [](T v) { return std::fabs(v) < tiny ? tiny : v; };
  T c = 1;
  // The first denominator 1 - (a + b) x / (a + 1) cancels catastrophically for large a and x
  // near 1 (the Student t tail at large df lost digits to it): there, use y = 1 - x.
  const T first = x <= T(0.5) ? 1 - (a + b) * x / (a + 1) : (1 - b + (a + b) * y) / (a + 1);
  T d = 1 / guard(first);
  T h = d;
  for (int m = 1; m <= max_iterations; ++m) {
    const T md = static_cast<T>(m);
    const T two_m = 2 * md;
    // Even step: d_2m = m (b - m) x / ((a + 2m - 1)(a + 2m)).
    T coef = md * (b - md) * x / ((a + two_m - 1) * (a + two_m));
    d = 1 / guard(1 + coef * d);
    c = guard(1 + coef / c);
    h *= d * c;
    // Odd step: d_2m+1 = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    coef = -(a + md) * (a + b + md) * x / ((a + two_m) * (a + two_m + 1));
    d = 1 / guard(1 + coef * d);
    c = guard(1 + coef / c);
    const T step = d * c;
    h *= step;
    if (std::fabs(step - 1) <= eps) break;
  }
  return h;
}

/// The fraction in double, or in long double when an argument is large: then x sits close to
/// 1 and the odd coefficients are close to -1, so each Lentz step cancels about log10(a)
/// digits. Where long double is wider (x87: 64-bit mantissa) this keeps the Student t tail
/// to about 1e-14 at df = 1e6 instead of 2e-12; where it is not, nothing changes.
[[nodiscard]] inline double incomplete_beta_fraction(double a, double b, double x,
                                                     double y) noexcept {
  if (a < 1e3 && b < 1e3) return incomplete_beta_fraction<double>(a, b, x, y);
  using wide = long double;
  return static_cast<double>(incomplete_beta_fraction<wide>(a, b, x, y));
}

/// I_x(a, b) with y = 1 - x given separately, so that callers who know 1 - x exactly (the
/// Student t tail) do not lose it to rounding. @pre a > 0, b > 0, x, y in [0, 1], x + y = 1.
[[nodiscard]] inline double regularized_incomplete_beta(double a, double b, double x,
                                                        double y) noexcept {
  if (x <= 0.0) return 0.0;
  if (y <= 0.0) return 1.0;
  // ln of x^a y^b / B(a, b); log1p keeps ln x accurate for x near 1 (and ln y for y near 1).
  const double log_x = x > 0.5 ? std::log1p(-y) : std::log(x);
  const double log_y = y > 0.5 ? std::log1p(-x) : std::log(y);
  const double front = std::exp(a * log_x + b * log_y - log_beta(a, b));
  // The fraction converges fast only on one side of the mean: use the symmetry
  // I_x(a, b) = 1 - I_y(b, a) on the other (Numerical Recipes 6.4 states the same split).
  if (x < (a + 1.0) / (a + b + 2.0)) return front * incomplete_beta_fraction(a, b, x, y) / a;
  return 1.0 - front * incomplete_beta_fraction(b, a, y, x) / b;
}

}  // namespace livefit::detail

#endif  // LIVEFIT_EVAL_DETAIL_SPECIAL_FUNCTIONS_HPP
