// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// A schedule described once: its name in text, its parameters (key, kind,
// default, one line of help), how to build it from them and how to read them
// back from it. clr::to_string and clr::parse_schedule (text.hpp), the
// examples' flags and --help, and the fuzz target's words all come from
// these descriptions, which sit beside each schedule's class.
//
// It is also how a schedule of your own gets a text form, as
// fmt::formatter<T> opens {fmt}: specialize clr::describe for it.
//
//     template <class T>
//     struct clr::describe<my::halving<T>> {
//         static constexpr const char* name = "halving";
//         static constexpr parameter parameters[] = {
//             {"lr", value_kind::number, required, "the rate at step 0"},
//             {"every", value_kind::length, "100", "steps between halvings"},
//         };
//         static my::halving<T> make(const arguments<T>& a) {
//             return my::halving<T>(a.number("lr"), a.length("every"));
//         }
//         template <class W>
//         static void write(W& w, const my::halving<T>& s) {
//             w("lr", s.initial_lr())("every", s.every());
//         }
//     };
//     clr::to_string(my::halving<double>(0.1, 50)) == "halving(lr=0.1, every=50)"
//     clr::parse_schedule<double, my::halving<double>>("warmup(halving(lr=0.1), steps=10, start_lr=0)")
//
// write() gives every parameter's value; values equal to their default are
// left out of the text. make() reads them: parse_schedule has already refused
// unknown keys, keys given twice and missing required ones, naming the
// column, and adds the column to whatever the constructor throws.
#ifndef CLR_DESCRIBE_HPP
#define CLR_DESCRIBE_HPP

#include "detail/text_values.hpp"
#include "schedule.hpp"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace clr {

template <class T>
class any_schedule;

// What a parameter's value is, in text.
enum class value_kind {
    number,    // a real: 0.1, 1e-4, -0
    count,     // a whole number that is not a length: 3 (cycles)
    length,    // steps: 100; or epochs (2.5ep) or a share of the run (5%)
    lengths,   // a list of lengths: [30, 80]
    numbers,   // a list of reals: [0.1, 0.01]
    word,      // one of the parameter's choices: cosine
    schedule,  // a schedule, written first and without a key
    pieces,    // schedule, length, schedule, ...: sequence's arguments
};

// Defaults that are not a value: `required` has none; `none` leaves the
// option unset (step_size_down: the rising half's length).
inline constexpr const char* required = nullptr;
inline constexpr const char* none = "";

// One parameter of a schedule's text form.
struct parameter {
    const char* key;  // as in the text and in C++: "base_lr"
    value_kind kind;
    const char* fallback;      // the default as text ("0", "100%", "cosine"), required or none
    const char* help;          // one line: what it sets
    const char* choices = "";  // for a word: "linear|cosine|1-sqrt", the default among them
    // The command-line flag programs give it, where parameters of different
    // schedules mean the same and share one ("max-lr" for cosine's lr and
    // one_cycle's max_lr); empty: the key with '-' for '_'.
    const char* flag = "";
};

// Specialized beside each schedule; see the top of this file.
template <class S, class = void>
struct describe;

template <class S, class = void>
struct has_description : std::false_type {};
template <class S>
struct has_description<S, std::void_t<decltype(describe<S>::name)>> : std::true_type {};

// True for a schedule that clr::to_string can write and clr::parse_schedule
// read back: all but cyclic schedules with a user scale function (code, not
// data), and combinations of them.
template <class S>
inline constexpr bool has_text_form_v = is_schedule_v<S>&& has_description<S>::value;

// The parameters of a description, as a range.
class parameter_list {
public:
    template <std::size_t N>
    constexpr parameter_list(const parameter (&a)[N]) noexcept : first_(a),
                                                                 last_(a + N) {}  // NOLINT
    constexpr parameter_list() noexcept = default;
    constexpr const parameter* begin() const noexcept { return first_; }
    constexpr const parameter* end() const noexcept { return last_; }
    constexpr std::size_t size() const noexcept { return static_cast<std::size_t>(last_ - first_); }

    // The parameter named key, or nullptr.
    const parameter* find(std::string_view key) const noexcept {
        for (const parameter& p : *this)
            if (key == p.key) return &p;
        return nullptr;
    }

private:
    const parameter* first_ = nullptr;
    const parameter* last_ = nullptr;
};

template <class S>
constexpr parameter_list parameters_of() noexcept {
    return parameter_list(describe<S>::parameters);
}

namespace detail {

// The text of a schedule that has one.
template <class S>
std::string text_of(const S& s);
template <class U>
std::string any_text(const any_schedule<U>& s);

// One argument as the text gave it.
template <class T>
struct argument {
    std::string_view key;  // empty: positional
    std::string_view value;
    std::size_t at = 0;  // offset of the value in the text
    std::optional<any_schedule<T>> nested;
};

}  // namespace detail

// The arguments of one schedule in a text form, for describe<S>::make. A
// value not given is its parameter's default.
template <class T>
class arguments {
public:
    arguments(const char* name, parameter_list params, std::vector<detail::argument<T>> args, run_length run,
              std::size_t at)
        : name_(name),
          params_(params),
          args_(std::move(args)),
          run_(run),
          at_(at) {}

