// The libraries convgen_add_kernel() builds, used as a program would: through the runtime
// API, with no libHalide in the process. CTest runs this binary once per CPU variant
// (CONVGEN_MAX_CPU_ISA=avx512, avx2, sse41, baseline), so every compiled variant is checked.
#include <HalideRuntime.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <limits>
#include <thread>

#include "convgen/runtime.h"
#include "golden_groups.h"
#include "harness.h"

using convgen::parse_spec;

namespace {

int isa_rank(const std::string &isa) {
    return isa == "avx512" ? 3 : isa == "avx2" ? 2 : isa == "sse41" ? 1 : 0;
}

}  // namespace

TEST_CASE("the variant that runs respects CONVGEN_MAX_CPU_ISA", "[aot]") {
    const char *cap = std::getenv("CONVGEN_MAX_CPU_ISA");
    const std::string active = convgen::active_cpu_isa();
    INFO("cap " << (cap ? cap : "(none)") << ", active " << active);
    if (cap != nullptr) CHECK(isa_rank(active) <= isa_rank(cap));
    WARN("running the " << active << " variant of every kernel");
}

TEST_CASE("golden 1-4 through the linked kernels", "[aot][golden]") {
    convgen_test::check_golden_kernels("");
}

TEST_CASE("linked kernels match the reference on random data", "[aot][conformance]") {
    convgen_test::check_linked_kernels("aot_");
}

TEST_CASE("the registry finds linked kernels by name and says what it has", "[aot]") {
    const std::vector<std::string> names = convgen::kernel_names();
    CHECK(std::is_sorted(names.begin(), names.end()));
    CHECK(&convgen::find_kernel("golden_groups") == &convgen::kernels::golden_groups());
    CHECK(convgen::find_kernel("aot_stem").spec() ==
          parse_spec("Conv2d(3, 16, kernel_size=7, stride=2, padding=3, bias=False) -> ReLU()"));
    REQUIRE_THROWS_MATCHES(convgen::find_kernel("resnet_nope"), convgen::Error,
                           Catch::Predicate<convgen::Error>([](const convgen::Error &e) {
                               const std::string m = e.what();
                               return e.code() == convgen::ErrorCode::NotFound &&
                                      m.find("resnet_nope") != std::string::npos &&
                                      m.find("golden_conv1d") != std::string::npos;
                           }));
}

TEST_CASE("one layer called from several threads at once gives the same results", "[aot][threads]") {
    const convgen::Kernel &kernel = convgen::find_kernel("aot_conv1d_mix");
    convgen_test::check_concurrent_calls(kernel, {3, kernel.spec().in_channels, 500}, 4, 10);
}

TEST_CASE("the thread count is the user's to set", "[aot][threads]") {
    const convgen::Kernel &kernel = convgen::find_kernel("aot_stem");
    convgen::set_num_threads(1);
    convgen_test::check_against_reference(kernel, {1, 3, 64, 64}, 11);
    convgen::set_num_threads(2);
    convgen_test::check_against_reference(kernel, {1, 3, 64, 64}, 11);
    convgen::set_num_threads(0);
}

TEST_CASE("an unknown ISA name is refused", "[aot][errors]") {
    REQUIRE_THROWS_AS(convgen::set_max_cpu_isa("avx9000"), convgen::Error);
}

namespace {

// Tasks of the kernels' parallel loops, and how many ran on another thread than `caller`.
std::thread::id caller;
std::atomic<int> tasks{0}, tasks_elsewhere{0};

int counting_do_task(void *user_context, halide_task_t task, int index, uint8_t *closure) {
    tasks++;
    if (std::this_thread::get_id() != caller) tasks_elsewhere++;
    return halide_default_do_task(user_context, task, index, closure);
}

}  // namespace

TEST_CASE("one thread runs every task on the caller's thread, even after calls on two", "[aot]") {
    // Halide's pool, told to use one thread, let its workers that were still awake from
    // the two-thread calls take a fifth of the tasks.
    const convgen::Kernel &kernel = convgen::find_kernel("aot_channel_tiles");
    const convgen::ConvSpec &s = kernel.spec();
    const std::vector<float> weight(static_cast<size_t>(s.out_channels * s.in_channels * 9), 0.5f);
    const std::vector<float> bias(static_cast<size_t>(s.out_channels), 0.25f);
    const std::vector<float> input(static_cast<size_t>(s.in_channels * 64 * 96), 1.0f);
    const convgen::Layer layer(kernel, convgen::ConstTensorView(weight.data(), s.weight_shape()),
                               convgen::ConstTensorView(bias.data(), s.bias_shape()));
    const convgen::ConstTensorView x(input.data(), {1, s.in_channels, 64, 96});
    caller = std::this_thread::get_id();
    const halide_do_task_t previous_hook = halide_set_custom_do_task(counting_do_task);
    convgen::set_num_threads(2);
    for (int call = 0; call < 5; call++) layer.forward(x);
    convgen::set_num_threads(1);
    tasks = tasks_elsewhere = 0;
    for (int call = 0; call < 20; call++) layer.forward(x);
    CHECK(tasks > 0);
    CHECK(tasks_elsewhere == 0);
    convgen::set_num_threads(0);
    halide_set_custom_do_task(previous_hook);
    CHECK_THROWS_WITH(convgen::set_num_threads(-1), Catch::Contains("expected 0 (the default) or more threads"));
}

