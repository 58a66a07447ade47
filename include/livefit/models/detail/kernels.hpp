// Kernels of the RLS covariance updates on lower-block storage (Q x, the rank-1 and rank-k
// downdates, the check of the new diagonal), written on Eigen's packet primitives for every
// packet width.
#ifndef LIVEFIT_MODELS_DETAIL_KERNELS_HPP
#define LIVEFIT_MODELS_DETAIL_KERNELS_HPP

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
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
/// exact inside the fused operation, or rounded alike without it, then subtracted: no
/// negation, and the same rounding as fnmadd's packets in every rounding mode).
template <class Scalar>
[[nodiscard]] inline Scalar fnms(Scalar p, Scalar a, Scalar b) noexcept {
  if constexpr (fused_madd)
    return std::fma(-a, b, p);
  else
    return p - a * b;
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
/// when none). Eight lanes at most: a block column keeps 3 n packets in registers (the
/// broadcasts of x and v and the n lane-sum accumulators), 48 of AVX-512's 32 registers at
/// 16 float lanes, and its lane sums cost up to 2 n shuffles; 16 lanes measured twice as
/// slow as 8 on a machine that splits 512-bit operations (Zen 4, benchmarks/models_bench.cpp).
/// LIMITATION: where 16-lane FMAs run at full rate (Intel AVX-512 cores with two FMA units)
/// this holds float to half the machine's peak; see docs/performance.md.
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

/// c - a * b, rounded exactly as fnms(c, a, b) (fused: as fmadd(-a, b, c)): one fused
/// negated multiply-add instruction on x86 with FMA instead of a negation and an FMA (Eigen
/// 3.4's pnegate is a subtraction from zero, which the compiler cannot fold into the FMA).
template <class Packet>
[[nodiscard]] inline Packet fnmadd(const Packet& a, const Packet& b, const Packet& c) noexcept {
#if defined(EIGEN_VECTORIZE_AVX512)
  if constexpr (std::is_same_v<Packet, __m512d>) return _mm512_fnmadd_pd(a, b, c);
  if constexpr (std::is_same_v<Packet, __m512>) return _mm512_fnmadd_ps(a, b, c);
#endif
#if defined(EIGEN_VECTORIZE_FMA) && defined(EIGEN_VECTORIZE_AVX)
  if constexpr (std::is_same_v<Packet, __m256d>) return _mm256_fnmadd_pd(a, b, c);
  if constexpr (std::is_same_v<Packet, __m256>) return _mm256_fnmadd_ps(a, b, c);
  if constexpr (std::is_same_v<Packet, __m128d>) return _mm_fnmadd_pd(a, b, c);
  if constexpr (std::is_same_v<Packet, __m128>) return _mm_fnmadd_ps(a, b, c);
#endif
  // Without FMA: the product rounded, then subtracted (a multiply and a subtraction, where
  // pmadd of the negated factor takes a sign flip, a multiply and an addition), as fnms.
  if constexpr (std::is_floating_point_v<Packet>)
    return fnms(c, a, b);
  else if constexpr (!fused_madd)
    return Eigen::internal::psub(c, Eigen::internal::pmul(a, b));
  else
    return Eigen::internal::pmadd(Eigen::internal::pnegate(a), b, c);
}

// Lower-block storage. A symmetric matrix of padded dimension dp = B n (n the lanes of the
// packet) is kept column-major in a dp x dp array, of which only the lower block triangle
// is read and written: the B diagonal n x n blocks in full, and the blocks below them. The
// blocks above the diagonal are never read or written by the kernels (rls keeps them at zero).
// That is n B (B + 1) / 2 packets, close to half the matrix: half the stores of a rank-1
// downdate, and at d = 64 in double an 18 KB working set that stays in a 32 KB L1 cache.

/// The packet whose lane c is the sum of the lanes of t[c] (n packets of n lanes), with no
/// trip through memory. On x86 a pairwise tree: each level adds pairs of packets
/// interleaved, halving the number of packets and doubling the lanes summed, at most 2 n
/// shuffles and n - 1 additions in all (8 doubles in AVX-512: 14 shuffles where the
/// transpose took 40 instructions, on the port the FMAs need too). Elsewhere a transpose in
/// registers and a tree of n - 1 additions. The two add in different orders (rounding only).
template <class Packet>
[[nodiscard]] inline Packet transposed_sums(const Packet* t) noexcept {
  constexpr int n = static_cast<int>(lanes<Packet>);
  if constexpr (n == 1) {
    return t[0];
#if defined(EIGEN_VECTORIZE_AVX512)
  } else if constexpr (std::is_same_v<Packet, __m512d>) {
    // Level 1: 128-bit block j of u[k] holds the sums of lanes 2j, 2j+1 of t[2k], t[2k+1].
    __m512d u[4];
    for (int k = 0; k < 4; ++k)
      u[k] = _mm512_add_pd(_mm512_unpacklo_pd(t[2 * k], t[2 * k + 1]),
                           _mm512_unpackhi_pd(t[2 * k], t[2 * k + 1]));
    // Levels 2 and 3: add 128-bit blocks (0, 2) to (1, 3) of two packets at a time.
    const auto fold = [](__m512d a, __m512d b) {
      return _mm512_add_pd(_mm512_shuffle_f64x2(a, b, 0x88), _mm512_shuffle_f64x2(a, b, 0xDD));
    };
    return fold(fold(u[0], u[1]), fold(u[2], u[3]));
#endif
#if defined(EIGEN_VECTORIZE_AVX)
  } else if constexpr (std::is_same_v<Packet, __m256d>) {
    const __m256d u0 = _mm256_add_pd(_mm256_unpacklo_pd(t[0], t[1]),
                                     _mm256_unpackhi_pd(t[0], t[1]));
    const __m256d u1 = _mm256_add_pd(_mm256_unpacklo_pd(t[2], t[3]),
                                     _mm256_unpackhi_pd(t[2], t[3]));
    return _mm256_add_pd(_mm256_permute2f128_pd(u0, u1, 0x20),
                         _mm256_permute2f128_pd(u0, u1, 0x31));
  } else if constexpr (std::is_same_v<Packet, __m256>) {
    // Level 1: lanes (0, 2) + (1, 3) of each 4-lane half, two packets interleaved.
    __m256 u[4];
    for (int k = 0; k < 4; ++k)
      u[k] = _mm256_add_ps(_mm256_unpacklo_ps(t[2 * k], t[2 * k + 1]),
                           _mm256_unpackhi_ps(t[2 * k], t[2 * k + 1]));
    // Level 2: 64-bit pairs; each half then holds four packets' half sums.
    const auto pairs = [](__m256 a, __m256 b) {
      return _mm256_add_ps(_mm256_shuffle_ps(a, b, 0x44), _mm256_shuffle_ps(a, b, 0xEE));
    };
    const __m256 w0 = pairs(u[0], u[1]), w1 = pairs(u[2], u[3]);
    // Level 3: the two 128-bit halves.
    return _mm256_add_ps(_mm256_permute2f128_ps(w0, w1, 0x20),
                         _mm256_permute2f128_ps(w0, w1, 0x31));
#endif
#if defined(EIGEN_VECTORIZE_SSE2)
  } else if constexpr (std::is_same_v<Packet, __m128d>) {
    return _mm_add_pd(_mm_unpacklo_pd(t[0], t[1]), _mm_unpackhi_pd(t[0], t[1]));
  } else if constexpr (std::is_same_v<Packet, __m128>) {
    const __m128 u0 = _mm_add_ps(_mm_unpacklo_ps(t[0], t[1]), _mm_unpackhi_ps(t[0], t[1]));
    const __m128 u1 = _mm_add_ps(_mm_unpacklo_ps(t[2], t[3]), _mm_unpackhi_ps(t[2], t[3]));
    return _mm_add_ps(_mm_movelh_ps(u0, u1), _mm_movehl_ps(u1, u0));
#endif
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

/// The sum of the lanes of p: Eigen's predux, except for 8 doubles in AVX-512, where Eigen
/// ends with two horizontal additions (about 6 cycles each on the chain from one update to
/// the next) and this halves twice and adds the last pair (about 19 cycles in all).
template <class Packet>
[[nodiscard]] inline auto lane_sum(const Packet& p) noexcept {
#if defined(EIGEN_VECTORIZE_AVX512)
  if constexpr (std::is_same_v<Packet, __m512d>) {
    const __m256d h4 = _mm256_add_pd(_mm512_castpd512_pd256(p), _mm512_extractf64x4_pd(p, 1));
    const __m128d h2 = _mm_add_pd(_mm256_castpd256_pd128(h4), _mm256_extractf128_pd(h4, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h2, _mm_unpackhi_pd(h2, h2)));
  } else {
    return Eigen::internal::predux(p);
  }
#else
  return Eigen::internal::predux(p);
#endif
}

/// One pass over a symmetric Q in lower-block storage: when Downdate, first Q <- Q - v v'
/// entry by entry (stored back), then g = Q x with the new entries (2 dp^2 FLOPs for the
/// product). Each stored packet is loaded once and used twice, for the rows below the
/// diagonal block (g_r += Q_rc x_c, with the n broadcasts of x_c hoisted out of the row loop)
/// and for the column's own row (g_c += Q_rc x_r, n dot products summed across lanes by
/// transposed_sums). The partial products of a block column start from zero and are added
/// to g once at its end, so the chain between block columns is one addition, not n FMAs.
/// Downdated entries are exactly those of lower_block_rank_downdate with the one column v
/// (fma(v_i, -v_j, Q_ij) = fma(-v_i, v_j, Q_ij)); the product reads them as
/// stored. v, x and g have dp entries (v unread without Downdate, and Q then unwritten).
/// FixedDp > 0 fixes dp at compile time. With Keep, every stored packet is also written to
/// `keep` (same layout as Q) as it was loaded, before the downdate: a copy of the stored part
/// of Q at no extra load. Returns x'g. No allocation.
template <class Packet, bool Downdate, Eigen::Index FixedDp, bool Keep = false, class Scalar>
inline Scalar lower_block_pass(Scalar* Q, Eigen::Index dp_run, const Scalar* v,
                               const Scalar* x, Scalar* g, Scalar* keep = nullptr) noexcept {
  using namespace Eigen::internal;
  const Eigen::Index dp = FixedDp > 0 ? FixedDp : dp_run;
  constexpr int n = static_cast<int>(lanes<Packet>);
  const Packet zero = pset1<Packet>(Scalar(0));
  // The stored packet (column a + c, rows r..r+n) of the pass: downdated (entry (i, j) to
  // fma(-v_i, v_j, Q_ij), with vr the packet v_r and bvc the broadcast v_c) and stored back when
  // Downdate.
  const auto entry = [&](Scalar* at, const Packet& vr, const Packet& bvc) {
    const Packet loaded = ploadu<Packet>(at);
    if constexpr (Keep) pstoreu(keep + (at - Q), loaded);
    if constexpr (Downdate) {
      const Packet q = fnmadd(vr, bvc, loaded);
      pstoreu(at, q);
      return q;
    } else {
      return loaded;
    }
  };
  Packet xg = zero;
  for (Eigen::Index a = 0; a < dp; a += n) {
    Scalar* blk = Q + a * dp;  // column a, the first of the block column
    Packet bv[static_cast<std::size_t>(n)], bx[static_cast<std::size_t>(n)];
    for (int c = 0; c < n; ++c) {
      bv[c] = Downdate ? pset1<Packet>(v[a + c]) : zero;
      bx[c] = pset1<Packet>(x[a + c]);
    }
    // The diagonal block, stored in full: four partial sums.
    Packet p[4] = {zero, zero, zero, zero};
    {
      const Packet va = Downdate ? ploadu<Packet>(v + a) : zero;
      [&]<int... c>(std::integer_sequence<int, c...>) {
        ((p[c % 4] = fmadd(entry(blk + c * dp + a, va, bv[c]), bx[c], p[c % 4])), ...);
      }(std::make_integer_sequence<int, n>{});
    }
    Packet gi = padd(padd(p[0], p[1]), padd(p[2], p[3]));
    if (a + n < dp) {
      Packet t[static_cast<std::size_t>(n)];
      for (int c = 0; c < n; ++c) t[c] = zero;
      for (Eigen::Index r = a + n; r < dp; r += n) {
        const Packet vr = Downdate ? ploadu<Packet>(v + r) : zero;
        const Packet xr = ploadu<Packet>(x + r);
        Packet s0 = zero, s1 = zero;
        [&]<int... c>(std::integer_sequence<int, c...>) {
          (([&] {
             const Packet q = entry(blk + c * dp + r, vr, bv[c]);
             ((c % 2 == 0) ? s0 : s1) = fmadd(q, bx[c], (c % 2 == 0) ? s0 : s1);
             t[c] = fmadd(q, xr, t[c]);
           }()),
           ...);
        }(std::make_integer_sequence<int, n>{});
        const Packet sr = padd(s0, s1);
        pstoreu(g + r, a == 0 ? sr : padd(ploadu<Packet>(g + r), sr));
      }
      gi = padd(gi, transposed_sums(t));
    }
    // Rows a.. have collected the contributions of the block columns before (none for the
    // first).
    if (a > 0) gi = padd(ploadu<Packet>(g + a), gi);
    pstoreu(g + a, gi);
    xg = fmadd(gi, ploadu<Packet>(x + a), xg);
  }
  return lane_sum(xg);
}

/// g = Q x for a symmetric Q in lower-block storage (lower_block_pass without the downdate;
/// Q is only read). Returns x'g. No allocation.
template <class Packet, Eigen::Index FixedDp = 0, class Scalar>
inline Scalar lower_block_matvec(const Scalar* Q, Eigen::Index dp, const Scalar* x,
                                 Scalar* g) noexcept {
  return lower_block_pass<Packet, false, FixedDp>(const_cast<Scalar*>(Q), dp, x, x, g);
}

/// Q <- Q - v v', then g = Q x with the new Q, in one pass (lower_block_pass): bit-identical
/// to lower_block_rank_downdate(Q, dp, v, dp, 1) followed by lower_block_matvec(Q, dp, x, g),
/// at one load of Q instead of two and with the stores overlapping the product. Returns x'g.
/// No allocation.
template <class Packet, Eigen::Index FixedDp = 0, class Scalar>
inline Scalar lower_block_downdate_matvec(Scalar* Q, Eigen::Index dp, const Scalar* v,
                                          const Scalar* x, Scalar* g) noexcept {
  return lower_block_pass<Packet, true, FixedDp>(Q, dp, v, x, g);
}

/// lower_block_downdate_matvec with the packet of rung FixedKind, or of `kind` (on_rung).
template <int FixedKind, Eigen::Index FixedDp = 0, class Scalar>
[[nodiscard]] inline Scalar lower_block_downdate_matvec_on(int kind, Scalar* Q, Eigen::Index dp,
                                                           const Scalar* v, const Scalar* x,
                                                           Scalar* g) noexcept {
  return on_rung<FixedKind, Scalar>(kind, [&]<class Packet>(std::type_identity<Packet>) {
    return lower_block_downdate_matvec<Packet, FixedDp>(Q, dp, v, x, g);
  });
}

/// Vector registers of the target: 32 with AVX-512, 16 otherwise (SSE, AVX, NEON).
#if defined(EIGEN_VECTORIZE_AVX512)
inline constexpr int vector_registers = 32;
#else
inline constexpr int vector_registers = 16;
#endif

/// Row blocks per tile of lower_block_rank_downdate: R n accumulators, R row packets and
/// one broadcast live in registers, and each broadcast serves R FMAs.
template <class Packet>
inline constexpr int downdate_tile_rows = [] {
  constexpr int n = static_cast<int>(lanes<Packet>);
  const int fit = (vector_registers - 3) / (n + 1);
  return fit < 1 ? 1 : fit > 3 ? 3 : fit;
}();

/// One tile of lower_block_rank_downdate: the R row blocks r, r + n, ... of block column a.
/// With Keep, the packets as loaded are also stored to `keep` (same layout as Q).
template <int R, bool Keep, class Packet, class Scalar>
inline void rank_downdate_tile(Scalar* Q, Eigen::Index dp, Eigen::Index a, Eigen::Index r,
                               const Scalar* H, Eigen::Index ldh, Eigen::Index k,
                               Scalar* keep) noexcept {
  using namespace Eigen::internal;
  constexpr int n = static_cast<int>(lanes<Packet>);
  Packet acc[static_cast<std::size_t>(R)][static_cast<std::size_t>(n)];
  for (int i = 0; i < R; ++i)
    for (int c = 0; c < n; ++c) {
      const Eigen::Index at = (a + c) * dp + r + i * n;
      acc[i][c] = ploadu<Packet>(Q + at);
      if constexpr (Keep) pstoreu(keep + at, acc[i][c]);
    }
  // k >= 1 (a do-while: with a loop that might not run, GCC keeps a copy of acc on the
  // stack for that path, 2 R n extra stores and loads per tile).
  Eigen::Index m = 0;
  do {
    const Scalar* hm = H + m * ldh;
    // fma(-H_im, H_jm, acc), one negated FMA; each broadcast serves the R row blocks.
    Packet h[static_cast<std::size_t>(R)];
    for (int i = 0; i < R; ++i) h[i] = ploadu<Packet>(hm + r + i * n);
    [&]<int... c>(std::integer_sequence<int, c...>) {
      (([&] {
         const Packet b = pset1<Packet>(hm[a + c]);
         for (int i = 0; i < R; ++i) acc[i][c] = fnmadd(h[i], b, acc[i][c]);
       }()),
       ...);
    }(std::make_integer_sequence<int, n>{});
  } while (++m < k);
  for (int i = 0; i < R; ++i)
    for (int c = 0; c < n; ++c) pstoreu(Q + (a + c) * dp + r + i * n, acc[i][c]);
}

/// Q <- Q - H H' on the lower-block storage, for the k columns of H (dp rows, column stride
/// ldh): each stored packet is loaded and stored once for all k columns (the stores of k
/// rank-1 steps amortised), in tiles of up to three row blocks of one block column that
/// share each broadcast of H_jm. Entry (i, j) becomes fma(H_ik, -H_jk, ... fma(H_i1, -H_j1,
/// Q_ij)), the same products in the same order as for (j, i), so an exactly symmetric
/// diagonal block stays exactly symmetric. With `keep` (not null), the stored part of Q as
/// it was is also written there (same layout), in the same pass: the stores have room
/// beside the k FMAs per packet, where a separate copy would load every packet again.
/// No allocation.
template <class Packet, class Scalar>
inline void lower_block_rank_downdate(Scalar* Q, Eigen::Index dp, const Scalar* H,
                                      Eigen::Index ldh, Eigen::Index k,
                                      Scalar* keep = nullptr) noexcept {
  constexpr int n = static_cast<int>(lanes<Packet>);
  constexpr int R = downdate_tile_rows<Packet>;
  if (k <= 0) return;
  const auto pass = [&]<bool Keep>(std::bool_constant<Keep>) {
    for (Eigen::Index a = 0; a < dp; a += n) {
      Eigen::Index r = a;
      for (; r + R * n <= dp; r += R * n)
        rank_downdate_tile<R, Keep, Packet>(Q, dp, a, r, H, ldh, k, keep);
      if constexpr (R > 2)
        if (r + 2 * n <= dp) {
          rank_downdate_tile<2, Keep, Packet>(Q, dp, a, r, H, ldh, k, keep);
          r += 2 * n;
        }
      for (; r < dp; r += n) rank_downdate_tile<1, Keep, Packet>(Q, dp, a, r, H, ldh, k, keep);
    }
  };
  if (keep != nullptr)
    pass(std::true_type{});
  else
    pass(std::false_type{});
}

/// lower_block_rank_downdate with the packet of rung FixedKind, or of `kind` (on_rung).
template <int FixedKind, class Scalar>
inline void lower_block_rank_downdate_on(int kind, Scalar* Q, Eigen::Index dp, const Scalar* H,
                                         Eigen::Index ldh, Eigen::Index k,
                                         Scalar* keep = nullptr) noexcept {
  on_rung<FixedKind, Scalar>(kind, [&]<class Packet>(std::type_identity<Packet>) {
    lower_block_rank_downdate<Packet>(Q, dp, H, ldh, k, keep);
  });
}

/// Scalars per feature in the sample-major layout of lower_block_sample_product: the rows
/// of one chunk of update_block (at most 8), padded.
inline constexpr Eigen::Index sample_group = 8;

/// G = Q X for a symmetric Q in lower-block storage with blocks of N lanes and up to
/// sample_group columns of X at once, sample-major: feature i of every column is the group
/// X[i sample_group ..], S packets SP wide (S lanes<SP> <= sample_group), and G is written
/// in the same layout (dp groups). Each stored scalar Q_ij (i > j) is broadcast once and
/// used for both triangles, G_i += Q_ij X_j and G_j += Q_ij X_i, as FMAs across the samples:
/// no lane sums (the product of the rank-1 pass needs n of them per block column), and one
/// load per two FMAs of S packets. The diagonal blocks use their lower triangle only. 2 dp^2
/// S lanes<SP> FLOPs (the stored padding included); the sums run in a different order from
/// lower_block_matvec (rounding only). No allocation.
template <class SP, int S, int N, class Scalar>
inline void lower_block_sample_product(const Scalar* Q, Eigen::Index dp, const Scalar* X,
                                       Scalar* G) noexcept {
  using namespace Eigen::internal;
  constexpr Eigen::Index L = lanes<SP>;
  constexpr Eigen::Index W = sample_group;
  static_assert(S * L <= W, "lower_block_sample_product: more samples than a group holds");
  constexpr auto uN = static_cast<std::size_t>(N), uS = static_cast<std::size_t>(S);
  const SP zero = pset1<SP>(Scalar(0));
  // Every row is first written by the first block column (its diagonal block and the rows
  // below), which stores; the later ones add.
  bool first = true;
  const auto add_to = [&](Eigen::Index i, const SP* p) {
    for (int s = 0; s < S; ++s) {
      Scalar* at = G + i * W + s * L;
      pstoreu(at, first ? p[s] : padd(ploadu<SP>(at), p[s]));
    }
  };
  for (Eigen::Index a = 0; a < dp; a += N) {
    const Scalar* blk = Q + a * dp;  // column a, the first of the block column
    // The block column's own samples X_a.. and the sums G_a.. it collects from the rows below.
    SP xa[uN][uS], ga[uN][uS];
    for (int c = 0; c < N; ++c)
      for (int s = 0; s < S; ++s) {
        xa[c][s] = ploadu<SP>(X + (a + c) * W + s * L);
        ga[c][s] = zero;
      }
    // The diagonal block: row a + r takes columns a + c, c < r, for both triangles, and the
    // diagonal entry once.
    // (Unrolled at compile time, so that xa and ga stay in registers.)
    const auto diagonal_row = [&]<int r>(std::integral_constant<int, r>) {
      SP gr[uS];
      const SP qd = pset1<SP>(blk[r * dp + a + r]);
      for (int s = 0; s < S; ++s) gr[s] = pmul(qd, xa[r][s]);
      [&]<int... c>(std::integer_sequence<int, c...>) {
        (([&] {
           const SP q = pset1<SP>(blk[c * dp + a + r]);
           for (int s = 0; s < S; ++s) {
             gr[s] = fmadd(q, xa[c][s], gr[s]);
             ga[c][s] = fmadd(q, xa[r][s], ga[c][s]);
           }
         }()),
         ...);
      }(std::make_integer_sequence<int, r>{});
      add_to(a + r, gr);
    };
    [&]<int... r>(std::integer_sequence<int, r...>) {
      (diagonal_row(std::integral_constant<int, r>{}), ...);
    }(std::make_integer_sequence<int, N>{});
    // The rows below, one at a time: two partial sums (one starting from the row's sum so
    // far) shorten the chain of the row's own.
    for (Eigen::Index r = a + N; r < dp; ++r) {
      SP xr[uS], g0[uS], g1[uS];
      for (int s = 0; s < S; ++s) {
        xr[s] = ploadu<SP>(X + r * W + s * L);
        g0[s] = first ? zero : ploadu<SP>(G + r * W + s * L);
        g1[s] = zero;
      }
      [&]<int... c>(std::integer_sequence<int, c...>) {
        (([&] {
           const SP q = pset1<SP>(blk[c * dp + r]);
           for (int s = 0; s < S; ++s) {
             ((c % 2 == 0) ? g0 : g1)[s] = fmadd(q, xa[c][s], ((c % 2 == 0) ? g0 : g1)[s]);
             ga[c][s] = fmadd(q, xr[s], ga[c][s]);
           }
         }()),
         ...);
      }(std::make_integer_sequence<int, N>{});
      for (int s = 0; s < S; ++s) pstoreu(G + r * W + s * L, padd(g0[s], g1[s]));
    }
    first = false;
    for (int c = 0; c < N; ++c) add_to(a + c, ga[c]);
  }
}

/// lower_block_sample_product for k <= sample_group samples, on the storage of rung
/// FixedKind, or of `kind` (on_rung): the samples go in the widest packet of at most 8
/// lanes, as many as k needs (rounded up to a power of two).
template <int FixedKind, class Scalar>
inline void lower_block_sample_product_on(int kind, const Scalar* Q, Eigen::Index dp,
                                          const Scalar* X, Scalar* G, Eigen::Index k) noexcept {
  using SP = rung_packet<Scalar, ladder_kind<Scalar>(sample_group)>;
  constexpr Eigen::Index L = lanes<SP>;
  on_rung<FixedKind, Scalar>(kind, [&]<class Packet>(std::type_identity<Packet>) {
    constexpr int N = static_cast<int>(lanes<Packet>);
    const Eigen::Index packets = (k + L - 1) / L;
    if constexpr (L * 1 <= sample_group)
      if (packets <= 1) return lower_block_sample_product<SP, 1, N>(Q, dp, X, G);
    if constexpr (L * 2 <= sample_group)
      if (packets <= 2) return lower_block_sample_product<SP, 2, N>(Q, dp, X, G);
    if constexpr (L * 4 <= sample_group)
      if (packets <= 4) return lower_block_sample_product<SP, 4, N>(Q, dp, X, G);
    if constexpr (L * 8 <= sample_group) lower_block_sample_product<SP, 8, N>(Q, dp, X, G);
  });
}

/// One tile of transpose_into: the L x L block at X (column stride ldx) transposed to out
/// (column stride ldo), unrolled and forced inline so that the block stays in registers (as
/// loops, or as a lambda, GCC at -O2 kept it on the stack).
template <class SP, class Scalar, int... j>
EIGEN_ALWAYS_INLINE void transpose_tile(const Scalar* X, Eigen::Index ldx, Scalar* out,
                                        Eigen::Index ldo,
                                        std::integer_sequence<int, j...>) noexcept {
  using namespace Eigen::internal;
  PacketBlock<SP, static_cast<int>(sizeof...(j))> t;
  ((t.packet[j] = ploadu<SP>(X + j * ldx)), ...);
  ptranspose(t);
  (pstoreu(out + j * ldo, t.packet[j]), ...);
}

/// out = X' for a column-major X of k rows and d columns (column stride ldx) into the
/// column-major out (column stride ldo): out[i + r ldo] = X[r + i ldx]. Whole tiles of
/// lanes x lanes (the widest packet of at most 8 lanes) are transposed in registers, the
/// rows and columns beyond them copied one by one. (A scalar loop, what Eigen's transposed
/// assignment compiles to at -O2, moves one value per cycle with strided loads: measured 9%
/// of update_block's time in float at d = 16 in the portable build.) No allocation.
template <class Scalar>
inline void transpose_into(const Scalar* X, Eigen::Index ldx, Eigen::Index k, Eigen::Index d,
                           Scalar* out, Eigen::Index ldo) noexcept {
  using namespace Eigen::internal;
  using SP = rung_packet<Scalar, ladder_kind<Scalar>(sample_group)>;
  constexpr Eigen::Index L = lanes<SP>;
  const Eigen::Index kw = k / L * L, dw = d / L * L;
  for (Eigen::Index r = 0; r < kw; r += L) {
    for (Eigen::Index i = 0; i < dw; i += L)
      transpose_tile<SP>(X + i * ldx + r, ldx, out + r * ldo + i, ldo,
                         std::make_integer_sequence<int, static_cast<int>(L)>{});
    for (Eigen::Index j = r; j < r + L; ++j)
      for (Eigen::Index i = dw; i < d; ++i) out[i + j * ldo] = X[j + i * ldx];
  }
  for (Eigen::Index j = kw; j < k; ++j)
    for (Eigen::Index i = 0; i < d; ++i) out[i + j * ldo] = X[j + i * ldx];
}

/// The sample-major groups of lower_block_sample_product as columns: out[i + m ldo] =
/// X[i sample_group + m] for the dp features i and the k <= sample_group samples m, by
/// transposes of lanes x lanes tiles in registers (the widest packet of at most 8 lanes;
/// a scalar copy for the features beyond the last whole tile). No allocation.
template <class Scalar>
inline void sample_columns(const Scalar* X, Eigen::Index dp, Eigen::Index k, Scalar* out,
                           Eigen::Index ldo) noexcept {
  using namespace Eigen::internal;
  using SP = rung_packet<Scalar, ladder_kind<Scalar>(sample_group)>;
  constexpr Eigen::Index L = lanes<SP>;
  constexpr Eigen::Index W = sample_group;
  Eigen::Index i = 0;
  for (; i + L <= dp; i += L)
    for (Eigen::Index m0 = 0; m0 < k; m0 += L) {
      PacketBlock<SP, static_cast<int>(L)> t;
      for (Eigen::Index j = 0; j < L; ++j) t.packet[j] = ploadu<SP>(X + (i + j) * W + m0);
      ptranspose(t);
      for (Eigen::Index j = 0; j < L && m0 + j < k; ++j)
        pstoreu(out + (m0 + j) * ldo + i, t.packet[j]);
    }
  // The remaining features (none when dp is a multiple of L), counted from 0: written as
  // `for (; i < dp; ++i)`, GCC 12 warned of an overflow of i * W at an iteration it cannot
  // reach when k and dp were known at compile time (a fixed-size model and an X of fixed
  // rows), and -Werror builds failed.
  const Eigen::Index rest = dp - i;
  for (Eigen::Index t = 0; t < rest; ++t)
    for (Eigen::Index m = 0; m < k; ++m) out[i + t + m * ldo] = X[(i + t) * W + m];
}

/// The products of two sets of sample_group samples in the sample-major layout of
/// lower_block_sample_product: out[l sample_group + m] = sum_i X[i sample_group + m]
/// Y[i sample_group + l] over the dp features i, for every m, l < sample_group (X Y' of the
/// sample rows), one packet of samples times one broadcast per FMA; in the same pass
/// xw[m] = sum_i w_i X[i sample_group + m] and xq[m] = sum_i q_i X[i sample_group + m]^2
/// over the first d features, and xx[m] = sum_i X[i sample_group + m]^2. No allocation.
template <class Scalar>
inline void sample_cross(const Scalar* X, const Scalar* Y, Eigen::Index dp, const Scalar* w,
                         Eigen::Index d, const Scalar* q, Scalar* out, Scalar* xw, Scalar* xx,
                         Scalar* xq) noexcept {
  using namespace Eigen::internal;
  using SP = rung_packet<Scalar, ladder_kind<Scalar>(sample_group)>;
  constexpr Eigen::Index L = lanes<SP>;
  constexpr Eigen::Index W = sample_group;
  constexpr Eigen::Index S = W / L;
  constexpr auto uW = static_cast<std::size_t>(W), uS = static_cast<std::size_t>(S);
  const SP zero = pset1<SP>(Scalar(0));
  SP acc[uW][uS], aw[uS], ax[uS], aq[uS];
  for (Eigen::Index s = 0; s < S; ++s) {
    for (Eigen::Index l = 0; l < W; ++l) acc[l][s] = zero;
    aw[s] = zero;
    ax[s] = zero;
    aq[s] = zero;
  }
  for (Eigen::Index i = 0; i < dp; ++i) {
    SP xs[uS];
    for (Eigen::Index s = 0; s < S; ++s) xs[s] = ploadu<SP>(X + i * W + s * L);
    for (Eigen::Index l = 0; l < W; ++l) {
      const SP b = pset1<SP>(Y[i * W + l]);
      for (Eigen::Index s = 0; s < S; ++s) acc[l][s] = fmadd(xs[s], b, acc[l][s]);
    }
    const SP wi = pset1<SP>(i < d ? w[i] : Scalar(0));
    const SP qi = pset1<SP>(i < d ? q[i] : Scalar(0));
    for (Eigen::Index s = 0; s < S; ++s) {
      aw[s] = fmadd(xs[s], wi, aw[s]);
      const SP x2 = pmul(xs[s], xs[s]);
      ax[s] = padd(x2, ax[s]);
      aq[s] = fmadd(x2, qi, aq[s]);
    }
  }
  for (Eigen::Index s = 0; s < S; ++s) {
    for (Eigen::Index l = 0; l < W; ++l) pstoreu(out + l * W + s * L, acc[l][s]);
    pstoreu(xw + s * L, aw[s]);
    pstoreu(xx + s * L, ax[s]);
    pstoreu(xq + s * L, aq[s]);
  }
}

/// The k rank-1 steps of a chunk of update_block from their scalars, in one pass over the
/// rows (packets of rung Packet) with each row's k entries worked in turn:
///   g_m = G_m - sum_{l<m} v_l u[l W + m],  v_m = r_m g_m (stored over G_m),
///   dw += kg_m g_m,  t = fma(-v_m, v_m, t) from t = q (the diagonal of Q), in m order,
/// with W = sample_group. t is rounded exactly as the rank-k downdate rounds the diagonal
/// it stores. Returns false when an entry of the final t among the first d (ind_i = 1)
/// is <= 0 or not a number: every step only lowers t (t - v^2 rounds to at most t), so no
/// earlier one is then positive either way and the final one decides. No allocation.
template <class Packet, class Scalar>
[[nodiscard]] inline bool chunk_steps(Scalar* G, Eigen::Index ldg, Eigen::Index dp,
                                      Eigen::Index k, const Scalar* u, const Scalar* r,
                                      const Scalar* kg, const Scalar* q, const Scalar* ind,
                                      Scalar* dw) noexcept {
  using namespace Eigen::internal;
  constexpr Eigen::Index n = lanes<Packet>;
  constexpr Eigen::Index W = sample_group;
  const Packet zero = pset1<Packet>(Scalar(0));
  Packet bad = zero;
  for (Eigen::Index i = 0; i < dp; i += n) {
    Packet t = ploadu<Packet>(q + i);
    Packet acc = zero;
    for (Eigen::Index m = 0; m < k; ++m) {
      Packet g = ploadu<Packet>(G + m * ldg + i);
      for (Eigen::Index l = 0; l < m; ++l)
        g = fnmadd(ploadu<Packet>(G + l * ldg + i), pset1<Packet>(u[l * W + m]), g);
      acc = fmadd(g, pset1<Packet>(kg[m]), acc);
      const Packet v = pmul(g, pset1<Packet>(r[m]));
      pstoreu(G + m * ldg + i, v);
      t = fnmadd(v, v, t);
    }
    pstoreu(dw + i, acc);
    // A failing real lane: t <= 0 (compare mask), or NaN (unordered: both compares false).
    const Packet real = pcmp_lt(zero, ploadu<Packet>(ind + i));
    const Packet ok = pcmp_lt(zero, t);
    bad = por(bad, pandnot(real, ok));
  }
  // Read as bits, not as numbers (a mask lane is a NaN).
  Scalar lanes_of_bad[static_cast<std::size_t>(n)];
  pstoreu(lanes_of_bad, bad);
  const Scalar none(0);
  for (const Scalar& b : lanes_of_bad)
    if (std::memcmp(&b, &none, sizeof(Scalar)) != 0) return false;
  return true;
}

/// lower_block_matvec with the packet of rung FixedKind, or of `kind` (on_rung).
template <int FixedKind, Eigen::Index FixedDp = 0, class Scalar>
[[nodiscard]] inline Scalar lower_block_matvec_on(int kind, const Scalar* Q, Eigen::Index dp,
                                                  const Scalar* x, Scalar* g) noexcept {
  return on_rung<FixedKind, Scalar>(kind, [&]<class Packet>(std::type_identity<Packet>) {
    return lower_block_matvec<Packet, FixedDp>(Q, dp, x, g);
  });
}

/// The pass of an update (lower_block_pass: Q <- Q - v v' first when `downdate`, then
/// g = Q x) that also writes the stored part of Q as it was loaded to `keep`, with the packet
/// of rung FixedKind, or of `kind` (on_rung). Returns x'g. No allocation.
template <int FixedKind, Eigen::Index FixedDp = 0, class Scalar>
[[nodiscard]] inline Scalar lower_block_pass_keep_on(int kind, bool downdate, Scalar* Q,
                                                     Eigen::Index dp, const Scalar* v,
                                                     const Scalar* x, Scalar* g,
                                                     Scalar* keep) noexcept {
  return on_rung<FixedKind, Scalar>(kind, [&]<class Packet>(std::type_identity<Packet>) {
    return downdate ? lower_block_pass<Packet, true, FixedDp, true>(Q, dp, v, x, g, keep)
                    : lower_block_pass<Packet, false, FixedDp, true>(Q, dp, x, x, g, keep);
  });
}

/// The rank-1 step of an update and its checked diagonal, in one pass over dp entries:
/// v = g r (r the scale sqrt(c / s); v may be g itself), out_i = fma(v_i, -v_i, q_i) for the
/// diagonal q of Q, rounded exactly as the downdate kernels round Q_ii, and the sum of
/// out_i * ind_i, where ind is 1 for the first d entries and 0 for the padding (whose q_i
/// must be > 0 and g_i zero, so only real entries can fail the check). Returns the trace,
/// or -1 when an entry would not stay > 0 or is not a number (refused: a necessary condition
/// of positive definiteness). The check costs one compare and one addition per packet: a
/// failing lane's compare mask (all bits set, a NaN) is added into the sum, so one
/// reduction answers both. O(dp), in packets. No allocation.
template <class Packet, class Scalar>
[[nodiscard]] inline Scalar downdated_diagonal(const Scalar* q, const Scalar* ind,
                                               Eigen::Index dp, const Scalar* g, Scalar r,
                                               Scalar* v, Scalar* out) noexcept {
  using namespace Eigen::internal;
  constexpr Eigen::Index n = lanes<Packet>;
  const Packet rr = pset1<Packet>(r);
  // t > 0 fails when t <= 0, caught by the compare (a comparison with zero, so it holds
  // with denormals treated as zero too: a subnormal t is then refused, never a zero one),
  // or when t is NaN, caught by the sum (a NaN term, even times the 0 of the padding,
  // makes it NaN).
  const Packet zero = pset1<Packet>(Scalar(0));
  Packet sum = zero;
  for (Eigen::Index i = 0; i < dp; i += n) {
    const Packet vi = pmul(ploadu<Packet>(g + i), rr);
    pstoreu(v + i, vi);
    const Packet t = fnmadd(vi, vi, ploadu<Packet>(q + i));
    pstoreu(out + i, t);
    sum = padd(fmadd(t, ploadu<Packet>(ind + i), sum), pcmp_le(t, zero));
  }
  const Scalar total = lane_sum(sum);
  return total > Scalar(0) && total < std::numeric_limits<Scalar>::infinity() ? total
                                                                               : Scalar(-1);
}

/// downdated_diagonal with the packet of rung FixedKind, or of `kind` (on_rung).
template <int FixedKind, class Scalar>
[[nodiscard]] inline Scalar downdated_diagonal_on(int kind, const Scalar* q, const Scalar* ind,
                                                  Eigen::Index dp, const Scalar* g, Scalar r,
                                                  Scalar* v, Scalar* out) noexcept {
  return on_rung<FixedKind, Scalar>(kind, [&]<class Packet>(std::type_identity<Packet>) {
    return downdated_diagonal<Packet>(q, ind, dp, g, r, v, out);
  });
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace livefit::detail

#endif  // LIVEFIT_MODELS_DETAIL_KERNELS_HPP
