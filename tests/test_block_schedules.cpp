// A learning-rate schedule per parameter block
// (clr::optim::block_options::with_schedule) and weight decay that follows a
// schedule (clr::optim::decay_value): against PyTorch runs that set each
// parameter group's lr and weight_decay before every step
// (tests/data/optim_*_block_schedules.csv, from
// scripts/gen_optim_schedule_reference.py), last_lr(b), and every value a
// schedule can give that a step must refuse. Checkpoints of them:
// tests/test_block_checkpoints.cpp.
#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include "checkpoint_bytes.hpp"
#include "optim_reference.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace clr_test;

// The schedules of the reference tables, as clr builds them: the weight
// decay rises along a cosine from 0.04 to 0.4 (DINO's), and block 1 is held
// at rate 0 for 40 updates, then warmed up over 60 to `lr`.
clr::piecewise<double> rising_decay() {
    return clr::piecewise<double>({0, 300}, {0.04, 0.4}).with_interpolation(clr::interpolation::cosine);
}

template <class T>
auto delayed(T lr) {
    return clr::sequence(clr::constant<T>(0), 40, clr::warmup(clr::constant<T>(lr), 60, T(0)));
}

auto sgd_run() {
    clr::optim::sgd_options o;
    o.momentum = 0.9;
    o.weight_decay = rising_decay();
    return clr::optim::sgd(clr::cosine<double>(0.05, 300), o);
}

clr::optim::block_options sgd_block1() {
    return clr::optim::block_options()
        .with_schedule(delayed(0.05))
        .with_weight_decay(clr::cosine<double>(0.01, 300));
}

auto adamw_run() {
    clr::optim::adamw_options o;
    o.weight_decay = rising_decay();
    return clr::optim::adamw(clr::cosine<double>(0.01, 300).with_eta_min(0.001), o);
}

clr::optim::block_options adamw_block1() {
    return clr::optim::block_options()
        .with_schedule(delayed(0.02))
        .with_lr_scale(0.5)
        .with_weight_decay(0.05);
}

struct errors {
    double params = 0.0;  // worst relative error of the parameters after each update
    double values = 0.0;  // of the rates and weight decays the optimizer used, against the table's columns
};

// The reference run: the 3x4 matrix on the optimizer's settings, the
// 5-vector with `block1`.
template <class Opt>
errors run_reference(const optim_reference& ref, Opt opt, const clr::optim::block_options& block1) {
    Eigen::MatrixXd w(3, 4), dw(3, 4);
    Eigen::VectorXd b(5), db(5);
    opt.add(w, dw);
    opt.add(b, db, block1);
    for (Eigen::Index i = 0; i < 12; ++i) w(i / 4, i % 4) = ref.before[0][std::size_t(i)];
    for (Eigen::Index i = 0; i < 5; ++i) b(i) = ref.before[0][std::size_t(12 + i)];
    const clr::optim::decay_value& wd0 = opt.options().weight_decay;
    const clr::optim::decay_value& wd1 = block1.weight_decay ? *block1.weight_decay : wd0;
    errors e;
    for (std::size_t t = 0; t < ref.steps; ++t) {
        REQUIRE(opt.steps() == t);
        e.values = worse(e.values, relative_error(wd0.at(t), ref.extra.at("wd0")[t]));
        e.values = worse(e.values, relative_error(wd1.at(t), ref.extra.at("wd1")[t]));
        for (Eigen::Index i = 0; i < 12; ++i) dw(i / 4, i % 4) = ref.grad[t][std::size_t(i)];
        for (Eigen::Index i = 0; i < 5; ++i) db(i) = ref.grad[t][std::size_t(12 + i)];
        opt.step();
        e.values = worse(e.values, relative_error(*opt.last_lr(0), ref.lr[t]));
        e.values = worse(e.values, relative_error(*opt.last_lr(1), ref.extra.at("lr1")[t]));
        for (Eigen::Index i = 0; i < 12; ++i)
            e.params = worse(e.params, relative_error(w(i / 4, i % 4), ref.after[t][std::size_t(i)]));
        for (Eigen::Index i = 0; i < 5; ++i)
            e.params = worse(e.params, relative_error(b(i), ref.after[t][std::size_t(12 + i)]));
    }
    return e;
}

