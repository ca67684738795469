// Tests for the .npy reader and writer (tools/npy.h).
//
// Expected files are built byte by byte here, independently of npy::save, from
// the layout in numpy/lib/format.py; the save tests compare against the exact
// bytes NumPy 1.24 writes (checked once against numpy.save while developing),
// so none of this needs Python at test time.

#include "npy.h"

#include "convgen/error.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using convgen::Error;
using convgen::ErrorCode;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

// A fresh directory under the system temp directory, removed with its contents.
class TempDir {
public:
    TempDir() {
        std::random_device rd;
        for (int attempt = 0; attempt < 100; ++attempt) {
            const fs::path candidate =
                fs::temp_directory_path() / ("convgen_test_npy_" + std::to_string(rd()) + std::to_string(rd()));
            if (fs::create_directory(candidate)) {
                path_ = candidate;
                return;
            }
        }
        throw std::runtime_error("cannot create a temporary directory");
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    std::string file(const std::string &name) const { return (path_ / name).string(); }
    const fs::path &path() const { return path_; }

private:
    fs::path path_;
};

void writeBytes(const std::string &path, const std::string &bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::string readBytes(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string littleEndian(uint64_t value, size_t size) {
    std::string out;
    for (size_t i = 0; i < size; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
    return out;
}

std::string f32(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return littleEndian(bits, 4);
}

std::string f64(double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return littleEndian(bits, 8);
}

std::string f32s(std::initializer_list<float> values) {
    std::string out;
    for (float v : values) out += f32(v);
    return out;
}

// An .npy file of the given version whose header is `dict`, padded with spaces
// and a newline to a 64-byte boundary as NumPy does, followed by `data`.
std::string npyFile(int major, const std::string &dict, const std::string &data) {
    const size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    out += littleEndian(header.size(), major == 1 ? 2 : 4);
    return out + header + data;
}

std::string dictFor(const std::string &descr, const std::string &shape, const std::string &fortran = "False") {
    return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

// The IoError message load() throws for `path`; fails the test if it does not throw.
std::string loadError(const std::string &path) {
    try {
        convgen::npy::load(path);
    } catch (const Error &e) {
        CHECK(e.code() == ErrorCode::IoError);
        return e.what();
    }
    FAIL("load(" << path << ") did not throw");
    return {};
}

std::string loadErrorFor(const TempDir &dir, const std::string &bytes) {
    const std::string path = dir.file("bad.npy");
    writeBytes(path, bytes);
    return loadError(path);
}

// The exact bytes numpy.save (1.24) writes before the data of a C-order '<f4'
// array: magic, version 1.0, header length 118, the dict, then spaces (21 -
// len(str(shape[0])) of room for the first axis to grow, plus padding) and a
// '\n', making 128 bytes in all. The space counts are spelled out, not computed.
std::string numpyPrefix(const std::string &dict, size_t spaces) {
    return std::string("\x93NUMPY\x01\x00\x76\x00", 10) + dict + std::string(spaces, ' ') + "\n";
}

}  // namespace

// ---------------------------------------------------------------------------
// load: valid files

TEST_CASE("npy::load reads a version 1.0 float32 file as NumPy writes it", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("x.npy");
    writeBytes(path, numpyPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 58) +
                         f32s({0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f}));
    const convgen::npy::Array a = convgen::npy::load(path);
    CHECK(a.shape == std::vector<int64_t>{2, 3});
    CHECK(a.data == std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f});
}

TEST_CASE("npy::load reads version 2.0 and 3.0 files", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("x.npy");
    const int major = GENERATE(2, 3);
    writeBytes(path, npyFile(major, dictFor("<f4", "(1, 3, 2)"), f32s({1, 2, 3, 4, 5, -6.5f})));
    const convgen::npy::Array a = convgen::npy::load(path);
    CHECK(a.shape == std::vector<int64_t>{1, 3, 2});
    CHECK(a.data == std::vector<float>{1, 2, 3, 4, 5, -6.5f});
}

TEST_CASE("npy::load converts float64 to float32", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("x.npy");
    writeBytes(path, npyFile(1, dictFor("<f8", "(6,)"),
                             f64(1.5) + f64(-2.25) + f64(0.1) + f64(1e300) + f64(-1e300) + f64(3.4028235e38)));
    const convgen::npy::Array a = convgen::npy::load(path);
    CHECK(a.shape == std::vector<int64_t>{6});
    REQUIRE(a.data.size() == 6);
    CHECK(a.data[0] == 1.5f);
    CHECK(a.data[1] == -2.25f);
    CHECK(a.data[2] == 0.1f);
    // Out-of-range values become infinities, as with NumPy's astype(np.float32).
    CHECK(a.data[3] == std::numeric_limits<float>::infinity());
    CHECK(a.data[4] == -std::numeric_limits<float>::infinity());
    CHECK(a.data[5] == std::numeric_limits<float>::max());
}

TEST_CASE("npy::load handles 0-d, 1-d and zero-size shapes", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("x.npy");

    SECTION("0-d: shape () holds one element") {
        writeBytes(path, numpyPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 62) + f32(1.5f));
        const convgen::npy::Array a = convgen::npy::load(path);
        CHECK(a.shape.empty());
        CHECK(a.data == std::vector<float>{1.5f});
    }
    SECTION("1-d: shape (3,)") {
        writeBytes(path, numpyPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 60) +
                             f32s({1, 2, 3}));
        const convgen::npy::Array a = convgen::npy::load(path);
        CHECK(a.shape == std::vector<int64_t>{3});
        CHECK(a.data == std::vector<float>{1, 2, 3});
    }
    SECTION("zero-size: shape (0, 3) loads with no data (the caller decides)") {
        writeBytes(path, npyFile(1, dictFor("<f4", "(0, 3)"), ""));
        const convgen::npy::Array a = convgen::npy::load(path);
        CHECK(a.shape == std::vector<int64_t>{0, 3});
        CHECK(a.data.empty());
    }
    SECTION("1-d Fortran order is the same bytes as C order") {
        writeBytes(path, npyFile(1, dictFor("<f4", "(2,)", "True"), f32s({7, 8})));
        CHECK(convgen::npy::load(path).data == std::vector<float>{7, 8});
    }
}

