// Tests for the replay program's library part (examples/replay): calendar and features, the
// CSV reader, the configuration, bad input with its messages, and the end-to-end replay of
// the bundled births stream (targets, stable timeline, byte-identical outputs, registry).
#include "catch.hpp"

#if defined(LIVEFIT_REPLAY_AVAILABLE)

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <zlib.h>

#include "calendar.hpp"
#include "config.hpp"
#include "csv_reader.hpp"
#include "features.hpp"
#include "replay.hpp"

using namespace livefit;
using namespace livefit::replay;
namespace fs = std::filesystem;

namespace {

const std::string data_dir = LIVEFIT_DATA_DIR;
const std::string births = data_dir + "/us-births-1969-1988.csv";
const std::string bundled_config = std::string(LIVEFIT_REPLAY_CONFIG_DIR) + "/births.toml";

// A fresh scratch directory per test, under the system's temporary directory.
fs::path scratch(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("livefit_replay_test_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A small configuration over `csv` (target y, feature x) with `extra` appended.
std::string small_config(const std::string& csv, const std::string& models_and_more) {
  return "[data]\nfile = \"" + csv + "\"\ntarget = \"y\"\nwarmup = 2\n\n[features]\n" +
         "columns = [\"x\"]\n\n" + models_and_more;
}

const std::string one_model =
    "[[models]]\nname = \"m\"\ntype = \"rls\"\nforgetting_factor = 0.99\n";

// Runs a replay of configuration text; returns the error message, or "" on success.
std::string replay_error(const fs::path& dir, const std::string& config_text,
                         replay_result* out = nullptr) {
  const fs::path cfg_path = dir / "c.toml";
  write(cfg_path, config_text);
  auto cfg = load_config(cfg_path.string());
  if (!cfg) return cfg.error().message;
  run_options ro;
  ro.write_files = false;
  auto r = run_replay(*cfg, ro);
  if (!r) return r.error().message;
  if (out != nullptr) *out = std::move(*r);
  return {};
}

}  // namespace

TEST_CASE("calendar: day counts, weekdays and days of the year", "[pipeline][replay]") {
  // Reference: Python 3.11 datetime, e.g. (date(1969,1,1) - date(1970,1,1)).days = -365,
  // date(1969,1,1).isoweekday() = 3, date(1988,12,31).timetuple().tm_yday = 366.
  CHECK(days_from_civil(1970, 1, 1) == 0);
  CHECK(days_from_civil(1969, 1, 1) == -365);
  CHECK(days_from_civil(1988, 12, 31) == 6939);
  CHECK(days_from_civil(2000, 3, 1) == 11017);
  CHECK(days_from_civil(1600, 2, 29) == -135081);
  CHECK(iso_weekday(-365) == 3);
  CHECK(iso_weekday(6939) == 6);
  CHECK(day_of_year(6939) == 366);
  for (std::int64_t d = -200000; d <= 200000; d += 37) {
    const civil_date c = civil_from_days(d);
    REQUIRE(days_from_civil(c.year, c.month, c.day) == d);
  }
  double t = 0.0;
  REQUIRE(parse_date_time("2001-01-01 00:01", t));
  CHECK_THAT(t, WithinAbs(11323.0 + 1.0 / 1440.0, 1e-9));  // 1e-9 days: rounding of 1/1440
  REQUIRE(parse_date_time("19580329", t));
  CHECK(t == static_cast<double>(days_from_civil(1958, 3, 29)));
  CHECK_FALSE(parse_date_time("2001-02-29", t));
  CHECK_FALSE(parse_date_time("2001-01-01 24:00", t));
  CHECK_FALSE(parse_date_time("12.5", t));
}

TEST_CASE("features: births rows give the documented 11 features", "[pipeline][replay]") {
  auto reader = csv_reader::open(births);
  REQUIRE(reader.has_value());
  stream_config sc;
  sc.file = births;
  sc.target = "births";
  sc.time.year = "year";
  sc.time.month = "month";
  sc.time.day = "date_of_month";
  sc.features.day_of_week = true;
  sc.features.yearly_harmonics = 2;
  auto d = stream_decoder::make(sc, *reader);
  REQUIRE(d.has_value());
  REQUIRE(d->dim() == 11);
  Eigen::VectorXd x(11);
  double y = 0.0, t = 0.0;
  error err;
  REQUIRE(reader->next() == csv_reader::read_status::row);
  REQUIRE(d->decode(*reader, x, y, t, err) == stream_decoder::outcome::sample);
  CHECK(y == 8486.0);
  CHECK(t == -365.0);
  // 1969-01-01 was a Wednesday: dummies mon..sat = 0 0 1 0 0 0.
  CHECK(x.segment(1, 6) == (Eigen::VectorXd(6) << 0, 0, 1, 0, 0, 0).finished());
  // Python math.sin(2*pi*k/365.25), cos(...), k = 1, 2; 4 ulp covers the angle-addition
  // recurrence used for k = 2 (two roundings per step).
  CHECK_THAT(x[7], WithinULP(0.017201575418260506, 4));
  CHECK_THAT(x[8], WithinULP(0.9998520419557735, 4));
  CHECK_THAT(x[9], WithinULP(0.03439806061360801, 4));
  CHECK_THAT(x[10], WithinULP(0.9994082116062598, 4));

  // The file's own day_of_week column (1 = Monday) agrees with the calendar on every row.
  const std::size_t dow_col = *reader->column_index("day_of_week");
  std::size_t rows = 1;
  while (reader->next() == csv_reader::read_status::row) {
    std::int64_t dow = 0;
    REQUIRE(parse_int(reader->fields()[dow_col], dow));
    REQUIRE(d->decode(*reader, x, y, t, err) == stream_decoder::outcome::sample);
    const int expected_dummy = dow == 7 ? -1 : static_cast<int>(dow);
    for (int k = 1; k <= 6; ++k) REQUIRE(x[k] == (k == expected_dummy ? 1.0 : 0.0));
    ++rows;
  }
  CHECK(rows == 7305);
}

TEST_CASE("features: lags and EMAs read earlier targets, skipping the first rows",
          "[pipeline][replay]") {
  const fs::path dir = scratch("lags");
  write(dir / "s.csv", "x,y\n1,10\n2,20\n3,30\n4,40\n");
  auto reader = csv_reader::open((dir / "s.csv").string());
  REQUIRE(reader.has_value());
  stream_config sc;
  sc.target = "y";
  sc.features.intercept = false;
  sc.features.target_lags = {1, 2};
  sc.features.target_emas = {0.5};
  auto d = stream_decoder::make(sc, *reader);
  REQUIRE(d.has_value());
  REQUIRE(d->dim() == 3);
  Eigen::VectorXd x(3);
  double y = 0.0, t = 0.0;
  error err;
  std::vector<stream_decoder::outcome> got;
  while (reader->next() == csv_reader::read_status::row)
    got.push_back(d->decode(*reader, x, y, t, err));
  REQUIRE(got.size() == 4);
  CHECK(got[0] == stream_decoder::outcome::lag_warming_up);
  CHECK(got[1] == stream_decoder::outcome::lag_warming_up);
  CHECK(got[2] == stream_decoder::outcome::sample);
  CHECK(got[3] == stream_decoder::outcome::sample);
  // Row y = 40: lag 1 = 30, lag 2 = 20; EMA(alpha 0.5) of 10, 20, 30 = 22.5 (pandas 1.5.3
  // Series([10, 20, 30]).ewm(alpha=0.5, adjust=False).mean().iloc[-1]).
  CHECK(x == Eigen::Vector3d(30.0, 20.0, 22.5));
}

TEST_CASE("csv_reader: gzip and plain files read the same rows", "[pipeline][replay]") {
  const fs::path dir = scratch("gzip");
  const std::string text = "a,b,c\r\n1,\"x,y\",3\r\n\r\n4,5,6";  // CRLF, quotes, blank, no EOL
  write(dir / "p.csv", text);
  gzFile gz = gzopen((dir / "p.csv.gz").string().c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())) ==
          static_cast<int>(text.size()));
  gzclose(gz);
  for (const char* name : {"p.csv", "p.csv.gz"}) {
    INFO(name);
    // A 64-byte buffer forces rows across refills.
    auto r = csv_reader::open((dir / name).string(), 64);
    REQUIRE(r.has_value());
    CHECK(r->columns() == std::vector<std::string>{"a", "b", "c"});
    REQUIRE(r->next() == csv_reader::read_status::row);
    CHECK(r->fields()[1] == "x,y");
    CHECK(r->fields()[2] == "3");
    REQUIRE(r->next() == csv_reader::read_status::row);
    CHECK(r->line() == 4);
    CHECK(r->fields()[2] == "6");
    CHECK(r->next() == csv_reader::read_status::end);
  }
}

