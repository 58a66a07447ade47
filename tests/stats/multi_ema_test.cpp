// Tests for livefit/stats/multi_ema.hpp and livefit/stats/time_ema.hpp: agreement with pandas
// (DataFrame.ewm, and ewm with times), sizes, rejection, checkpoints and allocation.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <Eigen/Core>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "state_bytes.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/stats/ema.hpp"
#include "livefit/stats/multi_ema.hpp"
#include "livefit/stats/time_ema.hpp"

using namespace livefit;

namespace {

static_assert(checkpointable<multi_ema<double, 3>>);
static_assert(checkpointable<multi_ema<float>>);
static_assert(checkpointable<time_ema<double>>);

using livefit::test::state_bytes;

// pandas 1.5.3, DataFrame of three series with whole-row gaps (NaN rows):
//   df.ewm(span=4, adjust=<a>, ignore_na=False).mean()
const double qnan = std::numeric_limits<double>::quiet_NaN();
const double rows[8][3] = {{1.0, -2.0, 100.0}, {2.5, -1.0, 101.0}, {qnan, qnan, qnan},
                           {0.5, 3.0, 99.5},   {4.0, 2.0, 98.0},   {qnan, qnan, qnan},
                           {qnan, qnan, qnan},    {-1.0, 0.25, 102.0}};
const double plain_last[3] = {0.12650717703349276, 0.615598086124402, 101.00267942583733};
const double plain_row3[3] = {1.0210526315789474, 0.8210526315789477, 99.92631578947369};
const double adjusted_last[3] = {0.05170471443892662, 0.6816807411880278, 101.0912560721721};
const double adjusted_row3[3] = {1.0253807106598984, 1.401015228426396, 99.91116751269034};

template <class M>
void run_panel(M& m, bool adjust) {
  using S = typename M::scalar_type;
  // Rounding only (see ema_test.cpp): a few ulp of the data's scale (100) per step.
  const double tol = sizeof(S) == 8 ? 1e-11 : 1e-4;
  for (int t = 0; t < 8; ++t) {
    if (std::isnan(rows[t][0])) {
      REQUIRE(m.skip() == status::ok);
      continue;
    }
    Eigen::Matrix<S, 3, 1> x;
    for (int j = 0; j < 3; ++j) x(j) = static_cast<S>(rows[t][j]);
    REQUIRE(m.update(x) == status::ok);
    if (t == 3)
      for (int j = 0; j < 3; ++j)
        CHECK_THAT(double(m.value()(j)), WithinAbs((adjust ? adjusted_row3 : plain_row3)[j], tol));
  }
  for (int j = 0; j < 3; ++j)
    CHECK_THAT(double(m.value()(j)), WithinAbs((adjust ? adjusted_last : plain_last)[j], tol));
}

}  // namespace

TEMPLATE_TEST_CASE("multi_ema: agrees with pandas DataFrame.ewm over row gaps",
                   "[stats][multi_ema]", float, double) {
  for (bool adjust : {false, true}) {
    INFO("adjust " << adjust);
    ema_options o;
    o.span = 4;
    o.adjust = adjust;
    o.missing = ema_missing::absolute;
    auto fixed = multi_ema<TestType, 3>::make(o);
    REQUIRE(fixed.has_value());
    run_panel(*fixed, adjust);
    auto dynamic = multi_ema<TestType>::make(o, 3);
    REQUIRE(dynamic.has_value());
    run_panel(*dynamic, adjust);
  }
}

TEST_CASE("multi_ema: each series equals a scalar ema of it", "[stats][multi_ema]") {
  // 37 series (not a multiple of any SIMD width, so the tail loop is covered too).
  ema_options o;
  o.alpha = 0.2;
  auto m = multi_ema<double>::make(o, 37).value();
  std::vector<ema<double>> singles(37, ema<double>::make(o).value());
  Eigen::VectorXd x(37);
  for (int t = 0; t < 200; ++t) {
    for (int j = 0; j < 37; ++j) x(j) = std::sin(0.1 * t + j) * (j + 1);
    REQUIRE(m.update(x) == status::ok);
    for (int j = 0; j < 37; ++j) REQUIRE(singles[std::size_t(j)].update(x(j)) == status::ok);
  }
  // Same weights, possibly fused differently: a few ulp at the data's scale (37).
  for (int j = 0; j < 37; ++j)
    CHECK_THAT(m.value()(j), WithinAbs(singles[std::size_t(j)].value(), 1e-13));
}

TEST_CASE("multi_ema: make() checks the dimension", "[stats][multi_ema]") {
  ema_options o;
  o.alpha = 0.5;
  auto zero = multi_ema<double>::make(o);  // a dynamic size must be given
  REQUIRE_FALSE(zero.has_value());
  CHECK(zero.error().message == "multi_ema: dim must be at least 1, got 0");
  auto wrong = multi_ema<double, 4>::make(o, 5);
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().message == "multi_ema: dim must be equal to Dim, got 5");
  o.alpha = 2;
  CHECK(multi_ema<double>::make(o, 3).error().message ==
        "multi_ema: alpha must be in (0, 1], got 2");
}

