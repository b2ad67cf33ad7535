// clr::optim::adam and adamw against torch.optim.Adam / AdamW
// (tests/data/optim_adam*.csv, from scripts/gen_optim_reference.py),
// hand-derived updates, and every rejected option.
#include <clr/optim/adam.hpp>

#include "optim_reference.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace clr_test;

template <class Options>
Options adam_options_of(const optim_reference& ref) {
    Options o;
    o.beta1 = ref.number("beta1");
    o.beta2 = ref.number("beta2");
    o.eps = ref.number("eps");
    o.weight_decay = ref.number("weight_decay");
    return o;
}

template <class T>
auto make_adam(const clr::optim::adam_options& o) {
    return [o](table_schedule<T> s) { return clr::optim::adam<table_schedule<T>>(std::move(s), o); };
}

template <class T>
auto make_adamw(const clr::optim::adamw_options& o) {
    return [o](table_schedule<T> s) { return clr::optim::adamw<table_schedule<T>>(std::move(s), o); };
}

const char* const adam_cases[] = {"optim_adam_weight_decay.csv", "optim_adam_cycled_beta1.csv",
                                  "optim_adamw.csv"};

// Runs a case through adam or adamw, as its table says, in precision T.
template <class T>
trajectory run_case(const optim_reference& ref, bool tiled) {
    const std::string kind = ref.options.at("optimizer");
    REQUIRE((kind == "adam" || kind == "adamw"));
    if (kind == "adam") {
        const auto make = make_adam<T>(adam_options_of<clr::optim::adam_options>(ref));
        return tiled ? run_tiled<T>(ref, make) : run_blocks<T>(ref, make);
    }
    const auto make = make_adamw<T>(adam_options_of<clr::optim::adamw_options>(ref));
    return tiled ? run_tiled<T>(ref, make) : run_blocks<T>(ref, make);
}

}  // namespace

TEST_CASE("adam and adamw match torch.optim.Adam / AdamW update for update", "[optim][adam]") {
    for (const char* file : adam_cases) {
        INFO(file);
        const optim_reference ref = load_optim_reference(file, optim_steps);
        const double worst = worst_error(run_case<double>(ref, false), ref.after);
        CHECK(worst <= 1e-12);  // measured over 300 updates: at most 1.2e-15
        CHECK(worst_error(run_case<double>(ref, true), ref.after) <= 1e-12);
        CHECK(worst_error(ref.before, ref.after) > 1e-3);
    }
}

TEST_CASE("adamw with block options matches torch.optim.AdamW parameter groups", "[optim][adam]") {
    // Block 1 in its own group at 0.3 times the rate with weight decay 0.05.
    const optim_reference ref = load_optim_reference("optim_adamw_groups.csv", optim_steps);
    REQUIRE(block1_options_of(ref).lr_scale == 0.3);
    REQUIRE(block1_options_of(ref).weight_decay == 0.05);
    const auto o = adam_options_of<clr::optim::adamw_options>(ref);
    CHECK(worst_error(run_blocks<double>(ref, make_adamw<double>(o)), ref.after) <= 1e-12);
    // Without the options the run differs: the comparison above can fail.
    optim_reference plain = ref;
    plain.options.erase("block1_lr_scale");
    plain.options.erase("block1_weight_decay");
    CHECK(worst_error(run_blocks<double>(plain, make_adamw<double>(o)), ref.after) > 1e-3);
}

