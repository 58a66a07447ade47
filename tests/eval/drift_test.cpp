// Tests for the drift detectors: cusum.hpp, page_hinkley.hpp, ddm.hpp, eddm.hpp, adwin.hpp.
//
// Every random stream uses std::mt19937_64 with the seed printed; the Monte Carlo references
// are the handout's numpy figures (numpy 1.24.2) or the closed forms named next to them.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "livefit/eval/adwin.hpp"
#include "livefit/eval/cusum.hpp"
#include "livefit/eval/ddm.hpp"
#include "livefit/eval/eddm.hpp"
#include "livefit/eval/page_hinkley.hpp"

using namespace livefit;

static_assert(drift_detector<cusum>);
static_assert(drift_detector<page_hinkley>);
static_assert(drift_detector<ddm>);
static_assert(drift_detector<eddm>);
static_assert(drift_detector<adwin>);

namespace {

std::mt19937_64 seeded(std::uint64_t seed, const char* what) {
  std::printf("%s: seed %llu\n", what, static_cast<unsigned long long>(seed));
  return std::mt19937_64(seed);
}

/// Feeds a stream, returns the indices at which state() == drift.
template <class D, class Stream>
std::vector<std::uint64_t> drifts_of(D& d, std::uint64_t n, Stream&& next) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t t = 0; t < n; ++t) {
    if (d.update(next(t)) != status::ok) {
      out.push_back(std::numeric_limits<std::uint64_t>::max());  // makes the test fail
      break;
    }
    if (d.state() == drift_state::drift) out.push_back(t);
  }
  return out;
}

/// Checks that non-finite input is refused and changes nothing: the detector and an
/// untouched copy then see the same 2000 values (C10's stream c: 0/1 errors at rate 0.1, then
/// 0.5 from t = 1000, valid input for every detector) and must agree on every state and drift
/// count.
template <class D>
void check_rejects_non_finite(D d) {
  D twin = d;
  CHECK(d.update(std::numeric_limits<double>::quiet_NaN()) == status::non_finite_input);
  CHECK(d.update(std::numeric_limits<double>::infinity()) == status::non_finite_input);
  CHECK(d.update(-std::numeric_limits<double>::infinity()) == status::non_finite_input);
  bool same = d.state() == twin.state();
  for (std::uint64_t t = 0; t < 2000; ++t) {
    const double x = (t < 1000 ? t % 10 == 0 : t % 2 == 0) ? 1.0 : 0.0;
    same = same && d.update(x) == twin.update(x) && d.state() == twin.state() &&
           d.drift_count() == twin.drift_count();
  }
  CHECK(same);
}

/// Feeds 1e5 values and expects no allocation. Without allocation counting (sanitizer
/// builds) the values are still fed, so checks that follow see the same detector.
template <class D, class Stream>
void check_no_allocation(D& d, Stream&& next) {
  const bool counting = test::alloc_counting_available();
  if (!counting) WARN("allocation counting unavailable (sanitizer build)");
  test::alloc_scope scope;
  for (std::uint64_t t = 0; t < 100000; ++t) (void)d.update(next(t));
  if (counting) CHECK(scope.count() == 0);
}

/// Mean run length to the first drift of a fresh copy of `proto`, over `runs` streams.
template <class D>
double mean_run_length(const D& proto, int runs, double shift, std::mt19937_64& rng,
                       double* share_within_1000 = nullptr) {
  std::normal_distribution<double> z(0.0, 1.0);
  double total = 0.0;
  int within = 0;
  for (int r = 0; r < runs; ++r) {
    D d = proto;
    std::uint64_t t = 0;
    do {
      ++t;
      (void)d.update(z(rng) + shift);
    } while (d.state() != drift_state::drift);
    total += static_cast<double>(t);
    within += t <= 1000 ? 1 : 0;
  }
  if (share_within_1000) *share_within_1000 = within / static_cast<double>(runs);
  return total / runs;
}

}  // namespace

// --- cusum -------------------------------------------------------------------------------------

TEST_CASE("cusum: factory names the bad parameter and its range", "[eval][cusum]") {
  cusum_options o;
  o.h = 0.0;
  auto r = cusum::make(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("h must be in (0, inf)") != std::string::npos);
  o = {};
  o.sigma = 0.0;
  CHECK_FALSE(cusum::make(o).has_value());
  o = {};
  o.warning_h = 6.0;
  CHECK_FALSE(cusum::make(o).has_value());
  o = {};
  o.k = -1.0;
  CHECK_FALSE(cusum::make(o).has_value());
}

