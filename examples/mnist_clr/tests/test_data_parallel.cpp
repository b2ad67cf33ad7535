// Data-parallel training without MPI: the ranks of a team are threads of this
// process (tests/support/thread_team.hpp), so the splitting
// and summing rules of train() are checked in every build, sanitizers
// included. The same rules run over MPI in the mpirun tests.
#include "train.hpp"

#include "support/thread_team.hpp"

#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace {

mnist::float_set noise_set(mnist::index rows, mnist::index n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    mnist::float_set s;
    s.x.resize(rows, n);
    for (mnist::index i = 0; i < s.x.size(); ++i) s.x.data()[i] = float(rng() % 256) / 255.0f;
    s.y.resize(static_cast<std::size_t>(n));
    // Labels that depend on the pixels, so the network has something to learn.
    for (mnist::index j = 0; j < n; ++j)
        s.y[static_cast<std::size_t>(j)] =
            static_cast<std::uint8_t>(s.x.col(j).head(std::min<mnist::index>(rows, 8)).sum() * 1.2f) % 10;
    return s;
}

struct trace {
    std::vector<double> losses;  // every update's batch loss
    mnist::run_result result;
    mnist::mlp<float> net{1, 1, 1};
};

// One rank's run (a single process is rank 0 of a team of 1).
template <class Optimizer, class Team>
trace run_rank(Optimizer opt, const mnist::float_data& data, const mnist::train_options& o,
               const Team& team) {
    trace tr;
    tr.net = mnist::mlp<float>(30, 24, 10);
    tr.net.init(5);
    mnist::gradients<float> g(tr.net);
    mnist::add_parameters(opt, tr.net, g);
    mnist::observers obs;
    obs.on_update = [&](const mnist::update_record& u) { tr.losses.push_back(u.loss); };
    tr.result = mnist::train(tr.net, g, opt, data, o, obs, team);
    return tr;
}

template <class Optimizer>
std::vector<trace> run_team(const Optimizer& opt, const mnist::float_data& data,
                            const mnist::train_options& o, int ranks) {
    test_support::team_hub hub(ranks);
    std::vector<trace> out(static_cast<std::size_t>(ranks));
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(ranks));
    for (int r = 0; r < ranks; ++r)
        threads.emplace_back([&, r] {
            out[static_cast<std::size_t>(r)] = run_rank(opt, data, o, test_support::team(hub, r));
        });
    for (auto& t : threads) t.join();
    return out;
}

bool same_parameters(const mnist::mlp<float>& a, const mnist::mlp<float>& b) {
    return a.W1 == b.W1 && a.b1 == b.b1 && a.W2 == b.W2 && a.b2 == b.b2;
}

float max_difference(const mnist::mlp<float>& a, const mnist::mlp<float>& b) {
    return std::max({(a.W1 - b.W1).cwiseAbs().maxCoeff(), (a.b1 - b.b1).cwiseAbs().maxCoeff(),
                     (a.W2 - b.W2).cwiseAbs().maxCoeff(), (a.b2 - b.b2).cwiseAbs().maxCoeff()});
}

}  // namespace

TEST_CASE("share_of splits items contiguously, sizes differing by at most one", "[data-parallel]") {
    const auto a = mnist::share_of(200, 0, 3), b = mnist::share_of(200, 1, 3), c = mnist::share_of(200, 2, 3);
    CHECK((a.begin == 0 && a.end == 67));
    CHECK((b.begin == 67 && b.end == 134));
    CHECK((c.begin == 134 && c.end == 200));
    // Fewer items than ranks: the last ranks get none.
    CHECK(mnist::share_of(2, 1, 3).size() == 1);
    CHECK(mnist::share_of(2, 2, 3).size() == 0);
    CHECK(mnist::share_of(2, 2, 3).begin == 2);
    for (mnist::index n : {0, 1, 7, 59999, 60000})
        for (int p = 1; p <= 5; ++p) {
            mnist::index next = 0;
            for (int r = 0; r < p; ++r) {
                const auto s = mnist::share_of(n, r, p);
                CHECK(s.begin == next);
                CHECK(s.size() >= n / p);
                CHECK(s.size() <= n / p + 1);
                next = s.end;
            }
            CHECK(next == n);
        }
    CHECK_THROWS_WITH(mnist::share_of(10, 3, 3), "share_of: rank 3 of 3 ranks, 10 items");
    CHECK_THROWS_WITH(mnist::share_of(10, 0, 0), "share_of: rank 0 of 0 ranks, 10 items");
    CHECK_THROWS_WITH(mnist::share_of(-1, 0, 1), "share_of: rank 0 of 1 ranks, -1 items");
}

