// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The LR range test (Smith 2015, section 3.3): train for one short run while
// the learning rate rises every mini-batch from min_lr to max_lr, record the
// loss (and accuracy) at each step, and read the bounds of a cyclical schedule
// off the curve. (fastai calls it the LR finder, hence the header's name.)
//
// The sweep, for step i of N:
//     exponential:  lr(i) = min_lr * (max_lr / min_lr)^(i / (N - 1))
//     linear:       lr(i) = min_lr + (max_lr - min_lr) * i / (N - 1)
// The loss is smoothed by a bias-corrected moving average (beta 0.98), the
// run stops once that exceeds 4 x its minimum or a loss is not finite, and
// each suggestion (base_lr, max_lr, steepest, min_loss_div10, fastai's valley
// and slide, a cyclic pair) comes with its rule, or with the reason the curve
// does not support it. docs/LR_FINDER.md gives every rule, with two worked
// examples in numbers.
//
//     clr::range_test<double> test(1e-4, 1.0, 5);    // lr 1e-4, 1e-3, 1e-2, 0.1, 1
//     auto r = test.with_smoothing(0.9).run([&](double lr) { return net.train_batch(lr); });
#ifndef CLR_LR_FINDER_HPP
#define CLR_LR_FINDER_HPP

#include "any_schedule.hpp"
#include "cyclic.hpp"
#include "schedule.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace clr {

enum class sweep { linear, exponential };

namespace detail {

// Shared by range_sweep and range_test so each names itself in its errors.
template <class T>
void check_sweep(const char* who, T min_lr, T max_lr, step_t steps, sweep shape) {
    if (shape == sweep::exponential)
        require_positive(who, "min_lr", min_lr);  // the ratio max/min needs min > 0
    else
        require_rate(who, "min_lr", min_lr);
    require_finite(who, "max_lr", max_lr);
    if (!(max_lr > min_lr))
        fail(who, "max_lr", to_text(max_lr), ("must be above min_lr = " + to_text(min_lr)).c_str());
    if (steps < 2) fail(who, "steps", to_text(steps), "must be at least 2 (the sweep needs both ends)");
    require_count(who, "steps", steps);
}

// Readings of a curve in messages: six significant digits say enough about a
// measured loss or rate (0.00316228, not 0.0031622776601683794).
template <class T>
std::string reading_text(T v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(v));
    return buf;
}

inline std::string percent_text(double fraction) { return reading_text(100.0 * fraction) + "%"; }

}  // namespace detail

// The rates a range test visits, as a schedule so that it can be sampled and
// plotted like any other: lr(i) for i < steps as above, max_lr after.
//     clr::range_sweep<double> s(1e-6, 1.0, 7);   // s(0) == 1e-6, s(3) == 1e-3, s(6) == 1
//     clr::range_sweep<double> l(0.0, 0.1, 11, clr::sweep::linear);   // l(5) == 0.05
template <class T>
class range_sweep : public schedule<range_sweep<T>, T> {
    static constexpr const char* who = "clr::range_sweep";

public:
    range_sweep(T min_lr, T max_lr, step_t steps, sweep shape = sweep::exponential)
        : min_(min_lr),
          max_(max_lr),
          steps_(steps),
          shape_(shape) {
        detail::check_sweep(who, min_lr, max_lr, steps, shape);
        // Logs of each end rather than log(max / min): the ratio of two
        // extreme floats can overflow where their logs cannot.
        if (shape == sweep::exponential) {
            log_min_ = std::log(min_);
            log_span_ = std::log(max_) - log_min_;
        }
    }

    T lr_at(step_t t) const noexcept {
        // Exact ends: pow and a + (b - a) can each miss b by an ulp.
        if (t == 0) return min_;
        if (t >= steps_ - 1) return max_;
        const T x = static_cast<T>(t) / static_cast<T>(steps_ - 1);
        // In float, x rounds to 1 well before the last step, and the rounded
        // logs can carry exp past max_lr; neither may leave bounds(). The power
        // is taken whole: min_lr * exp(span * x) overflows on the way when
        // min_lr is tiny (float, min_lr 1e-45: exp(104 x) passes FLT_MAX).
        if (shape_ == sweep::linear) return detail::lerp(min_, max_, x);
        return std::min(std::max(std::exp(log_min_ + log_span_ * x), min_), max_);
    }

