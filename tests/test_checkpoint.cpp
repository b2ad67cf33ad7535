// Optimizer checkpoints and the parameter block files: resuming is exact, the
// format is the documented one, and every damaged or mismatched file is
// refused with a message saying what differs, leaving everything unchanged.
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace {

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
        for (Eigen::Index i = 0; i < b.size(); ++i) db(i) = T(0.5) * b(i) + T(0.2 * std::cos(0.01 * double(i * t)));
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

template <class Opt>
std::string saved(const Opt& opt) {
    std::ostringstream out;
    opt.save(out);
    return out.str();
}

// The message of the checkpoint_error load() throws, having checked that the
// optimizer is exactly as before.
template <class Opt>
std::string load_error(Opt& opt, const std::string& bytes) {
    const std::string before = saved(opt);
    const clr::step_t steps = opt.steps();
    std::string what = "(no error)";
    std::istringstream in(bytes);
    try {
        opt.load(in);
    } catch (const clr::optim::checkpoint_error& e) {
        what = e.what();
    }
    CHECK(saved(opt) == before);
    CHECK(opt.steps() == steps);
    return what;
}

std::uint64_t u64_at(const std::string& s, std::size_t offset) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t(static_cast<unsigned char>(s[offset + i])) << (8 * i);
    return v;
}

std::uint64_t bits_of(double d) {
    std::uint64_t v;
    std::memcpy(&v, &d, 8);
    return v;
}

