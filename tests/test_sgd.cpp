// clr::optim::sgd against torch.optim.SGD (tests/data/optim_sgd_*.csv, from
// scripts/gen_optim_reference.py), hand-derived updates, and every rejected
// input.
#include <clr/optim/sgd.hpp>

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

clr::optim::sgd_options sgd_options_of(const optim_reference& ref) {
    REQUIRE(ref.options.at("optimizer") == "sgd");
    clr::optim::sgd_options o;
    o.momentum = ref.number("momentum");
    o.dampening = ref.number("dampening");
    o.weight_decay = ref.number("weight_decay");
    o.nesterov = ref.options.at("nesterov") == "true";
    return o;
}

template <class T>
auto make_sgd(const clr::optim::sgd_options& o) {
    return [o](table_schedule<T> s) { return clr::optim::sgd<table_schedule<T>>(std::move(s), o); };
}

const char* const sgd_cases[] = {"optim_sgd_plain.csv", "optim_sgd_momentum.csv",
                                 "optim_sgd_nesterov_cycled.csv"};

}  // namespace

TEST_CASE("sgd matches torch.optim.SGD update for update", "[optim][sgd]") {
    for (const char* file : sgd_cases) {
        INFO(file);
        const optim_reference ref = load_optim_reference(file, optim_steps);
        const auto o = sgd_options_of(ref);
        const double worst = worst_error(run_blocks<double>(ref, make_sgd<double>(o)), ref.after);
        CHECK(worst <= 1e-12);  // measured over 300 updates: at most 1.2e-15
        CHECK(worst_error(run_tiled<double>(ref, make_sgd<double>(o)), ref.after) <= 1e-12);
        // The updates are not trivially small: a wrong rule would show.
        CHECK(worst_error(ref.before, ref.after) > 1e-3);
    }
}

TEST_CASE("sgd in float agrees with double to float precision", "[optim][sgd]") {
    for (const char* file : sgd_cases) {
        INFO(file);
        const optim_reference ref = load_optim_reference(file, optim_steps);
        const auto o = sgd_options_of(ref);
        const trajectory d = run_blocks<double>(ref, make_sgd<double>(o));
        // Float rounds every update, and the table's gradients do not depend
        // on the float run's parameters, so nothing pulls its rounding errors
        // back: over the run they add up like a random walk, about
        // sqrt(300) = 17 times one update's. The first 8 updates must stay
        // within 4 float epsilons, all 300 within 16. Measured worst scaled
        // errors, SGD: 1.0, 0.7, 1.8 eps over the first 8 and 7.4,
        // 6.7, 7.3 eps over all 300 for plain, momentum, nesterov-cycled.
        const double eps = std::numeric_limits<float>::epsilon();
        const trajectory f = run_blocks<float>(ref, make_sgd<float>(o));
        const double first8 = worst_scaled_error(f, d, 8), all = worst_scaled_error(f, d);
        CHECK(first8 <= 4 * eps);
        CHECK(all <= 16 * eps);
        CHECK(all > 0.0);  // it did run in float
        const trajectory tiled = run_tiled<float>(ref, make_sgd<float>(o));
        CHECK(worst_scaled_error(tiled, d, 8) <= 4 * eps);
        CHECK(worst_scaled_error(tiled, d) <= 16 * eps);
    }
}

TEST_CASE("sgd with block options matches torch.optim.SGD parameter groups", "[optim][sgd]") {
    // Block 1 in its own group at 0.3 times the rate and without weight
    // decay; nesterov with cycled momentum.
    const optim_reference ref = load_optim_reference("optim_sgd_groups.csv", optim_steps);
    REQUIRE(block1_options_of(ref).lr_scale == 0.3);
    REQUIRE(block1_options_of(ref).weight_decay == 0.0);
    const auto o = sgd_options_of(ref);
    CHECK(worst_error(run_blocks<double>(ref, make_sgd<double>(o)), ref.after) <= 1e-12);
    // Without the options the run differs: the comparison above can fail.
    optim_reference plain = ref;
    plain.options.erase("block1_lr_scale");
    plain.options.erase("block1_weight_decay");
    CHECK(worst_error(run_blocks<double>(plain, make_sgd<double>(o)), ref.after) > 1e-3);
}

