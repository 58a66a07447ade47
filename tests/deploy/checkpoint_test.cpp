// Tests for livefit/deploy/checkpoint.hpp: format, round trips, and refusal of bad files.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "livefit/deploy/checkpoint.hpp"
#include "livefit/models/rls.hpp"
#include "registry_test_models.hpp"

using namespace livefit;
using livefit::test::linear_model;
using livefit::test::temp_dir;

namespace {


template <class Scalar>
bool same_bits(const linear_model<Scalar, 2>& a, const linear_model<Scalar, 2>& b) {
  byte_writer wa, wb;
  a.save_state(wa);
  b.save_state(wb);
  return wa.bytes() == wb.bytes();
}

}  // namespace

TEST_CASE("crc32c: matches the published check value", "[deploy][checkpoint]") {
  // CRC-32C check value of "123456789": 0xE3069283 (RFC 3720 appendix B.4; the CRC
  // catalogue of R. Williams / G. Cook, entry CRC-32/ISCSI).
  const std::string s = "123456789";
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  CHECK(detail::crc32c({p, s.size()}) == 0xE3069283u);
  // Incremental feeding gives the same value.
  CHECK(detail::crc32c_update(detail::crc32c({p, 4}), {p + 4, 5}) == 0xE3069283u);
  // 32 zero bytes: 0x8A9136AA (RFC 3720 appendix B.4, first test vector).
  const std::vector<std::uint8_t> zeros(32, 0);
  CHECK(detail::crc32c(zeros) == 0x8A9136AAu);
}

// The models the container is tested with meet the checkpoint contract.
static_assert(checkpointable<linear_model<double, 2>>);
static_assert(checkpointable<linear_model<float, Eigen::Dynamic>>);
static_assert(checkpointable<rls<double, Eigen::Dynamic>>);

TEST_CASE("checkpoint: header layout is the documented one", "[deploy][checkpoint]") {
  linear_model<double, 2> m(2, 0.25);
  const auto bytes = encode_model(m, 7);
  // docs/checkpoint-format.md: 44 fixed bytes, the 19-byte type name, the 8-byte payload
  // length, the payload (8-byte mu + 16-byte shape + 2 doubles = 40), the 4-byte CRC.
  REQUIRE(bytes.size() == 44 + 19 + 8 + 40 + 4);
  CHECK(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 8) ==
        std::vector<std::uint8_t>{'L', 'F', 'C', 'K', 0x0D, 0x0A, 0x1A, 0x0A});
  CHECK(bytes[8] == 1);   // format version, little-endian u32
  CHECK(bytes[16] == 2);  // scalar code float64
  CHECK(bytes[24] == 2);  // dimension
  CHECK(bytes[32] == 7);  // version
  CHECK(bytes[40] == 19); // type name length
  auto v = parse_checkpoint(bytes);
  REQUIRE(v.has_value());
  CHECK(v->type == "livefit.test.linear");
  CHECK(v->scalar == scalar_code::float64);
  CHECK(v->dim == 2);
  CHECK(v->version == 7);
  CHECK(v->payload.size() == 40);
}

TEMPLATE_TEST_CASE("checkpoint: round trip is bit-exact", "[deploy][checkpoint]", float,
                   double) {
  using S = TestType;
  linear_model<S, 2> m(2);
  m.coefficients() << S(0.1), S(1) / S(3);
  linear_model<S, 2> back(2, S(9), S(0.125));
  REQUIRE(decode_model(encode_model(m), back).has_value());
  CHECK(same_bits(m, back));
  CHECK(std::bit_cast<std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>>(
            back.coefficients()(1)) ==
        std::bit_cast<std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>>(
            S(1) / S(3)));

  // Signed zero, subnormal and extreme values keep their bits too.
  m.coefficients() << S(-0.0), std::numeric_limits<S>::denorm_min();
  REQUIRE(decode_model(encode_model(m), back).has_value());
  CHECK(std::signbit(back.coefficients()(0)));
  CHECK(back.coefficients()(1) == std::numeric_limits<S>::denorm_min());
}

