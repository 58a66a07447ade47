// Exact exponentially weighted least squares from sufficient statistics, with merge().
#ifndef LIVEFIT_MODELS_DECAYED_LEAST_SQUARES_HPP
#define LIVEFIT_MODELS_DECAYED_LEAST_SQUARES_HPP

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/models/detail/checks.hpp"

// GCC 12 with AVX-512 reports the deliberately undefined halves inside Eigen's lane
// reductions and transposes (_mm256_undefined_pd and the like) as maybe used uninitialized
// once they are inlined into this header's functions; the values are never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace livefit {

/// Settings of a `decayed_least_squares` model.
struct decayed_least_squares_options {
  /// lambda in (0, 1]: weight kept by the past at each update (as rls). Default 1.
  double forgetting_factor = 1.0;
  /// delta > 0: ridge penalty delta * lambda^n * |w|^2, the same prior as rls. Default 1e-2.
  double ridge = 1e-2;
  /// Re-solve the normal equations after every `solve_every` updates (>= 1); predict() uses
  /// the last solution. 1 keeps predictions current at O(d^3) per update; larger values
  /// amortise the solve. Default 1.
  std::uint32_t solve_every = 1;
};

/// Exponentially weighted least squares kept as sufficient statistics:
///   A = sum_i lambda^(n-i) x_i x_i',  b = sum_i lambda^(n-i) x_i y_i,  prior weight lambda^n,
/// and solved on demand for w = (A + lambda^n delta I)^-1 b with a pivoted LDL' factorisation
/// (Eigen::LDLT), which treats numerically zero pivots as zero and so returns a finite
/// minimum-norm-like answer for singular or collinear designs.
///
/// It is the exact reference that rls agrees with: same objective, no recursion on P.
/// merge() combines two shards exactly (see there). O(d^2) per update plus the solve.
/// Intercept convention: none implicit; append a constant 1 feature.
template <class Scalar, int D = Eigen::Dynamic>
class decayed_least_squares {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::decayed_least_squares supports float and double scalars only");

 public:
  using scalar_type = Scalar;                       ///< The scalar type.
  using vector_type = Eigen::Matrix<Scalar, D, 1>;  ///< A feature or coefficient vector.
  using matrix_type = Eigen::Matrix<Scalar, D, D>;  ///< The information matrix type.
  /// Name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.decayed_least_squares";

  /// Validates the options and builds an empty model (w = 0).
  [[nodiscard]] static result<decayed_least_squares> make(
      const decayed_least_squares_options& opt, Eigen::Index dim = D) {
    if (auto msg = detail::dim_error<D>("decayed_least_squares", dim); !msg.empty())
      return fail(errc::invalid_argument, std::move(msg));
    // Both are used as factors in Scalar: a value that converts to 0 or a subnormal would
    // silently zero the statistics or the prior, so the range is that of normal numbers.
    if (!(opt.forgetting_factor <= 1.0) ||
        !detail::is_normal_positive<Scalar>(opt.forgetting_factor))
      return fail(errc::invalid_argument,
                  "decayed_least_squares: forgetting_factor must be in [" +
                      detail::format_param(static_cast<double>(
                          std::numeric_limits<Scalar>::min())) +
                      ", 1], got " + detail::format_param(opt.forgetting_factor));
    if (!detail::is_normal_positive<Scalar>(opt.ridge))
      return fail(errc::invalid_argument, "decayed_least_squares: ridge must be in " +
                                              detail::normal_range<Scalar>() + ", got " +
                                              detail::format_param(opt.ridge));
    if (opt.solve_every < 1)
      return fail(errc::invalid_argument,
                  "decayed_least_squares: solve_every must be >= 1, got 0");
    return decayed_least_squares(opt, dim);
  }

