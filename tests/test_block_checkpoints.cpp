// Checkpoints (format version 3) of optimizers with a schedule per block and
// weight decay that follows a schedule: a run resumed from any step
// continues bit for bit, the record holds each schedule's text, a changed
// block schedule or decay schedule is refused naming the block and both
// texts, every damaged byte is refused, and the version-2 files of clr 0.3.0
// still load and resume.
#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include "checkpoint_bytes.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace clr_test;
using clr::optim::block_options;

template <class T>
auto delayed(T lr) {
    return clr::sequence(clr::constant<T>(0), 40, clr::warmup(clr::constant<T>(lr), 60, T(0)));
}

template <class T>
clr::piecewise<T> rising_decay() {
    return clr::piecewise<T>({0, 200}, {T(0.04), T(0.4)}).with_interpolation(clr::interpolation::cosine);
}

template <class T>
struct net {
    using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    // The vector spans several of the optimizers' internal chunks.
    matrix w = matrix::Zero(6, 7), dw = matrix::Zero(6, 7);
    vector b = vector::Zero(1500), db = vector::Zero(1500);

    void init() {
        for (Eigen::Index i = 0; i < w.size(); ++i) w(i) = T(std::cos(0.7 * double(i)));
        for (Eigen::Index i = 0; i < b.size(); ++i) b(i) = T(std::sin(0.3 * double(i)) + 1.5);
    }
    // Gradients that depend on the parameters, so every earlier update matters.
    void gradients(clr::step_t t) {
        for (Eigen::Index i = 0; i < w.size(); ++i) dw(i) = w(i) - T(0.1 * std::sin(double(i) + double(t)));
        for (Eigen::Index i = 0; i < b.size(); ++i)
            db(i) = T(0.5) * b(i) + T(0.2 * std::cos(0.01 * double(i) * double(t)));
    }
    template <class Opt>
    void attach(Opt& opt, const block_options& o) {
        opt.add(w, dw);
        opt.add(b, db, o);
    }
    template <class Opt>
    void train(Opt& opt, clr::step_t until) {
        while (opt.steps() < until) {
            gradients(opt.steps());
            opt.step();
        }
    }
};

// One uninterrupted run of `total` steps, saved (parameters and optimizer)
// at each of `stops`. From each file a fresh optimizer and fresh parameters
// run on to `total`: the parameters, each block's last rate and the whole
// saved record must equal the uninterrupted run's.
template <class T, class Make>
void check_resume(Make make, const block_options& o, std::initializer_list<clr::step_t> stops,
                  clr::step_t total) {
    net<T> a;
    a.init();
    auto opt_a = make();
    a.attach(opt_a, o);
    std::vector<std::string> files;
    for (clr::step_t stop : stops) {
        a.train(opt_a, stop);
        std::stringstream file;
        clr::optim::save_blocks(file, a.w, a.b);
        opt_a.save(file);
        files.push_back(file.str());
    }
    a.train(opt_a, total);
    std::size_t k = 0;
    for (clr::step_t stop : stops) {
        INFO("resumed at step " << stop);
        net<T> b;
        auto opt_b = make();
        b.attach(opt_b, o);
        std::istringstream in(files[k++]);
        clr::optim::load_blocks(in, b.w, b.b);
        opt_b.load(in);
        CHECK(opt_b.steps() == stop);
        b.train(opt_b, total);
        CHECK((b.w.array() == a.w.array()).all());
        CHECK((b.b.array() == a.b.array()).all());
        CHECK(opt_b.last_lr(1) == opt_a.last_lr(1));
        CHECK(saved(opt_b) == saved(opt_a));
    }
}

const std::string hint = "; load with clr::optim::resume::new_settings if the change is intended";

}  // namespace

