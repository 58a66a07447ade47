// Tests for deploy/traffic_split.hpp: the documented hash, case C21 (sticky split, monotone
// in the fraction, exact end points, no fall-through), weights and random assignment.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "livefit/deploy/traffic_split.hpp"

using namespace livefit;

namespace {

traffic_split made(const traffic_split_options& o) {
  auto r = traffic_split::make(o);
  REQUIRE(r.has_value());
  return std::move(r).value();
}

/// |share - f| <= 4 standard errors of a binomial share over n keys (the C21 tolerance).
bool within_binomial(std::size_t hits, std::size_t n, double f) {
  const double nd = static_cast<double>(n);
  const double se = std::sqrt(f * (1.0 - f) / nd);
  return std::fabs(static_cast<double>(hits) / nd - f) <= 4.0 * se;
}

std::vector<std::string> user_keys(std::size_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (std::size_t i = 0; i < n; ++i) keys.push_back("user-" + std::to_string(i));
  return keys;
}

}  // namespace

// The hash is part of the contract: the values below come from an independent Python
// implementation of the documented construction (python3 3.11, integers masked to 64 bits):
//   fnv(h, data): for b in data: h ^= b; h = h * 0x100000001b3 mod 2^64
//   fmix(h): h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53;
//            h ^= h >> 33
//   H(name, key) = fmix(fnv(0xcbf29ce484222325, name + b":" + key bytes)),
//   u = (H >> 11) / 2^53; integer keys as 8 little-endian bytes.
// A change in any of them moves every user to another arm: the test pins them.
TEST_CASE("traffic_split: the hash matches its documented definition", "[deploy][split]") {
  // FNV-1a 64 published test vectors (Fowler, Noll, Vo).
  STATIC_REQUIRE(split_hash::fnv1a(split_hash::fnv_offset, std::string_view("")) ==
                 0xcbf29ce484222325ULL);
  STATIC_REQUIRE(split_hash::fnv1a(split_hash::fnv_offset, std::string_view("a")) ==
                 0xaf63dc4c8601ec8cULL);
  STATIC_REQUIRE(split_hash::fnv1a(split_hash::fnv_offset, std::string_view("foobar")) ==
                 0x85944171f73967e8ULL);
  const auto s = made({.name = "exp-A", .weights = {0.5, 0.5}});
  CHECK(s.hash("user-0") == 0xf3197e125ca3a997ULL);
  CHECK(s.hash("user-1") == 0xfa6e291969b9dc90ULL);
  CHECK(s.hash("user-99999") == 0x7594c251ded0005fULL);
  CHECK(s.unit("user-0") == 0.9496077341870107);  // exact: 53-bit integer times 2^-53
  CHECK(s.unit("user-99999") == 0.45930113314426535);
  CHECK(s.hash(std::uint64_t{0}) == 0xe9e78b218946683eULL);
  CHECK(s.hash(std::uint64_t{1}) == 0x8a32eee206012b2eULL);
  CHECK(s.hash(std::uint64_t{123456789}) == 0xd5edabb2e758ec80ULL);
  CHECK(s.unit(std::uint64_t{1}) == 0.5398396779837681);
  // The name salts the hash: another split assigns independently.
  const auto other = made({.name = "exp-B"});
  CHECK(other.hash("user-0") != s.hash("user-0"));
}