TEST_CASE("multi_ema: wrong size or a non-finite value leaves the state bit-identical",
          "[stats][multi_ema]") {
  ema_options o;
  o.span = 10;
  o.adjust = true;
  auto m = multi_ema<double>::make(o, 5).value();
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(5, 1, 5);
  REQUIRE(m.update(x) == status::ok);
  const std::vector<std::uint8_t> before = state_bytes(m);
  CHECK(m.update(Eigen::VectorXd::Ones(4)) == status::dimension_mismatch);
  for (int j = 0; j < 5; ++j)
    for (double bad : {qnan, std::numeric_limits<double>::infinity()}) {
      Eigen::VectorXd y = x;
      y(j) = bad;
      CHECK(m.update(y) == status::non_finite_input);
      // A strided view goes through Eigen's check rather than the contiguous one.
      Eigen::MatrixXd panel = y.transpose().replicate(2, 1);
      CHECK(m.update(panel.row(1).transpose()) == status::non_finite_input);
    }
  CHECK(m.skip() == status::invalid_argument);
  CHECK(state_bytes(m) == before);
  CHECK(m.count() == 1);
}

TEST_CASE("multi_ema: checkpoint round trip, a mismatched size is refused", "[stats][multi_ema]") {
  ema_options o;
  o.alpha = 0.25;
  auto a = multi_ema<float>::make(o, 6).value();
  for (int t = 0; t < 5; ++t)
    REQUIRE(a.update(Eigen::VectorXf::Constant(6, float(t))) == status::ok);
  byte_writer w;
  a.save_state(w);
  auto b = multi_ema<float>::make(o, 6).value();
  byte_reader r(w.bytes());
  REQUIRE(b.load_state(r) == status::ok);
  CHECK(r.done());
  CHECK(state_bytes(b) == w.bytes());
  auto c = multi_ema<float>::make(o, 7).value();
  const std::vector<std::uint8_t> c_before = state_bytes(c);
  byte_reader rc(w.bytes());
  CHECK(c.load_state(rc) == status::invalid_argument);
  CHECK(state_bytes(c) == c_before);
  // A NaN hidden in the stored values is refused before anything is written.
  std::vector<std::uint8_t> bad = w.bytes();
  const float q = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bad.data() + bad.size() - sizeof(float), &q, sizeof(float));
  auto d = multi_ema<float>::make(o, 6).value();
  const std::vector<std::uint8_t> d_before = state_bytes(d);
  byte_reader rd(bad);
  CHECK(d.load_state(rd) == status::invalid_argument);
  CHECK(state_bytes(d) == d_before);
}

