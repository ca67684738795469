#!/usr/bin/env bash
# On a machine with a CUDA GPU and PyTorch: convgen's CUDA tests, then every suite layer
# through convgen's CUDA kernels and through cuDNN (TF32 off and on), into RESULTS-gpu.md.
# The binaries are built on the build machine (no GPU needed there):
#   cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONVGEN_BUILD_BENCH=ON \
#         -DCONVGEN_BUILD_CPU_BENCH=OFF -DCONVGEN_BUILD_GPU_BENCH=ON
#   cmake --build build-gpu --target convgen_cuda_tests convgen_gpu_bench
# then, on the GPU machine, from the repository root:
#   scripts/gpu-bench.sh build-gpu [OUT_DIR]
set -euo pipefail
BUILD="${1:?usage: scripts/gpu-bench.sh BUILD_DIR [OUT_DIR]}"
OUT="${2:-.}"
mkdir -p "$OUT"
# Halide 14's CUDA runtime caps every kernel at 64 registers unless told otherwise; the
# register tiles want more.
export HL_CUDA_JIT_MAX_REGISTERS="${HL_CUDA_JIT_MAX_REGISTERS:-255}"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true

printf '\n==> CUDA tests\n'
"$BUILD/tests/convgen_cuda_tests"
printf '\n==> convgen on every suite layer\n'
"$BUILD/bench/convgen_gpu_bench" --csv "$OUT/convgen-gpu.csv"
printf '\n==> cuDNN on the same layers, and the table\n'
python3 "$(dirname "$0")/../bench/cudnn_bench.py" --convgen "$OUT/convgen-gpu.csv" --markdown "$OUT/RESULTS-gpu.md"
