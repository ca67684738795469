// Tests for the pool that runs the kernels' parallel loops (runtime/src/thread_pool.h):
// every iteration exactly once, failures, nested loops, loops from several threads.

#include "thread_pool.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

using convgen::detail::parallel_for;
using convgen::detail::set_pool_threads;

// Counts each iteration's runs; fails with `fail_status` at iteration `fail_at`.
struct Counting {
    std::vector<std::atomic<int>> runs;
    int fail_at = -1, fail_status = 0;
    explicit Counting(int size) : runs(static_cast<size_t>(size)) {}

    static int task(void *context, int index) {
        auto &self = *static_cast<Counting *>(context);
        self.runs[static_cast<size_t>(index)]++;
        return index == self.fail_at ? self.fail_status : 0;
    }
};

// Restores the default thread count when a test ends.
struct DefaultThreadsAfter {
    ~DefaultThreadsAfter() { set_pool_threads(0); }
};

}  // namespace

TEST_CASE("a parallel loop runs every iteration exactly once", "[pool]") {
    DefaultThreadsAfter restore;
    for (int threads : {1, 2, 3, 8}) {
        set_pool_threads(threads);
        for (int size : {0, 1, 2, 5, 64, 1000}) {
            for (int repeat = 0; repeat < 3; repeat++) {
                Counting loop(size);
                REQUIRE(parallel_for(size, Counting::task, &loop) == 0);
                for (int i = 0; i < size; i++) {
                    INFO(threads << " threads, " << size << " iterations, iteration " << i);
                    REQUIRE(loop.runs[static_cast<size_t>(i)] == 1);
                }
            }
        }
    }
}

TEST_CASE("a failing iteration's status comes back and stops the loop", "[pool]") {
    DefaultThreadsAfter restore;
    for (int threads : {1, 2, 4}) {
        set_pool_threads(threads);
        Counting loop(200);
        loop.fail_at = 17;
        loop.fail_status = -42;
        CHECK(parallel_for(200, Counting::task, &loop) == -42);
        int ran = 0;
        for (auto &runs : loop.runs) {
            CHECK(runs <= 1);
            ran += runs;
        }
        CHECK(loop.runs[17] == 1);
        // One thread: nothing after the failure runs. More: at most what was under way.
        if (threads == 1) CHECK(ran == 18);
    }
    // Two threads, the failure first in the caller's block, each iteration 200 us: the
    // worker's block takes it 20 ms, and the caller's other 99 iterations are skipped.
    set_pool_threads(2);
    struct Slow {
        std::atomic<int> ran{0};
        static int task(void *context, int index) {
            static_cast<Slow *>(context)->ran++;
            if (index == 0) return 7;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            return 0;
        }
    } slow;
    CHECK(parallel_for(200, Slow::task, &slow) == 7);
    CHECK(slow.ran < 200);
}

TEST_CASE("set_pool_threads returns the previous count and 1 keeps loops on the caller's thread", "[pool]") {
    DefaultThreadsAfter restore;
    set_pool_threads(3);
    CHECK(set_pool_threads(1) == 3);
    struct OnCaller {
        std::thread::id caller = std::this_thread::get_id();
        std::atomic<int> elsewhere{0};
        static int task(void *context, int) {
            auto &self = *static_cast<OnCaller *>(context);
            if (std::this_thread::get_id() != self.caller) self.elsewhere++;
            return 0;
        }
    } loop;
    for (int repeat = 0; repeat < 20; repeat++) REQUIRE(parallel_for(100, OnCaller::task, &loop) == 0);
    CHECK(loop.elsewhere == 0);
    CHECK(set_pool_threads(0) == 1);
}

TEST_CASE("with two threads a worker takes part", "[pool]") {
    DefaultThreadsAfter restore;
    set_pool_threads(2);
    // Each iteration waits (up to 10 s) until iterations have run on two threads: the
    // caller cannot finish the loop alone, so a worker must join.
    struct TwoThreads {
        std::mutex mutex;
        std::set<std::thread::id> seen;
        static int task(void *context, int) {
            auto &self = *static_cast<TwoThreads *>(context);
            {
                std::lock_guard<std::mutex> lock(self.mutex);
                self.seen.insert(std::this_thread::get_id());
            }
            const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (std::chrono::steady_clock::now() < give_up) {
                std::lock_guard<std::mutex> lock(self.mutex);
                if (self.seen.size() >= 2) return 0;
            }
            return 1;
        }
    } loop;
    CHECK(parallel_for(2, TwoThreads::task, &loop) == 0);
    CHECK(loop.seen.size() == 2);
}

TEST_CASE("a loop inside an iteration runs on that iteration's thread", "[pool]") {
    DefaultThreadsAfter restore;
    set_pool_threads(2);
    struct Nested {
        std::atomic<int> inner_runs{0}, inner_elsewhere{0};
        std::mutex mutex;
        std::set<std::thread::id> outer_threads;
        static int inner(void *context, int) {
            auto &self = *static_cast<Nested *>(context);
            self.inner_runs++;
            return 0;
        }
        static int outer(void *context, int) {
            auto &self = *static_cast<Nested *>(context);
            // Both outer iterations wait (up to 10 s) until the other has started, so one
            // of them runs on a worker.
            {
                std::lock_guard<std::mutex> lock(self.mutex);
                self.outer_threads.insert(std::this_thread::get_id());
            }
            for (const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
                 std::chrono::steady_clock::now() < give_up;) {
                std::lock_guard<std::mutex> lock(self.mutex);
                if (self.outer_threads.size() >= 2) break;
            }
            struct Inner {
                Nested *nested;
                std::thread::id thread = std::this_thread::get_id();
                static int task(void *context, int index) {
                    auto &in = *static_cast<Inner *>(context);
                    if (std::this_thread::get_id() != in.thread) in.nested->inner_elsewhere++;
                    return Nested::inner(in.nested, index);
                }
            } loop{&self};
            return parallel_for(10, Inner::task, &loop);
        }
    } loop;
    CHECK(parallel_for(2, Nested::outer, &loop) == 0);
    CHECK(loop.outer_threads.size() == 2);
    CHECK(loop.inner_runs == 20);
    CHECK(loop.inner_elsewhere == 0);
}

TEST_CASE("loops started from several threads at once all complete", "[pool]") {
    DefaultThreadsAfter restore;
    set_pool_threads(2);
    std::vector<std::thread> callers;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; t++) {
        callers.emplace_back([&wrong] {
            for (int repeat = 0; repeat < 200; repeat++) {
                Counting loop(37);
                if (parallel_for(37, Counting::task, &loop) != 0) wrong++;
                for (auto &runs : loop.runs)
                    if (runs != 1) wrong++;
            }
        });
    }
    for (auto &caller : callers) caller.join();
    CHECK(wrong == 0);
}
