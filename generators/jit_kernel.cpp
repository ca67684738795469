#include "jit_kernel.h"

namespace convgen {

using namespace Halide;

JitKernel::JitKernel(const ConvSpec &spec, const Target &target)
    : Kernel("jit", spec), target_(target) {
    const ConvSpec compiled = kernel_spec(spec);  // a pointwise Conv2d compiles as its Conv1d
    inputs_ = make_conv_inputs(compiled);
    pipeline_ = Pipeline(cpu_pipeline(compiled, inputs_, target_).output);
    pipeline_.compile_jit(target_);
}

void JitKernel::run(halide_buffer_t *input, halide_buffer_t *weight, halide_buffer_t *bias,
                    halide_buffer_t *output) const {
    // Parameters go through a ParamMap, not ImageParam::set, so that concurrent calls on
    // one kernel do not race on shared parameter state.
    auto wrap = [](halide_buffer_t *buf) { return Buffer<float>(Runtime::Buffer<float>(*buf)); };
    Buffer<float> in = wrap(input), w = wrap(weight), b;
    ParamMap params;
    params.set(inputs_.input, in);
    params.set(inputs_.weight, w);
    if (bias != nullptr) {
        b = wrap(bias);
        params.set(inputs_.bias, b);
    }
    try {
        pipeline_.realize(output, target_, params);
    } catch (const Halide::Error &e) {
        throw Error(ErrorCode::RuntimeError, std::string("JIT kernel failed: ") + e.what());
    }
}

std::string JitKernel::describe() const {
    return "JIT kernel (" + to_string(spec()) + ") for " + target_.to_string();
}

}  // namespace convgen
