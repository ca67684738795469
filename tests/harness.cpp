#include "harness.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include "convgen/runtime.h"
#include "spec_examples.h"

namespace convgen_test {

using convgen::ConvSpec;
using convgen_reference::close_enough;
using convgen_reference::reference_conv;
using convgen_reference::ReferenceResult;


convgen::Tensor run_layer(const convgen::Kernel &kernel, const std::vector<int64_t> &input_shape,
                          const std::vector<float> &input, const std::vector<float> &weight,
                          const std::vector<float> &bias) {
    const ConvSpec &spec = kernel.spec();
    std::optional<convgen::ConstTensorView> bias_view;
    if (spec.bias) bias_view = convgen::ConstTensorView(bias.data(), spec.bias_shape());
    const convgen::Layer layer(kernel, convgen::ConstTensorView(weight.data(), spec.weight_shape()), bias_view);
    return layer.forward(convgen::ConstTensorView(input.data(), input_shape));
}

namespace {

void require_values(const convgen::Tensor &out, const std::vector<float> &expected) {
    REQUIRE(out.numel() >= static_cast<int64_t>(expected.size()));
    for (size_t i = 0; i < expected.size(); i++) {
        INFO("output[" << i << "]");
        CHECK(out.data()[i] == Approx(expected[i]).margin(1e-5));
    }
}

}  // namespace

RandomLayer::RandomLayer(const convgen::Kernel &kernel, uint32_t seed)
    : weight(random_values(numel(kernel.spec().weight_shape()), seed)),
      bias(random_values(static_cast<size_t>(kernel.spec().out_channels), seed + 1)),
      layer(kernel, convgen::ConstTensorView(weight.data(), kernel.spec().weight_shape()),
            kernel.spec().bias
                ? std::optional<convgen::ConstTensorView>(convgen::ConstTensorView(bias.data(), kernel.spec().bias_shape()))
                : std::nullopt) {}

void check_concurrent_calls(const convgen::Kernel &kernel, const std::vector<int64_t> &input_shape, int threads,
                            int repeats) {
    const RandomLayer random(kernel, 7);
    const std::vector<float> input = random_values(numel(input_shape), 9);
    const convgen::ConstTensorView x(input.data(), input_shape);
    const convgen::Tensor expected = random.layer.forward(x);
    std::vector<convgen::Tensor> results(static_cast<size_t>(threads));
    std::vector<std::thread> workers;
    for (auto &result : results) {
        workers.emplace_back([&] {
            for (int repeat = 0; repeat < repeats; repeat++) result = random.layer.forward(x);
        });
    }
    for (auto &worker : workers) worker.join();
    for (const auto &result : results) CHECK(result.values() == expected.values());
}

Catch::Matchers::Generic::PredicateMatcher<convgen::Error> shape_error_mentioning(const std::string &needle) {
    return Catch::Predicate<convgen::Error>(
        [needle](const convgen::Error &e) {
            return e.code() == convgen::ErrorCode::ShapeMismatch && std::string(e.what()).find(needle) != std::string::npos;
        },
        "ShapeMismatch mentioning '" + needle + "'");
}

void check_golden_kernels(const std::string &prefix) {
    using namespace spec_examples;
    auto golden = [&](const char *name) -> const convgen::Kernel & { return convgen::find_kernel(prefix + name); };
    CHECK(golden("golden_conv1d").spec() == convgen::parse_spec(kConv1dSpec));
    require_values(run_layer(golden("golden_conv1d"), kConv1dInputShape, conv1d_input(), kConv1dWeight, {}),
                   kConv1dExpected);

    CHECK(golden("golden_groups").spec() == convgen::parse_spec(kGroupsSpec));
    require_values(run_layer(golden("golden_groups"), kGroupsInputShape, kGroupsInput, groups_weight(), {}),
                   kGroupsExpected);

    for (const auto &mode : kPaddingModes) {
        INFO("padding_mode=" << mode.mode);
        const convgen::Kernel &kernel = golden((std::string("golden_pad_") + mode.mode).c_str());
        CHECK(kernel.spec() == convgen::parse_spec(mode.spec));
        const auto out = run_layer(kernel, kPaddingInputShape, padding_input(), kPaddingWeight, {});
        REQUIRE(out.shape() == std::vector<int64_t>{1, 1, 11, 11});
        require_values(out, mode.first_row);
    }

    const auto out0 = run_layer(golden("golden_stacked1"), kStackedInputShape, kStackedInput, kStackedLayer1Weight, {});
    require_values(out0, kStackedLayer1Expected);
    const auto out1 = run_layer(golden("golden_stacked2"), out0.shape(), out0.values(), kStackedLayer2Weight, {});
    REQUIRE(out1.shape() == std::vector<int64_t>{1, 4, 2, 2});
    require_values(out1, kStackedLayer2Expected);
}

void check_linked_kernels(const std::string &prefix) {
    for (const std::string &name : convgen::kernel_names()) {
        if (name.rfind(prefix, 0) != 0) continue;
        const convgen::Kernel &kernel = convgen::find_kernel(name);
        INFO(kernel.describe());
        const ConvSpec &s = kernel.spec();
        for (int64_t size : {6, 13, 40, 97}) {
            std::vector<int64_t> shape = {2, s.in_channels};
            for (int i = 0; i < s.dims; i++) shape.push_back(s.dims == 2 && i == 0 ? size / 2 + 5 : size);
            check_against_reference(kernel, shape, static_cast<uint32_t>(size));
        }
    }
}

void check_against_reference(const convgen::Kernel &kernel, const std::vector<int64_t> &input_shape,
                             uint32_t seed) {
    check_against_reference(kernel, input_shape, random_values(numel(input_shape), seed), seed);
}

void check_against_reference(const convgen::Kernel &kernel, const std::vector<int64_t> &input_shape,
                             const std::vector<float> &input, uint32_t seed) {
    const ConvSpec &spec = kernel.spec();
    INFO("layer: " << convgen::to_string(spec) << "  input: " << convgen::shape_to_string(input_shape)
                   << "  seed: " << seed);
    const std::vector<float> weight = random_values(numel(spec.weight_shape()), seed + 1);
    const std::vector<float> bias = spec.bias ? random_values(spec.out_channels, seed + 2) : std::vector<float>{};

    const ReferenceResult ref = reference_conv(spec, input_shape, input, weight, bias);
    const convgen::Tensor out = run_layer(kernel, input_shape, input, weight, bias);
    REQUIRE(out.shape() == ref.shape);

    const convgen_reference::Agreement agreement = convgen_reference::compare_to_reference(out.data(), ref);
    const size_t mismatches = agreement.mismatches, first = agreement.first_mismatch;
    if (mismatches > 0) {
        INFO(mismatches << " of " << ref.values.size() << " outputs differ; first at flat index " << first
                        << ": got " << out.data()[first] << ", expected " << ref.values[first]);
        CHECK(mismatches == 0);
    }
}

std::vector<ConformanceCase> conformance_cases(int count, uint32_t seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto one_of = [&](std::initializer_list<int> values) { return *(values.begin() + pick(0, int(values.size()) - 1)); };

    std::vector<ConformanceCase> cases;
    while (static_cast<int>(cases.size()) < count) {
        ConvSpec s;
        s.dims = pick(1, 2);
        // Group structure: plain, grouped, depthwise, depthwise with a channel multiplier.
        const int shape_kind = pick(0, 3);
        const int in_per_group = shape_kind >= 2 ? 1 : one_of({1, 2, 3, 5, 7, 8, 13, 17});
        const int out_per_group = shape_kind == 2 ? 1 : one_of({1, 2, 3, 4, 5, 7, 8, 11, 16});
        s.groups = shape_kind == 0 ? 1 : one_of({2, 3, 4, 5});
        s.in_channels = in_per_group * s.groups;
        s.out_channels = out_per_group * s.groups;
        s.bias = pick(0, 1) == 1;
        s.activation = pick(0, 1) == 1 ? convgen::Activation::ReLU : convgen::Activation::None;
        s.padding_mode = static_cast<convgen::PaddingMode>(pick(0, 3));
        const int padding_style = pick(0, 5);  // 0-3 numbers, 4 'same', 5 'valid'
        s.padding_kind = padding_style == 4   ? convgen::PaddingKind::Same
                         : padding_style == 5 ? convgen::PaddingKind::Valid
                                              : convgen::PaddingKind::Explicit;
        const int tuple_padding = pick(0, 3);
        for (int i = 0; i < s.dims; i++) {
            s.kernel_size[i] = pick(1, 7);
            s.stride[i] = s.padding_kind == convgen::PaddingKind::Same ? 1 : pick(1, 3);
            s.dilation[i] = pick(0, 2) == 0 ? pick(2, 3) : 1;
            if (s.padding_kind == convgen::PaddingKind::Explicit) {
                s.padding[i] = (i == 0 || tuple_padding == 0) ? pick(0, 3) : s.padding[0];
            }
        }
        if (tuple_padding == 0 && s.padding_kind == convgen::PaddingKind::Explicit) s.padding[s.dims - 1] = pick(0, 3);

        // An input that fits: the padded input covers the dilated kernel, and every pad
        // is smaller than the input (reflect's rule, the strictest).
        std::vector<int64_t> input_shape = {pick(1, 3), s.in_channels};
        for (int i = 0; i < s.dims; i++) {
            const convgen::AxisParams a = s.axis(i);
            const int smallest = std::max({1, a.dilated_extent() - a.pad_begin - a.pad_end,
                                           std::max(a.pad_begin, a.pad_end) + 1});
            const int extra = s.dims == 1 ? pick(0, 40) : pick(0, 9);
            input_shape.push_back(smallest + extra);
        }
        cases.push_back({s, input_shape});
    }
    return cases;
}

}  // namespace convgen_test
