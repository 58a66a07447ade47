// ddm: the Drift Detection Method for error rates (Gama, Medas, Castillo & Rodrigues 2004).
#ifndef LIVEFIT_EVAL_DDM_HPP
#define LIVEFIT_EVAL_DDM_HPP

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "livefit/core/concepts.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/eval/detail/state_io.hpp"

namespace livefit {

/// Configuration of ddm.
struct ddm_options {
  /// Samples before a warning or drift may be reported (the paper's 30). >= 1. Default 30.
  std::uint64_t min_samples{30};
  /// Warning when p + s > p_min + warning_level * s_min. > 0. Default 2 (the paper's 95%).
  double warning_level{2.0};
  /// Drift when p + s > p_min + drift_level * s_min. >= warning_level. Default 3 (99%).
  double drift_level{3.0};
};

/// DDM: models the error indicator as Bernoulli; p is the error rate since the last drift and
/// s = sqrt(p (1 - p) / n). It remembers the (p, s) with the smallest p + s and reports
///   warning  when p + s >  p_min + warning_level * s_min,
///   drift    when p + s >  p_min + drift_level * s_min,
/// then restarts after a drift. Values are error indicators in [0, 1] (0 = correct, 1 =
/// error; fractional values are accepted as expected errors).
///
/// The comparisons are strict, and (p_min, s_min) is only recorded once 5 errors and 5
/// correct predictions were seen (where the normal approximation behind s is trusted): a
/// constant stream (all errors or none) records no minimum and reports nothing (handout case
/// C10: a non-strict comparison reported a drift every 30 samples on an all-error stream),
/// and an error-free start cannot plant s_min = 0 that the first error would exceed.
///
/// False alarms: DDM's thresholds are not calibrated to a run length. Measured in the tests:
/// 1 false drift in 1e6 Bernoulli(0.1) samples (spurious drifts come from a p_min set by
/// the first few dozen samples); after a rise from 0.1 to 0.3 that follows 2000 samples at
/// 0.1, the median delay is about 140 samples (worst of 100 streams about 700): p is the
/// rate since the last restart, so a long quiet history slows detection.
class ddm {
 public:
  /// Stable name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.ddm";

  /// Validates the options. @return the detector, or invalid_argument naming the parameter.
  [[nodiscard]] static result<ddm> make(const ddm_options& o) {
    if (o.min_samples < 1)
      return fail(errc::invalid_argument, "ddm: min_samples must be >= 1, got 0");
    if (!(o.warning_level > 0.0) || !std::isfinite(o.warning_level))
      return fail(errc::invalid_argument, "ddm: warning_level must be in (0, inf), got " +
                                              std::to_string(o.warning_level));
    if (!(o.drift_level >= o.warning_level) || !std::isfinite(o.drift_level))
      return fail(errc::invalid_argument,
                  "ddm: drift_level must be in [warning_level, inf), got " +
                      std::to_string(o.drift_level));
    return ddm(o);
  }

  /// Adds one error indicator. @return ok; non_finite_input for NaN/inf; invalid_argument for
  /// a value outside [0, 1]. On error the state is unchanged.
  [[nodiscard]] status update(double error) noexcept {
    if (!std::isfinite(error)) return status::non_finite_input;
    if (error < 0.0 || error > 1.0) return status::invalid_argument;
    ++n_;
    errors_ += error;
    const double n = static_cast<double>(n_);
    const double p = errors_ / n;
    const double s = std::sqrt(p * (1.0 - p) / n);
    state_ = drift_state::none;
    if (n_ < options_.min_samples) return status::ok;
    // The minimum is recorded only once at least min_count errors and min_count correct
    // predictions were seen: s is the normal approximation of the binomial, which the
    // usual rule of thumb trusts from n p >= 5 and n (1 - p) >= 5. Without it a stream that
    // starts error-free set s_min = 0 and its first error read as a drift (1000 zeros then
    // one 1 was a drift; Bernoulli(0.001) gave 61 false drifts in 1e6), and a minimum taken
    // from one or two errors sat far below the true rate (measured, 10 x 1e6 samples at
    // rate 0.001: 17 false drifts when recording from the first error, 2 from the fifth).
    // A constant stream records no minimum, so it never warns nor drifts (case C10 a, b);
    // case C10 c has 3 errors by sample 30 and 5 by 41, and keeps its exact counts.
    const double correct = n - errors_;
    if (errors_ >= min_count && correct >= min_count && p + s < p_min_ + s_min_) {
      p_min_ = p;
      s_min_ = s;
    }
    if (p + s > p_min_ + options_.drift_level * s_min_) {
      const std::uint64_t drifts = drifts_ + 1;
      *this = ddm(options_);
      drifts_ = drifts;
      state_ = drift_state::drift;
    } else if (p + s > p_min_ + options_.warning_level * s_min_) {
      state_ = drift_state::warning;
    }
    return status::ok;
  }

  /// What the latest update said.
  [[nodiscard]] drift_state state() const noexcept { return state_; }
  /// Error rate since the last drift or reset (0 before any sample).
  [[nodiscard]] double error_rate() const noexcept {
    return n_ == 0 ? 0.0 : errors_ / static_cast<double>(n_);
  }
  /// Samples since the last drift or reset.
  [[nodiscard]] std::uint64_t n() const noexcept { return n_; }
  /// Drifts reported since construction or reset().
  [[nodiscard]] std::uint64_t drift_count() const noexcept { return drifts_; }
  /// Back to the freshly made state (options kept).
  void reset() noexcept { *this = ddm(options_); }

  /// Writes the counts, the remembered minimum, counters and state (not the options).
  void save_state(byte_writer& w) const {
    w.put_u64(n_);
    w.put_f64(errors_);
    w.put_f64(p_min_);
    w.put_f64(s_min_);
    w.put_u64(drifts_);
    detail::put_drift_state(w, state_);
  }

  /// Reads what save_state wrote; invalid_argument (detector unchanged) on malformed bytes.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    ddm next = *this;
    r.get_u64(next.n_);
    r.get_f64(next.errors_);
    r.get_f64(next.p_min_);
    r.get_f64(next.s_min_);
    r.get_u64(next.drifts_);
    // p_min and s_min are +inf until the first full check, else in [0, 1].
    const auto in_unit = [](double v) {
      return (v >= 0.0 && v <= 1.0) || v == std::numeric_limits<double>::infinity();
    };
    if (!detail::get_drift_state(r, next.state_) || !r.ok() || !(next.errors_ >= 0.0) ||
        !(next.errors_ <= static_cast<double>(next.n_)) || !in_unit(next.p_min_) ||
        !in_unit(next.s_min_) || std::isinf(next.p_min_) != std::isinf(next.s_min_))
      return status::invalid_argument;
    *this = next;
    return status::ok;
  }

 private:
  explicit ddm(const ddm_options& o) noexcept : options_(o) {}

  /// Errors (and correct predictions) needed before the minimum is recorded.
  static constexpr double min_count = 5.0;

  ddm_options options_;
  std::uint64_t n_{0};
  double errors_{0.0};
  double p_min_{std::numeric_limits<double>::infinity()};
  double s_min_{std::numeric_limits<double>::infinity()};
  std::uint64_t drifts_{0};
  drift_state state_{drift_state::none};
};

}  // namespace livefit

#endif  // LIVEFIT_EVAL_DDM_HPP
