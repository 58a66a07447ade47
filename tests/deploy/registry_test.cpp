// Tests for livefit/deploy/registry.hpp and model_catalog.hpp: stages, retention, events,
// lock-free reads under a writer, checkpoint directories, crash safety and case C19.
#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "alloc_counter.hpp"
#include "catch.hpp"
#include "livefit/deploy/model_catalog.hpp"
#include "livefit/deploy/registry.hpp"
#include "registry_test_models.hpp"

using namespace livefit;
using livefit::test::linear_model;
using livefit::test::temp_dir;

namespace {

using model4 = linear_model<double, 4>;
using model2 = linear_model<double, 2>;

/// A model whose coefficients all equal `v`: a reader that sees unequal coefficients has
/// seen a torn model.
model4 constant_model(double v) { return model4(4, v); }

/// Keeps every event (the vector is the test's; push_back only fails on exhaustion).
struct recording_sink {
  std::vector<event>* out{nullptr};
  void on_event(const event& e) noexcept { out->push_back(e); }
};


std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

template <class Reg>
version_id publish_ok(Reg& r, double v) {
  auto id = r.publish(constant_model(v));
  REQUIRE(id.has_value());
  return *id;
}

}  // namespace

TEST_CASE("registry: make refuses invalid options with a message", "[deploy][registry]") {
  registry_options o;
  o.keep_last = 0;
  auto r = registry<model4>::make(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::invalid_argument);
  CHECK(r.error().message == "registry: keep_last must be >= 1, got 0");
  o = {};
  o.history_capacity = 0;
  CHECK(registry<model4>::make(o).error().message ==
        "registry: history_capacity must be >= 1, got 0");
  o = {};
  o.clock = nullptr;
  CHECK_FALSE(registry<model4>::make(o).has_value());
}

TEST_CASE("registry: the stage machine allows only the legal transitions", "[deploy][registry]") {
  using s = stage;
  // Rows: from; columns: to, in enum order (candidate, shadow, canary, production, retired,
  // rolled_back). 1 = legal (production moves only through promote/rollback).
  const int table[6][6] = {
      {0, 1, 1, 1, 1, 0},  // candidate
      {0, 0, 1, 1, 1, 1},  // shadow
      {0, 0, 0, 1, 1, 1},  // canary
      {0, 0, 0, 0, 1, 1},  // production (replaced by promote, or rolled back)
      {0, 0, 0, 1, 0, 0},  // retired (back to production by rollback only)
      {0, 0, 0, 0, 0, 0},  // rolled_back: final
  };
  for (int f = 0; f < 6; ++f)
    for (int t = 0; t < 6; ++t) {
      INFO(to_string(static_cast<s>(f)) << " -> " << to_string(static_cast<s>(t)));
      CHECK(legal_transition(static_cast<s>(f), static_cast<s>(t)) == (table[f][t] == 1));
    }

  auto reg = registry<model4>::make({});
  REQUIRE(reg.has_value());
  const auto v1 = publish_ok(*reg, 1);
  const auto v2 = publish_ok(*reg, 2);
  const auto v3 = publish_ok(*reg, 3);
  REQUIRE(reg->set_stage(v1, s::shadow).has_value());
  CHECK(reg->set_stage(v1, s::candidate).error().code == errc::illegal_transition);
  REQUIRE(reg->set_stage(v1, s::canary).has_value());
  // Only one canary at a time.
  auto second = reg->set_stage(v2, s::canary);
  CHECK(second.error().code == errc::illegal_transition);
  CHECK(second.error().message ==
        "registry: version 1 is the canary already; promote or withdraw it first");
  REQUIRE(reg->promote(v1).has_value());
  CHECK(reg->read_canary().empty());  // the canary became production
  CHECK(reg->set_stage(v1, s::retired).error().message ==
        "registry: version 1 is production; promote another version or roll back instead");
  CHECK(reg->promote(v1).error().message == "registry: version 1 is already production");
  REQUIRE(reg->set_stage(v3, s::rolled_back).has_value() == false);  // candidate cannot be
  REQUIRE(reg->set_stage(v3, s::retired).has_value());
  CHECK(reg->promote(v3).error().code == errc::illegal_transition);
  CHECK(reg->promote(99).error().code == errc::not_found);
}

