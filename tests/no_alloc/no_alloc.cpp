// README.md: schedules "never allocate"; the optimizers "update parameter
// blocks in place and allocate nothing per step". This program holds the
// library to both. It is its own executable because it replaces the global
// operator new and delete (every form) with counting ones, and builds Eigen
// with EIGEN_RUNTIME_NO_MALLOC and an eigen_assert that records instead of
// aborting, so an Eigen temporary (Eigen allocates with malloc, not new)
// counts too, in Release as in Debug. It first checks that both counters see
// an allocation, then runs every schedule's lr(t) and momentum(t) and every
// optimizer's step() in a loop and requires zero allocations there.
// Exit status 0 when all checks pass, 1 otherwise.
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace clr_no_alloc {
std::atomic<long> eigen_failures{0};
inline void eigen_assert_failed(const char* what) {
    // The first few only: a heap temporary in a loop fails on every pass.
    if (eigen_failures.fetch_add(1) < 3) std::fprintf(stderr, "eigen_assert failed: %s\n", what);
}
}  // namespace clr_no_alloc

#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x) ((x) ? static_cast<void>(0) : ::clr_no_alloc::eigen_assert_failed(#x))

#include <clr/clr.hpp>
#include <clr/optim/adam.hpp>
#include <clr/optim/sgd.hpp>

#include <Eigen/Core>

#include <cmath>
#include <string>
#include <vector>

// ---------------------------------------------------------------------------
// Counting replacements of the global allocation functions.

namespace {
std::atomic<long> news{0};

void* counted(std::size_t size) {
    news.fetch_add(1);
    return std::malloc(size == 0 ? 1 : size);
}

void* counted_aligned(std::size_t size, std::align_val_t al) {
    news.fetch_add(1);
    const auto a = static_cast<std::size_t>(al);
    const std::size_t rounded = (size + a - 1) / a * a;
    return std::aligned_alloc(a, rounded == 0 ? a : rounded);
}
}  // namespace

