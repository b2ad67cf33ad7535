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
// clr::sequence does. Spaces between tokens are ignored.
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
#include "compose.hpp"
#include "cosine_restarts.hpp"
#include "cyclic.hpp"
#include "decay.hpp"
#include "lr_finder.hpp"
#include "one_cycle.hpp"
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
    detail::text_writer w;
    write_text(w, s);
    return w.finish();
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

template <class T>
class schedule_parser {
public:
    explicit schedule_parser(std::string_view text) : text_(text) {}

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
    // No schedule takes more than 9 parameters. The bound keeps the checks
    // that compare every key with every other (given twice?) and look each
    // name up in turn to a few thousand comparisons, where a megabyte of
    // distinct keys would take seconds to refuse.
    static constexpr std::size_t max_keywords = 64;

    struct argument {
        std::string_view key;  // empty: positional
        std::string_view value;
        std::size_t at = 0;  // offset of the value
        std::optional<any_schedule<T>> nested;
        bool used = false;
    };

    // The keyword arguments of one leaf schedule, taken by name.
    class fields {
    public:
        fields(schedule_parser& p, std::string_view name, std::size_t at, std::vector<argument> args)
            : p_(p),
              name_(name),
              at_(at),
              args_(std::move(args)) {
            // Every pair: arguments() has kept their number to max_keywords.
            for (std::size_t i = 0; i < args_.size(); ++i)
                for (std::size_t j = 0; j < i; ++j)
                    if (args_[i].key == args_[j].key)
                        p_.fail(std::string(args_[i].key), std::string(args_[i].value), "is given twice",
                                args_[i].at);
        }

        // A required value missing reads as zero here and is reported by
        // finish(), after any unknown parameter (a misspelt name is the
        // likelier mistake, and the more useful message).
        T number(const char* key) {
            const argument* a = take(key, true);
            return a ? p_.number(a) : T(0);
        }
        std::optional<T> number_or_none(const char* key) {
            const argument* a = take(key, false);
            return a ? std::optional<T>(p_.number(a)) : std::nullopt;
        }
        step_t count(const char* key) {
            const argument* a = take(key, true);
            return a ? p_.count(*a) : 0;
        }
        std::optional<step_t> count_or_none(const char* key) {
            const argument* a = take(key, false);
            return a ? std::optional<step_t>(p_.count(*a)) : std::nullopt;
        }
        // One of `choices`: its index, or `fallback` when the key is not given.
        std::size_t choice(const char* key, std::initializer_list<const char*> choices,
                           std::size_t fallback) {
            const argument* a = take(key, false);
            if (!a) return fallback;
            std::size_t i = 0;
            std::string listed;
            for (const char* c : choices) {
                if (a->value == c) return i;
                listed += (i ? ", " : "") + std::string(c);
                ++i;
            }
            p_.fail(key, std::string(a->value), "is not one of " + listed, a->at);
        }
        std::vector<step_t> counts(const char* key) {
            const argument* a = take(key, true);
            return a ? p_.list(*a) : std::vector<step_t>();
        }
        bool given(const char* key) const {
            for (const auto& a : args_)
                if (a.key == key) return true;
            return false;
        }

        // After every take: anything left over is not a parameter of this
        // schedule.
        void finish() const {
            for (const auto& a : args_)
                if (!a.used)
                    p_.fail(std::string(a.key), std::string(a.value),
                            "is not a parameter of " + std::string(name_) + " (it takes " + taken_ + ")",
                            a.at);
            if (!missing_.empty())
                p_.fail(missing_, "(missing)", "is required by " + std::string(name_), at_);
        }

        // Builds the schedule, adding the column of the refused value to a
        // constructor's error.
        template <class Make>
        any_schedule<T> make(Make&& build) const {
            finish();
            try {
                return build();
            } catch (const invalid_parameter& e) {
                std::size_t at = at_;
                for (const auto& a : args_)
                    if (a.key == e.param()) at = a.at;
                throw invalid_parameter(e.who(), e.param(), e.value(), e.problem(), at + 1);
            }
        }

        std::string_view name() const noexcept { return name_; }
        std::size_t at() const noexcept { return at_; }

    private:
        const argument* take(const char* key, bool required) {
            taken_ += (taken_.empty() ? "" : ", ") + std::string(key);
            for (auto& a : args_)
                if (a.key == key) {
                    a.used = true;
                    return &a;
                }
            if (required && missing_.empty()) missing_ = key;
            return nullptr;
        }

