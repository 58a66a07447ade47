// parse_gate: builds a gate from a one-line description, for configuration-driven pipelines.
//
// Grammar (whitespace is free between tokens):
//   gate   := name [ "(" [ item { "," item } ] ")" ]
//   item   := gate                       (members of all_of, any_of, not_)
//           | key "=" value              (options of the other gates)
//   value  := a number, true, false, or a word (significant's test: sequential | paired_t)
// Names and keys are those of the C++ API: min_samples(samples), min_improvement(relative,
// absolute), significant(alpha, test, rollback_when_worse), no_regression(
// max_relative_increase, max_absolute_increase, min_samples), sanity(check_coefficients,
// check_range, require_prediction), all_of(...), any_of(...), not_(one gate). Options left
// out keep their defaults. Example:
//   all_of(min_samples(samples = 500), sanity,
//          any_of(significant(alpha = 0.01), min_improvement(relative = 0.2)))
// The result evaluates exactly like the same gate composed at compile time (tested), through
// one indirect call per node; building it allocates, evaluating it does not.
#ifndef LIVEFIT_DEPLOY_GATE_PARSER_HPP
#define LIVEFIT_DEPLOY_GATE_PARSER_HPP

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "livefit/core/result.hpp"
#include "livefit/deploy/gate_combinators.hpp"
#include "livefit/deploy/gates.hpp"

namespace livefit {

namespace detail {

/// Recursive-descent parser of gate descriptions (grammar in the file comment).
class gate_parser {
 public:
  /// Deepest nesting accepted: a guard against stack exhaustion on hostile input.
  static constexpr int max_depth = 32;

  explicit gate_parser(std::string_view text) noexcept : text_(text) {}

  result<any_gate> parse() {
    auto g = gate(0);
    if (!g) return g;
    skip_space();
    if (pos_ != text_.size()) return error("unexpected text after the gate");
    return g;
  }

 private:
  struct param {
    std::string_view key;
    std::string_view value;
    std::size_t at;
  };

  result<any_gate> gate(int depth) {
    if (depth >= max_depth) return error("gates nested deeper than " + std::to_string(max_depth));
    skip_space();
    const std::size_t at = pos_;
    const std::string_view name = word();
    if (name.empty()) return error("expected a gate name");
    if (name == "all_of" || name == "any_of" || name == "not_") return combinator(name, at, depth);
    std::vector<param> params;
    skip_space();
    if (peek('(')) {
      ++pos_;
      skip_space();
      if (!peek(')')) {
        do {
          auto p = key_value();
          if (!p) return p.error();
          params.push_back(*p);
          skip_space();
        } while (consume(','));
      }
      if (!consume(')')) return error("expected ',' or ')' in the options of " + std::string(name));
    }
    return leaf(name, at, params);
  }

  result<any_gate> combinator(std::string_view name, std::size_t at, int depth) {
    skip_space();
    if (!consume('(')) return error("expected '(' after " + std::string(name));
    std::vector<any_gate> members;
    do {
      auto g = gate(depth + 1);
      if (!g) return g;
      members.push_back(std::move(g).value());
      skip_space();
    } while (consume(','));
    if (!consume(')')) return error("expected ',' or ')' in " + std::string(name));
    if (name == "not_") {
      if (members.size() != 1)
        return error_at(at, "not_ takes exactly one gate, got " + std::to_string(members.size()));
      return any_gate(not_<any_gate>(std::move(members[0])));
    }
    if (name == "all_of") return any_gate(all_of_list(std::move(members)));
    return any_gate(any_of_list(std::move(members)));
  }

  result<param> key_value() {
    skip_space();
    const std::size_t at = pos_;
    const std::string_view key = word();
    if (key.empty()) return error("expected an option name");
    skip_space();
    if (!consume('=')) return error("expected '=' after " + std::string(key));
    skip_space();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && !is_space(text_[pos_]) && text_[pos_] != ',' &&
           text_[pos_] != '(' && text_[pos_] != ')')
      ++pos_;
    if (pos_ == start) return error("expected a value for " + std::string(key));
    return param{key, text_.substr(start, pos_ - start), at};
  }

