#!/usr/bin/env bash
# Builds the replay program (examples/replay) in Release and runs it: with no arguments it
# replays the bundled U.S. births stream (data/us-births-1969-1988.csv) under continuous
# deployment with the bundled configuration and writes its outputs to ./replay-out/ of the
# directory it is run from. Arguments are passed to the program (run it with --help for them);
# relative paths in them are relative to the directory the script is run from. Installs the
# packages it needs when missing (apt-get, as root or through sudo). Build tree:
# <repository>/out/build/replay; the build's output goes to out/build/replay-build.log and is
# shown only when the build fails.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$repo/scripts/lib/setup.sh"

if [ ! -f "$repo/examples/replay/main.cpp" ]; then
  livefit_die "the replay program (examples/replay) is not in this checkout yet;" \
    "scripts/test.sh builds and tests what is here"
fi
livefit_need_packages cmake g++ ninja-build pkg-config libeigen3-dev libtomlplusplus-dev \
  zlib1g-dev
livefit_need_cmake 3.25
livefit_parallel_default
# The presets are found in the source directory: build from there in a subshell so that the
# caller's working directory (and so its relative paths and ./replay-out) stays as it is.
log="$repo/out/build/replay-build.log"
mkdir -p "$repo/out/build"
if ! (cd "$repo" && cmake --preset replay && cmake --build --preset replay) >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  livefit_die "building the replay program failed (full log: $log)"
fi
program="$repo/out/build/replay/examples/livefit_replay"
[ -x "$program" ] || livefit_die "built, but $program is missing"
exec "$program" "$@"
