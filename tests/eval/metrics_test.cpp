// Tests for livefit/eval/metrics.hpp: every form against a batch computation of the same
// weighted average written out in the test.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/eval/metrics.hpp"

using namespace livefit;

namespace {

struct batch {
  double mae, mse, r2;
};

/// Weighted batch metrics: weights w_i over (y_i, yhat_i), R^2 = 1 - MSE / Var_w(y).
batch weighted(const std::vector<double>& y, const std::vector<double>& yhat,
               const std::vector<double>& w) {
  double sw = 0, sa = 0, ss = 0, sy = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double e = y[i] - yhat[i];
    sw += w[i];
    sa += w[i] * std::fabs(e);
    ss += w[i] * e * e;
    sy += w[i] * y[i];
  }
  const double my = sy / sw;
  double sv = 0;
  for (std::size_t i = 0; i < y.size(); ++i) sv += w[i] * (y[i] - my) * (y[i] - my);
  return {sa / sw, ss / sw, 1.0 - (ss / sw) / (sv / sw)};
}

struct stream {
  std::vector<double> y, yhat;
};

stream make_stream(std::size_t n, double level, std::uint64_t seed) {
  std::printf("metrics stream: seed %llu, level %g\n", static_cast<unsigned long long>(seed),
              level);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  stream s;
  for (std::size_t i = 0; i < n; ++i) {
    const double truth = level + 2.0 * std::sin(0.01 * static_cast<double>(i));
    s.y.push_back(truth + z(rng));
    s.yhat.push_back(truth + 0.3 * z(rng));
  }
  return s;
}

}  // namespace

TEST_CASE("regression_metrics: cumulative equals the batch metrics", "[eval][metrics]") {
  const auto s = make_stream(5000, 3.0, 1);
  regression_metrics m;
  CHECK(m.mae() == 0.0);
  CHECK(m.r2() == 1.0);  // no data, no error: scikit-learn's force_finite convention
  for (std::size_t i = 0; i < s.y.size(); ++i) REQUIRE(m.add(s.y[i], s.yhat[i]) == status::ok);
  const auto ref = weighted(s.y, s.yhat, std::vector<double>(s.y.size(), 1.0));
  // 1e-12 relative: Welford-type recursions against two-pass sums over 5000 values.
  CHECK_THAT(m.mae(), WithinRel(ref.mae, 1e-12));
  CHECK_THAT(m.mse(), WithinRel(ref.mse, 1e-12));
  CHECK_THAT(m.rmse(), WithinRel(std::sqrt(ref.mse), 1e-12));
  CHECK_THAT(m.r2(), WithinRel(ref.r2, 1e-12));
  CHECK(m.count() == 5000);
}

TEST_CASE("regression_metrics: exponential equals the explicit bias-corrected weighted sum",
          "[eval][metrics]") {
  const auto s = make_stream(3000, -1.0, 2);
  metrics_options o;
  o.mode = averaging::exponential;
  o.half_life = 250.0;
  auto m = regression_metrics::make(o).value();
  for (std::size_t i = 0; i < s.y.size(); ++i) REQUIRE(m.add(s.y[i], s.yhat[i]) == status::ok);
  std::vector<double> w(s.y.size());
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = std::exp2(-static_cast<double>(w.size() - 1 - i) / 250.0);  // halves every 250
  const auto ref = weighted(s.y, s.yhat, w);
  // 1e-10 relative: 3000 recursive steps with decay 0.9972, each rounding once or twice.
  CHECK_THAT(m.mae(), WithinRel(ref.mae, 1e-10));
  CHECK_THAT(m.mse(), WithinRel(ref.mse, 1e-10));
  CHECK_THAT(m.r2(), WithinRel(ref.r2, 1e-10));
}

