// convgen: a conv layer ready to run: a kernel plus its weights.
#pragma once

#include <optional>
#include <vector>

#include "convgen/kernel.h"
#include "convgen/tensor.h"

namespace convgen {

/// Pairs a Kernel with weights (and bias) and runs it on tensors in PyTorch layout.
/// Creating a layer checks the weights and packs a copy once into the layout the kernels
/// read (convgen/weight_layout.h), so the caller's weight memory may be released afterwards. forward() checks every tensor against the spec before
/// any generated code runs and throws Error(ShapeMismatch) naming the tensor, the shape
/// expected and the shape found. A Layer is immutable: forward() may be called from
/// several threads at once. The kernel must outlive the layer (linked kernels do).
class Layer {
public:
    Layer(const Kernel &kernel, ConstTensorView weight,
          std::optional<ConstTensorView> bias = std::nullopt);

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

private:
    /// Runs the kernel on views already checked, in the rank the kernel was compiled for.
    void run_kernel(ConstTensorView input, TensorView output) const;

    const Kernel *kernel_;
    bool flattens_planes_;  // the kernel is compiled as the Conv1d over H*W (kernel_spec)
    Tensor weight_;
    std::optional<Tensor> bias_;
};

}  // namespace convgen
