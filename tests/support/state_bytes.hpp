// The checkpoint bytes of a component, for tests: equal bytes mean a bit-identical state.
#ifndef LIVEFIT_TESTS_SUPPORT_STATE_BYTES_HPP
#define LIVEFIT_TESTS_SUPPORT_STATE_BYTES_HPP

#include <cstdint>
#include <vector>

#include "livefit/core/serialize.hpp"

namespace livefit::test {

/// What c.save_state writes.
template <class C>
std::vector<std::uint8_t> state_bytes(const C& c) {
  byte_writer w;
  c.save_state(w);
  return w.bytes();
}

}  // namespace livefit::test

#endif  // LIVEFIT_TESTS_SUPPORT_STATE_BYTES_HPP
