// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Warmup-stable-decay (WSD, the "trapezoid" of MiniCPM and of long language
// model runs): a ramp up to lr over `warmup` steps, lr held for `stable`
// steps, a fall over `decay` steps, then lr * min_lr_ratio held. Each ramp
// has a shape (linear, cosine or 1-sqrt). With W = warmup, S = stable,
// D = decay, m = min_lr_ratio and g the shape:
//
//     t < W:              lr * max(0, g_up(t / W) (1 - m) + m)
//     W <= t < W + S:     lr
//     W + S <= t < W+S+D: lr * max(0, g_down((t - W - S) / D) (1 - m) + m)
//     t >= W + S + D:     lr * m
//
//     g_up(p):   p (linear) | (1 - cos(pi p)) / 2 (cosine) | 1 - sqrt(1 - p) (1-sqrt)
//     g_down(p): 1 - p      | (1 + cos(pi p)) / 2          | 1 - sqrt(p)
//
//     auto s = clr::wsd<double>(0.1, 100, 300, 200);   // linear up, cosine down
//     s(0) == 0, s(50) == 0.05, s(100) == 0.1, s(399) == 0.1, s(500) == 0.05,
//     s(600) == 0 (held)
//
// It is transformers' get_wsd_schedule (num_cycles = 0.5, its cosine's half
// turn) at src/transformers/optimization.py @ 005edacb, step for step to
// 1e-12: that version starts its warmup at lr * min_lr_ratio, not at 0
// (versions before warmup_type ramped from 0). Each product and sum is
// rounded in the order transformers writes it, and the angle is pi * p as
// there, so that a decay ending at 0, where 1 + cos cancels, still agrees.
#ifndef CLR_WSD_HPP
#define CLR_WSD_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "schedule.hpp"

#include <cmath>

namespace clr {

// The shape of a wsd ramp; in text linear, cosine and 1-sqrt.
enum class wsd_shape { linear, cosine, one_minus_sqrt };

namespace detail {

// The text of a shape: its index in wsd's choices "linear|cosine|1-sqrt" is
// its enumerator's value.
inline const char* wsd_shape_name(wsd_shape s) noexcept {
    switch (s) {
        case wsd_shape::linear: return "linear";
        case wsd_shape::cosine: return "cosine";
        case wsd_shape::one_minus_sqrt: return "1-sqrt";
    }
    return "linear";
}

}  // namespace detail

template <class T>
class wsd : public schedule<wsd<T>, T> {
    static constexpr const char* who = "clr::wsd";

public:
    // lr: the rate of the stable phase; warmup, stable, decay: each phase's
    // length in steps, any of them 0 (warmup 0: step 0 is already stable).
    wsd(T lr, step_t warmup, step_t stable, step_t decay)
        : lr_(detail::require_rate(who, "lr", lr)),
          warmup_(detail::require_count(who, "warmup", warmup)),
          stable_(detail::require_count(who, "stable", stable)),
          decay_(detail::require_count(who, "decay", decay)) {}

    // The warmup's shape (default linear, transformers' warmup_type).
    wsd with_warmup_shape(wsd_shape s) const {
        wsd w = *this;
        w.warmup_shape_ = s;
        return w;
    }

    // The decay's shape (default cosine, transformers' decay_type).
    wsd with_decay_shape(wsd_shape s) const {
        wsd w = *this;
        w.decay_shape_ = s;
        return w;
    }

    // The floor as a share of lr, in [0, 1]: where the warmup starts and the
    // decay ends (default 0).
    wsd with_min_lr_ratio(T r) const {
        detail::require_finite(who, "min_lr_ratio", r);
        if (!(r >= T(0) && r <= T(1)))
            detail::fail(who, "min_lr_ratio", detail::to_text(r), "must lie in [0, 1]");
        wsd w = *this;
        w.ratio_ = r;
        return w;
    }

