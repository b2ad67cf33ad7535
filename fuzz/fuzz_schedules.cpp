// Fuzz target for the schedules: arbitrary bytes choose a schedule, its
// floating type, its constructor arguments and a sequence of fluent setters,
// then the steps to evaluate it at; or, for one kind, they are text for
// clr::parse_schedule.
//
// The contract checked:
// - a constructor or setter either accepts its input or throws
//   std::invalid_argument whose message names the schedule ("clr::...") and the
//   parameter ("name = value"); any other exception escapes and is reported;
// - an accepted schedule has finite bounds() with lo <= hi, and at every step a
//   finite rate inside them and, when it cycles momentum, a finite momentum
//   inside [base_momentum, max_momentum];
// - its text form reads back: parse_schedule(to_string(s)) writes the same
//   text and has bit for bit the same bounds(), lr(t) and momentum(t) at every
//   step checked;
// - text either reads as a schedule, which must keep the contract above
//   (momentum, when cycled, in [0, 1)) and read back the same way, or is
//   refused with a clr::invalid_parameter whose message starts with "clr::"
//   and is one short line (no control character, at most 600 bytes).
// A violation aborts with the details.
//
// The byte layout is in fuzz/README.md; fuzz/make_seeds.py writes seeds in it.
// Kinds 12 to 19 came later; the inputs saved before them had their first
// byte rewritten to the kind it named then (k, or 0x80 | k for float), so
// that each still tests what it was saved for. Kind 20 (text) came with the
// kind taken % 21, which leaves every saved input's kind as it was (all are
// below 20). Kind 21 (any described schedule, its arguments drawn by kind)
// came with % 22, likewise.
#include <clr/clr.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using clr::step_t;

constexpr step_t last_step = std::numeric_limits<step_t>::max();

// Reads the input front to back; past its end every read is zero, so any
// prefix of an input is an input too.
class input {
public:
    input(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}

    std::uint8_t byte() { return p_ < end_ ? *p_++ : 0; }
    bool empty() const { return p_ >= end_; }

    std::uint64_t bytes(int n) {  // little-endian
        std::uint64_t v = 0;
        for (int i = 0; i < n; ++i) v |= std::uint64_t{byte()} << (8 * i);
        return v;
    }

    // A real of type T. The tag byte chooses how the rest is read, so that
    // both the raw bit patterns (NaN, infinities, negatives, subnormals) and
    // the values a schedule accepts are easy to reach.
    template <class T>
    T real() {
        const std::uint8_t tag = byte();
        switch (tag >> 6) {
            case 0: {  // raw bits of T
                using bits_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
                const auto b = static_cast<bits_t>(bytes(sizeof(T)));
                T v;
                std::memcpy(&v, &b, sizeof v);
                return v;
            }
            case 1:  // a fraction in [0, 1], both ends included
                return static_cast<T>(static_cast<double>(bytes(2)) / 65535.0);
            case 2: {  // (1 + m / 256) * 2^e, e in [-128, 127], sign from the tag
                const T mant = T(1) + static_cast<T>(byte()) / T(256);
                const int e = static_cast<int>(byte()) - 128;
                const T v = std::ldexp(mant, e);
                return (tag & 1) != 0 ? -v : v;
            }
            default: return special<T>(tag & 0x3F);
        }
    }