TEST_CASE("cusum: statistics follow the tabular recursion, with the floor at 0",
          "[eval][cusum]") {
  auto d = cusum::make({}).value();
  // Hand computation, k = 0.5: x = 1.5 -> C+ = 1.0; x = -0.2 -> C+ = 0.3, C- = 0;
  // x = -2.0 -> C+ = 0 (floored), C- = 1.5.
  REQUIRE(d.update(1.5) == status::ok);
  CHECK(d.upper() == 1.0);
  CHECK(d.lower() == 0.0);
  REQUIRE(d.update(-0.2) == status::ok);
  CHECK_THAT(d.upper(), WithinAbs(0.3, 1e-15));
  REQUIRE(d.update(-2.0) == status::ok);
  CHECK(d.upper() == 0.0);
  CHECK(d.lower() == 1.5);
  check_rejects_non_finite(d);
  CHECK(d.upper() == 0.0);
  // Exactly h is not above h: no drift (strict comparison, like C10's DDM fault).
  auto e = cusum::make({}).value();
  REQUIRE(e.update(5.5) == status::ok);  // C+ = 5.0
  CHECK(e.state() == drift_state::none);
  REQUIRE(e.update(0.6) == status::ok);  // C+ = 5.1 > 5
  CHECK(e.state() == drift_state::drift);
  CHECK(e.upper() == 0.0);  // restarted
  REQUIRE(e.update(0.0) == status::ok);
  CHECK(e.state() == drift_state::none);
  e.reset();
  CHECK(e.drift_count() == 0);
  CHECK(e.n() == 0);
}

namespace {

/// C13's tolerance: within `rel` of the *reference* (Catch's WithinRel measures against the
/// larger of the two values, which is looser).
bool near_reference(double value, double reference, double rel) {
  return std::fabs(value - reference) <= rel * std::fabs(reference);
}

/// Runs handout case C13's five figures with `runs` streams per run-length setting (and at
/// least 20000 for the cheap ones: ARL1 and h = 4, whose +-5% bands are the tightest in
/// standard errors) and checks them against the references.
void check_c13(int runs, std::uint64_t seed) {
  auto rng = seeded(seed, "cusum C13");
  const int cheap = runs < 20000 ? 20000 : runs;
  cusum_options two;
  cusum_options upper;
  upper.direction = drift_direction::increase;
  cusum_options h4;
  h4.h = 4.0;
  double share = 0.0;
  const double arl0 = mean_run_length(cusum::make(two).value(), runs, 0.0, rng, &share);
  const double arl0_upper = mean_run_length(cusum::make(upper).value(), runs, 0.0, rng);
  const double arl1 = mean_run_length(cusum::make(two).value(), cheap, 1.0, rng);
  const double arl0_h4 = mean_run_length(cusum::make(h4).value(), cheap, 0.0, rng);
  std::printf("cusum C13 (R = %d/%d): ARL0 %.1f, upper %.1f, ARL1 %.2f, share<=1000 %.3f, "
              "h=4 %.1f\n", runs, cheap, arl0, arl0_upper, arl1, share, arl0_h4);
  CHECK(near_reference(arl0, 469.2, 0.05));
  CHECK(near_reference(arl0_upper, 934.9, 0.05));
  CHECK(near_reference(arl1, 10.39, 0.05));
  CHECK_THAT(share, WithinAbs(0.882, 0.03));
  CHECK(near_reference(arl0_h4, 164.9, 0.05));
}

}  // namespace

TEST_CASE("cusum: C13 run lengths reproduce the textbook ARL table", "[eval][cusum][C13]") {
  // Handout C13: tolerance +-5% relative on run lengths, +-0.03 on the share; references
  // 469.2, 934.9, 10.39, 0.882, 164.9 (numpy Monte Carlo, 20000 runs). Note: three 20000-run
  // checks of h = 4 here gave 167.8, 169.0 and 168.9 (Montgomery's table: 168), so the
  // handout's 164.9 looks about 3 of its standard errors low; the band still holds them.
  check_c13(5000, 7);
}

TEST_CASE("cusum: C13 with 20000 runs per setting", "[eval][cusum][C13][.soak]") {
  check_c13(20000, 8);
}

