// Command-line flags for choosing and parameterising a clr schedule, shared by
// the examples so that every program takes the same names and the same flags:
//
//     --schedule NAME   constant triangular triangular2 exp_range welch hann
//                       cosine_restarts one_cycle cosine linear polynomial
//                       exponential step_decay multistep
//     --base-lr --max-lr --step-size --step-size-down --gamma --t-mult --m-mul
//     --total-steps --pct-start --div-factor --final-div-factor --anneal
//     --three-phase --base-momentum --max-momentum --start-lr --end-lr --power
//     --milestones
//
// Usage:
//     schedule_cli::schedule_options opts;
//     CLI::App app{"..."};
//     schedule_cli::add_schedule_options(app, opts);
//     app.parse(argc, argv);                  // CLI::ParseError on a malformed value
//     opts.default_total_steps = run_length;  // what one_cycle and the decays span without --total-steps
//     schedule_cli::with_schedule(opts, [&](const auto& schedule) { ... });
//
// The schedules are distinct types, so with_schedule builds the concrete one
// and hands it to a generic callable: every call inside is resolved at compile
// time. Every problem (a flag that does not fit the schedule, a missing
// required flag, a value the library rejects) is a schedule_cli::option_error
// naming the flag.
#pragma once

#include <clr/clr.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace schedule_cli {

inline constexpr std::array<const char*, 14> schedule_names = {
    "constant",  "triangular", "triangular2", "exp_range",  "welch",       "hann",       "cosine_restarts",
    "one_cycle", "cosine",     "linear",      "polynomial", "exponential", "step_decay", "multistep"};

// Keras / PyTorch defaults, so that a bare `--schedule triangular` is the paper's
// example and a one_cycle matches OneCycleLR's.
namespace defaults {
inline constexpr double base_lr = 0.001;
inline constexpr double max_lr = 0.006;
inline constexpr clr::step_t step_size = 2000;
inline constexpr double gamma = 1.0;
inline constexpr double eta_min = 0.0;
inline constexpr double t_mult = 1.0;
inline constexpr double m_mul = 1.0;
inline constexpr double pct_start = 0.3;
inline constexpr double div_factor = 25.0;
inline constexpr double final_div_factor = 1e4;
inline constexpr double end_lr = 0.0;      // polynomial
inline constexpr double power = 1.0;       // polynomial
inline constexpr double step_gamma = 0.1;  // step_decay and multistep, as StepLR and MultiStepLR
}  // namespace defaults

// A bad schedule option. what() is "<flag>: <problem>", so a program prints it
// after its own name and the user sees which flag to fix.
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

// The parsed flags. An empty optional means the flag was not given; defaults
// are applied only when the schedule is built, so that a flag given for a
// schedule it does not fit can be told apart from one left alone.
struct schedule_options {
    std::string name;  // one of schedule_names; preset it to make --schedule optional

    std::optional<double>
        base_lr;  // lower bound; eta_min for cosine_restarts and cosine; the rate for constant
    std::optional<double> max_lr;  // peak; eta_max for cosine_restarts; the starting rate of the decays
    std::optional<clr::step_t> step_size;  // half cycle; T_0 for cosine_restarts; step_decay's step_size
    std::optional<clr::step_t> step_size_down;
    std::optional<double> gamma;
    std::optional<double> t_mult;
    std::optional<double> m_mul;
    std::optional<clr::step_t> total_steps;
    std::optional<double> pct_start;
    std::optional<double> div_factor;
    std::optional<double> final_div_factor;
    std::optional<clr::anneal> anneal;
    std::optional<bool> three_phase;
    std::optional<double> base_momentum;
    std::optional<double> max_momentum;
    std::optional<double> start_lr;                      // linear
    std::optional<double> end_lr;                        // linear, polynomial
    std::optional<double> power;                         // polynomial
    std::optional<std::vector<clr::step_t>> milestones;  // multistep

    // What one_cycle and the decays span when --total-steps is not given: the caller's run
    // length (schedule_plot's --steps, the trainer's epochs x batches). Without
    // it --total-steps is required.
    std::optional<clr::step_t> default_total_steps;

