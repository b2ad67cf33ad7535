// Cost of one lr(t) call for every schedule, float and double, over a stream of
// consecutive steps and over random steps, with five ways of reaching the same
// formula side by side:
//
//   clr         the library schedule through its CRTP interface, s.lr(t)
//   hand        the same formula written out by hand below, no library involved
//   hand_exact  the same twin with the library's exact, clamped interpolation
//               (exact at w = 1, never past b) in place of a + (b - a) * w: what is left
//               between it and clr is the cost of the library's layers alone
//   virtual     the library schedule behind an abstract base with a virtual lr()
//   function    the library schedule in a std::function<T(clr::step_t)>
//   any         the library schedule in a clr::any_schedule<T>, the schedule
//               chosen at run time
//   parsed      (sequence3 only) parse_schedule<T>(to_string(s)): the same
//               sequence read from text, whose pieces are any_schedules too
//
// Names are schedule/<name>/<variant>/<steps>/<type>, for instance
// schedule/triangular/clr/random/float. Every iteration makes exactly one lr(t)
// call, so real_time per iteration (in ns) is the time per call; the figures to
// compare are clr against hand and hand_exact, and virtual, function, any and
// parsed against clr.
//
// text/<to_string|parse_schedule>/<name>/<type> time one to_string(s) or one
// parse_schedule<T> of that text (in us): what a trainer pays once per run.
//
// Before anything is timed, every hand-written twin is checked against its
// library schedule, and every any_schedule and parsed schedule is checked to
// give bit for bit the library schedule's rates; a twin that drifted would
// make the comparison meaningless, so the program stops instead.
#include <clr/clr.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using clr::step_t;

// Steps, consecutive and random alike, stay in [0, step_range): ten million
// updates is a long training run, and every schedule below is laid out so
// that the range crosses many of its cycles, restarts or phases.
constexpr step_t step_range = 10'000'000;
// A power of two, so the random stream is indexed with a mask; 32 KiB of steps
// stay in L1 and the stream is far too long for the branch predictor to learn.
constexpr std::size_t random_count = 4096;
constexpr std::uint64_t random_seed = 20150603;

const std::vector<step_t>& random_steps() {
    static const std::vector<step_t> steps = [] {
        std::mt19937_64 gen(random_seed);
        std::uniform_int_distribution<step_t> pick(0, step_range - 1);
        std::vector<step_t> v(random_count);
        for (auto& t : v) t = pick(gen);
        return v;
    }();
    return steps;
}

