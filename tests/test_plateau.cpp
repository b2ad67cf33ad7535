// plateau.hpp and plateau_rule.hpp: PyTorch 1.13's ReduceLROnPlateau tables
// (scripts/gen_plateau_reference.py), composition, copies, saved state and
// refusals.
#include <clr/clr.hpp>

#include "reference.hpp"
#include "schedule_checks.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

struct plateau_row {
    double metric, lr, best;
    std::uint64_t bad, cooldown;
};

struct plateau_table {
    std::string text;  // the case as clr's text form
    std::vector<plateau_row> rows;
};

// A metric or best cell: a finite number, or nan, inf, -inf.
double metric_cell(const std::string& cell, const std::string& where) {
    if (cell == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (cell == "inf") return std::numeric_limits<double>::infinity();
    if (cell == "-inf") return -std::numeric_limits<double>::infinity();
    return clr_test::parse_double(cell, where);
}

// "ReduceLROnPlateau(SGD(lr=0.1), mode='max', factor=0.3)" as
// "plateau(constant(lr=0.1), mode=max, factor=0.3)".
std::string clr_text(std::string call, const std::string& where) {
    const std::string head = "ReduceLROnPlateau(SGD(lr=";
    const auto at = call.find(head);
    if (at == std::string::npos) throw std::runtime_error(where + ": no ReduceLROnPlateau call");
    call = "plateau(constant(lr=" + call.substr(at + head.size());
    std::string out;
    for (char c : call)
        if (c != '\'') out += c;
    if (out.size() > 2 && out.compare(out.size() - 3, 3, ", )") == 0) out.replace(out.size() - 3, 3, ")");
    return out;
}

plateau_table load_plateau(const std::string& name) {
    const std::string path = std::string(CLR_TEST_DATA_DIR) + "/" + name + ".csv";
    const auto lines = clr_test::table_lines(clr_test::read_table_text(path));
    if (lines.size() < 3 || lines[2] != "report,metric,lr,best,bad_reports,cooldown_left")
        throw std::runtime_error(path + ": not a plateau table");
    const std::uint64_t n = clr_test::parse_count_line(lines[1], "rows", path);
    if (lines.size() != n + 3) throw std::runtime_error(path + ": row count differs from # rows");
    plateau_table t{clr_text(lines[0], path), {}};
    for (std::uint64_t i = 0; i < n; ++i) {
        const std::string where = path + " row " + std::to_string(i + 1);
        const auto c = clr_test::split(lines[std::size_t(i) + 3], ',');
        if (c.size() != 6 || clr_test::parse_count(c[0], where) != i + 1)
            throw std::runtime_error(where + ": bad row");
        t.rows.push_back({metric_cell(c[1], where), clr_test::parse_double(c[2], where),
                          metric_cell(c[3], where), clr_test::parse_count(c[4], where),
                          clr_test::parse_count(c[5], where)});
    }
    return t;
}

const char* const cases[] = {"plateau_min_rel",       "plateau_max_abs_cooldown", "plateau_min_lr",
                             "plateau_eps_skip",      "plateau_nonfinite",        "plateau_max_rel_negative",
                             "plateau_abs_staircase", "plateau_defaults"};

bool same_metric(double a, double b) { return std::isnan(a) ? std::isnan(b) : a == b; }

// Replays a table on the text form's schedule; the worst relative rate error.
template <class T>
double replay(const plateau_table& t, const std::string& name) {
    clr::any_schedule<T> s = clr::parse_schedule<T>(t.text);
    double worst = 0.0;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
        const plateau_row& r = t.rows[i];
        clr::report(s, r.metric);
        const clr::plateau_state st = clr::detail::plateau_states(s).at(0);
        INFO(name << " report " << i + 1 << ": " << t.text);
        REQUIRE(same_metric(st.best, r.best));
        REQUIRE(st.bad_reports == r.bad);
        REQUIRE(st.cooldown_left == r.cooldown);
        REQUIRE(st.reports == i + 1);
        for (clr::step_t step : {clr::step_t(0), clr::step_t(12345)})
            worst = clr_test::worse(worst, std::abs(double(s(step)) - r.lr) / r.lr);
    }
    return worst;
}

}  // namespace

TEST_CASE("plateau follows ReduceLROnPlateau's tables, rate and state, after every report",
          "[plateau][reference]") {
    double worst = 0.0;
    for (const char* name : cases) worst = clr_test::worse(worst, replay<double>(load_plateau(name), name));
    CHECK(worst <= 1e-12);
}

