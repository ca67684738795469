// The layer semantics through the generator code, compiled in-process (JIT): SPEC.md's
// golden numbers and a randomized conformance sweep against the double-precision
// reference. The AOT libraries are built from exactly this algorithm and schedule.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "harness.h"
#include "jit_kernel.h"
#include "spec_examples.h"

using convgen::JitKernel;
using convgen::parse_spec;
using convgen_test::run_layer;

namespace {

void require_values(const convgen::Tensor &out, const std::vector<float> &expected, size_t offset = 0) {
    REQUIRE(out.numel() >= static_cast<int64_t>(offset + expected.size()));
    for (size_t i = 0; i < expected.size(); i++) {
        INFO("output[" << offset + i << "]");
        CHECK(out.data()[offset + i] == Approx(expected[i]).margin(1e-5));
    }
}

// A layer and the input shape to run it on.
struct LayerCase {
    const char *spec;
    std::vector<int64_t> input_shape;
};

// Each layer through the JIT (for `target`, with schedule `knobs`) against the
// double-precision reference, on random data from seeds `seed`, `seed` + 1, ...
void check_layers(const std::vector<LayerCase> &cases, uint32_t seed,
                  const Halide::Target &target = JitKernel::default_target(), const std::string &knobs = "") {
    for (const LayerCase &c : cases) {
        INFO(c.spec << " for " << target.to_string() << ", schedule " << knobs);
        const JitKernel k(parse_spec(c.spec), target, convgen::parse_schedule_knobs(knobs));
        convgen_test::check_against_reference(k, c.input_shape, seed++);
    }
}

// check_layers on the default target and, where this CPU runs it, on AVX2 too, whose
// schedules differ (16 registers; masked stores slow on AMD cores, so avoided).
void check_layers_and_on_avx2(const std::vector<LayerCase> &cases, uint32_t seed) {
    check_layers(cases, seed);
    if (JitKernel::default_target().has_feature(Halide::Target::AVX2)) {
        check_layers(cases, seed, Halide::Target("x86-64-linux-avx-avx2-f16c-fma-sse41"));
    }
}

}  // namespace

TEST_CASE("golden 1: Conv1d on 0..15", "[jit][golden]") {
    const JitKernel k(parse_spec(spec_examples::kConv1dSpec));
    const auto out = run_layer(k, spec_examples::kConv1dInputShape, spec_examples::conv1d_input(),
                               spec_examples::kConv1dWeight, {});
    REQUIRE(out.shape() == std::vector<int64_t>{1, 1, 14});
    require_values(out, spec_examples::kConv1dExpected);
}

TEST_CASE("golden 2: grouped 1x1 conv", "[jit][golden]") {
    const JitKernel k(parse_spec(spec_examples::kGroupsSpec));
    const auto out = run_layer(k, spec_examples::kGroupsInputShape, spec_examples::kGroupsInput,
                               spec_examples::groups_weight(), {});
    REQUIRE(out.shape() == std::vector<int64_t>{1, 8, 1, 1});
    require_values(out, spec_examples::kGroupsExpected);
}

TEST_CASE("golden 3: the four padding modes", "[jit][golden]") {
    for (const auto &mode : spec_examples::kPaddingModes) {
        INFO("padding_mode=" << mode.mode);
        const JitKernel k(parse_spec(mode.spec));
        const auto out = run_layer(k, spec_examples::kPaddingInputShape, spec_examples::padding_input(),
                                   spec_examples::kPaddingWeight, {});
        REQUIRE(out.shape() == std::vector<int64_t>{1, 1, 11, 11});
        require_values(out, mode.first_row);
    }
}

TEST_CASE("golden 4: two stacked strided layers", "[jit][golden]") {
    const JitKernel layer1(parse_spec(spec_examples::kStackedLayer1Spec));
    const JitKernel layer2(parse_spec(spec_examples::kStackedLayer2Spec));
    const auto out0 = run_layer(layer1, spec_examples::kStackedInputShape, spec_examples::kStackedInput,
                                spec_examples::kStackedLayer1Weight, {});
    REQUIRE(out0.shape() == std::vector<int64_t>{1, 2, 4, 4});
    require_values(out0, spec_examples::kStackedLayer1Expected);
    const auto out1 = run_layer(layer2, out0.shape(), out0.values(), spec_examples::kStackedLayer2Weight, {});
    REQUIRE(out1.shape() == std::vector<int64_t>{1, 4, 2, 2});
    require_values(out1, spec_examples::kStackedLayer2Expected);
}

