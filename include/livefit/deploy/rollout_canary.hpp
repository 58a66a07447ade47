// canary_rollout: moves traffic to a challenger in steps, each passed by an analysis gate.
#ifndef LIVEFIT_DEPLOY_ROLLOUT_CANARY_HPP
#define LIVEFIT_DEPLOY_ROLLOUT_CANARY_HPP

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "livefit/core/concepts.hpp"
#include "livefit/core/events.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/deploy/detail/rollout_core.hpp"
#include "livefit/deploy/gate_combinators.hpp"
#include "livefit/deploy/gates.hpp"

namespace livefit {

/// The gate a rollout uses unless told otherwise: roll back a broken version (sanity) or a
/// significantly worse one, go ahead when significantly better (always-valid sequential test
/// at alpha = 0.05, so asking after every sample keeps the false-promotion rate <= 0.05).
using default_rollout_gate = all_of<sanity, significant>;

/// One step of a canary.
struct canary_step {
  /// Share of traffic the challenger serves during the step. Range: (0, 1), increasing from
  /// step to step (the promotion to 1 follows the last step).
  double fraction{0.01};
  /// Samples observed during the step before its gate may move it on. Range: >= 1.
  std::uint64_t min_samples{500};
};

/// Options of canary_rollout.
struct canary_options {
  /// The steps, in order. Default 1%, 5%, 25% with 500, 500 and 1000 samples; after the last
  /// step passes, the challenger serves 100%. Range: 1 to 16 steps.
  std::vector<canary_step> steps{{0.01, 500}, {0.05, 500}, {0.25, 1000}};
  /// A step that has not passed after this many samples rolls the canary back: a challenger
  /// that cannot show it is better should not hold a share of traffic forever. Unit:
  /// samples. Default 0 = no limit. Range: 0, or >= the step's min_samples.
  std::uint64_t max_step_samples{0};
  /// The challenger, named in events.
  rollout_target target{};
};

/// A canary rollout: a state machine advanced once per sample.
///
/// Every sample, the gate reads the evidence (cumulative over the trial). A rollback decision
/// withdraws the canary at once, whatever the step, even while paused. A promote decision
/// moves to the next step once the current one has lasted its `min_samples`; after the last
/// step the challenger serves all traffic (phase completed). Every start, step, promotion
/// and withdrawal is reported to the sink as an event with the gate's reason.
///
/// Evidence and fraction: in livefit every model is scored on every sample (prequential), so
/// the evidence does not depend on the share of traffic the canary serves; the steps bound
/// the exposure to what the loss does not show (latency, downstream effects) while the
/// evidence grows.
///
/// @tparam Gate a gate over `evidence`; default default_rollout_gate.
template <class Gate = default_rollout_gate>
class canary_rollout : public detail::rollout_base<canary_rollout<Gate>, Gate> {
  using base = detail::rollout_base<canary_rollout<Gate>, Gate>;
  using base::core_;
  using base::gate_;

 public:
  using base::observe;

  /// Most steps a canary may have (they live inline, so observe() never allocates).
  static constexpr std::size_t max_steps = 16;

  /// Validates the options. Errors: no step or too many, a fraction outside (0, 1) or not
  /// above the previous one, min_samples == 0, max_step_samples below a step's minimum.
  static result<canary_rollout> make(const canary_options& o, Gate g = Gate{}) {
    const std::size_t n = o.steps.size();
    if (n == 0 || n > max_steps)
      return fail(errc::invalid_argument,
                  "canary: steps must have 1 to 16 entries, got " + std::to_string(n));
    canary_rollout c(std::move(g), o.target);
    double prev = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const canary_step& s = o.steps[i];
      const std::string at = "canary: steps[" + std::to_string(i) + "].";
      if (!(s.fraction > prev && s.fraction < 1.0))
        return fail(errc::invalid_argument,
                    at + "fraction must be in (" + detail::number(prev) +
                        ", 1) (increasing; the promotion to 1 follows the last step), got " +
                        detail::number(s.fraction));
      if (s.min_samples == 0)
        return fail(errc::invalid_argument, at + "min_samples must be >= 1, got 0");
      if (o.max_step_samples != 0 && o.max_step_samples < s.min_samples)
        return fail(errc::invalid_argument, "canary: max_step_samples must be 0 or >= steps[" +
                                                std::to_string(i) +
                                                "].min_samples = " + std::to_string(s.min_samples) +
                                                ", got " + std::to_string(o.max_step_samples));
      c.steps_[i] = s;
      prev = s.fraction;
    }
    c.count_ = n;
    c.max_step_samples_ = o.max_step_samples;
    return c;
  }

  /// Starts the canary at its first step. Does nothing unless pending.
  template <class Sink>
  void start(const evidence& e, Sink& sink) noexcept {
    if (core_.phase != rollout_phase::pending) return;
    core_.phase = rollout_phase::running;
    core_.fraction = steps_[0].fraction;
    core_.last_samples = e.samples;
    reason_text why("canary started at ");
    detail::percent(why, core_.fraction);
    why.append(" (step 1 of ").append(std::uint64_t{count_}).append(")");
    core_.emit(sink, event_kind::rollout_started, e, core_.fraction, why);
  }