TEST_CASE("plateau<float> follows the same tables", "[plateau][reference][float]") {
    double worst = 0.0;
    for (const char* name : cases) worst = clr_test::worse(worst, replay<float>(load_plateau(name), name));
    CHECK(worst <= clr_test::float_tolerance);
}

TEST_CASE("plateau's typed options give the text form's schedule", "[plateau][text]") {
    const auto p = clr::plateau(clr::constant<double>(0.2))
                       .with_mode(clr::plateau_mode::max)
                       .with_factor(0.3)
                       .with_patience(1)
                       .with_threshold(0.01, clr::threshold_mode::abs)
                       .with_cooldown(2);
    CHECK(clr::to_string(p) == load_plateau("plateau_max_abs_cooldown").text);
    CHECK(clr::to_string(clr::plateau(clr::constant<double>(0.1))) == "plateau(constant(lr=0.1))");
    const std::string all =
        "plateau(constant(lr=0.1), mode=max, factor=0.5, patience=3, threshold=0.01, "
        "threshold_mode=abs, cooldown=2, min_lr=0.001, eps=1e-07)";
    CHECK(clr::to_string(clr::parse_schedule<double>(all)) == all);
    CHECK(clr::to_string(clr::parse_schedule<double>("plateau(constant(lr=0.1), eps=1e-08, mode=min)")) ==
          "plateau(constant(lr=0.1))");
}

TEST_CASE("plateau scales any schedule and stops at min_lr", "[plateau]") {
    auto p = clr::plateau(clr::cosine<double>(0.1, 1000)).with_patience(0).with_factor(0.5).with_min_lr(0.01);
    CHECK(p(500) == clr::cosine<double>(0.1, 1000)(500));
    CHECK(p(1000) == 0.0);  // before a reduction the rate is the schedule's own, as PyTorch leaves it
    clr::report(p, 1.0);
    clr::report(p, 1.0);  // bad 1 > patience 0: halved
    CHECK(p(500) == Approx(0.025).epsilon(1e-15));
    CHECK(p(1000) == 0.01);
    CHECK(p.bounds().lo == 0.0);
    CHECK(p.bounds().hi == 0.1);
    for (int i = 0; i < 10; ++i) clr::report(p, 1.0);
    // 0.1 -> 0.05 -> 0.025 -> 0.0125 -> 0.01 (max(0.00625, min_lr), a cut of 0.0025 > eps), then none.
    CHECK(p.state().reductions == 4);
    CHECK(p(0) == 0.01);
}

TEST_CASE("plateau composes: a warmup counts steps, the plateau counts reports", "[plateau][compose]") {
    auto s = clr::parse_schedule<double>(
        "sequence(linear(start_lr=0, end_lr=0.1, total_steps=500), 500, plateau(constant(lr=0.1), "
        "patience=3))");
    CHECK(s(250) == 0.05);
    CHECK(s(600) == 0.1);
    for (int i = 0; i < 4; ++i) clr::report(s, 2.0);
    CHECK(s(600) == 0.1);  // best, then three bad reports: patience not yet exceeded
    clr::report(s, 2.0);
    CHECK(s(600) == Approx(0.01).epsilon(1e-15));
    CHECK(s(250) == 0.05);

    auto w =
        clr::warmup(clr::plateau(clr::constant<double>(0.1)).with_patience(0).with_factor(0.5), 100, 0.0);
    CHECK(w(50) == 0.05);
    clr::report(w, 1.0);
    clr::report(w, 1.0);
    CHECK(w(50) == 0.025);  // the ramp leads into the reduced rate
    CHECK(w(100) == 0.05);
}

TEST_CASE("plateau copies are snapshots, any_schedule copies on the first report", "[plateau][copy]") {
    auto p = clr::plateau(clr::constant<double>(0.1)).with_patience(0);
    clr::report(p, 1.0);
    clr::report(p, 1.0);
    const auto snapshot = p;
    clr::report(p, 1.0);
    CHECK(snapshot(0) == Approx(0.01).epsilon(1e-15));
    CHECK(p(0) == Approx(0.001).epsilon(1e-15));

    clr::any_schedule<double> a = clr::plateau(clr::constant<double>(0.1)).with_patience(0);
    const clr::any_schedule<double> b = a;
    clr::report(a, 1.0);
    clr::report(a, 1.0);
    CHECK(a(0) == Approx(0.01).epsilon(1e-15));
    CHECK(b(0) == 0.1);
}

