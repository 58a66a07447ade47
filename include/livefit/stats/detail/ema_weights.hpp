// The weight bookkeeping shared by the scalar and the many-series EMA: how much the old
// average and the new value count at each step, in the adjusted and plain forms, across
// missing steps (pandas' ignore_na) and from an initial value.
#ifndef LIVEFIT_STATS_DETAIL_EMA_WEIGHTS_HPP
#define LIVEFIT_STATS_DETAIL_EMA_WEIGHTS_HPP

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/stats/detail/common.hpp"
#include "livefit/stats/ema_options.hpp"

namespace livefit {

namespace detail {

/// The weights of one EMA step: new average = keep * old average + take * new value.
template <class Scalar>
struct ema_step {
  Scalar keep;
  Scalar take;
  Scalar next_weight;  ///< The old average's weight once the step is taken.
};

/// pandas' `old_wt` bookkeeping (pandas/_libs/window/aggregations.pyx, ewm) as a value type.
///
/// weight_ is the weight of the current average relative to a new value's weight:
/// 0 before any value, 1 after every plain step, and sum_i (1-a)^i in the adjusted form.
/// A skipped step in the absolute mode multiplies it by (1-a), so the next value sees the
/// old average decayed once per elapsed step, then both weights are renormalised
/// (y = ((1-a)^(k+1) y + a x) / ((1-a)^(k+1) + a) after k plain gaps: case C01).
template <class Scalar>
class ema_weights {
 public:
  ema_weights() = default;
  ema_weights(Scalar a, const ema_options& o) noexcept
      : a_(a), b_(Scalar(1) - a), weight_(o.initial_value ? Scalar(1) : Scalar(0)),
        warmup_(o.warmup), adjust_(o.adjust), seeded_(o.initial_value.has_value()),
        missing_(o.missing) {
    refresh();
  }

  [[nodiscard]] Scalar alpha() const noexcept { return a_; }
  [[nodiscard]] ema_missing missing() const noexcept { return missing_; }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }

  /// True once `warmup` observations were seen and there is a value to report.
  [[nodiscard]] bool ready() const noexcept {
    return count_ >= warmup_ && (count_ > 0 || seeded_);
  }

  /// True when the next step's weights are keep() and take() and leave the weights as they
  /// are (the fast path): in the plain form once a value is in and no gap is pending
  /// (keep = 1-a, take = a); in the adjusted form once sum_i (1-a)^i has reached its
  /// floating-point limit (about 36/a steps in double), from where it equals the plain form.
  [[nodiscard]] bool steady() const noexcept { return steady_; }
  [[nodiscard]] Scalar keep() const noexcept { return keep_; }
  [[nodiscard]] Scalar take() const noexcept { return take_; }

  /// The weights of the next observation, without committing them.
  [[nodiscard]] ema_step<Scalar> next() const noexcept {
    // No value yet (or every old weight decayed to nothing): the average is the new value,
    // exactly, as pandas starts from vals[0].
    if (weight_ == Scalar(0)) return {Scalar(0), Scalar(1), Scalar(1)};
    const Scalar old = weight_ * b_;
    const Scalar fresh = adjust_ ? Scalar(1) : a_;
    const Scalar r = Scalar(1) / (old + fresh);
    return {old * r, fresh * r, adjust_ ? old + fresh : Scalar(1)};
  }

  /// Takes an observation made with the weights `s` (from next()).
  void commit(const ema_step<Scalar>& s) noexcept {
    weight_ = s.next_weight;
    ++count_;
    refresh();
  }
  /// Takes an observation made on the fast path (steady(): the weights do not change).
  void commit_steady() noexcept { ++count_; }

  /// Records a step with no observation in the missing-value mode.
  /// @return status::invalid_argument when the options set no missing-value mode.
  [[nodiscard]] status skip() noexcept {
    if (missing_ == ema_missing::reject) return status::invalid_argument;
    if (missing_ == ema_missing::absolute) {
      weight_ *= b_;
      refresh();
    }
    return status::ok;
  }

  /// Back to the weights right after make().
  void reset() noexcept {
    weight_ = seeded_ ? Scalar(1) : Scalar(0);
    count_ = 0;
    refresh();
  }

  /// Writes the configuration that a reader must share (alpha, form, missing mode), then
  /// the weight and the count.
  void save(byte_writer& w) const {
    w.put_scalar(a_);
    w.put_u8(static_cast<std::uint8_t>(adjust_));
    w.put_u8(static_cast<std::uint8_t>(missing_));
    w.put_scalar(weight_);
    w.put_u64(count_);
  }

  /// Reads what save() wrote into `out` (a copy of *this), or returns false when the bytes
  /// are damaged or were written with another configuration. *this is not changed.
  [[nodiscard]] bool load(byte_reader& r, ema_weights& out) const noexcept {
    Scalar a{}, weight{};
    std::uint8_t adjust = 0, missing = 0;
    std::uint64_t count = 0;
    if (!r.get_scalar(a) || !r.get_u8(adjust) || !r.get_u8(missing) || !r.get_scalar(weight) ||
        !r.get_u64(count))
      return false;
    if (a != a_ || adjust != std::uint8_t{adjust_} ||
        missing != static_cast<std::uint8_t>(missing_) || !std::isfinite(weight) ||
        weight < Scalar(0))
      return false;
    // The weight a sequence of steps can reach: sum_i (1-a)^i < 1/a in the adjusted form,
    // at most 1 in the plain form; 0 before any value unless an initial value seeded it (a
    // skip only decays it). Slack: the recursion w = w (1-a) + 1 rounds by up to an ulp of
    // w per step, and its floating-point fixed point sits up to about 2 eps / a above 1/a.
    constexpr Scalar eps = std::numeric_limits<Scalar>::epsilon();
    const Scalar most = adjust_ ? (Scalar(1) + Scalar(4) * eps / a_ + Scalar(2) * eps) / a_
                                : Scalar(1) + Scalar(2) * eps;
    if (weight > most || (count == 0 && !seeded_ && weight != Scalar(0))) return false;
    out = *this;
    out.weight_ = weight;
    out.count_ = count;
    out.refresh();
    return true;
  }

 private:
  // Derives the fast-path weights from weight_ alone, so a state read from a checkpoint
  // continues bit for bit as the one that wrote it.
  void refresh() noexcept {
    if (!adjust_) {
      steady_ = weight_ == Scalar(1);
      keep_ = b_;
      take_ = a_;
      return;
    }
    const ema_step<Scalar> s = next();
    steady_ = weight_ != Scalar(0) && s.next_weight == weight_;
    keep_ = s.keep;
    take_ = s.take;
  }

  Scalar a_{1};
  Scalar b_{0};
  Scalar weight_{0};
  Scalar keep_{0};
  Scalar take_{1};
  std::uint64_t count_{0};
  std::uint64_t warmup_{1};
  bool adjust_{false};
  bool seeded_{false};
  bool steady_{false};
  ema_missing missing_{ema_missing::reject};
};

}  // namespace detail
}  // namespace livefit

#endif  // LIVEFIT_STATS_DETAIL_EMA_WEIGHTS_HPP
