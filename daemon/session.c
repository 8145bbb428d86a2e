/*
 * The session state machine (see session.h). Everything that decides what
 * the machine does lives here, in one transition function and a few small
 * procedures around it:
 *
 *   the stream   lines of the planner's G-code emitter, made dot by dot as
 *                the controller's receive buffer frees, each tagged with its
 *                role and dot; a dot is delivered when its dwell's ok comes;
 *   the stop     one safe-stop procedure used by pause, abort, every fault,
 *                shutdown and recovery:
 *
 *       HOLD ('!', wait Hold:0) -> RESET (0x18, flush, wait banner)
 *         -> STATUS (a fresh report) -> RETRACT ([$X], needle off,
 *            G0 straight up) -> DONE -> paused / aborted / faulted
 *
 *                so that every way of stopping ends with the needle off and
 *                out of the skin, and the in-flight dots get a fate;
 *   the journal  written ahead of every plunge and on every delivery.
 *
 * Nothing here turns the needle on except start and resume, which only an
 * operator's command reaches.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/journal.h"
#include "daemon/log.h"
#include "daemon/planning.h"
#include "daemon/session.h"
#include "drivers/grbl_check.h"
#include "drivers/grbl_codes.h"
#include "planner/gcode.h"

/* Tag layout: generation (24 bits) | kind (8 bits) | toolpath index (32). */
#define TAG(gen, kind, idx)                                                   \
	(((uint64_t)(gen) << 40) | ((uint64_t)(kind) << 32) | (uint32_t)(idx))
#define TAG_GEN(t) ((uint32_t)((t) >> 40))
#define TAG_KIND(t) ((unsigned)(((t) >> 32) & 0xff))
#define TAG_IDX(t) ((uint32_t)(t))

/* Kinds below 16 are enum gcode_role; these are the session's own lines. */
enum {
	K_HOME = 16,
	K_UNLOCK,
	K_ORIGIN,
	K_JOG,
	K_CHECK_ON,
	K_CHECK_OFF,
	K_STOP,
};

enum op {
	OP_NONE = 0,
	OP_HOME,
	OP_UNLOCK,
	OP_ORIGIN,
	OP_JOG,
};

enum stop_phase {
	STOP_NONE = 0,
	STOP_WAIT_LINK,  /* the link is down: start over once it is up */
	STOP_HOLD,       /* '!' sent, waiting for Hold:0 */
	STOP_RESET,      /* 0x18 sent, waiting for the banner */
	STOP_STATUS,     /* waiting for a report after the reset */
	STOP_RETRACT,    /* [$X], needle off, G0 up sent; waiting */
};

enum preflight_phase {
	PF_NONE = 0,
	PF_CHECK_ON,     /* `$C` sent */
	PF_STREAM,       /* the program streams in check mode */
	PF_CHECK_OFF,    /* `$C` sent again, waiting for the reset banner */
	PF_AFTER_RESET,  /* banner seen, waiting for a report */
};

#define QUEUE_CAP 32
#define HOLD_TIMEOUT_S 3.0
#define RESET_TIMEOUT_S 3.0
#define STATUS_TIMEOUT_S 2.0
#define RETRACT_TIMEOUT_S 30.0
#define OP_TIMEOUT_S 120.0
#define STUCK_S 2.0            /* Idle with lines unanswered, past a dwell */
#define DONE_SYNC_S 0.05       /* a done record is durable by then at latest */

struct stream {
	bool active;
	bool check;                 /* preflight: $C mode, nothing delivered */
	uint32_t gen;
	struct toolpath tp;
	bool have_tp;
	struct gcode_emitter em;
	int phase;                  /* 0 preamble, 1 needle on, 2 dots,
	                               3 postamble, 4 everything emitted */
	size_t next_emit;           /* next toolpath dot to emit */
	struct gcode_line q[QUEUE_CAP];
	size_t qh, qn;
	size_t next_arm;            /* next toolpath dot to arm (see
	                               stream_arm) */
	size_t next_plunge;         /* next toolpath dot whose plunge goes */
	size_t next_confirm;        /* oldest dot sent and not confirmed:
	                               next_confirm <= next_plunge <= next_arm */
	size_t unanswered;          /* lines of this stream not answered */
	bool end_acked;             /* the program end's ok came */
	bool needle_on_acked;
	double t0;                  /* when this stream started */
	double t_confirm;           /* when next_confirm last advanced */
	double est_total_s;         /* planner estimate of this stream */
	double max_dwell_s;         /* longest dwell: the longest an Idle
	                               report may hide a running line */
	float *est_dot_s;           /* per toolpath dot, may be NULL: 4 bytes
	                               a dot (0.4 MB at 100,000) */
	size_t prelude;             /* hop/descend lines of the next dot not
	                               yet answered: its plunge waits */
	size_t err_dot;             /* a line of this dot was rejected
	                               (SIZE_MAX: none): uncertain */
	bool failed;                /* preflight: a line was rejected */
	char fail_msg[256];
};

struct session {
	const struct smpd_config *cfg;
	const struct planner_config *pcfg;
	struct session_io io;
	enum session_state state;
	char reason[256];

	/* the controller */
	enum link_state link;
	struct link_info info;
	bool have_info;
	struct grbl_status st;
	bool have_status;
	double status_t;
	bool alarm;                 /* the controller is in Alarm */

	/* what start needs */
	bool homed;
	bool origin_ok;
	double origin_wco[3];
	bool preflight_ok;
	bool settings_ok;           /* `$$` passed grbl_check_settings */
	char settings_err[200];
	double last_heartbeat;

	/* the plan and the fate of its dots */
	struct planning *pl;
	uint8_t *fate;              /* enum journal_fate per plan index */
	size_t n_done, n_uncertain, n_acked;
	struct journal *jr;
	bool active;                /* a session is under way (journal open) */
	bool recovered;             /* it came back from a journal */
	double session_t0;          /* start of the session (monotonic) */
	double run_s;               /* time spent running, closed streams */

	struct stream sm;
	uint32_t gen;

	/* one command at a time on the controller besides the stream */
	enum op op;
	uint64_t op_tag;
	double op_deadline;
	enum session_state op_return;
	char op_name[16];
	/* The operation was answered ok, and is done once a status report
	 * that follows the ok shows its effect (new position, new work
	 * offset): until then the session's idea of where the needle is
	 * would be stale, and nothing may plan from it. */
	bool op_sync;
	char op_sync_msg[200];
	enum preflight_phase pf;
	double pf_t;

	/* the safe stop */
	enum stop_phase stop;
	enum session_state stop_target;
	bool stop_trust;            /* the stop position is reliable */
	double stop_deadline;
	double stop_pos[3];         /* work position when motion stopped */
	bool stop_have_pos;
	double stop_status_after;   /* STATUS: a report newer than this */
	size_t stop_lines;          /* stop lines not yet answered */
	bool stop_unlock_sent;
	char stop_cause[256];

	bool needle_on;             /* conservative: on until proven off */
	double sync_due;            /* > 0: a done record waits for its
	                               fdatasync until then */
	double stuck_since;         /* > 0: Idle with lines unanswered since */
	bool shutdown;
	double next_status_t;
	double now;
};

static const char *const state_names[SS_COUNT] = {
	"disconnected", "connecting", "idle", "loaded", "preflight", "homing",
	"ready", "running", "pausing", "paused", "resuming", "completed",
	"aborting", "aborted", "faulted",
};

const char *
session_state_name(enum session_state st)
{
	return (unsigned)st < SS_COUNT ? state_names[st] : "?";
}

enum session_state
session_state(const struct session *s)
{
	return s->state;
}

static void stop_begin(struct session *s, enum session_state target,
    enum stop_phase from, bool trust, const char *cause, double now);
static void publish_status(struct session *s, double now);
static void op_done(struct session *s, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- output */

static void
publish(struct session *s, const char *topic, json_t *obj)
{
	if (obj == NULL)
		return;
	if (s->io.publish != NULL)
		s->io.publish(s->io.arg, topic, obj);
	else
		json_decref(obj);
}

static void __attribute__((format(printf, 3, 4)))
event(struct session *s, const char *type, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	publish(s, "event", json_pack("{s:s, s:s, s:s}", "type", type,
	    "message", msg, "state", session_state_name(s->state)));
}

static void __attribute__((format(printf, 2, 3)))
warning(struct session *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	publish(s, "event", json_pack("{s:s, s:s, s:s}", "type", "warning",
	    "message", msg, "state", session_state_name(s->state)));
}

static struct grbl *
engine(struct session *s)
{
	return s->io.engine != NULL ? s->io.engine(s->io.arg) : NULL;
}

static void
realtime(struct session *s, uint8_t b)
{
	if (s->io.realtime != NULL)
		s->io.realtime(s->io.arg, b);
}

/* ----------------------------------------------------------- transitions */

static bool
legal(enum session_state from, enum session_state to)
{
	/* A fault may come from anywhere: the machine stops, whatever it was
	 * doing. Everything else is listed. */
	if (to == SS_FAULTED)
		return true;
	switch (from) {
	case SS_DISCONNECTED:
		return to == SS_CONNECTING || to == SS_PAUSED ||
		    to == SS_IDLE || to == SS_LOADED || to == SS_PAUSING;
	case SS_CONNECTING:
		return to == SS_DISCONNECTED || to == SS_IDLE ||
		    to == SS_LOADED || to == SS_PAUSING;
	case SS_IDLE:
		return to == SS_LOADED || to == SS_HOMING ||
		    to == SS_DISCONNECTED || to == SS_IDLE;
	case SS_LOADED:
		return to == SS_LOADED || to == SS_PREFLIGHT ||
		    to == SS_HOMING || to == SS_DISCONNECTED || to == SS_IDLE;
	case SS_PREFLIGHT:
		return to == SS_READY || to == SS_LOADED ||
		    to == SS_DISCONNECTED || to == SS_ABORTING;
	case SS_HOMING:
		return to == SS_IDLE || to == SS_LOADED || to == SS_READY ||
		    to == SS_PAUSED || to == SS_COMPLETED ||
		    to == SS_ABORTED || to == SS_DISCONNECTED ||
		    to == SS_ABORTING;
	case SS_READY:
		return to == SS_RUNNING || to == SS_LOADED ||
		    to == SS_HOMING || to == SS_DISCONNECTED;
	case SS_RUNNING:
		return to == SS_PAUSING || to == SS_ABORTING ||
		    to == SS_COMPLETED;
	case SS_PAUSING:
		return to == SS_PAUSED || to == SS_ABORTING;
	case SS_PAUSED:
		return to == SS_RESUMING || to == SS_ABORTING ||
		    to == SS_HOMING || to == SS_PAUSING || to == SS_PAUSED ||
		    to == SS_COMPLETED;
	case SS_RESUMING:
		return to == SS_RUNNING || to == SS_PAUSING ||
		    to == SS_ABORTING;
	case SS_COMPLETED:
	case SS_ABORTED:
		return to == SS_LOADED || to == SS_HOMING || to == SS_IDLE ||
		    to == SS_DISCONNECTED || to == SS_CONNECTING;
	case SS_ABORTING:
		return to == SS_ABORTED;
	case SS_FAULTED:
		return to == SS_PAUSED || to == SS_ABORTING ||
		    to == SS_RESUMING ||
		    to == SS_HOMING || to == SS_IDLE || to == SS_LOADED ||
		    to == SS_DISCONNECTED || to == SS_PAUSING ||
		    to == SS_CONNECTING || to == SS_ABORTED ||
		    to == SS_COMPLETED;
	case SS_COUNT:
		break;
	}
	return false;
}

/*
 * The one place the session's state changes. Logs and publishes every
 * transition; refuses (and logs) an illegal one, returning -1.
 */
static int __attribute__((format(printf, 3, 4)))
transition(struct session *s, enum session_state to, const char *fmt, ...)
{
	enum session_state from = s->state;
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!legal(from, to)) {
		log_warnx("session: illegal transition %s -> %s refused (%s)",
		    session_state_name(from), session_state_name(to), why);
		return -1;
	}
	s->state = to;
	snprintf(s->reason, sizeof(s->reason), "%s", why);
	if (from != to)
		log_info("session: %s -> %s: %s", session_state_name(from),
		    session_state_name(to), why);
	publish(s, "event", json_pack("{s:s, s:s, s:s, s:s}", "type",
	    "transition", "from", session_state_name(from), "to",
	    session_state_name(to), "reason", why));
	publish_status(s, s->now);
	return 0;
}