TEST_CASE("golden 5: output shapes", "[jit][golden]") {
    for (const auto &example : spec_examples::kShapes) {
        INFO(example.spec);
        const convgen::ConvSpec spec = parse_spec(example.spec);
        CHECK(spec.output_shape(example.input_shape) == example.output_shape);
    }
    // One of them run for real, to see the kernel agree with the formula.
    const JitKernel k(parse_spec("Conv2d(8, 14, (3, 2), (2, 1))"));
    convgen_test::check_against_reference(k, {5, 8, 10, 5}, 5);
}

// The sweep is split in shards so CTest can run them in parallel.
namespace {
constexpr int kShards = 6;
constexpr int kCasesPerShard = 50;

void run_conformance_shard(int shard) {
    const auto cases = convgen_test::conformance_cases(kShards * kCasesPerShard, /*seed=*/20261122);
    for (int i = shard * kCasesPerShard; i < (shard + 1) * kCasesPerShard; i++) {
        const auto &c = cases[static_cast<size_t>(i)];
        // Through the printed form, so every case also exercises the parser and printer.
        const convgen::ConvSpec spec = parse_spec(convgen::to_string(c.spec));
        REQUIRE(spec == c.spec);
        const JitKernel k(spec);
        convgen_test::check_against_reference(k, c.input_shape, 1000u + static_cast<uint32_t>(i));
    }
}
}  // namespace

TEST_CASE("conformance sweep shard 0", "[jit][conformance]") { run_conformance_shard(0); }
TEST_CASE("conformance sweep shard 1", "[jit][conformance]") { run_conformance_shard(1); }
TEST_CASE("conformance sweep shard 2", "[jit][conformance]") { run_conformance_shard(2); }
TEST_CASE("conformance sweep shard 3", "[jit][conformance]") { run_conformance_shard(3); }
TEST_CASE("conformance sweep shard 4", "[jit][conformance]") { run_conformance_shard(4); }
TEST_CASE("conformance sweep shard 5", "[jit][conformance]") { run_conformance_shard(5); }

TEST_CASE("wide and tall and tiny outputs take every branch of the schedule", "[jit]") {
    // Output widths below, at and above one vector tile, and widths that are not a
    // multiple of it; rows not a multiple of the rows per task.
    const JitKernel conv2d(parse_spec("Conv2d(3, 8, kernel_size=3, padding=1) -> ReLU()"));
    for (int64_t w : {1, 7, 15, 16, 17, 64, 65, 131}) {
        convgen_test::check_against_reference(conv2d, {2, 3, 5, w}, static_cast<uint32_t>(w));
    }
    const JitKernel conv1d(parse_spec("Conv1d(5, 6, kernel_size=5, stride=2, padding=2, padding_mode='circular')"));
    for (int64_t w : {3, 31, 129, 1031, 4099}) {
        convgen_test::check_against_reference(conv1d, {2, 5, w}, static_cast<uint32_t>(w));
    }
}

