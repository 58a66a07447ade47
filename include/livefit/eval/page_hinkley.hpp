// page_hinkley: the Page-Hinkley test for a change in a stream's mean (Page 1954; Hinkley 1971).
#ifndef LIVEFIT_EVAL_PAGE_HINKLEY_HPP
#define LIVEFIT_EVAL_PAGE_HINKLEY_HPP

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "livefit/core/concepts.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/status.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/eval/detail/state_io.hpp"
#include "livefit/eval/drift_direction.hpp"

namespace livefit {

/// Configuration of page_hinkley. delta and lambda are in the stream's unit.
struct page_hinkley_options {
  /// Magnitude of change tolerated: deviations from the running mean smaller than delta do
  /// not accumulate. >= 0, stream's unit. Default 0.005 (as in MOA), suited to [0, 1] losses.
  double delta{0.005};
  /// Detection threshold lambda: drift when the cumulative deviation exceeds its running
  /// extreme by more than lambda. > 0, stream's unit. Default 50 (as in MOA).
  double lambda{50.0};
  /// Warning threshold as a fraction of lambda, in (0, 1); 0 (default) disables warnings.
  double warning_fraction{0.0};
  /// Samples before a drift may be reported. >= 1. Default 30.
  std::uint64_t min_samples{30};
  drift_direction direction{drift_direction::increase};  ///< Default: increases (losses).
};

/// Page-Hinkley test. With x_bar_t the running mean of the values since the last reset,
///   m_t = sum_{i<=t} (x_i - x_bar_i - delta),  M_t = min_{i<=t} m_i,  PH_t = m_t - M_t
/// (and the mirrored statistic for decreases); drift when PH_t > lambda. After a drift the
/// detector restarts (mean, sums and count), so one change gives one drift.
///
/// False alarms: with the running mean in place of a known target, PH_t behaves like a
/// one-sided CUSUM with allowance delta and interval lambda. For i.i.d. noise of standard
/// deviation s, Siegmund's approximation gives an in-control run length of about
/// (e^(2 d b) - 2 d b - 1) / (2 d^2) samples with d = delta / s and b = lambda / s + 1.166:
/// the MOA defaults (delta 0.005, lambda 50) are far too sensitive for unit-variance data
/// (alarms every few thousand samples) and meant for error rates. Scale both with s. The
/// tests measure delta = 0.5 s, lambda = 15 s: no false alarm in 1e6 N(0, 1) samples.
class page_hinkley {
 public:
  /// Stable name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.page_hinkley";

  /// Validates the options. @return the detector, or invalid_argument naming the parameter.
  [[nodiscard]] static result<page_hinkley> make(const page_hinkley_options& o) {
    if (!(o.delta >= 0.0) || !std::isfinite(o.delta))
      return fail(errc::invalid_argument,
                  "page_hinkley: delta must be in [0, inf), got " + std::to_string(o.delta));
    if (!(o.lambda > 0.0) || !std::isfinite(o.lambda))
      return fail(errc::invalid_argument,
                  "page_hinkley: lambda must be in (0, inf), got " + std::to_string(o.lambda));
    if (!(o.warning_fraction >= 0.0 && o.warning_fraction < 1.0))
      return fail(errc::invalid_argument, "page_hinkley: warning_fraction must be in [0, 1), got " +
                                              std::to_string(o.warning_fraction));
    if (o.min_samples < 1)
      return fail(errc::invalid_argument, "page_hinkley: min_samples must be >= 1, got 0");
    return page_hinkley(o);
  }

