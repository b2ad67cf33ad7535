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

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
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

mnist::checkpoint_info info_after(int epoch) { return {epoch, 64, 7, 250, 60, 0x0badcafe}; }

// The checkpoint of `m` after `epoch`, as the file holds it.
std::string checkpoint_of(const model& m, int epoch) {
    std::stringstream out(std::ios::in | std::ios::out | std::ios::binary);
    mnist::write_checkpoint(out, info_after(epoch), m.net, m.opt);
    return out.str();
}

// A scratch file, removed when the test ends.
struct scratch_file {
    std::string path = (std::filesystem::temp_directory_path() /
                        ("mnist_clr_test_checkpoint." + std::to_string(::getpid()) + ".ckpt"))
                           .string();
    void write(const std::string& bytes) const {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    }
    ~scratch_file() { std::remove(path.c_str()); }
};

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
    CHECK(info.data == std::uint32_t{0x0badcafe});
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
    refused(good + "x", "a byte after the end");
    refused(good + good, "two checkpoints joined");
    header = good;
    header.replace(header.find("data 0x0badcafe"), 15, "data 0x0badcafX");
    refused(header, "a data checksum that is not hexadecimal");
    header = good;
    header.replace(header.find(" data 0x0badcafe"), 16, "");
    refused(header, "a version 2 header without the data's checksum");

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

TEST_CASE("bytes after a checkpoint are refused, saying how many", "[train][checkpoint]") {
    model saved;
    mnist::train(saved.net, saved.g, saved.opt, data, options(1));
    model m;
    std::stringstream in(checkpoint_of(saved, 1) + "abc", std::ios::in | std::ios::binary);
    REQUIRE_THROWS_WITH(mnist::read_checkpoint(in, m.net, m.opt),
                        "3 bytes follow the optimizer's state, where the checkpoint should end");
}

TEST_CASE("a version 1 checkpoint (no data checksum) still loads", "[train][checkpoint]") {
    model saved;
    mnist::train(saved.net, saved.g, saved.opt, data, options(1));
    std::string v1 = checkpoint_of(saved, 1);
    REQUIRE(v1.compare(0, 23, "mnist_clr checkpoint 2\n") == 0);
    v1[21] = '1';
    v1.erase(v1.find(" data 0x0badcafe"), 16);
    model m;
    std::stringstream in(v1, std::ios::in | std::ios::binary);
    const mnist::checkpoint_info info = mnist::read_checkpoint(in, m.net, m.opt);
    CHECK(info.epoch == 1);
    CHECK(!info.data);
    CHECK(m.net.W1 == saved.net.W1);
    CHECK(m.opt.steps() == saved.opt.steps());
    // A version 1 header with a data checksum is not one that was ever written.
    std::string mixed = checkpoint_of(saved, 1);
    mixed[21] = '1';
    std::stringstream bad(mixed, std::ios::in | std::ios::binary);
    CHECK_THROWS_WITH(mnist::read_checkpoint(bad, m.net, m.opt), "its header line is damaged");
}

TEST_CASE("a resumed run loads the bytes it read, whatever the file holds by then", "[train][checkpoint]") {
    model after1;
    mnist::train(after1.net, after1.g, after1.opt, data, options(1));
    model after2;
    mnist::train(after2.net, after2.g, after2.opt, data, options(2));
    scratch_file file;
    file.write(checkpoint_of(after1, 1));
    const mnist::checkpoint_file read = mnist::read_checkpoint_file(file.path);
    CHECK(read.info.epoch == 1);
    CHECK(read.bytes == checkpoint_of(after1, 1));
    CHECK(read.checksum == mnist::crc32c().update(read.bytes).value());

    // Another job replaces the file with the next epoch's checkpoint.
    file.write(checkpoint_of(after2, 2));
    model m;
    CHECK(mnist::load_checkpoint(read, m.net, m.opt).epoch == 1);
    CHECK(m.net.W1 == after1.net.W1);
    CHECK(m.opt.steps() == after1.opt.steps());
    CHECK(mnist::read_checkpoint_file(file.path).checksum != read.checksum);
}

TEST_CASE("read_checkpoint_file refuses a file that is not a checkpoint by its first lines",
          "[train][checkpoint]") {
    std::istringstream endless(std::string(1 << 20, '\0'));
    CHECK_THROWS_WITH(mnist::read_checkpoint_file(endless),
                      "it does not start with a mnist_clr checkpoint's header");
    CHECK(endless.tellg() < 1000);
    std::istringstream csv("step,lr\n0,0.1\n");
    CHECK_THROWS_WITH(mnist::read_checkpoint_file(csv), "it is not a mnist_clr checkpoint (version 2 or 1)");
    CHECK_THROWS_WITH(mnist::read_checkpoint_file("/nonexistent/run.ckpt"), Contains("cannot open: "));
}

TEST_CASE("the data's checksum tells apart sets of the same sizes", "[checkpoint]") {
    mnist::dataset d;
    for (mnist::images* im : {&d.train_images, &d.test_images}) {
        im->count = 3;
        im->rows = 2;
        im->cols = 2;
        im->pixels = std::vector<std::uint8_t>(12, 7);
    }
    d.train_labels.values = {1, 2, 3};
    d.test_labels.values = {4, 5, 6};
    const std::uint32_t base = mnist::data_checksum(d);
    CHECK(mnist::data_checksum(d) == base);
    mnist::dataset other = d;
    other.test_images.pixels[11] = 8;
    CHECK(mnist::data_checksum(other) != base);
    other = d;
    other.train_labels.values[0] = 0;
    CHECK(mnist::data_checksum(other) != base);
    other = d;
    other.train_images.rows = 4;  // the same pixels as 3 images of 4x1
    other.train_images.cols = 1;
    CHECK(mnist::data_checksum(other) != base);
    CHECK(mnist::hex32(0x0badcafe) == "0x0badcafe");
}
