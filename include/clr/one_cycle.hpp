// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The one-cycle policy (Smith & Topin 2017, super-convergence), step for step
// PyTorch's OneCycleLR: one long climb from max_lr / div_factor to max_lr, then
// an anneal far below the start. With T = total_steps and pct = pct_start:
//
//     initial = max_lr / div_factor,  minimum = initial / final_div_factor
//     two phases:   [0, pct*T - 1]            initial -> max_lr
//                   [pct*T - 1, T - 1]        max_lr  -> minimum
//     three phases: [0, pct*T - 1]            initial -> max_lr
//                   [pct*T - 1, 2*pct*T - 2]  max_lr  -> initial
//                   [2*pct*T - 2, T - 1]      initial -> minimum
//     inside a phase from s0 to s1, x = (t - s0) / (s1 - s0):
//       cos:    v = end + (start - end) * (1 + cos(pi x)) / 2
//       linear: v = start + (end - start) * x
//
//     clr::one_cycle<double> s(0.1, 1000);   // pct_start 0.3, div 25, final_div 1e4
//     s(0) == 0.004, s(299) == 0.1, s(999) == 4e-7, s(5000) == 4e-7 (held)
//
// Unlike PyTorch, steps past the end hold the final value instead of throwing:
// a trainer that runs one batch too many keeps a sane rate.
#ifndef CLR_ONE_CYCLE_HPP
#define CLR_ONE_CYCLE_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "schedule.hpp"

#include <algorithm>
#include <array>

namespace clr {

enum class anneal { cos, linear };

template <class T>
class one_cycle : public schedule<one_cycle<T>, T> {
    static constexpr const char* who = "clr::one_cycle";

public:
    one_cycle(T max_lr, step_t total_steps)
        : max_lr_(detail::require_positive(who, "max_lr", max_lr)),
          total_(detail::require_steps(who, "total_steps", total_steps)) {
        plan();
    }

    // Fraction of the steps spent climbing, in (0, 1); below 0.5 with three phases.
    one_cycle with_pct_start(T pct) const {
        one_cycle c = *this;
        c.pct_ = pct;
        c.plan();
        return c;
    }
    // initial = max_lr / div_factor.
    one_cycle with_div_factor(T div) const {
        one_cycle c = *this;
        c.div_ = detail::require_positive(who, "div_factor", div);
        c.plan();
        return c;
    }
    // minimum = initial / final_div_factor.
    one_cycle with_final_div_factor(T div) const {
        one_cycle c = *this;
        c.final_div_ = detail::require_positive(who, "final_div_factor", div);
        c.plan();
        return c;
    }
    one_cycle with_anneal(anneal a) const {
        one_cycle c = *this;
        c.anneal_ = a;
        return c;
    }
    // fastai's shape: climb, come back down to initial, then anneal to minimum.
    one_cycle with_three_phase(bool on = true) const {
        one_cycle c = *this;
        c.three_phase_ = on;
        c.plan();
        return c;
    }
    // Cycle momentum (Adam's beta1) against the rate: max_momentum while the
    // rate is low, base_momentum at its peak (PyTorch's cycle_momentum).
    one_cycle with_momentum(T base_momentum = default_base_momentum,
                            T max_momentum = default_max_momentum) const {
        one_cycle c = *this;
        c.base_m_ = detail::require_momentum(who, "base_momentum", base_momentum);
        c.max_m_ = detail::require_momentum(who, "max_momentum", max_momentum);
        detail::require_ordered(who, "base_momentum", base_momentum, "max_momentum", max_momentum);
        c.cycles_momentum_ = true;
        c.plan();
        return c;
    }

    T lr_at(step_t t) const noexcept {
        const position p = locate(t);
        return interpolate(phases_[p.phase].lr_start, phases_[p.phase].lr_end, p.x);
    }

