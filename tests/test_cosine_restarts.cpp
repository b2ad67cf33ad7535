// Cosine annealing with warm restarts (SGDR).
#include <clr/cosine_restarts.hpp>
#include <clr/text.hpp>

#include "reference.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

using clr_test::load_reference;
using clr_test::worst_relative_error;

namespace {
constexpr clr::step_t last_step = std::numeric_limits<clr::step_t>::max();
}

TEST_CASE("cosine_restarts: values by hand", "[cosine_restarts]") {
    auto s = clr::cosine_restarts<double>(0.05, 10).with_t_mult(2).with_eta_min(0.001);
    CHECK(s(0) == 0.05);
    CHECK(s(5) == Approx(0.001 + 0.049 * 0.5).epsilon(1e-15));
    CHECK(s(10) == 0.05);  // restart; the next period lasts 20
    CHECK(s(20) == Approx(0.0255).epsilon(1e-15));
    CHECK(s(30) == 0.05);
    CHECK(s(29) > 0.001);
    CHECK(s.restarts_before(29) == 1);
    CHECK(s.restarts_before(30) == 2);
    clr::cosine_restarts<double> flat(0.1, 4);
    CHECK(flat(2) == Approx(0.05).epsilon(1e-15));
    CHECK(flat(4) == 0.1);
}

TEST_CASE("cosine_restarts: every restart boundary is exact", "[cosine_restarts]") {
    for (clr::step_t m : {2u, 3u, 5u}) {
        auto s = clr::cosine_restarts<double>(0.1, 7).with_t_mult(double(m)).with_eta_min(0.001);
        clr::step_t start = 0, len = 7;
        for (int i = 0; i < 64 && start < (clr::step_t(1) << 60) / m; ++i) {
            CAPTURE(m, i, start);
            CHECK(s(start) == 0.1);
            CHECK(s.restarts_before(start) == i);
            if (start > 0) CHECK(s.restarts_before(start - 1) == i - 1);
            CHECK(s(start + len - 1) < s(start + len));
            start += len;
            len *= m;
        }
    }
    // Restarts near the top of the step range: with T_0 = 1 and T_mult = 2 the
    // 64th period begins at step 2^64 - 1.
    auto top = clr::cosine_restarts<double>(1.0, 1).with_t_mult(2);
    CHECK(top(last_step) == 1.0);
    CHECK(top.restarts_before(last_step) == 64);
    CHECK(top.restarts_before(last_step - 1) == 63);
    CHECK(top(last_step - 1) < 1.0);
}

TEST_CASE("cosine_restarts: fractional T_mult", "[cosine_restarts]") {
    // T_0 = 10, T_mult = 1.5: periods of 10, 15, 22.5, 33.75 starting at
    // 0, 10, 25, 47.5, 81.25.
    auto s = clr::cosine_restarts<double>(1.0, 10).with_t_mult(1.5);
    CHECK(s(10) == 1.0);
    CHECK(s(25) == 1.0);
    CHECK(s.restarts_before(47) == 2);
    CHECK(s.restarts_before(48) == 3);
    CHECK(s(48) == Approx((1 + std::cos(std::acos(-1.0) * 0.5 / 33.75)) / 2).epsilon(1e-14));
    CHECK(s.restarts_before(81) == 3);
    CHECK(s.restarts_before(82) == 4);
    for (clr::step_t t : {last_step, last_step / 3, clr::step_t(1) << 50}) {
        CHECK(std::isfinite(s(t)));
        CHECK(s(t) >= 0.0);
        CHECK(s(t) <= 1.0);
    }
}

TEST_CASE("cosine_restarts: m_mul lowers each restart's peak", "[cosine_restarts]") {
    auto s = clr::cosine_restarts<double>(0.1, 10).with_m_mul(0.5).with_eta_min(0.01);
    CHECK(s(0) == 0.1);
    CHECK(s(10) == 0.05);
    CHECK(s(20) == 0.025);
    CHECK(s(25) == Approx(0.01 + (0.025 - 0.01) * 0.5).epsilon(1e-15));
    // Peaks below eta_min: the rate lies between the two and never leaves bounds.
    CHECK(s(40) == Approx(0.00625).epsilon(1e-15));
    const auto b = s.bounds();
    for (clr::step_t t : {last_step, clr::step_t(12345678901)}) CHECK(b.contains(s(t)));
}

TEST_CASE("matches PyTorch's CosineAnnealingWarmRestarts", "[cosine_restarts][reference]") {
    SECTION("T_mult 1") {
        auto s = clr::cosine_restarts<double>(0.1, 100).with_eta_min(1e-4);
        CHECK(worst_relative_error(s, load_reference("cosine_restarts_tmult1.csv", 1000)) <=
              clr_test::cosine_restarts_worst_error);
    }
    SECTION("T_mult 2") {
        auto s = clr::cosine_restarts<double>(0.05, 10).with_t_mult(2).with_eta_min(0.001);
        CHECK(worst_relative_error(s, load_reference("cosine_restarts_tmult2.csv", 5000)) <=
              clr_test::cosine_restarts_worst_error);
    }
    SECTION("T_mult 3, eta_min 0") {
        auto s = clr::cosine_restarts<double>(0.1, 7).with_t_mult(3);
        CHECK(worst_relative_error(s, load_reference("cosine_restarts_tmult3.csv", 6000)) <=
              clr_test::cosine_restarts_worst_error);
    }
}

