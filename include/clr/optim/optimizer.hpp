// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// What sgd, adam and adamw share (every call below works on all three):
//
//     clr::optim::sgd opt(schedule, options);
//     opt.add(w, dw);                 // once per parameter block
//     opt.add(b, db, clr::optim::block_options().with_weight_decay(0.0));
//     opt.add(e, de, clr::optim::block_options().with_schedule(other));  // a rate of its own
//     opt.step();                     // lr = schedule.lr(opt.steps()), then steps() + 1
//     opt.step(reduce);               // the same, after reduce(g) on every block's gradient
//     opt.set_threads(2);             // threads for the update (default: 1, docs/THREADS.md)
//     opt.last_lr();                  // the rate that step applied
//     opt.last_lr(2);                 // the rate it applied to block 2 (after its lr_scale)
//     opt.report(val_loss);           // after an epoch, to a plateau in the schedules
//     opt.save(out);  opt.load(in);   // state and step counter, not the parameters
//
// A block's options (block_options.hpp): a rate scale, a schedule and a weight
// decay of its own. Weight decay is a number or a schedule (decay_value.hpp).
//
// clr::optim::optimizer<Derived, Schedule, State> is the CRTP base that holds
// the schedule, the step counter, the registered blocks with their options
// and state, the per-step checks of the schedules' output, and checkpoints.
// An optimizer derives from it and supplies, for the base (a friend) only:
//     static constexpr name, kind, momentum_name;
//     State make_state(Eigen::Index n) const;   // allocated once, at add()
//     void reserve(State&, Eigen::Index n, std::optional<T> momentum) const;
//         // any storage the step needs, allocated before anything changes
//     void prepare(const detail::param_block<T>&, State&, T lr, std::optional<T> momentum) noexcept;
//         // the block's scalars for this step (bias corrections, ...), once per block
//     void update(const detail::param_block<T>&, State&, Eigen::Index begin, Eigen::Index size) const noexcept;
//         // elements [begin, begin + size) of the block; runs on any thread
//     void write_state(detail::checkpoint_writer&, const State&, Eigen::Index n) const;
//     State read_state(detail::checkpoint_reader&, Eigen::Index n, std::size_t index) const;
//     std::string state_problem(const State&, Eigen::Index n, std::size_t index) const;
//     std::array<detail::named_option, 3> option_values() const;  // but the weight decay
//     double momentum_option() const;           // momentum or beta1
//     const options_type& options() const;      // public; its weight_decay is a decay_value
// The checkpoint layout is described in detail/optimizer.hpp.
#ifndef CLR_OPTIM_OPTIMIZER_HPP
#define CLR_OPTIM_OPTIMIZER_HPP

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../plateau_rule.hpp"
#include "../schedule.hpp"
#include "block_options.hpp"
#include "checkpoint.hpp"
#include "decay_value.hpp"
#include "detail/block.hpp"
#include "detail/block_rates.hpp"
#include "detail/checkpoint.hpp"
#include "detail/optimizer.hpp"
#include "detail/record.hpp"

