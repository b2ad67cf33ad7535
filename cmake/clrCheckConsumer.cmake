# Builds and runs tests/consumer against clr the way a user would get it:
#   MODE=find_package      install this source tree into a scratch prefix and
#                          find it there with find_package(clr CONFIG)
#   MODE=add_subdirectory  pull the source tree in with add_subdirectory()
# and what they use of it:
#   COMPONENT=schedules    clr::clr alone, with find_package(Eigen3) and
#                          find_package(Torch) disabled for clr's own configure
#                          and the consumer's, so the check fails if the
#                          schedules need Eigen or libtorch anywhere; in
#                          find_package mode it also checks that asking for
#                          COMPONENTS optim then fails, naming Eigen, and
#                          COMPONENTS torch, naming libtorch
#   COMPONENT=optim        COMPONENTS optim and clr::optim, with Eigen
#   COMPONENT=torch        COMPONENTS torch and clr::torch, with libtorch
# EXPECTED_VERSION is the version the package and <clr/version.hpp> must report.
# Usage: cmake -D MODE=... -D COMPONENT=... -D EXPECTED_VERSION=...
#              -D CLR_SOURCE_DIR=... -D CONSUMER_DIR=... -D WORK_DIR=...
#              [-D GENERATOR=...] [-D CXX_COMPILER=...] [-D BUILD_TYPE=...]
#              -P clrCheckConsumer.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS MODE COMPONENT EXPECTED_VERSION CLR_SOURCE_DIR CONSUMER_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "clrCheckConsumer: -D ${var}=... is required")
  endif()
endforeach()
if(NOT MODE MATCHES "^(find_package|add_subdirectory)$")
  message(FATAL_ERROR "clrCheckConsumer: MODE = '${MODE}' must be find_package or add_subdirectory")
endif()
if(NOT COMPONENT MATCHES "^(schedules|optim|torch)$")
  message(FATAL_ERROR "clrCheckConsumer: COMPONENT = '${COMPONENT}' must be schedules, optim or torch")
endif()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()

include("${CMAKE_CURRENT_LIST_DIR}/clrChildBuild.cmake")
clr_child_build_args(common_args)

# A leftover tree from an earlier run could mask a broken install rule.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(consumer_args -DCLR_CONSUMER_MODE=${MODE} "-DCLR_CONSUMER_EXPECTED_VERSION=${EXPECTED_VERSION}")
# What hides Eigen or libtorch from a configure: find_package finds nothing.
set(no_eigen -DCMAKE_DISABLE_FIND_PACKAGE_Eigen3=ON)
set(no_torch -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON)
if(COMPONENT STREQUAL "optim")
  list(APPEND consumer_args -DCLR_CONSUMER_OPTIM=ON)
  set(clr_args "")
elseif(COMPONENT STREQUAL "torch")
  list(APPEND consumer_args -DCLR_CONSUMER_TORCH=ON)
  set(clr_args "")
else()
  list(APPEND consumer_args -DCLR_CONSUMER_OPTIM=OFF ${no_eigen} ${no_torch})
  # The library alone must configure, build and install without Eigen or libtorch.
  set(clr_args ${no_eigen} ${no_torch})
endif()

if(MODE STREQUAL "find_package")
  set(prefix "${WORK_DIR}/prefix")
  # A fresh configure of the source with everything optional off is what a
  # packager does, and proves the install does not depend on the test build.
  run("configure clr" "${CMAKE_COMMAND}" -S "${CLR_SOURCE_DIR}" -B "${WORK_DIR}/clr-build"
      ${common_args}
      -DCLR_BUILD_TESTS=OFF -DCLR_BUILD_EXAMPLES=OFF -DCLR_BUILD_BENCHMARKS=OFF
      "-DCMAKE_INSTALL_PREFIX=${prefix}" ${clr_args})
  run("build clr" "${CMAKE_COMMAND}" --build "${WORK_DIR}/clr-build" --config ${BUILD_TYPE})
  run("install clr" "${CMAKE_COMMAND}" --install "${WORK_DIR}/clr-build" --config ${BUILD_TYPE})

  file(GLOB_RECURSE config_files "${prefix}/*/clrConfig.cmake")
  file(GLOB_RECURSE version_files "${prefix}/*/clrConfigVersion.cmake")
  if(NOT config_files OR NOT version_files)
    message(FATAL_ERROR "install did not produce clrConfig.cmake and clrConfigVersion.cmake under ${prefix}")
  endif()
  foreach(header IN ITEMS clr.hpp version.hpp optim/sgd.hpp torch.hpp)
    if(NOT EXISTS "${prefix}/include/clr/${header}")
      message(FATAL_ERROR "install did not put include/clr/${header} under ${prefix}")
    endif()
  endforeach()

  # Only the scratch prefix may satisfy find_package: no user or system
  # package registry entry may stand in for it.
  list(APPEND consumer_args
       "-DCMAKE_PREFIX_PATH=${prefix}"
       -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
       -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
else()
  list(APPEND consumer_args "-DCLR_SOURCE_DIR=${CLR_SOURCE_DIR}")
endif()

set(consumer_build "${WORK_DIR}/consumer-build")
run("configure consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${consumer_build}"
    ${common_args} ${consumer_args})

if(MODE STREQUAL "find_package")
  file(STRINGS "${consumer_build}/CMakeCache.txt" clr_dir_line REGEX "^clr_DIR:")
  string(REGEX REPLACE "^clr_DIR:[A-Z]+=" "" clr_dir "${clr_dir_line}")
  file(REAL_PATH "${prefix}" real_prefix)
  file(REAL_PATH "${clr_dir}" real_clr_dir)
  string(FIND "${real_clr_dir}/" "${real_prefix}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "the consumer found clr in '${clr_dir}', not in the scratch prefix ${prefix}")
  endif()
endif()

run("build consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" --config ${BUILD_TYPE})
run("run consumer" "${CMAKE_CTEST_COMMAND}" --test-dir "${consumer_build}" -C ${BUILD_TYPE}
    --output-on-failure --no-tests=error)

# expect_missing_dependency(COMPONENT SWITCH DEPENDENCY PATTERN): configuring
# the consumer with SWITCH on asks for COMPONENT, whose DEPENDENCY is hidden;
# that must fail, with a message matching PATTERN that says what is missing.
function(expect_missing_dependency component switch dependency pattern)
  set(dir "${WORK_DIR}/consumer-${component}-without-${dependency}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${dir}"
                    ${common_args} ${consumer_args} -D${switch}=ON
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc EQUAL 0)
    message(FATAL_ERROR "find_package(clr COMPONENTS ${component}) succeeded with ${dependency} hidden:\n${out}")
  endif()
  string(REGEX REPLACE "[ \t\r\n]+" " " flat "${out}")
  if(NOT flat MATCHES "${pattern}")
    message(FATAL_ERROR "find_package(clr COMPONENTS ${component}) without ${dependency} failed without saying "
                        "${dependency} is what is missing:\n${out}")
  endif()
  message(STATUS "without ${dependency}, COMPONENTS ${component} fails and names ${dependency}, as it should")
endfunction()

if(MODE STREQUAL "find_package" AND COMPONENT STREQUAL "schedules")
  # The same package without the optional parts' dependencies.
  expect_missing_dependency(optim CLR_CONSUMER_OPTIM Eigen "optim component .*needs Eigen 3\\.4")
  expect_missing_dependency(torch CLR_CONSUMER_TORCH libtorch "torch component .*needs libtorch")
endif()

message(STATUS "${COMPONENT} consumer built and ran via ${MODE}")