    range<T> lr_range() const noexcept { return {min_, max_}; }

    T min_lr() const noexcept { return min_; }
    T max_lr() const noexcept { return max_; }
    step_t steps() const noexcept { return steps_; }
    sweep shape() const noexcept { return shape_; }

private:
    T min_;
    T max_;
    step_t steps_;
    sweep shape_;
    T log_min_ = T(0);
    T log_span_ = T(0);
};

// range_sweep(min_lr=1e-06, max_lr=1, steps=7), shape=linear when linear.
template <class T>
struct describe<range_sweep<T>> {
    static constexpr const char* name = "range_sweep";
    static constexpr parameter parameters[] = {
        {"min_lr", value_kind::number, required, "the rate at step 0", "", "base-lr"},
        {"max_lr", value_kind::number, required, "the rate at the last step"},
        {"steps", value_kind::length, "100%", "steps of the sweep", "", "total-steps"},
        {"shape", value_kind::word, "exponential", "how the rate climbs", "exponential|linear"},
    };
    static range_sweep<T> make(const arguments<T>& a) {
        return range_sweep<T>(a.number("min_lr"), a.number("max_lr"), a.length("steps"),
                              a.word("shape") == 1 ? sweep::linear : sweep::exponential);
    }
    template <class W>
    static void write(W& w, const range_sweep<T>& s) {
        w("min_lr", s.min_lr())("max_lr", s.max_lr())("steps", s.steps())(
            "shape", s.shape() == sweep::linear ? "linear" : "exponential");
    }
};

// What a step function returns when it has the batch accuracy as well as the
// loss; a step function that has only the loss returns it as a plain float or
// double. Double whatever the test's type: a loss needs no more, and float
// converts without a cast.
//     [&](double lr) { auto b = net.train_batch(lr); return clr::range_test_step{b.loss, b.accuracy}; }
struct range_test_step {
    double loss;
    std::optional<double> accuracy;
};

// One mini-batch of the test.
template <class T>
struct range_test_record {
    step_t step;
    T lr;
    T loss;
    T smoothed_loss;  // NaN on the record of a non-finite loss
    std::optional<T> accuracy;
    std::optional<T> smoothed_accuracy;
};

enum class range_test_stop {
    completed,   // every step of the sweep ran
    diverged,    // the smoothed loss passed divergence_factor times its best
    non_finite,  // a loss was NaN or infinite
};

inline const char* to_string(range_test_stop s) noexcept {
    switch (s) {
        case range_test_stop::completed: return "completed";
        case range_test_stop::diverged: return "diverged";
        case range_test_stop::non_finite: return "non_finite";
    }
    return "unknown";
}

// One reading of the curve: a rate, or the reason the curve does not give one.
template <class T>
struct lr_suggestion {
    std::optional<T> value;
    step_t step = 0;     // the record the value was read from (with a value only)
    std::string rule;    // the rule applied
    std::string reason;  // without a value: why; empty otherwise

    explicit operator bool() const noexcept { return value.has_value(); }
};

// The recommended cyclical bounds, ready to build a schedule from.
template <class T>
struct cyclic_suggestion {
    std::optional<T> base_lr;
    std::optional<T> max_lr;
    std::string rule;
    std::string reason;

    explicit operator bool() const noexcept { return base_lr.has_value() && max_lr.has_value(); }

    // Smith's half cycle: `epochs` epochs' worth of iterations, rounded, at
    // least 1. He recommends 2 to 10 epochs; 4 is what his CIFAR-10 runs use
    // (stepsize 2000 at 500 iterations per epoch).
    static step_t step_size(step_t steps_per_epoch, T epochs = T(4)) {
        constexpr const char* who = "clr::range_test";
        detail::require_steps(who, "steps_per_epoch", steps_per_epoch);
        detail::require_positive(who, "epochs", epochs);
        const long double size = static_cast<long double>(epochs) * static_cast<long double>(steps_per_epoch);
        if (size > static_cast<long double>(detail::max_steps))
            detail::fail(
                who, "epochs", detail::to_text(epochs),
                ("gives a step size beyond 2^62 at steps_per_epoch = " + detail::to_text(steps_per_epoch))
                    .c_str());
        return std::max<step_t>(1, static_cast<step_t>(std::llround(size)));
    }

