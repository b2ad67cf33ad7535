// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Cosine annealing with warm restarts (Loshchilov & Hutter 2017, SGDR): a
// cosine from eta_max down to eta_min over a period, then a jump back up. Period
// i lasts T_0 * T_mult^i steps and peaks at eta_max * m_mul^i.
//
//     i, T_cur: the period holding step t and the steps already spent in it
//     T_i = T_0 * T_mult^i
//     lr(t) = eta_min + (eta_max * m_mul^i - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2
//
//     auto s = clr::cosine_restarts<double>(0.05, 10).with_t_mult(2).with_eta_min(0.001);
//     s(0) == 0.05, s(5) == 0.0255, s(10) == 0.05 (restart), s(30) == 0.05 (restart)
//
// PyTorch's CosineAnnealingWarmRestarts with integer T_mult, and Keras's
// CosineDecayRestarts (whose m_mul this adds); T_mult may be any real >= 1.
// With timm's options (CosineLRScheduler: cycle_mul = T_mult, cycle_decay =
// m_mul, lr_min = eta_min):
//
//     .with_k_decay(k):       angle pi * T_cur^k / T_i^k in place of pi * T_cur / T_i
//     .with_cycle_limit(n):   eta_min from period n on (timm's default is 1)
//
//     auto k = clr::cosine_restarts<double>(0.1, 100).with_k_decay(0.5).with_cycle_limit(3);
//     k(25) == 0.05 (a quarter in: half the angle), k(300) == 0 (held)
//
// Restarts fall on their exact steps, found in integers for a whole T_mult;
// timm finds them with a floating logarithm, which for T_mult = 3 puts the
// restart at 121 T_0 one period late (log(243) / log(3) = 4.999...).
#ifndef CLR_COSINE_RESTARTS_HPP
#define CLR_COSINE_RESTARTS_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "schedule.hpp"

#include <algorithm>

namespace clr {

template <class T>
class cosine_restarts : public schedule<cosine_restarts<T>, T> {
    static constexpr const char* who = "clr::cosine_restarts";

public:
    // eta_max: the peak at step 0 (PyTorch takes it from the optimizer's lr);
    // t_0: the first period in steps.
    cosine_restarts(T eta_max, step_t t_0)
        : eta_max_(detail::require_rate(who, "eta_max", eta_max)),
          t0_(detail::require_steps(who, "T_0", t_0)) {}

    cosine_restarts with_eta_min(T eta_min) const {
        cosine_restarts c = *this;
        c.eta_min_ = detail::require_rate(who, "eta_min", eta_min);
        detail::require_ordered(who, "eta_min", eta_min, "eta_max", eta_max_);
        return c;
    }

    // Period growth per restart; 1 keeps every period at T_0.
    cosine_restarts with_t_mult(T t_mult) const {
        detail::require_finite(who, "T_mult", t_mult);
        if (!(t_mult >= T(1))) detail::fail(who, "T_mult", detail::to_text(t_mult), "must be at least 1");
        cosine_restarts c = *this;
        c.t_mult_ = t_mult;
        // Whole multipliers are counted in integers so that every restart
        // lands on its exact step; 2^32 keeps T_0 * T_mult^i from overflowing
        // before the period outgrows any step count.
        c.int_mult_ =
            (t_mult == std::floor(t_mult) && t_mult <= T(4294967296.0)) ? static_cast<step_t>(t_mult) : 0;
        return c;
    }

    // Peak decay per restart (Keras's m_mul); 1 restarts at full height.
    cosine_restarts with_m_mul(T m_mul) const {
        detail::require_finite(who, "m_mul", m_mul);
        if (!(m_mul > T(0) && m_mul <= T(1)))
            detail::fail(who, "m_mul", detail::to_text(m_mul), "must lie in (0, 1]");
        cosine_restarts c = *this;
        c.m_mul_ = m_mul;
        return c;
    }

