// Typed events (drift alarms, gate decisions, publications, swaps) and the sinks that take them.
#ifndef LIVEFIT_CORE_EVENTS_HPP
#define LIVEFIT_CORE_EVENTS_HPP

#include <cstdint>
#include <string_view>

#include "livefit/core/fixed_string.hpp"

namespace livefit {

/// What happened. Stable names (see to_string) are used in logs and the replay timeline.
enum class event_kind : std::uint8_t {
  drift_warning,     ///< A drift detector reported a warning.
  drift,             ///< A drift detector reported a drift.
  gate_decision,     ///< A gate returned promote or roll back (holds are not reported).
  rollout_started,   ///< A rollout began moving traffic to a challenger.
  rollout_step,      ///< A rollout moved to its next traffic fraction.
  rollout_aborted,   ///< A rollout was aborted (by a gate, or by hand).
  promoted,          ///< A version became production.
  rolled_back,       ///< Production went back to an earlier version.
  published,         ///< A version was added to a registry.
  stage_changed,     ///< A version changed stage without becoming production.
  retired,           ///< A version was dropped by the retention policy.
  model_reset,       ///< A model was reset or re-seeded (e.g. after a drift).
};

/// Short, stable English name of an event kind.
[[nodiscard]] constexpr std::string_view to_string(event_kind k) noexcept {
  switch (k) {
    case event_kind::drift_warning: return "drift_warning";
    case event_kind::drift: return "drift";
    case event_kind::gate_decision: return "gate_decision";
    case event_kind::rollout_started: return "rollout_started";
    case event_kind::rollout_step: return "rollout_step";
    case event_kind::rollout_aborted: return "rollout_aborted";
    case event_kind::promoted: return "promoted";
    case event_kind::rolled_back: return "rolled_back";
    case event_kind::published: return "published";
    case event_kind::stage_changed: return "stage_changed";
    case event_kind::retired: return "retired";
    case event_kind::model_reset: return "model_reset";
  }
  return "unknown";
}

/// One event. Plain data, no allocation: safe to build and pass on the hot path.
struct event {
  event_kind kind{event_kind::published};  ///< What happened.
  std::uint64_t sample_index{0};  ///< Samples observed when it happened (0 off the stream).
  double time{0.0};               ///< Sample time (stream's unit), or 0 when not known.
  std::uint64_t version{0};       ///< Registry version concerned, 0 when none.
  std::uint32_t model{0};         ///< Index of the model concerned within its pipeline.
  double value{0.0};              ///< A figure for the event: fraction, statistic, loss.
  reason_text reason{};           ///< Human-readable why.
};

/// An event sink takes events by const reference. Sinks called from the hot path must be
/// noexcept and must not block; a sink that needs I/O should queue and drain elsewhere.
/// @post The sink does not keep the reference past the call.
template <class S>
concept event_sink = requires(S& s, const event& e) {
  { s.on_event(e) } noexcept;
};

/// The default sink: drops every event; compiles away.
struct null_sink {
  /// Drops the event.
  constexpr void on_event(const event&) noexcept {}
};

}  // namespace livefit

#endif  // LIVEFIT_CORE_EVENTS_HPP
