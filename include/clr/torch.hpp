// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// clr schedules driving libtorch's optimizers (the C++ frontend of PyTorch,
// tested with 1.13), which ship only StepLR and ReduceLROnPlateau:
//
//     #include <clr/torch.hpp>
//     torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
//     clr::torch::scheduler sched(opt, clr::triangular<double>(1e-3, 6e-3, 2000).with_momentum(0.85, 0.95));
//     for (...) { loss.backward(); opt.step(); sched.step(); }   // PyTorch's order
//
// Not included by <clr/clr.hpp>: it needs libtorch (CMake: find_package(clr
// COMPONENTS torch), target clr::torch). It includes <clr/clr.hpp> itself.
//
// What the scheduler does, as PyTorch's schedulers do:
//   - construction applies lr(0) to every parameter group (and the
//     schedule's momentum(0), when it cycles momentum);
//   - step() counts one update and applies lr(steps()) (and momentum);
//   - last_lr() is the rate now in each group, get_last_lr().
// The cycled momentum goes where PyTorch's OneCycleLR puts it: SGD's and
// RMSprop's `momentum`, Adam's and AdamW's beta1 (beta2 is kept). Any other
// optimizer (Adagrad, LBFGS, one of your own) takes schedules that leave
// momentum alone, and refuses one that cycles it.
//
// Parameter groups: every group gets the schedule's rate times its scale,
// 1 unless given (scheduler(opt, schedule, {1.0, 0.1}) runs the second group
// at a tenth of the first's rate: PyTorch's CyclicLR with base_lr and max_lr
// lists in that ratio). group_lr_ratios(opt) reads the ratios off the
// optimizer's own rates, each group's relative to the first's. The momentum
// is the same for every group.
//
// Checkpoints: the step count, the schedule's text form (clr::to_string) and
// the group scales go into a torch::serialize archive, next to the
// optimizer's own:
//     torch::save(opt, "opt.pt");   torch::save(sched, "sched.pt");
//     torch::load(opt, "opt.pt");   torch::load(sched, "sched.pt");
// A load under a different schedule or different scales is refused
// (clr::torch::checkpoint_error, showing both) unless asked for with
// sched.load(archive, clr::torch::resume::new_settings).
#ifndef CLR_TORCH_HPP
#define CLR_TORCH_HPP

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "clr.hpp"

namespace clr::torch {

// Thrown by load() for an archive that is not a scheduler's, is damaged, or
// was written under other settings (schedule, group scales, group count).
class checkpoint_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What load() does when the archive's schedule or group scales differ from
// the scheduler's (the names of clr::optim::resume).
enum class resume {
    same_settings,  // refuse, with a checkpoint_error that shows both
    new_settings,   // the change is intended: keep the current settings, load the step count
};

// Which option of an optimizer a cycled momentum sets.
enum class momentum_slot {
    none,      // the optimizer has no momentum a schedule may set
    momentum,  // SGD, RMSprop: options().momentum()
    beta1,     // Adam, AdamW: std::get<0>(options().betas())
};

namespace detail {

inline momentum_slot slot_of(const ::torch::optim::OptimizerOptions& o) noexcept {
    if (dynamic_cast<const ::torch::optim::SGDOptions*>(&o)) return momentum_slot::momentum;
    if (dynamic_cast<const ::torch::optim::RMSpropOptions*>(&o)) return momentum_slot::momentum;
    if (dynamic_cast<const ::torch::optim::AdamOptions*>(&o)) return momentum_slot::beta1;
    if (dynamic_cast<const ::torch::optim::AdamWOptions*>(&o)) return momentum_slot::beta1;
    return momentum_slot::none;
}

inline void set_momentum(::torch::optim::OptimizerOptions& o, double m) {
    if (auto* sgd = dynamic_cast<::torch::optim::SGDOptions*>(&o)) {
        sgd->momentum(m);
    } else if (auto* rms = dynamic_cast<::torch::optim::RMSpropOptions*>(&o)) {
        rms->momentum(m);
    } else if (auto* adam = dynamic_cast<::torch::optim::AdamOptions*>(&o)) {
        adam->betas(std::make_tuple(m, std::get<1>(adam->betas())));
    } else if (auto* adamw = dynamic_cast<::torch::optim::AdamWOptions*>(&o)) {
        adamw->betas(std::make_tuple(m, std::get<1>(adamw->betas())));
    }
}

inline const char* group_key() noexcept { return "clr_scheduler"; }
inline constexpr std::int64_t format_version = 1;

}  // namespace detail

// Each group's rate relative to the first group's, read off the optimizer as
// it stands (for CyclicLR-style per-group rates: build the optimizer with the
// groups' rates in the ratio you want, then
// scheduler(opt, schedule, group_lr_ratios(opt))). Throws
// std::invalid_argument if the first group's rate is 0 or there is no group.
inline std::vector<double> group_lr_ratios(const ::torch::optim::Optimizer& opt) {
    const auto& groups = opt.param_groups();
    if (groups.empty())
        throw std::invalid_argument("clr::torch::group_lr_ratios: the optimizer has no parameter group");
    const double first = groups.front().options().get_lr();
    if (!(std::isfinite(first) && first > 0.0))
        throw std::invalid_argument("clr::torch::group_lr_ratios: the first group's lr = " +
                                    clr::detail::to_text(first) + " is not a positive number to divide by");
    std::vector<double> r;
    r.reserve(groups.size());
    for (const auto& g : groups) r.push_back(g.options().get_lr() / first);
    return r;
}

template <class Schedule>
class scheduler {
    static_assert(clr::is_schedule_v<Schedule>, "clr::torch::scheduler: the schedule must be a clr schedule");

public:
    using schedule_type = Schedule;
    using value_type = typename Schedule::value_type;

