// What the optimizer tests share: the PyTorch reference runs written by
// scripts/gen_optim_reference.py, and schedules that replay a given rate.
#ifndef CLR_TESTS_OPTIM_REFERENCE_HPP
#define CLR_TESTS_OPTIM_REFERENCE_HPP

#include "reference.hpp"

#include <clr/optim/optimizer.hpp>
#include <clr/schedule.hpp>

#include <Eigen/Core>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace clr_test {

// The learning rate (and momentum) PyTorch was given before each update.
template <class T>
class table_schedule : public clr::schedule<table_schedule<T>, T> {
public:
    table_schedule(std::vector<T> lr, std::vector<T> momentum)
        : lr_(std::move(lr)),
          m_(std::move(momentum)) {}
    T lr_at(clr::step_t t) const noexcept { return lr_[index(t)]; }
    clr::range<T> lr_range() const noexcept {
        const auto mm = std::minmax_element(lr_.begin(), lr_.end());
        return {*mm.first, *mm.second};
    }
    std::optional<T> momentum_at(clr::step_t t) const noexcept {
        if (m_.empty()) return std::nullopt;
        return m_[index(t)];
    }

private:
    std::size_t index(clr::step_t t) const noexcept { return std::min<std::size_t>(t, lr_.size() - 1); }
    std::vector<T> lr_;
    std::vector<T> m_;
};

// A fixed rate, optionally with a fixed cycled momentum.
template <class T>
class fixed : public clr::schedule<fixed<T>, T> {
public:
    explicit fixed(T lr, std::optional<T> m = std::nullopt) : lr_(lr), m_(m) {}
    T lr_at(clr::step_t) const noexcept { return lr_; }
    clr::range<T> lr_range() const noexcept { return {lr_, lr_}; }
    std::optional<T> momentum_at(clr::step_t) const noexcept { return m_; }

private:
    T lr_;
    std::optional<T> m_;
};

constexpr std::size_t n_blocks = 2;
constexpr std::array<Eigen::Index, n_blocks> block_sizes{12, 5};  // 3x4 matrix, 5-vector
constexpr Eigen::Index n_values = 17;
// Updates per reference run (scripts/gen_optim_reference.py's STEPS); every
// one of them is checked.
constexpr std::size_t optim_steps = 300;

struct optim_reference {
    std::map<std::string, std::string> options;
    std::size_t steps = 0;
    std::vector<double> lr, momentum;
    // Columns between momentum and g0, by name: lr1, wd0, wd1 in the tables
    // of scripts/gen_optim_schedule_reference.py.
    std::map<std::string, std::vector<double>> extra;
    // [t][k]: k runs over block 0 (row-major, as PyTorch stores it), then block 1.
    std::vector<std::vector<double>> grad, before, after;

    double number(const std::string& key) const {
        return parse_double(options.at(key), "case option " + key);
    }
    bool cycled() const { return options.at("cycled") == "momentum"; }
};

