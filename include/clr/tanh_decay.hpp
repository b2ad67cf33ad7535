// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Hyperbolic-tangent decay (Hsueh et al. 2019, "Stochastic gradient descent
// with hyperbolic-tangent decay"), timm's TanhLRScheduler for one cycle: the
// rate stays near lr, falls through the middle and flattens near lr_min, then
// holds lr_min. With T = total_steps and x = t / T:
//
//     lr(t) = lr_min + (lr - lr_min) (1 - tanh(lb (1 - x) + ub x)) / 2   for t < T
//     lr(t) = lr_min                                                     for t >= T
//
//     auto s = clr::tanh_decay<double>(0.1, 500);   // lb = -7, ub = 3, lr_min = 0
//     s(0) == 0.09999991684719724 ((1 - tanh(-7)) / 2 = 1 - 8.3e-7, not quite lr),
//     s(350) == 0.05 (where lb (1 - x) + ub x = 0), s(499) == 0.000257..., s(500) == 0
//
// Step for step timm's TanhLRScheduler (timm/scheduler/tanh_lr.py @ 0d4c04f3,
// cycle_limit 1, no warmup, t_in_epochs=False) to 1e-12. The value just
// before T is lr_min + 0.0025 (lr - lr_min) with the default ub = 3, and the
// rate then drops to lr_min, as in timm; a larger ub makes the step smaller.
// timm's warmup and restarts are clr::warmup and clr::sequence here.
#ifndef CLR_TANH_DECAY_HPP
#define CLR_TANH_DECAY_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "schedule.hpp"

#include <cmath>
#include <string>

namespace clr {

template <class T>
class tanh_decay : public schedule<tanh_decay<T>, T> {
    static constexpr const char* who = "clr::tanh_decay";

public:
    // lr: the rate the curve starts just below; total_steps: T, after which
    // it holds lr_min.
    tanh_decay(T lr, step_t total_steps)
        : lr_(detail::require_rate(who, "lr", lr)),
          total_(detail::require_steps(who, "total_steps", total_steps)) {}

    // The floor the rate falls to and holds (timm's lr_min, default 0).
    tanh_decay with_lr_min(T lr_min) const {
        tanh_decay c = *this;
        c.lr_min_ = detail::require_rate(who, "lr_min", lr_min);
        // Named as the value given here, not lr: lr_min is the one being set.
        if (lr_min > lr_)
            detail::fail(who, "lr_min", detail::to_text(lr_min),
                         ("must not be above lr = " + detail::to_text(lr_)).c_str());
        return c;
    }

    // The tanh's argument runs from lb at step 0 to ub at T (timm's -7 and 3):
    // the lower lb, the closer the start to lr; the higher ub, the closer the
    // end to lr_min. lb < ub, as timm asserts.
    tanh_decay with_bounds(T lb, T ub) const {
        detail::require_finite(who, "lb", lb);
        detail::require_finite(who, "ub", ub);
        if (!(lb < ub))
            detail::fail(who, "ub", detail::to_text(ub),
                         ("must be above lb = " + detail::to_text(lb)).c_str());
        tanh_decay c = *this;
        c.lb_ = lb;
        c.ub_ = ub;
        return c;
    }

    T lr_at(step_t t) const noexcept {
        if (t >= total_) return lr_min_;
        const T x = static_cast<T>(t) / static_cast<T>(total_);
        // timm's 0.5 (lr - lr_min) (1 - tanh) equals (lr - lr_min) times half
        // of (1 - tanh) to the bit (halving is exact); lerp keeps it in bounds
        // where 1 - tanh reaches 2 (lb below -19) and the sum rounds past lr.
        const T w = (T(1) - std::tanh(lb_ * (T(1) - x) + ub_ * x)) / T(2);
        return detail::lerp(lr_min_, lr_, w);
    }

    range<T> lr_range() const noexcept { return {lr_min_, lr_}; }

    T peak_lr() const noexcept { return lr_; }
    T lr_min() const noexcept { return lr_min_; }
    T lb() const noexcept { return lb_; }
    T ub() const noexcept { return ub_; }
    step_t total_steps() const noexcept { return total_; }

private:
    T lr_;
    T lr_min_ = T(0);
    T lb_ = T(-7);
    T ub_ = T(3);
    step_t total_;
};

// tanh(lr=0.1, total_steps=500), lr_min, lb and ub when not timm's defaults.
template <class T>
struct describe<tanh_decay<T>> {
    static constexpr const char* name = "tanh";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate it starts just below", "", "max-lr"},
        {"total_steps", value_kind::length, "100%", "length of the decay", "", "total-steps"},
        {"lr_min", value_kind::number, "0", "the floor it falls to and holds", "", "base-lr"},
        {"lb", value_kind::number, "-7", "tanh's argument at step 0"},
        {"ub", value_kind::number, "3", "tanh's argument at total_steps, above lb"},
    };
    static tanh_decay<T> make(const arguments<T>& a) {
        return tanh_decay<T>(a.number("lr"), a.length("total_steps"))
            .with_lr_min(a.number("lr_min"))
            .with_bounds(a.number("lb"), a.number("ub"));
    }
    template <class W>
    static void write(W& w, const tanh_decay<T>& s) {
        w("lr", s.peak_lr())("total_steps", s.total_steps())("lr_min", s.lr_min())("lb", s.lb())("ub",
                                                                                                 s.ub());
    }
};

}  // namespace clr

#endif  // CLR_TANH_DECAY_HPP