// A schedule that gives `bad` at one step and `good` at every other.
template <class T>
class bad_at : public clr::schedule<bad_at<T>, T> {
public:
    bad_at(T good, clr::step_t at, T bad) : good_(good), bad_(bad), at_(at) {}
    T lr_at(clr::step_t t) const noexcept { return t == at_ ? bad_ : good_; }
    clr::range<T> lr_range() const noexcept { return {good_, good_}; }

private:
    T good_, bad_;
    clr::step_t at_;
};

// A fixed rate with the momentum another schedule cycles.
template <class S>
class rate_with_momentum_of : public clr::schedule<rate_with_momentum_of<S>, typename S::value_type> {
    using T = typename S::value_type;

public:
    rate_with_momentum_of(T lr, S s) : lr_(lr), s_(std::move(s)) {}
    T lr_at(clr::step_t) const noexcept { return lr_; }
    std::optional<T> momentum_at(clr::step_t t) const { return s_.momentum(t); }
    clr::range<T> lr_range() const noexcept { return {lr_, lr_}; }

private:
    T lr_;
    S s_;
};

}  // namespace

TEST_CASE("sgd: a block schedule and scheduled weight decay match torch.optim.SGD parameter groups",
          "[optim][sgd][block_schedule]") {
    const optim_reference ref = load_optim_reference("optim_sgd_block_schedules.csv", optim_steps);
    REQUIRE(ref.options.at("optimizer") == "sgd");
    REQUIRE(ref.number("momentum") == 0.9);
    REQUIRE(ref.number("block1_lr_scale") == 1.0);
    const errors e = run_reference(ref, sgd_run(), sgd_block1());
    CHECK(e.values <= 1e-15);  // measured: 0, every rate and decay the same double
    CHECK(e.params <= 1e-12);  // measured over 300 updates: 4.4e-16
    // The table is not trivial: block 1 stays put for 40 updates, then moves.
    CHECK(ref.after[39][12] == ref.before[0][12]);
    CHECK(ref.after[299][12] != ref.before[0][12]);
    // Without its schedule, or with the optimizer's weight decay, block 1
    // runs differently (measured: 0.70 and 1.5): the comparison above can fail.
    CHECK(run_reference(ref, sgd_run(), sgd_block1().without_schedule()).params > 1e-3);
    auto optimizer_decay = sgd_block1();
    optimizer_decay.weight_decay.reset();
    CHECK(run_reference(ref, sgd_run(), optimizer_decay).params > 1e-3);
}

TEST_CASE("adamw: a block schedule with lr_scale and a scheduled decoupled decay match torch.optim.AdamW",
          "[optim][adam][block_schedule]") {
    const optim_reference ref = load_optim_reference("optim_adamw_block_schedules.csv", optim_steps);
    REQUIRE(ref.options.at("optimizer") == "adamw");
    REQUIRE(ref.number("block1_lr_scale") == 0.5);
    const errors e = run_reference(ref, adamw_run(), adamw_block1());
    CHECK(e.values <= 1e-15);  // measured: 0
    CHECK(e.params <= 1e-12);  // measured over 300 updates: 5.0e-16
    clr::optim::adamw_options fixed_decay;
    fixed_decay.weight_decay = 0.04;
    CHECK(run_reference(ref,
                        clr::optim::adamw(clr::cosine<double>(0.01, 300).with_eta_min(0.001), fixed_decay),
                        adamw_block1())
              .params > 1e-3);
}

