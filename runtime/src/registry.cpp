// What every kernel shares: the CPU defaults of the device calls, and the registry of
// linked kernels, filled at static initialization by the code that convgen_add_kernel()
// generates and read after main() starts.
#include <algorithm>
#include <map>
#include <mutex>

#include "convgen/kernel.h"

namespace convgen {

const char *to_string(Device device) {
    switch (device) {
    case Device::Cpu: return "CPU";
    case Device::Cuda: return "CUDA";
    case Device::OpenCL: return "OpenCL";
    }
    return "?";
}

void Kernel::wrap_device_memory(halide_buffer_t * /*buffer*/, uint64_t /*handle*/) const {
    throw Error(ErrorCode::ShapeMismatch, "kernel '" + name() +
                                              "' runs on the CPU: pass host tensors (TensorView), not device memory");
}

namespace {

using KernelGetter = const Kernel &(*)();

// A function-local static, so registrations from other translation units can run in any
// order before main().
std::map<std::string, KernelGetter, std::less<>> &registry() {
    static std::map<std::string, KernelGetter, std::less<>> kernels;
    return kernels;
}

std::mutex &registry_mutex() {
    static std::mutex m;
    return m;
}

}  // namespace

KernelRegistration::KernelRegistration(const char *name, const Kernel &(*get)()) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry().emplace(name, get);
}

std::vector<std::string> kernel_names() {
    std::lock_guard<std::mutex> lock(registry_mutex());
    std::vector<std::string> names;
    for (const auto &entry : registry()) names.push_back(entry.first);
    return names;  // std::map keeps them sorted
}

const Kernel &find_kernel(std::string_view name) {
    KernelGetter get = nullptr;
    {
        std::lock_guard<std::mutex> lock(registry_mutex());
        auto it = registry().find(name);
        if (it != registry().end()) get = it->second;
    }
    if (get == nullptr) {
        std::string message = "no kernel named '" + std::string(name) + "' is linked into this program; ";
        const std::vector<std::string> names = kernel_names();
        if (names.empty()) {
            message += "none are (link the targets that convgen_add_kernel() creates)";
        } else {
            message += "linked kernels:";
            for (const std::string &n : names) message += " " + n;
        }
        throw Error(ErrorCode::NotFound, message);
    }
    return get();
}

}  // namespace convgen
