// Built against an installed or embedded clr; exits non-zero when the schedule
// does not hit its two ends exactly.
#include <clr/clr.hpp>

#include <cstdio>

int main() {
    clr::triangular<double> s(0.001, 0.006, 2000);
    if (s(0) != 0.001 || s(2000) != 0.006) {
        std::printf("clr::triangular(0.001, 0.006, 2000): lr(0) = %.17g, lr(2000) = %.17g; "
                    "expected 0.001 and 0.006\n", s(0), s(2000));
        return 1;
    }
    std::printf("clr consumer: ok\n");
    return 0;
}
