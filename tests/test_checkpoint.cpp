// Optimizer checkpoints and the parameter block files: resuming is exact, the
// format is the documented one, and every damaged or mismatched file is
// refused with a message saying what differs, leaving everything unchanged.
#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include "checkpoint_bytes.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <ios>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using namespace clr_test;

static_assert(std::is_base_of_v<std::runtime_error, clr::optim::checkpoint_error>);

// A rate that changes at every step, optionally with a cycled momentum, so a
// resumed run that lost its place in the schedule would diverge.
template <class T>
class wavy : public clr::schedule<wavy<T>, T> {
public:
    explicit wavy(T base, bool cycle_momentum = false) : base_(base), cycle_(cycle_momentum) {}
    T lr_at(clr::step_t t) const noexcept { return base_ * T(1 + 0.5 * std::sin(0.37 * double(t))); }
    clr::range<T> lr_range() const noexcept { return {base_ / 2, base_ * 3 / 2}; }
    std::optional<T> momentum_at(clr::step_t t) const noexcept {
        if (!cycle_) return std::nullopt;
        return T(0.9 - 0.05 * std::cos(0.5 * double(t)));
    }

private:
    T base_;
    bool cycle_;
};

template <class T>
struct model {
    using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    // The vector spans several of the optimizers' internal chunks.
    matrix w = matrix::Zero(7, 9), dw = matrix::Zero(7, 9);
    vector b = vector::Zero(1500), db = vector::Zero(1500);

    void randomise() {
        for (Eigen::Index i = 0; i < w.size(); ++i) w(i) = T(std::cos(0.7 * double(i)));
        for (Eigen::Index i = 0; i < b.size(); ++i) b(i) = T(std::sin(0.3 * double(i)));
    }
    // The gradient of a quadratic with a step-dependent pull: it depends on
    // the parameters, so every earlier update matters.
    void gradients(clr::step_t t) {
        for (Eigen::Index i = 0; i < w.size(); ++i) dw(i) = w(i) - T(0.1 * std::sin(double(i) + double(t)));
        for (Eigen::Index i = 0; i < b.size(); ++i)
            db(i) = T(0.5) * b(i) + T(0.2 * std::cos(0.01 * double(i * t)));
    }
    template <class Opt>
    void attach(Opt& opt) {
        opt.add(w, dw);
        opt.add(b, db);
    }
    template <class Opt>
    void train(Opt& opt, int n) {
        for (int k = 0; k < n; ++k) {
            gradients(opt.steps());
            opt.step();
        }
    }
};

// Train n steps and checkpoint; continue m steps. Then a fresh optimizer and
// fresh parameters restored from the checkpoint run the same m steps: the
// parameters must agree bit for bit.
template <class T, class Make>
void check_resume(Make make, int n = 7, int m = 9) {
    model<T> a;
    a.randomise();
    auto opt_a = make();
    a.attach(opt_a);
    a.train(opt_a, n);
    std::stringstream file;
    clr::optim::save_blocks(file, a.w, a.b);
    opt_a.save(file);
    const std::string bytes = file.str();
    a.train(opt_a, m);

    model<T> b;
    auto opt_b = make();
    b.attach(opt_b);
    std::istringstream in(bytes);
    clr::optim::load_blocks(in, b.w, b.b);
    opt_b.load(in);
    CHECK(opt_b.steps() == clr::step_t(n));
    b.train(opt_b, m);
    CHECK(opt_b.steps() == opt_a.steps());
    CHECK((b.w.array() == a.w.array()).all());
    CHECK((b.b.array() == a.b.array()).all());

    // Without the optimizer state (parameters and step count only) the run
    // differs: the comparison above can fail.
    model<T> c;
    auto opt_c = make();
    c.attach(opt_c);
    std::istringstream in_c(bytes);
    clr::optim::load_blocks(in_c, c.w, c.b);
    opt_c.set_steps(clr::step_t(n));
    c.train(opt_c, m);
    CHECK_FALSE((c.b.array() == a.b.array()).all());
}

// Offsets in a version-3 record whose weight decays are numbers and whose
// blocks follow the optimizer's schedule (see
// include/clr/optim/detail/optimizer.hpp; tests/test_block_schedules.cpp
// reads records with schedules in them).
struct v3_offsets {
    explicit v3_offsets(const std::string& s) : text(85), blocks(85 + u32_at(s, 81)) {}
    static constexpr std::size_t scalar = 20, kind = 21, steps = 22, flags = 30, last_lr = 31,
                                 last_momentum = 39, option_count = 47, options = 48, decay_form = 72,
                                 decay = 73, text_length = 81;
    std::size_t text;
    std::size_t blocks;  // the block count
    // Block b's entry: u64 size, f64 lr_scale, u8 schedule form (0), u8 decay
    // form (1), f64 decay, u8 last-rate flag, f64 last rate.
    std::size_t block(std::size_t b) const { return blocks + 8 + 35 * b; }
    // After the blocks, n_blocks + 1 empty lists of plateau states (u32 0 each).
    std::size_t plateaus(std::size_t n_blocks) const { return block(n_blocks); }
    std::size_t states(std::size_t n_blocks) const { return plateaus(n_blocks) + 4 * (n_blocks + 1); }
};

clr::optim::sgd_options momentum_options(double mu = 0.9) {
    clr::optim::sgd_options o;
    o.momentum = mu;
    return o;
}

}  // namespace

TEST_CASE("resuming from a checkpoint continues bit for bit", "[optim][checkpoint]") {
    SECTION("sgd, nesterov with weight decay and cycled momentum") {
        clr::optim::sgd_options o;
        o.momentum = 0.9;
        o.nesterov = true;
        o.weight_decay = 1e-3;
        check_resume<double>([o] { return clr::optim::sgd(wavy<double>(0.05, true), o); });
    }
    SECTION("sgd, momentum and dampening, float") {
        clr::optim::sgd_options o;
        o.momentum = 0.8;
        o.dampening = 0.25;
        check_resume<float>([o] { return clr::optim::sgd(wavy<float>(0.05f), o); });
    }
    SECTION("adam with weight decay") {
        clr::optim::adam_options o;
        o.weight_decay = 0.01;
        check_resume<double>([o] { return clr::optim::adam(wavy<double>(0.01), o); });
    }
    SECTION("adam with cycled beta1, float") {
        check_resume<float>([] { return clr::optim::adam(wavy<float>(0.01f, true)); });
    }
    SECTION("adamw") {
        check_resume<double>([] { return clr::optim::adamw(wavy<double>(0.01)); });
    }
}

TEST_CASE("a checkpoint round-trips to the same bytes", "[optim][checkpoint]") {
    model<double> a;
    a.randomise();
    clr::optim::adamw opt(wavy<double>(0.01));
    a.attach(opt);
    a.train(opt, 3);
    const std::string bytes = saved(opt);

    model<double> b;
    clr::optim::adamw other(wavy<double>(0.01));
    b.attach(other);
    std::istringstream in(bytes);
    other.load(in);
    CHECK(saved(other) == bytes);

    // An sgd checkpoint with momentum buffers restores into an optimizer
    // without momentum when the change is intended (the buffers are state,
    // the option is a setting, which stays).
    clr::optim::sgd with(wavy<double>(0.01), momentum_options());
    a.attach(with);
    a.train(with, 2);
    clr::optim::sgd without(wavy<double>(0.01));
    b.attach(without);
    std::istringstream in2(saved(with));
    without.load(in2, clr::optim::resume::new_settings);
    CHECK(without.options().momentum == 0.0);
    std::string expected = saved(with);
    put_u64(expected, v3_offsets::options, 0);  // the momentum option
    CHECK(saved(without) == resealed(expected));
}

