// The command-line program end to end: real processes, real files, exit codes, messages.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "harness.h"
#include "npy.h"

namespace fs = std::filesystem;

namespace {

struct Result {
    int status;
    std::string out, err;
};

// A scratch folder per test case, removed afterwards.
class Scratch {
public:
    Scratch() {
        static int counter = 0;
        dir_ = fs::temp_directory_path() / ("convgen_cli_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::create_directories(dir_);
    }
    ~Scratch() { fs::remove_all(dir_); }
    std::string path(const std::string &name) const { return (dir_ / name).string(); }

private:
    fs::path dir_;
};

std::string slurp(const std::string &path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// Runs `convgen ARGS` through the shell, capturing its exit status and both streams.
Result run_cli(const Scratch &scratch, const std::string &args) {
    const std::string out = scratch.path("stdout.txt"), err = scratch.path("stderr.txt");
    const std::string command = std::string("'") + CONVGEN_CLI + "' " + args + " >'" + out + "' 2>'" + err + "'";
    const int raw = std::system(command.c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
}

std::string quoted(const std::string &s) { return "'" + s + "'"; }

}  // namespace

TEST_CASE("convgen run computes a layer from .npy files", "[cli]") {
    Scratch s;
    const convgen::ConvSpec spec = convgen::parse_spec("Conv2d(4, 6, kernel_size=3, stride=2, padding=1, groups=2) -> ReLU()");
    const std::vector<int64_t> input_shape = {2, 4, 9, 11};
    const std::vector<float> input = convgen_test::random_values(2 * 4 * 9 * 11, 1);
    const std::vector<float> weight = convgen_test::random_values(6 * 2 * 3 * 3, 2);
    const std::vector<float> bias = convgen_test::random_values(6, 3);
    convgen::npy::save(s.path("x.npy"), input_shape, input.data());
    convgen::npy::save(s.path("w.npy"), spec.weight_shape(), weight.data());
    convgen::npy::save(s.path("b.npy"), {6}, bias.data());

    const Result r = run_cli(s, "run --spec " + quoted(convgen::to_string(spec)) + " --input " + quoted(s.path("x.npy")) +
                                    " --weight " + quoted(s.path("w.npy")) + " --bias " + quoted(s.path("b.npy")) +
                                    " --output " + quoted(s.path("y.npy")) + " --threads 2");
    INFO(r.err);
    REQUIRE(r.status == 0);
    const convgen::npy::Array y = convgen::npy::load(s.path("y.npy"));
    const convgen_reference::ReferenceResult ref = convgen_reference::reference_conv(spec, input_shape, input, weight, bias);
    REQUIRE(y.shape == ref.shape);
    for (size_t i = 0; i < ref.values.size(); i++) {
        REQUIRE(convgen_reference::close_enough(y.data[i], ref.values[i], ref.magnitudes[i]));
    }
}

TEST_CASE("convgen run refuses bad layers, tensors and files, and writes nothing", "[cli][errors]") {
    Scratch s;
    const std::vector<float> values(2 * 3 * 8, 0.5f);
    convgen::npy::save(s.path("x.npy"), {2, 3, 8}, values.data());
    convgen::npy::save(s.path("w.npy"), {4, 3, 3}, values.data());
    convgen::npy::save(s.path("w_wrong.npy"), {4, 2, 3}, values.data());
    {
        std::ofstream garbage(s.path("garbage.npy"), std::ios::binary);
        garbage << "this is not a numpy file";
    }
    const std::string out = " --output " + quoted(s.path("y.npy"));
    const std::string good = " --input " + quoted(s.path("x.npy")) + " --weight " + quoted(s.path("w.npy"));

    struct Case {
        const char *what;
        std::string args;
        const char *message;
    };
    const std::vector<Case> cases = {
        {"invalid layer", "run --spec 'Conv1d(3, 4, 3, groups=2, bias=False)'" + good + out, "divisible by groups"},
        {"unparsable layer", "run --spec 'Conv3d(3, 4, 3)'" + good + out, "Conv1d or Conv2d"},
        {"weight of the wrong shape", "run --spec 'Conv1d(3, 4, 3, bias=False)' --input " + quoted(s.path("x.npy")) +
                                          " --weight " + quoted(s.path("w_wrong.npy")) + out,
         "weight: expected shape (4, 3, 3), got (4, 2, 3)"},
        {"missing bias", "run --spec 'Conv1d(3, 4, 3)'" + good + out, "bias"},
        {"input with the wrong channels", "run --spec 'Conv1d(5, 4, 3, bias=False)'" + good + out, "in_channels = 5"},
        {"missing file", "run --spec 'Conv1d(3, 4, 3, bias=False)' --input " + quoted(s.path("nope.npy")) +
                             " --weight " + quoted(s.path("w.npy")) + out,
         "nope.npy"},
        {"malformed file", "run --spec 'Conv1d(3, 4, 3, bias=False)' --input " + quoted(s.path("garbage.npy")) +
                               " --weight " + quoted(s.path("w.npy")) + out,
         "garbage.npy"},
        {"kernel larger than the input", "run --spec 'Conv1d(3, 4, 9, bias=False)'" + good + out, "larger than"},
    };
    for (const Case &c : cases) {
        INFO(c.what);
        const Result r = run_cli(s, c.args);
        INFO("stderr: " << r.err);
        CHECK(r.status == 1);
        CHECK(r.err.find(c.message) != std::string::npos);
        CHECK(r.err.find("convgen: error:") != std::string::npos);
        CHECK_FALSE(fs::exists(s.path("y.npy")));
    }

    INFO("an output folder that does not exist");
    const Result r = run_cli(s, "run --spec 'Conv1d(3, 4, 3, bias=False)'" + good + " --output " + quoted(s.path("no/such/dir/y.npy")));
    CHECK(r.status == 1);
    CHECK_FALSE(fs::exists(s.path("no")));
}

TEST_CASE("convgen explains itself and rejects bad command lines", "[cli]") {
    Scratch s;
    Result r = run_cli(s, "--help");
    CHECK(r.status == 0);
    CHECK(r.out.find("convgen run") != std::string::npos);
    CHECK(r.out.find("convgen describe") != std::string::npos);
    CHECK(run_cli(s, "run --help").status == 0);

    r = run_cli(s, "");
    CHECK(r.status == 2);
    r = run_cli(s, "frobnicate");
    CHECK(r.status == 2);
    CHECK(r.err.find("unknown command 'frobnicate'") != std::string::npos);
    r = run_cli(s, "run --spec 'Conv1d(1,1,1)' --colour red");
    CHECK(r.status == 2);
    CHECK(r.err.find("unknown option --colour") != std::string::npos);
    r = run_cli(s, "run --spec 'Conv1d(1,1,1)'");
    CHECK(r.status == 2);
    CHECK(r.err.find("missing --output") != std::string::npos);
}

TEST_CASE("convgen describe prints the canonical form and shapes", "[cli]") {
    Scratch s;
    const Result r = run_cli(s, "describe --spec 'nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False) -> ReLU()' --input-shape 1,3,224,224");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False) -> ReLU()") != std::string::npos);
    CHECK(r.out.find("weight shape: (64, 3, 7, 7)") != std::string::npos);
    CHECK(r.out.find("output shape: (1, 64, 112, 112)") != std::string::npos);
    CHECK(r.out.find("FLOPs: 236027904") != std::string::npos);  // 2*64*112*112*3*49
}

TEST_CASE("convgen bench measures a layer with schedule knobs and checks it, or two side by side", "[cli][schedule]") {
    Scratch s;
    const std::string layer = " --spec 'Conv2d(8, 16, 3, padding=1) -> ReLU()' --input-shape 1,8,20,24 --threads 1 --min-time 0.05";
    Result r = run_cli(s, "bench" + layer + " --schedule pixels=4,padded_at=task");
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("schedule pixels=4,padded_at=task") != std::string::npos);
    CHECK(r.out.find("GFLOP/s") != std::string::npos);
    CHECK(r.out.find("matches the reference") != std::string::npos);

