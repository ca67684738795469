// convgen: reading and writing float32 NumPy .npy files.
//
// Format reference: numpy/lib/format.py. A file is
//   "\x93NUMPY" major minor  header-length (u16 LE for 1.0, u32 LE for 2.0/3.0)
//   header: a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...), }
//           padded with spaces and ended by '\n'
//   the raw array bytes.
// The reader treats every byte as untrusted: all lengths are checked against the
// file size before anything is allocated or read, and all arithmetic on sizes is
// overflow-checked, so malformed input yields an IoError and nothing worse.

#include "npy.h"

#include "convgen/error.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>

// Array bytes are copied straight between the file and float/double buffers,
// which is only correct where the host's byte order is the file's ('<').
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "convgen's .npy reader and writer assume a little-endian host"
#endif

namespace convgen::npy {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// NumPy's own limits (numpy.lib.format): data starts on a 64-byte boundary, and
// the header leaves room for the first axis to grow to 21 digits in place.
constexpr size_t kArrayAlign = 64;
constexpr size_t kGrowthAxisMaxDigits = 21;
// NumPy 1.x allows 32 dimensions and NumPy 2.x 64; more can only be garbage.
constexpr size_t kMaxDims = 64;
constexpr uint64_t kMaxElements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

[[noreturn]] void fail(const std::string &path, const std::string &what) {
    throw Error(ErrorCode::IoError, path + ": " + what);
}

// Renders bytes taken from a file for a message: printable ASCII as is and
// anything else as \xNN, so binary garbage cannot garble the user's terminal.
std::string printable(const char *bytes, size_t size, size_t limit = 80) {
    std::string out;
    for (size_t i = 0; i < size && i < limit; ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    if (size > limit) out += "...";
    return out;
}

std::string printable(const std::string &s, size_t limit = 80) {
    return printable(s.data(), s.size(), limit);
}

// Python's repr of a shape tuple: "()", "(3,)", "(1, 2, 3)". The writer must
// produce exactly this text, and messages use it so users see familiar shapes.
std::string formatShape(const std::vector<int64_t> &shape) {
    std::string out = "(";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) out += ", ";
        out += std::to_string(shape[i]);
    }
    if (shape.size() == 1) out += ",";
    out += ")";
    return out;
}

// Product of the dimensions, or false when it exceeds int64 (the type callers
// index with). A zero dimension makes the product 0 whatever the others are, so
// the answer does not depend on where the zero appears.
bool elementCount(const std::vector<int64_t> &shape, uint64_t &count) {
    if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
        count = 0;
        return true;
    }
    count = 1;
    for (int64_t dim : shape) {
        const auto d = static_cast<uint64_t>(dim);  // callers reject negatives first
        if (count > kMaxElements / d) return false;
        count *= d;
    }
    return true;
}

// ---------------------------------------------------------------------------
// Header dict parser: the tiny subset of Python literals NumPy writes (strings,
// True/False, tuples of integers), tolerant of whitespace, key order, quote
// style and trailing commas, like the ast.literal_eval NumPy reads it with.

struct HeaderValue {
    enum class Kind { String, Bool, Tuple };
    Kind kind = Kind::String;
    std::string text;            // Kind::String
    bool flag = false;           // Kind::Bool
    std::vector<int64_t> dims;   // Kind::Tuple
};

const char *kindName(HeaderValue::Kind kind) {
    switch (kind) {
    case HeaderValue::Kind::String: return "a string";
    case HeaderValue::Kind::Bool: return "a boolean";
    case HeaderValue::Kind::Tuple: return "a tuple";
    }
    return "a value";
}

class HeaderParser {
public:
    HeaderParser(const std::string &path, const std::string &text) : path_(path), text_(text) {}

