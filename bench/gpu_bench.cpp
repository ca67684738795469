// convgen_gpu_bench: every layer of bench/layers.csv through convgen's CUDA kernel, on
// tensors already in device memory (as a PyTorch program holds them), each run timed to
// the end of its device work. Writes one CSV row per layer, which bench/cudnn_bench.py
// joins with cuDNN's times for the same layers into bench/RESULTS-gpu.md
// (scripts/gpu-bench.sh runs both).
//
//   convgen_gpu_bench [--suite layers.csv] [--layers name,name] [--csv FILE]
//                     [--min-time SECONDS] [--variants FILE]
//
// Before a kernel is timed its output is checked against the double-precision reference,
// so a fast wrong kernel cannot score. A time is per call: calls run back to back (as a
// network runs its layers) in batches of about a millisecond, each batch ended by a
// synchronize; the median over batches after warm-up. bench/cudnn_bench.py times cuDNN the
// same way, and also as a replayed CUDA graph, and credits it with the faster of the two.
//
// --variants FILE (the file the build's CONVGEN_GPU_BENCH_VARIANTS named) also times each
// schedule variant compiled from it, kernel cuda_bench_<layer>__v<line>, as extra CSV rows
// with their knobs: schedule experiments on a GPU machine that has no libHalide.
#include <HalideRuntime.h>
#include <HalideRuntimeCuda.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "convgen/runtime.h"
#include "reference.h"
#include "common.h"
#include "measure.h"

namespace {

using convgen_reference::numel;
using convgen_reference::random_values;

// A tensor in CUDA memory that Halide's runtime allocated (in the context the kernels
// use), with a host copy for filling and reading it.
class CudaTensor {
public:
    CudaTensor(std::vector<int64_t> shape, std::vector<float> values)
        : shape_(std::move(shape)), host_(std::move(values)) {
        const int rank = static_cast<int>(shape_.size());
        int32_t stride = 1;
        for (int d = 0; d < rank; d++) {  // Halide's order: innermost first
            dims_[d] = halide_dimension_t(0, static_cast<int32_t>(shape_[rank - 1 - d]), stride);
            stride *= static_cast<int32_t>(shape_[rank - 1 - d]);
        }
        buf_.host = reinterpret_cast<uint8_t *>(host_.data());
        buf_.type = halide_type_t(halide_type_float, 32);
        buf_.dimensions = rank;
        buf_.dim = dims_;
        buf_.set_host_dirty(true);
        check(halide_copy_to_device(nullptr, &buf_, halide_cuda_device_interface()), "copying a tensor to the GPU");
    }
    ~CudaTensor() { halide_device_free(nullptr, &buf_); }
    CudaTensor(const CudaTensor &) = delete;
    CudaTensor &operator=(const CudaTensor &) = delete;

    convgen::DeviceTensorView view() const {
        return {static_cast<uint64_t>(halide_cuda_get_device_ptr(nullptr, const_cast<halide_buffer_t *>(&buf_))), shape_};
    }
    const std::vector<float> &read() {
        buf_.set_device_dirty(true);  // a kernel wrote it behind Halide's back
        check(halide_copy_to_host(nullptr, &buf_), "copying a tensor from the GPU");
        return host_;
    }

private:
    static void check(int status, const char *what) {
        if (status != 0) throw convgen::Error(convgen::ErrorCode::RuntimeError, std::string(what) + " failed");
    }
    std::vector<int64_t> shape_;
    std::vector<float> host_;
    halide_dimension_t dims_[4] = {};
    halide_buffer_t buf_ = {};
};

struct Variant {
    std::string kernel;  // registered kernel name
    std::string knobs;   // "default" or the schedule knobs it was compiled with
};

// The kernels to time for each layer: its default, then the variants FILE lists for it.
std::map<std::string, std::vector<Variant>> read_variants(const std::string &path) {
    std::map<std::string, std::vector<Variant>> variants;
    if (path.empty()) return variants;
    std::ifstream file(path);
    if (!file) throw convgen::Error(convgen::ErrorCode::IoError, "cannot read the variants file " + path);
    int line_number = 0;
    for (std::string line; std::getline(file, line);) {
        line_number++;
        if (line.empty() || line[0] == '#') continue;
        const size_t space = line.find(' ');
        if (space == std::string::npos) {
            throw convgen::Error(convgen::ErrorCode::IoError, path + ":" + std::to_string(line_number) +
                                                                  ": expected \"layer knob=value,...\"");
        }
        const std::string layer = line.substr(0, space);
        variants[layer].push_back({"cuda_bench_" + layer + "__v" + std::to_string(line_number),
                                   line.substr(line.find_first_not_of(' ', space))});
    }
    return variants;
}

// Milliseconds per call of `call` (which only enqueues work), run back to back in batches
// of about a millisecond, each batch ended by `wait`.
double per_call_ms(const std::function<void()> &call, const std::function<void()> &wait, double min_seconds) {
    const double single = convgen::measure::median_ms(
        [&] {
            call();
            wait();
        },
        0.05);
    const int batch = std::clamp(static_cast<int>(1.0 / std::max(single, 1e-3)), 1, 200);
    const double ms = convgen::measure::median_ms(
        [&] {
            for (int i = 0; i < batch; i++) call();
            wait();
        },
        min_seconds);
    return ms / batch;
}

}  // namespace

