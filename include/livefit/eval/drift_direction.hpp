// drift_direction: which shifts of a stream's mean a detector watches.
#ifndef LIVEFIT_EVAL_DRIFT_DIRECTION_HPP
#define LIVEFIT_EVAL_DRIFT_DIRECTION_HPP

#include <cstdint>

namespace livefit {

/// Which shifts a one-statistic-per-side detector watches.
enum class drift_direction : std::uint8_t {
  both,      ///< Increases and decreases.
  increase,  ///< Increases only (a loss getting worse).
  decrease,  ///< Decreases only.
};

}  // namespace livefit

#endif  // LIVEFIT_EVAL_DRIFT_DIRECTION_HPP
