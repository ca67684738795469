// convgen: the layout generated kernels read their weights and bias in.
//
// The CPU schedules vectorize across output channels (or broadcast one weight per output
// channel), so weights are packed once, when a Layer is made, with output channels
// innermost in blocks of one AVX-512 vector:
//
//   packed[co / 16][ci][ky][kx][co % 16]    shape (C_out_padded / 16, C_in / groups, kH, kW, 16)
//
// kH is 1 for Conv1d, so every layer's packed weight has five dimensions. C_out is
// padded with zeros to a multiple of kPackedChannelMultiple, the widest register tile of
// output channels, so a tile never reads past the end; the bias is padded the same way.
// The generator (generators/conv_algorithm.cpp) and the runtime (Layer) both use these
// functions, so the layout is stated once.
#pragma once

#include <cstdint>
#include <vector>

#include "convgen/spec.h"

namespace convgen {

constexpr int kPackedChannelBlock = 16;
constexpr int kPackedChannelMultiple = 32;

/// C_out rounded up to a multiple of kPackedChannelMultiple.
int packed_out_channels(const ConvSpec &spec);

/// (C_out_padded / 16, C_in / groups, kH, kW, 16), outermost first.
std::vector<int64_t> packed_weight_shape(const ConvSpec &spec);

/// Packs a contiguous weight of spec.weight_shape() into packed_weight_shape().
std::vector<float> pack_weight(const ConvSpec &spec, const float *weight);

/// A bias of C_out values, zero-padded to packed_out_channels().
std::vector<float> pack_bias(const ConvSpec &spec, const float *bias);

}  // namespace convgen
