// The picture of one training run: the smoothed training loss and the
// learning rate per update above, the test error per epoch below.
#pragma once

#include "train.hpp"

#include <clr/lr_finder.hpp>

#include "example_io.hpp"
#include "gnuplot.hpp"
#include "schedule_flags.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace mnist {

struct curve_point {
    clr::step_t step;
    double lr;
    double loss;  // exponential moving average, bias-corrected
};

struct curves {
    std::vector<curve_point> updates;
    std::vector<epoch_record> epochs;

    void add_update(const update_record& u) {
        // Batch losses are noisy; the same smoothing as the LR range test's.
        constexpr double beta = 0.98;
        avg_ = beta * avg_ + (1 - beta) * u.loss;
        ++n_;
        updates.push_back({u.step, u.lr, avg_ / (1 - std::pow(beta, double(n_)))});
    }

private:
    double avg_ = 0;
    long n_ = 0;
};

// Refused before training, so a bad name does not cost a run. Where the file
// can be written is checked with the other outputs (example_io::inspect_target).
inline void check_plot_target(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    const std::string problem = gnuplot::image_name_problem(path);
    if (!problem.empty()) throw schedule_flags::option_error("--plot", problem);
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw schedule_flags::option_error("--plot", "directory '" + dir.string() + "' does not exist");
    if (path.find_first_of("\n\r'\"") != std::string::npos)
        throw schedule_flags::option_error("--plot", "the file name must not contain quotes or line breaks");
    if (!gnuplot::find_program("gnuplot"))
        throw schedule_flags::option_error("--plot", "gnuplot not found on PATH; install gnuplot-nox");
}

inline std::string plot_script(const curves& c, const std::string& image, bool svg,
                               const std::string& title) {
    std::string s;
    char line[160];
    s += gnuplot::terminal(svg, 800, 600, image);
    // noenhanced: parameter names such as base_lr must not turn into subscripts.
    s += "set multiplot layout 2,1 title " + gnuplot::quoted(title) + " noenhanced\n";
    s += "set grid\nset key top right\nset xlabel 'update'\nset ylabel 'training loss (smoothed)'\n"
         "set logscale y\nset y2label 'learning rate'\nset y2tics\nset ytics nomirror\n";
    s += "plot '-' using 1:2 with lines lw 1.5 title 'loss', '-' using 1:2 axes x1y2 with lines dt 2 title "
         "'lr'\n";
    for (const auto& p : c.updates) {
        std::snprintf(line, sizeof line, "%llu %.9g\n", static_cast<unsigned long long>(p.step), p.loss);
        s += line;
    }
    s += "e\n";
    for (const auto& p : c.updates) {
        std::snprintf(line, sizeof line, "%llu %.9g\n", static_cast<unsigned long long>(p.step), p.lr);
        s += line;
    }
    s += "e\n";
    s += "unset logscale y\nunset y2label\nunset y2tics\nset ytics mirror\nset xlabel 'epoch'\n"
         "set ylabel 'test error (%)'\nset xtics 1\n";
    s += "plot '-' using 1:2 with linespoints pt 7 lw 1.5 title 'test error'\n";
    for (const auto& e : c.epochs) {
        std::snprintf(line, sizeof line, "%d %.6g\n", e.epoch, 100.0 * (1.0 - e.test_accuracy));
        s += line;
    }
    s += "e\nunset multiplot\n";
    return s;
}

// Draws with gnuplot (examples/common: the image is checked to be whole) and
// moves the image into place only if all went well.
inline void render(example_io::temp_file& image, const std::string& script_text, bool svg) {
    gnuplot::render(image, script_text, svg, "mnist_clr.gp");
    image.commit();
}

inline void plot(const curves& c, const std::string& path, const std::string& title) {
    example_io::temp_file image(path);
    render(image, plot_script(c, image.path(), gnuplot::is_svg(path), title), gnuplot::is_svg(path));
}

// The range test's curve against the rate on a log axis: raw and smoothed
// loss, smoothed accuracy, and a line at each suggestion.
inline std::string range_test_script(const clr::range_test_result<float>& r, const std::string& image,
                                     bool svg, const std::string& title) {
    std::string s;
    char line[200];
    s += gnuplot::terminal(svg, 800, 480, image);
    s += "set title " + gnuplot::quoted("LR range test: " + title) + "\n";
    s += "set grid\nset logscale x\nset format x '10^{%L}'\nset xlabel 'learning rate'\n"
         "set ylabel 'training loss'\nset y2label 'training accuracy (smoothed)'\nset y2range [0:1]\n"
         "set y2tics\nset ytics nomirror\nset key bottom left\n";
    // The raw loss can explode at the end; the axis follows the smoothed one.
    double top = 0;
    for (const auto& rec : r.records)
        if (std::isfinite(rec.smoothed_loss)) top = std::max(top, double(rec.smoothed_loss));
    std::snprintf(line, sizeof line, "set yrange [0:%.6g]\n", 1.2 * top);
    s += line;
    const struct {
        const clr::lr_suggestion<float>* s;
        const char* name;
        const char* color;
    } marks[] = {{&r.suggestions.base_lr, "base", "#2ca02c"},
                 {&r.suggestions.max_lr, "max", "#d62728"},
                 {&r.suggestions.steepest, "steepest", "#9467bd"},
                 {&r.suggestions.min_loss_div10, "min/10", "#8c564b"},
                 {&r.suggestions.valley, "valley", "#e377c2"},
                 {&r.suggestions.slide, "slide", "#17becf"}};
    int k = 0;
    for (const auto& m : marks) {
        if (!*m.s) continue;
        const double x = double(*m.s->value);
        std::snprintf(line, sizeof line,
                      "set arrow from %.6g, graph 0 to %.6g, graph 1 nohead dt 3 lw 1.5 lc rgb '%s'\n"
                      "set label '%s %.3g' at %.6g, graph %.2f left offset 0.5,0 tc rgb '%s'\n",
                      x, x, m.color, m.name, x, x, 0.95 - 0.06 * k, m.color);
        s += line;
        ++k;
    }
    s += "plot '-' using 1:2 with lines lc rgb '#aaaaaa' title 'loss', "
         "'-' using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'loss (smoothed)', "
         "'-' using 1:2 axes x1y2 with lines lw 1.5 lc rgb '#ff7f0e' title 'accuracy (smoothed)'\n";
    for (int pass = 0; pass < 3; ++pass) {
        for (const auto& rec : r.records) {
            double v = pass == 0 ? double(rec.loss) : pass == 1 ? double(rec.smoothed_loss) : std::nan("");
            if (pass == 2 && rec.smoothed_accuracy) v = double(*rec.smoothed_accuracy);
            if (!std::isfinite(v)) continue;
            std::snprintf(line, sizeof line, "%.9g %.9g\n", double(rec.lr), v);
            s += line;
        }
        s += "e\n";
    }
    return s;
}

inline void plot_range_test(const clr::range_test_result<float>& r, const std::string& path,
                            const std::string& title) {
    example_io::temp_file image(path);
    render(image, range_test_script(r, image.path(), gnuplot::is_svg(path), title), gnuplot::is_svg(path));
}

}  // namespace mnist