TEST_CASE("registry: publish, promote and roll back, each with an event and a history entry",
          "[deploy][registry]") {
  std::vector<event> events;
  registry_options o;
  o.clock = [] () noexcept { return 42.5; };
  o.model_index = 7;
  auto reg = registry<model4, recording_sink>::make(o, recording_sink{&events});
  REQUIRE(reg.has_value());
  CHECK(reg->read().empty());
  CHECK(reg->production_version() == 0);

  const auto v1 = publish_ok(*reg, 1);
  REQUIRE(reg->promote(v1, "first version").has_value());
  const auto v2 = publish_ok(*reg, 2);
  REQUIRE(reg->set_stage(v2, stage::canary, "canary 5%").has_value());
  CHECK(reg->read_canary().version() == v2);
  REQUIRE(reg->promote(v2, "gate: promote", {{"delta_rmse", -0.125}}).has_value());
  CHECK(reg->info(v2)->origin.figures == std::vector<figure>{{"delta_rmse", -0.125}});
  CHECK(reg->read().version() == v2);
  CHECK(reg->info(v1)->current == stage::retired);

  auto back = reg->rollback("loss doubled");
  REQUIRE(back.has_value());
  CHECK(*back == v1);
  CHECK(reg->read().version() == v1);
  CHECK(reg->read()->coefficients()(0) == 1.0);
  CHECK(reg->info(v2)->current == stage::rolled_back);
  CHECK(reg->rollback().error().code == errc::not_found);  // nothing earlier than v1
  CHECK(*reg->find(stage::production) == v1);
  CHECK(*reg->find(stage::rolled_back) == v2);
  CHECK(reg->find(stage::canary).error().code == errc::not_found);

  // One event per change, in order, with what, when and why.
  const std::vector<event_kind> kinds = {
      event_kind::published, event_kind::promoted,      event_kind::published,
      event_kind::stage_changed, event_kind::stage_changed, event_kind::promoted,
      event_kind::rolled_back,   event_kind::promoted};
  REQUIRE(events.size() == kinds.size());
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    INFO("event " << i);
    CHECK(events[i].kind == kinds[i]);
    CHECK(events[i].time == 42.5);
    CHECK(events[i].model == 7);
  }
  CHECK(events[6].version == v2);
  CHECK(events[6].reason == "loss doubled");
  CHECK(events[7].version == v1);

  const auto h = reg->history();
  REQUIRE(h.size() == events.size());
  CHECK(h[6].from == stage::production);
  CHECK(h[6].to == stage::rolled_back);
  CHECK(h[6].reason == "loss doubled");
  CHECK(reg->info(v1)->origin.created == 42.5);
}

TEST_CASE("registry: retention keeps the last N and every version ever in production",
          "[deploy][registry]") {
  std::vector<event> events;
  registry_options o;
  o.keep_last = 3;
  auto reg = registry<model4, recording_sink>::make(o, recording_sink{&events});
  REQUIRE(reg.has_value());
  const auto v1 = publish_ok(*reg, 1);
  REQUIRE(reg->promote(v1).has_value());
  for (int i = 2; i <= 10; ++i) publish_ok(*reg, i);
  const auto v11 = publish_ok(*reg, 11);
  REQUIRE(reg->set_stage(v11, stage::shadow).has_value());
  REQUIRE(reg->promote(publish_ok(*reg, 12)).has_value());
  for (int i = 13; i <= 15; ++i) publish_ok(*reg, i);

  std::vector<version_id> held;
  for (const auto& vi : reg->versions()) held.push_back(vi.id);
  // 1 and 12 were production, 11 is a shadow, 13-15 are the last three.
  CHECK(held == std::vector<version_id>{1, 11, 12, 13, 14, 15});
  std::size_t dropped = 0;
  for (const auto& e : events) dropped += e.kind == event_kind::retired ? 1 : 0;
  CHECK(dropped == 9);
  CHECK(reg->info(5).error().code == errc::not_found);

  SECTION("keep_past_production bounds the rollback targets") {
    o.keep_past_production = 1;
    auto bounded = registry<model4>::make(o);
    REQUIRE(bounded.has_value());
    for (int i = 1; i <= 6; ++i) REQUIRE(bounded->promote(publish_ok(*bounded, i)).has_value());
    for (int i = 7; i <= 9; ++i) publish_ok(*bounded, i);
    std::vector<version_id> kept;
    for (const auto& vi : bounded->versions()) kept.push_back(vi.id);
    CHECK(kept == std::vector<version_id>{5, 6, 7, 8, 9});
    CHECK(*bounded->rollback() == 5);
    CHECK(bounded->rollback().error().code == errc::not_found);
  }
}

