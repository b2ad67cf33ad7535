// A training run that diverged, as every example's trainer reports it: the
// exception its loop throws at the first update whose loss or parameters are
// not finite, and the exit status the program then ends with. The rate is
// too high for the run, and every later update would only spread the NaN.
#pragma once

#include <clr/schedule.hpp>

#include <stdexcept>
#include <string>

namespace divergence {

// The exit status of a run that diverged (0 done, 1 a failure while
// writing or training, 2 bad flags, values or data files).
inline constexpr int exit_status = 3;

// step() is the update that did it (counted from 0, as an optimizer's or a
// scheduler's steps()), lr() its rate, what() what was not finite.
class diverged : public std::runtime_error {
public:
    diverged(clr::step_t step, double lr, const std::string& what)
        : std::runtime_error(what),
          step_(step),
          lr_(lr) {}
    clr::step_t step() const noexcept { return step_; }
    double lr() const noexcept { return lr_; }

private:
    clr::step_t step_;
    double lr_;
};

}  // namespace divergence
