// A downstream program: runs the layer it generated at build time and checks it against
// a direct loop in double precision, so a broken install cannot pass for a working one.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "convgen/runtime.h"
#include "edge_features.h"

namespace {

// PyTorch's 'reflect' padding by one: -1 -> 1, n -> n - 2.
int reflect(int i, int n) {
    return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}

}  // namespace

int main() {
    const convgen::Kernel &kernel = convgen::kernels::edge_features();
    const convgen::ConvSpec &spec = kernel.spec();
    const int channels_in = 3, channels_out = 8, height = 21, width = 34;

    std::vector<float> input(channels_in * height * width), weight(channels_out * channels_in * 9), bias(channels_out);
    for (size_t i = 0; i < input.size(); i++) input[i] = std::sin(0.37f * static_cast<float>(i));
    for (size_t i = 0; i < weight.size(); i++) weight[i] = std::cos(0.91f * static_cast<float>(i)) * 0.3f;
    for (size_t i = 0; i < bias.size(); i++) bias[i] = 0.05f * static_cast<float>(i) - 0.2f;

    try {
        const convgen::Layer layer(kernel, convgen::ConstTensorView(weight.data(), spec.weight_shape()),
                                   convgen::ConstTensorView(bias.data(), spec.bias_shape()));
        const convgen::Tensor output =
            layer.forward(convgen::ConstTensorView(input.data(), {1, channels_in, height, width}));

        double worst = 0;
        for (int co = 0; co < channels_out; co++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    double sum = bias[co];
                    for (int ci = 0; ci < channels_in; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                                sum += double(weight[((co * channels_in + ci) * 3 + ky) * 3 + kx]) *
                                       input[(ci * height + reflect(y + ky - 1, height)) * width +
                                             reflect(x + kx - 1, width)];
                    const double expected = std::max(sum, 0.0);
                    worst = std::max(worst, std::abs(expected - output.data()[(co * height + y) * width + x]));
                }
            }
        }
        std::printf("%s\n%s: output (1, %d, %d, %d), largest difference from a direct loop %.2e\n",
                    kernel.describe().c_str(), to_string(spec).c_str(), channels_out, height, width, worst);
        if (worst > 1e-4) {
            std::fprintf(stderr, "downstream: the generated kernel disagrees with the direct loop\n");
            return 1;
        }
    } catch (const convgen::Error &e) {
        std::fprintf(stderr, "downstream: %s\n", e.what());
        return 1;
    }
    return 0;
}
