// evidence_collector: fills the paired fields of an `evidence` from per-sample losses.
#ifndef LIVEFIT_DEPLOY_EVIDENCE_COLLECTOR_HPP
#define LIVEFIT_DEPLOY_EVIDENCE_COLLECTOR_HPP

#include <cstdint>
#include <utility>

#include "livefit/core/result.hpp"
#include "livefit/core/status.hpp"
#include "livefit/deploy/evidence.hpp"
#include "livefit/eval/paired_evidence.hpp"
#include "livefit/eval/sequential_test.hpp"

namespace livefit {

/// Options of evidence_collector.
struct evidence_collector_options {
  /// The always-valid sequential test run on the paired differences (see msprt_options;
  /// default tau = 0.1 standard deviations, plug-in variance after 30 samples).
  msprt_options sequential{};
};

/// Accumulates the losses of a champion and a challenger on the same samples (eval's
/// paired_evidence) and an mSPRT on their differences, and writes what a gate reads.
/// Hot path: add() and fill() are O(1), noexcept and allocation-free.
class evidence_collector {
 public:
  /// Validates the options (those of the sequential test).
  static result<evidence_collector> make(const evidence_collector_options& o = {}) {
    auto seq = msprt::make(o.sequential);
    if (!seq) return seq.error();
    return evidence_collector(std::move(seq).value());
  }

  /// Adds one sample's losses, each computed before either model learnt from the sample.
  /// @return status::ok, or status::non_finite_input with nothing changed.
  [[nodiscard]] status add(double loss_champion, double loss_challenger) noexcept {
    const status s = paired_.add(loss_champion, loss_challenger);
    if (s != status::ok) return s;
    // paired_evidence accepted it, so the difference is finite and msprt takes it too.
    return sequential_.add(loss_champion - loss_challenger);
  }

  /// Writes samples, mean losses, difference moments and the sequential p-values into `e`
  /// (figures not defined yet, such as a variance from one sample, are written as NaN).
  void fill(evidence& e) const noexcept {
    const std::uint64_t n = paired_.n();
    e.samples = n;
    e.champion_loss = n > 0 ? paired_.mean_champion() : evidence::not_measured;
    e.challenger_loss = n > 0 ? paired_.mean_challenger() : evidence::not_measured;
    e.diff_mean = n > 0 ? paired_.mean_difference() : evidence::not_measured;
    e.diff_variance = n > 1 ? paired_.variance_difference() : evidence::not_measured;
    e.sequential_p = sequential_.p_value();
    e.sequential_p_better = sequential_.p_value_greater();
    e.sequential_p_worse = sequential_.p_value_less();
  }

  /// Forgets every sample (for a new trial).
  void reset() noexcept {
    paired_.reset();
    sequential_.reset();
  }

  /// The paired loss accumulator (champion, challenger and difference moments) of the
  /// samples added since make() or the last reset(); difference = champion - challenger.
  [[nodiscard]] const paired_evidence& paired() const noexcept { return paired_; }
  /// The mSPRT fed with the same differences, for its state beyond the p-values fill()
  /// copies; reset() together with paired().
  [[nodiscard]] const msprt& sequential() const noexcept { return sequential_; }

 private:
  explicit evidence_collector(msprt seq) noexcept : sequential_(seq) {}

  paired_evidence paired_{};
  msprt sequential_;
};

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_EVIDENCE_COLLECTOR_HPP
