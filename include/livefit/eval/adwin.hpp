// adwin: ADaptive WINdowing (Bifet & Gavalda, "Learning from time-changing data with adaptive
// windowing", SIAM SDM 2007), in its exponential-histogram form ADWIN2: bounded memory.
#ifndef LIVEFIT_EVAL_ADWIN_HPP
#define LIVEFIT_EVAL_ADWIN_HPP

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "livefit/core/concepts.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/eval/detail/state_io.hpp"

namespace livefit {

/// The deviation bound ADWIN compares sub-window means against.
enum class adwin_bound : std::uint8_t {
  /// eps = sqrt(ln(4 / delta') / (2 m)): Theorem 3.1 of the paper; its guarantees hold for
  /// values in [0, 1].
  hoeffding,
  /// eps = sqrt(2 var ln(2 / delta') / m) + 2 ln(2 / delta') / (3 m): the paper's practical
  /// Bernstein-type bound using the window variance; detects small changes of low-variance
  /// streams much sooner.
  bernstein,
};

/// Configuration of adwin.
struct adwin_options {
  /// Confidence delta in (0, 1): the bound on the probability of a false cut per step
  /// (Theorem 3.1). Default 0.002 (the paper's experiments).
  double delta{0.002};
  /// Buckets kept per size class, M in the paper; >= 2. Memory is O(M log(W / M)); cut points
  /// are checked at bucket boundaries only, so a larger M finds the change point more
  /// precisely. Default 5.
  std::size_t max_buckets{5};
  /// Least number of samples on each side of a cut. >= 1. Default 5.
  std::uint64_t min_window{5};
  /// Check for cuts every `clock` samples (MOA uses 32 to save time). >= 1. Default 1.
  std::uint64_t clock{1};
  adwin_bound bound{adwin_bound::bernstein};  ///< Default bernstein.
};

/// ADWIN keeps a window W of recent values as large as is consistent with "the mean has not
/// changed": whenever two sub-windows W = W0 W1 have means differing by more than eps(n0, n1)
/// (m = 1 / (1/n0 + 1/n1), delta' = delta / |W|), the older part W0 is dropped and a drift
/// reported. After the cut the window holds (about) the data since the change, so mean()
/// is an estimate of the current mean.
///
/// Guarantees (paper, Theorem 3.1, Hoeffding bound, values in [0, 1]): (1) if the mean stays
/// constant, the probability of a cut at any one step is at most delta; (2) if some split has
/// |mu0 - mu1| > 2 eps, the window is shrunk to W1 or shorter with probability >= 1 - delta.
/// This implementation checks splits at bucket boundaries only (ADWIN2), so "W1" holds up to
/// the size of the bucket straddling the change. The tests check both properties; measured:
/// no false cut in 1e6 U(0, 1) samples with either bound (the theorem allows delta per step),
/// and handout case C12's step of 0.6 found 19-20 samples after it.
///
/// When a split fires, everything before it is dropped at once and splits are checked again
/// until none fires, so one abrupt change gives one drift (handout case C12: implementations
/// that dropped one bucket per step, or kept a stale flag, reported the same change again).
///
/// Values should be in [0, 1] (scale losses by a known bound) for the stated guarantees.
/// Memory: 64 size classes of max_buckets + 1 buckets (allocated in make()); a window can
/// hold about max_buckets * 2^63 values. update() is O(max_buckets * log(W)) per checked
/// step (about 50 boundaries for W = 1000), noexcept and allocation-free.
class adwin {
 public:
  /// Stable name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.adwin";

  /// Validates the options and allocates the buckets.
  [[nodiscard]] static result<adwin> make(const adwin_options& o) {
    if (!(o.delta > 0.0 && o.delta < 1.0))
      return fail(errc::invalid_argument,
                  "adwin: delta must be in (0, 1), got " + std::to_string(o.delta));
    if (o.max_buckets < 2 || o.max_buckets > 1000)
      return fail(errc::invalid_argument, "adwin: max_buckets must be in [2, 1000], got " +
                                              std::to_string(o.max_buckets));
    if (o.min_window < 1)
      return fail(errc::invalid_argument, "adwin: min_window must be >= 1, got 0");
    if (o.clock < 1) return fail(errc::invalid_argument, "adwin: clock must be >= 1, got 0");
    return adwin(o);
  }