TEST_CASE("cusum: false alarms on 1e6 stationary samples match the run length",
          "[eval][cusum]") {
  // The detector restarts after each drift, so alarms form a renewal process: about
  // n / ARL0 = 1e6 / 469 = 2132 alarms for k = 0.5, h = 5 (C13's ARL0). +-10% is more than
  // 4 standard deviations (run lengths are roughly geometric: sd ~ sqrt(2132) = 46).
  auto rng = seeded(29, "cusum stationary");
  std::normal_distribution<double> z(0.0, 1.0);
  auto d = cusum::make({}).value();
  const auto alarms = drifts_of(d, 1000000, [&](std::uint64_t) { return z(rng); });
  std::printf("cusum: %zu false alarms in 1e6 N(0,1) samples (k 0.5, h 5)\n", alarms.size());
  CHECK_THAT(static_cast<double>(alarms.size()), WithinRel(1e6 / 469.2, 0.1));
  // h = 10: Siegmund's (e^(2kb) - 2kb - 1) / (2k^2) with b = h + 1.166 gives 1.4e5 per side,
  // 7e4 two-sided: about 14 alarms in 1e6; 25 is the Poisson mean + 3 sd.
  cusum_options wide;
  wide.h = 10.0;
  auto quiet = cusum::make(wide).value();
  const auto few = drifts_of(quiet, 1000000, [&](std::uint64_t) { return z(rng); });
  std::printf("cusum: %zu false alarms in 1e6 N(0,1) samples (k 0.5, h 10)\n", few.size());
  CHECK(few.size() <= 25);
  CHECK(few.size() >= 4);  // and not silently deaf: mean - 3 sd
}

TEST_CASE("cusum: no allocation on the hot path", "[eval][cusum]") {
  auto d = cusum::make({}).value();
  check_no_allocation(d, [](std::uint64_t t) { return static_cast<double>(t % 7) * 0.3 - 0.9; });
}

// --- page_hinkley ------------------------------------------------------------------------------

TEST_CASE("page_hinkley: factory names the bad parameter and its range", "[eval][page_hinkley]") {
  page_hinkley_options o;
  o.lambda = -1.0;
  auto r = page_hinkley::make(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("lambda must be in (0, inf)") != std::string::npos);
  o = {};
  o.warning_fraction = 1.0;
  CHECK_FALSE(page_hinkley::make(o).has_value());
}

TEST_CASE("page_hinkley: detects an abrupt shift quickly, no false alarm in 1e6 samples",
          "[eval][page_hinkley]") {
  // Calibrated as the header says: delta = 0.5 s, lambda = 15 s (Siegmund: ARL0 ~ 1e7).
  page_hinkley_options o;
  o.delta = 0.5;
  o.lambda = 15.0;
  o.direction = drift_direction::both;
  auto proto = page_hinkley::make(o).value();
  auto rng = seeded(11, "page_hinkley stationary");
  std::normal_distribution<double> z(0.0, 1.0);
  auto quiet = proto;
  const auto alarms = drifts_of(quiet, 1000000, [&](std::uint64_t) { return z(rng); });
  std::printf("page_hinkley: %zu false alarms in 1e6 N(0,1) samples\n", alarms.size());
  CHECK(alarms.empty());
  check_rejects_non_finite(quiet);

  // A +2 s shift at t = 5000: every one of 200 seeded streams detects it within 30 samples
  // (drift of the statistic ~ 2 - 0.5 per sample: lambda / 1.5 = 10 samples, plus noise).
  std::uint64_t worst = 0;
  for (int run = 0; run < 200; ++run) {
    auto d = proto;
    const auto found = drifts_of(d, 6000, [&](std::uint64_t t) {
      return z(rng) + (t >= 5000 ? 2.0 : 0.0);
    });
    REQUIRE(!found.empty());
    CHECK(found.front() >= 5000);
    worst = std::max(worst, found.front() - 5000);
  }
  std::printf("page_hinkley: worst delay after a 2-sigma shift %llu samples\n",
              static_cast<unsigned long long>(worst));
  CHECK(worst < 30);
}

TEST_CASE("page_hinkley: one change gives one drift, reset restarts", "[eval][page_hinkley]") {
  page_hinkley_options o;
  o.delta = 0.01;
  o.lambda = 5.0;
  auto d = page_hinkley::make(o).value();
  // Deterministic: 0.1 for 1000 samples, then 0.6.
  const auto found = drifts_of(d, 2000, [](std::uint64_t t) { return t < 1000 ? 0.1 : 0.6; });
  REQUIRE(found.size() == 1);
  CHECK(found[0] >= 1000);
  CHECK(found[0] < 1015);  // (0.5 - 0.01) per sample against lambda 5: about 11 samples
  d.reset();
  CHECK(d.n() == 0);
  CHECK(d.drift_count() == 0);
}

TEST_CASE("page_hinkley: no allocation on the hot path", "[eval][page_hinkley]") {
  auto d = page_hinkley::make({}).value();
  check_no_allocation(d, [](std::uint64_t t) { return static_cast<double>(t % 5) * 0.1; });
}

