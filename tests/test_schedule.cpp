// Schedule knobs, autoschedulers and the tuning database: every schedule a knob can make
// must compute the same layer (checked against the reference), and every knob that
// cannot apply must say why.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "harness.h"
#include "jit_kernel.h"
#include "tuning_db.h"

using convgen::parse_schedule_knobs;
using convgen::parse_spec;

namespace {

void check_schedule(const std::string &spec, const std::string &knobs, const std::vector<int64_t> &shape) {
    INFO("schedule " << knobs);
    const convgen::JitKernel kernel(parse_spec(spec), convgen::JitKernel::default_target(), parse_schedule_knobs(knobs));
    convgen_test::check_against_reference(kernel, shape, 5);
}

void check_refused(const std::string &spec, const std::string &knobs, const std::string &needle) {
    INFO("schedule " << knobs);
    REQUIRE_THROWS_WITH(convgen::JitKernel(parse_spec(spec), convgen::JitKernel::default_target(),
                                           parse_schedule_knobs(knobs)),
                        Catch::Contains(needle));
}

}  // namespace

TEST_CASE("schedule knobs parse, print in a fixed order and refuse what they cannot be", "[jit][schedule]") {
    const convgen::ScheduleKnobs k = parse_schedule_knobs(" pixels = 8 , channel_tile=16,padded_at=task ");
    CHECK(convgen::to_string(k) == "channel_tile=16,pixels=8,padded_at=task");
    CHECK(parse_schedule_knobs(convgen::to_string(k)) == k);
    CHECK(parse_schedule_knobs("").values.empty());
    CHECK_THROWS_WITH(parse_schedule_knobs("pixel=8"), Catch::Contains("unknown knob 'pixel'") && Catch::Contains("pixels"));
    CHECK_THROWS_WITH(parse_schedule_knobs("pixels=99"), Catch::Contains("expected an integer from 1 to 32"));
    CHECK_THROWS_WITH(parse_schedule_knobs("pixels=8x"), Catch::Contains("expected an integer"));
    CHECK_THROWS_WITH(parse_schedule_knobs("padded_at=disk"), Catch::Contains("expected one of image, task, inline"));
    CHECK_THROWS_WITH(parse_schedule_knobs("pixels=8,pixels=9"), Catch::Contains("set twice"));
    CHECK_THROWS_WITH(parse_schedule_knobs("pixels"), Catch::Contains("not name=value"));
}

TEST_CASE("every CPU knob gives a schedule that computes the same layer", "[jit][schedule]") {
    const std::string conv = "Conv2d(16, 40, kernel_size=3, stride=(1, 2), padding=1) -> ReLU()";
    for (const char *knobs : {"channel_tile=16,pixels=6", "pixels=3,task_pixels=64", "reduction_split=4",
                              "reduction_split=5", "padded_at=task", "padded_at=inline", "unroll_kx=0",
                              "vectorize=x", "vectorize=x,rows=3,x_vectors=1,channel_block=5,grain=2",
                              "vectorize=x,padded_at=inline", "vector_width=4,channel_tile=8,pixels=5",
                              "vectorize=x,x_tail=masked", "vectorize=x,x_tail=masked,x_vectors=3",
                              "channels_inner=0", "vectorize=x,channels_inner=0"}) {
        check_schedule(conv, knobs, {2, 16, 11, 23});
    }
    // An input over 1 MiB: channel tiles hand out a row chunk's tiles one after another.
    for (const char *knobs : {"channels_inner=1", "padded_at=task"}) check_schedule(conv, knobs, {1, 16, 130, 130});
    // Rows narrower than one tile, and a ragged last tile: stored through a mask.
    check_schedule(conv, "vectorize=x,x_tail=masked,vector_width=8,x_vectors=2", {1, 16, 5, 9});
    const std::string depthwise = "Conv2d(8, 8, kernel_size=3, padding=1, groups=8, padding_mode='reflect')";
    for (const char *knobs : {"rows=1,x_vectors=2", "grain=3", "padded_at=inline", "vector_width=4", "x_tail=shift",
                              "x_tail=shift,vector_width=8"}) {
        check_schedule(depthwise, knobs, {1, 8, 9, 30});
    }
    check_schedule(depthwise, "vector_width=8,x_vectors=2", {1, 8, 5, 7});  // one masked tile per row
    // Planes whose padded rows fit one tile take their own tile height, taller or shorter
    // than the plane.
    for (const char *knobs : {"narrow_rows=5", "narrow_rows=3,rows=3", "narrow_rows=8,grain=5"}) {
        check_schedule(depthwise, knobs, {2, 8, 9, 12});
    }
    const std::string conv1d = "Conv1d(6, 12, kernel_size=5, padding=2, padding_mode='circular')";
    for (const char *knobs : {"channel_block=3,x_vectors=1", "grain=1", "padded_at=inline", "x_tail=masked",
                              "x_tail=masked,x_vectors=3,vector_width=8"}) {
        check_schedule(conv1d, knobs, {2, 6, 77});
    }
}

