// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The cyclic family of Smith (2015), "Cyclical Learning Rates for Training
// Neural Networks": the rate climbs from base_lr to max_lr over step_size_up
// steps, falls back over step_size_down steps, and repeats.
//
//     L = up + down,  k = floor(t / L),  p = t mod L
//     a = p / up                  while rising (p < up)
//     a = 1 - (p - up) / down     while falling
//     lr(t) = base_lr + (max_lr - base_lr) * w(a) * s(k, t)
//
// The window w shapes one cycle (triangular, Welch, Hann); the amplitude scale
// s shrinks cycles over time (none, halving per cycle, gamma^t, or your own).
// The two combine freely: cyclic<double, hann_window, halving_scale> is a Hann
// window whose peak halves every cycle.
//
//     clr::triangular<double> s(0.001, 0.006, 2000);
//     s(0) == 0.001, s(1000) == 0.0035, s(2000) == 0.006, s(4000) == 0.001
//     clr::triangular2<double> h(0.001, 0.006, 2000);
//     h(6000) == 0.0035                      // second peak, half the height
//     auto m = s.with_momentum(0.8, 0.9);    // momentum 0.9 at base_lr, 0.8 at max_lr
//     *m.momentum(2000) == 0.8
#ifndef CLR_CYCLIC_HPP
#define CLR_CYCLIC_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "schedule.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace clr {

// ---- windows: the shape of one cycle, a in [0, 1] -> w(a) in [0, 1] --------

// Linear ramp: the paper's triangular policy.
struct triangular_window {
    static constexpr const char* name = "clr::triangular";
    static constexpr const char* text = "triangular";
    template <class T>
    static T apply(T a) noexcept {
        return a;
    }
};

// Parabolic: 1 - (1 - a)^2, rising fast and flattening near the peak.
struct welch_window {
    static constexpr const char* name = "clr::welch";
    static constexpr const char* text = "welch";
    template <class T>
    static T apply(T a) noexcept {
        const T b = T(1) - a;
        return T(1) - b * b;
    }
};

// Sinusoidal: (1 - cos(pi a)) / 2, smooth at both ends.
struct hann_window {
    static constexpr const char* name = "clr::hann";
    static constexpr const char* text = "hann";
    template <class T>
    static T apply(T a) noexcept {
        return (T(1) - std::cos(detail::pi<T> * a)) / T(2);
    }
};

// ---- amplitude scales: s(k, t) in [0, 1], k the 0-based cycle ---------------

// Every cycle at full height (mode='triangular'). Errors of a schedule
// without a scale carry its window's name, so this one has none.
struct no_scale {
    static constexpr const char* text = "none";
    template <class T>
    T factor(step_t, step_t) const noexcept {
        return T(1);
    }
};

namespace detail {

// 2^-k, exactly. For IEEE float and double the value is written straight into
// the exponent (or, below the normal range, the mantissa) bits: std::ldexp is a
// library call that sets errno and takes a slow underflow path, and costs
// several times the rest of a triangular2 evaluation.
template <class T>
T exp2_neg(step_t k) noexcept {
    using limits = std::numeric_limits<T>;
    if constexpr (limits::is_iec559 && (sizeof(T) == 4 || sizeof(T) == 8)) {
        using bits_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
        constexpr int fraction_bits = limits::digits - 1;
        constexpr step_t bias = step_t(limits::max_exponent - 1);  // 127 or 1023
        bits_t bits = 0;
        if (k < bias)  // normal: biased exponent bias - k
            bits = static_cast<bits_t>(bias - k) << fraction_bits;
        else if (k < bias + fraction_bits)  // subnormal: a single mantissa bit
            bits = bits_t(1) << (bias - 1 + fraction_bits - k);
        T value;
        std::memcpy(&value, &bits, sizeof value);
        return value;
    } else {
        // Past ~16500 halvings every floating type is at zero; the cap keeps
        // the exponent inside int.
        return std::ldexp(T(1), -static_cast<int>(std::min<step_t>(k, 20000)));
    }
}

}  // namespace detail

// Height halves every cycle: 1 / 2^k (mode='triangular2').
struct halving_scale {
    static constexpr const char* name = "clr::triangular2";
    static constexpr const char* text = "halving";
    template <class T>
    T factor(step_t k, step_t) const noexcept {
        return detail::exp2_neg<T>(k);
    }
};

