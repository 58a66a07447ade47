// Tests for the replay program's library part (examples/replay): calendar and features, the
// CSV reader, the configuration, bad input with its messages, and the end-to-end replay of
// the bundled births stream (targets, stable timeline, byte-identical outputs, registry).
#include "catch.hpp"

#if defined(LIVEFIT_REPLAY_AVAILABLE)

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <system_error>
#include <string>
#include <vector>

#include <sys/wait.h>
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
                     "time, 2001-01-02 (the stream must be in time order)");
  }
  SECTION("a year/month/day date going backwards shows the dates, not day counts") {
    // Item 9 of the issue 7 follow-up: once "time goes backwards (-365.000000 after ...)".
    write(csv, "year,month,day,x,y\n1969,1,2,1,2\n1969,1,1,2,4\n");
    const std::string e = replay_error(
        dir, "[data]\nfile = \"" + csv + "\"\ntarget = \"y\"\nyear = \"year\"\n" +
                 "month = \"month\"\nday = \"day\"\n" + one_model);
    CHECK(e == csv + ":3: the date 1969-1-1 (columns year, month, day) is earlier than the "
                     "previous row's time, 1969-01-02 (the stream must be in time order)");
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
    // The factory's own message (its range is the model's to state), at the key's line.
    rls_options bad;
    bad.forgetting_factor = 1.5;
    const auto made = rls<double>::make(bad, 2);
    REQUIRE(!made.has_value());
    CHECK(made.error().message.rfind("rls: forgetting_factor must be in ", 0) == 0);
    CHECK(e == (dir / "c.toml").string() + ":12: [models 'm'] " + made.error().message);
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
  // The best fixed factor's figure is near 230.7, an earlier reference run of RLS 0.99
  // started from OLS (from a ridge prior here; the figure is not in data/README.md, which
  // only describes the file): a wrong feature or date would be far off.
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
  // Its first column is the sample number, the index events.csv uses (issue 7 follow-up,
  // item 6): the first scored sample is the one after the 730-sample warm-up.
  CHECK(loss.rfind("sample,time,y,served,model,version,abs_error,train_once,", 0) == 0);
  CHECK(loss.find("\n731,1971-01-01,") != std::string::npos);
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
  // data/README.md, the co2 file's row: 2,284 rows, 59 without a value; warm-up 222 (to
  // 1962-11-24), so 2,284 - 59 - 222 = 2,003 scored.
  CHECK(r->rows == 2284);
  CHECK(r->skipped_missing == 59);
  CHECK(r->scored == 2003);
  // Features: intercept, years, two yearly harmonics. Static OLS on the warm-up has MAE 8.00
  // in an earlier reference run (not in data/README.md, which only describes the file).
  // Train-once here is RLS 0.999 over the warm-up (nearly equal weights over 222 weeks), so
  // within 2 % of it; RLS 0.99 alone: 0.421 in that run.
  CHECK_THAT(r->train_once.errors.mae(), WithinRel(8.00, 0.02));
  for (const auto& f : r->fixed)
    if (f.name == "rls-0.99") CHECK_THAT(f.errors.mae(), WithinRel(0.421, 0.05));
  CHECK(r->served.errors.mae() <= 1.05 * r->fixed[r->best_fixed].errors.mae());
}

// --- Issue 7 follow-up: defects reported by a new user and a reviewer ----------------------

TEST_CASE("csv_reader: a truncated gzip stream is an error, never a shorter file",
          "[pipeline][replay]") {
  // Item 1. A gzip of a small CSV cut at several byte offsets: in the header, in the deflate
  // data and in the 8-byte trailer (CRC-32 and length). Every cut must fail with the message.
  const fs::path dir = scratch("truncated");
  std::string text = "x,y\n";
  for (int i = 0; i < 200; ++i) text += std::to_string(i) + "," + std::to_string(2 * i) + "\n";
  const fs::path whole = dir / "whole.csv.gz";
  gzFile gz = gzopen(whole.string().c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())) ==
          static_cast<int>(text.size()));
  REQUIRE(gzclose(gz) == Z_OK);
  const std::string bytes = slurp(whole);
  REQUIRE(bytes.size() > 40);
  // The untruncated file reads every row.
  {
    auto r = csv_reader::open(whole.string(), 64);
    REQUIRE(r.has_value());
    int rows = 0;
    csv_reader::read_status st;
    while ((st = r->next()) == csv_reader::read_status::row) ++rows;
    CHECK(st == csv_reader::read_status::end);
    CHECK(rows == 200);
  }
  for (const std::size_t cut : {std::size_t{12}, std::size_t{20}, bytes.size() / 2,
                                bytes.size() - 8, bytes.size() - 4, bytes.size() - 1}) {
    INFO("cut at byte " << cut << " of " << bytes.size());
    const fs::path p = dir / ("cut" + std::to_string(cut) + ".csv.gz");
    write(p, bytes.substr(0, cut));
    auto r = csv_reader::open(p.string(), 64);
    std::string message;
    if (!r) {
      message = r.error().message;
    } else {
      csv_reader::read_status st;
      while ((st = r->next()) == csv_reader::read_status::row) {
      }
      REQUIRE(st == csv_reader::read_status::error);
      message = r->error().message;
    }
    CHECK(message == p.string() + ": truncated gzip stream (unexpected end of file)");
  }
}

