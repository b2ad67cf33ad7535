// The text form of schedules: what to_string writes for each kind, that
// parse_schedule reads it back, and how it refuses malformed text. The round
// trip over random parameters of every kind is in test_properties.cpp.
#include <clr/clr.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using clr::step_t;

// Parses, and checks that the result writes the same text back and matches
// `s` bit for bit over the first `steps` steps and a few far ones.
template <class S>
void reads_back(const S& s, const std::string& text, step_t steps = 3000) {
    using T = typename S::value_type;
    REQUIRE(clr::to_string(s) == text);
    const clr::any_schedule<T> back = clr::parse_schedule<T>(text);
    CHECK(clr::to_string(back) == text);
    std::vector<step_t> at;
    for (step_t t = 0; t < steps; ++t) at.push_back(t);
    for (const step_t t : {step_t(1) << 40, (step_t(1) << 62) + 7, std::numeric_limits<step_t>::max()})
        at.push_back(t);
    for (const step_t t : at) {
        INFO("step " << t);
        REQUIRE(back(t) == s(t));
        REQUIRE(back.momentum(t) == s.momentum(t));
    }
    CHECK(back.bounds().lo == s.bounds().lo);
    CHECK(back.bounds().hi == s.bounds().hi);
}

// The parts of the refusal of `text`.
struct refusal {
    std::string who, param, value, what;
};

template <class T = double>
refusal refuse(const std::string& text) {
    try {
        (void)clr::parse_schedule<T>(text);
    } catch (const clr::invalid_parameter& e) {
        return {e.who(), e.param(), e.value(), e.what()};
    }
    FAIL("accepted: " << text);
    return {};
}

}  // namespace

TEST_CASE("to_string writes each kind as one line, options only when set", "[text]") {
    reads_back(clr::triangular<double>(0.001, 0.006, 2000),
               "triangular(base_lr=0.001, max_lr=0.006, step_size=2000)");
    reads_back(clr::triangular2<double>(0.001, 0.006, 20).with_step_size_down(10).with_momentum(0.8, 0.9),
               "triangular2(base_lr=0.001, max_lr=0.006, step_size=20, step_size_down=10, base_momentum=0.8, "
               "max_momentum=0.9)");
    reads_back(clr::exp_range<double>(0.001, 0.006, 20, 0.999),
               "exp_range(base_lr=0.001, max_lr=0.006, step_size=20, gamma=0.999)");
    reads_back(clr::welch<double>(0.1, 0.2, 5), "welch(base_lr=0.1, max_lr=0.2, step_size=5)");
    reads_back(clr::hann<double>(0.1, 0.2, 5), "hann(base_lr=0.1, max_lr=0.2, step_size=5)");
    reads_back(clr::cyclic<double, clr::hann_window, clr::halving_scale>(0.001, 0.006, 50),
               "cyclic(window=hann, scale=halving, base_lr=0.001, max_lr=0.006, step_size=50)");
    reads_back(clr::cyclic<double, clr::welch_window, clr::exp_scale<double>>(0.001, 0.006, 50, 0.99),
               "cyclic(window=welch, scale=exp, base_lr=0.001, max_lr=0.006, step_size=50, gamma=0.99)");
    reads_back(clr::cosine_restarts<double>(0.1, 100), "cosine_restarts(eta_max=0.1, T_0=100)");
    reads_back(clr::cosine_restarts<double>(0.1, 10).with_eta_min(0.001).with_t_mult(2).with_m_mul(0.5),
               "cosine_restarts(eta_max=0.1, T_0=10, eta_min=0.001, T_mult=2, m_mul=0.5)");
    reads_back(clr::one_cycle<double>(0.1, 1000), "one_cycle(max_lr=0.1, total_steps=1000)");
    reads_back(clr::one_cycle<double>(0.1, 1000)
                   .with_pct_start(0.25)
                   .with_div_factor(10)
                   .with_final_div_factor(100)
                   .with_anneal(clr::anneal::linear)
                   .with_three_phase()
                   .with_momentum(),
               "one_cycle(max_lr=0.1, total_steps=1000, pct_start=0.25, div_factor=10, final_div_factor=100, "
               "anneal=linear, three_phase=true, base_momentum=0.85, max_momentum=0.95)");
    reads_back(clr::cosine<double>(0.1, 1000), "cosine(lr=0.1, total_steps=1000)");
    reads_back(clr::cosine<double>(0.1, 1000).with_eta_min(1e-5),
               "cosine(lr=0.1, total_steps=1000, eta_min=1e-05)");
    reads_back(clr::linear<double>(0, 0.1, 100), "linear(start_lr=0, end_lr=0.1, total_steps=100)");
    // PyTorch's defaults (end_lr 0, power 1, gamma 0.1) are left out.
    reads_back(clr::polynomial<double>(0.1, 0, 1000, 2), "polynomial(lr=0.1, total_steps=1000, power=2)");
    reads_back(clr::polynomial<double>(0.1, 0.01, 1000, 1),
               "polynomial(lr=0.1, end_lr=0.01, total_steps=1000)");
    reads_back(clr::exponential<double>(0.1, 0.99), "exponential(lr=0.1, gamma=0.99)");
    reads_back(clr::step_decay<double>(0.1, 30, 0.5), "step_decay(lr=0.1, step_size=30, gamma=0.5)");
    reads_back(clr::multistep<double>(0.1, {30, 80}, 0.1), "multistep(lr=0.1, milestones=[30, 80])");
    reads_back(clr::multistep<double>(0.1, std::vector<step_t>{}, 0.5),
               "multistep(lr=0.1, milestones=[], gamma=0.5)");
    reads_back(clr::constant<double>(0.01), "constant(lr=0.01)");
    reads_back(clr::range_sweep<double>(1e-6, 1, 7), "range_sweep(min_lr=1e-06, max_lr=1, steps=7)");
    reads_back(clr::range_sweep<double>(0, 0.1, 11, clr::sweep::linear),
               "range_sweep(min_lr=0, max_lr=0.1, steps=11, shape=linear)");
}

