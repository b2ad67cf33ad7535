// Checks every schedule's tests share: against a double table in float,
// the text form read back bit for bit, and a refusal naming its parameter.
#ifndef CLR_TESTS_SCHEDULE_CHECKS_HPP
#define CLR_TESTS_SCHEDULE_CHECKS_HPP

#include <clr/text.hpp>

#include "reference.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

namespace clr_test {

inline constexpr clr::step_t last_step = std::numeric_limits<clr::step_t>::max();
// The reference tables are double evaluations of the published formulas,
// which the schedules follow operation for operation.
inline constexpr double reference_tolerance = 1e-12;
// float against the same tables, relative to the larger of the value and the
// schedule's peak (see worst_float_error).
inline constexpr double float_tolerance = 1e-6;

// The worst error of a float schedule against a double table, relative to the
// larger of the value and the schedule's peak: a warmup starts at 0, where a
// relative error alone would ask float for more than it holds.
template <class S>
double worst_float_error(const S& s, const reference_table& table, double peak) {
    double worst = 0.0;
    for (std::size_t i = 0; i < table.step.size(); ++i) {
        const double got = static_cast<double>(s(table.step[i]));
        const double err = std::isfinite(got)
                               ? std::abs(got - table.lr[i]) / std::max(std::abs(table.lr[i]), peak)
                               : std::numeric_limits<double>::infinity();
        worst = worse(worst, err);
    }
    return worst;
}

// to_string gives `text`; parse_schedule reads it back to the same values,
// bit for bit, and the same text.
template <class S>
void reads_back(const S& s, const std::string& text) {
    using T = typename S::value_type;
    REQUIRE(clr::to_string(s) == text);
    const clr::any_schedule<T> back = clr::parse_schedule<T>(text);
    CHECK(clr::to_string(back) == text);
    for (clr::step_t t = 0; t < 1000; ++t) {
        CAPTURE(t);
        REQUIRE(back(t) == s(t));
    }
    CHECK(back(last_step) == s(last_step));
    CHECK(back.bounds().lo == s.bounds().lo);
    CHECK(back.bounds().hi == s.bounds().hi);
}

// make() throws a clr::invalid_parameter from `who` naming `param`, whose
// problem says `says`.
template <class Make>
void refused(Make&& make, const char* who, const char* param, const char* says) {
    try {
        (void)make();
    } catch (const clr::invalid_parameter& e) {
        CHECK(e.who() == who);
        CHECK(e.param() == param);
        CHECK_THAT(e.problem(), Catch::Contains(says));
        return;
    }
    FAIL("accepted");
}

}  // namespace clr_test

#endif  // CLR_TESTS_SCHEDULE_CHECKS_HPP