TEST_CASE("Conv1d strips: short sequences share vectors, long ones split into chunks", "[jit]") {
    // Stride-1 Conv1d lays a batch of short sequences end to end in strips (a vector of
    // outputs runs on into the next sequence; the last strip holds fewer) and cuts long
    // sequences into chunks, each with the kernel's reach of the next (padded layers: an
    // unpadded sequence is read in place, below). Around the width where a strip holds one
    // sequence (padded width 64 and 65 for SSE and NEON; 80 and 81 on AVX2; 160 and 161 on
    // AVX-512, where a sequence longer than a chunk, 128 or 64, takes a strip of its own as
    // well), across padding modes, dilation and groups.
    check_layers_and_on_avx2(
        {
            {"Conv1d(5, 6, 3, padding=1) -> ReLU()", {32, 5, 7}},
            {"Conv1d(5, 6, 3, padding=1) -> ReLU()", {1, 5, 7}},
            {"Conv1d(4, 10, kernel_size=2, dilation=3, padding=2, padding_mode='reflect')", {9, 4, 13}},
            {"Conv1d(6, 4, 5, groups=2, padding='same', padding_mode='circular', bias=False)", {5, 6, 20}},
            {"Conv1d(2, 3, 3, padding=1)", {4, 2, 62}},
            {"Conv1d(2, 3, 3, padding=1)", {4, 2, 63}},
            {"Conv1d(2, 3, 3, padding=1)", {4, 2, 78}},
            {"Conv1d(2, 3, 3, padding=1)", {4, 2, 79}},
            {"Conv1d(2, 3, 3, padding=1)", {5, 2, 140}},
            {"Conv1d(2, 3, 3, dilation=16, padding=16)", {4, 2, 128}},
            {"Conv1d(2, 3, 3, dilation=16, padding=16)", {4, 2, 129}},
            {"Conv1d(3, 5, 3, padding=1, padding_mode='replicate')", {3, 3, 300}},
            {"Conv1d(2, 3, 4, dilation=5) -> ReLU()", {2, 2, 700}},
            {"Conv1d(2, 3, 4, dilation=5, padding=7)", {2, 2, 700}},
            {"Conv1d(16, 16, 1, bias=False)", {2, 16, 257}},
            // 16 channel blocks: on AVX-512 chunks of 64 outputs.
            {"Conv1d(2, 128, 3, padding=1)", {4, 2, 64}},
            {"Conv1d(2, 128, 3, padding=1)", {4, 2, 65}},
            {"Conv1d(2, 128, 3, padding=1)", {3, 2, 200}},
        },
        /*seed=*/11);
}

TEST_CASE("unpadded Conv1d reads sequences at least a tile long in place", "[jit]") {
    // A strip of one unpadded sequence is read in place, its last tile shifted inwards,
    // where the output is at least a register tile wide (32 outputs on AVX-512, 24 on
    // AVX2): widths around both, sequences of a batch each in place (one task each, or
    // tasks of 64 outputs on AVX-512 with 16 channel blocks, the last one a single shifted
    // tile), dilation, groups; shorter ones and batches of short ones go through strips.
    check_layers_and_on_avx2(
        {
            {"Conv1d(4, 6, kernel_size=3, dilation=2)", {1, 4, 27}},
            {"Conv1d(4, 6, kernel_size=3, dilation=2)", {1, 4, 28}},
            {"Conv1d(4, 6, kernel_size=3, dilation=2)", {1, 4, 29}},
            {"Conv1d(4, 6, kernel_size=3, dilation=2)", {1, 4, 35}},
            {"Conv1d(4, 6, kernel_size=3, dilation=2)", {1, 4, 36}},
            {"Conv1d(4, 6, kernel_size=3, dilation=2)", {1, 4, 37}},
            {"Conv1d(4, 6, kernel_size=3, dilation=2)", {1, 4, 12}},
            {"Conv1d(4, 6, 3, groups=2) -> ReLU()", {3, 4, 301}},
            {"Conv1d(2, 4, 2, dilation=40)", {2, 2, 165}},
            {"Conv1d(2, 128, 3)", {2, 2, 200}},
            {"Conv1d(3, 5, 2, dilation=8)", {2, 3, 1000}},
            {"Conv1d(3, 5, 2, dilation=8)", {4, 3, 30}},
        },
        /*seed=*/12);
}

