// Benchmarks of the registry: read-path overhead against calling the model directly, publish
// cost, and readers' tail latency while a writer publishes continuously (reads-under-updates,
// as TF Serving's aspired_versions_manager_benchmark does).
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <Eigen/Core>

#include "livefit/deploy/registry.hpp"

namespace {

#if defined(__x86_64__) || defined(__i386__)
/// Time stamp counter, ordered after earlier instructions (rdtscp): cheap per-read timing.
inline std::uint64_t ticks_now() noexcept {
  unsigned aux = 0;
  return __rdtscp(&aux);
}
#else
inline std::uint64_t ticks_now() noexcept {
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}
#endif

/// A linear model whose predict is one dot product: the cheapest realistic model, so the
/// registry's own overhead shows rather than hides behind the model's work.
template <int D>
struct bench_model {
  using scalar_type = double;
  using vector_type = Eigen::Matrix<double, D, 1>;
  static constexpr std::string_view checkpoint_type = "livefit.bench.linear";
  vector_type w;
  explicit bench_model(double v) : w(vector_type::Constant(v)) {}
  [[nodiscard]] double predict(const vector_type& x) const noexcept { return w.dot(x); }
  [[nodiscard]] Eigen::Index dim() const noexcept { return D; }
  void save_state(livefit::byte_writer& out) const { out.put_matrix(w); }
  [[nodiscard]] livefit::status load_state(livefit::byte_reader& r) noexcept {
    return r.get_matrix(w) ? livefit::status::ok : livefit::status::invalid_argument;
  }
};

template <int D>
livefit::registry<bench_model<D>> make_registry() {
  livefit::registry_options o;
  o.keep_last = 4;
  o.keep_past_production = 4;  // bounded memory under continuous promotion
  auto r = livefit::registry<bench_model<D>>::make(o);
  auto& reg = r.value();
  (void)reg.promote(reg.publish(bench_model<D>(1.0)).value());
  return std::move(r).value();
}

/// Baseline: the model called directly, no registry.
template <int D>
void BM_Direct_predict(benchmark::State& state) {
  const bench_model<D> m(1.0);
  typename bench_model<D>::vector_type x = bench_model<D>::vector_type::Constant(0.5);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x);
    double y = m.predict(x);
    benchmark::DoNotOptimize(y);
  }
  state.SetItemsProcessed(state.iterations());
}

/// The read path: take a snapshot of production, predict, release.
template <int D>
void BM_Registry_read(benchmark::State& state) {
  auto reg = make_registry<D>();
  typename bench_model<D>::vector_type x = bench_model<D>::vector_type::Constant(0.5);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x);
    auto s = reg.read();
    double y = s->predict(x);
    benchmark::DoNotOptimize(y);
  }
  state.SetItemsProcessed(state.iterations());
}

/// Publish a version and promote it (the retention policy drops old versions as it goes).
template <int D>
void BM_Registry_publish(benchmark::State& state) {
  auto reg = make_registry<D>();
  double v = 2.0;
  for (auto _ : state) {
    auto id = reg.publish(bench_model<D>(v));
    auto ok = reg.promote(id.value());
    benchmark::DoNotOptimize(ok);
    v += 1.0;
  }
  state.SetItemsProcessed(state.iterations());
}

/// Readers' latency per read (snapshot + predict), with no writer (range(0) == 0) or a
/// writer publishing and promoting in a tight loop (== 1). Each timing covers range(1) reads
/// (1: one read, at the timer's resolution; 8: finer resolution, each figure the mean of 8
/// consecutive reads). Counters: p50, p99, p999 per read in ns (TSC ticks calibrated
/// against steady_clock over the run).
template <int D>
void BM_Registry_readLatency(benchmark::State& state) {
  auto reg = make_registry<D>();
  const bool writer_on = state.range(0) == 1;
  const std::int64_t batch = state.range(1);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> publishes{0};
  std::thread writer;
  if (writer_on)
    writer = std::thread([&] {
      double v = 2.0;
      while (!stop.load(std::memory_order_relaxed)) {
        (void)reg.promote(reg.publish(bench_model<D>(v)).value());
        v += 1.0;
        publishes.fetch_add(1, std::memory_order_relaxed);
      }
    });
  typename bench_model<D>::vector_type x = bench_model<D>::vector_type::Constant(0.5);
  std::vector<std::uint32_t> ticks;
  ticks.reserve(1u << 24);
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t c0 = ticks_now();
  for (auto _ : state) {
    const std::uint64_t a = ticks_now();
    for (std::int64_t k = 0; k < batch; ++k) {
      auto s = reg.read();
      double y = s->predict(x);
      benchmark::DoNotOptimize(y);
    }
    const std::uint64_t b = ticks_now();
    if (ticks.size() < ticks.capacity()) ticks.push_back(static_cast<std::uint32_t>(b - a));
  }
  const std::uint64_t c1 = ticks_now();
  const auto t1 = std::chrono::steady_clock::now();
  stop.store(true);
  if (writer.joinable()) writer.join();
  const double ns_per_tick =
      std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(c1 - c0);
  std::sort(ticks.begin(), ticks.end());
  auto pct = [&](double p) {
    if (ticks.empty()) return 0.0;
    const auto i = static_cast<std::size_t>(p * static_cast<double>(ticks.size() - 1));
    return static_cast<double>(ticks[i]) * ns_per_tick / static_cast<double>(batch);
  };
  state.counters["p50_ns"] = pct(0.50);
  state.counters["p99_ns"] = pct(0.99);
  state.counters["p999_ns"] = pct(0.999);
  state.counters["publishes"] = static_cast<double>(publishes.load());
  state.SetItemsProcessed(state.iterations() * batch);
}

}  // namespace

BENCHMARK_TEMPLATE(BM_Direct_predict, 8)->Name("BM_Direct_predict/8");
BENCHMARK_TEMPLATE(BM_Registry_read, 8)->Name("BM_Registry_read/8");
BENCHMARK_TEMPLATE(BM_Direct_predict, 32)->Name("BM_Direct_predict/32");
BENCHMARK_TEMPLATE(BM_Registry_read, 32)->Name("BM_Registry_read/32");
BENCHMARK_TEMPLATE(BM_Registry_publish, 8)->Name("BM_Registry_publish/8");
BENCHMARK_TEMPLATE(BM_Registry_readLatency, 8)
    ->Name("BM_Registry_readLatency/8")
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({0, 8})
    ->Args({1, 8})
    ->Iterations(2000000)
    ->UseRealTime();

BENCHMARK_MAIN();
