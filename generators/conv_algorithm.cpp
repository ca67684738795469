// The one definition of a convolution layer. Schedules are in schedule_*.cpp.
#include "conv_pipeline.h"

namespace convgen {

using namespace Halide;

ConvInputs make_conv_inputs(const ConvSpec &spec) {
    ConvInputs in;
    in.input = ImageParam(Float(32), spec.dims + 2, "input");
    in.weight = ImageParam(Float(32), spec.dims + 2, "weight");
    if (spec.bias) in.bias = ImageParam(Float(32), 1, "bias");
    return in;
}

namespace {

// PyTorch's padding modes are Halide's boundary conditions (checked against PyTorch in
// SPEC.md's golden example 3). Halide keeps folding where PyTorch refuses (reflect
// padding >= the input size), so the runtime validates shapes before any call.
Func apply_padding_mode(PaddingMode mode, const Func &f, const Region &bounds) {
    switch (mode) {
    case PaddingMode::Zeros: return BoundaryConditions::constant_exterior(f, 0.0f, bounds);
    case PaddingMode::Reflect: return BoundaryConditions::mirror_interior(f, bounds);
    case PaddingMode::Replicate: return BoundaryConditions::repeat_edge(f, bounds);
    case PaddingMode::Circular: return BoundaryConditions::repeat_image(f, bounds);
    }
    throw Error(ErrorCode::InvalidSpec, "unknown padding mode");
}

// What is fixed at build time, stated so that Halide folds it into addressing and
// bounds: the channel counts, and the weight's dense PyTorch layout (the runtime always
// hands over its own contiguous copy). Spatial sizes and batch stay free.
void declare_known_layout(const ConvSpec &spec, const ConvInputs &in, Func &output) {
    const int channel_dim = spec.dims;  // Halide order: x, [y,] c, n
    in.input.dim(0).set_min(0);
    in.input.dim(channel_dim).set_bounds(0, spec.in_channels);
    output.output_buffer().dim(0).set_min(0);
    output.output_buffer().dim(channel_dim).set_bounds(0, spec.out_channels);

    const std::vector<int64_t> weight_shape = spec.weight_shape();  // PyTorch order
    int stride = 1;
    for (int d = 0; d < spec.dims + 2; d++) {
        const int extent = static_cast<int>(weight_shape[weight_shape.size() - 1 - d]);
        in.weight.dim(d).set_bounds(0, extent).set_stride(stride);
        stride *= extent;
    }
    if (spec.bias) in.bias.dim(0).set_bounds(0, spec.out_channels).set_stride(1);
}

}  // namespace

ConvPipeline define_conv(const ConvSpec &spec, const ConvInputs &in) {
    spec.validate();
    ConvPipeline p;
    p.spec = spec;
    const Var &x = p.x, &y = p.y, &c = p.c, &n = p.n;
    const bool is_2d = spec.dims == 2;
    const AxisParams ax = spec.axis_x(), ay = spec.axis_y();

    // The input seen as 2-D with a trivial y for Conv1d, then padded as PyTorch pads it.
    Func input_2d("input_2d");
    input_2d(x, y, c, n) = is_2d ? in.input(x, y, c, n) : in.input(x, c, n);
    const Region spatial_bounds = {
        Range(0, in.input.dim(0).extent()),
        is_2d ? Range(0, in.input.dim(1).extent()) : Range(),  // undefined: not padded
        Range(), Range()};
    p.padded(x, y, c, n) = apply_padding_mode(spec.padding_mode, input_2d, spatial_bounds)(x, y, c, n);

    Func weight_2d("weight_2d");  // weight_2d(kx, ky, ci_g, co)
    Var kx("kx"), ky("ky"), ci("ci"), co("co");
    weight_2d(kx, ky, ci, co) = is_2d ? in.weight(kx, ky, ci, co) : in.weight(kx, ci, co);

    // Output channel c of group g = c / (C_out/groups) reads input channels
    // g*(C_in/groups) .. (g+1)*(C_in/groups)-1.
    const int in_per_group = spec.in_channels_per_group();
    p.r = RDom(0, ax.kernel, 0, ay.kernel, 0, in_per_group, "r");
    const RDom &r = p.r;
    const Expr input_channel =
        spec.groups == 1 ? Expr(r.z) : (c / spec.out_channels_per_group()) * in_per_group + r.z;
    const Expr iy = y * ay.stride + r.y * ay.dilation - ay.pad_begin;
    Expr tap;  // the input value that weight (r.x, r.y, r.z) multiplies for output (x, y, c, n)
    if (ax.stride == 1) {
        p.conv_input = p.padded;
        tap = p.padded(x + r.x * ax.dilation - ax.pad_begin, iy, input_channel, n);
    } else {
        // Column x*s + o, with o = kx*dilation - pad, is column x + floor(o/s) of phase o mod s
        // (Halide's integer / and % round toward -infinity): the same value, read densely.
        Var u("u"), phase("phase");
        p.phases(u, phase, y, c, n) = p.padded(u * ax.stride + phase, y, c, n);
        p.conv_input = p.phases;
        const Expr offset = r.x * ax.dilation - ax.pad_begin;
        tap = p.phases(x + offset / ax.stride, offset % ax.stride, iy, input_channel, n);
    }

    p.conv(x, y, c, n) = spec.bias ? in.bias(c) : 0.0f;
    p.conv(x, y, c, n) += weight_2d(r.x, r.y, r.z, c) * tap;

    Expr result = is_2d ? p.conv(x, y, c, n) : p.conv(x, 0, c, n);
    // ReLU(NaN) is NaN in PyTorch, but x86's max(NaN, 0) is 0 (and Halide simplifies a
    // plain select into that max), so NaN is passed through explicitly.
    if (spec.activation == Activation::ReLU) result = select(is_nan(result), result, max(result, 0.0f));
    if (is_2d) {
        p.output(x, y, c, n) = result;
    } else {
        p.output(x, c, n) = result;
    }

    declare_known_layout(spec, in, p.output);
    return p;
}

}  // namespace convgen
