// tanh_decay: step for step timm's TanhLRScheduler over one cycle
// (tests/data/tanh_*.csv, scripts/gen_schedule_reference.py).
#include <clr/tanh_decay.hpp>
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

// Falling through the cycle, inside bounds(), and lr_min from total_steps on.
template <class S>
void falls_then_holds(const S& s) {
    const auto b = s.bounds();
    const step_t n = s.total_steps();
    REQUIRE(b.lo <= b.hi);
    for (step_t t = 0; t < n + 100; ++t) {
        CAPTURE(t);
        REQUIRE(b.contains(s(t)));
        if (t > 0) REQUIRE(s(t) <= s(t - 1));
    }
    for (const step_t t : {n, n + 1, step_t(1) << 53, step_t(1) << 62, last_step}) {
        CAPTURE(t);
        CHECK(s(t) == s.lr_min());
        CHECK_FALSE(s.momentum(t).has_value());
    }
}

}  // namespace

TEST_CASE("tanh_decay is a small trivially copyable value", "[tanh]") {
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::tanh_decay<double>>);
    STATIC_REQUIRE(clr::has_text_form_v<clr::tanh_decay<float>>);
}

TEST_CASE("tanh_decay: the header's example", "[tanh]") {
    const auto s = clr::tanh_decay<double>(0.1, 500);
    CHECK(s(0) == Approx(0.09999991684719724).epsilon(1e-15));
    CHECK(s(0) == Approx(0.1 * (1 - std::tanh(-7.0)) / 2).epsilon(1e-15));
    CHECK(s(0) < 0.1);                             // not quite lr
    CHECK(s(350) == Approx(0.05).epsilon(1e-14));  // -7 (1 - 0.7) + 3 (0.7) = 0
    CHECK(s(499) == Approx(0.0002573273153810396).epsilon(1e-13));
    CHECK(s(500) == 0.0);
    CHECK(s.lb() == -7.0);
    CHECK(s.ub() == 3.0);
    CHECK(s.bounds().lo == 0.0);
    CHECK(s.bounds().hi == 0.1);
    falls_then_holds(s);

    const auto floor = s.with_lr_min(0.001);
    CHECK(floor(350) == Approx(0.0505).epsilon(1e-14));
    CHECK(floor(500) == 0.001);
    falls_then_holds(floor);
    // tanh reaches -1 in double below about -19: 1 - tanh is 2 and the value lr.
    const auto steep = clr::tanh_decay<double>(0.3, 100).with_lr_min(0.1).with_bounds(-40.0, 40.0);
    CHECK(steep(0) == 0.3);
    falls_then_holds(steep);
    falls_then_holds(clr::tanh_decay<float>(0.1f, 1000).with_bounds(-3.0f, 9.0f));
}

TEST_CASE("tanh_decay: matches timm's TanhLRScheduler", "[tanh][reference]") {
    struct row {
        const char* file;
        step_t rows;
        clr::tanh_decay<double> s;
    };
    const row rows[] = {
        {"tanh_default.csv", 800, clr::tanh_decay<double>(0.1, 500)},
        {"tanh_bounds.csv", 600, clr::tanh_decay<double>(0.1, 300).with_lr_min(0.001).with_bounds(-6.0, 4.0)},
    };
    for (const row& r : rows) {
        INFO(r.file);
        const auto table = load_reference(r.file, r.rows);
        CHECK(worst_relative_error(r.s, table) <= reference_tolerance);
        for (const double v : table.lr) CHECK(r.s.bounds().contains(v));
        falls_then_holds(r.s);
        const auto f = clr::tanh_decay<float>(static_cast<float>(r.s.peak_lr()), r.s.total_steps())
                           .with_lr_min(static_cast<float>(r.s.lr_min()))
                           .with_bounds(static_cast<float>(r.s.lb()), static_cast<float>(r.s.ub()));
        CHECK(worst_float_error(f, table, r.s.peak_lr()) <= float_tolerance);
        falls_then_holds(f);
    }
}

TEST_CASE("tanh_decay: text form, total_steps defaults to the run", "[tanh][text]") {
    reads_back(clr::tanh_decay<double>(0.1, 500), "tanh(lr=0.1, total_steps=500)");
    reads_back(clr::tanh_decay<double>(0.1, 300).with_lr_min(0.001).with_bounds(-6.0, 4.0),
               "tanh(lr=0.1, total_steps=300, lr_min=0.001, lb=-6, ub=4)");
    reads_back(clr::tanh_decay<float>(0.1f, 300).with_bounds(-7.5f, 3.0f),
               "tanh(lr=0.1, total_steps=300, lb=-7.5)");
    reads_back(clr::tanh_decay<float>(0.7f, 10).with_lr_min(0.7f),
               "tanh(lr=0.7, total_steps=10, lr_min=0.7)");

    const clr::run_length run{300, 3000};
    CHECK(clr::to_string(clr::parse_schedule<double>("tanh(lr=0.1)", run)) ==
          "tanh(lr=0.1, total_steps=3000)");
    CHECK(clr::to_string(clr::parse_schedule<double>("tanh(lr=0.1, total_steps=2.5ep)", run)) ==
          "tanh(lr=0.1, total_steps=750)");
    CHECK(clr::to_string(clr::parse_schedule<float>("tanh(lr=0.1, total_steps=10%)", run)) ==
          "tanh(lr=0.1, total_steps=300)");
}

TEST_CASE("tanh_decay: bad parameters are refused by name", "[tanh][errors]") {
    const char* who = "clr::tanh_decay";
    const double nan = std::nan("");
    refused([] { return clr::tanh_decay<double>(-0.1, 10); }, who, "lr", "must not be negative");
    refused([] { return clr::tanh_decay<double>(0.1, 0); }, who, "total_steps", "must be at least 1");
    refused([] { return clr::tanh_decay<double>(0.1, step_t(-1)); }, who, "total_steps", "2^62");
    const auto s = clr::tanh_decay<double>(0.1, 10);
    refused([&] { return s.with_lr_min(0.2); }, who, "lr_min", "must not be above lr = 0.1");
    refused([&] { return s.with_lr_min(-0.01); }, who, "lr_min", "must not be negative");
    refused([&] { return s.with_bounds(3.0, 3.0); }, who, "ub", "must be above lb = 3");
    refused([&] { return s.with_bounds(5.0, -7.0); }, who, "ub", "must be above lb = 5");
    refused([&] { return s.with_bounds(nan, 3.0); }, who, "lb", "must be finite");
    refused([&] { return s.with_bounds(-7.0, std::numeric_limits<double>::infinity()); }, who, "ub",
            "must be finite");

    const auto parse = [](const char* text) { return [text] { return clr::parse_schedule<double>(text); }; };
    refused(parse("tanh(lr=0.1)"), "clr::parse_schedule", "total_steps", "total steps were not given");
    refused(parse("tanh(total_steps=10)"), "clr::parse_schedule", "lr", "is required by tanh");
    refused(parse("tanh(lr=0.1, total_steps=10, lb=5)"), who, "ub", "must be above lb = 5");
    refused(parse("tanh(lr=0.1, total_steps=10, lr_min=1)"), who, "lr_min", "must not be above lr");
}
