// rls at the end of its precision: updates that would cancel P along x below the rounding
// error of the result are refused (rls::usable), so P stays positive semidefinite and every
// state the model reaches reloads from its own checkpoint. Also: update_block with an X of
// a compile-time row count.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

#include "catch.hpp"
#include "state_bytes.hpp"
#include "livefit/models/rls.hpp"

namespace {

using livefit::rls;
using livefit::rls_block_method;
using livefit::rls_options;
using livefit::status;
using livefit::test::state_bytes;

template <class S>
using mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

// The smallest eigenvalue of the model's P over its trace, from an eigensolver in long
// double (its own error is about 1e-19 of the trace, far below what is asserted).
template <class S>
long double min_eigen_over_trace(const rls<S>& m) {
  const mat<S> P = m.covariance();
  const mat<long double> Pl = P.template cast<long double>();
  Eigen::SelfAdjointEigenSolver<mat<long double>> es(Pl, Eigen::EigenvaluesOnly);
  return es.eigenvalues()(0) / static_cast<long double>(m.covariance_trace());
}

}  // namespace

// At the prior P = I / ridge, with x = (a, 0, ..., 0): sum_i x_i^2 P_ii = a^2 / ridge, and
// the update goes ahead while that is <= lambda / (2 eps) (rls::usable): the threshold in
// closed form. Factors of 4 on each side of it stay clear of its rounding.
TEMPLATE_TEST_CASE("rls: a first update that would cancel P beyond the precision is refused",
                   "[models][rls][precision]", float, double) {
  using S = TestType;
  const double eps = std::numeric_limits<S>::epsilon();
  const Eigen::Index d = 2;
  const double lambda = GENERATE(1.0, 0.9);
  const auto method = GENERATE(rls_block_method::kernels, rls_block_method::rows);
  INFO("lambda " << lambda << ", block method " << static_cast<int>(method));
  rls_options o;
  o.forgetting_factor = lambda;
  o.ridge = 1.0;
  o.block_method = method;
  const double limit = lambda / (2.0 * eps);
  for (const double factor : {0.25, 4.0}) {
    INFO("a^2 = " << factor << " times the threshold");
    const S a = static_cast<S>(std::sqrt(factor * limit));
    vec<S> x = vec<S>::Zero(d);
    x(0) = a;
    auto m = *rls<S>::make(o, d);
    const auto before = state_bytes(m);
    const status st = m.update(x, S(1));
    if (factor < 1) {
      CHECK(st == status::ok);
    } else {
      CHECK(st == status::numerical_failure);
      CHECK(state_bytes(m) == before);
    }
    // The same row second in a block of three: all or nothing. After the first row P_00 is
    // 0.56 (lambda 1) or 0.59 (lambda 0.9) of the prior, and the block kernels count the
    // diagonal of the chunk's start twice: both factors stay on their side either way.
    auto b = *rls<S>::make(o, d);
    mat<S> X(3, d);
    X << S(1), S(0.5), a, S(0), S(-0.5), S(1);
    vec<S> y(3);
    y << S(1), S(1), S(1);
    const status sb = b.update_block(X, y);
    if (factor < 1) {
      CHECK(sb == status::ok);
    } else {
      CHECK(sb == status::numerical_failure);
      CHECK(state_bytes(b) == before);
    }
  }
}

// The review's case (issue 4): double, d = 2, lambda = 1, rows near sqrt(max) / 2. Before
// the check, such rows were accepted, P came out indefinite (an eigenvalue of -0.84
// trace(P) in the sweep below) and load_state refused save_state's own bytes.
TEST_CASE("rls: rows near sqrt(max) are refused and the state reloads",
          "[models][rls][precision]") {
  rls_options o;
  o.forgetting_factor = 1.0;
  auto m = *rls<double>::make(o, 2);
  const double big = std::sqrt(std::numeric_limits<double>::max()) / 2;
  const Eigen::Vector2d rows[] = {{1.0, 0.5}, {big, 0.3 * big}, {-0.2 * big, big}, {0.7, -1.1}};
  int accepted = 0;
  for (const auto& x : rows) accepted += m.update(x, 0.5 * x(0)) == status::ok ? 1 : 0;
  CHECK(accepted == 2);  // the two rows of scale 1
  CHECK(min_eigen_over_trace(m) > 0);
  const auto bytes = state_bytes(m);
  livefit::byte_reader r(bytes);
  auto other = *rls<double>::make(o, 2);
  REQUIRE(other.load_state(r) == status::ok);
  CHECK(state_bytes(other) == bytes);
}

