# daemon layer tests. The journal test needs nothing but the journal; the
# others need the whole daemon library (planner and drivers included).
smp_test(test_journal SOURCES test_journal.c ${PROJECT_SOURCE_DIR}/daemon/journal.c
  TIMEOUT 60)
