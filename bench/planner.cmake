# Planner benchmark (and the generator of the sample plans in examples/plans).
add_executable(bench_planner ${PROJECT_SOURCE_DIR}/bench/bench_planner.c)
target_link_libraries(bench_planner PRIVATE smp_planner)
