// Layer: every check on user tensors happens here, before generated code runs, so that
// a bad call gets a message about the user's tensors rather than a Halide assertion.
#include "convgen/layer.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

#include "convgen/weight_layout.h"

namespace convgen {

std::vector<int64_t> contiguous_strides(const std::vector<int64_t> &shape) {
    std::vector<int64_t> strides(shape.size(), 1);
    // Saturating: a shape too large for int64_t gets strides that check_index_range refuses.
    for (size_t i = shape.size(); i-- > 1;) {
        if (__builtin_mul_overflow(strides[i], shape[i], &strides[i - 1])) strides[i - 1] = std::numeric_limits<int64_t>::max();
    }
    return strides;
}

Tensor::Tensor(std::vector<int64_t> shape) : shape_(std::move(shape)) {
    int64_t count = 1;
    for (int64_t d : shape_) {
        if (d < 0) throw Error(ErrorCode::ShapeMismatch, "Tensor: negative dimension in shape " + shape_to_string(shape_));
        if (__builtin_mul_overflow(count, d, &count)) {
            throw Error(ErrorCode::ShapeMismatch, "Tensor: shape " + shape_to_string(shape_) + " has too many elements");
        }
    }
    values_.assign(static_cast<size_t>(count), 0.0f);
}

Tensor::Tensor(std::vector<int64_t> shape, std::vector<float> values) : Tensor(std::move(shape)) {
    if (values.size() != values_.size()) {
        throw Error(ErrorCode::ShapeMismatch, "Tensor: shape " + shape_to_string(shape_) + " holds " +
                                                  std::to_string(values_.size()) + " values, got " +
                                                  std::to_string(values.size()));
    }
    values_ = std::move(values);
}

namespace {

[[noreturn]] void shape_error(const std::string &message) {
    throw Error(ErrorCode::ShapeMismatch, message);
}

std::string describe(const char *tensor, const ConvSpec &spec) {
    return std::string(spec.layer_name()) + " " + tensor;
}

// The elements a view with this shape and strides can touch, from its first to its last
// (0 for an empty view). Callers bound every extent and stride first.
int64_t span_of(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides) {
    int64_t span = 1;
    for (size_t d = 0; d < shape.size(); d++) {
        if (shape[d] == 0) return 0;
        span += (shape[d] - 1) * strides[d];
    }
    return span;
}
template <typename T>
int64_t span_of(const BasicTensorView<T> &t) {
    return span_of(t.shape(), t.strides());
}

// Generated code indexes with 32-bit integers (Halide's default): refuse any tensor
// whose extents, strides or span do not fit, instead of letting the index wrap.
void check_index_range(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides,
                       const char *tensor, const ConvSpec &spec) {
    constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
    bool fits = true;
    for (size_t d = 0; d < shape.size(); d++) {
        const int64_t extent = shape[d], stride = strides[d];
        if (stride < 0) {
            shape_error(describe(tensor, spec) + ": negative stride " + std::to_string(stride) +
                        " in dimension " + std::to_string(d) + " is not supported");
        }
        fits = fits && extent <= kMax && stride <= kMax && (extent == 0 || stride <= kMax / extent);
    }
    // Each term below 2^31, at most five of them: the sum cannot overflow.
    if (!fits || span_of(shape, strides) > kMax) {
        shape_error(describe(tensor, spec) + ": shape " + shape_to_string(shape) + " with strides " +
                    shape_to_string(strides) + " spans more than 2^31-1 elements, the most a convgen kernel indexes");
    }
}

template <typename T>
void check_view(const BasicTensorView<T> &t, const char *tensor, const ConvSpec &spec) {
    if (t.data() == nullptr) shape_error(describe(tensor, spec) + ": data pointer is null");
    if (t.strides().size() != t.shape().size()) {
        shape_error(describe(tensor, spec) + ": shape " + shape_to_string(t.shape()) + " has " +
                    std::to_string(t.shape().size()) + " dimensions but " +
                    std::to_string(t.strides().size()) + " strides were given");
    }
    check_index_range(t.shape(), t.strides(), tensor, spec);
}

// Whether two elements of a view share memory. Taking dimensions by increasing stride,
// each stride must step over everything the smaller ones reach (which also refuses
// stride 0); views where that fails but elements still interleave without meeting are
// refused too, as PyTorch refuses them as outputs.
bool elements_overlap(const TensorView &t) {
    std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, extent)
    for (size_t d = 0; d < t.shape().size(); d++)
        if (t.shape()[d] > 1) dims.emplace_back(t.strides()[d], t.shape()[d]);
    std::sort(dims.begin(), dims.end());
    int64_t reach = 1;
    for (const auto &[stride, extent] : dims) {
        if (stride < reach) return true;
        reach += (extent - 1) * stride;
    }
    return false;
}

void expect_shape(const std::vector<int64_t> &actual, const std::vector<int64_t> &expected,
                  const char *tensor, const ConvSpec &spec) {
    if (actual != expected) {
        shape_error(describe(tensor, spec) + ": expected shape " + shape_to_string(expected) + ", got " +
                    shape_to_string(actual) + " (layer " + to_string(spec) + ")");
    }
}

// A halide_buffer_t over a view: Halide lists dimensions innermost first, PyTorch
// outermost first, so the order is reversed here and nowhere else.
class HalideBufferView {
public:
    template <typename T>
    explicit HalideBufferView(const BasicTensorView<T> &t)
        : HalideBufferView(t.shape(), t.strides(), const_cast<float *>(t.data())) {}
    // No host data: for device memory the kernel wraps.
    explicit HalideBufferView(const std::vector<int64_t> &shape)
        : HalideBufferView(shape, contiguous_strides(shape), nullptr) {}
    HalideBufferView(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides, float *host) {
        const int rank = static_cast<int>(shape.size());
        for (int d = 0; d < rank; d++) {
            const int64_t extent = shape[rank - 1 - d];
            // Kernels require a unit stride along x; one element has no stride to speak of.
            const int64_t stride = d == 0 && extent <= 1 ? 1 : strides[rank - 1 - d];
            dims_[d] = halide_dimension_t(0, static_cast<int32_t>(extent), static_cast<int32_t>(stride));
        }
        buf_.host = reinterpret_cast<uint8_t *>(host);
        // Host data is the truth: a GPU kernel copies it to the device before reading it.
        buf_.set_host_dirty(host != nullptr);
        buf_.type = halide_type_t(halide_type_float, 32);
        buf_.dimensions = rank;
        buf_.dim = dims_;
    }
    HalideBufferView(const HalideBufferView &) = delete;
    HalideBufferView &operator=(const HalideBufferView &) = delete;
    halide_buffer_t *get() { return &buf_; }

private:
    halide_dimension_t dims_[5] = {};  // up to the packed weight's five dimensions
    halide_buffer_t buf_ = {};
};

// Copies between two views of one shape, element by element in row-major order.
void copy_elements(const ConstTensorView &from, const TensorView &to) {
    const int rank = from.rank();
    std::vector<int64_t> index(rank, 0);
    for (int64_t i = 0; i < from.numel(); i++) {
        int64_t from_offset = 0, to_offset = 0;
        for (int d = 0; d < rank; d++) {
            from_offset += index[d] * from.strides()[d];
            to_offset += index[d] * to.strides()[d];
        }
        to.data()[to_offset] = from.data()[from_offset];
        for (int d = rank - 1; d >= 0 && ++index[d] == from.shape()[d]; d--) index[d] = 0;
    }
}

// Copies a (possibly strided) view into a contiguous tensor.
Tensor contiguous_copy(const ConstTensorView &t) {
    Tensor out(t.shape());
    copy_elements(t, out.view());
    return out;
}

// Pointwise Conv2d kernels are compiled as Conv1d over flattened pixels (kernel_spec):
// an (N, C, H, W) view whose planes are dense is the (N, C, H*W) view they read.
template <typename T>
bool planes_are_dense(const BasicTensorView<T> &t) {
    return (t.shape()[3] <= 1 || t.strides()[3] == 1) && (t.shape()[2] <= 1 || t.strides()[2] == t.shape()[3]);
}
template <typename T>
BasicTensorView<T> flatten_planes(const BasicTensorView<T> &t) {
    return BasicTensorView<T>(t.data(), {t.shape()[0], t.shape()[1], t.shape()[2] * t.shape()[3]},
                              {t.strides()[0], t.strides()[1], 1});
}

// Device memory wrapped for one call, detached again however the call ends.
class WrappedDeviceMemory {
public:
    WrappedDeviceMemory(const Kernel &kernel, const std::vector<int64_t> &shape, uint64_t handle)
        : kernel_(kernel), buffer_(shape) {
        kernel_.wrap_device_memory(buffer_.get(), handle);
    }
    ~WrappedDeviceMemory() { kernel_.release_device(buffer_.get()); }
    WrappedDeviceMemory(const WrappedDeviceMemory &) = delete;
    WrappedDeviceMemory &operator=(const WrappedDeviceMemory &) = delete;
    halide_buffer_t *get() { return buffer_.get(); }

private:
    const Kernel &kernel_;
    HalideBufferView buffer_;
};

}  // namespace

