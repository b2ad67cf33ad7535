// clr::torch::scheduler on libtorch's optimizers against PyTorch 1.13's own
// schedulers on torch.optim (Python): the same model, data and updates, from
// tests/data/torch_*.csv (scripts/gen_torch_reference.py).
#include "torch_model.hpp"

#include <clr/torch.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace clr_torch_test;

constexpr std::size_t steps = 50;

// Rates and momentum: the schedules' own bound against PyTorch's tables.
constexpr double value_tolerance = 1e-12;
// Loss and parameters, relative (absolute below 1): both programs run the
// same libtorch kernels in double, so the only difference is in the last
// bits of the rates (clr returns a phase's end exactly where PyTorch's
// arithmetic rounds; up to 4e-14 relative here) and of every update after
// them, each a small fraction of its weight. Measured: 1.2e-16 at worst
// (Adam under one_cycle), 0 for AdamW under cosine_restarts, whose rates are
// bit for bit PyTorch's. The bound is 100 times that, 1e-14: float rounding,
// far below any real difference in an update (a rate off by one step moves
// them by 1e-3).
constexpr double param_tolerance = 1e-14;

double momentum_of(const ::torch::optim::OptimizerOptions& o) {
    if (auto* s = dynamic_cast<const ::torch::optim::SGDOptions*>(&o)) return s->momentum();
    if (auto* r = dynamic_cast<const ::torch::optim::RMSpropOptions*>(&o)) return r->momentum();
    if (auto* a = dynamic_cast<const ::torch::optim::AdamOptions*>(&o)) return std::get<0>(a->betas());
    if (auto* w = dynamic_cast<const ::torch::optim::AdamWOptions*>(&o)) return std::get<0>(w->betas());
    FAIL("unexpected optimizer");
    return 0.0;
}

// |got - want| relative to |want|, or absolute below 1 (parameters that
// pass near 0 would otherwise make any difference look huge).
double param_error(double got, double want) {
    if (!std::isfinite(got)) return INFINITY;
    return std::abs(got - want) / std::max(std::abs(want), 1.0);
}

struct result {
    double worst_value = 0.0, worst_param = 0.0;
};

template <class Schedule>
result replay(const std::string& file, ::torch::optim::Optimizer& opt, std::vector<::torch::Tensor>& p,
              Schedule schedule, std::vector<double> scales, bool cycles_momentum) {
    const auto table = load_run(file, steps);
    const auto x = x_data(), y = y_data();
    clr::torch::scheduler sched(opt, schedule, scales);
    result r;
    for (std::size_t t = 0; t < steps; ++t) {
        INFO(file << ", update " << t + 1);
        const auto& g = opt.param_groups();
        REQUIRE(g.size() == 2);
        const double lr0 = g[0].options().get_lr(), lr1 = g[1].options().get_lr();
        const double m0 = momentum_of(g[0].options()), m1 = momentum_of(g[1].options());
        r.worst_value = clr_test::worse(r.worst_value, clr_test::relative_error(lr0, table[t].lr0));
        r.worst_value = clr_test::worse(r.worst_value, clr_test::relative_error(lr1, table[t].lr1));
        r.worst_value = clr_test::worse(r.worst_value, clr_test::relative_error(m0, table[t].momentum));
        CHECK(m1 == m0);
        REQUIRE(sched.last_lr().size() == 2);
        CHECK(sched.last_lr()[0] == lr0);
        CHECK(sched.last_lr()[1] == lr1);
        CHECK(sched.steps() == t);
        CHECK(sched.last_momentum().has_value() == cycles_momentum);
        if (cycles_momentum) CHECK(*sched.last_momentum() == m0);

        opt.zero_grad();
        const auto loss = loss_of(p, x, y);
        loss.backward();
        opt.step();
        sched.step();
        r.worst_param = clr_test::worse(r.worst_param, param_error(loss.item<double>(), table[t].loss));
        const auto now = flat(p);
        REQUIRE(now.size() == n_params);
        for (std::size_t k = 0; k < n_params; ++k)
            r.worst_param = clr_test::worse(r.worst_param, param_error(now[k], table[t].params[k]));
    }
    // The run moved: the parameters are not where they started.
    const auto start = flat(model());
    double moved = 0.0;
    const auto now = flat(p);
    for (std::size_t k = 0; k < n_params; ++k) moved = std::max(moved, std::abs(now[k] - start[k]));
    CHECK(moved > 0.01);
    return r;
}