TEST_CASE("to_string writes composed schedules whole, an N-way sequence as one", "[text]") {
    reads_back(clr::warmup(clr::triangular<double>(0.001, 0.006, 20), 10, 0.0),
               "warmup(triangular(base_lr=0.001, max_lr=0.006, step_size=20), steps=10, start_lr=0)");
    reads_back(clr::sequence(clr::linear<double>(0, 0.1, 100), 100, clr::constant<double>(0.1), 400,
                             clr::cosine<double>(0.1, 1000)),
               "sequence(linear(start_lr=0, end_lr=0.1, total_steps=100), 100, constant(lr=0.1), 400, "
               "cosine(lr=0.1, total_steps=1000))");
    // A sequence in first place is a piece of its own.
    reads_back(
        clr::sequence(clr::sequence(clr::exponential<double>(0.1, 0.99), 10, clr::constant<double>(0.05)), 20,
                      clr::one_cycle<double>(0.1, 100).with_momentum()),
        "sequence(sequence(exponential(lr=0.1, gamma=0.99), 10, constant(lr=0.05)), 20, "
        "one_cycle(max_lr=0.1, total_steps=100, base_momentum=0.85, max_momentum=0.95))");
    // An any_schedule writes what it holds, nested or not.
    const clr::any_schedule<double> a = clr::hann<double>(0.1, 0.2, 5);
    reads_back(clr::warmup(a, 3, 0.05),
               "warmup(hann(base_lr=0.1, max_lr=0.2, step_size=5), steps=3, start_lr=0.05)");
}

