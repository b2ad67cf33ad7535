// Cost of one lr(t) call, for every schedule, over consecutive steps.
#include <clr/clr.hpp>

#include <benchmark/benchmark.h>

namespace {

template <class Schedule>
void consecutive_steps(benchmark::State& state, Schedule s) {
    clr::step_t t = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(s(t));
        ++t;
    }
    state.SetItemsProcessed(state.iterations());
}

template <class T>
void register_all(const char* type) {
    const std::string suffix = std::string("<") + type + ">";
    auto add = [&](const char* name, auto schedule) {
        benchmark::RegisterBenchmark((name + suffix).c_str(),
                                     [schedule](benchmark::State& st) { consecutive_steps(st, schedule); });
    };
    add("constant", clr::constant<T>(T(0.01)));
    add("triangular", clr::triangular<T>(T(0.001), T(0.006), 2000));
    add("triangular2", clr::triangular2<T>(T(0.001), T(0.006), 2000));
    add("exp_range", clr::exp_range<T>(T(0.001), T(0.006), 2000, T(0.99994)));
    add("welch", clr::welch<T>(T(0.001), T(0.006), 2000));
    add("hann", clr::hann<T>(T(0.001), T(0.006), 2000));
    add("cosine_restarts", clr::cosine_restarts<T>(T(0.05), 1000).with_t_mult(2).with_eta_min(T(0.001)));
    add("one_cycle", clr::one_cycle<T>(T(0.1), 100000).with_momentum());
    add("warmup_triangular", clr::warmup(clr::triangular<T>(T(0.001), T(0.006), 2000), 500, T(0)));
}

[[maybe_unused]] const bool registered = [] {
    register_all<float>("float");
    register_all<double>("double");
    return true;
}();

}  // namespace
