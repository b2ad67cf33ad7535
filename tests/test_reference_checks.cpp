// The reference checks themselves: a NaN or infinity anywhere makes the worst
// error infinite, and a damaged, truncated or incomplete table is refused
// rather than quietly checked on fewer rows.
#include <clr/schedule.hpp>

#include "optim_reference.hpp"
#include "reference.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace clr_test;

constexpr double qnan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_ = std::numeric_limits<double>::infinity();

// Returns `value` except at step `bad`, where it returns `at_bad`.
class glitch : public clr::schedule<glitch, double> {
public:
    glitch(double value, clr::step_t bad, double at_bad, std::optional<double> m = std::nullopt)
        : value_(value),
          bad_(bad),
          at_bad_(at_bad),
          m_(m) {}
    double lr_at(clr::step_t t) const noexcept { return t == bad_ ? at_bad_ : value_; }
    clr::range<double> lr_range() const noexcept { return {0.0, 1.0}; }
    std::optional<double> momentum_at(clr::step_t) const noexcept { return m_; }

private:
    double value_;
    clr::step_t bad_;
    double at_bad_;
    std::optional<double> m_;
};

reference_table flat_table(std::size_t n, double lr) {
    reference_table t;
    for (std::size_t i = 0; i < n; ++i) {
        t.step.push_back(i);
        t.lr.push_back(lr);
    }
    return t;
}

