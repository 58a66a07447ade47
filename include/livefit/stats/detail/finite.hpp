// All-finite checks over many values, fast enough to run before every vector update.
#ifndef LIVEFIT_STATS_DETAIL_FINITE_HPP
#define LIVEFIT_STATS_DETAIL_FINITE_HPP

#include <bit>
#include <cstdint>
#include <type_traits>

#include <Eigen/Core>

namespace livefit::detail {

/// True when none of p[0..n) is NaN or infinite.
///
/// Tests the exponent bits (all ones only for NaN and infinity) with an integer OR-reduction:
/// unlike a floating-point sum or Eigen's early-exit allFinite(), the compiler vectorises it
/// without reassociation flags, so the check costs a fraction of the update it guards.
template <class Scalar>
[[nodiscard]] inline bool all_finite(const Scalar* p, Eigen::Index n) noexcept {
  using bits = std::conditional_t<sizeof(Scalar) == 8, std::uint64_t, std::uint32_t>;
  // The exponent field of an IEEE-754 binary64 or binary32 value.
  constexpr bits exponent =
      static_cast<bits>(sizeof(Scalar) == 8 ? 0x7FF0000000000000u : 0x7F800000u);
  bits bad = 0;
  for (Eigen::Index i = 0; i < n; ++i)
    bad |= static_cast<bits>((std::bit_cast<bits>(p[i]) & exponent) == exponent);
  return bad == 0;
}

/// all_finite for any Eigen vector expression: the fast loop over contiguous storage, else
/// Eigen's allFinite().
template <class Derived>
[[nodiscard]] inline bool all_finite(const Eigen::MatrixBase<Derived>& x) noexcept {
  constexpr bool contiguous = (int{Derived::Flags} & Eigen::DirectAccessBit) != 0 &&
                              int{Derived::InnerStrideAtCompileTime} == 1 &&
                              int{Derived::ColsAtCompileTime} == 1;
  if constexpr (contiguous)
    return all_finite(x.derived().data(), x.size());
  else
    return x.allFinite();
}

}  // namespace livefit::detail

#endif  // LIVEFIT_STATS_DETAIL_FINITE_HPP
