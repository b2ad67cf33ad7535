# Builds the .deb the way a packager would and uses it the way its users would:
#   1. configures this source tree with everything optional off and Eigen
#      hidden, and runs `cpack -G DEB` there;
#   2. checks the package's control fields (name, version, Architecture: all,
#      Eigen recommended, not depended on) and unpacks it with `dpkg-deb -x`
#      into a scratch root;
#   3. builds and runs tests/consumer against that root with find_package
#      (CMAKE_PREFIX_PATH=<root>/usr): the schedules alone with Eigen hidden,
#      then COMPONENTS optim;
#   4. compiles and runs the same programs with the flags of
#      `pkg-config --cflags clr` and `clr-optim`, PKG_CONFIG_PATH pointing into
#      the root.
# dpkg-deb and pkg-config are needed: without them the check says
# "SKIPPED (missing input): ..." (which ctest reports as a skip), or fails if
# REQUIRE_ALL is ON.
#
# Usage: cmake -D CLR_SOURCE_DIR=... -D CONSUMER_DIR=... -D WORK_DIR=...
#              -D EXPECTED_VERSION=... -D CPACK_COMMAND=...
#              [-D GENERATOR=...] [-D CXX_COMPILER=...] [-D BUILD_TYPE=...]
#              [-D REQUIRE_ALL=ON|OFF]
#              -P clrCheckDeb.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS CLR_SOURCE_DIR CONSUMER_DIR WORK_DIR EXPECTED_VERSION CPACK_COMMAND)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "clrCheckDeb: -D ${var}=... is required")
  endif()
endforeach()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()

# Each tool with the Debian package that has it.
foreach(tool_package IN ITEMS "dpkg-deb:dpkg" "pkg-config:pkg-config")
  string(REPLACE ":" ";" tool_package "${tool_package}")
  list(GET tool_package 0 tool)
  list(GET tool_package 1 package)
  string(MAKE_C_IDENTIFIER "${tool}" id)
  find_program(${id}_program ${tool})
  if(NOT ${id}_program)
    if(REQUIRE_ALL)
      message(FATAL_ERROR "${tool} is missing, and CLR_TESTS_REQUIRE_ALL is ON: "
                          "install it (Debian: apt-get install ${package})")
    endif()
    message(NOTICE "SKIPPED (missing input): ${tool} not found; the .deb and pkg-config check needs it "
                   "(Debian: apt-get install ${package})")
    return()
  endif()
endforeach()
set(dpkg_deb "${dpkg_deb_program}")
set(pkg_config "${pkg_config_program}")

include("${CMAKE_CURRENT_LIST_DIR}/clrChildBuild.cmake")
clr_child_build_args(common_args)
if(NOT CXX_COMPILER)
  set(CXX_COMPILER c++)
endif()
set(no_eigen -DCMAKE_DISABLE_FIND_PACKAGE_Eigen3=ON)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# ---- 1. the package ---------------------------------------------------------------

set(clr_build "${WORK_DIR}/clr-build")
run("configure clr" "${CMAKE_COMMAND}" -S "${CLR_SOURCE_DIR}" -B "${clr_build}" ${common_args}
    -DCLR_BUILD_TESTS=OFF -DCLR_BUILD_EXAMPLES=OFF -DCLR_BUILD_BENCHMARKS=OFF ${no_eigen})
run("cpack" "${CPACK_COMMAND}" -G DEB --config "${clr_build}/CPackConfig.cmake" -B "${WORK_DIR}/packages")
file(GLOB debs "${WORK_DIR}/packages/*.deb")
list(LENGTH debs n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "cpack -G DEB made ${n} .deb files in ${WORK_DIR}/packages, not one: '${debs}'")
endif()
get_filename_component(deb_name "${debs}" NAME)
if(NOT deb_name STREQUAL "libclr-dev_${EXPECTED_VERSION}_all.deb")
  message(FATAL_ERROR "the package is ${deb_name}, expected libclr-dev_${EXPECTED_VERSION}_all.deb")
endif()

# ---- 2. its control fields and files ----------------------------------------------

function(control_field field expected)
  run("read ${field}" "${dpkg_deb}" --field "${debs}" ${field})
  string(STRIP "${run_output}" value)
  if(NOT value STREQUAL expected)
    message(FATAL_ERROR "the .deb's ${field} is '${value}', expected '${expected}'")
  endif()
endfunction()
control_field(Package libclr-dev)
control_field(Version "${EXPECTED_VERSION}")
control_field(Architecture all)
control_field(Recommends "libeigen3-dev (>= 3.4)")
# The schedules need nothing: no hard dependency may pull Eigen in.
control_field(Depends "")
run("read Maintainer" "${dpkg_deb}" --field "${debs}" Maintainer)
if(NOT run_output MATCHES "<.+@.+>")
  message(FATAL_ERROR "the .deb's Maintainer field has no address: '${run_output}'")
endif()

set(root "${WORK_DIR}/root")
run("unpack" "${dpkg_deb}" -x "${debs}" "${root}")
foreach(file IN ITEMS
        include/clr/clr.hpp include/clr/version.hpp include/clr/optim/sgd.hpp
        share/cmake/clr/clrConfig.cmake share/cmake/clr/clrConfigVersion.cmake
        share/cmake/clr/clrTargets.cmake share/cmake/clr/clrOptimTargets.cmake
        share/pkgconfig/clr.pc share/pkgconfig/clr-optim.pc share/doc/clr/LICENSE)
  if(NOT EXISTS "${root}/usr/${file}")
    message(FATAL_ERROR "the .deb has no /usr/${file}")
  endif()
