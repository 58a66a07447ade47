// Tests of livefit::decayed_least_squares: the weighted objective, exact merge, singular
// designs, bad input and checkpoints.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <Eigen/Dense>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "state_bytes.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/models/decayed_least_squares.hpp"

namespace {

using livefit::decayed_least_squares;
using livefit::status;
using dls = decayed_least_squares<double>;

static_assert(livefit::regressor<decayed_least_squares<double, 3>>);
static_assert(livefit::regressor<decayed_least_squares<float>>);
static_assert(livefit::checkpointable<decayed_least_squares<double, 3>>);

using livefit::test::state_bytes;

struct stream {
  Eigen::MatrixXd X;
  Eigen::VectorXd y;
};

stream make_stream(unsigned seed, Eigen::Index n, Eigen::Index d) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> N(0.0, 1.0);
  stream s{Eigen::MatrixXd(n, d), Eigen::VectorXd(n)};
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < d; ++j) s.X(i, j) = N(rng);
    s.y(i) = s.X(i, 0) - 0.5 * s.X(i, d - 1) + 0.1 * N(rng);
  }
  return s;
}

dls make_dls(double lambda, double ridge, Eigen::Index d) {
  auto r = dls::make({lambda, ridge, 1}, d);
  REQUIRE(r.has_value());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("decayed_least_squares: make validates its options", "[models][dls]") {
  auto r = dls::make({1.5, 1e-2, 1}, 3);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message ==
        "decayed_least_squares: forgetting_factor must be in [2.22507e-308, 1], got 1.5");
  CHECK_FALSE(dls::make({0.9, -1.0, 1}, 3).has_value());
  CHECK_FALSE(dls::make({0.9, 1e-2, 0}, 3).has_value());
  CHECK_FALSE(dls::make({0.9, 1e-2, 1}, 0).has_value());
}

TEST_CASE("decayed_least_squares: solves the explicitly weighted ridge problem",
          "[models][dls]") {
  const unsigned seed = 11;
  INFO("seed " << seed);
  const Eigen::Index n = 300, d = 4;
  const double lambda = 0.97, delta = 0.5;
  const stream s = make_stream(seed, n, d);
  auto m = make_dls(lambda, delta, d);
  for (Eigen::Index i = 0; i < n; ++i)
    REQUIRE(m.update(s.X.row(i).transpose(), s.y(i)) == status::ok);
  // Independent reference: weighted QR of [sqrt(W) X; sqrt(lambda^n delta) I].
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(n + d, d);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(n + d);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double sw = std::sqrt(std::pow(lambda, static_cast<double>(n - 1 - i)));
    A.row(i) = sw * s.X.row(i);
    b(i) = sw * s.y(i);
  }
  A.bottomRows(d) = std::sqrt(std::pow(lambda, static_cast<double>(n)) * delta) *
                    Eigen::MatrixXd::Identity(d, d);
  const Eigen::VectorXd ref = A.colPivHouseholderQr().solve(b);
  // kappa about 3 on a 33-sample memory: 1e-12 relative is ~5000 eps, a loose bound.
  CHECK((m.coefficients() - ref).norm() / ref.norm() < 1e-12);
  CHECK_THAT(m.prior_weight(), WithinRel(std::pow(lambda, 300.0), 1e-12));
}

