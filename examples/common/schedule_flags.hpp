// The command-line flags that choose a clr schedule, shared by the examples so
// that every program takes the same names and the same flags:
//
//     --schedule triangular --base-lr 0.001 --max-lr 0.006 --step-size 2000
//     --schedule 'triangular(base_lr=0.001, max_lr=0.006, step_size=2000)'
//
// Everything about the schedules comes from the library's descriptions
// (clr::schedule_catalog): which schedules there are, which flags each takes,
// the help text and the defaults. The schedule itself is built through the
// library's text form, which the programs print so that a run can be
// repeated from its log. A schedule added to the library is on every
// program's command line with nothing edited here.
//
//     schedule_flags::choice c;
//     schedule_flags::add_schedule_flags(app, c);
//     ... parse ...
//     c.run_length = steps;   // what one_cycle and the decays span by default, and 5% counts
//     c.steps_per_epoch = n;  // what 2.5ep counts
//     clr::any_schedule<float> s = schedule_flags::build<float>(c);   // option_error naming the flag
#pragma once

#include <clr/any_schedule.hpp>
#include <clr/clr.hpp>
#include <clr/text.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace schedule_flags {

// A bad flag. what() is "<flag>: <problem>", so a program prints it after its
// own name and the user sees which flag to fix; the program exits 2.
class option_error : public std::invalid_argument {
public:
    // note qualifies the flag in the message: "--max-lr (default): ...".
    option_error(const std::string& flag, const std::string& problem, const std::string& note = "")
        : std::invalid_argument(flag.empty() ? problem
                                             : flag + (note.empty() ? "" : " " + note) + ": " + problem),
          flag_(flag) {}

    // Empty when no single flag is to blame.
    const std::string& flag() const noexcept { return flag_; }

private:
    std::string flag_;
};

// ---- strict value parsers: a typo is an error, not a number -----------------
// Each throws CLI::ValidationError, which CLI11 reports as "<flag>: <problem>".

// A finite decimal number. Overflow and underflow to zero are errors: 1e-400
// would otherwise silently become 0. A subnormal value (1e-310) is a double
// like any other and is kept, although strtod reports ERANGE for it.
inline double parse_number(const std::string& flag, const std::string& text) {
    const char* s = text.c_str();
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s, &end);
    const int err = errno;
    if (text.empty() || end != s + text.size() || std::isspace(static_cast<unsigned char>(text.front())))
        throw CLI::ValidationError(flag, "'" + clr::excerpt(text) + "' is not a number");
    if (std::isnan(v)) throw CLI::ValidationError(flag, "'" + clr::excerpt(text) + "' is not a number (NaN)");
    if (err == ERANGE && (v == 0 || std::isinf(v)))
        throw CLI::ValidationError(flag, "'" + clr::excerpt(text) + "' is outside the range of a double");
    if (!std::isfinite(v)) throw CLI::ValidationError(flag, "'" + clr::excerpt(text) + "' must be finite");
    return v;
}

// A whole number in [lo, hi], decimal digits only: strtoull and CLI11 would
// accept "-1" as 2^64 - 1, and a number past 2^64 - 1 must not be clamped to it.
// `what` names the kind of number in the message ("a whole number of steps").
inline std::uint64_t parse_unsigned(const std::string& flag, const std::string& text, std::uint64_t lo,
                                    std::uint64_t hi, const char* what = "a whole number") {
    std::uint64_t v = 0;
    const char* first = text.data();
    const char* last = first + text.size();
    const auto r = std::from_chars(first, last, v);
    const bool digits_only = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits_only || r.ptr != last)
        throw CLI::ValidationError(flag, "'" + clr::excerpt(text) + "' is not " + what);
    if (r.ec == std::errc::result_out_of_range || v > hi)
        throw CLI::ValidationError(flag, clr::excerpt(text) + " must be at most " + std::to_string(hi));
    if (v < lo)
        throw CLI::ValidationError(flag, clr::excerpt(text) + " must be at least " + std::to_string(lo));
    return v;
}

// A count of steps in [lo, hi].
inline std::uint64_t parse_steps(const std::string& flag, const std::string& text, std::uint64_t lo = 1,
                                 std::uint64_t hi = clr::max_steps) {
    return parse_unsigned(flag, text, lo, hi, "a whole number of steps");
}

