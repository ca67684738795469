// libFuzzer harness: the runtime's checks on user tensors (runtime/src/layer.cpp).
//
// Layer's constructor and forward() check every tensor view (shapes, strides, null data,
// spans that 32-bit indexing cannot reach, outputs that share memory) before any
// generated code runs, then hand the kernel halide_buffer_t's over the caller's memory or
// over Layer's own copies. Here the kernel is a fake that reads every element of its
// input, weight and bias buffers and writes every element of its output buffer, by the
// buffers' own dims, so under AddressSanitizer a buffer that reaches past the memory
// behind it is reported.
//
// Each input decodes into a layer (a spec from a fixed list covering the code paths, or
// spec text from the fuzzer), then weight, bias, input and output views: shapes that fit
// the layer or are changed, contiguous or strided layouts, some with absurd extents or
// strides, sometimes input and output in one allocation. A caller's buffer is exactly
// the elements its view addresses. What is checked (README, Runtime API):
//   - Layer() and forward() return or throw convgen::Error(ShapeMismatch), nothing else;
//   - refused before the kernel runs: a view with null data, a negative extent or stride,
//     or spanning more than 2^31-1 elements (such views get a one-element buffer, so a
//     read through them is caught too), an output with two elements at one address, an
//     output overlapping the input, and from forward(input) an output that would span
//     more than 2^31-1 elements;
//   - accepted: views that fit the layer and are none of the above (with strides below
//     2^31 and outputs laid out without interleaving: contiguous, padded or permuted);
//   - after forward(): the output has the shape output_shape() gives, the kernel ran
//     once, every output element was written and the input was left alone.
#include <HalideRuntime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convgen/layer.h"
#include "fuzz_support.h"

using convgen::fuzz::fuzz_require;
using convgen::fuzz::FuzzInput;

namespace {

using Shape = std::vector<int64_t>;

constexpr int64_t kMaxSpan = std::numeric_limits<int32_t>::max();  // Layer refuses views past it
constexpr int64_t kMaxBuffer = int64_t{1} << 20;  // elements a buffer (the caller's or Layer's) may have here
constexpr int64_t kMaxWalk = int64_t{1} << 16;    // past this, reads visit only corners
constexpr float kInputValue = 1.0f, kWeightValue = 0.5f, kWritten = 42.0f;

// Layers covering Layer's paths: Conv1d and Conv2d, bias or not, groups (depthwise
// too), every padding mode, 'same' and 'valid', dilation, large strides, and pointwise
// Conv2d, which runs as a Conv1d over flattened planes (through copies when the planes
// are not dense) up to 256 input channels per group and as itself beyond.
const char *const kSpecs[] = {
    "Conv2d(3, 4, 3, padding=1)",
    "Conv1d(3, 4, 3)",
    "Conv1d(4, 2, 3, stride=2, padding=1, dilation=2, groups=2, bias=False, padding_mode='reflect') -> ReLU()",
    "Conv2d(4, 4, 3, padding='same', groups=4, bias=False, padding_mode='circular')",
    "Conv2d(2, 6, (3, 2), stride=(2, 1), padding=(1, 0), padding_mode='replicate') -> ReLU()",
    "Conv2d(4, 8, 1, groups=2)",
    "Conv2d(3, 5, 1, bias=False) -> ReLU()",
    "Conv2d(260, 2, 1, bias=False)",
    "Conv2d(2, 2, 2, stride=2, padding='valid', dilation=(1, 2))",
    "Conv1d(2, 3, 1, padding='valid')",
    "Conv2d(2, 2, 1, stride=(1, 65536))",
};
constexpr size_t kSpecCount = sizeof(kSpecs) / sizeof(kSpecs[0]);

// Extents and strides at and past the limits Layer checks.
constexpr int64_t kOddValues[] = {
    0,         -1, 2, 3, int64_t{1} << 16, kMaxSpan, kMaxSpan + 1, int64_t{1} << 32, (int64_t{1} << 32) + 1,
    int64_t{1} << 40, int64_t{1} << 62, std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
};
constexpr size_t kOddCount = sizeof(kOddValues) / sizeof(kOddValues[0]);

// a * b and a + b clamped to int64's range, for sizes computed from absurd views.
int64_t mul_sat(int64_t a, int64_t b) {
    int64_t r;
    if (!__builtin_mul_overflow(a, b, &r)) return r;
    return (a < 0) != (b < 0) ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
}
int64_t add_sat(int64_t a, int64_t b) {
    int64_t r;
    if (!__builtin_add_overflow(a, b, &r)) return r;
    return a < 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
}

int64_t numel_sat(const Shape &shape) {
    int64_t n = 1;
    for (int64_t d : shape) n = mul_sat(n, d);
    return n;
}

// Calls visit(offset) for every element of a box of extents and strides (in elements),
// or, past `limit` elements, for its 2^rank corners only: the corners hold its lowest and
// highest offsets, which is what shows the box stays inside its memory.
template <typename Visit>
void for_each_offset(const Shape &extents, const Shape &strides, int64_t limit, Visit visit) {
    const size_t rank = extents.size();
    for (int64_t e : extents) {
        if (e <= 0) return;
    }
    const bool corners_only = numel_sat(extents) > limit;
    Shape index(rank, 0);
    for (;;) {
        int64_t offset = 0;
        for (size_t d = 0; d < rank; ++d) offset += index[d] * strides[d];
        visit(offset);
        size_t d = 0;
        for (; d < rank; ++d) {  // next index, dimension 0 fastest
            const int64_t last = extents[d] - 1;
            if (index[d] < last) {
                index[d] = corners_only ? last : index[d] + 1;
                break;
            }
            index[d] = 0;
        }
        if (d == rank) return;
    }
}

// ---------------------------------------------------------------------------------------
// Caller tensors

// A view as a caller builds it, with exactly the memory it addresses.
struct CallerTensor {
    Shape shape, strides;
    bool contiguous = false;  // made with the (data, shape) constructor
    bool null_data = false;
    bool absurd = false;      // null data, a negative extent or stride, a wrong stride count or
                              // a span past 2^31-1: Layer must refuse it; it has one element
    bool too_big = false;     // fine, but more memory than this harness allocates
    bool in_range = true;     // every stride below 2^31
    bool tidy = false;        // each stride steps over the smaller ones (contiguous, padded,
                              // permuted): Layer must accept it as an output
    int64_t span = 0;         // the elements it addresses: 1 + sum((extent - 1) * stride)
    std::vector<float> storage;
    float *data = nullptr;    // in storage, or in another tensor's (share_memory)

