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
#include <string>
#include <utility>
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

// dlib's headers call BLAS (Debian's build defines DLIB_USE_BLAS), so dlib is used only when
// the build found and linked it (LIVEFIT_BENCH_DLIB, set by benchmarks/CMakeLists.txt).
#if defined(LIVEFIT_BENCH_DLIB) && __has_include(<dlib/svm/rls.h>)
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

// Peak FLOP rate: independent chains of vector a = a * b + c (one FMA with -mfma, else a
// multiply and an add), enough to cover the latency of a step times the ports that execute
// it. The chains and b, c must all stay in registers: 16 with AVX-512's 32 vector registers,
// 12 with the 16 of SSE and AVX (16 chains there spilled to the stack and measured half the
// rate of a portable build, flattering every ratio against it).
template <class S>
double peak_flops_per_second() {
  typedef S vec __attribute__((vector_size(vector_bytes)));
  constexpr int lanes = vector_bytes / static_cast<int>(sizeof(S));
  constexpr int chains = vector_bytes >= 64 ? 16 : 12;
  vec acc[chains];
  // b and c are broadcast constants, so they stay in registers: built lane by lane they
  // were left on the stack and every FMA read b from memory, which measured the load ports
  // (about 2/3 of the FMA rate on an AVX-512 Xeon) instead of the FMA units.
  const vec b = vec{} + S(0.999999);
  const vec c = vec{} + S(1e-7);
  for (int k = 0; k < chains; ++k)
    for (int l = 0; l < lanes; ++l) acc[k][l] = S(k + 1);
  const long iters = 20000000;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const std::clock_t t0 = std::clock();
    // No barrier inside the loop: one would force acc through memory every iteration and
    // measure the load/store ports instead. The chains are kept alive by the use after it.
    // The step over the chains is unrolled at compile time: GCC 12 at -O2 keeps a loop over
    // them, and with it acc in memory (a load and a store per step).
    for (long i = 0; i < iters; ++i)
      [&]<int... k>(std::integer_sequence<int, k...>) {
        ((acc[k] = acc[k] * b + c), ...);
      }(std::make_integer_sequence<int, chains>{});
    const double s = cpu_seconds_since(t0);
    for (int k = 0; k < chains; ++k) benchmark::DoNotOptimize(acc[k]);
    best = std::max(best, 2.0 * lanes * chains * static_cast<double>(iters) / s);
  }
  return best;
}

// Makes v opaque to the optimiser without moving it: an empty asm statement that claims to
// read and write v in a floating-point register, so the chain below stays in that register.
// benchmark::DoNotOptimize would instead store v and reload it every step, and the store-to-load
// forwarding on the chain would be measured too (about 2.5 times an FMA latency).
inline void opaque_in_register(double& v) {
#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))
  asm volatile("" : "+x"(v));
#elif defined(__aarch64__)
  asm volatile("" : "+w"(v));
#else
  // No register constraint known for this target: the memory round trip stays in the chain,
  // so the floor (and every x_limit against it) is lenient here.
  benchmark::DoNotOptimize(v);
#endif
}

