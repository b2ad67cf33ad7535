// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Building schedules from schedules, as optax's join_schedules and PyTorch's
// SequentialLR do. Every combinator is itself a schedule, so they nest.
//
//     constant(lr):             lr(t) = lr
//     warmup(s, n, start_lr):   start_lr + (s(0) - start_lr) * t / n   for t < n
//                               s(t - n)                               after
//       .with_shift(false):     s(t) after: s keeps its own clock (timm's
//                               warmup_prefix=False)
//     sequence(a, n, b):        a(t) for t < n, then b(t - n)
//     sequence(a, n1, b, n2, c, ...):  a for n1 steps, then b for n2 steps,
//                               then c, ..., each from its own step 0
//
//     auto s = clr::warmup(clr::triangular<double>(0.001, 0.006, 2000), 100, 0.0);
//     s(0) == 0.0, s(50) == 0.0005, s(100) == 0.001, s(2100) == 0.006
//     auto q = clr::sequence(clr::constant<double>(0.01), 500, clr::one_cycle<double>(0.1, 1000));
//     q(499) == 0.01, q(500) == 0.004
//     // Warmup, a hold and a decay in one expression (decay.hpp):
//     auto w = clr::sequence(clr::linear<double>(0.0, 0.1, 100), 100, clr::constant<double>(0.1), 400,
//                            clr::cosine<double>(0.1, 1000));
//     w(50) == 0.05, w(100) == 0.1, w(499) == 0.1, w(1000) == 0.05, w(1500) == 0.0
#ifndef CLR_COMPOSE_HPP
#define CLR_COMPOSE_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "plateau_rule.hpp"
#include "schedule.hpp"

#include <algorithm>
#include <string>

namespace clr {

// The baseline every comparison needs.
template <class T>
class constant : public schedule<constant<T>, T> {
public:
    explicit constant(T lr) : lr_(detail::require_rate("clr::constant", "lr", lr)) {}

    T lr_at(step_t) const noexcept { return lr_; }
    range<T> lr_range() const noexcept { return {lr_, lr_}; }

    T value() const noexcept { return lr_; }

private:
    T lr_;
};

namespace detail {
template <class T>
range<T> hull(range<T> a, range<T> b) noexcept {
    return {std::min(a.lo, b.lo), std::max(a.hi, b.hi)};
}
}  // namespace detail

// A linear ramp from start_lr into a schedule, which then runs from its own
// step 0; or, with_shift(false), from step n of its own clock, as timm's
// warmup with warmup_prefix=False: the ramp covers the schedule's first n
// steps. Momentum during the ramp is the schedule's first value.
template <class S>
class warmup_schedule : public schedule<warmup_schedule<S>, typename S::value_type> {
    static_assert(is_schedule_v<S>, "warmup takes a clr schedule");
    using T = typename S::value_type;
    static constexpr const char* who = "clr::warmup";

public:
    warmup_schedule(S inner, step_t steps, T start_lr)
        : inner_(std::move(inner)),
          n_(detail::require_count(who, "steps", steps)),
          start_(detail::require_rate(who, "start_lr", start_lr)),
          target_(inner_(0)) {}

    // shift = false: the schedule keeps its own clock through the ramp.
    warmup_schedule with_shift(bool shift) const {
        warmup_schedule w = *this;
        w.shift_ = shift;
        return w;
    }

    T lr_at(step_t t) const noexcept(noexcept(std::declval<const S&>().lr(t))) {
        if (t >= n_) return inner_(shift_ ? t - n_ : t);
        // A plateau inside may have cut inner(0) since construction.
        const T target = detail::visits_plateaus<S>::value ? inner_(0) : target_;
        return detail::lerp(start_, target, static_cast<T>(t) / static_cast<T>(n_));
    }

    std::optional<T> momentum_at(step_t t) const noexcept(noexcept(std::declval<const S&>().momentum(t))) {
        return inner_.momentum(t < n_ ? 0 : shift_ ? t - n_ : t);
    }

    range<T> lr_range() const noexcept {
        const range<T> ramp{std::min(start_, target_), std::max(start_, target_)};
        return n_ == 0 ? inner_.bounds() : detail::hull(ramp, inner_.bounds());
    }

