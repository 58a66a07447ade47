// Tests of livefit::online_standardizer: handout case C05 (constant feature), agreement with
// numpy moments, forgetting, bad input, checkpoints.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "fixed_size_allocations.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/models/online_standardizer.hpp"

using livefit::online_standardizer;
using livefit::status;

static_assert(livefit::checkpointable<online_standardizer<double, 2>>);

TEMPLATE_TEST_CASE("online_standardizer: C05 a constant feature gives 0, never NaN",
                   "[models][online_standardizer][C05]", float, double) {
  using S = TestType;
  auto m = online_standardizer<S, 1>::make({1.0});
  REQUIRE(m.has_value());
  using V = Eigen::Matrix<S, 1, 1>;
  const V c(static_cast<S>(14.62));
  V z = V::Zero();  // initialised: GCC 12 -O2 -Wmaybe-uninitialized (issue 4 defect 7)
  CHECK(m->transform(c, z) == status::not_ready);
  REQUIRE(m->update(c) == status::ok);
  REQUIRE(m->transform(c, z) == status::ok);
  CHECK(z(0) == S(0));  // after one update
  for (int i = 1; i < 1000; ++i) REQUIRE(m->update(c) == status::ok);
  // C05 expected: mean 14.62, variance exactly 0 (Welford-type updates keep x - mean = 0).
  CHECK(m->mean()(0) == c(0));
  CHECK(m->variance(0) == S(0));
  REQUIRE(m->transform(c, z) == status::ok);
  CHECK(z(0) == S(0));
  // C05: 15.0 -> 0.3800000000000008 under the scale-1 convention; 1e-12 absolute (C05's
  // tolerance) in double; float carries the rounding of 14.62 and 15 (about 1e-6).
  REQUIRE(m->transform(V(S(15)), z) == status::ok);
  const double tol = std::is_same_v<S, float> ? 2e-6 : 1e-12;
  CHECK_THAT(static_cast<double>(z(0)), WithinAbs(0.3800000000000008, tol));
}

TEST_CASE("online_standardizer: C05 a mean one ulp off is not divided by rounding noise",
          "[models][online_standardizer][C05]") {
  // Values that average to a mean that is not representable: rounding leaves a spread of
  // about 1e-15, which must count as zero spread (scale 1), not give z = +-1.
  auto m = online_standardizer<double, 1>::make({1.0});
  REQUIRE(m.has_value());
  using V = Eigen::Matrix<double, 1, 1>;
  for (int i = 0; i < 1000; ++i)
    REQUIRE(m->update(V(0.1 + ((i % 3 == 0) ? 1e-17 : 0.0))) == status::ok);
  V z = V::Zero();  // initialised: GCC 12 -O2 -Wmaybe-uninitialized (issue 4 defect 7)
  REQUIRE(m->transform(V(0.1), z) == status::ok);
  CHECK(std::abs(z(0)) <= 1e-12);
}

TEST_CASE("online_standardizer: matches numpy mean and variance", "[models][online_standardizer]") {
  // numpy 1.24.2: x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]; x.mean() = 5.0, x.var() = 4.0
  // (population variance). Weighted, lambda = 0.5: w = 0.5 ** np.arange(7, -1, -1);
  // m = (w * x).sum() / w.sum() = 7.443137254901961;
  // v = (w * (x - m) ** 2).sum() / w.sum() = 3.156570549788543
  const double xs[] = {2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0};
  auto plain = online_standardizer<double, 1>::make({1.0});
  auto decayed = online_standardizer<double, 1>::make({0.5});
  REQUIRE(plain.has_value());
  REQUIRE(decayed.has_value());
  using V = Eigen::Matrix<double, 1, 1>;
  for (double v : xs) {
    REQUIRE(plain->update(V(v)) == status::ok);
    REQUIRE(decayed->update(V(v)) == status::ok);
  }
  // A handful of roundings on exact small integers: 1e-14 relative.
  CHECK_THAT(plain->mean()(0), WithinRel(5.0, 1e-14));
  CHECK_THAT(plain->variance(0), WithinRel(4.0, 1e-14));
  CHECK_THAT(decayed->mean()(0), WithinRel(7.443137254901961, 1e-14));
  CHECK_THAT(decayed->variance(0), WithinRel(3.156570549788543, 1e-14));
  V z = V::Zero();  // initialised: GCC 12 -O2 -Wmaybe-uninitialized (issue 4 defect 7)
  REQUIRE(plain->transform(V(9.0), z) == status::ok);
  CHECK_THAT(z(0), WithinRel(2.0, 1e-14));
}

