// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
#ifndef CLR_SCHEDULE_HPP
#define CLR_SCHEDULE_HPP

#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "version.hpp"

#if defined(__GNUC__) || defined(__clang__)
#define CLR_DETAIL_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define CLR_DETAIL_NOINLINE __declspec(noinline)
#else
#define CLR_DETAIL_NOINLINE
#endif

namespace clr {

// The optimizer update count: 0 before the first update. lr(t) is the rate in
// force for update t + 1 (the value PyTorch leaves in the optimizer before its
// (t + 1)-th step()).
using step_t = std::uint64_t;

// Lowest and highest value a schedule can ever take, over every step.
template <class T>
struct range {
    T lo;
    T hi;
    constexpr bool contains(T v) const noexcept { return lo <= v && v <= hi; }
};

// Numbers as clr writes them in messages and in the text form: the shortest
// decimal that reads back as the same value of V's own type (0.6, not
// 0.59999999999999998; 0.1f as 0.1), and "nan", "inf", "-inf". Programs that
// print parameters beside a schedule's text use it so the two always agree.
template <class V>
std::string format_number(V v) {
    static_assert(std::is_arithmetic_v<V>, "clr::format_number takes a number");
    if constexpr (std::is_floating_point_v<V>) {
        if (std::isnan(v)) return "nan";
        if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    }
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

// The largest step count a schedule or optimizer accepts, 2^62: a negative
// number converted to step_t lands far above it, and the sum of two counts
// below it cannot overflow.
inline constexpr step_t max_steps = step_t(1) << 62;

// A piece of text as an error message shows it (a parameter's name or value,
// a flag's argument): on one line and short, whatever it came from
// (clr::parse_schedule's input may hold a newline, or be a megabyte long).
// Control characters are escaped (\n, \t, \r, \x01); text longer than
// `whole` bytes (80 unless given) is cut to its first three fifths or fewer
// (48 of 80), never inside an escape or a UTF-8 character, followed by
// "... (N bytes)" with its whole length. A backslash
// is kept as it is, so that excerpt() of its own output is that output: an
// error caught and thrown again with its column added keeps its parts.
// Programs that quote their users' input in their own messages use it too.
inline std::string excerpt(const std::string& text, std::size_t whole = 80) {
    const std::size_t head = whole / 5 * 3;
    static const char digits[] = "0123456789abcdef";
    std::string out;
    std::size_t cut = 0;  // the longest start of out, up to `head` bytes, that ends between characters
    std::size_t i = 0;
    for (; i < text.size() && out.size() <= whole; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c & 0xC0u) != 0x80u && out.size() <= head) cut = out.size();  // not inside a UTF-8 character
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20u || c == 0x7Fu) {
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 0xFu];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (i == text.size() && out.size() <= whole) return out;
    out.resize(cut);
    return out + "... (" + std::to_string(text.size()) + " bytes)";
}

// What every schedule constructor and with_* option, and every optimizer
// option, throws for a bad argument. what() reads
//     "<who>: <param> = <value> <problem>[ (column <n>)]"
// e.g. "clr::triangular: step_size = 0 must be at least 1"; who(), param(),
// value() and problem() give its parts ("clr::triangular", "step_size", "0",
// "must be at least 1"), so a program can tell which of its own settings to
// blame, and say so in its own words, without reading the message. column()
// is where clr::parse_schedule found the value in its text (1-based), if it
// came from one. A std::invalid_argument, so existing handlers keep catching it.
//
// The message is one short line whatever the input: param() and value() are
// kept as the message shows them, control characters escaped (a newline as
// \n) and anything longer than 80 bytes cut, with its length
// ("constant(lr=0.1), 100, constant(lr=0.1), 100, co... (1048576 bytes)";
// see clr::excerpt).
class invalid_parameter : public std::invalid_argument {
public:
    invalid_parameter(const std::string& who, const std::string& param, const std::string& value,
                      std::string problem, std::optional<std::size_t> column = std::nullopt)
        : invalid_parameter(parts{who, excerpt(param), excerpt(value), std::move(problem), column}) {}

