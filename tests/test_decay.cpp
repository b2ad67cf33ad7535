// The everyday decays: cosine, linear, polynomial, exponential, step_decay and
// multistep, step for step PyTorch's CosineAnnealingLR, LinearLR, PolynomialLR,
// ExponentialLR, StepLR and MultiStepLR.
#include <clr/decay.hpp>

#include "reference.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

using clr_test::load_reference;
using clr_test::worst_relative_error;

namespace {
constexpr clr::step_t last_step = std::numeric_limits<clr::step_t>::max();
// README: every value matches PyTorch to 1e-12. The tables are held closer, to
// what they measure: at most 4.2e-15 (polynomial_power1.csv; PyTorch steps a
// recursive form whose rounding adds up, the closed form rounds once).
constexpr double pytorch_tolerance = 1e-14;
const double pi = std::acos(-1.0);

// The first n rows of a table.
clr_test::reference_table head(const clr_test::reference_table& t, std::size_t n) {
    clr_test::reference_table h;
    h.step.assign(t.step.begin(), t.step.begin() + static_cast<std::ptrdiff_t>(n));
    h.lr.assign(t.lr.begin(), t.lr.begin() + static_cast<std::ptrdiff_t>(n));
    return h;
}

// Finite and inside bounds() at the steps where schedules go wrong: the
// start, around the end, and the far end of the step range.
template <class S>
void stays_inside(const S& s, clr::step_t total) {
    const auto b = s.bounds();
    REQUIRE(b.lo <= b.hi);
    for (const clr::step_t t : {clr::step_t(0), clr::step_t(1), total - 1, total, total + 1,
                                clr::step_t(1) << 24, (clr::step_t(1) << 24) + 1, clr::step_t(1) << 53,
                                clr::step_t(1) << 62, clr::step_t(1) << 63, last_step - 1, last_step}) {
        CAPTURE(t);
        CHECK(std::isfinite(s(t)));
        CHECK(b.contains(s(t)));
        CHECK_FALSE(s.momentum(t).has_value());
    }
}
}  // namespace

TEST_CASE("decays are small, trivially copyable values", "[decay]") {
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::cosine<double>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::linear<float>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::polynomial<double>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::exponential<double>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::step_decay<float>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::multistep<double>>);
    STATIC_REQUIRE(clr::is_schedule_v<clr::multistep<float>>);
    STATIC_REQUIRE(clr::is_schedule_v<clr::cosine<double>>);
}

// ---- cosine ------------------------------------------------------------------

TEST_CASE("cosine: values by hand", "[decay][cosine]") {
    const auto s = clr::cosine<double>(0.1, 100).with_eta_min(0.001);
    CHECK(s(0) == 0.1);  // exactly lr: the weight is exactly 1
    CHECK(s(25) == Approx(0.001 + 0.099 * (1 + std::sqrt(0.5)) / 2).epsilon(1e-15));
    CHECK(s(50) == Approx(0.0505).epsilon(1e-15));
    CHECK(s(75) == Approx(0.001 + 0.099 * (1 - std::sqrt(0.5)) / 2).epsilon(1e-14));
    CHECK(s(99) == Approx(0.001 + 0.099 * (1 + std::cos(pi * 99 / 100)) / 2).epsilon(1e-15));
    CHECK(s(100) == 0.001);  // eta_min at T_max
    // Past T_max it holds eta_min (PyTorch's CosineAnnealingLR rises again).
    CHECK(s(101) == 0.001);
    CHECK(s(150) == 0.001);
    CHECK(s(200) == 0.001);
    CHECK(s(last_step) == 0.001);
    CHECK(s.bounds().lo == 0.001);
    CHECK(s.bounds().hi == 0.1);
    for (clr::step_t t = 1; t <= 100; ++t) CHECK(s(t) < s(t - 1));  // strictly falling to T_max

    const clr::cosine<double> plain(0.5, 4);  // eta_min 0
    CHECK(plain(2) == Approx(0.25).epsilon(1e-15));
    CHECK(plain(4) == 0.0);
    CHECK(plain.eta_min() == 0.0);
    CHECK(plain.total_steps() == 4);
    CHECK(plain.initial_lr() == 0.5);
    stays_inside(s, 100);
    stays_inside(clr::cosine<float>(0.1f, clr::step_t(1) << 62).with_eta_min(0.01f), clr::step_t(1) << 62);
}

