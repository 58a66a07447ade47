// Tests of livefit::with_intercept: the batch solution with an intercept, bit-for-bit
// agreement with the model of d + 1 features fed [x; 1], blocks, bad input, allocations,
// checkpoints.
#include <cmath>
#include <cstring>
#include <random>

#include <Eigen/Core>
#include <Eigen/QR>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/models/with_intercept.hpp"
#include "state_bytes.hpp"

using livefit::decayed_least_squares;
using livefit::nlms;
using livefit::rls;
using livefit::rls_options;
using livefit::status;
using livefit::with_intercept;
using livefit::test::state_bytes;

static_assert(livefit::regressor<with_intercept<rls<double, 4>>>);
static_assert(livefit::regressor<with_intercept<rls<float>>>);
static_assert(livefit::regressor<with_intercept<nlms<double, 3>>>);
static_assert(livefit::regressor<with_intercept<decayed_least_squares<double>>>);
static_assert(livefit::checkpointable<with_intercept<rls<double, 4>>>);
static_assert(std::is_same_v<with_intercept<rls<float, 4>>::model_type, rls<float, 5>>);

namespace {

template <class S>
using mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

// A stream far from the origin: y = 250 + x'beta + noise with features around 40 and -3,
// so an intercept-free model fits it badly.
struct offset_stream {
  std::mt19937_64 rng;
  std::normal_distribution<double> normal{0.0, 1.0};
  explicit offset_stream(std::uint64_t seed) : rng(seed) {}
  template <class S>
  void next(Eigen::Index d, vec<S>& x, S& y) {
    x.resize(d);
    double t = 250.0;
    for (Eigen::Index j = 0; j < d; ++j) {
      const double v = (j % 2 == 0 ? 40.0 : -3.0) + normal(rng);
      x(j) = static_cast<S>(v);
      t += (1.0 + 0.5 * static_cast<double>(j)) * static_cast<double>(x(j));
    }
    y = static_cast<S>(t + 0.1 * normal(rng));
  }
};

template <class Model>
Model made(const auto& opt, Eigen::Index d) {
  auto r = Model::make(opt, d);
  REQUIRE(r.has_value());
  return std::move(r).value();
}

}  // namespace

// At lambda = 1 the rls with intercept minimises |y - Xw - b 1|^2 + delta (|w|^2 + b^2): the
// ridge solution on [X, 1], solved here by Householder QR of [X, 1; sqrt(delta) I] in long
// double (independent of the recursion). The design is far from the origin (the intercept
// column is nearly collinear with the features' means, which worsens the conditioning
// against centred data); measured 1.8e-14 relative, asked 1e-11: room for a few hundred
// times the condition-scaled rounding of the recursion on other seeds or compilers.
// A model without the intercept misses the offset (its residual is checked far larger).
TEST_CASE("with_intercept: rls at lambda 1 equals the ridge solution on [X, 1]",
          "[models][with_intercept]") {
  const Eigen::Index n = 600, d = 3;
  const double delta = 1e-3;
  offset_stream gen(11);
  mat<double> X(n, d);
  vec<double> y(n), x;
  for (Eigen::Index i = 0; i < n; ++i) {
    gen.next(d, x, y(i));
    X.row(i) = x.transpose();
  }
  rls_options o;
  o.ridge = delta;
  auto m = made<with_intercept<rls<double, 3>>>(o, 3);
  auto plain = made<rls<double, 3>>(o, 3);
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::Vector3d xi = X.row(i).transpose();
    REQUIRE(m.update(xi, y(i)) == status::ok);
    REQUIRE(plain.update(xi, y(i)) == status::ok);
  }
  mat<long double> A = mat<long double>::Zero(n + d + 1, d + 1);
  vec<long double> b = vec<long double>::Zero(n + d + 1);
  A.topLeftCorner(n, d) = X.cast<long double>();
  A.col(d).head(n).setOnes();
  A.bottomRows(d + 1) =
      std::sqrt(static_cast<long double>(delta)) * mat<long double>::Identity(d + 1, d + 1);
  b.head(n) = y.cast<long double>();
  const vec<long double> ref = A.colPivHouseholderQr().solve(b);
  vec<long double> got(d + 1);
  got.head(d) = m.coefficients().cast<long double>();
  got(d) = m.intercept();
  const double rel = static_cast<double>((got - ref).norm() / ref.norm());
  INFO("relative error " << rel << ", intercept " << m.intercept());
  CHECK(rel < 1e-11);
  CHECK(m.samples_seen() == static_cast<std::uint64_t>(n));
  // Residuals on the training rows: noise level (0.1) with the intercept, far above without.
  double sse = 0.0, sse_plain = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::Vector3d xi = X.row(i).transpose();
    sse += std::pow(y(i) - m.predict(xi), 2);
    sse_plain += std::pow(y(i) - plain.predict(xi), 2);
  }
  CHECK(std::sqrt(sse / n) < 0.12);
  CHECK(std::sqrt(sse_plain / n) > 1.0);
}

