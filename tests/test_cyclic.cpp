// The cyclic family: triangular, triangular2, exp_range, Welch and Hann
// windows, asymmetric cycles, user scales and momentum cycling.
#include <clr/compose.hpp>
#include <clr/cyclic.hpp>

#include "reference.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

using clr_test::load_reference;
using clr_test::readme_worst_error;
using clr_test::worst_relative_error;

namespace {
constexpr clr::step_t last_step = std::numeric_limits<clr::step_t>::max();
const double pi = std::acos(-1.0);
}  // namespace

TEST_CASE("triangular: Keras's CyclicLR(0.001, 0.006, 2000) by hand", "[cyclic]") {
    clr::triangular<double> s(0.001, 0.006, 2000);
    CHECK(s(0) == 0.001);
    CHECK(s(1000) == Approx(0.0035).epsilon(1e-15));
    CHECK(s(2000) == 0.006);
    CHECK(s(3000) == Approx(0.0035).epsilon(1e-15));
    CHECK(s(4000) == 0.001);
    CHECK(s(500) == Approx(0.001 + 0.005 * 0.25).epsilon(1e-15));
    CHECK(s(1234) == Approx(0.001 + 0.005 * 1234.0 / 2000.0).epsilon(1e-15));
    CHECK(s.lr(1234) == s(1234));
    CHECK(s.cycle_length() == 4000);
    CHECK_FALSE(s.momentum(0).has_value());
}

TEST_CASE("triangular: periodic with period 2 * step_size", "[cyclic]") {
    clr::triangular<double> s(0.01, 0.1, 7);
    for (clr::step_t t = 0; t < 200; ++t) CHECK(s(t) == s(t + 14));
}

TEST_CASE("triangular2: height halves every cycle", "[cyclic]") {
    clr::triangular2<double> s(0.001, 0.006, 2000);
    CHECK(s(2000) == 0.006);
    CHECK(s(6000) == Approx(0.001 + 0.005 / 2).epsilon(1e-15));
    CHECK(s(10000) == Approx(0.001 + 0.005 / 4).epsilon(1e-15));
    CHECK(s(8000) == 0.001);
    clr::triangular2<float> f(0.01f, 0.1f, 7);
    CHECK(f(7) == Approx(0.1f));
    CHECK(f(21) == Approx(0.01f + 0.09f / 2));
}

TEST_CASE("triangular2: every halving is exact, through the subnormals to zero", "[cyclic]") {
    // base 0, max 1, step size 1: cycle k peaks at step 2k + 1 with height 2^-k.
    clr::triangular2<double> d(0.0, 1.0, 1);
    clr::triangular2<float> f(0.0f, 1.0f, 1);
    for (clr::step_t k = 0; k < 1200; ++k) {
        CAPTURE(k);
        CHECK(d(2 * k + 1) == std::ldexp(1.0, -static_cast<int>(k)));
        CHECK(f(2 * k + 1) == std::ldexp(1.0f, -static_cast<int>(k)));
    }
    CHECK(d(2 * 1074 + 1) == std::numeric_limits<double>::denorm_min());
    CHECK(d(2 * 1075 + 1) == 0.0);
    CHECK(f(2 * 149 + 1) == std::numeric_limits<float>::denorm_min());
    CHECK(f(2 * 150 + 1) == 0.0f);
    CHECK(d(last_step) == 0.0);
}

TEST_CASE("exp_range: amplitude gamma^t", "[cyclic]") {
    clr::exp_range<double> s(0.001, 0.01, 5, 0.99);
    CHECK(s(0) == 0.001);
    CHECK(s(5) == Approx(0.001 + 0.009 * std::pow(0.99, 5)).epsilon(1e-14));
    CHECK(s(13) == Approx(0.001 + 0.009 * 0.6 * std::pow(0.99, 13)).epsilon(1e-14));
    CHECK(s.scale().gamma == 0.99);
}

