// clr: the rule of a plateau decay, PyTorch's ReduceLROnPlateau (1.13)
// decision for decision, and how reports reach it inside other schedules.
// SPDX-License-Identifier: MIT
//
// plateau_rule<T> is the part of clr::plateau (plateau.hpp) that does not
// depend on the schedule it wraps: its options, what it remembers between
// reports (plateau_state) and the scale its reductions give the rate. After
// every reported metric m, exactly as PyTorch's step(m):
//
//     better = m < best * (1 - threshold)   (mode min, threshold_mode rel)
//              m < best - threshold         (min, abs)
//              m > best * (1 + threshold)   (max, rel)
//              m > best + threshold         (max, abs)
//     if better: best = m, bad_reports = 0; else bad_reports += 1
//     if cooldown_left > 0: cooldown_left -= 1, bad_reports = 0
//     if bad_reports > patience: reduce, cooldown_left = cooldown, bad_reports = 0
//
// best starts at inf (min) or -inf (max). A NaN metric is never better (every
// comparison with NaN is false), so it counts as a bad report, as in PyTorch;
// -inf in mode min (inf in max) is better than anything and nothing is better
// after it. A reduction multiplies the rate by factor, never below min_lr, and
// is skipped when it would change the rate by eps or less. The rate it is
// judged on is the wrapped schedule's highest (its bounds().hi): for a
// constant schedule that is PyTorch's rate exactly.
//
// Schedules that hold other schedules (warmup, sequence, any_schedule, and
// any of your own) pass reports on: they define
//     void visit_plateaus(const clr::plateau_visit<T>& f);        // f(rule&) for each plateau inside
//     void view_plateaus(const clr::plateau_view<T>& f) const;    // f(const rule&) for each
// in the order of their parts, as compose.hpp's do. clr::report(s, metric)
// (plateau.hpp) and the optimizers' report() reach every plateau that way.
#ifndef CLR_PLATEAU_RULE_HPP
#define CLR_PLATEAU_RULE_HPP

#include "schedule.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace clr {

// Which way a metric improves, and how much better counts as better.
enum class plateau_mode { min, max };
enum class threshold_mode { rel, abs };

// What a plateau remembers between reports, all a checkpoint needs to resume
// it: PyTorch's last_epoch, best, num_bad_epochs and cooldown_counter, the
// reductions so far and the scale they give the rate (factor^reductions,
// multiplied up one reduction at a time).
struct plateau_state {
    std::uint64_t reports = 0;
    std::uint64_t reductions = 0;
    std::uint64_t bad_reports = 0;
    std::uint64_t cooldown_left = 0;
    double best = std::numeric_limits<double>::infinity();
    double scale = 1.0;
};

// A plateau's options, PyTorch's arguments and defaults (the checks are
// plateau.hpp's, where the options are set).
template <class T>
struct plateau_options {
    plateau_mode mode = plateau_mode::min;
    T factor = T(0.1);  // [0, 1)
    step_t patience = 10;
    T threshold = T(1e-4);  // finite, >= 0
    threshold_mode threshold_kind = threshold_mode::rel;
    step_t cooldown = 0;
    T min_lr = T(0);  // finite, >= 0
    T eps = T(1e-8);  // finite, >= 0
};

template <class T>
class plateau_rule {
public:
    // A rule with no reports yet over a schedule whose highest rate is peak.
    plateau_rule(T peak, const plateau_options<T>& o) : peak_(peak), o_(o) { reset(); }

    // One reported metric: PyTorch's ReduceLROnPlateau.step(metric).
    void report(double metric) noexcept {
        ++state_.reports;
        if (better(metric)) {
            state_.best = metric;
            state_.bad_reports = 0;
        } else {
            ++state_.bad_reports;
        }
        if (state_.cooldown_left > 0) {
            --state_.cooldown_left;
            state_.bad_reports = 0;  // bad reports during a cooldown do not count
        }
        if (state_.bad_reports > o_.patience) {
            reduce();
            state_.cooldown_left = o_.cooldown;
            state_.bad_reports = 0;
        }
    }

    // The rate for an inner rate r: r before the first reduction, then
    // r * scale, never below min_lr.
    T apply(T r) const noexcept {
        if (state_.reductions == 0) return r;
        using wide = std::common_type_t<T, double>;  // double for float, as PyTorch's Python floats
        const T v = T(wide(r) * wide(state_.scale));
        return v < o_.min_lr ? o_.min_lr : v;
    }

    // Lowest and highest rate for inner rates within b, over any reports.
    range<T> bounds(range<T> b) const noexcept { return {b.lo < o_.min_lr ? b.lo : o_.min_lr, b.hi}; }

    const plateau_state& state() const noexcept { return state_; }
    const plateau_options<T>& options() const noexcept { return o_; }
    T peak() const noexcept { return peak_; }

