// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The everyday decays of PyTorch's lr_scheduler and optax's schedules, as
// closed forms of the step. T = total_steps; each holds its end value once it
// is over.
//
//     cosine(lr, T).with_eta_min(e):  e + (lr - e)(1 + cos(pi t / T)) / 2, then e
//     linear(start, end, T):          start + (end - start) t / T,         then end
//     polynomial(lr, end, T, p):      (lr - end)(1 - t / T)^p + end,       then end
//     exponential(lr, gamma):         lr gamma^t
//     step_decay(lr, n, gamma):       lr gamma^floor(t / n)
//     multistep(lr, {m1, ...}, gamma): lr gamma^(number of milestones <= t)
//
// gamma lies in (0, 1] for the last three, as for exp_range: a rate that grows
// without bound has no bounds() and overflows, so a gamma above 1 is refused.
// Each matches its PyTorch 1.13 scheduler (CosineAnnealingLR, LinearLR,
// PolynomialLR, ExponentialLR, StepLR, MultiStepLR) at every step to 1e-12;
// PyTorch's cosine rises again past T_max, this one holds eta_min.
#ifndef CLR_DECAY_HPP
#define CLR_DECAY_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "schedule.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace clr {

namespace detail {

// gamma in (0, 1], the decay factor of exponential, step_decay and multistep.
template <class T>
T require_decay(const char* who, const char* param, T v) {
    require_finite(who, param, v);
    if (!(v > T(0) && v <= T(1))) fail(who, param, to_text(v), "must lie in (0, 1]");
    return v;
}

// gamma^k for gamma in (0, 1]: never above 1, never NaN, 0 once it underflows
// (for any gamma below 1 long before k = 2^64).
template <class T>
T decay_power(T gamma, step_t k) noexcept {
    if (gamma == T(1) || k == 0) return T(1);
    return std::pow(gamma, static_cast<T>(k));
}

// The position t / T in [0, 1] of a step inside a schedule of T steps, t < T.
// In float a step just short of a long T can round to T itself: 1, not more.
template <class T>
T step_fraction(step_t t, step_t total) noexcept {
    const T x = static_cast<T>(t) / static_cast<T>(total);
    return x < T(1) ? x : T(1);
}

}  // namespace detail

// Cosine annealing (Loshchilov & Hutter's SGDR without restarts), PyTorch's
// CosineAnnealingLR in its closed form, optax's cosine_decay_schedule:
//
//     lr(t) = eta_min + (lr - eta_min)(1 + cos(pi t / T)) / 2   for t <= T
//     lr(t) = eta_min                                          for t >= T
//
//     auto s = clr::cosine<double>(0.1, 100).with_eta_min(0.001);
//     s(0) == 0.1, s(50) == 0.0505, s(100) == 0.001, s(1000) == 0.001 (held)
//
// PyTorch's scheduler rises again past T_max (cos is periodic); this one holds
// eta_min, as optax and Keras do.
template <class T>
class cosine : public schedule<cosine<T>, T> {
    static constexpr const char* who = "clr::cosine";

public:
    // lr: the rate at step 0 (PyTorch takes it from the optimizer); total_steps: T_max.
    cosine(T lr, step_t total_steps)
        : lr_(detail::require_rate(who, "lr", lr)),
          total_(detail::require_steps(who, "total_steps", total_steps)) {}

    // The floor the rate anneals to (PyTorch's eta_min, default 0).
    cosine with_eta_min(T eta_min) const {
        cosine c = *this;
        c.eta_min_ = detail::require_rate(who, "eta_min", eta_min);
        detail::require_ordered(who, "eta_min", eta_min, "lr", lr_);
        return c;
    }

    T lr_at(step_t t) const noexcept {
        if (t >= total_) return eta_min_;
        // pi * t / T in PyTorch's order, so that both round the same cosine.
        const T angle = detail::pi<T> * static_cast<T>(t) / static_cast<T>(total_);
        return detail::lerp(eta_min_, lr_, (T(1) + std::cos(angle)) / T(2));
    }

    range<T> lr_range() const noexcept { return {eta_min_, lr_}; }

    T initial_lr() const noexcept { return lr_; }
    T eta_min() const noexcept { return eta_min_; }
    step_t total_steps() const noexcept { return total_; }

private:
    T lr_;
    T eta_min_ = T(0);
    step_t total_;
};

