// Tests of the packet kernels under livefit::rls (include/livefit/models/detail/kernels.hpp),
// on every packet width Eigen offers in the build (the x86 builds take a different lane-sum
// code path per width), against scalar references in long double.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#if defined(__SSE2__) || defined(_M_X64)
#include <xmmintrin.h>
#define LIVEFIT_TEST_HAVE_MXCSR 1
#endif

#include "catch.hpp"
#include "livefit/models/detail/kernels.hpp"

namespace {

using livefit::detail::ladder_lanes;
using livefit::detail::rung_packet;

template <class S>
using aligned_vector = std::vector<S, Eigen::aligned_allocator<S>>;

// Calls f.template operator()<Packet>() for the packet of every rung 0..3 of S.
template <class S, class F>
void for_each_rung(F&& f) {
  [&]<int... k>(std::integer_sequence<int, k...>) {
    (f.template operator()<rung_packet<S, k>>(), ...);
  }(std::make_integer_sequence<int, 4>{});
}

template <class S>
double eps_of() {
  return static_cast<double>(std::numeric_limits<S>::epsilon());
}

// Symmetric positive definite dp x dp matrix (zero padding beyond d) with a dominant
// diagonal, and its lower-block storage for packets of n lanes (upper blocks left at zero).
template <class S>
struct sym_case {
  Eigen::Index d, dp, n;
  Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic> full;
  aligned_vector<S> stored;
  sym_case(Eigen::Index dim, Eigen::Index lanes, std::mt19937_64& rng)
      : d(dim), dp((dim + lanes - 1) / lanes * lanes), n(lanes) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    full.setZero(dp, dp);
    for (Eigen::Index j = 0; j < d; ++j)
      for (Eigen::Index i = j; i < d; ++i) {
        const auto v = static_cast<long double>(static_cast<S>(u(rng)));
        full(i, j) = full(j, i) = i == j ? v + static_cast<long double>(2 * d) : v;
      }
    for (Eigen::Index i = d; i < dp; ++i) full(i, i) = 1;  // padding, as rls keeps it
    stored.assign(static_cast<std::size_t>(dp * dp), S(0));
    for (Eigen::Index j = 0; j < dp; ++j)
      for (Eigen::Index i = j / n * n; i < dp; ++i)
        stored[static_cast<std::size_t>(i + j * dp)] = static_cast<S>(full(i, j));
  }
};

template <class S>
aligned_vector<S> random_vector(Eigen::Index d, Eigen::Index dp, double scale,
                                std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-scale, scale);
  aligned_vector<S> x(static_cast<std::size_t>(dp), S(0));
  for (Eigen::Index i = 0; i < d; ++i) x[static_cast<std::size_t>(i)] = static_cast<S>(u(rng));
  return x;
}

}  // namespace

// Lane c of the result is the sum of the lanes of t[c]. Reference: the same sums in long
// double; tolerance n eps times the sum of magnitudes (a sum of n terms, any order).
TEMPLATE_TEST_CASE("rls kernels: transposed_sums on every packet width", "[models][rls]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> u(-10.0, 10.0);
  for_each_rung<S>([&]<class Packet>() {
    constexpr Eigen::Index n = livefit::detail::lanes<Packet>;
    constexpr auto un = static_cast<std::size_t>(n);
    INFO("lanes " << n);
    alignas(64) S in[un * un];
    for (auto& v : in) v = static_cast<S>(u(rng));
    Packet t[un];
    for (Eigen::Index c = 0; c < n; ++c) t[c] = Eigen::internal::ploadu<Packet>(in + c * n);
    alignas(64) S out[un];
    Eigen::internal::pstoreu(out, livefit::detail::transposed_sums(t));
    for (Eigen::Index c = 0; c < n; ++c) {
      long double ref = 0, mag = 0;
      for (Eigen::Index l = 0; l < n; ++l) {
        ref += in[c * n + l];
        mag += std::fabs(static_cast<long double>(in[c * n + l]));
      }
      CHECK(std::fabs(static_cast<long double>(out[c]) - ref) <=
            static_cast<long double>(n) * eps_of<S>() * mag);
    }
  });
}

