// Properties every schedule keeps for every valid parameter set and every step,
// tried over random parameters and steps spread across the whole uint64 range.
//
// The cases come from a std::mt19937_64 seeded with Catch's --rng-seed (a fixed
// seed when none is given) mixed with the property's name, so each property
// draws the same cases whatever else runs. A failure reports the seed, the case
// number and the parameters; `clr_tests "[property]" --rng-seed <seed>`
// reproduces it, and other seeds explore further.
#include <clr/clr.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using clr::step_t;
using rng_t = std::mt19937_64;

constexpr step_t last_step = std::numeric_limits<step_t>::max();
// The longest step size, period or total the library accepts.
constexpr step_t max_length = step_t(1) << 62;

// How much checking a run did, printed when the program ends.
struct tally_t {
    std::uint64_t sets = 0;      // parameter sets tried
    std::uint64_t checks = 0;    // property checks made on them
    std::uint64_t rejected = 0;  // drawn sets the library rightly refused
    std::uint64_t seed = 0;

    tally_t() = default;
    tally_t(const tally_t&) = delete;
    tally_t& operator=(const tally_t&) = delete;
    ~tally_t() {
        if (sets != 0)
            std::cerr << "clr properties: " << checks << " checks over " << sets << " parameter sets ("
                      << rejected << " more drawn sets rightly refused), seed " << seed << '\n';
    }
};

tally_t& tally() {
    static tally_t t;
    return t;
}

std::uint64_t run_seed() {
    const unsigned s = Catch::rngSeed();
    tally().seed = s != 0 ? s : 20150603u;
    return tally().seed;
}

// Each property has its own stream, so adding or reordering tests leaves the
// cases every other property sees unchanged.
rng_t stream(const char* property) {
    std::uint64_t h = 1469598103934665603u;  // FNV-1a
    for (const char* p = property; *p != '\0'; ++p) {
        h ^= static_cast<unsigned char>(*p);
        h *= 1099511628211u;
    }
    return rng_t(run_seed() ^ h);
}

// Catch's assertion macros cost far more than the evaluations they guard, so a
// property goes through Catch (with the given captures) only when it fails.
#define CLR_PROPERTY(cond, ...)   \
    do {                          \
        ++tally().checks;         \
        if (!(cond)) {            \
            CAPTURE(__VA_ARGS__); \
            REQUIRE((cond));      \
        }                         \
    } while (false)

// Every digit, so that a one-ulp difference shows in a failure report.
template <class V>
std::string exact(V v) {
    std::ostringstream o;
    o << std::setprecision(std::numeric_limits<V>::max_digits10) << v;
    return o.str();
}

// "name=value name=value ...", the parameters of a case for its failure report.
class params {
public:
    explicit params(const std::string& prefix = {}) { out_ << prefix; }

    template <class V>
    params& operator()(const char* name, V v) {
        if constexpr (std::is_floating_point_v<V>)
            out_ << name << '=' << exact(v) << ' ';
        else
            out_ << name << '=' << v << ' ';
        return *this;
    }
    std::string str() const { return out_.str(); }

private:
    std::ostringstream out_;
};

// ---- drawing parameters ------------------------------------------------------

std::uint64_t below(rng_t& r, std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(r);
}

bool chance(rng_t& r, unsigned percent) { return below(r, 100) < percent; }

// Uniform on [0, 1), every value exact in T. (uniform_real_distribution<float>
// can return 1.)
template <class T>
T unit(rng_t& r) {
    constexpr int d = std::numeric_limits<T>::digits;
    return std::ldexp(static_cast<T>(r() >> (64 - d)), -d);
}

// A step anywhere in [0, 2^64). A uniform draw almost never lands on a small
// step, so the magnitude is drawn first, and the edges get their own share.
step_t any_step(rng_t& r) {
    switch (below(r, 6)) {
        case 0: return r();
        case 1: {
            const auto bits = below(r, 65);
            return bits == 0 ? 0 : r() >> (64 - bits);
        }
        case 2: return below(r, 1000);
        case 3: return last_step - below(r, 1000);
        case 4: return (step_t(1) << below(r, 64)) - 2 + below(r, 5);  // around a power of two
        default: return (step_t(1) << 63) - 2 + below(r, 5);
    }
}

// A step size, period or total: 1 to 2^62.
step_t any_length(rng_t& r) {
    switch (below(r, 5)) {
        case 0: return 1 + below(r, 8);
        case 1: return 1 + below(r, 5000);
        case 2: return max_length - below(r, 3);
        default: {
            const auto bits = 1 + below(r, 62);
            return std::max<step_t>(1, r() >> (64 - bits));
        }
    }
}

// A rate: mostly the magnitudes training uses, but every normal magnitude of T
// and its edges too. Never negative.
template <class T>
T any_rate(rng_t& r) {
    using lim = std::numeric_limits<T>;
    switch (below(r, 10)) {
        case 0: return T(0);
        case 1: return lim::max();
        case 2: return lim::denorm_min();
        case 3: return lim::min();
        case 4:
        case 5:
        case 6: return std::pow(T(10), T(-6) + T(7) * unit<T>(r));
        default: {
            const int e = std::uniform_int_distribution<int>(lim::min_exponent - 1, lim::max_exponent - 1)(r);
            return std::ldexp(T(1) + unit<T>(r), e);
        }
    }
}

template <class T>
T any_positive_rate(rng_t& r) {
    T v = any_rate<T>(r);
    return v > T(0) ? v : std::numeric_limits<T>::denorm_min();
}

// lo <= hi: sometimes equal, sometimes lo = 0, and often within a factor of
// four, where hi - lo loses the low bits of both and rounding shows.
template <class T>
std::pair<T, T> ordered_rates(rng_t& r) {
    T lo = any_rate<T>(r);
    T hi = lo;
    switch (below(r, 10)) {
        case 0: break;
        case 1:
        case 2:
        case 3: hi = lo * (T(1) + T(3) * unit<T>(r)); break;
        default: hi = any_rate<T>(r);
    }
    if (!std::isfinite(hi)) hi = lo;
    if (hi < lo) std::swap(lo, hi);
    if (chance(r, 15)) lo = T(0);
    return {lo, hi};
}

// base <= max in [0, 1).
template <class T>
std::pair<T, T> momenta(rng_t& r) {
    auto one = [&r] {
        switch (below(r, 6)) {
            case 0: return T(0);
            case 1: return std::nextafter(T(1), T(0));
            default: return unit<T>(r);
        }
    };
    T lo = one();
    T hi = chance(r, 10) ? lo : one();
    if (hi < lo) std::swap(lo, hi);
    return {lo, hi};
}

// A factor in (0, 1]: exp_range's gamma, cosine_restarts' m_mul.
template <class T>
T any_decay(rng_t& r) {
    using lim = std::numeric_limits<T>;
    switch (below(r, 6)) {
        case 0: return T(1);
        case 1: return std::nextafter(T(1), T(0));
        case 2: return T(1) - std::ldexp(T(1), -static_cast<int>(1 + below(r, lim::digits)));
        case 3: return lim::denorm_min();
        default: return std::max(unit<T>(r), lim::denorm_min());
    }
}

// T_mult >= 1: whole numbers up to 2^32 (counted exactly by the library) and
// beyond, fractions, a few ulps above 1, and enormous ones.
template <class T>
T any_t_mult(rng_t& r) {
    switch (below(r, 9)) {
        case 0: return T(1);
        case 1: return T(2 + below(r, 7));
        case 2: return static_cast<T>(2 + below(r, std::uint64_t(1) << 32));
        case 3: return T(4294967296.0);
        case 4: return T(1) + std::ldexp(T(1), -static_cast<int>(1 + below(r, 4))) * T(1 + below(r, 3));
        case 5: return T(1) + T(3) * unit<T>(r);
        case 6: {
            T m = T(1);
            for (auto n = below(r, 4); n-- > 0;) m = std::nextafter(m, T(2));
            return std::nextafter(m, T(2));
        }
        case 7:
            return std::ldexp(T(1) + unit<T>(r),
                              static_cast<int>(33 + below(r, std::numeric_limits<T>::max_exponent - 34)));
        default: return std::numeric_limits<T>::max();
    }
}

// ---- cases -------------------------------------------------------------------

// A schedule with what a failure report and the checks need to know about it.
template <class S>
struct sample {
    using T = typename S::value_type;
    S s;
    std::string what;
    // Where the cycled momentum must lie at step t; nothing where the schedule
    // leaves momentum to the optimizer.
    std::function<std::optional<clr::range<T>>(step_t)> momentum;
    // Steps where the shape changes (peaks, restarts, the ends of phases).
    std::vector<step_t> landmarks;
};

