# End-to-end tests: smpd + smpsim + a ZeroMQ client. They need the daemon
# and the simulator programs, so they exist only when both targets do.
if(TARGET smpd AND TARGET smpsim)
  smp_test(test_e2e_session SOURCES e2e/test_e2e_session.c
    LIBS PkgConfig::ZMQ PkgConfig::JANSSON ${MATH_LIB}
    TIMEOUT 240 DEPENDS smpd smpsim LABELS e2e)
endif()

if(TARGET smpd AND TARGET smpsim)
  smp_test(test_e2e_crash SOURCES e2e/test_e2e_crash.c
    LIBS PkgConfig::ZMQ PkgConfig::JANSSON ${MATH_LIB}
    TIMEOUT 600 DEPENDS smpd smpsim LABELS e2e)
endif()

if(TARGET smpd AND TARGET smpsim)
  smp_test(test_e2e_faults SOURCES e2e/test_e2e_faults.c
    LIBS PkgConfig::ZMQ PkgConfig::JANSSON ${MATH_LIB}
    TIMEOUT 600 DEPENDS smpd smpsim LABELS e2e)
endif()
