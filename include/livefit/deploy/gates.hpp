// Gate policies: min_samples, min_improvement, significant, no_regression, sanity.
//
// Each gate reads an `evidence` and returns a `decision` (hold, promote or roll back) with a
// reason a person can read in an audit log. Gates are stateless and idempotent: `evaluate`
// is a pure function of the evidence and the gate's options, so the pipeline may ask as
// often as it likes. Each also answers `action(e)`, the same action without the reason, for
// callers that ask every sample (see decide()). They compose with all_of / any_of / not_
// (gate_combinators.hpp) at compile time, and from a text description (gate_parser.hpp) at
// run time.
//
// Usage:
//   auto g = all_of(min_samples::make({.samples = 500}).value(),
//                   significant::make({.alpha = 0.05}).value());
//   decision d = g.evaluate(e);
//   // d.reason: "min_samples: 800 of 500 samples; significant: sequential: p = 0.003 <= ..."
#ifndef LIVEFIT_DEPLOY_GATES_HPP
#define LIVEFIT_DEPLOY_GATES_HPP

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

#include "livefit/core/concepts.hpp"
#include "livefit/core/result.hpp"
#include "livefit/deploy/detail/gate_text.hpp"
#include "livefit/deploy/evidence.hpp"
#include "livefit/eval/t_test.hpp"

namespace livefit {

/// Builds a decision; the one place reasons get their "<gate>: " prefix.
[[nodiscard]] inline decision make_decision(gate_action a, std::string_view gate_name,
                                            const reason_text& detail) noexcept {
  decision d{a, reason_text(gate_name)};
  d.reason.append(": ").append(detail.view());
  return d;
}

/// A gate's action without its reason: `g.action(e)` when the gate offers that fast path
/// (every livefit gate does), else `g.evaluate(e).action`. Rollouts call it on every sample
/// and ask evaluate() for the reason only when they act, since formatting a reason costs far
/// more than deciding.
template <class G, class Evidence>
  requires gate<G, Evidence>
[[nodiscard]] gate_action decide(const G& g, const Evidence& e) noexcept {
  if constexpr (requires {
                  { g.action(e) } noexcept -> std::same_as<gate_action>;
                })
    return g.action(e);
  else
    return g.evaluate(e).action;
}

// --- min_samples ---------------------------------------------------------------------------

/// Options of min_samples.
struct min_samples_options {
  /// Paired samples the challenger must have been scored on before it may go ahead.
  /// Unit: samples. Default 1000. Range: >= 1.
  std::uint64_t samples{1000};
};

/// Holds until the challenger has been scored on enough samples, then lets it go ahead.
/// Never rolls back. Meant as the first member of an all_of: it keeps the other gates from
/// deciding on a handful of samples.
class min_samples {
 public:
  /// The gate's name, the first word of every reason it gives.
  static constexpr std::string_view name = "min_samples";

  /// A gate with the default options.
  min_samples() noexcept = default;

  /// Validates the options. Errors: samples == 0.
  static result<min_samples> make(const min_samples_options& o) {
    if (o.samples == 0)
      return fail(errc::invalid_argument, "min_samples: samples must be >= 1, got 0");
    return min_samples(o);
  }

  /// Promote once `e.samples >= samples`, else hold.
  [[nodiscard]] gate_action action(const evidence& e) const noexcept {
    return e.samples >= opt_.samples ? gate_action::promote : gate_action::hold;
  }

  /// action() with its reason.
  [[nodiscard]] decision evaluate(const evidence& e) const noexcept {
    reason_text r;
    r.append(e.samples).append(" of ").append(opt_.samples).append(" samples");
    return make_decision(action(e), name, r);
  }

  /// The options in force.

  [[nodiscard]] const min_samples_options& options() const noexcept { return opt_; }

