// Kernels of the RLS covariance updates on lower-block storage (Q x, the rank-1 and rank-k
// downdates, the check of the new diagonal), written on Eigen's packet primitives for every
// packet width, and a small in-place Cholesky factorisation.
#ifndef LIVEFIT_MODELS_DETAIL_KERNELS_HPP
#define LIVEFIT_MODELS_DETAIL_KERNELS_HPP

#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

namespace livefit::detail {

/// Whether a * b + c is one fused operation in every code path: with hardware FMA, and
/// whenever Eigen's pmadd is fused (EIGEN_VECTORIZE_FMA, also where the compiler announces
/// no FMA macro, as MSVC with /arch:AVX2 does). The scalar paths below follow it, so they
/// round exactly as the packet paths do.
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__FP_FAST_FMA) || \
    defined(EIGEN_VECTORIZE_FMA)
inline constexpr bool fused_madd = true;
#else
inline constexpr bool fused_madd = false;
#endif

/// a * b + c for scalars: one fused operation when fused_madd, else the product rounded on
/// its own (no contraction can occur then). Writing it out avoids the compiler contracting a
/// vectorised loop body but not its scalar tail, which would break the bit-exact symmetry
/// of P.
template <class Scalar>
[[nodiscard]] inline Scalar scalar_madd(Scalar a, Scalar b, Scalar c) noexcept {
  if constexpr (fused_madd)
    return std::fma(a, b, c);
  else
    return a * b + c;
}

/// p - a * b, rounded the same way for (a, b) and (b, a) in every code path (the product is
/// exact inside the fused operation, or rounded alike without it).
template <class Scalar>
[[nodiscard]] inline Scalar fnms(Scalar p, Scalar a, Scalar b) noexcept {
  return scalar_madd(-a, b, p);
}

// Packet types are template arguments below; GCC warns that their alignment attributes are
// not part of the type there, which is harmless (loads and stores are unaligned ones).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
// GCC 12 reports the deliberately undefined upper half in AVX-512 lane extraction
// (_mm256_undefined_pd inside _mm512_extractf64x4_pd, used by Eigen's predux) as used
// uninitialized once inlined here; the value is never read.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/// The packet types of Eigen for Scalar, widest first (each the half of the one before; a
/// step repeats the last when there is no narrower packet, and all are Scalar itself when
/// Eigen does not vectorise).
template <class Scalar>
struct packet_ladder {
  using wide = typename Eigen::internal::packet_traits<Scalar>::type;
  using half = typename Eigen::internal::unpacket_traits<wide>::half;
  using quarter = typename Eigen::internal::unpacket_traits<half>::half;
};

/// Number of scalars in a packet.
template <class Packet>
inline constexpr Eigen::Index lanes = Eigen::internal::unpacket_traits<Packet>::size;

/// Lanes of rung `kind` of the ladder: 0 wide, 1 half, 2 quarter, 3 a scalar.
template <class Scalar>
[[nodiscard]] constexpr Eigen::Index ladder_lanes(int kind) noexcept {
  using L = packet_ladder<Scalar>;
  return kind == 0   ? lanes<typename L::wide>
         : kind == 1 ? lanes<typename L::half>
         : kind == 2 ? lanes<typename L::quarter>
                     : 1;
}

/// The rung used for dimension d: the widest packet of at most min(d, 8) lanes (a scalar
/// when none). Eight lanes at most: the lane sums of a block column (transposed_sums) cost
/// about n log2 n shuffles and n accumulators must stay in registers, and with 16 float
/// lanes of AVX-512 that made the update twice as slow as with 8 (same FMA rate per cycle on
/// machines that split 512-bit operations; measured with benchmarks/models_bench.cpp).
template <class Scalar>
[[nodiscard]] constexpr int ladder_kind(Eigen::Index d) noexcept {
  for (int k = 0; k < 3; ++k)
    if (ladder_lanes<Scalar>(k) > 1 && ladder_lanes<Scalar>(k) <= d &&
        ladder_lanes<Scalar>(k) <= 8)
      return k;
  return 3;
}

