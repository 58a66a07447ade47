// Tests of the deferred rank-1 step of livefit::rls: each update leaves its step
// Q <- Q - v v' pending and the next update applies it in its own pass over Q. What users
// observe must not depend on whether the step has been applied: covariance(), checkpoints,
// seed_from, predictive_variance and refused updates are compared bit for bit with a model
// whose pending step was applied by another route, or with an independent reference.
#include <cmath>
#include <limits>
#include <random>
#include <type_traits>
#include <utility>

#include <Eigen/Dense>

#include "catch.hpp"
#include "state_bytes.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/models/rls.hpp"

namespace {

using livefit::rls;
using livefit::rls_options;
using livefit::status;

template <class Model>
Model make_model(double lambda, double ridge, Eigen::Index d) {
  rls_options o;
  o.forgetting_factor = lambda;
  o.ridge = ridge;
  o.max_block = 8;
  auto m = Model::make(o, d);
  REQUIRE(m);
  return std::move(*m);
}

template <class Model>
typename Model::vector_type random_x(std::mt19937_64& rng, Eigen::Index d) {
  using S = typename Model::scalar_type;
  std::normal_distribution<double> n01(0.0, 1.0);
  typename Model::vector_type x(d);
  for (Eigen::Index i = 0; i < d; ++i) x(i) = static_cast<S>(n01(rng));
  return x;
}

// Feeds n random samples of a fixed linear target plus noise.
template <class Model>
void feed(Model& m, std::mt19937_64& rng, int n) {
  using S = typename Model::scalar_type;
  std::normal_distribution<double> n01(0.0, 1.0);
  for (int t = 0; t < n; ++t) {
    const auto x = random_x<Model>(rng, m.dim());
    const S y = static_cast<S>(x.sum() + 0.1 * n01(rng));
    REQUIRE(m.update(x, y) == status::ok);
  }
}

template <class Model>
Model reloaded(const Model& m) {
  livefit::byte_writer w;
  m.save_state(w);
  Model r = make_model<Model>(m.options().forgetting_factor, m.options().ridge, m.dim());
  livefit::byte_reader in(w.bytes());
  REQUIRE(r.load_state(in) == status::ok);
  return r;
}

}  // namespace

// The checkpoint of a model with a pending step holds P with the step applied: the loaded
// model reports the same P bit for bit. It keeps P with scale 1 (the original keeps c Q with
// c in a power-of-two range), so the two then continue alike only to rounding: relative
// 1e-9 in double and 1e-3 in float after 23 updates (measured about 1e-15 and 1e-6; a
// dropped step would be an O(1) difference, the rank-1 step is as large as P along x).
TEMPLATE_TEST_CASE("rls deferred step: a checkpoint between updates holds the pending step",
                   "[models][rls]", (rls<double, 16>), (rls<float, 16>), (rls<double>),
                   (rls<float>)) {
  using S = typename TestType::scalar_type;
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  std::mt19937_64 rng(41);
  auto m = make_model<TestType>(0.97, 1e-2, 16);
  feed(m, rng, 37);
  auto r = reloaded(m);
  const M pm = m.covariance(), pr = r.covariance();
  CHECK(pm == pr);
  std::mt19937_64 rng_a(7), rng_b(7);
  feed(m, rng_a, 23);
  feed(r, rng_b, 23);
  const double tol = std::is_same_v<S, float> ? 1e-3 : 1e-9;
  const M qm = m.covariance(), qr = r.covariance();
  CHECK(static_cast<double>((qm - qr).cwiseAbs().maxCoeff()) <=
        tol * static_cast<double>(qm.cwiseAbs().maxCoeff()));
  CHECK(static_cast<double>((m.coefficients() - r.coefficients()).cwiseAbs().maxCoeff()) <=
        tol * static_cast<double>(m.coefficients().cwiseAbs().maxCoeff()));
}

TEMPLATE_TEST_CASE("rls deferred step: seed_from carries the pending step",
                   "[models][rls]", (rls<double, 8>), (rls<float, 8>), (rls<double>)) {
  std::mt19937_64 rng(3);
  auto champion = make_model<TestType>(0.99, 1e-2, 8);
  feed(champion, rng, 29);
  auto challenger = make_model<TestType>(0.99, 1e-2, 8);
  REQUIRE(challenger.seed_from(champion) == status::ok);
  CHECK(livefit::test::state_bytes(challenger) == livefit::test::state_bytes(champion));
  std::mt19937_64 rng_a(5), rng_b(5);
  feed(champion, rng_a, 11);
  feed(challenger, rng_b, 11);
  CHECK(livefit::test::state_bytes(challenger) == livefit::test::state_bytes(champion));
}