        schedule_parser& p_;
        std::string_view name_;
        std::size_t at_;
        std::vector<argument> args_;
        std::string taken_;
        std::string missing_;  // the first required parameter not given
    };

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
        std::vector<argument> args = arguments(name, at, depth);
        return build(name, at, std::move(args));
    }

    std::vector<argument> arguments(std::string_view name, std::size_t at, int depth) {
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

    any_schedule<T> build(std::string_view name, std::size_t at, std::vector<argument> args) {
        if (name == "sequence") return sequence(at, args);
        if (name == "warmup") return warmup(at, std::move(args));
        for (const auto& a : args)
            if (a.key.empty())
                fail(std::string(name), std::string(a.value), "takes key=value arguments only", a.at);
        fields f(*this, name, at, std::move(args));
        if (name == "constant") {
            const T lr = f.number("lr");
            return f.make([&] { return constant<T>(lr); });
        }
        if (name == "triangular") return cyclic_of<triangular_window, no_scale>(f);
        if (name == "triangular2") return cyclic_of<triangular_window, halving_scale>(f);
        if (name == "exp_range") return cyclic_of<triangular_window, exp_scale<T>>(f);
        if (name == "welch") return cyclic_of<welch_window, no_scale>(f);
        if (name == "hann") return cyclic_of<hann_window, no_scale>(f);
        if (name == "cyclic") return general_cyclic(f);
        if (name == "cosine_restarts") return cosine_restarts_of(f);
        if (name == "one_cycle") return one_cycle_of(f);
        if (name == "cosine") {
            const T lr = f.number("lr");
            const step_t total = f.count("total_steps");
            const auto eta_min = f.number_or_none("eta_min");
            return f.make([&] {
                const cosine<T> c(lr, total);
                return eta_min ? c.with_eta_min(*eta_min) : c;
            });
        }
        if (name == "linear") {
            const T start = f.number("start_lr"), end = f.number("end_lr");
            const step_t total = f.count("total_steps");
            return f.make([&] { return linear<T>(start, end, total); });
        }
        if (name == "polynomial") {
            const T lr = f.number("lr"), end = f.number("end_lr");
            const step_t total = f.count("total_steps");
            const T power = f.number("power");
            return f.make([&] { return polynomial<T>(lr, end, total, power); });
        }
        if (name == "exponential") {
            const T lr = f.number("lr"), gamma = f.number("gamma");
            return f.make([&] { return exponential<T>(lr, gamma); });
        }
        if (name == "step_decay") {
            const T lr = f.number("lr");
            const step_t size = f.count("step_size");
            const T gamma = f.number("gamma");
            return f.make([&] { return step_decay<T>(lr, size, gamma); });
        }
        if (name == "multistep") {
            const T lr = f.number("lr");
            const std::vector<step_t> milestones = f.counts("milestones");
            const T gamma = f.number("gamma");
            return f.make([&] { return multistep<T>(lr, milestones, gamma); });
        }
        if (name == "range_sweep") {
            const T lo = f.number("min_lr"), hi = f.number("max_lr");
            const step_t steps = f.count("steps");
            const bool linear_sweep = f.choice("shape", {"exponential", "linear"}, 0) == 1;
            return f.make([&] {
                return range_sweep<T>(lo, hi, steps, linear_sweep ? sweep::linear : sweep::exponential);
            });
        }
        fail("schedule", std::string(name),
             "is not a schedule (known: constant, triangular, triangular2, exp_range, welch, hann, cyclic, "
             "cosine_restarts, one_cycle, cosine, linear, polynomial, exponential, step_decay, multistep, "
             "range_sweep, warmup, sequence)",
             at);
    }

    template <class Window, class Scale>
    any_schedule<T> cyclic_of(fields& f) {
        const T base = f.number("base_lr"), max = f.number("max_lr");
        const step_t up = f.count("step_size");
        const auto down = f.count_or_none("step_size_down");
        std::optional<T> gamma;
        if constexpr (!std::is_same_v<Scale, no_scale> && !std::is_same_v<Scale, halving_scale>)
            gamma = f.number_or_none("gamma");
        const auto m = momentum_pair(f, std::nullopt);
        return f.make([&] {
            Scale scale;
            if constexpr (!std::is_same_v<Scale, no_scale> && !std::is_same_v<Scale, halving_scale>)
                if (gamma) scale = Scale(*gamma);
            cyclic<T, Window, Scale> c(base, max, up, scale);
            if (down) c = c.with_step_size_down(*down);
            if (m) c = c.with_momentum(m->lo, m->hi);
            return c;
        });
    }

    any_schedule<T> general_cyclic(fields& f) {
        const std::size_t window = f.choice("window", {"triangular", "welch", "hann"}, 0);
        const std::size_t scale = f.choice("scale", {"none", "halving", "exp"}, 0);
        switch (window * 3 + scale) {
            case 0: return cyclic_of<triangular_window, no_scale>(f);
            case 1: return cyclic_of<triangular_window, halving_scale>(f);
            case 2: return cyclic_of<triangular_window, exp_scale<T>>(f);
            case 3: return cyclic_of<welch_window, no_scale>(f);
            case 4: return cyclic_of<welch_window, halving_scale>(f);
            case 5: return cyclic_of<welch_window, exp_scale<T>>(f);
            case 6: return cyclic_of<hann_window, no_scale>(f);
            case 7: return cyclic_of<hann_window, halving_scale>(f);
            default: return cyclic_of<hann_window, exp_scale<T>>(f);
        }
    }

    // base_momentum and max_momentum: both or neither where the schedule has
    // no default for them (`defaults` empty), else the one not given takes
    // its default.
    std::optional<range<T>> momentum_pair(fields& f, std::optional<range<T>> defaults) {
        const auto base = f.number_or_none("base_momentum");
        const auto max = f.number_or_none("max_momentum");
        if (!base && !max) return std::nullopt;
        if (!defaults && !(base && max))
            fail(base ? "max_momentum" : "base_momentum", "(missing)",
                 "is required by " + std::string(f.name()) + " with " +
                     (base ? "base_momentum" : "max_momentum"),
                 f.at());
        return range<T>{base ? *base : defaults->lo, max ? *max : defaults->hi};
    }

    any_schedule<T> cosine_restarts_of(fields& f) {
        const T eta_max = f.number("eta_max");
        const step_t t0 = f.count("T_0");
        const auto eta_min = f.number_or_none("eta_min");
        const auto t_mult = f.number_or_none("T_mult");
        const auto m_mul = f.number_or_none("m_mul");
        return f.make([&] {
            cosine_restarts<T> c(eta_max, t0);
            if (eta_min) c = c.with_eta_min(*eta_min);
            if (t_mult) c = c.with_t_mult(*t_mult);
            if (m_mul) c = c.with_m_mul(*m_mul);
            return c;
        });
    }

    any_schedule<T> one_cycle_of(fields& f) {
        const T max_lr = f.number("max_lr");
        const step_t total = f.count("total_steps");
        const auto pct = f.number_or_none("pct_start");
        const auto div = f.number_or_none("div_factor");
        const auto final_div = f.number_or_none("final_div_factor");
        const std::size_t how = f.choice("anneal", {"cos", "linear"}, 0);
        const bool three = f.choice("three_phase", {"false", "true"}, 0) == 1;
        const auto m = momentum_pair(
            f, range<T>{one_cycle<T>::default_base_momentum, one_cycle<T>::default_max_momentum});
        return f.make([&] {
            // div_factor before final_div_factor: each option checks the
            // rates it implies, and max_lr / div_factor comes first.
            one_cycle<T> c(max_lr, total);
            if (div) c = c.with_div_factor(*div);
            if (final_div) c = c.with_final_div_factor(*final_div);
            if (three) c = c.with_three_phase(true);
            if (pct) c = c.with_pct_start(*pct);
            if (how == 1) c = c.with_anneal(anneal::linear);
            if (m) c = c.with_momentum(m->lo, m->hi);
            return c;
        });
    }

    any_schedule<T> warmup(std::size_t at, std::vector<argument> args) {
        if (args.empty() || !args.front().nested)
            fail("schedule", args.empty() ? "(missing)" : std::string(args.front().value),
                 "must come first in warmup(schedule, steps=..., start_lr=...)",
                 args.empty() ? at : args.front().at);
        any_schedule<T> inner = *args.front().nested;
        args.erase(args.begin());
        for (const auto& a : args)
            if (a.key.empty())
                fail("warmup", std::string(a.value), "takes key=value arguments after its schedule", a.at);
        fields f(*this, "warmup", at, std::move(args));
        const step_t steps = f.count("steps");
        const T start = f.number("start_lr");
        return f.make([&] { return clr::warmup(inner, steps, start); });
    }

    // sequence(a, n1, b, n2, c): built to the right, as clr::sequence is.
    any_schedule<T> sequence(std::size_t at, const std::vector<argument>& args) {
        for (std::size_t i = 0; i < args.size(); ++i) {
            const argument& a = args[i];
            const bool want_schedule = i % 2 == 0;
            if (!a.key.empty() || bool(a.nested) != want_schedule)
                fail("sequence", std::string(a.value),
                     want_schedule ? "is not a schedule (sequence takes schedule, steps, schedule, ...)"
                                   : "is not a step count (sequence takes schedule, steps, schedule, ...)",
                     a.at);
        }
        if (args.size() < 3 || args.size() % 2 == 0)
            fail("sequence", std::to_string(args.size()) + " arguments",
                 "are not schedule, steps, schedule[, steps, schedule ...]", at);
        any_schedule<T> tail = *args.back().nested;
        for (std::size_t i = args.size() - 1; i >= 2; i -= 2) {
            const step_t n = count(args[i - 1]);
            try {
                tail = sequence_schedule<any_schedule<T>, any_schedule<T>>(*args[i - 2].nested, n, tail);
            } catch (const invalid_parameter& e) {
                fail("boundary", e.value(), "is larger than 2^62", args[i - 1].at);
            }
        }
        return tail;
    }

    // ---- values ----

    T number(const argument* a) {
        T v{};
        const char* first = a->value.data();
        const char* last = first + a->value.size();
        const auto r = std::from_chars(first, last, v);
        if (r.ec == std::errc::result_out_of_range)
            fail(std::string(a->key), std::string(a->value),
                 std::string("is out of range for ") + type_name(), a->at);
        if (r.ec != std::errc() || r.ptr != last)
            fail(std::string(a->key), std::string(a->value), "is not a number", a->at);
        return v;
    }

    step_t count(const argument& a) {
        return count_token(a.key.empty() ? "steps" : std::string(a.key), a.value, a.at);
    }

    step_t count_token(const std::string& key, std::string_view token, std::size_t at) {
        step_t v = 0;
        const char* first = token.data();
        const char* last = first + token.size();
        const auto r = std::from_chars(first, last, v);
        if (r.ec != std::errc() || r.ptr != last)
            fail(key, std::string(token), "is not a step count (a whole number, 0 or more)", at);
        return v;
    }

    // [30, 80]
    std::vector<step_t> list(const argument& a) {
        std::vector<step_t> out;
        std::string_view inner = a.value;
        if (inner.size() < 2 || inner.front() != '[' || inner.back() != ']')
            fail(std::string(a.key), std::string(a.value), "is not a list such as [30, 80]", a.at);
        std::size_t p = 1;
        const std::size_t end = inner.size() - 1;
        auto space = [&] {
            while (p < end && (inner[p] == ' ' || inner[p] == '\t')) ++p;
        };
        space();
        if (p == end) return out;
        for (;;) {
            space();
            const std::size_t start = p;
            while (p < end && inner[p] != ',' && inner[p] != ' ' && inner[p] != '\t') ++p;
            out.push_back(count_token(std::string(a.key), inner.substr(start, p - start), a.at + start));
            space();
            if (p == end) return out;
            if (inner[p] != ',')
                fail(std::string(a.key), std::string(a.value), "is not a list such as [30, 80]", a.at + p);
            ++p;
        }
    }

    // ---- characters ----

    static bool is_token_char(char c) noexcept {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               c == '.' || c == '+' || c == '-';
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
    std::size_t pos_ = 0;
    int schedules_ = 0;
};

}  // namespace detail

// Reads what to_string writes, into a schedule chosen at run time:
//     auto s = clr::parse_schedule<float>("one_cycle(max_lr=0.1, total_steps=1000)");
// Throws clr::invalid_parameter naming the bad part and its column.
template <class T>
any_schedule<T> parse_schedule(std::string_view text) {
    static_assert(std::is_floating_point_v<T>, "clr::parse_schedule<T>: T is float, double or long double");
    return detail::schedule_parser<T>(text).parse();
}

}  // namespace clr

#endif  // CLR_TEXT_HPP
