// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Stochastic gradient descent with momentum, dampening, Nesterov momentum and
// L2 weight decay: PyTorch's torch.optim.SGD (1.13), update for update, with
// the learning rate (and, if the schedule cycles it, the momentum) taken from
// a clr schedule at every step.
//
//     clr::triangular<double> sched(0.001, 0.006, 2000);
//     clr::optim::sgd_options o;
//     o.momentum = 0.9;
//     o.weight_decay = 5e-4;
//     clr::optim::sgd opt(sched, o);
//     opt.add(w, dw);                   // Eigen matrices, kept by reference
//     opt.add(b, db, clr::optim::block_options().with_weight_decay(0.0));  // no decay on the bias
//     for (...) { compute dw, db; opt.step(); }
//
// weight_decay may be a schedule of the step too (decay_value.hpp):
//     o.weight_decay = clr::cosine<double>(5e-4, 10000);   // 5e-4 at update 1, 2.5e-4 at 5001
//
// Per block, with g the gradient, p the parameter, lr = schedule.lr(t) (or
// the block's own schedule's) times the block's lr_scale, weight_decay the
// block's at step t (see block_options) and mu the momentum
// (schedule.momentum(t) when the schedule cycles it):
//     d = g + weight_decay * p
//     mu != 0:  buf = d on the block's first such update, else
//               buf = mu * buf + (1 - dampening) * d
//               d   = nesterov ? d + mu * buf : buf
//     p -= lr * d
#ifndef CLR_OPTIM_SGD_HPP
#define CLR_OPTIM_SGD_HPP

#include <Eigen/Core>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "decay_value.hpp"
#include "optimizer.hpp"

namespace clr::optim {

// torch.optim.SGD's arguments and defaults (lr comes from the schedule).
struct sgd_options {
    double momentum = 0.0;     // [0, 1); replaced each step by a schedule that cycles momentum
    double dampening = 0.0;    // [0, 1]
    bool nesterov = false;     // needs momentum > 0 (or cycled) and dampening = 0
    decay_value weight_decay;  // L2 penalty added to the gradient: a number (>= 0, finite, default 0)
                               // or a schedule of the step (decay_value.hpp)
};

}  // namespace clr::optim

namespace clr::detail {

template <class T>
struct sgd_state {
    // Allocated at add() when momentum can be non-zero; PyTorch creates the
    // buffer from the first gradient, which `has_buffer` stands for.
    Eigen::Array<T, Eigen::Dynamic, 1> buffer;
    bool has_buffer = false;
    // This step's factors, set by prepare() for update() on every thread.
    T lr = 0, mu = 0, wd = 0, keep = 1;
    bool first = false;
};

}  // namespace clr::detail

namespace clr::optim {

template <class Schedule>
class sgd : public optimizer<sgd<Schedule>, Schedule, clr::detail::sgd_state<typename Schedule::value_type>> {
    using base = optimizer<sgd<Schedule>, Schedule, clr::detail::sgd_state<typename Schedule::value_type>>;
    friend base;

public:
    using typename base::value_type;
    using options_type = sgd_options;

    static constexpr const char* name = "clr::optim::sgd";

    // Throws clr::invalid_parameter (a std::invalid_argument) naming the first bad option.
    explicit sgd(Schedule schedule, const sgd_options& options = {})
        : base(std::move(schedule)),
          opts_(checked(options, this->schedule())) {}

    const sgd_options& options() const noexcept { return opts_; }

private:
    using T = value_type;
    using state = clr::detail::sgd_state<T>;
    using array = Eigen::Array<T, Eigen::Dynamic, 1>;
    using block = clr::detail::param_block<T>;

    static constexpr std::uint8_t kind = 1;
    static constexpr const char* momentum_name = "momentum";

    static sgd_options checked(const sgd_options& o, const Schedule& s) {
        namespace d = clr::detail;
        d::require_momentum(name, "momentum", o.momentum);
        d::require_unit_interval(name, "dampening", o.dampening);
        d::require_weight_decay(name, o.weight_decay);
        if (o.nesterov) {
            if (o.momentum <= 0.0 && !s.momentum(0))
                d::fail(name, "momentum", d::to_text(o.momentum),
                        "must be positive with nesterov = true (or cycled by the schedule)");
            if (o.dampening != 0.0)
                d::fail(name, "dampening", d::to_text(o.dampening), "must be 0 with nesterov = true");
        }
        return o;
    }