int main(int argc, char **argv) {
    std::string csv_path = "convgen-gpu.csv", suite_path = CONVGEN_BENCH_CSV, variants_path;
    std::vector<std::string> only;
    double min_seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--csv" && has_value) {
            csv_path = argv[++i];
        } else if (arg == "--suite" && has_value) {
            suite_path = argv[++i];
        } else if (arg == "--variants" && has_value) {
            variants_path = argv[++i];
        } else if (arg == "--layers" && has_value) {
            only = convgen_bench::split(argv[++i], ',');
        } else if (arg == "--min-time" && has_value) {
            min_seconds = std::stod(argv[++i]);
        } else {
            std::fprintf(stderr,
                         "usage: convgen_gpu_bench [--suite layers.csv] [--layers name,name] [--csv FILE] "
                         "[--min-time SECONDS] [--variants FILE]\n");
            return 2;
        }
    }
    int failures = 0;
    try {
        const std::map<std::string, std::vector<Variant>> variants = read_variants(variants_path);
        std::ofstream csv(csv_path);
        if (!csv) throw convgen::Error(convgen::ErrorCode::IoError, "cannot write " + csv_path);
        csv << "name,schedule,convgen_ms,gflop,max_rel_error\n";
        std::printf("%-26s %10s %8s %9s  %s\n", "layer", "ms", "TFLOP/s", "check", "schedule");
        for (const convgen_bench::SuiteLayer &layer : convgen_bench::read_suite(suite_path)) {
            if (!only.empty() && std::find(only.begin(), only.end(), layer.name) == only.end()) continue;
            std::vector<Variant> kernels = {{"cuda_bench_" + layer.name, "default"}};
            if (const auto found = variants.find(layer.name); found != variants.end()) {
                kernels.insert(kernels.end(), found->second.begin(), found->second.end());
            }
            const convgen::ConvSpec &s = convgen::find_kernel(kernels.front().kernel).spec();
            const std::vector<int64_t> out_shape = s.output_shape(layer.input_shape);
            const std::vector<float> input = random_values(numel(layer.input_shape), 1);
            const std::vector<float> weight = random_values(numel(s.weight_shape()), 2);
            const std::vector<float> bias = s.bias ? random_values(static_cast<size_t>(s.out_channels), 3) : std::vector<float>{};
            std::optional<convgen::ConstTensorView> bias_view;
            if (s.bias) bias_view = convgen::ConstTensorView(bias.data(), s.bias_shape());
            const convgen_reference::ReferenceResult ref =
                convgen_reference::reference_conv(s, layer.input_shape, input, weight, bias);
            const double gflop = s.flops(layer.input_shape) * 1e-9;
            CudaTensor x(layer.input_shape, input);

            for (const Variant &variant : kernels) {
                // A variant that fails (a launch the GPU refuses, wrong numbers) is reported
                // and the run goes on.
                try {
                    const convgen::Layer conv(convgen::find_kernel(variant.kernel),
                                              convgen::ConstTensorView(weight.data(), s.weight_shape()), bias_view);
                    CudaTensor y(out_shape, std::vector<float>(numel(out_shape), std::nanf("")));  // poisoned
                    conv.forward(x.view(), y.view());
                    conv.synchronize();
                    const convgen_reference::Agreement agreement =
                        convgen_reference::compare_to_reference(y.read().data(), ref);
                    if (agreement.mismatches > 0) {
                        throw convgen::Error(convgen::ErrorCode::RuntimeError,
                                             std::to_string(agreement.mismatches) + " of " +
                                                 std::to_string(ref.values.size()) + " outputs differ from the reference");
                    }
                    const double worst = agreement.worst_error;
                    const double ms = per_call_ms([&] { conv.forward(x.view(), y.view()); }, [&] { conv.synchronize(); },
                                                  variant.knobs == "default" ? min_seconds : min_seconds / 4);
                    std::printf("%-26s %10.4f %8.2f %9.1e  %s\n", layer.name.c_str(), ms, gflop / ms, worst,
                                variant.knobs.c_str());
                    csv << layer.name << ',' << '"' << variant.knobs << '"' << ',' << ms << ',' << gflop << ',' << worst
                        << '\n';
                } catch (const convgen::Error &e) {
                    std::printf("%-26s %10s %8s %9s  %s: FAILED: %s\n", layer.name.c_str(), "-", "-", "-",
                                variant.knobs.c_str(), e.what());
                    if (variant.knobs == "default") failures++;
                }
                std::fflush(stdout);
            }
        }
    } catch (const convgen::Error &e) {
        std::fprintf(stderr, "convgen_gpu_bench: %s\n", e.what());
        return 1;
    }
    if (failures > 0) std::fprintf(stderr, "convgen_gpu_bench: %d layers' default kernels failed\n", failures);
    return failures > 0 ? 1 : 0;
}
