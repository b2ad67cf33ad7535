include_guard(GLOBAL)

# Warnings are errors for the project's own executables only: clr::clr must
# never push flags onto the targets of the projects that consume it.
function(clr_target_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /WX /permissive-)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  endif()
endfunction()
