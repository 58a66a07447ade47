// Umbrella header of livefit/deploy: evidence, gates, rollouts, traffic split and A/B tests,
// and the model registry.
#ifndef LIVEFIT_DEPLOY_HPP
#define LIVEFIT_DEPLOY_HPP

#include "livefit/deploy/ab_test.hpp"
#include "livefit/deploy/checkpoint.hpp"
#include "livefit/deploy/evidence.hpp"
#include "livefit/deploy/evidence_collector.hpp"
#include "livefit/deploy/gate_combinators.hpp"
#include "livefit/deploy/gate_parser.hpp"
#include "livefit/deploy/gates.hpp"
#include "livefit/deploy/lineage.hpp"
#include "livefit/deploy/model_catalog.hpp"
#include "livefit/deploy/registry.hpp"
#include "livefit/deploy/rollout.hpp"
#include "livefit/deploy/snapshot.hpp"
#include "livefit/deploy/traffic_split.hpp"

#endif  // LIVEFIT_DEPLOY_HPP