/* The state a connected, quiet controller settles in. */
static enum session_state
rest_state(const struct session *s)
{
	if (s->pl == NULL)
		return SS_IDLE;
	return s->preflight_ok ? SS_READY : SS_LOADED;
}

/* ---------------------------------------------------------------- status */

/* Dots whose plunge went to the controller and whose dwell is not
 * confirmed. */
static size_t
inflight(const struct session *s)
{
	return s->sm.active ? s->sm.next_plunge - s->sm.next_confirm : 0;
}

/* Dots armed (their sent record durable) and not confirmed: at most
 * max_dots_in_flight, the bound on what a crash can leave uncertain. */
static size_t
armed(const struct session *s)
{
	return s->sm.active ? s->sm.next_arm - s->sm.next_confirm : 0;
}

static double
elapsed(const struct session *s, double now)
{
	double t = s->run_s;

	if (s->sm.active && !s->sm.check)
		t += now - s->sm.t0;
	return t;
}

static double
eta(const struct session *s, double now)
{
	const struct stream *m = &s->sm;
	double done_est, ran, ratio, w;

	if (!m->active || m->check || !m->have_tp || m->tp.n == 0)
		return -1;
	if (m->next_confirm == 0)
		return m->est_total_s;
	done_est = m->est_dot_s != NULL ? m->est_dot_s[m->next_confirm - 1] :
	    m->est_total_s * (double)m->next_confirm / (double)m->tp.n;
	/* The pace as of the last confirmation, which is the last moment
	 * the run's progress is known exactly; from then the figure counts
	 * down with the clock (measured at "now", it would climb between
	 * confirmations and drop at each: a saw-tooth).
	 * The estimate is corrected by that pace, trusted more as evidence
	 * builds up: fully once 30 s or a tenth of the estimated run are
	 * behind (feed overrides, a slower controller, or a simulator running
	 * N times faster all show up in it). */
	ran = m->t_confirm - m->t0;
	ratio = done_est > 0 ? ran / done_est : 1.0;
	w = fmin(1.0, done_est / fmin(30.0, 0.1 * m->est_total_s));
	return fmax(0, (m->est_total_s - done_est) * (1 + w * (ratio - 1)) -
	    (now - m->t_confirm));
}

json_t *
session_status_json(const struct session *s, double now)
{
	const struct grbl_status *g = &s->st;
	json_t *o;
	double e = eta(s, now);
	int blocks = s->have_info ? s->info.planner_blocks : 15;
	int rx = s->have_info ? s->info.rx_size : 128;

	o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b}",
	    "state", session_state_name(s->state),
	    "reason", s->reason,
	    "controller", s->have_status ? grbl_state_name(g->state) : "unknown",
	    "needle", s->needle_on,
	    "homed", s->homed,
	    "origin", s->origin_ok,
	    "preflight", s->preflight_ok);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "link", json_string(s->link == LINK_READY ?
	    "up" : s->link == LINK_DOWN ? "down" : "connecting"));
	if (s->have_status) {
		json_object_set_new(o, "mpos", json_pack("[f,f,f]", g->mpos[0],
		    g->mpos[1], g->mpos[2]));
		json_object_set_new(o, "wpos", json_pack("[f,f,f]", g->wpos[0],
		    g->wpos[1], g->wpos[2]));
		json_object_set_new(o, "feed", json_real(g->feed));
		if (g->has_buf)
			json_object_set_new(o, "buffer", json_pack(
			    "{s:i, s:i, s:f}", "blocks_free", g->buf_blocks,
			    "bytes_free", g->buf_bytes, "fill",
			    blocks > 1 ? 1.0 - (double)g->buf_blocks /
			    (double)(blocks) : 0.0));
		(void)rx;
	}
	json_object_set_new(o, "dots", json_pack("{s:I, s:I, s:I, s:I, s:I}",
	    "delivered", (json_int_t)s->n_done,
	    "uncertain", (json_int_t)s->n_uncertain,
	    "acked", (json_int_t)s->n_acked,
	    "in_flight", (json_int_t)inflight(s),
	    "total", (json_int_t)(s->pl != NULL ? s->pl->n : 0)));
	json_object_set_new(o, "elapsed_s", json_real(elapsed(s, now)));
	json_object_set_new(o, "eta_s", e >= 0 ? json_real(e) : json_null());
	if (s->pl != NULL)
		json_object_set_new(o, "plan", json_string(s->pl->source));
	if (s->jr != NULL)
		json_object_set_new(o, "journal",
		    json_string(journal_path(s->jr)));
	return o;
}

static void
publish_status(struct session *s, double now)
{
	/* The running rate whenever something moves or may: a run, a
	 * preflight, and every safe stop (pausing, aborting, a fault's stop
	 * under way), so that watchers see the needle go off and the
	 * uncertain dots settle as they happen, not a second later. */
	double hz = s->state == SS_RUNNING || s->state == SS_RESUMING ||
	    s->state == SS_PREFLIGHT || s->state == SS_PAUSING ||
	    s->state == SS_ABORTING || s->stop != STOP_NONE || s->needle_on ?
	    s->cfg->rate_running_hz : s->cfg->rate_idle_hz;

	publish(s, "status", session_status_json(s, now));
	s->next_status_t = now + 1.0 / hz;
}

void
session_snapshot(struct session *s, double now)
{
	s->now = now;
	publish_status(s, now);
}

void
session_counts(const struct session *s, struct session_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->total = s->pl != NULL ? s->pl->n : 0;
	c->delivered = s->n_done;
	c->uncertain = s->n_uncertain;
	c->acked = s->n_acked;
	c->pending = c->total - c->delivered - c->uncertain - c->acked;
	c->needle_on = s->needle_on;
}

/* ------------------------------------------------------------ dot fates */

static double
wall_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A journal that cannot be written cannot protect the next dot. */
static void
journal_failed(struct session *s, const char *what)
{
	char cause[160];

	snprintf(cause, sizeof(cause), "journal write failed (%s): %s", what,
	    strerror(errno));
	log_warnx("session: %s", cause);
	if (s->state == SS_RUNNING || s->state == SS_RESUMING)
		stop_begin(s, SS_FAULTED, STOP_HOLD, true, cause, s->now);
}

static void
set_fate(struct session *s, uint32_t idx, enum journal_fate f)
{
	enum journal_fate old = (enum journal_fate)s->fate[idx];

	if (old == f)
		return;
	if (old == JF_DONE)
		s->n_done--;
	else if (old == JF_UNCERTAIN)
		s->n_uncertain--;
	else if (old == JF_ACKED)
		s->n_acked--;
	if (f == JF_DONE)
		s->n_done++;
	else if (f == JF_UNCERTAIN)
		s->n_uncertain++;
	else if (f == JF_ACKED)
		s->n_acked++;
	s->fate[idx] = (uint8_t)f;
}

static void
dot_delivered(struct session *s, uint32_t tpi, double now, const char *how)
{
	uint32_t idx = s->sm.tp.d[tpi].plan_index;
	int64_t id = s->pl->plan->dots[idx].id;
	double t = elapsed(s, now);

	if (s->fate[idx] == JF_DONE)
		return;
	set_fate(s, idx, JF_DONE);
	/* Written now, synced with the next sent record (arming the dot
	 * after next, within this loop pass as a rule) or by DONE_SYNC_S:
	 * a flush here would sit between this answer and the next plunge. */
	if (journal_done(s->jr, idx, id, t) != 0)
		journal_failed(s, "done");
	else if (s->sync_due == 0)
		s->sync_due = now + DONE_SYNC_S;
	publish(s, "dot", json_pack("{s:I, s:I, s:f, s:s}", "id", (json_int_t)id,
	    "index", (json_int_t)idx, "t", t, "how", how));
}

static void
dot_uncertain(struct session *s, uint32_t idx, json_t *ids)
{
	int64_t id = s->pl->plan->dots[idx].id;

	set_fate(s, idx, JF_UNCERTAIN);
	if (s->jr != NULL && journal_uncertain(s->jr, idx, id) != 0)
		log_warn("session: journal uncertain %" PRId64, id);
	json_array_append_new(ids, json_integer(id));
}

static bool
near_xy(const double p[2], double x, double y)
{
	return hypot(p[0] - x, p[1] - y) <= 0.01;
}

/* Whether p lies on the segment a-b (within 0.01 mm), short of b. */
static bool
on_hop(const double p[2], double ax, double ay, double bx, double by)
{
	double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy, u, cx, cy;

	if (l2 < 1e-12)
		return near_xy(p, ax, ay);
	u = ((p[0] - ax) * dx + (p[1] - ay) * dy) / l2;
	if (u < -1e-9 || u > 1 + 1e-9)
		return false;
	cx = ax + u * dx;
	cy = ay + u * dy;
	return hypot(p[0] - cx, p[1] - cy) <= 0.01 && !near_xy(p, bx, by);
}

/*
 * Decides the fate of every dot in flight once motion has stopped and the
 * controller's queue is gone. With a trusted stop position the machine's XY
 * says how far the program got: dots it had moved past were delivered, dots
 * it had not reached were not, and the dot it stands over may be either. A
 * stop without a trusted position makes every dot in flight uncertain.
 */
static void
settle_inflight(struct session *s, bool trust, const double pos[3])
{
	struct stream *m = &s->sm;
	json_t *ids;
	size_t j, first = m->next_confirm, end = m->next_plunge;
	size_t stop_at = SIZE_MAX; /* dots >= stop_at were not reached;
	                              SIZE_MAX: unknown, all uncertain */
	size_t at = SIZE_MAX;    /* the dot the machine stands over */
	double ax, ay;

	if (!m->active || m->check)
		return;
	/* From here on no answer may confirm a line of this stream: the
	 * controller is being reset, or was, or cannot be heard. */
	m->gen = UINT32_MAX;
	/* Armed dots whose plunge never went to the engine cannot have been
	 * delivered, whatever the position says: back to pending. */
	for (j = end; j < m->next_arm; j++) {
		uint32_t idx = m->tp.d[j].plan_index;
		set_fate(s, idx, JF_PENDING);
		if (s->jr != NULL && journal_redo(s->jr, idx,
		    s->pl->plan->dots[idx].id) != 0)
			log_warn("session: journal");
	}
	m->next_arm = end;
	if (first >= end)
		return;
	ids = json_array();
	if (trust) {
		ax = first > 0 ? m->tp.d[first - 1].x_mm : m->tp.start[0];
		ay = first > 0 ? m->tp.d[first - 1].y_mm : m->tp.start[1];
		for (j = first; j < end; j++) {
			const struct toolpath_dot *d = &m->tp.d[j];
			if (near_xy(pos, d->x_mm, d->y_mm)) {
				at = j;
				stop_at = j + 1;
				break;
			}
			if (on_hop(pos, ax, ay, d->x_mm, d->y_mm)) {
				stop_at = j;
				break;
			}
			ax = d->x_mm;
			ay = d->y_mm;
		}
		/* Past the last dot in flight, on the way to (or above) the
		 * next one, whose plunge was never sent: all were delivered. */
		if (stop_at == SIZE_MAX && end < m->tp.n &&
		    (on_hop(pos, ax, ay, m->tp.d[end].x_mm, m->tp.d[end].y_mm) ||
		    near_xy(pos, m->tp.d[end].x_mm, m->tp.d[end].y_mm)))
			stop_at = end;
	}
	for (j = first; j < end; j++) {
		uint32_t idx = m->tp.d[j].plan_index;
		if (stop_at == SIZE_MAX || j == m->err_dot || j == at)
			dot_uncertain(s, idx, ids);
		else if (j < stop_at)
			dot_delivered(s, (uint32_t)j, s->now, "position");
		else {
			/* Never reached: back to pending, so resume sends it. */
			set_fate(s, idx, JF_PENDING);
			if (s->jr != NULL && journal_redo(s->jr, idx,
			    s->pl->plan->dots[idx].id) != 0)
				log_warn("session: journal");
		}
	}
	m->next_confirm = m->next_plunge = m->next_arm = end;
	if (json_array_size(ids) > 0) {
		char list[256];
		size_t i, off = 0;
		list[0] = '\0';
		for (i = 0; i < json_array_size(ids) && off < sizeof(list) - 24;
		    i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off,
			    "%s%" JSON_INTEGER_FORMAT, i ? " " : "",
			    json_integer_value(json_array_get(ids, i)));
		log_warnx("session: uncertain dots (ids): %s", list);
		publish(s, "event", json_pack("{s:s, s:o, s:s}", "type",
		    "uncertain", "ids", ids, "message",
		    "dots that may or may not have been delivered; they will "
		    "not be repeated unless redo is asked"));
	} else
		json_decref(ids);
}

