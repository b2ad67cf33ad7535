// Plotting a schedule with gnuplot: reducing millions of steps to what a few
// hundred pixels can show, and writing the script (examples/common/gnuplot.hpp
// runs it).
#pragma once

#include "gnuplot.hpp"

#include <clr/schedule.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace schedule_plot {

// A curve reduced for drawing. Each of `buckets` runs of consecutive steps
// keeps its first, lowest, highest and last point (the M4 reduction), so the
// drawn line has exactly the extent of the full one at every pixel column even
// when cycles are far narrower than a pixel; short curves are kept whole.
class envelope {
public:
    envelope(clr::step_t steps, clr::step_t buckets)
        : width_(std::max<clr::step_t>(1, (steps + buckets - 1) / buckets)) {
        points_.reserve(static_cast<std::size_t>(std::min(steps, 4 * buckets)));
    }

    void add(clr::step_t t, double v) {
        if (!std::isfinite(v)) throw std::runtime_error("non-finite value at step " + std::to_string(t));
        lo_ = std::min(lo_, v);
        hi_ = std::max(hi_, v);
        if (count_ == 0) {
            first_ = last_ = min_ = max_ = {t, v};
        } else {
            if (v < min_.second) min_ = {t, v};
            if (v > max_.second) max_ = {t, v};
            last_ = {t, v};
        }
        if (++count_ == width_) flush();
    }

    // Call once every step is added, before points().
    void finish() { flush(); }

    // Points in step order.
    const std::vector<std::pair<clr::step_t, double>>& points() const noexcept { return points_; }
    double lo() const noexcept { return lo_; }
    double hi() const noexcept { return hi_; }

private:
    void flush() {
        if (count_ == 0) return;
        std::pair<clr::step_t, double> p[4] = {first_, min_, max_, last_};
        std::sort(p, p + 4);
        for (const auto& q : p)
            if (points_.empty() || points_.back().first != q.first) points_.push_back(q);
        count_ = 0;
    }

    clr::step_t width_;
    clr::step_t count_ = 0;
    std::pair<clr::step_t, double> first_{}, min_{}, max_{}, last_{};
    std::vector<std::pair<clr::step_t, double>> points_;
    double lo_ = std::numeric_limits<double>::infinity();
    double hi_ = -std::numeric_limits<double>::infinity();
};

// Breaks words into lines of about `width` characters, joined with the
// gnuplot escape for a line break (for a double-quoted title).
inline std::string wrap(const std::vector<std::string>& words, std::size_t width) {
    std::string out, line;
    for (const auto& w : words) {
        if (!line.empty() && line.size() + 2 + w.size() > width) {
            out += (out.empty() ? "" : "\\n") + line;
            line.clear();
        }
        line += (line.empty() ? "" : " ") + w;
    }
    if (!line.empty()) out += (out.empty() ? "" : "\\n") + line;
    return out;
}

struct plot_request {
    std::string image;  // where gnuplot writes the image (a temporary file)
    bool svg = false;   // else PNG
    int width = 640;
    int height = 360;
    std::vector<std::string> title;  // the schedule's text form in pieces, wrapped between them
    clr::step_t steps = 0;
    const envelope* lr = nullptr;
    const envelope* momentum = nullptr;  // null when momentum is not cycled
};

namespace detail {

// Axis limits with a little air around the curve, so a flat line or a peak is
// not drawn on the frame. Learning rates and momenta are never negative, so
// the axis does not dip below zero just for the margin.
inline std::pair<double, double> padded(double lo, double hi) {
    double pad = (hi - lo) * 0.06;
    if (!(pad > 0)) pad = lo != 0 ? std::fabs(lo) * 0.1 : 1e-3;
    double a = lo - pad;
    if (lo >= 0 && a < 0) a = 0;
    return {a, hi + pad};
}

inline void data_block(std::string& s, const char* name, const envelope& e) {
    s += std::string("$") + name + " << EOD\n";
    for (const auto& [t, v] : e.points()) s += std::to_string(t) + " " + clr::format_number(v) + "\n";
    s += "EOD\n";
}

}  // namespace detail

// The whole gnuplot script, data inline.
inline std::string script(const plot_request& r) {
    std::string s = gnuplot::terminal(r.svg, r.width, r.height, r.image);
    detail::data_block(s, "lr", *r.lr);
    if (r.momentum != nullptr) detail::data_block(s, "momentum", *r.momentum);

    // Underscores in names are text here, not subscripts.
    // The canonical text form holds no quote or backslash to escape.
    s += "set title \"" + wrap(r.title, r.width / 7) + "\" noenhanced\n";
    // Six- and seven-digit tic labels run into each other at this width, so
    // long runs are counted in thousands or millions.
    const double last = static_cast<double>(r.steps > 1 ? r.steps - 1 : 1);
    const double unit = last >= 2e6 ? 1e6 : last >= 2e5 ? 1e3 : 1;
    const std::string x_unit = unit == 1e6 ? " (millions)" : unit == 1e3 ? " (thousands)" : "";
    const std::string x = unit == 1 ? "1" : "($1/" + clr::format_number(unit) + ")";
    // Nudged up so that it does not crowd a key below it.
    s += "set xlabel 'step" + x_unit + "' offset 0,0.4\nset ylabel 'learning rate'\n";
    s += "set grid xtics ytics back linetype 1 linecolor rgb '#d8d8d8' linewidth 1 dashtype solid\n";
    s += "set border lw 1\nset tics nomirror out\nset format x '%g'\nset format y '%g'\n";
    s += "set xrange [0:" + clr::format_number(last / unit) + "]\n";
    const auto [ylo, yhi] = detail::padded(r.lr->lo(), r.lr->hi());
    s += "set yrange [" + clr::format_number(ylo) + ":" + clr::format_number(yhi) + "]\n";
    s += "set style line 1 lc rgb '#1f77b4' lw 2\nset style line 2 lc rgb '#d62728' lw 1.5 dt 2\n";
    if (r.momentum != nullptr) {
        const auto [mlo, mhi] = detail::padded(r.momentum->lo(), r.momentum->hi());
        s += "set y2label 'momentum'\nset y2tics nomirror out\nset format y2 '%g'\n";
        s += "set y2range [" + clr::format_number(mlo) + ":" + clr::format_number(mhi) + "]\n";
        s += "set key outside bottom center horizontal samplen 3\n";
        s += "plot $lr using " + x +
             ":2 with lines ls 1 title 'learning rate', "
             "$momentum using " +
             x + ":2 axes x1y2 with lines ls 2 title 'momentum'\n";
    } else {
        s += "unset key\n";
        s += "plot $lr using " + x + ":2 with lines ls 1\n";
    }
    s += "unset output\n";
    return s;
}

}  // namespace schedule_plot
