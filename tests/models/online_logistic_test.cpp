// Tests of livefit::online_logistic (FTRL-proximal): a hand-computed first step, recovery of
// the generating coefficients, sparsity from l1, stable log-loss, bad input, checkpoints.
#include <cmath>
#include <limits>
#include <random>
#include <type_traits>

#include <Eigen/Core>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "fixed_size_allocations.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/models/online_logistic.hpp"

using livefit::online_logistic;
using livefit::online_logistic_options;
using livefit::status;

static_assert(livefit::regressor<online_logistic<double, 3>>);
static_assert(livefit::regressor<online_logistic<float>>);
static_assert(livefit::checkpointable<online_logistic<double, 3>>);

TEST_CASE("online_logistic: make validates its options", "[models][online_logistic]") {
  auto r = online_logistic<double, 2>::make({0.0, 1.0, 0.0, 0.0});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message ==
        "online_logistic: alpha must be in [2.22507e-308, 1.79769e+308], got 0");
  CHECK_FALSE(online_logistic<double, 2>::make({0.1, -1.0, 0.0, 0.0}).has_value());
  CHECK_FALSE(online_logistic<double, 2>::make({0.1, 1.0, -1.0, 0.0}).has_value());
  CHECK_FALSE(online_logistic<double, 2>::make({0.1, 1.0, 0.0, -1.0}).has_value());
}

TEST_CASE("online_logistic: first step matches FTRL-proximal by hand",
          "[models][online_logistic]") {
  // alpha 0.5, beta 1, l1 0, l2 0; x = (1, 2), y = 1, w = 0 so p = 0.5.
  // g = (-0.5, -1); n = (0.25, 1); sigma = sqrt(n) / alpha = (1, 2);
  // z = g - sigma * 0 = (-0.5, -1); w = -z / ((1 + sqrt(n)) / 0.5) = (0.5 / 3, 1 / 4).
  auto m = online_logistic<double, 2>::make({0.5, 1.0, 0.0, 0.0});
  REQUIRE(m.has_value());
  const Eigen::Vector2d x(1.0, 2.0);
  CHECK(m->predict(x) == 0.5);
  REQUIRE(m->update(x, 1.0) == status::ok);
  // A few roundings on exact binary fractions: 4 ulp.
  CHECK_THAT(m->coefficients()(0), WithinULP(0.5 / 3.0, 4));
  CHECK_THAT(m->coefficients()(1), WithinULP(0.25, 4));
}

TEMPLATE_TEST_CASE("online_logistic: learns the generating model, probabilities calibrated",
                   "[models][online_logistic]", float, double) {
  using S = TestType;
  const unsigned seed = 21;
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<S> N(S(0), S(1));
  std::uniform_real_distribution<S> U(S(0), S(1));
  auto m = online_logistic<S, 3>::make({0.1, 1.0, 0.0, 0.0});
  REQUIRE(m.has_value());
  const Eigen::Matrix<S, 3, 1> truth(S(1.5), S(-1), S(0.25));  // last: intercept
  double loss_early = 0, loss_late = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const Eigen::Matrix<S, 3, 1> x(N(rng), N(rng), S(1));
    const S p = S(1) / (S(1) + std::exp(-truth.dot(x)));
    const S y = U(rng) < p ? S(1) : S(0);
    const double loss = static_cast<double>(m->log_loss(x, y));
    if (i < 1000) loss_early += loss;
    if (i >= n - 10000) loss_late += loss;
    REQUIRE(m->update(x, y) == status::ok);
  }
  INFO("w = " << m->coefficients().transpose());
  // 2e5 samples: the MLE's standard error is about 0.005 per coefficient; FTRL's decaying
  // per-coordinate rate still adds some bias, so allow 0.1.
  CHECK((m->coefficients() - truth).cwiseAbs().maxCoeff() < S(0.1));
  CHECK(loss_late / 10000 < loss_early / 1000);
}

TEST_CASE("online_logistic: l1 gives exact zeros for irrelevant features",
          "[models][online_logistic]") {
  const unsigned seed = 22;
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<double> N(0.0, 1.0);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  // For an irrelevant feature z is a random walk with spread sqrt(n_i), about 50 after 2e4
  // samples; l1 = 200 is four spreads. A numpy simulation of the same algorithm over 8
  // seeds gave exact zeros and w0 between 2.88 and 2.96 every time.
  auto m = online_logistic<double, 4>::make({0.1, 1.0, 200.0, 0.0});
  REQUIRE(m.has_value());
  for (int i = 0; i < 20000; ++i) {
    const Eigen::Vector4d x(N(rng), N(rng), N(rng), N(rng));
    const double y = U(rng) < 1.0 / (1.0 + std::exp(-3.0 * x(0))) ? 1.0 : 0.0;
    REQUIRE(m->update(x, y) == status::ok);
  }
  CHECK(m->coefficients()(0) > 1.0);
  CHECK(m->coefficients()(1) == 0.0);
  CHECK(m->coefficients()(2) == 0.0);
  CHECK(m->coefficients()(3) == 0.0);
}