template <class T>
std::function<std::optional<clr::range<T>>(step_t)> fixed_momentum(std::optional<clr::range<T>> m) {
    return [m](step_t) { return m; };
}

// t + d, or nothing past the last step.
void push_shifted(std::vector<step_t>& out, step_t t, step_t d) {
    if (t <= last_step - d) out.push_back(t + d);
}

template <class T, class Window, class Scale>
sample<clr::cyclic<T, Window, Scale>> any_cyclic(rng_t& r, Scale scale, const std::string& what) {
    params p(what);
    const auto [lo, hi] = ordered_rates<T>(r);
    const step_t up = any_length(r);
    p("base_lr", lo)("max_lr", hi)("step_size_up", up);
    const step_t down = chance(r, 50) ? any_length(r) : 0;
    if (down != 0) p("step_size_down", down);
    std::optional<clr::range<T>> m;
    if (chance(r, 50)) {
        const auto [bm, mm] = momenta<T>(r);
        m = clr::range<T>{bm, mm};
        p("base_momentum", bm)("max_momentum", mm);
    }
    // Built without assignment: a user scale holding a lambda cannot be assigned.
    const clr::cyclic<T, Window, Scale> plain(lo, hi, up, std::move(scale));
    const auto sized = down != 0 ? plain.with_step_size_down(down) : plain;
    const auto s = m ? sized.with_momentum(m->lo, m->hi) : sized;
    const step_t len = s.cycle_length();
    std::vector<step_t> marks{0, up - 1, up, up + 1, len - 1, len, len + up, last_step};
    const step_t k = below(r, (last_step - up) / len + 1);
    marks.push_back(k * len + up);
    return {s, p.str(), fixed_momentum(m), marks};
}

template <class T>
sample<clr::cosine_restarts<T>> any_cosine(rng_t& r) {
    const auto [lo, hi] = ordered_rates<T>(r);
    const step_t t0 = any_length(r);
    const T t_mult = any_t_mult<T>(r);
    const T m_mul = chance(r, 40) ? T(1) : any_decay<T>(r);
    const auto s = clr::cosine_restarts<T>(hi, t0).with_eta_min(lo).with_t_mult(t_mult).with_m_mul(m_mul);
    const std::string what =
        params()("eta_max", hi)("eta_min", lo)("T_0", t0)("T_mult", t_mult)("m_mul", m_mul).str();
    std::vector<step_t> marks{0, t0 - 1, t0, t0 + 1, last_step};
    push_shifted(marks, t0, t0);
    return {s, what, fixed_momentum<T>(std::nullopt), marks};
}

template <class T>
struct one_cycle_params {
    T max_lr;
    step_t total;
    T pct;
    T div;
    T final_div;
    clr::anneal anneal;
    bool three_phase;
    std::optional<std::pair<T, T>> momentum;

    // The rates the schedule moves between exist as finite numbers of type T;
    // parameters that push them past the largest finite value must be refused.
    bool representable() const {
        const T initial = max_lr / div;
        return std::isfinite(initial) && std::isfinite(initial / final_div);
    }

    clr::one_cycle<T> make() const {
        auto s = clr::one_cycle<T>(max_lr, total)
                     .with_pct_start(pct)
                     .with_three_phase(three_phase)
                     .with_div_factor(div)
                     .with_final_div_factor(final_div)
                     .with_anneal(anneal);
        if (momentum) s = s.with_momentum(momentum->first, momentum->second);
        return s;
    }

    std::string describe() const {
        params p;
        p("max_lr", max_lr)("total_steps", total)("pct_start", pct)("div_factor", div)("final_div_factor",
                                                                                       final_div);
        p("anneal", anneal == clr::anneal::cos ? "cos" : "linear")("three_phase", three_phase);
        if (momentum) p("base_momentum", momentum->first)("max_momentum", momentum->second);
        return p.str();
    }
};

// `extreme` also draws factors that overflow max_lr / div_factor.
template <class T>
one_cycle_params<T> any_one_cycle_params(rng_t& r, bool extreme) {
    one_cycle_params<T> p{};
    p.max_lr = extreme ? any_positive_rate<T>(r) : std::pow(T(10), T(-5) + T(6) * unit<T>(r));
    p.total = chance(r, 50) ? 1 + below(r, 3000) : any_length(r);
    p.three_phase = chance(r, 40);
    const T top = p.three_phase ? T(0.5) : T(1);
    switch (below(r, 5)) {
        case 0: p.pct = T(0.3); break;
        case 1: p.pct = std::nextafter(top, T(0)); break;
        case 2: p.pct = std::ldexp(top, -static_cast<int>(1 + below(r, 40))); break;
        default: p.pct = std::max(top * unit<T>(r), std::numeric_limits<T>::min());
    }
    auto factor = [&r, extreme] {
        if (extreme && chance(r, 30)) return any_positive_rate<T>(r);
        return std::pow(T(10), T(5) * unit<T>(r));  // 1 to 1e5
    };
    p.div = factor();
    p.final_div = factor();
    p.anneal = chance(r, 50) ? clr::anneal::cos : clr::anneal::linear;
    if (chance(r, 50)) p.momentum = momenta<T>(r);
    return p;
}

template <class T>
sample<clr::one_cycle<T>> one_cycle_sample(const one_cycle_params<T>& p) {
    std::optional<clr::range<T>> m;
    if (p.momentum) m = clr::range<T>{p.momentum->first, p.momentum->second};
    const auto peak = static_cast<step_t>(std::max(T(0), std::round(p.pct * static_cast<T>(p.total) - T(1))));
    std::vector<step_t> marks{0, p.total - 1, p.total, last_step, peak};
    if (peak > 0) marks.push_back(peak - 1);
    push_shifted(marks, peak, 1);
    push_shifted(marks, peak, peak);  // where three phases come back to initial
    return {p.make(), p.describe(), fixed_momentum(m), marks};
}

template <class S>
sample<clr::warmup_schedule<S>> any_warmup(rng_t& r, const sample<S>& inner) {
    using T = typename S::value_type;
    const step_t n = chance(r, 10) ? 0 : any_length(r);
    const T start = any_rate<T>(r);
    const auto s = clr::warmup(inner.s, n, start);
    auto m = [mi = inner.momentum, n](step_t t) { return mi(t >= n ? t - n : 0); };
    std::vector<step_t> marks{0, 1, n, n + 1, last_step};
    if (n > 0) marks.push_back(n - 1);
    for (const step_t t : inner.landmarks) push_shifted(marks, t, n);
    return {s, "warmup steps=" + std::to_string(n) + " start_lr=" + exact(start) + " of " + inner.what, m,
            marks};
}

template <class A, class B>
sample<clr::sequence_schedule<A, B>> any_sequence(rng_t& r, const sample<A>& a, const sample<B>& b) {
    const step_t n = chance(r, 10) ? 0 : any_length(r);
    const auto s = clr::sequence(a.s, n, b.s);
    auto m = [ma = a.momentum, mb = b.momentum, n](step_t t) { return t < n ? ma(t) : mb(t - n); };
    std::vector<step_t> marks{0, n, n + 1, last_step};
    if (n > 0) marks.push_back(n - 1);
    for (const step_t t : a.landmarks)
        if (t < n) marks.push_back(t);
    for (const step_t t : b.landmarks) push_shifted(marks, t, n);
    return {s, "sequence boundary=" + std::to_string(n) + " of (" + a.what + ") then (" + b.what + ")", m,
            marks};
}

// ---- the everyday decays ------------------------------------------------------------

// A polynomial power: whole and fractional, tiny and huge.
template <class T>
T any_power(rng_t& r) {
    using lim = std::numeric_limits<T>;
    switch (below(r, 7)) {
        case 0: return T(1);
        case 1: return T(2);
        case 2: return T(0.5);
        case 3: return lim::denorm_min();
        case 4: return lim::max();
        case 5: return std::pow(T(10), T(-3) + T(6) * unit<T>(r));
        default: return T(0.1) + T(4) * unit<T>(r);
    }
}

template <class T>
sample<clr::cosine<T>> any_cosine_decay(rng_t& r) {
    const auto [lo, hi] = ordered_rates<T>(r);
    const step_t total = any_length(r);
    const auto s = clr::cosine<T>(hi, total).with_eta_min(lo);
    return {s,
            params("cosine ")("lr", hi)("eta_min", lo)("total_steps", total).str(),
            fixed_momentum<T>(std::nullopt),
            {0, 1, total / 2, total - 1, total, total + 1, last_step}};
}

