// convgen: the convolution layer as a Halide pipeline, and its schedules.
//
// One algorithm (define_conv) serves Conv1d and Conv2d, every padding mode, groups,
// dilation, stride, bias and activation; the schedules live apart from it (schedule_*).
// Generators (AOT) and the JIT both build their pipelines through these functions, so
// what the tests check through the JIT is what the libraries ship.
//
// Axis order: Halide's dimensions are innermost first, so PyTorch's (N, C, H, W) tensor is
// addressed as f(x, y, c, n) and (N, C, W) as f(x, c, n). Internally Conv1d is Conv2d with a
// single row: its funcs still take y, which is always 0.
#pragma once

#include <Halide.h>

#include "convgen/spec.h"

namespace convgen {

/// The buffers a conv pipeline reads. ImageParams, so that both a Generator's Inputs and
/// the JIT can supply them. `bias` is undefined when the layer has no bias.
struct ConvInputs {
    Halide::ImageParam input;   // (x, [y,] c, n)            = PyTorch (N, C_in, [H,] W)
    Halide::ImageParam weight;  // (kx, [ky,] ci_g, co)      = PyTorch (C_out, C_in/groups, [kH,] kW)
    Halide::ImageParam bias;    // (co)
};

/// Makes the ImageParams for a spec, named "input", "weight" and "bias".
ConvInputs make_conv_inputs(const ConvSpec &spec);

/// The layer as Funcs. Everything a schedule needs to name is here.
struct ConvPipeline {
    ConvSpec spec;
    Halide::Var x{"x"}, y{"y"}, c{"c"}, n{"n"};
    Halide::Func padded{"padded"};  // padded(x, y, ci, n): the input as padding_mode reads it
    // What conv reads from: `padded` itself for stride 1 along x; for stride s > 1, `phases`,
    // padded split into s interleaved phases, phases(u, ph, y, ci, n) = padded(u*s + ph, ...),
    // so the strided reads of a vector of outputs become dense loads from one phase.
    Halide::Func phases{"phases"};
    Halide::Func conv_input;
    Halide::Func conv{"conv"};      // conv(x, y, co, n): bias + the weighted sum (accumulator)
    Halide::Func output{"output"};  // output(x, [y,] co, n): the activation of conv
    Halide::RDom r;                 // r.x: kx, r.y: ky, r.z: input channel within the group
};

/// The algorithm. Also declares what is known at build time about the buffers (channel
/// counts, the weight's dense layout, unit stride on x) so the schedule can rely on it.
ConvPipeline define_conv(const ConvSpec &spec, const ConvInputs &inputs);

/// CPU schedule: register-blocked accumulators (output channels x vectors of output
/// width), the padded input materialized once per parallel task, tasks over batch x rows
/// (Conv1d: batch x column chunks). Sizes follow the target's vector width and register
/// count.
void schedule_conv_cpu(ConvPipeline &p, const Halide::Target &target);

}  // namespace convgen
