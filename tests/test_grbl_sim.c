/*
 * Integration test: the driver's link and engine against the real simulator,
 * smpsim, on a pseudo-terminal, as the daemon uses them. It covers the
 * connect handshake, unlocking, streaming hundreds of lines with character
 * counting (every line answered, in order, the buffer never overfilled),
 * status polling during motion, feed hold and resume, and a soft reset in
 * the middle of motion (ALARM:3, every unanswered line LOST, no late ok
 * taken for a delivery).
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>

#include "drivers/grbl_codes.h"
#include "drivers/link.h"

struct sim {
	pid_t pid;
	int out;                /* its stdout and stderr */
	char pty[128];
	char log[4096];
	size_t loglen;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps the simulator's output flowing (a full pipe would stall it) and
 * keeps its start for failure messages. */
static void
sim_drain(struct sim *s)
{
	char buf[1024];
	ssize_t n;

	while ((n = read(s->out, buf, sizeof(buf))) > 0) {
		size_t room = sizeof(s->log) - 1 - s->loglen;
		size_t k = (size_t)n < room ? (size_t)n : room;
		memcpy(s->log + s->loglen, buf, k);
		s->loglen += k;
		s->log[s->loglen] = '\0';
	}
}

/* Starts smpsim with the given speed ("max" or a factor) and waits for
 * "smpsim: listening on PATH". */