// The adaptor adds nothing of its own to the arithmetic: every update is the inner model's
// update of [x; 1], so coefficients and covariance match a model of d + 1 features fed the
// augmented rows, bit for bit. predict is w'x + b, a different order of the same sum as the
// inner predict([x; 1]): within 4 eps of sum |w_i x_i| (two orders of d + 1 products).
TEMPLATE_TEST_CASE("with_intercept: updates equal the inner model on (x, 1), bit for bit",
                   "[models][with_intercept]", float, double) {
  using S = TestType;
  const Eigen::Index d = 5;
  rls_options o;
  o.forgetting_factor = 0.98;
  o.ridge = 1e-1;
  auto fixed = made<with_intercept<rls<S, 5>>>(o, d);
  auto dyn = made<with_intercept<rls<S>>>(o, d);
  auto twin = made<rls<S, 6>>(o, d + 1);
  auto dyn_twin = made<rls<S>>(o, d + 1);  // fixed and dynamic sizes round differently
  auto ln = made<with_intercept<nlms<S, 5>>>(livefit::nlms_options{0.5, 1e-3}, d);
  auto ln_twin = made<nlms<S, 6>>(livefit::nlms_options{0.5, 1e-3}, d + 1);
  offset_stream gen(3);
  vec<S> x;
  S y;
  double worst = 0.0;
  for (int i = 0; i < 400; ++i) {
    gen.next(d, x, y);
    Eigen::Matrix<S, 6, 1> xa;
    xa << x, S(1);
    const Eigen::Matrix<S, 5, 1> xf = x;
    REQUIRE(fixed.update(xf, y) == status::ok);
    REQUIRE(dyn.update(x, y) == status::ok);
    REQUIRE(twin.update(xa, y) == status::ok);
    REQUIRE(dyn_twin.update(vec<S>(xa), y) == status::ok);
    REQUIRE(ln.update(xf, y) == status::ok);
    REQUIRE(ln_twin.update(xa, y) == status::ok);
    const double scale = (twin.coefficients().cwiseProduct(xa)).cwiseAbs().sum();
    worst = std::max(worst, std::abs(static_cast<double>(fixed.predict(xf)) -
                                     static_cast<double>(twin.predict(xa))) /
                                std::max(scale, 1e-30));
  }
  CHECK(Eigen::Matrix<S, 6, 1>(fixed.model().coefficients()) == twin.coefficients());
  CHECK(vec<S>(dyn.model().coefficients()) == vec<S>(dyn_twin.coefficients()));
  CHECK(mat<S>(fixed.model().covariance()) == mat<S>(twin.covariance()));
  CHECK(mat<S>(dyn.model().covariance()) == mat<S>(dyn_twin.covariance()));
  CHECK(vec<S>(ln.model().coefficients()) == vec<S>(ln_twin.coefficients()));
  CHECK(fixed.intercept() == twin.coefficients()(d));
  CHECK(vec<S>(fixed.coefficients()) == vec<S>(twin.coefficients().head(d)));
  INFO("worst predict difference / sum |w_i x_i|: " << worst);
  CHECK(worst <= 4.0 * static_cast<double>(std::numeric_limits<S>::epsilon()));
  // The predictive variance at [x; 1], from the partitioned P, against the inner model's
  // own kernel: sums of d^2 terms in two orders, 8 d eps of sum |x_i P_ij x_j| (P is
  // positive definite and the entries here share a sign pattern, so that sum is close to
  // the value; measured well inside).
  const Eigen::Matrix<S, 5, 1> xf = x;
  Eigen::Matrix<S, 6, 1> xa;
  xa << x, S(1);
  const double want = static_cast<double>(twin.predictive_variance(xa));
  const mat<S> P = twin.covariance();
  const double mag = static_cast<double>(
      (xa.cwiseAbs().transpose() * P.cwiseAbs() * xa.cwiseAbs()).value());
  const double eps = static_cast<double>(std::numeric_limits<S>::epsilon());
  CHECK(std::abs(static_cast<double>(fixed.predictive_variance(xf)) - want) <=
        8.0 * static_cast<double>(d + 1) * eps * mag);
}

