// convgen: the DSL's text form, read and written.
//
// The text is what PyTorch prints for a layer ("Conv2d(8, 14, kernel_size=(3, 2),
// stride=(2, 1))") or the Python call that builds it ("nn.Conv2d(64, 128, 3, padding=1)"),
// optionally followed by "-> ReLU()". Reading is a small lexer plus a recursive-descent
// parser; arguments are bound to PyTorch's parameters the way Python binds a call, and the
// resulting spec is validated like any other.
//
// Grammar (whitespace allowed between any two tokens):
//   text       := name '(' [argument (',' argument)* [',']] ')' ['->' name '(' [relu_arg] ')']
//   name       := ['torch' '.'] ['nn' '.'] identifier
//   argument   := [identifier '='] value
//   value      := int | '(' [int (',' int)* [',']] ')' | '[' ... ']' | string | identifier
//   int        := ['-'] digits
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convgen/spec.h"

namespace convgen {
namespace {

using Axes = std::array<int, kMaxSpatialDims>;

// ---------------------------------------------------------------------------------------
// Errors

// Every parser error points into the text: "<message> at column N in '<text>'".
Error error_at(std::string_view source, size_t offset, ErrorCode code, const std::string &message) {
    return Error(code, message + " at column " + std::to_string(offset + 1) + " in '" +
                           std::string(source) + "'");
}

// ---------------------------------------------------------------------------------------
// Lexer

enum class TokenKind {
    Identifier,  // Conv2d, nn, stride, True, same, ...
    Integer,     // digits only; a leading '-' is its own token
    String,      // 'reflect' or "reflect"
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Equals,
    Dot,
    Minus,
    Arrow,  // ->
    End,
};

struct Token {
    TokenKind kind;
    std::string_view text;  // the token as written (a string with its quotes)
    size_t offset;          // where it starts in the source

    size_t end() const { return offset + text.size(); }
    // A string's contents without the quotes.
    std::string_view contents() const { return text.substr(1, text.size() - 2); }
};

std::string describe(const Token &token) {
    if (token.kind == TokenKind::End) return "end of input";
    return "'" + std::string(token.text) + "'";
}

bool is_identifier_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::optional<TokenKind> punctuation(char c) {
    switch (c) {
    case '(': return TokenKind::LParen;
    case ')': return TokenKind::RParen;
    case '[': return TokenKind::LBracket;
    case ']': return TokenKind::RBracket;
    case ',': return TokenKind::Comma;
    case '=': return TokenKind::Equals;
    case '.': return TokenKind::Dot;
    case '-': return TokenKind::Minus;
    default: return std::nullopt;
    }
}

// The whole text as tokens, ending with one End token.
std::vector<Token> tokenize(std::string_view source) {
    std::vector<Token> tokens;
    size_t pos = 0;
    const auto advance_while = [&](bool (*predicate)(char)) {
        while (pos < source.size() && predicate(source[pos])) ++pos;
    };
    for (;;) {
        advance_while(is_space);
        const size_t start = pos;
        if (pos == source.size()) {
            tokens.push_back({TokenKind::End, {}, start});
            return tokens;
        }
        const char c = source[pos];
        TokenKind kind;
        if (is_identifier_start(c)) {
            advance_while(is_identifier_char);
            kind = TokenKind::Identifier;
        } else if (is_digit(c)) {
            advance_while(is_digit);
            kind = TokenKind::Integer;
        } else if (c == '\'' || c == '"') {
            const size_t close = source.find(c, pos + 1);
            if (close == std::string_view::npos) {
                throw error_at(source, start, ErrorCode::ParseError,
                               std::string("unterminated string (missing closing ") + c + ")");
            }
            pos = close + 1;
            kind = TokenKind::String;
        } else if (source.substr(pos, 2) == "->") {
            pos += 2;
            kind = TokenKind::Arrow;
        } else if (const std::optional<TokenKind> single = punctuation(c)) {
            ++pos;
            kind = *single;
        } else {
            const auto byte = static_cast<unsigned char>(c);
            const std::string shown = std::isprint(byte) ? "'" + std::string(1, c) + "'"
                                                         : "(byte " + std::to_string(byte) + ")";
            throw error_at(source, start, ErrorCode::ParseError, "unexpected character " + shown);
        }
        tokens.push_back({kind, source.substr(start, pos - start), start});
    }
}

// ---------------------------------------------------------------------------------------
// Values and parameters

// One argument's value before it is given a meaning by the parameter it binds to.
struct Value {
    enum class Kind {
        Int,       // 3, -1, or (3): Python's parentheses around one int make no tuple
        Sequence,  // (3, 2), (3,), [3, 2], ()
        Word,      // same, True, 'reflect', "zeros"
    };
    Kind kind = Kind::Int;
    std::vector<int> ints;  // the int, or the sequence's entries
    std::string_view word;  // a Word's text, without quotes
    bool quoted = false;    // a Word written as a string literal
    size_t offset = 0;
    std::string_view source;  // the value as written

