// Running mean and scale of each feature, with forgetting, to standardise inputs online.
#ifndef LIVEFIT_MODELS_ONLINE_STANDARDIZER_HPP
#define LIVEFIT_MODELS_ONLINE_STANDARDIZER_HPP

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <Eigen/Core>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/models/detail/checks.hpp"

namespace livefit {

/// Settings of an `online_standardizer`.
struct online_standardizer_options {
  /// lambda in (0, 1]: weight kept by past samples at each update, as in rls. 1 = the plain
  /// running mean and variance of all samples. Default 1.
  double forgetting_factor = 1.0;
  /// transform() answers not_ready until this many updates, >= 1. Default 1. In front of a
  /// regressor that keeps its past (rls at lambda near 1), use more (say 30): after one
  /// sample every spread is 0 and the next samples go through unscaled (z = x - mean), which
  /// such a model does not forget.
  std::uint64_t min_samples = 1;
};

/// Running, exponentially weighted mean and standard deviation of each feature, and the
/// transform z = (x - mean) / scale.
///
/// Updates use West's weighted form of Welford's algorithm (D.H.D. West, "Updating mean and
/// variance estimates: an improved method", CACM 22(9), 1979), with old weights multiplied by
/// lambda: W <- lambda W + 1; d = x - m; m <- m + d / W; S <- lambda S + d (x - m_new).
/// A feature that has only ever taken one value has d = 0 exactly at every step, so its mean
/// is that value and its variance exactly 0 (handout case C05), where running sums of x and
/// x^2 give a negative variance and a two-pass mean one ulp off.
///
/// Zero-spread convention (as scikit-learn's StandardScaler): a feature whose standard
/// deviation is at or below 64 eps max(|mean|, 1) (a spread rounding alone can produce) gets
/// scale 1, so z = x - mean: the constant itself maps to 0, 15.0 after a constant 14.62 maps
/// to 0.38, and nothing is ever divided by a rounding-level spread.
///
/// Composition: standardise x, then give it to a regressor with an intercept
/// (with_intercept<rls<...>>, which appends the constant 1 feature itself; a constant column
/// of x standardises to 0, so it cannot serve as the intercept).
template <class Scalar, int D = Eigen::Dynamic>
class online_standardizer {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::online_standardizer supports float and double scalars only");

 public:
  using scalar_type = Scalar;                       ///< The scalar type.
  using vector_type = Eigen::Matrix<Scalar, D, 1>;  ///< A feature vector.
  /// Name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.online_standardizer";

  /// Validates the options and builds an empty standardizer.
  [[nodiscard]] static result<online_standardizer> make(const online_standardizer_options& opt,
                                                        Eigen::Index dim = D) {
    if (auto msg = detail::dim_error<D>("online_standardizer", dim); !msg.empty())
      return fail(errc::invalid_argument, std::move(msg));
    if (!(opt.forgetting_factor > 0.0 && opt.forgetting_factor <= 1.0))
      return fail(errc::invalid_argument,
                  "online_standardizer: forgetting_factor must be in (0, 1], got " +
                      detail::format_param(opt.forgetting_factor));
    if (opt.min_samples < 1)
      return fail(errc::invalid_argument,
                  "online_standardizer: min_samples must be >= 1, got 0");
    return online_standardizer(opt, dim);
  }

  /// Folds one feature vector into the running moments. O(d), no allocation.
  [[nodiscard]] status update(const vector_type& x) noexcept {
    if (x.size() != dim()) return status::dimension_mismatch;
    if (!detail::all_finite(x)) return status::non_finite_input;
    const Scalar weight = lambda_ * weight_ + Scalar(1);
    // Candidate moments in scratch, committed only when finite (overflowing input).
    delta_ = x - mean_;
    mk_ = mean_ + delta_ / weight;
    sk_ = lambda_ * m2_ + delta_.cwiseProduct(x - mk_);
    if (!detail::all_finite(mk_) || !detail::all_finite(sk_)) return status::numerical_failure;
    mean_ = mk_;
    m2_ = sk_;
    weight_ = weight;
    ++n_;
    return status::ok;
  }

