# Installs this build tree into a fresh prefix, then configures, builds and runs
# examples/downstream against it, as another project would.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... [-DTUNE_MISSING=ON] -P install_and_build_downstream.cmake
# With TUNE_MISSING, a copy of the project is built with -DCONVGEN_TUNE_MISSING=ON (one
# second per layer and target): the build must tune the variants its database lacks,
# record them, and generate every variant from the database.
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
set(downstream_source "${SOURCE_DIR}/examples/downstream")
set(tuning_options)
if (TUNE_MISSING)
    # The build writes the database: work on a copy of the project.
    file(COPY "${downstream_source}" DESTINATION "${WORK_DIR}/source")
    set(downstream_source "${WORK_DIR}/source/downstream")
    set(tuning_options -DCONVGEN_TUNE_MISSING=ON -DCONVGEN_TUNE_BUDGET=1)
endif ()
step("Configuring examples/downstream against it"
     ${CMAKE_COMMAND} -S "${downstream_source}" -B "${downstream_build}" -G Ninja
     -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}" ${tuning_options})
step("Building examples/downstream (its kernel is generated now)" ${CMAKE_COMMAND} --build "${downstream_build}")
if (TUNE_MISSING)
    # The AVX-512 entry is kept; the three other variants are tuned here (or, on a CPU
    # that cannot run one, left to the default), before the generator reads the database.
    file(STRINGS "${downstream_source}/tuning.txt" entries REGEX "^Conv2d\\(3, 8")
    list(LENGTH entries count)
    if (NOT step_output MATCHES "is in [^\n]*tuning.txt" OR NOT step_output MATCHES "Tuning edge_features")
        message(FATAL_ERROR "expected the build to run `convgen tune --if-missing` for every variant")
    endif ()
    if (NOT count EQUAL 4 AND NOT step_output MATCHES "this CPU cannot run")
        message(FATAL_ERROR "expected 4 database entries after the build, got ${count}: ${entries}")
    endif ()
    if (step_output MATCHES "no entry in [^\n]*tuning.txt" AND NOT step_output MATCHES "this CPU cannot run")
        message(FATAL_ERROR "a variant was generated before its tuning was recorded")
    endif ()
    step("Running it" "${downstream_build}/downstream")
    return()
endif ()
# Its TUNING database has an entry for the AVX-512 variant only: the build says that the
# others keep the default schedule, and says nothing of the tuned one.
string(REGEX MATCHALL "no entry in [^\n]*tuning.txt for Conv2d\\(3, 8[^\n]* on ([a-z0-9_-]+): default schedule"
       defaults "${step_output}")
list(LENGTH defaults count)
if (NOT count EQUAL 3 OR step_output MATCHES "on x86-64-linux-avx-avx2-avx512")
    message(FATAL_ERROR "expected the build to name the 3 variants without a tuning entry, got: ${defaults}")
endif ()
step("Running it" "${downstream_build}/downstream")