    // A step count. Tags as for real(): raw, small, near a power of two, or
    // one of the edges of the step range.
    step_t step() {
        const std::uint8_t tag = byte();
        switch (tag >> 6) {
            case 0: return bytes(8);
            case 1: return bytes(2);
            case 2: {
                const step_t k = byte() & 63;
                const auto delta = static_cast<std::int8_t>(byte());
                return (step_t{1} << k) + static_cast<step_t>(static_cast<std::int64_t>(delta));
            }
            default: {
                static const step_t edges[] = {0,
                                               1,
                                               2,
                                               3,
                                               (step_t{1} << 62) - 1,
                                               step_t{1} << 62,
                                               (step_t{1} << 62) + 1,
                                               step_t{1} << 63,
                                               last_step - 1,
                                               last_step,
                                               step_t{1} << 24,
                                               (step_t{1} << 24) + 1,
                                               step_t{1} << 32,
                                               step_t{1} << 53,
                                               (step_t{1} << 53) + 1,
                                               1000};
                return edges[tag % (sizeof edges / sizeof edges[0])];
            }
        }
    }

private:
    template <class T>
    static T special(unsigned i) {
        using lim = std::numeric_limits<T>;
        const T table[] = {T(0),
                           -T(0),
                           T(1),
                           -T(1),
                           T(0.5),
                           T(2),
                           std::nextafter(T(1), T(0)),
                           std::nextafter(T(1), T(2)),
                           lim::max(),
                           -lim::max(),
                           lim::min(),
                           lim::denorm_min(),
                           lim::infinity(),
                           -lim::infinity(),
                           lim::quiet_NaN(),
                           T(4294967296.0),
                           std::nextafter(T(4294967296.0), T(1e30)),
                           T(0.3),
                           T(25),
                           T(1e4),
                           T(0.85),
                           T(0.95),
                           T(0.001),
                           T(0.006),
                           lim::max() / T(2),
                           std::nextafter(lim::max() / T(2), lim::max()),
                           T(3),
                           T(1.5),
                           std::nextafter(T(0.5), T(0)),
                           T(1e-30),
                           T(1e30),
                           lim::epsilon()};
        return table[i % (sizeof table / sizeof table[0])];
    }

    const std::uint8_t* p_;
    const std::uint8_t* end_;
};

[[noreturn]] void violation(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_schedules: %s: %s\n", what, detail.c_str());
    std::fflush(stderr);
    std::abort();
}

template <class V>
std::string text(V v) {
    if constexpr (std::is_floating_point_v<V>) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(v));
        return buf;
    } else {
        return std::to_string(v);
    }
}

// A refusal must say which schedule and which parameter.
void check_refusal(const std::invalid_argument& e) {
    const std::string m = e.what();
    if (m.rfind("clr::", 0) != 0 || m.find(" = ") == std::string::npos)
        violation("unclear error message", "'" + m + "'");
}

// ---- schedules built from the input ---------------------------------------------

template <class T>
using momentum_range = std::optional<clr::range<T>>;

// A schedule, where its momentum must lie at each step, and its landmarks.
template <class S>
struct built {
    using T = typename S::value_type;
    S s;
    std::function<momentum_range<T>(step_t)> momentum;
    std::vector<step_t> landmarks;
};

template <class T>
std::function<momentum_range<T>(step_t)> fixed(momentum_range<T> m) {
    return [m](step_t) { return m; };
}

// Up to eight setters, in the order and number the input asks for.
constexpr int max_setters = 8;

template <class T, class Window, class Scale>
built<clr::cyclic<T, Window, Scale>> make_cyclic(input& in, Scale scale) {
    const T base = in.real<T>();
    const T max = in.real<T>();
    const step_t up = in.step();
    clr::cyclic<T, Window, Scale> s(base, max, up, scale);
    momentum_range<T> m;
    for (int i = 0; i < max_setters; ++i) {
        const std::uint8_t op = in.byte();
        if (op == 0) break;
        if (op % 2 == 1) {
            s = s.with_step_size_down(in.step());
        } else {
            const T bm = in.real<T>();
            const T mm = in.real<T>();
            s = s.with_momentum(bm, mm);
            m = clr::range<T>{bm, mm};
        }
    }
    const step_t len = s.cycle_length();
    return {s,
            fixed(m),
            {s.step_size_up(), len - 1, len, len + s.step_size_up(), (last_step - up) / len * len + up}};
}

template <class T>
clr::exp_scale<T> make_gamma(input& in) {
    return clr::exp_scale<T>(in.real<T>());
}