TEST_CASE("npy::load tolerates other ways to write the header dict", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("x.npy");
    const std::string dict = GENERATE(
        std::string("{'shape': (2, 2), 'fortran_order': False, 'descr': '<f4'}"),   // key order, no trailing comma
        std::string("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,2)}"),  // double quotes
        std::string("  {  'descr' :'<f4' ,\n 'fortran_order':False,'shape':( 2 , 2 , ) ,\t}  "),
        std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }"));  // Python 2 longs
    CAPTURE(dict);
    writeBytes(path, npyFile(1, dict, f32s({1, 2, 3, 4})));
    const convgen::npy::Array a = convgen::npy::load(path);
    CHECK(a.shape == std::vector<int64_t>{2, 2});
    CHECK(a.data == std::vector<float>{1, 2, 3, 4});
}

// ---------------------------------------------------------------------------
// load: errors

TEST_CASE("npy::load reports files it cannot open", "[npy]") {
    TempDir dir;
    SECTION("missing file") {
        const std::string path = dir.file("missing.npy");
        CHECK_THAT(loadError(path), Equals(path + ": cannot open: no such file"));
    }
    SECTION("a directory") {
        CHECK_THAT(loadError(dir.path().string()), Contains("is a directory"));
    }
}

TEST_CASE("npy::load rejects files that are not .npy files", "[npy]") {
    TempDir dir;
    SECTION("text") {
        const std::string message = loadErrorFor(dir, "hello, world\n");
        CHECK_THAT(message, Contains("bad.npy: not an .npy file"));
        CHECK_THAT(message, Contains("found \"hello,\""));
    }
    SECTION("empty file") {
        CHECK_THAT(loadErrorFor(dir, ""), Contains("not an .npy file"));
    }
    SECTION("shorter than the magic") {
        CHECK_THAT(loadErrorFor(dir, "\x93NUM"), Contains("not an .npy file"));
    }
    SECTION("binary garbage is escaped in the message") {
        CHECK_THAT(loadErrorFor(dir, std::string("\x00\x01\xff\x93NUMPY", 9)),
                   Contains("found \"\\x00\\x01\\xff\\x93NU\""));
    }
}

