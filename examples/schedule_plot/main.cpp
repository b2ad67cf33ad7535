// schedule_plot: any clr schedule as a CSV table and/or a gnuplot image.
//
//     schedule_plot --schedule NAME --steps N [parameters] [--csv FILE|-] [--plot FILE.png|FILE.svg]
//     schedule_plot --schedule 'plateau(...)' --steps N --steps-per-epoch E --metrics FILE
//
// With --metrics, one metric per line (a validation loss per epoch) is
// reported to the schedule's plateau after every E steps, as a trainer does.
//
// Exit status: 0 success, 1 a failure while writing (disk, gnuplot), 2 bad
// flags or values. No output file is ever left half-written: each is produced
// beside its target and renamed into place only when every output succeeded.
#include "example_io.hpp"
#include "plot.hpp"
#include "schedule_flags.hpp"

#include <clr/clr.hpp>

#include <CLI/CLI.hpp>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

namespace fs = std::filesystem;
using schedule_flags::option_error;

// A plot or table past this is a typo, not a request: 10^7 rows of CSV are
// already 400 to 500 MB.
constexpr clr::step_t max_steps = 10'000'000;

// Drawn points per curve: a few per pixel column of the image.
constexpr clr::step_t plot_buckets = 2000;

struct run_options {
    clr::step_t steps = 0;
    std::optional<std::string> csv;
    std::optional<std::string> plot;
    std::vector<double> metrics;  // reported one per epoch
    clr::step_t steps_per_epoch = 0;
};

// The metrics of --metrics FILE: one number per line (nan, inf and -inf
// too, which a plateau treats as PyTorch does); blank lines are refused, not
// skipped, so that a line number in a message is the file's.
std::vector<double> read_metrics(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw option_error("--metrics", "cannot open '" + clr::excerpt(path) + "': " + std::strerror(errno));
    std::vector<double> out;
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        char* end = nullptr;
        const double v = std::strtod(line.c_str(), &end);
        if (line.empty() || std::isspace(static_cast<unsigned char>(line[0])) ||
            end != line.c_str() + line.size())
            throw option_error("--metrics", clr::excerpt(path) + " line " + std::to_string(n) + ": '" +
                                                clr::excerpt(line) + "' is not a number");
        out.push_back(v);
    }
    if (in.bad()) throw option_error("--metrics", "reading '" + clr::excerpt(path) + "' failed");
    if (out.empty()) throw option_error("--metrics", "'" + clr::excerpt(path) + "' holds no metric");
    return out;
}

// Refuses an output path that could only fail later, after the work is done:
// one that cannot be written (examples/common's inspect_target: a directory,
// a read-only file, a directory no file can be created in), and two outputs
// naming the same file, however spelt.
example_io::target_info check_target(const char* flag, const std::string& path) {
    if (path.empty()) throw option_error(flag, "needs a file name");
    const fs::path p(path);
    if (!p.has_filename()) throw option_error(flag, "'" + path + "' names a directory, not a file");
    try {
        return example_io::inspect_target(path);
    } catch (const example_io::io_error& e) {
        throw option_error(flag, e.what());
    }
}

void check_outputs(const run_options& r) {
    std::optional<example_io::target_info> csv;
    if (r.csv && *r.csv != "-") csv = check_target("--csv", *r.csv);
    if (r.plot) {
        if (*r.plot == "-")
            throw option_error("--plot", "needs a file name ending in .png or .svg, not standard output");
        const std::string problem = gnuplot::image_name_problem(*r.plot);
        if (!problem.empty()) throw option_error("--plot", problem);
        const example_io::target_info plot = check_target("--plot", *r.plot);
        if (csv && example_io::same_target(*csv, plot))
            throw option_error("--plot", "'" + *r.plot + "' is the same file as --csv '" + *r.csv + "'");
    }
}

// The text form cut after each ", ", so that a long title wraps between
// parameters.
std::vector<std::string> title_pieces(const std::string& text) {
    std::vector<std::string> pieces;
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t comma = text.find(", ", start);
        const std::size_t end = comma == std::string::npos ? text.size() : comma + 1;
        pieces.push_back(text.substr(start, end - start));
        start = comma == std::string::npos ? text.size() : comma + 2;
    }
    return pieces;
}