/// d rounded up to a multiple of the lanes of rung `kind`: the padded dimension of the
/// covariance storage (zero rows and columns beyond d).
template <class Scalar>
[[nodiscard]] constexpr Eigen::Index padded_dim(Eigen::Index d, int kind) noexcept {
  const Eigen::Index n = ladder_lanes<Scalar>(kind);
  return (d + n - 1) / n * n;
}

/// The packet type of rung `kind`, chosen at compile time.
template <class Scalar, int kind>
using rung_packet = std::conditional_t<
    kind == 0, typename packet_ladder<Scalar>::wide,
    std::conditional_t<kind == 1, typename packet_ladder<Scalar>::half,
                       std::conditional_t<kind == 2, typename packet_ladder<Scalar>::quarter,
                                          Scalar>>>;

/// Calls f(std::type_identity<Packet>{}) with the packet type of rung FixedKind when it is
/// >= 0 (fixed sizes, chosen at compile time), else of the run-time rung `kind`.
template <int FixedKind, class Scalar, class F>
decltype(auto) on_rung(int kind, F&& f) noexcept {
  if constexpr (FixedKind >= 0) {
    return f(std::type_identity<rung_packet<Scalar, FixedKind>>{});
  } else {
    switch (kind) {
      case 0:
        return f(std::type_identity<rung_packet<Scalar, 0>>{});
      case 1:
        return f(std::type_identity<rung_packet<Scalar, 1>>{});
      case 2:
        return f(std::type_identity<rung_packet<Scalar, 2>>{});
      default:
        return f(std::type_identity<Scalar>{});
    }
  }
}

/// a * b + c, fused exactly when fnms is (Eigen's pmadd is one FMA instruction whenever
/// fused_madd holds, and a rounded multiply then add otherwise); the scalar rung goes the
/// same way.
template <class Packet>
[[nodiscard]] inline Packet fmadd(const Packet& a, const Packet& b, const Packet& c) noexcept {
  if constexpr (std::is_floating_point_v<Packet>)
    return scalar_madd(a, b, c);
  else
    return Eigen::internal::pmadd(a, b, c);
}

// Lower-block storage. A symmetric matrix of padded dimension dp = B n (n the lanes of the
// packet) is kept column-major in a dp x dp array, of which only the lower block triangle
// is read and written: the B diagonal n x n blocks in full, and the blocks below them. The
// blocks above the diagonal are never read or written by the kernels (rls keeps them at zero).
// That is n B (B + 1) / 2 packets, close to half the matrix: half the stores of a rank-1
// downdate, and at d = 64 in double an 18 KB working set that stays in a 32 KB L1 cache.

/// The packet whose lane c is the sum of the lanes of t[c] (n packets of n lanes): a
/// transpose in registers and a tree of n - 1 additions, no trip through memory.
template <class Packet>
[[nodiscard]] inline Packet transposed_sums(const Packet* t) noexcept {
  constexpr int n = static_cast<int>(lanes<Packet>);
  if constexpr (n == 1) {
    return t[0];
  } else {
    Eigen::internal::PacketBlock<Packet, n> blk;
    for (int c = 0; c < n; ++c) blk.packet[c] = t[c];
    Eigen::internal::ptranspose(blk);
    for (int w = n / 2; w >= 1; w /= 2)
      for (int c = 0; c < w; ++c)
        blk.packet[c] = Eigen::internal::padd(blk.packet[c], blk.packet[c + w]);
    return blk.packet[0];
  }
}