TEST_CASE("depthwise layers read padded planes: rows end to end, vectors past a row's end", "[jit]") {
    // Depthwise with stride 1 along x reads its padded input with the rows end to end, so
    // the last vector of a row reads on into the next row's padding (and, past the last
    // row, zeros) where it would run off the plane. Planes narrower than a vector and as
    // wide as several, shorter than a tile of rows, every padding mode, asymmetric
    // padding ('same' with an even kernel), dilation, stride along y, a channel multiplier.
    // On AVX2 too, whose rows at least a tile wide shift their last vector inwards and
    // only narrower ones store through masks (AVX-512 masks every ragged row).
    check_layers_and_on_avx2({
        {"Conv2d(4, 4, 3, padding=1, groups=4) -> ReLU()", {2, 4, 14, 14}},
        {"Conv2d(2, 2, 3, padding=1, groups=2) -> ReLU()", {1, 2, 40, 70}},
        {"Conv2d(3, 6, kernel_size=(3, 5), dilation=(2, 1), padding='same', groups=3, padding_mode='circular')",
         {1, 3, 9, 5}},
        {"Conv2d(2, 2, kernel_size=4, padding='same', groups=2, padding_mode='replicate')", {1, 2, 7, 19}},
        {"Conv2d(5, 5, 3, stride=(2, 1), padding=(0, 2), groups=5, bias=False)", {1, 5, 10, 33}},
        {"Conv2d(2, 2, 3, padding=2, groups=2, padding_mode='reflect')", {3, 2, 3, 40}},
        {"Conv2d(4, 4, 5, groups=4)", {1, 4, 6, 17}},
        // On AVX-512, either side of the narrowest plane whose padded rows overflow one
        // vector (narrower ones lie at a constant pitch), zero padding and modes that copy
        // whole padded rows, with dilation.
        {"Conv2d(2, 2, 3, padding=1, groups=2, padding_mode='reflect')", {1, 2, 9, 14}},
        {"Conv2d(2, 2, 3, padding=1, groups=2)", {1, 2, 9, 15}},
        {"Conv2d(2, 2, 3, padding=1, groups=2, bias=False) -> ReLU()", {1, 2, 6, 16}},
        {"Conv2d(3, 3, 3, dilation=2, padding=2, groups=3, padding_mode='replicate')", {1, 3, 8, 12}},
        // Zero padding of unequal sides ('same' with an even kernel) on one-row planes, one
        // wider and one narrower than a vector: the zeros before, between and after the
        // copied rows with nothing between them.
        {"Conv2d(2, 2, kernel_size=(2, 4), padding='same', groups=2)", {1, 2, 1, 37}},
        {"Conv2d(2, 2, kernel_size=(2, 4), padding='same', groups=2)", {1, 2, 1, 15}},
    }, /*seed=*/23);
}

TEST_CASE("channel tiles whose image's input outgrows L2 take a row chunk's tiles together", "[jit]") {
    // Over 1 MiB of input per image (16 channels of 130x130), with small weights, a run-time
    // specialization orders the tasks channel tiles first; ragged rows, zero padding and
    // reflect, and on AVX2, where that path shifts a row's last vector inwards.
    check_layers_and_on_avx2({
        {"Conv2d(16, 32, 3, padding=1) -> ReLU()", {1, 16, 130, 130}},
        {"Conv2d(16, 40, 3, padding=1, padding_mode='reflect', bias=False)", {1, 16, 131, 127}},
    }, /*seed=*/37);
}

TEST_CASE("copies into padded planes store whole vectors where masked stores are slow", "[jit]") {
    // AVX2 copies each input row into its padded plane as whole vectors, the last one
    // ending at the row's end and overlapping the one before it; rows narrower than a
    // vector go through a mask. Rows narrower than, as wide as and just wider than the
    // 8 lanes, and ragged ones, through channel tiles (strided too) and vectors along x
    // (groups, a stem with few input channels); on the default target too.
    check_layers_and_on_avx2({
        {"Conv2d(8, 32, 3, padding=1) -> ReLU()", {1, 8, 9, 14}},
        {"Conv2d(8, 32, 3, padding=1)", {2, 8, 5, 7}},
        {"Conv2d(16, 32, 3, stride=2, padding=1, bias=False)", {1, 16, 9, 17}},
        {"Conv2d(16, 16, 3, padding=2, dilation=2, groups=4)", {1, 16, 6, 17}},
        {"Conv2d(4, 8, 3, padding=1) -> ReLU()", {2, 4, 8, 8}},
        {"Conv2d(4, 8, kernel_size=(1, 3), padding=(0, 1))", {1, 4, 3, 9}},
    }, /*seed=*/31);
}