TEST_CASE("adam, adamw: a block's lr_scale and weight decay act as a separate optimizer's", "[optim][adam]") {
    for (const char* file : adam_cases) {
        INFO(file);
        const optim_reference ref = load_optim_reference(file, optim_steps);
        auto check = [&](auto o, auto make) {
            // Weight decay 0 where the case decays (a bias left out), 0.03 where it does not.
            auto other = o;
            other.weight_decay = o.weight_decay == 0.0 ? 0.03 : 0.0;
            const auto decay = clr::optim::block_options().with_weight_decay(other.weight_decay);
            CHECK(differs_from_separate<double>(ref, decay.with_lr_scale(0.5), 0.5, make(o), make(other)) ==
                  0);
            // AdamW's decoupled decay uses the block's rate too.
            CHECK(differs_from_separate<double>(ref, clr::optim::block_options().with_lr_scale(0.5), 0.5,
                                                make(o), make(o)) == 0);
        };
        if (ref.options.at("optimizer") == "adam")
            check(adam_options_of<clr::optim::adam_options>(ref),
                  [](auto o) { return make_adam<double>(o); });
        else
            check(adam_options_of<clr::optim::adamw_options>(ref),
                  [](auto o) { return make_adamw<double>(o); });
    }
}

TEST_CASE("adamw: per-block options by hand", "[optim][adam]") {
    // k = 1: the step is lr * g / (|g| + eps) after the decoupled decay
    // p *= 1 - lr * weight_decay, with the block's rate and decay.
    clr::optim::adamw_options o;
    o.eps = 1.0;
    o.weight_decay = 0.5;
    clr::optim::adamw opt(fixed<double>(0.5), o);
    Eigen::VectorXd a = Eigen::VectorXd::Constant(1, 2.0), b = a, c = a;
    const Eigen::VectorXd g = Eigen::VectorXd::Constant(1, 3.0);
    opt.add(a, g);
    opt.add(b, g, clr::optim::block_options().with_lr_scale(0.5));
    opt.add(c, g, clr::optim::block_options().with_weight_decay(0.0));
    opt.step();
    CHECK(a(0) == Approx(2.0 * (1 - 0.5 * 0.5) - 0.5 * 3 / 4.0).epsilon(1e-15));    // 1.125
    CHECK(b(0) == Approx(2.0 * (1 - 0.25 * 0.5) - 0.25 * 3 / 4.0).epsilon(1e-15));  // 1.5625
    CHECK(c(0) == Approx(2.0 - 0.5 * 3 / 4.0).epsilon(1e-15));                      // 1.625
    CHECK(opt.last_lr() == 0.5);
    CHECK(opt.last_momentum() == 0.9);
}

TEST_CASE("adam in float agrees with double to float precision", "[optim][adam]") {
    for (const char* file : adam_cases) {
        INFO(file);
        const optim_reference ref = load_optim_reference(file, optim_steps);
        const trajectory d = run_case<double>(ref, false);
        // Float rounds every update, and the table's gradients do not depend
        // on the float run's parameters, so nothing pulls its rounding errors
        // back: over the run they add up like a random walk, about
        // sqrt(300) = 17 times one update's. The first 8 updates must stay
        // within 4 float epsilons, all 300 within 16. Measured worst scaled
        // errors, Adam: 1.6, 1.6, 2.9 eps over the first 8 and
        // 9.0, 5.2, 11.7 eps over all 300 for weight decay, cycled beta1, AdamW.
        const double eps = std::numeric_limits<float>::epsilon();
        const trajectory f = run_case<float>(ref, false);
        const double first8 = worst_scaled_error(f, d, 8), all = worst_scaled_error(f, d);
        CHECK(first8 <= 4 * eps);
        CHECK(all <= 16 * eps);
        CHECK(all > 0.0);  // it did run in float
        const trajectory tiled = run_case<float>(ref, true);
        CHECK(worst_scaled_error(tiled, d, 8) <= 4 * eps);
        CHECK(worst_scaled_error(tiled, d) <= 16 * eps);
    }
}

