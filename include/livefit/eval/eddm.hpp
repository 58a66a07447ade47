// eddm: the Early Drift Detection Method (Baena-Garcia, del Campo-Avila, Fidalgo, Bifet,
// Gavalda & Morales-Bueno 2006), for gradual changes in an error stream.
#ifndef LIVEFIT_EVAL_EDDM_HPP
#define LIVEFIT_EVAL_EDDM_HPP

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "livefit/core/concepts.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/eval/detail/running_moments.hpp"
#include "livefit/eval/detail/state_io.hpp"

namespace livefit {

/// Configuration of eddm.
struct eddm_options {
  /// Distances between errors (so errors after the first) seen before a warning or drift may
  /// be reported (the paper's 30). >= 1. Default 30.
  std::uint64_t min_errors{30};
  /// Warning when (p' + 2 s') / max(p' + 2 s') < warning_ratio. In (0, 1]. Default 0.95.
  double warning_ratio{0.95};
  /// Drift when the same ratio < drift_ratio. In (0, warning_ratio]. Default 0.90.
  double drift_ratio{0.90};
};

/// EDDM: tracks the distance (in samples) between consecutive errors; p' is its mean and s'
/// its standard deviation. While the model improves or holds, distances grow or stay; when the
/// error rate rises they shrink. With (p' + 2 s')_max the largest value seen since the last
/// drift (tracked from the min_errors-th distance on), it reports
///   warning when (p' + 2 s') / (p' + 2 s')_max < warning_ratio,
///   drift   when the ratio < drift_ratio, then restarts.
/// Input values are error indicators: exactly 0 (correct) or 1 (error). Only errors move the
/// statistics; a correct sample keeps the previous warning (a drift lasts one update).
///
/// False alarms: EDDM reacts sooner than DDM and, with the paper's ratios, also to noise: the
/// ratio of a running level to its running maximum dips below 0.9 now and then, mostly soon
/// after a restart. Measured in the tests: 8 false drifts in 1e6 Bernoulli(0.1) samples
/// (about one per 125000); after a rise from 0.1 to 0.3 the median delay is about 59 samples
/// (worst of 100 streams about 230). Starting the maximum at the min_errors-th distance, and
/// not counting a first "distance" from the stream's start (MOA does both otherwise), halved
/// the false drifts (15 before) and removed a spurious drift on a perfectly regular stream.
class eddm {
 public:
  /// Stable name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.eddm";

  /// Validates the options. @return the detector, or invalid_argument naming the parameter.
  [[nodiscard]] static result<eddm> make(const eddm_options& o) {
    if (o.min_errors < 1)
      return fail(errc::invalid_argument, "eddm: min_errors must be >= 1, got 0");
    if (!(o.warning_ratio > 0.0 && o.warning_ratio <= 1.0))
      return fail(errc::invalid_argument, "eddm: warning_ratio must be in (0, 1], got " +
                                              std::to_string(o.warning_ratio));
    if (!(o.drift_ratio > 0.0 && o.drift_ratio <= o.warning_ratio))
      return fail(errc::invalid_argument, "eddm: drift_ratio must be in (0, warning_ratio], got " +
                                              std::to_string(o.drift_ratio));
    return eddm(o);
  }

  /// Adds one error indicator. @return ok; non_finite_input for NaN/inf; invalid_argument when
  /// the value is neither 0 nor 1. On error the state is unchanged.
  [[nodiscard]] status update(double error) noexcept {
    if (!std::isfinite(error)) return status::non_finite_input;
    if (error != 0.0 && error != 1.0) return status::invalid_argument;
    ++n_;
    if (state_ == drift_state::drift) state_ = drift_state::none;
    if (error == 0.0) return status::ok;
    state_ = drift_state::none;
    // The first error since the (re)start has no predecessor, so no distance: counting it
    // from the start of the stream would plant an outlier in the moments.
    const std::uint64_t previous = last_error_;
    last_error_ = n_;
    if (previous == 0) return status::ok;
    // A distance is at most 2^64, so its moments stay far from overflow.
    (void)distances_.add(static_cast<double>(n_ - previous));
    if (distances_.n < options_.min_errors) return status::ok;
    // The maximum is tracked from the min_errors-th distance on, so that the noisy estimates
    // of the first few distances cannot set a level the stream never returns to.
    const double level = distances_.mean + 2.0 * std::sqrt(distances_.population_variance());
    if (level > max_level_) max_level_ = level;
    const double ratio = level / max_level_;
    if (ratio < options_.drift_ratio) {
      const std::uint64_t drifts = drifts_ + 1;
      *this = eddm(options_);
      drifts_ = drifts;
      state_ = drift_state::drift;
    } else if (ratio < options_.warning_ratio) {
      state_ = drift_state::warning;
    }
    return status::ok;
  }

  /// What the latest update said.
  [[nodiscard]] drift_state state() const noexcept { return state_; }
  /// Mean distance between errors since the last drift (0 before two errors).
  [[nodiscard]] double mean_distance() const noexcept { return distances_.mean; }
  /// Errors since the last drift or reset.
  [[nodiscard]] std::uint64_t errors() const noexcept { return distances_.n; }
  /// Drifts reported since construction or reset().
  [[nodiscard]] std::uint64_t drift_count() const noexcept { return drifts_; }
  /// Back to the freshly made state (options kept).
  void reset() noexcept { *this = eddm(options_); }

  /// Writes the counters, the distance moments, the maximum level and the state.
  void save_state(byte_writer& w) const {
    w.put_u64(n_);
    w.put_u64(last_error_);
    w.put_u64(distances_.n);
    w.put_f64(distances_.mean);
    w.put_f64(distances_.m2);
    w.put_f64(max_level_);
    w.put_u64(drifts_);
    detail::put_drift_state(w, state_);
  }

  /// Reads what save_state wrote; invalid_argument (detector unchanged) on malformed bytes.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    eddm next = *this;
    r.get_u64(next.n_);
    r.get_u64(next.last_error_);
    r.get_u64(next.distances_.n);
    r.get_f64(next.distances_.mean);
    r.get_f64(next.distances_.m2);
    r.get_f64(next.max_level_);
    r.get_u64(next.drifts_);
    if (!detail::get_drift_state(r, next.state_) || !r.ok() || next.last_error_ > next.n_ ||
        next.distances_.n > next.n_ ||
        !next.distances_.valid() || !std::isfinite(next.max_level_) || next.max_level_ < 0.0 ||
        (next.distances_.n > 0 && next.distances_.mean < 1.0))
      return status::invalid_argument;
    *this = next;
    return status::ok;
  }

 private:
  explicit eddm(const eddm_options& o) noexcept : options_(o) {}

  eddm_options options_;
  std::uint64_t n_{0};
  std::uint64_t last_error_{0};
  detail::running_moments distances_{};
  double max_level_{0.0};
  std::uint64_t drifts_{0};
  drift_state state_{drift_state::none};
};

}  // namespace livefit

#endif  // LIVEFIT_EVAL_EDDM_HPP