// A sweep of streams built to reach the precision's end: a third of the rows scaled by
// 10^u with u uniform over +-log10(sqrt(max)), a third collinear (all features equal, up
// to 1e-9 relative), forgetting factors from 0.5 to 1, ridges from 1e-4 to 1e2, dimensions
// 1 to 6, by update() and by blocks of 1 to 12 rows with both block methods. After each
// stream the state is "sound" when the smallest eigenvalue of P is >= -2 d eps trace(P)
// (the rounding bound the update itself allows for x'P x) and save_state's bytes load
// again; a state that loads saves the same bytes again. Without the precision check of
// rls::usable about two thirds of such streams end unsound (in a scaled-up run 51,000 of
// 75,000 in double, 48,000 of 75,000 in float); with it, 5 and 47. Its estimate is not a
// worst-case bound (the documented limitation), so a few streams here still end unsound:
// measured 0 in double and 2 in float of 4,500 each (portable build; others round
// differently). The bound below, 1% of each mode's streams, is 20 times the measured float
// rate and 60 times below the rate without the check.
TEMPLATE_TEST_CASE("rls: states reached at the precision's end stay sound and reload",
                   "[models][rls][precision]", float, double) {
  using S = TestType;
  const double eps = std::numeric_limits<S>::epsilon();
  const int mode = GENERATE(0, 1, 2);  // update(); blocks by kernels; blocks by rows
  INFO("mode " << mode);
  const unsigned seed = 11;
  INFO("seed " << seed);
  std::mt19937_64 rng(seed + static_cast<unsigned>(mode));
  std::normal_distribution<double> N(0.0, 1.0);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  const double lmax = std::log10(std::sqrt(static_cast<double>(std::numeric_limits<S>::max())));
  const double lambdas[] = {1.0, 0.999, 0.99, 0.9, 0.5};
  int streams = 0, accepted = 0, rows = 0, unsound = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    const Eigen::Index d = 1 + trial % 6;
    rls_options o;
    o.forgetting_factor = lambdas[trial % 5];
    o.ridge = std::pow(10.0, -4.0 + 6.0 * U(rng));
    o.block_method = mode == 2 ? rls_block_method::rows : rls_block_method::kernels;
    auto made = rls<S>::make(o, d);
    if (!made) continue;  // a ridge outside float's range for this d
    auto m = std::move(*made);
    const int n = 1 + static_cast<int>(U(rng) * 60);
    for (int t = 0; t < n; ++t) {
      const Eigen::Index k = mode == 0 ? 1 : 1 + static_cast<Eigen::Index>(U(rng) * 12);
      mat<S> X(k, d);
      vec<S> y(k);
      for (Eigen::Index r = 0; r < k; ++r) {
        const double sc = U(rng) < 0.3 ? std::pow(10.0, lmax * (2 * U(rng) - 1)) : 1.0;
        const bool collinear = U(rng) < 0.3;
        for (Eigen::Index j = 0; j < d; ++j)
          X(r, j) = static_cast<S>(sc * (collinear ? 1.0 + 1e-9 * N(rng) : N(rng)));
        y(r) = static_cast<S>(sc * N(rng));
      }
      const status st = mode == 0 ? m.update(X.row(0).transpose(), y(0)) : m.update_block(X, y);
      rows += static_cast<int>(k);
      if (st == status::ok) accepted += static_cast<int>(k);
    }
    INFO("trial " << trial << ", d = " << d << ", lambda " << o.forgetting_factor
                  << ", ridge " << o.ridge);
    const bool psd = min_eigen_over_trace(m) >= -2.0L * d * eps;
    const auto bytes = state_bytes(m);
    livefit::byte_reader r(bytes);
    auto other = *rls<S>::make(o, d);
    const bool loads = other.load_state(r) == status::ok;
    if (loads) CHECK(state_bytes(other) == bytes);
    unsound += (psd && loads) ? 0 : 1;
    ++streams;
  }
  INFO("unsound states: " << unsound << " of " << streams);
  CHECK(unsound <= streams / 100);
  // The sweep is not a sweep of refusals: most rows still go in (measured 0.86-0.87 of
  // single rows; a block goes in whole or not at all, so fewer of its rows).
  CHECK(streams > 1000);
  CHECK(static_cast<double>(accepted) / rows > (mode == 0 ? 0.8 : 0.25));
}

