// step(reduce): the gradients reduced in place between backward pass and
// update, as data-parallel training does. Ranks are simulated by threads of
// this process, each with its own copy of the parameters, gradients and
// optimizer, joined by an in-process allreduce that sums in rank order.
#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include "support/thread_team.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using matrix = Eigen::MatrixXf;
using vector = Eigen::VectorXf;

// Least squares y = W x + b on fixed data: 600 examples, 3 batches of 200.
struct problem {
    static constexpr Eigen::Index inputs = 6, outputs = 4, examples = 600, batch = 200;
    matrix x = matrix::Random(inputs, examples);
    matrix y = matrix::Random(outputs, examples);
    matrix w0 = matrix::Random(outputs, inputs) * 0.5f;
    vector b0 = vector::Random(outputs) * 0.5f;

    problem() { y += (matrix::Random(outputs, inputs) * x).eval(); }

    // The mean gradient over examples [first, first + count).
    void gradient(const matrix& w, const vector& b, Eigen::Index first, Eigen::Index count, matrix& dw,
                  vector& db) const {
        const matrix r = (w * x.middleCols(first, count)).colwise() + b - y.middleCols(first, count);
        dw = r * x.middleCols(first, count).transpose() / float(count);
        db = r.rowwise().sum() / float(count);
    }
};

struct params {
    matrix w;
    vector b;
};

// K steps of the whole batch in one process.
template <class Make>
params single_process(const problem& pb, Make make, int steps) {
    params p{pb.w0, pb.b0};
    matrix dw(p.w.rows(), p.w.cols());
    vector db(p.b.size());
    auto opt = make();
    opt.add(p.w, dw);
    opt.add(p.b, db, clr::optim::block_options().with_weight_decay(0.0));
    for (int k = 0; k < steps; ++k) {
        pb.gradient(p.w, p.b, (k % 3) * problem::batch, problem::batch, dw, db);
        opt.step();
    }
    return p;
}

// The same K steps on `ranks` ranks: rank r takes a contiguous share of each
// batch (200 over 3 is 67, 67, 66), its gradient the mean over its share, and
// reduce weights it by share / batch before the sum.
template <class Make>
std::vector<params> data_parallel(const problem& pb, Make make, int steps, int ranks) {
    std::vector<params> out(static_cast<std::size_t>(ranks), params{pb.w0, pb.b0});
    test_support::team_hub hub(ranks);
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(ranks));
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(ranks));
    for (int r = 0; r < ranks; ++r)
        threads.emplace_back([&, r] {
            try {
                params& p = out[std::size_t(r)];
                const Eigen::Index first = problem::batch * r / ranks;
                const Eigen::Index share = problem::batch * (r + 1) / ranks - first;
                matrix dw(p.w.rows(), p.w.cols());
                vector db(p.b.size());
                auto opt = make();
                opt.add(p.w, dw);
                opt.add(p.b, db, clr::optim::block_options().with_weight_decay(0.0));
                for (int k = 0; k < steps; ++k) {
                    pb.gradient(p.w, p.b, (k % 3) * problem::batch + first, share, dw, db);
                    opt.step([&](clr::optim::gradient_span<float> g) {
                        g.array() *= float(share) / float(problem::batch);
                        test_support::team(hub, r).sum(g.data, static_cast<std::size_t>(g.size));
                    });
                }
            } catch (...) {
                errors[std::size_t(r)] = std::current_exception();
            }
        });
    for (auto& t : threads) t.join();
    for (const auto& e : errors)
        if (e) std::rethrow_exception(e);
    return out;
}

float worst_difference(const params& a, const params& b) {
    return std::max((a.w - b.w).cwiseAbs().maxCoeff(), (a.b - b.b).cwiseAbs().maxCoeff());
}

bool same_bits(const params& a, const params& b) {
    return std::equal(a.w.data(), a.w.data() + a.w.size(), b.w.data()) &&
           std::equal(a.b.data(), a.b.data() + a.b.size(), b.b.data());
}

template <class Opt>
std::string saved(const Opt& opt) {
    std::ostringstream out;
    opt.save(out);
    return out.str();
}

}  // namespace

