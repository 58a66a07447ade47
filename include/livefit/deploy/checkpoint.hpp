// Checkpoint files: a documented, checksummed container for any checkpointable model.
#ifndef LIVEFIT_DEPLOY_CHECKPOINT_HPP
#define LIVEFIT_DEPLOY_CHECKPOINT_HPP

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "livefit/core/concepts.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/deploy/detail/crc32c.hpp"
#include "livefit/deploy/detail/posix_file.hpp"

namespace livefit {

/// First 8 bytes of every checkpoint: "LFCK", then CR LF SUB LF, which (as in PNG) exposes
/// files mangled by text-mode transfers and stops `type` on Windows consoles.
inline constexpr std::array<std::uint8_t, 8> checkpoint_magic = {
    'L', 'F', 'C', 'K', 0x0D, 0x0A, 0x1A, 0x0A};

/// Format version this build writes, and the newest it reads.
inline constexpr std::uint32_t checkpoint_format_version = 1;

/// Bytes of the fixed header, before the type name (docs/checkpoint-format.md).
inline constexpr std::size_t checkpoint_fixed_header = 44;

/// Longest model type name a checkpoint may carry.
inline constexpr std::size_t checkpoint_max_type_length = 255;

/// Scalar type of a model's coefficients, as stored in a checkpoint header.
enum class scalar_code : std::uint8_t {
  none = 0,     ///< The model has no single scalar type.
  float32 = 1,  ///< IEEE-754 binary32.
  float64 = 2,  ///< IEEE-754 binary64.
};

/// Stable name of a scalar code.
[[nodiscard]] constexpr std::string_view to_string(scalar_code s) noexcept {
  switch (s) {
    case scalar_code::none: return "none";
    case scalar_code::float32: return "float32";
    case scalar_code::float64: return "float64";
  }
  return "unknown";
}

/// The header fields of a verified checkpoint, with a view of its payload.
struct checkpoint_view {
  std::string_view type;                 ///< Model type name, e.g. "livefit.rls".
  scalar_code scalar{scalar_code::none};  ///< Scalar type of the coefficients.
  std::uint64_t dim{0};                  ///< Model dimension, 0 when not applicable.
  std::uint64_t version{0};              ///< Registry version, 0 for a standalone file.
  std::span<const std::uint8_t> payload; ///< The model's own state bytes.
};

/// Scalar code of a model type: its `scalar_type` when it has one.
template <class Model>
[[nodiscard]] constexpr scalar_code scalar_code_of() noexcept {
  if constexpr (requires { typename Model::scalar_type; }) {
    using S = typename Model::scalar_type;
    if constexpr (std::is_same_v<S, float>) return scalar_code::float32;
    if constexpr (std::is_same_v<S, double>) return scalar_code::float64;
  }
  return scalar_code::none;
}

/// Dimension of a model instance: its `dim()` when it has one, else 0.
template <class Model>
[[nodiscard]] std::uint64_t dimension_of(const Model& m) noexcept {
  if constexpr (requires { m.dim(); })
    return static_cast<std::uint64_t>(m.dim());
  else
    return 0;
}

/// Builds a checkpoint around `payload` (layout in docs/checkpoint-format.md).
[[nodiscard]] inline std::vector<std::uint8_t> encode_checkpoint(
    std::string_view type, scalar_code scalar, std::uint64_t dim, std::uint64_t version,
    std::span<const std::uint8_t> payload) {
  LIVEFIT_ASSERT(!type.empty() && type.size() <= checkpoint_max_type_length);
  byte_writer w;
  w.bytes().reserve(checkpoint_fixed_header + type.size() + 12 + payload.size());
  w.put_bytes(checkpoint_magic);
  w.put_u32(checkpoint_format_version);
  w.put_u32(0);  // flags: none defined in format 1
  w.put_u8(static_cast<std::uint8_t>(scalar));
  for (int i = 0; i < 7; ++i) w.put_u8(0);  // reserved
  w.put_u64(dim);
  w.put_u64(version);
  w.put_u32(static_cast<std::uint32_t>(type.size()));
  w.put_bytes({reinterpret_cast<const std::uint8_t*>(type.data()), type.size()});
  w.put_u64(payload.size());
  w.put_bytes(payload);
  w.put_u32(detail::crc32c(w.bytes()));
  return std::move(w.bytes());
}

namespace detail {

[[nodiscard]] inline error truncated(std::size_t need, std::size_t have, const char* part) {
  return fail(errc::format_error, std::string("checkpoint truncated: ") + part + " needs " +
                                      std::to_string(need) + " bytes, the file has " +
                                      std::to_string(have));
}

[[nodiscard]] inline std::uint32_t le32(std::span<const std::uint8_t> b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(b[at + i]) << (8 * i);
  return v;
}

[[nodiscard]] inline std::uint64_t le64(std::span<const std::uint8_t> b, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(b[at + i]) << (8 * i);
  return v;
}

}  // namespace detail

/// Verifies a checkpoint and returns its fields. Checks, in this order (so each failure gets
/// the most telling message): magic, format version (newer ones are refused as such), the
/// lengths against the bytes present, the CRC-32C, then the header fields.
/// Never reads out of bounds and never allocates beyond the error message, whatever `bytes`.
[[nodiscard]] inline result<checkpoint_view> parse_checkpoint(
    std::span<const std::uint8_t> bytes) {
  using detail::le32;
  using detail::le64;
  const std::size_t n = bytes.size();
  const std::size_t magic_have = n < checkpoint_magic.size() ? n : checkpoint_magic.size();
  for (std::size_t i = 0; i < magic_have; ++i)
    if (bytes[i] != checkpoint_magic[i])
      return fail(errc::format_error, "not a livefit checkpoint (bad magic bytes)");
  if (n < checkpoint_fixed_header) return detail::truncated(checkpoint_fixed_header, n, "header");
  const std::uint32_t format = le32(bytes, 8);
  if (format > checkpoint_format_version)
    return fail(errc::unsupported_version,
                "checkpoint format version " + std::to_string(format) +
                    " is newer than this build reads (up to " +
                    std::to_string(checkpoint_format_version) + ")");
  if (format == 0) return fail(errc::format_error, "checkpoint format version 0 is invalid");
  const std::size_t type_len = le32(bytes, 40);
  if (type_len == 0 || type_len > checkpoint_max_type_length)
    return fail(errc::format_error, "checkpoint type name length " + std::to_string(type_len) +
                                        " is outside [1, 255]");
  const std::size_t len_at = checkpoint_fixed_header + type_len;
  if (n < len_at + 8) return detail::truncated(len_at + 8, n, "header");
  const std::uint64_t payload_len = le64(bytes, len_at);
  const std::size_t payload_at = len_at + 8;
  // Compare before adding, so a huge stored length cannot overflow the sum.
  if (n - payload_at < 4 || payload_len > n - payload_at - 4)
    return fail(errc::format_error,
                "checkpoint truncated: header announces a payload of " +
                    std::to_string(payload_len) + " bytes plus a 4-byte checksum, " +
                    std::to_string(n - payload_at) + " bytes follow the header");
  const auto total = payload_at + static_cast<std::size_t>(payload_len) + 4;
  if (n > total)
    return fail(errc::format_error, "checkpoint has " + std::to_string(n - total) +
                                        " bytes after its checksum");
  const std::uint32_t stored = le32(bytes, total - 4);
  const std::uint32_t actual = detail::crc32c(bytes.first(total - 4));
  if (stored != actual)
    return fail(errc::checksum_mismatch, "checkpoint checksum mismatch: stored " +
                                             std::to_string(stored) + ", computed " +
                                             std::to_string(actual) + " (file damaged)");
  if (le32(bytes, 12) != 0)
    return fail(errc::format_error, "checkpoint flags must be 0 in format 1");
  if (bytes[16] > static_cast<std::uint8_t>(scalar_code::float64))
    return fail(errc::format_error, "checkpoint scalar code " + std::to_string(bytes[16]) +
                                        " is not 0, 1 or 2");
  for (std::size_t i = 17; i < 24; ++i)
    if (bytes[i] != 0) return fail(errc::format_error, "checkpoint reserved bytes must be 0");
  checkpoint_view v;
  v.type = {reinterpret_cast<const char*>(bytes.data() + checkpoint_fixed_header), type_len};
  for (char c : v.type)
    if (c < 0x21 || c > 0x7E)
      return fail(errc::format_error, "checkpoint type name has a non-printable character");
  v.scalar = static_cast<scalar_code>(bytes[16]);
  v.dim = le64(bytes, 24);
  v.version = le64(bytes, 32);
  v.payload = bytes.subspan(payload_at, static_cast<std::size_t>(payload_len));
  return v;
}

/// Serialises a model into a checkpoint.
/// @param version the registry version stored in the header (0 for a standalone file).
template <checkpointable Model>
[[nodiscard]] std::vector<std::uint8_t> encode_model(const Model& m, std::uint64_t version = 0) {
  byte_writer payload;
  m.save_state(payload);
  return encode_checkpoint(Model::checkpoint_type, scalar_code_of<Model>(), dimension_of(m),
                           version, payload.bytes());
}

/// Checks that a verified checkpoint holds a model of `into`'s type, scalar and dimension,
/// then loads it. On any error `into` is left exactly as it was.
template <checkpointable Model>
[[nodiscard]] result<void> load_model(const checkpoint_view& v, Model& into) {
  const std::string_view want = Model::checkpoint_type;
  if (v.type != want)
    return fail(errc::type_mismatch, "checkpoint holds a '" + std::string(v.type) +
                                         "', expected a '" + std::string(want) + "'");
  if (v.scalar != scalar_code_of<Model>())
    return fail(errc::type_mismatch, "checkpoint scalar is " + std::string(to_string(v.scalar)) +
                                         ", expected " +
                                         std::string(to_string(scalar_code_of<Model>())));
  if (v.dim != dimension_of(into))
    return fail(errc::type_mismatch, "checkpoint dimension is " + std::to_string(v.dim) +
                                         ", expected " + std::to_string(dimension_of(into)));
  byte_reader r(v.payload);
  auto commit = [&](Model& target) -> result<void> {
    const status s = target.load_state(r);
    if (s != status::ok)
      return fail(errc::format_error,
                  "model refused the checkpoint payload: " + std::string(to_string(s)));
    if (!r.done())
      return fail(errc::format_error, "checkpoint payload has " + std::to_string(r.remaining()) +
                                          " unread bytes");
    return {};
  };
  if constexpr (std::is_copy_constructible_v<Model> && std::is_move_assignable_v<Model>) {
    // Load into a copy, so even a model whose load_state left it half-written on error (or
    // accepted a payload with unread bytes) cannot damage `into`.
    Model staged = into;
    if (auto ok = commit(staged); !ok) return ok;
    into = std::move(staged);
    return {};
  } else {
    return commit(into);  // relies on load_state's all-or-nothing contract
  }
}

/// Decodes a whole checkpoint buffer into `into` (unchanged on error).
template <checkpointable Model>
[[nodiscard]] result<void> decode_model(std::span<const std::uint8_t> bytes, Model& into) {
  auto v = parse_checkpoint(bytes);
  if (!v) return v.error();
  return load_model(*v, into);
}

/// Options of checkpoint file I/O.
struct checkpoint_options {
  /// Largest file the loaders read, in bytes; larger files are refused unread, so a damaged
  /// directory cannot exhaust memory. Default 1 GiB.
  std::uint64_t max_file_bytes{std::uint64_t{1} << 30};
};

/// Saves a model to `path` atomically: after a crash at any instant, `path` holds either the
/// previous checkpoint or this one (see detail::write_file_atomically).
template <checkpointable Model>
[[nodiscard]] result<void> save_checkpoint(const std::string& path, const Model& m,
                                           std::uint64_t version = 0) {
  const auto bytes = encode_model(m, version);
  return detail::write_file_atomically(path, bytes);
}

/// Loads a checkpoint file into `into`; verifies everything first and leaves `into`
/// unchanged on any error (I/O, truncation, corruption, another type, a newer format).
template <checkpointable Model>
[[nodiscard]] result<void> load_checkpoint(const std::string& path, Model& into,
                                           const checkpoint_options& opt = {}) {
  auto bytes = detail::read_whole_file(path, opt.max_file_bytes);
  if (!bytes) return bytes.error();
  auto v = parse_checkpoint(*bytes);
  if (!v) return fail(v.error().code, "'" + path + "': " + v.error().message);
  auto loaded = load_model(*v, into);
  if (!loaded) return fail(loaded.error().code, "'" + path + "': " + loaded.error().message);
  return {};
}

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_CHECKPOINT_HPP
