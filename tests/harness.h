// Test helpers shared by the JIT and AOT suites: random data, running a kernel through
// the runtime's Layer, comparing with the reference, and the conformance case generator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "convgen/layer.h"
#include "reference.h"

namespace convgen_test {

using convgen_reference::numel;

using convgen_reference::random_values;

/// Runs the kernel through a Layer (the path users take) on the given data.
convgen::Tensor run_layer(const convgen::Kernel &kernel, const std::vector<int64_t> &input_shape,
                          const std::vector<float> &input, const std::vector<float> &weight,
                          const std::vector<float> &bias);

/// Runs the kernel on random input, weights and bias and REQUIREs every output value to
/// match reference_conv within float32 reassociation error.
void check_against_reference(const convgen::Kernel &kernel, const std::vector<int64_t> &input_shape,
                             uint32_t seed);
/// The same on the given input (NaN and infinities included: they must land where the
/// reference puts them).
void check_against_reference(const convgen::Kernel &kernel, const std::vector<int64_t> &input_shape,
                             const std::vector<float> &input, uint32_t seed);

/// A layer of the kernel with random weights (and bias), reproducible from the seed.
struct RandomLayer {
    std::vector<float> weight, bias;
    convgen::Layer layer;
    RandomLayer(const convgen::Kernel &kernel, uint32_t seed);
};

/// Runs one layer from `threads` threads at once, `repeats` calls each, on random input
/// of `input_shape`, and CHECKs that every result equals a single-threaded call's.
void check_concurrent_calls(const convgen::Kernel &kernel, const std::vector<int64_t> &input_shape, int threads,
                            int repeats);

/// Matches a convgen::Error with code ShapeMismatch whose message contains `needle`.
Catch::Matchers::Generic::PredicateMatcher<convgen::Error> shape_error_mentioning(const std::string &needle);

/// SPEC.md's golden examples 1-4 through the linked kernels named PREFIX + golden_*
/// (examples/golden_kernels.cmake).
void check_golden_kernels(const std::string &prefix);

/// Every linked kernel whose name starts with `prefix` against the reference, at several
/// input sizes (narrow ones included: a single output column, widths that are not a
/// multiple of a tile).
void check_linked_kernels(const std::string &prefix);

struct ConformanceCase {
    convgen::ConvSpec spec;
    std::vector<int64_t> input_shape;
};

/// `count` valid layers with fitting inputs, drawn from a fixed seed across kernel sizes
/// 1-7, strides 1-3, dilations 1-3, every padding mode, padding as int, tuple, 'same'
/// and 'valid', groups (depthwise and channel multipliers too), prime channel counts,
/// odd spatial sizes and batches up to 3.
std::vector<ConformanceCase> conformance_cases(int count, uint32_t seed);

}  // namespace convgen_test
