// convgen: a conv layer ready to run: a kernel plus its weights.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "convgen/kernel.h"
#include "convgen/tensor.h"

namespace convgen {

/// Pairs a Kernel with weights (and bias) and runs it on tensors in PyTorch layout.
/// Creating a layer checks the weights and packs a copy once into the layout the kernels
/// read (convgen/weight_layout.h), so the caller's weight memory may be released
/// afterwards. forward() checks every tensor against the spec before any generated code
/// runs and throws Error(ShapeMismatch) naming the tensor, the shape expected and the
/// shape found.
///
/// Tensors may be strided views: slices, crops, channels-last (NHWC) tensors seen in NCHW
/// order. Views with unit stride along x are used in place; others go through a
/// contiguous copy (one extra pass over the tensor). Refused, with that error: negative
/// strides, views spanning more than 2^31-1 elements (generated code indexes with 32-bit
/// integers), outputs whose elements share memory, and outputs that overlap the input.
///
/// GPU kernels (Device::Cuda, Device::OpenCL): the layer copies its packed weights to
/// the device once, when it is created. forward() on host tensors copies the input to
/// the device and the output back; forward() on DeviceTensorViews runs on the caller's
/// device memory with no copy, and returns once the work is queued: synchronize() waits
/// for it.
///
/// A Layer is immutable: forward() may be called from several threads at once. The
/// kernel must outlive the layer (linked kernels do). Layers move but do not copy.
class Layer {
public:
    Layer(const Kernel &kernel, ConstTensorView weight,
          std::optional<ConstTensorView> bias = std::nullopt);
    ~Layer();
    Layer(Layer &&) noexcept;
    Layer &operator=(Layer &&) noexcept;

    const ConvSpec &spec() const { return kernel_->spec(); }
    const Kernel &kernel() const { return *kernel_; }

    /// The output shape for an input shape, or Error(ShapeMismatch) if the input does
    /// not fit the layer.
    std::vector<int64_t> output_shape(const std::vector<int64_t> &input_shape) const {
        return spec().output_shape(input_shape);
    }

    /// Computes output = activation(conv(input, weight) + bias).
    void forward(ConstTensorView input, TensorView output) const;
    /// The same, into a new tensor.
    Tensor forward(ConstTensorView input) const;
    /// The same on tensors in device memory (GPU kernels only; contiguous tensors).
    void forward(const DeviceTensorView &input, const DeviceTensorView &output) const;
    /// Waits for the device work of forward() calls to finish (nothing to wait for on the
    /// CPU).
    void synchronize() const;

private:
    /// Whether the kernel can read or write the view where it is: unit stride along x, and
    /// dense planes when the kernel flattens them.
    template <typename T>
    bool kernel_accesses_in_place(const BasicTensorView<T> &t) const;
    /// Runs the kernel on views already checked, in the rank the kernel was compiled for.
    void run_kernel(ConstTensorView input, TensorView output) const;
    void run_kernel(halide_buffer_t *input, halide_buffer_t *output) const;

    const Kernel *kernel_;
    bool flattens_planes_;  // the kernel is compiled as the Conv1d over H*W (kernel_spec)
    Tensor weight_;
    std::optional<Tensor> bias_;
    // halide_buffer_t's over weight_ and bias_, made once: on a GPU they carry the
    // device copies.
    struct PackedBuffers;
    std::unique_ptr<PackedBuffers> packed_;
};

}  // namespace convgen
