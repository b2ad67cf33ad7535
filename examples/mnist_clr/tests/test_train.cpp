// End to end: the example's training loop with a library schedule and
// optimizer. The cases that judge what was learnt train on a real MNIST
// subset and skip (or, with CLR_TESTS_REQUIRE_ALL=1, fail) without the files;
// the others ask for synthetic digits by name.
#include "mnist_files.hpp"
#include "train.hpp"

#include <clr/clr.hpp>
#include <clr/lr_finder.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

mnist::float_set first(const mnist::float_set& s, mnist::index n) {
    mnist::float_set out;
    out.x = s.x.leftCols(n);
    out.y.assign(s.y.begin(), s.y.begin() + n);
    return out;
}

// Ten classes, each a fixed random prototype of 784 pixels plus noise: learnable,
// but not in one step.
mnist::float_set synthetic(mnist::index n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::mt19937_64 proto_rng(42);
    Eigen::MatrixXf proto(784, 10);
    for (mnist::index i = 0; i < proto.size(); ++i) proto.data()[i] = float(proto_rng() % 256) / 255.0f;
    mnist::float_set s;
    s.x.resize(784, n);
    s.y.resize(static_cast<std::size_t>(n));
    for (mnist::index j = 0; j < n; ++j) {
        const auto label = static_cast<std::uint8_t>(rng() % 10);
        s.y[static_cast<std::size_t>(j)] = label;
        for (mnist::index i = 0; i < 784; ++i) {
            const float noise = float(rng() % 256) / 255.0f;
            s.x(i, j) = 0.5f * proto(i, label) + 0.5f * noise;
        }
    }
    return s;
}

// 6000 training and 2000 test digits from the real files, or nothing (the
// case then returns: skipped, and said so).
std::optional<mnist::float_data> real_subset() {
    const auto dir = mnist_test::mnist_dir();
    if (!dir) return std::nullopt;
    const mnist::float_data all = mnist::to_float(mnist::load_dataset(*dir));
    return mnist::float_data{first(all.train, 6000), first(all.test, 2000)};
}

// n examples of `rows` uniform pixels with labels below `classes`: for cases
// that count work and care nothing for what is learnt.
mnist::float_set noise_set(mnist::index rows, mnist::index n, unsigned classes, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    mnist::float_set s;
    s.x.resize(rows, n);
    for (mnist::index i = 0; i < s.x.size(); ++i) s.x.data()[i] = float(rng() % 256) / 255.0f;
    s.y.resize(static_cast<std::size_t>(n));
    for (auto& v : s.y) v = static_cast<std::uint8_t>(rng() % classes);
    return s;
}

template <class Optimizer>
mnist::run_result run(Optimizer& opt, mnist::mlp<float>& net, mnist::gradients<float>& g,
                      const mnist::float_data& data, const mnist::train_options& o) {
    mnist::add_parameters(opt, net, g);
    return mnist::train(net, g, opt, data, o);
}

}  // namespace

TEST_CASE("training with a cyclical rate lowers the loss and learns the digits", "[train][mnist][slow]") {
    const auto subset = real_subset();
    if (!subset) return;
    const mnist::float_data& data = *subset;
    mnist::train_options o;
    o.epochs = 3;
    o.batch = 100;
    o.seed = 7;
    mnist::mlp<float> net(784, 784, 10);
    net.init(o.seed);
    mnist::gradients<float> g(net);
    // 60 updates per epoch: a half cycle of one epoch, as a short run wants.
    clr::optim::adam opt(clr::triangular<float>(0.001f, 0.003f, 60));

    std::vector<double> lrs;
    mnist::observers obs;
    obs.on_update = [&](const mnist::update_record& u) { lrs.push_back(u.lr); };
    mnist::add_parameters(opt, net, g);
    const mnist::run_result r = mnist::train(net, g, opt, data, o, obs);

    REQUIRE(r.epochs.size() == 3);
    REQUIRE(lrs.size() == 180);
    CHECK(lrs[0] == Approx(0.001));
    CHECK(lrs[60] == Approx(0.003));
    CHECK(lrs[120] == Approx(0.001));
    CHECK(r.epochs[0].steps == 60);
    CHECK(r.epochs[2].loss < r.epochs[0].loss);
    CHECK(r.epochs[2].test_loss < r.epochs[0].test_loss);
    CHECK(r.epochs[0].loss < std::log(10.0));  // below chance from the first epoch
    // 6000 real digits, 3 epochs: 90.9% measured with this seed.
    CHECK(r.epochs.back().test_accuracy > 0.88);
    // 3 epochs of 6000 examples at 2,505,664 FLOPs each (derived in the
    // next case): 18,000 x 2,505,664.
    CHECK(r.train_flops == 45101952000.0);
}

