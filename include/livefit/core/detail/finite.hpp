// all_finite: the NaN/infinity check every hot-path call runs on its inputs, shared by all areas.
#ifndef LIVEFIT_CORE_DETAIL_FINITE_HPP
#define LIVEFIT_CORE_DETAIL_FINITE_HPP

#include <bit>
#include <cstdint>
#include <type_traits>

#include <Eigen/Core>

namespace livefit::detail {

/// The unsigned integer type as wide as Scalar.
template <class Scalar>
using bits_of = std::conditional_t<sizeof(Scalar) == 8, std::uint64_t, std::uint32_t>;

/// 1 when v is NaN or infinite, else 0: its exponent field (IEEE-754 binary64 or binary32)
/// is all ones. An integer test, so loops that OR it up vectorise without reassociation
/// flags, unlike a floating-point sum or Eigen's early-exit allFinite().
template <class Scalar>
[[nodiscard]] inline bits_of<Scalar> non_finite_bit(Scalar v) noexcept {
  using bits = bits_of<Scalar>;
  constexpr bits exponent =
      static_cast<bits>(sizeof(Scalar) == 8 ? 0x7FF0000000000000u : 0x7F800000u);
  return static_cast<bits>((std::bit_cast<bits>(v) & exponent) == exponent);
}

/// True when none of p[0..n) is NaN or infinite.
template <class Scalar>
[[nodiscard]] inline bool all_finite(const Scalar* p, Eigen::Index n) noexcept {
  bits_of<Scalar> bad = 0;
  for (Eigen::Index i = 0; i < n; ++i) bad |= non_finite_bit(p[i]);
  return bad == 0;
}

/// True when the Eigen vector expression `Derived` exposes contiguous storage through data().
template <class Derived>
inline constexpr bool is_contiguous_vector =
    (int{Derived::Flags} & Eigen::DirectAccessBit) != 0 &&
    int{Derived::InnerStrideAtCompileTime} == 1 && int{Derived::ColsAtCompileTime} == 1;

/// True when `Derived` keeps its coefficients in one contiguous block reachable by data():
/// plain matrices and vectors, and contiguous vector expressions.
template <class Derived>
inline constexpr bool is_contiguous_storage =
    std::is_base_of_v<Eigen::PlainObjectBase<Derived>, Derived> || is_contiguous_vector<Derived>;

/// all_finite for any Eigen expression: the branch-free loop over contiguous storage, else
/// Eigen's allFinite().
template <class Derived>
[[nodiscard]] inline bool all_finite(const Eigen::MatrixBase<Derived>& x) noexcept {
  if constexpr (is_contiguous_storage<Derived>)
    return all_finite(x.derived().data(), x.size());
  else
    return x.allFinite();
}

}  // namespace livefit::detail

#endif  // LIVEFIT_CORE_DETAIL_FINITE_HPP
