// The LR range test: the sweep, the smoothing, early stops and the readings of
// synthetic curves whose answers are known in closed form.
#include "reference.hpp"

#include <clr/lr_finder.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using Catch::Matchers::Contains;

namespace {

const double qnan = std::numeric_limits<double>::quiet_NaN();
const double inf_v = std::numeric_limits<double>::infinity();

// A fall of height 2 centred on log10(lr) = c with width w: 1 - tanh(u) has its
// steepest point against log(lr) exactly at c, and has done a fraction f of its
// fall at u = -atanh(1 - 2f), 1 - f at u = +atanh(1 - 2f).
double tanh_fall(double lr, double c, double w) { return 1.0 - std::tanh((std::log10(lr) - c) / w); }

// The textbook form of the bias-corrected average, written independently of
// the library's incremental one.
std::vector<double> textbook_ema(const std::vector<double>& x, double beta) {
    std::vector<double> out;
    double avg = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        avg = beta * avg + (1.0 - beta) * x[i];
        out.push_back(avg / (1.0 - std::pow(beta, static_cast<double>(i + 1))));
    }
    return out;
}

std::vector<double> lrs_of(const clr::range_test_result<double>& r) {
    std::vector<double> v;
    for (const auto& rec : r.records) v.push_back(rec.lr);
    return v;
}

// Every suggestion absent, each carrying the same reason.
void check_no_suggestion(const clr::range_test_suggestions<double>& s, const std::string& words) {
    CHECK_FALSE(s.base_lr);
    CHECK_FALSE(s.max_lr);
    CHECK_FALSE(s.steepest);
    CHECK_FALSE(s.min_loss_div10);
    CHECK_FALSE(s.valley);
    CHECK_FALSE(s.slide);
    CHECK_FALSE(s.cyclic);
    CHECK_FALSE(s.cyclic.base_lr.has_value());
    CHECK_FALSE(s.cyclic.max_lr.has_value());
    CHECK_THAT(s.base_lr.reason, Contains(words));
    CHECK(s.max_lr.reason == s.base_lr.reason);
    CHECK(s.steepest.reason == s.base_lr.reason);
    CHECK(s.min_loss_div10.reason == s.base_lr.reason);
    CHECK(s.valley.reason == s.base_lr.reason);
    CHECK(s.slide.reason == s.base_lr.reason);
    CHECK(s.cyclic.reason == s.base_lr.reason);
    CHECK_FALSE(s.base_lr.rule.empty());
    CHECK_FALSE(s.valley.rule.empty());
    CHECK_FALSE(s.slide.rule.empty());
}

// A step function that returns the losses in order.
auto replay(const std::vector<double>& losses) {
    return [&losses, i = std::size_t(0)](double) mutable { return losses[i++]; };
}

// The curve of "valley and slide of a curve worked out by hand", step by step.
std::vector<double> hand_curve() {
    std::vector<double> losses(51);
    for (int i = 0; i < 51; ++i)
        losses[static_cast<std::size_t>(i)] = i < 10   ? 2.0
                                              : i < 30 ? 2.0 - (i - 9) / 16.0
                                              : i < 35 ? 0.75
                                              : i < 50 ? 0.75 + (i - 34) / 8.0
                                                       : 9.0;
    return losses;
}

// A fastai reference table from scripts/gen_lr_finder_reference.py: the
// sweep, the two readings and the records of one range test.
struct fastai_table {
    double min_lr = 0, max_lr = 0;
    clr::step_t steps = 0;
    double valley_lr = 0, slide_lr = 0;
    clr::step_t valley_step = 0, slide_step = 0;
    std::vector<clr::range_test_record<double>> records;
};

// "# key=a,b[,c]" split into its cells.
std::vector<std::string> key_cells(const std::string& line, const std::string& key, std::size_t count,
                                   const std::string& where) {
    const std::string tag = "# " + key + "=";
    if (line.compare(0, tag.size(), tag) != 0)
        throw std::runtime_error(where + ": expected '" + tag + "...', got " + line);
    auto cells = clr_test::split(line.substr(tag.size()), ',');
    if (cells.size() != count)
        throw std::runtime_error(where + ": " + line + " needs " + std::to_string(count) + " cells");
    return cells;
}

// Every cell parsed strictly; "nan" only as the loss and smoothed loss of the
// last row, the record that stopped the test.
fastai_table load_fastai_table(const std::string& name) {
    const std::string path = std::string(CLR_TEST_DATA_DIR) + "/" + name;
    const auto lines = clr_test::table_lines(clr_test::read_table_text(path));
    if (lines.size() < 6 || lines[0].compare(0, 2, "# ") != 0)
        throw std::runtime_error(path + ": no provenance line");
    fastai_table t;
    const auto sweep = key_cells(lines[1], "sweep", 3, path + ":2");
    t.min_lr = clr_test::parse_double(sweep[0], path + ":2");
    t.max_lr = clr_test::parse_double(sweep[1], path + ":2");
    t.steps = clr_test::parse_count(sweep[2], path + ":2");
    const auto valley = key_cells(lines[2], "valley", 2, path + ":3");
    t.valley_lr = clr_test::parse_double(valley[0], path + ":3");
    t.valley_step = clr_test::parse_count(valley[1], path + ":3");
    const auto slide = key_cells(lines[3], "slide", 2, path + ":4");
    t.slide_lr = clr_test::parse_double(slide[0], path + ":4");
    t.slide_step = clr_test::parse_count(slide[1], path + ":4");
    const std::uint64_t rows = clr_test::parse_count_line(lines[4], "rows", path + ":5");
    if (lines[5] != "step,lr,loss,smoothed_loss")
        throw std::runtime_error(path + ": unexpected header " + lines[5]);
    if (rows == 0 || lines.size() - 6 != rows)
        throw std::runtime_error(path + ": the header promises " + std::to_string(rows) +
                                 " rows, the file has " + std::to_string(lines.size() - 6));
    for (std::size_t r = 0; r < rows; ++r) {
        const std::string where = path + ":" + std::to_string(r + 7);
        const auto cells = clr_test::split(lines[r + 6], ',');
        if (cells.size() != 4) throw std::runtime_error(where + ": expected 4 cells");
        const bool last = r + 1 == rows;
        const auto value = [&](const std::string& c) {
            return last && c == "nan" ? qnan : clr_test::parse_double(c, where);
        };
        if (clr_test::parse_count(cells[0], where) != r)
            throw std::runtime_error(where + ": step out of order");
        t.records.push_back({r, clr_test::parse_double(cells[1], where), value(cells[2]), value(cells[3]),
                             std::nullopt, std::nullopt});
    }
    return t;
}

}  // namespace

// ---- the sweep ---------------------------------------------------------------

