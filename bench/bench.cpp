// convgen_bench: every layer of bench/layers.csv through convgen's AOT kernel and through
// oneDNN, in the same process on the same data, at 1 and 2 threads.
//
//   convgen_bench [--threads 1,2] [--layers name,name] [--markdown FILE] [--min-time SECONDS]
//                 [--processes N]
//
// Per layer: convgen ms; oneDNN ms for the primitive alone (activations already in the
// blocked layout oneDNN chose); oneDNN ms including the reorders from and to plain NCHW
// (what a caller holding PyTorch tensors pays); convgen GFLOP/s; the ratios; the share of
// this machine's fp32 FMA peak, measured at start-up. Times are medians of repeated runs
// after warm-up, convgen's and oneDNN's taken in alternating turns. convgen's output is
// checked against oneDNN's for every layer, so a fast wrong kernel cannot score. Weights
// are prepared once on both sides (convgen packs them when a Layer is made; oneDNN
// reorders them into its layout once), as a deployed model does.
// Each thread count runs in a child process of its own, so no thread pool from one
// measurement (OpenMP's for oneDNN, convgen's own for convgen) competes with the next. With
// --processes N, N of them per thread count, and each time is the median over those. On a
// shared host a small layer's time jumps for seconds at a time (mobilenet_dw_14: 0.040 ms,
// then 0.050-0.055 ms for 0.2-1.5 s, in one process calling the same kernel); the
// alternating turns and the processes keep such stretches from deciding a ratio.
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "convgen/runtime.h"
#include "common.h"
#include "measure.h"
#include "reference.h"

namespace {

using convgen_bench::read_suite;
using convgen_bench::split;
using convgen_bench::SuiteLayer;

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------
// Timing and peak

double g_min_seconds = 0.4;  // of calls per time measured, spread over its turns

// ---------------------------------------------------------------------------------------
// oneDNN

using dnnl::memory;
using tag = memory::format_tag;

// Reflect-pads an NCHW/NCW tensor by hand: oneDNN only pads with zeros.
std::vector<float> reflect_pad(const std::vector<float> &in, const std::vector<int64_t> &shape, int pad_h, int pad_w) {
    const bool is_2d = shape.size() == 4;
    const int64_t planes = shape[0] * shape[1], H = is_2d ? shape[2] : 1, W = shape.back();
    const int64_t Hp = H + 2 * pad_h, Wp = W + 2 * pad_w;
    auto reflect = [](int64_t i, int64_t n) { return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i; };
    std::vector<float> out(static_cast<size_t>(planes * Hp * Wp));
    for (int64_t p = 0; p < planes; p++)
        for (int64_t y = 0; y < Hp; y++)
            for (int64_t x = 0; x < Wp; x++)
                out[static_cast<size_t>((p * Hp + y) * Wp + x)] =
                    in[static_cast<size_t>((p * H + reflect(y - pad_h, H)) * W + reflect(x - pad_w, W))];
    return out;
}

struct OneDnnConv {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    dnnl::convolution_forward conv;
    dnnl::memory user_src, user_dst, src, weights, bias, dst;
    std::optional<dnnl::reorder> src_reorder, dst_reorder;
    bool explicit_reflect = false;
    int pad_h = 0, pad_w = 0;
    std::vector<int64_t> input_shape;
    std::vector<float> padded_input;