    bool cycles_momentum() const noexcept { return base_momentum.has_value() && max_momentum.has_value(); }
};

namespace detail {

// Which schedules each parameter flag fits, and the library's name for it, so
// that a library error can be traced back to the flag that caused it.
struct flag_info {
    const char* flag;
    const char* schedules;              // space separated
    std::array<const char*, 3> params;  // the library's parameter names for it
};

inline constexpr std::array<flag_info, 19> flag_table = {{
    // --max-lr before --base-lr: for cosine, `lr` is --max-lr and eta_min --base-lr.
    {"--max-lr",
     "triangular triangular2 exp_range welch hann cosine_restarts one_cycle cosine polynomial exponential "
     "step_decay multistep",
     {"max_lr", "eta_max", "lr"}},
    {"--base-lr",
     "constant triangular triangular2 exp_range welch hann cosine_restarts cosine",
     {"base_lr", "eta_min", "lr"}},
    {"--step-size",
     "triangular triangular2 exp_range welch hann cosine_restarts step_decay",
     {"step_size", "T_0", nullptr}},
    {"--step-size-down", "triangular triangular2 exp_range welch hann", {"step_size_down", nullptr, nullptr}},
    {"--gamma", "exp_range exponential step_decay multistep", {"gamma", nullptr, nullptr}},
    {"--t-mult", "cosine_restarts", {"T_mult", nullptr, nullptr}},
    {"--m-mul", "cosine_restarts", {"m_mul", nullptr, nullptr}},
    {"--total-steps", "one_cycle cosine linear polynomial", {"total_steps", nullptr, nullptr}},
    {"--pct-start", "one_cycle", {"pct_start", nullptr, nullptr}},
    {"--div-factor", "one_cycle", {"div_factor", nullptr, nullptr}},
    {"--final-div-factor", "one_cycle", {"final_div_factor", nullptr, nullptr}},
    {"--anneal", "one_cycle", {nullptr, nullptr, nullptr}},
    {"--three-phase", "one_cycle", {nullptr, nullptr, nullptr}},
    {"--base-momentum",
     "triangular triangular2 exp_range welch hann one_cycle",
     {"base_momentum", nullptr, nullptr}},
    {"--max-momentum",
     "triangular triangular2 exp_range welch hann one_cycle",
     {"max_momentum", nullptr, nullptr}},
    {"--start-lr", "linear", {"start_lr", nullptr, nullptr}},
    {"--end-lr", "linear polynomial", {"end_lr", nullptr, nullptr}},
    {"--power", "polynomial", {"power", nullptr, nullptr}},
    {"--milestones", "multistep", {"milestones", nullptr, nullptr}},
}};

inline bool in_list(std::string_view list, std::string_view word) {
    while (!list.empty()) {
        const auto space = list.find(' ');
        if (list.substr(0, space) == word) return true;
        if (space == std::string_view::npos) break;
        list.remove_prefix(space + 1);
    }
    return false;
}

inline const flag_info& info(std::string_view flag) {
    for (const auto& f : flag_table)
        if (flag == f.flag) return f;
    throw std::logic_error("schedule_cli: unknown flag " + std::string(flag));
}

inline bool applies(std::string_view flag, std::string_view schedule) {
    return in_list(info(flag).schedules, schedule);
}

inline std::string schedule_list(const char* sep) {
    std::string s;
    for (const char* n : schedule_names) {
        if (!s.empty()) s += sep;
        s += n;
    }
    return s;
}

// The flag that sets the library parameter `param` (clr::invalid_parameter's
// param()), or "" when no flag does. The same name can come from different
// flags: `lr` is --base-lr for constant and --max-lr for the decays, so a
// schedule, when given, picks among the flags it takes.
inline std::string flag_for_param(std::string_view param, std::string_view schedule = {}) {
    for (const auto& f : flag_table) {
        if (!schedule.empty() && !in_list(f.schedules, schedule)) continue;
        for (const char* p : f.params)
            if (p != nullptr && param == p) return f.flag;
    }
    return {};
}

inline bool given(const schedule_options& o, std::string_view flag) {
    if (flag == "--base-lr") return o.base_lr.has_value();
    if (flag == "--max-lr") return o.max_lr.has_value();
    if (flag == "--step-size") return o.step_size.has_value();
    if (flag == "--step-size-down") return o.step_size_down.has_value();
    if (flag == "--gamma") return o.gamma.has_value();
    if (flag == "--t-mult") return o.t_mult.has_value();
    if (flag == "--m-mul") return o.m_mul.has_value();
    if (flag == "--total-steps") return o.total_steps.has_value();
    if (flag == "--pct-start") return o.pct_start.has_value();
    if (flag == "--div-factor") return o.div_factor.has_value();
    if (flag == "--final-div-factor") return o.final_div_factor.has_value();
    if (flag == "--anneal") return o.anneal.has_value();
    if (flag == "--three-phase") return o.three_phase.has_value();
    if (flag == "--base-momentum") return o.base_momentum.has_value();
    if (flag == "--max-momentum") return o.max_momentum.has_value();
    if (flag == "--start-lr") return o.start_lr.has_value();
    if (flag == "--end-lr") return o.end_lr.has_value();
    if (flag == "--power") return o.power.has_value();
    if (flag == "--milestones") return o.milestones.has_value();
    throw std::logic_error("schedule_cli: unknown flag " + std::string(flag));
}

// Turns a clr::invalid_parameter raised while building into an option_error
// naming the flag. A flag left at its default can still be the
// one blamed (--base-lr 0.01 against the default --max-lr 0.006), and then
// the message says so. Only construction runs inside: exceptions from the
// caller's own code pass untouched.
template <class Make>
auto build(const schedule_options& o, Make&& make) -> decltype(make()) {
    try {
        return make();
    } catch (const option_error&) {
        throw;
    } catch (const clr::invalid_parameter& e) {
        const std::string flag = flag_for_param(e.param(), o.name);
        throw option_error(flag, e.what(), !flag.empty() && !given(o, flag) ? "(default)" : "");
    }
}

// Shortest text that reads back as the same double (0.1, not 0.10000000000000001).
inline std::string number(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

}  // namespace detail

// ---- value parsers: strict, so that a typo is an error, not a number ------------
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
        throw CLI::ValidationError(flag, "'" + text + "' is not a number");
    if (std::isnan(v)) throw CLI::ValidationError(flag, "'" + text + "' is not a number (NaN)");
    if (err == ERANGE && (v == 0 || std::isinf(v)))
        throw CLI::ValidationError(flag, "'" + text + "' is outside the range of a double");
    if (!std::isfinite(v)) throw CLI::ValidationError(flag, "'" + text + "' must be finite");
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
    if (!digits_only || r.ptr != last) throw CLI::ValidationError(flag, "'" + text + "' is not " + what);
    if (r.ec == std::errc::result_out_of_range || v > hi)
        throw CLI::ValidationError(flag, text + " must be at most " + std::to_string(hi));
    if (v < lo) throw CLI::ValidationError(flag, text + " must be at least " + std::to_string(lo));
    return v;
}

