// wsd: warmup, stable, decay; step for step transformers' get_wsd_schedule
// (tests/data/wsd_*.csv, scripts/gen_schedule_reference.py).
#include <clr/text.hpp>
#include <clr/wsd.hpp>

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

// bounds() holds every value of the table's steps and of the far steps; the
// value after the last phase is the final one, held for ever.
template <class S>
void holds_and_stays_inside(const S& s, step_t end, typename S::value_type final_value) {
    const auto b = s.bounds();
    REQUIRE(b.lo <= b.hi);
    for (step_t t = 0; t < end + 100; ++t) {
        CAPTURE(t);
        REQUIRE(b.contains(s(t)));
    }
    for (const step_t t : {end, end + 1, end + 1000, step_t(1) << 53, step_t(1) << 62, last_step}) {
        CAPTURE(t);
        CHECK(s(t) == final_value);
        CHECK(b.contains(s(t)));
        CHECK_FALSE(s.momentum(t).has_value());
    }
}

}  // namespace

TEST_CASE("wsd is a small trivially copyable value", "[wsd]") {
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::wsd<double>>);
    STATIC_REQUIRE(clr::is_schedule_v<clr::wsd<float>>);
    STATIC_REQUIRE(clr::has_text_form_v<clr::wsd<double>>);
}

TEST_CASE("wsd: the header's example", "[wsd]") {
    const auto s = clr::wsd<double>(0.1, 100, 300, 200);
    CHECK(s(0) == 0.0);
    CHECK(s(50) == Approx(0.05).epsilon(1e-15));
    CHECK(s(100) == 0.1);
    CHECK(s(399) == 0.1);
    CHECK(s(500) == Approx(0.05).epsilon(1e-15));
    CHECK(s(600) == 0.0);
    CHECK(s.bounds().lo == 0.0);
    CHECK(s.bounds().hi == 0.1);
    for (step_t t = 1; t <= 100; ++t) CHECK(s(t) > s(t - 1));    // rising to lr
    for (step_t t = 401; t <= 600; ++t) CHECK(s(t) < s(t - 1));  // falling to 0
    CHECK(s.warmup_shape() == clr::wsd_shape::linear);
    CHECK(s.decay_shape() == clr::wsd_shape::cosine);
    CHECK(s.min_lr_ratio() == 0.0);
    holds_and_stays_inside(s, 600, 0.0);

    // A floor: the warmup starts at lr * m and the decay ends there.
    const auto f = s.with_decay_shape(clr::wsd_shape::linear).with_min_lr_ratio(0.1);
    CHECK(f(0) == 0.1 * 0.1);
    CHECK(f(50) == Approx(0.055).epsilon(1e-15));
    CHECK(f(500) == Approx(0.055).epsilon(1e-15));
    CHECK(f.bounds().lo == 0.1 * 0.1);
    holds_and_stays_inside(f, 600, 0.1 * 0.1);
}

TEST_CASE("wsd: matches transformers' get_wsd_schedule at every step", "[wsd][reference]") {
    using clr::wsd_shape;
    struct row {
        const char* file;
        step_t rows;
        clr::wsd<double> s;
        double final_value;
    };
    const row rows[] = {
        {"wsd_default.csv", 800, clr::wsd<double>(0.1, 100, 300, 200), 0.0},
        {"wsd_linear_min_ratio.csv", 800,
         clr::wsd<double>(0.1, 100, 300, 200).with_decay_shape(wsd_shape::linear).with_min_lr_ratio(0.1),
         0.1 * 0.1},
        {"wsd_cosine_warmup_sqrt_decay.csv", 500,
         clr::wsd<double>(0.05, 50, 150, 100)
             .with_warmup_shape(wsd_shape::cosine)
             .with_decay_shape(wsd_shape::one_minus_sqrt),
         0.0},
        {"wsd_sqrt_warmup.csv", 700,
         clr::wsd<double>(0.1, 100, 100, 300)
             .with_warmup_shape(wsd_shape::one_minus_sqrt)
             .with_min_lr_ratio(0.02),
         0.1 * 0.02},
        {"wsd_no_warmup.csv", 700, clr::wsd<double>(0.1, 0, 200, 300).with_min_lr_ratio(0.01), 0.1 * 0.01},
    };
    for (const row& r : rows) {
        INFO(r.file);
        const auto table = load_reference(r.file, r.rows);
        CHECK(worst_relative_error(r.s, table) <= reference_tolerance);
        for (const double v : table.lr) CHECK(r.s.bounds().contains(v));
        const step_t end = r.s.warmup_steps() + r.s.stable_steps() + r.s.decay_steps();
        holds_and_stays_inside(r.s, end, r.final_value);

        const auto f = clr::wsd<float>(static_cast<float>(r.s.peak_lr()), r.s.warmup_steps(),
                                       r.s.stable_steps(), r.s.decay_steps())
                           .with_warmup_shape(r.s.warmup_shape())
                           .with_decay_shape(r.s.decay_shape())
                           .with_min_lr_ratio(static_cast<float>(r.s.min_lr_ratio()));
        CHECK(worst_float_error(f, table, r.s.peak_lr()) <= float_tolerance);
        holds_and_stays_inside(f, end, f.peak_lr() * f.min_lr_ratio());
    }
    // No warmup: step 0 is already the stable rate.
    CHECK(clr::wsd<double>(0.1, 0, 200, 300)(0) == 0.1);
}

