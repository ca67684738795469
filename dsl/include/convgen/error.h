// convgen: the one error type every part of the project throws.
//
// Messages name what is wrong, the value found and the rule or the value expected,
// e.g. "Conv2d: in_channels (6) must be divisible by groups (4)".
#pragma once

#include <stdexcept>
#include <string>

namespace convgen {

enum class ErrorCode {
    InvalidSpec,    // a layer PyTorch would refuse to construct
    ParseError,     // a spec string that is not a Conv1d/Conv2d description
    ShapeMismatch,  // a tensor that does not fit the layer
    IoError,        // a file that cannot be read or written, or is malformed
    RuntimeError,   // the generated kernel or its runtime failed
    NotFound,       // no linked kernel of that name
};

/// Name of a code, for messages and tests ("InvalidSpec", ...).
const char *to_string(ErrorCode code) noexcept;

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string &message)
        : std::runtime_error(message), code_(code) {}
    ErrorCode code() const noexcept { return code_; }

private:
    ErrorCode code_;
};

}  // namespace convgen