  /// Builds a leaf gate from its name and options.
  result<any_gate> leaf(std::string_view name, std::size_t at, const std::vector<param>& ps) {
    if (name == "min_samples") {
      min_samples_options o;
      return build<min_samples>(o, ps, [&](const param& p) -> result<bool> {
        if (p.key == "samples") return whole(p, o.samples);
        return unknown(name, p, "samples");
      });
    }
    if (name == "min_improvement") {
      min_improvement_options o;
      return build<min_improvement>(o, ps, [&](const param& p) -> result<bool> {
        if (p.key == "relative") return number(p, o.relative);
        if (p.key == "absolute") return number(p, o.absolute);
        return unknown(name, p, "relative or absolute");
      });
    }
    if (name == "significant") {
      significant_options o;
      return build<significant>(o, ps, [&](const param& p) -> result<bool> {
        if (p.key == "alpha") return number(p, o.alpha);
        if (p.key == "rollback_when_worse") return boolean(p, o.rollback_when_worse);
        if (p.key != "test") return unknown(name, p, "alpha, test or rollback_when_worse");
        if (p.value == "sequential")
          o.test = significance_test::sequential;
        else if (p.value == "paired_t")
          o.test = significance_test::paired_t;
        else
          return bad_value(p, "sequential or paired_t");
        return true;
      });
    }
    if (name == "no_regression") {
      no_regression_options o;
      return build<no_regression>(o, ps, [&](const param& p) -> result<bool> {
        if (p.key == "max_relative_increase") return number(p, o.max_relative_increase);
        if (p.key == "max_absolute_increase") return number(p, o.max_absolute_increase);
        if (p.key == "min_samples") return whole(p, o.min_samples);
        return unknown(name, p, "max_relative_increase, max_absolute_increase or min_samples");
      });
    }
    if (name == "sanity") {
      sanity_options o;
      return build<sanity>(o, ps, [&](const param& p) -> result<bool> {
        if (p.key == "check_coefficients") return boolean(p, o.check_coefficients);
        if (p.key == "check_range") return boolean(p, o.check_range);
        if (p.key == "require_prediction") return boolean(p, o.require_prediction);
        return unknown(name, p, "check_coefficients, check_range or require_prediction");
      });
    }
    return error_at(at, "unknown gate '" + std::string(name) +
                            "' (expected all_of, any_of, not_, min_samples, min_improvement, "
                            "significant, no_regression or sanity)");
  }

  /// Applies every option (refusing repeats), then the gate's own validating factory.
  template <class Gate, class Options, class Set>
  result<any_gate> build(const Options& o, const std::vector<param>& ps, Set set) {
    for (std::size_t i = 0; i < ps.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j)
        if (ps[j].key == ps[i].key)
          return error_at(ps[i].at, "option '" + std::string(ps[i].key) + "' given twice");
      auto ok = set(ps[i]);
      if (!ok) return ok.error();
    }
    auto g = Gate::make(o);
    if (!g) return fail(g.error().code, "gate description: " + g.error().message);
    return any_gate(std::move(g).value());
  }

  result<bool> number(const param& p, double& out) {
    double v = 0.0;
    const char* end = p.value.data() + p.value.size();
    auto [ptr, ec] = std::from_chars(p.value.data(), end, v);
    if (ec != std::errc{} || ptr != end) return bad_value(p, "a number");
    out = v;
    return true;
  }

  result<bool> whole(const param& p, std::uint64_t& out) {
    std::uint64_t v = 0;
    const char* end = p.value.data() + p.value.size();
    auto [ptr, ec] = std::from_chars(p.value.data(), end, v);
    if (ec != std::errc{} || ptr != end) return bad_value(p, "a whole number >= 0");
    out = v;
    return true;
  }

  result<bool> boolean(const param& p, bool& out) {
    if (p.value == "true")
      out = true;
    else if (p.value == "false")
      out = false;
    else
      return bad_value(p, "true or false");
    return true;
  }

  livefit::error unknown(std::string_view gate_name, const param& p, std::string_view expected) {
    return error_at(p.at, std::string(gate_name) + " has no option '" + std::string(p.key) +
                              "' (expected " + std::string(expected) + ")");
  }

  livefit::error bad_value(const param& p, std::string_view expected) {
    return error_at(p.at, std::string(p.key) + " must be " + std::string(expected) + ", got '" +
                              std::string(p.value) + "'");
  }

  livefit::error error(const std::string& what) { return error_at(pos_, what); }

  livefit::error error_at(std::size_t at, const std::string& what) {
    return fail(errc::invalid_argument,
                "gate description, column " + std::to_string(at + 1) + ": " + what);
  }

  static bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static bool is_word(char c, bool first) noexcept {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    return alpha || (!first && c >= '0' && c <= '9');
  }
  void skip_space() noexcept {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }
  std::string_view word() noexcept {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && is_word(text_[pos_], pos_ == start)) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  [[nodiscard]] bool peek(char c) const noexcept { return pos_ < text_.size() && text_[pos_] == c; }
  bool consume(char c) noexcept {
    skip_space();
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }

  std::string_view text_;
  std::size_t pos_{0};
};

}  // namespace detail

/// Builds a gate from its description (grammar in the file comment). Off the hot path.
/// @return the gate, or invalid_argument with the column and what was expected, or the
///         message of the gate's own factory for an option out of range.
[[nodiscard]] inline result<any_gate> parse_gate(std::string_view description) {
  return detail::gate_parser(description).parse();
}

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_GATE_PARSER_HPP