    // Throws std::logic_error with the reason when the curve gave no pair;
    // test the suggestion first (it converts to bool).
    triangular<T> make_triangular(step_t steps_per_epoch, T epochs = T(4)) const {
        const step_t size = step_size(steps_per_epoch, epochs);
        if (!*this) throw std::logic_error("clr::range_test: no cyclical bounds to build from: " + reason);
        return triangular<T>(*base_lr, *max_lr, size);
    }
};

template <class T>
struct range_test_suggestions {
    lr_suggestion<T> base_lr;         // Smith: where the loss starts to fall
    lr_suggestion<T> max_lr;          // Smith: where it stops falling (or accuracy levels off)
    lr_suggestion<T> steepest;        // steepest descent of the smoothed loss against log(lr)
    lr_suggestion<T> min_loss_div10;  // fastai: lr at the minimum smoothed loss / 10
    lr_suggestion<T> valley;          // fastai: about half-way along the longest fall
    lr_suggestion<T> slide;           // fastai: where the slope stops changing, read back from the end
    cyclic_suggestion<T> cyclic;      // (base_lr, max_lr) as one pair
};

template <class T>
struct range_test_result {
    std::vector<range_test_record<T>> records;  // one per step run, the stopping one included
    range_test_stop stop = range_test_stop::completed;
    step_t stop_step = 0;  // the step that ended the test (the sweep's last when completed)
    range_test_suggestions<T> suggestions;
};

namespace detail {

// The bias-corrected average above, kept as the corrected mean m_i directly:
//     m_i = m_{i-1} + (x_i - m_{i-1}) * (1 - beta) / (1 - beta^(i + 1))
// which is avg_i / (1 - beta^(i + 1)) rearranged. Its first weight is 1 by
// construction, so m_0 == x_0 exactly, and beta = 0 passes every value through.
template <class T>
class bias_corrected_ema {
public:
    explicit bias_corrected_ema(T beta) noexcept : beta_(beta) {}

    T add(T x) noexcept {
        beta_pow_ *= beta_;
        const T k = (T(1) - beta_) / (T(1) - beta_pow_);
        mean_ = k == T(1) ? x : mean_ + (x - mean_) * k;
        return mean_;
    }

private:
    T beta_;
    T beta_pow_ = T(1);
    T mean_ = T(0);
};

// fastai's valley reads the longest strictly falling sequence of smoothed
// losses, its points not necessarily neighbours. fastai finds the longest one
// ending at each point with a double loop, O(n^2), too slow for a sweep of
// many thousand steps; patience sorting gives the same lengths in
// O(n log n). tails[k] is the highest loss a falling sequence of k + 1 points
// seen so far ends on; the list decreases, so the sequences a loss x extends,
// those ending above x, are found by binary search. `end` is the first point
// a longest sequence ends on, the one fastai keeps.
struct longest_fall {
    std::size_t end = 0;
    std::size_t length = 0;
};

template <class T>
longest_fall find_longest_fall(const std::vector<range_test_record<T>>& rec, std::size_t lo, std::size_t hi) {
    std::vector<T> tails;
    longest_fall best;
    for (std::size_t i = lo; i < hi; ++i) {
        const T x = rec[i].smoothed_loss;
        const auto at =
            std::lower_bound(tails.begin(), tails.end(), x, std::greater<T>());  // first tail <= x
        const std::size_t length = static_cast<std::size_t>(at - tails.begin()) + 1;
        if (at == tails.end())
            tails.push_back(x);
        else
            *at = x;
        if (length > best.length) best = {i, length};
    }
    return best;
}

// fastai's slide (Andrew Chang's interval slide rule) on [lo, hi), which holds
// at least lag + 1 points. g is numpy.gradient of the smoothed losses against
// the index, as fastai takes it: one-sided differences at the two ends,
// central ones inside. From r at the last point and l = r - lag, both step
// left while |g_r - g_l| > thresh and l has a point to step to; the reading
// is the last l stepped from, or the first l when that pair already agrees.
// Read back from the divergence, a pair disagrees while its right end is past
// the fall (on the bottom or the rise) and its left end on the fall; the
// first pair that agrees has both ends on the fall, so on a clean curve the
// reading lies about lag points before the fall ends. thresh is in loss units
// per step, as fastai's is.
template <class T>
std::size_t find_slide(const std::vector<range_test_record<T>>& rec, std::size_t lo, std::size_t hi,
                       std::size_t lag, T thresh) {
    const auto s = [&](std::size_t j) { return rec[j].smoothed_loss; };
    const auto g = [&](std::size_t i) {
        if (i == lo) return s(i + 1) - s(i);
        if (i == hi - 1) return s(i) - s(i - 1);
        return (s(i + 1) - s(i - 1)) / T(2);
    };
    std::size_t r = hi - 1;
    std::size_t l = r - lag;
    std::size_t pick = l;
    while (std::abs(g(r) - g(l)) > thresh) {
        pick = l;
        if (l == lo) break;  // fastai's loop ends when l would leave its points
        --r;
        --l;
    }
    return pick;
}

template <class R>
inline constexpr bool is_step_result_v = std::is_floating_point_v<R> || std::is_same_v<R, range_test_step>;

template <class R>
range_test_step to_step(R r) {
    if constexpr (std::is_same_v<R, range_test_step>)
        return r;
    else
        return range_test_step{static_cast<double>(r), std::nullopt};
}

}  // namespace detail

