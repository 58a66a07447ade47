// Tests of livefit::nlms: validation, convergence to the true coefficients, bad input,
// allocations, checkpoints.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <Eigen/Core>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "fixed_size_allocations.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/models/nlms.hpp"

using livefit::nlms;
using livefit::nlms_options;
using livefit::status;

static_assert(livefit::regressor<nlms<double, 3>>);
static_assert(livefit::regressor<nlms<float>>);
static_assert(livefit::checkpointable<nlms<float, 3>>);

TEST_CASE("nlms: make validates step size and regularisation", "[models][nlms]") {
  auto r = nlms<double, 3>::make({2.0, 1e-6});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "nlms: step_size must be in [2.22507e-308, 2), got 2");
  CHECK_FALSE(nlms<double, 3>::make({0.0, 1e-6}).has_value());
  CHECK_FALSE(nlms<double, 3>::make({0.5, 0.0}).has_value());
  CHECK_FALSE(nlms<double>::make({0.5, 1e-6}, -1).has_value());
}

TEMPLATE_TEST_CASE("nlms: converges to the true coefficients", "[models][nlms]", float,
                   double) {
  using S = TestType;
  const unsigned seed = 5;
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<S> N(S(0), S(1));
  auto m = nlms<S, 4>::make({0.5, 1e-6});
  REQUIRE(m.has_value());
  const Eigen::Matrix<S, 4, 1> truth(S(1), S(-2), S(0.5), S(3));
  for (int i = 0; i < 4000; ++i) {
    Eigen::Matrix<S, 4, 1> x(N(rng), N(rng), N(rng), S(1));
    REQUIRE(m->update(x, truth.dot(x)) == status::ok);
  }
  // Noise-free data: the error contracts by about (1 - mu (2 - mu) / d) per step, i.e.
  // below 1e-30 after 4000 steps; the floor is rounding, some eps * |w|.
  const double tol = std::is_same_v<S, float> ? 1e-4 : 1e-10;
  CHECK((m->coefficients() - truth).norm() < tol);
  CHECK(m->samples_seen() == 4000);
}

TEST_CASE("nlms: zero input is harmless and bad input changes nothing", "[models][nlms]") {
  auto m = nlms<double>::make({1.0, 1e-6}, 3);
  REQUIRE(m.has_value());
  Eigen::VectorXd x(3);
  x << 1.0, 2.0, 3.0;
  REQUIRE(m->update(x, 6.0) == status::ok);
  REQUIRE(m->update(Eigen::VectorXd::Zero(3), 5.0) == status::ok);
  const Eigen::VectorXd before = m->coefficients();
  Eigen::VectorXd bad = x;
  bad(0) = std::numeric_limits<double>::quiet_NaN();
  CHECK(m->update(bad, 1.0) == status::non_finite_input);
  CHECK(m->update(x, std::numeric_limits<double>::infinity()) == status::non_finite_input);
  CHECK(m->update(Eigen::VectorXd::Ones(2), 1.0) == status::dimension_mismatch);
  CHECK(m->update(Eigen::VectorXd::Constant(3, 1e300), 1.0) == status::numerical_failure);
  CHECK(m->coefficients() == before);
  CHECK(m->samples_seen() == 2);
  // mu = 1 fits the current sample exactly (up to epsilon / (epsilon + x'x)).
  CHECK_THAT(m->predict(x), WithinAbs(6.0, 1e-6));
}

TEST_CASE("nlms: update allocates nothing, checkpoint round trip", "[models][nlms]") {
  auto m = nlms<double>::make({0.3, 1e-6}, 16);
  REQUIRE(m.has_value());
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(16, -1.0, 1.0);
  if (livefit::test::alloc_counting_available()) {
    double sink = 0;
    livefit::test::alloc_scope scope;
    for (int i = 0; i < 100000; ++i) {
      x(0) = std::sin(0.01 * i);
      sink += static_cast<double>(m->update(x, x(0))) + m->predict(x);
    }
    CHECK(scope.count() == 0);
    CHECK(std::isfinite(sink));
  } else {
    WARN("allocation counting unavailable (sanitizer build): skipped");
  }
  livefit::byte_writer w;
  m->save_state(w);
  auto other = nlms<double>::make({0.9, 1.0}, 16);
  livefit::byte_reader r(w.bytes());
  REQUIRE(other->load_state(r) == status::ok);
  CHECK(other->coefficients() == m->coefficients());
  livefit::byte_writer w2;
  other->save_state(w2);
  CHECK(w2.bytes() == w.bytes());
  auto wrong = nlms<double>::make({0.9, 1.0}, 15);
  livefit::byte_reader r2(w.bytes());
  CHECK(wrong->load_state(r2) == status::dimension_mismatch);
}

// The fixed sizes (float and double, D = 4 and 8) allocate nothing after make() either; the
// dynamic size is counted in the test above.
TEST_CASE("nlms: update and predict allocate nothing at fixed sizes 4 and 8",
          "[models][nlms]") {
  livefit::test::check_fixed_sizes_allocate_nothing<nlms>(
      nlms_options{0.3, 1e-6}, [](auto& m, const auto& x, int) {
        return static_cast<double>(m.update(x, x(0))) + static_cast<double>(m.predict(x));
      });
}
