// Byte streams for model state: a defined little-endian layout, bounds-checked reads.
#ifndef LIVEFIT_CORE_SERIALIZE_HPP
#define LIVEFIT_CORE_SERIALIZE_HPP

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

namespace livefit {

/// Appends values to a byte buffer in little-endian order, whatever the host's order, so a
/// checkpoint written on one platform reads the same on every other. Off the hot path (it
/// grows a std::vector).
class byte_writer {
 public:
  /// Writes one byte.
  void put_u8(std::uint8_t v) { bytes_.push_back(v); }
  /// Writes an unsigned 32-bit integer, little-endian.
  void put_u32(std::uint32_t v) { put_le(v); }
  /// Writes an unsigned 64-bit integer, little-endian.
  void put_u64(std::uint64_t v) { put_le(v); }
  /// Writes a signed 64-bit integer as its two's-complement bits, little-endian.
  void put_i64(std::int64_t v) { put_le(static_cast<std::uint64_t>(v)); }
  /// Writes a float as its IEEE-754 bits (NaN payloads and signed zeros kept).
  void put_f32(float v) { put_le(std::bit_cast<std::uint32_t>(v)); }
  /// Writes a double as its IEEE-754 bits (NaN payloads and signed zeros kept).
  void put_f64(double v) { put_le(std::bit_cast<std::uint64_t>(v)); }

  /// Writes a float or double with its own width.
  template <class Scalar>
  void put_scalar(Scalar v) {
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                  "livefit checkpoints store float or double scalars only");
    if constexpr (std::is_same_v<Scalar, float>) put_f32(v); else put_f64(v);
  }

  /// Writes a length-prefixed string (u32 length, then the bytes).
  void put_string(std::string_view s) {
    put_u32(static_cast<std::uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }

  /// Writes rows, cols (u64 each), then the coefficients in column-major order.
  template <class Derived>
  void put_matrix(const Eigen::MatrixBase<Derived>& m) {
    put_u64(static_cast<std::uint64_t>(m.rows()));
    put_u64(static_cast<std::uint64_t>(m.cols()));
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      for (Eigen::Index i = 0; i < m.rows(); ++i) put_scalar(m(i, j));
  }

  /// Appends raw bytes as they are (no length prefix).
  void put_bytes(std::span<const std::uint8_t> b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
  }

  /// The bytes written so far.
  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }
  /// The buffer itself, e.g. to clear it for reuse or move it out.
  [[nodiscard]] std::vector<std::uint8_t>& bytes() noexcept { return bytes_; }

 private:
  template <class U>
  void put_le(U v) {
    for (std::size_t i = 0; i < sizeof(U); ++i)
      bytes_.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xFFu));
  }

  std::vector<std::uint8_t> bytes_;
};

/// Reads what byte_writer wrote. Every read checks the remaining length first; after the
/// first failure `ok()` is false and every later read fails too, so a loader may read a
/// whole record and check once. Reads never allocate.
class byte_reader {
 public:
  /// Reads from `bytes`, which must outlive the reader (it is not copied).
  explicit byte_reader(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}

  /// Reads one byte; false (and `v` untouched) when the buffer is exhausted.
  bool get_u8(std::uint8_t& v) noexcept { return get_le(v); }
  /// Reads a little-endian unsigned 32-bit integer; false when too few bytes remain.
  bool get_u32(std::uint32_t& v) noexcept { return get_le(v); }
  /// Reads a little-endian unsigned 64-bit integer; false when too few bytes remain.
  bool get_u64(std::uint64_t& v) noexcept { return get_le(v); }
  /// Reads what put_i64 wrote; false when too few bytes remain.
  bool get_i64(std::int64_t& v) noexcept {
    std::uint64_t u = 0;
    if (!get_le(u)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  /// Reads what put_f32 wrote, bit for bit; false when too few bytes remain.
  bool get_f32(float& v) noexcept {
    std::uint32_t u = 0;
    if (!get_le(u)) return false;
    v = std::bit_cast<float>(u);
    return true;
  }
  /// Reads what put_f64 wrote, bit for bit; false when too few bytes remain.
  bool get_f64(double& v) noexcept {
    std::uint64_t u = 0;
    if (!get_le(u)) return false;
    v = std::bit_cast<double>(u);
    return true;
  }
  /// Reads what put_scalar wrote for the same Scalar (float or double).
  template <class Scalar>
  bool get_scalar(Scalar& v) noexcept {
    if constexpr (std::is_same_v<Scalar, float>) return get_f32(v); else return get_f64(v);
  }

  /// Reads a length-prefixed string as a view into the buffer.
  bool get_string(std::string_view& s) noexcept {
    std::uint32_t n = 0;
    if (!get_u32(n) || remaining() < n) return fail();
    s = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return true;
  }

  /// Reads a matrix written by put_matrix into `m`, which must already have the stored
  /// shape (so a reader never resizes: shape mismatches are reported, not absorbed).
  template <class Derived>
  bool get_matrix(Eigen::MatrixBase<Derived>& m) noexcept {
    std::uint64_t rows = 0, cols = 0;
    if (!get_u64(rows) || !get_u64(cols)) return false;
    if (rows != static_cast<std::uint64_t>(m.rows()) ||
        cols != static_cast<std::uint64_t>(m.cols()))
      return fail();
    using Scalar = typename Derived::Scalar;
    if (remaining() < rows * cols * sizeof(Scalar)) return fail();
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      for (Eigen::Index i = 0; i < m.rows(); ++i) {
        Scalar v{};
        get_scalar(v);
        m(i, j) = v;
      }
    return ok_;
  }

  /// False once any read has failed.
  [[nodiscard]] bool ok() const noexcept { return ok_; }
  /// Bytes not read yet.
  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  /// Bytes read so far (the offset of the next read).
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }
  /// True when every byte was consumed and no read failed.
  [[nodiscard]] bool done() const noexcept { return ok_ && pos_ == bytes_.size(); }

 private:
  bool fail() noexcept {
    ok_ = false;
    return false;
  }
  template <class U>
  bool get_le(U& v) noexcept {
    if (!ok_ || remaining() < sizeof(U)) return fail();
    U out = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i)
      out = static_cast<U>(out | (static_cast<U>(bytes_[pos_ + i]) << (8 * i)));
    pos_ += sizeof(U);
    v = out;
    return true;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_{0};
  bool ok_{true};
};

}  // namespace livefit

#endif  // LIVEFIT_CORE_SERIALIZE_HPP