TEST_CASE("npy::load rejects truncated headers", "[npy]") {
    TempDir dir;
    SECTION("ends inside the version") {
        CHECK_THAT(loadErrorFor(dir, "\x93NUMPY\x01"), Contains("truncated header"));
    }
    SECTION("ends inside the header length") {
        CHECK_THAT(loadErrorFor(dir, std::string("\x93NUMPY\x01\x00\x76", 9)), Contains("truncated header"));
        CHECK_THAT(loadErrorFor(dir, std::string("\x93NUMPY\x02\x00\x76\x00\x00", 11)), Contains("truncated header"));
    }
    SECTION("header shorter than its length says") {
        const std::string full = npyFile(1, dictFor("<f4", "(2,)"), "");
        const std::string message = loadErrorFor(dir, full.substr(0, 50));
        CHECK_THAT(message, Contains("truncated header: it claims 118 bytes but only 40 follow"));
    }
    SECTION("a forged 4 GiB header length") {
        CHECK_THAT(loadErrorFor(dir, std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14)),
                   Contains("claims 4294967295 bytes"));
    }
}

TEST_CASE("npy::load rejects unsupported format versions", "[npy]") {
    TempDir dir;
    SECTION("4.0") {
        std::string bytes = npyFile(3, dictFor("<f4", "(1,)"), f32(1));
        bytes[6] = '\x04';
        CHECK_THAT(loadErrorFor(dir, bytes), Contains("bad.npy: unsupported .npy format version 4.0 (convgen reads "
                                                      "1.0, 2.0 and 3.0)"));
    }
    SECTION("1.1") {
        std::string bytes = npyFile(1, dictFor("<f4", "(1,)"), f32(1));
        bytes[7] = '\x01';
        CHECK_THAT(loadErrorFor(dir, bytes), Contains("unsupported .npy format version 1.1"));
    }
}

TEST_CASE("npy::load rejects malformed header dicts", "[npy]") {
    TempDir dir;
    struct Case {
        std::string dict;
        std::string expected;
    };
    const Case c = GENERATE(values<Case>({
        {"", "malformed header: expected '{'"},
        {"'descr': '<f4'", "malformed header: expected '{'"},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': (1,), }", "expected ':' after key 'descr'"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", "malformed header"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), ", "expected a quoted key (found end of header"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,), }", "expected ',' or '}'"},
        {"{'descr': '<f4', 'fortran_order': False, }", "no 'shape' key"},
        {"{'fortran_order': False, 'shape': (1,), }", "no 'descr' key"},
        {"{'descr': '<f4', 'shape': (1,), }", "no 'fortran_order' key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1, }", "expected a string, True, False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 'x', }", "unexpected key 'extra'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "duplicate key 'descr'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1), }", "'(N)' is not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", "expected a string, True, False or a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (,), }", "expected an integer"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }", "expected ',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }", "expected an integer"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,), }", "expected ',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", "expected a string, True, False"},
        {"{'descr': '<f4', 'fortran_order': 'False', 'shape': (1,), }", "'fortran_order' should be a boolean"},
        {"{'descr': True, 'fortran_order': False, 'shape': (1,), }", "'descr' should be a string"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': '(1,)', }", "'shape' should be a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", "unexpected text after the closing '}'"},
        {"{'descr': '<\\x66\\x34', 'fortran_order': False, 'shape': (1,), }", "escape sequences"},
        {std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\0", 58), "unexpected text"},
    }));
    CAPTURE(c.dict);
    const std::string message = loadErrorFor(dir, npyFile(1, c.dict, f32(1)));
    CHECK_THAT(message, Contains("bad.npy: "));
    CHECK_THAT(message, Contains(c.expected));
}

TEST_CASE("npy::load rejects dtypes other than little-endian float32/float64", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("x.npy");
    SECTION("int64") {
        writeBytes(path, npyFile(1, dictFor("<i8", "(1,)"), std::string(8, '\0')));
        CHECK_THAT(loadError(path), Equals(path + ": dtype '<i8' is not supported; convgen needs float32 ('<f4') "
                                                  "or float64 ('<f8')"));
    }
    SECTION("float16 and |f4 are not accepted either") {
        const std::string descr = GENERATE(std::string("<f2"), std::string("|f4"), std::string("f4"),
                                           std::string("float32"), std::string(""));
        writeBytes(path, npyFile(1, dictFor(descr, "(1,)"), std::string(4, '\0')));
        CHECK_THAT(loadError(path), Contains("dtype '" + descr + "' is not supported"));
    }
    SECTION("big-endian float32 and float64") {
        const std::string descr = GENERATE(std::string(">f4"), std::string(">f8"));
        writeBytes(path, npyFile(1, dictFor(descr, "(1,)"), std::string(8, '\0')));
        const std::string message = loadError(path);
        CHECK_THAT(message, Contains("dtype '" + descr + "' is big-endian"));
        CHECK_THAT(message, Contains("astype('<f4')"));
    }
}