// One fused pass: the stored entries must be bit-identical to the rank-1 downdate kernel
// (fma(-v_i, v_j, Q_ij) per entry), h = (Q - v v') x within d eps |Q - v v'| |x| of a long
// double reference on the stored values, and the returned x'h consistent with h.
TEMPLATE_TEST_CASE("rls kernels: the fused pass equals a downdate then a product",
                   "[models][rls]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(29);
  for_each_rung<S>([&]<class Packet>() {
    constexpr Eigen::Index n = livefit::detail::lanes<Packet>;
    for (const Eigen::Index d : {Eigen::Index(1), n, 2 * n + 1, 3 * n, 5 * n - 1}) {
      INFO("lanes " << n << ", d = " << d);
      sym_case<S> q(d, n, rng);
      const auto x = random_vector<S>(d, q.dp, 1.0, rng);
      const auto v = random_vector<S>(d, q.dp, 0.5, rng);
      aligned_vector<S> fused = q.stored, twin = q.stored;
      aligned_vector<S> h(static_cast<std::size_t>(q.dp));
      const S xh = livefit::detail::lower_block_downdate_matvec<Packet>(
          fused.data(), q.dp, v.data(), x.data(), h.data());
      livefit::detail::lower_block_rank_downdate<Packet>(twin.data(), q.dp, v.data(), q.dp, 1);
      CHECK(std::memcmp(fused.data(), twin.data(), fused.size() * sizeof(S)) == 0);
      // Reference product on the downdated stored triangle, mirrored.
      long double xh_ref = 0, mag_all = 0;
      for (Eigen::Index i = 0; i < q.dp; ++i) {
        long double ref = 0, mag = 0;
        for (Eigen::Index j = 0; j < q.dp; ++j) {
          const Eigen::Index r = std::max(i, j), c = std::min(i, j);
          const long double e = twin[static_cast<std::size_t>(r + c * q.dp)];
          ref += e * x[static_cast<std::size_t>(j)];
          mag += std::fabs(e * x[static_cast<std::size_t>(j)]);
        }
        CHECK(std::fabs(h[static_cast<std::size_t>(i)] - ref) <=
              static_cast<long double>(2 * q.dp) * eps_of<S>() * mag);
        xh_ref += ref * x[static_cast<std::size_t>(i)];
        mag_all += mag * std::fabs(static_cast<long double>(x[static_cast<std::size_t>(i)]));
      }
      CHECK(std::fabs(xh - xh_ref) <=
            static_cast<long double>(4 * q.dp) * eps_of<S>() * mag_all);
      // Without the step the pass reads Q and writes nothing.
      aligned_vector<S> ro = twin;
      static_cast<void>(
          livefit::detail::lower_block_matvec<Packet>(ro.data(), q.dp, x.data(), h.data()));
      CHECK(std::memcmp(ro.data(), twin.data(), ro.size() * sizeof(S)) == 0);
      // With Keep, both passes compute bit for bit as without it, and also write the stored
      // part of Q as it was loaded (before the step) to keep, and nothing else there.
      const S sentinel = S(-7.25);
      for (const bool step : {true, false}) {
        INFO("keep, with the step: " << step);
        aligned_vector<S> qk = q.stored, keep(q.stored.size(), sentinel);
        aligned_vector<S> hk(static_cast<std::size_t>(q.dp));
        const S xk =
            step ? livefit::detail::lower_block_pass<Packet, true, 0, true>(
                       qk.data(), q.dp, v.data(), x.data(), hk.data(), keep.data())
                 : livefit::detail::lower_block_pass<Packet, false, 0, true>(
                       qk.data(), q.dp, x.data(), x.data(), hk.data(), keep.data());
        aligned_vector<S> qr = q.stored, hr(static_cast<std::size_t>(q.dp));
        const S xr =
            step ? livefit::detail::lower_block_downdate_matvec<Packet>(qr.data(), q.dp, v.data(),
                                                                        x.data(), hr.data())
                 : livefit::detail::lower_block_matvec<Packet>(qr.data(), q.dp, x.data(),
                                                               hr.data());
        CHECK(xk == xr);  // finite sums: equal values are equal bits but for the sign of 0
        CHECK(std::memcmp(hk.data(), hr.data(), hk.size() * sizeof(S)) == 0);
        CHECK(std::memcmp(qk.data(), qr.data(), qk.size() * sizeof(S)) == 0);
        for (Eigen::Index j = 0; j < q.dp; ++j)
          for (Eigen::Index i = 0; i < q.dp; ++i) {
            const auto at = static_cast<std::size_t>(i + j * q.dp);
            const bool stored = i >= j / n * n;
            CHECK(std::memcmp(&keep[at], stored ? &q.stored[at] : &sentinel, sizeof(S)) == 0);
          }
      }
    }
  });
}