TEST_CASE("numbers are written shortest for their own type and read back exactly", "[text]") {
    // 0.1f is 0.100000001490116..., written as the 0.1 that reads back as it.
    reads_back(clr::triangular<float>(0.1f, 0.3f, 7), "triangular(base_lr=0.1, max_lr=0.3, step_size=7)");
    reads_back(clr::constant<double>(std::numeric_limits<double>::denorm_min()), "constant(lr=5e-324)");
    reads_back(clr::constant<float>(std::numeric_limits<float>::max()), "constant(lr=3.4028235e+38)");
    reads_back(clr::constant<double>(0.1 + 0.2), "constant(lr=0.30000000000000004)");
    reads_back(clr::constant<double>(-0.0), "constant(lr=-0)");
    CHECK(std::signbit(clr::parse_schedule<double>("constant(lr=-0)")(0)));
    reads_back(clr::cosine<long double>(0.1L, 100), "cosine(lr=0.1, total_steps=100)");
    const step_t longest = step_t(1) << 62;
    reads_back(clr::triangular<double>(0.1, 0.2, longest),
               "triangular(base_lr=0.1, max_lr=0.2, step_size=4611686018427387904)", 10);
}

TEST_CASE("an eta_min of -0 is written, so that it reads back with its sign", "[text]") {
    // Found by fuzz_schedules: eta_min=-0 compared equal to the default +0 and
    // was left out, so the schedule read back had bounds().lo = +0 and, past
    // the decay, lr = +0 where the original gave -0.
    reads_back(clr::cosine_restarts<double>(0.1, 10).with_eta_min(-0.0),
               "cosine_restarts(eta_max=0.1, T_0=10, eta_min=-0)", 50);
    reads_back(clr::cosine<float>(0.1f, 10).with_eta_min(-0.0f), "cosine(lr=0.1, total_steps=10, eta_min=-0)",
               50);
    const auto back = clr::parse_schedule<double>("cosine(lr=0.1, total_steps=10, eta_min=-0)");
    CHECK(std::signbit(back(10)));
    CHECK(std::signbit(back.bounds().lo));
    reads_back(clr::sequence(clr::constant<double>(-0.0), 0,
                             clr::cosine_restarts<double>(-0.0, 1).with_eta_min(-0.0)),
               "sequence(constant(lr=-0), 0, cosine_restarts(eta_max=-0, T_0=1, eta_min=-0))", 50);
}

TEST_CASE("parse_schedule ignores spaces and takes parameters in any order", "[text]") {
    const auto s =
        clr::parse_schedule<double>("  triangular( step_size = 2000 ,max_lr=6e-3,base_lr=0.001 )  ");
    CHECK(clr::to_string(s) == "triangular(base_lr=0.001, max_lr=0.006, step_size=2000)");
    CHECK(s(1000) == 0.0035);
    // The general cyclic form of a named policy reads as that policy.
    CHECK(clr::to_string(clr::parse_schedule<double>(
              "cyclic(window=triangular, scale=halving, base_lr=0.001, max_lr=0.006, step_size=10)")) ==
          "triangular2(base_lr=0.001, max_lr=0.006, step_size=10)");
    // one_cycle's momentum has PyTorch's defaults for the half not given.
    CHECK(*clr::parse_schedule<double>("one_cycle(max_lr=0.1, total_steps=100, base_momentum=0.8)")
               .momentum(0) == 0.95);
}

