// convgen: compiling a layer with schedule knobs and measuring it (`convgen bench`,
// `convgen tune`).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "jit_kernel.h"
#include "reference.h"
#include "schedule_knobs.h"

namespace convgen::lab {

/// The CPU targets convgen_add_kernel() compiles for by default, most capable first
/// (CMake's CONVGEN_DEFAULT_CPU_TARGETS).
std::vector<std::string> default_cpu_targets();

/// The first default CPU target this machine can run: the variant linked kernels run here.
std::string native_cpu_target();

/// `target` (a Halide target string) compiled in this process.
Halide::Target jit_target(const std::string &target);

/// Whether code for this CPU target runs on this machine (its arch, OS and every feature).
bool runs_on_this_cpu(const std::string &target);

/// This machine's CPU model, from /proc/cpuinfo.
std::string cpu_name();

/// One measured schedule.
struct Measurement {
    double ms = 0;            // median of repeated calls
    double gflops = 0;
    double peak_share = 0;    // of the measured fp32 FMA peak (0 if unknown)
    double worst_error = 0;   // largest |got - reference| / magnitude
};

/// A layer on a fixed input, its reference result computed once, ready to measure
/// schedules on.
class LayerBench {
public:
    LayerBench(const ConvSpec &spec, std::vector<int64_t> input_shape, int threads);

    /// Compiles the layer with `knobs` for `target`, checks its output against the
    /// reference (Error(RuntimeError) if any value is off), and times it for about
    /// `min_seconds`.
    Measurement measure(const ScheduleKnobs &knobs, const std::string &target, double min_seconds);

    /// The same for several schedules, compiled and checked first, then timed side by
    /// side in alternating turns (about `min_seconds` each), so that a stretch of a busy
    /// host weighs on all of them alike.
    std::vector<Measurement> measure_side_by_side(const std::vector<ScheduleKnobs> &schedules,
                                                  const std::string &target, double min_seconds);

    const std::vector<int64_t> &input_shape() const { return input_shape_; }

private:
    struct Compiled;  // a schedule compiled and checked, ready to call
    std::unique_ptr<Compiled> compile(const ScheduleKnobs &knobs, const Halide::Target &target) const;
    Measurement measured(double ms, const Compiled &compiled, const Halide::Target &target);

    ConvSpec spec_;
    std::vector<int64_t> input_shape_;
    int threads_;
    double peak_gflops_ = 0;
    std::vector<float> input_, weight_, bias_;
    convgen_reference::ReferenceResult reference_;
};

}  // namespace convgen::lab
