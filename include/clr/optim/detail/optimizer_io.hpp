// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// clr::optim::optimizer's checkpoints: save() and load() and the private
// functions behind them, declared (and documented) in <clr/optim/optimizer.hpp>,
// which includes this file at its end. The record's layout is described in
// detail/optimizer.hpp, its fields are written and read by detail/record.hpp.
// A new section of the record is one line in write_body and one in
// read_record, with its writer and reader in detail/record.hpp.
#ifndef CLR_OPTIM_DETAIL_OPTIMIZER_IO_HPP
#define CLR_OPTIM_DETAIL_OPTIMIZER_IO_HPP

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "../optimizer.hpp"
#include "block_rates.hpp"
#include "checkpoint.hpp"
#include "plateau_record.hpp"
#include "record.hpp"

namespace clr::optim {

template <class Derived, class Schedule, class State>
void optimizer<Derived, Schedule, State>::save(std::ostream& out) const {
    const std::string who = std::string(Derived::name) + "::save";
    std::string problem;
    for (std::size_t b = 0; b < blocks_.size() && problem.empty(); ++b)
        problem = derived().state_problem(states_[b], blocks_[b].size, b);
    if (!problem.empty())
        throw checkpoint_error(who + ": " + problem +
                               "; a diverged state is not saved, load() would refuse it");
    const detail::recorded_settings settings = recorded();
    detail::write_record(out, who, [&](detail::checkpoint_writer& w) { write_body(w, settings); });
}

template <class Derived, class Schedule, class State>
void optimizer<Derived, Schedule, State>::load(std::istream& in, resume settings) {
    detail::checkpoint_reader r(in, std::string(Derived::name) + "::load");
    const auto version =
        r.header(detail::optimizer_magic, "clr optimizer checkpoint", detail::optimizer_version);
    own_plateaus();
    loaded l = version == 1 ? read_v1(r) : read_record(r, version, settings);
    // Nothing below throws: the optimizer changes whole or not at all.
    restore_plateaus(l.plateaus);
    states_.swap(l.states);
    t_ = l.head.steps;
    last_lr_ = l.head.last_lr;
    last_momentum_ = l.head.last_momentum;
    for (std::size_t b = 0; b < rates_.size(); ++b) rates_[b].last_lr = l.block_last_lr[b];
}

// The settings as a checkpoint records them, and the blocks' last rates.
template <class Derived, class Schedule, class State>
detail::recorded_settings optimizer<Derived, Schedule, State>::recorded() const {
    const decay_value& decay = derived().options().weight_decay;
    detail::recorded_settings s;
    s.schedule = detail::schedule_text(sched_);
    const auto opts = derived().option_values();
    s.options.assign(opts.begin(), opts.end());
    s.decay = detail::record_of(decay);
    s.blocks.reserve(blocks_.size());
    for (std::size_t b = 0; b < blocks_.size(); ++b)
        s.blocks.push_back(detail::record_block(options_[b], blocks_[b], rates_[b], decay));
    return s;
}

// Version 3: the head, the settings, the states.
template <class Derived, class Schedule, class State>
void optimizer<Derived, Schedule, State>::write_body(detail::checkpoint_writer& w,
                                                     const detail::recorded_settings& settings) const {
    detail::write_head<T>(w, Derived::kind, {t_, last_lr_, last_momentum_});
    detail::write_settings(w, settings);
    detail::write_plateaus(w, plateau_lists());
    for (std::size_t b = 0; b < blocks_.size(); ++b) derived().write_state(w, states_[b], blocks_[b].size);
}

template <class Derived, class Schedule, class State>
std::vector<State> optimizer<Derived, Schedule, State>::read_states(detail::checkpoint_reader& r) const {
    std::vector<State> staged;
    staged.reserve(blocks_.size());
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
        staged.push_back(derived().read_state(r, blocks_[b].size, b));
        const std::string problem = derived().state_problem(staged.back(), blocks_[b].size, b);
        if (!problem.empty()) r.fail(problem + " (damaged file?)");
    }
    return staged;
}

template <class Derived, class Schedule, class State>
auto optimizer<Derived, Schedule, State>::read_v1(detail::checkpoint_reader& r) const -> loaded {
    loaded l;
    r.scalar_size(sizeof(T));
    detail::read_kind(r, Derived::kind, Derived::name);
    l.head.steps = detail::read_steps(r);
    r.block_sizes(blocks_.size(), [&](std::size_t b) { return blocks_[b].size; });
    l.states = read_states(r);
    l.block_last_lr.resize(blocks_.size());
    return l;
}

// Versions 2 and 3: the body, its checksum checked, then field by field;
// the settings are compared once all of it has been read.
template <class Derived, class Schedule, class State>
auto optimizer<Derived, Schedule, State>::read_record(detail::checkpoint_reader& r, std::uint32_t version,
                                                      resume settings) const -> loaded {
    const std::string body = detail::read_body(r);
    detail::checkpoint_reader b(body.data(), body.size(), r.who());
    const detail::recorded_settings current = recorded();
    loaded l;
    l.head = detail::read_head<T>(b, Derived::kind, Derived::name);
    const detail::recorded_settings saved =
        version == 2 ? detail::read_settings_v2<T>(b, current, Derived::name, l.head.last_lr)
                     : detail::read_settings_v3<T>(b, current, Derived::name);
    // Version 2 had no plateau: any in the optimizer keep their state.
    std::vector<detail::plateau_list> plateaus;
    if (version >= 3) plateaus = detail::read_plateaus(b, blocks_.size() + 1);
    l.states = read_states(b);
    if (b.remaining() != 0)
        b.fail("record has " + std::to_string(b.remaining()) + " bytes after the last state (damaged file?)");
    if (settings == resume::same_settings) detail::refuse_changes(b, saved, current);
    if (version >= 3) l.plateaus = fitting_plateaus(b, std::move(plateaus), settings);
    l.block_last_lr.reserve(saved.blocks.size());
    for (const auto& blk : saved.blocks)
        l.block_last_lr.push_back(blk.last_lr ? std::optional<T>(T(*blk.last_lr)) : std::nullopt);
    return l;
}

}  // namespace clr::optim

#endif  // CLR_OPTIM_DETAIL_OPTIMIZER_IO_HPP
