// CPU SIMD schedule for define_conv's pipeline.
//
// Layout is PyTorch's NCHW, so output width (x) is the contiguous axis: we vectorize
// along x. Each step of the reduction then loads `x_vectors` input vectors, broadcasts
// `channel_block` weights and issues x_vectors * channel_block FMAs into accumulators
// that stay in registers for the whole (kx, ky, ci) reduction.
#include "conv_pipeline.h"

#include <algorithm>

namespace convgen {

using namespace Halide;

namespace {

struct CpuTiling {
    int vector_width;    // floats per SIMD register
    int x_vectors;       // output-width vectors per accumulator tile
    int channel_block;   // output channels per accumulator tile (divides C_out/groups)
    int rows_per_task;   // Conv2d: output rows per parallel task
    int tiles_per_task;  // Conv1d: accumulator tiles along x per parallel task

    int tile_width() const { return vector_width * x_vectors; }
};

CpuTiling choose_tiling(const ConvSpec &spec, const Target &target) {
    CpuTiling t;
    t.vector_width = target.natural_vector_size<float>();
    // 32 vector registers on AVX-512 and AArch64, 16 elsewhere. Leave room for the input
    // vectors and a weight broadcast beside the accumulators.
    const bool many_registers =
        target.has_feature(Target::AVX512) || (target.arch == Target::ARM && target.bits == 64);
    const int accumulator_budget = many_registers ? 20 : 10;

    // The channel block must divide the group's output channels so that a block never
    // straddles two groups and needs no tail.
    t.channel_block = 1;
    for (int candidate : {4, 3, 2}) {
        if (spec.out_channels_per_group() % candidate == 0) {
            t.channel_block = candidate;
            break;
        }
    }
    t.x_vectors = std::max(1, std::min(4, accumulator_budget / t.channel_block));
    t.rows_per_task = 4;
    t.tiles_per_task = 8;
    return t;
}

// The output's loop nest, innermost first:
//   Conv2d: xi (vector lanes x tiles), ci (channel block), xo, yi, co, yo, n
//   Conv1d: xi, ci, xo, co, xoo, n
// `tail` is how x's last partial tile is handled: ShiftInwards when the output is at
// least one tile wide (it recomputes a few columns instead of branching), GuardWithIf for
// narrower outputs.
void tile_output(Stage s, const ConvPipeline &p, const CpuTiling &t, TailStrategy tail,
                 bool vectorize) {
    Var xo("xo"), xi("xi"), co("co"), ci("ci");
    s.split(p.x, xo, xi, t.tile_width(), tail)
        .split(p.c, co, ci, t.channel_block, TailStrategy::RoundUp);
    if (vectorize) s.vectorize(xi, t.vector_width);
    s.unroll(ci);
    if (p.spec.dims == 2) {
        Var yo("yo"), yi("yi"), task("task");
        s.split(p.y, yo, yi, t.rows_per_task, TailStrategy::GuardWithIf)
            .reorder(xi, ci, xo, yi, co, yo, p.n)
            .fuse(yo, p.n, task)
            .parallel(task);
    } else {
        Var xoo("xoo"), task("task");
        s.split(xo, xoo, xo, t.tiles_per_task, TailStrategy::GuardWithIf)
            .reorder(xi, ci, xo, co, xoo, p.n)
            .fuse(xoo, p.n, task)
            .parallel(task);
    }
}

}  // namespace

void schedule_conv_cpu(ConvPipeline &p, const Target &target) {
    const CpuTiling t = choose_tiling(p.spec, target);
    Func &output = p.output;

    // Outputs at least one tile wide (all but toy sizes) take the vectorized nest; the
    // rest keep the same loops without the vector tail.
    const Expr output_width = output.output_buffer().dim(0).extent();
    tile_output(output.specialize(output_width >= t.tile_width()), p, t,
                TailStrategy::ShiftInwards, /*vectorize=*/true);
    tile_output(output, p, t, TailStrategy::GuardWithIf, /*vectorize=*/false);

    // Accumulators: one tile, fixed size so it lives in registers. Computing a full tile
    // even at a narrow edge is safe: `padded` is defined everywhere.
    const LoopLevel per_tile = LoopLevel(output, Var("xo"));
    Var xv("xv"), xl("xl");
    p.conv.compute_at(per_tile)
        .bound_extent(p.x, t.tile_width())
        .split(p.x, xv, xl, t.vector_width)
        .vectorize(xl)
        .unroll(xv)
        .unroll(p.c);
    Stage update = p.conv.update();
    update.split(p.x, xv, xl, t.vector_width)
        .vectorize(xl)
        .unroll(xv)
        .unroll(p.c)
        .reorder(xl, xv, p.c, p.r.x, p.r.y, p.r.z, p.y, p.n);
    if (p.spec.axis_x().kernel <= 7) update.unroll(p.r.x);

    // The padded input, materialized once per parallel task so the FMA loop reads a
    // dense buffer with no boundary logic. Conv2d: the task's rows plus the kernel's halo,
    // all channels; Conv1d: the task's columns plus the halo.
    p.padded.compute_at(output, Var("task")).vectorize(p.x, t.vector_width, TailStrategy::RoundUp);
}

}  // namespace convgen
