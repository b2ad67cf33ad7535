// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Adam (L2 weight decay into the gradient) and AdamW (decoupled weight
// decay): PyTorch's torch.optim.Adam and torch.optim.AdamW (1.13), update for
// update, with the learning rate (and, if the schedule cycles momentum, beta1)
// taken from a clr schedule at every step.
//
//     auto sched = clr::one_cycle<double>(0.01, 10000).with_momentum(0.85, 0.95);
//     clr::optim::adamw opt(sched);                   // weight_decay = 0.01, beta1 cycled
//     opt.add(w, dw);                                 // Eigen matrices, kept by reference
//     for (...) { compute dw; opt.step(); }
//
//     clr::optim::adam_options o;
//     o.beta2 = 0.99;
//     clr::optim::adam adam(sched, o);
//
//     clr::optim::adamw_options wo;   // a decay that follows a schedule (decay_value.hpp)
//     wo.weight_decay = clr::cosine<double>(0.05, 10000).with_eta_min(0.005);  // 0.05 at update 1
//     clr::optim::adamw scheduled(sched, wo);
//
// Per block, with k its number of updates so far including this one, lr =
// schedule.lr(t) (or the block's own schedule's) times the block's lr_scale,
// weight_decay the block's at step t (see block_options) and beta1 =
// schedule.momentum(t) when the schedule cycles it:
//     adam:   g = g + weight_decay * p          adamw: p *= 1 - lr * weight_decay
//     m = beta1 * m + (1 - beta1) * g
//     v = beta2 * v + (1 - beta2) * g * g
//     p -= lr / (1 - beta1^k) * m / (sqrt(v) / sqrt(1 - beta2^k) + eps)
// The bias correction uses the current beta1 raised to k, as PyTorch does
// when OneCycleLR or CyclicLR change beta1.
#ifndef CLR_OPTIM_ADAM_HPP
#define CLR_OPTIM_ADAM_HPP

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "decay_value.hpp"
#include "optimizer.hpp"

namespace clr::optim {

// torch.optim.Adam's arguments and defaults (lr comes from the schedule).
struct adam_options {
    double beta1 = 0.9;        // [0, 1); replaced each step by a schedule that cycles momentum
    double beta2 = 0.999;      // [0, 1)
    double eps = 1e-8;         // > 0, finite
    decay_value weight_decay;  // L2 penalty added to the gradient: a number (>= 0, finite, default 0)
                               // or a schedule of the step (decay_value.hpp)
};

// torch.optim.AdamW's arguments and defaults.
struct adamw_options {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    decay_value weight_decay = 0.01;  // decoupled: p *= 1 - lr * weight_decay; a number or a schedule
};

}  // namespace clr::optim

