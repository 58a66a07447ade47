// Tests for livefit/pipeline: the observe() loop in its compile-time and run-time forms,
// update policies, drift actions, trials and promotions, bad input and allocations.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "livefit/deploy/gate_combinators.hpp"
#include "livefit/deploy/gates.hpp"
#include "livefit/deploy/lineage.hpp"
#include "livefit/deploy/registry.hpp"
#include "livefit/deploy/rollout.hpp"
#include "livefit/eval/page_hinkley.hpp"
#include "livefit/models/nlms.hpp"
#include "livefit/models/online_standardizer.hpp"
#include "livefit/models/rls.hpp"
#include "livefit/models/with_intercept.hpp"
#include "livefit/pipeline.hpp"

using namespace livefit;

namespace {

// Records events without allocating (fixed capacity; later events are only counted).
struct recording_sink {
  std::array<event, 256> events{};
  std::size_t count{0};
  void on_event(const event& e) noexcept {
    if (count < events.size()) events[count] = e;
    ++count;
  }
};

// A stream y = w(t).x + noise whose coefficients jump at `switch_every` samples, so that a
// short-memory challenger beats a long-memory champion after each jump.
template <int D>
struct regime_stream {
  explicit regime_stream(std::uint64_t seed, std::uint64_t switch_every = 1500)
      : rng(seed), every(switch_every) {
    draw();
  }
  void draw() {
    for (Eigen::Index i = 0; i < w.size(); ++i) w[i] = 3.0 * n01(rng);
  }
  sample<double, D> next(Eigen::Index dim = D) {
    if (t > 0 && t % every == 0) draw();
    sample<double, D> s;
    s.x.resize(dim);
    s.x[0] = 1.0;
    for (Eigen::Index i = 1; i < dim; ++i) s.x[i] = n01(rng);
    s.y = w.head(dim).dot(s.x.template cast<double>()) + 0.2 * n01(rng);
    s.time = static_cast<double>(t);
    s.key = t;
    s.has_key = true;
    ++t;
    return s;
  }
  std::mt19937_64 rng;
  std::normal_distribution<double> n01;
  std::uint64_t every;
  std::uint64_t t{0};
  // Eight coefficients drawn whatever the dimension, so that fixed and dynamic streams of one
  // seed draw the same numbers.
  Eigen::Matrix<double, 8, 1> w = Eigen::Matrix<double, 8, 1>::Zero();
};

using promotion_gate = all_of<sanity, min_samples, min_improvement, significant>;

promotion_gate make_gate() {
  return all_of(sanity::make({}).value(), min_samples::make({.samples = 50}).value(),
                min_improvement::make({.relative = 0.05}).value(),
                significant::make({.alpha = 0.05, .rollback_when_worse = false}).value());
}

canary_options canary_steps() { return {.steps = {{0.1, 40}, {0.5, 40}}}; }

page_hinkley make_detector() {
  // Losses here are |noise| ~ 0.16 in a stable regime and several units after a jump.
  return page_hinkley::make({.delta = 0.2, .lambda = 30.0, .min_samples = 30}).value();
}

pipeline_options base_options() {
  pipeline_options o;
  o.warmup = 100;
  o.policy.on_drift = drift_action::reseed;
  return o;
}

template <class Model>
std::vector<Model> rls_family(Eigen::Index dim) {
  std::vector<Model> ms;
  for (double lam : {0.9995, 0.99, 0.97})
    ms.push_back(Model::make({.forgetting_factor = lam, .ridge = 1e-3}, dim).value());
  return ms;
}

}  // namespace

