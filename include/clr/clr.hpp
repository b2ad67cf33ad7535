// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Everything in one include. The optimizers (clr/optim/sgd.hpp,
// clr/optim/adam.hpp) need Eigen and are included on their own.
#ifndef CLR_CLR_HPP
#define CLR_CLR_HPP

#include "any_schedule.hpp"
#include "compose.hpp"
#include "cosine_restarts.hpp"
#include "cyclic.hpp"
#include "decay.hpp"
#include "inverse_decay.hpp"
#include "lr_finder.hpp"
#include "one_cycle.hpp"
#include "piecewise.hpp"
#include "schedule.hpp"
#include "tanh_decay.hpp"
#include "text.hpp"
#include "version.hpp"
#include "wsd.hpp"

#endif  // CLR_CLR_HPP