 private:
  explicit min_samples(const min_samples_options& o) noexcept : opt_(o) {}
  min_samples_options opt_{};
};

// --- min_improvement -----------------------------------------------------------------------

/// Options of min_improvement. Both thresholds must be met.
struct min_improvement_options {
  /// Required improvement as a share of the champion's mean loss (0.01: the challenger's loss
  /// must be at least 1% lower). Unitless. Default 0.01. Range: [0, 1].
  double relative{0.01};
  /// Required improvement in loss units (champion loss - challenger loss). Default 0.
  /// Range: finite, >= 0.
  double absolute{0.0};
};

/// Promotes when the challenger's mean loss is lower than the champion's by at least both
/// thresholds; holds otherwise (never rolls back: a worse challenger is the job of
/// `significant`). Says nothing about chance: pair it with `significant`.
class min_improvement {
 public:
  /// The gate's name, the first word of every reason it gives.
  static constexpr std::string_view name = "min_improvement";

  min_improvement() noexcept = default;

  /// Validates the options. Errors: relative outside [0, 1], absolute negative or not finite.
  static result<min_improvement> make(const min_improvement_options& o) {
    if (!(o.relative >= 0.0 && o.relative <= 1.0))
      return fail(errc::invalid_argument,
                  "min_improvement: relative must be in [0, 1], got " + detail::number(o.relative));
    if (!(o.absolute >= 0.0 && std::isfinite(o.absolute)))
      return fail(
          errc::invalid_argument,
          "min_improvement: absolute must be finite and >= 0, got " + detail::number(o.absolute));
    return min_improvement(o);
  }

  /// Promote when `champion - challenger` is > 0, >= absolute and >= relative * |champion|.
  /// The relative test is multiplied out (no division), so a champion loss of 0 is handled:
  /// nothing can improve on it. Losses may be any finite values, negative ones included
  /// (e.g. negative log-likelihoods, or differences of them); the gain must be finite too:
  /// two finite losses of opposite sign near the double maximum (-DBL_MAX vs DBL_MAX) have
  /// a gain that overflows to inf, which is no measurement, so the gate holds.
  [[nodiscard]] gate_action action(const evidence& e) const noexcept {
    const double champ = e.champion_loss;
    const double gain = champ - e.challenger_loss;
    // NaN or infinite means or gain: hold (a NaN fails every comparison; isfinite(gain)
    // catches the overflow of two finite means).
    const bool ok = std::isfinite(champ) && std::isfinite(e.challenger_loss) &&
                    std::isfinite(gain) && gain > 0.0 && gain >= opt_.absolute &&
                    gain >= opt_.relative * std::fabs(champ);
    return ok ? gate_action::promote : gate_action::hold;
  }

  /// action() with its reason.
  [[nodiscard]] decision evaluate(const evidence& e) const noexcept {
    const gate_action a = action(e);
    const double champ = e.champion_loss;
    const double chall = e.challenger_loss;
    reason_text r;
    if (!std::isfinite(champ) || !std::isfinite(chall))
      return make_decision(a, name, r.append("mean losses not available"));
    const double gain = champ - chall;
    if (!std::isfinite(gain))
      return make_decision(a, name, r.append("gain overflows (losses too far apart)"));
    r.append("loss ");
    detail::fig(r, chall).append(" vs ");
    detail::fig(r, champ).append(", gain ");
    detail::fig(r, gain);
    if (champ != 0.0) detail::percent(r.append(" = "), gain / std::fabs(champ));
    r.append(" (needs ");
    detail::percent(r, opt_.relative).append(" and ");
    detail::fig(r, opt_.absolute).append(")");
    return make_decision(a, name, r);
  }

  /// The options in force.

  [[nodiscard]] const min_improvement_options& options() const noexcept { return opt_; }

 private:
  explicit min_improvement(const min_improvement_options& o) noexcept : opt_(o) {}
  min_improvement_options opt_{};
};

// --- significant ---------------------------------------------------------------------------

/// Which test `significant` reads.
enum class significance_test : std::uint8_t {
  /// Always-valid sequential p-value (`evidence::sequential_p`, an mSPRT): stays at level
  /// alpha however often the gate looks. The right choice for a gate asked every sample.
  sequential,
  /// Paired t-test on (samples, diff_mean, diff_variance). Valid for ONE pre-planned look:
  /// asked after every batch it promotes far more often than alpha (case C17).
  paired_t,
};

[[nodiscard]] constexpr std::string_view to_string(significance_test t) noexcept {
  return t == significance_test::sequential ? "sequential" : "paired_t";
}

/// Options of significant.
struct significant_options {
  /// Level of the test: the highest accepted chance of declaring a difference between equal
  /// models. Default 0.05. Range: (0, 1).
  double alpha{0.05};
  /// The test to read. Default: sequential (valid under continuous monitoring).
  significance_test test{significance_test::sequential};
  /// Roll back when the challenger is significantly worse (else just hold). Default true.
  bool rollback_when_worse{true};
};

/// Promotes when the challenger is significantly better than the champion at level alpha,
/// rolls back when it is significantly worse, holds otherwise (including when the test is
/// undefined: too few samples, no variance, no sequential p-value).
class significant {
 public:
  /// The gate's name, the first word of every reason it gives.
  static constexpr std::string_view name = "significant";