    // timm's k_decay: the angle of the cosine goes as T_cur^k / T_i^k, so
    // k < 1 falls fast and then lingers, k > 1 lingers at the peak; 1 is SGDR.
    cosine_restarts with_k_decay(T k) const {
        detail::require_positive(who, "k_decay", k);
        cosine_restarts c = *this;
        c.k_ = k;
        return c;
    }

    // After this many periods the rate holds eta_min (timm's cycle_limit);
    // 0 restarts for ever, as SGDR does.
    cosine_restarts with_cycle_limit(step_t periods) const {
        cosine_restarts c = *this;
        c.cycle_limit_ = detail::require_count(who, "cycle_limit", periods);
        return c;
    }

    T lr_at(step_t t) const noexcept {
        const period p = locate(t);
        if (cycle_limit_ != 0 && p.index >= static_cast<T>(cycle_limit_)) return eta_min_;
        const T peak = m_mul_ == T(1) ? eta_max_ : eta_max_ * std::pow(m_mul_, p.index);
        // pi * T_cur / T_i in PyTorch's order; timm's pi * T_cur^k / T_i^k for k != 1.
        const T angle = k_ == T(1) ? detail::pi<T> * p.cur / p.len
                                   : detail::pi<T> * std::pow(p.cur, k_) / std::pow(p.len, k_);
        // The weight is halved before it scales: (peak - eta_min) * 2 overflows for
        // rates above half the largest finite value.
        return detail::lerp(eta_min_, peak, (T(1) + std::cos(angle)) / T(2));
    }

    // Decaying peaks can fall below eta_min; the rate then lies between the two.
    range<T> lr_range() const noexcept { return {m_mul_ < T(1) ? T(0) : eta_min_, eta_max_}; }

    T eta_max() const noexcept { return eta_max_; }
    T eta_min() const noexcept { return eta_min_; }
    step_t t_0() const noexcept { return t0_; }
    T t_mult() const noexcept { return t_mult_; }
    T m_mul() const noexcept { return m_mul_; }
    T k_decay() const noexcept { return k_; }
    // 0: no limit.
    step_t cycle_limit() const noexcept { return cycle_limit_; }

    // The 0-based period (restart count) holding step t.
    T restarts_before(step_t t) const noexcept { return locate(t).index; }

private:
    struct period {
        T index;  // i, as a real: with T_mult = 1 it can exceed any int
        T cur;    // T_cur
        T len;    // T_i
    };

    period locate(step_t t) const noexcept {
        if (int_mult_ == 1) {
            const step_t whole = t / t0_;  // floor division on purpose: the period index
            return {static_cast<T>(whole), static_cast<T>(t % t0_), static_cast<T>(t0_)};
        }
        if (int_mult_ > 1) return locate_whole(t);
        return locate_real(t);
    }

    // Period i starts at T_0 * g(i) with g(i) = 1 + m + ... + m^(i-1); find the
    // largest g(i) <= floor(t / T_0) in integers, so no rounding can put a step
    // on the wrong side of a restart.
    period locate_whole(step_t t) const noexcept {
        const step_t m = int_mult_;
        const step_t q = t / t0_;
        if (m == 2 && q < std::numeric_limits<step_t>::max()) {
            // SGDR's usual doubling has g(i) = 2^i - 1, so i is the index of
            // q + 1's highest set bit: one instruction where the loop below
            // takes one mispredicted turn per period.
            const int i = detail::floor_log2(q + 1);
            const step_t pw = step_t(1) << i;
            return {static_cast<T>(i), static_cast<T>(t - (pw - 1) * t0_),
                    static_cast<T>(t0_) * static_cast<T>(pw)};
        }
        step_t g = 0;   // g(i)
        step_t pw = 1;  // m^i
        step_t i = 0;
        while (q - g >= pw) {  // g(i + 1) = g + pw <= q
            g += pw;
            ++i;
            if (pw > std::numeric_limits<step_t>::max() / m) {
                // m^i no longer fits: period i outlasts every remaining step.
                pw = std::numeric_limits<step_t>::max();
                break;
            }
            pw *= m;
        }
        const step_t start = g * t0_;  // <= q * t0_ <= t
        return {static_cast<T>(i), static_cast<T>(t - start), static_cast<T>(t0_) * static_cast<T>(pw)};
    }