// --- ddm ---------------------------------------------------------------------------------------

TEST_CASE("ddm: C10 constant error streams raise nothing, a rise is found in the window",
          "[eval][ddm][C10]") {
  // Handout C10 (plain Python DDM, Gama et al. 2004): exact counts.
  auto proto = ddm::make({}).value();
  SECTION("a: 1000 errors: no warning, no drift") {
    auto d = proto;
    for (int t = 0; t < 1000; ++t) {
      REQUIRE(d.update(1.0) == status::ok);
      REQUIRE(d.state() == drift_state::none);
    }
  }
  SECTION("b: 1000 correct: no warning, no drift") {
    auto d = proto;
    for (int t = 0; t < 1000; ++t) {
      REQUIRE(d.update(0.0) == status::ok);
      REQUIRE(d.state() == drift_state::none);
    }
  }
  SECTION("c: error rate 0.1 then 0.5: warning at 1022, drift at 1048") {
    auto d = proto;
    long first_warning = -1;
    std::vector<long> drifts;
    for (long t = 0; t < 2000; ++t) {
      const double e = t < 1000 ? (t % 10 == 0 ? 1.0 : 0.0) : (t % 2 == 0 ? 1.0 : 0.0);
      REQUIRE(d.update(e) == status::ok);
      if (d.state() == drift_state::warning && first_warning < 0) first_warning = t;
      if (d.state() == drift_state::drift) drifts.push_back(t);
    }
    REQUIRE_FALSE(drifts.empty());
    CHECK(drifts.front() == 1048);  // the textbook reference exactly
    CHECK(first_warning == 1022);
  }
}

TEST_CASE("ddm: an error-free start does not make the first error a drift",
          "[eval][ddm][C10]") {
  // Defect: 1000 correct predictions set s_min = 0, so one error then read as a drift.
  auto d = ddm::make({}).value();
  for (int t = 0; t < 1000; ++t) REQUIRE(d.update(0.0) == status::ok);
  REQUIRE(d.update(1.0) == status::ok);
  CHECK(d.state() == drift_state::none);
  CHECK(d.drift_count() == 0);
}

TEST_CASE("ddm: few false drifts on a stationary low error rate", "[eval][ddm]") {
  // Defect: Bernoulli(0.001) over 1e6 samples gave 61 false drifts (about 180 expected in
  // these 3 streams). With the minimum recorded from the fifth error on: 0, 0 and 4 here
  // (seeds 101-103), 2 in all over 10 other streams (seeds 1-10); recording from the first
  // error gave 17 over those 10. The bound leaves room for a different standard library's
  // uniform_real_distribution while staying far below the defect.
  std::size_t total = 0;
  for (std::uint64_t seed = 101; seed <= 103; ++seed) {
    auto rng = seeded(seed, "ddm low rate");
    std::uniform_real_distribution<double> u(0.0, 1.0);
    auto d = ddm::make({}).value();
    const auto alarms =
        drifts_of(d, 1000000, [&](std::uint64_t) { return u(rng) < 0.001 ? 1.0 : 0.0; });
    std::printf("ddm: %zu false drifts in 1e6 Bernoulli(0.001) samples\n", alarms.size());
    total += alarms.size();
  }
  CHECK(total <= 8);
}

TEST_CASE("ddm: rejects values outside [0, 1] without changing state", "[eval][ddm]") {
  auto d = ddm::make({}).value();
  REQUIRE(d.update(1.0) == status::ok);
  CHECK(d.update(1.5) == status::invalid_argument);
  CHECK(d.update(-0.1) == status::invalid_argument);
  check_rejects_non_finite(d);
  CHECK(d.n() == 1);
  CHECK(d.error_rate() == 1.0);
  ddm_options o;
  o.drift_level = 1.0;  // below warning_level
  CHECK_FALSE(ddm::make(o).has_value());
}

