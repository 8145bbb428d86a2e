/*
 * smpweb: the live monitoring page. A read-only watcher that subscribes to
 * smpd's status endpoint (ZeroMQ SUB) and serves one page over HTTP and
 * WebSocket (libwebsockets): the plan's dots on the work area filling in as
 * they are delivered, state, progress, time left, needle, events.
 *
 * It never opens the control socket, so nothing it serves can move the
 * machine. The status stream carries no geometry, so the dots' positions come
 * from a plan file: --plan, else the verbatim plan copy the daemon keeps
 * beside its session journal, else the plan path the status names. Which
 * dots are delivered comes from the `dot` topic and, whenever the journal is
 * readable, from replaying it (the journal is the truth: a page opened, or a
 * smpweb started, mid-session shows every dot delivered so far).
 *
 * One thread, one loop: libwebsockets owns the poll; a 20 ms timer drains the
 * SUB socket without blocking. Each browser has a bounded queue: one that
 * falls behind loses its queue and is sent a full catch-up instead, so a slow
 * browser never makes smpweb grow without bound.
 */
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <dirent.h>
#include <jansson.h>
#include <libconfig.h>
#include <libwebsockets.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon/journal.h"
#include "daemon/keys.h"
#include "planner/pconfig.h"
#include "planner/plan.h"
#include "web/static_files.h"

#define WEB_BACKLOG_EVENTS 200          /* events replayed to a new page */
#define WEB_CLIENT_MAX_BYTES (32u << 20) /* queue before a forced resync */
#define WEB_FRAGMENT_BYTES 65536        /* one WebSocket write at most */
#define WEB_TICK_US 20000               /* SUB drain period */
#define WEB_FEED_PERIOD_S 1.0           /* "feed" heartbeat to pages */
#define WEB_MAX_ZMQ_MESSAGE (4u << 20)  /* a status frame larger is refused */

enum fate { F_PENDING = 0, F_DONE = 1, F_UNCERTAIN = 2, F_ACKED = 3 };

/* One message for the pages, shared by every client queue that holds it. */
struct msg {
	int refs;
	size_t len;
	unsigned char *buf;     /* LWS_PRE bytes, then len bytes of JSON */
};

struct qent {
	struct msg *m;
	struct qent *next;
};

struct client {
	struct lws *wsi;
	struct qent *head, *tail;
	size_t queued_bytes;
	size_t sent;            /* bytes of head already written */
	bool resync;            /* queue dropped: send a full catch-up */
	struct client *next;
};

struct idmap {
	int64_t id;
	uint32_t index;
};

struct web {
	/* options */
	const char *status_ep, *listen, *plan_opt, *config_path;
	const char *token;
	const char *tls_cert, *tls_key;
	const char *key_file, *server_key_file;
	const char *machine;    /* only this robot's messages (a relay feed) */
	bool follow;            /* read the plan/journal files the status names */
	int verbose;

	/* ZeroMQ */
	void *zctx, *sub;
	uint64_t lost;          /* messages missed, from seq gaps */
	json_int_t seq[3];
	double last_rx;         /* monotonic time of the last message */
	double next_feed;

	/* what the pages are shown */
	struct planner_config cfg;
	bool have_envelope;
	json_t *status;         /* latest status object */
	json_t *backlog;        /* array of the last events */
	char plan_source[512];  /* file the geometry came from, "" = none */
	char plan_note[512];    /* why there is no geometry, or a warning */
	struct plan *plan;
	struct idmap *ids;      /* sorted by id */
	uint8_t *fate;
	char journal_path[512];
	char journal_dir[512];  /* session.journal from -f, "" = unknown */
	bool looked_for_ended;
	char status_plan[512];
	struct msg *plan_msg;   /* cached: the geometry is large */

	/* libwebsockets */
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;
	struct client *clients;
	int port;
};

static volatile sig_atomic_t quit;
static struct web *W;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void __attribute__((format(printf, 1, 2)))
logx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smpweb: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ messages */

static struct msg *
msg_new(const char *text, size_t len)
{
	struct msg *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if ((m->buf = malloc(LWS_PRE + len)) == NULL) {
		free(m);
		return NULL;
	}
	memcpy(m->buf + LWS_PRE, text, len);
	m->len = len;
	m->refs = 1;
	return m;
}

/* Steals obj. NULL on allocation failure. */
static struct msg *
msg_json(json_t *obj)
{
	char *text;
	struct msg *m;

	if (obj == NULL)
		return NULL;
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
		return NULL;
	m = msg_new(text, strlen(text));
	free(text);
	return m;
}

static void
msg_unref(struct msg *m)
{
	if (m != NULL && --m->refs == 0) {
		free(m->buf);
		free(m);
	}
}