TEST_CASE("range_sweep: exponential rates at first, middle and last step", "[range_test]") {
    clr::range_sweep<double> s(1e-6, 1.0, 7);
    CHECK(s(0) == 1e-6);
    CHECK(s(1) == Approx(1e-5).epsilon(1e-14));
    CHECK(s(3) == Approx(1e-3).epsilon(1e-14));
    CHECK(s(5) == Approx(1e-1).epsilon(1e-14));
    CHECK(s(6) == 1.0);
    CHECK(s(7) == 1.0);  // held past the end
    CHECK(s(std::numeric_limits<clr::step_t>::max()) == 1.0);
    CHECK(s.bounds().lo == 1e-6);
    CHECK(s.bounds().hi == 1.0);
    // An even number of steps: the middle falls between grid points.
    clr::range_sweep<double> e(1e-4, 1.0, 4);
    CHECK(e(1) == Approx(std::pow(10.0, -4.0 + 4.0 / 3.0)).epsilon(1e-14));
    CHECK(e(2) == Approx(std::pow(10.0, -4.0 + 8.0 / 3.0)).epsilon(1e-14));
    // Neighbouring rates keep a constant ratio.
    clr::range_sweep<double> w(1e-7, 10.0, 100);
    for (clr::step_t t = 1; t < 100; ++t)
        CHECK(w(t) / w(t - 1) == Approx(std::pow(1e8, 1.0 / 99.0)).epsilon(1e-12));
    STATIC_REQUIRE(clr::is_schedule_v<clr::range_sweep<double>>);
    // sample() is lr() step by step.
    const auto sampled = s.sample(7);
    REQUIRE(sampled.size() == 7);
    for (clr::step_t t = 0; t < 7; ++t) {
        CAPTURE(t);
        CHECK(clr_test::same_value(sampled[t], s(t)));
    }
}

TEST_CASE("range_sweep: linear rates at first, middle and last step", "[range_test]") {
    clr::range_sweep<double> s(0.01, 0.1, 11, clr::sweep::linear);
    CHECK(s(0) == 0.01);
    CHECK(s(5) == Approx(0.055).epsilon(1e-15));
    CHECK(s(2) == Approx(0.028).epsilon(1e-15));
    CHECK(s(10) == 0.1);
    CHECK(s(11) == 0.1);
    // Smith's linear sweep may start at zero.
    clr::range_sweep<double> z(0.0, 0.02, 5, clr::sweep::linear);
    CHECK(z(0) == 0.0);
    CHECK(z(2) == Approx(0.01).epsilon(1e-15));
    CHECK(z(4) == 0.02);
    clr::range_sweep<float> f(1e-6f, 1.0f, 7);
    CHECK(f(3) == Approx(1e-3f).epsilon(1e-6));
    CHECK(f(6) == 1.0f);
}

TEST_CASE("range_test: the step function sees the sweep's rates, in order, once each", "[range_test]") {
    for (auto shape : {clr::sweep::exponential, clr::sweep::linear}) {
        clr::range_test<double> test(1e-3, 1.0, 25, shape);
        std::vector<double> seen;
        const auto r = test.run([&](double lr) {
            seen.push_back(lr);
            return 1.0;
        });
        CHECK(r.stop == clr::range_test_stop::completed);
        CHECK(r.stop_step == 24);
        // Worked out here rather than read from the library's own sweep:
        // 1e-3 * 1000^(i / 24), or 1e-3 + (1 - 1e-3) i / 24.
        REQUIRE(seen.size() == 25);
        for (std::size_t i = 0; i < 25; ++i) {
            const double x = double(i) / 24.0;
            const double want =
                shape == clr::sweep::exponential ? 1e-3 * std::pow(1000.0, x) : 1e-3 + (1.0 - 1e-3) * x;
            CAPTURE(i);
            CHECK(seen[i] == Approx(want).epsilon(1e-13));
        }
        CHECK(seen.front() == 1e-3);
        CHECK(seen.back() == 1.0);
        CHECK(lrs_of(r) == seen);
        REQUIRE(r.records.size() == 25);
        for (std::size_t i = 0; i < r.records.size(); ++i) CHECK(r.records[i].step == i);
        CHECK(seen.front() == 1e-3);
        CHECK(seen.back() == 1.0);
    }
}

// ---- smoothing -----------------------------------------------------------------

TEST_CASE("range_test: bias-corrected smoothing by hand with beta 0.9", "[range_test]") {
    // avg: 0.2, 0.18 + 0.1 = 0.28, 0.252 + 0.4 = 0.652; corrections 0.1, 0.19, 0.271.
    const std::vector<double> losses{2.0, 1.0, 4.0};
    const auto r = clr::range_test<double>(1e-4, 1.0, 3).with_smoothing(0.9).run([&, i = 0](double) mutable {
        return losses[static_cast<std::size_t>(i++)];
    });
    REQUIRE(r.records.size() == 3);
    CHECK(r.records[0].smoothed_loss == 2.0);
    CHECK(r.records[1].smoothed_loss == Approx(28.0 / 19.0).epsilon(1e-14));
    CHECK(r.records[2].smoothed_loss == Approx(652.0 / 271.0).epsilon(1e-14));
    CHECK(r.records[1].loss == 1.0);
}

TEST_CASE("range_test: the first smoothed value is the first loss exactly", "[range_test]") {
    for (double beta : {0.0, 0.5, 0.9, 0.98, 0.999}) {
        const auto r =
            clr::range_test<double>(1e-4, 1.0, 2).with_smoothing(beta).run([](double) { return 0.1234567; });
        CHECK(r.records[0].smoothed_loss == 0.1234567);
    }
    const auto f = clr::range_test<float>(1e-4f, 1.0f, 2).run([](float) { return 2.302585f; });
    CHECK(f.records[0].smoothed_loss == 2.302585f);
}

TEST_CASE("range_test: smoothing matches the textbook average over a long noisy run", "[range_test]") {
    std::vector<double> losses;
    losses.reserve(300);
    for (int i = 0; i < 300; ++i) losses.push_back(2.0 + std::sin(0.37 * i) + 0.5 * std::cos(1.3 * i));
    std::vector<double> accuracies;
    accuracies.reserve(300);
    for (int i = 0; i < 300; ++i) accuracies.push_back(0.5 + 0.3 * std::sin(0.11 * i));
    const auto test = clr::range_test<double>(1e-6, 1.0, 300).with_divergence_factor(1000.0);
    const auto r = test.run([&, i = std::size_t(0)](double) mutable {
        const std::size_t k = i++;
        return clr::range_test_step{losses[k], accuracies[k]};
    });
    REQUIRE(r.records.size() == 300);
    const auto loss_ema = textbook_ema(losses, 0.98);
    const auto acc_ema = textbook_ema(accuracies, 0.98);
    for (std::size_t i = 0; i < 300; ++i) {
        CHECK(r.records[i].smoothed_loss == Approx(loss_ema[i]).epsilon(1e-12));
        REQUIRE(r.records[i].smoothed_accuracy.has_value());
        CHECK(*r.records[i].accuracy == accuracies[i]);
        CHECK(*r.records[i].smoothed_accuracy == Approx(acc_ema[i]).epsilon(1e-12));
    }
    // Beta 0 reads the raw values.
    const auto raw =
        test.with_smoothing(0.0).run([&, i = std::size_t(0)](double) mutable { return losses[i++]; });
    for (std::size_t i = 0; i < 300; ++i) CHECK(raw.records[i].smoothed_loss == losses[i]);
}

// ---- the worked examples of the header -------------------------------------------

