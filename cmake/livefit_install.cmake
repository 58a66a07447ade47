# Install rules: headers, exported target livefit::livefit, package config with a
# SameMajorVersion version file, and a relocatable pkg-config file. Everything goes under
# ${CMAKE_INSTALL_DATADIR} (not lib/) because a header-only package is architecture-independent.
include(CMakePackageConfigHelpers)

# One component, "livefit", so that a build tree's own install step (the consumer tests) can
# install exactly the package and nothing that other targets may add.
install(TARGETS livefit EXPORT livefitTargets COMPONENT livefit)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/livefit
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT livefit)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/livefit COMPONENT livefit)

set(LIVEFIT_CMAKE_DIR ${CMAKE_INSTALL_DATADIR}/cmake/livefit)
install(EXPORT livefitTargets NAMESPACE livefit:: DESTINATION ${LIVEFIT_CMAKE_DIR}
  COMPONENT livefit)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/livefitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/livefitConfig.cmake INSTALL_DESTINATION ${LIVEFIT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/livefitConfigVersion.cmake
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/livefitConfig.cmake
  ${PROJECT_BINARY_DIR}/livefitConfigVersion.cmake DESTINATION ${LIVEFIT_CMAKE_DIR}
  COMPONENT livefit)

# The .pc file locates the prefix from its own directory, so `cmake --install --prefix X`
# (the consumer tests, vcpkg, Conan) gives a working file wherever X is.
set(LIVEFIT_PC_DIR ${CMAKE_INSTALL_DATADIR}/pkgconfig)
file(RELATIVE_PATH LIVEFIT_PC_TO_PREFIX /prefix/${LIVEFIT_PC_DIR} /prefix)
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(LIVEFIT_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(LIVEFIT_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/livefit.pc.in ${PROJECT_BINARY_DIR}/livefit.pc
  @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/livefit.pc DESTINATION ${LIVEFIT_PC_DIR}
  COMPONENT livefit)