    // Why s cannot be this rule's state (a damaged checkpoint), or "".
    std::string state_problem(const plateau_state& s) const {
        if (s.reductions > s.reports || s.bad_reports > s.reports)
            return "its reductions or bad reports outnumber its reports";
        if (s.bad_reports > o_.patience) return "it has more bad reports than its patience";
        if (s.cooldown_left > o_.cooldown) return "its cooldown is longer than the plateau's";
        if (std::isnan(s.best) || (s.reports == 0 && s.best != worst()))
            return "its best metric is not one a report could give";
        if (!(s.scale >= 0.0 && s.scale <= 1.0) || (s.reductions == 0) != (s.scale == 1.0))
            return "its scale is not a product of its reductions";
        return "";
    }

    // Takes a state checked by state_problem.
    void restore(const plateau_state& s) noexcept { state_ = s; }

    // Back to no reports, as at construction (options kept).
    void reset() noexcept { state_ = plateau_state{0, 0, 0, 0, worst(), 1.0}; }

private:
    double worst() const noexcept {
        return o_.mode == plateau_mode::min ? std::numeric_limits<double>::infinity()
                                            : -std::numeric_limits<double>::infinity();
    }

    bool better(double m) const noexcept {
        const double best = state_.best, th = double(o_.threshold);
        const bool rel = o_.threshold_kind == threshold_mode::rel;
        if (o_.mode == plateau_mode::min) return rel ? m < best * (1.0 - th) : m < best - th;
        return rel ? m > best * (th + 1.0) : m > best + th;
    }

    // PyTorch's _reduce_lr on the peak rate: new = max(old * factor, min_lr),
    // kept only if old - new > eps.
    void reduce() noexcept {
        const double floor = double(o_.min_lr);
        const double old =
            state_.reductions == 0 ? double(peak_) : std::max(double(peak_) * state_.scale, floor);
        const double scale = state_.scale * double(o_.factor);
        const double now = std::max(double(peak_) * scale, floor);
        if (old - now > double(o_.eps)) {
            state_.scale = scale;
            ++state_.reductions;
        }
    }

    T peak_;
    plateau_options<T> o_;
    plateau_state state_;
};

template <class T>
using plateau_visit = std::function<void(plateau_rule<T>&)>;
template <class T>
using plateau_view = std::function<void(const plateau_rule<T>&)>;

namespace detail {

// The states of a schedule's plateaus, in the order visit_plateaus gives them.
using plateau_list = std::vector<plateau_state>;

template <class S, class = void>
struct visits_plateaus : std::false_type {};
template <class S>
struct visits_plateaus<S, std::void_t<decltype(std::declval<const S&>().view_plateaus(
                              std::declval<const plateau_view<typename S::value_type>&>()))>>
    : std::true_type {};

// f(rule) for every plateau in s (s itself, or inside it); nothing for a
// schedule that holds none.
template <class S>
void visit_plateaus(S& s, const plateau_visit<typename S::value_type>& f) {
    if constexpr (visits_plateaus<S>::value) s.visit_plateaus(f);
}
template <class S>
void view_plateaus(const S& s, const plateau_view<typename S::value_type>& f) {
    if constexpr (visits_plateaus<S>::value) s.view_plateaus(f);
}

template <class S>
std::size_t count_plateaus(const S& s) {
    std::size_t n = 0;
    view_plateaus(s, [&n](const auto&) { ++n; });
    return n;
}

// The state of every plateau in s, in order: what checkpoints save.
template <class S>
std::vector<plateau_state> plateau_states(const S& s) {
    std::vector<plateau_state> out;
    view_plateaus(s, [&out](const auto& rule) { out.push_back(rule.state()); });
    return out;
}

// Why `states` cannot be restored into s (count or a state that no run of
// its plateaus could reach), or "" if it can.
template <class S>
std::string plateau_states_problem(const S& s, const std::vector<plateau_state>& states) {
    const std::size_t n = count_plateaus(s);
    if (states.size() != n)
        return "it holds the state of " + std::to_string(states.size()) +
               " plateau schedules, the schedule has " + std::to_string(n);
    std::string problem;
    std::size_t i = 0;
    view_plateaus(s, [&](const auto& rule) {
        const std::string p = rule.state_problem(states[i]);
        if (problem.empty() && !p.empty()) problem = "plateau " + std::to_string(i) + "'s state: " + p;
        ++i;
    });
    return problem;
}

// Restores states checked by plateau_states_problem.
template <class S>
void restore_plateau_states(S& s, const std::vector<plateau_state>& states) {
    std::size_t i = 0;
    visit_plateaus(s, [&](auto& rule) { rule.restore(states[i++]); });
}

}  // namespace detail

}  // namespace clr

#endif  // CLR_PLATEAU_RULE_HPP