template <class T>
built<clr::cosine_restarts<T>> make_cosine(input& in) {
    const T eta_max = in.real<T>();
    const step_t t0 = in.step();
    clr::cosine_restarts<T> s(eta_max, t0);
    for (int i = 0; i < max_setters; ++i) {
        const std::uint8_t op = in.byte();
        if (op == 0) break;
        switch (op % 3) {
            case 0: s = s.with_eta_min(in.real<T>()); break;
            case 1: s = s.with_t_mult(in.real<T>()); break;
            default: s = s.with_m_mul(in.real<T>());
        }
    }
    // Restarts are checked at steps whose period index is finite and not negative.
    for (const step_t t : {step_t{0}, t0, last_step}) {
        const T i = s.restarts_before(t);
        if (!std::isfinite(i) || i < T(0))
            violation("cosine_restarts restart count", text(t) + " -> " + text(i));
    }
    return {s, fixed<T>(std::nullopt), {t0 - 1, t0, 2 * t0, 3 * t0}};
}

template <class T>
built<clr::one_cycle<T>> make_one_cycle(input& in) {
    const T max_lr = in.real<T>();
    const step_t total = in.step();
    clr::one_cycle<T> s(max_lr, total);
    momentum_range<T> m;
    for (int i = 0; i < max_setters; ++i) {
        const std::uint8_t op = in.byte();
        if (op == 0) break;
        switch (op % 7) {
            case 0: s = s.with_pct_start(in.real<T>()); break;
            case 1: s = s.with_div_factor(in.real<T>()); break;
            case 2: s = s.with_final_div_factor(in.real<T>()); break;
            case 3: s = s.with_anneal((in.byte() & 1) != 0 ? clr::anneal::linear : clr::anneal::cos); break;
            case 4: s = s.with_three_phase((in.byte() & 1) != 0); break;
            case 5: {
                const T bm = in.real<T>();
                const T mm = in.real<T>();
                s = s.with_momentum(bm, mm);
                m = clr::range<T>{bm, mm};
                break;
            }
            default: s = s.with_momentum(); m = clr::range<T>{T(0.85), T(0.95)};
        }
    }
    const auto peak = s.pct_start() * static_cast<T>(total);
    const step_t p = peak >= T(0) && peak < T(1e18) ? static_cast<step_t>(peak) : 0;
    return {s, fixed(m), {total - 1, total, p - 1, p, p + 1, 2 * p}};
}

template <class T>
built<clr::constant<T>> make_constant(input& in) {
    return {clr::constant<T>(in.real<T>()), fixed<T>(std::nullopt), {}};
}

// ---- the everyday decays ----------------------------------------------------------

template <class T>
built<clr::cosine<T>> make_cosine_decay(input& in) {
    const T lr = in.real<T>();
    const step_t total = in.step();
    clr::cosine<T> s(lr, total);
    for (int i = 0; i < max_setters; ++i) {
        if (in.byte() == 0) break;
        s = s.with_eta_min(in.real<T>());
    }
    return {s, fixed<T>(std::nullopt), {total - 1, total, total + 1, total / 2}};
}

template <class T>
built<clr::linear<T>> make_linear(input& in) {
    const T start = in.real<T>();
    const T end = in.real<T>();
    const step_t total = in.step();
    return {
        clr::linear<T>(start, end, total), fixed<T>(std::nullopt), {total - 1, total, total + 1, total / 2}};
}

template <class T>
built<clr::polynomial<T>> make_polynomial(input& in) {
    const T lr = in.real<T>();
    const T end = in.real<T>();
    const step_t total = in.step();
    const T power = in.real<T>();
    return {clr::polynomial<T>(lr, end, total, power),
            fixed<T>(std::nullopt),
            {total - 1, total, total + 1, total / 2}};
}

template <class T>
built<clr::exponential<T>> make_exponential(input& in) {
    const T lr = in.real<T>();
    const T gamma = in.real<T>();
    return {clr::exponential<T>(lr, gamma), fixed<T>(std::nullopt), {2, 1000, step_t{1} << 32}};
}