    T number(const char* key) const { return *number_if(key); }
    // Empty for an option left unset (default `none`).
    std::optional<T> number_if(const char* key) const {
        return read<T>(key, value_kind::number, [](std::string_view s, std::string& why, const run_length&) {
            return detail::read_number<T>(s, why);
        });
    }
    step_t count(const char* key) const { return *read<step_t>(key, value_kind::count, detail::read_count); }
    step_t length(const char* key) const { return *length_if(key); }
    std::optional<step_t> length_if(const char* key) const {
        return read<step_t>(key, value_kind::length, detail::read_length);
    }
    std::vector<step_t> lengths(const char* key) const {
        return list<step_t>(key, value_kind::lengths, detail::read_length);
    }
    std::vector<T> numbers(const char* key) const {
        return list<T>(key, value_kind::numbers, [](std::string_view s, std::string& why, const run_length&) {
            return detail::read_number<T>(s, why);
        });
    }
    // The word's index among the parameter's choices ("linear|cosine": 1 for cosine).
    std::size_t word(const char* key) const;
    bool given(const char* key) const { return find(key) != nullptr; }

    // Positional arguments: the schedule first, or sequence's pieces.
    std::size_t positional() const noexcept;
    const std::optional<any_schedule<T>>& schedule_at(std::size_t i) const { return nth(i).nested; }
    step_t length_at(std::size_t i) const;

    // Refuses the value given for key (or, not given, the schedule) with its column.
    [[noreturn]] void fail(const char* key, const std::string& value, const std::string& problem) const {
        const detail::argument<T>* a = find(key);
        throw invalid_parameter("clr::parse_schedule", key, value, problem, (a ? a->at : at_) + 1);
    }

    // Refuses positional argument i, by what it should have been.
    [[noreturn]] void fail_at(std::size_t i, const std::string& problem) const {
        throw invalid_parameter("clr::parse_schedule", name_, std::string(nth(i).value), problem,
                                nth(i).at + 1);
    }

    const char* name() const noexcept { return name_; }
    parameter_list parameters() const noexcept { return params_; }
    const run_length& run() const noexcept { return run_; }
    // The column (0-based offset) of the schedule, and of the value of key.
    std::size_t at() const noexcept { return at_; }
    std::size_t at(std::string_view key) const noexcept {
        const detail::argument<T>* a = find(key);
        return a ? a->at : at_;
    }

private:
    const detail::argument<T>* find(std::string_view key) const noexcept {
        for (const auto& a : args_)
            if (!a.key.empty() && a.key == key) return &a;
        return nullptr;
    }
    const detail::argument<T>& nth(std::size_t i) const;
    const parameter& spec(const char* key, value_kind kind) const;

    template <class V, class Read>
    std::optional<V> read(const char* key, value_kind kind, Read&& r) const {
        const parameter& p = spec(key, kind);
        const detail::argument<T>* a = find(key);
        if (!a && (p.fallback == required || *p.fallback == '\0')) {
            if (p.fallback == required) fail(key, "(missing)", std::string("is required by ") + name_);
            return std::nullopt;
        }
        const std::string_view token = a ? a->value : std::string_view(p.fallback);
        std::string why;
        const std::optional<V> v = r(token, why, run_);
        if (!v) fail(key, std::string(token), a ? why : why + " (the default)");
        return v;
    }

    template <class V, class Read>
    std::vector<V> list(const char* key, value_kind kind, Read&& r) const {
        spec(key, kind);
        const detail::argument<T>* a = find(key);
        if (!a) return {};
        std::string why;
        const auto tokens = detail::list_tokens(a->value, why);
        if (!tokens) fail(key, std::string(a->value), why);
        std::vector<V> out;
        for (std::string_view t : *tokens) {
            const std::optional<V> v = r(t, why, run_);
            if (!v) fail(key, std::string(t), why);
            out.push_back(*v);
        }
        return out;
    }

    const char* name_;
    parameter_list params_;
    std::vector<detail::argument<T>> args_;
    run_length run_;
    std::size_t at_;
};

template <class T>
const parameter& arguments<T>::spec(const char* key, value_kind kind) const {
    const parameter* p = params_.find(key);
    if (!p || p->kind != kind)
        throw std::logic_error(std::string("clr::describe: ") + name_ + " reads " + key +
                               " as a kind its parameters do not give it");
    return *p;
}

template <class T>
std::size_t arguments<T>::word(const char* key) const {
    const parameter& p = spec(key, value_kind::word);
    const detail::argument<T>* a = find(key);
    const std::string_view w = a ? a->value : std::string_view(p.fallback);
    std::string_view choices = p.choices;
    for (std::size_t i = 0;; ++i) {
        const std::size_t bar = choices.find('|');
        if (choices.substr(0, bar) == w) return i;
        if (bar == std::string_view::npos) break;
        choices.remove_prefix(bar + 1);
    }
    std::string listed;
    for (const char* c = p.choices; *c; ++c) listed += *c == '|' ? std::string(", ") : std::string(1, *c);
    fail(key, std::string(w), "is not one of " + listed);
}

template <class T>
std::size_t arguments<T>::positional() const noexcept {
    std::size_t n = 0;
    for (const auto& a : args_) n += a.key.empty();
    return n;
}

template <class T>
const detail::argument<T>& arguments<T>::nth(std::size_t i) const {
    for (const auto& a : args_)
        if (a.key.empty() && i-- == 0) return a;
    throw std::logic_error(std::string("clr::describe: ") + name_ + " reads a positional argument not given");
}

template <class T>
step_t arguments<T>::length_at(std::size_t i) const {
    const detail::argument<T>& a = nth(i);
    std::string why;
    const auto v = detail::read_length(a.value, why, run_);
    if (!v) throw invalid_parameter("clr::parse_schedule", "steps", std::string(a.value), why, a.at + 1);
    return *v;
}

}  // namespace clr

// The catalog parse_schedule reads, and the writer of text forms.
#include "catalog.hpp"

#endif  // CLR_DESCRIBE_HPP
