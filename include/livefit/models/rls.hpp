// Recursive least squares with exponential forgetting, a ridge prior and bounded-trace
// anti-windup.
#ifndef LIVEFIT_MODELS_RLS_HPP
#define LIVEFIT_MODELS_RLS_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/models/detail/checks.hpp"
#include "livefit/models/detail/kernels.hpp"

// GCC 12 with AVX-512 reports the deliberately undefined halves inside Eigen's lane
// reductions and transposes (_mm256_undefined_pd and the like) as maybe used uninitialized
// once they are inlined into this header's functions; the values are never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace livefit {

/// How `rls::update_block` folds its rows in (see there).
enum class rls_block_method : std::uint8_t {
  automatic,  ///< kernels in builds with fused multiply-add, rows otherwise
  kernels,    ///< the block kernels: rank-k passes over P, rows side by side in packets
  rows,       ///< update() row by row, with the state kept aside for all-or-nothing
};

/// Settings of an `rls` model.
struct rls_options {
  /// lambda, the weight kept by the past at each update, in (0, 1]. 1 = ordinary (ridge)
  /// least squares over all history; 0.99 = an effective memory of 100 samples. Default 1.
  double forgetting_factor = 1.0;
  /// delta > 0, the ridge of the prior: P0 = I / delta, i.e. the model starts as the ridge
  /// solution with penalty delta * |w|^2 (decayed by lambda^n like the data). Small values
  /// start close to ordinary least squares; in float keep delta >= 1e-3 of the scale of
  /// x'x, since the first updates cancel about log10(x'x / delta) digits. Far below that
  /// (x'x / delta > lambda / (2 eps), about 4e6 in float) the precision check refuses
  /// the first rows, and since a refused row leaves P at the prior, every later row of that
  /// scale too: the model stays at its prior and every update returns numerical_failure.
  /// Default 1e-2.
  double ridge = 1e-2;
  /// Upper bound on trace(P), in units of 1 / feature^2; 0 = automatic, 1e3 * trace(P0) =
  /// 1e3 * dim / ridge. This is the anti-windup rule: when an update would push trace(P)
  /// above the bound (lambda < 1 and input that stops exciting some directions), P is
  /// scaled down to the bound instead of growing without end. Must be >= trace(P0).
  double max_trace = 0.0;
  /// Largest number of rows `update_block` takes in one call (its scratch is sized in
  /// make()); 0 disables block updates. Default 32.
  Eigen::Index max_block = 32;
  /// How update_block works; automatic picks what measured faster for the build.
  rls_block_method block_method = rls_block_method::automatic;
};

/// Recursive least squares (RLS) with forgetting factor lambda and ridge prior P0 = I/delta.
///
/// After n updates with samples (x_i, y_i) the coefficients minimise
///   sum_i lambda^(n-i) (y_i - x_i'w)^2 + lambda^n delta |w|^2,
/// the exponentially weighted ridge solution, and P = (lambda^n delta I + sum_i lambda^(n-i)
/// x_i x_i')^-1 (Haykin, Adaptive Filter Theory, 4th ed., section 9.6, table 9.1), until the
/// anti-windup bound below acts.
///
/// Storage: P = c Q, a scale c times a symmetric matrix Q of which only the lower block
/// triangle is stored and updated (detail/kernels.hpp: the diagonal blocks of one SIMD packet
/// width in full and the blocks below them, padded with zeros to a multiple of the packet
/// width). The factor 1/lambda of each update goes into c instead of into every entry, and
/// the power-of-two part of c is moved into Q (exactly) when c leaves (2^-32, 2^32) in
/// double or (2^-16, 2^16) in float. Q is about half of a d x d matrix, so a rank-1 step
/// writes half the entries (at d = 64 in double the working set stays in a 32 KB L1 cache).
/// The rank-1 step of an update is deferred: it is kept as the vector v and applied by the
/// next update in the same pass over Q that forms Q x (one load of each stored entry per
/// update instead of two), or before anything else touches the storage (update_block, the
/// scale fold); covariance() and predictive_variance() apply it on the fly, so P is
/// observably the same, bit for bit, as if it had been applied at once.
///
/// Numerical design (what keeps P symmetric positive definite for ever):
/// - Symmetric by construction: the rank-1 step is Q <- Q - v v' with v = Q x sqrt(c / s),
///   s = lambda + x'P x, i.e. P - P x x'P / s. Only one triangle is stored, so covariance()
///   is symmetric by construction; inside the diagonal blocks, where both triangles are
///   stored, entry (i, j) and entry (j, i) are computed by the same fused operation on the
///   same operands (v_i v_j = v_j v_i exactly), so they stay bit-for-bit equal. The textbook
///   form P - k (P x)' is not symmetric, and its asymmetry grows by 1/lambda per update until
///   P loses definiteness (about 3,600 updates on the births data at lambda = 0.99).
/// - Bounded trace (anti-windup): the step scales P - u u' by 1/lambda, or, when that would
///   put trace(P) above max_trace, by the smaller factor that puts it on the bound (one
///   pass; the trace of P - u u' is known beforehand from its diagonal). This is the
///   constant-trace algorithm of Goodwin and Sin (Adaptive Filtering Prediction and Control,
///   1984, section 3.3) and the trace-rescaled update of handout case C06. With zero or
///   non-exciting input the uncertainty therefore stays bounded, and when excitation returns
///   the model converges as from a fresh prior of that trace. Since |P_ij| <= trace(P) <=
///   max_trace <= max / 16, no entry of P can overflow.
/// - Refusal: an update is refused (status::numerical_failure, state unchanged) when
///   x'P x is negative beyond its rounding error (P lost definiteness), when the step's
///   own rounding would be of the size of what it leaves along x (sum_i x_i^2 P_ii >
///   lambda / (2 eps): at the prior P0 = I / 0.01, a row of norm 4.7e6 in double, 2.0e2
///   in float), when a diagonal entry of P would not stay > 0, or when any result would
///   not be finite. Every check runs on the candidate before the first write. Without the
///   second check such rows left an indefinite P that no later update repaired; its
///   estimate is not a worst-case bound (rls::usable has the figures and the limitation).
///
/// LIMITATION: the covariance form works in the scalar's own precision. In float, with
/// lambda < 1 and collinear or long-unexcited directions, cond(P) can reach about the
/// bound / ((1 - lambda) / |x|^2), near 1 / eps; updates then run at rounding level, P
/// can lose definiteness along directions the rows rarely excite, and later updates are
/// refused (state kept). E.g. float, d = 4, lambda = 0.9, ridge 0.01, two constant
/// features and one duplicated one: after the trace reaches its bound nearly every
/// update is refused (at lambda = 0.99 none is). Use double, a smaller max_trace, or remove
/// the collinearity when this matters; a square-root (QR) form would double the usable
/// range at about twice the cost.
///
/// Intercept: the model has no implicit one. with_intercept<rls<Scalar, D>>
/// (models/with_intercept.hpp) appends the constant 1 feature on the way in and predicts
/// w'x + b; the intercept is then regularised by the prior like every other coefficient.
///
/// Cost per update, with dp = d rounded up to the packet width n: 2 dp^2 FLOPs for g = Q x
/// (each stored entry is loaded once and used for both triangles), dp (dp + n) FLOPs for the
/// previous update's rank-1 step on the stored triangle (in the same pass), and about 13d
/// for the dot products, the gain, the scaling of v, the diagonal check and the finiteness
/// checks; one square root and two divisions. That is 3d^2 + O(nd), the minimal count
/// 3d^2 + 7d + 2 of a one-triangle form plus the full diagonal blocks. predict costs one
/// dot product (2d). No allocation after make(). Measured against the machine's arithmetic
/// limit by benchmarks/models_bench.cpp.
/// Thread safety: a const model may be read from several threads; update needs exclusive
/// access.
///
/// @tparam Scalar float or double.
/// @tparam D      the dimension, or Eigen::Dynamic (then given to make()).
template <class Scalar, int D = Eigen::Dynamic>
class rls {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::rls supports float and double scalars only");
  static_assert(D == Eigen::Dynamic || D > 0, "livefit::rls: D must be > 0 or Eigen::Dynamic");

