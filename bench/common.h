// The benchmark layer suite, bench/layers.csv (a copy of ../shared/bench/layers.csv).
#pragma once

#include <string>
#include <vector>

#include "convgen/spec.h"

namespace convgen_bench {

struct SuiteLayer {
    std::string name;
    convgen::ConvSpec spec;
    std::vector<int64_t> input_shape;
};

/// The rows of the suite file, validated. Throws convgen::Error(IoError) for a file that
/// cannot be read or a malformed row, and the DSL's errors for an invalid layer.
std::vector<SuiteLayer> read_suite(const std::string &path = CONVGEN_BENCH_CSV);

/// `text` split at every `sep`.
std::vector<std::string> split(const std::string &text, char sep);

}  // namespace convgen_bench