TEST_CASE("range_test: the header's tiny run", "[range_test]") {
    const std::vector<double> losses{2.0, 1.0, 4.0, 30.0, 1.0};
    int calls = 0;
    const auto r = clr::range_test<double>(1e-4, 1.0, 5).with_smoothing(0.9).run([&](double) {
        return losses[static_cast<std::size_t>(calls++)];
    });
    CHECK(calls == 4);  // the batch at lr = 1 never runs
    CHECK(r.stop == clr::range_test_stop::diverged);
    CHECK(r.stop_step == 3);
    REQUIRE(r.records.size() == 4);
    CHECK(r.records[3].lr == Approx(0.1).epsilon(1e-14));
    CHECK(r.records[3].smoothed_loss == Approx(3.5868 / 0.3439).epsilon(1e-13));
    CHECK(r.suggestions.steepest.reason == "too few points: 4 finite losses, need at least 10");
    check_no_suggestion(r.suggestions, "too few points");
}

TEST_CASE("range_test: the header's full curve", "[range_test]") {
    const std::vector<double> losses{2.3, 2.3, 2.29, 2.2, 1.9, 1.1, 0.58, 0.5, 0.55, 1.5, 9.0};
    const auto test = clr::range_test<double>(1e-5, 1.0, 11).with_smoothing(0.0).with_warmup(1);
    const auto r = test.run([&, i = std::size_t(0)](double) mutable { return losses[i++]; });
    CHECK(r.stop == clr::range_test_stop::diverged);
    CHECK(r.stop_step == 10);
    const auto& s = r.suggestions;
    REQUIRE(s.base_lr);
    REQUIRE(s.max_lr);
    REQUIRE(s.steepest);
    REQUIRE(s.min_loss_div10);
    REQUIRE(s.cyclic);
    CHECK(*s.base_lr.value == Approx(std::pow(10.0, -3.5)).epsilon(1e-13));
    CHECK(s.base_lr.step == 3);
    CHECK(*s.max_lr.value == Approx(0.01).epsilon(1e-13));
    CHECK(s.max_lr.step == 6);
    CHECK(*s.steepest.value == Approx(std::pow(10.0, -2.5)).epsilon(1e-13));
    CHECK(s.steepest.step == 5);
    CHECK(*s.min_loss_div10.value == Approx(std::pow(10.0, -1.5) / 10.0).epsilon(1e-13));
    CHECK(s.min_loss_div10.step == 7);
    // fastai's points: steps 1 to 5 (the first 11 / 10 = 1 and the last 5 of
    // the 11 recorded left out), losses 2.3 2.29 2.2 1.9 1.1, falling all the
    // way: L = 5, e = 5, the point 5 - 5 + 1 + 0 = 1.
    REQUIRE(s.valley);
    CHECK(*s.valley.value == Approx(std::pow(10.0, -4.5)).epsilon(1e-13));
    CHECK(s.valley.step == 1);
    CHECK_FALSE(s.slide);
    CHECK(s.slide.reason ==
          "too few points: 5 of fastai's points (the first 1 and the last 5 left out), need at least 16 "
          "(the slope 15 points back)");
    CHECK(s.base_lr.reason.empty());
    CHECK_THAT(s.base_lr.rule, Contains("5%"));
    CHECK_THAT(s.max_lr.rule, Contains("95%"));
    CHECK_THAT(s.min_loss_div10.rule, Contains("divided by 10"));
    CHECK(*s.cyclic.base_lr == *s.base_lr.value);
    CHECK(*s.cyclic.max_lr == *s.max_lr.value);
    const clr::triangular<double> tri = s.cyclic.make_triangular(500);
    CHECK(tri.base_lr() == *s.base_lr.value);
    CHECK(tri.max_lr() == *s.max_lr.value);
    CHECK(tri.step_size_up() == 2000);
    CHECK(tri(2000) == *s.max_lr.value);
    CHECK(tri(4000) == *s.base_lr.value);
}

// ---- readings of known curves ---------------------------------------------------

TEST_CASE("range_test: steepest descent, base_lr and max_lr of a tanh fall", "[range_test]") {
    // Grid 0.05 decades; the centre c lies between grid points. A rise after
    // the fall gives the curve a minimum; it is below 1e-4 of the fall's slope
    // anywhere near c, so the steepest point stays at c.
    const double c = -3.13, w = 0.4, grid = 0.05;
    const auto loss = [&](double lr) { return tanh_fall(lr, c, w) + std::exp((std::log10(lr) + 0.5) / 0.1); };
    const auto test = clr::range_test<double>(1e-6, 1.0, 121).with_smoothing(0.0);
    const auto r = test.run(loss);
    const auto& s = r.suggestions;
    REQUIRE(s.steepest);
    CHECK(std::abs(std::log10(*s.steepest.value) - c) <= grid);
    CHECK_THAT(s.steepest.rule, Contains("steepest"));
    // 5% of a fall of height 2 is done at u = -atanh(0.9), 95% at +atanh(0.9).
    REQUIRE(s.base_lr);
    REQUIRE(s.max_lr);
    CHECK(std::abs(std::log10(*s.base_lr.value) - (c - w * std::atanh(0.9))) <= grid);
    CHECK(std::abs(std::log10(*s.max_lr.value) - (c + w * std::atanh(0.9))) <= grid);
    // The continuous minimum, by bisection on the derivative.
    double lo = c, hi = 0.0;
    for (int k = 0; k < 200; ++k) {
        const double x = 0.5 * (lo + hi);
        const double t = std::tanh((x - c) / w);
        const double slope = -(1.0 - t * t) / w + std::exp((x + 0.5) / 0.1) / 0.1;
        (slope < 0.0 ? lo : hi) = x;
    }
    REQUIRE(s.min_loss_div10);
    CHECK(std::abs(std::log10(*s.min_loss_div10.value * 10.0) - lo) <= grid);
    CHECK(*s.cyclic.base_lr == *s.base_lr.value);
    CHECK(*s.cyclic.max_lr == *s.max_lr.value);
}

TEST_CASE("range_test: the warm-up keeps the first batches out of every reading", "[range_test]") {
    // Three wild first batches, then the tanh fall: with the default warm-up
    // of 5 the readings are those of the clean curve; without one the spike's
    // own fall would be the steepest and would set the starting value.
    const auto clean = [](double lr) {
        return tanh_fall(lr, -3.0, 0.4) + std::exp((std::log10(lr) + 0.5) / 0.1);
    };
    const auto test = clr::range_test<double>(1e-6, 1.0, 121).with_smoothing(0.0);
    auto spiky = [&, i = 0](double lr) mutable { return i++ < 3 ? 50.0 : clean(lr); };
    const auto r = test.run(spiky);
    const auto ref = test.run(clean);
    REQUIRE(r.suggestions.steepest);
    REQUIRE(r.suggestions.base_lr);
    CHECK(r.suggestions.steepest.value == ref.suggestions.steepest.value);
    CHECK(r.suggestions.base_lr.value == ref.suggestions.base_lr.value);
    CHECK(r.suggestions.max_lr.value == ref.suggestions.max_lr.value);
    CHECK(std::abs(std::log10(*r.suggestions.steepest.value) + 3.0) <= 0.05);
    const auto unwarmed =
        test.with_warmup(0).run([&, i = 0](double lr) mutable { return i++ < 3 ? 50.0 : clean(lr); });
    REQUIRE(unwarmed.suggestions.steepest);
    CHECK(unwarmed.suggestions.steepest.step < 5);
}