// Reads the layout scripts/gen_optim_reference.py writes (see there): the
// case line, the initial parameters, then exactly `steps` rows for updates
// 0 .. steps - 1 in order, every cell a finite number. expected_steps, when
// given, is what the test itself expects the table to cover.
inline optim_reference load_optim_reference_file(const std::string& path, std::size_t expected_steps = 0) {
    const std::vector<std::string> lines = table_lines(read_table_text(path));
    if (lines.size() < 4 || lines[0].compare(0, 2, "# ") != 0)
        throw std::runtime_error(path + ": no provenance line");
    optim_reference ref;
    const std::string tag = "# case: ";
    if (lines[1].compare(0, tag.size(), tag) != 0) throw std::runtime_error(path + ": no case line");
    // "<path>: <problem> '<text>'", built outside the loops that refuse.
    const auto refuse = [&path](const char* problem, const std::string& text) {
        throw std::runtime_error(path + ": " + problem + " '" + text + "'");
    };
    std::istringstream fields(lines[1].substr(tag.size()));
    for (std::string kv; fields >> kv;) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size()) refuse("bad case field", kv);
        if (!ref.options.emplace(kv.substr(0, eq), kv.substr(eq + 1)).second)
            refuse("case field given twice", kv);
    }
    for (const char* key : {"optimizer", "cycled", "shapes", "steps"})
        if (ref.options.count(key) == 0) throw std::runtime_error(path + ": the case line lacks " + key);
    if (ref.options.at("shapes") != "3x4,5") throw std::runtime_error(path + ": unexpected shapes");
    ref.steps = parse_count(ref.options.at("steps"), path + ": steps");
    if (ref.steps == 0) throw std::runtime_error(path + ": steps=0");
    if (expected_steps != 0 && ref.steps != expected_steps)
        throw std::runtime_error(path + ": " + std::to_string(ref.steps) + " steps, the test expects " +
                                 std::to_string(expected_steps));

    const std::string init_tag = "# initial=";
    if (lines[2].compare(0, init_tag.size(), init_tag) != 0)
        throw std::runtime_error(path + ": no initial line");
    const std::vector<std::string> init = split(lines[2].substr(init_tag.size()), ',');
    if (init.size() != std::size_t(n_values))
        throw std::runtime_error(path + ": the initial line needs 17 values");
    std::vector<double> start;
    start.reserve(init.size());
    for (const auto& cell : init) start.push_back(parse_double(cell, path + ":3"));

    // t, lr, momentum, any named columns, then g0 .. g16, p0 .. p16.
    const std::vector<std::string> names = split(lines[3], ',');
    std::vector<std::string> extras;
    for (std::size_t i = 3; i < names.size() && names[i] != "g0"; ++i) extras.push_back(names[i]);
    std::string header = "t,lr,momentum";
    for (const auto& name : extras) {
        if (name.empty() || !ref.extra.emplace(name, std::vector<double>()).second)
            refuse("bad or repeated column", name);
        header += "," + name;
    }
    for (Eigen::Index k = 0; k < n_values; ++k) header += ",g" + std::to_string(k);
    for (Eigen::Index k = 0; k < n_values; ++k) header += ",p" + std::to_string(k);
    if (lines[3] != header) throw std::runtime_error(path + ": unexpected header " + lines[3]);
    if (lines.size() - 4 != ref.steps)
        throw std::runtime_error(path + ": steps=" + std::to_string(ref.steps) + " but the file has " +
                                 std::to_string(lines.size() - 4) + " rows");

    const std::size_t first_g = 3 + extras.size();
    const std::size_t columns = first_g + 2 * std::size_t(n_values);
    for (std::size_t t = 0; t < ref.steps; ++t) {
        const std::string where = path + ":" + std::to_string(t + 5);
        const std::vector<std::string> c = split(lines[t + 4], ',');
        if (c.size() != columns)
            throw std::runtime_error(where + ": " + std::to_string(c.size()) + " cells, expected " +
                                     std::to_string(columns));
        if (parse_count(c[0], where) != t)
            throw std::runtime_error(where + ": update " + c[0] + " where update " + std::to_string(t) +
                                     " belongs");
        ref.lr.push_back(parse_double(c[1], where));
        ref.momentum.push_back(parse_double(c[2], where));
        for (std::size_t i = 0; i < extras.size(); ++i)
            ref.extra.at(extras[i]).push_back(parse_double(c[3 + i], where));
        std::vector<double> g, p;
        for (std::size_t k = 0; k < std::size_t(n_values); ++k) {
            g.push_back(parse_double(c[first_g + k], where));
            p.push_back(parse_double(c[first_g + std::size_t(n_values) + k], where));
        }
        ref.before.push_back(t == 0 ? start : ref.after.back());
        ref.grad.push_back(std::move(g));
        ref.after.push_back(std::move(p));
    }
    return ref;
}

inline optim_reference load_optim_reference(const std::string& name, std::size_t expected_steps = 0) {
    return load_optim_reference_file(std::string(CLR_TEST_DATA_DIR) + "/" + name, expected_steps);
}

template <class T>
table_schedule<T> schedule_of(const optim_reference& ref) {
    std::vector<T> lr(ref.lr.begin(), ref.lr.end());
    std::vector<T> m;
    if (ref.cycled()) m.assign(ref.momentum.begin(), ref.momentum.end());
    return {lr, m};
}

using trajectory = std::vector<std::vector<double>>;  // [t][k], as optim_reference::after

// The options of block 1 in a *_groups case (its own parameter group in
// PyTorch); the defaults in any other.
inline clr::optim::block_options block1_options_of(const optim_reference& ref) {
    clr::optim::block_options o;
    if (ref.options.count("block1_lr_scale")) o = o.with_lr_scale(ref.number("block1_lr_scale"));
    if (ref.options.count("block1_weight_decay")) o = o.with_weight_decay(ref.number("block1_weight_decay"));
    return o;
}

// The reference run as a user would write it: a 3x4 column-major matrix and a
// vector seen through a Map, both registered once, the vector with the
// case's block 1 options.
template <class T, class Make>
trajectory run_blocks(const optim_reference& ref, Make make) {
    using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using vector_map = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
    auto opt = make(schedule_of<T>(ref));
    matrix w(3, 4), dw(3, 4);
    std::vector<T> b(5), db(5);
    opt.add(w, dw);
    opt.add(vector_map(b.data(), 5), vector_map(db.data(), 5), block1_options_of(ref));
    auto load = [](const std::vector<double>& flat, matrix& m, std::vector<T>& v) {
        for (Eigen::Index i = 0; i < 12; ++i) m(i / 4, i % 4) = T(flat[std::size_t(i)]);
        for (std::size_t i = 0; i < 5; ++i) v[i] = T(flat[12 + i]);
    };
    load(ref.before[0], w, b);
    trajectory out;
    for (std::size_t t = 0; t < ref.steps; ++t) {
        REQUIRE(opt.steps() == t);
        REQUIRE(double(opt.lr()) == Approx(ref.lr[t]).epsilon(1e-6));
        load(ref.grad[t], dw, db);
        opt.step();
        std::vector<double> flat(n_values);
        for (Eigen::Index i = 0; i < 12; ++i) flat[std::size_t(i)] = double(w(i / 4, i % 4));
        for (std::size_t i = 0; i < 5; ++i) flat[12 + i] = double(b[i]);
        out.push_back(flat);
    }
    return out;
}