TEST_CASE("cosine: matches PyTorch's CosineAnnealingLR up to T_max", "[decay][cosine][reference]") {
    CHECK(worst_relative_error(clr::cosine<double>(0.1, 500).with_eta_min(1e-4),
                               load_reference("cosine_annealing.csv", 501)) <= pytorch_tolerance);
    CHECK(worst_relative_error(clr::cosine<double>(0.05, 77),
                               load_reference("cosine_annealing_eta0.csv", 78)) <= pytorch_tolerance);
}

TEST_CASE("cosine: past T_max it holds eta_min where PyTorch rises again", "[decay][cosine][reference]") {
    const auto s = clr::cosine<double>(0.01, 50).with_eta_min(0.001);
    const auto table = load_reference("cosine_annealing_past_tmax.csv", 151);
    CHECK(worst_relative_error(s, head(table, 51)) <= pytorch_tolerance);
    // PyTorch climbs back to lr at 2 T_max and down again by 3 T_max; this
    // schedule stays at eta_min.
    CHECK(table.lr[100] == Approx(0.01).epsilon(1e-12));
    CHECK(table.lr[150] == Approx(0.001).epsilon(1e-12));
    CHECK(s(150) == 0.001);
    for (clr::step_t t = 51; t < 150; ++t) {
        CHECK(table.lr[t] > 0.001);
        CHECK(s(t) == 0.001);
    }
}

// ---- linear ------------------------------------------------------------------

TEST_CASE("linear: values by hand", "[decay][linear]") {
    const clr::linear<double> down(0.1, 0.01, 90);
    CHECK(down(0) == 0.1);
    CHECK(down(30) == Approx(0.07).epsilon(1e-15));
    CHECK(down(89) == Approx(0.011).epsilon(1e-14));
    CHECK(down(90) == 0.01);
    CHECK(down(91) == 0.01);
    CHECK(down(last_step) == 0.01);
    CHECK(down.bounds().lo == 0.01);
    CHECK(down.bounds().hi == 0.1);
    for (clr::step_t t = 1; t <= 90; ++t) CHECK(down(t) < down(t - 1));

    // A warmup ramp: quarters of 0.1 are exact.
    const clr::linear<double> up(0.0, 0.1, 4);
    CHECK(up(0) == 0.0);
    CHECK(up(1) == 0.025);
    CHECK(up(2) == 0.05);
    CHECK(up(3) == Approx(0.075).epsilon(1e-15));
    CHECK(up(4) == 0.1);
    CHECK(up(1000) == 0.1);
    CHECK(up.bounds().lo == 0.0);
    CHECK(up.bounds().hi == 0.1);
    CHECK(up.start_lr() == 0.0);
    CHECK(up.end_lr() == 0.1);
    stays_inside(down, 90);
    stays_inside(clr::linear<float>(0.0f, 1.0f, (clr::step_t(1) << 62) - 1), (clr::step_t(1) << 62) - 1);
}

TEST_CASE("linear: matches PyTorch's LinearLR", "[decay][linear][reference]") {
    // LinearLR(start_factor, end_factor) on an optimizer lr: the rates are the products.
    CHECK(worst_relative_error(clr::linear<double>(0.1 * 1.0, 0.1 * 0.05, 200),
                               load_reference("linear_decay.csv", 300)) <= pytorch_tolerance);
    CHECK(worst_relative_error(clr::linear<double>(0.01 * 0.25, 0.01 * 1.0, 80),
                               load_reference("linear_warmup.csv", 120)) <= pytorch_tolerance);
}

// ---- polynomial ----------------------------------------------------------------