TEST_CASE("a layer called again on the same shape allocates no scratch memory", "[aot]") {
    // aot_channel_tiles materializes its padded input and a tile buffer per task. The
    // image is larger than any other test's, so the first call needs fresh blocks; on one
    // thread, after two calls the cache holds every block a call needs, so further calls
    // allocate nothing.
    convgen::set_num_threads(1);
    const convgen::Kernel &kernel = convgen::find_kernel("aot_channel_tiles");
    const convgen::ConvSpec &s = kernel.spec();
    const int64_t height = 200, width = 180;
    const std::vector<int64_t> shape = {1, s.in_channels, height, width};
    std::vector<float> weight = convgen_test::random_values(static_cast<size_t>(s.out_channels * s.in_channels * 9), 1);
    std::vector<float> bias = convgen_test::random_values(static_cast<size_t>(s.out_channels), 2);
    std::vector<float> input = convgen_test::random_values(static_cast<size_t>(s.in_channels * height * width), 3);
    const convgen::Layer layer(kernel, convgen::ConstTensorView(weight.data(), s.weight_shape()),
                               convgen::ConstTensorView(bias.data(), s.bias_shape()));
    const convgen::ConstTensorView x(input.data(), shape);

    const size_t before = convgen::scratch_allocations();
    const convgen::Tensor first = layer.forward(x);
    CHECK(convgen::scratch_allocations() > before);  // the kernel does use scratch memory
    layer.forward(x);
    const size_t warm = convgen::scratch_allocations();
    for (int call = 0; call < 5; call++) {
        const convgen::Tensor again = layer.forward(x);
        CHECK(again.values() == first.values());
    }
    CHECK(convgen::scratch_allocations() == warm);
    convgen::set_num_threads(0);
}

namespace {

// The aot_* kernels of tests/CMakeLists.txt: one per part of the schedule.
std::vector<const convgen::Kernel *> schedule_kernels() {
    std::vector<const convgen::Kernel *> kernels;
    for (const std::string &name : convgen::kernel_names())
        if (name.rfind("aot_", 0) == 0) kernels.push_back(&convgen::find_kernel(name));
    return kernels;
}

// An input shape that fits the kernel: a batch of 2, C_in channels, then 9 x 13 or 13.
std::vector<int64_t> small_input_shape(const convgen::ConvSpec &s) {
    return s.dims == 2 ? std::vector<int64_t>{2, s.in_channels, 9, 13} : std::vector<int64_t>{2, s.in_channels, 13};
}

// Strides, in NCHW (or NCL) order, of the same tensor stored channels-last: (N, H, W, C).
std::vector<int64_t> channels_last_strides(const std::vector<int64_t> &shape) {
    std::vector<int64_t> strides(shape.size());
    int64_t step = shape[1];
    strides[1] = 1;
    for (size_t d = shape.size() - 1; d >= 2; d--) {
        strides[d] = step;
        step *= shape[d];
    }
    strides[0] = step;
    return strides;
}

// Where each element of a dense (row-major) tensor lives in a view with these strides.
std::vector<int64_t> offsets_in(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides) {
    std::vector<int64_t> offsets(1, 0);
    for (size_t d = 0; d < shape.size(); d++) {
        std::vector<int64_t> next;
        for (int64_t outer : offsets)
            for (int64_t i = 0; i < shape[d]; i++) next.push_back(outer + i * strides[d]);
        offsets = std::move(next);
    }
    return offsets;
}

}  // namespace

TEST_CASE("NaN and infinities in the input land where the reference puts them, through every kernel", "[aot]") {
    // ReLU(NaN) is NaN, inf * w is +-inf, +inf and -inf meeting in one sum make NaN: as in
    // PyTorch. Padding copies them (reflect, circular); zero padding must stay zero.
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    for (const convgen::Kernel *kernel : schedule_kernels()) {
        INFO(kernel->describe());
        const std::vector<int64_t> shape = small_input_shape(kernel->spec());
        std::vector<float> input = convgen_test::random_values(convgen_test::numel(shape), 21);
        input[3] = nan;
        input[input.size() / 2] = inf;
        input[input.size() - 5] = -inf;
        convgen_test::check_against_reference(*kernel, shape, input, 22);
    }
}