struct Layer::PackedBuffers {
    HalideBufferView weight;
    std::optional<HalideBufferView> bias;
    explicit PackedBuffers(const Tensor &packed_weight) : weight(packed_weight.view()) {}
};

Layer::~Layer() {
    if (!packed_) return;  // moved from
    kernel_->release_device(packed_->weight.get());
    if (packed_->bias) kernel_->release_device(packed_->bias->get());
}

Layer::Layer(Layer &&) noexcept = default;
Layer &Layer::operator=(Layer &&) noexcept = default;

Layer::Layer(const Kernel &kernel, ConstTensorView weight, std::optional<ConstTensorView> bias)
    : kernel_(&kernel), flattens_planes_(kernel_spec(kernel.spec()).dims != kernel.spec().dims) {
    const ConvSpec &s = spec();
    expect_shape(weight.shape(), s.weight_shape(), "weight", s);
    check_view(weight, "weight", s);
    // Packed once into the layout the kernels read (convgen/weight_layout.h).
    weight_ = Tensor(packed_weight_shape(s), pack_weight(s, contiguous_copy(weight).data()));
    if (s.bias != bias.has_value()) {
        shape_error(describe("bias", s) + (s.bias ? ": the layer has bias=True but no bias tensor was given"
                                                  : ": the layer has bias=False but a bias tensor was given"));
    }
    if (bias) {
        expect_shape(bias->shape(), s.bias_shape(), "bias", s);
        check_view(*bias, "bias", s);
        bias_ = Tensor({packed_out_channels(s)}, pack_bias(s, contiguous_copy(*bias).data()));
    }
    // The halide_buffer_t's point into weight_ and bias_, whose heap storage stays put
    // when the layer moves.
    packed_ = std::make_unique<PackedBuffers>(weight_);
    if (bias_) packed_->bias.emplace(bias_->view());
    kernel_->copy_to_device(packed_->weight.get());  // GPU kernels: once, here
    if (packed_->bias) kernel_->copy_to_device(packed_->bias->get());
}