TEST_CASE("registry: reads allocate nothing and snapshots outlive drops and the registry",
          "[deploy][registry]") {
  registry_options o;
  o.keep_last = 1;
  o.keep_past_production = 1;
  auto reg = registry<model4>::make(o);
  REQUIRE(reg.has_value());
  REQUIRE(reg->promote(publish_ok(*reg, 1)).has_value());
  const Eigen::Vector4d ones = Eigen::Vector4d::Ones();
  { auto warm = reg->read(); }  // the thread's first read claims its hazard record

  if (!test::alloc_counting_available()) {
    WARN("allocation counting unavailable in this build (sanitizer); skipped");
  } else {
    double sum = 0;
    test::alloc_scope scope;
    for (int i = 0; i < 1000000; ++i) {
      auto s = reg->read();
      sum += s->predict(ones);
    }
    CHECK(scope.count() == 0);
    CHECK(sum == 4.0e6);
  }

  // A snapshot pins its version while the writer moves on and retention drops it.
  auto pinned = reg->read();
  REQUIRE(pinned.version() == 1);
  for (int i = 2; i <= 6; ++i) REQUIRE(reg->promote(publish_ok(*reg, i)).has_value());
  CHECK(reg->info(1).error().code == errc::not_found);
  detail::hazard_domain::global().reclaim();
  CHECK(pinned.version() == 1);
  CHECK(pinned->predict(ones) == 4.0);
  CHECK((pinned->coefficients().array() == 1.0).all());

  // A snapshot may move to another thread and be released there.
  auto moved = reg->read();
  std::thread other([s = std::move(moved), &ones]() mutable {
    if (s->predict(ones) != 24.0) std::abort();
    s.reset();
  });
  other.join();

  // ...and even the registry itself.
  auto last = reg->read();
  *reg = registry<model4>::make(o).value();
  detail::hazard_domain::global().reclaim();
  CHECK(last->predict(ones) == 24.0);
  CHECK(reg->read().empty());
  pinned.reset();
  last.reset();
  // Nothing of this test stays retired once its snapshots are gone.
  CHECK(detail::hazard_domain::global().reclaim() == 0);
}

TEST_CASE("registry: many snapshots per thread and more threads than the static pool",
          "[deploy][registry]") {
  auto reg = registry<model4>::make({});
  REQUIRE(reg->promote(publish_ok(*reg, 3)).has_value());

  // Ten snapshots held at once on one thread: the fifth spills into a second hazard record.
  std::vector<snapshot<model4>> many;
  for (int i = 0; i < 10; ++i) many.push_back(reg->read());
  for (const auto& s : many) CHECK(s.version() == 1);
  many.clear();

  // More concurrently live reader threads than the 128 static records: all get a record,
  // all read the right model, and records are recycled when threads end.
  const int threads = static_cast<int>(detail::hazard_static_records) + 22;
  std::atomic<int> arrived{0}, wrong{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      auto s = reg->read();
      if (!s || s->coefficients()(0) != 3.0) wrong.fetch_add(1);
      arrived.fetch_add(1);
      while (arrived.load() < threads) std::this_thread::yield();  // all alive at once
    });
  for (auto& th : pool) th.join();
  CHECK(wrong.load() == 0);
}

