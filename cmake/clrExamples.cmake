include_guard(GLOBAL)
include(clrWarnings)
include(CheckCXXCompilerFlag)

# The examples train and plot for real, so a Release build should use every
# instruction the build machine has; that makes the binaries unportable, which
# is acceptable for examples and never done for the library's consumers.
check_cxx_compiler_flag(-march=native CLR_HAVE_MARCH_NATIVE)

function(clr_example_flags target)
  clr_target_warnings(${target})
  if(NOT MSVC)
    target_compile_options(${target} PRIVATE "$<$<CONFIG:Release>:-O3>")
    if(CLR_HAVE_MARCH_NATIVE)
      target_compile_options(${target} PRIVATE "$<$<CONFIG:Release>:-march=native>")
    endif()
  endif()
endfunction()