void Layer::forward(ConstTensorView input, TensorView output) const {
    const ConvSpec &s = spec();
    const std::vector<int64_t> expected_output = s.output_shape(input.shape());
    check_view(input, "input", s);
    expect_shape(output.shape(), expected_output, "output", s);
    check_view(output, "output", s);
    if (elements_overlap(output)) {
        shape_error(describe("output", s) + ": strides " + shape_to_string(output.strides()) + " for shape " +
                    shape_to_string(output.shape()) + " make output elements share memory");
    }
    const uintptr_t in_begin = reinterpret_cast<uintptr_t>(input.data()),
                    out_begin = reinterpret_cast<uintptr_t>(output.data());
    if (in_begin < out_begin + sizeof(float) * span_of(output) && out_begin < in_begin + sizeof(float) * span_of(input)) {
        shape_error(describe("output", s) + ": the output overlaps the input in memory; convgen does not compute in place");
    }

    // Views the kernel cannot access in place (channels-last tensors, crops of the planes
    // a pointwise kernel flattens) go through contiguous copies.
    Tensor input_copy, output_copy;
    ConstTensorView in = input;
    TensorView out = output;
    if (!kernel_accesses_in_place(in)) {
        // The copy holds every element, which a view with zero strides need not.
        check_index_range(input.shape(), contiguous_strides(input.shape()), "input", s);
        input_copy = contiguous_copy(input);
        in = input_copy.view();
    }
    if (!kernel_accesses_in_place(out)) {
        output_copy = Tensor(output.shape());
        out = output_copy.view();
    }
    if (flattens_planes_) {
        run_kernel(flatten_planes(in), flatten_planes(out));
    } else {
        run_kernel(in, out);
    }
    if (out.data() != output.data()) copy_elements(out, output);
}

