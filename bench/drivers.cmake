# Driver benchmark: status parse and per-line streaming cost of the engine.
add_executable(bench_drivers ${PROJECT_SOURCE_DIR}/bench/bench_drivers.c)
target_link_libraries(bench_drivers PRIVATE smp_drivers)