    OneDnnConv(const convgen::ConvSpec &s, const std::vector<int64_t> &in_shape, const std::vector<float> &weight_values,
               const std::vector<float> &bias_values, const std::vector<int64_t> &out_shape)
        : input_shape(in_shape) {
        const bool is_2d = s.dims == 2;
        const convgen::AxisParams ax = s.axis_x(), ay = s.axis_y();
        explicit_reflect = s.padding_mode == convgen::PaddingMode::Reflect;
        if (s.padding_mode != convgen::PaddingMode::Zeros && !explicit_reflect) {
            throw convgen::Error(convgen::ErrorCode::InvalidSpec, "the bench compares only zeros and reflect padding");
        }
        pad_h = ay.pad_begin;
        pad_w = ax.pad_begin;
        memory::dims src_dims(in_shape.begin(), in_shape.end());
        if (explicit_reflect) {  // oneDNN sees the already padded input and no padding
            if (is_2d) src_dims[2] += 2 * pad_h;
            src_dims.back() += 2 * pad_w;
        }
        const memory::dims dst_dims(out_shape.begin(), out_shape.end());
        memory::dims w_dims = {s.out_channels, s.in_channels_per_group()};
        if (s.groups > 1) w_dims = {s.groups, s.out_channels_per_group(), s.in_channels_per_group()};
        if (is_2d) w_dims.push_back(ay.kernel);
        w_dims.push_back(ax.kernel);
        const memory::dims strides = is_2d ? memory::dims{ay.stride, ax.stride} : memory::dims{ax.stride};
        const memory::dims dilates = is_2d ? memory::dims{ay.dilation - 1, ax.dilation - 1} : memory::dims{ax.dilation - 1};
        const int ph = explicit_reflect ? 0 : ay.pad_begin, pw = explicit_reflect ? 0 : ax.pad_begin;
        const int ph_r = explicit_reflect ? 0 : ay.pad_end, pw_r = explicit_reflect ? 0 : ax.pad_end;
        const memory::dims pad_l = is_2d ? memory::dims{ph, pw} : memory::dims{pw};
        const memory::dims pad_r = is_2d ? memory::dims{ph_r, pw_r} : memory::dims{pw_r};

        const auto f32 = memory::data_type::f32;
        const tag act_tag = is_2d ? tag::nchw : tag::ncw;
        const tag w_tag = s.groups > 1 ? (is_2d ? tag::goihw : tag::goiw) : (is_2d ? tag::oihw : tag::oiw);
        const memory::desc any_src(src_dims, f32, tag::any), any_w(w_dims, f32, tag::any),
            any_dst(dst_dims, f32, tag::any), bias_md({s.out_channels}, f32, tag::x);

        dnnl::primitive_attr attr;
        if (s.activation == convgen::Activation::ReLU) {
            dnnl::post_ops ops;
            ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
            attr.set_post_ops(ops);
        }
        const auto desc = s.bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                                   dnnl::algorithm::convolution_auto, any_src, any_w,
                                                                   bias_md, any_dst, strides, dilates, pad_l, pad_r)
                                 : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                                   dnnl::algorithm::convolution_auto, any_src, any_w,
                                                                   any_dst, strides, dilates, pad_l, pad_r);
        const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
        conv = dnnl::convolution_forward(pd);

        user_src = memory({src_dims, f32, act_tag}, engine);
        user_dst = memory({dst_dims, f32, act_tag}, engine);
        src = pd.src_desc() == user_src.get_desc() ? user_src : memory(pd.src_desc(), engine);
        dst = pd.dst_desc() == user_dst.get_desc() ? user_dst : memory(pd.dst_desc(), engine);
        if (src != user_src) src_reorder = dnnl::reorder(user_src, src);
        if (dst != user_dst) dst_reorder = dnnl::reorder(dst, user_dst);

        // Weights into oneDNN's layout once, outside every timing.
        memory user_w({w_dims, f32, w_tag}, engine, const_cast<float *>(weight_values.data()));
        weights = memory(pd.weights_desc(), engine);
        dnnl::reorder(user_w, weights).execute(stream, user_w, weights);
        if (s.bias) {
            bias = memory(bias_md, engine);
            std::copy(bias_values.begin(), bias_values.end(), static_cast<float *>(bias.get_data_handle()));
        }
        stream.wait();
    }

    // The user's NCHW input into oneDNN's source (reflect padding, then the reorder).
    void import(const std::vector<float> &input) {
        float *dst_ptr = static_cast<float *>(user_src.get_data_handle());
        if (explicit_reflect) {
            padded_input = reflect_pad(input, input_shape, pad_h, pad_w);
            std::copy(padded_input.begin(), padded_input.end(), dst_ptr);
        } else {
            std::copy(input.begin(), input.end(), dst_ptr);
        }
        if (src_reorder) src_reorder->execute(stream, user_src, src);
    }
    void run_primitive() {
        std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
        if (bias) args[DNNL_ARG_BIAS] = bias;
        conv.execute(stream, args);
        stream.wait();
    }
    void export_output() {
        if (dst_reorder) dst_reorder->execute(stream, dst, user_dst);
        stream.wait();
    }
    const float *output() const { return static_cast<const float *>(user_dst.get_data_handle()); }
};

