// Cross-validation of incremental regressors: k-fold (seeded shuffle) and rolling-origin
// (time-ordered), and a grid search over hyper-parameters built on either.
#ifndef LIVEFIT_EVAL_CROSS_VALIDATION_HPP
#define LIVEFIT_EVAL_CROSS_VALIDATION_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "livefit/core/assert.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/status.hpp"

namespace livefit {

/// Per-sample loss used to score held-out predictions.
enum class cv_loss : std::uint8_t {
  squared,   ///< (y - y_hat)^2: fold loss is the MSE.
  absolute,  ///< |y - y_hat|: fold loss is the MAE.
};

/// Configuration of k_fold.
struct k_fold_options {
  std::size_t folds{5};     ///< Number of folds k, in [2, number of samples]. Default 5.
  std::uint64_t seed{0};    ///< Seed of the shuffle that assigns samples to folds. Default 0.
  /// Passes over the training samples (incremental models often need more than one pass to
  /// converge on a small data set). >= 1. Default 1.
  std::size_t epochs{1};
  cv_loss loss{cv_loss::squared};  ///< Default squared.
};

/// Configuration of rolling_origin.
struct rolling_origin_options {
  /// Samples learnt before the first origin. >= 0 (0: the first fold scores a fresh model).
  /// Default 100.
  std::size_t initial{100};
  /// Samples scored after each origin, without learning from them. >= 1. Default 50.
  std::size_t horizon{50};
  /// Distance between consecutive origins; 0 (default) means horizon (folds do not overlap).
  std::size_t step{0};
  cv_loss loss{cv_loss::squared};  ///< Default squared.
};

/// Outcome of a cross-validation.
struct cv_report {
  std::vector<double> fold_loss;       ///< Mean loss over each fold's held-out samples.
  std::vector<std::size_t> fold_size;  ///< Held-out samples per fold.
  double mean_loss{0.0};               ///< Unweighted mean of fold_loss.
};

/// Outcome of a grid search.
template <class Param>
struct grid_search_report {
  std::size_t best_index{0};          ///< Index of the best parameter in the grid.
  Param best{};                       ///< The parameter with the lowest mean loss.
  double best_loss{0.0};              ///< Its mean loss.
  std::vector<double> mean_loss;      ///< Mean loss of every grid point, in grid order.
};

namespace detail {

/// Makes a model from a factory that returns either the model or a result<model>.
template <class Factory>
auto build_model(Factory& factory) {
  using made = std::invoke_result_t<Factory&>;
  if constexpr (requires(made m) { m.has_value(); m.error(); }) {
    return factory();
  } else {
    return result<made>(factory());
  }
}

template <class Factory>
using model_of = std::remove_cvref_t<decltype(*build_model(std::declval<Factory&>()))>;

/// A uniform integer in [0, bound) by rejection of the top partial range (no modulo bias):
/// the same sequence on every platform, unlike std::uniform_int_distribution and
/// std::shuffle, whose algorithms the standard leaves to the implementation.
inline std::uint64_t uniform_below(std::uint64_t& state, std::uint64_t bound) {
  // splitmix64 (Steele, Lea & Flood 2014): a small, fully specified generator.
  const auto next = [&state]() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                              std::numeric_limits<std::uint64_t>::max() % bound;
  std::uint64_t v = next();
  while (v >= limit) v = next();
  return v % bound;
}

/// Lets the model learn row i (x is scratch space); the error names the row and the status.
template <class M, class DX, class DY>
result<void> learn_row(const char* who, M& model, typename M::vector_type& x,
                       const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y,
                       Eigen::Index i) {
  x = X.row(i).transpose().template cast<typename M::scalar_type>();
  const status s = model.update(x, static_cast<typename M::scalar_type>(y(i)));
  if (s == status::ok) return {};
  return fail(errc::invalid_argument, std::string(who) + ": the model refused row " +
                                          std::to_string(i) + " (" +
                                          std::string(to_string(s)) + ")");
}

/// The model's loss on row i, without learning it.
template <class M, class DX, class DY>
double row_loss(cv_loss kind, const M& model, typename M::vector_type& x,
                const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& y, Eigen::Index i) {
  x = X.row(i).transpose().template cast<typename M::scalar_type>();
  const double e = static_cast<double>(y(i)) - static_cast<double>(model.predict(x));
  return kind == cv_loss::squared ? e * e : std::fabs(e);
}

template <class DX, class DY>
result<void> check_data(const char* who, const Eigen::MatrixBase<DX>& X,
                        const Eigen::MatrixBase<DY>& y) {
  if (X.rows() != y.size())
    return fail(errc::invalid_argument, std::string(who) + ": X has " +
                                            std::to_string(X.rows()) + " rows but y has " +
                                            std::to_string(y.size()) + " values");
  return {};
}

/// Checks a freshly built model's dimension against the data's columns.
template <class M>
result<void> check_model(const char* who, const M& model, Eigen::Index cols) {
  if (static_cast<Eigen::Index>(model.dim()) == cols) return {};
  return fail(errc::invalid_argument, std::string(who) + ": the model's dimension is " +
                                          std::to_string(model.dim()) + " but X has " +
                                          std::to_string(cols) + " columns");
}

inline void finish(cv_report& r) {
  double sum = 0.0;
  for (double l : r.fold_loss) sum += l;
  r.mean_loss = r.fold_loss.empty() ? 0.0 : sum / static_cast<double>(r.fold_loss.size());
}

}  // namespace detail

/// The fold (0 .. folds - 1) of each of n samples, as k_fold assigns them: a Fisher-Yates
/// shuffle of 0 .. n - 1 seeded with `seed` (splitmix64, identical on every platform), then
/// the sample at shuffled position p goes to fold p mod folds (sizes differ by at most one).
/// @pre folds >= 1
[[nodiscard]] inline std::vector<std::size_t> k_fold_assignment(std::size_t n, std::size_t folds,
                                                                std::uint64_t seed) {
  LIVEFIT_ASSERT(folds >= 1);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::uint64_t state = seed;
  for (std::size_t i = n; i > 1; --i)
    std::swap(order[i - 1], order[detail::uniform_below(state, i)]);
  std::vector<std::size_t> fold_of(n);
  for (std::size_t p = 0; p < n; ++p) fold_of[order[p]] = p % folds;
  return fold_of;
}

/// k-fold cross-validation of an incremental regressor.
///
/// Samples are assigned to k folds by a seeded shuffle (same folds on every platform for a
/// given seed). For each fold a fresh model from `factory` learns every other sample, in
/// their original (time) order, `epochs` times; then it predicts the fold's samples, which
/// it never learnt. Off the hot path: allocates, O(k n) updates.
///
/// k-fold ignores time order: with drifting data it leaks the future into training; use
/// rolling_origin for time series.
/// @param factory  callable returning a regressor (or a result<regressor>): one per fold.
/// @param X        samples by rows (n x d); y: n targets.
/// @return per-fold and mean loss; invalid_argument for bad options or shapes, or the
///         status of the first update the model refused.
template <class Factory, class DX, class DY>
[[nodiscard]] result<cv_report> k_fold(Factory&& factory, const Eigen::MatrixBase<DX>& X,
                                       const Eigen::MatrixBase<DY>& y,
                                       const k_fold_options& o) {
  using M = detail::model_of<Factory>;
  static_assert(regressor<M>, "k_fold: the factory must make a livefit::regressor");
  if (auto ok = detail::check_data("k_fold", X, y); !ok) return ok.error();
  const auto n = static_cast<std::size_t>(X.rows());
  if (o.folds < 2 || o.folds > n)
    return fail(errc::invalid_argument, "k_fold: folds must be in [2, " + std::to_string(n) +
                                            "], got " + std::to_string(o.folds));
  if (o.epochs < 1) return fail(errc::invalid_argument, "k_fold: epochs must be >= 1, got 0");

  const std::vector<std::size_t> fold_of = k_fold_assignment(n, o.folds, o.seed);
  cv_report report;
  for (std::size_t f = 0; f < o.folds; ++f) {
    auto made = detail::build_model(factory);
    if (!made) return made.error();
    M model = std::move(*made);
    if (auto ok = detail::check_model("k_fold", model, X.cols()); !ok) return ok.error();
    typename M::vector_type x(X.cols());
    for (std::size_t e = 0; e < o.epochs; ++e)
      for (std::size_t i = 0; i < n; ++i) {
        if (fold_of[i] == f) continue;
        auto ok = detail::learn_row("k_fold", model, x, X, y, static_cast<Eigen::Index>(i));
        if (!ok) return ok.error();
      }
    double sum = 0.0;
    std::size_t count = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (fold_of[i] != f) continue;
      sum += detail::row_loss(o.loss, model, x, X, y, static_cast<Eigen::Index>(i));
      ++count;
    }
    report.fold_loss.push_back(sum / static_cast<double>(count));
    report.fold_size.push_back(count);
  }
  detail::finish(report);
  return report;
}

