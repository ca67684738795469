// AOT kernels and the Halide runtime they share. This is the only runtime source that
// calls into the Halide runtime, so programs that only JIT (tools, tests) never link it.
#include "convgen/aot_kernel.h"

#include "scratch_cache.h"
#include "thread_pool.h"

#include <HalideRuntime.h>
#include <HalideRuntimeCuda.h>
#include <HalideRuntimeOpenCL.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace convgen {

namespace {

// ---- Errors: generated code reports through halide_error(user_context, msg). Every call
// passes its own ErrorSink as the user_context, so messages reach the right caller even
// when several threads run kernels at once.
struct ErrorSink {
    std::string message;
};

// The runtime's message, at most its first and last lines: a missing driver is reported
// once per entry point it lacks.
std::string summary(const std::string &message) {
    if (message.empty()) return "no message";
    std::vector<std::string> lines;
    std::stringstream in(message);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    if (lines.size() <= 3) return message;
    return lines.front() + "\n  (" + std::to_string(lines.size() - 2) + " more lines)\n" + lines.back();
}

void capture_error(void *user_context, const char *message) {
    if (user_context != nullptr) {
        static_cast<ErrorSink *>(user_context)->message += message;
    } else {
        std::fputs(message, stderr);
    }
}

// ---- CPU dispatch: each generated library holds one object per target and asks
// halide_can_use_target_features for each in turn, most capable first. The cap
// removes instruction sets from what the CPU is reported to support.
enum class Isa { Baseline = 0, Sse41 = 1, Avx2 = 2, Avx512 = 3 };

struct IsaName {
    Isa isa;
    const char *name;
};
constexpr IsaName kIsaNames[] = {
    {Isa::Avx512, "avx512"}, {Isa::Avx2, "avx2"}, {Isa::Sse41, "sse41"}, {Isa::Baseline, "baseline"}};

const char *isa_name(Isa isa) {
    for (const IsaName &entry : kIsaNames)
        if (entry.isa == isa) return entry.name;
    return "baseline";
}

// The lowest ISA level that needs a feature; features convgen does not cap map to Baseline.
Isa level_of(int feature) {
    switch (feature) {
    case halide_target_feature_sse41: return Isa::Sse41;
    case halide_target_feature_avx:
    case halide_target_feature_avx2:
    case halide_target_feature_fma:
    case halide_target_feature_f16c: return Isa::Avx2;
    case halide_target_feature_avx512:
    case halide_target_feature_avx512_knl:
    case halide_target_feature_avx512_skylake:
    case halide_target_feature_avx512_cannonlake:
    case halide_target_feature_avx512_sapphirerapids: return Isa::Avx512;
    default: return Isa::Baseline;
    }
}

std::atomic<int> g_max_isa{static_cast<int>(Isa::Avx512)};

int capped_can_use_target_features(int count, const uint64_t *features) {
    const int cap = g_max_isa.load();
    for (int word = 0; word < count; word++) {
        for (int bit = 0; bit < 64; bit++) {
            if ((features[word] >> bit) & 1) {
                if (static_cast<int>(level_of(word * 64 + bit)) > cap) return 0;
            }
        }
    }
    return halide_default_can_use_target_features(count, features);
}

Isa parse_isa(const std::string &name) {
    if (name.empty() || name == "auto") return Isa::Avx512;
    for (const IsaName &entry : kIsaNames)
        if (name == entry.name) return entry.isa;
    throw Error(ErrorCode::InvalidSpec, "unknown CPU ISA '" + name +
                                            "'; expected one of avx512, avx2, sse41, baseline, auto");
}

// ---- Parallel loops run on convgen's pool (thread_pool.h), each task through
// halide_do_task so that a custom task hook still sees them.
struct HalideLoop {
    void *user_context;
    halide_task_t task;
    int min;
    uint8_t *closure;
};

int run_halide_task(void *loop, int index) {
    const HalideLoop &l = *static_cast<const HalideLoop *>(loop);
    return halide_do_task(l.user_context, l.task, l.min + index, l.closure);
}

int pool_do_par_for(void *user_context, halide_task_t task, int min, int size, uint8_t *closure) {
    HalideLoop loop{user_context, task, min, closure};
    return detail::parallel_for(size, run_halide_task, &loop);
}

// Installs the hooks above once, before the first kernel is made.
void install_runtime_hooks() {
    static std::once_flag once;
    std::call_once(once, [] {
        halide_set_error_handler(capture_error);
        halide_set_custom_can_use_target_features(capped_can_use_target_features);
        halide_set_custom_malloc([](void *, size_t size) { return detail::scratch_malloc(size); });
        halide_set_custom_free([](void *, void *data) { detail::scratch_free(data); });
        halide_set_custom_do_par_for(pool_do_par_for);
        // GPU kernels on host tensors get device copies for each call: keep freed device
        // blocks for the next call instead of returning them to the driver.
        halide_reuse_device_allocations(nullptr, true);
        if (const char *env = std::getenv("CONVGEN_MAX_CPU_ISA")) {
            try {
                g_max_isa = static_cast<int>(parse_isa(env));
            } catch (const Error &e) {
                std::fprintf(stderr, "convgen: ignoring CONVGEN_MAX_CPU_ISA: %s\n", e.what());
            }
        }
    });
}

}  // namespace

