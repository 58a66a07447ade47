// Checks that a fixed-size component's hot path allocates nothing, at several sizes and
// scalars.
#ifndef LIVEFIT_TESTS_SUPPORT_FIXED_SIZE_ALLOCATIONS_HPP
#define LIVEFIT_TESTS_SUPPORT_FIXED_SIZE_ALLOCATIONS_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <Eigen/Core>

#include "alloc_counter.hpp"
#include "catch.hpp"

namespace livefit::test {

/// One scalar and size of check_fixed_sizes_allocate_nothing: C<S, D>::make(opt), then
/// calls(c, x, i) for i < 1e5 under an alloc_scope, with x(0) = sin(0.01 i) and the other
/// features spread over [-1, 1]. The component and x live on the stack, so whatever is
/// counted comes from the calls themselves.
template <template <class, int> class C, class S, int D, class Options, class Calls>
void check_fixed_size_allocates_nothing(const Options& opt, Calls& calls) {
  constexpr int n = 100000;
  INFO((std::is_same_v<S, float> ? "float" : "double") << ", D = " << D);
  auto made = C<S, D>::make(opt);
  REQUIRE(made.has_value());
  Eigen::Matrix<S, D, 1> x = Eigen::Matrix<S, D, 1>::LinSpaced(D, S(-1), S(1));
  double sink = 0;
  std::size_t count = 0;
  {
    alloc_scope scope;
    for (int i = 0; i < n; ++i) {
      x(0) = static_cast<S>(std::sin(0.01 * i));
      sink += calls(*made, x, i);
    }
    count = scope.count();
  }
  CHECK(count == 0);
  CHECK(std::isfinite(sink));
  // Every update was accepted: the counted path is the one that changes the state.
  CHECK(made->samples_seen() == static_cast<std::uint64_t>(n));
}

/// Checks that a component of fixed size allocates nothing after make(), for float and
/// double at D = 4 and D = 8 (see check_fixed_size_allocates_nothing). `calls(c, x, i)`
/// makes one update of c with x and the reads under test, and returns a double: the values
/// are summed and checked finite, so no call can be dropped as unused. Warns and checks
/// nothing where allocations cannot be counted (sanitizer builds).
template <template <class, int> class C, class Options, class Calls>
void check_fixed_sizes_allocate_nothing(const Options& opt, Calls calls) {
  if (!alloc_counting_available()) {
    WARN("allocation counting unavailable (sanitizer build): skipped");
    return;
  }
  check_fixed_size_allocates_nothing<C, float, 4>(opt, calls);
  check_fixed_size_allocates_nothing<C, float, 8>(opt, calls);
  check_fixed_size_allocates_nothing<C, double, 4>(opt, calls);
  check_fixed_size_allocates_nothing<C, double, 8>(opt, calls);
}

}  // namespace livefit::test

#endif  // LIVEFIT_TESTS_SUPPORT_FIXED_SIZE_ALLOCATIONS_HPP
