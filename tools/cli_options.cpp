#include "cli_options.h"

#include <algorithm>

#include <cstdlib>
#include <thread>

namespace convgen::cli {

std::map<std::string, std::string> parse_options(int argc, char **argv, int first,
                                                 const std::vector<std::string> &allowed,
                                                 const std::vector<std::string> &flags) {
    std::map<std::string, std::string> options;
    for (int i = first; i < argc; i++) {
        std::string arg = argv[i];
        std::string value;
        const size_t eq = arg.find('=');
        const bool dashed = arg.rfind("--", 0) == 0;
        const bool flag = dashed && std::find(flags.begin(), flags.end(), arg.substr(2)) != flags.end();
        if (flag) {
            value = "1";
        } else if (dashed && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        } else if (dashed) {
            if (i + 1 >= argc) throw UsageError("option " + arg + " needs a value");
            value = argv[++i];
        } else {
            throw UsageError("unexpected argument '" + arg + "'");
        }
        const std::string name = arg.substr(2);
        bool known = flag;
        for (const std::string &a : allowed) known = known || a == name;
        if (!known) throw UsageError("unknown option " + arg);
        if (!options.emplace(name, value).second) throw UsageError("option " + arg + " given twice");
    }
    return options;
}

const std::string &required(const std::map<std::string, std::string> &options, const std::string &name) {
    auto it = options.find(name);
    if (it == options.end()) throw UsageError("missing --" + name);
    return it->second;
}

std::vector<int64_t> parse_shape(const std::string &text) {
    std::vector<int64_t> shape;
    size_t pos = 0;
    while (pos <= text.size()) {
        const size_t comma = text.find(',', pos);
        const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        char *end = nullptr;
        const long long value = std::strtoll(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || value < 0) {
            throw UsageError("--input-shape must be comma-separated non-negative integers, got '" + text + "'");
        }
        shape.push_back(value);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return shape;
}

int apply_threads_option(const std::map<std::string, std::string> &options) {
    auto it = options.find("threads");
    if (it == options.end()) return static_cast<int>(std::thread::hardware_concurrency());
    // The JIT's thread pool reads this when it starts, on the first call.
    setenv("HL_NUM_THREADS", it->second.c_str(), 1);
    return std::stoi(it->second);
}

}  // namespace convgen::cli