TEST_CASE("wsd: phases of length 0 and the ends of the step range", "[wsd]") {
    // Nothing but the floor.
    const auto none = clr::wsd<double>(0.1, 0, 0, 0).with_min_lr_ratio(0.5);
    CHECK(none(0) == 0.05);
    holds_and_stays_inside(none, 0, 0.05);
    // No stable phase: the warmup runs into the decay's start, lr.
    const auto peak = clr::wsd<double>(0.1, 10, 0, 10);
    CHECK(peak(9) == Approx(0.09).epsilon(1e-15));
    CHECK(peak(10) == 0.1);
    holds_and_stays_inside(peak, 20, 0.0);
    // The longest phases; the sum of three stays below 2^64.
    const step_t big = step_t(1) << 62;
    const auto longest = clr::wsd<float>(1.0f, big, big, big)
                             .with_warmup_shape(clr::wsd_shape::one_minus_sqrt)
                             .with_decay_shape(clr::wsd_shape::one_minus_sqrt)
                             .with_min_lr_ratio(0.25f);
    for (const step_t t : {step_t(0), big - 1, big, 2 * big - 1, 2 * big, 3 * big - 1, 3 * big, last_step}) {
        CAPTURE(t);
        CHECK(std::isfinite(longest(t)));
        CHECK(longest.bounds().contains(longest(t)));
    }
    CHECK(longest(last_step) == 0.25f);
}

TEST_CASE("wsd: text form, in steps, epochs and shares of the run", "[wsd][text]") {
    using clr::wsd_shape;
    reads_back(clr::wsd<double>(0.1, 100, 300, 200), "wsd(lr=0.1, warmup=100, stable=300, decay=200)");
    reads_back(clr::wsd<double>(0.05, 50, 150, 100)
                   .with_warmup_shape(wsd_shape::cosine)
                   .with_decay_shape(wsd_shape::one_minus_sqrt)
                   .with_min_lr_ratio(0.02),
               "wsd(lr=0.05, warmup=50, stable=150, decay=100, warmup_shape=cosine, decay_shape=1-sqrt, "
               "min_lr_ratio=0.02)");
    reads_back(
        clr::wsd<float>(0.1f, 0, 200, 300).with_decay_shape(wsd_shape::linear).with_min_lr_ratio(0.01f),
        "wsd(lr=0.1, warmup=0, stable=200, decay=300, decay_shape=linear, min_lr_ratio=0.01)");
    reads_back(clr::wsd<float>(3e-4f, 7, 0, 13).with_warmup_shape(wsd_shape::one_minus_sqrt),
               "wsd(lr=3e-04, warmup=7, stable=0, decay=13, warmup_shape=1-sqrt)");

    const clr::run_length run{/*steps_per_epoch*/ 300, /*total_steps*/ 3000};
    const char* const written = "wsd(lr=0.003, warmup=150, stable=2250, decay=600)";
    CHECK(clr::to_string(clr::parse_schedule<double>("wsd(lr=0.003, warmup=5%, stable=75%, decay=20%)",
                                                     run)) == written);
    CHECK(clr::to_string(clr::parse_schedule<double>("wsd(lr=0.003, warmup=0.5ep, stable=7.5ep, decay=2ep)",
                                                     run)) == written);
    CHECK(clr::to_string(clr::parse_schedule<float>("wsd(lr=0.003, warmup=150, stable=75%, decay=2ep)",
                                                    run)) == written);
}

TEST_CASE("wsd: bad parameters are refused by name", "[wsd][errors]") {
    const double nan = std::nan("");
    refused([] { return clr::wsd<double>(-0.1, 1, 1, 1); }, "clr::wsd", "lr", "must not be negative");
    refused([&] { return clr::wsd<double>(nan, 1, 1, 1); }, "clr::wsd", "lr", "must be finite");
    refused([] { return clr::wsd<double>(0.1, step_t(-1), 1, 1); }, "clr::wsd", "warmup", "2^62");
    refused([] { return clr::wsd<double>(0.1, 1, step_t(-1), 1); }, "clr::wsd", "stable", "2^62");
    refused([] { return clr::wsd<double>(0.1, 1, 1, step_t(-1)); }, "clr::wsd", "decay", "2^62");
    const auto s = clr::wsd<double>(0.1, 1, 1, 1);
    refused([&] { return s.with_min_lr_ratio(1.5); }, "clr::wsd", "min_lr_ratio", "must lie in [0, 1]");
    refused([&] { return s.with_min_lr_ratio(-0.1); }, "clr::wsd", "min_lr_ratio", "must lie in [0, 1]");
    refused([&] { return s.with_min_lr_ratio(nan); }, "clr::wsd", "min_lr_ratio", "must be finite");

    const auto parse = [](const char* text) { return [text] { return clr::parse_schedule<double>(text); }; };
    refused(parse("wsd(lr=0.1, warmup=10, stable=10)"), "clr::parse_schedule", "decay", "is required by wsd");
    refused(parse("wsd(lr=0.1, warmup=10, stable=10, decay=10, decay_shape=sqrt)"), "clr::parse_schedule",
            "decay_shape", "is not one of linear, cosine, 1-sqrt");
    refused(parse("wsd(lr=0.1, warmup=5%, stable=10, decay=10)"), "clr::parse_schedule", "warmup",
            "total steps were not given");
    refused(parse("wsd(lr=0.1, warmup=10, stable=-1, decay=10)"), "clr::parse_schedule", "stable",
            "is not a step count");
    refused(parse("wsd(lr=0.1, warmup=10, stable=10, decay=10, min_lr_ratio=2)"), "clr::wsd", "min_lr_ratio",
            "must lie in [0, 1]");
}