    std::map<std::string, HeaderValue> parseDict() {
        skipSpace();
        if (!peekIs('{')) failHere("expected '{' to start the header dict");
        ++pos_;
        std::map<std::string, HeaderValue> dict;
        skipSpace();
        while (!peekIs('}')) {
            const size_t keyAt = pos_;
            const std::string key = parseString("a quoted key");
            skipSpace();
            if (!peekIs(':')) failHere("expected ':' after key '" + printable(key) + "'");
            ++pos_;
            skipSpace();
            HeaderValue value = parseValue(key);
            if (!dict.emplace(key, std::move(value)).second) {
                failAt(keyAt, "duplicate key '" + printable(key) + "'");
            }
            skipSpace();
            if (peekIs(',')) {
                ++pos_;
                skipSpace();
            } else if (!peekIs('}')) {
                failHere("expected ',' or '}' after the value of '" + printable(key) + "'");
            }
        }
        ++pos_;  // the closing '}'
        skipSpace();
        if (pos_ != text_.size()) failHere("unexpected text after the closing '}'");
        return dict;
    }

private:
    [[noreturn]] void failAt(size_t at, const std::string &what) const {
        const std::string found = at < text_.size() ? "'" + printable(&text_[at], 1) + "'" : "end of header";
        // Show the header without its padding, which is only noise.
        size_t shown = text_.size();
        while (shown > 0 && (text_[shown - 1] == ' ' || text_[shown - 1] == '\n')) --shown;
        fail(path_, "malformed header: " + what + " (found " + found + " at offset " + std::to_string(at) +
                        " of \"" + printable(text_.data(), shown, 200) + "\")");
    }
    [[noreturn]] void failHere(const std::string &what) const { failAt(pos_, what); }

    bool peekIs(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
    bool peekDigit() const { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; }

    void skipSpace() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    std::string parseString(const char *what) {
        if (!peekIs('\'') && !peekIs('"')) failHere(std::string("expected ") + what);
        const char quote = text_[pos_];
        const size_t start = ++pos_;
        while (pos_ < text_.size() && text_[pos_] != quote) {
            // NumPy never writes escapes or multi-line strings in these fields;
            // refusing them keeps the parser small.
            if (text_[pos_] == '\\') failHere("escape sequences in strings are not supported");
            if (text_[pos_] == '\n') failHere("unterminated string");
            ++pos_;
        }
        if (pos_ >= text_.size()) failHere("unterminated string");
        std::string s = text_.substr(start, pos_ - start);
        ++pos_;  // the closing quote
        return s;
    }

    HeaderValue parseValue(const std::string &key) {
        HeaderValue value;
        if (peekIs('\'') || peekIs('"')) {
            value.kind = HeaderValue::Kind::String;
            value.text = parseString("a string");
        } else if (peekIs('(')) {
            value.kind = HeaderValue::Kind::Tuple;
            value.dims = parseTuple();
        } else {
            const size_t start = pos_;
            while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                           text_[pos_] == '_')) {
                ++pos_;
            }
            const std::string word = text_.substr(start, pos_ - start);
            if (word == "True" || word == "False") {
                value.kind = HeaderValue::Kind::Bool;
                value.flag = word == "True";
            } else {
                failAt(start, "expected a string, True, False or a tuple as the value of '" +
                                  printable(key) + "'");
            }
        }
        return value;
    }

    std::vector<int64_t> parseTuple() {
        const size_t start = pos_;
        ++pos_;  // '('
        skipSpace();
        std::vector<int64_t> dims;
        bool trailingComma = false;
        while (!peekIs(')')) {
            if (dims.size() == kMaxDims) {
                fail(path_, "shape has more than " + std::to_string(kMaxDims) +
                                " dimensions, which no NumPy array can have");
            }
            dims.push_back(parseInt());
            skipSpace();
            if (peekIs(',')) {
                ++pos_;
                skipSpace();
                trailingComma = true;
            } else if (peekIs(')')) {
                trailingComma = false;
            } else {
                failHere("expected ',' or ')' in a tuple");
            }
        }
        ++pos_;  // ')'
        // In Python "(3)" is the integer 3, which NumPy rejects as a shape.
        if (dims.size() == 1 && !trailingComma) {
            failAt(start, "'(N)' is not a tuple; a one-dimensional shape is written '(N,)'");
        }
        return dims;
    }

    // A possibly negative decimal integer; negatives are returned so the caller
    // can name the whole offending shape.
    int64_t parseInt() {
        const bool negative = peekIs('-');
        if (negative) ++pos_;
        if (!peekDigit()) failHere("expected an integer");
        const size_t start = pos_;
        uint64_t value = 0;
        bool tooLarge = false;
        while (peekDigit()) {
            const auto digit = static_cast<uint64_t>(text_[pos_] - '0');
            if (value > (kMaxElements - digit) / 10) tooLarge = true;
            else value = value * 10 + digit;
            ++pos_;
        }
        if (tooLarge) {
            fail(path_, "shape dimension " + std::string(negative ? "-" : "") +
                            printable(text_.substr(start, pos_ - start), 40) + " is absurdly large");
        }
        if (peekIs('L')) ++pos_;  // Python 2 long suffix, which NumPy still accepts
        return negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
    }

    const std::string &path_;
    const std::string &text_;
    size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Reading

