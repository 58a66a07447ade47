// Helpers that write the figures of gate reasons and rollout events into a reason_text.
#ifndef LIVEFIT_DEPLOY_DETAIL_GATE_TEXT_HPP
#define LIVEFIT_DEPLOY_DETAIL_GATE_TEXT_HPP

#include <cstdint>
#include <string>
#include <string_view>

#include "livefit/core/fixed_string.hpp"

namespace livefit::detail {

/// Significant digits of figures in reasons: enough to audit a decision, short enough that
/// a combined reason fits in a reason_text.
inline constexpr int reason_digits = 4;

/// Appends a figure with `reason_digits` significant digits ("0.01234", "1.5e+04", "nan").
inline reason_text& fig(reason_text& r, double v) noexcept { return r.append(v, reason_digits); }

/// Appends a share as a percentage with `reason_digits` significant digits ("12.5%").
inline reason_text& percent(reason_text& r, double share) noexcept {
  return fig(r, 100.0 * share).append("%");
}

/// Appends `text` after a separator, unless `r` is empty.
inline reason_text& join(reason_text& r, std::string_view text) noexcept {
  if (!r.empty()) r.append("; ");
  return r.append(text);
}

/// A number as text, for the error messages of factories (off the hot path).
inline std::string number(double v) {
  fixed_string<40> s;
  s.append(v);
  return std::string(s.view());
}

}  // namespace livefit::detail

#endif  // LIVEFIT_DEPLOY_DETAIL_GATE_TEXT_HPP
