// Tests for deploy/gates.hpp, gate_combinators.hpp, gate_parser.hpp and evidence_collector.hpp:
// gate policies as a table of scenarios, combinator logic, reasons, run-time composition from
// text, allocation, and case C17 (a gate that looks after every batch).
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "livefit/deploy/evidence_collector.hpp"
#include "livefit/deploy/gate_combinators.hpp"
#include "livefit/deploy/gate_parser.hpp"
#include "livefit/deploy/gates.hpp"

using namespace livefit;

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_v = std::numeric_limits<double>::infinity();

/// Paired evidence with the given size and moments (diff = champion - challenger).
evidence paired(std::uint64_t n, double champion, double challenger, double var_diff,
                double seq_p = nan_v) {
  evidence e;
  e.samples = n;
  e.champion_loss = champion;
  e.challenger_loss = challenger;
  e.diff_mean = champion - challenger;
  e.diff_variance = var_diff;
  // A hand-made sequential result: seq_p is the evidence for the side the mean is on, and
  // there is none for the other side.
  e.sequential_p = seq_p;
  e.sequential_p_better = std::isnan(seq_p) ? seq_p : e.diff_mean > 0.0 ? seq_p : 1.0;
  e.sequential_p_worse = std::isnan(seq_p) ? seq_p : e.diff_mean < 0.0 ? seq_p : 1.0;
  return e;
}

evidence production(std::uint64_t n, double loss, double baseline) {
  evidence e;
  e.production_samples = n;
  e.production_loss = loss;
  e.production_baseline = baseline;
  return e;
}

evidence predicted(double p, double lo, double hi, bool coef_ok = true) {
  evidence e;
  e.has_prediction = true;
  e.last_prediction = p;
  e.prediction_min = lo;
  e.prediction_max = hi;
  e.coefficients_finite = coef_ok;
  return e;
}

/// A gate that always answers `a`, to check the combinators' logic exhaustively.
struct fixed_gate {
  gate_action a{gate_action::hold};
  [[nodiscard]] decision evaluate(const evidence&) const noexcept {
    decision d{a, reason_text("fixed: ")};
    d.reason.append(to_string(a));
    return d;
  }
};

template <class T>
T made(result<T> r) {
  REQUIRE(r.has_value());
  return std::move(r).value();
}

/// Evidence with figures that are sometimes NaN, infinite, zero or negative, for properties
/// that must hold whatever the pipeline feeds in.
struct random_evidence {
  std::mt19937_64 rng;
  std::uniform_real_distribution<double> u{-2.0, 2.0};
  std::uniform_int_distribution<int> pick{0, 5};
  double figure() {
    switch (pick(rng)) {
      case 0: return nan_v;
      case 1: return inf_v;
      case 2: return 0.0;
      default: return u(rng);
    }
  }
  evidence next() {
    evidence e;
    e.samples = static_cast<std::uint64_t>(pick(rng)) * 400;
    e.champion_loss = figure();
    e.challenger_loss = figure();
    e.diff_mean = figure();
    e.diff_variance = std::fabs(figure());
    e.sequential_p = std::fabs(figure()) / 4.0;
    e.sequential_p_better = std::fabs(figure()) / 4.0;
    e.sequential_p_worse = std::fabs(figure()) / 4.0;
    e.production_samples = static_cast<std::uint64_t>(pick(rng)) * 50;
    e.production_loss = figure();
    e.production_baseline = figure();
    e.coefficients_finite = pick(rng) != 0;
    e.has_prediction = pick(rng) != 0;
    e.last_prediction = figure();
    return e;
  }
};

struct scenario {
  const char* what;  // the situation, and why the expected action follows
  any_gate gate;
  evidence e;
  gate_action expected;
  const char* reason_part;  // a fragment the reason must contain
};

}  // namespace

