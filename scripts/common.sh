# Shared by scripts/*.sh: install what is missing, then configure and build.
# Sourced, not run. Every step is idempotent: a second run installs nothing and
# rebuilds only what changed.
set -euo pipefail

CONVGEN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONVGEN_BUILD="${CONVGEN_BUILD_DIR:-$CONVGEN_ROOT/build}"
# Debian 12 packages: Halide 14 (with LLVM 14), Catch2 v2, the build tools, and OpenCL's
# headers, loader and PoCL (a CPU OpenCL device) for the GPU kernels' test suite, and Python 3
# for the benchmark's analysis scripts and their test.
CONVGEN_PACKAGES=(libhalide14-0-dev catch2 cmake ninja-build g++ opencl-headers ocl-icd-opencl-dev pocl-opencl-icd python3)

say() { printf '\n==> %s\n' "$*"; }

install_missing_packages() {
    local missing=()
    for p in "${CONVGEN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "Packages: all present (${CONVGEN_PACKAGES[*]})"
        return
    fi
    say "Installing: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "convgen: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Extra arguments are CMake options for the configure step (e.g. -DCONVGEN_SANITIZE=ON).
configure_and_build() {
    say "Configuring $CONVGEN_BUILD"
    cmake -S "$CONVGEN_ROOT" -B "$CONVGEN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
    say "Building (generators run now: each kernel is compiled for every CPU target)"
    cmake --build "$CONVGEN_BUILD" -j "$(nproc)"
}
