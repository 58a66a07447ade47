# Shared by scripts/test.sh and scripts/replay.sh (sourced, not run): installs the Debian or
# Ubuntu packages a command needs when they are missing, and checks the CMake version.

livefit_say() { printf 'livefit: %s\n' "$*" >&2; }
livefit_die() { livefit_say "$*"; exit 1; }

# livefit_need_packages PKG...: installs the missing ones with apt-get, as root or through
# sudo; stops with the exact command to run when neither is possible.
livefit_need_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    livefit_say "not a Debian/Ubuntu system: cannot check packages; this needs the" \
      "equivalents of: $*"
    return 0
  fi
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      livefit_die "missing packages: ${missing[*]}. Not root and no sudo: as root, run" \
        "'apt-get update && apt-get install ${missing[*]}', then run this again."
    fi
  fi
  livefit_say "installing missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q \
    || livefit_die "apt-get update failed (network? permissions?); install by hand:" \
         "apt-get install ${missing[*]}"
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || livefit_die "apt-get install failed; install by hand: apt-get install ${missing[*]}"
}

# livefit_need_cmake MAJOR.MINOR: CMake presets of version 6 and workflows need CMake 3.25.
livefit_need_cmake() {
  local want=$1 have
  have=$(cmake --version 2>/dev/null | sed -n 's/^cmake version \([0-9]*\.[0-9]*\).*/\1/p')
  [ -n "$have" ] || livefit_die "cmake is not installed (apt-get install cmake)"
  if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" != "$want" ]; then
    livefit_die "CMake $have is too old: the presets need $want or newer (Debian 12," \
      "Ubuntu 24.04; or 'pip install cmake')"
  fi
}

# Builds use one job per core unless the caller chose otherwise: Ninja's default (cores + 2)
# can exhaust memory on small machines, an Eigen-heavy unit takes about 1 GB at -O2.
livefit_parallel_default() {
  if [ -z "${CMAKE_BUILD_PARALLEL_LEVEL:-}" ]; then
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc 2>/dev/null || echo 2)
    export CMAKE_BUILD_PARALLEL_LEVEL
  fi
}