TEST_CASE("gates: each gate and combination models the gate concept", "[deploy][gates]") {
  STATIC_REQUIRE(gate<min_samples, evidence>);
  STATIC_REQUIRE(gate<min_improvement, evidence>);
  STATIC_REQUIRE(gate<significant, evidence>);
  STATIC_REQUIRE(gate<no_regression, evidence>);
  STATIC_REQUIRE(gate<sanity, evidence>);
  STATIC_REQUIRE(gate<all_of<min_samples, any_of<significant, not_<sanity>>>, evidence>);
  STATIC_REQUIRE(gate<any_gate, evidence>);
}

TEST_CASE("gates: scenarios decide as documented", "[deploy][gates]") {
  const auto n1000 = made(min_samples::make({.samples = 1000}));
  const auto imp = made(min_improvement::make({.relative = 0.02, .absolute = 0.01}));
  const auto seq = made(significant::make({.alpha = 0.05}));
  const auto tt = made(significant::make({.alpha = 0.05, .test = significance_test::paired_t}));
  const auto tt_no_rb = made(significant::make(
      {.alpha = 0.05, .test = significance_test::paired_t, .rollback_when_worse = false}));
  const auto nr = made(no_regression::make(
      {.max_relative_increase = 0.1, .max_absolute_increase = 0.05, .min_samples = 100}));
  const auto san = sanity{};
  const auto san_req = made(sanity::make({.require_prediction = true}));

  // t = 0.3 / sqrt(1 / 50) = 2.1213, df = 49: p = 0.038978 (scipy 1.10.1,
  // 2 * stats.t.sf(2.1213203435596424, 49)); significant at 0.05.
  const evidence t_better = paired(50, 1.3, 1.0, 1.0);
  const evidence t_worse = paired(50, 1.0, 1.3, 1.0);
  // Same gain with variance 4: t = 1.0607, p = 0.294: not significant.
  const evidence t_noisy = paired(50, 1.3, 1.0, 4.0);
  evidence dip = paired(900, 1.0, 1.0002, 1.0);
  dip.sequential_p = 1e-30;
  dip.sequential_p_better = 1e-30;
  dip.sequential_p_worse = 0.7;

  const std::vector<scenario> table = {
      // Too few samples: min_samples holds.
      {"999 samples < 1000", any_gate(n1000), paired(999, 1, 1, 1), gate_action::hold,
       "999 of 1000"},
      // Exactly the minimum: goes ahead (>=).
      {"1000 samples", any_gate(n1000), paired(1000, 1, 1, 1), gate_action::promote,
       "1000 of 1000"},
      // 10% better beats 2% relative and 0.01 absolute.
      {"10% better", any_gate(imp), paired(10, 1.0, 0.9, 1), gate_action::promote, "gain 0.1"},
      // 1% better fails the 2% relative threshold.
      {"1% better", any_gate(imp), paired(10, 1.0, 0.99, 1), gate_action::hold, "needs 2%"},
      // Relative met (5% of 0.1) but absolute 0.005 < 0.01: both must hold.
      {"absolute short", any_gate(imp), paired(10, 0.1, 0.095, 1), gate_action::hold, "gain 0.005"},
      // Worse challenger: min_improvement holds, it never rolls back.
      {"worse", any_gate(imp), paired(10, 1.0, 1.5, 1), gate_action::hold, "gain -0.5"},
      // Champion loss 0: nothing can improve on it, no division by zero.
      {"champion perfect", any_gate(imp), paired(10, 0.0, 0.0, 1), gate_action::hold, "gain 0"},
      // No means yet: hold, never promote on NaN.
      {"no means", any_gate(imp), evidence{}, gate_action::hold, "not available"},
      // Sequential p below alpha with a positive gain: promote.
      {"seq better", any_gate(seq), paired(400, 1.0, 0.9, 1, 0.01), gate_action::promote,
       "challenger better"},
      // Sequential p below alpha with a negative gain: roll back.
      {"seq worse", any_gate(seq), paired(400, 0.9, 1.0, 1, 0.01), gate_action::rollback,
       "challenger worse"},
      // p exactly alpha counts as significant (p <= alpha).
      {"seq at alpha", any_gate(seq), paired(400, 1.0, 0.9, 1, 0.05), gate_action::promote,
       "p(better) = 0.05, p(worse) = 1, alpha 0.05"},
      // Sequential p above alpha: hold.
      {"seq not yet", any_gate(seq), paired(400, 1.0, 0.9, 1, 0.2), gate_action::hold,
       "p(better) = 0.2"},
      // Strong earlier evidence of "better", the running mean now dips just below 0 with no
      // evidence of "worse": not a rollback (the sign of the mean is not a test).
      {"seq dip", any_gate(seq), dip, gate_action::promote, "p(better) = 1e-30, p(worse) = 0.7"},
      // No sequential test fed: hold.
      {"seq missing", any_gate(seq), paired(400, 1.0, 0.9, 1), gate_action::hold, "no sequential"},
      // Paired t significant, challenger better.
      {"t better", any_gate(tt), t_better, gate_action::promote, "p = 0.03898"},
      // Paired t significant, challenger worse.
      {"t worse", any_gate(tt), t_worse, gate_action::rollback, "t = -2.121"},
      // Worse, but the gate is told not to roll back.
      {"t worse, no rollback", any_gate(tt_no_rb), t_worse, gate_action::hold, "challenger worse"},
      // Same gain, four times the variance: not significant.
      {"t noisy", any_gate(tt), t_noisy, gate_action::hold, "> alpha"},
      // One sample: the t-test is undefined, hold.
      {"t n=1", any_gate(tt), paired(1, 1.0, 0.0, nan_v), gate_action::hold, "not available"},
      // Identical losses on every sample: undefined test (zero variance, zero mean), hold.
      {"t identical", any_gate(tt), paired(100, 1.0, 1.0, 0.0), gate_action::hold, "undefined"},
      // Production fewer than 100 samples: hold.
      {"prod young", any_gate(nr), production(99, 5.0, 1.0), gate_action::hold, "99 of 100"},
      // Rise 0.09 within the larger allowance max(0.05, 0.1 * 1) = 0.1: no objection.
      {"prod within", any_gate(nr), production(500, 1.09, 1.0), gate_action::promote,
       "allowed 0.1"},
      // Rise 0.2 > 0.1: roll back.
      {"prod regressed", any_gate(nr), production(500, 1.2, 1.0), gate_action::rollback,
       "rise 0.2 >"},
      // Small baseline: the absolute allowance 0.05 applies (0.1 * 0.01 is tiny).
      {"prod small base", any_gate(nr), production(500, 0.05, 0.01), gate_action::promote,
       "allowed 0.05"},
      // Production loss became infinite: a regression.
      {"prod inf", any_gate(nr), production(500, inf_v, 1.0), gate_action::rollback, "not finite"},
      // No baseline recorded: hold.
      {"prod no base", any_gate(nr), production(500, 1.0, nan_v), gate_action::hold,
       "no production baseline"},
      // Coefficients blew up: roll back.
      {"coef nan", any_gate(san), predicted(1, 0, 2, false), gate_action::rollback, "coefficients"},
      // NaN prediction: roll back.
      {"pred nan", any_gate(san), predicted(nan_v, 0, 2), gate_action::rollback, "not finite"},
      // Prediction above the declared range: roll back.
      {"pred high", any_gate(san), predicted(2.5, 0, 2), gate_action::rollback, "outside [0, 2]"},
      // Prediction on the bound: inside (inclusive range).
      {"pred at bound", any_gate(san), predicted(2, 0, 2), gate_action::promote, "in [0, 2]"},
      // No prediction yet: no objection by default...
      {"no pred", any_gate(san), evidence{}, gate_action::promote, "no prediction"},
      // ...but hold when a prediction is required.
      {"no pred, required", any_gate(san_req), evidence{}, gate_action::hold, "no prediction"},
  };
  for (const scenario& s : table) {
    INFO(s.what);
    const decision d = s.gate.evaluate(s.e);
    INFO(d.reason.view());
    CHECK(d.action == s.expected);
    CHECK(s.gate.action(s.e) == s.expected);
    CHECK(d.reason.view().find(s.reason_part) != std::string_view::npos);
  }
}

