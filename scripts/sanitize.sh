#!/usr/bin/env bash
# Build convgen's own code (DSL, runtime, command-line tool, tests, kernel wrappers) with
# AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/ and run the tests there.
# Any report stops the program, so the test fails. Extra arguments go to ctest, e.g.
#   ./scripts/sanitize.sh -E "conformance sweep"     # what CI runs: all but the long sweep
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CONVGEN_BUILD="${CONVGEN_SANITIZE_BUILD_DIR:-$CONVGEN_ROOT/build-asan}"
install_missing_packages
configure_and_build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONVGEN_SANITIZE=ON

# A clean run only means something if the programs are instrumented: check each test
# binary and the command-line tool for the sanitizers' runtimes.
for program in "$CONVGEN_BUILD"/tests/convgen_*_tests "$CONVGEN_BUILD/tools/convgen"; do
    imports="$(nm -D --undefined-only "$program")"
    for runtime in __asan_init __ubsan_handle; do
        if [[ "$imports" != *"$runtime"* ]]; then
            echo "convgen: $program is not built with the sanitizers (no $runtime)" >&2
            exit 1
        fi
    done
done

say "Running the tests under AddressSanitizer and UndefinedBehaviorSanitizer"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
# Not the install test: a downstream project built without the sanitizers cannot link
# an instrumented runtime (scripts/test.sh runs it).
ctest --test-dir "$CONVGEN_BUILD" --output-on-failure -j "$(nproc)" -LE install "$@"
