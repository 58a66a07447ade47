// Catch2 shim: the suite builds against Catch2 v3 (vcpkg, Conan) and v2 (Debian).
#ifndef LIVEFIT_TESTS_SUPPORT_CATCH_HPP
#define LIVEFIT_TESTS_SUPPORT_CATCH_HPP

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#define LIVEFIT_CATCH_V3 1
#else
#include <catch2/catch.hpp>
#define LIVEFIT_CATCH_V3 0
#endif

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using Catch::Matchers::WithinULP;

#endif  // LIVEFIT_TESTS_SUPPORT_CATCH_HPP
