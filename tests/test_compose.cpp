// constant, warmup and sequence.
#include <clr/clr.hpp>

#include "reference.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <type_traits>

namespace {
constexpr clr::step_t last_step = std::numeric_limits<clr::step_t>::max();
}

TEST_CASE("constant", "[compose]") {
    clr::constant<double> c(0.001);
    CHECK(c(0) == 0.001);
    CHECK(c(last_step) == 0.001);
    CHECK_FALSE(c.momentum(3).has_value());
    CHECK(c.bounds().lo == 0.001);
    CHECK(c.bounds().hi == 0.001);
    using Catch::Matchers::Contains;
    REQUIRE_THROWS_WITH(clr::constant<double>(-1e-3), Contains("clr::constant") && Contains("lr = -0.001"));
    REQUIRE_THROWS_WITH(clr::constant<float>(INFINITY), Contains("lr = inf"));
}

TEST_CASE("warmup ramps linearly into the schedule", "[compose]") {
    clr::triangular<double> tri(0.001, 0.006, 2000);
    auto s = clr::warmup(tri, 100, 0.0);
    CHECK(s(0) == 0.0);
    CHECK(s(50) == Approx(0.0005).epsilon(1e-15));
    CHECK(s(99) == Approx(0.00099).epsilon(1e-15));
    CHECK(s(100) == 0.001);                            // tri(0), by hand
    CHECK(s(1100) == Approx(0.0035).epsilon(1e-15));   // tri(1000): half way up
    CHECK(s(2100) == 0.006);                           // tri(2000): the peak
    CHECK(s(4100) == 0.001);                           // tri(4000): back down
    CHECK(s(4600) == Approx(0.00225).epsilon(1e-15));  // tri(4500): a quarter up
    for (clr::step_t t = 100; t < 5000; t += 37) CHECK(clr_test::same_value(s(t), tri(t - 100)));
    CHECK(clr_test::same_value(s(last_step), tri(last_step - 100)));
    // Continuous into the schedule: the last ramp step is one increment short.
    CHECK(s(100) - s(99) == Approx(0.001 / 100).epsilon(1e-12));
    CHECK(clr::warmup(tri, 0, 0.5)(0) == 0.001);  // no ramp: tri(0) at once
    CHECK(s.bounds().lo == 0.0);
    CHECK(s.bounds().hi == 0.006);
}

TEST_CASE("warmup carries the schedule's momentum", "[compose]") {
    auto s = clr::warmup(clr::one_cycle<double>(0.1, 1000).with_momentum(0.85, 0.95), 10, 0.0);
    CHECK(*s.momentum(0) == Approx(0.95).epsilon(1e-15));
    CHECK(*s.momentum(5) == Approx(0.95).epsilon(1e-15));
    CHECK(*s.momentum(309) == Approx(0.85).epsilon(1e-15));
}

TEST_CASE("sequence joins schedules at a boundary", "[compose]") {
    auto q = clr::sequence(clr::constant<double>(0.01), 500, clr::one_cycle<double>(0.1, 1000));
    CHECK(q(0) == 0.01);
    CHECK(q(499) == 0.01);
    CHECK(q(500) == Approx(0.004).epsilon(1e-14));
    CHECK(q(799) == Approx(0.1).epsilon(1e-15));
    CHECK(q.bounds().hi == Approx(0.1).epsilon(1e-15));
    CHECK(q.bounds().lo == Approx(4e-7).epsilon(1e-12));
    // Nests: warmup, then cycles, then a constant tail.
    auto nested = clr::sequence(clr::warmup(clr::triangular<double>(0.001, 0.006, 10), 5, 0.0), 45,
                                clr::constant<double>(0.0001));
    CHECK(nested(0) == 0.0);
    CHECK(nested(15) == 0.006);
    // Step 44 is the triangle's step 39: 9 of 10 steps down its falling side.
    CHECK(nested(44) == Approx(0.001 + 0.005 * 0.1).epsilon(1e-14));
    CHECK(nested(45) == 0.0001);
    // Momentum comes from whichever part is active.
    auto m = clr::sequence(clr::triangular<double>(0.001, 0.006, 10).with_momentum(0.8, 0.9), 20,
                           clr::constant<double>(0.001));
    CHECK(*m.momentum(10) == Approx(0.8).epsilon(1e-15));
    CHECK_FALSE(m.momentum(20).has_value());
}

