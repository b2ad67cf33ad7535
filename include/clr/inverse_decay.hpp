// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Decays that fall as an inverse power of the step and never end: the
// transformer's inverse square root (Vaswani et al. 2017, "Noam") and Keras's
// inverse time decay.
//
//     inverse_sqrt(lr, W), timescale s:  lr t / W                         for t < W
//                                        lr / sqrt((t + s - W) / s)       for t >= W
//     inverse_time(lr, n, r):            lr / (1 + r t / n)    (t / n floored with staircase)
//
//     auto a = clr::inverse_sqrt<double>(0.1, 100);          // s = W = 100
//     a(0) == 0, a(50) == 0.05, a(100) == 0.1, a(400) == 0.05, a(10000) == 0.01
//     auto b = clr::inverse_time<double>(0.1, 100, 0.5);
//     b(0) == 0.1, b(200) == 0.05; with_staircase(): b(99) == 0.1, b(100) == 0.1 / 1.5
//
// inverse_sqrt is transformers' get_inverse_sqrt_schedule
// (src/transformers/optimization.py @ 005edacb): timescale defaults to the
// warmup, or 10000 without one, and t + (s - W) is summed in integers before
// its one division, as there. inverse_time is Keras 3's InverseTimeDecay.
// Both match their reference tables to 1e-12 at every step (computed in
// double: Keras computes in float32 for a Python float lr, so Keras itself
// is only as close as float32).
//
// Neither holds a final value: both fall towards 0 for ever, so bounds().lo is
// 0, the limit (inverse_time with decay_rate 0 is constant: lo is lr).
#ifndef CLR_INVERSE_DECAY_HPP
#define CLR_INVERSE_DECAY_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "schedule.hpp"

#include <cmath>
#include <limits>
#include <optional>

namespace clr {

// Linear warmup to lr over W steps, then lr sqrt(s / (t - W + s)): lr at
// t = W, lr / 2 at t = W + 3 s.
template <class T>
class inverse_sqrt : public schedule<inverse_sqrt<T>, T> {
    static constexpr const char* who = "clr::inverse_sqrt";

public:
    // The timescale without a warmup (transformers' `num_warmup_steps or 10_000`).
    static constexpr step_t default_timescale_without_warmup = 10000;

    // lr: the peak, at the end of the warmup; warmup: its steps, 0 for none.
    inverse_sqrt(T lr, step_t warmup)
        : lr_(detail::require_rate(who, "lr", lr)),
          warmup_(detail::require_count(who, "warmup", warmup)),
          timescale_(default_timescale(warmup)) {}

    // Steps over which the rate falls: lr / sqrt(2) after s more steps past
    // the warmup, lr / 2 after 3 s. Default: the warmup, or 10000 without one.
    inverse_sqrt with_timescale(step_t s) const {
        inverse_sqrt c = *this;
        c.timescale_ = detail::require_steps(who, "timescale", s);
        return c;
    }

    T lr_at(step_t t) const noexcept {
        if (t < warmup_) return lr_ * (static_cast<T>(t) / static_cast<T>(warmup_));
        // The integer t + (s - W), as transformers sums it; past 2^64 (a step
        // no run reaches) the sum is taken in T instead of wrapping.
        const step_t past = t - warmup_;
        const T n = past <= std::numeric_limits<step_t>::max() - timescale_
                        ? static_cast<T>(past + timescale_)
                        : static_cast<T>(past) + static_cast<T>(timescale_);
        return lr_ * (T(1) / std::sqrt(n / static_cast<T>(timescale_)));
    }

    // n >= s, so the factor is at most 1; it tends to 0, never reaching it.
    range<T> lr_range() const noexcept { return {T(0), lr_}; }