namespace {

/// Readers predict while a writer publishes, promotes, rolls back and cycles canaries; a
/// reader fails on any model whose coefficients are not all equal to its version number.
void run_torn_read_stress(int readers, int writer_steps) {
  registry_options o;
  o.keep_last = 2;
  o.keep_past_production = 2;
  auto reg = registry<model4>::make(o);
  REQUIRE(reg.has_value());
  REQUIRE(reg->promote(publish_ok(*reg, 1)).has_value());
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> torn{0}, reads{0}, empties{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < readers; ++t)
    pool.emplace_back([&, t] {
      const Eigen::Vector4d ones = Eigen::Vector4d::Ones();
      std::uint64_t n = 0, bad = 0;
      snapshot<model4> held;  // sometimes kept across writer steps
      while (!stop.load(std::memory_order_relaxed)) {
        auto s = (n % 3 == 2) ? reg->read_canary() : reg->read();
        if (s) {
          const double v = static_cast<double>(s.version());
          const auto& w = s->coefficients();
          if (!(w.array() == v).all() || s->predict(ones) != 4.0 * v) ++bad;
          if ((n + static_cast<std::uint64_t>(t)) % 64 == 0) held = std::move(s);
        } else if (n % 3 != 2) {
          empties.fetch_add(1, std::memory_order_relaxed);
        }
        if (held && !(held->coefficients().array() ==
                      static_cast<double>(held.version())).all())
          ++bad;
        ++n;
      }
      torn.fetch_add(bad);
      reads.fetch_add(n);
    });
  const unsigned seed = 8u;
  std::printf("torn-read stress: %d readers, %d writer steps, seed %u\n", readers,
              writer_steps, seed);
  std::mt19937 rng(seed);
  version_id next = 2;
  std::size_t failures = 0;
  const auto expect = [&failures](bool ok) { failures += ok ? 0u : 1u; };
  for (int i = 0; i < writer_steps; ++i) {
    const version_id id = publish_ok(*reg, static_cast<double>(next));
    expect(id == next);
    ++next;
    const auto canary = reg->find(stage::canary);
    switch (rng() % 4) {
      case 0: expect(reg->promote(id).has_value()); break;
      case 1:
        if (canary) expect(reg->set_stage(*canary, stage::rolled_back).has_value());
        expect(reg->set_stage(id, stage::canary).has_value());
        break;
      case 2:
        expect(reg->promote(id).has_value());
        expect(reg->rollback().has_value());
        break;
      default:
        if (canary) expect(reg->promote(*canary).has_value());
        break;
    }
  }
  stop.store(true);
  for (auto& th : pool) th.join();
  std::printf("torn-read stress: %llu reads\n", static_cast<unsigned long long>(reads.load()));
  CHECK(failures == 0);
  CHECK(torn.load() == 0);
  CHECK(empties.load() == 0);
  CHECK(reads.load() > 0);
}

}  // namespace

TEST_CASE("registry: readers never see a torn model while a writer changes versions",
          "[deploy][registry]") {
  run_torn_read_stress(3, 3000);
}

TEST_CASE("registry: torn-read stress, long", "[deploy][registry][.stress]") {
  run_torn_read_stress(4, 300000);
}

