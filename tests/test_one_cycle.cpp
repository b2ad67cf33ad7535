// The one-cycle policy, step for step PyTorch's OneCycleLR.
#include <clr/one_cycle.hpp>

#include "reference.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using clr_test::load_reference;
using clr_test::readme_worst_error;
using clr_test::worst_relative_error;

namespace {
constexpr clr::step_t last_step = std::numeric_limits<clr::step_t>::max();
}

TEST_CASE("one_cycle: values by hand", "[one_cycle]") {
    clr::one_cycle<double> s(0.1, 1000);  // pct 0.3, div 25, final_div 1e4
    CHECK(s(0) == 0.1 / 25.0);            // exactly max_lr / div_factor: the ends of a phase are its values
    CHECK(s(299) == Approx(0.1).epsilon(1e-15));  // peak at pct * T - 1
    CHECK(s(999) == Approx(4e-7).epsilon(1e-12));
    CHECK(s(999) == 0.1 / 25.0 / 1e4);   // exactly initial / final_div_factor
    CHECK(s(5000) == 0.1 / 25.0 / 1e4);  // and held past the end
    CHECK(s(last_step) == 0.1 / 25.0 / 1e4);
    // Inside the climb, x = 149 / 299 of the way up the cosine.
    CHECK(s(149) ==
          Approx(0.1 + (0.004 - 0.1) * (1 + std::cos(std::acos(-1.0) * 149 / 299)) / 2).epsilon(1e-14));
    CHECK(s.initial_lr() == Approx(0.004).epsilon(1e-15));
    CHECK(s.min_lr() == Approx(4e-7).epsilon(1e-15));

    auto lin = clr::one_cycle<double>(1.0, 11)
                   .with_anneal(clr::anneal::linear)
                   .with_pct_start(0.5)
                   .with_div_factor(10);
    // Up over [0, 4.5], down over [4.5, 10] to 0.1 / 1e4.
    CHECK(lin(0) == Approx(0.1).epsilon(1e-15));
    CHECK(lin(3) == Approx(0.1 + 0.9 * 3 / 4.5).epsilon(1e-15));
    // (end - start) * 1 + start rounds at the scale of start, as in PyTorch.
    CHECK(lin(10) == Approx(1e-5).margin(1e-15));
    CHECK(lin(6) == Approx(1.0 + (1e-5 - 1.0) * 1.5 / 5.5).epsilon(1e-14));
}

TEST_CASE("one_cycle: three phases come back to initial before the anneal", "[one_cycle]") {
    auto s = clr::one_cycle<double>(0.5, 1200).with_three_phase().with_anneal(clr::anneal::linear);
    // Phases end at 359, 718, 1199.
    CHECK(s(359) == Approx(0.5).epsilon(1e-15));
    CHECK(s(718) == Approx(0.02).epsilon(1e-14));
    CHECK(s(1199) == Approx(0.02 / 1e4).epsilon(1e-12));
    CHECK(s(538) < 0.5);
    CHECK(s(538) > 0.02);
}

TEST_CASE("one_cycle: momentum runs inverse", "[one_cycle]") {
    auto s = clr::one_cycle<double>(0.1, 1000).with_momentum(0.85, 0.95);
    CHECK(*s.momentum(0) == Approx(0.95).epsilon(1e-15));
    CHECK(*s.momentum(299) == Approx(0.85).epsilon(1e-15));
    CHECK(*s.momentum(999) == Approx(0.95).epsilon(1e-15));
    CHECK_FALSE(clr::one_cycle<double>(0.1, 1000).momentum(0).has_value());
    auto three = clr::one_cycle<double>(0.1, 1000).with_three_phase().with_momentum(0.8, 0.9);
    CHECK(*three.momentum(598) == Approx(0.9).epsilon(1e-15));
    CHECK(*three.momentum(800) == 0.9);  // the third phase holds max_momentum
}

