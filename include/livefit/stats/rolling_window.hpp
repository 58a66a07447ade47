// rolling_window<Scalar>: mean, variance, min and max of the last `capacity` values, in
// fixed memory allocated once by make().
#ifndef LIVEFIT_STATS_ROLLING_WINDOW_HPP
#define LIVEFIT_STATS_ROLLING_WINDOW_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/stats/detail/common.hpp"
#include "livefit/stats/running_stats.hpp"

namespace livefit {

/// Configuration of rolling_window.
struct rolling_window_options {
  /// Window length in values, >= 1 and <= 2^32; memory is about 40 bytes per value. No
  /// default (0 is rejected).
  std::uint64_t capacity{0};
  /// Delta degrees of freedom of variance(), 0 or 1 (default 1, the sample variance).
  std::uint32_t ddof{1};
};

/// Statistics of a sliding window of the last `capacity` values: mean and variance updated
/// in O(1), min and max by monotonic queues in amortised O(1).
///
/// The running sums are re-derived exactly from the window (two passes, shifted by the
/// newest value) once every `capacity` updates, so rounding never accumulates beyond one
/// window's worth; that update costs O(capacity), the others O(1).
/// Every buffer is allocated in make(); update() never allocates. Copies allocate (a copy
/// has its own buffers). Not thread-safe.
template <class Scalar>
class rolling_window {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::rolling_window supports float and double only");

 public:
  /// The floating-point type of values and results (float or double).
  using scalar_type = Scalar;
  /// The options struct that make() validates.
  using options_type = rolling_window_options;
  /// Stable type name written into checkpoints, so a file of another type is refused.
  static constexpr std::string_view checkpoint_type = "livefit.rolling_window";

  /// Validates `opts` and allocates the window.
  [[nodiscard]] static result<rolling_window> make(const rolling_window_options& opts) {
    if (opts.capacity < 1 || opts.capacity > (std::uint64_t{1} << 32))
      return detail::range_error("rolling_window", "capacity", "in [1, 2^32]",
                                 static_cast<double>(opts.capacity));
    if (const result<void> d = detail::check_ddof(opts.ddof, "rolling_window"); !d)
      return d.error();
    return rolling_window(opts);
  }

  /// Adds x and drops the oldest value once the window is full.
  /// @return status::ok; status::non_finite_input for NaN or infinity;
  ///         status::numerical_failure when x is more than detail::deviation_limit()
  ///         (2^477 in double, 2^29 in float) from the window's reference value, where
  ///         squared deviations could overflow. On error nothing changes.
  [[nodiscard]] status update(Scalar x) noexcept {
    if (!std::isfinite(x)) [[unlikely]]
      return status::non_finite_input;
    const std::uint64_t cap = cap_;
    const std::size_t slot = pos_;
    if (n_ == 0) shift_ = x;  // until the first rederive, values enter relative to the first
    const Scalar dx = x - shift_;
    // Squared deviations would overflow (see detail::deviation_limit). Values admitted
    // are within the limit of the shift, and the shift is always a value of the window, so
    // every deviation in the window stays within twice the limit.
    if (!(std::abs(dx) <= detail::deviation_limit<Scalar>())) [[unlikely]]
      return status::numerical_failure;
    if (n_ < cap) {
      buf_[slot] = x;
      ++n_;
      const Scalar d = dx - mean_;
      mean_ += d / static_cast<Scalar>(n_);
      m2_ += d * (dx - mean_);
    } else {
      // Replace the oldest value: the mean moves by (new - old) / n, and the sum of squared
      // deviations by (new - old)(new - mean' + old - mean) (Welford's add and remove).
      const Scalar old = buf_[slot] - shift_;
      buf_[slot] = x;
      const Scalar mean_old = mean_;
      mean_ += (dx - old) * inv_cap_;
      m2_ += (dx - old) * (dx - mean_ + old - mean_old);
    }
    push_extremes(x);
    ++seq_;
    // pos_ == seq_ % capacity, kept without a division (a 64-bit divide costs more than the
    // whole update otherwise).
    if (++pos_ == buf_.size()) {
      pos_ = 0;
      // LIMITATION: this update costs O(capacity) (two passes over the window); a caller
      // with a latency budget per update and a large window sees one slow update per window.
      if (n_ == cap) rederive();
    }
    return status::ok;
  }

  /// Values in the window (capacity once full).
  [[nodiscard]] std::uint64_t count() const noexcept { return n_; }
  /// The window length.
  [[nodiscard]] std::uint64_t capacity() const noexcept { return cap_; }
  /// True when the window holds `capacity` values.
  [[nodiscard]] bool full() const noexcept { return n_ == cap_; }