TEST_CASE("regression_metrics: window equals the batch metrics of the last N samples",
          "[eval][metrics]") {
  // A large level (1e6) makes the naive E[y^2] - E[y]^2 lose 12 digits: the shifted sums
  // must not. 200000 samples cover 400 refreshes of the running sums.
  const auto s = make_stream(200000, 1e6, 3);
  metrics_options o;
  o.mode = averaging::window;
  o.window = 500;
  auto m = regression_metrics::make(o).value();
  for (std::size_t i = 0; i < s.y.size(); ++i) {
    REQUIRE(m.add(s.y[i], s.yhat[i]) == status::ok);
    if (i == 299 || i == 100000 || i + 1 == s.y.size()) {
      const std::size_t n = std::min<std::size_t>(i + 1, 500);
      const std::vector<double> y(s.y.begin() + static_cast<long>(i + 1 - n),
                                  s.y.begin() + static_cast<long>(i + 1));
      const std::vector<double> yhat(s.yhat.begin() + static_cast<long>(i + 1 - n),
                                     s.yhat.begin() + static_cast<long>(i + 1));
      const auto ref = weighted(y, yhat, std::vector<double>(n, 1.0));
      INFO("after sample " << i);
      CHECK(m.size() == n);
      // 1e-9 relative: sums over <= 1000 additions and removals of values near 1e6.
      CHECK_THAT(m.mae(), WithinRel(ref.mae, 1e-9));
      CHECK_THAT(m.mse(), WithinRel(ref.mse, 1e-9));
      CHECK_THAT(m.r2(), WithinRel(ref.r2, 1e-9));
    }
  }
}

TEST_CASE("regression_metrics: bad input leaves the state unchanged, options validated",
          "[eval][metrics]") {
  regression_metrics m;
  REQUIRE(m.add(1.0, 0.5) == status::ok);
  CHECK(m.add(std::nan(""), 0.5) == status::non_finite_input);
  CHECK(m.add(1.0, std::numeric_limits<double>::infinity()) == status::non_finite_input);
  CHECK(m.add(1e200, -1e200) == status::non_finite_input);  // squared error overflows
  CHECK(m.count() == 1);
  CHECK(m.mse() == 0.25);
  CHECK(m.r2() == 0.0);  // constant y, imperfect prediction: scikit-learn gives 0
  // Saturation (LIMITATION in metrics.hpp): sums of squares near the double range reach +inf;
  // r2 falls back to 0 instead of inf / inf.
  metrics_options big;
  big.mode = averaging::window;
  big.window = 100;
  auto sat = regression_metrics::make(big).value();
  for (int i = 0; i < 100; ++i)
    REQUIRE(sat.add(i % 2 == 0 ? 1.2e154 : -1.2e154, 0.0) == status::ok);  // e^2 = 1.44e308
  CHECK(std::isinf(sat.mse()));
  CHECK(sat.r2() == 0.0);
  metrics_options o;
  o.mode = averaging::exponential;
  o.half_life = 0.1;
  auto bad = regression_metrics::make(o);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("half_life must be in [0.5, inf)") != std::string::npos);
  o.mode = averaging::window;
  o.window = 0;
  CHECK_FALSE(regression_metrics::make(o).has_value());
}

TEST_CASE("binary_metrics: log-loss and accuracy equal the hand computation",
          "[eval][metrics]") {
  binary_metrics m;
  const double outcome[] = {1, 0, 1, 1, 0};
  const double p[] = {0.9, 0.2, 0.4, 1.0, 0.0};
  for (int i = 0; i < 5; ++i) REQUIRE(m.add(outcome[i], p[i]) == status::ok);
  // -(ln 0.9 + ln 0.8 + ln 0.4 + ln(1 - 1e-15) + ln(1 - 1e-15)) / 5, clipped as scikit-learn.
  const double ref =
      -(std::log(0.9) + std::log(0.8) + std::log(0.4) + 2.0 * std::log1p(-1e-15)) / 5.0;
  CHECK_THAT(m.log_loss(), WithinRel(ref, 1e-14));
  CHECK(m.accuracy() == 0.8);  // 0.4 for an outcome of 1 is the one miss
  CHECK(m.add(0.5, 0.5) == status::invalid_argument);
  CHECK(m.add(1.0, 1.5) == status::invalid_argument);
  CHECK(m.add(1.0, std::nan("")) == status::non_finite_input);
  CHECK(m.count() == 5);
  metrics_options o;
  o.mode = averaging::window;
  o.window = 2;
  auto w = binary_metrics::make(o).value();
  for (int i = 0; i < 5; ++i) REQUIRE(w.add(outcome[i], p[i]) == status::ok);
  CHECK(w.accuracy() == 1.0);  // the last two samples are both right
  o.window = 1;  // the smallest window: the sums are refreshed on every sample
  auto last = regression_metrics::make(o).value();
  for (int i = 0; i < 10; ++i) REQUIRE(last.add(0.5 * i, 0.25 * i * i) == status::ok);
  CHECK(last.mse() == (4.5 - 20.25) * (4.5 - 20.25));
  CHECK(last.size() == 1);
  CHECK(last.r2() == 0.0);  // one sample: Var(y) = 0, imperfect prediction
}

