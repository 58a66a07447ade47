// Tests of livefit::online_standardizer: handout case C05 (constant feature), agreement with
// numpy moments, forgetting, bad input, checkpoints, composition in front of rls.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "fixed_size_allocations.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/models/online_standardizer.hpp"
#include "livefit/models/rls.hpp"
#include "livefit/pipeline/pipeline.hpp"

using livefit::online_standardizer;
using livefit::status;

static_assert(livefit::checkpointable<online_standardizer<double, 2>>);
// A pipeline takes it as its Transform: fixed and dynamic sizes, both scalars.
static_assert(livefit::feature_transform<online_standardizer<double, 3>, Eigen::Vector3d>);
static_assert(livefit::feature_transform<online_standardizer<float, 8>,
                                         Eigen::Matrix<float, 8, 1>>);
static_assert(livefit::feature_transform<online_standardizer<double>, Eigen::VectorXd>);
static_assert(livefit::feature_transform<online_standardizer<float>, Eigen::VectorXf>);

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

namespace {

// Features on very different scales and offsets: x = (1e4 + 1e3 a, 1e-3 b, 7.5) with a, b
// standard normal and a constant third feature; y = 2 + 3 a + 0.5 b + 0.1 N, linear in
// the standardised features.
struct scaled_draw {
  Eigen::Vector3d x;
  double mean_y;  // E[y | x] = 2 + 3 a + 0.5 b
};

scaled_draw draw_scaled(std::mt19937_64& gen, std::normal_distribution<double>& normal) {
  const double a = normal(gen), b = normal(gen);
  return {Eigen::Vector3d(1e4 + 1e3 * a, 1e-3 * b, 7.5), 2.0 + 3.0 * a + 0.5 * b};
}

// The running statistics of a prefix in long double by shifted sums (about the first
// sample), an algorithm other than the standardizer's: mean = K + S1 / n and variance =
// S2 / n - (S1 / n)^2 with S1, S2 the sums of x - K and (x - K)^2. z = (x - mean) / scale
// with the documented zero-spread rule (scale 1 at a spread <= 64 eps max(|mean|, 1) in
// double; here the spreads are exactly 0 or about 1e-3 and more, far from that floor).
struct ld_moments {
  using vec = Eigen::Matrix<long double, 3, 1>;
  vec shift = vec::Zero(), s1 = vec::Zero(), s2 = vec::Zero();
  long double n = 0;
  void add(const Eigen::Vector3d& x) {
    if (n == 0) shift = x.cast<long double>();
    const vec d = x.cast<long double>() - shift;
    s1 += d;
    s2 += d.cwiseProduct(d);
    n += 1;
  }
  vec standardize(const Eigen::Vector3d& x) const {
    vec z;
    for (int j = 0; j < 3; ++j) {
      const long double mean = shift(j) + s1(j) / n;
      const long double var = std::max(s2(j) / n - (s1(j) / n) * (s1(j) / n), 0.0L);
      const long double floor = 64.0L * std::numeric_limits<double>::epsilon() *
                                std::max(std::abs(mean), 1.0L);
      const long double sd = std::sqrt(var);
      z(j) = (static_cast<long double>(x(j)) - mean) / (sd > floor ? sd : 1.0L);
    }
    return z;
  }
};

}  // namespace

