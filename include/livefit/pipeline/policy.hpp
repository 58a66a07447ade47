// Update policies and options of a pipeline: when models learn, what a drift does, how
// losses are measured.
#ifndef LIVEFIT_PIPELINE_POLICY_HPP
#define LIVEFIT_PIPELINE_POLICY_HPP

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "livefit/core/result.hpp"
#include "livefit/eval/sequential_test.hpp"

namespace livefit {

/// When the models of a pipeline learn (after the warm-up, during which they all learn from
/// every sample).
enum class update_schedule : std::uint8_t {
  every_sample,  ///< Every model learns from every sample (after scoring it).
  every_n,       ///< Models learn from every n-th sample only; all samples are still served
                 ///< and scored. For streams faster than the learning budget.
  frozen,        ///< Nothing learns after the warm-up: the "train once and ship" baseline.
};

/// The enumerator's name ("every_sample", "every_n", "frozen"); "unknown" for a value
/// outside the enumeration.
[[nodiscard]] constexpr std::string_view to_string(update_schedule s) noexcept {
  switch (s) {
    case update_schedule::every_sample: return "every_sample";
    case update_schedule::every_n: return "every_n";
    case update_schedule::frozen: return "frozen";
  }
  return "unknown";
}

/// What a drift of the production model's loss does to the challengers.
enum class drift_action : std::uint8_t {
  none,    ///< Report the drift only.
  reset,   ///< Challengers go back to their prior (reset()): they relearn from the drift on.
  reseed,  ///< Challengers take the production model's state and keep their own settings
           ///< (seed_from()): they start from what production knows and diverge at their
           ///< own pace (e.g. forgetting factor). Models without seed_from() are reset.
};

/// The enumerator's name ("none", "reset", "reseed"); "unknown" for a value outside the
/// enumeration.
[[nodiscard]] constexpr std::string_view to_string(drift_action a) noexcept {
  switch (a) {
    case drift_action::none: return "none";
    case drift_action::reset: return "reset";
    case drift_action::reseed: return "reseed";
  }
  return "unknown";
}

/// The loss every model is scored with.
enum class loss_kind : std::uint8_t {
  absolute,  ///< |y - y_hat|
  squared,   ///< (y - y_hat)^2
};

/// The loss of prediction `y_hat` for target `y`: |y - y_hat| or (y - y_hat)^2, in the
/// target's unit or its square. NaN in, NaN out (the pipeline checks losses before use).
[[nodiscard]] constexpr double loss_of(loss_kind k, double y, double y_hat) noexcept {
  const double e = y - y_hat;
  return k == loss_kind::absolute ? (e < 0 ? -e : e) : e * e;
}

/// The update policy: the four policies of the pipeline are every_sample, every_n(N),
/// on-drift (any schedule with on_drift != none) and frozen.
struct update_policy {
  /// When models learn. Default every_sample.
  update_schedule schedule{update_schedule::every_sample};
  /// N of every_n: models learn from samples whose index is a multiple of N. Range >= 1.
  /// Default 1.
  std::uint64_t every_n{1};
  /// What a drift of the production loss does to the challengers. Default none.
  drift_action on_drift{drift_action::none};
};

/// Options of a pipeline (both forms).
struct pipeline_options {
  /// Samples every model learns from before scoring, drift monitoring and gating start
  /// (served predictions are returned from the first sample). Unit: samples. Default 0.
  std::uint64_t warmup{0};
  /// The update policy. Default: every sample, no drift action.
  update_policy policy{};
  /// Loss used for evidence, drift monitoring and gating. Default absolute.
  loss_kind loss{loss_kind::absolute};
  /// The promotion gate is asked every `gate_interval` scored samples (a gate builds a
  /// reason text each time, about 100-300 ns). Range >= 1. Default 1.
  std::uint64_t gate_interval{1};
  /// Settings of the always-valid sequential test (mSPRT) run per challenger on the paired
  /// loss differences (its p-value is evidence::sequential_p, read by `significant`).
  /// Default: msprt_options{} (tau 0.1, plug-in sigma, burn-in 30).
  msprt_options sequential{};
  /// Lower end of the declared range of valid predictions, inclusive, in the target's unit;
  /// copied into evidence::prediction_min for the sanity gate. Not NaN. Default -inf (no
  /// lower bound).
  double prediction_min{-std::numeric_limits<double>::infinity()};
  /// Upper end of that range, inclusive; not NaN and >= prediction_min (make() rejects
  /// anything else). Default +inf (no upper bound).
  double prediction_max{std::numeric_limits<double>::infinity()};
  /// Keep a fingerprint of the samples the models learn from (deploy/lineage.hpp), written
  /// into the lineage of every published version. Costs about 2 ns per scalar learnt
  /// (d + 1 per sample). Default true.
  bool fingerprint{true};
  /// Seed of the traffic split's generator for samples without a key. Default 0.
  std::uint64_t seed{0};
  /// Name of the traffic split (hashed with every key). Default "pipeline".
  std::string split_name{"pipeline"};
};

/// Checks pipeline_options; the message names the parameter and its range.
[[nodiscard]] inline result<void> validate(const pipeline_options& o) {
  if (o.policy.schedule == update_schedule::every_n && o.policy.every_n == 0)
    return fail(errc::invalid_argument, "pipeline: policy.every_n must be >= 1, got 0");
  if (o.gate_interval == 0)
    return fail(errc::invalid_argument, "pipeline: gate_interval must be >= 1, got 0");
  if (std::isnan(o.prediction_min) || std::isnan(o.prediction_max) ||
      !(o.prediction_min <= o.prediction_max))
    return fail(errc::invalid_argument,
                "pipeline: prediction_min must be <= prediction_max (neither NaN)");
  return {};
}

}  // namespace livefit

#endif  // LIVEFIT_PIPELINE_POLICY_HPP
