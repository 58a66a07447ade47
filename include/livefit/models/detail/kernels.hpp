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

/// Eigen functor p - a * a, fused like fnms: the diagonal of P - u u' exactly as the
/// downdate kernel computes it.
template <class Scalar>
struct fnms_square_op {
  Scalar operator()(const Scalar& p, const Scalar& a) const noexcept { return fnms(p, a, a); }
  template <class Packet>
  Packet packetOp(const Packet& p, const Packet& a) const noexcept {
    using namespace Eigen::internal;
    return pmadd(pnegate(a), a, p);
  }
};

/// trace(P - u u'), its diagonal rounded exactly as the downdate rounds it, or -1 when a
/// diagonal entry would not stay > 0 (refused: a necessary condition of positive
/// definiteness). O(d), off the dependency chain (it only decides a predictable branch).
/// The caller scales P by f = min(1/lambda, bound / this trace) in the same pass as the
/// downdate, so the committed P never exceeds the trace bound, not even for a moment.
template <class Matrix, class Vector>
[[nodiscard]] typename Matrix::Scalar downdated_trace(const Matrix& P, const Vector& u) noexcept {
  using scalar = typename Matrix::Scalar;
  const auto dg = P.diagonal().binaryExpr(u, fnms_square_op<scalar>{});
  if (!(dg.array() > scalar(0)).all()) return scalar(-1);
  return dg.sum();
}

/// Eigen functor p - a * b for a fixed b, fused exactly like fnms in both its scalar and its
/// packet path (Eigen's pmadd is one FMA instruction whenever FMA is enabled, and plain
/// multiply-then-add otherwise, as fnms is), so vectorised bodies and scalar tails agree.
template <class Scalar>
struct fnms_op {
  Scalar b;
  Scalar operator()(const Scalar& p, const Scalar& a) const noexcept { return fnms(p, a, b); }
  template <class Packet>
  Packet packetOp(const Packet& p, const Packet& a) const noexcept {
    using namespace Eigen::internal;
    return pmadd(pnegate(a), pset1<Packet>(b), p);
  }
};

/// P <- f (P - u u'), column by column over the whole matrix. Entry (i, j) is
/// fnms(P_ij, u_i, u_j) * f and entry (j, i) is fnms(P_ji, u_j, u_i) * f: the product is
/// exact inside the fused operation (or rounded alike without FMA), so an exactly symmetric P
/// stays exactly symmetric. FLOPs: 3 d^2 (one fused multiply-add and one multiply per entry).
template <class Matrix, class Vector>
inline void symmetric_rank1_downdate(Matrix& P, const Vector& u,
                                     typename Matrix::Scalar f) noexcept {
  using scalar = typename Matrix::Scalar;
  for (Eigen::Index j = 0; j < P.cols(); ++j)
    P.col(j) = P.col(j).binaryExpr(u, fnms_op<scalar>{u(j)}) * f;
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

namespace Eigen::internal {
/// Lets Eigen vectorise livefit's fused p - a * b functor.
template <class Scalar>
struct functor_traits<livefit::detail::fnms_op<Scalar>> {
  enum { Cost = NumTraits<Scalar>::MulCost + NumTraits<Scalar>::AddCost, PacketAccess = true };
};
/// Lets Eigen vectorise livefit's fused p - a * a functor.
template <class Scalar>
struct functor_traits<livefit::detail::fnms_square_op<Scalar>> {
  enum { Cost = NumTraits<Scalar>::MulCost + NumTraits<Scalar>::AddCost, PacketAccess = true };
};
}  // namespace Eigen::internal

#endif  // LIVEFIT_MODELS_DETAIL_KERNELS_HPP
