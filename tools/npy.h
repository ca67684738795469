// convgen: reading and writing float32 NumPy .npy files.
//
// `convgen run` exchanges tensors with PyTorch/NumPy as .npy files, so this is
// the boundary where untrusted bytes enter the program: load() validates every
// field of the file and reports what it found against what it expected, and
// never reads outside the buffers it allocated, whatever the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace convgen::npy {

/// A dense float32 array in C (row-major) order.
/// A 0-d array has an empty shape and one element.
struct Array {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

/// Reads an .npy file (format version 1.0, 2.0 or 3.0) holding little-endian
/// float32 ('<f4') or float64 ('<f8', converted to float32) data in C order.
/// Throws convgen::Error(ErrorCode::IoError, ...) for a missing, unreadable or
/// malformed file, or one with another dtype or layout.
Array load(const std::string &path);

/// Parses the `size` bytes of an .npy file held in memory, with the same checks,
/// results and messages as load() (the same code reads both); `name` starts every
/// message in place of a path. Throws convgen::Error(ErrorCode::IoError, ...).
Array parse(const void *bytes, size_t size, const std::string &name);

/// Writes `data` (the product of `shape` floats, C order) as an .npy file with
/// exactly the bytes numpy.save would write for a '<f4' array of that shape.
/// The file appears atomically: it is written to a temporary file in the same
/// directory and renamed, so a failure never leaves a partial file at `path`.
/// Throws convgen::Error(ErrorCode::IoError, ...) on failure.
void save(const std::string &path, const std::vector<int64_t> &shape, const float *data);

}  // namespace convgen::npy
