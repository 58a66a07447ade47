// Helpers shared by the stats components: fused multiply-add, range messages, checkpoint
// record headers.
#ifndef LIVEFIT_STATS_DETAIL_COMMON_HPP
#define LIVEFIT_STATS_DETAIL_COMMON_HPP

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "livefit/core/fixed_string.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"

namespace livefit::detail {

/// a*b + c with one rounding when the target has a hardware FMA, else a multiply and an add.
/// std::fma without hardware support is a slow library call, so it is never used there.
template <class Scalar>
[[nodiscard]] inline Scalar mul_add(Scalar a, Scalar b, Scalar c) noexcept {
#if defined(__FMA__) || defined(__AVX2__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

/// sqrt of an optional variance: a standard deviation, or nullopt when the variance is.
template <class Scalar>
[[nodiscard]] inline std::optional<Scalar> sqrt_of(std::optional<Scalar> v) noexcept {
  if (!v) return std::nullopt;
  return std::sqrt(*v);
}

/// The largest |x - reference| the streaming variances admit: 2^((max_exponent - 70) / 2),
/// i.e. 2^477 in double and 2^29 in float. Below it, sums of up to 2^64 squared deviations
/// (each at most (4 limit)^2, shifts included) stay finite, so the check is on the input,
/// off the update's dependency chain, instead of on the result.
// LIMITATION: in float the bound is 2^29 (5.4e8): a float running_stats or rolling_window
// refuses values that far from its reference value, though their squares would fit.
template <class Scalar>
[[nodiscard]] constexpr Scalar deviation_limit() noexcept {
  Scalar v = 1;
  for (int i = 0; i < (std::numeric_limits<Scalar>::max_exponent - 70) / 2; ++i) v *= 2;
  return v;
}

/// The error `<component>: <param> must be <range>, got <value>`.
[[nodiscard]] inline error range_error(std::string_view component, std::string_view param,
                                       std::string_view range, double got) {
  fixed_string<32> value;
  value.append(got);
  std::string msg;
  msg.append(component).append(": ").append(param).append(" must be ").append(range);
  msg.append(", got ").append(value.view());
  return fail(errc::invalid_argument, std::move(msg));
}

/// The error `<component>: <what>` for a configuration that is not a single range breach.
[[nodiscard]] inline error config_error(std::string_view component, std::string_view what) {
  std::string msg;
  msg.append(component).append(": ").append(what);
  return fail(errc::invalid_argument, std::move(msg));
}

/// Every stats record starts with its layout version and the scalar width in bytes, so a
/// float state is never read into a double component (or an old layout into a new one).
template <class Scalar>
inline void put_record_header(byte_writer& w, std::uint8_t layout) {
  w.put_u8(layout);
  w.put_u8(static_cast<std::uint8_t>(sizeof(Scalar)));
}

/// Reads and checks a header written by put_record_header.
template <class Scalar>
[[nodiscard]] inline bool get_record_header(byte_reader& r, std::uint8_t layout) noexcept {
  std::uint8_t got_layout = 0;
  std::uint8_t width = 0;
  if (!r.get_u8(got_layout) || !r.get_u8(width)) return false;
  return got_layout == layout && width == sizeof(Scalar);
}

/// Reads a bool stored as one byte; any byte other than 0 or 1 is a damaged record.
[[nodiscard]] inline bool get_bool(byte_reader& r, bool& out) noexcept {
  std::uint8_t b = 0;
  if (!r.get_u8(b) || b > 1) return false;
  out = b == 1;
  return true;
}

}  // namespace livefit::detail

#endif  // LIVEFIT_STATS_DETAIL_COMMON_HPP
