// CPU SIMD schedules for define_conv's pipeline, one loop nest per layer class.
//
// User tensors are PyTorch's NCHW; weights arrive packed with output channels innermost
// (convgen/weight_layout.h). Two ways to fill a SIMD register:
//   - ChannelTiles (most Conv2d): vectors across output channels; the accumulators are
//     channel_tile channels x `pixels` flat output pixels, each reduction step loads one
//     weight vector per channel vector and broadcasts one input value per pixel. Any
//     stride, any plane size.
//   - Vectors along x (Conv1d, depthwise, narrow groups, stems): the accumulators are
//     channel_block channels x rows x x_vectors vectors of output width; each step
//     broadcasts one weight per channel and loads one input vector per row.
// Either way the tile stays in registers for the whole (ci, ky, kx) reduction, and the
// padded input is materialized (boundary resolved once, strided x-vector layers split
// into phases) so the FMA loops read a dense buffer with no edge logic.
#include "conv_pipeline.h"

#include <algorithm>

#include "convgen/weight_layout.h"
#include "schedule_knobs.h"

namespace convgen {

using namespace Halide;

namespace {

// The loop nests, by layer class.
enum class Plan {
    ChannelTiles, // vectors across output channels x a run of flat pixels; tasks over
                  // (channel tile, row chunk, image)
    Conv2d,       // channels of a block share input loads; tasks over (channel block, row tile)
    Depthwise2d,  // one input channel per output channel; tasks over channel chunks
    Conv1d,       // strided (and unpadded sequences read in place): tasks over (column chunk, batch)
    Sequences,    // stride 1: tiles run across sequences laid end to end; a task per strip
};

struct CpuTiling {
    Plan plan = Plan::ChannelTiles;
    int vector_width = 0;       // floats per SIMD register
    // ChannelTiles
    int channel_tile = 0;       // output channels per register tile (whole vectors)
    int pixels = 0;             // flat pixels per register tile
    // Vectors along x (Conv2d, Depthwise2d, Conv1d)
    int x_vectors = 1;          // vectors along the output width per tile
    int rows = 1;               // output rows per tile (1 for Conv1d)
    int narrow_rows = 0;        // Depthwise2d on padded planes: rows per tile on planes whose
                                // padded rows fit one tile (0 or `rows`: the same tile for all)
    int channel_block = 1;      // output channels per tile
    bool channels_inner = false;  // Conv2d, ChannelTiles: consecutive tasks are a row chunk's
                                  // channel blocks (channel tiles: where the input outgrows L2)
    int row_tiles_per_task = 4; // Conv2d
    int channels_per_task = 8;  // Depthwise2d
    int tiles_per_task = 8;     // Conv1d, Sequences: tiles along x per task
    int task_pixels = 256;      // ChannelTiles: about this many output pixels per task
    int reduction_split = 0;    // ChannelTiles: input channels per inner chunk (0: no split)
    bool skip_taps = false;     // ChannelTiles: outputs of kRowTilesSkippingTaps tiles skip the
                                // taps in zero padding (conv_pipeline.h, second_sum)
    bool unroll_kx = true;
    // The last tile along x stored through a mask rather than shifted inwards, so that
    // planes narrower than a tile (14 wide on 16 lanes) still take the vectorized nest.
    bool masked_x_tail = false;
    // Whether masked stores cost about what plain ones do (AVX-512's mask registers). AVX2's
    // VMASKMOVPS store is slow on AMD cores (mobilenet_dw_14 1.3x slower than with its
    // rows' last tiles shifted inwards, when its tiles were one vector), so there rows at
    // least a tile wide shift and only narrower ones (7 wide on 8 lanes; 8-15 wide on the
    // 2-vector depthwise tiles, mobilenet_dw_14's 14 among them) use masks.
    bool cheap_masked_stores = false;
    enum class PaddedAt { Image, Task, Inline } padded_at = PaddedAt::Image;

