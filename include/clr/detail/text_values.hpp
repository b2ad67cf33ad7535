// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Values as a text form writes them (describe.hpp, text.hpp): numbers,
// whole counts, lengths in steps, epochs or shares of the run, and lists.
#ifndef CLR_DETAIL_TEXT_VALUES_HPP
#define CLR_DETAIL_TEXT_VALUES_HPP

#include "../schedule.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace clr {

// What the lengths of a text form count: steps always; epochs ("2.5ep") when
// steps_per_epoch is given, fractions of the run ("5%") when total_steps is.
// A length is rounded up to a whole step, as transformers rounds
// warmup_ratio; a product within rounding error of a whole step is that step
// (5% of 1000 is 50, not 51).
struct run_length {
    step_t steps_per_epoch = 0;  // 0: unknown
    step_t total_steps = 0;      // 0: unknown
};

namespace detail {

template <class T>
std::optional<T> read_number(std::string_view token, std::string& problem) {
    T v{};
    const auto r = std::from_chars(token.data(), token.data() + token.size(), v);
    if (r.ec == std::errc::result_out_of_range)
        problem = std::string("is out of range for ") + (std::is_same_v<T, float>    ? "float"
                                                         : std::is_same_v<T, double> ? "double"
                                                                                     : "long double");
    else if (r.ec != std::errc() || r.ptr != token.data() + token.size())
        problem = "is not a number";
    else
        return v;
    return std::nullopt;
}

inline std::optional<step_t> read_count(std::string_view token, std::string& problem, const run_length&) {
    step_t v = 0;
    const auto r = std::from_chars(token.data(), token.data() + token.size(), v);
    if (r.ec == std::errc() && r.ptr == token.data() + token.size()) return v;
    problem = "is not a whole number, 0 or more";
    return std::nullopt;
}

inline constexpr const char* not_a_length =
    "is not a step count (a whole number, 0 or more; or epochs, 2.5ep; or a share of the run, 5%)";

// A length: "100", "2.5ep" or "5%", in steps.
inline std::optional<step_t> read_length(std::string_view token, std::string& problem,
                                         const run_length& run) {
    step_t whole = 0;
    const auto r = std::from_chars(token.data(), token.data() + token.size(), whole);
    if (r.ec == std::errc() && r.ptr == token.data() + token.size()) return whole;
    const bool epochs = token.size() > 2 && token.substr(token.size() - 2) == "ep";
    const bool share = !token.empty() && token.back() == '%';
    const step_t per = epochs ? run.steps_per_epoch : run.total_steps;
    if (!epochs && !share) {
        problem = not_a_length;
        return std::nullopt;
    }
    if (per == 0) {
        problem = epochs ? "is in epochs, but the steps per epoch were not given (run_length)"
                         : "is a share of the run, but its total steps were not given (run_length)";
        return std::nullopt;
    }
    const std::string_view number = token.substr(0, token.size() - (epochs ? 2 : 1));
    long double x = 0;
    const auto n = std::from_chars(number.data(), number.data() + number.size(), x);
    if (n.ec != std::errc() || n.ptr != number.data() + number.size() || !(x >= 0) || !std::isfinite(x)) {
        problem = not_a_length;
        return std::nullopt;
    }
    const long double steps = x * static_cast<long double>(per) / (epochs ? 1.0L : 100.0L);
    const long double nearest = std::round(steps);
    const long double up =
        std::fabs(steps - nearest) <= 1e-9L * std::max(1.0L, steps) ? nearest : std::ceil(steps);
    if (up > static_cast<long double>(max_steps)) {
        problem = "is larger than 2^62 steps";
        return std::nullopt;
    }
    return static_cast<step_t>(up);
}

// The list "[a, b, c]" as its tokens.
inline std::optional<std::vector<std::string_view>> list_tokens(std::string_view v, std::string& problem) {
    std::vector<std::string_view> out;
    if (v.size() < 2 || v.front() != '[' || v.back() != ']') {
        problem = "is not a list such as [30, 80]";
        return std::nullopt;
    }
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    };
    const std::string_view inner = trim(v.substr(1, v.size() - 2));
    if (inner.empty()) return out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = inner.find(',', start);
        const std::string_view item =
            trim(inner.substr(start, comma == std::string_view::npos ? inner.npos : comma - start));
        if (item.empty() || item.find_first_of(" \t") != std::string_view::npos) {
            problem = "is not a list such as [30, 80]";
            return std::nullopt;
        }
        out.push_back(item);
        if (comma == std::string_view::npos) return out;
        start = comma + 1;
    }
}

}  // namespace detail

}  // namespace clr

#endif  // CLR_DETAIL_TEXT_VALUES_HPP