  /// z = (x - mean) / scale, per feature (see the zero-spread convention above).
  /// @return not_ready before options().min_samples updates (default 1);
  ///         dimension_mismatch or non_finite_input for bad x; numerical_failure when some
  ///         z_i would not be finite (x - mean overflows, e.g. x = 1.5e308 after means near
  ///         -1.5e308; issue 4 defect 6). On any non-ok status z is untouched.
  template <class Out>
  [[nodiscard]] status transform(const vector_type& x, Eigen::MatrixBase<Out>& z) const noexcept {
    if (x.size() != dim() || z.size() != dim()) return status::dimension_mismatch;
    if (!detail::all_finite(x)) return status::non_finite_input;
    if (n_ < opt_.min_samples) return status::not_ready;
    // z_i is finite whenever |x_i| + |mean_i| < max * 32 eps: the difference is then below
    // that bound and every scale is 1 or above the floor 64 eps (so |z_i| < max / 2). Only
    // past it is every z_i computed twice (check, then write), so z stays untouched on
    // failure at no cost to ordinary input.
    constexpr Scalar safe = Scalar(32) * std::numeric_limits<Scalar>::epsilon() *
                            std::numeric_limits<Scalar>::max();
    if (!((x.cwiseAbs() + mean_.cwiseAbs()).maxCoeff() < safe)) [[unlikely]] {
      for (Eigen::Index i = 0; i < dim(); ++i)
        if (!std::isfinite((x(i) - mean_(i)) / scale(i))) return status::numerical_failure;
    }
    for (Eigen::Index i = 0; i < dim(); ++i) z(i) = (x(i) - mean_(i)) / scale(i);
    return status::ok;
  }

  /// The running mean of feature i.
  [[nodiscard]] const vector_type& mean() const noexcept { return mean_; }
  /// The running (population, exponentially weighted) variance of feature i: S / W.
  [[nodiscard]] scalar_type variance(Eigen::Index i) const noexcept {
    return n_ == 0 ? Scalar(0) : std::max(m2_(i), Scalar(0)) / weight_;
  }
  /// The divisor used by transform for feature i: the standard deviation, or 1 for a
  /// zero-spread feature.
  [[nodiscard]] scalar_type scale(Eigen::Index i) const noexcept {
    const Scalar sd = std::sqrt(variance(i));
    const Scalar floor =
        Scalar(64) * std::numeric_limits<Scalar>::epsilon() *
        std::max(std::abs(mean_(i)), Scalar(1));
    return sd > floor ? sd : Scalar(1);
  }
  /// The dimension.
  [[nodiscard]] Eigen::Index dim() const noexcept { return mean_.size(); }
  /// Samples folded in.
  [[nodiscard]] std::uint64_t samples_seen() const noexcept { return n_; }
  /// The options.
  [[nodiscard]] const online_standardizer_options& options() const noexcept { return opt_; }
  /// Back to the empty state.
  void reset() noexcept {
    mean_.setZero();
    m2_.setZero();
    weight_ = Scalar(0);
    n_ = 0;
  }

  /// Writes dimension, forgetting factor, count, total weight, mean and S.
  void save_state(byte_writer& out) const {
    out.put_u64(static_cast<std::uint64_t>(dim()));
    out.put_f64(opt_.forgetting_factor);
    out.put_u64(n_);
    out.put_scalar(weight_);
    out.put_matrix(mean_);
    out.put_matrix(m2_);
  }
  /// Reads what save_state wrote; validates into a temporary, then commits.
  [[nodiscard]] status load_state(byte_reader& in) {
    std::uint64_t d = 0, n = 0;
    online_standardizer_options o = opt_;  // min_samples is this model's, not saved
    Scalar weight{};
    if (!in.get_u64(d) || !in.get_f64(o.forgetting_factor) || !in.get_u64(n) ||
        !in.get_scalar(weight))
      return status::invalid_argument;
    if (d != static_cast<std::uint64_t>(dim())) return status::dimension_mismatch;
    auto fresh = make(o, dim());
    if (!fresh) return status::invalid_argument;
    if (!in.get_matrix(fresh->mean_) || !in.get_matrix(fresh->m2_))
      return status::invalid_argument;
    if (!detail::all_finite(fresh->mean_) || !detail::all_finite(fresh->m2_) ||
        !std::isfinite(weight) || weight < Scalar(0) || (fresh->m2_.array() < 0).any())
      return status::non_finite_input;
    // The total weight is 0 exactly when no sample was seen, and at least 1 after one.
    if ((n == 0) != (weight == Scalar(0)) || (n > 0 && weight < Scalar(1)))
      return status::numerical_failure;
    fresh->weight_ = weight;
    fresh->n_ = n;
    *this = std::move(*fresh);
    return status::ok;
  }

 private:
  online_standardizer(const online_standardizer_options& opt, Eigen::Index dim)
      : opt_(opt),
        lambda_(static_cast<Scalar>(opt.forgetting_factor)),
        mean_(vector_type::Zero(dim)),
        m2_(vector_type::Zero(dim)),
        delta_(vector_type::Zero(dim)),
        mk_(vector_type::Zero(dim)),
        sk_(vector_type::Zero(dim)) {}

  online_standardizer_options opt_;
  Scalar lambda_;
  vector_type mean_;
  vector_type m2_;     // S: weighted sum of squared deviations
  vector_type delta_;  // scratch
  vector_type mk_;     // scratch: candidate mean
  vector_type sk_;     // scratch: candidate S
  Scalar weight_{0};
  std::uint64_t n_{0};
};

}  // namespace livefit

#endif  // LIVEFIT_MODELS_ONLINE_STANDARDIZER_HPP
