# Compiles every ```cpp block of README.md, so the README's code cannot drift
# from the library:
#   - a block with an `int main` is a whole program: compiled, linked and run,
#     and it must exit 0;
#   - any other block is a fragment: compiled (not run) as the body of a
#     function, in a translation unit that includes <clr/clr.hpp>, the
#     optimizers and <Eigen/Core> and then PRELUDE (tests/readme_prelude.hpp),
#     which declares the names a fragment may take from the reader's own
#     program (their parameters W and dW, a train_one_batch function, ...).
#     Fragments may leave a variable unused; every other warning applies.
# A block containing "..." is pseudo-code and cannot compile. Each one is
# reported; more than MAX_PSEUDO_CODE of them (default 0) fails the check.
# A missing README fails too.
# A block that includes <clr/torch.hpp> needs libtorch: it is compiled (and,
# as a program, linked and run) with TORCH_INCLUDE_DIRS and TORCH_LIBRARIES
# (each a list joined with '|'); without them it is reported as skipped, and
# with REQUIRE_ALL=ON that fails the check.
#
# Usage: cmake -D README=... -D INCLUDE_DIR=... -D WORK_DIR=... -D CXX_COMPILER=...
#              [-D PRELUDE=.../readme_prelude.hpp] [-D WERROR=ON|OFF]
#              [-D CXX_STANDARD_FLAG=-std=c++17] [-D SYSTEM_INCLUDE_DIRS=a;b]
#              [-D MAX_PSEUDO_CODE=0] [-D REQUIRE_ALL=ON|OFF]
#              [-D TORCH_INCLUDE_DIRS=a|b -D TORCH_LIBRARIES=liba.so|libb.so]
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
if(NOT DEFINED MAX_PSEUDO_CODE OR "${MAX_PSEUDO_CODE}" STREQUAL "")
  set(MAX_PSEUDO_CODE 0)
endif()
if(NOT PRELUDE)
  get_filename_component(PRELUDE "${CMAKE_CURRENT_LIST_DIR}/../tests/readme_prelude.hpp" ABSOLUTE)
endif()
if(NOT EXISTS "${PRELUDE}")
  message(FATAL_ERROR "clrCheckReadme: the fragment prelude ${PRELUDE} does not exist")
endif()

if(NOT EXISTS "${README}")
  message(FATAL_ERROR "clrCheckReadme: ${README} does not exist: there is nothing to check, "
                      "and a project without its README is not one this test passes")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(flags ${CXX_STANDARD_FLAG} -O2 -Wall -Wextra -Wpedantic "-I${INCLUDE_DIR}")
if(WERROR)
  list(APPEND flags -Werror)
endif()
foreach(dir IN LISTS SYSTEM_INCLUDE_DIRS)
  list(APPEND flags -isystem "${dir}")
endforeach()

string(REPLACE "|" ";" torch_include_dirs "${TORCH_INCLUDE_DIRS}")
string(REPLACE "|" ";" torch_libraries "${TORCH_LIBRARIES}")
set(torch_compile_flags "")
foreach(dir IN LISTS torch_include_dirs)
  list(APPEND torch_compile_flags -isystem "${dir}")
endforeach()
set(torch_skipped 0)

# The text is walked with string(FIND) rather than split into a list of lines
# because C++ is full of ';' and '[', which CMake lists would mangle. A leading
# newline lets a fence on the first line match "\n```" like any other.
file(READ "${README}" text)
string(REPLACE "\r\n" "\n" text "${text}")
set(text "\n${text}")
set(pos 0)
set(blocks 0)
set(programs 0)
set(fragments 0)
set(pseudo 0)
set(pseudo_lines "")
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
  math(EXPR first_body_line "${block_line} + 1")

  if(body MATCHES "\\.\\.\\.")
    math(EXPR pseudo "${pseudo} + 1")
    list(APPEND pseudo_lines "${block_line}")
    message(STATUS "README.md:${block_line}: pseudo-code (it contains \"...\"): cannot be compiled")
    continue()
  endif()

  set(block_flags ${flags})
  set(block_libraries "")
  if(body MATCHES "#include <clr/torch\\.hpp>")
    if(NOT torch_libraries)
      if(REQUIRE_ALL)
        message(FATAL_ERROR "README.md:${block_line}: the ```cpp block needs libtorch, which this check "
                            "was not given (TORCH_LIBRARIES), and REQUIRE_ALL is ON")
      endif()
      math(EXPR torch_skipped "${torch_skipped} + 1")
      message(STATUS "README.md:${block_line}: needs libtorch, which this build lacks: skipped")
      continue()
    endif()
    list(APPEND block_flags ${torch_compile_flags})
    set(block_libraries ${torch_libraries})
  endif()

  set(src "${WORK_DIR}/readme_${block_line}.cpp")
  set(exe "${WORK_DIR}/readme_${block_line}")
  if(body MATCHES "int[ \t\n]+main[ \t\n]*\\(")
    math(EXPR programs "${programs} + 1")
    file(WRITE "${src}" "#line ${first_body_line} \"README.md\"\n${body}\n")
    message(STATUS "README.md:${block_line}: compiling a program")
    execute_process(COMMAND "${CXX_COMPILER}" ${block_flags} "${src}" -o "${exe}" ${block_libraries}
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
  else()
    math(EXPR fragments "${fragments} + 1")
    file(WRITE "${src}"
      "// README.md:${block_line}, a fragment, as clrCheckReadme.cmake compiles it.\n"
      "#include <clr/clr.hpp>\n#include <clr/optim/adam.hpp>\n#include <clr/optim/sgd.hpp>\n"
      "#include <Eigen/Core>\n#include \"${PRELUDE}\"\n\n"
      "void readme_fragment_${block_line}();\nvoid readme_fragment_${block_line}() {\n"
      "#line ${first_body_line} \"README.md\"\n${body}\n}\n")
    message(STATUS "README.md:${block_line}: compiling a fragment")
    execute_process(COMMAND "${CXX_COMPILER}" ${block_flags} -Wno-unused-variable -Wno-unused-but-set-variable
                            -c "${src}" -o "${exe}.o"
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "README.md:${block_line}: the ```cpp fragment does not compile "
                          "(saved as ${src}, with the names of ${PRELUDE}):\n${out}")
    endif()
    message(STATUS "README.md:${block_line}: compiles")
  endif()
endwhile()

if(programs EQUAL 0)
  message(FATAL_ERROR "${README} has ${blocks} ```cpp block(s) but none with `int main`: "
                      "the README must show at least one complete program, and this test runs it")
endif()
if(pseudo GREATER MAX_PSEUDO_CODE)
  message(FATAL_ERROR "README.md: ${pseudo} ```cpp block(s) of pseudo-code (at line(s) ${pseudo_lines}), "
                      "at most ${MAX_PSEUDO_CODE} allowed: write them as C++ that compiles")
endif()
message(STATUS "${programs} README program(s) compiled and ran, ${fragments} fragment(s) compiled, "
               "${pseudo} pseudo-code block(s) not compiled, ${torch_skipped} block(s) needing libtorch skipped")