TEST_CASE("range_test: steepest descent on a linear sweep", "[range_test]") {
    // Uneven in log(lr): the slope divides by the log spacing, not the index.
    const double c = -1.0, w = 0.3;
    const auto loss = [&](double lr) {
        return tanh_fall(lr, c, w) + std::exp((std::log10(lr) + 0.2) / 0.05);
    };
    const auto test = clr::range_test<double>(0.0, 0.5, 400, clr::sweep::linear).with_smoothing(0.0);
    const auto r = test.run(loss);
    REQUIRE(r.suggestions.steepest);
    const std::size_t i = r.suggestions.steepest.step;
    // Within one grid step of the true steepest point.
    CHECK(r.records[i - 1].lr <= std::pow(10.0, c));
    CHECK(r.records[i + 1].lr >= std::pow(10.0, c));
}

TEST_CASE("range_test: a loss still falling at the end gives no max_lr", "[range_test]") {
    // The fall is centred inside the sweep but never bottoms out.
    const auto test = clr::range_test<double>(1e-6, 1.0, 121).with_smoothing(0.0);
    const auto r = test.run([](double lr) { return tanh_fall(lr, -1.0, 0.8); });
    CHECK(r.stop == clr::range_test_stop::completed);
    const auto& s = r.suggestions;
    CHECK(s.base_lr);
    REQUIRE(s.steepest);
    CHECK(std::abs(std::log10(*s.steepest.value) + 1.0) <= 0.05);
    CHECK_FALSE(s.max_lr);
    CHECK_FALSE(s.min_loss_div10);
    CHECK_FALSE(s.cyclic);
    CHECK_THAT(s.max_lr.reason, Contains("still falling") && Contains("raise max_lr"));
    CHECK(s.min_loss_div10.reason == s.max_lr.reason);
    CHECK(s.cyclic.reason == s.max_lr.reason);
    // valley halves a fall that has not ended; slide reads back from a turn
    // that has not come.
    CHECK_FALSE(s.valley);
    CHECK_FALSE(s.slide);
    CHECK(s.valley.reason == s.max_lr.reason);
    CHECK(s.slide.reason == s.max_lr.reason);
    CHECK_THROWS_WITH(s.cyclic.make_triangular(100), Contains("still falling"));
    CHECK_THROWS_AS(s.cyclic.make_triangular(100), std::logic_error);

    // Cut off before its steepest point: the steepest seen is only the end.
    const auto early = test.run([](double lr) { return tanh_fall(lr, 0.5, 0.8); });
    CHECK_FALSE(early.suggestions.steepest);
    CHECK_THAT(early.suggestions.steepest.reason, Contains("end of the sweep"));
}

TEST_CASE("range_test: divergence at a known rate stops the test there", "[range_test]") {
    // A fall around 1e-4, then the loss explodes from lr_d on: fastai's
    // defaults (1e-7 to 10 in 100 steps, beta 0.98, factor 4).
    const double lr_d = std::pow(10.0, -1.5);
    int calls = 0;
    const auto step = [&](double lr) {
        ++calls;
        return lr < lr_d ? 0.2 + tanh_fall(lr, -4.0, 0.5) : 1e3 * (1.0 + std::log10(lr / lr_d));
    };
    const clr::range_test<double> test(1e-7, 10.0, 100);
    const auto r = test.run(step);
    const auto sweep = test.sweep_schedule();
    clr::step_t first_past = 0;
    while (sweep(first_past) < lr_d) ++first_past;
    CHECK(r.stop == clr::range_test_stop::diverged);
    CHECK(r.stop_step == first_past);
    CHECK(r.records.size() == first_past + 1);
    CHECK(calls == static_cast<int>(first_past) + 1);
    CHECK(r.records.back().lr >= lr_d);
    CHECK(r.records.back().lr < lr_d * std::pow(1e8, 1.0 / 99.0));
    const auto& s = r.suggestions;
    REQUIRE(s.max_lr);
    REQUIRE(s.base_lr);
    REQUIRE(s.steepest);
    REQUIRE(s.min_loss_div10);
    CHECK(*s.max_lr.value < lr_d);
    CHECK(*s.base_lr.value < *s.max_lr.value);
    CHECK(*s.steepest.value < lr_d);
    CHECK(*s.min_loss_div10.value < lr_d / 10.0);
    REQUIRE(s.cyclic);
    CHECK(*s.cyclic.max_lr < lr_d);
}

TEST_CASE("range_test: gradual divergence stops where the smoothed loss passes 4x its best", "[range_test]") {
    const double x_d = -2.0;
    const auto loss = [&](double lr) {
        const double x = std::log10(lr);
        return 0.1 + tanh_fall(lr, -4.0, 0.5) + (x > x_d ? std::exp(8.0 * (x - x_d)) - 1.0 : 0.0);
    };
    const clr::range_test<double> test(1e-7, 10.0, 100);
    const auto r = test.run(loss);
    REQUIRE(r.stop == clr::range_test_stop::diverged);
    // The stop step from the textbook average, computed independently.
    const std::vector<double> all_lrs = test.sweep_schedule().sample(100);
    std::vector<double> losses;
    losses.reserve(all_lrs.size());
    for (double lr : all_lrs) losses.push_back(loss(lr));
    const auto ema = textbook_ema(losses, 0.98);
    std::size_t expected = 0;
    double best = inf_v;
    for (; expected < ema.size(); ++expected) {
        best = std::min(best, ema[expected]);
        if (ema[expected] > 4.0 * best) break;
    }
    CHECK(r.stop_step == expected);
    // Lagging, but within a decade of where the loss turned.
    CHECK(std::log10(r.records.back().lr) > x_d);
    CHECK(std::log10(r.records.back().lr) < x_d + 1.0);
    REQUIRE(r.suggestions.max_lr);
    CHECK(std::log10(*r.suggestions.max_lr.value) < x_d + 1.0);
    // The same curve with a larger factor runs further.
    const auto later = test.with_divergence_factor(8.0).run(loss);
    CHECK(later.stop_step > r.stop_step);
}

TEST_CASE("range_test: a NaN loss midway stops it, the suggestions read the finite part", "[range_test]") {
    const clr::step_t bad = 70;
    int calls = 0;
    const clr::range_test<double> test(1e-6, 1.0, 100);
    const auto r = test.run([&](double lr) {
        const bool is_bad = calls++ == static_cast<int>(bad);
        return is_bad ? qnan : 0.3 + tanh_fall(lr, -4.0, 0.4);
    });
    CHECK(r.stop == clr::range_test_stop::non_finite);
    CHECK(r.stop_step == bad);
    CHECK(calls == static_cast<int>(bad) + 1);
    REQUIRE(r.records.size() == bad + 1);
    CHECK(std::isnan(r.records.back().loss));
    CHECK(std::isnan(r.records.back().smoothed_loss));
    for (std::size_t i = 0; i < bad; ++i) CHECK(std::isfinite(r.records[i].smoothed_loss));
    const auto& s = r.suggestions;
    // The loss blew up right after its last finite point: that is the turn.
    REQUIRE(s.base_lr);
    REQUIRE(s.max_lr);
    REQUIRE(s.steepest);
    REQUIRE(s.min_loss_div10);
    const double last_finite = r.records[bad - 1].lr;
    CHECK(*s.base_lr.value <= last_finite);
    CHECK(*s.max_lr.value <= last_finite);
    CHECK(*s.steepest.value <= last_finite);
    CHECK(*s.min_loss_div10.value * 10.0 <= last_finite);
    CHECK(s.max_lr.step < bad);
    CHECK(std::abs(std::log10(*s.steepest.value) + 4.0) < 1.0);
    // Re-reading only the finite records gives the same base and steepest.
    const std::vector<clr::range_test_record<double>> finite(r.records.begin(), r.records.end() - 1);
    const auto again = test.suggest(finite);
    CHECK(again.base_lr.value == s.base_lr.value);
    CHECK(again.steepest.value == s.steepest.value);

    // An infinite loss stops it the same way.
    const auto r_inf = test.run([&, i = 0](double) mutable { return i++ < 20 ? 1.0 : inf_v; });
    CHECK(r_inf.stop == clr::range_test_stop::non_finite);
    CHECK(r_inf.stop_step == 20);
}

