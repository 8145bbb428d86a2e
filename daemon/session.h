/*
 * The session: one state machine that owns everything a tattoo session is,
 * from loading a plan to the last dot, and every way it can stop. It turns
 * operator commands (daemon/ctl.h) and controller events (drivers/grbl.h,
 * drivers/link.h) into G-code streamed with character counting, journal
 * records (daemon/journal.h) and published status, events and dots.
 *
 * It owns no socket and no descriptor: the daemon's loop (or a test) hands
 * it events and the time, and it answers through struct session_io. That
 * keeps the safety logic testable without hardware, a pty or ZeroMQ.
 *
 * Main loop only. Times are monotonic seconds.
 */
#ifndef SMP_DAEMON_SESSION_H
#define SMP_DAEMON_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/ctl.h"
#include "drivers/grbl.h"
#include "drivers/link.h"

enum session_state {
	SS_DISCONNECTED = 0, /* no controller */
	SS_CONNECTING,       /* port open, handshake under way */
	SS_IDLE,             /* connected, no plan */
	SS_LOADED,           /* a plan is loaded, not preflighted */
	SS_PREFLIGHT,        /* the program runs through check mode ($C) */
	SS_HOMING,           /* `$H` under way (also origin moves) */
	SS_READY,            /* preflight passed: start allowed */
	SS_RUNNING,          /* dots are being delivered */
	SS_PAUSING,          /* safe stop under way, then paused */
	SS_PAUSED,           /* stopped, needle off and out; resumable */
	SS_RESUMING,         /* back over the next dot, needle coming on */
	SS_COMPLETED,        /* every dot delivered or accounted for */
	SS_ABORTING,         /* safe stop under way, then aborted */
	SS_ABORTED,          /* the session was ended by the operator */
	SS_FAULTED,          /* a fault stopped the machine; see the reason */
	SS_COUNT
};

/* How the session reaches the world. engine() returns NULL while the link
 * is not READY. publish() takes ownership of obj. flush() (may be NULL)
 * writes the lines queued on the engine to the wire now, reading nothing:
 * the session calls it before a journal sync, so that lines never wait for
 * the disk. */
struct session_io {
	struct grbl *(*engine)(void *arg);
	void (*realtime)(void *arg, uint8_t byte);
	void (*drop)(void *arg, const char *why);
	void (*publish)(void *arg, const char *topic, json_t *obj);
	void *arg;
	void (*flush)(void *arg);
};

struct session;

/* cfg must outlive the session. NULL with a reason in err. */
struct session *session_new(const struct smpd_config *cfg,
    const struct session_io *io, char *err, size_t errlen);
void session_destroy(struct session **s);

/*
 * Crash recovery, at start-up: if the journal directory holds an unfinished
 * session, reload its plan and dot fates; the session comes back paused once
 * the controller is connected and safely stopped. Dots sent but never
 * confirmed are uncertain and are never repeated unless the operator asks
 * `redo` for them. 1 recovered, 0 nothing to recover, -1 error (err).
 */
int session_recover(struct session *s, double now, char *err, size_t errlen);

/* Controller link: state changes and protocol events. */
void session_link_state(struct session *s, enum link_state ls, double now);
void session_link_up(struct session *s, const struct link_info *info,
    double now);
void session_link_down(struct session *s, const char *why, double now);
void session_grbl_event(struct session *s, const struct grbl_event *ev,
    double now);

/* Streams, checks timeouts and the deadman, publishes periodic status. Call
 * after any event and at least by session_timeout_ms(). */
void session_tick(struct session *s, double now);
/* Milliseconds until session_tick must run again (>= 0). */
int session_timeout_ms(const struct session *s, double now);

/*
 * Runs one operator command. On success returns 0 with *reply set to the
 * reply's fields (caller owns; may be NULL). On refusal returns -1 with an
 * error code ("bad_state", "bad_plan", "bad_request", "not_connected",
 * "io_error", ...) in code and a message naming the state and the reason.
 */
int session_command(struct session *s, enum ctl_cmd cmd, json_t *args,
    double now, json_t **reply, char *code, size_t codelen, char *msg,
    size_t msglen);

/* A new status subscriber: publish a full snapshot at once. */
void session_snapshot(struct session *s, double now);

/* SIGTERM/SIGINT/fatal: bring the machine to a safe stop (feed hold, needle
 * off, retract) and keep the journal open so a restart can resume. */
void session_shutdown(struct session *s, const char *why, double now);
/* True when nothing is moving or pending: the daemon may exit. */
bool session_quiescent(const struct session *s);

enum session_state session_state(const struct session *s);
const char *session_state_name(enum session_state st);
/* A status object as published on "status" (caller owns). */
json_t *session_status_json(const struct session *s, double now);

/* Counters, for tests and the summary. */
struct session_counts {
	size_t total, delivered, uncertain, acked, pending;
	bool needle_on;
};
void session_counts(const struct session *s, struct session_counts *c);

#endif /* SMP_DAEMON_SESSION_H */