  significant() noexcept = default;

  /// Validates the options. Errors: alpha outside (0, 1).
  static result<significant> make(const significant_options& o) {
    if (!(o.alpha > 0.0 && o.alpha < 1.0))
      return fail(errc::invalid_argument,
                  "significant: alpha must be in (0, 1), got " + detail::number(o.alpha));
    return significant(o);
  }

  /// Sequential test: roll back (or hold, by rollback_when_worse) when the one-sided
  /// p-value of "challenger worse" is <= alpha, else promote when that of "challenger
  /// better" is <= alpha, else hold. Paired t (one planned look): the two-sided p-value at
  /// alpha with the sign of the mean difference.
  /// Holds on evidence that is not a measurement: samples == 0, or a p-value outside [0, 1]
  /// (NaN, a negative sentinel).
  [[nodiscard]] gate_action action(const evidence& e) const noexcept {
    if (e.samples == 0) return gate_action::hold;
    if (opt_.test == significance_test::sequential) {
      if (!is_probability(e.sequential_p_worse) || !is_probability(e.sequential_p_better))
        return gate_action::hold;
      if (e.sequential_p_worse <= opt_.alpha)
        return opt_.rollback_when_worse ? gate_action::rollback : gate_action::hold;
      return e.sequential_p_better <= opt_.alpha ? gate_action::promote : gate_action::hold;
    }
    const double p = t_p_value(e);
    if (!(p <= opt_.alpha) || !(e.diff_mean != 0.0)) return gate_action::hold;
    if (e.diff_mean > 0.0) return gate_action::promote;
    return opt_.rollback_when_worse ? gate_action::rollback : gate_action::hold;
  }

  /// action() with its reason.
  [[nodiscard]] decision evaluate(const evidence& e) const noexcept {
    const gate_action a = action(e);
    reason_text r(to_string(opt_.test));
    r.append(": ");
    if (e.samples == 0) return make_decision(a, name, r.append("no samples"));
    if (opt_.test == significance_test::sequential) {
      if (std::isnan(e.sequential_p_better) && std::isnan(e.sequential_p_worse))
        return make_decision(a, name, r.append("no sequential p-value yet"));
      if (!is_probability(e.sequential_p_worse) || !is_probability(e.sequential_p_better))
        return make_decision(a, name, r.append("sequential p-value outside [0, 1]"));
      detail::fig(r.append("p(better) = "), e.sequential_p_better).append(", p(worse) = ");
      detail::fig(r, e.sequential_p_worse);
    } else {
      const double p = t_p_value(e);
      if (std::isnan(p))
        return make_decision(a, name, r.append("difference moments not available"));
      const test_result t = t_test(e);
      if (!t.defined)
        return make_decision(a, name, r.append("t-test undefined at n = ").append(e.samples));
      detail::fig(r.append("t = "), t.statistic).append(", p = ");
      detail::fig(r, p).append(p <= opt_.alpha ? " <=" : " >");
    }
    r.append(opt_.test == significance_test::sequential ? ", alpha " : " alpha ");
    detail::fig(r, opt_.alpha).append(", mean gain ");
    detail::fig(r, e.diff_mean).append(" over ").append(e.samples).append(" samples");
    const bool worse = opt_.test == significance_test::sequential
                           ? e.sequential_p_worse <= opt_.alpha
                           : t_p_value(e) <= opt_.alpha && e.diff_mean < 0.0;
    if (a == gate_action::promote) r.append(": challenger better");
    if (worse) r.append(a == gate_action::rollback ? ": challenger worse"
                                                   : ": challenger worse (rollback disabled)");
    return make_decision(a, name, r);
  }