    // Reports reach a plateau inside (plateau_rule.hpp).
    void visit_plateaus(const plateau_visit<T>& f) { detail::visit_plateaus(inner_, f); }
    void view_plateaus(const plateau_view<T>& f) const { detail::view_plateaus(inner_, f); }

    const S& inner() const noexcept { return inner_; }
    step_t steps() const noexcept { return n_; }
    T start_lr() const noexcept { return start_; }
    bool shift() const noexcept { return shift_; }

private:
    S inner_;
    step_t n_;
    T start_;
    T target_;  // inner(0), where the ramp ends
    bool shift_ = true;
};

template <class S>
warmup_schedule<S> warmup(S inner, step_t steps, typename S::value_type start_lr) {
    return {std::move(inner), steps, start_lr};
}

// `first` for the first n steps, then `second` from its own step 0.
template <class A, class B>
class sequence_schedule : public schedule<sequence_schedule<A, B>, typename A::value_type> {
    static_assert(is_schedule_v<A> && is_schedule_v<B>, "sequence takes clr schedules");
    static_assert(std::is_same_v<typename A::value_type, typename B::value_type>,
                  "sequence joins schedules of the same floating type");
    using T = typename A::value_type;

public:
    sequence_schedule(A first, step_t boundary, B second)
        : first_(std::move(first)),
          n_(detail::require_count("clr::sequence", "boundary", boundary)),
          second_(std::move(second)) {}

    T lr_at(step_t t) const
        noexcept(noexcept(std::declval<const A&>().lr(t)) && noexcept(std::declval<const B&>().lr(t))) {
        return t < n_ ? first_(t) : second_(t - n_);
    }

    std::optional<T> momentum_at(step_t t) const noexcept(
        noexcept(std::declval<const A&>().momentum(t)) && noexcept(std::declval<const B&>().momentum(t))) {
        return t < n_ ? first_.momentum(t) : second_.momentum(t - n_);
    }

    range<T> lr_range() const noexcept {
        return n_ == 0 ? second_.bounds() : detail::hull(first_.bounds(), second_.bounds());
    }

    // Reports reach the plateaus of both pieces, whichever is active.
    void visit_plateaus(const plateau_visit<T>& f) {
        detail::visit_plateaus(first_, f);
        detail::visit_plateaus(second_, f);
    }
    void view_plateaus(const plateau_view<T>& f) const {
        detail::view_plateaus(first_, f);
        detail::view_plateaus(second_, f);
    }

    const A& first() const noexcept { return first_; }
    const B& second() const noexcept { return second_; }
    step_t boundary() const noexcept { return n_; }

private:
    A first_;
    step_t n_;
    B second_;
};

template <class A, class B>
sequence_schedule<A, B> sequence(A first, step_t boundary, B second) {
    return {std::move(first), boundary, std::move(second)};
}

// constant(lr=0.1)
template <class T>
struct describe<constant<T>> {
    static constexpr const char* name = "constant";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate at every step", "", "base-lr"},
    };
    static constant<T> make(const arguments<T>& a) { return constant<T>(a.number("lr")); }
    template <class W>
    static void write(W& w, const constant<T>& s) {
        w("lr", s.value());
    }
};

// warmup(triangular(...), steps=100, start_lr=0[, shift=false])
template <class S>
struct describe<warmup_schedule<S>, std::enable_if_t<has_text_form_v<S>>> {
    using T = typename S::value_type;
    static constexpr const char* name = "warmup";
    static constexpr parameter parameters[] = {
        {"schedule", value_kind::schedule, required, "the schedule the ramp leads into"},
        {"steps", value_kind::length, required, "length of the ramp", "", "warmup-steps"},
        {"start_lr", value_kind::number, required, "the rate at step 0", "", "warmup-start-lr"},
        {"shift", value_kind::word, "true", "true: the schedule starts after the ramp; false: under it",
         "true|false"},
    };
    static warmup_schedule<any_schedule<T>> make(const arguments<T>& a) {
        return warmup(*a.schedule_at(0), a.length("steps"), a.number("start_lr"))
            .with_shift(a.word("shift") == 0);
    }
    template <class W>
    static void write(W& w, const warmup_schedule<S>& s) {
        w("schedule", s.inner())("steps", s.steps())("start_lr", s.start_lr())("shift",
                                                                               s.shift() ? "true" : "false");
    }
};

