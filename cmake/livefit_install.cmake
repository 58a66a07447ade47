# Install rules: headers, exported target livefit::livefit, package config with a
# SameMajorVersion version file, and a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS livefit EXPORT livefitTargets)
install(DIRECTORY include/livefit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/livefit)

set(LIVEFIT_CMAKE_DIR ${CMAKE_INSTALL_DATADIR}/cmake/livefit)
install(EXPORT livefitTargets NAMESPACE livefit:: DESTINATION ${LIVEFIT_CMAKE_DIR})
configure_package_config_file(cmake/livefitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/livefitConfig.cmake INSTALL_DESTINATION ${LIVEFIT_CMAKE_DIR})
# Header-only: the package is usable from any architecture.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/livefitConfigVersion.cmake
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/livefitConfig.cmake
  ${PROJECT_BINARY_DIR}/livefitConfigVersion.cmake DESTINATION ${LIVEFIT_CMAKE_DIR})

configure_file(cmake/livefit.pc.in ${PROJECT_BINARY_DIR}/livefit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/livefit.pc DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)