// Case C21 (handout): keys user-0 ... user-99999, split "exp-A".
TEST_CASE("traffic_split: C21 canary is sticky, nested and exact at 0 and 1",
          "[deploy][split][C21]") {
  const std::size_t n = 100000;
  const auto keys = user_keys(n);
  const auto s = made({.name = "exp-A"});
  auto members = [&](double f) {
    std::vector<char> in(n);
    for (std::size_t i = 0; i < n; ++i) in[i] = s.in_canary(keys[i], f) ? 1 : 0;
    return in;
  };
  auto size = [](const std::vector<char>& in) {
    std::size_t c = 0;
    for (char x : in) c += x != 0 ? 1U : 0U;
    return c;
  };
  const auto t0 = members(0.0);
  const auto t05 = members(0.05);
  const auto t10 = members(0.10);
  const auto t50 = members(0.50);
  const auto t100 = members(1.0);
  const auto t10_again = members(0.10);
  CHECK(size(t0) == 0);     // f = 0: nobody
  CHECK(size(t100) == n);   // f = 1: everybody
  CHECK(t10_again == t10);  // back to 0.10: exactly the same set
  bool nested = true;       // T(0.05) within T(0.10) within T(0.50), exactly
  for (std::size_t i = 0; i < n; ++i) nested = nested && (t05[i] <= t10[i]) && (t10[i] <= t50[i]);
  CHECK(nested);
  // Counts from the Python reference above: 5009, 10105, 50140; within 4 SE as the case asks.
  CHECK(size(t05) == 5009);
  CHECK(size(t10) == 10105);
  CHECK(size(t50) == 50140);
  CHECK(within_binomial(size(t05), n, 0.05));
  CHECK(within_binomial(size(t10), n, 0.10));
  CHECK(within_binomial(size(t50), n, 0.50));
}

TEST_CASE("traffic_split: C21 weighted arms take every key, ends go to the end arms",
          "[deploy][split][C21]") {
  const std::size_t n = 100000;
  const auto keys = user_keys(n);
  const auto s = made({.name = "exp-A", .weights = {0.5, 0.3, 0.2}});
  std::vector<std::size_t> per_arm(3, 0);
  bool sticky = true;  // same arm on a second call
  for (const auto& k : keys) {
    const std::size_t a = s.arm(k);
    REQUIRE(a < 3);  // never a fall-through to a default
    ++per_arm[a];
    sticky = sticky && s.arm(k) == a;
  }
  CHECK(sticky);
  CHECK(per_arm[0] + per_arm[1] + per_arm[2] == n);
  CHECK(per_arm[0] == 50140);  // Python reference: thresholds 0.5 and 0.8 on u
  CHECK(per_arm[1] == 30107);
  CHECK(per_arm[2] == 19753);
  CHECK(within_binomial(per_arm[0], n, 0.5));
  CHECK(within_binomial(per_arm[1], n, 0.3));
  CHECK(within_binomial(per_arm[2], n, 0.2));
  // Extremes: the smallest hash goes to the first arm, the largest to the last.
  CHECK(s.arm_for_hash(0) == 0);
  CHECK(s.arm_for_hash(std::numeric_limits<std::uint64_t>::max()) == 2);
  CHECK(s.arm_for_unit(std::nextafter(1.0, 0.0)) == 2);
  // Weights whose running sum rounds below 1 (0.1 * 10 in binary): the top still has an arm.
  const auto tenths = made({.weights = std::vector<double>(10, 0.1)});
  CHECK(tenths.arm_for_hash(std::numeric_limits<std::uint64_t>::max()) == 9);
}

TEST_CASE("traffic_split: zero-weight arms never take a key", "[deploy][split]") {
  const auto s = made({.name = "z", .weights = {0.0, 1.0, 0.0}});
  CHECK(s.arm_for_hash(0) == 1);
  CHECK(s.arm_for_hash(std::numeric_limits<std::uint64_t>::max()) == 1);
  for (std::uint64_t k = 0; k < 10000; ++k) REQUIRE(s.arm(k) == 1);
  CHECK(s.share(0) == 0.0);
  CHECK(s.share(1) == 1.0);
}

