// Benchmarks of livefit/eval: nanoseconds per sample of every metric, test update and drift
// detector, against a plain running mean (the floor: one add and one divide per sample)
// measured in the same binary. Inputs cycle through a precomputed buffer so that the random
// number generator is not timed.
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "livefit/eval.hpp"

namespace {

using namespace livefit;

constexpr std::size_t buffer_size = 4096;  // a power of two: index with a mask

/// A buffer of `buffer_size` values drawn by `draw(rng)` from a generator seeded with `seed`.
template <class Draw>
std::vector<double> make_buffer(std::uint64_t seed, Draw draw) {
  std::mt19937_64 rng(seed);
  std::vector<double> out(buffer_size);
  for (auto& x : out) x = draw(rng);
  return out;
}

/// Values ~ N(0, 1).
const std::vector<double>& normals() {
  static const auto v = make_buffer(42, [](std::mt19937_64& rng) {
    return std::normal_distribution<double>(0.0, 1.0)(rng);
  });
  return v;
}

/// 0/1 error indicators with rate 0.1.
const std::vector<double>& errors() {
  static const auto v = make_buffer(43, [](std::mt19937_64& rng) {
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.1 ? 1.0 : 0.0;
  });
  return v;
}

/// Values uniform in [0, 1] (ADWIN's range).
const std::vector<double>& uniforms() {
  static const auto v = make_buffer(44, [](std::mt19937_64& rng) {
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  });
  return v;
}

/// Runs `step(value)` once per iteration over the buffer and reports items per second. Each
/// step passes its object to DoNotOptimize so that the state updates cannot be dropped as
/// dead stores (without it paired_evidence "ran" at 0.85 ns per sample).
template <class Step>
void run(benchmark::State& state, const std::vector<double>& in, Step&& step) {
  std::size_t i = 0;
  for (auto _ : state) {
    step(in[i]);
    i = (i + 1) & (buffer_size - 1);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// --- baseline ------------------------------------------------------------------------------

void BM_RunningMean_add(benchmark::State& state) {
  double mean = 0.0;
  double n = 0.0;
  run(state, normals(), [&](double x) {
    n += 1.0;
    mean += (x - mean) / n;
    benchmark::DoNotOptimize(mean);
  });
}
BENCHMARK(BM_RunningMean_add);

// --- metrics -------------------------------------------------------------------------------

void regression(benchmark::State& state, averaging mode) {
  metrics_options o;
  o.mode = mode;
  auto m = regression_metrics::make(o).value();
  const auto& in = normals();
  run(state, in, [&](double x) {
    benchmark::DoNotOptimize(m.add(x, 0.5 * x));
    benchmark::DoNotOptimize(m);
  });
}
void BM_RegressionMetrics_cumulative(benchmark::State& s) { regression(s, averaging::cumulative); }
void BM_RegressionMetrics_exponential(benchmark::State& s) {
  regression(s, averaging::exponential);
}
void BM_RegressionMetrics_window(benchmark::State& s) { regression(s, averaging::window); }
BENCHMARK(BM_RegressionMetrics_cumulative);
BENCHMARK(BM_RegressionMetrics_exponential);
BENCHMARK(BM_RegressionMetrics_window);

void binary(benchmark::State& state, averaging mode) {
  metrics_options o;
  o.mode = mode;
  auto m = binary_metrics::make(o).value();
  const auto& in = uniforms();
  run(state, in, [&](double p) {
    benchmark::DoNotOptimize(m.add(p < 0.3 ? 1.0 : 0.0, p));
    benchmark::DoNotOptimize(m);
  });
}
void BM_BinaryMetrics_cumulative(benchmark::State& s) { binary(s, averaging::cumulative); }
void BM_BinaryMetrics_exponential(benchmark::State& s) { binary(s, averaging::exponential); }
void BM_BinaryMetrics_window(benchmark::State& s) { binary(s, averaging::window); }
BENCHMARK(BM_BinaryMetrics_cumulative);
BENCHMARK(BM_BinaryMetrics_exponential);
BENCHMARK(BM_BinaryMetrics_window);

// --- tests ---------------------------------------------------------------------------------

void BM_PairedEvidence_add(benchmark::State& state) {
  paired_evidence e;
  run(state, normals(), [&](double x) {
    benchmark::DoNotOptimize(e.add(1.0 + x, 1.0));
    benchmark::DoNotOptimize(e);
  });
}
BENCHMARK(BM_PairedEvidence_add);

void BM_PairedEvidence_addAndTest(benchmark::State& state) {
  paired_evidence e;
  run(state, normals(), [&](double x) {
    benchmark::DoNotOptimize(e.add(1.0 + x, 1.0));
    benchmark::DoNotOptimize(e.paired_t());
  });
}
BENCHMARK(BM_PairedEvidence_addAndTest);

void BM_Msprt_add(benchmark::State& state) {
  auto t = msprt::make({}).value();
  run(state, normals(), [&](double x) {
    benchmark::DoNotOptimize(t.add(x));
    benchmark::DoNotOptimize(t);
  });
}
BENCHMARK(BM_Msprt_add);

/// One Welch test from summaries, df growing with the argument (the continued fraction's
/// length grows like sqrt(df)).
void BM_WelchTTest_evaluate(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  run(state, normals(), [&](double x) {
    benchmark::DoNotOptimize(welch_t_test(0.1 * x, 1.0, n, 0.0, 1.2, n));
  });
}
BENCHMARK(BM_WelchTTest_evaluate)->Arg(10)->Arg(1000)->Arg(1000000);

// --- drift detectors -----------------------------------------------------------------------

template <class D>
void detector(benchmark::State& state, D d, const std::vector<double>& in) {
  run(state, in, [&](double x) {
    benchmark::DoNotOptimize(d.update(x));
    benchmark::DoNotOptimize(d);
  });
}

void BM_Cusum_update(benchmark::State& s) { detector(s, cusum::make({}).value(), normals()); }
BENCHMARK(BM_Cusum_update);

void BM_PageHinkley_update(benchmark::State& s) {
  page_hinkley_options o;
  o.delta = 0.5;
  o.lambda = 15.0;
  detector(s, page_hinkley::make(o).value(), normals());
}
BENCHMARK(BM_PageHinkley_update);

void BM_Ddm_update(benchmark::State& s) { detector(s, ddm::make({}).value(), errors()); }
BENCHMARK(BM_Ddm_update);

void BM_Eddm_update(benchmark::State& s) { detector(s, eddm::make({}).value(), errors()); }
BENCHMARK(BM_Eddm_update);

/// ADWIN, with the cut check every `clock` samples (the argument).
void BM_Adwin_update(benchmark::State& s) {
  adwin_options o;
  o.clock = static_cast<std::uint64_t>(s.range(0));
  detector(s, adwin::make(o).value(), uniforms());
}
BENCHMARK(BM_Adwin_update)->Arg(1)->Arg(32);

}  // namespace

BENCHMARK_MAIN();