static void
client_clear(struct client *c)
{
	struct qent *q, *n;

	for (q = c->head; q != NULL; q = n) {
		n = q->next;
		msg_unref(q->m);
		free(q);
	}
	c->head = c->tail = NULL;
	c->queued_bytes = 0;
	c->sent = 0;
}

static void
client_push(struct client *c, struct msg *m)
{
	struct qent *q;

	if (m == NULL || c->resync)
		return;
	if (c->queued_bytes + m->len > WEB_CLIENT_MAX_BYTES ||
	    (q = malloc(sizeof(*q))) == NULL) {
		/* Behind by more than a catch-up costs: start over. The
		 * message being written stays (a frame cannot be cut). */
		struct qent *keep = c->sent > 0 ? c->head : NULL;
		if (keep != NULL) {
			c->head = keep->next;
			keep->next = NULL;
		}
		client_clear(c);
		if (keep != NULL) {
			c->head = c->tail = keep;
			c->queued_bytes = keep->m->len;
		}
		c->resync = true;
		lws_callback_on_writable(c->wsi);
		return;
	}
	m->refs++;
	q->m = m;
	q->next = NULL;
	if (c->tail != NULL)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->queued_bytes += m->len;
	lws_callback_on_writable(c->wsi);
}

/* Queues m and gives up the caller's reference. */
static void
push_own(struct client *c, struct msg *m)
{
	client_push(c, m);
	msg_unref(m);
}

static void
broadcast(struct web *w, struct msg *m)
{
	struct client *c;

	for (c = w->clients; c != NULL; c = c->next)
		client_push(c, m);
	msg_unref(m);
}

/* ------------------------------------------------------------ the plan */

