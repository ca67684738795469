// Tests for the benchmarks' timing (tools/measure.h): the order in which side-by-side
// runs take their turns, and medians taken over the timed calls.

#include "measure.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

TEST_CASE("interleaved_median_ms gives every run a turn in each round, after `between`", "[unit]") {
    std::string calls;
    const std::vector<double> ms = convgen::measure::interleaved_median_ms(
        {[&] { calls += 'a'; }, [&] { calls += 'b'; }}, /*min_seconds=*/0.0, /*rounds=*/3, [&] { calls += '|'; });
    // Each turn: one untimed call that warms the caches, then at least three timed ones
    // (a zero time budget leaves exactly three).
    CHECK(calls == "|aaaa|bbbb|aaaa|bbbb|aaaa|bbbb");
    REQUIRE(ms.size() == 2);
    CHECK(ms[0] >= 0.0);
    CHECK(ms[1] >= 0.0);
}

TEST_CASE("interleaved_median_ms reports each run's own calls", "[unit]") {
    // A run that sleeps 3 ms next to one that returns at once: the sleeper's median is at
    // least its sleep (a lower bound the clock guarantees, not a timing of convgen's code),
    // and a run's median is not mixed with the other's calls.
    const std::vector<double> ms = convgen::measure::interleaved_median_ms(
        {[] {}, [] { std::this_thread::sleep_for(std::chrono::milliseconds(3)); }}, 0.02, 2);
    REQUIRE(ms.size() == 2);
    CHECK(ms[1] >= 3.0);
    CHECK(ms[0] < ms[1]);
}