// update_block of the adaptor is the inner update_block of [X, 1] (bit for bit with the
// twin), and equals the same rows by update() to rounding (update_block's own contract,
// checked in the rls tests; measured 1.6e-14 relative in double on this data, asked 1e-11).
TEST_CASE("with_intercept: update_block equals the inner block on [X, 1]",
          "[models][with_intercept]") {
  const Eigen::Index d = 4, k = 20;
  rls_options o;
  o.forgetting_factor = 0.99;
  o.ridge = 1e-2;
  o.max_block = 32;
  auto m = made<with_intercept<rls<double, 4>>>(o, d);
  auto twin = made<rls<double, 5>>(o, d + 1);
  auto seq = made<with_intercept<rls<double, 4>>>(o, d);
  offset_stream gen(5);
  for (int b = 0; b < 10; ++b) {
    Eigen::Matrix<double, Eigen::Dynamic, 4> X(k, d);
    Eigen::Matrix<double, Eigen::Dynamic, 5> Xa(k, d + 1);
    vec<double> y(k), x;
    for (Eigen::Index r = 0; r < k; ++r) {
      gen.next(d, x, y(r));
      X.row(r) = x.transpose();
      Xa.row(r) << x.transpose(), 1.0;
      REQUIRE(seq.update(Eigen::Vector4d(x), y(r)) == status::ok);
    }
    REQUIRE(m.update_block(X, y) == status::ok);
    REQUIRE(twin.update_block(Xa, y) == status::ok);
  }
  CHECK(Eigen::Matrix<double, 5, 1>(m.model().coefficients()) == twin.coefficients());
  CHECK(mat<double>(m.model().covariance()) == mat<double>(twin.covariance()));
  const double rel = (m.model().coefficients() - seq.model().coefficients()).norm() /
                     seq.model().coefficients().norm();
  INFO("block against rows: " << rel);
  CHECK(rel < 1e-11);
  // Too many rows or the wrong width: refused, state kept.
  const auto before = state_bytes(m);
  using rows4 = Eigen::Matrix<double, Eigen::Dynamic, 4>;
  CHECK(m.update_block(rows4::Ones(33, 4), vec<double>::Ones(33)) == status::invalid_argument);
  CHECK(m.update_block(rows4::Ones(3, 4), vec<double>::Ones(2)) == status::dimension_mismatch);
  CHECK(state_bytes(m) == before);
}

TEST_CASE("with_intercept: bad input is refused with the state unchanged",
          "[models][with_intercept]") {
  auto m = made<with_intercept<rls<double>>>(rls_options{}, 3);
  REQUIRE(m.update(Eigen::Vector3d(1.0, 2.0, 3.0), 10.0) == status::ok);
  const auto before = state_bytes(m);
  CHECK(m.update(Eigen::Vector3d(1.0, std::nan(""), 3.0), 1.0) == status::non_finite_input);
  CHECK(m.update(Eigen::Vector3d(1.0, 2.0, 3.0), INFINITY) == status::non_finite_input);
  CHECK(m.update(Eigen::Vector4d(1.0, 2.0, 3.0, 4.0), 1.0) == status::dimension_mismatch);
  CHECK(state_bytes(m) == before);
  CHECK(m.dim() == 3);
  // Options the inner model refuses are refused with its message; so is a bad dimension.
  rls_options bad;
  bad.forgetting_factor = 2.0;
  const auto r = with_intercept<rls<double>>::make(bad, 3);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.rfind("rls: forgetting_factor", 0) == 0);
  CHECK_FALSE(with_intercept<rls<double, 3>>::make(rls_options{}, 4).has_value());
  CHECK_FALSE(with_intercept<rls<double>>::make(rls_options{}, 0).has_value());
}

