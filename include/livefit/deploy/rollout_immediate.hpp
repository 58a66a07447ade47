// immediate_rollout: blue-green switch, all traffic at once, previous version kept warm.
#ifndef LIVEFIT_DEPLOY_ROLLOUT_IMMEDIATE_HPP
#define LIVEFIT_DEPLOY_ROLLOUT_IMMEDIATE_HPP

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

/// Options of immediate_rollout.
struct immediate_options {
  /// Samples after the switch during which the previous version is kept warm (scored, ready
  /// to serve again at once) and the gate may roll back. Unit: samples. Default 1000.
  /// Range: >= 1.
  std::uint64_t watch_samples{1000};
  /// The challenger, named in events.
  rollout_target target{};
};

/// Blue-green deployment: start() moves all traffic to the challenger at once; for the next
/// `watch_samples` samples the previous version stays warm and the gate is asked every
/// sample. A rollback decision (or abort()) sends all traffic back at once (phase
/// rolled_back or aborted, event rolled_back); when the watch passes, the rollout completes
/// (event promoted) and the previous version may be released.
///
/// During the watch the evidence compares the new version (challenger) with the previous one
/// (champion), which is still scored on every sample, so the default gate rolls back a
/// version that turns out significantly worse or broken. Its promote answers are not needed:
/// the switch already happened. pause() stops counting the watch; automatic rollback stays
/// on while paused.
template <class Gate = default_rollout_gate>
class immediate_rollout : public detail::rollout_base<immediate_rollout<Gate>, Gate> {
  using base = detail::rollout_base<immediate_rollout<Gate>, Gate>;
  using base::core_;
  using base::gate_;

 public:
  using base::observe;

  /// Validates the options. Errors: watch_samples == 0.
  static result<immediate_rollout> make(const immediate_options& o, Gate g = Gate{}) {
    if (o.watch_samples == 0)
      return fail(errc::invalid_argument, "immediate: watch_samples must be >= 1, got 0");
    immediate_rollout r(std::move(g), o.target);
    r.watch_ = o.watch_samples;
    return r;
  }

  /// Switches all traffic to the challenger. Does nothing unless pending.
  template <class Sink>
  void start(const evidence& e, Sink& sink) noexcept {
    if (core_.phase != rollout_phase::pending) return;
    core_.phase = rollout_phase::running;
    core_.fraction = 1.0;
    core_.last_samples = e.samples;
    reason_text why("switched all traffic; previous version kept warm for ");
    why.append(watch_).append(" samples");
    core_.emit(sink, event_kind::rollout_started, e, 1.0, why);
  }

  /// Reads one sample's evidence during the watch.
  /// @return status::ok; status::not_ready before start(); status::invalid_argument when
  ///         e.samples is below the previous call's (state unchanged).
  template <class Sink>
  [[nodiscard]] status observe(const evidence& e, Sink& sink) noexcept {
    status st = status::ok;
    if (!core_.take(e, gate_, st)) return st;
    if (core_.last_action == gate_action::rollback) {
      reason_text r("rolled back to the previous version after ");
      r.append(watched_).append(" samples: ").append(gate_.evaluate(e).reason.view());
      core_.finish(rollout_phase::rolled_back, event_kind::rolled_back, e, r, sink);
      return status::ok;
    }
    if (core_.phase == rollout_phase::paused) return status::ok;
    if (++watched_ >= watch_) {
      reason_text r("watch of ");
      r.append(watched_).append(" samples passed: ").append(gate_.evaluate(e).reason.view());
      core_.finish(rollout_phase::completed, event_kind::promoted, e, r, sink);
    }
    return status::ok;
  }

  /// Sends all traffic back to the previous version at once (phase aborted, event
  /// rolled_back). Does nothing once the watch has ended: the previous version may be gone,
  /// and going back is then the registry's rollback.
  template <class Sink>
  void abort(const reason_text& why, const evidence& e, Sink& sink) noexcept {
    if (!core_.active()) return;
    reason_text r("rolled back by hand: ");
    r.append(why.view());
    core_.finish(rollout_phase::aborted, event_kind::rolled_back, e, r, sink);
  }

  /// Stable name of the checkpoint record.
  static constexpr std::string_view checkpoint_type = "livefit.immediate_rollout";

  /// Writes phase, fraction, the watch length and the samples watched. Off the hot path.
  void save_state(byte_writer& w) const {
    core_.save(w);
    w.put_u64(watch_);
    w.put_u64(watched_);
  }

  /// Reads what save_state wrote. Refuses (status::invalid_argument, nothing changed)
  /// truncated or inconsistent bytes and a record with another watch length.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    detail::rollout_core c = core_;
    std::uint64_t watch = 0;
    std::uint64_t watched = 0;
    if (!c.load(r) || !r.get_u64(watch) || !r.get_u64(watched)) return status::invalid_argument;
    const bool count_ok = c.phase == rollout_phase::completed ? watched >= watch : watched < watch;
    if (watch != watch_ || !count_ok || !c.consistent(1.0, 1.0)) return status::invalid_argument;
    core_ = c;
    watched_ = watched;
    return status::ok;
  }

  /// True while the previous version must be kept ready to serve (the watch).
  [[nodiscard]] bool previous_warm() const noexcept { return core_.active(); }
  /// Samples watched so far (pauses excluded).
  [[nodiscard]] std::uint64_t watched() const noexcept { return watched_; }

 private:
  immediate_rollout(Gate g, const rollout_target& t) : base(std::move(g), t) {}

  std::uint64_t watch_{1000};
  std::uint64_t watched_{0};
};

static_assert(rollout<immediate_rollout<>, evidence>);
static_assert(checkpointable<immediate_rollout<>>);

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_ROLLOUT_IMMEDIATE_HPP