// The test, configured; run() performs it.
//     clr::range_test<double> test(1e-7, 10.0, 100);          // exponential, 100 batches
//     auto r = test.run([&](double lr) { return trainer.step(lr); });
//     if (!r.suggestions.cyclic) throw std::runtime_error(r.suggestions.cyclic.reason);
//     clr::triangular<double> s = r.suggestions.cyclic.make_triangular(batches_per_epoch);  // 4 epochs up
template <class T>
class range_test {
    static_assert(std::is_floating_point_v<T>,
                  "clr::range_test is templated on float, double or long double");
    static constexpr const char* who = "clr::range_test";

public:
    using value_type = T;

    range_test(T min_lr, T max_lr, step_t steps, sweep shape = sweep::exponential)
        : sweep_((detail::check_sweep(who, min_lr, max_lr, steps, shape), min_lr), max_lr, steps, shape) {}

    // beta of the moving average, in [0, 1); 0 reads the raw loss.
    range_test with_smoothing(T beta) const {
        range_test c = *this;
        detail::require_finite(who, "beta", beta);
        if (!(beta >= T(0) && beta < T(1)))
            detail::fail(who, "beta", detail::to_text(beta), "must lie in [0, 1)");
        c.beta_ = beta;
        return c;
    }
    // Stop once the smoothed loss exceeds this multiple of its best; above 1.
    range_test with_divergence_factor(T factor) const {
        range_test c = *this;
        detail::require_finite(who, "divergence_factor", factor);
        if (!(factor > T(1)))
            detail::fail(who, "divergence_factor", detail::to_text(factor),
                         "must be above 1 (the best value itself would stop the test)");
        c.factor_ = factor;
        return c;
    }
    // Points at the start that no rule reads from.
    range_test with_warmup(step_t points) const {
        range_test c = *this;
        c.warmup_ = detail::require_count(who, "warmup", points);
        return c;
    }
    // Fewest finite points the rules will read a suggestion from; at least 3.
    range_test with_min_points(step_t points) const {
        range_test c = *this;
        if (points < 3)
            detail::fail(who, "min_points", detail::to_text(points),
                         "must be at least 3 (a slope needs a point either side)");
        c.min_points_ = detail::require_count(who, "min_points", points);
        return c;
    }
    // f of the base_lr and max_lr rules, in (0, 0.5): base_lr where the fall is
    // f done, max_lr where it is 1 - f done.
    range_test with_bounds_fraction(T f) const {
        range_test c = *this;
        detail::require_finite(who, "bounds_fraction", f);
        if (!(f > T(0) && f < T(0.5)))
            detail::fail(who, "bounds_fraction", detail::to_text(f),
                         "must lie in (0, 0.5) (base_lr would not come before max_lr)");
        c.fraction_ = f;
        return c;
    }
    // Smallest fall, as a fraction of the starting loss, that counts as one;
    // in (0, 1).
    range_test with_min_drop(T f) const {
        range_test c = *this;
        detail::require_finite(who, "min_drop", f);
        if (!(f > T(0) && f < T(1))) detail::fail(who, "min_drop", detail::to_text(f), "must lie in (0, 1)");
        c.min_drop_ = f;
        return c;
    }

