// Prequential metrics: MAE, MSE, RMSE and R^2 for regression, log-loss and accuracy for binary
// outcomes; cumulative, exponentially weighted, or over a fixed window.
#ifndef LIVEFIT_EVAL_METRICS_HPP
#define LIVEFIT_EVAL_METRICS_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/eval/detail/averager.hpp"

namespace livefit {

/// Configuration shared by the prequential metrics.
struct metrics_options {
  /// How past samples are weighed. Default averaging::cumulative.
  averaging mode{averaging::cumulative};
  /// Exponential mode: samples after which a sample's weight has halved, in samples; must be
  /// finite and >= 0.5 (decay 2^(-1/half_life) in (0, 1)). Default 1000. Ignored otherwise.
  double half_life{1000.0};
  /// Window mode: number of most recent samples averaged; must be >= 1. The buffer
  /// (window * 3 doubles for regression, * 2 for binary) is allocated by make(). Default 1000.
  std::size_t window{1000};
};

namespace detail {

/// Checks metrics_options; `who` names the component in the message.
[[nodiscard]] inline result<void> check_metrics_options(const metrics_options& o,
                                                        const char* who) {
  if (o.mode == averaging::exponential && !(o.half_life >= 0.5 && std::isfinite(o.half_life)))
    return fail(errc::invalid_argument, std::string(who) +
                                            ": half_life must be in [0.5, inf) samples, got " +
                                            std::to_string(o.half_life));
  if (o.mode == averaging::window && o.window < 1)
    return fail(errc::invalid_argument,
                std::string(who) + ": window must be >= 1 samples, got 0");
  return {};
}

/// Per-sample weight decay of a half-life: 2^(-1/h).
[[nodiscard]] inline double decay_of_half_life(double h) noexcept {
  return std::exp2(-1.0 / h);
}

/// What every prequential metric shares: the averager of its K channels, the counts, reset
/// and the checkpoint.
template <std::size_t K>
class metrics_base {
 public:
  /// Samples added since construction or reset().
  [[nodiscard]] std::uint64_t count() const noexcept { return acc_.count(); }
  /// Samples the metrics currently average over (at most the window in window mode).
  [[nodiscard]] std::uint64_t size() const noexcept { return acc_.size(); }
  /// Forgets every sample (keeps the options and the window buffer).
  void reset() noexcept { acc_.reset(); }

  /// Writes the form (mode, decay, window) and the state, window buffer included.
  void save_state(byte_writer& w) const { acc_.save_state(w); }
  /// Reads what save_state wrote into metrics made with the same options; invalid_argument
  /// (metrics unchanged) on malformed bytes or another form.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    return acc_.load_state(r) ? status::ok : status::invalid_argument;
  }

 protected:
  metrics_base() = default;
  explicit metrics_base(const metrics_options& o)
      : acc_(o.mode, decay_of_half_life(o.half_life), o.window) {}

  averager<K> acc_{};
};

}  // namespace detail

/// Prequential regression metrics: score the prediction *before* the model learns from the
/// sample (test-then-train), add (y, y_hat) here, then update the model.
///
/// A default-constructed object is cumulative; make() gives the exponential and window forms.
/// add() is O(1) worst case, noexcept and allocation-free. Every accessor returns 0 before the
/// first sample.
///
/// LIMITATION: add() refuses a sample whose squared error overflows, but a window of squared
/// errors each near the double range can still sum to +inf: mse() then reads +inf and r2()
/// falls back to 0 (never NaN). Scale such targets first.
class regression_metrics : public detail::metrics_base<3> {
 public:
  /// Stable name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.regression_metrics";

  /// Cumulative metrics over every sample.
  regression_metrics() = default;

  /// Validates the options and allocates the window buffer.
  [[nodiscard]] static result<regression_metrics> make(const metrics_options& o) {
    if (auto ok = detail::check_metrics_options(o, "regression_metrics"); !ok) return ok.error();
    return regression_metrics(o);
  }