TEST_CASE("polynomial: values by hand", "[decay][polynomial]") {
    const clr::polynomial<double> s(0.1, 0.0, 100, 2.0);
    CHECK(s(0) == 0.1);
    CHECK(s(50) == Approx(0.025).epsilon(1e-15));
    CHECK(s(90) == Approx(0.001).epsilon(1e-13));
    CHECK(s(100) == 0.0);
    CHECK(s(101) == 0.0);
    CHECK(s(last_step) == 0.0);
    for (clr::step_t t = 1; t <= 100; ++t) CHECK(s(t) < s(t - 1));

    const clr::polynomial<double> floor(0.1, 0.01, 10, 1.0);  // linear to a floor
    CHECK(floor(5) == Approx(0.055).epsilon(1e-15));
    CHECK(floor(10) == 0.01);
    CHECK(floor.bounds().lo == 0.01);
    CHECK(floor.bounds().hi == 0.1);

    const clr::polynomial<double> root(1.0, 0.0, 4, 0.5);  // stays high, drops late
    CHECK(root(3) == Approx(0.5).epsilon(1e-15));          // sqrt(1/4)
    CHECK(root(4) == 0.0);

    const clr::polynomial<double> rising(0.0, 0.1, 10, 1.0);  // end above start
    CHECK(rising(5) == Approx(0.05).epsilon(1e-15));
    CHECK(rising(10) == 0.1);
    CHECK(rising.bounds().lo == 0.0);
    CHECK(rising.bounds().hi == 0.1);
    CHECK(s.power() == 2.0);
    stays_inside(s, 100);
    stays_inside(clr::polynomial<float>(0.1f, 0.001f, clr::step_t(1) << 40, 3.0f), clr::step_t(1) << 40);
}

TEST_CASE("polynomial: matches PyTorch's PolynomialLR", "[decay][polynomial][reference]") {
    CHECK(worst_relative_error(clr::polynomial<double>(0.1, 0.0, 250, 1.0),
                               load_reference("polynomial_power1.csv", 260)) <= pytorch_tolerance);
    CHECK(worst_relative_error(clr::polynomial<double>(0.1, 0.0, 300, 2.0),
                               load_reference("polynomial_power2.csv", 400)) <= pytorch_tolerance);
    CHECK(worst_relative_error(clr::polynomial<double>(0.02, 0.0, 97, 0.5),
                               load_reference("polynomial_power_half.csv", 120)) <= pytorch_tolerance);
}

// ---- exponential -----------------------------------------------------------------

TEST_CASE("exponential: values by hand", "[decay][exponential]") {
    const clr::exponential<double> s(0.1, 0.5);
    CHECK(s(0) == 0.1);
    CHECK(s(1) == 0.05);
    CHECK(s(3) == 0.0125);
    CHECK(s(100) == std::ldexp(0.1, -100));
    CHECK(s(2000) == 0.0);  // 2^-2000 underflows
    CHECK(s(last_step) == 0.0);
    CHECK(s.bounds().lo == 0.0);
    CHECK(s.bounds().hi == 0.1);
    const clr::exponential<double> slow(0.1, 0.99);
    CHECK(slow(10) == Approx(0.1 * std::pow(0.99, 10)).epsilon(1e-15));
    // gamma a hair below 1 still reaches 0 long before the last step.
    const clr::exponential<double> hair(1.0, std::nextafter(1.0, 0.0));
    CHECK(hair(last_step) == 0.0);
    CHECK(hair(1000) < 1.0);
    const clr::exponential<float> none(0.3f, 1.0f);
    CHECK(none(last_step) == 0.3f);
    CHECK(none.bounds().lo == 0.3f);
    stays_inside(s, 10);
    stays_inside(hair, 10);
    stays_inside(clr::exponential<float>(1e30f, 0.999f), 10);
}

TEST_CASE("exponential: matches PyTorch's ExponentialLR", "[decay][exponential][reference]") {
    CHECK(worst_relative_error(clr::exponential<double>(0.1, 0.99),
                               load_reference("exponential.csv", 1000)) <= pytorch_tolerance);
    CHECK(worst_relative_error(clr::exponential<double>(0.01, 0.9995),
                               load_reference("exponential_slow.csv", 3000)) <= pytorch_tolerance);
}

// ---- step_decay ----------------------------------------------------------------------

TEST_CASE("step_decay: values by hand", "[decay][step_decay]") {
    const clr::step_decay<double> s(0.1, 30, 0.5);
    CHECK(s(0) == 0.1);
    CHECK(s(29) == 0.1);
    CHECK(s(30) == 0.05);
    CHECK(s(59) == 0.05);
    CHECK(s(60) == 0.025);
    CHECK(s(95) == 0.0125);
    CHECK(s(clr::step_t(30) * 1100) == 0.0);  // 2^-1100 underflows
    CHECK(s(last_step) == 0.0);
    CHECK(s.step_size() == 30);
    const clr::step_decay<double> every(1.0, 1, 0.5);  // step_size 1 is exponential
    CHECK(every(10) == 1.0 / 1024);
    stays_inside(s, 30);
    stays_inside(clr::step_decay<float>(0.1f, clr::step_t(1) << 62, 0.1f), clr::step_t(1) << 62);
}