// ---- fastai's valley and slide ---------------------------------------------------

TEST_CASE("range_test: valley and slide of a curve worked out by hand", "[range_test][fastai]") {
    // 51 steps from 1e-6 to 0.1, lr_i = 10^(-6 + i / 10), raw losses (beta 0):
    //   i  0 ..  9   2                       flat
    //   i 10 .. 29   2 - (i - 9) / 16        falling 1/16 a step, to 0.75
    //   i 30 .. 34   0.75                    the bottom
    //   i 35 .. 49   0.75 + (i - 34) / 8     rising 1/8 a step, to 2.625
    //   i 50         9 > 4 * 0.75            diverged
    // fastai's points: i 5 .. 45 (the first 51 / 10 = 5 and the last 5 of
    // the 51 recorded left out); p = i - 5 below.
    const std::vector<double> losses = hand_curve();
    const auto test = clr::range_test<double>(1e-6, 0.1, 51).with_smoothing(0.0);
    const auto r = test.run(replay(losses));
    CHECK(r.stop == clr::range_test_stop::diverged);
    CHECK(r.stop_step == 50);
    const auto& s = r.suggestions;
    // valley: the longest strictly falling sequence is p 4 .. 24 (the last 2,
    // the fall, then 0.75, which the bottom only equals): L = 21, e = 24; the
    // point 24 - 21 + floor(21 / 3) + floor(21 / 6) = 3 + 7 + 3 = 13, i = 18.
    REQUIRE(s.valley);
    CHECK(s.valley.step == 18);
    CHECK(*s.valley.value == Approx(std::pow(10.0, -4.2)).epsilon(1e-13));
    CHECK(s.valley.reason.empty());
    CHECK_THAT(s.valley.rule, Contains("valley") && Contains("fastai"));
    // slide: numpy.gradient per point, g = 0 on the top (p 0 .. 3), -1/32 at
    // p 4, -1/16 along the fall (p 5 .. 23), -1/32 at p 24, 0 on the bottom
    // (p 25 .. 28), 1/16 at p 29, 1/8 up the rise (p 30 .. 40). From r = 40,
    // l = 25 back, |g_r - g_l| stays above 0.005 (1/8, 5/32, 3/16 while r is
    // on the rise, 1/8 at r = 29, 1/16 with r on the bottom, 1/32 at r = 24,
    // l = 9) until r = 23, l = 8, both on the fall, agree: the last l stepped
    // from is p 9, i = 14.
    REQUIRE(s.slide);
    CHECK(s.slide.step == 14);
    CHECK(*s.slide.value == Approx(std::pow(10.0, -4.6)).epsilon(1e-13));
    CHECK(s.slide.reason.empty());
    CHECK_THAT(s.slide.rule, Contains("slide") && Contains("0.005") && Contains("15"));
    // The readings of the other rules are unchanged by the two.
    REQUIRE(s.min_loss_div10);
    CHECK(s.min_loss_div10.step == 29);
    // suggest() on the same records reads the same.
    const auto again = test.suggest(r.records);
    CHECK(again.valley.value == s.valley.value);
    CHECK(again.slide.value == s.slide.value);
}

TEST_CASE("range_test: valley and slide match fastai's algorithms on recorded curves",
          "[range_test][fastai]") {
    // scripts/gen_lr_finder_reference.py: fastai's lr_find points, valley and
    // slide from the published algorithm, in double precision.
    for (const char* name : {"lr_finder_mnist.csv", "lr_finder_nan_stop.csv"}) {
        CAPTURE(name);
        const fastai_table t = load_fastai_table(name);
        const clr::range_test<double> test(t.min_lr, t.max_lr, t.steps);
        const auto s = test.suggest(t.records);
        REQUIRE(s.valley);
        REQUIRE(s.slide);
        CHECK(s.valley.step == t.valley_step);
        CHECK(s.slide.step == t.slide_step);
        CHECK(std::abs(*s.valley.value - t.valley_lr) <= 1e-12 * t.valley_lr);
        CHECK(std::abs(*s.slide.value - t.slide_lr) <= 1e-12 * t.slide_lr);
        // A curve whose readings differ, so that the two are not one rule.
        CHECK(s.valley.step != s.slide.step);
    }
}

TEST_CASE("range_test: valley and slide read fastai's points, not the warm-up", "[range_test][fastai]") {
    // The hand-worked curve above with a loss that turns NaN, or infinite, at
    // step 25: fastai's finder runs on through a NaN to its last step and
    // drops five NaN points, so it reads up to step 24; an infinite loss
    // stops it as here, and the five it drops include four finite points.
    std::vector<double> losses(51);
    for (int i = 0; i < 51; ++i) losses[static_cast<std::size_t>(i)] = i < 10 ? 2.0 : 2.0 - (i - 9) / 16.0;
    const auto test = clr::range_test<double>(1e-6, 0.1, 51).with_smoothing(0.0);
    losses[25] = qnan;
    const auto with_nan = test.run(replay(losses));
    CHECK(with_nan.stop == clr::range_test_stop::non_finite);
    // p 0 .. 19 (i 5 .. 24): 2 down to 2 - 15 / 16, L = 16, e = 19: 19 - 16 + 5 + 2 = 10.
    REQUIRE(with_nan.suggestions.valley);
    CHECK(with_nan.suggestions.valley.step == 15);
    REQUIRE(with_nan.suggestions.slide);  // 20 points, enough
    losses[25] = inf_v;
    const auto with_inf = test.run(replay(losses));
    CHECK(with_inf.stop == clr::range_test_stop::non_finite);
    // p 0 .. 15 (i 5 .. 20): L = 12, e = 15: 15 - 12 + 4 + 2 = 9.
    REQUIRE(with_inf.suggestions.valley);
    CHECK(with_inf.suggestions.valley.step == 14);
    REQUIRE(with_inf.suggestions.slide);  // 16 points, just enough
    // Without the warm-up the other rules move; valley and slide do not.
    const auto unwarmed = test.with_warmup(0).run(replay(losses));
    CHECK(unwarmed.suggestions.valley.value == with_inf.suggestions.valley.value);
    CHECK(unwarmed.suggestions.slide.value == with_inf.suggestions.slide.value);
}