    // For messages: words always in quotes, everything else as written.
    std::string describe() const {
        return kind == Kind::Word ? "'" + std::string(word) + "'" : std::string(source);
    }
};

// nn.Conv2d's parameters, in the order Python binds positional arguments to them.
enum class Param {
    InChannels,
    OutChannels,
    KernelSize,
    Stride,
    Padding,
    Dilation,
    Groups,
    Bias,
    PaddingMode
};
constexpr std::array<const char *, 9> kParamNames = {"in_channels", "out_channels", "kernel_size",
                                                     "stride",      "padding",      "dilation",
                                                     "groups",      "bias",         "padding_mode"};

static_assert(static_cast<size_t>(Param::PaddingMode) + 1 == kParamNames.size(),
              "one name per parameter");

const char *name_of(Param param) { return kParamNames[static_cast<size_t>(param)]; }

std::optional<Param> param_named(std::string_view name) {
    for (size_t i = 0; i < kParamNames.size(); ++i) {
        if (name == kParamNames[i]) return static_cast<Param>(i);
    }
    return std::nullopt;
}

std::string param_list() {
    std::string list;
    for (const char *name : kParamNames) list += (list.empty() ? "" : ", ") + std::string(name);
    return list;
}

// ---------------------------------------------------------------------------------------
// Parser

class Parser {
public:
    explicit Parser(std::string_view source) : source_(source), tokens_(tokenize(source)) {}

    ConvSpec parse() {
        const Token &name = parse_qualified_name("Conv1d or Conv2d");
        if (name.text == "Conv1d") {
            dims_ = 1;
        } else if (name.text == "Conv2d") {
            dims_ = 2;
        } else {
            fail(name.offset, "expected Conv1d or Conv2d, got " + describe(name));
        }
        layer_ = std::string(name.text);

        expect(TokenKind::LParen, "'(' after " + layer_);
        const Arguments args = parse_arguments();
        const Token &close = expect(TokenKind::RParen, "')' after argument list");
        ConvSpec spec = build_spec(args, close.offset);
        spec.activation = parse_activation();
        expect(TokenKind::End, "end of input after the layer");
        spec.validate();
        return spec;
    }

private:
    using Arguments = std::array<std::optional<Value>, kParamNames.size()>;

    // --- tokens -------------------------------------------------------------------------

    const Token &peek(size_t ahead = 0) const {
        return tokens_[std::min(next_ + ahead, tokens_.size() - 1)];  // End repeats forever
    }

    const Token &advance() {
        const Token &token = peek();
        if (next_ + 1 < tokens_.size()) ++next_;
        consumed_end_ = token.end();
        return token;
    }

    bool accept(TokenKind kind) {
        if (peek().kind != kind) return false;
        advance();
        return true;
    }

    const Token &expect(TokenKind kind, const std::string &what) {
        if (peek().kind != kind) {
            fail(peek().offset, "expected " + what + ", got " + describe(peek()));
        }
        return advance();
    }

    bool at_keyword() const {
        return peek().kind == TokenKind::Identifier && peek(1).kind == TokenKind::Equals;
    }

    // The text from `offset` to the end of the last token consumed.
    std::string_view consumed_since(size_t offset) const {
        return source_.substr(offset, consumed_end_ - offset);
    }