// Where load() and parse() get their bytes: the file, read as it is parsed (so a
// float32 array is never held twice), or a buffer in memory. The parser is the same
// code for both, which is what lets a fuzzer exercise the real reader through parse().
class ByteSource {
public:
    virtual ~ByteSource() = default;
    // Copies up to `size` bytes to `dst`; returns how many arrived.
    virtual size_t read(char *dst, size_t size) = 0;
};

class FileSource final : public ByteSource {
public:
    explicit FileSource(std::ifstream &in) : in_(in) {}
    size_t read(char *dst, size_t size) override {
        in_.read(dst, static_cast<std::streamsize>(size));
        return static_cast<size_t>(in_.gcount());
    }

private:
    std::ifstream &in_;
};

class MemorySource final : public ByteSource {
public:
    MemorySource(const char *bytes, size_t size) : bytes_(bytes), size_(size) {}
    size_t read(char *dst, size_t size) override {
        const size_t n = std::min(size, size_ - pos_);
        if (n > 0) std::memcpy(dst, bytes_ + pos_, n);
        pos_ += n;
        return n;
    }

private:
    const char *bytes_;
    size_t size_;
    size_t pos_ = 0;
};

void readExact(ByteSource &in, const std::string &path, char *dst, size_t size) {
    if (in.read(dst, size) != size) fail(path, "read error (was the file changed while reading?)");
}

uint64_t littleEndian(const unsigned char *bytes, size_t size) {
    uint64_t v = 0;
    for (size_t i = size; i-- > 0;) v = (v << 8) | bytes[i];
    return v;
}

// double -> float as NumPy's astype does it (out-of-range values become +-inf),
// written out because a plain cast of an out-of-range double is undefined.
float toFloat(double x) {
    // FLT_MAX plus half an ulp: from here on round-to-nearest gives infinity.
    constexpr double kRoundsToInfinity = static_cast<double>(FLT_MAX) + 0x1p103;
    if (std::isfinite(x) && std::fabs(x) > static_cast<double>(FLT_MAX)) {
        const float magnitude =
            std::fabs(x) >= kRoundsToInfinity ? std::numeric_limits<float>::infinity() : FLT_MAX;
        return x < 0 ? -magnitude : magnitude;
    }
    return static_cast<float>(x);
}

