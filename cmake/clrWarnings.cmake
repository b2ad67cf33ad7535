include_guard(GLOBAL)

# Warnings are on for every target of the project's own; they become errors
# only when asked (scripts/test.sh, and so CI, asks), because a user's build
# must never fail on a warning that a newer compiler, or an older one, invents.
# clr::clr itself never pushes flags onto the targets of its consumers.
option(CLR_WERROR "Treat warnings as errors in clr's own tests, examples and benchmarks" OFF)

function(clr_target_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive- $<$<BOOL:${CLR_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic $<$<BOOL:${CLR_WERROR}>:-Werror>)
  endif()
endfunction()

# GCC 12 (Debian 12's 12.2) warns -Wmaybe-uninitialized inside its own
# avx512fintrin.h wherever Eigen 3.4's AVX-512 kernels (its float sqrt, exp
# and GEMM packets) are inlined into our code: the _mm512_undefined_*
# intrinsics initialise a register from itself on purpose (GCC bug 105593,
# fixed in GCC 13). That one warning is silenced on the targets that compile
# Eigen code, and only for GCC before 13; every other warning stays, and the
# clang build keeps -Wuninitialized on them all.
function(clr_eigen_simd_warnings target)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
      target_compile_options(${target} INTERFACE -Wno-maybe-uninitialized)
    else()
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    endif()
  endif()
endfunction()
