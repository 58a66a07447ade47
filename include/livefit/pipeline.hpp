// Umbrella header of livefit/pipeline: policies, the pipeline and its run-time components.
#ifndef LIVEFIT_PIPELINE_HPP
#define LIVEFIT_PIPELINE_HPP

#include "livefit/pipeline/any.hpp"
#include "livefit/pipeline/pipeline.hpp"
#include "livefit/pipeline/policy.hpp"

#endif  // LIVEFIT_PIPELINE_HPP
