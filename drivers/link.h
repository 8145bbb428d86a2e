/*
 * A link to one GRBL-class controller: a transport, the protocol engine, the
 * connect handshake, status polling and the watchdog, as one non-blocking
 * object that lives in the daemon's poll loop.
 *
 *   DOWN --open ok--> WAIT_BANNER --banner--> QUERY ($I, $$) --> READY
 *     ^   (backoff)        |  no banner in time: soft reset, then again
 *     +---- open failed, EOF, I/O error, watchdog (no `?` reply) ----+
 *
 * While READY the link polls `?` at the configured rate; a report not
 * answered within watchdog_ms means the link is gone (LINK_EV_DOWN). The link
 * never sends G-code by itself beyond the handshake queries: what to stream,
 * and what to do about a fault, is the caller's decision.
 */
#ifndef SMP_DRIVERS_LINK_H
#define SMP_DRIVERS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/grbl.h"

#define LINK_MAX_SETTINGS 160
/* Tags from here up are the handshake's own ($I, $$); callers use tags below
 * it. */
#define LINK_TAG_RESERVED (UINT64_MAX - 15)

enum link_state {
	LINK_DOWN = 0,      /* not open; retrying with backoff */
	LINK_WAIT_BANNER,   /* open, waiting for the controller to greet */
	LINK_QUERY,         /* reading $I and $$ */
	LINK_READY,         /* streaming allowed */
};

struct link_opts {
	const char *port;          /* transport spec (transport_open) */
	int baud;
	double status_poll_hz;     /* `?` rate once READY */
	int watchdog_ms;           /* no status reply this long = down */
	int connect_timeout_ms;    /* banner wait before a soft reset */
	int reconnect_max_ms;      /* backoff ceiling (starts at 250 ms) */
};

/* What the handshake learnt. settings[n] is valid where has_setting[n]. */
struct link_info {
	char version[64];          /* from the banner / [VER:...] */
	char options[32];          /* [OPT:...] letters */
	int planner_blocks;        /* from [OPT:], 15 on GRBL 1.1 */
	int rx_size;               /* from [OPT:], 128 on GRBL 1.1 */
	double settings[LINK_MAX_SETTINGS];
	bool has_setting[LINK_MAX_SETTINGS];
	bool alarm_at_connect;     /* the controller greeted in Alarm state */
};

enum link_event_kind {
	LINK_EV_NONE = 0,
	LINK_EV_UP,        /* handshake done; link_info() is filled */
	LINK_EV_DOWN,      /* text: why (EOF, I/O error, watchdog, ...) */
	LINK_EV_GRBL,      /* grbl: a protocol event while READY */
	LINK_EV_LOG,       /* text: something worth a log line (open failed,
	                      retrying in N ms, soft reset at connect, ...) */
};

struct link_event {
	enum link_event_kind kind;
	char text[160];
	struct grbl_event grbl;
};

struct link;

/* Copies opts (and the port string). NULL on allocation failure. The link
 * starts DOWN and tries to open on the first link_step(). */
struct link *link_new(const struct link_opts *opts);
void link_destroy(struct link **l);

/*
 * The descriptor to poll and the events to poll it for (POLLIN, and POLLOUT
 * while output is pending); -1 while DOWN. Main loop only.
 */
int link_poll_fd(const struct link *l, short *events);
/* Milliseconds until link_step() must run again (poll, watchdog, backoff). */
int link_timeout_ms(const struct link *l, double now_s);
/* Does all pending work: opens, reads, writes, polls, checks the watchdog.
 * revents: what poll() returned for the fd (0 on a timeout). */
void link_step(struct link *l, double now_s, short revents);
/* Writes what is queued on the engine, as far as the transport takes it,
 * and reads nothing: for a caller that queued lines after link_step() and
 * must not leave answers read but unhandled until its next poll. A write
 * error drops the link (LINK_EV_DOWN follows). */
void link_flush(struct link *l);
/* Takes the next event; false when there is none. The link drains the
 * engine itself: callers take protocol events here (LINK_EV_GRBL), never
 * with grbl_next_event(). When an open connection ends (whether or not UP
 * came), every unanswered line is reported GRBL_EV_LOST, then LINK_EV_DOWN. */
bool link_next_event(struct link *l, struct link_event *ev);

enum link_state link_state(const struct link *l);
const struct link_info *link_info(const struct link *l);
/* The engine, for streaming while READY: grbl_can_send, grbl_send_line,
 * grbl_send_realtime, grbl_unanswered, grbl_last_status. Bytes queued on it
 * are written by link_step(). */
struct grbl *link_grbl(struct link *l);
/* Sends a real-time byte now if possible (flushes it ahead of line bytes).
 * Safe in any state; a no-op while DOWN. */
void link_realtime(struct link *l, uint8_t byte);
/* Closes the transport (LINK_EV_DOWN follows) and reconnects after backoff;
 * for the caller that decided the link is unusable. */
void link_drop(struct link *l, const char *why);

/* Extensions beyond the first contract (drivers engineer). */

/* Whether a critical ALARM (hard or soft limit) came and no banner since:
 * GRBL then answers nothing, not even `?`, until the caller soft-resets, so
 * the watchdog is suspended rather than declaring the link dead. */
bool link_alarm_critical(const struct link *l);

#endif /* SMP_DRIVERS_LINK_H */
