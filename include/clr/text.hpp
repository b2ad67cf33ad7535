// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Schedules as text: one readable line per schedule, for config files,
// command lines, logs and checkpoints (Keras's serialize/deserialize).
//
//     to_string(clr::triangular<double>(0.001, 0.006, 2000))
//         == "triangular(base_lr=0.001, max_lr=0.006, step_size=2000)"
//     auto s = clr::parse_schedule<double>(
//         "sequence(linear(start_lr=0, end_lr=0.1, total_steps=100), 100, cosine(lr=0.1, total_steps=900))");
//     s(50) == 0.05, s(100) == 0.1, s(550) == 0.05
//
// The grammar:
//     schedule := name "(" [argument {"," argument}] ")"
//     argument := key "=" value | schedule | step count
//     value    := number | word | "[" [count {"," count}] "]"
// Leaf schedules take keyword arguments named as their C++ parameters, in
// any order; options left at their defaults are not written. warmup takes
// its schedule first; sequence alternates schedules and step counts, as
// clr::sequence does. Spaces between tokens are ignored. Each schedule's
// name, parameters and defaults come from its clr::describe (describe.hpp),
// which is also how a schedule of your own joins the text form:
//     clr::parse_schedule<double, my::halving<double>>("halving(lr=0.1, every=50)")
//
// Lengths (steps, periods, milestones, boundaries) may be written in steps
// (100), epochs (2.5ep) or as a share of the run (5%), given the run:
//     clr::parse_schedule<double>("wsd(lr=0.1, warmup=5%, stable=2ep, decay=20%)",
//                                 {/*steps_per_epoch=*/600, /*total_steps=*/6000})
// A length is rounded up to a whole step (see clr::run_length); a unit the
// run does not give is refused, naming the parameter. Lengths that default
// to the run (one_cycle's total_steps, "100%") need total_steps.
//
// Numbers are written in the shortest form that reads back as the same value
// of the schedule's type, so parse_schedule(to_string(s)) gives bit for bit
// the lr(t) and momentum(t) of s at every step, and to_string of it gives the
// same text. (long double values below its normal range, under 3.4e-4932,
// are refused when read.)
//
// parse_schedule refuses anything malformed with a clr::invalid_parameter
// naming the part and its column: an unknown schedule or parameter, a missing
// one, a bad number, trailing text. A value the schedule itself refuses
// (step_size=0) keeps the schedule's message, with the column added. The
// message is one short line whatever the text holds: the part is shown with
// a newline or other control character escaped (\n), and cut after a few
// dozen bytes, with its length, when longer (see clr::invalid_parameter).
// Hostile text is refused early: schedules nested more than 64 deep, more
// than 1024 schedules, more than 64 key=value arguments to one.
#ifndef CLR_TEXT_HPP
#define CLR_TEXT_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "schedule.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace clr {

// The one-line text form of a schedule, composed ones included. For an
// any_schedule, that of the schedule it holds (std::logic_error if that is a
// cyclic schedule with a user scale function).
template <class S, class = std::enable_if_t<is_schedule_v<S>>>
std::string to_string(const S& s) {
    static_assert(
        has_text_form_v<S>,
        "clr::to_string: a cyclic schedule with a user scale function has no text form (code, not data)");
    return detail::text_of(s);
}

namespace detail {

// The schedule's text, or "" when it has none (a user scale function).
template <class S>
std::string text_or_empty(const S& s) {
    if constexpr (has_text_form_v<S>) {
        try {
            return to_string(s);
        } catch (const std::logic_error&) {  // an any_schedule holding a user scale
            return {};
        }
    } else {
        return {};
    }
}

}  // namespace detail

namespace detail {

template <class T>
class schedule_parser {
public:
    schedule_parser(std::string_view text, run_length run, const std::vector<schedule_entry<T>>& known)
        : text_(text),
          run_(run),
          known_(known) {}

    any_schedule<T> parse() {
        any_schedule<T> s = schedule(0);
        skip_space();
        if (pos_ != text_.size()) fail("text", std::string(text_.substr(pos_)), "follows the schedule", pos_);
        return s;
    }

private:
    static constexpr const char* who = "clr::parse_schedule";
    // Deep enough for any real composition; a bound keeps hostile text from
    // exhausting the stack.
    static constexpr int max_depth = 64;
    static constexpr int max_schedules = 1024;
    // No schedule takes more than 12 parameters. The bound keeps the checks
    // that compare every key with every other (given twice?) and look each
    // name up in turn to a few thousand comparisons, where a megabyte of
    // distinct keys would take seconds to refuse.
    static constexpr std::size_t max_keywords = 64;

