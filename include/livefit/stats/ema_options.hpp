// Options of the exponential moving average, shared by `ema`, `multi_ema` and the
// exponentially weighted moments: the smoothing factor and how the average starts.
#ifndef LIVEFIT_STATS_EMA_OPTIONS_HPP
#define LIVEFIT_STATS_EMA_OPTIONS_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

#include "livefit/core/result.hpp"
#include "livefit/stats/detail/common.hpp"

namespace livefit {

/// How an EMA treats a step that has no observation (a call to `skip()`).
enum class ema_missing : std::uint8_t {
  reject,    ///< No missing-value mode: `skip()` returns status::invalid_argument.
  absolute,  ///< pandas ignore_na=False: the decay clock runs over gaps (weights by position).
  relative,  ///< pandas ignore_na=True: gaps are ignored; the clock stops while data is missing.
};

/// Configuration of the exponential moving average (scalar `ema` and many-series
/// `multi_ema`). Set exactly one of `alpha`, `span`, `com`, `halflife`.
struct ema_options {
  /// Weight of the newest value, in (0, 1]. Unset by default.
  std::optional<double> alpha;
  /// Span in observations, >= 1: alpha = 2 / (span + 1) (pandas `span`). Unset by default.
  std::optional<double> span;
  /// Centre of mass in observations, >= 0: alpha = 1 / (1 + com) (pandas `com`). Unset.
  std::optional<double> com;
  /// Half-life in observations, > 0: alpha = 1 - 2^(-1/halflife) (pandas `halflife` without
  /// `times`). Unset by default.
  std::optional<double> halflife;
  /// true: the bias-corrected weighted average sum((1-a)^i x_{t-i}) / sum((1-a)^i), equal to
  /// pandas `ewm(adjust=True)` (pandas' default). false (the default here): the recursion
  /// y_t = a x_t + (1-a) y_{t-1}, equal to pandas `ewm(adjust=False)`.
  bool adjust{false};
  /// Unset (the default): the average starts at the first observation. Set: the average
  /// starts at this value, weighted as one observation made before the first update.
  std::optional<double> initial_value;
  /// Observations needed before `ready()` is true (pandas `min_periods`). Default 1. May be
  /// 0 only with an `initial_value`.
  std::uint64_t warmup{1};
  /// Missing-value mode; default ema_missing::reject (every step must carry a value).
  ema_missing missing{ema_missing::reject};
};

namespace detail {

/// Resolves the smoothing factor from exactly one of alpha, span, com and halflife, with
/// pandas' conversions, or explains which parameter is out of its range.
[[nodiscard]] inline result<double> resolve_alpha(const ema_options& o, std::string_view who) {
  const int given = int{o.alpha.has_value()} + int{o.span.has_value()} +
                    int{o.com.has_value()} + int{o.halflife.has_value()};
  if (given != 1)
    return config_error(who, "set exactly one of alpha, span, com, halflife");
  if (o.alpha) {
    const double a = *o.alpha;
    if (!(a > 0.0 && a <= 1.0)) return range_error(who, "alpha", "in (0, 1]", a);
    return a;
  }
  if (o.span) {
    const double s = *o.span;
    if (!(s >= 1.0 && std::isfinite(s))) return range_error(who, "span", "in [1, inf)", s);
    return 2.0 / (s + 1.0);
  }
  if (o.com) {
    const double c = *o.com;
    if (!(c >= 0.0 && std::isfinite(c))) return range_error(who, "com", "in [0, inf)", c);
    return 1.0 / (1.0 + c);
  }
  const double h = *o.halflife;
  if (!(h > 0.0 && std::isfinite(h))) return range_error(who, "halflife", "in (0, inf)", h);
  // 1 - 2^(-1/h) by expm1, exact to an ulp even for long half-lives where 2^(-1/h) ~ 1.
  const double a = -std::expm1(-std::log(2.0) / h);
  if (!(a > 0.0)) return range_error(who, "halflife", "small enough that alpha > 0", h);
  return a;
}

/// Checks the options that do not set alpha; shared by every EMA-like component.
[[nodiscard]] inline result<void> check_ema_start(const ema_options& o, std::string_view who) {
  if (o.initial_value && !std::isfinite(*o.initial_value))
    return range_error(who, "initial_value", "finite", *o.initial_value);
  if (o.warmup == 0 && !o.initial_value)
    return config_error(who, "warmup must be >= 1 unless initial_value is set, got 0");
  if (o.missing != ema_missing::reject && o.missing != ema_missing::absolute &&
      o.missing != ema_missing::relative)
    return config_error(who, "missing must be reject, absolute or relative");
  return {};
}

}  // namespace detail
}  // namespace livefit

#endif  // LIVEFIT_STATS_EMA_OPTIONS_HPP
