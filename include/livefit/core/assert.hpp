// LIVEFIT_ASSERT: precondition checks in debug builds, like eigen_assert.
#ifndef LIVEFIT_CORE_ASSERT_HPP
#define LIVEFIT_CORE_ASSERT_HPP

#include <cstdio>
#include <cstdlib>

/// Checks a precondition. Active unless NDEBUG or LIVEFIT_NO_ASSERT is defined; define
/// LIVEFIT_ASSERT yourself before including livefit to route breaches elsewhere.
#ifndef LIVEFIT_ASSERT
#if defined(NDEBUG) || defined(LIVEFIT_NO_ASSERT)
#define LIVEFIT_ASSERT(cond) static_cast<void>(0)
#else
#define LIVEFIT_ASSERT(cond)                                                              \
  ((cond) ? static_cast<void>(0)                                                          \
          : (std::fprintf(stderr, "%s:%d: livefit precondition failed: %s\n", __FILE__, \
                          __LINE__, #cond),                                               \
             std::abort()))
#endif
#endif

#endif  // LIVEFIT_CORE_ASSERT_HPP
