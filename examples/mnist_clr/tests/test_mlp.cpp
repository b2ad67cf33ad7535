#include "mlp.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using md = mnist::mlp<double>;
using mf = mnist::mlp<float>;

// Uniform [0, 1) from the top bits of mt19937_64, so the test data is the same everywhere.
template <class M>
M uniform_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed, double lo = 0.0, double hi = 1.0) {
    std::mt19937_64 gen(seed);
    M m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i)
        m.data()[i] =
            static_cast<typename M::Scalar>(lo + (hi - lo) * static_cast<double>(gen() >> 11) * 0x1p-53);
    return m;
}

std::vector<std::uint8_t> labels(std::size_t n, unsigned classes, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::vector<std::uint8_t> y(n);
    for (auto& v : y) v = static_cast<std::uint8_t>(gen() % classes);
    return y;
}

// The 4-3-3 network of the PyTorch reference below: hidden unit 1 is active for one example
// of three, so the ReLU mask matters; labels {2, 0, 1}, argmax {0, 0, 0}.
template <class T>
mnist::mlp<T> reference_net() {
    mnist::mlp<T> m(4, 3, 3);
    m.W1 << 0.5, -0.25, 0.75, 0.125, -0.5, 0.375, 0.25, -1.0, 0.25, 0.5, -0.625, 0.875;
    m.b1 << 0.125, 0.5, 0.0625;
    m.W2 << 1.0, -0.5, 0.25, -0.75, 0.5, 1.25, 0.5, 0.25, -1.0;
    m.b2 << 0.1, -0.2, 0.3;
    return m;
}

template <class T>
typename mnist::mlp<T>::matrix reference_inputs() {
    typename mnist::mlp<T>::matrix x(4, 3);  // one example per column
    x << 0.0, 0.5, 1.0, 0.2, 0.5, 0.8, 0.9, 0.1, 0.3, 1.0, 0.0, 0.6;
    return x;
}

const std::uint8_t reference_labels[3] = {2, 0, 1};

// torch.nn.functional.cross_entropy on the same network in float64 (rows of each
// matrix in order):
//   z1 = X @ W1.T + b1; z2 = relu(z1) @ W2.T + b2; cross_entropy(z2, y).backward()
const double ref_loss = 1.1794363368551626;
const double ref_dW1[12] = {
    0.24767051940349738,  0.18026552004858001,  0.11827402182930299,  0.25827486729858384,
    0.09570432338554416,  0.09570432338554416,  0.019140864677108835, 0,
    -0.28717724803693823, -0.15977241946995774, 0.23907404975530927,  0.19412457613295797};
const double ref_db1[3] = {0.15831604203240784, 0.19140864677108832, 0.062669646761025932};
const double ref_dW2[9] = {0.23392844815700886,   -0.10079076682740767, 0.20367439634365864,
                           -0.082067228519560359, 0.05173369604429038,  -0.16974175165864561,
                           -0.15186121963744847,  0.049057070783117308, -0.033932644685012961};
const double ref_db2[3] = {0.16169233600900465, -0.061975899222324382, -0.099716436786680199};

template <class M>
void require_matrix_near(const M& m, const double* row_major, double tol) {
    for (Eigen::Index r = 0; r < m.rows(); ++r)
        for (Eigen::Index c = 0; c < m.cols(); ++c) {
            INFO("entry (" << r << ", " << c << ")");
            REQUIRE(static_cast<double>(m(r, c)) ==
                    Approx(row_major[r * m.cols() + c]).margin(tol).epsilon(0));
        }
}

template <class T>
void check_against_reference(double tol) {
    const auto m = reference_net<T>();
    const auto x = reference_inputs<T>();
    mnist::workspace<T> ws(m, 3);
    mnist::gradients<T> g(m);
    std::size_t correct = 99;
    const T loss = mnist::forward_backward(m, x, reference_labels, ws, g, &correct);
    CHECK(static_cast<double>(loss) == Approx(ref_loss).margin(tol).epsilon(0));
    CHECK(correct == 1);
    require_matrix_near(g.dW1, ref_dW1, tol);
    require_matrix_near(g.db1, ref_db1, tol);
    require_matrix_near(g.dW2, ref_dW2, tol);
    require_matrix_near(g.db2, ref_db2, tol);
}

}  // namespace

