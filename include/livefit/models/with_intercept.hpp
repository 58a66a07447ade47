// A linear regressor with an intercept: the model of one more dimension whose last feature
// is the constant 1, behind the interface of the d features.
#ifndef LIVEFIT_MODELS_WITH_INTERCEPT_HPP
#define LIVEFIT_MODELS_WITH_INTERCEPT_HPP

#include <concepts>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/models/decayed_least_squares.hpp"
#include "livefit/models/detail/checks.hpp"
#include "livefit/models/nlms.hpp"
#include "livefit/models/rls.hpp"

namespace livefit {

namespace detail {

// The linear models (prediction w'x) with_intercept accepts, and the same model with one
// more dimension.
template <class M>
struct intercept_inner;
template <class S, int D>
struct intercept_inner<rls<S, D>> {
  using type = rls<S, D == Eigen::Dynamic ? Eigen::Dynamic : D + 1>;
};
template <class S, int D>
struct intercept_inner<nlms<S, D>> {
  using type = nlms<S, D == Eigen::Dynamic ? Eigen::Dynamic : D + 1>;
};
template <class S, int D>
struct intercept_inner<decayed_least_squares<S, D>> {
  using type = decayed_least_squares<S, D == Eigen::Dynamic ? Eigen::Dynamic : D + 1>;
};

// Models with update_block(X, y) (rls).
template <class M>
concept block_updatable =
    requires(M& m, const Eigen::Matrix<typename M::scalar_type, Eigen::Dynamic,
                                       M::vector_type::RowsAtCompileTime>& X,
             const Eigen::Matrix<typename M::scalar_type, Eigen::Dynamic, 1>& y) {
      { m.update_block(X, y) } -> std::same_as<status>;
    };

}  // namespace detail

/// `Model` (rls, nlms or decayed_least_squares of d features) with an intercept b:
/// predictions are w'x + b. It holds the model of d + 1 features whose last feature is the
/// constant 1, and appends that 1 to every sample on the way in (a copy of d scalars per
/// update, no allocation after make()). Every update therefore equals, bit for bit, the
/// update of that model on [x; 1]; the prediction is w'x + b, which rounds differently
/// from that model's predict([x; 1]) (a different order of the same sum).
///
/// The intercept is an ordinary coefficient of the inner model: its prior is the same ridge
/// as the others' (rls: P0 = I / ridge, so the penalty ridge b^2, forgotten at the rate
/// lambda^n like the prior of every coefficient) and, for nlms, the constant 1 counts in the
/// normalisation |x|^2. With features of very different scales, standardise them first
/// (online_standardizer), so that the prior and the step treat the intercept like the rest.
///
/// Checkpoints are those of the inner model (the same type name and bytes): a state saved
/// by with_intercept<rls<double, 4>> loads into rls<double, 5> and back.
///
/// @tparam Model rls<S, D>, nlms<S, D> or decayed_least_squares<S, D>, D the number of
///               features without the intercept (or Eigen::Dynamic).
template <class Model>
class with_intercept {
 public:
  /// The model of d + 1 features that does the work.
  using model_type = typename detail::intercept_inner<Model>::type;
  using scalar_type = typename Model::scalar_type;  ///< The scalar type.
  using vector_type = typename Model::vector_type;  ///< A vector of the d features.
  /// Name written into checkpoints: the inner model's (see the class notes).
  static constexpr std::string_view checkpoint_type = model_type::checkpoint_type;

 private:
  static constexpr int D = vector_type::RowsAtCompileTime;
  using inner_vector = typename model_type::vector_type;

 public:
  /// Builds the model of dim + 1 features with `opt` (the inner model's options), at its
  /// prior; fails as the inner model's make() does, or when dim is not D (fixed) or > 0.
  template <class Options>
  [[nodiscard]] static result<with_intercept> make(const Options& opt, Eigen::Index dim = D) {
    if (auto msg = detail::dim_error<D>("with_intercept", dim); !msg.empty())
      return fail(errc::invalid_argument, std::move(msg));
    auto inner = model_type::make(opt, dim + 1);
    if (!inner) return inner.error();
    return with_intercept(std::move(inner).value(), dim);
  }

  /// Folds (x, y) in: the inner model's update of ([x; 1], y), with its status; on any
  /// non-ok status nothing observable has changed. O(what the inner update costs) plus a
  /// copy of x.
  [[nodiscard]] status update(const vector_type& x, scalar_type y) noexcept {
    if (x.size() != dim()) return status::dimension_mismatch;
    features(xa_) = x;
    return inner_.update(xa_, y);
  }