TEST_CASE("sgd: a block's lr_scale and weight decay act as a separate optimizer's", "[optim][sgd]") {
    for (const char* file : sgd_cases) {
        INFO(file);
        const optim_reference ref = load_optim_reference(file, optim_steps);
        const auto o = sgd_options_of(ref);
        // Weight decay 0 where the case decays (a bias left out), 0.03 where it does not.
        auto other = o;
        other.weight_decay = o.weight_decay == 0.0 ? 0.03 : 0.0;
        const auto decay = clr::optim::block_options().with_weight_decay(other.weight_decay);
        CHECK(differs_from_separate<double>(ref, decay.with_lr_scale(0.5), 0.5, make_sgd<double>(o),
                                            make_sgd<double>(other)) == 0);
        CHECK(differs_from_separate<double>(ref, clr::optim::block_options().with_lr_scale(0.5), 0.5,
                                            make_sgd<double>(o), make_sgd<double>(o)) == 0);
        CHECK(differs_from_separate<float>(ref, decay, 1.0f, make_sgd<float>(o), make_sgd<float>(other)) ==
              0);
    }
}

TEST_CASE("sgd: per-block options by hand", "[optim][sgd]") {
    clr::optim::sgd_options o;
    o.weight_decay = 0.5;
    clr::optim::sgd opt(fixed<double>(0.5), o);
    Eigen::VectorXd a = Eigen::VectorXd::Constant(1, 8.0), b = a, c = a, d = a;
    const Eigen::VectorXd g = Eigen::VectorXd::Constant(1, 1.0);
    opt.add(a, g);
    opt.add(b, g, clr::optim::block_options().with_lr_scale(0.5));
    opt.add(c, g, clr::optim::block_options().with_weight_decay(0.0));
    opt.add(d, g, clr::optim::block_options().with_lr_scale(0.0));
    opt.step();
    CHECK(a(0) == 8.0 - 0.5 * (1 + 0.5 * 8));   // 5.5
    CHECK(b(0) == 8.0 - 0.25 * (1 + 0.5 * 8));  // 6.75: half the rate
    CHECK(c(0) == 8.0 - 0.5 * 1);               // 7.5: no decay
    CHECK(d(0) == 8.0);                         // frozen
    CHECK(opt.last_lr() == 0.5);                // the schedule's rate, not a block's
    CHECK(opt.options_of(1).lr_scale == 0.5);
    CHECK_FALSE(opt.options_of(1).weight_decay);
    CHECK(opt.options_of(2).weight_decay == 0.0);
    REQUIRE_THROWS_AS(opt.options_of(4), std::out_of_range);
    REQUIRE_THROWS_WITH(opt.options_of(4), "clr::optim::sgd::options_of: block 4, 4 registered");
}

TEST_CASE("sgd momentum buffer starts from the first gradient", "[optim][sgd]") {
    clr::optim::sgd_options o;
    o.momentum = 0.5;
    clr::optim::sgd opt(fixed<double>(0.25), o);
    Eigen::Vector2d p(1.0, -2.0), g(2.0, 4.0);
    opt.add(p, g);
    opt.step();  // buf = g; a zero-initialised buffer would give 1 - 0.25 * 1.
    CHECK(p(0) == 0.5);
    CHECK(p(1) == -3.0);
    opt.step();  // buf = 0.5 * g + g = 1.5 g
    CHECK(p(0) == 0.5 - 0.25 * 3.0);
    CHECK(p(1) == -3.0 - 0.25 * 6.0);
    CHECK(opt.steps() == 2);
}