TEST_CASE("sequence joins any number of schedules, each from its own step 0", "[compose]") {
    // Warmup, a hold and a decay in one expression.
    const auto w = clr::sequence(clr::linear<double>(0.0, 0.1, 100), 100, clr::constant<double>(0.1), 400,
                                 clr::cosine<double>(0.1, 1000));
    STATIC_REQUIRE(std::is_trivially_copyable_v<std::decay_t<decltype(w)>>);
    CHECK(w(0) == 0.0);
    CHECK(w(50) == 0.05);
    CHECK(w(99) == Approx(0.099).epsilon(1e-15));
    CHECK(w(100) == 0.1);  // the hold, from its step 0
    CHECK(w(499) == 0.1);
    CHECK(w(500) == 0.1);                           // the cosine's step 0
    CHECK(w(1000) == Approx(0.05).epsilon(1e-15));  // its step 500 of 1000
    CHECK(w(1500) == 0.0);                          // its end, held
    CHECK(w(last_step) == 0.0);
    CHECK(w.bounds().lo == 0.0);
    CHECK(w.bounds().hi == 0.1);

    // Four pieces, against the piecewise definition at every step of each
    // piece and across each boundary.
    const clr::triangular<double> a(0.001, 0.006, 10);
    const clr::exponential<double> b(0.05, 0.9);
    const clr::step_decay<double> c(0.02, 3, 0.5);
    const clr::polynomial<double> d(0.01, 0.0, 40, 2.0);
    const auto four = clr::sequence(a, 25, b, 7, c, 12, d);
    for (clr::step_t t = 0; t < 200; ++t) {
        CAPTURE(t);
        const double want = t < 25 ? a(t) : t < 32 ? b(t - 25) : t < 44 ? c(t - 32) : d(t - 44);
        CHECK(four(t) == want);
    }
    CHECK(four(44) == 0.01);  // d's step 0
    CHECK(four(84) == 0.0);   // d's end
    CHECK(four.bounds().lo == 0.0);
    CHECK(four.bounds().hi == 0.05);

    // A piece of length 0 never runs and leaves the bounds alone.
    const auto skip = clr::sequence(clr::constant<double>(0.2), 5, clr::constant<double>(9.0), 0,
                                    clr::constant<double>(0.1));
    CHECK(skip(4) == 0.2);
    CHECK(skip(5) == 0.1);
    CHECK(skip.bounds().lo == 0.1);
    CHECK(skip.bounds().hi == 0.2);

    // Boundaries add up past 2^63 without overflow: each counts its own piece.
    const clr::step_t big = clr::step_t(1) << 62;
    const auto far = clr::sequence(clr::constant<double>(0.3), big, clr::constant<double>(0.2), big,
                                   clr::linear<double>(0.1, 0.0, 4));
    CHECK(far(big - 1) == 0.3);
    CHECK(far(big) == 0.2);
    CHECK(far(2 * big - 1) == 0.2);
    CHECK(far(2 * big) == 0.1);
    CHECK(far(2 * big + 2) == 0.05);
    CHECK(far(last_step) == 0.0);
}

TEST_CASE("sequence: momentum comes from the active piece, among any number", "[compose]") {
    const auto m = clr::sequence(clr::triangular<double>(0.001, 0.006, 10).with_momentum(0.8, 0.9), 20,
                                 clr::constant<double>(0.001), 10,
                                 clr::one_cycle<double>(0.1, 1000).with_momentum(0.85, 0.95), 1000,
                                 clr::cosine<double>(0.01, 100));
    CHECK(*m.momentum(0) == Approx(0.9).epsilon(1e-15));
    CHECK(*m.momentum(10) == Approx(0.8).epsilon(1e-15));
    CHECK_FALSE(m.momentum(20).has_value());
    CHECK_FALSE(m.momentum(29).has_value());
    CHECK(*m.momentum(30) == Approx(0.95).epsilon(1e-15));   // one_cycle's step 0
    CHECK(*m.momentum(329) == Approx(0.85).epsilon(1e-15));  // its peak, step 299
    CHECK_FALSE(m.momentum(1030).has_value());
    CHECK_FALSE(m.momentum(last_step).has_value());
    CHECK(m(1030) == 0.01);
}