TEST_CASE("replay: bad input gets a message naming file, line and field", "[pipeline][replay]") {
  const fs::path dir = scratch("bad");
  const std::string csv = (dir / "s.csv").string();
  write(csv, "x,y\n1,2\n2,4\n3,6\n4,8\n5,10\n");

  SECTION("missing column") {
    const std::string e = replay_error(
        dir, "[data]\nfile = \"" + csv + "\"\ntarget = \"births\"\n" + one_model);
    CHECK(e == csv + ":1: no column named 'births' (columns: x, y)");
  }
  SECTION("non-numeric cell") {
    write(csv, "x,y\n1,2\n2,4x\n");
    CHECK(replay_error(dir, small_config(csv, one_model)) ==
          csv + ":3: column 'y': '4x' is not a number");
  }
  SECTION("empty file") {
    write(csv, "");
    CHECK(replay_error(dir, small_config(csv, one_model)) == csv + ": empty file (no header line)");
  }
  SECTION("header only") {
    write(csv, "x,y\n");
    CHECK(replay_error(dir, small_config(csv, one_model)) ==
          csv + ": no data rows (0 rows read, 0 skipped for missing cells)");
  }
  SECTION("too few fields") {
    write(csv, "x,y\n1,2\n3\n");
    CHECK(replay_error(dir, small_config(csv, one_model)) ==
          csv + ":3: expected 2 fields (as in the header), got 1 (too few)");
  }
  SECTION("too many fields") {
    write(csv, "x,y\n1,2,3\n");
    CHECK(replay_error(dir, small_config(csv, one_model)) ==
          csv + ":2: expected 2 fields (as in the header), got 3 (too many)");
  }
  SECTION("impossible date") {
    write(csv, "year,month,day,x,y\n1970,1,31,1,2\n1970,2,30,2,4\n");
    const std::string e = replay_error(
        dir, "[data]\nfile = \"" + csv + "\"\ntarget = \"y\"\nyear = \"year\"\n" +
                 "month = \"month\"\nday = \"day\"\n" + one_model);
    CHECK(e == csv + ":3: column 'day': 1970-2-30 is not a date");
  }
  SECTION("time going backwards") {
    write(csv, "t,x,y\n2001-01-02,1,2\n2001-01-01 23:59,2,4\n");
    const std::string e = replay_error(
        dir, "[data]\nfile = \"" + csv + "\"\ntarget = \"y\"\ntime = \"t\"\n" + one_model);
    CHECK(e == csv + ":3: column 't': '2001-01-01 23:59' is earlier than the previous row's "
                     "time (the stream must be in time order)");
  }
  SECTION("unknown model type") {
    const std::string e = replay_error(
        dir, small_config(csv, "[[models]]\nname = \"m\"\ntype = \"rlx\"\n"));
    CHECK(e == (dir / "c.toml").string() +
                   ":11: [models 'm'] unknown model type 'rlx' (known: rls, nlms, "
                   "decayed_least_squares)");
  }
  SECTION("parameter out of range, at the key's line") {
    const std::string e = replay_error(
        dir, small_config(csv, "[[models]]\nname = \"m\"\ntype = \"rls\"\n"
                               "forgetting_factor = 1.5\n"));
    CHECK(e == (dir / "c.toml").string() +
                   ":12: [models 'm'] rls: forgetting_factor must be in (0, 1], got 1.5");
  }
  SECTION("unknown key") {
    const std::string e =
        replay_error(dir, small_config(csv, one_model + "forgeting_factor = 0.9\n"));
    CHECK(e == (dir / "c.toml").string() +
                   ":13: [models 'm'] unknown key 'forgeting_factor' for type 'rls'");
  }
  SECTION("detector parameter out of range") {
    const std::string e = replay_error(
        dir, small_config(csv, one_model + "\n[drift]\ntype = \"page_hinkley\"\nlambda = -1\n"));
    CHECK(e.rfind((dir / "c.toml").string() + ":16: [drift] page_hinkley: lambda", 0) == 0);
  }
  SECTION("TOML syntax error") {
    const std::string e = replay_error(dir, "[data\nfile = 1\n");
    CHECK(e.rfind((dir / "c.toml").string() + ":1: ", 0) == 0);
  }
  SECTION("missing cells are skipped and counted") {
    write(csv, "x,y\n1,2\n2,\n3,6\n,8\n5,10\n6,NA\n7,14\n");
    replay_result r;
    REQUIRE(replay_error(dir, small_config(csv, one_model), &r).empty());
    CHECK(r.rows == 7);
    CHECK(r.skipped_missing == 3);
    CHECK(r.samples == 4);
    CHECK(r.scored == 2);
  }
}