    std::string describe() const {
        return "shape " + convgen::shape_to_string(shape) +
               (contiguous ? " contiguous" : " strides " + convgen::shape_to_string(strides)) +
               (null_data ? ", null data" : "") + (absurd ? ", absurd" : "");
    }

    template <typename T>
    convgen::BasicTensorView<T> view() const {
        T *p = null_data ? nullptr : data;
        return contiguous ? convgen::BasicTensorView<T>(p, shape) : convgen::BasicTensorView<T>(p, shape, strides);
    }
};

// Row-major strides with `gaps` extra elements after each row (saturating).
Shape padded_strides(const Shape &shape, FuzzInput *gaps) {
    Shape strides(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;) {
        strides[i - 1] = add_sat(mul_sat(strides[i], shape[i]), gaps ? gaps->small(0, 3) : 0);
    }
    return strides;
}

// Decodes a view of `shape` (sometimes changed) and allocates what it addresses.
CallerTensor make_tensor(FuzzInput &in, Shape shape, float fill) {
    CallerTensor t;
    switch (in.index(10)) {  // the shape: mostly as given
    case 7: {  // (two statements: the order the bytes are read in is the order written)
        const size_t d = in.index(shape.size());
        shape[d] = kOddValues[in.index(kOddCount)];
        break;
    }
    case 8: {
        int64_t &extent = shape[in.index(shape.size())];
        extent = add_sat(extent, in.small(-1, 1));
        break;
    }
    case 9:
        if (in.one_in(2)) shape.pop_back();
        else shape.push_back(in.small(1, 2));
        break;
    default: break;
    }
    t.shape = shape;
    t.strides = padded_strides(shape, nullptr);  // what the (data, shape) constructor computes, saturated
    switch (shape.empty() ? 0 : in.index(10)) {  // the layout (a 0-d view is contiguous)
    case 0:
    case 1: t.contiguous = t.tidy = true; break;
    case 2:
        t.strides = padded_strides(shape, &in);
        t.tidy = true;
        break;
    case 3: {  // the row-major strides of the dimensions taken in another order
        Shape order(shape.size());
        for (size_t d = 0; d < order.size(); ++d) order[d] = static_cast<int64_t>(d);
        for (size_t d = order.size(); d > 1; --d) std::swap(order[d - 1], order[in.index(d)]);
        int64_t stride = 1;
        for (size_t i = order.size(); i-- > 0;) {
            t.strides[order[i]] = stride;
            stride = mul_sat(stride, shape[order[i]]);
        }
        t.tidy = true;
        break;
    }
    case 4:  // arbitrary small strides: overlapping and broadcast views
        for (int64_t &stride : t.strides) stride = in.small(0, 8);
        break;
    case 5:  // broadcast along the inner dimensions from one on (expand()): x is read through a copy
        std::fill(t.strides.begin() + static_cast<std::ptrdiff_t>(in.index(shape.size())), t.strides.end(), 0);
        break;
    case 6: {
        const size_t d = in.index(shape.size());
        t.strides[d] = kOddValues[in.index(kOddCount)];
        break;
    }
    case 7:  // one stride too few or too many
        if (in.one_in(2)) t.strides.pop_back();
        else t.strides.push_back(1);
        break;
    default: t.tidy = true; break;  // contiguous strides given explicitly
    }
    t.null_data = in.one_in(32);

    bool empty = false;
    t.span = 1;
    for (size_t d = 0; d < shape.size() && d < t.strides.size(); ++d) {
        if (shape[d] < 0 || t.strides[d] < 0) {
            t.absurd = true;
            continue;
        }
        if (shape[d] == 0) empty = true;
        if (t.strides[d] > kMaxSpan) t.in_range = false;
        t.span = add_sat(t.span, mul_sat(shape[d] - 1, t.strides[d]));
    }
    if (t.strides.size() != shape.size() || t.null_data || (!empty && t.span > kMaxSpan)) t.absurd = true;
    if (t.absurd || empty) {
        t.span = empty && !t.absurd ? 0 : 1;
        t.storage.assign(1, fill);  // nothing may be read through the view
    } else if (t.span > kMaxBuffer) {
        t.too_big = true;
    } else {
        t.storage.assign(static_cast<size_t>(t.span), fill);
    }
    t.data = t.storage.data();
    return t;
}

// Whether two elements of an allocated view have one address: surely when it has more
// elements than its span, else found by listing them (small views only; false past that).
bool shares_elements(const CallerTensor &t) {
    const int64_t numel = numel_sat(t.shape);
    if (numel > t.span) return true;
    if (numel > kMaxWalk) return false;
    std::vector<int64_t> offsets;
    for_each_offset(t.shape, t.strides, kMaxWalk, [&](int64_t offset) { offsets.push_back(offset); });
    std::sort(offsets.begin(), offsets.end());
    return std::adjacent_find(offsets.begin(), offsets.end()) != offsets.end();
}

// Puts input and output in one allocation, one after the other at a decoded distance:
// overlapping by a little or a lot, touching, or a little apart. Returns whether they
// overlap, which forward() must refuse.
bool share_memory(FuzzInput &in, CallerTensor &input, CallerTensor &output) {
    const bool output_first = in.one_in(2);
    CallerTensor &first = output_first ? output : input, &second = output_first ? input : output;
    const int64_t shift = in.one_in(2) ? std::max<int64_t>(0, first.span - 2 + in.small(0, 4))
                                       : first.span * in.small(0, 3) / 4;
    std::vector<float> memory(std::max(first.storage.size(), static_cast<size_t>(shift) + second.storage.size()));
    std::copy(first.storage.begin(), first.storage.end(), memory.begin());
    std::copy(second.storage.begin(), second.storage.end(), memory.begin() + shift);  // the output's NaNs win
    first.storage = std::move(memory);
    first.data = first.storage.data();
    second.storage.clear();
    second.data = first.storage.data() + shift;
    return shift < first.span && second.span > 0;
}

// Whether every element of a view (or the corners of one past `limit` elements) holds `value`.
bool all_elements_are(const CallerTensor &t, float value, int64_t limit) {
    bool ok = true;
    for_each_offset(t.shape, t.strides, limit, [&](int64_t offset) { ok = ok && t.data[offset] == value; });
    return ok;
}

// ---------------------------------------------------------------------------------------
// The layer and its fake kernel

// One decoded input: the layer and the caller's tensors, named in failure messages.
struct Case {
    convgen::ConvSpec spec;
    CallerTensor weight, input, output;
    std::optional<CallerTensor> bias;
    bool allocating = false;  // forward(input), which allocates the output
    bool aliased = false;     // input and output overlap in memory