// A length: whole steps (checked here), or epochs "2.5ep" or a share of the
// run "5%", which the library resolves against the run and checks.
inline std::string parse_length(const std::string& flag, const std::string& text, std::uint64_t lo = 1) {
    const bool unit = text.size() > 1 && (text.back() == '%' || text.compare(text.size() - 2, 2, "ep") == 0);
    if (!unit) return std::to_string(parse_steps(flag, text, lo));
    const std::string number = text.substr(0, text.size() - (text.back() == '%' ? 1 : 2));
    const double x = parse_number(flag, number);
    if (x < 0) throw CLI::ValidationError(flag, "'" + clr::excerpt(text) + "' must not be negative");
    return text;
}

// Items separated by commas, "30,80,120", as the text form's list "[30, 80, 120]",
// each read by `item`; `example` shows the form in the message for an empty one.
template <class Item>
std::string parse_list(const std::string& flag, const std::string& text, const char* example, Item&& item) {
    std::string out;
    std::string::size_type start = 0;
    while (true) {
        const auto comma = text.find(',', start);
        const std::string one =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (one.empty())
            throw CLI::ValidationError(flag,
                                       "'" + clr::excerpt(text) + "' has an empty entry; write " + example);
        out += (out.empty() ? "" : ", ") + item(one);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return "[" + out + "]";
}

// Steps: order and repeats are left to the library, which names the flag if
// they are wrong.
inline std::string parse_step_list(const std::string& flag, const std::string& text) {
    return parse_list(flag, text, "steps as 30,80,120",
                      [&](const std::string& one) { return parse_length(flag, one, 0); });
}

inline std::string parse_number_list(const std::string& flag, const std::string& text) {
    return parse_list(flag, text, "numbers as 0.1,0.05",
                      [&](const std::string& one) { return clr::format_number(parse_number(flag, one)); });
}

// ---- the flags and the schedules ----------------------------------------------
// Everything here comes from the library's descriptions of its schedules
// (clr::schedule_catalog, clr/describe.hpp): their names, their parameters,
// each parameter's flag, kind, default and help.

enum class kind { number, count, steps, step_list, number_list, word, flag };

// Every parameter flag, what it means whatever the schedule, and its kind.
struct flag_spec {
    std::string flag;
    kind k;
    std::string meaning;
    std::string choices;  // a word's: "cos|linear"
};

// One parameter of a schedule: the flag that sets it, the library's name for
// it (the key of the text form), and its default: `required` (no default),
// `library` (left to the library: an option, or the run's length) or a value.
struct param {
    std::string flag;
    std::string key;
    const char* fallback;
};

inline constexpr const char* required = nullptr;
inline constexpr const char* library = "";

struct schedule_entry {
    std::string name;
    std::vector<param> params;
};

namespace detail {

inline std::string flag_of(const clr::parameter& p) {
    std::string f = "--" + std::string(*p.flag ? p.flag : p.key);
    for (char& c : f)
        if (c == '_') c = '-';
    return f;
}

// "cos|linear" as {"cos", "linear"}.
inline std::vector<std::string> words(const std::string& choices) {
    std::vector<std::string> w(1);
    for (char ch : choices)
        if (ch == '|')
            w.emplace_back();
        else
            w.back() += ch;
    return w;
}

inline kind kind_of(const clr::parameter& p) {
    switch (p.kind) {
        case clr::value_kind::length: return kind::steps;
        case clr::value_kind::count: return kind::count;
        case clr::value_kind::lengths: return kind::step_list;
        case clr::value_kind::numbers: return kind::number_list;
        case clr::value_kind::word: return std::string(p.choices) == "false|true" ? kind::flag : kind::word;
        default: return kind::number;
    }
}

// The schedules a program can name with --schedule alone: all but the
// combinators, which take schedules (warmup, sequence: their text forms).
inline bool takes_schedules(const clr::schedule_entry<double>& e) {
    for (const auto& p : e.parameters)
        if (p.kind == clr::value_kind::schedule || p.kind == clr::value_kind::pieces) return true;
    return false;
}

// The programs' defaults where the library has none: Keras's CyclicLR
// (0.001, 0.006, 2000), so that a bare `--schedule triangular` is the paper's
// example. They apply to the schedules that take all three: the cyclic ones.
inline const char* program_default(const clr::schedule_entry<double>& e, const std::string& key) {
    static const std::pair<const char*, const char*> keras[] = {
        {"base_lr", "0.001"}, {"max_lr", "0.006"}, {"step_size", "2000"}};
    for (const auto& [k, v] : keras)
        if (!e.parameters.find(k)) return nullptr;
    for (const auto& [k, v] : keras)
        if (key == k) return v;
    return nullptr;
}

}  // namespace detail

inline const std::vector<schedule_entry>& schedules() {
    static const std::vector<schedule_entry> table = [] {
        std::vector<schedule_entry> t;
        for (const auto& e : clr::schedule_catalog<double>()) {
            if (detail::takes_schedules(e)) continue;
            schedule_entry s{e.name, {}};
            for (const auto& p : e.parameters) {
                const char* d = p.fallback == clr::required ? detail::program_default(e, p.key) : library;
                s.params.push_back({detail::flag_of(p), p.key, d});
            }
            t.push_back(std::move(s));
        }
        return t;
    }();
    return table;
}

inline const std::vector<flag_spec>& flags() {
    static const std::vector<flag_spec> table = [] {
        std::vector<flag_spec> t;
        for (const auto& e : clr::schedule_catalog<double>()) {
            if (detail::takes_schedules(e)) continue;
            for (const auto& p : e.parameters) {
                const std::string f = detail::flag_of(p);
                if (std::none_of(t.begin(), t.end(), [&](const flag_spec& x) { return x.flag == f; }))
                    t.push_back({f, detail::kind_of(p), p.help, p.choices});
            }
        }
        return t;
    }();
    return table;
}

// The library's default of a parameter, for the help: "0.1", "the run".
inline std::string library_default(const std::string& schedule, const std::string& key) {
    for (const auto& e : clr::schedule_catalog<double>())
        if (schedule == e.name)
            if (const clr::parameter* p = e.parameters.find(key))
                return p->fallback == clr::required         ? ""
                       : std::string(p->fallback) == "100%" ? "the run"
                                                            : p->fallback;
    return "";
}

inline const schedule_entry* find_schedule(const std::string& name) {
    for (const auto& e : schedules())
        if (name == e.name) return &e;
    return nullptr;
}

inline const param* find_param(const schedule_entry& e, const std::string& flag) {
    for (const auto& p : e.params)
        if (flag == p.flag) return &p;
    return nullptr;
}

inline std::string schedule_names(const char* sep) {
    std::string s;
    for (const auto& e : schedules()) s += (s.empty() ? "" : sep) + e.name;
    return s;
}

// The flags as given. `schedule` is a name of schedules() or a text form.
struct choice {
    std::string schedule;
    std::map<std::string, std::string> values;  // flag -> its validated text
    std::map<std::string, double> numbers;      // the number flags, read
    // What lengths in % (and one_cycle's and the decays' total_steps, when
    // --total-steps is not given) count: the program's run, in steps. Without
    // it --total-steps is required.
    std::optional<clr::step_t> run_length;
    // What lengths in epochs (2.5ep) count.
    std::optional<clr::step_t> steps_per_epoch;

    // A text form names its schedule and opens parentheses: "cosine(lr=0.1, ...)".
    bool is_text() const { return schedule.find('(') != std::string::npos; }
    bool given(const std::string& flag) const { return values.count(flag) != 0; }
    void set(const std::string& flag, double v) {
        values[flag] = clr::format_number(v);
        numbers[flag] = v;
    }
};

namespace detail {

template <class T>
constexpr const char* type_name() noexcept {
    return std::is_same_v<T, float> ? "float" : std::is_same_v<T, double> ? "double" : "long double";
}

// A flag's value in the schedule's type. Narrowing to float must not turn
// 1e-50 into 0 or 1e300 into infinity without a word.
template <class T>
T narrow(const std::string& flag, double x) {
    using clr::format_number;
    const T y = static_cast<T>(x);
    if (!std::isfinite(y))
        throw option_error(flag, format_number(x) + " does not fit in a " + type_name<T>() + " (largest " +
                                     format_number(static_cast<double>(std::numeric_limits<T>::max())) + ")");
    if (x != 0 && y == 0)
        throw option_error(
            flag, format_number(x) + " does not fit in a " + type_name<T>() + " (smallest positive " +
                      format_number(static_cast<double>(std::numeric_limits<T>::denorm_min())) + ")");
    return y;
}

// The schedules that take `flag`, for the message refusing it elsewhere.
inline std::string schedules_taking(const std::string& flag) {
    std::string s;
    for (const auto& e : schedules())
        if (find_param(e, flag)) s += (s.empty() ? "" : ", ") + std::string(e.name);
    return s;
}

}  // namespace detail

// Checks the flags against the schedule and writes its text form in the
// schedule's type T: every number as T holds it, so that the text is the
// schedule exactly. Throws option_error naming the flag.
template <class T>
std::string text_form(const choice& c) {
    if (c.is_text()) {
        if (!c.values.empty())
            throw option_error(c.values.begin()->first,
                               "cannot be combined with a text-form --schedule, which sets every parameter");
        return c.schedule;
    }
    const schedule_entry* e = find_schedule(c.schedule);
    if (!e)
        throw option_error("--schedule", c.schedule.empty()
                                             ? std::string("is required")
                                             : "'" + clr::excerpt(c.schedule) + "' is not a schedule");
    for (const auto& [flag, value] : c.values)
        if (!find_param(*e, flag))
            throw option_error(flag, "does not apply to --schedule " + clr::excerpt(c.schedule) +
                                         " (only to " + detail::schedules_taking(flag) + ")");
    std::string args;
    for (const auto& p : e->params) {
        std::string value;
        if (const auto n = c.numbers.find(p.flag); n != c.numbers.end())
            value = clr::format_number(detail::narrow<T>(p.flag, n->second));
        else if (c.given(p.flag))
            value = c.values.at(p.flag);
        else if (p.fallback == required)
            throw option_error(p.flag, "required for --schedule " + c.schedule);
        else if (*p.fallback == '\0')
            continue;
        else
            value = p.fallback;
        args += (args.empty() ? "" : ", ") + std::string(p.key) + "=" + value;
    }
    return c.schedule + "(" + args + ")";
}

// The schedule the flags describe. A value the library refuses is blamed on
// the flag that set it, found through the library's parameter name, and
// marked "(default)" when the user did not give that flag.
template <class T>
clr::any_schedule<T> build(const choice& c) {
    const std::string text = text_form<T>(c);
    try {
        return clr::parse_schedule<T>(text, {c.steps_per_epoch.value_or(0), c.run_length.value_or(0)});
    } catch (const clr::invalid_parameter& e) {
        const schedule_entry* entry = c.is_text() ? nullptr : find_schedule(c.schedule);
        const param* p = nullptr;
        if (entry)
            for (const auto& q : entry->params)
                if (e.param() == q.key) p = &q;
        if (!p) throw option_error("--schedule", e.what());
        throw option_error(p->flag, e.who() + ": " + e.param() + " = " + e.value() + " " + e.problem(),
                           c.given(p->flag) ? "" : "(default)");
    }
}

// ---- the command line ------------------------------------------------------------

// The help of one flag, from the entries: what it sets in each schedule that
// takes it, and the default there.
inline std::string flag_help(const flag_spec& f) {
    std::string s = f.meaning;
    std::string uses;
    // Schedules that use the flag alike are listed together.
    std::vector<std::pair<std::string, std::string>> groups;  // "key, default" -> schedules
    for (const auto& e : schedules()) {
        const param* p = find_param(e, f.flag);
        if (!p) continue;
        const std::string lib = library_default(e.name, p->key);
        const std::string how = p->key + (p->fallback == required ? ", required"
                                          : *p->fallback != '\0'  ? ", default " + std::string(p->fallback)
                                          : lib.empty()           ? ""
                                                                  : ", default " + lib);
        auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == how; });
        if (g == groups.end())
            groups.emplace_back(how, e.name);
        else
            g->second += std::string(" ") + e.name;
    }
    for (const auto& [how, names] : groups) {
        if (!uses.empty()) uses += "; ";
        uses += names;
        uses += ": ";
        uses += how;
    }
    return s + " (" + uses + ")";
}

