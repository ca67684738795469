# convgen_add_kernel(): a conv layer, written as PyTorch prints it, turned into a static
# library at build time.
#
#   convgen_add_kernel(stem
#       SPEC "Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False) -> ReLU()"
#       [TARGETS <halide target> ...]
#       [SCHEDULE "pixels=8,channel_tile=16"]      # schedule knobs: `convgen --help`
#       [TUNING tuning.txt]                         # a database `convgen tune` wrote
#       [TUNE_INPUT_SHAPE 1,3,224,224])             # what CONVGEN_TUNE_MISSING tunes for
#   target_link_libraries(app PRIVATE stem)
#
# creates the target `stem`: link it, then `#include "stem.h"` and call
# `convgen::kernels::stem()` for the kernel, or find it by name with
# `convgen::find_kernel("stem")`. By default one library holds AVX-512, AVX2, SSE4.1 and
# baseline x86-64 code and picks the best the CPU has at run time (on aarch64: NEON).
# TARGETS x86-64-linux-cuda-cuda_capability_80 or x86-64-linux-opencl make a GPU kernel.
# With TUNING, each target's variant takes the knobs the database records for this layer
# and target; one without an entry keeps the default schedule and the build says so.
# SCHEDULE, when given, wins. With -DCONVGEN_TUNE_MISSING=ON the build first runs
# `convgen tune --if-missing` for each CPU variant the database lacks (and this machine
# can run), CONVGEN_TUNE_BUDGET seconds each on an input of TUNE_INPUT_SHAPE (default
# 1 x C_in x 56 x 56, or 1 x C_in x 1024), and records the winners in the database: review
# and commit it. One tuning runs at a time (a Ninja job pool), so none disturbs another's
# timing. Every kernel shares one Halide runtime
# (convgen_halide_runtime), so a program can link any number of them. An invalid SPEC or
# SCHEDULE stops the build with the DSL's message.

# The Halide triple of what this build compiles for: x86-64-linux, or arm-64-linux when
# cross-compiling for aarch64 (HalideHelpers derives it from the CMake toolchain).
if (Halide_CMAKE_TARGET MATCHES "^x86-64")
    # Most capable first: the last target is the unconditional fallback.
    set(_convgen_cpu_targets
        ${Halide_CMAKE_TARGET}-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41
        ${Halide_CMAKE_TARGET}-avx-avx2-f16c-fma-sse41
        ${Halide_CMAKE_TARGET}-sse41
        ${Halide_CMAKE_TARGET})
else ()
    # arm-64: NEON is part of the baseline, one variant serves every core.
    set(_convgen_cpu_targets ${Halide_CMAKE_TARGET})
endif ()
set(CONVGEN_DEFAULT_CPU_TARGETS ${_convgen_cpu_targets}
    CACHE STRING "Halide targets each convgen kernel is compiled for, most capable first")

# The generator that turns a SPEC into code runs on the build machine: this project's own
# target, or the one imported as convgen::generator by an installed package (or, when
# cross-compiling convgen itself, from the build machine's build tree).
if (TARGET convgen_generator)
    set(_convgen_generator convgen_generator)
else ()
    set(_convgen_generator convgen::generator)
endif ()
set(_convgen_cmake_dir "${CMAKE_CURRENT_LIST_DIR}")

# Build-time tuning of the layers a TUNING database lacks, by the `convgen` program: this
# project's own target or the installed convgen::cli.
set(CONVGEN_TUNE_MISSING OFF CACHE BOOL
    "Run `convgen tune` at build time for convgen_add_kernel layers their TUNING database lacks")
set(CONVGEN_TUNE_BUDGET 60 CACHE STRING "Seconds of tuning per layer and target for CONVGEN_TUNE_MISSING")
set_property(GLOBAL APPEND PROPERTY JOB_POOLS convgen_tune=1)

# The one Halide runtime every kernel links (Halide 14 has no public add_halide_runtime).
# Generated code calls into it with no per-feature variants, so the baseline target fits
# every CPU kernel variant; it also carries the CUDA and OpenCL runtimes for GPU kernels
# (they load libcuda / libOpenCL only when a GPU kernel first runs). An installed
# package carries it as convgen::halide_runtime.
if (TARGET convgen::halide_runtime)
    set(_convgen_halide_runtime convgen::halide_runtime)