/* ---------------------------------------------------------------- stream */

static void
stream_free(struct stream *m)
{
	if (m->have_tp)
		toolpath_free(&m->tp);
	free(m->est_dot_s);
	memset(m, 0, sizeof(*m));
}

/*
 * Starts streaming the pending dots in plan order from the machine's
 * current work position. check: preflight in check mode. Returns 0 or -1
 * with a message.
 */
static int
stream_start(struct session *s, bool check, double now, char *err,
    size_t errlen)
{
	struct stream *m = &s->sm;
	uint32_t *order = NULL;
	size_t i, n = 0;
	double start[3];
	int rc;

	stream_free(m);
	for (i = 0; i < s->pl->n; i++)
		if (check || s->fate[s->pl->order[i]] == JF_PENDING)
			n++;
	/* Every dot (a preflight, a fresh start): the plan's order as it is;
	 * a copy would cost 4 bytes a dot at the peak of a start. */
	if (n < s->pl->n) {
		if ((order = malloc(sizeof(*order) * (n ? n : 1))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (i = 0, n = 0; i < s->pl->n; i++) {
			uint32_t idx = s->pl->order[i];
			if (check || s->fate[idx] == JF_PENDING)
				order[n++] = idx;
		}
	}
	memcpy(start, s->st.wpos, sizeof(start));
	rc = toolpath_build(&m->tp, s->pl->plan, order != NULL ? order :
	    s->pl->order, n, start, s->pl->surf, s->pcfg, err, errlen);
	free(order);
	if (rc != 0)
		return -1;
	m->have_tp = true;
	for (i = 0; i < m->tp.n; i++)
		if (m->tp.d[i].dwell_ms / 1000.0 > m->max_dwell_s)
			m->max_dwell_s = m->tp.d[i].dwell_ms / 1000.0;
	/* Every move must also be inside the controller's soft limits,
	 * machine space [-max_travel, 0], through the work offset. */
	if (s->have_info && s->st.has_wco) {
		for (i = 0; i < m->tp.n; i++) {
			const struct toolpath_dot *d = &m->tp.d[i];
			double pts[3][3] = {
				{ d->x_mm, d->y_mm, d->hop_z },
				{ d->x_mm, d->y_mm, d->bottom_z },
				{ d->x_mm, d->y_mm, d->clear_z },
			};
			int a, k;
			for (k = 0; k < 3; k++)
				for (a = 0; a < 3; a++) {
					double mp = pts[k][a] + s->st.wco[a];
					double tr = s->info.has_setting[130 + a] ?
					    s->info.settings[130 + a] : 0;
					if (tr > 0 && (mp > 1e-6 ||
					    mp < -tr - 1e-6)) {
						snprintf(err, errlen,
						    "dot id %" PRId64 " moves "
						    "%c to %.3f in machine "
						    "space, outside the "
						    "controller's soft limits "
						    "[%.3f, 0]",
						    s->pl->plan->dots[
						    d->plan_index].id, "XYZ"[a],
						    mp, -tr);
						stream_free(m);
						return -1;
					}
				}
		}
	}
	m->active = true;
	m->check = check;
	m->err_dot = SIZE_MAX;
	s->gen = (s->gen + 1) & 0x7fffff;
	m->gen = s->gen;
	gcode_emitter_init(&m->em, s->pcfg);
	m->t0 = m->t_confirm = now;
	if (!check) {
		m->est_total_s = planning_estimate(s->pl, s->pcfg, &m->tp,
		    NULL);
		m->est_dot_s = malloc((m->tp.n ? m->tp.n : 1) *
		    sizeof(*m->est_dot_s));
		if (m->est_dot_s != NULL && planning_dot_times(s->pcfg, &m->tp,
		    m->est_dot_s) != 0) {
			free(m->est_dot_s);
			m->est_dot_s = NULL;   /* the time left, pro rata */
		}
	}
	return 0;
}

/* Makes the next lines when the queue has run dry. */
static void
stream_refill(struct session *s)
{
	struct stream *m = &s->sm;
	struct gcode_line out[GCODE_MAX_LINES_PER_DOT];
	int n = 0, i;

	if (m->qn > 0 || m->phase >= 4)
		return;
	switch (m->phase) {
	case 0:
		n = gcode_preamble(&m->em, out);
		m->phase = 1;
		break;
	case 1:
		n = gcode_needle_on(&m->em, out);
		m->phase = 2;
		break;
	case 2:
		if (m->next_emit < m->tp.n) {
			n = gcode_dot(&m->em, &m->tp, m->next_emit, out);
			m->next_emit++;
			break;
		}
		m->phase = 3;
		/* FALLTHROUGH */
	case 3:
		n = gcode_postamble(&m->em, out);
		m->phase = 4;
		break;
	}
	for (i = 0; i < n && i < GCODE_MAX_LINES_PER_DOT; i++)
		m->q[(m->qh + m->qn + (size_t)i) % QUEUE_CAP] = out[i];
	m->qn += (size_t)n;
}

/* The bytes of the queued plunge and the dwell and retract after it, each
 * line's '\n' included. */
static size_t
plunge_group_bytes(const struct stream *m)
{
	size_t len = 0, k;

	for (k = 0; k < m->qn; k++) {
		const struct gcode_line *l = &m->q[(m->qh + k) % QUEUE_CAP];
		if (k > 0 && l->role != GCODE_DWELL &&
		    l->role != GCODE_RETRACT)
			break;
		len += (size_t)l->len + 1;
		if (l->role == GCODE_RETRACT)
			break;
	}
	return len;
}

/*
 * Arms the next toolpath dot: its `sent` record written and synced, so that
 * its plunge may go once the moves before it are accepted. The stream arms a
 * dot as early as max_dots_in_flight allows and once every line that may go
 * has gone, so that the disk flush overlaps the controller's work on the
 * dots before. Armed at its plunge instead, the flush (milliseconds here, far
 * more on an SD card) would sit between the answer that frees the plunge and
 * the plunge, while the controller's planner runs dry. 1 armed, 0 not now
 * (every dot armed, or the bound reached), -1 the journal failed and the
 * session is stopping.
 */
static int
stream_arm(struct session *s)
{
	struct stream *m = &s->sm;
	uint32_t idx;

	if (m->check || m->next_arm >= m->tp.n ||
	    armed(s) >= (size_t)s->cfg->max_dots_in_flight)
		return 0;
	/* At most one dot armed beyond the plunges sent: the flush for dot
	 * k+2 then happens once the plunge of k+1 is out, while the
	 * controller dwells, and not when dot k's dwell ok arrives, just
	 * before the answer that frees the plunge of k+1. */
	if (m->next_arm > m->next_plunge)
		return 0;
	idx = m->tp.d[m->next_arm].plan_index;
	/* What is queued goes to the wire first: no line waits for the
	 * disk. */
	if (s->io.flush != NULL) {
		s->io.flush(s->io.arg);
		if (engine(s) == NULL)
			return 0;   /* the link is gone: nothing to arm for */
	}
	/* Write-ahead: the journal knows before the wire. Its sync also makes
	 * every done before it durable. */
	if (journal_sent(s->jr, idx, s->pl->plan->dots[idx].id) != 0) {
		journal_failed(s, "sent");
		return -1;
	}
	s->sync_due = 0;
	set_fate(s, idx, JF_SENT);
	m->next_arm++;
	return 1;
}

/* Hands the engine every line that may go now, then arms what it can. */
static void
stream_pump(struct session *s)
{
	struct stream *m = &s->sm;
	struct grbl *g = engine(s);

	if (!m->active || g == NULL || s->stop != STOP_NONE)
		return;
	if (m->check && s->pf != PF_STREAM)
		return;
	if (m->check && m->failed)
		return;
	for (;;) {
		struct gcode_line *l;
		uint64_t tag;

		stream_refill(s);
		if (m->qn == 0)
			break;
		l = &m->q[m->qh];
		/* The first dot is armed before the needle comes on: from
		 * then on the controller must never wait for us. */
		if (l->role == GCODE_NEEDLE_ON && stream_arm(s) < 0)
			return;
		if (l->role == GCODE_PLUNGE && !m->check) {
			/* Not armed yet (the bound held it back): now, on
			 * the critical path, or wait for a confirmation. */
			while (l->dot >= m->next_arm)
				if (stream_arm(s) <= 0)
					return;
			/* The plunge goes only once the controller has
			 * accepted the moves that put the needle over this
			 * dot: were one of them rejected, GRBL would run the
			 * next lines anyway and plunge wherever the needle
			 * happened to be. */
			if (m->prelude > 0)
				break;
		}
		/* A flush in stream_arm may have found the link gone. */
		if ((g = engine(s)) == NULL || s->stop != STOP_NONE)
			return;
		/* A plunge goes out only together with its dwell and retract,
		 * in one write: should smpd die between them, the controller
		 * would otherwise hold the needle in the skin, running, until
		 * someone came. With all three buffered it retracts alone. */
		if (l->role == GCODE_PLUNGE ?
		    plunge_group_bytes(m) > grbl_free_bytes(g) :
		    !grbl_can_send(g, l->len))
			break;
		tag = TAG(m->gen, l->role, l->dot);
		if (l->role == GCODE_PLUNGE && !m->check)
			m->next_plunge = l->dot + 1;
		if (l->role == GCODE_NEEDLE_ON && !m->check)
			s->needle_on = true; /* only place this is set on */
		if (grbl_send_line(g, l->text, tag) != 0) {
			warning(s, "controller refused to queue line \"%s\"",
			    l->text);
			stop_begin(s, SS_FAULTED, STOP_HOLD, true,
			    "a line could not be queued", s->now);
			return;
		}
		m->unanswered++;
		if (!m->check && (l->role == GCODE_HOP ||
		    l->role == GCODE_DESCEND))
			m->prelude++;
		m->qh = (m->qh + 1) % QUEUE_CAP;
		m->qn--;
	}
	/* Everything that may go is out: arm the next dot while the
	 * controller works. */
	(void)stream_arm(s);
}

/* --------------------------------------------------------- the safe stop */

static double
retract_z(const struct session *s)
{
	const double *p = s->st.wpos;
	double z;

	if (s->pl != NULL)
		z = planning_safe_z(s->pl, s->pcfg, p[0], p[1]);
	else
		z = s->pcfg->skin_z_mm + s->pcfg->clearance_mm;
	/* Straight up only: never lower than where the tip is now. */
	if (z < p[2])
		z = p[2];
	if (z > s->pcfg->env_max_mm[2])
		z = fmax(p[2], s->pcfg->env_max_mm[2]);
	/* Within the controller's soft limit (machine Z <= 0). */
	if (s->st.has_wco && z + s->st.wco[2] > 0)
		z = fmax(p[2], -s->st.wco[2]);
	return z;
}

static void
send_stop_line(struct session *s, const char *text)
{
	struct grbl *g = engine(s);

	if (g == NULL)
		return;
	if (grbl_send_line(g, text, TAG(s->gen, K_STOP, 0)) != 0) {
		warning(s, "safe stop: could not queue \"%s\"", text);
		return;
	}
	s->stop_lines++;
}

static void stop_finish(struct session *s, double now);

static void
stop_retract(struct session *s, double now)
{
	struct gcode_emitter em;
	struct gcode_line out[GCODE_MAX_LINES_PER_DOT];
	char line[80], num[32];
	int i, n;
	double z = retract_z(s);

	s->stop = STOP_RETRACT;
	s->stop_deadline = now + RETRACT_TIMEOUT_S;
	s->stop_lines = 0;
	s->gen = (s->gen + 1) & 0x7fffff;
	if (s->alarm) {
		/* Locked after an alarm: unlocking is the only way to get the
		 * needle out of the skin. It moves nothing by itself. */
		send_stop_line(s, "$X");
		s->stop_unlock_sent = true;
	}
	gcode_emitter_init(&em, s->pcfg);
	n = gcode_needle_off(&em, out);
	for (i = 0; i < n; i++)
		send_stop_line(s, out[i].text);
	if (z > s->st.wpos[2] + 0.0005) {
		gcode_fmt_num(num, sizeof(num), z);
		snprintf(line, sizeof(line), "G90G0Z%s", num);
		send_stop_line(s, line);
	}
	(void)stop_finish;
}

/*
 * Starts (or restarts) the safe stop at phase from, ending in target.
 * trust: the position where motion stops will tell the fate of the dots in
 * flight. May be called in any state; a stop under way keeps its earliest
 * phase and its most severe target.
 */
static void
stop_begin(struct session *s, enum session_state target, enum stop_phase from,
    bool trust, const char *cause, double now)
{
	struct grbl *g = engine(s);

	log_info("session: safe stop (%s)", cause);
	if (s->stop != STOP_NONE) {
		/* Already stopping: keep the worst target, restart earlier
		 * if asked (a reset after an alarm). */
		if (target == SS_FAULTED || (target == SS_ABORTED &&
		    s->stop_target == SS_PAUSED))
			s->stop_target = target;
		if (!trust)
			s->stop_trust = false;
		if (from >= s->stop && from != STOP_WAIT_LINK)
			return;
	} else {
		s->stop_target = target;
		s->stop_trust = trust;
		snprintf(s->stop_cause, sizeof(s->stop_cause), "%s", cause);
	}
	s->stop_unlock_sent = false;
	s->stop_have_pos = false;
	if (g == NULL) {
		/* Nothing to talk to: the fates are unknown now, the
		 * controller is stopped when the link comes back. */
		settle_inflight(s, false, NULL);
		s->stop = STOP_WAIT_LINK;
		return;
	}
	switch (from) {
	case STOP_WAIT_LINK:
	case STOP_HOLD:
		realtime(s, GRBL_RT_HOLD);
		s->stop = STOP_HOLD;
		s->stop_deadline = now + HOLD_TIMEOUT_S;
		break;
	case STOP_RESET:
		settle_inflight(s, false, NULL);
		grbl_flush(g);
		realtime(s, GRBL_RT_RESET);
		s->stop = STOP_RESET;
		s->stop_deadline = now + RESET_TIMEOUT_S;
		break;
	case STOP_STATUS:
		settle_inflight(s, false, NULL);
		s->stop = STOP_STATUS;
		s->stop_status_after = now;
		s->stop_deadline = now + STATUS_TIMEOUT_S;
		break;
	default:
		stop_retract(s, now);
		break;
	}
}

/* Hold reached (or timed out): flush the controller with a soft reset. */
static void
stop_reset(struct session *s, double now, bool stopped)
{
	struct grbl *g = engine(s);

	if (stopped) {
		memcpy(s->stop_pos, s->st.wpos, sizeof(s->stop_pos));
		s->stop_have_pos = true;
	}
	settle_inflight(s, s->stop_trust && stopped, s->stop_pos);
	if (g != NULL)
		grbl_flush(g);
	realtime(s, GRBL_RT_RESET);
	s->stop = STOP_RESET;
	s->stop_deadline = now + RESET_TIMEOUT_S;
}

static void
stop_finish(struct session *s, double now)
{
	enum session_state target = s->stop_target;
	struct stream *m = &s->sm;

	s->stop = STOP_NONE;
	s->needle_on = false;    /* the needle-off line was acknowledged */
	if (m->active) {
		if (!m->check)
			s->run_s += now - m->t0;
		stream_free(m);
	}
	if (s->pf != PF_NONE)
		s->pf = PF_NONE;
	if (target == SS_ABORTED) {
		if (s->jr != NULL) {
			journal_end(s->jr, "aborted", s->n_done,
			    s->n_uncertain);
			journal_close(&s->jr);
		}
		s->active = false;
		s->preflight_ok = false;
		publish(s, "event", json_pack("{s:s, s:s, s:I, s:I, s:I, s:f}",
		    "type", "session_end", "result", "aborted", "delivered",
		    (json_int_t)s->n_done, "uncertain",
		    (json_int_t)s->n_uncertain, "total",
		    (json_int_t)s->pl->n, "elapsed_s", s->run_s));
	}
	if (target == SS_FAULTED && s->state == SS_FAULTED) {
		event(s, "stopped", "safe stop done after fault: %s",
		    s->stop_cause);
		publish_status(s, now);
		return;
	}
	if (s->state == SS_ABORTING || target != SS_ABORTED)
		transition(s, target, "%s", s->stop_cause);
	else
		transition(s, SS_FAULTED, "%s", s->stop_cause);
}

static void
stop_tick(struct session *s, double now)
{
	switch (s->stop) {
	case STOP_HOLD:
		if (now >= s->stop_deadline) {
			warning(s, "safe stop: no Hold:0 after %.0f s, resetting "
			    "anyway", HOLD_TIMEOUT_S);
			stop_reset(s, now, false);
		}
		break;
	case STOP_RESET:
		if (now >= s->stop_deadline && s->io.drop != NULL) {
			s->stop_trust = false;
			s->io.drop(s->io.arg, "no banner after soft reset");
		}
		break;
	case STOP_STATUS:
		if (now >= s->stop_deadline)
			stop_retract(s, now);
		break;
	case STOP_RETRACT:
		if (s->stop_lines == 0 && s->have_status &&
		    s->status_t > s->stop_deadline - RETRACT_TIMEOUT_S &&
		    s->st.state == GRBL_STATE_IDLE)
			stop_finish(s, now);
		else if (now >= s->stop_deadline) {
			warning(s, "safe stop: retract not confirmed in %.0f s",
			    RETRACT_TIMEOUT_S);
			s->stop_target = SS_FAULTED;
			stop_finish(s, now);
		}
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------ lifecycle */

struct session *
session_new(const struct smpd_config *cfg, const struct session_io *io,
    char *err, size_t errlen)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->pcfg = &cfg->planner;
	s->io = *io;
	s->state = SS_DISCONNECTED;
	snprintf(s->reason, sizeof(s->reason), "starting");
	s->last_heartbeat = -1e9;
	return s;
}

static void
drop_plan(struct session *s)
{
	stream_free(&s->sm);
	planning_destroy(&s->pl);
	free(s->fate);
	s->fate = NULL;
	s->n_done = s->n_uncertain = s->n_acked = 0;
	s->run_s = 0;
}

void
session_destroy(struct session **sp)
{
	struct session *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	drop_plan(s);
	journal_close(&s->jr);
	free(s);
	*sp = NULL;
}

bool
session_quiescent(const struct session *s)
{
	if (s->link != LINK_READY)
		return true;    /* nothing to wait for: the link is gone */
	return s->stop == STOP_NONE && !s->sm.active && s->op == OP_NONE &&
	    !s->needle_on;
}

void
session_shutdown(struct session *s, const char *why, double now)
{
	s->now = now;
	s->shutdown = true;
	if (s->link != LINK_READY)
		return;
	if (s->sm.active || s->needle_on || s->op != OP_NONE ||
	    s->state == SS_HOMING) {
		enum session_state target = s->active ? SS_PAUSED : SS_FAULTED;
		if (s->state == SS_RUNNING || s->state == SS_RESUMING)
			transition(s, SS_PAUSING, "%s", why);
		s->op = OP_NONE;
		stop_begin(s, target, STOP_HOLD, true, why, now);
	}
}

/* ---------------------------------------------------------- link events */

void
session_link_state(struct session *s, enum link_state ls, double now)
{
	s->now = now;
	if (ls == s->link)
		return;
	s->link = ls;
	if ((ls == LINK_WAIT_BANNER || ls == LINK_QUERY) &&
	    s->state == SS_DISCONNECTED)
		transition(s, SS_CONNECTING, "port open, handshake");
}

/*
 * The controller's `$$` against what the planner assumed. Errors (steppers
 * released between dots, no soft limits, the wrong actuator mode, ...)
 * refuse start and resume until fixed; warnings are published.
 */
static void
check_settings(struct session *s, const struct link_info *info)
{
	struct grbl_expect e;
	struct grbl_finding f[24];
	size_t n, nerr = 0, i;
	int a;

	grbl_expect_defaults(&e);
	for (a = 0; a < 3; a++) {
		e.max_rate_mm_min[a] = s->pcfg->max_rate_mm_min[a];
		e.accel_mm_s2[a] = s->pcfg->accel_mm_s2[a];
		e.min_travel_mm[a] = s->pcfg->env_max_mm[a] -
		    s->pcfg->env_min_mm[a];
	}
	e.junction_deviation_mm = s->pcfg->junction_deviation_mm;
	e.homing = s->cfg->homing;
	e.laser_mode = s->pcfg->actuator == ACTUATOR_SPINDLE ? 0 : -1;
	n = grbl_check_settings(info, &e, f, sizeof(f) / sizeof(f[0]), &nerr);
	s->settings_err[0] = '\0';
	for (i = 0; i < n && i < sizeof(f) / sizeof(f[0]); i++) {
		if (f[i].level == GRBL_CHECK_ERROR && s->settings_err[0] == '\0')
			snprintf(s->settings_err, sizeof(s->settings_err),
			    "%s", f[i].text);
		warning(s, "controller settings: %s%s", f[i].level ==
		    GRBL_CHECK_ERROR ? "sessions refused: " : "", f[i].text);
	}
	s->settings_ok = nerr == 0;
}

void
session_link_up(struct session *s, const struct link_info *info, double now)
{
	s->now = now;
	s->link = LINK_READY;
	s->info = *info;
	s->have_info = true;
	s->alarm = info->alarm_at_connect;
	if (info->alarm_at_connect)
		s->homed = false;
	else if (s->recovered && s->active)
		s->homed = true; /* homed for the session, no alarm since */
	if (engine(s) != NULL &&
	    grbl_last_status(engine(s))->state != GRBL_STATE_UNKNOWN) {
		s->st = *grbl_last_status(engine(s));
		s->have_status = true;
		s->status_t = now;
		s->alarm = s->alarm || s->st.state == GRBL_STATE_ALARM;
	}
	log_info("session: controller up: %s, %d blocks, %d bytes rx",
	    info->version, info->planner_blocks, info->rx_size);
	check_settings(s, info);
	if (s->stop != STOP_NONE || s->needle_on || s->active) {
		/* Whatever the controller was doing while we could not see
		 * it, stop it the safe way before anything else. */
		enum session_state target = s->stop != STOP_NONE ?
		    s->stop_target : s->active ? SS_PAUSED : SS_FAULTED;
		char cause[256];
		snprintf(cause, sizeof(cause), "%s", s->stop_cause[0] ?
		    s->stop_cause : "controller connected");
		if (s->state == SS_CONNECTING || s->state == SS_DISCONNECTED)
			transition(s, SS_PAUSING, "controller back: safe stop");
		s->stop = STOP_NONE;
		stop_begin(s, target, STOP_HOLD, false, cause, now);
		return;
	}
	/* A machine with homing switches greets locked: that is its normal
	 * start, not a fault; home (or unlock) is the next step. */
	if (s->state == SS_CONNECTING || s->state == SS_DISCONNECTED ||
	    (s->state == SS_FAULTED && !s->alarm))
		transition(s, rest_state(s), s->alarm ? "controller connected, "
		    "locked: home (or unlock) first" : "controller connected");
}

void
session_link_down(struct session *s, const char *why, double now)
{
	s->now = now;
	s->link = LINK_DOWN;
	s->have_status = false;
	s->preflight_ok = false;   /* a new connection is checked anew */
	log_warnx("session: controller link down: %s", why);
	if (s->op != OP_NONE) {
		s->op = OP_NONE;
		event(s, "done", "%s failed: link down", s->op_name);
	}
	if (s->sm.active || s->stop != STOP_NONE || s->needle_on) {
		char cause[200];
		snprintf(cause, sizeof(cause), "link down: %s", why);
		if (s->sm.active && s->sm.check) {
			stream_free(&s->sm);
			s->pf = PF_NONE;
			s->needle_on = false;
			snprintf(s->op_name, sizeof(s->op_name), "preflight");
			op_done(s, false, "preflight failed: %s", cause);
			transition(s, SS_DISCONNECTED, "%s", cause);
			return;
		}
		if (s->stop == STOP_NONE)
			snprintf(s->stop_cause, sizeof(s->stop_cause), "%s",
			    cause);
		stop_begin(s, SS_FAULTED, STOP_WAIT_LINK, false, cause, now);
		if (s->sm.active) {
			s->run_s += now - s->sm.t0;
			stream_free(&s->sm);
		}
		if (s->state != SS_FAULTED)
			transition(s, SS_FAULTED, "%s", cause);
		return;
	}
	if (s->state == SS_PAUSED || s->state == SS_FAULTED)
		return;        /* the session waits for the controller */
	if (s->active) {
		transition(s, SS_FAULTED, "link down: %s", why);
		return;
	}
	transition(s, SS_DISCONNECTED, "link down: %s", why);
}

static void
op_done(struct session *s, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
op_done(struct session *s, bool ok, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	publish(s, "event", json_pack("{s:s, s:s, s:b, s:s}", "type", "done",
	    "op", s->op_name, "ok", ok, "message", msg));
	s->op = OP_NONE;
	s->op_sync = false;
}

static void
preflight_finish(struct session *s)
{
	s->pf = PF_NONE;
	if (s->sm.failed) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", s->sm.fail_msg);
		stream_free(&s->sm);
		snprintf(s->op_name, sizeof(s->op_name), "preflight");
		op_done(s, false, "preflight failed: %s", msg);
		transition(s, SS_LOADED, "preflight failed: %s", msg);
	} else {
		stream_free(&s->sm);
		s->preflight_ok = true;
		snprintf(s->op_name, sizeof(s->op_name), "preflight");
		op_done(s, true, "preflight passed: the whole program ran "
		    "through check mode");
		transition(s, SS_READY, "preflight passed");
	}
}

static void
on_status(struct session *s, const struct grbl_status *st, double now)
{
	bool was_alarm = s->alarm;

	s->st = *st;
	s->have_status = true;
	s->status_t = now;
	if (s->op_sync && s->op != OP_NONE) {
		s->op_sync = false;
		op_done(s, true, "%s", s->op_sync_msg);
	}
	s->alarm = st->state == GRBL_STATE_ALARM;
	if (s->alarm && !was_alarm)
		s->homed = false;
	/* A recovered session keeps its origin only if the controller still
	 * has the very offset the journal recorded at start. */
	if (s->recovered && s->active && !s->origin_ok && st->has_wco &&
	    fabs(st->wco[0] - s->origin_wco[0]) < 0.0015 &&
	    fabs(st->wco[1] - s->origin_wco[1]) < 0.0015 &&
	    fabs(st->wco[2] - s->origin_wco[2]) < 0.0015) {
		s->origin_ok = true;
		event(s, "origin", "the controller's work offset matches the "
		    "journal's: origin confirmed");
	}
	if (s->pf == PF_AFTER_RESET && now > s->pf_t)
		preflight_finish(s);
	/* GRBL answers every line; Idle with lines unanswered (beyond a
	 * dwell, which GRBL reports as Idle) means an answer was lost. */
	if (s->sm.active && s->stop == STOP_NONE && engine(s) != NULL &&
	    (s->sm.check ? s->pf == PF_STREAM && st->state ==
	    GRBL_STATE_CHECK : st->state == GRBL_STATE_IDLE) &&
	    grbl_unanswered(engine(s)) > 0) {
		if (s->stuck_since == 0)
			s->stuck_since = now;
	} else
		s->stuck_since = 0;
	switch (s->stop) {
	case STOP_HOLD:
		if ((st->state == GRBL_STATE_HOLD && st->substate == 0) ||
		    (st->state == GRBL_STATE_IDLE &&
		    grbl_unanswered(engine(s)) == 0) ||
		    st->state == GRBL_STATE_ALARM)
			stop_reset(s, now, st->state != GRBL_STATE_ALARM);
		break;
	case STOP_STATUS:
		if (now > s->stop_status_after)
			stop_retract(s, now);
		break;
	default:
		break;
	}
	/* Completion: the postamble acknowledged and the machine at rest. */
	if (s->sm.active && !s->sm.check && s->sm.end_acked &&
	    st->state == GRBL_STATE_IDLE && s->stop == STOP_NONE &&
	    s->state == SS_RUNNING) {
		s->needle_on = false;
		s->run_s += now - s->sm.t0;
		stream_free(&s->sm);
		if (s->jr != NULL) {
			journal_end(s->jr, "completed", s->n_done,
			    s->n_uncertain);
			journal_close(&s->jr);
		}
		s->active = false;
		s->preflight_ok = false;
		publish(s, "event", json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, "
		    "s:f}", "type", "session_end", "result", "completed",
		    "delivered", (json_int_t)s->n_done, "uncertain",
		    (json_int_t)s->n_uncertain, "acked",
		    (json_int_t)s->n_acked, "total", (json_int_t)s->pl->n,
		    "elapsed_s", s->run_s));
		transition(s, SS_COMPLETED, "every dot delivered or accounted "
		    "for (%zu delivered, %zu uncertain)", s->n_done,
		    s->n_uncertain);
	}
}

static void
on_answer(struct session *s, const struct grbl_event *ev, double now)
{
	unsigned kind = TAG_KIND(ev->tag);
	uint32_t idx = TAG_IDX(ev->tag);
	struct stream *m = &s->sm;
	bool ok = ev->kind == GRBL_EV_OK;

	if (kind == K_STOP) {
		if (s->stop == STOP_RETRACT && s->stop_lines > 0)
			s->stop_lines--;
		if (!ok)
			warning(s, "safe stop line refused: error:%d (%s)",
			    ev->code, grbl_error_text(ev->code) ?
			    grbl_error_text(ev->code) : "unknown");
		return;
	}
	if (kind >= K_HOME) {
		if (s->op != OP_NONE && ev->tag == s->op_tag) {
			if (s->op == OP_HOME && ok) {
				s->homed = true;
				s->alarm = false; /* homing unlocks */
			}
			if (s->op == OP_UNLOCK && ok) {
				s->alarm = false;
				if (s->state == SS_FAULTED && !s->active &&
				    s->stop == STOP_NONE)
					transition(s, rest_state(s),
					    "unlocked by the operator");
			}
			if (s->op == OP_ORIGIN && ok) {
				s->origin_ok = true;
				s->preflight_ok = false;
			}
			if (ok) {
				s->op_sync = true;
				snprintf(s->op_sync_msg, sizeof(s->op_sync_msg),
				    "%s done", s->op_name);
			} else
				op_done(s, false, "%s failed: error:%d (%s)",
				    s->op_name, ev->code,
				    grbl_error_text(ev->code) ?
				    grbl_error_text(ev->code) : "unknown");
			if (s->state == SS_HOMING && !ok)
				transition(s, SS_FAULTED, "homing failed");
			else if (s->state == SS_HOMING)
				transition(s, s->active ? (s->op_return ==
				    SS_FAULTED ? SS_FAULTED : SS_PAUSED) :
				    rest_state(s), "homing done");
		} else if (kind == K_CHECK_ON && s->pf == PF_CHECK_ON) {
			if (!ok) {
				s->pf = PF_NONE;
				stream_free(m);
				transition(s, SS_LOADED, "preflight: $C refused: "
				    "error:%d", ev->code);
				return;
			}
			s->pf = PF_STREAM;
		} else if (kind == K_CHECK_OFF && s->pf == PF_CHECK_OFF) {
			/* Leaving check mode resets; the banner finishes. */
		}
		return;
	}
	if (!m->active || TAG_GEN(ev->tag) != m->gen)
		return;          /* a line of an earlier stream */
	s->stuck_since = 0;
	if (m->unanswered > 0)
		m->unanswered--;
	if (!m->check && (kind == GCODE_HOP || kind == GCODE_DESCEND) &&
	    m->prelude > 0)
		m->prelude--;
	if (!ok) {
		const char *meaning = grbl_error_text(ev->code);
		int64_t id = idx != GCODE_NO_DOT && idx < m->tp.n ?
		    s->pl->plan->dots[m->tp.d[idx].plan_index].id : -1;
		publish(s, "event", json_pack("{s:s, s:i, s:s, s:I}", "type",
		    "error", "code", ev->code, "message",
		    meaning ? meaning : "unknown error", "dot",
		    (json_int_t)id));
		if (m->check) {
			if (!m->failed)
				snprintf(m->fail_msg, sizeof(m->fail_msg),
				    "dot id %" PRId64 ": error:%d (%s)", id,
				    ev->code, meaning ? meaning : "unknown");
			m->failed = true;
			return;
		}
		/* Whatever this line was, its dot cannot count as delivered
		 * by where the machine stops. */
		if (idx != GCODE_NO_DOT && idx < m->tp.n)
			m->err_dot = idx;
		/* Lines already buffered would keep running: stop now. */
		{
			char cause[200];
			snprintf(cause, sizeof(cause), "controller rejected a "
			    "line of dot id %" PRId64 ": error:%d (%s)", id,
			    ev->code, meaning ? meaning : "unknown");
			stop_begin(s, SS_FAULTED, STOP_HOLD, true, cause, now);
			if (s->state == SS_RUNNING || s->state == SS_RESUMING)
				transition(s, SS_PAUSING, "%s", cause);
		}
		return;
	}
	if (m->check)
		return;
	switch (kind) {
	case GCODE_DWELL:
		if (idx < m->tp.n && idx == m->next_confirm) {
			dot_delivered(s, idx, now, "dwell");
			m->next_confirm++;
			m->t_confirm = now;
		} else if (idx < m->tp.n)
			warning(s, "dwell ok for dot %u out of order (expected "
			    "%zu)", idx, m->next_confirm);
		break;
	case GCODE_NEEDLE_ON:
		m->needle_on_acked = true;
		if (s->state == SS_RESUMING)
			transition(s, SS_RUNNING, "needle on, delivering");
		break;
	case GCODE_END:
		m->end_acked = true;
		break;
	default:
		break;
	}
}

void
session_grbl_event(struct session *s, const struct grbl_event *ev, double now)
{
	s->now = now;
	switch (ev->kind) {
	case GRBL_EV_STATUS:
		on_status(s, &ev->status, now);
		break;
	case GRBL_EV_OK:
	case GRBL_EV_ERROR:
		on_answer(s, ev, now);
		break;
	case GRBL_EV_LOST:
		if (TAG_KIND(ev->tag) == K_STOP && s->stop_lines > 0)
			s->stop_lines--;
		break;
	case GRBL_EV_ALARM: {
		const char *meaning = grbl_alarm_text(ev->code);
		char cause[200];

		s->alarm = true;
		s->homed = false;
		publish(s, "event", json_pack("{s:s, s:i, s:s}", "type",
		    "alarm", "code", ev->code, "message",
		    meaning ? meaning : "unknown alarm"));
		snprintf(cause, sizeof(cause), "ALARM:%d (%s)", ev->code,
		    meaning ? meaning : "unknown");
		log_warnx("session: controller %s", cause);
		if (s->op != OP_NONE) {
			op_done(s, false, "%s failed: %s", s->op_name, cause);
			if (s->state == SS_HOMING)
				transition(s, SS_FAULTED, "%s", cause);
		}
		if (s->sm.active && s->sm.check) {
			s->pf = PF_NONE;
			stream_free(&s->sm);
			snprintf(s->op_name, sizeof(s->op_name), "preflight");
			op_done(s, false, "preflight failed: %s", cause);
			transition(s, SS_FAULTED, "preflight: %s", cause);
		}
		if (s->sm.active || s->needle_on || s->stop != STOP_NONE) {
			/* Motion stopped where it was; position not to be
			 * trusted. A reset clears what is left buffered. */
			if (s->state != SS_FAULTED)
				transition(s, SS_FAULTED, "%s", cause);
			stop_begin(s, SS_FAULTED, STOP_RESET, false, cause,
			    now);
		} else if (s->state != SS_FAULTED && s->state != SS_HOMING &&
		    s->state != SS_PAUSED)
			transition(s, SS_FAULTED, "%s", cause);
		break;
	}
	case GRBL_EV_BANNER:
		log_info("session: controller banner: %s", ev->text);
		if (s->stop == STOP_RESET) {
			s->stop = STOP_STATUS;
			s->stop_status_after = now;
			s->stop_deadline = now + STATUS_TIMEOUT_S;
			break;
		}
		if (s->pf == PF_CHECK_OFF) {
			/* Decided on the first report after the reset, so
			 * that start sees the controller out of Check. */
			s->pf = PF_AFTER_RESET;
			s->pf_t = now;
			break;
		}
		/* The controller reset by itself: anything it was doing is
		 * gone, and so is the needle. */
		if (s->sm.active || s->needle_on || s->stop != STOP_NONE ||
		    s->op != OP_NONE) {
			if (s->op != OP_NONE)
				op_done(s, false, "%s failed: controller "
				    "reset", s->op_name);
			if (s->sm.active && s->sm.check) {
				s->pf = PF_NONE;
				stream_free(&s->sm);
				snprintf(s->op_name, sizeof(s->op_name),
				    "preflight");
				op_done(s, false, "preflight failed: the "
				    "controller reset");
				transition(s, SS_LOADED, "preflight: controller "
				    "reset");
				break;
			}
			if (s->state != SS_FAULTED)
				transition(s, SS_FAULTED, "controller reset "
				    "unexpectedly");
			stop_begin(s, SS_FAULTED, STOP_STATUS, false,
			    "controller reset unexpectedly", now);
		}
		break;
	case GRBL_EV_MSG:
		log_debug("session: controller says: %s", ev->text);
		if (s->pf == PF_CHECK_ON && strcmp(ev->text, "Enabled") == 0)
			s->pf = PF_STREAM;
		break;
	default:
		break;
	}
}

/* -------------------------------------------------------------- ticking */

void
session_tick(struct session *s, double now)
{
	s->now = now;
	if (s->stop != STOP_NONE)
		stop_tick(s, now);
	if (s->op != OP_NONE && now >= s->op_deadline) {
		op_done(s, false, "%s: no answer in %.0f s", s->op_name,
		    OP_TIMEOUT_S);
		if (s->state == SS_HOMING)
			transition(s, SS_FAULTED, "homing timed out");
	}
	if (s->stuck_since > 0 && s->sm.active && s->sm.check &&
	    s->pf == PF_STREAM && now - s->stuck_since > STUCK_S) {
		/* Check mode skips dwells: a silence here is a lost answer.
		 * Leave check mode by a reset; the preflight fails. */
		s->stuck_since = 0;
		s->sm.failed = true;
		snprintf(s->sm.fail_msg, sizeof(s->sm.fail_msg), "the "
		    "controller stopped answering in check mode (an answer "
		    "was lost)");
		grbl_flush(engine(s));
		realtime(s, GRBL_RT_RESET);
		s->pf = PF_CHECK_OFF;
	}
	if (s->stuck_since > 0 && s->sm.active && !s->sm.check &&
	    s->stop == STOP_NONE &&
	    now - s->stuck_since > s->sm.max_dwell_s + STUCK_S) {
		char cause[160];
		snprintf(cause, sizeof(cause), "the controller is idle with %zu "
		    "lines unanswered for %.1f s: an answer was lost",
		    grbl_unanswered(engine(s)), now - s->stuck_since);
		s->stuck_since = 0;
		warning(s, "%s", cause);
		if (s->state == SS_RUNNING || s->state == SS_RESUMING)
			transition(s, SS_PAUSING, "%s", cause);
		stop_begin(s, SS_FAULTED, STOP_HOLD, true, cause, now);
	}
	/* The deadman: a running session needs a supervising client. */
	if (s->cfg->require_heartbeat && s->stop == STOP_NONE &&
	    (s->state == SS_RUNNING || s->state == SS_RESUMING) &&
	    (now - s->last_heartbeat) * 1000.0 > s->cfg->heartbeat_ms) {
		char cause[128];
		snprintf(cause, sizeof(cause), "operator heartbeat lost "
		    "(none for %.1f s)", now - s->last_heartbeat);
		warning(s, "%s: pausing", cause);
		transition(s, SS_PAUSING, "%s", cause);
		stop_begin(s, SS_PAUSED, STOP_HOLD, true, cause, now);
	}
	stream_pump(s);
	/* A done record not yet covered by a sent one: make it durable. */
	if (s->sync_due > 0 && now >= s->sync_due) {
		s->sync_due = 0;
		if (s->jr != NULL && journal_commit(s->jr) != 0)
			journal_failed(s, "done");
	}
	/* Preflight: the program is all answered, leave check mode. */
	if (s->pf == PF_STREAM && s->sm.active && s->sm.unanswered == 0 &&
	    ((s->sm.phase >= 4 && s->sm.qn == 0) || s->sm.failed)) {
		struct grbl *g = engine(s);
		if (g != NULL && grbl_can_send(g, 2) &&
		    grbl_send_line(g, "$C", TAG(s->gen, K_CHECK_OFF, 0)) == 0)
			s->pf = PF_CHECK_OFF;
	}
	if (now >= s->next_status_t)
		publish_status(s, now);
}

int
session_timeout_ms(const struct session *s, double now)
{
	double t = s->next_status_t - now;

	if (s->stop != STOP_NONE && s->stop_deadline - now < t)
		t = s->stop_deadline - now;
	if (s->op != OP_NONE && s->op_deadline - now < t)
		t = s->op_deadline - now;
	if (s->sync_due > 0 && s->sync_due - now < t)
		t = s->sync_due - now;
	if (s->cfg->require_heartbeat && (s->state == SS_RUNNING ||
	    s->state == SS_RESUMING)) {
		double hb = s->last_heartbeat + s->cfg->heartbeat_ms / 1000.0 -
		    now + 0.001;
		if (hb < t)
			t = hb;
	}
	if (t < 0)
		t = 0;
	return (int)ceil(t * 1000.0);
}

/* ------------------------------------------------------------- commands */

#define REFUSE(c, ...)                                                        \
	do {                                                                  \
		snprintf(code, codelen, "%s", (c));                           \
		snprintf(msg, msglen, __VA_ARGS__);                           \
		return -1;                                                    \
	} while (0)

static bool
is_quiet_state(enum session_state st)
{
	return st == SS_IDLE || st == SS_LOADED || st == SS_READY ||
	    st == SS_COMPLETED || st == SS_ABORTED || st == SS_PAUSED ||
	    st == SS_FAULTED;
}

/* Looks an id up; the plan index, or -1. Linear: commands name few ids. */
static long
find_id(const struct session *s, int64_t id)
{
	size_t i;

	for (i = 0; i < s->pl->n; i++)
		if (s->pl->plan->dots[i].id == id)
			return (long)i;
	return -1;
}

static json_t *
uncertain_ids(const struct session *s, size_t max)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; s->pl != NULL && i < s->pl->n && json_array_size(a) < max;
	    i++)
		if (s->fate[i] == JF_UNCERTAIN)
			json_array_append_new(a,
			    json_integer(s->pl->plan->dots[i].id));
	return a;
}