TEST_CASE("pipeline: compile-time and run-time forms agree sample by sample",
          "[pipeline][pipeline]") {
  constexpr std::uint64_t seed = 20261204;
  INFO("seed " << seed);
  using fixed_model = rls<double, 4>;
  using static_pipe = pipeline<fixed_model, page_hinkley, promotion_gate, canary_rollout<>,
                               identity_transform, recording_sink>;
  auto a = static_pipe::make(base_options(), rls_family<fixed_model>(4), make_detector(),
                             make_gate(), canary_rollout<>::make(canary_steps()).value());
  REQUIRE(a.has_value());

  // The same components, erased: dynamic sizes, virtual calls at the component boundary.
  std::vector<any_regressor<double>> models;
  for (auto& m : rls_family<rls<double>>(4)) models.emplace_back(std::move(m));
  auto b = dynamic_pipeline<double, recording_sink>::make(
      base_options(), models, any_detector(make_detector()), any_gate(make_gate()),
      any_rollout(canary_rollout<any_gate>::make(canary_steps(), any_gate(default_rollout_gate{}))
                      .value()));
  REQUIRE(b.has_value());

  regime_stream<4> sa(seed);
  regime_stream<Eigen::Dynamic> sb(seed);
  for (int i = 0; i < 9000; ++i) {
    observation oa, ob;
    REQUIRE(a->observe(sa.next(), oa) == status::ok);
    REQUIRE(b->observe(sb.next(4), ob) == status::ok);
    // Same arithmetic in the same order: bit-identical, not merely close, where Eigen sums
    // a fixed- and a dynamic-size 4-vector alike (SSE2, the portable build). With AVX and
    // wider, Eigen's dot of a fixed-size 4-vector uses a 4-lane packet and that of a
    // dynamic one scalar steps (models/rls.hpp, LIMITATION at predict; other sizes differ
    // in SSE2 too): predictions then differ by rounding (1e-12 relative bounds a few eps of
    // these sums), and every decision below must still agree.
#if defined(EIGEN_VECTORIZE_AVX)
    REQUIRE(std::abs(oa.prediction - ob.prediction) <= 1e-12 * (1.0 + std::abs(oa.prediction)));
#else
    REQUIRE(oa.prediction == ob.prediction);
#endif
    REQUIRE(oa.model == ob.model);
    REQUIRE(oa.version == ob.version);
    REQUIRE(oa.canary == ob.canary);
  }
  const recording_sink& ea = a->sink();
  const recording_sink& eb = b->sink();
  REQUIRE(ea.count == eb.count);
  for (std::size_t i = 0; i < std::min<std::size_t>(ea.count, ea.events.size()); ++i) {
    CHECK(ea.events[i].kind == eb.events[i].kind);
    CHECK(ea.events[i].sample_index == eb.events[i].sample_index);
    CHECK(ea.events[i].model == eb.events[i].model);
    CHECK(ea.events[i].reason.view() == eb.events[i].reason.view());
  }
  // The stream has 5 regime changes: the comparison must have covered a trial (after the
  // first change the fastest model wins and stays best) and drifts with re-seeding.
  CHECK(a->promotions() >= 1);
  CHECK(a->drifts() >= 2);
}

TEST_CASE("pipeline: observe() allocates nothing, promotions and drifts included",
          "[pipeline][alloc]") {
  if (!test::alloc_counting_available()) {
    WARN("allocation counting unavailable in this build (sanitizer): skipped");
    return;
  }
  constexpr std::uint64_t seed = 7;
  INFO("seed " << seed);
  using model = rls<double, 8>;
  auto p = pipeline<model, page_hinkley, promotion_gate, canary_rollout<>>::make(
      base_options(), rls_family<model>(8), make_detector(), make_gate(),
      canary_rollout<>::make(canary_steps()).value());
  REQUIRE(p.has_value());
  regime_stream<8> s(seed, 2000);
  std::vector<sample<double, 8>> stream;
  for (int i = 0; i < 60000; ++i) stream.push_back(s.next());
  for (std::size_t i = 0; i < 1000; ++i) REQUIRE(p->observe(stream[i]) == status::ok);
  const std::uint64_t promotions_before = p->promotions();
  const std::uint64_t drifts_before = p->drifts();
  std::size_t allocations = 0;
  {
    test::alloc_scope scope;
    for (std::size_t i = 1000; i < stream.size(); ++i) static_cast<void>(p->observe(stream[i]));
    allocations = scope.count();
  }
  CHECK(allocations == 0);
  // The counted stretch went through trials, promotions and drifts.
  CHECK(p->promotions() > promotions_before);
  CHECK(p->drifts() > drifts_before);
}

