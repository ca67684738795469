#include "schedule_knobs.h"

#include <algorithm>
#include <sstream>

#include "convgen/error.h"

namespace convgen {

const std::vector<KnobInfo> &schedule_knobs() {
    static const std::vector<KnobInfo> knobs = {
        {"vectorize", 0, 0, {"channels", "x"},
         "CPU: vectors across output channels (channel tiles; Conv2d with >= 8 input channels per group) or along the "
         "output width"},
        {"vector_width", 1, 16, {}, "CPU: floats per vector (at most the target's)"},
        {"channel_tile", 4, 32, {}, "CPU, channel tiles: output channels per register tile (whole vectors, divides 32)"},
        {"pixels", 1, 32, {}, "CPU, channel tiles: output pixels per register tile"},
        {"task_pixels", 16, 65536, {}, "CPU, channel tiles: output pixels per parallel task (the grain)"},
        {"reduction_split", 1, 4096, {}, "CPU, channel tiles: input channels per inner reduction chunk"},
        {"skip_taps", 0, 1, {},
         "CPU, channel tiles with zero padding: outputs 7, 14, 28 or 56 wide in tiles along a row that read the "
         "input itself and skip the taps in the padding (1; AVX-512's default), or all in runs of flat pixels over "
         "a zero-padded copy (0)"},
        {"channels_inner", 0, 1, {},
         "CPU, channel tiles and Conv2d vectors along x: consecutive tasks are one row chunk's channel tiles (1; "
         "for channel tiles only where an image's input outgrows 1 MiB; the default for weights up to 256 KB "
         "without groups) or one channel tile's row chunks (0)"},
        {"x_vectors", 1, 8, {}, "CPU, vectors along x: vectors of output width per register tile"},
        {"rows", 1, 8, {}, "CPU, vectors along x (2-D): output rows per register tile"},
        {"narrow_rows", 1, 8, {},
         "CPU, depthwise with stride 1 along x: output rows per register tile on planes whose padded rows fit one "
         "tile"},
        {"channel_block", 1, 16, {}, "CPU, vectors along x: output channels per register tile"},
        {"grain", 1, 1024, {}, "CPU, vectors along x: register tiles per parallel task"},
        {"x_tail", 0, 0, {"shift", "masked"},
         "CPU, vectors along x: the last tile of a row shifted inwards (recomputing outputs; outputs narrower than a "
         "tile run unvectorized) or stored through a mask (without AVX-512's mask registers: only in rows "
         "narrower than a tile)"},
        {"unroll_kx", 0, 1, {}, "CPU: unroll the taps along x (1) or not (0)"},
        {"padded_at", 0, 0, {"image", "task", "inline"},
         "CPU: where the padded input is materialized: once per image, per task, or not at all (read through the "
         "padding on every load)"},
        {"threads_x", 1, 256, {}, "GPU: threads of a block along x"},
        {"threads_y", 1, 64, {}, "GPU: threads of a block along y (Conv2d)"},
        {"threads_c", 1, 64, {}, "GPU: threads of a block along output channels"},
        {"outputs_x", 1, 16, {}, "GPU: output pixels per thread"},
        {"outputs_c", 1, 16, {}, "GPU: output channels per thread"},
        {"channel_chunk", 0, 256, {}, "GPU: input channels staged in shared memory at a time (0: read through caches)"},
        {"split_k", 1, 64, {}, "GPU: slices of the input channels summed by separate blocks, then added (split-K)"},
        {"autoscheduler", 0, 0, {"Adams2019", "Li2018", "Mullapudi2016"},
         "instead of convgen's schedule, Halide's autoscheduler of that name (the other knobs are then ignored)"},
        {"estimate_n", 1, 4096, {}, "autoscheduler: the batch it plans for (default 1)"},
        {"estimate_h", 1, 65536, {}, "autoscheduler: the input height it plans for (default 56)"},
        {"estimate_w", 1, 1 << 24, {}, "autoscheduler: the input width it plans for (default 56)"},
    };
    return knobs;
}

namespace {

const KnobInfo *find_knob(const std::string &name) {
    for (const KnobInfo &k : schedule_knobs())
        if (name == k.name) return &k;
    return nullptr;
}

std::string known_names() {
    std::string names;
    for (const KnobInfo &k : schedule_knobs()) names += (names.empty() ? "" : ", ") + std::string(k.name);
    return names;
}

}  // namespace

void knob_error(const std::string &message) {
    throw Error(ErrorCode::InvalidSpec, "schedule knobs: " + message);
}

int ScheduleKnobs::get(const std::string &name, int fallback) const {
    auto it = values.find(name);
    return it == values.end() ? fallback : std::stoi(it->second);
}

std::string ScheduleKnobs::get(const std::string &name, const std::string &fallback) const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
}

ScheduleKnobs parse_schedule_knobs(const std::string &text) {
    ScheduleKnobs knobs;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        item.erase(std::remove_if(item.begin(), item.end(), [](unsigned char c) { return std::isspace(c); }), item.end());
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        if (eq == std::string::npos) knob_error("'" + item + "' is not name=value");
        const std::string name = item.substr(0, eq), value = item.substr(eq + 1);
        const KnobInfo *info = find_knob(name);
        if (info == nullptr) knob_error("unknown knob '" + name + "'; the knobs are " + known_names());
        if (knobs.has(name)) knob_error("'" + name + "' is set twice");
        if (!info->choices.empty()) {
            if (std::find(info->choices.begin(), info->choices.end(), value) == info->choices.end()) {
                std::string choices;
                for (const std::string &c : info->choices) choices += (choices.empty() ? "" : ", ") + c;
                knob_error(name + "=" + value + ": expected one of " + choices);
            }
        } else {
            size_t used = 0;
            int number = 0;
            try {
                number = std::stoi(value, &used);
            } catch (const std::exception &) {
                used = 0;
            }
            if (used != value.size() || value.empty() || number < info->min || number > info->max) {
                knob_error(name + "=" + value + ": expected an integer from " + std::to_string(info->min) + " to " +
                           std::to_string(info->max));
            }
        }
        knobs.values[name] = value;
    }
    return knobs;
}

std::string to_string(const ScheduleKnobs &knobs) {
    std::string text;
    for (const KnobInfo &k : schedule_knobs()) {
        if (knobs.has(k.name)) text += (text.empty() ? "" : ",") + std::string(k.name) + "=" + knobs.values.at(k.name);
    }
    return text;
}

std::string describe_schedule_knobs() {
    std::ostringstream out;
    for (const KnobInfo &k : schedule_knobs()) {
        std::string values;
        if (k.choices.empty()) {
            values = std::to_string(k.min) + ".." + std::to_string(k.max);
        } else {
            for (const std::string &c : k.choices) values += (values.empty() ? "" : "|") + c;
        }
        out << "  " << k.name << "=" << values << "\n      " << k.help << "\n";
    }
    return out.str();
}

}  // namespace convgen