    // The class or function that refused the argument: "clr::one_cycle".
    const std::string& who() const noexcept { return parts_->who; }
    // The parameter's name as the library spells it: "pct_start".
    const std::string& param() const noexcept { return parts_->param; }
    // The refused value in its shortest round-trip form: "0.6", "nan", "-inf"
    // (text from clr::parse_schedule's input as the message shows it).
    const std::string& value() const noexcept { return parts_->value; }
    // What is wrong with it: "must lie in (0, 1)".
    const std::string& problem() const noexcept { return parts_->problem; }
    // Where in a text form the value stands, 1-based; empty for a value
    // given in code.
    std::optional<std::size_t> column() const noexcept { return parts_->column; }

private:
    // Shared, so that copying the exception (as throwing and catching may)
    // cannot throw.
    struct parts {
        std::string who;
        std::string param;
        std::string value;
        std::string problem;
        std::optional<std::size_t> column;
    };

    explicit invalid_parameter(parts p)
        : std::invalid_argument(p.who + ": " + p.param + " = " + p.value + " " + p.problem +
                                (p.column ? " (column " + std::to_string(*p.column) + ")" : std::string())),
          parts_(std::make_shared<const parts>(std::move(p))) {}

    std::shared_ptr<const parts> parts_;
};

namespace detail {

// Error messages are built only when a constructor rejects its input, never on
// the evaluation path.
// Numbers print in the shortest form that reads back as the same value of
// their own type: 0.6, not 0.59999999999999998, and 0.1f as 0.1. The text
// form of schedules (text.hpp) relies on this for its bit-exact round trip.
template <class V>
std::string to_text(V v) {
    return format_number(v);
}

[[noreturn]] inline void fail(const char* who, const char* param, const std::string& value,
                              const char* problem) {
    throw invalid_parameter(who, param, value, problem);
}

template <class T>
T require_finite(const char* who, const char* param, T v) {
    if (!std::isfinite(v)) fail(who, param, to_text(v), "must be finite");
    return v;
}

// Learning rates: finite and not negative. Zero is allowed (eta_min = 0).
template <class T>
T require_rate(const char* who, const char* param, T v) {
    require_finite(who, param, v);
    if (v < T(0)) fail(who, param, to_text(v), "must not be negative");
    return v;
}

template <class T>
T require_positive(const char* who, const char* param, T v) {
    require_finite(who, param, v);
    if (!(v > T(0))) fail(who, param, to_text(v), "must be positive");
    return v;
}

template <class T>
T require_momentum(const char* who, const char* param, T v) {
    require_finite(who, param, v);
    if (!(v >= T(0) && v < T(1))) fail(who, param, to_text(v), "must lie in [0, 1)");
    return v;
}

template <class T>
void require_ordered(const char* who, const char* lo_name, T lo, const char* hi_name, T hi) {
    if (hi < lo)
        fail(who, hi_name, to_text(hi),
             (std::string("must not be below ") + lo_name + " = " + to_text(lo)).c_str());
}

// Step counts arrive as unsigned; a negative int silently becomes ~2^64, so
// anything past clr::max_steps is refused as almost certainly a sign error.
using clr::max_steps;

// A step count where 0 means "none" (warmup length, sequence boundary).
inline step_t require_count(const char* who, const char* param, step_t v) {
    if (v > max_steps)
        fail(who, param, to_text(v), "is larger than 2^62 (a negative number converted to unsigned?)");
    return v;
}

// A length in steps (step size, period, total): at least one step.
inline step_t require_steps(const char* who, const char* param, step_t v) {
    if (v == 0) fail(who, param, "0", "must be at least 1");
    return require_count(who, param, v);
}

// a + (b - a) * w for w in [0, 1], exactly a at w = 0 and exactly b at w = 1, and
// never past b: the plain formula rounds beyond its end (0.1 + (0.3 - 0.1) * 1 is
// 0.30000000000000004), which would put a schedule outside its own bounds().
template <class T>
T lerp(T a, T b, T w) noexcept {
    if (w == T(1)) return b;
    const T v = a + (b - a) * w;
    return a <= b ? (v < b ? v : b) : (v > b ? v : b);
}

// a * b rounded to T on its own, as PyTorch's Python floats round it. Where
// such a product places a phase boundary, a compiler allowed to fuse
// a * b - c into one FMA (GCC's default for GNU C++ on a CPU with FMA, clang's
// within an expression) would move the boundary by the product's rounding
// error, enough to empty a phase or to open one; the volatile store rules the
// fusion out. For constructors: it costs a trip through memory.
template <class T>
T rounded_product(T a, T b) noexcept {
    volatile T p = a * b;
    return p;
}

// The floating type's pi without relying on M_PI (not standard C++).
template <class T>
inline constexpr T pi = T(3.141592653589793238462643383279502884L);

// floor(log2(x)) for x > 0.
inline int floor_log2(std::uint64_t x) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    return 63 - __builtin_clzll(x);
#else
    int i = 0;
    while (x >>= 1) ++i;
    return i;
#endif
}

}  // namespace detail