    std::string describe() const {
        const std::string out = allocating ? "allocated by forward(input)"
                                           : output.describe() + (aliased ? ", overlaps the input" : "");
        return to_string(spec) + "\n  weight: " + weight.describe() + "\n  bias: " +
               (bias ? bias->describe() : "none") + "\n  input: " + input.describe() + "\n  output: " + out;
    }
};

void require(const Case &c, bool ok, const std::string &what) {
    if (!ok) fuzz_require(false, what + "\n  layer: " + c.describe());
}

class WalkingKernel final : public convgen::Kernel {
public:
    explicit WalkingKernel(const Case &c)
        : Kernel("fuzz", c.spec), case_(c), rank_(convgen::kernel_spec(c.spec).dims + 2) {}

    bool may_run = true;  // false while forward() has a view it must refuse
    mutable int runs = 0;

    void run(halide_buffer_t *input, halide_buffer_t *weight, halide_buffer_t *bias,
             halide_buffer_t *output) const override {
        require(case_, may_run, "the kernel ran although Layer was given a view it must refuse");
        require(case_, (bias != nullptr) == spec().bias, "kernel got a bias buffer on a layer without bias, or none");
        // Reads prove the bounds from the corners of a large buffer; writes go to every
        // output element (an output Layer accepts has no more than the caller allocated).
        float sum = 0.0f;
        walk(input, rank_, "input", kMaxWalk, [&](float &x) { sum += x; });
        walk(weight, 5, "weight", kMaxWalk, [&](float &x) { sum += x; });
        if (bias) walk(bias, 1, "bias", kMaxWalk, [&](float &x) { sum += x; });
        walk(output, rank_, "output", kMaxBuffer, [](float &x) { x = kWritten; });
        require(case_, !std::isnan(sum), "kernel read a NaN: not the caller's input or Layer's packed weight");
        ++runs;
    }

