// convgen fuzzing: what the libFuzzer harnesses in this directory share.
//
// fuzz_require() turns a broken property into a crash libFuzzer records, and FuzzInput
// decodes the fuzzer's bytes into bounded values. Built by scripts/fuzz.sh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace convgen::fuzz {

/// Aborts with `what` when a property the harness checks does not hold: libFuzzer then
/// saves the input as a crash artifact.
inline void fuzz_require(bool ok, const std::string &what) {
    if (!ok) {
        std::fprintf(stderr, "convgen fuzz: property violated: %s\n", what.c_str());
        std::abort();
    }
}

/// Reads values from the fuzzer's bytes, front to back. Past the end every read returns
/// zero, so any input decodes to something, and the harnesses arrange their choices so
/// that zero means the plain, valid case: short inputs explore the common paths and
/// the fuzzer spends bytes on the odd ones.
class FuzzInput {
public:
    FuzzInput(const uint8_t *data, size_t size) : data_(data), size_(size) {}

    uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

    /// True one time in `n` (on the byte's value), false when the bytes have run out.
    bool one_in(unsigned n) { return byte() % n == n - 1; }

    /// An index below `count` (count > 0).
    size_t index(size_t count) { return byte() % count; }

    /// An integer in [lo, hi], read from one byte (callers keep ranges small).
    int64_t small(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(byte() % (hi - lo + 1)); }

    /// The next `count` bytes (fewer if the input ends first), as text.
    std::string_view text(size_t count) {
        const size_t n = count < size_ - pos_ ? count : size_ - pos_;
        const std::string_view out(reinterpret_cast<const char *>(data_ + pos_), n);
        pos_ += n;
        return out;
    }

private:
    const uint8_t *data_;
    size_t size_;
    size_t pos_ = 0;
};

}  // namespace convgen::fuzz