    T peak_lr() const noexcept { return lr_; }
    step_t warmup_steps() const noexcept { return warmup_; }
    step_t timescale() const noexcept { return timescale_; }
    static step_t default_timescale(step_t warmup) noexcept {
        return warmup != 0 ? warmup : default_timescale_without_warmup;
    }

private:
    T lr_;
    step_t warmup_;
    step_t timescale_;
};

// lr / (1 + decay_rate t / decay_steps): Keras's InverseTimeDecay.
template <class T>
class inverse_time : public schedule<inverse_time<T>, T> {
    static constexpr const char* who = "clr::inverse_time";

public:
    // lr: the rate at step 0; decay_rate >= 0: how much 1 / lr grows, in
    // units of 1 / lr, every decay_steps steps.
    inverse_time(T lr, step_t decay_steps, T decay_rate)
        : lr_(detail::require_rate(who, "lr", lr)),
          steps_(detail::require_steps(who, "decay_steps", decay_steps)),
          rate_(detail::require_rate(who, "decay_rate", decay_rate)) {}

    // Falls only every decay_steps steps (Keras's staircase: t / n floored).
    inverse_time with_staircase(bool on = true) const {
        inverse_time c = *this;
        c.staircase_ = on;
        return c;
    }

    T lr_at(step_t t) const noexcept {
        // Keras floors the quotient of the two floats, not the integer quotient.
        T p = static_cast<T>(t) / static_cast<T>(steps_);
        if (staircase_) p = std::floor(p);
        return lr_ / (T(1) + rate_ * p);
    }

    // The denominator is at least 1 and grows without bound unless the rate is 0.
    range<T> lr_range() const noexcept { return {rate_ == T(0) ? lr_ : T(0), lr_}; }

    T initial_lr() const noexcept { return lr_; }
    step_t decay_steps() const noexcept { return steps_; }
    T decay_rate() const noexcept { return rate_; }
    bool staircase() const noexcept { return staircase_; }

private:
    T lr_;
    step_t steps_;
    T rate_;
    bool staircase_ = false;
};

// inverse_sqrt(lr=0.1, warmup=100), timescale only where it is not the one
// the warmup implies.
template <class T>
struct describe<inverse_sqrt<T>> {
    static constexpr const char* name = "inverse_sqrt";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the peak rate, at the end of the warmup", "", "max-lr"},
        {"warmup", value_kind::length, required, "steps of the linear ramp from 0; 0 for none"},
        {"timescale", value_kind::length, none,
         "steps of the fall's scale (default: warmup, or 10000 when 0)"},
    };
    static inverse_sqrt<T> make(const arguments<T>& a) {
        const inverse_sqrt<T> s(a.number("lr"), a.length("warmup"));
        const std::optional<step_t> n = a.length_if("timescale");
        return n ? s.with_timescale(*n) : s;
    }
    template <class W>
    static void write(W& w, const inverse_sqrt<T>& s) {
        std::optional<step_t> n;
        if (s.timescale() != inverse_sqrt<T>::default_timescale(s.warmup_steps())) n = s.timescale();
        w("lr", s.peak_lr())("warmup", s.warmup_steps())("timescale", n);
    }
};

// inverse_time(lr=0.1, decay_steps=100, decay_rate=0.5), staircase=true when set.
template <class T>
struct describe<inverse_time<T>> {
    static constexpr const char* name = "inverse_time";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate at step 0", "", "max-lr"},
        {"decay_steps", value_kind::length, required, "steps per unit of decay"},
        {"decay_rate", value_kind::number, required, "growth of lr / rate per decay_steps, >= 0"},
        {"staircase", value_kind::word, "false", "fall only every decay_steps steps", "false|true"},
    };
    static inverse_time<T> make(const arguments<T>& a) {
        return inverse_time<T>(a.number("lr"), a.length("decay_steps"), a.number("decay_rate"))
            .with_staircase(a.word("staircase") == 1);
    }
    template <class W>
    static void write(W& w, const inverse_time<T>& s) {
        w("lr", s.initial_lr())("decay_steps", s.decay_steps())("decay_rate", s.decay_rate());
        w("staircase", s.staircase() ? "true" : "false");
    }
};

}  // namespace clr

#endif  // CLR_INVERSE_DECAY_HPP
