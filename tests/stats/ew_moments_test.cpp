// Tests for livefit/stats/ew_variance.hpp and livefit/stats/ew_covariance.hpp: agreement
// with pandas, stability on huge means (case C03), rejection, checkpoints, allocation.
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
#include "livefit/stats/ew_covariance.hpp"
#include "livefit/stats/ew_variance.hpp"

using namespace livefit;

namespace {

static_assert(checkpointable<ew_variance<double>>);
static_assert(checkpointable<ew_covariance<float>>);

const double qnan = std::numeric_limits<double>::quiet_NaN();

using livefit::test::state_bytes;

ew_moments_options span4(bool adjust, bool bias) {
  ew_moments_options o;
  o.ema.span = 4;
  o.ema.adjust = adjust;
  o.bias = bias;
  return o;
}

// An optional output against a pandas value (NaN = pandas reports no value).
void check_value(std::optional<double> got, double want, double tol) {
  if (std::isnan(want)) {
    CHECK_FALSE(got.has_value());
  } else {
    REQUIRE(got.has_value());
    CHECK_THAT(*got, WithinAbs(want, tol));
  }
}

template <class T>
std::optional<double> widen(std::optional<T> v) {
  if (!v) return std::nullopt;
  return static_cast<double>(*v);
}

// Recorded with Debian's python3-pandas 1.5.3:
//   sx = pd.Series(xs); sy = pd.Series(ys)
//   sx.ewm(span=4, adjust=<a>).var(bias=<b>), .cov(sy, bias=<b>), .corr(sy)
const std::vector<double> xs = {1.5, 2.25, -0.75, 4.0, 3.5, 3.25, 10.0, -2.0, 0.5, 1.0};
const std::vector<double> ys = {0.5, 1.0, 0.25, 2.0, 2.5, 1.0, 6.0, -1.5, 0.0, 2.0};

struct pandas_run {
  bool adjust;
  bool bias;
  std::vector<double> var;
  std::vector<double> cov;
};

const std::vector<pandas_run> runs = {
    {false, false,
     {qnan, 0.28125000000000006, 2.514705882352941, 4.857814178302901, 3.493579195134145,
      2.1929601643257106, 17.54781784212208, 29.65334145555306, 19.2467910257471,
      11.742221690332435},
     {qnan, 0.1875, 0.5045955882352942, 1.8760405477980668, 1.738341786785536,
      0.9008671543910025, 11.034588681599132, 18.347101354806462, 11.922765231901808,
      6.85326772313733}},
    {false, true,
     {0.0, 0.135, 1.6416, 3.473376, 2.57617536, 1.6347751296, 13.132215046656,
      22.22257789679616, 14.431020970846616, 8.80577186310478},
     {0.0, 0.09, 0.32939999999999997, 1.3413840000000001, 1.28185824, 0.6715649664,
      8.257926587904, 13.74954285164544, 8.939551266592357, 5.139428779173248}},
    {true, false,
     {qnan, 0.28124999999999994, 3.122448979591836, 5.825405162064826, 3.7782534596072987,
      2.227864034963488, 17.645586171490628, 30.45307587843498, 19.56895715792987,
      11.860548771991787},
     {qnan, 0.18749999999999994, 0.6945153061224488, 2.193239795918367, 1.7916473190594766,
      0.8827251548743974, 11.082468085361288, 18.838184370738592, 12.121824332373768,
      6.922526661188049}},
    {true, true,
     {0.0, 0.1318359375, 1.911703456892961, 3.9353610240051906, 2.6744056410821964,
      1.6163829590405405, 12.980094860800474, 22.579690585975857, 14.57710904032131,
      8.859335338286645},
     {0.0, 0.087890625, 0.4252134527280299, 1.481646369485294, 1.2682028212634742,
      0.6404438850231639, 8.152264574367003, 13.967731075535069, 9.029666406573353,
      5.1708387409965955}},
};

const std::vector<double> corr_plain = {qnan,
                                        1.0,
                                        0.8839032720840532,
                                        0.9479690104705949,
                                        0.8883436468782294,
                                        0.682774745804499,
                                        0.9776684778657847,
                                        0.991573189279926,
                                        0.9922165130787398,
                                        0.8983428566665139};
const std::vector<double> corr_adjusted = {qnan,
                                           1.0,
                                           0.9368124076955194,
                                           0.9656575412645377,
                                           0.8943611263572405,
                                           0.6619406503808148,
                                           0.9767504527364966,
                                           0.9915807597588735,
                                           0.9922308702625002,
                                           0.8988203744324226};

}  // namespace