TEST_CASE("a run counts the FLOPs of the products it computes", "[train]") {
    // Per example through an in-h-o network (a multiply-add is 2 FLOPs):
    //   forward  W1 x      h x in          2 * h * in
    //   backward dW1 = dz1 x^T             2 * h * in   (no gradient into the input)
    //   forward  W2 a      o x h           2 * o * h
    //   backward dW2 = dz2 a^T             2 * o * h
    //   backward da = W2^T dz2             2 * o * h
    // 784-784-10: 2*784*784 = 1,229,312 twice is 2,458,624; 2*10*784 = 15,680
    // three times is 47,040; together 2,505,664.
    // 30-20-5: 2*20*30 = 1,200 twice is 2,400; 2*5*20 = 200 three times is
    // 600; together 3,000.
    struct shape {
        mnist::index in, hidden, out;
        double per_example;
    };
    for (const shape sh : {shape{784, 784, 10, 2505664.0}, shape{30, 20, 5, 3000.0}}) {
        INFO(sh.in << "-" << sh.hidden << "-" << sh.out);
        // 250 examples in batches of 100: the partial last batch counts too.
        const mnist::float_data data{noise_set(sh.in, 250, unsigned(sh.out), 1),
                                     noise_set(sh.in, 50, unsigned(sh.out), 2)};
        mnist::mlp<float> net(sh.in, sh.hidden, sh.out);
        net.init(1);
        mnist::gradients<float> g(net);
        clr::optim::sgd opt(clr::constant<float>(0.01f));
        mnist::train_options o;
        o.epochs = 2;
        o.batch = 100;
        const mnist::run_result r = run(opt, net, g, data, o);
        CHECK(r.train_flops == 2 * 250 * sh.per_example);
        CHECK(mnist::train_flops_per_example(sh.in, sh.hidden, sh.out) == sh.per_example);
    }
}

TEST_CASE("the same seed gives the same run, another seed another", "[train][slow]") {
    // Reproducibility needs no real digits: synthetic ones, asked for.
    const mnist::float_data data{synthetic(1000, 1), synthetic(500, 2)};
    auto once = [&](std::uint64_t seed) {
        mnist::train_options o;
        o.epochs = 2;
        o.batch = 64;  // 1000 / 64: a partial last batch every epoch
        o.seed = seed;
        mnist::mlp<float> net(784, 784, 10);
        net.init(seed);
        mnist::gradients<float> g(net);
        clr::optim::sgd_options so;
        so.momentum = 0.9;
        clr::optim::sgd opt(clr::one_cycle<float>(0.05f, 32).with_momentum(0.85f, 0.95f), so);
        run(opt, net, g, data, o);
        return net;
    };
    const auto a = once(3), b = once(3), c = once(4);
    CHECK(a.W1 == b.W1);
    CHECK(a.W2 == b.W2);
    CHECK(a.b2 == b.b2);
    CHECK(a.W1 != c.W1);
}

TEST_CASE("the shuffle is a permutation and depends on the seed", "[train]") {
    std::vector<std::uint32_t> v(1000);
    for (std::uint32_t i = 0; i < 1000; ++i) v[i] = i;
    auto w = v;
    std::mt19937_64 r1(1), r2(2);
    mnist::shuffle(v, r1);
    mnist::shuffle(w, r2);
    CHECK(v != w);
    std::vector<int> seen(1000, 0);
    for (auto x : v) ++seen[x];
    CHECK(std::all_of(seen.begin(), seen.end(), [](int k) { return k == 1; }));
    // Uniformity of uniform_below: 6 buckets of 60000 draws, each within 4 sigma.
    std::mt19937_64 r(9);
    std::vector<int> count(6, 0);
    for (int i = 0; i < 60000; ++i) ++count[mnist::uniform_below(r, 6)];
    for (int k : count) CHECK(std::abs(k - 10000) < 4 * 91);
}