TEST_CASE("channel-tile layers: partial channel tiles, tiles across rows, groups of whole tiles", "[jit]") {
    // Conv2d layers vectorized across output channels with runs of flat pixels: C_out
    // not a multiple of the channel tile (the packed weight's zero padding is computed
    // and dropped), planes smaller than one pixel tile (the pixels clamp), tiles that
    // wrap from one row to the next, strided and 1x1 layers with no padding, and groups
    // whose channels fill whole tiles.
    check_layers(
        {
            {"Conv2d(5, 40, kernel_size=3, padding=1) -> ReLU()", {2, 5, 7, 7}},
            {"Conv2d(5, 40, kernel_size=3, padding=1) -> ReLU()", {1, 5, 2, 2}},
            {"Conv2d(6, 33, kernel_size=(3, 2), stride=(2, 3), dilation=(1, 2), padding_mode='reflect', padding=2)", {1, 6, 13, 11}},
            {"Conv2d(17, 70, kernel_size=1, bias=False)", {3, 17, 5, 9}},
            {"Conv2d(8, 64, kernel_size=3, stride=2, groups=2, padding=1, padding_mode='replicate')", {1, 8, 9, 10}},
            {"Conv2d(64, 64, kernel_size=3, groups=2, padding='same', padding_mode='circular')", {2, 64, 6, 5}},
        },
        /*seed=*/7);
}

TEST_CASE("channel-tile layers skip the taps in zero padding on rows of 7, 14, 28 and 56", "[jit]") {
    // Outputs 7, 14, 28 and 56 wide sum only the taps inside the input (on AVX-512 by
    // default; the knob forces it elsewhere): strided, dilated, even kernels padded at
    // one end only, kernels wider than the input, a single row, groups of whole tiles,
    // batches; and widths that take the flat pixels instead. (Inputs of the width each
    // row width is usually read from have their edge tests decided at compile time.)
    const std::vector<LayerCase> layers = {
        {"Conv2d(9, 40, kernel_size=3, padding=1) -> ReLU()", {2, 9, 7, 7}},
        {"Conv2d(9, 40, kernel_size=3, padding=1) -> ReLU()", {1, 9, 14, 14}},
        {"Conv2d(16, 32, kernel_size=3, stride=2, padding=1, bias=False)", {1, 16, 13, 27}},
        {"Conv2d(8, 32, kernel_size=3, dilation=2, padding=2)", {1, 8, 9, 14}},
        {"Conv2d(8, 32, kernel_size=(2, 4), padding='same')", {1, 8, 5, 7}},
        {"Conv2d(8, 32, kernel_size=(5, 9), padding=(2, 4))", {1, 8, 3, 7}},
        {"Conv2d(8, 32, kernel_size=3, padding=1)", {3, 8, 1, 14}},
        {"Conv2d(64, 64, kernel_size=3, groups=2, padding=1) -> ReLU()", {1, 64, 7, 7}},
        {"Conv2d(16, 32, kernel_size=3, stride=2, padding=1) -> ReLU()", {1, 16, 6, 56}},
        // 28 wide from 55 columns rather than 56: the edge tests stay run-time ones.
        {"Conv2d(16, 32, kernel_size=3, stride=2, padding=1)", {1, 16, 5, 55}},
        {"Conv2d(8, 32, kernel_size=(3, 5), padding=(1, 2), bias=False)", {2, 8, 4, 56}},
        {"Conv2d(9, 40, kernel_size=3, padding=1)", {1, 9, 6, 13}},
    };
    for (const char *knobs : {"skip_taps=1", "skip_taps=0", "skip_taps=1,channel_tile=16,reduction_split=4"}) {
        check_layers(layers, /*seed=*/13, JitKernel::default_target(), knobs);
    }
}

TEST_CASE("NaN and infinity propagate as in PyTorch", "[jit]") {
    const JitKernel k(parse_spec("Conv1d(1, 1, 2, bias=False) -> ReLU()"));
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const auto out = run_layer(k, {1, 1, 5}, {1, nan, 1, inf, 1}, {1, 1}, {});
    REQUIRE(out.shape() == std::vector<int64_t>{1, 1, 4});
    CHECK(std::isnan(out.data()[0]));  // ReLU(NaN) is NaN, not 0
    CHECK(std::isnan(out.data()[1]));
    CHECK(out.data()[2] == inf);
    CHECK(out.data()[3] == inf);
}

