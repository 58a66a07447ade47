// The contracts components meet to compose: regressor, drift detector, gate, rollout,
// checkpointable. Each concept fixes the syntax; its comment states the semantics.
#ifndef LIVEFIT_CORE_CONCEPTS_HPP
#define LIVEFIT_CORE_CONCEPTS_HPP

#include <concepts>
#include <cstdint>
#include <string_view>

#include <Eigen/Core>

#include "livefit/core/events.hpp"
#include "livefit/core/fixed_string.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"

namespace livefit {

/// A model that predicts a scalar from a feature vector and learns from one (x, y) pair.
///
/// Required members: `scalar_type`, `vector_type` (an Eigen column vector), `predict(x)`,
/// `update(x, y)` and `dim()`.
/// @pre  `x.size() == dim()` (dynamic sizes: a mismatch is reported, never read past).
/// @post `update` returns status::ok and has learnt from (x, y); or returns another status
///       and the model's state is bit-identical to before the call (NaN or infinite input,
///       wrong size, an update that would break a numerical invariant).
/// @post `update` and `predict` do not throw and do not allocate once the model is built.
template <class M>
concept regressor = requires(M& m, const M& cm, const typename M::vector_type& x,
                             typename M::scalar_type y) {
  typename M::scalar_type;
  typename M::vector_type;
  { m.update(x, y) } noexcept -> std::same_as<status>;
  { cm.predict(x) } noexcept -> std::convertible_to<typename M::scalar_type>;
  { cm.dim() } noexcept -> std::convertible_to<Eigen::Index>;
};

/// What a drift detector currently says.
enum class drift_state : std::uint8_t { none, warning, drift };

/// The enumerator's name ("none", "warning", "drift"), for logs and reasons; "unknown" for
/// a value outside the enumeration.
[[nodiscard]] constexpr std::string_view to_string(drift_state s) noexcept {
  switch (s) {
    case drift_state::none: return "none";
    case drift_state::warning: return "warning";
    case drift_state::drift: return "drift";
  }
  return "unknown";
}

/// A detector of change in a stream of values (usually the champion's loss).
///
/// @post `update(v)` with a finite v returns status::ok, and `state()` then says what the
///       detector sees after v. A non-finite v returns status::non_finite_input and changes
///       nothing. `state()` is drift only on the update that detected it; detectors that
///       restart themselves after a drift document it.
/// @post `reset()` returns the detector to its freshly constructed state.
template <class D>
concept drift_detector = requires(D& d, const D& cd, double v) {
  { d.update(v) } noexcept -> std::same_as<status>;
  { cd.state() } noexcept -> std::same_as<drift_state>;
  { d.reset() } noexcept;
};

/// A model that writes its state to a byte stream and reads it back.
///
/// `checkpoint_type` is a stable name ("livefit.rls"), written into checkpoint headers so a
/// file of one model type is never read as another.
/// @post `load_state(r)` on bytes written by `save_state` of a model of the same type, scalar
///       and dimension restores a bit-identical state and returns status::ok; on any other
///       bytes it returns a non-ok status and leaves the model unchanged.
template <class M>
concept checkpointable = requires(const M& cm, M& m, byte_writer& w, byte_reader& r) {
  { M::checkpoint_type } -> std::convertible_to<std::string_view>;
  { cm.save_state(w) };
  { m.load_state(r) } -> std::same_as<status>;
};

/// What a gate tells the deployment layer to do.
enum class gate_action : std::uint8_t {
  hold,      ///< Not enough evidence either way: keep everything as it is.
  promote,   ///< The challenger (or the next rollout step) may go ahead.
  rollback,  ///< The version under test (or in production) must be withdrawn.
};

/// The enumerator's name ("hold", "promote", "rollback"); "unknown" for a value outside
/// the enumeration.
[[nodiscard]] constexpr std::string_view to_string(gate_action a) noexcept {
  switch (a) {
    case gate_action::hold: return "hold";
    case gate_action::promote: return "promote";
    case gate_action::rollback: return "rollback";
  }
  return "unknown";
}

/// A gate's answer, with a reason a person can read in an audit log.
struct decision {
  /// What to do; defaults to hold, so a default-constructed decision never moves traffic.
  gate_action action{gate_action::hold};
  /// Why, for the audit log: at most 383 characters (longer text is truncated); empty only
  /// in a default-constructed decision, since gate::evaluate() always fills it.
  reason_text reason{};
};

/// A deployment policy that reads the evidence collected for a champion and a challenger.
///
/// @post `evaluate(e)` is a pure function of `e` and the gate's configuration (stateless and
///       idempotent, so a gate can be asked as often as wanted) and always fills `reason`.
/// A gate may also offer `gate_action action(const Evidence&) const noexcept`, the same
/// action without the reason (formatting text costs far more than deciding); rollouts use it
/// on every sample through deploy's decide() and ask evaluate() only when they act.
template <class G, class Evidence>
concept gate = requires(const G& g, const Evidence& e) {
  { g.evaluate(e) } noexcept -> std::same_as<decision>;
};

/// Where a rollout stands.
enum class rollout_phase : std::uint8_t {
  pending,      ///< Made, not started: serves nothing.
  running,      ///< Moving traffic (or scoring, for a shadow) as its gate allows.
  paused,       ///< Holds its traffic fraction: no step forward, automatic rollback still on.
  completed,    ///< The challenger passed: it serves all traffic (a shadow: it may go live).
  rolled_back,  ///< Withdrawn by its gate or a timeout: the champion serves everything.
  aborted,      ///< Withdrawn by hand: the champion serves everything.
};

/// The enumerator's name ("pending", "running", ...); "unknown" for a value outside the
/// enumeration.
[[nodiscard]] constexpr std::string_view to_string(rollout_phase p) noexcept {
  switch (p) {
    case rollout_phase::pending: return "pending";
    case rollout_phase::running: return "running";
    case rollout_phase::paused: return "paused";
    case rollout_phase::completed: return "completed";
    case rollout_phase::rolled_back: return "rolled_back";
    case rollout_phase::aborted: return "aborted";
  }
  return "unknown";
}

/// True once a rollout has reached an end state (completed, rolled back or aborted).
[[nodiscard]] constexpr bool is_finished(rollout_phase p) noexcept {
  return p == rollout_phase::completed || p == rollout_phase::rolled_back ||
         p == rollout_phase::aborted;
}

/// A state machine that turns gate decisions into traffic fractions over time.
///
/// @post `start(e, sink)` moves a pending rollout to running and reports it to `sink`.
/// @post `observe(e, sink)` is called once per sample with the evidence so far; it advances
///       at most one step, reports every step and abort to `sink` as an event with a reason,
///       and returns status::ok; on invalid evidence it returns another status and changes
///       nothing. Calls after the end state change nothing.
/// @post `fraction()` is the share of traffic the challenger serves, in [0, 1]; it is 0 in
///       every end state but completed.
/// @post `pause()` stops stepping forward (not rolling back); `resume()` undoes it;
///       `abort(why, e, sink)` withdraws the challenger at once.
/// @post No member throws or allocates.
template <class R, class Evidence>
concept rollout = requires(R& r, const R& cr, const Evidence& e, null_sink& sink,
                           const reason_text& why) {
  { r.start(e, sink) } noexcept;
  { r.observe(e, sink) } noexcept -> std::same_as<status>;
  { r.pause() } noexcept;
  { r.resume() } noexcept;
  { r.abort(why, e, sink) } noexcept;
  { cr.fraction() } noexcept -> std::convertible_to<double>;
  { cr.phase() } noexcept -> std::same_as<rollout_phase>;
};

}  // namespace livefit

#endif  // LIVEFIT_CORE_CONCEPTS_HPP
