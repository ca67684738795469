#include "jit_kernel.h"

#include "scratch_cache.h"  // runtime/src: the scratch memory the AOT kernels use
#include "thread_pool.h"    // runtime/src: the pool the AOT kernels use

namespace convgen {

using namespace Halide;

namespace {

// Parallel loops on convgen's pool, as the AOT kernels run them, so that what the tools
// measure is what ships.
struct JitLoop {
    JITUserContext *user_context;
    int (*task)(JITUserContext *, int, uint8_t *);
    int min;
    uint8_t *closure;
};

int run_jit_task(void *loop, int index) {
    const JitLoop &l = *static_cast<const JitLoop *>(loop);
    return l.task(l.user_context, l.min + index, l.closure);
}

int jit_do_par_for(JITUserContext *user_context, int (*task)(JITUserContext *, int, uint8_t *), int min, int size,
                   uint8_t *closure) {
    JitLoop loop{user_context, task, min, closure};
    return detail::parallel_for(size, run_jit_task, &loop);
}

// Scratch memory from the scratch cache, as the AOT kernels allocate it (scratch_cache.h).
void *jit_scratch_malloc(JITUserContext *, size_t size) { return detail::scratch_malloc(size); }
void jit_scratch_free(JITUserContext *, void *data) { detail::scratch_free(data); }

}  // namespace

JitKernel::JitKernel(const ConvSpec &spec, const Target &target, const ScheduleKnobs &knobs,
                     const std::vector<int64_t> &estimate_shape)
    : Kernel("jit", spec), target_(target) {
    const ConvSpec compiled = kernel_spec(spec);  // a pointwise Conv2d compiles as its Conv1d
    std::vector<int64_t> estimate = estimate_shape.empty() ? knob_estimate_shape(compiled, knobs) : estimate_shape;
    if (compiled.dims != spec.dims && estimate.size() == 4) estimate = {estimate[0], estimate[1], estimate[2] * estimate[3]};
    inputs_ = make_conv_inputs(compiled);
    pipeline_ = Pipeline(scheduled_pipeline(compiled, inputs_, target_, knobs, estimate).output);
    pipeline_.jit_handlers().custom_do_par_for = jit_do_par_for;
    pipeline_.jit_handlers().custom_malloc = jit_scratch_malloc;
    pipeline_.jit_handlers().custom_free = jit_scratch_free;
    try {
        pipeline_.compile_jit(target_);
    } catch (const Halide::Error &e) {
        throw Error(ErrorCode::InvalidSpec, std::string("the schedule does not compile: ") + e.what());
    }
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

std::vector<Argument> JitKernel::arguments() const {
    std::vector<Argument> args = {inputs_.input, inputs_.weight};
    if (inputs_.bias.defined()) args.push_back(inputs_.bias);
    return args;
}

std::string JitKernel::describe() const {
    return "JIT kernel (" + to_string(spec()) + ") for " + target_.to_string();
}

}  // namespace convgen