namespace {

/// Error-rate detector check: false drifts over 1e6 Bernoulli(0.1) samples (at most
/// `max_false`), then 100 streams whose rate rises 0.1 -> 0.3 at t = 2000: every one detects
/// it within the 2000 samples after the change, with a median delay below `max_median`.
/// (DDM and EDDM compare with the rate since their last restart, so the 2000 quiet samples
/// slow them down.)
template <class D>
void check_error_rate_detector(const D& proto, const char* name, std::uint64_t seed,
                               std::size_t max_false, std::uint64_t max_median) {
  auto rng = seeded(seed, name);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto quiet = proto;
  const auto alarms = drifts_of(quiet, 1000000, [&](std::uint64_t) {
    return u(rng) < 0.1 ? 1.0 : 0.0;
  });
  std::printf("%s: %zu false drifts in 1e6 Bernoulli(0.1) samples\n", name, alarms.size());
  CHECK(alarms.size() <= max_false);
  std::vector<std::uint64_t> delays;
  for (int run = 0; run < 100; ++run) {
    auto d = proto;
    const auto found = drifts_of(d, 4000, [&](std::uint64_t t) {
      return u(rng) < (t < 2000 ? 0.1 : 0.3) ? 1.0 : 0.0;
    });
    const auto first = std::lower_bound(found.begin(), found.end(), std::uint64_t{2000});
    REQUIRE(first != found.end());
    delays.push_back(*first - 2000);
  }
  std::sort(delays.begin(), delays.end());
  std::printf("%s: delay after 0.1 -> 0.3: median %llu, worst %llu samples\n", name,
              static_cast<unsigned long long>(delays[50]),
              static_cast<unsigned long long>(delays.back()));
  CHECK(delays[50] < max_median);
}

}  // namespace

TEST_CASE("ddm: delay after an error-rate rise and false alarms on a stationary stream",
          "[eval][ddm]") {
  // ddm.hpp states ~1 false drift per 1e6 (measured: 1 with this seed) and a median delay
  // of about 140 samples.
  check_error_rate_detector(ddm::make({}).value(), "ddm", 13, 5, 300);
}

TEST_CASE("ddm: no allocation on the hot path", "[eval][ddm]") {
  auto d = ddm::make({}).value();
  check_no_allocation(d, [](std::uint64_t t) { return t % 9 == 0 ? 1.0 : 0.0; });
}

// --- eddm --------------------------------------------------------------------------------------

TEST_CASE("eddm: constant streams raise nothing, rejects non-binary input", "[eval][eddm]") {
  auto d = eddm::make({}).value();
  for (int t = 0; t < 1000; ++t) {
    REQUIRE(d.update(1.0) == status::ok);  // every distance 1: ratio stays 1
    REQUIRE(d.state() == drift_state::none);
  }
  for (int t = 0; t < 1000; ++t) {
    REQUIRE(d.update(t % 10 == 0 ? 1.0 : 0.0) == status::ok);
  }
  // A perfectly regular stream from the start (an error every 10 samples) is no change. When
  // the first error's distance was counted from the stream's start (1, then 10s), the noisy
  // early maximum made this drift at the 31st error.
  auto regular = eddm::make({}).value();
  for (int t = 0; t < 5000; ++t) {
    REQUIRE(regular.update(t % 10 == 0 ? 1.0 : 0.0) == status::ok);
    REQUIRE(regular.state() == drift_state::none);
  }
  CHECK(d.update(0.5) == status::invalid_argument);
  check_rejects_non_finite(d);
  eddm_options o;
  o.drift_ratio = 0.99;  // above warning_ratio
  CHECK_FALSE(eddm::make(o).has_value());
}

TEST_CASE("eddm: delay after an error-rate rise and false alarms on a stationary stream",
          "[eval][eddm]") {
  // eddm.hpp states ~8 false drifts per 1e6 (measured: 8 with this seed) and a median
  // delay of about 59 samples.
  check_error_rate_detector(eddm::make({}).value(), "eddm", 17, 15, 150);
}

TEST_CASE("eddm: no allocation on the hot path", "[eval][eddm]") {
  auto d = eddm::make({}).value();
  check_no_allocation(d, [](std::uint64_t t) { return t % 9 == 0 ? 1.0 : 0.0; });
}

// --- adwin -------------------------------------------------------------------------------------

namespace {

/// Handout C12's deterministic noise: ((7919 t) mod 101) / 100 - 0.5.
double c12_noise(std::uint64_t t) {
  return static_cast<double>((7919 * t) % 101) / 100.0 - 0.5;
}

}  // namespace