TEST_CASE("loss and gradients match PyTorch's cross_entropy on a hand-set network", "[mlp]") {
    SECTION("double") { check_against_reference<double>(1e-14); }
    // float keeps about 7 digits of values of order 1
    SECTION("float") { check_against_reference<float>(2e-6); }
}

TEST_CASE("evaluate gives the loss and count of forward_backward", "[mlp]") {
    const auto m = reference_net<double>();
    const auto x = reference_inputs<double>();
    mnist::workspace<double> ws(m, 3);
    std::size_t correct = 99;
    CHECK(mnist::evaluate(m, x, reference_labels, ws, &correct) == Approx(ref_loss).margin(1e-14).epsilon(0));
    CHECK(correct == 1);
}

TEST_CASE("analytic gradients agree with central differences", "[mlp]") {
    md m(7, 5, 3);
    // Large weights keep gradients well above rounding; this seed leaves no hidden unit dead
    // on all four examples, so every parameter has a gradient to check (required below).
    m.init(2, 0.5);
    m.b1 = uniform_matrix<md::matrix>(5, 1, 12, -0.5, 0.5);
    m.b2 = uniform_matrix<md::matrix>(3, 1, 13, -0.5, 0.5);
    const md::matrix x = uniform_matrix<md::matrix>(7, 4, 14);
    const std::uint8_t y[4] = {0, 2, 1, 2};

    // A difference step that crosses a ReLU kink measures a different function, so require
    // every pre-activation to be further from 0 than any step can move it.
    const md::matrix z1 = (m.W1 * x).colwise() + m.b1;
    REQUIRE(z1.cwiseAbs().minCoeff() > 1e-3);

    mnist::workspace<double> ws(m, 4);
    mnist::gradients<double> g(m);
    mnist::forward_backward(m, x, y, ws, g);

    // Truncation error h^2 |f'''| / 6 and rounding eps |f| / h both sit near 1e-11 at h = 1e-5,
    // far below the 1e-6 relative bound for gradients of order 1e-3 and above.
    const double h = 1e-5;
    int checked = 0;
    auto check = [&](auto& param, const auto& grad, const char* name) {
        for (Eigen::Index i = 0; i < param.size(); ++i) {
            const double saved = param.data()[i];
            param.data()[i] = saved + h;
            const double up = mnist::evaluate(m, x, y, ws);
            param.data()[i] = saved - h;
            const double down = mnist::evaluate(m, x, y, ws);
            param.data()[i] = saved;
            const double numeric = (up - down) / (2 * h);
            const double analytic = grad.data()[i];
            INFO(name << "[" << i << "] analytic " << analytic << " numeric " << numeric);
            REQUIRE(std::abs(analytic) > 1e-4);
            CHECK(std::abs(analytic - numeric) / std::abs(analytic) < 1e-6);
            ++checked;
        }
    };
    check(m.W1, g.dW1, "W1");
    check(m.b1, g.db1, "b1");
    check(m.W2, g.dW2, "W2");
    check(m.b2, g.db2, "b2");
    CHECK(checked == 7 * 5 + 5 + 5 * 3 + 3);
}

TEST_CASE("zero output weights give loss log(10) and bias gradient 1/10 - class frequency", "[mlp]") {
    mf m(784, 784, 10);
    m.init(5);
    m.W2.setZero();  // every logit 0, softmax uniform
    const Eigen::Index n = 50;
    const mf::matrix x = uniform_matrix<mf::matrix>(784, n, 6);
    const auto y = labels(n, 10, 7);
    mnist::workspace<float> ws(m, n);
    mnist::gradients<float> g(m);
    const float loss = mnist::forward_backward(m, x, y.data(), ws, g);
    CHECK(loss == Approx(std::log(10.0)).epsilon(1e-6));
    for (int k = 0; k < 10; ++k) {
        const double freq = static_cast<double>(std::count(y.begin(), y.end(), k)) / n;
        CHECK(g.db2(k) == Approx(0.1 - freq).margin(1e-6));
    }
    // W2 = 0 cuts the path back to the first layer
    CHECK(g.dW1.cwiseAbs().maxCoeff() == 0.0f);
    CHECK(g.db1.cwiseAbs().maxCoeff() == 0.0f);
}