/// g = Q x for a symmetric Q in lower-block storage (2 dp^2 FLOPs), one block column at a
/// time: every stored packet is loaded once and used twice, for the rows below the diagonal
/// block (g_r += Q_rc x_c, with the n broadcasts of x_c hoisted out of the row loop) and for
/// the column's own row (g_c += Q_rc x_r, n dot products summed across lanes by
/// transposed_sums). About 1.25 loads per two FMAs. x and g have dp entries. Returns x'g,
/// accumulated as each block of g is completed. No allocation.
template <class Packet, class Scalar>
inline Scalar lower_block_matvec(const Scalar* Q, Eigen::Index dp, const Scalar* x,
                                 Scalar* g) noexcept {
  using namespace Eigen::internal;
  constexpr int n = static_cast<int>(lanes<Packet>);
  const Packet zero = pset1<Packet>(Scalar(0));
  Packet xg = zero;
  for (Eigen::Index a = 0; a < dp; a += n) {
    const Scalar* blk = Q + a * dp;  // column a, the first of the block column
    // Rows a.. have collected the contributions of the block columns before (none for the
    // first); the diagonal block is stored in full. Two partial sums.
    Packet ga = a == 0 ? zero : ploadu<Packet>(g + a), gb = zero;
    [&]<int... c>(std::integer_sequence<int, c...>) {
      ((((c % 2 == 0) ? ga : gb) = fmadd(ploadu<Packet>(blk + c * dp + a),
                                          pset1<Packet>(x[a + c]), (c % 2 == 0) ? ga : gb)),
       ...);
    }(std::make_integer_sequence<int, n>{});
    if (a + n < dp) {
      Packet t[static_cast<std::size_t>(n)], bx[static_cast<std::size_t>(n)];
      for (int c = 0; c < n; ++c) {
        t[c] = zero;
        bx[c] = pset1<Packet>(x[a + c]);
      }
      for (Eigen::Index r = a + n; r < dp; r += n) {
        const Packet xr = ploadu<Packet>(x + r);
        Packet s0 = a == 0 ? zero : ploadu<Packet>(g + r), s1 = zero;
        [&]<int... c>(std::integer_sequence<int, c...>) {
          ((((c % 2 == 0) ? s0 : s1) = fmadd(ploadu<Packet>(blk + c * dp + r), bx[c],
                                              (c % 2 == 0) ? s0 : s1),
            t[c] = fmadd(ploadu<Packet>(blk + c * dp + r), xr, t[c])),
           ...);
        }(std::make_integer_sequence<int, n>{});
        pstoreu(g + r, padd(s0, s1));
      }
      gb = padd(gb, transposed_sums(t));
    }
    const Packet gi = padd(ga, gb);
    pstoreu(g + a, gi);
    xg = fmadd(gi, ploadu<Packet>(x + a), xg);
  }
  return predux(xg);
}

/// Q <- Q - v v' on the lower-block storage (about dp^2 / 2 fused multiply-adds). Entry
/// (i, j) becomes fma(v_i, -v_j, Q_ij): the product is exact inside the fused operation, so
/// this equals fnms(Q_ij, v_i, v_j) and the value computed for (j, i) inside a diagonal
/// block; without FMA both round v_i v_j alike. An exactly symmetric diagonal block stays
/// exactly symmetric. v has dp entries. No allocation.
template <class Packet, class Scalar>
inline void lower_block_downdate(Scalar* Q, Eigen::Index dp, const Scalar* v) noexcept {
  using namespace Eigen::internal;
  constexpr Eigen::Index n = lanes<Packet>;
  for (Eigen::Index a = 0; a < dp; a += n)
    for (Eigen::Index c = a; c < a + n; ++c) {
      const Packet b = pset1<Packet>(-v[c]);
      Scalar* col = Q + c * dp;
      for (Eigen::Index r = a; r < dp; r += n)
        pstoreu(col + r, fmadd(ploadu<Packet>(v + r), b, ploadu<Packet>(col + r)));
    }
}