  /// Reads one sample's evidence and advances at most one step.
  /// @return status::ok; status::not_ready before start(); status::invalid_argument when
  ///         e.samples is below the previous call's (state unchanged).
  template <class Sink>
  [[nodiscard]] status observe(const evidence& e, Sink& sink) noexcept {
    status st = status::ok;
    if (!core_.take(e, gate_, st)) return st;
    if (core_.last_action == gate_action::rollback) {
      withdraw(e, sink, " rolled back: ", gate_.evaluate(e).reason.view());
      return status::ok;
    }
    if (core_.phase == rollout_phase::paused) return status::ok;
    ++step_samples_;
    if (core_.last_action == gate_action::promote && step_samples_ >= steps_[step_].min_samples) {
      advance(e, sink);
    } else if (max_step_samples_ != 0 && step_samples_ >= max_step_samples_) {
      reason_text why("no decision after ");
      why.append(step_samples_).append(" samples: ").append(gate_.evaluate(e).reason.view());
      withdraw(e, sink, " timed out: ", why.view());
    }
    return status::ok;
  }

  /// Withdraws the canary by hand (phase aborted, fraction 0). Does nothing once finished.
  template <class Sink>
  void abort(const reason_text& why, const evidence& e, Sink& sink) noexcept {
    if (is_finished(core_.phase) || core_.phase == rollout_phase::pending) return;
    reason_text r = step_text();
    r.append(" aborted by hand: ").append(why.view());
    core_.finish(rollout_phase::aborted, event_kind::rollout_aborted, e, r, sink);
  }

  /// Stable name of the checkpoint record.
  static constexpr std::string_view checkpoint_type = "livefit.canary_rollout";

  /// Writes the rollout's position (phase, fraction, step, samples in the step) and its
  /// steps, so a restarted process resumes the canary where it was. Off the hot path.
  void save_state(byte_writer& w) const {
    core_.save(w);
    w.put_u64(count_);
    for (std::size_t i = 0; i < count_; ++i) {
      w.put_f64(steps_[i].fraction);
      w.put_u64(steps_[i].min_samples);
    }
    w.put_u64(step_);
    w.put_u64(step_samples_);
  }

  /// Reads what save_state wrote. Refuses (status::invalid_argument, nothing changed)
  /// truncated or inconsistent bytes and a record of a canary with other steps.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    detail::rollout_core c = core_;
    std::uint64_t n = 0;
    if (!c.load(r) || !r.get_u64(n) || n != count_) return status::invalid_argument;
    for (std::size_t i = 0; i < count_; ++i) {
      double f = 0.0;
      std::uint64_t m = 0;
      r.get_f64(f);
      r.get_u64(m);
      if (!r.ok() || f != steps_[i].fraction || m != steps_[i].min_samples)
        return status::invalid_argument;
    }
    std::uint64_t step = 0;
    std::uint64_t in_step = 0;
    r.get_u64(step);
    r.get_u64(in_step);
    const bool finished_ok = c.phase == rollout_phase::completed ? step == count_ : step < count_;
    if (!r.ok() || !finished_ok || !c.consistent(step < count_ ? steps_[step].fraction : 1.0, 1.0))
      return status::invalid_argument;
    core_ = c;
    step_ = static_cast<std::size_t>(step);
    step_samples_ = in_step;
    return status::ok;
  }

  /// Index of the current step (count() once completed).
  [[nodiscard]] std::size_t step() const noexcept { return step_; }
  /// Number of steps.
  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  /// Samples observed in the current step (pauses excluded).
  [[nodiscard]] std::uint64_t step_samples() const noexcept { return step_samples_; }

 private:
  canary_rollout(Gate g, const rollout_target& t) : base(std::move(g), t) {}

  /// "canary at 5% (step 2 of 3)".
  [[nodiscard]] reason_text step_text() const noexcept {
    reason_text r("canary at ");
    detail::percent(r, core_.fraction);
    r.append(" (step ").append(std::uint64_t{step_ + 1}).append(" of ");
    r.append(std::uint64_t{count_}).append(")");
    return r;
  }

  template <class Sink>
  void withdraw(const evidence& e, Sink& sink, std::string_view what,
                std::string_view detail_text) noexcept {
    reason_text r = step_text();
    r.append(what).append(detail_text);
    core_.finish(rollout_phase::rolled_back, event_kind::rollout_aborted, e, r, sink);
  }

  template <class Sink>
  void advance(const evidence& e, Sink& sink) noexcept {
    reason_text r = step_text();
    r.append(" passed after ").append(step_samples_).append(" samples: ");
    r.append(gate_.evaluate(e).reason.view());
    step_samples_ = 0;
    ++step_;
    if (step_ == count_) {
      core_.finish(rollout_phase::completed, event_kind::promoted, e, r, sink);
      return;
    }
    core_.fraction = steps_[step_].fraction;
    core_.emit(sink, event_kind::rollout_step, e, core_.fraction, r);
  }

  std::array<canary_step, max_steps> steps_{};
  std::size_t count_{0};
  std::size_t step_{0};
  std::uint64_t step_samples_{0};
  std::uint64_t max_step_samples_{0};
};

static_assert(rollout<canary_rollout<>, evidence>);
static_assert(checkpointable<canary_rollout<>>);

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_ROLLOUT_CANARY_HPP