TEST_CASE("fresh 784-784-10 network has the loss its initialisation predicts", "[mlp][slow]") {
    // Inputs iid U[0,1]: each hidden pre-activation is N(0, s^2 |x|^2) with |x|^2 ~ 784/3, so
    // E[relu^2] = 0.05^2 * 784/6, and each logit has variance
    // 0.05^2 * 784 * E[relu^2] = 0.05^4 * 784^2 / 6 = 0.640. For 10 iid N(0, 0.64) logits and
    // a label independent of them, E[lse(z) - z_y] = 2.580 (Monte Carlo, 2e6 draws), above
    // log(10) = 2.303 by about half the variance: at this input scale the loss is NOT within a
    // few hundredths of log(10). Logits of one network share per-class offsets (the hidden
    // units have a nonzero mean), so the loss varies from network to network: over 200
    // networks of 500 examples each (same recipe, numpy) the mean was 2.578 with sd 0.107.
    // The mean of 16 networks then has sd 0.027, so +-0.11 is 4 sd, and still rejects a wrong
    // initial scale (stddev 0.04 gives 2.41, 0.06 gives 2.83) or a summed instead of mean loss.
    const Eigen::Index n = 500;
    const mf::matrix x = uniform_matrix<mf::matrix>(784, n, 21);
    const auto y = labels(n, 10, 22);
    double sum = 0.0;
    const int nets = 16;
    for (int s = 0; s < nets; ++s) {
        mf m(784, 784, 10);
        m.init(1000 + s);
        mnist::workspace<float> ws(m, n);
        const double loss = mnist::evaluate(m, x, y.data(), ws);
        INFO("network " << s << " loss " << loss);
        CHECK(std::abs(loss - 2.58) < 0.45);  // over 4 network sd
        sum += loss;
    }
    CHECK(sum / nets == Approx(2.58).margin(0.11));
}

TEST_CASE("softmax cross-entropy stays finite and exact for huge logits", "[mlp]") {
    SECTION("1-1-2 network with logits +-1e4, derived by hand") {
        // x = 1e4, W1 = 1, W2 = (1, -1): logits (1e4, -1e4). Label 0 costs log1p(e^-2e4) = 0,
        // label 1 costs 2e4; softmax is exactly (1, 0) in float, so d loss / d logits is
        // (0, 0) and (1, -1) / 2 for the two examples.
        mf m(1, 1, 2);
        m.W1 << 1.0f;
        m.W2 << 1.0f, -1.0f;
        mf::matrix x(1, 2);
        x << 1e4f, 1e4f;
        const std::uint8_t y[2] = {0, 1};
        mnist::workspace<float> ws(m, 2);
        mnist::gradients<float> g(m);
        std::size_t correct = 0;
        CHECK(mnist::forward_backward(m, x, y, ws, g, &correct) == 1e4f);
        CHECK(correct == 1);
        CHECK(g.db2(0) == 0.5f);
        CHECK(g.db2(1) == -0.5f);
        CHECK(g.dW2(0, 0) == 5000.0f);
        CHECK(g.dW2(1, 0) == -5000.0f);
        CHECK(g.db1(0) == 1.0f);
        CHECK(g.dW1(0, 0) == 1e4f);
    }
    SECTION("784-784-10 network on inputs scaled by 1e4") {
        mf m(784, 784, 10);
        m.init(3);
        const Eigen::Index n = 64;
        const mf::matrix x = 1e4f * uniform_matrix<mf::matrix>(784, n, 4);
        const auto y = labels(n, 10, 5);
        mnist::workspace<float> ws(m, n);
        mnist::gradients<float> g(m);
        const float loss = mnist::forward_backward(m, x, y.data(), ws, g);
        // logits are ~1e4 times those of a fresh network (sd ~8000), so a wrong label costs
        // thousands: finite and large, never inf or NaN
        CHECK(std::isfinite(loss));
        CHECK(loss > 100.0f);
        CHECK(g.dW1.allFinite());
        CHECK(g.db1.allFinite());
        CHECK(g.dW2.allFinite());
        CHECK(g.db2.allFinite());
        // each column of d loss / d logits sums to 0 (softmax sums to 1), so db2 sums to 0
        CHECK(std::abs(g.db2.sum()) < 1e-5f);
    }
}

