#!/usr/bin/env bash
# Build the libFuzzer harnesses in fuzz/ with Debian's clang (ASan + UBSan) into build-fuzz/
# and run them, one after the other:
#   ./scripts/fuzz.sh                   # a campaign of 60 s per harness; new inputs that add
#                                       # coverage are merged into fuzz/corpus/<harness>/
#   ./scripts/fuzz.sh --time 300 npy    # 300 s, only fuzz_npy (names: spec, npy, layer_shapes)
#   ./scripts/fuzz.sh --regress         # replay fuzz/corpus/ and fuzz/regressions/ (quick; CI)
#   ./scripts/fuzz.sh --minimize        # shrink each committed corpus to a minimal set
# Exits non-zero if a harness crashes, naming the input that did it (under build-fuzz/artifacts/).
# fuzz/regressions/<harness>/ holds inputs that once crashed it, named after the bug.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

mode=campaign
seconds=60
selected=()
while [ $# -gt 0 ]; do
    case "$1" in
    --time) [ $# -ge 2 ] || { usage >&2; exit 2; }; seconds="$2"; shift 2 ;;
    --regress) mode=regress; shift ;;
    --minimize) mode=minimize; shift ;;
    -h | --help) usage; exit 0 ;;
    spec | npy | layer_shapes) selected+=("fuzz_$1"); shift ;;
    *) echo "convgen: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "convgen: --time needs a positive number of seconds" >&2; exit 2; }
