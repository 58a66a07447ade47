// The weight bookkeeping shared by the scalar and the many-series EMA: how much the old
// average and the new value count at each step, in the adjusted and plain forms, across
// missing steps (pandas' ignore_na) and from an initial value.
#ifndef LIVEFIT_STATS_DETAIL_EMA_WEIGHTS_HPP
#define LIVEFIT_STATS_DETAIL_EMA_WEIGHTS_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
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
  ema_weights(Scalar a, bool adjust, ema_missing missing, bool seeded) noexcept
      : a_(a), b_(Scalar(1) - a), weight_(seeded ? Scalar(1) : Scalar(0)), adjust_(adjust),
        missing_(missing) {}

  [[nodiscard]] Scalar alpha() const noexcept { return a_; }
  [[nodiscard]] Scalar beta() const noexcept { return b_; }
  [[nodiscard]] bool adjust() const noexcept { return adjust_; }
  [[nodiscard]] ema_missing missing() const noexcept { return missing_; }
  [[nodiscard]] Scalar weight() const noexcept { return weight_; }

  /// True when the next step is the plain recursion keep = 1-a, take = a (the fast path).
  [[nodiscard]] bool plain_steady() const noexcept { return !adjust_ && weight_ == Scalar(1); }

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

  void commit(const ema_step<Scalar>& s) noexcept { weight_ = s.next_weight; }

  /// Records a step with no observation. @pre missing() != ema_missing::reject
  void skip() noexcept {
    if (missing_ == ema_missing::absolute) weight_ *= b_;
  }

  void set_weight(Scalar w) noexcept { weight_ = w; }

 private:
  Scalar a_{1};
  Scalar b_{0};
  Scalar weight_{0};
  bool adjust_{false};
  ema_missing missing_{ema_missing::reject};
};

}  // namespace detail
}  // namespace livefit

#endif  // LIVEFIT_STATS_DETAIL_EMA_WEIGHTS_HPP