TEST_CASE("init draws N(0, 0.05^2) weights and zero biases, reproducibly", "[mlp]") {
    mf m(784, 784, 10);
    m.b1.setConstant(1.0f);
    m.b2.setConstant(1.0f);
    m.init(42);
    CHECK(m.b1.cwiseAbs().maxCoeff() == 0.0f);
    CHECK(m.b2.cwiseAbs().maxCoeff() == 0.0f);

    // Bounds at 5 standard errors: sd(mean) = sigma / sqrt(N), sd(sample sd) ~ sigma /
    // sqrt(2N), sd(fraction within one sigma) = sqrt(p (1 - p) / N) with p = 0.6827.
    auto check_stats = [](const mf::matrix& w) {
        const double count = static_cast<double>(w.size());
        const Eigen::ArrayXd v = w.cast<double>().reshaped().array();
        const double mean = v.mean();
        const double sd = std::sqrt((v - mean).square().sum() / (count - 1));
        const double within = static_cast<double>((v.abs() < 0.05).count()) / count;
        INFO("N " << count << " mean " << mean << " sd " << sd << " within 1 sd " << within);
        CHECK(std::abs(mean) < 5 * 0.05 / std::sqrt(count));
        CHECK(std::abs(sd - 0.05) < 5 * 0.05 / std::sqrt(2 * count));
        // a uniform law of the same sd would put 57.7% within one sd: normality, not just scale
        CHECK(std::abs(within - 0.682689) < 5 * std::sqrt(0.682689 * 0.317311 / count));
    };
    check_stats(m.W1);
    check_stats(m.W2);

    mf same(784, 784, 10);
    same.init(42);
    CHECK((same.W1.array() != m.W1.array()).count() == 0);
    CHECK((same.W2.array() != m.W2.array()).count() == 0);

    mf other(784, 784, 10);
    other.init(43);
    // two independent draws agree only by chance
    CHECK((other.W1.array() == m.W1.array()).count() < 100);
    CHECK((other.W2.array() == m.W2.array()).count() < 10);

    // draws are made in double: a double network from the same seed and scale rounds to the
    // float one
    md wide(784, 784, 10);
    wide.init(42, static_cast<double>(0.05f));
    CHECK((wide.W1.cast<float>().array() != m.W1.array()).count() == 0);
    CHECK((wide.W2.cast<float>().array() != m.W2.array()).count() == 0);
}

TEST_CASE("init draws match the Box-Muller formula on mt19937_64", "[mlp]") {
    // Recompute the first four draws of seed 7 from the definition: u1 = (top53(a) + 1) / 2^53,
    // u2 = top53(b) / 2^53, r = sqrt(-2 ln u1), draws r cos(2 pi u2) then r sin(2 pi u2).
    const double two_pi = 6.283185307179586476925286766559;
    std::mt19937_64 gen(7);
    std::vector<double> expect;
    for (int pair = 0; pair < 2; ++pair) {
        const double u1 = static_cast<double>((gen() >> 11) + 1) * 0x1p-53;
        const double u2 = static_cast<double>(gen() >> 11) * 0x1p-53;
        const double r = std::sqrt(-2.0 * std::log(u1));
        expect.push_back(r * std::cos(two_pi * u2));
        expect.push_back(r * std::sin(two_pi * u2));
    }
    md m(3, 1, 1);  // W1 takes three draws, W2 the fourth
    m.init(7, 1.0);
    CHECK(m.W1(0, 0) == Approx(expect[0]).epsilon(1e-15));
    CHECK(m.W1(0, 1) == Approx(expect[1]).epsilon(1e-15));
    CHECK(m.W1(0, 2) == Approx(expect[2]).epsilon(1e-15));
    CHECK(m.W2(0, 0) == Approx(expect[3]).epsilon(1e-15));
}

