# cmake/manpage.cmake - a man page from a program's own --help, at build time,
# so the page never disagrees with the program.
#
#   cmake -DPROGRAM=path/busmon -DIN=deploy/man/busmon.1.in -DOUT=man/busmon.1
#         [-DSUBCOMMANDS=ON] -P manpage.cmake
#
# IN is a roff template with hand-written sections (NAME, FILES, SEE ALSO...);
# @HELP@ is replaced by `PROGRAM --help` and @VERSION@ by the first line of
# `PROGRAM --version`. With SUBCOMMANDS, @COMMANDS@ gets `PROGRAM help CMD` for
# each command listed under "commands:" in --help.

function(run_help out)
  execute_process(COMMAND ${ARGN} OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "manpage.cmake: '${ARGN}' exited ${rc}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# roff-safe text, kept as lines with no filling: backslashes, '-' as a real
# minus (so options copy-paste), and lines that would start a request.
function(roff out text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  string(REGEX REPLACE "\n+$" "" text "${text}")
  set(${out} ".nf\n${text}\n.fi" PARENT_SCOPE)
endfunction()

run_help(version ${PROGRAM} --version)
string(REGEX MATCH "[0-9][0-9.]*[0-9A-Za-z~.+-]*" VERSION "${version}")
run_help(help_text ${PROGRAM} --help)
roff(HELP "${help_text}")

set(COMMANDS "")
if(SUBCOMMANDS)
  # the lines "  name  description" between "commands:" and the next blank line
  string(REGEX MATCH "commands:\n([^\n]+\n)+" block "${help_text}")
  string(REGEX MATCHALL "\n  [a-z]+" names "${block}")
  foreach(n IN LISTS names)
    string(STRIP "${n}" n)
    if(n STREQUAL "help")
      continue()
    endif()
    run_help(sub ${PROGRAM} help ${n})
    roff(sub "${sub}")
    string(APPEND COMMANDS ".SS ${n}\n${sub}\n")
  endforeach()
endif()

configure_file(${IN} ${OUT} @ONLY)