// Parses a whole .npy file of `fileSize` bytes from `in`; `path` names it in messages.
Array decode(ByteSource &in, uint64_t fileSize, const std::string &path) {
    // Magic, version and header length: at most 6 + 2 + 4 bytes.
    unsigned char prefix[12] = {};
    const size_t got = in.read(reinterpret_cast<char *>(prefix), kMagicLen);
    if (got < kMagicLen || std::memcmp(prefix, kMagic, kMagicLen) != 0) {
        fail(path, "not an .npy file (expected it to start with \"\\x93NUMPY\", found \"" +
                       printable(reinterpret_cast<char *>(prefix), got) + "\"" +
                       (got < kMagicLen ? ", " + std::to_string(got) + " bytes in all)" : ")"));
    }
    if (in.read(reinterpret_cast<char *>(prefix) + 6, 2) != 2) {
        fail(path, "truncated header: the file ends inside the format version");
    }
    const int major = prefix[6], minor = prefix[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        fail(path, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                       " (convgen reads 1.0, 2.0 and 3.0)");
    }
    const size_t lengthSize = major == 1 ? 2 : 4;
    if (in.read(reinterpret_cast<char *>(prefix) + 8, lengthSize) != lengthSize) {
        fail(path, "truncated header: the file ends inside the header length");
    }
    const uint64_t headerLength = littleEndian(prefix + 8, lengthSize);
    const uint64_t prefixLength = 8 + lengthSize;
    // Checked before allocating, so a forged length cannot make us allocate
    // more than the file holds.
    if (headerLength > fileSize - prefixLength) {
        fail(path, "truncated header: it claims " + std::to_string(headerLength) + " bytes but only " +
                       std::to_string(fileSize - prefixLength) + " follow");
    }
    std::string header(static_cast<size_t>(headerLength), '\0');
    readExact(in, path, header.data(), header.size());

    const std::map<std::string, HeaderValue> dict = HeaderParser(path, header).parseDict();
    for (const auto &entry : dict) {
        if (entry.first != "descr" && entry.first != "fortran_order" && entry.first != "shape") {
            fail(path, "malformed header: unexpected key '" + printable(entry.first) +
                           "' (expected 'descr', 'fortran_order' and 'shape')");
        }
    }
    auto field = [&](const char *key, HeaderValue::Kind kind) -> const HeaderValue & {
        const auto it = dict.find(key);
        if (it == dict.end()) fail(path, std::string("malformed header: no '") + key + "' key");
        if (it->second.kind != kind) {
            fail(path, std::string("malformed header: '") + key + "' should be " + kindName(kind) +
                           ", found " + kindName(it->second.kind));
        }
        return it->second;
    };
    const std::string &descr = field("descr", HeaderValue::Kind::String).text;
    const bool fortranOrder = field("fortran_order", HeaderValue::Kind::Bool).flag;
    const std::vector<int64_t> &shape = field("shape", HeaderValue::Kind::Tuple).dims;

    size_t itemSize = 0;
    if (descr == "<f4") {
        itemSize = 4;
    } else if (descr == "<f8") {
        itemSize = 8;
    } else if (descr == ">f4" || descr == ">f8") {
        fail(path, "dtype '" + descr + "' is big-endian; convgen needs little-endian float32 ('<f4') or " +
                       "float64 ('<f8'); convert with arr.astype('<f4')");
    } else {
        fail(path, "dtype '" + printable(descr) +
                       "' is not supported; convgen needs float32 ('<f4') or float64 ('<f8')");
    }
    // With at most one dimension C and Fortran order are the same bytes, so
    // only a multi-dimensional Fortran-order array needs converting.
    if (fortranOrder && shape.size() > 1) {
        fail(path, "array of shape " + formatShape(shape) +
                       " is stored in Fortran order; convgen needs C order; convert with np.ascontiguousarray");
    }
    for (int64_t dim : shape) {
        if (dim < 0) fail(path, "shape " + formatShape(shape) + " has a negative dimension");
    }
    uint64_t count = 0;
    if (!elementCount(shape, count) || count > kMaxElements / itemSize) {
        fail(path, "shape " + formatShape(shape) + " has too many elements (its size overflows 64 bits)");
    }

    const uint64_t expectedBytes = count * itemSize;
    const uint64_t dataBytes = fileSize - prefixLength - headerLength;
    if (dataBytes != expectedBytes) {
        fail(path, "expected " + std::to_string(expectedBytes) + " bytes of data for shape " + formatShape(shape) +
                       ", found " + std::to_string(dataBytes) +
                       (dataBytes > expectedBytes ? " (extra data after the array)" : ""));
    }

    // count <= file size / itemSize here, so the allocation is bounded by the
    // file actually on disk.
    Array array;
    array.shape = shape;
    array.data.resize(static_cast<size_t>(count));
    if (itemSize == 4) {
        readExact(in, path, reinterpret_cast<char *>(array.data.data()), static_cast<size_t>(expectedBytes));
    } else {
        // Convert in chunks rather than holding the whole float64 array too.
        std::vector<double> chunk(static_cast<size_t>(std::min<uint64_t>(count, 1 << 16)));
        for (size_t done = 0; done < array.data.size();) {
            const size_t n = std::min(chunk.size(), array.data.size() - done);
            readExact(in, path, reinterpret_cast<char *>(chunk.data()), n * sizeof(double));
            std::transform(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n),
                           array.data.begin() + static_cast<std::ptrdiff_t>(done), toFloat);
            done += n;
        }
    }
    return array;
}

}  // namespace

Array load(const std::string &path) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (status.type() == fs::file_type::not_found) fail(path, "cannot open: no such file");
    if (ec) fail(path, "cannot open: " + ec.message());
    if (fs::is_directory(status)) fail(path, "cannot open: it is a directory, not an .npy file");
    if (!fs::is_regular_file(status)) fail(path, "cannot open: not a regular file");

    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff endPos = in.tellg();
    in.seekg(0, std::ios::beg);
    if (endPos < 0 || !in) fail(path, "cannot determine the file size");
    FileSource source(in);
    return decode(source, static_cast<uint64_t>(endPos), path);
}

Array parse(const void *bytes, size_t size, const std::string &name) {
    if (bytes == nullptr && size > 0) fail(name, "no data given");
    MemorySource source(static_cast<const char *>(bytes), size);
    return decode(source, size, name);
}

// ---------------------------------------------------------------------------
// Writing

