// Tests for livefit/stats/running_stats.hpp and livefit/stats/rolling_window.hpp: hard
// inputs against long-double references, exact merge, the sliding window against a brute
// force, rejection, checkpoints and allocation.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "state_bytes.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/stats/rolling_window.hpp"
#include "livefit/stats/running_stats.hpp"

using namespace livefit;

namespace {

static_assert(checkpointable<running_stats<double>>);
static_assert(checkpointable<rolling_window<float>>);

using livefit::test::state_bytes;

// Two-pass mean and (n - ddof) variance in long double: the reference.
struct reference {
  long double mean;
  long double var;
};
reference two_pass(const std::vector<double>& v, std::size_t from, std::size_t to, int ddof) {
  long double s = 0;
  for (std::size_t i = from; i < to; ++i) s += v[i];
  const long double n = static_cast<long double>(to - from);
  const long double m = s / n;
  long double q = 0;
  for (std::size_t i = from; i < to; ++i) q += (v[i] - m) * (v[i] - m);
  return {m, q / (n - ddof)};
}

// Hard input: 1e9 plus a multiple of ulp(1e9) = 2^-23 within +-1e-3 (exact doubles).
std::vector<double> near_1e9(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<std::int64_t> k(-8388, 8388);
  std::vector<double> v(n);
  for (double& x : v) x = 1e9 + static_cast<double>(k(gen)) * 0x1p-23;
  return v;
}

}  // namespace