    [[noreturn]] void fail(size_t offset, const std::string &message,
                           ErrorCode code = ErrorCode::ParseError) const {
        throw error_at(source_, offset, code, message);
    }

    // "Conv2d: kernel_size", for messages about a value.
    std::string field(Param param) const { return layer_ + ": " + name_of(param); }

    // --- grammar ------------------------------------------------------------------------

    // Conv2d, nn.Conv2d or torch.nn.Conv2d (and the same for ReLU): the last identifier.
    const Token &parse_qualified_name(const std::string &what) {
        const Token *name = &expect(TokenKind::Identifier, what);
        if (name->text == "torch") {
            expect(TokenKind::Dot, "'.' after 'torch'");
            name = &expect(TokenKind::Identifier, "'nn' after 'torch.'");
            if (name->text != "nn") {
                fail(name->offset, "expected 'nn' after 'torch.', got " + describe(*name));
            }
        }
        if (name->text == "nn") {
            expect(TokenKind::Dot, "'.' after 'nn'");
            name = &expect(TokenKind::Identifier, what + " after 'nn.'");
        }
        return *name;
    }

    // Binds arguments to parameters as a Python call would.
    Arguments parse_arguments() {
        Arguments args;
        size_t positional_count = 0;
        bool seen_keyword = false;
        do {
            if (peek().kind == TokenKind::RParen) break;  // empty list or trailing comma
            const Token &start = peek();
            Param param;
            if (at_keyword()) {
                const std::optional<Param> named = param_named(start.text);
                if (!named) {
                    fail(start.offset, "unknown argument " + describe(start) +
                                           "; expected one of " + param_list());
                }
                param = *named;
                advance();  // the name
                advance();  // '='
                seen_keyword = true;
            } else if (seen_keyword) {
                fail(start.offset, "positional argument follows keyword argument");
            } else if (positional_count == kParamNames.size()) {
                fail(start.offset, layer_ + " takes at most " + std::to_string(kParamNames.size()) +
                                       " positional arguments");
            } else {
                param = static_cast<Param>(positional_count++);
            }
            std::optional<Value> &slot = args[static_cast<size_t>(param)];
            if (slot) {
                fail(start.offset,
                     layer_ + " got multiple values for argument '" + name_of(param) + "'");
            }
            slot = parse_value();
        } while (accept(TokenKind::Comma));
        return args;
    }

    Value parse_value() {
        const Token &start = peek();
        Value value;
        value.offset = start.offset;
        switch (start.kind) {
        case TokenKind::Integer:
        case TokenKind::Minus: value.ints = {parse_int()}; break;
        case TokenKind::LParen:
        case TokenKind::LBracket: parse_sequence(value); break;
        case TokenKind::String:
            value.kind = Value::Kind::Word;
            value.word = advance().contents();
            value.quoted = true;
            break;
        case TokenKind::Identifier:
            value.kind = Value::Kind::Word;
            value.word = advance().text;
            break;
        default:
            fail(start.offset,
                 "expected a value (an int, a tuple or a string), got " + describe(start));
        }
        value.source = consumed_since(value.offset);
        return value;
    }

    // A tuple or list of ints, or an int in parentheses.
    void parse_sequence(Value &value) {
        const bool is_tuple = advance().kind == TokenKind::LParen;
        const TokenKind close = is_tuple ? TokenKind::RParen : TokenKind::RBracket;
        bool trailing_comma = false;
        while (peek().kind != close) {
            value.ints.push_back(parse_int());
            trailing_comma = accept(TokenKind::Comma);
            if (!trailing_comma) break;
        }
        expect(close, is_tuple ? "')' to close the tuple" : "']' to close the list");
        const bool parenthesized_int = is_tuple && value.ints.size() == 1 && !trailing_comma;
        value.kind = parenthesized_int ? Value::Kind::Int : Value::Kind::Sequence;
    }

