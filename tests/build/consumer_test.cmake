# cmake -DMODE=find_package|add_subdirectory|pkg_config -DBUILD_DIR=... -DSOURCE_DIR=...
#       -DWORK_DIR=... -DGENERATOR=... -DMAKE_PROGRAM=... -DCXX_COMPILER=...
#       -DEXPECTED_VERSION=... [-DEIGEN3_DIR=...] [-DPKG_CONFIG=...] -P this
# Builds and runs tests/consumer/common/consumer.cpp the way a user's project would:
#   find_package:     install livefit into WORK_DIR/prefix, then find_package(livefit CONFIG)
#   add_subdirectory: add the source tree to a consumer project
#   pkg_config:       install, then compile with the flags of `pkg-config --cflags livefit`
# WORK_DIR is emptied first: each run starts from nothing, as a user's machine would.
cmake_minimum_required(VERSION 3.21)
foreach(var MODE BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER EXPECTED_VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "consumer_test.cmake: ${var} is not set")
  endif()
endforeach()
set(consumers ${SOURCE_DIR}/tests/consumer)
set(prefix ${WORK_DIR}/prefix)
set(program ${WORK_DIR}/bin/consumer${EXE_SUFFIX})
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/bin)

# Runs a command, echoing it; stops the test with its output when it fails.
function(step what)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "${what}: ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg_config")
  step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component livefit)
endif()

if(MODE STREQUAL "pkg_config")
  if(NOT PKG_CONFIG)
    message(FATAL_ERROR "pkg-config not found (apt-get install pkg-config)")
  endif()
  # Our prefix first; Eigen's eigen3.pc comes from the system search path.
  set(ENV{PKG_CONFIG_PATH} "${prefix}/share/pkgconfig:$ENV{PKG_CONFIG_PATH}")
  step("pkg-config version" ${PKG_CONFIG} --modversion livefit)
  string(STRIP "${step_output}" version)
  if(NOT version STREQUAL EXPECTED_VERSION)
    message(FATAL_ERROR "pkg-config reports livefit ${version}, expected ${EXPECTED_VERSION}")
  endif()
  step("pkg-config flags" ${PKG_CONFIG} --cflags livefit)
  string(STRIP "${step_output}" cflags)
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  # The include directory must be the installed copy (the .pc file is relocatable, so it
  # names it relative to its own place), not the source tree.
  cmake_path(SET wanted NORMALIZE "${prefix}/include")
  set(found FALSE)
  foreach(flag ${cflags})
    if(flag MATCHES "^-I(.+)$")
      cmake_path(SET dir NORMALIZE "${CMAKE_MATCH_1}")
      if(dir STREQUAL wanted)
        set(found TRUE)
      endif()
    endif()
  endforeach()
  if(NOT found)
    message(FATAL_ERROR "pkg-config flags do not name ${wanted}: ${cflags}")
  endif()
  step("compile" ${CXX_COMPILER} ${cflags} -Wall -Wextra -Werror
    "-DLIVEFIT_EXPECTED_VERSION=\"${version}\"" ${consumers}/common/consumer.cpp -o ${program})
else()
  set(project_dir ${consumers}/${MODE})
  set(configure_args -S ${project_dir} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DLIVEFIT_EXPECTED_VERSION=${EXPECTED_VERSION}
    "-DCMAKE_RUNTIME_OUTPUT_DIRECTORY=${WORK_DIR}/bin$<0:>")
  if(MAKE_PROGRAM)
    list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
  endif()
  if(EIGEN3_DIR)
    # The Eigen the main build found, wherever it came from (system, vcpkg, Conan).
    list(APPEND configure_args -DEigen3_DIR=${EIGEN3_DIR})
  endif()
  if(MODE STREQUAL "find_package")
    list(APPEND configure_args -DCMAKE_PREFIX_PATH=${prefix})
  else()
    list(APPEND configure_args -DLIVEFIT_SOURCE_DIR=${SOURCE_DIR})
  endif()
  step("configure" ${CMAKE_COMMAND} ${configure_args})
  step("build" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
endif()

step("run" ${program})
message(STATUS "${step_output}")