TEST_CASE("checkpoint: dynamic-size models round trip and check the dimension",
          "[deploy][checkpoint]") {
  using dyn = linear_model<double, Eigen::Dynamic>;
  dyn m(5, 0.5);
  m.coefficients()(3) = -2.75;
  dyn back(5);
  REQUIRE(decode_model(encode_model(m), back).has_value());
  CHECK((back.coefficients().array() == m.coefficients().array()).all());
  dyn wrong(4, 1.0);
  auto r = decode_model(encode_model(m), wrong);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::type_mismatch);
  CHECK(r.error().message == "checkpoint dimension is 5, expected 4");
  CHECK((wrong.coefficients().array() == 1.0).all());
}

TEST_CASE("checkpoint: every truncation is refused and leaves the model unchanged",
          "[deploy][checkpoint]") {
  linear_model<double, 2> m(2);
  m.coefficients() << 10.0, 20.0;
  const auto bytes = encode_model(m, 2);
  linear_model<double, 2> target(2, 3.0);
  const linear_model<double, 2> before = target;
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    auto r = decode_model(std::span<const std::uint8_t>(bytes.data(), len), target);
    INFO("length " << len);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::format_error);
    CHECK(same_bits(target, before));
  }
  // One extra byte is refused too.
  auto longer = bytes;
  longer.push_back(0);
  CHECK(decode_model(longer, target).error().code == errc::format_error);
  CHECK(decode_model(bytes, target).has_value());
}

TEST_CASE("checkpoint: every single-byte corruption is refused", "[deploy][checkpoint]") {
  linear_model<double, 2> m(2);
  m.coefficients() << 10.0, 20.0;
  const auto bytes = encode_model(m, 2);
  linear_model<double, 2> target(2, 3.0);
  const linear_model<double, 2> before = target;
  // Every position, with a one-bit, a high-bit and an all-bits change: CRC-32C detects every
  // error burst up to 32 bits, and the fields checked before it refuse the rest.
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (std::uint8_t flip : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xFF}}) {
      auto bad = bytes;
      bad[i] = static_cast<std::uint8_t>(bad[i] ^ flip);
      auto r = decode_model(bad, target);
      INFO("byte " << i << " xor " << int{flip});
      REQUIRE_FALSE(r.has_value());
      CHECK(same_bits(target, before));
    }
  }
  // A flipped payload byte is reported as a checksum mismatch.
  auto bad = bytes;
  bad[bytes.size() - 10] ^= 0x01;
  CHECK(decode_model(bad, target).error().code == errc::checksum_mismatch);
}

TEST_CASE("checkpoint: foreign, newer and mismatched files are refused with a reason",
          "[deploy][checkpoint]") {
  linear_model<double, 2> m(2, 1.0);
  auto bytes = encode_model(m);
  linear_model<double, 2> target(2);

  SECTION("not a checkpoint") {
    const std::string text = "w = (1, 2)\n";
    std::vector<std::uint8_t> foreign(text.begin(), text.end());
    auto r = decode_model(foreign, target);
    CHECK(r.error().code == errc::format_error);
    CHECK(r.error().message == "not a livefit checkpoint (bad magic bytes)");
  }
  SECTION("newer format") {
    bytes[8] = 2;  // format version 2, written by a future build
    auto r = decode_model(bytes, target);
    CHECK(r.error().code == errc::unsupported_version);
    CHECK(r.error().message ==
          "checkpoint format version 2 is newer than this build reads (up to 1)");
  }
  SECTION("another model type") {
    linear_model<float, 2> f(2);
    auto r = decode_model(encode_model(f), target);
    CHECK(r.error().code == errc::type_mismatch);
    CHECK(r.error().message == "checkpoint scalar is float32, expected float64");
    auto other = encode_checkpoint("livefit.rls", scalar_code::float64, 2, 0, {});
    r = decode_model(other, target);
    CHECK(r.error().code == errc::type_mismatch);
    CHECK(r.error().message ==
          "checkpoint holds a 'livefit.rls', expected a 'livefit.test.linear'");
  }
  SECTION("payload the model refuses") {
    byte_writer w;
    w.put_f64(0.5);
    Eigen::Vector2d nan_w(std::numeric_limits<double>::quiet_NaN(), 1.0);
    w.put_matrix(nan_w);
    auto file = encode_checkpoint(linear_model<double, 2>::checkpoint_type,
                                  scalar_code::float64, 2, 0, w.bytes());
    auto r = decode_model(file, target);
    CHECK(r.error().code == errc::format_error);
    CHECK(r.error().message == "model refused the checkpoint payload: non_finite_input");
  }
  SECTION("payload with trailing bytes") {
    byte_writer w;
    m.save_state(w);
    w.put_u8(0);
    auto file = encode_checkpoint(linear_model<double, 2>::checkpoint_type,
                                  scalar_code::float64, 2, 0, w.bytes());
    CHECK(decode_model(file, target).error().message == "checkpoint payload has 1 unread bytes");
  }
  CHECK((target.coefficients().array() == 0.0).all());
}

