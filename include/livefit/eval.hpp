// Umbrella header of livefit/eval: prequential metrics, statistical tests, sequential test,
// cross-validation and drift detectors.
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
