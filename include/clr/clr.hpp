// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Everything in one include, and the list of the library's schedules that
// clr::parse_schedule reads (clr::schedule_catalog): a schedule is added by
// its header, included here, and its type in that list. The optimizers
// (clr/optim/sgd.hpp, clr/optim/adam.hpp) need Eigen and are included on
// their own.
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
#include "plateau.hpp"
#include "schedule.hpp"
#include "tanh_decay.hpp"
#include "text.hpp"
#include "version.hpp"
#include "wsd.hpp"

namespace clr {

// Each schedule's description is beside its class; only its type is here.
// Instantiated only by a program that reads text (parse_schedule) or lists
// the schedules, so including a header costs nothing for it.
template <class T>
struct library_schedules {
    using type =
        detail::type_list<constant<T>, triangular<T>, triangular2<T>, exp_range<T>, welch<T>, hann<T>,
                          detail::general_cyclic<T>, cosine_restarts<T>, one_cycle<T>, cosine<T>, linear<T>,
                          polynomial<T>, exponential<T>, step_decay<T>, multistep<T>, wsd<T>, inverse_sqrt<T>,
                          inverse_time<T>, tanh_decay<T>, piecewise<T>, plateau_schedule<any_schedule<T>>,
                          range_sweep<T>, detail::any_warmup<T>, detail::any_sequence<T>>;
};

}  // namespace clr

#endif  // CLR_CLR_HPP
