// Online logistic regression for binary outcomes, by per-coordinate FTRL-proximal.
#ifndef LIVEFIT_MODELS_ONLINE_LOGISTIC_HPP
#define LIVEFIT_MODELS_ONLINE_LOGISTIC_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <Eigen/Core>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/models/detail/checks.hpp"

namespace livefit {

/// Settings of an `online_logistic` model (names as in McMahan et al. 2013, Algorithm 1).
struct online_logistic_options {
  /// alpha > 0: the learning-rate scale; per-coordinate rate alpha / (beta + sqrt(sum g^2)).
  /// Default 0.1.
  double alpha = 0.1;
  /// beta >= 0: smooths the rate while few gradients have been seen. Default 1.
  double beta = 1.0;
  /// L1 penalty >= 0: coefficients with |z| <= l1 are exactly 0 (sparsity). Default 0.
  double l1 = 0.0;
  /// L2 penalty >= 0. Default 0.
  double l2 = 0.0;
};

/// Online logistic regression for y in {0, 1}, trained by FTRL-proximal (H.B. McMahan et al.,
/// "Ad Click Prediction: a View from the Trenches", KDD 2013, Algorithm 1): per coordinate i
///   g_i = (p - y) x_i,  sigma_i = (sqrt(n_i + g_i^2) - sqrt(n_i)) / alpha,
///   z_i += g_i - sigma_i w_i,  n_i += g_i^2,
///   w_i = 0 if |z_i| <= l1, else -(z_i - sign(z_i) l1) / ((beta + sqrt(n_i)) / alpha + l2).
/// predict(x) is the probability P(y = 1 | x) = 1 / (1 + exp(-w'x)); log_loss() scores it.
/// O(d) per update with d square roots; no allocation. Intercept convention: append a
/// constant 1 feature.
template <class Scalar, int D = Eigen::Dynamic>
class online_logistic {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::online_logistic supports float and double scalars only");

 public:
  using scalar_type = Scalar;                       ///< The scalar type.
  using vector_type = Eigen::Matrix<Scalar, D, 1>;  ///< A feature or coefficient vector.
  /// Name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.online_logistic";

  /// Validates the options and builds a model with w = 0 (p = 0.5 everywhere).
  [[nodiscard]] static result<online_logistic> make(const online_logistic_options& opt,
                                                    Eigen::Index dim = D) {
    if (auto msg = detail::dim_error<D>("online_logistic", dim); !msg.empty())
      return fail(errc::invalid_argument, std::move(msg));
    // Every update divides by alpha: it must convert to a normal number of Scalar, whose
    // reciprocal is finite (alpha = 1e-320 in double made every update overflow and be
    // refused; issue 4 defect 1).
    if (!detail::is_normal_positive<Scalar>(opt.alpha))
      return fail(errc::invalid_argument, "online_logistic: alpha must be in " +
                                              detail::normal_range<Scalar>() + ", got " +
                                              detail::format_param(opt.alpha));
    const auto nonneg = [](double v) {
      return v >= 0.0 && std::isfinite(static_cast<Scalar>(v));
    };
    if (!nonneg(opt.beta))
      return fail(errc::invalid_argument, "online_logistic: beta must be in [0, inf), got " +
                                              detail::format_param(opt.beta));
    if (!nonneg(opt.l1))
      return fail(errc::invalid_argument, "online_logistic: l1 must be in [0, inf), got " +
                                              detail::format_param(opt.l1));
    if (!nonneg(opt.l2))
      return fail(errc::invalid_argument, "online_logistic: l2 must be in [0, inf), got " +
                                              detail::format_param(opt.l2));
    return online_logistic(opt, dim);
  }

  /// One FTRL-proximal step on the log-loss of (x, y).
  /// @return ok; invalid_argument when y is not 0 or 1; non_finite_input /
  ///         dimension_mismatch for bad x; numerical_failure when the state would not stay
  ///         finite. State unchanged on failure.
  [[nodiscard]] status update(const vector_type& x, scalar_type y) noexcept {
    if (const status s = detail::check_sample(x, y, dim()); s != status::ok) return s;
    if (y != Scalar(0) && y != Scalar(1)) return status::invalid_argument;
    const Scalar residual = predict(x) - y;
    for (Eigen::Index i = 0; i < dim(); ++i) {
      const Scalar g = residual * x(i);
      const Scalar n_new = n_(i) + g * g;
      const Scalar sigma = (std::sqrt(n_new) - std::sqrt(n_(i))) / alpha_;
      zk_(i) = z_(i) + g - sigma * w_(i);
      nk_(i) = n_new;
      wk_(i) = weight_of(zk_(i), n_new);
    }
    if (!detail::all_finite(nk_) || !detail::all_finite(zk_) || !detail::all_finite(wk_))
      return status::numerical_failure;
    z_ = zk_;
    n_ = nk_;
    w_ = wk_;
    ++count_;
    return status::ok;
  }

