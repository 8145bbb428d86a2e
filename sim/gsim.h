/*
 * smpsim's controller model: a GRBL 1.1 look-alike fed bytes and time. It
 * owns the wire (bytes take their time at the configured baud rate), the
 * 128-byte receive buffer, the line protocol, the G-code and `$` command
 * interpreter, the state machine, real-time bytes, status reports, the fault
 * script, and drives the motion model and the skin. It does no I/O of its
 * own: the program feeds it what the host wrote and takes what it answers,
 * which is what lets the same model run against a real-time clock or a
 * virtual one, and be tested without a pty.
 *
 * Time is simulated seconds. gsim_run() processes every internal event up to
 * a time in order (byte arrivals, block ends, dwell ends, faults), so the
 * caller only decides how simulated time relates to wall time.
 */
#ifndef SMP_SIM_GSIM_H
#define SMP_SIM_GSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/fault.h"
#include "sim/skin.h"

enum gsim_needle {
	GSIM_NEEDLE_SPINDLE = 0, /* M3/M4 on, M5 off */
	GSIM_NEEDLE_FLOOD,       /* M8 on, M9 off */
	GSIM_NEEDLE_MIST,        /* M7 on, M9 off */
};

enum gsim_on_open {
	GSIM_OPEN_BANNER = 0, /* greet a newly opened host, state kept */
	GSIM_OPEN_RESET,      /* power-up reset, as an Arduino's DTR does */
	GSIM_OPEN_NONE,       /* say nothing */
};

struct gsim_opts {
	int baud;                  /* 0 = bytes take no time */
	enum gsim_needle needle;
	enum gsim_on_open on_open;
};

struct gsim_stats {
	uint64_t bytes_rx, bytes_tx;
	uint64_t rx_overrun;       /* lost: receive buffer full */
	uint64_t rx_fault_dropped, rx_fault_corrupted, tx_fault_dropped;
	uint64_t lines, errors, alarms, resets;
	/* Host-side starvation: intervals with the needle on, nothing to run
	 * (planner empty, no line pending) and nothing from the host on the
	 * wire or in the buffer, ended by the host's next bytes; their count,
	 * total and longest, in simulated seconds (see docs/smpsim.md). */
	uint64_t starved_n;
	double starved_s, starved_max_s;
};

struct gsim;

/* A powered-down controller with default settings; skin and faults are not
 * owned and must outlive it. NULL on allocation failure. */
struct gsim *gsim_new(const struct gsim_opts *opts, struct skin *skin,
    struct fault_set *faults);
void gsim_destroy(struct gsim **g);

/* Loads `$N=V` lines over the settings (comments after '#' or ';').
 * -1 with file:line and the reason in err. Before gsim_power_up only. */
int gsim_load_settings(struct gsim *g, const char *path, char *err,
    size_t errlen);
/* Powers up at t_s: banner, and Alarm when homing is enabled. */
void gsim_power_up(struct gsim *g, double t_s);

/* A host opened the link / closed it (t_s: when). greet: answer the open
 * as opts.on_open says (false for the first open after power-up, whose
 * banner is still waiting to go out). */
void gsim_host_open(struct gsim *g, double t_s, bool greet);
void gsim_host_close(struct gsim *g, double t_s);
/* Bytes the host wrote, read at t_s; they reach the controller at the
 * rate of the wire. */
void gsim_input(struct gsim *g, double t_s, const uint8_t *buf, size_t n);
/* Processes every event up to t_s (t_s never goes back). When stop_on_output
 * is set, returns early, at the time of the event that made an answer due.
 * Returns the simulated time reached. */
double gsim_run(struct gsim *g, double t_s, bool stop_on_output);
/* Time of the next internal event, INFINITY when none is pending. */
double gsim_next_event(const struct gsim *g);
/* Copies into buf the answer bytes due by t_s; returns how many. */
size_t gsim_output(struct gsim *g, double t_s, uint8_t *buf, size_t cap);
/* Whether an answer is due by t_s. */
bool gsim_output_due(const struct gsim *g, double t_s);
/* Motion blocks queued, the executing one included. */
int gsim_planned_blocks(const struct gsim *g);
/* Whether answers are still queued for the wire (due now or later): the
 * host cannot act on them before it has them. */
bool gsim_output_pending(const struct gsim *g);
/* Whether the host has given the controller work it has not finished
 * (bytes on the wire or buffered, or a line waiting to complete): time may
 * then jump ahead without waiting for the host. */
bool gsim_host_waiting(const struct gsim *g);
/* True once when the fault script closes the link. */
bool gsim_take_close_request(struct gsim *g);

double gsim_now(const struct gsim *g);
const struct gsim_stats *gsim_stats(const struct gsim *g);
/* Writes the summary JSON object (one line) to f. */
void gsim_summary(const struct gsim *g, FILE *f, double wall_s);

#endif /* SMP_SIM_GSIM_H */