TEST_CASE("decayed_least_squares: merge of two shards equals one model over both",
          "[models][dls]") {
  const unsigned seed = 12;
  INFO("seed " << seed);
  const Eigen::Index d = 5;
  const stream s = make_stream(seed, 700, d);
  for (const double lambda : {1.0, 0.995}) {
    INFO("lambda " << lambda);
    auto whole = make_dls(lambda, 1e-2, d);
    auto first = make_dls(lambda, 1e-2, d);
    auto second = make_dls(lambda, 1e-2, d);
    for (Eigen::Index i = 0; i < 700; ++i) {
      const Eigen::VectorXd x = s.X.row(i).transpose();
      REQUIRE(whole.update(x, s.y(i)) == status::ok);
      REQUIRE((i < 400 ? first : second).update(x, s.y(i)) == status::ok);
    }
    REQUIRE(first.merge(second) == status::ok);
    CHECK(first.samples_seen() == 700);
    // Same sums in a different association order: agreement to rounding (kappa about 2).
    CHECK((first.coefficients() - whole.coefficients()).norm() / whole.coefficients().norm() <
          1e-12);
    CHECK_THAT(first.prior_weight(), WithinRel(whole.prior_weight(), 1e-12));
    // The statistics themselves, not only the solution: each entry of A and b is the same
    // sum of 700 terms in another order (and lambda^300 applied to the first shard's partial
    // sum instead of term by term), so the two differ by at most about 700 eps times the sum
    // of the terms' magnitudes (Higham, eq. 3.5). Here that sum is of the size of the largest
    // entry (A's diagonal and b's first entry are about 700 at lambda 1): 1e-12 relative to
    // the largest entry is about 6 times the worst case (measured about 1e-15).
    const double dA = (first.weighted_gram() - whole.weighted_gram()).cwiseAbs().maxCoeff();
    const double db = (first.weighted_moment() - whole.weighted_moment()).cwiseAbs().maxCoeff();
    INFO("max |A - A_whole| " << dA << ", max |b - b_whole| " << db);
    CHECK(dA <= 1e-12 * whole.weighted_gram().cwiseAbs().maxCoeff());
    CHECK(db <= 1e-12 * whole.weighted_moment().cwiseAbs().maxCoeff());
    CHECK(first.weighted_gram() == first.weighted_gram().transpose());
  }
  auto other = make_dls(0.9, 1e-2, d);
  auto mine = make_dls(0.995, 1e-2, d);
  const auto before = state_bytes(mine);
  CHECK(mine.merge(other) == status::invalid_argument);
  CHECK(mine.merge(make_dls(0.995, 1e-1, d)) == status::invalid_argument);
  CHECK(mine.merge(make_dls(0.995, 1e-2, d - 1)) == status::dimension_mismatch);
  CHECK(state_bytes(mine) == before);
}

// A merge whose system has no finite solution is refused with nothing changed (it used to
// merge the statistics, then report the failed solve). Tiny x and a huge y: A = 1e-320
// (subnormal), b = 1e140, and the prior 1e-300, so w = b / (A + prior) overflows; each
// shard's own solve fails the same way (update() keeps w and says ok, see solve()). A model
// merged with itself is also checked against a merge with its copy.
TEST_CASE("decayed_least_squares: a merge that cannot solve changes nothing",
          "[models][dls]") {
  auto a = make_dls(1.0, 1e-300, 1);
  auto b = make_dls(1.0, 1e-300, 1);
  Eigen::VectorXd x(1);
  x << 1e-160;
  REQUIRE(a.update(x, 1e300) == status::ok);
  REQUIRE(b.update(x, 1e300) == status::ok);
  REQUIRE(a.solve() == status::numerical_failure);
  const auto before = state_bytes(a);
  CHECK(a.merge(b) == status::numerical_failure);
  CHECK(state_bytes(a) == before);
  CHECK(a.samples_seen() == 1);
  // Self-merge: the same bits as merging an identical copy.
  auto c = make_dls(0.99, 1e-2, 3);
  const stream s = make_stream(8, 50, 3);
  for (Eigen::Index i = 0; i < 50; ++i)
    REQUIRE(c.update(s.X.row(i).transpose(), s.y(i)) == status::ok);
  auto copy = c;
  auto twin = c;
  REQUIRE(c.merge(c) == status::ok);
  REQUIRE(twin.merge(copy) == status::ok);
  CHECK(state_bytes(c) == state_bytes(twin));
  CHECK(c.samples_seen() == 100);
}

TEST_CASE("decayed_least_squares: singular and collinear designs stay finite",
          "[models][dls]") {
  auto m = make_dls(0.9, 1e-3, 3);
  Eigen::VectorXd x(3);
  for (int i = 0; i < 5000; ++i) {
    const double t = std::sin(0.1 * i);
    x << 1.0, t, 2.0 * t;  // rank 2; lambda^n delta -> 0 makes the system singular
    REQUIRE(m.update(x, 1.0 + t) == status::ok);
  }
  CHECK(m.coefficients().allFinite());
  x << 1.0, 0.3, 0.6;
  CHECK_THAT(m.predict(x), WithinAbs(1.3, 1e-6));  // exact on the span of the data
}

