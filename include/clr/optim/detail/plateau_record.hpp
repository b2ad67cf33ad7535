// clr: the plateau states in an optimizer checkpoint, and the optimizer's
// report(metric), defined here for <clr/optim/optimizer.hpp>.
// SPDX-License-Identifier: MIT
//
// A version-3 record holds, after the blocks' entries and before their
// states, one list of plateau states per schedule: the optimizer's, then
// each block's own (an empty list for a block that follows the optimizer's):
//     u32 n, then n x (u64 reports, u64 reductions, u64 bad_reports,
//                      u64 cooldown_left, f64 best, f64 scale)
// in the order plateau_rule.hpp's visit_plateaus gives them.
#ifndef CLR_OPTIM_DETAIL_PLATEAU_RECORD_HPP
#define CLR_OPTIM_DETAIL_PLATEAU_RECORD_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../plateau_rule.hpp"
#include "../optimizer.hpp"
#include "checkpoint.hpp"

namespace clr::detail {

inline constexpr std::size_t plateau_state_bytes = 48;

inline void write_plateaus(checkpoint_writer& w, const std::vector<plateau_list>& lists) {
    for (const plateau_list& list : lists) {
        w.integer(static_cast<std::uint32_t>(list.size()));
        for (const plateau_state& s : list) {
            w.integer(s.reports);
            w.integer(s.reductions);
            w.integer(s.bad_reports);
            w.integer(s.cooldown_left);
            w.f64(s.best);
            w.f64(s.scale);
        }
    }
}

// `count` lists, each checked only as far as a state can be without its
// plateau's options (plateau_states_problem does the rest).
inline std::vector<plateau_list> read_plateaus(checkpoint_reader& r, std::size_t count) {
    std::vector<plateau_list> lists(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::string whose =
            i == 0 ? "the schedule's" : "block " + std::to_string(i - 1) + "'s schedule's";
        const auto n = r.integer<std::uint32_t>("the plateau count of " + whose);
        if (n > r.remaining() / plateau_state_bytes)
            r.fail("plateau count of " + whose + " is " + std::to_string(n) + ", more than the record holds");
        for (std::uint32_t k = 0; k < n; ++k) {
            const std::string what = "plateau " + std::to_string(k) + " of " + whose;
            plateau_state s;
            s.reports = r.integer<std::uint64_t>("the reports of " + what);
            s.reductions = r.integer<std::uint64_t>("the reductions of " + what);
            s.bad_reports = r.integer<std::uint64_t>("the bad reports of " + what);
            s.cooldown_left = r.integer<std::uint64_t>("the cooldown of " + what);
            s.best = r.f64("the best metric of " + what);
            s.scale = r.f64("the scale of " + what);
            if (std::isnan(s.best) || !(s.scale >= 0.0 && s.scale <= 1.0) || s.reductions > s.reports ||
                s.bad_reports > s.reports)
                r.fail(what + " is not a state any run reaches (damaged file?)");
            lists[i].push_back(s);
        }
    }
    return lists;
}

}  // namespace clr::detail

namespace clr::optim {

template <class Derived, class Schedule, class State>
void optimizer<Derived, Schedule, State>::report(double metric) {
    std::size_t n = clr::detail::count_plateaus(sched_);
    for (const auto& o : options_)
        if (const auto* s = o.template schedule<T>()) n += clr::detail::count_plateaus(*s);
    if (n == 0)
        throw std::invalid_argument(std::string(Derived::name) +
                                    "::report: neither the schedule nor a block's own schedule holds a "
                                    "plateau to report a metric to (clr::plateau, <clr/plateau.hpp>)");
    const plateau_visit<T> f = [metric](plateau_rule<T>& r) { r.report(metric); };
    clr::detail::visit_plateaus(sched_, f);
    for (auto& o : options_)
        if (auto* s = o.template schedule<T>()) clr::detail::visit_plateaus(*s, f);
}

// The optimizer schedule's plateau states, then each block's own schedule's.
template <class Derived, class Schedule, class State>
auto optimizer<Derived, Schedule, State>::plateau_lists() const -> std::vector<detail::plateau_list> {
    std::vector<detail::plateau_list> lists{clr::detail::plateau_states(sched_)};
    for (const auto& o : options_) {
        const auto* s = o.template schedule<T>();
        lists.push_back(s ? clr::detail::plateau_states(*s) : detail::plateau_list());
    }
    return lists;
}

// Which saved lists load() restores: each that fits its schedule (as many
// plateaus, each state one its options allow). With resume::same_settings
// one that does not is refused; with new_settings its plateaus keep their
// own state.
template <class Derived, class Schedule, class State>
auto optimizer<Derived, Schedule, State>::fitting_plateaus(const detail::checkpoint_reader& r,
                                                           std::vector<detail::plateau_list> lists,
                                                           resume settings) const -> staged_plateaus {
    staged_plateaus out(lists.size());
    for (std::size_t i = 0; i < lists.size(); ++i) {
        const auto* own = i == 0 ? nullptr : options_[i - 1].template schedule<T>();
        const std::string problem = i == 0 ? clr::detail::plateau_states_problem(sched_, lists[i])
                                    : own  ? clr::detail::plateau_states_problem(*own, lists[i])
                                    : lists[i].empty()
                                        ? std::string()
                                        : "it holds plateau states for a block that follows the "
                                          "optimizer's schedule";
        if (problem.empty())
            out[i] = std::move(lists[i]);
        else if (settings == resume::same_settings)
            r.fail((i == 0 ? std::string("the schedule: ") : "block " + std::to_string(i - 1) + ": ") +
                   problem);
    }
    return out;
}

// Gives the optimizer its own copy of every plateau it holds (any_schedule
// shares one between copies until a report), so that restoring the states
// afterwards allocates nothing and cannot fail. Changes no value.
template <class Derived, class Schedule, class State>
void optimizer<Derived, Schedule, State>::own_plateaus() {
    const plateau_visit<T> none = [](plateau_rule<T>&) {};
    clr::detail::visit_plateaus(sched_, none);
    for (auto& o : options_)
        if (auto* s = o.template schedule<T>()) clr::detail::visit_plateaus(*s, none);
}

template <class Derived, class Schedule, class State>
void optimizer<Derived, Schedule, State>::restore_plateaus(const staged_plateaus& lists) {
    for (std::size_t i = 0; i < lists.size(); ++i) {
        if (!lists[i] || lists[i]->empty()) continue;
        if (i == 0)
            clr::detail::restore_plateau_states(sched_, *lists[i]);
        else if (auto* s = options_[i - 1].template schedule<T>())
            clr::detail::restore_plateau_states(*s, *lists[i]);
    }
}

}  // namespace clr::optim

#endif  // CLR_OPTIM_DETAIL_PLATEAU_RECORD_HPP