namespace clr::optim {

// One block's gradient as step(reduce) hands it to the reduction: `size`
// contiguous values at `data`, to be replaced in place by the reduced
// gradient. `index` is the number add() returned for the block.
template <class T>
struct gradient_span {
    std::size_t index;
    T* data;
    Eigen::Index size;

    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> array() const noexcept { return {data, size}; }
};

// What load() does when the checkpoint's settings (schedule, optimizer
// options, block options) differ from the optimizer's.
enum class resume {
    same_settings,  // refuse, with a checkpoint_error that shows both values
    new_settings,   // the change is intended: keep the current settings, load the state
};

template <class Derived, class Schedule, class State>
class optimizer {
    static_assert(
        clr::is_schedule_v<Schedule>,
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
    // index (the number used in checkpoint messages, options_of() and
    // last_lr(b)). A block schedule of another value_type than the
    // optimizer's is refused (clr::invalid_parameter naming the block).
    template <class P, class G>
    std::size_t add(P&& param, G&& grad, const block_options& options = block_options()) {
        detail::check_block_type<T, P, true>();
        detail::check_block_type<T, G, false>();
        const std::string who = std::string(Derived::name) + "::add";
        detail::check_block_options<T>(who, options, blocks_.size());
        detail::param_block<T> blk = detail::make_block<T, detail::is_writable_block<G>()>(who, param, grad);
        blk.lr_scale = options.lr_scale;
        const std::optional<std::size_t> shares_grad = detail::check_overlaps(who, blk, blocks_);
        const std::size_t index = blocks_.size();
        const Eigen::Index tasks = (blk.size + detail::task_size - 1) / detail::task_size;
        blocks_.reserve(index + 1);
        options_.reserve(index + 1);
        states_.reserve(index + 1);
        rates_.reserve(index + 1);
        tasks_.reserve(tasks_.size() + std::size_t(tasks));
        State s = derived().make_state(blk.size);
        // No reallocation after the reserves: the pushes succeed together.
        blocks_.push_back(blk);
        options_.push_back(options);
        states_.push_back(std::move(s));
        rates_.emplace_back();
        for (Eigen::Index i = 0; i < blk.size; i += detail::task_size)
            tasks_.push_back({index, i, std::min(detail::task_size, blk.size - i)});
        total_size_ += blk.size;
        if (shares_grad && !shared_grad_) shared_grad_ = std::pair{*shares_grad, index};
        return index;
    }

    // One update of every registered block with lr = schedule().lr(steps())
    // (or its own schedule's, times the block's lr_scale, with the weight
    // decay at steps(), and with the schedule's momentum if it cycles one),
    // then steps() + 1. Every schedule's output is checked first: on an
    // error (std::domain_error naming the block and the step) nothing
    // changes. Throws std::overflow_error at steps() = 2^62, the largest
    // step counter a checkpoint holds.
    void step() {
        plan_step();
        run_step();
    }

    // step(), with the gradients reduced first: reduce(g) is called once per
    // block, in the order of add(), with a clr::optim::gradient_span<T> g of
    // the block's gradient, which it replaces in place; then the update
    // reads the reduced gradients. Data-parallel training, where every
    // process holds the parameters and computes the gradient of its share of
    // the batch, reduces with a sum weighted to the global-batch mean:
    //
    //     opt.step([&](clr::optim::gradient_span<float> g) {
    //         g.array() *= float(local_batch) / float(global_batch);
    //         MPI_Allreduce(MPI_IN_PLACE, g.data, int(g.size), MPI_FLOAT, MPI_SUM, comm);
    //     });
    //
    // The schedules' output and the blocks are checked before reduce is
    // called, so an error there throws on every process alike before any
    // takes part in a collective. If reduce throws, the exception propagates
    // and the parameters, the optimizer's state, steps() and last_lr() are
    // as before the call (the gradients reduce has already written stay
    // written). Every gradient must have been registered writable and no
    // two blocks may share gradient storage (it would be reduced twice):
    // std::invalid_argument naming the block otherwise.
    template <class Reduce>
    void step(Reduce&& reduce) {
        static_assert(std::is_invocable_v<Reduce&, gradient_span<value_type>>,
                      "clr::optim: step(reduce) calls reduce(clr::optim::gradient_span<value_type>)");
        plan_step();
        detail::check_reducible(Derived::name, blocks_, shared_grad_);
        reserve_states();
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            const auto& blk = blocks_[b];
            reduce(gradient_span<value_type>{b, blk.grad, blk.size});
        }
        run_step();
    }

    // The number of threads step() updates with, at most: 1 (the calling
    // thread) unless set_threads(n) asks for more. Threads come from OpenMP
    // (-fopenmp); without it every step runs on the calling thread. One
    // thread by default because an OpenMP team that finishes its share
    // spins, and beside a BLAS with a pool of its own (Debian's default
    // OpenBLAS), or on a machine busy with other work, the spinning costs
    // more than the second thread saves: docs/THREADS.md has the
    // measurements and when n > 1 pays. A step with fewer than 262,144
    // parameters in all stays on the calling thread, and one never uses more
    // threads than it has tasks of 16,384. The result is bit-identical for
    // every thread count: each parameter goes through the same operations,
    // only on another thread. Throws clr::invalid_parameter for n < 1.
    void set_threads(int n) {
        if (n < 1)
            clr::detail::fail((std::string(Derived::name) + "::set_threads").c_str(), "threads",
                              clr::detail::to_text(n), "must be at least 1");
        threads_ = n;
    }

    // The thread count step() would use for a large problem: set_threads()'s,
    // or 1; 1 without OpenMP.
    int threads() const noexcept {
#if defined(_OPENMP)
        return threads_;
#else
        return 1;
#endif
    }

