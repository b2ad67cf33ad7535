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
// the group scales go into a torch::serialize archive as one record with a
// CRC-32C, next to the optimizer's own:
//     torch::save(opt, "opt.pt");   torch::save(sched, "sched.pt");
//     torch::load(opt, "opt.pt");   torch::load(sched, "sched.pt");
// A load under a different schedule or different scales is refused
// (clr::torch::checkpoint_error, showing both) unless asked for with
// sched.load(archive, clr::torch::resume::new_settings); so is a damaged
// record, before any of its fields is used.
//
// Checked files: the record's checksum covers the scheduler's values only.
// libtorch 1.13's reader does not check the CRC-32s of the zip entries its
// archives are made of, and on a damaged file it can crash (a segmentation
// fault, for 1 in 100 to 1 in 250 single-bit flips of a saved scheduler or
// optimizer, varying from run to run) or load wrong values (an optimizer's
// momentum, say) before clr sees anything. clr::torch::save(value, path)
// writes what torch::save does (a module, an optimizer, tensors, a
// scheduler, an archive of your own) and ends the file with a CRC-32C of all
// of it, in the zip comment, which torch::load (and unzip, and Python's
// zipfile) read past; clr::torch::check_checkpoint(path) verifies it without
// libtorch, and clr::torch::load(value, path) checks, then loads:
//     clr::torch::save(model, "model.pt");   clr::torch::save(sched, "sched.pt");
//     clr::torch::load(model, "model.pt");   clr::torch::load(sched, "sched.pt");
#ifndef CLR_TORCH_HPP
#define CLR_TORCH_HPP

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "clr.hpp"
#include "detail/crc32c.hpp"

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

// The scheduler's record, format 2: one byte string under the key "record",
// all little-endian:
//     8 bytes "CLRSCHED", u32 version = 2, u64 step count,
//     u64 length L and L bytes of the schedule's text form (L = 0 for a
//     schedule without one), u64 group count G and G f64 group scales,
//     then a u32 CRC-32C of every byte before it.
// One string rather than a field per value, so that the checksum covers
// exactly the bytes stored, and libtorch's unpickler, which checks a
// string's length against its input, is all that reads them before clr.
// Format 1 (the fields "format" = 1, "steps", "schedule", "group_scales",
// no checksum) still loads.
inline constexpr std::uint32_t format_version = 2;
inline constexpr char record_magic[9] = "CLRSCHED";
// Magic, version, step count, text length, group count, checksum.
inline constexpr std::size_t record_min_size = 8 + 4 + 8 + 8 + 8 + 4;

class record_writer {
public:
    template <class U>
    void integer(U v) {
        static_assert(std::is_unsigned_v<U>);
        for (std::size_t i = 0; i < sizeof(U); ++i) bytes_ += static_cast<char>((v >> (8 * i)) & 0xFFu);
    }
    void f64(double v) {
        std::uint64_t bits;
        std::memcpy(&bits, &v, 8);
        integer(bits);
    }
    void text(const std::string& t) { bytes_ += t; }

    // The record with its checksum appended.
    std::string sealed() && {
        clr::detail::crc32c crc;
        crc.update(bytes_.data(), bytes_.size());
        integer(crc.value());
        return std::move(bytes_);
    }

private:
    std::string bytes_;
};

// Reads a record whose checksum has been checked: every read is still
// bounded by the record's length, and a field that does not fit names itself.
class record_reader {
public:
    record_reader(const std::string& record, std::size_t end, std::string who)
        : p_(record.data()),
          left_(end),
          who_(std::move(who)) {}

    [[noreturn]] void fail(const std::string& problem) const { throw checkpoint_error(who_ + problem); }

    template <class U>
    U integer(const char* what) {
        static_assert(std::is_unsigned_v<U>);
        need(sizeof(U), what);
        U v = 0;
        for (std::size_t i = 0; i < sizeof(U); ++i)
            v |= static_cast<U>(static_cast<unsigned char>(p_[i])) << (8 * i);
        skip(sizeof(U));
        return v;
    }
    double f64(const char* what) {
        const auto bits = integer<std::uint64_t>(what);
        double v;
        std::memcpy(&v, &bits, 8);
        return v;
    }
    std::string text(std::uint64_t n, const char* what) {
        if (n > left_) fail(std::string("the record is too short for ") + what + " (damaged file?)");
        std::string t(p_, static_cast<std::size_t>(n));
        skip(static_cast<std::size_t>(n));
        return t;
    }
    std::size_t left() const noexcept { return left_; }

private:
    void need(std::size_t n, const char* what) const {
        if (n > left_) fail(std::string("the record is too short for ") + what + " (damaged file?)");
    }
    void skip(std::size_t n) noexcept {
        p_ += n;
        left_ -= n;
    }

