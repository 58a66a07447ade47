// Tests for livefit/core: status names, result<T>, fixed_string, the byte streams and the
// finiteness check of the hot paths.
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "catch.hpp"
#include "livefit/core.hpp"
#include "livefit/core/detail/finite.hpp"

using namespace livefit;

TEST_CASE("result: holds a value or an error with its message", "[core][result]") {
  result<int> good = 42;
  REQUIRE(good.has_value());
  CHECK(*good == 42);
  result<int> bad = fail(errc::invalid_argument, "alpha must be in (0, 1], got 2");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == errc::invalid_argument);
  CHECK(bad.error().message == "alpha must be in (0, 1], got 2");
  result<void> done;
  CHECK(done.has_value());
}

TEST_CASE("fixed_string: appends numbers and truncates without overflow", "[core][text]") {
  fixed_string<16> s("p=");
  s.append(0.25).append(", n=").append(std::uint64_t{12});
  CHECK(s.view() == "p=0.25, n=12");
  s.append("0123456789");
  CHECK(s.size() == 15);  // capacity is N - 1
  CHECK(s.view() == "p=0.25, n=12012");
  fixed_string<32> inf;
  inf.append(std::numeric_limits<double>::infinity());
  CHECK(inf.view() == "inf");
}

TEST_CASE("byte streams: round trip is bit-exact and little-endian", "[core][serialize]") {
  byte_writer w;
  w.put_u32(0x01020304u);
  w.put_f64(-0.1);
  w.put_string("rls");
  Eigen::Matrix2d m;
  m << 1.0 / 3.0, 2.0, -0.0, 1e-300;
  w.put_matrix(m);
  REQUIRE(w.bytes().size() == 4 + 8 + 4 + 3 + 16 + 32);
  CHECK(w.bytes()[0] == 0x04);  // least significant byte first on every host

  byte_reader r(w.bytes());
  std::uint32_t u = 0;
  double d = 0;
  std::string_view s;
  Eigen::Matrix2d back;
  REQUIRE(r.get_u32(u));
  REQUIRE(r.get_f64(d));
  REQUIRE(r.get_string(s));
  REQUIRE(r.get_matrix(back));
  CHECK(r.done());
  CHECK(u == 0x01020304u);
  CHECK(d == -0.1);
  CHECK(s == "rls");
  CHECK(std::signbit(back(1, 0)));  // -0.0 keeps its sign
  CHECK((back.array() == m.array()).all());
}

TEST_CASE("byte streams: short or mis-shaped input is refused, not read past",
          "[core][serialize]") {
  byte_writer w;
  w.put_matrix(Eigen::Vector3d(1, 2, 3));
  for (std::size_t cut = 0; cut < w.bytes().size(); ++cut) {
    byte_reader r(std::span(w.bytes().data(), cut));
    Eigen::Vector3d v = Eigen::Vector3d::Constant(7.0);
    CHECK_FALSE(r.get_matrix(v));
    CHECK(v == Eigen::Vector3d::Constant(7.0));  // untouched
  }
  byte_reader r(w.bytes());
  Eigen::Vector2d wrong;
  CHECK_FALSE(r.get_matrix(wrong));
  CHECK_FALSE(r.ok());
}

TEST_CASE("status: every code has a stable name", "[core][status]") {
  CHECK(to_string(status::ok) == "ok");
  CHECK(to_string(status::non_finite_input) == "non_finite_input");
  CHECK(to_string(errc::checksum_mismatch) == "checksum_mismatch");
  CHECK(to_string(event_kind::rolled_back) == "rolled_back");
}

// all_finite against std::isfinite, value by value: every special value of the IEEE formats
// at every position of arrays of every length up to three unrolled groups and a tail, so both
// the unrolled accumulators and the tail loop meet each one.
template <class S>
void check_all_finite_against_isfinite() {
  using lim = std::numeric_limits<S>;
  const S specials[] = {S(0),
                        -S(0),
                        S(1),
                        lim::max(),
                        -lim::max(),
                        lim::min(),
                        lim::denorm_min(),
                        -lim::denorm_min(),
                        std::nextafter(lim::max(), S(0)),
                        lim::infinity(),
                        -lim::infinity(),
                        lim::quiet_NaN(),
                        -lim::quiet_NaN(),
                        lim::signaling_NaN(),
                        std::bit_cast<S>(~detail::bits_of<S>{0})};  // NaN, all bits set
  constexpr std::size_t most = 3 * (32 / sizeof(S)) + 3;
  S buf[most];
  for (std::size_t n = 0; n <= most; ++n)
    for (std::size_t at = 0; at < n; ++at)
      for (const S v : specials) {
        for (std::size_t i = 0; i < n; ++i) buf[i] = S(0.5) * static_cast<S>(i);
        buf[at] = v;
        INFO("n = " << n << ", position " << at << ", value " << v);
        CHECK(detail::all_finite(buf, static_cast<Eigen::Index>(n)) ==
              static_cast<bool>(std::isfinite(v)));
      }
  CHECK(detail::all_finite(buf, 0));
}

TEST_CASE("all_finite: agrees with std::isfinite on every special value at every position",
          "[core][finite]") {
  check_all_finite_against_isfinite<float>();
  check_all_finite_against_isfinite<double>();
}
