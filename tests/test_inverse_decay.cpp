// inverse_sqrt and inverse_time: step for step transformers'
// get_inverse_sqrt_schedule and Keras's InverseTimeDecay
// (tests/data/inverse_*.csv, scripts/gen_schedule_reference.py).
#include <clr/inverse_decay.hpp>
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

using clr::step_t;
using namespace clr_test;  // NOLINT(google-build-using-namespace): the checks every schedule shares

namespace {

// Neither decay ends: finite, inside bounds() and never rising, from the
// table's steps out to the last step.
template <class S>
void falls_inside(const S& s, step_t from) {
    const auto b = s.bounds();
    REQUIRE(b.lo <= b.hi);
    for (step_t t = 0; t < 5000; ++t) {
        CAPTURE(t);
        REQUIRE(b.contains(s(t)));
        if (t > from) REQUIRE(s(t) <= s(t - 1));
    }
    step_t before = from;
    for (const step_t t : {step_t(1) << 24, (step_t(1) << 24) + 1, step_t(1) << 53, step_t(1) << 62,
                           step_t(1) << 63, last_step - 1, last_step}) {
        CAPTURE(t);
        CHECK(std::isfinite(s(t)));
        CHECK(b.contains(s(t)));
        CHECK(s(t) <= s(before));
        CHECK_FALSE(s.momentum(t).has_value());
        before = t;
    }
}

auto parse(const char* text) {
    return [text] { return clr::parse_schedule<double>(text); };
}
}  // namespace

TEST_CASE("inverse decays are small trivially copyable values", "[inverse_sqrt][inverse_time]") {
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::inverse_sqrt<double>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::inverse_time<float>>);
    STATIC_REQUIRE(clr::has_text_form_v<clr::inverse_sqrt<float>>);
    STATIC_REQUIRE(clr::has_text_form_v<clr::inverse_time<double>>);
}

// ---- inverse_sqrt ----------------------------------------------------------------

TEST_CASE("inverse_sqrt: the header's example", "[inverse_sqrt]") {
    const auto a = clr::inverse_sqrt<double>(0.1, 100);
    CHECK(a.timescale() == 100);
    CHECK(a(0) == 0.0);
    CHECK(a(50) == 0.05);
    CHECK(a(100) == 0.1);
    CHECK(a(400) == 0.05);
    CHECK(a(10000) == Approx(0.01).epsilon(1e-15));
    CHECK(a(100 + 100) == Approx(0.1 / std::sqrt(2.0)).epsilon(1e-15));  // lr / sqrt(2) after s more steps
    CHECK(a.bounds().lo == 0.0);
    CHECK(a.bounds().hi == 0.1);
    for (step_t t = 1; t <= 100; ++t) CHECK(a(t) > a(t - 1));
    falls_inside(a, 100);

    const auto plain = clr::inverse_sqrt<double>(0.1, 0);  // timescale 10000
    CHECK(plain.timescale() == 10000);
    CHECK(plain(0) == 0.1);
    CHECK(plain(30000) == 0.05);
    falls_inside(plain, 0);
    falls_inside(clr::inverse_sqrt<float>(0.01f, 7).with_timescale(3), 7);
    // A timescale past 2^63: t - W + s no longer fits in 64 bits at the last steps.
    falls_inside(clr::inverse_sqrt<double>(0.1, 0).with_timescale(step_t(1) << 62), 0);
}

TEST_CASE("inverse_sqrt: matches transformers' get_inverse_sqrt_schedule", "[inverse_sqrt][reference]") {
    struct row {
        const char* file;
        step_t rows;
        clr::inverse_sqrt<double> s;
    };
    const row rows[] = {
        {"inverse_sqrt_warmup.csv", 2000, clr::inverse_sqrt<double>(0.1, 100)},
        {"inverse_sqrt_no_warmup.csv", 3000, clr::inverse_sqrt<double>(0.1, 0)},
        {"inverse_sqrt_timescale.csv", 2000, clr::inverse_sqrt<double>(0.1, 50).with_timescale(200)},
    };
    for (const row& r : rows) {
        INFO(r.file);
        const auto table = load_reference(r.file, r.rows);
        CHECK(worst_relative_error(r.s, table) <= reference_tolerance);
        for (const double v : table.lr) CHECK(r.s.bounds().contains(v));
        const auto f = clr::inverse_sqrt<float>(static_cast<float>(r.s.peak_lr()), r.s.warmup_steps())
                           .with_timescale(r.s.timescale());
        CHECK(worst_float_error(f, table, r.s.peak_lr()) <= float_tolerance);
        falls_inside(f, f.warmup_steps());
    }
}