static int
send_op(struct session *s, enum op op, unsigned kind, const char *line,
    const char *name, double now, char *code, size_t codelen, char *msg,
    size_t msglen)
{
	struct grbl *g = engine(s);

	if (g == NULL)
		REFUSE("not_connected", "the controller is not connected "
		    "(state %s)", session_state_name(s->state));
	if (s->op != OP_NONE)
		REFUSE("busy", "%s is still under way", s->op_name);
	s->gen = (s->gen + 1) & 0x7fffff;
	s->op_tag = TAG(s->gen, kind, 0);
	if (!grbl_can_send(g, strlen(line)) ||
	    grbl_send_line(g, line, s->op_tag) != 0)
		REFUSE("busy", "the controller's buffer is full; try again");
	s->op = op;
	s->op_deadline = now + OP_TIMEOUT_S;
	s->op_return = s->state;
	snprintf(s->op_name, sizeof(s->op_name), "%s", name);
	return 0;
}

/* Checks what start and resume need; 0 or -1 with the reason. */
static int
can_run(struct session *s, double now, char *code, size_t codelen, char *msg,
    size_t msglen)
{
	if (s->link != LINK_READY || engine(s) == NULL)
		REFUSE("not_connected", "the controller is not connected");
	if (s->alarm)
		REFUSE("alarm", "the controller is in alarm: home or unlock "
		    "first");
	if (s->cfg->homing && !s->homed)
		REFUSE("not_homed", "the machine is not homed: home first");
	if (!s->origin_ok)
		REFUSE("no_origin", "the work origin is not confirmed: "
		    "set-origin first");
	if (!s->have_info || !s->settings_ok)
		REFUSE("controller_settings", "the controller's settings are "
		    "unsafe for a session: %s", s->settings_err);
	if (!s->have_status)
		REFUSE("not_connected", "no status report from the controller "
		    "yet");
	/* The toolpath starts where the machine is: it must be standing. */
	if (s->st.state != GRBL_STATE_IDLE || s->op != OP_NONE)
		REFUSE("busy", "the machine is not at rest (controller %s%s%s)",
		    grbl_state_name(s->st.state), s->op != OP_NONE ? ", " : "",
		    s->op != OP_NONE ? s->op_name : "");
	if (s->cfg->require_heartbeat &&
	    (now - s->last_heartbeat) * 1000.0 > s->cfg->heartbeat_ms)
		REFUSE("no_heartbeat", "no operator heartbeat in the last %d "
		    "ms: a supervising client must send heartbeats",
		    s->cfg->heartbeat_ms);
	return 0;
}