// A count of steps in [lo, hi], decimal digits only: strtoull would accept
// "-1" as 2^64 - 1 and read "010" as octal.
inline std::uint64_t parse_steps(const std::string& flag, const std::string& text, std::uint64_t lo = 1,
                                 std::uint64_t hi = clr::detail::max_steps) {
    return parse_unsigned(flag, text, lo, hi, "a whole number of steps");
}

// Steps separated by commas, "30,80,120": each a whole number of steps (0
// allowed), no blanks, no empty entries. Order and repeats are left to the
// library, which names --milestones if they are wrong.
inline std::vector<clr::step_t> parse_step_list(const std::string& flag, const std::string& text) {
    std::vector<clr::step_t> out;
    std::string::size_type start = 0;
    while (true) {
        const auto comma = text.find(',', start);
        const std::string item =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (item.empty())
            throw CLI::ValidationError(flag, "'" + text + "' has an empty entry; write steps as 30,80,120");
        out.push_back(parse_steps(flag, item, 0));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

// Adds --schedule and every parameter flag to app, filling opts as they parse.
// --schedule is required unless opts.name is preset.
// Parses the command line the way every example reports it: help exits 0,
// a bad flag or value prints one line naming it and exits 2. Returns the
// status to exit with, or nothing when the program should go on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, const char* program) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ValidationError& e) {
        // These carry the program's own messages, already naming the flag.
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        return 2;
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "%s: %s (see --help)\n", program, e.what());
        return 2;
    }
    return std::nullopt;
}

