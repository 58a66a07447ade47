// The state every rollout shares: phase, traffic fraction, last decision, event emission.
#ifndef LIVEFIT_DEPLOY_DETAIL_ROLLOUT_CORE_HPP
#define LIVEFIT_DEPLOY_DETAIL_ROLLOUT_CORE_HPP

#include <cstdint>
#include <string_view>
#include <utility>

#include "livefit/core/concepts.hpp"
#include "livefit/core/events.hpp"
#include "livefit/core/fixed_string.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/deploy/evidence.hpp"
#include "livefit/deploy/gates.hpp"

namespace livefit {

/// Which model a rollout moves traffic to, copied into its events.
struct rollout_target {
  /// Registry version of the challenger. Default 0 (none).
  std::uint64_t version{0};
  /// Index of the challenger in its pipeline. Default 0.
  std::uint32_t model{0};
};

}  // namespace livefit

namespace livefit::detail {

/// Phase, fraction and bookkeeping of a rollout. Plain data; the rollouts own one each.
struct rollout_core {
  rollout_phase phase{rollout_phase::pending};
  double fraction{0.0};
  std::uint64_t last_samples{0};  ///< evidence.samples of the previous call (never decreases).
  std::uint64_t version{0};       ///< Registry version of the challenger, for events.
  std::uint32_t model{0};         ///< Index of the challenger in its pipeline, for events.
  gate_action last_action{gate_action::hold};  ///< The gate's latest answer.
  /// The latest evidence: the gate is pure, so the latest decision with its reason is
  /// evaluate(last_evidence), formatted only when asked for.
  evidence last_evidence{};

  /// Writes what every rollout shares: phase, fraction, the last sample count.
  void save(byte_writer& w) const {
    w.put_u8(static_cast<std::uint8_t>(phase));
    w.put_f64(fraction);
    w.put_u64(last_samples);
  }

  /// Reads what save() wrote. On malformed bytes returns false; the caller reads into a copy
  /// and commits only when the whole record is valid. The latest evidence is not part of a
  /// checkpoint: last_decision() describes empty evidence until the next observe().
  [[nodiscard]] bool load(byte_reader& r) noexcept {
    std::uint8_t p = 0;
    double f = 0.0;
    std::uint64_t n = 0;
    r.get_u8(p);
    r.get_f64(f);
    r.get_u64(n);
    if (!r.ok() || p > static_cast<std::uint8_t>(rollout_phase::aborted) || !(f >= 0.0 && f <= 1.0))
      return false;
    phase = static_cast<rollout_phase>(p);
    fraction = f;
    last_samples = n;
    last_action = gate_action::hold;
    last_evidence = evidence{};
    return true;
  }

  /// True when the phase and fraction agree: 0 before the start and after a withdrawal,
  /// 1 once completed (for rollouts that serve), `active` in between.
  [[nodiscard]] bool consistent(double active, double completed) const noexcept {
    switch (phase) {
      case rollout_phase::pending:
      case rollout_phase::rolled_back:
      case rollout_phase::aborted: return fraction == 0.0;
      case rollout_phase::completed: return fraction == completed;
      case rollout_phase::running:
      case rollout_phase::paused: return fraction == active;
    }
    return false;
  }

  /// True when observe() should act: running or paused.
  [[nodiscard]] bool active() const noexcept {
    return phase == rollout_phase::running || phase == rollout_phase::paused;
  }

  /// status::ok when `e` may follow the evidence seen so far. Evidence is cumulative over the
  /// trial, so a falling sample count means the caller mixed up two trials.
  [[nodiscard]] status check(const evidence& e) const noexcept {
    return e.samples < last_samples ? status::invalid_argument : status::ok;
  }

  /// The first half of every observe(): refuses evidence before start() (not_ready) or with
  /// a falling sample count (invalid_argument, nothing changed), ignores it after the end,
  /// else records it and asks the gate.
  /// @return true when the caller should act on `last_action`; `out` is what observe() returns.
  template <class Gate>
  [[nodiscard]] bool take(const evidence& e, const Gate& g, status& out) noexcept {
    out = status::ok;
    if (phase == rollout_phase::pending) {
      out = status::not_ready;
      return false;
    }
    if (!active()) return false;
    out = check(e);
    if (out != status::ok) return false;
    last_samples = e.samples;
    last_evidence = e;
    last_action = decide(g, e);  // no reason text on the per-sample path
    return true;
  }

  template <class Sink>
  void emit(Sink& sink, event_kind kind, const evidence& e, double value,
            const reason_text& why) const noexcept {
    event ev{kind, e.sample_index, e.time, version, model, value, why};
    sink.on_event(ev);
  }

  /// Moves to an end state, sets the fraction it implies and reports it.
  template <class Sink>
  void finish(rollout_phase end, event_kind kind, const evidence& e, const reason_text& why,
              Sink& sink) noexcept {
    phase = end;
    fraction = end == rollout_phase::completed ? 1.0 : 0.0;
    emit(sink, kind, e, fraction, why);
  }

  void pause() noexcept {
    if (phase == rollout_phase::running) phase = rollout_phase::paused;
  }
  void resume() noexcept {
    if (phase == rollout_phase::paused) phase = rollout_phase::running;
  }
};

/// What every rollout has in common: its gate, its core state, and the members that only
/// read or toggle them. `Derived` provides start, observe(e, sink) and abort.
template <class Derived, class Gate>
class rollout_base {
  static_assert(gate<Gate, evidence>, "a rollout needs a gate over livefit::evidence");

 public:
  using gate_type = Gate;

  /// observe() without events.
  [[nodiscard]] status observe(const evidence& e) noexcept {
    null_sink s;
    return static_cast<Derived&>(*this).observe(e, s);
  }

  /// Stops stepping forward; automatic rollback stays on (a pause is for people to look,
  /// not a way to switch the safety net off).
  void pause() noexcept { core_.pause(); }
  /// Steps forward again.
  void resume() noexcept { core_.resume(); }

  /// Share of traffic the challenger serves now.
  [[nodiscard]] double fraction() const noexcept { return core_.fraction; }
  [[nodiscard]] rollout_phase phase() const noexcept { return core_.phase; }
  /// The gate's latest decision with its reason (formatted now, from the latest evidence).
  [[nodiscard]] decision last_decision() const noexcept {
    return gate_.evaluate(core_.last_evidence);
  }
  [[nodiscard]] const Gate& analysis_gate() const noexcept { return gate_; }

 protected:
  rollout_base(Gate g, const rollout_target& t) : gate_(std::move(g)) {
    core_.version = t.version;
    core_.model = t.model;
  }

  Gate gate_;
  rollout_core core_{};
};

/// "<prefix><text>", truncated at the capacity of reason_text.
[[nodiscard]] inline reason_text prefixed(std::string_view prefix, std::string_view text) noexcept {
  reason_text r(prefix);
  r.append(text);
  return r;
}

}  // namespace livefit::detail

#endif  // LIVEFIT_DEPLOY_DETAIL_ROLLOUT_CORE_HPP
