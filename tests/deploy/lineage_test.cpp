// Tests for livefit/deploy/lineage.hpp: the sample fingerprint and replay reproducibility.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "catch.hpp"
#include "livefit/deploy/lineage.hpp"
#include "livefit/deploy/registry.hpp"
#include "livefit/models/rls.hpp"
#include "registry_test_models.hpp"

using namespace livefit;
using livefit::test::linear_model;

TEST_CASE("sample_fingerprint: empty stream is XXH64 of no bytes", "[deploy][lineage]") {
  // With no word absorbed the definition reduces to XXH64("", seed 0), whose published value
  // is 0xEF46DB3751D8E999 (xxHash sanity-check vectors).
  CHECK(sample_fingerprint{}.value() == 0xEF46DB3751D8E999ull);
}

TEST_CASE("sample_fingerprint: matches an independent implementation", "[deploy][lineage]") {
  // Reference: a Python 3.11.7 implementation of docs/checkpoint-format.md, section "Sample
  // fingerprint", packing each scalar with struct.pack('<d') or ('<f'):
  //   samples ((1, -2.5), 0.1), ((0, -0), 1e300), ((3.25, 1/3), -7) -> 0x06304b9183bc6bb4
  //   the first two swapped                                          -> 0x60a9e8952479d70e
  //   as float32, with 1e30 in place of 1e300                        -> 0x32dcfa980e9c26c8
  sample_fingerprint fp;
  fp.add(Eigen::Vector2d(1.0, -2.5), 0.1);
  fp.add(Eigen::Vector2d(0.0, -0.0), 1e300);
  fp.add(Eigen::Vector2d(3.25, 1.0 / 3.0), -7.0);
  CHECK(fp.value() == 0x06304b9183bc6bb4ull);
  CHECK(fp.samples() == 3);

  sample_fingerprint swapped;
  swapped.add(Eigen::Vector2d(0.0, -0.0), 1e300);
  swapped.add(Eigen::Vector2d(1.0, -2.5), 0.1);
  swapped.add(Eigen::Vector2d(3.25, 1.0 / 3.0), -7.0);
  CHECK(swapped.value() == 0x60a9e8952479d70eull);

  sample_fingerprint f32;
  f32.add(Eigen::Vector2f(1.0f, -2.5f), 0.1f);
  f32.add(Eigen::Vector2f(0.0f, -0.0f), 1e30f);
  f32.add(Eigen::Vector2f(3.25f, 1.0f / 3.0f), -7.0f);
  CHECK(f32.value() == 0x32dcfa980e9c26c8ull);
}

TEST_CASE("sample_fingerprint: distinguishes signed zeros and keeps state on save",
          "[deploy][lineage]") {
  sample_fingerprint a, b;
  a.add(Eigen::Vector2d(0.0, 1.0), 2.0);
  b.add(Eigen::Vector2d(-0.0, 1.0), 2.0);
  CHECK(a.value() != b.value());  // the bit patterns differ, so does the data

  byte_writer w;
  a.save_state(w);
  sample_fingerprint c;
  byte_reader r(w.bytes());
  REQUIRE(c.load_state(r) == status::ok);
  CHECK(c == a);
  a.add(Eigen::Vector2d(3.0, 4.0), 5.0);
  c.add(Eigen::Vector2d(3.0, 4.0), 5.0);
  CHECK(c.value() == a.value());
}

TEST_CASE("fingerprinted: rejected samples change neither model nor fingerprint",
          "[deploy][lineage]") {
  fingerprinted<linear_model<double, 2>> m(linear_model<double, 2>(2));
  static_assert(regressor<fingerprinted<linear_model<double, 2>>>);
  REQUIRE(m.update(Eigen::Vector2d(1.0, 2.0), 3.0) == status::ok);
  const auto fp = m.fingerprint();
  const Eigen::Vector2d w = m.model().coefficients();
  CHECK(m.update(Eigen::Vector2d(std::nan(""), 2.0), 3.0) == status::non_finite_input);
  CHECK(m.fingerprint() == fp);
  CHECK((m.model().coefficients().array() == w.array()).all());
  CHECK(m.fingerprint().samples() == 1);
}