// sequence(a, 100, b, 400, c): a sequence whose second piece is a sequence
// is written as one, the way sequence(a, n1, b, n2, c) builds it.
template <class A, class B>
struct describe<sequence_schedule<A, B>, std::enable_if_t<has_text_form_v<A> && has_text_form_v<B>>> {
    using T = typename A::value_type;
    static constexpr const char* name = "sequence";
    static constexpr parameter parameters[] = {
        {"pieces", value_kind::pieces, required, "schedule, steps, schedule[, steps, schedule ...]"},
    };
    static any_schedule<T> make(const arguments<T>& a) {
        const std::size_t n = a.positional();
        for (std::size_t i = 0; i < n; ++i)
            if (a.schedule_at(i).has_value() != (i % 2 == 0))
                a.fail_at(i, i % 2 ? "is not a step count (sequence takes schedule, steps, schedule, ...)"
                                   : "is not a schedule (sequence takes schedule, steps, schedule, ...)");
        if (n < 3 || n % 2 == 0)
            a.fail("sequence", std::to_string(n) + " arguments",
                   "are not schedule, steps, schedule[, steps, schedule ...]");
        any_schedule<T> tail = *a.schedule_at(n - 1);
        for (std::size_t i = n - 1; i >= 2; i -= 2)
            tail = sequence_schedule<any_schedule<T>, any_schedule<T>>(*a.schedule_at(i - 2),
                                                                       a.length_at(i - 1), tail);
        return tail;
    }
    template <class W>
    static void write(W& w, const sequence_schedule<A, B>& s) {
        static constexpr char nested[] = "sequence(";
        w.positional(detail::text_of(s.first()));
        w.positional(detail::to_text(s.boundary()));
        const std::string rest = detail::text_of(s.second());
        if (rest.compare(0, sizeof nested - 1, nested) == 0)
            w.positional(rest.substr(sizeof nested - 1, rest.size() - sizeof nested));
        else
            w.positional(rest);
    }
};

namespace detail {

template <class S>
S join(S last) {
    return last;
}

// a for n steps, then the rest joined: the sequence nests to the right, so
// every piece starts at its own step 0 and momentum follows the active piece.
template <class A, class N, class B, class... Rest>
auto join(A first, N boundary, B next, Rest... rest) {
    static_assert(std::is_integral_v<N>, "clr::sequence: boundaries are step counts, between the schedules");
    auto tail = join(std::move(next), std::move(rest)...);
    // A negative count converts to a step past 2^62, which the boundary check refuses.
    return sequence_schedule<A, decltype(tail)>(std::move(first), static_cast<step_t>(boundary),
                                                std::move(tail));
}
}  // namespace detail

// Any number of schedules: sequence(a, n1, b, n2, c) runs a for n1 steps,
// then b for n2 steps, then c, each from its own step 0 (optax's
// join_schedules, whose boundaries count from step 0 of the whole: here each
// counts the steps of its own piece). It is sequence(a, n1, sequence(b, n2, c)):
// bounds() spans every piece that runs at least one step, and momentum comes
// from whichever piece is active.
template <class A, class B, class C, class... Rest>
auto sequence(A first, step_t boundary, B second, step_t boundary2, C third, Rest... rest) {
    static_assert(sizeof...(Rest) % 2 == 0, "clr::sequence takes schedule, steps, schedule, ..., schedule");
    return detail::join(std::move(first), boundary, std::move(second), boundary2, std::move(third),
                        std::move(rest)...);
}

namespace detail {
template <class T>
using any_warmup = warmup_schedule<any_schedule<T>>;
template <class T>
using any_sequence = sequence_schedule<any_schedule<T>, any_schedule<T>>;
}  // namespace detail

}  // namespace clr

#endif  // CLR_COMPOSE_HPP
