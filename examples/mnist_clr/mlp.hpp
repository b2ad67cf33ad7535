// The network of Smith's CLR MNIST case study: Dense(hidden, ReLU) then Dense(out) with
// softmax, trained on the mean cross-entropy of a batch. Header-only, Eigen 3.4.
//
// One example per column, so a batch is `in x n`. Nearly all the work is in the in x hidden
// layer, done as two whole-batch GEMMs (forward, and dW1) that Eigen's OpenMP or a BLAS
// spreads over threads. The thin output layer runs per example, single-threaded, fused with
// the softmax, the ReLU mask and the bias sums while each column is in cache: as whole-batch
// GEMMs its products are too small to split across threads and lose more to the handoff than
// they gain. Results are reproducible for a given seed and thread count.
//
// A step writes only into buffers sized up front (workspace, gradients); the only memory it
// may still request is the packing space inside Eigen's (or the BLAS library's) GEMM.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>

#ifdef EIGEN_USE_BLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace mnist {

using index = Eigen::Index;

namespace detail {

inline void require_positive(index value, const char* what, const char* name) {
    if (value <= 0)
        throw std::invalid_argument(std::string(what) + ": " + name + " must be positive, got " +
                                    std::to_string(value));
}

// Standard normal draws by Box-Muller on mt19937_64, because the standard fixes the output of
// mt19937_64 but leaves std::normal_distribution to each library: a seed must give the same
// network whichever standard library built the program.
class normal_source {
public:
    explicit normal_source(std::uint64_t seed) : engine_(seed) {}

    double operator()() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        constexpr double two_pi = 6.283185307179586476925286766559;
        // u1 in (0, 1] keeps log finite; both from the top 53 bits, exact in a double.
        const double u1 = static_cast<double>((engine_() >> 11) + 1) * 0x1p-53;
        const double u2 = static_cast<double>(engine_() >> 11) * 0x1p-53;
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(two_pi * u2);
        has_spare_ = true;
        return r * std::cos(two_pi * u2);
    }

private:
    std::mt19937_64 engine_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

template <class T>
struct network_pass;

}  // namespace detail

template <class T>
struct mlp {
    using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

    matrix W1;  // hidden x in
    vector b1;  // hidden
    matrix W2;  // out x hidden
    vector b2;  // out

    mlp(index in, index hidden, index out) {
        detail::require_positive(in, "mlp", "in");
        detail::require_positive(hidden, "mlp", "hidden");
        detail::require_positive(out, "mlp", "out");
        W1.setZero(hidden, in);
        b1.setZero(hidden);
        W2.setZero(out, hidden);
        b2.setZero(out);
    }

    index inputs() const { return W1.cols(); }
    index hidden() const { return W1.rows(); }
    index outputs() const { return W2.rows(); }

    // Weights ~ N(0, stddev^2) (Keras' RandomNormal(stddev=0.05) in the case study), biases 0.
    // Draws are made in double and rounded to T, W1 then W2 in storage order, so a float and
    // a double network from one seed hold the same weights up to rounding.
    void init(std::uint64_t seed, T stddev = T(0.05)) {
        if (!(stddev > T(0)) || !std::isfinite(static_cast<double>(stddev)))
            throw std::invalid_argument("mlp::init: stddev must be positive and finite, got " +
                                        std::to_string(static_cast<double>(stddev)));
        detail::normal_source normal(seed);
        const double s = static_cast<double>(stddev);
        for (index i = 0; i < W1.size(); ++i) W1.data()[i] = static_cast<T>(s * normal());
        for (index i = 0; i < W2.size(); ++i) W2.data()[i] = static_cast<T>(s * normal());
        b1.setZero();
        b2.setZero();
    }
};

template <class T>
struct gradients {
    using matrix = typename mlp<T>::matrix;
    using vector = typename mlp<T>::vector;

    matrix dW1;
    vector db1;
    matrix dW2;
    vector db2;

    explicit gradients(const mlp<T>& m)
        : dW1(matrix::Zero(m.W1.rows(), m.W1.cols())),
          db1(vector::Zero(m.b1.size())),
          dW2(matrix::Zero(m.W2.rows(), m.W2.cols())),
          db2(vector::Zero(m.b2.size())) {}
};

