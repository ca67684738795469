// convgen: float32 tensors in the user's memory, PyTorch's dimension order.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace convgen {

/// Row-major (C-order) strides, in elements, for a shape.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t> &shape);

/// A view of float32 data the caller owns: a shape in PyTorch order (N, C, H, W) and
/// strides in elements (not bytes). It never allocates or frees.
template <typename T>
class BasicTensorView {
public:
    BasicTensorView() = default;
    /// A contiguous (row-major) tensor.
    BasicTensorView(T *data, std::vector<int64_t> shape)
        : data_(data), shape_(std::move(shape)), strides_(contiguous_strides(shape_)) {}
    /// A strided view, e.g. a slice or a channels-last tensor seen in NCHW order.
    BasicTensorView(T *data, std::vector<int64_t> shape, std::vector<int64_t> strides)
        : data_(data), shape_(std::move(shape)), strides_(std::move(strides)) {}
    /// A mutable view reads as a const one.
    template <typename U, typename = std::enable_if_t<std::is_same<const U, T>::value>>
    BasicTensorView(const BasicTensorView<U> &other)  // NOLINT: implicit by design
        : data_(other.data()), shape_(other.shape()), strides_(other.strides()) {}

    T *data() const { return data_; }
    const std::vector<int64_t> &shape() const { return shape_; }
    const std::vector<int64_t> &strides() const { return strides_; }
    int rank() const { return static_cast<int>(shape_.size()); }
    int64_t numel() const {
        int64_t n = 1;
        for (int64_t d : shape_) n *= d;
        return n;
    }

private:
    T *data_ = nullptr;
    std::vector<int64_t> shape_, strides_;
};

using TensorView = BasicTensorView<float>;
using ConstTensorView = BasicTensorView<const float>;

/// A float32 tensor in GPU memory, contiguous (row-major) in PyTorch's dimension order:
/// `handle` is a CUDA device pointer (a CUdeviceptr, e.g. a CUDA torch.Tensor's
/// data_ptr()) or an OpenCL cl_mem, in the context the kernels use (see
/// convgen/aot_kernel.h). Layers of GPU kernels read and write it in place.
struct DeviceTensorView {
    uint64_t handle = 0;
    std::vector<int64_t> shape;
};

/// A contiguous float32 tensor that owns its memory (zero-initialized).
class Tensor {
public:
    Tensor() = default;
    explicit Tensor(std::vector<int64_t> shape);
    Tensor(std::vector<int64_t> shape, std::vector<float> values);  // values.size() == numel

    float *data() { return values_.data(); }
    const float *data() const { return values_.data(); }
    const std::vector<int64_t> &shape() const { return shape_; }
    int64_t numel() const { return static_cast<int64_t>(values_.size()); }
    std::vector<float> &values() { return values_; }
    const std::vector<float> &values() const { return values_; }

    TensorView view() { return TensorView(data(), shape_); }
    ConstTensorView view() const { return ConstTensorView(data(), shape_); }
    operator TensorView() { return view(); }             // NOLINT: implicit by design
    operator ConstTensorView() const { return view(); }  // NOLINT: implicit by design

private:
    std::vector<int64_t> shape_;
    std::vector<float> values_;
};

}  // namespace convgen
