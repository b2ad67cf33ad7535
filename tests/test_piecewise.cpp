// piecewise: a rate through given points, step for step optax's
// piecewise_interpolate_schedule and piecewise_constant_schedule
// (tests/data/piecewise_*.csv, scripts/gen_schedule_reference.py).
#include <clr/piecewise.hpp>
#include <clr/text.hpp>

#include "reference.hpp"
#include "schedule_checks.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

using clr::interpolation;
using clr::step_t;
using namespace clr_test;  // NOLINT(google-build-using-namespace): the checks every schedule shares

namespace {

// Inside bounds() at every step up to past the last point; the last value
// from the last step on.
template <class S>
void holds_and_stays_inside(const S& s) {
    const auto b = s.bounds();
    const step_t end = s.step(s.point_count() - 1);
    const auto last = s.value(s.point_count() - 1);
    REQUIRE(b.lo <= b.hi);
    for (step_t t = 0; t < end + 100; ++t) {
        CAPTURE(t);
        REQUIRE(b.contains(s(t)));
    }
    for (const step_t t : {end, end + 1, step_t(1) << 53, step_t(1) << 62, last_step}) {
        CAPTURE(t);
        CHECK(s(t) == last);
        CHECK_FALSE(s.momentum(t).has_value());
    }
}

}  // namespace

TEST_CASE("piecewise holds its points in itself", "[piecewise]") {
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::piecewise<double>>);
    STATIC_REQUIRE(clr::piecewise<float>::max_points == 16);
    STATIC_REQUIRE(clr::has_text_form_v<clr::piecewise<double>>);
}

TEST_CASE("piecewise: the header's example", "[piecewise]") {
    const clr::piecewise<double> s({0, 100, 1000}, {0.0, 0.1, 0.001});
    CHECK(s.interpolation_kind() == interpolation::linear);
    CHECK(s(0) == 0.0);
    CHECK(s(50) == 0.05);
    CHECK(s(100) == 0.1);
    CHECK(s(550) == Approx(0.0505).epsilon(1e-15));
    CHECK(s(1000) == 0.001);
    CHECK(s.bounds().lo == 0.0);
    CHECK(s.bounds().hi == 0.1);
    holds_and_stays_inside(s);

    const auto c =
        clr::piecewise<double>({100, 300}, {0.1, 0.05}).with_interpolation(interpolation::constant);
    CHECK(c(0) == 0.1);
    CHECK(c(299) == 0.1);
    CHECK(c(300) == 0.05);
    holds_and_stays_inside(c);

    // The cosine passes the same midpoints; before the first step, the first value.
    const auto cos =
        clr::piecewise<double>({200, 400}, {0.02, 0.01}).with_interpolation(interpolation::cosine);
    CHECK(cos(0) == 0.02);
    CHECK(cos(199) == 0.02);
    CHECK(cos(200) == 0.02);
    CHECK(cos(300) == Approx(0.015).epsilon(1e-15));
    CHECK(cos(400) == 0.01);
    holds_and_stays_inside(cos);

    // One point: that value everywhere.
    const clr::piecewise<float> one({50}, {0.25f});
    CHECK(one(0) == 0.25f);
    CHECK(one(last_step) == 0.25f);
    holds_and_stays_inside(one);
}

TEST_CASE("piecewise: matches optax's piecewise schedules", "[piecewise][reference]") {
    struct row {
        const char* file;
        step_t rows;
        std::vector<step_t> steps;
        std::vector<double> values;
        interpolation how;
    };
    const row rows[] = {
        {"piecewise_linear.csv", 1300, {0, 100, 1000}, {0.0, 0.1, 0.001}, interpolation::linear},
        {"piecewise_cosine.csv", 1300, {0, 100, 1000}, {0.0, 0.1, 0.001}, interpolation::cosine},
        {"piecewise_constant.csv", 800, {100, 300, 600}, {0.1, 0.05, 0.01}, interpolation::constant},
        {"piecewise_linear_offset.csv", 1100, {200, 500, 800}, {0.05, 0.2, 0.01}, interpolation::linear},
    };
    for (const row& r : rows) {
        INFO(r.file);
        const auto table = load_reference(r.file, r.rows);
        const auto s = clr::piecewise<double>(r.steps, r.values).with_interpolation(r.how);
        CHECK(worst_relative_error(s, table) <= reference_tolerance);
        for (const double v : table.lr) CHECK(s.bounds().contains(v));
        holds_and_stays_inside(s);
        const auto f = clr::piecewise<float>(r.steps, r.values).with_interpolation(r.how);
        CHECK(worst_float_error(f, table, s.bounds().hi) <= float_tolerance);
        holds_and_stays_inside(f);
    }
}

TEST_CASE("piecewise: each segment stays between its end values", "[piecewise]") {
    // 0.1 + (0.3 - 0.1) p rounds past 0.3 near p = 1 on its own.
    for (const interpolation how : {interpolation::linear, interpolation::cosine}) {
        const auto s =
            clr::piecewise<double>({0, 7, 1000, 1003}, {0.1, 0.3, 0.1, 0.7}).with_interpolation(how);
        CHECK(s.bounds().lo == 0.1);
        CHECK(s.bounds().hi == 0.7);
        holds_and_stays_inside(s);
        const auto far = clr::piecewise<float>({0, step_t(1) << 62}, {0.3f, 0.1f}).with_interpolation(how);
        for (const step_t t : {step_t(1), (step_t(1) << 62) - 1, step_t(1) << 62, last_step})
            CHECK(far.bounds().contains(far(t)));
    }
}

