// optim/detail/plateau_record.hpp: the optimizers' report(metric) and the
// plateau states their checkpoints carry.
#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include "checkpoint_bytes.hpp"

#include <Eigen/Core>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace {

using vec = Eigen::VectorXd;

// Warmup over 20 steps, then a plateau: the schedule of a run that reports
// its validation loss after every epoch of 10 steps.
const char* const warm_plateau =
    "sequence(linear(start_lr=0, end_lr=0.1, total_steps=20), 20, "
    "plateau(constant(lr=0.1), factor=0.5, patience=1, cooldown=1))";

// A loss that improves, stalls, goes NaN once and improves again: every rule
// of the plateau has a turn.
double metric_of(int epoch) {
    static const double m[] = {1.0, 0.8, 0.79995, 0.81, std::nan(""), 0.82, 0.5, 0.5, 0.6, 0.7, 0.4, 0.4};
    return m[epoch % 12];
}

struct run {
    vec w = vec::LinSpaced(5, -1.0, 1.0), g = vec::Zero(5);
    vec head = vec::Constant(3, 0.5), dhead = vec::Zero(3);
    clr::optim::adamw<clr::any_schedule<double>> opt;

    explicit run(const char* text = warm_plateau, const char* block_text = nullptr)
        : opt(clr::parse_schedule<double>(text)) {
        opt.add(w, g);
        clr::optim::block_options o;
        if (block_text) o = o.with_schedule(clr::parse_schedule<double>(block_text));
        opt.add(head, dhead, o);
    }
    // Epochs [from, to): 10 steps each, then the epoch's metric.
    void epochs(int from, int to) {
        for (int e = from; e < to; ++e) {
            for (int i = 0; i < 10; ++i) {
                g = 0.3 * w + vec::Constant(5, 0.01 * double(i));
                dhead = head.array().sin().matrix();
                opt.step();
            }
            opt.report(metric_of(e));
        }
    }
};

}  // namespace

TEST_CASE("opt.report reaches the plateau inside the optimizer's schedule", "[plateau][optim]") {
    run r;
    r.epochs(0, 3);  // best 1.0, best 0.8, 0.79995 is not better by 1e-4 relative: bad 1
    CHECK(r.opt.lr() == 0.1);
    r.epochs(3, 4);  // bad 2 > patience 1: halved, then a cooldown of one report
    CHECK(r.opt.lr() == 0.05);
    r.epochs(4, 6);  // NaN counts as bad but the cooldown swallows it; 0.82 bad 1
    CHECK(r.opt.lr() == 0.05);
    r.epochs(6, 8);  // 0.5 best, 0.5 bad 1
    CHECK(r.opt.lr() == 0.05);
    CHECK(*r.opt.last_lr() == 0.05);
    const auto s = clr::detail::plateau_states(r.opt.schedule());
    REQUIRE(s.size() == 1);
    CHECK(s[0].reports == 8);
    CHECK(s[0].reductions == 1);
    CHECK(s[0].best == 0.5);
}

TEST_CASE("opt.report reaches a block's own plateau, and refuses a run without one", "[plateau][optim]") {
    run r("constant(lr=0.01)", "plateau(constant(lr=0.2), patience=0)");
    r.epochs(0, 2);  // 1.0 best, 0.8 best
    CHECK(*r.opt.last_lr(1) == 0.2);
    r.epochs(2, 3);  // 0.79995: bad 1 > 0
    CHECK(*r.opt.last_lr(1) == 0.2);
    r.opt.step();
    CHECK(*r.opt.last_lr(1) == Approx(0.02).epsilon(1e-15));
    CHECK(*r.opt.last_lr(0) == 0.01);

    clr::optim::sgd<clr::cosine<double>> plain(clr::cosine<double>(0.1, 100));
    vec w = vec::Ones(2), g = vec::Ones(2);
    plain.add(w, g);
    const std::string before = clr_test::saved(plain);
    CHECK_THROWS_WITH(plain.report(1.0),
                      Catch::Contains("sgd::report") && Catch::Contains("plateau to report"));
    CHECK(clr_test::saved(plain) == before);
}

TEST_CASE("a run stopped at any epoch and resumed reports and steps as the whole run, bit for bit",
          "[plateau][optim][checkpoint]") {
    run whole;
    whole.epochs(0, 12);
    for (int stop : {0, 1, 3, 4, 5, 9, 11}) {
        INFO("stopped after epoch " << stop);
        run first;
        first.epochs(0, stop);
        const std::string bytes = clr_test::saved(first.opt);
        run resumed;
        resumed.w = first.w;
        resumed.head = first.head;
        std::istringstream in(bytes);
        resumed.opt.load(in);
        CHECK(clr::detail::plateau_states(resumed.opt.schedule()).at(0).reports == std::uint64_t(stop));
        resumed.epochs(stop, 12);
        CHECK(resumed.w == whole.w);
        CHECK(resumed.head == whole.head);
        CHECK(resumed.opt.lr() == whole.opt.lr());
        CHECK(clr_test::saved(resumed.opt) == clr_test::saved(whole.opt));
    }
}

TEST_CASE("a checkpoint of another plateau is refused naming it, and damaged states are refused",
          "[plateau][optim][checkpoint][errors]") {
    run r;
    r.epochs(0, 7);  // best 0.5: a value whose bits are easy to find in the record
    const std::string good = clr_test::saved(r.opt);

    run other(
        "sequence(linear(start_lr=0, end_lr=0.1, total_steps=20), 20, "
        "plateau(constant(lr=0.1), factor=0.5, patience=3, cooldown=1))");
    const std::string what = clr_test::load_error(other.opt, good);
    CHECK_THAT(what, Catch::Contains("the schedule differs") && Catch::Contains("patience=3"));
    std::istringstream in(good);
    other.opt.load(in, clr::optim::resume::new_settings);  // fits: bad reports 0 <= 3
    CHECK(other.opt.lr() == r.opt.lr());

    // The plateau's state: u64 reports, reductions, bad, cooldown, f64 best, scale.
    const std::uint64_t half = clr_test::bits_of(0.5);
    std::size_t at = 0;
    for (std::size_t i = 32; i + 8 <= good.size(); ++i)
        if (clr_test::u64_at(good, i) == half && clr_test::u64_at(good, i - 32) == 7) at = i - 32;
    REQUIRE(at > 0);
    run fresh;
    auto edited = [&](std::size_t offset, std::uint64_t v) {
        std::string bad = good;
        clr_test::put_u64(bad, at + offset, v);
        return clr_test::load_error(fresh.opt, clr_test::resealed(bad));
    };
    CHECK_THAT(edited(32, clr_test::bits_of(std::nan(""))), Catch::Contains("not a state any run reaches"));
    CHECK_THAT(edited(40, clr_test::bits_of(1.5)), Catch::Contains("not a state any run reaches"));
    CHECK_THAT(edited(8, 9), Catch::Contains("not a state any run reaches"));
    CHECK_THAT(edited(16, 2),
               Catch::Contains("the schedule: plateau 0's state") && Catch::Contains("patience"));
    CHECK_THAT(edited(24, 2), Catch::Contains("cooldown"));
    std::string many = good;  // more states than the record has bytes for
    clr_test::put_u32(many, at - 4, 1000000);
    CHECK_THAT(clr_test::load_error(fresh.opt, clr_test::resealed(many)), Catch::Contains("plateau count"));
}
