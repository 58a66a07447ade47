// Benchmarks of livefit/pipeline.
//
// BM_Pipeline_replay_flights/8: samples per second end to end on the 3-million-row flights
//   stream (gzip inflate, CSV parse, 8 features, observe() of a pipeline with an RLS champion,
//   two RLS challengers and a Page-Hinkley detector). Target: >= 2 M samples/s.
// BM_Pipeline_observe/8 against BM_HandLoop_models/8 and BM_HandLoop_same_work/8: the
//   pipeline's per-sample cost over the same three models called by hand (predict, update),
//   and over a hand loop doing all the pipeline's per-sample work (models, paired evidence
//   with its sequential test, detector, gate every 64 samples). Target: <= 1.1x.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "livefit/deploy/evidence_collector.hpp"
#include "livefit/deploy/gate_combinators.hpp"
#include "livefit/deploy/gates.hpp"
#include "livefit/deploy/rollout.hpp"
#include "livefit/eval/page_hinkley.hpp"
#include "livefit/models/rls.hpp"
#include "livefit/pipeline.hpp"

#if defined(LIVEFIT_REPLAY_AVAILABLE)
#include "csv_reader.hpp"
#include "features.hpp"
#endif

namespace {

using namespace livefit;

constexpr int dim = 8;
using model = rls<double, dim>;
using bench_gate = all_of<sanity, min_samples, min_improvement, significant>;
using bench_pipeline = pipeline<model, page_hinkley, bench_gate, canary_rollout<>>;

std::vector<model> three_models() {
  std::vector<model> ms;
  for (double lam : {0.9999, 0.999, 0.99})
    ms.push_back(model::make({.forgetting_factor = lam, .ridge = 1e-3}).value());
  return ms;
}

page_hinkley bench_detector() {
  // Losses in minutes of delay (flights) or units of noise (synthetic): thresholds wide
  // enough that the detector watches without firing every few samples.
  return page_hinkley::make({.delta = 10.0, .lambda = 5000.0}).value();
}

bench_gate make_bench_gate() {
  return all_of(sanity::make({}).value(), min_samples::make({.samples = 5000}).value(),
                min_improvement::make({.relative = 0.01}).value(),
                significant::make({.alpha = 0.01}).value());
}

bench_pipeline make_pipeline(bool fingerprint = false) {
  pipeline_options o;
  o.fingerprint = fingerprint;
  o.warmup = 1000;
  o.gate_interval = 64;
  o.policy.on_drift = drift_action::reseed;
  return bench_pipeline::make(o, three_models(), bench_detector(), make_bench_gate(),
                              canary_rollout<>::make({}).value())
      .value();
}

// Samples of a stationary linear stream, cycled by the in-memory benchmarks.
std::vector<sample<double, dim>> synthetic(std::size_t n) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> n01;
  Eigen::Matrix<double, dim, 1> w;
  for (int i = 0; i < dim; ++i) w[i] = n01(rng);
  std::vector<sample<double, dim>> out(n);
  for (std::size_t t = 0; t < n; ++t) {
    auto& s = out[t];
    s.x[0] = 1.0;
    for (int i = 1; i < dim; ++i) s.x[i] = n01(rng);
    s.y = w.dot(s.x) + n01(rng);
    s.key = t;
    s.has_key = true;
    s.time = 0.0;
  }
  return out;
}