    int tile_width() const { return vector_width * x_vectors; }
};

// Sequences: outputs per tile of a strip of several sequences, x_vectors vectors, at most
// 16 outputs or 2 vectors, whichever is more. On AVX2 tiles of 2 x 8 lanes ran
// textcnn_conv1d 1.12x faster than the 3 x 8 that suit long sequences (Whisper 1.10x the
// other way); on AVX-512 (Zen 5) 2 x 16 lanes 1.09x faster than 1.
int staged_strip_tile(const CpuTiling &t) {
    return t.vector_width * std::min(t.x_vectors, std::max(2, 16 / t.vector_width));
}

// ChannelTiles with skipped taps: pixels per register tile along a row (2 channel vectors x
// 7 pixels: 14 accumulators), and the rows they are summed on, in tiles: ResNet's planes,
// 7 to 56 wide. Each width is one more copy of the unrolled tiles' code; other widths
// take flat pixels over a zero-padded copy.
constexpr int kRowTile = 7;
constexpr int kRowTilesSkippingTaps[] = {1, 2, 4, 8};

// The widest input along an axis whose output is `output_size` long: PyTorch's
// floor((in + pads - dilated_extent) / stride) + 1 solved for `in`, the largest solution.
int widest_input_size(const AxisParams &a, int output_size) {
    return (output_size - 1) * a.stride + a.dilated_extent() - a.pad_begin - a.pad_end + a.stride - 1;
}

// About the L2 cache of one core (1 MiB on Zen 4 and Skylake-SP).
constexpr int64_t kL2Bytes = int64_t(1) << 20;

int largest_divisor(int n, std::initializer_list<int> candidates) {
    for (int c : candidates)
        if (n % c == 0) return c;
    return 1;
}

// 32 vector registers (AVX-512, AArch64) rather than 16 (AVX2, SSE).
int vector_registers(const Target &target) {
    return target.has_feature(Target::AVX512) || (target.arch == Target::ARM && target.bits == 64) ? 32 : 16;
}

// Tile sizes measured on the benchmark suite (bench/RESULTS.md). A tile needs enough
// independent FMA chains to cover the FMA latency, and few enough registers that LLVM
// keeps the accumulators, the operands and a broadcast in registers.
CpuTiling default_tiling(const ConvSpec &spec, const Target &target) {
    CpuTiling t;
    t.vector_width = target.natural_vector_size<float>();
    t.cheap_masked_stores = target.has_feature(Target::AVX512);
    t.unroll_kx = spec.axis_x().kernel <= 7;
    const bool many_registers = vector_registers(target) == 32;
    // The two x86 targets whose tiles were measured apart (16 and 8 lanes; SSE and NEON keep
    // the shared defaults).
    const bool avx512 = t.vector_width >= 16, avx2 = !many_registers && t.vector_width == 8;
    // Tasks (row_tiles_per_task, channels_per_task, tiles_per_task: the defaults) of tens
    // of microseconds: cheap to hand out, enough to balance.

    // Channel tiles: one weight vector per group of output channels, one input broadcast
    // per pixel; AVX-512: 2 vectors x 10 pixels, AVX2: 2 x 6, SSE: 4 x 3 (20 or 12
    // accumulators), NEON: 4 x 6 (24 of its 32 registers; fmla takes the broadcast as a
    // lane operand). 10 pixels rather than 12: a 7x7 plane is 5 tiles with one pixel to
    // spare, and 12 measured no faster on larger planes. A vector of output channels must
    // stay within one group. Stems with a handful of input channels (RGB) have too short a
    // reduction to pay for moving each output out of a channel vector: they keep vectors
    // along x.
    t.channel_tile = std::min(kPackedChannelMultiple, 2 * std::max(t.vector_width, 8));
    const int accumulators = !many_registers ? 12 : t.vector_width == 16 ? 20 : 24;
    t.pixels = accumulators / (t.channel_tile / t.vector_width);
    // Conv1d keeps vectors along x. Channel tiles (measured as the same layer written as a
    // one-row Conv2d) are 1.2x faster on short text (34 outputs per sequence) but 12-16%
    // slower on the long Whisper and WaveNet sequences, and the length is only known at
    // run time.
    const bool channels_vectorize =
        spec.dims == 2 && spec.in_channels_per_group() >= 8 &&
        (spec.groups == 1 || spec.out_channels_per_group() % t.channel_tile == 0);
    // Small weights stay in cache across every channel block: hand out a row chunk's
    // channel blocks one after another so its input rows are reused while hot (channel
    // tiles only where an image's input outgrows L2: schedule_channel_tiles). Large
    // weights: a channel block's row chunks one after another, its weights hot. Groups:
    // channel blocks outermost whatever the weights, so each thread's share of the tasks
    // reads the input channels of its own groups, the ones its share of the padded image's
    // channels filled (the pool hands both loops out in the same contiguous halves):
    // resnext_grouped_3x3 on 2 threads 0.19 ms, from 0.24 ms, and from 0.50 ms while the
    // host keeps the two vCPUs far apart; 1 thread 1-2% faster.
    const int64_t weight_bytes = int64_t(4) * spec.out_channels * spec.in_channels_per_group() *
                                 spec.kernel_size[0] * spec.kernel_size[1];
    t.channels_inner = spec.groups == 1 && weight_bytes <= 256 * 1024;
    if (channels_vectorize) {
        t.plan = Plan::ChannelTiles;
    } else if (spec.dims == 1) {
        t.plan = spec.axis_x().stride == 1 ? Plan::Sequences : Plan::Conv1d;
        t.padded_at = CpuTiling::PaddedAt::Task;
        if (many_registers) {
            // Up to 10 channels x 2 vectors: 16-20 independent FMA chains, what two FMA
            // pipes of 4-cycle latency need with slack for the loads (Zen 5: 1.2-1.3x on the
            // long Whisper and WaveNet layers and res2_1x1's 3136 pixels over one vector).
            // (Zen 4, one 512-bit FMA a cycle, had measured one vector 1.01-1.04x faster.)
            t.channel_block = largest_divisor(spec.out_channels_per_group(), {10, 8, 6, 5, 4, 3, 2});
            t.x_vectors = 2;
            // Tasks of 128 outputs, 4 such tiles (as 8 one-vector tiles before): a strip's
            // input channels stay nearer L1, and res2_1x1's 3136 pixels are 25 tasks, not 13
            // (on 2 threads 1.1x, on 1 thread 1.03x; the strided Whisper layer 1.05x, WaveNet
            // 0.98x). Where 16 or more channel blocks read a task's input in turn, 64 outputs:
            // res2_1x1 (32 blocks) and the strided Whisper layer (48) 1.03x, Whisper's first
            // 1.01x, Conv1d(64, 256, 3) 1.01-1.02x; with 8 blocks (WaveNet, Conv1d(384, 64, 3))
            // 0.96-0.99x.
            if (avx512) t.tiles_per_task = spec.out_channels_per_group() / t.channel_block >= 16 ? 2 : 4;
        } else {
            t.channel_block = largest_divisor(spec.out_channels_per_group(), {4, 3, 2});
            t.x_vectors = std::max(1, std::min(3, 12 / t.channel_block));
        }
    } else if (spec.in_channels_per_group() == 1) {
        // Depthwise: nothing to share between channels (and Halide 14 emits misaligned
        // aligned loads for strided reads from several padded planes in one tile). Full
        // vectors, the last one of a row masked: a 14-wide plane is one 16-lane vector per
        // row, its two extra lanes computed from the padding and never stored.
        t.plan = Plan::Depthwise2d;
        t.padded_at = CpuTiling::PaddedAt::Task;
        t.masked_x_tail = true;
        t.channel_block = 1;
        t.rows = 4;
        t.x_vectors = 1;
        // Planes one vector wide (14x14, 7x7 on AVX-512) run 1.1-1.2x faster in tiles of 7
        // rows: a 14-row plane in two tiles instead of four overlapping ones. On wide
        // planes 7 rows are 1.3x slower (LLVM keeps the ky steps a loop, reloading every
        // input row; unrolling them costs the narrow planes as much), so the tile is
        // chosen at run time by the plane's width.
        t.narrow_rows = many_registers ? 7 : t.rows;
        if (avx2) {
            // AVX2 (Zen 5): tiles of 2 rows x 2 vectors, a 14-wide plane's rows one tile
            // wide (16 lanes, no overlapping second vector), narrow planes in tiles of 5
            // rows (10 accumulators of the 16 registers): mobilenet_dw_14 1.16x and
            // mobilenet_dw_112 1.07x over 4 rows x 1 vector.
            t.rows = 2;
            t.x_vectors = 2;
            t.narrow_rows = 5;
        }
    } else {
        t.plan = Plan::Conv2d;
        // The channels of a block share every input load, so a block stays within a group.
        t.channel_block = largest_divisor(spec.out_channels_per_group(), {4, 3, 2});
        // Stride 1 with a real kernel: rows share the broadcast weights and the tile
        // stays one vector wide, so small images waste little. Strided and 1x1 layers:
        // one row, vectors along x (as measured on Zen 4), except on AVX-512 and AVX2 below.
        const bool wide = spec.stride[1] > 1 || (spec.kernel_size[0] == 1 && spec.kernel_size[1] == 1);
        t.rows = wide ? 1 : many_registers ? 4 : 2;
        const int accumulators = many_registers ? 16 : 8;
        // AVX-512, strided or 1x1: up to 8 channels x 2 rows x 1 vector rather than 4 x 1 x
        // 4, so a 112-wide row is 7 whole tiles, not 2 overlapping ones (1.13x on the 7x7
        // stem), and each broadcast weight serves two rows: 1.15x over 16 channels x 1 row
        // on Zen 5, whose two FMA pipes the loads of one row's tile (17 per 16 FMAs) held back.
        if (wide && avx512) {
            t.channel_block = largest_divisor(spec.out_channels_per_group(), {8, 6, 4, 3, 2});
            t.rows = 2;
        }
        // AVX2, strided or 1x1: 4 channels x 3 rows x 1 vector, 12 chains rather than the
        // 8 of 4 x 1 x 2 (the stem 1.13x on Zen 5).
        if (wide && avx2) t.rows = 3;
        t.x_vectors = std::max(1, std::min(4, accumulators / (t.channel_block * t.rows)));
    }
    return t;
}

// The plan for the layer on this target: the defaults above, overridden by whichever
// knobs are set (schedule_knobs.h), each checked against what the loop nests support.
CpuTiling choose_tiling(const ConvSpec &spec, const Target &target, const ScheduleKnobs &knobs) {
    CpuTiling t = default_tiling(spec, target);
    const int natural = target.natural_vector_size<float>();
    const int vector_width = knobs.get("vector_width", t.vector_width);
    if (vector_width > natural) {
        knob_error("vector_width=" + std::to_string(vector_width) + " is wider than " + target.to_string() + "'s " +
                   std::to_string(natural) + " floats");
    }
    t.vector_width = vector_width;
    const std::string vectorize = knobs.get("vectorize", t.plan == Plan::ChannelTiles ? "channels" : "x");
    if (vectorize == "channels" && t.plan != Plan::ChannelTiles) {
        if (spec.dims != 2 || (spec.groups > 1 && spec.out_channels_per_group() % kPackedChannelBlock != 0)) {
            knob_error("vectorize=channels needs a Conv2d whose groups hold whole tiles of 16 output channels");
        }
        t.plan = Plan::ChannelTiles;
        t.padded_at = CpuTiling::PaddedAt::Image;
    } else if (vectorize == "x" && t.plan == Plan::ChannelTiles) {
        t.plan = spec.in_channels_per_group() == 1 ? Plan::Depthwise2d : Plan::Conv2d;
        t.channel_block = largest_divisor(spec.out_channels_per_group(), {4, 3, 2});
        t.rows = 2;
        t.x_vectors = 2;
        t.padded_at = t.plan == Plan::Conv2d ? CpuTiling::PaddedAt::Image : CpuTiling::PaddedAt::Task;
    }
    if (t.plan == Plan::ChannelTiles) {
        // A channel tile of whole vectors that tiles the packed weights' 32 channels.
        const int tile = knobs.get("channel_tile", std::min(t.channel_tile, 2 * std::max(vector_width, 8)));
        if (tile % vector_width != 0 || kPackedChannelMultiple % tile != 0) {
            knob_error("channel_tile=" + std::to_string(tile) + " must be whole vectors of " +
                       std::to_string(vector_width) + " and divide " + std::to_string(kPackedChannelMultiple));
        }
        if (spec.groups > 1 && spec.out_channels_per_group() % tile != 0) {
            knob_error("channel_tile=" + std::to_string(tile) + " must divide the " +
                       std::to_string(spec.out_channels_per_group()) + " output channels of a group");
        }
        t.channel_tile = tile;
        t.pixels = knobs.get("pixels", t.pixels);
        t.task_pixels = knobs.get("task_pixels", t.task_pixels);
        t.reduction_split = knobs.get("reduction_split", 0);
        const bool zero_padded = spec.padding_mode == PaddingMode::Zeros && has_padding(spec);
        // Measured on AVX-512 (bench/RESULTS.md); AVX2's 16 registers would not hold 14
        // accumulators and the operands.
        t.skip_taps = knobs.get("skip_taps", zero_padded && vector_width == 16 ? 1 : 0) != 0;
        if (t.skip_taps && spec.padding_mode != PaddingMode::Zeros) {
            knob_error("skip_taps=1 needs zero padding (other modes read real values there)");
        }
        if (t.reduction_split > spec.in_channels_per_group()) {
            knob_error("reduction_split=" + std::to_string(t.reduction_split) + " is more than the " +
                       std::to_string(spec.in_channels_per_group()) + " input channels of a group");
        }
    } else {
        t.x_vectors = knobs.get("x_vectors", t.x_vectors);
        if (spec.dims == 2) t.rows = knobs.get("rows", t.rows);
        if (t.plan == Plan::Depthwise2d) t.narrow_rows = knobs.get("narrow_rows", t.narrow_rows);
        if (t.plan != Plan::Depthwise2d) {
            const int block = knobs.get("channel_block", t.channel_block);
            if (spec.out_channels_per_group() % block != 0) {
                knob_error("channel_block=" + std::to_string(block) + " must divide the " +
                           std::to_string(spec.out_channels_per_group()) + " output channels of a group");
            }
            t.channel_block = block;
        }
        const int grain = knobs.get("grain", 0);
        if (grain > 0) t.row_tiles_per_task = t.channels_per_task = t.tiles_per_task = grain;
        t.masked_x_tail = knobs.get("x_tail", t.masked_x_tail ? "masked" : "shift") == "masked";
    }
    if (t.plan == Plan::ChannelTiles || t.plan == Plan::Conv2d) {
        t.channels_inner = knobs.get("channels_inner", t.channels_inner ? 1 : 0) != 0;
    }
    t.unroll_kx = knobs.get("unroll_kx", t.unroll_kx ? 1 : 0) != 0;
    const std::string padded_at = knobs.get("padded_at", "");
    if (padded_at == "image") {
        if (t.plan == Plan::Depthwise2d || t.plan == Plan::Conv1d) {
            knob_error("padded_at=image: depthwise and Conv1d tasks span images; use task or inline");
        }
        t.padded_at = CpuTiling::PaddedAt::Image;
    }
    if (padded_at == "task") t.padded_at = CpuTiling::PaddedAt::Task;
    if (padded_at == "inline") t.padded_at = CpuTiling::PaddedAt::Inline;
    return t;
}

// The output's loop nest, innermost first, and where the input is materialized:
//   Conv2d:      xi ci yi xo yo | task = (co, yoo) or (yoo, co) | n   input per image
//   Depthwise2d: xi yi xo yo c | task = (c chunk, n)                input per task
//   Conv1d:      xi ci xo co | task = (column chunk, n)             input per task
// `tail` handles the last partial tile: ShiftInwards (recompute a few outputs, no
// branches) when the output is at least a tile in every tiled axis, else GuardWithIf;
// with masked_x_tail, vectorized x tails are GuardWithIf (masked stores) anyway.
void tile_output(Stage s, const ConvPipeline &p, const CpuTiling &t, TailStrategy tail, bool vectorize) {
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci"), task("task");
    s.split(p.x, xo, xi, t.tile_width(), vectorize && t.masked_x_tail ? TailStrategy::GuardWithIf : tail);
    if (vectorize) s.vectorize(xi, t.vector_width);
    switch (t.plan) {
    case Plan::Conv1d: {
        Var xoo("xoo");
        s.split(p.c, co, ci, t.channel_block, TailStrategy::RoundUp)
            .unroll(ci)
            .split(xo, xoo, xo, t.tiles_per_task, TailStrategy::GuardWithIf)
            .reorder(xi, ci, xo, co, xoo, p.n)
            .fuse(xoo, p.n, task);
        break;
    }
    case Plan::Depthwise2d:
        s.split(p.y, yo, yi, t.rows, tail)
            .unroll(yi)
            .split(p.c, co, p.c, t.channels_per_task, TailStrategy::GuardWithIf)
            .reorder(xi, yi, xo, yo, p.c, co, p.n)
            .fuse(co, p.n, task);
        break;
    case Plan::ChannelTiles: break;  // schedule_channel_tiles
    case Plan::Sequences: break;     // schedule_sequences
    case Plan::Conv2d: {
        Var yoo("yoo");
        s.split(p.c, co, ci, t.channel_block, TailStrategy::RoundUp)
            .unroll(ci)
            .split(p.y, yo, yi, t.rows, tail)
            .unroll(yi)
            .split(yo, yoo, yo, t.row_tiles_per_task, TailStrategy::GuardWithIf);
        if (t.channels_inner) {
            s.reorder(xi, ci, yi, xo, yo, co, yoo, p.n).fuse(co, yoo, task);
        } else {
            s.reorder(xi, ci, yi, xo, yo, yoo, co, p.n).fuse(yoo, co, task);
        }
        break;
    }
    }
    s.parallel(task);
}


// Materializes `padded` at `at`, vectorized along x (and in parallel over channels when
// asked): all its definitions when it is a zero fill followed by copies of the input.
void materialize_padded(ConvPipeline &p, LoopLevel at, int vector_width, bool parallel_channels) {
    Var xo("xo"), xi("xi");
    p.padded.compute_at(at).split(p.x, xo, xi, vector_width, TailStrategy::RoundUp).vectorize(xi);
    if (parallel_channels) p.padded.parallel(p.c);
    if (p.padded.num_update_definitions() == 0) return;
    // The zero fill walks down columns of vectors: row by row, LLVM turns each short row
    // into a call to memset, which was 30% of mobilenet_dw_14 (14x14 planes; 1.27x faster
    // with vector stores).
    p.padded.reorder(xi, p.y, xo);
    for (size_t u = 0; u < p.interior.size(); u++) {
        Stage copy = p.padded.update(u);
        copy.vectorize(p.interior[u].x, vector_width, TailStrategy::GuardWithIf);
        if (parallel_channels) copy.parallel(p.c);
    }
}

// The loops of an x-vectorized register tile of `sum` (conv or second_sum), in its
// definition and its update: `along` split into vectors (lanes vectorized, vectors
// unrolled), the tile's channels unrolled; the update runs lanes, vectors, `rows_and_channels`,
// the taps (kx, ky, ci), then `outer`. Returns the update.
Stage vectorize_register_tile(Func sum, const ConvPipeline &p, const CpuTiling &t, const Var &along,
                              std::vector<VarOrRVar> rows_and_channels, const Var &outer) {
    Var xv("xv"), xl("xl");
    sum.split(along, xv, xl, t.vector_width).vectorize(xl).unroll(xv).unroll(p.c);
    Stage update = sum.update();
    update.split(along, xv, xl, t.vector_width).vectorize(xl).unroll(xv).unroll(p.c);
    std::vector<VarOrRVar> order = {xl, xv};
    order.insert(order.end(), rows_and_channels.begin(), rows_and_channels.end());
    order.insert(order.end(), {p.r.x, p.r.y, p.r.z, outer});
    update.reorder(order);
    // Taps innermost, unrolled along x: NCHW keeps a tap's input rows adjacent, and the
    // unrolled kx loads share addressing. (Channels innermost, as for NHWC, measured
    // about 2x slower here: each step would touch another channel plane.)
    if (t.unroll_kx) update.unroll(p.r.x);
    return update;
}

// The accumulator tile of `sum` (conv or second_sum), a fixed size so it lives in registers,
// computed at the output's tile loop. At a ragged edge a full tile is still computed:
// align_extent grows the region (so bounds inference sizes the input for it: `padded` is
// defined everywhere) and bound_extent makes it constant.
void schedule_register_tile(Func sum, const ConvPipeline &p, const CpuTiling &t) {
    sum.compute_at(p.output, Var("xo")).align_extent(p.x, t.tile_width()).bound_extent(p.x, t.tile_width());
    Stage update = vectorize_register_tile(sum, p, t, p.x, {p.y, p.c}, p.n);
    if (p.spec.dims == 2) {
        sum.align_extent(p.y, t.rows).bound_extent(p.y, t.rows).unroll(p.y);
        update.unroll(p.y);
    }
}

// The output's loops for tiling `t`: outputs at least one tile wide and tall (all but toy
// sizes) take the vectorized nest, the last tile of a row shifted inwards (or, with
// masked_x_tail, stored through a mask, which lets narrower rows take it too); the rest
// keep the same loops with guarded tails.
void tile_output_for(Stage s, const ConvPipeline &p, const CpuTiling &t) {
    const Expr width = p.output.output_buffer().dim(0).extent();
    const Expr wide = width >= t.tile_width();
    const Expr tall = p.spec.dims == 2 ? p.output.output_buffer().dim(1).extent() >= t.rows : Internal::const_true();
    if (t.masked_x_tail && !t.cheap_masked_stores) {
        // Rows of whole tiles keep the masked nest, which stores none of them through a
        // mask: its loops ran mobilenet_dw_112 on AVX2 1.10x faster than the shifted one's.
        CpuTiling shifted = t;
        shifted.masked_x_tail = false;
        tile_output(s.specialize(wide && tall && width % t.tile_width() != 0), p, shifted, TailStrategy::ShiftInwards,
                    /*vectorize=*/true);
    }
    tile_output(s.specialize((t.masked_x_tail || wide) && tall), p, t, TailStrategy::ShiftInwards, /*vectorize=*/true);
    tile_output(s, p, t, TailStrategy::GuardWithIf, /*vectorize=*/false);
}

// The x-vectorized plans (Conv2d, Depthwise2d, Conv1d) over the spatial domain (or padded
// planes). With a second sum (depthwise on padded planes), planes whose padded rows fit
// one tile take taller tiles (narrow_rows) through it.
void schedule_spatial(ConvPipeline &p, const CpuTiling &t) {
    Func &output = p.output;
    if (p.second_sum.defined()) {
        CpuTiling narrow = t;
        narrow.rows = t.narrow_rows;
        tile_output_for(output.specialize(p.reads_conv), p, t);
        tile_output_for(output, p, narrow);
        schedule_register_tile(p.conv, p, t);
        schedule_register_tile(p.second_sum, p, narrow);
    } else {
        tile_output_for(output, p, t);
        schedule_register_tile(p.conv, p, t);
    }

    // The input as conv reads it, materialized so the FMA loops read a dense buffer with
    // no boundary logic.
    if (t.padded_at == CpuTiling::PaddedAt::Inline) return;
    const bool per_image = t.padded_at == CpuTiling::PaddedAt::Image;
    const LoopLevel at = per_image ? LoopLevel(output, p.n) : LoopLevel(output, Var("task"));
    if (p.domain == ConvDomain::PaddedPlanes) {
        // Planes are per task (depthwise tasks span images). The runs of zeros before and
        // after the rows walk across the task's planes, a vector of each in turn, and those
        // between rows down the rows: run by run, LLVM turns each into a call to memset
        // (mobilenet_dw_14: 3-4% of its time, when the whole plane was filled).
        // Each plane starts on a cache line (mobilenet_dw_14 on AVX2 1.05x faster than at a
        // pitch of whatever the zeros and copies cover).
        p.planes.compute_at(at).align_storage(p.p, 16);
        const std::vector<RDom> &zeros = p.plane_zeros;
        for (size_t u = 0; u < zeros.size(); u++) {
            const bool between_rows = zeros[u].dimensions() == 2;  // (before and after are one run)
            RVar vo("vo"), vi("vi");
            Stage run = p.planes.update(u);
            // (Halide's race check cannot see through the run-time pitch that the lanes of a
            // run between rows are distinct.)
            if (between_rows) run.allow_race_conditions();
            run.split(zeros[u].x, vo, vi, t.vector_width, TailStrategy::GuardWithIf)
                .vectorize(vi)
                .reorder(vi, between_rows ? VarOrRVar(zeros[u].y) : VarOrRVar(p.c), vo);
        }
        // The copy's lanes write distinct columns of one row, which Halide's race check
        // cannot prove through the run-time pitch.
        for (size_t u = 0; u < p.plane_copy.size(); u++) {
            p.planes.update(zeros.size() + u)
                .allow_race_conditions()
                .vectorize(p.plane_copy[u].x, t.vector_width, TailStrategy::GuardWithIf);
        }
    } else if (p.conv_input.name() == p.padded.name()) {
        materialize_padded(p, at, t.vector_width, per_image);
    } else {
        // Stride-split phases of the padded input, the padding inlined into them.
        p.phases.compute_at(at).vectorize(p.phases.args()[0], t.vector_width, TailStrategy::RoundUp);
        if (per_image) p.phases.parallel(p.c);
    }
}

// Sequences (Conv1d, stride 1) over its strips, each a task: a chunk of tiles_per_task
// tiles of one sequence, or whole short sequences end to end. Loop nests, innermost first:
//   one sequence per strip:  conv's register tile (lanes, x vectors, channels of a block;
//                            kx, ci) | output tile stored from registers | tiles, channel blocks
//   several per strip:       second_sum's tile | `staged`, the strip's tiles for a channel
//                            block | output rows copied out of it: x (masked tail), sequences
// and sequences(strip) scattered in first. A tile of the staged strip spans the end of one
// sequence and the start of the next, so a batch of 34-output sequences costs 35 outputs'
// work each, not 48 (three 16-lane vectors): 1.23x on textcnn_conv1d. Strips of one
// sequence skip the staging (res2_1x1 as a Conv1d of 3136 pixels: 1.2x), and unpadded ones
// the strip itself (single_in_place: tiles over the input, as for strided Conv1d).
void schedule_sequences(ConvPipeline &p, const CpuTiling &t, const SequenceStrips &strips) {
    Func &output = p.output;
    Var xo("xo"), task("task"), co("co"), ci("ci"), xt("xt"), xi("xi");
    // The register tile (channel_block x width) of a sum over strips.
    auto schedule_strip_tile = [&](Func sum, LoopLevel at, int width) {
        sum.compute_at(at).bound_extent(p.p, width).bound_extent(p.strip, 1);
        vectorize_register_tile(sum, p, t, p.p, {p.c}, p.strip);
    };
    // One sequence (or a chunk of one) per strip: output tiles are register tiles of conv,
    // stored straight from registers. Read in place, Conv1d's loop nest, its last tile
    // shifted inwards (reads_conv holds for sequences at least a tile long) so that no
    // tile reads past the input.
    if (strips.single_in_place) {
        CpuTiling in_place = t;
        in_place.plan = Plan::Conv1d;
        in_place.masked_x_tail = false;  // (x_tail=masked would run the last tile past the input)
        tile_output(output.specialize(p.reads_conv), p, in_place, TailStrategy::ShiftInwards, /*vectorize=*/true);
        schedule_register_tile(p.conv, p, in_place);
    } else {
        output.specialize(p.reads_conv)
            .split(p.x, xo, p.x, strips.chunk, TailStrategy::GuardWithIf)
            .split(p.x, xt, xi, t.tile_width(), TailStrategy::GuardWithIf)
            .split(p.c, co, ci, t.channel_block, TailStrategy::RoundUp)
            .reorder(xi, ci, xt, co, xo, p.n)
            .fuse(xo, p.n, task)
            .parallel(task)
            .vectorize(xi, t.vector_width)
            .unroll(xi)
            .unroll(ci);
        schedule_strip_tile(p.conv, LoopLevel(output, xt), t.tile_width());
    }
    // Several short sequences per strip: second_sum's tiles run across them into `staged`, which
    // a channel block at a time is copied out to the sequences' rows. Rows are shorter than
    // a chunk, so x is not split by it: iterating a 34-wide row over a chunk's 24 vectors,
    // most of them masked off, made textcnn_conv1d 1.17x slower on AVX2.
    output.split(p.x, xt, xi, t.vector_width, TailStrategy::GuardWithIf)
        .split(p.n, task, p.n, p.sequences_per_strip, TailStrategy::GuardWithIf)
        .split(p.c, co, ci, t.channel_block, TailStrategy::RoundUp)
        .reorder(xi, ci, xt, p.n, co, task)
        .parallel(task)
        .vectorize(xi);

    // The strip's sums for a channel block, staged whole (staged_strip_tile).
    const int strip_tile = staged_strip_tile(t);
    Var po("po"), pi("pi");
    Func staged = p.second_sum.in();
    staged.compute_at(output, co)
        .store_at(output, task)
        .split(p.p, po, pi, strip_tile, TailStrategy::RoundUp)
        .reorder(pi, p.c, po, p.strip)
        .vectorize(pi, t.vector_width)
        .unroll(pi)
        .unroll(p.c);

    schedule_strip_tile(p.second_sum, LoopLevel(staged, po), strip_tile);

    // The scatter's and the zeros' lanes write distinct positions (a slot is `window` wide,
    // the zeros one run), which Halide's race check cannot prove through run-time offsets.
    p.sequences.compute_at(output, task);
    p.sequences.update(0).allow_race_conditions().vectorize(p.sequence_slots.x, t.vector_width,
                                                            TailStrategy::GuardWithIf);
    p.sequences.update(1).allow_race_conditions().vectorize(p.sequence_tail.x, t.vector_width,
                                                            TailStrategy::GuardWithIf);
}

// The register tiles of a channel-tile sum, staged whole for a task. `sum` is conv over
// flat pixels (tiles of t.pixels pixels that may wrap to the next row), or, with `rows`,
// second_sum over (x, y) with tiles of kRowTile pixels within a row, on rows of
// kRowTilesSkippingTaps tiles (the only widths it is summed at), the tiles unrolled: every
// test of a skipped tap is then decided at compile time. (Rows of tiles in a loop, the
// first and last tiles split off by Halide, ran 5-25% slower than flat pixels.) Loop nests, innermost first:
//   sum:    lanes of a channel vector, channel vectors, pixels (all unrolled: the register
//           tile), kx (unrolled), ky, ci
//   stage:  the tile copied out of registers | pixel tiles | [rows of the task]
void schedule_staged_tiles(Func sum, const RDom &r, const ConvPipeline &p, const CpuTiling &t, const Var &task,
                           bool rows) {
    const int vw = t.vector_width;
    const int pixels = rows ? kRowTile : t.pixels;
    const Var &pixel = rows ? p.x : p.p;
    // One channel tile per task, stated as a constant extent: with a symbolic one,
    // Halide's bounds queries for the weight and bias grow past their ends.
    Func stage = sum.in();
    stage.compute_at(p.output, task).align_bounds(p.c, t.channel_tile).bound_extent(p.c, t.channel_tile);
    Var po("po"), pi("pi");
    // Rows: one unrolled tiling per width, by the output buffer's width (the sum is chosen
    // by the width the input gives, which a caller's output buffer may crop: such rows
    // take the last tiling, a loop of tiles).
    std::vector<Stage> unrolled;
    if (rows) {
        const Expr width = p.output.output_buffer().dim(0).extent();
        for (int tiles : kRowTilesSkippingTaps) unrolled.push_back(stage.specialize(width == tiles * kRowTile));
    }
    std::vector<Stage> tilings = unrolled;
    tilings.push_back(stage);
    for (size_t i = 0; i < tilings.size(); i++) {
        tilings[i]
            .split(pixel, po, pi, pixels, TailStrategy::RoundUp)
            .reorder(p.c, pi, po, rows ? p.y : p.n)
            .vectorize(p.c, vw)
            .unroll(p.c)
            .unroll(pi);
        if (i < unrolled.size()) {
            tilings[i].unroll(po);
            // Within it, an input of the width such rows are read from (the widest that
            // gives this output width: 56 for ResNet's 28-wide stride-2 rows), a constant, so
            // the tests of the last tile's taps against the input's right edge are decided
            // at compile time too, not branched on pixel by pixel: res2_3x3 1.035x,
            // res3_3x3_s2 1.07x. (The specialization inherits the tiling; other input
            // widths keep the run-time tests.)
            const int in_width = widest_input_size(p.spec.axis_x(), kRowTilesSkippingTaps[i] * kRowTile);
            if (in_width >= 1) tilings[i].specialize(p.input_width == in_width);
        }
    }

    Var cvo("cvo"), cvi("cvi");
    sum.compute_at(stage, po)
        .reorder_storage(p.c, pixel)
        .align_bounds(p.c, t.channel_tile)
        .bound_extent(p.c, t.channel_tile)
        .bound_extent(pixel, pixels)
        .split(p.c, cvo, cvi, vw)
        .vectorize(cvi)
        .unroll(cvo)
        .unroll(pixel);
    if (rows) sum.bound_extent(p.y, 1);
    Stage update = sum.update();
    update.split(p.c, cvo, cvi, vw)
        .vectorize(cvi)
        .unroll(cvo)
        .unroll(pixel)
        .reorder(cvi, cvo, pixel, r.x, r.y, r.z);
    if (t.reduction_split > 0) {
        // Input channels in chunks, each chunk's channels innermost of the taps.
        RVar rzo("rzo"), rzi("rzi");
        update.split(r.z, rzo, rzi, t.reduction_split, TailStrategy::GuardWithIf)
            .reorder(cvi, cvo, pixel, rzi, r.x, r.y, rzo);
    }
    if (t.unroll_kx) update.unroll(r.x);  // taps along x share addressing
}

// ChannelTiles. Loop nest of the output, innermost first:
//   output: x (vectorized), rows, channels | task = (row chunk, channel tile), the
//           channel tile varying fastest where the image's input outgrows L2
//           (channels_inner, chosen at run time) | [n]
// with the sums' tiles staged per task (schedule_staged_tiles). `stage` holds one task's
// results with pixels innermost, so output stores dense rows of NCHW; the transposition
// costs one move per output, against C_in*kH*kW/lanes FMAs per output in the sum.
void schedule_channel_tiles(ConvPipeline &p, const CpuTiling &t) {
    const int vw = t.vector_width;
    // About t.task_pixels output pixels per task: tens of microseconds of work.
    const int task_pixels = t.task_pixels;
    const bool per_image = t.padded_at == CpuTiling::PaddedAt::Image &&
                           reads_through_boundary(p.spec, ConvDomain::FlatPixels);
    Func &output = p.output;
    Var co("co"), ci("ci"), chunk("chunk"), task("task");
    // Rows split evenly into ceil(pixels / task_pixels) chunks, so no task is a sliver.
    const Expr height = output.output_buffer().dim(1).extent();
    const Expr chunks = max(1, (height * p.output_width + task_pixels - 1) / task_pixels);
    output.split(p.c, co, ci, t.channel_tile, TailStrategy::GuardWithIf)
        .split(p.y, chunk, p.y, (height + chunks - 1) / chunks, TailStrategy::GuardWithIf);
    // The tasks in either order: the inner of the two loops is fused first, so it varies
    // fastest across tasks.
    auto order_tasks = [&](Stage s, bool channels_inner) {
        const Var &inner = channels_inner ? co : chunk, &outer = channels_inner ? chunk : co;
        s.reorder(p.x, p.y, ci, inner, outer, p.n);
        if (per_image) {
            s.fuse(inner, outer, task);
        } else {
            Var chunk_co("chunk_co");
            s.fuse(inner, outer, chunk_co).fuse(chunk_co, p.n, task);
        }
        s.parallel(task);
    };
    // Flat pixels where the output reads conv: rows of at least a vector shift their last
    // one inwards, narrower ones stay scalar (where masked stores are cheap, big images
    // store a row's last vector through a mask: one copy of the nest fewer to compile).
    auto vectorize_flat_pixels = [&](Stage s, bool masked_tail) {
        if (masked_tail) {
            s.vectorize(p.x, vw, TailStrategy::GuardWithIf);
        } else {
            s.specialize(p.output_width >= vw).vectorize(p.x, vw, TailStrategy::ShiftInwards);
        }
    };
    Stage flat_pixels = p.second_sum.defined() ? output.specialize(p.reads_conv) : Stage(output);
    if (t.channels_inner) {
        // A row chunk's channel tiles one after another only where the input an image reads
        // outgrows L2 (U-Net's 64 x 128 x 128: 1.03-1.06x on 1 thread, 1.10x on 2): on
        // smaller ones the other order measured up to 1.09x faster on 2 threads while the
        // host kept the vCPUs far apart (28x28). (Rows of skipped taps, at most 56 wide,
        // keep one order: each order is one more copy of their unrolled tiles.)
        const AxisParams ax = p.spec.axis_x(), ay = p.spec.axis_y();
        const Expr image_bytes =
            cast<int64_t>(4 * p.spec.in_channels * ax.stride * ay.stride) * height * p.output_width;
        Stage outgrows_l2 = flat_pixels.specialize(image_bytes > Expr(kL2Bytes));
        order_tasks(outgrows_l2, /*channels_inner=*/true);
        vectorize_flat_pixels(outgrows_l2, /*masked_tail=*/t.cheap_masked_stores);
    }
    order_tasks(flat_pixels, /*channels_inner=*/false);
    vectorize_flat_pixels(flat_pixels, /*masked_tail=*/false);
    if (p.second_sum.defined()) {
        // Rows of skipped taps where the output reads second_sum, their ragged vector (7,
        // 14, 28 or 56 wide on 16 lanes) stored through a mask.
        order_tasks(output, /*channels_inner=*/false);
        output.vectorize(p.x, vw, TailStrategy::GuardWithIf);
        schedule_staged_tiles(p.second_sum, p.second_r, p, t, task, /*rows=*/true);
    }
    schedule_staged_tiles(p.conv, p.r, p, t, task, /*rows=*/false);

    if (per_image) {
        materialize_padded(p, LoopLevel(output, p.n), vw, /*parallel_channels=*/true);
    } else if (t.padded_at == CpuTiling::PaddedAt::Task && reads_through_boundary(p.spec, ConvDomain::FlatPixels)) {
        materialize_padded(p, LoopLevel(output, task), vw, /*parallel_channels=*/false);
    }
}

// Depthwise with stride 1 along x reads its input from padded planes (conv_pipeline.h),
// materialized as `padded` would be.
bool uses_padded_planes(const ConvSpec &spec, const CpuTiling &t) {
    return t.plan == Plan::Depthwise2d && spec.axis_x().stride == 1 && t.padded_at != CpuTiling::PaddedAt::Inline;
}

}  // namespace

std::vector<std::string> cpu_knobs_in_use(const ConvSpec &spec, const Target &target, const ScheduleKnobs &knobs) {
    const CpuTiling t = choose_tiling(spec, target, knobs);
    if (t.plan == Plan::Sequences) {
        // Strips copy their own input and store through masks, and sequences read in place
        // shift their last tile inwards: no padded_at, no x_tail.
        return {"vector_width", "unroll_kx", "x_vectors", "channel_block", "grain"};
    }
    std::vector<std::string> names = {"vectorize", "vector_width", "unroll_kx", "padded_at"};
    if (t.plan == Plan::ChannelTiles) {
        names.insert(names.end(), {"channel_tile", "pixels", "task_pixels", "reduction_split"});
        if (spec.padding_mode == PaddingMode::Zeros) names.push_back("skip_taps");
    } else {
        names.insert(names.end(), {"x_vectors", "grain", "x_tail"});
        if (spec.dims == 2) names.push_back("rows");
        if (uses_padded_planes(spec, t)) names.push_back("narrow_rows");
        if (t.plan != Plan::Depthwise2d) names.push_back("channel_block");
    }
    if (t.plan == Plan::ChannelTiles || t.plan == Plan::Conv2d) names.push_back("channels_inner");
    return names;
}

bool cpu_register_tile_fits(const ConvSpec &spec, const Target &target, const ScheduleKnobs &knobs) {
    const CpuTiling t = choose_tiling(spec, target, knobs);
    const int accumulators = t.plan == Plan::ChannelTiles ? t.channel_tile / t.vector_width * t.pixels
                                                          : t.channel_block * t.rows * t.x_vectors;
    if (uses_padded_planes(spec, t) && t.narrow_rows * t.x_vectors + 2 > vector_registers(target)) return false;
    return accumulators + 2 <= vector_registers(target);
}

ConvPipeline cpu_pipeline(const ConvSpec &spec, const ConvInputs &inputs, const Target &target,
                          const ScheduleKnobs &knobs) {
    const CpuTiling t = choose_tiling(spec, target, knobs);
    DefineOptions options;
    // A padded input read in place must be defined by its boundary condition alone.
    if (t.padded_at == CpuTiling::PaddedAt::Inline) options.zero_padding = ZeroPadding::BoundaryCondition;
    // Copies of the input into padded planes store whole vectors where masked stores are slow.
    if (!t.cheap_masked_stores && t.vector_width > 1) options.copy_vector_lanes = t.vector_width;
    if (t.plan == Plan::ChannelTiles) {
        if (t.skip_taps) {
            for (int tiles : kRowTilesSkippingTaps) options.skipped_tap_widths.push_back(tiles * kRowTile);
        }
        ConvPipeline p = define_conv(spec, inputs, ConvDomain::FlatPixels, options);
        schedule_channel_tiles(p, t);
        return p;
    }
    if (t.plan == Plan::Sequences) {
        options.strips.tile = t.tile_width();
        options.strips.chunk = t.tiles_per_task * t.tile_width();
        // Short sequences on AVX-512 in strips of about 10 staged tiles: textcnn_conv1d's
        // 32 x 35 as 4 strips of 8 sequences, 280 outputs in 9 tiles of 32 (97% of their
        // lanes), 1.16x faster on 1 thread and 1.29x on 2 than 11 strips of 3 in 4 tiles.
        // AVX2 too (Zen 5): 160 outputs, 4 sequences in 9 tiles of 16, 1.045x on 1 thread and
        // 1.12x on 2 over 128. (SSE and NEON keep the 128 outputs they were measured with.)
        if (t.vector_width >= 8) options.strips.short_strip = 10 * staged_strip_tile(t);
        // Unpadded sequences read in place (WaveNet 1.08x on 1 thread, 1.11x on 2; res2_1x1 as
        // a Conv1d 1.03x and 1.07x): their strips would only copy them.
        options.strips.single_in_place = !has_padding(spec);
        ConvPipeline p = define_conv(spec, inputs, ConvDomain::Sequences, options);
        schedule_sequences(p, t, options.strips);
        return p;
    }
    if (uses_padded_planes(spec, t)) {
        options.zero_run_lanes = t.vector_width;
        // Planes whose padded rows fit one tile take their own tile (narrow_rows) where it
        // differs, their rows a tile apart (14 wide on 16 lanes for a 3x3 kernel; the 15 and
        // 16 wide ones, at a run-time pitch in 7-row tiles, ran 1.14x and 1.47x faster in
        // the wide planes' 4-row tiles).
        const AxisParams ax = spec.axis_x();
        if (t.narrow_rows > 0 && t.narrow_rows != t.rows) {
            options.narrow_width = std::max(0, t.tile_width() - (ax.kernel - 1) * ax.dilation);
        }
        ConvPipeline p = define_conv(spec, inputs, ConvDomain::PaddedPlanes, options);
        schedule_spatial(p, t);
        return p;
    }
    ConvPipeline p = define_conv(spec, inputs, ConvDomain::Spatial, options);
    schedule_spatial(p, t);
    return p;
}

}  // namespace convgen
