// Benchmarks of livefit/stats: the scalar EMA against a hand-written loop and the latency of
// one FMA per value; the many-series EMA against the memory bandwidth measured here; the
// running and rolling statistics.
//
// Build with -O3 -march=native -DNDEBUG; run with --benchmark_repetitions=7
// --benchmark_report_aggregates_only=true and compare ratios within one run.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <new>
#include <random>
#include <vector>

#include <Eigen/Core>
#include <benchmark/benchmark.h>

#include "livefit/stats.hpp"

namespace {

using livefit::ema;
using livefit::ema_options;
using livefit::status;

// Values in [0.5, 1.5): finite, so the library's checks always pass, and no denormals.
std::vector<double> series(std::size_t n) {
  std::mt19937_64 gen(42);
  std::uniform_real_distribution<double> dist(0.5, 1.5);
  std::vector<double> v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

constexpr std::size_t scalar_n = 1 << 20;  // 8 MiB: the chain, not memory, bounds these loops

// Baseline: the textbook update. Its chain is a subtract then an FMA (two latencies).
void BM_EmaBaseline_hand_loop(benchmark::State& state) {
  const std::vector<double> xs = series(scalar_n);
  const double a = 0.05;
  double s = xs[0];
  for (auto _ : state) {
    for (double x : xs) s += a * (x - s);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(xs.size()));
}
BENCHMARK(BM_EmaBaseline_hand_loop);

// Baseline and bound: one FMA on the chain (a*x is off the chain), i.e. FMA latency.
void BM_EmaBaseline_fma_chain(benchmark::State& state) {
  const std::vector<double> xs = series(scalar_n);
  const double a = 0.05;
  const double b = 1.0 - a;
  double s = xs[0];
  for (auto _ : state) {
    // std::fma, not b * s + a * x: in ISO mode (-std=c++20) GCC does not contract the
    // expression, and the baseline would measure a multiply and an add on the chain instead
    // of the one-FMA bound.
    for (double x : xs) s = std::fma(b, s, a * x);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(xs.size()));
}
BENCHMARK(BM_EmaBaseline_fma_chain);

enum mode : int {
  plain_first = 0,   // default options: start from the first observation
  plain_initial,     // start from a given value
  plain_warmup,      // warm-up count before ready()
  plain_missing,     // missing-value mode enabled (no gaps in the data)
  adjusted,          // pandas adjust=True: extra work per value (a division off the chain)
};

ema_options options_for(int m) {
  ema_options o;
  o.alpha = 0.05;
  if (m == plain_initial) o.initial_value = 1.0;
  if (m == plain_warmup) o.warmup = 100;
  if (m == plain_missing) o.missing = livefit::ema_missing::absolute;
  if (m == adjusted) o.adjust = true;
  return o;
}

void BM_Ema_update(benchmark::State& state) {
  const std::vector<double> xs = series(scalar_n);
  const int m = static_cast<int>(state.range(0));
  static const char* const labels[] = {"plain", "plain+initial", "plain+warmup",
                                       "plain+missing_mode", "adjusted"};
  state.SetLabel(labels[m]);
  ema<double> e = ema<double>::make(options_for(m)).value();
  bool ok = true;
  for (auto _ : state) {
    for (double x : xs) ok &= e.update(x) == status::ok;
    benchmark::DoNotOptimize(e.value());
  }
  if (!ok) state.SkipWithError("update failed");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(xs.size()));
}
BENCHMARK(BM_Ema_update)->DenseRange(plain_first, adjusted);

void BM_TimeEma_update(benchmark::State& state) {
  const std::vector<double> xs = series(scalar_n);
  livefit::time_ema_options o;
  o.halflife = 1000;
  auto e = livefit::time_ema<double>::make(o).value();
  std::int64_t t = 0;
  bool ok = true;
  for (auto _ : state) {
    for (double x : xs) ok &= e.update(t += 7, x) == status::ok;
    benchmark::DoNotOptimize(e.value());
  }
  if (!ok) state.SkipWithError("update failed");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(xs.size()));
}
BENCHMARK(BM_TimeEma_update);

