#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite through CTest.
# Extra arguments go to ctest (e.g. -L unit, -R golden).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_missing_packages
configure_and_build
say "Running the tests"
ctest --test-dir "$CONVGEN_BUILD" --output-on-failure -j "$(nproc)" "$@"
