# What the checks that configure a child build of clr (cmake -P scripts:
# clrCheckConsumer, clrCheckDeb, clrCheckDefaultFlags) share. Include it after
# reading the script's -D variables.

# clr_child_build_args(<var>): the arguments that give a child build the
# generator, compiler and build type of the build that runs the check
# (-D GENERATOR, CXX_COMPILER and BUILD_TYPE; each only where given).
function(clr_child_build_args var)
  set(args "")
  if(BUILD_TYPE)
    list(APPEND args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
  endif()
  if(GENERATOR)
    list(APPEND args -G "${GENERATOR}")
  endif()
  if(CXX_COMPILER)
    list(APPEND args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
  endif()
  set(${var} ${args} PARENT_SCOPE)
endfunction()

# run(<what> <command>...): runs one command, echoing it, and stops the check
# with its output on failure; the standard output is left in `run_output`.
function(run what)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "${what}: ${shown}")
  execute_process(COMMAND ${ARGN}
                  RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (exit ${rc}):\n${out}${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()