TEST_CASE("step_decay: matches PyTorch's StepLR", "[decay][step_decay][reference]") {
    CHECK(worst_relative_error(clr::step_decay<double>(0.1, 30, 0.1), load_reference("step.csv", 200)) <=
          pytorch_tolerance);
    CHECK(worst_relative_error(clr::step_decay<double>(0.05, 7, 0.5), load_reference("step_half.csv", 400)) <=
          pytorch_tolerance);
}

// ---- multistep -------------------------------------------------------------------------

TEST_CASE("multistep: values by hand", "[decay][multistep]") {
    const clr::multistep<double> s(0.1, {30, 80}, 0.1);
    CHECK(s(0) == 0.1);
    CHECK(s(29) == 0.1);
    CHECK(s(30) == 0.1 * 0.1);  // one multiplication, as PyTorch rounds it
    CHECK(s(79) == 0.1 * 0.1);
    CHECK(s(80) == 0.1 * 0.1 * 0.1);
    CHECK(s(10000) == 0.1 * 0.1 * 0.1);
    CHECK(s(last_step) == 0.1 * 0.1 * 0.1);
    CHECK(s.bounds().lo == 0.1 * 0.1 * 0.1);
    CHECK(s.bounds().hi == 0.1);
    REQUIRE(s.milestone_count() == 2);
    CHECK(s.milestone(0) == 30);
    CHECK(s.milestone(1) == 80);

    // From any container of whole numbers; no milestones is a constant.
    const std::vector<clr::step_t> v{0, 10};
    const clr::multistep<double> from_vector(1.0, v, 0.5);
    CHECK(from_vector(0) == 0.5);  // a milestone at step 0 applies at once, as in PyTorch
    CHECK(from_vector(10) == 0.25);
    const clr::multistep<float> none(0.2f, std::vector<int>{}, 0.5f);
    CHECK(none(last_step) == 0.2f);
    CHECK(none.bounds().lo == 0.2f);

    // Sixteen is the most it holds, up to the largest step.
    std::vector<clr::step_t> many;
    for (clr::step_t i = 0; i < clr::multistep<double>::max_milestones; ++i) many.push_back((i + 1) << 58);
    const clr::multistep<double> full(1.0, many, 0.5);
    CHECK(full((clr::step_t(1) << 58) - 1) == 1.0);
    CHECK(full(clr::step_t(1) << 62) == 1.0 / 65536);
    CHECK(full(last_step) == 1.0 / 65536);
    stays_inside(s, 80);
    stays_inside(full, clr::step_t(1) << 62);
}

TEST_CASE("multistep: matches PyTorch's MultiStepLR to the last bit", "[decay][multistep][reference]") {
    CHECK(worst_relative_error(clr::multistep<double>(0.1, {30, 80, 120}, 0.1),
                               load_reference("multistep.csv", 200)) == 0.0);
    CHECK(worst_relative_error(clr::multistep<double>(1.0, {0, 1, 2, 50}, 0.5),
                               load_reference("multistep_from_zero.csv", 100)) == 0.0);
}

// ---- validation ----------------------------------------------------------------------------

