// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// A rate through given points (s_i, v_i), i = 0..K: optax's
// piecewise_interpolate_schedule and piecewise_constant_schedule, written as
// the points themselves rather than as optax's initial value and running
// products of scales. Between s_i <= t < s_(i+1), with p = (t - s_i) / (s_(i+1) - s_i):
//
//     linear:    (v_(i+1) - v_i) p + v_i
//     cosine:    v_(i+1) + (v_i - v_(i+1)) / 2 (cos(pi p) + 1)
//     constant:  v_i (the value changes at the boundary step itself)
//
// and v_0 before s_0, v_K from s_K on (held).
//
//     clr::piecewise<double> s({0, 100, 1000}, {0.0, 0.1, 0.001});   // linear
//     s(0) == 0, s(50) == 0.05, s(100) == 0.1, s(550) == 0.0505, s(1000) == 0.001 (held)
//     auto c = clr::piecewise<double>({100, 300}, {0.1, 0.05})
//                  .with_interpolation(clr::interpolation::constant);
//     c(0) == 0.1, c(299) == 0.1, c(300) == 0.05
//
// Each matches optax (optax/schedules/_schedule.py @ 006cebd2) at every step
// to 1e-12 in double, evaluated in optax's own order. The cosine keeps
// exactly optax's form: rising from 0 it cancels near the segment's start,
// where another form of the same curve differs far beyond 1e-12. Each
// segment's value is kept between its two end values, which those forms can
// overshoot by a rounding, so that bounds() is [min v_i, max v_i] exactly.
//
// Steps are strictly increasing, values finite and not negative, one value
// per step, at least one and at most max_points (16) points, held in the
// schedule itself so that it stays a small trivially copyable value that
// never allocates (as multistep's milestones). Anything else is refused,
// naming `steps` or `values`.
#ifndef CLR_PIECEWISE_HPP
#define CLR_PIECEWISE_HPP

#include "any_schedule.hpp"
#include "describe.hpp"
#include "schedule.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace clr {

// How piecewise joins its points; in text linear, cosine and constant.
enum class interpolation { linear, cosine, constant };

template <class T>
class piecewise : public schedule<piecewise<T>, T> {
    static constexpr const char* who = "clr::piecewise";

public:
    static constexpr std::size_t max_points = 16;

    piecewise(std::initializer_list<step_t> steps, std::initializer_list<T> values)
        : piecewise(steps.begin(), steps.end(), values.begin(), values.end()) {}

    // Any containers of whole step numbers and of numbers
    // (std::vector<clr::step_t>, std::vector<double>, ...).
    template <class Steps, class Values,
              class = std::enable_if_t<
                  std::is_integral_v<std::decay_t<decltype(*std::begin(std::declval<const Steps&>()))>> &&
                  std::is_arithmetic_v<std::decay_t<decltype(*std::begin(std::declval<const Values&>()))>>>>
    piecewise(const Steps& steps, const Values& values)
        : piecewise(std::begin(steps), std::end(steps), std::begin(values), std::end(values)) {}

    // How the points are joined (default linear).
    piecewise with_interpolation(interpolation i) const {
        piecewise c = *this;
        c.interp_ = i;
        return c;
    }

    T lr_at(step_t t) const noexcept {
        if (t < steps_[0]) return values_[0];
        std::size_t i = 0;
        while (i + 1 < count_ && steps_[i + 1] <= t) ++i;
        if (i + 1 == count_ || interp_ == interpolation::constant) return values_[i];
        return segment(i, t);
    }

    range<T> lr_range() const noexcept {
        const auto [lo, hi] = std::minmax_element(values_.begin(), values_.begin() + count_);
        return {*lo, *hi};
    }

    interpolation interpolation_kind() const noexcept { return interp_; }
    std::size_t point_count() const noexcept { return count_; }
    // The i-th point, i < point_count().
    step_t step(std::size_t i) const noexcept { return steps_[i]; }
    T value(std::size_t i) const noexcept { return values_[i]; }

private:
    template <class StepIt, class ValueIt>
    piecewise(StepIt sf, StepIt sl, ValueIt vf, ValueIt vl) {
        const auto n = static_cast<std::size_t>(std::distance(sf, sl));
        const auto m = static_cast<std::size_t>(std::distance(vf, vl));
        if (n == 0) detail::fail(who, "steps", "[]", "must hold at least one step");
        if (n > max_points) too_many("steps", list_text(sf, sl), n);
        if (m > max_points) too_many("values", list_text(vf, vl), m);
        if (m != n)
            detail::fail(who, "values", list_text(vf, vl),
                         ("has " + std::to_string(m) + " values for " + std::to_string(n) +
                          " steps: give one value per step")
                             .c_str());
        std::size_t k = 0;
        for (StepIt it = sf; it != sl; ++it, ++k) steps_[k] = checked_step(sf, sl, *it, k);
        k = 0;
        for (ValueIt it = vf; it != vl; ++it, ++k) values_[k] = checked_value(vf, vl, *it);
        count_ = n;
    }