TEST_CASE("a run with block schedules and scheduled weight decay resumes bit for bit from any step",
          "[optim][checkpoint][block_schedule]") {
    // Stops before, at and after block 1's hold (40) and warmup (100) end.
    const auto stops = {clr::step_t(0),  clr::step_t(1),  clr::step_t(39),  clr::step_t(40),
                        clr::step_t(41), clr::step_t(99), clr::step_t(100), clr::step_t(150)};
    SECTION("sgd, nesterov, both decays scheduled") {
        auto make = [] {
            clr::optim::sgd_options o;
            o.momentum = 0.9;
            o.nesterov = true;
            o.weight_decay = rising_decay<double>();
            return clr::optim::sgd(clr::cosine<double>(0.05, 200), o);
        };
        const auto o = block_options()
                           .with_schedule(delayed(0.05))
                           .with_lr_scale(0.5)
                           .with_weight_decay(clr::cosine<double>(0.01, 200));
        check_resume<double>(make, o, stops, 200);
    }
    SECTION("sgd, float, a float decay schedule on a block") {
        auto make = [] {
            clr::optim::sgd_options o;
            o.momentum = 0.8;
            o.dampening = 0.25;
            o.weight_decay = 1e-3;
            return clr::optim::sgd(clr::one_cycle<float>(0.05f, 200).with_momentum(0.85f, 0.95f), o);
        };
        check_resume<float>(
            make, block_options().with_schedule(delayed(0.05f)).with_weight_decay(rising_decay<float>()),
            stops, 200);
    }
    SECTION("adamw, the optimizer's decay scheduled, a block's a number") {
        auto make = [] {
            clr::optim::adamw_options o;
            o.weight_decay = rising_decay<double>();
            return clr::optim::adamw(clr::cosine<double>(0.01, 200).with_eta_min(0.001), o);
        };
        check_resume<double>(make, block_options().with_schedule(delayed(0.02)).with_weight_decay(0.05),
                             stops, 200);
    }
    SECTION("adam, float, L2 decay scheduled") {
        auto make = [] {
            clr::optim::adam_options o;
            o.weight_decay = clr::cosine<double>(0.02, 200);
            return clr::optim::adam(clr::constant<float>(0.01f), o);
        };
        check_resume<float>(make, block_options().with_schedule(delayed(0.01f)).with_lr_scale(2.0), stops,
                            200);
    }
}

TEST_CASE("a version-3 record holds each schedule's text", "[optim][checkpoint][block_schedule]") {
    clr::optim::sgd_options o;
    o.weight_decay = clr::cosine<double>(0.01, 100);
    clr::optim::sgd opt(clr::constant<double>(0.5), o);
    Eigen::Vector3d p(1, 2, 3), g(0.25, -0.5, 1);
    Eigen::Vector2d q(4, 5), h(-2, 8);
    opt.add(p, g);
    opt.add(
        q, h,
        block_options().with_schedule(clr::constant<double>(0.25)).with_lr_scale(0.5).with_weight_decay(0.0));
    opt.step();
    const std::string s = saved(opt);
    const std::string decay = "cosine(lr=0.01, total_steps=100)", sched = "constant(lr=0.5)",
                      own = "constant(lr=0.25)";
    // Head, options, the decay as a schedule, the schedule, the blocks, three
    // empty lists of plateau states, the states (no momentum: one flag byte
    // each), the checksum.
    REQUIRE(s.size() == 20 + 40 + 8 * 3 + (1 + 4 + decay.size()) + sched.size() +
                            (8 + 8 + 1 + (1 + 4 + decay.size()) + 1 + 8) +
                            (8 + 8 + (1 + 4 + own.size()) + (1 + 8) + 1 + 8) + 3 * 4 + 2 + 4);
    CHECK(u32_at(s, 8) == 3);
    std::size_t at = 72;
    CHECK(s[at] == 2);  // the weight decay: a schedule,
    CHECK(u32_at(s, at + 1) == decay.size());
    CHECK(s.substr(at + 5, decay.size()) == decay);  // and its text
    at += 5 + decay.size();
    CHECK(s.substr(at + 4, u32_at(s, at)) == sched);
    at += 4 + sched.size();
    CHECK(u64_at(s, at) == 2);  // blocks
    at += 8;
    CHECK(u64_at(s, at + 8) == bits_of(1.0));  // block 0: lr_scale 1,
    CHECK(s[at + 16] == 0);                    // the optimizer's schedule,
    CHECK(s[at + 17] == 2);                    // the optimizer's decay, as applied
    CHECK(s.substr(at + 22, decay.size()) == decay);
    at += 22 + decay.size();
    CHECK(s[at] == 1);  // updated, at rate 0.5
    CHECK(u64_at(s, at + 1) == bits_of(0.5));
    at += 9;
    CHECK(u64_at(s, at) == 2);                 // block 1: 2 values,
    CHECK(u64_at(s, at + 8) == bits_of(0.5));  // lr_scale 0.5,
    CHECK(s[at + 16] == 2);                    // its own schedule
    CHECK(s.substr(at + 21, own.size()) == own);
    at += 21 + own.size();
    CHECK(s[at] == 1);  // its own decay, a number
    CHECK(u64_at(s, at + 1) == 0);
    CHECK(s[at + 9] == 1);
    CHECK(u64_at(s, at + 10) == bits_of(0.125));  // 0.25 times 0.5
    at += 18;
    for (int list = 0; list < 3; ++list) CHECK(u32_at(s, at + 4 * std::size_t(list)) == 0);  // no plateau

    SECTION("every single-bit flip and every cut is refused") {
        CHECK(refused_flips(opt, s) == s.size() * 8);
        for (std::size_t n = 0; n < s.size(); ++n) {
            INFO("length " << n);
            CHECK_THAT(load_error(opt, s.substr(0, n)),
                       Catch::StartsWith("clr::optim::sgd::load: checkpoint is truncated (reading "));
        }
    }
    SECTION("a damaged text length behind a valid checksum is refused, not believed") {
        std::string bad = s;
        put_u32(bad, 73, 0xFFFFFFF0u);
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: checkpoint is truncated (reading the text of the weight decay)");
        bad = s;
        bad[72] = 3;
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: form of the weight decay is 3, not 1 (a number) or 2 (a schedule) "
              "(damaged file?)");
    }
}