// ---- hand-written twins -----------------------------------------------------
//
// What someone would type without the library: the plain formula, no input
// validation, no policy objects, and a + (b - a) * w without the library's
// exact end points and clamping to [a, b] (see agree() for what that changes).
// Where the library is general and a twin can be specific to the parameters
// used here (a whole T_mult of 2, two one-cycle phases, steps below 2^24), the
// twin is, since that is the code the library competes with.
namespace hand {

template <class T>
constexpr T pi = T(3.141592653589793238462643383279502884L);

// a + (b - a) * w, as typed by hand: the twins of the `hand` variant.
struct plain_mix {
    template <class T>
    static T of(T a, T b, T w) noexcept {
        return a + (b - a) * w;
    }
};

// The library's interpolation, written out as include/clr/schedule.hpp has
// it: exact at w = 1 and never past b. The twins of the `hand_exact` variant
// differ from the library only in the layers around the formula (CRTP base,
// policy objects, validation).
struct exact_mix {
    template <class T>
    static T of(T a, T b, T w) noexcept {
        if (w == T(1)) return b;
        const T v = a + (b - a) * w;
        return a <= b ? (v < b ? v : b) : (v > b ? v : b);
    }
};

template <class T>
struct constant {
    T lr;
    T operator()(step_t) const noexcept { return lr; }
};

// Position a in [0, 1] within a symmetric cycle of 2 * up steps.
template <class T>
T ramp(step_t p, step_t up) noexcept {
    return p < up ? static_cast<T>(p) / static_cast<T>(up)
                  : T(1) - static_cast<T>(p - up) / static_cast<T>(up);
}

template <class T, class Mix = plain_mix>
struct triangular {
    T base, max;
    step_t up;
    T operator()(step_t t) const noexcept { return Mix::of(base, max, ramp<T>(t % (2 * up), up)); }
};

template <class T, class Mix = plain_mix>
struct triangular2 {
    T base, max;
    step_t up;
    T operator()(step_t t) const noexcept {
        const step_t len = 2 * up;
        const step_t k = t / len;
        // Dividing by an exact power of two instead of calling ldexp. Past 63
        // halvings the term is below half an ulp of any base_lr used here.
        const T h = k < 64 ? ramp<T>(t % len, up) / static_cast<T>(step_t(1) << k) : T(0);
        return Mix::of(base, max, h);
    }
};

template <class T, class Mix = plain_mix>
struct exp_range {
    T base, max;
    step_t up;
    T gamma;
    T operator()(step_t t) const noexcept {
        return Mix::of(base, max, ramp<T>(t % (2 * up), up) * std::pow(gamma, static_cast<T>(t)));
    }
};

template <class T, class Mix = plain_mix>
struct welch {
    T base, max;
    step_t up;
    T operator()(step_t t) const noexcept {
        const T b = T(1) - ramp<T>(t % (2 * up), up);
        return Mix::of(base, max, T(1) - b * b);
    }
};

template <class T, class Mix = plain_mix>
struct hann {
    T base, max;
    step_t up;
    T operator()(step_t t) const noexcept {
        return Mix::of(base, max, (T(1) - std::cos(pi<T> * ramp<T>(t % (2 * up), up))) / T(2));
    }
};

inline unsigned floor_log2(step_t x) noexcept {  // x > 0
#if defined(__GNUC__)
    return 63u - static_cast<unsigned>(__builtin_clzll(x));
#else
    unsigned i = 0;
    while (x >>= 1) ++i;
    return i;
#endif
}

// T_mult = 2: period i starts at T_0 (2^i - 1), so i = floor(log2(t / T_0 + 1)).
template <class T, class Mix = plain_mix>
struct cosine_restarts_t2 {
    T eta_max, eta_min;
    step_t t0;
    T operator()(step_t t) const noexcept {
        const step_t pw = step_t(1) << floor_log2(t / t0 + 1);
        const T cur = static_cast<T>(t - (pw - 1) * t0);
        const T len = static_cast<T>(t0) * static_cast<T>(pw);
        return Mix::of(eta_min, eta_max, (T(1) + std::cos(pi<T> * cur / len)) / T(2));
    }
};

template <class T, class Mix = plain_mix>
struct cosine_restarts_t1 {
    T eta_max, eta_min;
    step_t t0;
    T operator()(step_t t) const noexcept {
        const T cur = static_cast<T>(t % t0);
        return Mix::of(eta_min, eta_max, (T(1) + std::cos(pi<T> * cur / static_cast<T>(t0))) / T(2));
    }
};

// Two phases, cosine anneal, PyTorch's defaults for the rest.
template <class T, class Mix = plain_mix>
struct one_cycle {
    T initial, top, minimum;
    T peak, last;  // last step of each phase
    step_t total;

    one_cycle(T max_lr, step_t total_steps)
        : initial(max_lr / T(25)),
          top(max_lr),
          minimum(max_lr / T(25) / T(1e4)),
          peak(T(0.3) * static_cast<T>(total_steps) - T(1)),
          last(static_cast<T>(total_steps) - T(1)),
          total(total_steps) {}

