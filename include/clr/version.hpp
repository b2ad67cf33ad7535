// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The library's version, and its one source of truth.
//
// CMakeLists.txt reads the three numbers below with file(STRINGS) and passes
// them to project(VERSION), so the CMake package (clrConfigVersion.cmake), the
// pkg-config files and the .deb all take their version from this file. It is
// committed rather than generated into the build tree because clr is header
// only: a compiler given plain `-I include`, or a project that copies
// include/clr without CMake, must find it just as an installed copy does.
// Keep each #define on one line of its own: that is the form CMake reads.
#ifndef CLR_VERSION_HPP
#define CLR_VERSION_HPP

#define CLR_VERSION_MAJOR 0
#define CLR_VERSION_MINOR 3
#define CLR_VERSION_PATCH 0

// One number for comparisons: MAJOR * 10000 + MINOR * 100 + PATCH, 300 for
// 0.3.0, so `#if CLR_VERSION >= 300` asks for 0.3.0 or newer.
#define CLR_VERSION (CLR_VERSION_MAJOR * 10000 + CLR_VERSION_MINOR * 100 + CLR_VERSION_PATCH)

// "0.3.0", built from the numbers above.
#define CLR_DETAIL_STRINGIZE_(x) #x
#define CLR_DETAIL_STRINGIZE(x) CLR_DETAIL_STRINGIZE_(x)
#define CLR_VERSION_STRING                  \
    CLR_DETAIL_STRINGIZE(CLR_VERSION_MAJOR) \
    "." CLR_DETAIL_STRINGIZE(CLR_VERSION_MINOR) "." CLR_DETAIL_STRINGIZE(CLR_VERSION_PATCH)

#endif  // CLR_VERSION_HPP
