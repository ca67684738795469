// convgen: the command-line program.
//
//   convgen run --spec SPEC --input x.npy --weight w.npy [--bias b.npy] --output y.npy
//   convgen describe --spec SPEC [--input-shape N,C,H,W]
//   convgen --help
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli_options.h"
#include "convgen/layer.h"
#include "jit_kernel.h"
#include "schedule_knobs.h"
#include "npy.h"

namespace {

using namespace convgen::cli;

std::string usage() {
    return R"usage(convgen: convolution layers described as PyTorch prints them, compiled by Halide.

Usage:
  convgen run --spec SPEC --input X.npy --weight W.npy [--bias B.npy] --output Y.npy [--threads N]
      Compute the layer on this CPU (compiled in-process with the same generator code the
      static libraries use) and write its output. Tensors are float32 (float64 is
      converted) in PyTorch layout: input (N, C_in, [H,] W), weight (C_out, C_in/groups,
      [kH,] kW), bias (C_out). On any error nothing is written and the exit status is 1.
  convgen describe --spec SPEC [--input-shape N,C,[H,]W]
      Print the layer in PyTorch's canonical form and its weight shape; with an input
      shape, also the output shape and the FLOPs of one call.
  convgen bench --spec SPEC [--schedule KNOBS] [--versus KNOBS] [--target T] [--threads N]
                [--input-shape N,C,[H,]W] [--min-time SECONDS]
      Compile the layer with those schedule knobs, check it against the reference and
      print the median time, GFLOP/s and the share of this CPU's measured fp32 peak.
      With --versus, a second schedule too, the two timed in alternating turns in this
      process (a busy host weighs on both alike), and the ratio of their medians.
  convgen explain --spec SPEC [--schedule KNOBS] [--target T] [--input-shape ...]
                  [--stmt FILE] [--asm FILE]
      Print the loop nest the schedule makes; write Halide's lowered statement and the
      assembly of the layer.
  convgen tune --spec SPEC [--budget SECONDS] [--db FILE] [--target T] [--threads N]
               [--input-shape ...] [--schedule START] [--if-missing]
      Search the schedule knobs on this machine (progress on every trial; Ctrl-C stops
      and keeps the best) and record the fastest in the tuning database FILE (default
      convgen-tuning.txt), which convgen_add_kernel(... TUNING FILE) bakes into builds.
      Every trial is logged in FILE.trials, so a later run resumes where this one ended.
      The winner must beat the start in fresh processes (median of five each).
      --if-missing: do nothing if FILE has the layer for the target, or if this CPU
      cannot run the target (what the build's CONVGEN_TUNE_MISSING step runs).
  convgen --help | help [COMMAND]
      This text.

SPEC is a layer as PyTorch prints it or as its constructor is called, with an optional
fused activation, e.g.
  "Conv2d(64, 128, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)) -> ReLU()"
  "Conv1d(4, 2, 3, stride=2, padding='same', padding_mode='reflect')"

The input defaults to (1, C_in, 56, 56) for Conv2d, (1, C_in, 1024) for Conv1d; the target
to the variant of the default CPU targets this machine runs. KNOBS is "name=value,...":
)usage" + convgen::describe_schedule_knobs() + R"usage(
Exit status: 0 on success, 1 when the layer, a tensor or a file is wrong, 2 for a
command line that cannot be understood.
)usage";
}

convgen::Tensor load_tensor(const std::string &path) {
    convgen::npy::Array a = convgen::npy::load(path);
    return convgen::Tensor(std::move(a.shape), std::move(a.data));
}

int run_command(const std::map<std::string, std::string> &options) {
    const convgen::ConvSpec spec = convgen::parse_spec(required(options, "spec"));
    const std::string output_path = required(options, "output");
    apply_threads_option(options);
    const convgen::Tensor input = load_tensor(required(options, "input"));
    const convgen::Tensor weight = load_tensor(required(options, "weight"));
    std::optional<convgen::Tensor> bias;
    if (auto it = options.find("bias"); it != options.end()) bias = load_tensor(it->second);

    // Check the input before spending a second on compilation.
    spec.output_shape(input.shape());
    const convgen::JitKernel kernel(spec);
    std::optional<convgen::ConstTensorView> bias_view;
    if (bias) bias_view = bias->view();
    const convgen::Layer layer(kernel, weight.view(), bias_view);
    const convgen::Tensor output = layer.forward(input.view());
    convgen::npy::save(output_path, output.shape(), output.data());
    return 0;
}

int describe_command(const std::map<std::string, std::string> &options) {
    const convgen::ConvSpec spec = convgen::parse_spec(required(options, "spec"));
    std::cout << convgen::to_string(spec) << "\n";
    std::cout << "weight shape: " << convgen::shape_to_string(spec.weight_shape()) << "\n";
    if (spec.bias) std::cout << "bias shape: " << convgen::shape_to_string(spec.bias_shape()) << "\n";
    if (auto it = options.find("input-shape"); it != options.end()) {
        const std::vector<int64_t> input_shape = parse_shape(it->second);
        std::cout << "input shape: " << convgen::shape_to_string(input_shape) << "\n";
        std::cout << "output shape: " << convgen::shape_to_string(spec.output_shape(input_shape)) << "\n";
        std::cout << "FLOPs: " << static_cast<long long>(spec.flops(input_shape)) << "\n";
    }
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    const std::string command = argc > 1 ? argv[1] : "";
    for (int i = 1; i < argc; i++) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << usage();
            return 0;
        }
    }
    try {
        if (command.empty() || command == "--help" || command == "-h" || command == "help") {
            std::cout << usage();
            return command.empty() ? 2 : 0;
        }
        if (command == "run") {
            return run_command(parse_options(argc, argv, 2, {"spec", "input", "weight", "bias", "output", "threads"}));
        }
        if (command == "describe") {
            return describe_command(parse_options(argc, argv, 2, {"spec", "input-shape"}));
        }
        const std::vector<std::string> experiment = {"spec", "schedule", "target", "threads", "input-shape"};
        auto with = [&](std::vector<std::string> more, const std::vector<std::string> &flags = {}) {
            more.insert(more.end(), experiment.begin(), experiment.end());
            return parse_options(argc, argv, 2, more, flags);
        };
        if (command == "bench") return bench_command(with({"min-time", "versus"}));
        if (command == "explain") return explain_command(with({"stmt", "asm"}));
        if (command == "tune") return tune_command(with({"budget", "db"}, {"if-missing"}));
        throw UsageError("unknown command '" + command + "'");
    } catch (const UsageError &e) {
        std::cerr << "convgen: " << e.what() << "\nRun 'convgen --help' for usage.\n";
        return 2;
    } catch (const convgen::Error &e) {
        std::cerr << "convgen: error: " << e.what() << "\n";
        return 1;
    } catch (const Halide::Error &e) {
        // A schedule Halide itself refuses (a combination of knobs that the knob checks let
        // through): say so rather than terminate.
        std::cerr << "convgen: error: Halide could not compile this layer's pipeline: " << e.what() << "\n";
        return 1;
    }
}