inline void add_schedule_options(CLI::App& app, schedule_options& opts) {
    auto* sched = app.add_option_function<std::string>(
        "--schedule",
        [&opts](const std::string& v) {
            for (const char* n : schedule_names)
                if (v == n) {
                    opts.name = v;
                    return;
                }
            throw CLI::ValidationError(
                "--schedule", "'" + v + "' is not a schedule; use one of " + detail::schedule_list(", "));
        },
        "Schedule: " + detail::schedule_list(", "));
    sched->type_name("NAME");
    if (opts.name.empty()) sched->required();

    const auto add_number = [&app](const char* flag, std::optional<double>& out, const std::string& help) {
        app.add_option_function<std::string>(
               flag, [flag, &out](const std::string& v) { out = parse_number(flag, v); }, help)
            ->type_name("X");
    };
    const auto add_steps = [&app](const char* flag, std::optional<clr::step_t>& out,
                                  const std::string& help) {
        app.add_option_function<std::string>(
               flag, [flag, &out](const std::string& v) { out = parse_steps(flag, v); }, help)
            ->type_name("N");
    };
    using detail::number;

    add_number("--base-lr", opts.base_lr,
               "Lower bound (cyclic, default " + number(defaults::base_lr) +
                   "); eta_min (cosine_restarts, cosine, default " + number(defaults::eta_min) +
                   "); the rate (constant, required)");
    add_number("--max-lr", opts.max_lr,
               "Peak (cyclic, default " + number(defaults::max_lr) +
                   "); eta_max (cosine_restarts, required); max_lr (one_cycle, required); the starting rate "
                   "(cosine, "
                   "polynomial, exponential, step_decay, multistep, required)");
    add_steps("--step-size", opts.step_size,
              "Half cycle in steps (cyclic, default " + std::to_string(defaults::step_size) +
                  "); T_0 (cosine_restarts, required); steps between decays (step_decay, required)");
    add_steps("--step-size-down", opts.step_size_down,
              "Steps of the falling half (cyclic, default: --step-size)");
    add_number("--gamma", opts.gamma,
               "Amplitude decay per step (exp_range, default " + number(defaults::gamma) +
                   "); decay per step (exponential, required), per --step-size (step_decay) or per milestone "
                   "(multistep, default " +
                   number(defaults::step_gamma) + ")");
    add_number("--t-mult", opts.t_mult,
               "Period growth per restart, >= 1 (cosine_restarts, default " + number(defaults::t_mult) + ")");
    add_number("--m-mul", opts.m_mul,
               "Peak decay per restart (cosine_restarts, default " + number(defaults::m_mul) + ")");
    add_steps("--total-steps", opts.total_steps,
              "Length of the cycle (one_cycle), or of the decay (cosine, linear, polynomial); default: the "
              "run length");
    add_number("--pct-start", opts.pct_start,
               "Fraction of steps spent climbing (one_cycle, default " + number(defaults::pct_start) + ")");
    add_number("--div-factor", opts.div_factor,
               "initial = max_lr / div_factor (one_cycle, default " + number(defaults::div_factor) + ")");
    add_number("--final-div-factor", opts.final_div_factor,
               "minimum = initial / final_div_factor (one_cycle, default " +
                   number(defaults::final_div_factor) + ")");
    app.add_option_function<std::string>(
           "--anneal",
           [&opts](const std::string& v) {
               if (v == "cos")
                   opts.anneal = clr::anneal::cos;
               else if (v == "linear")
                   opts.anneal = clr::anneal::linear;
               else
                   throw CLI::ValidationError("--anneal", "'" + v + "' must be cos or linear");
           },
           "Annealing shape: cos or linear (one_cycle, default cos)")
        ->type_name("cos|linear");
    // A flag's value can be given (--three-phase=false); it is recorded either
    // way, so that it too is refused for a schedule it does not fit.
    app.add_flag_function(
        "--three-phase", [&opts](std::int64_t count) { opts.three_phase = count > 0; },
        "Climb, fall back to the start, then anneal (one_cycle)");
    add_number(
        "--base-momentum", opts.base_momentum,
        "Momentum at the peak rate; with --max-momentum turns momentum cycling on (cyclic, one_cycle)");
    add_number(
        "--max-momentum", opts.max_momentum,
        "Momentum at the lowest rate; with --base-momentum turns momentum cycling on (cyclic, one_cycle)");
    add_number("--start-lr", opts.start_lr, "The rate at step 0 (linear, required)");
    add_number("--end-lr", opts.end_lr,
               "The rate at --total-steps and after (linear, required; polynomial, default " +
                   number(defaults::end_lr) + ")");
    add_number("--power", opts.power,
               "Exponent of the decay (polynomial, default " + number(defaults::power) + ")");
    app.add_option_function<std::string>(
           "--milestones",
           [&opts](const std::string& v) { opts.milestones = parse_step_list("--milestones", v); },
           "Steps where the rate is multiplied by --gamma, strictly increasing, at most " +
               std::to_string(clr::multistep<double>::max_milestones) + " (multistep, required)")
        ->type_name("N,N,...");
}