TEST_CASE("pipeline: bad input is refused and changes nothing", "[pipeline][input]") {
  std::vector<any_regressor<double>> models;
  for (auto& m : rls_family<rls<double>>(3)) models.emplace_back(std::move(m));
  auto p = dynamic_pipeline<double>::make(base_options(), models, any_detector(make_detector()),
                                          any_gate(make_gate()),
                                          any_rollout(immediate_rollout<>::make({}).value()));
  REQUIRE(p.has_value());
  regime_stream<Eigen::Dynamic> s(3);
  for (int i = 0; i < 400; ++i) REQUIRE(p->observe(s.next(3)) == status::ok);
  const auto before = *p;

  sample<double, Eigen::Dynamic> bad = s.next(3);
  const sample<double, Eigen::Dynamic> good = bad;
  bad.x[1] = std::nan("");
  CHECK(p->observe(bad) == status::non_finite_input);
  bad = good;
  bad.y = std::numeric_limits<double>::infinity();
  CHECK(p->observe(bad) == status::non_finite_input);
  bad = good;
  bad.time = 10.0;  // earlier than the 400 samples seen
  CHECK(p->observe(bad) == status::out_of_order);
  bad = good;
  bad.x.resize(4);
  bad.x.setOnes();
  CHECK(p->observe(bad) == status::dimension_mismatch);
  CHECK(p->samples() == before.samples());

  // The refused calls left no trace: both copies go on identically.
  auto copy = before;
  for (int i = 0; i < 300; ++i) {
    const auto x = i == 0 ? good : s.next(3);
    observation o1, o2;
    REQUIRE(p->observe(x, o1) == status::ok);
    REQUIRE(copy.observe(x, o2) == status::ok);
    REQUIRE(o1.prediction == o2.prediction);
  }
}

TEST_CASE("pipeline: update policies decide which samples the models learn from",
          "[pipeline][policy]") {
  using model = rls<double, 3>;
  auto build = [](update_policy pol) {
    pipeline_options o = base_options();
    o.policy = pol;
    return pipeline<model, page_hinkley, promotion_gate, canary_rollout<>>::make(
               o, rls_family<model>(3), make_detector(), make_gate(),
               canary_rollout<>::make(canary_steps()).value())
        .value();
  };
  regime_stream<3> s(11, 1000000);
  std::vector<sample<double, 3>> stream;
  for (int i = 0; i < 1000; ++i) stream.push_back(s.next());

  SECTION("every sample") {
    auto p = build({});
    for (const auto& x : stream) REQUIRE(p.observe(x) == status::ok);
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(p.model(i).samples_seen() == 1000);
  }
  SECTION("every n-th sample after the warm-up") {
    auto p = build({.schedule = update_schedule::every_n, .every_n = 7});
    for (const auto& x : stream) REQUIRE(p.observe(x) == status::ok);
    // 100 warm-up samples, then indices 101..1000 that are multiples of 7: 105..994 -> 128.
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(p.model(i).samples_seen() == 100 + 128);
  }
  SECTION("frozen: train once on the warm-up") {
    auto p = build({.schedule = update_schedule::frozen});
    for (std::size_t k = 0; k < 100; ++k) REQUIRE(p.observe(stream[k]) == status::ok);
    const Eigen::Vector3d w = p.model(0).coefficients();
    for (std::size_t k = 100; k < stream.size(); ++k) REQUIRE(p.observe(stream[k]) == status::ok);
    CHECK(p.model(0).samples_seen() == 100);
    CHECK(p.model(0).coefficients() == w);
  }
}