TEST_CASE("csv_reader: a UTF-8 byte order mark is skipped, doubled quotes are one quote",
          "[pipeline][replay]") {
  // Item 9: spreadsheet exports start with EF BB BF; RFC 4180 section 2.7 writes a quote
  // inside a quoted field as two quotes.
  const fs::path dir = scratch("bom");
  write(dir / "b.csv",
        "\xEF\xBB\xBFname,note,v\n"
        "a,\"he said \"\"hi\"\"\",1\n"
        "b,\"\"\"\",2\n"
        "c,\"x,\"\"y\"\",z\",3\n");
  auto r = csv_reader::open((dir / "b.csv").string(), 64);
  REQUIRE(r.has_value());
  CHECK(r->columns() == std::vector<std::string>{"name", "note", "v"});
  REQUIRE(r->next() == csv_reader::read_status::row);
  CHECK(r->fields()[1] == "he said \"hi\"");
  CHECK(r->fields()[2] == "1");
  REQUIRE(r->next() == csv_reader::read_status::row);
  CHECK(r->fields()[1] == "\"");
  REQUIRE(r->next() == csv_reader::read_status::row);
  CHECK(r->fields()[1] == "x,\"y\",z");
  CHECK(r->fields()[2] == "3");
  CHECK(r->next() == csv_reader::read_status::end);
}

TEST_CASE("replay: a failed run leaves the previous outputs intact", "[pipeline][replay]") {
  // Item 2: outputs are staged and renamed into place only after a successful run.
  const fs::path dir = scratch("keep");
  const std::string csv = (dir / "s.csv").string();
  std::string rows = "x,y\n";
  for (int i = 1; i <= 20; ++i) rows += std::to_string(i) + "," + std::to_string(2 * i) + "\n";
  write(csv, rows);
  write(dir / "c.toml", small_config(csv, one_model));
  auto cfg = load_config((dir / "c.toml").string());
  REQUIRE(cfg.has_value());
  run_options ro;
  ro.output_dir = (dir / "out").string();
  REQUIRE(run_replay(*cfg, ro).has_value());
  const std::string loss = slurp(dir / "out" / "loss.csv");
  const std::string summary = slurp(dir / "out" / "summary.txt");
  REQUIRE(std::count(loss.begin(), loss.end(), '\n') == 1 + 18);
  REQUIRE(!summary.empty());

  // Bad input in the middle of the stream: the error, and the old files unchanged.
  write(csv, rows + "21,oops\n");
  auto bad = run_replay(*cfg, ro);
  REQUIRE(!bad.has_value());
  CHECK(bad.error().message == csv + ":22: column 'y': 'oops' is not a number");
  CHECK(slurp(dir / "out" / "loss.csv") == loss);
  CHECK(slurp(dir / "out" / "summary.txt") == summary);
  CHECK(fs::exists(dir / "out" / "registry"));
  // No staging directory is left behind, and a failing run creates no output directory.
  CHECK(!fs::exists(dir / ".out.partial"));
  ro.output_dir = (dir / "fresh").string();
  REQUIRE(!run_replay(*cfg, ro).has_value());
  CHECK(!fs::exists(dir / "fresh"));
  CHECK(!fs::exists(dir / ".fresh.partial"));
}

