// The one definition of a convolution layer. Schedules are in schedule_*.cpp.
#include "conv_pipeline.h"

#include <algorithm>

#include "convgen/weight_layout.h"

namespace convgen {

using namespace Halide;

ConvInputs make_conv_inputs(const ConvSpec &spec) {
    ConvInputs in;
    in.input = ImageParam(Float(32), spec.dims + 2, "input");
    in.weight = ImageParam(Float(32), 5, "weight");
    if (spec.bias) in.bias = ImageParam(Float(32), 1, "bias");
    return in;
}

namespace {

// PyTorch's padding modes are Halide's boundary conditions (checked against PyTorch in
// SPEC.md's golden example 3). Halide keeps folding where PyTorch refuses (reflect
// padding >= the input size), so the runtime validates shapes before any call.
Func apply_padding_mode(PaddingMode mode, const Func &f, const Region &bounds) {
    switch (mode) {
    case PaddingMode::Zeros: return BoundaryConditions::constant_exterior(f, 0.0f, bounds);
    case PaddingMode::Reflect: return BoundaryConditions::mirror_interior(f, bounds);
    case PaddingMode::Replicate: return BoundaryConditions::repeat_edge(f, bounds);
    case PaddingMode::Circular: return BoundaryConditions::repeat_image(f, bounds);
    }
    throw Error(ErrorCode::InvalidSpec, "unknown padding mode");
}

// What is fixed at build time, stated so that Halide folds it into addressing and
// bounds: the channel counts, and the packed weight's dense layout (the runtime always
// hands over its own packed copy). Spatial sizes and batch stay free.
void declare_known_layout(const ConvSpec &spec, const ConvInputs &in, Func &output) {
    const int channel_dim = spec.dims;  // Halide order: x, [y,] c, n
    in.input.dim(0).set_min(0);
    in.input.dim(channel_dim).set_bounds(0, spec.in_channels);
    output.output_buffer().dim(0).set_min(0);
    output.output_buffer().dim(channel_dim).set_bounds(0, spec.out_channels);

    const std::vector<int64_t> weight_shape = packed_weight_shape(spec);  // outermost first
    int stride = 1;
    for (int d = 0; d < 5; d++) {
        const int extent = static_cast<int>(weight_shape[weight_shape.size() - 1 - d]);
        in.weight.dim(d).set_bounds(0, extent).set_stride(stride);
        stride *= extent;
    }
    if (spec.bias) in.bias.dim(0).set_bounds(0, packed_out_channels(spec)).set_stride(1);
}

}  // namespace

bool has_padding(const ConvSpec &spec) {
    const AxisParams ax = spec.axis_x(), ay = spec.axis_y();
    return ax.pad_begin + ax.pad_end + ay.pad_begin + ay.pad_end > 0;
}

namespace {

// PyTorch's output size along one axis, for an input extent known only at run time.
Expr output_size(const Expr &input_extent, const AxisParams &a) {
    return (input_extent + a.pad_begin + a.pad_end - a.dilated_extent()) / a.stride + 1;
}

}  // namespace

namespace {

// The Sequences domain's layout (conv_pipeline.h, SequenceStrips), in terms of the input's
// run-time width and batch.
struct SequenceLayout {
    Expr padded_width, window, chunks_per_sequence;
};

SequenceLayout sequence_layout(const ConvPipeline &p, const SequenceStrips &strips) {
    const AxisParams ax = p.spec.axis_x();
    SequenceLayout l;
    l.padded_width = p.output_width + (ax.kernel - 1) * ax.dilation;  // stride 1
    l.window = min(l.padded_width, strips.chunk + (ax.kernel - 1) * ax.dilation);
    // (The clamps tell bounds inference what is true anyway: at least one chunk.)
    l.chunks_per_sequence = max(1, (p.output_width + strips.chunk - 1) / strips.chunk);
    return l;
}

// Where output (x, n) lies in its strip, and which strip that is, for S sequences per
// strip. Positions count from the strip's chunk start (x itself within a sequence), so
// no x mod chunk: bounds inference sizes a mod's range as the whole chunk, where a tile
// needs its own 16 positions. n mod S is written n - S * (n / S) for the same reason:
// over one strip n / S is one value.
Expr sequence_position(const SequenceLayout &l, const Expr &S, const Expr &x, const Expr &n) {
    return (n - S * (n / S)) * l.window + x;
}

Expr sequence_strip(const SequenceLayout &l, const SequenceStrips &strips, const Expr &S, const Expr &x,
                    const Expr &n) {
    return x / strips.chunk + l.chunks_per_sequence * (n / S);
}

// sequences(p, ci, s): strip s's part of the padded input, each sequence (or chunk plus
// the kernel's reach) at its window, then zeros for a ragged last tile to read. Built by
// a scatter, so every store is a dense row; a strip past the last sequence repeats it.
Func define_sequences(ConvPipeline &p, const ConvInputs &in, const SequenceStrips &strips, const SequenceLayout &l) {
    const AxisParams ax = p.spec.axis_x();
    const Expr batch = in.input.dim(2).extent();
    // Short sequences: strips of about `short_strip` outputs, the batch spread evenly over them
    // (a sequence longer than a chunk fits once: one sequence per strip, as its chunks are
    // strips of their own). No select here, which bounds inference would replace by the
    // range of its two values, sizing every strip for the whole batch; the clamps tell it
    // the signs.
    const int short_strip = strips.short_strip;
    const Expr fits_a_chunk = min(1, strips.chunk / p.output_width);  // 0 or 1
    const Expr fit = max(1, fits_a_chunk * (short_strip / l.padded_width));
    const Expr strip_count = max(1, (batch + fit - 1) / fit);
    p.sequences_per_strip = clamp((batch + strip_count - 1) / strip_count, 1, batch);
    // The same condition as sequences_per_strip == 1 (fit is 1 or the batch is), written
    // over the input's extents alone: Halide simplifies a specialization's select only
    // when the select's condition is the specialization's, and CSE would pull the shared
    // parts of the longer form out of the select into lets. (Either branch computes the
    // right values; this only picks the faster.)
    const Expr one_per_strip = l.padded_width * 2 > short_strip || p.output_width > strips.chunk || batch == 1;
    // (Read in place, a sequence narrower than a tile would take an unvectorized nest.)
    p.reads_conv = Internal::simplify(strips.single_in_place ? one_per_strip && p.output_width >= strips.tile
                                                             : one_per_strip);
    const Expr &S = p.sequences_per_strip;

    const Var &q = p.p, &ci = p.c, &strip = p.strip;
    // The strip's first sequence, and the first x of its chunk. (strip mod chunks written
    // out, as in sequence_position, so the realization spans one chunk, not a sequence.)
    const Expr sequence_group = strip / l.chunks_per_sequence;
    const Expr first = sequence_group * S;
    const Expr start = (strip - sequence_group * l.chunks_per_sequence) * strips.chunk;
    const RDom &slot = p.sequence_slots = RDom(0, l.window, 0, S, "slot");
    const RDom &tail = p.sequence_tail = RDom(0, strips.tile, "tail");
    p.sequences(q, ci, strip) = undef<float>();
    p.sequences(start + slot.x + slot.y * l.window, ci, strip) =
        p.padded(start + slot.x - ax.pad_begin, 0, ci, clamp(first + slot.y, 0, batch - 1));
    p.sequences(start + S * l.window + tail, ci, strip) = 0.0f;
    return p.sequences;
}

// The columns [0, width) of `rows` rows, as the RDoms of the updates that copy them: one,
// or, given `vector_lanes` (targets whose masked stores are slow), two whose stores are
// whole vectors where a row holds one: the row's whole vectors, then, where a part of a
// vector is left, a last vector ending at the row's end and overlapping the one before it
// (a row narrower than a vector is copied whole, through a mask). On AVX2, VMASKMOVPS
// stores of 14-wide rows' last 6 columns were a quarter of mobilenet_dw_14's time (1.29x
// faster without). Rows of whole vectors are copied by the first alone, in one pass rather
// than two (the second revisiting every row): mobilenet_dw_112 on AVX2 1.05x.
std::vector<RDom> row_copy_domains(const Expr &width, const Expr &rows, int vector_lanes, const std::string &name) {
    if (vector_lanes == 0) return {RDom(0, width, 0, rows, name)};
    const Expr last_vector = select(width % vector_lanes == 0, 0, min(width, vector_lanes));  // (its extent)
    return {RDom(0, width / vector_lanes * vector_lanes, 0, rows, name),
            RDom(max(width - vector_lanes, 0), last_vector, 0, rows, name + "_last")};
}

// planes(q, ci, n): image n's channel ci padded as the padding mode pads it, its rows laid
// end to end (q = y * pitch + x, counted from the padding's top left corner). Copies of the
// input's rows (zero padding) or of the whole padded plane through the boundary condition,
// after zeros in the gaps between them: the padding ring, the run from each row's end to
// the next row's start at a pitch wider than the padded row, and one row past the last.
// Stored outputs read only the padded plane; the columns past a padded row and the row
// past the last are read by lanes that are never stored (a row's last vector), zeroed so
// that those lanes compute on zeros rather than on leftover bytes (denormals, NaNs). Each
// run is whole vectors of `zero_lanes`, running on into the copy's positions (the copies
// come after), so none ends in a masked store. Only the gaps are zeroed, not the whole
// plane before the copy (mobilenet_dw_112 1.05-1.08x); planes at the narrow pitch, a vector
// or two per row, are zeroed whole, as many stores in one loop rather than three. (A
// register tile taller than the output, computed whole, still reads rows past those:
// lanes it never stores.)
Func define_planes(ConvPipeline &p, const ConvInputs &in, const Func &input_2d, int narrow_width,
                   int copy_vector_lanes, int zero_lanes) {
    const AxisParams ax = p.spec.axis_x(), ay = p.spec.axis_y();
    const Expr width = in.input.dim(0).extent(), height = in.input.dim(1).extent();
    const Expr padded_width = width + ax.pad_begin + ax.pad_end;
    const Expr padded_height = height + ay.pad_begin + ay.pad_end;
    p.pitch = padded_width;
    if (narrow_width > 0) {
        // Narrow planes' rows at a constant pitch (the widest narrow row), so that their
        // tiles' addressing folds: mobilenet_dw_14 1.05x. (As for `output`, the select
        // simplifies within the schedule's specialization on reads_conv.)
        p.reads_conv = Internal::simplify(p.output_width > narrow_width);
        p.pitch = select(p.reads_conv, padded_width, narrow_width + (ax.kernel - 1) * ax.dilation);
    }
    const Expr &pitch = p.pitch;
    const Var &q = p.p, &ci = p.c, &n = p.n;
    // The copied block: rows [top, top + rows) x columns [left, left + columns).
    const bool zeros = p.spec.padding_mode == PaddingMode::Zeros;
    const Expr top = zeros ? ay.pad_begin : 0, left = zeros ? ax.pad_begin : 0;
    const Expr rows = zeros ? height : padded_height, columns = zeros ? width : padded_width;
    const Expr copied_end = (top + rows - 1) * pitch + left + columns;  // past the last copied row
    const Expr plane_end = (padded_height + 1) * pitch;
    const Expr whole = narrow_width > 0 ? !p.reads_conv : Internal::const_false();
    auto whole_vectors = [&](const Expr &length) { return (length + zero_lanes - 1) / zero_lanes * zero_lanes; };
    p.planes(q, ci, n) = undef<float>();
    p.plane_zeros = {RDom(0, whole_vectors(select(whole, plane_end, top * pitch + left)), "zeros_before"),
                     RDom(0, select(whole, 0, whole_vectors(pitch - columns)), 0, rows - 1, "zeros_between"),
                     RDom(0, select(whole, 0, whole_vectors(plane_end - copied_end)), "zeros_after")};
    p.planes(p.plane_zeros[0].x, ci, n) = 0.0f;
    p.planes((top + p.plane_zeros[1].y) * pitch + left + columns + p.plane_zeros[1].x, ci, n) = 0.0f;
    p.planes(copied_end + p.plane_zeros[2].x, ci, n) = 0.0f;
    p.plane_copy = row_copy_domains(columns, rows, copy_vector_lanes, "plane_copy");
    for (const RDom &r : p.plane_copy) {
        const Expr at = r.x + left + (r.y + top) * pitch;
        p.planes(at, ci, n) = zeros ? input_2d(r.x, r.y, ci, n) : p.padded(r.x - ax.pad_begin, r.y - ay.pad_begin, ci, n);
    }
    return p.planes;
}

}  // namespace

bool reads_through_boundary(const ConvSpec &spec, ConvDomain domain) {
    return has_padding(spec) || domain != ConvDomain::FlatPixels;
}

bool fills_then_copies_padding(const ConvSpec &spec, ConvDomain domain, ZeroPadding zero_padding) {
    // Stride-split phases read the padding inlined: a filled `padded` would be one more
    // pass over the input.
    const bool phases = domain == ConvDomain::Spatial && spec.axis_x().stride > 1;
    // Padded planes fill and copy themselves.
    return zero_padding == ZeroPadding::FillThenCopy && spec.dims == 2 && has_padding(spec) &&
           spec.padding_mode == PaddingMode::Zeros && !phases && domain != ConvDomain::PaddedPlanes;
}

ConvPipeline define_conv(const ConvSpec &spec, const ConvInputs &in, ConvDomain domain, const DefineOptions &options) {
    const SequenceStrips &strips = options.strips;
    const std::vector<int> &skipped_tap_widths = options.skipped_tap_widths;
    spec.validate();
    if (domain == ConvDomain::FlatPixels && spec.dims != 2) {
        throw Error(ErrorCode::InvalidSpec, "internal: the flat-pixel domain is for Conv2d only");
    }
    if (domain == ConvDomain::Sequences && (spec.dims != 1 || spec.axis_x().stride != 1)) {
        throw Error(ErrorCode::InvalidSpec, "internal: the sequences domain is for Conv1d with stride 1 only");
    }
    if (!skipped_tap_widths.empty() && (domain != ConvDomain::FlatPixels || spec.padding_mode != PaddingMode::Zeros)) {
        throw Error(ErrorCode::InvalidSpec, "internal: skipped taps are for flat pixels with zero padding only");
    }
    if (domain == ConvDomain::PaddedPlanes && (spec.dims != 2 || spec.axis_x().stride != 1)) {
        throw Error(ErrorCode::InvalidSpec, "internal: the padded-planes domain is for Conv2d with stride 1 along x only");
    }
    ConvPipeline p;
    p.spec = spec;
    p.domain = domain;
    const Var &x = p.x, &y = p.y, &c = p.c, &n = p.n;
    const bool is_2d = spec.dims == 2;
    const AxisParams ax = spec.axis_x(), ay = spec.axis_y();

    // The input seen as 2-D with a trivial y for Conv1d, then padded as PyTorch pads it.
    Func input_2d("input_2d");
    input_2d(x, y, c, n) = is_2d ? in.input(x, y, c, n) : in.input(x, c, n);
    // Tiles may run past the last output (a ragged last tile is computed whole), so
    // they read through the boundary condition, defined everywhere; only flat-pixel tiles
    // clamp their pixels instead and read the input itself when nothing is padded.
    if (fills_then_copies_padding(spec, domain, options.zero_padding)) {
        // Zeros around whole planes: zero-fill, then copy the input in. The same values as
        // constant_exterior, but both steps are dense vector stores, where the boundary
        // condition's clamped reads become gathers on every vector of a narrow plane.
        p.interior =
            row_copy_domains(in.input.dim(0).extent(), in.input.dim(1).extent(), options.copy_vector_lanes, "interior");
        p.padded(x, y, c, n) = 0.0f;
        for (const RDom &r : p.interior) p.padded(r.x, r.y, c, n) = input_2d(r.x, r.y, c, n);
    } else if (reads_through_boundary(spec, domain)) {
        const Region spatial_bounds = {
            Range(0, in.input.dim(0).extent()),
            is_2d ? Range(0, in.input.dim(1).extent()) : Range(),  // undefined: not padded
            Range(), Range()};
        p.padded(x, y, c, n) = apply_padding_mode(spec.padding_mode, input_2d, spatial_bounds)(x, y, c, n);
    } else {
        p.padded(x, y, c, n) = input_2d(x, y, c, n);  // every tap lies inside the input
    }

    // weight_2d(kx, ky, ci_g, co), read from the packed layout.
    Func weight_2d("weight_2d");
    Var kx("kx"), ky("ky"), ci("ci"), co("co");
    weight_2d(kx, ky, ci, co) = in.weight(co % kPackedChannelBlock, kx, ky, ci, co / kPackedChannelBlock);

    // Output channel c of group g = c / (C_out/groups) reads input channels
    // g*(C_in/groups) .. (g+1)*(C_in/groups)-1.
    const int in_per_group = spec.in_channels_per_group();
    p.r = RDom(0, ax.kernel, 0, ay.kernel, 0, in_per_group, "r");
    const RDom &r = p.r;
    auto input_channel_of = [&](const Expr &rz) {
        return spec.groups == 1 ? rz : (c / spec.out_channels_per_group()) * in_per_group + rz;
    };
    const Expr input_channel = input_channel_of(r.z);
    p.input_width = in.input.dim(0).extent();
    p.output_width = output_size(p.input_width, ax);
    const SequenceLayout layout = domain == ConvDomain::Sequences ? sequence_layout(p, strips) : SequenceLayout{};

    // The input value that weight (r.x, r.y, r.z) multiplies for output pixel (ox, oy).
    auto row_of = [&](const Expr &oy) { return oy * ay.stride + r.y * ay.dilation - ay.pad_begin; };
    Expr tap;
    std::vector<Var> point;  // conv's pure variables
    Expr strip_tap;          // Sequences: the tap read from the strips
    if (domain == ConvDomain::FlatPixels) {
        // A tile of pixels past the last one recomputes it rather than read outside the
        // input.
        const Expr output_height = output_size(in.input.dim(1).extent(), ay);
        const Expr pixel = clamp(p.p, 0, output_height * p.output_width - 1);
        const Expr ox = pixel % p.output_width, oy = pixel / p.output_width;
        p.conv_input = p.padded;
        tap = p.padded(ox * ax.stride + r.x * ax.dilation - ax.pad_begin, row_of(oy), input_channel, n);
        point = {p.p, c, n};
    } else if (domain == ConvDomain::PaddedPlanes) {
        p.conv_input = define_planes(p, in, input_2d, options.narrow_width, options.copy_vector_lanes,
                                     options.zero_run_lanes);
        // (Rows and columns count from the padding's top left corner.)
        tap = p.planes(x + r.x * ax.dilation + (y * ay.stride + r.y * ay.dilation) * p.pitch, input_channel, n);
        point = {x, y, c, n};
    } else if (domain == ConvDomain::Sequences) {
        strip_tap = define_sequences(p, in, strips, layout)(p.p + r.x * ax.dilation, input_channel, p.strip);
        if (strips.single_in_place) {
            // Strips of one sequence read it in place (second_sum reads the strips). The
            // schedule keeps conv's tiles within the output, so its taps lie within the
            // unpadded input.
            if (has_padding(spec)) throw Error(ErrorCode::InvalidSpec, "internal: only unpadded sequences read in place");
            p.conv_input = input_2d;
            tap = input_2d(x + r.x * ax.dilation, y, input_channel, n);
            point = {x, y, c, n};
        } else {
            p.conv_input = p.sequences;
            tap = strip_tap;
            point = {p.p, c, p.strip};
        }
    } else if (ax.stride == 1) {
        p.conv_input = p.padded;
        tap = p.padded(x + r.x * ax.dilation - ax.pad_begin, row_of(y), input_channel, n);
        point = {x, y, c, n};
    } else {
        // Column x*s + o, with o = kx*dilation - pad, is column x + floor(o/s) of phase o mod s
        // (Halide's integer / and % round toward -infinity): the same value, read densely.
        Var u("u"), phase("phase");
        p.phases(u, phase, y, c, n) = p.padded(u * ax.stride + phase, y, c, n);
        p.conv_input = p.phases;
        const Expr offset = r.x * ax.dilation - ax.pad_begin;
        tap = p.phases(x + offset / ax.stride, offset % ax.stride, row_of(y), input_channel, n);
        point = {x, y, c, n};
    }

    // bias + the weighted sum of `value` over taps `over`, as a Func over `at`.
    auto define_sum = [&](Func &f, const std::vector<Var> &at, const RDom &over, const Expr &value) {
        f(at) = spec.bias ? in.bias(c) : 0.0f;
        f(at) += weight_2d(over.x, over.y, over.z, c) * value;
    };
    define_sum(p.conv, point, r, tap);

    Expr result;
    if (domain == ConvDomain::FlatPixels && !skipped_tap_widths.empty()) {
        Expr skips = Internal::const_false();
        for (int width : skipped_tap_widths) skips = skips || p.output_width == width;
        p.reads_conv = Internal::simplify(!skips);
        // Only taps inside the input are summed. The clamps change no tap that is summed;
        // they tell bounds inference that no other input is read.
        const RDom &rs = p.second_r = RDom(0, ax.kernel, 0, ay.kernel, 0, in_per_group, "rs");
        const Expr column = x * ax.stride + rs.x * ax.dilation - ax.pad_begin;
        const Expr row = y * ay.stride + rs.y * ay.dilation - ay.pad_begin;
        const Expr width = in.input.dim(0).extent(), height = in.input.dim(1).extent();
        // (Likely along a row: Halide then compiles a row's first and last tiles apart from
        // the ones between, which test nothing.)
        p.second_r.where(likely(column >= 0 && column < width) && row >= 0 && row < height);
        define_sum(p.second_sum, {x, y, c, n}, rs,
                   input_2d(clamp(column, 0, width - 1), clamp(row, 0, height - 1), input_channel_of(rs.z), n));
        result = select(p.reads_conv, p.conv(y * p.output_width + x, c, n), p.second_sum(x, y, c, n));
    } else if (domain == ConvDomain::FlatPixels) {
        result = p.conv(y * p.output_width + x, c, n);
    } else if (domain == ConvDomain::Sequences) {
        // S as 1 where strips hold one sequence: a schedule specializing on that condition
        // gets the plain (x, n) -> (x, n) mapping there, with exact bounds.
        const Expr &single = p.reads_conv;
        const Expr S = select(single, 1, p.sequences_per_strip);
        const Expr position = sequence_position(layout, S, x, n), strip = sequence_strip(layout, strips, S, x, n);
        define_sum(p.second_sum, {p.p, c, p.strip}, r, strip_tap);
        const Expr summed = strips.single_in_place ? p.conv(x, 0, c, n) : p.conv(position, c, strip);
        result = select(single, summed, p.second_sum(position, c, strip));
    } else if (domain == ConvDomain::PaddedPlanes && options.narrow_width > 0) {
        define_sum(p.second_sum, point, r, tap);
        result = select(p.reads_conv, p.conv(x, y, c, n), p.second_sum(x, y, c, n));
    } else {
        result = p.conv(x, is_2d ? Expr(y) : Expr(0), c, n);
    }
    // ReLU(NaN) is NaN in PyTorch. Written as x86's MAXPS computes it, `0 > x ? 0 : x`
    // (its second operand when either is NaN), in strict float: one instruction that
    // passes NaN through. Halide would simplify a plain select into max(x, 0), whose
    // operands LLVM may swap (NaN became 0), and under fast-math flags LLVM drops a
    // separate NaN test where the value comes from a masked load (a row's ragged tail).
    if (spec.activation == Activation::ReLU) {
        result = strict_float(select(0.0f > result, 0.0f, result));
    }
    if (is_2d) {
        p.output(x, y, c, n) = result;
    } else {
        p.output(x, c, n) = result;
    }

    declare_known_layout(spec, in, p.output);
    if (domain == ConvDomain::Sequences) {
        // Strips number sequences from 0 (the runtime's buffers all start there).
        in.input.dim(2).set_min(0);
        p.output.output_buffer().dim(2).set_min(0);
    }
    return p;
}

}  // namespace convgen
