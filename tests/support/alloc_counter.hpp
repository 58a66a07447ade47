// Counts heap allocations (operator new and the malloc family) made by the current thread.
#ifndef LIVEFIT_TESTS_SUPPORT_ALLOC_COUNTER_HPP
#define LIVEFIT_TESTS_SUPPORT_ALLOC_COUNTER_HPP

#include <cstddef>

namespace livefit::test {

/// False in sanitizer builds, whose runtimes own malloc: allocation tests are skipped there.
bool alloc_counting_available() noexcept;

/// Counts allocations made by this thread while alive. Eigen's dynamic matrices allocate with
/// malloc, not operator new, so both are intercepted.
class alloc_scope {
 public:
  alloc_scope() noexcept;
  ~alloc_scope();
  alloc_scope(const alloc_scope&) = delete;
  alloc_scope& operator=(const alloc_scope&) = delete;

  /// Allocations (new, new[], malloc, calloc, realloc, aligned variants) since construction.
  [[nodiscard]] std::size_t count() const noexcept;

 private:
  std::size_t start_;
  bool was_enabled_;
};

}  // namespace livefit::test

#endif  // LIVEFIT_TESTS_SUPPORT_ALLOC_COUNTER_HPP