TEST_CASE("with_intercept: no allocation per update, checkpoints are the inner model's",
          "[models][with_intercept]") {
  rls_options o;
  o.forgetting_factor = 0.99;
  auto fixed = made<with_intercept<rls<double, 4>>>(o, 4);
  auto dyn = made<with_intercept<rls<double>>>(o, 4);
  offset_stream gen(9);
  vec<double> x;
  double y = 0.0;
  Eigen::Matrix<double, Eigen::Dynamic, 4> X(8, 4);
  vec<double> yb(8);
  for (Eigen::Index r = 0; r < 8; ++r) {
    gen.next(4, x, yb(r));
    X.row(r) = x.transpose();
  }
  const Eigen::Vector4d xf(40.0, -3.0, 41.0, -2.0);
  const vec<double> xd = xf;
  if (livefit::test::alloc_counting_available()) {
    livefit::test::alloc_scope scope;
    double sink = 0.0;
    for (int i = 0; i < 200; ++i) {
      REQUIRE(fixed.update(xf, 300.0 + i) == status::ok);
      REQUIRE(dyn.update(xd, 300.0 + i) == status::ok);
      sink += fixed.predict(xf) + dyn.predict(xd) + fixed.predictive_variance(xf) +
              dyn.predictive_variance(xd);
    }
    REQUIRE(fixed.update_block(X, yb) == status::ok);
    REQUIRE(dyn.update_block(X, yb) == status::ok);
    CHECK(scope.count() == 0);
    CHECK(std::isfinite(sink));
  } else {
    WARN("allocation counting unavailable (sanitizer build): skipped");
  }
  gen.next(4, x, y);
  REQUIRE(dyn.update(x, y) == status::ok);
  // Round trip through the adaptor, and into the plain model of 5 features.
  const auto bytes = state_bytes(dyn);
  auto back = made<with_intercept<rls<double>>>(o, 4);
  livefit::byte_reader r(bytes);
  REQUIRE(back.load_state(r) == status::ok);
  CHECK(state_bytes(back) == bytes);
  CHECK(back.intercept() == dyn.intercept());
  auto plain = made<rls<double, 5>>(o, 5);
  livefit::byte_reader r5(bytes);
  REQUIRE(plain.load_state(r5) == status::ok);
  CHECK(plain.coefficients()(4) == dyn.intercept());
  // seed_from copies the whole state.
  auto challenger = made<with_intercept<rls<double>>>(o, 4);
  REQUIRE(challenger.seed_from(dyn) == status::ok);
  CHECK(state_bytes(challenger) == bytes);
  challenger.reset();
  CHECK(challenger.samples_seen() == 0);
  CHECK(challenger.intercept() == 0.0);
}

// merge() forwards to the inner decayed_least_squares: two shards with intercepts merged
// hold, bit for bit, what the inner models merged directly hold, and agree with one model
// over the whole stream to rounding. The stream is far from the origin (features near 40
// and -3, y near 300), so the normal equations of [X, 1] are ill-conditioned (kappa of the
// Gram matrix about 1.1e7); the two paths sum the same 600 terms per entry in different
// orders, so the worst case is about kappa 600 eps = 7e-7 relative in the coefficients;
// measured 2.9e-12 (lambda 1) and 7.7e-12 (0.995) with GCC 12 -O2, asked 1e-9.
// options() forwards the inner rls's.
TEST_CASE("with_intercept: merge of decayed_least_squares shards, options of rls",
          "[models][with_intercept]") {
  using model = with_intercept<decayed_least_squares<double>>;
  const Eigen::Index d = 3;
  for (const double lambda : {1.0, 0.995}) {
    INFO("lambda " << lambda);
    livefit::decayed_least_squares_options o;
    o.forgetting_factor = lambda;
    auto whole = made<model>(o, d);
    auto first = made<model>(o, d);
    auto second = made<model>(o, d);
    offset_stream gen(21);
    vec<double> x;
    double y = 0.0;
    for (int i = 0; i < 600; ++i) {
      gen.next(d, x, y);
      REQUIRE(whole.update(x, y) == status::ok);
      REQUIRE((i < 250 ? first : second).update(x, y) == status::ok);
    }
    auto inner = first.model();
    REQUIRE(inner.merge(second.model()) == status::ok);
    REQUIRE(first.merge(second) == status::ok);
    CHECK(state_bytes(first.model()) == state_bytes(inner));
    CHECK(first.samples_seen() == 600);
    vec<double> got(d + 1), want(d + 1);
    got << first.coefficients(), first.intercept();
    want << whole.coefficients(), whole.intercept();
    const double rel = (got - want).norm() / want.norm();
    CHECK(rel < 1e-9);
    // A shard of another dimension is refused, nothing changed.
    auto narrow = made<model>(o, d - 1);
    const auto before = state_bytes(first);
    CHECK(first.merge(narrow) == status::dimension_mismatch);
    CHECK(state_bytes(first) == before);
  }
  rls_options ro;
  ro.forgetting_factor = 0.98;
  ro.max_block = 12;
  const auto wi = made<with_intercept<rls<double, 3>>>(ro, 3);
  CHECK(wi.options().forgetting_factor == 0.98);
  CHECK(wi.options().max_block == 12);
  CHECK(wi.options().max_trace == wi.model().options().max_trace);
}
