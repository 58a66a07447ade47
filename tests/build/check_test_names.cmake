# Fails when a Catch2 test name contains ';'. CTest's test discovery splits names at ';', so
# such a case is registered as fragments that match no test and silently never runs.
# Usage: cmake -DEXE=<test program> -DCATCH_V3=<ON|OFF> -P check_test_names.cmake
if(CATCH_V3)
  set(list_args --list-tests --verbosity quiet)
else()
  set(list_args --list-test-names-only)
endif()
execute_process(COMMAND ${EXE} ${list_args} OUTPUT_VARIABLE names RESULT_VARIABLE rc)
# Catch2 v2 exits with the number of tests listed; only a crash (no output) is an error.
if(names STREQUAL "")
  message(FATAL_ERROR "${EXE} listed no tests (exit ${rc})")
endif()
string(FIND "${names}" ";" at)
if(NOT at EQUAL -1)
  string(REPLACE ";" "<;>" shown "${names}")
  message(FATAL_ERROR "test names must not contain ';' (CTest splits them there):\n${shown}")
endif()
