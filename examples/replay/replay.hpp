// run_replay: replays a CSV stream through a configured pipeline, against train-once and
// each model alone, and writes the event timeline, the loss CSV, the chart, the summary and
// the registry directory.
//
// Everything written to files is a function of the inputs only (no clock, no address, numbers
// through std::to_chars), so two runs give byte-identical files; timings are returned
// separately and only printed.
#ifndef LIVEFIT_EXAMPLES_REPLAY_REPLAY_HPP
#define LIVEFIT_EXAMPLES_REPLAY_REPLAY_HPP

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <system_error>
#include <string>
#include <utility>
#include <vector>

#include "components.hpp"
#include "config.hpp"
#include "csv_reader.hpp"
#include "features.hpp"
#include "livefit/deploy/registry.hpp"
#include "livefit/pipeline/any.hpp"
#include "livefit/pipeline/pipeline.hpp"
#include "livefit/stats/rolling_window.hpp"
#include "report.hpp"

namespace livefit::replay {

/// Collects events into a vector (the replay prints and writes them between chunks).
struct collecting_sink {
  std::vector<event>* out{nullptr};
  void on_event(const event& e) noexcept {
#if defined(__cpp_exceptions)
    try {
      out->push_back(e);
    } catch (...) {
      // Out of memory while recording an event: the replay goes on without it.
    }
#else
    out->push_back(e);
#endif
  }
};

namespace detail {
// The registry's clock in a replay: the stream's time (days), so that the registry files do
// not depend on when the replay ran.
inline double stream_clock_value = 0.0;
inline double stream_clock() noexcept { return stream_clock_value; }
}  // namespace detail

/// The model registry of a replay.
using replay_registry = registry<any_model>;
/// The pipeline of a replay: run-time composition, events collected, registry attached.
using replay_pipeline = dynamic_pipeline<double, collecting_sink, replay_registry>;
/// The baselines (train-once, each model alone): the same pipeline with one model.
using baseline_pipeline = dynamic_pipeline<double>;

/// Settings of one run that are not in the configuration file.
struct run_options {
  /// Output directory; empty: the configuration's [output] dir.
  std::string output_dir;
  /// Write the output files (tests of bad input turn this off).
  bool write_files{true};
  /// Called after each block of rows with the share of the input read (0..1) and the
  /// events so far; may be empty.
  std::function<void(double progress, const std::vector<event>& events)> on_block;
  /// Rows per block. Default 4096.
  std::size_t block_rows{4096};
};

/// Figures of one prediction stream.
struct stream_result {
  std::string name;
  error_totals errors;
  double seconds{0.0};  ///< Time spent in its observe() calls (not written to files).
};

/// What a replay did.
struct replay_result {
  std::uint64_t rows{0};             ///< Data rows read.
  std::uint64_t samples{0};          ///< Rows turned into samples.
  std::uint64_t skipped_missing{0};  ///< Rows skipped for a missing cell.
  std::uint64_t skipped_lags{0};     ///< First rows skipped until lags/EMAs had history.
  bool has_lags{false};              ///< The features include target lags or EMAs.
  std::uint64_t scored{0};           ///< Samples after the warm-up.
  stream_result served;              ///< Continuous deployment (the pipeline's served output).
  stream_result train_once;          ///< The champion, frozen after the warm-up.
  std::vector<stream_result> fixed;  ///< Each model alone, learning every sample.
  std::size_t best_fixed{0};         ///< Index of the lowest-MAE entry of `fixed`.
  std::vector<event> events;
  std::vector<std::string> model_names;  ///< Pipeline order (the champion first).
  std::uint64_t promotions{0};
  std::uint64_t withdrawals{0};
  std::uint64_t drifts{0};
  std::vector<std::uint64_t> update_failures;  ///< Per model.
  std::string final_production;
  bool time_is_date{false};
  std::size_t registry_versions{0};
  version_id registry_production{0};
  bool registry_reloaded{false};
  std::string registry_message;
  std::string output_dir;
  double seconds_total{0.0};  ///< Wall time of the whole replay (not written to files).
  double seconds_read{0.0};   ///< Reading and decoding rows.
};

namespace detail {

inline result<update_policy> policy_of(const replay_config& cfg) {
  update_policy p;
  p.schedule = cfg.update == "every_n"  ? update_schedule::every_n
               : cfg.update == "frozen" ? update_schedule::frozen
                                        : update_schedule::every_sample;
  p.every_n = cfg.every_n;
  p.on_drift = cfg.on_drift == "reset"    ? drift_action::reset
               : cfg.on_drift == "reseed" ? drift_action::reseed
                                          : drift_action::none;
  return p;
}

inline std::string csv_field(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Moves the staged outputs into `dir`: each file by one rename (atomic on POSIX, replacing
// the previous run's file), the registry directory by removing the old one first.
// LIMITATION: an I/O failure in the middle of this leaves a mix of old and new files; the
// input and configuration errors this guards against all come earlier.
inline result<void> commit_outputs(const std::filesystem::path& stage,
                                   const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(errc::io_error, dir.string() + ": cannot create directory (" +
                                          ec.message() + ")");
  for (const char* f : {"loss.csv", "events.csv", "chart.svg", "summary.txt"}) {
    std::filesystem::rename(stage / f, dir / f, ec);
    if (ec) return fail(errc::io_error, (dir / f).string() + ": cannot write (" +
                                            ec.message() + ")");
  }
  std::filesystem::remove_all(dir / "registry", ec);
  if (!ec) std::filesystem::rename(stage / "registry", dir / "registry", ec);
  if (ec) return fail(errc::io_error, (dir / "registry").string() + ": cannot write (" +
                                          ec.message() + ")");
  return {};
}

}  // namespace detail

/// Writes `text` to the file `p` (replacing it).
[[nodiscard]] inline result<void> write_text(const std::filesystem::path& p,
                                             const std::string& text) {
  std::FILE* f = std::fopen(p.string().c_str(), "wb");
  if (f == nullptr) return fail(errc::io_error, p.string() + ": cannot write");
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) return fail(errc::io_error, p.string() + ": write failed");
  return {};
}

namespace detail {

// Replaces every `from` in `s` by `to`.
inline void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// The digits at `at` in `s` (empty when none); advances `at` past them.
inline std::string_view digits_at(std::string_view s, std::size_t& at) {
  const std::size_t b = at;
  while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
  return s.substr(b, at - b);
}

}  // namespace detail

/// A gate's reason made readable for the timeline: a sanity check against the unbounded
/// range [-inf, inf] (no range declared) says nothing and is dropped, "N of M samples" becomes
/// "N samples (needs M)", and min_improvement's "(needs 2% and 0)" names both thresholds.
/// events.csv keeps the reasons as the library wrote them.
[[nodiscard]] inline std::string readable_reason(std::string_view reason) {
  std::string s(reason);
  // "sanity: prediction 8857 in [-inf, inf]" and its separator.
  for (std::size_t at = s.find("sanity: prediction "); at != std::string::npos;
       at = s.find("sanity: prediction ", at)) {
    const std::size_t end = s.find(" in [-inf, inf]", at);
    const std::size_t semi = s.find(';', at);
    if (end == std::string::npos || (semi != std::string::npos && semi < end)) {
      ++at;
      continue;
    }
    std::size_t cut = end + 15;
    if (s.compare(cut, 2, "; ") == 0) cut += 2;
    s.erase(at, cut - at);
  }
  if (s.size() >= 2 && s.compare(s.size() - 2, 2, "; ") == 0) s.resize(s.size() - 2);
  // "142 of 60 samples" -> "142 samples (needs 60)"; also "... production samples".
  for (std::size_t at = s.find(" of "); at != std::string::npos; at = s.find(" of ", at + 1)) {
    std::size_t l = at;
    while (l > 0 && s[l - 1] >= '0' && s[l - 1] <= '9') --l;
    std::size_t r = at + 4;
    const std::string need(detail::digits_at(s, r));
    if (l == at || need.empty()) continue;
    const std::string have = s.substr(l, at - l);
    std::string noun;
    for (const char* n : {" samples", " production samples"})
      if (s.compare(r, std::strlen(n), n) == 0) noun = n;
    if (noun.empty()) continue;
    const std::string rep = have + noun + " (needs " + need + ")";
    s.replace(l, r + noun.size() - l, rep);
    at = l + rep.size() - 1;
  }
  // min_improvement: "(needs 2% and 0)" -> "(needs >= 2% and >= 0 gain)".
  for (std::size_t at = s.find("(needs "); at != std::string::npos;
       at = s.find("(needs ", at + 1)) {
    const std::size_t andp = s.find(" and ", at);
    const std::size_t close = s.find(')', at);
    if (andp == std::string::npos || close == std::string::npos || andp > close) continue;
    const std::string rel = s.substr(at + 7, andp - at - 7);
    const std::string abs = s.substr(andp + 5, close - andp - 5);
    const std::string rep = "(needs >= " + rel + " better and a gain >= " + abs + ")";
    s.replace(at, close + 1 - at, rep);
  }
  return s;
}

/// Formats one event as a timeline line:
/// "1972-03-14  #   1169  drift             rls-0.99 v3: reason". The sample index has a fixed
/// width so the columns line up. A gate decision says what was decided: `next` is the event
/// after it (a rollout starting at the same sample means the challenger passed).
[[nodiscard]] inline std::string format_event(const event& e,
                                              const std::vector<std::string>& names,
                                              bool time_is_date, const event* next = nullptr) {
  std::string s = format_time(e.time, time_is_date);
  std::string idx = std::to_string(e.sample_index);
  if (idx.size() < 8) idx.insert(0, 8 - idx.size(), ' ');
  s += "  #" + idx;
  std::string kind(to_string(e.kind));
  kind.resize(16, ' ');
  s += "  " + kind;
  std::string who = e.model < names.size() ? names[e.model] : "?";
  s += "  " + who;
  if (e.version != 0) s += " v" + std::to_string(e.version);
  s += ": ";
  if (e.kind == event_kind::gate_decision) {
    const bool passed = next != nullptr && next->kind == event_kind::rollout_started &&
                        next->sample_index == e.sample_index;
    s += passed ? "passed, rollout starts: " : "refused, evidence starts again: ";
  }
  s += readable_reason(e.reason.view());
  return s;
}

/// "1 sample", "2 samples".
[[nodiscard]] inline std::string plural(std::uint64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

/// Drift alarms within a few days of 1 January on a date stream (the calendar features know
/// weekdays and seasons, not holidays, so New Year's low counts set the detector off).
[[nodiscard]] inline std::size_t new_year_drifts(const replay_result& r) {
  if (!r.time_is_date) return 0;
  std::size_t n = 0;
  for (const auto& e : r.events) {
    if (e.kind != event_kind::drift) continue;
    const civil_date c = civil_from_days(static_cast<std::int64_t>(std::floor(e.time)));
    if ((c.month == 1 && c.day <= 7) || (c.month == 12 && c.day >= 24)) ++n;
  }
  return n;
}

/// A figure of the summary with 4 significant digits (readable for MAEs of 0.05 and of
/// 5000 alike), or "overflowed" when it is not finite: nan, inf or "?" is never a result.
[[nodiscard]] inline std::string summary_figure(double v) {
  if (!std::isfinite(v)) return "overflowed";
  if (v != 0.0 && (std::fabs(v) >= 1e7 || std::fabs(v) < 1e-4)) return num(v, 4);
  // Significant digits without an exponent: 4 of them, at most 6 decimals.
  const int mag = v == 0.0 ? 0 : static_cast<int>(std::floor(std::log10(std::fabs(v))));
  return fixed(v, std::clamp(3 - mag, 0, 6));
}

/// `a / b` for the summary's ratio lines, or a plain note when either figure is unusable.
[[nodiscard]] inline std::string summary_ratio(double a, double b) {
  if (!std::isfinite(a) || !std::isfinite(b)) return "not computed (a figure overflowed)";
  if (!(b > 0.0)) return "not computed (zero denominator)";
  return summary_figure(a / b);  // significant digits: 0.04124, not 0.041
}

/// The summary as text. Without `with_speed` it is deterministic (summary.txt); with it, the
/// table gets a samples-per-second column measured in this run (the terminal).
[[nodiscard]] inline std::string summary_text(const replay_config& cfg, const replay_result& r,
                                              bool with_speed = false) {
  std::string s;
  s += "stream: " + cfg.stream.file + " (target " + cfg.stream.target + ")\n";
  s += "rows read: " + std::to_string(r.rows) + "; samples: " + std::to_string(r.samples) +
       "; skipped for missing cells: " + std::to_string(r.skipped_missing);
  // Only a stream with lags or EMAs skips its first rows for want of history.
  if (r.has_lags)
    s += "; first rows skipped for want of lag/EMA history: " + std::to_string(r.skipped_lags);
  s += "\n";
  s += "warm-up: " + std::to_string(cfg.warmup) + " samples; scored: " +
       std::to_string(r.scored) + "\n";
  s += "models:";
  for (std::size_t i = 0; i < r.model_names.size(); ++i)
    s += std::string(i ? ", " : " ") + r.model_names[i] +
         (r.update_failures[i] ? " (" + std::to_string(r.update_failures[i]) + " refused updates)"
                               : "");
  s += "\n";
  s += "promotions: " + std::to_string(r.promotions) + "; trials withdrawn: " +
       std::to_string(r.withdrawals) + "; drifts: " + std::to_string(r.drifts) +
       "; production at the end: " + r.final_production + "\n";
  if (const std::size_t n = new_year_drifts(r); n > 0) {
    s += "note: " + std::to_string(n) + " of the " + std::to_string(r.drifts) +
         " drift alarms fall around New Year. Holidays are not among the features,\n"
         "  so a holiday's unusual value raises the loss for a few days: these alarms mark\n"
         "  the holiday, not a lasting change.\n";
  }
  s += "\n";
  auto pad_left = [](std::string v, std::size_t w) {
    if (v.size() < w) v.insert(0, w - v.size(), ' ');
    return v;
  };
  auto row = [&](const std::string& name, const stream_result& e) {
    std::string n = name;
    if (n.size() < 52) n.resize(52, ' ');
    n += pad_left(summary_figure(e.errors.mae()), 11) +
         pad_left(summary_figure(e.errors.rmse()), 11);
    if (with_speed) {
      const double rate = e.seconds > 0.0 ? static_cast<double>(r.samples) / e.seconds : 0.0;
      n += pad_left(rate >= 1e6 ? fixed(rate / 1e6, 2) + " M" : fixed(rate / 1e3, 1) + " k", 12);
    }
    return n + "\n";
  };
  std::string head(52, ' ');
  s += head + "        MAE       RMSE" + (with_speed ? "   samples/s" : "") + "\n";
  s += row(r.served.name, r.served);
  s += row(r.train_once.name, r.train_once);
  s += row("best fixed: " + r.fixed[r.best_fixed].name + " alone", r.fixed[r.best_fixed]);
  for (std::size_t k = 0; k < r.fixed.size(); ++k)
    if (k != r.best_fixed) s += row("  " + r.fixed[k].name + " alone", r.fixed[k]);
  const double best = r.fixed[r.best_fixed].errors.mae();
  s += "\nserved MAE / best fixed MAE: " + summary_ratio(r.served.errors.mae(), best) +
       "; served MAE / train-once MAE: " +
       summary_ratio(r.served.errors.mae(), r.train_once.errors.mae()) + "\n";
  s += "registry: " + std::to_string(r.registry_versions) +
       (r.registry_versions == 1 ? " version" : " versions") + " kept, production v" +
       std::to_string(r.registry_production) +
       (r.registry_message.empty() ? "" : "; " + r.registry_message) + "\n";
  return s;
}

/// Replays the stream of `cfg` through its pipeline and the baselines.
[[nodiscard]] inline result<replay_result> run_replay(const replay_config& cfg,
                                                      const run_options& ro = {}) {
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  replay_result out;

  auto reader = csv_reader::open(cfg.stream.file);
  if (!reader) return reader.error();
  auto decoder = stream_decoder::make(cfg.stream, *reader);
  if (!decoder) {
    // Feature-set errors are configuration errors: name the configuration file.
    error e = decoder.error();
    if (e.message.rfind("features: ", 0) == 0)
      e.message = cfg.path + ": [features] " + e.message.substr(10);
    return e;
  }
  const Eigen::Index dim = decoder->dim();
  out.time_is_date = !cfg.stream.time.column.empty() || cfg.stream.time.from_parts();

  // Models, the champion first.
  std::vector<any_model> models;
  std::vector<std::string> names;
  std::vector<any_model> singles;
  const component_config* champion = nullptr;
  for (const auto& m : cfg.models)
    if (m.name == cfg.champion) champion = &m;
  {
    auto m = make_model(*champion, dim, cfg.path);
    if (!m) return m.error();
    models.push_back(std::move(*m));
    names.push_back(champion->name);
  }
  for (const auto& c : cfg.models) {
    if (&c == champion) continue;
    auto m = make_model(c, dim, cfg.path);
    if (!m) return m.error();
    models.push_back(std::move(*m));
    names.push_back(c.name);
  }
  singles = models;
  out.model_names = names;

  auto detector = make_detector(cfg.drift, cfg.path);
  if (!detector) return detector.error();
  auto gate = make_gate(cfg.gate, cfg.path);
  if (!gate) return gate.error();
  auto rollout = make_rollout(cfg.rollout, cfg.path);
  if (!rollout) return rollout.error();
  auto policy = detail::policy_of(cfg);
  if (!policy) return policy.error();

  pipeline_options po;
  po.warmup = cfg.warmup;
  po.policy = *policy;
  po.loss = cfg.loss == "squared" ? loss_kind::squared : loss_kind::absolute;
  po.gate_interval = cfg.gate_interval;

  registry_options rgo;
  rgo.clock = &detail::stream_clock;
  rgo.keep_last = 8;
  auto reg_made = replay_registry::make(rgo);
  if (!reg_made) return reg_made.error();
  auto reg = std::make_unique<replay_registry>(std::move(*reg_made));

  auto pipe = replay_pipeline::make(po, models, *detector, *gate, *rollout, any_transform<double>{},
                                    collecting_sink{&out.events}, names);
  if (!pipe) return pipe.error();
  pipe->set_registry(reg.get());

  // Baselines: the champion frozen after the warm-up, and every model alone.
  pipeline_options bo = po;
  bo.policy = update_policy{};
  auto base_detector = any_detector(no_detector{});
  std::vector<baseline_pipeline> fixed;
  for (std::size_t i = 0; i < singles.size(); ++i) {
    auto f = baseline_pipeline::make(bo, {singles[i]}, base_detector, *gate, *rollout);
    if (!f) return f.error();
    fixed.push_back(std::move(*f));
    out.fixed.push_back(stream_result{names[i], {}, 0.0});
  }
  pipeline_options fo = bo;
  fo.policy.schedule = update_schedule::frozen;
  auto frozen = baseline_pipeline::make(fo, {singles[0]}, base_detector, *gate, *rollout);
  if (!frozen) return frozen.error();
  out.served.name = "continuous deployment";
  out.train_once.name = "train once (" + names[0] + ", frozen after the warm-up)";

  // Outputs go to a staging directory next to the target and are renamed into place only
  // once the whole input has been read and checked: a failing run leaves the previous run's
  // outputs as they were and creates no empty output directory.
  std::filesystem::path dir = ro.output_dir.empty() ? cfg.output_dir : ro.output_dir;
  if (!dir.has_filename()) dir = dir.parent_path();  // "out/" names the directory "out"
  if (dir.empty()) dir = ".";
  out.output_dir = dir.string();
  const std::filesystem::path stage =
      dir.parent_path() / ("." + dir.filename().string() + ".partial");
  struct stage_remover {
    const std::filesystem::path* p{nullptr};
    ~stage_remover() {
      if (p == nullptr) return;
      std::error_code ignored;
      std::filesystem::remove_all(*p, ignored);
    }
  } remover;
  std::vector<chart_point> chart;
  auto roll_served = rolling_window<double>::make({.capacity = cfg.rolling_window});
  if (!roll_served) return roll_served.error();
  auto roll_base = roll_served;
  std::FILE* loss_file = nullptr;
  if (ro.write_files) {
    std::error_code ec;
    std::filesystem::remove_all(stage, ec);  // a crashed run's leftovers
    std::filesystem::create_directories(stage, ec);
    if (ec) return fail(errc::io_error, stage.string() + ": cannot create directory (" +
                                            ec.message() + ")");
    remover.p = &stage;
    loss_file = std::fopen((stage / "loss.csv").string().c_str(), "wb");
    if (loss_file == nullptr)
      return fail(errc::io_error, (stage / "loss.csv").string() + ": cannot write (" +
                                      std::generic_category().message(errno) + ")");
    // "sample" is the 1-based sample number, the same index as events.csv's first column.
    const std::string header =
        "sample,time,y,served,model,version,abs_error,train_once,train_once_abs_error\n";
    std::fwrite(header.data(), 1, header.size(), loss_file);
  }
  struct file_closer {
    std::FILE*& f;
    ~file_closer() {
      if (f) std::fclose(f);
    }
  } closer{loss_file};

  // The largest |target| accepted: squared errors of such values, summed over 2^40 samples,
  // stay finite (1e100^2 * 2^40 ~ 1e212), so no RMSE or ratio becomes inf or nan.
  constexpr double max_abs_target = 1e100;
  out.has_lags = !cfg.stream.features.target_lags.empty() ||
                 !cfg.stream.features.target_emas.empty();

  // The block: decoded samples with their CSV line, then each pipeline over the block.
  const std::size_t block = ro.block_rows == 0 ? 4096 : ro.block_rows;
  std::vector<sample<double, Eigen::Dynamic>> samples(block);
  for (auto& s : samples) s.x.resize(dim);
  std::vector<std::uint64_t> lines(block);    // CSV line of each sample (messages)
  std::vector<std::uint64_t> numbers(block);  // 1-based sample number (the events' index)
  std::vector<observation> served(block), base(block);
  error err;
  bool done = false;
  while (!done) {
    // Read and decode a block.
    const auto t0 = clock::now();
    std::size_t n = 0;
    while (n < block) {
      const auto st = reader->next();
      if (st == csv_reader::read_status::end) {
        done = true;
        break;
      }
      if (st == csv_reader::read_status::error) return reader->error();
      ++out.rows;
      if (cfg.limit != 0 && out.rows > cfg.limit) {
        --out.rows;
        done = true;
        break;
      }
      auto& s = samples[n];
      double y = 0.0, t = 0.0;
      switch (decoder->decode(*reader, s.x, y, t, err)) {
        case stream_decoder::outcome::error: return err;
        case stream_decoder::outcome::missing: ++out.skipped_missing; continue;
        case stream_decoder::outcome::lag_warming_up: ++out.skipped_lags; continue;
        case stream_decoder::outcome::sample: break;
      }
      if (!(std::fabs(y) <= max_abs_target)) {
        return fail(errc::format_error,
                    reader->where(*reader->column_index(cfg.stream.target)) + ": " + num(y, 6) +
                        " is too large (|target| must be <= 1e100 so that squared errors "
                        "stay finite)");
      }
      s.y = y;
      s.time = t;
      s.key = out.samples;  // sticky split on the sample's position: reproducible
      s.has_key = true;
      lines[n] = reader->line();
      ++out.samples;
      numbers[n] = out.samples;
      ++n;
    }
    const auto t1 = clock::now();
    out.seconds_read += std::chrono::duration<double>(t1 - t0).count();

    // The pipeline.
    for (std::size_t i = 0; i < n; ++i) {
      detail::stream_clock_value = samples[i].time;
      if (const status st = pipe->observe(samples[i], served[i]); st != status::ok)
        return fail(errc::format_error, cfg.stream.file + ":" + std::to_string(lines[i]) +
                                            ": the pipeline refused the sample (" +
                                            std::string(to_string(st)) + ")");
    }
    const auto t2 = clock::now();
    out.served.seconds += std::chrono::duration<double>(t2 - t1).count();
    for (std::size_t i = 0; i < n; ++i) static_cast<void>(frozen->observe(samples[i], base[i]));
    const auto t3 = clock::now();
    out.train_once.seconds += std::chrono::duration<double>(t3 - t2).count();
    for (std::size_t k = 0; k < fixed.size(); ++k) {
      const auto tk = clock::now();
      for (std::size_t i = 0; i < n; ++i) {
        observation o;
        static_cast<void>(fixed[k].observe(samples[i], o));
        if (o.scored) out.fixed[k].errors.add(samples[i].y, o.prediction);
      }
      out.fixed[k].seconds += std::chrono::duration<double>(clock::now() - tk).count();
    }

    // Record the scored samples.
    std::string lines_out;
    for (std::size_t i = 0; i < n; ++i) {
      if (!served[i].scored) continue;
      ++out.scored;
      const double y = samples[i].y;
      out.served.errors.add(y, served[i].prediction);
      out.train_once.errors.add(y, base[i].prediction);
      const double es = std::fabs(y - served[i].prediction);
      const double eb = std::fabs(y - base[i].prediction);
      // A non-finite error (a broken model's prediction) is refused by the window, which
      // then keeps its previous figures.
      static_cast<void>(roll_served->update(es));
      static_cast<void>(roll_base->update(eb));
      // The chart starts once the window is full: a mean of a few samples is noise.
      if (roll_served->full()) {
        chart.push_back({samples[i].time, roll_served->mean().value_or(0.0),
                         roll_base->mean().value_or(0.0)});
      }
      if (loss_file != nullptr && (out.scored - 1) % cfg.loss_every == 0) {
        lines_out += std::to_string(numbers[i]) + "," +
                     format_time(samples[i].time, out.time_is_date) +
                     "," + num(y, 17) + "," + num(served[i].prediction, 10) + "," +
                     names[served[i].model] + "," + std::to_string(served[i].version) + "," +
                     num(es, 10) + "," + num(base[i].prediction, 10) + "," + num(eb, 10) + "\n";
      }
    }
    if (loss_file != nullptr && !lines_out.empty())
      std::fwrite(lines_out.data(), 1, lines_out.size(), loss_file);
    if (ro.on_block) {
      // With a row limit the file's size says nothing about how far the run has come.
      const double p = cfg.limit != 0 ? std::min(1.0, static_cast<double>(out.rows) /
                                                          static_cast<double>(cfg.limit))
                                      : reader->progress();
      ro.on_block(done ? 1.0 : p, out.events);
    }
  }
  if (out.samples == 0)
    return fail(errc::format_error, cfg.stream.file + ": no data rows (" +
                                        std::to_string(out.rows) + " rows read, " +
                                        std::to_string(out.skipped_missing) +
                                        " skipped for missing cells)");
  if (out.scored == 0) {
    return fail(errc::format_error,
                cfg.stream.file + ": nothing to score: the warm-up is " +
                    std::to_string(cfg.warmup) + " samples ([data] warmup in " + cfg.path +
                    ") but the stream gave " + plural(out.samples, "sample") + " (" +
                    plural(out.rows, "row") + " read" +
                    (cfg.limit != 0 ? ", --limit/[data] limit " + std::to_string(cfg.limit)
                                    : "") +
                    "); give more rows or a shorter warm-up");
  }

  out.promotions = pipe->promotions();
  out.withdrawals = pipe->withdrawals();
  out.drifts = pipe->drifts();
  for (std::size_t i = 0; i < pipe->size(); ++i)
    out.update_failures.push_back(pipe->update_failures(i));
  out.final_production = names[pipe->production()];
  for (std::size_t k = 1; k < out.fixed.size(); ++k)
    if (out.fixed[k].errors.mae() < out.fixed[out.best_fixed].errors.mae()) out.best_fixed = k;

  // Registry: save, then reload and check that production comes back.
  out.registry_versions = reg->size();
  out.registry_production = reg->production_version();
  if (ro.write_files) {
    if (std::fclose(loss_file) != 0) {
      loss_file = nullptr;
      return fail(errc::io_error, (stage / "loss.csv").string() + ": write failed");
    }
    loss_file = nullptr;
    const std::string rdir = (stage / "registry").string();
    if (auto ok = reg->save(rdir); !ok) return ok.error();
    auto back = replay_registry::load(rdir, pipe->model(pipe->production()), rgo);
    if (!back) {
      out.registry_message = "reload failed: " + back.error().message;
    } else if (back->production_version() != out.registry_production) {
      out.registry_message = "reload gave production v" +
                             std::to_string(back->production_version()) + ", expected v" +
                             std::to_string(out.registry_production);
    } else {
      out.registry_reloaded = true;
      out.registry_message = "reloaded: " + std::to_string(back->size()) +
                             " versions, production v" +
                             std::to_string(back->production_version());
    }

    std::string ev = "sample,time,kind,model,version,value,reason\n";
    for (const auto& e : out.events) {
      ev += std::to_string(e.sample_index) + "," + format_time(e.time, out.time_is_date) + "," +
            std::string(to_string(e.kind)) + "," +
            (e.model < names.size() ? names[e.model] : std::string("?")) + "," +
            std::to_string(e.version) + "," + num(e.value, 10) + "," +
            detail::csv_field(e.reason.view()) + "\n";
    }
    if (auto ok = write_text(stage / "events.csv", ev); !ok) return ok.error();

    std::vector<chart_marker> marks;
    for (const auto& e : out.events) {
      if (e.kind == event_kind::promoted && e.sample_index > cfg.warmup)
        marks.push_back({e.time, chart_marker::kind::promotion});
      else if (e.kind == event_kind::rolled_back || e.kind == event_kind::rollout_aborted)
        marks.push_back({e.time, chart_marker::kind::rollback});
      else if (e.kind == event_kind::drift)
        marks.push_back({e.time, chart_marker::kind::drift});
    }
    const std::string title = "Rolling mean absolute error (" +
                              std::to_string(cfg.rolling_window) + " samples) of " +
                              cfg.stream.target + ": continuous deployment vs train once";
    if (auto ok = write_text(stage / "chart.svg",
                                     render_chart(chart, marks, title,
                                                  "absolute error (" +
                                                      (cfg.unit.empty()
                                                           ? "units of " + cfg.stream.target
                                                           : cfg.unit) +
                                                      ")",
                                                  out.time_is_date));
        !ok)
      return ok.error();
  }
  if (ro.write_files) {
    if (auto ok = write_text(stage / "summary.txt", summary_text(cfg, out)); !ok)
      return ok.error();
    if (auto ok = detail::commit_outputs(stage, dir); !ok) return ok.error();
  }
  out.seconds_total = std::chrono::duration<double>(clock::now() - t_start).count();
  return out;
}

}  // namespace livefit::replay

#endif  // LIVEFIT_EXAMPLES_REPLAY_REPLAY_HPP
