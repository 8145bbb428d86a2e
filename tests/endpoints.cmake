# The ZeroMQ control/status endpoints and smpctl (daemon/ctl, pub, zap, keys,
# smpctl). The tests compile the endpoint sources directly so that they do
# not wait on the rest of the daemon library.
set(SMP_EP_SRC
  ${PROJECT_SOURCE_DIR}/daemon/ctl.c
  ${PROJECT_SOURCE_DIR}/daemon/pub.c
  ${PROJECT_SOURCE_DIR}/daemon/zap.c
  ${PROJECT_SOURCE_DIR}/daemon/keys.c)
set(SMP_EP_LIBS PkgConfig::ZMQ PkgConfig::JANSSON)

smp_test(test_ctl SOURCES test_ctl.c ${SMP_EP_SRC} LIBS ${SMP_EP_LIBS} TIMEOUT 60)
smp_test(test_pub SOURCES test_pub.c ${SMP_EP_SRC} LIBS ${SMP_EP_LIBS} TIMEOUT 60)

# smpctl is built by daemon/CMakeLists.txt over smp_daemon; until that file
# builds it, build it here from the same sources.
if(NOT TARGET smpctl)
  add_executable(smpctl ${PROJECT_SOURCE_DIR}/daemon/smpctl.c ${SMP_EP_SRC})
  target_include_directories(smpctl PRIVATE ${PROJECT_SOURCE_DIR})
  if(TARGET smp_drivers)
    target_link_libraries(smpctl PRIVATE smp_drivers ${SMP_EP_LIBS})
  else()
    target_sources(smpctl PRIVATE ${PROJECT_SOURCE_DIR}/drivers/transport.c)
    target_link_libraries(smpctl PRIVATE PkgConfig::SERIALPORT ${SMP_EP_LIBS})
  endif()
endif()

smp_test(test_smpctl SOURCES test_smpctl.c ${SMP_EP_SRC} LIBS ${SMP_EP_LIBS}
  TIMEOUT 120 DEPENDS smpctl)
smp_test(test_zap SOURCES test_zap.c ${SMP_EP_SRC} LIBS ${SMP_EP_LIBS} TIMEOUT 120)

# libFuzzer target for the request validator (SMP_FUZZ=ON, clang). Run:
#   <build>/bin/fuzz_ctl -max_total_time=60 -max_len=4200 \
#     -dict=<src>/tests/fuzz/corpus/ctl-dict/ctl.dict WORKDIR <src>/tests/fuzz/corpus/ctl
if(SMP_FUZZ)
  add_executable(fuzz_ctl ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_ctl.c ${SMP_EP_SRC})
  target_include_directories(fuzz_ctl PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(fuzz_ctl PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_ctl PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_ctl PRIVATE ${SMP_EP_LIBS})
endif()
smp_test(test_pub_example SOURCES test_pub_example.c ${SMP_EP_SRC}
  LIBS ${SMP_EP_LIBS} TIMEOUT 60)