  /// Mean of the window; nullopt when empty.
  [[nodiscard]] std::optional<Scalar> mean() const noexcept {
    if (n_ == 0) return std::nullopt;
    return shift_ + mean_;
  }
  /// Variance of the window (sum of squared deviations / (n - ddof)); nullopt while
  /// n <= ddof. Never negative: a rounding residue below 0 reads as 0.
  [[nodiscard]] std::optional<Scalar> variance() const noexcept {
    if (n_ <= ddof_) return std::nullopt;
    const Scalar m2 = m2_ > Scalar(0) ? m2_ : Scalar(0);
    return m2 / static_cast<Scalar>(n_ - ddof_);
  }
  /// sqrt(variance()).
  [[nodiscard]] std::optional<Scalar> stddev() const noexcept {
    return detail::sqrt_of(variance());
  }
  /// Smallest and largest values in the window; nullopt when empty.
  [[nodiscard]] std::optional<Scalar> min() const noexcept {
    if (n_ == 0) return std::nullopt;
    return lo_.front().value;
  }
  /// Largest value in the window; nullopt when empty.
  [[nodiscard]] std::optional<Scalar> max() const noexcept {
    if (n_ == 0) return std::nullopt;
    return hi_.front().value;
  }

  /// Empties the window; keeps its memory.
  void reset() noexcept {
    n_ = seq_ = 0;
    pos_ = 0;
    shift_ = mean_ = m2_ = Scalar(0);
    lo_.clear();
    hi_.clear();
  }

  /// Writes the state: the window's values oldest first, and the running sums.
  void save_state(byte_writer& w) const {
    detail::put_record_header<Scalar>(w, layout_);
    w.put_u64(cap_);
    w.put_u64(n_);
    w.put_u64(seq_);
    for (Scalar v : {shift_, mean_, m2_}) w.put_scalar(v);
    for (std::uint64_t i = seq_ - n_; i < seq_; ++i) w.put_scalar(buf_[index(i)]);
  }

  /// Reads a state written by save_state of a window of the same capacity. Does not
  /// allocate: the record is checked in a first pass, then read into place.
  /// @return status::ok, or status::invalid_argument with the state unchanged.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    std::uint64_t cap = 0, n = 0, seq = 0;
    Scalar sums[3] = {};
    if (!detail::get_record_header<Scalar>(r, layout_) || !r.get_u64(cap) || !r.get_u64(n) ||
        !r.get_u64(seq) || cap != cap_ || n > cap || n > seq || (seq > n && n != cap))
      return status::invalid_argument;
    for (Scalar& v : sums)
      if (!r.get_scalar(v) || !std::isfinite(v)) return status::invalid_argument;
    // The derived sums must agree with the values (a valid CRC proves the bytes, not the
    // state: shift = 1e300 over {1, 2} loaded and reported a mean of 1e300). Empty: all 0.
    // Else every value within 2 deviation_limit of the shift (the update's invariant), and
    // mean and m2 within the rounding an update sequence accumulates between two rederives
    // (at most capacity updates, each off by a few eps of the spread D): 8 cap eps D for
    // the mean and 8 cap eps n D^2 for m2, recomputed here by two passes.
    if (n == 0 && (sums[0] != Scalar(0) || sums[1] != Scalar(0) || sums[2] != Scalar(0)))
      return status::invalid_argument;
    byte_reader probe = r;
    const Scalar limit = Scalar(2) * detail::deviation_limit<Scalar>();
    Scalar sum{0}, spread{0};
    for (std::uint64_t i = 0; i < n; ++i) {
      Scalar v{};
      if (!probe.get_scalar(v) || !std::isfinite(v) || !(std::abs(v - sums[0]) <= limit))
        return status::invalid_argument;
      sum += v - sums[0];
      spread = std::max(spread, std::abs(v - sums[0]));
    }
    if (n > 0) {
      const Scalar count = static_cast<Scalar>(n);
      const Scalar mean = sum / count;
      probe = r;
      Scalar m2{0};
      for (std::uint64_t i = 0; i < n; ++i) {
        Scalar v{};
        (void)probe.get_scalar(v);
        m2 += (v - sums[0] - mean) * (v - sums[0] - mean);
      }
      const Scalar slack = Scalar(8) * static_cast<Scalar>(cap) *
                           std::numeric_limits<Scalar>::epsilon();
      const Scalar tiny = std::numeric_limits<Scalar>::min();
      if (!(std::abs(sums[1] - mean) <= slack * spread + tiny) ||
          !(std::abs(sums[2] - m2) <= slack * count * spread * spread + tiny))
        return status::invalid_argument;
    }
    // Checked: commit, rebuilding the monotonic queues from the values.
    reset();
    seq_ = seq - n;
    pos_ = index(seq_);
    for (std::uint64_t i = 0; i < n; ++i) {
      Scalar v{};
      (void)r.get_scalar(v);
      buf_[pos_] = v;
      push_extremes(v);
      ++seq_;
      if (++pos_ == buf_.size()) pos_ = 0;
    }
    n_ = n;
    shift_ = sums[0];
    mean_ = sums[1];
    m2_ = sums[2];
    return status::ok;
  }