TEST_CASE("lineage: replaying the samples reproduces fingerprint and coefficients bit for bit",
          "[deploy][lineage]") {
  const unsigned seed = 20261204;
  std::printf("lineage replay seed %u\n", seed);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.1);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<std::pair<Eigen::Vector3d, double>> data;
  for (int i = 0; i < 5000; ++i) {
    Eigen::Vector3d x(u(rng), u(rng), u(rng));
    data.emplace_back(x, 0.5 * x(0) - 2.0 * x(1) + x(2) + noise(rng));
  }

  auto reg = registry<linear_model<double, 3>>::make({});
  REQUIRE(reg.has_value());
  const linear_model<double, 3> start(3, 0.25);
  auto parent = reg->publish(start);
  REQUIRE(parent.has_value());

  // Train a child from the parent, recording its lineage, and publish it.
  fingerprinted<linear_model<double, 3>> trainer(*reg->copy_of(*parent));
  for (const auto& [x, y] : data) REQUIRE(trainer.update(x, y) == status::ok);
  lineage origin = lineage::from(*parent, trainer.fingerprint());
  origin.figures.push_back({"rmse", 0.1});
  origin.tags.push_back("replay-test");
  auto child = reg->publish(trainer.model(), origin);
  REQUIRE(child.has_value());

  // Replay: same parent, same samples in the same order.
  auto info = reg->info(*child);
  REQUIRE(info.has_value());
  fingerprinted<linear_model<double, 3>> replay(*reg->copy_of(info->origin.parent));
  for (const auto& [x, y] : data) REQUIRE(replay.update(x, y) == status::ok);
  CHECK(replay.fingerprint().value() == info->origin.fingerprint);
  CHECK(replay.fingerprint().samples() == info->origin.samples);
  CHECK(info->origin.samples == 5000);
  const auto trained = *reg->copy_of(*child);
  for (int i = 0; i < 3; ++i)
    CHECK(std::bit_cast<std::uint64_t>(replay.model().coefficients()(i)) ==
          std::bit_cast<std::uint64_t>(trained.coefficients()(i)));

  // A different order gives a different fingerprint.
  std::swap(data[10], data[11]);
  fingerprinted<linear_model<double, 3>> other(start);
  for (const auto& [x, y] : data) REQUIRE(other.update(x, y) == status::ok);
  CHECK(other.fingerprint().value() != info->origin.fingerprint);
}

TEST_CASE("lineage: an rls version replays bit for bit from its restored parent",
          "[deploy][lineage][rls]") {
  // End to end: parent published and saved to disk, child trained and published with its
  // lineage; the registry is restored from disk and the child is rebuilt from the restored
  // parent by replaying the same samples: same fingerprint, same coefficients and covariance,
  // bit for bit.
  using model = rls<double, 4>;
  rls_options ro;
  ro.forgetting_factor = 0.99;
  auto start = model::make(ro);
  REQUIRE(start.has_value());

  const unsigned seed = 77;
  std::printf("rls replay seed %u\n", seed);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<std::pair<Eigen::Vector4d, double>> data;
  for (int i = 0; i < 3000; ++i) {
    Eigen::Vector4d x(1.0, z(rng), z(rng), z(rng));
    data.emplace_back(x, 2.0 + x(1) - 0.5 * x(3) + 0.1 * z(rng));
  }

  livefit::test::temp_dir dir;
  version_id parent = 0, child = 0;
  {
    auto reg = registry<model>::make({});
    REQUIRE(reg.has_value());
    parent = *reg->publish(*start);
    REQUIRE(reg->promote(parent).has_value());
    fingerprinted<model> trainer(*reg->copy_of(parent));
    for (const auto& [x, y] : data) REQUIRE(trainer.update(x, y) == status::ok);
    child = *reg->publish(trainer.model(), lineage::from(parent, trainer.fingerprint()));
    REQUIRE(reg->save(dir.path).has_value());
  }
  auto back = registry<model>::load(dir.path, *start, {});
  REQUIRE(back.has_value());
  const auto info = back->info(child);
  REQUIRE(info.has_value());
  CHECK(info->origin.parent == parent);
  fingerprinted<model> replay(*back->copy_of(info->origin.parent));
  for (const auto& [x, y] : data) REQUIRE(replay.update(x, y) == status::ok);
  CHECK(replay.fingerprint().value() == info->origin.fingerprint);
  CHECK(replay.fingerprint().samples() == info->origin.samples);

  byte_writer a, b;
  replay.model().save_state(a);
  back->copy_of(child)->save_state(b);
  CHECK(a.bytes() == b.bytes());  // coefficients, covariance and counters, bit for bit
}
