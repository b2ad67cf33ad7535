// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// What sgd, adam and adamw share (every call below works on all three):
//
//     clr::optim::sgd opt(schedule, options);
//     opt.add(w, dw);                 // once per parameter block
//     opt.step();                     // lr = schedule.lr(opt.steps()), then steps() + 1
//     opt.save(out);  opt.load(in);   // state and step counter, not the parameters
//
// That is: the schedule, the step counter, the registered blocks with their
// per-block state, the per-step checks of the schedule's output, and the
// checkpoint framing. A derived optimizer supplies
//     struct state;                        // per block: buffers, counters
//     state make_state(Eigen::Index n);    // allocated once, at add()
//     void update(block, state&, T lr, std::optional<T> momentum);
//     void write_state(writer&, const state&, Eigen::Index n) const;
//     state read_state(reader&, Eigen::Index n, std::size_t index) const;
// and the names used in messages and checkpoints.
//
// Optimizer checkpoint record (opt.save):
//     8 bytes "CLROPTIM", u32 version = 1, u8 scalar size (4 or 8),
//     u8 optimizer kind (1 sgd, 2 adam, 3 adamw), u64 step counter,
//     u64 block count B, B x u64 block sizes, then B per-block states:
//       sgd:         u8 has_momentum_buffer (0/1), then the buffer if 1
//       adam, adamw: u64 update count, exp_avg, exp_avg_sq
//     All little-endian.
#ifndef CLR_OPTIM_DETAIL_OPTIMIZER_HPP
#define CLR_OPTIM_DETAIL_OPTIMIZER_HPP

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../schedule.hpp"
#include "block.hpp"
#include "checkpoint.hpp"

namespace clr::detail {

inline constexpr char optimizer_magic[9] = "CLROPTIM";

inline const char* optimizer_kind_name(std::uint8_t kind) noexcept {
    switch (kind) {
        case 1: return "clr::optim::sgd";
        case 2: return "clr::optim::adam";
        case 3: return "clr::optim::adamw";
        default: return nullptr;
    }
}

// Option checks, on the double the user wrote, before any narrowing to float.
inline double require_unit_interval(const char* who, const char* param, double v) {
    require_finite(who, param, v);
    if (!(v >= 0.0 && v <= 1.0)) fail(who, param, to_text(v), "must lie in [0, 1]");
    return v;
}

inline double require_weight_decay(const char* who, double v) {
    return require_rate(who, "weight_decay", v);
}

template <class Derived, class Schedule, class State>
class optimizer_base {
    static_assert(clr::is_schedule_v<Schedule>,
                  "clr::optim: the optimizer's template argument must be a clr schedule (derived from clr::schedule)");

public:
    using schedule_type = Schedule;
    using value_type = typename Schedule::value_type;
    static_assert(std::is_same_v<value_type, float> || std::is_same_v<value_type, double>,
                  "clr::optim: optimizers run on float or double schedules");

    // Registers a parameter block and its gradient. Both must stay alive (and
    // at the same address) for as long as the optimizer steps: it keeps views,
    // not copies. Any contiguous Eigen Matrix, Array or Map of value_type.
    // State buffers are allocated here, never in step(). Returns the block's
    // index (the number used in checkpoint messages).
    template <class P, class G>
    std::size_t add(P&& param, G&& grad) {
        using T = value_type;
        check_block_type<T, P, true>();
        check_block_type<T, G, false>();
        const std::string who = std::string(Derived::name) + "::add";
        const param_block<T> blk = make_block<T>(who, param, grad);
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            const auto& o = blocks_[b];
            // A block registered twice would be updated twice per step; a
            // parameter aliasing another block's gradient would change that
            // gradient halfway through a step.
            if (overlaps<T>(blk.param, blk.size, o.param, o.size))
                throw std::invalid_argument(who + ": param overlaps the param of block " + std::to_string(b));
            if (overlaps<T>(blk.param, blk.size, o.grad, o.size))
                throw std::invalid_argument(who + ": param overlaps the grad of block " + std::to_string(b));
            if (overlaps<T>(blk.grad, blk.size, o.param, o.size))
                throw std::invalid_argument(who + ": grad overlaps the param of block " + std::to_string(b));
        }
        blocks_.reserve(blocks_.size() + 1);
        states_.reserve(states_.size() + 1);
        State s = derived().make_state(blk.size);
        // No reallocation after the reserves: both pushes succeed together.
        blocks_.push_back(blk);
        states_.push_back(std::move(s));
        return blocks_.size() - 1;
    }

