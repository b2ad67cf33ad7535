// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The schedules clr::parse_schedule knows, and the writer of text forms.
// Each schedule's header puts it in the catalog beside its description
// (describe.hpp) with one clr::enlist line, so no list of schedules is kept
// anywhere else; programs read the catalog for their flags and help.
#ifndef CLR_CATALOG_HPP
#define CLR_CATALOG_HPP

#include "describe.hpp"
#include "schedule.hpp"

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

template <class T>
std::vector<schedule_entry<T>>& enlisted() {
    static std::vector<schedule_entry<T>> entries;
    return entries;
}

template <class S>
schedule_entry<typename S::value_type> entry_of() {
    using T = typename S::value_type;
    return {describe<S>::name, parameters_of<S>(),
            [](const arguments<T>& a) -> any_schedule<T> { return describe<S>::make(a); }};
}

// In order of name, so that every program lists them alike, whatever order
// its headers came in.
template <class T>
void enlist_entry(const schedule_entry<T>& e) {
    auto& all = enlisted<T>();
    auto at = all.begin();
    while (at != all.end() && std::string_view(at->name) < e.name) ++at;
    all.insert(at, e);
}

template <class... S>
struct type_list {};

template <class T, class... S>
std::vector<schedule_entry<T>> catalog_of(type_list<S...>) {
    std::vector<schedule_entry<T>> all = enlisted<T>();
    all.insert(all.end(), {entry_of<S>()...});
    return all;
}

}  // namespace detail

// Puts a schedule template into parse_schedule's catalog, in float, double
// and long double, where its header is included: each of the library's
// headers does so beside its description,
//     inline const bool wsd_enlisted = clr::enlist<clr::wsd>();
// so that adding a schedule touches no list elsewhere.
template <template <class> class S>
bool enlist() {
    detail::enlist_entry(detail::entry_of<S<float>>());
    detail::enlist_entry(detail::entry_of<S<double>>());
    detail::enlist_entry(detail::entry_of<S<long double>>());
    return true;
}

// Every schedule enlisted, in the order their headers were included, and
// then the user's own (Extra..., each with a clr::describe): what
// parse_schedule reads, what programs list in their help and flags.
template <class T, class... Extra>
const std::vector<schedule_entry<T>>& schedule_catalog() {
    if constexpr (sizeof...(Extra) == 0) {
        return detail::enlisted<T>();
    } else {
        static const std::vector<schedule_entry<T>> entries =
            detail::catalog_of<T>(detail::type_list<Extra...>());
        return entries;
    }
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
        } else if constexpr (std::is_floating_point_v<V>) {
            if (!is_default(p, v)) field(key, to_text(v));
        } else if constexpr (std::is_integral_v<V>) {
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