// Height decays by gamma every step: gamma^t (mode='exp_range', scaled on
// iterations as Keras and PyTorch do).
template <class T>
struct exp_scale {
    static constexpr const char* name = "clr::exp_range";
    static constexpr const char* text = "exp";
    T gamma = T(1);

    exp_scale() = default;
    // Implicit, so that exp_range<double>(base, max, step, 0.99) reads like Keras.
    exp_scale(T g) : gamma(g) {  // NOLINT(google-explicit-constructor)
        detail::require_finite(name, "gamma", g);
        if (!(g > T(0) && g <= T(1))) detail::fail(name, "gamma", detail::to_text(g), "must lie in (0, 1]");
    }

    template <class U>
    U factor(step_t, step_t t) const noexcept {
        return gamma == T(1) ? U(1) : static_cast<U>(std::pow(gamma, static_cast<T>(t)));
    }
};

namespace detail {

// A user scale's value, held to what a scale means: values past [0, 1] are
// clamped to it, so the rate never leaves [base_lr, max_lr] (bounds() holds);
// NaN has no place in that range and is refused, as a NaN rate would reach the
// weights unnoticed. Either way lr() of such a schedule may throw: the user's
// own exceptions pass through too.
template <class T, class V>
T checked_scale(V v, const char* on, step_t at) {
    const T s = static_cast<T>(v);
    if (std::isnan(s))
        throw std::domain_error(std::string("clr::cyclic: the scale function returned nan for ") + on + " " +
                                std::to_string(at) + "; it must return a number in [0, 1]");
    return s < T(0) ? T(0) : s > T(1) ? T(1) : s;
}

}  // namespace detail

// A user scale on the 1-based cycle number (Keras scale_mode='cycle').
// f should return values in [0, 1]; others are clamped to it, and NaN makes
// lr() throw std::domain_error naming the cycle.
template <class F>
struct cycle_scale {
    static constexpr const char* name = "clr::cyclic";
    F f;
    template <class T>
    T factor(step_t k, step_t) const {
        return detail::checked_scale<T>(f(k + 1), "cycle", k + 1);
    }
};

// A user scale on the step (Keras scale_mode='iterations'); as cycle_scale.
template <class F>
struct step_scale {
    static constexpr const char* name = "clr::cyclic";
    F f;
    template <class T>
    T factor(step_t, step_t t) const {
        return detail::checked_scale<T>(f(t), "step", t);
    }
};

template <class F>
cycle_scale<F> scale_on_cycle(F f) {
    return {std::move(f)};
}

template <class F>
step_scale<F> scale_on_step(F f) {
    return {std::move(f)};
}

namespace detail {
// The name errors carry: the paper's policy name where one fits.
template <class Window, class Scale>
constexpr const char* cyclic_name() noexcept {
    if constexpr (std::is_same_v<Scale, no_scale>)
        return Window::name;
    else if constexpr (std::is_same_v<Window, triangular_window>)
        return Scale::name;
    else
        return "clr::cyclic";
}
}  // namespace detail

// ---- the schedule -----------------------------------------------------------

template <class T, class Window = triangular_window, class Scale = no_scale>
class cyclic : public schedule<cyclic<T, Window, Scale>, T> {
    static constexpr const char* who = detail::cyclic_name<Window, Scale>();
    // The library's scales never throw; a user function may.
    static constexpr bool nothrow_scale =
        noexcept(std::declval<const Scale&>().template factor<T>(step_t{}, step_t{}));

public:
    using window_type = Window;
    using scale_type = Scale;

    // base_lr, max_lr and step_size (the half cycle) as in Keras's CyclicLR;
    // the scale is the gamma of exp_range or a user function.
    cyclic(T base_lr, T max_lr, step_t step_size, Scale scale = Scale())
        : base_(detail::require_rate(who, "base_lr", base_lr)),
          max_(detail::require_rate(who, "max_lr", max_lr)),
          up_(detail::require_steps(who, "step_size", step_size)),
          down_(up_),
          scale_(std::move(scale)) {
        detail::require_ordered(who, "base_lr", base_, "max_lr", max_);
    }

    // Asymmetric cycles (PyTorch's step_size_down): falling takes `steps`.
    cyclic with_step_size_down(step_t steps) const {
        cyclic c = *this;
        c.down_ = detail::require_steps(who, "step_size_down", steps);
        return c;
    }

