// convgen: the tuning database that `convgen tune` writes and the generator reads
// (convgen_add_kernel(... TUNING file)).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "convgen/spec.h"

namespace convgen {

/// The tuning database: a plain-text file with one line per (layer, target),
/// "spec | target | knobs | ms | cpu | date"; '#' starts a comment.
struct TuningEntry {
    std::string spec;    // PyTorch's canonical form (to_string)
    std::string target;  // a Halide target string
    std::string knobs;   // "name=value,...", "" for the default schedule
    double ms = 0;
    std::string cpu, date;
};

std::vector<TuningEntry> read_tuning_db(const std::string &path);  // missing file: empty
/// Replaces the entry for the same spec and target, or adds one; the file is rewritten
/// atomically.
void record_tuning(const std::string &path, const TuningEntry &entry);
/// The entry for this layer and target, if any (specs compared in canonical form).
std::optional<TuningEntry> find_tuning(const std::vector<TuningEntry> &db, const ConvSpec &spec,
                                       const std::string &target);

}  // namespace convgen