TEST_CASE("plateau state saved and restored resumes the same rates bit for bit", "[plateau][state]") {
    const plateau_table t = load_plateau("plateau_nonfinite");
    for (std::size_t stop : {std::size_t(0), std::size_t(7), std::size_t(31), t.rows.size()}) {
        clr::any_schedule<double> whole = clr::parse_schedule<double>(t.text);
        clr::any_schedule<double> first = clr::parse_schedule<double>(t.text);
        for (std::size_t i = 0; i < stop; ++i) clr::report(first, t.rows[i].metric);
        const auto saved = clr::detail::plateau_states(first);
        clr::any_schedule<double> resumed = clr::parse_schedule<double>(t.text);
        REQUIRE(clr::detail::plateau_states_problem(resumed, saved).empty());
        clr::detail::restore_plateau_states(resumed, saved);
        for (std::size_t i = 0; i < t.rows.size(); ++i) {
            clr::report(whole, t.rows[i].metric);
            if (i >= stop) clr::report(resumed, t.rows[i].metric);
            if (i + 1 >= stop) REQUIRE(resumed(3) == whole(3));
        }
        CHECK(clr::detail::plateau_states(resumed)[0].best == clr::detail::plateau_states(whole)[0].best);
    }
}

TEST_CASE("plateau refuses a state no run could reach", "[plateau][state][errors]") {
    const auto p = clr::plateau(clr::constant<double>(0.1)).with_patience(2).with_cooldown(1);
    auto with = [](auto change) {
        clr::plateau_state s{5, 1, 1, 0, 0.5, 0.1};
        change(s);
        return std::vector<clr::plateau_state>{s};
    };
    CHECK(clr::detail::plateau_states_problem(p, with([](auto&) {})).empty());
    CHECK_THAT(clr::detail::plateau_states_problem(p, {}), Catch::Contains("state of 0 plateau schedules"));
    CHECK_THAT(clr::detail::plateau_states_problem(p, with([](auto& s) { s.bad_reports = 3; })),
               Catch::Contains("patience"));
    CHECK_THAT(clr::detail::plateau_states_problem(p, with([](auto& s) { s.cooldown_left = 2; })),
               Catch::Contains("cooldown"));
    CHECK_THAT(clr::detail::plateau_states_problem(p, with([](auto& s) { s.reductions = 6; })),
               Catch::Contains("outnumber"));
    CHECK_THAT(clr::detail::plateau_states_problem(p, with([](auto& s) { s.best = std::nan(""); })),
               Catch::Contains("best"));
    CHECK_THAT(clr::detail::plateau_states_problem(p, with([](auto& s) { s.scale = 1.5; })),
               Catch::Contains("scale"));
    CHECK_THAT(clr::detail::plateau_states_problem(p, with([](auto& s) { s.scale = 1.0; })),
               Catch::Contains("scale"));
}

TEST_CASE("plateau refuses bad options naming them, and report refuses a schedule without one",
          "[plateau][errors]") {
    const auto c = clr::constant<double>(0.1);
    const char* who = "clr::plateau";
    clr_test::refused([&] { return clr::plateau(c).with_factor(1.0); }, who, "factor", "[0, 1)");
    clr_test::refused([&] { return clr::plateau(c).with_factor(-0.5); }, who, "factor", "[0, 1)");
    clr_test::refused([&] { return clr::plateau(c).with_factor(std::nan("")); }, who, "factor", "finite");
    clr_test::refused([&] { return clr::plateau(c).with_patience(clr::step_t(-1)); }, who, "patience",
                      "2^62");
    clr_test::refused([&] { return clr::plateau(c).with_threshold(-1e-4); }, who, "threshold", "negative");
    clr_test::refused([&] { return clr::plateau(c).with_min_lr(-1.0); }, who, "min_lr", "negative");
    clr_test::refused([&] { return clr::plateau(c).with_eps(std::nan("")); }, who, "eps", "finite");
    const auto text = [](const char* options) {
        return [options] {
            return clr::parse_schedule<double>(std::string("plateau(constant(lr=0.1), ") + options);
        };
    };
    clr_test::refused(text("factor=1)"), who, "factor", "[0, 1)");
    clr_test::refused(text("mode=mid)"), "clr::parse_schedule", "mode", "min, max");
    clr_test::refused(text("threshold_mode=pct)"), "clr::parse_schedule", "threshold_mode", "rel, abs");
    clr_test::refused(text("patience=-1)"), "clr::parse_schedule", "patience", "whole number");
    auto plain = clr::cosine<double>(0.1, 100);
    CHECK_THROWS_WITH(clr::report(plain, 1.0), Catch::Contains("no plateau"));
    clr::any_schedule<double> held = plain;
    CHECK_THROWS_WITH(clr::report(held, 1.0), Catch::Contains("no plateau"));
}
