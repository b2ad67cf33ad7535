// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Everything in one include. The optimizers (clr/optim/sgd.hpp,
// clr/optim/adam.hpp) need Eigen and are included on their own.
#ifndef CLR_CLR_HPP
#define CLR_CLR_HPP

#include "compose.hpp"
#include "cosine_restarts.hpp"
#include "cyclic.hpp"
#include "one_cycle.hpp"
#include "range_test.hpp"
#include "schedule.hpp"

#define CLR_VERSION_MAJOR 0
#define CLR_VERSION_MINOR 1
#define CLR_VERSION_PATCH 0

#endif  // CLR_CLR_HPP