 private:
  static constexpr std::uint8_t layout_ = 1;

  /// A value and its sequence number.
  struct entry {
    std::uint64_t seq;
    Scalar value;
  };

  /// A fixed-capacity double-ended queue of entries (the monotonic queue).
  class entry_queue {
   public:
    explicit entry_queue(std::size_t cap) : ring_(cap) {}
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] const entry& front() const noexcept { return ring_[head_]; }
    [[nodiscard]] const entry& back() const noexcept { return ring_[at(size_ - 1)]; }
    void pop_front() noexcept {
      head_ = at(1);
      --size_;
    }
    void pop_back() noexcept { --size_; }
    void push_back(const entry& e) noexcept { ring_[at(size_++)] = e; }  // @pre size < cap
    void clear() noexcept { head_ = size_ = 0; }

   private:
    [[nodiscard]] std::size_t at(std::size_t k) const noexcept {
      const std::size_t i = head_ + k;
      return i >= ring_.size() ? i - ring_.size() : i;
    }
    std::vector<entry> ring_;
    std::size_t head_{0};
    std::size_t size_{0};
  };

  explicit rolling_window(const rolling_window_options& o)
      : buf_(static_cast<std::size_t>(o.capacity)), lo_(static_cast<std::size_t>(o.capacity)),
        hi_(static_cast<std::size_t>(o.capacity)), cap_(o.capacity),
        inv_cap_(Scalar(1) / static_cast<Scalar>(o.capacity)), ddof_(o.ddof) {}

  [[nodiscard]] std::size_t index(std::uint64_t seq) const noexcept {
    return static_cast<std::size_t>(seq % cap_);
  }

  // Monotonic queues: lo_ holds increasing values, hi_ decreasing ones; each front is the
  // window's extreme. Ties keep the newest, which stays longest. @pre seq_ is x's number.
  void push_extremes(Scalar x) noexcept {
    const std::uint64_t expired = seq_ >= cap_ ? seq_ - cap_ : ~std::uint64_t{0};
    if (!lo_.empty() && lo_.front().seq == expired) lo_.pop_front();
    if (!hi_.empty() && hi_.front().seq == expired) hi_.pop_front();
    while (!lo_.empty() && lo_.back().value >= x) lo_.pop_back();
    while (!hi_.empty() && hi_.back().value <= x) hi_.pop_back();
    lo_.push_back({seq_, x});
    hi_.push_back({seq_, x});
  }

  // Recomputes the sums from the full window by two passes around the newest value.
  void rederive() noexcept {
    shift_ = buf_[pos_ == 0 ? buf_.size() - 1 : pos_ - 1];
    Scalar sum = 0;
    for (Scalar v : buf_) sum += v - shift_;
    mean_ = sum / static_cast<Scalar>(n_);
    Scalar m2 = 0;
    for (Scalar v : buf_) {
      const Scalar d = v - shift_ - mean_;
      m2 += d * d;
    }
    m2_ = m2;
  }

  std::vector<Scalar> buf_;  ///< Value number s lives in buf_[s % capacity].
  entry_queue lo_;
  entry_queue hi_;
  std::uint64_t cap_;
  Scalar inv_cap_;  ///< 1 / capacity: a full window's mean moves by a product, not a division.
  std::uint64_t n_{0};
  std::uint64_t seq_{0};  ///< Values added since make() (or reset()).
  std::size_t pos_{0};    ///< The slot of the next value: seq_ % capacity.
  Scalar shift_{0};       ///< Values enter as x - shift_ (the newest value at the last rederive).
  Scalar mean_{0};        ///< Window mean of x - shift_.
  Scalar m2_{0};          ///< Window sum of squared deviations.
  std::uint32_t ddof_;
};

}  // namespace livefit

#endif  // LIVEFIT_STATS_ROLLING_WINDOW_HPP