TEST_CASE("a step is deterministic and independent of earlier use of the workspace", "[mlp]") {
    mf m(784, 784, 10);
    m.init(9);
    const mf::matrix x = uniform_matrix<mf::matrix>(784, 300, 10);
    const auto y = labels(300, 10, 11);

    mnist::workspace<float> fresh(m, 100);
    mnist::gradients<float> g1(m);
    const float loss1 = mnist::forward_backward(m, x.leftCols(100), y.data(), fresh, g1);

    // the same batch after a bigger one in a bigger workspace
    mnist::workspace<float> used(m, 300);
    mnist::gradients<float> g2(m);
    mnist::forward_backward(m, x, y.data(), used, g2);
    const float loss2 = mnist::forward_backward(m, x.leftCols(100), y.data(), used, g2);

    CHECK(loss1 == loss2);
    CHECK((g1.dW1.array() != g2.dW1.array()).count() == 0);
    CHECK((g1.db1.array() != g2.db1.array()).count() == 0);
    CHECK((g1.dW2.array() != g2.dW2.array()).count() == 0);
    CHECK((g1.db2.array() != g2.db2.array()).count() == 0);
}

TEST_CASE("evaluate over more examples than the workspace holds is the mean over all", "[mlp]") {
    md m(20, 16, 10);
    m.init(30, 0.3);
    const md::matrix x = uniform_matrix<md::matrix>(20, 103, 31);
    const auto y = labels(103, 10, 32);
    mnist::workspace<double> whole(m, 103);
    mnist::workspace<double> pieces(m, 10);  // 10 chunks of 10 and one of 3
    std::size_t c1 = 0;
    std::size_t c2 = 0;
    const double l1 = mnist::evaluate(m, x, y.data(), whole, &c1);
    const double l2 = mnist::evaluate(m, x, y.data(), pieces, &c2);
    CHECK(l2 == Approx(l1).epsilon(1e-13));
    CHECK(c1 == c2);
    // the count is the number of columns whose largest logit is the label's
    const md::matrix z = (m.W2 * ((m.W1 * x).colwise() + m.b1).cwiseMax(0.0)).colwise() + m.b2;
    std::size_t expect = 0;
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
        Eigen::Index top = 0;
        z.col(j).maxCoeff(&top);
        expect += (top == y[static_cast<std::size_t>(j)]);
    }
    CHECK(c1 == expect);
}