// Hands the network's four parameter blocks to an optimizer, each with the gradient
// forward_backward writes for it: the pairing train() and every caller rely on.
template <class Optimizer, class T>
void add_parameters(Optimizer& opt, mlp<T>& m, gradients<T>& g) {
    opt.add(m.W1, g.dW1);
    opt.add(m.b1, g.db1);
    opt.add(m.W2, g.dW2);
    opt.add(m.b2, g.db2);
}

// Activations of up to max_batch examples, kept between calls so that a step allocates no
// matrices of its own.
template <class T>
class workspace {
public:
    using matrix = typename mlp<T>::matrix;

    workspace(const mlp<T>& m, index max_batch) {
        detail::require_positive(max_batch, "workspace", "max_batch");
        hidden_.resize(m.hidden(), max_batch);
        hidden_grad_.resize(m.hidden(), max_batch);
        logits_.resize(m.outputs(), max_batch);
        W2t_.resize(m.hidden(), m.outputs());
        dW2t_.resize(m.hidden(), m.outputs());
    }

    index max_batch() const { return hidden_.cols(); }

private:
    friend struct detail::network_pass<T>;

    matrix hidden_;       // ReLU output, hidden x batch
    matrix hidden_grad_;  // d loss / d hidden pre-activation
    matrix logits_;       // logits, then d loss / d logits in place
    // The output layer transposed, so that its per-example products run along contiguous
    // columns of length hidden rather than along the short dimension out.
    matrix W2t_;
    matrix dW2t_;
};

namespace detail {

template <class T>
struct network_pass {
    using matrix = typename mlp<T>::matrix;
    using input = Eigen::Ref<const matrix>;

    static void check(const char* who, const mlp<T>& m, const input& x, const std::uint8_t* y,
                      const workspace<T>& ws, index max_n) {
        const std::string w(who);
        if (x.rows() != m.inputs())
            throw std::invalid_argument(w + ": x has " + std::to_string(x.rows()) +
                                        " rows but the network takes " + std::to_string(m.inputs()) +
                                        " inputs");
        if (x.cols() == 0) throw std::invalid_argument(w + ": x holds no examples (0 columns)");
        if (x.cols() > max_n)
            throw std::invalid_argument(w + ": batch of " + std::to_string(x.cols()) +
                                        " examples exceeds the workspace's max_batch of " +
                                        std::to_string(max_n));
        if (ws.hidden_.rows() != m.hidden() || ws.logits_.rows() != m.outputs())
            throw std::invalid_argument(w + ": workspace was built for a network of another shape");
        if (y == nullptr) throw std::invalid_argument(w + ": labels y is a null pointer");
        for (index j = 0; j < x.cols(); ++j)
            if (y[j] >= m.outputs())
                throw std::invalid_argument(w + ": label of example " + std::to_string(j) + " is " +
                                            std::to_string(y[j]) + ", not below the " +
                                            std::to_string(m.outputs()) + " classes");
    }

    // Forward pass over one batch: fills the hidden activations and returns the summed (not
    // mean) cross-entropy. With grad_scale > 0 the logits buffer is overwritten by
    // grad_scale * (softmax - onehot), the gradient of grad_scale * summed loss.
    static double forward(const mlp<T>& m, const input& x, const std::uint8_t* y, workspace<T>& ws,
                          std::size_t* correct, T grad_scale) {
        const index n = x.cols();
        auto H = ws.hidden_.leftCols(n);
        auto Z = ws.logits_.leftCols(n);

        H.noalias() = m.W1 * x;
        H = (H.colwise() + m.b1).cwiseMax(T(0));
        ws.W2t_ = m.W2.transpose();

        double loss = 0.0;
        std::size_t right = 0;
        for (index j = 0; j < n; ++j) {
            auto z = Z.col(j);
            z.noalias() = ws.W2t_.transpose() * H.col(j);
            z += m.b2;
            index top = 0;
            const T zmax = z.maxCoeff(&top);  // ties go to the lowest class
            // log-sum-exp shifted by the largest logit: every exp lies in (0, 1], the sum in
            // [1, out], so neither overflows whatever the scale of the logits.
            const T sum = (z.array() - zmax).exp().sum();
            const index label = y[j];
            loss += static_cast<double>(std::log(sum)) - static_cast<double>(z(label) - zmax);
            right += (top == label);
            if (grad_scale > T(0)) {
                z.array() = (z.array() - zmax).exp() * (grad_scale / sum);
                z(label) -= grad_scale;
            }
        }
        if (correct) *correct = right;
        return loss;
    }

