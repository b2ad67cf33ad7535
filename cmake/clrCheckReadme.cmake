# Compiles and runs every ```cpp block of README.md that has an `int main`, so
# the README's examples cannot drift from the library.
# Usage: cmake -D README=... -D INCLUDE_DIR=... -D WORK_DIR=... -D CXX_COMPILER=...
#              [-D CXX_STANDARD_FLAG=-std=c++17] [-D SYSTEM_INCLUDE_DIRS=a;b]
#              -P clrCheckReadme.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS README INCLUDE_DIR WORK_DIR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "clrCheckReadme: -D ${var}=... is required")
  endif()
endforeach()
if(NOT CXX_STANDARD_FLAG)
  set(CXX_STANDARD_FLAG -std=c++17)
endif()

if(NOT EXISTS "${README}")
  message(STATUS "no ${README} yet: nothing to check")
  return()
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(flags ${CXX_STANDARD_FLAG} -O2 -Wall -Wextra -Wpedantic -Werror "-I${INCLUDE_DIR}")
foreach(dir IN LISTS SYSTEM_INCLUDE_DIRS)
  list(APPEND flags -isystem "${dir}")
endforeach()

# The text is walked with string(FIND) rather than split into a list of lines
# because C++ is full of ';' and '[', which CMake lists would mangle. A leading
# newline lets a fence on the first line match "\n```" like any other.
file(READ "${README}" text)
string(REPLACE "\r\n" "\n" text "${text}")
set(text "\n${text}")
set(pos 0)
set(blocks 0)
set(checked 0)
while(TRUE)
  string(SUBSTRING "${text}" ${pos} -1 rest)
  string(FIND "${rest}" "\n```cpp" open)
  if(open EQUAL -1)
    break()
  endif()
  math(EXPR fence "${pos} + ${open} + 1")
  string(SUBSTRING "${text}" 0 ${fence} before)
  string(REGEX MATCHALL "\n" newlines "${before}")
  list(LENGTH newlines block_line)

  # The fence line must be exactly ```cpp, trailing blanks aside: ```cpp-foo is
  # some other language.
  math(EXPR info_start "${fence} + 6")
  string(SUBSTRING "${text}" ${info_start} -1 rest)
  string(FIND "${rest}" "\n" eol)
  if(eol EQUAL -1)
    break()
  endif()
  string(SUBSTRING "${rest}" 0 ${eol} info)
  if(NOT info MATCHES "^[ \t]*$")
    set(pos ${info_start})
    continue()
  endif()

  math(EXPR body_start "${info_start} + ${eol} + 1")
  string(SUBSTRING "${text}" ${body_start} -1 rest)
  string(FIND "\n${rest}" "\n```" close)
  if(close EQUAL -1)
    message(FATAL_ERROR "README.md:${block_line}: the ```cpp block is never closed")
  endif()
  if(close EQUAL 0)
    set(body "")
  else()
    math(EXPR body_length "${close} - 1")
    string(SUBSTRING "${rest}" 0 ${body_length} body)
  endif()
  math(EXPR pos "${body_start} + ${close} + 3")
  math(EXPR blocks "${blocks} + 1")

  if(NOT body MATCHES "int[ \t\n]+main[ \t\n]*\\(")
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  set(src "${WORK_DIR}/readme_${block_line}.cpp")
  set(exe "${WORK_DIR}/readme_${block_line}")
  file(WRITE "${src}" "${body}\n")

  message(STATUS "README.md:${block_line}: compiling")
  execute_process(COMMAND "${CXX_COMPILER}" ${flags} "${src}" -o "${exe}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "README.md:${block_line}: the ```cpp block does not compile "
                        "(saved as ${src}):\n${out}")
  endif()
  execute_process(COMMAND "${exe}" WORKING_DIRECTORY "${WORK_DIR}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out
                  TIMEOUT 120)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "README.md:${block_line}: the ```cpp block exits with '${rc}':\n${out}")
  endif()
  message(STATUS "README.md:${block_line}: ran, exit 0")
endwhile()

if(checked EQUAL 0)
  message(FATAL_ERROR "${README} has ${blocks} ```cpp block(s) but none with `int main`: "
                      "the README must show at least one complete program, and this test runs it")
endif()
message(STATUS "${checked} README program(s) compiled and ran")