TEST_CASE("registry: C19 a half-written or damaged version never becomes active",
          "[deploy][registry][C19]") {
  // Case C19-registry-incomplete-checkpoint (tensorflow/serving#1086, #1480): a server
  // activated a version whose weights were not yet written, and unloaded the live version
  // when its storage vanished. Expected values from the handout, exact (bitwise).
  temp_dir dir;
  std::vector<event> events;
  auto reg = registry<model2, recording_sink>::make({}, recording_sink{&events});
  REQUIRE(reg.has_value());
  const Eigen::Vector2d x(1.0, 1.0);
  const model2 prototype(2);

  // Step 1: register and activate v1 with w = (1, 2); predict((1, 1)) = 3.
  model2 w1(2);
  w1.coefficients() << 1.0, 2.0;
  const auto v1 = reg->publish(w1);
  REQUIRE(v1.has_value());
  REQUIRE(reg->promote(*v1).has_value());
  const double step1 = reg->read()->predict(x);
  CHECK(step1 == 3.0);

  // Step 2: a v2 checkpoint for w = (10, 20), damaged three ways; each load is refused with
  // a reason, the registry is unchanged and v1 keeps serving 3.
  model2 w2(2);
  w2.coefficients() << 10.0, 20.0;
  const std::string v2_path = dir.path + "/v2-upload.lfck";
  const auto good = encode_model(w2);
  const std::size_t header_only = checkpoint_fixed_header + model2::checkpoint_type.size() + 8;
  struct damage {
    const char* what;
    std::vector<std::uint8_t> bytes;
    errc code;
  };
  auto flipped = good;
  flipped[header_only + 20] ^= 0x10;  // one payload byte
  const std::vector<damage> damages = {
      {"truncated to half", {good.begin(), good.begin() + std::ssize(good) / 2},
       errc::format_error},
      {"one payload byte flipped", flipped, errc::checksum_mismatch},
      {"header only", {good.begin(), good.begin() + static_cast<std::ptrdiff_t>(header_only)},
       errc::format_error},
  };
  const std::size_t events_before = events.size();
  for (const auto& d : damages) {
    INFO(d.what);
    write_bytes(v2_path, d.bytes);
    auto r = reg->publish_checkpoint(v2_path, prototype);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == d.code);
    CHECK(r.error().message.find(v2_path) != std::string::npos);  // says which file
    CHECK(reg->size() == 1);
    CHECK(reg->production_version() == *v1);
    CHECK(reg->read()->predict(x) == 3.0);
  }
  CHECK(events.size() == events_before);  // nothing happened
  CHECK(reg->publish_checkpoint(v2_path, prototype).error().message.find("truncated") !=
        std::string::npos);

  // Step 3: v2 written completely; activate; predict = 30.
  write_bytes(v2_path, good);
  const auto v2 = reg->publish_checkpoint(v2_path, prototype);
  REQUIRE(v2.has_value());
  REQUIRE(reg->promote(*v2).has_value());
  CHECK(reg->read()->predict(x) == 30.0);

  // Step 4: roll back to v1; 3.0, bit-identical to step 1.
  REQUIRE(reg->rollback().has_value());
  const double step4 = reg->read()->predict(x);
  CHECK(std::bit_cast<std::uint64_t>(step4) == std::bit_cast<std::uint64_t>(step1));

  // Step 5: save and reload w = (0.1, 1/3): bit-identical doubles.
  model2 w5(2);
  w5.coefficients() << 0.1, 1.0 / 3.0;
  REQUIRE(save_checkpoint(dir.path + "/w5.lfck", w5).has_value());
  model2 back(2);
  REQUIRE(load_checkpoint(dir.path + "/w5.lfck", back).has_value());
  CHECK(std::bit_cast<std::uint64_t>(back.coefficients()(0)) ==
        std::bit_cast<std::uint64_t>(0.1));
  CHECK(std::bit_cast<std::uint64_t>(back.coefficients()(1)) ==
        std::bit_cast<std::uint64_t>(1.0 / 3.0));

  // Step 6: delete v1's checkpoint file while v1 is active: still 3.0 from memory, no
  // automatic unload or switch.
  const std::string saved = dir.path + "/registry";
  REQUIRE(reg->save(saved).has_value());
  REQUIRE(std::filesystem::remove(saved + "/v1.lfck"));
  CHECK(reg->read()->predict(x) == 3.0);
  CHECK(reg->production_version() == *v1);
  // A restore from the damaged directory is refused and changes nothing either.
  auto restored = reg->restore(saved, prototype);
  REQUIRE_FALSE(restored.has_value());
  CHECK(restored.error().code == errc::io_error);
  CHECK(reg->read()->predict(x) == 3.0);
  CHECK(reg->size() == 2);
}

TEST_CASE("registry: saves to and restores from a directory bit-exactly", "[deploy][registry]") {
  temp_dir dir;
  registry_options o;
  o.clock = [] () noexcept { return 1.5e9; };
  auto reg = registry<model4>::make(o);
  REQUIRE(reg.has_value());
  model4 m(4);
  m.coefficients() << 0.1, 1.0 / 3.0, -0.0, 1e-310;
  lineage l;
  l.samples = 123;
  l.fingerprint = 0x0123456789ABCDEFull;
  l.figures = {{"rmse", 0.25}, {"mae", 1.0 / 7.0}};
  l.tags = {"instrument=ES", "trainer=nightly"};
  const auto v1 = reg->publish(m, l);
  REQUIRE(reg->promote(*v1, "initial").has_value());
  const auto v2 = publish_ok(*reg, 2.0);
  REQUIRE(reg->set_stage(v2, stage::canary).has_value());
  REQUIRE(reg->save(dir.path).has_value());

  auto back = registry<model4>::load(dir.path, model4(4), o);
  REQUIRE(back.has_value());
  CHECK(back->production_version() == *v1);
  CHECK(back->read_canary().version() == v2);
  for (int i = 0; i < 4; ++i)
    CHECK(std::bit_cast<std::uint64_t>(back->read()->coefficients()(i)) ==
          std::bit_cast<std::uint64_t>(m.coefficients()(i)));
  const auto info = back->info(*v1);
  REQUIRE(info.has_value());
  l.created = 1.5e9;
  CHECK(info->origin == l);
  CHECK(info->ever_production);
  const auto h1 = reg->history();
  // The restored history is the saved one plus the restore itself.
  const auto h2 = back->history();
  REQUIRE(h2.size() == h1.size() + 1);
  CHECK(h2[1].reason == "initial");
  // The next version continues the numbering.
  CHECK(*back->publish(constant_model(3)) == v2 + 1);

  // A second save into the same directory drops files of versions no longer held.
  registry_options one = o;
  one.keep_last = 1;
  auto small = registry<model4>::make(one);
  REQUIRE(small->promote(publish_ok(*small, 1)).has_value());
  publish_ok(*small, 2);
  publish_ok(*small, 3);  // drops 2
  REQUIRE(small->save(dir.path).has_value());
  CHECK(std::filesystem::exists(dir.path + "/v1.lfck"));
  CHECK_FALSE(std::filesystem::exists(dir.path + "/v2.lfck"));
  CHECK(std::filesystem::exists(dir.path + "/v3.lfck"));
}

