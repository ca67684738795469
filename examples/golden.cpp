// SPEC.md's five golden examples, computed by kernels that convgen_add_kernel() built
// (examples/golden_kernels.cmake), printed beside the numbers PyTorch gives.
#include <cmath>
#include <cstdio>
#include <string>

#include "convgen/runtime.h"
#include "golden_conv1d.h"
#include "golden_groups.h"
#include "golden_pad_circular.h"
#include "golden_pad_reflect.h"
#include "golden_pad_replicate.h"
#include "golden_pad_zeros.h"
#include "golden_stacked1.h"
#include "golden_stacked2.h"
#include "spec_examples.h"

namespace {

// Runs one layer with no bias.
convgen::Tensor run(const convgen::Kernel &kernel, const std::vector<int64_t> &input_shape,
                    const std::vector<float> &input, const std::vector<float> &weight) {
    const convgen::Layer layer(kernel, convgen::ConstTensorView(weight.data(), kernel.spec().weight_shape()));
    return layer.forward(convgen::ConstTensorView(input.data(), input_shape));
}

// Prints `count` values from `first`, then the expected ones; returns whether they agree.
bool show(const char *label, const float *got, const std::vector<float> &expected) {
    bool same = true;
    std::printf("  %-10s", label);
    for (size_t i = 0; i < expected.size(); i++) {
        std::printf(" %g", got[i] + 0.0f);  // + 0 prints -0 as 0
        same = same && std::abs(got[i] - expected[i]) <= 1e-5f;
    }
    std::printf("%s\n", same ? "" : "   <-- differs from PyTorch");
    if (!same) {
        std::printf("  %-10s", "PyTorch");
        for (float v : expected) std::printf(" %g", v);
        std::printf("\n");
    }
    return same;
}

}  // namespace

int main() {
    using namespace spec_examples;
    bool ok = true;

    std::printf("1. %s on 0..15 with weight [0.1, 0.2, 0.3]\n", kConv1dSpec);
    convgen::Tensor y = run(convgen::kernels::golden_conv1d(), kConv1dInputShape, conv1d_input(), kConv1dWeight);
    ok &= show("output", y.data(), kConv1dExpected);

    std::printf("2. %s on ones, weight 1..16\n", kGroupsSpec);
    y = run(convgen::kernels::golden_groups(), kGroupsInputShape, kGroupsInput, groups_weight());
    ok &= show("output", y.data(), kGroupsExpected);

    std::printf("3. padding 3 around 0..24 as 5x5: first output row per padding_mode\n");
    const convgen::Kernel *kernels[] = {&convgen::kernels::golden_pad_zeros(), &convgen::kernels::golden_pad_reflect(),
                                        &convgen::kernels::golden_pad_replicate(), &convgen::kernels::golden_pad_circular()};
    for (size_t m = 0; m < kPaddingModes.size(); m++) {
        y = run(*kernels[m], kPaddingInputShape, padding_input(), kPaddingWeight);
        ok &= show(kPaddingModes[m].mode, y.data(), kPaddingModes[m].first_row);
    }

    std::printf("4. two stacked layers, kernel 2, stride 2\n");
    const convgen::Tensor out0 = run(convgen::kernels::golden_stacked1(), kStackedInputShape, kStackedInput, kStackedLayer1Weight);
    ok &= show("output0", out0.data(), kStackedLayer1Expected);
    y = run(convgen::kernels::golden_stacked2(), out0.shape(), out0.values(), kStackedLayer2Weight);
    ok &= show("output1", y.data(), kStackedLayer2Expected);

    std::printf("5. output shapes\n");
    for (const ShapeExample &example : kShapes) {
        const std::vector<int64_t> shape = convgen::parse_spec(example.spec).output_shape(example.input_shape);
        const bool same = shape == example.output_shape;
        ok &= same;
        std::printf("  %-32s on %-16s -> %s%s\n", example.spec, convgen::shape_to_string(example.input_shape).c_str(),
                    convgen::shape_to_string(shape).c_str(), same ? "" : "   <-- differs from PyTorch");
    }

    std::printf("%s\n", ok ? "All five examples match PyTorch." : "MISMATCH: see the marked lines.");
    return ok ? 0 : 1;
}