TEST_CASE("gates: factories reject options out of range with a message naming them",
          "[deploy][gates]") {
  auto a = min_samples::make({.samples = 0});
  REQUIRE_FALSE(a);
  CHECK(a.error().message == "min_samples: samples must be >= 1, got 0");
  auto b = min_improvement::make({.relative = 1.5});
  REQUIRE_FALSE(b);
  CHECK(b.error().message == "min_improvement: relative must be in [0, 1], got 1.5");
  auto c = min_improvement::make({.absolute = -1});
  REQUIRE_FALSE(c);
  CHECK(c.error().message == "min_improvement: absolute must be finite and >= 0, got -1");
  for (double alpha : {0.0, 1.0, -0.1, nan_v}) {
    auto d = significant::make({.alpha = alpha});
    REQUIRE_FALSE(d);
    CHECK(d.error().code == errc::invalid_argument);
    CHECK(d.error().message.rfind("significant: alpha must be in (0, 1), got ", 0) == 0);
  }
  auto e = no_regression::make({.max_relative_increase = inf_v});
  REQUIRE_FALSE(e);
  CHECK(e.error().message ==
        "no_regression: max_relative_increase must be finite and >= 0, got inf");
  auto f = no_regression::make({.min_samples = 0});
  REQUIRE_FALSE(f);
  CHECK(f.error().message == "no_regression: min_samples must be >= 1, got 0");
}