    T operator()(step_t t) const noexcept {
        if (t >= total - 1) return minimum;
        const T s = static_cast<T>(t);
        if (s <= peak) return Mix::of(top, initial, (std::cos(pi<T> * (s / peak)) + T(1)) / T(2));
        const T x = (s - peak) / (last - peak);
        return Mix::of(minimum, top, (std::cos(pi<T> * x) + T(1)) / T(2));
    }
};

// A linear warmup from 0 over n1 steps, the peak held for n2 steps, then a
// cosine decay to 0 over `total` steps, held there after.
template <class T, class Mix = plain_mix>
struct warmup_constant_cosine {
    T top;
    step_t n1, n2, total;
    T operator()(step_t t) const noexcept {
        if (t < n1) return Mix::of(T(0), top, static_cast<T>(t) / static_cast<T>(n1));
        t -= n1;
        if (t < n2) return top;
        t -= n2;
        if (t >= total) return T(0);
        return Mix::of(T(0), top,
                       (T(1) + std::cos(pi<T> * static_cast<T>(t) / static_cast<T>(total))) / T(2));
    }
};

template <class T, class Mix = plain_mix>
struct warmup_triangular {
    T start, target;
    step_t n;
    triangular<T, Mix> inner;
    T operator()(step_t t) const noexcept {
        if (t >= n) return inner(t - n);
        return Mix::of(start, target, static_cast<T>(t) / static_cast<T>(n));
    }
};

// plateau(cosine(top, total)) after reductions to `scale`, with floor min_lr.
template <class T, class Mix = plain_mix>
struct plateau_cosine {
    T top;
    step_t total;
    double scale;
    T min_lr;
    T operator()(step_t t) const noexcept {
        const T c =
            t >= total ? T(0)
                       : Mix::of(T(0), top,
                                 (T(1) + std::cos(pi<T> * static_cast<T>(t) / static_cast<T>(total))) / T(2));
        const T v = T(double(c) * scale);
        return v < min_lr ? min_lr : v;
    }
};

}  // namespace hand

// ---- the other two ways in --------------------------------------------------

// What a plugin-style API or a trainer configured at run time would hold.
template <class T>
class lr_source {
public:
    lr_source() = default;
    lr_source(const lr_source&) = default;
    lr_source& operator=(const lr_source&) = default;
    virtual ~lr_source() = default;
    virtual T lr(step_t t) const = 0;
};

template <class S>
class virtual_schedule final : public lr_source<typename S::value_type> {
public:
    explicit virtual_schedule(S s) : s_(std::move(s)) {}
    typename S::value_type lr(step_t t) const override { return s_.lr(t); }

private:
    S s_;
};

// ---- the self-check ---------------------------------------------------------

template <class T>
std::int64_t ordered_bits(T v) noexcept {
    if constexpr (sizeof(T) == 4) {
        std::int32_t i;
        std::memcpy(&i, &v, sizeof i);
        return i < 0 ? -std::int64_t(i & 0x7fffffff) : i;
    } else {
        std::int64_t i;
        std::memcpy(&i, &v, sizeof i);
        return i < 0 ? -(i & 0x7fffffffffffffff) : i;
    }
}

// Distance in representable values; huge for NaN or infinities on one side.
template <class T>
std::int64_t ulps_apart(T a, T b) noexcept {
    if (!std::isfinite(a) || !std::isfinite(b)) return a == b ? 0 : INT64_MAX;
    const std::int64_t d = ordered_bits(a) - ordered_bits(b);
    return d < 0 ? -d : d;
}

constexpr std::int64_t max_ulps = 4;

// a + (b - a) * w is exact to rounding in the larger of a and b, not in the
// result: where a one-cycle climb starts, at max_lr / 25, the plain formula
// lands a few ulps of the result away from the library's exact end point, but
// within an ulp of max_lr. Either bound passes.
template <class T>
bool agree(T a, T b, T peak) noexcept {
    if (ulps_apart(a, b) <= max_ulps) return true;
    const T peak_ulp = std::nextafter(peak, std::numeric_limits<T>::infinity()) - peak;
    return std::isfinite(a) && std::isfinite(b) && std::fabs(a - b) <= peak_ulp;
}