TEST_CASE("sgd with dampening, nesterov and weight decay by hand", "[optim][sgd]") {
    SECTION("dampening scales the gradient after the first update") {
        clr::optim::sgd_options o;
        o.momentum = 0.5;
        o.dampening = 0.75;
        clr::optim::sgd opt(fixed<double>(1.0), o);
        Eigen::VectorXd p = Eigen::VectorXd::Constant(1, 10.0), g = Eigen::VectorXd::Constant(1, 4.0);
        opt.add(p, g);
        opt.step();  // buf = 4
        CHECK(p(0) == 6.0);
        opt.step();  // buf = 0.5 * 4 + 0.25 * 4 = 3
        CHECK(p(0) == 3.0);
    }
    SECTION("nesterov looks ahead along the buffer") {
        clr::optim::sgd_options o;
        o.momentum = 0.5;
        o.nesterov = true;
        clr::optim::sgd opt(fixed<double>(1.0), o);
        Eigen::VectorXd p = Eigen::VectorXd::Constant(1, 10.0), g = Eigen::VectorXd::Constant(1, 4.0);
        opt.add(p, g);
        opt.step();  // buf = 4, d = 4 + 0.5 * 4 = 6
        CHECK(p(0) == 4.0);
        g(0) = 2.0;
        opt.step();  // buf = 0.5 * 4 + 2 = 4, d = 2 + 0.5 * 4 = 4
        CHECK(p(0) == 0.0);
    }
    SECTION("weight decay is added to the gradient") {
        clr::optim::sgd_options o;
        o.weight_decay = 0.5;
        clr::optim::sgd opt(fixed<double>(0.5), o);
        Eigen::VectorXd p = Eigen::VectorXd::Constant(1, 8.0), g = Eigen::VectorXd::Constant(1, 1.0);
        opt.add(p, g);
        opt.step();  // d = 1 + 0.5 * 8 = 5
        CHECK(p(0) == 5.5);
    }
}

TEST_CASE("sgd: cycled momentum replaces the option, zero skips the buffer", "[optim][sgd]") {
    // momentum option 0.9 is ignored: the schedule says 0.5.
    clr::optim::sgd_options o;
    o.momentum = 0.9;
    clr::optim::sgd opt(fixed<double>(1.0, 0.5), o);
    Eigen::VectorXd p = Eigen::VectorXd::Constant(1, 0.0), g = Eigen::VectorXd::Constant(1, 1.0);
    opt.add(p, g);
    opt.step();  // buf = 1
    opt.step();  // buf = 0.5 + 1 = 1.5
    CHECK(p(0) == -2.5);

    // A schedule whose momentum is 0 gives plain SGD, as PyTorch's `momentum != 0` test.
    clr::optim::sgd plain(fixed<double>(1.0, 0.0), o);
    Eigen::VectorXd q = Eigen::VectorXd::Constant(1, 0.0);
    plain.add(q, g);
    plain.step();
    plain.step();
    CHECK(q(0) == -2.0);
}

TEST_CASE("sgd: an empty optimizer still counts steps", "[optim][sgd]") {
    clr::optim::sgd opt(fixed<float>(0.1f));
    CHECK(opt.num_blocks() == 0);
    opt.step();
    opt.step();
    CHECK(opt.steps() == 2);
    opt.set_steps(40);
    CHECK(opt.steps() == 40);
}