TEST_CASE("windows: Welch and Hann against their definitions", "[cyclic]") {
    // Written from the paper's definitions, independently of the library.
    auto welch = [](double a) { return 1.0 - (1.0 - a) * (1.0 - a); };
    auto hann = [](double a) { return 0.5 * (1.0 - std::cos(pi * a)); };
    auto position = [](clr::step_t t, clr::step_t up, clr::step_t down) {
        const clr::step_t p = t % (up + down);
        return p < up ? double(p) / double(up) : 1.0 - double(p - up) / double(down);
    };
    const double base = 0.001, peak = 0.006;
    clr::welch<double> w(base, peak, 9);
    clr::hann<double> h(base, peak, 9);
    auto wa = w.with_step_size_down(4);
    auto ha = h.with_step_size_down(4);
    double worst = 0.0;
    using clr_test::relative_error;
    using clr_test::worse;  // keeps a NaN, as std::max would not
    for (clr::step_t t = 0; t < 5000; ++t) {
        worst = worse(worst, relative_error(w(t), base + (peak - base) * welch(position(t, 9, 9))));
        worst = worse(worst, relative_error(h(t), base + (peak - base) * hann(position(t, 9, 9))));
        worst = worse(worst, relative_error(wa(t), base + (peak - base) * welch(position(t, 9, 4))));
        worst = worse(worst, relative_error(ha(t), base + (peak - base) * hann(position(t, 9, 4))));
    }
    CHECK(worst < 1e-14);
    // The shapes differ where they should: Welch above linear, Hann below it
    // in the first half of the climb.
    clr::triangular<double> lin(base, peak, 9);
    CHECK(w(3) > lin(3));
    CHECK(h(3) < lin(3));
    CHECK(h(9) == Approx(peak).epsilon(1e-15));
    CHECK(w(9) == peak);
}

TEST_CASE("windows and scales combine", "[cyclic]") {
    clr::cyclic<double, clr::hann_window, clr::halving_scale> s(0.0, 1.0, 10);
    CHECK(s(10) == Approx(1.0).epsilon(1e-15));
    CHECK(s(30) == Approx(0.5).epsilon(1e-15));
    CHECK(s(25) == Approx(0.5 * 0.5 * (1.0 - std::cos(pi * 0.5))).epsilon(1e-15));
}

TEST_CASE("user scale on the cycle number and on the step", "[cyclic]") {
    // Keras scale_fn with scale_mode='cycle' receives the 1-based cycle.
    auto by_cycle =
        clr::make_cyclic(0.0, 1.0, 10, clr::scale_on_cycle([](clr::step_t c) { return 1.0 / double(c); }));
    CHECK(by_cycle(10) == 1.0);
    CHECK(by_cycle(30) == 0.5);
    CHECK(by_cycle(50) == Approx(1.0 / 3).epsilon(1e-15));
    auto by_step = clr::make_cyclic<clr::welch_window>(
        0.0, 2.0, 4, clr::scale_on_step([](clr::step_t t) { return t < 8 ? 1.0 : 0.25; }));
    CHECK(by_step(4) == 2.0);
    CHECK(by_step(12) == 0.5);
}

TEST_CASE("a user scale past [0, 1] is clamped to it, and NaN and the user's exceptions reach the caller",
          "[cyclic][errors]") {
    // -1 would put the rate below base_lr, 2 above max_lr: bounds() must hold.
    auto below = clr::make_cyclic(0.1, 0.5, 10, clr::scale_on_cycle([](clr::step_t) { return -1.0; }));
    CHECK(below(10) == 0.1);
    CHECK(below(5) == 0.1);
    auto above = clr::make_cyclic(0.1, 0.5, 10, clr::scale_on_step([](clr::step_t) { return 2.0; }));
    CHECK(above(10) == 0.5);
    CHECK(above(5) == 0.30000000000000004);  // 0.1 + 0.4 * 0.5, unscaled
    auto inf = clr::make_cyclic(0.1, 0.5, 10, clr::scale_on_step([](clr::step_t) { return HUGE_VAL; }));
    CHECK(inf(10) == 0.5);

    // NaN has no place in [0, 1]: refused, naming where.
    auto nan = clr::make_cyclic(0.1, 0.5, 10, clr::scale_on_cycle([](clr::step_t c) {
                                    return c < 3 ? 1.0 : std::numeric_limits<double>::quiet_NaN();
                                }));
    // Cycle 2 is fine: 0.1 + 0.4 * (1 - 9/10) = 0.14, to the rounding of a
    // build that fuses the multiply and add (-march=x86-64-v4) or not.
    CHECK(nan(39) == Approx(0.14).epsilon(1e-15));
    CHECK_THROWS_AS(nan(40), std::domain_error);
    CHECK_THROWS_WITH(
        nan(40),
        "clr::cyclic: the scale function returned nan for cycle 3; it must return a number in [0, 1]");
    CHECK_FALSE(nan.momentum(40));  // momentum not cycled: the scale is not asked
    CHECK_THROWS_WITH(nan.with_momentum(0.8, 0.9).momentum(40), Catch::Contains("for cycle 3"));

    // The user's own exception passes through lr(), composed or held at run
    // time, instead of ending the program.
    auto throwing = clr::make_cyclic(0.1, 0.5, 10, clr::scale_on_step([](clr::step_t t) {
                                         if (t >= 100)
                                             throw std::runtime_error("scale table ends at step 100");
                                         return 1.0;
                                     }));
    CHECK(throwing(99) == throwing(19));
    CHECK_THROWS_WITH(throwing(100), "scale table ends at step 100");
    CHECK_THROWS_WITH(clr::warmup(throwing, 10, 0.0)(110), "scale table ends at step 100");
    CHECK_THROWS_WITH(clr::sequence(clr::constant<double>(0.1), 50, throwing)(150),
                      "scale table ends at step 100");
    // (On built schedules: constructors validate, so they may throw anyway.)
    const auto warm_throwing = clr::warmup(throwing, 10, 0.0);
    STATIC_REQUIRE_FALSE(noexcept(throwing(0)));
    STATIC_REQUIRE_FALSE(noexcept(warm_throwing(0)));
    STATIC_REQUIRE_FALSE(noexcept(warm_throwing.momentum(0)));
    // The library's own scales keep lr() noexcept, composed too.
    const clr::triangular2<double> halving(0.1, 0.5, 10);
    const clr::exp_range<float> shrinking(0.1f, 0.5f, 10, 0.9f);
    const auto warm = clr::warmup(clr::hann<double>(0.1, 0.5, 10), 10, 0.0);
    const auto joined = clr::sequence(halving, 5, warm);
    STATIC_REQUIRE(noexcept(halving(0)));
    STATIC_REQUIRE(noexcept(shrinking.momentum(0)));
    STATIC_REQUIRE(noexcept(warm(0)));
    STATIC_REQUIRE(noexcept(joined.lr(0)));
    STATIC_REQUIRE(noexcept(joined.momentum(0)));
}