TEST_CASE("load refuses a changed block schedule or weight decay schedule, naming the block and both",
          "[optim][checkpoint][block_schedule][errors]") {
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), g = Eigen::VectorXd::Constant(3, 0.5);
    Eigen::VectorXd q = Eigen::VectorXd::Ones(2), h = Eigen::VectorXd::Constant(2, -0.5);
    const auto decay = rising_decay<double>();
    auto make = [](clr::optim::decay_value d) {
        clr::optim::adamw_options o;
        o.weight_decay = std::move(d);
        return clr::optim::adamw(clr::cosine<double>(0.01, 200), o);
    };
    const auto own =
        block_options().with_schedule(delayed(0.02)).with_weight_decay(clr::cosine<double>(0.01, 200));
    auto opt = make(decay);
    opt.add(p, g);
    opt.add(q, h, own);
    for (int k = 0; k < 45; ++k) opt.step();
    const std::string good = saved(opt);
    const std::string own_text = clr::to_string(delayed(0.02));

    // Refused by default, showing both; loaded with resume::new_settings,
    // which keeps the optimizer's settings and the checkpoint's state.
    auto refused_then_new = [&](auto& other, const std::string& message) {
        CHECK(load_error(other, good) == "clr::optim::adamw::load: " + message + hint);
        std::istringstream in(good);
        other.load(in, clr::optim::resume::new_settings);
        CHECK(other.steps() == 45);
        CHECK(other.last_lr(1) == opt.last_lr(1));
    };
    SECTION("the same settings load") {
        auto same = make(rising_decay<double>());
        same.add(p, g);
        same.add(
            q, h,
            block_options().with_schedule(delayed(0.02)).with_weight_decay(clr::cosine<double>(0.01, 200)));
        std::istringstream in(good);
        same.load(in);
        CHECK(saved(same) == good);
    }
    SECTION("another block schedule") {
        auto other = make(decay);
        other.add(p, g);
        other.add(q, h, own.with_schedule(delayed(0.03)));
        refused_then_new(other, "block 1's schedule differs: the checkpoint's is " + own_text +
                                    ", this optimizer's is " + clr::to_string(delayed(0.03)));
        other.step();
        CHECK(other.last_lr(1) == delayed(0.03).lr(45));  // its own schedule stays
    }
    SECTION("a block that follows the optimizer's schedule, and one that no longer does") {
        auto other = make(decay);
        other.add(p, g);
        other.add(q, h, own.without_schedule());
        refused_then_new(other, "block 1's schedule differs: the checkpoint's is " + own_text +
                                    ", this optimizer's is the optimizer's");
        auto third = make(decay);
        third.add(p, g, block_options().with_schedule(clr::constant<double>(0.01)));
        third.add(q, h, own);
        refused_then_new(third,
                         "block 0's schedule differs: the checkpoint's is the optimizer's, this "
                         "optimizer's is constant(lr=0.01)");
    }
    SECTION("the optimizer's weight decay schedule") {
        auto other = make(clr::cosine<double>(0.4, 200));
        other.add(p, g);
        other.add(q, h, own);
        refused_then_new(other, "weight_decay differs: the checkpoint's is " + clr::to_string(decay) +
                                    ", this optimizer's is cosine(lr=0.4, total_steps=200)");
        auto number = make(0.04);
        number.add(p, g);
        number.add(q, h, own);
        refused_then_new(number, "weight_decay differs: the checkpoint's is " + clr::to_string(decay) +
                                     ", this optimizer's is 0.04");
    }
    SECTION("a block's weight decay schedule, as applied") {
        auto other = make(decay);
        other.add(p, g);
        other.add(q, h, own.with_weight_decay(clr::cosine<double>(0.02, 200)));
        refused_then_new(other,
                         "block 1's weight decay differs: the checkpoint's is cosine(lr=0.01, "
                         "total_steps=200), this optimizer's is cosine(lr=0.02, total_steps=200)");
        auto inherits = make(decay);
        inherits.add(p, g);
        auto no_decay = own;
        no_decay.weight_decay.reset();
        inherits.add(q, h, no_decay);
        refused_then_new(inherits,
                         "block 1's weight decay differs: the checkpoint's is cosine(lr=0.01, "
                         "total_steps=200), this optimizer's is " +
                             clr::to_string(decay));
        // Block 0's own decay, the optimizer's as applied: the same setting.
        auto explicit_same = make(decay);
        explicit_same.add(p, g, block_options().with_weight_decay(decay));
        explicit_same.add(q, h, own);
        std::istringstream in(good);
        CHECK_NOTHROW(explicit_same.load(in));
    }
    SECTION("a schedule without a text form is not compared, but must still be a schedule") {
        const auto untextual = block_options().with_schedule(clr::make_cyclic(
            0.001, 0.006, 20, clr::scale_on_cycle([](clr::step_t c) { return 1.0 / double(c); })));
        auto custom = make(decay);
        custom.add(p, g);
        custom.add(q, h, untextual);
        custom.step();
        const std::string s = saved(custom);
        auto textual = make(decay);
        textual.add(p, g);
        textual.add(q, h, block_options().with_schedule(clr::constant<double>(0.1)));
        std::istringstream in(s);
        CHECK_NOTHROW(textual.load(in, clr::optim::resume::same_settings));
        auto none = make(decay);
        none.add(p, g);
        none.add(q, h);
        CHECK(load_error(none, s) ==
              "clr::optim::adamw::load: block 1's schedule differs: the checkpoint's is "
              "one without a text form, this optimizer's is the optimizer's" +
                  hint);
    }
}