template <class T>
sample<clr::linear<T>> any_linear(rng_t& r) {
    const T a = any_rate<T>(r);
    const T b = chance(r, 10) ? a : any_rate<T>(r);
    const step_t total = any_length(r);
    return {clr::linear<T>(a, b, total),
            params("linear ")("start_lr", a)("end_lr", b)("total_steps", total).str(),
            fixed_momentum<T>(std::nullopt),
            {0, 1, total / 2, total - 1, total, total + 1, last_step}};
}

template <class T>
sample<clr::polynomial<T>> any_polynomial(rng_t& r) {
    const T a = any_rate<T>(r);
    const T b = chance(r, 30) ? T(0) : any_rate<T>(r);
    const step_t total = any_length(r);
    const T power = any_power<T>(r);
    return {clr::polynomial<T>(a, b, total, power),
            params("polynomial ")("lr", a)("end_lr", b)("total_steps", total)("power", power).str(),
            fixed_momentum<T>(std::nullopt),
            {0, 1, total / 2, total - 1, total, total + 1, last_step}};
}

template <class T>
sample<clr::exponential<T>> any_exponential(rng_t& r) {
    const T lr = any_rate<T>(r);
    const T gamma = any_decay<T>(r);
    return {clr::exponential<T>(lr, gamma),
            params("exponential ")("lr", lr)("gamma", gamma).str(),
            fixed_momentum<T>(std::nullopt),
            {0, 1, 2, 1000, step_t(1) << 40, last_step}};
}

template <class T>
sample<clr::step_decay<T>> any_step_decay(rng_t& r) {
    const T lr = any_rate<T>(r);
    const step_t n = any_length(r);
    const T gamma = any_decay<T>(r);
    std::vector<step_t> marks{0, n - 1, n, last_step};
    push_shifted(marks, n, n);
    return {clr::step_decay<T>(lr, n, gamma),
            params("step_decay ")("lr", lr)("step_size", n)("gamma", gamma).str(),
            fixed_momentum<T>(std::nullopt), marks};
}

// Up to the most milestones multistep holds, strictly increasing, in [0, 2^62].
template <class T>
sample<clr::multistep<T>> any_multistep(rng_t& r) {
    const T lr = any_rate<T>(r);
    const T gamma = any_decay<T>(r);
    std::vector<step_t> m;
    const auto n = below(r, clr::multistep<T>::max_milestones + 1);
    const bool short_run = chance(r, 50);
    for (std::uint64_t i = 0; i < n; ++i) m.push_back(short_run ? below(r, 5000) : below(r, max_length + 1));
    std::sort(m.begin(), m.end());
    m.erase(std::unique(m.begin(), m.end()), m.end());
    params p("multistep ");
    p("lr", lr)("gamma", gamma);
    std::ostringstream list;
    for (const step_t x : m) list << x << ' ';
    p("milestones", list.str());
    std::vector<step_t> marks{0, last_step};
    for (const step_t x : m) {
        marks.push_back(x);
        if (x > 0) marks.push_back(x - 1);
    }
    return {clr::multistep<T>(lr, m, gamma), p.str(), fixed_momentum<T>(std::nullopt), marks};
}

// sequence(a, n1, b, n2, c), with what its momentum must be and its landmarks.
template <class A, class B, class C>
auto any_sequence3(rng_t& r, const sample<A>& a, const sample<B>& b, const sample<C>& c) {
    const step_t n1 = chance(r, 10) ? 0 : any_length(r);
    const step_t n2 = chance(r, 10) ? 0 : any_length(r);
    const auto s = clr::sequence(a.s, n1, b.s, n2, c.s);
    auto m = [ma = a.momentum, mb = b.momentum, mc = c.momentum, n1, n2](step_t t) {
        return t < n1 ? ma(t) : t - n1 < n2 ? mb(t - n1) : mc(t - n1 - n2);
    };
    std::vector<step_t> marks{0, n1, n1 + n2, n1 + n2 + 1, last_step};
    if (n1 > 0) marks.push_back(n1 - 1);
    if (n1 + n2 > 0) marks.push_back(n1 + n2 - 1);
    for (const step_t t : a.landmarks)
        if (t < n1) marks.push_back(t);
    for (const step_t t : b.landmarks)
        if (t < n2) push_shifted(marks, t, n1);
    for (const step_t t : c.landmarks) push_shifted(marks, t, n1 + n2);
    using S = std::decay_t<decltype(s)>;
    return sample<S>{s,
                     "sequence n1=" + std::to_string(n1) + " n2=" + std::to_string(n2) + " of (" + a.what +
                         ") then (" + b.what + ") then (" + c.what + ")",
                     m, marks};
}

// ---- the bounds property -------------------------------------------------------

// The same number, bit for bit (so -0 and +0 differ).
template <class T>
bool same_bits(T a, T b) {
    return a == b && std::signbit(a) == std::signbit(b);
}

// to_string, parse_schedule and to_string again: the same text, and bit for
// bit the same schedule at the sample's landmarks and at random steps.
template <class S>
void check_text_round_trip(const sample<S>& c, rng_t& r) {
    if constexpr (clr::has_text_form_v<S>) {
        using T = typename S::value_type;
        const std::string text = clr::to_string(c.s);
        std::optional<clr::any_schedule<T>> back;
        std::string refused;
        try {
            back.emplace(clr::parse_schedule<T>(text));
        } catch (const std::exception& e) {
            refused = e.what();
        }
        CLR_PROPERTY(back.has_value(), text, refused);
        if (!back) return;
        const std::string again = clr::to_string(*back);
        CLR_PROPERTY(again == text, text, again);
        CLR_PROPERTY(
            same_bits(back->bounds().lo, c.s.bounds().lo) && same_bits(back->bounds().hi, c.s.bounds().hi),
            text);
        auto at = [&](step_t t) {
            const T want = c.s(t), got = (*back)(t);
            CLR_PROPERTY(same_bits(got, want), text, t, exact(got), exact(want));
            const std::optional<T> wm = c.s.momentum(t), gm = back->momentum(t);
            CLR_PROPERTY(wm.has_value() == gm.has_value() && (!wm || same_bits(*gm, *wm)), text, t);
        };
        for (const step_t t : c.landmarks) at(t);
        for (int i = 0; i < 16; ++i) at(any_step(r));
    }
}

template <class S>
void check_bounds(const sample<S>& c, rng_t& r) {
    using T = typename S::value_type;
    ++tally().sets;
    CAPTURE(c.what);
    const clr::range<T> b = c.s.bounds();
    CLR_PROPERTY(std::isfinite(b.lo) && std::isfinite(b.hi) && b.lo <= b.hi, exact(b.lo), exact(b.hi));
    auto at = [&](step_t t) {
        const T v = c.s(t);
        CLR_PROPERTY(std::isfinite(v) && b.contains(v), t, exact(v), exact(b.lo), exact(b.hi));
        const std::optional<T> m = c.s.momentum(t);
        const std::optional<clr::range<T>> want = c.momentum(t);
        CLR_PROPERTY(m.has_value() == want.has_value(), t);
        if (m)
            CLR_PROPERTY(std::isfinite(*m) && want->contains(*m), t, exact(*m), exact(want->lo),
                         exact(want->hi));
    };
    for (const step_t t : c.landmarks) at(t);
    for (int i = 0; i < 16; ++i) at(any_step(r));
    check_text_round_trip(c, r);
}

template <class Make>
void bounds_cases(rng_t& r, int count, Make make) {
    for (int i = 0; i < count; ++i) {
        CAPTURE(run_seed(), i);
        check_bounds(make(), r);
    }
}

constexpr int bounds_sets = 150;  // per family and floating type

}  // namespace