TEST_CASE("checkpoint: files are saved atomically and loaded with verification",
          "[deploy][checkpoint]") {
  temp_dir dir;
  const std::string path = dir.path + "/m.lfck";
  linear_model<double, 2> m(2);
  m.coefficients() << 0.1, 1.0 / 3.0;
  REQUIRE(save_checkpoint(path, m).has_value());
  // No temporary file is left behind.
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);
  linear_model<double, 2> back(2);
  REQUIRE(load_checkpoint(path, back).has_value());
  CHECK(same_bits(back, m));

  // A second save replaces the first.
  m.coefficients() << 5.0, 6.0;
  REQUIRE(save_checkpoint(path, m).has_value());
  REQUIRE(load_checkpoint(path, back).has_value());
  CHECK(back.coefficients()(1) == 6.0);

  auto missing = load_checkpoint(dir.path + "/none.lfck", back);
  CHECK(missing.error().code == errc::io_error);
  checkpoint_options small;
  small.max_file_bytes = 10;
  auto big = load_checkpoint(path, back, small);
  CHECK(big.error().code == errc::format_error);
}

TEMPLATE_TEST_CASE("checkpoint: a built-in rls model round trips and refuses damage",
                   "[deploy][checkpoint][rls]", float, double) {
  using S = TestType;
  rls_options ro;
  ro.forgetting_factor = 0.995;
  auto m = rls<S, Eigen::Dynamic>::make(ro, 3);
  REQUIRE(m.has_value());
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int i = 0; i < 200; ++i) {
    Eigen::Matrix<S, Eigen::Dynamic, 1> x(3);
    x << S(1), static_cast<S>(u(rng)), static_cast<S>(u(rng));
    REQUIRE(m->update(x, static_cast<S>(0.5 + x(1))) == status::ok);
  }
  const auto bytes = encode_model(*m);
  auto back = rls<S, Eigen::Dynamic>::make(ro, 3);
  REQUIRE(decode_model(bytes, *back).has_value());
  byte_writer a, b;
  m->save_state(a);
  back->save_state(b);
  CHECK(a.bytes() == b.bytes());

  // Every truncation and every one-byte change of the rls file is refused, the target intact.
  auto target = rls<S, Eigen::Dynamic>::make(ro, 3);
  byte_writer before;
  target->save_state(before);
  std::size_t accepted = 0;
  for (std::size_t len = 0; len < bytes.size(); ++len)
    accepted += decode_model(std::span<const std::uint8_t>(bytes.data(), len), *target) ? 1u : 0u;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] = static_cast<std::uint8_t>(bad[i] ^ 0x04);
    accepted += decode_model(bad, *target) ? 1u : 0u;
  }
  CHECK(accepted == 0);
  byte_writer after;
  target->save_state(after);
  CHECK(after.bytes() == before.bytes());
  // Another dimension is refused by the header.
  auto other = rls<S, Eigen::Dynamic>::make(ro, 4);
  CHECK(decode_model(bytes, *other).error().code == errc::type_mismatch);
}