// The candidate diagonal: v = g r, out_i = fma(v_i, -v_i, q_i) bit for bit, the trace over
// the first d entries, and -1 for an entry that would reach 0 or below, or is NaN.
TEMPLATE_TEST_CASE("rls kernels: downdated_diagonal checks every entry", "[models][rls]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(31);
  for_each_rung<S>([&]<class Packet>() {
    constexpr Eigen::Index n = livefit::detail::lanes<Packet>;
    const Eigen::Index d = 3 * n - (n > 1 ? 1 : 0), dp = 3 * n;
    INFO("lanes " << n << ", d = " << d);
    aligned_vector<S> q(static_cast<std::size_t>(dp), S(1)), ind(q.size(), S(0));
    std::uniform_real_distribution<double> u(1.0, 4.0);
    for (Eigen::Index i = 0; i < d; ++i) {
      q[static_cast<std::size_t>(i)] = static_cast<S>(u(rng));
      ind[static_cast<std::size_t>(i)] = S(1);
    }
    auto g = random_vector<S>(d, dp, 1.0, rng);
    const S r = S(0.75);
    aligned_vector<S> v(q.size()), out(q.size());
    const S tr = livefit::detail::downdated_diagonal<Packet>(q.data(), ind.data(), dp, g.data(),
                                                            r, v.data(), out.data());
    long double ref = 0;
    for (Eigen::Index i = 0; i < dp; ++i) {
      const auto k = static_cast<std::size_t>(i);
      CHECK(v[k] == g[k] * r);
      CHECK(out[k] == livefit::detail::fnms(q[k], v[k], v[k]));
      if (i < d) ref += out[k];
    }
    CHECK(std::fabs(tr - ref) <= static_cast<long double>(dp) * eps_of<S>() * ref);
    // The trace (or -1) at r = 1/2 for a changed diagonal q2 and g2.
    const auto trace_at_half = [&](const aligned_vector<S>& q2, const aligned_vector<S>& g2) {
      return livefit::detail::downdated_diagonal<Packet>(q2.data(), ind.data(), dp, g2.data(),
                                                         S(0.5), v.data(), out.data());
    };
    // One entry driven to exactly 0 (q_i = 1, g_i = 2, r = 1/2: v_i = 1 exactly), in the
    // last real lane, then a NaN in the first: both refused.
    for (const Eigen::Index bad : {d - 1, Eigen::Index(0)}) {
      auto g2 = g;
      auto q2 = q;
      const auto k = static_cast<std::size_t>(bad);
      q2[k] = S(1);
      g2[k] = bad == 0 ? std::numeric_limits<S>::quiet_NaN() : S(2);
      CHECK(trace_at_half(q2, g2) == S(-1));
    }
    // A negative entry (q_i = 1, v_i = 2) and an infinite one are refused; a positive
    // subnormal entry is accepted (IEEE mode: it is > 0).
    {
      const auto k = static_cast<std::size_t>(d / 2);
      auto g2 = g;
      auto q2 = q;
      q2[k] = S(1);
      g2[k] = S(4);
      CHECK(trace_at_half(q2, g2) == S(-1));
      q2 = q;
      q2[k] = std::numeric_limits<S>::infinity();
      CHECK(trace_at_half(q2, g) == S(-1));
      g2 = g;
      q2 = q;
      g2[k] = S(0);
      q2[k] = std::numeric_limits<S>::denorm_min();
      CHECK(trace_at_half(q2, g2) > S(0));
    }
    // A mutation check of the test itself: the unchanged input passes at r = 1/2 too.
    CHECK(trace_at_half(q, g) > S(0));
  });
}