    // The k-th step: at most 2^62 (a negative int converts to far more) and
    // after the one before.
    template <class It, class S>
    step_t checked_step(It first, It last, S s, std::size_t k) const {
        const auto v = static_cast<step_t>(s);
        if (v > detail::max_steps)
            detail::fail(who, "steps", list_text(first, last),
                         ("holds " + detail::to_text(v) +
                          ", larger than 2^62 (a negative number converted to unsigned?)")
                             .c_str());
        if (k > 0 && v <= steps_[k - 1])
            detail::fail(who, "steps", list_text(first, last),
                         ("must be strictly increasing: " + detail::to_text(v) + " follows " +
                          detail::to_text(steps_[k - 1]))
                             .c_str());
        return v;
    }

    // A rate: finite and not negative, as every rate of the library; checked
    // before it is converted, since a double beyond float's range has no float.
    template <class It, class V>
    static T checked_value(It first, It last, V v) {
        if constexpr (std::is_floating_point_v<V>) {
            if (!std::isfinite(v))
                detail::fail(who, "values", list_text(first, last),
                             ("holds " + detail::to_text(v) + ", not finite").c_str());
            if (std::abs(static_cast<long double>(v)) >
                static_cast<long double>(std::numeric_limits<T>::max()))
                detail::fail(
                    who, "values", list_text(first, last),
                    ("holds " + detail::to_text(v) + ", beyond the range of the schedule's type").c_str());
        }
        if constexpr (std::is_signed_v<V>)
            if (v < V(0))
                detail::fail(who, "values", list_text(first, last),
                             ("holds " + detail::to_text(v) + ": rates must not be negative").c_str());
        return static_cast<T>(v);
    }

    [[noreturn]] static void too_many(const char* param, const std::string& text, std::size_t n) {
        detail::fail(who, param, text,
                     ("has " + std::to_string(n) + " entries; at most " + std::to_string(max_points) +
                      " points are allowed")
                         .c_str());
    }

    // optax's interpolation in [s_i, s_(i+1)), in its order of operations,
    // kept between the two end values.
    T segment(std::size_t i, step_t t) const noexcept {
        const T a = values_[i], b = values_[i + 1];
        const T p = static_cast<T>(t - steps_[i]) / static_cast<T>(steps_[i + 1] - steps_[i]);
        const T v = interp_ == interpolation::cosine
                        ? b + (a - b) / T(2) * (std::cos(detail::pi<T> * p) + T(1))
                        : (b - a) * p + a;
        return std::min(std::max(v, std::min(a, b)), std::max(a, b));
    }

    // "[0, 100, 1000]" for messages; long lists are cut short.
    template <class It>
    static std::string list_text(It first, It last) {
        std::string s = "[";
        std::size_t n = 0;
        for (It it = first; it != last; ++it, ++n) {
            if (n == max_points + 2) {
                s += ", ...";
                break;
            }
            if (n > 0) s += ", ";
            s += detail::to_text(*it);
        }
        return s + "]";
    }

    std::array<step_t, max_points> steps_{};
    std::array<T, max_points> values_{};
    std::size_t count_ = 0;
    interpolation interp_ = interpolation::linear;
};

// piecewise(steps=[0, 100, 1000], values=[0, 0.1, 0.001]), interpolation
// when not linear. The flags are piecewise's own: --steps is a program's run
// length (schedule_plot's), not a list of points.
template <class T>
struct describe<piecewise<T>> {
    static constexpr const char* name = "piecewise";
    static constexpr parameter parameters[] = {
        {"steps", value_kind::lengths, required, "the points' steps, strictly increasing", "",
         "piecewise-steps"},
        {"values", value_kind::numbers, required, "the rate at each step", "", "piecewise-values"},
        {"interpolation", value_kind::word, "linear", "how the points are joined", "linear|cosine|constant"},
    };
    static piecewise<T> make(const arguments<T>& a) {
        return piecewise<T>(a.lengths("steps"), a.numbers("values"))
            .with_interpolation(static_cast<interpolation>(a.word("interpolation")));
    }
    template <class W>
    static void write(W& w, const piecewise<T>& s) {
        std::vector<step_t> steps;
        std::vector<T> values;
        for (std::size_t i = 0; i < s.point_count(); ++i) {
            steps.push_back(s.step(i));
            values.push_back(s.value(i));
        }
        static constexpr const char* names[] = {"linear", "cosine", "constant"};
        w("steps", steps)("values", values)("interpolation", names[static_cast<int>(s.interpolation_kind())]);
    }
};

}  // namespace clr

#endif  // CLR_PIECEWISE_HPP