template <class T>
built<clr::step_decay<T>> make_step_decay(input& in) {
    const T lr = in.real<T>();
    const step_t n = in.step();
    const T gamma = in.real<T>();
    return {clr::step_decay<T>(lr, n, gamma), fixed<T>(std::nullopt), {n - 1, n, 2 * n, 3 * n - 1}};
}

// A count byte (% 20, so that lists longer than multistep takes are tried),
// that many steps, then gamma.
template <class T>
built<clr::multistep<T>> make_multistep(input& in) {
    const T lr = in.real<T>();
    std::vector<step_t> milestones(in.byte() % 20);
    for (step_t& m : milestones) m = in.step();
    const T gamma = in.real<T>();
    std::vector<step_t> marks;
    for (const step_t m : milestones) {
        marks.push_back(m - 1);
        marks.push_back(m);
    }
    return {clr::multistep<T>(lr, milestones, gamma), fixed<T>(std::nullopt), marks};
}

// Calls f with the decay the input picks (kind 0 to 5).
template <class T, class F>
void with_decay(input& in, unsigned kind, F&& f) {
    switch (kind % 6) {
        case 0: f(make_cosine_decay<T>(in)); break;
        case 1: f(make_linear<T>(in)); break;
        case 2: f(make_polynomial<T>(in)); break;
        case 3: f(make_exponential<T>(in)); break;
        case 4: f(make_step_decay<T>(in)); break;
        default: f(make_multistep<T>(in));
    }
}

// The last piece of a sequence of three: fewer kinds again, for the build.
template <class T, class F>
void with_end(input& in, unsigned kind, F&& f) {
    switch (kind % 3) {
        case 0: f(make_cosine_decay<T>(in)); break;
        case 1: f(make_polynomial<T>(in)); break;
        default: f(make_constant<T>(in));
    }
}

// Calls f with the leaf schedule the input picks (kind 0 to 9).
template <class T, class F>
void with_leaf(input& in, unsigned kind, F&& f) {
    switch (kind % 10) {
        case 0: f(make_cyclic<T, clr::triangular_window>(in, clr::no_scale{})); break;
        case 1: f(make_cyclic<T, clr::triangular_window>(in, clr::halving_scale{})); break;
        case 2: f(make_cyclic<T, clr::triangular_window>(in, make_gamma<T>(in))); break;
        case 3: f(make_cyclic<T, clr::welch_window>(in, clr::no_scale{})); break;
        case 4: f(make_cyclic<T, clr::hann_window>(in, clr::no_scale{})); break;
        case 5: f(make_cyclic<T, clr::hann_window>(in, clr::halving_scale{})); break;
        case 6: f(make_cyclic<T, clr::welch_window>(in, make_gamma<T>(in))); break;
        case 7: f(make_cosine<T>(in)); break;
        case 8: f(make_one_cycle<T>(in)); break;
        default: f(make_constant<T>(in));
    }
}

// The second part of a sequence comes from fewer kinds, which keeps the number
// of instantiated sequence types (and the build) small.
template <class T, class F>
void with_tail(input& in, unsigned kind, F&& f) {
    switch (kind % 4) {
        case 0: f(make_cyclic<T, clr::triangular_window>(in, clr::halving_scale{})); break;
        case 1: f(make_cosine<T>(in)); break;
        case 2: f(make_one_cycle<T>(in)); break;
        default: f(make_constant<T>(in));
    }
}

// ---- evaluation ------------------------------------------------------------------

// The same bit pattern (so -0 differs from +0), compared as integers: a
// float's object representation has no padding, but memcmp cannot say so.
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

template <class T>
bool same_bits(const std::optional<T>& a, const std::optional<T>& b) noexcept {
    return a.has_value() == b.has_value() && (!a || same_bits(*a, *b));
}

template <class T>
std::string text(const std::optional<T>& v) {
    return v ? text(*v) : "(none)";
}