TEST_CASE("npy::load rejects Fortran-order arrays", "[npy]") {
    TempDir dir;
    const std::string message = loadErrorFor(dir, npyFile(1, dictFor("<f4", "(2, 3)", "True"), std::string(24, '\0')));
    CHECK_THAT(message, Contains("bad.npy: array of shape (2, 3) is stored in Fortran order"));
    CHECK_THAT(message, Contains("convert with np.ascontiguousarray"));
}

TEST_CASE("npy::load rejects negative and absurd dimensions", "[npy]") {
    TempDir dir;
    SECTION("negative") {
        CHECK_THAT(loadErrorFor(dir, npyFile(1, dictFor("<f4", "(2, -3)"), "")),
                   Contains("bad.npy: shape (2, -3) has a negative dimension"));
    }
    SECTION("larger than int64") {
        CHECK_THAT(loadErrorFor(dir, npyFile(1, dictFor("<f4", "(99999999999999999999,)"), "")),
                   Contains("shape dimension 99999999999999999999 is absurdly large"));
        CHECK_THAT(loadErrorFor(dir, npyFile(1, dictFor("<f4", "(9223372036854775808,)"), "")),
                   Contains("absurdly large"));
    }
    SECTION("more dimensions than NumPy allows") {
        std::string shape = "(";
        for (int i = 0; i < 65; ++i) shape += "1, ";
        shape += ")";
        CHECK_THAT(loadErrorFor(dir, npyFile(1, dictFor("<f4", shape), f32(1))),
                   Contains("shape has more than 64 dimensions"));
    }
}

TEST_CASE("npy::load detects element-count overflow", "[npy]") {
    TempDir dir;
    const std::string shape = GENERATE(std::string("(4294967296, 4294967296)"),  // 2^64 wraps to 0
                                       std::string("(3037000500, 3037000500)"),  // just over 2^63
                                       std::string("(2305843009213693952,)"),    // 2^61 floats = 2^63 bytes
                                       std::string("(65536, 65536, 65536, 65536, 0)"));
    CAPTURE(shape);
    const std::string message = loadErrorFor(dir, npyFile(1, dictFor("<f4", shape), f32(1)));
    if (shape.find(", 0)") != std::string::npos) {
        // A zero dimension makes the array empty whatever else the shape says,
        // so this file fails on its 4 bytes of stray data instead.
        CHECK_THAT(message, Contains("expected 0 bytes of data"));
    } else {
        CHECK_THAT(message, Contains("bad.npy: shape " + shape + " has too many elements"));
    }
}

TEST_CASE("npy::load checks the amount of data against the shape", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("x.npy");
    SECTION("too little data") {
        writeBytes(path, npyFile(1, dictFor("<f4", "(1, 3, 4)"), std::string(40, '\0')));
        CHECK_THAT(loadError(path), Equals(path + ": expected 48 bytes of data for shape (1, 3, 4), found 40"));
    }
    SECTION("too little float64 data") {
        writeBytes(path, npyFile(2, dictFor("<f8", "(3,)"), std::string(23, '\0')));
        CHECK_THAT(loadError(path), Equals(path + ": expected 24 bytes of data for shape (3,), found 23"));
    }
    SECTION("no data for a 0-d array") {
        writeBytes(path, npyFile(1, dictFor("<f4", "()"), ""));
        CHECK_THAT(loadError(path), Equals(path + ": expected 4 bytes of data for shape (), found 0"));
    }
    SECTION("trailing data") {
        writeBytes(path, npyFile(1, dictFor("<f4", "(1, 3, 4)"), std::string(52, '\0')));
        CHECK_THAT(loadError(path), Equals(path + ": expected 48 bytes of data for shape (1, 3, 4), found 52 "
                                                  "(extra data after the array)"));
    }
}

