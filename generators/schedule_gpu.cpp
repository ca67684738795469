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
// neighbouring pixels (coalesced rows of NCHW). (The split-K output kernel below reads no
// shared memory: a thread's pixels are adjacent there.)
//
// Split-K: a layer whose output alone is too few blocks to fill a GPU (small planes, many
// channels: ResNet's later stages at batch 1) splits its input channels into slices. One
// kernel sums each slice as above, its blocks over (tiles x slices); a second adds the
// slices, the bias and the activation. The same sum, reassociated by slice.
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
    int split_k = 1;  // slices of the input channels summed by separate blocks (staged only)

    int tile_x() const { return threads_x * outputs_x; }
    int tile_c() const { return threads_c * outputs_c; }
    int threads() const { return threads_x * threads_y * threads_c; }
};

// Shared memory a block may take: CUDA's limit without opting in to more (Halide 14 does
// not); OpenCL guarantees only 32 KiB of local memory, which some GPUs have.
int shared_memory_limit(const Target &target) { return target.has_feature(Target::OpenCL) ? 32 * 1024 : 48 * 1024; }
// Threads a block may have: every block of up to 512 threads in the H200 sweeps launched
// with the 128 registers a thread the runtime loads kernels with (runtime/src/aot_kernel.cpp).
constexpr int kMaxThreads = 512;
// Slices a default split-K makes at most.
constexpr int kMaxDefaultSlices = 8;

// Shared memory a block takes: the output tile it accumulates, and per chunk of input
// channels its input tile with halo and its weights.
int64_t shared_bytes(const ConvSpec &spec, const GpuTiling &t, int chunk) {
    const AxisParams ax = spec.axis_x(), ay = spec.axis_y();
    const int64_t staged_width = int64_t{t.tile_x() - 1} * ax.stride + ax.dilated_extent();
    const int64_t staged_rows = int64_t{t.threads_y - 1} * ay.stride + ay.dilated_extent();
    const int64_t accumulators = int64_t{t.tile_x()} * t.threads_y * t.tile_c();
    return 4 * (accumulators + chunk * (staged_width * staged_rows + int64_t{t.tile_c()} * ax.kernel * ay.kernel));
}

// The default threads and register tile of a layer class (before any knobs).
GpuTiling default_gpu_tiling(const ConvSpec &spec) {
    GpuTiling t;
    const bool is_2d = spec.dims == 2;
    if (spec.groups > 1) {
        // A thread's channels stay within one group (and within C_out), so its taps read
        // only its group's input channels.
        t.outputs_c = spec.out_channels_per_group() % 4 == 0 ? 4 : spec.out_channels_per_group() % 2 == 0 ? 2 : 1;
    }
    if (spec.groups > 1 && spec.in_channels_per_group() == 1) {
        // Depthwise: nothing shared between channels; wide rows of pixels per block.
        t.threads_x = 32;
        t.threads_c = is_2d ? 2 : 8;
        t.outputs_c = 1;
    } else if (!is_2d) {
        // Conv1d: no rows, so more channels per block.
        t.threads_c = 8;
        t.outputs_x = 4;
    } else if (spec.groups == 1) {
        // Conv2d: 2 x 8 outputs per thread, a block 32 pixels x 2 rows x 32 channels. On an
        // H200 the best or within 10% of the best of the tilings tried on every such layer
        // of the suite but the 7x7 stem (bench/RESULTS-gpu.md).
        t.threads_y = 2;
        t.outputs_c = 8;
    }
    if (!is_2d) t.threads_y = 1;
    return t;
}

// The largest chunk of input channels whose staged tiles fit, dividing each slice's
// channels; layers with groups > 1 are not staged (0).
int default_channel_chunk(const ConvSpec &spec, const GpuTiling &t, int split_k, int64_t shared_limit) {
    if (spec.groups > 1) return 0;
    const int slice = spec.in_channels_per_group() / std::max(split_k, 1);
    for (int chunk : {16, 8, 4, 3, 2, 1}) {
        if (slice % chunk == 0 && shared_bytes(spec, t, chunk) <= shared_limit) return chunk;
    }
    return 0;  // not even one channel's tile fits: read through the caches
}