TEST_CASE("inverse_sqrt: text form, timescale written only where it is not the default",
          "[inverse_sqrt][text]") {
    reads_back(clr::inverse_sqrt<double>(0.1, 100), "inverse_sqrt(lr=0.1, warmup=100)");
    reads_back(clr::inverse_sqrt<double>(0.1, 100).with_timescale(100), "inverse_sqrt(lr=0.1, warmup=100)");
    reads_back(clr::inverse_sqrt<double>(0.1, 0).with_timescale(10000), "inverse_sqrt(lr=0.1, warmup=0)");
    reads_back(clr::inverse_sqrt<double>(0.1, 50).with_timescale(200),
               "inverse_sqrt(lr=0.1, warmup=50, timescale=200)");
    reads_back(clr::inverse_sqrt<float>(0.1f, 0).with_timescale(100),
               "inverse_sqrt(lr=0.1, warmup=0, timescale=100)");
    reads_back(clr::inverse_sqrt<float>(7e-4f, 30), "inverse_sqrt(lr=7e-04, warmup=30)");
    CHECK(clr::parse_schedule<double>("inverse_sqrt(lr=0.1, warmup=0)")(30000) == 0.05);

    const clr::run_length run{300, 3000};
    CHECK(
        clr::to_string(clr::parse_schedule<double>("inverse_sqrt(lr=0.1, warmup=1ep, timescale=20%)", run)) ==
        "inverse_sqrt(lr=0.1, warmup=300, timescale=600)");
    // A timescale equal to the warmup is the default and is not written.
    CHECK(clr::to_string(clr::parse_schedule<float>("inverse_sqrt(lr=0.1, warmup=5%, timescale=0.5ep)",
                                                    run)) == "inverse_sqrt(lr=0.1, warmup=150)");
}

TEST_CASE("inverse_sqrt: bad parameters are refused by name", "[inverse_sqrt][errors]") {
    refused([] { return clr::inverse_sqrt<double>(-1, 10); }, "clr::inverse_sqrt", "lr",
            "must not be negative");
    refused([] { return clr::inverse_sqrt<double>(std::nan(""), 10); }, "clr::inverse_sqrt", "lr", "finite");
    refused([] { return clr::inverse_sqrt<double>(0.1, step_t(-10)); }, "clr::inverse_sqrt", "warmup",
            "2^62");
    refused([] { return clr::inverse_sqrt<double>(0.1, 10).with_timescale(0); }, "clr::inverse_sqrt",
            "timescale", "must be at least 1");
    refused([] { return clr::inverse_sqrt<double>(0.1, 10).with_timescale(step_t(-1)); }, "clr::inverse_sqrt",
            "timescale", "2^62");
    refused(parse("inverse_sqrt(lr=0.1)"), "clr::parse_schedule", "warmup", "is required by inverse_sqrt");
    refused(parse("inverse_sqrt(lr=0.1, warmup=10, timescale=0)"), "clr::inverse_sqrt", "timescale",
            "must be at least 1");
    refused(parse("inverse_sqrt(lr=0.1, warmup=10, timescale=2ep)"), "clr::parse_schedule", "timescale",
            "steps per epoch were not given");
}

// ---- inverse_time ----------------------------------------------------------------