 public:
  using scalar_type = Scalar;                            ///< The scalar type.
  using vector_type = Eigen::Matrix<Scalar, D, 1>;       ///< A feature or coefficient vector.
  using matrix_type = Eigen::Matrix<Scalar, D, D>;       ///< The covariance matrix type.
  using block_type = Eigen::Matrix<Scalar, Eigen::Dynamic, D>;  ///< Rows of samples.
  /// Name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.rls";

 private:
  // The kernels' packet rung and padded dimension, fixed at compile time for a fixed D.
  static constexpr int fixed_kind = D == Eigen::Dynamic ? -1 : detail::ladder_kind<Scalar>(D);
  static constexpr int Dp = D == Eigen::Dynamic
                                ? Eigen::Dynamic
                                : static_cast<int>(detail::padded_dim<Scalar>(D, fixed_kind));
  static constexpr Eigen::Index fixed_dp = Dp == Eigen::Dynamic ? 0 : Dp;
  using padded_vector = Eigen::Matrix<Scalar, Dp, 1>;
  using padded_matrix = Eigen::Matrix<Scalar, Dp, Dp>;
  using padded_block = Eigen::Matrix<Scalar, Dp, Eigen::Dynamic>;
  // Up to sample_group rows of a chunk of update_block, feature by feature (the column of
  // feature i holds its value in each row).
  using sample_block = Eigen::Matrix<Scalar, detail::sample_group, Dp>;

  // covariance(): entry (i, j) of c Q from the stored lower part, with the pending rank-1
  // downdate applied exactly as the kernels apply it (v is zero when none is pending).
  struct lower_view {
    const Scalar* q;
    const Scalar* v;
    Eigen::Index ld;
    Scalar c;
    Scalar operator()(Eigen::Index i, Eigen::Index j) const noexcept {
      return (i >= j ? detail::fnms(q[i + j * ld], v[i], v[j])
                     : detail::fnms(q[j + i * ld], v[j], v[i])) *
             c;
    }
  };

 public:

  /// Validates the options and builds a model at the prior (w = 0, P = I / ridge).
  /// @param opt forgetting factor, ridge and anti-windup bound, each checked against its range.
  /// @param dim the dimension; must equal D for fixed sizes, be > 0 for dynamic ones.
  [[nodiscard]] static result<rls> make(const rls_options& opt, Eigen::Index dim = D) {
    if (auto msg = detail::dim_error<D>("rls", dim); !msg.empty())
      return fail(errc::invalid_argument, std::move(msg));
    // lambda below sqrt(eps) has an effective memory of 1 + lambda samples, i.e. 1 to
    // working precision, and makes s = lambda + x'P x round to x'P x so that the downdate
    // cancels P along x to rounding (about every update refused, issue 4 defect 1); its
    // reciprocal must also be finite in Scalar. Both are refused here, naming the range.
    const double lam = opt.forgetting_factor;
    const double lam_min = min_forgetting_factor();
    if (!(lam >= lam_min && lam <= 1.0))
      return fail(errc::invalid_argument, "rls: forgetting_factor must be in [" +
                                              detail::format_param(lam_min) + ", 1], got " +
                                              detail::format_param(lam));
    // The trace bound caps every entry of P (|P_ij| <= sqrt(P_ii P_jj) <= trace(P)); the cap
    // max / 16 leaves room for the rounding of the scaled downdate and of trace sums.
    const double cap = static_cast<double>(std::numeric_limits<Scalar>::max()) / 16.0;
    const double tr0 = static_cast<double>(dim) / opt.ridge;
    if (!detail::is_normal_positive<Scalar>(opt.ridge) || !(tr0 <= cap))
      return fail(errc::invalid_argument,
                  "rls: ridge must be in [dim * 16 / max, max] of the scalar type (1/ridge "
                  "finite, trace(P0) = dim / ridge <= max / 16), got " +
                      detail::format_param(opt.ridge));
    const double bound = opt.max_trace == 0.0 ? std::min(1e3 * tr0, cap) : opt.max_trace;
    if (!(bound >= tr0 && bound <= cap))
      return fail(errc::invalid_argument,
                  "rls: max_trace must be 0 (automatic) or in [dim / ridge, max / 16] = [" +
                      detail::format_param(tr0) + ", " + detail::format_param(cap) +
                      "], got " + detail::format_param(opt.max_trace));
    if (opt.max_block < 0 || opt.max_block > 4096)
      return fail(errc::invalid_argument, "rls: max_block must be in [0, 4096], got " +
                                              std::to_string(opt.max_block));
    if (opt.block_method != rls_block_method::automatic &&
        opt.block_method != rls_block_method::kernels &&
        opt.block_method != rls_block_method::rows)
      return fail(errc::invalid_argument, "rls: block_method must be automatic, kernels or rows");
    return rls(opt, dim, bound);
  }

  /// The smallest forgetting factor make() accepts for Scalar: sqrt(eps), about 3.5e-4 for
  /// float and 1.5e-8 for double (see make()).
  [[nodiscard]] static double min_forgetting_factor() noexcept {
    return std::sqrt(static_cast<double>(std::numeric_limits<Scalar>::epsilon()));
  }

  /// Folds one sample in: O(d^2), no allocation.
  /// @return ok; non_finite_input or dimension_mismatch for bad input; numerical_failure
  ///         when the update would break P's invariants. On any non-ok status the state is
  ///         bit-identical to before the call.
  /// @post "State" means the observable model: coefficients(), covariance(),
  ///       covariance_trace(), samples_seen() and options(). A refused update may overwrite
  ///       the private scratch vectors (the candidate coefficients and P x), which carry no
  ///       information between calls: every call writes them before reading them; and it
  ///       may have applied the previous update's deferred rank-1 step to the storage (see
  ///       the class notes), which leaves the observable P bit-identical.
  [[nodiscard]] status update(const vector_type& x, scalar_type y) noexcept {
    if (const status s = detail::check_sample(x, y, dim()); s != status::ok) return s;
    return step<false>(x, y, nullptr);
  }

