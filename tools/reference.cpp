#include "reference.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace convgen_reference {

using convgen::ConvSpec;
using convgen::PaddingKind;
using convgen::PaddingMode;

namespace {

struct Axis {
    int64_t size, kernel, stride, dilation, pad_left, pad_right, out;
};

// One spatial axis straight from SPEC.md: 'same' pads dilation*(k-1) in total with the
// odd element on the right; out = floor((in + pads - dilation*(k-1) - 1) / stride) + 1.
Axis make_axis(const ConvSpec &s, int i, int64_t size) {
    Axis a{size, s.kernel_size[i], s.stride[i], s.dilation[i], 0, 0, 0};
    if (s.padding_kind == PaddingKind::Explicit) {
        a.pad_left = a.pad_right = s.padding[i];
    } else if (s.padding_kind == PaddingKind::Same) {
        const int64_t total = a.dilation * (a.kernel - 1);
        a.pad_left = total / 2;
        a.pad_right = total - a.pad_left;
    }
    const int64_t span = size + a.pad_left + a.pad_right - a.dilation * (a.kernel - 1) - 1;
    if (span < 0) throw std::invalid_argument("reference: kernel larger than padded input");
    a.out = span / a.stride + 1;
    return a;
}

// Where a padded coordinate reads from, or -1 for a zero. The table in SPEC.md:
// reflect mirrors without repeating the edge, replicate repeats it, circular wraps.
int64_t source_index(PaddingMode mode, int64_t i, int64_t size) {
    if (i >= 0 && i < size) return i;
    switch (mode) {
    case PaddingMode::Zeros: return -1;
    case PaddingMode::Reflect: return i < 0 ? -i : 2 * (size - 1) - i;
    case PaddingMode::Replicate: return i < 0 ? 0 : size - 1;
    case PaddingMode::Circular: return ((i % size) + size) % size;
    }
    return -1;
}

}  // namespace

ReferenceResult reference_conv(const ConvSpec &s, const std::vector<int64_t> &input_shape,
                               const std::vector<float> &input, const std::vector<float> &weight,
                               const std::vector<float> &bias) {
    const bool is_2d = s.dims == 2;
    const int64_t N = input_shape[0], C = input_shape[1];
    const Axis h = is_2d ? make_axis(s, 0, input_shape[2]) : Axis{1, 1, 1, 1, 0, 0, 1};
    const Axis w = make_axis(s, is_2d ? 1 : 0, input_shape.back());
    const int64_t cin_g = C / s.groups, cout_g = s.out_channels / s.groups;

    ReferenceResult r;
    r.shape = is_2d ? std::vector<int64_t>{N, s.out_channels, h.out, w.out}
                    : std::vector<int64_t>{N, s.out_channels, w.out};
    r.values.assign(static_cast<size_t>(N * s.out_channels * h.out * w.out), 0.0);
    r.magnitudes.assign(r.values.size(), 0.0);

    size_t o = 0;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t co = 0; co < s.out_channels; co++) {
            const int64_t g = co / cout_g;
            for (int64_t oy = 0; oy < h.out; oy++) {
                for (int64_t ox = 0; ox < w.out; ox++, o++) {
                    double sum = s.bias ? bias[co] : 0.0;
                    double magnitude = std::fabs(sum);
                    for (int64_t ci = 0; ci < cin_g; ci++) {
                        for (int64_t ky = 0; ky < h.kernel; ky++) {
                            const int64_t iy = source_index(s.padding_mode, oy * h.stride + ky * h.dilation - h.pad_left, h.size);
                            for (int64_t kx = 0; kx < w.kernel; kx++) {
                                const int64_t ix = source_index(s.padding_mode, ox * w.stride + kx * w.dilation - w.pad_left, w.size);
                                if (iy < 0 || ix < 0) continue;
                                const int64_t c_in = g * cin_g + ci;
                                const double x = input[static_cast<size_t>(((n * C + c_in) * h.size + iy) * w.size + ix)];
                                const double k = weight[static_cast<size_t>(((co * cin_g + ci) * h.kernel + ky) * w.kernel + kx)];
                                sum += k * x;
                                magnitude += std::fabs(k * x);
                            }
                        }
                    }
                    if (s.activation == convgen::Activation::ReLU && sum < 0) sum = 0;
                    r.values[o] = sum;
                    r.magnitudes[o] = magnitude;
                }
            }
        }
    }
    return r;
}

bool close_enough(float got, double ref, double magnitude) {
    if (std::isnan(ref)) return std::isnan(got);
    if (std::isinf(ref)) return static_cast<double>(got) == ref;
    // float32 sums of up to a few thousand terms, in any order: a few ulps of the
    // magnitude of the terms, plus an absolute floor for results near zero.
    return std::fabs(static_cast<double>(got) - ref) <= 1e-5 * magnitude + 1e-6;
}

Agreement compare_to_reference(const float *got, const ReferenceResult &ref) {
    Agreement a;
    for (size_t i = 0; i < ref.values.size(); i++) {
        if (!close_enough(got[i], ref.values[i], ref.magnitudes[i]) && a.mismatches++ == 0) a.first_mismatch = i;
        a.worst_error = std::max(a.worst_error, std::fabs(got[i] - ref.values[i]) / std::max(ref.magnitudes[i], 1e-30));
    }
    return a;
}

size_t numel(const std::vector<int64_t> &shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
}

std::vector<float> random_values(size_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> values(count);
    for (float &v : values) v = dist(rng);
    return values;
}

}  // namespace convgen_reference
