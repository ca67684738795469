// The Halide generator behind convgen_add_kernel(): one generator for every layer, told
// which layer by the `spec` GeneratorParam, e.g.
//   convgen_generator -g convgen_conv -o out -e static_library,c_header
//       target=x86-64-linux-avx2-fma spec="Conv2d(3, 8, kernel_size%3D3) -> ReLU()"
// Halide's command line splits generator arguments at every '=', so the spec arrives
// with '=' written as %3D and '%' as %25 (cmake/convgen.cmake encodes it).
// Everything about the layer is fixed at build time; batch and spatial sizes stay free.
#include <Halide.h>

#include <cstdlib>
#include <iostream>

#include "conv_pipeline.h"
#include "tuning_db.h"

namespace convgen {
namespace {

std::string percent_decode(const std::string &text) {
    std::string out;
    for (size_t i = 0; i < text.size(); i++) {
        if (text.compare(i, 3, "%3D") == 0) {
            out += '=';
            i += 2;
        } else if (text.compare(i, 3, "%25") == 0) {
            out += '%';
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

class ConvGenerator : public Halide::Generator<ConvGenerator> {
public:
    GeneratorParam<std::string> spec_text{"spec", ""};
    // Schedule knobs, "name=value,..." (schedule_knobs.h); empty: convgen's own choices.
    GeneratorParam<std::string> schedule_text{"schedule", ""};
    // A tuning database (tuning_db.h): its entry for this layer and target, if any, gives
    // the knobs when `schedule` is empty. tuning_hash is the file's hash: it changes the
    // command line, so the build reruns the generator when the database changes.
    GeneratorParam<std::string> tuning_file{"tuning", ""};
    GeneratorParam<std::string> tuning_hash{"tuning_hash", ""};

    // The arguments depend on the spec (rank, whether there is a bias), so they are added
    // here rather than declared as members. Generated signature, in order:
    //   (user_context, input, weight, [bias,] output)
    void configure() {
        if (spec_text.value().empty()) {
            std::cerr << "convgen: no layer given: set the generator parameter spec=\"Conv2d(...)\"\n";
            std::exit(1);
        }
        const std::string text = percent_decode(spec_text.value());
        try {
            layer_ = parse_spec(text);
            spec_ = kernel_spec(layer_);  // a pointwise Conv2d compiles as its Conv1d
            knobs_ = parse_schedule_knobs(percent_decode(schedule_text.value()));
        } catch (const Error &e) {
            // Halide's driver would print this as an "unhandled exception"; say what it is
            // and stop the build step here.
            std::cerr << "convgen: invalid SPEC \"" << text << "\":\n  " << e.what() << "\n";
            std::exit(1);
        }
        const int rank = spec_.dims + 2;
        input_ = add_input<Buffer<float>>("input", rank);
        weight_ = add_input<Buffer<float>>("weight", 5);  // packed: convgen/weight_layout.h
        if (spec_.bias) bias_ = add_input<Buffer<float>>("bias", 1);
        output_ = add_output<Buffer<float>>("output", rank);
    }

    void generate() {
        ConvInputs inputs;
        inputs.input = *input_;
        inputs.weight = *weight_;
        if (bias_ != nullptr) inputs.bias = *bias_;
        try {
            if (knobs_.values.empty() && !tuning_file.value().empty()) knobs_ = tuned_knobs();
            *output_ = scheduled_pipeline(spec_, inputs, get_target(), knobs_, knob_estimate_shape(spec_, knobs_)).output;
        } catch (const Error &e) {
            std::cerr << "convgen: cannot schedule " << to_string(spec_) << ":\n  " << e.what() << "\n";
            std::exit(1);
        }
    }

private:
    // The knobs the tuning database records for this layer on this target, or none (the
    // default schedule), said on the build's output.
    ScheduleKnobs tuned_knobs() const {
        const std::string path = percent_decode(tuning_file.value());
        const std::string target = get_target().to_string();
        const std::optional<TuningEntry> entry = find_tuning(read_tuning_db(path), layer_, target);
        if (!entry) {
            std::cerr << "convgen: no entry in " << path << " for " << to_string(layer_) << " on " << target
                      << ": default schedule\n";
            return {};
        }
        return parse_schedule_knobs(entry->knobs);
    }

    ConvSpec layer_;  // as written
    ConvSpec spec_;   // as compiled
    ScheduleKnobs knobs_;
    Input<Buffer<float>> *input_ = nullptr;
    Input<Buffer<float>> *weight_ = nullptr;
    Input<Buffer<float>> *bias_ = nullptr;
    Output<Buffer<float>> *output_ = nullptr;
};

}  // namespace
}  // namespace convgen

HALIDE_REGISTER_GENERATOR(convgen::ConvGenerator, convgen_conv)
