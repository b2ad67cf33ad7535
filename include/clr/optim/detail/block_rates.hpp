// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// What clr::optim::optimizer does per block with the block's options
// (block_options.hpp): checks them at add(), works out the block's rate and
// weight decay for each step, checked before the step changes anything, and
// records them for a checkpoint.
//
//     block_options().with_lr_scale(0.5).with_schedule(s).with_weight_decay(d)
//     step t:  rate  = T(double(s.lr(t)) * 0.5)        (the optimizer's lr(t) without s)
//              decay = d.at(t)                          (the optimizer's without d)
#ifndef CLR_OPTIM_DETAIL_BLOCK_RATES_HPP
#define CLR_OPTIM_DETAIL_BLOCK_RATES_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../schedule.hpp"
#include "../block_options.hpp"
#include "../decay_value.hpp"
#include "block.hpp"
#include "optimizer.hpp"
#include "record.hpp"

namespace clr::detail {

// A block's rate (after lr_scale) and weight decay for the step being taken,
// and the rate its last step applied.
template <class T>
struct block_rate {
    T lr = 0;
    double weight_decay = 0.0;
    std::optional<T> last_lr;
};

template <class V>
bool is_rate(V v) noexcept {
    return std::isfinite(v) && v >= V(0);
}

// "clr::optim::sgd::step: block 1's schedule gives lr = -0.5 at step 3; it
// must be finite and not negative"; v in its own type's shortest form.
template <class V>
[[noreturn]] void refuse_step_value(const char* name, const std::string& what, V v, step_t t) {
    throw std::domain_error(std::string(name) + "::step: " + what + " " + to_text(v) + " at step " +
                            std::to_string(t) + "; it must be finite and not negative");
}

inline std::string block_owner(std::size_t b) { return "block " + std::to_string(b) + "'s"; }

// At add(), for block `index`: the fields can be set without the with_*
// calls, so they are checked here too, and the schedule's value type.
template <class T>
void check_block_options(const std::string& who, const optim::block_options& o, std::size_t index) {
    require_rate(who.c_str(), "lr_scale", o.lr_scale);
    if (o.weight_decay) require_weight_decay(who.c_str(), *o.weight_decay);
    if (o.has_schedule() && !o.template schedule<T>())
        throw invalid_parameter(who, "the schedule of block " + std::to_string(index),
                                std::string("a ") + o.schedule_value_type() + " schedule",
                                std::string("must be of the optimizer's value_type, ") +
                                    (std::is_same_v<T, float> ? "float" : "double"));
}

// Block b's rate and weight decay at step t, given the optimizer's (lr, wd),
// into `out`; throws std::domain_error naming the block and the step for a
// value that is negative or not finite, or a rate that lr_scale takes past
// T's range. Messages are built only then: a step never allocates.
template <class T>
void plan_block(const char* name, step_t t, std::size_t b, const optim::block_options& o, double scale, T lr,
                double wd, block_rate<T>& out) {
    if (const auto* own = o.template schedule<T>()) {
        lr = own->lr(t);
        if (!is_rate(lr)) refuse_step_value(name, block_owner(b) + " schedule gives lr =", lr, t);
    }
    if (!(std::abs(double(lr) * scale) <= double(std::numeric_limits<T>::max())))
        throw std::domain_error(std::string(name) + "::step: lr = " + to_text(lr) + " at step " +
                                std::to_string(t) + " times " + block_owner(b) +
                                " lr_scale = " + to_text(scale) + " is not finite");
    if (o.weight_decay) {
        wd = o.weight_decay->at(t);
        if (!is_rate(wd)) refuse_step_value(name, block_owner(b) + " weight decay schedule gives", wd, t);
    }
    out.lr = scaled_rate(lr, scale);
    out.weight_decay = wd;
}

// step(reduce) writes every gradient, once.
template <class T>
void check_reducible(const char* name, const std::vector<param_block<T>>& blocks,
                     const std::optional<std::pair<std::size_t, std::size_t>>& shared_grad) {
    const auto who = [name] { return std::string(name) + "::step(reduce)"; };
    for (std::size_t b = 0; b < blocks.size(); ++b)
        if (!blocks[b].grad_writable)
            throw std::invalid_argument(who() + ": block " + std::to_string(b) +
                                        "'s gradient was registered read-only (a const matrix or a Map of "
                                        "const), and reduce must write to it; register writable storage");
    if (shared_grad)
        throw std::invalid_argument(who() + ": blocks " + std::to_string(shared_grad->first) + " and " +
                                    std::to_string(shared_grad->second) +
                                    " share gradient storage, which reduce would reduce twice");
}

// A block's entry in a checkpoint; `decay` is the optimizer's weight decay.
template <class T>
recorded_block record_block(const optim::block_options& o, const param_block<T>& blk,
                            const block_rate<T>& rate, const optim::decay_value& decay) {
    recorded_block r;
    r.size = static_cast<std::uint64_t>(blk.size);
    r.lr_scale = blk.lr_scale;
    r.schedule = record_of(o.template schedule<T>());
    r.decay = record_of(o.weight_decay ? *o.weight_decay : decay);
    if (rate.last_lr) r.last_lr = double(*rate.last_lr);
    return r;
}

}  // namespace clr::detail

#endif  // CLR_OPTIM_DETAIL_BLOCK_RATES_HPP