TEST_CASE("replay: the bundled births run beats train-once and nears the best fixed factor",
          "[pipeline][replay][e2e]") {
  auto cfg = load_config(bundled_config);
  REQUIRE(cfg.has_value());
  const fs::path out1 = scratch("births1");
  run_options ro;
  ro.output_dir = out1.string();
  auto r = run_replay(*cfg, ro);
  REQUIRE(r.has_value());
  INFO(summary_text(*cfg, *r));
  CHECK(r->samples == 7305);
  CHECK(r->scored == 7305 - 730);
  const double served = r->served.errors.mae();
  const double best = r->fixed[r->best_fixed].errors.mae();
  const double once = r->train_once.errors.mae();
  // Targets of issue 7: at most 1.05x the best single fixed factor in hindsight, at most a
  // third of train-once.
  CHECK(served <= 1.05 * best);
  CHECK(served <= once / 3.0);
  // The best fixed factor's figure is near the 230.7 of data/README.md (RLS 0.99 started
  // from OLS there, from a ridge prior here): a wrong feature or date would be far off.
  CHECK(r->fixed[r->best_fixed].errors.mae() < 240.0);
  CHECK(once > 700.0);
  CHECK(r->registry_reloaded);

  // A stable timeline: the first events of the run, pinned.
  REQUIRE(r->events.size() >= 4);
  CHECK(r->events[0].kind == event_kind::promoted);
  CHECK(r->events[0].sample_index == 730);
  CHECK(r->events[1].kind == event_kind::gate_decision);
  CHECK(r->events[2].kind == event_kind::rollout_started);
  CHECK(r->events[3].kind == event_kind::promoted);
  const std::string events = slurp(out1 / "events.csv");
  CHECK(events.rfind("sample,time,kind,model,version,value,reason\n"
                     "730,1970-12-31,promoted,rls-0.999,1,1,",
                     0) == 0);

  // loss.csv: a header, then one line per scored day.
  const std::string loss = slurp(out1 / "loss.csv");
  CHECK(loss.rfind("row,time,y,served,model,version,abs_error,train_once,", 0) == 0);
  CHECK(std::count(loss.begin(), loss.end(), '\n') == 1 + 6575);

  // Determinism: a second run writes the same bytes (the summary holds no timing).
  const fs::path out2 = scratch("births2");
  ro.output_dir = out2.string();
  auto r2 = run_replay(*cfg, ro);
  REQUIRE(r2.has_value());
  CHECK(summary_text(*cfg, *r) == summary_text(*cfg, *r2));
  for (const char* f : {"events.csv", "loss.csv", "chart.svg"}) {
    INFO(f);
    CHECK(slurp(out1 / f) == slurp(out2 / f));
  }
  std::size_t registry_files = 0;
  for (const auto& e : fs::directory_iterator(out1 / "registry")) {
    INFO(e.path().filename().string());
    CHECK(slurp(e.path()) == slurp(out2 / "registry" / e.path().filename()));
    ++registry_files;
  }
  CHECK(registry_files >= 2);  // the manifest and at least one version
  fs::remove_all(out1);
  fs::remove_all(out2);
}

