// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// any_schedule<T>: any schedule of value type T, chosen at run time, as
// std::function is any callable. A trainer that reads its schedule from a
// config file or a command line holds one of these; everything else keeps
// the schedule's own type, which costs nothing to call.
//
//     clr::any_schedule<double> s = clr::triangular<double>(0.001, 0.006, 2000);
//     s(1000) == 0.0035
//     s = clr::cosine<double>(0.1, 1000);      // another kind, same variable
//     s(500) == 0.05
//     clr::to_string(s) == "cosine(lr=0.1, total_steps=1000)"   // text.hpp
//
// Copies share the held schedule, so copying is a reference count and never
// throws. Only a report to a plateau inside changes a schedule, and it first
// gives the reporting copy a schedule of its own (copy on write). A call is one indirect call
// into the held schedule's own closed form: the values are bit for bit the
// same (bench/bench_schedules.cpp: schedule/<name>/any/... beside
// schedule/<name>/clr/...; bench/limits.md has the cost).
#ifndef CLR_ANY_SCHEDULE_HPP
#define CLR_ANY_SCHEDULE_HPP

#include "describe.hpp"
#include "plateau_rule.hpp"
#include "schedule.hpp"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace clr {

template <class T>
class any_schedule;

template <class T>
class any_schedule : public schedule<any_schedule<T>, T> {
    struct held {
        held() = default;
        held(const held&) = delete;
        held& operator=(const held&) = delete;
        virtual ~held() = default;
        // Not noexcept: the held schedule may call a user function that throws.
        virtual T lr(step_t t) const = 0;
        virtual std::optional<T> momentum(step_t t) const = 0;
        virtual range<T> bounds() const noexcept = 0;
        virtual std::string text() const = 0;
        virtual std::shared_ptr<held> clone() const = 0;
        virtual void visit(const plateau_visit<T>& f) = 0;
        virtual void view(const plateau_view<T>& f) const = 0;
    };

    template <class S>
    struct holder final : held {
        explicit holder(S s) : sched(std::move(s)) {}
        T lr(step_t t) const override { return sched.lr(t); }
        std::optional<T> momentum(step_t t) const override { return sched.momentum(t); }
        range<T> bounds() const noexcept override { return sched.bounds(); }
        std::string text() const override {
            if constexpr (has_text_form_v<S>) {
                return detail::text_of(sched);
            } else {
                throw std::logic_error(
                    "clr::to_string: this schedule has no text form (a cyclic schedule with a user scale "
                    "function: code, not data)");
            }
        }
        std::shared_ptr<held> clone() const override { return std::make_shared<holder>(sched); }
        void visit(const plateau_visit<T>& f) override { detail::visit_plateaus(sched, f); }
        void view(const plateau_view<T>& f) const override { detail::view_plateaus(sched, f); }
        S sched;
    };

    template <class S>
    using enable_for = std::enable_if_t<is_schedule_v<S> && !std::is_same_v<S, any_schedule>>;

public:
    // Implicit, as std::function's is: any schedule of the same value type.
    template <class S, class = enable_for<S>>
    any_schedule(S s)  // NOLINT(google-explicit-constructor)
        : held_(std::make_shared<holder<S>>(std::move(s))) {
        static_assert(std::is_same_v<typename S::value_type, T>,
                      "clr::any_schedule<T> holds schedules of value type T; convert the parameters instead");
    }

    // Copies only: a moved-from any_schedule would be empty, and there is no
    // empty any_schedule to call.
    any_schedule(const any_schedule&) = default;
    any_schedule& operator=(const any_schedule&) = default;
    ~any_schedule() = default;

    T lr_at(step_t t) const { return held_->lr(t); }
    std::optional<T> momentum_at(step_t t) const { return held_->momentum(t); }
    range<T> lr_range() const noexcept { return held_->bounds(); }

    // Reports reach a plateau in the held schedule (plateau_rule.hpp). One
    // shared with another copy is copied first: copies never see each
    // other's reports.
    void visit_plateaus(const plateau_visit<T>& f) {
        if (held_.use_count() > 1 && detail::count_plateaus(*this) > 0) held_ = held_->clone();
        held_->visit(f);
    }
    void view_plateaus(const plateau_view<T>& f) const { held_->view(f); }

private:
    template <class U>
    friend std::string detail::any_text(const any_schedule<U>& s);

    // Never changed in place while shared: visit_plateaus copies it first.
    std::shared_ptr<held> held_;
};

namespace detail {

// The held schedule's text in place of the holder's: to_string of an
// any_schedule is that of what it holds. Throws std::logic_error if that has
// no text form.
template <class U>
std::string any_text(const any_schedule<U>& s) {
    return s.held_->text();
}

}  // namespace detail

// Its text is that of the schedule it holds (detail::text_of asks it).
template <class T>
struct describe<any_schedule<T>> {
    static constexpr const char* name = "";
};

}  // namespace clr

#endif  // CLR_ANY_SCHEDULE_HPP