    // Drives `opt`, which must outlive the scheduler (it keeps a reference,
    // as PyTorch's schedulers do). group_scales: one per parameter group, or
    // empty for 1 everywhere. Applies lr(0), and momentum(0) if the
    // schedule cycles it. Throws std::invalid_argument for an optimizer
    // without parameter groups, a scale count other than the group count, a
    // scale that is negative or not finite, or a momentum-cycling schedule
    // on an optimizer without a momentum to cycle; std::domain_error if the
    // schedule's value is no rate (see step()).
    scheduler(::torch::optim::Optimizer& opt, Schedule s, std::vector<double> group_scales = {})
        : opt_(&opt),
          sched_(std::move(s)),
          scales_(std::move(group_scales)) {
        const std::size_t n = opt_->param_groups().size();
        if (n == 0)
            throw std::invalid_argument("clr::torch::scheduler: the optimizer has no parameter group");
        if (scales_.empty()) scales_.assign(n, 1.0);
        if (scales_.size() != n)
            throw std::invalid_argument("clr::torch::scheduler: " + std::to_string(scales_.size()) +
                                        " group scales for an optimizer with " + std::to_string(n) +
                                        " parameter groups");
        for (std::size_t g = 0; g < n; ++g) {
            const std::string name = "group_scales[" + std::to_string(g) + "]";
            clr::detail::require_rate("clr::torch::scheduler", name.c_str(), scales_[g]);
        }
        apply(0, "clr::torch::scheduler");
    }

    // One update done: steps() + 1, and lr(steps()) (times each group's
    // scale) and the momentum, if cycled, go into the optimizer. Call it
    // after opt.step(), as in PyTorch. The schedule's values are checked
    // first (a finite rate >= 0, a momentum in [0, 1)); on an error
    // (std::domain_error; std::invalid_argument for a momentum the
    // optimizer has no place for, where a composed schedule starts cycling
    // one; std::logic_error if the optimizer's group count changed) nothing
    // changes.
    void step() {
        if (t_ >= clr::detail::max_steps)
            throw std::overflow_error("clr::torch::scheduler::step: the step counter is at its limit, 2^62");
        apply(t_ + 1, "clr::torch::scheduler::step");
    }

    // Updates counted so far (PyTorch's last_epoch): the optimizer holds
    // the rate for update steps() + 1, lr(steps()).
    step_t steps() const noexcept { return t_; }

    // Moves to step n and applies lr(n) (and momentum): to resume where a run
    // stopped without an archive. Throws as step() does.
    void set_steps(step_t n) {
        if (n > clr::detail::max_steps)
            clr::detail::fail("clr::torch::scheduler::set_steps", "steps", clr::detail::to_text(n),
                              "is larger than 2^62 (a negative number converted to unsigned?)");
        apply(n, "clr::torch::scheduler::set_steps");
    }