  /// Folds k samples in at once (the rows of X, targets y), with the same result as k
  /// sequential updates up to rounding. In chunks of c <= 8 rows: G = Q X' for the whole
  /// chunk in one pass over the stored triangle, with the c samples side by side in packets
  /// (each stored entry broadcast once and used for both triangles, no lane sums); then the
  /// recurrences of update() row by row, with g_m = Q_m-1 x_m obtained as G_m less the
  /// corrections sum_{l<m} v_l (v_l' x_m) of the steps before, each step with the same
  /// checks and the same scale and trace-bound decisions as update(); finally one rank-c
  /// pass over the stored triangle applies the c downdates (each entry loaded and stored
  /// once per chunk instead of once per row), with the chain of fused operations the staged
  /// diagonal was checked with. When the trace bound cannot act within the chunk (its scale
  /// times trace(Q) stays below the bound for c rows, the usual case), the row recurrences
  /// run on the c x c products X Q X' (scalars) and the vectors follow off that chain.
  /// FLOPs: about 3 d^2 k + O(d k c), as k updates.
  ///
  /// That is the kernels method (options().block_method). The rows method runs update()
  /// row by row with the state kept aside: bit-identical to k updates. automatic takes
  /// kernels where the build has fused multiply-add and rows otherwise: without FMA (the
  /// portable SSE2 build, 16 registers) the kernels' tiles do not fit in registers and
  /// measured 1.4 to 2.9 times slower than k updates. LIMITATION: there, rows measured
  /// about 5-10% more time per row than k calls of update() at d = 16 and 64, up to 20% in
  /// double at k = 8: the portable build gains all-or-nothing from blocks, not speed.
  /// Without FMA each update is bound by its arithmetic (a multiply and an add per
  /// multiply-add), which blocks do not reduce.
  ///
  /// Measured (benchmarks/models_bench.cpp, BM_RlsBlock vs BM_RlsSeq, docs/performance.md):
  /// with AVX-512 and with AVX2, the kernels take less time per row than k calls of update()
  /// at most sizes and about the same at the rest (see the docs for the figures).
  /// LIMITATION: a block of 2 to 7 rows costs as much as 8 in the kernels.
  /// X and y must not be lazy expressions that read this model (they are read chunk by
  /// chunk, in place).
  ///
  /// Chunking: within a chunk g_m carries rounding error relative to Q at the chunk's start,
  /// so chunks are cut where the scale of P has grown 16-fold: lambda^(c-1) >= 1/16, and
  /// c <= 8 (c = min(k, 8) for lambda >= 0.68; at lambda 0.1, 8-row chunks differed from
  /// sequential updates by 1e-7 relative in P in double, 2-row chunks by 1e-10).
  /// LIMITATION: in float at small lambda (0.1, d = 4) the block and sequential results
  /// differ by up to about 1e-2 relative in P (both carry cond(P) eps error; measured 8e-3
  /// on the data of the test at lambda 0.1), and rounding can make a row refused in one path
  /// and accepted in the other; use update() there, or double.
  /// @pre X.rows() == y.size() <= options().max_block
  /// @return as update(); invalid_argument when the block is larger than max_block or the
  ///         row counts differ. All-or-nothing: on failure no row has been applied (the
  ///         state at the start is kept aside when the block runs in several chunks).
  template <class DX, class DY>
  [[nodiscard]] status update_block(const Eigen::MatrixBase<DX>& X,
                                    const Eigen::MatrixBase<DY>& y) noexcept {
    const Eigen::Index k = X.rows();
    if (X.cols() != dim() || y.size() != k) return status::dimension_mismatch;
    if (k > max_block_) return status::invalid_argument;
    if (k == 0) return status::ok;
    if (!detail::all_finite(X) || !detail::all_finite(y)) return status::non_finite_input;
    if (k == 1) {  // one row: update() itself (a chunk costs as much as 8 rows)
      xr_ = X.row(0).transpose();
      return update(xr_, y(0));
    }
    if (by_rows_) return update_rows(X, y);
    apply_pending();
    const Eigen::Index c = std::min(k, chunk_);
    if (c == k) {
      const status st = block_chunk(Q_, c_, w_, X, y);
      if (st != status::ok) return st;
    } else {
      // The chunks run on the model itself, with the state at the start kept aside for a
      // refusal (a refused chunk leaves Q, c and w as they were, so only the chunks before
      // it need undoing): the first chunk's downdate pass writes Q as it was to Qb_.
      const Scalar c0 = c_;
      wb_ = w_;
      for (Eigen::Index r = 0; r < k; r += c) {
        const Eigen::Index m = std::min(c, k - r);
        const status st = block_chunk(Q_, c_, w_, X.middleRows(r, m), y.segment(r, m),
                                      r == 0 ? Qb_.data() : nullptr);
        if (st != status::ok) {
          if (r > 0) {
            copy_lower_blocks(Qb_, Q_);
            c_ = c0;
            w_ = wb_;
          }
          return st;
        }
      }
    }
    sync_diagonal();
    trace_ = c_ * dg_.head(dim()).sum();
    n_ += static_cast<std::uint64_t>(k);
    return status::ok;
  }

  /// The prediction w'x (2d FLOPs). NaN input gives NaN: check inputs with update's status.
  /// LIMITATION: a fixed-size model and a dynamic-size one of the same dimension fed the
  /// same samples hold the same P bit for bit, but their w and predictions can differ by
  /// rounding: Eigen sums the dot products (here and in update) with other packets or
  /// another unrolling for a fixed size than for a dynamic one (seen with AVX-512 at d = 4,
  /// and in SSE2 builds at d = 9 in double and d = 17 in float, not at d = 3, 4 or 5).
  /// (Summing both with the kernels' packets instead cost up to 50% per update in float at
  /// d = 16, measured, and was left out.)
  [[nodiscard]] scalar_type predict(const vector_type& x) const noexcept { return w_.dot(x); }

  /// x'P x: the variance of the prediction w'x due to the uncertainty of w, in units of the
  /// noise variance sigma^2 (P is the inverse information matrix without sigma^2). The
  /// variance of a new observation is sigma^2 (1 + x'P x).
  /// O(d^2), no allocation (column by column, without a temporary P x).
  [[nodiscard]] scalar_type predictive_variance(const vector_type& x) const noexcept {
    // x'P x = c sum_j x_j (Q_jj x_j + 2 sum_{i > j} Q_ij x_i), from the stored lower part
    // with the pending step applied column by column (Q_ij - v_i v_j).
    const Eigen::Index d = dim();
    Scalar acc(0);
    for (Eigen::Index j = 0; j < d; ++j) {
      const Eigen::Index m = d - j - 1;
      const Scalar vj = v_(j);
      const Scalar below =
          (Q_.col(j).segment(j + 1, m) - v_.segment(j + 1, m) * vj).dot(x.tail(m));
      acc += x(j) * (detail::fnms(Q_(j, j), vj, vj) * x(j) + Scalar(2) * below);
    }
    return c_ * acc;
  }

  /// The coefficients w.
  [[nodiscard]] const vector_type& coefficients() const noexcept { return w_; }
  /// P, the (scaled) covariance of w: symmetric positive definite, bit-exactly symmetric.
  /// An Eigen expression (P is stored as a scale times a matrix, see the class notes),
  /// evaluated entry by entry where it is used (element access, comparisons and reductions
  /// allocate nothing; as an operand of a matrix product Eigen first copies it into a
  /// temporary matrix, which allocates for dynamic sizes); assign it to a
  /// matrix_type to keep a copy. It reads this model's storage with the scale of the moment
  /// it was made: evaluate it before the next non-const call, and never after a move.
  [[nodiscard]] auto covariance() const noexcept {
    return matrix_type::NullaryExpr(dim(), dim(),
                                    lower_view{Q_.data(), v_.data(), Q_.rows(), c_});
  }
  /// trace(P), kept by the anti-windup rule at or below options().max_trace up to rounding:
  /// the factor that puts P on the bound is rounded, so the trace can end a few ulp above
  /// it, never more than max_trace (1 + 4 d eps) (the slack set_state and load_state accept,
  /// so a state saved on the bound loads again).
  [[nodiscard]] scalar_type covariance_trace() const noexcept { return trace_; }
  /// The effective memory 1 / (1 - lambda) in samples; +inf at lambda = 1.
  [[nodiscard]] double effective_memory() const noexcept {
    return opt_.forgetting_factor == 1.0 ? std::numeric_limits<double>::infinity()
                                         : 1.0 / (1.0 - opt_.forgetting_factor);
  }
  /// The dimension d.
  [[nodiscard]] Eigen::Index dim() const noexcept { return w_.size(); }
  /// Number of samples folded in since make() or reset() (or carried over by seed_from()).
  [[nodiscard]] std::uint64_t samples_seen() const noexcept { return n_; }
  /// The options, with max_trace resolved to the bound in use.
  [[nodiscard]] rls_options options() const noexcept {
    rls_options o = opt_;
    o.max_trace = static_cast<double>(max_trace_);
    return o;
  }

