// convgen: kernels compiled ahead of time by convgen_add_kernel(), and the process-wide
// controls of the Halide runtime they share.
#pragma once

#include <cstddef>

#include "convgen/kernel.h"

struct halide_filter_metadata_t;

namespace convgen {

/// A kernel linked into the program. The code convgen_add_kernel() generates makes one
/// per kernel from the generated library's argv entry point and metadata.
class AotKernel final : public Kernel {
public:
    using ArgvEntry = int (*)(void **args);

    AotKernel(const char *name, const char *spec_text, ArgvEntry entry,
              const halide_filter_metadata_t *metadata);

    void run(halide_buffer_t *input, halide_buffer_t *weight, halide_buffer_t *bias,
             halide_buffer_t *output) const override;
    std::string describe() const override;

    Device device() const override { return device_; }
    void copy_to_device(halide_buffer_t *buffer) const override;
    void wrap_device_memory(halide_buffer_t *buffer, uint64_t handle) const override;
    void release_device(halide_buffer_t *buffer) const noexcept override;
    void synchronize(halide_buffer_t *on_device) const override;

private:
    ArgvEntry entry_;
    const halide_filter_metadata_t *metadata_;
    Device device_;  // from the target the kernel was compiled for
};

/// Threads the linked kernels may use, the caller's included: 0 restores the default (one
/// per core, or the HL_NUM_THREADS environment variable), 1 runs every call on the
/// caller's thread (its parallel loops in order). Takes effect with the next parallel
/// loop. Process-wide; returns the previous count; throws convgen::Error for a negative
/// count. The workers stay awake for CONVGEN_SPIN_US microseconds (default 1000) after
/// a loop, so that the next call need not wake them; a loop started while another
/// thread's call is using them runs on its own thread.
int set_num_threads(int threads);

/// GPU kernels (CUDA, OpenCL) use the device, context and queue of Halide's runtime:
/// the first device, a context it creates, its default stream or queue.
/// HL_OCL_PLATFORM_NAME and HL_OCL_DEVICE_TYPE ("gpu", "cpu") pick the OpenCL device.
///
/// Makes CUDA kernels run in the caller's context and stream (a CUcontext and CUstream,
/// e.g. PyTorch's current ones), so they order with the caller's own work and can use
/// its device pointers; nullptr for both returns to Halide's own. Process-wide. (OpenCL:
/// a program may define halide_acquire_cl_context / halide_release_cl_context, which
/// Halide 14's runtime declares weak.)
void use_cuda_context(void *context, void *stream);

/// The most capable CPU instruction set linked kernels may dispatch to: "avx512",
/// "avx2", "sse41" or "baseline"; "" or "auto" lifts the cap. Also read once from the
/// CONVGEN_MAX_CPU_ISA environment variable. Each kernel picks its variant on its first
/// call, so set this before running any. Throws Error(InvalidSpec) for an unknown name.
void set_max_cpu_isa(const std::string &isa);

/// Scratch memory of the kernels (the padded input, per-task tiles; linked kernels and
/// those the JIT compiles alike) is kept when a call ends and handed back to the next call
/// that asks for the same size, up to kScratchCacheBytes in all, so a layer called again on
/// the same shape allocates nothing. This counts the blocks that had to be allocated
/// afresh since the program started.
constexpr size_t kScratchCacheBytes = size_t(256) << 20;
size_t scratch_allocations();

/// The instruction set of the variant the kernels picked (or will pick) on this CPU under
/// the current cap: "avx512", "avx2", "sse41" or "baseline".
std::string active_cpu_isa();

}  // namespace convgen
