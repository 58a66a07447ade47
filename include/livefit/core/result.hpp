// result<T>: a value, or an error code with a message, for calls off the hot path.
#ifndef LIVEFIT_CORE_RESULT_HPP
#define LIVEFIT_CORE_RESULT_HPP

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "livefit/core/assert.hpp"
#include "livefit/core/status.hpp"

namespace livefit {

/// An error of the configuration or I/O path: a category and a message that names the
/// parameter (or file) at fault and, for ranges, the accepted range.
struct error {
  errc code{errc::invalid_argument};  ///< The category, for programs.
  std::string message;                ///< What went wrong, for people.
};

/// Makes an error; a small helper so call sites read `return fail(errc::..., "...")`.
[[nodiscard]] inline error fail(errc code, std::string message) {
  return error{code, std::move(message)};
}

/// The value of a construction or registry call, or the reason it failed.
///
/// livefit throws nothing of its own: factories return `result<T>`. Accessing `value()` on an
/// error (or `error()` on a value) is a precondition breach caught by `LIVEFIT_ASSERT`.
template <class T>
class [[nodiscard]] result {
 public:
  /// A success holding `value`.
  result(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  /// A failure holding `e` (see fail()).
  result(livefit::error e) : data_(std::in_place_index<1>, std::move(e)) {}  // NOLINT

  /// True when the call succeeded.
  [[nodiscard]] bool has_value() const noexcept { return data_.index() == 0; }
  /// Same as has_value().
  explicit operator bool() const noexcept { return has_value(); }

  /// The value. @pre has_value()
  [[nodiscard]] T& value() & noexcept {
    LIVEFIT_ASSERT(has_value());
    return *std::get_if<0>(&data_);
  }
  /// The value. @pre has_value()
  [[nodiscard]] const T& value() const& noexcept {
    LIVEFIT_ASSERT(has_value());
    return *std::get_if<0>(&data_);
  }
  /// The value, moved out. @pre has_value()
  [[nodiscard]] T&& value() && noexcept {
    LIVEFIT_ASSERT(has_value());
    return std::move(*std::get_if<0>(&data_));
  }
  /// Member access to the value. @pre has_value()
  T* operator->() noexcept { return &value(); }
  /// Member access to the value. @pre has_value()
  const T* operator->() const noexcept { return &value(); }
  /// The value. @pre has_value()
  T& operator*() & noexcept { return value(); }
  /// The value. @pre has_value()
  const T& operator*() const& noexcept { return value(); }

  /// The error. @pre !has_value()
  [[nodiscard]] const livefit::error& error() const noexcept {
    LIVEFIT_ASSERT(!has_value());
    return *std::get_if<1>(&data_);
  }

 private:
  std::variant<T, livefit::error> data_;
};

/// A result with no value: success, or an error.
template <>
class [[nodiscard]] result<void> {
 public:
  /// A success.
  result() = default;
  /// A failure holding `e` (see fail()).
  result(livefit::error e) : error_(std::move(e)), ok_(false) {}  // NOLINT: implicit

  /// True when the call succeeded.
  [[nodiscard]] bool has_value() const noexcept { return ok_; }
  /// Same as has_value().
  explicit operator bool() const noexcept { return ok_; }

  /// The error. @pre !has_value()
  [[nodiscard]] const livefit::error& error() const noexcept {
    LIVEFIT_ASSERT(!ok_);
    return error_;
  }

 private:
  livefit::error error_{};
  bool ok_{true};
};

}  // namespace livefit

#endif  // LIVEFIT_CORE_RESULT_HPP
