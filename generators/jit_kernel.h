// convgen: a conv layer compiled in-process by Halide's JIT, through the same algorithm and
// schedules the generators use. For tools and tests; programs that ship link AOT kernels.
#pragma once

#include <Halide.h>

#include "convgen/kernel.h"
#include "conv_pipeline.h"

namespace convgen {

class JitKernel final : public Kernel {
public:
    /// Compiles the layer for `target` (default: this machine's CPU, or HL_JIT_TARGET),
    /// with any schedule knobs set (an autoscheduler plans for `estimate_shape`, or the
    /// knobs' estimate when that is empty). Throws Error(InvalidSpec) for an invalid spec
    /// or knob.
    explicit JitKernel(const ConvSpec &spec, const Halide::Target &target = default_target(),
                       const ScheduleKnobs &knobs = {}, const std::vector<int64_t> &estimate_shape = {});

    /// This machine's CPU, or HL_JIT_TARGET.
    static Halide::Target default_target() { return Halide::get_jit_target_from_environment(); }

    /// The compiled pipeline, to print its loop nest or emit its statement and assembly,
    /// and the arguments it takes.
    Halide::Pipeline &pipeline() const { return pipeline_; }
    std::vector<Halide::Argument> arguments() const;
    const Halide::Target &target() const { return target_; }

    void run(halide_buffer_t *input, halide_buffer_t *weight, halide_buffer_t *bias,
             halide_buffer_t *output) const override;
    std::string describe() const override;

private:
    Halide::Target target_;
    ConvInputs inputs_;
    mutable Halide::Pipeline pipeline_;  // realize() is not const; a compiled pipeline is
};

}  // namespace convgen
