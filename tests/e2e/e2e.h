/*
 * Helpers for the end-to-end tests: smpsim on a pseudo-terminal, smpd
 * started on a generated configuration, a ZeroMQ DEALER client for commands
 * and a SUB socket for status, and a reader for smpsim's skin log. Header
 * only (static functions) so that each test binary is one file plus this.
 * Every wait has a deadline: an end-to-end test must fail, never hang.
 */
#ifndef SMP_TESTS_E2E_H
#define SMP_TESTS_E2E_H

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <zmq.h>

#include "test.h"

struct e2e {
	char dir[256];
	char pty[300], skin[300], conf[300], journal[300], ctl_ep[320],
	    pub_ep[320], plan[300], smpd_log[300], sim_log[300];
	pid_t sim, smpd;
	void *zctx, *req, *sub;
	int next_id;
	/* what the subscriber has seen */
	char state[32];
	json_t *last_status;
	json_t *events;         /* array of every event object */
	size_t dots_seen;
	double skin_origin[3];  /* machine coords of skin (= work) zero */
	char extra_conf[1024];  /* appended inside session { } */
	bool require_hb;        /* session.require_heartbeat */
	char sim_args[512];     /* extra smpsim arguments (faults) */
};

static inline double
e2e_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline const char *
e2e_bin(const char *name, char *buf, size_t len)
{
	const char *d = getenv("SMP_BIN_DIR");
	char self[400];
	ssize_t n;

	if (d != NULL) {
		snprintf(buf, len, "%s/%s", d, name);
		return buf;
	}
	/* Not under ctest: the programs are beside this binary. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_MSG(n > 0, "SMP_BIN_DIR not set and /proc/self/exe unreadable");
	self[n] = '\0';
	if (strrchr(self, '/') != NULL)
		*strrchr(self, '/') = '\0';
	snprintf(buf, len, "%s/%s", self, name);
	return buf;
}

static inline void
e2e_init(struct e2e *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/smp-e2e-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(e->dir));
	snprintf(e->pty, sizeof(e->pty), "%s/pty", e->dir);
	snprintf(e->skin, sizeof(e->skin), "%s/skin.jsonl", e->dir);
	snprintf(e->conf, sizeof(e->conf), "%s/smpd.conf", e->dir);
	snprintf(e->journal, sizeof(e->journal), "%s/journal", e->dir);
	snprintf(e->ctl_ep, sizeof(e->ctl_ep), "ipc://%s/control", e->dir);
	snprintf(e->pub_ep, sizeof(e->pub_ep), "ipc://%s/status", e->dir);
	snprintf(e->plan, sizeof(e->plan), "%s/plan.csv", e->dir);
	snprintf(e->smpd_log, sizeof(e->smpd_log), "%s/smpd.log", e->dir);
	snprintf(e->sim_log, sizeof(e->sim_log), "%s/smpsim.log", e->dir);
	e->skin_origin[0] = -100;
	e->skin_origin[1] = -100;
	e->skin_origin[2] = -40;
	e->events = json_array();
	e->next_id = 1;
	signal(SIGPIPE, SIG_IGN);
}

/* Starts smpsim and waits for "smpsim: listening on ...". */
static inline void
e2e_start_sim(struct e2e *e)
{
	char bin[512], origin[96], cmd[2048], line[512];
	int fds[2];
	FILE *f;

	e2e_bin("smpsim", bin, sizeof(bin));
	snprintf(origin, sizeof(origin), "%g,%g,%g", e->skin_origin[0],
	    e->skin_origin[1], e->skin_origin[2]);
	ASSERT_EQ(pipe(fds), 0);
	e->sim = fork();
	ASSERT(e->sim >= 0);
	if (e->sim == 0) {
		int logfd;
		/* Nothing of a failed test case outlives it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		logfd = open(e->sim_log, O_WRONLY | O_CREAT | O_APPEND,
		    0644);
		dup2(fds[1], 1);
		if (logfd >= 0)
			dup2(logfd, 2);
		close(fds[0]);
		snprintf(cmd, sizeof(cmd), "exec %s %s --link %s "
		    "--skin-log %s --skin-origin %s %s", bin,
		    strstr(e->sim_args, "--speed") ? "" : "--speed max",
		    e->pty, e->skin, origin, e->sim_args);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	ASSERT_NOT_NULL(f);
	ASSERT_MSG(fgets(line, sizeof(line), f) != NULL,
	    "smpsim printed nothing (see %s)", e->sim_log);
	ASSERT_STR_CONTAINS(line, "smpsim: listening on");
	/* Keep the pipe open in a detached reader: closing it could kill the
	 * simulator with SIGPIPE on its next line. */
	if (fork() == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		while (fgets(line, sizeof(line), f) != NULL)
			;
		_exit(0);
	}
	fclose(f);
}

static inline void
e2e_write_config(struct e2e *e, const char *controller_extra)
{
	FILE *f = fopen(e->conf, "w");

	ASSERT_NOT_NULL(f);
	fprintf(f,
	    "machine_id = \"smp-e2e\";\n"
	    "controller: {\n  port = \"%s\";\n  status_poll_hz = 10.0;\n"
	    "  watchdog_ms = 1000;\n  connect_timeout_ms = 500;\n"
	    "  reconnect_max_ms = 500;\n  homing = true;\n%s};\n"
	    "session: {\n  journal = \"%s\";\n  heartbeat_ms = 2000;\n"
	    "  require_heartbeat = %s;\n  max_dots_in_flight = 2;\n%s};\n"
	    "control: {\n  endpoints = [\"%s\"];\n};\n"
	    "status: {\n  endpoints = [\"%s\"];\n  rate_running_hz = 10.0;\n"
	    "  rate_idle_hz = 2.0;\n};\n",
	    e->pty, controller_extra ? controller_extra : "", e->journal,
	    e->require_hb ? "true" : "false", e->extra_conf, e->ctl_ep,
	    e->pub_ep);
	fclose(f);
}

/* Starts smpd. SMP_SMPD_WRAPPER, when set, is a command smpd runs under
 * (scripts/valgrind.sh sets it to valgrind and its options); the wrapper
 * must exec smpd in the same process so that signals and the exit status
 * reach it. */
static inline void
e2e_start_smpd(struct e2e *e)
{
	char bin[512];
	const char *wrapper = getenv("SMP_SMPD_WRAPPER");

	e2e_bin("smpd", bin, sizeof(bin));
	e->smpd = fork();
	ASSERT(e->smpd >= 0);
	if (e->smpd == 0) {
		int logfd;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		logfd = open(e->smpd_log, O_WRONLY | O_CREAT | O_APPEND,
		    0644);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
		}
		if (wrapper != NULL && wrapper[0] != '\0')
			execl("/bin/sh", "sh", "-c",
			    "exec $SMP_SMPD_WRAPPER \"$0\" -d -v -f \"$1\"", bin,
			    e->conf, (char *)NULL);
		else
			execl(bin, "smpd", "-d", "-v", "-f", e->conf,
			    (char *)NULL);
		_exit(127);
	}
}

static inline void
e2e_connect(struct e2e *e)
{
	int linger = 0, rcvtimeo = 10000;

	if (e->zctx == NULL)
		e->zctx = zmq_ctx_new();
	ASSERT_NOT_NULL(e->zctx);
	e->req = zmq_socket(e->zctx, ZMQ_DEALER);
	e->sub = zmq_socket(e->zctx, ZMQ_SUB);
	ASSERT_NOT_NULL(e->req);
	ASSERT_NOT_NULL(e->sub);
	zmq_setsockopt(e->req, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(e->sub, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(e->req, ZMQ_RCVTIMEO, &rcvtimeo, sizeof(rcvtimeo));
	zmq_setsockopt(e->sub, ZMQ_SUBSCRIBE, "", 0);
	ASSERT_EQ(zmq_connect(e->req, e->ctl_ep), 0);
	ASSERT_EQ(zmq_connect(e->sub, e->pub_ep), 0);
}

static inline void
e2e_disconnect(struct e2e *e)
{
	if (e->req != NULL)
		zmq_close(e->req);
	if (e->sub != NULL)
		zmq_close(e->sub);
	e->req = e->sub = NULL;
}

/* Receives one message (all frames); the last frame as a JSON object, the
 * first as the topic when topic != NULL. -1 on timeout. */
static inline int
e2e_recv(void *sock, int timeout_ms, char *topic, size_t topiclen,
    json_t **obj)
{
	zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
	char first[64] = "";
	json_t *last = NULL;
	int more = 1, nframe = 0;

	if (zmq_poll(&it, 1, timeout_ms) <= 0)
		return -1;
	while (more) {
		zmq_msg_t m;
		size_t ms = sizeof(more);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			return -1;
		}
		if (nframe == 0)
			snprintf(first, sizeof(first), "%.*s",
			    (int)zmq_msg_size(&m), (char *)zmq_msg_data(&m));
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
		if (!more) {
			json_error_t je;
			last = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0,
			    &je);
		}
		zmq_msg_close(&m);
		nframe++;
	}
	if (topic != NULL)
		snprintf(topic, topiclen, "%s", first);
	*obj = last;
	return last != NULL ? 0 : -1;
}

static inline void
e2e_note(struct e2e *e, const char *topic, json_t *o)
{
	if (strcmp(topic, "status") == 0) {
		const char *st = json_string_value(json_object_get(o, "state"));
		if (st != NULL)
			snprintf(e->state, sizeof(e->state), "%s", st);
		json_decref(e->last_status);
		e->last_status = json_incref(o);
	} else if (strcmp(topic, "event") == 0) {
		const char *to = json_string_value(json_object_get(o, "to"));
		if (to != NULL)
			snprintf(e->state, sizeof(e->state), "%s", to);
		json_array_append(e->events, o);
	} else if (strcmp(topic, "dot") == 0)
		e->dots_seen++;
}

/* Takes whatever the subscriber has, waiting at most ms for the first. */
static inline void
e2e_pump(struct e2e *e, int ms)
{
	char topic[32];
	json_t *o;

	while (e2e_recv(e->sub, ms, topic, sizeof(topic), &o) == 0) {
		e2e_note(e, topic, o);
		json_decref(o);
		ms = 0;
	}
}

/* Sends {"id":n,"cmd":cmd,...fields} and returns the reply (caller owns).
 * Status messages are taken meanwhile. */
static inline json_t *
e2e_cmd(struct e2e *e, const char *cmd, json_t *fields)
{
	json_t *req = fields != NULL ? fields : json_object();
	json_t *rep = NULL;
	char *text;
	int id = e->next_id++;
	double deadline = e2e_now() + 15;

	json_object_set_new(req, "id", json_integer(id));
	json_object_set_new(req, "cmd", json_string(cmd));
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	ASSERT_EQ(zmq_send(e->req, "", 0, ZMQ_SNDMORE), 0);
	ASSERT_EQ(zmq_send(e->req, text, strlen(text), 0), (int)strlen(text));
	free(text);
	while (e2e_now() < deadline) {
		if (e2e_recv(e->req, 50, NULL, 0, &rep) == 0) {
			if (json_integer_value(json_object_get(rep, "id")) == id)
				return rep;
			json_decref(rep);
		}
		e2e_pump(e, 0);
	}
	TEST_FAIL_("no reply to %s in 15 s", cmd);
	return NULL;
}

/* A command that must succeed. */
static inline void
e2e_ok(struct e2e *e, const char *cmd, json_t *fields)
{
	json_t *r = e2e_cmd(e, cmd, fields);
	char *t = json_dumps(r, JSON_COMPACT);

	ASSERT_MSG(json_is_true(json_object_get(r, "ok")), "%s: %s", cmd, t);
	free(t);
	json_decref(r);
}

/* Waits for the session to reach state (by status or transition). */
static inline void
e2e_wait_state(struct e2e *e, const char *state, double timeout_s)
{
	double deadline = e2e_now() + timeout_s;

	while (strcmp(e->state, state) != 0) {
		ASSERT_MSG(e2e_now() < deadline, "state %s not reached in %.0f "
		    "s (state %s); see %s", state, timeout_s, e->state,
		    e->smpd_log);
		e2e_pump(e, 100);
	}
}

/* Waits for an event of type (and op, when given) after index *from. */
static inline json_t *
e2e_wait_event(struct e2e *e, const char *type, const char *op,
    size_t *from, double timeout_s)
{
	double deadline = e2e_now() + timeout_s;

	for (;;) {
		for (; *from < json_array_size(e->events); (*from)++) {
			json_t *ev = json_array_get(e->events, *from);
			const char *t = json_string_value(json_object_get(ev,
			    "type"));
			const char *o = json_string_value(json_object_get(ev,
			    "op"));
			if (t != NULL && strcmp(t, type) == 0 && (op == NULL ||
			    (o != NULL && strcmp(o, op) == 0))) {
				(*from)++;
				return ev;
			}
		}
		ASSERT_MSG(e2e_now() < deadline, "no %s%s%s event in %.0f s; "
		    "see %s", type, op ? " " : "", op ? op : "", timeout_s,
		    e->smpd_log);
		e2e_pump(e, 100);
	}
}

/* Waits for the controller to report Idle in a fresh status. */
static inline void
e2e_wait_idle(struct e2e *e, double timeout_s)
{
	double deadline = e2e_now() + timeout_s;

	for (;;) {
		json_decref(e->last_status);
		e->last_status = NULL;
		e2e_pump(e, 100);
		if (e->last_status != NULL) {
			const char *c = json_string_value(json_object_get(
			    e->last_status, "controller"));
			if (c != NULL && strcmp(c, "Idle") == 0)
				return;
		}
		ASSERT_MSG(e2e_now() < deadline, "controller not idle in %.0f s",
		    timeout_s);
	}
}

/* Home, set the work origin on the skin's origin, move above it. */
static inline void
e2e_prepare_machine(struct e2e *e)
{
	size_t from = json_array_size(e->events);
	double deadline = e2e_now() + 20;

	while (strcmp(e->state, "idle") != 0 && strcmp(e->state, "loaded") != 0) {
		ASSERT_MSG(e2e_now() < deadline, "controller not connected in "
		    "20 s (state %s); see %s", e->state, e->smpd_log);
		e2e_pump(e, 100);
	}
	e2e_ok(e, "home", NULL);
	e2e_wait_event(e, "done", "home", &from, 30);
	e2e_ok(e, "set-origin", json_pack("{s:[f,f,f]}", "wco",
	    e->skin_origin[0], e->skin_origin[1], e->skin_origin[2]));
	e2e_wait_event(e, "done", "set-origin", &from, 10);
	e2e_ok(e, "jog", json_pack("{s:f, s:f, s:f, s:f}", "x", 0.0, "y", 0.0,
	    "z", 5.0, "feed", 3000.0));
	e2e_wait_event(e, "done", "jog", &from, 10);
	e2e_wait_idle(e, 20);
}

/* Loads e->plan, prepares the machine, preflights (which must pass) and
 * starts. Returns the index in e->events from before the preflight, for
 * waiting on the session's end. */
static inline size_t
e2e_load_and_start(struct e2e *e)
{
	size_t from;
	json_t *ev;

	e2e_ok(e, "load", json_pack("{s:s}", "plan", e->plan));
	e2e_prepare_machine(e);
	from = json_array_size(e->events);
	e2e_ok(e, "preflight", NULL);
	ev = e2e_wait_event(e, "done", "preflight", &from, 120);
	ASSERT_MSG(json_is_true(json_object_get(ev, "ok")), "preflight: %s",
	    json_string_value(json_object_get(ev, "message")));
	e2e_wait_state(e, "ready", 5);
	e2e_ok(e, "start", NULL);
	return from;
}

/* Writes a grid plan of nx*ny dots, spacing step mm, centred on 0. */
static inline void
e2e_write_plan(const char *path, int nx, int ny, double step)
{
	FILE *f = fopen(path, "w");
	int i, j, id = 1;

	ASSERT_NOT_NULL(f);
	fprintf(f, "# e2e grid\nid,x,y,depth,dwell_ms\n");
	for (j = 0; j < ny; j++)
		for (i = 0; i < nx; i++, id++)
			fprintf(f, "%d,%.3f,%.3f,%.2f,%d\n", id,
			    (i - nx / 2) * step, (j - ny / 2) * step,
			    0.5 + 0.1 * (id % 6), 50 + 10 * (id % 3));
	fclose(f);
}

struct e2e_dot {
	long id;
	double x, y, depth;
	int hits;
	bool bad_depth;         /* a penetration not at the planned depth */
};

/* Reads the e2e plan's id,x,y,depth columns (our own writer's format). */
static inline struct e2e_dot *
e2e_read_plan(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char line[256];
	struct e2e_dot *d = NULL;
	size_t cap = 0;

	ASSERT_NOT_NULL(f);
	*n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct e2e_dot t = { 0, 0, 0, 0, 0, false };
		int dw;
		if (sscanf(line, "%ld,%lf,%lf,%lf,%d", &t.id, &t.x, &t.y,
		    &t.depth, &dw) != 5)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			d = realloc(d, cap * sizeof(*d));
			ASSERT_NOT_NULL(d);
		}
		d[(*n)++] = t;
	}
	fclose(f);
	return d;
}

