// The fixed model of scripts/gen_torch_reference.py, and its reference runs
// (tests/data/torch_*.csv), for the clr::torch tests.
#ifndef CLR_TESTS_TORCH_MODEL_HPP
#define CLR_TESTS_TORCH_MODEL_HPP

#include "../reference.hpp"

#include <torch/torch.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace clr_torch_test {

constexpr std::int64_t samples = 16, inputs = 4, hidden = 3;
constexpr std::size_t n_params = 19;  // W1 3x4, b1 3, W2 1x3, b2 1

inline ::torch::Tensor from(const std::vector<double>& v, const std::vector<std::int64_t>& shape) {
    return ::torch::tensor(v, ::torch::dtype(::torch::kFloat64)).reshape(shape).clone();
}

// The integer formulas of the script: every value a dyadic fraction.
inline ::torch::Tensor x_data() {
    std::vector<double> v;
    for (int i = 0; i < samples; ++i)
        for (int j = 0; j < inputs; ++j) v.push_back(((i * 7 + j * 3) % 11 - 5) / 8.0);
    return from(v, {samples, inputs});
}

inline ::torch::Tensor y_data() {
    std::vector<double> v;
    v.reserve(samples);
    for (int i = 0; i < samples; ++i) v.push_back(((i * 3) % 7 - 3) / 4.0);
    return from(v, {samples, 1});
}

// W1, b1, W2, b2 at their initial values, requiring gradients.
inline std::vector<::torch::Tensor> model() {
    std::vector<double> w1, b1, w2;
    for (int i = 0; i < hidden; ++i)
        for (int j = 0; j < inputs; ++j) w1.push_back(((i * 5 + j * 3) % 13 - 6) / 16.0);
    for (int i = 0; i < hidden; ++i) b1.push_back((i % 3 - 1) / 16.0);
    for (int j = 0; j < hidden; ++j) w2.push_back(((j * 5) % 7 - 2) / 8.0);
    std::vector<::torch::Tensor> p{from(w1, {hidden, inputs}), from(b1, {hidden}), from(w2, {1, hidden}),
                                   from({1.0 / 16.0}, {1})};
    for (auto& t : p) t.set_requires_grad(true);
    return p;
}

// The two parameter groups of the script: {W1, b1}, {W2, b2}.
inline std::vector<::torch::optim::OptimizerParamGroup> groups(const std::vector<::torch::Tensor>& p) {
    return {::torch::optim::OptimizerParamGroup({p[0], p[1]}),
            ::torch::optim::OptimizerParamGroup({p[2], p[3]})};
}

inline ::torch::Tensor loss_of(const std::vector<::torch::Tensor>& p, const ::torch::Tensor& x,
                               const ::torch::Tensor& y) {
    const auto h = ::torch::tanh(x.matmul(p[0].t()) + p[1]);
    const auto out = h.matmul(p[2].t()) + p[3];
    return (out - y).pow(2).mean();
}

inline std::vector<double> flat(const std::vector<::torch::Tensor>& p) {
    std::vector<double> v;
    for (const auto& t : p) {
        const auto c = t.detach().contiguous();
        const double* d = c.data_ptr<double>();
        v.insert(v.end(), d, d + c.numel());
    }
    return v;
}

struct run_row {
    double lr0, lr1, momentum, loss;
    std::vector<double> params;
};

// tests/data/<name>: "# torch ...", "# rows=N", the header, N rows; the
// layout is scripts/gen_torch_reference.py's, checked strictly.
inline std::vector<run_row> load_run(const std::string& name, std::size_t expected_rows) {
    const std::string path = std::string(CLR_TEST_DATA_DIR) + "/" + name;
    const auto lines = clr_test::table_lines(clr_test::read_table_text(path));
    if (lines.size() < 3 || lines[0].compare(0, 8, "# torch ") != 0)
        throw std::runtime_error(path + ": no provenance line");
    const auto rows = clr_test::parse_count_line(lines[1], "rows", path + ":2");
    std::string header = "t,lr0,lr1,momentum,loss";
    for (std::size_t k = 0; k < n_params; ++k) header += ",p" + std::to_string(k);
    if (lines[2] != header) throw std::runtime_error(path + ": unexpected header " + lines[2]);
    if (rows != expected_rows || lines.size() - 3 != rows)
        throw std::runtime_error(path + ": " + std::to_string(lines.size() - 3) +
                                 " rows, rows=" + std::to_string(rows) + ", the test expects " +
                                 std::to_string(expected_rows));
    std::vector<run_row> out;
    for (std::size_t r = 0; r < rows; ++r) {
        const std::string where = path + ":" + std::to_string(r + 4);
        const auto cells = clr_test::split(lines[r + 3], ',');
        if (cells.size() != 5 + n_params) throw std::runtime_error(where + ": wrong cell count");
        if (clr_test::parse_count(cells[0], where) != r) throw std::runtime_error(where + ": wrong step");
        run_row row{clr_test::parse_double(cells[1], where),
                    clr_test::parse_double(cells[2], where),
                    clr_test::parse_double(cells[3], where),
                    clr_test::parse_double(cells[4], where),
                    {}};
        for (std::size_t k = 0; k < n_params; ++k)
            row.params.push_back(clr_test::parse_double(cells[5 + k], where));
        out.push_back(std::move(row));
    }
    return out;
}

}  // namespace clr_torch_test

#endif  // CLR_TESTS_TORCH_MODEL_HPP