namespace {

// The device API in a Halide target string, e.g. "x86-64-linux-cuda-cuda_capability_80".
Device device_of(const std::string &target) {
    std::string feature;
    for (size_t begin = 0; begin <= target.size();) {
        const size_t end = std::min(target.find('-', begin), target.size());
        feature = target.substr(begin, end - begin);
        if (feature == "cuda") return Device::Cuda;
        if (feature == "opencl") return Device::OpenCL;
        begin = end + 1;
    }
    return Device::Cpu;
}

const halide_device_interface_t *device_interface(Device device) {
    switch (device) {
    case Device::Cuda: return halide_cuda_device_interface();
    case Device::OpenCL: return halide_opencl_device_interface();
    case Device::Cpu: break;
    }
    return nullptr;
}

// Throws the Halide runtime's message for a failed call (a kernel, a device operation).
void check_runtime_call(int status, const ErrorSink &sink, const std::string &what) {
    if (status != 0) {
        throw Error(ErrorCode::RuntimeError,
                    what + " failed (Halide error " + std::to_string(status) + "): " + summary(sink.message));
    }
}

}  // namespace

AotKernel::AotKernel(const char *name, const char *spec_text, ArgvEntry entry,
                     const halide_filter_metadata_t *metadata)
    : Kernel(name, parse_spec(spec_text)), entry_(entry), metadata_(metadata), device_(device_of(metadata->target)) {
    install_runtime_hooks();
}

void AotKernel::copy_to_device(halide_buffer_t *buffer) const {
    if (device_ == Device::Cpu) return;
    ErrorSink sink;
    check_runtime_call(halide_copy_to_device(&sink, buffer, device_interface(device_)), sink,
                      std::string("kernel '") + name() + "': copying weights to the " + to_string(device_) + " device");
}

void AotKernel::wrap_device_memory(halide_buffer_t *buffer, uint64_t handle) const {
    if (device_ == Device::Cpu) {
        Kernel::wrap_device_memory(buffer, handle);
        return;
    }
    ErrorSink sink;
    check_runtime_call(halide_device_wrap_native(&sink, buffer, handle, device_interface(device_)), sink,
                      std::string("kernel '") + name() + "': wrapping " + to_string(device_) + " device memory");
}

void AotKernel::release_device(halide_buffer_t *buffer) const noexcept {
    if (buffer->device == 0) return;
    ErrorSink sink;  // nothing to report to: a release that fails leaks at worst
    if (buffer->host == nullptr) {
        halide_device_detach_native(&sink, buffer);
    } else {
        halide_device_free(&sink, buffer);
    }
}

void AotKernel::synchronize(halide_buffer_t *on_device) const {
    if (device_ == Device::Cpu) return;
    ErrorSink sink;
    check_runtime_call(halide_device_sync(&sink, on_device), sink,
                      std::string("synchronizing the ") + to_string(device_) + " device");
}

