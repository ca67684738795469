// GPU schedules (CUDA, OpenCL): the algorithm of conv_algorithm.cpp, tiled for blocks and
// threads. Written with gpu_threads only (no gpu_lanes, which OpenCL lacks), so one
// schedule serves both back ends.
//
// Loop nest of a block, innermost first:
//   output: outputs_x pixels x outputs_c channels (unrolled) | threads (x, [y,] c) | blocks
//   conv:   the same register tile, accumulated over kx, ky (unrolled) and a chunk of input
//           channels | threads | chunks of input channels (serial, the whole block)
//   staged input and weights, per chunk: threads (x, [y,] c) copying a tile to shared memory
// A thread's pixels are threads_x apart, so neighbouring threads load and store
// neighbouring pixels (coalesced rows of NCHW).
#include <algorithm>

#include "conv_pipeline.h"
#include "convgen/weight_layout.h"

namespace convgen {

using namespace Halide;

namespace {

struct GpuTiling {
    int threads_x = 16, threads_y = 4, threads_c = 4;  // a block's threads
    int outputs_x = 2, outputs_c = 4;                   // each thread's register tile
    // Layers with groups == 1 stage tiles of the input and weights in shared memory, this
    // many input channels at a time; grouped and depthwise layers, whose blocks share
    // little input, read through the caches (0).
    int channel_chunk = 0;