TEST_CASE("sgd: each bad option is rejected with its name and value", "[optim][sgd][errors]") {
    const fixed<double> s(0.1);
    auto with = [&](auto edit) {
        clr::optim::sgd_options o;
        edit(o);
        return clr::optim::sgd(s, o);
    };
    using O = clr::optim::sgd_options;
    REQUIRE_THROWS_AS(with([](O& o) { o.momentum = 1.5; }), std::invalid_argument);
    REQUIRE_THROWS_WITH(with([](O& o) { o.momentum = 1.5; }),
                        "clr::optim::sgd: momentum = 1.5 must lie in [0, 1)");
    REQUIRE_THROWS_WITH(with([](O& o) { o.momentum = 1.0; }),
                        "clr::optim::sgd: momentum = 1 must lie in [0, 1)");
    REQUIRE_THROWS_WITH(with([](O& o) { o.momentum = -0.25; }),
                        "clr::optim::sgd: momentum = -0.25 must lie in [0, 1)");
    REQUIRE_THROWS_WITH(with([](O& o) { o.momentum = std::nan(""); }),
                        "clr::optim::sgd: momentum = nan must be finite");
    REQUIRE_THROWS_WITH(with([](O& o) { o.dampening = 1.5; }),
                        "clr::optim::sgd: dampening = 1.5 must lie in [0, 1]");
    REQUIRE_THROWS_WITH(with([](O& o) { o.dampening = -0.5; }),
                        "clr::optim::sgd: dampening = -0.5 must lie in [0, 1]");
    REQUIRE_THROWS_WITH(with([](O& o) { o.weight_decay = -0.5; }),
                        "clr::optim::sgd: weight_decay = -0.5 must not be negative");
    REQUIRE_THROWS_WITH(with([](O& o) { o.weight_decay = HUGE_VAL; }),
                        "clr::optim::sgd: weight_decay = inf must be finite");
    REQUIRE_THROWS_WITH(with([](O& o) { o.nesterov = true; }),
                        "clr::optim::sgd: momentum = 0 must be positive with nesterov = true "
                        "(or cycled by the schedule)");
    REQUIRE_THROWS_WITH(with([](O& o) {
                            o.nesterov = true;
                            o.momentum = 0.5;
                            o.dampening = 0.5;
                        }),
                        "clr::optim::sgd: dampening = 0.5 must be 0 with nesterov = true");
    // Edges that are valid.
    CHECK_NOTHROW(with([](O& o) { o.dampening = 1.0; }));
    CHECK_NOTHROW(with([](O& o) {
        o.nesterov = true;
        o.momentum = 0.5;
    }));
    clr::optim::sgd_options o;
    o.nesterov = true;  // momentum 0 but cycled by the schedule
    CHECK_NOTHROW(clr::optim::sgd(fixed<double>(0.1, 0.9), o));
}

TEST_CASE("sgd: any contiguous piece of a vector or matrix is a block", "[optim][sgd]") {
    // head, segment and fixed-size segment are VectorBlocks, leftCols a Block:
    // contiguous, so accepted, and only their own values move.
    Eigen::VectorXd v = Eigen::VectorXd::Constant(10, 1.0), g = Eigen::VectorXd::Constant(10, 0.5);
    Eigen::MatrixXd m = Eigen::MatrixXd::Constant(3, 4, 2.0), dm = Eigen::MatrixXd::Constant(3, 4, 1.0);
    clr::optim::sgd opt(clr::constant<double>(0.25));
    CHECK(opt.add(v.head(2), g.head(2)) == 0);
    CHECK(opt.add(v.segment(3, 3), g.segment(3, 3)) == 1);
    CHECK(opt.add(v.segment<2>(8), g.segment<2>(8)) == 2);
    CHECK(opt.add(m.leftCols(2), dm.leftCols(2)) == 3);
    opt.step();
    const double moved = 1.0 - 0.25 * 0.5;  // 0.875
    const std::vector<double> want{moved, moved, 1.0, moved, moved, moved, 1.0, 1.0, moved, moved};
    for (Eigen::Index i = 0; i < 10; ++i) CHECK(v(i) == want[static_cast<std::size_t>(i)]);
    CHECK((m.leftCols(2).array() == 1.75).all());  // 2 - 0.25 * 1
    CHECK((m.rightCols(2).array() == 2.0).all());
    // A piece with gaps is still refused at run time: topRows skips between columns.
    REQUIRE_THROWS_WITH(opt.add(m.topRows(2), dm.topRows(2)),
                        Catch::Contains("param is not contiguous in memory"));
}