// Streaming statistics per value: exponentially weighted variance, Welford, sliding window.
void BM_EwVariance_update(benchmark::State& state) {
  const std::vector<double> xs = series(scalar_n);
  livefit::ew_moments_options o;
  o.ema.alpha = 0.05;
  auto v = livefit::ew_variance<double>::make(o).value();
  bool ok = true;
  for (auto _ : state) {
    for (double x : xs) ok &= v.update(x) == status::ok;
    benchmark::DoNotOptimize(v.variance());
  }
  if (!ok) state.SkipWithError("update failed");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(xs.size()));
}
BENCHMARK(BM_EwVariance_update);

void BM_RunningStats_update(benchmark::State& state) {
  const std::vector<double> xs = series(scalar_n);
  auto s = livefit::running_stats<double>::make().value();
  bool ok = true;
  for (auto _ : state) {
    for (double x : xs) ok &= s.update(x) == status::ok;
    benchmark::DoNotOptimize(s.variance());
  }
  if (!ok) state.SkipWithError("update failed");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(xs.size()));
}
BENCHMARK(BM_RunningStats_update);

void BM_RollingWindow_update(benchmark::State& state) {
  const std::vector<double> xs = series(scalar_n);
  livefit::rolling_window_options o;
  o.capacity = static_cast<std::uint64_t>(state.range(0));
  auto w = livefit::rolling_window<double>::make(o).value();
  bool ok = true;
  for (auto _ : state) {
    for (double x : xs) ok &= w.update(x) == status::ok;
    benchmark::DoNotOptimize(w.variance());
    benchmark::DoNotOptimize(w.max());
  }
  if (!ok) state.SkipWithError("update failed");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(xs.size()));
}
BENCHMARK(BM_RollingWindow_update)->Arg(16)->Arg(1024);

// A panel of `rows` time steps of 1024 series, row-major and 64-byte aligned (a row is one
// update's input). Freed with std::free.
struct panel {
  static constexpr Eigen::Index series = 1024;
  std::unique_ptr<double, decltype(&std::free)> data{nullptr, &std::free};
  Eigen::Index rows{0};

  explicit panel(Eigen::Index r) : rows(r) {
    const auto bytes = static_cast<std::size_t>(r * series) * sizeof(double);
    data.reset(static_cast<double*>(std::aligned_alloc(64, bytes)));
    if (!data) throw std::bad_alloc();
    std::mt19937_64 gen(7);
    std::uniform_real_distribution<double> dist(0.5, 1.5);
    for (Eigen::Index i = 0; i < r * series; ++i) data.get()[i] = dist(gen);
  }
  [[nodiscard]] Eigen::Map<const Eigen::VectorXd, Eigen::Aligned64> row(Eigen::Index t) const {
    return Eigen::Map<const Eigen::VectorXd, Eigen::Aligned64>(data.get() + t * series, series);
  }
  [[nodiscard]] std::int64_t bytes() const noexcept {
    return static_cast<std::int64_t>(rows * series) * static_cast<std::int64_t>(sizeof(double));
  }
};

// Rows per panel: 32 rows (256 KiB, resident in L2) or 16384 rows (128 MiB, from DRAM).
Eigen::Index rows_for(std::int64_t arg) { return arg == 0 ? 32 : 16384; }

// The bound for the streamed case: reading the panel once, as fast as this machine can. An
// integer XOR-reduction (which the compiler vectorises freely, unlike a floating-point sum)
// keeps the loop bound by the loads alone.
void BM_MemoryBandwidth_read(benchmark::State& state) {
  const panel p(rows_for(state.range(0)));
  const auto* words = reinterpret_cast<const std::uint64_t*>(p.data.get());
  const auto n = static_cast<std::size_t>(p.rows * panel::series);
  for (auto _ : state) {
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < n; ++i) acc ^= words[i];
    benchmark::DoNotOptimize(acc);
  }
  state.SetBytesProcessed(state.iterations() * p.bytes());
  state.SetItemsProcessed(state.iterations() * p.rows * panel::series);
}
BENCHMARK(BM_MemoryBandwidth_read)->Arg(0)->Arg(1);