TEST_CASE("gates: combinators follow the veto logic over every combination",
          "[deploy][gates][combinators]") {
  constexpr std::array<gate_action, 3> acts = {gate_action::hold, gate_action::promote,
                                               gate_action::rollback};
  const evidence e{};
  for (gate_action x : acts) {
    for (gate_action y : acts) {
      INFO(to_string(x) << ", " << to_string(y));
      const bool any_rb = x == gate_action::rollback || y == gate_action::rollback;
      const bool both_pr = x == gate_action::promote && y == gate_action::promote;
      const bool one_pr = x == gate_action::promote || y == gate_action::promote;
      const decision da = all_of(fixed_gate{x}, fixed_gate{y}).evaluate(e);
      CHECK(da.action == (any_rb    ? gate_action::rollback
                          : both_pr ? gate_action::promote
                                    : gate_action::hold));
      const decision dy = any_of(fixed_gate{x}, fixed_gate{y}).evaluate(e);
      CHECK(dy.action == (any_rb   ? gate_action::rollback
                          : one_pr ? gate_action::promote
                                   : gate_action::hold));
      CHECK_FALSE(da.reason.empty());
      CHECK_FALSE(dy.reason.empty());
      // fixed_gate has no action(): decide() falls back to evaluate().
      CHECK(decide(all_of(fixed_gate{x}, fixed_gate{y}), e) == da.action);
      CHECK(decide(any_of(fixed_gate{x}, fixed_gate{y}), e) == dy.action);
    }
    const decision dn = not_(fixed_gate{x}).evaluate(e);
    CHECK(dn.action == (x == gate_action::promote ? gate_action::hold
                        : x == gate_action::hold  ? gate_action::promote
                                                  : gate_action::rollback));
    CHECK(dn.reason.view().rfind(x == gate_action::rollback ? "fixed" : "not(fixed", 0) == 0);
  }
}