TEST_CASE("parse_schedule names the bad part and its column", "[text][errors]") {
    struct row {
        const char* text;
        const char* param;
        const char* value;
        const char* says;
    };
    const row rows[] = {
        {"triangular(base_lr=0.001, max_lr=0.006)", "step_size", "(missing)",
         "is required by triangular (column 1)"},
        {"triangular(base_lr=0.001, max_lr=0.006, stepsize=2000)", "stepsize", "2000",
         "is not a parameter of triangular (it takes base_lr, max_lr, step_size, step_size_down, "
         "base_momentum, "
         "max_momentum) (column 50)"},
        {"triangular(base_lr=0.001, max_lr=0.006, step_size=2000) x", "text", "x",
         "follows the schedule (column 57)"},
        {"triangle(lr=1)", "schedule", "triangle", "is not a schedule (known: constant, cosine"},
        {"triangular(base_lr=0.0x1, max_lr=0.006, step_size=2000)", "base_lr", "0.0x1",
         "is not a number (column 20)"},
        {"constant(lr=1e999)", "lr", "1e999", "is out of range for double (column 13)"},
        {"constant(lr=1, lr=2)", "lr", "2", "is given twice (column 19)"},
        {"constant(0.1)", "constant", "0.1", "takes key=value arguments only (column 10)"},
        {"constant(lr=)", "lr", ")", "is not a value (column 13)"},
        {"constant(lr=0.1", "text", "(end of text)", "ends before the closing ) (column 16)"},
        {"constant lr=0.1", "schedule", "constant",
         "must be followed by its arguments in parentheses (column 1)"},
        {"", "schedule", "(end of text)", "is not a schedule name (column 1)"},
        {"warmup(steps=10, start_lr=0)", "schedule", "10", "must come first in warmup"},
        {"warmup(constant(lr=1), steps=-1, start_lr=0)", "steps", "-1", "is not a step count"},
        {"sequence(constant(lr=1), 5)", "sequence", "2 arguments", "are not schedule, steps, schedule"},
        {"sequence(constant(lr=1), constant(lr=2), 5)", "sequence", "constant(lr=2)", "is not a step count"},
        {"sequence(constant(lr=1), 5, 6)", "sequence", "6", "is not a schedule"},
        {"multistep(lr=1, milestones=[3, a], gamma=0.1)", "milestones", "a", "is not a step count"},
        {"multistep(lr=1, milestones=[3, 4, gamma=0.1)", "milestones", "[3, 4, gamma=0.1)",
         "has no closing ]"},
        {"one_cycle(max_lr=0.1, total_steps=10, anneal=cosine)", "anneal", "cosine",
         "is not one of cos, linear"},
        {"hann(base_lr=0.1, max_lr=0.2, step_size=5, base_momentum=0.8)", "max_momentum", "(missing)",
         "is required by hann with base_momentum"},
    };
    for (const row& r : rows) {
        INFO(r.text);
        const refusal e = refuse(r.text);
        CHECK(e.who == "clr::parse_schedule");
        CHECK(e.param == r.param);
        CHECK(e.value == r.value);
        CHECK_THAT(e.what, Catch::Contains(r.says));
    }
}

TEST_CASE("a value the schedule refuses keeps the schedule's message, with the column", "[text][errors]") {
    const refusal e = refuse("triangular(base_lr=0.001, max_lr=0.006, step_size=0)");
    CHECK(e.who == "clr::triangular");
    CHECK(e.param == "step_size");
    CHECK(e.value == "0");
    CHECK(e.what == "clr::triangular: step_size = 0 must be at least 1 (column 51)");
    const refusal m = refuse("multistep(lr=1, milestones=[3, 2], gamma=0.1)");
    CHECK(m.what ==
          "clr::multistep: milestones = [3, 2] must be strictly increasing: 2 follows 3 (column 28)");
    const refusal n = refuse("constant(lr=nan)");
    CHECK(n.what == "clr::constant: lr = nan must be finite (column 13)");
}

TEST_CASE("parse_schedule bounds nesting and refuses what its type cannot hold", "[text][errors]") {
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "warmup(";
    const refusal e = refuse(deep);
    CHECK(e.param == "text");
    CHECK_THAT(e.what, Catch::Contains("nests schedules more than 64 deep"));
    // float's range ends near 3.4e38.
    const refusal f = refuse<float>("constant(lr=1e39)");
    CHECK(f.what == "clr::parse_schedule: lr = 1e39 is out of range for float (column 13)");
}