/// Rolling-origin (time-series) cross-validation of an incremental regressor.
///
/// One model learns the first `initial` samples; then at each origin t it predicts samples
/// [t, t + horizon) without learning them (one fold), learns samples [t, t + step) and moves
/// the origin by step. Only full horizons are scored. Because the model is incremental this
/// costs one pass over the data (a batch model would be refitted at every origin), and it
/// never scores a sample with a model that saw anything after it.
/// @return per-fold and mean loss; invalid_argument for bad options, shapes, no full fold,
///         or the status of the first update the model refused.
template <class Factory, class DX, class DY>
[[nodiscard]] result<cv_report> rolling_origin(Factory&& factory,
                                               const Eigen::MatrixBase<DX>& X,
                                               const Eigen::MatrixBase<DY>& y,
                                               const rolling_origin_options& o) {
  using M = detail::model_of<Factory>;
  static_assert(regressor<M>, "rolling_origin: the factory must make a livefit::regressor");
  if (auto ok = detail::check_data("rolling_origin", X, y); !ok) return ok.error();
  const auto n = static_cast<std::size_t>(X.rows());
  if (o.horizon < 1)
    return fail(errc::invalid_argument, "rolling_origin: horizon must be >= 1, got 0");
  if (o.initial + o.horizon > n)
    return fail(errc::invalid_argument,
                "rolling_origin: initial + horizon must be <= the number of samples (" +
                    std::to_string(n) + "), got " + std::to_string(o.initial + o.horizon));
  const std::size_t step = o.step == 0 ? o.horizon : o.step;

  auto made = detail::build_model(factory);
  if (!made) return made.error();
  M model = std::move(*made);
  if (auto ok = detail::check_model("rolling_origin", model, X.cols()); !ok) return ok.error();
  typename M::vector_type x(X.cols());
  std::size_t learnt = 0;
  const auto learn_until = [&](std::size_t end) -> result<void> {
    for (; learnt < end; ++learnt) {
      const auto row = static_cast<Eigen::Index>(learnt);
      if (auto ok = detail::learn_row("rolling_origin", model, x, X, y, row); !ok) return ok;
    }
    return {};
  };
  cv_report report;
  if (auto ok = learn_until(o.initial); !ok) return ok.error();
  for (std::size_t origin = o.initial; origin + o.horizon <= n; origin += step) {
    if (auto ok = learn_until(origin); !ok) return ok.error();
    double sum = 0.0;
    for (std::size_t i = origin; i < origin + o.horizon; ++i)
      sum += detail::row_loss(o.loss, model, x, X, y, static_cast<Eigen::Index>(i));
    report.fold_loss.push_back(sum / static_cast<double>(o.horizon));
    report.fold_size.push_back(o.horizon);
  }
  detail::finish(report);
  return report;
}