  /// The options in force.

  [[nodiscard]] const significant_options& options() const noexcept { return opt_; }

 private:
  explicit significant(const significant_options& o) noexcept : opt_(o) {}

  /// Two-sided paired t p-value, NaN when the difference moments are not finite. An
  /// undefined t-test has p = 1 (eval/t_test.hpp).
  [[nodiscard]] static double t_p_value(const evidence& e) noexcept {
    if (!std::isfinite(e.diff_mean) || !std::isfinite(e.diff_variance))
      return evidence::not_measured;
    return t_test(e).p_value;
  }

  /// The paired t-test of the evidence, told the magnitude of the mean losses so that a
  /// zero-variance difference at the rounding level of the losses is undefined, not
  /// infinitely significant (eval/t_test.hpp).
  [[nodiscard]] static test_result t_test(const evidence& e) noexcept {
    double scale = 0.0;
    if (std::isfinite(e.champion_loss)) scale = std::fabs(e.champion_loss);
    if (std::isfinite(e.challenger_loss)) scale = std::max(scale, std::fabs(e.challenger_loss));
    return paired_t_test(e.samples, e.diff_mean, e.diff_variance, scale);
  }

  /// True for a p-value a test can produce: in [0, 1] (false for NaN).
  [[nodiscard]] static bool is_probability(double p) noexcept { return p >= 0.0 && p <= 1.0; }
  significant_options opt_{};
};

// --- no_regression -------------------------------------------------------------------------

/// Options of no_regression. The allowed rise is the larger of the two allowances.
struct no_regression_options {
  /// Allowed rise of the production loss over its baseline, as a share of the baseline.
  /// Unitless. Default 0.10. Range: finite, >= 0.
  double max_relative_increase{0.10};
  /// Allowed rise in loss units. Default 0. Range: finite, >= 0.
  double max_absolute_increase{0.0};
  /// Production samples needed before judging (a fresh version's loss is noisy).
  /// Unit: samples. Default 100. Range: >= 1.
  std::uint64_t min_samples{100};
};

/// Watches the production version against its own baseline: rolls back when its loss rises
/// past the allowance, says promote ("no objection") while it stays within, holds until it
/// has seen `min_samples`. For the watch after a promotion (blue-green), not for comparing a
/// challenger: inside a canary's gate a production regression would abort the canary.
class no_regression {
 public:
  /// The gate's name, the first word of every reason it gives.
  static constexpr std::string_view name = "no_regression";

  no_regression() noexcept = default;

  /// Validates the options. Errors: a negative or non-finite allowance, min_samples == 0.
  static result<no_regression> make(const no_regression_options& o) {
    if (!(o.max_relative_increase >= 0.0 && std::isfinite(o.max_relative_increase)))
      return fail(errc::invalid_argument,
                  "no_regression: max_relative_increase must be finite and >= 0, got " +
                      detail::number(o.max_relative_increase));
    if (!(o.max_absolute_increase >= 0.0 && std::isfinite(o.max_absolute_increase)))
      return fail(errc::invalid_argument,
                  "no_regression: max_absolute_increase must be finite and >= 0, got " +
                      detail::number(o.max_absolute_increase));
    if (o.min_samples == 0)
      return fail(errc::invalid_argument, "no_regression: min_samples must be >= 1, got 0");
    return no_regression(o);
  }

  /// Hold before min_samples or without a baseline; roll back when the loss rose past the
  /// allowance (or is no longer finite); promote ("no objection") otherwise.
  [[nodiscard]] gate_action action(const evidence& e) const noexcept {
    if (e.production_samples < opt_.min_samples || !std::isfinite(e.production_baseline))
      return gate_action::hold;
    // A non-finite production loss with a valid baseline is itself a regression.
    if (!std::isfinite(e.production_loss)) return gate_action::rollback;
    return rise(e) > allowed(e) ? gate_action::rollback : gate_action::promote;
  }

