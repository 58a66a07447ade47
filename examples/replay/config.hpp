// The replay configuration: a TOML file (read with toml++) describing the stream, its
// features, the models, the drift detector, the gate, the rollout, the update policy and the
// outputs. See docs/replay.md for every key.
//
// Reading is strict: an unknown section or key, a value of the wrong type or out of its range
// is an error naming the file, the line and the key, so a typo never silently falls back to a
// default. Component parameters are collected as typed values here and checked by the
// component factories (param_reader below), which know their ranges.
#ifndef LIVEFIT_EXAMPLES_REPLAY_CONFIG_HPP
#define LIVEFIT_EXAMPLES_REPLAY_CONFIG_HPP

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <toml++/toml.h>

#include "features.hpp"
#include "livefit/core/fixed_string.hpp"
#include "livefit/core/result.hpp"

namespace livefit::replay {

/// One `key = value` of a component table, kept with its line for messages.
struct param {
  std::string key;
  std::vector<double> numbers;  ///< The value (one entry), or the list's entries.
  std::string text;             ///< The value when it is a string.
  bool is_list{false};
  bool is_text{false};
  bool is_bool{false};
  int line{0};
};

/// A component table: [[models]], [drift], [gate], [rollout].
struct component_config {
  std::string section;  ///< "models", "drift", ...
  std::string name;     ///< Its name (models) or the section name.
  std::string type;     ///< The `type` key: "rls", "page_hinkley", "canary", ...
  std::vector<param> params;
  int line{0};       ///< Line of the table's header.
  int type_line{0};  ///< Line of its `type` key (the table's line when absent).
};

/// The parsed configuration.
struct replay_config {
  std::string path;  ///< The file read (for messages).
  stream_config stream;
  std::uint64_t warmup{0};  ///< Rows the models learn from before scoring starts.
  std::uint64_t limit{0};   ///< Rows to read at most (0: all).
  std::vector<component_config> models;
  std::string champion;  ///< Name of the model that serves first.
  std::string update{"every_sample"};
  std::uint64_t every_n{1};
  std::string on_drift{"none"};
  std::string loss{"absolute"};
  std::uint64_t gate_interval{1};  ///< Ask the gate every n-th scored sample.
  std::optional<component_config> drift;
  std::optional<component_config> gate;
  std::optional<component_config> rollout;
  /// Output directory; relative to the current directory (unlike [data] file, which is
  /// relative to the configuration file).
  std::string output_dir{"replay-out"};
  /// Unit of the target for the chart's axis ("births per day", "ppm"); empty: "units of
  /// <target>".
  std::string unit;
  std::uint64_t rolling_window{90};
  std::uint64_t loss_every{1};  ///< Write every n-th scored sample to loss.csv.
};

/// Reads the parameters of one component, checking ranges, and reports unused keys.
class param_reader {
 public:
  /// @param where "file.toml" for messages
  param_reader(const component_config& c, std::string where)
      : c_(c), where_(std::move(where)), used_(c.params.size(), false) {}

  /// A number in [lo, hi] (or (lo, hi] etc. by the open flags); `def` when absent.
  /// `note` follows the range in the message (e.g. what a boundary value means).
  double number(std::string_view key, double def, double lo, double hi, bool lo_open = false,
                bool hi_open = false, std::string_view note = {}) {
    const param* p = find(key);
    if (p == nullptr) return def;
    if (p->is_list || p->is_text || p->numbers.size() != 1) {
      error(*p, "must be a number");
      return def;
    }
    const double v = p->numbers[0];
    // An unbounded range here means the component's factory checks the value and states its
    // real range (e.g. "(0, 1]"); a NaN must reach it rather than fail "in [-inf, inf]".
    if (std::isnan(v) && std::isinf(lo) && std::isinf(hi)) return v;
    const bool below = lo_open ? !(v > lo) : !(v >= lo);
    const bool above = hi_open ? !(v < hi) : !(v <= hi);
    if (below || above) {
      error(*p, "must be in " + std::string(lo_open ? "(" : "[") + fmt(lo) + ", " + fmt(hi) +
                    (hi_open ? ")" : "]") + (note.empty() ? "" : " (" + std::string(note) + ")") +
                    ", got " + fmt(v));
    }
    return v;
  }

