// Benchmarks of livefit/models: RLS update and predict against a textbook fixed-size Eigen RLS,
// dlib::rls when available, and the arithmetic limit of the machine measured in this binary.
//
// Every RLS update benchmark reports `x_limit`: its time per update over the limit
//   max(FLOPs(3d^2 + 7d + 2) / peak FLOP rate, latency floor),
// where the peak comes from an FMA micro-kernel (BM_PeakFma) run at start-up and the latency
// floor is (7 + ceil(log2 d)) dependent FMA latencies (28 + 4 ceil(log2 d) cycles at 4 cycles
// per FMA: two reductions, a division and an FMA on the chain between updates).
// Run: livefit_models_bench --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
// (the x_limit of the median row is the median ratio).
#include <algorithm>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>
// GCC 12 with -march=native (AVX-512) reports false positives inside Eigen 3.4's matrix-vector
// kernels (-Wmaybe-uninitialized, -Waggressive-loop-optimizations); they are silenced for
// Eigen's own code only, by including it first under these pragmas.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Waggressive-loop-optimizations"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#endif

#include "livefit/models/nlms.hpp"
#include "livefit/models/rls.hpp"

#if __has_include(<dlib/svm/rls.h>)
#include <dlib/svm/rls.h>
#define LIVEFIT_BENCH_HAVE_DLIB 1
#else
#define LIVEFIT_BENCH_HAVE_DLIB 0
#endif

namespace {

// ---- the arithmetic limit -------------------------------------------------------------------

#if defined(__AVX512F__)
constexpr int vector_bytes = 64;
#elif defined(__AVX__)
constexpr int vector_bytes = 32;
#else
constexpr int vector_bytes = 16;
#endif

// Processor time, not wall time: the machines running this are shared, and the benchmark
// library reports CPU time too, so the ratios compare like with like.
double cpu_seconds_since(std::clock_t t0) {
  return static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
}

// Peak FLOP rate: 16 independent chains of vector a = a * b + c (one FMA with -mfma, else a
// multiply and an add), enough to cover FMA latency times the number of FMA ports.
template <class S>
double peak_flops_per_second() {
  typedef S vec __attribute__((vector_size(vector_bytes)));
  constexpr int lanes = vector_bytes / static_cast<int>(sizeof(S));
  constexpr int chains = 16;
  vec acc[chains];
  vec b, c;
  for (int l = 0; l < lanes; ++l) {
    b[l] = S(0.999999);
    c[l] = S(1e-7);
  }
  for (int k = 0; k < chains; ++k)
    for (int l = 0; l < lanes; ++l) acc[k][l] = S(k + 1);
  const long iters = 20000000;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const std::clock_t t0 = std::clock();
    // No barrier inside the loop: one would force acc through memory every iteration and
    // measure the load/store ports instead. The chains are kept alive by the use after it.
    for (long i = 0; i < iters; ++i)
      for (int k = 0; k < chains; ++k) acc[k] = acc[k] * b + c;
    const double s = cpu_seconds_since(t0);
    for (int k = 0; k < chains; ++k) benchmark::DoNotOptimize(acc[k]);
    best = std::max(best, 2.0 * lanes * chains * static_cast<double>(iters) / s);
  }
  return best;
}

// Latency of one dependent scalar FMA (a multiply-add chain), in seconds.
double fma_latency_seconds() {
  double a = 1.0;
  const double b = 0.9999999, c = 1e-9;
  const long iters = 20000000;
  double best = 1.0;
  for (int rep = 0; rep < 5; ++rep) {
    const std::clock_t t0 = std::clock();
    for (long i = 0; i < iters; ++i) {
      a = a * b + c;
      benchmark::DoNotOptimize(a);
    }
    const double s = cpu_seconds_since(t0);
    best = std::min(best, s / static_cast<double>(iters));
  }
  return best;
}

struct machine_limit {
  double peak_double = 0, peak_float = 0, fma_latency = 0;
};

const machine_limit& limit() {
  static const machine_limit m{peak_flops_per_second<double>(), peak_flops_per_second<float>(),
                               fma_latency_seconds()};
  return m;
}

// The limit of one RLS update of dimension d, in seconds.
template <class S>
double update_limit_seconds(long dim) {
  const double d = static_cast<double>(dim);
  const double flops = 3.0 * d * d + 7.0 * d + 2.0;
  const double peak = std::is_same_v<S, float> ? limit().peak_float : limit().peak_double;
  const double log2d = std::ceil(std::log2(d));
  return std::max(flops / peak, (7.0 + log2d) * limit().fma_latency);
}

