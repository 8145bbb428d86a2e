/*
 * A link to one GRBL-class controller (see link.h for the state diagram).
 *
 * The link owns the transport and one protocol engine for its whole life, so
 * the engine pointer the caller holds (link_grbl) stays valid across
 * reconnects. It is driven only by link_step(now): no sleeping, no blocking,
 * every wait is a deadline compared with the caller's monotonic clock.
 *
 * The handshake sends its own two lines ($I, $$) through the engine with
 * reserved tags and swallows their answers; from READY on, every engine
 * event is passed through untouched. When the connection ends, for whatever
 * reason, unanswered lines come out as GRBL_EV_LOST events first and then
 * LINK_EV_DOWN, so the caller always learns which lines' fate is unknown.
 */
#include "drivers/link.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/grbl_codes.h"
#include "drivers/transport.h"

#define BACKOFF_START_MS 250
/* The first banner wait: a board that resets when the port opens greets
 * within about a second; one that did not reset never will. */
#define FIRST_BANNER_WAIT_MS 1500
#define QUERY_STATUS_RETRY_S 0.25 /* `?` again at connect until answered */
#define READ_CHUNK 4096
#define READS_PER_STEP 16      /* bound the work of one step */

#define TAG_INFO LINK_TAG_RESERVED         /* $I */
#define TAG_SETTINGS (LINK_TAG_RESERVED + 1) /* $$ */

enum query_step {
	Q_INFO,        /* $I sent */
	Q_SETTINGS,    /* $$ sent */
	Q_STATUS,      /* `?` sent, waiting for the first report */
};

struct link {
	struct link_opts opts;
	char *port;

	enum link_state state;
	struct transport *t;
	struct grbl *g;
	struct link_info info;

	double now_s;           /* the clock of the last link_step */
	double next_open_s;     /* DOWN: when to try again */
	int backoff_ms;
	double deadline_s;      /* WAIT_BANNER, QUERY: give up (or reset) */
	bool reset_sent;        /* WAIT_BANNER: soft reset already tried */
	enum query_step qstep;
	bool unlock_msg;        /* "'$H'|'$X' to unlock" seen at connect */

	double poll_next_s;     /* READY: next `?` */
	double status_wait_s;   /* first unanswered `?`; 0 when none */
	bool critical_alarm;    /* ALARM:1/2 seen, no reset since */

	struct link_event *ev;  /* event ring */
	size_t ev_cap, ev_head, ev_n;
};

static void
state_set(struct link *l, enum link_state s)
{
	/* The only place the link's state changes. */
	l->state = s;
}

static struct link_event *
ev_push(struct link *l, enum link_event_kind kind)
{
	struct link_event *ev, *nev;
	size_t i, ncap;

	if (l->ev_n == l->ev_cap) {
		ncap = l->ev_cap * 2;
		if ((nev = calloc(ncap, sizeof(*nev))) == NULL)
			return NULL;
		for (i = 0; i < l->ev_n; i++)
			nev[i] = l->ev[(l->ev_head + i) % l->ev_cap];
		free(l->ev);
		l->ev = nev;
		l->ev_cap = ncap;
		l->ev_head = 0;
	}
	ev = &l->ev[(l->ev_head + l->ev_n) % l->ev_cap];
	l->ev_n++;
	ev->kind = kind;
	ev->text[0] = '\0';
	ev->grbl.kind = GRBL_EV_NONE;
	return ev;
}