template <class S, class H>
void check_twin(const char* name, const char* type, const S& lib, const H& twin) {
    std::vector<step_t> steps(random_steps());
    for (step_t t = 0; t < 4096; ++t) steps.push_back(t);
    for (step_t t : {step_range - 2, step_range - 1, step_range, step_t(1) << 24}) steps.push_back(t);
    for (step_t t : steps) {
        const auto a = lib.lr(t);
        const auto b = twin(t);
        if (!agree(a, b, lib.bounds().hi)) {
            std::fprintf(stderr,
                         "bench_schedules: the hand-written %s<%s> disagrees with the library at step %llu: "
                         "%.17g against %.17g; the comparison would not be like for like\n",
                         name, type, static_cast<unsigned long long>(t), static_cast<double>(b),
                         static_cast<double>(a));
            std::exit(EXIT_FAILURE);
        }
    }
}

// An any_schedule or a schedule read from text holds the library schedule
// itself, so it must give the very same bits, not merely close ones.
template <class T>
bool same_bits(T a, T b) noexcept {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "float or double");
    using bits_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    bits_t x;
    bits_t y;
    std::memcpy(&x, &a, sizeof a);
    std::memcpy(&y, &b, sizeof b);
    return x == y;
}

template <class S, class A>
void check_same(const char* name, const char* variant, const char* type, const S& lib, const A& other) {
    std::vector<step_t> steps(random_steps());
    for (step_t t = 0; t < 4096; ++t) steps.push_back(t);
    for (step_t t : {step_range - 2, step_range - 1, step_range, step_t(1) << 24}) steps.push_back(t);
    for (step_t t : steps) {
        const auto a = lib.lr(t);
        const auto b = other.lr(t);
        if (!same_bits(a, b)) {
            std::fprintf(stderr,
                         "bench_schedules: %s<%s> (%s) differs from the library schedule at step %llu: "
                         "%.17g against %.17g\n",
                         name, type, variant, static_cast<unsigned long long>(t), static_cast<double>(b),
                         static_cast<double>(a));
            std::exit(EXIT_FAILURE);
        }
    }
}

// ---- the timed loops --------------------------------------------------------

enum class steps { consecutive, random };

// One loop for all four variants, so that they pay the same per-iteration
// overhead and differ only in how `call` reaches the formula. Each result goes
// through DoNotOptimize, whose memory clobber also keeps the compiler from
// carrying anything read from the schedule over to the next call: every call
// starts from the schedule in memory, as it would between two training steps.
template <class Call>
void run(benchmark::State& state, steps kind, const Call& call) {
    if (kind == steps::consecutive) {
        step_t t = 0;
        for (auto _ : state) {
            benchmark::DoNotOptimize(call(t));
            t = t + 1 < step_range ? t + 1 : 0;
        }
    } else {
        const step_t* const buf = random_steps().data();
        std::size_t i = 0;
        for (auto _ : state) {
            benchmark::DoNotOptimize(call(buf[i]));
            i = (i + 1) & (random_count - 1);
        }
    }
    state.SetItemsProcessed(state.iterations());
}

// The object a variant calls is reached through a pointer the compiler cannot
// see through: it cannot fold the schedule's parameters into constants (a
// division by a known step size becomes a multiplication), and it cannot
// devirtualise the virtual call or look inside the std::function.
// A volatile read rather than benchmark::DoNotOptimize: its "+m,r" operand
// lets the compiler treat the pointer as rewritten, and in a -O0 sanitizer
// build the pointer read back was garbage.
template <class P>
P opaque(P p) {
    const volatile P hidden = p;
    return hidden;
}

