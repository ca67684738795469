#include "convgen/weight_layout.h"

#include <limits>
#include <string>

namespace convgen {

int packed_out_channels(const ConvSpec &spec) {
    const int64_t m = kPackedChannelMultiple;
    const int64_t padded = (int64_t(spec.out_channels) + m - 1) / m * m;
    if (padded > std::numeric_limits<int>::max()) {
        throw Error(ErrorCode::InvalidSpec, "out_channels=" + std::to_string(spec.out_channels) +
                                                " is too many to pack: at most " +
                                                std::to_string(std::numeric_limits<int>::max() - m + 1));
    }
    return static_cast<int>(padded);
}

std::vector<int64_t> packed_weight_shape(const ConvSpec &spec) {
    const AxisParams ax = spec.axis_x(), ay = spec.axis_y();
    return {packed_out_channels(spec) / kPackedChannelBlock, spec.in_channels_per_group(), ay.kernel, ax.kernel,
            kPackedChannelBlock};
}

std::vector<float> pack_weight(const ConvSpec &spec, const float *weight) {
    // Both layouts end in (..., kH, kW): one output channel's taps are a contiguous run of
    // C_in/groups * kH * kW values in PyTorch's layout.
    const std::vector<int64_t> shape = packed_weight_shape(spec);
    const int64_t taps = shape[1] * shape[2] * shape[3];
    const int block = kPackedChannelBlock;
    std::vector<float> packed(static_cast<size_t>(shape[0] * taps * block), 0.0f);
    for (int64_t co = 0; co < spec.out_channels; co++) {
        for (int64_t tap = 0; tap < taps; tap++) {
            packed[static_cast<size_t>(((co / block) * taps + tap) * block + co % block)] =
                weight[static_cast<size_t>(co * taps + tap)];
        }
    }
    return packed;
}

std::vector<float> pack_bias(const ConvSpec &spec, const float *bias) {
    std::vector<float> padded(static_cast<size_t>(packed_out_channels(spec)), 0.0f);
    for (int co = 0; co < spec.out_channels; co++) padded[static_cast<size_t>(co)] = bias[co];
    return padded;
}

}  // namespace convgen