// A directory of this process's own under the system's temporary directory,
// removed with everything in it when the program ends.
class scratch_dir {
public:
    scratch_dir()
        : path_(std::filesystem::temp_directory_path() /
                ("clr_reference_checks_" + std::to_string(std::random_device{}()))) {
        std::filesystem::create_directories(path_);
    }
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// Writes text to a scratch file and returns its path.
std::string scratch(const std::string& name, const std::string& text) {
    static const scratch_dir dir;
    const std::string path = (dir.path() / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

const std::string good_table =
    "# made by hand\n# rows=3\nstep,lr,momentum\n0,0.5,0.9\n1,0.25,0.8\n2,0.125,0.7\n";

}  // namespace

TEST_CASE("a non-finite value is infinitely wrong", "[reference][checks]") {
    CHECK(relative_error(qnan, 1.0) == inf_);
    CHECK(relative_error(inf_, 1.0) == inf_);
    CHECK(relative_error(-inf_, 1.0) == inf_);
    CHECK(relative_error(1.0, qnan) == inf_);
    CHECK(relative_error(1.0, 1.0) == 0.0);
    CHECK(relative_error(1.5, 1.0) == 0.5);
    CHECK(worse(0.0, qnan) == inf_);
    CHECK(worse(qnan, 0.0) == inf_);
    CHECK(worse(1e-3, 2e-3) == 2e-3);
    CHECK(worse(2e-3, 1e-3) == 2e-3);
    // The comparison every reference test makes fails on both.
    const double worst_nan = worse(0.0, qnan);
    CHECK_FALSE(worst_nan <= 1e-12);
}

TEST_CASE("a schedule giving NaN or inf_ at one step fails its table", "[reference][checks]") {
    const reference_table table = flat_table(100, 0.5);
    CHECK(worst_relative_error(glitch(0.5, 1000, 0.0), table) == 0.0);
    for (double bad : {qnan, inf_, -inf_}) {
        CAPTURE(bad);
        for (clr::step_t at : {clr::step_t(0), clr::step_t(37), clr::step_t(99)})
            CHECK(worst_relative_error(glitch(0.5, at, bad), table) == inf_);
    }
    // One wrong value among correct ones shows.
    CHECK(worst_relative_error(glitch(0.5, 50, 0.5000001), table) == Approx(2e-7));
    // A NaN momentum, or none where the table has one.
    reference_table with_m = table;
    with_m.momentum.assign(100, 0.9);
    CHECK(worst_relative_error(glitch(0.5, 1000, 0.0, 0.9), with_m) == 0.0);
    CHECK(worst_relative_error(glitch(0.5, 1000, 0.0, qnan), with_m) == inf_);
    CHECK(worst_relative_error(glitch(0.5, 1000, 0.0), with_m) == 1.0);
    // An empty table proves nothing.
    CHECK(worst_relative_error(glitch(0.5, 1000, 0.0), reference_table{}) == inf_);
}

TEST_CASE("an optimizer trajectory holding NaN or inf_ fails", "[reference][checks][optim]") {
    const trajectory want{{1.0, -2.0}, {1.5, -2.5}};
    trajectory got = want;
    CHECK(worst_error(got, want) == 0.0);
    CHECK(worst_scaled_error(got, want) == 0.0);
    got[1][0] = qnan;
    CHECK(worst_error(got, want) == inf_);
    CHECK(worst_scaled_error(got, want) == inf_);
    got[1][0] = inf_;
    CHECK(worst_error(got, want) == inf_);
    CHECK(worst_scaled_error(got, want) == inf_);
    got = want;
    got[0][1] = -2.0 * (1 + 1e-9);
    CHECK(worst_error(got, want) == Approx(1e-9));
}

TEST_CASE("every committed reference table loads whole", "[reference][checks]") {
    // Each table's promised row count is also what its test expects; here
    // the loader's own view of a few: rows 0..n-1, nothing dropped.
    const reference_table t = load_reference("cyclic_triangular.csv", 10000);
    REQUIRE(t.step.size() == 10000);
    CHECK(t.step.front() == 0);
    CHECK(t.step.back() == 9999);
    CHECK(t.lr[2000] == 0.006);
    const optim_reference r = load_optim_reference("optim_sgd_plain.csv", optim_steps);
    REQUIRE(r.after.size() == optim_steps);
    CHECK(r.before[1] == r.after[0]);
    CHECK(r.before[0][0] == 0.4);                 // initial(), block 0, index 0
    CHECK(r.before[0][12] == -(0.4 + 0.07 * 3));  // block 1, index 0
}

TEST_CASE("a damaged schedule table is refused", "[reference][checks]") {
    using Catch::Matchers::Contains;
    REQUIRE(load_reference_file(scratch("good.csv", good_table), 3).lr[2] == 0.125);
    auto damaged = [](const std::string& name, const std::string& from, const std::string& to) {
        std::string text = good_table;
        const auto at = text.find(from);
        REQUIRE(at != std::string::npos);
        text.replace(at, from.size(), to);
        return scratch(name, text);
    };
    // Truncated: at a row boundary, and inside the last row (what is left of it still parses).
    REQUIRE_THROWS_WITH(load_reference_file(damaged("trunc_row.csv", "2,0.125,0.7\n", "")),
                        Contains("promises 3 rows, the file has 2"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("trunc_cell.csv", "0.125,0.7\n", "0.12")),
                        Contains("does not end with a newline"));
    REQUIRE_THROWS_WITH(load_reference_file(scratch("empty.csv", "")), Contains("empty file"));
    // A row missing, duplicated or out of order.
    REQUIRE_THROWS_WITH(load_reference_file(damaged("gap.csv", "1,0.25,0.8\n", "2,0.25,0.8\n")),
                        Contains("step 2 where step 1 belongs"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("dup.csv", "1,0.25,0.8\n", "0,0.25,0.8\n")),
                        Contains("step 0 where step 1 belongs"));
    // Damaged cells.
    REQUIRE_THROWS_WITH(load_reference_file(damaged("junk.csv", "0.25,", "0.25x,")),
                        Contains("bad number '0.25x'"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("emptycell.csv", "0.25,", ",")),
                        Contains("bad number ''"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("blank.csv", "0.25,", " 0.25,")), Contains("bad number"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("nancell.csv", "0.25,", "nan,")),
                        Contains("bad number 'nan'"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("infcell.csv", "0.8\n", "inf\n")),
                        Contains("bad number 'inf'"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("extra.csv", "0.8\n", "0.8,1\n")),
                        Contains("4 cells, expected 3"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("short.csv", ",0.8\n", "\n")),
                        Contains("2 cells, expected 3"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("step.csv", "1,0.25", "1.0,0.25")),
                        Contains("bad count '1.0'"));
    // The header.
    REQUIRE_THROWS_WITH(load_reference_file(damaged("norows.csv", "# rows=3\n", "")),
                        Contains("expected '# rows=N'"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("rows.csv", "rows=3", "rows=4")),
                        Contains("promises 4 rows, the file has 3"));
    REQUIRE_THROWS_WITH(load_reference_file(damaged("hdr.csv", "step,lr,momentum", "step,lr,mom")),
                        Contains("unexpected header"));
    // A table shorter than its test expects, even if whole.
    REQUIRE_THROWS_WITH(load_reference_file(scratch("good.csv", good_table), 4),
                        Contains("the test expects 4"));
    REQUIRE_THROWS_WITH(load_reference("no_such_table.csv"), Contains("cannot open"));
}

TEST_CASE("a damaged optimizer table is refused", "[reference][checks][optim]") {
    using Catch::Matchers::Contains;
    std::ifstream in(std::string(CLR_TEST_DATA_DIR) + "/optim_adamw.csv", std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(load_optim_reference_file(scratch("optim_good.csv", text), optim_steps).steps == optim_steps);
    const auto last = text.rfind('\n', text.size() - 2);  // start of the last row
    REQUIRE(last != std::string::npos);
    // Last row dropped; last row cut in its final cell.
    REQUIRE_THROWS_WITH(load_optim_reference_file(scratch("optim_trunc.csv", text.substr(0, last + 1))),
                        Contains("steps=300 but the file has 299 rows"));
    REQUIRE_THROWS_WITH(load_optim_reference_file(scratch("optim_cut.csv", text.substr(0, text.size() - 4))),
                        Contains("does not end with a newline"));
    // A row's update number changed.
    std::string renumbered = text;
    renumbered.replace(last + 1, 3, "298");
    REQUIRE_THROWS_WITH(load_optim_reference_file(scratch("optim_renum.csv", renumbered)),
                        Contains("update 298 where update 299 belongs"));
    // A cell emptied.
    std::string emptied = text;
    const auto comma = emptied.find(',', last + 1);
    const auto next = emptied.find(',', comma + 1);
    emptied.erase(comma + 1, next - comma - 1);
    REQUIRE_THROWS_WITH(load_optim_reference_file(scratch("optim_emptycell.csv", emptied)),
                        Contains("bad number ''"));
    // steps= on the case line disagreeing with the rows, or with the test.
    std::string fewer = text;
    fewer.replace(fewer.find("steps=300"), 9, "steps=200");
    REQUIRE_THROWS_WITH(load_optim_reference_file(scratch("optim_steps.csv", fewer)),
                        Contains("steps=200 but the file has 300 rows"));
    REQUIRE_THROWS_WITH(load_optim_reference_file(scratch("optim_steps.csv", fewer), optim_steps),
                        Contains("200 steps, the test expects 300"));
}
