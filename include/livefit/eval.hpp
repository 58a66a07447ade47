// Umbrella header of livefit/eval: prequential metrics, statistical tests, sequential test,
// cross-validation and drift detectors.
//
// The prequential loop (score before learning, compare on the same samples, monitor):
//
//   livefit::regression_metrics metrics;              // cumulative MAE, MSE, RMSE, R^2
//   livefit::paired_evidence evidence;                // champion vs challenger, paired
//   auto sequential = livefit::msprt::make({}).value();  // always-valid p-value
//   auto detector = livefit::adwin::make({}).value();    // drift in the champion's loss
//   for (const auto& s : stream) {
//     const double yc = champion.predict(s.x), yh = challenger.predict(s.x);
//     const double lc = (s.y - yc) * (s.y - yc), lh = (s.y - yh) * (s.y - yh);
//     if (metrics.add(s.y, yc) != livefit::status::ok) continue;  // NaN/inf refused
//     (void)evidence.add(lc, lh);
//     (void)sequential.add(lc - lh);                  // > 0: the challenger does better
//     (void)detector.update(std::min(lc / loss_bound, 1.0));  // ADWIN wants [0, 1]
//     if (detector.state() == livefit::drift_state::drift) { /* reset or re-seed */ }
//     (void)champion.update(s.x, s.y);                // learn only after scoring
//     (void)challenger.update(s.x, s.y);
//   }
//   const bool better = sequential.p_value() < 0.05 && sequential.mean() > 0.0;
#ifndef LIVEFIT_EVAL_HPP
#define LIVEFIT_EVAL_HPP

#include "livefit/eval/adwin.hpp"
#include "livefit/eval/cross_validation.hpp"
#include "livefit/eval/cusum.hpp"
#include "livefit/eval/ddm.hpp"
#include "livefit/eval/drift_direction.hpp"
#include "livefit/eval/eddm.hpp"
#include "livefit/eval/metrics.hpp"
#include "livefit/eval/page_hinkley.hpp"
#include "livefit/eval/paired_evidence.hpp"
#include "livefit/eval/sequential_test.hpp"
#include "livefit/eval/t_test.hpp"

#endif  // LIVEFIT_EVAL_HPP