TEST_CASE("the checkpoint layout is the documented one", "[optim][checkpoint]") {
    clr::optim::sgd opt(wavy<double>(0.1), momentum_options(0.5));
    Eigen::Vector3d p(1, 2, 3), g(0.25, -0.5, 1.0 / 3.0);
    Eigen::Vector2d q(4, 5), h(-2, 8);
    opt.add(p, g);
    opt.add(q, h, clr::optim::block_options().with_lr_scale(0.25).with_weight_decay(0.125));
    opt.step();  // the momentum buffers are now the first gradients
    const std::string s = saved(opt);
    const v3_offsets at(s);
    const std::size_t text = u32_at(s, at.text_length);
    REQUIRE(s.size() == std::size_t(20 + 53 + 8 * 3 + 39 * 2 + (1 + 24) + (1 + 16) + 4) + text);
    CHECK(s.substr(0, 8) == "CLROPTIM");
    CHECK(s.substr(8, 4) == std::string("\x03\x00\x00\x00", 4));  // version 3
    CHECK(u64_at(s, 12) == s.size() - 24);                        // the body's length
    CHECK(s[at.scalar] == 8);                                     // double
    CHECK(s[at.kind] == 1);                                       // sgd
    CHECK(u64_at(s, at.steps) == 1);
    CHECK(s[at.flags] == 3);  // last_lr and last_momentum set
    CHECK(u64_at(s, at.last_lr) == bits_of(0.1));
    CHECK(u64_at(s, at.last_momentum) == bits_of(0.5));
    CHECK(s[at.option_count] == 3);
    CHECK(u64_at(s, at.options) == bits_of(0.5));  // momentum, dampening, nesterov
    CHECK(u64_at(s, at.options + 8) == 0);
    CHECK(u64_at(s, at.options + 16) == 0);
    CHECK(s[at.decay_form] == 1);  // the weight decay: a number, 0
    CHECK(u64_at(s, at.decay) == 0);
    CHECK(s.substr(at.text, text) == clr::detail::schedule_text(opt.schedule()));
    CHECK(u64_at(s, at.blocks) == 2);
    CHECK(u64_at(s, at.block(0)) == 3);
    CHECK(u64_at(s, at.block(0) + 8) == bits_of(1.0));  // lr_scale
    CHECK(s[at.block(0) + 16] == 0);                    // the optimizer's schedule
    CHECK(s[at.block(0) + 17] == 1);                    // weight decay: a number,
    CHECK(u64_at(s, at.block(0) + 18) == 0);            // the optimizer's
    CHECK(s[at.block(0) + 26] == 1);                    // updated, at the rate
    CHECK(u64_at(s, at.block(0) + 27) == bits_of(0.1));
    CHECK(u64_at(s, at.block(1)) == 2);
    CHECK(u64_at(s, at.block(1) + 8) == bits_of(0.25));
    CHECK(s[at.block(1) + 16] == 0);
    CHECK(s[at.block(1) + 17] == 1);
    CHECK(u64_at(s, at.block(1) + 18) == bits_of(0.125));
    CHECK(s[at.block(1) + 26] == 1);
    CHECK(u64_at(s, at.block(1) + 27) == bits_of(0.1 * 0.25));
    for (std::size_t list = 0; list < 3; ++list)  // no schedule holds a plateau
        CHECK(u32_at(s, at.plateaus(2) + 4 * list) == 0);
    const std::size_t st = at.states(2);
    CHECK(s[st] == 1);  // block 0 has a buffer
    for (std::size_t i = 0; i < 3; ++i) CHECK(u64_at(s, st + 1 + 8 * i) == bits_of(g(Eigen::Index(i))));
    CHECK(s[st + 25] == 1);  // block 1's buffer: its gradient plus its own weight decay
    for (std::size_t i = 0; i < 2; ++i)
        CHECK(u64_at(s, st + 26 + 8 * i) == bits_of(h(Eigen::Index(i)) + 0.125 * (i == 0 ? 4.0 : 5.0)));
    clr::detail::crc32c crc;
    crc.update(s.data(), s.size() - 4);
    CHECK(u32_at(s, s.size() - 4) == crc.value());

    clr::optim::adam adam(wavy<float>(0.1f));
    Eigen::VectorXf x = Eigen::VectorXf::Ones(4), dx = Eigen::VectorXf::Ones(4);
    adam.add(x, dx);
    const std::string fresh = saved(adam);
    CHECK(fresh[v3_offsets::flags] == 0);  // no step yet: neither is set, both are 0
    CHECK(u64_at(fresh, v3_offsets::last_lr) == 0);
    CHECK(u64_at(fresh, v3_offsets::last_momentum) == 0);
    adam.step();
    adam.step();
    const std::string a = saved(adam);
    const v3_offsets aat(a);
    REQUIRE(a.size() ==
            std::size_t(20 + 53 + 8 * 3 + 39 + 8 + 2 * 4 * 4 + 4) + u32_at(a, v3_offsets::text_length));
    CHECK(a[v3_offsets::scalar] == 4);  // float
    CHECK(a[v3_offsets::kind] == 2);    // adam
    CHECK(u64_at(a, v3_offsets::options) == bits_of(0.9));
    CHECK(u64_at(a, v3_offsets::options + 8) == bits_of(0.999));
    CHECK(u64_at(a, v3_offsets::options + 16) == bits_of(1e-8));
    CHECK(u64_at(a, aat.states(1)) == 2);  // block 0 has had 2 updates
    float m0;
    std::memcpy(&m0, a.data() + aat.states(1) + 8, 4);
    CHECK(m0 == Approx(1 - 0.81).epsilon(1e-6));  // exp_avg after two unit gradients
}

TEST_CASE("crc32c gives the standard check value", "[optim][checkpoint]") {
    clr::detail::crc32c crc;
    crc.update("123456789", 9);
    CHECK(crc.value() == 0xE3069283u);  // RFC 3720, appendix B.4
    clr::detail::crc32c empty;
    CHECK(empty.value() == 0u);
}

