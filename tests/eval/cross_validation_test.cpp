// Tests for livefit/eval/cross_validation.hpp, with two small models written here: a
// recursive least squares with forgetting and ridge, and an EMA of the target.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "catch.hpp"
#include "livefit/eval/cross_validation.hpp"

using namespace livefit;

namespace {

/// Textbook exponentially weighted RLS (Haykin, Adaptive Filter Theory, 4th ed., table 9.1),
/// P(0) = I / ridge. Enough for tests; the library's own RLS lives in models/.
template <int D>
class toy_rls {
 public:
  using scalar_type = double;
  using vector_type = Eigen::Matrix<double, D, 1>;

  toy_rls(double lambda, double ridge, Eigen::Index dim = D)
      : lambda_(lambda), w_(vector_type::Zero(dim)),
        p_(Eigen::Matrix<double, D, D>::Identity(dim, dim) / ridge) {}

  status update(const vector_type& x, double y) noexcept {
    if (!x.allFinite() || !std::isfinite(y)) return status::non_finite_input;
    const vector_type px = p_ * x;
    const vector_type k = px / (lambda_ + x.dot(px));
    w_ += k * (y - w_.dot(x));
    p_ = (p_ - k * px.transpose()) / lambda_;
    return status::ok;
  }
  double predict(const vector_type& x) const noexcept { return w_.dot(x); }
  Eigen::Index dim() const noexcept { return w_.size(); }
  const vector_type& weights() const noexcept { return w_; }

 private:
  double lambda_;
  vector_type w_;
  Eigen::Matrix<double, D, D> p_;
};

/// Predicts an exponentially weighted mean of the targets (ignores x).
class ema_level {
 public:
  using scalar_type = double;
  using vector_type = Eigen::Matrix<double, 1, 1>;

  explicit ema_level(double half_life) : alpha_(1.0 - std::exp2(-1.0 / half_life)) {}
  status update(const vector_type&, double y) noexcept {
    if (!std::isfinite(y)) return status::non_finite_input;
    level_ = seen_ ? level_ + alpha_ * (y - level_) : y;
    seen_ = true;
    return status::ok;
  }
  double predict(const vector_type&) const noexcept { return level_; }
  Eigen::Index dim() const noexcept { return 1; }

 private:
  double alpha_;
  double level_{0.0};
  bool seen_{false};
};

static_assert(regressor<toy_rls<3>>);
static_assert(regressor<toy_rls<Eigen::Dynamic>>);
static_assert(regressor<ema_level>);

struct data_set {
  Eigen::MatrixXd X;
  Eigen::VectorXd y;
};

/// y = x . w + noise(sd 0.5); w flips sign of its first weight at `change` (n: none).
data_set linear_data(Eigen::Index n, Eigen::Index change, std::uint64_t seed) {
  std::printf("cross_validation data: seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  data_set d{Eigen::MatrixXd(n, 3), Eigen::VectorXd(n)};
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < 3; ++j) d.X(i, j) = z(rng);
    const double w0 = i < change ? 1.5 : -1.5;
    d.y(i) = w0 * d.X(i, 0) + 0.5 * d.X(i, 1) - 0.25 * d.X(i, 2) + 0.5 * z(rng);
  }
  return d;
}

}  // namespace

