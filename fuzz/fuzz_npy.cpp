// libFuzzer harness: the .npy reader (tools/npy.h), through npy::parse, the code
// npy::load runs on a file's bytes.
//
// Any bytes must give a valid Array or a convgen::Error(IoError); any other exception
// escapes and libFuzzer reports it. For an Array that loads, the data must hold one
// float per element of the shape, and be the file's last bytes: copied as they are
// ('<f4'), or converted from the float64 values there ('<f8').
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "convgen/error.h"
#include "fuzz_support.h"
#include "npy.h"

using convgen::fuzz::fuzz_require;

namespace {

// Whether `f` is what converting `d` to float32 gives, as NumPy's astype does: the
// nearest float, an infinity or FLT_MAX of the same sign past float's range, NaN for NaN.
bool converted_from(float f, double d) {
    if (std::isnan(d)) return std::isnan(f);
    if (std::fabs(d) > FLT_MAX) return std::signbit(f) == std::signbit(d) && (std::isinf(f) || std::fabs(f) == FLT_MAX);
    return f == static_cast<float>(d);
}

// The data is the tail of the file: float32 as is, or float64 converted.
bool data_matches_tail(const convgen::npy::Array &array, const uint8_t *bytes, size_t size) {
    const size_t count = array.data.size();
    if (count == 0) return true;
    if (count * sizeof(float) <= size &&
        std::memcmp(array.data.data(), bytes + size - count * sizeof(float), count * sizeof(float)) == 0) {
        return true;
    }
    if (count * sizeof(double) > size) return false;
    const uint8_t *tail = bytes + size - count * sizeof(double);
    for (size_t i = 0; i < count; ++i) {
        double d;
        std::memcpy(&d, tail + i * sizeof(double), sizeof d);
        if (!converted_from(array.data[i], d)) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    convgen::npy::Array array;
    try {
        array = convgen::npy::parse(data, size, "fuzz.npy");
    } catch (const convgen::Error &e) {
        fuzz_require(e.code() == convgen::ErrorCode::IoError,
                     std::string("npy::parse threw an error of code ") + convgen::to_string(e.code()) + ": " +
                         e.what());
        return 0;
    }
    // The element count, with a zero dimension making it 0 whatever the others are: a
    // shape like (0, 2**62, 2**62) loads (with no data) and its product must not wrap.
    uint64_t count = 1;
    bool overflow = false;
    for (int64_t dim : array.shape) {
        fuzz_require(dim >= 0, "npy::parse returned a negative dimension");
        overflow |= __builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count);
    }
    fuzz_require(count == 0 || !overflow, "npy::parse returned a shape whose element count overflows");
    fuzz_require(array.shape.size() <= 64, "npy::parse returned more than 64 dimensions");
    fuzz_require(array.data.size() == count, "npy::parse returned " + std::to_string(array.data.size()) +
                                                 " values for a shape of " + std::to_string(count) + " elements");
    fuzz_require(data_matches_tail(array, data, size), "npy::parse returned data that is not the file's last bytes");
    return 0;
}