  /// A whole number in [lo, hi].
  std::uint64_t count(std::string_view key, std::uint64_t def, std::uint64_t lo,
                      std::uint64_t hi) {
    const param* p = find(key);
    if (p == nullptr) return def;
    const double v = p->numbers.empty() ? -1.0 : p->numbers[0];
    if (p->is_list || p->is_text || p->is_bool || v != std::floor(v) ||
        v < static_cast<double>(lo) || v > static_cast<double>(hi)) {
      error(*p, "must be a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                    "], got " + (p->is_text ? "'" + p->text + "'" : fmt(v)));
      return def;
    }
    return static_cast<std::uint64_t>(v);
  }

  /// A list of numbers, each in [lo, hi]; with `scalar_ok` a single number is a list of one.
  std::vector<double> numbers(std::string_view key, std::vector<double> def, double lo,
                              double hi, bool scalar_ok = false) {
    const param* p = find(key);
    if (p == nullptr) return def;
    if (!p->is_list && !(scalar_ok && !p->is_text && !p->is_bool && p->numbers.size() == 1)) {
      error(*p, scalar_ok ? "must be a number or a list of numbers"
                          : "must be a list of numbers");
      return def;
    }
    for (double v : p->numbers) {
      if (!(v >= lo && v <= hi)) {
        error(*p, "entries must be in [" + fmt(lo) + ", " + fmt(hi) + "], got " + fmt(v));
        return def;
      }
    }
    return p->numbers;
  }

  /// A string among `allowed`.
  std::string choice(std::string_view key, std::string def,
                     std::initializer_list<std::string_view> allowed) {
    const param* p = find(key);
    if (p == nullptr) return def;
    std::string list;
    for (auto a : allowed) {
      if (p->is_text && p->text == a) return p->text;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    error(*p, "must be one of " + list + ", got " +
                  (p->is_text ? "'" + p->text + "'" : std::string("a number")));
    return def;
  }

  /// A string (required: an empty string and an error when absent).
  std::string text(std::string_view key) {
    const param* p = find(key);
    if (p == nullptr) {
      if (first_error_.empty())
        first_error_ = where_ + ":" + std::to_string(c_.line) + ": [" + label() + "] " +
                       std::string(key) + " is missing";
      return {};
    }
    if (!p->is_text) {
      error(*p, "must be a string");
      return {};
    }
    return p->text;
  }

  /// A boolean.
  bool flag(std::string_view key, bool def) {
    const param* p = find(key);
    if (p == nullptr) return def;
    if (!p->is_bool) {
      error(*p, "must be true or false");
      return def;
    }
    return p->numbers[0] != 0.0;
  }

  /// Records an error from a component factory, located at the line of the key its message
  /// names (the factories name the parameter at fault), else at the component's table.
  void fail_with(const std::string& message) {
    if (!first_error_.empty()) return;
    int line = c_.line;
    std::size_t best = 0;
    for (const param& p : c_.params) {
      if (message.find(p.key) != std::string::npos && p.key.size() > best) {
        best = p.key.size();
        line = p.line;
      }
    }
    first_error_ = where_ + ":" + std::to_string(line) + ": [" + label() + "] " + message;
  }

  /// The first error, or an unknown key if every value was fine; empty when all is well.
  [[nodiscard]] std::string finish() const {
    if (!first_error_.empty()) return first_error_;
    for (std::size_t i = 0; i < used_.size(); ++i) {
      if (!used_[i]) {
        const param& p = c_.params[i];
        return where_ + ":" + std::to_string(p.line) + ": [" + label() + "] unknown key '" +
               p.key + "' for type '" + c_.type + "'";
      }
    }
    return {};
  }

  [[nodiscard]] std::string label() const {
    return c_.section == "models" ? "models '" + c_.name + "'" : c_.section;
  }

 private:
  static std::string fmt(double v) {
    fixed_string<40> s;
    s.append(v);
    return std::string(s.view());
  }

  const param* find(std::string_view key) {
    for (std::size_t i = 0; i < c_.params.size(); ++i) {
      if (c_.params[i].key == key) {
        used_[i] = true;
        return &c_.params[i];
      }
    }
    return nullptr;
  }

  void error(const param& p, const std::string& what) {
    if (first_error_.empty()) {
      first_error_ = where_ + ":" + std::to_string(p.line) + ": [" + label() + "] " + p.key +
                     " " + what;
    }
  }

  const component_config& c_;
  std::string where_;
  std::vector<bool> used_;
  std::string first_error_;
};

namespace detail {

// Walks the TOML tree with the file name at hand, recording the first error.
class toml_walker {
 public:
  explicit toml_walker(std::string path) : path_(std::move(path)) {}