TEST_CASE("replay: relative data paths follow the configuration, the output directory not",
          "[pipeline][replay]") {
  // Item 4: docs/replay.md says data paths are relative to the configuration file and the
  // output directory to the current directory.
  const fs::path dir = scratch("relative");
  fs::create_directories(dir / "conf");
  write(dir / "conf" / "s.csv", "x,y\n1,2\n2,4\n3,6\n");
  write(dir / "conf" / "c.toml", small_config("s.csv", one_model) + "\n[output]\ndir = \"o\"\n");
  auto cfg = load_config((dir / "conf" / "c.toml").string());
  REQUIRE(cfg.has_value());
  CHECK(cfg->stream.file == (dir / "conf" / "s.csv").lexically_normal().string());
  CHECK(cfg->output_dir == "o");
}

TEST_CASE("replay: degenerate input is an error, never a summary of nan or inf",
          "[pipeline][replay]") {
  // Item 5.
  const fs::path dir = scratch("degenerate");
  const std::string csv = (dir / "s.csv").string();
  SECTION("fewer rows than the warm-up") {
    write(csv, "x,y\n1,2\n");
    const std::string e = replay_error(dir, small_config(csv, one_model));
    CHECK(e == csv + ": nothing to score: the warm-up is 2 samples ([data] warmup in " +
                   (dir / "c.toml").string() +
                   ") but the stream gave 1 sample (1 row read); give more rows or a shorter "
                   "warm-up");
  }
  SECTION("a target whose square overflows") {
    write(csv, "x,y\n1,2\n2,4\n3,1e308\n4,8\n");
    const std::string e = replay_error(dir, small_config(csv, one_model));
    CHECK(e == csv + ":4: column 'y': 1e+308 is too large (|target| must be <= 1e100 so that "
                     "squared errors stay finite)");
  }
  SECTION("the summary never prints nan, inf or ?") {
    // A run whose figures overflow (built by hand: the reader refuses such input).
    write(csv, "x,y\n1,2\n2,4\n3,6\n4,8\n");
    replay_result r;
    REQUIRE(replay_error(dir, small_config(csv, one_model), &r).empty());
    r.served.errors.sq_sum = std::numeric_limits<double>::infinity();
    r.served.errors.abs_sum = std::numeric_limits<double>::quiet_NaN();
    auto cfg = load_config((dir / "c.toml").string());
    REQUIRE(cfg.has_value());
    const std::string s = summary_text(*cfg, r);
    INFO(s);
    CHECK(s.find("nan") == std::string::npos);
    CHECK(s.find("inf") == std::string::npos);
    CHECK(s.find('?') == std::string::npos);
    CHECK(s.find("overflowed") != std::string::npos);
    CHECK(s.find("served MAE / best fixed MAE: not computed (a figure overflowed)") !=
          std::string::npos);
  }
}

TEST_CASE("replay: configuration messages name the real range and place", "[pipeline][replay]") {
  // Items 9 and 10.
  const fs::path dir = scratch("messages");
  const std::string csv = (dir / "s.csv").string();
  write(csv, "x,y\n1,2\n2,4\n3,6\n4,8\n");
  const std::string cfg = (dir / "c.toml").string();
  SECTION("forgetting_factor = nan states (0, 1]") {
    const std::string e = replay_error(
        dir, small_config(csv, "[[models]]\nname = \"m\"\ntype = \"rls\"\n"
                               "forgetting_factor = nan\n"));
    // The range is the one rls::make() states (committed: "(0, 1]"), not "[-inf, inf]" of
    // the configuration reader that lets the factory check the value.
    rls_options bad;
    bad.forgetting_factor = std::numeric_limits<double>::quiet_NaN();
    const auto made = rls<double>::make(bad, 2);
    REQUIRE(!made.has_value());
    CHECK(e == cfg + ":12: [models 'm'] " + made.error().message);
    CHECK(e.ends_with(", 1], got nan"));
    CHECK(e.find("inf") == std::string::npos);
  }
  SECTION("an unknown champion is reported at the [pipeline] line") {
    const std::string e = replay_error(
        dir, small_config(csv, one_model + "\n[pipeline]\nchampion = \"mm\"\n"));
    CHECK(e == cfg + ":15: [pipeline] champion 'mm' is not a [[models]] name (models: 'm')");
  }
  SECTION("[gate] alpha states the accepted range and what 0 means") {
    const std::string e = replay_error(
        dir, small_config(csv, one_model + "\n[gate]\ntype = \"standard\"\nalpha = 1.5\n"));
    CHECK(e == cfg + ":16: [gate] alpha must be in [0, 1) (0 turns the significance test "
                     "off), got 1.5");
  }
  SECTION("step_samples: one number for every step") {
    replay_result r;
    CHECK(replay_error(dir,
                       small_config(csv, one_model + "\n[rollout]\ntype = \"canary\"\n"
                                                     "steps = [0.1, 0.5]\nstep_samples = 3\n"),
                       &r) == "");
  }
  SECTION("step_samples: a list of the wrong length") {
    const std::string e = replay_error(
        dir, small_config(csv, one_model + "\n[rollout]\ntype = \"canary\"\n"
                                           "steps = [0.1, 0.5]\nstep_samples = [3, 4, 5]\n"));
    CHECK(e.find("step_samples must have one entry per step (or one for all)") !=
          std::string::npos);
  }
  SECTION("a missing configuration gives the OS reason") {
    auto c = load_config((dir / "nosuch.toml").string());
    REQUIRE(!c.has_value());
    CHECK(c.error().message ==
          (dir / "nosuch.toml").string() + ": cannot open configuration file (" +
              std::generic_category().message(ENOENT) + ")");
  }
  SECTION("a CSV given as the configuration hints at --data") {
    auto c = load_config(csv);
    REQUIRE(!c.has_value());
    CHECK(c.error().message.find("(this looks like a data file: give the configuration first "
                                 "and the CSV with --data FILE)") != std::string::npos);
  }
}