// Which flags each schedule takes, one line per schedule: for --help.
inline std::string flags_by_schedule() {
    std::string s = "Parameter flags per schedule (others are refused):\n";
    for (const char* n : schedule_names) {
        std::string line = std::string("  ") + n;
        line.resize(std::max<std::size_t>(line.size() + 1, 19), ' ');
        for (const auto& f : detail::flag_table)
            if (detail::in_list(f.schedules, n)) line += std::string(" ") + f.flag;
        s += line + "\n";
    }
    return s;
}

// Checks that every given flag fits the schedule and every required one is
// there; with_schedule runs it too, so calling it first only moves the error
// earlier.
inline void check(const schedule_options& o) {
    bool known = false;
    for (const char* n : schedule_names) known = known || o.name == n;
    if (!known)
        throw option_error("--schedule", o.name.empty() ? std::string("is required")
                                                        : "'" + o.name + "' is not a schedule; use one of " +
                                                              detail::schedule_list(", "));

    const auto fits = [&o](const char* flag, bool given) {
        if (given && !detail::applies(flag, o.name)) {
            const std::string fitting = detail::info(flag).schedules;
            std::string list;
            for (const char* n : schedule_names)
                if (detail::in_list(fitting, n)) list += (list.empty() ? "" : ", ") + std::string(n);
            throw option_error(flag, "does not apply to --schedule " + o.name + " (only to " + list + ")");
        }
    };
    for (const auto& f : detail::flag_table) fits(f.flag, detail::given(o, f.flag));

    // One momentum bound alone would silently cycle nothing.
    if (o.base_momentum && !o.max_momentum)
        throw option_error("--base-momentum", "needs --max-momentum as well (give both to cycle momentum)");
    if (o.max_momentum && !o.base_momentum)
        throw option_error("--max-momentum", "needs --base-momentum as well (give both to cycle momentum)");

    const auto require = [&o](const char* flag, bool given) {
        if (!given) throw option_error(flag, "required for --schedule " + o.name);
    };
    if (o.name == "constant") require("--base-lr", o.base_lr.has_value());
    if (o.name == "cosine_restarts") {
        require("--max-lr", o.max_lr.has_value());
        require("--step-size", o.step_size.has_value());
    }
    if (o.name == "one_cycle" || o.name == "cosine" || o.name == "polynomial") {
        require("--max-lr", o.max_lr.has_value());
        require("--total-steps", o.total_steps.has_value() || o.default_total_steps.has_value());
    }
    if (o.name == "linear") {
        require("--start-lr", o.start_lr.has_value());
        require("--end-lr", o.end_lr.has_value());
        require("--total-steps", o.total_steps.has_value() || o.default_total_steps.has_value());
    }
    if (o.name == "exponential") {
        require("--max-lr", o.max_lr.has_value());
        require("--gamma", o.gamma.has_value());
    }
    if (o.name == "step_decay") {
        require("--max-lr", o.max_lr.has_value());
        require("--step-size", o.step_size.has_value());
    }
    if (o.name == "multistep") {
        require("--max-lr", o.max_lr.has_value());
        require("--milestones", o.milestones.has_value());
    }
}