static void
ev_text(struct link *l, enum link_event_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ev_text(struct link *l, enum link_event_kind kind, const char *fmt, ...)
{
	struct link_event *ev;
	va_list ap;

	if ((ev = ev_push(l, kind)) == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(ev->text, sizeof(ev->text), fmt, ap);
	va_end(ap);
}

static void
ev_grbl(struct link *l, const struct grbl_event *gev)
{
	struct link_event *ev;

	if ((ev = ev_push(l, LINK_EV_GRBL)) != NULL)
		ev->grbl = *gev;
}

struct link *
link_new(const struct link_opts *opts)
{
	struct link *l = NULL;

	if (opts == NULL || opts->port == NULL)
		goto fail;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		goto fail;
	l->opts = *opts;
	if ((l->port = strdup(opts->port)) == NULL)
		goto fail;
	l->opts.port = l->port;
	if (l->opts.status_poll_hz <= 0)
		l->opts.status_poll_hz = 10;
	if (l->opts.watchdog_ms <= 0)
		l->opts.watchdog_ms = 1000;
	if (l->opts.connect_timeout_ms <= 0)
		l->opts.connect_timeout_ms = 5000;
	if (l->opts.reconnect_max_ms < BACKOFF_START_MS)
		l->opts.reconnect_max_ms = BACKOFF_START_MS;
	if ((l->g = grbl_new(128)) == NULL)
		goto fail;
	l->ev_cap = 32;
	if ((l->ev = calloc(l->ev_cap, sizeof(*l->ev))) == NULL)
		goto fail;
	l->backoff_ms = BACKOFF_START_MS;
	state_set(l, LINK_DOWN);
	return l;
fail:
	link_destroy(&l);
	return NULL;
}

void
link_destroy(struct link **lp)
{
	struct link *l;

	if (lp == NULL || (l = *lp) == NULL)
		return;
	transport_destroy(&l->t);
	grbl_destroy(&l->g);
	free(l->ev);
	free(l->port);
	free(l);
	*lp = NULL;
}

/* Ends the connection: unanswered lines come out LOST, then DOWN. */
static void
drop(struct link *l, const char *why_in)
{
	struct grbl_event gev;
	bool ready = l->state == LINK_READY;
	char why[128];

	if (l->state == LINK_DOWN)
		return;
	/* why may point into the transport (transport_why). */
	snprintf(why, sizeof(why), "%s", why_in);
	transport_destroy(&l->t);
	grbl_disconnect(l->g);
	while (grbl_next_event(l->g, &gev)) {
		/* The handshake's own lines are nobody else's business. */
		if (ready || gev.tag < LINK_TAG_RESERVED)
			ev_grbl(l, &gev);
	}
	state_set(l, LINK_DOWN);
	l->next_open_s = l->now_s + l->backoff_ms / 1000.0;
	ev_text(l, LINK_EV_DOWN, "%s: %s; reconnecting in %d ms", l->port, why,
	    l->backoff_ms);
	l->backoff_ms *= 2;
	if (l->backoff_ms > l->opts.reconnect_max_ms)
		l->backoff_ms = l->opts.reconnect_max_ms;
}

static void
try_open(struct link *l)
{
	char err[160];

	l->t = transport_open(l->port, l->opts.baud, err, sizeof(err));
	if (l->t == NULL) {
		ev_text(l, LINK_EV_LOG, "%s; retrying in %d ms", err,
		    l->backoff_ms);
		l->next_open_s = l->now_s + l->backoff_ms / 1000.0;
		l->backoff_ms *= 2;
		if (l->backoff_ms > l->opts.reconnect_max_ms)
			l->backoff_ms = l->opts.reconnect_max_ms;
		return;
	}
	/* A fresh engine view: nothing of the previous connection, answers
	 * unmatched until the banner, counting against GRBL's default. */
	grbl_disconnect(l->g);
	grbl_set_rx_size(l->g, 128);
	memset(&l->info, 0, sizeof(l->info));
	l->info.planner_blocks = 15;
	l->info.rx_size = 128;
	l->reset_sent = false;
	l->unlock_msg = false;
	l->critical_alarm = false;
	l->status_wait_s = 0;
	l->deadline_s = l->now_s + (l->opts.connect_timeout_ms <
	    FIRST_BANNER_WAIT_MS ? l->opts.connect_timeout_ms :
	    FIRST_BANNER_WAIT_MS) / 1000.0;
	state_set(l, LINK_WAIT_BANNER);
	ev_text(l, LINK_EV_LOG, "%s: open, waiting for the banner", l->port);
}

/* "1.1h.20190830:" or "1.1h.20190830:my machine": keep the version. */
static void
parse_ver(struct link *l, const char *s)
{
	size_t n = strcspn(s, ":");

	if (n >= sizeof(l->info.version))
		n = sizeof(l->info.version) - 1;
	memcpy(l->info.version, s, n);
	l->info.version[n] = '\0';
}

/* "V,15,128" (grblHAL adds fields after rx). */
static void
parse_opt(struct link *l, const char *s)
{
	const char *c1 = strchr(s, ',');
	char *end;
	long blocks, rx;
	size_t n;

	if (c1 == NULL)
		goto bad;
	blocks = strtol(c1 + 1, &end, 10);
	if (end == c1 + 1 || *end != ',' || blocks < 1 || blocks > 10000)
		goto bad;
	rx = strtol(end + 1, &end, 10);
	if ((*end != '\0' && *end != ',') || rx < 16 || rx > 65536)
		goto bad;
	n = (size_t)(c1 - s);
	if (n >= sizeof(l->info.options))
		n = sizeof(l->info.options) - 1;
	memcpy(l->info.options, s, n);
	l->info.options[n] = '\0';
	l->info.planner_blocks = (int)blocks;
	l->info.rx_size = (int)rx;
	grbl_set_rx_size(l->g, (int)rx);
	return;
bad:
	ev_text(l, LINK_EV_LOG, "%s: unreadable [OPT:%.60s]; assuming 15 "
	    "blocks, 128 bytes", l->port, s);
}

static void
begin_query(struct link *l, const char *banner)
{
	size_t n = strcspn(banner, "[");

	while (n > 0 && banner[n - 1] == ' ')
		n--;
	if (n >= sizeof(l->info.version))
		n = sizeof(l->info.version) - 1;
	memcpy(l->info.version, banner, n);
	l->info.version[n] = '\0';
	ev_text(l, LINK_EV_LOG, "%s: controller says \"%s\"", l->port, banner);
	state_set(l, LINK_QUERY);
	l->qstep = Q_INFO;
	l->deadline_s = l->now_s + l->opts.connect_timeout_ms / 1000.0;
	/* Nothing else is queued after a banner, so this always fits. */
	grbl_send_line(l->g, "$I", TAG_INFO);
}

static void
become_ready(struct link *l, const struct grbl_status *st)
{
	l->info.alarm_at_connect = l->unlock_msg || st->state ==
	    GRBL_STATE_ALARM;
	state_set(l, LINK_READY);
	l->backoff_ms = BACKOFF_START_MS;
	l->status_wait_s = 0;
	l->poll_next_s = l->now_s + 1.0 / l->opts.status_poll_hz;
	ev_push(l, LINK_EV_UP);
}

static void
handle_query(struct link *l, const struct grbl_event *ev)
{
	switch (ev->kind) {
	case GRBL_EV_FEEDBACK:
		if (strncmp(ev->text, "VER:", 4) == 0)
			parse_ver(l, ev->text + 4);
		else if (strncmp(ev->text, "OPT:", 4) == 0)
			parse_opt(l, ev->text + 4);
		break;
	case GRBL_EV_SETTING:
		if (ev->setting >= 0 && ev->setting < LINK_MAX_SETTINGS) {
			l->info.settings[ev->setting] = ev->value;
			l->info.has_setting[ev->setting] = true;
		}
		break;
	case GRBL_EV_MSG:
		if (strstr(ev->text, "unlock") != NULL)
			l->unlock_msg = true;
		ev_text(l, LINK_EV_LOG, "%s: [MSG:%s]", l->port, ev->text);
		break;
	case GRBL_EV_OK:
	case GRBL_EV_ERROR:
		if (ev->tag == TAG_INFO && l->qstep == Q_INFO) {
			if (ev->kind == GRBL_EV_ERROR)
				ev_text(l, LINK_EV_LOG, "%s: $I refused "
				    "(error:%d); assuming GRBL 1.1 buffers",
				    l->port, ev->code);
			l->qstep = Q_SETTINGS;
			grbl_send_line(l->g, "$$", TAG_SETTINGS);
		} else if (ev->tag == TAG_SETTINGS && l->qstep == Q_SETTINGS) {
			if (ev->kind == GRBL_EV_ERROR) {
				char why[64];
				snprintf(why, sizeof(why), "$$ refused "
				    "(error:%d)", ev->code);
				drop(l, why);
				return;
			}
			l->qstep = Q_STATUS;
			grbl_send_realtime(l->g, GRBL_RT_STATUS);
			l->poll_next_s = l->now_s + QUERY_STATUS_RETRY_S;
		}
		break;
	case GRBL_EV_STATUS:
		if (l->qstep == Q_STATUS)
			become_ready(l, &ev->status);
		break;
	case GRBL_EV_ALARM:
		ev_text(l, LINK_EV_LOG, "%s: ALARM:%d during connect (%s)",
		    l->port, ev->code, grbl_alarm_text(ev->code) ?
		    grbl_alarm_text(ev->code) : "unknown alarm");
		if (grbl_alarm_is_critical(ev->code)) {
			l->critical_alarm = true;
			/* GRBL will not answer the `?` now: what the link
			 * needed is in, and the caller must see the alarm
			 * (and reset), not a link that never comes up. */
			if (l->qstep == Q_STATUS) {
				struct grbl_status st = *grbl_last_status(l->g);
				st.state = GRBL_STATE_ALARM;
				become_ready(l, &st);
			}
		}
		break;
	default:
		break;
	}
}

static void
handle_event(struct link *l, const struct grbl_event *ev)
{
	switch (l->state) {
	case LINK_DOWN:
		break;
	case LINK_WAIT_BANNER:
		if (ev->kind == GRBL_EV_BANNER)
			begin_query(l, ev->text);
		break;
	case LINK_QUERY:
		if (ev->kind == GRBL_EV_BANNER) {
			/* Reset mid-handshake (a board's own reset after
			 * ours): start the queries again. */
			begin_query(l, ev->text);
			break;
		}
		handle_query(l, ev);
		break;
	case LINK_READY:
		if (ev->kind == GRBL_EV_STATUS) {
			l->status_wait_s = 0;
		} else if (ev->kind == GRBL_EV_ALARM &&
		    grbl_alarm_is_critical(ev->code)) {
			l->critical_alarm = true;
		} else if (ev->kind == GRBL_EV_BANNER) {
			l->critical_alarm = false;
			l->status_wait_s = 0;
		}
		ev_grbl(l, ev);
		break;
	}
}

static int
flush_output(struct link *l)
{
	const uint8_t *buf;
	size_t n;
	ssize_t w;

	while (l->t != NULL && (n = grbl_tx_pending(l->g, &buf)) > 0) {
		if ((w = transport_write(l->t, buf, n)) < 0) {
			drop(l, transport_why(l->t));
			return -1;
		}
		if (w == 0)
			break;
		grbl_tx_consume(l->g, (size_t)w);
	}
	return 0;
}

static void
read_input(struct link *l)
{
	char buf[READ_CHUNK];
	struct grbl_event ev;
	ssize_t n;
	int i;

	for (i = 0; i < READS_PER_STEP && l->t != NULL; i++) {
		n = transport_read(l->t, buf, sizeof(buf));
		if (n < 0) {
			drop(l, transport_why(l->t));
			return;
		}
		if (n == 0)
			break;
		grbl_feed(l->g, buf, (size_t)n);
		/* Handle events line by line as they come: a banner changes
		 * how the lines after it are read. */
		while (l->state != LINK_DOWN && grbl_next_event(l->g, &ev))
			handle_event(l, &ev);
	}
}

static void
run_timers(struct link *l)
{
	double now = l->now_s, period;

	switch (l->state) {
	case LINK_DOWN:
		break;
	case LINK_WAIT_BANNER:
		if (now < l->deadline_s)
			break;
		if (!l->reset_sent) {
			/* We may have opened after the greeting went by. */
			l->reset_sent = true;
			grbl_send_realtime(l->g, GRBL_RT_RESET);
			l->deadline_s = now + l->opts.connect_timeout_ms /
			    1000.0;
			ev_text(l, LINK_EV_LOG, "%s: no banner; sending a "
			    "soft reset", l->port);
		} else {
			drop(l, "no banner, even after a soft reset");
		}
		break;
	case LINK_QUERY:
		/* A report damaged on the wire must not cost the connect:
		 * ask again until one parses. */
		if (l->qstep == Q_STATUS && now >= l->poll_next_s &&
		    now < l->deadline_s) {
			grbl_send_realtime(l->g, GRBL_RT_STATUS);
			l->poll_next_s = now + QUERY_STATUS_RETRY_S;
		}
		if (now >= l->deadline_s)
			drop(l, l->qstep == Q_INFO ? "no answer to $I" :
			    l->qstep == Q_SETTINGS ? "no answer to $$" :
			    "no status report at connect");
		break;
	case LINK_READY:
		/* GRBL answers no `?` while homing, nor after a critical
		 * alarm until reset: neither means the link is gone, so the
		 * watchdog's clock restarts after them. */
		if (l->critical_alarm || grbl_homing_pending(l->g))
			l->status_wait_s = 0;
		if (l->status_wait_s > 0 && now - l->status_wait_s >=
		    l->opts.watchdog_ms / 1000.0) {
			char why[80];
			snprintf(why, sizeof(why), "watchdog: no status "
			    "report in %d ms", l->opts.watchdog_ms);
			drop(l, why);
			break;
		}
		if (now >= l->poll_next_s) {
			grbl_send_realtime(l->g, GRBL_RT_STATUS);
			if (l->status_wait_s == 0 && !l->critical_alarm &&
			    !grbl_homing_pending(l->g))
				l->status_wait_s = now;
			period = 1.0 / l->opts.status_poll_hz;
			l->poll_next_s += period;
			if (l->poll_next_s <= now)
				l->poll_next_s = now + period;
		}
		break;
	}
}

void
link_step(struct link *l, double now_s, short revents)
{
	l->now_s = now_s;
	if (l->state == LINK_DOWN) {
		if (now_s < l->next_open_s)
			return;
		try_open(l);
		if (l->t == NULL)
			return;
	}
	if (revents & POLLNVAL) {
		drop(l, "descriptor closed under us");
		return;
	}
	/* Write first: a real-time byte queued since the last step should
	 * not wait behind our reading. */
	if (flush_output(l) < 0)
		return;
	read_input(l);
	run_timers(l);
	flush_output(l);
}

void
link_flush(struct link *l)
{
	if (l->state != LINK_DOWN)
		(void)flush_output(l);
}

bool
link_next_event(struct link *l, struct link_event *ev)
{
	if (l->ev_n == 0)
		return false;
	*ev = l->ev[l->ev_head];
	l->ev_head = (l->ev_head + 1) % l->ev_cap;
	l->ev_n--;
	return true;
}

int
link_poll_fd(const struct link *l, short *events)
{
	if (l->t == NULL) {
		if (events != NULL)
			*events = 0;
		return -1;
	}
	if (events != NULL)
		*events = POLLIN | (grbl_tx_pending(l->g, NULL) > 0 ?
		    POLLOUT : 0);
	return transport_fd(l->t);
}

static double
min_d(double a, double b)
{
	return a < b ? a : b;
}

int
link_timeout_ms(const struct link *l, double now_s)
{
	double at;

	switch (l->state) {
	case LINK_DOWN:
		at = l->next_open_s;
		break;
	case LINK_WAIT_BANNER:
		at = l->deadline_s;
		break;
	case LINK_QUERY:
		at = l->deadline_s;
		if (l->qstep == Q_STATUS)
			at = min_d(at, l->poll_next_s);
		break;
	case LINK_READY:
	default:
		at = l->poll_next_s;
		if (l->status_wait_s > 0)
			at = min_d(at, l->status_wait_s +
			    l->opts.watchdog_ms / 1000.0);
		break;
	}
	if (at <= now_s)
		return 0;
	return (int)ceil((at - now_s) * 1000.0);
}

enum link_state
link_state(const struct link *l)
{
	return l->state;
}

const struct link_info *
link_info(const struct link *l)
{
	return &l->info;
}

struct grbl *
link_grbl(struct link *l)
{
	return l->g;
}

bool
link_alarm_critical(const struct link *l)
{
	return l->critical_alarm;
}

void
link_realtime(struct link *l, uint8_t byte)
{
	if (l->t == NULL)
		return;
	grbl_send_realtime(l->g, byte);
	flush_output(l);
}

void
link_drop(struct link *l, const char *why)
{
	drop(l, why != NULL ? why : "dropped by the caller");
}