// Baseline: the same update as a hand-written loop over raw pointers.
void BM_MultiEmaBaseline_hand_loop(benchmark::State& state) {
  const panel p(rows_for(state.range(0)));
  Eigen::VectorXd y = p.row(0);
  const double a = 0.05;
  const double b = 1.0 - a;
  for (auto _ : state) {
    for (Eigen::Index t = 0; t < p.rows; ++t) {
      const double* x = p.data.get() + t * panel::series;
      double* s = y.data();
      for (Eigen::Index j = 0; j < panel::series; ++j) s[j] = b * s[j] + a * x[j];
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * p.bytes());
  state.SetItemsProcessed(state.iterations() * p.rows * panel::series);
}
BENCHMARK(BM_MultiEmaBaseline_hand_loop)->Arg(0)->Arg(1);

void BM_MultiEma_update(benchmark::State& state) {
  const panel p(rows_for(state.range(0)));
  ema_options o;
  o.alpha = 0.05;
  const bool fixed = state.range(1) != 0;
  state.SetLabel(fixed ? "Dim=1024" : "Dynamic");
  bool ok = true;
  auto run = [&](auto& m) {
    for (auto _ : state) {
      for (Eigen::Index t = 0; t < p.rows; ++t) ok &= m.update(p.row(t)) == status::ok;
      benchmark::DoNotOptimize(m.value().data());
    }
  };
  if (fixed) {
    auto m = livefit::multi_ema<double, 1024>::make(o, panel::series).value();
    run(m);
  } else {
    auto m = livefit::multi_ema<double>::make(o, panel::series).value();
    run(m);
  }
  if (!ok) state.SkipWithError("update failed");
  state.SetBytesProcessed(state.iterations() * p.bytes());
  state.SetItemsProcessed(state.iterations() * p.rows * panel::series);
}
BENCHMARK(BM_MultiEma_update)->ArgsProduct({{0, 1}, {0, 1}});

// CPU time of the calling thread, in seconds.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The streamed panel through multi_ema and through the read-bandwidth loop, alternated
// within each iteration so that both see the same machine load (a shared host's memory
// bandwidth drifts between benchmarks). Counter `of_bandwidth` = read time / EMA time.
void BM_MultiEma_streamed_vs_read(benchmark::State& state) {
  const panel p(rows_for(1));
  ema_options o;
  o.alpha = 0.05;
  auto m = livefit::multi_ema<double>::make(o, panel::series).value();
  const auto* words = reinterpret_cast<const std::uint64_t*>(p.data.get());
  const auto n = static_cast<std::size_t>(p.rows * panel::series);
  double read_s = 0, ema_s = 0;
  bool ok = true;
  for (auto _ : state) {
    const double t0 = thread_seconds();
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < n; ++i) acc ^= words[i];
    benchmark::DoNotOptimize(acc);
    const double t1 = thread_seconds();
    for (Eigen::Index t = 0; t < p.rows; ++t) ok &= m.update(p.row(t)) == status::ok;
    benchmark::DoNotOptimize(m.value().data());
    const double t2 = thread_seconds();
    read_s += t1 - t0;
    ema_s += t2 - t1;
  }
  if (!ok) state.SkipWithError("update failed");
  state.counters["of_bandwidth"] = read_s / ema_s;
  state.counters["read_GBps"] =
      static_cast<double>(state.iterations()) * static_cast<double>(p.bytes()) / read_s / 1e9;
  state.counters["ema_GBps"] =
      static_cast<double>(state.iterations()) * static_cast<double>(p.bytes()) / ema_s / 1e9;
}
BENCHMARK(BM_MultiEma_streamed_vs_read);

}  // namespace

BENCHMARK_MAIN();