// ---------------------------------------------------------------------------------------

struct Row {
    std::string name;
    int threads;
    double convgen_ms, dnnl_ms, dnnl_reorder_ms, gflops, peak_share;
    double max_rel_diff;
};

using convgen_reference::random_values;

Row bench_layer(const SuiteLayer &layer, int threads, double peak) {
    const convgen::Kernel &kernel = convgen::find_kernel("bench_" + layer.name);
    if (kernel.spec() != layer.spec) {
        throw convgen::Error(convgen::ErrorCode::InvalidSpec, "kernel bench_" + layer.name + " was built for " +
                                                                  convgen::to_string(kernel.spec()) + " but the suite says " +
                                                                  convgen::to_string(layer.spec) + ": rebuild the bench");
    }
    const convgen::ConvSpec &s = layer.spec;
    const std::vector<int64_t> out_shape = s.output_shape(layer.input_shape);
    size_t in_count = 1, w_count = 1, out_count = 1;
    for (int64_t d : layer.input_shape) in_count *= static_cast<size_t>(d);
    for (int64_t d : s.weight_shape()) w_count *= static_cast<size_t>(d);
    for (int64_t d : out_shape) out_count *= static_cast<size_t>(d);
    const std::vector<float> input = random_values(in_count, 1), weight = random_values(w_count, 2);
    const std::vector<float> bias = s.bias ? random_values(static_cast<size_t>(s.out_channels), 3) : std::vector<float>{};

    convgen::set_num_threads(threads);
    omp_set_num_threads(threads);

    std::optional<convgen::ConstTensorView> bias_view;
    if (s.bias) bias_view = convgen::ConstTensorView(bias.data(), s.bias_shape());
    const convgen::Layer conv(kernel, convgen::ConstTensorView(weight.data(), s.weight_shape()), bias_view);
    convgen::Tensor out(out_shape);
    const convgen::ConstTensorView in_view(input.data(), layer.input_shape);
    Row row{layer.name, threads, 0, 0, 0, 0, 0, 0};
    OneDnnConv dnnl_conv(s, layer.input_shape, weight, bias, out_shape);
    dnnl_conv.import(input);
    // The three times side by side, in rounds (measure.h): on this shared host a layer's
    // time can jump by a third for seconds at a time, and timing one library after the
    // other would charge such a stretch to whichever ran in it. With several threads,
    // each turn starts after the other library's idle threads have stopped spinning
    // (libgomp's spin for some milliseconds, convgen's pool for CONVGEN_SPIN_US).
    const std::vector<double> ms = convgen::measure::interleaved_median_ms(
        {[&] { conv.forward(in_view, out.view()); },  //
         [&] { dnnl_conv.run_primitive(); },
         [&] {
             dnnl_conv.import(input);
             dnnl_conv.run_primitive();
             dnnl_conv.export_output();
         }},
        g_min_seconds, convgen::measure::kSideBySideTurns, [&] {
            if (threads > 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        });
    row.convgen_ms = ms[0];
    row.dnnl_ms = ms[1];
    row.dnnl_reorder_ms = ms[2];

    double max_abs = 0, max_diff = 0;
    for (size_t i = 0; i < out_count; i++) {
        max_abs = std::max(max_abs, double(std::fabs(dnnl_conv.output()[i])));
        const double diff = std::fabs(double(out.data()[i]) - dnnl_conv.output()[i]);
        max_diff = std::isnan(diff) ? INFINITY : std::max(max_diff, diff);
    }
    row.max_rel_diff = max_diff / std::max(max_abs, 1e-30);
    row.gflops = s.flops(layer.input_shape) / (row.convgen_ms * 1e6);
    row.peak_share = row.gflops / peak;
    return row;
}

// The instruction set oneDNN's JIT kernels use here (DNNL_MAX_CPU_ISA caps it).
const char *dnnl_isa_name() {
    using dnnl::cpu_isa;
    switch (dnnl::get_effective_cpu_isa()) {
    case cpu_isa::sse41: return "sse41";
    case cpu_isa::avx: return "avx";
    case cpu_isa::avx2: return "avx2";
    case cpu_isa::avx2_vnni: return "avx2_vnni";
    case cpu_isa::avx512_core: return "avx512_core";
    case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

// The model name, with the family and model numbers where the name alone does not tell
// generations apart (a VM's "AMD EPYC": family 25 is Zen 3 or Zen 4, told apart by the
// model; family 26 is Zen 5).
std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string name = "unknown CPU", family, model;
    for (std::string line; std::getline(f, line);) {
        const auto value = [&] { return line.substr(line.find(':') + 2); };
        if (line.rfind("model name", 0) == 0) name = value();
        if (line.rfind("cpu family", 0) == 0 && family.empty()) family = value();
        if (line.rfind("model\t", 0) == 0 && model.empty()) model = value();
        if (line.empty()) break;  // the first CPU's block is enough
    }
    if (!family.empty()) name += " (family " + family + (model.empty() ? "" : ", model " + model) + ")";
    return name;
}

// One thread count measured in this process: the peak, then a row per layer, printed as
// it goes.
struct Table {
    double peak = 0;
    std::vector<Row> rows;
};

void print_row(const Row &r) {
    std::printf("%-26s %10.3f %10.3f %12.3f %9.1f %7.2fx %8.2fx %6.1f%% %9.1e%s\n", r.name.c_str(), r.convgen_ms,
                r.dnnl_ms, r.dnnl_reorder_ms, r.gflops, r.dnnl_ms / r.convgen_ms, r.dnnl_reorder_ms / r.convgen_ms,
                100 * r.peak_share, r.max_rel_diff, r.max_rel_diff > 1e-4 ? "  WRONG" : "");
    std::fflush(stdout);
}

void print_heading(int threads, double peak, const std::string &what) {
    std::printf("\n%d thread%s%s: measured fp32 FMA peak %.1f GFLOP/s\n", threads, threads > 1 ? "s" : "",
                what.c_str(), peak);
    std::printf("%-26s %10s %10s %12s %9s %8s %9s %7s %9s\n", "layer", "convgen ms", "oneDNN ms", "+reorders ms",
                "GFLOP/s", "dnn/cg", "dnn+r/cg", "peak", "max diff");
}

Table measure_thread_count(int threads, const std::vector<SuiteLayer> &suite, const std::vector<std::string> &only,
                           const std::string &isa) {
    Table table;
    table.peak = convgen::measure::peak_gflops(threads, isa == "avx512");
    print_heading(threads, table.peak, "");
    for (const SuiteLayer &layer : suite) {
        if (!only.empty() && std::find(only.begin(), only.end(), layer.name) == only.end()) continue;
        const Row r = bench_layer(layer, threads, table.peak);
        print_row(r);
        if (r.max_rel_diff > 1e-4) {
            throw convgen::Error(convgen::ErrorCode::RuntimeError,
                                 layer.name + ": convgen's output differs from oneDNN's");
        }
        table.rows.push_back(r);
    }
    return table;
}

// A table as text through a pipe: the peak, then one line per row.
std::string serialize(const Table &t) {
    std::ostringstream out;
    out.precision(17);
    out << t.peak << "\n";
    for (const Row &r : t.rows) {
        out << r.name << ' ' << r.threads << ' ' << r.convgen_ms << ' ' << r.dnnl_ms << ' ' << r.dnnl_reorder_ms << ' '
            << r.gflops << ' ' << r.peak_share << ' ' << r.max_rel_diff << "\n";
    }
    return out.str();
}

Table deserialize(const std::string &text) {
    std::istringstream in(text);
    Table t;
    in >> t.peak;
    for (Row r; in >> r.name >> r.threads >> r.convgen_ms >> r.dnnl_ms >> r.dnnl_reorder_ms >> r.gflops >>
                    r.peak_share >> r.max_rel_diff;) {
        t.rows.push_back(r);
    }
    return t;
}

// measure_thread_count in a child process of its own. Each starts with no thread pool
// yet (OpenMP's and Halide's workers left from an earlier thread count kept a core busy
// and slowed whichever library ran next) and places its code and tensors anew in memory.
Table measure_in_child(int threads, const std::vector<SuiteLayer> &suite, const std::vector<std::string> &only,
                       const std::string &isa) {
    std::fflush(stdout);
    int fds[2];
    if (pipe(fds) != 0) throw convgen::Error(convgen::ErrorCode::IoError, "pipe() failed");
    const pid_t pid = fork();
    if (pid < 0) throw convgen::Error(convgen::ErrorCode::IoError, "fork() failed");
    if (pid == 0) {
        close(fds[0]);
        int status = 0;
        try {
            const std::string text = serialize(measure_thread_count(threads, suite, only, isa));
            for (size_t done = 0; done < text.size();) {
                const ssize_t n = write(fds[1], text.data() + done, text.size() - done);
                if (n <= 0) break;
                done += static_cast<size_t>(n);
            }
        } catch (const std::exception &e) {
            std::fprintf(stderr, "convgen_bench: %s\n", e.what());
            status = 1;
        }
        std::fflush(stdout);
        _exit(status);
    }
    close(fds[1]);
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw convgen::Error(convgen::ErrorCode::RuntimeError,
                             "the run at " + std::to_string(threads) + " thread(s) failed");
    }
    return deserialize(text);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t mid = v.size() / 2;
    return v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// Per layer, the median over processes of each time (and of the peak); GFLOP/s and the
// share of peak follow from the median convgen time; the largest difference from oneDNN.
Table median_of(const std::vector<Table> &tables) {
    Table m;
    std::vector<double> peaks;
    for (const Table &t : tables) peaks.push_back(t.peak);
    m.peak = median(peaks);
    for (size_t i = 0; i < tables.front().rows.size(); i++) {
        Row r = tables.front().rows[i];
        std::vector<double> cg, dnnl, dnnl_reorder;
        for (const Table &t : tables) {
            cg.push_back(t.rows[i].convgen_ms);
            dnnl.push_back(t.rows[i].dnnl_ms);
            dnnl_reorder.push_back(t.rows[i].dnnl_reorder_ms);
            r.max_rel_diff = std::max(r.max_rel_diff, t.rows[i].max_rel_diff);
        }
        const double flop = r.gflops * r.convgen_ms * 1e6;
        r.convgen_ms = median(cg);
        r.dnnl_ms = median(dnnl);
        r.dnnl_reorder_ms = median(dnnl_reorder);
        r.gflops = flop / (r.convgen_ms * 1e6);
        r.peak_share = r.gflops / m.peak;
        m.rows.push_back(r);
    }
    return m;
}

// A table as Markdown, with the geometric means of the ratios.
std::string markdown(const Table &t, int threads, int processes) {
    std::ostringstream md;
    char heading[192];
    std::snprintf(heading, sizeof heading, "\n### %d thread%s (measured FMA peak %.1f GFLOP/s%s)\n\n", threads,
                  threads > 1 ? "s" : "", t.peak,
                  processes > 1 ? (", medians of " + std::to_string(processes) + " processes").c_str() : "");
    md << heading
       << "| layer | convgen ms | oneDNN ms | oneDNN + reorders ms | convgen GFLOP/s | oneDNN / convgen | "
          "oneDNN+reorders / convgen | share of peak |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
    double log_prim = 0, log_reorder = 0;
    for (const Row &r : t.rows) {
        const double prim_ratio = r.dnnl_ms / r.convgen_ms, reorder_ratio = r.dnnl_reorder_ms / r.convgen_ms;
        log_prim += std::log(prim_ratio);
        log_reorder += std::log(reorder_ratio);
        char line[512];
        std::snprintf(line, sizeof line, "| %s | %.3f | %.3f | %.3f | %.1f | %.2fx | %.2fx | %.1f%% |\n",
                      r.name.c_str(), r.convgen_ms, r.dnnl_ms, r.dnnl_reorder_ms, r.gflops, prim_ratio,
                      reorder_ratio, 100 * r.peak_share);
        md << line;
    }
    if (!t.rows.empty()) {
        const double count = static_cast<double>(t.rows.size());
        std::printf("%-26s %10s %10s %12s %9s %7.2fx %8.2fx\n", "geometric mean", "", "", "", "",
                    std::exp(log_prim / count), std::exp(log_reorder / count));
        char line[256];
        std::snprintf(line, sizeof line, "| **geometric mean** | | | | | **%.2fx** | **%.2fx** | |\n",
                      std::exp(log_prim / count), std::exp(log_reorder / count));
        md << line;
    }
    return md.str();
}

// One thread count: measured `processes` times, each in a fresh process (or here, for a
// single measurement of a single thread count), then the medians printed and returned as
// Markdown.
std::string bench_thread_count(int threads, int processes, bool in_process, const std::vector<SuiteLayer> &suite,
                               const std::vector<std::string> &only, const std::string &isa) {
    std::vector<Table> tables;
    for (int run = 0; run < processes; run++) {
        if (processes > 1) std::printf("\n[process %d of %d]", run + 1, processes);
        tables.push_back(in_process ? measure_thread_count(threads, suite, only, isa)
                                    : measure_in_child(threads, suite, only, isa));
    }
    const Table t = processes > 1 ? median_of(tables) : tables.front();
    if (processes > 1) {
        print_heading(threads, t.peak, ", medians of " + std::to_string(processes) + " processes");
        for (const Row &r : t.rows) print_row(r);
    }
    return markdown(t, threads, processes);
}

}  // namespace

int main(int argc, char **argv) {
    std::vector<int> thread_counts = {1, 2};
    int processes = 1;
    std::vector<std::string> only;
    std::string markdown_path;
    try {
        for (int i = 1; i < argc; i++) {
            const std::string arg = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) throw convgen::Error(convgen::ErrorCode::ParseError, arg + " needs a value");
                return argv[++i];
            };
            if (arg == "--threads") {
                thread_counts.clear();
                for (const std::string &t : split(value(), ',')) thread_counts.push_back(std::stoi(t));
            } else if (arg == "--layers") {
                only = split(value(), ',');
            } else if (arg == "--markdown") {
                markdown_path = value();
            } else if (arg == "--min-time") {
                g_min_seconds = std::stod(value());
            } else if (arg == "--processes") {
                processes = std::stoi(value());
                if (processes < 1) throw convgen::Error(convgen::ErrorCode::ParseError, "--processes must be at least 1");
            } else {
                std::fprintf(stderr, "usage: convgen_bench [--threads 1,2] [--layers a,b] [--markdown FILE] "
                                     "[--min-time S] [--processes N]\n");
                return arg == "--help" ? 0 : 2;
            }
        }

        const std::vector<SuiteLayer> suite = read_suite(CONVGEN_BENCH_CSV);
        const std::string isa = convgen::active_cpu_isa();
        std::printf("CPU: %s; convgen variant: %s; oneDNN %d.%d.%d using %s\n", cpu_model().c_str(), isa.c_str(),
                    dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch, dnnl_isa_name());

        // A single measurement of a single thread count runs here; anything more in fresh
        // processes.
        const bool in_process = thread_counts.size() == 1 && processes == 1;
        std::string md;
        for (int threads : thread_counts) md += bench_thread_count(threads, processes, in_process, suite, only, isa);
        if (!markdown_path.empty()) {
            std::ofstream out(markdown_path);
            out << "## convgen's " << isa << " variant against oneDNN using " << dnnl_isa_name() << "\n\nCPU: "
                << cpu_model() << "\n" << md;
        }
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "convgen_bench: %s\n", e.what());
        return 1;
    }
}