TEST_CASE("knobs that do not fit the layer or the target are refused with the reason", "[jit][schedule][errors]") {
    const std::string conv = "Conv2d(16, 40, kernel_size=3, padding=1)";
    check_refused(conv, "channel_tile=12", "must be whole vectors");
    check_refused(conv, "vector_width=16,channel_tile=8", "must be whole vectors");
    check_refused(conv, "vectorize=x,channel_block=3", "must divide the 40 output channels");
    check_refused("Conv2d(16, 40, kernel_size=3, padding=1, groups=2)", "vectorize=channels", "whole tiles of 16");
    check_refused("Conv2d(16, 96, kernel_size=3, padding=1, groups=2)", "vectorize=channels",
                  "divide the 48 output channels");
    check_refused("Conv1d(6, 12, kernel_size=5)", "vectorize=channels", "needs a Conv2d");
    check_refused("Conv2d(8, 8, kernel_size=3, groups=8)", "padded_at=image", "tasks span images");
    check_refused(conv, "reduction_split=17", "more than the 16 input channels");
    check_refused("Conv2d(16, 40, kernel_size=3, padding=1, padding_mode='reflect')", "skip_taps=1",
                  "needs zero padding");
    CHECK_THROWS_WITH(parse_schedule_knobs("x_tail=clip"), Catch::Contains("expected one of shift, masked"));
}

TEST_CASE("Halide's autoschedulers schedule the same layer", "[jit][schedule]") {
    // Mullapudi2016 and Adams2019 are CPU autoschedulers; Li2018 is kept for the GPU but
    // runs on the CPU too.
    for (const char *knobs : {"autoscheduler=Mullapudi2016,estimate_h=12,estimate_w=20",
                              "autoscheduler=Adams2019,estimate_n=2,estimate_h=12,estimate_w=20"}) {
        check_schedule("Conv2d(6, 10, kernel_size=3, padding=1, padding_mode='replicate') -> ReLU()", knobs,
                       {2, 6, 12, 20});
    }
}

TEST_CASE("the tuning database records, replaces and finds entries by layer and target", "[jit][schedule]") {
    const std::string path = (std::filesystem::temp_directory_path() / "convgen_tuning_test.txt").string();
    std::remove(path.c_str());
    const std::string avx512 = "x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41";
    const std::string avx2 = "x86-64-linux-avx-avx2-f16c-fma-sse41";
    const convgen::ConvSpec spec = parse_spec("Conv2d(64, 64, kernel_size=3, padding=1)");
    convgen::record_tuning(path, {convgen::to_string(spec), avx512, "pixels=8", 1.5, "test CPU", "2026-11-25"});
    convgen::record_tuning(path, {convgen::to_string(spec), avx2, "pixels=4", 3.0, "test CPU", "2026-11-25"});
    convgen::record_tuning(path, {convgen::to_string(spec), avx512, "pixels=12", 1.4, "test CPU", "2026-11-26"});
    const auto db = convgen::read_tuning_db(path);
    REQUIRE(db.size() == 2);
    // The layer however it is written; the target with the features builds add.
    const auto found = convgen::find_tuning(db, parse_spec("Conv2d(64, 64, 3, padding=(1, 1))"),
                                            avx512 + "-no_runtime-user_context");
    REQUIRE(found.has_value());
    CHECK(found->knobs == "pixels=12");
    CHECK(found->ms == 1.4);
    CHECK_FALSE(convgen::find_tuning(db, spec, "x86-64-linux-sse41").has_value());
    CHECK_FALSE(convgen::find_tuning(db, parse_spec("Conv2d(64, 64, 3)"), avx512).has_value());

    std::ofstream(path, std::ios::app) << "Conv2d(1, 1, 1) | x86-64-linux | | not-a-number | cpu | date\n";
    CHECK_THROWS_WITH(convgen::read_tuning_db(path), Catch::Contains("is not a time"));
    std::remove(path.c_str());
}
