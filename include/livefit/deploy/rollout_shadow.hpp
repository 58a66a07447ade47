// shadow_rollout: the challenger predicts on live traffic and is scored, never served.
#ifndef LIVEFIT_DEPLOY_ROLLOUT_SHADOW_HPP
#define LIVEFIT_DEPLOY_ROLLOUT_SHADOW_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "livefit/core/concepts.hpp"
#include "livefit/core/events.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/deploy/detail/rollout_core.hpp"
#include "livefit/deploy/rollout_canary.hpp"

namespace livefit {

/// Options of shadow_rollout.
struct shadow_options {
  /// Samples the challenger is scored on before the gate may pass it. Unit: samples.
  /// Default 1000. Range: >= 1.
  std::uint64_t min_samples{1000};
  /// Samples after which a challenger that has not passed is rejected. Unit: samples.
  /// Default 0 = no limit. Range: 0, or >= min_samples.
  std::uint64_t max_samples{0};
  /// The challenger, named in events.
  rollout_target target{};
};

/// A shadow trial: the challenger serves nothing (fraction() is always 0); it is scored on
/// live traffic and the gate is asked every sample. A promote decision after `min_samples`
/// ends the trial as completed (event gate_decision: the challenger may now go live, through
/// a canary or an immediate rollout); a rollback decision or the `max_samples` limit ends it
/// as rolled_back (event rollout_aborted).
template <class Gate = default_rollout_gate>
class shadow_rollout : public detail::rollout_base<shadow_rollout<Gate>, Gate> {
  using base = detail::rollout_base<shadow_rollout<Gate>, Gate>;
  using base::core_;
  using base::gate_;

 public:
  using base::observe;

  /// Validates the options. Errors: min_samples == 0, max_samples in [1, min_samples).
  static result<shadow_rollout> make(const shadow_options& o, Gate g = Gate{}) {
    if (o.min_samples == 0)
      return fail(errc::invalid_argument, "shadow: min_samples must be >= 1, got 0");
    if (o.max_samples != 0 && o.max_samples < o.min_samples)
      return fail(errc::invalid_argument, "shadow: max_samples must be 0 or >= min_samples = " +
                                              std::to_string(o.min_samples) + ", got " +
                                              std::to_string(o.max_samples));
    shadow_rollout r(std::move(g), o.target);
    r.min_ = o.min_samples;
    r.max_ = o.max_samples;
    return r;
  }

  /// Starts scoring. Does nothing unless pending.
  template <class Sink>
  void start(const evidence& e, Sink& sink) noexcept {
    if (core_.phase != rollout_phase::pending) return;
    core_.phase = rollout_phase::running;
    core_.last_samples = e.samples;
    reason_text why("shadow started: scored on live traffic, never served");
    core_.emit(sink, event_kind::rollout_started, e, 0.0, why);
  }

  /// Reads one sample's evidence.
  /// @return status::ok; status::not_ready before start(); status::invalid_argument when
  ///         e.samples is below the previous call's (state unchanged).
  template <class Sink>
  [[nodiscard]] status observe(const evidence& e, Sink& sink) noexcept {
    status st = status::ok;
    if (!core_.take(e, gate_, st)) return st;
    if (core_.last_action == gate_action::rollback) {
      end(rollout_phase::rolled_back, event_kind::rollout_aborted, "rejected", e, sink);
      return status::ok;
    }
    if (core_.phase == rollout_phase::paused) return status::ok;
    ++scored_;
    if (core_.last_action == gate_action::promote && scored_ >= min_) {
      end(rollout_phase::completed, event_kind::gate_decision, "passed", e, sink);
      core_.fraction = 0.0;  // a shadow never serves, even when it passes
    } else if (max_ != 0 && scored_ >= max_) {
      end(rollout_phase::rolled_back, event_kind::rollout_aborted, "timed out", e, sink);
    }
    return status::ok;
  }

  /// Ends the trial by hand (phase aborted, event rollout_aborted).
  template <class Sink>
  void abort(const reason_text& why, const evidence& e, Sink& sink) noexcept {
    if (!core_.active()) return;
    core_.finish(rollout_phase::aborted, event_kind::rollout_aborted, e,
                 detail::prefixed("shadow aborted by hand: ", why.view()), sink);
  }

  /// Always 0: a shadow never serves.
  [[nodiscard]] double fraction() const noexcept { return 0.0; }

  /// Stable name of the checkpoint record.
  static constexpr std::string_view checkpoint_type = "livefit.shadow_rollout";

  /// Writes phase, the limits and the samples scored. Off the hot path.
  void save_state(byte_writer& w) const {
    core_.save(w);
    w.put_u64(min_);
    w.put_u64(max_);
    w.put_u64(scored_);
  }

  /// Reads what save_state wrote. Refuses (status::invalid_argument, nothing changed)
  /// truncated or inconsistent bytes and a record with other limits.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    detail::rollout_core c = core_;
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    std::uint64_t scored = 0;
    if (!c.load(r) || !r.get_u64(lo) || !r.get_u64(hi) || !r.get_u64(scored))
      return status::invalid_argument;
    // A shadow never serves: its fraction is 0 in every phase.
    if (lo != min_ || hi != max_ || c.fraction != 0.0 ||
        (c.phase == rollout_phase::pending && scored != 0))
      return status::invalid_argument;
    core_ = c;
    scored_ = scored;
    return status::ok;
  }

  /// Samples scored so far (pauses excluded).
  [[nodiscard]] std::uint64_t scored() const noexcept { return scored_; }

 private:
  shadow_rollout(Gate g, const rollout_target& t) : base(std::move(g), t) {}

  template <class Sink>
  void end(rollout_phase p, event_kind k, std::string_view what, const evidence& e,
           Sink& sink) noexcept {
    reason_text r("shadow ");
    r.append(what).append(" after ").append(scored_).append(" samples: ");
    r.append(gate_.evaluate(e).reason.view());
    core_.finish(p, k, e, r, sink);
  }

  std::uint64_t min_{1000};
  std::uint64_t max_{0};
  std::uint64_t scored_{0};
};

static_assert(rollout<shadow_rollout<>, evidence>);
static_assert(checkpointable<shadow_rollout<>>);

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_ROLLOUT_SHADOW_HPP
