// Umbrella header of livefit: every public component of every area.
#ifndef LIVEFIT_LIVEFIT_HPP
#define LIVEFIT_LIVEFIT_HPP

#include "livefit/core.hpp"
#include "livefit/deploy.hpp"
#include "livefit/eval.hpp"
#include "livefit/models.hpp"
#include "livefit/pipeline.hpp"
#include "livefit/stats.hpp"

#endif  // LIVEFIT_LIVEFIT_HPP