// Which flags each schedule takes, one line per schedule: for --help.
inline std::string flags_by_schedule() {
    std::string s = "Parameter flags per schedule (others are refused):\n";
    for (const auto& e : schedules()) {
        std::string line = "  " + e.name;
        line.resize(std::max<std::size_t>(line.size() + 1, 19), ' ');
        for (const auto& p : e.params) line += " " + p.flag;
        s += line + "\n";
    }
    return s +
           "Or give --schedule the text form, e.g. 'triangular(base_lr=0.001, max_lr=0.006, "
           "step_size=2000)', "
           "with no parameter flags.\n";
}

// Adds --schedule and every parameter flag to app, filling c as they parse.
// --schedule is required unless c.schedule is preset.
inline void add_schedule_flags(CLI::App& app, choice& c) {
    const CLI::Validator schedule_check(
        [](std::string& v) -> std::string {
            if (v.find('(') != std::string::npos || find_schedule(v)) return {};
            return "'" + clr::excerpt(v) + "' is not a schedule; use one of " + schedule_names(", ") +
                   ", or a text form such as 'triangular(base_lr=0.001, max_lr=0.006, step_size=2000)'";
        },
        "");
    auto* sched = app.add_option("--schedule", c.schedule,
                                 "Schedule: " + schedule_names(", ") +
                                     "; or its text form, as the runs print it (then no parameter flags)")
                      ->check(schedule_check)
                      ->type_name("NAME|TEXT");
    if (c.schedule.empty()) sched->required();

    std::map<std::string, CLI::Option*> added;
    for (const auto& f : flags()) {
        const std::string flag = f.flag;
        CLI::Option* o = nullptr;
        switch (f.k) {
            case kind::number:
                o = app.add_option_function<std::string>(
                           flag, [flag, &c](const std::string& v) { c.set(flag, parse_number(flag, v)); },
                           flag_help(f))
                        ->type_name("X");
                break;
            case kind::count:
                o = app.add_option_function<std::string>(
                           flag,
                           [flag, &c](const std::string& v) {
                               c.values[flag] = std::to_string(parse_unsigned(flag, v, 0, clr::max_steps));
                           },
                           flag_help(f))
                        ->type_name("N");
                break;
            case kind::steps:
                o = app.add_option_function<std::string>(
                           flag, [flag, &c](const std::string& v) { c.values[flag] = parse_length(flag, v); },
                           flag_help(f) + "; in steps, epochs (2.5ep) or % of the run")
                        ->type_name("N|Xep|X%");
                break;
            case kind::step_list:
                o = app.add_option_function<std::string>(
                           flag,
                           [flag, &c](const std::string& v) { c.values[flag] = parse_step_list(flag, v); },
                           flag_help(f) + ", at most " +
                               std::to_string(clr::multistep<double>::max_milestones))
                        ->type_name("N,N,...");
                break;
            case kind::number_list:
                o = app.add_option_function<std::string>(
                           flag,
                           [flag, &c](const std::string& v) { c.values[flag] = parse_number_list(flag, v); },
                           flag_help(f))
                        ->type_name("X,X,...");
                break;
            case kind::word:
                o = app.add_option_function<std::string>(
                           flag, [flag, &c](const std::string& v) { c.values[flag] = v; }, flag_help(f))
                        ->check(CLI::IsMember(detail::words(f.choices)).description(""))
                        ->type_name(f.choices);
                break;
            case kind::flag:
                // A flag's value can be given (--three-phase=false); it is recorded
                // either way, so that it too is refused for a schedule it does not fit.
                o = app.add_flag_function(
                    flag, [flag, &c](std::int64_t n) { c.values[flag] = n > 0 ? "true" : "false"; },
                    flag_help(f));
                break;
        }
        added[flag] = o;
    }
    // One momentum bound alone would silently cycle nothing.
    added["--base-momentum"]->needs(added["--max-momentum"]);
    added["--max-momentum"]->needs(added["--base-momentum"]);
}