TEST_CASE("step(reduce) over simulated ranks gives the single-process global-batch run", "[optim][reduce]") {
    const problem pb;
    constexpr int steps = 60;
    clr::optim::sgd_options so;
    so.momentum = 0.9;
    so.weight_decay = 1e-3;
    const auto make_sgd = [&] { return clr::optim::sgd(clr::triangular<float>(0.005f, 0.05f, 10), so); };
    const auto make_adamw = [] {
        return clr::optim::adamw(clr::one_cycle<float>(0.05f, 60).with_momentum(0.85f, 0.95f));
    };
    const params sgd_single = single_process(pb, make_sgd, steps);
    const params adamw_single = single_process(pb, make_adamw, steps);
    // The runs move the parameters: agreement is not agreement at rest.
    REQUIRE(worst_difference(sgd_single, params{pb.w0, pb.b0}) > 0.1f);
    REQUIRE(worst_difference(adamw_single, params{pb.w0, pb.b0}) > 0.1f);

    for (int ranks : {1, 2, 3, 7}) {
        INFO(ranks << " ranks");
        const auto sgd_ranks = data_parallel(pb, make_sgd, steps, ranks);
        const auto adamw_ranks = data_parallel(pb, make_adamw, steps, ranks);
        for (int r = 1; r < ranks; ++r) {
            // One reduced gradient for all: the ranks never drift apart.
            CHECK(same_bits(sgd_ranks[std::size_t(r)], sgd_ranks[0]));
            CHECK(same_bits(adamw_ranks[std::size_t(r)], adamw_ranks[0]));
        }
        // The reduced gradient differs from the global mean only in the
        // order of the float sums (shares summed, then weighted and summed
        // again): an ulp or two of a gradient. Over 60 steps the parameters,
        // of order 1, measured at most 6e-8 apart (one ulp at 0.5 to 1) for
        // both optimizers; 1e-6 is 16 ulp at 1, room for another compiler's
        // rounding, while a gradient of the share alone (the test below) is
        // off by more than 1e-2.
        CHECK(worst_difference(sgd_ranks[0], sgd_single) <= 1e-6f);
        CHECK(worst_difference(adamw_ranks[0], adamw_single) <= 1e-6f);
    }
}

TEST_CASE(
    "step(reduce): the gradient of a share alone does not give the global run (the comparison can fail)",
    "[optim][reduce]") {
    const problem pb;
    const auto make = [] { return clr::optim::sgd(clr::triangular<float>(0.005f, 0.05f, 10)); };
    const params single = single_process(pb, make, 20);
    params p{pb.w0, pb.b0};
    matrix dw(p.w.rows(), p.w.cols());
    vector db(p.b.size());
    auto opt = make();
    opt.add(p.w, dw);
    opt.add(p.b, db, clr::optim::block_options().with_weight_decay(0.0));
    for (int k = 0; k < 20; ++k) {
        // One rank of three with the share 67, reduced as an unweighted mean of 3 equal shares would be.
        pb.gradient(p.w, p.b, (k % 3) * problem::batch, 67, dw, db);
        opt.step([](clr::optim::gradient_span<float>) {});
    }
    CHECK(worst_difference(p, single) > 1e-2f);
}

TEST_CASE("step(reduce) calls reduce once per block, in order, with the registered gradient",
          "[optim][reduce]") {
    matrix w = matrix::Ones(784, 10), dw = matrix::Constant(784, 10, 0.5f);
    vector b = vector::Ones(10), db = vector::Constant(10, 0.5f);
    std::vector<float> raw(3, 1.0f), draw(3, 0.5f);
    clr::optim::adamw opt(clr::triangular<float>(0.001f, 0.006f, 20));
    opt.add(w, dw);
    opt.add(b, db);
    opt.add(Eigen::Map<vector>(raw.data(), 3), Eigen::Map<vector>(draw.data(), 3));
    std::vector<std::pair<std::size_t, Eigen::Index>> seen;
    std::vector<const float*> where;
    for (int k = 0; k < 4; ++k)
        opt.step([&](clr::optim::gradient_span<float> g) {
            seen.emplace_back(g.index, g.size);
            where.push_back(g.data);
            CHECK(g.array().size() == g.size);
            CHECK(g.array().data() == g.data);
        });
    REQUIRE(seen.size() == 12);
    for (std::size_t i = 0; i < seen.size(); ++i) {
        const std::size_t block = i % 3;
        CHECK(seen[i].first == block);
        CHECK(seen[i].second == (block == 0 ? 7840 : block == 1 ? 10 : 3));
        CHECK(where[i] == (block == 0 ? dw.data() : block == 1 ? db.data() : draw.data()));
    }
    CHECK(opt.steps() == 4);
}