// update_block with X of a fixed row count (Matrix<S, 3, 5>), fixed- and dynamic-size
// models, both methods. With such an X, GCC 12 -O2 warned (-Waggressive-loop-optimizations,
// on by default) in the kernels' sample_columns and -Werror builds failed; this file is
// built with -Werror. Values: the rows method is bit-identical to three update() calls,
// the kernels agree within 64 eps relative (three steps of 2 d eps each, d = 5).
TEMPLATE_TEST_CASE("rls: update_block takes an X with a compile-time row count",
                   "[models][rls][block]", float, double) {
  using S = TestType;
  const auto method = GENERATE(rls_block_method::kernels, rls_block_method::rows);
  INFO("block method " << static_cast<int>(method));
  rls_options o;
  o.forgetting_factor = 0.98;
  o.ridge = 0.1;
  o.block_method = method;
  Eigen::Matrix<S, 3, 5> X;
  X << S(1.0), S(-0.5), S(0.25), S(2.0), S(-1.0),  //
      S(0.3), S(1.2), S(-0.7), S(0.1), S(0.9),      //
      S(-1.1), S(0.4), S(0.8), S(-0.6), S(0.2);
  const Eigen::Matrix<S, 3, 1> y(S(0.5), S(-1.0), S(2.0));
  auto seq = *rls<S, 5>::make(o);
  for (Eigen::Index i = 0; i < 3; ++i)
    REQUIRE(seq.update(X.row(i).transpose(), y(i)) == status::ok);
  auto fixed = *rls<S, 5>::make(o);
  auto dynamic = *rls<S>::make(o, 5);
  REQUIRE(fixed.update_block(X, y) == status::ok);
  REQUIRE(dynamic.update_block(X, y) == status::ok);
  const S tol = S(64) * std::numeric_limits<S>::epsilon();
  const S scale = seq.coefficients().cwiseAbs().maxCoeff();
  if (method == rls_block_method::rows) {
    CHECK(fixed.coefficients() == seq.coefficients());
  } else {
    CHECK((fixed.coefficients() - seq.coefficients()).cwiseAbs().maxCoeff() <= tol * scale);
  }
  CHECK((dynamic.coefficients() - seq.coefficients()).cwiseAbs().maxCoeff() <= tol * scale);
  CHECK(fixed.samples_seen() == 3);
}

// A float P that is positive definite (smallest eigenvalue 1.6e-6 against 100, in long
// double from the float values themselves) but whose Cholesky in float fails on its own
// rounding: 100 (I - u u') + 1e-6 u u' rounded to float, found by a search over random u.
// set_state and load_state factor a copy in double, so both take it; the model can reach
// such a P (one direction learned far below the others).
TEST_CASE("rls: set_state and load_state take a float P that float Cholesky refuses",
          "[models][rls][precision]") {
  Eigen::Matrix3f P;
  P << 0x1.72ef36p+4f, 0x1.43291p+3f, -0x1.47cb28p+5f,  //
      0x1.43291p+3f, 0x1.8ab07ep+6f, 0x1.58bfd8p+2f,     //
      -0x1.47cb28p+5f, 0x1.58bfd8p+2f, 0x1.3893b4p+6f;
  const mat<long double> Pl = P.cast<long double>();
  Eigen::SelfAdjointEigenSolver<mat<long double>> es(Pl, Eigen::EigenvaluesOnly);
  REQUIRE(es.eigenvalues()(0) > 1e-6L);  // positive definite as stored
  // The float factorisation fails in the portable build (where this was found); another
  // instruction set may round it otherwise, and the case is then not exercised.
  if (Eigen::LLT<Eigen::Matrix3f>(P).info() == Eigen::Success)
    WARN("float Cholesky takes this P in this build: the case is not exercised");
  auto m = *rls<float>::make(rls_options{}, 3);
  const Eigen::Vector3f w(0.5f, -1.0f, 2.0f);
  REQUIRE(m.set_state(w, P) == status::ok);
  CHECK(m.covariance() == mat<float>(P));
  const auto bytes = state_bytes(m);
  livefit::byte_reader r(bytes);
  auto other = *rls<float>::make(rls_options{}, 3);
  REQUIRE(other.load_state(r) == status::ok);
  CHECK(state_bytes(other) == bytes);
}
