include_guard(GLOBAL)
include(clrWarnings)
include(CheckCXXCompilerFlag)

# The examples and benchmarks train and time for real, so a Release build uses
# every instruction of the CPU it is built on by default; that makes the
# binaries unportable, which is acceptable for examples and never done for the
# library's consumers. CLR_MARCH names another target CPU (scripts/test.sh
# builds for x86-64-v2 and x86-64-v4 to see what users' CPUs see), or is empty
# to leave -march to CMAKE_CXX_FLAGS.
check_cxx_compiler_flag(-march=native CLR_HAVE_MARCH_NATIVE)
if(CLR_HAVE_MARCH_NATIVE)
  set(clr_default_march native)
else()
  set(clr_default_march "")
endif()
set(CLR_MARCH "${clr_default_march}" CACHE STRING
    "-march for the Release builds of the examples and benchmarks (empty: none)")

function(clr_example_flags target)
  clr_target_warnings(${target})
  if(NOT MSVC)
    target_compile_options(${target} PRIVATE "$<$<CONFIG:Release>:-O3>")
    if(NOT CLR_MARCH STREQUAL "")
      target_compile_options(${target} PRIVATE "$<$<CONFIG:Release>:-march=${CLR_MARCH}>")
    endif()
  endif()
endfunction()