    T lr_at(step_t t) const noexcept {
        if (t < warmup_) return lr_ * factor(rise(warmup_shape_, fraction(t, warmup_)));
        t -= warmup_;
        if (t < stable_) return lr_;  // transformers' lr * 1.0
        t -= stable_;
        if (t < decay_) return lr_ * factor(fall(decay_shape_, fraction(t, decay_)));
        return lr_ * ratio_;
    }

    // Every factor lies in [m, 1]: g does, and g (1 - m) + m rounds to no
    // less than m and no more than 1; so every rate lies in [lr m, lr].
    range<T> lr_range() const noexcept { return {lr_ * ratio_, lr_}; }

    T peak_lr() const noexcept { return lr_; }
    step_t warmup_steps() const noexcept { return warmup_; }
    step_t stable_steps() const noexcept { return stable_; }
    step_t decay_steps() const noexcept { return decay_; }
    wsd_shape warmup_shape() const noexcept { return warmup_shape_; }
    wsd_shape decay_shape() const noexcept { return decay_shape_; }
    T min_lr_ratio() const noexcept { return ratio_; }

private:
    // t / n for t < n, one division as transformers does it; in float it may
    // round to 1, where every shape is still in [0, 1].
    static T fraction(step_t t, step_t n) noexcept { return static_cast<T>(t) / static_cast<T>(n); }

    static T rise(wsd_shape s, T p) noexcept {
        if (s == wsd_shape::cosine) return T(0.5) * (T(1) - std::cos(detail::pi<T> * p));
        if (s == wsd_shape::one_minus_sqrt) return T(1) - std::sqrt(T(1) - p);
        return p;
    }

    static T fall(wsd_shape s, T p) noexcept {
        if (s == wsd_shape::cosine) return T(0.5) * (T(1) + std::cos(detail::pi<T> * p));
        if (s == wsd_shape::one_minus_sqrt) return T(1) - std::sqrt(p);
        return T(1) - p;
    }

    // transformers' max(0, g * (1 - m) + m).
    T factor(T g) const noexcept {
        const T f = g * (T(1) - ratio_) + ratio_;
        return f > T(0) ? f : T(0);
    }

    T lr_;
    step_t warmup_;
    step_t stable_;
    step_t decay_;
    wsd_shape warmup_shape_ = wsd_shape::linear;
    wsd_shape decay_shape_ = wsd_shape::cosine;
    T ratio_ = T(0);
};

// wsd(lr=0.1, warmup=100, stable=300, decay=200), the shapes and ratio when
// not the defaults.
template <class T>
struct describe<wsd<T>> {
    static constexpr const char* name = "wsd";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate of the stable phase, the peak", "", "max-lr"},
        {"warmup", value_kind::length, required, "steps of the ramp up to lr"},
        {"stable", value_kind::length, required, "steps held at lr"},
        {"decay", value_kind::length, required, "steps of the fall to lr * min_lr_ratio"},
        {"warmup_shape", value_kind::word, "linear", "shape of the ramp up", "linear|cosine|1-sqrt"},
        {"decay_shape", value_kind::word, "cosine", "shape of the fall", "linear|cosine|1-sqrt"},
        {"min_lr_ratio", value_kind::number, "0", "start and end rate as a share of lr, in [0, 1]"},
    };
    static wsd<T> make(const arguments<T>& a) {
        return wsd<T>(a.number("lr"), a.length("warmup"), a.length("stable"), a.length("decay"))
            .with_warmup_shape(static_cast<wsd_shape>(a.word("warmup_shape")))
            .with_decay_shape(static_cast<wsd_shape>(a.word("decay_shape")))
            .with_min_lr_ratio(a.number("min_lr_ratio"));
    }
    template <class W>
    static void write(W& w, const wsd<T>& s) {
        w("lr", s.peak_lr())("warmup", s.warmup_steps())("stable", s.stable_steps())("decay",
                                                                                     s.decay_steps());
        w("warmup_shape", detail::wsd_shape_name(s.warmup_shape()));
        w("decay_shape", detail::wsd_shape_name(s.decay_shape()));
        w("min_lr_ratio", s.min_lr_ratio());
    }
};

}  // namespace clr

#endif  // CLR_WSD_HPP
