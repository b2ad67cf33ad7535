// checkpoint.hpp and train_options::first_epoch: a run saved after an epoch
// and resumed in a fresh network and optimizer ends where the run that never
// stopped ends, bit for bit; a damaged or foreign checkpoint is refused and
// changes nothing.
#include "checkpoint.hpp"
#include "train.hpp"

#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <sstream>
#include <string>

namespace {

using Catch::Matchers::Contains;

// n examples of `in` random pixels, labels 0 to 4 following the first pixel,
// so that there is something to learn.
mnist::float_set small_set(mnist::index in, mnist::index n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    mnist::float_set s;
    s.x.resize(in, n);
    s.y.resize(static_cast<std::size_t>(n));
    for (mnist::index j = 0; j < n; ++j) {
        for (mnist::index i = 0; i < in; ++i) s.x(i, j) = float(rng() % 256) / 255.0f;
        s.y[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>(std::min(4.0f, s.x(0, j) * 5.0f));
    }
    return s;
}

const mnist::float_data data{small_set(30, 250, 1), small_set(30, 60, 2)};

mnist::train_options options(int epochs, int first = 1) {
    mnist::train_options o;
    o.epochs = epochs;
    o.batch = 64;  // 250 / 64: a partial last batch every epoch
    o.seed = 7;
    o.first_epoch = first;
    return o;
}

clr::optim::adam<clr::triangular<float>> make_adam() {
    return clr::optim::adam(clr::triangular<float>(0.001f, 0.01f, 6));
}

struct model {
    mnist::mlp<float> net{30, 20, 5};
    mnist::gradients<float> g{net};
    clr::optim::adam<clr::triangular<float>> opt = make_adam();
    model() {
        net.init(3);
        mnist::add_parameters(opt, net, g);
    }
};

mnist::checkpoint_info info_after(int epoch) { return {epoch, 64, 7, 250, 60}; }

}  // namespace

TEST_CASE("a run resumed from its checkpoint ends as the run that never stopped", "[train][checkpoint]") {
    model whole;
    const mnist::run_result all = mnist::train(whole.net, whole.g, whole.opt, data, options(5));

    model first;
    mnist::train(first.net, first.g, first.opt, data, options(2));
    std::stringstream file(std::ios::in | std::ios::out | std::ios::binary);
    mnist::write_checkpoint(file, info_after(2), first.net, first.opt);

    model resumed;
    const mnist::checkpoint_info info = mnist::read_checkpoint(file, resumed.net, resumed.opt);
    CHECK(info.epoch == 2);
    CHECK(info.batch == 64);
    CHECK(info.seed == 7);
    CHECK(info.train == 250);
    CHECK(info.test == 60);
    CHECK(resumed.opt.steps() == clr::step_t{8});  // two epochs of 4 batches
    const mnist::run_result rest = mnist::train(resumed.net, resumed.g, resumed.opt, data, options(5, 3));

    REQUIRE(rest.epochs.size() == 3);
    CHECK(rest.epochs.front().epoch == 3);
    CHECK(resumed.opt.steps() == whole.opt.steps());
    CHECK(resumed.net.W1 == whole.net.W1);
    CHECK(resumed.net.b1 == whole.net.b1);
    CHECK(resumed.net.W2 == whole.net.W2);
    CHECK(resumed.net.b2 == whole.net.b2);
    CHECK(rest.epochs.back().loss == all.epochs.back().loss);
    CHECK(rest.epochs.back().test_accuracy == all.epochs.back().test_accuracy);
}

TEST_CASE("without the replayed shuffles a resumed run would differ (the comparison can fail)",
          "[train][checkpoint]") {
    model whole;
    mnist::train(whole.net, whole.g, whole.opt, data, options(4));
    model first;
    mnist::train(first.net, first.g, first.opt, data, options(2));
    // The state after two epochs, but the batches of epochs 1 and 2 again.
    mnist::train_options o = options(2);
    mnist::train(first.net, first.g, first.opt, data, o);
    CHECK(first.opt.steps() == whole.opt.steps());
    CHECK(first.net.W1 != whole.net.W1);
}

TEST_CASE("train refuses a first epoch outside the run", "[train][checkpoint]") {
    model m;
    REQUIRE_THROWS_WITH(mnist::train(m.net, m.g, m.opt, data, options(3, 4)), Contains("first_epoch 4"));
    REQUIRE_THROWS_WITH(mnist::train(m.net, m.g, m.opt, data, options(3, 0)), Contains("first_epoch 0"));
}

TEST_CASE("a damaged or foreign checkpoint is refused and changes nothing", "[train][checkpoint]") {
    model saved;
    mnist::train(saved.net, saved.g, saved.opt, data, options(1));
    std::stringstream out(std::ios::in | std::ios::out | std::ios::binary);
    mnist::write_checkpoint(out, info_after(1), saved.net, saved.opt);
    const std::string good = out.str();

    const auto refused = [](const std::string& bytes, const std::string& why) {
        INFO(why);
        model m;
        const auto W1 = m.net.W1;
        std::stringstream in(bytes, std::ios::in | std::ios::binary);
        CHECK_THROWS_AS(mnist::read_checkpoint(in, m.net, m.opt), mnist::checkpoint_error);
        CHECK(m.net.W1 == W1);
        CHECK(m.opt.steps() == 0);
    };
    refused("", "empty");
    refused("step,lr\n0,0.1\n", "a CSV file");
    refused(std::string(5000, 'x'), "no line end in 5000 bytes");

    std::string header = good;
    header.replace(header.find("batch 64"), 8, "batch -4");
    refused(header, "a header with a negative batch");
    header = good;
    header.replace(header.find("seed"), 4, "sead");
    refused(header, "a header with a misspelt key");

    std::string flipped = good;
    flipped[good.size() / 3] = char(flipped[good.size() / 3] ^ 0x10);
    refused(flipped, "a parameter byte flipped");
    flipped = good;
    flipped[good.size() - 10] = char(flipped[good.size() - 10] ^ 0x01);
    refused(flipped, "an optimizer-state byte flipped");
    refused(good.substr(0, good.size() - 1), "the last byte missing");

    // Another optimizer's checkpoint (SGD's, of the same network).
    model other;
    clr::optim::sgd sgd(clr::triangular<float>(0.001f, 0.01f, 6));
    mnist::add_parameters(sgd, other.net, other.g);
    sgd.step();
    std::stringstream sgd_file(std::ios::in | std::ios::out | std::ios::binary);
    mnist::write_checkpoint(sgd_file, info_after(1), other.net, sgd);
    refused(sgd_file.str(), "an SGD checkpoint loaded into Adam");

    // The good one loads.
    model m;
    std::stringstream in(good, std::ios::in | std::ios::binary);
    CHECK(mnist::read_checkpoint(in, m.net, m.opt).epoch == 1);
    CHECK(m.net.W1 == saved.net.W1);
}
