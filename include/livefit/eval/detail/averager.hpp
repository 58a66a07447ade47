// averager<K>: means of K channels (and the variance of the last one) over all samples, with
// exponential forgetting, or over a fixed window. The engine behind the prequential metrics.
#ifndef LIVEFIT_EVAL_DETAIL_AVERAGER_HPP
#define LIVEFIT_EVAL_DETAIL_AVERAGER_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "livefit/core/serialize.hpp"
#include "livefit/eval/detail/state_io.hpp"

namespace livefit {

/// How a prequential metric weighs past samples.
enum class averaging : std::uint8_t {
  cumulative,   ///< Every sample since construction or reset() weighs the same.
  exponential,  ///< Sample weights halve every `half_life` samples.
  window,       ///< The last `window` samples weigh the same; older ones not at all.
};

namespace detail {

/// Means of K channels and the variance of channel K - 1.
///
/// Cumulative and exponential modes share one recursion (West 1979, "Updating mean and
/// variance estimates: an improved method"; Finch 2009, "Incremental calculation of weighted
/// mean and variance"): with a decay d (1 for cumulative) the weight total is
/// W_t = d W_{t-1} + 1 and each sample gets w = 1 / W_t, so mean += w (v - mean) and
/// var = (1 - w)(var + w delta^2). With d < 1 this is the bias-corrected EWMA: it equals the
/// plain mean while t << half-life.
///
/// Window mode keeps the last N samples in a ring buffer (allocated in the constructor) and
/// running sums. Adding and removing values lets rounding error accumulate, so a second set of
/// sums is started from zero every N samples; after N more samples it holds exactly the
/// current window (N additions, no removal) and replaces the running sums. This bounds the
/// error to that of 2N operations with O(1) worst-case work per sample. The variance channel
/// is summed around a shift (the window mean when the sums were started) to avoid the
/// cancellation of E[v^2] - E[v]^2.
template <std::size_t K>
class averager {
 public:
  using values = std::array<double, K>;

  averager() = default;
  averager(averaging mode, double decay, std::size_t window)
      : mode_(mode), decay_(mode == averaging::exponential ? decay : 1.0),
        capacity_(mode == averaging::window ? window : 0) {
    ring_.resize(capacity_);
  }

  void add(const values& v) noexcept {
    ++count_;
    if (mode_ == averaging::window) return add_window(v);
    weight_ = decay_ * weight_ + 1.0;
    const double w = 1.0 / weight_;
    const double delta = v[K - 1] - mean_[K - 1];
    for (std::size_t i = 0; i < K; ++i) mean_[i] += w * (v[i] - mean_[i]);
    var_ = (1.0 - w) * (var_ + w * delta * delta);
  }

  /// Samples added (all of them, also in window mode).
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  /// Samples that carry weight: count() except in window mode (at most the window).
  [[nodiscard]] std::uint64_t size() const noexcept {
    return mode_ == averaging::window ? size_ : count_;
  }
  [[nodiscard]] double mean(std::size_t i) const noexcept {
    if (mode_ != averaging::window) return mean_[i];
    if (size_ == 0) return 0.0;
    const double n = static_cast<double>(size_);
    return i == K - 1 ? shift_ + sum_[i] / n : sum_[i] / n;
  }
  /// Population variance of channel K - 1 under the same weights as the means.
  [[nodiscard]] double variance() const noexcept {
    if (mode_ != averaging::window) return var_;
    if (size_ == 0) return 0.0;
    const double n = static_cast<double>(size_);
    const double m = sum_[K - 1] / n;
    const double v = sum_sq_ / n - m * m;
    return v > 0.0 ? v : 0.0;
  }
  void reset() noexcept {
    count_ = 0;
    weight_ = 0.0;
    mean_ = {};
    var_ = 0.0;
    size_ = 0;
    head_ = 0;
    fresh_count_ = 0;
    sum_ = {};
    fresh_ = {};
    sum_sq_ = fresh_sq_ = shift_ = fresh_shift_ = 0.0;
  }

  /// Writes mode, decay, capacity and the whole state (the ring buffer in storage order).
  void save_state(byte_writer& w) const {
    w.put_u8(static_cast<std::uint8_t>(mode_));
    w.put_f64(decay_);
    w.put_u64(capacity_);
    w.put_u64(count_);
    w.put_f64(weight_);
    for (double v : mean_) w.put_f64(v);
    w.put_f64(var_);
    w.put_u64(size_);
    w.put_u64(head_);
    w.put_u64(fresh_count_);
    for (double v : sum_) w.put_f64(v);
    for (double v : fresh_) w.put_f64(v);
    for (double v : {sum_sq_, fresh_sq_, shift_, fresh_shift_}) w.put_f64(v);
    for (const values& row : ring_)
      for (double v : row) w.put_f64(v);
  }

  /// Reads what save_state wrote into an averager of the same mode, decay and window: a dry
  /// run over a copy of the reader validates, then the state is read in place (no scratch
  /// allocation, unchanged on failure). @return whether it loaded.
  [[nodiscard]] bool load_state(byte_reader& r) noexcept {
    byte_reader probe = r;
    if (!read_state(probe, false)) return false;
    static_cast<void>(read_state(r, true));
    return true;
  }