// Reports x_limit = processor time per iteration / limit, from the processor time of the
// whole timing loop (started by the caller just before it).
template <class S>
void report_ratio(benchmark::State& state, long d, std::clock_t loop_start) {
  const double per_iter = cpu_seconds_since(loop_start) / static_cast<double>(state.iterations());
  state.counters["x_limit"] = per_iter / update_limit_seconds<S>(d);
  state.counters["limit_ns"] = update_limit_seconds<S>(d) * 1e9;
  state.SetItemsProcessed(state.iterations());
}

void BM_PeakFma_double(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(limit());
  state.counters["GFLOPs"] = limit().peak_double * 1e-9;
  state.counters["fma_latency_ns"] = limit().fma_latency * 1e9;
}
BENCHMARK(BM_PeakFma_double)->Iterations(1);

void BM_PeakFma_float(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(limit());
  state.counters["GFLOPs"] = limit().peak_float * 1e-9;
}
BENCHMARK(BM_PeakFma_float)->Iterations(1);

// ---- inputs ---------------------------------------------------------------------------------

constexpr int pool_size = 256;  // cycled; small enough to stay in L1/L2 next to P

template <class S, int D>
struct input_pool {
  std::vector<Eigen::Matrix<S, D, 1>> x;
  std::vector<S> y;
  explicit input_pool(long d) {
    std::mt19937 rng(42);
    std::normal_distribution<S> N(S(0), S(1));
    for (int i = 0; i < pool_size; ++i) {
      Eigen::Matrix<S, D, 1> v(d);
      for (long j = 0; j < d; ++j) v(j) = N(rng);
      x.push_back(v);
      y.push_back(v.sum() * S(0.5) + N(rng));
    }
  }
};

// ---- livefit::rls ---------------------------------------------------------------------------

template <class S, int D>
void BM_Rls_update(benchmark::State& state) {
  const long d = D == Eigen::Dynamic ? static_cast<long>(state.range(0)) : D;
  auto m = livefit::rls<S, D>::make({0.99, 1e-2, 0, 0}, d).value();
  const input_pool<S, D> in(d);
  unsigned i = 0;
  const std::clock_t t0 = std::clock();
  for (auto _ : state) {
    const auto st = m.update(in.x[i % pool_size], in.y[i % pool_size]);
    benchmark::DoNotOptimize(st);
    ++i;
  }
  report_ratio<S>(state, d, t0);
  if (!m.coefficients().allFinite()) state.SkipWithError("non-finite coefficients");
}

template <class S, int D>
void BM_Rls_predict(benchmark::State& state) {
  const long d = D == Eigen::Dynamic ? static_cast<long>(state.range(0)) : D;
  auto m = livefit::rls<S, D>::make({0.99, 1e-2, 0, 0}, d).value();
  const input_pool<S, D> in(d);
  for (std::size_t k = 0; k < in.x.size(); ++k) static_cast<void>(m.update(in.x[k], in.y[k]));
  unsigned i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m.predict(in.x[i % pool_size]));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}

// The baseline of predict: a bare Eigen dot product with a coefficient vector.
template <class S, int D>
void BM_Dot(benchmark::State& state) {
  const long d = D == Eigen::Dynamic ? static_cast<long>(state.range(0)) : D;
  const input_pool<S, D> in(d);
  const Eigen::Matrix<S, D, 1> w = in.x[7];
  unsigned i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.dot(in.x[i % pool_size]));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}

template <class S, int D>
void BM_RlsBlock_update(benchmark::State& state) {
  const long d = D;
  const long k = state.range(0);
  auto m = livefit::rls<S, D>::make({0.99, 1e-2, 0, k}, d).value();
  const input_pool<S, D> in(d);
  Eigen::Matrix<S, Eigen::Dynamic, D> X(k, d);
  Eigen::Matrix<S, Eigen::Dynamic, 1> y(k);
  for (long r = 0; r < k; ++r) {
    X.row(r) = in.x[static_cast<std::size_t>(r)].transpose();
    y(r) = in.y[static_cast<std::size_t>(r)];
  }
  for (auto _ : state) {
    const auto st = m.update_block(X, y);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations() * k);
}

// ---- the textbook RLS baseline --------------------------------------------------------------