    std::optional<T> momentum_at(step_t t) const noexcept {
        if (!cycles_momentum_) return std::nullopt;
        const position p = locate(t);
        return interpolate(phases_[p.phase].m_start, phases_[p.phase].m_end, p.x);
    }

    range<T> lr_range() const noexcept {
        return {std::min({initial(), minimum(), max_lr_}), std::max({initial(), minimum(), max_lr_})};
    }

    T max_lr() const noexcept { return max_lr_; }
    step_t total_steps() const noexcept { return total_; }
    T pct_start() const noexcept { return pct_; }
    T initial_lr() const noexcept { return initial(); }
    T min_lr() const noexcept { return minimum(); }
    T div_factor() const noexcept { return div_; }
    T final_div_factor() const noexcept { return final_div_; }
    anneal anneal_strategy() const noexcept { return anneal_; }
    bool three_phase() const noexcept { return three_phase_; }
    // The momentum range, when with_momentum cycles it.
    std::optional<range<T>> momentum_range() const noexcept {
        if (!cycles_momentum_) return std::nullopt;
        return range<T>{base_m_, max_m_};
    }

    // PyTorch's defaults, which the text form leaves out.
    static constexpr T default_pct_start = T(0.3);
    static constexpr T default_div_factor = T(25);
    static constexpr T default_final_div_factor = T(1e4);
    static constexpr T default_base_momentum = T(0.85);
    static constexpr T default_max_momentum = T(0.95);

private:
    struct phase {
        T end;  // last step of the phase, a real number as in PyTorch
        T lr_start, lr_end;
        T m_start, m_end;
    };
    struct position {
        std::size_t phase;
        T x;  // progress through the phase, 0 to 1
    };

    T initial() const noexcept { return max_lr_ / div_; }
    T minimum() const noexcept { return initial() / final_div_; }

    // Phases depend on every parameter, so each with_* call lays them out again
    // and evaluation only looks them up.
    void plan() {
        detail::require_finite(who, "pct_start", pct_);
        if (!(pct_ > T(0) && pct_ < T(1)))
            detail::fail(who, "pct_start", detail::to_text(pct_), "must lie in (0, 1)");
        if (three_phase_ && !(pct_ < T(0.5)))
            detail::fail(who, "pct_start", detail::to_text(pct_),
                         "must be below 0.5 with three phases (the phases would overlap)");
        if (!std::isfinite(initial()))
            detail::fail(
                who, "div_factor", detail::to_text(div_),
                ("makes max_lr / div_factor overflow (max_lr = " + detail::to_text(max_lr_) + ")").c_str());
        if (!std::isfinite(minimum()))
            detail::fail(who, "final_div_factor", detail::to_text(final_div_),
                         ("makes max_lr / div_factor / final_div_factor overflow (max_lr / div_factor = " +
                          detail::to_text(initial()) + ")")
                             .c_str());
        const T steps = static_cast<T>(total_);
        const T peak = detail::rounded_product(pct_, steps) - T(1);
        const T last = steps - T(1);
        if (three_phase_) {
            phases_ = {
                {{peak, initial(), max_lr_, max_m_, base_m_},
                 {detail::rounded_product(T(2) * pct_, steps) - T(2), max_lr_, initial(), base_m_, max_m_},
                 {last, initial(), minimum(), max_m_, max_m_}}};
            count_ = 3;
        } else {
            phases_ = {{{peak, initial(), max_lr_, max_m_, base_m_},
                        {last, max_lr_, minimum(), base_m_, max_m_},
                        {last, minimum(), minimum(), max_m_, max_m_}}};
            count_ = 2;
        }
    }

    position locate(step_t t) const noexcept {
        // The last step, and every one past it, is the end of the final phase.
        // Not found by position: past 2^24 (float) or 2^53 (double) steps
        // T(total - 1) and T(total) - 1 round apart, which would leave the
        // schedule short of its minimum.
        if (t >= total_ - 1) return {count_ - 1, T(1)};
        const T s = static_cast<T>(t);
        T start = T(0);
        std::size_t i = 0;
        for (; i + 1 < count_; ++i) {
            if (s <= phases_[i].end) break;
            start = phases_[i].end;
        }
        const T len = phases_[i].end - start;
        // An empty phase (pct_start * total_steps == 1) is already complete.
        return {i, len == T(0) ? T(1) : (s - start) / len};
    }