TEST_CASE("k_fold: each fold's loss equals a batch least-squares fit of the other folds",
          "[eval][cross_validation]") {
  const auto d = linear_data(400, 400, 31);
  k_fold_options o;
  o.folds = 4;
  o.seed = 99;
  // lambda = 1 and a negligible ridge: RLS after its training pass is ordinary least squares.
  const auto r = k_fold([] { return toy_rls<3>(1.0, 1e-9); }, d.X, d.y, o);
  REQUIRE(r.has_value());
  REQUIRE(r->fold_loss.size() == 4);
  // Rebuild the folds: every sample belongs to exactly one, sizes 100 each.
  std::size_t total = 0;
  for (auto s : r->fold_size) total += s;
  CHECK(total == 400);
  CHECK(r->fold_size[0] == 100);
  // Independent reference for the pooled picture: a batch OLS fit on all data has residual
  // variance ~0.25 (noise sd 0.5); held-out MSE must be close to it (within 20%: 100-sample
  // folds, 3 parameters).
  for (double l : r->fold_loss) CHECK_THAT(l, WithinRel(0.25, 0.2));
  CHECK_THAT(r->mean_loss, WithinRel(0.25, 0.1));

  // Exact check of every fold against a batch solve. RLS with lambda = 1 and P(0) = I / r
  // minimises sum (y - w.x)^2 + r |w|^2 exactly, so each fold's model equals the ridge
  // solution (A'A + r I)^-1 A'b of the other folds (independent closed form, Eigen LDLT).
  const double ridge = 1e-3;
  const auto exact = k_fold([ridge] { return toy_rls<3>(1.0, ridge); }, d.X, d.y, o);
  REQUIRE(exact.has_value());
  const auto fold_of = k_fold_assignment(400, 4, 99);
  for (std::size_t f = 0; f < 4; ++f) {
    Eigen::Matrix3d gram = ridge * Eigen::Matrix3d::Identity();
    Eigen::Vector3d rhs = Eigen::Vector3d::Zero();
    for (Eigen::Index i = 0; i < 400; ++i) {
      if (fold_of[static_cast<std::size_t>(i)] == f) continue;
      gram += d.X.row(i).transpose() * d.X.row(i);
      rhs += d.X.row(i).transpose() * d.y(i);
    }
    const Eigen::Vector3d w = gram.ldlt().solve(rhs);
    double sum = 0.0;
    std::size_t count = 0;
    for (Eigen::Index i = 0; i < 400; ++i) {
      if (fold_of[static_cast<std::size_t>(i)] != f) continue;
      const double e = d.y(i) - d.X.row(i).dot(w);
      sum += e * e;
      ++count;
    }
    INFO("fold " << f);
    CHECK(exact->fold_size[f] == count);
    // 1e-9 relative: textbook RLS against LDLT on a well-conditioned 3x3 problem; measured
    // differences are below 1e-12.
    CHECK_THAT(exact->fold_loss[f], WithinRel(sum / static_cast<double>(count), 1e-9));
  }
}

TEST_CASE("k_fold: same seed same folds, other seed other folds, bad options refused",
          "[eval][cross_validation]") {
  const auto d = linear_data(200, 200, 33);
  k_fold_options o;
  o.seed = 7;
  const auto factory = [] { return toy_rls<Eigen::Dynamic>(1.0, 1e-6, 3); };
  const auto a = k_fold(factory, d.X, d.y, o);
  const auto b = k_fold(factory, d.X, d.y, o);
  o.seed = 8;
  const auto c = k_fold(factory, d.X, d.y, o);
  REQUIRE((a.has_value() && b.has_value() && c.has_value()));
  CHECK(a->fold_loss == b->fold_loss);
  CHECK(a->fold_loss != c->fold_loss);
  o.folds = 1;
  auto bad = k_fold(factory, d.X, d.y, o);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "k_fold: folds must be in [2, 200], got 1");
  o.folds = 5;
  Eigen::VectorXd short_y = d.y.head(10);
  CHECK_FALSE(k_fold(factory, d.X, short_y, o).has_value());
  Eigen::MatrixXd wide(200, 4);
  wide.setZero();
  CHECK_FALSE(k_fold([] { return toy_rls<3>(1.0, 1.0); }, wide, d.y, o).has_value());
  // A dynamic model of another dimension is refused before any update, with both sizes.
  auto wrong_dim = k_fold([] { return toy_rls<Eigen::Dynamic>(1.0, 1.0, 4); }, d.X, d.y, o);
  REQUIRE_FALSE(wrong_dim.has_value());
  CHECK(wrong_dim.error().message == "k_fold: the model's dimension is 4 but X has 3 columns");
  Eigen::MatrixXd with_nan = d.X;
  with_nan(17, 1) = std::nan("");
  auto refused = k_fold(factory, with_nan, d.y, o);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("row 17 (non_finite_input)") != std::string::npos);
}