  /// Adds one value. @return ok; non_finite_input for NaN/inf, numerical_failure when a
  /// finite value would overflow the window's sums; on error the state is unchanged.
  [[nodiscard]] status update(double x) noexcept {
    if (!std::isfinite(x)) return status::non_finite_input;
    // The cut test squares sums of about width * |x|: keep them (and their squares) finite.
    const double delta = x - mean();
    if (!std::isfinite(total_ + x) || !std::isfinite(delta * delta * static_cast<double>(width_)) ||
        std::fabs(total_ + x) * static_cast<double>(width_ + 1) > 1e150)
      return status::numerical_failure;
    state_ = drift_state::none;
    insert(x);
    if (++since_check_ >= options_.clock) {
      since_check_ = 0;
      bool cut = false;
      while (cut_once()) cut = true;
      if (cut) {
        state_ = drift_state::drift;
        ++drifts_;
      }
    }
    return status::ok;
  }

  /// What the latest update said (ADWIN has no warning level).
  [[nodiscard]] drift_state state() const noexcept { return state_; }
  /// Number of values in the window.
  [[nodiscard]] std::uint64_t width() const noexcept { return width_; }
  /// Mean of the window (0 when empty).
  [[nodiscard]] double mean() const noexcept {
    return width_ == 0 ? 0.0 : total_ / static_cast<double>(width_);
  }
  /// Population variance of the window (0 when empty).
  [[nodiscard]] double variance() const noexcept {
    return width_ == 0 ? 0.0 : m2_ / static_cast<double>(width_);
  }
  /// Buckets in use (the memory bound: at most max_buckets + 1 per size class).
  [[nodiscard]] std::size_t bucket_count() const noexcept {
    std::size_t n = 0;
    for (std::size_t r = 0; r < rows_; ++r) n += count_[r];
    return n;
  }
  /// Drifts (updates that shrank the window) since construction or reset().
  [[nodiscard]] std::uint64_t drift_count() const noexcept { return drifts_; }
  /// Empties the window (options and buffer kept).
  void reset() noexcept {
    count_ = {};
    rows_ = 0;
    width_ = 0;
    total_ = m2_ = 0.0;
    since_check_ = drifts_ = 0;
    state_ = drift_state::none;
  }

  /// Writes the exponential histogram (size classes, each class's buckets), the window
  /// totals, counters and state. Not the options: load into an adwin made with the same
  /// max_buckets (or more).
  void save_state(byte_writer& w) const {
    w.put_u64(rows_);
    for (std::size_t r = 0; r < rows_; ++r) {
      w.put_u64(count_[r]);
      for (std::size_t i = 0; i < count_[r]; ++i) {
        w.put_f64(buckets_[r * per_row_ + i].sum);
        w.put_f64(buckets_[r * per_row_ + i].m2);
      }
    }
    w.put_u64(width_);
    w.put_f64(total_);
    w.put_f64(m2_);
    w.put_u64(since_check_);
    w.put_u64(drifts_);
    detail::put_drift_state(w, state_);
  }

  /// Reads what save_state wrote. The bytes are validated in a first pass over a copy of the
  /// reader, then read into the detector, so a failure leaves it unchanged without needing
  /// scratch memory. @return ok, or invalid_argument on malformed or incompatible bytes.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    byte_reader probe = r;
    if (!read_state(probe, false)) return status::invalid_argument;
    static_cast<void>(read_state(r, true));
    return status::ok;
  }

 private:
  static constexpr std::size_t max_rows = 64;

  struct bucket {
    double sum{0.0};
    double m2{0.0};  ///< Sum of squared deviations from the bucket's mean.
  };