    T interpolate(T from, T to, T x) const noexcept {
        // Weighted from `to` as PyTorch does, which keeps the small end of an
        // anneal accurate to its own scale.
        if (anneal_ == anneal::cos)
            return detail::lerp(to, from, (std::cos(detail::pi<T> * x) + T(1)) / T(2));
        return detail::lerp(from, to, x);
    }

    T max_lr_;
    step_t total_;
    T pct_ = default_pct_start;
    T div_ = default_div_factor;
    T final_div_ = default_final_div_factor;
    anneal anneal_ = anneal::cos;
    bool three_phase_ = false;
    T base_m_ = default_base_momentum;
    T max_m_ = default_max_momentum;
    bool cycles_momentum_ = false;
    std::array<phase, 3> phases_{};
    std::size_t count_ = 2;
};

// one_cycle(max_lr=0.1, total_steps=1000, pct_start=0.25, anneal=linear,
//           three_phase=true, base_momentum=0.85, max_momentum=0.95);
// options only where they differ from PyTorch's defaults.
template <class T>
struct describe<one_cycle<T>> {
    static constexpr const char* name = "one_cycle";
    static constexpr parameter parameters[] = {
        {"max_lr", value_kind::number, required, "the peak rate"},
        {"total_steps", value_kind::length, "100%", "length of the cycle"},
        {"pct_start", value_kind::number, "0.3", "share of the steps spent climbing"},
        {"div_factor", value_kind::number, "25", "the starting rate is max_lr / div_factor"},
        {"final_div_factor", value_kind::number, "10000", "the final rate is the starting rate / this"},
        {"anneal", value_kind::word, "cos", "annealing shape", "cos|linear"},
        {"three_phase", value_kind::word, "false", "climb, fall back to the start, then anneal",
         "false|true"},
        {"base_momentum", value_kind::number, none,
         "momentum at the peak rate (default 0.85 with max_momentum)"},
        {"max_momentum", value_kind::number, none,
         "momentum at the lowest rate (default 0.95 with base_momentum)"},
    };
    static one_cycle<T> make(const arguments<T>& a) {
        // div_factor before final_div_factor: each option checks the rates it
        // implies, and max_lr / div_factor comes first.
        one_cycle<T> c = one_cycle<T>(a.number("max_lr"), a.length("total_steps"))
                             .with_div_factor(a.number("div_factor"))
                             .with_final_div_factor(a.number("final_div_factor"))
                             .with_three_phase(a.word("three_phase") == 1)
                             .with_pct_start(a.number("pct_start"))
                             .with_anneal(a.word("anneal") == 1 ? anneal::linear : anneal::cos);
        const auto lo = a.number_if("base_momentum"), hi = a.number_if("max_momentum");
        if (lo || hi)
            c = c.with_momentum(lo ? *lo : one_cycle<T>::default_base_momentum,
                                hi ? *hi : one_cycle<T>::default_max_momentum);
        return c;
    }
    template <class W>
    static void write(W& w, const one_cycle<T>& s) {
        w("max_lr", s.max_lr())("total_steps", s.total_steps())("pct_start", s.pct_start());
        w("div_factor", s.div_factor())("final_div_factor", s.final_div_factor());
        w("anneal", s.anneal_strategy() == anneal::linear ? "linear" : "cos");
        w("three_phase", s.three_phase() ? "true" : "false");
        if (const auto m = s.momentum_range()) w("base_momentum", m->lo)("max_momentum", m->hi);
    }
};

}  // namespace clr

#endif  // CLR_ONE_CYCLE_HPP