TEMPLATE_TEST_CASE("ew_variance, ew_covariance: agree with pandas var, cov and corr",
                   "[stats][ew_variance][ew_covariance]", float, double) {
  // Shifted values and precomputed weights against pandas' raw divisions: rounding only.
  // Outputs reach 30 and the bias factor amplifies by up to ~4: 1e-12 for double; float's
  // eps 1.2e-7 times that scale with accumulation stays under 1e-4.
  const double tol = sizeof(TestType) == 8 ? 1e-12 : 1e-4;
  for (const pandas_run& run : runs) {
    INFO("adjust " << run.adjust << " bias " << run.bias);
    auto v = ew_variance<TestType>::make(span4(run.adjust, run.bias)).value();
    auto c = ew_covariance<TestType>::make(span4(run.adjust, run.bias)).value();
    for (std::size_t i = 0; i < xs.size(); ++i) {
      INFO("step " << i);
      const auto x = static_cast<TestType>(xs[i]);
      const auto y = static_cast<TestType>(ys[i]);
      REQUIRE(v.update(x) == status::ok);
      REQUIRE(c.update(x, y) == status::ok);
      check_value(widen(v.variance()), run.var[i], tol);
      check_value(widen(c.variance_x()), run.var[i], tol);
      check_value(widen(c.covariance()), run.cov[i], tol);
      if (!std::isnan(run.var[i])) {
        REQUIRE(v.stddev().has_value());
        CHECK_THAT(double(*v.stddev()), WithinAbs(std::sqrt(run.var[i]), tol));
      }
      check_value(widen(c.correlation()), (run.adjust ? corr_adjusted : corr_plain)[i], tol);
    }
  }
}

TEST_CASE("ew_variance: missing steps follow pandas ignore_na", "[stats][ew_variance]") {
  // pandas 1.5.3: pd.Series([1.5, NaN, 2.25, -0.75, NaN, NaN, 4.0, 3.5])
  //   .ewm(alpha=0.3, adjust=<a>, ignore_na=<i>).var()
  const std::vector<double> xm = {1.5, qnan, 2.25, -0.75, qnan, qnan, 4.0, 3.5};
  struct row {
    bool adjust;
    ema_missing missing;
    std::vector<double> want;
  };
  const std::vector<row> rows = {
      {false, ema_missing::absolute,
       {qnan, qnan, 0.28124999999999994, 2.2157125685037733, 2.2157125685037733,
        2.2157125685037737, 4.353019973628773, 3.0866344490147744}},
      {false, ema_missing::relative,
       {qnan, qnan, 0.28125, 2.187709731543623, 2.187709731543623, 2.187709731543623,
        3.9503117594358703, 3.2925354546261425}},
      {true, ema_missing::absolute,
       {qnan, qnan, 0.28125, 3.184277823240589, 3.184277823240589, 3.1842778232405893,
        5.970920008895723, 3.136960305424631}},
      {true, ema_missing::relative,
       {qnan, qnan, 0.28125000000000006, 2.9267979452054793, 2.9267979452054793,
        2.9267979452054793, 5.217468626459502, 3.837925481779773}},
  };
  for (const row& rw : rows) {
    ew_moments_options o;
    o.ema.alpha = 0.3;
    o.ema.adjust = rw.adjust;
    o.ema.missing = rw.missing;
    auto v = ew_variance<double>::make(o).value();
    for (std::size_t i = 0; i < xm.size(); ++i) {
      INFO("adjust " << rw.adjust << " mode " << int(rw.missing) << " step " << i);
      REQUIRE((std::isnan(xm[i]) ? v.skip() : v.update(xm[i])) == status::ok);
      check_value(v.variance(), rw.want[i], 1e-13);  // rounding only, values below 6
    }
  }
}