TEST_CASE("range_test: too few of fastai's points give no valley or slide", "[range_test][fastai]") {
    const auto curve = [](double lr) { return 0.2 + tanh_fall(lr, -3.0, 0.5) + lr * lr; };
    // 20 steps: enough for the other rules; fastai reads steps 2 .. 14, 13
    // points, a valley but no slide.
    const auto twenty = clr::range_test<double>(1e-6, 1.0, 20).with_smoothing(0.0).run(curve);
    CHECK(twenty.suggestions.steepest);
    CHECK(twenty.suggestions.valley);
    CHECK_FALSE(twenty.suggestions.slide);
    CHECK(twenty.suggestions.slide.reason ==
          "too few points: 13 of fastai's points (the first 2 and the last 5 left out), need at least 16 "
          "(the slope 15 points back)");
    // A NaN at step 25 of 100: fastai's points are steps 10 .. 24, 15 of them.
    const auto nan_25 =
        clr::range_test<double>(1e-6, 1.0, 100).with_smoothing(0.0).run([&, i = 0](double lr) mutable {
            return i++ < 25 ? curve(lr * std::pow(10.0, 2.2)) : qnan;
        });
    CHECK(nan_25.suggestions.steepest);
    CHECK_FALSE(nan_25.suggestions.slide);
    CHECK_THAT(nan_25.suggestions.slide.reason, Contains("15 of fastai's points (the first 10"));
    // Records re-read by a test of far more steps: fastai would skip the first
    // 100000, past every record. No value, no crash.
    const auto long_test = clr::range_test<double>(1e-6, 1.0, 1000000).with_smoothing(0.0);
    const auto s = long_test.suggest(twenty.records);
    CHECK(s.steepest);
    CHECK_FALSE(s.valley);
    CHECK_FALSE(s.slide);
    CHECK(s.valley.reason ==
          "too few points: 0 of fastai's points (the first 100000 and the last 5 left out), need at least 3");
}

TEST_CASE("range_test: no valley from a curve that fell before fastai's points", "[range_test][fastai]") {
    // The whole fall lies in steps 0 .. 9, which fastai leaves out of 100;
    // from step 10 the loss is flat, then rises by 1/64 a step from step 90:
    // no two of fastai's points fall, and its index would land before the
    // sequence.
    const auto test = clr::range_test<double>(1e-6, 1.0, 100).with_smoothing(0.0).with_warmup(2);
    const auto r = test.run([i = 0](double) mutable {
        const int k = i++;
        return k < 10 ? 2.0 - k / 8.0 : k < 90 ? 0.875 : 0.875 + (k - 89) / 64.0;
    });
    const auto& s = r.suggestions;
    CHECK(s.base_lr);
    CHECK(s.min_loss_div10);
    CHECK_FALSE(s.valley);
    CHECK_THAT(s.valley.reason, Contains("has length 1 in 85 of fastai's points") && Contains("at least 3"));
    // slide: fastai's points are steps 10 .. 94, p = i - 10; g is 0 up to
    // p 78, 1/128 at p 79, 1/64 after. The pairs disagree by 1/64 from r = 84,
    // l = 69 to r = 80, and by 1/128 at r = 79, l = 64; r = 78, l = 63 agree,
    // both on the flat: the reading is p 64, i = 74.
    REQUIRE(s.slide);
    CHECK(s.slide.step == 74);
}

TEST_CASE("range_test: valley's search finds the longest fall fastai's double loop finds",
          "[range_test][fastai]") {
    // fastai's O(n^2) form: the longest strictly falling sequence ending at
    // each point from those ending at every earlier, higher point; the first
    // point with the greatest length. Random walks on a coarse grid, so that
    // equal losses, which do not fall, are common.
    std::uint32_t state = 12345;
    const auto next = [&] {
        state = state * 1103515245u + 12345u;
        return (state >> 16) % 7;
    };
    for (int trial = 0; trial < 200; ++trial) {
        CAPTURE(trial);
        std::vector<clr::range_test_record<double>> rec;
        double loss = 5.0;
        const std::size_t n = 1 + next() * 10 + next();
        for (std::size_t i = 0; i < n; ++i) {
            loss += 0.25 * (static_cast<double>(next()) - 3.2);
            rec.push_back({i, 1.0, loss, loss, std::nullopt, std::nullopt});
        }
        const std::size_t lo = trial % 3;
        if (lo >= n) continue;
        std::vector<std::size_t> len(n, 1);
        std::size_t end = lo;
        for (std::size_t i = lo; i < n; ++i) {
            for (std::size_t j = lo; j < i; ++j)
                if (rec[j].smoothed_loss > rec[i].smoothed_loss) len[i] = std::max(len[i], len[j] + 1);
            if (len[i] > len[end]) end = i;
        }
        const auto found = clr::detail::find_longest_fall(rec, lo, n);
        CHECK(found.length == len[end]);
        CHECK(found.end == end);
    }
}

TEST_CASE("range_test: valley and slide in float", "[range_test][fastai]") {
    const std::vector<double> losses = hand_curve();
    const auto r =
        clr::range_test<float>(1e-6f, 0.1f, 51)
            .with_smoothing(0.0f)
            .run([&, i = std::size_t(0)](float) mutable { return static_cast<float>(losses[i++]); });
    REQUIRE(r.suggestions.valley);
    REQUIRE(r.suggestions.slide);
    CHECK(r.suggestions.valley.step == 18);
    CHECK(r.suggestions.slide.step == 14);
}

// ---- curves without an answer ---------------------------------------------------

TEST_CASE("range_test: a flat curve gives no suggestion", "[range_test]") {
    const clr::range_test<double> test(1e-6, 1.0, 100);
    const auto r = test.run([](double) { return 0.6931; });
    CHECK(r.stop == clr::range_test_stop::completed);
    check_no_suggestion(r.suggestions, "flat curve");
    CHECK_THROWS_WITH(r.suggestions.cyclic.make_triangular(100), Contains("flat curve"));
    // Ripple of 1% around a constant: still flat.
    const auto ripple =
        test.run([](double lr) { return 0.6931 * (1.0 + 0.01 * std::sin(20.0 * std::log10(lr))); });
    check_no_suggestion(ripple.suggestions, "flat curve");
    // A 3% fall is below the default 5% but counts once min_drop allows it.
    const auto small = [](double lr) { return 1.0 - 0.015 * (1.0 + std::tanh(std::log10(lr) + 3.0)); };
    check_no_suggestion(test.with_smoothing(0.0).run(small).suggestions, "flat curve");
    CHECK(test.with_smoothing(0.0).with_min_drop(0.02).run(small).suggestions.steepest);
}

TEST_CASE("range_test: a monotonically rising curve gives no suggestion", "[range_test]") {
    const clr::range_test<double> test(1e-4, 1.0, 100);
    const auto r = test.run([](double lr) { return 1.0 + lr; });
    CHECK(r.stop == clr::range_test_stop::completed);
    check_no_suggestion(r.suggestions, "never falls");
    // Rising until it diverges: still nothing to read.
    const auto d = test.run([](double lr) { return std::exp(5.0 * lr); });
    CHECK(d.stop == clr::range_test_stop::diverged);
    check_no_suggestion(d.suggestions, "never falls");
}

TEST_CASE("range_test: an all-NaN curve gives no suggestion", "[range_test]") {
    int calls = 0;
    const auto r = clr::range_test<double>(1e-6, 1.0, 100).run([&](double) {
        ++calls;
        return qnan;
    });
    CHECK(calls == 1);
    CHECK(r.stop == clr::range_test_stop::non_finite);
    CHECK(r.stop_step == 0);
    REQUIRE(r.records.size() == 1);
    check_no_suggestion(r.suggestions, "no finite loss");
    check_no_suggestion(clr::range_test<double>(1e-6, 1.0, 100).suggest({}), "nothing was recorded");
}