TEST_CASE("pipeline: a drift re-seeds or resets the challengers", "[pipeline][drift]") {
  using model = rls<double, 3>;
  for (drift_action act : {drift_action::reseed, drift_action::reset}) {
    INFO("action " << to_string(act));
    pipeline_options o = base_options();
    o.policy.on_drift = act;
    // A gate that never promotes keeps model 0 in production, so the drift is its own.
    auto never = min_samples::make({.samples = std::uint64_t{1} << 62}).value();
    auto p = pipeline<model, page_hinkley, min_samples, immediate_rollout<>, identity_transform,
                      recording_sink>::make(o, rls_family<model>(3), make_detector(), never,
                                            immediate_rollout<>::make({}).value())
                 .value();
    regime_stream<3> s(5, 800);
    std::uint64_t drift_at = 0;
    for (int i = 0; i < 1200 && drift_at == 0; ++i) {
      REQUIRE(p.observe(s.next()) == status::ok);
      if (p.drifts() > 0) drift_at = p.samples();
    }
    REQUIRE(drift_at > 800);  // the jump at sample 800 (index from 0) is detected after it
    const recording_sink& ev = p.sink();
    bool seen = false;
    for (std::size_t i = 0; i < ev.count; ++i) {
      if (ev.events[i].kind != event_kind::drift) continue;
      seen = true;
      CHECK(ev.events[i].sample_index == drift_at);
      CHECK(ev.events[i].reason.view().find(act == drift_action::reseed ? "re-seeded 2"
                                                                         : "reset 2") !=
            std::string_view::npos);
    }
    CHECK(seen);
    for (std::size_t i = 1; i < p.size(); ++i) {
      // Re-seeded: the production's sample count, plus the drift sample learnt afterwards.
      // Reset: only the drift sample.
      CHECK(p.model(i).samples_seen() ==
            (act == drift_action::reseed ? p.model(0).samples_seen() : 1));
    }
  }
}

TEST_CASE("pipeline: a better challenger goes through the canary and is published",
          "[pipeline][promotion]") {
  using model = rls<double, 3>;
  auto reg = registry<model>::make({}).value();
  auto p = pipeline<model, page_hinkley, promotion_gate, canary_rollout<>, identity_transform,
                    recording_sink, registry<model>>::make(base_options(), rls_family<model>(3),
                                                           make_detector(), make_gate(),
                                                           canary_rollout<>::make(canary_steps())
                                                               .value())
               .value();
  p.set_registry(&reg);
  regime_stream<3> s(9, 600);
  std::size_t canary_served = 0, trial_samples = 0;
  bool checked_fresh_trial = false;
  for (int i = 0; i < 1400; ++i) {
    observation o;
    const bool idle = p.candidate() == decltype(p)::none;
    REQUIRE(p.observe(s.next(), o) == status::ok);
    if (idle && p.candidate() != decltype(p)::none && !checked_fresh_trial) {
      // A trial is judged on its own samples: the evidence that started it is dropped.
      CHECK(p.evidence_for(p.candidate()).samples == 0);
      CHECK(p.evidence_for(p.candidate()).sequential_p == 1.0);
      checked_fresh_trial = true;
    }
    if (p.candidate() != decltype(p)::none || o.canary) {
      ++trial_samples;
      canary_served += o.canary ? 1 : 0;
    }
  }
  REQUIRE(p.promotions() >= 1);
  CHECK(checked_fresh_trial);
  CHECK(p.production() != 0);
  // The first publication (warm-up) and each promotion are registry versions.
  CHECK(reg.production_version() == p.version(p.production()));
  CHECK(reg.production_version() == 1 + p.promotions());
  // The canary served part of the trial samples, not all and not none.
  CHECK(canary_served > 0);
  CHECK(canary_served < trial_samples);

  // Order of the first promotion's events: decision, start, step, promotion.
  const recording_sink& ev = p.sink();
  std::vector<event_kind> kinds;
  for (std::size_t i = 0; i < ev.count && i < ev.events.size(); ++i)
    if (ev.events[i].kind != event_kind::drift && ev.events[i].kind != event_kind::drift_warning)
      kinds.push_back(ev.events[i].kind);
  REQUIRE(kinds.size() >= 5);
  CHECK(kinds[0] == event_kind::promoted);  // the initial version after the warm-up
  CHECK(kinds[1] == event_kind::gate_decision);
  CHECK(kinds[2] == event_kind::rollout_started);
  CHECK(kinds[3] == event_kind::rollout_step);
  CHECK(kinds[4] == event_kind::promoted);
}