/// Evaluates every parameter of a grid and returns the one with the lowest mean loss (the
/// first on ties). `evaluate(param)` returns a result<cv_report>, typically k_fold or
/// rolling_origin over a factory that builds the model from `param`, e.g. a forgetting
/// factor, a ridge strength or an EMA half-life.
/// @return the report; the first evaluation's error; invalid_argument for an empty grid or
///         when no grid point gave a finite loss.
template <class Param, class Evaluate>
[[nodiscard]] result<grid_search_report<Param>> grid_search(const std::vector<Param>& grid,
                                                            Evaluate&& evaluate) {
  if (grid.empty()) return fail(errc::invalid_argument, "grid_search: the grid is empty");
  grid_search_report<Param> report;
  bool found = false;
  for (std::size_t i = 0; i < grid.size(); ++i) {
    result<cv_report> r = evaluate(grid[i]);
    if (!r) return r.error();
    const double loss = r->mean_loss;
    report.mean_loss.push_back(loss);
    if (std::isfinite(loss) && (!found || loss < report.best_loss)) {
      found = true;
      report.best_index = i;
      report.best = grid[i];
      report.best_loss = loss;
    }
  }
  if (!found)
    return fail(errc::invalid_argument, "grid_search: no grid point gave a finite loss");
  return report;
}

}  // namespace livefit

#endif  // LIVEFIT_EVAL_CROSS_VALIDATION_HPP