TEST_CASE("load refuses a checkpoint that does not match, naming what differs",
          "[optim][checkpoint][errors]") {
    clr::optim::sgd opt(wavy<double>(0.1), momentum_options());
    Eigen::VectorXd p1 = Eigen::VectorXd::Ones(10), g1 = Eigen::VectorXd::Ones(10);
    Eigen::VectorXd p2 = Eigen::VectorXd::Ones(7840), g2 = Eigen::VectorXd::Ones(7840);
    opt.add(p1, g1);
    opt.add(p2, g2);
    opt.step();
    opt.step();
    const std::string good = saved(opt);

    SECTION("block sizes") {
        clr::optim::sgd other(wavy<double>(0.1), momentum_options());
        Eigen::VectorXd q1(10), h1(10), q2(784), h2(784);
        other.add(q1, h1);
        other.add(q2, h2);
        other.step();
        CHECK(load_error(opt, saved(other)) ==
              "clr::optim::sgd::load: block 1 has 7840 values, checkpoint has 784");
    }
    SECTION("block count") {
        clr::optim::sgd one(wavy<double>(0.1));
        Eigen::VectorXd q(10), h(10);
        one.add(q, h);
        CHECK(load_error(one, good) == "clr::optim::sgd::load: checkpoint has 2 blocks, 1 is registered");
        Eigen::VectorXd r(3), k(3);
        one.add(r, k);
        Eigen::VectorXd s(3), l(3);
        one.add(s, l);
        CHECK(load_error(one, good) == "clr::optim::sgd::load: checkpoint has 2 blocks, 3 are registered");
    }
    SECTION("optimizer kind") {
        clr::optim::adam adam(wavy<double>(0.1));
        Eigen::VectorXd q1(10), h1(10), q2(7840), h2(7840);
        adam.add(q1, h1);
        adam.add(q2, h2);
        CHECK(load_error(opt, saved(adam)) ==
              "clr::optim::sgd::load: checkpoint was written by clr::optim::adam, not clr::optim::sgd");
        clr::optim::adamw adamw(wavy<double>(0.1));
        adamw.add(q1, h1);
        adamw.add(q2, h2);
        CHECK(load_error(adamw, saved(adam)) ==
              "clr::optim::adamw::load: checkpoint was written by clr::optim::adam, not clr::optim::adamw");
        std::string bad = good;
        bad[v3_offsets::kind] = 9;
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: unknown optimizer kind 9 in the checkpoint");
    }
    SECTION("scalar type") {
        clr::optim::sgd single(wavy<float>(0.1f), momentum_options());
        Eigen::VectorXf q1(10), h1(10), q2(7840), h2(7840);
        single.add(q1, h1);
        single.add(q2, h2);
        CHECK(load_error(opt, saved(single)) ==
              "clr::optim::sgd::load: checkpoint holds 4-byte values (float), this side uses 8-byte values "
              "(double)");
        CHECK(load_error(single, good) ==
              "clr::optim::sgd::load: checkpoint holds 8-byte values (double), this side uses 4-byte values "
              "(float)");
    }
    SECTION("magic tag and version") {
        CHECK(
            load_error(opt, "not a checkpoint at all, but long enough") ==
            "clr::optim::sgd::load: not a clr optimizer checkpoint (wrong magic tag, expected \"CLROPTIM\")");
        std::ostringstream blocks;
        clr::optim::save_blocks(blocks, p1, p2);
        CHECK(
            load_error(opt, blocks.str()) ==
            "clr::optim::sgd::load: not a clr optimizer checkpoint (wrong magic tag, expected \"CLROPTIM\")");
        std::string bad = good;
        bad[8] = 4;
        CHECK(load_error(opt, bad) ==
              "clr::optim::sgd::load: checkpoint format version 4 is not supported (this build reads "
              "versions 1 to 3)");
        bad[8] = 0;
        CHECK(load_error(opt, bad) ==
              "clr::optim::sgd::load: checkpoint format version 0 is not supported (this build reads "
              "versions 1 to 3)");
    }
    SECTION("damaged fields behind a valid checksum") {
        const v3_offsets at(good);
        std::string bad = good;
        bad[at.states(2)] = 7;
        CHECK(load_error(opt, bad) ==
              "clr::optim::sgd::load: checksum mismatch (the record says " +
                  clr::detail::hex32(u32_at(good, good.size() - 4)) + ", its bytes give " +
                  clr::detail::hex32(u32_at(resealed(bad), bad.size() - 4)) + "): the checkpoint is damaged");
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: momentum flag of block 0 is 7, not 0 or 1 (damaged file?)");
        bad = good;
        put_u64(bad, v3_offsets::steps, ~std::uint64_t(0));
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: step counter 18446744073709551615 is larger than 2^62 (damaged file?)");
        bad = good;
        bad[v3_offsets::flags] = 4;
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: last-step flags are 4, not 0 to 3 (damaged file?)");
        bad = good;
        put_u64(bad, v3_offsets::last_lr, bits_of(-0.5));
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: last_lr = -0.5 is not a rate this optimizer applies (damaged file?)");
        bad = good;
        put_u64(bad, v3_offsets::last_momentum, bits_of(1.0));
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: last_momentum = 1 is not a momentum in [0, 1) (damaged file?)");
        bad = good;
        put_u64(bad, at.block(0) + 8, bits_of(-1.0));
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: lr_scale of block 0 is -1, not a finite number >= 0 (damaged file?)");
        bad = good;
        bad[at.block(1) + 16] = 1;
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: form of the schedule of block 1 is 1, not 0 (the optimizer's) or 2 "
              "(a schedule) (damaged file?)");
        bad = good;
        bad[v3_offsets::decay_form] = 0;
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: form of the weight decay is 0, not 1 (a number) or 2 (a schedule) "
              "(damaged file?)");
        bad = good;
        put_u64(bad, at.block(1) + 18, bits_of(-0.5));
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: the weight decay of block 1 is -0.5, not a finite number >= 0 (damaged "
              "file?)");
        bad = good;
        bad[at.block(1) + 26] = 2;
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: last_lr flag of block 1 is 2, not 0 or 1 (damaged file?)");
        bad = good;
        put_u64(bad, at.block(0) + 27, bits_of(HUGE_VAL));
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: last_lr of block 0 = inf is not a rate this optimizer applies (damaged "
              "file?)");
        bad = good;
        put_u64(bad, at.states(2) + 1 + 8, bits_of(std::nan("")));
        CHECK(load_error(opt, resealed(bad)) ==
              "clr::optim::sgd::load: the momentum buffer of block 0 holds nan at index 1 (damaged file?)");
        CHECK(load_error(opt, resealed(good + "xyz")) ==
              "clr::optim::sgd::load: record has 3 bytes after the last state (damaged file?)");

        clr::optim::adam adam(wavy<double>(0.1));
        Eigen::VectorXd q(4), h(4);
        adam.add(q, h);
        const std::string a = saved(adam);
        const std::size_t st = v3_offsets(a).states(1);
        std::string bad_a = a;
        put_u64(bad_a, st, std::uint64_t(1) << 63);
        CHECK(load_error(adam, resealed(bad_a)) ==
              "clr::optim::adam::load: update count 9223372036854775808 of block 0 is larger than 2^62 "
              "(damaged "
              "file?)");
        bad_a = a;
        put_u64(bad_a, st + 8 + 16, bits_of(HUGE_VAL));  // exp_avg[2]
        CHECK(load_error(adam, resealed(bad_a)) ==
              "clr::optim::adam::load: exp_avg of block 0 holds inf at index 2 (damaged file?)");
        bad_a = a;
        put_u64(bad_a, st + 8 + 32 + 24, bits_of(-0.25));  // exp_avg_sq[3]
        CHECK(
            load_error(adam, resealed(bad_a)) ==
            "clr::optim::adam::load: exp_avg_sq of block 0 holds -0.25 at index 3, a negative second moment "
            "(damaged file?)");
        bad_a = a;
        put_u64(bad_a, st + 8 + 32, bits_of(std::nan("")));
        CHECK(load_error(adam, resealed(bad_a)) ==
              "clr::optim::adam::load: exp_avg_sq of block 0 holds nan at index 0 (damaged file?)");
    }
    SECTION("the optimizer is untouched by a failed load") {
        // load_error checks that; here also the parameters stay put and the
        // next step is the one the optimizer would have taken anyway.
        clr::optim::sgd twin(wavy<double>(0.1), momentum_options());
        Eigen::VectorXd t1 = p1, u1 = g1, t2 = p2, u2 = g2;
        twin.add(t1, u1);
        twin.add(t2, u2);
        std::istringstream in(good);
        twin.load(in);
        std::string bad = good;
        bad[v3_offsets(good).states(2)] = 7;
        CHECK(load_error(opt, bad) != "(no error)");
        opt.step();
        twin.step();
        CHECK(p1 == t1);
        CHECK(p2 == t2);
    }
}