  [[nodiscard]] bool ok() const noexcept { return err_.empty(); }
  [[nodiscard]] const std::string& err() const noexcept { return err_; }

  void error(const toml::node& n, const std::string& what) {
    if (err_.empty()) err_ = path_ + ":" + std::to_string(n.source().begin.line) + ": " + what;
  }
  void error_at(int line, const std::string& what) {
    if (err_.empty()) err_ = path_ + ":" + std::to_string(line) + ": " + what;
  }

  // Checks that `t` has only the keys in `allowed`.
  void only(const toml::table& t, std::string_view section,
            std::initializer_list<std::string_view> allowed) {
    for (auto&& [k, v] : t) {
      bool known = false;
      for (auto a : allowed) known = known || k.str() == a;
      if (!known) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        error(v, "[" + std::string(section) + "] unknown key '" + std::string(k.str()) +
                     "' (known: " + list + ")");
      }
    }
  }

  void text(const toml::table& t, std::string_view section, std::string_view key,
            std::string& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    if (auto v = n->value<std::string>()) {
      out = *v;
    } else {
      error(*n, "[" + std::string(section) + "] " + std::string(key) + " must be a string");
    }
  }

  void boolean(const toml::table& t, std::string_view section, std::string_view key, bool& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    if (auto v = n->value_exact<bool>()) {
      out = *v;
    } else {
      error(*n, "[" + std::string(section) + "] " + std::string(key) + " must be true or false");
    }
  }

  template <class Int>
  void whole(const toml::table& t, std::string_view section, std::string_view key, Int& out,
             std::int64_t lo, std::int64_t hi) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    auto v = n->value_exact<std::int64_t>();
    if (!v || *v < lo || *v > hi) {
      error(*n, "[" + std::string(section) + "] " + std::string(key) +
                    " must be a whole number in [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
      return;
    }
    out = static_cast<Int>(*v);
  }

  // Reads a component table into typed params.
  component_config component(const toml::table& t, std::string section) {
    component_config c;
    c.section = std::move(section);
    c.name = c.section;
    c.line = static_cast<int>(t.source().begin.line);
    c.type_line = c.line;
    for (auto&& [k, v] : t) {
      const std::string key(k.str());
      if (key == "type" || key == "name") {
        auto s = v.value<std::string>();
        if (!s) {
          error(v, "[" + c.section + "] " + key + " must be a string");
          continue;
        }
        (key == "type" ? c.type : c.name) = *s;
        if (key == "type") c.type_line = static_cast<int>(v.source().begin.line);
        continue;
      }
      param p;
      p.key = key;
      p.line = static_cast<int>(v.source().begin.line);
      if (auto b = v.value_exact<bool>()) {
        p.is_bool = true;
        p.numbers.push_back(*b ? 1.0 : 0.0);
      } else if (auto d = v.value<double>()) {
        p.numbers.push_back(*d);
      } else if (auto s = v.value<std::string>()) {
        p.is_text = true;
        p.text = *s;
      } else if (const toml::array* a = v.as_array()) {
        p.is_list = true;
        for (const toml::node& e : *a) {
          auto d2 = e.value<double>();
          if (!d2) {
            error(e, "[" + c.section + "] " + key + " must be a list of numbers");
            break;
          }
          p.numbers.push_back(*d2);
        }
      } else {
        error(v, "[" + c.section + "] " + key + " has an unsupported type");
      }
      c.params.push_back(std::move(p));
    }
    if (c.type.empty()) error_at(c.line, "[" + c.section + "] has no 'type'");
    return c;
  }

  template <class T>
  void list(const toml::table& t, std::string_view section, std::string_view key,
            std::vector<T>& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      error(*n, "[" + std::string(section) + "] " + std::string(key) + " must be a list");
      return;
    }
    out.clear();
    for (const toml::node& e : *a) {
      std::optional<T> v;
      if constexpr (std::is_same_v<T, std::string>) {
        v = e.value<std::string>();
      } else if constexpr (std::is_integral_v<T>) {
        auto i = e.value_exact<std::int64_t>();
        if (i) v = static_cast<T>(*i);
      } else {
        v = e.value<T>();
      }
      if (!v) {
        error(e, "[" + std::string(section) + "] " + std::string(key) +
                     " has an entry of the wrong type");
        return;
      }
      out.push_back(*v);
    }
  }