TEST_CASE("a version-2 checkpoint of clr 0.3.0 still loads, resumes bit for bit and is checked",
          "[optim][checkpoint][block_schedule]") {
    // tests/data/README.md says how the files were made.
    SECTION("sgd") {
        const std::string v2 = data_file("checkpoint_v2_sgd.bin");
        REQUIRE(v2.size() == 202);
        REQUIRE(u32_at(v2, 8) == 2);
        auto make = [](clr::optim::decay_value d) {
            clr::optim::sgd_options o;
            o.momentum = 0.5;
            o.weight_decay = std::move(d);
            return clr::optim::sgd(clr::constant<double>(0.5), o);
        };
        const auto bias = block_options().with_lr_scale(0.25).with_weight_decay(0.0);
        // The run that wrote the file, now: 3 steps, then 4 more.
        Eigen::Vector3d p(1, 2, 3), g(0.25, -0.5, 1);
        Eigen::Vector2d q(4, 5), h(-2, 8);
        auto run = make(0.125);
        run.add(p, g);
        run.add(q, h, bias);
        for (int k = 0; k < 3; ++k) run.step();
        Eigen::Vector3d p2 = p;  // parameters are not in the record
        Eigen::Vector2d q2 = q;
        auto resumed = make(0.125);
        resumed.add(p2, g);
        resumed.add(q2, h, bias);
        std::istringstream in(v2);
        resumed.load(in);
        CHECK(resumed.steps() == 3);
        CHECK(resumed.last_lr() == 0.5);
        CHECK(resumed.last_lr(0) == 0.5);
        CHECK(resumed.last_lr(1) == 0.125);   // version 2's last_lr times the block's lr_scale
        CHECK(saved(resumed) == saved(run));  // the same state, written as version 3
        for (int k = 0; k < 4; ++k) {
            run.step();
            resumed.step();
        }
        CHECK(p2 == p);
        CHECK(q2 == q);

        auto decay_schedule = make(clr::cosine<double>(0.125, 100));
        decay_schedule.add(p2, g);
        decay_schedule.add(q2, h, bias);
        CHECK(load_error(decay_schedule, v2) ==
              "clr::optim::sgd::load: weight_decay differs: the checkpoint's is 0.125, this optimizer's is "
              "cosine(lr=0.125, total_steps=100)" +
                  hint);
        std::istringstream in2(v2);
        decay_schedule.load(in2, clr::optim::resume::new_settings);
        CHECK(decay_schedule.steps() == 3);
        auto own = make(0.125);
        own.add(p2, g);
        own.add(q2, h, bias.with_schedule(clr::constant<double>(0.5)));
        CHECK(load_error(own, v2) ==
              "clr::optim::sgd::load: block 1's schedule differs: the checkpoint's is "
              "the optimizer's, this optimizer's is constant(lr=0.5)" +
                  hint);
        auto decayed = make(0.125);
        decayed.add(p2, g);
        decayed.add(q2, h, block_options().with_lr_scale(0.25));
        CHECK(load_error(decayed, v2) ==
              "clr::optim::sgd::load: block 1's weight decay differs: the "
              "checkpoint's is 0, this optimizer's is 0.125" +
                  hint);

        // Damaged, it is refused as ever: every flip, every cut, and a
        // field edited behind a valid checksum (version 2's blocks at 84 + S).
        CHECK(refused_flips(resumed, v2) == v2.size() * 8);
        for (std::size_t n = 0; n < v2.size(); ++n) {
            INFO("length " << n);
            CHECK_THAT(load_error(resumed, v2.substr(0, n)),
                       Catch::StartsWith("clr::optim::sgd::load: checkpoint is truncated (reading "));
        }
        std::string bad = v2;
        put_u64(bad, 84 + u32_at(v2, 80) + 16, bits_of(-1.0));
        CHECK(load_error(resumed, resealed(bad)) ==
              "clr::optim::sgd::load: options of block 0 are lr_scale = -1, weight decay = 0.125 (damaged "
              "file?)");
    }
    SECTION("adamw, float") {
        const std::string v2 = data_file("checkpoint_v2_adamw.bin");
        REQUIRE(v2.size() == 193);
        const clr::cosine<float> sched(0.125f, 100);
        const auto half = block_options().with_lr_scale(0.5);
        Eigen::VectorXf x = Eigen::VectorXf::Ones(4), dx(4);
        dx << 0.5f, -1.0f, 2.0f, 0.25f;
        clr::optim::adamw run(sched);
        run.add(x, dx, half);
        run.step();
        run.step();
        Eigen::VectorXf x2 = x;
        clr::optim::adamw resumed(sched);
        resumed.add(x2, dx, half);
        std::istringstream in(v2);
        resumed.load(in);
        CHECK(resumed.last_lr(0) == float(double(sched.lr(1)) * 0.5));
        CHECK(saved(resumed) == saved(run));
        for (int k = 0; k < 5; ++k) {
            run.step();
            resumed.step();
        }
        CHECK(x2 == x);
    }
}