    const range_sweep<T>& sweep_schedule() const noexcept { return sweep_; }
    T min_lr() const noexcept { return sweep_.min_lr(); }
    T max_lr() const noexcept { return sweep_.max_lr(); }
    step_t steps() const noexcept { return sweep_.steps(); }
    sweep shape() const noexcept { return sweep_.shape(); }
    T smoothing() const noexcept { return beta_; }
    T divergence_factor() const noexcept { return factor_; }
    step_t warmup() const noexcept { return warmup_; }
    step_t min_points() const noexcept { return min_points_; }
    T bounds_fraction() const noexcept { return fraction_; }
    T min_drop() const noexcept { return min_drop_; }

    // Calls step(lr) once per step of the sweep, in order, until the sweep
    // ends or the loss diverges or is not finite. step performs one
    // mini-batch update at rate lr and returns its loss (float or double) or
    // a clr::range_test_step with the batch accuracy too. A finite loss with a
    // NaN or infinite accuracy is a broken metric, not a diverged model: it
    // throws std::invalid_argument.
    template <class F>
    range_test_result<T> run(F&& step) const {
        // Checked in turn so that a wrong step function gets one message, not
        // a cascade from inside the loop.
        constexpr bool callable = std::is_invocable_v<F&, T>;
        static_assert(callable,
                      "the range test's step function must be callable with the learning rate "
                      "(a mutable lambda must not be const)");
        if constexpr (callable) {
            constexpr bool returns_loss = detail::is_step_result_v<std::decay_t<std::invoke_result_t<F&, T>>>;
            static_assert(returns_loss,
                          "the range test's step function must return the loss as float or double, or a "
                          "clr::range_test_step");
            if constexpr (returns_loss) return sweep_with(step);
        }
        return {};
    }