void AotKernel::run(halide_buffer_t *input, halide_buffer_t *weight, halide_buffer_t *bias,
                    halide_buffer_t *output) const {
    // The argv convention: one pointer per argument in signature order; a scalar argument
    // (the user_context) is passed by address, buffers as themselves.
    ErrorSink sink;
    void *user_context = &sink;
    void *args_with_bias[] = {&user_context, input, weight, bias, output};
    void *args_without_bias[] = {&user_context, input, weight, output};
    int status = entry_(bias != nullptr ? args_with_bias : args_without_bias);
    // A GPU kernel given host tensors: Halide copied them to the device and left the
    // output there. Bring the output back and free both device copies (to the reuse pool).
    for (halide_buffer_t *buffer : {input, output}) {
        if (buffer->host == nullptr || buffer->device == 0) continue;  // the caller's device memory
        if (status == 0 && buffer == output && buffer->device_dirty()) status = halide_copy_to_host(&sink, buffer);
        halide_device_free(&sink, buffer);
    }
    check_runtime_call(status, sink, "kernel '" + name() + "'");
}

std::string AotKernel::describe() const {
    return "AOT kernel '" + name() + "' (" + to_string(spec()) + "), compiled for " + metadata_->target;
}

namespace {

// Halide 14's CUDA runtime loads every module with at most HL_CUDA_JIT_MAX_REGISTERS
// registers a thread (64 if unset), which spills the larger register tiles; with 255,
// blocks of 128 to 512 threads failed to launch ("out of resources") on an H200, while with
// 128 every block the GPU schedules make launched. Set once, while the program starts
// (before it can have threads that read the environment); a value the user set is kept.
const bool g_cuda_register_cap_set = setenv("HL_CUDA_JIT_MAX_REGISTERS", "128", 0) == 0;

// The caller's CUDA context and stream (use_cuda_context), handed to Halide's runtime by
// the hooks below; Halide's own defaults serve while none is set.
std::atomic<void *> g_cuda_context{nullptr}, g_cuda_stream{nullptr};
halide_cuda_acquire_context_t g_default_acquire = nullptr;
halide_cuda_release_context_t g_default_release = nullptr;
halide_cuda_get_stream_t g_default_get_stream = nullptr;

int acquire_cuda_context(void *user_context, void **context, bool create) {
    if (void *own = g_cuda_context.load()) {
        *context = own;
        return 0;
    }
    return g_default_acquire(user_context, context, create);
}
int release_cuda_context(void *user_context) {
    return g_cuda_context.load() != nullptr ? 0 : g_default_release(user_context);
}
int get_cuda_stream(void *user_context, void *context, void **stream) {
    if (g_cuda_context.load() != nullptr) {
        *stream = g_cuda_stream.load();
        return 0;
    }
    return g_default_get_stream(user_context, context, stream);
}

}  // namespace

void use_cuda_context(void *context, void *stream) {
    static std::once_flag once;
    std::call_once(once, [] {
        g_default_acquire = halide_set_cuda_acquire_context(acquire_cuda_context);
        g_default_release = halide_set_cuda_release_context(release_cuda_context);
        g_default_get_stream = halide_set_cuda_get_stream(get_cuda_stream);
    });
    g_cuda_stream = stream;
    g_cuda_context = context;
}

size_t scratch_allocations() {
    return detail::scratch_fresh_blocks();
}

int set_num_threads(int threads) {
    if (threads < 0) {
        throw Error(ErrorCode::InvalidSpec,
                    "set_num_threads(" + std::to_string(threads) + "): expected 0 (the default) or more threads");
    }
    install_runtime_hooks();
    return detail::set_pool_threads(threads);
}

void set_max_cpu_isa(const std::string &isa) {
    install_runtime_hooks();
    g_max_isa = static_cast<int>(parse_isa(isa));
}

std::string active_cpu_isa() {
    install_runtime_hooks();
#if !defined(__x86_64__) && !defined(__i386__)
    // Other CPUs (aarch64: NEON is baseline) have a single variant per kernel.
    return isa_name(Isa::Baseline);
#endif
    // The default kernel targets, most capable first (cmake/convgen.cmake): the first one
    // whose features this CPU has, under the cap, is the one each kernel runs.
    const int kVariantFeatures[][2] = {
        {halide_target_feature_avx512_skylake, static_cast<int>(Isa::Avx512)},
        {halide_target_feature_avx2, static_cast<int>(Isa::Avx2)},
        {halide_target_feature_sse41, static_cast<int>(Isa::Sse41)}};
    for (const auto &variant : kVariantFeatures) {
        uint64_t mask[2] = {0, 0};
        mask[variant[0] / 64] |= uint64_t(1) << (variant[0] % 64);
        if (capped_can_use_target_features(2, mask)) return isa_name(static_cast<Isa>(variant[1]));
    }
    return isa_name(Isa::Baseline);
}

}  // namespace convgen