// The same run on one block holding 150 copies of the 17 values: every element
// evolves on its own, so each copy must match the reference. 2550 values span
// several of the optimizer's internal chunks.
template <class T, class Make>
trajectory run_tiled(const optim_reference& ref, Make make, std::size_t copies = 150) {
    const auto n = static_cast<Eigen::Index>(copies * n_values);
    Eigen::Array<T, Eigen::Dynamic, 1> p(n), g(n);
    auto opt = make(schedule_of<T>(ref));
    opt.add(p, g);
    for (Eigen::Index i = 0; i < n; ++i) p(i) = T(ref.before[0][std::size_t(i % n_values)]);
    trajectory out;
    for (std::size_t t = 0; t < ref.steps; ++t) {
        for (Eigen::Index i = 0; i < n; ++i) g(i) = T(ref.grad[t][std::size_t(i % n_values)]);
        opt.step();
        out.emplace_back(p.data(), p.data() + n);
    }
    return out;
}

// Worst relative error of a trajectory against the reference (or another
// trajectory); element k of `got` is compared with element k mod 17.
inline double worst_error(const trajectory& got, const trajectory& want) {
    REQUIRE(got.size() == want.size());
    REQUIRE(!got.empty());
    double worst = 0.0;
    for (std::size_t t = 0; t < got.size(); ++t)
        for (std::size_t k = 0; k < got[t].size(); ++k)
            worst = worse(worst, relative_error(got[t][k], want[t][k % want[t].size()]));
    return worst;
}

// For float against double: the error relative to the parameters' scale
// (they are of order 1), since an update that nearly cancels a parameter
// leaves a small value carrying the absolute rounding error of a large one.
// `updates` limits the comparison to the first few updates.
inline double worst_scaled_error(const trajectory& got, const trajectory& want,
                                 std::size_t updates = std::numeric_limits<std::size_t>::max()) {
    REQUIRE(got.size() == want.size());
    REQUIRE(!got.empty());
    double worst = 0.0;
    for (std::size_t t = 0; t < std::min(updates, got.size()); ++t)
        for (std::size_t k = 0; k < got[t].size(); ++k) {
            const double w = want[t][k % want[t].size()];
            const double g = got[t][k];
            // A value that is not finite is infinitely wrong (relative_error's rule).
            worst = worse(worst, std::isfinite(g) && std::isfinite(w)
                                     ? std::abs(g - w) / std::max(std::abs(w), 1.0)
                                     : std::numeric_limits<double>::infinity());
        }
    return worst;
}

// PyTorch's parameter groups, checked against separate optimizers. The
// reference case runs once with its 3x4 block registered plainly and its
// 5-vector with `options`, and once as two optimizers, one per block: the
// second made by make_vector from the case's schedule with every rate times
// `scale` (0.5 scales exactly, so both ways must agree bit for bit). A third
// run registers the vector plainly, to show that the options changed it.
// Returns the number of updates after which the two ways differ (0 if none).
template <class T, class Make, class MakeVector>
std::size_t differs_from_separate(const optim_reference& ref, const clr::optim::block_options& options,
                                  T scale, Make make, MakeVector make_vector) {
    using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    const table_schedule<T> sched = schedule_of<T>(ref);
    std::vector<T> lr, m;
    for (double x : ref.lr) lr.push_back(T(x) * scale);
    if (ref.cycled()) m.assign(ref.momentum.begin(), ref.momentum.end());
    auto together = make(sched);
    auto first = make(sched);
    auto second = make_vector(table_schedule<T>(lr, m));
    auto plain = make(sched);
    matrix w(3, 4), dw(3, 4);
    vector b(5), db(5);
    for (Eigen::Index i = 0; i < 12; ++i) w(i / 4, i % 4) = T(ref.before[0][std::size_t(i)]);
    for (Eigen::Index i = 0; i < 5; ++i) b(i) = T(ref.before[0][std::size_t(12 + i)]);
    matrix w1 = w;
    vector b1 = b, b2 = b;
    REQUIRE(together.add(w, dw) == 0);
    REQUIRE(together.add(b, db, options) == 1);
    first.add(w1, dw);
    second.add(b1, db);
    plain.add(b2, db);
    for (std::size_t t = 0; t < ref.steps; ++t) {
        for (Eigen::Index i = 0; i < 12; ++i) dw(i / 4, i % 4) = T(ref.grad[t][std::size_t(i)]);
        for (Eigen::Index i = 0; i < 5; ++i) db(i) = T(ref.grad[t][std::size_t(12 + i)]);
        together.step();
        first.step();
        second.step();
        plain.step();
        if (!(w == w1) || !(b == b1)) return t + 1;
    }
    CHECK_FALSE(b == b2);
    return 0;
}

}  // namespace clr_test

#endif
