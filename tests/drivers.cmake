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
