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

namespace detail {

// one_cycle(max_lr=0.1, total_steps=1000, pct_start=0.25, anneal=linear,
//           three_phase=true, base_momentum=0.85, max_momentum=0.95);
// options only where they differ from PyTorch's defaults.
template <class T>
void write_text(text_writer& w, const one_cycle<T>& s) {
    using S = one_cycle<T>;
    w.name("one_cycle");
    w.field("max_lr", s.max_lr());
    w.field("total_steps", s.total_steps());
    if (s.pct_start() != S::default_pct_start) w.field("pct_start", s.pct_start());
    if (s.div_factor() != S::default_div_factor) w.field("div_factor", s.div_factor());
    if (s.final_div_factor() != S::default_final_div_factor)
        w.field("final_div_factor", s.final_div_factor());
    if (s.anneal_strategy() == anneal::linear) w.word("anneal", "linear");
    if (s.three_phase()) w.word("three_phase", "true");
    if (const auto m = s.momentum_range()) {
        w.field("base_momentum", m->lo);
        w.field("max_momentum", m->hi);
    }
}

}  // namespace detail

}  // namespace clr

#endif  // CLR_ONE_CYCLE_HPP