#if defined(LIVEFIT_TEST_HAVE_MXCSR)
// Programs built with -ffast-math (GCC's crtfastmath) run with denormals-are-zero and
// flush-to-zero set for the whole process. The check must still refuse a diagonal entry that
// would become exactly 0 (it compared against the smallest subnormal once, which reads as 0
// in that mode, and let the zero through).
TEMPLATE_TEST_CASE("rls kernels: the diagonal check holds with denormals treated as zero",
                   "[models][rls]", float, double) {
  using S = TestType;
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u);  // FTZ (bit 15) and DAZ (bit 6)
  int refused = 0, rungs = 0;
  for_each_rung<S>([&]<class Packet>() {
    constexpr Eigen::Index n = livefit::detail::lanes<Packet>;
    const Eigen::Index dp = 2 * n;
    aligned_vector<S> q(static_cast<std::size_t>(dp), S(3)), ind(q.size(), S(1));
    aligned_vector<S> g(q.size(), S(1)), v(q.size()), out(q.size());
    q.back() = S(1);
    g.back() = S(2);  // v = 1 at r = 1/2: the last entry becomes 1 - 1 = 0
    ++rungs;
    refused += livefit::detail::downdated_diagonal<Packet>(q.data(), ind.data(), dp, g.data(),
                                                           S(0.5), v.data(), out.data()) == S(-1);
  });
  _mm_setcsr(saved);
  CHECK(refused == rungs);
}
#endif

// The rank-k downdate in tiles of up to three row blocks: every stored entry must be its own
// chain fma(-H_im, H_jm, ...) in m order, bit for bit (the staged diagonal of update_block is
// checked on those exact values), for dimensions that leave 0, 1 and 2 row blocks after the
// last whole tile, with a column stride larger than dp; blocks above the diagonal untouched.
// The pass that also keeps Q as it was (update_block's backup for a block of several chunks)
// must give the same bits, and a kept copy equal to the input on the stored part with the
// rest of the destination untouched.
TEMPLATE_TEST_CASE("rls kernels: the rank-k downdate gives every entry its chain",
                   "[models][rls]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(37);
  for_each_rung<S>([&]<class Packet>() {
    constexpr Eigen::Index n = livefit::detail::lanes<Packet>;
    for (const Eigen::Index d : {Eigen::Index(1), n, 2 * n + 1, 3 * n, 5 * n - 1, 7 * n})
      for (const Eigen::Index k : {1, 3, 8}) {
        INFO("lanes " << n << ", d = " << d << ", k = " << k);
        sym_case<S> q(d, n, rng);
        const Eigen::Index ldh = q.dp + n;
        aligned_vector<S> H(static_cast<std::size_t>(ldh * k), S(0));
        for (Eigen::Index m = 0; m < k; ++m) {
          const auto col = random_vector<S>(d, q.dp, 0.5, rng);
          std::copy(col.begin(), col.end(), H.begin() + m * ldh);
        }
        aligned_vector<S> out = q.stored, kept_out = q.stored;
        aligned_vector<S> kept(q.stored.size(), S(-7));  // -7: a value Q never holds
        livefit::detail::lower_block_rank_downdate<Packet>(out.data(), q.dp, H.data(), ldh, k);
        livefit::detail::lower_block_rank_downdate<Packet>(kept_out.data(), q.dp, H.data(),
                                                           ldh, k, kept.data());
        long mismatches = 0, kept_mismatches = 0;
        for (Eigen::Index j = 0; j < q.dp; ++j)
          for (Eigen::Index i = 0; i < q.dp; ++i) {
            const auto at = static_cast<std::size_t>(i + j * q.dp);
            S want = q.stored[at];
            const bool stored = i >= j / n * n;
            if (stored)
              for (Eigen::Index m = 0; m < k; ++m)
                want = livefit::detail::fnms(want, H[static_cast<std::size_t>(i + m * ldh)],
                                             H[static_cast<std::size_t>(j + m * ldh)]);
            mismatches += std::memcmp(&want, &out[at], sizeof(S)) != 0;
            mismatches += std::memcmp(&want, &kept_out[at], sizeof(S)) != 0;
            const S keep_want = stored ? q.stored[at] : S(-7);
            kept_mismatches += std::memcmp(&keep_want, &kept[at], sizeof(S)) != 0;
          }
        CHECK(mismatches == 0);
        CHECK(kept_mismatches == 0);
      }
  });
}