void report(const std::string& what, const result& r) {
    WARN(what << ": worst relative error of rates and momentum " << r.worst_value
              << ", of loss and parameters " << r.worst_param);
    CHECK(r.worst_value <= value_tolerance);
    CHECK(r.worst_param <= param_tolerance);
}

}  // namespace

TEST_CASE("SGD with momentum under triangular with cycled momentum matches CyclicLR", "[torch][reference]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), ::torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-3));
    // CyclicLR(base_lr=[0.01, 0.005], max_lr=[0.1, 0.05], step_size_up=10, ...): group 1 at half the rate.
    const auto s = clr::triangular<double>(0.01, 0.1, 10).with_momentum(0.8, 0.95);
    report("sgd, triangular", replay("torch_sgd_triangular.csv", opt, p, s, {1.0, 0.5}, true));
}

TEST_CASE("Adam under one_cycle with cycled beta1 matches OneCycleLR", "[torch][reference]") {
    auto p = model();
    ::torch::optim::Adam opt(groups(p), ::torch::optim::AdamOptions(0.01).betas({0.9, 0.99}).eps(1e-8));
    const auto s = clr::one_cycle<double>(0.05, steps).with_pct_start(0.3).with_momentum(0.85, 0.95);
    report("adam, one_cycle", replay("torch_adam_one_cycle.csv", opt, p, s, {}, true));
    // beta2 is the optimizer's, untouched.
    for (const auto& g : opt.param_groups())
        CHECK(std::get<1>(static_cast<const ::torch::optim::AdamOptions&>(g.options()).betas()) == 0.99);
}

TEST_CASE("AdamW under cosine_restarts matches CosineAnnealingWarmRestarts", "[torch][reference]") {
    auto p = model();
    ::torch::optim::AdamW opt(
        groups(p), ::torch::optim::AdamWOptions(0.02).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.01));
    const auto s = clr::cosine_restarts<double>(0.02, 10).with_t_mult(2).with_eta_min(1e-4);
    report("adamw, cosine_restarts", replay("torch_adamw_cosine_restarts.csv", opt, p, s, {}, false));
}

TEST_CASE("RMSprop under one_cycle cycles its momentum as OneCycleLR does", "[torch][reference]") {
    auto p = model();
    ::torch::optim::RMSprop opt(groups(p),
                                ::torch::optim::RMSpropOptions(0.01).alpha(0.99).eps(1e-8).momentum(0.9));
    const auto s = clr::one_cycle<double>(0.01, steps)
                       .with_pct_start(0.25)
                       .with_anneal(clr::anneal::linear)
                       .with_div_factor(10.0)
                       .with_final_div_factor(100.0)
                       .with_momentum(0.8, 0.9);
    report("rmsprop, one_cycle", replay("torch_rmsprop_one_cycle.csv", opt, p, s, {}, true));
}

TEST_CASE("any_schedule read from text drives the optimizer as the static type does", "[torch][reference]") {
    auto p = model();
    ::torch::optim::Adam opt(groups(p), ::torch::optim::AdamOptions(0.01).betas({0.9, 0.99}).eps(1e-8));
    const auto s = clr::parse_schedule<double>(
        clr::to_string(clr::one_cycle<double>(0.05, steps).with_pct_start(0.3).with_momentum(0.85, 0.95)));
    report("adam, one_cycle as any_schedule", replay("torch_adam_one_cycle.csv", opt, p, s, {}, true));
}