TEST_CASE("gates: combined reasons say which member decided", "[deploy][gates][combinators]") {
  const auto g = all_of(made(min_samples::make({.samples = 100})), sanity{},
                        made(significant::make({.alpha = 0.05})));
  // Held by min_samples: its reason, not the others'.
  evidence e = paired(50, 1.0, 0.8, 1.0, 0.001);
  decision d = g.evaluate(e);
  CHECK(d.action == gate_action::hold);
  CHECK(d.reason.view() == "min_samples: 50 of 100 samples");
  // A broken prediction vetoes however good the rest looks.
  e.samples = 500;
  e.has_prediction = true;
  e.last_prediction = nan_v;
  d = g.evaluate(e);
  CHECK(d.action == gate_action::rollback);
  CHECK(d.reason.view() == "sanity: prediction nan not finite");
  // Everything passes: the reason lists every member.
  e.last_prediction = 1.0;
  d = g.evaluate(e);
  CHECK(d.action == gate_action::promote);
  CHECK(d.reason.view().rfind("min_samples: 500 of 100 samples; sanity: prediction 1 in", 0) == 0);
  CHECK(d.reason.view().find("; significant: sequential: p(better) = 0.001, p(worse) = 1") !=
        std::string_view::npos);
  // any_of lists why each member held.
  const auto h = any_of(made(min_samples::make({.samples = 1000})),
                        made(min_improvement::make({.relative = 0.5})));
  d = h.evaluate(e);
  CHECK(d.action == gate_action::hold);
  CHECK(d.reason.view().rfind("none promotes: min_samples: 500 of 1000 samples; "
                              "min_improvement: loss 0.8 vs 1",
                              0) == 0);
}

TEST_CASE("gates: every decision carries a reason and is idempotent", "[deploy][gates]") {
  const any_gate gates[] = {
      any_gate(min_samples{}),
      any_gate(min_improvement{}),
      any_gate(significant{}),
      any_gate(made(significant::make({.test = significance_test::paired_t}))),
      any_gate(no_regression{}),
      any_gate(sanity{}),
      any_gate(all_of(min_samples{}, significant{}, sanity{})),
      any_gate(any_of(min_improvement{}, not_(no_regression{}))),
  };
  const std::uint64_t seed = 20261204;
  INFO("seed " << seed);
  random_evidence gen{std::mt19937_64(seed)};
  for (int i = 0; i < 2000; ++i) {
    const evidence e = gen.next();
    for (const any_gate& g : gates) {
      const decision d1 = g.evaluate(e);
      const decision d2 = g.evaluate(e);
      REQUIRE_FALSE(d1.reason.empty());
      REQUIRE(g.action(e) == d1.action);  // the reasonless fast path agrees
      CHECK(d1.action == d2.action);
      CHECK(d1.reason.view() == d2.reason.view());
    }
  }
}

TEST_CASE("parse_gate: a described gate decides exactly like the same gate composed in C++",
          "[deploy][gates][parser]") {
  const auto parsed = parse_gate(
      " all_of( min_samples(samples = 400), sanity,\n"
      "   any_of(significant(alpha=0.01, test=paired_t), not_(no_regression(min_samples=100,"
      " max_relative_increase=0.2)), min_improvement(relative=0.1, absolute=0.01)))");
  REQUIRE(parsed.has_value());
  const auto composed = all_of(
      made(min_samples::make({.samples = 400})), sanity{},
      any_of(made(significant::make({.alpha = 0.01, .test = significance_test::paired_t})),
             not_(made(no_regression::make({.max_relative_increase = 0.2, .min_samples = 100}))),
             made(min_improvement::make({.relative = 0.1, .absolute = 0.01}))));
  const std::uint64_t seed = 77;
  INFO("seed " << seed);
  random_evidence gen{std::mt19937_64(seed)};
  int by_action[3] = {0, 0, 0};
  for (int i = 0; i < 3000; ++i) {
    const evidence e = gen.next();
    const decision a = parsed->evaluate(e);
    const decision b = composed.evaluate(e);
    REQUIRE(a.action == b.action);
    REQUIRE(a.reason.view() == b.reason.view());
    REQUIRE(parsed->action(e) == a.action);
    REQUIRE(composed.action(e) == a.action);
    ++by_action[static_cast<int>(a.action)];
  }
  // The comparison covered every answer, not just one.
  CHECK(by_action[0] > 0);
  CHECK(by_action[1] > 0);
  CHECK(by_action[2] > 0);
}