TEST_CASE("npy::load fails cleanly on every truncation and single-byte corruption", "[npy]") {
    // A small deterministic fuzz: each variant must load or throw convgen::Error,
    // never crash or read out of bounds (run under sanitizers to make it bite).
    TempDir dir;
    const std::string path = dir.file("fuzz.npy");
    const std::string valid = npyFile(1, dictFor("<f8", "(2, 1)"), f64(1) + f64(2));
    auto tryLoad = [&](const std::string &bytes) {
        writeBytes(path, bytes);
        try {
            const convgen::npy::Array a = convgen::npy::load(path);
            uint64_t count = 1;
            for (int64_t d : a.shape) count *= static_cast<uint64_t>(d);
            CHECK(a.data.size() == count);
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::IoError);
        }
    };
    for (size_t n = 0; n < valid.size(); ++n) tryLoad(valid.substr(0, n));
    const char replacements[] = {'\0', '\xff', '\'', '(', ')', ',', '-', '9', 'L', '{', '}', ' ', '\n', '\\'};
    for (size_t i = 0; i < valid.size(); ++i) {
        for (char r : replacements) {
            std::string bytes = valid;
            bytes[i] = r;
            tryLoad(bytes);
        }
    }
}

// ---------------------------------------------------------------------------
// parse: the same reader over bytes in memory (what fuzz/fuzz_npy.cpp drives)

TEST_CASE("npy::parse gives load's result or load's error for the same bytes", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("x.npy");
    const std::string valid32 = npyFile(1, dictFor("<f4", "(2, 2)"), f32s({1.0f, -2.0f, 0.5f, 8.0f}));
    const std::string cases[] = {
        valid32,
        npyFile(3, dictFor("<f8", "(3,)"), f64(1) + f64(-1e300) + f64(0.25)),
        npyFile(1, dictFor("<f4", "()"), f32(7.0f)),
        npyFile(2, dictFor("<f4", "(0, 5)"), ""),
        "",
        valid32.substr(0, 9),                         // inside the header length
        valid32.substr(0, valid32.size() - 1),        // one data byte short
        valid32 + "x",                                // trailing data
        npyFile(1, dictFor("<i8", "(1,)"), "12345678"),  // unsupported dtype
        npyFile(1, "{'descr': '<f4', 'shape': (1,), }", f32(1.0f)),  // missing key
    };
    for (const std::string &bytes : cases) {
        writeBytes(path, bytes);
        std::string loaded, parsed;
        convgen::npy::Array fromFile, fromMemory;
        try {
            fromFile = convgen::npy::load(path);
        } catch (const Error &e) {
            loaded = e.what();
        }
        try {
            fromMemory = convgen::npy::parse(bytes.data(), bytes.size(), path);
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::IoError);
            parsed = e.what();
        }
        CHECK_THAT(parsed, Equals(loaded));
        CHECK(fromMemory.shape == fromFile.shape);
        CHECK(fromMemory.data == fromFile.data);
    }
    // Messages start with the name given, whatever it is.
    CHECK_THROWS_WITH(convgen::npy::parse(nullptr, 0, "<memory>"),
                      Equals("<memory>: not an .npy file (expected it to start with \"\\x93NUMPY\", found \"\", "
                             "0 bytes in all)"));
}

// ---------------------------------------------------------------------------
// save

TEST_CASE("npy::save writes exactly what numpy.save writes", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("out.npy");

    SECTION("shape (2, 3)") {
        const float data[] = {0, 1, 2, 3, 4, 5};
        convgen::npy::save(path, {2, 3}, data);
        const std::string expected = numpyPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 58) +
                                     std::string("\x00\x00\x00\x00\x00\x00\x80?\x00\x00\x00@\x00\x00@@"
                                                 "\x00\x00\x80@\x00\x00\xa0@",
                                                 24);
        CHECK(readBytes(path) == expected);
    }
    SECTION("shape (3,)") {
        const float data[] = {1, 2, 3};
        convgen::npy::save(path, {3}, data);
        CHECK(readBytes(path) == numpyPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 60) +
                                     f32s({1, 2, 3}));
    }
    SECTION("shape ()") {
        const float data[] = {1.5f};
        convgen::npy::save(path, {}, data);
        CHECK(readBytes(path) ==
              numpyPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 62) + f32(1.5f));
    }
    SECTION("shape (0, 3) with no data") {
        convgen::npy::save(path, {0, 3}, nullptr);
        CHECK(readBytes(path) == numpyPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 58));
    }
    SECTION("a first dimension with many digits gets less growth room") {
        // repr is 12 characters; 21 - 12 = 9 growth spaces, then padding to 128.
        convgen::npy::save(path, {123456789012, 0}, nullptr);
        const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (123456789012, 0), }";
        CHECK(readBytes(path) == numpyPrefix(dict, 128 - 10 - dict.size() - 1));
    }
    SECTION("no temporary file is left behind") {
        const float data[] = {1};
        convgen::npy::save(path, {1}, data);
        std::vector<std::string> names;
        for (const auto &entry : fs::directory_iterator(dir.path())) names.push_back(entry.path().filename().string());
        CHECK(names == std::vector<std::string>{"out.npy"});
    }
}

