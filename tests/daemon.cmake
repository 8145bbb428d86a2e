# daemon layer tests. The journal test needs nothing but the journal; the
# others need the whole daemon library (planner and drivers included).
smp_test(test_journal SOURCES test_journal.c ${PROJECT_SOURCE_DIR}/daemon/journal.c
  TIMEOUT 60)

if(TARGET smp_daemon)
  smp_test(test_session SOURCES test_session.c LIBS smp_daemon TIMEOUT 120)
  smp_test(test_config SOURCES test_config.c LIBS smp_daemon TIMEOUT 60 DEPENDS smpd)
endif()

if(TARGET smp_daemon)
  smp_test(test_session_daemon SOURCES test_session_daemon.c
    LIBS PkgConfig::ZMQ PkgConfig::JANSSON ${MATH_LIB} TIMEOUT 90 DEPENDS smpd)
endif()

if(TARGET smp_daemon)
  smp_test(test_guard SOURCES test_guard.c LIBS smp_daemon TIMEOUT 120)
endif()