TEST_CASE("parse_gate: malformed descriptions are refused with the column and the cause",
          "[deploy][gates][parser]") {
  struct bad {
    const char* text;
    const char* message;
  };
  const bad cases[] = {
      {"", "gate description, column 1: expected a gate name"},
      {"min_sample",
       "gate description, column 1: unknown gate 'min_sample' (expected all_of, "
       "any_of, not_, min_samples, min_improvement, significant, no_regression "
       "or sanity)"},
      {"significant(alpah=0.1)",
       "gate description, column 13: significant has no option "
       "'alpah' (expected alpha, test or rollback_when_worse)"},
      {"significant(alpha=0.1x)",
       "gate description, column 13: alpha must be a number, got "
       "'0.1x'"},
      {"significant(test=bayes)",
       "gate description, column 13: test must be sequential or "
       "paired_t, got 'bayes'"},
      {"significant(alpha=1.5)", "gate description: significant: alpha must be in (0, 1), got 1.5"},
      {"min_samples(samples=-3)",
       "gate description, column 13: samples must be a whole number "
       ">= 0, got '-3'"},
      {"min_samples(samples=0)", "gate description: min_samples: samples must be >= 1, got 0"},
      {"sanity(check_range=yes)",
       "gate description, column 8: check_range must be true or "
       "false, got 'yes'"},
      {"min_samples(samples=1, samples=2)",
       "gate description, column 24: option 'samples' "
       "given twice"},
      {"not_(sanity, sanity)", "gate description, column 1: not_ takes exactly one gate, got 2"},
      {"all_of()", "gate description, column 8: expected a gate name"},
      {"all_of(sanity", "gate description, column 14: expected ',' or ')' in all_of"},
      {"sanity extra", "gate description, column 8: unexpected text after the gate"},
      {"min_samples(samples 3)", "gate description, column 21: expected '=' after samples"},
  };
  for (const bad& b : cases) {
    INFO("description: '" << b.text << "'");
    const auto g = parse_gate(b.text);
    REQUIRE_FALSE(g.has_value());
    CHECK(g.error().code == errc::invalid_argument);
    CHECK(g.error().message == b.message);
  }
  // Nesting is bounded, so hostile input cannot exhaust the stack.
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "not_(";
  deep += "sanity";
  for (int i = 0; i < 40; ++i) deep += ")";
  const auto g = parse_gate(deep);
  REQUIRE_FALSE(g.has_value());
  CHECK(g.error().message == "gate description, column 161: gates nested deeper than 32");
}

TEST_CASE("gates: evaluate allocates nothing", "[deploy][gates][alloc]") {
  if (!test::alloc_counting_available()) {
    WARN("allocation counting not available in this build (sanitizers)");
    return;
  }
  const auto g = all_of(min_samples{}, any_of(significant{}, not_(min_improvement{})), sanity{});
  const any_gate erased(g);
  const auto parsed = parse_gate(
      "all_of(min_samples, any_of(significant, not_(min_improvement)),"
      " sanity)");
  REQUIRE(parsed.has_value());
  evidence e = paired(2000, 1.0, 0.9, 0.5, 0.01);
  e.has_prediction = true;
  e.last_prediction = 3.0;
  std::uint64_t promotes = 0;
  test::alloc_scope scope;
  // 20000 calls per form: the path is the same on every call, and reasons are slow to
  // format in unoptimised builds.
  for (int i = 0; i < 20000; ++i) {
    e.samples = static_cast<std::uint64_t>(i);
    promotes += g.evaluate(e).action == gate_action::promote ? 1U : 0U;
    promotes += erased.evaluate(e).action == gate_action::promote ? 1U : 0U;
    promotes += parsed->evaluate(e).action == gate_action::promote ? 1U : 0U;
    promotes += decide(*parsed, e) == gate_action::promote ? 1U : 0U;
  }
  CHECK(scope.count() == 0);
  CHECK(promotes == 4 * (20000 - 1000));
}

