// Builds the pipeline's components from configuration tables: models, drift detector, gate
// and rollout. Parameters go to the components' own factories, whose messages (naming the
// parameter and its range) are reported at the line of the offending key.
#ifndef LIVEFIT_EXAMPLES_REPLAY_COMPONENTS_HPP
#define LIVEFIT_EXAMPLES_REPLAY_COMPONENTS_HPP

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "livefit/core/result.hpp"
#include "livefit/deploy/gate_combinators.hpp"
#include "livefit/deploy/gate_parser.hpp"
#include "livefit/deploy/gates.hpp"
#include "livefit/deploy/rollout.hpp"
#include "livefit/eval/adwin.hpp"
#include "livefit/eval/cusum.hpp"
#include "livefit/eval/ddm.hpp"
#include "livefit/eval/eddm.hpp"
#include "livefit/eval/page_hinkley.hpp"
#include "livefit/models/decayed_least_squares.hpp"
#include "livefit/models/nlms.hpp"
#include "livefit/models/rls.hpp"
#include "livefit/pipeline/any.hpp"

namespace livefit::replay {

/// The model type of a configured pipeline.
using any_model = any_regressor<double>;

namespace detail {

constexpr double inf = std::numeric_limits<double>::infinity();

// Turns a factory's result into the component, or records its message at the key's line.
template <class T, class R>
std::optional<T> take(R&& made, param_reader& p) {
  if (!made) {
    p.fail_with(made.error().message);
    return std::nullopt;
  }
  return T(std::move(*made));
}

inline error config_error(const param_reader& p) {
  return fail(errc::invalid_argument, p.finish());
}

}  // namespace detail

/// Makes one model of dimension `dim` from a [[models]] table.
/// Types: rls (forgetting_factor, ridge, max_trace), nlms (step_size, regularization),
/// decayed_least_squares (forgetting_factor, ridge, solve_every).
[[nodiscard]] inline result<any_model> make_model(const component_config& c, Eigen::Index dim,
                                                  const std::string& file) {
  param_reader p(c, file);
  std::optional<any_model> m;
  if (c.type == "rls") {
    rls_options o;
    o.forgetting_factor = p.number("forgetting_factor", o.forgetting_factor, -detail::inf,
                                   detail::inf);
    o.ridge = p.number("ridge", o.ridge, -detail::inf, detail::inf);
    o.max_trace = p.number("max_trace", o.max_trace, -detail::inf, detail::inf);
    o.max_block = 0;
    if (p.finish().empty()) m = detail::take<any_model>(rls<double>::make(o, dim), p);
  } else if (c.type == "nlms") {
    nlms_options o;
    o.step_size = p.number("step_size", o.step_size, -detail::inf, detail::inf);
    o.regularization = p.number("regularization", o.regularization, -detail::inf, detail::inf);
    if (p.finish().empty()) m = detail::take<any_model>(nlms<double>::make(o, dim), p);
  } else if (c.type == "decayed_least_squares") {
    decayed_least_squares_options o;
    o.forgetting_factor = p.number("forgetting_factor", o.forgetting_factor, -detail::inf,
                                   detail::inf);
    o.ridge = p.number("ridge", o.ridge, -detail::inf, detail::inf);
    o.solve_every = static_cast<std::uint32_t>(p.count("solve_every", o.solve_every, 1, 1u << 30));
    if (p.finish().empty())
      m = detail::take<any_model>(decayed_least_squares<double>::make(o, dim), p);
  } else {
    return fail(errc::invalid_argument,
                file + ":" + std::to_string(c.type_line) + ": [models '" + c.name +
                    "'] unknown model type '" + c.type +
                    "' (known: rls, nlms, decayed_least_squares)");
  }
  if (!m || !p.finish().empty()) return detail::config_error(p);
  return std::move(*m);
}

/// Makes the drift detector of a [drift] table (none when the table is absent).
/// Types: page_hinkley, cusum, adwin, ddm, eddm, none.
[[nodiscard]] inline result<any_detector> make_detector(const std::optional<component_config>& c,
                                                        const std::string& file) {
  if (!c || c->type == "none") {
    if (c && !c->params.empty())
      return fail(errc::invalid_argument, file + ":" + std::to_string(c->params[0].line) +
                                              ": [drift] type 'none' takes no parameters");
    return any_detector(no_detector{});
  }
  param_reader p(*c, file);
  std::optional<any_detector> d;
  auto direction = [&](drift_direction def) {
    const std::string s = p.choice("direction", std::string(def == drift_direction::both
                                                                ? "both"
                                                                : def == drift_direction::increase
                                                                      ? "increase"
                                                                      : "decrease"),
                                   {"increase", "decrease", "both"});
    return s == "both" ? drift_direction::both
                       : s == "increase" ? drift_direction::increase : drift_direction::decrease;
  };
  if (c->type == "page_hinkley") {
    page_hinkley_options o;
    o.delta = p.number("delta", o.delta, -detail::inf, detail::inf);
    o.lambda = p.number("lambda", o.lambda, -detail::inf, detail::inf);
    o.warning_fraction =
        p.number("warning_fraction", o.warning_fraction, -detail::inf, detail::inf);
    o.min_samples = p.count("min_samples", o.min_samples, 0, std::uint64_t{1} << 40);
    o.direction = direction(o.direction);
    if (p.finish().empty()) d = detail::take<any_detector>(page_hinkley::make(o), p);
  } else if (c->type == "cusum") {
    cusum_options o;
    o.target = p.number("target", o.target, -detail::inf, detail::inf);
    o.sigma = p.number("sigma", o.sigma, -detail::inf, detail::inf);
    o.k = p.number("k", o.k, -detail::inf, detail::inf);
    o.h = p.number("h", o.h, -detail::inf, detail::inf);
    o.warning_h = p.number("warning_h", o.warning_h, -detail::inf, detail::inf);
    o.direction = direction(o.direction);
    if (p.finish().empty()) d = detail::take<any_detector>(cusum::make(o), p);
  } else if (c->type == "adwin") {
    adwin_options o;
    o.delta = p.number("delta", o.delta, -detail::inf, detail::inf);
    o.max_buckets = p.count("max_buckets", o.max_buckets, 0, 1u << 20);
    o.min_window = p.count("min_window", o.min_window, 0, std::uint64_t{1} << 40);
    o.clock = p.count("clock", o.clock, 0, std::uint64_t{1} << 40);
    if (p.finish().empty()) d = detail::take<any_detector>(adwin::make(o), p);
  } else if (c->type == "ddm") {
    ddm_options o;
    o.min_samples = p.count("min_samples", o.min_samples, 0, std::uint64_t{1} << 40);
    o.warning_level = p.number("warning_level", o.warning_level, -detail::inf, detail::inf);
    o.drift_level = p.number("drift_level", o.drift_level, -detail::inf, detail::inf);
    if (p.finish().empty()) d = detail::take<any_detector>(ddm::make(o), p);
  } else if (c->type == "eddm") {
    eddm_options o;
    o.min_errors = p.count("min_errors", o.min_errors, 0, std::uint64_t{1} << 40);
    o.warning_ratio = p.number("warning_ratio", o.warning_ratio, -detail::inf, detail::inf);
    o.drift_ratio = p.number("drift_ratio", o.drift_ratio, -detail::inf, detail::inf);
    if (p.finish().empty()) d = detail::take<any_detector>(eddm::make(o), p);
  } else {
    return fail(errc::invalid_argument,
                file + ":" + std::to_string(c->type_line) + ": [drift] unknown detector type '" +
                    c->type + "' (known: page_hinkley, cusum, adwin, ddm, eddm, none)");
  }
  if (!d || !p.finish().empty()) return detail::config_error(p);
  return std::move(*d);
}

namespace detail {

// The gate "standard": all_of(min_samples, min_improvement, sanity[, significant]).
inline std::optional<any_gate> standard_gate(param_reader& p, std::uint64_t def_samples,
                                             double def_relative, double def_alpha,
                                             bool def_rollback) {
  min_samples_options ms;
  ms.samples = p.count("min_samples", def_samples, 0, std::uint64_t{1} << 40);
  min_improvement_options mi;
  mi.relative = p.number("min_improvement", def_relative, -inf, inf);
  mi.absolute = p.number("min_gain", mi.absolute, -inf, inf);
  sanity_options so;
  so.check_range = p.flag("check_range", so.check_range);
  significant_options sg;
  sg.alpha = p.number("alpha", def_alpha, 0.0, 1.0, false, true,
                      "0 turns the significance test off");
  sg.rollback_when_worse = p.flag("rollback_when_worse", def_rollback);
  if (!p.finish().empty()) return std::nullopt;
  auto a = min_samples::make(ms);
  if (!a) return p.fail_with(a.error().message), std::nullopt;
  auto b = min_improvement::make(mi);
  if (!b) return p.fail_with(b.error().message), std::nullopt;
  auto c = sanity::make(so);
  if (!c) return p.fail_with(c.error().message), std::nullopt;
  if (sg.alpha == 0.0) return any_gate(all_of(std::move(*c), std::move(*a), std::move(*b)));
  auto d = significant::make(sg);
  if (!d) return p.fail_with(d.error().message), std::nullopt;
  return any_gate(all_of(std::move(*c), std::move(*a), std::move(*b), std::move(*d)));
}

}  // namespace detail

/// Makes the promotion gate of a [gate] table.
/// Type "standard": all of sanity, min_samples (default 500), min_improvement (relative,
/// default 0.01; min_gain absolute, default 0) and, unless alpha = 0, significant
/// (sequential test at alpha, default 0.05; rollback_when_worse default false, so a worse
/// challenger just waits).
/// Type "rule": any composition, written in deploy's gate language in the key `rule`, e.g.
/// rule = "all_of(sanity, min_samples(samples = 60), significant(alpha = 0.01))".
[[nodiscard]] inline result<any_gate> make_gate(const std::optional<component_config>& c,
                                                const std::string& file) {
  component_config empty;
  empty.section = "gate";
  empty.type = "standard";
  const component_config& cc = c ? *c : empty;
  if (cc.type != "standard" && cc.type != "rule")
    return fail(errc::invalid_argument, file + ":" + std::to_string(cc.type_line) +
                                            ": [gate] unknown gate type '" + cc.type +
                                            "' (known: standard, rule)");
  param_reader p(cc, file);
  if (cc.type == "rule") {
    const std::string text = p.text("rule");
    if (!p.finish().empty()) return detail::config_error(p);
    auto g = parse_gate(text);
    if (!g) {
      p.fail_with("rule: " + g.error().message);
      return detail::config_error(p);
    }
    return std::move(*g);
  }
  auto g = detail::standard_gate(p, 500, 0.01, 0.05, false);
  if (!g || !p.finish().empty()) return detail::config_error(p);
  return std::move(*g);
}

/// Makes the rollout of a [rollout] table: canary (steps, step_samples, max_step_samples),
/// immediate (watch_samples) or shadow (min_samples, max_samples), each with its analysis
/// gate: all of sanity and, unless alpha = 0, significant (alpha default 0.05,
/// rollback_when_worse default true). Default: immediate with a watch of 100 samples.
[[nodiscard]] inline result<any_rollout> make_rollout(const std::optional<component_config>& c,
                                                      const std::string& file) {
  component_config empty;
  empty.section = "rollout";
  empty.type = "immediate";
  const component_config& cc = c ? *c : empty;
  param_reader p(cc, file);
  std::optional<any_rollout> r;
  auto analysis = [&]() -> std::optional<any_gate> {
    sanity_options so;
    so.check_range = p.flag("check_range", so.check_range);
    significant_options sg;
    sg.alpha = p.number("alpha", 0.05, 0.0, 1.0, false, true,
                        "0 turns the significance test off");
    sg.rollback_when_worse = p.flag("rollback_when_worse", true);
    auto s = sanity::make(so);
    if (sg.alpha == 0.0) return any_gate(std::move(*s));
    auto g = significant::make(sg);
    if (!g) return p.fail_with(g.error().message), std::nullopt;
    return any_gate(all_of(std::move(*s), std::move(*g)));
  };
  if (cc.type == "canary") {
    canary_options o;
    const std::vector<double> fr = p.numbers("steps", {0.01, 0.05, 0.25}, -detail::inf,
                                             detail::inf);
    // One number for every step, or a list with one entry per step.
    std::vector<double> ns = p.numbers("step_samples", {}, 1.0, 1e12, true);
    if (ns.empty()) ns.assign(fr.size(), 500.0);
    if (ns.size() == 1) ns.assign(fr.size(), ns[0]);
    o.max_step_samples = p.count("max_step_samples", 0, 0, std::uint64_t{1} << 40);
    o.steps.clear();
    for (std::size_t i = 0; i < fr.size(); ++i)
      o.steps.push_back({fr[i], static_cast<std::uint64_t>(i < ns.size() ? ns[i] : ns.back())});
    if (ns.size() != fr.size())
      p.fail_with("step_samples must have one entry per step (or one for all)");
    auto g = analysis();
    if (g && p.finish().empty())
      r = detail::take<any_rollout>(canary_rollout<any_gate>::make(o, std::move(*g)), p);
  } else if (cc.type == "immediate") {
    immediate_options o;
    o.watch_samples = p.count("watch_samples", 100, 0, std::uint64_t{1} << 40);
    auto g = analysis();
    if (g && p.finish().empty())
      r = detail::take<any_rollout>(immediate_rollout<any_gate>::make(o, std::move(*g)), p);
  } else if (cc.type == "shadow") {
    shadow_options o;
    o.min_samples = p.count("min_samples", o.min_samples, 0, std::uint64_t{1} << 40);
    o.max_samples = p.count("max_samples", o.max_samples, 0, std::uint64_t{1} << 40);
    auto g = analysis();
    if (g && p.finish().empty())
      r = detail::take<any_rollout>(shadow_rollout<any_gate>::make(o, std::move(*g)), p);
  } else {
    return fail(errc::invalid_argument, file + ":" + std::to_string(cc.type_line) +
                                            ": [rollout] unknown rollout type '" + cc.type +
                                            "' (known: canary, immediate, shadow)");
  }
  if (!r || !p.finish().empty()) return detail::config_error(p);
  return std::move(*r);
}

}  // namespace livefit::replay

#endif  // LIVEFIT_EXAMPLES_REPLAY_COMPONENTS_HPP
