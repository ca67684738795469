// convgen's command line: options as --name value (or --name=value) pairs.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace convgen::cli {

/// A command line that cannot be understood (exit status 2).
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The options from argv[first] on; every command says which names it takes. `flags`
/// take no value (present: "1").
std::map<std::string, std::string> parse_options(int argc, char **argv, int first,
                                                 const std::vector<std::string> &allowed,
                                                 const std::vector<std::string> &flags = {});

/// The value of a required option.
const std::string &required(const std::map<std::string, std::string> &options, const std::string &name);

/// Applies --threads N, if given, to the JIT's thread pool (before its first call), and
/// returns the threads calls will use.
int apply_threads_option(const std::map<std::string, std::string> &options);

/// "1,3,224,224" as a shape.
std::vector<int64_t> parse_shape(const std::string &text);

/// The commands of schedule_commands.cpp.
int bench_command(const std::map<std::string, std::string> &options);
int explain_command(const std::map<std::string, std::string> &options);
int tune_command(const std::map<std::string, std::string> &options);

}  // namespace convgen::cli