    // The rate now in each parameter group, as get_last_lr() gives it.
    const std::vector<double>& last_lr() const noexcept { return last_lr_; }

    // The momentum (SGD, RMSprop) or beta1 (Adam, AdamW) the scheduler last
    // set in every group; empty when the schedule did not cycle momentum at
    // this step.
    std::optional<double> last_momentum() const noexcept { return last_momentum_; }

    const Schedule& schedule() const noexcept { return sched_; }
    const std::vector<double>& group_scales() const noexcept { return scales_; }
    ::torch::optim::Optimizer& optimizer() const noexcept { return *opt_; }

    // Writes the step count, the schedule's text form (empty for a schedule
    // without one) and the group scales, under the key "clr_scheduler".
    void save(::torch::serialize::OutputArchive& archive) const {
        ::torch::serialize::OutputArchive a;
        a.write("format", c10::IValue(detail::format_version));
        a.write("steps", c10::IValue(static_cast<std::int64_t>(t_)));
        a.write("schedule", c10::IValue(clr::detail::text_or_empty(sched_)));
        a.write("group_scales", c10::IValue(scales_));
        archive.write(detail::group_key(), a);
    }

    // Restores what save() wrote and applies lr(steps()) (and momentum) to
    // the optimizer, which may be loaded before or after. The group count
    // must match; with resume::same_settings the schedule's text form
    // (unless the archive has none: a schedule without a text form cannot be
    // checked) and the scales must too. Throws checkpoint_error, leaving the
    // scheduler unchanged.
    void load(::torch::serialize::InputArchive& archive, resume settings = resume::same_settings) {
        const std::string who = "clr::torch::scheduler::load: ";
        ::torch::serialize::InputArchive a;
        if (!archive.try_read(detail::group_key(), a))
            throw checkpoint_error(who + "the archive has no '" + detail::group_key() +
                                   "' entry: it was not written by clr::torch::scheduler::save");
        auto read = [&](const char* key) {
            c10::IValue v;
            bool found = false;
            try {
                found = a.try_read(key, v);
            } catch (const c10::Error&) {
                found = false;
            }
            if (!found)
                throw checkpoint_error(who + "the archive's scheduler entry has no '" + key +
                                       "' (damaged file?)");
            return v;
        };
        const c10::IValue format = read("format"), steps = read("steps"), text = read("schedule"),
                          scales = read("group_scales");
        if (!format.isInt() || format.toInt() != detail::format_version)
            throw checkpoint_error(who + "scheduler format " +
                                   (format.isInt() ? std::to_string(format.toInt()) : "?") +
                                   ", this build reads format " + std::to_string(detail::format_version));
        if (!steps.isInt() || steps.toInt() < 0 ||
            static_cast<std::uint64_t>(steps.toInt()) > clr::detail::max_steps)
            throw checkpoint_error(who + "the step count is not a number in [0, 2^62] (damaged file?)");
        if (!text.isString()) throw checkpoint_error(who + "the schedule entry is not text (damaged file?)");
        if (!scales.isDoubleList())
            throw checkpoint_error(who + "the group scales are not a list of numbers (damaged file?)");
        const std::vector<double> saved_scales = scales.toDoubleVector();
        const std::string& saved_text = text.toStringRef();
        const step_t n = static_cast<step_t>(steps.toInt());

        if (saved_scales.size() != scales_.size())
            throw checkpoint_error(who + "the archive is of a scheduler of " +
                                   std::to_string(saved_scales.size()) +
                                   " parameter groups, this one drives " + std::to_string(scales_.size()));
        const auto bad = std::find_if(saved_scales.begin(), saved_scales.end(),
                                      [](double s) { return !(std::isfinite(s) && s >= 0.0); });
        if (bad != saved_scales.end())
            throw checkpoint_error(who + "a group scale is " + clr::detail::to_text(*bad) +
                                   " (damaged file?)");
        if (settings == resume::same_settings) {
            const std::string hint = "; load with clr::torch::resume::new_settings if the change is intended";
            const std::string current = clr::detail::text_or_empty(sched_);
            if (!saved_text.empty() && saved_text != current)
                throw checkpoint_error(
                    who + "the schedule differs: the archive's is " + saved_text + ", this scheduler's is " +
                    (current.empty() ? std::string("one without a text form") : current) + hint);
            std::size_t g = 0;
            while (g < scales_.size() && saved_scales[g] == scales_[g]) ++g;
            if (g < scales_.size())
                throw checkpoint_error(who + "group " + std::to_string(g) +
                                       "'s scale differs: the archive's is " +
                                       clr::detail::to_text(saved_scales[g]) + ", this scheduler's is " +
                                       clr::detail::to_text(scales_[g]) + hint);
        }
        apply(n, "clr::torch::scheduler::load");
    }

private:
    // Computes every value of step n, checks them, then writes them all.
    void apply(step_t n, const char* who) {
        auto& groups = opt_->param_groups();
        if (groups.size() != scales_.size())
            throw std::logic_error(std::string(who) + ": the optimizer has " + std::to_string(groups.size()) +
                                   " parameter groups, the scheduler was built for " +
                                   std::to_string(scales_.size()));
        const value_type lr = sched_.lr(n);
        if (!std::isfinite(lr) || lr < value_type(0))
            throw std::domain_error(std::string(who) +
                                    ": the schedule gives lr = " + clr::detail::to_text(lr) + " at step " +
                                    std::to_string(n) + "; it must be finite and not negative");
        const std::optional<value_type> m = sched_.momentum(n);
        if (m) {
            if (!(std::isfinite(*m) && *m >= value_type(0) && *m < value_type(1)))
                throw std::domain_error(std::string(who) +
                                        ": the schedule gives momentum = " + clr::detail::to_text(*m) +
                                        " at step " + std::to_string(n) + "; it must lie in [0, 1)");
            std::size_t g = 0;
            while (g < groups.size() && detail::slot_of(groups[g].options()) != momentum_slot::none) ++g;
            if (g < groups.size())
                throw std::invalid_argument(
                    std::string(who) + ": the schedule cycles momentum (" + clr::detail::to_text(*m) +
                    " at step " + std::to_string(n) + "), and parameter group " + std::to_string(g) +
                    "'s optimizer has no momentum to cycle: SGD and RMSprop take it as momentum, Adam and "
                    "AdamW as beta1; give this optimizer a schedule without .with_momentum");
        }
        std::vector<double> rates(groups.size());
        std::size_t g = 0;
        for (; g < groups.size(); ++g) {
            rates[g] = scales_[g] == 1.0 ? double(lr) : double(lr) * scales_[g];
            if (!std::isfinite(rates[g])) break;
        }
        if (g < groups.size())
            throw std::domain_error(std::string(who) + ": lr = " + clr::detail::to_text(lr) + " at step " +
                                    std::to_string(n) + " times group " + std::to_string(g) +
                                    "'s scale = " + clr::detail::to_text(scales_[g]) + " is not finite");
        for (std::size_t i = 0; i < groups.size(); ++i) {
            groups[i].options().set_lr(rates[i]);
            if (m) detail::set_momentum(groups[i].options(), double(*m));
        }
        t_ = n;
        last_lr_ = std::move(rates);
        last_momentum_ = m ? std::optional<double>(double(*m)) : std::nullopt;
    }

    ::torch::optim::Optimizer* opt_;
    Schedule sched_;
    std::vector<double> scales_;
    step_t t_ = 0;
    std::vector<double> last_lr_;
    std::optional<double> last_momentum_;
};

template <class S>
scheduler(::torch::optim::Optimizer&, S) -> scheduler<S>;
template <class S>
scheduler(::torch::optim::Optimizer&, S, std::vector<double>) -> scheduler<S>;

// torch::save(sched, path) and torch::load(sched, path), as for optimizers.
template <class S>
::torch::serialize::OutputArchive& operator<<(::torch::serialize::OutputArchive& archive,
                                              const scheduler<S>& s) {
    s.save(archive);
    return archive;
}

template <class S>
::torch::serialize::InputArchive& operator>>(::torch::serialize::InputArchive& archive, scheduler<S>& s) {
    s.load(archive);
    return archive;
}

}  // namespace clr::torch

#endif  // CLR_TORCH_HPP