TEST_CASE("load refuses a truncated checkpoint at every length", "[optim][checkpoint][errors]") {
    clr::optim::sgd opt(wavy<double>(0.1), momentum_options());
    Eigen::VectorXd p1 = Eigen::VectorXd::Ones(3), g1 = Eigen::VectorXd::Ones(3);
    Eigen::VectorXd p2 = Eigen::VectorXd::Ones(2), g2 = Eigen::VectorXd::Ones(2);
    opt.add(p1, g1);
    opt.add(p2, g2);
    opt.step();
    const std::string good = saved(opt);
    for (std::size_t n = 0; n < good.size(); ++n) {
        INFO("length " << n);
        CHECK_THAT(load_error(opt, good.substr(0, n)),
                   Catch::StartsWith("clr::optim::sgd::load: checkpoint is truncated (reading "));
    }
    CHECK(load_error(opt, "") == "clr::optim::sgd::load: checkpoint is truncated (reading the magic tag)");
    CHECK(load_error(opt, good.substr(0, 10)) ==
          "clr::optim::sgd::load: checkpoint is truncated (reading the format version)");
    CHECK(load_error(opt, good.substr(0, 19)) ==
          "clr::optim::sgd::load: checkpoint is truncated (reading the record length)");
    CHECK(load_error(opt, good.substr(0, 40)) ==
          "clr::optim::sgd::load: checkpoint is truncated (reading the record)");
    CHECK(load_error(opt, good.substr(0, good.size() - 1)) ==
          "clr::optim::sgd::load: checkpoint is truncated (reading the checksum)");
    // A body cut short behind a matching length and checksum still says
    // which field it was reading.
    CHECK(load_error(opt, resealed(good.substr(0, good.size() - 5) + "0000")) ==
          "clr::optim::sgd::load: checkpoint is truncated (reading the momentum buffer of block 1)");

    clr::optim::adam adam(wavy<double>(0.1));
    adam.add(p1, g1);
    adam.add(p2, g2);
    const std::string a = saved(adam);
    for (std::size_t n = 0; n < a.size(); ++n) {
        INFO("length " << n);
        CHECK_THAT(load_error(adam, a.substr(0, n)),
                   Catch::StartsWith("clr::optim::adam::load: checkpoint is truncated (reading "));
    }
    CHECK(load_error(adam, resealed(a.substr(0, a.size() - 5) + "0000")) ==
          "clr::optim::adam::load: checkpoint is truncated (reading exp_avg_sq of block 1)");
    // A checkpoint followed by other data is fine: load reads exactly its record.
    std::istringstream in(a + "trailing");
    CHECK_NOTHROW(adam.load(in));
}

TEST_CASE("save reports a stream that fails", "[optim][checkpoint][errors]") {
    clr::optim::sgd opt(wavy<double>(0.1));
    Eigen::VectorXd p(3), g(3);
    opt.add(p, g);
    std::ostream broken(nullptr);
    REQUIRE_THROWS_AS(opt.save(broken), clr::optim::checkpoint_error);
    REQUIRE_THROWS_WITH(opt.save(broken), "clr::optim::sgd::save: writing the checkpoint failed");
    REQUIRE_THROWS_WITH(clr::optim::save_blocks(broken, p),
                        "clr::optim::save_blocks: writing the checkpoint failed");
}

namespace {

// The record save_blocks wrote before shapes were recorded, from the
// version-3 record `v3` of column-major blocks: version 2 (a u64 size per
// block, then the values and a CRC-32C) or version 1 (the same without the
// checksum).
std::string sizes_only_record(const std::string& v3, std::uint32_t version) {
    const std::size_t count = u64_at(v3, 13);
    std::string r = v3.substr(0, 21);
    put_u32(r, 8, version);
    for (std::size_t b = 0; b < count; ++b) {
        r += std::string(8, '\0');
        put_u64(r, r.size() - 8, u64_at(v3, 21 + 17 * b) * u64_at(v3, 29 + 17 * b));
    }
    r += v3.substr(21 + 17 * count, v3.size() - 4 - (21 + 17 * count));
    if (version == 1) return r;
    clr::detail::crc32c crc;
    crc.update(r.data(), r.size());
    r += std::string(4, '\0');
    put_u32(r, r.size() - 4, crc.value());
    return r;
}

}  // namespace

