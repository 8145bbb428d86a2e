# planner layer tests: readers and validation, surface, toolpath safety,
# G-code (exact lines and golden files), ordering, estimate, smpplan.
if(TARGET smp_planner)
  smp_test(test_plan SOURCES test_plan.c LIBS smp_planner TIMEOUT 120)
endif()