  /// Returns to the prior: w = 0, P = I / ridge, no samples.
  void reset() noexcept {
    w_.setZero();
    v_.setZero();
    pending_ = false;
    Q_.setZero();
    Q_.diagonal().head(dim()).setConstant(static_cast<Scalar>(1.0 / opt_.ridge));
    c_ = Scalar(1);
    trace_ = Q_.diagonal().head(dim()).sum();
    sync_diagonal();
    n_ = 0;
  }

  /// Takes the champion's full state (coefficients, P, sample count), keeping this model's
  /// own forgetting factor and bounds: the promotion path of a challenger.
  /// @return dimension_mismatch (state unchanged) when the dimensions differ.
  [[nodiscard]] status seed_from(const rls& champion) noexcept {
    if (champion.dim() != dim()) return status::dimension_mismatch;
    w_ = champion.w_;
    Q_ = champion.Q_;
    v_ = champion.v_;
    pending_ = champion.pending_;
    dg_ = champion.dg_;
    c_ = champion.c_;
    trace_ = champion.trace_;
    n_ = champion.n_;
    return status::ok;
  }

  /// Sets the state from outside, e.g. the OLS fit w = (X'X)^-1 X'y and P = (X'X)^-1 of a
  /// warm-up window. P is symmetrised ((P + P')/2) and must be positive definite.
  /// Off the hot path: allocates a Cholesky workspace for dynamic sizes.
  /// @return dimension_mismatch, non_finite_input, or numerical_failure when P is not
  ///         positive definite or its trace is above options().max_trace (the bound every
  ///         update keeps, and load_state checks); the state is unchanged on failure.
  [[nodiscard]] status set_state(const vector_type& w, const matrix_type& P) {
    if (w.size() != dim() || P.rows() != dim() || P.cols() != dim())
      return status::dimension_mismatch;
    if (!detail::all_finite(w) || !detail::all_finite(P)) return status::non_finite_input;
    matrix_type sym = (P + P.transpose()) * Scalar(0.5);
    if (!positive_definite(sym)) return status::numerical_failure;
    const Scalar slack = Scalar(1) + Scalar(4 * dim()) * std::numeric_limits<Scalar>::epsilon();
    if (!(sym.trace() <= max_trace_ * slack)) return status::numerical_failure;
    w_ = w;
    v_.setZero();
    pending_ = false;
    Q_.setZero();
    Q_.topLeftCorner(dim(), dim()) = sym;
    clear_upper_blocks(Q_, kind_);
    sync_diagonal();
    c_ = Scalar(1);
    trace_ = sym.trace();
    return status::ok;
  }

  /// Writes dimension, options, sample count, w and P (see docs/checkpoint format).
  void save_state(byte_writer& out) const {
    out.put_u64(static_cast<std::uint64_t>(dim()));
    out.put_f64(opt_.forgetting_factor);
    out.put_f64(opt_.ridge);
    out.put_scalar(max_trace_);
    out.put_u64(n_);
    out.put_matrix(w_);
    out.put_matrix(covariance());
  }

  /// Reads what save_state wrote, into temporaries; commits only a complete, valid record of
  /// the same dimension whose options pass make(), with finite w and a finite, exactly
  /// symmetric, positive definite P (Cholesky of a copy) whose trace is within the bound.
  /// Off the hot path: allocates the temporaries and, for dynamic sizes, the factorisation.
  /// @return ok, or dimension_mismatch / invalid_argument / non_finite_input /
  ///         numerical_failure with the state unchanged.
  [[nodiscard]] status load_state(byte_reader& in) {
    std::uint64_t d = 0, n = 0;
    double lam = 0, ridge = 0;
    Scalar bound{};
    if (!in.get_u64(d) || !in.get_f64(lam) || !in.get_f64(ridge) || !in.get_scalar(bound) ||
        !in.get_u64(n))
      return status::invalid_argument;
    if (d != static_cast<std::uint64_t>(dim())) return status::dimension_mismatch;
    rls_options o = opt_;
    o.forgetting_factor = lam;
    o.ridge = ridge;
    o.max_trace = static_cast<double>(bound);
    auto fresh = make(o, dim());
    if (!fresh) return status::invalid_argument;
    rls& m = *fresh;
    matrix_type P(dim(), dim());
    if (!in.get_matrix(m.w_) || !in.get_matrix(P)) return status::invalid_argument;
    if (!detail::all_finite(m.w_) || !detail::all_finite(P)) return status::non_finite_input;
    // A symmetric P with positive diagonal can still be indefinite ([[1, 5], [5, 1]]: x'P x
    // = -8 at x = (1, -1), every later update refused; issue 4 defect 4): only a
    // factorisation proves definiteness. The trace may exceed the bound by rounding only.
    if (P != P.transpose() || !(P.diagonal().minCoeff() > Scalar(0)))
      return status::numerical_failure;
    if (!positive_definite(P)) return status::numerical_failure;
    const Scalar slack = Scalar(1) + Scalar(4 * dim()) * std::numeric_limits<Scalar>::epsilon();
    if (!(P.trace() <= m.max_trace_ * slack)) return status::numerical_failure;
    m.Q_.topLeftCorner(dim(), dim()) = P;
    clear_upper_blocks(m.Q_, m.kind_);
    m.sync_diagonal();
    m.n_ = n;
    m.c_ = Scalar(1);
    m.trace_ = P.trace();
    *this = std::move(m);
    return status::ok;
  }

 private:
  rls(const rls_options& opt, Eigen::Index dim, double bound)
      : opt_(opt),
        lambda_(static_cast<Scalar>(opt.forgetting_factor)),
        inv_lambda_(static_cast<Scalar>(1.0 / opt.forgetting_factor)),
        max_trace_(static_cast<Scalar>(bound)),
        max_block_(opt.max_block),
        chunk_(chunk_rows(opt.forgetting_factor)),
        by_rows_(opt.block_method == rls_block_method::rows ||
                 (opt.block_method == rls_block_method::automatic && !detail::fused_madd)),
        w_(vector_type::Zero(dim)),
        wk_(vector_type::Zero(dim)),
        kind_(detail::ladder_kind<Scalar>(dim)),
        g_(padded_vector::Zero(detail::padded_dim<Scalar>(dim, kind_))),
        v_(padded_vector::Zero(detail::padded_dim<Scalar>(dim, kind_))),
        dg_(padded_vector::Ones(detail::padded_dim<Scalar>(dim, kind_))),
        dn_(padded_vector::Zero(detail::padded_dim<Scalar>(dim, kind_))),
        ind_(padded_vector::Zero(detail::padded_dim<Scalar>(dim, kind_))),
        xp_(padded_vector::Zero(detail::padded_dim<Scalar>(dim, kind_))),
        Q_(padded_matrix::Zero(detail::padded_dim<Scalar>(dim, kind_),
                               detail::padded_dim<Scalar>(dim, kind_))),
        Xt_(padded_block::Zero(detail::padded_dim<Scalar>(dim, kind_), opt.max_block)),
        G_(padded_block::Zero(detail::padded_dim<Scalar>(dim, kind_),
                              by_rows_ ? 0 : opt.max_block)),
        Xs_(sample_block::Zero(detail::sample_group, kernel_cols(opt, dim, kind_, by_rows_))),
        Gs_(sample_block::Zero(detail::sample_group, kernel_cols(opt, dim, kind_, by_rows_))),
        db_(padded_vector::Ones(detail::padded_dim<Scalar>(dim, kind_))),
        Qb_(padded_matrix::Zero(staged_rows(opt, dim, kind_), staged_rows(opt, dim, kind_))),
        wb_(vector_type::Zero(dim)),
        xr_(vector_type::Zero(dim)) {
    ind_.head(dim).setOnes();
    reset();
  }