// A straight line from start_lr to end_lr over total_steps, then end_lr:
// PyTorch's LinearLR (start_lr = start_factor * lr, end_lr = end_factor * lr),
// optax's linear_schedule. Either end may be the higher: a warmup ramp is
// linear(0, lr, n).
//
//     lr(t) = start_lr + (end_lr - start_lr) t / T   for t <= T,  end_lr after
//
//     clr::linear<double> s(0.1, 0.01, 90);
//     s(0) == 0.1, s(30) == 0.07, s(90) == 0.01, s(500) == 0.01 (held)
template <class T>
class linear : public schedule<linear<T>, T> {
    static constexpr const char* who = "clr::linear";

public:
    linear(T start_lr, T end_lr, step_t total_steps)
        : start_(detail::require_rate(who, "start_lr", start_lr)),
          end_(detail::require_rate(who, "end_lr", end_lr)),
          total_(detail::require_steps(who, "total_steps", total_steps)) {}

    T lr_at(step_t t) const noexcept {
        if (t >= total_) return end_;
        return detail::lerp(start_, end_, detail::step_fraction<T>(t, total_));
    }

    range<T> lr_range() const noexcept { return {std::min(start_, end_), std::max(start_, end_)}; }

    T start_lr() const noexcept { return start_; }
    T end_lr() const noexcept { return end_; }
    step_t total_steps() const noexcept { return total_; }

private:
    T start_;
    T end_;
    step_t total_;
};

// Polynomial decay from lr to end_lr over total_steps, then end_lr: optax's
// polynomial_schedule, and PyTorch's PolynomialLR where end_lr = 0. power 1
// is linear, 2 falls fast and flattens, 0.5 stays high and drops late.
//
//     lr(t) = (lr - end_lr)(1 - t / T)^power + end_lr   for t <= T,  end_lr after
//
//     clr::polynomial<double> s(0.1, 0.0, 100, 2.0);
//     s(0) == 0.1, s(50) == 0.025, s(90) == 0.001, s(100) == 0.0
template <class T>
class polynomial : public schedule<polynomial<T>, T> {
    static constexpr const char* who = "clr::polynomial";

public:
    polynomial(T lr, T end_lr, step_t total_steps, T power)
        : lr_(detail::require_rate(who, "lr", lr)),
          end_(detail::require_rate(who, "end_lr", end_lr)),
          total_(detail::require_steps(who, "total_steps", total_steps)),
          power_(detail::require_positive(who, "power", power)) {}

    T lr_at(step_t t) const noexcept {
        if (t >= total_) return end_;
        // 1 - t / T as PyTorch writes it; in [0, 1], so its power is too.
        const T left = T(1) - detail::step_fraction<T>(t, total_);
        return detail::lerp(end_, lr_, std::pow(left, power_));
    }

    range<T> lr_range() const noexcept { return {std::min(lr_, end_), std::max(lr_, end_)}; }

    T initial_lr() const noexcept { return lr_; }
    T end_lr() const noexcept { return end_; }
    step_t total_steps() const noexcept { return total_; }
    T power() const noexcept { return power_; }

private:
    T lr_;
    T end_;
    step_t total_;
    T power_;
};

// Decay by gamma every step: PyTorch's ExponentialLR.
//
//     lr(t) = lr gamma^t
//
//     clr::exponential<double> s(0.1, 0.5);
//     s(0) == 0.1, s(1) == 0.05, s(3) == 0.0125, s(2000) == 0.0 (underflowed)
template <class T>
class exponential : public schedule<exponential<T>, T> {
    static constexpr const char* who = "clr::exponential";

public:
    exponential(T lr, T gamma)
        : lr_(detail::require_rate(who, "lr", lr)),
          gamma_(detail::require_decay(who, "gamma", gamma)) {}

    T lr_at(step_t t) const noexcept { return lr_ * detail::decay_power(gamma_, t); }

    range<T> lr_range() const noexcept { return {gamma_ == T(1) ? lr_ : T(0), lr_}; }

    T initial_lr() const noexcept { return lr_; }
    T gamma() const noexcept { return gamma_; }

private:
    T lr_;
    T gamma_;
};

// Decay by gamma every step_size steps: PyTorch's StepLR.
//
//     lr(t) = lr gamma^floor(t / step_size)
//
//     clr::step_decay<double> s(0.1, 30, 0.5);
//     s(0) == 0.1, s(29) == 0.1, s(30) == 0.05, s(95) == 0.0125
template <class T>
class step_decay : public schedule<step_decay<T>, T> {
    static constexpr const char* who = "clr::step_decay";

public:
    step_decay(T lr, step_t step_size, T gamma)
        : lr_(detail::require_rate(who, "lr", lr)),
          step_(detail::require_steps(who, "step_size", step_size)),
          gamma_(detail::require_decay(who, "gamma", gamma)) {}