TEST_CASE("adwin: C12 one abrupt change gives exactly one detection", "[eval][adwin][C12]") {
  // Handout C12: exact ADWIN detects at 1020 (Hoeffding) / 1019 (Bernstein); final width
  // 1000 / 1008. Expected here: one detection in [1000, 1100), width >= 900, mean 0.8 +- 0.01.
  for (auto bound : {adwin_bound::hoeffding, adwin_bound::bernstein}) {
    adwin_options o;
    o.delta = 0.002;
    o.bound = bound;
    auto d = adwin::make(o).value();
    const auto found = drifts_of(d, 2000, [](std::uint64_t t) {
      return (t < 1000 ? 0.2 : 0.8) + 0.1 * c12_noise(t);
    });
    INFO("bound " << (bound == adwin_bound::hoeffding ? "hoeffding" : "bernstein"));
    REQUIRE(found.size() == 1);
    CHECK(found[0] >= 1000);
    CHECK(found[0] < 1100);
    CHECK(d.width() >= 900);
    CHECK_THAT(d.mean(), WithinAbs(0.8, 0.01));
    std::printf("adwin C12 %s: detection at %llu, width %llu, mean %.5f\n",
                bound == adwin_bound::hoeffding ? "hoeffding" : "bernstein",
                static_cast<unsigned long long>(found[0]),
                static_cast<unsigned long long>(d.width()), d.mean());
  }
}

TEST_CASE("adwin: window statistics equal the batch ones, memory stays logarithmic",
          "[eval][adwin]") {
  auto d = adwin::make({}).value();
  double sum = 0.0;
  double sum_sq = 0.0;
  for (std::uint64_t t = 0; t < 100000; ++t) {
    const double x = 0.5 + 0.1 * c12_noise(t);
    sum += x;
    sum_sq += x * x;
    REQUIRE(d.update(x) == status::ok);
  }
  REQUIRE(d.drift_count() == 0);
  CHECK(d.width() == 100000);
  CHECK_THAT(d.mean(), WithinAbs(sum / 1e5, 1e-12));
  // Var = E[x^2] - E[x]^2 in long sums: 1e-9 covers its cancellation (values near 0.5).
  CHECK_THAT(d.variance(), WithinAbs(sum_sq / 1e5 - (sum / 1e5) * (sum / 1e5), 1e-9));
  // Exponential histogram: at most M + 1 buckets per size class, log2(W / M) + 1 classes.
  const double classes = std::floor(std::log2(1e5 / 5.0)) + 2.0;
  CHECK(static_cast<double>(d.bucket_count()) <= 6.0 * classes);
  check_rejects_non_finite(d);
  CHECK(d.width() == 100000);
}

namespace {

/// Theorem 3.1 (1) on `n` samples uniform in [0, 1] (the theorem's range): at most
/// delta * n false cuts is the bound; the measured count is far lower and stated.
void check_stationary_adwin(std::uint64_t n, std::uint64_t seed) {
  auto rng = seeded(seed, "adwin stationary");
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (auto bound : {adwin_bound::hoeffding, adwin_bound::bernstein}) {
    adwin_options o;
    o.bound = bound;
    auto d = adwin::make(o).value();
    const auto alarms = drifts_of(d, n, [&](std::uint64_t) { return u(rng); });
    std::printf("adwin %s: %zu false cuts in %llu U(0,1) samples\n",
                bound == adwin_bound::hoeffding ? "hoeffding" : "bernstein", alarms.size(),
                static_cast<unsigned long long>(n));
    CHECK(static_cast<double>(alarms.size()) <= o.delta * static_cast<double>(n));
    CHECK(alarms.size() <= 1);
  }
}

}  // namespace

TEST_CASE("adwin: Theorem 3.1 (1): false cuts on a stationary stream stay below delta per step",
          "[eval][adwin]") {
  check_stationary_adwin(100000, 19);
}

TEST_CASE("adwin: Theorem 3.1 (1) on 1e6 samples", "[eval][adwin][.soak]") {
  check_stationary_adwin(1000000, 19);
}

TEST_CASE("adwin: Theorem 3.1 (2): a change larger than 2 eps shrinks the window to W1",
          "[eval][adwin]") {
  // Mean 0.3 for n0 = 2000 samples, then 0.7, values uniform +-0.2 (in [0, 1]). With the
  // Hoeffding bound, once n1 satisfies 0.4 > 2 eps(n0, n1) the theorem says the window is
  // cut to W1 (here: at most n1 plus the bucket that straddles the change) w.p. 1 - delta.
  auto rng = seeded(23, "adwin change");
  std::uniform_real_distribution<double> u(-0.2, 0.2);
  constexpr double delta = 0.002;
  constexpr std::uint64_t n0 = 2000;
  int failures = 0;
  for (int run = 0; run < 50; ++run) {
    adwin_options o;
    o.delta = delta;
    o.bound = adwin_bound::hoeffding;
    auto d = adwin::make(o).value();
    for (std::uint64_t t = 0; t < n0; ++t) REQUIRE(d.update(0.3 + u(rng)) == status::ok);
    bool checked = false;
    for (std::uint64_t n1 = 1; n1 <= 2000 && !checked; ++n1) {
      REQUIRE(d.update(0.7 + u(rng)) == status::ok);
      const double n = static_cast<double>(n0 + n1);
      const double m = 1.0 / (1.0 / static_cast<double>(n0) + 1.0 / static_cast<double>(n1));
      const double eps = std::sqrt(std::log(4.0 * n / delta) / (2.0 * m));
      if (0.4 > 2.0 * eps) {
        // Granularity: the straddling bucket holds at most n1 values' worth of its class.
        if (!(d.drift_count() >= 1 && d.width() <= 2 * n1 + 8)) ++failures;
        checked = true;
      }
    }
    REQUIRE(checked);
  }
  CHECK(failures == 0);
}