TEST_CASE("sgd: bad blocks are rejected at add()", "[optim][sgd][errors]") {
    clr::optim::sgd opt(fixed<double>(0.1));
    Eigen::MatrixXd w(4, 5), dw(4, 5);
    Eigen::VectorXd small(12);
    REQUIRE_THROWS_AS(opt.add(w, small), std::invalid_argument);
    REQUIRE_THROWS_WITH(opt.add(w, small), "clr::optim::sgd::add: grad has 12 values but param has 20");
    REQUIRE_THROWS_WITH(
        opt.add(w.block(0, 0, 2, 2), dw.block(0, 0, 2, 2)),
        "clr::optim::sgd::add: param is not contiguous in memory (inner stride 1, outer stride 4 "
        "for 2x2); register the whole matrix or a contiguous Map");
    Eigen::VectorXd five(5);
    REQUIRE_THROWS_WITH(
        opt.add(five, dw.row(0)),
        "clr::optim::sgd::add: grad is not contiguous in memory (inner stride 4, outer stride 1 "
        "for 1x5); register the whole matrix or a contiguous Map");
    REQUIRE_THROWS_WITH(opt.add(w, w), "clr::optim::sgd::add: param and grad share memory");
    CHECK(opt.num_blocks() == 0);

    CHECK(opt.add(w, dw) == 0);
    Eigen::MatrixXd w2(4, 5), dw2(4, 5);
    REQUIRE_THROWS_WITH(opt.add(w, dw2), "clr::optim::sgd::add: param overlaps the param of block 0");
    REQUIRE_THROWS_WITH(opt.add(w.col(1), dw2.col(1)),
                        "clr::optim::sgd::add: param overlaps the param of block 0");
    REQUIRE_THROWS_WITH(opt.add(dw, dw2), "clr::optim::sgd::add: param overlaps the grad of block 0");
    REQUIRE_THROWS_WITH(opt.add(w2, w), "clr::optim::sgd::add: grad overlaps the param of block 0");
    CHECK(opt.num_blocks() == 1);
    // Columns of a column-major matrix are contiguous, and two blocks may share a gradient.
    CHECK(opt.add(w2.col(0), dw.col(0)) == 1);
    CHECK(opt.add(w2.col(1), dw.col(0)) == 2);
}

TEST_CASE("sgd: a schedule value out of range stops the step before any change", "[optim][sgd][errors]") {
    Eigen::Vector3d p(1, 2, 3), g(1, 1, 1);
    const Eigen::Vector3d p0 = p;
    SECTION("negative learning rate") {
        clr::optim::sgd opt(table_schedule<double>({0.5, 0.5, -0.5}, {}));
        opt.add(p, g);
        opt.step();
        opt.step();
        const Eigen::Vector3d p2 = p;
        REQUIRE_THROWS_AS(opt.step(), std::domain_error);
        REQUIRE_THROWS_WITH(
            opt.step(),
            "clr::optim::sgd::step: the schedule gives lr = -0.5 at step 2; it must be finite and not "
            "negative");
        CHECK(p == p2);
        CHECK(opt.steps() == 2);
    }
    SECTION("lr not finite") {
        clr::optim::sgd opt{fixed<double>(std::numeric_limits<double>::quiet_NaN())};
        opt.add(p, g);
        REQUIRE_THROWS_WITH(
            opt.step(),
            "clr::optim::sgd::step: the schedule gives lr = nan at step 0; it must be finite and not "
            "negative");
        CHECK(p == p0);
        CHECK(opt.steps() == 0);
    }
    SECTION("cycled momentum of 1") {
        clr::optim::sgd opt(fixed<double>(0.5, 1.0));
        opt.add(p, g);
        REQUIRE_THROWS_WITH(
            opt.step(),
            "clr::optim::sgd::step: the schedule gives momentum = 1 at step 0; it must lie in [0, 1)");
        CHECK(p == p0);
    }
    SECTION("a user scale function that throws") {
        // Its exception reaches the caller through lr() and step(), not std::terminate.
        const auto s = clr::make_cyclic(0.1, 0.5, 10, clr::scale_on_step([](clr::step_t t) {
                                            if (t >= 2) throw std::runtime_error("no scale past step 1");
                                            return 1.0;
                                        }));
        clr::optim::sgd opt(s);
        opt.add(p, g);
        opt.step();
        opt.step();
        const Eigen::Vector3d p2 = p;
        STATIC_REQUIRE_FALSE(noexcept(opt.lr()));
        REQUIRE_THROWS_WITH(opt.lr(), "no scale past step 1");
        REQUIRE_THROWS_WITH(opt.step(), "no scale past step 1");
        CHECK(p == p2);
        CHECK(opt.steps() == 2);
        clr::optim::sgd plain(clr::constant<double>(0.1));
        STATIC_REQUIRE(noexcept(plain.lr()));
    }
}