TEST_CASE("sequence of three matches PyTorch's SequentialLR", "[compose][reference]") {
    // SequentialLR(LinearLR(0.1 -> 1, 50 steps), StepLR(25, 0.5), CosineAnnealingLR(300, 1e-4),
    // milestones [50, 150]) on lr 0.1: a warmup, a step decay for 100 steps, then
    // the cosine from its own step 0.
    const auto s = clr::sequence(clr::linear<double>(0.1 * 0.1, 0.1 * 1.0, 50), 50,
                                 clr::step_decay<double>(0.1, 25, 0.5), 100,
                                 clr::cosine<double>(0.1, 300).with_eta_min(1e-4));
    const auto table = clr_test::load_reference("sequence_3way.csv", 451);
    CHECK(clr_test::worst_relative_error(s, table) <= 1e-14);  // measured: 2.0e-15
    CHECK(table.lr[149] == Approx(0.0125).epsilon(1e-12));     // StepLR's step 99: three halvings
    CHECK(table.lr[150] == Approx(0.1).epsilon(1e-15));        // the cosine's step 0
}

TEST_CASE("compose: step counts that look negative are refused", "[compose][validation]") {
    using Catch::Matchers::Contains;
    clr::constant<double> c(0.1);
    REQUIRE_THROWS_WITH(clr::warmup(c, static_cast<clr::step_t>(-1), 0.0),
                        Contains("clr::warmup") && Contains("steps"));
    REQUIRE_THROWS_WITH(clr::warmup(c, 10, -0.5), Contains("start_lr = -0.5"));
    REQUIRE_THROWS_WITH(clr::sequence(c, static_cast<clr::step_t>(-100), c),
                        Contains("clr::sequence") && Contains("boundary"));
    REQUIRE_THROWS_WITH(clr::sequence(c, 10, c, static_cast<clr::step_t>(-1), c),
                        Contains("clr::sequence") && Contains("boundary = 18446744073709551615"));
    const int negative = -3;
    REQUIRE_THROWS_WITH(clr::sequence(c, 10, c, 20, c, negative, c),
                        Contains("clr::sequence") && Contains("boundary"));
    REQUIRE_THROWS_WITH(clr::sequence(c, static_cast<clr::step_t>(-7), c, 20, c), Contains("boundary"));
}

TEST_CASE("warmup with_shift(false) keeps the schedule's clock, as timm's warmup_prefix=False",
          "[compose][timm]") {
    // The ramp covers the schedule's first steps: from step n on the rate is
    // the schedule's own s(n), not s(0) again.
    const auto s = clr::warmup(clr::cosine<double>(0.1, 1000), 100, 0.001).with_shift(false);
    const auto table = clr_test::load_reference("timm_warmup_noshift.csv", 1300);
    CHECK(clr_test::worst_relative_error(s, table) <= 1e-12);
    CHECK(s(100) == clr::cosine<double>(0.1, 1000)(100));
    CHECK(s(1000) == 0.0);
    const std::string text =
        "warmup(cosine(lr=0.1, total_steps=1000), steps=100, start_lr=0.001, shift=false)";
    CHECK(clr::to_string(s) == text);
    const auto back = clr::parse_schedule<double>(text);
    for (clr::step_t t = 0; t < 1300; ++t) REQUIRE(back(t) == s(t));
    // Shifted (the default) it writes no shift, and runs the cosine from its step 0 after the ramp.
    const auto shifted = clr::warmup(clr::cosine<double>(0.1, 1000), 100, 0.001);
    CHECK(clr::to_string(shifted) == "warmup(cosine(lr=0.1, total_steps=1000), steps=100, start_lr=0.001)");
    CHECK(shifted(100) == 0.1);
    // Momentum follows the same clock.
    const auto m = clr::warmup(clr::one_cycle<double>(0.1, 100).with_momentum(), 10, 0.0).with_shift(false);
    CHECK(*m.momentum(5) == *clr::one_cycle<double>(0.1, 100).with_momentum().momentum(0));
    CHECK(*m.momentum(50) == *clr::one_cycle<double>(0.1, 100).with_momentum().momentum(50));
}