TEST_CASE("any_schedule holds any schedule of its type, and copies share it", "[text][any]") {
    clr::any_schedule<double> s = clr::triangular<double>(0.001, 0.006, 2000);
    CHECK(s(0) == 0.001);
    CHECK(s(1000) == 0.0035);
    CHECK(s.lr(2000) == 0.006);
    CHECK_FALSE(s.momentum(0));
    CHECK(s.bounds().lo == 0.001);
    CHECK(s.bounds().hi == 0.006);
    const clr::any_schedule<double> copy = s;
    s = clr::one_cycle<double>(0.1, 100).with_momentum(0.85, 0.95);
    CHECK(copy(1000) == 0.0035);  // the copy kept the triangle
    CHECK(s(0) == clr::one_cycle<double>(0.1, 100)(0));
    CHECK(*s.momentum(0) == 0.95);
    // A moved-from any_schedule is still the schedule: moving copies.
    clr::any_schedule<double> moved = std::move(s);
    CHECK(*s.momentum(0) == 0.95);  // NOLINT(bugprone-use-after-move)
    CHECK(*moved.momentum(0) == 0.95);
    // It is a schedule: composes, samples, and drives what takes one.
    const auto seq = clr::sequence(copy, 10, clr::any_schedule<double>(clr::constant<double>(0.5)));
    CHECK(seq(9) == clr::triangular<double>(0.001, 0.006, 2000)(9));
    CHECK(seq(10) == 0.5);
    CHECK(copy.sample(3) == clr::triangular<double>(0.001, 0.006, 2000).sample(3));
}

TEST_CASE("a schedule with a user scale has no text form", "[text][any]") {
    const auto s = clr::make_cyclic<clr::hann_window>(
        0.001, 0.006, 5, clr::scale_on_cycle([](step_t c) { return 1.0 / double(c); }));
    using user_scaled = std::remove_const_t<decltype(s)>;
    STATIC_REQUIRE_FALSE(clr::has_text_form_v<user_scaled>);
    STATIC_REQUIRE(clr::has_text_form_v<clr::hann<double>>);
    STATIC_REQUIRE(clr::has_text_form_v<clr::warmup_schedule<clr::hann<double>>>);
    STATIC_REQUIRE_FALSE(clr::has_text_form_v<clr::warmup_schedule<user_scaled>>);
    const clr::any_schedule<double> a = s;
    CHECK(a(5) == s(5));
    CHECK_THROWS_WITH(clr::to_string(a), Catch::Contains("has no text form"));
    CHECK(clr::detail::text_or_empty(a).empty());
    CHECK(clr::detail::text_or_empty(s).empty());
    CHECK(clr::detail::text_or_empty(clr::constant<double>(1)) == "constant(lr=1)");
}

TEST_CASE("a parse error is one short line, whatever the text holds", "[text][errors]") {
    // A newline, and other control characters, are escaped.
    const refusal nl = refuse("constant(lr=0.1)\nconstant(lr=0.2)");
    CHECK(nl.value == "\\nconstant(lr=0.2)");
    CHECK(nl.what == "clr::parse_schedule: text = \\nconstant(lr=0.2) follows the schedule (column 17)");
    const refusal ctl = refuse("constant(lr=0.1\x01\t\r)");
    CHECK(ctl.what == "clr::parse_schedule: text = \\x01\\t\\r) where , or ) belongs (column 16)");

    // A megabyte value is cut to its first 48 bytes, with its length.
    const std::string digits(std::size_t{1} << 20, '1');
    const refusal big = refuse("constant(lr=" + digits + ")");
    CHECK(big.value == std::string(48, '1') + "... (1048576 bytes)");
    CHECK(big.what == "clr::parse_schedule: lr = " + std::string(48, '1') +
                          "... (1048576 bytes) is out of range for double (column 13)");
    // Megabytes of lines after the schedule: one line still.
    std::string lines = "constant(lr=0.1)";
    while (lines.size() < (std::size_t{1} << 20)) lines += "\nconstant(lr=0.1)";
    const refusal after = refuse(lines);
    CHECK(after.what.find('\n') == std::string::npos);
    CHECK(after.what ==
          "clr::parse_schedule: text = \\nconstant(lr=0.1)\\nconstant(lr=0.1)\\nconstant(l... (" +
              std::to_string(lines.size() - 16) + " bytes) follows the schedule (column 17)");
    // A long key too.
    const std::string key(5000, 'k');
    CHECK(refuse("constant(" + key + "=1)").param == std::string(48, 'k') + "... (5000 bytes)");

    // The cut falls between characters: not inside an escape, not inside a
    // UTF-8 character (e-acute is two bytes).
    CHECK(clr::excerpt(std::string(47, 'a') + "\n" + std::string(100, 'b')) ==
          std::string(47, 'a') + "... (148 bytes)");
    CHECK(clr::excerpt(std::string(47, 'a') + "\xc3\xa9" + std::string(100, 'b')) ==
          std::string(47, 'a') + "... (149 bytes)");
    CHECK(clr::excerpt(std::string(80, 'x')) == std::string(80, 'x'));
    CHECK(clr::excerpt(std::string(81, 'x')) == std::string(48, 'x') + "... (81 bytes)");
}