    r = run_cli(s, "bench" + layer + " --schedule pixels=99");
    CHECK(r.status == 1);
    CHECK(r.err.find("pixels=99: expected an integer from 1 to 32") != std::string::npos);
    r = run_cli(s, "bench" + layer + " --target x86-64-linux-cuda");
    CHECK(r.status == 2);
    CHECK(r.err.find("GPU kernels are measured by scripts/gpu-bench.sh") != std::string::npos);

    // --versus: a second schedule, checked too, the two timed in alternating turns.
    r = run_cli(s, "bench" + layer + " --schedule pixels=4 --versus padded_at=task,pixels=6");
    REQUIRE(r.status == 0);
    CHECK(r.out.find("versus   pixels=6,padded_at=task (in alternating turns)") != std::string::npos);  // knobs print in a fixed order
    CHECK(r.out.find("schedule: median ") != std::string::npos);
    CHECK(r.out.find("versus:   median ") != std::string::npos);
    CHECK(r.out.find("versus / schedule: ") != std::string::npos);
    size_t matches = 0;
    for (size_t at = r.out.find("matches the reference"); at != std::string::npos;
         at = r.out.find("matches the reference", at + 1)) {
        matches++;
    }
    CHECK(matches == 2);
    // A bad second schedule is refused before anything is measured or printed.
    r = run_cli(s, "bench" + layer + " --versus pixels=99");
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("pixels=99: expected an integer from 1 to 32") != std::string::npos);
}

TEST_CASE("convgen explain prints the loop nest and writes the statement and assembly", "[cli][schedule]") {
    Scratch s;
    const Result r = run_cli(s, "explain --spec 'Conv1d(4, 8, 3)' --schedule x_vectors=1 --stmt " + quoted(s.path("c.stmt")) +
                                    " --asm " + quoted(s.path("c.s")));
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("produce output") != std::string::npos);
    CHECK(slurp(s.path("c.stmt")).find("produce conv") != std::string::npos);
    CHECK(slurp(s.path("c.s")).find("convgen_conv") != std::string::npos);
}

TEST_CASE("convgen tune records the best schedule it measured, and resumes", "[cli][schedule]") {
    Scratch s;
    const std::string db = quoted(s.path("tuning.txt"));
    const std::string layer = " --spec 'Conv1d(4, 8, 3, padding=1)' --input-shape 1,4,300 --threads 1";
    Result r = run_cli(s, "tune" + layer + " --budget 3 --db " + db);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("trials") != std::string::npos);
    const std::string recorded = slurp(s.path("tuning.txt"));
    CHECK(recorded.find("Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=(1,)) | x86-64-linux") != std::string::npos);
    REQUIRE(fs::exists(s.path("tuning.txt.trials")));
    // A winner other than the start is only recorded after fresh processes confirm it.
    if (r.out.find("best: (default)") == std::string::npos) {
        CHECK(r.out.find("confirming in fresh processes: round 5 of 5") != std::string::npos);
    }

    r = run_cli(s, "tune" + layer + " --budget 1 --db " + db);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("resuming") != std::string::npos);
}
