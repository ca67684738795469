# Installs this build tree into a fresh prefix, then configures, builds and runs
# examples/downstream against it, as another project would.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P install_and_build_downstream.cmake
foreach (var IN ITEMS BUILD_DIR SOURCE_DIR WORK_DIR)
    if (NOT DEFINED ${var})
        message(FATAL_ERROR "install_and_build_downstream.cmake: -D${var}=... is required")
    endif ()
endforeach ()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(downstream_build "${WORK_DIR}/build")

# Runs a command; its output (both streams) ends up in `step_output`.
function(step description)
    message(STATUS "${description}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
    message("${output}")
    if (NOT result EQUAL 0)
        message(FATAL_ERROR "${description}: failed (${result})")
    endif ()
    set(step_output "${output}" PARENT_SCOPE)
endfunction()

step("Installing convgen into ${prefix}" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
step("Configuring examples/downstream against it"
     ${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/downstream" -B "${downstream_build}" -G Ninja
     -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
step("Building examples/downstream (its kernel is generated now)" ${CMAKE_COMMAND} --build "${downstream_build}")
# Its TUNING database has an entry for the AVX-512 variant only: the build says that the
# others keep the default schedule, and says nothing of the tuned one.
string(REGEX MATCHALL "no entry in [^\n]*tuning.txt for Conv2d\\(3, 8[^\n]* on ([a-z0-9_-]+): default schedule"
       defaults "${step_output}")
list(LENGTH defaults count)
if (NOT count EQUAL 3 OR step_output MATCHES "on x86-64-linux-avx-avx2-avx512")
    message(FATAL_ERROR "expected the build to name the 3 variants without a tuning entry, got: ${defaults}")
endif ()
step("Running it" "${downstream_build}/downstream")