endforeach()
# Headers, package files and docs only: nothing for one architecture.
file(GLOB_RECURSE unpacked RELATIVE "${root}" "${root}/*")
foreach(file IN LISTS unpacked)
  if(NOT file MATCHES "^usr/(include/clr/.*\\.hpp|share/(cmake/clr|pkgconfig|doc/clr)/[^/]+)$")
    message(FATAL_ERROR "the .deb holds an unexpected file: /${file}")
  endif()
endforeach()

# ---- 3. CMake consumers of the unpacked root ---------------------------------------

foreach(component IN ITEMS schedules optim)
  set(build "${WORK_DIR}/consumer-${component}")
  set(args -DCLR_CONSUMER_MODE=find_package "-DCLR_CONSUMER_EXPECTED_VERSION=${EXPECTED_VERSION}"
      "-DCMAKE_PREFIX_PATH=${root}/usr"
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
  if(component STREQUAL "optim")
    list(APPEND args -DCLR_CONSUMER_OPTIM=ON)
  else()
    list(APPEND args -DCLR_CONSUMER_OPTIM=OFF ${no_eigen})
  endif()
  run("configure ${component} consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${build}" ${common_args} ${args})
  file(STRINGS "${build}/CMakeCache.txt" clr_dir_line REGEX "^clr_DIR:")
  string(REGEX REPLACE "^clr_DIR:[A-Z]+=" "" clr_dir "${clr_dir_line}")
  file(REAL_PATH "${clr_dir}" real_clr_dir)
  file(REAL_PATH "${root}/usr/share/cmake/clr" real_expected_dir)
  if(NOT real_clr_dir STREQUAL real_expected_dir)
    message(FATAL_ERROR "the ${component} consumer found clr in '${clr_dir}', not in the unpacked .deb under ${root}")
  endif()
  run("build ${component} consumer" "${CMAKE_COMMAND}" --build "${build}" --config ${BUILD_TYPE})
  run("run ${component} consumer" "${CMAKE_CTEST_COMMAND}" --test-dir "${build}" -C ${BUILD_TYPE}
      --output-on-failure --no-tests=error)
endforeach()

# ---- 4. pkg-config consumers of the unpacked root ----------------------------------

set(ENV{PKG_CONFIG_PATH} "${root}/usr/share/pkgconfig")
run("pkg-config version" "${pkg_config}" --modversion clr)
string(STRIP "${run_output}" pc_version)
if(NOT pc_version STREQUAL EXPECTED_VERSION)
  message(FATAL_ERROR "pkg-config --modversion clr says '${pc_version}', expected '${EXPECTED_VERSION}'")
endif()

file(REAL_PATH "${root}/usr/include" real_include)
foreach(component IN ITEMS schedules optim)
  if(component STREQUAL "optim")
    set(module clr-optim)
    set(source optim.cpp)
    set(defines "")
  else()
    set(module clr)
    set(source main.cpp)
    # main.cpp then refuses to compile if Eigen is reachable: clr.pc must not need it.
    set(defines -DCLR_CONSUMER_NO_EIGEN)
  endif()
  run("pkg-config ${module}" "${pkg_config}" --cflags ${module})
  string(STRIP "${run_output}" cflags)
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  # The include path must lead into the unpacked root, whatever its spelling.
  # Other directories (Eigen's) become -isystem: their warnings are not clr's.
  set(into_root FALSE)
  set(flags "")
  foreach(flag IN LISTS cflags)
    if(flag MATCHES "^-I(.+)$")
      set(given "${CMAKE_MATCH_1}")
      file(REAL_PATH "${given}" dir)
      if(dir STREQUAL real_include)
        set(into_root TRUE)
      else()
        set(flag -isystem "${given}")
      endif()
    endif()
    list(APPEND flags ${flag})
  endforeach()
  if(NOT into_root)
    message(FATAL_ERROR "pkg-config --cflags ${module} gives '${cflags}', with no -I to ${root}/usr/include")
  endif()
  if(module STREQUAL "clr-optim" AND NOT cflags MATCHES "eigen3")
    message(FATAL_ERROR "pkg-config --cflags clr-optim gives '${cflags}', without Eigen's include directory")
  endif()
  set(exe "${WORK_DIR}/pkg-config-${component}")
  run("compile ${component} with pkg-config" "${CXX_COMPILER}" -std=c++17 -O2 -Wall -Wextra -Wpedantic -Werror
      ${flags} ${defines} "-DCLR_CONSUMER_EXPECTED_VERSION=\"${EXPECTED_VERSION}\""
      "-DCLR_CONSUMER_PACKAGE_VERSION=\"${pc_version}\"" "${CONSUMER_DIR}/${source}" -o "${exe}")
  run("run ${component}" "${exe}")
  message(STATUS "${run_output}")
endforeach()

message(STATUS "libclr-dev ${EXPECTED_VERSION}: packaged, unpacked, and used through CMake and pkg-config")
