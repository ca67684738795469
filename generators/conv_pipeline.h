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
#include "schedule_knobs.h"

namespace convgen {

/// The buffers a conv pipeline reads. ImageParams, so that both a Generator's Inputs and
/// the JIT can supply them. `bias` is undefined when the layer has no bias. Weight and
/// bias come packed as convgen/weight_layout.h describes.
struct ConvInputs {
    Halide::ImageParam input;   // (x, [y,] c, n)            = PyTorch (N, C_in, [H,] W)
    Halide::ImageParam weight;  // (co%16, kx, ky, ci_g, co/16): packed, output channels innermost
    Halide::ImageParam bias;    // (co), zero-padded
};

/// Makes the ImageParams for a spec, named "input", "weight" and "bias".
ConvInputs make_conv_inputs(const ConvSpec &spec);

/// Which points the accumulator Func `conv` is defined over. The sum is the same; what
/// differs is how a schedule can tile it.
enum class ConvDomain {
    Spatial,     // conv(x, y, co, n): tiles are rectangles of one output plane
    FlatPixels,  // Conv2d only: conv(p, co, n), p = y * W_out + x: tiles are runs of
                 // pixels that may wrap to the next row, so small and odd planes waste no lanes
    Sequences,   // Conv1d with stride 1: conv(p, co, s), the outputs of strip s, whose padded
                 // sequences (or chunk of one long sequence) lie end to end in `sequences`, so
                 // a vector of outputs runs on into the next sequence and short ones waste
                 // no lanes (see SequenceStrips; with single_in_place, conv is Spatial's and
                 // second_sum sums the strips)
    PaddedPlanes,  // Conv2d with stride 1 along x: conv(x, y, c, n) as Spatial, reading
                   // `planes`, the padded input with its rows end to end: a vector that runs
                   // past the end of a row reads the next row's padding rather than past the
                   // buffer, so planes narrower than their vectors (14 wide on 16 lanes) load
                   // whole vectors, with no masks
};

/// How the Sequences domain lays outputs out in strips, chosen by the schedule. A strip is
/// `chunk` outputs of one sequence when sequences are longer than that, else as many whole
/// sequences as make about `short_strip` outputs (spread evenly over the batch, so that
/// both threads get work: textcnn_conv1d's 32 x 35 as 3 strips of 512 left one of two
/// threads idle a third of the time). Strip s holds sequence n's output x at position
/// p = (n mod S) * window + x, with s = x / chunk + chunks_per_sequence * (n / S), S
/// sequences per strip and `window` the padded width of a sequence (or a chunk plus the
/// kernel's reach); a chunk's positions start at its first x.
struct SequenceStrips {
    int chunk = 128;        // outputs of one sequence per strip at most (a constant, so x / chunk folds)
    int short_strip = 128;  // about this many outputs per strip of short sequences
    int tile = 16;          // outputs per register tile: how far past a strip's end a tile may read
    // Unpadded layers: strips of one sequence read it in place rather than from a copy
    // (conv is then over (x, y, c, n), as in the Spatial domain, for sequences at least a
    // tile long; shorter ones take second_sum's strips).
    bool single_in_place = false;
};

/// How zero padding is written when a schedule materializes whole padded planes (CPU):
/// as a zero fill then a copy of the input, both dense stores; or read through
/// Halide's boundary condition on every load (GPU schedules, which stage tiles of the
/// input themselves).
enum class ZeroPadding { FillThenCopy, BoundaryCondition };

/// The layer as Funcs. Everything a schedule needs to name is here.
struct ConvPipeline {
    ConvSpec spec;
    ConvDomain domain = ConvDomain::Spatial;
    Halide::Var x{"x"}, y{"y"}, c{"c"}, n{"n"}, p{"p"};
    // padded(x, y, ci, n): the input as padding_mode reads it (the input itself when the
    // layer has no padding).
    // For Conv2d with zero padding (fills_then_copies_padding) padded is zero-filled and
    // then the input is copied over `interior`; a schedule computes it whole planes at a
    // time (its updates write every input pixel of a plane).
    Halide::Func padded{"padded"};
    std::vector<Halide::RDom> interior;  // one per update (see copy_vector_lanes)
    // What conv reads from. Spatial domain, stride s > 1 along x: `phases`, padded split
    // into s interleaved phases, phases(u, ph, y, ci, n) = padded(u*s + ph, ...), so the
    // strided reads of a vector of outputs become dense loads from one phase. Sequences:
    // `sequences` (with single_in_place, the input itself). Otherwise `padded` itself.
    Halide::Func phases{"phases"};
    // Sequences domain: sequences(p, ci, s), strip s's padded input laid end to end (a
    // scatter of the input, then zeros past the end for the last tile to read), and how
    // many sequences a strip holds (the split of n that matches it).
    Halide::Func sequences{"sequences"};
    Halide::RDom sequence_slots, sequence_tail;  // sequences' two updates: the scatter, the zeros
    Halide::Var strip{"strip"};
    Halide::Expr sequences_per_strip;
    // Where output reads `conv` and where `second_sum`, the same sum under another name
    // (or, for flat pixels, over another domain):
    // output = select(reads_conv, conv, second_sum), so that a schedule specializing the
    // output on `reads_conv` (in simplified form, as Halide matches it against the select) can
    // tile each its own way. Sequences: conv for strips of one sequence (or chunk), whose
    // tiles are stored straight from registers (with single_in_place, conv over the input
    // itself); second_sum for strips of several, staged (a tile there may span two sequences).
    // PaddedPlanes with a narrow width: conv for wider planes, second_sum for planes at most
    // that wide (taller tiles). FlatPixels with skipped-tap widths: second_sum(x, y, c, n) for
    // outputs exactly one of those widths, summing only the taps inside the input (`second_r`,
    // whose predicate skips the ones in the zero padding, rather than multiplying them by
    // zeros): tiles within one row then skip whole kernel rows at the top and bottom, and a
    // row's edge tiles their outer taps, as oneDNN's kernels do (on a 7x7 plane a fifth of a
    // 3x3 kernel's taps read padding). Undefined otherwise.
    // A second definition rather than Func::clone_in: Halide 14's clone of a Func with an
    // update leaks (LeakSanitizer).
    Halide::Expr reads_conv;
    Halide::Func second_sum{"second_sum"};
    Halide::RDom second_r;  // second_sum's reduction when it differs from `r`
    // PaddedPlanes domain: planes(q, ci, n), the padded input's rows end to end, `pitch`
    // apart (the padded width; for planes whose outputs are at most `narrow_width` wide,
    // the widest such padded row, a constant): q = y * pitch + x, counted from the padding's
    // top left. Its updates zero the gaps between the copied rows, then copy in the input
    // (zero padding: over the input's pixels) or the whole padded plane (other modes).
    Halide::Func planes{"planes"};
    std::vector<Halide::RDom> plane_zeros;  // the first updates: before, between and after the rows
    std::vector<Halide::RDom> plane_copy;   // the updates after them (see copy_vector_lanes)
    Halide::Expr pitch;
    Halide::Func conv_input;
    Halide::Func conv{"conv"};      // bias + the weighted sum (the accumulator), over `domain`
    Halide::Func output{"output"};  // output(x, [y,] co, n): the activation of conv
    Halide::RDom r;                 // r.x: kx, r.y: ky, r.z: input channel within the group
    Halide::Expr input_width;       // W_in, the input buffer's extent
    Halide::Expr output_width;      // W_out, from the input's width (PyTorch's formula)
};

/// What a schedule asks of the algorithm beyond the domain: how the input is padded and
/// copied, and which outputs a second sum covers.
struct DefineOptions {
    ZeroPadding zero_padding = ZeroPadding::FillThenCopy;
    SequenceStrips strips;  // Sequences
    // PaddedPlanes: planes whose outputs are at most this wide are summed by `second_sum`
    // (0: none are), their rows at a constant pitch.
    int narrow_width = 0;
    // FlatPixels with zero padding: outputs exactly one of these wide are summed by
    // `second_sum`, skipping padding taps.
    std::vector<int> skipped_tap_widths;
    // Copies of rows into `padded` and `planes` store whole vectors of this many lanes
    // where a row holds one (0: the last vector of a row through a mask).
    int copy_vector_lanes = 0;
    // PaddedPlanes: the runs of zeros between the copied rows are whole vectors of this many
    // lanes.
    int zero_run_lanes = 1;
};

/// The algorithm. Also declares what is known at build time about the buffers (channel
/// counts, the packed weight's layout, unit stride on x) so the schedule can rely on it.
ConvPipeline define_conv(const ConvSpec &spec, const ConvInputs &inputs, ConvDomain domain,
                         const DefineOptions &options = {});

/// Whether any axis of the layer is padded.
bool has_padding(const ConvSpec &spec);

/// Whether define_conv reads the input through the padding mode's boundary condition
/// (defined everywhere; schedules materialize it) or reads the input itself.
bool reads_through_boundary(const ConvSpec &spec, ConvDomain domain);

/// Whether `padded` is defined as a zero fill and a copy of the input (Conv2d, zero
/// padding, read through the padding): then it has updates over ConvPipeline::interior.
bool fills_then_copies_padding(const ConvSpec &spec, ConvDomain domain, ZeroPadding zero_padding);

/// The pipeline for a CPU target: define_conv over the domain the CPU schedule wants for
/// this layer, scheduled for the target's vector width and register count, with any
/// knobs set overriding the schedule's own choices.
ConvPipeline cpu_pipeline(const ConvSpec &spec, const ConvInputs &inputs, const Halide::Target &target,
                          const ScheduleKnobs &knobs = {});

/// The knobs the CPU schedule reads for this layer with these knobs set (the others do
/// not change it): what `convgen tune` varies. Throws as cpu_pipeline does for bad knobs.
std::vector<std::string> cpu_knobs_in_use(const ConvSpec &spec, const Halide::Target &target,
                                          const ScheduleKnobs &knobs);

/// Whether the CPU schedule's register tile (its accumulators, plus an operand or two)
/// fits the target's vector registers: a tile that does not spills in every step of the
/// reduction, so `convgen tune` does not try it. Throws as cpu_pipeline does for bad knobs.
bool cpu_register_tile_fits(const ConvSpec &spec, const Halide::Target &target, const ScheduleKnobs &knobs);

/// The pipeline for a GPU target (CUDA, OpenCL): output tiles on blocks, a register tile
/// of outputs per thread, input and weight tiles staged in shared memory.
ConvPipeline gpu_pipeline(const ConvSpec &spec, const ConvInputs &inputs, const Halide::Target &target,
                          const ScheduleKnobs &knobs = {});

/// The pipeline for any target: the GPU or CPU schedule, or, with the `autoscheduler`
/// knob, the unscheduled algorithm with estimates for an input of `estimate_shape`
/// (N, C_in, [H,] W), scheduled by that Halide autoscheduler.
ConvPipeline scheduled_pipeline(const ConvSpec &spec, const ConvInputs &inputs, const Halide::Target &target,
                                const ScheduleKnobs &knobs, const std::vector<int64_t> &estimate_shape);

/// The input shape the knobs estimate_n, estimate_h, estimate_w describe (1, C_in, [56,] 56
/// by default).
std::vector<int64_t> knob_estimate_shape(const ConvSpec &spec, const ScheduleKnobs &knobs);

}  // namespace convgen
