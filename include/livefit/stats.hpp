// Umbrella header of livefit/stats: the EMA family and streaming statistics.
#ifndef LIVEFIT_STATS_HPP
#define LIVEFIT_STATS_HPP

#include "livefit/stats/ema.hpp"
#include "livefit/stats/ema_options.hpp"
#include "livefit/stats/ew_covariance.hpp"
#include "livefit/stats/ew_variance.hpp"
#include "livefit/stats/multi_ema.hpp"
#include "livefit/stats/rolling_window.hpp"
#include "livefit/stats/running_stats.hpp"
#include "livefit/stats/time_ema.hpp"

#endif  // LIVEFIT_STATS_HPP