  /// action() with its reason.
  [[nodiscard]] decision evaluate(const evidence& e) const noexcept {
    const gate_action a = action(e);
    reason_text r;
    if (e.production_samples < opt_.min_samples) {
      r.append(e.production_samples).append(" of ").append(opt_.min_samples);
      return make_decision(a, name, r.append(" production samples"));
    }
    if (!std::isfinite(e.production_baseline))
      return make_decision(a, name, r.append("no production baseline"));
    if (!std::isfinite(e.production_loss))
      return make_decision(a, name, r.append("production loss is not finite"));
    r.append("loss ");
    detail::fig(r, e.production_loss).append(" vs baseline ");
    detail::fig(r, e.production_baseline).append(", rise ");
    detail::fig(r, rise(e)).append(rise(e) > allowed(e) ? " > " : " <= ").append("allowed ");
    detail::fig(r, allowed(e));
    return make_decision(a, name, r);
  }

  /// The options in force.

  [[nodiscard]] const no_regression_options& options() const noexcept { return opt_; }

 private:
  explicit no_regression(const no_regression_options& o) noexcept : opt_(o) {}

  [[nodiscard]] static double rise(const evidence& e) noexcept {
    return e.production_loss - e.production_baseline;
  }
  [[nodiscard]] double allowed(const evidence& e) const noexcept {
    return std::fmax(opt_.max_absolute_increase,
                     opt_.max_relative_increase * std::fabs(e.production_baseline));
  }
  no_regression_options opt_{};
};

// --- sanity --------------------------------------------------------------------------------

/// Options of sanity.
struct sanity_options {
  /// Roll back when a coefficient is NaN or infinite. Default true.
  bool check_coefficients{true};
  /// Roll back when the last prediction is outside the evidence's declared range. Default true.
  bool check_range{true};
  /// Hold until the version under test has made a prediction. Default false.
  bool require_prediction{false};
};

/// Rolls back a version whose coefficients or predictions are broken (NaN, infinite, outside
/// the declared range); says promote ("no objection") otherwise. A NaN prediction is always
/// a rollback, whatever the options: it is never a usable answer.
class sanity {
 public:
  /// The gate's name, the first word of every reason it gives.
  static constexpr std::string_view name = "sanity";

  sanity() noexcept = default;

  /// Any combination of options is valid; make() exists for uniformity with other gates.
  static result<sanity> make(const sanity_options& o) { return sanity(o); }

  /// The decision without its reason (the per-sample fast path; see gate_action).
  [[nodiscard]] gate_action action(const evidence& e) const noexcept {
    if (opt_.check_coefficients && !e.coefficients_finite) return gate_action::rollback;
    if (!e.has_prediction)
      return opt_.require_prediction ? gate_action::hold : gate_action::promote;
    if (!std::isfinite(e.last_prediction)) return gate_action::rollback;
    return opt_.check_range && !inside(e) ? gate_action::rollback : gate_action::promote;
  }

  /// action() with its reason.
  [[nodiscard]] decision evaluate(const evidence& e) const noexcept {
    const gate_action a = action(e);
    reason_text r;
    if (opt_.check_coefficients && !e.coefficients_finite)
      return make_decision(a, name, r.append("coefficients not finite"));
    if (!e.has_prediction) return make_decision(a, name, r.append("no prediction yet"));
    detail::fig(r.append("prediction "), e.last_prediction);
    if (!std::isfinite(e.last_prediction)) return make_decision(a, name, r.append(" not finite"));
    r.append(inside(e) ? " in [" : " outside [");
    detail::fig(r, e.prediction_min).append(", ");
    detail::fig(r, e.prediction_max).append("]");
    return make_decision(a, name, r);
  }

  /// The options in force.

  [[nodiscard]] const sanity_options& options() const noexcept { return opt_; }

 private:
  explicit sanity(const sanity_options& o) noexcept : opt_(o) {}

  /// The last prediction lies in the declared range (inclusive).
  [[nodiscard]] static bool inside(const evidence& e) noexcept {
    return e.last_prediction >= e.prediction_min && e.last_prediction <= e.prediction_max;
  }
  sanity_options opt_{};
};

static_assert(gate<min_samples, evidence>);
static_assert(gate<min_improvement, evidence>);
static_assert(gate<significant, evidence>);
static_assert(gate<no_regression, evidence>);
static_assert(gate<sanity, evidence>);

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_GATES_HPP
