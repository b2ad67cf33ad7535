// One training step of the MNIST example's 784-784-10 MLP next to the float GEMMs it is built
// on, at the example's batch sizes. Both sides run in this one binary, built with the example's
// flags and GEMM backend, so that the step/GEMM ratio compares like with like.
//
//   mlp/step/<batch>       forward_backward on random inputs in [0, 1] and random labels
//   mlp/step_adam/<batch>  the same plus clr::optim::adam over the four parameter blocks
//   gemm/forward/<batch>   H = W1 * X          (hidden x in) * (in x batch)
//   gemm/dW1/<batch>       dW1 = dZ1 * X^T     (hidden x batch) * (in x batch)^T
//   gemm/pair/<batch>      both, back to back: the reference for the step
//   user/pair_adam/<batch> a library user's step: the GEMM pair, then clr::optim::adam over
//                          the model's 623,290 parameters, with nothing of the example
//                          between them; run with no environment, it shows whether the
//                          update's threads and the BLAS's share the cores (docs/THREADS.md)
//
// Counter GFLOPs is in GFLOP/s over wall-clock time. The step counts FLOPs as the example's
// training loop does (train_flops_per_example), so the Adam update adds time but no FLOPs;
// a GEMM counts 2 * m * n * k.
//
// The rate is computed here from a steady clock rather than by UseRealTime(), which would
// append "/real_time" to every name; the JSON's real_time field is wall-clock either way.
//
// Threads: CLR_BENCH_THREADS (default 2) for Eigen and, when the products go to it, OpenBLAS,
// as mnist_clr --threads sets them.
#include "mlp.hpp"
#include "train.hpp"

#include <clr/compose.hpp>
#include <clr/optim/adam.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#ifdef EIGEN_USE_BLAS
extern "C" char* openblas_get_config(void);
#endif

