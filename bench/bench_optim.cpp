// Optimizer update throughput in GB/s, next to a STREAM triad in the same
// binary, so that the ratio of the two says how close an update comes to the
// memory bandwidth this machine can sustain from one thread.
//
//     optim/triad/<n>          a = b + s * c
//     optim/sgd_momentum/<n>   clr::optim::sgd, momentum 0.9, no weight decay
//     optim/adam/<n>           clr::optim::adam, defaults
//     optim/adamw/<n>          clr::optim::adamw, defaults (weight decay 0.01)
//
// n is the number of floats in the one registered block. Each benchmark
// reports bytes_per_second and a "GBps" counter (1e9 bytes per second).
//
// Byte convention, STREAM's: every array an update reads counts n * 4 bytes,
// every array it writes counts n * 4 more, and the cache line a store has to
// fetch first (write-allocate) is not counted. So triad = 3 arrays, SGD with
// momentum = 5 (reads param, grad, buffer; writes param, buffer), Adam and
// AdamW = 7 (reads param, grad, m, v; writes param, m, v). The optimizers
// update in place, so they never pay for a write-allocate; the triad's
// destination does, which makes its counted figure about 3/4 of the traffic
// the memory system really carries once the arrays leave the cache.
//
// These run on one thread, and so does the triad beside them.
//
// The update of the MNIST example's model on 1 and 2 threads (set_threads,
// OpenMP), with the same byte convention:
//
//     optim_mnist/<kind>/<threads>   kind: sgd_momentum, adam, adamw
//
// over its four blocks, 784x784, 784, 784x10 and 10: 623,290 floats, 2.5 MB
// per array, 12 MB (SGD) to 17 MB (Adam) touched per update, which fits the
// last-level cache of a large server CPU but not L2. And the threshold below
// which step() stays on one thread:
//
//     optim_threads/adam/<threads>/<n>   one block of n floats
//
// The thread count is a request: without OpenMP, or below the threshold,
// the update runs on one thread; the "threads" counter says how many it was
// allowed (the optimizer's threads(), 1 without OpenMP).
#include <clr/cyclic.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace {

using array = Eigen::ArrayXf;

constexpr std::int64_t sizes[] = {10'000, 100'000, 1'000'000, 10'000'000};

// A small, fixed generator rather than <random>: a 10 M block is refilled for
// every repetition and the fill should not dominate the wall time of a run.
// The values only need to be reproducible and irregular, not statistically
// strong.
class splitmix64 {
public:
    explicit splitmix64(std::uint64_t seed) : s_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

    // Uniform in [0, 1).
    float unit() { return float(next() >> 40) * 0x1p-24f; }

private:
    std::uint64_t s_;
};

array uniform(std::int64_t n, std::uint64_t seed, float lo, float hi) {
    splitmix64 r(seed);
    array a(n);
    for (std::int64_t i = 0; i < n; ++i) a[i] = lo + (hi - lo) * r.unit();
    return a;
}

// Magnitudes in [1e-4, 1e-2] with random signs: Adam's second moment then
// settles near g^2 >= 1e-8 and SGD's buffer near 10 g, both far above the
// denormal range whose slow paths would distort the timing.
array gradient(std::int64_t n, std::uint64_t seed) {
    splitmix64 r(seed);
    array g(n);
    for (std::int64_t i = 0; i < n; ++i) {
        const float mag = 1e-4f + (1e-2f - 1e-4f) * r.unit();
        g[i] = (r.next() & 1) ? mag : -mag;
    }
    return g;
}

// Small rates: over millions of updates a parameter drifts by at most about
// lr per step, which leaves it finite and normal for any run length here.
clr::triangular<float> schedule() { return clr::triangular<float>(1e-5f, 1e-4f, 2000); }

