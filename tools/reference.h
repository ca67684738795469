// An independent reference for convolution: a direct loop in double precision over
// PyTorch-layout arrays, written from SPEC.md's definitions and sharing no code with the
// Halide algorithm (it reads only the spec's plain fields, not its derived helpers).
#pragma once

#include <cstdint>
#include <vector>

#include "convgen/spec.h"

namespace convgen_reference {

struct ReferenceResult {
    std::vector<int64_t> shape;      // (N, C_out, [H_out,] W_out)
    std::vector<double> values;      // the exact-as-double result
    std::vector<double> magnitudes;  // sum of |w * x| (+ |bias|) per output: scales the tolerance
};

/// Computes the layer on `input` (shape `input_shape`) with `weight` and `bias` (empty
/// when the layer has none), each contiguous in PyTorch layout.
ReferenceResult reference_conv(const convgen::ConvSpec &spec, const std::vector<int64_t> &input_shape,
                               const std::vector<float> &input, const std::vector<float> &weight,
                               const std::vector<float> &bias);

/// |got - ref| within float32 reassociation error for a sum of this magnitude.
bool close_enough(float got, double ref, double magnitude);

/// How a computed output (contiguous, `ref.values.size()` floats) agrees with the reference.
struct Agreement {
    size_t mismatches = 0;      // outputs not close_enough
    size_t first_mismatch = 0;  // the flat index of the first, when there is one
    double worst_error = 0;     // the largest |got - ref| / magnitude
};
Agreement compare_to_reference(const float *got, const ReferenceResult &ref);

/// The number of elements of a shape.
size_t numel(const std::vector<int64_t> &shape);

/// Values uniform in [-1, 1), reproducible from the seed: the data every check and
/// benchmark runs on.
std::vector<float> random_values(size_t count, uint32_t seed);

}  // namespace convgen_reference
