// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// clr::optim::block_options: the options of one parameter block, as
// PyTorch's parameter groups give them.
//
//     opt.add(w, dw);                                                  // the optimizer's settings
//     opt.add(b, db, clr::optim::block_options().with_weight_decay(0.0));    // no decay on biases
//     opt.add(head, dhead, clr::optim::block_options().with_lr_scale(10.0)); // a faster layer
//     // A backbone held still for 1,000 updates, then warmed up over 500 to
//     // 0.01 and annealed, while the rest trains on the optimizer's schedule:
//     opt.add(backbone, dbackbone, clr::optim::block_options().with_schedule(
//         clr::sequence(clr::constant<double>(0.0), 1000,
//                       clr::warmup(clr::cosine<double>(0.01, 9000), 500, 0.0))));
//     // backbone's rate: 0 at updates 1 to 1000, 0.005 at update 1251, 0.01 at 1501
//
// lr_scale: the block's rate is its schedule's lr(t) times lr_scale (computed
// in double, rounded once to the optimizer's value_type; a scale of 1 leaves
// the rate untouched) wherever the optimizer uses lr, AdamW's decoupled decay
// included.
//
// with_schedule(s): the block's rate comes from s, any clr schedule whose
// value_type is the optimizer's (add() refuses another with
// clr::invalid_parameter naming the block and both types), in place of the
// optimizer's schedule; lr_scale still applies. Its lr(t) is checked at
// every step as the optimizer's is (std::domain_error naming the block and
// the step, before anything changes). Only the rate: momentum (SGD's, or
// Adam's beta1) still comes from the optimizer's schedule when it cycles
// one, and from the optimizer's options otherwise. Held as an
// any_schedule<float> or any_schedule<double>: one indirect call per step.
//
// with_weight_decay(d): replaces the optimizer's weight decay for this
// block; a number or a schedule (clr::optim::decay_value).
//
// opt.last_lr(b) gives the rate block b's last step applied (after
// lr_scale), as PyTorch's param_groups[b]["lr"] reads.
#ifndef CLR_OPTIM_BLOCK_OPTIONS_HPP
#define CLR_OPTIM_BLOCK_OPTIONS_HPP

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "../any_schedule.hpp"
#include "../schedule.hpp"
#include "decay_value.hpp"

namespace clr::optim {

struct block_options {
    double lr_scale = 1.0;                    // finite, >= 0
    std::optional<decay_value> weight_decay;  // a number (finite, >= 0) or a schedule; empty: the optimizer's

    // Each returns a copy with one option set; a bad number throws
    // clr::invalid_parameter naming it.
    block_options with_lr_scale(double scale) const {
        block_options o = *this;
        o.lr_scale = clr::detail::require_rate("clr::optim::block_options", "lr_scale", scale);
        return o;
    }
    block_options with_weight_decay(decay_value decay) const {
        if (const auto n = decay.number())
            clr::detail::require_rate("clr::optim::block_options", "weight_decay", *n);
        block_options o = *this;
        o.weight_decay = std::move(decay);
        return o;
    }
    template <class S>
    block_options with_schedule(S schedule) const {
        static_assert(
            clr::is_schedule_v<S>,
            "clr::optim::block_options::with_schedule takes a clr schedule (derived from clr::schedule)");
        using T = typename S::value_type;
        static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                      "clr::optim: optimizers run on float or double schedules");
        block_options o = *this;
        o.schedule_ = any_schedule<T>(std::move(schedule));
        return o;
    }
    // The block follows the optimizer's schedule again.
    block_options without_schedule() const {
        block_options o = *this;
        o.schedule_ = std::monostate{};
        return o;
    }

    bool has_schedule() const noexcept { return !std::holds_alternative<std::monostate>(schedule_); }

    // The block's own schedule if it has one of value type T, else nullptr.
    template <class T>
    const any_schedule<T>* schedule() const noexcept {
        return std::get_if<any_schedule<T>>(&schedule_);
    }
    template <class T>
    any_schedule<T>* schedule() noexcept {  // for reports to a plateau in it
        return std::get_if<any_schedule<T>>(&schedule_);
    }

    // "float" or "double", the value_type of the block's own schedule; nullptr without one.
    const char* schedule_value_type() const noexcept {
        return std::holds_alternative<any_schedule<float>>(schedule_)    ? "float"
               : std::holds_alternative<any_schedule<double>>(schedule_) ? "double"
                                                                         : nullptr;
    }

private:
    std::variant<std::monostate, any_schedule<float>, any_schedule<double>> schedule_;
};

}  // namespace clr::optim

#endif  // CLR_OPTIM_BLOCK_OPTIONS_HPP
