#!/usr/bin/env bash
# Builds livefit and runs its whole test suite, from nothing on a Debian 12 / Ubuntu 24.04
# machine: installs the packages it needs when missing (apt-get, as root or through sudo),
# then runs the CMake workflow preset "ci" (configure, build, test; -O2 with assertions on,
# warnings as errors, examples built, benchmarks skipped). Build tree: out/build/ci.
# Extra arguments are not accepted: CI and newcomers run exactly the same thing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib/setup.sh

[ $# -eq 0 ] || livefit_die "scripts/test.sh takes no arguments (it runs the 'ci' workflow)"
livefit_need_packages cmake g++ ninja-build pkg-config libeigen3-dev catch2 \
  libtomlplusplus-dev zlib1g-dev
livefit_need_cmake 3.25
livefit_parallel_default
exec cmake --workflow --preset ci
