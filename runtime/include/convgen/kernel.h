// convgen: a compiled conv layer, and the registry of those linked into the program.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "convgen/spec.h"

struct halide_buffer_t;

namespace convgen {

/// Where a kernel's generated code runs: the CPU, or a GPU through CUDA or OpenCL.
enum class Device { Cpu, Cuda, OpenCL };
const char *to_string(Device device);  // "CPU", "CUDA", "OpenCL"

/// Code generated for one ConvSpec: an AOT kernel from convgen_add_kernel() (linked into
/// the program), or a JIT-compiled one (generators/, for tools and tests). A Kernel holds
/// no weights; a Layer pairs it with them. Kernels are immutable and may be shared by
/// any number of layers and threads.
class Kernel {
public:
    virtual ~Kernel() = default;
    Kernel(const Kernel &) = delete;
    Kernel &operator=(const Kernel &) = delete;

    const std::string &name() const { return name_; }
    const ConvSpec &spec() const { return spec_; }

    /// Runs the generated code on buffers that Layer has already checked against spec().
    /// `bias` is null when the layer has no bias. Throws Error(RuntimeError) with the
    /// generated code's own message if it fails.
    virtual void run(halide_buffer_t *input, halide_buffer_t *weight, halide_buffer_t *bias,
                     halide_buffer_t *output) const = 0;

    /// What this kernel is, e.g. "AOT, targets x86-64-linux-avx512..., x86-64-linux".
    virtual std::string describe() const = 0;

    // ---- GPU kernels. run() takes host buffers too: their data is copied to the device
    // for the call and the output copied back. The calls below let Layer keep its weights
    // on the device and run on memory that is already there; on the CPU they do nothing
    // (wrap_device_memory refuses).

    virtual Device device() const { return Device::Cpu; }
    /// Copies `buffer`'s host data to the device, where it stays for later calls.
    virtual void copy_to_device(halide_buffer_t * /*buffer*/) const {}
    /// Makes `buffer` (which has no host data) refer to the caller's device memory: a
    /// CUdeviceptr (CUDA) or a cl_mem (OpenCL) of the context the kernels use.
    virtual void wrap_device_memory(halide_buffer_t *buffer, uint64_t handle) const;
    /// Undoes copy_to_device (frees the device copy) or wrap_device_memory (detaches).
    virtual void release_device(halide_buffer_t * /*buffer*/) const noexcept {}
    /// Waits until the device has finished the work queued by kernels of this API;
    /// `on_device` is any buffer with device memory (Halide's runtime asks for one).
    virtual void synchronize(halide_buffer_t * /*on_device*/) const {}

protected:
    Kernel(std::string name, ConvSpec spec) : name_(std::move(name)), spec_(std::move(spec)) {}

private:
    std::string name_;
    ConvSpec spec_;
};

/// The kernel linked into this program under `name` (the NAME given to
/// convgen_add_kernel). Throws Error(NotFound) naming the kernels that are linked.
const Kernel &find_kernel(std::string_view name);

/// The names of every kernel linked into this program, sorted.
std::vector<std::string> kernel_names();

/// Made by the code convgen_add_kernel() generates, one per kernel, at static
/// initialization; users do not construct these.
struct KernelRegistration {
    KernelRegistration(const char *name, const Kernel &(*get)());
};

}  // namespace convgen