TEST_CASE("pipeline: the canary's share of traffic follows its fraction and is sticky",
          "[pipeline][split]") {
  using model = rls<double, 3>;
  // A permanent canary at 25%: the trial gate holds forever once started.
  auto hold = min_samples::make({.samples = std::uint64_t{1} << 62}).value();
  auto start = min_samples::make({.samples = 10}).value();
  auto p = pipeline<model, no_detector, min_samples, canary_rollout<min_samples>>::make(
               base_options(), rls_family<model>(3), no_detector{}, start,
               canary_rollout<min_samples>::make({.steps = {{0.25, 1}}}, hold).value())
               .value();
  regime_stream<3> s(13);
  for (int i = 0; i < 200; ++i) REQUIRE(p.observe(s.next()) == status::ok);
  REQUIRE(p.candidate() != decltype(p)::none);
  std::size_t canary = 0;
  constexpr std::size_t n = 20000;
  std::vector<bool> arm(64);
  for (std::size_t i = 0; i < n; ++i) {
    auto x = s.next();
    x.key = i % 64;
    observation o;
    REQUIRE(p.observe(x, o) == status::ok);
    canary += o.canary ? 1 : 0;
    if (i >= 64) REQUIRE(arm[i % 64] == o.canary);  // sticky by key
    arm[i % 64] = o.canary;
  }
  // 64 keys: the share is a multiple of 1/64 near 0.25 (binomial sd of the key count 3.5).
  const double share = static_cast<double>(canary) / n;
  CHECK(share > 0.25 - 4 * 3.5 / 64);
  CHECK(share < 0.25 + 4 * 3.5 / 64);
}

TEST_CASE("pipeline: make() refuses inconsistent parts", "[pipeline][make]") {
  using model = rls<double>;
  auto ms = rls_family<model>(3);
  auto ro = immediate_rollout<>::make({}).value();
  using P = pipeline<model, no_detector, min_samples, immediate_rollout<>>;
  auto gate = min_samples::make({}).value();

  pipeline_options o;
  o.policy = {.schedule = update_schedule::every_n, .every_n = 0};
  auto r = P::make(o, ms, {}, gate, ro);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "pipeline: policy.every_n must be >= 1, got 0");

  auto odd = ms;
  odd.push_back(model::make({}, 4).value());
  r = P::make({}, odd, {}, gate, ro);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "pipeline: models[3] has dimension 4, models[0] has 3");

  r = P::make({}, {}, {}, gate, ro);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "pipeline: models must have 1 to 64 entries, got 0");

  r = P::make({}, ms, {}, gate, ro, {}, {}, {"a", "b"});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "pipeline: names must have one entry per model (3), got 2");

  auto started = ro;
  null_sink sink;
  started.start(evidence{}, sink);
  r = P::make({}, ms, {}, gate, started);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "pipeline: the rollout must be pending (not started)");
}

TEST_CASE("pipeline: any_regressor re-seeds only from its own type", "[pipeline][any]") {
  any_regressor<double> a(rls<double>::make({.forgetting_factor = 0.99}, 3).value());
  any_regressor<double> b(rls<double>::make({.forgetting_factor = 0.9}, 3).value());
  any_regressor<double> c(nlms<double>::make({}, 3).value());
  Eigen::Vector3d x(1.0, 2.0, -1.0);
  REQUIRE(a.update(x, 2.0) == status::ok);
  CHECK(b.seed_from(a) == status::ok);
  CHECK(b.predict(x) == a.predict(x));
  CHECK(c.seed_from(a) == status::invalid_argument);
  CHECK(a.model_type() == "livefit.rls");
  REQUIRE(a.target<rls<double>>() != nullptr);
  CHECK(a.target<rls<double>>()->options().forgetting_factor == 0.99);
  CHECK(c.target<rls<double>>() == nullptr);

  // Checkpoints carry the concrete type: an nlms state does not load into an rls wrapper.
  byte_writer w;
  c.save_state(w);
  byte_reader r(w.bytes());
  CHECK(a.load_state(r) == status::invalid_argument);
  byte_writer w2;
  a.save_state(w2);
  byte_reader r2(w2.bytes());
  CHECK(b.load_state(r2) == status::ok);
  CHECK(b.predict(x) == a.predict(x));
}