TEST_CASE("adwin: factory validates, reset empties, no allocation", "[eval][adwin]") {
  adwin_options o;
  o.delta = 1.0;
  auto r = adwin::make(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("delta must be in (0, 1)") != std::string::npos);
  o = {};
  o.max_buckets = 1;
  CHECK_FALSE(adwin::make(o).has_value());
  auto d = adwin::make({}).value();
  check_no_allocation(d, [](std::uint64_t t) { return 0.5 + 0.1 * c12_noise(t); });
  CHECK(d.width() == 100000);
  d.reset();
  CHECK(d.width() == 0);
  CHECK(d.bucket_count() == 0);
}

// --- checkpoints -------------------------------------------------------------------------------

namespace {

/// Saves a detector mid-stream, loads it into a fresh one made with the same options, and
/// checks both then behave identically over the rest of the stream; truncated bytes are
/// refused and leave the target unchanged.
template <class D>
void check_checkpoint(const D& proto) {
  static_assert(checkpointable<D>);
  const auto value = [](std::uint64_t t) {
    return (t < 1500 ? t % 10 == 0 : t % 2 == 0) ? 1.0 : 0.0;  // 0/1: valid everywhere
  };
  D a = proto;
  for (std::uint64_t t = 0; t < 1200; ++t) REQUIRE(a.update(value(t)) == status::ok);
  byte_writer w;
  a.save_state(w);
  D b = proto;
  byte_reader r(w.bytes());
  REQUIRE(b.load_state(r) == status::ok);
  CHECK(r.done());
  bool same = a.state() == b.state() && a.drift_count() == b.drift_count();
  for (std::uint64_t t = 1200; t < 3000; ++t)
    same = same && a.update(value(t)) == b.update(value(t)) && a.state() == b.state() &&
           a.drift_count() == b.drift_count();
  CHECK(same);
  CHECK(a.drift_count() > 0);  // the continuation exercised a detection
  // Every truncation of the bytes is refused; the target keeps its fresh state.
  for (std::size_t cut = 0; cut < w.bytes().size(); ++cut) {
    D c = proto;
    byte_reader shortened(std::span(w.bytes().data(), cut));
    REQUIRE(c.load_state(shortened) == status::invalid_argument);
    REQUIRE(c.drift_count() == 0);
    REQUIRE(c.state() == drift_state::none);
  }
}

}  // namespace

TEST_CASE("detectors: checkpoint round trip continues identically, truncation refused",
          "[eval][checkpoint]") {
  cusum_options c;
  c.target = 0.1;
  c.sigma = 0.3;
  check_checkpoint(cusum::make(c).value());
  page_hinkley_options p;
  p.delta = 0.05;
  p.lambda = 5.0;
  check_checkpoint(page_hinkley::make(p).value());
  check_checkpoint(ddm::make({}).value());
  check_checkpoint(eddm::make({}).value());
  check_checkpoint(adwin::make({}).value());
}

TEST_CASE("adwin: a checkpoint with more buckets per class than allowed is refused",
          "[eval][checkpoint]") {
  adwin_options wide;
  wide.max_buckets = 10;
  auto a = adwin::make(wide).value();
  for (std::uint64_t t = 0; t < 1000; ++t)
    REQUIRE(a.update(0.5 + 0.1 * c12_noise(t)) == status::ok);
  byte_writer w;
  a.save_state(w);
  auto narrow = adwin::make({}).value();  // max_buckets 5
  byte_reader r(w.bytes());
  CHECK(narrow.load_state(r) == status::invalid_argument);
  CHECK(narrow.width() == 0);
}

// --- warnings ----------------------------------------------------------------------------------

