# Driver tests: the protocol engine (pure), transports over a pty pair and
# TCP loopback, the link against a scripted fake controller, and the link
# against the real simulator.
smp_test(test_grbl SOURCES ${PROJECT_SOURCE_DIR}/tests/test_grbl.c
  LIBS smp_drivers TIMEOUT 60 LABELS drivers)
smp_test(test_transport SOURCES ${PROJECT_SOURCE_DIR}/tests/test_transport.c
  LIBS smp_drivers TIMEOUT 60 LABELS drivers)
smp_test(test_link SOURCES ${PROJECT_SOURCE_DIR}/tests/test_link.c
  LIBS smp_drivers TIMEOUT 120 LABELS drivers)
smp_test(test_grbl_check SOURCES ${PROJECT_SOURCE_DIR}/tests/test_grbl_check.c
  LIBS smp_drivers TIMEOUT 60 LABELS drivers)

# libFuzzer target for the response/status parser (clang, SMP_FUZZ=ON). The
# engine's sources are compiled into it so that they carry the fuzzer's
# coverage instrumentation. Seed corpus: tests/fuzz/corpus/grbl_parse/.
if(SMP_FUZZ)
  add_executable(fuzz_grbl_parse
    ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_grbl_parse.c
    ${PROJECT_SOURCE_DIR}/drivers/grbl.c
    ${PROJECT_SOURCE_DIR}/drivers/grbl_codes.c)
  target_include_directories(fuzz_grbl_parse PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(fuzz_grbl_parse PRIVATE
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
  target_link_options(fuzz_grbl_parse PRIVATE
    -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_grbl_parse PRIVATE ${MATH_LIB})
endif()

# The link against the real simulator; registered once sim/ builds smpsim.
if(TARGET smpsim)
  smp_test(test_grbl_sim SOURCES ${PROJECT_SOURCE_DIR}/tests/test_grbl_sim.c
    LIBS smp_drivers TIMEOUT 120 LABELS drivers integration DEPENDS smpsim)
endif()
smp_test(test_grbl_prop SOURCES ${PROJECT_SOURCE_DIR}/tests/test_grbl_prop.c
  LIBS smp_drivers TIMEOUT 60 LABELS drivers)