TEST_CASE("evidence_collector: fills the paired fields and rejects non-finite losses",
          "[deploy][evidence]") {
  auto c = made(evidence_collector::make());
  evidence e;
  c.fill(e);
  CHECK(e.samples == 0);
  CHECK(std::isnan(e.diff_mean));
  CHECK(std::isnan(e.champion_loss));
  // Losses (champion, challenger): (3, 1), (5, 4), (4, 1) -> differences 2, 1, 3.
  REQUIRE(c.add(3, 1) == status::ok);
  REQUIRE(c.add(5, 4) == status::ok);
  CHECK(c.add(nan_v, 1) == status::non_finite_input);
  CHECK(c.add(1, inf_v) == status::non_finite_input);
  REQUIRE(c.add(4, 1) == status::ok);
  c.fill(e);
  CHECK(e.samples == 3);
  CHECK_THAT(e.champion_loss, WithinAbs(4.0, 1e-15));  // exact small sums
  CHECK_THAT(e.challenger_loss, WithinAbs(2.0, 1e-15));
  CHECK_THAT(e.diff_mean, WithinAbs(2.0, 1e-15));
  CHECK_THAT(e.diff_variance, WithinAbs(1.0, 1e-15));  // var(2, 1, 3), divisor n - 1
  CHECK(e.sequential_p == 1.0);                        // within the mSPRT's 30-sample burn-in
}

// Case C17 (handout): a gate that re-runs a fixed-level test after every batch promotes far
// more often than alpha when nothing changed. The sequential gate must stay at alpha.
// Schedule as in the case: both arms N(0, 1), a look after every 50 new samples per arm,
// 20 looks, alpha = 0.05, S = 2000 experiments per scenario, seed 12345 (std::mt19937_64,
// so the figures differ from the case's numpy stream; the bounds are what is checked).
TEST_CASE("gates: C17 sequential gate keeps its alpha when it looks after every batch",
          "[deploy][gates][C17]") {
  constexpr int experiments = 2000;
  constexpr int looks = 20;
  constexpr int batch = 50;
  const std::uint64_t seed = 12345;
  INFO("seed " << seed);
  const auto seq_gate = made(significant::make({.alpha = 0.05}));
  const auto naive_gate =
      made(significant::make({.alpha = 0.05, .test = significance_test::paired_t}));

  // Runs S experiments with the challenger's loss lower by `gain`; counts experiments in
  // which the gate declared a difference at some look (promote or rollback), and promotes.
  int rejected = 0;
  auto run = [&](double gain, const significant& g, int& declared, int& promoted) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z(0.0, 1.0);
    declared = 0;
    promoted = 0;
    for (int s = 0; s < experiments; ++s) {
      auto c = made(evidence_collector::make());
      bool done = false;
      for (int k = 0; k < looks; ++k) {
        for (int i = 0; i < batch; ++i) {
          const double champion = z(rng);
          const double challenger = z(rng) - gain;
          rejected += c.add(champion, challenger) == status::ok ? 0 : 1;
        }
        if (done) continue;  // keep the random stream aligned across scenarios
        evidence e;
        c.fill(e);
        const decision d = g.evaluate(e);
        if (d.action != gate_action::hold) {
          done = true;
          ++declared;
          if (d.action == gate_action::promote) ++promoted;
        }
      }
    }
  };

  int declared = 0;
  int promoted = 0;
  run(0.0, seq_gate, declared, promoted);
  const double fp_share = static_cast<double>(declared) / experiments;
  INFO("sequential gate, null: declared a difference in " << declared << " of " << experiments);
  // Bound from the case: alpha + 3 standard errors, SE = sqrt(0.05 * 0.95 / 2000) = 0.0049.
  CHECK(fp_share <= 0.065);

  run(0.3, seq_gate, declared, promoted);
  INFO("sequential gate, gain 0.3: promoted in " << promoted << " of " << experiments);
  CHECK(promoted >= 0.90 * experiments);  // the case's power requirement

  // The fault the case reports: a fixed-level t-test at every look. Measured here to show
  // the kind of fault is real in this set-up (the case's numpy reference gives 0.2475 for
  // Welch; the paired test on independent arms behaves the same).
  run(0.0, naive_gate, declared, promoted);
  INFO("naive paired t at every look, null: " << declared << " of " << experiments);
  CHECK(static_cast<double>(declared) / experiments > 0.15);
  CHECK(rejected == 0);
}