  explicit adwin(const adwin_options& o)
      : options_(o), per_row_(o.max_buckets + 1), buckets_(max_rows * per_row_) {}

  bucket* row(std::size_t r) noexcept { return buckets_.data() + r * per_row_; }
  static double row_size(std::size_t r) noexcept { return std::ldexp(1.0, static_cast<int>(r)); }

  /// Adds x as a bucket of size 1 and merges the two oldest buckets of any class that
  /// overflows into one of the next class (the exponential histogram).
  void insert(double x) noexcept {
    const double n_old = static_cast<double>(width_);
    const double delta = x - mean();
    ++width_;
    total_ += x;
    m2_ += delta * delta * n_old / static_cast<double>(width_);
    if (rows_ == 0) rows_ = 1;
    row(0)[count_[0]++] = bucket{x, 0.0};
    for (std::size_t r = 0; r < rows_ && count_[r] > options_.max_buckets; ++r) {
      if (r + 1 == max_rows) {
        // Unreachable in practice (M * 2^63 values): forget the oldest bucket, keep bounds.
        drop_through(r, 0);
        break;
      }
      bucket* b = row(r);
      const double size = row_size(r);
      const double d = b[0].sum / size - b[1].sum / size;
      const bucket merged{b[0].sum + b[1].sum, b[0].m2 + b[1].m2 + d * d * size / 2.0};
      for (std::size_t i = 2; i < count_[r]; ++i) b[i - 2] = b[i];
      count_[r] -= 2;
      if (r + 1 == rows_) ++rows_;
      row(r + 1)[count_[r + 1]++] = merged;
    }
  }

  /// Looks for a split whose sub-window means differ by more than the bound, oldest first;
  /// drops everything before the first one found. @return whether it cut.
  ///
  /// The test |s0/n0 - s1/n1| > eps is rearranged so that a boundary costs one division and no
  /// square root: with g = |s0 n1 - s1 n0|, p = n0 n1 and 1/m = n / p,
  ///   Hoeffding: eps^2 = L n / (2 p), so cut iff g^2 > L n p / 2;
  ///   Bernstein: eps = sqrt(2 var L n / p) + 2 L n / (3 p), so with d = g / p and u = n / p,
  ///              cut iff d - 2 L u / 3 > 0 and (d - 2 L u / 3)^2 > 2 var L u.
  bool cut_once() noexcept {
    if (width_ < 2 * options_.min_window) return false;
    const double n = static_cast<double>(width_);
    const bool hoeffding = options_.bound == adwin_bound::hoeffding;
    const double log_term = hoeffding ? std::log(4.0 * n / options_.delta)
                                      : std::log(2.0 * n / options_.delta);
    const double two_var_l = 2.0 * variance() * log_term;
    const double min_side = static_cast<double>(options_.min_window);
    double n0 = 0.0;
    double s0 = 0.0;
    for (std::size_t rr = rows_; rr-- > 0;) {
      const double size = row_size(rr);
      for (std::size_t i = 0; i < count_[rr]; ++i) {
        n0 += size;
        s0 += row(rr)[i].sum;
        const double n1 = n - n0;
        if (n1 < min_side) return false;
        if (n0 < min_side) continue;
        const double g = std::fabs(s0 * n1 - (total_ - s0) * n0);
        const double p = n0 * n1;
        bool cut = false;
        if (hoeffding) {
          cut = g * g > 0.5 * log_term * n * p;
        } else {
          const double inv_p = 1.0 / p;
          const double u = n * inv_p;
          const double margin = g * inv_p - 2.0 * log_term * u / 3.0;
          cut = margin > 0.0 && margin * margin > two_var_l * u;
        }
        if (cut) {
          drop_through(rr, i);
          return true;
        }
      }
    }
    return false;
  }

