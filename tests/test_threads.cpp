// The optimizers' update on several threads (set_threads, OpenMP): the same
// bits as on one thread, and the thread count's bad values. Built with
// OpenMP where CMake finds it, so that the threads are real; without it
// the same checks hold trivially and the set_threads errors still apply.
#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

namespace {

// The MNIST model's blocks (784x784, 784, 784x10, 10: 623,290 parameters,
// above the parallel threshold) and two awkward ones: a Map starting one
// float past an aligned address, whose length is no multiple of anything,
// and a block just past one task.
template <class T>
struct model {
    using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    matrix w1 = fill<matrix>(784, 784, 1), dw1{784, 784};
    vector b1 = fill<vector>(784, 1, 2), db1{784};
    matrix w2 = fill<matrix>(10, 784, 3), dw2{10, 784};
    vector b2 = fill<vector>(10, 1, 4), db2{10};
    std::vector<T> raw = std::vector<T>(100'004), draw = std::vector<T>(100'004);
    vector tail = fill<vector>(16'385, 1, 5), dtail{16'385};

    // Irregular values in [-1, 1], the same on every call (Random() is not).
    template <class M>
    static M fill(Eigen::Index rows, Eigen::Index cols, int seed) {
        M m(rows, cols);
        for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = T(std::sin(double(i) * 0.7 + seed));
        return m;
    }

    model() {
        for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = T(std::cos(double(i) * 1.3));
    }

    template <class Opt>
    void add_to(Opt& opt) {
        opt.add(w1, dw1);
        opt.add(b1, db1, clr::optim::block_options().with_weight_decay(0.0));
        opt.add(w2, dw2, clr::optim::block_options().with_lr_scale(2.0));
        opt.add(b2, db2);
        opt.add(Eigen::Map<vector>(raw.data() + 1, 100'003), Eigen::Map<vector>(draw.data() + 1, 100'003));
        opt.add(tail, dtail);
    }

    // Gradients that change from step to step and depend on the parameters.
    // std::sin and std::cos element by element: Eigen's vectorised sin and
    // cos trip GCC 12's false -Wuninitialized inside avx512fintrin.h under
    // -march=x86-64-v4 (GCC bug 105593).
    void gradients(int k) {
        const T s = T(0.1) * T(k + 1);
        dw1.array() = w1.array() * s - T(0.05);
        db1.array() = b1.array().unaryExpr([](T v) { return T(std::sin(v)); }) * s;
        dw2.array() = w2.array().square() - s;
        db2.array() = b2.array() * T(-0.5);
        for (std::size_t i = 0; i < raw.size(); ++i) draw[i] = raw[i] * s + T(0.01);
        dtail.array() = tail.array().unaryExpr([](T v) { return T(std::cos(v)); }) * s;
    }

    template <class M>
    static std::string bits_of(const M& m) {
        return std::string(reinterpret_cast<const char*>(m.data()), std::size_t(m.size()) * sizeof(T));
    }

    std::string bits() const {
        return bits_of(w1) + bits_of(b1) + bits_of(w2) + bits_of(b2) +
               std::string(reinterpret_cast<const char*>(raw.data()), raw.size() * sizeof(T)) + bits_of(tail);
    }
};

// Parameters and optimizer state after 5 steps on `threads` threads.
template <class T, class Make>
std::string run(Make make, int threads) {
    model<T> m;
    auto opt = make();
    opt.set_threads(threads);
    m.add_to(opt);
    for (int k = 0; k < 5; ++k) {
        m.gradients(k);
        if (k % 2)
            opt.step();
        else
            opt.step([](auto g) { g.array() *= T(0.5); });
    }
    std::ostringstream state;
    opt.save(state);
    return m.bits() + state.str();
}

template <class T, class Make>
void check_thread_counts(Make make) {
    const std::string one = run<T>(make, 1);
    for (int threads : {2, 3, 4}) {
        INFO(threads << " threads");
        CHECK(run<T>(make, threads) == one);
    }
}

}  // namespace

TEMPLATE_TEST_CASE("step() gives the same bits on 1, 2, 3 and 4 threads", "[optim][threads]", float, double) {
    using T = TestType;
    const auto sched = clr::triangular<T>(T(0.001), T(0.01), 3);
    const auto cycled = clr::one_cycle<T>(T(0.01), 50).with_momentum(T(0.85), T(0.95));
    SECTION("sgd") {
        check_thread_counts<T>([&] { return clr::optim::sgd(sched); });
    }
    SECTION("sgd, momentum, dampening, weight decay") {
        clr::optim::sgd_options o;
        o.momentum = 0.9;
        o.dampening = 0.1;
        o.weight_decay = 1e-3;
        check_thread_counts<T>([&] { return clr::optim::sgd(sched, o); });
    }
    SECTION("sgd nesterov, cycled momentum") {
        clr::optim::sgd_options o;
        o.nesterov = true;
        check_thread_counts<T>([&] { return clr::optim::sgd(cycled, o); });
    }
    SECTION("adam, L2 weight decay") {
        clr::optim::adam_options o;
        o.weight_decay = 0.01;
        check_thread_counts<T>([&] { return clr::optim::adam(sched, o); });
    }
    SECTION("adamw, cycled beta1") {
        check_thread_counts<T>([&] { return clr::optim::adamw(cycled); });
    }
}

TEST_CASE("set_threads: a count below 1 is refused naming it", "[optim][threads][errors]") {
    clr::optim::sgd sgd(clr::constant<float>(0.1f));
    clr::optim::adamw adamw(clr::constant<double>(0.1));
    for (int bad : {0, -1, -2147483647 - 1}) {
        INFO(bad);
        const std::string value = std::to_string(bad);
        CHECK_THROWS_AS(sgd.set_threads(bad), clr::invalid_parameter);
        CHECK_THROWS_WITH(sgd.set_threads(bad),
                          "clr::optim::sgd::set_threads: threads = " + value + " must be at least 1");
        CHECK_THROWS_WITH(adamw.set_threads(bad),
                          "clr::optim::adamw::set_threads: threads = " + value + " must be at least 1");
    }
}

TEST_CASE("threads(): the count set, else 1, and 1 without OpenMP", "[optim][threads]") {
    clr::optim::adam opt(clr::constant<float>(0.1f));
#if defined(_OPENMP)
    // One thread by default, whatever Eigen's products use: an OpenMP team
    // beside another pool spins on its cores (docs/THREADS.md).
    const int eigen_threads = Eigen::nbThreads();
    Eigen::setNbThreads(4);
    CHECK(opt.threads() == 1);
    Eigen::setNbThreads(eigen_threads);
    opt.set_threads(3);
    CHECK(opt.threads() == 3);
    opt.set_threads(1);
    CHECK(opt.threads() == 1);
#else
    CHECK(opt.threads() == 1);
    opt.set_threads(3);
    CHECK(opt.threads() == 1);
#endif
}
