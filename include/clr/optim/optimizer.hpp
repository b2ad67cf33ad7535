// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// What sgd, adam and adamw share (every call below works on all three):
//
//     clr::optim::sgd opt(schedule, options);
//     opt.add(w, dw);                 // once per parameter block
//     opt.add(b, db, clr::optim::block_options().with_weight_decay(0.0));
//     opt.step();                     // lr = schedule.lr(opt.steps()), then steps() + 1
//     opt.step(reduce);               // the same, after reduce(g) on every block's gradient
//     opt.set_threads(2);             // threads for the update (default: 1, docs/THREADS.md)
//     opt.last_lr();                  // the rate that step applied
//     opt.save(out);  opt.load(in);   // state and step counter, not the parameters
//
// clr::optim::optimizer<Derived, Schedule, State> is the CRTP base that holds
// the schedule, the step counter, the registered blocks with their options
// and state, the per-step checks of the schedule's output, and checkpoints.
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
//     std::array<detail::named_option, 4> option_values() const;
//     double momentum_option() const;           // momentum or beta1
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
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../schedule.hpp"
#include "checkpoint.hpp"
#include "detail/block.hpp"
#include "detail/checkpoint.hpp"
#include "detail/optimizer.hpp"

namespace clr::optim {

// Options of one parameter block, as PyTorch's parameter groups give them:
//
//     opt.add(w, dw);                                                  // the optimizer's settings
//     opt.add(b, db, clr::optim::block_options().with_weight_decay(0.0));    // no decay on biases
//     opt.add(head, dhead, clr::optim::block_options().with_lr_scale(10.0)); // a faster layer
//
// The block's rate is lr * lr_scale (computed in double, rounded once to the
// schedule's value_type; a scale of 1 leaves the rate untouched) wherever
// the optimizer uses lr, AdamW's decoupled decay included. weight_decay, when
// set, replaces the optimizer's weight_decay for this block.
struct block_options {
    double lr_scale = 1.0;               // finite, >= 0
    std::optional<double> weight_decay;  // finite, >= 0; empty: the optimizer's