namespace {

void appendLittleEndian(std::string &out, uint64_t value, size_t size) {
    for (size_t i = 0; i < size; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

// The magic, version, header length and padded header numpy.save writes for a
// C-order '<f4' array (numpy.lib.format._write_array_header, NumPy >= 1.24).
std::string headerBytes(const std::string &path, const std::vector<int64_t> &shape) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + formatShape(shape) + ", }";
    if (!shape.empty()) {
        const size_t digits = std::to_string(shape[0]).size();
        if (digits < kGrowthAxisMaxDigits) dict.append(kGrowthAxisMaxDigits - digits, ' ');
    }
    // NumPy picks the oldest version whose length field fits; the padding
    // (always 1..64 spaces, then '\n') makes magic + length + header a
    // multiple of 64 bytes.
    const uint64_t withNewline = dict.size() + 1;
    int major = 1;
    size_t lengthSize = 2;
    uint64_t padding = kArrayAlign - (kMagicLen + 2 + lengthSize + withNewline) % kArrayAlign;
    if (withNewline + padding > 0xffff) {
        major = 2;
        lengthSize = 4;
        padding = kArrayAlign - (kMagicLen + 2 + lengthSize + withNewline) % kArrayAlign;
        if (withNewline + padding > 0xffffffffu) fail(path, "cannot save: the header would be too large");
    }
    std::string out(kMagic, kMagicLen);
    out += static_cast<char>(major);
    out += '\0';
    appendLittleEndian(out, withNewline + padding, lengthSize);
    out += dict;
    out.append(static_cast<size_t>(padding), ' ');
    out += '\n';
    return out;
}

// A name for the temporary file that no concurrent writer will pick: a random
// tag from a per-process generator plus a counter.
std::string uniqueTag() {
    static std::atomic<uint64_t> counter{0};
    static const uint64_t seed = [] {
        std::random_device rd;
        return (static_cast<uint64_t>(rd()) << 32) ^ rd();
    }();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx-%llu", static_cast<unsigned long long>(seed),
                  static_cast<unsigned long long>(counter.fetch_add(1)));
    return buf;
}

// Removes the temporary file unless it was renamed into place.
struct TempFile {
    fs::path path;
    bool committed = false;
    ~TempFile() {
        if (!committed && !path.empty()) {
            std::error_code ec;
            fs::remove(path, ec);
        }
    }
};

}  // namespace

void save(const std::string &path, const std::vector<int64_t> &shape, const float *data) {
    for (int64_t dim : shape) {
        if (dim < 0) fail(path, "cannot save shape " + formatShape(shape) + ": it has a negative dimension");
    }
    uint64_t count = 0;
    if (!elementCount(shape, count) || count > kMaxElements / sizeof(float)) {
        fail(path, "cannot save shape " + formatShape(shape) + ": too many elements");
    }
    if (count > 0 && data == nullptr) fail(path, "cannot save: no data given");
    const std::string header = headerBytes(path, shape);

    const fs::path target(path);
    if (target.filename().empty()) fail(path, "cannot write: the path names no file");
    const fs::path dir = target.parent_path();
    std::error_code ec;
    // Checked up front for a clearer message than the temporary file's failure.
    if (!dir.empty() && !fs::is_directory(dir, ec)) {
        fail(path, "cannot write: directory '" + dir.string() + "' does not exist");
    }
    if (fs::is_directory(target, ec)) fail(path, "cannot write: it is a directory");

    // The temporary file lives beside the target so that the rename stays on
    // one file system and is atomic; "x" (exclusive create) guarantees we never
    // write into someone else's file.
    TempFile temp;
    std::FILE *file = nullptr;
    for (int attempt = 0; attempt < 16 && file == nullptr; ++attempt) {
        temp.path = dir / ("." + target.filename().string() + ".tmp-" + uniqueTag());
        file = std::fopen(temp.path.c_str(), "wbx");
        if (file == nullptr && errno != EEXIST) {
            const std::string reason = std::strerror(errno);
            temp.path.clear();  // nothing was created
            fail(path, "cannot write: " + reason);
        }
    }
    if (file == nullptr) {
        temp.path.clear();
        fail(path, "cannot write: could not create a unique temporary file");
    }

    bool ok = std::fwrite(header.data(), 1, header.size(), file) == header.size();
    if (ok && count > 0) ok = std::fwrite(data, sizeof(float), static_cast<size_t>(count), file) == count;
    ok = ok && std::fflush(file) == 0;
    const int writeErrno = errno;
    // fclose can report a deferred write error, so its result counts too.
    const bool closed = std::fclose(file) == 0;
    if (!ok || !closed) {
        fail(path, std::string("cannot write: ") + std::strerror(ok ? errno : writeErrno));
    }

    fs::rename(temp.path, target, ec);
    if (ec) fail(path, "cannot write: " + ec.message());
    temp.committed = true;
}

}  // namespace convgen::npy
