// evidence: what a gate reads about a champion, a challenger and the production version.
#ifndef LIVEFIT_DEPLOY_EVIDENCE_HPP
#define LIVEFIT_DEPLOY_EVIDENCE_HPP

#include <cstdint>
#include <limits>

namespace livefit {

/// The figures a gate decides on, filled by the pipeline from its evaluation objects.
///
/// Plain data: copying it never allocates, so a gate can be asked on the hot path. A figure
/// that has not been measured yet is a quiet NaN (the defaults); gates treat NaN as "not
/// available" and hold, never promote, on it.
///
/// Losses are "lower is better". Every model is scored on every sample before it learns
/// (prequential), so the comparison is paired: `diff_*` describe the per-sample difference
/// `champion loss - challenger loss`, positive when the challenger does better (the sign
/// convention of eval/paired_evidence.hpp). evidence_collector.hpp fills these fields.
struct evidence {
  /// The value of a figure not measured yet: a quiet NaN, which every gate reads as "not
  /// available" (hold). Test for it with std::isnan, never with ==.
  static constexpr double not_measured = std::numeric_limits<double>::quiet_NaN();

  /// Where in the stream the evidence was taken (copied into events). 0 when not known.
  std::uint64_t sample_index{0};
  /// Sample time in the stream's unit, 0 when not known.
  double time{0.0};

  // --- Paired comparison of challenger and champion -------------------------------------
  /// Samples on which both models were scored.
  std::uint64_t samples{0};
  /// Mean loss of the champion over those samples.
  double champion_loss{not_measured};
  /// Mean loss of the challenger over the same samples.
  double challenger_loss{not_measured};
  /// Mean of the paired difference (champion - challenger); positive: challenger better.
  double diff_mean{not_measured};
  /// Sample variance (divisor n - 1) of the paired difference.
  double diff_variance{not_measured};
  /// Always-valid p-value of "mean difference is 0" from a sequential test (mSPRT) fed
  /// with the same differences; valid however often it is looked at. NaN when no sequential
  /// test runs.
  double sequential_p{not_measured};
  /// Always-valid one-sided p-value of "the challenger is better" (mean difference > 0) from
  /// the same sequential test. `significant` promotes on this, never on the two-sided value
  /// with the sign of the current mean (which, as a running minimum, can outlive the evidence
  /// that made it small). NaN when no sequential test runs.
  double sequential_p_better{not_measured};
  /// Always-valid one-sided p-value of "the challenger is worse" (mean difference < 0).
  double sequential_p_worse{not_measured};

  // --- Production version against its own baseline (for no_regression) -------------------
  /// Samples that `production_loss` summarises.
  std::uint64_t production_samples{0};
  /// Recent loss of the production version (e.g. an exponentially weighted mean).
  double production_loss{not_measured};
  /// The production version's loss when it was promoted: the level it must not rise above.
  double production_baseline{not_measured};

  // --- Sanity of the version under test -------------------------------------------------
  /// False when any coefficient of the version under test is NaN or infinite.
  bool coefficients_finite{true};
  /// True once `last_prediction` holds a prediction of the version under test.
  bool has_prediction{false};
  /// The latest prediction of the version under test.
  double last_prediction{not_measured};
  /// Lower end of the declared range of valid predictions, inclusive, in the target's unit;
  /// the sanity gate rolls back a version whose last prediction lies outside
  /// [prediction_min, prediction_max]. Default -inf (no lower bound).
  double prediction_min{-std::numeric_limits<double>::infinity()};
  /// Upper end of that range, inclusive, in the target's unit; >= prediction_min.
  /// Default +inf (no upper bound).
  double prediction_max{std::numeric_limits<double>::infinity()};
};

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_EVIDENCE_HPP