// G = Q X with the samples side by side (lower_block_sample_product, through the run-time
// rung choice of rls), its transpose to columns (sample_columns: exact copies, columns from
// k on untouched) and the sample cross products X G' (sample_cross). References in long
// double on the stored values; tolerances 2 dp eps times the sum of magnitudes (sums of dp
// products, any order).
TEMPLATE_TEST_CASE("rls kernels: the sample-major product, transpose and cross products",
                   "[models][rls]", float, double) {
  using S = TestType;
  using livefit::detail::sample_group;
  constexpr auto W = static_cast<std::size_t>(sample_group);
  std::mt19937_64 rng(41);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  [&]<int... kind>(std::integer_sequence<int, kind...>) {
    (([&] {
       const Eigen::Index n = ladder_lanes<S>(kind);
       for (const Eigen::Index d : {Eigen::Index(1), n, 2 * n + 1, 4 * n - 1})
         for (const Eigen::Index k : {1, 3, 8}) {
           INFO("rung " << kind << " (lanes " << n << "), d = " << d << ", k = " << k);
           sym_case<S> q(d, n, rng);
           const auto dp = static_cast<std::size_t>(q.dp);
           aligned_vector<S> X(dp * W, S(0)), G(dp * W, S(7));
           for (std::size_t i = 0; i < static_cast<std::size_t>(d); ++i)
             for (std::size_t m = 0; m < static_cast<std::size_t>(k); ++m)
               X[i * W + m] = static_cast<S>(u(rng));
           livefit::detail::lower_block_sample_product_on<-1>(kind, q.stored.data(), q.dp,
                                                              X.data(), G.data(), k);
           const auto tol = static_cast<long double>(2 * q.dp) * eps_of<S>();
           for (std::size_t i = 0; i < dp; ++i)
             for (std::size_t m = 0; m < static_cast<std::size_t>(k); ++m) {
               long double ref = 0, mag = 0;
               for (std::size_t j = 0; j < dp; ++j) {
                 const long double p = q.full(static_cast<Eigen::Index>(i),
                                              static_cast<Eigen::Index>(j)) *
                                       static_cast<long double>(X[j * W + m]);
                 ref += p;
                 mag += std::fabs(p);
               }
               CHECK(std::fabs(G[i * W + m] - ref) <= tol * mag);
             }
           // Transpose into columns of stride dp + 1, with a sentinel beyond column k.
           const std::size_t ld = dp + 1;
           aligned_vector<S> cols(ld * (W + 1), S(-3));
           livefit::detail::sample_columns(G.data(), q.dp, k, cols.data(),
                                           static_cast<Eigen::Index>(ld));
           long wrong = 0;
           for (std::size_t m = 0; m <= W; ++m)
             for (std::size_t i = 0; i < ld; ++i) {
               const S want = m < static_cast<std::size_t>(k) && i < dp ? G[i * W + m] : S(-3);
               wrong += std::memcmp(&want, &cols[i + m * ld], sizeof(S)) != 0;
             }
           CHECK(wrong == 0);
           // Cross products of the k samples: A[l W + m] = x_m'g_l; with a weight vector
           // and a positive diagonal of d entries, xw[m] = w'x_m, xq[m] = sum_i
           // diag_i x_im^2 and xx[m] = |x_m|^2.
           alignas(64) S A[W * W], xw[W], xx[W], xq[W];
           const auto w = random_vector<S>(d, d, 1.0, rng);
           auto diag = random_vector<S>(d, d, 1.0, rng);
           for (auto& e : diag) e = std::fabs(e);
           livefit::detail::sample_cross(X.data(), G.data(), q.dp, w.data(), d, diag.data(), A,
                                         xw, xx, xq);
           for (std::size_t m = 0; m < static_cast<std::size_t>(k); ++m) {
             long double rw = 0, mw = 0, rx = 0, rq = 0;
             for (std::size_t i = 0; i < static_cast<std::size_t>(d); ++i) {
               const long double x = X[i * W + m];
               rw += x * w[i];
               mw += std::fabs(x * w[i]);
               rx += x * x;
               rq += x * x * diag[i];
             }
             CHECK(std::fabs(xw[m] - rw) <= tol * mw);
             CHECK(std::fabs(xx[m] - rx) <= tol * rx);
             CHECK(std::fabs(xq[m] - rq) <= tol * rq);
           }
           for (std::size_t l = 0; l < static_cast<std::size_t>(k); ++l)
             for (std::size_t m = 0; m < static_cast<std::size_t>(k); ++m) {
               long double ref = 0, mag = 0;
               for (std::size_t i = 0; i < dp; ++i) {
                 const long double p = static_cast<long double>(X[i * W + m]) * G[i * W + l];
                 ref += p;
                 mag += std::fabs(p);
               }
               CHECK(std::fabs(A[l * W + m] - ref) <= tol * mag);
             }
         }
     }()),
     ...);
  }(std::make_integer_sequence<int, 4>{});
}