// with_parsed: also time the schedule read back from its text.
template <class S, class H, class E>
void add(const char* name, const char* type, S lib, H twin, E exact, bool with_parsed = false) {
    using T = typename S::value_type;
    check_twin(name, type, lib, twin);
    check_twin(name, type, lib, exact);
    const clr::any_schedule<T> any(lib);
    check_same(name, "any", type, lib, any);
    std::optional<clr::any_schedule<T>> parsed;
    if (with_parsed) {
        parsed.emplace(clr::parse_schedule<T>(clr::to_string(lib)));
        check_same(name, "parsed", type, lib, *parsed);
    }

    for (const steps kind : {steps::consecutive, steps::random}) {
        const std::string prefix = std::string("schedule/") + name + "/";
        const std::string suffix =
            std::string(kind == steps::consecutive ? "/consecutive/" : "/random/") + type;
        auto reg = [&](const char* variant, auto fn) {
            std::string full = prefix;
            full += variant;
            full += suffix;
            auto* b = benchmark::RegisterBenchmark(full.c_str(), std::move(fn));
            b->Unit(benchmark::kNanosecond);
        };

        reg("clr", [lib, kind](benchmark::State& state) {
            const S* p = opaque(&lib);
            run(state, kind, [p](step_t t) { return p->lr(t); });
        });
        reg("hand", [twin, kind](benchmark::State& state) {
            const H* p = opaque(&twin);
            run(state, kind, [p](step_t t) { return (*p)(t); });
        });
        reg("hand_exact", [exact, kind](benchmark::State& state) {
            const E* p = opaque(&exact);
            run(state, kind, [p](step_t t) { return (*p)(t); });
        });
        reg("virtual", [lib, kind](benchmark::State& state) {
            virtual_schedule<S> v(lib);
            const lr_source<T>* p = opaque<const lr_source<T>*>(&v);
            run(state, kind, [p](step_t t) { return p->lr(t); });
        });
        reg("function", [lib, kind](benchmark::State& state) {
            std::function<T(step_t)> f(lib);
            const std::function<T(step_t)>* p = opaque(&f);
            run(state, kind, [p](step_t t) { return (*p)(t); });
        });
        reg("any", [any, kind](benchmark::State& state) {
            const clr::any_schedule<T>* p = opaque(&any);
            run(state, kind, [p](step_t t) { return p->lr(t); });
        });
        if (parsed) {
            reg("parsed", [s = *parsed, kind](benchmark::State& state) {
                const clr::any_schedule<T>* p = opaque(&s);
                run(state, kind, [p](step_t t) { return p->lr(t); });
            });
        }
    }
}

// The once-per-run costs: writing a schedule as text and reading it back.
template <class S>
void add_text(const char* name, const char* type, S lib) {
    using T = typename S::value_type;
    const std::string text = clr::to_string(lib);
    check_same(name, "parsed", type, lib, clr::parse_schedule<T>(text));
    const std::string suffix = std::string("/") + name + "/" + type;
    benchmark::RegisterBenchmark(("text/to_string" + suffix).c_str(), [lib](benchmark::State& state) {
        const S* p = opaque(&lib);
        for (auto _ : state) benchmark::DoNotOptimize(clr::to_string(*p));
        state.SetItemsProcessed(state.iterations());
    })->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("text/parse_schedule" + suffix).c_str(), [text](benchmark::State& state) {
        const std::string* p = opaque(&text);
        for (auto _ : state) benchmark::DoNotOptimize(clr::parse_schedule<T>(*p));
        state.SetItemsProcessed(state.iterations());
    })->Unit(benchmark::kMicrosecond);
}