static int
cmd_load(struct session *s, json_t *args, json_t **reply, char *code,
    size_t codelen, char *msg, size_t msglen)
{
	const char *path = json_string_value(json_object_get(args, "plan"));
	const char *text = json_string_value(json_object_get(args, "text"));
	const char *format = json_string_value(json_object_get(args, "format"));
	struct planning *pl;
	json_t *diags = json_array();
	char err[512];
	uint8_t *fate;

	if (s->active)
		REFUSE("bad_state", "state %s: a session is under way (%zu of "
		    "%zu dots delivered); abort it before loading another plan",
		    session_state_name(s->state), s->n_done, s->pl->n);
	if (!(is_quiet_state(s->state) || s->state == SS_DISCONNECTED ||
	    s->state == SS_CONNECTING))
		REFUSE("bad_state", "state %s: cannot load a plan now",
		    session_state_name(s->state));
	if ((path == NULL) == (text == NULL)) {
		json_decref(diags);
		REFUSE("bad_request", "load needs either \"plan\" (a path) or "
		    "\"text\"");
	}
	pl = planning_load(s->pcfg, path, text, text ? strlen(text) : 0,
	    format, diags, err, sizeof(err));
	if (pl == NULL) {
		json_decref(diags);
		REFUSE("bad_plan", "%s", err);
	}
	json_decref(diags);
	if ((fate = calloc(pl->n ? pl->n : 1, 1)) == NULL) {
		planning_destroy(&pl);
		REFUSE("io_error", "out of memory");
	}
	drop_plan(s);
	s->pl = pl;
	s->fate = fate;
	s->preflight_ok = false;
	s->recovered = false;
	log_info("session: plan %s loaded: %zu dots", pl->source, pl->n);
	if (s->state != SS_DISCONNECTED && s->state != SS_CONNECTING &&
	    !(s->state == SS_FAULTED && s->alarm))
		transition(s, SS_LOADED, "plan %s loaded (%zu dots)",
		    pl->source, pl->n);
	*reply = json_pack("{s:I, s:s, s:I, s:s}", "dots", (json_int_t)pl->n,
	    "plan", pl->source, "warnings", (json_int_t)pl->warnings,
	    "hash", "");
	{
		char h[20];
		snprintf(h, sizeof(h), "%016" PRIx64, pl->hash);
		json_object_set_new(*reply, "hash", json_string(h));
	}
	return 0;
}