TEST_CASE("metrics: no allocation on the hot path in any mode", "[eval][metrics]") {
  if (!test::alloc_counting_available()) {
    WARN("allocation counting unavailable (sanitizer build)");
    return;
  }
  for (auto mode : {averaging::cumulative, averaging::exponential, averaging::window}) {
    metrics_options o;
    o.mode = mode;
    auto r = regression_metrics::make(o).value();
    auto b = binary_metrics::make(o).value();
    test::alloc_scope scope;
    for (int i = 0; i < 100000; ++i) {
      (void)r.add(0.001 * i, 0.001 * i + 0.1);
      (void)b.add(i % 2, 0.3);
    }
    CHECK(scope.count() == 0);
  }
}

TEST_CASE("metrics: checkpoint round trip in every form, other forms refused",
          "[eval][metrics][checkpoint]") {
  static_assert(checkpointable<regression_metrics>);
  static_assert(checkpointable<binary_metrics>);
  const auto s = make_stream(3000, 10.0, 4);
  for (auto mode : {averaging::cumulative, averaging::exponential, averaging::window}) {
    metrics_options o;
    o.mode = mode;
    o.half_life = 100.0;
    o.window = 700;  // 1700 samples before the save: mid-way between two refreshes
    auto a = regression_metrics::make(o).value();
    for (std::size_t i = 0; i < 1700; ++i) REQUIRE(a.add(s.y[i], s.yhat[i]) == status::ok);
    byte_writer w;
    a.save_state(w);
    auto b = regression_metrics::make(o).value();
    byte_reader r(w.bytes());
    REQUIRE(b.load_state(r) == status::ok);
    CHECK(r.done());
    for (std::size_t i = 1700; i < s.y.size(); ++i) {
      REQUIRE(a.add(s.y[i], s.yhat[i]) == status::ok);
      REQUIRE(b.add(s.y[i], s.yhat[i]) == status::ok);
    }
    CHECK(a.mse() == b.mse());  // same state, same operations: bit-identical
    CHECK(a.r2() == b.r2());
    CHECK(a.count() == b.count());
    // Another form (here another mode with another window and half-life) is refused and
    // leaves the target unchanged.
    metrics_options other = o;
    other.mode = mode == averaging::cumulative ? averaging::window : averaging::cumulative;
    other.window = 600;
    other.half_life = 50.0;
    auto c = regression_metrics::make(other).value();
    byte_reader again(w.bytes());
    CHECK(c.load_state(again) == status::invalid_argument);
    CHECK(c.count() == 0);
    byte_reader cut(std::span(w.bytes().data(), w.bytes().size() - 8));
    CHECK(b.load_state(cut) == status::invalid_argument);
    CHECK(b.count() == a.count());
  }
  binary_metrics bm;
  REQUIRE(bm.add(1.0, 0.8) == status::ok);
  byte_writer w;
  bm.save_state(w);
  binary_metrics back;
  byte_reader r(w.bytes());
  REQUIRE(back.load_state(r) == status::ok);
  CHECK(back.log_loss() == bm.log_loss());
}