// --total-steps, or the run length in its place. Call after check().
inline clr::step_t total_steps(const schedule_options& o) {
    return o.total_steps ? *o.total_steps : *o.default_total_steps;
}

// The schedule with its effective parameters, defaults included, e.g.
// "triangular base_lr=0.001 max_lr=0.006 step_size=2000": for plot titles and
// logs. Call after check().
inline std::string describe(const schedule_options& o) {
    using detail::number;
    std::string s = o.name;
    const auto add = [&s](const char* key, const std::string& value) {
        s += std::string(" ") + key + "=" + value;
    };
    const auto momentum = [&] {
        if (o.cycles_momentum()) {
            add("base_momentum", number(*o.base_momentum));
            add("max_momentum", number(*o.max_momentum));
        }
    };
    if (o.name == "constant") {
        add("lr", number(*o.base_lr));
    } else if (o.name == "cosine_restarts") {
        add("eta_max", number(*o.max_lr));
        add("eta_min", number(o.base_lr.value_or(defaults::eta_min)));
        add("T_0", std::to_string(*o.step_size));
        add("T_mult", number(o.t_mult.value_or(defaults::t_mult)));
        if (o.m_mul) add("m_mul", number(*o.m_mul));
    } else if (o.name == "cosine") {
        add("lr", number(*o.max_lr));
        add("total_steps", std::to_string(total_steps(o)));
        add("eta_min", number(o.base_lr.value_or(defaults::eta_min)));
    } else if (o.name == "linear") {
        add("start_lr", number(*o.start_lr));
        add("end_lr", number(*o.end_lr));
        add("total_steps", std::to_string(total_steps(o)));
    } else if (o.name == "polynomial") {
        add("lr", number(*o.max_lr));
        add("end_lr", number(o.end_lr.value_or(defaults::end_lr)));
        add("total_steps", std::to_string(total_steps(o)));
        add("power", number(o.power.value_or(defaults::power)));
    } else if (o.name == "exponential") {
        add("lr", number(*o.max_lr));
        add("gamma", number(*o.gamma));
    } else if (o.name == "step_decay") {
        add("lr", number(*o.max_lr));
        add("step_size", std::to_string(*o.step_size));
        add("gamma", number(o.gamma.value_or(defaults::step_gamma)));
    } else if (o.name == "multistep") {
        add("lr", number(*o.max_lr));
        std::string list;
        for (const clr::step_t m : *o.milestones) list += (list.empty() ? "" : ",") + std::to_string(m);
        add("milestones", list);
        add("gamma", number(o.gamma.value_or(defaults::step_gamma)));
    } else if (o.name == "one_cycle") {
        add("max_lr", number(*o.max_lr));
        add("total_steps", std::to_string(o.total_steps ? *o.total_steps : *o.default_total_steps));
        add("pct_start", number(o.pct_start.value_or(defaults::pct_start)));
        add("div_factor", number(o.div_factor.value_or(defaults::div_factor)));
        add("final_div_factor", number(o.final_div_factor.value_or(defaults::final_div_factor)));
        add("anneal", o.anneal.value_or(clr::anneal::cos) == clr::anneal::cos ? "cos" : "linear");
        if (o.three_phase.value_or(false)) add("three_phase", "true");
        momentum();
    } else {
        add("base_lr", number(o.base_lr.value_or(defaults::base_lr)));
        add("max_lr", number(o.max_lr.value_or(defaults::max_lr)));
        add("step_size", std::to_string(o.step_size.value_or(defaults::step_size)));
        if (o.step_size_down) add("step_size_down", std::to_string(*o.step_size_down));
        if (o.name == "exp_range") add("gamma", number(o.gamma.value_or(defaults::gamma)));
        momentum();
    }
    return s;
}