TEST_CASE("multi_ema: updates of a dynamic-size panel allocate nothing", "[stats][multi_ema]") {
  if (!test::alloc_counting_available()) {
    WARN("allocation counting unavailable in this build (sanitizers): skipped");
    return;
  }
  ema_options o;
  o.span = 20;
  o.adjust = true;
  o.missing = ema_missing::relative;
  auto m = multi_ema<double>::make(o, 64).value();
  Eigen::MatrixXd panel = Eigen::MatrixXd::Random(64, 100);
  std::size_t allocations = 0;
  {
    test::alloc_scope scope;
    for (int t = 0; t < 100'000; ++t) {
      const status s = t % 50 == 0 ? m.skip() : m.update(panel.col(t % 100));
      if (s != status::ok) break;
    }
    allocations = scope.count();
  }
  CHECK(allocations == 0);
  CHECK(m.count() == 98'000);
}

namespace {

// pandas 1.5.3: pd.Series(xs).ewm(halflife='1500ms', times=pd.to_datetime(ts, unit='ms'))
//   .mean(); ts in ms, with repeated timestamps and a long gap.
const std::vector<std::int64_t> ts = {0, 250, 250, 1000, 1000, 1000, 4000, 4100, 60000, 60001};
const std::vector<double> txs = {2.0, 3.5, -1.0, 4.25, 0.5, 2.0, 8.0, 7.5, -3.0, 1.0};
const std::vector<double> twant = {2.0,
                                   2.793273582349889,
                                   1.4811302137333535,
                                   2.390693762611661,
                                   1.923183284133634,
                                   1.938412083643044,
                                   4.619292773392257,
                                   5.53121533754507,
                                   -2.9999999998370077,
                                   -0.9995379018254775};

}  // namespace

TEMPLATE_TEST_CASE("time_ema: agrees with pandas ewm(halflife, times).mean()",
                   "[stats][time_ema]", float, double) {
  // exp2 against pandas' 0.5**delta and a different division order: a few ulp at the data's
  // scale (8) per step; float's eps 1.2e-7 times that scale, with accumulation, under 1e-5.
  const double tol = sizeof(TestType) == 8 ? 1e-13 : 1e-5;
  for (std::int64_t epoch : {std::int64_t{0}, std::int64_t{1764806400000000000}}) {
    // The same instants in ms from 0, and in ns since 1970 (an epoch where a double cannot
    // hold every nanosecond: pandas itself drifts by 3e-8 there; ticks stay exact).
    const std::int64_t scale = epoch == 0 ? 1 : 1'000'000;
    time_ema_options o;
    o.halflife = 1500.0 * double(scale);
    auto e = time_ema<TestType>::make(o).value();
    for (std::size_t i = 0; i < ts.size(); ++i) {
      INFO("epoch " << epoch << " step " << i);
      REQUIRE(e.update(epoch + ts[i] * scale, static_cast<TestType>(txs[i])) == status::ok);
      CHECK_THAT(double(e.value()), WithinAbs(twant[i], tol));
    }
  }
}

TEST_CASE("time_ema: time going backwards and bad values change nothing", "[stats][time_ema]") {
  time_ema_options o;
  o.halflife = 10;
  o.warmup = 2;
  auto e = time_ema<double>::make(o).value();
  REQUIRE(e.update(100, 1.0) == status::ok);
  CHECK_FALSE(e.ready());
  REQUIRE(e.update(105, 3.0) == status::ok);
  CHECK(e.ready());
  const std::vector<std::uint8_t> before = state_bytes(e);
  CHECK(e.update(104, 2.0) == status::out_of_order);
  CHECK(e.update(110, qnan) == status::non_finite_input);
  CHECK(e.update(std::numeric_limits<std::int64_t>::min(), 2.0) == status::out_of_order);
  CHECK(state_bytes(e) == before);
  // Equal timestamps average with equal weight: two values at t = 105 after one at 100
  // (weight 2^(-1/2)): (2^-0.5 * 1 + 3 + 5) / (2^-0.5 + 2).
  REQUIRE(e.update(105, 5.0) == status::ok);
  const double w = std::exp2(-0.5);
  CHECK_THAT(e.value(), WithinRel((w * 1 + 3 + 5) / (w + 2), 1e-15));  // a few roundings
  // A step across the whole int64 range is exact in ticks and decays the past to nothing.
  auto f = time_ema<double>::make(o).value();
  REQUIRE(f.update(std::numeric_limits<std::int64_t>::min(), 1.0) == status::ok);
  REQUIRE(f.update(std::numeric_limits<std::int64_t>::max(), 7.0) == status::ok);
  CHECK(f.value() == 7.0);
}

TEST_CASE("time_ema: make() validation and checkpoint round trip", "[stats][time_ema]") {
  time_ema_options o;
  CHECK(time_ema<double>::make(o).error().message ==
        "time_ema: halflife must be in (0, inf), got 0");
  o.halflife = 3;
  o.warmup = 0;
  CHECK(time_ema<double>::make(o).error().message == "time_ema: warmup must be >= 1, got 0");
  o.warmup = 1;
  auto a = time_ema<double>::make(o).value();
  REQUIRE(a.update(5, 1.0) == status::ok);
  REQUIRE(a.update(9, 2.0) == status::ok);
  byte_writer w;
  a.save_state(w);
  auto b = time_ema<double>::make(o).value();
  byte_reader r(w.bytes());
  REQUIRE(b.load_state(r) == status::ok);
  CHECK(state_bytes(b) == w.bytes());
  CHECK(b.update(8, 1.0) == status::out_of_order);  // the restored clock is in force
  o.halflife = 4;
  auto c = time_ema<double>::make(o).value();
  byte_reader rc(w.bytes());
  CHECK(c.load_state(rc) == status::invalid_argument);
}

// --- overflow of finite input (issue 3 follow-up) ------------------------------------------

TEST_CASE("time_ema: an average that would overflow is refused, state unchanged",
          "[stats][time_ema][overflow]") {
  // Defect: repeated DBL_MAX gave value() = inf after 3 updates.
  constexpr double big = std::numeric_limits<double>::max();
  time_ema_options o;
  o.halflife = 10.0;
  auto e = time_ema<double>::make(o).value();
  bool refused = false;
  for (std::int64_t t = 0; t < 20; ++t) {
    const time_ema<double> before = e;
    const status s = e.update(3 * t, big);  // 3 ticks apart: the unguarded sum overflowed
    REQUIRE((s == status::ok || s == status::numerical_failure));
    REQUIRE(std::isfinite(e.value()));
    if (s == status::numerical_failure) {
      refused = true;
      CHECK(e.count() == before.count());
      CHECK(e.last_time() == before.last_time());
      CHECK(e.value() == before.value());
    }
  }
  CHECK(refused);  // the unguarded update reached inf here: the guard must have fired
}

TEST_CASE("multi_ema: an average that would overflow is refused, state unchanged",
          "[stats][multi_ema][overflow]") {
  constexpr double big = std::numeric_limits<double>::max();
  ema_options o;
  o.alpha = 0.7;
  o.adjust = true;
  auto e = multi_ema<double, 2>::make(o, 2).value();
  bool refused = false;
  for (int i = 0; i < 20; ++i) {
    const Eigen::Vector2d before = e.value();
    const std::uint64_t n = e.count();
    const status s = e.update(Eigen::Vector2d(1.0, big));
    REQUIRE((s == status::ok || s == status::numerical_failure));
    REQUIRE(e.value().allFinite());
    if (s == status::numerical_failure) {
      refused = true;
      CHECK(e.count() == n);
      CHECK(e.value() == before);
    }
  }
  CHECK(refused);
}