struct e2e_skin {
	size_t penetrations, stray, lateral, twice, missing, bad_depth;
	bool needle_on_at_end;
	bool saw_needle_event;
};

/*
 * Matches every penetration in the skin log to the plan's dots (by x, y
 * within 0.01 mm; skin = work coordinates because the origin was set on the
 * skin origin) and counts what is wrong. allow[] (may be NULL) marks dots
 * that may be missing (uncertain ones).
 */
static inline void
e2e_check_skin(struct e2e *e, struct e2e_dot *dots, size_t n,
    struct e2e_skin *r)
{
	FILE *f = fopen(e->skin, "r");
	char line[1024];
	size_t i;

	ASSERT_MSG(f != NULL, "no skin log %s", e->skin);
	memset(r, 0, sizeof(*r));
	for (i = 0; i < n; i++) {
		dots[i].hits = 0;
		dots[i].bad_depth = false;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		const char *ev;
		double x, y, depth;
		size_t best = SIZE_MAX;
		double bd = 1e9;

		if (o == NULL)
			continue;
		ev = json_string_value(json_object_get(o, "event"));
		if (ev != NULL) {
			if (strcmp(ev, "needle") == 0) {
				r->saw_needle_event = true;
				r->needle_on_at_end = json_is_true(
				    json_object_get(o, "on"));
			}
			json_decref(o);
			continue;
		}
		x = json_number_value(json_object_get(o, "x"));
		y = json_number_value(json_object_get(o, "y"));
		depth = json_number_value(json_object_get(o, "depth"));
		r->penetrations++;
		if (json_is_true(json_object_get(o, "lateral")))
			r->lateral++;
		for (i = 0; i < n; i++) {
			double dd = hypot(dots[i].x - x, dots[i].y - y);
			if (dd < bd) {
				bd = dd;
				best = i;
			}
		}
		if (best == SIZE_MAX || bd > 0.01) {
			r->stray++;
			fprintf(stderr, "stray penetration: %s", line);
		} else {
			dots[best].hits++;
			if (fabs(dots[best].depth - depth) > 0.01) {
				r->bad_depth++;
				dots[best].bad_depth = true;
				fprintf(stderr, "dot %ld: depth %.4f, planned "
				    "%.4f\n", dots[best].id, depth,
				    dots[best].depth);
			}
		}
		json_decref(o);
	}
	fclose(f);
	for (i = 0; i < n; i++) {
		if (dots[i].hits == 0)
			r->missing++;
		if (dots[i].hits > 1) {
			r->twice++;
			fprintf(stderr, "dot %ld penetrated %d times\n",
			    dots[i].id, dots[i].hits);
		}
	}
}

