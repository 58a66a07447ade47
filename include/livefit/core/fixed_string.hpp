// fixed_string<N>: a bounded, allocation-free text buffer for reasons and event messages.
#ifndef LIVEFIT_CORE_FIXED_STRING_HPP
#define LIVEFIT_CORE_FIXED_STRING_HPP

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace livefit {

/// A string of at most `N - 1` characters stored inline. Appending past the capacity
/// truncates (the text stays valid and NUL-terminated). Every member is noexcept and none
/// allocates, so decisions and events can carry human-readable reasons on the hot path.
template <std::size_t N>
class fixed_string {
  static_assert(N >= 2, "fixed_string needs room for one character and the terminator");

 public:
  constexpr fixed_string() noexcept = default;
  /// The text `s`, truncated to the capacity.
  constexpr fixed_string(std::string_view s) noexcept { append(s); }  // NOLINT: implicit

  /// Appends text, truncating at the capacity.
  constexpr fixed_string& append(std::string_view s) noexcept {
    for (char c : s) {
      if (size_ + 1 >= N) break;
      data_[size_++] = c;
    }
    data_[size_] = '\0';
    return *this;
  }

  /// Appends a number in the shortest form that round-trips (`std::to_chars`), or "nan"/"inf".
  fixed_string& append(double v) noexcept {
    std::array<char, 32> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    if (ec != std::errc{}) return append("?");
    return append(std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data())));
  }

  /// Appends a number with `digits` significant digits (general format).
  fixed_string& append(double v, int digits) noexcept {
    std::array<char, 40> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v,
                                   std::chars_format::general, digits);
    if (ec != std::errc{}) return append("?");
    return append(std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data())));
  }

  /// Appends an unsigned integer in decimal.
  fixed_string& append(std::uint64_t v) noexcept {
    std::array<char, 24> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    if (ec != std::errc{}) return append("?");
    return append(std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data())));
  }

  /// Appends a signed integer in decimal.
  fixed_string& append(std::int64_t v) noexcept {
    std::array<char, 24> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    if (ec != std::errc{}) return append("?");
    return append(std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data())));
  }

  /// Empties the text.
  constexpr void clear() noexcept {
    size_ = 0;
    data_[0] = '\0';
  }
  /// The text, valid while this object lives and is not modified.
  [[nodiscard]] constexpr std::string_view view() const noexcept { return {data_.data(), size_}; }
  /// The text, NUL-terminated.
  [[nodiscard]] constexpr const char* c_str() const noexcept { return data_.data(); }
  /// Number of characters.
  [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
  /// True when there is no text.
  [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
  /// The most characters it holds, N - 1 (one byte is the terminator).
  [[nodiscard]] static constexpr std::size_t capacity() noexcept { return N - 1; }
  /// The text as a view (see view()).
  constexpr operator std::string_view() const noexcept { return view(); }  // NOLINT: implicit

  /// True when the text equals `b`.
  friend constexpr bool operator==(const fixed_string& a, std::string_view b) noexcept {
    return a.view() == b;
  }

 private:
  std::array<char, N> data_{};
  std::size_t size_{0};
};

/// The text type of gate reasons and event messages.
using reason_text = fixed_string<384>;

}  // namespace livefit

#endif  // LIVEFIT_CORE_FIXED_STRING_HPP
