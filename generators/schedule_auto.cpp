// The schedule of a pipeline: convgen's own (schedule_cpu.cpp, schedule_gpu.cpp) or one of
// the autoschedulers shipped with Halide 14 (Adams2019, Li2018, Mullapudi2016), for
// comparison and for `convgen tune`.
#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "conv_pipeline.h"
#include "convgen/weight_layout.h"

namespace convgen {

using namespace Halide;

namespace {

// Debian ships the autoschedulers as plugins beside libHalide (CONVGEN_HALIDE_PLUGIN_DIR).
void load_autoscheduler(const std::string &name) {
    static std::mutex mutex;
    static std::set<std::string> loaded;
    std::lock_guard<std::mutex> lock(mutex);
    if (loaded.count(name) != 0) return;
    std::string file = name;
    std::transform(file.begin(), file.end(), file.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string path = std::string(CONVGEN_HALIDE_PLUGIN_DIR) + "/libautoschedule_" + file + ".so";
    try {
        load_plugin(path);
    } catch (const Halide::Error &e) {
        throw Error(ErrorCode::RuntimeError, "cannot load the " + name + " autoscheduler from " + path + ": " + e.what());
    }
    loaded.insert(name);
}

}  // namespace

std::vector<int64_t> knob_estimate_shape(const ConvSpec &spec, const ScheduleKnobs &knobs) {
    std::vector<int64_t> shape = {knobs.get("estimate_n", 1), spec.in_channels};
    if (spec.dims == 2) shape.push_back(knobs.get("estimate_h", 56));
    shape.push_back(knobs.get("estimate_w", 56));
    return shape;
}

ConvPipeline scheduled_pipeline(const ConvSpec &spec, const ConvInputs &inputs, const Target &target,
                                const ScheduleKnobs &knobs, const std::vector<int64_t> &estimate_shape) {
    const std::string autoscheduler = knobs.get("autoscheduler", "");
    if (autoscheduler.empty()) {
        return target.has_gpu_feature() ? gpu_pipeline(spec, inputs, target, knobs)
                                        : cpu_pipeline(spec, inputs, target, knobs);
    }
    DefineOptions options;
    options.zero_padding = ZeroPadding::BoundaryCondition;  // the autoscheduler chooses what to materialize
    ConvPipeline p = define_conv(spec, inputs, ConvDomain::Spatial, options);
    // Autoschedulers plan for estimated sizes: every input's and the output's.
    const std::vector<int64_t> out_shape = spec.output_shape(estimate_shape);
    const int rank = spec.dims + 2;
    for (int d = 0; d < rank; d++) {  // Halide's order is PyTorch's reversed
        ImageParam input = inputs.input;
        input.dim(d).set_estimate(0, static_cast<int>(estimate_shape[rank - 1 - d]));
        p.output.output_buffer().dim(d).set_estimate(0, static_cast<int>(out_shape[rank - 1 - d]));
    }
    const std::vector<int64_t> weight_shape = packed_weight_shape(spec);
    for (int d = 0; d < 5; d++) {
        ImageParam weight = inputs.weight;
        weight.dim(d).set_estimate(0, static_cast<int>(weight_shape[4 - d]));
    }
    if (spec.bias) {
        ImageParam bias = inputs.bias;
        bias.dim(0).set_estimate(0, packed_out_channels(spec));
    }
    load_autoscheduler(autoscheduler);
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    Pipeline(p.output).auto_schedule(autoscheduler, target, MachineParams(cores, 16 * 1024 * 1024, 40));
    return p;
}

}  // namespace convgen