TEMPLATE_TEST_CASE(
    "property: every value is finite and inside bounds(), momentum inside its range, and the "
    "text form reads back bit for bit",
    "[property]", float, double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "bounds/float" : "bounds/double");

    SECTION("cyclic windows and scales") {
        bounds_cases(r, bounds_sets, [&] {
            return any_cyclic<T, clr::triangular_window>(r, clr::no_scale{},
                                                         params()("policy", "triangular").str());
        });
        bounds_cases(r, bounds_sets, [&] {
            return any_cyclic<T, clr::welch_window>(r, clr::no_scale{}, params()("policy", "welch").str());
        });
        bounds_cases(r, bounds_sets, [&] {
            return any_cyclic<T, clr::hann_window>(r, clr::no_scale{}, params()("policy", "hann").str());
        });
        bounds_cases(r, bounds_sets, [&] {
            return any_cyclic<T, clr::triangular_window>(r, clr::halving_scale{},
                                                         params()("policy", "triangular2").str());
        });
        bounds_cases(r, bounds_sets, [&] {
            return any_cyclic<T, clr::hann_window>(r, clr::halving_scale{},
                                                   params()("policy", "hann+halving").str());
        });
        bounds_cases(r, bounds_sets, [&] {
            const T g = any_decay<T>(r);
            return any_cyclic<T, clr::triangular_window>(r, clr::exp_scale<T>(g),
                                                         params()("policy", "exp_range")("gamma", g).str());
        });
        bounds_cases(r, bounds_sets, [&] {
            const T g = any_decay<T>(r);
            return any_cyclic<T, clr::welch_window>(r, clr::exp_scale<T>(g),
                                                    params()("policy", "welch+exp")("gamma", g).str());
        });
        bounds_cases(r, bounds_sets, [&] {
            return any_cyclic<T, clr::hann_window>(
                r, clr::scale_on_cycle([](step_t c) { return 1.0 / static_cast<double>(c); }),
                params()("policy", "hann+1/cycle").str());
        });
    }
    SECTION("range sweep") {
        bounds_cases(r, 2 * bounds_sets, [&] {
            const clr::sweep shape = chance(r, 50) ? clr::sweep::linear : clr::sweep::exponential;
            auto [lo, hi] = ordered_rates<T>(r);
            if (shape == clr::sweep::exponential && lo == T(0)) lo = std::numeric_limits<T>::denorm_min();
            if (!(hi > lo)) {  // the sweep needs max_lr above min_lr
                if (lo < std::numeric_limits<T>::max())
                    hi = std::nextafter(lo, std::numeric_limits<T>::infinity());
                else
                    lo = std::nextafter(hi, T(0));
            }
            const step_t steps = std::max<step_t>(2, any_length(r));
            const clr::range_sweep<T> s(lo, hi, steps, shape);
            const std::string what = params()("min_lr", lo)("max_lr", hi)("steps", steps)(
                                         "shape", shape == clr::sweep::linear ? "linear" : "exponential")
                                         .str();
            return sample<clr::range_sweep<T>>{
                s, what, fixed_momentum<T>(std::nullopt), {0, 1, steps - 2, steps - 1, steps, last_step}};
        });
    }
    SECTION("cosine restarts") {
        bounds_cases(r, 4 * bounds_sets, [&] { return any_cosine<T>(r); });
    }
    SECTION("one cycle, and refusal of rates past the largest finite value") {
        for (int i = 0, made = 0; made < 4 * bounds_sets; ++i) {
            const auto p = any_one_cycle_params<T>(r, true);
            CAPTURE(run_seed(), i, p.describe());
            if (!p.representable()) {
                ++tally().rejected;
                CHECK_THROWS_AS(p.make(), std::invalid_argument);
                continue;
            }
            check_bounds(one_cycle_sample(p), r);
            ++made;
        }
    }
    SECTION("constant, warmup and sequence") {
        bounds_cases(r, bounds_sets, [&] {
            const T v = any_rate<T>(r);
            return sample<clr::constant<T>>{
                clr::constant<T>(v), "constant " + exact(v), fixed_momentum<T>(std::nullopt), {0, last_step}};
        });
        bounds_cases(r, bounds_sets, [&] {
            return any_warmup(r, any_cyclic<T, clr::triangular_window>(
                                     r, clr::halving_scale{}, params()("policy", "triangular2").str()));
        });
        bounds_cases(r, bounds_sets, [&] { return any_warmup(r, any_cosine<T>(r)); });
        bounds_cases(r, bounds_sets,
                     [&] { return any_warmup(r, one_cycle_sample(any_one_cycle_params<T>(r, false))); });
        bounds_cases(r, bounds_sets, [&] {
            const T g = any_decay<T>(r);
            return any_sequence(
                r,
                any_cyclic<T, clr::triangular_window>(r, clr::exp_scale<T>(g),
                                                      params()("policy", "exp_range")("gamma", g).str()),
                any_cosine<T>(r));
        });
        bounds_cases(r, bounds_sets, [&] {
            return any_sequence(
                r, one_cycle_sample(any_one_cycle_params<T>(r, false)),
                any_cyclic<T, clr::hann_window>(r, clr::no_scale{}, params()("policy", "hann").str()));
        });
        bounds_cases(r, bounds_sets, [&] {
            auto inner = any_warmup(
                r, any_cyclic<T, clr::welch_window>(r, clr::no_scale{}, params()("policy", "welch").str()));
            const T v = any_rate<T>(r);
            return any_sequence(
                r, inner,
                sample<clr::constant<T>>{
                    clr::constant<T>(v), "constant " + exact(v), fixed_momentum<T>(std::nullopt), {0}});
        });
    }
    SECTION("everyday decays") {
        bounds_cases(r, 2 * bounds_sets, [&] { return any_cosine_decay<T>(r); });
        bounds_cases(r, 2 * bounds_sets, [&] { return any_linear<T>(r); });
        bounds_cases(r, 2 * bounds_sets, [&] { return any_polynomial<T>(r); });
        bounds_cases(r, 2 * bounds_sets, [&] { return any_exponential<T>(r); });
        bounds_cases(r, 2 * bounds_sets, [&] { return any_step_decay<T>(r); });
        bounds_cases(r, 2 * bounds_sets, [&] { return any_multistep<T>(r); });
    }
    SECTION("sequences of three") {
        bounds_cases(r, 2 * bounds_sets, [&] {
            return any_sequence3(r, any_linear<T>(r), any_multistep<T>(r), any_cosine_decay<T>(r));
        });
        bounds_cases(r, 2 * bounds_sets, [&] {
            return any_sequence3(r, one_cycle_sample(any_one_cycle_params<T>(r, false)), any_polynomial<T>(r),
                                 any_cyclic<T, clr::triangular_window>(
                                     r, clr::halving_scale{}, params()("policy", "triangular2").str()));
        });
    }
}

// ---- cyclic ------------------------------------------------------------------------

namespace {

// A step t < 2^64 - L, so that t + L still exists.
step_t step_with_room(rng_t& r, step_t len) {
    const step_t t = any_step(r);
    return t > last_step - len ? t - len : t;
}

template <class T, class Window>
void check_periodic(rng_t& r, const char* window) {
    for (int i = 0; i < 600; ++i) {
        CAPTURE(run_seed(), i);
        const auto c = any_cyclic<T, Window>(r, clr::no_scale{}, params()("window", window).str());
        ++tally().sets;
        CAPTURE(c.what);
        const step_t len = c.s.cycle_length();
        for (int j = 0; j < 16; ++j) {
            const step_t t = j == 0 ? 0 : j == 1 ? last_step - len : step_with_room(r, len);
            CLR_PROPERTY(c.s(t) == c.s(t + len), t, exact(c.s(t)), exact(c.s(t + len)));
            CLR_PROPERTY(c.s.momentum(t) == c.s.momentum(t + len), t);
        }
    }
}

// Cycle k peaks at k * L + up. For the cycle indices: the first few, random
// ones up to the last cycle whose peak exists, and that last one, ascending.
std::vector<step_t> peak_cycles(rng_t& r, step_t up, step_t len) {
    const step_t last = (last_step - up) / len;
    std::vector<step_t> k;
    for (step_t i = 0; i <= std::min<step_t>(last, 40); ++i) k.push_back(i);
    for (int i = 0; i < 24; ++i) k.push_back(below(r, last + 1));
    k.push_back(last);
    std::sort(k.begin(), k.end());
    k.erase(std::unique(k.begin(), k.end()), k.end());
    return k;
}

template <class T, class Scale, class MakeScale>
void check_peaks_fall(rng_t& r, MakeScale make_scale) {
    for (int i = 0; i < 600; ++i) {
        CAPTURE(run_seed(), i);
        const auto [scale, what] = make_scale();
        const auto c = any_cyclic<T, clr::triangular_window, Scale>(r, scale, params()("scale", what).str());
        ++tally().sets;
        CAPTURE(c.what);
        const step_t up = c.s.step_size_up(), len = c.s.cycle_length();
        T prev = std::numeric_limits<T>::infinity();
        std::optional<T> prev_m;
        for (const step_t k : peak_cycles(r, up, len)) {
            const step_t t = k * len + up;
            const T v = c.s(t);
            CLR_PROPERTY(v <= prev, k, t, exact(v), exact(prev));
            // The trough of momentum mirrors the peak of the rate.
            const auto m = c.s.momentum(t);
            if (m && prev_m) CLR_PROPERTY(*m >= *prev_m, k, t, exact(*m), exact(*prev_m));
            prev = v;
            prev_m = m;
        }
    }
}

}  // namespace