  // update() after its input checks. With Keep, its pass over Q also writes the stored part
  // of Q as it was loaded (before the pending step) to `keep` (the rows method of
  // update_block keeps the state at the start of a block so, at no extra pass).
  // Never inlined (as GCC compiled it anyway where it is measured): inlined into a caller
  // whose x has a known size below a packet, GCC 12 -O2 reports the packet path of the
  // padded copy of x, dead there, as reading out of bounds (-Warray-bounds).
  template <bool Keep>
  EIGEN_DONT_INLINE status step(const vector_type& x, Scalar y, Scalar* keep) noexcept {
    const Eigen::Index d = dim();
    // The kernels read dp entries of x: when the storage is padded, x goes through a copy
    // with zeros beyond d.
    const Scalar* xp = x.data();
    if (Q_.rows() != d) {
      if constexpr (D != Eigen::Dynamic)
        xp_.template head<D>() = x;
      else
        xp_.head(d) = x;
      xp = xp_.data();
    }
    // P = c Q: g = Q x, so P x = c g and x'P x = c x'g. The previous update's rank-1 step
    // Q <- Q - v v' is applied in the same pass (deferred: one load of Q per update instead
    // of two); from here on none is pending, also when this update is refused.
    Scalar xg;
    if constexpr (Keep)
      xg = detail::lower_block_pass_keep_on<fixed_kind, fixed_dp>(
          kind_, pending_, Q_.data(), Q_.rows(), v_.data(), xp, g_.data(), keep);
    else
      xg = pending_ ? detail::lower_block_downdate_matvec_on<fixed_kind, fixed_dp>(
                          kind_, Q_.data(), Q_.rows(), v_.data(), xp, g_.data())
                    : detail::lower_block_matvec_on<fixed_kind, fixed_dp>(
                          kind_, Q_.data(), Q_.rows(), xp, g_.data());
    pending_ = false;  // v_ is rewritten on commit and zeroed by refused()
    const Eigen::Map<const vector_type> g(g_.data(), d);
    const Scalar sqrt_c = std::sqrt(c_);  // off the chain: c is known before the pass ends
    // x'P x >= 0 in exact arithmetic. Its rounding error is at most about d eps |x|^2
    // trace(P) (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5),
    // so a value below minus that bound means P is no longer positive definite along x
    // (refused), and a smaller negative value is rounding, taken as 0.
    const Scalar xpx = c_ * xg;
    const Scalar slack = static_cast<Scalar>(2 * d) * std::numeric_limits<Scalar>::epsilon() *
                         x.squaredNorm() * trace_;
    if (!usable(xpx, slack, c_ * x.cwiseAbs2().dot(dg_.head(d)))) return refused();
    const Scalar s = denominator(c_, xg);
    const Scalar scale = step_scale(c_, sqrt_c, s);
    const Scalar gain = (y - w_.dot(x)) / s;
    // Candidate coefficients go to scratch first: nothing is committed before every check.
    wk_ = w_ + (gain * c_) * g;
    // P - P x x'P / s = c (Q - v v') with v = g sqrt(c / s) (zero beyond d, like g), formed
    // below with the candidate diagonal.
    // The candidate P is f (P - u u') = (c f) (Q - v v'), with the trace of Q - v v' known
    // before anything is written (O(d), rounded as the downdate will round it); f = 1/lambda,
    // or the smaller factor that puts trace(P) on the bound (anti-windup). f only enters the
    // scale c, so P is never scaled past the bound and cannot overflow (issue 4 defect 1).
    // These checks only decide a (well-predicted) branch, off the dependency chain.
    const Scalar pre_q = detail::downdated_diagonal_on<fixed_kind>(
        kind_, dg_.data(), ind_.data(), Q_.rows(), g_.data(), scale, v_.data(), dn_.data());
    if (!(pre_q > Scalar(0)) || !detail::all_finite(wk_)) return refused();
    const Scalar pre = c_ * pre_q;
    const Scalar f = pre * inv_lambda_ > max_trace_ ? max_trace_ / pre : inv_lambda_;
    const Scalar c = c_ * f;
    if (!(f > Scalar(0) && std::isfinite(f) && std::isfinite(c) && pre > Scalar(0)))
      return refused();
    // Commit. The rank-1 step Q <- Q - v v' is left pending in v_: the next update applies
    // it in its own pass over Q, and every reader of P applies it on the fly.
    w_ = wk_;
    pending_ = true;
    dg_ = dn_;
    c_ = c;
    // trace(P) = c trace(Q), with trace(Q) summed from the committed diagonal every update
    // (a running (trace - |u|^2) / lambda drifted by up to 1e5 relative, issue 4 defect 2).
    trace_ = c_ * pre_q;
    if (!(c_ < fold_at && c_ > Scalar(1) / fold_at)) {
      apply_pending();
      fold_scale(Q_, c_);
      sync_diagonal();
    }
    ++n_;
    return status::ok;
  }

  // update_block by update() row by row (rls_block_method::rows): bit-identical to k calls
  // of update(), and all-or-nothing like the kernels' path. The state at the start is kept
  // aside: the stored triangle as the first row's pass loads it (before the pending step,
  // written out in that same pass), the pending step (in db_), the scale, w, the trace and
  // the count. A refusal of the first row leaves the state as update() does (observably
  // unchanged); of a later row, it is put back, with the pending step applied to the storage
  // (P bit-identical either way). The per-row input checks of update() are skipped: the
  // whole block was checked. Measured in the portable build against k calls of update():
  // see docs/performance.md (BM_RlsBlockRows_update, BM_RlsSeq_update).
  template <class DX, class DY>
  status update_rows(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y) noexcept {
    const bool pending0 = pending_;
    if (pending0) db_ = v_;
    const Scalar c0 = c_, trace0 = trace_;
    const std::uint64_t n0 = n_;
    wb_ = w_;
    // The rows go to columns first, and each column to xr_ by whole packets: a row copied
    // straight into xr_ is written by scalar stores that the packet loads of update() read
    // right away, which waits on store forwarding.
    const Eigen::Index d = dim();
    constexpr bool column_major =
        (int{DX::Flags} & Eigen::DirectAccessBit) != 0 &&
        (int{DX::Flags} & Eigen::RowMajorBit) == 0 && int{DX::InnerStrideAtCompileTime} == 1;
    if constexpr (column_major)
      detail::transpose_into(X.derived().data(), X.derived().outerStride(), X.rows(), d,
                             Xt_.data(), Xt_.rows());
    else
      Xt_.topLeftCorner(d, X.rows()) = X.transpose();
    for (Eigen::Index r = 0; r < X.rows(); ++r) {
      if constexpr (D != Eigen::Dynamic)
        xr_ = Xt_.col(r).template head<D>();
      else
        xr_ = Xt_.col(r).head(d);
      const status st =
          r == 0 ? step<true>(xr_, y(r), Qb_.data()) : step<false>(xr_, y(r), nullptr);
      if (st != status::ok) {
        if (r > 0) {
          copy_lower_blocks(Qb_, Q_);
          c_ = c0;
          trace_ = trace0;
          n_ = n0;
          w_ = wb_;
          if (pending0) {  // the step goes back onto the storage; none is pending after
            v_ = db_;
            pending_ = true;
            apply_pending();
          } else {
            v_.setZero();
          }
          sync_diagonal();
        }
        return st;
      }
    }
    return status::ok;
  }