template <typename T>
bool Layer::kernel_accesses_in_place(const BasicTensorView<T> &t) const {
    if (flattens_planes_) return planes_are_dense(t);
    return t.shape().back() <= 1 || t.strides().back() == 1;
}

void Layer::run_kernel(ConstTensorView input, TensorView output) const {
    HalideBufferView in(input), out(output);
    run_kernel(in.get(), out.get());
}

void Layer::run_kernel(halide_buffer_t *input, halide_buffer_t *output) const {
    kernel_->run(input, packed_->weight.get(), packed_->bias ? packed_->bias->get() : nullptr, output);
}

void Layer::synchronize() const {
    kernel_->synchronize(packed_->weight.get());  // on the device with the layer's work
}

void Layer::forward(const DeviceTensorView &input, const DeviceTensorView &output) const {
    const ConvSpec &s = spec();
    if (kernel_->device() == Device::Cpu) kernel_->wrap_device_memory(nullptr, input.handle);  // refuses
    const std::vector<int64_t> expected_output = s.output_shape(input.shape);
    expect_shape(output.shape, expected_output, "output", s);
    for (const auto &[tensor, view] : {std::pair{"input", &input}, std::pair{"output", &output}}) {
        if (view->handle == 0) shape_error(describe(tensor, s) + ": device memory handle is null");
        check_index_range(view->shape, contiguous_strides(view->shape), tensor, s);
    }
    if (input.handle == output.handle) {
        shape_error(describe("output", s) + ": the output is the input's device memory; convgen does not compute in place");
    }
    // Contiguous planes flatten as they are for pointwise kernels (kernel_spec).
    auto kernel_shape = [&](const std::vector<int64_t> &shape) {
        return flattens_planes_ ? std::vector<int64_t>{shape[0], shape[1], shape[2] * shape[3]} : shape;
    };
    WrappedDeviceMemory in(*kernel_, kernel_shape(input.shape), input.handle);
    WrappedDeviceMemory out(*kernel_, kernel_shape(output.shape), output.handle);
    run_kernel(in.get(), out.get());
}

Tensor Layer::forward(ConstTensorView input) const {
    // Everything that can be checked before allocating the output is.
    const ConvSpec &s = spec();
    const std::vector<int64_t> shape = output_shape(input.shape());
    check_view(input, "input", s);
    check_index_range(shape, contiguous_strides(shape), "output", s);
    Tensor output(shape);
    forward(input, output.view());
    return output;
}

}  // namespace convgen