TEMPLATE_TEST_CASE("property: triangular schedules repeat exactly every cycle", "[property]", float, double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "periodic/float" : "periodic/double");
    check_periodic<T, clr::triangular_window>(r, "triangular");
    check_periodic<T, clr::welch_window>(r, "welch");
    check_periodic<T, clr::hann_window>(r, "hann");
}

TEMPLATE_TEST_CASE("property: the cyclic peak is max_lr, the trough base_lr, exactly", "[property]", float,
                   double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "ends/float" : "ends/double");
    for (int i = 0; i < 1000; ++i) {
        CAPTURE(run_seed(), i);
        const auto c = any_cyclic<T, clr::triangular_window>(r, clr::halving_scale{},
                                                             params()("policy", "triangular2").str());
        ++tally().sets;
        CAPTURE(c.what);
        const step_t up = c.s.step_size_up();
        CLR_PROPERTY(c.s(0) == c.s.base_lr(), exact(c.s(0)));
        CLR_PROPERTY(c.s(up) == c.s.max_lr(), exact(c.s(up)));
        if (const auto m = c.s.momentum(up)) {
            CLR_PROPERTY(*m == c.momentum(up)->lo, exact(*m));
            CLR_PROPERTY(*c.s.momentum(0) == c.momentum(0)->hi, exact(*c.s.momentum(0)));
        }
        // By cycle 1100 the halvings have driven every floating type to zero height.
        const step_t len = c.s.cycle_length();
        if ((last_step - up) / len >= 1100)
            CLR_PROPERTY(c.s(1100 * len + up) == c.s.base_lr(), exact(c.s(1100 * len + up)));
    }
}

TEMPLATE_TEST_CASE("property: triangular2 and exp_range peaks never rise", "[property]", float, double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "peaks/float" : "peaks/double");
    check_peaks_fall<T, clr::halving_scale>(r, [] {
        return std::pair<clr::halving_scale, std::string>{{}, "halving"};
    });
    check_peaks_fall<T, clr::exp_scale<T>>(r, [&r] {
        const T g = any_decay<T>(r);
        return std::pair<clr::exp_scale<T>, std::string>{clr::exp_scale<T>(g), "gamma " + exact(g)};
    });
    // gamma^t underflows to zero long before t = 2^63 for any gamma below 1 in
    // either type, so a cycle peaking that late has fallen all the way to base_lr.
    for (int i = 0; i < 600; ++i) {
        CAPTURE(run_seed(), i);
        const T g = std::min(any_decay<T>(r), std::nextafter(T(1), T(0)));
        const auto c =
            any_cyclic<T, clr::triangular_window>(r, clr::exp_scale<T>(g), params()("gamma", g).str());
        ++tally().sets;
        CAPTURE(c.what);
        const step_t up = c.s.step_size_up(), len = c.s.cycle_length();
        const step_t t = (last_step - up) / len * len + up;
        if (t >= step_t(1) << 63) CLR_PROPERTY(c.s(t) == c.s.base_lr(), t, exact(c.s(t)));
    }
}

// ---- cosine restarts -----------------------------------------------------------------

namespace {

// Restart i begins at b_i = T_0 (m^i - 1) / (m - 1) for whole m: b_0 = 0,
// b_{i+1} = b_i + T_0 m^i, computed here in integers while they fit in a step.
struct restart {
    step_t index;
    step_t begin;
    step_t end;  // last step of the period, or of all steps
    bool whole;  // the period ends before the steps run out
};

std::vector<restart> restarts(rng_t& r, step_t t0, step_t m) {
    std::vector<restart> out;
    if (m == 1) {
        const step_t last_period = last_step / t0;
        std::vector<step_t> idx;
        for (step_t i = 0; i <= std::min<step_t>(last_period, 12); ++i) idx.push_back(i);
        for (int j = 0; j < 12; ++j) idx.push_back(below(r, last_period + 1));
        idx.push_back(last_period);
        std::sort(idx.begin(), idx.end());
        idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
        for (const step_t i : idx) {
            const step_t b = i * t0;
            const bool whole = b <= last_step - t0;
            out.push_back({i, b, whole ? b + t0 - 1 : last_step, whole});
        }
        return out;
    }
    step_t begin = 0;
    step_t len = t0;  // T_0 m^i while it fits
    bool len_fits = true;
    for (step_t i = 0;; ++i) {
        const bool next_exists = len_fits && begin <= last_step - len;
        out.push_back({i, begin, next_exists ? begin + len - 1 : last_step, next_exists});
        if (!next_exists) break;
        begin += len;
        len_fits = len <= last_step / m;
        if (len_fits) len *= m;
    }
    return out;
}

}  // namespace

TEMPLATE_TEST_CASE("property: cosine restarts peak at eta_max * m_mul^i exactly and fall within a period",
                   "[property]", float, double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "restarts/float" : "restarts/double");
    for (int i = 0; i < 800; ++i) {
        CAPTURE(run_seed(), i);
        const auto [eta_min, eta_max] = ordered_rates<T>(r);
        const step_t t0 = any_length(r);
        step_t whole;
        switch (below(r, 4)) {
            case 0: whole = 1; break;
            case 1: whole = 2 + below(r, 7); break;
            case 2: whole = 2 + below(r, std::uint64_t(1) << 32); break;
            default: whole = std::uint64_t(1) << 32;
        }
        // The multiplier the schedule actually sees (float rounds past 2^24),
        // still a whole number no larger than 2^32.
        const T t_mult = static_cast<T>(whole);
        const auto m = static_cast<step_t>(t_mult);
        const T m_mul = chance(r, 40) ? T(1) : any_decay<T>(r);
        const auto s =
            clr::cosine_restarts<T>(eta_max, t0).with_eta_min(eta_min).with_t_mult(t_mult).with_m_mul(m_mul);
        ++tally().sets;
        CAPTURE(exact(eta_max), exact(eta_min), t0, m, exact(m_mul));
        for (const restart& p : restarts(r, t0, m)) {
            CAPTURE(p.index, p.begin, p.end);
            const T peak = m_mul == T(1) ? eta_max : eta_max * std::pow(m_mul, static_cast<T>(p.index));
            CLR_PROPERTY(s(p.begin) == peak, exact(s(p.begin)), exact(peak));
            CLR_PROPERTY(s.restarts_before(p.begin) == static_cast<T>(p.index),
                         exact(s.restarts_before(p.begin)));
            if (p.begin > 0)
                CLR_PROPERTY(s.restarts_before(p.begin - 1) == static_cast<T>(p.index - 1),
                             exact(s.restarts_before(p.begin - 1)));
            // From the peak towards eta_min, monotonically; with a decayed peak
            // below eta_min that is upwards.
            std::vector<step_t> ts{p.begin, p.end};
            if (p.end > p.begin) ts.push_back(p.begin + 1);
            for (int j = 0; j < 6; ++j)
                ts.push_back(p.begin + below(r, p.end - p.begin + 1 == 0 ? last_step : p.end - p.begin + 1));
            std::sort(ts.begin(), ts.end());
            const bool falls = peak >= eta_min;
            for (std::size_t j = 1; j < ts.size(); ++j) {
                const T a = s(ts[j - 1]), b = s(ts[j]);
                CLR_PROPERTY(falls ? b <= a : b >= a, ts[j - 1], ts[j], exact(a), exact(b));
            }
            // The period really does fall: its last step is below its peak
            // (needs two steps and a drop larger than rounding).
            if (p.whole && p.end > p.begin && peak - eta_min > 8 * std::numeric_limits<T>::epsilon() * peak)
                CLR_PROPERTY(s(p.end) < peak, exact(s(p.end)), exact(peak));
        }
    }
}