    // Updates applied so far: the schedule position of the next step.
    step_t steps() const noexcept { return t_; }

    // Moves the schedule position, e.g. to continue a schedule with fresh
    // optimizer state. Buffers, Adam's per-block update counts (its bias
    // correction) and last_lr() are left as they are; load() restores those.
    void set_steps(step_t n) {
        if (n > clr::detail::max_steps)
            clr::detail::fail((std::string(Derived::name) + "::set_steps").c_str(), "steps",
                              clr::detail::to_text(n),
                              "is larger than 2^62 (a negative number converted to unsigned?)");
        t_ = n;
    }

    // The learning rate the next step() will use (the optimizer schedule's,
    // before each block's lr_scale).
    value_type lr() const noexcept(noexcept(std::declval<const Schedule&>().lr(step_t{}))) {
        return sched_.lr(t_);
    }

    // The learning rate the most recent step() applied (the optimizer
    // schedule's, before each block's lr_scale), as PyTorch's
    // scheduler.get_last_lr() reports it. Empty before the first step(): no
    // rate has been applied yet, and any number here (0, or the next rate)
    // would read as one that was; lr() gives the next one. Also empty after
    // loading a version-1 checkpoint, which did not record it, until the
    // next step().
    std::optional<value_type> last_lr() const noexcept { return last_lr_; }

    // The rate the most recent step() applied to block b: its own schedule's
    // or the optimizer's, times its lr_scale, as PyTorch's
    // param_groups[b]["lr"] reads. Empty until a step() has updated the
    // block. Throws std::out_of_range.
    std::optional<value_type> last_lr(std::size_t b) const {
        check_index("last_lr", b);
        return rates_[b].last_lr;
    }

    // The momentum (sgd) or beta1 (adam, adamw) the most recent step()
    // applied: the schedule's when it cycles momentum, otherwise the
    // optimizer's option, as PyTorch's param_groups[0]["momentum"] or
    // ["betas"][0] reads after a step. Empty when last_lr() is.
    std::optional<value_type> last_momentum() const noexcept { return last_momentum_; }

    const Schedule& schedule() const noexcept { return sched_; }

    std::size_t num_blocks() const noexcept { return blocks_.size(); }

    // The options block b was registered with. Throws std::out_of_range.
    const block_options& options_of(std::size_t b) const {
        check_index("options_of", b);
        return options_[b];
    }

    // Writes the step counter, last_lr() and last_momentum(), the settings
    // (the schedule's text form, the optimizer's options and weight decay,
    // each block's options and last rate) and every block's state, not the
    // parameters (see save_blocks), with a CRC-32C over the whole record.
    // Throws checkpoint_error if the stream fails, or if a block's state is
    // not finite (a diverged run), which load() would refuse.
    void save(std::ostream& out) const;

    // Restores what save() wrote (format version 3, or 2 or 1 of earlier
    // versions of clr). The same blocks (count and sizes, in order) must be
    // registered, and an optimizer of the same kind and scalar type. With
    // resume::same_settings the checkpoint's settings must also be the
    // optimizer's: the schedule's text form, clr::to_string (unless the
    // checkpoint has none: a schedule without a text form, a cyclic one with
    // a user scale function or a class of your own, or a version-1 file,
    // cannot be checked), the optimizer's options and weight decay (a number
    // or a schedule's text form, as the schedule's), and every block's
    // lr_scale, schedule and weight decay as applied. With
    // resume::new_settings they may differ, and the optimizer's stay.
    // Everything is read and checked (checksum first) before anything is
    // replaced: on checkpoint_error the optimizer is unchanged.
    void load(std::istream& in, resume settings = resume::same_settings);

    // Reports a metric (a validation loss) to every plateau in the schedules
    // (<clr/plateau.hpp>; detail/plateau_record.hpp); std::invalid_argument,
    // changing nothing, if there is none. Checkpoints carry their states.
    void report(double metric);

protected:
    explicit optimizer(Schedule s) : sched_(std::move(s)) {}

    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
    const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

private:
    using T = value_type;

    using staged_plateaus = std::vector<std::optional<detail::plateau_list>>;  // empty entry: keep
    struct loaded {
        detail::record_head<T> head;
        std::vector<std::optional<T>> block_last_lr;
        std::vector<State> states;
        staged_plateaus plateaus;
    };