TEST_CASE("decays: invalid parameters name themselves", "[decay][validation]") {
    using Catch::Matchers::Contains;
    const double nan = std::nan("");
    const double inf = std::numeric_limits<double>::infinity();

    REQUIRE_THROWS_WITH(clr::cosine<double>(-0.1, 10), Contains("clr::cosine") && Contains("lr = -0.1"));
    REQUIRE_THROWS_WITH(clr::cosine<double>(0.1, 0), Contains("clr::cosine") && Contains("total_steps = 0"));
    REQUIRE_THROWS_WITH(clr::cosine<double>(0.1, clr::step_t(-1)),
                        Contains("total_steps = 18446744073709551615"));
    REQUIRE_THROWS_WITH(clr::cosine<double>(0.1, 10).with_eta_min(nan), Contains("eta_min = nan"));
    REQUIRE_THROWS_WITH(clr::cosine<double>(0.1, 10).with_eta_min(-1e-3), Contains("eta_min = -0.001"));
    REQUIRE_THROWS_WITH(clr::cosine<double>(0.1, 10).with_eta_min(0.2),
                        Contains("lr = 0.1 must not be below eta_min = 0.2"));

    REQUIRE_THROWS_WITH(clr::linear<double>(-1, 0.1, 10),
                        Contains("clr::linear") && Contains("start_lr = -1"));
    REQUIRE_THROWS_WITH(clr::linear<double>(0.1, inf, 10), Contains("end_lr = inf"));
    REQUIRE_THROWS_WITH(clr::linear<double>(0.1, 0.0, 0), Contains("total_steps = 0"));

    REQUIRE_THROWS_WITH(clr::polynomial<double>(nan, 0.0, 10, 1.0),
                        Contains("clr::polynomial") && Contains("lr = nan"));
    REQUIRE_THROWS_WITH(clr::polynomial<double>(0.1, -0.5, 10, 1.0), Contains("end_lr = -0.5"));
    REQUIRE_THROWS_WITH(clr::polynomial<double>(0.1, 0.0, 0, 1.0), Contains("total_steps = 0"));
    REQUIRE_THROWS_WITH(clr::polynomial<double>(0.1, 0.0, 10, 0.0),
                        Contains("power = 0") && Contains("positive"));
    REQUIRE_THROWS_WITH(clr::polynomial<double>(0.1, 0.0, 10, -2.0), Contains("power = -2"));
    REQUIRE_THROWS_WITH(clr::polynomial<double>(0.1, 0.0, 10, inf), Contains("power = inf"));

    REQUIRE_THROWS_WITH(clr::exponential<double>(-0.1, 0.9),
                        Contains("clr::exponential") && Contains("lr = -0.1"));
    REQUIRE_THROWS_WITH(clr::exponential<double>(0.1, 0.0), Contains("gamma = 0") && Contains("(0, 1]"));
    REQUIRE_THROWS_WITH(clr::exponential<double>(0.1, 1.01), Contains("gamma = 1.01") && Contains("(0, 1]"));
    REQUIRE_THROWS_WITH(clr::exponential<double>(0.1, -0.5), Contains("gamma = -0.5"));
    REQUIRE_THROWS_WITH(clr::exponential<float>(0.1f, std::nanf("")), Contains("gamma = nan"));

    REQUIRE_THROWS_WITH(clr::step_decay<double>(0.1, 0, 0.5),
                        Contains("clr::step_decay") && Contains("step_size = 0"));
    REQUIRE_THROWS_WITH(clr::step_decay<double>(0.1, clr::step_t(-30), 0.5),
                        Contains("step_size") && Contains("2^62"));
    REQUIRE_THROWS_WITH(clr::step_decay<double>(0.1, 30, 2.0), Contains("gamma = 2"));
    REQUIRE_THROWS_WITH(clr::step_decay<double>(inf, 30, 0.5), Contains("lr = inf"));

    REQUIRE_THROWS_WITH(clr::multistep<double>(0.1, {80, 30}, 0.1),
                        Contains("clr::multistep") && Contains("milestones = [80, 30]") &&
                            Contains("strictly increasing: 30 follows 80"));
    REQUIRE_THROWS_WITH(clr::multistep<double>(0.1, {30, 30}, 0.1), Contains("milestones = [30, 30]"));
    REQUIRE_THROWS_WITH(clr::multistep<double>(0.1, std::vector<int>{10, -1}, 0.1),
                        Contains("milestones = [10, -1]") && Contains("2^62"));
    std::vector<clr::step_t> too_many;
    for (clr::step_t i = 1; i <= 17; ++i) too_many.push_back(i);
    REQUIRE_THROWS_WITH(clr::multistep<double>(0.1, too_many, 0.1),
                        Contains("milestones = [1, 2,") && Contains("has 17 steps; at most 16"));
    REQUIRE_THROWS_WITH(clr::multistep<double>(0.1, {30}, 0.0),
                        Contains("clr::multistep") && Contains("gamma = 0"));
    REQUIRE_THROWS_WITH(clr::multistep<double>(-1.0, {30}, 0.5), Contains("lr = -1"));
    REQUIRE_THROWS_AS(clr::multistep<double>(0.1, {30, 20}, 0.1), std::invalid_argument);
}