  /// Drops every bucket older than or equal to bucket i of class r (classes above r whole).
  void drop_through(std::size_t r, std::size_t i) noexcept {
    for (std::size_t rr = rows_; rr-- > r;) {
      const std::size_t k = rr == r ? i + 1 : count_[rr];
      for (std::size_t j = 0; j < k; ++j) remove_stats(row(rr)[j], row_size(rr));
      bucket* b = row(rr);
      for (std::size_t j = k; j < count_[rr]; ++j) b[j - k] = b[j];
      count_[rr] -= k;
    }
    while (rows_ > 0 && count_[rows_ - 1] == 0) --rows_;
  }

  /// Removes a bucket's values from the window totals (the parallel-variance formula of
  /// Chan, Golub & LeVeque 1979, run backwards).
  void remove_stats(const bucket& b, double size) noexcept {
    const double n = static_cast<double>(width_);
    const double n_rest = n - size;
    if (n_rest <= 0.0) {
      width_ = 0;
      total_ = m2_ = 0.0;
      return;
    }
    const double mean_rest = (total_ - b.sum) / n_rest;
    const double d = mean_rest - b.sum / size;
    const double m2 = m2_ - b.m2 - d * d * size * n_rest / n;
    width_ -= static_cast<std::uint64_t>(size);
    total_ -= b.sum;
    m2_ = m2 > 0.0 ? m2 : 0.0;
  }

  /// Reads a saved state; writes into the detector only when `commit` (after a successful
  /// dry run). @return whether the bytes are a valid state for this detector.
  bool read_state(byte_reader& r, bool commit) noexcept {
    std::uint64_t rows = 0;
    if (!r.get_u64(rows) || rows > max_rows) return false;
    double width = 0.0;
    for (std::size_t row = 0; row < rows; ++row) {
      std::uint64_t count = 0;
      if (!r.get_u64(count) || count > options_.max_buckets) return false;
      width += static_cast<double>(count) * row_size(row);
      for (std::size_t i = 0; i < count; ++i) {
        bucket b;
        if (!r.get_f64(b.sum) || !r.get_f64(b.m2)) return false;
        if (!detail::all_finite({b.sum, b.m2}) || b.m2 < 0.0) return false;
        if (commit) buckets_[row * per_row_ + i] = b;
      }
      if (commit) count_[row] = static_cast<std::size_t>(count);
    }
    std::uint64_t w = 0;
    double total = 0.0;
    double m2 = 0.0;
    std::uint64_t since = 0;
    std::uint64_t drifts = 0;
    drift_state state = drift_state::none;
    r.get_u64(w);
    r.get_f64(total);
    r.get_f64(m2);
    r.get_u64(since);
    r.get_u64(drifts);
    // The width must be the sum of the bucket sizes (exact in double below 2^53 values).
    if (!detail::get_drift_state(r, state) || !r.ok() || static_cast<double>(w) != width ||
        !detail::all_finite({total, m2}) || m2 < 0.0 || since >= options_.clock)
      return false;
    // An empty window holds nothing (a valid CRC proves the bytes, not the state).
    // LIMITATION: total is not checked against the buckets' sums: it carries the rounding
    // of every value since the window last emptied (dropped buckets are subtracted), which
    // the record does not bound, so a damaged but finite total can still load.
    if (w == 0 && (total != 0.0 || m2 != 0.0)) return false;
    if (commit) {
      for (std::size_t row = static_cast<std::size_t>(rows); row < max_rows; ++row)
        count_[row] = 0;
      rows_ = static_cast<std::size_t>(rows);
      width_ = w;
      total_ = total;
      m2_ = m2;
      since_check_ = since;
      drifts_ = drifts;
      state_ = state;
    }
    return true;
  }

  adwin_options options_;
  std::size_t per_row_;
  std::vector<bucket> buckets_;
  std::array<std::size_t, max_rows> count_{};
  std::size_t rows_{0};
  std::uint64_t width_{0};
  double total_{0.0};
  double m2_{0.0};
  std::uint64_t since_check_{0};
  std::uint64_t drifts_{0};
  drift_state state_{drift_state::none};
};

}  // namespace livefit

#endif  // LIVEFIT_EVAL_ADWIN_HPP