TEST_CASE("a block schedule replaces the optimizer's rate, nothing else", "[optim][block_schedule]") {
    // Block 0 on the optimizer's schedule, block 1 on its own; the momentum
    // both use is the one the optimizer's schedule cycles.
    const auto sched = clr::one_cycle<double>(0.1, 100).with_momentum(0.85, 0.95);
    clr::optim::sgd opt(sched);
    clr::optim::sgd alone(rate_with_momentum_of(0.01, sched));
    Eigen::VectorXd p = Eigen::VectorXd::Ones(4), q = p, r = p, g = Eigen::VectorXd::Constant(4, 0.5);
    opt.add(p, g);
    opt.add(q, g, clr::optim::block_options().with_schedule(clr::constant<double>(0.01)));
    alone.add(r, g);
    for (int k = 0; k < 20; ++k) {
        opt.step();
        alone.step();
    }
    CHECK(q == r);  // bit for bit the run of an optimizer on that schedule
    CHECK(p != q);
    CHECK(opt.last_lr() == sched.lr(19));
    CHECK(opt.last_lr(0) == sched.lr(19));
    CHECK(opt.last_lr(1) == 0.01);
    CHECK(opt.last_momentum() == sched.momentum(19));
}

TEST_CASE("last_lr(b): the rate a block's last step applied, after its lr_scale", "[optim][block_schedule]") {
    const clr::linear<double> ramp(0.1, 0.2, 10);
    clr::optim::sgd opt(clr::constant<double>(0.5));
    Eigen::VectorXd a = Eigen::VectorXd::Ones(2), b = a, c = a, d = a, g = Eigen::VectorXd::Ones(2);
    opt.add(a, g);
    opt.add(b, g, clr::optim::block_options().with_lr_scale(0.25));
    opt.add(c, g, clr::optim::block_options().with_schedule(ramp).with_lr_scale(0.5));
    for (std::size_t i = 0; i < 3; ++i) CHECK_FALSE(opt.last_lr(i));  // no step yet
    for (int k = 0; k < 3; ++k) opt.step();
    CHECK(opt.last_lr() == 0.5);  // the optimizer's schedule
    CHECK(opt.last_lr(0) == 0.5);
    CHECK(opt.last_lr(1) == 0.125);
    CHECK(opt.last_lr(2) == ramp.lr(2) * 0.5);
    double expected = 1.0;  // the block moved at its own rates
    for (clr::step_t t = 0; t < 3; ++t) expected -= ramp.lr(t) * 0.5;
    CHECK(c(0) == expected);
    opt.add(d, g);  // registered late: no rate applied to it yet
    CHECK_FALSE(opt.last_lr(3));
    opt.step();
    CHECK(opt.last_lr(3) == 0.5);
    CHECK(opt.last_lr(2) == ramp.lr(3) * 0.5);
    REQUIRE_THROWS_AS(opt.last_lr(4), std::out_of_range);
    REQUIRE_THROWS_WITH(opt.last_lr(4), "clr::optim::sgd::last_lr: block 4, 4 registered");
    // options_of gives the block's schedule back, of the optimizer's type.
    REQUIRE(opt.options_of(2).has_schedule());
    // Within an ulp: inlined here, ramp.lr may fuse a multiply-add the held copy does not.
    CHECK(opt.options_of(2).schedule<double>()->lr(7) == Approx(ramp.lr(7)).epsilon(1e-15));
    CHECK(opt.options_of(2).schedule<float>() == nullptr);
    CHECK(opt.options_of(2).schedule_value_type() == std::string("double"));
    CHECK_FALSE(opt.options_of(1).has_schedule());
    CHECK(opt.options_of(1).schedule_value_type() == nullptr);
}

