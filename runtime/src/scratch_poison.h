// Scratch memory poisoned for tests. With CONVGEN_POISON_SCRATCH set in the environment,
// every scratch block a kernel allocates (AOT and JIT alike, through the scratch cache,
// scratch_cache.h) is filled with quiet NaNs before the kernel sees it: an output that
// reads a position no stage wrote then comes out NaN rather than whatever the allocator
// left there (zeros, often, which would hide a missing zero fill).
// The tests set it. No Halide types: the runtime core holds it.
#pragma once

#include <cstddef>

namespace convgen::detail {

/// Whether CONVGEN_POISON_SCRATCH is set (read once).
bool scratch_poisoned();

/// Fills `bytes` bytes at `data` with quiet NaNs (a trailing partial float too).
void poison_scratch(void *data, size_t bytes);

}  // namespace convgen::detail
