// CRC-32C (Castagnoli), the checksum of livefit checkpoint files.
#ifndef LIVEFIT_DEPLOY_DETAIL_CRC32C_HPP
#define LIVEFIT_DEPLOY_DETAIL_CRC32C_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace livefit::detail {

/// Reflected CRC-32C polynomial 0x1EDC6F41 (bit-reversed 0x82F63B78), as in iSCSI (RFC 3720,
/// appendix B.4) and ext4. Chosen over CRC-32 (zlib) for its larger minimum Hamming distance
/// at checkpoint sizes; it detects every burst error of up to 32 bits, hence every single-byte
/// corruption.
inline constexpr std::uint32_t crc32c_polynomial = 0x82F63B78u;

/// The 256-entry lookup table of the byte-at-a-time algorithm, built at compile time.
inline constexpr std::array<std::uint32_t, 256> crc32c_table = [] {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ crc32c_polynomial : c >> 1;
    t[i] = c;
  }
  return t;
}();

/// Continues a CRC-32C over `bytes`. Start with `crc32c_update(0, ...)`; feeding the bytes in
/// several pieces gives the same value as feeding them at once.
/// Off the hot path: about one byte per cycle, ample for checkpoint files.
[[nodiscard]] constexpr std::uint32_t crc32c_update(std::uint32_t crc,
                                                    std::span<const std::uint8_t> bytes) noexcept {
  crc = ~crc;
  for (std::uint8_t b : bytes) crc = (crc >> 8) ^ crc32c_table[(crc ^ b) & 0xFFu];
  return ~crc;
}

/// CRC-32C of a whole buffer. Check value: "123456789" gives 0xE3069283.
[[nodiscard]] constexpr std::uint32_t crc32c(std::span<const std::uint8_t> bytes) noexcept {
  return crc32c_update(0, bytes);
}

}  // namespace livefit::detail

#endif  // LIVEFIT_DEPLOY_DETAIL_CRC32C_HPP
