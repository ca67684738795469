// convgen_gpu_bench: every layer of bench/layers.csv through convgen's CUDA kernel, on
// tensors already in device memory (as a PyTorch program holds them), each run timed to
// the end of its device work. Writes one CSV row per layer, which bench/cudnn_bench.py
// joins with cuDNN's times for the same layers into bench/RESULTS-gpu.md
// (scripts/gpu-bench.sh runs both).
//
//   convgen_gpu_bench [--layers name,name] [--csv FILE] [--min-time SECONDS]
//
// Before a layer is timed its output is checked against the double-precision reference,
// so a fast wrong kernel cannot score. Times are medians of repeated runs after warm-up.
#include <HalideRuntime.h>
#include <HalideRuntimeCuda.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
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

}  // namespace

int main(int argc, char **argv) {
    std::string csv_path = "convgen-gpu.csv";
    std::vector<std::string> only;
    double min_seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--csv" && has_value) {
            csv_path = argv[++i];
        } else if (arg == "--layers" && has_value) {
            only = convgen_bench::split(argv[++i], ',');
        } else if (arg == "--min-time" && has_value) {
            min_seconds = std::stod(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: convgen_gpu_bench [--layers name,name] [--csv FILE] [--min-time SECONDS]\n");
            return 2;
        }
    }
    try {
        std::ofstream csv(csv_path);
        if (!csv) throw convgen::Error(convgen::ErrorCode::IoError, "cannot write " + csv_path);
        csv << "name,convgen_ms,gflop,max_rel_error\n";
        std::printf("%-18s %10s %10s %10s\n", "layer", "ms", "TFLOP/s", "check");
        for (const convgen_bench::SuiteLayer &layer : convgen_bench::read_suite()) {
            if (!only.empty() && std::find(only.begin(), only.end(), layer.name) == only.end()) continue;
            const convgen::Kernel &kernel = convgen::find_kernel("cuda_bench_" + layer.name);
            const convgen::ConvSpec &s = kernel.spec();
            const std::vector<int64_t> out_shape = s.output_shape(layer.input_shape);
            const std::vector<float> input = random_values(numel(layer.input_shape), 1);
            const std::vector<float> weight = random_values(numel(s.weight_shape()), 2);
            const std::vector<float> bias = s.bias ? random_values(static_cast<size_t>(s.out_channels), 3) : std::vector<float>{};
            std::optional<convgen::ConstTensorView> bias_view;
            if (s.bias) bias_view = convgen::ConstTensorView(bias.data(), s.bias_shape());
            const convgen::Layer conv(kernel, convgen::ConstTensorView(weight.data(), s.weight_shape()), bias_view);

            CudaTensor x(layer.input_shape, input), y(out_shape, std::vector<float>(numel(out_shape), 0.0f));
            conv.forward(x.view(), y.view());
            conv.synchronize();
            const std::vector<float> &got = y.read();
            const convgen_reference::ReferenceResult ref = convgen_reference::reference_conv(s, layer.input_shape, input, weight, bias);
            double worst = 0;
            size_t wrong = 0;
            for (size_t i = 0; i < got.size(); i++) {
                if (!convgen_reference::close_enough(got[i], ref.values[i], ref.magnitudes[i])) wrong++;
                worst = std::max(worst, std::abs(got[i] - ref.values[i]) / std::max(ref.magnitudes[i], 1e-30));
            }
            if (wrong > 0) {
                std::fprintf(stderr, "%s: %zu of %zu outputs differ from the reference\n", layer.name.c_str(), wrong,
                             got.size());
                return 1;
            }

            const double ms = convgen::measure::median_ms(
                [&] {
                    conv.forward(x.view(), y.view());
                    conv.synchronize();
                },
                min_seconds);
            const double gflop = s.flops(layer.input_shape) * 1e-9;
            std::printf("%-18s %10.4f %10.2f %10.1e\n", layer.name.c_str(), ms, gflop / ms, worst);
            csv << layer.name << ',' << ms << ',' << gflop << ',' << worst << '\n';
        }
    } catch (const convgen::Error &e) {
        std::fprintf(stderr, "convgen_gpu_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