TEST_CASE("training refuses an empty run", "[train]") {
    mnist::float_data data{synthetic(10, 1), synthetic(10, 2)};
    mnist::mlp<float> net(784, 784, 10);
    mnist::gradients<float> g(net);
    clr::optim::sgd opt(clr::constant<float>(0.1f));
    mnist::train_options o;
    o.epochs = 0;
    using Catch::Matchers::Contains;
    REQUIRE_THROWS_WITH(mnist::train(net, g, opt, data, o), Contains("epochs"));
    o.epochs = 1;
    o.batch = 0;
    REQUIRE_THROWS_WITH(mnist::train(net, g, opt, data, o), Contains("batch"));
}

TEST_CASE("a diverging run stops at the update whose loss or parameters are not finite", "[train]") {
    // Adam's step is about the rate whatever the gradient: 1e30 sends every
    // weight to around 1e30 at once, and the next forward pass overflows.
    mnist::float_data data{noise_set(784, 400, 10, 1), noise_set(784, 100, 10, 2)};
    mnist::mlp<float> net(784, 784, 10);
    net.init(1);
    mnist::gradients<float> g(net);
    clr::optim::adam opt(clr::constant<float>(1e30f));
    mnist::add_parameters(opt, net, g);
    mnist::train_options o;
    o.epochs = 3;
    o.batch = 100;
    std::vector<mnist::update_record> seen;
    int epochs_done = 0;
    mnist::observers obs;
    obs.on_update = [&](const mnist::update_record& u) { seen.push_back(u); };
    obs.on_epoch = [&](const mnist::epoch_record&) { ++epochs_done; };
    try {
        (void)mnist::train(net, g, opt, data, o, obs);
        FAIL("a run at lr 1e30 ended normally");
    } catch (const mnist::diverged& e) {
        CHECK(e.lr() == Approx(1e30));
        CHECK(e.step() < 4);  // within the first epoch of 4 updates
        CHECK(epochs_done == 0);
        // Every update up to the diverging one was reported, and no later one.
        REQUIRE(!seen.empty());
        CHECK(seen.back().step == e.step());
        CHECK(seen.size() == e.step() + 1);
    }
}

TEST_CASE("a range test on MNIST digits suggests bounds in a sane band", "[train][range_test][mnist][slow]") {
    const auto subset = real_subset();
    if (!subset) return;
    const mnist::float_data& data = *subset;
    mnist::mlp<float> net(784, 784, 10);
    net.init(5);
    mnist::gradients<float> g(net);
    mnist::batcher batches(data.train, 100, 5);
    mnist::workspace<float> ws(net, 100);
    const auto test = clr::range_test<float>(1e-5f, 1.0f, 240).with_smoothing(0.9f);
    clr::optim::adam opt(test.sweep_schedule());
    mnist::add_parameters(opt, net, g);
    const auto r = test.run([&](float lr) {
        REQUIRE(lr == opt.lr());  // the optimizer runs the sweep itself
        const mnist::index len = batches.next();
        std::size_t right = 0;
        const float loss = mnist::forward_backward(net, batches.x(), batches.y(), ws, g, &right);
        opt.step();
        return clr::range_test_step{double(loss), double(right) / double(len)};
    });
    // Adam on this network diverges well before lr = 1 and trains from about
    // 1e-4: every reading must land between, in order.
    CHECK(r.stop == clr::range_test_stop::diverged);
    CHECK(r.records.back().lr < 0.5f);
    const auto& s = r.suggestions;
    REQUIRE(s.base_lr);
    REQUIRE(s.max_lr);
    REQUIRE(s.steepest);
    REQUIRE(s.min_loss_div10);
    CHECK(*s.base_lr.value >= 1e-5f);
    CHECK(*s.base_lr.value <= 1e-3f);
    CHECK(*s.max_lr.value > *s.base_lr.value);
    CHECK(*s.max_lr.value <= 3e-2f);
    CHECK(*s.steepest.value >= 3e-5f);
    CHECK(*s.steepest.value <= 3e-3f);
    CHECK(*s.min_loss_div10.value >= 1e-4f);
    CHECK(*s.min_loss_div10.value <= 1e-2f);
}
