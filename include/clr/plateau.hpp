// clr: plateau, a decay driven by a reported metric (PyTorch's
// ReduceLROnPlateau) over any schedule, and clr::report to feed it.
// SPDX-License-Identifier: MIT
//
//     plateau(s).with_patience(p)...:   lr(t) = s(t)                         before the first reduction
//                                       max(s(t) * factor^k, min_lr)         after k reductions
//
// The reductions follow the metric reported after each epoch, by PyTorch's
// rules exactly (plateau_rule.hpp): the rate is cut by `factor` once the
// metric has not improved for more than `patience` reports.
//
//     auto p = clr::plateau(clr::constant<double>(0.1)).with_patience(2).with_factor(0.5);
//     clr::report(p, 1.0);   // best 1.0
//     clr::report(p, 1.0);   // bad 1
//     clr::report(p, 1.0);   // bad 2
//     p(0) == 0.1
//     clr::report(p, 1.0);   // bad 3 > patience: reduced
//     p(0) == 0.05, p(1000) == 0.05
//
// It composes: clr::sequence(clr::linear<double>(0, 0.1, 500), 500, clr::plateau(clr::constant<double>(0.1)))
// warms up over 500 steps and then follows the reports, and clr::warmup(plateau(...), ...)
// ramps into one. The warmup counts steps, the plateau counts reports: a report
// reaches every plateau in the schedule, also while another piece is active.
//
// The schedule is still a value. lr(t) is a pure function of t and the
// reports so far: for a step already passed it gives the rate that step would
// have under today's reductions, not the rate it had. A copy is a snapshot
// with its own reports; an optimizer holds its own copy, so report to the
// optimizer (opt.report(metric)) rather than to the schedule it was built
// from. An any_schedule holding a plateau is copied on the first report that
// would change a copy it shares. Data-parallel ranks stay in agreement as long
// as every rank reports the same value: reduce the metric across ranks first
// (MPI_Allreduce of the validation loss), then report it on each.
#ifndef CLR_PLATEAU_HPP
#define CLR_PLATEAU_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "plateau_rule.hpp"
#include "schedule.hpp"

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace clr {

template <class S>
class plateau_schedule : public schedule<plateau_schedule<S>, typename S::value_type> {
    static_assert(is_schedule_v<S>, "plateau takes a clr schedule");
    using T = typename S::value_type;
    static constexpr const char* who = "clr::plateau";

public:
    explicit plateau_schedule(S inner, const plateau_options<T>& o = {})
        : inner_(std::move(inner)),
          rule_(inner_.bounds().hi, checked(o)) {}

    // Each returns a copy with one option set and no reports; a bad value
    // throws clr::invalid_parameter naming it.
    plateau_schedule with_mode(plateau_mode m) const {
        return with([&](auto& o) { o.mode = m; });
    }
    plateau_schedule with_factor(T f) const {
        return with([&](auto& o) { o.factor = f; });
    }
    plateau_schedule with_patience(step_t n) const {
        return with([&](auto& o) { o.patience = n; });
    }
    plateau_schedule with_threshold(T v, threshold_mode m = threshold_mode::rel) const {
        return with([&](auto& o) {
            o.threshold = v;
            o.threshold_kind = m;
        });
    }
    plateau_schedule with_cooldown(step_t n) const {
        return with([&](auto& o) { o.cooldown = n; });
    }
    plateau_schedule with_min_lr(T v) const {
        return with([&](auto& o) { o.min_lr = v; });
    }
    plateau_schedule with_eps(T v) const {
        return with([&](auto& o) { o.eps = v; });
    }

    // One metric, reported after an epoch (a validation loss in mode min).
    void report(double metric) {
        visit_plateaus([metric](plateau_rule<T>& r) { r.report(metric); });
    }

    T lr_at(step_t t) const noexcept(noexcept(std::declval<const S&>().lr(t))) {
        return rule_.apply(inner_(t));
    }
    std::optional<T> momentum_at(step_t t) const noexcept(noexcept(std::declval<const S&>().momentum(t))) {
        return inner_.momentum(t);
    }
    range<T> lr_range() const noexcept { return rule_.bounds(inner_.bounds()); }

    // Its own rule first, then any plateau inside the schedule it wraps.
    void visit_plateaus(const plateau_visit<T>& f) {
        f(rule_);
        detail::visit_plateaus(inner_, f);
    }
    void view_plateaus(const plateau_view<T>& f) const {
        f(rule_);
        detail::view_plateaus(inner_, f);
    }

    const S& inner() const noexcept { return inner_; }
    const plateau_options<T>& options() const noexcept { return rule_.options(); }
    const plateau_state& state() const noexcept { return rule_.state(); }

private:
    static plateau_options<T> checked(const plateau_options<T>& o) {
        detail::require_finite(who, "factor", o.factor);
        if (!(o.factor >= T(0) && o.factor < T(1)))
            detail::fail(who, "factor", detail::to_text(o.factor),
                         "must lie in [0, 1) (it multiplies the rate at each reduction)");
        detail::require_count(who, "patience", o.patience);
        detail::require_rate(who, "threshold", o.threshold);
        detail::require_count(who, "cooldown", o.cooldown);
        detail::require_rate(who, "min_lr", o.min_lr);
        detail::require_rate(who, "eps", o.eps);
        if (o.mode != plateau_mode::min && o.mode != plateau_mode::max)
            detail::fail(who, "mode", detail::to_text(int(o.mode)), "is not min or max");
        if (o.threshold_kind != threshold_mode::rel && o.threshold_kind != threshold_mode::abs)
            detail::fail(who, "threshold_mode", detail::to_text(int(o.threshold_kind)), "is not rel or abs");
        return o;
    }

    template <class F>
    plateau_schedule with(F&& set) const {
        plateau_options<T> o = rule_.options();
        set(o);
        return plateau_schedule(inner_, o);
    }

    S inner_;
    plateau_rule<T> rule_;
};

template <class S>
plateau_schedule<S> plateau(S inner) {
    return plateau_schedule<S>(std::move(inner));
}

// How many plateaus s holds: 0 for a schedule no report reaches. A trainer
// asks before it reports (clr::report and opt.report refuse a schedule with none).
template <class S>
std::size_t plateau_count(const S& s) {
    static_assert(is_schedule_v<S>, "clr::plateau_count takes a clr schedule");
    return detail::count_plateaus(s);
}

// Reports a metric to every plateau in s: a plateau, or a schedule that
// holds some (warmup, sequence, any_schedule). Throws std::invalid_argument,
// and changes nothing, if s holds none.
template <class S>
void report(S& s, double metric) {
    static_assert(is_schedule_v<S>, "clr::report takes a clr schedule");
    using T = typename S::value_type;
    if (detail::count_plateaus(s) == 0)
        throw std::invalid_argument(
            "clr::report: the schedule has no plateau to report a metric to (only plateau(...), alone or "
            "inside warmup, sequence or any_schedule, takes one)");
    detail::visit_plateaus(s, plateau_visit<T>([metric](plateau_rule<T>& r) { r.report(metric); }));
}

// plateau(constant(lr=0.1), mode=min, factor=0.1, patience=10, threshold=0.0001,
//         threshold_mode=rel, cooldown=0, min_lr=0, eps=1e-08)
template <class S>
struct describe<plateau_schedule<S>, std::enable_if_t<has_text_form_v<S>>> {
    using T = typename S::value_type;
    static constexpr const char* name = "plateau";
    static constexpr parameter parameters[] = {
        {"schedule", value_kind::schedule, required, "the schedule the reductions scale"},
        {"mode", value_kind::word, "min", "min: a lower metric is better; max: a higher one", "min|max"},
        {"factor", value_kind::number, "0.1", "multiplies the rate at each reduction, in [0, 1)"},
        {"patience", value_kind::count, "10", "reports without improvement a reduction waits for"},
        {"threshold", value_kind::number, "0.0001", "how much better counts as better"},
        {"threshold_mode", value_kind::word, "rel", "rel: relative to the best metric; abs: absolute",
         "rel|abs"},
        {"cooldown", value_kind::count, "0", "reports after a reduction before bad ones count"},
        {"min_lr", value_kind::number, "0", "the rate reductions stop at"},
        {"eps", value_kind::number, "1e-08", "a reduction smaller than it is skipped"},
    };
    static plateau_schedule<any_schedule<T>> make(const arguments<T>& a) {
        plateau_options<T> o;
        o.mode = a.word("mode") == 0 ? plateau_mode::min : plateau_mode::max;
        o.factor = a.number("factor");
        o.patience = a.count("patience");
        o.threshold = a.number("threshold");
        o.threshold_kind = a.word("threshold_mode") == 0 ? threshold_mode::rel : threshold_mode::abs;
        o.cooldown = a.count("cooldown");
        o.min_lr = a.number("min_lr");
        o.eps = a.number("eps");
        return plateau_schedule<any_schedule<T>>(*a.schedule_at(0), o);
    }
    template <class W>
    static void write(W& w, const plateau_schedule<S>& s) {
        const plateau_options<T>& o = s.options();
        w("schedule", s.inner())("mode", o.mode == plateau_mode::min ? "min" : "max")("factor", o.factor);
        w("patience", o.patience)("threshold", o.threshold);
        w("threshold_mode", o.threshold_kind == threshold_mode::rel ? "rel" : "abs")("cooldown", o.cooldown);
        w("min_lr", o.min_lr)("eps", o.eps);
    }
};

}  // namespace clr

#endif  // CLR_PLATEAU_HPP
