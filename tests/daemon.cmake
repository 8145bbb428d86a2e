# daemon layer tests. The journal test needs nothing but the journal; the
# others need the whole daemon library (planner and drivers included).
smp_test(test_journal SOURCES test_journal.c ${PROJECT_SOURCE_DIR}/daemon/journal.c
  TIMEOUT 60)

if(TARGET smp_daemon)
  smp_test(test_session SOURCES test_session.c LIBS smp_daemon TIMEOUT 120)
  smp_test(test_config SOURCES test_config.c LIBS smp_daemon TIMEOUT 60 DEPENDS smpd)
endif()

# Until planner/ lands, the session's logic is tested against a stand-in
# planner (test_session_fakeplanner.c); the real one replaces it after.
if(NOT TARGET smp_daemon AND TARGET smp_drivers)
  smp_test(test_session SOURCES test_session.c test_session_fakeplanner.c
    ${PROJECT_SOURCE_DIR}/daemon/session.c ${PROJECT_SOURCE_DIR}/daemon/journal.c
    ${PROJECT_SOURCE_DIR}/daemon/log.c ${PROJECT_SOURCE_DIR}/daemon/config.c
    LIBS smp_drivers PkgConfig::JANSSON PkgConfig::LIBCONFIG PkgConfig::ZMQ ${MATH_LIB}
    TIMEOUT 120)
endif()

if(TARGET smp_daemon)
  smp_test(test_session_daemon SOURCES test_session_daemon.c
    LIBS PkgConfig::ZMQ PkgConfig::JANSSON ${MATH_LIB} TIMEOUT 90 DEPENDS smpd)
elseif(TARGET smp_drivers AND EXISTS ${PROJECT_SOURCE_DIR}/daemon/ctl.c)
  # Until planner/ lands: smpd on the stand-in planner, so that the main
  # loop and the endpoints are exercised now.
  add_executable(smpd ${PROJECT_SOURCE_DIR}/daemon/smpd.c
    test_session_fakeplanner.c ${PROJECT_SOURCE_DIR}/daemon/session.c
    ${PROJECT_SOURCE_DIR}/daemon/journal.c ${PROJECT_SOURCE_DIR}/daemon/log.c
    ${PROJECT_SOURCE_DIR}/daemon/config.c ${PROJECT_SOURCE_DIR}/daemon/ctl.c
    ${PROJECT_SOURCE_DIR}/daemon/pub.c ${PROJECT_SOURCE_DIR}/daemon/zap.c
    ${PROJECT_SOURCE_DIR}/daemon/keys.c)
  target_include_directories(smpd PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(smpd PRIVATE smp_drivers PkgConfig::ZMQ PkgConfig::JANSSON
    PkgConfig::LIBCONFIG PkgConfig::SYSTEMD ${MATH_LIB})
  smp_test(test_session_daemon SOURCES test_session_daemon.c
    LIBS PkgConfig::ZMQ PkgConfig::JANSSON ${MATH_LIB} TIMEOUT 90 DEPENDS smpd)
endif()