namespace {

using matrix = mnist::mlp<float>::matrix;
using clock_type = std::chrono::steady_clock;

constexpr mnist::index in = 784;
constexpr mnist::index hidden = 784;
constexpr mnist::index out = 10;
constexpr std::uint64_t seed = 1;

int threads_from_env() {
    const char* s = std::getenv("CLR_BENCH_THREADS");
    if (s == nullptr || *s == '\0') return 2;
    char* end = nullptr;
    const long n = std::strtol(s, &end, 10);
    if (*end != '\0' || n < 1 || n > 256) {
        std::fprintf(stderr, "bench_mlp: CLR_BENCH_THREADS must be an integer in [1, 256], got '%s'\n", s);
        std::exit(2);
    }
    return static_cast<int>(n);
}

// Pixels of MNIST scaled to [0, 1], which the random inputs imitate in range only.
matrix random_inputs(mnist::index n) {
    std::mt19937_64 rng(seed + 1);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    matrix x(in, n);
    for (mnist::index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
    return x;
}

std::vector<std::uint8_t> random_labels(mnist::index n) {
    std::mt19937_64 rng(seed + 2);
    std::vector<std::uint8_t> y(static_cast<std::size_t>(n));
    for (auto& v : y) v = static_cast<std::uint8_t>(rng() % out);
    return y;
}

// Sized as train() sizes it, so the step sees the same leading dimensions.
mnist::index workspace_columns(mnist::index batch) { return std::max(batch, mnist::index(2000)); }

// Wall-clock, because the library's CPU timer sees only this thread and the GEMMs run on all.
template <class F>
void timed_loop(benchmark::State& state, double flops_per_iteration, mnist::index batch, F&& body) {
    const auto start = clock_type::now();
    for (auto _ : state) body();
    const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    const double iterations = static_cast<double>(state.iterations());
    state.counters["GFLOPs"] = seconds > 0 ? flops_per_iteration * iterations / seconds * 1e-9 : 0.0;
    state.SetItemsProcessed(state.iterations() * batch);
}

void step(benchmark::State& state, mnist::index batch, bool with_adam) {
    mnist::mlp<float> net(in, hidden, out);
    net.init(seed);
    mnist::gradients<float> g(net);
    mnist::workspace<float> ws(net, workspace_columns(batch));
    const matrix x = random_inputs(batch);
    const std::vector<std::uint8_t> y = random_labels(batch);

    // Adam's arithmetic does not depend on the rate, so a tiny one times the same update while
    // keeping the network near its initial state however many iterations the library runs:
    // a network fitted to one fixed batch would drift towards saturated softmax outputs and
    // subnormal gradients, and the step would measure something else.
    clr::optim::adam<clr::constant<float>> opt(clr::constant<float>(1e-7f));
    mnist::add_parameters(opt, net, g);

    const double flops = double(batch) * mnist::train_flops_per_example(in, hidden, out);
    timed_loop(state, flops, batch, [&] {
        std::size_t right = 0;
        float loss = mnist::forward_backward(net, x, y.data(), ws, g, &right);
        benchmark::DoNotOptimize(loss);
        benchmark::DoNotOptimize(right);
        if (with_adam) opt.step();
        benchmark::ClobberMemory();
    });
}

enum class gemm_kind { forward, dW1, pair, pair_adam };

// The operands and outputs of the step's two large products, allocated up front and written
// with noalias() as mlp.hpp writes them.
void gemm(benchmark::State& state, mnist::index batch, gemm_kind kind) {
    mnist::mlp<float> net(in, hidden, out);
    net.init(seed);
    const matrix x = random_inputs(batch);
    matrix H(hidden, workspace_columns(batch));
    matrix dZ1 = matrix::Random(hidden, workspace_columns(batch)) * 1e-3f;
    matrix dW1(hidden, in);
    auto Hb = H.leftCols(batch);
    const auto dZ1b = dZ1.leftCols(batch);
    // The user's update reads gradients of the model's shapes; their values do not change
    // its time (the rate is tiny for the reason step() gives).
    mnist::gradients<float> g(net);
    g.dW1 = matrix::Random(hidden, in) * 1e-3f;
    clr::optim::adam<clr::constant<float>> opt(clr::constant<float>(1e-7f));
    mnist::add_parameters(opt, net, g);

    const double one = 2.0 * double(hidden) * double(in) * double(batch);
    const double flops = kind == gemm_kind::forward || kind == gemm_kind::dW1 ? one : 2.0 * one;
    timed_loop(state, flops, batch, [&] {
        if (kind != gemm_kind::dW1) {
            Hb.noalias() = net.W1 * x;
            benchmark::DoNotOptimize(H.data());
        }
        if (kind != gemm_kind::forward) {
            dW1.noalias() = dZ1b * x.transpose();
            benchmark::DoNotOptimize(dW1.data());
        }
        if (kind == gemm_kind::pair_adam) opt.step();
        benchmark::ClobberMemory();
    });
}

[[maybe_unused]] const bool registered = [] {
    const int threads = threads_from_env();
    mnist::set_threads(threads);
#ifdef EIGEN_USE_BLAS
    benchmark::AddCustomContext("gemm_backend", "OpenBLAS sgemm (EIGEN_USE_BLAS)");
    benchmark::AddCustomContext("openblas_config", openblas_get_config());
#else
    benchmark::AddCustomContext("gemm_backend", "Eigen (OpenMP)");
#endif
    benchmark::AddCustomContext("threads", std::to_string(threads));
    benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());

    for (const mnist::index batch : {mnist::index(200), mnist::index(2000)}) {
        const std::string b = "/" + std::to_string(batch);
        auto add = [](const std::string& name, auto f) {
            benchmark::RegisterBenchmark(name.c_str(), f)->Unit(benchmark::kMicrosecond);
        };
        add("mlp/step" + b, [batch](benchmark::State& s) { step(s, batch, false); });
        add("mlp/step_adam" + b, [batch](benchmark::State& s) { step(s, batch, true); });
        add("gemm/forward" + b, [batch](benchmark::State& s) { gemm(s, batch, gemm_kind::forward); });
        add("gemm/dW1" + b, [batch](benchmark::State& s) { gemm(s, batch, gemm_kind::dW1); });
        add("gemm/pair" + b, [batch](benchmark::State& s) { gemm(s, batch, gemm_kind::pair); });
        add("user/pair_adam" + b, [batch](benchmark::State& s) { gemm(s, batch, gemm_kind::pair_adam); });
    }
    return true;
}();

}  // namespace
