// Small helpers shared by the eval components' save_state / load_state.
#ifndef LIVEFIT_EVAL_DETAIL_STATE_IO_HPP
#define LIVEFIT_EVAL_DETAIL_STATE_IO_HPP

#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "livefit/core/concepts.hpp"
#include "livefit/core/serialize.hpp"

namespace livefit::detail {

/// Writes a drift_state as one byte.
inline void put_drift_state(byte_writer& w, drift_state s) {
  w.put_u8(static_cast<std::uint8_t>(s));
}

/// Reads a drift_state; false for a byte that names none.
inline bool get_drift_state(byte_reader& r, drift_state& s) noexcept {
  std::uint8_t v = 0;
  if (!r.get_u8(v) || v > static_cast<std::uint8_t>(drift_state::drift)) return false;
  s = static_cast<drift_state>(v);
  return true;
}

/// True when every value is finite (checkpoint validation).
inline bool all_finite(std::initializer_list<double> values) noexcept {
  for (double v : values)
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace livefit::detail

#endif  // LIVEFIT_EVAL_DETAIL_STATE_IO_HPP
