// ema<Scalar>: the exponential moving average of one series, in every form pandas offers.
#ifndef LIVEFIT_STATS_EMA_HPP
#define LIVEFIT_STATS_EMA_HPP

#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/stats/detail/common.hpp"
#include "livefit/stats/detail/ema_weights.hpp"
#include "livefit/stats/ema_options.hpp"

namespace livefit {

/// Exponential moving average of one scalar series: y_t = a x_t + (1-a) y_{t-1} (plain), or
/// the bias-corrected weighted average (adjusted), equal to pandas `ewm(...).mean()`.
///
/// The steady-state update is one fused multiply-add on the dependency chain
/// (y = b*y + a*x with b = 1-a precomputed), so a series is averaged at the latency of one
/// FMA per value; the adjusted form reaches that state once its weights converge.
/// Copyable value type; not thread-safe (one writer, no concurrent readers).
///
/// Example: `auto e = ema<double>::make({.span = 20}).value(); (void)e.update(x);`
template <class Scalar>
class ema {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::ema supports float and double only");

 public:
  /// The floating-point type of values and results (float or double).
  using scalar_type = Scalar;
  /// The options struct that make() validates.
  using options_type = ema_options;
  /// Stable type name written into checkpoints, so a file of another type is refused.
  static constexpr std::string_view checkpoint_type = "livefit.ema";

  /// Validates `opts` and builds the average. Errors name the parameter and its range.
  [[nodiscard]] static result<ema> make(const ema_options& opts) {
    const result<double> a = detail::resolve_alpha(opts, "ema");
    if (!a) return a.error();
    if (const result<void> s = detail::check_ema_start(opts, "ema"); !s) return s.error();
    // A double initial value beyond float's range would start a float average at infinity.
    if (opts.initial_value && !std::isfinite(static_cast<Scalar>(*opts.initial_value)))
      return detail::range_error("ema", "initial_value", "within the scalar type's range",
                                 *opts.initial_value);
    return ema(static_cast<Scalar>(*a), opts);
  }

  /// Adds one observation.
  /// @return status::ok; status::non_finite_input for NaN or infinity;
  ///         status::numerical_failure when the new average would overflow (finite values
  ///         near the scalar's maximum). On error nothing changes.
  [[nodiscard]] status update(Scalar x) noexcept {
    if (!std::isfinite(x)) [[unlikely]]
      return status::non_finite_input;
    if (w_.steady()) [[likely]] {
      // The only work on the chain from one value to the next: one FMA, then one finiteness
      // test of the result (a convex combination of values near the scalar's maximum can
      // round past it: keep*max + take*max > max).
      const Scalar y = detail::mul_add(w_.keep(), y_, w_.take() * x);
      if (!std::isfinite(y)) [[unlikely]]
        return status::numerical_failure;
      y_ = y;
      w_.commit_steady();
    } else {
      const detail::ema_step<Scalar> s = w_.next();
      const Scalar y = detail::mul_add(s.keep, y_, s.take * x);
      if (!std::isfinite(y)) [[unlikely]]
        return status::numerical_failure;
      y_ = y;
      w_.commit(s);
    }
    return status::ok;
  }

  /// Records a step with no observation (pandas: a NaN in the series), in the missing-value
  /// mode of the options: the absolute mode decays the old weights by one step, the relative
  /// mode ignores the step. The value does not change until the next update.
  /// @return status::ok; status::invalid_argument when the options set no missing-value mode.
  [[nodiscard]] status skip() noexcept { return w_.skip(); }

  /// The current average. Before any observation: the initial value, or 0 without one.
  /// @pre ready(), for a value that means something.
  [[nodiscard]] Scalar value() const noexcept { return y_; }

  /// True once `warmup` observations were seen (and there is a value to report).
  [[nodiscard]] bool ready() const noexcept { return w_.ready(); }

  /// Observations taken (skipped steps and rejected inputs not counted).
  [[nodiscard]] std::uint64_t count() const noexcept { return w_.count(); }

  /// The smoothing factor a in (0, 1], after conversion from span, com or halflife.
  [[nodiscard]] Scalar alpha() const noexcept { return w_.alpha(); }

  /// Returns to the state right after make().
  void reset() noexcept {
    w_.reset();
    y_ = initial_;
  }

  /// Writes the state (not the options) to `w`.
  void save_state(byte_writer& w) const {
    detail::put_record_header<Scalar>(w, layout_);
    w_.save(w);
    w.put_scalar(y_);
  }

  /// Reads a state written by save_state of an ema with the same options.
  /// @return status::ok, or status::invalid_argument (state unchanged) for bytes that are
  ///         truncated, damaged, or from an ema with another alpha, form or scalar type.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    detail::ema_weights<Scalar> w;
    Scalar y{};
    if (!detail::get_record_header<Scalar>(r, layout_) || !w_.load(r, w) || !r.get_scalar(y) ||
        !std::isfinite(y))
      return status::invalid_argument;
    w_ = w;
    y_ = y;
    return status::ok;
  }

 private:
  static constexpr std::uint8_t layout_ = 1;

  ema(Scalar a, const ema_options& o) noexcept
      : w_(a, o), y_(o.initial_value ? static_cast<Scalar>(*o.initial_value) : Scalar(0)),
        initial_(y_) {}

  detail::ema_weights<Scalar> w_;
  Scalar y_;         ///< The average (the initial value, or 0, before any observation).
  Scalar initial_;
};

}  // namespace livefit

#endif  // LIVEFIT_STATS_EMA_HPP