    T lr_at(step_t t) const noexcept { return lr_ * detail::decay_power(gamma_, t / step_); }

    range<T> lr_range() const noexcept { return {gamma_ == T(1) ? lr_ : T(0), lr_}; }

    T initial_lr() const noexcept { return lr_; }
    step_t step_size() const noexcept { return step_; }
    T gamma() const noexcept { return gamma_; }

private:
    T lr_;
    step_t step_;
    T gamma_;
};

// Decay by gamma at each milestone: PyTorch's MultiStepLR, optax's
// piecewise_constant_schedule with one scale.
//
//     lr(t) = lr gamma^(number of milestones <= t)
//
//     clr::multistep<double> s(0.1, {30, 80}, 0.1);
//     s(0) == 0.1, s(29) == 0.1, s(30) == 0.01, s(80) == 0.001, s(10000) == 0.001
//
// Milestones are steps, strictly increasing, at most max_milestones (16) of
// them, held in the schedule itself so that it stays a small trivially
// copyable value that never allocates. PyTorch also takes them unsorted and
// counts a repeated one twice; here either is refused, naming `milestones`
// (write gamma^2 as its own gamma, or split the schedule with sequence). The
// rate is multiplied by gamma once per milestone passed, in order, as
// PyTorch's scheduler does, so the two agree to the last bit.
template <class T>
class multistep : public schedule<multistep<T>, T> {
    static constexpr const char* who = "clr::multistep";

public:
    static constexpr std::size_t max_milestones = 16;

    multistep(T lr, std::initializer_list<step_t> milestones, T gamma)
        : multistep(lr, milestones.begin(), milestones.end(), gamma) {}

    // Any container of whole step numbers (std::vector<clr::step_t>, ...).
    template <class Range, class = std::enable_if_t<std::is_integral_v<
                               std::decay_t<decltype(*std::begin(std::declval<const Range&>()))>>>>
    multistep(T lr, const Range& milestones, T gamma)
        : multistep(lr, std::begin(milestones), std::end(milestones), gamma) {}

    T lr_at(step_t t) const noexcept {
        T v = lr_;
        for (std::size_t i = 0; i < count_ && milestones_[i] <= t; ++i) v *= gamma_;
        return v;
    }

    range<T> lr_range() const noexcept {
        T lo = lr_;
        for (std::size_t i = 0; i < count_; ++i) lo *= gamma_;
        return {lo, lr_};
    }

    T initial_lr() const noexcept { return lr_; }
    T gamma() const noexcept { return gamma_; }
    std::size_t milestone_count() const noexcept { return count_; }
    // The i-th milestone, i < milestone_count().
    step_t milestone(std::size_t i) const noexcept { return milestones_[i]; }

private:
    template <class It>
    multistep(T lr, It first, It last, T gamma)
        : lr_(detail::require_rate(who, "lr", lr)),
          gamma_(detail::require_decay(who, "gamma", gamma)) {
        std::size_t n = 0;
        for (It it = first; it != last; ++it, ++n) {
            if (n == max_milestones) {
                std::size_t total = n;
                for (; it != last; ++it) ++total;
                detail::fail(who, "milestones", list_text(first, last),
                             ("has " + std::to_string(total) + " steps; at most " +
                              std::to_string(max_milestones) + " are allowed")
                                 .c_str());
            }
            // A negative int converts to a step past 2^62, refused here.
            const auto m = static_cast<step_t>(*it);
            if (m > detail::max_steps)
                detail::fail(who, "milestones", list_text(first, last),
                             ("holds " + detail::to_text(m) +
                              ", larger than 2^62 (a negative number converted to unsigned?)")
                                 .c_str());
            if (n > 0 && m <= milestones_[n - 1])
                detail::fail(who, "milestones", list_text(first, last),
                             ("must be strictly increasing: " + detail::to_text(m) + " follows " +
                              detail::to_text(milestones_[n - 1]))
                                 .c_str());
            milestones_[n] = m;
        }
        count_ = n;
    }

    // "[30, 80]" for messages; long lists are cut short.
    template <class It>
    static std::string list_text(It first, It last) {
        std::string s = "[";
        std::size_t n = 0;
        for (It it = first; it != last; ++it, ++n) {
            if (n == max_milestones + 2) {
                s += ", ...";
                break;
            }
            if (n > 0) s += ", ";
            s += detail::to_text(*it);
        }
        return s + "]";
    }

