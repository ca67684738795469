// convgen: ConvSpec's rules (validation, shapes, FLOPs) and the fluent builder.
//
// Every rule here mirrors what PyTorch 1.13's nn.Conv1d / nn.Conv2d refuse, either in the
// constructor (validate) or when called on an input (output_shape).
#include "convgen/spec.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>

namespace convgen {
namespace {

using Axes = std::array<int, kMaxSpatialDims>;

// What an unused entry (index >= dims) of each per-axis field must hold.
constexpr int kDefaultKernel = 1;
constexpr int kDefaultStride = 1;
constexpr int kDefaultPadding = 0;
constexpr int kDefaultDilation = 1;

// The spatial axes in PyTorch's order, named as in the input shape (N, C, [H,] W).
const char *axis_name(int dims, int i) { return (dims == 2 && i == 0) ? "H" : "W"; }

// Python tuple syntax: "(3,)" for one entry, "(3, 2)" for two.
template <typename Int>
std::string python_tuple(const Int *values, size_t count) {
    std::ostringstream out;
    out << '(';
    for (size_t i = 0; i < count; ++i) {
        if (i > 0) out << ", ";
        out << values[i];
    }
    if (count == 1) out << ',';
    out << ')';
    return out.str();
}

// A per-axis field as messages show it: a Conv1d's single value bare ("0"), a Conv2d's as
// a tuple ("(-1, 1)").
std::string describe_axes(const Axes &values, int dims) {
    return dims == 1 ? std::to_string(values[0]) : python_tuple(values.data(), dims);
}

std::string prefixed(const ConvSpec &spec, const std::string &message) {
    return std::string(spec.layer_name()) + ": " + message;
}

[[noreturn]] void fail(ErrorCode code, const ConvSpec &spec, const std::string &message) {
    throw Error(code, prefixed(spec, message));
}

[[noreturn]] void invalid(const ConvSpec &spec, const std::string &message) {
    fail(ErrorCode::InvalidSpec, spec, message);
}

void require_positive(const ConvSpec &spec, const char *field, int value) {
    if (value < 1) {
        invalid(spec, std::string(field) + " must be >= 1, got " + std::to_string(value));
    }
}

// Checks the used entries of a per-axis field against a lower bound, and that the unused
// ones were left alone: a Conv1d whose kernel_size[1] is 3 was built by mistake.
void check_axes(const ConvSpec &spec, const char *field, const Axes &values, int minimum,
                int unused_default) {
    for (int i = 0; i < spec.dims; ++i) {
        if (values[i] < minimum) {
            invalid(spec, std::string(field) + " must be >= " + std::to_string(minimum) + ", got " +
                              describe_axes(values, spec.dims));
        }
    }
    for (int i = spec.dims; i < kMaxSpatialDims; ++i) {
        if (values[i] != unused_default) {
            invalid(spec, "internal inconsistency: " + std::string(field) + "[" +
                              std::to_string(i) + "] is " + std::to_string(values[i]) + " but a " +
                              spec.layer_name() + " uses only " + std::to_string(spec.dims) +
                              " spatial axis; unused entries must stay " +
                              std::to_string(unused_default));
        }
    }
}

// dilation * (kernel - 1), the total padding 'same' needs; in int64 because both factors
// may be up to INT_MAX.
int64_t dilated_span(int kernel, int dilation) { return int64_t{dilation} * (int64_t{kernel} - 1); }

// Floor division for a positive divisor; C++'s '/' truncates toward zero instead. In 128
// bits, so that sums of int64_t sizes and paddings cannot wrap.
__int128 floor_div(__int128 numerator, __int128 divisor) {
    __int128 quotient = numerator / divisor;
    if (numerator % divisor != 0 && numerator < 0) --quotient;
    return quotient;
}

// Sets the used entries of a per-axis field from a tuple, which must have one entry per axis.
void assign_axes(const ConvSpec &spec, const char *field, Axes &target,
                 std::initializer_list<int> values) {
    if (values.size() != static_cast<size_t>(spec.dims)) {
        invalid(spec, std::string(field) + " must have " + std::to_string(spec.dims) +
                          (spec.dims == 1 ? " entry" : " entries") + ", got " +
                          python_tuple(values.begin(), values.size()));
    }
    std::copy(values.begin(), values.end(), target.begin());
}

// A single int applies to every used axis, as PyTorch's _single/_pair do.
void broadcast_axes(const ConvSpec &spec, Axes &target, int value) {
    std::fill(target.begin(), target.begin() + spec.dims, value);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Names

const char *to_string(ErrorCode code) noexcept {
    switch (code) {
    case ErrorCode::InvalidSpec: return "InvalidSpec";
    case ErrorCode::ParseError: return "ParseError";
    case ErrorCode::ShapeMismatch: return "ShapeMismatch";
    case ErrorCode::IoError: return "IoError";
    case ErrorCode::RuntimeError: return "RuntimeError";
    case ErrorCode::NotFound: return "NotFound";
    }
    return "UnknownError";
}

const char *to_string(PaddingMode mode) {
    switch (mode) {
    case PaddingMode::Zeros: return "zeros";
    case PaddingMode::Reflect: return "reflect";
    case PaddingMode::Replicate: return "replicate";
    case PaddingMode::Circular: return "circular";
    }
    return "unknown";
}

const char *to_string(Activation act) {
    switch (act) {
    case Activation::None: return "none";
    case Activation::ReLU: return "relu";
    }
    return "unknown";
}

PaddingMode parse_padding_mode(std::string_view text) {
    for (PaddingMode mode : {PaddingMode::Zeros, PaddingMode::Reflect, PaddingMode::Replicate,
                             PaddingMode::Circular}) {
        if (text == to_string(mode)) return mode;
    }
    throw Error(ErrorCode::InvalidSpec,
                "padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', got '" +
                    std::string(text) + "'");
}

std::string shape_to_string(const std::vector<int64_t> &shape) {
    return python_tuple(shape.data(), shape.size());
}

// ---------------------------------------------------------------------------------------
// ConvSpec

void ConvSpec::validate() const {
    if (dims != 1 && dims != 2) {
        throw Error(ErrorCode::InvalidSpec,
                    "ConvSpec: dims must be 1 (Conv1d) or 2 (Conv2d), got " + std::to_string(dims));
    }
    require_positive(*this, "in_channels", in_channels);
    require_positive(*this, "out_channels", out_channels);
    require_positive(*this, "groups", groups);
    if (in_channels % groups != 0) {
        invalid(*this, "in_channels (" + std::to_string(in_channels) +
                           ") must be divisible by groups (" + std::to_string(groups) + ")");
    }
    if (out_channels % groups != 0) {
        invalid(*this, "out_channels (" + std::to_string(out_channels) +
                           ") must be divisible by groups (" + std::to_string(groups) + ")");
    }

    check_axes(*this, "kernel_size", kernel_size, 1, kDefaultKernel);
    check_axes(*this, "stride", stride, 1, kDefaultStride);
    check_axes(*this, "dilation", dilation, 1, kDefaultDilation);
    check_axes(*this, "padding", padding, 0, kDefaultPadding);

    // AxisParams works in int; a dilated extent past INT_MAX cannot be represented.
    for (int i = 0; i < dims; ++i) {
        const int64_t extent = dilated_span(kernel_size[i], dilation[i]) + 1;
        if (extent > std::numeric_limits<int>::max()) {
            invalid(*this, "kernel's dilated extent on " + std::string(axis_name(dims, i)) +
                               " (dilation " + std::to_string(dilation[i]) + " * (kernel_size " +
                               std::to_string(kernel_size[i]) + " - 1) + 1 = " +
                               std::to_string(extent) + ") does not fit in an int");
        }
    }

    switch (padding_kind) {
    case PaddingKind::Explicit:
    case PaddingKind::Valid: break;
    case PaddingKind::Same:
        for (int i = 0; i < dims; ++i) {
            if (stride[i] != 1) {
                invalid(*this,
                        "padding='same' is not supported for strided convolutions: stride on " +
                            std::string(axis_name(dims, i)) + " is " + std::to_string(stride[i]) +
                            " (stride=" + describe_axes(stride, dims) + "), it must be 1");
            }
        }
        break;
    default: invalid(*this, "internal inconsistency: unknown padding kind");
    }

    switch (padding_mode) {
    case PaddingMode::Zeros:
    case PaddingMode::Reflect:
    case PaddingMode::Replicate:
    case PaddingMode::Circular: break;
    default: invalid(*this, "internal inconsistency: unknown padding_mode");
    }
    switch (activation) {
    case Activation::None:
    case Activation::ReLU: break;
    default: invalid(*this, "internal inconsistency: unknown activation");
    }
}

int64_t AxisParams::output_size(int64_t input_size) const {
    if (stride < 1) {
        throw Error(ErrorCode::InvalidSpec,
                    "AxisParams: stride must be >= 1, got " + std::to_string(stride));
    }
    const int64_t extent = dilated_span(kernel, dilation) + 1;
    // An absurd input size must give an absurd output size (which callers refuse), not a
    // wrapped one.
    const __int128 size = floor_div(static_cast<__int128>(input_size) + pad_begin + pad_end - extent, stride) + 1;
    return size > std::numeric_limits<int64_t>::max() ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(size);
}

AxisParams ConvSpec::axis(int i) const {
    if (i < 0 || i >= dims || i >= kMaxSpatialDims) {
        invalid(*this, "axis index " + std::to_string(i) + " is out of range for " +
                           std::to_string(dims) + " spatial axes");
    }
    AxisParams axis;
    axis.kernel = kernel_size[i];
    axis.stride = stride[i];
    axis.dilation = dilation[i];
    switch (padding_kind) {
    case PaddingKind::Explicit: axis.pad_begin = axis.pad_end = padding[i]; break;
    case PaddingKind::Valid: break;
    case PaddingKind::Same: {
        // PyTorch puts the odd element of the total padding at the end (right / bottom).
        const int total = static_cast<int>(dilated_span(kernel_size[i], dilation[i]));
        axis.pad_begin = total / 2;
        axis.pad_end = total - axis.pad_begin;
        break;
    }
    }
    return axis;
}

std::vector<int64_t> ConvSpec::weight_shape() const {
    std::vector<int64_t> shape{out_channels, in_channels_per_group()};
    shape.insert(shape.end(), kernel_size.begin(), kernel_size.begin() + dims);
    return shape;
}

std::vector<int64_t> ConvSpec::output_shape(const std::vector<int64_t> &input_shape) const {
    validate();  // the checks below divide by stride and index the per-axis arrays
    const std::string shape_text = shape_to_string(input_shape);
    const size_t rank = static_cast<size_t>(dims) + 2;
    if (input_shape.size() != rank) {
        throw Error(ErrorCode::ShapeMismatch,
                    std::string(layer_name()) + " expects a " + std::to_string(rank) + "-D input " +
                        (dims == 1 ? "(N, C_in, W)" : "(N, C_in, H, W)") + ", got a " +
                        std::to_string(input_shape.size()) + "-D tensor " + shape_text);
    }
    if (input_shape[0] < 1) {
        fail(ErrorCode::ShapeMismatch, *this,
             "batch size N must be >= 1, got " + std::to_string(input_shape[0]) + " in input " +
                 shape_text);
    }
    if (input_shape[1] != in_channels) {
        fail(ErrorCode::ShapeMismatch, *this,
             "expected an input with in_channels = " + std::to_string(in_channels) +
                 " channels, got " + std::to_string(input_shape[1]) + " channels in input " +
                 shape_text);
    }

    std::vector<int64_t> output{input_shape[0], out_channels};
    for (int i = 0; i < dims; ++i) {
        const int64_t size = input_shape[2 + i];
        const std::string name = axis_name(dims, i);
        if (size < 1) {
            fail(ErrorCode::ShapeMismatch, *this,
                 "input size on " + name + " must be >= 1, got " + std::to_string(size) +
                     " in input " + shape_text);
        }
        const AxisParams a = axis(i);
        // The padding as the messages below show it; built only when one is thrown.
        const bool symmetric = a.pad_begin == a.pad_end;
        const auto pads_sum = [&] {  // "2*1" or "1 + 2", inside the output-size formula
            return symmetric ? "2*" + std::to_string(a.pad_begin)
                             : std::to_string(a.pad_begin) + " + " + std::to_string(a.pad_end);
        };
        const auto pads_desc = [&] {  // "padding 1" or "padding (1 before, 2 after)"
            return "padding " + (symmetric ? std::to_string(a.pad_begin)
                                           : "(" + std::to_string(a.pad_begin) + " before, " +
                                                 std::to_string(a.pad_end) + " after)");
        };

        // F.pad's limits, checked by PyTorch before the convolution itself.
        if (padding_mode == PaddingMode::Reflect && (a.pad_begin >= size || a.pad_end >= size)) {
            fail(ErrorCode::ShapeMismatch, *this,
                 "padding_mode=reflect needs padding < input size on each axis, got " +
                     pads_desc() + " on " + name + " for input size " + std::to_string(size) +
                     " (input " + shape_text + ")");
        }
        if (padding_mode == PaddingMode::Circular && (a.pad_begin > size || a.pad_end > size)) {
            fail(ErrorCode::ShapeMismatch, *this,
                 "padding_mode=circular needs padding <= input size on each axis, got " +
                     pads_desc() + " on " + name + " for input size " + std::to_string(size) +
                     " (input " + shape_text + ")");
        }

        const int64_t out = a.output_size(size);
        if (out < 1) {
            const int64_t padded = size + a.pad_begin + a.pad_end;
            fail(ErrorCode::ShapeMismatch, *this,
                 "kernel's dilated extent " + std::to_string(a.dilated_extent()) + " on " + name +
                     " (dilation " + std::to_string(a.dilation) + " * (kernel_size " +
                     std::to_string(a.kernel) + " - 1) + 1) is larger than the padded input " +
                     std::to_string(padded) + " (" + std::to_string(size) + " + " + pads_sum() +
                     "): output size floor((" + std::to_string(size) + " + " + pads_sum() + " - " +
                     std::to_string(a.dilated_extent()) + ") / " + std::to_string(a.stride) +
                     ") + 1 = " + std::to_string(out) + " must be >= 1 (input " + shape_text + ")");
        }
        output.push_back(out);
    }
    return output;
}

double ConvSpec::flops(const std::vector<int64_t> &input_shape) const {
    const std::vector<int64_t> out = output_shape(input_shape);
    // Output elements times the multiply-adds behind each; doubles, since the product of
    // large shapes overflows int64 long before it loses meaningful precision here.
    double result = 2.0;
    for (int64_t extent : out) result *= static_cast<double>(extent);
    result *= in_channels_per_group();
    for (int i = 0; i < dims; ++i) result *= kernel_size[i];
    return result;
}

bool is_pointwise_conv2d(const ConvSpec &spec) {
    if (spec.dims != 2) return false;
    for (int i = 0; i < 2; i++) {
        const AxisParams a = spec.axis(i);
        if (a.kernel != 1 || a.stride != 1 || a.pad_begin != 0 || a.pad_end != 0) return false;
    }
    return true;
}

ConvSpec kernel_spec(const ConvSpec &spec) {
    // Past 256 input channels per group a pointwise layer is better served as a Conv2d
    // (vectors across output channels: the long reduction pays for moving results out of
    // channel vectors, and the output channels split into parallel tasks); shorter ones
    // run faster as a Conv1d with vectors along the pixels (bench/RESULTS.md).
    if (!is_pointwise_conv2d(spec) || spec.in_channels_per_group() > 256) return spec;
    ConvSpec flat = spec;
    flat.dims = 1;
    flat.kernel_size = {1, kDefaultKernel};
    flat.stride = {1, kDefaultStride};
    flat.padding = {0, kDefaultPadding};
    flat.dilation = {1, kDefaultDilation};  // a 1-tap kernel spans one pixel at any dilation
    flat.padding_kind = PaddingKind::Explicit;
    flat.padding_mode = PaddingMode::Zeros;  // nothing is padded
    flat.validate();
    return flat;
}

bool operator==(const ConvSpec &a, const ConvSpec &b) {
    // The padding numbers only mean something for explicit padding; 'same' and 'valid'
    // layers are equal whatever is left in the array.
    const bool same_padding = a.padding_kind == b.padding_kind &&
                              (a.padding_kind != PaddingKind::Explicit || a.padding == b.padding);
    return a.dims == b.dims && a.in_channels == b.in_channels && a.out_channels == b.out_channels &&
           a.kernel_size == b.kernel_size && a.stride == b.stride && a.dilation == b.dilation &&
           same_padding && a.groups == b.groups && a.bias == b.bias &&
           a.padding_mode == b.padding_mode && a.activation == b.activation;
}

// ---------------------------------------------------------------------------------------
// ConvBuilder

ConvBuilder::ConvBuilder(int dims, int in_channels, int out_channels,
                         std::initializer_list<int> kernel_size) {
    // Checked here rather than in build(): the per-axis setters index by dims.
    if (dims != 1 && dims != 2) {
        throw Error(
            ErrorCode::InvalidSpec,
            "ConvBuilder: dims must be 1 (Conv1d) or 2 (Conv2d), got " + std::to_string(dims));
    }
    spec_.dims = dims;
    spec_.in_channels = in_channels;
    spec_.out_channels = out_channels;
    assign_axes(spec_, "kernel_size", spec_.kernel_size, kernel_size);
}

ConvBuilder &ConvBuilder::stride(int s) {
    broadcast_axes(spec_, spec_.stride, s);
    return *this;
}

ConvBuilder &ConvBuilder::stride(std::initializer_list<int> s) {
    assign_axes(spec_, "stride", spec_.stride, s);
    return *this;
}

ConvBuilder &ConvBuilder::padding(int p) {
    spec_.padding_kind = PaddingKind::Explicit;
    broadcast_axes(spec_, spec_.padding, p);
    return *this;
}

ConvBuilder &ConvBuilder::padding(std::initializer_list<int> p) {
    spec_.padding_kind = PaddingKind::Explicit;
    assign_axes(spec_, "padding", spec_.padding, p);
    return *this;
}

ConvBuilder &ConvBuilder::padding(std::string_view same_or_valid) {
    if (same_or_valid == "same") {
        spec_.padding_kind = PaddingKind::Same;
    } else if (same_or_valid == "valid") {
        spec_.padding_kind = PaddingKind::Valid;
    } else {
        invalid(spec_, "padding must be an int, a tuple, 'same' or 'valid', got '" +
                           std::string(same_or_valid) + "'");
    }
    // Keeps the spec identical to a parsed one, whose array stays at zero.
    spec_.padding.fill(kDefaultPadding);
    return *this;
}

ConvBuilder &ConvBuilder::dilation(int d) {
    broadcast_axes(spec_, spec_.dilation, d);
    return *this;
}

ConvBuilder &ConvBuilder::dilation(std::initializer_list<int> d) {
    assign_axes(spec_, "dilation", spec_.dilation, d);
    return *this;
}

ConvBuilder &ConvBuilder::groups(int g) {
    spec_.groups = g;
    return *this;
}

ConvBuilder &ConvBuilder::bias(bool b) {
    spec_.bias = b;
    return *this;
}

ConvBuilder &ConvBuilder::padding_mode(PaddingMode m) {
    spec_.padding_mode = m;
    return *this;
}

ConvBuilder &ConvBuilder::padding_mode(std::string_view m) {
    try {
        spec_.padding_mode = parse_padding_mode(m);
    } catch (const Error &e) {
        invalid(spec_, e.what());  // same message, naming the layer
    }
    return *this;
}

ConvBuilder &ConvBuilder::relu() {
    spec_.activation = Activation::ReLU;
    return *this;
}

ConvSpec ConvBuilder::build() const {
    spec_.validate();
    return spec_;
}

ConvBuilder Conv1d(int in_channels, int out_channels, int kernel_size) {
    return ConvBuilder(1, in_channels, out_channels, {kernel_size});
}

ConvBuilder Conv2d(int in_channels, int out_channels, int kernel_size) {
    return ConvBuilder(2, in_channels, out_channels, {kernel_size, kernel_size});
}

ConvBuilder Conv2d(int in_channels, int out_channels, std::initializer_list<int> kernel_size) {
    return ConvBuilder(2, in_channels, out_channels, kernel_size);
}

}  // namespace convgen