TEST_CASE("registry: restore refuses a damaged directory and leaves the registry as it was",
          "[deploy][registry]") {
  temp_dir dir;
  auto reg = registry<model4>::make({});
  REQUIRE(reg->promote(publish_ok(*reg, 1)).has_value());
  publish_ok(*reg, 2);
  REQUIRE(reg->save(dir.path).has_value());

  auto target = registry<model4>::make({});
  REQUIRE(target->promote(publish_ok(*target, 7)).has_value());
  const auto check_unchanged = [&] {
    CHECK(target->size() == 1);
    CHECK(target->read()->coefficients()(0) == 7.0);
  };

  SECTION("a version file with a flipped byte") {
    auto b = read_bytes(dir.path + "/v2.lfck");
    b[b.size() - 10] ^= 0x01;  // inside the payload
    write_bytes(dir.path + "/v2.lfck", b);
    auto r = target->restore(dir.path, model4(4));
    CHECK(r.error().code == errc::checksum_mismatch);
    check_unchanged();
  }
  SECTION("a truncated manifest") {
    auto b = read_bytes(dir.path + "/manifest.lfck");
    b.resize(b.size() - 1);
    write_bytes(dir.path + "/manifest.lfck", b);
    CHECK(target->restore(dir.path, model4(4)).error().code == errc::format_error);
    check_unchanged();
  }
  SECTION("a version file swapped for another version") {
    std::filesystem::copy_file(dir.path + "/v1.lfck", dir.path + "/v2.lfck",
                               std::filesystem::copy_options::overwrite_existing);
    auto r = target->restore(dir.path, model4(4));
    CHECK(r.error().message.find("holds version 1, expected 2") != std::string::npos);
    check_unchanged();
  }
  SECTION("models of another dimension") {
    using dyn = linear_model<double, Eigen::Dynamic>;
    auto d = registry<dyn>::make({});
    REQUIRE(d->promote(*d->publish(dyn(3, 1.0))).has_value());
    temp_dir other;
    REQUIRE(d->save(other.path).has_value());
    auto wrong = registry<dyn>::make({});
    auto r = wrong->restore(other.path, dyn(5));
    CHECK(r.error().code == errc::type_mismatch);
    CHECK(wrong->size() == 0);
    CHECK(wrong->restore(other.path, dyn(3)).has_value());
    CHECK(wrong->read()->dim() == 3);
  }
}

