// The main example: a small CNN whose five layers were generated at build time by
// convgen_add_kernel() (see examples/CMakeLists.txt), run on an image.
//
//   small_cnn [image.ppm]     binary PPM (P6), e.g. `convert photo.jpg image.ppm`
//
// Without an argument it renders a 224x224 test card. For each layer it prints the
// output shape, a checksum, and the median time of repeated runs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cnn_dw.h"
#include "cnn_group.h"
#include "cnn_head.h"
#include "cnn_pw.h"
#include "cnn_stem.h"
#include "convgen/runtime.h"

namespace {

// A binary PPM as a (1, 3, H, W) tensor scaled to [0, 1].
convgen::Tensor load_ppm(const std::string &path) {
    std::ifstream file(path, std::ios::binary);
    std::string magic;
    int width = 0, height = 0, max_value = 0;
    file >> magic >> width >> height >> max_value;
    if (!file || magic != "P6" || width < 1 || height < 1 || width > 16384 || height > 16384 || max_value != 255) {
        throw convgen::Error(convgen::ErrorCode::IoError,
                             path + ": not a binary 8-bit PPM (P6, max value 255, at most 16384x16384)");
    }
    file.get();  // the single whitespace after the header
    std::vector<unsigned char> pixels(static_cast<size_t>(width) * height * 3);
    if (!file.read(reinterpret_cast<char *>(pixels.data()), static_cast<std::streamsize>(pixels.size()))) {
        throw convgen::Error(convgen::ErrorCode::IoError, path + ": pixel data is truncated");
    }
    convgen::Tensor image({1, 3, height, width});
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < static_cast<size_t>(width) * height; i++)
            image.data()[c * width * height + i] = pixels[i * 3 + c] / 255.0f;
    return image;
}

// A test card: colour gradients, a disc and fine stripes, so every layer sees edges.
convgen::Tensor test_card(int size) {
    convgen::Tensor image({1, 3, size, size});
    float *r = image.data(), *g = r + size * size, *b = g + size * size;
    for (int y = 0; y < size; y++) {
        for (int x = 0; x < size; x++) {
            const float u = float(x) / size, v = float(y) / size;
            const bool disc = (u - 0.6f) * (u - 0.6f) + (v - 0.4f) * (v - 0.4f) < 0.05f;
            const int i = y * size + x;
            r[i] = disc ? 0.9f : u;
            g[i] = v;
            b[i] = ((x / 4) % 2 == 0 && y > size / 2) ? 1.0f : 0.2f;
        }
    }
    return image;
}

// He-initialized weights and small biases, fixed seed: the same numbers on every run.
struct LayerWeights {
    convgen::Tensor weight;
    std::optional<convgen::Tensor> bias;
};
LayerWeights make_weights(const convgen::ConvSpec &spec, uint32_t seed) {
    std::mt19937 rng(seed);
    const std::vector<int64_t> shape = spec.weight_shape();
    const float fan_in = float(shape[1] * shape[2] * (shape.size() > 3 ? shape[3] : 1));
    std::normal_distribution<float> dist(0.0f, std::sqrt(2.0f / fan_in));
    LayerWeights w{convgen::Tensor(shape), std::nullopt};
    for (float &v : w.weight.values()) v = dist(rng);
    if (spec.bias) {
        w.bias = convgen::Tensor(spec.bias_shape());
        for (float &v : w.bias->values()) v = 0.01f * dist(rng);
    }
    return w;
}

double median_ms(const convgen::Layer &layer, const convgen::Tensor &input, convgen::Tensor &output, int runs) {
    std::vector<double> times;
    for (int i = 0; i < runs + 2; i++) {  // two warm-up runs
        const auto start = std::chrono::steady_clock::now();
        layer.forward(input.view(), output.view());
        const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
        if (i >= 2) times.push_back(elapsed.count());
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    return times[times.size() / 2];
}

}  // namespace

int main(int argc, char **argv) {
    try {
        convgen::Tensor x = argc > 1 ? load_ppm(argv[1]) : test_card(224);
        std::printf("input %s (%s), CPU variant: %s\n\n", convgen::shape_to_string(x.shape()).c_str(),
                    argc > 1 ? argv[1] : "test card", convgen::active_cpu_isa().c_str());

        const convgen::Kernel *network[] = {&convgen::kernels::cnn_stem(), &convgen::kernels::cnn_dw(),
                                            &convgen::kernels::cnn_pw(), &convgen::kernels::cnn_group(),
                                            &convgen::kernels::cnn_head()};
        double total_ms = 0;
        uint32_t seed = 1;
        for (const convgen::Kernel *kernel : network) {
            const LayerWeights w = make_weights(kernel->spec(), seed++);
            std::optional<convgen::ConstTensorView> bias;
            if (w.bias) bias = w.bias->view();
            const convgen::Layer layer(*kernel, w.weight.view(), bias);  // weights checked and copied once

            convgen::Tensor y(layer.output_shape(x.shape()));
            const double ms = median_ms(layer, x, y, 20);
            const double gflops = kernel->spec().flops(x.shape()) / (ms * 1e6);
            double sum = 0, abs_sum = 0;
            for (float v : y.values()) sum += v, abs_sum += std::fabs(v);
            std::printf("%-10s %s\n           -> %-18s checksum %12.4f  |sum| %12.4f  %8.3f ms  %6.1f GFLOP/s\n",
                        kernel->name().c_str(), convgen::to_string(kernel->spec()).c_str(),
                        convgen::shape_to_string(y.shape()).c_str(), sum, abs_sum, ms, gflops);
            total_ms += ms;
            x = std::move(y);
        }
        std::printf("\ntotal %.3f ms per image (median per layer, summed)\n", total_ms);
        return 0;
    } catch (const convgen::Error &e) {
        std::fprintf(stderr, "small_cnn: %s\n", e.what());
        return 1;
    }
}