static int
idmap_cmp(const void *a, const void *b)
{
	const struct idmap *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static long
index_of_id(const struct web *w, int64_t id)
{
	struct idmap key = { id, 0 }, *f;

	if (w->ids == NULL)
		return -1;
	f = bsearch(&key, w->ids, w->plan->n, sizeof(*w->ids), idmap_cmp);
	return f != NULL ? (long)f->index : -1;
}

static struct msg *
plan_message(struct web *w)
{
	json_t *o = json_object(), *ids = json_array(), *xs = json_array(),
	    *ys = json_array();
	size_t i;

	if (o == NULL || ids == NULL || xs == NULL || ys == NULL)
		goto fail;
	if (w->plan != NULL)
		for (i = 0; i < w->plan->n; i++) {
			const struct dot *d = &w->plan->dots[i];
			/* Micrometres are as fine as the machine goes; the
			 * rounding keeps a 100k-dot plan near 2 MB. */
			if (json_array_append_new(ids, json_integer(d->id)) ||
			    json_array_append_new(xs, json_real(
			    round(d->x_mm * 1000) / 1000)) ||
			    json_array_append_new(ys, json_real(
			    round(d->y_mm * 1000) / 1000)))
				goto fail;
		}
	json_object_set_new(o, "t", json_string("plan"));
	json_object_set_new(o, "source", json_string(w->plan_source));
	json_object_set_new(o, "note", json_string(w->plan_note));
	json_object_set_new(o, "n", json_integer(w->plan ?
	    (json_int_t)w->plan->n : 0));
	json_object_set_new(o, "ids", ids);
	json_object_set_new(o, "x", xs);
	json_object_set_new(o, "y", ys);
	return msg_json(o);
fail:
	json_decref(o);
	json_decref(ids);
	json_decref(xs);
	json_decref(ys);
	return NULL;
}

static struct msg *
fates_message(const struct web *w)
{
	size_t n = w->plan != NULL ? w->plan->n : 0, i;
	char *s = malloc(n + 1);
	json_t *o;

	if (s == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		s[i] = (char)('0' + w->fate[i]);
	s[n] = '\0';
	o = json_pack("{s:s, s:s}", "t", "fates", "f", s);
	free(s);
	return msg_json(o);
}

static void
plan_clear(struct web *w)
{
	plan_destroy(&w->plan);
	free(w->ids);
	free(w->fate);
	w->ids = NULL;
	w->fate = NULL;
	w->plan_source[0] = '\0';
	msg_unref(w->plan_msg);
	w->plan_msg = NULL;
}

/*
 * Reads a plan for its geometry only. Depth is not drawn, so the reader is
 * given a lenient depth policy: a plan the daemon accepted under its own
 * configuration is never refused here for a depth default or maximum.
 */
static int
plan_load(struct web *w, const char *path, const char *text, size_t len,
    const char *format)
{
	struct planner_config c = w->cfg;
	struct diag_list *dl = diag_list_new(1, path);
	struct plan *p = NULL;
	size_t i;
	char line[256];

	c.max_depth_mm = DBL_MAX;
	if (!(c.default_depth_mm > 0))
		c.default_depth_mm = 1.0;
	c.max_dots = SIZE_MAX;
	if (dl == NULL)
		return -1;
	p = text != NULL ? plan_read_mem(text, len, path, format, &c, dl) :
	    plan_read_file(path, &c, dl);
	if (p == NULL) {
		snprintf(w->plan_note, sizeof(w->plan_note), "plan %s could "
		    "not be read: %s", path, dl->n > 0 ? diag_format(dl, 0,
		    line, sizeof(line)) : "no dots");
		logx("%s", w->plan_note);
		diag_list_destroy(&dl);
		return -1;
	}
	diag_list_destroy(&dl);
	plan_clear(w);
	w->plan = p;
	w->ids = calloc(p->n ? p->n : 1, sizeof(*w->ids));
	w->fate = calloc(p->n ? p->n : 1, 1);
	if (w->ids == NULL || w->fate == NULL) {
		plan_clear(w);
		snprintf(w->plan_note, sizeof(w->plan_note), "out of memory");
		return -1;
	}
	for (i = 0; i < p->n; i++) {
		w->ids[i].id = p->dots[i].id;
		w->ids[i].index = (uint32_t)i;
	}
	qsort(w->ids, p->n, sizeof(*w->ids), idmap_cmp);
	snprintf(w->plan_source, sizeof(w->plan_source), "%s", path);
	w->plan_note[0] = '\0';
	if (w->verbose)
		logx("plan %s: %zu dots", path, p->n);
	return 0;
}

/* Sends the geometry and the fates to every page after they changed. */
static void
plan_announce(struct web *w)
{
	msg_unref(w->plan_msg);
	w->plan_msg = plan_message(w);
	if (w->plan_msg != NULL)
		w->plan_msg->refs++;
	broadcast(w, w->plan_msg);
	broadcast(w, fates_message(w));
}

/*
 * Replays the session journal (read only) for the exact fate of every dot,
 * and, without --plan, for the plan itself (the daemon's verbatim copy).
 * Returns 0 when the fates were taken from it.
 */
static int
journal_sync(struct web *w, bool announce)
{
	struct journal_replay r;
	char err[256];
	size_t i;
	bool changed = false;

	if (!w->follow || w->journal_path[0] == '\0')
		return -1;
	memset(&r, 0, sizeof(r));
	if (journal_replay(w->journal_path, &r, err, sizeof(err)) != 0) {
		if (w->verbose)
			logx("journal %s: %s", w->journal_path, err);
		return -1;
	}
	if (w->plan_opt == NULL && strcmp(w->plan_source, r.plan_path) != 0) {
		size_t len;
		char *text = journal_read_file(r.plan_path, &len, err,
		    sizeof(err));
		if (text != NULL && plan_load(w, r.plan_path, text, len,
		    r.h.format) == 0) {
			if (journal_hash(text, len) != r.h.plan_hash)
				snprintf(w->plan_note, sizeof(w->plan_note),
				    "warning: %s does not match the journal's "
				    "plan hash", r.plan_path);
			changed = true;
		}
		free(text);
	}
	if (w->plan == NULL || w->plan->n != r.h.dots) {
		if (w->plan != NULL) {
			snprintf(w->plan_note, sizeof(w->plan_note), "warning: "
			    "the plan drawn (%s, %zu dots) is not the session's "
			    "(%u dots)", w->plan_source, w->plan->n, r.h.dots);
			changed = true;
		}
		journal_replay_free(&r);
		if (changed && announce)
			plan_announce(w);
		return -1;
	}
	for (i = 0; i < w->plan->n; i++) {
		uint8_t f = r.fate[i] == JF_DONE ? F_DONE :
		    r.fate[i] == JF_UNCERTAIN || r.fate[i] == JF_SENT ?
		    F_UNCERTAIN : r.fate[i] == JF_ACKED ? F_ACKED : F_PENDING;
		/* A dot sent but not confirmed is in flight while a session
		 * runs, not uncertain: only the daemon may declare that. */
		if (r.fate[i] == JF_SENT && !r.ended)
			f = w->fate[i] == F_DONE ? F_DONE : F_PENDING;
		if (w->fate[i] != f) {
			w->fate[i] = f;
			changed = true;
		}
	}
	journal_replay_free(&r);
	if (announce) {
		if (changed && w->plan_msg == NULL)
			plan_announce(w);
		else if (changed)
			broadcast(w, fates_message(w));
	}
	return 0;
}

/*
 * After a session the daemon closes its journal and the status no longer
 * names it, so a watcher started then would show every dot undelivered.
 * With the daemon's configuration (-f) the journal directory is known: the
 * newest journal there, if it ran a plan of the same size and bytes as the
 * one the status names, is that session's.
 */
static void
find_ended_journal(struct web *w, json_t *st)
{
	const char *state = json_string_value(json_object_get(st, "state"));
	json_int_t total = json_integer_value(json_object_get(
	    json_object_get(st, "dots"), "total"));
	char best[512] = "", err[256], path[1100];
	struct journal_replay r;
	struct dirent *de;
	DIR *d;

	if (w->journal_dir[0] == '\0' || w->looked_for_ended ||
	    w->journal_path[0] != '\0' || state == NULL ||
	    (strcmp(state, "completed") != 0 && strcmp(state, "aborted") != 0))
		return;
	w->looked_for_ended = true;
	if ((d = opendir(w->journal_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 8 && strcmp(de->d_name + l - 8, ".journal") == 0 &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	if (best[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/%s", w->journal_dir, best);
	memset(&r, 0, sizeof(r));
	if (journal_replay(path, &r, err, sizeof(err)) != 0)
		return;
	if ((json_int_t)r.h.dots == total && w->plan_source[0] != '\0') {
		size_t len;
		char *text = journal_read_file(w->plan_source, &len, err,
		    sizeof(err));
		if (text != NULL && journal_hash(text, len) == r.h.plan_hash) {
			snprintf(w->journal_path, sizeof(w->journal_path),
			    "%s", path);
			if (w->verbose)
				logx("the ended session's journal: %s", path);
		}
		free(text);
	}
	journal_replay_free(&r);
	if (w->journal_path[0] != '\0')
		journal_sync(w, true);
}

/* Follows the plan and journal the status names, when they change. */
static void
follow_status(struct web *w, json_t *st)
{
	const char *plan = json_string_value(json_object_get(st, "plan"));
	const char *jr = json_string_value(json_object_get(st, "journal"));
	bool plan_changed = false;

	if (!w->follow)
		return;
	if (jr != NULL && strcmp(jr, w->journal_path) != 0) {
		snprintf(w->journal_path, sizeof(w->journal_path), "%s", jr);
		if (w->plan_opt == NULL) {
			/* A new session: the old geometry may be another
			 * plan's; the journal's copy replaces it. */
			w->status_plan[0] = '\0';
		}
		if (w->plan != NULL)
			memset(w->fate, 0, w->plan->n);
		journal_sync(w, false);
		plan_changed = true;
	}
	if (w->plan_opt == NULL && plan != NULL && plan[0] == '/' &&
	    strcmp(plan, w->status_plan) != 0) {
		snprintf(w->status_plan, sizeof(w->status_plan), "%s", plan);
		/* The journal's copy is the better source while a session
		 * has one. */
		if (jr == NULL && access(plan, R_OK) == 0 &&
		    plan_load(w, plan, NULL, 0, NULL) == 0)
			plan_changed = true;
	} else if (w->plan_opt == NULL && plan != NULL && plan[0] != '/' &&
	    w->plan == NULL && jr == NULL && w->plan_note[0] == '\0') {
		snprintf(w->plan_note, sizeof(w->plan_note), "the plan was "
		    "loaded inline (%s): its dots are drawn once a session "
		    "starts (from the journal's copy), or start smpweb with "
		    "--plan", plan);
		plan_changed = true;
	}
	if (plan_changed)
		plan_announce(w);
	if (jr == NULL)
		find_ended_journal(w, st);
}

/* ------------------------------------------------------------ the feed */

static void
backlog_add(struct web *w, json_t *ev)
{
	json_array_append(w->backlog, ev);
	if (json_array_size(w->backlog) > WEB_BACKLOG_EVENTS)
		json_array_remove(w->backlog, 0);
}

static void
on_feed_message(struct web *w, const char *topic, json_t *m)
{
	static const char *topics[3] = { "status", "event", "dot" };
	json_int_t seq = json_integer_value(json_object_get(m, "seq"));
	const char *mid = json_string_value(json_object_get(m, "machine"));
	int i;

	/* A relay mixes robots: one page shows one. */
	if (w->machine != NULL && (mid == NULL || strcmp(mid, w->machine) != 0))
		return;
	for (i = 0; i < 3; i++)
		if (strcmp(topic, topics[i]) == 0) {
			/* seq restarts at 1 with a new daemon. */
			if (w->seq[i] != 0 && seq > w->seq[i] + 1)
				w->lost += (uint64_t)(seq - w->seq[i] - 1);
			w->seq[i] = seq;
		}
	if (strcmp(topic, "status") == 0) {
		json_decref(w->status);
		w->status = json_incref(m);
		follow_status(w, m);
	} else if (strcmp(topic, "dot") == 0) {
		json_int_t idx = json_integer_value(json_object_get(m,
		    "index"));
		json_int_t id = json_integer_value(json_object_get(m, "id"));
		if (w->plan != NULL && idx >= 0 && (size_t)idx < w->plan->n &&
		    w->plan->dots[idx].id == id)
			w->fate[idx] = F_DONE;
	} else if (strcmp(topic, "event") == 0) {
		const char *type = json_string_value(json_object_get(m,
		    "type"));
		backlog_add(w, m);
		if (type != NULL && strcmp(type, "uncertain") == 0 &&
		    w->plan != NULL) {
			json_t *ids = json_object_get(m, "ids"), *v;
			size_t k;
			json_array_foreach(ids, k, v) {
				long ix = index_of_id(w,
				    json_integer_value(v));
				if (ix >= 0)
					w->fate[ix] = F_UNCERTAIN;
			}
		}
	}
	{
		json_t *o = json_pack("{s:s, s:O}", "t", topic, "m", m);
		broadcast(w, msg_json(o));
	}
	/* ack, redo, recovery and the end change fates the stream does not
	 * name one by one: the journal does. */
	if (strcmp(topic, "event") == 0) {
		const char *type = json_string_value(json_object_get(m,
		    "type"));
		if (type != NULL && (strcmp(type, "ack") == 0 ||
		    strcmp(type, "redo") == 0 || strcmp(type, "recovered") ==
		    0 || strcmp(type, "session_end") == 0))
			journal_sync(w, true);
	}
}

static void
feed_drain(struct web *w)
{
	int budget = 2000;

	while (budget-- > 0) {
		char topic[16];
		zmq_msg_t body;
		int more = 0, tl;
		size_t sz = sizeof(more);
		json_t *j;

		tl = zmq_recv(w->sub, topic, sizeof(topic) - 1, ZMQ_DONTWAIT);
		if (tl < 0)
			return;
		w->last_rx = mono_now();
		zmq_getsockopt(w->sub, ZMQ_RCVMORE, &more, &sz);
		if (!more)
			continue;
		if (tl >= (int)sizeof(topic)) {
			/* An unknown, long topic: skip its frames. */
			tl = 0;
		}
		topic[tl] = '\0';
		zmq_msg_init(&body);
		if (zmq_msg_recv(&body, w->sub, 0) < 0) {
			zmq_msg_close(&body);
			return;
		}
		j = zmq_msg_size(&body) <= WEB_MAX_ZMQ_MESSAGE ?
		    json_loadb(zmq_msg_data(&body), zmq_msg_size(&body), 0,
		    NULL) : NULL;
		zmq_msg_close(&body);
		zmq_getsockopt(w->sub, ZMQ_RCVMORE, &more, &sz);
		if (more) {
			/* Not our two-frame shape: drop it whole. */
			while (more && zmq_recv(w->sub, topic, 0, 0) >= 0)
				zmq_getsockopt(w->sub, ZMQ_RCVMORE, &more,
				    &sz);
			json_decref(j);
			continue;
		}
		if (json_is_object(j) && (strcmp(topic, "status") == 0 ||
		    strcmp(topic, "event") == 0 || strcmp(topic, "dot") == 0))
			on_feed_message(w, topic, j);
		json_decref(j);
	}
}

static struct msg *
feed_state_message(const struct web *w, double now)
{
	return msg_json(json_pack("{s:s, s:f, s:I}", "t", "feed", "age_s",
	    w->last_rx > 0 ? now - w->last_rx : -1.0, "lost",
	    (json_int_t)w->lost));
}

static void
on_tick(lws_sorted_usec_list_t *sul)
{
	struct web *w = W;
	double now = mono_now();

	(void)sul;
	feed_drain(w);
	if (now >= w->next_feed) {
		broadcast(w, feed_state_message(w, now));
		w->next_feed = now + WEB_FEED_PERIOD_S;
	}
	if (quit)
		lws_cancel_service(w->ctx);
	lws_sul_schedule(w->ctx, 0, &w->sul, on_tick, WEB_TICK_US);
}

/* ------------------------------------------------------------ clients */

static struct msg *
hello_message(const struct web *w)
{
	json_t *o = json_pack("{s:s, s:i, s:s}", "t", "hello", "version", 1,
	    "status_endpoint", w->status_ep);

	if (o != NULL && w->have_envelope)
		json_object_set_new(o, "envelope", json_pack(
		    "{s:[f,f,f], s:[f,f,f]}", "min", w->cfg.env_min_mm[0],
		    w->cfg.env_min_mm[1], w->cfg.env_min_mm[2], "max",
		    w->cfg.env_max_mm[0], w->cfg.env_max_mm[1],
		    w->cfg.env_max_mm[2]));
	return msg_json(o);
}

/* Everything a page needs to show the session as it is now. */
static void
client_catch_up(struct web *w, struct client *c)
{
	size_t i;
	json_t *ev;

	c->resync = false;
	push_own(c, hello_message(w));
	if (w->plan_msg == NULL)
		w->plan_msg = plan_message(w);
	client_push(c, w->plan_msg);
	push_own(c, fates_message(w));
	json_array_foreach(w->backlog, i, ev) {
		push_own(c, msg_json(json_pack("{s:s, s:O, s:b}", "t",
		    "event", "m", ev, "old", 1)));
	}
	if (w->status != NULL)
		push_own(c, msg_json(json_pack("{s:s, s:O}", "t", "status",
		    "m", w->status)));
	push_own(c, feed_state_message(w, mono_now()));
}

/* Constant time: the token must not leak through timing. */
static bool
token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0;
}

static bool
cookie_token(struct lws *wsi, char *out, size_t len)
{
	char ck[1024], *p;

	if (lws_hdr_copy(wsi, ck, sizeof(ck), WSI_TOKEN_HTTP_COOKIE) <= 0)
		return false;
	for (p = strtok(ck, ";"); p != NULL; p = strtok(NULL, ";")) {
		while (*p == ' ')
			p++;
		if (strncmp(p, "smpweb_token=", 13) == 0) {
			snprintf(out, len, "%s", p + 13);
			return true;
		}
	}
	return false;
}

/* 1 when the request carries the token (query or cookie), or none is
 * needed; *from_query tells whether to set the cookie. */
static bool
authorised(const struct web *w, struct lws *wsi, bool *from_query)
{
	char v[256];
	const char *q;

	*from_query = false;
	if (w->token == NULL)
		return true;
	/* lws returns a pointer past "token=" inside v. */
	if ((q = lws_get_urlarg_by_name(wsi, "token=", v, sizeof(v))) !=
	    NULL && token_equal(q, w->token)) {
		*from_query = true;
		return true;
	}
	return cookie_token(wsi, v, sizeof(v)) && token_equal(v, w->token);
}

/*
 * A page on another site could open a WebSocket to a watcher on this
 * machine's loopback: the browser sends its Origin, which must name the
 * host the page was served from.
 */
static bool
origin_ok(struct lws *wsi)
{
	char origin[256], host[256];
	const char *o;

	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
		return true;    /* not a browser */
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
		return false;
	o = strstr(origin, "://");
	o = o != NULL ? o + 3 : origin;
	return strcmp(o, host) == 0;
}

struct http_pss {
	const struct static_file *file;
	size_t off;
};

static int
http_error(struct lws *wsi, unsigned status)
{
	lws_return_http_status(wsi, status, NULL);
	return -1;
}

static int
cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct http_pss *pss = user;
	struct web *w = W;
	unsigned char hbuf[LWS_PRE + 1024], *p, *end;
	bool from_query;

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		const char *uri = in;
		char cookie[400];
		if (!authorised(w, wsi, &from_query))
			return http_error(wsi, HTTP_STATUS_UNAUTHORIZED);
		if (strcmp(uri, "/") == 0)
			uri = "/index.html";
		pss->file = static_file_find(uri + 1);
		pss->off = 0;
		if (pss->file == NULL)
			return http_error(wsi, HTTP_STATUS_NOT_FOUND);
		p = hbuf + LWS_PRE;
		end = hbuf + sizeof(hbuf) - 1;
		if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK,
		    pss->file->mime, pss->file->len, &p, end))
			return 1;
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)
		    "cache-control:", (const unsigned char *)"no-store", 8,
		    &p, end) || lws_add_http_header_by_name(wsi,
		    (const unsigned char *)"x-content-type-options:",
		    (const unsigned char *)"nosniff", 7, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)
		    "content-security-policy:", (const unsigned char *)
		    "default-src 'self'; connect-src 'self' ws: wss:; "
		    "img-src 'self' data:", 69, &p, end))
			return 1;
		if (from_query) {
			snprintf(cookie, sizeof(cookie), "smpweb_token=%s; "
			    "HttpOnly; SameSite=Strict; Path=/", w->token);
			if (lws_add_http_header_by_name(wsi,
			    (const unsigned char *)"set-cookie:",
			    (const unsigned char *)cookie, (int)strlen(cookie),
			    &p, end))
				return 1;
		}
		if (lws_finalize_write_http_header(wsi, hbuf + LWS_PRE, &p,
		    end))
			return 1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		unsigned char buf[LWS_PRE + 16384];
		size_t n;
		int final;
		if (pss == NULL || pss->file == NULL)
			return -1;
		n = pss->file->len - pss->off;
		if (n > sizeof(buf) - LWS_PRE)
			n = sizeof(buf) - LWS_PRE;
		final = pss->off + n == pss->file->len;
		memcpy(buf + LWS_PRE, pss->file->data + pss->off, n);
		if (lws_write(wsi, buf + LWS_PRE, n, final ?
		    LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
		pss->off += n;
		if (final) {
			pss->file = NULL;
			if (lws_http_transaction_completed(wsi))
				return -1;
		} else
			lws_callback_on_writable(wsi);
		return 0;
	}
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static int
cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct web *w = W;
	struct client **pc = user, *c, **pp;
	bool from_query;

	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (!authorised(w, wsi, &from_query) || !origin_ok(wsi)) {
			if (w->verbose)
				logx("WebSocket refused (token or origin)");
			return 1;
		}
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return -1;
		c->wsi = wsi;
		c->next = w->clients;
		w->clients = c;
		*pc = c;
		client_catch_up(w, c);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		struct qent *q;
		size_t n;
		int flags;
		if ((c = *pc) == NULL)
			return -1;
		if (c->head == NULL && c->resync) {
			client_catch_up(w, c);
			return 0;
		}
		if ((q = c->head) == NULL)
			return 0;
		/* Large messages (the plan) go out in fragments so that one
		 * page never holds the loop for long. */
		n = q->m->len - c->sent;
		if (n > WEB_FRAGMENT_BYTES)
			n = WEB_FRAGMENT_BYTES;
		flags = lws_write_ws_flags(LWS_WRITE_TEXT, c->sent == 0,
		    c->sent + n == q->m->len);
		if (lws_write(wsi, q->m->buf + LWS_PRE + c->sent, n,
		    (enum lws_write_protocol)flags) < (int)n)
			return -1;
		c->sent += n;
		if (c->sent == q->m->len) {
			c->head = q->next;
			if (c->head == NULL)
				c->tail = NULL;
			c->queued_bytes -= q->m->len;
			c->sent = 0;
			msg_unref(q->m);
			free(q);
		}
		if (c->head != NULL || c->resync)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_RECEIVE:
		/* Read only: a page has nothing to say. */
		return 0;
	case LWS_CALLBACK_CLOSED:
		if ((c = *pc) == NULL)
			return 0;
		for (pp = &w->clients; *pp != NULL; pp = &(*pp)->next)
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		client_clear(c);
		free(c);
		*pc = NULL;
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "http", cb_http, sizeof(struct http_pss), 0, 0, NULL, 0 },
	{ "smpweb", cb_ws, sizeof(struct client *), 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ------------------------------------------------------------ startup */

/* Whether host is a loopback address: only then may smpweb serve without a
 * token or TLS. */
static bool
loopback_host(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	    strcmp(host, "localhost") == 0;
}

/* "HOST:PORT" or "[V6]:PORT" into host and port. 0, or -1. */
static int
parse_listen(const char *s, char *host, size_t hlen, int *port)
{
	const char *colon;
	char *endp;
	long v;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		snprintf(host, hlen, "%.*s", (int)(rb - s - 1), s + 1);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL || colon == s)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(colon - s), s);
	}
	errno = 0;
	v = strtol(colon + 1, &endp, 10);
	if (errno != 0 || *endp != '\0' || colon[1] == '\0' || v < 0 ||
	    v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

static char *
read_token_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[256];
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' '))
		buf[--n] = '\0';
	return strdup(buf);
}

