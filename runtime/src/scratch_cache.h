// Scratch memory for kernels' intermediate buffers (the padded input, a task's tiles and
// planes): blocks a kernel frees are kept and handed to the next request of about their
// size, so repeated calls on one shape allocate nothing (kScratchCacheBytes in all, see
// convgen/aot_kernel.h). The AOT kernels allocate through it (Halide's malloc hook), and so
// does the JIT, so that what the tools time and tune is what ships: with Halide's own
// allocator, mobilenet_dw_14 on AVX2 ran about 8% slower in the JIT than the same schedule
// in the AOT bench, and fewer, larger tasks looked 5% faster when they were not. Blocks
// are poisoned when the tests ask (scratch_poison.h). No Halide types: the runtime core
// holds it.
#pragma once

#include <cstddef>

namespace convgen::detail {

/// Bytes past the end of every block that may be read (and are poisoned with it).
constexpr size_t kSlack = 64;

/// A block of at least `size` bytes, 128-byte aligned, with kSlack readable bytes past
/// its end and a few before it; nullptr if memory ran out.
void *scratch_malloc(size_t size);

/// Gives back a block scratch_malloc returned (nullptr: nothing).
void scratch_free(void *data);

/// How many blocks were allocated afresh rather than reused, since the program started.
size_t scratch_fresh_blocks();

}  // namespace convgen::detail
