// Benchmarks of livefit/deploy gates, rollouts, traffic split and A/B test: ns per call on the
// hot path, against a bare hand-written decision (same logic, no reason text) measured in the
// same binary, so the cost of auditable reasons and of type erasure shows as a ratio.
//
// Build with -O3 -DNDEBUG; run with --benchmark_repetitions=7
// --benchmark_report_aggregates_only=true and compare ratios within one run.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "livefit/deploy/ab_test.hpp"
#include "livefit/deploy/evidence_collector.hpp"
#include "livefit/deploy/gate_combinators.hpp"
#include "livefit/deploy/gate_parser.hpp"
#include "livefit/deploy/gates.hpp"
#include "livefit/deploy/rollout.hpp"
#include "livefit/deploy/traffic_split.hpp"

namespace {

using namespace livefit;

/// Evidence as a pipeline would fill it for a challenger about 10% better, p falling.
evidence sample_evidence(std::uint64_t n) {
  evidence e;
  e.samples = n;
  e.champion_loss = 1.0;
  e.challenger_loss = 0.9;
  e.diff_mean = 0.1;
  e.diff_variance = 0.5;
  e.sequential_p = 1.0 / (1.0 + static_cast<double>(n % 1000));
  e.has_prediction = true;
  e.last_prediction = 2.0;
  e.prediction_min = 0.0;
  e.prediction_max = 10.0;
  return e;
}

/// 4096 losses around 1, for the per-sample benchmarks.
std::vector<double> loss_table() {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<double> losses(4096);
  for (double& x : losses) x = 1.0 + z(rng);
  return losses;
}

/// The gate the benchmarks time: all_of(min_samples(500), sanity, significant(0.05)).
auto composed_gate() {
  return all_of(min_samples::make({.samples = 500}).value(), sanity{},
                significant::make({.alpha = 0.05}).value());
}

// Baseline: the same decision written by hand, without a reason.
void BM_GateBaseline_bare_logic(benchmark::State& state) {
  evidence e = sample_evidence(0);
  std::uint64_t n = 0;
  for (auto _ : state) {
    e.samples = ++n;
    e.sequential_p = 1.0 / (1.0 + static_cast<double>(n % 1000));
    benchmark::DoNotOptimize(e);
    const bool sane = e.coefficients_finite && std::isfinite(e.last_prediction) &&
                      e.last_prediction >= e.prediction_min &&
                      e.last_prediction <= e.prediction_max;
    const bool worse = e.sequential_p <= 0.05 && e.diff_mean < 0.0;
    const bool better = e.sequential_p <= 0.05 && e.diff_mean > 0.0;
    const int action = (!sane || worse) ? 2 : (e.samples >= 500 && better) ? 1 : 0;
    benchmark::DoNotOptimize(action);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GateBaseline_bare_logic);

/// Times evaluate() (with the reason) or, with Fast, decide() (the action only).
template <bool Fast, class G>
void run_gate(benchmark::State& state, const G& g) {
  evidence e = sample_evidence(0);
  std::uint64_t n = 0;
  for (auto _ : state) {
    e.samples = ++n;
    e.sequential_p = 1.0 / (1.0 + static_cast<double>(n % 1000));
    benchmark::DoNotOptimize(e);
    if constexpr (Fast) {
      gate_action a = decide(g, e);
      benchmark::DoNotOptimize(a);
    } else {
      decision d = g.evaluate(e);
      benchmark::DoNotOptimize(d);
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Gate_evaluate_min_samples(benchmark::State& state) {
  run_gate<false>(state, min_samples{});
}
BENCHMARK(BM_Gate_evaluate_min_samples);

void BM_Gate_evaluate_significant(benchmark::State& state) {
  run_gate<false>(state, significant{});
}
BENCHMARK(BM_Gate_evaluate_significant);

void BM_Gate_evaluate_paired_t(benchmark::State& state) {
  run_gate<false>(state, significant::make({.test = significance_test::paired_t}).value());
}
BENCHMARK(BM_Gate_evaluate_paired_t);

// The composed gate at compile time (no indirect call).
void BM_Gate_evaluate_all_of(benchmark::State& state) { run_gate<false>(state, composed_gate()); }
BENCHMARK(BM_Gate_evaluate_all_of);

// The same gate behind any_gate (one indirect call).
void BM_Gate_evaluate_any_gate(benchmark::State& state) {
  run_gate<false>(state, any_gate(composed_gate()));
}
BENCHMARK(BM_Gate_evaluate_any_gate);

// The same gate parsed from text (an indirect call per node).
void BM_Gate_evaluate_parsed(benchmark::State& state) {
  run_gate<false>(
      state,
      parse_gate("all_of(min_samples(samples=500), sanity, significant(alpha=0.05))").value());
}
BENCHMARK(BM_Gate_evaluate_parsed);

// The reasonless fast path (decide() / action()) that rollouts use on every sample.
void BM_Gate_action_all_of(benchmark::State& state) { run_gate<true>(state, composed_gate()); }
BENCHMARK(BM_Gate_action_all_of);

void BM_Gate_action_any_gate(benchmark::State& state) {
  run_gate<true>(state, any_gate(composed_gate()));
}
BENCHMARK(BM_Gate_action_any_gate);

void BM_Gate_action_parsed(benchmark::State& state) {
  run_gate<true>(
      state,
      parse_gate("all_of(min_samples(samples=500), sanity, significant(alpha=0.05))").value());
}
BENCHMARK(BM_Gate_action_parsed);

// One rollout step per sample: evidence collection, fill, canary observe (the pipeline's
// per-sample deployment cost during a trial). Long steps, so the canary stays running.
void BM_Canary_observe(benchmark::State& state) {
  auto c = canary_rollout<>::make({.steps = {{0.01, 1ULL << 40}}}).value();
  auto col = evidence_collector::make().value();
  const std::vector<double> losses = loss_table();
  evidence e;
  null_sink sink;
  c.start(e, sink);
  std::size_t i = 0;
  for (auto _ : state) {
    const double a = losses[i & 4095];
    const double b = losses[(i + 1) & 4095];
    ++i;
    benchmark::DoNotOptimize(col.add(a, b));
    col.fill(e);
    benchmark::DoNotOptimize(c.observe(e, sink));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Canary_observe);

// Baseline for the rollout: evidence collection and fill only.
void BM_CanaryBaseline_evidence_only(benchmark::State& state) {
  auto col = evidence_collector::make().value();
  const std::vector<double> losses = loss_table();
  evidence e;
  std::size_t i = 0;
  for (auto _ : state) {
    const double a = losses[i & 4095];
    const double b = losses[(i + 1) & 4095];
    ++i;
    benchmark::DoNotOptimize(col.add(a, b));
    col.fill(e);
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CanaryBaseline_evidence_only);

void BM_TrafficSplit_arm_u64(benchmark::State& state) {
  const auto s = traffic_split::make({.name = "exp-A", .weights = {0.5, 0.3, 0.2}}).value();
  std::uint64_t k = 0;
  for (auto _ : state) benchmark::DoNotOptimize(s.arm(++k));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrafficSplit_arm_u64);

// String keys of the form "user-<n>": the hash runs over every byte.
void BM_TrafficSplit_arm_string(benchmark::State& state) {
  const auto s = traffic_split::make({.name = "exp-A", .weights = {0.5, 0.3, 0.2}}).value();
  std::vector<std::string> keys;
  for (int i = 0; i < 4096; ++i) keys.push_back("user-" + std::to_string(i * 7919));
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(s.arm(keys[i++ & 4095]));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrafficSplit_arm_string);

void BM_TrafficSplit_in_canary_u64(benchmark::State& state) {
  const auto s = traffic_split::make({.name = "exp-A"}).value();
  std::uint64_t k = 0;
  for (auto _ : state) benchmark::DoNotOptimize(s.in_canary(++k, 0.05));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrafficSplit_in_canary_u64);

// Observations spread over the arms; arg = number of arms.
void BM_AbTest_observe(benchmark::State& state) {
  const auto arms = static_cast<std::size_t>(state.range(0));
  auto t = ab_test::make({.arms = arms}).value();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(t.observe(i % arms, static_cast<double>(i % 13)));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AbTest_observe)->Arg(2)->Arg(4);

}  // namespace

BENCHMARK_MAIN();