// online_standardizer in front of rls (lambda 1, ridge 1e-2), composed as its documentation
// says: standardise x with the statistics so far, append the constant 1 of the intercept,
// let the regressor learn, then the standardizer. The regressor starts after 100 samples of
// statistics: after one sample every spread is 0 and the next x would reach it unscaled
// (x - x_1, about 1e3 in the first feature), a point that lambda = 1 never forgets.
// Reference: the same features from long double statistics (ld_moments), and the ridge
// solution (delta I + U'U) w = U'y that rls at lambda 1 computes, solved in long double.
TEST_CASE("online_standardizer: in front of rls, features of very different scales",
          "[models][online_standardizer][rls]") {
  const unsigned seed = 20270102;
  INFO("seed " << seed);
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  const int n = 2000, warm = 100;
  const double ridge = 1e-2;
  auto st = online_standardizer<double, 3>::make({1.0});
  REQUIRE(st.has_value());
  livefit::rls_options o;
  o.ridge = ridge;
  auto m = livefit::rls<double, 4>::make(o);
  REQUIRE(m.has_value());
  ld_moments ref;
  Eigen::Matrix<long double, 4, 4> G = ridge * Eigen::Matrix<long double, 4, 4>::Identity();
  Eigen::Matrix<long double, 4, 1> h = Eigen::Matrix<long double, 4, 1>::Zero();
  Eigen::Vector3d z = Eigen::Vector3d::Zero();
  Eigen::Vector4d u = Eigen::Vector4d::Ones();
  for (int t = 0; t < n; ++t) {
    const scaled_draw s = draw_scaled(gen, normal);
    const double y = s.mean_y + 0.1 * normal(gen);
    if (t == 0) {
      CHECK(st->transform(s.x, z) == status::not_ready);
    } else {
      REQUIRE(st->transform(s.x, z) == status::ok);
      // The constant feature standardises to exactly 0 (scale 1), never NaN, also at the
      // second sample, when every spread is still 0.
      REQUIRE(z.allFinite());
      REQUIRE(z(2) == 0.0);
    }
    if (t >= warm) {
      u.head<3>() = z;
      REQUIRE(std::isfinite(m->predict(u)));
      REQUIRE(m->update(u, y) == status::ok);
      Eigen::Matrix<long double, 4, 1> ur;
      ur << ref.standardize(s.x), 1.0L;
      G += ur * ur.transpose();
      h += ur * static_cast<long double>(y);
    }
    REQUIRE(st->update(s.x) == status::ok);
    ref.add(s.x);
  }
  CHECK(st->variance(2) == 0.0);
  CHECK(st->scale(2) == 1.0);
  const Eigen::Matrix<long double, 4, 1> w_ref = G.ldlt().solve(h);
  // Predictions at fresh points of the same distribution. Against the reference: rls at
  // lambda 1 agrees with the batch ridge solution to a few hundred eps relative on a
  // well-conditioned design (the standardised Gram is close to n I), and the double mean of
  // the first feature (1e4, spread 1e3) carries about 10 eps relative error into z; on
  // predictions of size 10, 1e-11 absolute leaves a margin over both (measured 2e-14).
  // Against E[y | x] (spread 3): the mean and scale the regressor saw moved while it learnt
  // (by about 1 / sqrt(t) standard deviations at sample t) and lambda 1 averages over them,
  // which dominates the noise's share (0.1 sqrt(4 / 1900) = 0.005). Over 400 seeds the
  // worst of 100 points had median 0.13 and maximum 0.47 (median 7.9 when the regressor
  // learns from the second sample on).
  double worst_ref = 0, worst_truth = 0;
  for (int k = 0; k < 100; ++k) {
    const scaled_draw s = draw_scaled(gen, normal);
    REQUIRE(st->transform(s.x, z) == status::ok);
    u.head<3>() = z;
    const double pred = m->predict(u);
    Eigen::Matrix<long double, 4, 1> ur;
    ur << ref.standardize(s.x), 1.0L;
    const double pred_ref = static_cast<double>(w_ref.dot(ur));
    worst_ref = std::max(worst_ref, std::abs(pred - pred_ref));
    worst_truth = std::max(worst_truth, std::abs(pred - s.mean_y));
  }
  INFO("worst |composed - reference| " << worst_ref << ", |composed - E[y|x]| " << worst_truth);
  CHECK(worst_ref < 1e-11);
  CHECK(worst_truth < 0.6);
}

// min_samples: transform() answers not_ready until that many updates (and z stays as it
// was), make() refuses 0, and load_state keeps this standardizer's own min_samples (it is a
// setting, not part of the saved state).
TEST_CASE("online_standardizer: min_samples holds the transform back",
          "[models][standardizer]") {
  using S3 = livefit::online_standardizer<double, 3>;
  CHECK_FALSE(S3::make({.forgetting_factor = 1.0, .min_samples = 0}).has_value());
  auto s = S3::make({.forgetting_factor = 1.0, .min_samples = 3}).value();
  Eigen::Vector3d z = Eigen::Vector3d::Constant(-9.0);
  const Eigen::Vector3d xs[3] = {{1.0, 2.0, 3.0}, {2.0, 2.0, 5.0}, {3.0, 2.0, 7.0}};
  for (int i = 0; i < 3; ++i) {
    CHECK(s.transform(xs[i], z) == livefit::status::not_ready);
    CHECK(z == Eigen::Vector3d::Constant(-9.0));
    REQUIRE(s.update(xs[i]) == livefit::status::ok);
  }
  REQUIRE(s.transform(xs[2], z) == livefit::status::ok);
  // Mean (2, 2, 5), population variances 2/3, 0, 8/3: z of (3, 2, 7).
  CHECK_THAT(z(0), WithinRel(1.0 / std::sqrt(2.0 / 3.0), 1e-14));
  CHECK(z(1) == 0.0);
  CHECK_THAT(z(2), WithinRel(2.0 / std::sqrt(8.0 / 3.0), 1e-14));
  livefit::byte_writer w;
  s.save_state(w);
  auto t = S3::make({.forgetting_factor = 1.0, .min_samples = 10}).value();
  livefit::byte_reader r(w.bytes());
  REQUIRE(t.load_state(r) == livefit::status::ok);
  CHECK(t.options().min_samples == 10);
  CHECK(t.transform(xs[2], z) == livefit::status::not_ready);
}