// The longest refusal printed, in bytes: the longest of the programs' own
// (an unknown --schedule, with the list of schedules) is 340.
inline constexpr std::size_t max_message = 500;

// Parses the command line the way every example reports it, printing
// nothing: the text --help shows goes to `out`, a refusal's one-line message
// (without the program's name) to `err`. Returns the status to exit with (0
// after --help, 2 for a bad flag or value), or nothing when the program
// should go on. For a program that decides who prints (one rank of several).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, std::string& out,
                                             std::string& err) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        std::ostringstream o, ignored;
        const int status = app.exit(e, o, ignored);
        out = o.str();
        return status;
    } catch (const CLI::CallForAllHelp& e) {
        std::ostringstream o, ignored;
        const int status = app.exit(e, o, ignored);
        out = o.str();
        return status;
    } catch (const CLI::ValidationError& e) {
        // These carry the program's own messages, already naming the flag.
        err = clr::excerpt(e.what(), max_message);
        return 2;
    } catch (const CLI::ParseError& e) {
        // CLI11 quotes the argument it refused whole: one line, cut if long.
        err = clr::excerpt(e.what(), max_message) + " (see --help)";
        return 2;
    }
    return std::nullopt;
}

// The same, printing: help on stdout, "<program>: <message>" on stderr.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, const char* program) {
    std::string out, err;
    const std::optional<int> status = parse_command_line(app, argc, argv, out, err);
    std::fputs(out.c_str(), stdout);
    if (!err.empty()) std::fprintf(stderr, "%s: %s\n", program, err.c_str());
    return status;
}

}  // namespace schedule_flags