TEST_CASE("piecewise: text form, lengths in steps, epochs and shares", "[piecewise][text]") {
    reads_back(clr::piecewise<double>({0, 100, 1000}, {0.0, 0.1, 0.001}),
               "piecewise(steps=[0, 100, 1000], values=[0, 0.1, 0.001])");
    reads_back(
        clr::piecewise<double>({0, 100, 1000}, {0.0, 0.1, 0.001}).with_interpolation(interpolation::cosine),
        "piecewise(steps=[0, 100, 1000], values=[0, 0.1, 0.001], interpolation=cosine)");
    reads_back(clr::piecewise<float>({100, 300, 600}, {0.1f, 0.05f, 0.01f})
                   .with_interpolation(interpolation::constant),
               "piecewise(steps=[100, 300, 600], values=[0.1, 0.05, 0.01], interpolation=constant)");
    reads_back(clr::piecewise<float>({200, 500, 800}, {0.05f, 0.2f, 0.01f}),
               "piecewise(steps=[200, 500, 800], values=[0.05, 0.2, 0.01])");
    reads_back(clr::piecewise<double>({7}, {1e-5}), "piecewise(steps=[7], values=[1e-05])");

    const clr::run_length run{300, 3000};
    CHECK(clr::to_string(
              clr::parse_schedule<double>("piecewise(steps=[0, 1ep, 50%], values=[0, 0.1, 0.001])", run)) ==
          "piecewise(steps=[0, 300, 1500], values=[0, 0.1, 0.001])");
    CHECK(clr::to_string(clr::parse_schedule<float>(
              "piecewise(steps=[5%, 2.5ep, 100%], values=[0.1, 0.2, 0], interpolation=cosine)", run)) ==
          "piecewise(steps=[150, 750, 3000], values=[0.1, 0.2, 0], interpolation=cosine)");
}

TEST_CASE("piecewise: bad points are refused, naming steps or values", "[piecewise][errors]") {
    const char* who = "clr::piecewise";
    using steps = std::vector<step_t>;
    using values = std::vector<double>;
    refused([] { return clr::piecewise<double>(steps{}, values{}); }, who, "steps", "at least one step");
    refused(
        [] {
            return clr::piecewise<double>({0, 10}, {0.1});
        },
        who, "values", "has 1 values for 2 steps: give one value per step");
    refused(
        [] {
            return clr::piecewise<double>({0}, {0.1, 0.2});
        },
        who, "values", "has 2 values for 1 steps");
    refused(
        [] {
            return clr::piecewise<double>({0, 10, 10}, {0.1, 0.2, 0.3});
        },
        who, "steps", "must be strictly increasing: 10 follows 10");
    refused(
        [] {
            return clr::piecewise<double>({0, 10, 5}, {0.1, 0.2, 0.3});
        },
        who, "steps", "must be strictly increasing: 5 follows 10");
    refused(
        [] {
            return clr::piecewise<double>(std::vector<int>{0, -5}, values{0.1, 0.2});
        },
        who, "steps", "2^62");
    refused(
        [] {
            return clr::piecewise<double>({0, 10}, {0.1, -0.2});
        },
        who, "values", "holds -0.2: rates must not be negative");
    refused(
        [] {
            return clr::piecewise<double>({0, 10}, {std::nan(""), 0.2});
        },
        who, "values", "holds nan, not finite");
    refused(
        [] {
            return clr::piecewise<float>(steps{0, 10}, values{0.1, 1e300});
        },
        who, "values", "holds 1e+300, beyond the range");

    steps many;
    values v;
    for (step_t i = 0; i < 17; ++i) {
        many.push_back(i);
        v.push_back(0.1);
    }
    refused([&] { return clr::piecewise<double>(many, v); }, who, "steps",
            "has 17 entries; at most 16 points");
    refused(
        [&] {
            return clr::piecewise<double>(steps{0, 1}, v);
        },
        who, "values", "has 17 entries; at most 16 points");
    many.pop_back();
    v.pop_back();
    CHECK(clr::piecewise<double>(many, v)(last_step) == 0.1);  // 16 are allowed

    const auto parse = [](const char* text) { return [text] { return clr::parse_schedule<double>(text); }; };
    refused(parse("piecewise(steps=[], values=[])"), who, "steps", "at least one step");
    refused(parse("piecewise(steps=[0, 10], values=[0.1])"), who, "values", "has 1 values for 2 steps");
    refused(parse("piecewise(steps=[0, 10], values=[0.1, -0.2])"), who, "values", "must not be negative");
    refused(parse("piecewise(steps=[10, 0], values=[0.1, 0.2])"), who, "steps", "strictly increasing");
    refused(parse("piecewise(steps=[0, 10], values=[0.1, x])"), "clr::parse_schedule", "values",
            "is not a number");
    refused(parse("piecewise(steps=[0, 10])"), "clr::parse_schedule", "values", "is required by piecewise");
    refused(parse("piecewise(steps=[0, 10], values=[0.1, 0.2], interpolation=cos)"), "clr::parse_schedule",
            "interpolation", "is not one of linear, cosine, constant");
}
