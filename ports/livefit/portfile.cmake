# vcpkg overlay port for livefit. livefit is not in the public vcpkg registry yet, so this
# port builds from the source tree it is part of (ports/livefit/ -> ../..):
#   vcpkg install livefit --overlay-ports=<livefit>/ports
# Once releases are tagged, vcpkg_from_github(REPO livefit/livefit REF v${VERSION} SHA512 ...)
# replaces the SOURCE_PATH line for a registry port.
set(VCPKG_BUILD_TYPE release)  # header-only: one configuration is all there is
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DLIVEFIT_BUILD_TESTS=OFF
    -DLIVEFIT_BUILD_BENCHMARKS=OFF
    -DLIVEFIT_BUILD_EXAMPLES=OFF
    -DLIVEFIT_BUILD_DOCS=OFF
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME livefit CONFIG_PATH share/cmake/livefit)
vcpkg_fixup_pkgconfig()

# The install puts the licence and README under share/doc/livefit; vcpkg wants the licence
# as share/livefit/copyright.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/share/doc" "${CURRENT_PACKAGES_DIR}/lib")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