TEST_CASE("inverse_time: the header's example", "[inverse_time]") {
    const auto b = clr::inverse_time<double>(0.1, 100, 0.5);
    CHECK(b(0) == 0.1);
    CHECK(b(100) == Approx(0.1 / 1.5).epsilon(1e-15));
    CHECK(b(200) == 0.05);
    CHECK(b.bounds().lo == 0.0);
    CHECK(b.bounds().hi == 0.1);
    for (step_t t = 1; t <= 1000; ++t) CHECK(b(t) < b(t - 1));
    falls_inside(b, 0);

    const auto stairs = b.with_staircase();
    CHECK(stairs.staircase());
    CHECK(stairs(99) == 0.1);
    CHECK(stairs(100) == Approx(0.1 / 1.5).epsilon(1e-15));
    CHECK(stairs(199) == stairs(100));
    CHECK(stairs(200) == 0.05);
    falls_inside(stairs, 0);

    // A decay rate of 0 is constant, and says so in its bounds.
    const auto flat = clr::inverse_time<float>(0.1f, 10, 0.0f);
    CHECK(flat(last_step) == 0.1f);
    CHECK(flat.bounds().lo == 0.1f);
    falls_inside(flat, 0);
}

TEST_CASE("inverse_time: matches Keras's InverseTimeDecay", "[inverse_time][reference]") {
    for (const bool staircase : {false, true}) {
        const char* file = staircase ? "inverse_time_staircase.csv" : "inverse_time.csv";
        INFO(file);
        const auto table = load_reference(file, 2000);
        const auto s = clr::inverse_time<double>(0.1, 100, 0.5).with_staircase(staircase);
        CHECK(worst_relative_error(s, table) <= reference_tolerance);
        for (const double v : table.lr) CHECK(s.bounds().contains(v));
        const auto f = clr::inverse_time<float>(0.1f, 100, 0.5f).with_staircase(staircase);
        CHECK(worst_float_error(f, table, 0.1) <= float_tolerance);
    }
}

TEST_CASE("inverse_time: text form", "[inverse_time][text]") {
    reads_back(clr::inverse_time<double>(0.1, 100, 0.5),
               "inverse_time(lr=0.1, decay_steps=100, decay_rate=0.5)");
    reads_back(clr::inverse_time<double>(0.1, 100, 0.5).with_staircase(),
               "inverse_time(lr=0.1, decay_steps=100, decay_rate=0.5, staircase=true)");
    reads_back(clr::inverse_time<float>(0.3f, 7, 1.1f).with_staircase(true),
               "inverse_time(lr=0.3, decay_steps=7, decay_rate=1.1, staircase=true)");
    const clr::run_length run{300, 3000};
    CHECK(clr::to_string(
              clr::parse_schedule<double>("inverse_time(lr=0.1, decay_steps=1ep, decay_rate=1)", run)) ==
          "inverse_time(lr=0.1, decay_steps=300, decay_rate=1)");
    CHECK(clr::to_string(
              clr::parse_schedule<double>("inverse_time(lr=0.1, decay_steps=10%, decay_rate=1)", run)) ==
          "inverse_time(lr=0.1, decay_steps=300, decay_rate=1)");
}

TEST_CASE("inverse_time: bad parameters are refused by name", "[inverse_time][errors]") {
    const char* who = "clr::inverse_time";
    refused([] { return clr::inverse_time<double>(-0.1, 10, 0.5); }, who, "lr", "must not be negative");
    refused([] { return clr::inverse_time<double>(0.1, 0, 0.5); }, who, "decay_steps", "must be at least 1");
    refused([] { return clr::inverse_time<double>(0.1, step_t(-5), 0.5); }, who, "decay_steps", "2^62");
    refused([] { return clr::inverse_time<double>(0.1, 10, -0.5); }, who, "decay_rate",
            "must not be negative");
    refused([] { return clr::inverse_time<float>(0.1f, 10, std::nanf("")); }, who, "decay_rate", "finite");
    refused(parse("inverse_time(lr=0.1, decay_steps=10)"), "clr::parse_schedule", "decay_rate",
            "is required by inverse_time");
    refused(parse("inverse_time(lr=0.1, decay_steps=10, decay_rate=1, staircase=yes)"), "clr::parse_schedule",
            "staircase", "is not one of false, true");
    refused(parse("inverse_time(lr=0.1, decay_steps=0, decay_rate=1)"), who, "decay_steps",
            "must be at least 1");
}