TEST_CASE("matches PyTorch's CyclicLR", "[cyclic][reference]") {
    SECTION("triangular, symmetric, 10000 steps") {
        clr::triangular<double> s(0.001, 0.006, 2000);
        CHECK(worst_relative_error(s, load_reference("cyclic_triangular.csv", 10000)) <= readme_worst_error);
    }
    SECTION("triangular, 300 up / 200 down, momentum 0.8-0.9") {
        auto s = clr::triangular<double>(0.001, 0.006, 300).with_step_size_down(200).with_momentum(0.8, 0.9);
        CHECK(worst_relative_error(s, load_reference("cyclic_triangular_asym_momentum.csv", 3000)) <=
              readme_worst_error);
    }
    SECTION("triangular2, 250 up / 150 down, momentum 0.85-0.95") {
        auto s = clr::triangular2<double>(0.01, 0.1, 250).with_step_size_down(150).with_momentum(0.85, 0.95);
        CHECK(worst_relative_error(s, load_reference("cyclic_triangular2_asym_momentum.csv", 4000)) <=
              readme_worst_error);
    }
    SECTION("exp_range, gamma 0.9995, 100 up / 150 down, momentum 0.8-0.9") {
        auto s =
            clr::exp_range<double>(0.001, 0.01, 100, 0.9995).with_step_size_down(150).with_momentum(0.8, 0.9);
        CHECK(worst_relative_error(s, load_reference("cyclic_exp_range_momentum.csv", 3000)) <=
              readme_worst_error);
    }
    SECTION("exp_range, gamma 0.99, step 7") {
        clr::exp_range<double> s(0.001, 0.006, 7, 0.99);
        CHECK(worst_relative_error(s, load_reference("cyclic_exp_range_sym.csv", 200)) <= readme_worst_error);
    }
}

// The keras_cyclic_*.csv tables come from a transcription of bckenstler's
// CyclicLR callback (the Keras implementation of Smith's paper), by
// scripts/gen_reference.py: Keras is not installable beside PyTorch here.
// Measured worst relative errors: 2.1e-15, 1.0e-15, 6.0e-15.
TEST_CASE("matches Keras's CyclicLR callback", "[cyclic][reference][keras]") {
    SECTION("triangular, the README's CyclicLR(0.001, 0.006, 2000)") {
        clr::triangular<double> s(0.001, 0.006, 2000);
        CHECK(worst_relative_error(s, load_reference("keras_cyclic_triangular.csv", 10000)) <=
              readme_worst_error);
    }
    SECTION("triangular2, step_size 250") {
        clr::triangular2<double> s(0.01, 0.1, 250);
        CHECK(worst_relative_error(s, load_reference("keras_cyclic_triangular2.csv", 4000)) <=
              readme_worst_error);
    }
    SECTION("exp_range, gamma 0.9995, step_size 100") {
        clr::exp_range<double> s(0.001, 0.01, 100, 0.9995);
        CHECK(worst_relative_error(s, load_reference("keras_cyclic_exp_range.csv", 3000)) <=
              readme_worst_error);
    }
}