TEST_CASE("gradient descent fits a small separable problem", "[mlp]") {
    // Three classes around the corners of a triangle in [0,1]^2, 0.3 apart at the closest:
    // separable, so the loss can approach 0 and every point can be classified right.
    const Eigen::Index per_class = 20;
    const Eigen::Index n = 3 * per_class;
    mf::matrix x(2, n);
    std::vector<std::uint8_t> y(static_cast<std::size_t>(n));
    const double cx[3] = {0.2, 0.8, 0.5};
    const double cy[3] = {0.2, 0.2, 0.8};
    const mf::matrix jitter = uniform_matrix<mf::matrix>(2, n, 50, -0.12, 0.12);
    for (Eigen::Index j = 0; j < n; ++j) {
        const int k = static_cast<int>(j % 3);
        x(0, j) = static_cast<float>(cx[k]) + jitter(0, j);
        x(1, j) = static_cast<float>(cy[k]) + jitter(1, j);
        y[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>(k);
    }

    mf m(2, 16, 3);
    m.init(51, 0.5f);
    mnist::workspace<float> ws(m, n);
    mnist::gradients<float> g(m);
    const float first = mnist::evaluate(m, x, y.data(), ws);
    const float lr = 0.5f;
    float loss = first;
    for (int step = 0; step < 400; ++step) {
        loss = mnist::forward_backward(m, x, y.data(), ws, g);
        m.W1 -= lr * g.dW1;
        m.b1 -= lr * g.db1;
        m.W2 -= lr * g.dW2;
        m.b2 -= lr * g.db2;
    }
    std::size_t correct = 0;
    const float last = mnist::evaluate(m, x, y.data(), ws, &correct);
    INFO("loss " << first << " -> " << last);
    CHECK(first > 1.0f);
    CHECK(last < 0.1f * first);
    CHECK(last <= loss);
    CHECK(correct == static_cast<std::size_t>(n));
}

TEST_CASE("bad shapes, sizes and labels are rejected with the culprit named", "[mlp]") {
    using Catch::Matchers::Contains;
    REQUIRE_THROWS_WITH(mf(0, 5, 3), Contains("in must be positive"));
    REQUIRE_THROWS_WITH(mf(4, -1, 3), Contains("hidden must be positive"));
    REQUIRE_THROWS_WITH(mf(4, 5, 0), Contains("out must be positive"));

    mf m(4, 5, 3);
    REQUIRE_THROWS_WITH(m.init(1, 0.0f), Contains("stddev must be positive"));
    REQUIRE_THROWS_WITH(m.init(1, -0.05f), Contains("stddev"));
    REQUIRE_THROWS_WITH(m.init(1, std::nanf("")), Contains("stddev"));
    REQUIRE_THROWS_WITH(m.init(1, INFINITY), Contains("stddev"));
    REQUIRE_THROWS_WITH(mnist::workspace<float>(m, 0), Contains("max_batch must be positive"));

    m.init(1);
    mnist::workspace<float> ws(m, 8);
    mnist::gradients<float> g(m);
    const mf::matrix x = uniform_matrix<mf::matrix>(4, 8, 2);
    const std::uint8_t y[9] = {0, 1, 2, 0, 1, 2, 0, 1, 2};

    const mf::matrix wrong_rows = uniform_matrix<mf::matrix>(5, 8, 2);
    REQUIRE_THROWS_WITH(mnist::forward_backward(m, wrong_rows, y, ws, g),
                        Contains("x has 5 rows") && Contains("4 inputs"));
    REQUIRE_THROWS_WITH(mnist::evaluate(m, wrong_rows, y, ws), Contains("x has 5 rows"));

    REQUIRE_THROWS_WITH(mnist::forward_backward(m, x.leftCols(0), y, ws, g), Contains("no examples"));
    REQUIRE_THROWS_WITH(mnist::evaluate(m, x.leftCols(0), y, ws), Contains("no examples"));

    const mf::matrix nine = uniform_matrix<mf::matrix>(4, 9, 3);
    REQUIRE_THROWS_WITH(mnist::forward_backward(m, nine, y, ws, g),
                        Contains("batch of 9") && Contains("max_batch of 8"));
    CHECK_NOTHROW(mnist::evaluate(m, nine, y, ws));  // evaluate takes it in chunks

    REQUIRE_THROWS_WITH(mnist::forward_backward(m, x, nullptr, ws, g), Contains("labels y"));
    REQUIRE_THROWS_WITH(mnist::evaluate(m, x, nullptr, ws), Contains("labels y"));

    std::uint8_t bad[8] = {0, 1, 2, 0, 1, 3, 0, 1};
    REQUIRE_THROWS_WITH(mnist::forward_backward(m, x, bad, ws, g),
                        Contains("label of example 5 is 3") && Contains("3 classes"));
    REQUIRE_THROWS_WITH(mnist::evaluate(m, x, bad, ws), Contains("label of example 5 is 3"));

    mf other(4, 6, 3);
    mnist::workspace<float> other_ws(other, 8);
    mnist::gradients<float> other_g(other);
    REQUIRE_THROWS_WITH(mnist::forward_backward(m, x, y, other_ws, g),
                        Contains("workspace") && Contains("another shape"));
    REQUIRE_THROWS_WITH(mnist::evaluate(m, x, y, other_ws), Contains("workspace"));
    REQUIRE_THROWS_WITH(mnist::forward_backward(m, x, y, ws, other_g),
                        Contains("gradients g") && Contains("another shape"));

    mf more_classes(4, 5, 4);
    mnist::workspace<float> ws4(more_classes, 8);
    REQUIRE_THROWS_WITH(mnist::evaluate(m, x, y, ws4), Contains("workspace"));
}