    const char* p_;
    std::size_t left_;
    std::string who_;
};

// What a scheduler's record holds, read and checked for damage (not yet
// against the scheduler loading it).
struct saved_state {
    step_t steps = 0;
    std::string text;
    std::vector<double> scales;
};

inline std::uint32_t stored_crc(const std::string& record) noexcept {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i)
        v |= static_cast<std::uint32_t>(static_cast<unsigned char>(record[record.size() - 4 + i])) << (8 * i);
    return v;
}

// Format 2: the checksum first, then the fields, each within the record.
inline saved_state read_record(const std::string& record, const std::string& who) {
    if (record.size() < record_min_size)
        throw checkpoint_error(who + "the scheduler record is " + std::to_string(record.size()) +
                               " bytes, shorter than any (damaged file?)");
    clr::detail::crc32c crc;
    crc.update(record.data(), record.size() - 4);
    const std::uint32_t stored = stored_crc(record);
    if (stored != crc.value())
        throw checkpoint_error(who + "checksum mismatch in the scheduler record (the record says " +
                               clr::detail::hex32(stored) + ", its bytes give " +
                               clr::detail::hex32(crc.value()) + "): the archive is damaged");
    record_reader r(record, record.size() - 4, who);
    if (r.text(8, "the magic tag") != record_magic)
        r.fail(std::string("the scheduler record does not start with \"") + record_magic + "\"");
    const auto version = r.integer<std::uint32_t>("the format version");
    if (version != format_version)
        r.fail("scheduler record version " + std::to_string(version) + ", this build reads versions 1 and " +
               std::to_string(format_version));
    saved_state s;
    s.steps = r.integer<std::uint64_t>("the step count");
    if (s.steps > clr::detail::max_steps)
        r.fail("the step count " + std::to_string(s.steps) + " is larger than 2^62 (damaged file?)");
    const auto length = r.integer<std::uint64_t>("the schedule's length");
    s.text = r.text(length, "the schedule's text form");
    const auto groups = r.integer<std::uint64_t>("the group count");
    if (groups > r.left() / 8)
        r.fail("the record is too short for its " + std::to_string(groups) + " group scales (damaged file?)");
    s.scales.reserve(static_cast<std::size_t>(groups));
    for (std::uint64_t g = 0; g < groups; ++g) s.scales.push_back(r.f64("a group scale"));
    if (r.left() != 0)
        r.fail("the scheduler record has " + std::to_string(r.left()) + (r.left() == 1 ? " byte" : " bytes") +
               " after its group scales (damaged file?)");
    return s;
}

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
    // without one) and the group scales, as one record with a CRC-32C (the
    // layout is at clr::torch::detail::format_version), under the key
    // "clr_scheduler".
    void save(::torch::serialize::OutputArchive& archive) const {
        const std::string text = clr::detail::text_or_empty(sched_);
        detail::record_writer w;
        w.text(detail::record_magic);
        w.integer(detail::format_version);
        w.integer(static_cast<std::uint64_t>(t_));
        w.integer(static_cast<std::uint64_t>(text.size()));
        w.text(text);
        w.integer(static_cast<std::uint64_t>(scales_.size()));
        for (double s : scales_) w.f64(s);
        ::torch::serialize::OutputArchive a;
        a.write("record", c10::IValue(std::move(w).sealed()));
        archive.write(detail::group_key(), a);
    }

    // Restores what save() wrote and applies lr(steps()) (and momentum) to
    // the optimizer, which may be loaded before or after. The record's
    // checksum is checked before any of its fields is used (a record of
    // format 1, which had none, is read as it was). The group count must
    // match; with resume::same_settings the schedule's text form (unless the
    // archive has none: a schedule without a text form cannot be checked)
    // and the scales must too. Throws checkpoint_error, leaving the
    // scheduler unchanged.
    void load(::torch::serialize::InputArchive& archive, resume settings = resume::same_settings) {
        const std::string who = "clr::torch::scheduler::load: ";
        ::torch::serialize::InputArchive a;
        if (!archive.try_read(detail::group_key(), a))
            throw checkpoint_error(who + "the archive has no '" + detail::group_key() +
                                   "' entry: it was not written by clr::torch::scheduler::save");
        const detail::saved_state saved = read_saved(a, who);
        const std::vector<double>& saved_scales = saved.scales;
        const std::string& saved_text = saved.text;

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
        apply(saved.steps, "clr::torch::scheduler::load");
    }