namespace {

/// Kills a child that saves a registry in a loop at random instants; the directory must
/// load every time, and its production model must be the one its manifest names.
void run_crash_rounds(int rounds) {
  temp_dir dir;
  registry_options o;
  o.keep_last = 2;
  o.keep_past_production = 2;
  {
    auto seed_reg = registry<model4>::make(o);
    REQUIRE(seed_reg->promote(publish_ok(*seed_reg, 1)).has_value());
    REQUIRE(seed_reg->save(dir.path).has_value());
  }
  const unsigned seed = 19u;
  std::printf("crash rounds: %d, seed %u\n", rounds, seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  int killed_mid_run = 0;
  version_id last_production = 0;
  for (int round = 0; round < rounds; ++round) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Child: continue from what is on disk, publish, promote and save for ever.
      auto r = registry<model4>::load(dir.path, model4(4), o);
      if (!r) ::_exit(3);
      for (;;) {
        const auto next = static_cast<double>(r->production_version() + 1);
        auto v = r->publish(constant_model(next));
        if (!v || static_cast<double>(*v) != next) {
          // Version numbers run ahead of coefficients when a loaded directory held newer
          // unpromoted versions; publish the matching value instead.
          if (!v) ::_exit(4);
          auto again = r->publish(constant_model(static_cast<double>(*v) + 1));
          if (!again || !r->promote(*again)) ::_exit(5);
        } else if (!r->promote(*v)) {
          ::_exit(6);
        }
        if (!r->save(dir.path)) ::_exit(7);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ::kill(child, SIGKILL);
    int wstatus = 0;
    REQUIRE(::waitpid(child, &wstatus, 0) == child);
    if (WIFSIGNALED(wstatus)) ++killed_mid_run;
    else
      FAIL("child exited by itself with code " << WEXITSTATUS(wstatus));
    auto back = registry<model4>::load(dir.path, model4(4), o);
    INFO("round " << round);
    REQUIRE(back.has_value());
    auto s = back->read();
    REQUIRE(s);
    CHECK((s->coefficients().array() == static_cast<double>(s.version())).all());
    // A committed save is never lost: production only moves forward from round to round.
    CHECK(s.version() >= last_production);
    last_production = s.version();
  }
  CHECK(killed_mid_run == rounds);
  std::printf("crash rounds: production reached version %llu\n",
              static_cast<unsigned long long>(last_production));

  // The next complete save removes the temporary files the killed saves left behind.
  auto final_reg = registry<model4>::load(dir.path, model4(4), o);
  REQUIRE(final_reg.has_value());
  REQUIRE(final_reg->save(dir.path).has_value());
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

}  // namespace

TEST_CASE("registry: a save killed at any instant leaves a loadable directory",
          "[deploy][registry][crash]") {
  run_crash_rounds(40);
}

TEST_CASE("registry: crash safety, many rounds", "[deploy][registry][crash][.soak]") {
  run_crash_rounds(400);
}

TEST_CASE("model_catalog: thousands of models added, read and removed at run time",
          "[deploy][catalog]") {
  auto cat = model_catalog<model4>::make({});
  REQUIRE(cat.has_value());
  CHECK(cat->add("bad/name").error().code == errc::invalid_argument);
  CHECK(cat->add("").error().code == errc::invalid_argument);
  CHECK(cat->add(".hidden").error().code == errc::invalid_argument);

  const int n = 2000;
  const bool measure = test::alloc_counting_available();
  const auto heap_before = ::mallinfo2().uordblks;
  for (int i = 0; i < n; ++i) {
    auto h = cat->add("ES-" + std::to_string(100000 + i));
    REQUIRE(h.has_value());
    REQUIRE((*h)->promote(publish_ok(**h, i)).has_value());
  }
  const auto heap_after = ::mallinfo2().uordblks;
  CHECK(cat->size() == static_cast<std::size_t>(n));
  CHECK(cat->add("ES-100000").error().message == "model_catalog: name 'ES-100000' is taken");

  // The idle entry's memory, as documented in registry.hpp and model_catalog.hpp.
  const double per_entry = static_cast<double>(heap_after - heap_before) / n;
  std::printf("idle catalog entry: %.0f heap bytes (registry state %zu, version %zu, "
              "model %zu)\n",
              per_entry, registry<model4>::state_bytes(), registry<model4>::version_bytes(),
              sizeof(model4));
  CHECK(registry<model4>::state_bytes() <= 256);
  CHECK(registry<model4>::version_bytes() <= 200);
  if (measure) CHECK(per_entry < 1024.0);

  auto h = cat->find("ES-100042");
  REQUIRE(h);
  auto s = h->read();
  CHECK(s->coefficients()(0) == 42.0);
  for (int i = 0; i < n; i += 2)
    REQUIRE(cat->remove("ES-" + std::to_string(100000 + i)).has_value());
  CHECK(cat->size() == static_cast<std::size_t>(n / 2));
  CHECK_FALSE(cat->find("ES-100042"));
  CHECK(s->coefficients()(0) == 42.0);  // the reader's snapshot and handle survive removal
  CHECK(h->read()->coefficients()(0) == 42.0);
  CHECK(cat->remove("ES-100042").error().code == errc::not_found);
  CHECK(cat->find("ES-100043"));

  temp_dir dir;
  auto small = model_catalog<model4>::make({});
  REQUIRE((*small->add("a"))->promote(publish_ok(*small->find("a"), 1)).has_value());
  REQUIRE(small->save(dir.path).has_value());
  CHECK(std::filesystem::exists(dir.path + "/a/manifest.lfck"));
}