 private:
  std::string path_;
  std::string err_;
};

}  // namespace detail

/// Parses configuration text. `path` names it in messages; relative data paths are taken
/// relative to `base_dir`.
[[nodiscard]] inline result<replay_config> parse_config(std::string_view text,
                                                        const std::string& path,
                                                        const std::filesystem::path& base_dir) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    // A data file given in the configuration's place is the likely mistake behind most
    // syntax errors on the first line: say so.
    const std::string_view first = text.substr(0, text.find('\n'));
    const bool looks_csv = path.ends_with(".csv") || path.ends_with(".csv.gz") ||
                           path.ends_with(".gz") ||
                           (first.find(',') != std::string_view::npos &&
                            first.find('=') == std::string_view::npos &&
                            first.find('[') == std::string_view::npos);
    return fail(errc::format_error,
                path + ":" + std::to_string(e.source().begin.line) + ": " +
                    std::string(e.description()) +
                    (looks_csv ? " (this looks like a data file: give the configuration first "
                                 "and the CSV with --data FILE)"
                               : ""));
  }
  detail::toml_walker w(path);
  replay_config cfg;
  cfg.path = path;
  w.only(root, "top level",
         {"data", "features", "models", "pipeline", "drift", "gate", "rollout", "output"});

  auto table = [&](std::string_view name) -> const toml::table* {
    const toml::node* n = root.get(name);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      w.error(*n, "'" + std::string(name) + "' must be a table ([" + std::string(name) + "])");
      return nullptr;
    }
    return n->as_table();
  };

  if (const toml::table* d = table("data")) {
    w.only(*d, "data", {"file", "target", "time", "year", "month", "day", "warmup", "limit"});
    w.text(*d, "data", "file", cfg.stream.file);
    w.text(*d, "data", "target", cfg.stream.target);
    w.text(*d, "data", "time", cfg.stream.time.column);
    w.text(*d, "data", "year", cfg.stream.time.year);
    w.text(*d, "data", "month", cfg.stream.time.month);
    w.text(*d, "data", "day", cfg.stream.time.day);
    w.whole(*d, "data", "warmup", cfg.warmup, 0, std::int64_t{1} << 40);
    w.whole(*d, "data", "limit", cfg.limit, 0, std::int64_t{1} << 40);
    const bool any_part = !cfg.stream.time.year.empty() || !cfg.stream.time.month.empty() ||
                          !cfg.stream.time.day.empty();
    const bool all_parts = !cfg.stream.time.year.empty() && !cfg.stream.time.month.empty() &&
                           !cfg.stream.time.day.empty();
    if (any_part && !all_parts)
      w.error(*d, "[data] year, month and day must be given together");
    if (any_part && !cfg.stream.time.column.empty())
      w.error(*d, "[data] give either time or year/month/day, not both");
  } else if (w.ok()) {
    w.error_at(1, "missing [data] section (file and target)");
  }
  if (w.ok() && cfg.stream.file.empty()) w.error_at(1, "[data] file is missing");
  if (w.ok() && cfg.stream.target.empty()) w.error_at(1, "[data] target is missing");
  if (w.ok()) {
    std::filesystem::path f(cfg.stream.file);
    if (f.is_relative()) cfg.stream.file = (base_dir / f).lexically_normal().string();
  }

  if (const toml::table* f = table("features")) {
    feature_config& fc = cfg.stream.features;
    w.only(*f, "features", {"intercept", "trend", "columns", "scales", "day_of_week",
                            "yearly_harmonics",
                            "daily_harmonics", "lags", "emas"});
    w.boolean(*f, "features", "intercept", fc.intercept);
    w.boolean(*f, "features", "trend", fc.trend);
    w.list(*f, "features", "columns", fc.columns);
    w.list(*f, "features", "scales", fc.scales);
    w.boolean(*f, "features", "day_of_week", fc.day_of_week);
    w.whole(*f, "features", "yearly_harmonics", fc.yearly_harmonics, 0, 12);
    w.whole(*f, "features", "daily_harmonics", fc.daily_harmonics, 0, 12);
    w.list(*f, "features", "lags", fc.target_lags);
    w.list(*f, "features", "emas", fc.target_emas);
  }

  if (const toml::node* m = root.get("models")) {
    const toml::array* a = m->as_array();
    if (a == nullptr || !a->is_array_of_tables()) {
      w.error(*m, "'models' must be an array of tables ([[models]])");
    } else {
      for (const toml::node& e : *a) {
        component_config c = w.component(*e.as_table(), "models");
        if (c.name == "models") w.error_at(c.line, "[[models]] needs a name");
        for (const auto& prev : cfg.models)
          if (prev.name == c.name)
            w.error_at(c.line, "[[models]] name '" + c.name + "' is used twice");
        cfg.models.push_back(std::move(c));
      }
    }
  }
  if (w.ok() && cfg.models.empty()) w.error_at(1, "no [[models]]: at least one is needed");

  if (const toml::table* p = table("pipeline")) {
    w.only(*p, "pipeline",
           {"champion", "update", "every_n", "on_drift", "loss", "gate_interval"});
    w.text(*p, "pipeline", "champion", cfg.champion);
    w.text(*p, "pipeline", "update", cfg.update);
    w.whole(*p, "pipeline", "every_n", cfg.every_n, 1, std::int64_t{1} << 40);
    w.text(*p, "pipeline", "on_drift", cfg.on_drift);
    w.text(*p, "pipeline", "loss", cfg.loss);
    w.whole(*p, "pipeline", "gate_interval", cfg.gate_interval, 1, std::int64_t{1} << 40);
    auto check = [&](std::string_view key, const std::string& v,
                     std::initializer_list<std::string_view> allowed) {
      bool known = false;
      std::string list;
      for (auto a : allowed) {
        known = known || v == a;
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      if (!known)
        w.error(*p, "[pipeline] " + std::string(key) + " must be one of " + list + ", got '" +
                        v + "'");
    };
    check("update", cfg.update, {"every_sample", "every_n", "frozen"});
    check("on_drift", cfg.on_drift, {"none", "reset", "reseed"});
    check("loss", cfg.loss, {"absolute", "squared"});
  }
  if (w.ok()) {
    if (cfg.champion.empty()) cfg.champion = cfg.models.front().name;
    bool found = false;
    std::string known;
    for (const auto& m2 : cfg.models) {
      found = found || m2.name == cfg.champion;
      known += (known.empty() ? "'" : ", '") + m2.name + "'";
    }
    // Reported where the champion is named ([pipeline] champion), not at the file's top.
    int line = 1;
    if (const toml::table* p = table("pipeline")) {
      const toml::node* c = p->get("champion");
      line = static_cast<int>((c != nullptr ? c->source() : p->source()).begin.line);
    }
    if (!found)
      w.error_at(line, "[pipeline] champion '" + cfg.champion +
                           "' is not a [[models]] name (models: " + known + ")");
  }

  for (const char* s : {"drift", "gate", "rollout"}) {
    if (const toml::table* t = table(s)) {
      component_config c = w.component(*t, s);
      if (std::string_view(s) == "drift") cfg.drift = std::move(c);
      else if (std::string_view(s) == "gate") cfg.gate = std::move(c);
      else cfg.rollout = std::move(c);
    }
  }

  if (const toml::table* o = table("output")) {
    w.only(*o, "output", {"dir", "unit", "rolling_window", "loss_every"});
    w.text(*o, "output", "dir", cfg.output_dir);
    w.text(*o, "output", "unit", cfg.unit);
    w.whole(*o, "output", "rolling_window", cfg.rolling_window, 1, 1000000);
    w.whole(*o, "output", "loss_every", cfg.loss_every, 1, std::int64_t{1} << 40);
  }
  if (!w.ok()) return fail(errc::invalid_argument, w.err());
  return cfg;
}

/// Reads and parses a configuration file.
[[nodiscard]] inline result<replay_config> load_config(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return fail(errc::io_error, path + ": cannot open configuration file (" +
                                    std::generic_category().message(errno) + ")");
  std::string text;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  return parse_config(text, path, base);
}

}  // namespace livefit::replay

#endif  // LIVEFIT_EXAMPLES_REPLAY_CONFIG_HPP
