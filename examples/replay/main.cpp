// livefit_replay: replays a real data stream under continuous deployment.
//
//   livefit_replay                      bundled births stream and configuration -> ./replay-out
//   livefit_replay CONFIG.toml          another configuration
//   options: --out DIR   --data FILE   --limit ROWS   --quiet   --no-progress
//
// Prints the event timeline (drift, rollout steps, promotions, rollbacks, each with its
// reason), a progress bar on long inputs when the output is a terminal, and the summary
// table; writes events.csv, loss.csv, chart.svg, summary.txt and registry/ into the output
// directory. Exit status: 0 done, 1 bad input or configuration, 2 bad usage.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "replay.hpp"

namespace {

using namespace livefit;
using namespace livefit::replay;

void usage(std::FILE* f) {
  std::fputs(
      "usage: livefit_replay [CONFIG.toml] [--out DIR] [--data FILE] [--limit ROWS]\n"
      "                      [--quiet] [--no-progress] [--help]\n"
      "\n"
      "Replays a CSV stream (plain or gzip) through a continuously deployed pipeline and\n"
      "compares it with train-once and with each model alone.\n"
      "\n"
      "  CONFIG.toml     the configuration (default: the bundled births.toml). Relative data\n"
      "                  paths in it are relative to the configuration file.\n"
      "  --out DIR       output directory (default: [output] dir of the configuration,\n"
      "                  \"replay-out\", relative to the current directory)\n"
      "  --data FILE     the CSV stream instead of the configuration's [data] file\n"
      "                  (relative to the current directory)\n"
      "  --limit ROWS    read at most ROWS data rows (0: all)\n"
      "  --quiet         print nothing but errors (the output files are still written)\n"
      "  --no-progress   no progress bar (it is only drawn when stdout is a terminal)\n"
      "  --help, -h      this text\n"
      "\n"
      "Outputs: events.csv loss.csv chart.svg summary.txt registry/, written only when the\n"
      "run succeeds (a failed run leaves the previous outputs as they were).\n"
      "Exit status: 0 done, 1 bad input or configuration, 2 bad usage.\n"
      "\n"
      "Bundled configurations (examples/replay/): births.toml (default; U.S. daily births\n"
      "1969-1988), flights.toml (flight delays), co2.toml (weekly Mauna Loa CO2).\n"
      "Every key and output is described in docs/replay.md.\n",
      f);
}

std::string rate(double samples, double seconds) {
  if (!(seconds > 0.0)) return "-";
  const double r = samples / seconds;
  if (r >= 1e6) return fixed(r / 1e6, 2) + " M/s";
  if (r >= 1e3) return fixed(r / 1e3, 1) + " k/s";
  return fixed(r, 0) + " /s";
}

// The kinds printed on the timeline (the files hold every event).
bool on_timeline(event_kind k) {
  return k == event_kind::drift || k == event_kind::gate_decision ||
         k == event_kind::rollout_started || k == event_kind::rollout_step ||
         k == event_kind::rollout_aborted || k == event_kind::promoted ||
         k == event_kind::rolled_back || k == event_kind::model_reset;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  std::string out_dir;
  std::string data;
  std::uint64_t limit = 0;
  bool quiet = false;
  bool progress = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string& dst) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "livefit_replay: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      // "--out --no-progress": an option is not a value; a path that starts with '-'
      // can be given as ./-name.
      const std::string_view v = argv[i + 1];
      if (v.size() > 1 && v.front() == '-') {
        std::fprintf(stderr, "livefit_replay: %s needs a value, got the option '%s'\n", argv[i],
                     argv[i + 1]);
        std::exit(2);
      }
      dst = argv[++i];
    };
    if (a == "--out") {
      value(out_dir);
    } else if (a == "--data") {
      value(data);
    } else if (a == "--limit") {
      std::string v;
      value(v);
      std::int64_t n = 0;
      if (!parse_int(v, n) || n < 0) {
        std::fprintf(stderr, "livefit_replay: --limit must be a whole number >= 0, got '%s'\n",
                     v.c_str());
        return 2;
      }
      limit = static_cast<std::uint64_t>(n);
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--no-progress") {
      progress = false;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (!a.empty() && a.front() == '-') {
      std::fprintf(stderr, "livefit_replay: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    } else if (config_path.empty()) {
      config_path = argv[i];
    } else {
      std::fprintf(stderr, "livefit_replay: more than one configuration given\n");
      return 2;
    }
  }
  if (config_path.empty()) config_path = std::string(LIVEFIT_REPLAY_CONFIG_DIR) + "/births.toml";

  auto cfg = load_config(config_path);
  if (!cfg) {
    std::fprintf(stderr, "livefit_replay: %s\n", cfg.error().message.c_str());
    return 1;
  }
  if (!data.empty()) cfg->stream.file = data;
  if (limit != 0) cfg->limit = limit;

  const bool tty = isatty(STDOUT_FILENO) != 0;
  const bool bar = progress && tty && !quiet;
  std::vector<std::string> names;
  bool is_date = !cfg->stream.time.column.empty() || cfg->stream.time.from_parts();
  std::size_t printed = 0;
  constexpr std::size_t max_timeline = 400;
  auto print_events = [&](const std::vector<event>& events) {
    for (; printed < events.size(); ++printed) {
      const event& e = events[printed];
      if (quiet || !on_timeline(e.kind)) continue;
      static std::size_t shown = 0;
      if (++shown > max_timeline) {
        if (shown == max_timeline + 1)
          std::printf("... (timeline cut at %zu lines; every event is in events.csv)\n",
                      max_timeline);
        continue;
      }
      const event* next = printed + 1 < events.size() ? &events[printed + 1] : nullptr;
      std::printf("%s\n", format_event(e, names, is_date, next).c_str());
    }
  };

  if (!quiet) {
    std::printf("livefit replay: %s\n", cfg->stream.file.c_str());
    std::printf("configuration: %s\n\n", config_path.c_str());
  }
  for (const auto& m : cfg->models)
    if (m.name == cfg->champion) names.push_back(m.name);
  for (const auto& m : cfg->models)
    if (m.name != cfg->champion) names.push_back(m.name);

  run_options ro;
  ro.output_dir = out_dir;
  double last_bar = -1.0;
  ro.on_block = [&](double p, const std::vector<event>& events) {
    if (bar && last_bar >= 0.0) std::printf("\r\033[K");
    print_events(events);
    if (bar && (p < 1.0 || last_bar >= 0.0)) {
      const int width = 40;
      const int filled = static_cast<int>(p * width);
      std::printf("[%s%s] %3d%%", std::string(static_cast<std::size_t>(filled), '#').c_str(),
                  std::string(static_cast<std::size_t>(width - filled), '.').c_str(),
                  static_cast<int>(p * 100.0));
      last_bar = p;
    }
    std::fflush(stdout);
  };
  auto r = run_replay(*cfg, ro);
  if (bar && last_bar >= 0.0) std::printf("\r\033[K");
  if (!r) {
    std::fflush(stdout);
    std::fprintf(stderr, "livefit_replay: %s\n", r.error().message.c_str());
    return 1;
  }
  print_events(r->events);

  if (!quiet) {
    // The terminal's table adds this run's speeds (samples/s of each prediction stream's
    // observe() calls); summary.txt leaves them out so that it is reproducible.
    std::printf("\n%s", summary_text(*cfg, *r, true).c_str());
    std::printf("\nreading and decoding the CSV: %s; whole replay: %.3f s\n",
                rate(static_cast<double>(r->samples), r->seconds_read).c_str(),
                r->seconds_total);
    std::error_code ec;
    const std::filesystem::path abs = std::filesystem::absolute(r->output_dir, ec);
    std::printf("outputs in %s: events.csv loss.csv chart.svg summary.txt registry/\n",
                (ec ? r->output_dir : abs.lexically_normal().string()).c_str());
  }
  return 0;
}