TEST_CASE("ew_variance: case C03, mean 1e9 with spread 0.5 keeps a positive variance",
          "[stats][ew_variance][C03]") {
  // Case C03 (handout): x_t = 1e9 + 0.5 (t even), 1e9 - 0.5 (t odd), alpha = 0.1, biased,
  // plain; reference by exact rational arithmetic (Python fractions) on the double inputs.
  // The case allows 1e-6 relative; the shifted recursion is exact here (every value is
  // x0 or x0 - 1), so 1e-12 is asked.
  ew_moments_options o;
  o.ema.alpha = 0.1;
  o.bias = true;
  auto v = ew_variance<double>::make(o).value();
  std::vector<double> seen;
  for (int t = 0; t < 200; ++t) {
    REQUIRE(v.update(1e9 + (t % 2 == 0 ? 0.5 : -0.5)) == status::ok);
    REQUIRE(v.variance().has_value());
    CHECK(*v.variance() >= 0.0);
    seen.push_back(*v.variance());
  }
  CHECK_THAT(seen[1], WithinRel(0.09, 1e-12));
  CHECK_THAT(seen[2], WithinRel(0.0819, 1e-12));
  CHECK_THAT(seen[10], WithinRel(0.21333569256859802, 1e-12));
  CHECK_THAT(seen[199], WithinRel(0.24930747924391988, 1e-12));
  CHECK_THAT(v.mean(), WithinAbs(1e9, 0.5));
}

TEST_CASE("ew_variance: case C03 kind, mean 1e9 with spread 1e-3", "[stats][ew_variance][C03]") {
  // x_t = 1e9 + k_t 2^-23 with integer k_t in [-8388, 8388] (|x - 1e9| <= 1e-3, every value
  // an exact double), k_t from a 64-bit LCG, 500 values, alpha = 0.1. Reference: pandas'
  // ewmcov recursion in exact rational arithmetic (Python fractions) on these doubles:
  // biased 3.40626766334681e-07, bias-corrected 3.5955047557549657e-07, for adjust on and
  // off. pandas 1.5.3 itself, on the raw values, gives 3.4055e-07 (error 2e-4 relative).
  // Shifted by the first value the inputs are exact and the rest is rounding at the scale
  // of the spread: 1e-10 relative.
  for (bool adjust : {false, true}) {
    for (bool bias : {false, true}) {
      ew_moments_options o;
      o.ema.alpha = 0.1;
      o.ema.adjust = adjust;
      o.bias = bias;
      auto v = ew_variance<double>::make(o).value();
      std::uint64_t state = 12345;
      for (int t = 0; t < 500; ++t) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        const auto k = static_cast<std::int64_t>((state >> 33) % 16777) - 8388;
        REQUIRE(v.update(1e9 + static_cast<double>(k) * 0x1p-23) == status::ok);
      }
      INFO("adjust " << adjust << " bias " << bias);
      REQUIRE(v.variance().has_value());
      CHECK_THAT(*v.variance(),
                 WithinRel(bias ? 3.40626766334681e-07 : 3.5955047557549657e-07, 1e-10));
      CHECK_THAT(v.mean(), WithinAbs(1000000000.0000182, 2.4e-7));  // 2 ulp of 1e9
    }
  }
}

