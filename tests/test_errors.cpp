// clr::invalid_parameter: what schedules and optimizers throw for a bad
// argument, with its parts (who, param, value) beside the unchanged message.
#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>
#include <clr/version.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace {

struct expected {
    const char* who;
    const char* param;
    const char* value;
    const char* what;
};

// Runs make(), which must throw a clr::invalid_parameter with exactly these
// parts and message; a std::invalid_argument of any other type fails.
template <class Make>
void require_invalid(Make&& make, const expected& e) {
    INFO("expected: " << e.what);
    try {
        (void)make();
    } catch (const clr::invalid_parameter& x) {
        CHECK(x.who() == e.who);
        CHECK(x.param() == e.param);
        CHECK(x.value() == e.value);
        CHECK(std::string(x.what()) == e.what);
        return;
    } catch (const std::exception& x) {
        FAIL("threw something other than clr::invalid_parameter: " << x.what());
    }
    FAIL("did not throw");
}

}  // namespace

TEST_CASE("invalid_parameter is a std::invalid_argument that copies without throwing", "[errors]") {
    STATIC_REQUIRE(std::is_base_of_v<std::invalid_argument, clr::invalid_parameter>);
    STATIC_REQUIRE(std::is_nothrow_copy_constructible_v<clr::invalid_parameter>);
    STATIC_REQUIRE(std::is_nothrow_copy_assignable_v<clr::invalid_parameter>);

    const clr::invalid_parameter e("clr::example", "rate", "-1", "must not be negative");
    CHECK(std::string(e.what()) == "clr::example: rate = -1 must not be negative");
    const clr::invalid_parameter copy = e;  // NOLINT(performance-unnecessary-copy-initialization)
    CHECK(copy.who() == "clr::example");
    CHECK(copy.param() == "rate");
    CHECK(copy.value() == "-1");
    CHECK(std::strcmp(copy.what(), e.what()) == 0);
}

TEST_CASE("schedule constructors throw invalid_parameter with who, param and value", "[errors]") {
    require_invalid(
        [] { return clr::triangular<double>(0.001, 0.006, 0); },
        {"clr::triangular", "step_size", "0", "clr::triangular: step_size = 0 must be at least 1"});
    require_invalid([] { return clr::triangular<double>(0.1, 0.01, 3); },
                    {"clr::triangular", "max_lr", "0.01",
                     "clr::triangular: max_lr = 0.01 must not be below base_lr = 0.1"});
    require_invalid(
        [] { return clr::triangular2<double>(-0.5, 0.006, 10); },
        {"clr::triangular2", "base_lr", "-0.5", "clr::triangular2: base_lr = -0.5 must not be negative"});
    require_invalid([] { return clr::exp_range<double>(0.001, 0.006, 10, 1.5); },
                    {"clr::exp_range", "gamma", "1.5", "clr::exp_range: gamma = 1.5 must lie in (0, 1]"});
    require_invalid([] { return clr::one_cycle<double>(std::numeric_limits<double>::quiet_NaN(), 100); },
                    {"clr::one_cycle", "max_lr", "nan", "clr::one_cycle: max_lr = nan must be finite"});
    require_invalid([] { return clr::cosine_restarts<double>(0.1, 0); },
                    {"clr::cosine_restarts", "T_0", "0", "clr::cosine_restarts: T_0 = 0 must be at least 1"});
    require_invalid([] { return clr::constant<double>(-std::numeric_limits<double>::infinity()); },
                    {"clr::constant", "lr", "-inf", "clr::constant: lr = -inf must be finite"});
    require_invalid(
        [] { return clr::range_test<float>(1.0f, 0.5f, 10); },
        {"clr::range_test", "max_lr", "0.5", "clr::range_test: max_lr = 0.5 must be above min_lr = 1"});
    // A negative count converted to unsigned.
    require_invalid([] { return clr::warmup(clr::constant<double>(0.1), static_cast<clr::step_t>(-1), 0.0); },
                    {"clr::warmup", "steps", "18446744073709551615",
                     "clr::warmup: steps = 18446744073709551615 is larger than 2^62 "
                     "(a negative number converted to unsigned?)"});
}