 private:
  bool read_state(byte_reader& r, bool commit) noexcept {
    std::uint8_t mode = 0;
    double decay = 0.0;
    std::uint64_t capacity = 0;
    r.get_u8(mode);
    r.get_f64(decay);
    r.get_u64(capacity);
    // The configuration must be this averager's: a checkpoint of another form is refused.
    if (!r.ok() || mode != static_cast<std::uint8_t>(mode_) || decay != decay_ ||
        capacity != capacity_)
      return false;
    averager next;  // scalars only: ring_ stays empty, so this never allocates
    r.get_u64(next.count_);
    r.get_f64(next.weight_);
    for (double& v : next.mean_) r.get_f64(v);
    r.get_f64(next.var_);
    std::uint64_t size = 0, head = 0, fresh_count = 0;
    r.get_u64(size);
    r.get_u64(head);
    r.get_u64(fresh_count);
    for (double& v : next.sum_) r.get_f64(v);
    for (double& v : next.fresh_) r.get_f64(v);
    for (double* v : {&next.sum_sq_, &next.fresh_sq_, &next.shift_, &next.fresh_shift_})
      r.get_f64(*v);
    if (!r.ok() || size > capacity_ || size > next.count_ ||
        (capacity_ > 0 && (head >= capacity_ || fresh_count >= capacity_)) ||
        !detail::all_finite({next.weight_, next.var_, next.sum_sq_, next.fresh_sq_,
                             next.shift_, next.fresh_shift_}) ||
        next.var_ < 0.0 || next.weight_ < 0.0 || next.sum_sq_ < 0.0 || next.fresh_sq_ < 0.0 ||
        fresh_count > size || (next.count_ == 0 && (next.weight_ != 0.0 || next.var_ != 0.0)))
      return false;
    // LIMITATION: the window sums are not recomputed from the ring and compared: a damaged
    // but finite sum loads, and is replaced by the fresh sums within one window.
    for (std::size_t i = 0; i < K; ++i)
      if (!detail::all_finite({next.mean_[i], next.sum_[i], next.fresh_[i]})) return false;
    for (std::size_t i = 0; i < ring_.size(); ++i)
      for (std::size_t k = 0; k < K; ++k) {
        double v = 0.0;
        if (!r.get_f64(v) || !std::isfinite(v)) return false;
        if (commit) ring_[i][k] = v;
      }
    if (commit) {
      count_ = next.count_;
      weight_ = next.weight_;
      mean_ = next.mean_;
      var_ = next.var_;
      size_ = static_cast<std::size_t>(size);
      head_ = static_cast<std::size_t>(head);
      fresh_count_ = static_cast<std::size_t>(fresh_count);
      sum_ = next.sum_;
      fresh_ = next.fresh_;
      sum_sq_ = next.sum_sq_;
      fresh_sq_ = next.fresh_sq_;
      shift_ = next.shift_;
      fresh_shift_ = next.fresh_shift_;
    }
    return true;
  }

  void add_window(const values& v) noexcept {
    if (size_ == 0) shift_ = fresh_shift_ = v[K - 1];  // first sample: centre the sums on it
    if (size_ == capacity_) {
      const values& old = ring_[head_];
      for (std::size_t i = 0; i + 1 < K; ++i) sum_[i] -= old[i];
      const double o = old[K - 1] - shift_;
      sum_[K - 1] -= o;
      sum_sq_ -= o * o;
    } else {
      ++size_;
    }
    ring_[head_] = v;
    head_ = head_ + 1 == capacity_ ? 0 : head_ + 1;
    for (std::size_t i = 0; i + 1 < K; ++i) {
      sum_[i] += v[i];
      fresh_[i] += v[i];
    }
    const double a = v[K - 1] - shift_;
    const double b = v[K - 1] - fresh_shift_;
    sum_[K - 1] += a;
    sum_sq_ += a * a;
    fresh_[K - 1] += b;
    fresh_sq_ += b * b;
    if (++fresh_count_ < capacity_) return;
    // The fresh sums now cover exactly the window: they replace the running sums, and a new
    // set starts around the current mean.
    sum_ = fresh_;
    sum_sq_ = fresh_sq_;
    shift_ = fresh_shift_;
    fresh_shift_ = shift_ + sum_[K - 1] / static_cast<double>(size_);
    fresh_ = {};
    fresh_sq_ = 0.0;
    fresh_count_ = 0;
  }

  averaging mode_{averaging::cumulative};
  double decay_{1.0};
  std::size_t capacity_{0};
  std::uint64_t count_{0};
  // Cumulative and exponential state.
  double weight_{0.0};
  values mean_{};
  double var_{0.0};
  // Window state: ring buffer, running sums, and the fresh sums that replace them.
  std::vector<values> ring_;
  std::size_t size_{0};
  std::size_t head_{0};
  std::size_t fresh_count_{0};
  values sum_{};
  values fresh_{};
  double sum_sq_{0.0};
  double fresh_sq_{0.0};
  double shift_{0.0};
  double fresh_shift_{0.0};
};

}  // namespace detail
}  // namespace livefit

#endif  // LIVEFIT_EVAL_DETAIL_AVERAGER_HPP
