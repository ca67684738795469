// convgen: a conv layer compiled in-process by Halide's JIT, through the same algorithm and
// schedules the generators use. For tools and tests; programs that ship link AOT kernels.
#pragma once

#include <Halide.h>

#include "convgen/kernel.h"
#include "conv_pipeline.h"

namespace convgen {

class JitKernel final : public Kernel {
public:
    /// Compiles the layer for `target` (default: this machine's CPU, or HL_JIT_TARGET).
    /// Throws Error(InvalidSpec) for an invalid spec.
    explicit JitKernel(const ConvSpec &spec,
                       const Halide::Target &target = Halide::get_jit_target_from_environment());

    void run(halide_buffer_t *input, halide_buffer_t *weight, halide_buffer_t *bias,
             halide_buffer_t *output) const override;
    std::string describe() const override;

private:
    Halide::Target target_;
    ConvInputs inputs_;
    mutable Halide::Pipeline pipeline_;  // realize() is not const; a compiled pipeline is
};

}  // namespace convgen
