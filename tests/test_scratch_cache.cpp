// Tests for the scratch memory the kernels allocate from (runtime/src/scratch_cache.h):
// alignment, the readable slack past each block, reuse, and the tests' poisoning.

#include "scratch_cache.h"
#include "scratch_poison.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>

namespace {

using convgen::detail::kSlack;
using convgen::detail::scratch_free;
using convgen::detail::scratch_fresh_blocks;
using convgen::detail::scratch_malloc;

}  // namespace

TEST_CASE("scratch blocks are aligned, writable past their end by the slack, and poisoned when asked",
          "[scratch]") {
    for (size_t size : {size_t(0), size_t(1), size_t(127), size_t(128), size_t(5000), size_t(1) << 20}) {
        CAPTURE(size);
        auto *block = static_cast<unsigned char *>(scratch_malloc(size));
        REQUIRE(block != nullptr);
        CHECK(reinterpret_cast<uintptr_t>(block) % 128 == 0);
        if (convgen::detail::scratch_poisoned()) {
            // Every float of the block and its slack reads NaN (the tests run poisoned).
            bool all_nan = true;
            for (size_t at = 0; at + sizeof(float) <= size + kSlack; at += sizeof(float)) {
                float value;
                std::memcpy(&value, block + at, sizeof value);
                all_nan = all_nan && std::isnan(value);
            }
            CHECK(all_nan);
        }
        std::memset(block, 0x5a, size + kSlack);  // (out of bounds would trip the sanitizers)
        scratch_free(block);
    }
    scratch_free(nullptr);  // nothing to give back
}

TEST_CASE("a freed scratch block is handed to the next request of about its size", "[scratch]") {
    void *first = scratch_malloc(10000);
    REQUIRE(first != nullptr);
    scratch_free(first);
    const size_t fresh = scratch_fresh_blocks();
    void *again = scratch_malloc(9000);  // within twice the size: the same block
    CHECK(again == first);
    void *other = scratch_malloc(10000);  // the first is taken: a new one
    CHECK(other != first);
    CHECK(scratch_fresh_blocks() == fresh + 1);
    scratch_free(other);
    scratch_free(again);

    // A block freed on another thread comes back through the shared cache.
    void *elsewhere = nullptr;
    std::thread([&] {
        elsewhere = scratch_malloc(300000);
        scratch_free(elsewhere);
    }).join();
    const size_t before = scratch_fresh_blocks();
    void *here = scratch_malloc(300000);
    CHECK(here == elsewhere);
    CHECK(scratch_fresh_blocks() == before);
    scratch_free(here);
}
