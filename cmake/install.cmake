# `cmake --install` gives a package that other projects use with find_package(convgen):
# the runtime (convgen::runtime), the layer language (convgen::dsl), the shared Halide
# runtime, the generator that convgen_add_kernel() runs at their build time, the `convgen`
# command-line program, the headers, and convgen.cmake itself.
include(CMakePackageConfigHelpers)

set(CONVGEN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/convgen"
    CACHE STRING "Where the installed package's CMake files go, under the prefix")

install(TARGETS convgen_dsl convgen_runtime_core convgen_runtime convgen_halide_runtime convgen_generator
        EXPORT convgenTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
# The CLI as convgen::cli too: convgen_add_kernel's build-time tuning runs it.
set_target_properties(convgen PROPERTIES EXPORT_NAME cli)
install(TARGETS convgen EXPORT convgenTargets RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(DIRECTORY dsl/include/ runtime/include/ DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT convgenTargets NAMESPACE convgen:: DESTINATION "${CONVGEN_INSTALL_CMAKEDIR}")

configure_package_config_file(cmake/convgenConfig.cmake.in "${PROJECT_BINARY_DIR}/convgenConfig.cmake"
                              INSTALL_DESTINATION "${CONVGEN_INSTALL_CMAKEDIR}")
# 0.x: a minor version may change the API, so only the same major.minor is compatible.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/convgenConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/convgenConfig.cmake" "${PROJECT_BINARY_DIR}/convgenConfigVersion.cmake"
              cmake/convgen.cmake cmake/kernel.h.in cmake/kernel.cpp.in
        DESTINATION "${CONVGEN_INSTALL_CMAKEDIR}")