// Latency of one dependent scalar FMA (a multiply-add chain), in seconds. With -mfma each step
// is one fused instruction; without, it is a multiply then an add, the chain the RLS kernels
// have on such a target as well.
double fma_latency_seconds() {
  double a = 1.0;
  const double b = 0.9999999, c = 1e-9;  // a tends to c / (1 - b) = 1e-2: no subnormals
  const long iters = 20000000;
  double best = 1.0;
  for (int rep = 0; rep < 5; ++rep) {
    const std::clock_t t0 = std::clock();
    for (long i = 0; i < iters; ++i) {
#if defined(__FMA__)
      a = std::fma(a, b, c);
#else
      a = a * b + c;
#endif
      opaque_in_register(a);
    }
    const double s = cpu_seconds_since(t0);
    best = std::min(best, s / static_cast<double>(iters));
  }
  benchmark::DoNotOptimize(a);
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

// Two independent models updated in turn, one update each per iteration (time per update
// = the reported time / 2). Against BM_Rls_update it shows how much of one update's time is
// the chain from one update to the next: independent chains overlap here.
template <class S, int D>
void BM_RlsPair_update(benchmark::State& state) {
  auto a = livefit::rls<S, D>::make({0.99, 1e-2, 0, 0}, D).value();
  auto b = a;
  const input_pool<S, D> in(D);
  unsigned i = 0;
  for (auto _ : state) {
    const auto sa = a.update(in.x[i % pool_size], in.y[i % pool_size]);
    const auto sb = b.update(in.x[(i + 7) % pool_size], in.y[(i + 7) % pool_size]);
    benchmark::DoNotOptimize(sa);
    benchmark::DoNotOptimize(sb);
    ++i;
  }
  state.SetItemsProcessed(2 * state.iterations());
  if (!a.coefficients().allFinite() || !b.coefficients().allFinite())
    state.SkipWithError("non-finite coefficients");
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

// Block against sequential updates, on the same rows in the same order: iteration j of
// BM_RlsBlock_update folds rows [j k, j k + k) (mod pool_size) of the pool in with one
// update_block call, iteration j of BM_RlsSeq_update folds the same rows in with k update
// calls. Both models have the same options; both report rows per second and time_per_row.
//
// The blocks cycle through the whole pool rather than repeat the first k rows: k < d rows
// repeated leave d - k directions unexcited, P grows there by 1 / lambda a row up to the trace
// bound (1e3 d / ridge), and with cond(P) near 1e10 float refuses nearly every update after
// about 700 rows (double runs on at the bound). Cycling keeps trace(P) near 1. A refused
// update skips work and would flatter the timing, so any refusal fails the benchmark.
template <class S, int D>
auto make_block_model(long k,
                      livefit::rls_block_method how = livefit::rls_block_method::automatic) {
  return livefit::rls<S, D>::make({0.99, 1e-2, 0, k, how}, D).value();
}

void report_rows(benchmark::State& state, long k, long refused, bool finite) {
  state.SetItemsProcessed(state.iterations() * k);
  // An inverted rate, processor time / (iterations * k): seconds per row (printed in ns or us).
  state.counters["time_per_row"] =
      benchmark::Counter(static_cast<double>(k), benchmark::Counter::kIsIterationInvariantRate |
                                                     benchmark::Counter::kInvert);
  if (refused != 0) {
    const std::string msg = std::to_string(refused) + " refused updates (non-ok status)";
    state.SkipWithError(msg.c_str());
  } else if (!finite) {
    state.SkipWithError("non-finite coefficients");
  }
}

// BM_RlsBlock_update with the method automatic picks for the build; BM_RlsBlockRows_update
// and BM_RlsBlockKernels_update force one (rls_block_method).
template <class S, int D, livefit::rls_block_method How = livefit::rls_block_method::automatic>
void BM_RlsBlock_update(benchmark::State& state) {
  const long k = state.range(0);
  auto m = make_block_model<S, D>(k, How);
  const input_pool<S, D> in(D);
  const long blocks = pool_size / k;  // k divides pool_size
  std::vector<Eigen::Matrix<S, Eigen::Dynamic, D>> X(static_cast<std::size_t>(blocks));
  std::vector<Eigen::Matrix<S, Eigen::Dynamic, 1>> y(X.size());
  for (std::size_t b = 0; b < X.size(); ++b) {
    X[b].resize(k, D);
    y[b].resize(k);
    for (long r = 0; r < k; ++r) {
      const std::size_t row = b * static_cast<std::size_t>(k) + static_cast<std::size_t>(r);
      X[b].row(r) = in.x[row].transpose();
      y[b](r) = in.y[row];
    }
  }
  std::size_t b = 0;
  long refused = 0;
  for (auto _ : state) {
    const auto st = m.update_block(X[b], y[b]);
    refused += st != livefit::status::ok;
    if (++b == X.size()) b = 0;
  }
  report_rows(state, k, refused, m.coefficients().allFinite());
}

template <class S, int D>
void BM_RlsSeq_update(benchmark::State& state) {
  const long k = state.range(0);
  auto m = make_block_model<S, D>(k);
  const input_pool<S, D> in(D);
  const std::size_t rows = static_cast<std::size_t>(k);
  std::size_t first = 0;
  long refused = 0;
  for (auto _ : state) {
    for (std::size_t r = first; r < first + rows; ++r) {
      const auto st = m.update(in.x[r], in.y[r]);
      refused += st != livefit::status::ok;
    }
    first += rows;
    if (first == in.x.size()) first = 0;
  }
  report_rows(state, k, refused, m.coefficients().allFinite());
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
// dlib::rls(forget_factor, C, apply_forget_factor_to_C). In dlib's train(), R is the matrix
// P of RLS and starts at C * I, so C = 1 / ridge = 100 gives our prior P0 = I / ridge. With
// apply_forget_factor_to_C = true the prior is decayed by the forgetting factor like the data,
// the exponentially weighted ridge problem livefit::rls solves; with the default (false) dlib
// instead adds (1 - lambda) / C * I back to P's inverse at every step, a different problem
// whose step is d rank-1 updates of P (O(d^3)).
template <int D>
void BM_Dlib_update(benchmark::State& state) {
  constexpr double lambda = 0.99, ridge = 1e-2;
  dlib::rls filter(lambda, 1.0 / ridge, true);
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
  const auto& w = filter.get_w();
  for (long j = 0; j < w.size(); ++j)
    if (!std::isfinite(w(j))) {
      state.SkipWithError("non-finite coefficients");
      break;
    }
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
BENCHMARK_TEMPLATE(BM_RlsPair_update, double, 4);
BENCHMARK_TEMPLATE(BM_RlsPair_update, double, 8);
BENCHMARK_TEMPLATE(BM_RlsPair_update, double, 16);
BENCHMARK_TEMPLATE(BM_Rls_update, double, Eigen::Dynamic)->RangeMultiplier(2)->Range(4, 64);
BENCHMARK_TEMPLATE(BM_Rls_update, float, Eigen::Dynamic)->RangeMultiplier(2)->Range(4, 64);
// Block and sequential rows of one size are registered next to each other, so they run close
// in time and see the same load on a shared machine.
BENCHMARK_TEMPLATE(BM_RlsBlock_update, double, 4)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, double, 4)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, double, 8)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, double, 8)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, double, 16)->Arg(1)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, double, 16)->Arg(1)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, double, 32)->Arg(1)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, double, 32)->Arg(1)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, double, 64)->Arg(1)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, double, 64)->Arg(1)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, float, 4)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, float, 4)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, float, 8)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, float, 8)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, float, 16)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, float, 16)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, float, 32)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, float, 32)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlock_update, float, 64)->Arg(8)->Arg(32);
template <class S, int D>
void BM_RlsBlockRows_update(benchmark::State& state) {
  BM_RlsBlock_update<S, D, livefit::rls_block_method::rows>(state);
}
template <class S, int D>
void BM_RlsBlockKernels_update(benchmark::State& state) {
  BM_RlsBlock_update<S, D, livefit::rls_block_method::kernels>(state);
}
BENCHMARK_TEMPLATE(BM_RlsBlockRows_update, double, 16)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlockKernels_update, double, 16)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlockRows_update, double, 64)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsBlockKernels_update, double, 64)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_RlsSeq_update, float, 64)->Arg(8)->Arg(32);
BENCHMARK_TEMPLATE(BM_Nlms_update, double, 16);
BENCHMARK_TEMPLATE(BM_Nlms_update, double, 64);

BENCHMARK_MAIN();