  /// Adds one scored sample. @return ok, or non_finite_input (state unchanged) when y or
  /// y_hat is NaN or infinite, or their difference overflows.
  [[nodiscard]] status add(double y, double y_hat) noexcept {
    const double e = y - y_hat;
    if (!std::isfinite(y) || !std::isfinite(y_hat) || !std::isfinite(e * e))
      return status::non_finite_input;
    acc_.add({std::fabs(e), e * e, y});
    return status::ok;
  }

  /// Mean absolute error.
  [[nodiscard]] double mae() const noexcept { return acc_.mean(0); }
  /// Mean squared error.
  [[nodiscard]] double mse() const noexcept { return acc_.mean(1); }
  /// Root mean squared error.
  [[nodiscard]] double rmse() const noexcept { return std::sqrt(mse()); }
  /// Coefficient of determination 1 - MSE / Var(y), both under the same weights (the
  /// scikit-learn r2_score definition). When Var(y) is 0 it returns 1 for perfect predictions
  /// and 0 otherwise, as scikit-learn does (force_finite), instead of dividing by zero.
  [[nodiscard]] double r2() const noexcept {
    const double var = acc_.variance();
    if (!std::isfinite(var) || !std::isfinite(mse())) return 0.0;  // saturated (LIMITATION)
    if (!(var > 0.0)) return mse() == 0.0 ? 1.0 : 0.0;
    return 1.0 - mse() / var;
  }
  /// Mean of the targets.
  [[nodiscard]] double mean_target() const noexcept { return acc_.mean(2); }

 private:
  explicit regression_metrics(const metrics_options& o) : metrics_base(o) {}
};

/// Prequential metrics for binary outcomes scored with a probability: log-loss and accuracy.
///
/// add(outcome, p): outcome is 0 or 1, p the predicted probability of 1. Log-loss clips p to
/// [1e-15, 1 - 1e-15] (scikit-learn's default eps) so a confident mistake costs 34.5 nats,
/// not infinity. Accuracy predicts 1 when p >= 0.5.
class binary_metrics : public detail::metrics_base<2> {
 public:
  /// Stable name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.binary_metrics";

  /// Cumulative metrics over every sample.
  binary_metrics() = default;

  /// Validates the options and allocates the window buffer.
  [[nodiscard]] static result<binary_metrics> make(const metrics_options& o) {
    if (auto ok = detail::check_metrics_options(o, "binary_metrics"); !ok) return ok.error();
    return binary_metrics(o);
  }

  /// Adds one scored sample. @return ok; non_finite_input for NaN/inf; invalid_argument when
  /// outcome is not 0 or 1 or p is outside [0, 1]. On error the state is unchanged.
  [[nodiscard]] status add(double outcome, double p) noexcept {
    if (!std::isfinite(outcome) || !std::isfinite(p)) return status::non_finite_input;
    if ((outcome != 0.0 && outcome != 1.0) || p < 0.0 || p > 1.0)
      return status::invalid_argument;
    constexpr double eps = 1e-15;
    const double q = std::clamp(p, eps, 1.0 - eps);
    const double loss = outcome == 1.0 ? -std::log(q) : -std::log1p(-q);
    const double hit = (p >= 0.5) == (outcome == 1.0) ? 1.0 : 0.0;
    acc_.add({loss, hit});
    return status::ok;
  }

  /// Mean log-loss (cross-entropy) in nats.
  [[nodiscard]] double log_loss() const noexcept { return acc_.mean(0); }
  /// Share of samples classified correctly at threshold 0.5.
  [[nodiscard]] double accuracy() const noexcept { return acc_.mean(1); }

 private:
  explicit binary_metrics(const metrics_options& o) : metrics_base(o) {}
};

}  // namespace livefit

#endif  // LIVEFIT_EVAL_METRICS_HPP
