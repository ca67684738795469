#!/usr/bin/env bash
# On a machine with a CUDA GPU and PyTorch: convgen's CUDA tests, then every suite layer
# through convgen's CUDA kernels and through cuDNN (TF32 off and on), into RESULTS-gpu.md.
# The binaries are built on the build machine (no GPU needed there):
#   cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONVGEN_BUILD_BENCH=ON \
#         -DCONVGEN_BUILD_CPU_BENCH=OFF -DCONVGEN_BUILD_GPU_BENCH=ON \
#         [-DCONVGEN_GPU_BENCH_VARIANTS=$PWD/bench/gpu-variants.txt]
#   cmake --build build-gpu --target convgen_cuda_tests convgen_gpu_bench
# then, on the GPU machine, from the repository root:
#   [VARIANTS=bench/gpu-variants.txt] scripts/gpu-bench.sh build-gpu [OUT_DIR]
# VARIANTS (only with a build configured with the same file) also times each schedule
# variant. Every step runs even if an earlier one failed; logs and CSVs go to OUT_DIR; the
# exit status says whether all passed.
set -uo pipefail
BUILD="${1:?usage: scripts/gpu-bench.sh BUILD_DIR [OUT_DIR]}"
OUT="${2:-.}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$OUT"
status=0
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader || true

printf '\n==> CUDA tests\n'
"$BUILD/tests/convgen_cuda_tests" 2>&1 | tee "$OUT/cuda-tests.log" || status=1

printf '\n==> convgen on every suite layer\n'
variants=()
if [[ -n "${VARIANTS:-}" ]]; then variants=(--variants "$VARIANTS"); fi
"$BUILD/bench/convgen_gpu_bench" --suite "$ROOT/bench/layers.csv" --csv "$OUT/convgen-gpu.csv" ${variants[@]+"${variants[@]}"} ||
    status=1

printf '\n==> cuDNN on the same layers, and the table\n'
PYTHONUNBUFFERED=1 python3 "$ROOT/bench/cudnn_bench.py" --convgen "$OUT/convgen-gpu.csv" \
    --markdown "$OUT/RESULTS-gpu.md" --csv "$OUT/cudnn.csv" || status=1
exit $status