void* operator new(std::size_t n) {
    if (void* p = counted(n)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    if (void* p = counted(n)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new(std::size_t n, std::align_val_t a) {
    if (void* p = counted_aligned(n, a)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
    if (void* p = counted_aligned(n, a)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_aligned(n, a);
}
// GCC takes the free() in a replacement operator delete for a mismatch; here
// it is the match of the malloc() above.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// ---------------------------------------------------------------------------

namespace {

int failures = 0;

// Allocations (by new, or by Eigen) while f runs.
template <class F>
long allocations_in(F&& f) {
    const long n0 = news.load(), e0 = clr_no_alloc::eigen_failures.load();
    Eigen::internal::set_is_malloc_allowed(false);
    f();
    Eigen::internal::set_is_malloc_allowed(true);
    return (news.load() - n0) + (clr_no_alloc::eigen_failures.load() - e0);
}

void expect(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) ++failures;
}

void expect_none(const std::string& what, long n) {
    expect(n == 0, what + " allocates " + std::to_string(n) + " time(s) (must be 0)");
}

volatile double sink = 0.0;

// Every step a trainer would ask for, and some it never would.
template <class S>
void schedule_loop(const std::string& name, const S& s) {
    const long n = allocations_in([&] {
        for (clr::step_t t = 0; t < 20000; ++t) {
            sink = sink + static_cast<double>(s.lr(t)) + static_cast<double>(s(t));
            if (const auto m = s.momentum(t)) sink = sink + static_cast<double>(*m);
        }
        for (clr::step_t t : {clr::step_t(1) << 40, clr::step_t(1) << 62, ~clr::step_t(0)})
            sink = sink + static_cast<double>(s.lr(t));
    });
    expect_none(name + ": lr(t) and momentum(t) over 20003 steps", n);
}

// step() over many updates, on a matrix, a vector Map and a block larger than
// the optimizers' internal chunk; the gradients change between steps without
// allocating.
template <class T, class Make>
void optimizer_loop(const std::string& name, Make make,
                    const clr::optim::block_options& vector_options = clr::optim::block_options()) {
    using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    matrix w = matrix::Constant(7, 9, T(0.5)), dw = matrix::Zero(7, 9);
    vector b = vector::Constant(5000, T(-0.25)), db = vector::Zero(5000);
    std::vector<T> raw(13, T(1)), draw(13, T(0));
    auto opt = make();
    opt.add(w, dw);
    opt.add(b, db, vector_options);
    opt.add(Eigen::Map<vector>(raw.data(), 13), Eigen::Map<vector>(draw.data(), 13));
    const long n = allocations_in([&] {
        for (int k = 0; k < 500; ++k) {
            dw.array() = w.array() * T(0.5) - T(0.1);
            db.array() = b.array() * T(0.25) + T(0.05);
            for (std::size_t i = 0; i < raw.size(); ++i) draw[i] = raw[i] - T(0.5);
            if (k % 2)
                opt.step();
            else
                opt.step([](clr::optim::gradient_span<T> g) { g.array() *= T(0.5); });
            sink = sink + static_cast<double>(*opt.last_lr()) + static_cast<double>(*opt.last_momentum());
        }
    });
    expect_none(name + ": step() and step(reduce) over 500 updates", n);
    expect(std::isfinite(static_cast<double>(w(3, 4))) && opt.steps() == 500,
           name + ": ran 500 finite updates");
}

#if defined(_OPENMP)
// A block above the parallel threshold, updated on two threads. The first
// step is left out: the OpenMP runtime starts its threads there (with
// malloc, which this program does not count in any case).
template <class T, class Make>
void threaded_loop(const std::string& name, Make make) {
    using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    vector p = vector::Constant(300'000, T(0.5)), g = vector::Zero(300'000);
    auto opt = make();
    opt.set_threads(2);
    opt.add(p, g);
    opt.step();
    const long n = allocations_in([&] {
        for (int k = 0; k < 50; ++k) {
            g.array() = p.array() * T(0.5) - T(0.1);
            opt.step([](clr::optim::gradient_span<T> s) { s.array() *= T(0.5); });
        }
    });
    expect_none(name + ": 50 steps on two threads", n);
}
#endif

}  // namespace

int main() {
#if defined(_OPENMP)
    // The OpenMP runtime starts on first use, and that allocates once per
    // process: LLVM's libomp loads its tool interface with operator new from
    // the first function holding a parallel region, even when the region then
    // runs on one thread. Start it here, outside the counted loops.
#pragma omp parallel num_threads(2)
    {}
#endif
    // The counters must see what they are meant to catch.
    expect(allocations_in([] {
               std::vector<int> v(100);
               sink = sink + v[7];
           }) >= 1,
           "a std::vector inside the loop is counted");
    expect(allocations_in([] {
               Eigen::VectorXd x = Eigen::VectorXd::Constant(100, 1.0);
               sink = sink + x(5);
           }) >= 1,
           "an Eigen heap temporary inside the loop is counted");
    expect(allocations_in([] { sink = sink + 1.0; }) == 0, "arithmetic alone is not counted");

    schedule_loop("triangular", clr::triangular<double>(0.001, 0.006, 2000));
    schedule_loop("triangular2 (float, asymmetric)",
                  clr::triangular2<float>(0.001f, 0.006f, 300).with_step_size_down(200));
    schedule_loop("exp_range with momentum",
                  clr::exp_range<double>(0.001, 0.01, 100, 0.9995).with_momentum(0.8, 0.9));
    schedule_loop("welch", clr::welch<double>(0.001, 0.006, 9));
    schedule_loop("hann (float)", clr::hann<float>(0.001f, 0.006f, 9));
    schedule_loop(
        "cyclic with a user scale",
        clr::make_cyclic(0.0, 1.0, 10, clr::scale_on_cycle([](clr::step_t c) { return 1.0 / double(c); })));
    schedule_loop("cosine_restarts T_mult 1", clr::cosine_restarts<double>(0.1, 100).with_eta_min(1e-4));
    schedule_loop("cosine_restarts T_mult 2, m_mul",
                  clr::cosine_restarts<double>(0.05, 10).with_t_mult(2).with_m_mul(0.5));
    schedule_loop("cosine_restarts T_mult 3", clr::cosine_restarts<double>(0.1, 7).with_t_mult(3));
    schedule_loop("cosine_restarts T_mult 1.5", clr::cosine_restarts<float>(1.0f, 10).with_t_mult(1.5f));
    schedule_loop("one_cycle cos with momentum",
                  clr::one_cycle<double>(0.1, 10000).with_momentum(0.85, 0.95));
    schedule_loop("one_cycle linear three-phase",
                  clr::one_cycle<float>(0.02f, 999).with_anneal(clr::anneal::linear).with_three_phase());
    schedule_loop("constant", clr::constant<double>(0.003));
    schedule_loop("warmup", clr::warmup(clr::triangular<double>(0.001, 0.006, 2000), 100, 0.0));
    schedule_loop("sequence", clr::sequence(clr::constant<double>(0.01), 500,
                                            clr::one_cycle<double>(0.1, 1000).with_momentum()));
    schedule_loop("cosine", clr::cosine<double>(0.1, 5000).with_eta_min(1e-4));
    schedule_loop("linear (float)", clr::linear<float>(0.1f, 0.001f, 5000));
    schedule_loop("polynomial", clr::polynomial<double>(0.1, 0.0, 5000, 0.5));
    schedule_loop("exponential", clr::exponential<double>(0.1, 0.999));
    schedule_loop("step_decay", clr::step_decay<double>(0.1, 300, 0.5));
    schedule_loop("multistep", clr::multistep<double>(0.1, {100, 1000, 5000, 10000}, 0.1));
    schedule_loop("sequence of three",
                  clr::sequence(clr::linear<double>(0.0, 0.1, 100), 100, clr::constant<double>(0.1), 900,
                                clr::cosine<double>(0.1, 10000)));
    schedule_loop("wsd", clr::wsd<double>(0.1, 1000, 5000, 2000).with_min_lr_ratio(0.01));
    schedule_loop("wsd (float), cosine warmup, 1-sqrt decay",
                  clr::wsd<float>(0.1f, 100, 500, 300)
                      .with_warmup_shape(clr::wsd_shape::cosine)
                      .with_decay_shape(clr::wsd_shape::one_minus_sqrt));
    auto plateau = clr::plateau(clr::cosine<double>(0.1, 5000)).with_patience(0).with_min_lr(1e-4);
    const long reports = allocations_in([&] {
        for (int i = 0; i < 3; ++i) clr::report(plateau, 1.0);
    });
    expect_none("plateau: report(metric)", reports);
    schedule_loop("plateau over cosine after two reductions", plateau);
    schedule_loop("plateau in any_schedule", clr::any_schedule<double>(plateau));
    schedule_loop("inverse_sqrt", clr::inverse_sqrt<double>(0.1, 1000));
    schedule_loop("inverse_sqrt without warmup (float)", clr::inverse_sqrt<float>(0.1f, 0));
    schedule_loop("inverse_time", clr::inverse_time<double>(0.1, 100, 0.5));
    schedule_loop("inverse_time staircase", clr::inverse_time<double>(0.1, 100, 0.5).with_staircase());
    schedule_loop("tanh_decay", clr::tanh_decay<double>(0.1, 10000).with_lr_min(1e-4));
    schedule_loop("piecewise linear", clr::piecewise<double>({0, 100, 1000, 15000}, {0.0, 0.1, 0.01, 0.001}));
    schedule_loop("piecewise cosine (float)", clr::piecewise<float>({0, 100, 1000}, {0.0f, 0.1f, 0.001f})
                                                  .with_interpolation(clr::interpolation::cosine));
    schedule_loop("piecewise constant", clr::piecewise<double>({100, 300, 600}, {0.1, 0.05, 0.01})
                                            .with_interpolation(clr::interpolation::constant));

    clr::optim::sgd_options plain, momentum, nesterov;
    momentum.momentum = 0.9;
    momentum.dampening = 0.1;
    momentum.weight_decay = 0.01;
    nesterov.momentum = 0.9;
    nesterov.nesterov = true;
    nesterov.weight_decay = 0.005;
    const auto tri = clr::triangular<double>(0.001, 0.006, 50);
    const auto trif = clr::triangular<float>(0.001f, 0.006f, 50);
    optimizer_loop<double>("sgd", [&] { return clr::optim::sgd(tri, plain); });
    optimizer_loop<double>("sgd, momentum, dampening, weight decay",
                           [&] { return clr::optim::sgd(tri, momentum); });
    optimizer_loop<float>("sgd nesterov (float)", [&] { return clr::optim::sgd(trif, nesterov); });
    optimizer_loop<double>("sgd, cycled momentum", [&] {
        return clr::optim::sgd(clr::one_cycle<double>(0.1, 400).with_momentum(), plain);
    });
    clr::optim::adam_options ao;
    ao.weight_decay = 0.02;
    optimizer_loop<double>("adam, L2 weight decay", [&] { return clr::optim::adam(tri, ao); });
    optimizer_loop<float>("adam, cycled beta1 (float)", [&] {
        return clr::optim::adam(clr::one_cycle<float>(0.01f, 400).with_momentum(0.85f, 0.95f));
    });
    optimizer_loop<double>(
        "adamw", [&] { return clr::optim::adamw(clr::cosine_restarts<double>(0.01, 40).with_t_mult(2)); });
    optimizer_loop<float>("adamw (float)", [&] { return clr::optim::adamw(trif); });
    const auto bias = clr::optim::block_options().with_lr_scale(0.1).with_weight_decay(0.0);
    optimizer_loop<double>(
        "sgd, momentum, a block with lr_scale and no weight decay",
        [&] { return clr::optim::sgd(tri, momentum); }, bias);
    optimizer_loop<float>(
        "adamw (float), a block with lr_scale and no weight decay", [&] { return clr::optim::adamw(trif); },
        bias);
    // A block on a schedule of its own (held, then warmed up) with a decay
    // schedule, beside the optimizer's decay, a number or a schedule.
    const auto own = clr::optim::block_options()
                         .with_schedule(clr::sequence(clr::constant<double>(0.0), 100,
                                                      clr::warmup(clr::cosine<double>(0.01, 400), 50, 0.0)))
                         .with_weight_decay(clr::cosine<double>(0.01, 500));
    optimizer_loop<double>(
        "sgd, momentum, a block with its own schedule and decay schedule",
        [&] { return clr::optim::sgd(tri, momentum); }, own);
    clr::optim::adamw_options rising;
    rising.weight_decay =
        clr::piecewise<double>({0, 500}, {0.04, 0.4}).with_interpolation(clr::interpolation::cosine);
    optimizer_loop<double>(
        "adamw, a decay schedule, a block with its own schedule and decay schedule",
        [&] { return clr::optim::adamw(tri, rising); }, own);
    clr::optim::adam_options l2;
    l2.weight_decay = clr::linear<double>(0.1, 0.0, 500);
    optimizer_loop<float>(
        "adam (float), an L2 decay schedule, a block with its own schedule",
        [&] { return clr::optim::adam(trif, l2); },
        clr::optim::block_options().with_schedule(clr::one_cycle<float>(0.01f, 500)).with_weight_decay(0.0));

#if defined(_OPENMP)
    threaded_loop<float>("adamw (float)", [&] { return clr::optim::adamw(trif); });
    threaded_loop<double>("sgd, momentum", [&] { return clr::optim::sgd(tri, momentum); });
#endif

    std::printf("%s: %d failure(s)\n", failures == 0 ? "passed" : "FAILED", failures);
    return failures == 0 ? 0 : 1;
}
