# Runs the generator the way convgen_add_kernel() does with an invalid SPEC (or SCHEDULE)
# and checks that the build step would fail with the DSL's message and write nothing.
#   cmake -DGENERATOR=... -DSPEC=... [-DSCHEDULE=knobs] -DTARGET=... -DEXPECT=... -DOUT=...
#         -P expect_generator_refuses.cmake
string(REPLACE "%" "%25" encoded "${SPEC}")
string(REPLACE "=" "%3D" encoded "${encoded}")
set(params "spec=${encoded}")
if (SCHEDULE)
    string(REPLACE "=" "%3D" schedule "${SCHEDULE}")
    list(APPEND params "schedule=${schedule}")
endif ()
file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")
execute_process(COMMAND "${GENERATOR}" -g convgen_conv -f refused -e static_library,c_header -o "${OUT}"
                        target=${TARGET} ${params}
                RESULT_VARIABLE status ERROR_VARIABLE stderr OUTPUT_VARIABLE stdout)
file(GLOB written "${OUT}/*")
file(REMOVE_RECURSE "${OUT}")
if (status EQUAL 0)
    message(FATAL_ERROR "the generator accepted the invalid SPEC \"${SPEC}\"")
endif ()
string(FIND "${stderr}" "${EXPECT}" at)
if (at EQUAL -1)
    message(FATAL_ERROR "expected \"${EXPECT}\" in the generator's message, got:\n${stderr}")
endif ()
if (written)
    message(FATAL_ERROR "the generator wrote files for an invalid SPEC: ${written}")
endif ()
message(STATUS "refused as expected: ${stderr}")
