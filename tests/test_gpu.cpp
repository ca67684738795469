// GPU kernels (built twice: CONVGEN_TEST_DEVICE_OPENCL for the `opencl` suite, which CI
// runs on PoCL, and CONVGEN_TEST_DEVICE_CUDA for `cuda`), used as a program uses them:
// linked libraries, no libHalide in the process (PoCL's LLVM and Halide's clash). On a
// machine without the device every test but the error test says why and checks nothing.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "convgen/runtime.h"
#include "harness.h"

#if defined(CONVGEN_TEST_DEVICE_OPENCL)
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
// Halide 14's OpenCL runtime defines these (weak, so a program may replace them) but its
// header does not declare them: the context and queue the kernels run in.
extern "C" int halide_acquire_cl_context(void *user_context, cl_context *context, cl_command_queue *queue, bool create);
extern "C" int halide_release_cl_context(void *user_context);
constexpr convgen::Device kDevice = convgen::Device::OpenCL;
const std::string kPrefix = "opencl_";
#elif defined(CONVGEN_TEST_DEVICE_CUDA)
constexpr convgen::Device kDevice = convgen::Device::Cuda;
const std::string kPrefix = "cuda_";
#else
#error "define CONVGEN_TEST_DEVICE_OPENCL or CONVGEN_TEST_DEVICE_CUDA"
#endif

namespace {

// Empty when this machine can run the kernels, else the runtime's reason (no driver, no
// device). Found by making a layer, which copies its weights to the device.
const std::string &device_unavailable() {
    static const std::string reason = [] {
        try {
            const convgen::Kernel &kernel = convgen::find_kernel(kPrefix + "golden_conv1d");
            const std::vector<float> weight(3, 1.0f);
            const convgen::Layer layer(kernel, convgen::ConstTensorView(weight.data(), kernel.spec().weight_shape()));
            return std::string();
        } catch (const convgen::Error &e) {
            return std::string(e.what());
        }
    }();
    return reason;
}

}  // namespace

// Catch2 v2 has no SKIP: say why, then leave the test case.
#define SKIP_WITHOUT_DEVICE()                                                                      \
    do {                                                                                           \
        if (!device_unavailable().empty()) {                                                       \
            WARN("skipped: no usable " << convgen::to_string(kDevice) << " device here: " << device_unavailable()); \
            return;                                                                                \
        }                                                                                          \
    } while (false)

TEST_CASE("the GPU kernels say which device they run on") {
    size_t count = 0;
    for (const std::string &name : convgen::kernel_names()) {
        if (name.rfind(kPrefix, 0) != 0) continue;
        CHECK(convgen::find_kernel(name).device() == kDevice);
        count++;
    }
    CHECK(count > 20);
}

TEST_CASE("without a usable device, GPU layers fail with a clear error, not a crash") {
    if (device_unavailable().empty()) {
        WARN("a " << convgen::to_string(kDevice) << " device is present: the error path is not reachable here");
        return;
    }
    // The error came back as convgen::Error with the runtime's message naming the API.
    CHECK_THAT(device_unavailable(), Catch::Contains(convgen::to_string(kDevice)));
}

TEST_CASE("golden 1-4 on the GPU") {
    SKIP_WITHOUT_DEVICE();
    convgen_test::check_golden_kernels(kPrefix);
}

TEST_CASE("every GPU layer matches the reference on random data") {
    SKIP_WITHOUT_DEVICE();
    convgen_test::check_linked_kernels(kPrefix);
}

TEST_CASE("one GPU layer called from several threads at once gives the same results") {
    SKIP_WITHOUT_DEVICE();
    const convgen::Kernel &kernel = convgen::find_kernel(kPrefix + "gpu_dense3x3");
    convgen_test::check_concurrent_calls(kernel, {2, kernel.spec().in_channels, 19, 23}, 3, 3);
}

#if defined(CONVGEN_TEST_DEVICE_OPENCL)