TEST_CASE("ReLU keeps NaN in every CPU plan, ragged row tails included", "[jit]") {
    // One NaN in the middle of a 5x5 plane (a row is a single masked vector): the 3x3
    // outputs around it are NaN in every output channel, the others finite.
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (const char *spec : {"Conv2d(1, 1, 3, padding=1, bias=False) -> ReLU()",             // vectors along x
                             "Conv2d(2, 2, 3, padding=1, groups=2, bias=False) -> ReLU()",  // depthwise
                             "Conv2d(8, 16, 3, padding=1, bias=False) -> ReLU()"}) {        // channel tiles
        INFO(spec);
        const JitKernel k(parse_spec(spec));
        const convgen::ConvSpec &s = k.spec();
        std::vector<float> input(s.in_channels * 25, 1.0f);
        input[12] = nan;  // channel 0, (2, 2)
        const std::vector<float> weight(s.out_channels * s.in_channels_per_group() * 9, 1.0f);
        const auto out = run_layer(k, {1, s.in_channels, 5, 5}, input, weight, {});
        // Depthwise: only output channel 0 reads input channel 0.
        const int nan_channels = s.groups == s.in_channels && s.groups > 1 ? 1 : s.out_channels;
        for (int c = 0; c < s.out_channels; c++) {
            for (int y = 0; y < 5; y++) {
                for (int x = 0; x < 5; x++) {
                    const bool reads_nan = c < nan_channels && std::abs(y - 2) <= 1 && std::abs(x - 2) <= 1;
                    INFO("channel " << c << ", (" << y << ", " << x << ")");
                    CHECK(std::isnan(out.data()[(c * 5 + y) * 5 + x]) == reads_nan);
                }
            }
        }
    }
}

TEST_CASE("a Layer refuses tensors that do not fit, before running anything", "[jit][errors]") {
    const JitKernel k(parse_spec("Conv2d(4, 6, kernel_size=3, groups=2, padding_mode='reflect', padding=2)"));
    std::vector<float> weight(6 * 2 * 3 * 3, 0.5f), bias(6, 0.0f);
    const convgen::ConstTensorView w(weight.data(), {6, 2, 3, 3}), b(bias.data(), {6});
    auto throws_shape_error = [](auto &&f, const std::string &needle) {
        REQUIRE_THROWS_MATCHES(f(), convgen::Error, convgen_test::shape_error_mentioning(needle));
    };
    std::vector<float> bad_weight(6 * 4 * 3 * 3);
    throws_shape_error([&] { convgen::Layer(k, convgen::ConstTensorView(bad_weight.data(), {6, 4, 3, 3}), b); },
                       "weight: expected shape (6, 2, 3, 3), got (6, 4, 3, 3)");
    throws_shape_error([&] { convgen::Layer(k, w); }, "no bias tensor");
    throws_shape_error([&] { convgen::Layer(k, w, convgen::ConstTensorView(bias.data(), {5})); },
                       "bias: expected shape (6,), got (5,)");

    const convgen::Layer layer(k, w, b);
    std::vector<float> input(2 * 4 * 5 * 5), output(2 * 6 * 7 * 7, -7.0f);  // padding 2: 5x5 -> 7x7
    const std::vector<float> untouched = output;
    throws_shape_error([&] { layer.forward(convgen::ConstTensorView(input.data(), {2, 3, 5, 5})); }, "in_channels = 4");
    throws_shape_error([&] { layer.forward(convgen::ConstTensorView(input.data(), {40, 5, 5})); }, "4-D");
    // reflect padding 2 needs at least 3 rows
    throws_shape_error([&] { layer.forward(convgen::ConstTensorView(input.data(), {2, 4, 2, 25})); }, "reflect");
    throws_shape_error(
        [&] {
            layer.forward(convgen::ConstTensorView(input.data(), {2, 4, 5, 5}),
                          convgen::TensorView(output.data(), {2, 6, 7, 6}));
        },
        "output: expected shape (2, 6, 7, 7), got (2, 6, 7, 6)");
    throws_shape_error(
        [&] {
            layer.forward(convgen::ConstTensorView(input.data() + 20, {2, 4, 5, 5}, {100, 25, -5, 1}),
                          convgen::TensorView(output.data(), {2, 6, 7, 7}));
        },
        "negative stride");
    throws_shape_error(
        [&] { layer.forward(convgen::ConstTensorView(nullptr, {2, 4, 5, 5}), convgen::TensorView(output.data(), {2, 6, 7, 7})); },
        "null");
    CHECK(output == untouched);  // nothing was written by any refused call
}