TEST_CASE("an error thrown again with its column keeps its shortened parts", "[text][errors]") {
    // multistep itself refuses the list; parse_schedule adds the column.
    std::vector<clr::step_t> m;
    for (clr::step_t i = 1; i <= 15; ++i) m.push_back(1000000000000 + i);
    m.push_back(5);
    std::string list = "[";
    for (const clr::step_t v : m) list += std::to_string(v) + (v == 5 ? "]" : ", ");
    const refusal e = refuse("multistep(lr=1, milestones=" + list + ", gamma=0.1)");
    CHECK(e.who == "clr::multistep");
    CHECK(e.value == list.substr(0, 48) + "... (" + std::to_string(list.size()) + " bytes)");
    CHECK(e.what == "clr::multistep: milestones = " + e.value +
                        " must be strictly increasing: 5 follows 1000000000015 (column 28)");
    // The same list given in code is shown the same way.
    try {
        clr::multistep<double> s(1.0, m, 0.1);
        FAIL("accepted");
    } catch (const clr::invalid_parameter& x) {
        CHECK(x.value() == e.value);
    }
}

TEST_CASE("parse_schedule refuses more than 64 key=value arguments to one schedule", "[text][errors]") {
    // A megabyte of distinct keys is refused at the 65th, before any is
    // looked up or compared with the others.
    std::string text = "constant(";
    for (int i = 0; text.size() < (std::size_t{1} << 20); ++i) text += "k" + std::to_string(i) + "=1, ";
    text += "lr=1)";
    const refusal many = refuse(text);
    CHECK(many.what ==
          "clr::parse_schedule: schedule = constant has more than 64 key=value arguments (column 1)");
    // Nested, the schedule named is the one that has them.
    const refusal nested = refuse("warmup(" + text + ", steps=1, start_lr=0)");
    CHECK(nested.what ==
          "clr::parse_schedule: schedule = constant has more than 64 key=value arguments (column 8)");
    // 64 are read, and refused for what they are.
    std::string keys;
    for (int i = 0; i < 63; ++i) keys += "k" + std::to_string(i) + "=1, ";
    CHECK(refuse("constant(" + keys + "lr=1)").what ==
          "clr::parse_schedule: k0 = 1 is not a parameter of constant (it takes lr) (column 13)");
    CHECK(refuse("constant(" + keys + "k5=2)").what ==
          "clr::parse_schedule: k5 = 2 is given twice (column " + std::to_string(9 + keys.size() + 4) + ")");
}

// ---- a schedule of the user's own, through the documented extension point ----

namespace user {
// Halves the rate every `every` steps: written here alone, as a user would.
template <class T>
class halving : public clr::schedule<halving<T>, T> {
public:
    halving(T lr, clr::step_t every) : lr_(lr), every_(every) {
        if (every == 0) throw clr::invalid_parameter("user::halving", "every", "0", "must be at least 1");
    }
    T lr_at(clr::step_t t) const noexcept {
        return std::ldexp(lr_, -static_cast<int>(std::min<clr::step_t>(t / every_, 2000)));
    }
    clr::range<T> lr_range() const noexcept { return {T(0), lr_}; }
    T initial_lr() const noexcept { return lr_; }
    clr::step_t every() const noexcept { return every_; }

private:
    T lr_;
    clr::step_t every_;
};
}  // namespace user