namespace detail {

template <class T>
constexpr const char* type_name() noexcept {
    if constexpr (std::is_same_v<T, float>)
        return "float";
    else if constexpr (std::is_same_v<T, double>)
        return "double";
    else
        return "long double";
}

// A flag's value in the schedule's type. Narrowing to float must not turn
// 1e-50 into 0 or 1e300 into infinity without a word.
template <class T>
T narrow(const char* flag, double x) {
    const T y = static_cast<T>(x);
    if (!std::isfinite(x)) throw option_error(flag, number(x) + " must be finite");
    if (!std::isfinite(y))
        throw option_error(flag, number(x) + " does not fit in a " + type_name<T>() + " (largest " +
                                     number(static_cast<double>(std::numeric_limits<T>::max())) + ")");
    if (x != 0 && y == 0)
        throw option_error(flag, number(x) + " does not fit in a " + type_name<T>() + " (smallest positive " +
                                     number(static_cast<double>(std::numeric_limits<T>::denorm_min())) + ")");
    return y;
}

template <class T, class S>
S cyclic_extras(S s, const schedule_options& o) {
    if (o.step_size_down) s = s.with_step_size_down(*o.step_size_down);
    if (o.cycles_momentum())
        s = s.with_momentum(narrow<T>("--base-momentum", *o.base_momentum),
                            narrow<T>("--max-momentum", *o.max_momentum));
    return s;
}

template <class S, class T, class... Scale>
S make_cyclic(const schedule_options& o, Scale... scale) {
    return cyclic_extras<T>(S(narrow<T>("--base-lr", o.base_lr.value_or(defaults::base_lr)),
                              narrow<T>("--max-lr", o.max_lr.value_or(defaults::max_lr)),
                              o.step_size.value_or(defaults::step_size), scale...),
                            o);
}

}  // namespace detail