TEST_CASE("with_* options throw invalid_parameter naming the option", "[errors]") {
    const auto tri = clr::triangular<double>(0.001, 0.006, 2000);
    require_invalid([&] { return tri.with_momentum(0.95, 0.85); },
                    {"clr::triangular", "max_momentum", "0.85",
                     "clr::triangular: max_momentum = 0.85 must not be below base_momentum = 0.95"});
    require_invalid(
        [&] { return tri.with_step_size_down(0); },
        {"clr::triangular", "step_size_down", "0", "clr::triangular: step_size_down = 0 must be at least 1"});

    const auto oc = clr::one_cycle<double>(0.1, 1000);
    require_invalid([&] { return oc.with_pct_start(0.0); },
                    {"clr::one_cycle", "pct_start", "0", "clr::one_cycle: pct_start = 0 must lie in (0, 1)"});
    require_invalid(
        [&] { return oc.with_three_phase().with_pct_start(0.6); },
        {"clr::one_cycle", "pct_start", "0.6",
         "clr::one_cycle: pct_start = 0.6 must be below 0.5 with three phases (the phases would overlap)"});
    require_invalid([&] { return oc.with_div_factor(0.0); },
                    {"clr::one_cycle", "div_factor", "0", "clr::one_cycle: div_factor = 0 must be positive"});

    const auto cr = clr::cosine_restarts<double>(0.1, 50);
    require_invalid(
        [&] { return cr.with_t_mult(0.5); },
        {"clr::cosine_restarts", "T_mult", "0.5", "clr::cosine_restarts: T_mult = 0.5 must be at least 1"});
    require_invalid([&] { return cr.with_eta_min(0.2); },
                    {"clr::cosine_restarts", "eta_max", "0.1",
                     "clr::cosine_restarts: eta_max = 0.1 must not be below eta_min = 0.2"});

    require_invalid([] { return clr::range_test<float>(1e-5f, 1.0f, 100).with_smoothing(1.0f); },
                    {"clr::range_test", "beta", "1", "clr::range_test: beta = 1 must lie in [0, 1)"});
}

TEST_CASE("optimizer options throw invalid_parameter naming the option", "[errors][optim]") {
    const clr::constant<double> s(0.1);

    clr::optim::sgd_options so;
    so.momentum = 1.5;
    require_invalid(
        [&] { return clr::optim::sgd(s, so); },
        {"clr::optim::sgd", "momentum", "1.5", "clr::optim::sgd: momentum = 1.5 must lie in [0, 1)"});
    so = {};
    so.dampening = 2.0;
    require_invalid(
        [&] { return clr::optim::sgd(s, so); },
        {"clr::optim::sgd", "dampening", "2", "clr::optim::sgd: dampening = 2 must lie in [0, 1]"});
    so = {};
    so.nesterov = true;
    require_invalid(
        [&] { return clr::optim::sgd(s, so); },
        {"clr::optim::sgd", "momentum", "0",
         "clr::optim::sgd: momentum = 0 must be positive with nesterov = true (or cycled by the schedule)"});

    clr::optim::adam_options ao;
    ao.beta2 = 1.0;
    require_invalid([&] { return clr::optim::adam(s, ao); },
                    {"clr::optim::adam", "beta2", "1", "clr::optim::adam: beta2 = 1 must lie in [0, 1)"});

    clr::optim::adamw_options wo;
    wo.weight_decay = -0.01;
    require_invalid([&] { return clr::optim::adamw(s, wo); },
                    {"clr::optim::adamw", "weight_decay", "-0.01",
                     "clr::optim::adamw: weight_decay = -0.01 must not be negative"});
    wo = {};
    wo.eps = 0.0;
    require_invalid([&] { return clr::optim::adamw(s, wo); },
                    {"clr::optim::adamw", "eps", "0", "clr::optim::adamw: eps = 0 must be positive"});

    clr::optim::sgd opt(s);
    require_invalid(
        [&] {
            opt.set_steps(static_cast<clr::step_t>(-1));
            return 0;
        },
        {"clr::optim::sgd::set_steps", "steps", "18446744073709551615",
         "clr::optim::sgd::set_steps: steps = 18446744073709551615 is larger than 2^62 "
         "(a negative number converted to unsigned?)"});
}