TEST_CASE("strided views of the batch and channel axes are read correctly", "[jit]") {
    // Every second image of a batch of 4, as a strided view: N stride doubled.
    const JitKernel k(parse_spec("Conv2d(2, 3, 3, padding=1)"));
    const std::vector<float> storage = convgen_test::random_values(4 * 2 * 6 * 7, 3);
    std::vector<float> packed;
    for (int n = 0; n < 4; n += 2) packed.insert(packed.end(), storage.begin() + n * 84, storage.begin() + (n + 1) * 84);
    const std::vector<float> weight = convgen_test::random_values(3 * 2 * 9, 4), bias = {0.1f, 0.2f, 0.3f};
    const convgen::Layer layer(k, convgen::ConstTensorView(weight.data(), {3, 2, 3, 3}),
                               convgen::ConstTensorView(bias.data(), {3}));
    const auto strided = layer.forward(convgen::ConstTensorView(storage.data(), {2, 2, 6, 7}, {168, 42, 7, 1}));
    const auto dense = layer.forward(convgen::ConstTensorView(packed.data(), {2, 2, 6, 7}));
    CHECK(strided.values() == dense.values());
    const auto ref = convgen_reference::reference_conv(k.spec(), {2, 2, 6, 7}, packed, weight, bias);
    for (size_t i = 0; i < ref.values.size(); i++) REQUIRE(convgen_reference::close_enough(dense.data()[i], ref.values[i], ref.magnitudes[i]));
}

TEST_CASE("pointwise layers run over flattened planes, dense or not", "[jit]") {
    // A 1x1, stride-1, unpadded Conv2d with a short reduction is compiled as a Conv1d over
    // H*W pixels. Dense planes are handed over as they are; planes of a strided view (a
    // crop of a wider image, here columns 1..5 of 7) are copied in, and a strided output
    // is written back through a copy. All three must agree with the reference.
    const convgen::ConvSpec spec = parse_spec("Conv2d(3, 5, kernel_size=1, padding='same') -> ReLU()");
    REQUIRE(convgen::kernel_spec(spec).dims == 1);
    const JitKernel k(spec);
    const std::vector<int64_t> shape = {2, 3, 4, 5};
    const std::vector<float> wide = convgen_test::random_values(2 * 3 * 4 * 7, 11);
    std::vector<float> cropped;  // the same crop, dense
    for (size_t row = 0; row < 2 * 3 * 4; row++)
        cropped.insert(cropped.end(), wide.begin() + row * 7 + 1, wide.begin() + row * 7 + 6);
    const std::vector<float> weight = convgen_test::random_values(5 * 3, 12), bias = convgen_test::random_values(5, 13);
    const convgen::Layer layer(k, convgen::ConstTensorView(weight.data(), {5, 3, 1, 1}),
                               convgen::ConstTensorView(bias.data(), {5}));

    const auto dense = layer.forward(convgen::ConstTensorView(cropped.data(), shape));
    const auto from_crop = layer.forward(convgen::ConstTensorView(wide.data() + 1, shape, {84, 28, 7, 1}));
    std::vector<float> wide_output(2 * 5 * 4 * 9, -7.0f);  // into columns 2..6 of a 9-wide image
    layer.forward(convgen::ConstTensorView(cropped.data(), shape),
                  convgen::TensorView(wide_output.data() + 2, {2, 5, 4, 5}, {180, 36, 9, 1}));

    const auto ref = convgen_reference::reference_conv(spec, shape, cropped, weight, bias);
    REQUIRE(dense.values().size() == ref.values.size());
    for (size_t i = 0; i < ref.values.size(); i++) {
        REQUIRE(convgen_reference::close_enough(dense.data()[i], ref.values[i], ref.magnitudes[i]));
        REQUIRE(from_crop.data()[i] == dense.data()[i]);
        const size_t row = i / 5, col = i % 5;
        REQUIRE(wide_output[row * 9 + 2 + col] == dense.data()[i]);
    }
    for (size_t row = 0; row < 2 * 5 * 4; row++) {  // nothing written outside the view
        for (size_t col : {0, 1, 7, 8}) REQUIRE(wide_output[row * 9 + col] == -7.0f);
    }
}