  // One chunk of update_block on (Q, c, w), P = c Q (no step pending on Q): every check
  // before the first write, so on failure Q, c and w are unchanged. Xt_, G_, db_, dn_ and
  // wk_ are scratch. With `keep` (not null), an accepted chunk also writes the stored part
  // of Q as it was there (see commit_chunk).
  //
  // The k rows go through the recurrences of update() in order, with Q itself left alone
  // until the end: after steps 1..m-1, Q_m-1 = Q - sum_{l<m} v_l v_l', so
  //   g_m = Q_m-1 x_m = (Q x_m) - sum_{l<m} v_l (v_l' x_m),
  // where the products Q x_m are formed first for all rows (k independent passes over Q,
  // no chain between them) and the correction is O(d m). Each step then makes the same
  // checks and the same scale and trace decisions as update(), on the staged diagonal and
  // scale. The k downdates are applied at the end in one rank-k pass, each stored entry
  // loaded and stored once per chunk; its chain of fused operations per entry is the one
  // the staged diagonal was checked with, in the same order.
  template <class DX, class DY>
  status block_chunk(padded_matrix& Q, Scalar& c, vector_type& w,
                     const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y,
                     Scalar* keep = nullptr) noexcept {
    const Eigen::Index k = X.rows();
    const Eigen::Index d = dim();
    const Eigen::Index dp = Q.rows();
    // G = Q X' in one pass over Q with the samples side by side in packets (Xs_, Gs_:
    // feature-major), then both transposed to padded columns (Xt_, G_).
    if (k == detail::sample_group)  // whole columns of one packet group each
      Xs_.leftCols(d) = X.template topRows<detail::sample_group>();
    else {
      Xs_.topLeftCorner(k, d) = X;
      // The packets also carry rows k..7: zero, so that rows of an earlier call (which may
      // have overflowed there) raise no floating-point flag in this one.
      Xs_.block(k, 0, detail::sample_group - k, d).setZero();
    }
    detail::lower_block_sample_product_on<fixed_kind>(kind_, Q.data(), dp, Xs_.data(),
                                                      Gs_.data(), k);
    detail::sample_columns(Gs_.data(), dp, k, G_.data(), G_.rows());
    load_diagonal(Q, db_);
    if (const Scalar tq = idle_trace(c, k, dp); tq > Scalar(0))
      return block_chunk_idle(Q, c, w, y, k, tq, keep);
    detail::sample_columns(Xs_.data(), dp, k, Xt_.data(), Xt_.rows());
    // sum_i x_im^2 Q_ii with the diagonal at the start of the chunk, twice (see usable()):
    // g_m = Q x_m - sum_{l<m} v_l (v_l'x_m) carries the rounding of Q x_m for the Q of the
    // chunk's start, and that of the corrections, bounded by the same again since
    // sum_l v_l v_l' <= Q. (With the staged diagonal, random float chunks in an AVX2 build
    // were left indefinite about 5 times as often.)
    Scalar xq[detail::sample_group];
    for (Eigen::Index m = 0; m < k; ++m)
      xq[m] = Xt_.col(m).head(d).cwiseAbs2().dot(db_.head(d));
    Scalar cc = c;
    Scalar tr = c * db_.head(d).sum();
    wk_ = w;
    for (Eigen::Index m = 0; m < k; ++m) {
      auto g = G_.col(m);
      const auto xm = Xt_.col(m);
      for (Eigen::Index l = 0; l < m; ++l) g -= G_.col(l) * G_.col(l).dot(xm);
      const Scalar xg = xm.dot(g);
      const Scalar xpx = cc * xg;
      const Scalar slack = static_cast<Scalar>(2 * d) *
                           std::numeric_limits<Scalar>::epsilon() * xm.squaredNorm() * tr;
      if (!usable(xpx, slack, Scalar(2) * cc * xq[m]))
        return status::numerical_failure;
      const Scalar s = denominator(cc, xg);
      const Scalar gain = (y(m) - wk_.dot(xm.head(d))) / s;
      wk_ += (gain * cc) * g.head(d);
      // v_m = g sqrt(cc / s), in place.
      const Scalar pre_q = detail::downdated_diagonal_on<fixed_kind>(
          kind_, db_.data(), ind_.data(), dp, g.data(), step_scale(cc, std::sqrt(cc), s),
          g.data(), dn_.data());
      if (!(pre_q > Scalar(0))) return status::numerical_failure;
      const Scalar pre = cc * pre_q;
      const Scalar f = pre * inv_lambda_ > max_trace_ ? max_trace_ / pre : inv_lambda_;
      const Scalar cn = cc * f;
      if (!(f > Scalar(0) && std::isfinite(f) && std::isfinite(cn) && pre > Scalar(0)))
        return status::numerical_failure;
      cc = cn;
      tr = cc * pre_q;
      db_.swap(dn_);
    }
    return commit_chunk(Q, c, w, k, cc, keep);
  }

  // trace(Q) summed as downdated_diagonal sums it (db_ holds the diagonal of Q), when the
  // trace bound cannot act on any of the next k rows, else -1. Each row's step lowers every
  // diagonal entry of Q (t - v_i^2 rounds to at most t), so the sum it checks is at most
  // this one (same order, monotone rounding) and its scale is c lambda^-m: when
  // (c lambda^-m trace(Q)) / lambda <= max_trace for every m < k, update() would take
  // f = 1 / lambda on every row, the trace bound never acting. (db_ stays, dn_ and g_ are
  // overwritten.)
  Scalar idle_trace(Scalar c, Eigen::Index k, Eigen::Index dp) noexcept {
    g_.setZero();
    const Scalar tq = detail::downdated_diagonal_on<fixed_kind>(
        kind_, db_.data(), ind_.data(), dp, g_.data(), Scalar(0), g_.data(), dn_.data());
    if (!(tq > Scalar(0))) return Scalar(-1);
    Scalar cc = c;
    for (Eigen::Index m = 0; m < k; ++m) {
      if (!((cc * tq) * inv_lambda_ <= max_trace_)) return Scalar(-1);
      cc = cc * inv_lambda_;
    }
    return std::isfinite(cc) ? tq : Scalar(-1);
  }

