#include "schedule_lab.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>

#include "convgen/layer.h"
#include "measure.h"
#include "reference.h"

namespace convgen::lab {

std::vector<std::string> default_cpu_targets() {
    std::vector<std::string> targets;
    std::stringstream in(CONVGEN_CPU_TARGETS);  // CMake's list, ','-separated
    for (std::string t; std::getline(in, t, ',');)
        if (!t.empty()) targets.push_back(t);
    return targets;
}

bool runs_on_this_cpu(const std::string &target) {
    const Halide::Target host = Halide::get_host_target();
    const Halide::Target t(target);
    bool runs = t.arch == host.arch && t.bits == host.bits && t.os == host.os;
    for (int f = 0; runs && f < Halide::Target::FeatureEnd; f++) {
        const auto feature = static_cast<Halide::Target::Feature>(f);
        // Features of the generated code's calling convention, not of the CPU.
        if (feature == Halide::Target::JIT || feature == Halide::Target::UserContext ||
            feature == Halide::Target::NoRuntime || feature == Halide::Target::Profile) {
            continue;
        }
        runs = !t.has_feature(feature) || host.has_feature(feature);
    }
    return runs;
}

std::string native_cpu_target() {
    for (const std::string &text : default_cpu_targets())
        if (runs_on_this_cpu(text)) return text;
    return Halide::get_host_target().to_string();
}

std::string cpu_name() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "unknown CPU";
}

LayerBench::LayerBench(const ConvSpec &spec, std::vector<int64_t> input_shape, int threads)
    : spec_(spec), input_shape_(std::move(input_shape)), threads_(threads) {
    spec_.output_shape(input_shape_);  // refuses an input that does not fit
    using convgen_reference::numel;
    using convgen_reference::random_values;
    input_ = random_values(numel(input_shape_), 1);
    weight_ = random_values(numel(spec_.weight_shape()), 2);
    if (spec_.bias) bias_ = random_values(static_cast<size_t>(spec_.out_channels), 3);
    reference_ = convgen_reference::reference_conv(spec_, input_shape_, input_, weight_, bias_);
}

struct LayerBench::Compiled {
    std::unique_ptr<JitKernel> kernel;
    std::unique_ptr<Layer> layer;
    ConstTensorView input;
    Tensor output;
    double worst_error = 0;
    void run() { layer->forward(input, output); }
};

std::unique_ptr<LayerBench::Compiled> LayerBench::compile(const ScheduleKnobs &knobs,
                                                          const Halide::Target &target) const {
    auto c = std::make_unique<Compiled>();
    c->kernel = std::make_unique<JitKernel>(spec_, target, knobs, input_shape_);
    std::optional<ConstTensorView> bias;
    if (spec_.bias) bias = ConstTensorView(bias_.data(), spec_.bias_shape());
    c->layer = std::make_unique<Layer>(*c->kernel, ConstTensorView(weight_.data(), spec_.weight_shape()), bias);
    c->input = ConstTensorView(input_.data(), input_shape_);
    c->output = Tensor(spec_.output_shape(input_shape_));
    c->run();
    const convgen_reference::Agreement agreement = convgen_reference::compare_to_reference(c->output.data(), reference_);
    if (agreement.mismatches > 0) {
        throw Error(ErrorCode::RuntimeError, std::to_string(agreement.mismatches) + " of " +
                                                 std::to_string(reference_.values.size()) +
                                                 " outputs differ from the reference with schedule '" +
                                                 to_string(knobs) + "'");
    }
    c->worst_error = agreement.worst_error;
    return c;
}

Measurement LayerBench::measured(double ms, const Compiled &compiled, const Halide::Target &target) {
    Measurement m;
    m.ms = ms;
    m.worst_error = compiled.worst_error;
    m.gflops = spec_.flops(input_shape_) / m.ms * 1e-6;
    if (peak_gflops_ == 0) peak_gflops_ = measure::peak_gflops(threads_, target.has_feature(Halide::Target::AVX512));
    m.peak_share = peak_gflops_ > 0 ? m.gflops / peak_gflops_ : 0;
    return m;
}

Halide::Target jit_target(const std::string &target) {
    return Halide::Target(target).with_feature(Halide::Target::JIT);
}

Measurement LayerBench::measure(const ScheduleKnobs &knobs, const std::string &target, double min_seconds) {
    const Halide::Target halide_target = jit_target(target);
    const std::unique_ptr<Compiled> compiled = compile(knobs, halide_target);
    return measured(measure::median_ms([&] { compiled->run(); }, min_seconds), *compiled, halide_target);
}

std::vector<Measurement> LayerBench::measure_side_by_side(const std::vector<ScheduleKnobs> &schedules,
                                                          const std::string &target, double min_seconds) {
    const Halide::Target halide_target = jit_target(target);
    std::vector<std::unique_ptr<Compiled>> compiled;
    std::vector<std::function<void()>> runs;
    for (const ScheduleKnobs &knobs : schedules) {
        compiled.push_back(compile(knobs, halide_target));
        runs.push_back([c = compiled.back().get()] { c->run(); });
    }
    const std::vector<double> ms = measure::interleaved_median_ms(runs, min_seconds, measure::kSideBySideTurns);
    std::vector<Measurement> result;
    for (size_t i = 0; i < compiled.size(); i++) result.push_back(measured(ms[i], *compiled[i], halide_target));
    return result;
}

}  // namespace convgen::lab