TEST_CASE("replay: the timeline reads well and the summary uses significant digits",
          "[pipeline][replay]") {
  // Items 7 and 12, on reasons in the gate's format of commit d58817f.
  CHECK(readable_reason("sanity: prediction 8857 in [-inf, inf]; min_samples: 142 of 60 "
                        "samples; min_improvement: loss 198.9 vs 228.3, gain 29.4 = 12.88% "
                        "(needs 2% and 0); significant: sequential: p(better) = 0.04637") ==
        "min_samples: 142 samples (needs 60); min_improvement: loss 198.9 vs 228.3, gain 29.4 "
        "= 12.88% (needs >= 2% better and a gain >= 0); significant: sequential: p(better) = "
        "0.04637");
  // A declared range is informative and stays; a failed check too.
  CHECK(readable_reason("sanity: prediction 5 outside [0, 1]") ==
        "sanity: prediction 5 outside [0, 1]");
  CHECK(readable_reason("watch of 60 samples passed: sanity: prediction 1.056e+04 in "
                        "[-inf, inf]; significant: x") ==
        "watch of 60 samples passed: significant: x");
  CHECK(readable_reason("shadow: 3 of 50 production samples") ==
        "shadow: 3 production samples (needs 50)");

  event gate{};
  gate.kind = event_kind::gate_decision;
  gate.sample_index = 872;
  gate.time = 0.0;
  gate.reason = reason_text("min_samples: 1 of 2 samples");
  event started = gate;
  started.kind = event_kind::rollout_started;
  const std::vector<std::string> names{"a"};
  CHECK(format_event(gate, names, false, &started) ==
        "0  #     872  gate_decision     a: passed, rollout starts: min_samples: 1 samples "
        "(needs 2)");
  CHECK(format_event(gate, names, false, nullptr) ==
        "0  #     872  gate_decision     a: refused, evidence starts again: min_samples: 1 "
        "samples (needs 2)");

  CHECK(summary_figure(226.634) == "226.6");
  CHECK(summary_figure(0.42137) == "0.4214");
  CHECK(summary_figure(0.0123456) == "0.01235");
  CHECK(summary_figure(787.65) == "787.6");  // round-half-even of the binary value 787.649999...
  CHECK(summary_figure(std::numeric_limits<double>::infinity()) == "overflowed");
}

TEST_CASE("replay: the summary wording fits what was configured", "[pipeline][replay]") {
  // Item 12: no lag counter without lags; "1 version" in the singular.
  const fs::path dir = scratch("wording");
  const std::string csv = (dir / "s.csv").string();
  write(csv, "x,y\n1,2\n2,4\n3,6\n4,8\n");
  replay_result r;
  REQUIRE(replay_error(dir, small_config(csv, one_model), &r).empty());
  auto cfg = load_config((dir / "c.toml").string());
  REQUIRE(cfg.has_value());
  r.registry_versions = 1;
  const std::string s = summary_text(*cfg, r);
  INFO(s);
  CHECK(s.find("lag") == std::string::npos);
  CHECK(s.find("registry: 1 version kept") != std::string::npos);
}