  /// Adds one value. @return ok; non_finite_input for NaN/inf, numerical_failure when a
  /// finite value would overflow the running sums; on error the state is unchanged.
  [[nodiscard]] status update(double x) noexcept {
    if (!std::isfinite(x)) return status::non_finite_input;
    // New values first: a finite x near the double range could overflow the sums, and the
    // detector must then refuse it unchanged rather than carry an infinity into a NaN.
    const double mean = mean_ + (x - mean_) / static_cast<double>(n_ + 1);
    const double dev = x - mean;
    const double up = up_sum_ + (dev - options_.delta);
    const double down = down_sum_ + (-dev - options_.delta);
    if (!std::isfinite(mean) || !std::isfinite(up) || !std::isfinite(down))
      return status::numerical_failure;
    ++n_;
    mean_ = mean;
    up_sum_ = up;
    up_min_ = std::fmin(up_min_, up_sum_);
    down_sum_ = down;
    down_min_ = std::fmin(down_min_, down_sum_);
    const double stat = statistic();
    if (n_ >= options_.min_samples && stat > options_.lambda) {
      const std::uint64_t drifts = drifts_ + 1;
      *this = page_hinkley(options_);
      drifts_ = drifts;
      state_ = drift_state::drift;
    } else if (options_.warning_fraction > 0.0 &&
               stat > options_.warning_fraction * options_.lambda) {
      state_ = drift_state::warning;
    } else {
      state_ = drift_state::none;
    }
    return status::ok;
  }

  /// What the latest update said.
  [[nodiscard]] drift_state state() const noexcept { return state_; }
  /// PH statistic of the watched direction(s) (the larger one for both).
  [[nodiscard]] double statistic() const noexcept {
    const double up = up_sum_ - up_min_;
    const double down = down_sum_ - down_min_;
    switch (options_.direction) {
      case drift_direction::increase: return up;
      case drift_direction::decrease: return down;
      case drift_direction::both: break;
    }
    return std::fmax(up, down);
  }
  /// Values seen since the last drift or reset.
  [[nodiscard]] std::uint64_t n() const noexcept { return n_; }
  /// Drifts reported since construction or reset().
  [[nodiscard]] std::uint64_t drift_count() const noexcept { return drifts_; }
  /// Back to the freshly made state (options kept).
  void reset() noexcept { *this = page_hinkley(options_); }

  /// Writes the running mean, sums, minima, counters and state (not the options).
  void save_state(byte_writer& w) const {
    w.put_u64(n_);
    for (double v : {mean_, up_sum_, up_min_, down_sum_, down_min_}) w.put_f64(v);
    w.put_u64(drifts_);
    detail::put_drift_state(w, state_);
  }

  /// Reads what save_state wrote; invalid_argument (detector unchanged) on malformed bytes.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    page_hinkley next = *this;
    r.get_u64(next.n_);
    for (double* v : {&next.mean_, &next.up_sum_, &next.up_min_, &next.down_sum_,
                      &next.down_min_})
      r.get_f64(*v);
    r.get_u64(next.drifts_);
    // Invariants: the minima start at 0 and never exceed their sums.
    if (!detail::get_drift_state(r, next.state_) || !r.ok() ||
        !detail::all_finite({next.mean_, next.up_sum_, next.up_min_, next.down_sum_,
                             next.down_min_}) ||
        next.up_min_ > 0.0 || next.down_min_ > 0.0 || next.up_min_ > next.up_sum_ ||
        next.down_min_ > next.down_sum_ || !std::isfinite(next.statistic()) ||
        (next.n_ == 0 && (next.mean_ != 0.0 || next.up_sum_ != 0.0 || next.down_sum_ != 0.0)))
      return status::invalid_argument;
    *this = next;
    return status::ok;
  }

 private:
  explicit page_hinkley(const page_hinkley_options& o) noexcept : options_(o) {}

  page_hinkley_options options_;
  std::uint64_t n_{0};
  double mean_{0.0};
  double up_sum_{0.0};
  double up_min_{0.0};
  double down_sum_{0.0};
  double down_min_{0.0};
  std::uint64_t drifts_{0};
  drift_state state_{drift_state::none};
};

}  // namespace livefit

#endif  // LIVEFIT_EVAL_PAGE_HINKLEY_HPP