  /// Folds the k rows of X in (rls only): the inner update_block of [X, 1], with its status
  /// (all or nothing). @pre X.rows() == y.size() <= the inner options' max_block
  template <class DX, class DY>
    requires detail::block_updatable<model_type>
  [[nodiscard]] status update_block(const Eigen::MatrixBase<DX>& X,
                                    const Eigen::MatrixBase<DY>& y) noexcept {
    const Eigen::Index k = X.rows();
    if (X.cols() != dim() || y.size() != k) return status::dimension_mismatch;
    if (k > Xa_.rows()) return status::invalid_argument;
    Xa_.topLeftCorner(k, dim()) = X;
    return inner_.update_block(Xa_.topRows(k), y);
  }

  /// w'x + b (2d FLOPs).
  [[nodiscard]] scalar_type predict(const vector_type& x) const noexcept {
    const auto& w = inner_.coefficients();
    return features(w).dot(x) + w(dim());
  }

  /// rls only: the inner model's predictive variance at [x; 1], in units of the noise
  /// variance: x'P_11 x + 2 x'P_12 + P_22 for P partitioned as [features, intercept].
  /// O(d^2), no allocation (entry by entry from the inner covariance expression).
  [[nodiscard]] scalar_type predictive_variance(const vector_type& x) const noexcept
    requires requires(const model_type& m) { m.covariance(); }
  {
    const auto P = inner_.covariance();
    const Eigen::Index d = dim();
    scalar_type acc = P(d, d);
    for (Eigen::Index j = 0; j < d; ++j) {
      scalar_type col = scalar_type(2) * P(d, j);
      for (Eigen::Index i = 0; i < d; ++i) col += P(i, j) * x(i);
      acc += col * x(j);
    }
    return acc;
  }

  /// The coefficients of the d features (an expression over the inner model's).
  [[nodiscard]] auto coefficients() const noexcept { return features(inner_.coefficients()); }
  /// The intercept b.
  [[nodiscard]] scalar_type intercept() const noexcept { return inner_.coefficients()(dim()); }
  /// The number of features d (without the intercept).
  [[nodiscard]] Eigen::Index dim() const noexcept { return inner_.dim() - 1; }
  /// Samples folded in (the inner model's count).
  [[nodiscard]] std::uint64_t samples_seen() const noexcept { return inner_.samples_seen(); }
  /// The model of d + 1 features (covariance, options, diagnostics); its last coefficient is
  /// the intercept.
  [[nodiscard]] const model_type& model() const noexcept { return inner_; }
  /// The model of d + 1 features, for calls this class does not forward. Updates made on it
  /// directly must carry the constant 1 as their last feature.
  [[nodiscard]] model_type& model() noexcept { return inner_; }

  /// Returns to the prior (the inner model's reset()).
  void reset() noexcept { inner_.reset(); }
  /// Copies the champion's whole state (the inner model's seed_from()).
  [[nodiscard]] status seed_from(const with_intercept& champion) noexcept
    requires requires(model_type& m, const model_type& c) { m.seed_from(c); }
  {
    return inner_.seed_from(champion.inner_);
  }

  /// rls only: the inner model's options (for the d + 1 features).
  [[nodiscard]] auto options() const noexcept
    requires requires(const model_type& m) { m.options(); }
  {
    return inner_.options();
  }
  /// decayed_least_squares only: combines another shard (the inner models' merge(), exact;
  /// the intercepts merge like any coefficient). Returns the inner merge's status.
  [[nodiscard]] status merge(const with_intercept& other) noexcept
    requires requires(model_type& m, const model_type& o) { m.merge(o); }
  {
    return inner_.merge(other.inner_);
  }

  /// Writes the inner model's state.
  void save_state(byte_writer& out) const { inner_.save_state(out); }
  /// Reads a state written by save_state (or by the inner model type of d + 1 features).
  [[nodiscard]] status load_state(byte_reader& in) { return inner_.load_state(in); }

 private:
  with_intercept(model_type inner, Eigen::Index dim)
      : inner_(std::move(inner)), xa_(inner_vector::Ones(dim + 1)), Xa_(block_rows(), dim + 1) {
    Xa_.setOnes();
  }

  // The first d entries of a vector of d + 1 (fixed-size segment for a fixed D).
  template <class V>
  auto features(V& v) const noexcept {
    if constexpr (D == Eigen::Dynamic)
      return v.head(dim());
    else
      return v.template head<D>();
  }

  // Rows of the block scratch: the inner options' max_block when the model has one.
  Eigen::Index block_rows() const noexcept {
    if constexpr (requires { inner_.options().max_block; })
      return inner_.options().max_block;
    else
      return 0;
  }

  model_type inner_;
  inner_vector xa_;  // scratch: [x; 1] (the 1 is set once)
  // scratch: [X, 1] for update_block (max_block rows; the ones column is set once)
  Eigen::Matrix<scalar_type, Eigen::Dynamic, inner_vector::RowsAtCompileTime> Xa_;
};

}  // namespace livefit

#endif  // LIVEFIT_MODELS_WITH_INTERCEPT_HPP
