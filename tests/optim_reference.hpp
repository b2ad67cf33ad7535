// What the optimizer tests share: the PyTorch reference runs written by
// scripts/gen_optim_reference.py, and schedules that replay a given rate.
#ifndef CLR_TESTS_OPTIM_REFERENCE_HPP
#define CLR_TESTS_OPTIM_REFERENCE_HPP

#include <clr/schedule.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <array>
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

}  // namespace clr_test

#endif
