// running_stats<Scalar>: count, mean, variance, min and max of everything seen, with an exact
// merge of two partial states (Welford; Chan, Golub and LeVeque).
#ifndef LIVEFIT_STATS_RUNNING_STATS_HPP
#define LIVEFIT_STATS_RUNNING_STATS_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/stats/detail/common.hpp"

namespace livefit {

/// Configuration of running_stats and rolling_window.
struct running_stats_options {
  /// Delta degrees of freedom: variance() divides the sum of squared deviations by
  /// (n - ddof). 1 (the default): the unbiased sample variance; 0: the population variance.
  /// Must be 0 or 1.
  std::uint32_t ddof{1};
};

namespace detail {
[[nodiscard]] inline result<void> check_ddof(std::uint32_t ddof, std::string_view who) {
  if (ddof > 1) return range_error(who, "ddof", "0 or 1", static_cast<double>(ddof));
  return {};
}
}  // namespace detail

/// Mean, variance, min and max of a stream, updated in O(1) (Welford 1962), and mergeable:
/// `a.merge(b)` equals, up to rounding, the statistics of a's values followed by b's
/// (Chan, Golub & LeVeque 1979, eq. 2.1), so shards of a stream can be summarised apart.
///
/// Values are kept relative to the first one seen (exact for values within a factor 2 of
/// it), so a stream near 1e9 that moves by 1e-3 keeps the digits of its variance.
/// Copyable value type, no allocation; not thread-safe.
template <class Scalar>
class running_stats {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::running_stats supports float and double only");

 public:
  /// The floating-point type of values and results (float or double).
  using scalar_type = Scalar;
  /// The options struct that make() validates.
  using options_type = running_stats_options;
  /// Stable type name written into checkpoints, so a file of another type is refused.
  static constexpr std::string_view checkpoint_type = "livefit.running_stats";

  /// Validates `opts` and builds empty statistics.
  [[nodiscard]] static result<running_stats> make(const running_stats_options& opts = {}) {
    if (const result<void> d = detail::check_ddof(opts.ddof, "running_stats"); !d)
      return d.error();
    return running_stats(opts.ddof);
  }

  /// Adds one value.
  /// @return status::ok; status::non_finite_input for NaN or infinity;
  ///         status::numerical_failure when x is more than detail::deviation_limit()
  ///         (2^477 in double, 2^29 in float) from the first value, where squared
  ///         deviations could overflow. On error nothing changes.
  [[nodiscard]] status update(Scalar x) noexcept {
    if (!std::isfinite(x)) [[unlikely]]
      return status::non_finite_input;
    if (n_ == 0) {
      shift_ = min_ = max_ = x;
      mean_ = m2_ = Scalar(0);
      n_ = 1;
      return status::ok;
    }
    const Scalar dx = x - shift_;
    // Squared deviations would overflow (see detail::deviation_limit).
    if (!(std::abs(dx) <= detail::deviation_limit<Scalar>())) [[unlikely]]
      return status::numerical_failure;
    ++n_;
    const Scalar d = dx - mean_;
    // 1/n does not depend on the data, so the division runs off the chain from one mean to
    // the next; the chain is a subtraction and an FMA.
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(n_);
    mean_ = detail::mul_add(d, inv_n, mean_);
    m2_ = detail::mul_add(d, dx - mean_, m2_);
    min_ = std::min(min_, x);
    max_ = std::max(max_, x);
    return status::ok;
  }

  /// Adds the statistics of `other` (another shard of the stream). Both must use the same
  /// scalar type; ddof is this object's.
  /// @return status::ok; status::numerical_failure (nothing changes) when the combined
  ///         variance would overflow.
  [[nodiscard]] status merge(const running_stats& other) noexcept {
    if (other.n_ == 0) return status::ok;
    if (n_ == 0) {
      const std::uint32_t ddof = ddof_;
      *this = other;
      ddof_ = ddof;
      return status::ok;
    }
    const auto na = static_cast<Scalar>(n_);
    const auto nb = static_cast<Scalar>(other.n_);
    const Scalar n = na + nb;
    // Difference of the two means, shift terms first: they are close, so it is exact.
    const Scalar delta = (other.shift_ - shift_) + (other.mean_ - mean_);
    const Scalar mean = mean_ + delta * (nb / n);
    const Scalar m2 = m2_ + other.m2_ + delta * delta * (na / n * nb);  // na*nb may overflow
    if (!std::isfinite(mean) || !std::isfinite(m2)) return status::numerical_failure;
    mean_ = mean;
    m2_ = m2;
    n_ += other.n_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    return status::ok;
  }