TEST_CASE("matches PyTorch's OneCycleLR", "[one_cycle][reference]") {
    SECTION("cos, two phases, momentum") {
        auto s = clr::one_cycle<double>(0.1, 1000).with_momentum(0.85, 0.95);
        CHECK(worst_relative_error(s, load_reference("one_cycle_cos_momentum.csv", 1000)) <=
              readme_worst_error);
    }
    SECTION("linear, two phases, momentum") {
        auto s = clr::one_cycle<double>(0.01, 777)
                     .with_pct_start(0.25)
                     .with_div_factor(10)
                     .with_final_div_factor(100)
                     .with_anneal(clr::anneal::linear)
                     .with_momentum(0.8, 0.9);
        CHECK(worst_relative_error(s, load_reference("one_cycle_linear_momentum.csv", 777)) <=
              readme_worst_error);
    }
    SECTION("cos, three phases, momentum") {
        auto s = clr::one_cycle<double>(0.5, 1200).with_three_phase().with_momentum(0.85, 0.95);
        CHECK(worst_relative_error(s, load_reference("one_cycle_cos_three_phase_momentum.csv", 1200)) <=
              readme_worst_error);
    }
    SECTION("linear, three phases") {
        auto s = clr::one_cycle<double>(0.02, 999)
                     .with_pct_start(0.4)
                     .with_div_factor(20)
                     .with_final_div_factor(1000)
                     .with_anneal(clr::anneal::linear)
                     .with_three_phase();
        // The README's largest error over all twelve tables is this one: 8.4e-14.
        const double worst = worst_relative_error(s, load_reference("one_cycle_linear_three_phase.csv", 999));
        CHECK(worst <= readme_worst_error);
        CHECK(worst >= clr_test::readme_worst_error_low);
    }
}

TEST_CASE("one_cycle: short and degenerate runs stay defined", "[one_cycle]") {
    // pct_start * total_steps == 1 leaves the climb empty; PyTorch divides by
    // zero there, this starts at the peak.
    auto s = clr::one_cycle<double>(0.1, 10).with_pct_start(0.1);
    CHECK(s(0) == Approx(0.1).epsilon(1e-15));
    CHECK(s(9) == Approx(0.004 / 1e4).epsilon(1e-12));
    clr::one_cycle<float> one(0.1f, 1);
    CHECK(std::isfinite(one(0)));
    CHECK(one.bounds().contains(one(0)));
    clr::one_cycle<float> big(0.1f, clr::step_t(1) << 62);
    for (clr::step_t t : {clr::step_t(0), clr::step_t(1) << 40, clr::step_t(1) << 61, last_step}) {
        CHECK(std::isfinite(big(t)));
        CHECK(big.bounds().contains(big(t)));
    }
}

TEST_CASE("one_cycle: float agrees with double", "[one_cycle]") {
    auto d = clr::one_cycle<double>(0.1, 1000).with_momentum();
    auto f = clr::one_cycle<float>(0.1f, 1000).with_momentum();
    for (clr::step_t t = 0; t < 1000; t += 3) {
        // Float rounds at the scale of max_lr, so near the minimum compare
        // absolutely: a few float ulps of 0.1.
        CHECK(f(t) == Approx(d(t)).epsilon(1e-5).margin(1e-8));
        CHECK(*f.momentum(t) == Approx(*d.momentum(t)).epsilon(1e-6));
    }
}

TEST_CASE("one_cycle: invalid parameters name themselves", "[one_cycle][validation]") {
    using Catch::Matchers::Contains;
    REQUIRE_THROWS_WITH((clr::one_cycle<double>(0.1, 0)),
                        Contains("clr::one_cycle") && Contains("total_steps = 0"));
    REQUIRE_THROWS_WITH((clr::one_cycle<double>(0.0, 10)), Contains("max_lr = 0") && Contains("positive"));
    REQUIRE_THROWS_WITH((clr::one_cycle<double>(std::nan(""), 10)), Contains("max_lr = nan"));
    clr::one_cycle<double> s(0.1, 100);
    REQUIRE_THROWS_WITH(s.with_pct_start(0.0), Contains("pct_start = 0") && Contains("(0, 1)"));
    REQUIRE_THROWS_WITH(s.with_pct_start(1.0), Contains("pct_start = 1"));
    REQUIRE_THROWS_WITH(s.with_pct_start(0.6).with_three_phase(),
                        Contains("pct_start = 0.6") && Contains("three phases"));
    REQUIRE_THROWS_WITH(s.with_div_factor(-2), Contains("div_factor = -2"));
    REQUIRE_THROWS_WITH(s.with_final_div_factor(0), Contains("final_div_factor = 0"));
    REQUIRE_THROWS_WITH(s.with_momentum(0.95, 0.85), Contains("max_momentum = 0.85"));
    REQUIRE_THROWS_WITH(s.with_momentum(0.85, 1.2), Contains("max_momentum = 1.2"));
    // Factors that would overflow the initial or final rate.
    REQUIRE_THROWS_WITH((clr::one_cycle<double>(1e10, 100).with_div_factor(1e-300)),
                        Contains("div_factor = 1e-300") && Contains("overflow"));
    REQUIRE_THROWS_WITH((clr::one_cycle<double>(1.0, 100).with_final_div_factor(1e-320)),
                        Contains("final_div_factor") && Contains("overflow"));
}