TEST_CASE("every rank gathers its share of the batch a single process draws", "[data-parallel]") {
    const auto set = noise_set(6, 23, 1);
    mnist::batcher whole(set, 10, 3);
    std::vector<mnist::batcher> ranks;
    ranks.reserve(3);
    for (int r = 0; r < 3; ++r) ranks.emplace_back(set, 10, 3);
    // Three epochs of 10, 10, 3: the last batch of 3 over 3 ranks is one each.
    for (int b = 0; b < 9; ++b) {
        const mnist::index len = whole.next();
        mnist::index at = 0;
        for (int r = 0; r < 3; ++r) {
            auto& br = ranks[static_cast<std::size_t>(r)];
            REQUIRE(br.next(r, 3) == len);
            REQUIRE(br.share_size() == mnist::share_of(len, r, 3).size());
            for (mnist::index j = 0; j < br.share_size(); ++j) {
                CHECK(br.x().col(j) == whole.x().col(at + j));
                CHECK(br.y()[j] == whole.y()[at + j]);
            }
            at += br.share_size();
        }
        CHECK(at == len);
    }
}

TEST_CASE("forward_backward over shares with mean_over adds up to the whole batch's gradient",
          "[data-parallel]") {
    const auto set = noise_set(30, 50, 2);
    mnist::mlp<float> net(30, 24, 10);
    net.init(3);
    mnist::workspace<float> ws(net, 50);
    mnist::gradients<float> whole(net), part(net), total(net);
    const float loss = mnist::forward_backward(net, set.x, set.y.data(), ws, whole);
    double loss_sum = 0;
    for (int r = 0; r < 3; ++r) {
        const auto s = mnist::share_of(50, r, 3);
        const float l = mnist::forward_backward(net, set.x.middleCols(s.begin, s.size()),
                                                set.y.data() + s.begin, ws, part, nullptr, 50);
        loss_sum += double(l) * double(s.size());
        total.dW1 += part.dW1;
        total.db1 += part.db1;
        total.dW2 += part.dW2;
        total.db2 += part.db2;
    }
    CHECK(loss_sum / 50 == Approx(loss).epsilon(1e-6));
    // Each share's products sum fewer terms in another order: agreement to a
    // few float roundings of the largest entry, not bit for bit.
    const float scale = whole.dW1.cwiseAbs().maxCoeff();
    CHECK((total.dW1 - whole.dW1).cwiseAbs().maxCoeff() <= 1e-5f * scale);
    CHECK((total.db1 - whole.db1).cwiseAbs().maxCoeff() <= 1e-5f * whole.db1.cwiseAbs().maxCoeff());
    CHECK((total.dW2 - whole.dW2).cwiseAbs().maxCoeff() <= 1e-5f * whole.dW2.cwiseAbs().maxCoeff());
    CHECK((total.db2 - whole.db2).cwiseAbs().maxCoeff() <= 1e-5f * whole.db2.cwiseAbs().maxCoeff());
    CHECK_THROWS_WITH(mnist::forward_backward(net, set.x, set.y.data(), ws, whole, nullptr, 49),
                      "forward_backward: mean_over 49 is smaller than the batch of 50");
}

TEST_CASE("a team of 2 or 3 ranks trains the model one process trains", "[data-parallel]") {
    const mnist::float_data data{noise_set(30, 410, 11), noise_set(30, 101, 12)};
    mnist::train_options o;
    o.epochs = 3;
    o.batch = 200;  // 410 = 200 + 200 + 10: uneven shares, and a short last batch
    o.seed = 9;
    mnist::set_threads(1);  // the team's threads are the parallelism here

    const auto check_team = [&](const auto& opt) {
        const trace one = run_rank(opt, data, o, mnist::solo{});
        for (int ranks : {2, 3}) {
            CAPTURE(ranks);
            const auto team = run_team(opt, data, o, ranks);
            for (const auto& tr : team) {
                // Every rank applies the same update to the same parameters.
                CHECK(same_parameters(tr.net, team[0].net));
                REQUIRE(tr.losses.size() == one.losses.size());
                for (std::size_t i = 0; i < one.losses.size(); ++i)
                    CHECK(tr.losses[i] == Approx(one.losses[i]).epsilon(1e-5));
                REQUIRE(tr.result.epochs.size() == 3);
                CHECK(tr.result.epochs.back().test_accuracy ==
                      Approx(one.result.epochs.back().test_accuracy).margin(0.02));
            }
            // The sums differ from one process's only in the order of float
            // additions; over 9 updates the parameters stay within a few
            // hundred roundings of the largest weight.
            CHECK(max_difference(team[0].net, one.net) <= 1e-4f * one.net.W1.cwiseAbs().maxCoeff());
        }
    };
    SECTION("SGD with momentum under triangular") {
        clr::optim::sgd_options so;
        so.momentum = 0.9;
        check_team(clr::optim::sgd(clr::triangular<float>(0.01f, 0.1f, 3), so));
    }
    SECTION("AdamW under one_cycle") { check_team(clr::optim::adamw(clr::one_cycle<float>(0.01f, 9))); }
}
