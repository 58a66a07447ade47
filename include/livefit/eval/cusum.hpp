// cusum: two-sided tabular CUSUM (Page 1954) for a shift of a stream's mean from a target.
#ifndef LIVEFIT_EVAL_CUSUM_HPP
#define LIVEFIT_EVAL_CUSUM_HPP

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

/// Configuration of cusum. k and h are in units of sigma, as in Montgomery's tables.
struct cusum_options {
  double target{0.0};  ///< In-control mean mu0, in the stream's unit. Finite. Default 0.
  double sigma{1.0};   ///< In-control standard deviation, stream's unit. > 0. Default 1.
  /// Reference value (allowance) k in sigmas: half the shift to detect fastest. >= 0.
  /// Default 0.5 (a one-sigma shift).
  double k{0.5};
  /// Decision interval h in sigmas: drift when a statistic exceeds it. > 0. Default 5.
  double h{5.0};
  /// Warning interval in sigmas: warning when a statistic exceeds it. 0 (default) disables
  /// warnings; otherwise in (0, h).
  double warning_h{0.0};
  drift_direction direction{drift_direction::both};  ///< Sides watched. Default both.
};

/// Two-sided tabular CUSUM: with z = (x - target) / sigma,
///   C+_t = max(0, C+_{t-1} + z - k),   C-_t = max(0, C-_{t-1} - z - k),
/// both from 0; drift when either exceeds h (strictly). After a drift both restart from 0.
///
/// False alarms: the in-control average run length (ARL0) is set by k and h. For i.i.d. normal
/// data: k = 0.5, h = 5 gives ARL0 ~ 469 two-sided (935 upper only) and ARL1 ~ 10.4 for a
/// one-sigma shift; h = 4 gives ARL0 ~ 165 (Montgomery, Introduction to Statistical Quality
/// Control, tabular CUSUM ARL table for k = 0.5: 465, 10.4 and 168; the Monte Carlo figures
/// are reproduced in the tests, handout case C13). So the textbook setting alarms on ~88% of
/// stationary 1000-sample streams: choose h for the stream length (Siegmund's approximation
/// ARL0 ~ (e^(2kb) - 2kb - 1) / (2k^2) per side, b = h + 1.166; k = 0.5, h = 10 gives about
/// 7e4 two-sided, 13 alarms in 1e6 samples measured).
class cusum {
 public:
  /// Stable name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.cusum";

  /// Validates the options. @return the detector, or invalid_argument naming the parameter.
  [[nodiscard]] static result<cusum> make(const cusum_options& o) {
    if (!std::isfinite(o.target))
      return fail(errc::invalid_argument, "cusum: target must be finite");
    if (!(o.sigma > 0.0) || !std::isfinite(o.sigma))
      return fail(errc::invalid_argument,
                  "cusum: sigma must be in (0, inf), got " + std::to_string(o.sigma));
    if (!(o.k >= 0.0) || !std::isfinite(o.k))
      return fail(errc::invalid_argument,
                  "cusum: k must be in [0, inf) sigmas, got " + std::to_string(o.k));
    if (!(o.h > 0.0) || !std::isfinite(o.h))
      return fail(errc::invalid_argument,
                  "cusum: h must be in (0, inf) sigmas, got " + std::to_string(o.h));
    if (!(o.warning_h >= 0.0 && o.warning_h < o.h))
      return fail(errc::invalid_argument, "cusum: warning_h must be 0 or in (0, h), got " +
                                              std::to_string(o.warning_h));
    return cusum(o);
  }

  /// Adds one value. @return ok, or non_finite_input with the state unchanged.
  [[nodiscard]] status update(double x) noexcept {
    if (!std::isfinite(x)) return status::non_finite_input;
    const double z = (x - options_.target) / options_.sigma;
    if (!std::isfinite(z)) return status::non_finite_input;
    ++n_;
    if (options_.direction != drift_direction::decrease)
      upper_ = std::fmax(0.0, upper_ + z - options_.k);
    if (options_.direction != drift_direction::increase)
      lower_ = std::fmax(0.0, lower_ - z - options_.k);
    const double top = std::fmax(upper_, lower_);
    if (top > options_.h) {
      state_ = drift_state::drift;
      upper_ = lower_ = 0.0;
      ++drifts_;
    } else if (options_.warning_h > 0.0 && top > options_.warning_h) {
      state_ = drift_state::warning;
    } else {
      state_ = drift_state::none;
    }
    return status::ok;
  }

  /// What the latest update said.
  [[nodiscard]] drift_state state() const noexcept { return state_; }
  /// C+ in sigmas (0 right after a drift).
  [[nodiscard]] double upper() const noexcept { return upper_; }
  /// C- in sigmas (0 right after a drift).
  [[nodiscard]] double lower() const noexcept { return lower_; }
  /// Values seen since construction or reset().
  [[nodiscard]] std::uint64_t n() const noexcept { return n_; }
  /// Drifts reported since construction or reset().
  [[nodiscard]] std::uint64_t drift_count() const noexcept { return drifts_; }
  /// Back to the freshly made state (options kept).
  void reset() noexcept { *this = cusum(options_); }

  /// Writes the statistics, counters and state (not the options: load into a detector made
  /// with the same options).
  void save_state(byte_writer& w) const {
    w.put_u64(n_);
    w.put_f64(upper_);
    w.put_f64(lower_);
    w.put_u64(drifts_);
    detail::put_drift_state(w, state_);
  }

  /// Reads what save_state wrote; invalid_argument (detector unchanged) on malformed bytes.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    cusum next = *this;
    r.get_u64(next.n_);
    r.get_f64(next.upper_);
    r.get_f64(next.lower_);
    r.get_u64(next.drifts_);
    if (!detail::get_drift_state(r, next.state_) || !r.ok() ||
        !detail::all_finite({next.upper_, next.lower_}) || next.upper_ < 0.0 ||
        next.lower_ < 0.0 || next.upper_ > options_.h || next.lower_ > options_.h ||
        (next.n_ == 0 && (next.upper_ != 0.0 || next.lower_ != 0.0)))
      return status::invalid_argument;
    *this = next;
    return status::ok;
  }

 private:
  explicit cusum(const cusum_options& o) noexcept : options_(o) {}

  cusum_options options_;
  double upper_{0.0};
  double lower_{0.0};
  std::uint64_t n_{0};
  std::uint64_t drifts_{0};
  drift_state state_{drift_state::none};
};

}  // namespace livefit

#endif  // LIVEFIT_EVAL_CUSUM_HPP