/* A token goes in a URL and a cookie: keep to characters both take as
 * they are. */
static bool
token_valid(const char *t)
{
	size_t i, n = strlen(t);

	if (n < 16 || n > 200)
		return false;
	for (i = 0; i < n; i++)
		if (!(t[i] >= 'a' && t[i] <= 'z') && !(t[i] >= 'A' &&
		    t[i] <= 'Z') && !(t[i] >= '0' && t[i] <= '9') &&
		    strchr("-_.~", t[i]) == NULL)
			return false;
	return true;
}

/* session.journal of the daemon's configuration (its default otherwise). */
static void
journal_dir_from(struct web *w, const char *path)
{
	config_t c;
	const char *v = "/var/lib/smpd/journal";

	config_init(&c);
	if (config_read_file(&c, path) == CONFIG_TRUE)
		config_lookup_string(&c, "session.journal", &v);
	snprintf(w->journal_dir, sizeof(w->journal_dir), "%s", v);
	config_destroy(&c);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: smpweb [-v] [--listen HOST:PORT] [--status ENDPOINT]\n"
	    "              [--plan FILE] [-f SMPD_CONF] [--no-follow]\n"
	    "              [--machine ID]\n"
	    "              [--token TOKEN | --token-file FILE]\n"
	    "              [--tls-cert FILE --tls-key FILE]\n"
	    "              [--key FILE --server-key FILE]\n");
}