// keras_cosine_restarts_*.csv come from a transcription of Keras's
// CosineDecayRestarts.__call__ in scripts/gen_reference.py (Keras is not
// installable beside PyTorch 1.13 here). Keras's alpha is eta_min as a
// fraction of the initial rate.
namespace {
// The steps at which a schedule and a table differ by more than tol.
template <class Schedule>
std::vector<clr::step_t> steps_off(const Schedule& s, const clr_test::reference_table& table, double tol) {
    std::vector<clr::step_t> off;
    for (std::size_t i = 0; i < table.step.size(); ++i)
        if (!(clr_test::relative_error(s(table.step[i]), table.lr[i]) <= tol)) off.push_back(table.step[i]);
    return off;
}
}  // namespace

TEST_CASE("matches Keras's CosineDecayRestarts", "[cosine_restarts][reference][keras]") {
    // The largest errors sit at the bottom of a cosine, where 1 + cos(pi x)
    // cancels and Keras's completed_fraction, (t / T_0 - sum_r) / t_mul^i,
    // differs in its last bit from T_cur / T_i. Measured: 1.0e-13, 1.3e-14.
    SECTION("t_mul 2, m_mul 0.5") {
        auto s = clr::cosine_restarts<double>(0.1, 100).with_t_mult(2).with_m_mul(0.5);
        CHECK(worst_relative_error(s, load_reference("keras_cosine_restarts_mmul.csv", 3100)) <= 1e-12);
    }
    SECTION("t_mul 1, m_mul 0.8") {
        auto s = clr::cosine_restarts<double>(0.05, 70).with_m_mul(0.8);
        CHECK(worst_relative_error(s, load_reference("keras_cosine_restarts_tmul1_mmul.csv", 1000)) <= 1e-12);
    }
    SECTION("t_mul 3, alpha 0.05: Keras puts one restart a step late") {
        // Keras finds the period as floor(log(1 + 2 t / T_0) / log 3), which
        // is 4.999999999999999 at t = 1210 = 10 (3^5 - 1) / 2: Keras ends
        // period 4 there, at alpha * 0.2 = 0.01, where the restart to 0.2
        // belongs. Every other step agrees.
        const auto table = load_reference("keras_cosine_restarts_tmul3_alpha.csv", 2000);
        auto s = clr::cosine_restarts<double>(0.2, 10).with_t_mult(3).with_eta_min(0.01);
        CHECK(steps_off(s, table, 1e-12) == std::vector<clr::step_t>{1210});
        CHECK(table.lr[1210] == Approx(0.01).epsilon(1e-15));
        CHECK(s(1210) == 0.2);
        CHECK(table.lr[1211] ==
              Approx(0.01 + 0.19 * (1 + std::cos(std::acos(-1.0) / 2430)) / 2).epsilon(1e-14));
    }
    SECTION("m_mul with alpha: clr decays the peak, Keras the height above the floor") {
        // Keras: lr = init (alpha + (1 - alpha) m_mul^i (1 + cos) / 2); clr:
        // eta_min + (eta_max m_mul^i - eta_min) (1 + cos) / 2. The two agree
        // when alpha = 0 or m_mul = 1 (the sections above), and in the first
        // period; after it they differ.
        const auto table = load_reference("keras_cosine_restarts_mmul_alpha.csv", 700);
        auto s = clr::cosine_restarts<double>(0.1, 100).with_t_mult(2).with_m_mul(0.5).with_eta_min(0.01);
        const auto off = steps_off(s, table, 1e-12);
        REQUIRE_FALSE(off.empty());
        CHECK(off.front() == 100);  // the first restart: 0.1 * (0.1 + 0.9 * 0.5) = 0.055 in Keras
        CHECK(table.lr[100] == Approx(0.055).epsilon(1e-15));
        CHECK(s(100) == 0.05);
    }
}

TEST_CASE("cosine_restarts: float agrees with double", "[cosine_restarts]") {
    auto d = clr::cosine_restarts<double>(0.05, 10).with_t_mult(2).with_eta_min(0.001);
    auto f = clr::cosine_restarts<float>(0.05f, 10).with_t_mult(2).with_eta_min(0.001f);
    for (clr::step_t t = 0; t < 5000; t += 3) CHECK(f(t) == Approx(d(t)).epsilon(1e-5));
}