// The bounds, and at every step a finite rate inside them; `momentum` says
// where the momentum must lie at each step (nothing: no momentum).
template <class S, class M>
void check_values(const S& s, const M& momentum, const std::vector<step_t>& steps) {
    using T = typename S::value_type;
    const clr::range<T> r = s.bounds();
    if (!(std::isfinite(r.lo) && std::isfinite(r.hi) && r.lo <= r.hi))
        violation("bounds", "[" + text(r.lo) + ", " + text(r.hi) + "]");
    for (const step_t t : steps) {
        const T v = s(t);
        if (!(std::isfinite(v) && r.contains(v)))
            violation("lr outside bounds", "lr(" + text(t) + ") = " + text(v) + ", bounds [" + text(r.lo) +
                                               ", " + text(r.hi) + "]");
        const std::optional<T> m = s.momentum(t);
        const momentum_range<T> want = momentum(t);
        if (m.has_value() != want.has_value())
            violation("momentum presence", "momentum(" + text(t) + (m ? ") is set" : ") is empty"));
        if (m && !(std::isfinite(*m) && want->contains(*m)))
            violation("momentum outside its range", "momentum(" + text(t) + ") = " + text(*m) + ", range [" +
                                                        text(want->lo) + ", " + text(want->hi) + "]");
    }
}

// parse_schedule(to_string(s)) is s again: the same text, the same bounds,
// and bit for bit the same lr and momentum at every step checked. Any
// exception on the way is a violation too: to_string's text must read back.
template <class S>
void check_round_trip(const S& s, const std::string& what, const std::vector<step_t>& steps) {
    using T = typename S::value_type;
    const std::string written = clr::to_string(s);
    std::optional<clr::any_schedule<T>> back;
    try {
        back.emplace(clr::parse_schedule<T>(written));
    } catch (const std::exception& e) {
        violation("text refused on reading back", what + " '" + written + "': " + e.what());
    }
    const std::string again = clr::to_string(*back);
    if (again != written)
        violation("text changed on reading back", what + " '" + written + "' -> '" + again + "'");
    const clr::range<T> r = s.bounds(), rb = back->bounds();
    if (!same_bits(r.lo, rb.lo) || !same_bits(r.hi, rb.hi))
        violation("bounds changed on reading back", "'" + written + "': [" + text(r.lo) + ", " + text(r.hi) +
                                                        "] -> [" + text(rb.lo) + ", " + text(rb.hi) + "]");
    for (const step_t t : steps) {
        const T a = s(t), b = (*back)(t);
        if (!same_bits(a, b))
            violation("lr changed on reading back",
                      "'" + written + "': lr(" + text(t) + ") = " + text(a) + " -> " + text(b));
        const std::optional<T> ma = s.momentum(t), mb = back->momentum(t);
        if (!same_bits(ma, mb))
            violation("momentum changed on reading back",
                      "'" + written + "': momentum(" + text(t) + ") = " + text(ma) + " -> " + text(mb));
    }
}

template <class S>
void evaluate(const built<S>& b, input& in) {
    std::vector<step_t> steps{0, 1, step_t{1} << 62, step_t{1} << 63, last_step};
    steps.insert(steps.end(), b.landmarks.begin(), b.landmarks.end());
    for (int i = 0; i < 32 && !in.empty(); ++i) steps.push_back(in.step());
    check_values(b.s, b.momentum, steps);
    // Every schedule built here has a text form; a user scale function, the
    // one thing without, is code the input cannot choose.
    if constexpr (clr::has_text_form_v<S>) check_round_trip(b.s, "built schedule", steps);
}

// ---- text ---------------------------------------------------------------------------