static int
cmd_start(struct session *s, double now, json_t **reply, char *code,
    size_t codelen, char *msg, size_t msglen)
{
	struct journal_header h;
	char err[512];

	if (s->state != SS_READY)
		REFUSE("bad_state", "state %s: start needs a loaded plan that "
		    "passed preflight (state ready)",
		    session_state_name(s->state));
	if (can_run(s, now, code, codelen, msg, msglen) != 0)
		return -1;
	if (stream_start(s, false, now, err, sizeof(err)) != 0)
		REFUSE("preflight_failed", "%s", err);
	memset(&h, 0, sizeof(h));
	h.plan_hash = s->pl->hash;
	h.dots = (uint32_t)s->pl->n;
	h.config_digest = s->cfg->digest;
	snprintf(h.format, sizeof(h.format), "%s", s->pl->format);
	snprintf(h.machine, sizeof(h.machine), "%s", s->cfg->machine_id);
	h.started = (int64_t)wall_clock();
	/* An inline plan's bytes are kept; a file's are copied again from it
	 * and must hash as they did at load. */
	s->jr = s->pl->text != NULL ? journal_create(s->cfg->journal_dir, &h,
	    s->pl->text, s->pl->text_len, err, sizeof(err)) :
	    journal_create_from(s->cfg->journal_dir, &h, s->pl->path, err,
	    sizeof(err));
	if (s->jr == NULL) {
		stream_free(&s->sm);
		REFUSE("io_error", "cannot start the journal: %s", err);
	}
	if (s->st.has_wco && journal_origin(s->jr, s->st.wco) != 0) {
		stream_free(&s->sm);
		journal_close(&s->jr);
		REFUSE("io_error", "cannot write the journal: %s",
		    strerror(errno));
	}
	s->active = true;
	s->session_t0 = now;
	s->run_s = 0;
	if (transition(s, SS_RUNNING, "session started by the operator") !=
	    0) {
		stream_free(&s->sm);
		journal_close(&s->jr);
		s->active = false;
		REFUSE("bad_state", "state %s: cannot start",
		    session_state_name(s->state));
	}
	publish(s, "event", json_pack("{s:s, s:I, s:f, s:s, s:s}", "type",
	    "session_start", "dots", (json_int_t)s->pl->n, "estimate_s",
	    s->sm.est_total_s, "journal", journal_path(s->jr), "plan",
	    s->pl->source));
	stream_pump(s);
	*reply = json_pack("{s:s, s:f}", "journal", journal_path(s->jr),
	    "estimate_s", s->sm.est_total_s);
	return 0;
}

