/*
 * The guard: a small child process that outlives smpd to stop the machine
 * when smpd dies without doing so itself (SIGKILL, a crash, the systemd
 * watchdog's SIGABRT, the kernel's OOM killer). smpd forks it at start-up,
 * before any thread exists, and keeps it told, over a socket pair, which
 * descriptor reaches the controller (passed with SCM_RIGHTS) and whether
 * the machine is "armed": the needle may be on or a program is streaming.
 * The guard never reads or writes that descriptor while smpd lives.
 *
 * When the socket pair reaches end-of-file (smpd is gone, however it went)
 * and the machine was armed, the guard does what smpd's safe stop would,
 * with no knowledge of the plan: feed hold `!`, wait for the controller to
 * report that it stands still, soft reset 0x18 (GRBL switches the spindle
 * and coolant outputs off), then the needle-off lines and a straight lift
 * `G91 G0 Z<lift>` of the clearance plus the deepest allowed plunge, which
 * takes the tip above the clearance plane wherever it stopped. If the
 * controller never reports standing still, the reset still stops it, and
 * then it is in alarm with its position in doubt: the guard leaves it
 * locked (no `$X`) so that the restarted smpd knows to home again.
 *
 * Holding the descriptor also holds the device's flock() (it belongs to the
 * open file description) and keeps a serial port's DTR up, so a restarted
 * smpd cannot open the controller until the guard has finished, and an
 * Arduino is not reset halfway through the stop.
 */
#ifndef SMP_DAEMON_GUARD_H
#define SMP_DAEMON_GUARD_H

#include <stdbool.h>
#include <stddef.h>

struct guard;

struct guard_opts {
	const char *off_lines;   /* needle-off G-code lines, each ending "\n" */
	double lift_mm;          /* straight lift after the stop (> 0) */
	double hold_timeout_s;   /* wait for a stop after `!` */
	double reset_timeout_s;  /* wait for the banner after 0x18 */
	double lift_timeout_s;   /* wait for the lift to finish */
};

/* Fills the default timeouts (3 s, 2 s, 10 s) and leaves the lines empty. */
void guard_defaults(struct guard_opts *o);

/*
 * Forks the guard. Call before any thread is started (before zmq_ctx_new):
 * the child runs on in a copy of this process. Returns NULL with the reason
 * in err. The child closes every descriptor but its socket and stderr.
 */
struct guard *guard_new(const struct guard_opts *o, char *err,
    size_t errlen);

/*
 * Tells the guard the controller's descriptor (-1: none) and whether the
 * machine is armed; only changes are sent. Main loop only. Returns 0, or
 * -1 if the guard is gone (logged once; smpd goes on without it).
 */
int guard_update(struct guard *g, int fd, bool armed);

/* Whether the guard process is still there to act. */
bool guard_alive(const struct guard *g);

/*
 * Closes smpd's end and waits for the child (at most the guard's own stop
 * time when armed). Destroying an armed guard is smpd giving up: the guard
 * stops the machine, as after a crash. Accepts NULL; sets *g to NULL.
 * Returns the child's exit status (0: nothing to do or stop done, 1: the
 * stop could not be confirmed), or -1 if there was no child to wait for.
 */
int guard_destroy(struct guard **g);

/* The child's work after smpd is gone, exposed for tests: the stop above on
 * fd. Returns 0 when the lift was confirmed, 1 otherwise. */
int guard_stop_machine(int fd, const struct guard_opts *o);

#endif /* SMP_DAEMON_GUARD_H */
