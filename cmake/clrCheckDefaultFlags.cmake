# Configures a fresh copy of the build the way a user would (no options at
# all) and checks what reaches the compiler: warnings on for every target of
# the project's own, and never as errors, so that no user's build can fail on a
# warning from a compiler or CPU that CI did not try.
# Usage: cmake -D CLR_SOURCE_DIR=... -D WORK_DIR=... [-D GENERATOR=...]
#              [-D CXX_COMPILER=...] -P clrCheckDefaultFlags.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS CLR_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "clrCheckDefaultFlags: -D ${var}=... is required")
  endif()
endforeach()

# No BUILD_TYPE: a user's configure chooses none.
include("${CMAKE_CURRENT_LIST_DIR}/clrChildBuild.cmake")
clr_child_build_args(child_args)
file(REMOVE_RECURSE "${WORK_DIR}")
run("a default configure of ${CLR_SOURCE_DIR}" "${CMAKE_COMMAND}" -S "${CLR_SOURCE_DIR}" -B "${WORK_DIR}"
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON ${child_args})

file(STRINGS "${WORK_DIR}/CMakeCache.txt" werror REGEX "^CLR_WERROR:")
if(NOT werror MATCHES "=OFF$")
  message(FATAL_ERROR "CLR_WERROR is not OFF in a default configure: '${werror}'")
endif()

file(READ "${WORK_DIR}/compile_commands.json" commands)
string(JSON n LENGTH "${commands}")
if(n EQUAL 0)
  message(FATAL_ERROR "a default configure compiles nothing: tests and examples should be on")
endif()
math(EXPR last "${n} - 1")
set(ours 0)
foreach(i RANGE ${last})
  string(JSON file GET "${commands}" ${i} file)
  string(JSON command GET "${commands}" ${i} command)
  if(command MATCHES "(^| )(-Werror|/WX)( |=|$)")
    message(FATAL_ERROR "a default build treats warnings as errors in ${file}:\n${command}")
  endif()
  if(NOT command MATCHES "(^| )(-Wall|/W4)( |$)")
    message(FATAL_ERROR "a default build compiles ${file} without warnings on:\n${command}")
  endif()
  math(EXPR ours "${ours} + 1")
endforeach()
message(STATUS "${ours} translation units: warnings on, none as errors")
