# Status latency benchmark (issue 6): report -> JSON at a local subscriber.
add_executable(bench_pub ${PROJECT_SOURCE_DIR}/bench/bench_pub.c)
target_include_directories(bench_pub PRIVATE ${PROJECT_SOURCE_DIR})
if(TARGET smp_daemon)
  target_link_libraries(bench_pub PRIVATE smp_daemon)
elseif(TARGET smp_endpoints)
  target_link_libraries(bench_pub PRIVATE smp_endpoints)
else()
  target_sources(bench_pub PRIVATE ${PROJECT_SOURCE_DIR}/daemon/pub.c
    ${PROJECT_SOURCE_DIR}/daemon/ctl.c ${PROJECT_SOURCE_DIR}/daemon/zap.c
    ${PROJECT_SOURCE_DIR}/daemon/keys.c)
  target_link_libraries(bench_pub PRIVATE PkgConfig::ZMQ PkgConfig::JANSSON)
endif()
if(TARGET smp_drivers)
  target_compile_definitions(bench_pub PRIVATE BENCH_WITH_GRBL)
  target_link_libraries(bench_pub PRIVATE smp_drivers)
endif()