    // Cycle momentum inversely to the rate: max_momentum when the rate is at
    // base_lr, base_momentum at the peak (PyTorch's cycle_momentum).
    cyclic with_momentum(T base_momentum, T max_momentum) const {
        cyclic c = *this;
        c.base_m_ = detail::require_momentum(who, "base_momentum", base_momentum);
        c.max_m_ = detail::require_momentum(who, "max_momentum", max_momentum);
        detail::require_ordered(who, "base_momentum", base_momentum, "max_momentum", max_momentum);
        c.cycles_momentum_ = true;
        return c;
    }

    T lr_at(step_t t) const noexcept(nothrow_scale) { return detail::lerp(base_, max_, height(t)); }

    std::optional<T> momentum_at(step_t t) const noexcept(nothrow_scale) {
        if (!cycles_momentum_) return std::nullopt;
        return detail::lerp(max_m_, base_m_, height(t));
    }

    range<T> lr_range() const noexcept { return {base_, max_}; }

    T base_lr() const noexcept { return base_; }
    T max_lr() const noexcept { return max_; }
    step_t step_size_up() const noexcept { return up_; }
    step_t step_size_down() const noexcept { return down_; }
    step_t cycle_length() const noexcept { return up_ + down_; }
    const Scale& scale() const noexcept { return scale_; }
    // The momentum range, when with_momentum cycles it.
    std::optional<range<T>> momentum_range() const noexcept {
        if (!cycles_momentum_) return std::nullopt;
        return range<T>{base_m_, max_m_};
    }

private:
    // w(a) * s: where in [0, 1] between the bounds step t sits.
    T height(step_t t) const noexcept(nothrow_scale) {
        const step_t len = up_ + down_;
        const step_t k = t / len;
        const step_t p = t % len;
        const T a = p < up_ ? static_cast<T>(p) / static_cast<T>(up_)
                            : T(1) - static_cast<T>(p - up_) / static_cast<T>(down_);
        return Window::apply(a) * scale_.template factor<T>(k, t);
    }

    T base_;
    T max_;
    step_t up_;
    step_t down_;
    Scale scale_;
    T base_m_ = T(0);
    T max_m_ = T(0);
    bool cycles_momentum_ = false;
};

namespace detail {

// The paper's policy names where one fits, else the general form:
//     triangular(base_lr=0.001, max_lr=0.006, step_size=2000)
//     cyclic(window=hann, scale=halving, base_lr=0.001, max_lr=0.006, step_size=500)
// User scale functions are code, not data: those schedules have no text form.
template <class Window, class Scale>
inline constexpr bool writable_scale =
    std::is_same_v<Scale, no_scale> || std::is_same_v<Scale, halving_scale> ||
    std::is_same_v<Scale, exp_scale<float>> || std::is_same_v<Scale, exp_scale<double>> ||
    std::is_same_v<Scale, exp_scale<long double>>;

template <class Window, class Scale>
constexpr const char* cyclic_text_name() noexcept {
    if constexpr (std::is_same_v<Window, triangular_window>)
        return std::is_same_v<Scale, no_scale>        ? "triangular"
               : std::is_same_v<Scale, halving_scale> ? "triangular2"
                                                      : "exp_range";
    else if constexpr (std::is_same_v<Scale, no_scale>)
        return Window::text;
    else
        return "cyclic";
}

#define CLR_DETAIL_CYCLIC_PARAMETERS                                                                        \
    {"base_lr", value_kind::number, required, "the bottom of each cycle"},                                  \
        {"max_lr", value_kind::number, required, "the peak of the first cycle"},                            \
        {"step_size", value_kind::length, required, "steps of the rising half cycle"},                      \
        {"step_size_down", value_kind::length, none, "steps of the falling half (default: step_size)"},     \
        {"base_momentum", value_kind::number, none, "momentum at the peak; with max_momentum cycles it"}, { \
        "max_momentum", value_kind::number, none, "momentum at base_lr; with base_momentum cycles it"       \
    }

inline constexpr parameter cyclic_parameters[] = {CLR_DETAIL_CYCLIC_PARAMETERS};
inline constexpr parameter exp_range_parameters[] = {
    CLR_DETAIL_CYCLIC_PARAMETERS, {"gamma", value_kind::number, "1", "height decay per step, in (0, 1]"}};
inline constexpr parameter general_cyclic_parameters[] = {
    {"window", value_kind::word, "triangular", "shape of a cycle", "triangular|welch|hann"},
    {"scale", value_kind::word, "none", "height per cycle: none, halving, or gamma^t", "none|halving|exp"},
    CLR_DETAIL_CYCLIC_PARAMETERS,
    {"gamma", value_kind::number, "1", "height decay per step with scale=exp, in (0, 1]"}};
#undef CLR_DETAIL_CYCLIC_PARAMETERS

template <class T, class Window, class Scale>
cyclic<T, Window, Scale> make_cyclic_from(const arguments<T>& a) {
    Scale scale;
    if constexpr (!std::is_same_v<Scale, no_scale> && !std::is_same_v<Scale, halving_scale>)
        scale = Scale(a.number("gamma"));
    else if (a.given("gamma"))
        a.fail("gamma", "(given)", "applies only to scale=exp");
    cyclic<T, Window, Scale> c(a.number("base_lr"), a.number("max_lr"), a.length("step_size"), scale);
    if (const auto down = a.length_if("step_size_down")) c = c.with_step_size_down(*down);
    const auto lo = a.number_if("base_momentum"), hi = a.number_if("max_momentum");
    if (bool(lo) != bool(hi))
        a.fail(
            lo ? "max_momentum" : "base_momentum", "(missing)",
            std::string("is required by ") + a.name() + " with " + (lo ? "base_momentum" : "max_momentum"));
    if (lo) c = c.with_momentum(*lo, *hi);
    return c;
}

template <class T, class Window>
any_schedule<T> make_cyclic_scaled(const arguments<T>& a) {
    switch (a.word("scale")) {
        case 0: return make_cyclic_from<T, Window, no_scale>(a);
        case 1: return make_cyclic_from<T, Window, halving_scale>(a);
        default: return make_cyclic_from<T, Window, exp_scale<T>>(a);
    }
}

}  // namespace detail