// The synthetic samples all have time 0 (non-decreasing), so the cycled buffer is valid input.
void BM_Pipeline_observe(benchmark::State& state) {
  const auto data = synthetic(1 << 16);
  auto p = make_pipeline(state.range(1) != 0);
  std::size_t i = 0;
  for (auto _ : state) {
    observation o;
    benchmark::DoNotOptimize(p.observe(data[i], o));
    benchmark::DoNotOptimize(o.prediction);
    i = (i + 1) & (data.size() - 1);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["promotions"] = static_cast<double>(p.promotions());
  state.counters["withdrawals"] = static_cast<double>(p.withdrawals());
}
// Second argument: 1 with the lineage fingerprint of learnt samples (the default), 0 without.
BENCHMARK(BM_Pipeline_observe)->Args({dim, 0})->Args({dim, 1});

// The three models by hand: predict each, then update each.
void BM_HandLoop_models(benchmark::State& state) {
  const auto data = synthetic(1 << 16);
  auto ms = three_models();
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& s = data[i];
    double served = 0.0;
    for (std::size_t k = 0; k < ms.size(); ++k) {
      const double p = ms[k].predict(s.x);
      if (k == 0) served = p;
      benchmark::DoNotOptimize(p);
    }
    for (auto& m : ms) benchmark::DoNotOptimize(m.update(s.x, s.y));
    benchmark::DoNotOptimize(served);
    i = (i + 1) & (data.size() - 1);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_HandLoop_models)->Arg(dim);

// Everything the pipeline does per sample, written out by hand: predictions, losses, paired
// evidence and sequential test per challenger, the detector on the champion's loss, the
// gate every 64 samples, updates.
void BM_HandLoop_same_work(benchmark::State& state) {
  const auto data = synthetic(1 << 16);
  auto ms = three_models();
  auto det = bench_detector();
  const auto gate = make_bench_gate();
  std::vector<evidence_collector> ev(ms.size(), evidence_collector::make().value());
  std::size_t i = 0;
  std::uint64_t n = 0;
  std::array<double, 3> pred{}, loss{};
  for (auto _ : state) {
    const auto& s = data[i];
    for (std::size_t k = 0; k < ms.size(); ++k) pred[k] = ms[k].predict(s.x);
    benchmark::DoNotOptimize(pred[0]);
    if (++n > 1000) {
      for (std::size_t k = 0; k < ms.size(); ++k) loss[k] = std::fabs(s.y - pred[k]);
      for (std::size_t k = 1; k < ms.size(); ++k)
        benchmark::DoNotOptimize(ev[k].add(loss[0], loss[k]));
      benchmark::DoNotOptimize(det.update(loss[0]));
      if (n % 64 == 0) {
        evidence e;
        ev[1].fill(e);
        e.has_prediction = true;
        e.last_prediction = pred[1];
        benchmark::DoNotOptimize(gate.evaluate(e));
      }
    }
    for (auto& m : ms) benchmark::DoNotOptimize(m.update(s.x, s.y));
    i = (i + 1) & (data.size() - 1);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_HandLoop_same_work)->Arg(dim);

#if defined(LIVEFIT_REPLAY_AVAILABLE)

// The flights stream with 8 features: intercept, distance in thousands of miles, sin/cos of
// the hour of day (k = 1, 2), EMAs of the earlier delays (alpha 0.01 and 0.0002).
livefit::replay::stream_config flights_stream() {
  livefit::replay::stream_config sc;
  sc.file = std::string(LIVEFIT_DATA_DIR) + "/flights-us-2001-h1-3m.csv.gz";
  sc.target = "delay";
  sc.time.column = "date";
  sc.features.columns = {"distance"};
  sc.features.scales = {1e-3};
  sc.features.daily_harmonics = 2;
  sc.features.target_emas = {0.01, 0.0002};
  return sc;
}

// The flights stream end to end: inflate, parse, features, observe. One iteration is the
// whole file (3,000,000 rows).
void BM_Pipeline_replay_flights(benchmark::State& state) {
  using namespace livefit::replay;
  const livefit::replay::stream_config sc = flights_stream();
  const std::string& path = sc.file;
  std::uint64_t rows = 0;
  for (auto _ : state) {
    auto reader = csv_reader::open(path);
    if (!reader) {
      state.SkipWithError(reader.error().message.c_str());
      return;
    }
    auto decoder = stream_decoder::make(sc, *reader);
    if (!decoder || decoder->dim() != dim) {
      state.SkipWithError("flights features: not 8");
      return;
    }
    auto p = make_pipeline();
    sample<double, dim> s;
    error err;
    double mae = 0.0;
    std::uint64_t n = 0;
    while (reader->next() == csv_reader::read_status::row) {
      double y = 0.0;
      if (decoder->decode(*reader, s.x, y, s.time, err) != stream_decoder::outcome::sample)
        continue;
      s.y = y;
      s.key = n;
      s.has_key = true;
      observation o;
      if (p.observe(s, o) != status::ok) continue;
      mae += std::fabs(y - o.prediction);
      ++n;
    }
    rows += n;
    benchmark::DoNotOptimize(mae);
    state.counters["promotions"] = static_cast<double>(p.promotions());
    state.counters["drifts"] = static_cast<double>(p.drifts());
    state.counters["served_mae"] = mae / static_cast<double>(n);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(rows));
}
BENCHMARK(BM_Pipeline_replay_flights)->Arg(dim)->Unit(benchmark::kMillisecond)->Iterations(1);

// The same stream read and decoded only: the parsing share of the end-to-end figure.
void BM_Replay_parse_flights(benchmark::State& state) {
  using namespace livefit::replay;
  const livefit::replay::stream_config sc = flights_stream();
  const std::string& path = sc.file;
  std::uint64_t rows = 0;
  for (auto _ : state) {
    auto reader = csv_reader::open(path);
    if (!reader) {
      state.SkipWithError(reader.error().message.c_str());
      return;
    }
    auto decoder = stream_decoder::make(sc, *reader);
    Eigen::Matrix<double, dim, 1> x;
    double y = 0.0, t = 0.0, sum = 0.0;
    error err;
    while (reader->next() == csv_reader::read_status::row) {
      if (decoder->decode(*reader, x, y, t, err) == stream_decoder::outcome::sample) {
        sum += x[1] + y;
        ++rows;
      }
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(rows));
}
BENCHMARK(BM_Replay_parse_flights)->Arg(dim)->Unit(benchmark::kMillisecond)->Iterations(1);

#endif

}  // namespace

BENCHMARK_MAIN();