    int tile_x() const { return threads_x * outputs_x; }
    int tile_c() const { return threads_c * outputs_c; }
};

constexpr int kSharedMemoryBudget = 32 * 1024;  // bytes per block: under CUDA's 48 KiB static limit

// Shared memory a block stages per chunk: its input tile with halo, and its weights.
int staged_bytes(const ConvSpec &spec, const GpuTiling &t, int chunk) {
    const AxisParams ax = spec.axis_x(), ay = spec.axis_y();
    const int staged_width = (t.tile_x() - 1) * ax.stride + ax.dilated_extent();
    const int staged_rows = (t.threads_y - 1) * ay.stride + ay.dilated_extent();
    return 4 * chunk * (staged_width * staged_rows + t.tile_c() * ax.kernel * ay.kernel);
}

GpuTiling default_gpu_tiling(const ConvSpec &spec);

GpuTiling choose_gpu_tiling(const ConvSpec &spec, const ScheduleKnobs &knobs) {
    GpuTiling t = default_gpu_tiling(spec);
    t.threads_x = knobs.get("threads_x", t.threads_x);
    t.threads_y = spec.dims == 2 ? knobs.get("threads_y", t.threads_y) : 1;
    t.threads_c = knobs.get("threads_c", t.threads_c);
    t.outputs_x = knobs.get("outputs_x", t.outputs_x);
    t.outputs_c = knobs.get("outputs_c", t.outputs_c);
    t.channel_chunk = knobs.get("channel_chunk", t.channel_chunk);
    if (t.threads_x * t.threads_y * t.threads_c > 1024) {
        knob_error("a block of " + std::to_string(t.threads_x * t.threads_y * t.threads_c) +
                   " threads: GPUs take at most 1024");
    }
    if (t.channel_chunk > 0) {
        if (spec.groups > 1) knob_error("channel_chunk: grouped layers are not staged (use channel_chunk=0)");
        if (spec.in_channels_per_group() % t.channel_chunk != 0) {
            knob_error("channel_chunk=" + std::to_string(t.channel_chunk) + " must divide the " +
                       std::to_string(spec.in_channels) + " input channels");
        }
        if (kPackedChannelMultiple % t.tile_c() != 0) {
            knob_error("threads_c x outputs_c = " + std::to_string(t.tile_c()) + " must divide " +
                       std::to_string(kPackedChannelMultiple) + " (the packed weights' channel padding)");
        }
        if (staged_bytes(spec, t, t.channel_chunk) > kSharedMemoryBudget) {
            knob_error("channel_chunk=" + std::to_string(t.channel_chunk) + " stages " +
                       std::to_string(staged_bytes(spec, t, t.channel_chunk)) + " bytes: more than the " +
                       std::to_string(kSharedMemoryBudget) + " of shared memory a block may take");
        }
    } else if (spec.out_channels_per_group() % t.outputs_c != 0) {
        knob_error("outputs_c=" + std::to_string(t.outputs_c) + " must divide the " +
                   std::to_string(spec.out_channels_per_group()) + " output channels of a group");
    }
    return t;
}

GpuTiling default_gpu_tiling(const ConvSpec &spec) {
    GpuTiling t;
    const bool is_2d = spec.dims == 2;
    const int in_per_group = spec.in_channels_per_group();
    if (spec.groups > 1) {
        // A thread's channels stay within one group (and within C_out), so its taps read
        // only its group's input channels.
        t.outputs_c = spec.out_channels_per_group() % 4 == 0 ? 4 : spec.out_channels_per_group() % 2 == 0 ? 2 : 1;
    }
    if (spec.groups > 1 && in_per_group == 1) {
        // Depthwise: nothing shared between channels; wide rows of pixels per block.
        t.threads_x = 32;
        t.threads_c = is_2d ? 2 : 8;
        t.outputs_c = 1;
    } else if (!is_2d) {
        // Conv1d: no rows, so more channels per block.
        t.threads_y = 1;
        t.threads_c = 8;
        t.outputs_x = 4;
    }
    if (!is_2d) t.threads_y = 1;
    if (spec.groups > 1) return t;

    // The largest chunk of input channels whose staged input and weight tiles fit.
    for (int chunk : {16, 8, 4, 3, 2, 1}) {
        if (in_per_group % chunk == 0 && staged_bytes(spec, t, chunk) <= kSharedMemoryBudget) {
            t.channel_chunk = chunk;
            break;
        }
    }
    return t;  // a chunk of 1 always fits the suite; 0 (no staging) would still be correct
}

}  // namespace

ConvPipeline gpu_pipeline(const ConvSpec &spec, const ConvInputs &inputs, const Target &target,
                          const ScheduleKnobs &knobs) {
    (void)target;  // CUDA and OpenCL take the same schedule
    const GpuTiling t = choose_gpu_tiling(spec, knobs);
    ConvPipeline p = define_conv(spec, inputs, ConvDomain::Spatial, ZeroPadding::BoundaryCondition);
    const bool is_2d = spec.dims == 2;

    // Output: blocks over (x tile, [row tile,] channel tile x image).
    Func &output = p.output;
    Var xo("xo"), xi("xi"), xr("xr"), xt("xt"), yo("yo"), yt("yt"), co("co"), ci("ci"), cr("cr"), ct("ct"),
        block_c("block_c");
    // Staged plans read their tile from shared memory, so neighbouring threads take
    // neighbouring pixels (coalesced stores); otherwise a thread's pixels are adjacent,
    // the run its accumulators cover.
    const bool staged = t.channel_chunk > 0;
    output.split(p.x, xo, xi, t.tile_x(), TailStrategy::GuardWithIf);
    if (staged) {
        output.split(xi, xr, xt, t.threads_x);
    } else {
        output.split(xi, xt, xr, t.outputs_x);
    }
    if (staged) {
        // conv covers the whole channel tile; past C_out it reads zero-padded weights.
        output.split(p.c, co, ci, t.tile_c(), TailStrategy::GuardWithIf).split(ci, ct, cr, t.outputs_c);
    } else {
        // outputs_c divides C_out: the guard falls on whole threads, which then compute
        // nothing (their taps would read input channels past C_in).
        Var cq("cq");
        output.split(p.c, cq, cr, t.outputs_c).split(cq, co, ct, t.threads_c, TailStrategy::GuardWithIf);
    }
    output.unroll(xr).unroll(cr);
    if (is_2d) {
        output.split(p.y, yo, yt, t.threads_y, TailStrategy::GuardWithIf)
            .reorder(xr, cr, xt, yt, ct, xo, yo, co, p.n)
            .fuse(co, p.n, block_c)
            .gpu_blocks(xo, yo, block_c)
            .gpu_threads(xt, yt, ct);
    } else {
        output.reorder(xr, cr, xt, ct, xo, co, p.n).fuse(co, p.n, block_c).gpu_blocks(xo, block_c).gpu_threads(xt, ct);
    }

    Func &conv = p.conv;
    Stage update = conv.update();
    auto map_threads = [&](Stage stage, const VarOrRVar &y_or_none) {
        if (is_2d) {
            stage.gpu_threads(xt, y_or_none, ct);
        } else {
            stage.gpu_threads(xt, ct);
        }
    };
    if (!staged) {
        // Grouped and depthwise: each thread accumulates its register tile, reading the
        // input and weights through the caches. Edge threads compute a whole tile too
        // (the input is read through its padding mode; weights are padded to 32 channels).
        conv.compute_at(output, xt)
            .store_in(MemoryType::Register)
            .bound_extent(p.x, t.outputs_x)
            .align_bounds(p.c, t.outputs_c)
            .bound_extent(p.c, t.outputs_c)
            .bound_extent(p.y, 1)
            .bound_extent(p.n, 1)
            .unroll(p.x)
            .unroll(p.c);
        update.reorder(p.x, p.c, p.r.x, p.r.y, p.r.z, p.y, p.n).unroll(p.x).unroll(p.c);
        if (spec.axis_x().kernel <= 7) update.unroll(p.r.x);
        if (spec.axis_y().kernel <= 3) update.unroll(p.r.y);
        return p;
    }

    // Layers with groups == 1 share their input across the block's channels: the sum runs
    // over chunks of input channels, each chunk's input tile (with halo) and weights
    // staged in shared memory by the whole block. `conv` holds the block's tile in shared
    // memory and adds one chunk at a time; each chunk's partial sums are a register tile
    // per thread (rfactor: the same sum, reassociated by chunk).
    RVar rzo("rzo"), rzi("rzi");
    Var chunk("chunk");
    update.split(p.r.z, rzo, rzi, t.channel_chunk);
    Func partial = update.rfactor(rzo, chunk);

    // A ragged last tile is still computed whole (the input is read through its padding
    // mode, defined everywhere), so every block's tile has one constant size.
    conv.compute_at(output, xo)
        .store_in(MemoryType::GPUShared)
        .align_bounds(p.x, t.tile_x())
        .bound_extent(p.x, t.tile_x())
        .align_bounds(p.c, t.tile_c())
        .bound_extent(p.c, t.tile_c())
        .bound_extent(p.y, is_2d ? t.threads_y : 1)
        .bound_extent(p.n, 1);
    if (is_2d) conv.align_bounds(p.y, t.threads_y);
    // A thread's outputs_x pixels are adjacent here: its partial sums then cover a dense
    // run of the staged input.
    for (Stage stage : {Stage(conv), update}) {
        stage.split(p.x, xt, xr, t.outputs_x).split(p.c, ct, cr, t.outputs_c).unroll(xr).unroll(cr);
    }
    conv.reorder(xr, cr, xt, p.y, ct, p.n);
    map_threads(conv, p.y);
    update.reorder(xr, cr, xt, p.y, ct, rzo, p.n);  // chunks outside the threads: block-wide
    map_threads(update, p.y);

    // One chunk's sums for one thread: its register tile, over the chunk's channels and
    // every tap (unrolled along x).
    partial.compute_at(conv, xt)
        .store_in(MemoryType::Register)
        .unroll(p.x)
        .unroll(p.c);
    Stage partial_update = partial.update();
    partial_update.reorder(p.x, p.c, p.r.x, p.r.y, rzi, p.y, p.n, chunk).unroll(p.x).unroll(p.c);
    if (spec.axis_x().kernel <= 7) partial_update.unroll(p.r.x);
    if (spec.axis_y().kernel <= 3) partial_update.unroll(p.r.y);

    // Per chunk: the input tile the block reads and the weights of its channel tile,
    // copied to shared memory by the block's threads.
    Func input_tile = p.conv_input.in(partial);
    input_tile.compute_at(conv, rzo);
    const std::vector<Var> in_args = input_tile.args();  // (x, [phase,] y, c, n)
    const Var tile_x = in_args.front(), tile_y = in_args[in_args.size() - 3], tile_c = in_args[in_args.size() - 2];
    Var txo("txo"), txi("txi"), tyo("tyo"), tyi("tyi"), tco("tco"), tci("tci");
    input_tile.split(tile_x, txo, txi, t.threads_x, TailStrategy::GuardWithIf)
        .split(tile_c, tco, tci, t.threads_c, TailStrategy::GuardWithIf);
    if (is_2d) {
        input_tile.split(tile_y, tyo, tyi, t.threads_y, TailStrategy::GuardWithIf)
            .reorder(txi, tyi, tci, txo, tyo, tco)
            .gpu_threads(txi, tyi, tci);
    } else {
        input_tile.reorder(txi, tci, txo, tco).gpu_threads(txi, tci);
    }

    // weight(co % 16, kx, ky, ci, co / 16): the 16 lanes of a channel block across x
    // threads, the rest spread over the other thread dimensions.
    ImageParam weight = inputs.weight;
    Func weight_tile = weight.in();
    weight_tile.compute_at(conv, rzo);
    const std::vector<Var> w = weight_tile.args();
    Var taps("taps"), tap_o("tap_o"), tap_y("tap_y"), tap_c("tap_c");
    weight_tile.fuse(w[1], w[2], taps).fuse(taps, w[3], taps).fuse(taps, w[4], taps);
    if (is_2d) {
        weight_tile.split(taps, taps, tap_y, t.threads_y, TailStrategy::GuardWithIf)
            .split(taps, tap_o, tap_c, t.threads_c, TailStrategy::GuardWithIf)
            .reorder(w[0], tap_y, tap_c, tap_o)
            .gpu_threads(w[0], tap_y, tap_c);
    } else {
        weight_tile.split(taps, tap_o, tap_c, t.threads_c, TailStrategy::GuardWithIf)
            .reorder(w[0], tap_c, tap_o)
            .gpu_threads(w[0], tap_c);
    }
    return p;
}

}  // namespace convgen