// Split-K by default, by channels alone: a build cannot know the plane (the input's size is
// a run-time property). Measured on an H200 over the suite (bench/RESULTS-gpu.md): Conv2d
// wants slices of 8 input channels (3x3 layers: 72 FMAs per output per slice) up to 8
// slices; Conv1d, and the pointwise layers that run as one over the flattened plane, only
// slices of 64 or more (long sequences already fill the GPU).
int default_split_k(const ConvSpec &spec) {
    if (spec.groups > 1) return 1;
    const int channels = spec.in_channels_per_group(), min_slice = spec.dims == 2 ? 8 : 64;
    int split = 1;
    while (2 * split <= kMaxDefaultSlices && channels % (2 * split) == 0 && channels / (2 * split) >= min_slice) {
        split *= 2;
    }
    return split;
}

GpuTiling choose_gpu_tiling(const ConvSpec &spec, const ScheduleKnobs &knobs, const Target &target) {
    const int64_t shared_limit = shared_memory_limit(target);
    GpuTiling t = default_gpu_tiling(spec);
    t.threads_x = knobs.get("threads_x", t.threads_x);
    t.threads_y = spec.dims == 2 ? knobs.get("threads_y", t.threads_y) : 1;
    t.threads_c = knobs.get("threads_c", t.threads_c);
    t.outputs_x = knobs.get("outputs_x", t.outputs_x);
    t.outputs_c = knobs.get("outputs_c", t.outputs_c);
    if (t.threads() > kMaxThreads) {
        knob_error("a block of " + std::to_string(t.threads()) + " threads: at most " + std::to_string(kMaxThreads) +
                   " (the kernels are loaded with up to 128 registers per thread)");
    }
    // The chunk follows the tile the knobs made (a larger tile stages less per channel)
    // and the split; a default split gives way to a chunk the knobs set.
    t.split_k = knobs.get("split_k", default_split_k(spec));
    t.channel_chunk = knobs.get("channel_chunk", default_channel_chunk(spec, t, t.split_k, shared_limit));
    while (!knobs.has("split_k") && t.split_k > 1 &&
           (t.channel_chunk == 0 || spec.in_channels_per_group() % (t.split_k * t.channel_chunk) != 0)) {
        t.split_k /= 2;
    }
    if (t.split_k > 1 && t.channel_chunk == 0) knob_error("split_k: only staged layers (channel_chunk > 0) split");
    if (spec.in_channels_per_group() % t.split_k != 0) {
        knob_error("split_k=" + std::to_string(t.split_k) + " must divide the " +
                   std::to_string(spec.in_channels_per_group()) + " input channels");
    }
    if (t.channel_chunk > 0) {
        if (spec.groups > 1) knob_error("channel_chunk: grouped layers are not staged (use channel_chunk=0)");
        if (spec.in_channels_per_group() % (t.channel_chunk * t.split_k) != 0) {
            knob_error("channel_chunk=" + std::to_string(t.channel_chunk) + " must divide the " +
                       std::to_string(spec.in_channels_per_group() / t.split_k) + " input channels of " +
                       (t.split_k > 1 ? "a slice" : "the layer"));
        }
        if (kPackedChannelMultiple % t.tile_c() != 0) {
            knob_error("threads_c x outputs_c = " + std::to_string(t.tile_c()) + " must divide " +
                       std::to_string(kPackedChannelMultiple) + " (the packed weights' channel padding)");
        }
        if (shared_bytes(spec, t, t.channel_chunk) > shared_limit) {
            knob_error("this tile with channel_chunk=" + std::to_string(t.channel_chunk) + " takes " +
                       std::to_string(shared_bytes(spec, t, t.channel_chunk)) + " bytes of shared memory: more than the " +
                       std::to_string(shared_limit) + " a block may take here");
        }
    } else if (spec.out_channels_per_group() % t.outputs_c != 0) {
        knob_error("outputs_c=" + std::to_string(t.outputs_c) + " must divide the " +
                   std::to_string(spec.out_channels_per_group()) + " output channels of a group");
    }
    return t;
}

}  // namespace