    using argument = detail::argument<T>;

    // ---- the grammar ----

    any_schedule<T> schedule(int depth) {
        skip_space();
        const std::size_t at = pos_;
        if (depth == max_depth)
            fail("text", excerpt(at), "nests schedules more than " + std::to_string(max_depth) + " deep", at);
        if (++schedules_ > max_schedules)
            fail("text", excerpt(at), "holds more than " + std::to_string(max_schedules) + " schedules", at);
        const std::string_view name = identifier();
        if (name.empty()) fail("schedule", excerpt(at), "is not a schedule name", at);
        skip_space();
        if (!eat('('))
            fail("schedule", std::string(name), "must be followed by its arguments in parentheses", at);
        std::vector<argument> args = argument_list(name, at, depth);
        return build(name, at, std::move(args));
    }

    std::vector<argument> argument_list(std::string_view name, std::size_t at, int depth) {
        std::vector<argument> args;
        std::size_t keywords = 0;
        skip_space();
        if (eat(')')) return args;
        for (;;) {
            args.push_back(one_argument(depth));
            if (!args.back().key.empty() && ++keywords > max_keywords)
                fail("schedule", std::string(name),
                     "has more than " + std::to_string(max_keywords) + " key=value arguments", at);
            skip_space();
            if (eat(',')) continue;
            if (eat(')')) return args;
            fail("text", excerpt(pos_),
                 pos_ == text_.size() ? "ends before the closing )" : "where , or ) belongs", pos_);
        }
    }

    argument one_argument(int depth) {
        skip_space();
        argument a;
        const std::size_t start = pos_;
        const std::string_view word = identifier();
        if (!word.empty()) {
            skip_space();
            if (peek() == '(') {  // a nested schedule
                pos_ = start;
                a.at = start;
                a.nested.emplace(schedule(depth + 1));
                a.value = text_.substr(start, pos_ - start);
                return a;
            }
            if (eat('=')) {
                a.key = word;
                skip_space();
            } else {
                pos_ = start;
            }
        }
        a.at = pos_;
        if (eat('[')) {
            const std::size_t close = text_.find(']', pos_);
            if (close == std::string_view::npos)
                fail(std::string(a.key), excerpt(a.at), "has no closing ]", a.at);
            pos_ = close + 1;
        } else {
            while (pos_ < text_.size() && is_token_char(text_[pos_])) ++pos_;
        }
        a.value = text_.substr(a.at, pos_ - a.at);
        if (a.value.empty())
            fail(a.key.empty() ? "text" : std::string(a.key), excerpt(a.at),
                 a.key.empty() ? "is not an argument" : "is not a value", a.at);
        return a;
    }

    // ---- one schedule, from its description ----

    any_schedule<T> build(std::string_view name, std::size_t at, std::vector<argument> args) {
        const schedule_entry<T>* e = nullptr;
        std::string names;
        for (const auto& k : known_) {
            if (name == k.name) e = &k;
            names += (names.empty() ? "" : ", ") + std::string(k.name);
        }
        if (!e) fail("schedule", std::string(name), "is not a schedule (known: " + names + ")", at);
        check(*e, at, args);
        const arguments<T> a(e->name, e->parameters, std::move(args), run_, at);
        try {
            return e->make(a);
        } catch (const invalid_parameter& x) {
            if (x.column()) throw;
            throw invalid_parameter(x.who(), x.param(), x.value(), x.problem(), a.at(x.param()) + 1);
        }
    }