    // The rules of the header comment applied to recorded steps, in sweep
    // order. run() calls it; call it again to re-read a curve with other
    // warm-up, fraction or minimum settings. Only the leading run of finite
    // records is read.
    range_test_suggestions<T> suggest(const std::vector<range_test_record<T>>& rec) const {
        using detail::to_text;
        const auto num = [](T v) { return detail::reading_text(v); };
        range_test_suggestions<T> out;
        const std::string pct = detail::percent_text(static_cast<double>(fraction_));
        const std::string pct_rest = detail::percent_text(1.0 - static_cast<double>(fraction_));
        out.base_lr.rule = "base_lr (Smith): first lr where the smoothed loss has fallen " + pct +
                           " of the way from its value after the warm-up to its minimum";
        out.max_lr.rule = "max_lr (Smith): first lr where the smoothed loss has fallen " + pct_rest +
                          " of the way to its minimum";
        out.steepest.rule =
            "steepest descent: most negative slope of the smoothed loss against ln(lr), "
            "from the warm-up to the minimum";
        out.min_loss_div10.rule = "fastai: lr at the minimum of the smoothed loss, divided by 10";
        out.valley.rule =
            "fastai's valley: lr about half-way along the longest strictly falling sequence of the "
            "smoothed loss, on fastai's points (the first steps / 10 and the last 5 left out)";
        out.slide.rule =
            "fastai's slide: going back from the last point, lr past the first point whose slope per "
            "step is within 0.005 of the slope 15 points later, on fastai's points";
        out.cyclic.rule = "Smith's bounds: (base_lr, max_lr) as read above";

        auto no_value = [&](lr_suggestion<T>& s, const std::string& why) {
            s.value.reset();
            s.reason = why;
        };
        auto none_at_all = [&](const std::string& why) {
            no_value(out.base_lr, why);
            no_value(out.max_lr, why);
            no_value(out.steepest, why);
            no_value(out.min_loss_div10, why);
            no_value(out.valley, why);
            no_value(out.slide, why);
            out.cyclic.reason = why;
            return out;
        };
        auto found = [](lr_suggestion<T>& s, T value, const range_test_record<T>& r) {
            s.value = value;
            s.step = r.step;
            s.reason.clear();
        };

        std::size_t n = 0;
        while (n < rec.size() && std::isfinite(rec[n].loss) && std::isfinite(rec[n].smoothed_loss) &&
               std::isfinite(rec[n].lr))
            ++n;
        if (n == 0)
            return none_at_all(rec.empty() ? std::string("no points: nothing was recorded")
                                           : "no finite loss: the first loss was " + num(rec[0].loss) +
                                                 " at lr " + num(rec[0].lr));
        // The warm-up must leave a start and a slope with a point either side.
        const std::size_t w = static_cast<std::size_t>(std::min<step_t>(warmup_, detail::max_steps));
        const std::size_t need = std::max(static_cast<std::size_t>(min_points_), w + 3);
        if (n < need)
            return none_at_all("too few points: " + to_text(n) + " finite losses, need at least " +
                               to_text(need));

        const T s_start = rec[w].smoothed_loss;
        std::size_t i_min = w;
        std::size_t i_max = w;
        for (std::size_t i = w + 1; i < n; ++i) {
            if (rec[i].smoothed_loss < rec[i_min].smoothed_loss) i_min = i;
            if (rec[i].smoothed_loss > rec[i_max].smoothed_loss) i_max = i;
        }
        const T s_min = rec[i_min].smoothed_loss;
        const T drop = s_start - s_min;
        const T enough = min_drop_ * std::abs(s_start);
        if (!(drop > enough) || !(drop > T(0))) {
            const std::string need_pct = detail::percent_text(static_cast<double>(min_drop_));
            if (rec[i_max].smoothed_loss - s_start > enough)
                return none_at_all("the smoothed loss never falls by " + need_pct +
                                   " of its starting value " + num(s_start) + " (lr " + num(rec[w].lr) +
                                   "); it rises to " + num(rec[i_max].smoothed_loss) + " at lr " +
                                   num(rec[i_max].lr) +
                                   ": min_lr is already too high, or the model does not learn");
            return none_at_all("flat curve: the smoothed loss stays within " + need_pct +
                               " of its starting value " + num(s_start) + " from lr " + num(rec[w].lr) +
                               " to " + num(rec[n - 1].lr) + ": raise max_lr, or the model does not learn");
        }
        // A minimum on the last point with nothing after it is only where the
        // sweep ended; a diverged or non-finite record after it shows the turn.
        const bool still_falling = i_min == n - 1 && rec.size() == n;
        const std::string falling_reason = "the smoothed loss is still falling at the end of the sweep (lr " +
                                           num(rec[n - 1].lr) + "): raise max_lr and run again";

        // base_lr: the first point past f of the fall. Never w itself, as drop > 0.
        // Both searches stop at i_min at the latest: it meets either bound.
        std::size_t b = w;
        while (b < i_min && !(rec[b].smoothed_loss <= s_start - fraction_ * drop)) ++b;
        found(out.base_lr, rec[b].lr, rec[b]);

        // max_lr: the first point within f of the minimum, or earlier where
        // the accuracy has done 1 - f of its rise.
        std::size_t m = b;
        while (m < i_min && !(rec[m].smoothed_loss <= s_min + fraction_ * drop)) ++m;
        bool from_accuracy = false;
        if (const auto a = accuracy_knee(rec, w, n); a && *a > b && *a < m) {
            m = *a;
            from_accuracy = true;
        }
        if (still_falling && !from_accuracy) {
            no_value(out.max_lr, falling_reason);
        } else {
            found(out.max_lr, rec[m].lr, rec[m]);
            if (from_accuracy)
                out.max_lr.rule = "max_lr (Smith): first lr where the smoothed accuracy has risen " +
                                  pct_rest + " of the way to its peak, before the loss stops falling";
        }

        // steepest: central differences, which put a symmetric fall's steepest
        // point on the grid point nearest its centre.
        std::optional<std::size_t> steep;
        T steepest_slope = T(0);
        const std::size_t lo = std::max<std::size_t>(w, 1);
        const std::size_t hi = std::min(i_min, n - 2);
        for (std::size_t i = lo; i <= hi; ++i) {
            if (!(rec[i - 1].lr > T(0))) continue;  // a linear sweep may start at 0
            const T dx = std::log(rec[i + 1].lr) - std::log(rec[i - 1].lr);
            if (!(dx > T(0))) continue;
            const T slope = (rec[i + 1].smoothed_loss - rec[i - 1].smoothed_loss) / dx;
            if (slope < steepest_slope) {
                steepest_slope = slope;
                steep = i;
            }
        }
        if (!steep)
            no_value(out.steepest,
                     "the smoothed loss never falls between neighbouring points after the warm-up");
        else if (still_falling && *steep == hi)
            no_value(out.steepest,
                     "the steepest slope is at the end of the sweep, so the curve may fall faster "
                     "beyond it (lr " +
                         num(rec[n - 1].lr) + "): raise max_lr and run again");
        else
            found(out.steepest, rec[*steep].lr, rec[*steep]);

        if (still_falling)
            no_value(out.min_loss_div10, falling_reason);
        else
            found(out.min_loss_div10, rec[i_min].lr / T(10), rec[i_min]);
        read_fastai(rec, n, still_falling ? falling_reason : std::string(), out);

        if (!out.max_lr) {
            out.cyclic.reason = out.max_lr.reason;
        } else if (m <= b) {
            out.cyclic.reason = "base_lr and max_lr fall on the same point (lr " + num(rec[b].lr) +
                                "): the loss fell within one step; sweep more finely around it";
        } else {
            out.cyclic.base_lr = rec[b].lr;
            out.cyclic.max_lr = rec[m].lr;
            out.cyclic.reason.clear();
            if (from_accuracy) out.cyclic.rule += " (max_lr from accuracy)";
        }
        return out;
    }

private:
    template <class F>
    range_test_result<T> sweep_with(F& step) const {
        range_test_result<T> r;
        // Bounded: steps may be huge and a divergence usually ends the test early.
        r.records.reserve(static_cast<std::size_t>(std::min<step_t>(steps(), 4096)));
        detail::bias_corrected_ema<T> loss_avg(beta_);
        detail::bias_corrected_ema<T> acc_avg(beta_);
        T best = std::numeric_limits<T>::infinity();
        r.stop_step = steps() - 1;
        for (step_t i = 0; i < steps(); ++i) {
            const T lr = sweep_(i);
            const range_test_step out = detail::to_step(step(lr));
            range_test_record<T> rec{
                i,           lr, static_cast<T>(out.loss), std::numeric_limits<T>::quiet_NaN(), std::nullopt,
                std::nullopt};
            if (out.accuracy) rec.accuracy = static_cast<T>(*out.accuracy);
            if (!std::isfinite(rec.loss)) {
                r.records.push_back(rec);
                r.stop = range_test_stop::non_finite;
                r.stop_step = i;
                break;
            }
            if (rec.accuracy) {
                if (!std::isfinite(*rec.accuracy))
                    detail::fail(who, "accuracy", detail::to_text(*rec.accuracy),
                                 ("must be finite (returned with loss " + detail::to_text(rec.loss) +
                                  " at step " + detail::to_text(i) + ", lr " + detail::to_text(lr) + ")")
                                     .c_str());
                rec.smoothed_accuracy = acc_avg.add(*rec.accuracy);
            }
            rec.smoothed_loss = loss_avg.add(rec.loss);
            r.records.push_back(rec);
            best = std::min(best, rec.smoothed_loss);
            if (best > T(0) && rec.smoothed_loss > factor_ * best) {
                r.stop = range_test_stop::diverged;
                r.stop_step = i;
                break;
            }
        }
        r.suggestions = suggest(r.records);
        return r;
    }