TEST_CASE("adam: the first update of a block is lr times the gradient's sign", "[optim][adam]") {
    // k = 1: m / (1 - beta1) = g and sqrt(v / (1 - beta2)) = |g|, so the step
    // is lr * g / (|g| + eps), whatever the betas.
    clr::optim::adam_options o;
    o.beta1 = 0.5;
    o.beta2 = 0.75;
    o.eps = 1.0;
    clr::optim::adam opt(fixed<double>(0.5), o);
    Eigen::Vector3d p(1, 1, 1), g(3, -1, 0);
    opt.add(p, g);
    opt.step();
    CHECK(p(0) == Approx(1 - 0.5 * 3 / 4.0).epsilon(1e-15));
    CHECK(p(1) == Approx(1 + 0.5 * 1 / 2.0).epsilon(1e-15));
    CHECK(p(2) == 1.0);

    // A block registered later, and fresh state continued with set_steps(),
    // start their own bias correction at k = 1, as PyTorch's per-parameter
    // state['step'] does.
    Eigen::Vector2d q(2, 2), h(1, -3);
    opt.add(q, h);
    opt.step();
    CHECK(q(0) == Approx(2 - 0.5 * 1 / 2.0).epsilon(1e-15));
    CHECK(q(1) == Approx(2 + 0.5 * 3 / 4.0).epsilon(1e-15));

    clr::optim::adam fresh(fixed<double>(0.5), o);
    fresh.set_steps(1000);
    Eigen::Vector2d r(2, 2);
    fresh.add(r, h);
    fresh.step();
    CHECK(r == Eigen::Vector2d(2 - 0.5 * 1 / 2.0, 2 + 0.5 * 3 / 4.0));
    CHECK(fresh.steps() == 1001);
}

TEST_CASE("adam: second update by hand, with a cycled beta1 in the bias correction", "[optim][adam]") {
    // beta1 = 0.5 then 0.25 (cycled), beta2 = 0.75, eps = 0, lr = 1, g = 2 then 4.
    // k = 1: m = 1, v = 1, p -= (1 / 0.5) * 1 / (1 / 0.5) = 1.
    // k = 2: m = 0.25 + 0.75 * 4 = 3.25, v = 0.75 + 0.25 * 16 = 4.75,
    //        bc1 = 1 - 0.25^2, bc2 = 1 - 0.75^2,
    //        p -= (1 / bc1) * m / sqrt(v / bc2).
    clr::optim::adam_options o;
    o.beta2 = 0.75;
    o.eps = 1e-300;
    clr::optim::adam opt(table_schedule<double>({1.0, 1.0}, {0.5, 0.25}), o);
    Eigen::VectorXd p = Eigen::VectorXd::Constant(1, 10.0), g = Eigen::VectorXd::Constant(1, 2.0);
    opt.add(p, g);
    opt.step();
    CHECK(p(0) == Approx(9.0).epsilon(1e-15));
    g(0) = 4.0;
    opt.step();
    const double bc1 = 1 - 0.25 * 0.25, bc2 = 1 - 0.75 * 0.75;
    CHECK(p(0) == Approx(9.0 - (1 / bc1) * 3.25 / std::sqrt(4.75 / bc2)).epsilon(1e-15));
}

TEST_CASE("adam: L2 weight decay enters the statistics, adamw's does not", "[optim][adam]") {
    // Zero gradient. Adam: g = wd * p, the first update is lr * sign(p).
    // AdamW: m = v = 0, so only the decay p *= 1 - lr * wd acts.
    Eigen::Vector2d g(0, 0);
    clr::optim::adam_options ao;
    ao.weight_decay = 0.5;
    ao.eps = 1e-300;
    clr::optim::adam a(fixed<double>(0.125), ao);
    Eigen::Vector2d p(2, -4);
    a.add(p, g);
    a.step();
    CHECK(p(0) == Approx(2 - 0.125).epsilon(1e-15));
    CHECK(p(1) == Approx(-4 + 0.125).epsilon(1e-15));

    clr::optim::adamw_options wo;
    wo.weight_decay = 0.5;
    clr::optim::adamw w(fixed<double>(0.125), wo);
    Eigen::Vector2d q(2, -4);
    w.add(q, g);
    w.step();
    CHECK(q == Eigen::Vector2d(2 * 0.9375, -4 * 0.9375));
}

