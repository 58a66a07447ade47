// time_ema<Scalar>: the exponential moving average of an irregularly sampled series, decayed
// by elapsed time with a half-life (pandas ewm(halflife=..., times=...).mean()).
#ifndef LIVEFIT_STATS_TIME_EMA_HPP
#define LIVEFIT_STATS_TIME_EMA_HPP

#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/stats/detail/common.hpp"

namespace livefit {

/// Configuration of time_ema.
struct time_ema_options {
  /// Half-life in time ticks (the unit of the timestamps given to update: ns, ms, s, ...):
  /// an observation's weight halves every `halflife` ticks. Must be finite and > 0; no
  /// default (0 is rejected).
  double halflife{0};
  /// Observations needed before ready() is true (pandas min_periods). Default 1, >= 1.
  std::uint64_t warmup{1};
};

/// Time-decayed average y_t = sum_i w_i x_i / sum_i w_i with w_i = 2^(-(t - t_i)/halflife),
/// equal to pandas' `ewm(halflife=h, times=t).mean()` (which requires adjust=True).
///
/// Timestamps are integer ticks, so elapsed times are exact whatever the epoch (nanoseconds
/// since 1970 do not fit a double's 53 bits). Equal timestamps are allowed: their values
/// share the weight of one instant (their mean enters the average). A timestamp earlier than
/// the last is rejected with status::out_of_order. Copyable value type; not thread-safe.
// LIMITATION: only the adjusted form (the one pandas offers with times); no plain
// (adjust=False) time-decayed form and no initial value.
template <class Scalar>
class time_ema {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::time_ema supports float and double only");

 public:
  /// The floating-point type of values and results (float or double).
  using scalar_type = Scalar;
  /// The options struct that make() validates.
  using options_type = time_ema_options;
  /// Stable type name written into checkpoints, so a file of another type is refused.
  static constexpr std::string_view checkpoint_type = "livefit.time_ema";

  /// Validates `opts` and builds the average.
  [[nodiscard]] static result<time_ema> make(const time_ema_options& opts) {
    if (!(opts.halflife > 0.0 && std::isfinite(opts.halflife)))
      return detail::range_error("time_ema", "halflife", "in (0, inf)", opts.halflife);
    if (opts.warmup == 0) return detail::config_error("time_ema", "warmup must be >= 1, got 0");
    return time_ema(opts);
  }

  /// Adds the observation x made at time t (ticks).
  /// @return status::ok; status::non_finite_input for NaN or infinite x;
  ///         status::out_of_order when t is earlier than the last accepted timestamp;
  ///         status::numerical_failure when the new average would overflow.
  ///         On error nothing changes.
  [[nodiscard]] status update(std::int64_t t, Scalar x) noexcept {
    if (!std::isfinite(x)) [[unlikely]]
      return status::non_finite_input;
    if (count_ == 0) {
      y_ = x;
      weight_ = Scalar(1);
      last_ = t;
      count_ = 1;
      return status::ok;
    }
    if (t < last_) [[unlikely]]
      return status::out_of_order;
    // t >= last_, so the unsigned difference is exact even across the int64 range.
    const auto elapsed =
        static_cast<double>(static_cast<std::uint64_t>(t) - static_cast<std::uint64_t>(last_));
    // pandas (aggregations.pyx, ewm with deltas): old_wt *= 0.5^(dt/halflife); the new value
    // has weight 1; the average is (old_wt*y + x) / (old_wt + 1).
    const auto old = static_cast<Scalar>(static_cast<double>(weight_) *
                                         std::exp2(-elapsed / halflife_));
    const Scalar r = Scalar(1) / (old + Scalar(1));
    // One finiteness test of the candidate: a weighted average of values near the scalar's
    // maximum can round past it.
    const Scalar y = detail::mul_add(old * r, y_, r * x);
    if (!std::isfinite(y)) [[unlikely]]
      return status::numerical_failure;
    y_ = y;
    weight_ = old + Scalar(1);
    last_ = t;
    ++count_;
    return status::ok;
  }

  /// The current average (0 before the first observation). @pre ready()
  [[nodiscard]] Scalar value() const noexcept { return y_; }
  /// True once `warmup` observations were seen.
  [[nodiscard]] bool ready() const noexcept { return count_ >= warmup_; }
  /// Observations taken.
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  /// Timestamp of the last accepted observation (meaningless before the first).
  [[nodiscard]] std::int64_t last_time() const noexcept { return last_; }
  /// Half-life in ticks.
  [[nodiscard]] double halflife() const noexcept { return halflife_; }

  /// Returns to the state right after make().
  void reset() noexcept {
    y_ = Scalar(0);
    weight_ = Scalar(0);
    last_ = 0;
    count_ = 0;
  }

  /// Writes the state (not the options).
  void save_state(byte_writer& w) const {
    detail::put_record_header<Scalar>(w, layout_);
    w.put_f64(halflife_);
    w.put_scalar(y_);
    w.put_scalar(weight_);
    w.put_i64(last_);
    w.put_u64(count_);
  }

  /// Reads a state written by save_state of a time_ema with the same half-life.
  /// @return status::ok, or status::invalid_argument with the state unchanged.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    double h = 0;
    Scalar y{}, weight{};
    std::int64_t last = 0;
    std::uint64_t count = 0;
    if (!detail::get_record_header<Scalar>(r, layout_) || !r.get_f64(h) || !r.get_scalar(y) ||
        !r.get_scalar(weight) || !r.get_i64(last) || !r.get_u64(count))
      return status::invalid_argument;
    // Before any value the state is zero; after one, the weight includes the newest value's
    // weight of 1 (weight = decayed old weight + 1).
    if (h != halflife_ || !std::isfinite(y) || !std::isfinite(weight) || weight < Scalar(0) ||
        (count == 0 && (weight != Scalar(0) || y != Scalar(0))) ||
        (count > 0 && weight < Scalar(1)))
      return status::invalid_argument;
    y_ = y;
    weight_ = weight;
    last_ = last;
    count_ = count;
    return status::ok;
  }

 private:
  static constexpr std::uint8_t layout_ = 1;

  explicit time_ema(const time_ema_options& o) noexcept
      : halflife_(o.halflife), warmup_(o.warmup) {}

  double halflife_;
  std::uint64_t warmup_;
  Scalar y_{0};
  Scalar weight_{0};
  std::int64_t last_{0};
  std::uint64_t count_{0};
};

}  // namespace livefit

#endif  // LIVEFIT_STATS_TIME_EMA_HPP
