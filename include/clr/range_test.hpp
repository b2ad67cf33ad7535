// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The range test's header until 0.2, kept for one release: include
// <clr/lr_finder.hpp>. The old name read as a test file to tools that filter
// on *_test.* (coverage, CI path filters, code browsers).
#ifndef CLR_RANGE_TEST_HPP
#define CLR_RANGE_TEST_HPP

#include "lr_finder.hpp"

#endif  // CLR_RANGE_TEST_HPP