/// Q <- Q - H H' on the lower-block storage, for the k columns of H (dp rows, column stride
/// ldh): each stored packet is loaded and stored once for all k columns (the stores of k
/// rank-1 steps amortised), with n accumulators per block of rows. Entry (i, j) becomes
/// fma(H_ik, -H_jk, ... fma(H_i1, -H_j1, Q_ij)), the same products in the same order as for
/// (j, i), so an exactly symmetric diagonal block stays exactly symmetric. No allocation.
template <class Packet, class Scalar>
inline void lower_block_rank_downdate(Scalar* Q, Eigen::Index dp, const Scalar* H,
                                      Eigen::Index ldh, Eigen::Index k) noexcept {
  using namespace Eigen::internal;
  constexpr int n = static_cast<int>(lanes<Packet>);
  for (Eigen::Index a = 0; a < dp; a += n)
    for (Eigen::Index r = a; r < dp; r += n) {
      Packet acc[static_cast<std::size_t>(n)];
      for (int c = 0; c < n; ++c) acc[c] = ploadu<Packet>(Q + (a + c) * dp + r);
      for (Eigen::Index m = 0; m < k; ++m) {
        const Scalar* hm = H + m * ldh;
        const Packet hr = ploadu<Packet>(hm + r);
        [&]<int... c>(std::integer_sequence<int, c...>) {
          ((acc[c] = fmadd(hr, pset1<Packet>(-hm[a + c]), acc[c])), ...);
        }(std::make_integer_sequence<int, n>{});
      }
      for (int c = 0; c < n; ++c) pstoreu(Q + (a + c) * dp + r, acc[c]);
    }
}

/// lower_block_rank_downdate with the packet of rung FixedKind, or of `kind` (on_rung).
template <int FixedKind, class Scalar>
inline void lower_block_rank_downdate_on(int kind, Scalar* Q, Eigen::Index dp, const Scalar* H,
                                         Eigen::Index ldh, Eigen::Index k) noexcept {
  on_rung<FixedKind, Scalar>(kind, [&]<class Packet>(std::type_identity<Packet>) {
    lower_block_rank_downdate<Packet>(Q, dp, H, ldh, k);
  });
}

/// lower_block_matvec with the packet of rung FixedKind, or of `kind` (on_rung).
template <int FixedKind, class Scalar>
[[nodiscard]] inline Scalar lower_block_matvec_on(int kind, const Scalar* Q, Eigen::Index dp,
                                                  const Scalar* x, Scalar* g) noexcept {
  return on_rung<FixedKind, Scalar>(kind, [&]<class Packet>(std::type_identity<Packet>) {
    return lower_block_matvec<Packet>(Q, dp, x, g);
  });
}

/// lower_block_downdate with the packet of rung FixedKind, or of `kind` (on_rung).
template <int FixedKind, class Scalar>
inline void lower_block_downdate_on(int kind, Scalar* Q, Eigen::Index dp,
                                    const Scalar* v) noexcept {
  on_rung<FixedKind, Scalar>(kind, [&]<class Packet>(std::type_identity<Packet>) {
    lower_block_downdate<Packet>(Q, dp, v);
  });
}

/// trace(Q - v v') over the first d diagonal entries, each rounded exactly as
/// lower_block_downdate rounds it, or -1 when one would not stay > 0 (refused: a necessary
/// condition of positive definiteness). O(d).
template <class Scalar>
[[nodiscard]] inline Scalar downdated_trace(const Scalar* Q, Eigen::Index dp, Eigen::Index d,
                                            const Scalar* v) noexcept {
  Scalar sum0(0), sum1(0);
  bool ok = true;
  Eigen::Index i = 0;
  for (; i + 2 <= d; i += 2) {
    const Scalar q0 = fnms(Q[i * (dp + 1)], v[i], v[i]);
    const Scalar q1 = fnms(Q[(i + 1) * (dp + 1)], v[i + 1], v[i + 1]);
    ok &= (q0 > Scalar(0)) & (q1 > Scalar(0));
    sum0 += q0;
    sum1 += q1;
  }
  if (i < d) {
    const Scalar q0 = fnms(Q[i * (dp + 1)], v[i], v[i]);
    ok &= q0 > Scalar(0);
    sum0 += q0;
  }
  return ok ? sum0 + sum1 : Scalar(-1);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

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