// Kind 20: the rest of the input is text for parse_schedule, up to a NUL byte
// if there is one; steps to evaluate at follow the NUL. Text either reads as a
// schedule, which must then keep the contract above (momentum, when cycled,
// finite and in [0, 1), what with_momentum accepts) and round-trip through
// to_string, or is refused with a clr::invalid_parameter saying so.
template <class T>
void check_text(const std::string& src, input& in, clr::run_length run = {}) {
    std::optional<clr::any_schedule<T>> s;
    try {
        s.emplace(clr::parse_schedule<T>(src, run));
    } catch (const clr::invalid_parameter& e) {
        const std::string m = e.what();
        if (m.rfind("clr::", 0) != 0) violation("unclear error message", "'" + m + "' for '" + src + "'");
        // One short line, whatever the text holds (a newline, a megabyte).
        const bool control = std::any_of(
            m.begin(), m.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == '\x7f'; });
        if (control || m.size() > 600) violation("error message not one short line", "'" + m + "'");
        return;
    }
    // Besides the usual edges and the steps that follow the text, each whole
    // number in the text and its neighbours: boundaries, step sizes, lengths.
    std::vector<step_t> steps{0, 1, 2, 3, 1000, step_t{1} << 62, step_t{1} << 63, last_step};
    for (std::size_t i = 0; i < src.size() && steps.size() < 256;) {
        if (src[i] < '0' || src[i] > '9') {
            ++i;
            continue;
        }
        step_t n = 0;
        for (; i < src.size() && src[i] >= '0' && src[i] <= '9'; ++i)
            n = n > (last_step - 9) / 10 ? last_step : n * 10 + static_cast<step_t>(src[i] - '0');
        for (const step_t t : {n - 1, n, n + 1, 2 * n}) steps.push_back(t);
    }
    for (int i = 0; i < 32 && !in.empty(); ++i) steps.push_back(in.step());
    const clr::range<T> any_momentum{T(0), std::nextafter(T(1), T(0))};
    check_values(
        *s, [&](step_t t) { return s->momentum(t) ? momentum_range<T>(any_momentum) : std::nullopt; }, steps);
    check_round_trip(*s, "text '" + src + "' read as", steps);
}

template <class T>
void run_text(input& in) {
    std::string src;
    while (!in.empty()) {
        const auto c = static_cast<char>(in.byte());
        if (c == '\0') break;
        src += c;
    }
    check_text<T>(src, in);
}

// A length as text: steps, or now and then epochs or a share of the run.
std::string length_text(input& in) {
    const std::uint8_t how = in.byte();
    if (how < 200) return std::to_string(in.step());
    const double x = static_cast<double>(in.bytes(2)) / 64.0;
    return clr::format_number(x) + (how & 1 ? "ep" : "%");
}

// Any schedule the library describes (clr::schedule_catalog), its arguments
// drawn by the kind its description gives each: a schedule added to the
// library is fuzzed from its description alone.
template <class T>
void run_described(input& in) {
    std::vector<clr::schedule_entry<T>> leaves;
    for (const auto& e : clr::schedule_catalog<T>()) {
        bool nested = false;
        for (const auto& p : e.parameters)
            nested = nested || p.kind == clr::value_kind::schedule || p.kind == clr::value_kind::pieces;
        if (!nested) leaves.push_back(e);
    }
    const auto& e = leaves[in.byte() % leaves.size()];
    std::string src = std::string(e.name) + "(";
    for (const auto& p : e.parameters) {
        if (p.fallback != clr::required && in.byte() < 128) continue;  // left to its default
        std::string v;
        switch (p.kind) {
            case clr::value_kind::number: v = clr::format_number(in.real<T>()); break;
            case clr::value_kind::count: v = std::to_string(in.step()); break;
            case clr::value_kind::length: v = length_text(in); break;
            case clr::value_kind::word: {
                std::vector<std::string> words(1);
                for (const char* c = p.choices; *c; ++c)
                    if (*c == '|')
                        words.emplace_back();
                    else
                        words.back() += *c;
                v = words[in.byte() % words.size()];
                break;
            }
            default: {  // lists
                const unsigned n = in.byte() % 6;
                v = "[";
                for (unsigned i = 0; i < n; ++i)
                    v += (i ? ", " : "") + (p.kind == clr::value_kind::lengths
                                                ? length_text(in)
                                                : clr::format_number(in.real<T>()));
                v += "]";
            }
        }
        src += (src.back() == '(' ? "" : ", ") + std::string(p.key) + "=" + v;
    }
    const clr::run_length run{in.bytes(2), in.bytes(3)};
    check_text<T>(src + ")", in, run);
}