TEMPLATE_TEST_CASE("property: cosine restart counts never go back, any T_mult", "[property]", float, double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "restart-count/float" : "restart-count/double");
    for (int i = 0; i < 800; ++i) {
        CAPTURE(run_seed(), i);
        const auto c = any_cosine<T>(r);
        ++tally().sets;
        CAPTURE(c.what);
        CLR_PROPERTY(c.s(0) == c.s.eta_max(), exact(c.s(0)));
        CLR_PROPERTY(c.s.restarts_before(0) == T(0), exact(c.s.restarts_before(0)));
        std::vector<step_t> ts = c.landmarks;
        for (int j = 0; j < 16; ++j) ts.push_back(any_step(r));
        std::sort(ts.begin(), ts.end());
        for (std::size_t j = 1; j < ts.size(); ++j)
            CLR_PROPERTY(c.s.restarts_before(ts[j]) >= c.s.restarts_before(ts[j - 1]), ts[j - 1], ts[j]);
    }
}

// ---- one cycle -----------------------------------------------------------------------

TEMPLATE_TEST_CASE(
    "property: one cycle starts at initial, peaks at max_lr near pct*T - 1, ends and stays at the minimum",
    "[property]", float, double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "one-cycle/float" : "one-cycle/double");
    constexpr T eps = std::numeric_limits<T>::epsilon();
    for (int i = 0; i < 800; ++i) {
        CAPTURE(run_seed(), i);
        const auto p = any_one_cycle_params<T>(r, false);
        CAPTURE(p.describe());
        const auto s = p.make();
        ++tally().sets;
        const T initial = p.max_lr / p.div;
        const T minimum = initial / p.final_div;
        const step_t last = p.total - 1;
        CLR_PROPERTY(s.initial_lr() == initial && s.min_lr() == minimum, exact(s.initial_lr()),
                     exact(s.min_lr()));
        const T max_m = p.momentum ? p.momentum->second : T(0);
        const T base_m = p.momentum ? p.momentum->first : T(0);

        // The climb ends at the real step pct*T - 1, computed as the schedule
        // (and PyTorch) does: the product rounded on its own, never fused.
        volatile T product = p.pct * static_cast<T>(p.total);
        const T peak = product - T(1);
        CAPTURE(exact(peak));
        if (peak > T(0)) {
            CLR_PROPERTY(s(0) == initial, exact(s(0)));
            if (p.momentum) CLR_PROPERTY(*s.momentum(0) == max_m, exact(*s.momentum(0)));
        }
        CLR_PROPERTY(s(last) == minimum, exact(s(last)));
        if (p.momentum) CLR_PROPERTY(*s.momentum(last) == max_m, exact(*s.momentum(last)));
        for (int j = 0; j < 8; ++j) {
            const step_t t = j == 0 ? p.total : j == 1 ? last_step : std::max(p.total, any_step(r));
            CLR_PROPERTY(s(t) == s(last), t, exact(s(t)));
            CLR_PROPERTY(s.momentum(t) == s.momentum(last), t);
        }

        // The steps either side of the real peak; the higher of the two is the peak.
        const auto lo_step = static_cast<step_t>(std::max(T(0), std::floor(peak)));
        const step_t hi_step = std::min(static_cast<step_t>(std::max(T(0), std::ceil(peak))), last);
        const step_t top = s(hi_step) > s(lo_step) ? hi_step : lo_step;
        CAPTURE(lo_step, hi_step);
        if (peak == std::floor(peak) && peak >= T(0)) {
            CLR_PROPERTY(s(lo_step) == p.max_lr, exact(s(lo_step)));
            if (p.momentum) CLR_PROPERTY(*s.momentum(lo_step) == base_m, exact(*s.momentum(lo_step)));
        }
        // No further from max_lr than the steepest slope allows over the
        // distance to the real peak: |d lr / dx| <= (pi / 2) |max_lr - end|
        // with x the fraction of a phase.
        if (peak > T(0) && static_cast<T>(last) > peak) {
            const T rise = peak;
            const T fall = (p.three_phase ? peak : static_cast<T>(last) - peak);
            const T dist = std::abs(static_cast<T>(top) - peak);
            const T slope =
                T(1.5708) * std::max(p.max_lr - initial, p.max_lr - minimum) / std::min(rise, fall);
            CLR_PROPERTY(p.max_lr - s(top) <= slope * dist + 4 * eps * p.max_lr, top, exact(s(top)));
        }

        // Up to the peak, then down to the end: never the other way round.
        // Short schedules are walked step by step, long ones sampled.
        std::vector<step_t> ts;
        if (p.total <= 3000) {
            for (step_t t = 0; t <= last; ++t) ts.push_back(t);
        } else {
            ts = {0, lo_step, hi_step, last};
            if (lo_step > 0) ts.push_back(lo_step - 1);
            if (hi_step < last) ts.push_back(hi_step + 1);
            for (int j = 0; j < 24; ++j) ts.push_back(below(r, p.total));
            std::sort(ts.begin(), ts.end());
            ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
        }
        T prev = s(ts.front());
        std::optional<T> prev_m = s.momentum(ts.front());
        for (std::size_t j = 1; j < ts.size(); ++j) {
            const step_t t = ts[j];
            const T v = s(t);
            const auto m = s.momentum(t);
            if (t <= lo_step) {
                CLR_PROPERTY(v >= prev, t, exact(v), exact(prev));
                if (m) CLR_PROPERTY(*m <= *prev_m, t, exact(*m), exact(*prev_m));
            } else if (t > hi_step) {
                CLR_PROPERTY(v <= prev, t, exact(v), exact(prev));
                if (m) CLR_PROPERTY(*m >= *prev_m, t, exact(*m), exact(*prev_m));
            }
            if (t <= hi_step) CLR_PROPERTY(v <= s(top), t, top, exact(v), exact(s(top)));
            prev = v;
            prev_m = m;
        }
    }
}

// ---- the everyday decays ------------------------------------------------------------

namespace {

// A decay starts at `start`, moves only towards `end` and, from step `hold`
// on (if any), stays there exactly.
template <class S>
void check_decay(rng_t& r, const sample<S>& c, typename S::value_type start, typename S::value_type end,
                 std::optional<step_t> hold) {
    using T = typename S::value_type;
    ++tally().sets;
    CAPTURE(c.what);
    CLR_PROPERTY(c.s(0) == start, exact(c.s(0)), exact(start));
    const bool falls = end <= start;
    std::vector<step_t> ts = c.landmarks;
    for (int j = 0; j < 24; ++j) ts.push_back(j % 2 == 0 || !hold ? any_step(r) : below(r, *hold + 1));
    std::sort(ts.begin(), ts.end());
    T prev = c.s(ts.front());
    for (std::size_t j = 1; j < ts.size(); ++j) {
        const T v = c.s(ts[j]);
        CLR_PROPERTY(falls ? v <= prev : v >= prev, ts[j - 1], ts[j], exact(prev), exact(v));
        CLR_PROPERTY(falls ? end <= v && v <= start : start <= v && v <= end, ts[j], exact(v));
        if (hold && ts[j] >= *hold) CLR_PROPERTY(v == end, ts[j], exact(v), exact(end));
        prev = v;
    }
}

}  // namespace

