# cmake -DBUILD_DIR=<tree> -DTARGET=<target> [-DCONFIG=<cfg>] [-DRUN=<program>] -P this
# Builds one target of an existing build tree and, if RUN is given, runs the program; the
# compiler's or the program's output is shown and any failure fails the test.
cmake_minimum_required(VERSION 3.21)
foreach(var BUILD_DIR TARGET)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "build_and_run.cmake: ${var} is not set")
  endif()
endforeach()
set(config_args)
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET} ${config_args}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building ${TARGET} failed (${rc}): see the compiler output above")
endif()
if(RUN)
  execute_process(COMMAND ${RUN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${RUN} failed: ${rc}")
  endif()
endif()