    int parse_int() {
        const size_t offset = peek().offset;
        const bool negative = accept(TokenKind::Minus);
        const Token &digits =
            expect(TokenKind::Integer, negative ? "an integer after '-'" : "an integer");
        // Accumulate the magnitude, stopping as soon as it cannot fit: the text may have
        // any number of digits.
        const int64_t limit = negative ? -int64_t{std::numeric_limits<int>::min()}
                                       : int64_t{std::numeric_limits<int>::max()};
        int64_t magnitude = 0;
        for (char digit : digits.text) {
            magnitude = magnitude * 10 + (digit - '0');
            if (magnitude > limit) {
                fail(offset, "integer " + std::string(consumed_since(offset)) +
                                 " is out of range (an int holds " +
                                 std::to_string(std::numeric_limits<int>::min()) + " to " +
                                 std::to_string(std::numeric_limits<int>::max()) + ")");
            }
        }
        return static_cast<int>(negative ? -magnitude : magnitude);
    }

    // "-> ReLU()", "-> nn.ReLU(inplace=True)", or nothing.
    Activation parse_activation() {
        if (!accept(TokenKind::Arrow)) return Activation::None;
        const Token &name = parse_qualified_name("an activation after '->'");
        if (name.text != "ReLU") {
            fail(name.offset, "unknown activation " + describe(name) + "; expected ReLU");
        }
        expect(TokenKind::LParen, "'(' after ReLU");
        if (peek().kind != TokenKind::RParen) {
            // nn.ReLU's one parameter; whether it works in place does not change the result.
            if (at_keyword()) {
                const Token &keyword = advance();
                if (keyword.text != "inplace") {
                    fail(keyword.offset,
                         "unknown argument " + describe(keyword) + " for ReLU; expected inplace");
                }
                advance();  // '='
            }
            as_bool(parse_value(), "ReLU: inplace");
            accept(TokenKind::Comma);
        }
        expect(TokenKind::RParen, "')' after ReLU's arguments");
        return Activation::ReLU;
    }

    // --- meaning --------------------------------------------------------------------------

    ConvSpec build_spec(const Arguments &args, size_t close_offset) const {
        const auto required = [&](Param param) -> const Value & {
            const std::optional<Value> &value = args[static_cast<size_t>(param)];
            if (!value) {
                fail(close_offset,
                     layer_ + " is missing required argument '" + name_of(param) + "'");
            }
            return *value;
        };
        const auto given = [&](Param param) -> const std::optional<Value> & {
            return args[static_cast<size_t>(param)];
        };

        ConvSpec spec;
        spec.dims = dims_;
        spec.in_channels = as_int(required(Param::InChannels), Param::InChannels);
        spec.out_channels = as_int(required(Param::OutChannels), Param::OutChannels);
        assign_axes(required(Param::KernelSize), Param::KernelSize, spec.kernel_size);
        if (const auto &v = given(Param::Stride)) assign_axes(*v, Param::Stride, spec.stride);
        if (const auto &v = given(Param::Padding)) assign_padding(*v, spec);
        if (const auto &v = given(Param::Dilation)) assign_axes(*v, Param::Dilation, spec.dilation);
        if (const auto &v = given(Param::Groups)) spec.groups = as_int(*v, Param::Groups);
        if (const auto &v = given(Param::Bias)) spec.bias = as_bool(*v, field(Param::Bias));
        if (const auto &v = given(Param::PaddingMode)) spec.padding_mode = as_padding_mode(*v);
        return spec;
    }

    int as_int(const Value &value, Param param) const {
        if (value.kind != Value::Kind::Int) {
            fail(value.offset, field(param) + " must be an int, got " + value.describe());
        }
        return value.ints.front();
    }

    // An int (applies to every axis) or a tuple with one entry per axis, as PyTorch's
    // _single/_pair read kernel_size, stride, padding and dilation.
    void assign_axes(const Value &value, Param param, Axes &target) const {
        switch (value.kind) {
        case Value::Kind::Int:
            std::fill(target.begin(), target.begin() + dims_, value.ints.front());
            return;
        case Value::Kind::Sequence:
            if (value.ints.size() != static_cast<size_t>(dims_)) {
                fail(value.offset, field(param) + " must have " + std::to_string(dims_) +
                                       (dims_ == 1 ? " entry" : " entries") + ", got " +
                                       value.describe());
            }
            std::copy(value.ints.begin(), value.ints.end(), target.begin());
            return;
        case Value::Kind::Word:
            fail(value.offset, field(param) + " must be an int or a tuple of " +
                                   std::to_string(dims_) + (dims_ == 1 ? " int" : " ints") +
                                   ", got " + value.describe());
        }
    }

