// convgen: measuring time, for `convgen bench`, `convgen tune` and the benchmarks.
#pragma once

#include <functional>

namespace convgen::measure {

/// The median time of `run` in milliseconds, after three warm-up runs: as many runs as
/// fit in `min_seconds` (at least 5, at most 1000).
double median_ms(const std::function<void()> &run, double min_seconds);

/// This machine's fp32 FMA peak in GFLOP/s on `threads` threads, with AVX-512 vectors
/// when `avx512` (and the CPU has them), else AVX2: the best of a few tries, after the
/// clocks have ramped up. 0 where it is not measured (CPUs other than x86-64).
double peak_gflops(int threads, bool avx512);

}  // namespace convgen::measure