TEST_CASE("ew_covariance: matches a long-double recursion on a large offset",
          "[stats][ew_covariance]") {
  // Pairs near (5e7, -3e4) with unit-scale noise; reference: the same recursion in long
  // double on values minus the offsets (an independent, higher-precision evaluation).
  const std::uint32_t seed = 99;
  INFO("seed " << seed);
  std::mt19937 gen(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  ew_moments_options o;
  o.ema.alpha = 0.02;
  o.bias = true;
  auto c = ew_covariance<double>::make(o).value();
  long double mx = 0, my = 0, cxy = 0, cxx = 0, cyy = 0;
  const long double a = 0.02L;
  for (int t = 0; t < 5000; ++t) {
    const double e = noise(gen);
    const double x = 5e7 + e;
    const double y = -3e4 + 0.5 * e + noise(gen);
    REQUIRE(c.update(x, y) == status::ok);
    const long double dx = static_cast<long double>(x) - 5e7L;
    const long double dy = static_cast<long double>(y) + 3e4L;
    if (t == 0) {
      mx = dx;
      my = dy;
      continue;
    }
    const long double ox = mx, oy = my;
    mx += a * (dx - mx);
    my += a * (dy - my);
    cxy = (1 - a) * (cxy + (ox - mx) * (oy - my)) + a * (dx - mx) * (dy - my);
    cxx = (1 - a) * (cxx + (ox - mx) * (ox - mx)) + a * (dx - mx) * (dx - mx);
    cyy = (1 - a) * (cyy + (oy - my) * (oy - my)) + a * (dy - my) * (dy - my);
  }
  // The inputs carry ulp(5e7) = 7.5e-9 of rounding, against a spread of 1: the moments can
  // be trusted to about 1e-8 relative, and that is what is asked.
  CHECK_THAT(*c.covariance(), WithinRel(static_cast<double>(cxy), 1e-8));
  CHECK_THAT(*c.variance_x(), WithinRel(static_cast<double>(cxx), 1e-8));
  CHECK_THAT(*c.variance_y(), WithinRel(static_cast<double>(cyy), 1e-8));
  CHECK_THAT(*c.correlation(),
             WithinRel(static_cast<double>(cxy / std::sqrt(cxx * cyy)), 1e-8));
}

TEST_CASE("ew_covariance: undefined values are reported, never NaN", "[stats][ew_covariance]") {
  ew_moments_options o;
  o.ema.alpha = 0.5;
  auto c = ew_covariance<double>::make(o).value();
  CHECK_FALSE(c.covariance().has_value());
  REQUIRE(c.update(1.0, 2.0) == status::ok);
  CHECK_FALSE(c.covariance().has_value());  // one value: the correction divides by 0
  CHECK_FALSE(c.correlation().has_value());
  for (int t = 0; t < 10; ++t) REQUIRE(c.update(3.0, 2.0) == status::ok);
  REQUIRE(c.variance_y().has_value());
  CHECK(*c.variance_y() == 0.0);           // constant series: exactly 0, as pandas
  CHECK_FALSE(c.correlation().has_value());  // pandas: NaN

  // Variances near 1e300 each: their product overflows, the correlation must not.
  auto big = ew_covariance<double>::make(o).value();
  for (int t = 0; t < 10; ++t) {
    const double v = t % 2 == 0 ? 1e150 : -1e150;
    REQUIRE(big.update(v, v) == status::ok);
  }
  REQUIRE(big.correlation().has_value());
  CHECK_THAT(*big.correlation(), WithinAbs(1.0, 1e-14));  // a few roundings of equal terms
}

TEST_CASE("ew moments: make() validation, rejection and checkpoints", "[stats][ew_variance]") {
  ew_moments_options o;
  CHECK(ew_variance<double>::make(o).error().message ==
        "ew_variance: set exactly one of alpha, span, com, halflife");
  o.ema.com = -0.5;
  CHECK(ew_covariance<double>::make(o).error().message ==
        "ew_covariance: com must be in [0, inf), got -0.5");
  o.ema.com = 1;
  o.ema.initial_value = 3;
  CHECK(ew_variance<double>::make(o).error().message ==
        "ew_variance: initial_value is not supported (moments start from data)");
  o.ema.initial_value.reset();
  o.ema.missing = ema_missing::absolute;

  auto c = ew_covariance<double>::make(o).value();
  for (double v : {1.0, 4.0, 2.0}) REQUIRE(c.update(v, -v) == status::ok);
  REQUIRE(c.skip() == status::ok);
  const std::vector<std::uint8_t> before = state_bytes(c);
  CHECK(c.update(qnan, 1.0) == status::non_finite_input);
  CHECK(c.update(1.0, std::numeric_limits<double>::infinity()) == status::non_finite_input);
  CHECK(c.update(1e300, 1.0) == status::numerical_failure);  // (1e300)^2 overflows
  CHECK(state_bytes(c) == before);

  auto d = ew_covariance<double>::make(o).value();
  byte_reader r(before);
  REQUIRE(d.load_state(r) == status::ok);
  CHECK(r.done());
  REQUIRE(c.update(5.0, 1.0) == status::ok);
  REQUIRE(d.update(5.0, 1.0) == status::ok);
  CHECK(state_bytes(c) == state_bytes(d));
  CHECK(*c.correlation() == *d.correlation());

  ew_moments_options biased = o;
  biased.bias = true;
  auto e = ew_covariance<double>::make(biased).value();
  const std::vector<std::uint8_t> e_before = state_bytes(e);
  byte_reader re(before);
  CHECK(e.load_state(re) == status::invalid_argument);  // other options
  CHECK(state_bytes(e) == e_before);
  std::vector<std::uint8_t> cut(before.begin(), before.end() - 3);
  byte_reader rc(cut);
  CHECK(d.load_state(rc) == status::invalid_argument);
}

TEST_CASE("ew moments: a million updates allocate nothing", "[stats][ew_covariance][alloc]") {
  if (!test::alloc_counting_available()) {
    WARN("allocation counting unavailable in this build (sanitizers): skipped");
    return;
  }
  ew_moments_options o;
  o.ema.span = 50;
  auto c = ew_covariance<double>::make(o).value();
  auto v = ew_variance<float>::make(o).value();
  std::size_t allocations = 0;
  bool ok = true;
  {
    test::alloc_scope scope;
    for (int i = 0; i < 1'000'000; ++i) {
      ok &= c.update(double(i % 17), double(i % 5)) == status::ok;
      ok &= v.update(float(i % 11)) == status::ok;
      ok &= i == 0 || c.correlation().has_value();  // defined from the second pair on
    }
    allocations = scope.count();
  }
  CHECK(ok);
  CHECK(allocations == 0);
}

// --- overflow of finite input (issue 3 follow-up) ------------------------------------------

TEST_CASE("ew_variance: a bias-corrected variance that would overflow is refused",
          "[stats][ew_variance][overflow]") {
  // Defect: alpha 0.5, adjust = false, values 0, 1.3e154, -1.3e154 gave variance() = inf:
  // the biased moment is finite, the correction factor (>= 1) pushed it past the maximum.
  ew_moments_options o;
  o.ema.alpha = 0.5;
  o.ema.adjust = false;
  auto v = ew_variance<double>::make(o).value();
  REQUIRE(v.update(0.0) == status::ok);
  REQUIRE(v.update(1.3e154) == status::ok);
  REQUIRE(v.variance().has_value());
  const double var = *v.variance();
  const double mean = v.mean();
  CHECK(v.update(-1.3e154) == status::numerical_failure);
  CHECK(v.count() == 2);
  CHECK(*v.variance() == var);
  CHECK(v.mean() == mean);
  // Every accepted state reports finite moments.
  std::mt19937_64 rng(31);
  std::printf("ew_variance overflow sweep: seed 31\n");
  std::uniform_real_distribution<double> u(-1.3e154, 1.3e154);
  auto w = ew_variance<double>::make(o).value();
  for (int i = 0; i < 1000; ++i) {
    const status s = w.update(u(rng));
    REQUIRE((s == status::ok || s == status::numerical_failure));
    if (const auto x = w.variance()) REQUIRE(std::isfinite(*x));
    REQUIRE(std::isfinite(w.mean()));
  }
}

TEST_CASE("ew_covariance: a covariance that would overflow is refused",
          "[stats][ew_covariance][overflow]") {
  ew_moments_options o;
  o.ema.alpha = 0.5;
  o.ema.adjust = false;
  auto c = ew_covariance<double>::make(o).value();
  REQUIRE(c.update(0.0, 0.0) == status::ok);
  REQUIRE(c.update(1.3e154, 1.3e154) == status::ok);
  CHECK(c.update(-1.3e154, -1.3e154) == status::numerical_failure);
  CHECK(c.count() == 2);
  REQUIRE(c.covariance().has_value());
  CHECK(std::isfinite(*c.covariance()));
}

TEST_CASE("ew_covariance: load_state refuses moments the recursion cannot produce",
          "[stats][ew_covariance][checkpoint]") {
  ew_moments_options o;
  o.ema.alpha = 0.5;
  auto c = ew_covariance<double>::make(o).value();
  REQUIRE(c.update(1.0, 2.0) == status::ok);
  REQUIRE(c.update(2.0, 1.0) == status::ok);
  const auto cov = c.covariance();
  // Layout: header, alpha, adjust, bias, missing, then sx sy mx my cxx cyy cxy, the three
  // weights and the count.
  const auto record = [&](double cxy, double sum_wt2, std::uint64_t count) {
    byte_writer w;
    w.put_u8(1);
    w.put_u8(sizeof(double));
    w.put_f64(0.5);
    w.put_u8(static_cast<std::uint8_t>(o.ema.adjust));
    w.put_u8(static_cast<std::uint8_t>(o.bias));
    w.put_u8(static_cast<std::uint8_t>(o.ema.missing));
    for (double v : {1.0, 2.0, 0.5, -0.5, 0.25, 0.25, cxy, 1.5, sum_wt2, 1.0}) w.put_f64(v);
    w.put_u64(count);
    return w.bytes();
  };
  // |cxy| > sqrt(cxx cyy); sum w^2 > (sum w)^2; means with no observation.
  for (const auto& bad : {record(0.5, 1.25, 2), record(-0.25, 3.0, 2), record(-0.25, 1.25, 0)}) {
    byte_reader r(bad);
    CHECK(c.load_state(r) == status::invalid_argument);
    CHECK(c.count() == 2);
    CHECK(c.covariance() == cov);
  }
  const auto good = record(-0.25, 1.25, 2);
  byte_reader r(good);
  CHECK(c.load_state(r) == status::ok);
}