    std::string describe() const override { return "fuzzing kernel (touches every element)"; }

private:
    template <typename Visit>
    void walk(halide_buffer_t *b, int rank, const char *name, int64_t limit, Visit visit) const {
        const std::string buffer = std::string("kernel's ") + name + " buffer: ";
        require(case_, b != nullptr && b->host != nullptr, buffer + "missing");
        require(case_, b->dimensions == rank && b->type == halide_type_t(halide_type_float, 32),
                buffer + "wrong rank or type");
        Shape extents, strides;
        for (int d = 0; d < rank; ++d) {
            require(case_, b->dim[d].min == 0, buffer + "nonzero min");
            extents.push_back(b->dim[d].extent);
            strides.push_back(b->dim[d].stride);
        }
        float *host = reinterpret_cast<float *>(b->host);
        for_each_offset(extents, strides, limit, [&](int64_t offset) { visit(host[offset]); });
    }

    const Case &case_;
    int rank_;  // the rank of the input and output buffers: kernel_spec's dims + 2
};

std::optional<convgen::ConvSpec> decode_spec(FuzzInput &in) {
    const size_t choice = in.index(kSpecCount + 1);
    try {
        if (choice < kSpecCount) return convgen::parse_spec(kSpecs[choice]);
        const convgen::ConvSpec spec = convgen::parse_spec(in.text(in.index(64)));
        // Fuzzed layers stay small: packing costs per weight.
        if (spec.in_channels > 64 || spec.out_channels > 64 || numel_sat(spec.weight_shape()) > 4096) {
            return std::nullopt;
        }
        return spec;
    } catch (const convgen::Error &) {
        return std::nullopt;
    }
}

// Runs `call`; returns whether it returned (false: it threw convgen::Error(ShapeMismatch),
// anything else is a failure).
template <typename Call>
bool accepted(const Case &c, const char *name, Call call) {
    try {
        call();
        return true;
    } catch (const convgen::Error &e) {
        require(c, e.code() == convgen::ErrorCode::ShapeMismatch,
                std::string(name) + " threw " + convgen::to_string(e.code()) + ": " + e.what());
        return false;
    }
}

// Whether Layer() must accept: weight and bias fit the spec and are valid views.
bool valid_parameters(const Case &c) {
    const auto fits = [](const CallerTensor &t, const Shape &shape) {
        return t.shape == shape && !t.absurd && t.in_range;
    };
    return fits(c.weight, c.spec.weight_shape()) && c.bias.has_value() == c.spec.bias &&
           (!c.bias || fits(*c.bias, c.spec.bias_shape()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzInput in(data, size);
    Case c;
    if (const std::optional<convgen::ConvSpec> spec = decode_spec(in)) c.spec = *spec;
    else return 0;
    WalkingKernel kernel(c);

    c.weight = make_tensor(in, c.spec.weight_shape(), kWeightValue);
    if (c.spec.bias != in.one_in(16)) c.bias = make_tensor(in, c.spec.bias_shape(), kWeightValue);
    if (c.weight.too_big || (c.bias && c.bias->too_big)) return 0;
    std::optional<convgen::Layer> layer;
    const bool made = accepted(c, "Layer()", [&] {
        std::optional<convgen::ConstTensorView> bias_view;
        if (c.bias) bias_view = c.bias->view<const float>();
        layer.emplace(kernel, c.weight.view<const float>(), bias_view);
    });
    require(c, made == valid_parameters(c),
            made ? "Layer() accepted a weight or bias it must refuse" : "Layer() refused a valid weight and bias");
    if (!made) return 0;

    // An input that usually fits: batch 1..3, spatial sizes 1..16 (8 for a zero byte) or
    // one time in eight an odd one (with a broadcast layout, a huge view of a few elements).
    Shape input_shape{in.small(1, 3), c.spec.in_channels};
    for (int i = 0; i < c.spec.dims; ++i) {
        const uint8_t b = in.byte();
        input_shape.push_back(b < 224 ? 1 + (b + 7) % 16 : kOddValues[(b - 224) % kOddCount]);
    }
    c.input = make_tensor(in, input_shape, kInputValue);
    // Layer may copy a view it cannot read in place: past what this harness allocates,
    // skip the input unless a copy (a tensor of its shape) would be past 2^31-1 elements.
    const int64_t input_numel = numel_sat(c.input.shape);
    if (c.input.too_big || (!c.input.absurd && input_numel > kMaxBuffer && input_numel <= kMaxSpan)) return 0;
    std::optional<Shape> expected;
    try {
        expected = c.spec.output_shape(c.input.shape);
    } catch (const convgen::Error &) {
    }
    // (A valid input Layer may have to copy is one this harness can allocate too.)
    const bool valid_input = expected && !c.input.absurd && c.input.in_range && input_numel <= kMaxBuffer;

    c.allocating = in.one_in(4);
    if (c.allocating) {
        const int64_t output_numel = expected ? numel_sat(*expected) : 0;
        if (output_numel > kMaxBuffer && output_numel <= kMaxSpan && !c.input.absurd) return 0;  // too big here
        const bool must_refuse = c.input.absurd || output_numel > kMaxSpan;
        kernel.may_run = !must_refuse;
        std::optional<convgen::Tensor> y;
        const bool ran = accepted(c, "forward(input)", [&] { y = layer->forward(c.input.view<const float>()); });
        require(c, !(ran && must_refuse), "forward(input) accepted an input it must refuse");
        require(c, ran || must_refuse || !valid_input, "forward(input) refused a valid input");
        if (!ran) return 0;
        require(c, y->shape() == *expected, "forward(input) returned an output of the wrong shape");
        require(c, kernel.runs == 1, "forward(input) returned without running the kernel once");
        c.output.shape = y->shape();
        c.output.strides = convgen::contiguous_strides(y->shape());
        c.output.data = y->data();
        require(c, all_elements_are(c.output, kWritten, kMaxBuffer), "forward(input) left output elements unwritten");
        return 0;
    }

    const Shape output_base = expected ? *expected : Shape(c.input.shape.size(), 2);
    c.output = make_tensor(in, output_base, std::numeric_limits<float>::quiet_NaN());
    if (c.output.too_big) return 0;
    if (!c.input.absurd && !c.output.absurd && in.one_in(8)) c.aliased = share_memory(in, c.input, c.output);
    const bool must_refuse =
        c.input.absurd || c.output.absurd || c.aliased || (c.output.span > 0 && shares_elements(c.output));
    const bool must_accept = valid_input && c.output.shape == *expected && !c.output.absurd && c.output.in_range &&
                             c.output.tidy && !c.aliased;
    kernel.may_run = !must_refuse;
    const bool ran = accepted(c, "forward(input, output)",
                              [&] { layer->forward(c.input.view<const float>(), c.output.view<float>()); });
    require(c, !(ran && must_refuse), "forward(input, output) accepted a view it must refuse");
    require(c, ran || !must_accept, "forward(input, output) refused valid views");
    if (!ran) return 0;
    require(c, expected && c.output.shape == *expected, "forward(input, output) accepted an output of the wrong shape");
    require(c, kernel.runs == 1, "forward(input, output) returned without running the kernel once");
    require(c, all_elements_are(c.output, kWritten, kMaxBuffer),
            "forward(input, output) left output elements unwritten");
    require(c, all_elements_are(c.input, kInputValue, kMaxWalk), "forward(input, output) changed the input");
    return 0;
}