TEST_CASE("online_logistic: extreme margins give finite log-loss and probabilities",
          "[models][online_logistic]") {
  auto m = online_logistic<double, 1>::make({10.0, 0.0, 0.0, 0.0});
  REQUIRE(m.has_value());
  using V = Eigen::Matrix<double, 1, 1>;
  for (int i = 0; i < 100; ++i) REQUIRE(m->update(V(1000.0), 1.0) == status::ok);
  const double margin = m->decision_function(V(1000.0));
  INFO("margin " << margin);
  REQUIRE(margin > 800.0);  // exp(margin) overflows: the stable forms must not
  CHECK(m->predict(V(1000.0)) == 1.0);
  CHECK(m->predict(V(-1000.0)) == 0.0);
  // log-loss of the wrong label is the margin itself (log(1 + e^-t) + t - 0 -> t).
  CHECK_THAT(m->log_loss(V(1000.0), 0.0), WithinRel(margin, 1e-12));
  CHECK(m->log_loss(V(1000.0), 1.0) == 0.0);
}

TEST_CASE("online_logistic: bad input changes nothing, no allocation, checkpoints",
          "[models][online_logistic]") {
  auto m = online_logistic<double>::make({0.1, 1.0, 0.1, 0.1}, 3);
  REQUIRE(m.has_value());
  Eigen::VectorXd x(3);
  x << 1.0, -0.5, 2.0;
  REQUIRE(m->update(x, 1.0) == status::ok);
  livefit::byte_writer before;
  m->save_state(before);
  CHECK(m->update(x, 0.5) == status::invalid_argument);
  Eigen::VectorXd bad = x;
  bad(2) = std::numeric_limits<double>::quiet_NaN();
  CHECK(m->update(bad, 1.0) == status::non_finite_input);
  CHECK(m->update(Eigen::VectorXd::Ones(4), 1.0) == status::dimension_mismatch);
  CHECK(m->update(Eigen::VectorXd::Constant(3, 1e300), 0.0) == status::numerical_failure);
  livefit::byte_writer after;
  m->save_state(after);
  CHECK(after.bytes() == before.bytes());
  if (livefit::test::alloc_counting_available()) {
    double sink = 0;
    livefit::test::alloc_scope scope;
    for (int i = 0; i < 100000; ++i) {
      x(0) = std::sin(0.01 * i);
      sink += static_cast<double>(m->update(x, (i % 3) == 0 ? 1.0 : 0.0)) + m->predict(x);
    }
    CHECK(scope.count() == 0);
    CHECK(std::isfinite(sink));
  }
  livefit::byte_writer w;
  m->save_state(w);
  auto other = online_logistic<double>::make({1.0, 0.0, 0.0, 0.0}, 3);
  livefit::byte_reader r(w.bytes());
  REQUIRE(other->load_state(r) == status::ok);
  CHECK(other->coefficients() == m->coefficients());
  auto seeded = online_logistic<double>::make({1.0, 0.0, 0.0, 0.0}, 3);
  REQUIRE(seeded->seed_from(*m) == status::ok);
  CHECK(seeded->samples_seen() == m->samples_seen());
}

// Issue 4 defect 1, same kind: alpha = 1e-320 (subnormal) was accepted and every update
// refused (sigma = .../alpha overflows). make() now refuses it; the smallest normal alpha
// learns with finite state.
TEST_CASE("online_logistic: make refuses a subnormal alpha, tiny normal alpha works",
          "[models][online_logistic]") {
  CHECK_FALSE(online_logistic<double, 2>::make({1e-320, 1.0, 0.0, 0.0}).has_value());
  CHECK_FALSE(online_logistic<float, 2>::make({1e-40, 1.0, 0.0, 0.0}).has_value());
  auto m = online_logistic<double, 2>::make({1e-300, 1.0, 0.0, 0.0});
  REQUIRE(m.has_value());
  using V = Eigen::Matrix<double, 2, 1>;
  for (int i = 0; i < 50; ++i) REQUIRE(m->update(V(1.0, i % 2), i % 2) == status::ok);
  CHECK(m->coefficients().allFinite());
}

// The fixed sizes (float and double, D = 4 and 8) allocate nothing after make() either, l1
// and l2 on so that the penalised step runs; the dynamic size is counted in the test above.
TEST_CASE("online_logistic: update and predict allocate nothing at fixed sizes 4 and 8",
          "[models][online_logistic]") {
  livefit::test::check_fixed_sizes_allocate_nothing<online_logistic>(
      online_logistic_options{0.1, 1.0, 0.1, 0.1}, [](auto& m, const auto& x, int i) {
        using S = typename std::remove_cvref_t<decltype(m)>::scalar_type;
        const S y = i % 3 == 0 ? S(1) : S(0);
        const double st = static_cast<double>(m.update(x, y)) + static_cast<double>(m.predict(x));
        return st + static_cast<double>(m.decision_function(x) + m.log_loss(x, y));
      });
}