  /// Folds one sample into the statistics (O(d^2)), then re-solves every solve_every updates.
  /// @return ok; non_finite_input / dimension_mismatch for bad input; numerical_failure when
  ///         the statistics would overflow. State unchanged on failure.
  /// LIMITATION: ok means the sample was folded into A and b; a periodic solve that fails
  /// (w not finite, possible only for statistics near overflow) keeps the previous w. Call
  /// solve() to see its status when that matters.
  [[nodiscard]] status update(const vector_type& x, scalar_type y) noexcept {
    if (const status s = detail::check_sample(x, y, dim()); s != status::ok) return s;
    // Bounds of the new entries, checked before anything is written: |lambda A_ij + x_i x_j|
    // <= lambda max|A| + max|x|^2 and |lambda b_i + y x_i| <= lambda max|b| + |y| max|x|.
    // The whole sum is bounded, not only y x (b = inf went through, issue 4 defect 3).
    // Rounding is monotone, so each rounded entry is at most the rounded bound.
    // LIMITATION: the bound ignores signs, so a sample whose term would cancel a near-max
    // entry (y = -1.5e308 after b = 1.5e308) is refused too, state kept.
    const Scalar lam = lambda_;
    const Scalar xmax = x.cwiseAbs().maxCoeff();
    if (!std::isfinite(lam * A_.cwiseAbs().maxCoeff() + xmax * xmax) ||
        !std::isfinite(lam * b_.cwiseAbs().maxCoeff() + std::abs(y) * xmax))
      return status::numerical_failure;
    A_ = lam * A_;
    A_.noalias() += x * x.transpose();
    b_ = lam * b_ + y * x;
    prior_ *= lam;
    ++n_;
    if (++since_solve_ >= opt_.solve_every) static_cast<void>(solve());
    return status::ok;
  }

  /// Solves (A + lambda^n delta I) w = b now; predict() then uses the new w.
  /// No allocation (the factorisation's storage is sized in make()).
  /// @return ok, or numerical_failure (w unchanged) when the solution is not finite.
  status solve() noexcept {
    M_ = A_;
    M_.diagonal().array() += prior_ * ridge_;
    ldlt_.compute(M_);
    if (ldlt_.info() != Eigen::Success) return status::numerical_failure;
    wk_ = ldlt_.solve(b_);
    if (!detail::all_finite(wk_)) return status::numerical_failure;
    w_ = wk_;
    since_solve_ = 0;
    return status::ok;
  }

  /// Combines another shard into this one, exactly: the result is the state of one model
  /// that saw this shard's samples, then the other's (A = lambda^m A_this + A_other,
  /// b likewise, prior weight lambda^(n+m), m = the other's sample count), then solves.
  /// With lambda = 1 the order does not matter. Off the hot path (O(d^3) for the solve).
  /// @return dimension_mismatch (state unchanged) when the dimensions differ;
  ///         invalid_argument (state unchanged) when the forgetting factors or ridges differ;
  ///         numerical_failure (state unchanged) when the sums would overflow or the merged
  ///         system has no finite solution. No allocation (the scratch is sized in make()).
  status merge(const decayed_least_squares& other) noexcept {
    if (other.dim() != dim()) return status::dimension_mismatch;
    if (other.opt_.forgetting_factor != opt_.forgetting_factor || other.ridge_ != ridge_)
      return status::invalid_argument;
    // other.prior_ = lambda^m, computed the way each shard decayed its own statistics.
    const Scalar decay = other.prior_;
    if (!std::isfinite(decay * A_.cwiseAbs().maxCoeff() + other.A_.cwiseAbs().maxCoeff()) ||
        !std::isfinite(decay * b_.cwiseAbs().maxCoeff() + other.b_.cwiseAbs().maxCoeff()))
      return status::numerical_failure;
    // The merged statistics are formed and solved in scratch (M_, bk_, wk_), and committed
    // only when the solution is finite. (other may be this model: every step reads it
    // before anything of this model is written.)
    M_ = decay * A_ + other.A_;
    bk_ = decay * b_ + other.b_;
    const Scalar prior = prior_ * decay;
    ldlt_.compute(M_ + (prior * ridge_) * matrix_type::Identity(dim(), dim()));
    if (ldlt_.info() != Eigen::Success) return status::numerical_failure;
    wk_ = ldlt_.solve(bk_);
    if (!detail::all_finite(wk_)) return status::numerical_failure;
    A_ = M_;
    b_ = bk_;
    prior_ = prior;
    n_ += other.n_;
    w_ = wk_;
    since_solve_ = 0;
    return status::ok;
  }

