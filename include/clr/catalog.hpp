// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The schedules clr::parse_schedule knows, and the writer of text forms.
// The catalog is built from each schedule's description (describe.hpp) and
// the list of the library's schedule types in clr.hpp; programs read it for
// their flags and help.
#ifndef CLR_CATALOG_HPP
#define CLR_CATALOG_HPP

#include "describe.hpp"
#include "schedule.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace clr {

// One schedule parse_schedule knows: its name, parameters and maker.
template <class T>
struct schedule_entry {
    const char* name;
    parameter_list parameters;
    any_schedule<T> (*make)(const arguments<T>&);
};

namespace detail {

template <class S>
schedule_entry<typename S::value_type> entry_of() {
    using T = typename S::value_type;
    return {describe<S>::name, parameters_of<S>(),
            [](const arguments<T>& a) -> any_schedule<T> { return describe<S>::make(a); }};
}

template <class... S>
struct type_list {};

template <class A, class B>
struct join_lists;
template <class... A, class... B>
struct join_lists<type_list<A...>, type_list<B...>> {
    using type = type_list<A..., B...>;
};
template <class A, class B>
using join_t = typename join_lists<A, B>::type;

// The entries of the schedules listed, in order of name, so that help and
// error messages list them alike in every program.
template <class T, class... S>
std::vector<schedule_entry<T>> catalog_of(type_list<S...>) {
    std::vector<schedule_entry<T>> all{entry_of<S>()...};
    std::stable_sort(all.begin(), all.end(), [](const schedule_entry<T>& x, const schedule_entry<T>& y) {
        return std::string_view(x.name) < std::string_view(y.name);
    });
    return all;
}

}  // namespace detail

// The library's schedules as a detail::type_list, for schedule_catalog:
// defined in clr.hpp, beside the includes of their headers, which is the one
// place a new schedule is added besides its own header.
template <class T>
struct library_schedules;

// Every schedule of the library, then the user's own (Extra..., each with a
// clr::describe), in order of name: what parse_schedule reads, what programs
// list in their help and flags. Needs <clr/clr.hpp> (or <clr/text.hpp>).
// Built once per T and Extra..., at the first call; only a program that
// calls it pays for building every schedule's maker.
template <class T, class... Extra>
const std::vector<schedule_entry<T>>& schedule_catalog() {
    static const std::vector<schedule_entry<T>> entries = detail::catalog_of<T>(
        detail::join_t<typename library_schedules<T>::type, detail::type_list<Extra...>>());
    return entries;
}

namespace detail {

// Writes name(key=value, ...) from a description's write(): the values in
// the order given, each left out when it is its parameter's default.
class text_writer {
public:
    text_writer(const char* name, parameter_list params) : params_(params), text_(std::string(name) + "(") {}

    template <class V>
    text_writer& operator()(const char* key, const V& v) {
        const parameter& p = spec(key);
        if constexpr (is_optional<V>::value) {
            if (v) (*this)(key, *v);
        } else if constexpr (is_schedule_v<V>) {
            positional(text_of(v));
        } else if constexpr (std::is_arithmetic_v<V>) {  // a number or a count
            if (!is_default(p, v)) field(key, to_text(v));
        } else if constexpr (std::is_convertible_v<const V&, std::string_view>) {
            if (p.fallback == required || std::string_view(v) != p.fallback) field(key, std::string(v));
        } else {  // a list
            std::string s = "[";
            for (const auto& x : v) s += (s.size() > 1 ? ", " : "") + to_text(x);
            field(key, s + "]");
        }
        return *this;
    }

    // An argument without a key: a nested schedule's text or a step count.
    text_writer& positional(const std::string& value) {
        next();
        text_ += value;
        return *this;
    }

    std::string finish() const { return text_ + ')'; }

private:
    template <class V>
    struct is_optional : std::false_type {};
    template <class V>
    struct is_optional<std::optional<V>> : std::true_type {};

    const parameter& spec(const char* key) const {
        const parameter* p = params_.find(key);
        if (!p)
            throw std::logic_error(std::string("clr::describe: write() gives ") + key + ", not a parameter");
        return *p;
    }

    // -0 is not the default 0: it reads back as itself, so lr and bounds keep their sign.
    template <class V>
    static bool is_default(const parameter& p, V v) {
        if (p.fallback == required || *p.fallback == '\0') return false;
        V d{};
        const char* last = p.fallback + std::strlen(p.fallback);
        const auto r = std::from_chars(p.fallback, last, d);
        if (r.ec != std::errc() || r.ptr != last) return false;  // "100%": resolved, so written
        if constexpr (std::is_floating_point_v<V>)
            return v == d && std::signbit(v) == std::signbit(d);
        else
            return v == d;
    }

    void field(const char* key, const std::string& value) {
        next();
        text_ += key;
        text_ += '=';
        text_ += value;
    }

    void next() {
        if (text_.back() != '(') text_ += ", ";
    }

    parameter_list params_;
    std::string text_;
};

template <class S>
std::string text_of(const S& s) {
    static_assert(has_text_form_v<S>,
                  "clr::to_string: this schedule has no clr::describe (a cyclic schedule with a user scale "
                  "function has no text form: code, not data)");
    if constexpr (std::is_same_v<S, any_schedule<typename S::value_type>>) {
        return any_text(s);
    } else {
        text_writer w(describe<S>::name, parameters_of<S>());
        describe<S>::write(w, s);
        return w.finish();
    }
}

}  // namespace detail

}  // namespace clr

#endif  // CLR_CATALOG_HPP