// A pipeline with online_standardizer in front of its models: the transform answers
// not_ready until it has seen min_samples vectors, and those vectors must reach it through
// observe() (before, observe() returned not_ready without letting the transform learn, so
// such a pipeline never became ready). Afterwards the models learn on standardised
// features; with_intercept supplies the constant the standardisation removes (x[0] = 1
// standardises to 0). Features 40 + 10 a and 0.01 b, y = 3 + 0.2 x1 + 50 x2 + noise 0.2.
// The training fingerprint covers the warm-up samples too: they trained the transform.
TEST_CASE("pipeline: a standardizer in front learns through its warm-up",
          "[pipeline][pipeline]") {
  using model = with_intercept<rls<double, 3>>;
  using std_t = online_standardizer<double, 3>;
  std::vector<model> ms;
  for (double lam : {0.999, 0.99})
    ms.push_back(model::make(rls_options{.forgetting_factor = lam, .ridge = 1e-3}, 3).value());
  auto p = pipeline<model, page_hinkley, promotion_gate, canary_rollout<>, std_t>::make(
               base_options(), ms, make_detector(), make_gate(),
               canary_rollout<>::make(canary_steps()).value(),
               std_t::make({.forgetting_factor = 1.0, .min_samples = 30}, 3).value())
               .value();
  std::mt19937_64 rng(12);
  std::normal_distribution<double> n01;
  double sq = 0.0;
  int scored = 0;
  livefit::sample_fingerprint all;  // every sample: the warm-up's trained the transform
  for (int i = 0; i < 3000; ++i) {
    sample<double, 3> s;
    s.x << 1.0, 40.0 + 10.0 * n01(rng), 0.01 * n01(rng);
    s.y = 3.0 + 0.2 * s.x[1] + 50.0 * s.x[2] + 0.2 * n01(rng);
    s.time = i;
    all.add(s.x, s.y);
    observation o;
    const status st = p.observe(s, o);
    if (i < 30) {
      REQUIRE(st == status::not_ready);
      REQUIRE(p.transform().samples_seen() == static_cast<std::uint64_t>(i + 1));
      REQUIRE(p.samples() == 0);
      continue;
    }
    REQUIRE(st == status::ok);
    if (i >= 2000) {
      const double err = o.prediction - (3.0 + 0.2 * s.x[1] + 50.0 * s.x[2]);
      sq += err * err;
      ++scored;
    }
  }
  CHECK(p.samples() == 2970);
  CHECK(p.model(0).samples_seen() == 2970);
  CHECK(p.fingerprint().samples() == 3000);
  CHECK(p.fingerprint().value() == all.value());
  // Time order holds across the warm-up too: a sample older than the last warm-up one is
  // out_of_order, and the transform does not learn from it.
  auto q = pipeline<model, page_hinkley, promotion_gate, canary_rollout<>, std_t>::make(
               base_options(), ms, make_detector(), make_gate(),
               canary_rollout<>::make(canary_steps()).value(),
               std_t::make({.forgetting_factor = 1.0, .min_samples = 3}, 3).value())
               .value();
  sample<double, 3> s;
  s.x << 1.0, 40.0, 0.0;
  s.y = 11.0;
  observation o;
  s.time = 100.0;
  REQUIRE(q.observe(s, o) == status::not_ready);
  s.time = 50.0;
  CHECK(q.observe(s, o) == status::out_of_order);
  CHECK(q.transform().samples_seen() == 1);
  // Served predictions against the noise-free target: the estimation error of a model with
  // a memory of 100 to 1000 samples at noise 0.2 is a few hundredths; 0.1 leaves room.
  const double rmse = std::sqrt(sq / scored);
  INFO("rmse against the noise-free target " << rmse);
  CHECK(rmse < 0.1);
}