TEST_CASE("detectors: warning levels fire between none and drift", "[eval][warning]") {
  SECTION("cusum: warning_h") {
    cusum_options o;
    o.warning_h = 3.0;
    auto d = cusum::make(o).value();
    REQUIRE(d.update(3.4) == status::ok);  // C+ = 2.9: below the warning
    CHECK(d.state() == drift_state::none);
    REQUIRE(d.update(0.7) == status::ok);  // C+ = 3.1
    CHECK(d.state() == drift_state::warning);
    REQUIRE(d.update(2.5) == status::ok);  // C+ = 5.1 > h
    CHECK(d.state() == drift_state::drift);
  }
  SECTION("page_hinkley: warning_fraction") {
    page_hinkley_options o;
    o.delta = 0.0;
    o.lambda = 10.0;
    o.warning_fraction = 0.5;
    o.min_samples = 1;
    auto d = page_hinkley::make(o).value();
    std::vector<drift_state> seen;
    for (int t = 0; t < 300; ++t) {
      REQUIRE(d.update(t < 100 ? 0.0 : 1.0) == status::ok);
      seen.push_back(d.state());
    }
    const auto warn = std::find(seen.begin(), seen.end(), drift_state::warning);
    const auto drift = std::find(seen.begin(), seen.end(), drift_state::drift);
    REQUIRE(warn != seen.end());
    REQUIRE(drift != seen.end());
    CHECK(warn < drift);
    CHECK(warn - seen.begin() >= 100);
  }
  SECTION("eddm: the ratio passes 0.95 before 0.90") {
    auto d = eddm::make({}).value();
    std::vector<drift_state> seen;
    // Errors every 10 samples, then every 2: distances shrink.
    for (int t = 0; t < 3000; ++t) {
      REQUIRE(d.update((t < 2000 ? t % 10 == 0 : t % 2 == 0) ? 1.0 : 0.0) == status::ok);
      seen.push_back(d.state());
    }
    const auto warn = std::find(seen.begin(), seen.end(), drift_state::warning);
    const auto drift = std::find(seen.begin(), seen.end(), drift_state::drift);
    REQUIRE(warn != seen.end());
    REQUIRE(drift != seen.end());
    CHECK(warn < drift);
    CHECK(warn - seen.begin() >= 2000);
  }
}

TEST_CASE("detectors: finite values that would overflow the sums are refused unchanged",
          "[eval][page_hinkley][adwin]") {
  auto ph = page_hinkley::make({}).value();
  REQUIRE(ph.update(1.7e308) == status::ok);
  const auto before = ph;
  // The running mean of 1.7e308 and -1.7e308 overflows on the way: refused, nothing moved.
  CHECK(ph.update(-1.7e308) == status::numerical_failure);
  CHECK(ph.n() == before.n());
  CHECK(ph.statistic() == before.statistic());
  CHECK(std::isfinite(ph.statistic()));

  auto ad = adwin::make({}).value();
  REQUIRE(ad.update(0.5) == status::ok);
  CHECK(ad.update(1e200) == status::numerical_failure);
  CHECK(ad.width() == 1);
  CHECK(ad.mean() == 0.5);
}

TEST_CASE("drift detectors: load_state refuses states no stream produces",
          "[eval][checkpoint]") {
  // A valid CRC proves the bytes, not the state (issue 5 follow-up).
  const auto refused = [](auto d, const std::vector<std::uint8_t>& bytes) {
    const auto before = d;
    byte_reader r(bytes);
    CHECK(d.load_state(r) == status::invalid_argument);
    byte_writer a, b;
    d.save_state(a);
    before.save_state(b);
    CHECK(a.bytes() == b.bytes());
  };
  SECTION("cusum: a sum above h was a drift and was reset; n = 0 has no sums") {
    auto d = cusum::make({}).value();  // h = 5
    REQUIRE(d.update(1.0) == status::ok);
    for (const auto& [n, upper] : {std::pair<std::uint64_t, double>{10, 6.0}, {0, 1.0}}) {
      byte_writer w;
      w.put_u64(n);
      w.put_f64(upper);
      w.put_f64(0.0);
      w.put_u64(0);
      w.put_u8(0);
      refused(d, w.bytes());
    }
  }
  SECTION("ddm: a minimum p without its s") {
    auto d = ddm::make({}).value();
    byte_writer w;
    w.put_u64(100);
    w.put_f64(10.0);
    w.put_f64(0.1);
    w.put_f64(std::numeric_limits<double>::infinity());
    w.put_u64(0);
    w.put_u8(0);
    refused(d, w.bytes());
  }
  SECTION("page_hinkley: sums with no observation") {
    auto d = page_hinkley::make({}).value();
    byte_writer w;
    w.put_u64(0);
    for (double v : {3.0, 1.0, 0.0, 0.0, 0.0}) w.put_f64(v);
    w.put_u64(0);
    w.put_u8(0);
    refused(d, w.bytes());
  }
}