namespace clr::detail {

template <class T>
struct adam_state {
    Eigen::Array<T, Eigen::Dynamic, 1> exp_avg;
    Eigen::Array<T, Eigen::Dynamic, 1> exp_avg_sq;
    // Per block, as PyTorch's state['step']: a block registered late, or
    // fresh state continued with set_steps(), starts its bias correction at 1.
    step_t updates = 0;
    // This step's factors, set by prepare() for update() on every thread.
    T step_size = 0, bc2_sqrt = 1, wd = 0, decay = 1, b1 = 0, b2 = 0, c1 = 0, c2 = 0;
    bool l2 = false;
};

template <class Derived, class Schedule, bool Decoupled>
class adam_common
    : public clr::optim::optimizer<Derived, Schedule, adam_state<typename Schedule::value_type>> {
    using base = clr::optim::optimizer<Derived, Schedule, adam_state<typename Schedule::value_type>>;
    friend base;

public:
    using typename base::value_type;
    using options_type = std::conditional_t<Decoupled, clr::optim::adamw_options, clr::optim::adam_options>;

    static constexpr const char* name = Decoupled ? "clr::optim::adamw" : "clr::optim::adam";

    const options_type& options() const noexcept { return opts_; }

protected:
    adam_common(Schedule s, const options_type& o) : base(std::move(s)), opts_(checked(o)) {}

    static constexpr std::uint8_t kind = Decoupled ? 3 : 2;
    static constexpr const char* momentum_name = "beta1";

private:
    using T = value_type;
    using state = adam_state<T>;
    using array = Eigen::Array<T, Eigen::Dynamic, 1>;

    static options_type checked(const options_type& o) {
        require_momentum(name, "beta1", o.beta1);
        require_momentum(name, "beta2", o.beta2);
        require_positive(name, "eps", o.eps);
        require_weight_decay(name, o.weight_decay);
        return o;
    }

    state make_state(Eigen::Index n) const {
        state s;
        s.exp_avg = array::Zero(n);
        s.exp_avg_sq = array::Zero(n);
        return s;
    }

    void reserve(state&, Eigen::Index, std::optional<T>) const noexcept {}

    void prepare(const param_block<T>& blk, state& s, T lr, std::optional<T> cycled) const noexcept {
        // Scalar factors in double, as PyTorch computes them in Python floats.
        const double beta1 = cycled ? double(*cycled) : opts_.beta1;
        const double beta2 = opts_.beta2;
        // Saturating at 2^62, the largest count a checkpoint holds: by then
        // beta^k is 0 in any precision, so the update is the same.
        if (s.updates < max_steps) ++s.updates;
        const double k = double(s.updates);
        const double bc1 = 1.0 - std::pow(beta1, k);
        const double bc2 = 1.0 - std::pow(beta2, k);
        s.step_size = T(double(lr) / bc1);
        s.bc2_sqrt = T(std::sqrt(bc2));
        s.wd = T(blk.weight_decay);
        s.decay = T(1.0 - double(lr) * blk.weight_decay);
        s.b1 = T(beta1);
        s.b2 = T(beta2);
        s.c1 = T(1.0 - beta1);
        s.c2 = T(1.0 - beta2);
        s.l2 = !Decoupled && blk.weight_decay != 0.0;
    }

    void update(const param_block<T>& blk, state& s, Eigen::Index begin, Eigen::Index size) const noexcept {
        using map = Eigen::Map<array>;
        using cmap = Eigen::Map<const array>;
        const T step_size = s.step_size, bc2_sqrt = s.bc2_sqrt, wd = s.wd, decay = s.decay;
        const T b1 = s.b1, b2 = s.b2, c1 = s.c1, c2 = s.c2;
        const T eps = T(opts_.eps);
        const bool l2 = s.l2;

        for_each_chunk(size, [&](Eigen::Index j, Eigen::Index len) {
            const Eigen::Index i = begin + j;
            map p(blk.param + i, len);
            cmap g(blk.grad + i, len);
            map m(s.exp_avg.data() + i, len);
            map v(s.exp_avg_sq.data() + i, len);
            if (l2) {
                m = m * b1 + c1 * (g + wd * p);
                v = v * b2 + c2 * (g + wd * p) * (g + wd * p);
            } else {
                m = m * b1 + c1 * g;
                v = v * b2 + c2 * g * g;
            }
            if constexpr (Decoupled)
                p = p * decay - step_size * m / (v.sqrt() / bc2_sqrt + eps);
            else
                p -= step_size * m / (v.sqrt() / bc2_sqrt + eps);
        });
    }

    void write_state(checkpoint_writer& w, const state& s, Eigen::Index n) const {
        w.integer(static_cast<std::uint64_t>(s.updates));
        w.values(s.exp_avg.data(), n);
        w.values(s.exp_avg_sq.data(), n);
    }

    state read_state(checkpoint_reader& r, Eigen::Index n, std::size_t index) const {
        const std::string where = "block " + std::to_string(index);
        const auto updates = r.template integer<std::uint64_t>("the update count of " + where);
        // Not held to the step counter: set_steps() may move the counter
        // below it (a schedule restarted with the moments kept), and save()
        // writes that state, which must load.
        if (updates > max_steps)
            r.fail("update count " + std::to_string(updates) + " of " + where +
                   " is larger than 2^62 (damaged file?)");
        state s = make_state(n);
        s.updates = static_cast<step_t>(updates);
        r.values(s.exp_avg.data(), n, "exp_avg of " + where);
        r.values(s.exp_avg_sq.data(), n, "exp_avg_sq of " + where);
        return s;
    }

    // Non-finite moments, or a negative second moment, are a diverged run
    // (or a damaged file): save() refuses them, and load() a file that holds them.
    std::string state_problem(const state& s, Eigen::Index n, std::size_t index) const {
        const std::string where = " of block " + std::to_string(index) + " holds ";
        std::string bad = first_non_finite(s.exp_avg.data(), n);
        if (!bad.empty()) return "exp_avg" + where + bad;
        bad = first_non_finite(s.exp_avg_sq.data(), n);
        if (!bad.empty()) return "exp_avg_sq" + where + bad;
        for (Eigen::Index i = 0; i < n; ++i)
            if (s.exp_avg_sq[i] < T(0))
                return "exp_avg_sq" + where + to_text(s.exp_avg_sq[i]) + " at index " + std::to_string(i) +
                       ", a negative second moment";
        return {};
    }

    // The options a checkpoint records as numbers (the weight decay is recorded apart).
    std::array<named_option, 3> option_values() const {
        return {{{"beta1", opts_.beta1}, {"beta2", opts_.beta2}, {"eps", opts_.eps}}};
    }

    double momentum_option() const noexcept { return opts_.beta1; }

    options_type opts_;
};

}  // namespace clr::detail

namespace clr::optim {

// torch.optim.Adam: weight decay as an L2 term added to the gradient.
template <class Schedule>
class adam : public clr::detail::adam_common<adam<Schedule>, Schedule, false> {
public:
    // Throws clr::invalid_parameter (a std::invalid_argument) naming the first bad option.
    explicit adam(Schedule schedule, const adam_options& options = {})
        : clr::detail::adam_common<adam<Schedule>, Schedule, false>(std::move(schedule), options) {}
};

// torch.optim.AdamW: weight decay decoupled from the gradient statistics.
template <class Schedule>
class adamw : public clr::detail::adam_common<adamw<Schedule>, Schedule, true> {
public:
    // Throws clr::invalid_parameter (a std::invalid_argument) naming the first bad option.
    explicit adamw(Schedule schedule, const adamw_options& options = {})
        : clr::detail::adam_common<adamw<Schedule>, Schedule, true>(std::move(schedule), options) {}
};

}  // namespace clr::optim

#endif  // CLR_OPTIM_ADAM_HPP