// transpose_into: every entry moved exactly, for block sizes around the packet tiles
// (whole tiles, remainders in rows, in columns, in both, none at all), with column strides
// larger than the sizes; the padding of out is left as it was.
TEMPLATE_TEST_CASE("rls kernels: transpose_into moves every entry and nothing else",
                   "[models][rls]", float, double) {
  using S = TestType;
  const S sentinel = S(-3.5);
  for (Eigen::Index k = 0; k <= 19; ++k)
    for (Eigen::Index d = 1; d <= 19; ++d) {
      INFO("k = " << k << ", d = " << d);
      const Eigen::Index ldx = k + 3, ldo = d + 2;
      std::vector<S> X(static_cast<std::size_t>(ldx * d));
      for (std::size_t i = 0; i < X.size(); ++i) X[i] = static_cast<S>(i) + S(0.25);
      std::vector<S> out(static_cast<std::size_t>(ldo * std::max<Eigen::Index>(k, 1)), sentinel);
      livefit::detail::transpose_into(X.data(), ldx, k, d, out.data(), ldo);
      bool exact = true;
      for (Eigen::Index r = 0; r < std::max<Eigen::Index>(k, 1); ++r)
        for (Eigen::Index i = 0; i < ldo; ++i) {
          const S want = r < k && i < d ? X[static_cast<std::size_t>(r + i * ldx)] : sentinel;
          exact = exact && out[static_cast<std::size_t>(i + r * ldo)] == want;
        }
      CHECK(exact);
    }
}