else ()
    set(_convgen_halide_runtime convgen_halide_runtime)
    set(_convgen_runtime_object "${CMAKE_CURRENT_BINARY_DIR}/convgen_halide_runtime.o")
    add_custom_command(OUTPUT "${_convgen_runtime_object}"
                       COMMAND ${_convgen_generator} -r convgen_halide_runtime -e object
                               -o "${CMAKE_CURRENT_BINARY_DIR}" target=${Halide_CMAKE_TARGET}-user_context-cuda-opencl
                       DEPENDS ${_convgen_generator}
                       COMMENT "Generating the Halide runtime shared by convgen kernels"
                       VERBATIM)
    add_library(convgen_halide_runtime STATIC "${_convgen_runtime_object}")
    set_target_properties(convgen_halide_runtime PROPERTIES LINKER_LANGUAGE CXX EXPORT_NAME halide_runtime)
    target_link_libraries(convgen_halide_runtime INTERFACE Halide::Runtime Threads::Threads ${CMAKE_DL_LIBS})
endif ()

function(convgen_add_kernel NAME)
    cmake_parse_arguments(ARG "" "SPEC;SCHEDULE;TUNING;TUNE_INPUT_SHAPE" "TARGETS" ${ARGN})
    if (ARG_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "convgen_add_kernel(${NAME}): unknown arguments: ${ARG_UNPARSED_ARGUMENTS}; "
                            "expected SPEC \"Conv2d(...)\" and optionally TARGETS, SCHEDULE, TUNING, "
                            "TUNE_INPUT_SHAPE")
    endif ()
    if (NOT NAME MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
        message(FATAL_ERROR "convgen_add_kernel: the name '${NAME}' must be a C++ identifier "
                            "(letters, digits, underscores; not starting with a digit)")
    endif ()
    if (NOT ARG_SPEC)
        message(FATAL_ERROR "convgen_add_kernel(${NAME}): SPEC is required, e.g. "
                            "SPEC \"Conv2d(3, 64, kernel_size=3, padding=1) -> ReLU()\"")
    endif ()
    if (ARG_SPEC MATCHES "\\)convgen_spec\"")
        message(FATAL_ERROR "convgen_add_kernel(${NAME}): SPEC contains ')convgen_spec\"'")
    endif ()
    if (NOT ARG_TARGETS)
        set(ARG_TARGETS ${CONVGEN_DEFAULT_CPU_TARGETS})
    endif ()

    # Halide's generator command line splits arguments at '=': escape it (and '%').
    set(params)
    foreach (param IN ITEMS spec SCHEDULE TUNING)
        string(TOUPPER "${param}" key)
        set(value "${ARG_${key}}")
        if (param STREQUAL "TUNING" AND value)
            get_filename_component(value "${value}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
            # Reconfigure when the database changes; its hash reruns the generator.
            set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${value}")
            set(hash none)
            if (EXISTS "${value}")
                file(SHA256 "${value}" hash)
            endif ()
            list(APPEND params "tuning_hash=${hash}")
        endif ()
        if (value)
            string(REPLACE "%" "%25" value "${value}")
            string(REPLACE "=" "%3D" value "${value}")
            string(TOLOWER "${param}" name)
            list(APPEND params "${name}=${value}")
        endif ()
    endforeach ()

    set(halide_lib "convgen_kernel_${NAME}")
    add_halide_library(${halide_lib}
                       FROM ${_convgen_generator}
                       GENERATOR convgen_conv
                       TARGETS ${ARG_TARGETS}
                       FEATURES user_context
                       USE_RUNTIME ${_convgen_halide_runtime}
                       PARAMS ${params})
    if (CONVGEN_TUNE_MISSING AND ARG_TUNING AND NOT ARG_SCHEDULE)
        _convgen_tune_missing(${NAME} ${halide_lib} "${ARG_SPEC}" "${ARG_TUNING}" "${ARG_TUNE_INPUT_SHAPE}" ${ARG_TARGETS})
    endif ()

    # The user-facing part: a header declaring convgen::kernels::NAME() and a source that
    # defines it and registers the kernel by name. An OBJECT library, so the registration
    # is linked even when nothing names the kernel directly.
    set(dir "${CMAKE_CURRENT_BINARY_DIR}/convgen_kernels/${NAME}")
    set(CONVGEN_KERNEL_NAME "${NAME}")
    set(CONVGEN_KERNEL_SPEC "${ARG_SPEC}")
    set(CONVGEN_HALIDE_FUNCTION "${halide_lib}")
    configure_file("${_convgen_cmake_dir}/kernel.h.in" "${dir}/${NAME}.h" @ONLY)
    configure_file("${_convgen_cmake_dir}/kernel.cpp.in" "${dir}/${NAME}.cpp" @ONLY)
    add_library(${NAME} OBJECT "${dir}/${NAME}.cpp")
    target_include_directories(${NAME} PUBLIC "${dir}")
    target_link_libraries(${NAME} PUBLIC convgen::runtime ${halide_lib})
endfunction()

# Before the generator runs for NAME: `convgen tune --if-missing` for each CPU target, one
# at a time; each step reruns (and returns at once) when the database changes.
function(_convgen_tune_missing NAME HALIDE_LIB SPEC TUNING INPUT_SHAPE)
    if (TARGET convgen)
        set(cli convgen)
    elseif (TARGET convgen::cli)
        set(cli convgen::cli)
    else ()
        message(FATAL_ERROR "convgen_add_kernel(${NAME}): CONVGEN_TUNE_MISSING needs the convgen program "
                            "(not built in a cross build; in a package, convgen::cli)")
    endif ()
    get_filename_component(db "${TUNING}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    set(db_dependency)
    if (EXISTS "${db}")
        set(db_dependency "${db}")  # a missing database is made by the first tuning
    endif ()
    set(shape)
    if (INPUT_SHAPE)
        set(shape --input-shape "${INPUT_SHAPE}")
    endif ()
    set(stamps)
    set(index 0)
    foreach (target IN LISTS ARGN)
        if (target MATCHES "(^|-)(cuda|opencl)(-|$)")
            continue ()  # GPU kernels are measured by scripts/gpu-bench.sh, not tuned here
        endif ()
        math(EXPR index "${index} + 1")
        set(stamp "${CMAKE_CURRENT_BINARY_DIR}/convgen_kernels/${NAME}/tuned-${index}.stamp")
        add_custom_command(OUTPUT "${stamp}"
                           COMMAND ${cli} tune --if-missing --spec "${SPEC}" --target ${target} --db "${db}"
                                   --budget ${CONVGEN_TUNE_BUDGET} ${shape}
                           COMMAND ${CMAKE_COMMAND} -E touch "${stamp}"
                           DEPENDS ${cli} ${db_dependency}
                           JOB_POOL convgen_tune
                           COMMENT "Tuning ${NAME} for ${target} if ${TUNING} lacks it (${CONVGEN_TUNE_BUDGET} s)"
                           VERBATIM)
        list(APPEND stamps "${stamp}")
    endforeach ()
    add_custom_target(${HALIDE_LIB}.tune DEPENDS ${stamps})
    add_dependencies(${HALIDE_LIB}.update ${HALIDE_LIB}.tune)
endfunction()

# convgen_add_kernels(<list var> [PREFIX <prefix>] [TARGETS <target>...] [TUNING <file>]
#                     LAYERS "<name>|<spec>[|<tune input shape>]"...)
# One convgen_add_kernel() per layer, named <prefix><name>; the target names are appended
# to <list var>. For suites of layers, e.g. the same layers for the CPU and for a GPU. A
# layer's third field, e.g. "1,3,224,224", is its TUNE_INPUT_SHAPE.
function(convgen_add_kernels OUT)
    cmake_parse_arguments(ARG "" "PREFIX;TUNING" "TARGETS;LAYERS" ${ARGN})
    if (ARG_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "convgen_add_kernels: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
    endif ()
    set(names ${${OUT}})
    foreach (layer IN LISTS ARG_LAYERS)
        if (NOT layer MATCHES "^([A-Za-z_][A-Za-z0-9_]*)\\|([^|]+)(\\|([0-9,]+))?$")
            message(FATAL_ERROR "convgen_add_kernels: '${layer}' is not \"name|spec\" or \"name|spec|shape\"")
        endif ()
        set(name "${ARG_PREFIX}${CMAKE_MATCH_1}")
        set(spec "${CMAKE_MATCH_2}")
        set(shape "${CMAKE_MATCH_4}")
        set(options)
        if (ARG_TARGETS)
            list(APPEND options TARGETS ${ARG_TARGETS})
        endif ()
        if (ARG_TUNING)
            list(APPEND options TUNING "${ARG_TUNING}")
        endif ()
        if (shape)
            list(APPEND options TUNE_INPUT_SHAPE "${shape}")
        endif ()
        convgen_add_kernel(${name} SPEC "${spec}" ${options})
        list(APPEND names ${name})
    endforeach ()
    set(${OUT} ${names} PARENT_SCOPE)
endfunction()