TEST_CASE("weight decay: a number as before, a schedule evaluated in double at each step",
          "[optim][block_schedule]") {
    clr::optim::sgd_options o;
    o.weight_decay = 5e-4;  // as always
    CHECK(o.weight_decay == 5e-4);
    CHECK(o.weight_decay.number() == 5e-4);
    CHECK(o.weight_decay.text() == "5e-04");          // clr::format_number's shortest form
    o.weight_decay = clr::cosine<float>(0.04f, 100);  // any value type: taken in double
    CHECK_FALSE(o.weight_decay.number());
    CHECK(o.weight_decay != 0.04);
    CHECK(o.weight_decay.at(50) == double(clr::cosine<float>(0.04f, 100).lr(50)));
    CHECK(o.weight_decay.text() == "cosine(lr=0.04, total_steps=100)");
    CHECK(clr::optim::decay_value(bad_at<double>(0.1, 3, -1.0)).text().empty());  // no text form
    const auto b = clr::optim::block_options().with_weight_decay(0.0);
    CHECK(b.weight_decay == 0.0);

    // Update t + 1 applies the schedule's value at t: one step of plain SGD
    // with decay d on p = 2, g = 0 gives p = 2 - lr * d * 2.
    clr::optim::sgd_options so;
    so.weight_decay = clr::linear<double>(0.5, 0.25, 1);
    clr::optim::sgd opt(clr::constant<double>(0.5), so);
    Eigen::VectorXd p = Eigen::VectorXd::Constant(1, 2.0), g = Eigen::VectorXd::Zero(1);
    opt.add(p, g);
    opt.step();
    CHECK(p(0) == 2.0 - 0.5 * 0.5 * 2.0);  // decay 0.5 at update 1
    opt.step();
    CHECK(p(0) == 1.5 - 0.5 * 0.25 * 1.5);  // 0.25 from update 2 on

    // A number is checked where it is used, a schedule at every step.
    clr::optim::adamw_options bad;
    bad.weight_decay = -0.5;
    REQUIRE_THROWS_WITH(clr::optim::adamw(clr::constant<double>(0.1), bad),
                        "clr::optim::adamw: weight_decay = -0.5 must not be negative");
    REQUIRE_THROWS_WITH(clr::optim::block_options().with_weight_decay(std::nan("")),
                        "clr::optim::block_options: weight_decay = nan must be finite");
    clr::optim::block_options direct;
    direct.weight_decay = -1.0;
    REQUIRE_THROWS_WITH(opt.add(p, g, direct),
                        "clr::optim::sgd::add: weight_decay = -1 must not be negative");
}

TEST_CASE("add refuses a block schedule of another value type", "[optim][block_schedule][errors]") {
    clr::optim::sgd opt(clr::constant<double>(0.1));
    Eigen::VectorXd p(3), g(3);
    const auto single = clr::optim::block_options().with_schedule(clr::cosine<float>(0.1f, 100));
    REQUIRE_THROWS_AS(opt.add(p, g, single), clr::invalid_parameter);
    REQUIRE_THROWS_WITH(opt.add(p, g, single),
                        "clr::optim::sgd::add: the schedule of block 0 = a float "
                        "schedule must be of the optimizer's value_type, double");
    CHECK(opt.num_blocks() == 0);
    try {
        opt.add(p, g, single);
    } catch (const clr::invalid_parameter& e) {
        CHECK(e.param() == "the schedule of block 0");
        CHECK(e.value() == "a float schedule");
    }

    clr::optim::adamw f(clr::constant<float>(0.1f));
    Eigen::VectorXf x(3), dx(3), y(2), dy(2);
    f.add(x, dx);
    REQUIRE_THROWS_WITH(f.add(y, dy, clr::optim::block_options().with_schedule(delayed(0.1))),
                        "clr::optim::adamw::add: the schedule of block 1 = a double schedule must be of the "
                        "optimizer's value_type, float");
    CHECK(f.num_blocks() == 1);
    CHECK(f.add(y, dy, clr::optim::block_options().with_schedule(delayed(0.1f))) == 1);
}