TEST_CASE("cosine_restarts: invalid parameters name themselves", "[cosine_restarts][validation]") {
    using Catch::Matchers::Contains;
    REQUIRE_THROWS_WITH((clr::cosine_restarts<double>(0.1, 0)),
                        Contains("clr::cosine_restarts") && Contains("T_0 = 0"));
    REQUIRE_THROWS_WITH((clr::cosine_restarts<double>(-1.0, 10)), Contains("eta_max = -1"));
    clr::cosine_restarts<double> s(0.1, 10);
    REQUIRE_THROWS_WITH(s.with_t_mult(0.5), Contains("T_mult = 0.5") && Contains("at least 1"));
    REQUIRE_THROWS_WITH(s.with_t_mult(std::nan("")), Contains("T_mult = nan"));
    REQUIRE_THROWS_WITH(s.with_eta_min(0.2), Contains("eta_max = 0.1") && Contains("eta_min = 0.2"));
    REQUIRE_THROWS_WITH(s.with_eta_min(-0.01), Contains("eta_min = -0.01"));
    REQUIRE_THROWS_WITH(s.with_m_mul(1.5), Contains("m_mul = 1.5") && Contains("(0, 1]"));
    REQUIRE_THROWS_WITH(s.with_m_mul(0.0), Contains("m_mul = 0"));
}

// timm's CosineLRScheduler, stepped per update, from the published formula
// (tests/data/README.md). Each case is built in C++ and read from its text
// form; both must match every step.
TEST_CASE("matches timm's CosineLRScheduler: k_decay and cycle_limit", "[cosine_restarts][reference][timm]") {
    struct timm_case {
        const char* table;
        std::uint64_t rows;
        clr::cosine_restarts<double> s;
        const char* text;
    };
    const clr::cosine_restarts<double> base(0.1, 100);
    const timm_case cases[] = {
        {"timm_cosine_kdecay_half.csv", 1000, base.with_k_decay(0.5),
         "cosine_restarts(eta_max=0.1, T_0=100, k_decay=0.5)"},
        {"timm_cosine_kdecay2_tmult2.csv", 1270,
         clr::cosine_restarts<double>(0.1, 10)
             .with_eta_min(0.001)
             .with_t_mult(2)
             .with_m_mul(0.5)
             .with_k_decay(2),
         "cosine_restarts(eta_max=0.1, T_0=10, eta_min=0.001, T_mult=2, m_mul=0.5, k_decay=2)"},
        {"timm_cosine_limit3.csv", 600, base.with_eta_min(0.001).with_m_mul(0.5).with_cycle_limit(3),
         "cosine_restarts(eta_max=0.1, T_0=100, eta_min=0.001, m_mul=0.5, cycle_limit=3)"},
        {"timm_cosine_limit2_tmult2.csv", 600, base.with_t_mult(2).with_cycle_limit(2),
         "cosine_restarts(eta_max=0.1, T_0=100, T_mult=2, cycle_limit=2)"},
    };
    for (const auto& c : cases) {
        INFO(c.table);
        const auto table = load_reference(c.table, c.rows);
        CHECK(worst_relative_error(c.s, table) <= 1e-12);
        CHECK(clr::to_string(c.s) == c.text);
        const auto back = clr::parse_schedule<double>(c.text);
        for (std::size_t i = 0; i < table.step.size(); ++i)
            REQUIRE(back(table.step[i]) == c.s(table.step[i]));
    }
}

TEST_CASE("cosine_restarts: cycle_limit holds eta_min from the limit's restart on",
          "[cosine_restarts][timm]") {
    const auto s =
        clr::cosine_restarts<double>(0.1, 10).with_t_mult(2).with_eta_min(0.01).with_cycle_limit(2);
    // Periods 0 and 1 span steps 0-9 and 10-29; from 30 on, eta_min.
    CHECK(s(10) == 0.1);
    CHECK(s(29) > 0.01);
    CHECK(s(30) == 0.01);
    CHECK(s(std::uint64_t(1) << 62) == 0.01);
    // k_decay = 0.5 a quarter into a period: half the angle, half the height.
    const auto k = clr::cosine_restarts<double>(0.1, 100).with_k_decay(0.5).with_cycle_limit(3);
    CHECK(k(25) == Approx(0.05).epsilon(1e-15));
    CHECK(k(300) == 0.0);
    // k_decay = 1 and no limit are SGDR itself, bit for bit.
    const auto plain = clr::cosine_restarts<double>(0.1, 7).with_t_mult(3);
    const auto same = plain.with_k_decay(1).with_cycle_limit(0);
    for (clr::step_t t = 0; t < 2000; ++t) REQUIRE(same(t) == plain(t));
    CHECK(clr::to_string(same) == clr::to_string(plain));
}

TEST_CASE("cosine_restarts: timm's options refuse bad values by name", "[cosine_restarts][validation]") {
    using Catch::Matchers::Contains;
    const clr::cosine_restarts<double> s(0.1, 10);
    REQUIRE_THROWS_WITH(s.with_k_decay(0.0), Contains("k_decay = 0") && Contains("positive"));
    REQUIRE_THROWS_WITH(s.with_k_decay(std::nan("")), Contains("k_decay = nan"));
    REQUIRE_THROWS_WITH(s.with_cycle_limit(static_cast<clr::step_t>(-1)), Contains("cycle_limit"));
    REQUIRE_THROWS_WITH(clr::parse_schedule<double>("cosine_restarts(eta_max=0.1, T_0=10, cycle_limit=2ep)"),
                        Contains("cycle_limit = 2ep is not a whole number"));
}