TEST_CASE("step(reduce): the update reads what reduce wrote", "[optim][reduce]") {
    vector p = vector::Constant(5, 1.0f), g = vector::Constant(5, 123.0f);
    clr::optim::sgd opt(clr::constant<float>(0.5f));
    opt.add(p, g);
    opt.step([](clr::optim::gradient_span<float> s) { s.array() = 2.0f; });
    CHECK(p.isApproxToConstant(0.0f));
    CHECK(g.isApproxToConstant(2.0f));
    // A reduce that leaves the gradient alone is step().
    vector q = vector::Constant(5, 1.0f);
    clr::optim::sgd plain(clr::constant<float>(0.5f));
    plain.add(q, g);
    plain.step();
    opt.step([](clr::optim::gradient_span<float>) {});
    CHECK(p == vector::Constant(5, -1.0f));
    CHECK(q.isApproxToConstant(0.0f));
}

namespace {

struct reduce_failed : std::runtime_error {
    reduce_failed() : std::runtime_error("the allreduce failed") {}
};

// `warm` steps, then one whose reduce fails on block 1 after reducing block
// 0, then the same step again: the optimizer must end as one that never saw
// the failure.
template <class Make>
void check_reduce_failure(Make make, int warm = 4) {
    const matrix w0 = matrix::Random(20, 30);
    const vector b0 = vector::Random(30);
    const auto grads = [](int k, matrix& dw, vector& db) {
        dw = matrix::Constant(20, 30, 0.01f * float(k + 1)) + matrix::Identity(20, 30);
        db = vector::LinSpaced(30, -1.0f, 1.0f * float(k + 1));
    };
    matrix w = w0, dw(20, 30), w_ref = w0, dw_ref(20, 30);
    vector b = b0, db(30), b_ref = b0, db_ref(30);
    auto opt = make();
    auto ref = make();
    opt.add(w, dw);
    opt.add(b, db);
    ref.add(w_ref, dw_ref);
    ref.add(b_ref, db_ref);
    const auto halve = [](clr::optim::gradient_span<float> g) { g.array() *= 0.5f; };
    for (int k = 0; k < warm; ++k) {
        grads(k, dw, db);
        grads(k, dw_ref, db_ref);
        opt.step(halve);
        ref.step(halve);
    }
    const matrix w_before = w;
    const vector b_before = b;
    const std::string state_before = saved(opt);
    const auto last_lr = opt.last_lr();
    grads(warm, dw, db);
    int calls = 0;
    CHECK_THROWS_AS(opt.step([&](clr::optim::gradient_span<float> g) {
        if (++calls == 2) throw reduce_failed();
        g.array() *= 0.5f;
    }),
                    reduce_failed);
    CHECK(calls == 2);
    CHECK(w == w_before);
    CHECK(b == b_before);
    CHECK(saved(opt) == state_before);
    CHECK(opt.steps() == clr::step_t(warm));
    CHECK(opt.last_lr() == last_lr);
    // The trainer retries the step with fresh gradients.
    grads(warm, dw, db);
    grads(warm, dw_ref, db_ref);
    opt.step(halve);
    ref.step(halve);
    CHECK(w == w_ref);
    CHECK(b == b_ref);
    CHECK(saved(opt) == saved(ref));
}

}  // namespace