template <class T>
struct clr::describe<user::halving<T>> {
    static constexpr const char* name = "halving";
    static constexpr parameter parameters[] = {
        {"lr", value_kind::number, required, "the rate at step 0"},
        {"every", value_kind::length, "100", "steps between halvings"},
    };
    static user::halving<T> make(const arguments<T>& a) {
        return user::halving<T>(a.number("lr"), a.length("every"));
    }
    template <class W>
    static void write(W& w, const user::halving<T>& s) {
        w("lr", s.initial_lr())("every", s.every());
    }
};

TEMPLATE_TEST_CASE("a user's schedule gets a text form through clr::describe", "[text][describe]", float,
                   double) {
    using T = TestType;
    const user::halving<T> h(T(0.1), 50);
    CHECK(clr::to_string(h) == "halving(lr=0.1, every=50)");
    CHECK(clr::to_string(user::halving<T>(T(0.1), 100)) == "halving(lr=0.1)");  // the default left out
    // Read back, alone and nested in the library's own combinators.
    const auto back = clr::parse_schedule<T, user::halving<T>>("halving(lr=0.1, every=50)");
    for (clr::step_t t = 0; t < 400; ++t) REQUIRE(back(t) == h(t));
    const auto w = clr::parse_schedule<T, user::halving<T>>(
        "warmup(halving(lr=0.1, every=1ep), steps=10, start_lr=0)", {25, 0});
    CHECK(clr::to_string(w) == "warmup(halving(lr=0.1, every=25), steps=10, start_lr=0)");
    CHECK(w(10) == T(0.1));
    CHECK(w(35) == T(0.05));
    // Its errors carry its column, and the library's checks apply to its text.
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH((clr::parse_schedule<T, user::halving<T>>("halving(lr=0.1, every=0)")),
                      Contains("user::halving: every = 0 must be at least 1 (column 23)"));
    CHECK_THROWS_WITH((clr::parse_schedule<T, user::halving<T>>("halving(every=3)")),
                      Contains("lr = (missing) is required by halving"));
    CHECK_THROWS_WITH((clr::parse_schedule<T, user::halving<T>>("halving(lr=0.1, evry=3)")),
                      Contains("evry = 3 is not a parameter of halving (it takes lr, every)"));
    // Without naming it, parse_schedule does not know it.
    CHECK_THROWS_WITH(clr::parse_schedule<T>("halving(lr=0.1)"), Contains("halving is not a schedule"));
}

// ---- lengths in epochs and shares of the run ----