    // Gradients from d loss / d logits, which forward left in the logits buffer.
    static void backward(const input& x, workspace<T>& ws, gradients<T>& g) {
        const index n = x.cols();
        auto H = ws.hidden_.leftCols(n);
        auto dZ2 = ws.logits_.leftCols(n);
        auto dZ1 = ws.hidden_grad_.leftCols(n);

        ws.dW2t_.setZero();
        g.db1.setZero();
        g.db2.setZero();
        for (index j = 0; j < n; ++j) {
            const auto dz = dZ2.col(j);
            const auto h = H.col(j);
            auto d = dZ1.col(j);
            ws.dW2t_.noalias() += h * dz.transpose();
            g.db2 += dz;
            d.noalias() = ws.W2t_ * dz;
            d = (h.array() > T(0)).select(d, T(0));  // ReLU' = 0 at the kink, as in PyTorch
            g.db1 += d;
        }
        g.dW2 = ws.dW2t_.transpose();
        g.dW1.noalias() = dZ1 * x.transpose();
    }
};

}  // namespace detail

// Mean cross-entropy of the batch (one example per column of x, labels y[0..n)), the number
// classified correctly, and the gradient of that mean loss with respect to every parameter,
// written into g. The batch must fit the workspace. x binds without a copy to a column-major
// matrix or a block of its columns; anything else is copied first.
//
// When x is one share of a larger batch of `mean_over` examples (data-parallel training),
// g is the gradient of the summed loss of x divided by mean_over: the shares' gradients then
// add up to the whole batch's mean gradient, each example weighted exactly as one process
// would weight it. The returned loss is still the mean over x.
template <class T>
T forward_backward(const mlp<T>& m, const Eigen::Ref<const typename mlp<T>::matrix>& x, const std::uint8_t* y,
                   workspace<T>& ws, gradients<T>& g, std::size_t* correct = nullptr, index mean_over = 0) {
    using pass = detail::network_pass<T>;
    pass::check("forward_backward", m, x, y, ws, ws.max_batch());
    if (g.dW1.rows() != m.W1.rows() || g.dW1.cols() != m.W1.cols() || g.dW2.rows() != m.W2.rows() ||
        g.dW2.cols() != m.W2.cols() || g.db1.size() != m.b1.size() || g.db2.size() != m.b2.size())
        throw std::invalid_argument(
            "forward_backward: gradients g were built for a network of "
            "another shape");

    const index n = x.cols();
    if (mean_over != 0 && mean_over < n)
        throw std::invalid_argument("forward_backward: mean_over " + std::to_string(mean_over) +
                                    " is smaller than the batch of " + std::to_string(n));
    const double loss =
        pass::forward(m, x, y, ws, correct, T(1) / static_cast<T>(mean_over != 0 ? mean_over : n));
    pass::backward(x, ws, g);
    return static_cast<T>(loss / static_cast<double>(n));
}

// Mean cross-entropy and number correct over any number of examples, taken through the
// workspace max_batch columns at a time; computes no gradient.
template <class T>
T evaluate(const mlp<T>& m, const Eigen::Ref<const typename mlp<T>::matrix>& x, const std::uint8_t* y,
           workspace<T>& ws, std::size_t* correct = nullptr) {
    using pass = detail::network_pass<T>;
    pass::check("evaluate", m, x, y, ws, x.cols());
    const index n = x.cols();
    double loss = 0.0;
    std::size_t right = 0;
    for (index start = 0; start < n; start += ws.max_batch()) {
        const index len = std::min(ws.max_batch(), n - start);
        std::size_t chunk_right = 0;
        loss += pass::forward(m, x.middleCols(start, len), y + start, ws, &chunk_right, T(0));
        right += chunk_right;
    }
    if (correct) *correct = right;
    return static_cast<T>(loss / static_cast<double>(n));
}

// Threads for the GEMMs: Eigen's own and, when Eigen hands its products to OpenBLAS
// (EIGEN_USE_BLAS), OpenBLAS's pool, which Eigen's setting does not reach.
inline void set_threads(int threads) {
    Eigen::setNbThreads(threads);
#ifdef EIGEN_USE_BLAS
    openblas_set_num_threads(threads);
#endif
}

}  // namespace mnist
