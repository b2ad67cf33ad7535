// Built against an installed or embedded clr; exits non-zero when the schedule
// does not hit its two ends exactly, or when the header's version is not the
// one the package reported.
#include <clr/clr.hpp>
#include <clr/lr_finder.hpp>

#include <string>

#include <cstdio>
#include <cstring>

#if defined(CLR_CONSUMER_NO_EIGEN) && __has_include(<Eigen/Core>)
#error \
    "Eigen is on the include path of the schedules-only consumer, which must show that clr::clr needs no Eigen"
#endif

int main() {
    clr::triangular<double> s(0.001, 0.006, 2000);
    if (s(0) != 0.001 || s(2000) != 0.006) {
        std::printf(
            "clr::triangular(0.001, 0.006, 2000): lr(0) = %.17g, lr(2000) = %.17g; "
            "expected 0.001 and 0.006\n",
            s(0), s(2000));
        return 1;
    }
    if (std::strcmp(CLR_VERSION_STRING, CLR_CONSUMER_EXPECTED_VERSION) != 0 ||
        std::strcmp(CLR_VERSION_STRING, CLR_CONSUMER_PACKAGE_VERSION) != 0) {
        std::printf("<clr/version.hpp> says %s; the package says %s and %s was expected\n",
                    CLR_VERSION_STRING, CLR_CONSUMER_PACKAGE_VERSION, CLR_CONSUMER_EXPECTED_VERSION);
        return 1;
    }
    // The text form, installed with the rest.
    const std::string text = clr::to_string(s);
    const clr::any_schedule<double> back = clr::parse_schedule<double>(text);
    if (back(1000) != s(1000) || clr::to_string(back) != text) {
        std::printf("%s read back as %s\n", text.c_str(), clr::to_string(back).c_str());
        return 1;
    }
    const clr::range_test<double> finder(1e-6, 1.0, 100);
    if (finder.steps() != 100) return 1;
    try {
        clr::triangular<double> bad(0.001, 0.006, 0);
        std::printf("clr::triangular with step_size 0 was accepted (lr(0) = %g)\n", bad(0));
        return 1;
    } catch (const clr::invalid_parameter& e) {
        if (e.param() != "step_size") {
            std::printf("invalid_parameter names '%s', not step_size: %s\n", e.param().c_str(), e.what());
            return 1;
        }
    }
    std::printf("clr %s consumer: ok (CLR_VERSION %d)\n", CLR_VERSION_STRING, CLR_VERSION);
    return 0;
}