TEMPLATE_TEST_CASE("property: decays start at their rate, move only towards their end and hold it",
                   "[property]", float, double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "decays/float" : "decays/double");
    for (int i = 0; i < 400; ++i) {
        CAPTURE(run_seed(), i);
        {
            const auto c = any_cosine_decay<T>(r);
            check_decay(r, c, c.s.initial_lr(), c.s.eta_min(), c.s.total_steps());
        }
        {
            const auto c = any_linear<T>(r);
            check_decay(r, c, c.s.start_lr(), c.s.end_lr(), c.s.total_steps());
        }
        {
            const auto c = any_polynomial<T>(r);
            check_decay(r, c, c.s.initial_lr(), c.s.end_lr(), c.s.total_steps());
        }
        {
            // gamma^t reaches 0 for every gamma below 1 long before 2^64 steps
            // in float and double alike: 2^64 (1 - gamma) exceeds 2^10 there.
            const auto c = any_exponential<T>(r);
            const T g = c.s.gamma();
            check_decay(r, c, c.s.initial_lr(), g == T(1) ? c.s.initial_lr() : T(0), std::nullopt);
            if (g < T(1)) CLR_PROPERTY(c.s(last_step) == T(0), c.what, exact(c.s(last_step)));
        }
        {
            const auto c = any_step_decay<T>(r);
            const T g = c.s.gamma();
            check_decay(r, c, c.s.initial_lr(), g == T(1) ? c.s.initial_lr() : T(0), std::nullopt);
            // Constant between drops, and one factor of gamma at each.
            const step_t n = c.s.step_size();
            const step_t k = below(r, last_step / n);
            CLR_PROPERTY(c.s(k * n) == c.s(k * n + n - 1), c.what, k);
            // (Where gamma^k itself underflows, the rate may go to 0 before
            // PyTorch's product of k factors does; that is allowed.)
            if (k < 16 && std::pow(g, static_cast<T>(k)) >= std::numeric_limits<T>::min()) {
                T want = c.s.initial_lr();
                for (step_t j = 0; j < k; ++j) want *= g;
                const T slack = T(k + 1);
                CLR_PROPERTY(
                    std::abs(c.s(k * n) - want) <= T(4) * slack * std::numeric_limits<T>::epsilon() * want +
                                                       slack * std::numeric_limits<T>::denorm_min(),
                    c.what, k, exact(c.s(k * n)), exact(want));
            }
        }
        {
            // Exactly one factor of gamma per milestone passed, rounded as
            // PyTorch rounds it; the last holds from the last milestone on.
            const auto c = any_multistep<T>(r);
            const step_t count = c.s.milestone_count();
            T want = c.s.initial_lr();
            for (step_t j = 0; j < count; ++j) {
                const step_t m = c.s.milestone(j);
                if (m > 0) CLR_PROPERTY(c.s(m - 1) == want, c.what, m, exact(c.s(m - 1)), exact(want));
                want *= c.s.gamma();
                CLR_PROPERTY(c.s(m) == want, c.what, m, exact(c.s(m)), exact(want));
            }
            CLR_PROPERTY(c.s.bounds().lo == want, c.what, exact(c.s.bounds().lo));
            check_decay(
                r, c, count > 0 && c.s.milestone(0) == 0 ? c.s.initial_lr() * c.s.gamma() : c.s.initial_lr(),
                want, count > 0 ? std::optional<step_t>(c.s.milestone(count - 1)) : std::optional<step_t>(0));
        }
    }
}

// ---- float against double -------------------------------------------------------------

namespace {

// Parameters drawn once as floats, so that both types hold exactly the same
// values; their schedules then differ only by the arithmetic.
struct shared_params {
    float base, max, gamma, m_mul, t_mult, pct, div, final_div, start;
    step_t up, down, t0, total, n;
    bool three_phase;
    clr::anneal anneal;
};

shared_params any_shared(rng_t& r) {
    shared_params p{};
    p.base = chance(r, 20) ? 0.0f : std::pow(10.0f, -6.0f + 5.0f * unit<float>(r));
    p.max = p.base + std::pow(10.0f, -5.0f + 6.0f * unit<float>(r));
    p.gamma = chance(r, 50) ? 1.0f - std::ldexp(1.0f, -static_cast<int>(1 + below(r, 24))) : unit<float>(r);
    if (p.gamma == 0.0f) p.gamma = 0.5f;
    p.m_mul = chance(r, 40) ? 1.0f : 0.05f + 0.95f * unit<float>(r);
    switch (below(r, 4)) {
        case 0: p.t_mult = 1.0f; break;
        case 1: p.t_mult = static_cast<float>(2 + below(r, 7)); break;
        default: p.t_mult = 1.0f + 3.0f * unit<float>(r);
    }
    // pct_start as k / 1024 and short totals keep pct * T - 1 exact in float
    // too; where it rounds, the phase boundaries move by a float ulp.
    p.three_phase = chance(r, 40);
    p.pct = static_cast<float>(1 + below(r, p.three_phase ? 511 : 1023)) / 1024.0f;
    p.div = std::pow(10.0f, 3.0f * unit<float>(r));
    p.final_div = std::pow(10.0f, 5.0f * unit<float>(r));
    p.anneal = chance(r, 50) ? clr::anneal::cos : clr::anneal::linear;
    p.start = chance(r, 50) ? 0.0f : p.max * unit<float>(r);
    p.up = any_length(r);
    p.down = any_length(r);
    p.t0 = any_length(r);
    p.total = chance(r, 50) ? 1 + below(r, 16384) : any_length(r);
    p.n = any_length(r);
    return p;
}

std::string describe(const shared_params& p) {
    return params()("base", p.base)("max", p.max)("gamma", p.gamma)("m_mul", p.m_mul)("t_mult", p.t_mult)(
               "pct", p.pct)("div", p.div)("final_div", p.final_div)("start", p.start)("up", p.up)(
               "down", p.down)("t0", p.t0)("total", p.total)("n", p.n)("three_phase", p.three_phase)(
               "linear", p.anneal == clr::anneal::linear)
        .str();
}

// Each schedule family built from the same parameters in type T.
template <class T>
auto hann_halving(const shared_params& p) {
    return clr::cyclic<T, clr::hann_window, clr::halving_scale>(p.base, p.max, p.up)
        .with_step_size_down(p.down)
        .with_momentum(T(0.8f), T(0.95f));
}
template <class T>
auto welch_exp(const shared_params& p) {
    return clr::cyclic<T, clr::welch_window, clr::exp_scale<T>>(p.base, p.max, p.up,
                                                                clr::exp_scale<T>(p.gamma));
}
template <class T>
auto exp_range(const shared_params& p) {
    return clr::exp_range<T>(p.base, p.max, p.up, p.gamma).with_step_size_down(p.down);
}
template <class T>
auto cosine(const shared_params& p) {
    return clr::cosine_restarts<T>(p.max, p.t0)
        .with_eta_min(p.base)
        .with_t_mult(p.t_mult)
        .with_m_mul(p.m_mul);
}
template <class T>
auto cycle(const shared_params& p) {
    return clr::one_cycle<T>(p.max, p.total)
        .with_pct_start(p.pct)
        .with_three_phase(p.three_phase)
        .with_div_factor(p.div)
        .with_final_div_factor(p.final_div)
        .with_anneal(p.anneal)
        .with_momentum(T(0.85f), T(0.95f));
}
template <class T>
auto warm(const shared_params& p) {
    return clr::warmup(clr::triangular<T>(p.base, p.max, p.up), p.n, p.start);
}

// Float carries 24 bits; a few ulps of the schedule's scale covers the
// rounding of the step, of the phase position and of the window.
constexpr double float_agreement = 16 * std::numeric_limits<float>::epsilon();

// `spread` widens the tolerance where float positions are coarser than the
// shape: one cycle's phase boundaries are reals near pct * T, which float holds
// only to T * 2^-24 steps, a large fraction of a short phase in a long schedule.
template <class F, class D>
void check_agree(const char* family, const F& f, const D& d, rng_t& r, const std::vector<step_t>& marks,
                 double spread = 1) {
    CAPTURE(family, spread);
    const double scale = spread * std::max(std::abs(d.bounds().lo), std::abs(d.bounds().hi));
    CLR_PROPERTY(std::abs(static_cast<double>(f.bounds().hi) - d.bounds().hi) <= float_agreement * scale,
                 exact(f.bounds().hi), exact(d.bounds().hi));
    auto at = [&](step_t t) {
        const double a = f(t), b = d(t);
        CLR_PROPERTY(std::abs(a - b) <= float_agreement * scale, t, exact(a), exact(b), exact(scale));
        const auto fm = f.momentum(t);
        const auto dm = d.momentum(t);
        CLR_PROPERTY(fm.has_value() == dm.has_value(), t);
        if (fm)
            CLR_PROPERTY(std::abs(static_cast<double>(*fm) - *dm) <= spread * float_agreement, t, exact(*fm),
                         exact(*dm));
    };
    for (const step_t t : marks) at(t);
    for (int j = 0; j < 12; ++j) at(any_step(r));
}

}  // namespace

TEST_CASE("property: float and double schedules agree to float precision", "[property]") {
    rng_t r = stream("float-double");
    for (int i = 0; i < 1000; ++i) {
        CAPTURE(run_seed(), i);
        const shared_params p = any_shared(r);
        CAPTURE(describe(p));
        tally().sets += 6;
        const step_t len = p.up + p.down;
        check_agree("hann+halving", hann_halving<float>(p), hann_halving<double>(p), r,
                    {0, p.up, len, 3 * len + p.up / 2});
        check_agree("welch+exp", welch_exp<float>(p), welch_exp<double>(p), r,
                    {0, p.up, 2 * p.up, 7 * p.up + 1});
        check_agree("exp_range", exp_range<float>(p), exp_range<double>(p), r, {0, p.up, len, len + p.up});
        check_agree("cosine_restarts", cosine<float>(p), cosine<double>(p), r, {0, p.t0 - 1, p.t0, 3 * p.t0});
        // Up to 2^14 steps, pct * T (pct = k / 1024) is exact in float.
        const double steps = static_cast<double>(p.total);
        const double shortest = p.three_phase ? std::min(p.pct * steps - 1, steps - 2 * p.pct * steps + 1)
                                              : std::min(p.pct * steps - 1, steps - p.pct * steps);
        const double spread = p.total <= 16384 ? 1.0 : std::max(1.0, steps / shortest);
        check_agree("one_cycle", cycle<float>(p), cycle<double>(p), r, {0, p.total / 3, p.total - 1, p.total},
                    spread);
        check_agree("warmup", warm<float>(p), warm<double>(p), r, {0, p.n / 2, p.n - 1, p.n, p.n + p.up});
    }
}

