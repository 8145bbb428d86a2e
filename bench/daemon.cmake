# daemon benchmarks: a whole session in smpsim, smpd's CPU and memory.
if(TARGET smpd AND TARGET smpsim)
  add_executable(bench_session ${CMAKE_CURRENT_SOURCE_DIR}/bench_session.c)
  target_include_directories(bench_session PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(bench_session PRIVATE PkgConfig::ZMQ PkgConfig::JANSSON ${MATH_LIB})
  add_dependencies(bench_session smpd smpsim)
endif()