  /// Number of values.
  [[nodiscard]] std::uint64_t count() const noexcept { return n_; }
  /// The mean; nullopt when empty.
  [[nodiscard]] std::optional<Scalar> mean() const noexcept {
    if (n_ == 0) return std::nullopt;
    return shift_ + mean_;
  }
  /// Sum of squared deviations / (n - ddof); nullopt while n <= ddof.
  [[nodiscard]] std::optional<Scalar> variance() const noexcept {
    if (n_ <= ddof_) return std::nullopt;
    return m2_ / static_cast<Scalar>(n_ - ddof_);
  }
  /// sqrt(variance()).
  [[nodiscard]] std::optional<Scalar> stddev() const noexcept {
    return detail::sqrt_of(variance());
  }
  /// Smallest and largest values; nullopt when empty.
  [[nodiscard]] std::optional<Scalar> min() const noexcept {
    if (n_ == 0) return std::nullopt;
    return min_;
  }
  /// Largest value seen; nullopt when empty.
  [[nodiscard]] std::optional<Scalar> max() const noexcept {
    if (n_ == 0) return std::nullopt;
    return max_;
  }

  /// Empties the statistics.
  void reset() noexcept { *this = running_stats(ddof_); }

  /// Writes the state.
  void save_state(byte_writer& w) const {
    detail::put_record_header<Scalar>(w, layout_);
    w.put_u64(n_);
    for (Scalar v : {shift_, mean_, m2_, min_, max_}) w.put_scalar(v);
  }
  /// Reads a state written by save_state.
  /// @return status::ok, or status::invalid_argument with the state unchanged.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    running_stats next(ddof_);
    if (!detail::get_record_header<Scalar>(r, layout_) || !r.get_u64(next.n_))
      return status::invalid_argument;
    for (Scalar* v : {&next.shift_, &next.mean_, &next.m2_, &next.min_, &next.max_})
      if (!r.get_scalar(*v) || !std::isfinite(*v)) return status::invalid_argument;
    if (next.m2_ < Scalar(0) || next.min_ > next.max_ || !next.consistent())
      return status::invalid_argument;
    *this = next;
    return status::ok;
  }

 private:
  static constexpr std::uint8_t layout_ = 1;
  explicit running_stats(std::uint32_t ddof) noexcept : ddof_(ddof) {}

  // The invariants a sequence of updates and merges keeps (checkpoint validation: a valid
  // CRC proves the bytes, not the state). Empty: all zero. Else the shift (a value seen)
  // lies in [min, max], the mean too (up to a few eps of its magnitude), one value has no
  // spread, and m2 <= n (max - min)^2 / 4 (the largest spread n values in that range
  // have), with 1% slack for rounding.
  [[nodiscard]] bool consistent() const noexcept {
    if (n_ == 0)
      return shift_ == Scalar(0) && mean_ == Scalar(0) && m2_ == Scalar(0) &&
             min_ == Scalar(0) && max_ == Scalar(0);
    if (!(shift_ >= min_ && shift_ <= max_)) return false;
    if (n_ == 1) return mean_ == Scalar(0) && m2_ == Scalar(0) && min_ == max_;
    const Scalar range = max_ - min_;
    const Scalar mean = shift_ + mean_;
    const Scalar tol = Scalar(16) * std::numeric_limits<Scalar>::epsilon() *
                       std::max(std::abs(min_), std::abs(max_));
    if (!(mean >= min_ - tol && mean <= max_ + tol)) return false;
    const Scalar n = static_cast<Scalar>(n_);
    return m2_ <= Scalar(0.2525) * n * range * range + std::numeric_limits<Scalar>::min();
  }

  std::uint64_t n_{0};
  Scalar shift_{0};  ///< The first value: every other value enters as x - shift_.
  Scalar mean_{0};   ///< Mean of x - shift_.
  Scalar m2_{0};     ///< Sum of squared deviations from the mean.
  Scalar min_{0};
  Scalar max_{0};
  std::uint32_t ddof_{1};
};

}  // namespace livefit

#endif  // LIVEFIT_STATS_RUNNING_STATS_HPP
