// constant, warmup and sequence.
#include <clr/clr.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

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
    CHECK(s(100) == 0.001);                             // tri(0), by hand
    CHECK(s(1100) == Approx(0.0035).epsilon(1e-15));    // tri(1000): half way up
    CHECK(s(2100) == 0.006);                            // tri(2000): the peak
    CHECK(s(4100) == 0.001);                            // tri(4000): back down
    CHECK(s(4600) == Approx(0.00225).epsilon(1e-15));   // tri(4500): a quarter up
    for (clr::step_t t = 100; t < 5000; t += 37) CHECK(s(t) == tri(t - 100));
    CHECK(s(last_step) == tri(last_step - 100));
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

TEST_CASE("compose: step counts that look negative are refused", "[compose][validation]") {
    using Catch::Matchers::Contains;
    clr::constant<double> c(0.1);
    REQUIRE_THROWS_WITH(clr::warmup(c, static_cast<clr::step_t>(-1), 0.0), Contains("clr::warmup") && Contains("steps"));
    REQUIRE_THROWS_WITH(clr::warmup(c, 10, -0.5), Contains("start_lr = -0.5"));
    REQUIRE_THROWS_WITH(clr::sequence(c, static_cast<clr::step_t>(-100), c), Contains("clr::sequence") && Contains("boundary"));
}