private:
    // The scheduler entry's record (format 2), or its fields (format 1),
    // checked for damage.
    static detail::saved_state read_saved(::torch::serialize::InputArchive& a, const std::string& who) {
        // A damaged archive can make try_read throw as well as return false.
        auto read = [&](const char* key, c10::IValue& v) {
            try {
                return a.try_read(key, v);
            } catch (const c10::Error&) {
                return false;
            }
        };
        c10::IValue record, format;
        if (read("record", record)) {
            if (!record.isString())
                throw checkpoint_error(who + "the scheduler record is not a byte string (damaged file?)");
            return detail::read_record(record.toStringRef(), who);
        }
        if (!read("format", format) || (format.isInt() && format.toInt() == detail::format_version))
            throw checkpoint_error(who + "the archive's scheduler entry has no 'record' (damaged file?)");
        if (!format.isInt() || format.toInt() != 1)
            throw checkpoint_error(
                who + "scheduler format " + (format.isInt() ? std::to_string(format.toInt()) : "?") +
                ", this build reads formats 1 and " + std::to_string(detail::format_version));
        auto field = [&](const char* key) {
            c10::IValue v;
            if (!read(key, v))
                throw checkpoint_error(who + "the archive's scheduler entry has no '" + key +
                                       "' (damaged file?)");
            return v;
        };
        const c10::IValue steps = field("steps"), text = field("schedule"), scales = field("group_scales");
        if (!steps.isInt() || steps.toInt() < 0 ||
            static_cast<std::uint64_t>(steps.toInt()) > clr::detail::max_steps)
            throw checkpoint_error(who + "the step count is not a number in [0, 2^62] (damaged file?)");
        if (!text.isString()) throw checkpoint_error(who + "the schedule entry is not text (damaged file?)");
        if (!scales.isDoubleList())
            throw checkpoint_error(who + "the group scales are not a list of numbers (damaged file?)");
        return {static_cast<step_t>(steps.toInt()), text.toStringRef(), scales.toDoubleVector()};
    }

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

namespace detail {

// A checked file is what libtorch writes, a zip archive, whose end record (the
// last 22 bytes, the comment length last, 0 as libtorch leaves it) is given a
// comment of 19 bytes: "clr-crc32c " and the CRC-32C of every byte before the
// comment in 8 lowercase hex digits (lowercase only, so that no flipped bit
// of a digit reads as the same value).
inline constexpr std::size_t zip_end_size = 22;
inline constexpr char file_tag[] = "clr-crc32c ";
inline constexpr std::size_t file_tag_size = sizeof(file_tag) - 1;
inline constexpr std::size_t file_comment_size = file_tag_size + 8;

inline bool is_zip_end(const std::string& b, std::size_t at, std::size_t comment) noexcept {
    return b.compare(at, 4, "PK\x05\x06") == 0 &&
           static_cast<unsigned char>(b[at + 20]) == (comment & 0xFFu) &&
           static_cast<unsigned char>(b[at + 21]) == (comment >> 8);
}

// Passes bytes on in order, holding back the last `keep` of them: the end of
// a file read or written in pieces of any size.
class held_back {
public:
    explicit held_back(std::size_t keep) : keep_(keep) {}

    template <class Emit>
    void feed(const char* p, std::size_t n, Emit&& emit) {
        if (tail_.size() + n <= keep_) {
            tail_.append(p, n);
        } else if (n >= keep_) {
            if (!tail_.empty()) emit(tail_.data(), tail_.size());
            emit(p, n - keep_);
            tail_.assign(p + (n - keep_), keep_);
        } else {
            const std::size_t out = tail_.size() + n - keep_;
            emit(tail_.data(), out);
            tail_.erase(0, out);
            tail_.append(p, n);
        }
    }
    std::string& tail() noexcept { return tail_; }

private:
    std::size_t keep_;
    std::string tail_;
};

using file_ptr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// libtorch's archive, streamed into `path` through save_to(writer), sealed.
template <class SaveTo>
void write_checked(const std::string& path, SaveTo save_to) {
    const std::string who = "clr::torch::save: " + path + ": ";
    file_ptr f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) throw checkpoint_error(who + "cannot open for writing: " + std::strerror(errno));
    clr::detail::crc32c crc;
    held_back end(zip_end_size);
    int error = 0;
    auto put = [&](const char* p, std::size_t n) {
        crc.update(p, n);
        if (error == 0 && n != 0 && std::fwrite(p, 1, n, f.get()) != n) error = errno != 0 ? errno : EIO;
    };
    const std::function<std::size_t(const void*, std::size_t)> writer = [&](const void* p, std::size_t n) {
        end.feed(static_cast<const char*>(p), n, put);
        return error == 0 ? n : 0;  // a short count makes libtorch stop and throw
    };
    try {
        save_to(writer);
    } catch (const c10::Error&) {
        if (error != 0) throw checkpoint_error(who + "writing failed: " + std::strerror(error));
        throw;
    }
    std::string& tail = end.tail();
    if (tail.size() != zip_end_size || !is_zip_end(tail, 0, 0))
        throw std::logic_error(who +
                               "libtorch's archive does not end in a zip end record without a comment; "
                               "this libtorch writes a form clr::torch::save does not know");
    tail[20] = static_cast<char>(file_comment_size);
    put(tail.data(), tail.size());
    const std::string comment = file_tag + clr::detail::hex32(crc.value()).substr(2);
    put(comment.data(), comment.size());
    if (error == 0 && std::fflush(f.get()) != 0) error = errno != 0 ? errno : EIO;
    if (error == 0 && std::fclose(f.release()) != 0) error = errno != 0 ? errno : EIO;
    if (error != 0) throw checkpoint_error(who + "writing failed: " + std::strerror(error));
}

}  // namespace detail