// Builds the schedule opts describe, as clr::<schedule><T>, and returns
// f(schedule). f is called with an lvalue of the concrete type and must return
// the same type for every schedule (typically a generic lambda returning void).
// Throws option_error, before f runs, for anything wrong with opts.
template <class T = double, class F>
auto with_schedule(const schedule_options& o, F&& f) {
    static_assert(std::is_floating_point_v<T>, "schedules are built on float, double or long double");
    check(o);
    using detail::narrow;
    const std::string& n = o.name;

    if (n == "constant") {
        auto s = detail::build(o, [&] { return clr::constant<T>(narrow<T>("--base-lr", *o.base_lr)); });
        return std::forward<F>(f)(s);
    }
    if (n == "triangular") {
        auto s = detail::build(o, [&] { return detail::make_cyclic<clr::triangular<T>, T>(o); });
        return std::forward<F>(f)(s);
    }
    if (n == "triangular2") {
        auto s = detail::build(o, [&] { return detail::make_cyclic<clr::triangular2<T>, T>(o); });
        return std::forward<F>(f)(s);
    }
    if (n == "welch") {
        auto s = detail::build(o, [&] { return detail::make_cyclic<clr::welch<T>, T>(o); });
        return std::forward<F>(f)(s);
    }
    if (n == "hann") {
        auto s = detail::build(o, [&] { return detail::make_cyclic<clr::hann<T>, T>(o); });
        return std::forward<F>(f)(s);
    }
    if (n == "exp_range") {
        auto s = detail::build(o, [&] {
            return detail::make_cyclic<clr::exp_range<T>, T>(
                o, clr::exp_scale<T>(narrow<T>("--gamma", o.gamma.value_or(defaults::gamma))));
        });
        return std::forward<F>(f)(s);
    }
    if (n == "cosine_restarts") {
        auto s = detail::build(o, [&] {
            auto c = clr::cosine_restarts<T>(narrow<T>("--max-lr", *o.max_lr), *o.step_size);
            if (o.t_mult) c = c.with_t_mult(narrow<T>("--t-mult", *o.t_mult));
            if (o.m_mul) c = c.with_m_mul(narrow<T>("--m-mul", *o.m_mul));
            if (o.base_lr) c = c.with_eta_min(narrow<T>("--base-lr", *o.base_lr));
            return c;
        });
        return std::forward<F>(f)(s);
    }
    if (n == "cosine") {
        auto s = detail::build(o, [&] {
            auto c = clr::cosine<T>(narrow<T>("--max-lr", *o.max_lr), total_steps(o));
            if (o.base_lr) c = c.with_eta_min(narrow<T>("--base-lr", *o.base_lr));
            return c;
        });
        return std::forward<F>(f)(s);
    }
    if (n == "linear") {
        auto s = detail::build(o, [&] {
            return clr::linear<T>(narrow<T>("--start-lr", *o.start_lr), narrow<T>("--end-lr", *o.end_lr),
                                  total_steps(o));
        });
        return std::forward<F>(f)(s);
    }
    if (n == "polynomial") {
        auto s = detail::build(o, [&] {
            return clr::polynomial<T>(
                narrow<T>("--max-lr", *o.max_lr), narrow<T>("--end-lr", o.end_lr.value_or(defaults::end_lr)),
                total_steps(o), narrow<T>("--power", o.power.value_or(defaults::power)));
        });
        return std::forward<F>(f)(s);
    }
    if (n == "exponential") {
        auto s = detail::build(o, [&] {
            return clr::exponential<T>(narrow<T>("--max-lr", *o.max_lr), narrow<T>("--gamma", *o.gamma));
        });
        return std::forward<F>(f)(s);
    }
    if (n == "step_decay") {
        auto s = detail::build(o, [&] {
            return clr::step_decay<T>(narrow<T>("--max-lr", *o.max_lr), *o.step_size,
                                      narrow<T>("--gamma", o.gamma.value_or(defaults::step_gamma)));
        });
        return std::forward<F>(f)(s);
    }
    if (n == "multistep") {
        auto s = detail::build(o, [&] {
            return clr::multistep<T>(narrow<T>("--max-lr", *o.max_lr), *o.milestones,
                                     narrow<T>("--gamma", o.gamma.value_or(defaults::step_gamma)));
        });
        return std::forward<F>(f)(s);
    }
    // check() has left only one_cycle.
    auto s = detail::build(o, [&] {
        auto c = clr::one_cycle<T>(narrow<T>("--max-lr", *o.max_lr),
                                   o.total_steps ? *o.total_steps : *o.default_total_steps);
        if (o.pct_start) c = c.with_pct_start(narrow<T>("--pct-start", *o.pct_start));
        if (o.div_factor) c = c.with_div_factor(narrow<T>("--div-factor", *o.div_factor));
        if (o.final_div_factor)
            c = c.with_final_div_factor(narrow<T>("--final-div-factor", *o.final_div_factor));
        if (o.anneal) c = c.with_anneal(*o.anneal);
        // pct_start is checked against three phases when this is applied, so
        // it comes after with_pct_start.
        if (o.three_phase) c = c.with_three_phase(*o.three_phase);
        if (o.cycles_momentum())
            c = c.with_momentum(narrow<T>("--base-momentum", *o.base_momentum),
                                narrow<T>("--max-momentum", *o.max_momentum));
        return c;
    });
    return std::forward<F>(f)(s);
}

}  // namespace schedule_cli