template <class T>
void run(input& in, std::uint8_t head) {
    const unsigned kind = (head & 0x7F) % 22;
    if (kind == 21) {
        run_described<T>(in);
    } else if (kind == 20) {
        run_text<T>(in);
    } else if (kind < 10) {
        with_leaf<T>(in, kind, [&](auto b) { evaluate(b, in); });
    } else if (kind >= 12 && kind < 18) {
        with_decay<T>(in, kind - 12, [&](auto b) { evaluate(b, in); });
    } else if (kind == 18) {
        with_decay<T>(in, in.byte(), [&](auto first) {
            with_tail<T>(in, in.byte(), [&](auto second) {
                with_end<T>(in, in.byte(), [&](auto third) {
                    const step_t n1 = in.step();
                    const step_t n2 = in.step();
                    const auto s = clr::sequence(first.s, n1, second.s, n2, third.s);
                    auto m = [ma = first.momentum, mb = second.momentum, mc = third.momentum, n1,
                              n2](step_t t) {
                        return t < n1 ? ma(t) : t - n1 < n2 ? mb(t - n1) : mc(t - n1 - n2);
                    };
                    std::vector<step_t> marks{n1 - 1, n1, n1 + n2 - 1, n1 + n2, n1 + n2 + 1};
                    for (const step_t t : first.landmarks) marks.push_back(t);
                    for (const step_t t : second.landmarks) marks.push_back(t + n1);
                    for (const step_t t : third.landmarks) marks.push_back(t + n1 + n2);
                    evaluate(built<std::decay_t<decltype(s)>>{s, m, marks}, in);
                });
            });
        });
    } else if (kind == 19) {
        with_decay<T>(in, in.byte(), [&](auto inner) {
            const step_t n = in.step();
            const T start = in.real<T>();
            const auto s = clr::warmup(inner.s, n, start);
            std::vector<step_t> marks{n - 1, n, n + 1};
            for (const step_t t : inner.landmarks) marks.push_back(t + n);
            evaluate(built<std::decay_t<decltype(s)>>{s, fixed<T>(std::nullopt), marks}, in);
        });
    } else if (kind == 10) {
        with_leaf<T>(in, in.byte(), [&](auto inner) {
            const step_t n = in.step();
            const T start = in.real<T>();
            const auto s = clr::warmup(inner.s, n, start);
            auto m = [mi = inner.momentum, n](step_t t) { return mi(t >= n ? t - n : 0); };
            std::vector<step_t> marks{n - 1, n, n + 1};
            for (const step_t t : inner.landmarks) marks.push_back(t + n);
            evaluate(built<std::decay_t<decltype(s)>>{s, m, marks}, in);
        });
    } else {
        with_leaf<T>(in, in.byte(), [&](auto first) {
            with_tail<T>(in, in.byte(), [&](auto second) {
                const step_t n = in.step();
                const auto s = clr::sequence(first.s, n, second.s);
                auto m = [ma = first.momentum, mb = second.momentum, n](step_t t) {
                    return t < n ? ma(t) : mb(t - n);
                };
                std::vector<step_t> marks{n - 1, n, n + 1};
                for (const step_t t : first.landmarks) marks.push_back(t);
                for (const step_t t : second.landmarks) marks.push_back(t + n);
                evaluate(built<std::decay_t<decltype(s)>>{s, m, marks}, in);
            });
        });
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const std::uint8_t head = in.byte();
    try {
        if ((head & 0x80) != 0)
            run<float>(in, head);
        else
            run<double>(in, head);
    } catch (const std::invalid_argument& e) {
        check_refusal(e);
    }
    return 0;
}