  /// The prediction w'x with the last solution.
  [[nodiscard]] scalar_type predict(const vector_type& x) const noexcept { return w_.dot(x); }
  /// The coefficients of the last solve.
  [[nodiscard]] const vector_type& coefficients() const noexcept { return w_; }
  /// A = sum_i lambda^(n-i) x_i x_i' (without the prior).
  [[nodiscard]] const matrix_type& weighted_gram() const noexcept { return A_; }
  /// b = sum_i lambda^(n-i) x_i y_i.
  [[nodiscard]] const vector_type& weighted_moment() const noexcept { return b_; }
  /// lambda^n, the weight left on the prior.
  [[nodiscard]] scalar_type prior_weight() const noexcept { return prior_; }
  /// The dimension d.
  [[nodiscard]] Eigen::Index dim() const noexcept { return w_.size(); }
  /// Samples folded in (merge adds the other shard's count).
  [[nodiscard]] std::uint64_t samples_seen() const noexcept { return n_; }
  /// Back to the empty state.
  void reset() noexcept {
    A_.setZero();
    b_.setZero();
    w_.setZero();
    prior_ = Scalar(1);
    n_ = 0;
    since_solve_ = 0;
  }

  /// Writes dimension, options, counts and the statistics.
  void save_state(byte_writer& out) const {
    out.put_u64(static_cast<std::uint64_t>(dim()));
    out.put_f64(opt_.forgetting_factor);
    out.put_f64(opt_.ridge);
    out.put_u32(opt_.solve_every);
    out.put_u64(n_);
    out.put_scalar(prior_);
    out.put_matrix(A_);
    out.put_matrix(b_);
    out.put_matrix(w_);
  }

  /// Reads what save_state wrote; validates into a temporary, then commits.
  /// @return ok; invalid_argument for a short record or options make() refuses;
  ///         dimension_mismatch; non_finite_input; numerical_failure when the prior weight is
  ///         outside [0, 1] or A is not symmetric with a non-negative diagonal. State
  ///         unchanged on failure.
  [[nodiscard]] status load_state(byte_reader& in) {
    std::uint64_t d = 0, n = 0;
    double lam = 0, ridge = 0;
    std::uint32_t every = 0;
    Scalar prior{};
    if (!in.get_u64(d) || !in.get_f64(lam) || !in.get_f64(ridge) || !in.get_u32(every) ||
        !in.get_u64(n) || !in.get_scalar(prior))
      return status::invalid_argument;
    if (d != static_cast<std::uint64_t>(dim())) return status::dimension_mismatch;
    auto fresh = make({lam, ridge, every}, dim());
    if (!fresh) return status::invalid_argument;
    decayed_least_squares& m = *fresh;
    if (!in.get_matrix(m.A_) || !in.get_matrix(m.b_) || !in.get_matrix(m.w_))
      return status::invalid_argument;
    if (!detail::all_finite(m.A_) || !detail::all_finite(m.b_) || !detail::all_finite(m.w_))
      return status::non_finite_input;
    // Invariants of the statistics: prior weight lambda^n in [0, 1] (it may underflow to 0),
    // A an exactly symmetric sum of outer products (so its diagonal is >= 0).
    if (!(prior >= Scalar(0) && prior <= Scalar(1)) || m.A_ != m.A_.transpose() ||
        (m.A_.diagonal().array() < Scalar(0)).any())
      return status::numerical_failure;
    m.prior_ = prior;
    m.n_ = n;
    *this = std::move(m);
    return status::ok;
  }

 private:
  decayed_least_squares(const decayed_least_squares_options& opt, Eigen::Index dim)
      : opt_(opt),
        lambda_(static_cast<Scalar>(opt.forgetting_factor)),
        ridge_(static_cast<Scalar>(opt.ridge)),
        A_(matrix_type::Zero(dim, dim)),
        M_(matrix_type::Zero(dim, dim)),
        b_(vector_type::Zero(dim)),
        w_(vector_type::Zero(dim)),
        wk_(vector_type::Zero(dim)),
        bk_(vector_type::Zero(dim)),
        ldlt_(dim) {
    // Factorises the zero scratch once so that every member of the LDLT (its matrix, norm
    // and info) holds a value before the model is copied or moved: GCC 12 -O2 otherwise
    // reports -Wmaybe-uninitialized on the copy in make(). Allocates nothing (sized above).
    ldlt_.compute(M_);
  }

  decayed_least_squares_options opt_;
  Scalar lambda_;
  Scalar ridge_;
  matrix_type A_;
  matrix_type M_;  // scratch: A + prior
  vector_type b_;
  vector_type w_;
  vector_type wk_;  // scratch: candidate solution
  vector_type bk_;  // scratch: the merged b of merge()
  Eigen::LDLT<matrix_type> ldlt_;
  Scalar prior_{1};
  std::uint64_t n_{0};
  std::uint32_t since_solve_{0};
};

}  // namespace livefit

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // LIVEFIT_MODELS_DECAYED_LEAST_SQUARES_HPP