// Bytes per iteration: `arrays` arrays of n floats each, read or written.
void report_bytes(benchmark::State& state, int arrays, std::int64_t n) {
    const double bytes = double(arrays) * double(n) * double(sizeof(float));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
    state.counters["GBps"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// A NaN or an overflow would send every later update through slow paths and
// make the numbers meaningless, so the run stops rather than report them.
void require_finite(const array& a, const char* what, std::int64_t n) {
    if (!a.allFinite()) {
        std::fprintf(stderr, "bench_optim: %s/%lld left non-finite values; its timing is invalid\n", what,
                     static_cast<long long>(n));
        std::abort();
    }
}

void triad(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    array a = array::Zero(n);
    const array b = uniform(n, 1, -1.0f, 1.0f);
    const array c = uniform(n, 2, -1.0f, 1.0f);
    // A volatile read, so the compiler cannot specialise the loop on a known
    // constant. Not benchmark::DoNotOptimize: GCC 12 may pass a float through
    // its "+r,m" operand in a general register and read back garbage (here a
    // subnormal, whose every multiplication took a microcode assist: the
    // triad ran 20 times slower and computed a = b).
    const volatile float scale = 3.0f;
    const float s = scale;
    for (auto _ : state) {
        a = b + s * c;
        benchmark::DoNotOptimize(a.data());
        benchmark::ClobberMemory();
    }
    // What was timed must be the triad (to rounding: one side may be fused).
    if (!((a - (b + 3.0f * c)).abs() <= 1e-6f * (b.abs() + 3.0f * c.abs())).all()) {
        std::fprintf(stderr, "bench_optim: triad/%lld computed the wrong values; its timing is invalid\n",
                     static_cast<long long>(n));
        std::abort();
    }
    require_finite(a, "triad", n);
    report_bytes(state, 3, n);
}

// Steady-state updates of n parameters on `threads` threads, p among them,
// each update moving `arrays` arrays of n floats. The first update is left
// out of the timing: SGD's only fills the momentum buffer (it reads one array
// fewer), and every kind should start from the same warm state.
template <class Optimizer>
void time_updates(benchmark::State& state, Optimizer& opt, int threads, std::int64_t n, const array& p,
                  const char* kind, int arrays) {
    opt.set_threads(threads);
    opt.step();
    for (auto _ : state) {
        opt.step();
        benchmark::DoNotOptimize(p.data());
        benchmark::ClobberMemory();
    }
    require_finite(p, kind, p.size());
    report_bytes(state, arrays, n);
    state.counters["threads"] = opt.threads();
}

void sgd_momentum(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    array p = uniform(n, 3, -1.0f, 1.0f);
    const array g = gradient(n, 4);
    clr::optim::sgd_options o;
    o.momentum = 0.9;
    o.weight_decay = 0.0;
    clr::optim::sgd opt(schedule(), o);
    opt.add(p, g);
    // One thread, as the triad beside it: these figures are the single-thread
    // bandwidth the threaded ones below are compared with.
    time_updates(state, opt, 1, n, p, "sgd_momentum", 5);
}

template <class Optimizer>
void adam_like(benchmark::State& state, const char* kind) {
    const std::int64_t n = state.range(0);
    array p = uniform(n, 5, -1.0f, 1.0f);
    const array g = gradient(n, 6);
    Optimizer opt(schedule());
    opt.add(p, g);
    time_updates(state, opt, 1, n, p, kind, 7);
}

void adam(benchmark::State& state) { adam_like<clr::optim::adam<clr::triangular<float>>>(state, "adam"); }

void adamw(benchmark::State& state) { adam_like<clr::optim::adamw<clr::triangular<float>>>(state, "adamw"); }

// The MNIST MLP 784-784-10's blocks, as the example registers them.
struct mnist_model {
    static constexpr std::int64_t sizes[] = {784 * 784L, 784, 784 * 10L, 10};
    static constexpr std::int64_t total = 784 * 784L + 784 + 784 * 10L + 10;  // 623,290
    array p[4], g[4];

    mnist_model() {
        for (int i = 0; i < 4; ++i) {
            p[i] = uniform(sizes[i], 10 + std::uint64_t(i), -1.0f, 1.0f);
            g[i] = gradient(sizes[i], 20 + std::uint64_t(i));
        }
    }

    template <class Optimizer>
    void add_to(Optimizer& opt) {
        for (int i = 0; i < 4; ++i) opt.add(p[i], g[i]);
    }
};

void mnist_sgd_momentum(benchmark::State& state) {
    mnist_model m;
    clr::optim::sgd_options o;
    o.momentum = 0.9;
    clr::optim::sgd opt(schedule(), o);
    m.add_to(opt);
    time_updates(state, opt, int(state.range(0)), mnist_model::total, m.p[0], "mnist sgd_momentum", 5);
}

template <class Optimizer>
void mnist_adam_like(benchmark::State& state, const char* kind) {
    mnist_model m;
    Optimizer opt(schedule());
    m.add_to(opt);
    time_updates(state, opt, int(state.range(0)), mnist_model::total, m.p[0], kind, 7);
}

void mnist_adam(benchmark::State& state) {
    mnist_adam_like<clr::optim::adam<clr::triangular<float>>>(state, "mnist adam");
}

void mnist_adamw(benchmark::State& state) {
    mnist_adam_like<clr::optim::adamw<clr::triangular<float>>>(state, "mnist adamw");
}

void threads_adam(benchmark::State& state) {
    const std::int64_t n = state.range(1);
    array p = uniform(n, 5, -1.0f, 1.0f);
    array g = gradient(n, 6);
    clr::optim::adam opt(schedule());
    opt.add(p, g);
    time_updates(state, opt, int(state.range(0)), n, p, "threads adam", 7);
}

[[maybe_unused]] const bool registered = [] {
    // Names are parsed by the report script: optim/<kind>/<n>, nothing more,
    // so no per-benchmark option that would append to the name. Size-major
    // order runs the benchmarks of one size back to back, so that the ratios
    // at that size see the same machine load.
    const std::pair<const char*, void (*)(benchmark::State&)> kinds[] = {{"optim/triad", triad},
                                                                         {"optim/sgd_momentum", sgd_momentum},
                                                                         {"optim/adam", adam},
                                                                         {"optim/adamw", adamw}};
    for (const std::int64_t n : sizes)
        for (const auto& [name, fn] : kinds) benchmark::RegisterBenchmark(name, fn)->Arg(n);
    // Thread-count-major, so that a 1-thread and 2-thread figure of one kind
    // are taken close together.
    const std::pair<const char*, void (*)(benchmark::State&)> mnist[] = {
        {"optim_mnist/sgd_momentum", mnist_sgd_momentum},
        {"optim_mnist/adam", mnist_adam},
        {"optim_mnist/adamw", mnist_adamw}};
    for (const auto& [name, fn] : mnist)
        for (const int threads : {1, 2}) benchmark::RegisterBenchmark(name, fn)->Arg(threads)->UseRealTime();
    for (const std::int64_t n : {65'536, 131'072, 262'144, 524'288})
        for (const int threads : {1, 2})
            benchmark::RegisterBenchmark("optim_threads/adam", threads_adam)
                ->Args({threads, n})
                ->UseRealTime();
    return true;
}();

}  // namespace