TEST_CASE("save_blocks and load_blocks", "[optim][checkpoint]") {
    Eigen::MatrixXd w(2, 3);
    w << 1, 2, 3, 4, 5, 6;
    Eigen::VectorXd b(5);
    b << -1, -2, -3, -4, -5;
    std::ostringstream out;
    clr::optim::save_blocks(out, w, b);
    const std::string s = out.str();
    // Magic, version, scalar size, block count, each block's rows, columns
    // and order, the values, the checksum.
    REQUIRE(s.size() == 8 + 4 + 1 + 8 + 2 * 17 + 11 * 8 + 4);
    CHECK(s.substr(0, 8) == "CLRBLOCK");
    CHECK(u32_at(s, 8) == 3);
    CHECK(s[12] == 8);          // scalar size
    CHECK(u64_at(s, 13) == 2);  // block count
    CHECK(u64_at(s, 21) == 2);  // w: 2x3, column-major
    CHECK(u64_at(s, 29) == 3);
    CHECK(s[37] == 0);
    CHECK(u64_at(s, 38) == 5);  // b: 5x1
    CHECK(u64_at(s, 46) == 1);
    CHECK(s[54] == 0);

    SECTION("round trip, through a Map too") {
        Eigen::MatrixXd w2(2, 3);
        std::vector<double> b2(5);
        std::istringstream in(s);
        clr::optim::load_blocks(in, w2, Eigen::Map<Eigen::VectorXd>(b2.data(), 5));
        CHECK(w2 == w);
        CHECK(Eigen::Map<Eigen::VectorXd>(b2.data(), 5) == b);
    }

    // Every failure leaves the destination blocks as they were.
    Eigen::MatrixXd w2 = Eigen::MatrixXd::Constant(2, 3, 7.0);
    Eigen::VectorXd b2 = Eigen::VectorXd::Constant(5, 7.0);
    auto error = [&](const std::string& bytes, auto&&... blocks) {
        std::string what = "(no error)";
        std::istringstream in(bytes);
        try {
            clr::optim::load_blocks(in, blocks...);
        } catch (const clr::optim::checkpoint_error& e) {
            what = e.what();
        }
        CHECK((w2.array() == 7.0).all());
        CHECK((b2.array() == 7.0).all());
        return what;
    };
    SECTION("sizes and count") {
        Eigen::VectorXd b6 = Eigen::VectorXd::Constant(6, 7.0);
        CHECK(error(s, w2, b6) ==
              "clr::optim::load_blocks: block 1 is 6x1 (column-major), checkpoint has 5x1 (column-major)");
        CHECK((b6.array() == 7.0).all());
        CHECK(error(s, w2) == "clr::optim::load_blocks: checkpoint has 2 blocks, 1 is registered");
        CHECK(error(s, w2, b2, b2) == "clr::optim::load_blocks: checkpoint has 2 blocks, 3 are registered");
    }
    SECTION("truncated, at every length") {
        for (std::size_t n = 0; n < s.size(); ++n) {
            INFO("length " << n);
            CHECK_THAT(error(s.substr(0, n), w2, b2),
                       Catch::StartsWith("clr::optim::load_blocks: checkpoint is truncated (reading "));
        }
        CHECK(error(s.substr(0, s.size() - 1), w2, b2) ==
              "clr::optim::load_blocks: checkpoint is truncated (reading the checksum)");
        CHECK(error(s.substr(0, s.size() - 5), w2, b2) ==
              "clr::optim::load_blocks: checkpoint is truncated (reading the values of block 1)");
    }
    SECTION("scalar type and magic") {
        Eigen::MatrixXf wf(2, 3);
        Eigen::VectorXf bf(5);
        std::istringstream in(s);
        REQUIRE_THROWS_WITH(
            clr::optim::load_blocks(in, wf, bf),
            "clr::optim::load_blocks: checkpoint holds 8-byte values (double), this side uses 4-byte "
            "values (float)");
        clr::optim::sgd opt(wavy<double>(0.1));
        opt.add(w, w2);
        CHECK(error(saved(opt), w2, b2) ==
              "clr::optim::load_blocks: not a clr parameter file (wrong magic tag, expected \"CLRBLOCK\")");
        std::string bad = s;
        bad[8] = 4;
        CHECK(error(bad, w2, b2) ==
              "clr::optim::load_blocks: checkpoint format version 4 is not supported (this build reads "
              "versions 1 to 3)");
    }
    SECTION("every single-bit flip is refused, the blocks unchanged") {
        std::size_t refused = 0;
        for (std::size_t i = 0; i < s.size() * 8; ++i) {
            std::string bad = s;
            bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
            INFO("byte " << i / 8 << ", bit " << i % 8);
            const std::string what = error(bad, w2, b2);
            CHECK_THAT(what, Catch::StartsWith("clr::optim::load_blocks: "));
            refused += what != "(no error)" ? 1 : 0;
        }
        CHECK(refused == s.size() * 8);
        // A flipped value is caught by the checksum, named as such.
        std::string bad = s;
        bad[8 + 4 + 1 + 8 + 2 * 17 + 5 * 8 + 3] ^= 0x10;
        const std::string what = error(bad, w2, b2);
        CHECK_THAT(what,
                   Catch::StartsWith("clr::optim::load_blocks: checksum mismatch (the record says 0x") &&
                       Catch::EndsWith("): the parameter file is damaged"));
    }
    SECTION("versions 1 and 2, with sizes in place of shapes, still load") {
        const std::string v2 = sizes_only_record(s, 2);
        std::istringstream in(v2);
        clr::optim::load_blocks(in, w2, b2);
        CHECK(w2 == w);
        CHECK(b2 == b);
        // clr 0.1 wrote version 2's record without its last four bytes.
        w2.setConstant(7.0);
        b2.setConstant(7.0);
        std::istringstream in1(sizes_only_record(s, 1));
        clr::optim::load_blocks(in1, w2, b2);
        CHECK(w2 == w);
        CHECK(b2 == b);
        // Without shapes, only the sizes can be checked: a 3x2 block takes
        // the 2x3 one's values, in storage order, as it always did.
        Eigen::MatrixXd w32(3, 2);
        Eigen::VectorXd b5(5);
        std::istringstream in2(v2);
        clr::optim::load_blocks(in2, w32, b5);
        CHECK(Eigen::Map<const Eigen::VectorXd>(w32.data(), 6) ==
              Eigen::Map<const Eigen::VectorXd>(w.data(), 6));
        w2.setConstant(7.0);
        b2.setConstant(7.0);
        Eigen::VectorXd b6(6);
        CHECK(error(v2, w2, b6) == "clr::optim::load_blocks: block 1 has 6 values, checkpoint has 5");
        // Every flip and cut of a version-2 record is still refused.
        for (std::size_t i = 0; i < v2.size() * 8; ++i) {
            std::string bad = v2;
            bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
            INFO("version 2, byte " << i / 8 << ", bit " << i % 8);
            CHECK_THAT(error(bad, w2, b2), Catch::StartsWith("clr::optim::load_blocks: "));
        }
        for (std::size_t n = 0; n < v2.size(); ++n) {
            INFO("version 2, length " << n);
            CHECK_THAT(error(v2.substr(0, n), w2, b2),
                       Catch::StartsWith("clr::optim::load_blocks: checkpoint is truncated (reading "));
        }
    }
    SECTION("blocks must be contiguous") {
        Eigen::MatrixXd big(4, 4);
        std::ostringstream o2;
        REQUIRE_THROWS_WITH(
            clr::optim::save_blocks(o2, w, big.block(0, 0, 2, 2)),
            "clr::optim::save_blocks: block 1 is not contiguous in memory (inner stride 1, outer "
            "stride 4 for 2x2); register the whole matrix or a contiguous Map");
    }
}

TEST_CASE("load_blocks refuses another shape or storage order, naming the block and both",
          "[optim][checkpoint][errors]") {
    using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::VectorXd v = Eigen::VectorXd::LinSpaced(5, 1, 5);
    Eigen::MatrixXd m34(3, 4);
    for (Eigen::Index i = 0; i < m34.size(); ++i) m34(i) = double(i) + 0.5;
    std::ostringstream out;
    clr::optim::save_blocks(out, v, m34);
    const std::string s = out.str();

    // The message of the refusal, having checked that no block was written.
    auto refusal = [&s](auto&& first, auto&& second) {
        first.setConstant(7.0);
        second.setConstant(7.0);
        std::istringstream in(s);
        std::string what = "(no error)";
        try {
            clr::optim::load_blocks(in, first, second);
        } catch (const clr::optim::checkpoint_error& e) {
            what = e.what();
        }
        CHECK((first.array() == 7.0).all());
        CHECK((second.array() == 7.0).all());
        return what;
    };
    Eigen::VectorXd v2(5);
    Eigen::MatrixXd m43(4, 3);
    CHECK(refusal(v2, m43) ==
          "clr::optim::load_blocks: block 1 is 4x3 (column-major), checkpoint has 3x4 (column-major)");
    row_major r34(3, 4);
    CHECK(refusal(v2, r34) ==
          "clr::optim::load_blocks: block 1 is 3x4 (row-major), checkpoint has 3x4 (column-major)");
    // A transposed view has the shape, but not the order.
    CHECK(refusal(v2, m43.transpose()) ==
          "clr::optim::load_blocks: block 1 is 3x4 (row-major), checkpoint has 3x4 (column-major)");
    Eigen::RowVectorXd row5(5);
    Eigen::MatrixXd m34b(3, 4);
    CHECK(refusal(row5, m34b) ==
          "clr::optim::load_blocks: block 0 is 1x5 (column-major), checkpoint has 5x1 (column-major)");

    SECTION("the same shape loads, whatever order a vector is declared in") {
        Eigen::MatrixXd m(3, 4);
        std::istringstream in(s);
        clr::optim::load_blocks(in, Eigen::Map<Eigen::MatrixXd>(v2.data(), 5, 1), m);
        CHECK(v2 == v);
        CHECK(m == m34);
        // A row vector (row-major to Eigen) and a 1xN matrix (column-major)
        // hold their values the same way, and are recorded alike.
        std::ostringstream o2;
        clr::optim::save_blocks(o2, Eigen::RowVectorXd(v.transpose()));
        Eigen::MatrixXd one_row(1, 5);
        std::istringstream in2(o2.str());
        clr::optim::load_blocks(in2, one_row);
        CHECK(one_row == v.transpose());
    }
    SECTION("a row-major record: its layout, every flip and every cut refused") {
        row_major r(2, 3);
        r << 1, 2, 3, 4, 5, 6;
        std::ostringstream o2;
        clr::optim::save_blocks(o2, r);
        const std::string rs = o2.str();
        REQUIRE(rs.size() == 21 + 17 + 6 * 8 + 4);
        CHECK(u64_at(rs, 21) == 2);
        CHECK(u64_at(rs, 29) == 3);
        CHECK(rs[37] == 1);
        CHECK(u64_at(rs, 46) == bits_of(2.0));  // r(0, 1): the values in row-major order
        row_major back(2, 3);
        std::istringstream in(rs);
        clr::optim::load_blocks(in, back);
        CHECK(back == r);
        Eigen::MatrixXd col(2, 3);
        std::istringstream in2(rs);
        REQUIRE_THROWS_WITH(
            clr::optim::load_blocks(in2, col),
            "clr::optim::load_blocks: block 0 is 2x3 (column-major), checkpoint has 2x3 (row-major)");
        for (std::size_t i = 0; i < rs.size() * 8; ++i) {
            std::string bad = rs;
            bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
            INFO("byte " << i / 8 << ", bit " << i % 8);
            back.setConstant(7.0);
            std::istringstream b(bad);
            REQUIRE_THROWS_AS(clr::optim::load_blocks(b, back), clr::optim::checkpoint_error);
            CHECK((back.array() == 7.0).all());
        }
        for (std::size_t n = 0; n < rs.size(); ++n) {
            INFO("length " << n);
            std::istringstream b(rs.substr(0, n));
            REQUIRE_THROWS_WITH(
                clr::optim::load_blocks(b, back),
                Catch::StartsWith("clr::optim::load_blocks: checkpoint is truncated (reading "));
        }
        // A damaged order byte is shown as the number it holds.
        std::string bad = rs;
        bad[37] = 9;
        std::istringstream b(bad);
        REQUIRE_THROWS_WITH(
            clr::optim::load_blocks(b, back),
            "clr::optim::load_blocks: block 0 is 2x3 (row-major), checkpoint has 2x3 (storage order 9)");
    }
}

