"""Conan 2 recipe for livefit, a header-only C++20 library (Eigen 3.4 is its dependency).

livefit is not on ConanCenter yet; create the package from this source tree with
`conan create .` and require "livefit/0.1.0". The recipe installs the headers through
livefit's own CMake install rules; as Conan recipes do, it then leaves the CMake and
pkg-config files to Conan's generators (CMakeDeps gives find_package(livefit) and the target
livefit::livefit, PkgConfigDeps gives livefit.pc).
"""
from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir
import os
import re


class LivefitConan(ConanFile):
    name = "livefit"
    description = ("Online model updating and continuous deployment of models inside the "
                   "host process (header-only C++20)")
    license = "Apache-2.0"
    homepage = "https://github.com/livefit/livefit"
    url = "https://github.com/livefit/livefit"
    topics = ("online-learning", "recursive-least-squares", "model-deployment", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = ("CMakeLists.txt", "LICENSE", "README.md", "cmake/*", "docs/Doxyfile.in",
                       "include/*")
    no_copy_source = True

    def set_version(self):
        # The version lives in one place, the header (as CMakeLists.txt reads it too).
        text = load(self, os.path.join(self.recipe_folder, "include", "livefit", "core",
                                       "version.hpp"))
        parts = [re.search(rf"#define LIVEFIT_VERSION_{p} (\d+)", text).group(1)
                 for p in ("MAJOR", "MINOR", "PATCH")]
        self.version = ".".join(parts)

    def requirements(self):
        self.requires("eigen/3.4.0")

    def layout(self):
        cmake_layout(self)

    def package_id(self):
        # Header-only: one package serves every setting.
        self.info.clear()

    def generate(self):
        CMakeDeps(self).generate()
        toolchain = CMakeToolchain(self)
        for option in ("TESTS", "BENCHMARKS", "EXAMPLES", "DOCS"):
            toolchain.cache_variables[f"LIVEFIT_BUILD_{option}"] = False
        toolchain.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()

    def package(self):
        cmake = CMake(self)
        cmake.install()
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        for generated in ("doc", "cmake", "pkgconfig"):
            rmdir(self, os.path.join(self.package_folder, "share", generated))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "livefit")
        self.cpp_info.set_property("cmake_target_name", "livefit::livefit")
        self.cpp_info.set_property("pkg_config_name", "livefit")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.requires = ["eigen::eigen"]