TEST_CASE("decayed_least_squares: rejected input leaves the state bit-identical",
          "[models][dls]") {
  auto m = make_dls(0.99, 1e-2, 3);
  Eigen::VectorXd x(3);
  x << 1.0, 2.0, 3.0;
  REQUIRE(m.update(x, 1.0) == status::ok);
  const auto before = state_bytes(m);
  Eigen::VectorXd bad = x;
  bad(2) = std::numeric_limits<double>::quiet_NaN();
  CHECK(m.update(bad, 1.0) == status::non_finite_input);
  CHECK(m.update(x, std::numeric_limits<double>::infinity()) == status::non_finite_input);
  CHECK(m.update(Eigen::VectorXd::Ones(4), 1.0) == status::dimension_mismatch);
  CHECK(m.update(Eigen::VectorXd::Constant(3, 1e200), 1.0) == status::numerical_failure);
  CHECK(state_bytes(m) == before);
}

TEST_CASE("decayed_least_squares: update and solve allocate nothing", "[models][dls]") {
  if (!livefit::test::alloc_counting_available()) {
    WARN("allocation counting unavailable (sanitizer build): skipped");
    return;
  }
  auto m = make_dls(0.99, 1e-2, 12);
  auto f = decayed_least_squares<float, 4>::make({0.99, 1e-2, 1});
  REQUIRE(f.has_value());
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(12, -1.0, 1.0);
  Eigen::Vector4f xf(1.0f, 2.0f, -1.0f, 0.5f);
  double sink = 0;
  livefit::test::alloc_scope scope;
  for (int i = 0; i < 5000; ++i) {
    x(0) = std::sin(0.1 * i);
    xf(1) = static_cast<float>(x(0));
    sink += static_cast<double>(m.update(x, 1.0)) + m.predict(x);
    sink += static_cast<double>(f->update(xf, 1.0f)) + static_cast<double>(f->predict(xf));
  }
  CHECK(scope.count() == 0);
  CHECK(std::isfinite(sink));
}

TEST_CASE("decayed_least_squares: checkpoint round trip", "[models][dls]") {
  auto a = make_dls(0.99, 1e-2, 3);
  Eigen::VectorXd x(3);
  for (int i = 0; i < 50; ++i) {
    x << 1.0, std::sin(i), std::cos(i);
    REQUIRE(a.update(x, x(2)) == status::ok);
  }
  const auto bytes = state_bytes(a);
  auto b = make_dls(1.0, 1.0, 3);
  livefit::byte_reader r(bytes);
  REQUIRE(b.load_state(r) == status::ok);
  CHECK(state_bytes(b) == bytes);
  auto truncated = bytes;
  truncated.pop_back();
  auto c = make_dls(1.0, 1.0, 3);
  const auto c_before = state_bytes(c);
  livefit::byte_reader r2(truncated);
  CHECK(c.load_state(r2) != status::ok);
  CHECK(state_bytes(c) == c_before);
}

// Issue 4 defect 3: update(x = 1, y = 1.5e308) twice returned ok both times with b = inf,
// after which w never changed and solve() failed: the guard bounded y x, not lambda b + y x.
TEST_CASE("decayed_least_squares: an update that would overflow b is refused",
          "[models][decayed_least_squares]") {
  auto m = decayed_least_squares<double, 1>::make({});
  REQUIRE(m.has_value());
  using V = Eigen::Matrix<double, 1, 1>;
  REQUIRE(m->update(V(1.0), 1.5e308) == status::ok);
  const V b = m->weighted_moment();
  const auto A = m->weighted_gram();
  const V w = m->coefficients();
  CHECK(m->update(V(1.0), 1.5e308) == status::numerical_failure);
  CHECK(m->weighted_moment() == b);
  CHECK(m->weighted_gram() == A);
  CHECK(m->coefficients() == w);
  CHECK(m->samples_seen() == 1);
  CHECK(std::isfinite(m->weighted_moment()(0)));
  // Ordinary data still updates the model afterwards.
  REQUIRE(m->update(V(1.0), 1.0) == status::ok);
  CHECK(m->solve() == status::ok);
}

// Issue 4 defect 1, same kind: a forgetting factor or ridge that is not a normal number of
// the scalar type is refused at make(), with the range.
TEST_CASE("decayed_least_squares: make refuses subnormal parameters",
          "[models][decayed_least_squares]") {
  auto r = decayed_least_squares<float, 2>::make({1e-40, 1e-2, 1});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message ==
        "decayed_least_squares: forgetting_factor must be in [1.17549e-38, 1], got 1e-40");
  CHECK_FALSE(decayed_least_squares<double, 2>::make({0.5, 5e-324, 1}).has_value());
}