TEST_CASE("channels-last and other strided tensors give what their dense copies give", "[aot][strided]") {
    for (const convgen::Kernel *kernel : schedule_kernels()) {
        INFO(kernel->describe());
        const convgen::ConvSpec &s = kernel->spec();
        const convgen_test::RandomLayer random(*kernel, 31);
        const std::vector<int64_t> shape = small_input_shape(s), out_shape = s.output_shape(shape);
        const std::vector<float> dense = convgen_test::random_values(convgen_test::numel(shape), 33);
        const convgen::Tensor expected = random.layer.forward(convgen::ConstTensorView(dense.data(), shape));

        // A channels-last input.
        const std::vector<int64_t> in_strides = channels_last_strides(shape), in_offsets = offsets_in(shape, in_strides);
        std::vector<float> input_nhwc(dense.size());
        for (size_t i = 0; i < dense.size(); i++) input_nhwc[in_offsets[i]] = dense[i];
        CHECK(random.layer.forward(convgen::ConstTensorView(input_nhwc.data(), shape, in_strides)).values() ==
              expected.values());

        // Into a channels-last output.
        const std::vector<int64_t> out_strides = channels_last_strides(out_shape), out_offsets = offsets_in(out_shape, out_strides);
        std::vector<float> output_nhwc(out_offsets.size(), -7.0f);
        random.layer.forward(convgen::ConstTensorView(dense.data(), shape),
                             convgen::TensorView(output_nhwc.data(), out_shape, out_strides));
        std::vector<float> gathered(out_offsets.size());
        for (size_t i = 0; i < gathered.size(); i++) gathered[i] = output_nhwc[out_offsets[i]];
        CHECK(gathered == expected.values());

        // Every other column of a twice-as-wide input: stride 2 along x.
        std::vector<int64_t> wide_shape = shape;
        wide_shape.back() *= 2;
        std::vector<float> wide(dense.size() * 2, std::numeric_limits<float>::quiet_NaN());
        for (size_t i = 0; i < dense.size(); i++) wide[2 * i] = dense[i];
        std::vector<int64_t> every_other = convgen::contiguous_strides(wide_shape);
        every_other.back() = 2;
        CHECK(random.layer.forward(convgen::ConstTensorView(wide.data(), shape, every_other)).values() == expected.values());
    }
}

TEST_CASE("tensors past 32-bit indexing, outputs that share memory and in-place calls are refused", "[aot][errors]") {
    const convgen::Kernel &kernel = convgen::find_kernel("aot_channel_tiles");  // Conv2d(12, 40, 3, stride=(2, 1), padding=1)
    const convgen_test::RandomLayer random(kernel, 41);
    const convgen::Layer &layer = random.layer;
    auto refuses = [](auto &&call, const std::string &needle) {
        REQUIRE_THROWS_MATCHES(call(), convgen::Error, convgen_test::shape_error_mentioning(needle));
    };
    // Nothing is read or written before the refusal: these views claim far more memory
    // than the 64 floats behind them.
    std::vector<float> small(64, 1.0f);
    const std::vector<float> untouched = small;

    // 12 x 14000 x 14000 input elements: past 2^31.
    refuses([&] { layer.forward(convgen::ConstTensorView(small.data(), {1, 12, 14000, 14000})); }, "2^31-1");
    // The input fits (12 x 11000 x 11000 < 2^31) but its output (40 x 5500 x 11000) does
    // not: refused before 9.7 GB of output are allocated.
    refuses([&] { layer.forward(convgen::ConstTensorView(small.data(), {1, 12, 11000, 11000})); }, "2^31-1");
    // Strides alone can overflow too.
    refuses([&] { layer.forward(convgen::ConstTensorView(small.data(), {1, 12, 4, 4}, {1, int64_t(1) << 29, 4, 1})); },
            "2^31-1");
    refuses([&] { layer.forward(convgen::ConstTensorView(small.data(), {1, 12, 4, 4}, {192, 16, -4, 1})); },
            "negative stride");

    std::vector<float> input = convgen_test::random_values(12 * 4 * 4, 42);
    const convgen::ConstTensorView x(input.data(), {1, 12, 4, 4});  // output (1, 40, 2, 4)
    refuses([&] { layer.forward(x, convgen::TensorView(small.data(), {1, 40, 2, 4}, {80, 0, 4, 1})); }, "share memory");
    refuses([&] { layer.forward(x, convgen::TensorView(small.data(), {1, 40, 2, 4}, {80, 1, 4, 1})); }, "share memory");
    // In place: the output starts inside the input.
    std::vector<float> buffer(12 * 4 * 4 + 40 * 2 * 4);
    refuses([&] {
        layer.forward(convgen::ConstTensorView(buffer.data(), {1, 12, 4, 4}),
                      convgen::TensorView(buffer.data() + 100, {1, 40, 2, 4}));
    }, "overlaps the input");
    CHECK(small == untouched);
    // Side by side in one buffer is fine.
    CHECK_NOTHROW(layer.forward(convgen::ConstTensorView(buffer.data(), {1, 12, 4, 4}),
                                convgen::TensorView(buffer.data() + 12 * 4 * 4, {1, 40, 2, 4})));
}
