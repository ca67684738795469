// libFuzzer harness: the spec parser (convgen::parse_spec) and the shape arithmetic of
// the specs it accepts.
//
// Any text must give a valid ConvSpec or a convgen::Error; any other exception escapes
// and libFuzzer reports it. For a spec that parses, the properties spec.h documents are
// checked: parse_spec(to_string(s)) == s and the printed form is a fixed point; then
// output_shape, flops, the packed weight shape and kernel_spec run on a few input sizes
// derived from the spec (near the kernel's extent, where off-by-ones live, and large).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "convgen/spec.h"
#include "convgen/weight_layout.h"
#include "fuzz_support.h"

using convgen::fuzz::fuzz_require;

namespace {

using Shape = std::vector<int64_t>;

// Input sizes worth trying on an axis: tiny ones, those around the dilated kernel extent
// (the smallest input with an output) and around the padding (reflect and circular
// padding limits), and a large one that still leaves int64 arithmetic far from overflow.
std::vector<int64_t> sizes_for(const convgen::AxisParams &a) {
    const int64_t pad_begin = a.pad_begin, pad_end = a.pad_end;  // int64: pads may be INT_MAX
    const int64_t smallest = int64_t{a.dilated_extent()} - pad_begin - pad_end;  // with an output
    std::vector<int64_t> sizes{1, 2, 3, 7, smallest - 1, smallest, smallest + 1, pad_begin, pad_end + 1};
    sizes.push_back(int64_t{1} << 40);
    sizes.erase(std::remove_if(sizes.begin(), sizes.end(), [](int64_t s) { return s < 1; }), sizes.end());
    return sizes;
}

// The packed weight shape, or empty where packing refuses the layer (more output
// channels than the padded layout can count): a clear InvalidSpec, never anything else.
std::vector<int64_t> packed_shape(const convgen::ConvSpec &spec) {
    try {
        return convgen::packed_weight_shape(spec);
    } catch (const convgen::Error &e) {
        fuzz_require(e.code() == convgen::ErrorCode::InvalidSpec,
                     std::string("packed_weight_shape threw ") + convgen::to_string(e.code()) + ": " + e.what());
        return {};
    }
}

// output_shape on (N, C_in, [H,] W) for the sizes above (the same size on every axis
// of a Conv2d, and the first and last sizes crossed); checks what spec.h promises of
// the result.
void check_shapes(const convgen::ConvSpec &spec) {
    std::vector<Shape> inputs;
    const std::vector<int64_t> sizes = sizes_for(spec.axis_x());
    for (int64_t size : sizes) {
        Shape input{2, spec.in_channels, size};
        if (spec.dims == 2) input.insert(input.begin() + 2, size);
        inputs.push_back(input);
    }
    if (spec.dims == 2) inputs.push_back({1, spec.in_channels, sizes.front(), sizes.back()});

    for (const Shape &input : inputs) {
        Shape output;
        try {
            output = spec.output_shape(input);
        } catch (const convgen::Error &e) {
            fuzz_require(e.code() == convgen::ErrorCode::ShapeMismatch,
                         std::string("output_shape threw a non-ShapeMismatch error: ") + e.what());
            continue;
        }
        const std::string what = to_string(spec) + " on " + convgen::shape_to_string(input) + " -> " +
                                 convgen::shape_to_string(output);
        fuzz_require(output.size() == input.size() && output[0] == input[0] && output[1] == spec.out_channels,
                     "output_shape: wrong rank, batch or channels: " + what);
        for (size_t d = 2; d < output.size(); ++d) {
            fuzz_require(output[d] >= 1, "output_shape returned an empty axis: " + what);
            // No spatial axis can grow by more than its padding.
            const convgen::AxisParams a = spec.axis(static_cast<int>(d) - 2);
            fuzz_require(output[d] <= input[d] + a.pad_begin + a.pad_end, "output larger than padded input: " + what);
        }
        const double flops = spec.flops(input);
        fuzz_require(std::isfinite(flops) && flops > 0, "flops not positive: " + what);
        if (convgen::is_pointwise_conv2d(spec)) {
            fuzz_require(output[2] == input[2] && output[3] == input[3], "pointwise layer changed H or W: " + what);
        }
    }
    // Exercised for their own arithmetic: calling them on any valid spec must be safe.
    (void)spec.weight_shape();
    (void)packed_shape(spec);
}

// kernel_spec: spec itself, or for a short pointwise Conv2d the Conv1d over flattened
// pixels, with the same weights (and so the same packed weight shape).
void check_kernel_spec(const convgen::ConvSpec &spec) {
    const convgen::ConvSpec kernel = convgen::kernel_spec(spec);
    if (kernel == spec) return;
    fuzz_require(convgen::is_pointwise_conv2d(spec) && kernel.dims == 1,
                 "kernel_spec changed a layer it should not: " + to_string(spec) + " -> " + to_string(kernel));
    fuzz_require(packed_shape(kernel) == packed_shape(spec) &&
                     kernel.bias == spec.bias && kernel.activation == spec.activation,
                 "kernel_spec changed the weights, bias or activation: " + to_string(spec) + " -> " +
                     to_string(kernel));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    convgen::ConvSpec spec;
    try {
        spec = convgen::parse_spec(text);
    } catch (const convgen::Error &e) {
        fuzz_require(e.code() == convgen::ErrorCode::ParseError || e.code() == convgen::ErrorCode::InvalidSpec,
                     std::string("parse_spec threw an error of code ") + convgen::to_string(e.code()) + ": " +
                         e.what());
        return 0;
    }

    // parse_spec validates: what it returns must pass validate() again.
    spec.validate();
    const std::string printed = convgen::to_string(spec);
    convgen::ConvSpec reparsed;
    try {
        reparsed = convgen::parse_spec(printed);
    } catch (const convgen::Error &e) {
        fuzz_require(false, "to_string gave text parse_spec refuses: \"" + printed + "\": " + e.what());
    }
    fuzz_require(reparsed == spec, "parse_spec(to_string(s)) != s for \"" + printed + "\"");
    fuzz_require(convgen::to_string(reparsed) == printed, "printed form is not a fixed point: \"" + printed + "\"");

    check_kernel_spec(spec);
    check_shapes(spec);
    return 0;
}