    T lr_;
    T gamma_;
    std::array<step_t, max_milestones> milestones_{};
    std::size_t count_ = 0;
};

// The run's length, where the text gives none: parse_schedule's run_length.
inline constexpr parameter total_steps_parameter = {"total_steps", value_kind::length, "100%",
                                                    "length of the schedule"};

template <class T>
struct describe<cosine<T>> {
    static constexpr const char* name = "cosine";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate at step 0", "", "max-lr"},
        total_steps_parameter,
        {"eta_min", value_kind::number, "0", "the floor it anneals to", "", "base-lr"},
    };
    static cosine<T> make(const arguments<T>& a) {
        return cosine<T>(a.number("lr"), a.length("total_steps")).with_eta_min(a.number("eta_min"));
    }
    template <class W>
    static void write(W& w, const cosine<T>& s) {
        w("lr", s.initial_lr())("total_steps", s.total_steps())("eta_min", s.eta_min());
    }
};

template <class T>
struct describe<linear<T>> {
    static constexpr const char* name = "linear";
    static constexpr parameter parameters[] = {
        {"start_lr", value_kind::number, required, "the rate at step 0"},
        {"end_lr", value_kind::number, required, "the rate at total_steps and after"},
        total_steps_parameter,
    };
    static linear<T> make(const arguments<T>& a) {
        return linear<T>(a.number("start_lr"), a.number("end_lr"), a.length("total_steps"));
    }
    template <class W>
    static void write(W& w, const linear<T>& s) {
        w("start_lr", s.start_lr())("end_lr", s.end_lr())("total_steps", s.total_steps());
    }
};

template <class T>
struct describe<polynomial<T>> {
    static constexpr const char* name = "polynomial";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate at step 0", "", "max-lr"},
        {"end_lr", value_kind::number, "0", "the rate at total_steps and after"},
        total_steps_parameter,
        {"power", value_kind::number, "1", "exponent of the decay"},
    };
    static polynomial<T> make(const arguments<T>& a) {
        return polynomial<T>(a.number("lr"), a.number("end_lr"), a.length("total_steps"), a.number("power"));
    }
    template <class W>
    static void write(W& w, const polynomial<T>& s) {
        w("lr", s.initial_lr())("end_lr", s.end_lr())("total_steps", s.total_steps())("power", s.power());
    }
};

template <class T>
struct describe<exponential<T>> {
    static constexpr const char* name = "exponential";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate at step 0", "", "max-lr"},
        {"gamma", value_kind::number, required, "decay factor per step, in (0, 1]"},
    };
    static exponential<T> make(const arguments<T>& a) {
        return exponential<T>(a.number("lr"), a.number("gamma"));
    }
    template <class W>
    static void write(W& w, const exponential<T>& s) {
        w("lr", s.initial_lr())("gamma", s.gamma());
    }
};

template <class T>
struct describe<step_decay<T>> {
    static constexpr const char* name = "step_decay";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate at step 0", "", "max-lr"},
        {"step_size", value_kind::length, required, "steps between decays"},
        {"gamma", value_kind::number, "0.1", "decay factor per step_size, in (0, 1]"},
    };
    static step_decay<T> make(const arguments<T>& a) {
        return step_decay<T>(a.number("lr"), a.length("step_size"), a.number("gamma"));
    }
    template <class W>
    static void write(W& w, const step_decay<T>& s) {
        w("lr", s.initial_lr())("step_size", s.step_size())("gamma", s.gamma());
    }
};

// multistep(lr=0.1, milestones=[30, 80], gamma=0.1)
template <class T>
struct describe<multistep<T>> {
    static constexpr const char* name = "multistep";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate at step 0", "", "max-lr"},
        {"milestones", value_kind::lengths, required, "steps where the rate is multiplied by gamma"},
        {"gamma", value_kind::number, "0.1", "decay factor per milestone, in (0, 1]"},
    };
    static multistep<T> make(const arguments<T>& a) {
        return multistep<T>(a.number("lr"), a.lengths("milestones"), a.number("gamma"));
    }
    template <class W>
    static void write(W& w, const multistep<T>& s) {
        std::vector<step_t> m;
        for (std::size_t i = 0; i < s.milestone_count(); ++i) m.push_back(s.milestone(i));
        w("lr", s.initial_lr())("milestones", m)("gamma", s.gamma());
    }
};

}  // namespace clr

#endif  // CLR_DECAY_HPP