    void check_index(const char* what, std::size_t b) const {
        if (b >= blocks_.size())
            throw std::out_of_range(std::string(Derived::name) + "::" + what + ": block " +
                                    std::to_string(b) + ", " + std::to_string(blocks_.size()) +
                                    " registered");
    }

    // Everything that may refuse the step, before anything changes: every
    // schedule's output for this step, checked, into step_lr_,
    // step_momentum_ and rates_ (which only run_step reads).
    void plan_step() {
        if (t_ >= clr::detail::max_steps)
            throw std::overflow_error(
                std::string(Derived::name) +
                "::step: the step counter is at its limit, 2^62 (set_steps to a smaller one)");
        const T lr = sched_.lr(t_);
        if (!detail::is_rate(lr)) detail::refuse_step_value(Derived::name, "the schedule gives lr =", lr, t_);
        const std::optional<T> m = sched_.momentum(t_);
        if (m && !(std::isfinite(*m) && *m >= T(0) && *m < T(1)))
            throw std::domain_error(std::string(Derived::name) + "::step: the schedule gives " +
                                    Derived::momentum_name + " = " + clr::detail::to_text(*m) + " at step " +
                                    std::to_string(t_) + "; it must lie in [0, 1)");
        const double wd = derived().options().weight_decay.at(t_);
        if (!detail::is_rate(wd))
            detail::refuse_step_value(Derived::name, "the weight decay schedule gives", wd, t_);
        for (std::size_t b = 0; b < blocks_.size(); ++b)
            detail::plan_block(Derived::name, t_, b, options_[b], blocks_[b].lr_scale, lr, wd, rates_[b]);
        step_lr_ = lr;
        step_momentum_ = m;
    }

    // Storage the step needs (only ever allocated here, and only by SGD for a
    // schedule that starts cycling momentum late) comes before any change.
    void reserve_states() {
        for (std::size_t b = 0; b < blocks_.size(); ++b)
            derived().reserve(states_[b], blocks_[b].size, step_momentum_);
    }

    // The update proper, after plan_step(). Only reserve_states() may throw
    // (std::bad_alloc), before anything has changed; nothing after it does.
    void run_step() {
        reserve_states();
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            blocks_[b].weight_decay = rates_[b].weight_decay;
            derived().prepare(blocks_[b], states_[b], rates_[b].lr, step_momentum_);
        }
        detail::run_tasks(tasks_, total_size_ < detail::parallel_threshold ? 1 : threads(),
                          [this](const detail::task& k) noexcept {
                              derived().update(blocks_[k.block], states_[k.block], k.begin, k.size);
                          });
        for (auto& r : rates_) r.last_lr = r.lr;
        last_lr_ = step_lr_;
        last_momentum_ = step_momentum_ ? *step_momentum_ : T(derived().momentum_option());
        ++t_;
    }

    detail::recorded_settings recorded() const;  // checkpoints: detail/optimizer_io.hpp
    void write_body(detail::checkpoint_writer& w, const detail::recorded_settings& settings) const;
    std::vector<State> read_states(detail::checkpoint_reader& r) const;
    loaded read_v1(detail::checkpoint_reader& r) const;
    loaded read_record(detail::checkpoint_reader& r, std::uint32_t version, resume settings) const;
    std::vector<detail::plateau_list> plateau_lists() const;
    staged_plateaus fitting_plateaus(const detail::checkpoint_reader& r,
                                     std::vector<detail::plateau_list> lists, resume settings) const;
    void own_plateaus();
    void restore_plateaus(const staged_plateaus& lists);

    Schedule sched_;
    step_t t_ = 0;
    std::optional<T> last_lr_, last_momentum_;
    T step_lr_ = 0;  // this step's, set by plan_step
    std::optional<T> step_momentum_;
    std::vector<detail::param_block<T>> blocks_;
    std::vector<block_options> options_;
    std::vector<State> states_;
    std::vector<detail::block_rate<T>> rates_;
    std::vector<detail::task> tasks_;
    Eigen::Index total_size_ = 0;
    int threads_ = 1;  // the calling thread alone until set_threads()
    std::optional<std::pair<std::size_t, std::size_t>> shared_grad_;
};

}  // namespace clr::optim

#include "detail/optimizer_io.hpp"  // and detail/plateau_record.hpp

#endif  // CLR_OPTIM_OPTIMIZER_HPP