ConvPipeline gpu_pipeline(const ConvSpec &spec, const ConvInputs &inputs, const Target &target,
                          const ScheduleKnobs &knobs) {
    const GpuTiling t = choose_gpu_tiling(spec, knobs, target);  // CUDA and OpenCL: one schedule
    DefineOptions options;
    options.zero_padding = ZeroPadding::BoundaryCondition;  // tiles of the input are staged, not planes
    ConvPipeline p = define_conv(spec, inputs, ConvDomain::Spatial, options);
    const bool is_2d = spec.dims == 2;
    const bool staged = t.channel_chunk > 0;
    const bool split = t.split_k > 1;

    Var xo("xo"), xi("xi"), xr("xr"), xt("xt"), yo("yo"), yt("yt"), co("co"), ci("ci"), cr("cr"), ct("ct"),
        slice("slice");
    // Tiles `f` (output, or the slices' sums) into blocks over (x tile [x slice], [row
    // tile,] channel tile x image) and threads, each thread's register tile innermost; the
    // slices share grid x (up to 2^31 - 1 blocks) rather than the channel-and-image axis
    // (65535 on CUDA). Returns the block loop a kernel's shared tiles are computed at.
    // `strided`: a thread's pixels are threads_x apart, for a tile read from shared memory
    // (neighbouring threads take neighbouring pixels: coalesced stores); otherwise adjacent,
    // the run a register accumulator covers. `channel_tiles`: the guard on channels falls
    // on whole tiles (their accumulators read zero-padded weights past C_out); otherwise
    // outputs_c divides C_out and the guard falls on whole threads, which then compute
    // nothing (their taps would read input channels past C_in).
    auto tile_into_blocks = [&](Func f, bool strided, bool channel_tiles, bool has_slices) {
        f.split(p.x, xo, xi, t.tile_x(), TailStrategy::GuardWithIf);
        if (strided) {
            f.split(xi, xr, xt, t.threads_x);
        } else {
            f.split(xi, xt, xr, t.outputs_x);
        }
        if (channel_tiles) {
            f.split(p.c, co, ci, t.tile_c(), TailStrategy::GuardWithIf).split(ci, ct, cr, t.outputs_c);
        } else {
            Var cq("cq");
            f.split(p.c, cq, cr, t.outputs_c).split(cq, co, ct, t.threads_c, TailStrategy::GuardWithIf);
        }
        f.unroll(xr).unroll(cr);
        // Loop order, innermost first: the register tile, the threads, then the blocks: x
        // tiles [x slices], rows of tiles (Conv1d's slice sums: their unit y, which fused
        // into the channel blocks made Halide 14 compute wrong tiles for every image past
        // the first), channel tiles x images.
        std::vector<VarOrRVar> order = {xr, cr, xt};
        if (is_2d) {
            f.split(p.y, yo, yt, t.threads_y, TailStrategy::GuardWithIf);
            order.push_back(yt);
        }
        order.insert(order.end(), {ct, xo});
        if (has_slices) order.push_back(slice);
        const bool block_rows = is_2d || has_slices;
        const Var rows = is_2d ? yo : p.y;
        if (block_rows) order.push_back(rows);
        order.insert(order.end(), {co, p.n});
        f.reorder(order);
        Var blocks_x = xo, blocks_c("block_c");
        if (has_slices) {
            blocks_x = Var("x_slice");
            f.fuse(xo, slice, blocks_x);
        }
        f.fuse(co, p.n, blocks_c);
        if (block_rows) {
            f.gpu_blocks(blocks_x, rows, blocks_c);
        } else {
            f.gpu_blocks(blocks_x, blocks_c);
        }
        if (is_2d) {
            f.gpu_threads(xt, yt, ct);
        } else {
            f.gpu_threads(xt, ct);
        }
        return blocks_x;
    };
    // `sum`, computed per thread of `consumer` into registers: its outputs_x x outputs_c
    // tile, its update's loops `reduction` (outermost last) with the tile unrolled inside.
    auto sum_in_registers = [&](Func sum, Func consumer, std::vector<VarOrRVar> reduction) {
        sum.compute_at(consumer, xt)
            .store_in(MemoryType::Register)
            .bound_extent(p.x, t.outputs_x)
            .align_bounds(p.c, t.outputs_c)
            .bound_extent(p.c, t.outputs_c)
            .bound_extent(p.y, 1)
            .bound_extent(p.n, 1)
            .unroll(p.x)
            .unroll(p.c);
        std::vector<VarOrRVar> order = {p.x, p.c};
        order.insert(order.end(), reduction.begin(), reduction.end());
        order.insert(order.end(), {p.y, p.n});
        sum.update().reorder(order).unroll(p.x).unroll(p.c);
    };

    Var tile_loop = tile_into_blocks(p.output, staged && !split, staged, false);
    if (!staged) {
        // Grouped and depthwise: each thread accumulates its register tile, reading the
        // input and weights through the caches. Edge threads compute a whole tile too
        // (the input is read through its padding mode; weights are padded to 32 channels).
        sum_in_registers(p.conv, p.output, {p.r.x, p.r.y, p.r.z});
        if (spec.axis_x().kernel <= 7) p.conv.update().unroll(p.r.x);
        if (spec.axis_y().kernel <= 3) p.conv.update().unroll(p.r.y);
        return p;
    }

    // Layers with groups == 1 share their input across the block's channels: the sum runs
    // over chunks of input channels, each chunk's input tile (with halo) and weights
    // staged in shared memory by the whole block. The block's accumulators `acc` (conv, or
    // the sums of the slices) live in shared memory and add one chunk at a time; each
    // chunk's partial sums are a register tile per thread (rfactor: the same sum,
    // reassociated by chunk). `block` is the kernel whose blocks hold them.
    Func acc = p.conv, block = p.output;
    RVar channels = p.r.z;
    if (split) {
        // conv = bias + the sum over slices of slice_sums(x, y, c, n, slice), each the sum of
        // the taps of in_channels / split_k input channels; `block` copies a block's slice
        // sums from shared memory to global, where the output kernel adds them up.
        RVar slice_index("slice_index"), slice_channel("slice_channel");
        p.conv.update().split(p.r.z, slice_index, slice_channel, spec.in_channels_per_group() / t.split_k);
        acc = p.conv.update().rfactor(slice_index, slice);
        block = acc.in(p.conv);
        block.compute_root();
        tile_loop = tile_into_blocks(block, true, true, true);
        sum_in_registers(p.conv, p.output, {slice_index});
        channels = slice_channel;
    }
    Stage update = acc.update();
    RVar rzo("rzo"), rzi("rzi");
    Var chunk("chunk");
    update.split(channels, rzo, rzi, t.channel_chunk);
    Func partial = update.rfactor(rzo, chunk);

    // A ragged last tile is still computed whole (the input is read through its padding
    // mode, defined everywhere), so every block's tile has one constant size.
    acc.compute_at(block, tile_loop)
        .store_in(MemoryType::GPUShared)
        .align_bounds(p.x, t.tile_x())
        .bound_extent(p.x, t.tile_x())
        .align_bounds(p.c, t.tile_c())
        .bound_extent(p.c, t.tile_c())
        .bound_extent(p.y, is_2d ? t.threads_y : 1)
        .bound_extent(p.n, 1);
    if (is_2d) acc.align_bounds(p.y, t.threads_y);
    if (split) acc.bound_extent(slice, 1);
    // A thread's outputs_x pixels are adjacent here: its partial sums then cover a dense
    // run of the staged input.
    for (Stage stage : {Stage(acc), update}) {
        stage.split(p.x, xt, xr, t.outputs_x).split(p.c, ct, cr, t.outputs_c).unroll(xr).unroll(cr);
    }
    auto map_threads = [&](Stage stage) {
        if (is_2d) {
            stage.gpu_threads(xt, p.y, ct);
        } else {
            stage.gpu_threads(xt, ct);
        }
    };
    Stage(acc).reorder(xr, cr, xt, p.y, ct, p.n);
    map_threads(acc);
    update.reorder(xr, cr, xt, p.y, ct, rzo, p.n);  // chunks outside the threads: block-wide
    map_threads(update);

    // One chunk's sums for one thread: its register tile, over the chunk's channels and
    // every tap (unrolled along x).
    // The channels of a thread's tile are one vector where the width is one OpenCL has
    // (2, 4, 8, 16): its weights then come from shared memory in vector loads (ld.shared.v2
    // for 8 channels: 66 loads per 144 FMAs instead of 102 on a 3x3 layer).
    partial.compute_at(acc, xt).store_in(MemoryType::Register).reorder(p.c, p.x).unroll(p.x);
    Stage partial_update = partial.update();
    partial_update.reorder(p.c, p.x, p.r.x, p.r.y, rzi, p.y, p.n, chunk).unroll(p.x);
    const bool vector_channels = t.outputs_c == 2 || t.outputs_c == 4 || t.outputs_c == 8 || t.outputs_c == 16;
    for (Stage stage : {Stage(partial), partial_update}) {
        if (vector_channels) {
            stage.vectorize(p.c);
        } else {
            stage.unroll(p.c);
        }
    }
    if (spec.axis_x().kernel <= 7) partial_update.unroll(p.r.x);
    if (spec.axis_y().kernel <= 3) partial_update.unroll(p.r.y);

    // Per chunk: the input tile the block reads and the weights of its channel tile,
    // copied to shared memory by the block's threads.
    Func input_tile = p.conv_input.in(partial);
    input_tile.compute_at(acc, rzo);
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
    weight_tile.compute_at(acc, rzo);
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
