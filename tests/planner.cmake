# planner layer tests: readers and validation, surface, toolpath safety
# (property test), G-code (exact lines and golden files through smpplan),
# ordering, estimate.
if(TARGET smp_planner)
  smp_test(test_plan SOURCES test_plan.c LIBS smp_planner TIMEOUT 120)
  smp_test(test_toolpath SOURCES test_toolpath.c LIBS smp_planner TIMEOUT 120)
  smp_test(test_gcode SOURCES test_gcode.c LIBS smp_planner TIMEOUT 60
    DEPENDS smpplan)
endif()
if(TARGET smp_planner)
  smp_test(test_order_opt SOURCES test_order_opt.c LIBS smp_planner TIMEOUT 60)
  # test_estimate also runs whole sessions on smpsim's controller model
  smp_test(test_estimate SOURCES test_estimate.c LIBS smp_planner smp_sim
    TIMEOUT 300)
  smp_test(test_plan_smpplan SOURCES test_plan_smpplan.c
    LIBS PkgConfig::JANSSON TIMEOUT 60 DEPENDS smpplan)
  # test_order.c came from another engineer's work; registered when present
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/test_order.c)
    smp_test(test_order SOURCES test_order.c LIBS smp_planner TIMEOUT 120)
  endif()
endif()
if(TARGET smp_planner)
  # smpplan end to end (exit codes, report) and the reader's text check
  smp_test(test_plan_cli SOURCES test_plan_cli.c LIBS smp_planner
    PkgConfig::JANSSON TIMEOUT 60 DEPENDS smpplan)
endif()
if(TARGET smp_planner)
  smp_test(test_toolpath_limits SOURCES test_toolpath_limits.c
    LIBS smp_planner TIMEOUT 30)
endif()
if(TARGET smp_planner)
  smp_test(test_surface SOURCES test_surface.c LIBS smp_planner TIMEOUT 30)
endif()
if(TARGET smp_planner)
  smp_test(test_pconfig SOURCES test_pconfig.c LIBS smp_planner TIMEOUT 30)
endif()
if(TARGET smp_planner)
  smp_test(test_plan_spacing SOURCES test_plan_spacing.c LIBS smp_planner
    TIMEOUT 60)
endif()