  // A chunk of update_block when the trace bound cannot act (idle_trace): every row takes
  // f = 1 / lambda, so the scale of row m is known beforehand and the recurrences between
  // the rows reduce to k x k scalars. With A = X Q X' (A_ml = x_m'G_l, G = Q X') and
  // u_jm = v_j'x_m, row m needs
  //   x_m'g_m = A_mm - sum_{j<m} u_jm^2,   g_l'x_m = A_ml - sum_{j<l} u_jl u_jm,
  //   w_m-1'x_m = w'x_m + sum_{l<m} (gain_l c_l) g_l'x_m,
  // and u_ml = r_m g_m'x_l with r_m = sqrt(c_m / s_m): O(k^3) scalar operations on the
  // chain instead of O(d k) vector ones. The vectors g_m = G_m - sum_{l<m} v_l u_lm,
  // v_m = r_m g_m, the coefficients and the diagonal follow off the chain in one pass
  // (chunk_steps), which checks the diagonal after the last step, rounded as the rank-k
  // pass will store it: each step only lowers it, so every row's check of update() passes
  // exactly when that one does. Same formulas as the general loop below; the scalars x'g
  // and w'x are summed in another order (rounding only). The check of x'P x >= -slack uses
  // c_m trace(Q) for trace(P), its upper bound; the precision check (usable) uses the
  // diagonal of the chunk's start, twice, as block_chunk does.
  template <class DY>
  status block_chunk_idle(padded_matrix& Q, Scalar& c, vector_type& w,
                          const Eigen::MatrixBase<DY>& y, Eigen::Index k, Scalar tq,
                          Scalar* keep) noexcept {
    constexpr Eigen::Index W = detail::sample_group;
    const Eigen::Index d = dim();
    const Eigen::Index dp = Q.rows();
    // A[l W + m] = x_m'G_l, and w'x_m and |x_m|^2 for every row m.
    alignas(64) Scalar A[W * W], xw[W], xx[W], xq[W];
    detail::sample_cross(Xs_.data(), Gs_.data(), dp, w.data(), d, db_.data(), A, xw, xx, xq);
    // The chain from row to row carries t_j = c_j / s_j = r_j^2 (no square root on it):
    // u_jm u_jl = t_j h_jm h_jl with h_jm = g_j'x_m. r_m and u_ml = r_m h_ml, which only
    // the vectors need, are formed beside it.
    Scalar u[W * W], h[W * W], t[W], r[W], kg[W];  // u[j W + m] = v_j'x_m, h[j W + m]
    Scalar cc = c;
    for (Eigen::Index m = 0; m < k; ++m) {
      Scalar xg = A[m * W + m];
      for (Eigen::Index j = 0; j < m; ++j) xg -= t[j] * (h[j * W + m] * h[j * W + m]);
      const Scalar xpx = cc * xg;
      const Scalar slack = static_cast<Scalar>(2 * d) *
                           std::numeric_limits<Scalar>::epsilon() * xx[m] * cc * tq;
      if (!usable(xpx, slack, Scalar(2) * cc * xq[m]))
        return status::numerical_failure;
      const Scalar s = denominator(cc, xg);
      const Scalar inv_s = Scalar(1) / s;
      t[m] = cc * inv_s;
      r[m] = step_scale(cc, std::sqrt(cc), s);
      Scalar pred = xw[m];
      for (Eigen::Index l = 0; l < m; ++l) pred += kg[l] * h[l * W + m];
      kg[m] = ((y(m) - pred) * inv_s) * cc;
      for (Eigen::Index l = m + 1; l < k; ++l) {
        Scalar gx = A[m * W + l];
        for (Eigen::Index j = 0; j < m; ++j) gx -= t[j] * (h[j * W + m] * h[j * W + l]);
        h[m * W + l] = gx;
        u[m * W + l] = r[m] * gx;
      }
      cc = cc * inv_lambda_;
    }
    // The vectors v_m over G_, the change of w (in g_, padded) and the diagonal check.
    const bool positive = detail::on_rung<fixed_kind, Scalar>(
        kind_, [&]<class Packet>(std::type_identity<Packet>) {
          return detail::chunk_steps<Packet>(G_.data(), G_.rows(), dp, k, u, r, kg, db_.data(),
                                             ind_.data(), g_.data());
        });
    if (!positive) return status::numerical_failure;
    wk_ = w + g_.head(d);
    return commit_chunk(Q, c, w, k, cc, keep);
  }

  // The end of a chunk: refused when the candidate coefficients wk_ are not finite (a
  // non-finite one stays so through the later rows), else w = wk_, the stored triangle gets
  // Q - sum v_m v_m' (the k columns of G_) in one pass, and c the new scale. With `keep`,
  // that pass also writes the stored part of Q as it was there (before the scale folds).
  status commit_chunk(padded_matrix& Q, Scalar& c, vector_type& w, Eigen::Index k, Scalar cc,
                      Scalar* keep) noexcept {
    if (!detail::all_finite(wk_)) return status::numerical_failure;
    w = wk_;
    detail::lower_block_rank_downdate_on<fixed_kind>(kind_, Q.data(), Q.rows(), G_.data(),
                                                     G_.rows(), k, keep);
    c = cc;
    if (!(c < fold_at && c > Scalar(1) / fold_at)) fold_scale(Q, c);
    return status::ok;
  }

  // Cholesky of a copy of P in a wider type (double for float, long double for double): a P
  // the model reached can be positive definite with its smallest eigenvalue near eps
  // times its largest (a direction learned to the precision next to unexcited ones), and
  // the factorisation in the scalar itself can then fail on its own rounding. Off the hot
  // path (set_state, load_state); allocates for dynamic sizes. Where long double is double
  // (MSVC, Apple arm64) a double model's check does not widen.
  static bool positive_definite(const matrix_type& P) {
    using wide = std::conditional_t<std::is_same_v<Scalar, float>, double, long double>;
    using wide_matrix = Eigen::Matrix<wide, matrix_type::RowsAtCompileTime,
                                      matrix_type::ColsAtCompileTime>;
    return Eigen::LLT<wide_matrix>(P.template cast<wide>()).info() == Eigen::Success;
  }

  // Whether an update can go ahead with x'P x = xpx and diag_sum = sum_i x_i^2 P_ii: false
  // when x'P x is negative beyond its rounding bound `slack` (P lost definiteness along x),
  // not a number or infinite, or when the rounding of the step would be of the size of
  // what it leaves along x.
  // In exact arithmetic the step leaves x'(P - P x x'P / s) x = x'P x lambda / s along x.
  // It subtracts v v' with v = Q x sqrt(c / s); rounding v to a relative eps makes an error
  // of about 2 eps (x'P x / s) x'|P| x along x, and with x'|P| x estimated by sum_i x_i^2
  // P_ii (exact for a diagonal P) the remainder stays above it while
  //   2 eps sum_i x_i^2 P_ii <= lambda,
  // independent of x'P x. A row beyond it is refused, state kept: it carries more than the
  // scalar can hold against what P holds (at the prior P = I / ridge: x'x / ridge >
  // lambda / (2 eps), a row of norm 4.7e7 at ridge 1 in double, 2.0e3 in float; at ridge
  // 0.01, 4.7e6 and 2.0e2). O(d), off the chain of the pass over Q.
  // Without it, rows of norm 1e94 in two directions against P0 = 100 I (double, d = 2)
  // were accepted and left P indefinite (-0.84 trace(P)): every later update was refused
  // and load_state refused save_state's bytes. Of random streams built to reach the
  // precision's end (tests/models/rls_precision_test.cpp, scaled up: scales 10^+-154,
  // collinear rows, lambda 0.5 to 1), 51,000 of 75,000 in double and 48,000 of 75,000 in
  // float ended with an indefinite P before; with the check, 5 and 47.
  // LIMITATION: the estimate is not a bound. The worst-case bound has two more factors of
  // d (the sum in Q x, and x'|P| x <= d sum_i x_i^2 P_ii) and left none of 25,000 such
  // streams indefinite, but one factor of d already refuses every row of norm above 36 at
  // d = 32, ridge 0.01 in float, where the plain update learns w exactly; a refused row
  // leaves P where it was, so such a model never learns. P can therefore still end
  // slightly indefinite at the precision's end (rows of very different scales, collinear
  // rows, small lambda, float); load_state then refuses the state. A square-root (QR) form
  // would not have this failure.
  bool usable(Scalar xpx, Scalar slack, Scalar diag_sum) const noexcept {
    const Scalar made = Scalar(2) * std::numeric_limits<Scalar>::epsilon() * diag_sum;
    return xpx >= -slack && std::isfinite(xpx) && (!(xpx > Scalar(0)) || made <= lambda_);
  }

  // s = lambda + max(x'P x, 0) with x'P x = c x'g, as fma(c, x'g, lambda) clamped at
  // lambda (one rounding where the multiply-add is fused, two otherwise).
  Scalar denominator(Scalar c, Scalar xg) const noexcept {
    return std::max(detail::scalar_madd(c, xg, lambda_), lambda_);
  }

  // The scale sqrt(c / s) of the rank-1 step v = g sqrt(c / s), as (sqrt(c) (1 / s)) sqrt(s):
  // the division and the square root of s run side by side instead of one after the other
  // (sqrt(c) is ready before s), about ten cycles off the chain from one update to the
  // next. Five rounded operations instead of two: measured worst error 2 eps against 0.74
  // eps for sqrt(c / s) over random (c, s), the size of rounding s itself. Where 1 / s would
  // be subnormal (s > 1 / min, only for enormous inputs) it is sqrt(c / s).
  static Scalar step_scale(Scalar c, Scalar sqrt_c, Scalar s) noexcept {
    if (s < Scalar(1) / std::numeric_limits<Scalar>::min()) [[likely]]
      return (sqrt_c * (Scalar(1) / s)) * std::sqrt(s);
    return std::sqrt(c / s);
  }