static int
cmd_resume(struct session *s, double now, json_t **reply, char *code,
    size_t codelen, char *msg, size_t msglen)
{
	struct session_counts c;
	char err[512];

	if (!s->active || (s->state != SS_PAUSED && s->state != SS_FAULTED))
		REFUSE("bad_state", "state %s: resume needs a paused session",
		    session_state_name(s->state));
	if (s->stop != STOP_NONE)
		REFUSE("busy", "the safe stop is still under way");
	if (can_run(s, now, code, codelen, msg, msglen) != 0)
		return -1;
	session_counts(s, &c);
	if (c.pending == 0) {
		journal_end(s->jr, "completed", s->n_done, s->n_uncertain);
		journal_close(&s->jr);
		s->active = false;
		publish(s, "event", json_pack("{s:s, s:s, s:I, s:I, s:I, s:f}",
		    "type", "session_end", "result", "completed", "delivered",
		    (json_int_t)s->n_done, "uncertain",
		    (json_int_t)s->n_uncertain, "total", (json_int_t)s->pl->n,
		    "elapsed_s", s->run_s));
		transition(s, SS_COMPLETED, "nothing left to deliver");
		*reply = json_pack("{s:I}", "pending", (json_int_t)0);
		return 0;
	}
	if (stream_start(s, false, now, err, sizeof(err)) != 0)
		REFUSE("preflight_failed", "cannot rebuild the toolpath: %s",
		    err);
	if (transition(s, SS_RESUMING, "resumed by the operator: %zu dots "
	    "left", c.pending) != 0) {
		stream_free(&s->sm);
		REFUSE("bad_state", "state %s: cannot resume",
		    session_state_name(s->state));
	}
	stream_pump(s);
	*reply = json_pack("{s:I, s:f}", "pending", (json_int_t)c.pending,
	    "estimate_s", s->sm.est_total_s);
	return 0;
}

static int
parse_ids(struct session *s, json_t *ids, long **out, size_t *n, char *code,
    size_t codelen, char *msg, size_t msglen)
{
	size_t i;
	json_t *v;

	*n = 0;
	*out = NULL;
	if (ids == NULL) {
		for (i = 0; i < s->pl->n; i++)
			if (s->fate[i] == JF_UNCERTAIN)
				(*n)++;
		*out = calloc(*n ? *n : 1, sizeof(long));
		if (*out == NULL)
			REFUSE("io_error", "out of memory");
		*n = 0;
		for (i = 0; i < s->pl->n; i++)
			if (s->fate[i] == JF_UNCERTAIN)
				(*out)[(*n)++] = (long)i;
		return 0;
	}
	if (!json_is_array(ids))
		REFUSE("bad_request", "\"ids\" must be an array of dot ids");
	*out = calloc(json_array_size(ids) ? json_array_size(ids) : 1,
	    sizeof(long));
	if (*out == NULL)
		REFUSE("io_error", "out of memory");
	json_array_foreach(ids, i, v) {
		long idx;
		if (!json_is_integer(v)) {
			free(*out);
			REFUSE("bad_request", "ids[%zu]: not an integer", i);
		}
		idx = find_id(s, json_integer_value(v));
		if (idx < 0 || s->fate[idx] != JF_UNCERTAIN) {
			free(*out);
			REFUSE("not_uncertain", "ids[%zu]: dot %" JSON_INTEGER_FORMAT
			    " is %s", i, json_integer_value(v), idx < 0 ?
			    "not in the plan" : "not uncertain");
		}
		(*out)[(*n)++] = idx;
	}
	return 0;
}

static json_t *
config_view(const struct session *s)
{
	const struct smpd_config *c = s->cfg;
	const struct planner_config *p = s->pcfg;

	return json_pack("{s:s, s:{s:s, s:i, s:f, s:i, s:b}, "
	    "s:{s:s, s:i, s:b, s:i}, s:{s:[f,f,f], s:[f,f,f]}, "
	    "s:{s:f, s:f, s:f, s:f, s:i}}",
	    "machine_id", c->machine_id,
	    "controller", "port", c->port, "baud", c->baud, "status_poll_hz",
	    c->status_poll_hz, "watchdog_ms", c->watchdog_ms, "homing",
	    c->homing,
	    "session", "journal", c->journal_dir, "heartbeat_ms",
	    c->heartbeat_ms, "require_heartbeat", c->require_heartbeat,
	    "max_dots_in_flight", c->max_dots_in_flight,
	    "machine", "envelope_min", p->env_min_mm[0], p->env_min_mm[1],
	    p->env_min_mm[2], "envelope_max", p->env_max_mm[0],
	    p->env_max_mm[1], p->env_max_mm[2],
	    "needle", "clearance_mm", p->clearance_mm, "max_depth_mm",
	    p->max_depth_mm, "min_depth_mm", p->min_depth_mm,
	    "plunge_feed_mm_min", p->plunge_feed_mm_min,
	    "default_dwell_ms", (int)p->default_dwell_ms);
}