namespace {

// Throws on the step at which one of `opt`'s schedules gives a bad value,
// with `message`, and leaves everything as it was: parameters, state,
// steps(), last_lr() and each block's; step(reduce) the same, without
// calling reduce.
template <class Opt, class Vec>
void check_refused_at_3(Opt& opt, const Vec& p, const Vec& q, const std::string& message) {
    using T = typename Opt::value_type;
    for (int k = 0; k < 3; ++k) opt.step();
    // Copies: the optimizer holds p and q and would change them.
    const Vec p0 = p;  // NOLINT(performance-unnecessary-copy-initialization)
    const Vec q0 = q;  // NOLINT(performance-unnecessary-copy-initialization)
    const std::string before = saved(opt);
    const auto last = opt.last_lr(), last1 = opt.last_lr(1);
    REQUIRE_THROWS_AS(opt.step(), std::domain_error);
    REQUIRE_THROWS_WITH(opt.step(), message);
    bool reduced = false;
    REQUIRE_THROWS_WITH(opt.step([&](clr::optim::gradient_span<T>) { reduced = true; }), message);
    CHECK_FALSE(reduced);
    CHECK(p == p0);
    CHECK(q == q0);
    CHECK(opt.steps() == 3);
    CHECK(opt.last_lr() == last);
    CHECK(opt.last_lr(1) == last1);
    CHECK(saved(opt) == before);
}

}  // namespace

TEST_CASE("a bad rate or weight decay from a schedule is refused before anything changes",
          "[optim][block_schedule][errors]") {
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), q = p, g = Eigen::VectorXd::Constant(3, 0.5);
    const std::string tail = " at step 3; it must be finite and not negative";
    SECTION("a block schedule's negative rate") {
        clr::optim::sgd opt(clr::constant<double>(0.1));
        opt.add(p, g);
        opt.add(q, g, clr::optim::block_options().with_schedule(bad_at<double>(0.1, 3, -0.5)));
        check_refused_at_3(opt, p, q, "clr::optim::sgd::step: block 1's schedule gives lr = -0.5" + tail);
    }
    SECTION("a block schedule's infinite rate") {
        clr::optim::adam opt(clr::constant<double>(0.1));
        opt.add(p, g);
        opt.add(q, g, clr::optim::block_options().with_schedule(bad_at<double>(0.1, 3, HUGE_VAL)));
        check_refused_at_3(opt, p, q, "clr::optim::adam::step: block 1's schedule gives lr = inf" + tail);
    }
    SECTION("a block's weight decay schedule gives nan") {
        clr::optim::sgd opt(clr::constant<double>(0.1));
        opt.add(p, g);
        opt.add(q, g, clr::optim::block_options().with_weight_decay(bad_at<double>(0.1, 3, std::nan(""))));
        check_refused_at_3(opt, p, q,
                           "clr::optim::sgd::step: block 1's weight decay schedule gives nan" + tail);
    }
    SECTION("the optimizer's weight decay schedule gives a negative value") {
        clr::optim::adamw_options o;
        o.weight_decay = bad_at<float>(0.01f, 3, -0.25f);
        clr::optim::adamw opt(clr::constant<double>(0.1), o);
        opt.add(p, g);
        opt.add(q, g, clr::optim::block_options().with_schedule(clr::constant<double>(0.2)));
        check_refused_at_3(opt, p, q,
                           "clr::optim::adamw::step: the weight decay schedule gives -0.25" + tail);
    }
    SECTION("a float block schedule's rate, shown in float's shortest form") {
        clr::optim::adamw opt(clr::constant<float>(0.1f));
        Eigen::VectorXf pf = Eigen::VectorXf::Ones(3), qf = pf, gf = Eigen::VectorXf::Constant(3, 0.5f);
        opt.add(pf, gf);
        opt.add(qf, gf, clr::optim::block_options().with_schedule(bad_at<float>(0.1f, 3, -0.1f)));
        check_refused_at_3(opt, pf, qf, "clr::optim::adamw::step: block 1's schedule gives lr = -0.1" + tail);
    }
    SECTION("a block schedule's rate that lr_scale takes out of range") {
        clr::optim::sgd opt(clr::constant<float>(0.1f));
        Eigen::VectorXf pf = Eigen::VectorXf::Ones(3), qf = pf, gf = Eigen::VectorXf::Zero(3);
        opt.add(pf, gf);
        opt.add(qf, gf,
                clr::optim::block_options().with_schedule(bad_at<float>(0.1f, 3, 3e38f)).with_lr_scale(10.0));
        check_refused_at_3(opt, pf, qf,
                           "clr::optim::sgd::step: lr = 3e+38 at step 3 times block 1's lr_scale = 10 is not "
                           "finite");
    }
}
