// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// clr::optim::decay_value: an optimizer's weight decay, a number or a
// schedule of the step. The weight_decay of sgd_options, adam_options and
// adamw_options, and block_options::with_weight_decay, take either:
//
//     clr::optim::adamw_options o;
//     o.weight_decay = 0.05;                       // a number, as before
//     // DINO's decay, a cosine rising from 0.04 to 0.4 over the run:
//     o.weight_decay = clr::piecewise<double>({0, 10000}, {0.04, 0.4})
//                          .with_interpolation(clr::interpolation::cosine);
//     clr::optim::adamw opt(clr::cosine<double>(1e-3, 10000), o);
//     opt.add(w, dw);                              // decay 0.04 at update 1, 0.22 at 5001
//     opt.add(b, db, clr::optim::block_options().with_weight_decay(0.0));   // none on the bias
//
// A schedule s gives update t + 1 (t = opt.steps() before that step) the
// decay s.lr(t): the convention of the learning rate, and PyTorch's when a
// loop sets param_group["weight_decay"] before each optimizer.step(). The
// value is taken in double (a float schedule's widened), as PyTorch holds a
// group's decay in a Python float, and used where the number would be: SGD's
// and Adam's L2 term, AdamW's p *= 1 - lr * weight_decay. Any clr schedule
// of any value type will do, a composed one or a class of your own; its
// momentum, if it has one, is not used.
//
// A number is checked where it is used (the optimizer's constructor,
// with_weight_decay, add(): finite and >= 0, clr::invalid_parameter naming
// weight_decay), so `o.weight_decay = -1;` compiles and the optimizer refuses
// it. A schedule is checked at every step: step() throws std::domain_error,
// naming the block and the step, before it changes anything if the value is
// negative or not finite.
//
// Copies share the held schedule (a reference count: copying never throws).
// at(t) is one indirect call into the schedule and never allocates.
#ifndef CLR_OPTIM_DECAY_VALUE_HPP
#define CLR_OPTIM_DECAY_VALUE_HPP

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "../schedule.hpp"
#include "../text.hpp"

namespace clr::optim {

class decay_value {
    struct held {
        held() = default;
        held(const held&) = delete;
        held& operator=(const held&) = delete;
        virtual ~held() = default;
        virtual double at(step_t t) const = 0;  // not noexcept: a user schedule may throw
        virtual std::string text() const = 0;
    };

    template <class S>
    struct holder final : held {
        explicit holder(S s) : sched(std::move(s)) {}
        double at(step_t t) const override { return static_cast<double>(sched.lr(t)); }
        std::string text() const override { return clr::detail::text_or_empty(sched); }
        S sched;
    };

public:
    // Implicit both ways, so that `o.weight_decay = 5e-4;` and
    // `o.weight_decay = clr::cosine<double>(0.05, n);` both read as written.
    decay_value(double v = 0.0) noexcept : number_(v) {}  // NOLINT(google-explicit-constructor)

    template <class S, class = std::enable_if_t<clr::is_schedule_v<S>>>
    decay_value(S s)  // NOLINT(google-explicit-constructor)
        : held_(std::make_shared<const holder<S>>(std::move(s))) {}

    bool is_schedule() const noexcept { return held_ != nullptr; }

    // The number; empty for a schedule.
    std::optional<double> number() const noexcept {
        if (held_) return std::nullopt;
        return number_;
    }

    // The decay of update t + 1: the number, or the schedule's lr(t) in double.
    double at(step_t t) const { return held_ ? held_->at(t) : number_; }

    // The number in clr's shortest form ("0.01"), or the schedule's text
    // form (clr::to_string); empty for a schedule that has none (a cyclic
    // schedule with a user scale function, a class of your own). Checkpoints
    // record it, and load() compares it.
    std::string text() const { return held_ ? held_->text() : clr::format_number(number_); }

    // A number equals a double of the same value; a schedule equals none.
    friend bool operator==(const decay_value& d, double v) noexcept { return !d.held_ && d.number_ == v; }
    friend bool operator==(double v, const decay_value& d) noexcept { return d == v; }
    friend bool operator!=(const decay_value& d, double v) noexcept { return !(d == v); }
    friend bool operator!=(double v, const decay_value& d) noexcept { return !(d == v); }

private:
    double number_ = 0.0;
    std::shared_ptr<const held> held_;
};

}  // namespace clr::optim

#endif  // CLR_OPTIM_DECAY_VALUE_HPP
