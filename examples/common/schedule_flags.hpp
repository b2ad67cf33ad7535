// The command-line flags that choose a clr schedule, shared by the examples so
// that every program takes the same names and the same flags:
//
//     --schedule triangular --base-lr 0.001 --max-lr 0.006 --step-size 2000
//     --schedule 'triangular(base_lr=0.001, max_lr=0.006, step_size=2000)'
//
// Each schedule is one entry of `schedules()`: its name and, for each of its
// parameters, the flag that sets it, the library's name for it and its
// default. Everything else is derived from the entries: which flags a
// schedule takes, the help text, the checks, and the schedule itself, built
// through the library's text form, which the programs print so that a run
// can be repeated from its log. Adding a schedule is adding an entry (and a
// row of `flags()` if it brings a new flag).
//
//     schedule_flags::choice c;
//     schedule_flags::add_schedule_flags(app, c);
//     ... parse ...
//     c.run_length = steps;   // what one_cycle and the decays span by default
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

// Steps separated by commas, "30,80,120", as the text form's list "[30, 80, 120]".
// Order and repeats are left to the library, which names the flag if they are wrong.
inline std::string parse_step_list(const std::string& flag, const std::string& text) {
    std::string out;
    std::string::size_type start = 0;
    while (true) {
        const auto comma = text.find(',', start);
        const std::string item =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (item.empty())
            throw CLI::ValidationError(
                flag, "'" + clr::excerpt(text) + "' has an empty entry; write steps as 30,80,120");
        out += (out.empty() ? "" : ", ") + std::to_string(parse_steps(flag, item, 0));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return "[" + out + "]";
}

// ---- the flags and the schedules ----------------------------------------------

enum class kind { number, steps, step_list, word, flag };

// Every parameter flag, what it means whatever the schedule, and its kind.
struct flag_spec {
    const char* flag;
    kind k;
    const char* meaning;
};

inline const std::vector<flag_spec>& flags() {
    static const std::vector<flag_spec> table = {
        {"--base-lr", kind::number, "The lower rate: the bottom of a cycle, the floor of a decay"},
        {"--max-lr", kind::number, "The upper rate: the peak of a cycle, the start of a decay"},
        {"--start-lr", kind::number, "The rate at step 0"},
        {"--end-lr", kind::number, "The rate at --total-steps and after"},
        {"--step-size", kind::steps, "Steps of a half cycle, of the first period, or between decays"},
        {"--step-size-down", kind::steps, "Steps of the falling half of a cycle (default: --step-size)"},
        {"--total-steps", kind::steps, "Length of the schedule in steps"},
        {"--gamma", kind::number, "Decay factor: per step, per --step-size, or per milestone"},
        {"--t-mult", kind::number, "Period growth per restart, >= 1"},
        {"--m-mul", kind::number, "Peak decay per restart"},
        {"--power", kind::number, "Exponent of the decay"},
        {"--milestones", kind::step_list,
         "Steps where the rate is multiplied by --gamma, strictly increasing"},
        {"--pct-start", kind::number, "Fraction of the steps spent climbing"},
        {"--div-factor", kind::number, "The starting rate is --max-lr / this"},
        {"--final-div-factor", kind::number, "The final rate is the starting rate / this"},
        {"--anneal", kind::word, "Annealing shape: cos or linear"},
        {"--three-phase", kind::flag, "Climb, fall back to the start, then anneal"},
        {"--base-momentum", kind::number,
         "Momentum at the peak rate; with --max-momentum turns momentum cycling on"},
        {"--max-momentum", kind::number,
         "Momentum at the lowest rate; with --base-momentum turns momentum cycling on"},
    };
    return table;
}

// One parameter of a schedule: the flag that sets it, the library's name for
// it (the key of the text form), and its default: `required` (no default),
// `library` (the library's own, left out of the text), `run` (the run
// length) or a value.
struct param {
    const char* flag;
    const char* key;
    const char* fallback;
};

inline constexpr const char* required = nullptr;
inline constexpr const char* library = "";
inline constexpr const char* run = "run";

struct schedule_entry {
    const char* name;
    std::vector<param> params;
};

inline const std::vector<schedule_entry>& schedules() {
    // Keras / PyTorch defaults, so that a bare `--schedule triangular` is the
    // paper's example, a one_cycle matches OneCycleLR and a step_decay StepLR.
    const std::vector<param> momentum = {{"--base-momentum", "base_momentum", library},
                                         {"--max-momentum", "max_momentum", library}};
    const auto cyclic = [&momentum](std::vector<param> extra) {
        std::vector<param> p = {{"--base-lr", "base_lr", "0.001"},
                                {"--max-lr", "max_lr", "0.006"},
                                {"--step-size", "step_size", "2000"},
                                {"--step-size-down", "step_size_down", library}};
        p.insert(p.end(), extra.begin(), extra.end());
        p.insert(p.end(), momentum.begin(), momentum.end());
        return p;
    };
    static const std::vector<schedule_entry> table = {
        {"constant", {{"--base-lr", "lr", required}}},
        {"triangular", cyclic({})},
        {"triangular2", cyclic({})},
        {"exp_range", cyclic({{"--gamma", "gamma", "1"}})},
        {"welch", cyclic({})},
        {"hann", cyclic({})},
        {"cosine_restarts",
         {{"--max-lr", "eta_max", required},
          {"--step-size", "T_0", required},
          {"--base-lr", "eta_min", "0"},
          {"--t-mult", "T_mult", "1"},
          {"--m-mul", "m_mul", "1"}}},
        {"one_cycle",
         {{"--max-lr", "max_lr", required},
          {"--total-steps", "total_steps", run},
          {"--pct-start", "pct_start", "0.3"},
          {"--div-factor", "div_factor", "25"},
          {"--final-div-factor", "final_div_factor", "1e4"},
          {"--anneal", "anneal", "cos"},
          {"--three-phase", "three_phase", "false"},
          momentum[0],
          momentum[1]}},
        {"cosine",
         {{"--max-lr", "lr", required},
          {"--total-steps", "total_steps", run},
          {"--base-lr", "eta_min", "0"}}},
        {"linear",
         {{"--start-lr", "start_lr", required},
          {"--end-lr", "end_lr", required},
          {"--total-steps", "total_steps", run}}},
        {"polynomial",
         {{"--max-lr", "lr", required},
          {"--end-lr", "end_lr", "0"},
          {"--total-steps", "total_steps", run},
          {"--power", "power", "1"}}},
        {"exponential", {{"--max-lr", "lr", required}, {"--gamma", "gamma", required}}},
        {"step_decay",
         {{"--max-lr", "lr", required}, {"--step-size", "step_size", required}, {"--gamma", "gamma", "0.1"}}},
        {"multistep",
         {{"--max-lr", "lr", required},
          {"--milestones", "milestones", required},
          {"--gamma", "gamma", "0.1"}}},
        {"range_sweep",
         {{"--base-lr", "min_lr", required},
          {"--max-lr", "max_lr", required},
          {"--total-steps", "steps", run}}},
    };
    return table;
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
    for (const auto& e : schedules()) s += (s.empty() ? "" : sep) + std::string(e.name);
    return s;
}

// The flags as given. `schedule` is a name of schedules() or a text form.
struct choice {
    std::string schedule;
    std::map<std::string, std::string> values;  // flag -> its validated text
    std::map<std::string, double> numbers;      // the number flags, read
    // What one_cycle and the decays span when --total-steps is not given: the
    // program's run length. Without it --total-steps is required.
    std::optional<clr::step_t> run_length;

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
        else if (p.fallback == required || (p.fallback == run && !c.run_length))
            throw option_error(p.flag, "required for --schedule " + c.schedule);
        else if (p.fallback == run)
            value = std::to_string(*c.run_length);
        else if (p.fallback == library || *p.fallback == '\0')
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
        return clr::parse_schedule<T>(text);
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
        const std::string how =
            std::string(p->key) + (p->fallback == required ? ", required"
                                   : p->fallback == run    ? ", default: the run length"
                                   : *p->fallback == '\0'  ? ""
                                                           : ", default " + std::string(p->fallback));
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
        std::string line = std::string("  ") + e.name;
        line.resize(std::max<std::size_t>(line.size() + 1, 19), ' ');
        for (const auto& p : e.params) line += std::string(" ") + p.flag;
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
            case kind::steps:
                o = app.add_option_function<std::string>(
                           flag,
                           [flag, &c](const std::string& v) {
                               c.values[flag] = std::to_string(parse_steps(flag, v));
                           },
                           flag_help(f))
                        ->type_name("N");
                break;
            case kind::step_list:
                o = app.add_option_function<std::string>(
                           flag,
                           [flag, &c](const std::string& v) { c.values[flag] = parse_step_list(flag, v); },
                           flag_help(f) + ", at most " +
                               std::to_string(clr::multistep<double>::max_milestones))
                        ->type_name("N,N,...");
                break;
            case kind::word:
                o = app.add_option_function<std::string>(
                           flag, [flag, &c](const std::string& v) { c.values[flag] = v; }, flag_help(f))
                        ->check(CLI::IsMember({"cos", "linear"}).description(""))
                        ->type_name("cos|linear");
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
