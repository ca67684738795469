#include "tuning_db.h"

#include <Halide.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace convgen {

namespace {

constexpr const char *kHeader =
    "# convgen tuning database, written by `convgen tune`, read by convgen_add_kernel(... TUNING file).\n"
    "# One line per layer and target: spec | target | schedule knobs | median ms | CPU | date\n";

std::string trim(const std::string &text) {
    const size_t begin = text.find_first_not_of(" \t\r");
    if (begin == std::string::npos) return "";
    return text.substr(begin, text.find_last_not_of(" \t\r") - begin + 1);
}

// Targets name the same code if they differ only in features that do not change it.
Halide::Target code_target(const std::string &text) {
    Halide::Target t(text);
    for (auto f : {Halide::Target::UserContext, Halide::Target::NoRuntime, Halide::Target::NoBoundsQuery,
                   Halide::Target::NoAsserts, Halide::Target::JIT}) {
        t = t.without_feature(f);
    }
    return t;
}

}  // namespace

std::vector<TuningEntry> read_tuning_db(const std::string &path) {
    std::vector<TuningEntry> entries;
    std::ifstream in(path);
    if (!in) return entries;
    int line_number = 0;
    for (std::string line; std::getline(in, line);) {
        line_number++;
        if (trim(line).empty() || trim(line)[0] == '#') continue;
        std::vector<std::string> fields;
        std::stringstream cells(line);
        for (std::string cell; std::getline(cells, cell, '|');) fields.push_back(trim(cell));
        if (fields.size() != 6) {
            throw Error(ErrorCode::IoError, path + ":" + std::to_string(line_number) + ": expected 6 fields " +
                                                "(spec | target | knobs | ms | cpu | date), got " +
                                                std::to_string(fields.size()));
        }
        TuningEntry e{fields[0], fields[1], fields[2], 0, fields[4], fields[5]};
        try {
            e.ms = std::stod(fields[3]);
        } catch (const std::exception &) {
            throw Error(ErrorCode::IoError, path + ":" + std::to_string(line_number) + ": '" + fields[3] +
                                                "' is not a time in ms");
        }
        entries.push_back(e);
    }
    return entries;
}

std::optional<TuningEntry> find_tuning(const std::vector<TuningEntry> &db, const ConvSpec &spec,
                                       const std::string &target) {
    const Halide::Target wanted = code_target(target);
    for (const TuningEntry &e : db) {
        try {
            if (parse_spec(e.spec) == spec && code_target(e.target) == wanted) return e;
        } catch (const Error &) {
            continue;  // a line for a layer this build does not know how to read: not ours
        } catch (const Halide::Error &) {
            continue;
        }
    }
    return std::nullopt;
}

void record_tuning(const std::string &path, const TuningEntry &entry) {
    std::vector<TuningEntry> db = read_tuning_db(path);
    bool replaced = false;
    for (TuningEntry &e : db) {
        if (e.spec == entry.spec && code_target(e.target) == code_target(entry.target)) {
            e = entry;
            replaced = true;
        }
    }
    if (!replaced) db.push_back(entry);
    const std::string temporary = path + ".tmp";
    {
        std::ofstream out(temporary);
        out << kHeader;
        for (const TuningEntry &e : db) {
            out << e.spec << " | " << e.target << " | " << e.knobs << " | " << e.ms << " | " << e.cpu << " | " << e.date
                << "\n";
        }
        if (!out) throw Error(ErrorCode::IoError, "cannot write " + temporary);
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) throw Error(ErrorCode::IoError, "cannot replace " + path);
}

}  // namespace convgen