template <class T, class Window, class Scale>
struct describe<cyclic<T, Window, Scale>, std::enable_if_t<detail::writable_scale<Window, Scale>>> {
    static constexpr bool exp = !std::is_same_v<Scale, no_scale> && !std::is_same_v<Scale, halving_scale>;
    static constexpr bool general =
        !std::is_same_v<Window, triangular_window> && !std::is_same_v<Scale, no_scale>;
    static constexpr const char* name = detail::cyclic_text_name<Window, Scale>();
    static constexpr parameter_list parameters = general ? parameter_list(detail::general_cyclic_parameters)
                                                 : exp   ? parameter_list(detail::exp_range_parameters)
                                                         : parameter_list(detail::cyclic_parameters);

    static auto make(const arguments<T>& a) {
        if constexpr (general) {
            switch (a.word("window")) {
                case 0: return detail::make_cyclic_scaled<T, triangular_window>(a);
                case 1: return detail::make_cyclic_scaled<T, welch_window>(a);
                default: return detail::make_cyclic_scaled<T, hann_window>(a);
            }
        } else {
            return detail::make_cyclic_from<T, Window, Scale>(a);
        }
    }

    template <class W>
    static void write(W& w, const cyclic<T, Window, Scale>& s) {
        if constexpr (general) w("window", Window::text)("scale", Scale::text);
        w("base_lr", s.base_lr())("max_lr", s.max_lr())("step_size", s.step_size_up());
        if (s.step_size_down() != s.step_size_up()) w("step_size_down", s.step_size_down());
        if constexpr (exp) w("gamma", s.scale().gamma);
        if (const auto m = s.momentum_range()) w("base_momentum", m->lo)("max_momentum", m->hi);
    }
};

// The paper's named policies.
template <class T>
using triangular = cyclic<T, triangular_window, no_scale>;
template <class T>
using triangular2 = cyclic<T, triangular_window, halving_scale>;
template <class T>
using exp_range = cyclic<T, triangular_window, exp_scale<T>>;
template <class T>
using welch = cyclic<T, welch_window, no_scale>;
template <class T>
using hann = cyclic<T, hann_window, no_scale>;

// Any window with any scale, the type deduced:
//     auto s = clr::make_cyclic<clr::hann_window>(0.001, 0.006, 500,
//                  clr::scale_on_cycle([](clr::step_t c) { return 1.0 / c; }));
template <class Window = triangular_window, class T, class Scale = no_scale>
cyclic<T, Window, Scale> make_cyclic(T base_lr, T max_lr, step_t step_size, Scale scale = Scale()) {
    return {base_lr, max_lr, step_size, std::move(scale)};
}

namespace detail {
// The general form's entry in the catalog; its maker reads window= and scale=.
template <class T>
using general_cyclic = cyclic<T, welch_window, halving_scale>;
}  // namespace detail

}  // namespace clr

#endif  // CLR_CYCLIC_HPP