TEST_CASE("invalid_parameter is still caught as std::invalid_argument", "[errors]") {
    bool caught = false;
    try {
        (void)clr::hann<double>(0.001, 0.006, 0);
    } catch (const std::invalid_argument& e) {
        caught = true;
        CHECK(std::string(e.what()) == "clr::hann: step_size = 0 must be at least 1");
        const auto* p = dynamic_cast<const clr::invalid_parameter*>(&e);
        REQUIRE(p != nullptr);
        CHECK(p->param() == "step_size");
    }
    CHECK(caught);

    clr::optim::adam_options ao;
    ao.beta1 = -0.5;
    REQUIRE_THROWS_AS(clr::optim::adam(clr::constant<float>(0.1f), ao), std::invalid_argument);
    REQUIRE_THROWS_WITH(clr::optim::adam(clr::constant<float>(0.1f), ao),
                        "clr::optim::adam: beta1 = -0.5 must lie in [0, 1)");
}

TEST_CASE("invalid_parameter gives the problem and the text column apart from the message",
          "[errors][text]") {
    try {
        (void)clr::triangular<double>(0.001, 0.006, 0);
        FAIL("no exception");
    } catch (const clr::invalid_parameter& e) {
        CHECK(e.problem() == "must be at least 1");
        CHECK_FALSE(e.column().has_value());
    }
    try {
        (void)clr::parse_schedule<double>("triangular(base_lr=0.001, max_lr=0.006, step_size=0)");
        FAIL("no exception");
    } catch (const clr::invalid_parameter& e) {
        CHECK(e.who() == "clr::triangular");
        CHECK(e.param() == "step_size");
        CHECK(e.problem() == "must be at least 1");
        REQUIRE(e.column().has_value());
        CHECK(*e.column() == 51);
        CHECK(std::string(e.what()) == "clr::triangular: step_size = 0 must be at least 1 (column 51)");
    }
    // A schedule without a scale is named by its window, never by another policy.
    REQUIRE_THROWS_WITH(clr::welch<double>(0.001, 0.006, 0), "clr::welch: step_size = 0 must be at least 1");
    REQUIRE_THROWS_WITH(clr::triangular<double>(0.001, 0.006, 0),
                        "clr::triangular: step_size = 0 must be at least 1");
}

TEST_CASE("format_number writes the shortest text that reads back as the same value", "[errors][text]") {
    CHECK(clr::format_number(0.1) == "0.1");
    CHECK(clr::format_number(0.1f) == "0.1");
    CHECK(clr::format_number(0.6) == "0.6");
    CHECK(clr::format_number(1e-310) == "1e-310");
    CHECK(clr::format_number(std::numeric_limits<double>::quiet_NaN()) == "nan");
    CHECK(clr::format_number(-std::numeric_limits<float>::infinity()) == "-inf");
    CHECK(clr::format_number(std::uint64_t(18446744073709551615ULL)) == "18446744073709551615");
    CHECK(std::stod(clr::format_number(0.1 + 0.2)) == 0.1 + 0.2);
    // The library's own messages use it, so a program's echo of a value matches them.
    const auto e = [] {
        try {
            (void)clr::constant<float>(-0.1f);
        } catch (const clr::invalid_parameter& x) {
            return x.value();
        }
        return std::string();
    }();
    CHECK(e == clr::format_number(-0.1f));
    CHECK(clr::max_steps == clr::step_t(1) << 62);
    REQUIRE_THROWS_AS(clr::triangular<double>(0.001, 0.006, clr::max_steps + 1), clr::invalid_parameter);
    CHECK_NOTHROW(clr::triangular<double>(0.001, 0.006, clr::max_steps));
}

TEST_CASE("version macros agree with each other", "[version]") {
    STATIC_REQUIRE(CLR_VERSION == CLR_VERSION_MAJOR * 10000 + CLR_VERSION_MINOR * 100 + CLR_VERSION_PATCH);
    STATIC_REQUIRE(CLR_VERSION_MINOR < 100 && CLR_VERSION_PATCH < 100);
    const std::string text = std::to_string(CLR_VERSION_MAJOR) + "." + std::to_string(CLR_VERSION_MINOR) +
                             "." + std::to_string(CLR_VERSION_PATCH);
    CHECK(text == CLR_VERSION_STRING);
#ifdef CLR_TEST_PROJECT_VERSION
    // project(VERSION) as CMake read it from <clr/version.hpp>.
    CHECK(std::string(CLR_TEST_PROJECT_VERSION) == CLR_VERSION_STRING);
#endif
}
