// Tests for the DSL: ConvSpec's rules (SPEC.md), the printer and the parser.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "convgen/spec.h"
#include "convgen/weight_layout.h"

using namespace convgen;
using Shape = std::vector<int64_t>;

namespace {

// Matches a convgen::Error by code and by a fragment of its message.
class ErrorMatcher : public Catch::MatcherBase<Error> {
public:
    ErrorMatcher(ErrorCode code, std::string fragment)
        : code_(code), fragment_(std::move(fragment)) {}

    bool match(const Error &error) const override {
        return error.code() == code_ &&
               std::string(error.what()).find(fragment_) != std::string::npos;
    }
    std::string describe() const override {
        return std::string("is an Error(") + to_string(code_) + ") whose message contains \"" +
               fragment_ + "\"";
    }

private:
    ErrorCode code_;
    std::string fragment_;
};

ErrorMatcher is_error(ErrorCode code, std::string fragment = "") {
    return ErrorMatcher(code, std::move(fragment));
}

// The code of the convgen::Error that `action` throws; fails the test on any other outcome.
ErrorCode error_code_of(const std::function<void()> &action) {
    try {
        action();
    } catch (const Error &e) {
        return e.code();
    }
    FAIL("expected a convgen::Error");
    return ErrorCode::RuntimeError;  // not reached
}

// A valid spec changed by `edit`, for checking validate() one rule at a time.
ConvSpec edited(const ConvSpec &base, const std::function<void(ConvSpec &)> &edit) {
    ConvSpec spec = base;
    edit(spec);
    return spec;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Defaults and names

TEST_CASE("ConvSpec defaults are PyTorch's", "[dsl]") {
    const ConvSpec spec = Conv2d(3, 4, 3);
    CHECK(spec.dims == 2);
    CHECK(spec.in_channels == 3);
    CHECK(spec.out_channels == 4);
    CHECK(spec.kernel_size == std::array<int, 2>{3, 3});
    CHECK(spec.stride == std::array<int, 2>{1, 1});
    CHECK(spec.padding == std::array<int, 2>{0, 0});
    CHECK(spec.dilation == std::array<int, 2>{1, 1});
    CHECK(spec.padding_kind == PaddingKind::Explicit);
    CHECK(spec.groups == 1);
    CHECK(spec.bias);
    CHECK(spec.padding_mode == PaddingMode::Zeros);
    CHECK(spec.activation == Activation::None);
    CHECK(std::string(spec.layer_name()) == "Conv2d");
    CHECK(spec == parse_spec("Conv2d(3, 4, 3)"));

    const ConvSpec conv1d = Conv1d(2, 5, 4);
    CHECK(conv1d.dims == 1);
    CHECK(std::string(conv1d.layer_name()) == "Conv1d");
    // The unused second axis keeps its defaults.
    CHECK(conv1d.kernel_size == std::array<int, 2>{4, 1});
    CHECK(conv1d.stride == std::array<int, 2>{1, 1});
    CHECK(conv1d == parse_spec("Conv1d(2, 5, 4)"));
    CHECK_NOTHROW(ConvSpec{}.validate());
}

TEST_CASE("Enum names and shape strings", "[dsl]") {
    CHECK(std::string(to_string(ErrorCode::InvalidSpec)) == "InvalidSpec");
    CHECK(std::string(to_string(ErrorCode::ParseError)) == "ParseError");
    CHECK(std::string(to_string(ErrorCode::ShapeMismatch)) == "ShapeMismatch");
    CHECK(std::string(to_string(ErrorCode::IoError)) == "IoError");
    CHECK(std::string(to_string(ErrorCode::RuntimeError)) == "RuntimeError");
    CHECK(std::string(to_string(ErrorCode::NotFound)) == "NotFound");

    CHECK(std::string(to_string(PaddingMode::Zeros)) == "zeros");
    CHECK(std::string(to_string(PaddingMode::Reflect)) == "reflect");
    CHECK(std::string(to_string(PaddingMode::Replicate)) == "replicate");
    CHECK(std::string(to_string(PaddingMode::Circular)) == "circular");
    CHECK(std::string(to_string(Activation::None)) == "none");
    CHECK(std::string(to_string(Activation::ReLU)) == "relu");

    for (PaddingMode mode : {PaddingMode::Zeros, PaddingMode::Reflect, PaddingMode::Replicate,
                             PaddingMode::Circular}) {
        CHECK(parse_padding_mode(to_string(mode)) == mode);
    }
    CHECK_THROWS_MATCHES(parse_padding_mode("mirror"), Error,
                         is_error(ErrorCode::InvalidSpec,
                                  "padding_mode must be one of 'zeros', 'reflect', 'replicate', "
                                  "'circular', got 'mirror'"));
    CHECK_THROWS_MATCHES(parse_padding_mode("Reflect"), Error, is_error(ErrorCode::InvalidSpec));

    CHECK(shape_to_string({1, 3, 224, 224}) == "(1, 3, 224, 224)");
    CHECK(shape_to_string({5}) == "(5,)");
    CHECK(shape_to_string({}) == "()");
}

// ---------------------------------------------------------------------------------------
// validate()

TEST_CASE("validate rejects what PyTorch's constructor rejects", "[dsl]") {
    const ConvSpec conv2d = Conv2d(4, 8, 3);
    const ConvSpec conv1d = Conv1d(4, 8, 3);
    struct Case {
        ConvSpec spec;
        std::string message;
    };
    // clang-format off
    const std::vector<Case> cases = {
        {edited(conv2d, [](ConvSpec &s) { s.in_channels = 0; }), "Conv2d: in_channels must be >= 1, got 0"},
        {edited(conv2d, [](ConvSpec &s) { s.out_channels = -2; }), "Conv2d: out_channels must be >= 1, got -2"},
        {edited(conv2d, [](ConvSpec &s) { s.groups = 0; }), "Conv2d: groups must be >= 1, got 0"},
        {edited(conv2d, [](ConvSpec &s) { s.in_channels = 6; s.groups = 4; }),
         "Conv2d: in_channels (6) must be divisible by groups (4)"},
        {edited(conv2d, [](ConvSpec &s) { s.out_channels = 6; s.groups = 4; }),
         "Conv2d: out_channels (6) must be divisible by groups (4)"},
        {edited(conv2d, [](ConvSpec &s) { s.kernel_size = {3, 0}; }), "Conv2d: kernel_size must be >= 1, got (3, 0)"},
        {edited(conv1d, [](ConvSpec &s) { s.stride[0] = 0; }), "Conv1d: stride must be >= 1, got 0"},
        {edited(conv2d, [](ConvSpec &s) { s.dilation = {0, 1}; }), "Conv2d: dilation must be >= 1, got (0, 1)"},
        {edited(conv2d, [](ConvSpec &s) { s.padding = {-1, 1}; }), "Conv2d: padding must be >= 0, got (-1, 1)"},
        {edited(conv2d, [](ConvSpec &s) { s.padding_kind = PaddingKind::Same; s.stride = {1, 2}; }),
         "Conv2d: padding='same' is not supported for strided convolutions: stride on W is 2"},
        {edited(conv1d, [](ConvSpec &s) { s.padding_kind = PaddingKind::Same; s.stride[0] = 3; }),
         "padding='same' is not supported for strided convolutions: stride on W is 3"},
        {edited(conv2d, [](ConvSpec &s) { s.dims = 3; }), "dims must be 1 (Conv1d) or 2 (Conv2d), got 3"},
        {edited(conv2d, [](ConvSpec &s) { s.dims = 0; }), "dims must be 1 (Conv1d) or 2 (Conv2d), got 0"},
        {edited(conv1d, [](ConvSpec &s) { s.kernel_size[1] = 3; }), "internal inconsistency: kernel_size[1] is 3"},
        {edited(conv1d, [](ConvSpec &s) { s.stride[1] = 2; }), "internal inconsistency: stride[1] is 2"},
        {edited(conv1d, [](ConvSpec &s) { s.padding[1] = 1; }), "internal inconsistency: padding[1] is 1"},
        {edited(conv1d, [](ConvSpec &s) { s.dilation[1] = 2; }), "internal inconsistency: dilation[1] is 2"},
        {edited(conv2d, [](ConvSpec &s) { s.kernel_size = {3, 100000}; s.dilation = {1, 100000}; }),
         "does not fit in an int"},
    };
    // clang-format on
    for (const Case &c : cases) {
        INFO(c.message);
        CHECK_THROWS_MATCHES(c.spec.validate(), Error, is_error(ErrorCode::InvalidSpec, c.message));
    }

    // The edges that are still valid.
    CHECK_NOTHROW(edited(conv2d, [](ConvSpec &s) { s.groups = 4; }).validate());  // depthwise
    CHECK_NOTHROW(edited(conv2d, [](ConvSpec &s) { s.padding = {0, 5}; }).validate());
    // Explicit padding with a stride is fine; only 'same' forbids it.
    CHECK_NOTHROW(edited(conv2d, [](ConvSpec &s) {
                      s.padding = {1, 1};
                      s.stride = {2, 2};
                  }).validate());
    CHECK_NOTHROW(edited(conv2d, [](ConvSpec &s) {
                      s.padding_kind = PaddingKind::Valid;
                      s.stride = {2, 3};
                  }).validate());
}

// ---------------------------------------------------------------------------------------
// Axes, output sizes and shapes

TEST_CASE("Output shapes match SPEC.md's golden shapes", "[dsl]") {
    CHECK(ConvSpec(Conv1d(256, 100, 2)).output_shape({32, 256, 35}) == Shape{32, 100, 34});
    CHECK(ConvSpec(Conv2d(8, 14, {3, 2}).stride({2, 1})).output_shape({5, 8, 10, 5}) ==
          Shape{5, 14, 4, 4});
    CHECK(ConvSpec(Conv1d(6, 5, 3).stride(2).padding(1)).output_shape({2, 6, 4}) == Shape{2, 5, 2});
    CHECK(ConvSpec(Conv1d(4, 2, 3).stride(2)).output_shape({1, 4, 9}) == Shape{1, 2, 4});
    CHECK(ConvSpec(Conv2d(2, 1, 3)).output_shape({1, 2, 7, 7}) == Shape{1, 1, 5, 5});

    // The same layers written as text give the same shapes.
    CHECK(parse_spec("Conv1d(6, 5, 3, 2, 1)").output_shape({2, 6, 4}) == Shape{2, 5, 2});
    CHECK(parse_spec("Conv2d(8, 14, (3, 2), (2, 1))").output_shape({5, 8, 10, 5}) ==
          Shape{5, 14, 4, 4});

    // Golden example 3: padding 3 around a 5x5 input gives 11x11; golden example 4's
    // stacked stride-2 layers give 4x4, then 2x2.
    CHECK(ConvSpec(Conv2d(1, 1, 1).padding(3).bias(false)).output_shape({1, 1, 5, 5}) ==
          Shape{1, 1, 11, 11});
    const ConvSpec layer1 = Conv2d(1, 2, 2).stride(2);
    const ConvSpec layer2 = Conv2d(2, 4, 2).stride(2);
    CHECK(layer2.output_shape(layer1.output_shape({1, 1, 8, 8})) == Shape{1, 4, 2, 2});
}

TEST_CASE("Weight and bias shapes", "[dsl]") {
    CHECK(ConvSpec(Conv2d(4, 8, 1).groups(2)).weight_shape() == Shape{8, 2, 1, 1});
    CHECK(ConvSpec(Conv2d(8, 14, {3, 2})).weight_shape() == Shape{14, 8, 3, 2});
    CHECK(ConvSpec(Conv1d(6, 4, 5).groups(2)).weight_shape() == Shape{4, 3, 5});
    CHECK(ConvSpec(Conv1d(6, 4, 5)).bias_shape() == Shape{4});
}

TEST_CASE("Weights pack with output channels innermost, zero-padded", "[dsl]") {
    // Conv2d(3, 40, (2, 1)): 40 output channels pad to 64 (two blocks of 16 beyond the
    // first two), each with 3 * 2 * 1 taps. Weight value = 1000*co + tap + 1, so every
    // packed slot names the value it must hold.
    const ConvSpec s = Conv2d(3, 40, {2, 1});
    CHECK(packed_out_channels(s) == 64);
    CHECK(packed_weight_shape(s) == std::vector<int64_t>{4, 3, 2, 1, 16});
    const int taps = 3 * 2 * 1;
    std::vector<float> weight(40 * taps);
    for (int co = 0; co < 40; co++)
        for (int tap = 0; tap < taps; tap++) weight[co * taps + tap] = float(1000 * co + tap + 1);
    const std::vector<float> packed = pack_weight(s, weight.data());
    REQUIRE(packed.size() == 4u * taps * 16);
    for (int block = 0; block < 4; block++)
        for (int tap = 0; tap < taps; tap++)
            for (int lane = 0; lane < 16; lane++) {
                const int co = block * 16 + lane;
                const float expected = co < 40 ? float(1000 * co + tap + 1) : 0.0f;
                CHECK(packed[(block * taps + tap) * 16 + lane] == expected);
            }
    const std::vector<float> bias(40, 2.5f);
    const std::vector<float> padded = pack_bias(s, bias.data());
    REQUIRE(padded.size() == 64u);
    CHECK(padded[39] == 2.5f);
    CHECK(padded[40] == 0.0f);
    // Conv1d packs with kH = 1, so every packed weight has five dimensions.
    CHECK(packed_weight_shape(Conv1d(4, 32, 3)) == std::vector<int64_t>{2, 4, 1, 3, 16});
}

TEST_CASE("Pointwise Conv2d layers compile as the Conv1d over flattened pixels", "[dsl]") {
    const ConvSpec pointwise = parse_spec("Conv2d(64, 256, kernel_size=1, groups=2, bias=False) -> ReLU()");
    CHECK(is_pointwise_conv2d(pointwise));
    CHECK(to_string(kernel_spec(pointwise)) == "Conv1d(64, 256, kernel_size=(1,), stride=(1,), groups=2, bias=False) -> ReLU()");
    // 'same' and any dilation or padding mode of a 1x1 kernel read no padding either.
    CHECK(kernel_spec(parse_spec("Conv2d(8, 8, 1, padding='same', dilation=3, padding_mode='reflect')")).dims == 1);
    // Not pointwise: a wider kernel, a stride, padding. Long reductions stay Conv2d.
    for (const char *text : {"Conv2d(8, 8, (1, 3))", "Conv2d(8, 8, 1, stride=2)", "Conv2d(8, 8, 1, padding=1)",
                             "Conv2d(1024, 256, 1)", "Conv1d(8, 8, 1)"}) {
        INFO(text);
        CHECK(kernel_spec(parse_spec(text)) == parse_spec(text));
    }
    CHECK(!is_pointwise_conv2d(parse_spec("Conv2d(8, 8, 1, padding=1)")));
}

TEST_CASE("axis() resolves explicit, valid and same padding", "[dsl]") {
    SECTION("explicit padding is symmetric") {
        const ConvSpec spec = Conv2d(1, 1, {3, 5}).padding({1, 2}).stride({2, 3}).dilation({1, 2});
        const AxisParams h = spec.axis(0), w = spec.axis(1);
        CHECK((h.kernel == 3 && h.stride == 2 && h.dilation == 1 && h.pad_begin == 1 &&
               h.pad_end == 1));
        CHECK((w.kernel == 5 && w.stride == 3 && w.dilation == 2 && w.pad_begin == 2 &&
               w.pad_end == 2));
        CHECK(w.dilated_extent() == 9);
        CHECK(spec.axis_y().kernel == 3);
        CHECK(spec.axis_x().kernel == 5);
    }
    SECTION("valid means no padding") {
        const ConvSpec spec = Conv2d(1, 1, 3).padding("valid");
        CHECK(spec.axis(0).pad_begin == 0);
        CHECK(spec.axis(1).pad_end == 0);
        CHECK(spec.output_shape({1, 1, 7, 6}) == Shape{1, 1, 5, 4});
    }
    SECTION("same puts the odd element of the padding at the end") {
        // Even kernel 4: total 3 -> 1 before, 2 after. Kernel 3: 1 and 1.
        const ConvSpec spec = Conv2d(1, 1, {4, 3}).padding("same");
        CHECK((spec.axis(0).pad_begin == 1 && spec.axis(0).pad_end == 2));
        CHECK((spec.axis(1).pad_begin == 1 && spec.axis(1).pad_end == 1));
        CHECK(spec.output_shape({2, 1, 9, 8}) == Shape{2, 1, 9, 8});

        // Dilation 3, kernel 2: total 3 -> 1 and 2. Dilation 2, kernel 4: total 6 -> 3 and 3.
        const ConvSpec dilated = Conv2d(1, 1, {2, 4}).dilation({3, 2}).padding("same");
        CHECK((dilated.axis(0).pad_begin == 1 && dilated.axis(0).pad_end == 2));
        CHECK((dilated.axis(1).pad_begin == 3 && dilated.axis(1).pad_end == 3));
        CHECK(dilated.output_shape({1, 1, 5, 7}) == Shape{1, 1, 5, 7});

        const ConvSpec conv1d = Conv1d(2, 3, 6).padding("same");
        CHECK((conv1d.axis(0).pad_begin == 2 && conv1d.axis(0).pad_end == 3));
        CHECK(conv1d.output_shape({1, 2, 1}) == Shape{1, 3, 1});
    }
    SECTION("Conv1d's y axis is trivial") {
        const AxisParams y = ConvSpec(Conv1d(1, 1, 5).padding(2)).axis_y();
        CHECK((y.kernel == 1 && y.stride == 1 && y.dilation == 1 && y.pad_begin == 0 &&
               y.pad_end == 0));
        CHECK(ConvSpec(Conv1d(1, 1, 5).padding(2)).axis_x().pad_begin == 2);
    }
    SECTION("an axis index out of range is an error, not a crash") {
        CHECK_THROWS_AS(ConvSpec(Conv1d(1, 1, 3)).axis(1), Error);
        CHECK_THROWS_AS(ConvSpec(Conv2d(1, 1, 3)).axis(-1), Error);
    }
}

TEST_CASE("AxisParams::output_size floors, also below zero", "[dsl]") {
    AxisParams axis;
    axis.kernel = 3;
    CHECK(axis.output_size(5) == 3);
    axis.stride = 2;
    CHECK(axis.output_size(6) == 2);  // (6 - 3) / 2 = 1.5 -> 1, + 1
    // (3 - 4) / 2 = -0.5: truncation would give 0 + 1 = 1, a usable-looking size.
    axis.kernel = 4;
    CHECK(axis.output_size(3) == 0);
    axis.kernel = 9;
    CHECK(axis.output_size(2) == -3);  // floor(-7 / 2) = -4
    axis.pad_begin = 1;
    axis.pad_end = 2;
    CHECK(axis.output_size(6) == 1);
    axis.stride = 0;
    CHECK_THROWS_AS(axis.output_size(6), Error);
}

TEST_CASE("output_shape rejects inputs that do not fit the layer", "[dsl]") {
    const ConvSpec conv2d = Conv2d(3, 4, 3);
    CHECK_THROWS_MATCHES(
        conv2d.output_shape({1, 3, 5}), Error,
        is_error(ErrorCode::ShapeMismatch,
                 "Conv2d expects a 4-D input (N, C_in, H, W), got a 3-D tensor (1, 3, 5)"));
    CHECK_THROWS_MATCHES(
        ConvSpec(Conv1d(3, 4, 3)).output_shape({1, 3, 5, 5}), Error,
        is_error(ErrorCode::ShapeMismatch, "Conv1d expects a 3-D input (N, C_in, W), got a 4-D"));
    CHECK_THROWS_MATCHES(conv2d.output_shape({}), Error, is_error(ErrorCode::ShapeMismatch, "0-D"));
    CHECK_THROWS_MATCHES(conv2d.output_shape({1, 4, 5, 5}), Error,
                         is_error(ErrorCode::ShapeMismatch, "(1, 4, 5, 5)"));
    CHECK_THROWS_MATCHES(conv2d.output_shape({1, 4, 5, 5}), Error,
                         is_error(ErrorCode::ShapeMismatch, "in_channels = 3"));
    CHECK_THROWS_MATCHES(conv2d.output_shape({0, 3, 5, 5}), Error,
                         is_error(ErrorCode::ShapeMismatch, "batch size N must be >= 1, got 0"));
    CHECK_THROWS_MATCHES(conv2d.output_shape({1, 3, 0, 5}), Error,
                         is_error(ErrorCode::ShapeMismatch, "input size on H must be >= 1, got 0"));
    CHECK_THROWS_MATCHES(
        conv2d.output_shape({1, 3, 5, -1}), Error,
        is_error(ErrorCode::ShapeMismatch, "input size on W must be >= 1, got -1"));

    // The kernel's dilated extent larger than the padded input.
    const ConvSpec wide = Conv2d(1, 1, {1, 5});
    CHECK(wide.output_shape({1, 1, 1, 5}) == Shape{1, 1, 1, 1});
    CHECK_THROWS_MATCHES(
        wide.output_shape({1, 1, 1, 4}), Error,
        is_error(ErrorCode::ShapeMismatch,
                 "Conv2d: kernel's dilated extent 5 on W (dilation 1 * (kernel_size "
                 "5 - 1) + 1) is larger than the padded input 4 (4 + 2*0)"));
    const ConvSpec dilated = Conv1d(1, 1, 3).dilation(3).padding(1);  // extent 7
    CHECK(dilated.output_shape({1, 1, 5}) == Shape{1, 1, 1});
    CHECK_THROWS_MATCHES(dilated.output_shape({1, 1, 4}), Error,
                         is_error(ErrorCode::ShapeMismatch, "dilated extent 7 on W"));
    // A stride cannot make up for it: floor of a negative numerator stays below 1.
    CHECK_THROWS_AS(ConvSpec(Conv1d(1, 1, 4).stride(2)).output_shape({1, 1, 3}), Error);

    // An invalid spec is reported as such rather than dividing by zero.
    ConvSpec broken = conv2d;
    broken.groups = 0;
    CHECK_THROWS_MATCHES(broken.output_shape({1, 3, 5, 5}), Error,
                         is_error(ErrorCode::InvalidSpec));
}

TEST_CASE("reflect and circular padding limits", "[dsl]") {
    SECTION("reflect needs padding < input size") {
        const ConvSpec spec = Conv2d(1, 1, 1).padding({2, 3}).padding_mode(PaddingMode::Reflect);
        CHECK(spec.output_shape({1, 1, 3, 4}) == Shape{1, 1, 7, 10});
        CHECK_THROWS_MATCHES(spec.output_shape({1, 1, 2, 4}), Error,
                             is_error(ErrorCode::ShapeMismatch, "on H for input size 2"));
        CHECK_THROWS_MATCHES(spec.output_shape({1, 1, 3, 3}), Error,
                             is_error(ErrorCode::ShapeMismatch, "padding 3 on W for input size 3"));
        // 'same' with an even kernel pads 1 before and 2 after: the larger side decides.
        const ConvSpec same = Conv1d(1, 1, 4).padding("same").padding_mode("reflect");
        CHECK(same.output_shape({1, 1, 3}) == Shape{1, 1, 3});
        CHECK_THROWS_MATCHES(same.output_shape({1, 1, 2}), Error,
                             is_error(ErrorCode::ShapeMismatch, "(1 before, 2 after) on W"));
    }
    SECTION("circular allows padding up to the input size") {
        const ConvSpec spec = Conv1d(1, 1, 1).padding(3).padding_mode(PaddingMode::Circular);
        CHECK(spec.output_shape({1, 1, 3}) == Shape{1, 1, 9});
        CHECK_THROWS_MATCHES(spec.output_shape({1, 1, 2}), Error,
                             is_error(ErrorCode::ShapeMismatch, "padding_mode=circular"));
    }
    SECTION("zeros and replicate have no limit") {
        CHECK(ConvSpec(Conv1d(1, 1, 1).padding(3)).output_shape({1, 1, 1}) == Shape{1, 1, 7});
        CHECK(ConvSpec(Conv1d(1, 1, 1).padding(3).padding_mode("replicate"))
                  .output_shape({1, 1, 1}) == Shape{1, 1, 7});
    }
}

TEST_CASE("FLOPs count multiply-adds twice", "[dsl]") {
    // ResNet's stem: 112x112 outputs, 64 channels, 3 * 7 * 7 multiply-adds each.
    const ConvSpec stem = Conv2d(3, 64, 7).stride(2).padding(3).bias(false);
    CHECK(stem.output_shape({1, 3, 224, 224}) == Shape{1, 64, 112, 112});
    CHECK(stem.flops({1, 3, 224, 224}) == Approx(2.0 * 64 * 112 * 112 * 3 * 7 * 7));
    CHECK(stem.flops({1, 3, 224, 224}) == 236027904.0);
    // Groups divide the channels each output reads.
    CHECK(ConvSpec(Conv2d(4, 8, 1).groups(2)).flops({1, 4, 1, 1}) == 32.0);
    CHECK(ConvSpec(Conv1d(256, 100, 2)).flops({32, 256, 35}) == 2.0 * 32 * 100 * 34 * 256 * 2);
    CHECK_THROWS_AS(stem.flops({1, 4, 224, 224}), Error);
}

// ---------------------------------------------------------------------------------------
// Builder

TEST_CASE("Builder sets every parameter and validates on build", "[dsl]") {
    const ConvSpec spec = Conv1d(4, 2, 3)
                              .stride(2)
                              .padding(1)
                              .dilation(2)
                              .groups(2)
                              .bias(false)
                              .padding_mode("reflect")
                              .relu();
    CHECK(spec ==
          parse_spec("Conv1d(4, 2, kernel_size=(3,), stride=(2,), padding=(1,), "
                     "dilation=(2,), groups=2, bias=False, padding_mode=reflect) -> ReLU()"));
    CHECK(spec.activation == Activation::ReLU);

    CHECK(ConvSpec(Conv2d(3, 64, {7, 5}).stride({2, 1}).padding({3, 2}).dilation({1, 2})) ==
          parse_spec("nn.Conv2d(3, 64, (7, 5), stride=(2, 1), padding=(3, 2), dilation=(1, 2))"));
    CHECK(ConvSpec(Conv2d(3, 3, 3).padding("same")) ==
          parse_spec("Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1), padding=same)"));

    // Setting 'same' after numbers forgets the numbers, as the parsed form never has them.
    const ConvSpec same = Conv2d(3, 3, 3).padding(2).padding("same");
    CHECK(same.padding == std::array<int, 2>{0, 0});
    CHECK(ConvSpec(Conv2d(3, 3, 3).padding("same").padding(1)).padding_kind ==
          PaddingKind::Explicit);

    CHECK_THROWS_MATCHES(
        Conv2d(6, 8, 3).groups(4).build(), Error,
        is_error(ErrorCode::InvalidSpec, "in_channels (6) must be divisible by groups (4)"));
    CHECK_THROWS_MATCHES(
        Conv2d(1, 1, {3, 3, 3}), Error,
        is_error(ErrorCode::InvalidSpec, "Conv2d: kernel_size must have 2 entries, got (3, 3, 3)"));
    CHECK_THROWS_MATCHES(Conv2d(1, 1, 3).stride({2}), Error,
                         is_error(ErrorCode::InvalidSpec, "stride must have 2 entries, got (2,)"));
    CHECK_THROWS_MATCHES(
        Conv2d(1, 1, 3).padding("full"), Error,
        is_error(ErrorCode::InvalidSpec,
                 "Conv2d: padding must be an int, a tuple, 'same' or 'valid', got 'full'"));
    CHECK_THROWS_MATCHES(Conv1d(1, 1, 3).padding_mode("mirror"), Error,
                         is_error(ErrorCode::InvalidSpec, "Conv1d: padding_mode must be one of"));
    CHECK_THROWS_MATCHES(
        ConvBuilder(3, 1, 1, {1, 1, 1}), Error,
        is_error(ErrorCode::InvalidSpec, "dims must be 1 (Conv1d) or 2 (Conv2d), got 3"));
    CHECK_THROWS_MATCHES(ConvSpec(Conv2d(1, 1, 3).stride(2).padding("same")), Error,
                         is_error(ErrorCode::InvalidSpec, "padding='same' is not supported"));
}

TEST_CASE("Equality ignores leftover numbers under 'same'/'valid' padding", "[dsl]") {
    ConvSpec a = Conv2d(2, 2, 3).padding("same");
    ConvSpec b = a;
    b.padding = {4, 4};
    CHECK(a == b);
    b.padding_kind = PaddingKind::Explicit;
    CHECK(a != b);
    CHECK(ConvSpec(Conv2d(2, 2, 3)) != ConvSpec(Conv2d(2, 2, 3).relu()));
    CHECK(ConvSpec(Conv2d(2, 2, 3)) != ConvSpec(Conv2d(2, 2, 3).bias(false)));
    CHECK(ConvSpec(Conv2d(2, 2, 3)) != ConvSpec(Conv2d(2, 2, 3).padding("valid")));
}

// ---------------------------------------------------------------------------------------
// Printer and parser

TEST_CASE("to_string prints what PyTorch prints", "[dsl]") {
    CHECK(to_string(Conv2d(8, 14, {3, 2}).stride({2, 1})) ==
          "Conv2d(8, 14, kernel_size=(3, 2), stride=(2, 1))");
    CHECK(to_string(
              Conv1d(4, 2, 3).stride(2).padding(1).dilation(2).groups(2).bias(false).padding_mode(
                  PaddingMode::Reflect)) ==
          "Conv1d(4, 2, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), groups=2, "
          "bias=False, padding_mode=reflect)");
    CHECK(to_string(Conv2d(3, 3, 3).padding("same")) ==
          "Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1), padding=same)");
    CHECK(to_string(Conv2d(3, 3, 3).padding("valid")) ==
          "Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1), padding=valid)");
    // Zero padding and unit dilation are left out; one non-default entry prints the tuple.
    CHECK(to_string(Conv2d(3, 3, 3).padding(0).dilation(1)) ==
          "Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1))");
    CHECK(to_string(Conv2d(3, 3, 3).padding({0, 1}).dilation({2, 1})) ==
          "Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1), padding=(0, 1), dilation=(2, 1))");
    CHECK(to_string(Conv2d(64, 128, 3).padding(1).relu()) ==
          "Conv2d(64, 128, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)) -> ReLU()");
}

TEST_CASE("Printed forms round-trip", "[dsl]") {
    const std::vector<std::string> printed = {
        "Conv2d(8, 14, kernel_size=(3, 2), stride=(2, 1))",
        "Conv1d(4, 2, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), groups=2, "
        "bias=False, padding_mode=reflect)",
        "Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1), padding=same)",
        "Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1), padding=valid)",
        "Conv1d(256, 100, kernel_size=(2,), stride=(1,))",
        "Conv1d(16, 16, kernel_size=(4,), stride=(1,), padding=same, dilation=(3,), groups=16)",
        "Conv2d(1, 1, kernel_size=(1, 1), stride=(1, 1), padding=(3, 3), bias=False, "
        "padding_mode=circular)",
        "Conv2d(4, 8, kernel_size=(1, 1), stride=(1, 1), groups=2, bias=False)",
        "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False) -> ReLU()",
        "Conv2d(32, 32, kernel_size=(3, 5), stride=(1, 2), padding=(0, 2), dilation=(2, 1), "
        "padding_mode=replicate) -> ReLU()",
        "Conv1d(6, 5, kernel_size=(3,), stride=(2,), padding=(1,))",
    };
    for (const std::string &text : printed) {
        INFO(text);
        const ConvSpec spec = parse_spec(text);
        CHECK(to_string(spec) == text);
        CHECK(parse_spec(to_string(spec)) == spec);
    }

    const std::vector<ConvSpec> built = {
        Conv2d(3, 4, 3),
        Conv1d(2, 2, 5).padding(2).padding_mode("circular").groups(2),
        Conv2d(6, 6, {2, 4}).dilation({3, 1}).padding("same").bias(false).relu(),
        Conv2d(6, 12, 1).stride({1, 3}).padding({2, 0}).padding_mode(PaddingMode::Replicate),
    };
    for (const ConvSpec &spec : built) {
        INFO(to_string(spec));
        CHECK(parse_spec(to_string(spec)) == spec);
    }
}

TEST_CASE("Constructor-call forms parse like PyTorch binds them", "[dsl]") {
    struct Case {
        std::string text;
        ConvSpec expected;
    };
    const std::vector<Case> cases = {
        {"Conv2d(64, 128, 3)", Conv2d(64, 128, 3)},
        {"Conv2d(64, 128, kernel_size=3, padding=1)", Conv2d(64, 128, 3).padding(1)},
        {"nn.Conv2d(64, 128, 3)", Conv2d(64, 128, 3)},
        {"torch.nn.Conv2d(64, 128, 3)", Conv2d(64, 128, 3)},
        {"Conv1d(6, 5, 3, 2, 1)", Conv1d(6, 5, 3).stride(2).padding(1)},
        {"Conv2d(8, 14, (3, 2), (2, 1))", Conv2d(8, 14, {3, 2}).stride({2, 1})},
        {"Conv2d(8, 14, [3, 2], [2, 1])", Conv2d(8, 14, {3, 2}).stride({2, 1})},
        {"Conv2d(8, 14, kernel_size=(3), stride=(2))", Conv2d(8, 14, 3).stride(2)},  // (3) is 3
        {"Conv1d(4, 2, (3,), (2,))", Conv1d(4, 2, 3).stride(2)},
        {"Conv1d(4, 2, [3], [2])", Conv1d(4, 2, 3).stride(2)},
        // All nine positionally.
        {"Conv1d(4, 2, 3, 2, 1, 2, 2, False, 'reflect')",
         Conv1d(4, 2, 3).stride(2).padding(1).dilation(2).groups(2).bias(false).padding_mode(
             "reflect")},
        {"Conv2d(in_channels=3, out_channels=6, kernel_size=5, stride=1, padding=0, dilation=1, "
         "groups=3, bias=True, padding_mode='zeros')",
         Conv2d(3, 6, 5).groups(3)},
        {"Conv2d(kernel_size=3, out_channels=4, in_channels=2)", Conv2d(2, 4, 3)},
        {"Conv2d(3, 3, 3, padding='same')", Conv2d(3, 3, 3).padding("same")},
        {"Conv2d(3, 3, 3, padding=\"valid\")", Conv2d(3, 3, 3).padding("valid")},
        {"Conv2d(3, 3, 3, padding=same, padding_mode=\"circular\")",
         Conv2d(3, 3, 3).padding("same").padding_mode("circular")},
        {"Conv2d(3, 3, 3, padding_mode=replicate)", Conv2d(3, 3, 3).padding_mode("replicate")},
        {"Conv2d(3, 3, 3, bias=False)", Conv2d(3, 3, 3).bias(false)},
        {"Conv2d(3, 3, 3,)", Conv2d(3, 3, 3)},
        {"Conv2d(3, 3, 3, stride=(2, 2),)", Conv2d(3, 3, 3).stride(2)},
        {"Conv2d(3, 3, 3, padding=(1, 2,))", Conv2d(3, 3, 3).padding({1, 2})},
        {"Conv2d(3, 3, 3) -> ReLU()", Conv2d(3, 3, 3).relu()},
        {"Conv2d(3, 3, 3)->ReLU()", Conv2d(3, 3, 3).relu()},
        {"Conv2d(3, 3, 3) -> ReLU(inplace=True)", Conv2d(3, 3, 3).relu()},
        {"Conv2d(3, 3, 3) -> nn.ReLU(inplace=False)", Conv2d(3, 3, 3).relu()},
        {"nn.Conv2d(3, 3, 3) -> torch.nn.ReLU(True)", Conv2d(3, 3, 3).relu()},
        {"Conv2d(2147483647, 1, 1)", Conv2d(2147483647, 1, 1)},
        {"Conv2d(3, 3, 007)", Conv2d(3, 3, 7)},
    };
    for (const Case &c : cases) {
        INFO(c.text);
        CHECK(parse_spec(c.text) == c.expected);
    }
}

TEST_CASE("Whitespace is free between tokens", "[dsl]") {
    const ConvSpec expected =
        Conv2d(3, 6, {3, 2}).padding(1).groups(3).padding_mode("reflect").relu();
    const std::vector<std::string> variants = {
        "Conv2d(3, 6, kernel_size=(3, 2), stride=(1, 1), padding=(1, 1), groups=3, "
        "padding_mode=reflect) -> ReLU()",
        "Conv2d(3,6,kernel_size=(3,2),padding=1,groups=3,padding_mode='reflect')->ReLU()",
        "  nn . Conv2d ( 3 , 6 , kernel_size = ( 3 , 2 ) , padding = 1 , groups = 3 , "
        "padding_mode = 'reflect' )  ->  ReLU ( )  ",
        "nn.Conv2d(\n    3,\n    6,\n    kernel_size=(3, 2),\n    padding=1,\n    groups=3,\n"
        "    padding_mode=\"reflect\",\n)\n-> nn.ReLU(inplace=True)\n",
        "\tConv2d(3,\t6,\r\n(3,2),1,1,\v1,3,padding_mode=reflect)\f->ReLU()",
    };
    for (const std::string &text : variants) {
        INFO(text);
        CHECK(parse_spec(text) == expected);
    }
}

TEST_CASE("Parse errors say where and what was expected", "[dsl]") {
    struct Case {
        std::string text;
        ErrorCode code;
        std::string message;
    };
    // clang-format off
    const std::vector<Case> cases = {
        {"Conv2d(3, 4, 3", ErrorCode::ParseError,
         "expected ')' after argument list, got end of input at column 15 in 'Conv2d(3, 4, 3'"},
        {"Conv2d(3, 4, 3, stride=2, stride=1)", ErrorCode::ParseError,
         "Conv2d got multiple values for argument 'stride' at column 27"},
        {"Conv2d(3, 4, 3, 2, stride=1)", ErrorCode::ParseError,
         "got multiple values for argument 'stride'"},
        {"Conv2d(3, 4, 3, strid=2)", ErrorCode::ParseError,
         "unknown argument 'strid'; expected one of in_channels, out_channels, kernel_size, stride, "
         "padding, dilation, groups, bias, padding_mode at column 17"},
        {"Conv2d(3, 4, 3, device='cpu')", ErrorCode::ParseError, "unknown argument 'device'"},
        {"Conv2d(3, 4, 3, 1, 0, 1, 1, True, 'zeros', 5)", ErrorCode::ParseError,
         "Conv2d takes at most 9 positional arguments at column 44"},
        {"Conv2d(3, out_channels=4, 3)", ErrorCode::ParseError,
         "positional argument follows keyword argument at column 27"},
        {"Conv2d(3, 4, (3, 3, 3))", ErrorCode::ParseError,
         "Conv2d: kernel_size must have 2 entries, got (3, 3, 3) at column 14"},
        {"Conv1d(3, 4, 3, stride=(2, 2))", ErrorCode::ParseError, "Conv1d: stride must have 1 entry, got (2, 2)"},
        {"Conv2d(3, 4, 3, padding=[1])", ErrorCode::ParseError, "Conv2d: padding must have 2 entries, got [1]"},
        {"Conv2d(3, 4, ())", ErrorCode::ParseError, "kernel_size must have 2 entries, got ()"},
        {"Conv2d(3, 4, 3, padding='full')", ErrorCode::InvalidSpec,
         "Conv2d: padding must be an int, a tuple, 'same' or 'valid', got 'full' at column 25"},
        {"Conv2d(3, 4, 3, padding=full)", ErrorCode::InvalidSpec, "got 'full'"},
        {"Conv2d(3, 4, 3, padding_mode='mirror')", ErrorCode::InvalidSpec,
         "Conv2d: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', got 'mirror' "
         "at column 30"},
        {"Conv3d(3, 4, 3)", ErrorCode::ParseError, "expected Conv1d or Conv2d, got 'Conv3d' at column 1"},
        {"nn.Linear(3, 4)", ErrorCode::ParseError, "expected Conv1d or Conv2d, got 'Linear' at column 4"},
        {"torch.Conv2d(3, 4, 3)", ErrorCode::ParseError, "expected 'nn' after 'torch.', got 'Conv2d'"},
        {"Conv2d(3, 4, 3) -> Sigmoid()", ErrorCode::ParseError, "unknown activation 'Sigmoid'; expected ReLU"},
        {"Conv2d(3, 4, 3) -> ReLU(negative_slope=0.1)", ErrorCode::ParseError,
         "unknown argument 'negative_slope' for ReLU; expected inplace"},
        {"Conv2d(3, 4, 3) junk", ErrorCode::ParseError,
         "expected end of input after the layer, got 'junk' at column 17"},
        {"Conv2d(3, 4, 3))", ErrorCode::ParseError, "expected end of input after the layer, got ')'"},
        {"Conv2d(3, 4, 2147483648)", ErrorCode::ParseError,
         "integer 2147483648 is out of range (an int holds -2147483648 to 2147483647) at column 14"},
        {"Conv2d(3, 4, 3, padding=-99999999999999999999999)", ErrorCode::ParseError, "is out of range"},
        {"Conv2d(3, 4)", ErrorCode::ParseError, "Conv2d is missing required argument 'kernel_size' at column 12"},
        {"Conv2d()", ErrorCode::ParseError, "missing required argument 'in_channels'"},
        {"Conv2d(3, 4, 3, bias='False')", ErrorCode::ParseError, "Conv2d: bias must be True or False, got 'False'"},
        {"Conv2d(3, 4, 3, bias=0)", ErrorCode::ParseError, "bias must be True or False, got 0"},
        {"Conv2d(3, 4, 'same')", ErrorCode::ParseError,
         "Conv2d: kernel_size must be an int or a tuple of 2 ints, got 'same'"},
        {"Conv2d((3, 3), 4, 3)", ErrorCode::ParseError, "Conv2d: in_channels must be an int, got (3, 3)"},
        {"Conv2d(3, 4, 3, padding_mode=1)", ErrorCode::ParseError, "padding_mode must be a string, got 1"},
        {"Conv2d(3, 4, 3, padding='same", ErrorCode::ParseError, "unterminated string"},
        {"Conv2d(3, 4, 3.5)", ErrorCode::ParseError, "got '.'"},
        {"Conv2d(3; 4, 3)", ErrorCode::ParseError, "unexpected character ';' at column 9"},
        {"", ErrorCode::ParseError, "expected Conv1d or Conv2d, got end of input at column 1"},
        // Negative numbers parse; the layer they describe is refused.
        {"Conv2d(3, 4, 3, padding=-1)", ErrorCode::InvalidSpec, "Conv2d: padding must be >= 0, got (-1, -1)"},
        {"Conv2d(3, 4, -3)", ErrorCode::InvalidSpec, "kernel_size must be >= 1"},
        {"Conv2d(3, 4, 3, stride=2, padding='same')", ErrorCode::InvalidSpec,
         "padding='same' is not supported for strided convolutions"},
        {"Conv2d(6, 4, 3, groups=4)", ErrorCode::InvalidSpec, "in_channels (6) must be divisible by groups (4)"},
        {"Conv2d(0, 4, 3)", ErrorCode::InvalidSpec, "in_channels must be >= 1, got 0"},
    };
    // clang-format on
    for (const Case &c : cases) {
        INFO(c.text);
        CHECK_THROWS_MATCHES(parse_spec(c.text), Error, is_error(c.code, c.message));
    }
}

TEST_CASE("Malformed text throws ParseError or InvalidSpec, never anything else", "[dsl]") {
    const std::vector<std::string> malformed = {
        "",
        "   ",
        "Conv2d",
        "Conv2d(",
        "Conv2d)",
        "conv2d(3, 4, 3)",
        "Conv2d[3, 4, 3]",
        "Conv2d(3, 4, 3",
        "Conv2d(3, 4, 3,,)",
        "Conv2d(,)",
        "Conv2d(3 4 3)",
        "Conv2d(3, 4, (3, 3)",
        "Conv2d(3, 4, (3, 3]))",
        "Conv2d(3, 4, ((3, 3)))",
        "Conv2d(3, 4, 3, stride=)",
        "Conv2d(3, 4, 3, =2)",
        "Conv2d(3, 4, 3, stride==2)",
        "Conv2d(3, 4, 3, -)",
        "Conv2d(3, 4, 3, padding=--1)",
        "Conv2d(3, 4, 3) ->",
        "Conv2d(3, 4, 3) -> ReLU",
        "Conv2d(3, 4, 3) -> ReLU(",
        "Conv2d(3, 4, 3) -> ReLU() -> ReLU()",
        "Conv2d(3, 4, 3) - > ReLU()",
        "nn.",
        "nn.nn.Conv2d(3, 4, 3)",
        "torch.nn.",
        "Conv2d(3, 4, 3, padding=\"same')",
        "Conv2d(3, 4, 3, bias=true)",
        "Conv2d(3, 4, 3, bias=None)",
        "Conv2d(3, 4, 3, padding_mode=(1, 1))",
        "Conv2d(3, 4, 3, groups=(2,))",
        std::string("Conv2d(3, 4, 3\0)", 16),
        "Conv2d(3, 4, 3) # comment",
        "Conv2d(3, 4, 3)\xff",
        "Conv2d(3, 4, 99999999999999999999999999999999999999)",
        "Conv2d(3, 4, 3, padding=same, padding=1)",
        "Conv1d(3, 4, kernel_size=(3, 3))",
        "Conv2d(3, 4, 3, padding='SAME')",
        "Conv2d(3, 4, 3, padding_mode='Zeros')",
    };
    for (const std::string &text : malformed) {
        INFO(text);
        const ErrorCode code = error_code_of([&] { parse_spec(text); });
        CHECK((code == ErrorCode::ParseError || code == ErrorCode::InvalidSpec));
    }
}

TEST_CASE("Every prefix and every one-byte edit of a layer either parses or throws Error",
          "[dsl]") {
    const std::string text =
        "torch.nn.Conv2d(4, 8, kernel_size=(3, 2), stride=[1, 1], padding='same', dilation=2, "
        "groups=2, bias=False, padding_mode=\"circular\") -> nn.ReLU(inplace=True)";
    REQUIRE_NOTHROW(parse_spec(text));
    const auto parses_or_throws_error = [](const std::string &candidate) {
        try {
            parse_spec(candidate);
        } catch (const Error &) {
        } catch (...) {
            FAIL("a non-convgen exception for '" << candidate << "'");
        }
    };
    for (size_t length = 0; length < text.size(); ++length)
        parses_or_throws_error(text.substr(0, length));
    const std::string replacements = "()[],=.-> '\"0123456789aZ_\n\x80";
    for (size_t i = 0; i < text.size(); ++i) {
        for (char replacement : replacements) {
            std::string edited_text = text;
            edited_text[i] = replacement;
            parses_or_throws_error(edited_text);
        }
        std::string without = text;
        without.erase(i, 1);
        parses_or_throws_error(without);
    }
}