    // What every schedule's arguments must be, before its maker reads them:
    // keys it takes, each once, the required ones all there, and a schedule
    // first where it takes one.
    void check(const schedule_entry<T>& e, std::size_t at, const std::vector<argument>& args) const {
        bool pieces = false, first_schedule = false;
        std::string takes;
        for (const parameter& p : e.parameters) {
            pieces = pieces || p.kind == value_kind::pieces;
            first_schedule = first_schedule || p.kind == value_kind::schedule;
            if (p.kind != value_kind::schedule && p.kind != value_kind::pieces)
                takes += (takes.empty() ? "" : ", ") + std::string(p.key);
        }
        if (first_schedule && (args.empty() || !args.front().nested))
            fail("schedule", args.empty() ? "(missing)" : std::string(args.front().value),
                 "must come first in " + std::string(e.name) + "(schedule, " + takes + ")",
                 args.empty() ? at : args.front().at);
        // Every pair: argument_list() has kept their number to max_keywords.
        for (std::size_t i = 0; i < args.size(); ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (!args[i].key.empty() && args[j].key == args[i].key)
                    fail(std::string(args[i].key), std::string(args[i].value), "is given twice", args[i].at);
        for (std::size_t i = 0; i < args.size(); ++i) {
            const argument& a = args[i];
            if (a.key.empty()) {
                if (!pieces && !(first_schedule && i == 0))
                    fail(e.name, std::string(a.value),
                         first_schedule ? "takes key=value arguments after its schedule"
                                        : "takes key=value arguments only",
                         a.at);
                continue;
            }
            const parameter* p = e.parameters.find(a.key);
            if (!p || p->kind == value_kind::schedule || p->kind == value_kind::pieces)
                fail(std::string(a.key), std::string(a.value),
                     "is not a parameter of " + std::string(e.name) + " (it takes " + takes + ")", a.at);
        }
        for (const parameter& p : e.parameters) {
            if (p.fallback != required || p.kind == value_kind::schedule || p.kind == value_kind::pieces)
                continue;
            bool given = false;
            for (const argument& a : args) given = given || a.key == p.key;
            if (!given) fail(p.key, "(missing)", "is required by " + std::string(e.name), at);
        }
    }

    // ---- characters ----

    static bool is_token_char(char c) noexcept {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               c == '.' || c == '+' || c == '-' || c == '%';
    }

    std::string_view identifier() {
        const std::size_t start = pos_;
        auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
        if (pos_ < text_.size() && letter(text_[pos_])) {
            while (pos_ < text_.size() && (letter(text_[pos_]) || (text_[pos_] >= '0' && text_[pos_] <= '9')))
                ++pos_;
        }
        return text_.substr(start, pos_ - start);
    }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
    }

    char peek() const noexcept { return pos_ < text_.size() ? text_[pos_] : '\0'; }

    bool eat(char c) {
        if (peek() != c) return false;
        ++pos_;
        return true;
    }

    // The text from `at` on, cut after 24 bytes (not inside a UTF-8
    // character); invalid_parameter escapes what it holds.
    std::string excerpt(std::size_t at) const {
        if (at >= text_.size()) return "(end of text)";
        std::size_t n = std::min<std::size_t>(24, text_.size() - at);
        while (at + n < text_.size() && n > 0 && (static_cast<unsigned char>(text_[at + n]) & 0xC0u) == 0x80u)
            --n;
        return std::string(text_.substr(at, n)) + (text_.size() - at > n ? "..." : "");
    }

    static const char* type_name() noexcept {
        return std::is_same_v<T, float> ? "float" : std::is_same_v<T, double> ? "double" : "long double";
    }

    [[noreturn]] void fail(const std::string& param, const std::string& value, const std::string& problem,
                           std::size_t at) const {
        throw invalid_parameter(who, param, value, problem, at + 1);
    }

    std::string_view text_;
    run_length run_;
    const std::vector<schedule_entry<T>>& known_;
    std::size_t pos_ = 0;
    int schedules_ = 0;
};

}  // namespace detail

// Reads what to_string writes, into a schedule chosen at run time:
//     auto s = clr::parse_schedule<float>("one_cycle(max_lr=0.1, total_steps=1000)");
// run says what a length in epochs or % counts (see clr::run_length); Extra
// are schedules of the user's own, each with a clr::describe, read beside the
// library's. Throws clr::invalid_parameter naming the bad part and its column.
template <class T, class... Extra>
any_schedule<T> parse_schedule(std::string_view text, run_length run = {}) {
    static_assert(std::is_floating_point_v<T>, "clr::parse_schedule<T>: T is float, double or long double");
    return detail::schedule_parser<T>(text, run, schedule_catalog<T, Extra...>()).parse();
}

}  // namespace clr

// Every schedule of the library, so that parse_schedule reads them all.
#include "clr.hpp"

#endif  // CLR_TEXT_HPP