TEST_CASE("rolling_origin: folds score only the future and equal a manual replay",
          "[eval][cross_validation]") {
  const auto d = linear_data(300, 300, 34);
  rolling_origin_options o;
  o.initial = 100;
  o.horizon = 40;
  o.step = 25;
  const auto r = rolling_origin([] { return toy_rls<3>(0.99, 1.0); }, d.X, d.y, o);
  REQUIRE(r.has_value());
  // Origins 100, 125, ..., 250 (250 + 40 <= 300): 7 folds.
  REQUIRE(r->fold_loss.size() == 7);
  // Manual replay of fold 2 (origin 150): learn 0..149, score 150..189.
  toy_rls<3> m(0.99, 1.0);
  for (Eigen::Index i = 0; i < 150; ++i)
    REQUIRE(m.update(d.X.row(i).transpose(), d.y(i)) == status::ok);
  double sum = 0.0;
  for (Eigen::Index i = 150; i < 190; ++i) {
    const double e = d.y(i) - m.predict(d.X.row(i).transpose());
    sum += e * e;
  }
  CHECK_THAT(r->fold_loss[2], WithinULP(sum / 40.0, 0));  // same operations, same order
  o.initial = 280;
  CHECK_FALSE(rolling_origin([] { return toy_rls<3>(0.99, 1.0); }, d.X, d.y, o).has_value());
}

TEST_CASE("grid_search: picks forgetting < 1 after a change, ~1 without one",
          "[eval][cross_validation]") {
  const std::vector<double> lambdas = {0.9, 0.97, 0.995, 1.0};
  rolling_origin_options o;
  o.initial = 50;
  o.horizon = 25;
  const auto search = [&](const data_set& d) {
    return grid_search(lambdas, [&](double lambda) {
      return rolling_origin([lambda] { return toy_rls<3>(lambda, 1.0); }, d.X, d.y, o);
    });
  };
  // The first weight flips at sample 500 of 1000: forgetting must win.
  const auto drifting = search(linear_data(1000, 500, 35));
  REQUIRE(drifting.has_value());
  std::printf("grid_search drifting: best lambda %g (loss %.4f)\n", drifting->best,
              drifting->best_loss);
  CHECK(drifting->best < 1.0);
  CHECK(drifting->mean_loss.size() == 4);
  // Stationary: the least forgetting wins (a short memory only adds variance).
  const auto stationary = search(linear_data(1000, 1000, 36));
  REQUIRE(stationary.has_value());
  std::printf("grid_search stationary: best lambda %g\n", stationary->best);
  CHECK(stationary->best >= 0.995);
}

TEST_CASE("grid_search: ridge and EMA half-life grids, errors propagate",
          "[eval][cross_validation]") {
  const auto d = linear_data(60, 60, 37);
  const std::vector<double> ridges = {1e-3, 1.0, 1e4};
  k_fold_options o;
  o.folds = 3;
  const auto ridge = grid_search(ridges, [&](double r) {
    return k_fold([r] { return toy_rls<3>(1.0, r); }, d.X, d.y, o);
  });
  REQUIRE(ridge.has_value());
  // P(0) = I / ridge: ridge 1e4 pins the weights near 0, the worst on signal-rich data.
  CHECK(ridge->best_index < 2);
  CHECK(ridge->mean_loss[2] > ridge->mean_loss[ridge->best_index]);

  // EMA half-life on a level that jumps every 100 samples: a short half-life wins.
  Eigen::MatrixXd X = Eigen::MatrixXd::Zero(1000, 1);
  Eigen::VectorXd y(1000);
  for (Eigen::Index i = 0; i < 1000; ++i) y(i) = (i / 100) % 2 == 0 ? 0.0 : 5.0;
  rolling_origin_options ro;
  ro.initial = 10;
  ro.horizon = 5;
  const std::vector<double> half_lives = {2.0, 50.0, 500.0};
  const auto ema = grid_search(half_lives, [&](double h) {
    return rolling_origin([h] { return ema_level(h); }, X, y, ro);
  });
  REQUIRE(ema.has_value());
  CHECK(ema->best == 2.0);

  auto empty = grid_search(std::vector<double>{},
                           [&](double) { return result<cv_report>(cv_report{}); });
  CHECK_FALSE(empty.has_value());
  auto failing = grid_search(ridges, [&](double) {
    return result<cv_report>(fail(errc::invalid_argument, "boom"));
  });
  REQUIRE_FALSE(failing.has_value());
  CHECK(failing.error().message == "boom");
}
