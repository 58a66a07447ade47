// Umbrella header of livefit/core: status codes, results, concepts, samples and events.
#ifndef LIVEFIT_CORE_HPP
#define LIVEFIT_CORE_HPP

#include "livefit/core/assert.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/core/events.hpp"
#include "livefit/core/fixed_string.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/sample.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/core/version.hpp"

#endif  // LIVEFIT_CORE_HPP