TEST_CASE("property: float and double decays agree to float precision", "[property]") {
    rng_t r = stream("float-double/decays");
    for (int i = 0; i < 1000; ++i) {
        CAPTURE(run_seed(), i);
        const shared_params p = any_shared(r);
        // A power of at least 1: below it the slope at the end is unbounded,
        // and float's coarser position there moves the rate by more than float's precision.
        const float power = 1.0f + 3.0f * unit<float>(r);
        std::vector<step_t> milestones;
        for (step_t j = 0; j < 4; ++j) milestones.push_back(j * (p.up / 4));
        milestones.erase(std::unique(milestones.begin(), milestones.end()), milestones.end());
        CAPTURE(describe(p), power);
        tally().sets += 6;
        check_agree("cosine", clr::cosine<float>(p.max, p.total).with_eta_min(p.base),
                    clr::cosine<double>(p.max, p.total).with_eta_min(p.base), r,
                    {0, p.total / 2, p.total - 1, p.total});
        check_agree("linear", clr::linear<float>(p.start, p.max, p.total),
                    clr::linear<double>(p.start, p.max, p.total), r, {0, p.total / 3, p.total - 1, p.total});
        check_agree("polynomial", clr::polynomial<float>(p.max, p.base, p.total, power),
                    clr::polynomial<double>(p.max, p.base, p.total, power), r,
                    {0, p.total / 3, p.total - 1, p.total});
        check_agree("exponential", clr::exponential<float>(p.max, p.gamma),
                    clr::exponential<double>(p.max, p.gamma), r, {0, 1, 100, p.up});
        check_agree("step_decay", clr::step_decay<float>(p.max, p.up, p.gamma),
                    clr::step_decay<double>(p.max, p.up, p.gamma), r, {0, p.up - 1, p.up, 3 * p.up});
        check_agree("multistep", clr::multistep<float>(p.max, milestones, p.gamma),
                    clr::multistep<double>(p.max, milestones, p.gamma), r, {0, p.up - 1, p.up, 3 * p.up});
    }
}

// ---- composition -----------------------------------------------------------------------

namespace {

template <class S>
void check_warmup(rng_t& r, const sample<S>& inner) {
    using T = typename S::value_type;
    constexpr T eps = std::numeric_limits<T>::epsilon();
    const step_t n = any_length(r);
    const T start = chance(r, 30) ? T(0) : any_rate<T>(r);
    const auto s = clr::warmup(inner.s, n, start);
    ++tally().sets;
    CAPTURE(inner.what, n, exact(start));
    const T target = inner.s(0);
    CLR_PROPERTY(s(0) == start, exact(s(0)));
    CLR_PROPERTY(s(n) == target, exact(s(n)));
    // The last ramp step is one increment short of where the schedule starts.
    const T increment = (target - start) / static_cast<T>(n);
    const T scale = std::max(std::abs(start), std::abs(target));
    // (Among subnormals an ulp is absolute.)
    const T tolerance = 4 * eps * scale + std::numeric_limits<T>::denorm_min();
    CLR_PROPERTY(std::abs((s(n) - s(n - 1)) - increment) <= tolerance, exact(s(n - 1)), exact(s(n)),
                 exact(increment));
    // After the ramp, the schedule itself from its own step 0.
    for (int j = 0; j < 8; ++j) {
        const step_t t = j == 0 ? n : std::max(n, any_step(r));
        CLR_PROPERTY(s(t) == inner.s(t - n), t, exact(s(t)), exact(inner.s(t - n)));
        CLR_PROPERTY(s.momentum(t) == inner.s.momentum(t - n), t);
    }
    // The ramp runs straight from start_lr to target, never back, with the
    // schedule's first momentum throughout.
    std::vector<step_t> ts{0, n - 1};
    for (int j = 0; j < 8; ++j) ts.push_back(below(r, n));
    std::sort(ts.begin(), ts.end());
    for (std::size_t j = 0; j < ts.size(); ++j) {
        const T v = s(ts[j]);
        CLR_PROPERTY(std::min(start, target) <= v && v <= std::max(start, target), ts[j], exact(v));
        if (j > 0) {
            const T u = s(ts[j - 1]);
            CLR_PROPERTY(target >= start ? u <= v : u >= v, ts[j - 1], ts[j], exact(u), exact(v));
        }
        CLR_PROPERTY(s.momentum(ts[j]) == inner.s.momentum(0), ts[j]);
    }
}

template <class A, class B>
void check_sequence(rng_t& r, const sample<A>& a, const sample<B>& b) {
    const step_t n = any_length(r);
    const auto s = clr::sequence(a.s, n, b.s);
    ++tally().sets;
    CAPTURE(a.what, b.what, n);
    std::vector<step_t> ts{0, n - 1, n, n + 1, last_step};
    for (int j = 0; j < 14; ++j) ts.push_back(j % 2 == 0 ? below(r, n) : any_step(r));
    for (const step_t t : ts) {
        if (t < n) {
            CLR_PROPERTY(s(t) == a.s(t), t, exact(s(t)), exact(a.s(t)));
            CLR_PROPERTY(s.momentum(t) == a.s.momentum(t), t);
        } else {
            CLR_PROPERTY(s(t) == b.s(t - n), t, exact(s(t)), exact(b.s(t - n)));
            CLR_PROPERTY(s.momentum(t) == b.s.momentum(t - n), t);
        }
    }
}

}  // namespace

TEMPLATE_TEST_CASE("property: warmup ramps into its schedule, sequence switches at its boundary",
                   "[property]", float, double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "compose/float" : "compose/double");
    for (int i = 0; i < 300; ++i) {
        CAPTURE(run_seed(), i);
        check_warmup(r, any_cyclic<T, clr::triangular_window>(r, clr::halving_scale{},
                                                              params()("policy", "triangular2").str()));
        check_warmup(r, any_cosine<T>(r));
        check_warmup(r, one_cycle_sample(any_one_cycle_params<T>(r, false)));
        const T g = any_decay<T>(r);
        check_sequence(
            r, any_cyclic<T, clr::triangular_window>(r, clr::exp_scale<T>(g), params()("gamma", g).str()),
            any_cosine<T>(r));
        check_sequence(r, one_cycle_sample(any_one_cycle_params<T>(r, false)),
                       any_warmup(r, any_cyclic<T, clr::hann_window>(r, clr::no_scale{},
                                                                     params()("policy", "hann").str())));
    }
}

TEMPLATE_TEST_CASE("property: a sequence of three runs each piece from its own step 0", "[property]", float,
                   double) {
    using T = TestType;
    rng_t r = stream(std::is_same_v<T, float> ? "sequence3/float" : "sequence3/double");
    for (int i = 0; i < 300; ++i) {
        CAPTURE(run_seed(), i);
        const auto a = any_cyclic<T, clr::hann_window>(r, clr::no_scale{}, params()("policy", "hann").str());
        const auto b = any_step_decay<T>(r);
        const auto c = one_cycle_sample(any_one_cycle_params<T>(r, false));
        const auto q = any_sequence3(r, a, b, c);
        ++tally().sets;
        CAPTURE(q.what);
        // The boundaries, read back from where the pieces switch.
        const auto& outer = q.s;
        const step_t n1 = outer.boundary();
        const step_t n2 = outer.second().boundary();
        std::vector<step_t> ts = q.landmarks;
        for (int j = 0; j < 16; ++j) ts.push_back(any_step(r));
        for (const step_t t : ts) {
            const T want = t < n1 ? a.s(t) : t - n1 < n2 ? b.s(t - n1) : c.s(t - n1 - n2);
            const auto want_m = t < n1        ? a.s.momentum(t)
                                : t - n1 < n2 ? b.s.momentum(t - n1)
                                              : c.s.momentum(t - n1 - n2);
            CLR_PROPERTY(q.s(t) == want, t, exact(q.s(t)), exact(want));
            CLR_PROPERTY(q.s.momentum(t) == want_m, t);
        }
    }
}
