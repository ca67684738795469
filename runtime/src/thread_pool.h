// convgen's own pool for the parallel loops of its kernels: Halide's do_par_for for the AOT
// kernels (aot_kernel.cpp) and for the JIT (jit_kernel.cpp), so that tools measure what
// ships. Two differences from Halide's pool, both measured on this project's 2-vCPU
// machine (bench/RESULTS.md):
//   - Workers stay awake for a while after a loop (CONVGEN_SPIN_US, as OpenMP's threads do
//     for oneDNN). Halide's sleep the moment a loop runs out of tasks, and on a virtual
//     machine waking them takes tens of microseconds: as long as a small layer's call.
//   - Each thread gets a fixed, contiguous block of the loop's tasks (then helps with
//     what is left of the others'), so a layer called again hands each thread the same
//     output rows, still in that core's cache. Handed out first come, first served, tasks
//     wandered between cores from call to call, and every write then fetched its line from
//     the other core's cache: when the two vCPUs sat far apart (a cache-line round trip
//     of 350 ns rather than 50-130), the whole layer ran up to twice as slow.
// No Halide types: the runtime core, which JIT programs link, holds it.
#pragma once

namespace convgen::detail {

/// Iteration `index` of a parallel loop, given the loop's `context`; nonzero stops it.
using ParallelTask = int (*)(void *context, int index);

/// Runs iterations 0 .. size-1 on the caller's thread and the pool's workers and returns
/// the first nonzero status (iterations not yet started then do not run). A loop started
/// from inside an iteration, or while another thread's loop has the pool, runs on its
/// caller's thread, in order.
int parallel_for(int size, ParallelTask task, void *context);

/// Threads a loop uses, the caller's included: 0 for the default (HL_NUM_THREADS, else
/// one per core), 1 for the caller alone. Returns the previous count.
int set_pool_threads(int threads);

}  // namespace convgen::detail
