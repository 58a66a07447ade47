#!/usr/bin/env bash
# Builds the replay program (examples/replay) in Release and runs it: with no arguments it
# replays the bundled U.S. births stream (data/us-births-1969-1988.csv) under continuous
# deployment with the bundled configuration and writes its outputs to ./replay-out/.
# Arguments are passed to the program (run it with --help for them). Installs the packages it
# needs when missing (apt-get, as root or through sudo). Build tree: out/build/replay.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib/setup.sh

if [ ! -f examples/replay/main.cpp ]; then
  livefit_die "the replay program (examples/replay) is not in this checkout yet;" \
    "scripts/test.sh builds and tests what is here"
fi
livefit_need_packages cmake g++ ninja-build pkg-config libeigen3-dev libtomlplusplus-dev \
  zlib1g-dev
livefit_need_cmake 3.25
livefit_parallel_default
cmake --preset replay >/dev/null || livefit_die "configuring the replay build failed"
cmake --build --preset replay || livefit_die "building the replay program failed"
program=out/build/replay/examples/livefit_replay
[ -x "$program" ] || livefit_die "built, but $program is missing"
exec "$program" "$@"
