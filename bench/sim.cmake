# smpsim benchmark: a 20,000-dot session streamed at --speed max.
add_executable(bench_sim ${CMAKE_CURRENT_SOURCE_DIR}/bench_sim.c)
add_dependencies(bench_sim smpsim)
