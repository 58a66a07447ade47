// The library's version.
#ifndef LIVEFIT_CORE_VERSION_HPP
#define LIVEFIT_CORE_VERSION_HPP

#define LIVEFIT_VERSION_MAJOR 0
#define LIVEFIT_VERSION_MINOR 1
#define LIVEFIT_VERSION_PATCH 0
/// MAJOR * 10000 + MINOR * 100 + PATCH, for preprocessor comparisons.
#define LIVEFIT_VERSION \
  (LIVEFIT_VERSION_MAJOR * 10000 + LIVEFIT_VERSION_MINOR * 100 + LIVEFIT_VERSION_PATCH)

namespace livefit {
/// The version as text, "MAJOR.MINOR.PATCH".
inline constexpr const char* version_string = "0.1.0";
}  // namespace livefit

#endif  // LIVEFIT_CORE_VERSION_HPP