  // An update refused after its pass over Q: that pass applied the pending step (none is
  // pending now), so v_ goes back to zero, the value every reader of P expects then.
  status refused() noexcept {
    v_.setZero();
    return status::numerical_failure;
  }

  // out = the stored diagonal of Q (no step pending on it), 1 in the padding (see dg_).
  void load_diagonal(const padded_matrix& Q, padded_vector& out) const noexcept {
    const Eigen::Index d = dim();
    out.head(d) = Q.diagonal().head(d);
    out.tail(out.size() - d).setOnes();
  }
  void sync_diagonal() noexcept { load_diagonal(Q_, dg_); }

  // Applies the pending rank-1 step to the storage (P unchanged bit for bit).
  void apply_pending() noexcept {
    if (!pending_) return;
    detail::lower_block_rank_downdate_on<fixed_kind>(kind_, Q_.data(), Q_.rows(), v_.data(),
                                                     Q_.rows(), 1);
    v_.setZero();
    pending_ = false;
  }

  // Copies the stored part of `from` (the lower block triangle) into `to`, packet by
  // packet; the upper blocks of `to` are left as they are (zero, see clear_upper_blocks).
  void copy_lower_blocks(const padded_matrix& from, padded_matrix& to) const noexcept {
    detail::on_rung<fixed_kind, Scalar>(kind_, [&]<class Packet>(std::type_identity<Packet>) {
      constexpr Eigen::Index n = detail::lanes<Packet>;
      const Eigen::Index dp = from.rows();
      for (Eigen::Index j = 0; j < dp; ++j)
        for (Eigen::Index i = j / n * n; i < dp; i += n)
          Eigen::internal::pstoreu(to.data() + i + j * dp,
                                   Eigen::internal::ploadu<Packet>(from.data() + i + j * dp));
    });
  }

  // Zeroes the blocks above the diagonal blocks, which the kernels never read or update,
  // after a full symmetric matrix was copied in: left there, fold_scale would multiply them
  // by 2^16 or 2^32 at every fold until they overflowed (raising FE_OVERFLOW each time).
  static void clear_upper_blocks(padded_matrix& Q, int kind) noexcept {
    const Eigen::Index n = detail::ladder_lanes<Scalar>(kind);
    for (Eigen::Index j = 0; j < Q.cols(); ++j) Q.col(j).head(j / n * n).setZero();
  }

  // Moves the power-of-two part of c into Q (exact: scaling by 2^e only changes exponents),
  // so that c = P / Q stays in [1, 2) and Q = P / c cannot overflow however long the scale
  // grows by 1 / lambda per update (Q's entries are at most fold_at / lambda times smaller
  // than P's, so they reach the subnormal range that much sooner: only for P entries near
  // 1e-290 in double or 1e-29 in float). c Q is unchanged bit for bit. The upper blocks of
  // the storage are kept at zero (reset, set_state, load_state), so scaling them is harmless.
  static void fold_scale(padded_matrix& Q, Scalar& c) noexcept {
    const int e = std::ilogb(c);
    Q *= std::ldexp(Scalar(1), e);
    c = std::ldexp(c, -e);
  }

  // The scale is folded into Q when it leaves (1 / fold_at, fold_at): about every
  // 16 / -log2(lambda) updates for float and 32 / -log2(lambda) for double (about 105 and
  // 210 at lambda 0.9; dp^2 multiplications, amortised).
  static constexpr Scalar fold_at =
      std::is_same_v<Scalar, float> ? Scalar(65536.0) : Scalar(4294967296.0);

  // Rows per chunk of update_block: the largest c <= 8 with lambda^(c-1) >= 1/16 (at least
  // 1). Within a chunk g_m is Q x_m less the corrections of the steps before, so its
  // rounding error is relative to Q at the chunk's start: with lambda^(c-1) >= 1/16 the
  // scale of P grows by at most 16 within a chunk (at lambda 0.1, 8-row chunks differed from
  // sequential updates by 1e-7 relative in P in double, 2-row chunks by 1e-10). The
  // correction costs O(d m) at step m, O(d c^2) per chunk; the scale is folded at the
  // chunk's end.
  static Eigen::Index chunk_rows(double lambda) noexcept {
    constexpr Eigen::Index most = detail::sample_group;
    if (lambda >= 1.0) return most;
    const double c = 1.0 + std::floor(std::log(1.0 / 16.0) / std::log(lambda));
    return c >= static_cast<double>(most)
               ? most
               : std::max(Eigen::Index(1), static_cast<Eigen::Index>(c));
  }

  // Rows of the staging matrix Qb_: none for a dynamic model without block updates.
  static Eigen::Index staged_rows(const rls_options& opt, Eigen::Index dim, int kind) noexcept {
    return D == Eigen::Dynamic && opt.max_block == 0 ? Eigen::Index(0)
                                                      : detail::padded_dim<Scalar>(dim, kind);
  }

  // Columns of the kernels' sample-major scratch (Xs_, Gs_): none for a dynamic model that
  // updates blocks by rows or not at all.
  static Eigen::Index kernel_cols(const rls_options& opt, Eigen::Index dim, int kind,
                                  bool by_rows) noexcept {
    return D == Eigen::Dynamic && (opt.max_block == 0 || by_rows)
               ? Eigen::Index(0)
               : detail::padded_dim<Scalar>(dim, kind);
  }

  rls_options opt_;
  Scalar lambda_;
  Scalar inv_lambda_;
  Scalar max_trace_;
  Eigen::Index max_block_;
  Eigen::Index chunk_;  // rows per chunk of update_block
  bool by_rows_;        // update_block by update() row by row (rls_block_method)
  vector_type w_;   // coefficients
  vector_type wk_;  // scratch: candidate coefficients
  int kind_;                 // the packet rung of the kernels (fixed when D is)
  padded_vector g_;          // scratch: Q x (zero beyond dim())
  padded_vector v_;          // the pending rank-1 step Q <- Q - v v'; zero when none
  bool pending_{false};      // whether v_ holds a step not yet applied to Q_
  padded_vector dg_;  // the diagonal of Q with the pending step applied; 1 in the padding
  padded_vector dn_;  // scratch: the candidate diagonal of an update
  padded_vector ind_;  // 1 for the first dim() entries, 0 in the padding (trace sums)
  padded_vector xp_;         // scratch: x padded with zeros, when the storage is padded
  padded_matrix Q_;          // P / c_, lower-block storage (see detail/kernels.hpp)
  Scalar c_{1};     // the scale of P = c_ Q_, kept in (1 / fold_at, fold_at)
  padded_block Xt_;  // block scratch: the rows of X as padded columns
  padded_block G_;   // block scratch: Q X', then H
  sample_block Xs_;  // block scratch: the rows of one chunk, feature-major (zero beyond d)
  sample_block Gs_;  // block scratch: Q X' of one chunk, feature-major
  padded_vector db_;  // block scratch: the staged diagonal of Q (kernels), or the pending
                      // step at the start of a block (rows)
  padded_matrix Qb_;  // block scratch: Q at the start of a block (several chunks, or rows)
  vector_type wb_;  // block scratch: w at the start of a block (several chunks, or rows)
  vector_type xr_;  // block scratch: the row of a block of one row (or of the rows method)
  Scalar trace_{};
  std::uint64_t n_{0};
};

}  // namespace livefit

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // LIVEFIT_MODELS_RLS_HPP
