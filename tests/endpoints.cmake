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
