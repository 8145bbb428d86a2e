# libFuzzer targets for the parsers of outside input that the layers' own
# fragments do not register (fuzz_grbl_parse is in drivers.cmake, fuzz_ctl in
# endpoints.cmake): the CSV and JSON plan readers, the height-map readers,
# smpsim's line protocol and the journal replay. Built only with
# -DSMP_FUZZ=ON and clang. The sources under test are compiled into each
# target rather than linked from the layer libraries, so that they carry the
# fuzzer's coverage instrumentation and the sanitizers.
#
# Run one by hand, longer than scripts/test.sh does (see docs/testing.md):
#   <build>/bin/fuzz_plan_csv -max_total_time=600 WORKDIR <src>/tests/fuzz/corpus/plan_csv
# or all of them, FUZZ_SECONDS each, with the target fuzz_long:
#   FUZZ_SECONDS=600 cmake --build <build> --target fuzz_long
if(SMP_FUZZ)
  set(SMP_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  set(SMP_FUZZ_PLANNER_SRC plan.c pconfig.c grid.c surface.c order.c
    toolpath.c gcode.c estimate.c)
  list(TRANSFORM SMP_FUZZ_PLANNER_SRC PREPEND ${PROJECT_SOURCE_DIR}/planner/)
  set(SMP_FUZZ_SIM_SRC gsim.c motion.c skin.c fault.c)
  list(TRANSFORM SMP_FUZZ_SIM_SRC PREPEND ${PROJECT_SOURCE_DIR}/sim/)
  list(APPEND SMP_FUZZ_SIM_SRC ${PROJECT_SOURCE_DIR}/drivers/grbl_codes.c)

  # smp_fuzz(NAME SOURCES src... [LIBS lib...])
  function(smp_fuzz name)
    cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${F_SOURCES})
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}
      ${PROJECT_SOURCE_DIR}/tests/fuzz)
    target_compile_options(${name} PRIVATE ${SMP_FUZZ_FLAGS})
    target_link_options(${name} PRIVATE ${SMP_FUZZ_FLAGS})
    target_link_libraries(${name} PRIVATE ${F_LIBS} ${MATH_LIB})
    set_property(GLOBAL APPEND PROPERTY SMP_FUZZ_TARGETS ${name})
  endfunction()

  smp_fuzz(fuzz_plan_csv SOURCES ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_plan_csv.c
    ${SMP_FUZZ_PLANNER_SRC} LIBS PkgConfig::LIBCONFIG PkgConfig::JANSSON)
  smp_fuzz(fuzz_plan_json SOURCES ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_plan_json.c
    ${SMP_FUZZ_PLANNER_SRC} LIBS PkgConfig::LIBCONFIG PkgConfig::JANSSON)
  smp_fuzz(fuzz_heightmap SOURCES ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_heightmap.c
    ${SMP_FUZZ_PLANNER_SRC} ${SMP_FUZZ_SIM_SRC}
    LIBS PkgConfig::LIBCONFIG PkgConfig::JANSSON)
  smp_fuzz(fuzz_sim_line SOURCES ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_sim_line.c
    ${SMP_FUZZ_SIM_SRC})
  smp_fuzz(fuzz_journal SOURCES ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_journal.c
    ${PROJECT_SOURCE_DIR}/daemon/journal.c)
endif()

# fuzz_long: every fuzz target in turn for SMP_FUZZ_SECONDS each (default
# 600), each from a working corpus kept under <build>/fuzz-work/<name>
# (seeded from tests/fuzz/corpus/<name>, and growing from run to run), with
# crash inputs written as <build>/fuzz-work/crash-<name>-*. Run with -j1 so
# that the targets take turns:
#   cmake --build <build> -j1 --target fuzz_long [-DSMP_FUZZ_SECONDS=...]
if(SMP_FUZZ)
  set(SMP_FUZZ_SECONDS 600 CACHE STRING "Seconds per target for fuzz_long")
  foreach(t fuzz_grbl_parse fuzz_ctl)
    if(TARGET ${t})
      set_property(GLOBAL APPEND PROPERTY SMP_FUZZ_TARGETS ${t})
    endif()
  endforeach()
  get_property(smp_fuzz_all GLOBAL PROPERTY SMP_FUZZ_TARGETS)
  set(smp_fuzz_long_deps)
  foreach(t ${smp_fuzz_all})
    string(REGEX REPLACE "^fuzz_" "" name ${t})
    set(work ${PROJECT_BINARY_DIR}/fuzz-work/${name})
    set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
    set(dict)
    if(EXISTS ${corpus}-dict/${name}.dict)
      set(dict -dict=${corpus}-dict/${name}.dict)
    endif()
    add_custom_target(fuzz_long_${name}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${work}
      COMMAND ${CMAKE_COMMAND} -E copy_directory ${corpus} ${work}
      COMMAND $<TARGET_FILE:${t}> -max_total_time=${SMP_FUZZ_SECONDS}
        -timeout=10 -rss_limit_mb=2048 ${dict}
        -artifact_prefix=${PROJECT_BINARY_DIR}/fuzz-work/crash-${name}-
        ${work}
      DEPENDS ${t}
      COMMENT "fuzzing ${name} for ${SMP_FUZZ_SECONDS} s"
      VERBATIM USES_TERMINAL)
    list(APPEND smp_fuzz_long_deps fuzz_long_${name})
  endforeach()
  add_custom_target(fuzz_long DEPENDS ${smp_fuzz_long_deps})
endif()

# Regression tests for what the fuzzers found: one case per finding, with
# the input that showed it. Part of the default build.
if(TARGET smp_daemon AND TARGET smp_sim)
  smp_test(test_regress_fuzz SOURCES ${PROJECT_SOURCE_DIR}/tests/test_regress_fuzz.c
    LIBS smp_daemon smp_sim TIMEOUT 60 LABELS regress)
endif()

# Findings in planner/ (tests/test_regress_fuzz_planner.c). The planner's
# sources are compiled in with UBSan so that the undefined behaviour some of
# them showed fails the test on any build, not only the sanitizer one.
if(TRUE)
  set(smp_regress_planner_src plan.c pconfig.c grid.c surface.c order.c
    toolpath.c gcode.c estimate.c)
  list(TRANSFORM smp_regress_planner_src PREPEND ${PROJECT_SOURCE_DIR}/planner/)
  smp_test(test_regress_fuzz_planner
    SOURCES ${PROJECT_SOURCE_DIR}/tests/test_regress_fuzz_planner.c
      ${smp_regress_planner_src}
    LIBS PkgConfig::LIBCONFIG PkgConfig::JANSSON ${MATH_LIB}
    TIMEOUT 60 LABELS regress)
  # float-cast-overflow is not part of gcc's -fsanitize=undefined.
  target_compile_options(test_regress_fuzz_planner PRIVATE
    -fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=all)
  target_link_options(test_regress_fuzz_planner PRIVATE
    -fsanitize=undefined,float-cast-overflow)
endif()

# Coverage builds: every test binary registered so far gets tests/
# coverage_exit.c, an _exit that writes gcov's counters first (test.h ends
# each forked case with _exit, which would otherwise drop them).
if(SMP_COVERAGE AND CMAKE_C_COMPILER_ID STREQUAL "GNU")
  get_property(smp_cov_targets DIRECTORY PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${smp_cov_targets})
    if(t MATCHES "^test_")
      target_sources(${t} PRIVATE ${PROJECT_SOURCE_DIR}/tests/coverage_exit.c)
    endif()
  endforeach()
endif()
