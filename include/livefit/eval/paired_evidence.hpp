// paired_evidence: a champion and a challenger scored on the same samples, and the paired
// t-test of their loss difference.
#ifndef LIVEFIT_EVAL_PAIRED_EVIDENCE_HPP
#define LIVEFIT_EVAL_PAIRED_EVIDENCE_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/eval/detail/running_moments.hpp"
#include "livefit/eval/t_test.hpp"

namespace livefit {

/// Running evidence for a champion and a challenger scored on the same samples (prequential:
/// each loss computed before either model learnt from the sample).
///
/// The difference is **champion loss minus challenger loss**: a positive mean difference
/// means the challenger has the lower loss. Pairing removes the variance the two models share
/// (hard samples are hard for both), so it needs far fewer samples than comparing two
/// independent means.
///
/// Hot path: add() is O(1), noexcept, allocation-free. Not thread-safe: one writer; readers on
/// other threads need their own synchronisation or a copy.
class paired_evidence {
 public:
  /// Stable name written into checkpoints.
  static constexpr std::string_view checkpoint_type = "livefit.paired_evidence";

  /// Adds the losses of both models on one sample.
  /// @return status::ok; status::non_finite_input when either is NaN/inf or their difference
  ///         overflows; status::numerical_failure when a mean or variance would overflow.
  ///         On error the state is unchanged.
  [[nodiscard]] status add(double loss_champion, double loss_challenger) noexcept {
    const double diff = loss_champion - loss_challenger;
    // The difference of two finite values can overflow: that is non-finite evidence too.
    if (!std::isfinite(loss_champion) || !std::isfinite(loss_challenger) ||
        !std::isfinite(diff))
      return status::non_finite_input;
    // All three candidates are built, then checked in one test: the moments of finite
    // losses can overflow (e.g. (1.7e308, 0), (0, 1.7e308), (1.7e308, 0)).
    const detail::running_moments a = champion_.with(loss_champion);
    const detail::running_moments b = challenger_.with(loss_challenger);
    const detail::running_moments d = difference_.with(diff);
    if ((a.non_finite_bits() | b.non_finite_bits() | d.non_finite_bits()) != 0) [[unlikely]]
      return status::numerical_failure;
    champion_ = a;
    challenger_ = b;
    difference_ = d;
    return status::ok;
  }

  /// Number of pairs added.
  [[nodiscard]] std::uint64_t n() const noexcept { return difference_.n; }
  /// Mean loss of the champion (0 before the first pair).
  [[nodiscard]] double mean_champion() const noexcept { return champion_.mean; }
  /// Mean loss of the challenger (0 before the first pair).
  [[nodiscard]] double mean_challenger() const noexcept { return challenger_.mean; }
  /// Mean of (champion loss - challenger loss); positive favours the challenger.
  [[nodiscard]] double mean_difference() const noexcept { return difference_.mean; }
  /// Sample variance (denominator n - 1) of the difference; 0 when n < 2.
  [[nodiscard]] double variance_difference() const noexcept {
    return difference_.sample_variance();
  }
  /// Paired t-test of H0: equal mean losses; statistic > 0 favours the challenger.
  [[nodiscard]] test_result paired_t() const noexcept {
    return paired_t_test(n(), mean_difference(), variance_difference(),
                         std::max(std::fabs(mean_champion()), std::fabs(mean_challenger())));
  }
  /// Forgets every pair.
  void reset() noexcept { *this = paired_evidence{}; }

  /// Writes the state (three sets of count, mean and squared deviations).
  void save_state(byte_writer& w) const {
    for (const auto* m : {&champion_, &challenger_, &difference_}) {
      w.put_u64(m->n);
      w.put_f64(m->mean);
      w.put_f64(m->m2);
    }
  }

  /// Reads a state written by save_state; on malformed bytes returns invalid_argument and
  /// leaves the evidence unchanged.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    detail::running_moments m[3];
    for (auto& x : m) {
      r.get_u64(x.n);
      r.get_f64(x.mean);
      r.get_f64(x.m2);
    }
    if (!r.ok()) return status::invalid_argument;
    for (const auto& x : m)
      if (!x.valid() || x.n != m[0].n) return status::invalid_argument;
    champion_ = m[0];
    challenger_ = m[1];
    difference_ = m[2];
    return status::ok;
  }

 private:
  detail::running_moments champion_{};
  detail::running_moments challenger_{};
  detail::running_moments difference_{};
};

}  // namespace livefit

#endif  // LIVEFIT_EVAL_PAIRED_EVIDENCE_HPP