static int
open_feed(struct web *w)
{
	int zero = 0, hwm = 100000;

	if ((w->zctx = zmq_ctx_new()) == NULL ||
	    (w->sub = zmq_socket(w->zctx, ZMQ_SUB)) == NULL) {
		logx("zmq: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(w->sub, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(w->sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (w->key_file != NULL) {
		char pub[KEYS_Z85_LEN + 1], sec[KEYS_Z85_LEN + 1],
		    srv[KEYS_Z85_LEN + 1], err[256];
		if (keys_read(w->key_file, pub, sec, err, sizeof(err)) != 0 ||
		    keys_read(w->server_key_file, srv, NULL, err,
		    sizeof(err)) != 0) {
			logx("%s", err);
			return -1;
		}
		if (zmq_setsockopt(w->sub, ZMQ_CURVE_SERVERKEY, srv,
		    KEYS_Z85_LEN) || zmq_setsockopt(w->sub,
		    ZMQ_CURVE_PUBLICKEY, pub, KEYS_Z85_LEN) ||
		    zmq_setsockopt(w->sub, ZMQ_CURVE_SECRETKEY, sec,
		    KEYS_Z85_LEN)) {
			logx("CURVE: %s", zmq_strerror(errno));
			return -1;
		}
	}
	if (zmq_connect(w->sub, w->status_ep) != 0) {
		logx("connect %s: %s", w->status_ep, zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, "status", 6);
	zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, "event", 5);
	zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, "dot", 3);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "status", required_argument, NULL, 's' },
		{ "plan", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'f' },
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "key", required_argument, NULL, 'k' },
		{ "server-key", required_argument, NULL, 'S' },
		{ "no-follow", no_argument, NULL, 'N' },
		{ "machine", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct web w;
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	char host[256], err[256], *token_buf = NULL;
	int ch, port, rc = 1;

	memset(&w, 0, sizeof(w));
	W = &w;
	w.listen = "127.0.0.1:8080";
	w.status_ep = "ipc:///run/smpd/status";
	w.follow = true;
	while ((ch = getopt_long(argc, argv, "vf:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': w.listen = optarg; break;
		case 's': w.status_ep = optarg; break;
		case 'p': w.plan_opt = optarg; break;
		case 'f': w.config_path = optarg; break;
		case 't': w.token = optarg; break;
		case 'T':
			if ((token_buf = read_token_file(optarg)) == NULL) {
				logx("%s: %s", optarg, strerror(errno));
				return 2;
			}
			w.token = token_buf;
			break;
		case 'C': w.tls_cert = optarg; break;
		case 'K': w.tls_key = optarg; break;
		case 'k': w.key_file = optarg; break;
		case 'S': w.server_key_file = optarg; break;
		case 'N': w.follow = false; break;
		case 'M': w.machine = optarg; break;
		case 'v': w.verbose++; break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (parse_listen(w.listen, host, sizeof(host), &port) != 0) {
		logx("--listen %s: expected HOST:PORT (e.g. 127.0.0.1:8080)",
		    w.listen);
		return 2;
	}
	if (w.token != NULL && !token_valid(w.token)) {
		logx("the token must be 16 to 200 characters of A-Z a-z 0-9 "
		    "- _ . ~");
		return 2;
	}
	if ((w.tls_cert == NULL) != (w.tls_key == NULL) ||
	    (w.key_file == NULL) != (w.server_key_file == NULL)) {
		logx("--tls-cert goes with --tls-key, --key with --server-key");
		return 2;
	}
	if (!loopback_host(host) && w.token == NULL && w.tls_cert == NULL) {
		logx("refusing to serve on %s without --token or TLS: only "
		    "loopback may be served openly", host);
		return 2;
	}
	pconfig_defaults(&w.cfg);
	if (w.config_path != NULL) {
		if (pconfig_load(&w.cfg, w.config_path, err, sizeof(err)) != 0) {
			logx("%s", err);
			return 2;
		}
		w.have_envelope = true;
		journal_dir_from(&w, w.config_path);
	}
	if ((w.backlog = json_array()) == NULL)
		return 1;
	if (w.plan_opt != NULL && plan_load(&w, w.plan_opt, NULL, 0, NULL) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (open_feed(&w) != 0)
		goto out;

	lws_set_log_level(w.verbose > 1 ? LLL_ERR | LLL_WARN | LLL_NOTICE :
	    LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = host;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 |
	    LWS_SERVER_OPTION_DISABLE_IPV6 * !strchr(host, ':');
	if (w.tls_cert != NULL) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = w.tls_cert;
		info.ssl_private_key_filepath = w.tls_key;
	}
	if ((w.ctx = lws_create_context(&info)) == NULL) {
		logx("cannot serve on %s (address in use, or a bad TLS "
		    "certificate or key)", w.listen);
		goto out;
	}
	vh = lws_get_vhost_by_name(w.ctx, "default");
	w.port = vh != NULL ? lws_get_vhost_listen_port(vh) : port;
	printf("smpweb: listening on %s://%s%s%s:%d/ (status %s)\n",
	    w.tls_cert ? "https" : "http", strchr(host, ':') ? "[" : "", host,
	    strchr(host, ':') ? "]" : "", w.port, w.status_ep);
	fflush(stdout);
	lws_sul_schedule(w.ctx, 0, &w.sul, on_tick, 1);
	while (!quit)
		if (lws_service(w.ctx, 0) < 0)
			break;
	rc = 0;
out:
	if (w.ctx != NULL)
		lws_context_destroy(w.ctx);
	if (w.sub != NULL)
		zmq_close(w.sub);
	if (w.zctx != NULL)
		zmq_ctx_term(w.zctx);
	plan_clear(&w);
	json_decref(w.status);
	json_decref(w.backlog);
	free(token_buf);
	return rc;
}