TEST_CASE("every single-bit flip of a checkpoint is refused, the optimizer unchanged",
          "[optim][checkpoint][errors]") {
    SECTION("sgd with momentum") {
        clr::optim::sgd opt(wavy<double>(0.1), momentum_options());
        clr::optim::sgd twin(wavy<double>(0.1), momentum_options());
        Eigen::VectorXd p(3), g(3), q(2), h(2);
        p << 1, 2, 3;
        g << 0.5, -0.25, 2;
        q << -1, 4;
        h << 3, 0.125;
        Eigen::VectorXd tp = p, tq = q;
        opt.add(p, g);
        opt.add(q, h, clr::optim::block_options().with_lr_scale(0.5));
        twin.add(tp, g);
        twin.add(tq, h, clr::optim::block_options().with_lr_scale(0.5));
        opt.step();
        opt.step();
        twin.step();
        twin.step();
        check_bit_flips(opt, p, twin, tp);
        CHECK(q == tq);
    }
    SECTION("adam") {
        clr::optim::adam opt(wavy<float>(0.01f, true));
        clr::optim::adam twin(wavy<float>(0.01f, true));
        Eigen::VectorXf p(3), g(3);
        p << 1, 2, 3;
        g << 0.5f, -0.25f, 2;
        Eigen::VectorXf tp = p;
        opt.add(p, g);
        twin.add(tp, g);
        opt.step();
        twin.step();
        check_bit_flips(opt, p, twin, tp);
    }
}

TEST_CASE("a version-1 checkpoint written by clr 0.1 still loads", "[optim][checkpoint]") {
    // tests/data/README.md says how the files were made.
    SECTION("sgd") {
        const std::string v1 = data_file("checkpoint_v1_sgd.bin");
        REQUIRE(v1.size() == 88);
        REQUIRE(v1[8] == 1);
        Eigen::Vector3d p(1, 2, 3), g(0.25, -0.5, 1);
        Eigen::Vector2d q(4, 5), h(-2, 8);
        // A version-1 file records no settings, so none can be checked: a
        // different momentum option loads too (and is the one used next).
        for (double mu : {0.5, 0.9}) {
            INFO("momentum option " << mu);
            clr::optim::sgd opt(clr::constant<double>(0.5), momentum_options(mu));
            opt.add(p, g);
            opt.add(q, h);
            std::istringstream in(v1);
            opt.load(in);
            CHECK(opt.steps() == 3);
            CHECK_FALSE(opt.last_lr());  // not recorded in version 1
            CHECK_FALSE(opt.last_momentum());
            const std::string v3 = saved(opt);
            const std::size_t st = v3_offsets(v3).states(2);
            CHECK(v3.substr(st, v3.size() - 4 - st) == v1.substr(30 + 16));  // the same states
        }
        // Three steps of momentum 0.5 on constant gradients left 1.75 g in
        // the buffers; the next step makes them 1.875 g.
        clr::optim::sgd opt(clr::constant<double>(0.5), momentum_options(0.5));
        opt.add(p, g);
        opt.add(q, h);
        std::istringstream in(v1);
        opt.load(in);
        opt.step();
        CHECK(p == Eigen::Vector3d(1 - 0.5 * 1.875 * 0.25, 2 + 0.5 * 1.875 * 0.5, 3 - 0.5 * 1.875));
        CHECK(q == Eigen::Vector2d(4 + 0.5 * 1.875 * 2, 5 - 0.5 * 1.875 * 8));
        CHECK(opt.last_lr() == 0.5);
    }
    SECTION("adam, float") {
        const std::string v1 = data_file("checkpoint_v1_adam.bin");
        REQUIRE(v1.size() == 30 + 8 + 8 + 32);
        clr::optim::adam opt(clr::constant<float>(0.125f));
        Eigen::VectorXf x = Eigen::VectorXf::Ones(4), dx(4);
        dx << 0.5f, -1.0f, 2.0f, 0.25f;
        opt.add(x, dx);
        std::istringstream in(v1);
        opt.load(in);
        CHECK(opt.steps() == 2);
        const std::string v3 = saved(opt);
        const std::size_t st = v3_offsets(v3).states(1);
        CHECK(v3.substr(st, v3.size() - 4 - st) == v1.substr(30 + 8));  // update count 2, the moments
        CHECK(u64_at(v1, 38) == 2);
        // The moments after two equal gradients: m = (1 - 0.81) g.
        float m0;
        std::memcpy(&m0, v1.data() + 46, 4);
        CHECK(m0 == Approx(0.19 * 0.5).epsilon(1e-6));
    }
    SECTION("a damaged version-1 file is still refused field by field") {
        std::string bad = data_file("checkpoint_v1_sgd.bin");
        bad[46] = 7;
        clr::optim::sgd opt(clr::constant<double>(0.5), momentum_options(0.5));
        Eigen::Vector3d p, g;
        Eigen::Vector2d q, h;
        opt.add(p, g);
        opt.add(q, h);
        CHECK(load_error(opt, bad) ==
              "clr::optim::sgd::load: momentum flag of block 0 is 7, not 0 or 1 (damaged file?)");
        const std::string v1 = data_file("checkpoint_v1_sgd.bin");
        CHECK(load_error(opt, v1.substr(0, 50)) ==
              "clr::optim::sgd::load: checkpoint is truncated (reading the momentum buffer of block 0)");
        put_u64(bad = v1, 55, bits_of(HUGE_VAL));
        CHECK(load_error(opt, bad) ==
              "clr::optim::sgd::load: the momentum buffer of block 0 holds inf at index 1 (damaged file?)");
    }
}