    // A fractional multiplier has real restart points; estimate the period
    // with a logarithm and settle it against the boundaries themselves.
    // Kept out of line: inlined, its bulk stops the compiler inlining lr_at
    // into callers that only ever use whole multipliers.
    CLR_DETAIL_NOINLINE period locate_real(step_t t) const noexcept {
        const double m = static_cast<double>(t_mult_);
        const double t0 = static_cast<double>(t0_);
        const double x = static_cast<double>(t);
        auto start = [&](double i) { return t0 * (std::pow(m, i) - 1.0) / (m - 1.0); };
        const double arg = x * (m - 1.0) / t0;
        // arg overflows only for m beyond 1e289, where period 1 outlasts every step.
        double i = std::isfinite(arg) ? std::floor(std::log1p(arg) / std::log(m)) : 1.0;
        if (i < 0.0) i = 0.0;
        // Settling is bounded: with m a few ulps above 1, i passes 2^53, where
        // i - 1 == i and an unbounded loop never ends; the boundaries are then
        // beyond double precision anyway.
        for (int n = 0; n < 64 && i > 0.0 && start(i) > x; ++n) i -= 1.0;
        for (int n = 0; n < 64 && start(i + 1.0) <= x; ++n) i += 1.0;
        const double len = t0 * std::pow(m, i);
        const double cur = std::min(std::max(x - start(i), 0.0), len);
        return {static_cast<T>(i), static_cast<T>(cur), static_cast<T>(len)};
    }

    T eta_max_;
    T eta_min_ = T(0);
    step_t t0_;
    T t_mult_ = T(1);
    step_t int_mult_ = 1;  // t_mult_ when it is a whole number, else 0
    T m_mul_ = T(1);
    T k_ = T(1);
    step_t cycle_limit_ = 0;
};

// cosine_restarts(eta_max=0.1, T_0=100, eta_min=0.001, T_mult=2, m_mul=0.5)
template <class T>
struct describe<cosine_restarts<T>> {
    static constexpr const char* name = "cosine_restarts";
    static constexpr parameter parameters[] = {
        {"eta_max", value_kind::number, required, "the peak at step 0", "", "max-lr"},
        {"T_0", value_kind::length, required, "the first period", "", "step-size"},
        {"eta_min", value_kind::number, "0", "the floor of every period", "", "base-lr"},
        {"T_mult", value_kind::number, "1", "period growth per restart, >= 1", "", "t-mult"},
        {"m_mul", value_kind::number, "1", "peak decay per restart, in (0, 1]"},
        {"k_decay", value_kind::number, "1", "the angle goes as T_cur^k / T_i^k (timm)"},
        {"cycle_limit", value_kind::count, "0", "periods before the rate holds eta_min; 0: no limit"},
    };
    static cosine_restarts<T> make(const arguments<T>& a) {
        return cosine_restarts<T>(a.number("eta_max"), a.length("T_0"))
            .with_eta_min(a.number("eta_min"))
            .with_t_mult(a.number("T_mult"))
            .with_m_mul(a.number("m_mul"))
            .with_k_decay(a.number("k_decay"))
            .with_cycle_limit(a.count("cycle_limit"));
    }
    template <class W>
    static void write(W& w, const cosine_restarts<T>& s) {
        w("eta_max", s.eta_max())("T_0", s.t_0())("eta_min", s.eta_min())("T_mult", s.t_mult());
        w("m_mul", s.m_mul())("k_decay", s.k_decay())("cycle_limit", s.cycle_limit());
    }
};

}  // namespace clr

#endif  // CLR_COSINE_RESTARTS_HPP
