// The five worked examples of SPEC.md ("Golden numbers"): the layers, their inputs and
// weights, and the outputs PyTorch gives. Shared by examples/golden.cpp, which prints
// them, and the tests, which check them.
#pragma once

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace spec_examples {

inline std::vector<float> iota(int count, float first = 0.0f) {
    std::vector<float> v(static_cast<size_t>(count));
    std::iota(v.begin(), v.end(), first);
    return v;
}

// 1. Conv1d on 0..15 with weight [0.1, 0.2, 0.3].
constexpr const char *kConv1dSpec = "Conv1d(1, 1, kernel_size=(3,), stride=(1,), bias=False)";
inline const std::vector<int64_t> kConv1dInputShape = {1, 1, 16};
inline std::vector<float> conv1d_input() { return iota(16); }
inline const std::vector<float> kConv1dWeight = {0.1f, 0.2f, 0.3f};
inline const std::vector<float> kConv1dExpected = {0.8f, 1.4f, 2.0f, 2.6f, 3.2f, 3.8f, 4.4f,
                                                   5.0f, 5.6f, 6.2f, 6.8f, 7.4f, 8.0f, 8.6f};

// 2. Groups: ones (1, 4, 1, 1) through Conv2d(4, 8, 1, groups=2), weight 1..16.
constexpr const char *kGroupsSpec = "Conv2d(4, 8, kernel_size=(1, 1), stride=(1, 1), groups=2, bias=False)";
inline const std::vector<int64_t> kGroupsInputShape = {1, 4, 1, 1};
inline const std::vector<float> kGroupsInput = {1, 1, 1, 1};
inline std::vector<float> groups_weight() { return iota(16, 1.0f); }
inline const std::vector<float> kGroupsExpected = {3, 7, 11, 15, 19, 23, 27, 31};

// 3. Padding modes: 0..24 as (1, 1, 5, 5), a 1x1 identity kernel, padding 3: the first
// row of the (1, 1, 11, 11) output shows what each mode reads above the image.
struct PaddingModeExample {
    const char *mode;
    const char *spec;
    std::vector<float> first_row;
};
inline const std::vector<int64_t> kPaddingInputShape = {1, 1, 5, 5};
inline std::vector<float> padding_input() { return iota(25); }
inline const std::vector<float> kPaddingWeight = {1.0f};
inline const std::vector<PaddingModeExample> kPaddingModes = {
    {"zeros", "Conv2d(1, 1, kernel_size=(1, 1), stride=(1, 1), padding=(3, 3), bias=False)",
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"reflect", "Conv2d(1, 1, kernel_size=(1, 1), stride=(1, 1), padding=(3, 3), bias=False, padding_mode=reflect)",
     {18, 17, 16, 15, 16, 17, 18, 19, 18, 17, 16}},
    {"replicate", "Conv2d(1, 1, kernel_size=(1, 1), stride=(1, 1), padding=(3, 3), bias=False, padding_mode=replicate)",
     {0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4}},
    {"circular", "Conv2d(1, 1, kernel_size=(1, 1), stride=(1, 1), padding=(3, 3), bias=False, padding_mode=circular)",
     {12, 13, 14, 10, 11, 12, 13, 14, 10, 11, 12}},
};

// 4. Two stacked layers, kernel 2, stride 2, no bias, on an 8x8 input of 0 and -1.
constexpr const char *kStackedLayer1Spec = "Conv2d(1, 2, kernel_size=(2, 2), stride=(2, 2), bias=False)";
constexpr const char *kStackedLayer2Spec = "Conv2d(2, 4, kernel_size=(2, 2), stride=(2, 2), bias=False)";
inline const std::vector<int64_t> kStackedInputShape = {1, 1, 8, 8};
inline const std::vector<float> kStackedInput = {
    -1, 0,  0,  -1, 0,  0,  0,  0,   //
    0,  0,  0,  -1, -1, 0,  -1, -1,  //
    -1, -1, -1, 0,  -1, 0,  0,  -1,  //
    -1, 0,  0,  0,  0,  -1, 0,  -1,  //
    0,  -1, 0,  0,  -1, 0,  0,  -1,  //
    -1, 0,  -1, 0,  0,  0,  0,  0,   //
    -1, 0,  -1, 0,  0,  0,  0,  -1,  //
    0,  -1, -1, 0,  0,  -1, 0,  -1};
// (out=2, in=1, 2, 2)
inline const std::vector<float> kStackedLayer1Weight = {-1, -1, -1, 0, /**/ 0, -1, 0, -1};
// (out=4, in=2, 2, 2)
inline const std::vector<float> kStackedLayer2Weight = {
    -1, -1, -1, -1, /**/ 0, -1, 0, -1,  // out 0
    0,  0,  0,  0,  /**/ 0, -1, 0, 0,   // out 1
    0,  0,  -1, 0,  /**/ 0, -1, -1, 0,  // out 2
    -1, -1, -1, -1, /**/ 0, 0, -1, -1}; // out 3
inline const std::vector<float> kStackedLayer1Expected = {
    1, 1, 1, 1, 3, 1, 1, 1, 2, 1, 1, 1, 1, 2, 0, 1,   // channel 0
    0, 2, 0, 1, 1, 0, 1, 2, 1, 0, 0, 1, 1, 0, 1, 2};  // channel 1
inline const std::vector<float> kStackedLayer2Expected = {
    -8, -7, -6, -6, -2, -1, 0, -1, -6, -3, -2, -2, -7, -7, -7, -6};

// 5. Output shapes.
struct ShapeExample {
    const char *spec;
    std::vector<int64_t> input_shape, output_shape;
};
inline const std::vector<ShapeExample> kShapes = {
    {"Conv1d(256, 100, 2)", {32, 256, 35}, {32, 100, 34}},
    {"Conv2d(8, 14, (3, 2), (2, 1))", {5, 8, 10, 5}, {5, 14, 4, 4}},
    {"Conv1d(6, 5, 3, 2, 1)", {2, 6, 4}, {2, 5, 2}},
    {"Conv1d(4, 2, 3, stride=2)", {1, 4, 9}, {1, 2, 4}},
    {"Conv2d(2, 1, 3)", {1, 2, 7, 7}, {1, 1, 5, 5}},
};

}  // namespace spec_examples