  /// P(y = 1 | x) = 1 / (1 + exp(-w'x)), computed without overflow for any finite margin.
  [[nodiscard]] scalar_type predict(const vector_type& x) const noexcept {
    return sigmoid(w_.dot(x));
  }
  /// The margin w'x (log-odds).
  [[nodiscard]] scalar_type decision_function(const vector_type& x) const noexcept {
    return w_.dot(x);
  }
  /// The log-loss -y log p - (1 - y) log(1 - p) of the current model on (x, y), computed from
  /// the margin t as log(1 + exp(-|t|)) + max(t, 0) - y t, finite for every finite t.
  [[nodiscard]] scalar_type log_loss(const vector_type& x, scalar_type y) const noexcept {
    const Scalar t = w_.dot(x);
    return std::log1p(std::exp(-std::abs(t))) + std::max(t, Scalar(0)) - y * t;
  }
  /// The coefficients.
  [[nodiscard]] const vector_type& coefficients() const noexcept { return w_; }
  /// The dimension.
  [[nodiscard]] Eigen::Index dim() const noexcept { return w_.size(); }
  /// Samples folded in.
  [[nodiscard]] std::uint64_t samples_seen() const noexcept { return count_; }
  /// Back to w = 0 and no accumulated gradients.
  void reset() noexcept {
    z_.setZero();
    n_.setZero();
    w_.setZero();
    count_ = 0;
  }
  /// Takes another model's full state (z, n, w, count), keeping this model's options.
  [[nodiscard]] status seed_from(const online_logistic& champion) noexcept {
    if (champion.dim() != dim()) return status::dimension_mismatch;
    z_ = champion.z_;
    n_ = champion.n_;
    count_ = champion.count_;
    recompute_weights();
    return status::ok;
  }

  /// Writes dimension, options, count, z and n (w is recomputed from them).
  void save_state(byte_writer& out) const {
    out.put_u64(static_cast<std::uint64_t>(dim()));
    out.put_f64(opt_.alpha);
    out.put_f64(opt_.beta);
    out.put_f64(opt_.l1);
    out.put_f64(opt_.l2);
    out.put_u64(count_);
    out.put_matrix(z_);
    out.put_matrix(n_);
    out.put_matrix(w_);
  }
  /// Reads what save_state wrote; validates into a temporary, then commits.
  [[nodiscard]] status load_state(byte_reader& in) {
    std::uint64_t d = 0, count = 0;
    online_logistic_options o;
    if (!in.get_u64(d) || !in.get_f64(o.alpha) || !in.get_f64(o.beta) || !in.get_f64(o.l1) ||
        !in.get_f64(o.l2) || !in.get_u64(count))
      return status::invalid_argument;
    if (d != static_cast<std::uint64_t>(dim())) return status::dimension_mismatch;
    auto fresh = make(o, dim());
    if (!fresh) return status::invalid_argument;
    if (!in.get_matrix(fresh->z_) || !in.get_matrix(fresh->n_) || !in.get_matrix(fresh->w_))
      return status::invalid_argument;
    if (!detail::all_finite(fresh->z_) || !detail::all_finite(fresh->n_) ||
        !detail::all_finite(fresh->w_) || (fresh->n_.array() < 0).any())
      return status::non_finite_input;
    // w is a function of (z, n): derive it instead of trusting the stored copy, so a record
    // cannot hold coefficients that the next update would contradict.
    fresh->recompute_weights();
    if (!detail::all_finite(fresh->w_)) return status::numerical_failure;
    fresh->count_ = count;
    *this = std::move(*fresh);
    return status::ok;
  }

 private:
  online_logistic(const online_logistic_options& opt, Eigen::Index dim)
      : opt_(opt),
        alpha_(static_cast<Scalar>(opt.alpha)),
        beta_(static_cast<Scalar>(opt.beta)),
        l1_(static_cast<Scalar>(opt.l1)),
        l2_(static_cast<Scalar>(opt.l2)),
        z_(vector_type::Zero(dim)),
        n_(vector_type::Zero(dim)),
        w_(vector_type::Zero(dim)),
        zk_(vector_type::Zero(dim)),
        nk_(vector_type::Zero(dim)),
        wk_(vector_type::Zero(dim)) {}

  static Scalar sigmoid(Scalar t) noexcept {
    // exp of a non-positive argument only, so no overflow for large |t|.
    if (t >= Scalar(0)) return Scalar(1) / (Scalar(1) + std::exp(-t));
    const Scalar e = std::exp(t);
    return e / (Scalar(1) + e);
  }

  // The closed-form minimiser of the FTRL-proximal objective for one coordinate.
  Scalar weight_of(Scalar z, Scalar n) const noexcept {
    if (std::abs(z) <= l1_) return Scalar(0);
    return -(z - std::copysign(l1_, z)) / ((beta_ + std::sqrt(n)) / alpha_ + l2_);
  }

  void recompute_weights() noexcept {
    for (Eigen::Index i = 0; i < dim(); ++i) w_(i) = weight_of(z_(i), n_(i));
  }

  online_logistic_options opt_;
  Scalar alpha_, beta_, l1_, l2_;
  vector_type z_;   // FTRL accumulated adjusted gradients
  vector_type n_;   // sum of squared gradients per coordinate
  vector_type w_;   // coefficients, derived from z and n
  vector_type zk_;  // scratch
  vector_type nk_;  // scratch
  vector_type wk_;  // scratch
  std::uint64_t count_{0};
};

}  // namespace livefit

#endif  // LIVEFIT_MODELS_ONLINE_LOGISTIC_HPP
