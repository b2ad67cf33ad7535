// The CRTP interface every schedule shares.
#include <clr/clr.hpp>

#include <catch2/catch.hpp>

#include <iterator>
#include <type_traits>
#include <vector>

namespace {
// Generic code sees every schedule through the base, with no virtual call.
template <class Derived, class T>
T mean_over(const clr::schedule<Derived, T>& s, clr::step_t n) {
    T sum = 0;
    for (clr::step_t t = 0; t < n; ++t) sum += s(t);
    return sum / static_cast<T>(n);
}

// A user-defined schedule: the base provides the rest.
struct halving : clr::schedule<halving, double> {
    double lr_at(clr::step_t t) const noexcept { return 1.0 / double(clr::step_t(1) << (t < 63 ? t : 63)); }
    clr::range<double> lr_range() const noexcept { return {0.0, 1.0}; }
};
}  // namespace

TEST_CASE("schedules are small, trivially copyable values without virtual calls", "[schedule]") {
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::triangular<double>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::exp_range<float>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::cosine_restarts<double>>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<clr::one_cycle<double>>);
    STATIC_REQUIRE_FALSE(std::is_polymorphic_v<clr::triangular<double>>);
    STATIC_REQUIRE(clr::is_schedule_v<clr::hann<float>>);
    STATIC_REQUIRE(clr::is_schedule_v<halving>);
    STATIC_REQUIRE_FALSE(clr::is_schedule_v<double>);
    STATIC_REQUIRE(std::is_same_v<clr::triangular2<float>::value_type, float>);
}

TEST_CASE("the base dispatches to the concrete schedule", "[schedule]") {
    clr::triangular<double> s(0.0, 1.0, 2);
    CHECK(mean_over(s, 4) == Approx(0.5));  // 0, 0.5, 1, 0.5
    halving h;
    CHECK(h(3) == 0.125);
    CHECK(mean_over(h, 2) == 0.75);
    CHECK_FALSE(h.momentum(0).has_value());
    const clr::schedule<halving, double>& base = h;
    CHECK(base.lr(1) == 0.5);
    CHECK(&base.derived() == &h);
}

TEST_CASE("sampling writes consecutive steps", "[schedule]") {
    clr::triangular<double> s(0.0, 1.0, 4);
    const std::vector<double> v = s.sample(9);
    REQUIRE(v.size() == 9);
    CHECK(v == std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0});
    std::vector<double> tail;
    s.sample(6, 3, std::back_inserter(tail));
    CHECK(tail == std::vector<double>{0.5, 0.25, 0.0});
}