static inline int
e2e_wait_pid(pid_t pid, double timeout_s)
{
	double deadline = e2e_now() + timeout_s;
	int status;

	while (e2e_now() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			    128 + WTERMSIG(status);
		usleep(20000);
	}
	return -1;
}

static inline void
e2e_stop_all(struct e2e *e)
{
	e2e_disconnect(e);
	if (e->smpd > 0) {
		int rc;
		kill(e->smpd, SIGTERM);
		if ((rc = e2e_wait_pid(e->smpd, 15)) < 0) {
			kill(e->smpd, SIGKILL);
			e2e_wait_pid(e->smpd, 5);
		}
		e->smpd = 0;
		/* SIGTERM is a clean exit, also under the sanitizers. */
		ASSERT_MSG(rc == 0, "smpd exited %d on SIGTERM; see %s", rc,
		    e->smpd_log);
	}
	if (e->sim > 0) {
		kill(e->sim, SIGTERM);
		if (e2e_wait_pid(e->sim, 5) < 0) {
			kill(e->sim, SIGKILL);
			e2e_wait_pid(e->sim, 5);
		}
		e->sim = 0;
	}
	if (e->zctx != NULL) {
		zmq_ctx_term(e->zctx);
		e->zctx = NULL;
	}
}

#endif /* SMP_TESTS_E2E_H */