template <class T>
void add_all(const char* type) {
    // Smith's CIFAR-10 settings (base 0.001, max 0.006, step size 2000), SGDR
    // with T_0 = 1000, and a one-cycle run as long as the step range.
    const T base = T(0.001), top = T(0.006);
    const step_t up = 2000;
    const T gamma = T(0.99994);

    using hand::exact_mix;
    add("constant", type, clr::constant<T>(T(0.01)), hand::constant<T>{T(0.01)}, hand::constant<T>{T(0.01)});
    add("triangular", type, clr::triangular<T>(base, top, up), hand::triangular<T>{base, top, up},
        hand::triangular<T, exact_mix>{base, top, up});
    add("triangular2", type, clr::triangular2<T>(base, top, up), hand::triangular2<T>{base, top, up},
        hand::triangular2<T, exact_mix>{base, top, up});
    add("exp_range", type, clr::exp_range<T>(base, top, up, gamma), hand::exp_range<T>{base, top, up, gamma},
        hand::exp_range<T, exact_mix>{base, top, up, gamma});
    add("welch", type, clr::welch<T>(base, top, up), hand::welch<T>{base, top, up},
        hand::welch<T, exact_mix>{base, top, up});
    add("hann", type, clr::hann<T>(base, top, up), hand::hann<T>{base, top, up},
        hand::hann<T, exact_mix>{base, top, up});
    add("cosine_restarts", type,
        clr::cosine_restarts<T>(T(0.05), 1000).with_t_mult(T(2)).with_eta_min(T(0.001)),
        hand::cosine_restarts_t2<T>{T(0.05), T(0.001), 1000},
        hand::cosine_restarts_t2<T, exact_mix>{T(0.05), T(0.001), 1000});
    add("cosine_restarts_tmult1", type, clr::cosine_restarts<T>(T(0.05), 1000).with_eta_min(T(0.001)),
        hand::cosine_restarts_t1<T>{T(0.05), T(0.001), 1000},
        hand::cosine_restarts_t1<T, exact_mix>{T(0.05), T(0.001), 1000});
    // Built with momentum cycling, as a trainer would use it; only lr is timed.
    add("one_cycle", type, clr::one_cycle<T>(T(0.1), step_range).with_momentum(),
        hand::one_cycle<T>(T(0.1), step_range), hand::one_cycle<T, exact_mix>(T(0.1), step_range));
    add("warmup_triangular", type, clr::warmup(clr::triangular<T>(base, top, up), 500, T(0)),
        hand::warmup_triangular<T>{T(0), base, 500, hand::triangular<T>{base, top, up}},
        hand::warmup_triangular<T, exact_mix>{T(0), base, 500,
                                              hand::triangular<T, exact_mix>{base, top, up}});
    // The usual three pieces: a linear warmup over 1000 steps, the peak held
    // to step 4,000,000, a cosine decay to 0 that ends with the step range.
    const step_t warm = 1000, hold = 3'999'000, decay = step_range - warm - hold;
    const auto seq = clr::sequence(clr::linear<T>(T(0), T(0.1), warm), warm, clr::constant<T>(T(0.1)), hold,
                                   clr::cosine<T>(T(0.1), decay));
    add("sequence3", type, seq, hand::warmup_constant_cosine<T>{T(0.1), warm, hold, decay},
        hand::warmup_constant_cosine<T, exact_mix>{T(0.1), warm, hold, decay}, true);

    // A plateau over a cosine after three reductions (reports of a metric
    // that never improves): what lr(t) costs once the metric has been followed.
    auto plateau = clr::plateau(clr::cosine<T>(T(0.1), step_range)).with_patience(0).with_factor(T(0.5));
    plateau = plateau.with_min_lr(T(1e-4));
    for (int i = 0; i < 4; ++i) clr::report(plateau, 1.0);
    add("plateau_cosine", type, plateau, hand::plateau_cosine<T>{T(0.1), step_range, 0.125, T(1e-4)},
        hand::plateau_cosine<T, exact_mix>{T(0.1), step_range, 0.125, T(1e-4)});

    add_text("triangular", type, clr::triangular<T>(base, top, up));
    add_text("one_cycle", type, clr::one_cycle<T>(T(0.1), step_range).with_momentum());
    add_text("sequence3", type, seq);
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    try {  // building the cases parses schedules' text, which may throw
        add_all<float>("float");
        add_all<double>("double");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_schedules: %s\n", e.what());
        return 1;
    }

    benchmark::AddCustomContext("clr_calls_per_iteration", "1");
    benchmark::AddCustomContext("clr_step_range", "[0, " + std::to_string(step_range) + ")");
    benchmark::AddCustomContext(
        "clr_random_steps", std::to_string(random_count) + " uniform, seed " + std::to_string(random_seed));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