TEST_CASE("online_standardizer: bad input changes nothing, no allocation, checkpoints",
          "[models][online_standardizer]") {
  auto m = online_standardizer<double>::make({0.99}, 3);
  REQUIRE(m.has_value());
  CHECK_FALSE(online_standardizer<double>::make({0.0}, 3).has_value());
  Eigen::VectorXd x(3);
  x << 1.0, 2.0, 3.0;
  REQUIRE(m->update(x) == status::ok);
  livefit::byte_writer before;
  m->save_state(before);
  Eigen::VectorXd bad = x;
  bad(1) = std::numeric_limits<double>::infinity();
  CHECK(m->update(bad) == status::non_finite_input);
  CHECK(m->update(Eigen::VectorXd::Ones(2)) == status::dimension_mismatch);
  CHECK(m->update(Eigen::VectorXd::Constant(3, 1.5e308)) == status::numerical_failure);
  livefit::byte_writer after;
  m->save_state(after);
  CHECK(after.bytes() == before.bytes());
  if (livefit::test::alloc_counting_available()) {
    Eigen::VectorXd z(3);
    double sink = 0;
    livefit::test::alloc_scope scope;
    for (int i = 0; i < 100000; ++i) {
      x(0) = std::sin(0.01 * i);
      sink += static_cast<double>(m->update(x)) + static_cast<double>(m->transform(x, z)) + z(0);
    }
    CHECK(scope.count() == 0);
    CHECK(std::isfinite(sink));
  }
  livefit::byte_writer w;
  m->save_state(w);
  auto other = online_standardizer<double>::make({1.0}, 3);
  livefit::byte_reader r(w.bytes());
  REQUIRE(other->load_state(r) == status::ok);
  livefit::byte_writer w2;
  other->save_state(w2);
  CHECK(w2.bytes() == w.bytes());
}

// Issue 4 defect 6: x = 1.5e308 after means near -1.5e308 gave z = inf with status ok.
TEMPLATE_TEST_CASE("online_standardizer: transform reports overflow, z untouched",
                   "[models][online_standardizer]", float, double) {
  using S = TestType;
  using V = Eigen::Matrix<S, 2, 1>;
  const S big = std::numeric_limits<S>::max() / S(1.2);  // 1.5e308 in double
  auto m = online_standardizer<S, 2>::make({1.0});
  REQUIRE(m.has_value());
  REQUIRE(m->update(V(-big, S(0))) == status::ok);
  REQUIRE(m->update(V(-big, S(1))) == status::ok);
  V z(S(7), S(7));
  CHECK(m->transform(V(big, S(0.5)), z) == status::numerical_failure);
  CHECK(z == V(S(7), S(7)));
  // Within range the same model still transforms, finitely.
  REQUIRE(m->transform(V(S(0), S(0.5)), z) == status::ok);
  CHECK(z.allFinite());
}

// The fixed sizes (float and double, D = 4 and 8) allocate nothing after make() either,
// with z a fixed-size vector too; the dynamic size is counted in the test above.
TEST_CASE("online_standardizer: update and transform allocate nothing at sizes 4 and 8",
          "[models][online_standardizer]") {
  livefit::test::check_fixed_sizes_allocate_nothing<online_standardizer>(
      livefit::online_standardizer_options{0.99}, [](auto& m, const auto& x, int) {
        using V = std::remove_cvref_t<decltype(x)>;
        V z = V::Zero();
        const double st = static_cast<double>(m.update(x)) + static_cast<double>(m.transform(x, z));
        return st + static_cast<double>(z(0)) + static_cast<double>(m.scale(x.size() - 1));
      });
}
