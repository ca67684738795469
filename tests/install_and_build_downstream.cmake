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

function(step description)
    message(STATUS "${description}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
    if (NOT result EQUAL 0)
        message(FATAL_ERROR "${description}: failed (${result})")
    endif ()
endfunction()

step("Installing convgen into ${prefix}" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
step("Configuring examples/downstream against it"
     ${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/downstream" -B "${downstream_build}" -G Ninja
     -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
step("Building examples/downstream (its kernel is generated now)" ${CMAKE_COMMAND} --build "${downstream_build}")
step("Running it" "${downstream_build}/downstream")
