/*
 * Coverage builds only (SMP_COVERAGE, gcc): test.h ends every forked test
 * case with _exit(0), which skips gcov's exit-time write of its counters,
 * so nothing a case ran in its own process would count and the coverage
 * report would show only what the programs the tests start (smpd, smpsim,
 * smpplan, smpctl) ran. tests/fuzz.cmake links this _exit into every test
 * binary of a coverage build: it writes the counters, then ends the process
 * as _exit does. Nothing else changes; the normal builds never see it.
 */
#include <sys/syscall.h>
#include <unistd.h>

void __gcov_dump(void);

void
_exit(int status)
{
	__gcov_dump();
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}
