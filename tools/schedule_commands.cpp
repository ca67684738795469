// `convgen bench`, `convgen explain` and `convgen tune`: experimenting with a layer's
// schedule, and searching its knobs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_options.h"
#include "schedule_lab.h"
#include "tuning_db.h"

namespace convgen::cli {

namespace {

// What bench, explain and tune share: the layer, its input, the target, the knobs.
struct Experiment {
    ConvSpec spec;
    std::vector<int64_t> input_shape;
    std::string target;
    ScheduleKnobs knobs;
    int threads = 0;
};

Experiment read_experiment(const std::map<std::string, std::string> &options) {
    Experiment e;
    e.spec = parse_spec(required(options, "spec"));
    if (auto it = options.find("input-shape"); it != options.end()) {
        e.input_shape = parse_shape(it->second);
    } else {
        // One image, ResNet's 56 x 56 (Conv2d) or a 1024-sample sequence (Conv1d).
        e.input_shape = {1, e.spec.in_channels};
        if (e.spec.dims == 2) e.input_shape.push_back(56);
        e.input_shape.push_back(e.spec.dims == 2 ? 56 : 1024);
    }
    e.spec.output_shape(e.input_shape);  // refuses an input that does not fit
    e.target = options.count("target") ? options.at("target") : lab::native_cpu_target();
    try {
        Halide::Target checked(e.target);
        if (checked.has_gpu_feature()) {
            throw UsageError("--target " + e.target + ": bench, explain and tune run CPU targets (GPU kernels are "
                             "measured by scripts/gpu-bench.sh)");
        }
    } catch (const Halide::Error &) {
        throw UsageError("--target '" + e.target + "' is not a Halide target, e.g. " + lab::native_cpu_target());
    }
    if (auto it = options.find("schedule"); it != options.end()) e.knobs = parse_schedule_knobs(it->second);
    e.threads = apply_threads_option(options);
    return e;
}

std::string describe(const lab::Measurement &m) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(4) << m.ms << " ms, " << std::setprecision(1) << m.gflops << " GFLOP/s";
    if (m.peak_share > 0) out << ", " << std::setprecision(0) << 100 * m.peak_share << "% of peak";
    return out.str();
}

std::string knobs_or_default(const ScheduleKnobs &knobs) {
    const std::string text = to_string(knobs);
    return text.empty() ? "(default)" : text;
}

// bench and tune run what they compile: the target must suit this CPU.
void require_runs_here(const Experiment &e) {
    if (!lab::runs_on_this_cpu(e.target)) {
        throw UsageError("--target " + e.target + " needs CPU features this machine lacks (it runs " +
                         lab::native_cpu_target() + "); explain compiles for any target");
    }
}

}  // namespace

int bench_command(const std::map<std::string, std::string> &options) {
    const Experiment e = read_experiment(options);
    require_runs_here(e);
    const double min_seconds = options.count("min-time") ? std::stod(options.at("min-time")) : 1.0;
    std::optional<ScheduleKnobs> versus;
    if (auto it = options.find("versus"); it != options.end()) versus = parse_schedule_knobs(it->second);
    std::cout << to_string(e.spec) << "\ninput " << shape_to_string(e.input_shape) << ", " << e.target << ", "
              << e.threads << " thread" << (e.threads == 1 ? "" : "s") << "\nschedule " << knobs_or_default(e.knobs)
              << std::endl;
    lab::LayerBench bench(e.spec, e.input_shape, e.threads);
    auto print = [](const lab::Measurement &m) {
        std::cout << "median " << describe(m) << " (measured fp32 FMA peak); matches the reference (worst relative "
                  << "error " << std::scientific << std::setprecision(1) << m.worst_error << ")" << std::defaultfloat;
    };
    if (versus) {
        std::cout << "versus   " << knobs_or_default(*versus) << " (in alternating turns)" << std::endl;
        const std::vector<lab::Measurement> m = bench.measure_side_by_side({e.knobs, *versus}, e.target, min_seconds);
        std::cout << "schedule: ";
        print(m[0]);
        std::cout << "\nversus:   ";
        print(m[1]);
        std::cout << "\nversus / schedule: " << std::fixed << std::setprecision(3) << m[1].ms / m[0].ms << "\n";
        return 0;
    }
    print(bench.measure(e.knobs, e.target, min_seconds));
    std::cout << "\n";
    return 0;
}