    bool may_use_momentum() const {
        return opts_.momentum != 0.0 || this->schedule().momentum(0).has_value();
    }

    state make_state(Eigen::Index n) const {
        state s;
        if (may_use_momentum()) s.buffer = array::Zero(n);
        return s;
    }

    // Only allocates with a schedule whose momentum(0) was empty but which
    // cycles momentum later; every schedule in the library is one or the
    // other, so step() does not allocate in practice.
    void reserve(state& s, Eigen::Index n, std::optional<T> cycled) const {
        const T mu = cycled ? *cycled : T(opts_.momentum);
        if (mu != T(0) && s.buffer.size() != n) s.buffer = array::Zero(n);
    }

    void prepare(const block& blk, state& s, T lr, std::optional<T> cycled) const noexcept {
        s.lr = lr;
        s.mu = cycled ? *cycled : T(opts_.momentum);
        s.wd = T(blk.weight_decay);
        s.keep = T(1) - T(opts_.dampening);
        s.first = !s.has_buffer;
        if (s.mu != T(0)) s.has_buffer = true;
    }

    void update(const block& blk, state& s, Eigen::Index begin, Eigen::Index size) const noexcept {
        using map = Eigen::Map<array>;
        using cmap = Eigen::Map<const array>;
        const T lr = s.lr, mu = s.mu, wd = s.wd, keep = s.keep;

        if (mu == T(0)) {
            clr::detail::for_each_chunk(size, [&](Eigen::Index j, Eigen::Index len) {
                const Eigen::Index i = begin + j;
                map p(blk.param + i, len);
                cmap g(blk.grad + i, len);
                if (wd == T(0))
                    p -= lr * g;
                else
                    p -= lr * (g + wd * p);
            });
            return;
        }

        const bool first = s.first;
        const bool nesterov = opts_.nesterov;
        clr::detail::for_each_chunk(size, [&](Eigen::Index j, Eigen::Index len) {
            const Eigen::Index i = begin + j;
            map p(blk.param + i, len);
            cmap g(blk.grad + i, len);
            map buf(s.buffer.data() + i, len);
            if (first)
                buf = g + wd * p;
            else
                buf = buf * mu + keep * (g + wd * p);
            if (nesterov)
                p -= lr * ((g + wd * p) + mu * buf);
            else
                p -= lr * buf;
        });
    }

    void write_state(clr::detail::checkpoint_writer& w, const state& s, Eigen::Index n) const {
        w.integer(static_cast<std::uint8_t>(s.has_buffer ? 1 : 0));
        if (s.has_buffer) w.values(s.buffer.data(), n);
    }

    state read_state(clr::detail::checkpoint_reader& r, Eigen::Index n, std::size_t index) const {
        const std::string where = "block " + std::to_string(index);
        const auto flag = r.template integer<std::uint8_t>("the momentum flag of " + where);
        if (flag > 1)
            r.fail("momentum flag of " + where + " is " + std::to_string(flag) +
                   ", not 0 or 1 (damaged file?)");
        state s;
        s.has_buffer = flag == 1;
        if (s.has_buffer || may_use_momentum()) s.buffer = array::Zero(n);
        if (s.has_buffer) r.values(s.buffer.data(), n, "the momentum buffer of " + where);
        return s;
    }

    // A non-finite buffer is a diverged run: save() refuses it, and load()
    // a file that holds one.
    std::string state_problem(const state& s, Eigen::Index n, std::size_t index) const {
        if (!s.has_buffer) return {};
        const std::string bad = clr::detail::first_non_finite(s.buffer.data(), n);
        if (bad.empty()) return {};
        return "the momentum buffer of block " + std::to_string(index) + " holds " + bad;
    }

    // The options a checkpoint records as numbers (the weight decay is recorded apart).
    std::array<clr::detail::named_option, 3> option_values() const {
        return {{{"momentum", opts_.momentum},
                 {"dampening", opts_.dampening},
                 {"nesterov", opts_.nesterov ? 1.0 : 0.0}}};
    }

    double momentum_option() const noexcept { return opts_.momentum; }

    sgd_options opts_;
};

}  // namespace clr::optim

#endif  // CLR_OPTIM_SGD_HPP
