// Kernels of the covariance updates: the exactly symmetric rank-1 downdate and a small
// in-place Cholesky factorisation.
#ifndef LIVEFIT_MODELS_DETAIL_KERNELS_HPP
#define LIVEFIT_MODELS_DETAIL_KERNELS_HPP

#include <cmath>
#include <type_traits>

#include <Eigen/Core>

namespace livefit::detail {

/// p - a * b, rounded the same way for (a, b) and (b, a) in every code path. With hardware
/// FMA it is one fused operation (the product is exact, so operand order cannot matter);
/// without it, the product is rounded on its own and no contraction can occur. Writing it
/// out avoids the compiler contracting a vectorised loop body but not its scalar tail,
/// which would break the bit-exact symmetry of P.
template <class Scalar>
[[nodiscard]] inline Scalar fnms(Scalar p, Scalar a, Scalar b) noexcept {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__FP_FAST_FMA)
  return std::fma(-a, b, p);
#else
  return p - a * b;
#endif
}

/// trace(P - u u') computed entry by entry as the downdate will compute the diagonal, or -1
/// when one of those diagonal entries would not be > 0 (a necessary condition of positive
/// definiteness; such an update is refused).
template <class Matrix, class Vector>
[[nodiscard]] typename Matrix::Scalar downdated_trace(const Matrix& P, const Vector& u) noexcept {
  using scalar = typename Matrix::Scalar;
  scalar sum(0);
  bool positive = true;
  for (Eigen::Index i = 0; i < P.rows(); ++i) {
    const scalar pii = fnms(P(i, i), u(i), u(i));
    positive = positive && pii > scalar(0);
    sum += pii;
  }
  return positive ? sum : scalar(-1);
}

/// P <- f (P - u u'), column by column over the whole (column-major) matrix. Entry (i, j) is
/// fnms(P_ij, u_i, u_j) * f and entry (j, i) is fnms(P_ji, u_j, u_i) * f: equal operands
/// give equal results, so an exactly symmetric P stays exactly symmetric.
/// FLOPs: 3 d^2 (one fused multiply-add and one multiply per entry).
template <class Matrix, class Vector>
inline void symmetric_rank1_downdate(Matrix& P, const Vector& u,
                                     typename Matrix::Scalar f) noexcept {
  using scalar = typename Matrix::Scalar;
  const Eigen::Index d = P.rows();
  scalar* __restrict p = P.data();
  const scalar* __restrict v = u.data();
  for (Eigen::Index j = 0; j < d; ++j) {
    const scalar uj = v[j];
    scalar* __restrict col = p + j * d;
    for (Eigen::Index i = 0; i < d; ++i) col[i] = fnms(col[i], v[i], uj) * f;
  }
}

/// In-place Cholesky factorisation S = L L' of a small symmetric matrix, reading and writing
/// the lower triangle only (the strict upper triangle is left as it was). No allocation.
/// @return false when a pivot is not > 0 or not finite (S not numerically positive definite).
template <class Block>
[[nodiscard]] bool cholesky_in_place(Block&& S) noexcept {
  using scalar = typename std::decay_t<Block>::Scalar;
  const Eigen::Index k = S.rows();
  for (Eigen::Index j = 0; j < k; ++j) {
    scalar djj = S(j, j);
    for (Eigen::Index c = 0; c < j; ++c) djj -= S(j, c) * S(j, c);
    if (!(djj > scalar(0)) || !std::isfinite(djj)) return false;
    const scalar ljj = std::sqrt(djj);
    S(j, j) = ljj;
    for (Eigen::Index i = j + 1; i < k; ++i) {
      scalar v = S(i, j);
      for (Eigen::Index c = 0; c < j; ++c) v -= S(i, c) * S(j, c);
      S(i, j) = v / ljj;
    }
  }
  return true;
}

}  // namespace livefit::detail

#endif  // LIVEFIT_MODELS_DETAIL_KERNELS_HPP