// An update refused after its pass over Q has applied the previous step to the storage; the
// observable state must be unchanged, and the model must go on exactly as a copy that never
// saw the refused sample. The refusal: in float, y = 3e38 with x = (0.002, 0, ...) and P0 =
// I / 1e-3 gives w = y P x / (lambda + x'P x), about 6e38 in the first coefficient: above
// the largest float (3.4e38), so the candidate is not finite (numerical_failure).
TEMPLATE_TEST_CASE("rls deferred step: an update refused after its pass changes nothing",
                   "[models][rls]", (rls<float, 4>), (rls<float>)) {
  auto m = make_model<TestType>(1.0, 1e-3, 4);
  typename TestType::vector_type x1(4), bad(4), x2(4);
  x1 << 0.5f, -1.0f, 0.25f, 2.0f;
  bad << 0.002f, 0.0f, 0.0f, 0.0f;
  x2 << -1.0f, 0.5f, 1.5f, 0.75f;
  REQUIRE(m.update(x1, 1.0f) == status::ok);  // leaves a step pending
  const auto before = livefit::test::state_bytes(m);
  const Eigen::MatrixXf p_before = m.covariance();
  TestType copy = m;
  CHECK(m.update(bad, 3e38f) == status::numerical_failure);
  CHECK(livefit::test::state_bytes(m) == before);
  const Eigen::MatrixXf p_after = m.covariance();
  CHECK(p_after == p_before);
  REQUIRE(m.update(x2, -0.5f) == status::ok);
  REQUIRE(copy.update(x2, -0.5f) == status::ok);
  CHECK(livefit::test::state_bytes(m) == livefit::test::state_bytes(copy));
}

// predictive_variance reads the pending step on the fly; reference: x'P x from covariance()
// evaluated into a matrix, in long double. Tolerance: both sums are rounded in the scalar
// type, each of d^2 terms with relative error about eps, bounded by |x|^2 trace(P) d eps.
TEMPLATE_TEST_CASE("rls deferred step: predictive_variance agrees with covariance()",
                   "[models][rls]", (rls<double, 16>), (rls<float, 16>), (rls<double>)) {
  using S = typename TestType::scalar_type;
  std::mt19937_64 rng(11);
  auto m = make_model<TestType>(0.95, 1e-2, 16);
  feed(m, rng, 40);
  for (int k = 0; k < 5; ++k) {
    const auto x = random_x<TestType>(rng, 16);
    const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> P = m.covariance();
    long double ref = 0;
    for (Eigen::Index i = 0; i < 16; ++i)
      for (Eigen::Index j = 0; j < 16; ++j)
        ref += static_cast<long double>(x(i)) * P(i, j) * static_cast<long double>(x(j));
    const double tol = 16.0 * 16.0 * static_cast<double>(std::numeric_limits<S>::epsilon()) *
                       static_cast<double>(x.squaredNorm()) *
                       static_cast<double>(m.covariance_trace());
    CHECK(std::abs(static_cast<double>(m.predictive_variance(x)) - static_cast<double>(ref)) <=
          tol);
  }
}

// update_block applies the pending step first; a block of one row must then equal one
// update to rounding, and its checkpoint must be what a sequential model continues from.
TEMPLATE_TEST_CASE("rls deferred step: update_block after update sees the applied step",
                   "[models][rls]", (rls<double, 8>), (rls<double>)) {
  std::mt19937_64 rng(23);
  auto a = make_model<TestType>(0.98, 1e-2, 8);
  feed(a, rng, 17);
  TestType b = a;
  const auto x = random_x<TestType>(rng, 8);
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic> X(1, 8);
  X.row(0) = x.transpose();
  Eigen::VectorXd y(1);
  y(0) = 0.3;
  REQUIRE(a.update(x, 0.3) == status::ok);
  REQUIRE(b.update_block(X, y) == status::ok);
  const Eigen::MatrixXd pa = a.covariance(), pb = b.covariance();
  // One row through the inversion lemma: S = x'P x + lambda, one Cholesky step and one
  // division; agreement to a few hundred eps of |P| (cond(P) is modest here, trace <= 1e3).
  CHECK((pa - pb).cwiseAbs().maxCoeff() <= 1e-12 * pa.cwiseAbs().maxCoeff());
  CHECK((a.coefficients() - b.coefficients()).cwiseAbs().maxCoeff() <= 1e-12);
}