    // One update of every registered block with lr = schedule().lr(steps())
    // (and the schedule's momentum, if it cycles one), then steps() + 1.
    // The schedule's output is checked first: on an error nothing changes.
    void step() {
        using T = value_type;
        const T lr = sched_.lr(t_);
        if (!std::isfinite(lr) || lr < T(0))
            throw std::domain_error(std::string(Derived::name) + "::step: the schedule gives lr = " + to_text(lr) +
                                    " at step " + std::to_string(t_) + "; it must be finite and not negative");
        const std::optional<T> m = sched_.momentum(t_);
        if (m && !(std::isfinite(*m) && *m >= T(0) && *m < T(1)))
            throw std::domain_error(std::string(Derived::name) + "::step: the schedule gives " +
                                    Derived::momentum_name + " = " + to_text(*m) + " at step " +
                                    std::to_string(t_) + "; it must lie in [0, 1)");
        for (std::size_t b = 0; b < blocks_.size(); ++b) derived().update(blocks_[b], states_[b], lr, m);
        ++t_;
    }

    // Updates applied so far: the schedule position of the next step.
    step_t steps() const noexcept { return t_; }

    // Moves the schedule position, e.g. to continue a schedule with fresh
    // optimizer state. Buffers and Adam's per-block update counts (its bias
    // correction) are left as they are; load() restores those.
    void set_steps(step_t n) {
        if (n > max_steps)
            fail((std::string(Derived::name) + "::set_steps").c_str(), "steps", to_text(n),
                 "is larger than 2^62 (a negative number converted to unsigned?)");
        t_ = n;
    }

    // The learning rate the next step() will use.
    value_type lr() const noexcept { return sched_.lr(t_); }

    const Schedule& schedule() const noexcept { return sched_; }

    std::size_t num_blocks() const noexcept { return blocks_.size(); }

    // Writes the step counter and every block's state (not the parameters:
    // see save_blocks). Throws checkpoint_error if the stream fails.
    void save(std::ostream& out) const {
        checkpoint_writer w(out, std::string(Derived::name) + "::save");
        w.bytes(optimizer_magic, 8);
        w.integer(checkpoint_version);
        w.integer(static_cast<std::uint8_t>(sizeof(value_type)));
        w.integer(Derived::kind);
        w.integer(static_cast<std::uint64_t>(t_));
        w.integer(static_cast<std::uint64_t>(blocks_.size()));
        for (const auto& b : blocks_) w.integer(static_cast<std::uint64_t>(b.size));
        for (std::size_t b = 0; b < blocks_.size(); ++b) derived().write_state(w, states_[b], blocks_[b].size);
    }

    // Restores what save() wrote. The same blocks (count and sizes, in order)
    // must be registered. Everything is read and checked before anything is
    // replaced: on checkpoint_error the optimizer is unchanged.
    void load(std::istream& in) {
        checkpoint_reader r(in, std::string(Derived::name) + "::load");
        r.header(optimizer_magic, "clr optimizer checkpoint", sizeof(value_type));
        const auto kind = r.template integer<std::uint8_t>("the optimizer kind");
        if (kind != Derived::kind) {
            const char* other = optimizer_kind_name(kind);
            if (!other) r.fail("unknown optimizer kind " + std::to_string(kind) + " in the checkpoint");
            r.fail(std::string("checkpoint was written by ") + other + ", not " + Derived::name);
        }
        const auto t = r.template integer<std::uint64_t>("the step counter");
        if (t > max_steps) r.fail("step counter " + std::to_string(t) + " is larger than 2^62 (damaged file?)");
        r.block_sizes(blocks_.size(), [&](std::size_t b) { return blocks_[b].size; });
        std::vector<State> staged;
        staged.reserve(blocks_.size());
        for (std::size_t b = 0; b < blocks_.size(); ++b) staged.push_back(derived().read_state(r, blocks_[b].size, b));
        states_.swap(staged);
        t_ = static_cast<step_t>(t);
    }

protected:
    explicit optimizer_base(Schedule s) : sched_(std::move(s)) {}

    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
    const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

private:
    Schedule sched_;
    step_t t_ = 0;
    std::vector<param_block<value_type>> blocks_;
    std::vector<State> states_;
};

}  // namespace clr::detail

#endif  // CLR_OPTIM_DETAIL_OPTIMIZER_HPP