TEST_CASE("range_test: too few points give no suggestion", "[range_test]") {
    const auto curve = [](double lr) { return 0.2 + tanh_fall(lr, -3.0, 0.5) + lr * lr; };
    const auto eight = clr::range_test<double>(1e-6, 1.0, 8).run(curve);
    CHECK(eight.stop == clr::range_test_stop::completed);
    check_no_suggestion(eight.suggestions, "too few points: 8 finite losses, need at least 10");
    // Six finite points before a NaN.
    const auto nan_early = clr::range_test<double>(1e-6, 1.0, 100).run([&, i = 0](double lr) mutable {
        return i++ < 6 ? curve(lr) : qnan;
    });
    check_no_suggestion(nan_early.suggestions, "too few points: 6 finite losses, need at least 10");
    // A long warm-up raises the need: warm-up + a start + a point either side.
    const auto warm = clr::range_test<double>(1e-6, 1.0, 15).with_warmup(20).run(curve);
    check_no_suggestion(warm.suggestions, "too few points: 15 finite losses, need at least 23");
    // Fewer points are read once min_points allows it.
    const auto eight_ok = clr::range_test<double>(1e-6, 1.0, 8)
                              .with_smoothing(0.0)
                              .with_warmup(0)
                              .with_min_points(8)
                              .run(curve);
    CHECK(eight_ok.suggestions.steepest);
    CHECK(eight_ok.suggestions.base_lr);
}

TEST_CASE("range_test: a fall within one step gives no cyclical pair", "[range_test]") {
    // A cliff: the whole fall between two neighbouring rates.
    const auto test = clr::range_test<double>(1e-6, 1.0, 61).with_smoothing(0.0);
    const auto r = test.run([](double lr) {
        const double x = std::log10(lr);
        return x < -3.01 ? 2.0 : 0.5 + 0.01 * (x + 3.0);
    });
    const auto& s = r.suggestions;
    REQUIRE(s.base_lr);
    REQUIRE(s.max_lr);
    CHECK(*s.base_lr.value == *s.max_lr.value);
    CHECK_FALSE(s.cyclic);
    CHECK_THAT(s.cyclic.reason, Contains("same point") && Contains("sweep more finely"));
}

// ---- accuracy ------------------------------------------------------------------

TEST_CASE("range_test: max_lr is read from accuracy when it levels off first", "[range_test]") {
    // Accuracy has done 95% of its rise at x = a + 0.3 atanh(0.9) = -3.16;
    // the loss has done 95% of its fall only at -3 + 0.4 atanh(0.9) = -2.41.
    const double a = -3.6, grid = 0.05;
    const auto test = clr::range_test<double>(1e-6, 1.0, 121).with_smoothing(0.0);
    const auto step = [&](double lr) {
        const double x = std::log10(lr);
        return clr::range_test_step{tanh_fall(lr, -3.0, 0.4) + std::exp((x + 0.5) / 0.1),
                                    0.5 + 0.4 * std::tanh((x - a) / 0.3)};
    };
    const auto r = test.run(step);
    const auto& s = r.suggestions;
    REQUIRE(s.max_lr);
    CHECK_THAT(s.max_lr.rule, Contains("accuracy"));
    CHECK(std::abs(std::log10(*s.max_lr.value) - (a + 0.3 * std::atanh(0.9))) <= grid);
    REQUIRE(s.cyclic);
    CHECK(*s.cyclic.max_lr == *s.max_lr.value);
    CHECK_THAT(s.cyclic.rule, Contains("accuracy"));
    REQUIRE(s.base_lr);
    CHECK(std::abs(std::log10(*s.base_lr.value) - (-3.0 - 0.4 * std::atanh(0.9))) <= grid);
    CHECK(*r.records[10].smoothed_accuracy == *r.records[10].accuracy);

    // Flat accuracy carries no information: the loss rule stands.
    const auto flat = test.run([&](double lr) { return clr::range_test_step{step(lr).loss, 0.1}; });
    REQUIRE(flat.suggestions.max_lr);
    CHECK_THAT(flat.suggestions.max_lr.rule, !Contains("accuracy"));
    CHECK(std::abs(std::log10(*flat.suggestions.max_lr.value) - (-3.0 + 0.4 * std::atanh(0.9))) <= grid);
    // So does accuracy on only some steps.
    const auto some = test.run([&, i = 0](double lr) mutable {
        auto out = step(lr);
        if (i++ % 2) out.accuracy.reset();
        return out;
    });
    REQUIRE(some.suggestions.max_lr);
    CHECK(*some.suggestions.max_lr.value == *flat.suggestions.max_lr.value);
    // And accuracy that levels off after the loss.
    const auto late = test.run([&](double lr) {
        return clr::range_test_step{step(lr).loss, 0.5 + 0.4 * std::tanh((std::log10(lr) + 1.5) / 0.3)};
    });
    CHECK(*late.suggestions.max_lr.value == *flat.suggestions.max_lr.value);
}

TEST_CASE("range_test: a non-finite accuracy with a finite loss is an error", "[range_test]") {
    const clr::range_test<double> test(1e-6, 1.0, 50);
    // Braces inside the macros would split their arguments: name the steps first.
    auto nan_at_7 = [i = 0](double) mutable {
        return clr::range_test_step{1.0, i++ == 7 ? std::optional<double>(qnan) : std::optional<double>(0.5)};
    };
    REQUIRE_THROWS_WITH(test.run(nan_at_7),
                        Contains("clr::range_test") && Contains("accuracy = nan") && Contains("step 7"));
    const auto inf_accuracy = [](double) { return clr::range_test_step{1.0, inf_v}; };
    REQUIRE_THROWS_AS(test.run(inf_accuracy), std::invalid_argument);
    // With a NaN loss the model diverged: that is a stop, not an error.
    const auto r = test.run([](double) { return clr::range_test_step{qnan, qnan}; });
    CHECK(r.stop == clr::range_test_stop::non_finite);
}

// ---- types -----------------------------------------------------------------------

TEST_CASE("range_test: float tests and float or double step functions", "[range_test]") {
    const auto curve = [](double lr) { return 0.2 + tanh_fall(lr, -3.0, 0.4) + lr * lr; };
    const auto d = clr::range_test<double>(1e-6, 1.0, 121).with_smoothing(0.0).run(curve);
    const auto f = clr::range_test<float>(1e-6f, 1.0f, 121).with_smoothing(0.0f).run([&](float lr) {
        return static_cast<float>(curve(static_cast<double>(lr)));
    });
    const auto fd = clr::range_test<float>(1e-6f, 1.0f, 121).with_smoothing(0.0f).run(curve);
    REQUIRE(d.suggestions.steepest);
    REQUIRE(f.suggestions.steepest);
    REQUIRE(fd.suggestions.cyclic);
    CHECK(f.suggestions.steepest.step == d.suggestions.steepest.step);
    CHECK(fd.suggestions.base_lr.step == d.suggestions.base_lr.step);
    CHECK(*f.suggestions.steepest.value == Approx(*d.suggestions.steepest.value).epsilon(1e-5));
    const clr::triangular<float> tri = fd.suggestions.cyclic.make_triangular(100, 2.0f);
    CHECK(tri.step_size_up() == 200);
}

