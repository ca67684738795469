// The libraries convgen_add_kernel() builds, used as a program would: through the runtime
// API, with no libHalide in the process. CTest runs this binary once per CPU variant
// (CONVGEN_MAX_CPU_ISA=avx512, avx2, sse41, baseline), so every compiled variant is checked.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <thread>

#include "convgen/runtime.h"
#include "golden_conv1d.h"
#include "golden_groups.h"
#include "golden_pad_circular.h"
#include "golden_pad_reflect.h"
#include "golden_pad_replicate.h"
#include "golden_pad_zeros.h"
#include "golden_stacked1.h"
#include "golden_stacked2.h"
#include "harness.h"
#include "spec_examples.h"

using convgen::parse_spec;
using convgen_test::run_layer;

namespace {

void require_values(const convgen::Tensor &out, const std::vector<float> &expected) {
    REQUIRE(out.numel() >= static_cast<int64_t>(expected.size()));
    for (size_t i = 0; i < expected.size(); i++) {
        INFO("output[" << i << "]");
        CHECK(out.data()[i] == Approx(expected[i]).margin(1e-5));
    }
}

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
    using namespace spec_examples;
    CHECK(convgen::kernels::golden_conv1d().spec() == parse_spec(kConv1dSpec));
    require_values(run_layer(convgen::kernels::golden_conv1d(), kConv1dInputShape, conv1d_input(), kConv1dWeight, {}),
                   kConv1dExpected);

    CHECK(convgen::kernels::golden_groups().spec() == parse_spec(kGroupsSpec));
    require_values(run_layer(convgen::kernels::golden_groups(), kGroupsInputShape, kGroupsInput, groups_weight(), {}),
                   kGroupsExpected);

    const convgen::Kernel *padding_kernels[] = {
        &convgen::kernels::golden_pad_zeros(), &convgen::kernels::golden_pad_reflect(),
        &convgen::kernels::golden_pad_replicate(), &convgen::kernels::golden_pad_circular()};
    for (size_t m = 0; m < kPaddingModes.size(); m++) {
        INFO("padding_mode=" << kPaddingModes[m].mode);
        CHECK(padding_kernels[m]->spec() == parse_spec(kPaddingModes[m].spec));
        const auto out = run_layer(*padding_kernels[m], kPaddingInputShape, padding_input(), kPaddingWeight, {});
        REQUIRE(out.shape() == std::vector<int64_t>{1, 1, 11, 11});
        require_values(out, kPaddingModes[m].first_row);
    }

    const auto out0 = run_layer(convgen::kernels::golden_stacked1(), kStackedInputShape, kStackedInput,
                                kStackedLayer1Weight, {});
    require_values(out0, kStackedLayer1Expected);
    const auto out1 = run_layer(convgen::kernels::golden_stacked2(), out0.shape(), out0.values(), kStackedLayer2Weight, {});
    REQUIRE(out1.shape() == std::vector<int64_t>{1, 4, 2, 2});
    require_values(out1, kStackedLayer2Expected);
}

TEST_CASE("linked kernels match the reference on random data", "[aot][conformance]") {
    // The aot_* kernels of tests/CMakeLists.txt, each at several input sizes, narrow
    // ones included (a single output column, widths that are not a multiple of a tile).
    for (const std::string &name : convgen::kernel_names()) {
        if (name.rfind("aot_", 0) != 0) continue;
        const convgen::Kernel &kernel = convgen::find_kernel(name);
        INFO(kernel.describe());
        const convgen::ConvSpec &s = kernel.spec();
        for (int64_t size : {6, 13, 40, 97}) {
            std::vector<int64_t> shape = {2, s.in_channels};
            for (int i = 0; i < s.dims; i++) shape.push_back(s.dims == 2 && i == 0 ? size / 2 + 5 : size);
            convgen_test::check_against_reference(kernel, shape, static_cast<uint32_t>(size));
        }
    }
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
    const convgen::ConvSpec &s = kernel.spec();
    const std::vector<float> weight = convgen_test::random_values(static_cast<size_t>(s.out_channels * s.in_channels_per_group() * s.kernel_size[0]), 7);
    const std::vector<float> bias = convgen_test::random_values(static_cast<size_t>(s.out_channels), 8);
    const convgen::Layer layer(kernel, convgen::ConstTensorView(weight.data(), s.weight_shape()),
                               convgen::ConstTensorView(bias.data(), {s.out_channels}));
    const std::vector<int64_t> shape = {3, s.in_channels, 500};
    const std::vector<float> input = convgen_test::random_values(static_cast<size_t>(3 * s.in_channels * 500), 9);
    const convgen::Tensor expected = layer.forward(convgen::ConstTensorView(input.data(), shape));

    std::vector<convgen::Tensor> results(4);
    std::vector<std::thread> threads;
    for (auto &result : results) {
        threads.emplace_back([&] {
            for (int repeat = 0; repeat < 10; repeat++) result = layer.forward(convgen::ConstTensorView(input.data(), shape));
        });
    }
    for (auto &t : threads) t.join();
    for (const auto &result : results) CHECK(result.values() == expected.values());
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
