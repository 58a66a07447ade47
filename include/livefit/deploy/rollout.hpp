// Rollouts: state machines that turn gate decisions into traffic fractions over time.
//
//   immediate_rollout  blue-green: all traffic at once, previous version kept warm
//   canary_rollout     steps (1%, 5%, 25%, then 100%), each passed by an analysis gate,
//                      automatic rollback when the canary is significantly worse
//   shadow_rollout     scored on live traffic, never served
//
// All three meet livefit::rollout (core/concepts.hpp): start, observe once per sample,
// pause, resume, abort; fraction() and phase(); every step and abort is an event with a
// reason. None allocates after make().
#ifndef LIVEFIT_DEPLOY_ROLLOUT_HPP
#define LIVEFIT_DEPLOY_ROLLOUT_HPP

#include "livefit/deploy/rollout_canary.hpp"
#include "livefit/deploy/rollout_immediate.hpp"
#include "livefit/deploy/rollout_shadow.hpp"

#endif  // LIVEFIT_DEPLOY_ROLLOUT_HPP