TEST_CASE("range_test: stop reasons print", "[range_test]") {
    CHECK(std::string(clr::to_string(clr::range_test_stop::completed)) == "completed");
    CHECK(std::string(clr::to_string(clr::range_test_stop::diverged)) == "diverged");
    CHECK(std::string(clr::to_string(clr::range_test_stop::non_finite)) == "non_finite");
}

// ---- the cyclical pair -------------------------------------------------------------

TEST_CASE("range_test: step sizes in epochs' worth of iterations", "[range_test]") {
    using pair = clr::cyclic_suggestion<double>;
    CHECK(pair::step_size(500) == 2000);
    CHECK(pair::step_size(500, 2.0) == 1000);
    CHECK(pair::step_size(500, 2.5) == 1250);
    CHECK(pair::step_size(469, 8.0) == 3752);
    CHECK(pair::step_size(3, 0.1) == 1);  // never zero
    pair p;
    p.base_lr = 0.001;
    p.max_lr = 0.006;
    const auto tri = p.make_triangular(391, 3.0);
    CHECK(tri.step_size_up() == 1173);
    CHECK(tri.step_size_down() == 1173);
    CHECK(tri(0) == 0.001);
    CHECK(tri(1173) == 0.006);
}

// ---- invalid input ---------------------------------------------------------------

TEST_CASE("range_test: invalid parameters name themselves", "[range_test][validation]") {
    using T = clr::range_test<double>;
    const auto lin = clr::sweep::linear;
    REQUIRE_THROWS_WITH((T(0.0, 1.0, 100)),
                        Contains("clr::range_test") && Contains("min_lr = 0") && Contains("positive"));
    REQUIRE_THROWS_WITH((T(-1e-3, 1.0, 100)), Contains("min_lr = -0.001") && Contains("positive"));
    REQUIRE_THROWS_WITH((T(-1e-3, 1.0, 100, lin)),
                        Contains("min_lr = -0.001") && Contains("must not be negative"));
    REQUIRE_NOTHROW(T(0.0, 1.0, 100, lin));
    REQUIRE_THROWS_WITH((T(qnan, 1.0, 100)), Contains("min_lr = nan") && Contains("finite"));
    REQUIRE_THROWS_WITH((T(0.1, 0.1, 100)),
                        Contains("max_lr = 0.1") && Contains("must be above min_lr = 0.1"));
    REQUIRE_THROWS_WITH((T(0.1, 0.01, 100, lin)), Contains("max_lr = 0.01") && Contains("min_lr = 0.1"));
    REQUIRE_THROWS_WITH((T(1e-6, inf_v, 100)), Contains("max_lr = inf") && Contains("finite"));
    REQUIRE_THROWS_WITH((T(1e-6, qnan, 100)), Contains("max_lr = nan"));
    REQUIRE_THROWS_WITH((T(1e-6, 1.0, 0)), Contains("steps = 0") && Contains("at least 2"));
    REQUIRE_THROWS_WITH((T(1e-6, 1.0, 1)), Contains("steps = 1") && Contains("at least 2"));
    REQUIRE_THROWS_WITH((T(1e-6, 1.0, static_cast<clr::step_t>(-5))),
                        Contains("steps = ") && Contains("2^62"));

    const T t(1e-6, 1.0, 100);
    REQUIRE_THROWS_WITH(t.with_smoothing(-0.1), Contains("beta = -0.1") && Contains("[0, 1)"));
    REQUIRE_THROWS_WITH(t.with_smoothing(1.0), Contains("beta = 1") && Contains("[0, 1)"));
    REQUIRE_THROWS_WITH(t.with_smoothing(qnan), Contains("beta = nan"));
    REQUIRE_THROWS_WITH(t.with_divergence_factor(1.0),
                        Contains("divergence_factor = 1") && Contains("above 1"));
    REQUIRE_THROWS_WITH(t.with_divergence_factor(0.5), Contains("divergence_factor = 0.5"));
    REQUIRE_THROWS_WITH(t.with_divergence_factor(inf_v),
                        Contains("divergence_factor = inf") && Contains("finite"));
    REQUIRE_THROWS_WITH(t.with_divergence_factor(qnan), Contains("divergence_factor = nan"));
    REQUIRE_THROWS_WITH(t.with_warmup(static_cast<clr::step_t>(-1)),
                        Contains("warmup = ") && Contains("2^62"));
    REQUIRE_THROWS_WITH(t.with_min_points(2), Contains("min_points = 2") && Contains("at least 3"));
    REQUIRE_THROWS_WITH(t.with_min_points(static_cast<clr::step_t>(-1)),
                        Contains("min_points = ") && Contains("2^62"));
    REQUIRE_THROWS_WITH(t.with_bounds_fraction(0.0), Contains("bounds_fraction = 0") && Contains("(0, 0.5)"));
    REQUIRE_THROWS_WITH(t.with_bounds_fraction(0.5), Contains("bounds_fraction = 0.5"));
    REQUIRE_THROWS_WITH(t.with_bounds_fraction(qnan), Contains("bounds_fraction = nan"));
    REQUIRE_THROWS_WITH(t.with_min_drop(0.0), Contains("min_drop = 0") && Contains("(0, 1)"));
    REQUIRE_THROWS_WITH(t.with_min_drop(1.0), Contains("min_drop = 1"));
    REQUIRE_THROWS_WITH(t.with_min_drop(-inf_v), Contains("min_drop = -inf"));
    REQUIRE_THROWS_AS(clr::range_test<float>(1.0f, 0.5f, 10), std::invalid_argument);

    // The sweep on its own names itself.
    REQUIRE_THROWS_WITH((clr::range_sweep<double>(0.0, 1.0, 10)),
                        Contains("clr::range_sweep") && Contains("min_lr = 0"));
    REQUIRE_THROWS_WITH((clr::range_sweep<double>(1e-3, 1e-3, 10, lin)),
                        Contains("clr::range_sweep") && Contains("max_lr"));
    REQUIRE_THROWS_WITH((clr::range_sweep<double>(1e-3, 1.0, 1)),
                        Contains("clr::range_sweep") && Contains("steps = 1"));

    // Building the schedule.
    using pair = clr::cyclic_suggestion<double>;
    REQUIRE_THROWS_WITH(pair::step_size(0), Contains("steps_per_epoch = 0") && Contains("at least 1"));
    REQUIRE_THROWS_WITH(pair::step_size(500, 0.0), Contains("epochs = 0") && Contains("positive"));
    REQUIRE_THROWS_WITH(pair::step_size(500, -2.0), Contains("epochs = -2"));
    REQUIRE_THROWS_WITH(pair::step_size(500, qnan), Contains("epochs = nan"));
    REQUIRE_THROWS_WITH(pair::step_size(500, 1e30), Contains("epochs = 1e+30") && Contains("2^62"));
    REQUIRE_THROWS_WITH(pair::step_size(static_cast<clr::step_t>(-1)),
                        Contains("steps_per_epoch") && Contains("2^62"));
    pair p;
    p.base_lr = 0.001;
    p.max_lr = 0.006;
    REQUIRE_THROWS_WITH(p.make_triangular(0), Contains("steps_per_epoch = 0"));
    pair empty;
    empty.reason = "flat curve: example";
    REQUIRE_THROWS_WITH(empty.make_triangular(100),
                        Contains("no cyclical bounds") && Contains("flat curve: example"));
}