TEST_CASE("traffic_split: integer keys keep their arm as the canary grows", "[deploy][split]") {
  const auto s = made({.name = "exp-A"});
  const std::uint64_t n = 100000;
  const double fractions[] = {0.01, 0.05, 0.25, 0.5, 1.0};
  std::size_t counts[5] = {};
  std::size_t left = 0;  // keys that were in the canary and dropped out as it grew
  for (std::uint64_t k = 0; k < n; ++k) {
    bool before = false;
    for (std::size_t j = 0; j < 5; ++j) {
      const bool now = s.in_canary(k, fractions[j]);
      left += before && !now ? 1U : 0U;
      counts[j] += now ? 1U : 0U;
      before = now;
    }
  }
  CHECK(left == 0);
  CHECK(counts[1] == 5113);  // Python reference, integer keys 0 .. 99999
  CHECK(counts[3] == 50324);
  for (std::size_t j = 0; j < 4; ++j) CHECK(within_binomial(counts[j], n, fractions[j]));
  CHECK(counts[4] == n);
  CHECK_FALSE(s.in_canary(std::uint64_t{7}, std::numeric_limits<double>::quiet_NaN()));
}

TEST_CASE("traffic_split: random assignment is seeded, deterministic and unbiased",
          "[deploy][split]") {
  const std::uint64_t seed = 424242;
  INFO("seed " << seed);
  auto a = made({.weights = {0.7, 0.2, 0.1}, .seed = seed});
  auto b = made({.weights = {0.7, 0.2, 0.1}, .seed = seed});
  auto c = made({.weights = {0.7, 0.2, 0.1}, .seed = seed + 1});
  auto d = made({.seed = seed});
  const std::size_t n = 200000;
  std::size_t per_arm[3] = {};
  std::size_t same_as_c = 0;
  std::size_t canary = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t x = a.random_arm();
    REQUIRE(x == b.random_arm());  // same seed, same sequence
    same_as_c += x == c.random_arm() ? 1U : 0U;
    ++per_arm[x];
    canary += d.random_in_canary(0.05) ? 1U : 0U;
  }
  CHECK(within_binomial(per_arm[0], n, 0.7));
  CHECK(within_binomial(per_arm[1], n, 0.2));
  CHECK(within_binomial(per_arm[2], n, 0.1));
  CHECK(within_binomial(canary, n, 0.05));
  // Another seed gives another sequence: agreement at the chance level 0.7^2 + 0.2^2 + 0.1^2.
  CHECK(within_binomial(same_as_c, n, 0.54));
}

TEST_CASE("traffic_split: options out of range are refused with a message", "[deploy][split]") {
  auto a = traffic_split::make({.weights = {}});
  REQUIRE_FALSE(a);
  CHECK(a.error().message == "traffic_split: weights must have 1 to 16 entries, got 0");
  auto b = traffic_split::make({.weights = {0.5, -0.1}});
  REQUIRE_FALSE(b);
  CHECK(b.error().message == "traffic_split: weights[1] must be finite and >= 0, got -0.1");
  auto c = traffic_split::make({.weights = {0.0, 0.0}});
  REQUIRE_FALSE(c);
  CHECK(c.error().message == "traffic_split: weights must have a positive, finite sum, got 0");
  auto d = traffic_split::make({.weights = std::vector<double>(17, 1.0)});
  REQUIRE_FALSE(d);
  auto e = traffic_split::make({.weights = {1.0, std::numeric_limits<double>::infinity()}});
  REQUIRE_FALSE(e);
  CHECK(e.error().code == errc::invalid_argument);
}

TEST_CASE("traffic_split: keyed and random assignment allocate nothing", "[deploy][split][alloc]") {
  if (!test::alloc_counting_available()) {
    WARN("allocation counting not available in this build (sanitizers)");
    return;
  }
  auto s = made({.name = "exp-A", .weights = {0.5, 0.3, 0.2}});
  std::size_t sum = 0;
  test::alloc_scope scope;
  for (std::uint64_t k = 0; k < 100000; ++k) {
    sum += s.arm(k) + (s.in_canary(k, 0.25) ? 1U : 0U) + s.random_arm();
    sum += s.arm(std::string_view("user-42"));
  }
  CHECK(scope.count() == 0);
  CHECK(sum > 0);
}