int
session_command(struct session *s, enum ctl_cmd cmd, json_t *args,
    double now, json_t **reply, char *code, size_t codelen, char *msg,
    size_t msglen)
{
	enum session_state st = s->state;
	char line[128], num[3][32];
	long *idx = NULL;
	size_t n, i;

	s->now = now;
	*reply = NULL;
	code[0] = msg[0] = '\0';
	switch (cmd) {
	case CTL_PING:
		*reply = json_pack("{s:b, s:s}", "pong", 1, "state",
		    session_state_name(st));
		return 0;
	case CTL_STATUS:
		*reply = json_pack("{s:o}", "status",
		    session_status_json(s, now));
		return 0;
	case CTL_CONFIG:
		*reply = json_pack("{s:o}", "config", config_view(s));
		return 0;
	case CTL_HEARTBEAT:
		s->last_heartbeat = now;
		*reply = json_pack("{s:i}", "heartbeat_ms", s->cfg->heartbeat_ms);
		return 0;
	case CTL_LOAD:
		return cmd_load(s, args, reply, code, codelen, msg, msglen);
	case CTL_PREFLIGHT: {
		char err[512];
		if (st != SS_LOADED && st != SS_READY)
			REFUSE("bad_state", "state %s: preflight needs a loaded "
			    "plan", session_state_name(st));
		if (s->link != LINK_READY || engine(s) == NULL)
			REFUSE("not_connected", "the controller is not "
			    "connected");
		if (s->alarm)
			REFUSE("alarm", "the controller is in alarm");
		if (s->cfg->homing && !s->homed)
			REFUSE("not_homed", "the machine is not homed: home "
			    "first");
		if (!s->origin_ok)
			REFUSE("no_origin", "the work origin is not confirmed: "
			    "set-origin first");
		if (s->op != OP_NONE)
			REFUSE("busy", "%s is still under way", s->op_name);
		if (!s->have_status || s->st.state != GRBL_STATE_IDLE)
			REFUSE("busy", "the machine is not at rest (controller "
			    "%s)", grbl_state_name(s->st.state));
		if (stream_start(s, true, now, err, sizeof(err)) != 0)
			REFUSE("preflight_failed", "%s", err);
		s->gen = (s->gen + 1) & 0x7fffff;
		if (grbl_send_line(engine(s), "$C", TAG(s->gen, K_CHECK_ON,
		    0)) != 0) {
			stream_free(&s->sm);
			REFUSE("busy", "the controller's buffer is full");
		}
		s->pf = PF_CHECK_ON;
		s->preflight_ok = false;
		transition(s, SS_PREFLIGHT, "checking %zu dots in check mode",
		    s->sm.tp.n);
		*reply = json_pack("{s:I}", "dots", (json_int_t)s->sm.tp.n);
		return 0;
	}
	case CTL_HOME:
		if (!is_quiet_state(st))
			REFUSE("bad_state", "state %s: cannot home now",
			    session_state_name(st));
		if (s->stop != STOP_NONE)
			REFUSE("busy", "the safe stop is still under way");
		if (send_op(s, OP_HOME, K_HOME, "$H", "home", now, code,
		    codelen, msg, msglen) != 0)
			return -1;
		s->op_return = st;
		s->preflight_ok = false;
		transition(s, SS_HOMING, "homing cycle ($H)");
		return 0;
	case CTL_UNLOCK:
		if (!is_quiet_state(st))
			REFUSE("bad_state", "state %s: cannot unlock now",
			    session_state_name(st));
		return send_op(s, OP_UNLOCK, K_UNLOCK, "$X", "unlock", now,
		    code, codelen, msg, msglen);
	case CTL_SET_ORIGIN: {
		json_t *w = json_object_get(args, "wco");
		if (s->active || !(st == SS_IDLE || st == SS_LOADED ||
		    st == SS_READY || st == SS_COMPLETED || st == SS_ABORTED))
			REFUSE("bad_state", "state %s: the origin cannot change "
			    "now%s", session_state_name(st), s->active ?
			    " (a session is under way)" : "");
		if (s->alarm)
			REFUSE("alarm", "the controller is in alarm");
		if (w != NULL) {
			if (!json_is_array(w) || json_array_size(w) != 3)
				REFUSE("bad_request", "\"wco\" must be [x, y, z] "
				    "in machine coordinates");
			for (i = 0; i < 3; i++) {
				json_t *v = json_array_get(w, i);
				if (!json_is_number(v) ||
				    !isfinite(json_number_value(v)))
					REFUSE("bad_request", "wco[%zu]: not a "
					    "number", i);
				gcode_fmt_num(num[i], sizeof(num[i]),
				    json_number_value(v));
			}
			snprintf(line, sizeof(line), "G10L2P1X%sY%sZ%s", num[0],
			    num[1], num[2]);
		} else
			snprintf(line, sizeof(line), "G10L20P1X0Y0Z0");
		if (send_op(s, OP_ORIGIN, K_ORIGIN, line, "set-origin", now,
		    code, codelen, msg, msglen) != 0)
			return -1;
		if (st == SS_READY)
			transition(s, SS_LOADED, "origin changed: preflight "
			    "again");
		return 0;
	}
	case CTL_JOG: {
		const char *ax = "XYZ";
		bool rel = json_is_true(json_object_get(args, "relative"));
		json_t *f = json_object_get(args, "feed");
		double feed = f != NULL ? json_number_value(f) : 600.0;
		size_t off;
		int naxes = 0;
		const double *from = s->st.wpos;
		double to[3];

		if (!is_quiet_state(st))
			REFUSE("bad_state", "state %s: cannot jog now",
			    session_state_name(st));
		if (s->stop != STOP_NONE)
			REFUSE("busy", "the safe stop is still under way");
		/* Until the operation before has shown its effect the
		 * position below is stale (a relative target, the skin check). */
		if (s->op != OP_NONE)
			REFUSE("busy", "%s is still under way", s->op_name);
		if (s->alarm)
			REFUSE("alarm", "the controller is in alarm");
		if (!(feed > 0 && feed <= 10000))
			REFUSE("bad_request", "feed: %g out of (0, 10000] "
			    "mm/min", feed);
		/* Where the jog ends; an axis not given stays. */
		memcpy(to, from, sizeof(to));
		off = (size_t)snprintf(line, sizeof(line), "$J=G21%s",
		    rel ? "G91" : "G90");
		for (i = 0; i < 3; i++) {
			char key[2] = { (char)(ax[i] + 'a' - 'A'), 0 };
			json_t *v = json_object_get(args, key);
			if (v == NULL)
				continue;
			if (!json_is_number(v) ||
			    !isfinite(json_number_value(v)))
				REFUSE("bad_request", "%s: not a number", key);
			to[i] = json_number_value(v) + (rel ? from[i] : 0);
			if (to[i] < s->pcfg->env_min_mm[i] ||
			    to[i] > s->pcfg->env_max_mm[i])
				REFUSE("out_of_envelope", "%s: the jog would end "
				    "at %.3f, outside the envelope [%g, %g]",
				    key, to[i], s->pcfg->env_min_mm[i],
				    s->pcfg->env_max_mm[i]);
			gcode_fmt_num(num[0], sizeof(num[0]),
			    json_number_value(v));
			off += (size_t)snprintf(line + off, sizeof(line) - off,
			    "%c%s", ax[i], num[0]);
			naxes++;
		}
		if (naxes == 0)
			REFUSE("bad_request", "jog needs at least one of x, y, "
			    "z");
		/* Once the origin places the plan's skin on the machine, a jog
		 * may not take the tip below the clearance plane anywhere on
		 * its way (the skin under it may rise between the ends), except
		 * straight up, which is how a tip below it gets out. Before
		 * that the operator is setting up (touching off) and watches. */
		if (s->origin_ok && s->pl != NULL && !(to[0] == from[0] &&
		    to[1] == from[1] && to[2] >= from[2])) {
			double need = planning_safe_z_segment(s->pl, s->pcfg,
			    from[0], from[1], to[0], to[1]);
			if (fmin(from[2], to[2]) < need - 0.0005)
				REFUSE("below_clearance", "the jog would take "
				    "the tip below the clearance plane of the "
				    "skin on its way (z %.3f..%.3f, needs %.3f "
				    "or more): jog up first", from[2], to[2],
				    need);
		}
		gcode_fmt_num(num[0], sizeof(num[0]), feed);
		snprintf(line + off, sizeof(line) - off, "F%s", num[0]);
		if (strlen(line) > GRBL_LINE_MAX)
			REFUSE("bad_request", "jog line too long");
		return send_op(s, OP_JOG, K_JOG, line, "jog", now, code,
		    codelen, msg, msglen);
	}
	case CTL_START:
		return cmd_start(s, now, reply, code, codelen, msg, msglen);
	case CTL_PAUSE:
		if (st != SS_RUNNING && st != SS_RESUMING)
			REFUSE("bad_state", "state %s: nothing is running",
			    session_state_name(st));
		transition(s, SS_PAUSING, "paused by the operator");
		stop_begin(s, SS_PAUSED, STOP_HOLD, true,
		    "paused by the operator", now);
		return 0;
	case CTL_RESUME:
		return cmd_resume(s, now, reply, code, codelen, msg, msglen);
	case CTL_ABORT:
		if (st == SS_RUNNING || st == SS_RESUMING || st == SS_PAUSING ||
		    ((st == SS_PAUSED || st == SS_FAULTED) && s->active)) {
			transition(s, SS_ABORTING, "aborted by the operator");
			stop_begin(s, SS_ABORTED, s->link == LINK_READY ?
			    STOP_HOLD : STOP_WAIT_LINK, true,
			    "aborted by the operator", now);
			if (s->link != LINK_READY) {
				/* Nothing to stop: the controller is gone;
				 * close the session now. */
				s->stop = STOP_NONE;
				stop_finish(s, now);
			}
			return 0;
		}
		if (st == SS_PREFLIGHT && engine(s) != NULL) {
			s->sm.failed = true;
			snprintf(s->sm.fail_msg, sizeof(s->sm.fail_msg),
			    "aborted by the operator");
			grbl_flush(engine(s));
			realtime(s, GRBL_RT_RESET);
			s->pf = PF_CHECK_OFF;
			return 0;
		}
		if ((st == SS_HOMING || s->op == OP_JOG) && engine(s) != NULL) {
			if (s->op == OP_JOG)
				realtime(s, GRBL_RT_JOG_CANCEL);
			else {
				grbl_flush(engine(s));
				realtime(s, GRBL_RT_RESET);
			}
			return 0;
		}
		REFUSE("bad_state", "state %s: nothing to abort",
		    session_state_name(st));
	case CTL_LIST_UNCERTAIN:
		*reply = json_pack("{s:o}", "ids", uncertain_ids(s, 100000));
		return 0;
	case CTL_ACK_UNCERTAIN:
	case CTL_REDO:
		if (s->pl == NULL || !s->active)
			REFUSE("bad_state", "state %s: no session under way",
			    session_state_name(st));
		if (cmd == CTL_REDO && st != SS_PAUSED && st != SS_FAULTED)
			REFUSE("bad_state", "state %s: redo needs a paused "
			    "session", session_state_name(st));
		if (cmd == CTL_REDO && json_object_get(args, "ids") == NULL)
			REFUSE("bad_request", "redo needs \"ids\": the exact "
			    "uncertain dots to deliver again");
		if (parse_ids(s, json_object_get(args, "ids"), &idx, &n, code,
		    codelen, msg, msglen) != 0)
			return -1;
		for (i = 0; i < n; i++) {
			int64_t id = s->pl->plan->dots[idx[i]].id;
			int rc = cmd == CTL_REDO ?
			    journal_redo(s->jr, (uint32_t)idx[i], id) :
			    journal_ack(s->jr, (uint32_t)idx[i], id);
			if (rc != 0) {
				free(idx);
				REFUSE("io_error", "journal: %s",
				    strerror(errno));
			}
			set_fate(s, (uint32_t)idx[i], cmd == CTL_REDO ?
			    JF_PENDING : JF_ACKED);
		}
		free(idx);
		event(s, cmd == CTL_REDO ? "redo" : "ack", "%zu uncertain dots "
		    "%s by the operator", n, cmd == CTL_REDO ?
		    "will be delivered again" : "acknowledged (not to be "
		    "delivered)");
		*reply = json_pack("{s:I}", "count", (json_int_t)n);
		publish_status(s, now);
		return 0;
	case CTL_CMD_COUNT:
		break;
	}
	REFUSE("bad_request", "unknown command");
}

/* ------------------------------------------------------------- recovery */

int
session_recover(struct session *s, double now, char *err, size_t errlen)
{
	struct journal_replay r;
	char path[512];
	char *text = NULL;
	size_t len, i;
	uint64_t hash;
	struct planning *pl = NULL;
	json_t *ids;
	int rc;

	s->now = now;
	rc = journal_find_open(s->cfg->journal_dir, path, sizeof(path));
	if (rc < 0) {
		snprintf(err, errlen, "journal directory %s: %s",
		    s->cfg->journal_dir, strerror(errno));
		return -1;
	}
	if (rc == 0)
		return 0;
	if (journal_replay(path, &r, err, errlen) != 0)
		return -1;
	if ((text = journal_read_file(r.plan_path, &len, err, errlen)) == NULL)
		goto fail;
	hash = journal_hash(text, len);
	free(text);
	if (hash != r.h.plan_hash) {
		snprintf(err, errlen, "%s: the plan copy does not match the "
		    "journal's hash", r.plan_path);
		goto fail;
	}
	/* Loaded as a file, so that its bytes are not kept (the copy is on
	 * disk); the hash is checked again on what is parsed. */
	pl = planning_load(s->pcfg, r.plan_path, NULL, 0, r.h.format, NULL,
	    err, errlen);
	if (pl == NULL)
		goto fail;
	if (pl->hash != r.h.plan_hash) {
		snprintf(err, errlen, "%s: the plan copy changed while it was "
		    "read", r.plan_path);
		goto fail;
	}
	if (pl->n != r.h.dots) {
		snprintf(err, errlen, "%s: %zu dots, the journal says %" PRIu32,
		    r.plan_path, pl->n, r.h.dots);
		goto fail;
	}
	if (r.h.config_digest != s->cfg->digest)
		log_warnx("session: the configuration changed since the "
		    "session started");
	if ((s->jr = journal_reopen(path, err, errlen)) == NULL)
		goto fail;
	drop_plan(s);
	s->pl = pl;
	s->fate = r.fate;
	r.fate = NULL;
	for (i = 0; i < pl->n; i++) {
		enum journal_fate f = (enum journal_fate)s->fate[i];
		s->fate[i] = JF_PENDING;
		set_fate(s, (uint32_t)i, f);
	}
	s->active = true;
	s->recovered = true;
	s->needle_on = true;   /* unknown: assume the worst until stopped */
	if (r.has_origin)
		memcpy(s->origin_wco, r.origin, sizeof(s->origin_wco));
	snprintf(s->stop_cause, sizeof(s->stop_cause), "recovered from "
	    "journal after a restart");
	log_warnx("session: recovered %s: %zu delivered, %zu uncertain, %zu "
	    "left%s%s", path, s->n_done, s->n_uncertain,
	    pl->n - s->n_done - s->n_uncertain - s->n_acked,
	    r.torn ? "; torn last record ignored" : "",
	    r.damaged ? "; DAMAGED records: undelivered dots made uncertain" :
	    "");
	ids = uncertain_ids(s, 100000);
	publish(s, "event", json_pack("{s:s, s:s, s:I, s:I, s:o}", "type",
	    "recovered", "journal", path, "delivered", (json_int_t)s->n_done,
	    "uncertain", (json_int_t)s->n_uncertain, "ids", ids));
	journal_replay_free(&r);
	return 1;
fail:
	planning_destroy(&pl);
	journal_replay_free(&r);
	return -1;
}