void render(clr::any_schedule<double> s, const run_options& r) {
    using schedule_plot::envelope;

    // Before any work, so that a missing gnuplot costs nothing and leaves nothing.
    if (r.plot) {
        if (!gnuplot::find_program("gnuplot"))
            throw example_io::io_error(
                "--plot", "gnuplot not found on PATH; install gnuplot-nox (apt-get install gnuplot-nox)");
    }

    const bool momentum = s.momentum(0).has_value();
    std::optional<example_io::output_file> csv;
    if (r.csv) csv.emplace(*r.csv);
    std::optional<envelope> lr_curve, m_curve;
    if (r.plot) {
        lr_curve.emplace(r.steps, plot_buckets);
        if (momentum) m_curve.emplace(r.steps, plot_buckets);
    }

    const auto write_failed = [&] {
        throw example_io::io_error(csv->is_stdout() ? "standard output" : *r.csv,
                                   std::string("write failed: ") + std::strerror(errno));
    };
    if (csv && std::fputs(momentum ? "step,lr,momentum\n" : "step,lr\n", csv->stream()) < 0) write_failed();
    std::size_t reported = 0;
    for (clr::step_t t = 0; t < r.steps; ++t) {
        // An epoch has ended: its metric reaches the plateau before the next step.
        if (t > 0 && r.steps_per_epoch && t % r.steps_per_epoch == 0 && reported < r.metrics.size())
            clr::report(s, r.metrics[reported++]);
        const double lr = static_cast<double>(s(t));
        double m = 0;
        if (momentum) {
            m = static_cast<double>(s.momentum(t).value_or(0.0));
        }
        if (csv) {
            const auto step = static_cast<unsigned long long>(t);
            const int rc = momentum ? std::fprintf(csv->stream(), "%llu,%.17g,%.17g\n", step, lr, m)
                                    : std::fprintf(csv->stream(), "%llu,%.17g\n", step, lr);
            if (rc < 0) write_failed();
        }
        if (lr_curve) lr_curve->add(t, lr);
        if (m_curve) m_curve->add(t, m);
    }
    if (csv) csv->finish();

    std::optional<example_io::temp_file> image;
    if (r.plot) {
        lr_curve->finish();
        if (m_curve) m_curve->finish();
        image.emplace(*r.plot);

        schedule_plot::plot_request req;
        req.image = image->path();
        req.svg = gnuplot::is_svg(*r.plot);
        req.title = title_pieces(clr::to_string(s));
        req.steps = r.steps;
        req.lr = &*lr_curve;
        req.momentum = m_curve ? &*m_curve : nullptr;

        // gnuplot and the check that its image is whole live in
        // examples/common; the script is scratch in TMPDIR.
        gnuplot::render(*image, schedule_plot::script(req), req.svg, "schedule_plot.gp");
    }

    // Every output is complete: only now does any of them replace its target.
    if (csv) csv->commit();
    if (image) {
        try {
            image->commit();
        } catch (const example_io::io_error& e) {
            if (!csv || csv->is_stdout()) throw;
            throw std::runtime_error(std::string(e.what()) + "; the --csv file " + *r.csv +
                                     " was written, the --plot image was not");
        }
    }
}

}  // namespace

int main(int argc, char** argv) try {
    schedule_flags::choice choice;
    run_options run;

    CLI::App app{
        "Prints a clr learning-rate schedule as CSV (one row per step) and/or plots it with gnuplot.",
        "schedule_plot"};
    app.get_formatter()->column_width(34);
    schedule_flags::add_schedule_flags(app, choice);
    app.add_option_function<std::string>(
           "--steps",
           [&run](const std::string& v) {
               run.steps = schedule_flags::parse_steps("--steps", v, 1, max_steps);
           },
           "Number of steps to print or plot, 1 to " + std::to_string(max_steps) + " (rows 0 to N-1)")
        ->type_name("N")
        ->required();
    app.add_option_function<std::string>(
           "--steps-per-epoch",
           [&choice](const std::string& v) {
               choice.steps_per_epoch = schedule_flags::parse_steps("--steps-per-epoch", v);
           },
           "What a length in epochs (2.5ep) counts; --steps is the run a length in % counts")
        ->type_name("N");
    std::optional<std::string> metrics;
    app.add_option_function<std::string>(
           "--metrics", [&metrics](const std::string& v) { metrics = v; },
           "Report FILE's metrics (one per line, one per epoch) to the schedule's plateau after every "
           "--steps-per-epoch steps")
        ->type_name("FILE");
    app.add_option_function<std::string>(
           "--csv", [&run](const std::string& v) { run.csv = v; },
           "Write step,lr[,momentum] to FILE ('-': standard output; the default without --plot)")
        ->type_name("FILE|-");
    app.add_option_function<std::string>(
           "--plot", [&run](const std::string& v) { run.plot = v; },
           "Plot to FILE, PNG or SVG by its extension; the title is the schedule's text form")
        ->type_name("FILE");
    app.footer(
        schedule_flags::flags_by_schedule() +
        "Momentum (cyclic family and one_cycle) is cycled when both --base-momentum and --max-momentum "
        "are given; the CSV then has a momentum column.\n"
        "Exit status: 0 done, 1 writing or plotting failed, 2 bad flags or values.");

    if (const auto status = schedule_flags::parse_command_line(app, argc, argv, "schedule_plot"))
        return *status;

    if (!run.csv && !run.plot) run.csv = "-";
    choice.run_length = run.steps;

    try {
        const clr::any_schedule<double> schedule = schedule_flags::build<double>(choice);
        if (metrics) {
            if (!choice.steps_per_epoch)
                throw option_error("--metrics",
                                   "needs --steps-per-epoch: a metric is reported after each epoch");
            if (clr::plateau_count(schedule) == 0)
                throw option_error("--metrics", "the schedule has no plateau(...) to report metrics to");
            run.metrics = read_metrics(*metrics);
            run.steps_per_epoch = *choice.steps_per_epoch;
        }
        check_outputs(run);
        render(schedule, run);
    } catch (const option_error& e) {
        std::fprintf(stderr, "schedule_plot: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "schedule_plot: %s\n", e.what());
        return 1;
    }
    return 0;
} catch (const std::exception& e) {
    // Setting up the command line can throw too; nothing may escape main.
    std::fprintf(stderr, "%s: %s\n", "schedule_plot", e.what());
    return 1;
}
