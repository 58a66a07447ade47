// Status codes of the hot path and errors of the configuration path.
#ifndef LIVEFIT_CORE_STATUS_HPP
#define LIVEFIT_CORE_STATUS_HPP

#include <cstdint>
#include <string_view>

namespace livefit {

/// Outcome of a hot-path call (update, observe, score). Every code but `ok` means the call
/// changed nothing: the component's state is bit-identical to what it was before the call.
enum class status : std::uint8_t {
  ok = 0,             ///< The call took effect.
  non_finite_input,   ///< An input value was NaN or infinite.
  dimension_mismatch, ///< A dynamic-size input did not have the component's dimension.
  numerical_failure,  ///< The update would break an invariant (e.g. lose positive definiteness).
  out_of_order,       ///< A timestamp went backwards.
  not_ready,          ///< The component has not seen enough data to answer.
  invalid_argument,   ///< An argument was outside its documented domain.
};

/// Short, stable English name of a status code, e.g. "non_finite_input".
[[nodiscard]] constexpr std::string_view to_string(status s) noexcept {
  switch (s) {
    case status::ok: return "ok";
    case status::non_finite_input: return "non_finite_input";
    case status::dimension_mismatch: return "dimension_mismatch";
    case status::numerical_failure: return "numerical_failure";
    case status::out_of_order: return "out_of_order";
    case status::not_ready: return "not_ready";
    case status::invalid_argument: return "invalid_argument";
  }
  return "unknown";
}

/// Error categories of the configuration and I/O paths (construction, registry, checkpoints).
enum class errc : std::uint8_t {
  invalid_argument = 1, ///< A parameter outside its range; the message names it and the range.
  io_error,             ///< The operating system refused a file operation.
  format_error,         ///< Bytes that are not a livefit checkpoint, or are truncated.
  checksum_mismatch,    ///< A checkpoint whose payload does not match its checksum.
  unsupported_version,  ///< A checkpoint written by a newer format version.
  type_mismatch,        ///< A checkpoint of another model type, scalar or dimension.
  not_found,            ///< No such version, stage or name.
  illegal_transition,   ///< A stage change the registry's state machine forbids.
};

/// Short, stable English name of an error category.
[[nodiscard]] constexpr std::string_view to_string(errc e) noexcept {
  switch (e) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::io_error: return "io_error";
    case errc::format_error: return "format_error";
    case errc::checksum_mismatch: return "checksum_mismatch";
    case errc::unsupported_version: return "unsupported_version";
    case errc::type_mismatch: return "type_mismatch";
    case errc::not_found: return "not_found";
    case errc::illegal_transition: return "illegal_transition";
  }
  return "unknown";
}

}  // namespace livefit

#endif  // LIVEFIT_CORE_STATUS_HPP
