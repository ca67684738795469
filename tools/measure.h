// convgen: measuring time, for `convgen bench`, `convgen tune` and the benchmarks.
#pragma once

#include <functional>
#include <vector>

namespace convgen::measure {

/// The median time of `run` in milliseconds, after three warm-up runs: as many runs as
/// fit in `min_seconds` (at least 5, at most 1000).
double median_ms(const std::function<void()> &run, double min_seconds);

/// The median times of several `runs` in milliseconds, measured side by side: `rounds`
/// rounds, in each of which every run in turn is called for about min_seconds / rounds
/// (at least 3 calls, after one untimed call that warms its caches), with `between`
/// called before each run's turn (e.g. to let another library's spinning threads sleep).
/// Each median is over all the calls of that run. Compared this way, runs see the
/// machine in the same state: on a shared host, a small layer's time can jump by a third
/// for a fraction of a second to seconds at a time (bench/RESULTS.md).
std::vector<double> interleaved_median_ms(const std::vector<std::function<void()>> &runs, double min_seconds,
                                          int rounds, const std::function<void()> &between = {});

/// The rounds convgen_bench and `convgen bench --versus` take: enough turns that a slow
/// stretch of the host falls on every run alike, each turn long enough to warm up.
constexpr int kSideBySideTurns = 8;

/// This machine's fp32 FMA peak in GFLOP/s on `threads` threads, with AVX-512 vectors
/// when `avx512` (and the CPU has them), else AVX2: the best of a few tries, after the
/// clocks have ramped up. 0 where it is not measured (CPUs other than x86-64).
double peak_gflops(int threads, bool avx512);

}  // namespace convgen::measure