TEST_CASE("step(reduce): a reduce that throws changes no parameter, state or step count", "[optim][reduce]") {
    SECTION("sgd with momentum") {
        clr::optim::sgd_options o;
        o.momentum = 0.9;
        o.weight_decay = 0.01;
        check_reduce_failure([&] { return clr::optim::sgd(clr::triangular<float>(0.01f, 0.1f, 3), o); });
    }
    SECTION("sgd whose momentum buffer is still to be started") {
        // The failure comes at the first step, which would start the buffers.
        check_reduce_failure(
            [] { return clr::optim::sgd(clr::one_cycle<float>(0.1f, 100).with_momentum(0.85f, 0.95f)); }, 0);
    }
    SECTION("adam at its first step") {
        check_reduce_failure([] { return clr::optim::adam(clr::triangular<float>(0.01f, 0.1f, 3)); }, 0);
    }
    SECTION("adam") {
        check_reduce_failure([] { return clr::optim::adam(clr::triangular<float>(0.01f, 0.1f, 3)); });
    }
    SECTION("adamw, cycled beta1") {
        check_reduce_failure(
            [] { return clr::optim::adamw(clr::one_cycle<float>(0.1f, 100).with_momentum(0.85f, 0.95f)); });
    }
}

TEST_CASE("step(reduce) refuses gradients it cannot reduce, before calling reduce",
          "[optim][reduce][errors]") {
    int calls = 0;
    const auto count = [&](clr::optim::gradient_span<float>) { ++calls; };
    vector p = vector::Ones(4), q = vector::Ones(4), g = vector::Ones(4);
    const vector cg = vector::Ones(4);
    std::vector<float> shared(8, 1.0f);

    SECTION("a const gradient") {
        clr::optim::sgd opt(clr::constant<float>(0.1f));
        opt.add(p, g);
        opt.add(q, cg);
        opt.step();  // read-only gradients are fine for step()
        const vector before = p;
        CHECK_THROWS_WITH(opt.step(count),
                          "clr::optim::sgd::step(reduce): block 1's gradient was registered read-only (a "
                          "const matrix or a Map of const), and reduce must write to it; register "
                          "writable storage");
        CHECK(p == before);
        CHECK(opt.steps() == 1);
    }
    SECTION("a Map of const") {
        clr::optim::adam opt(clr::constant<float>(0.1f));
        opt.add(p, Eigen::Map<const vector>(shared.data(), 4));
        CHECK_THROWS_WITH(opt.step(count), Catch::Contains("adam::step(reduce): block 0's gradient was "
                                                           "registered read-only"));
        CHECK(p == vector::Ones(4));
        CHECK(opt.steps() == 0);
    }
    SECTION("two blocks sharing a gradient") {
        clr::optim::adamw opt(clr::constant<float>(0.1f));
        opt.add(p, g);
        opt.add(q, Eigen::Map<vector>(shared.data(), 4));
        vector r = vector::Ones(4);
        opt.add(r, Eigen::Map<vector>(shared.data() + 2, 4));
        CHECK_THROWS_WITH(opt.step(count),
                          "clr::optim::adamw::step(reduce): blocks 1 and 2 share gradient "
                          "storage, which reduce would reduce twice");
        CHECK(p == vector::Ones(4));
        CHECK(opt.steps() == 0);
    }
    SECTION("a const Map of writable storage is writable") {
        clr::optim::sgd opt(clr::constant<float>(0.1f));
        const Eigen::Map<vector> m(shared.data(), 4);
        opt.add(p, m);
        opt.step(count);
        CHECK(calls == 1);
        calls = 0;
    }
    CHECK(calls == 0);
}

TEST_CASE("step(reduce) checks the schedule before reduce: no rank enters a collective it leaves",
          "[optim][reduce][errors]") {
    int calls = 0;
    const auto count = [&](clr::optim::gradient_span<double>) { ++calls; };
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), g = Eigen::VectorXd::Ones(3);
    clr::optim::sgd opt(clr::triangular<double>(0.1, 0.2, 5));
    opt.add(p, g);
    opt.set_steps(clr::step_t(1) << 62);
    CHECK_THROWS_AS(opt.step(count), std::overflow_error);
    CHECK(calls == 0);
    clr::optim::adam scaled(clr::constant<double>(1e300));
    scaled.add(p, g, clr::optim::block_options().with_lr_scale(1e10));
    CHECK_THROWS_AS(scaled.step(count), std::domain_error);
    CHECK(calls == 0);
    CHECK(p == Eigen::VectorXd::Ones(3));
}