    void assign_padding(const Value &value, ConvSpec &spec) const {
        if (value.kind != Value::Kind::Word) {
            spec.padding_kind = PaddingKind::Explicit;
            assign_axes(value, Param::Padding, spec.padding);
        } else if (value.word == "same") {
            spec.padding_kind = PaddingKind::Same;
        } else if (value.word == "valid") {
            spec.padding_kind = PaddingKind::Valid;
        } else {
            // A string PyTorch's constructor refuses, not a malformed text.
            fail(value.offset,
                 field(Param::Padding) + " must be an int, a tuple, 'same' or 'valid', got " +
                     value.describe(),
                 ErrorCode::InvalidSpec);
        }
    }

    // Python's True/False; a string is refused because bias='False' would be truthy.
    bool as_bool(const Value &value, const std::string &what) const {
        if (value.kind == Value::Kind::Word && !value.quoted) {
            if (value.word == "True") return true;
            if (value.word == "False") return false;
        }
        fail(value.offset, what + " must be True or False, got " + std::string(value.source));
    }

    PaddingMode as_padding_mode(const Value &value) const {
        if (value.kind != Value::Kind::Word) {
            fail(value.offset,
                 field(Param::PaddingMode) + " must be a string, got " + value.describe());
        }
        try {
            return parse_padding_mode(value.word);
        } catch (const Error &e) {
            fail(value.offset, layer_ + ": " + e.what(), e.code());  // the same words, located
        }
    }

    std::string_view source_;
    std::vector<Token> tokens_;  // never modified after construction: references stay valid
    size_t next_ = 0;            // index of the next token to consume
    size_t consumed_end_ = 0;    // source offset just past the last consumed token
    int dims_ = 2;
    std::string layer_;  // "Conv1d" or "Conv2d", for messages
};

// ---------------------------------------------------------------------------------------
// Printer

int used_axes(const ConvSpec &spec) { return std::clamp(spec.dims, 0, kMaxSpatialDims); }

std::string axes_tuple(const ConvSpec &spec, const Axes &values) {
    return shape_to_string(std::vector<int64_t>(values.begin(), values.begin() + used_axes(spec)));
}

bool all_equal(const ConvSpec &spec, const Axes &values, int expected) {
    return std::all_of(values.begin(), values.begin() + used_axes(spec),
                       [&](int v) { return v == expected; });
}

}  // namespace

ConvSpec parse_spec(std::string_view text) { return Parser(text).parse(); }

// Mirrors torch.nn.modules.conv._ConvNd.extra_repr: optional fields appear only when they
// differ from the default, in this order.
std::string to_string(const ConvSpec &spec) {
    std::string text = std::string(spec.layer_name()) + "(" + std::to_string(spec.in_channels) +
                       ", " + std::to_string(spec.out_channels) +
                       ", kernel_size=" + axes_tuple(spec, spec.kernel_size) +
                       ", stride=" + axes_tuple(spec, spec.stride);
    switch (spec.padding_kind) {
    case PaddingKind::Explicit:
        if (!all_equal(spec, spec.padding, 0)) {
            text += ", padding=" + axes_tuple(spec, spec.padding);
        }
        break;
    case PaddingKind::Same: text += ", padding=same"; break;
    case PaddingKind::Valid: text += ", padding=valid"; break;
    }
    if (!all_equal(spec, spec.dilation, 1)) text += ", dilation=" + axes_tuple(spec, spec.dilation);
    if (spec.groups != 1) text += ", groups=" + std::to_string(spec.groups);
    if (!spec.bias) text += ", bias=False";
    if (spec.padding_mode != PaddingMode::Zeros) {
        text += ", padding_mode=" + std::string(to_string(spec.padding_mode));
    }
    text += ")";
    if (spec.activation == Activation::ReLU) text += " -> ReLU()";
    return text;
}

}  // namespace convgen