// torch::save(value, path), for any value torch::save takes (a module, an
// optimizer, a tensor or a vector of them, a scheduler), with the file's
// CRC-32C at its end (see check_checkpoint). Throws checkpoint_error if the
// file cannot be written, naming it; libtorch's own errors pass through.
template <class Value>
void save(const Value& value, const std::string& path) {
    detail::write_checked(path, [&](const std::function<std::size_t(const void*, std::size_t)>& writer) {
        ::torch::save(value, writer);
    });
}

// An archive of your own (the optimizer's and the scheduler's together, say),
// as archive.save_to(path) writes it, with the file's CRC-32C at its end.
inline void save(::torch::serialize::OutputArchive& archive, const std::string& path) {
    detail::write_checked(path, [&](const std::function<std::size_t(const void*, std::size_t)>& writer) {
        archive.save_to(writer);
    });
}

// Reads the whole file written by clr::torch::save and checks its CRC-32C,
// without libtorch: a file that passes is the one written, bit for bit (a
// CRC-32C misses no error of up to 3 bits, and no burst of up to 32). Throws
// checkpoint_error, naming the file, for one that cannot be read, is damaged
// or cut short, or has no checksum (torch::save wrote it). libtorch 1.13's
// reader skips the CRC-32s of the zip entries its archives are made of, and
// on a damaged file it may crash or load wrong values: check first.
inline void check_checkpoint(const std::string& path) {
    const std::string who = "clr::torch::check_checkpoint: " + path + ": ";
    detail::file_ptr f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) throw checkpoint_error(who + "cannot open: " + std::strerror(errno));
    clr::detail::crc32c crc;
    detail::held_back end(detail::zip_end_size + detail::file_comment_size);
    auto add = [&](const char* p, std::size_t n) { crc.update(p, n); };
    constexpr std::size_t chunk = std::size_t(1) << 16;
    const std::unique_ptr<char[]> buf(new char[chunk]);  // not zeroed: every byte used is read first
    for (;;) {
        const std::size_t n = std::fread(buf.get(), 1, chunk, f.get());
        end.feed(buf.get(), n, add);
        if (n < chunk) break;
    }
    if (std::ferror(f.get())) throw checkpoint_error(who + "reading failed: " + std::strerror(errno));
    const std::string& tail = end.tail();
    const std::size_t z = detail::zip_end_size;
    const bool sealed =
        tail.size() == z + detail::file_comment_size &&
        detail::is_zip_end(tail, 0, detail::file_comment_size) &&
        tail.compare(z, detail::file_tag_size, detail::file_tag) == 0 &&
        std::all_of(tail.begin() + static_cast<std::ptrdiff_t>(z + detail::file_tag_size), tail.end(),
                    [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (!sealed) {
        if (tail.size() >= z && detail::is_zip_end(tail, tail.size() - z, 0))
            throw checkpoint_error(who +
                                   "has no checksum: it ends as torch::save leaves a file; write it "
                                   "with clr::torch::save to have one");
        throw checkpoint_error(who +
                               "does not end in a clr checksum: cut short, damaged, or not written by "
                               "clr::torch::save");
    }
    crc.update(tail.data(), z);
    const std::uint32_t stored =
        static_cast<std::uint32_t>(std::stoul(tail.substr(z + detail::file_tag_size), nullptr, 16));
    if (stored != crc.value())
        throw checkpoint_error(who + "checksum mismatch (the file says " + clr::detail::hex32(stored) +
                               ", its bytes give " + clr::detail::hex32(crc.value()) +
                               "): the file is damaged");
}

// check_checkpoint(path), then torch::load(value, path).
template <class Value>
void load(Value& value, const std::string& path) {
    check_checkpoint(path);
    ::torch::load(value, path);
}

}  // namespace clr::torch

#endif  // CLR_TORCH_HPP