TEST_CASE("npy::save switches to format 2.0 for headers over 65535 bytes", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("wide.npy");
    const std::vector<int64_t> shape(22000, 1);  // "1, " x 22000 is about 66 KB of header
    const float data[] = {42};
    convgen::npy::save(path, shape, data);
    const std::string bytes = readBytes(path);
    REQUIRE(bytes.size() > 12);
    CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x02\x00", 8));
    uint64_t headerLength = 0;
    for (int i = 3; i >= 0; --i) headerLength = (headerLength << 8) | static_cast<unsigned char>(bytes[8 + i]);
    CHECK(headerLength > 65535);
    CHECK((12 + headerLength) % 64 == 0);
    REQUIRE(bytes.size() == 12 + headerLength + 4);
    const std::string dictStart = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, ";
    CHECK(bytes.substr(12, dictStart.size()) == dictStart);
    CHECK(bytes[12 + headerLength - 1] == '\n');
    CHECK(bytes.substr(12 + headerLength) == f32(42));
    // load reads version 2.0 but refuses a shape no NumPy array can have.
    CHECK_THAT(loadError(path), Contains("more than 64 dimensions"));
}

TEST_CASE("npy::save then load round-trips shapes and bit patterns", "[npy]") {
    TempDir dir;
    const std::string path = dir.file("round.npy");
    const std::vector<int64_t> shape = GENERATE(std::vector<int64_t>{2, 3, 4, 5}, std::vector<int64_t>{7},
                                                std::vector<int64_t>{}, std::vector<int64_t>{1, 1, 1});
    uint64_t count = 1;
    for (int64_t d : shape) count *= static_cast<uint64_t>(d);
    std::vector<float> data(count);
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> uniform(-10.0f, 10.0f);
    for (float &v : data) v = uniform(rng);
    // Special values must survive bit for bit.
    const float specials[] = {-0.0f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::denorm_min()};
    for (size_t i = 0; i < data.size() && i < 4; ++i) data[i] = specials[i];

    convgen::npy::save(path, shape, data.data());
    const convgen::npy::Array a = convgen::npy::load(path);
    CHECK(a.shape == shape);
    REQUIRE(a.data.size() == data.size());
    CHECK(std::memcmp(a.data.data(), data.data(), data.size() * sizeof(float)) == 0);

    // Saving again replaces the file.
    std::vector<float> zeros(count, 0.0f);
    convgen::npy::save(path, shape, zeros.data());
    CHECK(convgen::npy::load(path).data == zeros);
}

TEST_CASE("npy::save failures throw IoError and leave no file", "[npy]") {
    TempDir dir;
    const float data[] = {1, 2};
    auto saveError = [](const std::string &path, const std::vector<int64_t> &shape, const float *values) {
        try {
            convgen::npy::save(path, shape, values);
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::IoError);
            return std::string(e.what());
        }
        FAIL("save(" << path << ") did not throw");
        return std::string();
    };
    SECTION("missing directory") {
        const std::string path = dir.file("no/such/dir/out.npy");
        CHECK_THAT(saveError(path, {2}, data), Contains("does not exist"));
        CHECK_FALSE(fs::exists(dir.path() / "no"));
        CHECK(fs::is_empty(dir.path()));
    }
    SECTION("the path is a directory") {
        fs::create_directory(dir.path() / "sub");
        CHECK_THAT(saveError((dir.path() / "sub").string(), {2}, data), Contains("is a directory"));
        CHECK(fs::is_empty(dir.path() / "sub"));
    }
    SECTION("negative dimension") {
        const std::string path = dir.file("neg.npy");
        CHECK_THAT(saveError(path, {2, -1}, data), Contains("negative dimension"));
        CHECK(fs::is_empty(dir.path()));
    }
    SECTION("element count overflow") {
        const std::string path = dir.file("big.npy");
        CHECK_THAT(saveError(path, {int64_t(1) << 40, int64_t(1) << 40}, data), Contains("too many elements"));
        CHECK(fs::is_empty(dir.path()));
    }
}