TEST_CASE("replay: chart ticks fall on year or month starts", "[pipeline][replay]") {
  // Item 12. Reference: Python datetime, (date(1972,1,1) - date(1970,1,1)).days = 730.
  const double a = static_cast<double>(days_from_civil(1969, 3, 17));
  const double b = static_cast<double>(days_from_civil(1988, 12, 31));
  const std::vector<double> t = time_ticks(a, b, true);
  REQUIRE(!t.empty());
  CHECK(t.size() <= 11);
  for (double d : t) {
    const civil_date c = civil_from_days(static_cast<std::int64_t>(d));
    CHECK(c.month == 1);
    CHECK(c.day == 1);
  }
  CHECK(t.front() == static_cast<double>(days_from_civil(1970, 1, 1)));
  const std::vector<double> m = time_ticks(static_cast<double>(days_from_civil(2001, 1, 15)),
                                           static_cast<double>(days_from_civil(2001, 7, 20)),
                                           true);
  REQUIRE(m.size() == 6);  // 1 Feb .. 1 Jul
  for (double d : m) CHECK(civil_from_days(static_cast<std::int64_t>(d)).day == 1);
}

TEST_CASE("replay: with --limit the progress reaches 100% of the limit", "[pipeline][replay]") {
  // Item 11: the share read is rows / limit, not the file's bytes.
  auto cfg = load_config(bundled_config);
  REQUIRE(cfg.has_value());
  cfg->limit = 1000;
  run_options ro;
  ro.write_files = false;
  ro.block_rows = 100;
  std::vector<double> seen;
  ro.on_block = [&](double p, const std::vector<event>&) { seen.push_back(p); };
  REQUIRE(run_replay(*cfg, ro).has_value());
  REQUIRE(seen.size() >= 10);
  CHECK_THAT(seen[0], WithinAbs(0.1, 1e-12));  // 100 of 1000 rows; exact in binary
  CHECK(seen.back() == 1.0);
}

#if defined(LIVEFIT_REPLAY_PROGRAM)
namespace {
// Runs the program with `args` from `dir` (stdout and stderr together); returns the exit
// status and fills `output`.
int run_program(const fs::path& dir, const std::string& args, std::string& output) {
  const std::string cmd = "cd '" + dir.string() + "' && '" + LIVEFIT_REPLAY_PROGRAM + "' " +
                          args + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  output.clear();
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
}  // namespace

TEST_CASE("replay program: options, exit status and where outputs go", "[pipeline][replay]") {
  // Items 3, 8 and 9 of the issue 7 follow-up, on the program itself.
  const fs::path dir = scratch("program");
  std::string out;
  SECTION("--help documents options, exit codes and the bundled configurations") {
    CHECK(run_program(dir, "--help", out) == 0);
    for (const char* s : {"--out DIR", "--data FILE", "--limit ROWS", "--quiet",
                          "--no-progress", "Exit status: 0 done, 1 bad input or configuration, "
                          "2 bad usage", "births.toml", "flights.toml", "co2.toml",
                          "docs/replay.md"}) {
      INFO(s);
      CHECK(out.find(s) != std::string::npos);
    }
  }
  SECTION("an option is not taken as a value") {
    CHECK(run_program(dir, "--out --no-progress", out) == 2);
    CHECK(out == "livefit_replay: --out needs a value, got the option '--no-progress'\n");
    CHECK(!fs::exists(dir / "--no-progress"));
  }
  SECTION("a missing configuration: exit 1 with the OS reason") {
    CHECK(run_program(dir, "nosuch.toml", out) == 1);
    CHECK(out == "livefit_replay: nosuch.toml: cannot open configuration file (" +
                     std::generic_category().message(ENOENT) + ")\n");
  }
  SECTION("relative --data and the default output directory are the caller's") {
    std::string rows = "x,y\n";
    for (int i = 1; i <= 10; ++i) rows += std::to_string(i) + "," + std::to_string(i) + "\n";
    write(dir / "s.csv", rows);
    write(dir / "c.toml", small_config("unused.csv", one_model));
    CHECK(run_program(dir, "c.toml --data s.csv --no-progress", out) == 0);
    INFO(out);
    CHECK(fs::exists(dir / "replay-out" / "loss.csv"));
    CHECK(out.find("outputs in " + (dir / "replay-out").string() + ":") != std::string::npos);
    CHECK(run_program(dir, "c.toml --data s.csv --quiet", out) == 0);
    CHECK(out.empty());
  }
}
#endif

#else

TEST_CASE("replay: tests need the examples (LIVEFIT_BUILD_EXAMPLES=ON)", "[pipeline][replay]") {
  WARN("the replay is not built in this configuration: its tests are skipped");
}

#endif