static void
sim_start_f(struct sim *s, const char *speed, const char *fault)
{
	const char *dir = getenv("SMP_BIN_DIR");
	char path[512];
	int p[2];
	double end;

	memset(s, 0, sizeof(*s));
	ASSERT_MSG(dir != NULL, "SMP_BIN_DIR is not set (run through ctest)");
	snprintf(path, sizeof(path), "%s/smpsim", dir);
	ASSERT_MSG(access(path, X_OK) == 0, "%s: not built", path);
	ASSERT_EQ(pipe(p), 0);
	s->pid = fork();
	ASSERT(s->pid >= 0);
	if (s->pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		if (fault != NULL)
			execl(path, "smpsim", "--speed", speed, "--quiet",
			    "--seed", "7", "--fault", fault, (char *)NULL);
		else
			execl(path, "smpsim", "--speed", speed, "--quiet",
			    (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	s->out = p[0];
	fcntl(s->out, F_SETFL, fcntl(s->out, F_GETFL) | O_NONBLOCK);
	end = now_s() + 10;
	while (now_s() < end) {
		struct pollfd pfd = {s->out, POLLIN, 0};
		poll(&pfd, 1, 100);
		sim_drain(s);
		const char *at = strstr(s->log, "listening on ");
		if (at != NULL && strchr(at, '\n') != NULL) {
			at += strlen("listening on ");
			size_t n = strcspn(at, " \r\n");
			ASSERT_LT(n, sizeof(s->pty));
			memcpy(s->pty, at, n);
			s->pty[n] = '\0';
			return;
		}
	}
	TEST_FAIL_("smpsim did not say where it listens: \"%s\"", s->log);
}

static void
sim_stop(struct sim *s)
{
	int st;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, &st, 0);
	}
	close(s->out);
}

/* What a run saw. */
struct run {
	struct link *l;
	struct sim *s;
	uint64_t next_ok;        /* the tag the next OK must carry */
	int oks, errors, lost, alarms, banners, status, other;
	int last_alarm, last_error;
	int run_reports, hold_reports;
	size_t max_unanswered;
	bool up, down;
	enum grbl_state state;
	double mpos[3];
	char down_why[160];
	bool strict_order;       /* OK tags must be consecutive */
	bool allow_down;         /* a fault test: DOWN is expected */
	int downs, ups, suspects;
	bool answered_after_down; /* an OK/ERROR after DOWN, before UP */
	uint64_t last_ok_tag;
};

static void
on_event(struct run *r, const struct link_event *ev)
{
	const struct grbl_event *g = &ev->grbl;

	switch (ev->kind) {
	case LINK_EV_UP:
		r->up = true;
		r->ups++;
		r->down = false;
		return;
	case LINK_EV_DOWN:
		r->down = true;
		r->downs++;
		snprintf(r->down_why, sizeof(r->down_why), "%s", ev->text);
		return;
	case LINK_EV_LOG:
	case LINK_EV_NONE:
		return;
	case LINK_EV_GRBL:
		break;
	}
	switch (g->kind) {
	case GRBL_EV_OK:
		if (r->strict_order)
			ASSERT_EQ(g->tag, r->next_ok);
		/* Never out of order, whatever the faults. */
		ASSERT_GT(g->tag, r->last_ok_tag);
		r->last_ok_tag = g->tag;
		if (r->down)
			r->answered_after_down = true;
		r->next_ok = g->tag + 1;
		r->oks++;
		break;
	case GRBL_EV_ERROR:
		r->errors++;
		r->last_error = g->code;
		break;
	case GRBL_EV_LOST:
		r->lost++;
		break;
	case GRBL_EV_ALARM:
		r->alarms++;
		r->last_alarm = g->code;
		break;
	case GRBL_EV_BANNER:
		r->banners++;
		break;
	case GRBL_EV_STATUS:
		r->status++;
		r->state = g->status.state;
		memcpy(r->mpos, g->status.mpos, sizeof(r->mpos));
		if (g->status.state == GRBL_STATE_RUN)
			r->run_reports++;
		if (g->status.state == GRBL_STATE_HOLD)
			r->hold_reports++;
		break;
	case GRBL_EV_OTHER:
		r->other++;
		if (g->code == GRBL_OTHER_SUSPECT)
			r->suspects++;
		break;
	default:
		break;
	}
}

/* One turn of a daemon-like poll loop (at most 10 ms). */
static void
turn(struct run *r)
{
	struct pollfd pfd[2];
	struct link_event ev;
	short events;
	int fd, to;

	fd = link_poll_fd(r->l, &events);
	pfd[0].fd = r->s->out;
	pfd[0].events = POLLIN;
	pfd[1].fd = fd;
	pfd[1].events = events;
	pfd[0].revents = pfd[1].revents = 0;
	to = link_timeout_ms(r->l, now_s());
	poll(pfd, fd >= 0 ? 2 : 1, to < 10 ? to : 10);
	sim_drain(r->s);
	link_step(r->l, now_s(), fd >= 0 ? pfd[1].revents : 0);
	while (link_next_event(r->l, &ev))
		on_event(r, &ev);
	if (grbl_unanswered_bytes(link_grbl(r->l)) > r->max_unanswered)
		r->max_unanswered = grbl_unanswered_bytes(link_grbl(r->l));
	ASSERT_MSG(!r->down || r->allow_down, "link went down: %s",
	    r->down_why);
}

#define RUN_UNTIL(r, secs, cond)                                              \
	do {                                                                  \
		double end_ = now_s() + (secs);                               \
		while (!(cond)) {                                             \
			ASSERT_MSG(now_s() < end_, "timed out waiting for %s" \
			    " (sim says: %s)", #cond, (r)->s->log);          \
			turn(r);                                              \
		}                                                             \
	} while (0)

static void
connect_sim_f(struct run *r, struct sim *s, const char *speed,
    const char *fault)
{
	struct link_opts o = {
		.baud = 115200, .status_poll_hz = 10, .watchdog_ms = 1000,
		.connect_timeout_ms = 1000, .reconnect_max_ms = 1000,
	};

	sim_start_f(s, speed, fault);
	o.port = s->pty;
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->strict_order = true;
	/* With faults injected, a connect may take more than one try. */
	r->allow_down = fault != NULL;
	ASSERT_NOT_NULL(r->l = link_new(&o));
	RUN_UNTIL(r, 20, r->up);
	r->allow_down = false;
}

static void
connect_sim(struct run *r, struct sim *s, const char *speed)
{
	connect_sim_f(r, s, speed, NULL);
}

/* Keeps the controller's buffer full of short moves, tags from *next. */
static void
stream_some(struct run *r, uint64_t *next, uint64_t last)
{
	char line[48];

	while (*next <= last) {
		snprintf(line, sizeof(line), "G1 X-%d Y-%d F2000",
		    (int)(*next % 7) + 1, (int)(*next % 5) + 1);
		if (!grbl_can_send(link_grbl(r->l), strlen(line)))
			break;
		ASSERT_EQ(grbl_send_line(link_grbl(r->l), line, *next), 0);
		(*next)++;
	}
}

/* Sends one line and waits for its answer. */
static void
command(struct run *r, const char *line, uint64_t tag)
{
	int before = r->oks + r->errors;

	r->next_ok = tag;
	ASSERT_EQ(grbl_send_line(link_grbl(r->l), line, tag), 0);
	RUN_UNTIL(r, 10, r->oks + r->errors > before);
	ASSERT_MSG(r->errors == 0, "%s: error:%d", line, r->last_error);
}

TEST_T(handshake_reads_info_and_settings, 30)
{
	struct sim s;
	struct run r;
	const struct link_info *info;

	connect_sim(&r, &s, "max");
	info = link_info(r.l);
	ASSERT_STR_CONTAINS(info->version, "1.1");
	ASSERT_EQ(info->rx_size, 128);
	ASSERT_EQ(info->planner_blocks, 15);
	/* What the connect check needs (grbl_check.h). */
	static const int need[] = {1, 11, 13, 20, 22, 32, 110, 111, 112, 120,
	    121, 122, 130, 131, 132};
	for (size_t i = 0; i < sizeof(need) / sizeof(*need); i++)
		ASSERT_MSG(info->has_setting[need[i]], "$%d missing", need[i]);
	ASSERT(info->has_setting[1]);
	ASSERT(info->has_setting[110] && info->has_setting[132]);
	ASSERT_GT(info->settings[130], 0);
	/* Homing enabled: it powers up locked. */
	ASSERT(info->alarm_at_connect);
	ASSERT_EQ(grbl_last_status(link_grbl(r.l))->state, GRBL_STATE_ALARM);
	/* Locked: G-code is refused until $X. */
	r.next_ok = 1;
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G0 X-1", 1), 0);
	RUN_UNTIL(&r, 5, r.errors == 1);
	ASSERT_EQ(r.last_error, GRBL_ERR_SYSTEM_GC_LOCK);
	r.errors = 0;
	command(&r, "$X", 2);
	RUN_UNTIL(&r, 5, r.state == GRBL_STATE_IDLE);
	link_destroy(&r.l);
	sim_stop(&s);
}

TEST_T(stream_hundreds_of_lines_in_order, 30)
{
	struct sim s;
	struct run r;
	char line[80];
	uint64_t tag = 100, total = 400, sent = 0;
	double last[3] = {0, 0, 0};

	connect_sim(&r, &s, "max");
	command(&r, "$X", 1);
	command(&r, "G21 G90 G94", 2);
	r.next_ok = tag;
	r.status = 0;
	int base = r.oks;
	while (sent < total) {
		/* Keep the controller's buffer as full as counting allows. */
		for (;;) {
			uint64_t i = sent;
			double p[3] = {-1.0 - (double)(i * 7 % 40),
			    -1.0 - (double)(i * 13 % 40), -1.0 - (double)(i % 3)};
			if (i % 5 == 4)
				snprintf(line, sizeof(line), "G4 P0.02");
			else
				snprintf(line, sizeof(line), "G1 X%.3f Y%.3f Z%.3f "
				    "F%d", p[0], p[1], p[2],
				    1000 + (int)(i % 5) * 500);
			if (sent == total ||
			    !grbl_can_send(link_grbl(r.l), strlen(line)))
				break;
			ASSERT_EQ(grbl_send_line(link_grbl(r.l), line,
			    tag + sent), 0);
			if (i % 5 != 4)
				memcpy(last, p, sizeof(last));
			sent++;
			/* Reports interleaved with the answers: at --speed
			 * max the whole stream can take less than one poll
			 * period. */
			if (sent % 20 == 0)
				link_realtime(r.l, GRBL_RT_STATUS);
		}
		turn(&r);
	}
	RUN_UNTIL(&r, 20, r.oks - base >= (int)total);
	ASSERT_EQ(r.oks - base, (int)total);
	ASSERT_EQ(r.errors, 0);
	ASSERT_EQ(r.lost, 0);
	ASSERT_EQ(r.next_ok, tag + total);
	ASSERT_LE(r.max_unanswered, 128);
	ASSERT_GE(r.max_unanswered, 100);   /* the buffer was kept full */
	ASSERT_GT(r.status, 0);
	/* It moved, and ended where the last move went. */
	RUN_UNTIL(&r, 10, r.state == GRBL_STATE_IDLE);
	int s0 = r.status;
	RUN_UNTIL(&r, 5, r.status > s0 + 1);
	for (int k = 0; k < 3; k++)
		ASSERT_NEAR(r.mpos[k], last[k], 0.001);
	link_destroy(&r.l);
	sim_stop(&s);
}

TEST_T(status_polled_during_motion, 30)
{
	struct sim s;
	struct run r;

	/* Real time x10: a 10 mm move at 300 mm/min is 0.2 s of wall time. */
	connect_sim(&r, &s, "10");
	command(&r, "$X", 1);
	command(&r, "G21 G90 G1 F300", 2);
	r.run_reports = 0;
	r.next_ok = 3;
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G1 X-10", 3), 0);
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G4 P0", 4), 0);
	RUN_UNTIL(&r, 10, r.oks == 4);
	/* The G4 P0 answers once the move is done: we saw it running. */
	ASSERT_GE(r.run_reports, 1);
	int n0 = r.status;
	RUN_UNTIL(&r, 5, r.status > n0);
	ASSERT_NEAR(r.mpos[0], -10, 1e-3);
	link_destroy(&r.l);
	sim_stop(&s);
}

TEST_T(feed_hold_and_resume, 30)
{
	struct sim s;
	struct run r;
	double held[3];
	int n0;

	connect_sim(&r, &s, "10");
	command(&r, "$X", 1);
	command(&r, "G21 G90", 2);
	/* 20 mm at 120 mm/min: 10 s of machine time, 1 s of wall time. */
	r.next_ok = 3;
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G1 X-20 F120", 3), 0);
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G4 P0", 4), 0);
	RUN_UNTIL(&r, 5, r.state == GRBL_STATE_RUN && r.mpos[0] < -1);
	link_realtime(r.l, GRBL_RT_HOLD);
	RUN_UNTIL(&r, 5, r.state == GRBL_STATE_HOLD &&
	    grbl_last_status(link_grbl(r.l))->substate == 0);
	memcpy(held, r.mpos, sizeof(held));
	ASSERT_MSG(held[0] < -1 && held[0] > -20, "held at X%.3f", held[0]);
	/* Held: it stays put, and the dwell after the move (whose ok comes
	 * only once the move is done) is not answered. */
	n0 = r.status;
	RUN_UNTIL(&r, 5, r.status >= n0 + 3);
	ASSERT_EQ(r.state, GRBL_STATE_HOLD);
	ASSERT_NEAR(r.mpos[0], held[0], 1e-6);
	ASSERT_EQ(r.oks, 3);
	ASSERT_EQ(grbl_unanswered(link_grbl(r.l)), 1);
	link_realtime(r.l, GRBL_RT_RESUME);
	RUN_UNTIL(&r, 5, r.state == GRBL_STATE_RUN);
	RUN_UNTIL(&r, 10, r.oks == 4);
	RUN_UNTIL(&r, 5, r.state == GRBL_STATE_IDLE);
	n0 = r.status;
	RUN_UNTIL(&r, 5, r.status > n0);
	ASSERT_NEAR(r.mpos[0], -20, 1e-3);
	ASSERT_EQ(r.errors, 0);
	link_destroy(&r.l);
	sim_stop(&s);
}

TEST_T(soft_reset_mid_motion_loses_unanswered, 30)
{
	struct sim s;
	struct run r;
	uint64_t t;
	size_t unanswered;

	connect_sim(&r, &s, "10");
	command(&r, "$X", 1);
	command(&r, "G21 G90", 2);
	/* More moves than the planner holds (each 1 s of machine time, 0.1 s
	 * of wall time), streamed until lines wait in the controller's
	 * receive buffer behind a full planner. */
	r.next_ok = 10;
	t = 10;
	double end = now_s() + 10;
	while (!(r.state == GRBL_STATE_RUN && grbl_unanswered(link_grbl(r.l)) >=
	    3)) {
		char line[40];
		ASSERT(now_s() < end);
		snprintf(line, sizeof(line), "G1 X-%d F600", (int)(t % 2) * 10 +
		    10);
		if (grbl_can_send(link_grbl(r.l), strlen(line))) {
			ASSERT_EQ(grbl_send_line(link_grbl(r.l), line, t), 0);
			t++;
		}
		turn(&r);
	}
	ASSERT_GE(r.oks - 2, 15);   /* the planner's blocks, answered */
	int oks_before = r.oks;
	unanswered = grbl_unanswered(link_grbl(r.l));
	ASSERT_GT(unanswered, 0);
	/* The daemon's abort: reset, and forget what was in flight. */
	link_realtime(r.l, GRBL_RT_RESET);
	grbl_flush(link_grbl(r.l));
	RUN_UNTIL(&r, 5, r.banners == 1);
	ASSERT_EQ(r.lost, (int)unanswered);
	ASSERT_EQ(r.oks, oks_before);   /* no late ok counted */
	ASSERT_EQ(r.alarms, 1);
	ASSERT_EQ(r.last_alarm, GRBL_ALARM_ABORT_CYCLE);
	ASSERT_EQ(grbl_unanswered(link_grbl(r.l)), 0);
	RUN_UNTIL(&r, 5, r.state == GRBL_STATE_ALARM);
	/* Locked until $X, then usable again. */
	r.errors = 0;
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G1 X-1 F600", 50), 0);
	RUN_UNTIL(&r, 5, r.errors == 1);
	ASSERT_EQ(r.last_error, GRBL_ERR_SYSTEM_GC_LOCK);
	r.errors = 0;
	command(&r, "$X", 51);
	link_destroy(&r.l);
	sim_stop(&s);
}

/* ---- the simulator's faults, seen from the driver ---- */

TEST_T(fault_link_closes_mid_stream, 30)
{
	struct sim s;
	struct run r;
	uint64_t next = 10, sent;

	connect_sim_f(&r, &s, "max", "close@lines=60");
	command(&r, "$X", 1);
	r.allow_down = true;
	r.strict_order = false;
	double end = now_s() + 10;
	while (!r.down) {
		ASSERT(now_s() < end);
		stream_some(&r, &next, 400);
		turn(&r);
	}
	sent = next - 10;
	/* Every line sent has exactly one fate, and none came after DOWN. */
	ASSERT_EQ((uint64_t)(r.oks - 1 + r.errors + r.lost), sent);
	ASSERT_GT(r.lost, 0);
	ASSERT(!r.answered_after_down);
	ASSERT_EQ(grbl_unanswered(link_grbl(r.l)), 0);
	ASSERT_EQ(link_state(r.l), LINK_DOWN);
	link_destroy(&r.l);
	sim_stop(&s);
}

TEST_T(fault_controller_resets_by_itself, 30)
{
	struct sim s;
	struct run r;
	uint64_t next = 10;

	connect_sim_f(&r, &s, "10", "reset@t=20");
	command(&r, "$X", 1);
	r.strict_order = false;
	double end = now_s() + 10;
	while (r.banners == 0) {
		ASSERT(now_s() < end);
		stream_some(&r, &next, 100000);
		turn(&r);
	}
	/* Everything sent got a fate; nothing is left in flight. */
	ASSERT_EQ((uint64_t)(r.oks - 1 + r.errors + r.lost), next - 10);
	ASSERT_EQ(grbl_unanswered(link_grbl(r.l)), 0);
	ASSERT_EQ(link_state(r.l), LINK_READY);
	link_destroy(&r.l);
	sim_stop(&s);
}

TEST_T(fault_stall_trips_watchdog_then_reconnects, 30)
{
	struct sim s;
	struct run r;
	double t0;

	/* Stalls 2 s of wall time, from 2 s after start (after connect). */
	connect_sim_f(&r, &s, "2", "stall@t=4,for=4");
	r.allow_down = true;
	t0 = now_s();
	RUN_UNTIL(&r, 8, r.down);
	ASSERT_STR_CONTAINS(r.down_why, "watchdog");
	ASSERT_LT(now_s() - t0, 6);
	r.up = false;
	RUN_UNTIL(&r, 15, r.up);
	ASSERT_EQ(link_state(r.l), LINK_READY);
	link_destroy(&r.l);
	sim_stop(&s);
}

TEST_T(fault_hard_limit_alarm_reported, 30)
{
	struct sim s;
	struct run r;

	connect_sim_f(&r, &s, "2", "alarm@t=2,code=1");
	RUN_UNTIL(&r, 5, r.alarms == 1);
	ASSERT_EQ(r.last_alarm, GRBL_ALARM_HARD_LIMIT);
	ASSERT(link_alarm_critical(r.l));
	/* The link stays up through it (the silence GRBL keeps after a
	 * critical alarm is covered by test_link's fake controller). */
	double until = now_s() + 1.5;
	while (now_s() < until)
		turn(&r);
	ASSERT_EQ(link_state(r.l), LINK_READY);
	link_realtime(r.l, GRBL_RT_RESET);
	RUN_UNTIL(&r, 5, r.banners == 1);
	ASSERT(!link_alarm_critical(r.l));
	int n0 = r.status;
	RUN_UNTIL(&r, 5, r.status > n0);
	link_destroy(&r.l);
	sim_stop(&s);
}

TEST_T(fault_dropped_bytes_are_flagged, 30)
{
	struct sim s;
	struct run r;
	uint64_t next = 10;

	/* One byte in 100 from the controller lost: some answers arrive
	 * mangled. */
	connect_sim_f(&r, &s, "max", "drop-tx=0.01");
	r.allow_down = true;   /* a mangled status may starve the watchdog */
	r.strict_order = false;
	command(&r, "$X", 1);
	double end = now_s() + 10;
	while (r.suspects == 0 && !r.down) {
		ASSERT(now_s() < end);
		stream_some(&r, &next, 100000);
		turn(&r);
	}
	ASSERT_GT(r.suspects, 0);
	/* Never more answers credited than lines sent. */
	ASSERT_LE((uint64_t)(r.oks - 1 + r.errors), next - 10);
	link_destroy(&r.l);
	sim_stop(&s);
}

TEST_MAIN()