void put_u64(std::string& s, std::size_t offset, std::uint64_t v) {
    for (std::size_t i = 0; i < 8; ++i) s[offset + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

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
    // without momentum too (the buffers are state, the option is not).
    clr::optim::sgd with(wavy<double>(0.01), momentum_options());
    a.attach(with);
    a.train(with, 2);
    clr::optim::sgd without(wavy<double>(0.01));
    b.attach(without);
    std::istringstream in2(saved(with));
    without.load(in2);
    CHECK(saved(without) == saved(with));
}

TEST_CASE("the checkpoint layout is the documented one", "[optim][checkpoint]") {
    clr::optim::sgd opt(wavy<double>(0.1), momentum_options(0.5));
    Eigen::Vector3d p(1, 2, 3), g(0.25, -0.5, 1.0 / 3.0);
    Eigen::Vector2d q(4, 5), h(-2, 8);
    opt.add(p, g);
    opt.add(q, h);
    opt.step();  // the momentum buffers are now the first gradients
    const std::string s = saved(opt);
    REQUIRE(s.size() == 30 + 16 + (1 + 24) + (1 + 16));
    CHECK(s.substr(0, 8) == "CLROPTIM");
    CHECK(s.substr(8, 4) == std::string("\x01\x00\x00\x00", 4));  // version 1
    CHECK(s[12] == 8);                                              // double
    CHECK(s[13] == 1);                                              // sgd
    CHECK(u64_at(s, 14) == 1);                                      // steps
    CHECK(u64_at(s, 22) == 2);                                      // blocks
    CHECK(u64_at(s, 30) == 3);
    CHECK(u64_at(s, 38) == 2);
    CHECK(s[46] == 1);  // block 0 has a buffer
    for (std::size_t i = 0; i < 3; ++i) CHECK(u64_at(s, 47 + 8 * i) == bits_of(g(Eigen::Index(i))));
    CHECK(s[71] == 1);
    for (std::size_t i = 0; i < 2; ++i) CHECK(u64_at(s, 72 + 8 * i) == bits_of(h(Eigen::Index(i))));

    clr::optim::adam adam(wavy<float>(0.1f));
    Eigen::VectorXf x = Eigen::VectorXf::Ones(4), dx = Eigen::VectorXf::Ones(4);
    adam.add(x, dx);
    adam.step();
    adam.step();
    const std::string a = saved(adam);
    REQUIRE(a.size() == 30 + 8 + 8 + 2 * 4 * 4);
    CHECK(a[12] == 4);           // float
    CHECK(a[13] == 2);           // adam
    CHECK(u64_at(a, 38) == 2);   // block 0 has had 2 updates
    float m0;
    std::memcpy(&m0, a.data() + 46, 4);
    CHECK(m0 == Approx(1 - 0.81).epsilon(1e-6));  // exp_avg after two unit gradients
}

TEST_CASE("load refuses a checkpoint that does not match, naming what differs", "[optim][checkpoint][errors]") {
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
        CHECK(load_error(opt, saved(other)) == "clr::optim::sgd::load: block 1 has 7840 values, checkpoint has 784");
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
        bad[13] = 9;
        CHECK(load_error(opt, bad) == "clr::optim::sgd::load: unknown optimizer kind 9 in the checkpoint");
    }
    SECTION("scalar type") {
        clr::optim::sgd single(wavy<float>(0.1f), momentum_options());
        Eigen::VectorXf q1(10), h1(10), q2(7840), h2(7840);
        single.add(q1, h1);
        single.add(q2, h2);
        CHECK(load_error(opt, saved(single)) ==
              "clr::optim::sgd::load: checkpoint holds 4-byte values (float), this side uses 8-byte values (double)");
        CHECK(load_error(single, good) ==
              "clr::optim::sgd::load: checkpoint holds 8-byte values (double), this side uses 4-byte values (float)");
    }
    SECTION("magic tag and version") {
        CHECK(load_error(opt, "not a checkpoint at all, but long enough") ==
              "clr::optim::sgd::load: not a clr optimizer checkpoint (wrong magic tag, expected \"CLROPTIM\")");
        std::ostringstream blocks;
        clr::optim::save_blocks(blocks, p1, p2);
        CHECK(load_error(opt, blocks.str()) ==
              "clr::optim::sgd::load: not a clr optimizer checkpoint (wrong magic tag, expected \"CLROPTIM\")");
        std::string bad = good;
        bad[8] = 2;
        CHECK(load_error(opt, bad) ==
              "clr::optim::sgd::load: checkpoint format version 2 is not supported (this build reads version 1)");
    }
    SECTION("damaged fields") {
        std::string bad = good;
        bad[46] = 7;
        CHECK(load_error(opt, bad) ==
              "clr::optim::sgd::load: momentum flag of block 0 is 7, not 0 or 1 (damaged file?)");
        bad = good;
        put_u64(bad, 14, ~std::uint64_t(0));
        CHECK(load_error(opt, bad) == "clr::optim::sgd::load: step counter 18446744073709551615 is larger than 2^62 "
                                      "(damaged file?)");

        clr::optim::adam adam(wavy<double>(0.1));
        Eigen::VectorXd q(4), h(4);
        adam.add(q, h);
        std::string a = saved(adam);
        put_u64(a, 38, std::uint64_t(1) << 63);
        CHECK(load_error(adam, a) == "clr::optim::adam::load: update count 9223372036854775808 of block 0 is larger "
                                     "than 2^62 (damaged file?)");
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
        bad[46] = 7;
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
    CHECK(load_error(opt, good.substr(0, 20)) ==
          "clr::optim::sgd::load: checkpoint is truncated (reading the step counter)");
    CHECK(load_error(opt, good.substr(0, 40)) ==
          "clr::optim::sgd::load: checkpoint is truncated (reading the size of block 1)");
    CHECK(load_error(opt, good.substr(0, good.size() - 1)) ==
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
    CHECK(load_error(adam, a.substr(0, a.size() - 1)) ==
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
    REQUIRE_THROWS_WITH(clr::optim::save_blocks(broken, p), "clr::optim::save_blocks: writing the checkpoint failed");
}

TEST_CASE("save_blocks and load_blocks", "[optim][checkpoint]") {
    Eigen::MatrixXd w(2, 3);
    w << 1, 2, 3, 4, 5, 6;
    Eigen::VectorXd b(5);
    b << -1, -2, -3, -4, -5;
    std::ostringstream out;
    clr::optim::save_blocks(out, w, b);
    const std::string s = out.str();
    REQUIRE(s.size() == 8 + 4 + 1 + 8 + 16 + 11 * 8);
    CHECK(s.substr(0, 8) == "CLRBLOCK");

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
        CHECK(error(s, w2, b6) == "clr::optim::load_blocks: block 1 has 6 values, checkpoint has 5");
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
              "clr::optim::load_blocks: checkpoint is truncated (reading the values of block 1)");
    }
    SECTION("scalar type and magic") {
        Eigen::MatrixXf wf(2, 3);
        Eigen::VectorXf bf(5);
        std::istringstream in(s);
        REQUIRE_THROWS_WITH(clr::optim::load_blocks(in, wf, bf),
                            "clr::optim::load_blocks: checkpoint holds 8-byte values (double), this side uses 4-byte "
                            "values (float)");
        clr::optim::sgd opt(wavy<double>(0.1));
        opt.add(w, w2);
        CHECK(error(saved(opt), w2, b2) ==
              "clr::optim::load_blocks: not a clr parameter file (wrong magic tag, expected \"CLRBLOCK\")");
        std::string bad = s;
        bad[8] = 3;
        CHECK(error(bad, w2, b2) ==
              "clr::optim::load_blocks: checkpoint format version 3 is not supported (this build reads version 1)");
    }
    SECTION("blocks must be contiguous") {
        Eigen::MatrixXd big(4, 4);
        std::ostringstream o2;
        REQUIRE_THROWS_WITH(clr::optim::save_blocks(o2, w, big.block(0, 0, 2, 2)),
                            "clr::optim::save_blocks: block 1 is not contiguous in memory (inner stride 1, outer "
                            "stride 4 for 2x2); register the whole matrix or a contiguous Map");
    }
}
