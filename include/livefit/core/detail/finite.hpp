// all_finite: the NaN/infinity check every hot-path call runs on its inputs, shared by all areas.
#ifndef LIVEFIT_CORE_DETAIL_FINITE_HPP
#define LIVEFIT_CORE_DETAIL_FINITE_HPP

#include <bit>
#include <cstddef>
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

/// True when none of p[0..n) is NaN or infinite. Per value, (bits & exponent) + the lowest
/// exponent bit carries into the sign bit exactly when the exponent field is all ones, so the
/// test is an OR of those sums: and, add and or on integers, in U independent accumulators
/// that compilers vectorise also at -O2 (GCC's cheap cost model at -O2 leaves a plain loop
/// of unknown length scalar: one value per cycle, measured 9% of a block update of float
/// d = 16 in the portable build).
template <class Scalar>
[[nodiscard]] inline bool all_finite(const Scalar* p, Eigen::Index n) noexcept {
  using bits = bits_of<Scalar>;
  constexpr bits exponent =
      static_cast<bits>(sizeof(Scalar) == 8 ? 0x7FF0000000000000u : 0x7F800000u);
  constexpr bits low = exponent & (~exponent + 1);  // the lowest bit of the exponent field
  constexpr std::size_t U = 32 / sizeof(Scalar);
  constexpr Eigen::Index u = static_cast<Eigen::Index>(U);
  bits acc[U] = {};
  const Eigen::Index whole = n / u * u;
  for (Eigen::Index i = 0; i < whole; i += u)
    for (std::size_t j = 0; j < U; ++j)
      acc[j] |= (std::bit_cast<bits>(p[i + static_cast<Eigen::Index>(j)]) & exponent) + low;
  bits bad = 0;
  for (std::size_t j = 0; j < U; ++j) bad |= acc[j];
  for (Eigen::Index i = whole; i < n; ++i) bad |= (std::bit_cast<bits>(p[i]) & exponent) + low;
  return (bad >> (8 * sizeof(Scalar) - 1)) == 0;
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