    // Each returns a copy with one option set; a bad value throws
    // clr::invalid_parameter naming it.
    block_options with_lr_scale(double scale) const {
        block_options o = *this;
        o.lr_scale = clr::detail::require_rate("clr::optim::block_options", "lr_scale", scale);
        return o;
    }
    block_options with_weight_decay(double decay) const {
        block_options o = *this;
        o.weight_decay = clr::detail::require_rate("clr::optim::block_options", "weight_decay", decay);
        return o;
    }
};

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
    // index (the number used in checkpoint messages and options_of()).
    template <class P, class G>
    std::size_t add(P&& param, G&& grad, const block_options& options = block_options()) {
        using T = value_type;
        detail::check_block_type<T, P, true>();
        detail::check_block_type<T, G, false>();
        const std::string who = std::string(Derived::name) + "::add";
        // Checked here too: the fields can be set without the with_* calls.
        clr::detail::require_rate(who.c_str(), "lr_scale", options.lr_scale);
        if (options.weight_decay)
            clr::detail::require_rate(who.c_str(), "weight_decay", *options.weight_decay);
        detail::param_block<T> blk = detail::make_block<T, detail::is_writable_block<G>()>(who, param, grad);
        blk.lr_scale = options.lr_scale;
        blk.weight_decay = options.weight_decay.value_or(derived().options().weight_decay);
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            const auto& o = blocks_[b];
            // A block registered twice would be updated twice per step; a
            // parameter aliasing another block's gradient would change that
            // gradient halfway through a step.
            if (detail::overlaps<T>(blk.param, blk.size, o.param, o.size))
                throw std::invalid_argument(who + ": param overlaps the param of block " + std::to_string(b));
            if (detail::overlaps<T>(blk.param, blk.size, o.grad, o.size))
                throw std::invalid_argument(who + ": param overlaps the grad of block " + std::to_string(b));
            if (detail::overlaps<T>(blk.grad, blk.size, o.param, o.size))
                throw std::invalid_argument(who + ": grad overlaps the param of block " + std::to_string(b));
        }
        std::optional<std::size_t> shares_grad;
        for (std::size_t b = 0; b < blocks_.size() && !shares_grad; ++b)
            if (detail::overlaps<T>(blk.grad, blk.size, blocks_[b].grad, blocks_[b].size)) shares_grad = b;
        const std::size_t index = blocks_.size();
        const Eigen::Index tasks = (blk.size + detail::task_size - 1) / detail::task_size;
        blocks_.reserve(index + 1);
        options_.reserve(index + 1);
        states_.reserve(index + 1);
        tasks_.reserve(tasks_.size() + std::size_t(tasks));
        State s = derived().make_state(blk.size);
        // No reallocation after the reserves: the pushes succeed together.
        blocks_.push_back(blk);
        options_.push_back(options);
        states_.push_back(std::move(s));
        for (Eigen::Index i = 0; i < blk.size; i += detail::task_size)
            tasks_.push_back({index, i, std::min(detail::task_size, blk.size - i)});
        total_size_ += blk.size;
        if (shares_grad && !shared_grad_) shared_grad_ = std::pair{*shares_grad, index};
        return index;
    }

    // One update of every registered block with lr = schedule().lr(steps())
    // (times the block's lr_scale, and with the schedule's momentum if it
    // cycles one), then steps() + 1. The schedule's output is checked first:
    // on an error nothing changes. Throws std::overflow_error at steps() =
    // 2^62, the largest step counter a checkpoint holds.
    void step() {
        check_step();
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
    // The schedule's output and the blocks are checked before reduce is
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
        check_step();
        const auto who = [] { return std::string(Derived::name) + "::step(reduce)"; };
        for (std::size_t b = 0; b < blocks_.size(); ++b)
            if (!blocks_[b].grad_writable)
                throw std::invalid_argument(
                    who() + ": block " + std::to_string(b) +
                    "'s gradient was registered read-only (a const matrix or a Map of const), and "
                    "reduce must write to it; register writable storage");
        if (shared_grad_)
            throw std::invalid_argument(who() + ": blocks " + std::to_string(shared_grad_->first) + " and " +
                                        std::to_string(shared_grad_->second) +
                                        " share gradient storage, which reduce would reduce twice");
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

    // The learning rate the next step() will use (before each block's lr_scale).
    value_type lr() const noexcept(noexcept(std::declval<const Schedule&>().lr(step_t{}))) {
        return sched_.lr(t_);
    }

    // The learning rate the most recent step() applied (before each block's
    // lr_scale), as PyTorch's scheduler.get_last_lr() reports it. Empty
    // before the first step(): no rate has been applied yet, and any number
    // here (0, or the next rate) would read as one that was; lr() gives the
    // next one. Also empty after loading a version-1 checkpoint, which did
    // not record it, until the next step().
    std::optional<value_type> last_lr() const noexcept { return last_lr_; }

    // The momentum (sgd) or beta1 (adam, adamw) the most recent step()
    // applied: the schedule's when it cycles momentum, otherwise the
    // optimizer's option, as PyTorch's param_groups[0]["momentum"] or
    // ["betas"][0] reads after a step. Empty when last_lr() is.
    std::optional<value_type> last_momentum() const noexcept { return last_momentum_; }

    const Schedule& schedule() const noexcept { return sched_; }

    std::size_t num_blocks() const noexcept { return blocks_.size(); }

    // The options block b was registered with. Throws std::out_of_range.
    const block_options& options_of(std::size_t b) const {
        if (b >= options_.size())
            throw std::out_of_range(std::string(Derived::name) + "::options_of: block " + std::to_string(b) +
                                    ", " + std::to_string(options_.size()) + " registered");
        return options_[b];
    }

    // Writes the step counter, last_lr() and last_momentum(), the settings
    // (the schedule's text form, the optimizer's options, each block's
    // options) and every block's state, not the parameters (see
    // save_blocks), with a CRC-32C over the whole record. Throws
    // checkpoint_error if the stream fails, or if a block's state is not
    // finite (a diverged run), which load() would refuse.
    void save(std::ostream& out) const {
        const std::string who = std::string(Derived::name) + "::save";
        std::string problem;
        for (std::size_t b = 0; b < blocks_.size() && problem.empty(); ++b)
            problem = derived().state_problem(states_[b], blocks_[b].size, b);
        if (!problem.empty())
            throw checkpoint_error(who + ": " + problem +
                                   "; a diverged state is not saved, load() would refuse it");
        const std::string text = detail::schedule_text(sched_);
        if (text.size() > std::numeric_limits<std::uint32_t>::max())
            throw checkpoint_error(who + ": the schedule's text form is longer than 2^32 - 1 bytes");
        detail::checkpoint_writer counter(who);
        write_body(counter, text);
        detail::checkpoint_writer w(out, who);
        w.bytes(detail::optimizer_magic, 8);
        w.integer(detail::optimizer_version);
        w.integer(counter.count());
        write_body(w, text);
        w.integer(w.crc());
    }

    // Restores what save() wrote (format version 2, or version 1 of clr 0.1).
    // The same blocks (count and sizes, in order) must be registered, and an
    // optimizer of the same kind and scalar type. With resume::same_settings
    // the checkpoint's settings must also be the optimizer's: the schedule's
    // text form, clr::to_string (unless the checkpoint has none: a schedule
    // without a text form, a cyclic one with a user scale function or a class
    // of your own, or a version-1 file, cannot be checked), the optimizer's options
    // and every block's lr_scale and weight decay as applied. With
    // resume::new_settings they may differ, and the optimizer's stay.
    // Everything is read and checked (checksum first) before anything is
    // replaced: on checkpoint_error the optimizer is unchanged.
    void load(std::istream& in, resume settings = resume::same_settings) {
        detail::checkpoint_reader r(in, std::string(Derived::name) + "::load");
        const auto version =
            r.header(detail::optimizer_magic, "clr optimizer checkpoint", detail::optimizer_version);
        loaded l = version == 1 ? read_v1(r) : read_v2(r, settings);
        states_.swap(l.states);
        t_ = l.steps;
        last_lr_ = l.last_lr;
        last_momentum_ = l.last_momentum;
    }

protected:
    explicit optimizer(Schedule s) : sched_(std::move(s)) {}

    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
    const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

private:
    using T = value_type;

    struct loaded {
        step_t steps = 0;
        std::optional<T> last_lr, last_momentum;
        std::vector<State> states;
    };

    static T scaled(T lr, double scale) noexcept { return scale == 1.0 ? lr : T(double(lr) * scale); }

    // A thread's unit of work: elements [begin, begin + size) of one block.
    struct task {
        std::size_t block;
        Eigen::Index begin, size;
    };

    // Everything that may refuse the step, before anything changes.
    void check_step() const {
        if (t_ >= clr::detail::max_steps)
            throw std::overflow_error(
                std::string(Derived::name) +
                "::step: the step counter is at its limit, 2^62 (set_steps to a smaller one)");
        const T lr = sched_.lr(t_);
        if (!std::isfinite(lr) || lr < T(0))
            throw std::domain_error(
                std::string(Derived::name) + "::step: the schedule gives lr = " + clr::detail::to_text(lr) +
                " at step " + std::to_string(t_) + "; it must be finite and not negative");
        const std::optional<T> m = sched_.momentum(t_);
        if (m && !(std::isfinite(*m) && *m >= T(0) && *m < T(1)))
            throw std::domain_error(std::string(Derived::name) + "::step: the schedule gives " +
                                    Derived::momentum_name + " = " + clr::detail::to_text(*m) + " at step " +
                                    std::to_string(t_) + "; it must lie in [0, 1)");
        for (std::size_t b = 0; b < blocks_.size(); ++b)
            if (!(std::abs(double(lr) * blocks_[b].lr_scale) <= double(std::numeric_limits<T>::max())))
                throw std::domain_error(
                    std::string(Derived::name) + "::step: lr = " + clr::detail::to_text(lr) + " at step " +
                    std::to_string(t_) + " times block " + std::to_string(b) +
                    "'s lr_scale = " + clr::detail::to_text(blocks_[b].lr_scale) + " is not finite");
    }

    // Storage the step needs (only ever allocated here, and only by SGD for a
    // schedule that starts cycling momentum late) comes before any change.
    void reserve_states() {
        const std::optional<T> m = sched_.momentum(t_);
        for (std::size_t b = 0; b < blocks_.size(); ++b) derived().reserve(states_[b], blocks_[b].size, m);
    }

    // The update proper, after check_step(). Only reserve_states() may throw
    // (std::bad_alloc), before anything has changed; nothing after it does.
    void run_step() {
        reserve_states();
        const T lr = sched_.lr(t_);
        const std::optional<T> m = sched_.momentum(t_);
        for (std::size_t b = 0; b < blocks_.size(); ++b)
            derived().prepare(blocks_[b], states_[b], scaled(lr, blocks_[b].lr_scale), m);
        run_tasks();
        last_lr_ = lr;
        last_momentum_ = m ? *m : T(derived().momentum_option());
        ++t_;
    }

    void run_tasks() noexcept {
        const auto count = static_cast<std::ptrdiff_t>(tasks_.size());
#if defined(_OPENMP)
        int n = total_size_ < detail::parallel_threshold ? 1 : threads();
        if (n > 1) {
            // Tasks dealt round-robin: blocks end in short tasks, and dealing
            // them in turn splits the work evenly (the MNIST model's 41 tasks
            // within 0.3% over two threads, against 10% for contiguous
            // halves), while thread j still takes the same tasks every step.
            if (static_cast<std::ptrdiff_t>(n) > count) n = static_cast<int>(count);
#pragma omp parallel for schedule(static, 1) num_threads(n)
            for (std::ptrdiff_t i = 0; i < count; ++i) run_task(tasks_[std::size_t(i)]);
            return;
        }
#endif
        for (std::ptrdiff_t i = 0; i < count; ++i) run_task(tasks_[std::size_t(i)]);
    }

    void run_task(const task& k) noexcept {
        derived().update(blocks_[k.block], states_[k.block], k.begin, k.size);
    }

    static bool representable(double v) noexcept {
        return std::isfinite(v) && std::abs(v) <= double(std::numeric_limits<T>::max()) && double(T(v)) == v;
    }

    void write_body(detail::checkpoint_writer& w, const std::string& text) const {
        w.integer(static_cast<std::uint8_t>(sizeof(T)));
        w.integer(Derived::kind);
        w.integer(static_cast<std::uint64_t>(t_));
        w.integer(static_cast<std::uint8_t>((last_lr_ ? 1 : 0) | (last_momentum_ ? 2 : 0)));
        w.f64(last_lr_ ? double(*last_lr_) : 0.0);
        w.f64(last_momentum_ ? double(*last_momentum_) : 0.0);
        const auto opts = derived().option_values();
        w.integer(static_cast<std::uint8_t>(opts.size()));
        for (const auto& o : opts) w.f64(o.value);
        w.integer(static_cast<std::uint32_t>(text.size()));
        w.bytes(text.data(), text.size());
        w.integer(static_cast<std::uint64_t>(blocks_.size()));
        for (const auto& b : blocks_) {
            w.integer(static_cast<std::uint64_t>(b.size));
            w.f64(b.lr_scale);
            w.f64(b.weight_decay);
        }
        for (std::size_t b = 0; b < blocks_.size(); ++b)
            derived().write_state(w, states_[b], blocks_[b].size);
    }

    static std::string block_setting(std::size_t b, const char* name) {
        return "block " + std::to_string(b) + "'s " + name;
    }

    [[noreturn]] static void refuse_change(const detail::checkpoint_reader& r, const std::string& setting,
                                           const std::string& saved, const std::string& current) {
        r.fail(setting + " differs: the checkpoint's is " + saved + ", this optimizer's is " + current +
               "; load with clr::optim::resume::new_settings if the change is intended");
    }

    void read_kind(detail::checkpoint_reader& r) const {
        const auto kind = r.template integer<std::uint8_t>("the optimizer kind");
        if (kind != Derived::kind) {
            const char* other = detail::optimizer_kind_name(kind);
            if (!other) r.fail("unknown optimizer kind " + std::to_string(kind) + " in the checkpoint");
            r.fail(std::string("checkpoint was written by ") + other + ", not " + Derived::name);
        }
    }

    static step_t read_steps(detail::checkpoint_reader& r) {
        const auto t = r.template integer<std::uint64_t>("the step counter");
        if (t > clr::detail::max_steps)
            r.fail("step counter " + std::to_string(t) + " is larger than 2^62 (damaged file?)");
        return static_cast<step_t>(t);
    }

    std::vector<State> read_states(detail::checkpoint_reader& r) const {
        std::vector<State> staged;
        staged.reserve(blocks_.size());
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            staged.push_back(derived().read_state(r, blocks_[b].size, b));
            const std::string problem = derived().state_problem(staged.back(), blocks_[b].size, b);
            if (!problem.empty()) r.fail(problem + " (damaged file?)");
        }
        return staged;
    }

    loaded read_v1(detail::checkpoint_reader& r) const {
        loaded l;
        r.scalar_size(sizeof(T));
        read_kind(r);
        l.steps = read_steps(r);
        r.block_sizes(blocks_.size(), [&](std::size_t b) { return blocks_[b].size; });
        l.states = read_states(r);
        return l;
    }

    loaded read_v2(detail::checkpoint_reader& r, resume settings) const {
        const auto length = r.template integer<std::uint64_t>("the record length");
        const std::string body = r.text(length, "the record");
        const std::uint32_t computed = r.crc();
        const auto stored = r.template integer<std::uint32_t>("the checksum");
        if (stored != computed)
            r.fail("checksum mismatch (the record says " + detail::hex32(stored) + ", its bytes give " +
                   detail::hex32(computed) + "): the checkpoint is damaged");

        detail::checkpoint_reader b(body.data(), body.size(), r.who());
        loaded l;
        b.scalar_size(sizeof(T));
        read_kind(b);
        l.steps = read_steps(b);
        const auto flags = b.template integer<std::uint8_t>("the last-step flags");
        if (flags > 3)
            b.fail("last-step flags are " + std::to_string(flags) + ", not 0 to 3 (damaged file?)");
        const double lr = b.f64("last_lr"), m = b.f64("last_momentum");
        if ((flags & 1) ? !(representable(lr) && lr >= 0.0) : lr != 0.0)
            b.fail("last_lr = " + clr::detail::to_text(lr) +
                   " is not a rate this optimizer applies (damaged file?)");
        if ((flags & 2) ? !(representable(m) && m >= 0.0 && m < 1.0) : m != 0.0)
            b.fail("last_momentum = " + clr::detail::to_text(m) +
                   " is not a momentum in [0, 1) (damaged file?)");
        if (flags & 1) l.last_lr = T(lr);
        if (flags & 2) l.last_momentum = T(m);

        const auto opts = derived().option_values();
        const auto count = b.template integer<std::uint8_t>("the option count");
        if (count != opts.size())
            b.fail("checkpoint has " + std::to_string(count) + " optimizer options, " + Derived::name +
                   " has " + std::to_string(opts.size()) + " (damaged file?)");
        std::array<double, std::tuple_size_v<decltype(opts)>> saved_opts{};
        for (std::size_t i = 0; i < opts.size(); ++i)
            saved_opts[i] = b.f64(std::string("option ") + opts[i].name);
        const auto text_length = b.template integer<std::uint32_t>("the length of the schedule text");
        const std::string text = b.text(text_length, "the schedule text");

        b.block_count(blocks_.size());
        std::vector<std::pair<double, double>> saved_blocks(blocks_.size());
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            b.block_size(i, blocks_[i].size);
            const std::string where = "block " + std::to_string(i);
            const double scale = b.f64("the lr_scale of " + where),
                         wd = b.f64("the weight decay of " + where);
            if (!(std::isfinite(scale) && scale >= 0.0 && std::isfinite(wd) && wd >= 0.0))
                b.fail("options of " + where + " are lr_scale = " + clr::detail::to_text(scale) +
                       ", weight decay = " + clr::detail::to_text(wd) + " (damaged file?)");
            saved_blocks[i] = {scale, wd};
        }
        l.states = read_states(b);
        if (b.remaining() != 0)
            b.fail("record has " + std::to_string(b.remaining()) +
                   " bytes after the last state (damaged file?)");

        if (settings == resume::same_settings) {
            const std::string current = detail::schedule_text(sched_);
            if (!text.empty() && text != current)
                refuse_change(b, "the schedule", text, current.empty() ? "one without a text form" : current);
            for (std::size_t i = 0; i < opts.size(); ++i)
                if (!(saved_opts[i] == opts[i].value))
                    refuse_change(b, opts[i].name, clr::detail::to_text(saved_opts[i]),
                                  clr::detail::to_text(opts[i].value));
            for (std::size_t i = 0; i < blocks_.size(); ++i) {
                if (!(saved_blocks[i].first == blocks_[i].lr_scale))
                    refuse_change(b, block_setting(i, "lr_scale"),
                                  clr::detail::to_text(saved_blocks[i].first),
                                  clr::detail::to_text(blocks_[i].lr_scale));
                if (!(saved_blocks[i].second == blocks_[i].weight_decay))
                    refuse_change(b, block_setting(i, "weight decay"),
                                  clr::detail::to_text(saved_blocks[i].second),
                                  clr::detail::to_text(blocks_[i].weight_decay));
            }
        }
        return l;
    }

    Schedule sched_;
    step_t t_ = 0;
    std::optional<T> last_lr_, last_momentum_;
    std::vector<detail::param_block<T>> blocks_;
    std::vector<block_options> options_;
    std::vector<State> states_;
    std::vector<task> tasks_;
    Eigen::Index total_size_ = 0;
    int threads_ = 1;  // the calling thread alone until set_threads()
    std::optional<std::pair<std::size_t, std::size_t>> shared_grad_;
};

}  // namespace clr::optim

#endif  // CLR_OPTIM_OPTIMIZER_HPP
