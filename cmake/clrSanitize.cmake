include_guard(GLOBAL)

# CLR_SANITIZE=ON builds the project's own tests, examples and benchmarks with
# AddressSanitizer (leaks included) and UndefinedBehaviorSanitizer, and makes
# the first report fatal so that ctest sees it as a failure. scripts/sanitize.sh
# is the usual way in.
#
# The flags go on this directory and below only: clr::clr is an INTERFACE
# target and never carries them to a consumer, and the child builds of the
# packaging tests configure from scratch, so they are built without them.
option(CLR_SANITIZE "Build tests, examples and benchmarks with ASan and UBSan" OFF)

if(CLR_SANITIZE)
  if(MSVC)
    message(FATAL_ERROR "CLR_SANITIZE=ON needs GCC or Clang (-fsanitize=address,undefined)")
  endif()

  set(clr_sanitize_flags
    -fsanitize=address,undefined
    -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  add_compile_options(${clr_sanitize_flags})
  add_link_options(${clr_sanitize_flags})

  # GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex>
  # (reached through Catch2's runner) when the sanitizers' instrumentation is
  # optimised (-O1 and up: a RelWithDebInfo build, or -O in CMAKE_CXX_FLAGS),
  # and clr_target_warnings() makes it an error. An explicit -Wno- wins over
  # -Wall whatever the order, and only this build loses the warning: the
  # ordinary builds keep it.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()

  # Rewritten on every configure, so scripts/sanitize.sh can tell that this
  # configure took the option up (a cache entry alone could be a stale one).
  list(JOIN clr_sanitize_flags " " clr_sanitize_shown)
  file(WRITE "${PROJECT_BINARY_DIR}/clr-sanitize-flags.txt" "${clr_sanitize_shown}\n")
endif()