namespace {

// A cl_mem in the context Halide's OpenCL runtime uses (the one the kernels run in).
class ClBuffer {
public:
    explicit ClBuffer(size_t floats) : bytes_(floats * sizeof(float)) {
        cl_command_queue queue = nullptr;
        REQUIRE(halide_acquire_cl_context(nullptr, &context_, &queue, true) == 0);
        cl_int status = CL_SUCCESS;
        mem_ = clCreateBuffer(context_, CL_MEM_READ_WRITE, bytes_, nullptr, &status);
        halide_release_cl_context(nullptr);
        REQUIRE(status == CL_SUCCESS);
    }
    ~ClBuffer() { clReleaseMemObject(mem_); }
    ClBuffer(const ClBuffer &) = delete;
    ClBuffer &operator=(const ClBuffer &) = delete;

    uint64_t handle() const { return reinterpret_cast<uint64_t>(mem_); }
    void write(const std::vector<float> &values) { transfer(const_cast<float *>(values.data()), true); }
    std::vector<float> read() {
        std::vector<float> values(bytes_ / sizeof(float));
        transfer(values.data(), false);
        return values;
    }

private:
    void transfer(float *host, bool to_device) {
        cl_command_queue queue = nullptr;
        REQUIRE(halide_acquire_cl_context(nullptr, &context_, &queue, true) == 0);
        const cl_int status = to_device ? clEnqueueWriteBuffer(queue, mem_, CL_TRUE, 0, bytes_, host, 0, nullptr, nullptr)
                                        : clEnqueueReadBuffer(queue, mem_, CL_TRUE, 0, bytes_, host, 0, nullptr, nullptr);
        halide_release_cl_context(nullptr);
        REQUIRE(status == CL_SUCCESS);
    }

    size_t bytes_;
    cl_context context_ = nullptr;
    cl_mem mem_ = nullptr;
};

}  // namespace

TEST_CASE("tensors in device memory are read and written in place") {
    SKIP_WITHOUT_DEVICE();
    // A Conv2d, and a pointwise one (its kernel reads the planes flattened).
    for (const char *name : {"gpu_dense3x3", "gpu_pointwise"}) {
        const convgen::Kernel &kernel = convgen::find_kernel(kPrefix + name);
        INFO(kernel.describe());
        const convgen::ConvSpec &s = kernel.spec();
        const convgen_test::RandomLayer random(kernel, 4);
        const convgen::Layer &layer = random.layer;
        const std::vector<int64_t> shape = {1, s.in_channels, 11, 17}, out_shape = s.output_shape(shape);
        const std::vector<float> input = convgen_test::random_values(convgen_test::numel(shape), 6);
        const convgen::Tensor expected = layer.forward(convgen::ConstTensorView(input.data(), shape));

        ClBuffer x(input.size()), y(convgen_test::numel(out_shape));
        x.write(input);
        y.write(std::vector<float>(convgen_test::numel(out_shape), -7.0f));
        layer.forward(convgen::DeviceTensorView{x.handle(), shape}, convgen::DeviceTensorView{y.handle(), out_shape});
        layer.synchronize();
        CHECK(y.read() == expected.values());
        CHECK(x.read() == input);  // the input is only read

        // Device memory is checked like host tensors before anything runs.
        REQUIRE_THROWS_AS(layer.forward(convgen::DeviceTensorView{x.handle(), shape},
                                        convgen::DeviceTensorView{y.handle(), shape}),
                          convgen::Error);
        REQUIRE_THROWS_AS(layer.forward(convgen::DeviceTensorView{0, shape}, convgen::DeviceTensorView{y.handle(), out_shape}),
                          convgen::Error);
    }
}

TEST_CASE("a CPU layer refuses device memory") {
    // Any linked CPU kernel would do: the golden ones are linked into this program too.
    const convgen::Kernel &kernel = convgen::find_kernel("golden_conv1d");
    const std::vector<float> weight(3, 1.0f);
    const convgen::Layer layer(kernel, convgen::ConstTensorView(weight.data(), kernel.spec().weight_shape()));
    REQUIRE_THROWS_WITH(layer.forward(convgen::DeviceTensorView{1, {1, 1, 8}}, convgen::DeviceTensorView{2, {1, 1, 6}}),
                        Catch::Contains("runs on the CPU"));
}

#endif

TEST_CASE("programs that link the runtime load CUDA kernels with more than Halide's 64 registers a thread") {
    // Set as the program starts unless the user set it (runtime/src/aot_kernel.cpp).
    const char *cap = std::getenv("HL_CUDA_JIT_MAX_REGISTERS");
    REQUIRE(cap != nullptr);
    CHECK(std::atoi(cap) > 64);
}
