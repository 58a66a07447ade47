// Umbrella header of livefit/models: recursive regressors and online feature transforms.
#ifndef LIVEFIT_MODELS_HPP
#define LIVEFIT_MODELS_HPP

#include "livefit/models/decayed_least_squares.hpp"
#include "livefit/models/nlms.hpp"
#include "livefit/models/online_logistic.hpp"
#include "livefit/models/online_standardizer.hpp"
#include "livefit/models/rls.hpp"
#include "livefit/models/with_intercept.hpp"

#endif  // LIVEFIT_MODELS_HPP
