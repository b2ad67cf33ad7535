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

using trajectory = std::vector<std::vector<double>>;  // [t][k], as optim_reference::after

// The reference run as a user would write it: a 3x4 column-major matrix and a
// vector seen through a Map, both registered once.
template <class T, class Make>
trajectory run_blocks(const optim_reference& ref, Make make) {
    using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using vector_map = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
    auto opt = make(schedule_of<T>(ref));
    matrix w(3, 4), dw(3, 4);
    std::vector<T> b(5), db(5);
    opt.add(w, dw);
    opt.add(vector_map(b.data(), 5), vector_map(db.data(), 5));
    auto load = [](const std::vector<double>& flat, matrix& m, std::vector<T>& v) {
        for (Eigen::Index i = 0; i < 12; ++i) m(i / 4, i % 4) = T(flat[std::size_t(i)]);
        for (std::size_t i = 0; i < 5; ++i) v[i] = T(flat[12 + i]);
    };
    load(ref.before[0], w, b);
    trajectory out;
    for (std::size_t t = 0; t < ref.steps; ++t) {
        REQUIRE(opt.steps() == t);
        REQUIRE(double(opt.lr()) == Approx(ref.lr[t]).epsilon(1e-6));
        load(ref.grad[t], dw, db);
        opt.step();
        std::vector<double> flat(n_values);
        for (Eigen::Index i = 0; i < 12; ++i) flat[std::size_t(i)] = double(w(i / 4, i % 4));
        for (std::size_t i = 0; i < 5; ++i) flat[12 + i] = double(b[i]);
        out.push_back(flat);
    }
    return out;
}

// The same run on one block holding 150 copies of the 17 values: every element
// evolves on its own, so each copy must match the reference. 2550 values span
// several of the optimizer's internal chunks.
template <class T, class Make>
trajectory run_tiled(const optim_reference& ref, Make make, std::size_t copies = 150) {
    const auto n = static_cast<Eigen::Index>(copies * n_values);
    Eigen::Array<T, Eigen::Dynamic, 1> p(n), g(n);
    auto opt = make(schedule_of<T>(ref));
    opt.add(p, g);
    for (Eigen::Index i = 0; i < n; ++i) p(i) = T(ref.before[0][std::size_t(i % n_values)]);
    trajectory out;
    for (std::size_t t = 0; t < ref.steps; ++t) {
        for (Eigen::Index i = 0; i < n; ++i) g(i) = T(ref.grad[t][std::size_t(i % n_values)]);
        opt.step();
        out.emplace_back(p.data(), p.data() + n);
    }
    return out;
}

double relative_error(double got, double want) {
    if (got == want) return 0.0;
    return std::abs(got - want) / std::max(std::abs(want), 1e-300);
}

// Worst relative error of a trajectory against the reference (or another
// trajectory); element k of `got` is compared with element k mod 17.
double worst_error(const trajectory& got, const trajectory& want) {
    REQUIRE(got.size() == want.size());
    double worst = 0.0;
    for (std::size_t t = 0; t < got.size(); ++t)
        for (std::size_t k = 0; k < got[t].size(); ++k)
            worst = std::max(worst, relative_error(got[t][k], want[t][k % want[t].size()]));
    return worst;
}

// For float against double: the error relative to the parameters' scale
// (they are of order 1), since an update that nearly cancels a parameter
// leaves a small value carrying the absolute rounding error of a large one.
double worst_scaled_error(const trajectory& got, const trajectory& want) {
    REQUIRE(got.size() == want.size());
    double worst = 0.0;
    for (std::size_t t = 0; t < got.size(); ++t)
        for (std::size_t k = 0; k < got[t].size(); ++k) {
            const double w = want[t][k % want[t].size()];
            worst = std::max(worst, std::abs(got[t][k] - w) / std::max(std::abs(w), 1.0));
        }
    return worst;
}


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

const char* const adam_cases[] = {"optim_adam_weight_decay.csv", "optim_adam_cycled_beta1.csv", "optim_adamw.csv"};

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
        const optim_reference ref = load_optim_reference(file);
        CHECK(worst_error(run_case<double>(ref, false), ref.after) <= 1e-12);
        CHECK(worst_error(run_case<double>(ref, true), ref.after) <= 1e-12);
        CHECK(worst_error(ref.before, ref.after) > 1e-3);
    }
}

TEST_CASE("adam in float agrees with double to float precision", "[optim][adam]") {
    for (const char* file : adam_cases) {
        INFO(file);
        const optim_reference ref = load_optim_reference(file);
        const trajectory d = run_case<double>(ref, false);
        const double tol = 4 * std::numeric_limits<float>::epsilon();
        const double f = worst_scaled_error(run_case<float>(ref, false), d);
        CHECK(f <= tol);
        CHECK(f > 0.0);
        CHECK(worst_scaled_error(run_case<float>(ref, true), d) <= tol);
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
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.beta1 = 1.0; }), "clr::optim::adam: beta1 = 1 must lie in [0, 1)");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.beta1 = -0.5; }), "clr::optim::adam: beta1 = -0.5 must lie in [0, 1)");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.beta2 = 1.5; }), "clr::optim::adam: beta2 = 1.5 must lie in [0, 1)");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.beta2 = std::nan(""); }),
                        "clr::optim::adam: beta2 = nan must be finite");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.eps = 0.0; }), "clr::optim::adam: eps = 0 must be positive");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.eps = -0.25; }), "clr::optim::adam: eps = -0.25 must be positive");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.eps = HUGE_VAL; }), "clr::optim::adam: eps = inf must be finite");
    REQUIRE_THROWS_WITH(adam_with([](A& o) { o.weight_decay = -1.0; }),
                        "clr::optim::adam: weight_decay = -1 must not be negative");
    REQUIRE_THROWS_WITH(adamw_with([](W& o) { o.weight_decay = -1.0; }),
                        "clr::optim::adamw: weight_decay = -1 must not be negative");
    REQUIRE_THROWS_WITH(adamw_with([](W& o) { o.weight_decay = std::nan(""); }),
                        "clr::optim::adamw: weight_decay = nan must be finite");
    REQUIRE_THROWS_WITH(adamw_with([](W& o) { o.beta1 = 2.0; }), "clr::optim::adamw: beta1 = 2 must lie in [0, 1)");
    CHECK_NOTHROW(adam_with([](A& o) { o.beta1 = 0.0; }));
}

TEST_CASE("adam: a cycled beta1 out of range stops the step before any change", "[optim][adam][errors]") {
    clr::optim::adamw opt(fixed<double>(0.1, 1.5));
    Eigen::Vector2d p(1, 2), g(1, 1);
    opt.add(p, g);
    REQUIRE_THROWS_AS(opt.step(), std::domain_error);
    REQUIRE_THROWS_WITH(opt.step(),
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