TEST_CASE("block_options: each bad value is rejected with its name and value", "[optim][sgd][errors]") {
    using clr::optim::block_options;
    REQUIRE_THROWS_AS(block_options().with_lr_scale(-0.5), clr::invalid_parameter);
    REQUIRE_THROWS_WITH(block_options().with_lr_scale(-0.5),
                        "clr::optim::block_options: lr_scale = -0.5 must not be negative");
    REQUIRE_THROWS_WITH(block_options().with_lr_scale(std::nan("")),
                        "clr::optim::block_options: lr_scale = nan must be finite");
    REQUIRE_THROWS_WITH(block_options().with_weight_decay(HUGE_VAL),
                        "clr::optim::block_options: weight_decay = inf must be finite");
    REQUIRE_THROWS_WITH(block_options().with_weight_decay(-1e-3),
                        "clr::optim::block_options: weight_decay = -0.001 must not be negative");
    try {
        (void)block_options().with_lr_scale(-2.0);
        FAIL("no exception");
    } catch (const clr::invalid_parameter& e) {
        CHECK(e.who() == "clr::optim::block_options");
        CHECK(e.param() == "lr_scale");
        CHECK(e.value() == "-2");
    }
    // The fields can be set directly; add() checks them, and registers nothing.
    clr::optim::sgd opt(fixed<double>(0.1));
    Eigen::VectorXd p(3), g(3);
    block_options bad;
    bad.lr_scale = -1.0;
    REQUIRE_THROWS_AS(opt.add(p, g, bad), clr::invalid_parameter);
    REQUIRE_THROWS_WITH(opt.add(p, g, bad), "clr::optim::sgd::add: lr_scale = -1 must not be negative");
    bad = block_options();
    bad.weight_decay = std::nan("");
    REQUIRE_THROWS_WITH(opt.add(p, g, bad), "clr::optim::sgd::add: weight_decay = nan must be finite");
    CHECK(opt.num_blocks() == 0);
    // Edges that are valid: a frozen block, no decay.
    CHECK(opt.add(p, g, block_options().with_lr_scale(0.0).with_weight_decay(0.0)) == 0);
}

TEST_CASE("sgd: a block's scaled rate must stay finite", "[optim][sgd][errors]") {
    clr::optim::sgd opt(fixed<double>(1e300));
    Eigen::Vector3d p(1, 2, 3), g(1, 1, 1), q(1, 2, 3);
    opt.add(q, g);
    opt.add(p, g, clr::optim::block_options().with_lr_scale(1e10));
    REQUIRE_THROWS_AS(opt.step(), std::domain_error);
    REQUIRE_THROWS_WITH(opt.step(),
                        "clr::optim::sgd::step: lr = 1e+300 at step 0 times block 1's lr_scale = 1e+10 "
                        "is not finite");
    CHECK(q == Eigen::Vector3d(1, 2, 3));  // block 0 untouched too
    CHECK(p == Eigen::Vector3d(1, 2, 3));
    CHECK(opt.steps() == 0);
}

TEST_CASE("sgd: set_steps refuses a negative count converted to unsigned", "[optim][sgd][errors]") {
    clr::optim::sgd opt(fixed<double>(0.1));
    opt.set_steps(7);
    REQUIRE_THROWS_AS(opt.set_steps(static_cast<clr::step_t>(-1)), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        opt.set_steps(static_cast<clr::step_t>(-1)),
        "clr::optim::sgd::set_steps: steps = 18446744073709551615 is larger than 2^62 (a negative "
        "number converted to unsigned?)");
    CHECK(opt.steps() == 7);
}