TEST_CASE("load refuses changed settings unless the change is intended", "[optim][checkpoint][errors]") {
    const std::string hint = "; load with clr::optim::resume::new_settings if the change is intended";
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), g = Eigen::VectorXd::Constant(3, 0.5);
    Eigen::VectorXd q = Eigen::VectorXd::Ones(2), h = Eigen::VectorXd::Constant(2, -0.5);
    clr::optim::sgd_options o = momentum_options(0.9);
    o.weight_decay = 0.01;
    clr::optim::sgd opt(wavy<double>(0.1), o);
    opt.add(p, g);
    opt.add(q, h, clr::optim::block_options().with_weight_decay(0.0));
    opt.step();
    opt.step();
    const std::string good = saved(opt);

    // The same settings load (and round-trip to the same bytes).
    {
        clr::optim::sgd same(wavy<double>(0.1), o);
        same.add(p, g);
        same.add(q, h, clr::optim::block_options().with_weight_decay(0.0));
        std::istringstream in(good);
        same.load(in);
        CHECK(saved(same) == good);
    }
    // Each change is refused by default, showing both values, and loads with
    // resume::new_settings, keeping the optimizer's settings.
    auto refused_then_new = [&](auto& other, const std::string& message) {
        CHECK(load_error(other, good) == "clr::optim::sgd::load: " + message + hint);
        std::istringstream in(good);
        other.load(in, clr::optim::resume::new_settings);
        CHECK(other.steps() == 2);
        CHECK(other.last_lr() == opt.last_lr());
    };
    SECTION("an optimizer option") {
        clr::optim::sgd other(wavy<double>(0.1), momentum_options(0.5));
        other.add(p, g);
        other.add(q, h, clr::optim::block_options().with_weight_decay(0.0));
        refused_then_new(other, "momentum differs: the checkpoint's is 0.9, this optimizer's is 0.5");
        CHECK(other.options().momentum == 0.5);
        other.step();
        CHECK(other.last_momentum() == 0.5);
    }
    SECTION("a block's lr_scale") {
        clr::optim::sgd other(wavy<double>(0.1), o);
        other.add(p, g);
        other.add(q, h, clr::optim::block_options().with_weight_decay(0.0).with_lr_scale(0.5));
        refused_then_new(other, "block 1's lr_scale differs: the checkpoint's is 1, this optimizer's is 0.5");
        CHECK(other.options_of(1).lr_scale == 0.5);
        CHECK(u64_at(saved(other), v3_offsets(good).block(1) + 8) == bits_of(0.5));
    }
    SECTION("a block's weight decay, as applied") {
        clr::optim::sgd other(wavy<double>(0.1), o);
        other.add(p, g);
        other.add(q, h);  // the optimizer's 0.01
        refused_then_new(other,
                         "block 1's weight decay differs: the checkpoint's is 0, this optimizer's is 0.01");
        // Set to the optimizer's own value, it is the same as applied.
        clr::optim::sgd same(wavy<double>(0.1), o);
        same.add(p, g, clr::optim::block_options().with_weight_decay(0.01));
        same.add(q, h, clr::optim::block_options().with_weight_decay(0.0));
        std::istringstream in(good);
        CHECK_NOTHROW(same.load(in));
        CHECK(same.steps() == 2);
    }
    SECTION("the schedule") {
        // The checkpoint of a schedule with a text form holds the text; a
        // different one is refused. An empty text (a schedule without a text
        // form) is not checked.
        std::string other_text = good;
        const v3_offsets at(good);
        const std::string text = "clr::triangular<double>(0.001, 0.006, 2000)";
        other_text.replace(at.text, u32_at(good, v3_offsets::text_length), text);
        put_u32(other_text, v3_offsets::text_length, std::uint32_t(text.size()));
        other_text = resealed(other_text);
        const std::string current = clr::detail::schedule_text(opt.schedule());
        CHECK(load_error(opt, other_text) ==
              "clr::optim::sgd::load: the schedule differs: the checkpoint's is " + text +
                  ", this optimizer's is " +
                  (current.empty() ? std::string("one without a text form") : current) + hint);
        std::istringstream in(other_text);
        opt.load(in, clr::optim::resume::new_settings);
        CHECK(opt.steps() == 2);
    }
}

TEST_CASE("load compares the schedule's text form", "[optim][checkpoint][errors]") {
    const std::string hint = "; load with clr::optim::resume::new_settings if the change is intended";
    const auto tri = clr::triangular<double>(0.001, 0.006, 2000).with_momentum(0.85, 0.95);
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), g = Eigen::VectorXd::Constant(3, 0.5);
    clr::optim::sgd opt(tri);
    opt.add(p, g);
    opt.step();
    const std::string good = saved(opt);
    const std::string text = clr::to_string(tri);
    REQUIRE(!text.empty());
    CHECK(u32_at(good, v3_offsets::text_length) == text.size());
    CHECK(good.substr(v3_offsets(good).text, text.size()) == text);

    SECTION("the same schedule loads") {
        clr::optim::sgd same(clr::triangular<double>(0.001, 0.006, 2000).with_momentum(0.85, 0.95));
        same.add(p, g);
        std::istringstream in(good);
        same.load(in);
        CHECK(saved(same) == good);
    }
    SECTION("a changed parameter is refused, showing both") {
        const auto other_tri = clr::triangular<double>(0.001, 0.005, 2000).with_momentum(0.85, 0.95);
        clr::optim::sgd other(other_tri);
        other.add(p, g);
        CHECK(load_error(other, good) == "clr::optim::sgd::load: the schedule differs: the checkpoint's is " +
                                             text + ", this optimizer's is " + clr::to_string(other_tri) +
                                             hint);
        std::istringstream in(good);
        other.load(in, clr::optim::resume::new_settings);
        CHECK(other.steps() == 1);
        CHECK(other.schedule().lr(1) == other_tri.lr(1));  // the new schedule stays
    }
    SECTION("another kind of schedule is refused, one without a text form too") {
        clr::optim::sgd onec(clr::one_cycle<double>(0.1, 1000).with_momentum(0.85, 0.95));
        onec.add(p, g);
        CHECK_THAT(load_error(onec, good),
                   Catch::StartsWith("clr::optim::sgd::load: the schedule differs: the checkpoint's is " +
                                     text + ", this optimizer's is one_cycle("));
        const auto user = clr::make_cyclic(
            0.001, 0.006, 2000, clr::scale_on_cycle([](clr::step_t c) { return 1.0 / double(c); }));
        static_assert(!clr::has_text_form_v<std::decay_t<decltype(user)>>);
        clr::optim::sgd custom(user);
        custom.add(p, g);
        CHECK(load_error(custom, good) ==
              "clr::optim::sgd::load: the schedule differs: the checkpoint's is " + text +
                  ", this optimizer's is one without a text form" + hint);
        // Its own checkpoint holds no text, so any schedule may load it:
        // a schedule without a text form cannot be checked.
        custom.step();
        const std::string untextual = saved(custom);
        CHECK(u32_at(untextual, v3_offsets::text_length) == 0);
        clr::optim::sgd plain(tri);
        plain.add(p, g);
        std::istringstream in(untextual);
        plain.load(in);
        CHECK(plain.steps() == 1);
    }
}