// The textbook exponentially weighted RLS (Haykin, table 9.1) in fixed-size Eigen, written as
// most code bases write it: k = P x / (lambda + x'P x); w += k e; P = (P - k x'P) / lambda.
// It loses symmetry and overflows after about 7e4 updates at lambda = 0.99, so the benchmark
// resets it to the prior every 2^15 updates (an amortised O(d^2 / 32768) per update).
template <class S, int D>
struct textbook_rls {
  Eigen::Matrix<S, D, D> P = Eigen::Matrix<S, D, D>::Identity() * S(100);
  Eigen::Matrix<S, D, 1> w = Eigen::Matrix<S, D, 1>::Zero();
  Eigen::Matrix<S, D, 1> g, k;
  S lambda = S(0.99);
  void update(const Eigen::Matrix<S, D, 1>& x, S y) {
    g.noalias() = P * x;
    k = g / (lambda + x.dot(g));
    w += k * (y - w.dot(x));
    P = (P - k * g.transpose()) / lambda;
  }
};

template <class S, int D>
void BM_Textbook_update(benchmark::State& state) {
  textbook_rls<S, D> m;
  const input_pool<S, D> in(D);
  unsigned i = 0;
  const std::clock_t t0 = std::clock();
  for (auto _ : state) {
    m.update(in.x[i % pool_size], in.y[i % pool_size]);
    benchmark::DoNotOptimize(m.w.data());
    if ((++i & 32767U) == 0) m = textbook_rls<S, D>{};
  }
  report_ratio<S>(state, D, t0);
}

// ---- dlib::rls ------------------------------------------------------------------------------

#if LIVEFIT_BENCH_HAVE_DLIB
template <int D>
void BM_Dlib_update(benchmark::State& state) {
  dlib::rls filter(0.99, 100.0);
  const input_pool<double, D> in(D);
  std::vector<dlib::matrix<double, 0, 1>> xs(pool_size);
  for (std::size_t k = 0; k < xs.size(); ++k) {
    xs[k].set_size(D);
    for (int j = 0; j < D; ++j) xs[k](j) = in.x[k](j);
  }
  unsigned i = 0;
  const std::clock_t t0 = std::clock();
  for (auto _ : state) {
    filter.train(xs[i % pool_size], in.y[i % pool_size]);
    ++i;
  }
  report_ratio<double>(state, D, t0);
}
BENCHMARK_TEMPLATE(BM_Dlib_update, 4);
BENCHMARK_TEMPLATE(BM_Dlib_update, 8);
BENCHMARK_TEMPLATE(BM_Dlib_update, 16);
BENCHMARK_TEMPLATE(BM_Dlib_update, 32);
BENCHMARK_TEMPLATE(BM_Dlib_update, 64);
#endif

// ---- NLMS -----------------------------------------------------------------------------------

template <class S, int D>
void BM_Nlms_update(benchmark::State& state) {
  auto m = livefit::nlms<S, D>::make({0.5, 1e-6}).value();
  const input_pool<S, D> in(D);
  unsigned i = 0;
  for (auto _ : state) {
    const auto st = m.update(in.x[i % pool_size], in.y[i % pool_size]);
    benchmark::DoNotOptimize(st);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

#define LIVEFIT_RLS_BENCH_SIZES(BM, S) \
  BENCHMARK_TEMPLATE(BM, S, 4);        \
  BENCHMARK_TEMPLATE(BM, S, 8);        \
  BENCHMARK_TEMPLATE(BM, S, 16);       \
  BENCHMARK_TEMPLATE(BM, S, 32);       \
  BENCHMARK_TEMPLATE(BM, S, 64)

LIVEFIT_RLS_BENCH_SIZES(BM_Rls_update, double);
LIVEFIT_RLS_BENCH_SIZES(BM_Rls_update, float);
LIVEFIT_RLS_BENCH_SIZES(BM_Textbook_update, double);
LIVEFIT_RLS_BENCH_SIZES(BM_Textbook_update, float);
LIVEFIT_RLS_BENCH_SIZES(BM_Rls_predict, double);
LIVEFIT_RLS_BENCH_SIZES(BM_Rls_predict, float);
LIVEFIT_RLS_BENCH_SIZES(BM_Dot, double);
LIVEFIT_RLS_BENCH_SIZES(BM_Dot, float);
BENCHMARK_TEMPLATE(BM_Rls_update, double, Eigen::Dynamic)->RangeMultiplier(2)->Range(4, 64);
BENCHMARK_TEMPLATE(BM_Rls_update, float, Eigen::Dynamic)->RangeMultiplier(2)->Range(4, 64);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, double, 16)->Arg(1)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, double, 64)->Arg(1)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_Nlms_update, double, 16);
BENCHMARK_TEMPLATE(BM_Nlms_update, double, 64);

BENCHMARK_MAIN();
