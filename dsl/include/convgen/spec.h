// convgen: what a convolution layer is (PyTorch's nn.Conv1d / nn.Conv2d), with no Halide.
//
// A ConvSpec is a plain value: every parameter of the PyTorch constructor plus a fused
// activation. It is parsed from PyTorch's printed form (parse_spec), printed back in that
// form (to_string), or built in C++ (Conv2d(64, 128, 3).padding(1).relu()).
// Shapes are in PyTorch's order everywhere in this header: (N, C, W) or (N, C, H, W).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "convgen/error.h"

namespace convgen {

enum class PaddingMode { Zeros, Reflect, Replicate, Circular };
enum class Activation { None, ReLU };
/// How the padding was written: numbers, or one of PyTorch's two strings.
enum class PaddingKind { Explicit, Same, Valid };

constexpr int kMaxSpatialDims = 2;

/// The parameters of one spatial axis with 'same'/'valid' resolved into explicit pads.
struct AxisParams {
    int kernel = 1;
    int stride = 1;
    int dilation = 1;
    int pad_begin = 0;  // elements read before index 0 (top / left)
    int pad_end = 0;    // elements read after the last index (bottom / right)

    /// dilation * (kernel - 1) + 1: how many input elements one output element spans.
    int dilated_extent() const { return dilation * (kernel - 1) + 1; }
    /// PyTorch's formula: floor((in + pads - dilated_extent) / stride) + 1; may be < 1.
    int64_t output_size(int64_t input_size) const;
};

struct ConvSpec {
    int dims = 2;  // 1: Conv1d, input (N, C, W); 2: Conv2d, input (N, C, H, W)
    int in_channels = 1;
    int out_channels = 1;
    // One entry per spatial axis in PyTorch's order ({H, W} for Conv2d, {W} for Conv1d);
    // entries past `dims` are unused and kept at their defaults.
    std::array<int, kMaxSpatialDims> kernel_size{1, 1};
    std::array<int, kMaxSpatialDims> stride{1, 1};
    std::array<int, kMaxSpatialDims> padding{0, 0};  // meaningful when padding_kind == Explicit
    std::array<int, kMaxSpatialDims> dilation{1, 1};
    PaddingKind padding_kind = PaddingKind::Explicit;
    int groups = 1;
    bool bias = true;
    PaddingMode padding_mode = PaddingMode::Zeros;
    Activation activation = Activation::None;

    /// Throws Error(InvalidSpec) for everything PyTorch's constructor refuses.
    void validate() const;

    /// "Conv1d" or "Conv2d".
    const char *layer_name() const { return dims == 1 ? "Conv1d" : "Conv2d"; }
    int in_channels_per_group() const { return in_channels / groups; }
    int out_channels_per_group() const { return out_channels / groups; }

    /// Axis i in PyTorch order (0 <= i < dims), 'same' resolved: the extra element of an
    /// odd total padding goes at the end, as PyTorch does.
    AxisParams axis(int i) const;
    /// The innermost spatial axis (W): Halide's x.
    AxisParams axis_x() const { return axis(dims - 1); }
    /// H for Conv2d; for Conv1d a trivial axis (kernel 1, stride 1, no padding): Halide's y.
    AxisParams axis_y() const { return dims == 2 ? axis(0) : AxisParams{}; }

    /// (C_out, C_in / groups, [kH,] kW).
    std::vector<int64_t> weight_shape() const;
    /// (C_out).
    std::vector<int64_t> bias_shape() const { return {out_channels}; }

    /// Checks an input shape against the layer and returns the output shape. Throws
    /// Error(ShapeMismatch) for a wrong rank or channel count, and the errors PyTorch
    /// raises at call time: an output size below 1, reflect padding not smaller than the
    /// input, circular padding larger than the input.
    std::vector<int64_t> output_shape(const std::vector<int64_t> &input_shape) const;

    /// Multiply-adds counted as 2 FLOPs: 2 * N * C_out * prod(out) * C_in/groups * prod(k).
    double flops(const std::vector<int64_t> &input_shape) const;

    friend bool operator==(const ConvSpec &a, const ConvSpec &b);
    friend bool operator!=(const ConvSpec &a, const ConvSpec &b) { return !(a == b); }
};

/// Whether a Conv2d is pointwise: a 1x1 kernel, stride 1 and no padding, so each output
/// pixel reads only the same input pixel and, over planes stored densely, the layer is a
/// Conv1d over the H*W pixels of each plane.
bool is_pointwise_conv2d(const ConvSpec &spec);

/// The layer a kernel is compiled for: `spec` itself, or for a pointwise Conv2d with at
/// most 256 input channels per group the Conv1d over flattened pixels that it equals
/// (Layer hands such a kernel (N, C, H*W) views).
/// Same weights (the packed layout does not depend on it), bias and activation.
ConvSpec kernel_spec(const ConvSpec &spec);

/// Parses PyTorch's printed form or the constructor-call form, optionally followed by
/// " -> ReLU()". Returns a validated spec. Throws Error(ParseError) for text that is not
/// a layer description and Error(InvalidSpec) for a layer PyTorch would refuse.
ConvSpec parse_spec(std::string_view text);

/// PyTorch's printed form: parse_spec(to_string(s)) == s, and for the printed form p of
/// any layer, to_string(parse_spec(p)) == p.
std::string to_string(const ConvSpec &spec);

const char *to_string(PaddingMode mode);  // "zeros", "reflect", "replicate", "circular"
const char *to_string(Activation act);    // "none", "relu"
/// Parses "zeros" | "reflect" | "replicate" | "circular"; throws Error(InvalidSpec).
PaddingMode parse_padding_mode(std::string_view text);

/// Fluent construction, named as PyTorch's keyword arguments:
///   ConvSpec s = Conv2d(3, 64, 7).stride(2).padding(3).bias(false).relu();
/// Converting to ConvSpec (or build()) validates.
class ConvBuilder {
public:
    ConvBuilder(int dims, int in_channels, int out_channels, std::initializer_list<int> kernel_size);

    ConvBuilder &stride(int s);
    ConvBuilder &stride(std::initializer_list<int> s);
    ConvBuilder &padding(int p);
    ConvBuilder &padding(std::initializer_list<int> p);
    ConvBuilder &padding(std::string_view same_or_valid);
    ConvBuilder &dilation(int d);
    ConvBuilder &dilation(std::initializer_list<int> d);
    ConvBuilder &groups(int g);
    ConvBuilder &bias(bool b);
    ConvBuilder &padding_mode(PaddingMode m);
    ConvBuilder &padding_mode(std::string_view m);
    ConvBuilder &relu();

    ConvSpec build() const;
    operator ConvSpec() const { return build(); }  // NOLINT: implicit by design

private:
    ConvSpec spec_;
};

ConvBuilder Conv1d(int in_channels, int out_channels, int kernel_size);
ConvBuilder Conv2d(int in_channels, int out_channels, int kernel_size);
ConvBuilder Conv2d(int in_channels, int out_channels, std::initializer_list<int> kernel_size);

/// "(1, 3, 224, 224)": shapes in messages.
std::string shape_to_string(const std::vector<int64_t> &shape);

}  // namespace convgen