TEST_CASE("last_lr and last_momentum: what the last step applied, kept by checkpoints",
          "[optim][checkpoint]") {
    const wavy<double> sched(0.1, true);
    clr::optim::sgd opt(sched, momentum_options(0.5));
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), g = Eigen::VectorXd::Constant(3, 0.5);
    opt.add(p, g, clr::optim::block_options().with_lr_scale(0.5));
    CHECK_FALSE(opt.last_lr());  // no step yet
    CHECK_FALSE(opt.last_momentum());
    const std::string before_any = saved(opt);
    for (int k = 0; k < 3; ++k) opt.step();
    REQUIRE(opt.last_lr());
    CHECK(*opt.last_lr() == sched.lr(2));  // the schedule's rate, before the block's lr_scale
    CHECK(*opt.last_lr() != sched.lr(3));
    CHECK(*opt.last_momentum() == *sched.momentum(2));  // cycled: the schedule's, not the option's 0.5
    opt.set_steps(10);                                  // moves the schedule, applies nothing
    CHECK(*opt.last_lr() == sched.lr(2));

    clr::optim::sgd other(sched, momentum_options(0.5));
    Eigen::VectorXd q = p;
    other.add(q, g, clr::optim::block_options().with_lr_scale(0.5));
    std::istringstream in(saved(opt));
    other.load(in);
    CHECK(other.last_lr() == opt.last_lr());
    CHECK(other.last_momentum() == opt.last_momentum());
    std::istringstream in0(before_any);
    other.load(in0);
    CHECK_FALSE(other.last_lr());
    CHECK_FALSE(other.last_momentum());

    // Without cycling, the optimizer's own momentum or beta1.
    clr::optim::sgd plain(wavy<double>(0.1));
    plain.step();
    CHECK(plain.last_momentum() == 0.0);
    clr::optim::adam adam(wavy<float>(0.1f));
    adam.step();
    CHECK(adam.last_lr() == wavy<float>(0.1f).lr(0));
    CHECK(adam.last_momentum() == 0.9f);
}

TEST_CASE("a stream with exceptions enabled still gives checkpoint_error", "[optim][checkpoint][errors]") {
    clr::optim::adam opt(wavy<double>(0.1));
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), g = Eigen::VectorXd::Ones(3);
    opt.add(p, g);
    opt.step();
    const std::string good = saved(opt);
    const auto all = std::ios::failbit | std::ios::badbit | std::ios::eofbit;

    std::istringstream whole(good);
    whole.exceptions(all);
    CHECK_NOTHROW(opt.load(whole));  // reading exactly the record hits no end of file
    std::istringstream cut(good.substr(0, 30));
    cut.exceptions(all);
    REQUIRE_THROWS_AS(opt.load(cut), clr::optim::checkpoint_error);
    std::istringstream cut2(good.substr(0, 30));
    cut2.exceptions(all);
    REQUIRE_THROWS_WITH(opt.load(cut2),
                        "clr::optim::adam::load: checkpoint is truncated (reading the record)");
    std::istringstream cut3(good.substr(0, 5));
    cut3.exceptions(all);
    Eigen::VectorXd r(3);
    REQUIRE_THROWS_WITH(clr::optim::load_blocks(cut3, r),
                        "clr::optim::load_blocks: checkpoint is truncated (reading the magic tag)");

    // A stream whose buffer refuses every byte.
    struct full : std::streambuf {
        int_type overflow(int_type) override { return traits_type::eof(); }
    } buffer;
    std::ostream out(&buffer);
    out.exceptions(std::ios::failbit | std::ios::badbit);
    REQUIRE_THROWS_AS(opt.save(out), clr::optim::checkpoint_error);
    std::ostream out2(&buffer);
    out2.exceptions(std::ios::failbit | std::ios::badbit);
    REQUIRE_THROWS_WITH(clr::optim::save_blocks(out2, p),
                        "clr::optim::save_blocks: writing the checkpoint failed");
}

TEST_CASE("save and load agree on the step limit, 2^62", "[optim][checkpoint][errors]") {
    const clr::step_t limit = clr::step_t(1) << 62;
    clr::optim::sgd opt(wavy<double>(0.1), momentum_options());
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), g = Eigen::VectorXd::Ones(3);
    opt.add(p, g);
    opt.set_steps(limit - 1);
    opt.step();
    CHECK(opt.steps() == limit);
    const std::string at_limit = saved(opt);
    clr::optim::sgd other(wavy<double>(0.1), momentum_options());
    Eigen::VectorXd q = p;
    other.add(q, g);
    std::istringstream in(at_limit);
    other.load(in);
    CHECK(other.steps() == limit);
    // One more step would make a counter no checkpoint holds: refused before any change.
    const Eigen::VectorXd p0 = p;
    REQUIRE_THROWS_AS(opt.step(), std::overflow_error);
    REQUIRE_THROWS_WITH(opt.step(),
                        "clr::optim::sgd::step: the step counter is at its limit, 2^62 (set_steps to a "
                        "smaller one)");
    CHECK(opt.steps() == limit);
    CHECK(p == p0);
    CHECK(saved(opt) == at_limit);
}

TEST_CASE("adam: a schedule restarted with the moments kept saves and loads", "[optim][checkpoint]") {
    // set_steps(0) leaves each block's update count above the step counter;
    // load() accepts what save() wrote, so it does not require count <= steps.
    clr::optim::adam opt(wavy<double>(0.01));
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), g = Eigen::VectorXd::Constant(3, 0.5);
    opt.add(p, g);
    for (int k = 0; k < 5; ++k) opt.step();
    opt.set_steps(0);
    const std::string s = saved(opt);
    CHECK(u64_at(s, v3_offsets(s).states(1)) == 5);
    clr::optim::adam other(wavy<double>(0.01));
    Eigen::VectorXd q = p;
    other.add(q, g);
    std::istringstream in(s);
    other.load(in);
    CHECK(other.steps() == 0);
    CHECK(saved(other) == s);
}

TEST_CASE("save refuses a diverged state, which load would refuse", "[optim][checkpoint][errors]") {
    Eigen::VectorXd p = Eigen::VectorXd::Ones(3), g(3);
    g << 1, std::nan(""), 1;
    std::ostringstream out;
    clr::optim::sgd opt(wavy<double>(0.1), momentum_options());
    opt.add(p, g);
    opt.step();
    REQUIRE_THROWS_WITH(opt.save(out),
                        "clr::optim::sgd::save: the momentum buffer of block 0 holds nan at index 1; "
                        "a diverged state is not saved, load() would refuse it");
    clr::optim::adamw adamw(wavy<double>(0.1));
    Eigen::VectorXd q = Eigen::VectorXd::Ones(3);
    adamw.add(q, g);
    adamw.step();
    REQUIRE_THROWS_AS(adamw.save(out), clr::optim::checkpoint_error);
    REQUIRE_THROWS_WITH(adamw.save(out),
                        "clr::optim::adamw::save: exp_avg of block 0 holds nan at index 1; "
                        "a diverged state is not saved, load() would refuse it");
    CHECK(out.str().empty());  // nothing written
}