int explain_command(const std::map<std::string, std::string> &options) {
    const Experiment e = read_experiment(options);
    const Halide::Target target = lab::jit_target(e.target);
    const JitKernel kernel(e.spec, target, e.knobs, e.input_shape);
    std::cout << to_string(e.spec) << "\n" << e.target << ", schedule " << knobs_or_default(e.knobs);
    if (kernel_spec(e.spec).dims != e.spec.dims) std::cout << " (compiled as the Conv1d over H*W pixels)";
    std::cout << "\n\nLoop nest (innermost last):\n" << std::flush;
    {
        // Halide prints the nest on stderr; it is this command's output.
        std::streambuf *saved = std::cerr.rdbuf(std::cout.rdbuf());
        kernel.pipeline().outputs()[0].print_loop_nest();
        std::cerr.rdbuf(saved);
    }
    const Halide::Target aot_target = Halide::Target(e.target).with_feature(Halide::Target::NoRuntime);
    if (auto it = options.find("stmt"); it != options.end()) {
        kernel.pipeline().compile_to_lowered_stmt(it->second, kernel.arguments(), Halide::Text, aot_target);
        std::cout << "\nLowered statement: " << it->second << "\n";
    }
    if (auto it = options.find("asm"); it != options.end()) {
        kernel.pipeline().compile_to_assembly(it->second, kernel.arguments(), "convgen_conv", aot_target);
        std::cout << "Assembly: " << it->second << "\n";
    }
    return 0;
}