// --- degenerate evidence (issue 3 follow-up) ----------------------------------------------

TEST_CASE("significant: holds on evidence that is not a measurement", "[deploy][gates]") {
  const auto seq = significant::make({}).value();
  // Defect: sequential_p = -1 with samples = 0 and diff_mean = inf promoted.
  evidence e;
  e.samples = 0;
  e.diff_mean = inf_v;
  e.sequential_p = e.sequential_p_better = e.sequential_p_worse = -1.0;
  CHECK(seq.action(e) == gate_action::hold);
  CHECK(seq.evaluate(e).action == gate_action::hold);
  // p-values outside [0, 1] hold even with samples.
  for (const double p : {-1.0, -0.0001, 1.5, inf_v, -inf_v}) {
    evidence f = paired(500, 1.0, 0.5, 0.1, 0.001);
    f.sequential_p_better = p;
    CHECK(seq.action(f) == gate_action::hold);
    f = paired(500, 0.5, 1.0, 0.1, 0.001);
    f.sequential_p_worse = p;
    CHECK(seq.action(f) == gate_action::hold);
  }
  // The same evidence with real p-values still decides.
  CHECK(seq.action(paired(500, 1.0, 0.5, 0.1, 0.001)) == gate_action::promote);
  CHECK(seq.action(paired(500, 0.5, 1.0, 0.1, 0.001)) == gate_action::rollback);
  const std::string why(seq.evaluate(e).reason.view());
  CHECK(why.find("no samples") != std::string::npos);
}

TEST_CASE("significant: paired t on a rounding-level zero-variance difference holds",
          "[deploy][gates]") {
  const auto t = significant::make({.alpha = 0.05, .test = significance_test::paired_t}).value();
  // Defect: paired_t_test(2, 1e-300, 0) gave p = 0 and the gate promoted at n = 2.
  CHECK(t.action(paired(2, 1e-300, 0.0, 0.0)) == gate_action::hold);
  // Mean losses 1 and 1 - 1e-15: the difference is the rounding of the losses.
  CHECK(t.action(paired(50, 1.0, 1.0 - 1e-15, 0.0)) == gate_action::hold);
  // Distinct constant losses (0.5 vs 0.25, zero variance) are still infinitely significant.
  CHECK(t.action(paired(50, 0.5, 0.25, 0.0)) == gate_action::promote);
}

TEST_CASE("min_improvement: a gain that overflows holds with a reason", "[deploy][gates]") {
  // Defect: champion and challenger losses at -+DBL_MAX overflowed the gain to inf, and the
  // gate promoted with reason "inf%". Negative losses (log-likelihoods) stay accepted.
  constexpr double big = std::numeric_limits<double>::max();
  const auto g = min_improvement::make({}).value();
  for (const auto& [champion, challenger] : {std::pair{big, -big}, std::pair{-big, big}}) {
    const evidence e = paired(1000, champion, challenger, 1.0);
    CHECK(g.action(e) == gate_action::hold);
    const decision d = g.evaluate(e);
    CHECK(d.action == gate_action::hold);
    CHECK(std::string(d.reason.view()).find("overflows") != std::string::npos);
  }
  CHECK(g.action(paired(1000, -1.0, -2.0, 1.0)) == gate_action::promote);  // 100% gain
}