TEST_CASE("running_stats: variance at mean 1e9 and spread 1e-3 matches long double",
          "[stats][running_stats]") {
  const std::uint64_t seed = 31337;
  INFO("seed " << seed);
  const std::vector<double> v = near_1e9(100'000, seed);
  auto s = running_stats<double>::make().value();
  for (double x : v) REQUIRE(s.update(x) == status::ok);
  const reference ref = two_pass(v, 0, v.size(), 1);
  // Shifted by the first value, every input is exact (|x - x0| < 2e-3) and the Welford
  // recursion runs at the scale of the spread: its error bound is a few n*eps relative in
  // the worst case, about 1e-13 in practice; 1e-9 leaves room and still fails an unshifted
  // E[x^2] - E[x]^2 by many orders of magnitude.
  CHECK_THAT(*s.variance(), WithinRel(static_cast<double>(ref.var), 1e-9));
  CHECK_THAT(*s.mean(), WithinAbs(static_cast<double>(ref.mean), 1.2e-7));  // 1 ulp of 1e9
  CHECK(*s.min() == *std::min_element(v.begin(), v.end()));
  CHECK(*s.max() == *std::max_element(v.begin(), v.end()));
  CHECK(s.count() == v.size());
}

TEST_CASE("running_stats: merge of shards equals one pass", "[stats][running_stats]") {
  const std::uint64_t seed = 4242;
  INFO("seed " << seed);
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> d(-7.0, 3.0);
  std::vector<double> v(10'007);
  for (double& x : v) x = d(gen);
  // Shards of unequal size, including an empty one, merged in order.
  const std::size_t cuts[] = {0, 1, 1, 500, 4096, 10'007};
  auto whole = running_stats<double>::make().value();
  for (double x : v) REQUIRE(whole.update(x) == status::ok);
  auto merged = running_stats<double>::make().value();
  for (std::size_t k = 0; k + 1 < std::size(cuts); ++k) {
    auto shard = running_stats<double>::make().value();
    for (std::size_t i = cuts[k]; i < cuts[k + 1]; ++i) REQUIRE(shard.update(v[i]) == status::ok);
    REQUIRE(merged.merge(shard) == status::ok);
  }
  const reference ref = two_pass(v, 0, v.size(), 1);
  CHECK(merged.count() == whole.count());
  CHECK(*merged.min() == *whole.min());  // min and max are exact
  CHECK(*merged.max() == *whole.max());
  // Merge and single pass differ by rounding only: n*eps-sized bounds, observed ~1e-15.
  CHECK_THAT(*merged.mean(), WithinRel(static_cast<double>(ref.mean), 1e-13));
  CHECK_THAT(*merged.variance(), WithinRel(static_cast<double>(ref.var), 1e-12));
  CHECK_THAT(*whole.variance(), WithinRel(static_cast<double>(ref.var), 1e-12));

  SECTION("shards far apart and near 1e9 keep their digits") {
    const std::vector<double> h = near_1e9(2000, seed + 1);
    auto a = running_stats<double>::make().value();
    auto b = running_stats<double>::make().value();
    for (std::size_t i = 0; i < 1000; ++i) REQUIRE(a.update(h[i]) == status::ok);
    for (std::size_t i = 1000; i < 2000; ++i) REQUIRE(b.update(h[i]) == status::ok);
    REQUIRE(a.merge(b) == status::ok);
    const reference r2 = two_pass(h, 0, h.size(), 1);
    CHECK_THAT(*a.variance(), WithinRel(static_cast<double>(r2.var), 1e-9));  // as above
  }
}

TEST_CASE("running_stats: empty and single values report no variance",
          "[stats][running_stats]") {
  auto s = running_stats<float>::make().value();
  CHECK_FALSE(s.mean().has_value());
  CHECK_FALSE(s.min().has_value());
  REQUIRE(s.update(2.5f) == status::ok);
  CHECK(*s.mean() == 2.5f);
  CHECK_FALSE(s.variance().has_value());  // ddof 1: needs two values
  running_stats_options pop;
  pop.ddof = 0;
  auto p = running_stats<float>::make(pop).value();
  REQUIRE(p.update(2.5f) == status::ok);
  CHECK(*p.variance() == 0.0f);
  pop.ddof = 2;
  CHECK(running_stats<float>::make(pop).error().message ==
        "running_stats: ddof must be 0 or 1, got 2");
}

TEST_CASE("running_stats: rejection and checkpoint", "[stats][running_stats]") {
  auto s = running_stats<double>::make().value();
  for (double x : {3.0, 1.0, 4.0, 1.0, 5.0}) REQUIRE(s.update(x) == status::ok);
  const std::vector<std::uint8_t> before = state_bytes(s);
  CHECK(s.update(std::numeric_limits<double>::quiet_NaN()) == status::non_finite_input);
  CHECK(s.update(-std::numeric_limits<double>::infinity()) == status::non_finite_input);
  CHECK(state_bytes(s) == before);
  // Values 2e300 apart: the squared deviation overflows; refused, never an infinite variance.
  auto huge = running_stats<double>::make().value();
  REQUIRE(huge.update(1e300) == status::ok);
  REQUIRE(huge.update(1e300) == status::ok);
  const std::vector<std::uint8_t> big = state_bytes(huge);
  CHECK(huge.update(-1e300) == status::numerical_failure);
  CHECK(state_bytes(huge) == big);
  auto far = running_stats<double>::make().value();
  REQUIRE(far.update(-1e300) == status::ok);
  REQUIRE(far.update(-1e300) == status::ok);
  CHECK(huge.merge(far) == status::numerical_failure);
  CHECK(state_bytes(huge) == big);
  auto t = running_stats<double>::make().value();
  byte_reader r(before);
  REQUIRE(t.load_state(r) == status::ok);
  CHECK(state_bytes(t) == before);
  std::vector<std::uint8_t> bad = before;
  bad.resize(bad.size() - 1);
  byte_reader rb(bad);
  auto u = running_stats<double>::make().value();
  CHECK(u.load_state(rb) == status::invalid_argument);
  CHECK_FALSE(u.mean().has_value());
}

TEMPLATE_TEST_CASE("rolling_window: matches a brute force over the last values",
                   "[stats][rolling_window]", float, double) {
  const std::uint64_t seed = 777;
  INFO("seed " << seed);
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> d(-50.0, 50.0);
  for (std::uint64_t cap : {std::uint64_t{1}, std::uint64_t{7}, std::uint64_t{64}}) {
    rolling_window_options o;
    o.capacity = cap;
    auto w = rolling_window<TestType>::make(o).value();
    std::vector<double> seen;
    for (int t = 0; t < 1000; ++t) {
      // Repeated values (rounded draws) exercise ties in the monotonic queues.
      const auto x = static_cast<TestType>(std::round(d(gen)) / 4);
      seen.push_back(static_cast<double>(x));
      REQUIRE(w.update(x) == status::ok);
      const std::size_t to = seen.size();
      const std::size_t from = to > cap ? to - cap : 0;
      INFO("capacity " << cap << " step " << t);
      REQUIRE(w.count() == to - from);
      REQUIRE(double(*w.min()) == *std::min_element(seen.begin() + long(from), seen.end()));
      REQUIRE(double(*w.max()) == *std::max_element(seen.begin() + long(from), seen.end()));
      const reference ref = two_pass(seen, from, to, 1);
      // Values below 12.5 in magnitude; at most one window of add/remove rounding before
      // the sums are re-derived: 64 steps * a few eps * scale^2, with room (float 2e-3).
      const double tol = sizeof(TestType) == 8 ? 1e-10 : 2e-3;
      REQUIRE_THAT(double(*w.mean()), WithinAbs(static_cast<double>(ref.mean), tol));
      if (to - from > 1)
        REQUIRE_THAT(double(*w.variance()), WithinAbs(static_cast<double>(ref.var), tol * 10));
      else
        REQUIRE_FALSE(w.variance().has_value());
    }
  }
}

TEST_CASE("rolling_window: variance at mean 1e9 and spread 1e-3 over many windows",
          "[stats][rolling_window]") {
  const std::uint64_t seed = 2026;
  INFO("seed " << seed);
  const std::vector<double> v = near_1e9(20'000, seed);
  rolling_window_options o;
  o.capacity = 500;
  auto w = rolling_window<double>::make(o).value();
  double worst = 0;
  for (std::size_t t = 0; t < v.size(); ++t) {
    REQUIRE(w.update(v[t]) == status::ok);
    if (t + 1 >= 500 && t % 97 == 0) {
      const reference ref = two_pass(v, t + 1 - 500, t + 1, 1);
      worst = std::max(worst, std::abs(*w.variance() / static_cast<double>(ref.var) - 1));
    }
  }
  // Inputs exact once shifted; add/remove rounding at the spread's scale over at most one
  // window: observed ~1e-13, asked 1e-9 (an unshifted window loses every digit here).
  CHECK(worst < 1e-9);
}

TEST_CASE("rolling_window: never allocates after make(), rejection, checkpoint",
          "[stats][rolling_window]") {
  rolling_window_options o;
  CHECK(rolling_window<double>::make(o).error().message ==
        "rolling_window: capacity must be in [1, 2^32], got 0");
  o.capacity = 100;
  auto w = rolling_window<double>::make(o).value();
  if (test::alloc_counting_available()) {
    test::alloc_scope scope;
    bool ok = true;
    for (int i = 0; i < 1'000'000; ++i) ok &= w.update(std::sin(i * 0.01)) == status::ok;
    CHECK(ok);
    CHECK(scope.count() == 0);
  } else {
    WARN("allocation counting unavailable in this build (sanitizers): skipped");
  }
  const std::vector<std::uint8_t> before = state_bytes(w);
  CHECK(w.update(std::numeric_limits<double>::quiet_NaN()) == status::non_finite_input);
  CHECK(w.update(1e300) == status::numerical_failure);  // (1e300)^2 overflows
  CHECK(state_bytes(w) == before);
  CHECK(*w.max() <= 1.0);

  auto v = rolling_window<double>::make(o).value();
  byte_reader r(before);
  REQUIRE(v.load_state(r) == status::ok);
  CHECK(r.done());
  CHECK(state_bytes(v) == before);
  for (int i = 0; i < 250; ++i) {
    REQUIRE(w.update(i * 0.5) == status::ok);
    REQUIRE(v.update(i * 0.5) == status::ok);
  }
  CHECK(state_bytes(v) == state_bytes(w));
  CHECK(*v.min() == *w.min());

  o.capacity = 99;
  auto other = rolling_window<double>::make(o).value();
  REQUIRE(other.update(1.0) == status::ok);
  const std::vector<std::uint8_t> other_before = state_bytes(other);
  byte_reader ro(before);
  CHECK(other.load_state(ro) == status::invalid_argument);
  CHECK(state_bytes(other) == other_before);
}

TEST_CASE("rolling_window: ten million values on a drifting level stay accurate",
          "[stats][rolling_window][.soak]") {
  // A random walk of the level (so the shift goes stale between re-derivations) plus noise;
  // checked against a long-double two-pass over the window every 99,991 values.
  const std::uint64_t seed = 8675309;
  INFO("seed " << seed);
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> step(0.0, 1e-2);
  std::normal_distribution<double> noise(0.0, 1.0);
  rolling_window_options o;
  o.capacity = 4096;
  auto w = rolling_window<double>::make(o).value();
  std::vector<double> ring(4096);
  double level = 1e6;
  for (std::uint64_t t = 0; t < 10'000'000; ++t) {
    level += step(gen);
    const double x = level + noise(gen);
    ring[t % 4096] = x;
    REQUIRE(w.update(x) == status::ok);
    if (t >= 4096 && t % 99'991 == 0) {
      const reference ref = two_pass(ring, 0, ring.size(), 1);
      // ulp(1e6) = 1.2e-10 on unit-variance noise, one window of add/remove rounding.
      REQUIRE_THAT(*w.variance(), WithinRel(static_cast<double>(ref.var), 1e-9));
      REQUIRE(*w.min() == *std::min_element(ring.begin(), ring.end()));
      REQUIRE(*w.max() == *std::max_element(ring.begin(), ring.end()));
    }
  }
}

// --- checkpoint invariants (issue 5 follow-up) ---------------------------------------------

namespace {

/// A rolling_window<double> record (layout 1) written by hand: header, capacity, count,
/// sequence, shift, mean and m2 (relative to the shift), then the values oldest first.
std::vector<std::uint8_t> window_record(std::uint64_t cap, std::uint64_t seq, double shift,
                                        double mean, double m2,
                                        const std::vector<double>& values) {
  byte_writer w;
  w.put_u8(1);
  w.put_u8(sizeof(double));
  w.put_u64(cap);
  w.put_u64(values.size());
  w.put_u64(seq);
  for (double v : {shift, mean, m2}) w.put_f64(v);
  for (double v : values) w.put_f64(v);
  return w.bytes();
}

}  // namespace

TEST_CASE("rolling_window: load_state refuses sums that disagree with the values",
          "[stats][rolling_window][checkpoint]") {
  rolling_window_options o;
  o.capacity = 4;
  auto w = rolling_window<double>::make(o).value();
  REQUIRE(w.update(7.0) == status::ok);
  const auto before = state_bytes(w);
  const auto expect_refused = [&](const std::vector<std::uint8_t>& bytes) {
    byte_reader r(bytes);
    CHECK(w.load_state(r) == status::invalid_argument);
    CHECK(state_bytes(w) == before);
  };
  // Defect: shift = 1e300 over {1, 2} loaded, and mean() was 1e300.
  expect_refused(window_record(4, 2, 1e300, -1e300 + 1.5, 0.5, {1.0, 2.0}));
  // A mean or m2 off from the values, a negative m2, sums on an empty window.
  expect_refused(window_record(4, 2, 1.0, 7.0, 0.5, {1.0, 2.0}));
  expect_refused(window_record(4, 2, 1.0, 0.5, 9.0, {1.0, 2.0}));
  expect_refused(window_record(4, 2, 1.0, 0.5, -0.5, {1.0, 2.0}));
  expect_refused(window_record(4, 0, 3.0, 0.0, 0.0, {}));
  // The consistent record of the same values loads, and reports what it holds.
  const auto good = window_record(4, 2, 1.0, 0.5, 0.5, {1.0, 2.0});
  byte_reader r(good);
  REQUIRE(w.load_state(r) == status::ok);
  CHECK(*w.mean() == 1.5);
  // Round trip of a real, long-running window (many updates between rederives) still loads.
  auto x = rolling_window<double>::make(o).value();
  std::mt19937_64 rng(5);
  std::printf("rolling_window checkpoint round trip: seed 5\n");
  std::normal_distribution<double> g(1e6, 1e3);
  for (int i = 0; i < 1003; ++i) REQUIRE(x.update(g(rng)) == status::ok);
  const auto bytes = state_bytes(x);
  byte_reader rx(bytes);
  REQUIRE(w.load_state(rx) == status::ok);
  CHECK(state_bytes(w) == bytes);
}

TEST_CASE("running_stats: load_state refuses moments no update sequence produces",
          "[stats][running_stats][checkpoint]") {
  auto s = running_stats<double>::make({}).value();
  REQUIRE(s.update(2.0) == status::ok);
  const auto before = state_bytes(s);
  // Header, n, then shift, mean (of x - shift), m2, min, max.
  const auto record = [](std::uint64_t n, double shift, double mean, double m2, double lo,
                         double hi) {
    byte_writer w;
    w.put_u8(1);
    w.put_u8(sizeof(double));
    w.put_u64(n);
    for (double v : {shift, mean, m2, lo, hi}) w.put_f64(v);
    return w.bytes();
  };
  for (const auto& bad : {record(2, 1e300, 0.0, 0.5, 1.0, 2.0),   // shift outside [min, max]
                          record(2, 1.0, 1e300, 0.5, 1.0, 2.0),   // mean outside [min, max]
                          record(2, 1.0, 0.5, 1e6, 1.0, 2.0),     // m2 beyond n range^2 / 4
                          record(1, 1.0, 0.0, 0.5, 1.0, 1.0),     // one value with a spread
                          record(0, 1.0, 0.0, 0.0, 1.0, 1.0)}) {  // empty with values
    byte_reader r(bad);
    CHECK(s.load_state(r) == status::invalid_argument);
    CHECK(state_bytes(s) == before);
  }
  const auto good = record(2, 1.0, 0.5, 0.5, 1.0, 2.0);
  byte_reader r(good);
  REQUIRE(s.load_state(r) == status::ok);
  CHECK(*s.mean() == 1.5);
}