TEST_CASE("adam and adamw take PyTorch's defaults", "[optim][adam]") {
    const clr::optim::adam a(fixed<double>(0.001));
    CHECK(a.options().beta1 == 0.9);
    CHECK(a.options().beta2 == 0.999);
    CHECK(a.options().eps == 1e-8);
    CHECK(a.options().weight_decay == 0.0);
    const clr::optim::adamw w(fixed<float>(0.001f));
    CHECK(w.options().weight_decay == 0.01);
    CHECK(w.options().beta1 == 0.9);
    static_assert(std::is_same_v<decltype(w)::value_type, float>);
}

TEST_CASE("adam: each bad option is rejected with its name and value", "[optim][adam][errors]") {
    const fixed<double> s(0.1);
    using A = clr::optim::adam_options;
    using W = clr::optim::adamw_options;
    auto adam_with = [&](auto edit) {
        A o;
        edit(o);
        return clr::optim::adam(s, o);
    };
    auto adamw_with = [&](auto edit) {
        W o;
        edit(o);
        return clr::optim::adamw(s, o);
    };
    REQUIRE_THROWS_AS(adam_with([](A& o) { o.beta1 = 1.0; }), std::invalid_argument);
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.beta1 = 1.0; }),
                        "clr::optim::adam: beta1 = 1 must lie in [0, 1)");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.beta1 = -0.5; }),
                        "clr::optim::adam: beta1 = -0.5 must lie in [0, 1)");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.beta2 = 1.5; }),
                        "clr::optim::adam: beta2 = 1.5 must lie in [0, 1)");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.beta2 = std::nan(""); }),
                        "clr::optim::adam: beta2 = nan must be finite");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.eps = 0.0; }), "clr::optim::adam: eps = 0 must be positive");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.eps = -0.25; }),
                        "clr::optim::adam: eps = -0.25 must be positive");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.eps = HUGE_VAL; }),
                        "clr::optim::adam: eps = inf must be finite");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.weight_decay = -1.0; }),
                        "clr::optim::adam: weight_decay = -1 must not be negative");
    REQUIRE_THROWS_WITH(adamw_with([](W& o) { o.weight_decay = -1.0; }),
                        "clr::optim::adamw: weight_decay = -1 must not be negative");
    REQUIRE_THROWS_WITH(adamw_with([](W& o) { o.weight_decay = std::nan(""); }),
                        "clr::optim::adamw: weight_decay = nan must be finite");
    REQUIRE_THROWS_WITH(adamw_with([](W& o) { o.beta1 = 2.0; }),
                        "clr::optim::adamw: beta1 = 2 must lie in [0, 1)");
    CHECK_NOTHROW(adam_with([](A& o) { o.beta1 = 0.0; }));
}

TEST_CASE("adam: a cycled beta1 out of range stops the step before any change", "[optim][adam][errors]") {
    clr::optim::adamw opt(fixed<double>(0.1, 1.5));
    Eigen::Vector2d p(1, 2), g(1, 1);
    opt.add(p, g);
    REQUIRE_THROWS_AS(opt.step(), std::domain_error);
    REQUIRE_THROWS_WITH(
        opt.step(),
        "clr::optim::adamw::step: the schedule gives beta1 = 1.5 at step 0; it must lie in [0, 1)");
    CHECK(p == Eigen::Vector2d(1, 2));
    CHECK(opt.steps() == 0);
}

TEST_CASE("adam: bad blocks are rejected at add()", "[optim][adam][errors]") {
    clr::optim::adam opt(fixed<float>(0.1f));
    Eigen::MatrixXf w(3, 3);
    Eigen::VectorXf g(8);
    REQUIRE_THROWS_WITH(opt.add(w, g), "clr::optim::adam::add: grad has 8 values but param has 9");
}