namespace {

std::atomic<bool> g_interrupted{false};

// The values `convgen tune` tries for knobs with wide ranges: around the defaults, within
// the ranges schedule_knobs() allows. Other knobs take every value they allow.
const std::map<std::string, std::vector<std::string>> &tuning_space() {
    static const std::map<std::string, std::vector<std::string>> space = {
        {"vector_width", {"4", "8", "16"}},
        {"channel_tile", {"8", "16", "32"}},
        {"pixels", {"3", "4", "5", "6", "7", "8", "10", "12", "14"}},
        {"task_pixels", {"64", "128", "256", "512", "1024", "4096"}},
        {"reduction_split", {"4", "8", "16", "32"}},
        {"x_vectors", {"1", "2", "3", "4", "5", "6", "8"}},
        {"rows", {"1", "2", "3", "4", "6", "7", "8"}},
        {"narrow_rows", {"2", "3", "4", "5", "6", "7", "8"}},
        {"channel_block", {"1", "2", "3", "4", "6", "8"}},
        {"grain", {"1", "2", "4", "8", "16", "32"}},
    };
    return space;
}

// Every value `convgen tune` tries for a knob: tuning_space()'s, or all the knob allows
// (its words, or a short range of integers).
std::vector<std::string> values_to_try(const std::string &name) {
    const auto chosen = tuning_space().find(name);
    if (chosen != tuning_space().end()) return chosen->second;
    for (const KnobInfo &knob : schedule_knobs()) {
        if (name != knob.name) continue;
        if (!knob.choices.empty()) return knob.choices;
        if (knob.max - knob.min > 8) break;
        std::vector<std::string> values;
        for (int v = knob.min; v <= knob.max; v++) values.push_back(std::to_string(v));
        return values;
    }
    throw Error(ErrorCode::InvalidSpec, "internal: convgen tune has no values to try for knob '" + name + "'");
}

// Knobs that share one register tile, so that a better tile often changes them together
// (on a 34-wide row, 4 channels x 5 vectors of 8 lanes rather than 10 x 1 of 16): the
// search also tries every combination of their values whose tile fits the registers.
const std::vector<std::vector<std::string>> &coupled_knobs() {
    static const std::vector<std::vector<std::string>> groups = {
        {"vector_width", "x_vectors", "channel_block"},
        {"channel_block", "rows"},
        {"channel_tile", "pixels"},
        {"vector_width", "pixels"},
    };
    return groups;
}

// The schedules one step from `best`: each knob the schedule reads set to each other value
// in its space, then the knobs of each coupled group set together (two or more changed);
// tiles that spill are left out. Single moves first, each kind in random order.
std::vector<ScheduleKnobs> neighbours_of(const ScheduleKnobs &best, const Experiment &e, std::mt19937 &rng) {
    const Halide::Target target(e.target);
    const std::vector<std::string> in_use = cpu_knobs_in_use(e.spec, target, best);
    auto value_in = [](const ScheduleKnobs &knobs, const std::string &name) {
        auto it = knobs.values.find(name);
        return it == knobs.values.end() ? std::string() : it->second;  // "": the schedule's default
    };
    auto used = [&](const std::string &name) { return std::find(in_use.begin(), in_use.end(), name) != in_use.end(); };
    auto worth_trying = [&](const ScheduleKnobs &next) {
        try {
            return cpu_register_tile_fits(e.spec, target, next);
        } catch (const Error &) {
            return true;  // refused knobs: the trial records why, at no cost
        }
    };
    // Every combination of values of `group` (best's own value included) that changes at
    // least `min_changes` of its knobs.
    auto moves = [&](const std::vector<std::string> &group, long min_changes) {
        std::vector<ScheduleKnobs> combinations = {best};
        for (const std::string &name : group) {
            std::vector<ScheduleKnobs> extended;
            for (const ScheduleKnobs &knobs : combinations) {
                extended.push_back(knobs);
                for (const std::string &value : values_to_try(name)) {
                    if (value == value_in(best, name)) continue;
                    ScheduleKnobs next = knobs;
                    next.values[name] = value;
                    extended.push_back(next);
                }
            }
            combinations = std::move(extended);
        }
        std::vector<ScheduleKnobs> kept;
        for (const ScheduleKnobs &next : combinations) {
            const long changes = std::count_if(group.begin(), group.end(), [&](const std::string &name) {
                return value_in(next, name) != value_in(best, name);
            });
            if (changes >= min_changes && worth_trying(next)) kept.push_back(next);
        }
        return kept;
    };
    std::vector<ScheduleKnobs> single, coupled;
    for (const std::string &name : in_use) {
        for (ScheduleKnobs &next : moves({name}, 1)) single.push_back(std::move(next));
    }
    std::shuffle(single.begin(), single.end(), rng);
    for (const std::vector<std::string> &group : coupled_knobs()) {
        if (!std::all_of(group.begin(), group.end(), used)) continue;
        for (ScheduleKnobs &next : moves(group, 2)) coupled.push_back(std::move(next));
    }
    std::shuffle(coupled.begin(), coupled.end(), rng);
    single.insert(single.end(), coupled.begin(), coupled.end());
    return single;
}

// `convgen bench` on the experiment with `knobs`, run as a child process: its median ms.
// Fresh processes, the two schedules' interleaved, spread a comparison over time: on a
// shared host a small layer's median moves by 10-30% with stretches of a busier host
// (bench/RESULTS.md), more than the differences a search confirms.
double median_in_fresh_process(const Experiment &e, const ScheduleKnobs &knobs, double min_seconds) {
    std::string shape;
    for (int64_t d : e.input_shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    std::vector<std::string> args = {"convgen", "bench", "--spec", to_string(e.spec), "--input-shape", shape,
                                     "--target", e.target, "--threads", std::to_string(e.threads),
                                     "--min-time", std::to_string(min_seconds)};
    if (!knobs.values.empty()) args.insert(args.end(), {"--schedule", to_string(knobs)});
    std::vector<char *> argv;
    for (std::string &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out[2];
    if (pipe(out) != 0) throw Error(ErrorCode::RuntimeError, "cannot create a pipe for a child `convgen bench`");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    pid_t child = 0;
    const int spawned = posix_spawn(&child, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    std::string text;
    if (spawned == 0) {
        char chunk[4096];
        for (ssize_t got; (got = read(out[0], chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<size_t>(got));
    }
    close(out[0]);
    int status = 0;
    if (spawned != 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw Error(ErrorCode::RuntimeError, "a child `convgen bench` with schedule '" + to_string(knobs) +
                                                 "' failed (see its message above)");
    }
    const size_t at = text.find("median ");
    if (at == std::string::npos) {
        throw Error(ErrorCode::RuntimeError, "a child `convgen bench` printed no median:\n" + text);
    }
    return std::stod(text.substr(at + 7));
}

std::string today() {
    const std::time_t now = std::time(nullptr);
    char text[16];
    std::strftime(text, sizeof text, "%Y-%m-%d", std::localtime(&now));
    return text;
}

}  // namespace

int tune_command(const std::map<std::string, std::string> &options) {
    const Experiment e = read_experiment(options);
    const double budget = options.count("budget") ? std::stod(options.at("budget")) : 120.0;
    const std::string db_path = options.count("db") ? options.at("db") : "convgen-tuning.txt";
    const std::string log_path = db_path + ".trials";
    const std::string spec_text = to_string(e.spec);
    if (options.count("if-missing")) {
        // The build's tuning step (CONVGEN_TUNE_MISSING): layers already recorded, and
        // variants this CPU cannot run, are left as they are.
        if (auto entry = find_tuning(read_tuning_db(db_path), e.spec, e.target)) {
            std::cout << "convgen tune: " << spec_text << " for " << e.target << " is in " << db_path << " ("
                      << knobs_or_default(parse_schedule_knobs(entry->knobs)) << ")\n";
            return 0;
        }
        if (!lab::runs_on_this_cpu(e.target)) {
            std::cout << "convgen tune: this CPU cannot run " << e.target << "; " << spec_text
                      << " keeps the default schedule there\n";
            return 0;
        }
    }
    require_runs_here(e);
    std::cout << "Tuning " << spec_text << "\non input " << shape_to_string(e.input_shape) << " for " << e.target
              << ", " << e.threads << " threads, " << budget << " s; Ctrl-C stops and keeps the best so far\n";

    // Trials of earlier runs on this layer and target (the log), so a run can resume.
    std::map<std::string, double> measured;  // knobs text -> ms (infinite: invalid)
    {
        std::ifstream log(log_path);
        for (std::string line; std::getline(log, line);) {
            std::stringstream cells(line);
            std::string spec, target, knobs, ms;
            if (std::getline(cells, spec, '|') && std::getline(cells, target, '|') && std::getline(cells, knobs, '|') &&
                std::getline(cells, ms) && spec == spec_text && target == e.target) {
                measured[knobs] = std::stod(ms);
            }
        }
        if (!measured.empty()) std::cout << "resuming: " << measured.size() << " trials in " << log_path << "\n";
    }
    std::ofstream log(log_path, std::ios::app);

    lab::LayerBench bench(e.spec, e.input_shape, e.threads);
    auto trial = [&](const ScheduleKnobs &knobs) {
        const std::string key = to_string(knobs);
        if (auto it = measured.find(key); it != measured.end()) return it->second;
        double ms = std::numeric_limits<double>::infinity();
        try {
            ms = bench.measure(knobs, e.target, 0.3).ms;
        } catch (const Error &error) {
            if (error.code() != ErrorCode::InvalidSpec) throw;  // a wrong result is a bug, not a trial
        }
        measured[key] = ms;
        log << spec_text << '|' << e.target << '|' << key << '|' << ms << std::endl;
        return ms;
    };

    std::signal(SIGINT, [](int) { g_interrupted = true; });
    const auto start = std::chrono::steady_clock::now();
    auto seconds_left = [&] {
        return budget - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    ScheduleKnobs best = e.knobs;
    double best_ms = trial(best);
    for (const auto &[knobs, ms] : measured) {
        if (ms < best_ms) {
            best = parse_schedule_knobs(knobs);
            best_ms = ms;
        }
    }
    std::mt19937 rng(12345);
    int trials = 0;
    // Greedy neighbourhood search: change one knob the current best's schedule reads (or
    // a coupled group), keep the change if it is faster, start again from the new best.
    bool improved = true;
    while (improved && !g_interrupted && seconds_left() > 0) {
        improved = false;
        for (const ScheduleKnobs &next : neighbours_of(best, e, rng)) {
            if (g_interrupted || seconds_left() <= 0) break;
            const bool fresh = measured.count(to_string(next)) == 0;
            const double ms = trial(next);
            if (fresh) trials++;
            if (fresh && std::isfinite(ms)) {
                std::cout << "[" << trials << " trials, " << std::max(0, static_cast<int>(seconds_left())) << " s left] "
                          << knobs_or_default(next) << ": " << std::fixed << std::setprecision(4) << ms
                          << " ms   best " << best_ms << " ms " << knobs_or_default(best) << std::endl;
            }
            if (ms < best_ms * 0.99) {
                best = next;
                best_ms = ms;
                improved = true;
                break;
            }
        }
    }
    std::cout << (g_interrupted ? "interrupted" : seconds_left() <= 0 ? "budget spent" : "no neighbour is faster") << " after "
              << trials << " new trials\nbest: " << knobs_or_default(best) << " " << std::fixed << std::setprecision(4)
              << best_ms << " ms\n";
    // A search keeps what measured fastest once in this process, so noise (or a quiet
    // stretch of the host) can pick a schedule no faster than where it started. The
    // winner must beat the start by 2% in the median of five fresh processes each,
    // interleaved, or the start is recorded.
    const ScheduleKnobs start_knobs = e.knobs;
    if (!(best == start_knobs) && !g_interrupted) {
        constexpr int kRounds = 5;
        std::vector<double> start_times, best_times;
        for (int round = 0; round < kRounds; round++) {
            std::cout << "confirming in fresh processes: round " << round + 1 << " of " << kRounds << std::endl;
            start_times.push_back(median_in_fresh_process(e, start_knobs, 0.5));
            best_times.push_back(median_in_fresh_process(e, best, 0.5));
        }
        auto median = [](std::vector<double> times) {
            std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
            return times[times.size() / 2];
        };
        const double start_ms = median(start_times), winner_ms = median(best_times);
        std::cout << "confirming: " << knobs_or_default(start_knobs) << " " << start_ms << " ms, "
                  << knobs_or_default(best) << " " << winner_ms << " ms\n";
        if (winner_ms < 0.98 * start_ms) {
            best_ms = winner_ms;
        } else {
            std::cout << "not faster by 2%: keeping " << knobs_or_default(start_knobs) << "\n";
            best = start_knobs;
            best_ms = start_ms;
        }
    }
    record_tuning(db_path, TuningEntry{spec_text, e.target, to_string(best), best_ms, lab::cpu_name(), today()});
    std::cout << "recorded in " << db_path << "\n";
    return 0;
}

}  // namespace convgen::cli