    // The points fastai's lr_find hands its suggestion functions: its
    // recorded (lr, smoothed loss) pairs less the first num_it / 10 and the
    // last 5, cut before the first NaN loss; num_it is steps() here. Those
    // ends are where the average still rests on a few batches and where the
    // loss explodes; the warm-up setting is this library's own and plays no
    // part (the two rules read as fastai's would). A NaN loss does not stop
    // fastai's finder (NaN is never above 4x the best), so its list runs on,
    // all NaN, to num_it, and the five it drops are NaN; a divergence or an
    // infinite loss stops it on that record, as here, and the five include it.
    std::pair<std::size_t, std::size_t> fastai_points(const std::vector<range_test_record<T>>& rec,
                                                      std::size_t n) const {
        const auto whole = [](step_t v) { return static_cast<std::size_t>(std::min(v, detail::max_steps)); };
        const std::size_t lo = whole(steps() / 10);
        std::size_t recorded = rec.size();
        if (n < rec.size() && std::isnan(rec[n].loss)) recorded = std::max(recorded, whole(steps()));
        const std::size_t hi = std::min(n, recorded > 5 ? recorded - 5 : 0);
        return {lo, std::max(lo, hi)};
    }

    // fastai's valley and slide (fastai 2.7, callback/schedule.py), read like
    // fastai's off the smoothed loss (its recorder keeps the same
    // bias-corrected average) on fastai_points, in T where fastai holds them
    // in float32. suggest()'s checks of the curve apply to both, and so does
    // its refusal of a loss still falling at the end (`falling`, empty
    // otherwise): the fall's length, which valley halves, and the turn that
    // slide reads back from are then beyond the sweep.
    void read_fastai(const std::vector<range_test_record<T>>& rec, std::size_t n, const std::string& falling,
                     range_test_suggestions<T>& out) const {
        constexpr std::size_t lag = 15;  // fastai's lr_diff
        const auto [lo, hi] = fastai_points(rec, n);
        const std::string points = detail::to_text(hi - lo) + " of fastai's points (the first " +
                                   detail::to_text(lo) + " and the last 5 left out)";
        if (!falling.empty()) {
            set_none(out.valley, falling);
            set_none(out.slide, falling);
            return;
        }
        // Below 3 points fastai's index e - L + floor(L/3) + floor(L/6) falls
        // before the sequence, at -1 (Python's last point) for one starting at 0.
        const detail::longest_fall v = detail::find_longest_fall(rec, lo, hi);
        if (hi - lo < 3)
            set_none(out.valley, "too few points: " + points + ", need at least 3");
        else if (v.length < 3)
            set_none(out.valley, "the longest strictly falling sequence of the smoothed loss has length " +
                                     detail::to_text(v.length) + " in " + points + ", need at least 3");
        else
            set_found(out.valley, rec[v.end - v.length + v.length / 3 + v.length / 6]);
        if (hi - lo < lag + 1)
            set_none(out.slide, "too few points: " + points + ", need at least " + detail::to_text(lag + 1) +
                                    " (the slope 15 points back)");
        else
            set_found(out.slide, rec[detail::find_slide(rec, lo, hi, lag, T(0.005))]);
    }

