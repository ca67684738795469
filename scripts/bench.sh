#!/usr/bin/env bash
# Build the benchmark (one AOT kernel per row of bench/layers.csv, against oneDNN) and run
# it at 1 and 2 threads; the table is also written to bench/RESULTS.md with the machine's
# CPU and the date. Each thread count is measured in CONVGEN_BENCH_PROCESSES fresh processes
# (default 3) and each time is the median over them. Extra arguments go to convgen_bench
# (e.g. --layers resnet50_res4_3x3).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# oneDNN's CMake package looks for OpenCL headers and the ICD loader (Debian builds it with
# OpenCL support), so those come too.
CONVGEN_PACKAGES+=(libdnnl-dev)
CONVGEN_BUILD="${CONVGEN_BENCH_BUILD_DIR:-$CONVGEN_ROOT/build-bench}"
processes="${CONVGEN_BENCH_PROCESSES:-3}"
install_missing_packages
say "Configuring $CONVGEN_BUILD"
cmake -S "$CONVGEN_ROOT" -B "$CONVGEN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCONVGEN_BUILD_BENCH=ON -DCONVGEN_BUILD_TESTS=OFF -DCONVGEN_BUILD_EXAMPLES=OFF
say "Building the benchmark (17 kernels, each for every CPU target)"
cmake --build "$CONVGEN_BUILD" -j "$(nproc)" --target convgen_bench convgen_core_latency
# The widest variant this CPU runs, and on an AVX-512 machine the AVX2 variant too, with
# oneDNN capped the same way (DNNL_MAX_CPU_ISA), so both schedules are measured here.
latency_before="$("$CONVGEN_BUILD/bench/convgen_core_latency")"
say "Before the runs: $latency_before"
runs=("native")
grep -qw avx512f /proc/cpuinfo && runs+=("avx2")
tables=()
for run in "${runs[@]}"; do
    table="$(mktemp)"
    tables+=("$table")
    if [ "$run" = native ]; then
        say "Running the native variant (medians of repeated runs after warm-up)"
        "$CONVGEN_BUILD/bench/convgen_bench" --processes "$processes" --markdown "$table" "$@"
    else
        say "Running the AVX2 variant, oneDNN capped at AVX2 too"
        CONVGEN_MAX_CPU_ISA=avx2 DNNL_MAX_CPU_ISA=AVX2 "$CONVGEN_BUILD/bench/convgen_bench" --processes "$processes" \
            --markdown "$table" "$@"
    fi
done
latency_after="$("$CONVGEN_BUILD/bench/convgen_core_latency")"
say "After the runs: $latency_after"
{
    echo "# Benchmark results"
    echo
    echo "Produced by \`./scripts/bench.sh\` on $(date -u +%Y-%m-%d). Each layer of"
    echo "bench/layers.csv through convgen's AOT kernel and through oneDNN $(dpkg-query -W -f='${Version}' libdnnl-dev)"
    echo "(convolution_auto, format_tag::any, bias and ReLU as post-ops) in the same process on"
    echo "the same data. \"oneDNN ms\" is the primitive alone on activations already in its blocked"
    echo "layout; \"+ reorders\" adds the reorders from and to plain NCHW that a caller holding PyTorch"
    echo "tensors pays (and, for reflect padding, which oneDNN lacks, an explicit reflect-pad copy"
    echo "of the input before a zero-padding-free oneDNN convolution). Ratios above 1 mean convgen is"
    echo "faster. Weights are prepared once on both sides. Every output is checked against oneDNN's."
    echo "Each thread count runs in $processes fresh processes, each timing every layer (medians of"
    echo "repeated runs after warm-up, convgen and oneDNN in eight alternating turns each, so that"
    echo "both see the host in the same state); a table shows, per layer, the median over those"
    echo "processes. On an AVX-512 machine the AVX2 variant is measured too, with oneDNN capped"
    echo "at AVX2 (\`DNNL_MAX_CPU_ISA=AVX2\`). Where the tables stand against the performance"
    echo "targets, and what limits each one missed: bench/TARGETS.md (\`python3 bench/target_bounds.py\`"
    echo "derives its bounds from this file)."
    echo
    echo "How far apart the two vCPUs were (\`convgen_core_latency\`; 2-thread times depend on it):"
    echo "before the runs, $latency_before; after them, $latency_after."
    for table in "${tables[@]}"; do
        echo
        cat "$table"
    done
} > "$CONVGEN_ROOT/bench/RESULTS.md"
rm -f "${tables[@]}"
say "Wrote bench/RESULTS.md"
