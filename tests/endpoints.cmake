# The ZeroMQ control/status endpoints and smpctl (daemon/ctl, pub, zap, keys,
# smpctl). The tests link smp_daemon when it is built; until then (it needs
# the planner) they link smp_endpoints, a library of the endpoint sources
# alone, so that each source is compiled once (clang-tidy, run over the
# compilation database, reports false valist warnings for a file that
# appears in it more than once).
set(SMP_EP_SRC
  ${PROJECT_SOURCE_DIR}/daemon/ctl.c
  ${PROJECT_SOURCE_DIR}/daemon/pub.c
  ${PROJECT_SOURCE_DIR}/daemon/zap.c
  ${PROJECT_SOURCE_DIR}/daemon/keys.c)
if(TARGET smp_daemon)
  set(SMP_EP_LIBS smp_daemon)
else()
  add_library(smp_endpoints STATIC ${SMP_EP_SRC})
  target_include_directories(smp_endpoints PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(smp_endpoints PUBLIC PkgConfig::ZMQ PkgConfig::JANSSON)
  set(SMP_EP_LIBS smp_endpoints)
endif()

smp_test(test_ctl SOURCES test_ctl.c LIBS ${SMP_EP_LIBS} TIMEOUT 60)
smp_test(test_pub SOURCES test_pub.c LIBS ${SMP_EP_LIBS} TIMEOUT 60)

# smpctl is built by daemon/CMakeLists.txt over smp_daemon; until that file
# builds it, build it here.
if(NOT TARGET smpctl)
  add_executable(smpctl ${PROJECT_SOURCE_DIR}/daemon/smpctl.c)
  if(TARGET smp_drivers)
    target_link_libraries(smpctl PRIVATE smp_drivers ${SMP_EP_LIBS})
  else()
    target_sources(smpctl PRIVATE ${PROJECT_SOURCE_DIR}/drivers/transport.c)
    target_link_libraries(smpctl PRIVATE PkgConfig::SERIALPORT ${SMP_EP_LIBS})
  endif()
endif()

smp_test(test_smpctl SOURCES test_smpctl.c LIBS ${SMP_EP_LIBS}
  TIMEOUT 120 DEPENDS smpctl)
smp_test(test_zap SOURCES test_zap.c LIBS ${SMP_EP_LIBS} TIMEOUT 120)

# libFuzzer target for the request validator (SMP_FUZZ=ON, clang). Run:
#   <build>/bin/fuzz_ctl -max_total_time=60 -max_len=4200 \
#     -dict=<src>/tests/fuzz/corpus/ctl-dict/ctl.dict WORKDIR <src>/tests/fuzz/corpus/ctl
if(SMP_FUZZ)
  add_executable(fuzz_ctl ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_ctl.c ${SMP_EP_SRC})
  target_include_directories(fuzz_ctl PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(fuzz_ctl PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_ctl PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_ctl PRIVATE PkgConfig::ZMQ PkgConfig::JANSSON)
endif()
smp_test(test_pub_example SOURCES test_pub_example.c
  LIBS ${SMP_EP_LIBS} TIMEOUT 60)