    static void set_none(lr_suggestion<T>& s, const std::string& why) {
        s.value.reset();
        s.reason = why;
    }
    static void set_found(lr_suggestion<T>& s, const range_test_record<T>& r) {
        s.value = r.lr;
        s.step = r.step;
        s.reason.clear();
    }

    // The first index where the smoothed accuracy has done 1 - f of its rise
    // from w to its peak; nothing without accuracy on every point or without
    // a rise of min_drop of the peak.
    std::optional<std::size_t> accuracy_knee(const std::vector<range_test_record<T>>& rec, std::size_t w,
                                             std::size_t n) const {
        for (std::size_t i = 0; i < n; ++i)
            if (!rec[i].smoothed_accuracy || !std::isfinite(*rec[i].smoothed_accuracy)) return std::nullopt;
        std::size_t p = w;
        for (std::size_t i = w + 1; i < n; ++i)
            if (*rec[i].smoothed_accuracy > *rec[p].smoothed_accuracy) p = i;
        const T a_start = *rec[w].smoothed_accuracy;
        const T a_peak = *rec[p].smoothed_accuracy;
        const T rise = a_peak - a_start;
        if (!(rise > T(0)) || !(rise > min_drop_ * std::max(std::abs(a_start), std::abs(a_peak))))
            return std::nullopt;
        std::size_t k = w;
        while (k < p && !(*rec[k].smoothed_accuracy >= a_peak - fraction_ * rise)) ++k;
        return k;
    }

    range_sweep<T> sweep_;
    T beta_ = T(0.98);
    T factor_ = T(4);
    step_t warmup_ = 5;
    step_t min_points_ = 10;
    T fraction_ = T(0.05);
    T min_drop_ = T(0.05);
};

}  // namespace clr

#endif  // CLR_LR_FINDER_HPP