TEST_CASE("float agrees with double to float precision", "[cyclic]") {
    auto d = clr::triangular2<double>(0.001, 0.006, 300).with_step_size_down(200).with_momentum(0.8, 0.9);
    auto f = clr::triangular2<float>(0.001f, 0.006f, 300).with_step_size_down(200).with_momentum(0.8f, 0.9f);
    for (clr::step_t t = 0; t < 3000; t += 7) {
        CHECK(f(t) == Approx(d(t)).epsilon(1e-6));
        CHECK(*f.momentum(t) == Approx(*d.momentum(t)).epsilon(1e-6));
    }
}

TEST_CASE("momentum runs against the rate", "[cyclic]") {
    auto s = clr::triangular<double>(0.001, 0.006, 10).with_momentum(0.8, 0.9);
    CHECK(*s.momentum(0) == 0.9);
    CHECK(*s.momentum(10) == Approx(0.8).epsilon(1e-15));
    CHECK(*s.momentum(5) == Approx(0.85).epsilon(1e-15));
    CHECK(*s.momentum(20) == 0.9);
}

TEST_CASE("huge steps stay finite and in bounds", "[cyclic]") {
    clr::triangular<double> tri(0.001, 0.006, 2000);
    clr::triangular2<double> tri2(0.001, 0.006, 3);
    clr::exp_range<float> exp(0.001f, 0.006f, 3, 0.999f);
    clr::hann<float> hann(0.001f, 0.006f, 1);
    for (clr::step_t t :
         {last_step, last_step - 1, last_step / 2, clr::step_t(1) << 62, clr::step_t(1) << 40}) {
        for (double v : {tri(t), tri2(t), double(exp(t)), double(hann(t))}) {
            CHECK(std::isfinite(v));
            CHECK(v >= 0.001 * (1 - 1e-6));
            CHECK(v <= 0.006 * (1 + 1e-6));
        }
    }
    // 2^64 - 1 = 4000 * 4611686018427386 + 3615: falling, 385 steps from the end.
    CHECK(tri(last_step) == Approx(0.001 + 0.005 * 385.0 / 2000.0).epsilon(1e-15));
    // Amplitudes long since decayed to nothing.
    CHECK(tri2(last_step - 3) == 0.001);
    CHECK(exp(last_step) == 0.001f);
}

TEST_CASE("cyclic: invalid parameters name themselves", "[cyclic][validation]") {
    using Catch::Matchers::Contains;
    REQUIRE_THROWS_WITH((clr::triangular<double>(0.001, 0.006, 0)),
                        Contains("step_size = 0") && Contains("at least 1"));
    REQUIRE_THROWS_WITH((clr::triangular<double>(0.006, 0.001, 10)), Contains("clr::triangular") &&
                                                                         Contains("max_lr = 0.001") &&
                                                                         Contains("base_lr = 0.006"));
    REQUIRE_THROWS_WITH((clr::triangular2<double>(-0.1, 0.1, 10)),
                        Contains("clr::triangular2") && Contains("base_lr = -0.1"));
    REQUIRE_THROWS_WITH((clr::welch<double>(0.1, std::nan(""), 10)),
                        Contains("clr::welch") && Contains("max_lr = nan"));
    REQUIRE_THROWS_WITH((clr::hann<double>(0.1, HUGE_VAL, 10)),
                        Contains("clr::hann") && Contains("must be finite"));
    REQUIRE_THROWS_WITH((clr::exp_range<double>(0.001, 0.01, 5, 1.5)),
                        Contains("gamma = 1.5") && Contains("(0, 1]"));
    REQUIRE_THROWS_WITH((clr::exp_range<double>(0.001, 0.01, 5, 0.0)), Contains("gamma = 0"));
    REQUIRE_THROWS_WITH((clr::triangular<double>(0.001, 0.01, static_cast<clr::step_t>(-5))),
                        Contains("step_size = 18446744073709551611") && Contains("negative"));
    clr::triangular<double> s(0.001, 0.006, 10);
    REQUIRE_THROWS_WITH(s.with_step_size_down(0), Contains("step_size_down = 0"));
    REQUIRE_THROWS_WITH(s.with_momentum(0.8, 1.0), Contains("max_momentum = 1") && Contains("[0, 1)"));
    REQUIRE_THROWS_WITH(s.with_momentum(-0.1, 0.9), Contains("base_momentum = -0.1"));
    REQUIRE_THROWS_WITH(s.with_momentum(0.9, 0.8),
                        Contains("max_momentum = 0.8") && Contains("base_momentum = 0.9"));
    REQUIRE_THROWS_AS((clr::triangular<float>(0.1f, 0.01f, 3)), std::invalid_argument);
}