TEST_CASE("replay: the CO2 stream skips its empty weeks and matches the data's figures",
          "[pipeline][replay][e2e]") {
  auto cfg = load_config(std::string(LIVEFIT_REPLAY_CONFIG_DIR) + "/co2.toml");
  REQUIRE(cfg.has_value());
  run_options ro;
  ro.write_files = false;
  auto r = run_replay(*cfg, ro);
  REQUIRE(r.has_value());
  INFO(summary_text(*cfg, *r));
  // data/README.md, section 2: 2,284 rows, 59 without a value, warm-up 222, 2,003 scored.
  CHECK(r->rows == 2284);
  CHECK(r->skipped_missing == 59);
  CHECK(r->scored == 2003);
  // Same features as data/README.md (intercept, years, two yearly harmonics): static OLS on
  // the warm-up has MAE 8.00 there. Train-once here is RLS 0.999 over the warm-up (nearly
  // equal weights over 222 weeks), so within 2 % of it; RLS 0.99 alone: 0.421 there.
  CHECK_THAT(r->train_once.errors.mae(), WithinRel(8.00, 0.02));
  for (const auto& f : r->fixed)
    if (f.name == "rls-0.99") CHECK_THAT(f.errors.mae(), WithinRel(0.421, 0.05));
  CHECK(r->served.errors.mae() <= 1.05 * r->fixed[r->best_fixed].errors.mae());
}

#else

TEST_CASE("replay: tests need the examples (LIVEFIT_BUILD_EXAMPLES=ON)", "[pipeline][replay]") {
  WARN("the replay is not built in this configuration: its tests are skipped");
}

#endif
