// Input checks and small numerical helpers shared by the models.
#ifndef LIVEFIT_MODELS_DETAIL_CHECKS_HPP
#define LIVEFIT_MODELS_DETAIL_CHECKS_HPP

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "livefit/core/detail/finite.hpp"
#include "livefit/core/status.hpp"

namespace livefit::detail {

/// The checks every hot-path call runs first: the dimension (only dynamic sizes can differ)
/// and finiteness of the features and the target.
template <class Derived, class Scalar>
[[nodiscard]] status check_sample(const Eigen::MatrixBase<Derived>& x, Scalar y,
                                  Eigen::Index dim) noexcept {
  if (x.size() != dim) return status::dimension_mismatch;
  if (!std::isfinite(y) || !all_finite(x)) return status::non_finite_input;
  return status::ok;
}

/// Short text of a parameter value for error messages (off the hot path), e.g. "1.5", "1e-09".
[[nodiscard]] inline std::string format_param(double v) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0U);
}

/// True when v > 0 converts to a normal (not subnormal, not zero, finite) value of Scalar.
/// Then 1 / v is finite in Scalar too (1 / min_normal < max for IEEE float and double), so a
/// parameter that a model divides by is usable. make() refuses anything else.
template <class Scalar>
[[nodiscard]] bool is_normal_positive(double v) noexcept {
  const auto s = static_cast<Scalar>(v);
  return v > 0.0 && std::isnormal(s) && std::isfinite(Scalar(1) / s);
}

/// The range text "[min_normal, max]" of the scalar type for make()'s messages.
template <class Scalar>
[[nodiscard]] std::string normal_range() {
  // Built with append, not "[" + ...: GCC 12 at -O3 reports a false -Wrestrict on the
  // latter.
  std::string r(1, '[');
  r.append(format_param(static_cast<double>(std::numeric_limits<Scalar>::min())));
  r.append(", ");
  r.append(format_param(static_cast<double>(std::numeric_limits<Scalar>::max())));
  r.push_back(']');
  return r;
}

/// Checks the dimension argument of a factory (fixed sizes must match D, dynamic ones be
/// > 0); returns the error message naming the component, or an empty string when valid.
template <int D>
[[nodiscard]] std::string dim_error(std::string_view component, Eigen::Index dim) {
  if (D == Eigen::Dynamic ? dim > 0 : dim == D) return {};
  return std::string(component) + ": dim must be " +
         (D == Eigen::Dynamic ? std::string("> 0") : std::to_string(D)) + ", got " +
         std::to_string(dim);
}

}  // namespace livefit::detail

#endif  // LIVEFIT_MODELS_DETAIL_CHECKS_HPP