[ ${#selected[@]} -gt 0 ] || selected=(fuzz_spec fuzz_npy fuzz_layer_shapes)

# Debian's clang 14 with its libFuzzer and sanitizer runtimes; Halide's headers only
# (layer.cpp includes HalideRuntime.h; nothing links Halide).
CONVGEN_PACKAGES=(clang libclang-rt-14-dev libhalide14-0-dev)
install_missing_packages

FUZZ_BUILD="${CONVGEN_FUZZ_BUILD_DIR:-$CONVGEN_ROOT/build-fuzz}"
ARTIFACTS="$FUZZ_BUILD/artifacts"
mkdir -p "$FUZZ_BUILD/obj" "$FUZZ_BUILD/logs" "$ARTIFACTS"
cd "$CONVGEN_ROOT"

CXX=(clang++ -std=c++17 -g -O1 -fno-sanitize-recover=all
     -Idsl/include -Iruntime/include -Itools -I/usr/include/halide14)
# The project's own sources are instrumented for coverage but linked into no fuzzer main;
# the harnesses alone are held to -Werror, so a new warning elsewhere does not stop fuzzing.
PROJECT_FLAGS=(-fsanitize=fuzzer-no-link,address,undefined -Wall -Wextra)
HARNESS_FLAGS=(-fsanitize=fuzzer,address,undefined -Wall -Wextra -Werror)
HEADER_DIRS=(dsl/include runtime/include tools fuzz)

# compile SOURCE FLAGS...: into build-fuzz/obj/, unless the object is newer than the source
# and every header and was built with the same flags.
compile() {
    local source="$1"; shift
    local object="$FUZZ_BUILD/obj/$(echo "${source%.cpp}" | tr / _).o"
    local flags="${CXX[*]} $*"
    if [ -f "$object" ] && [ "$object" -nt "$source" ] && [ "$(cat "$object.flags")" = "$flags" ] &&
        [ -z "$(find "${HEADER_DIRS[@]}" -name '*.h' -newer "$object" -print -quit)" ]; then
        echo "$object"
        return
    fi
    echo "  compiling $source" >&2
    # (In $(...), where errexit does not reach: a failed compile must fail the call.)
    "${CXX[@]}" "$@" -c "$source" -o "$object" || return 1
    echo "$flags" >"$object.flags"
    echo "$object"
}

# What each harness links besides itself, and the longest input worth trying.
declare -A SOURCES=(
    [fuzz_spec]="dsl/src/*.cpp"
    [fuzz_npy]="dsl/src/*.cpp tools/npy.cpp"
    [fuzz_layer_shapes]="dsl/src/*.cpp runtime/src/layer.cpp runtime/src/registry.cpp"
)
declare -A MAX_LEN=([fuzz_spec]=256 [fuzz_npy]=1024 [fuzz_layer_shapes]=160)

say "Building ${selected[*]} into $FUZZ_BUILD"
for harness in "${selected[@]}"; do
    objects=("$(compile "fuzz/$harness.cpp" "${HARNESS_FLAGS[@]}")")
    for source in ${SOURCES[$harness]}; do objects+=("$(compile "$source" "${PROJECT_FLAGS[@]}")"); done
    "${CXX[@]}" -fsanitize=fuzzer,address,undefined "${objects[@]}" -o "$FUZZ_BUILD/$harness"
done

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
failed=()

# run_fuzzer HARNESS LOG ARGS...: runs it with the common options; on failure prints the
# end of the log and where the crashing input went.
run_fuzzer() {
    local harness="$1" log="$2"; shift 2
    local options=(-max_len="${MAX_LEN[$harness]}" -timeout=10 -rss_limit_mb=2048
                   -artifact_prefix="$ARTIFACTS/$harness-" -print_final_stats=1)
    [ -f "fuzz/$harness.dict" ] && options+=(-dict="fuzz/$harness.dict")
    if "$FUZZ_BUILD/$harness" "${options[@]}" "$@" >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units' "$log" | tail -n 3 || true
        return 0
    fi
    tail -n 40 "$log" >&2
    local unit
    unit="$(grep -o 'Test unit written to .*' "$log" | sed 's/^Test unit written to //' | tail -n 1 || true)"
    echo "convgen: $harness FAILED; log: $log${unit:+; crashing input: $unit}" >&2
    # A replayed input is saved under its hash too: name the committed file it came from.
    local dir known_file
    for dir in "$@"; do
        [ -n "$unit" ] && [ -d "$dir" ] || continue
        known_file="$(find "$dir" -type f -exec cmp -s "$unit" {} \; -print -quit)"
        [ -n "$known_file" ] && echo "  (the same bytes as $known_file)" >&2
    done
    echo "  reproduce: $FUZZ_BUILD/$harness ${unit:-<input>}" >&2
    failed+=("$harness")
    return 1
}

count() { find "$@" -type f | wc -l; }

for harness in "${selected[@]}"; do
    corpus="fuzz/corpus/${harness#fuzz_}"
    mkdir -p "$corpus"
    # fuzz/regressions/<harness>/: inputs that once crashed it, named after the bug; replayed
    # with the corpus (which -merge may trim) and never touched by --minimize.
    known=("$corpus")
    [ -d "fuzz/regressions/${harness#fuzz_}" ] && known+=("fuzz/regressions/${harness#fuzz_}")
    log="$FUZZ_BUILD/logs/$harness.log"
    case "$mode" in
    regress)
        say "$harness: replaying $(count "${known[@]}") inputs of ${known[*]}"
        run_fuzzer "$harness" "$log" -runs=0 "${known[@]}" || continue
        ;;
    campaign)
        # New inputs go to a scratch directory first; only those that add coverage are
        # merged into the committed corpus.
        scratch="$FUZZ_BUILD/new-corpus/${harness#fuzz_}"
        mkdir -p "$scratch"
        say "$harness: fuzzing for $seconds s from $(count "${known[@]}") inputs of ${known[*]} (log: $log)"
        run_fuzzer "$harness" "$log" -max_total_time="$seconds" "$scratch" "${known[@]}" || continue
        run_fuzzer "$harness" "$log.merge" -merge=1 "$corpus" "$scratch" >/dev/null || continue
        echo "$corpus: $(count "$corpus") inputs"
        ;;
    minimize)
        minimal="$FUZZ_BUILD/minimized/${harness#fuzz_}"
        rm -rf "$minimal" && mkdir -p "$minimal"
        say "$harness: minimizing $corpus ($(count "$corpus") inputs)"
        run_fuzzer "$harness" "$log" -merge=1 "$minimal" "$corpus" >/dev/null || continue
        rm -f "$corpus"/* && cp "$minimal"/* "$corpus"/
        echo "$corpus: $(count "$corpus") inputs"
        ;;
    esac
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "convgen: fuzzing found problems in: ${failed[*]} (inputs under $ARTIFACTS)" >&2
    exit 1
fi
say "Fuzzing: no crash in ${selected[*]} ($mode)"