TEST_CASE("parse_schedule: lengths in steps, epochs and shares of the run", "[text][lengths]") {
    using Catch::Matchers::Contains;
    const clr::run_length run{600, 6000};
    const auto s = clr::parse_schedule<double>(
        "sequence(linear(start_lr=0, end_lr=0.1, total_steps=5%), 2.5ep, cosine(lr=0.1))", run);
    // 5% of 6000 is 300, 2.5 epochs of 600 are 1500; cosine spans the run.
    CHECK(
        clr::to_string(s) ==
        "sequence(linear(start_lr=0, end_lr=0.1, total_steps=300), 1500, cosine(lr=0.1, total_steps=6000))");
    // Rounded up to a whole step, except within rounding error of one.
    const auto up = [&](const std::string& len) {
        return clr::to_string(
            clr::parse_schedule<double>("cosine(lr=0.1, total_steps=" + len + ")", {7, 1000}));
    };
    CHECK(up("0.1%") == "cosine(lr=0.1, total_steps=1)");
    CHECK(up("0.15%") == "cosine(lr=0.1, total_steps=2)");   // 1.5 steps: up
    CHECK(up("0.7%") == "cosine(lr=0.1, total_steps=7)");    // 0.007 * 1000: 7, not 8
    CHECK(up("1.5ep") == "cosine(lr=0.1, total_steps=11)");  // 10.5: up
    CHECK(up("3ep") == "cosine(lr=0.1, total_steps=21)");
    CHECK(up("100%") == "cosine(lr=0.1, total_steps=1000)");
    // Milestones in epochs.
    CHECK(clr::to_string(
              clr::parse_schedule<double>("multistep(lr=0.1, milestones=[1ep, 2ep, 90%])", {100, 1000})) ==
          "multistep(lr=0.1, milestones=[100, 200, 900])");
    // A unit the caller did not give is refused, naming the parameter.
    CHECK_THROWS_WITH(clr::parse_schedule<double>("cosine(lr=0.1, total_steps=2ep)"),
                      Contains("total_steps = 2ep is in epochs, but the steps per epoch were not given"));
    CHECK_THROWS_WITH(clr::parse_schedule<double>("cosine(lr=0.1, total_steps=5%)", {100, 0}),
                      Contains("total_steps = 5% is a share of the run, but its total steps were not given"));
    CHECK_THROWS_WITH(clr::parse_schedule<double>("one_cycle(max_lr=0.1)"),
                      Contains("total_steps = 100% is a share of the run") && Contains("(the default)"));
    CHECK_THROWS_WITH(clr::parse_schedule<double>("cosine(lr=0.1, total_steps=-5%)", run),
                      Contains("total_steps = -5% is not a step count"));
    CHECK_THROWS_WITH(clr::parse_schedule<double>("cosine(lr=0.1, total_steps=nan%)", run),
                      Contains("total_steps = nan% is not a step count"));
    CHECK_THROWS_WITH(clr::parse_schedule<double>("cosine(lr=0.1, total_steps=1e30ep)", run),
                      Contains("total_steps = 1e30ep is larger than 2^62 steps"));
    CHECK_THROWS_WITH(clr::parse_schedule<double>("cosine(lr=0.1, total_steps=0%)", run),
                      Contains("total_steps = 0 must be at least 1"));
    CHECK_THROWS_WITH(clr::parse_schedule<double>("sequence(constant(lr=1), 2ep, constant(lr=2))"),
                      Contains("2ep is in epochs"));
}

// ---- every description, whole ----

TEMPLATE_TEST_CASE("every schedule's description is whole", "[text][describe]", float, double, long double) {
    using T = TestType;
    const auto& all = clr::schedule_catalog<T>();
    REQUIRE(all.size() >= 18);
    for (const auto& e : all) {
        INFO(e.name);
        CHECK(e.parameters.size() > 0);
        for (const auto& p : e.parameters) {
            INFO(p.key);
            CHECK(std::string(p.help).size() > 5);
            // A word's default is one of its choices; a number's default reads as one.
            if (p.kind == clr::value_kind::word) {
                const std::string choices = std::string("|") + p.choices + "|";
                CHECK(choices.find(std::string("|") + p.fallback + "|") != std::string::npos);
            }
            if (p.kind == clr::value_kind::number && p.fallback != clr::required && *p.fallback) {
                std::string why;
                CHECK(clr::detail::read_number<T>(p.fallback, why).has_value());
            }
            for (const auto& q : e.parameters) CHECK((&p == &q || std::string(p.key) != q.key));
        }
    }
}

TEST_CASE("every schedule has a row in the README's table", "[text][describe][docs]") {
    std::ifstream in(std::string(CLR_TEST_DATA_DIR) + "/../../README.md");
    REQUIRE(in);
    std::vector<std::string> rows;  // the first cell of each table row
    for (std::string line; std::getline(in, line);)
        if (line.rfind("| `", 0) == 0) rows.push_back(line.substr(0, line.find(" |", 2)));
    for (const auto& e : clr::schedule_catalog<double>()) {
        INFO(e.name);
        const std::string name = e.name;
        const bool found = std::any_of(rows.begin(), rows.end(), [&](const std::string& cell) {
            for (const std::string& form : {"`" + name + "<", "`" + name + "(", "text `" + name + "`"})
                if (cell.find(form) != std::string::npos) return true;
            return false;
        });
        CHECK(found);
    }
}
