#include "measure.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace convgen::measure {

namespace {

using Clock = std::chrono::steady_clock;

#if defined(__x86_64__)
// Independent FMA chains, enough to hide the FMA latency on every current core. One
// body, compiled once per ISA (a macro because the vector types and intrinsics differ).
#define CONVGEN_FMA_GFLOPS(VEC, LANES, SET1, FMA)                                        \
    constexpr int kChains = 12;                                                         \
    VEC acc[kChains];                                                                   \
    for (int i = 0; i < kChains; i++) acc[i] = SET1(float(i));                          \
    const VEC a = SET1(0.999f), b = SET1(0.001f);                                       \
    const auto t0 = Clock::now();                                                       \
    for (long it = 0; it < iterations; it++)                                            \
        for (int i = 0; i < kChains; i++) acc[i] = FMA(acc[i], a, b);                   \
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();    \
    float sink[LANES];                                                                  \
    float total = 0;                                                                    \
    for (int i = 0; i < kChains; i++) {                                                 \
        std::memcpy(sink, &acc[i], sizeof sink);                                        \
        total += sink[0];                                                               \
    }                                                                                   \
    if (total == 12345.0f) std::puts(""); /* keeps the chains alive */                  \
    return 2.0 * LANES * kChains * iterations / seconds / 1e9;

__attribute__((target("avx2,fma"))) double fma_gflops_avx2(long iterations) {
    CONVGEN_FMA_GFLOPS(__m256, 8, _mm256_set1_ps, _mm256_fmadd_ps)
}
__attribute__((target("avx512f"))) double fma_gflops_avx512(long iterations) {
    CONVGEN_FMA_GFLOPS(__m512, 16, _mm512_set1_ps, _mm512_fmadd_ps)
}
#undef CONVGEN_FMA_GFLOPS

#endif

// The median of `times` (reordered).
double median_of(std::vector<double> &times) {
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    return times[times.size() / 2];
}

}  // namespace

double median_ms(const std::function<void()> &run, double min_seconds) {
    for (int warm_up = 0; warm_up < 3; warm_up++) run();
    std::vector<double> times;
    const auto start = Clock::now();
    while (times.size() < 5 ||
           (times.size() < 1000 && std::chrono::duration<double>(Clock::now() - start).count() < min_seconds)) {
        const auto t0 = Clock::now();
        run();
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return median_of(times);
}

std::vector<double> interleaved_median_ms(const std::vector<std::function<void()>> &runs, double min_seconds,
                                          int rounds, const std::function<void()> &between) {
    std::vector<std::vector<double>> times(runs.size());
    rounds = std::max(rounds, 1);
    const double block_seconds = min_seconds / rounds;
    for (int round = 0; round < rounds; round++) {
        for (size_t i = 0; i < runs.size(); i++) {
            if (between) between();
            runs[i]();  // warms the caches with this run's data
            const auto start = Clock::now();
            for (int calls = 0;
                 calls < 3 || std::chrono::duration<double>(Clock::now() - start).count() < block_seconds; calls++) {
                const auto t0 = Clock::now();
                runs[i]();
                times[i].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            }
        }
    }
    std::vector<double> medians;
    for (std::vector<double> &t : times) medians.push_back(median_of(t));
    return medians;
}

double peak_gflops(int threads, bool avx512) {
#if defined(__x86_64__)
    const bool wide = avx512 && __builtin_cpu_supports("avx512f");
    double best = 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        std::vector<double> per_thread(static_cast<size_t>(threads));
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; t++) {
            pool.emplace_back([&, t] {
                per_thread[static_cast<size_t>(t)] = wide ? fma_gflops_avx512(50'000'000) : fma_gflops_avx2(50'000'000);
            });
        }
        for (auto &th : pool) th.join();
        double total = 0;
        for (double g : per_thread) total += g;
        best = std::max(best, total);
    }
    return best;
#else
    (void)threads;
    (void)avx512;
    return 0;  // not measured on this CPU
#endif
}

}  // namespace convgen::measure