// The CRTP base every schedule derives from, as Eigen's MatrixBase is for
// matrices: it owns the shared interface and reaches the concrete schedule
// through derived(), so every call is resolved at compile time.
//
// A schedule Derived provides
//     T lr_at(step_t t) const noexcept;                  // the closed form
//     range<T> lr_range() const noexcept;                // bounds over all t
// and, if it can cycle momentum,
//     std::optional<T> momentum_at(step_t t) const noexcept;
// (lr_at and momentum_at may throw only where they call user code; lr() and
// momentum() are noexcept exactly when they are.)
template <class Derived, class T>
class schedule {
    static_assert(std::is_floating_point_v<T>, "clr schedules are templated on float, double or long double");

public:
    using value_type = T;

    constexpr const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

    // The learning rate for update t + 1. Never throws, except where a
    // function of the user's inside the schedule (a cyclic scale) may: then
    // its exception reaches the caller rather than std::terminate.
    T lr(step_t t) const noexcept(noexcept(std::declval<const Derived&>().lr_at(t))) {
        return derived().lr_at(t);
    }
    T operator()(step_t t) const noexcept(noexcept(std::declval<const Derived&>().lr_at(t))) {
        return derived().lr_at(t);
    }

    // The cycled momentum (beta1 for Adam) for update t + 1, or nothing when
    // this schedule leaves momentum to the optimizer.
    std::optional<T> momentum(step_t t) const
        noexcept(noexcept(std::declval<const Derived&>().momentum_at(t))) {
        return derived().momentum_at(t);
    }

    // Lowest and highest learning rate over every step.
    range<T> bounds() const noexcept { return derived().lr_range(); }

    // Writes lr(first), ..., lr(first + count - 1) through out; for plots and tests.
    template <class OutputIt>
    OutputIt sample(step_t first, step_t count, OutputIt out) const {
        for (step_t i = 0; i < count; ++i) *out++ = lr(first + i);
        return out;
    }

    std::vector<T> sample(step_t count) const {
        std::vector<T> v;
        v.reserve(static_cast<std::size_t>(count));
        sample(0, count, std::back_inserter(v));
        return v;
    }

protected:
    schedule() = default;

    // Default for schedules that do not cycle momentum; a derived class hides it.
    std::optional<T> momentum_at(step_t) const noexcept { return std::nullopt; }
};

// True for any type built on clr::schedule.
template <class S, class = void>
struct is_schedule : std::false_type {};

template <class S>
struct is_schedule<S, std::void_t<typename S::value_type>>
    : std::is_base_of<schedule<S, typename S::value_type>, S> {};

template <class S>
inline constexpr bool is_schedule_v = is_schedule<S>::value;

}  // namespace clr

#endif  // CLR_SCHEDULE_HPP
