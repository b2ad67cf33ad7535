// What the optimizer tests share: the PyTorch reference runs written by
// scripts/gen_optim_reference.py, and schedules that replay a given rate.
#ifndef CLR_TESTS_OPTIM_REFERENCE_HPP
#define CLR_TESTS_OPTIM_REFERENCE_HPP

#include "reference.hpp"

#include <clr/schedule.hpp>

#include <Eigen/Core>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
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
    table_schedule(std::vector<T> lr, std::vector<T> momentum) : lr_(std::move(lr)), m_(std::move(momentum)) {}
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

struct optim_reference {
    std::map<std::string, std::string> options;
    std::size_t steps = 0;
    std::vector<double> lr, momentum;
    // [t][k]: k runs over block 0 (row-major, as PyTorch stores it), then block 1.
    std::vector<std::vector<double>> grad, before, after;

    double number(const std::string& key) const { return std::strtod(options.at(key).c_str(), nullptr); }
    bool cycled() const { return options.at("cycled") == "momentum"; }
};

inline optim_reference load_optim_reference(const std::string& name) {
    const std::string path = std::string(CLR_TEST_DATA_DIR) + "/" + name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    optim_reference ref;
    std::string line;
    std::getline(in, line);  // provenance
    std::getline(in, line);
    const std::string tag = "# case: ";
    if (line.compare(0, tag.size(), tag) != 0) throw std::runtime_error(path + ": no case line");
    std::istringstream fields(line.substr(tag.size()));
    for (std::string kv; fields >> kv;) {
        const auto eq = kv.find('=');
        ref.options[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (ref.options.at("shapes") != "3x4,5") throw std::runtime_error(path + ": unexpected shapes");
    ref.steps = std::stoul(ref.options.at("steps"));
    std::getline(in, line);
    if (line != "t,block,index,lr,momentum,grad,param_before,param_after")
        throw std::runtime_error(path + ": unexpected header " + line);
    ref.lr.assign(ref.steps, 0.0);
    ref.momentum.assign(ref.steps, 0.0);
    for (auto* v : {&ref.grad, &ref.before, &ref.after}) v->assign(ref.steps, std::vector<double>(n_values));
    std::size_t rows = 0;
    while (std::getline(in, line)) {
        std::istringstream row(line);
        std::array<std::string, 8> c;
        for (auto& cell : c) std::getline(row, cell, ',');
        const std::size_t t = std::stoul(c[0]), b = std::stoul(c[1]);
        const auto i = static_cast<Eigen::Index>(std::stol(c[2]));
        if (t >= ref.steps || b >= n_blocks || i >= block_sizes[b])
            // NOLINTNEXTLINE(performance-inefficient-string-concatenation): error path, runs once
            throw std::runtime_error(path + ": bad row " + line);
        const auto k = static_cast<std::size_t>(b == 0 ? i : block_sizes[0] + i);
        ref.lr[t] = std::strtod(c[3].c_str(), nullptr);
        ref.momentum[t] = std::strtod(c[4].c_str(), nullptr);
        ref.grad[t][k] = std::strtod(c[5].c_str(), nullptr);
        ref.before[t][k] = std::strtod(c[6].c_str(), nullptr);
        ref.after[t][k] = std::strtod(c[7].c_str(), nullptr);
        ++rows;
    }
    if (rows != ref.steps * n_values) throw std::runtime_error(path + ": wrong number of rows");
    return ref;
}

template <class T>
table_schedule<T> schedule_of(const optim_reference& ref) {
    std::vector<T> lr(ref.lr.begin(), ref.lr.end());
    std::vector<T> m;
    if (ref.cycled()) m.assign(ref.momentum.begin(), ref.momentum.end());
    return {lr, m};
}

using trajectory = std::vector<std::vector<double>>;  // [t][k], as optim_reference::after

// The reference run as a user would write it: a 3x4 column-major matrix and a
// vector seen through a Map, both registered once.
template <class T, class Make>
trajectory run_blocks(const optim_reference& ref, Make make) {
    using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using vector_map = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
    auto opt = make(schedule_of<T>(ref));
    matrix w(3, 4), dw(3, 4);
    std::vector<T> b(5), db(5);
    opt.add(w, dw);
    opt.add(vector_map(b.data(), 5), vector_map(db.data(), 5));
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
    double worst = 0.0;
    for (std::size_t t = 0; t < got.size(); ++t)
        for (std::size_t k = 0; k < got[t].size(); ++k)
            worst = std::max(worst, relative_error(got[t][k], want[t][k % want[t].size()]));
    return worst;
}

// For float against double: the error relative to the parameters' scale
// (they are of order 1), since an update that nearly cancels a parameter
// leaves a small value carrying the absolute rounding error of a large one.
inline double worst_scaled_error(const trajectory& got, const trajectory& want) {
    REQUIRE(got.size() == want.size());
    double worst = 0.0;
    for (std::size_t t = 0; t < got.size(); ++t)
        for (std::size_t k = 0; k < got[t].size(); ++k) {
            const double w = want[t][k % want[t].size()];
            worst = std::max(worst, std::abs(got[t][k] - w) / std::max(std::abs(w), 1.0));
        }
    return worst;
}

}  // namespace clr_test

#endif
