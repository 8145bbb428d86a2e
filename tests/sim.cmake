# sim layer tests: the motion model and clock in-process, and the wire
# conformance and fault suite against the smpsim program over its pty.
smp_test(test_sim_motion SOURCES test_sim_motion.c LIBS smp_sim TIMEOUT 60)
smp_test(test_sim SOURCES test_sim.c LIBS smp_sim TIMEOUT 120 DEPENDS smpsim)
smp_test(test_sim_skin SOURCES test_sim_skin.c LIBS smp_sim TIMEOUT 60)
