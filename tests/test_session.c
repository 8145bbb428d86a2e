/*
 * The session state machine against a fake controller: the real GRBL engine
 * (drivers/grbl.c) fed by a small GRBL imitation in this file that answers
 * every line, tracks the position of G0/G1 moves, honours `!`, 0x18, `$H`,
 * `$C`, `$X` and G10, and reports status. No pty, no sockets: every safety
 * rule of the session is checked here line by line, and the whole thing runs
 * again against smpsim in the end-to-end tests.
 */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>

#include "daemon/journal.h"
#include "daemon/log.h"
#include "daemon/planning.h"
#include "daemon/session.h"
#include "drivers/grbl.h"
#include "test.h"

#define MAX_LINES 20000

struct fake {
	struct grbl *g;
	bool up;
	bool answer;          /* answer lines with ok */
	size_t err_at;        /* > 0: answer line number err_at with error:33 */
	bool hold;
	bool alarm;
	bool check;
	bool reset_pending;
	double pos[3];        /* machine */
	double wco[3];
	bool g91;
	char lines[MAX_LINES][80];
	size_t nlines;
	uint8_t rt[256];
	size_t nrt;
	/* published */
	size_t dots, transitions;
	json_t *events;
	char last_to[32];
	double now;
};

static struct fake F;

static struct grbl *
io_engine(void *arg)
{
	struct fake *f = arg;
	return f->up ? f->g : NULL;
}

static void
io_realtime(void *arg, uint8_t b)
{
	struct fake *f = arg;

	if (f->nrt < sizeof(f->rt))
		f->rt[f->nrt++] = b;
	if (b == GRBL_RT_HOLD)
		f->hold = true;
	if (b == GRBL_RT_RESET)
		f->reset_pending = true;
}

static void
io_drop(void *arg, const char *why)
{
	(void)arg;
	(void)why;
}

static void
io_publish(void *arg, const char *topic, json_t *obj)
{
	struct fake *f = arg;

	if (strcmp(topic, "dot") == 0)
		f->dots++;
	if (strcmp(topic, "event") == 0) {
		const char *to = json_string_value(json_object_get(obj, "to"));
		if (to != NULL) {
			f->transitions++;
			snprintf(f->last_to, sizeof(f->last_to), "%s", to);
		}
		json_array_append(f->events, obj);
	}
	json_decref(obj);
}

static double
word(const char *l, char w, double dflt)
{
	const char *p = strchr(l, w);
	return p != NULL ? strtod(p + 1, NULL) : dflt;
}

/* What our imitation does with one line. */
static void
fake_line(struct fake *f, const char *l)
{
	int a;

	ASSERT(f->nlines < MAX_LINES);
	snprintf(f->lines[f->nlines++], 80, "%s", l);
	if (f->alarm && strcmp(l, "$H") != 0 && strcmp(l, "$X") != 0) {
		/* Locked: GRBL refuses G-code until $X or $H. */
		grbl_feed(f->g, "error:9\r\n", 9);
		return;
	}
	if (strcmp(l, "$H") == 0) {
		f->pos[0] = f->pos[1] = f->pos[2] = 0;
		f->alarm = false;
	} else if (strcmp(l, "$X") == 0)
		f->alarm = false;
	else if (strcmp(l, "$C") == 0) {
		f->check = !f->check;
		if (!f->check)   /* leaving check mode resets */
			f->reset_pending = true;
	} else if (strncmp(l, "G10L2P1", 7) == 0) {
		f->wco[0] = word(l + 7, 'X', 0);
		f->wco[1] = word(l + 7, 'Y', 0);
		f->wco[2] = word(l + 7, 'Z', 0);
	} else if (strncmp(l, "G10L20P1", 8) == 0) {
		memcpy(f->wco, f->pos, sizeof(f->wco));
	} else if (strncmp(l, "$J=", 3) == 0 || (!f->check && l[0] != '$' &&
	    (strchr(l, 'X') || strchr(l, 'Y') || strchr(l, 'Z')))) {
		bool rel = strstr(l, "G91") != NULL;
		for (a = 0; a < 3; a++) {
			double v = word(l, "XYZ"[a], NAN);
			if (isnan(v))
				continue;
			f->pos[a] = rel ? f->pos[a] + v : v + f->wco[a];
		}
	}
	if (f->err_at > 0 && f->nlines == f->err_at) {
		grbl_feed(f->g, "error:33\r\n", 10);
		return;
	}
	if (f->answer)
		grbl_feed(f->g, "ok\r\n", 4);
}

static void
fake_status(struct fake *f)
{
	char s[256];
	const char *st = f->alarm ? "Alarm" : f->hold ? "Hold:0" :
	    f->check ? "Check" : "Idle";

	snprintf(s, sizeof(s), "<%s|MPos:%.3f,%.3f,%.3f|Bf:15,128|FS:0,0|"
	    "WCO:%.3f,%.3f,%.3f>\r\n", st, f->pos[0], f->pos[1], f->pos[2],
	    f->wco[0], f->wco[1], f->wco[2]);
	grbl_feed(f->g, s, strlen(s));
}

/* One round: the controller reads what was sent, answers, reports; the
 * session takes the events and ticks. */
static void
step(struct session *s)
{
	const uint8_t *buf;
	size_t n, i, start = 0;
	struct grbl_event ev;
	char line[128];

	F.now += 0.01;
	n = grbl_tx_pending(F.g, &buf);
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			size_t l = i - start < sizeof(line) - 1 ? i - start :
			    sizeof(line) - 1;
			memcpy(line, buf + start, l);
			line[l] = '\0';
			fake_line(&F, line);
			start = i + 1;
		}
	}
	grbl_tx_consume(F.g, start);
	if (F.reset_pending) {
		F.reset_pending = false;
		F.hold = false;
		F.check = false;
		grbl_feed(F.g, "\r\nGrbl 1.1h ['$' for help]\r\n", 28);
	}
	fake_status(&F);
	while (grbl_next_event(F.g, &ev))
		session_grbl_event(s, &ev, F.now);
	session_tick(s, F.now);
}

static void
run_until(struct session *s, enum session_state st, int max_steps)
{
	int i;

	for (i = 0; i < max_steps && session_state(s) != st; i++)
		step(s);
	ASSERT_MSG(session_state(s) == st, "state %s, wanted %s",
	    session_state_name(session_state(s)), session_state_name(st));
}

static struct smpd_config cfg;
static void make_plan(void);
static char dir[200];

static struct session *
setup(bool heartbeat)
{
	struct session_io io = { io_engine, io_realtime, io_drop, io_publish,
		&F, NULL };
	struct session *s;
	char err[256];

	log_init(1, 0);
	memset(&F, 0, sizeof(F));
	F.g = grbl_new(128);
	F.answer = true;
	F.events = json_array();
	F.pos[0] = F.pos[1] = F.pos[2] = -1;
	make_plan();
	config_defaults(&cfg);
	snprintf(dir, sizeof(dir), "/tmp/smp-test-session-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(cfg.journal_dir, sizeof(cfg.journal_dir), "%s/j", dir);
	snprintf(cfg.port, sizeof(cfg.port), "/dev/null");
	cfg.require_heartbeat = heartbeat;
	s = session_new(&cfg, &io, err, sizeof(err));
	ASSERT_MSG(s != NULL, "%s", err);
	return s;
}

static void
link_up(struct session *s)
{
	struct link_info info;
	int i;

	memset(&info, 0, sizeof(info));
	snprintf(info.version, sizeof(info.version), "1.1h");
	info.planner_blocks = 15;
	info.rx_size = 128;
	for (i = 0; i < LINK_MAX_SETTINGS; i++)
		info.has_setting[i] = false;
	{
		/* A GRBL set up as the machine needs it. */
		static const int keys[] = { 1, 13, 20, 21, 22, 32, 11, 110,
			111, 112, 120, 121, 122 };
		const double vals[] = { 255, 0, 1, 0, 1, 0,
			cfg.planner.junction_deviation_mm,
			cfg.planner.max_rate_mm_min[0],
			cfg.planner.max_rate_mm_min[1],
			cfg.planner.max_rate_mm_min[2],
			cfg.planner.accel_mm_s2[0], cfg.planner.accel_mm_s2[1],
			cfg.planner.accel_mm_s2[2] };
		for (i = 0; i < (int)(sizeof(keys) / sizeof(keys[0])); i++) {
			info.has_setting[keys[i]] = true;
			info.settings[keys[i]] = vals[i];
		}
	}
	for (i = 0; i < 3; i++) {
		info.has_setting[130 + i] = true;
		info.settings[130 + i] = 200;
	}
	F.up = true;
	session_link_state(s, LINK_WAIT_BANNER, F.now);
	session_link_up(s, &info, F.now);
	step(s);
}

static int
cmd(struct session *s, enum ctl_cmd c, json_t *args, char *msg, size_t len)
{
	json_t *reply = NULL;
	char code[32], m[512];
	int rc = session_command(s, c, args, F.now, &reply, code, sizeof(code),
	    m, sizeof(m));

	if (msg != NULL)
		snprintf(msg, len, "%s: %s", code, m);
	json_decref(reply);
	json_decref(args);
	return rc;
}

/* An 8 x 6 grid, 2 mm apart, ids 1..48. */
#define NDOTS 48
static char plan_text[4096];

static void
make_plan(void)
{
	size_t off = 0;
	int i;

	off += (size_t)snprintf(plan_text + off, sizeof(plan_text) - off,
	    "id,x,y,depth,dwell_ms\n");
	for (i = 0; i < NDOTS; i++)
		off += (size_t)snprintf(plan_text + off, sizeof(plan_text) - off,
		    "%d,%d,%d,%.1f,50\n", i + 1, 2 * (i % 8), 2 * (i / 8),
		    0.5 + 0.1 * (i % 4));
}

static void ready_loaded(struct session *s);

/* Link up, the grid plan loaded inline, then homed, origin set and
 * preflighted: SS_READY. */
static void
ready(struct session *s)
{
	char msg[600];

	link_up(s);
	make_plan();
	ASSERT_EQ(session_state(s), SS_IDLE);
	ASSERT_EQ(cmd(s, CTL_LOAD, json_pack("{s:s, s:s}", "text", plan_text,
	    "format", "csv"), msg, sizeof(msg)), 0);
	ready_loaded(s);
}

/* From SS_LOADED: homed, origin set, over the origin, preflighted. */
static void
ready_loaded(struct session *s)
{
	char msg[600];

	ASSERT_EQ(session_state(s), SS_LOADED);
	ASSERT_EQ(cmd(s, CTL_HOME, NULL, msg, sizeof(msg)), 0);
	ASSERT_EQ(session_state(s), SS_HOMING);
	run_until(s, SS_LOADED, 50);
	ASSERT_EQ(cmd(s, CTL_SET_ORIGIN, json_pack("{s:[f,f,f]}", "wco", -50.0,
	    -50.0, -20.0), msg, sizeof(msg)), 0);
	step(s);
	step(s);
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f, s:f, s:f}", "x", 0.0, "y",
	    0.0, "z", 3.0), msg, sizeof(msg)), 0);
	step(s);
	step(s);
	ASSERT_EQ(cmd(s, CTL_PREFLIGHT, NULL, msg, sizeof(msg)), 0);
	ASSERT_EQ(session_state(s), SS_PREFLIGHT);
	run_until(s, SS_READY, 500);
}

static size_t
count_lines(const char *prefix)
{
	size_t i, n = 0;

	for (i = 0; i < F.nlines; i++)
		if (strncmp(F.lines[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

TEST(session_whole_run_against_fake_controller)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600];
	size_t before;

	ready(s);
	before = F.nlines;
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	ASSERT_EQ(session_state(s), SS_RUNNING);
	run_until(s, SS_COMPLETED, 2000);
	session_counts(s, &c);
	ASSERT_EQ(c.total, NDOTS);
	ASSERT_EQ(c.delivered, NDOTS);
	ASSERT_EQ(c.uncertain, 0);
	ASSERT(!c.needle_on);
	ASSERT_EQ(F.dots, NDOTS);
	/* Twelve dwells, the needle on once and off once. */
	{
		size_t i, dwells = 0;
		for (i = before; i < F.nlines; i++)
			if (strstr(F.lines[i], "G4") != NULL)
				dwells++;
		ASSERT_EQ(dwells, NDOTS);
	}
	ASSERT_EQ(count_lines("M3"), 2);   /* preflight (check mode) + run */
	ASSERT_GE(count_lines("M5"), 2);
	session_destroy(&s);
	ASSERT_NULL(s);
}

/* The one journal file of the test's directory, read whole. */
static char *
read_journal(char *path, size_t len)
{
	char jdir[260], err[256];
	DIR *d;
	struct dirent *de;
	char *text = NULL;

	snprintf(jdir, sizeof(jdir), "%s/j", dir);
	ASSERT_NOT_NULL(d = opendir(jdir));
	path[0] = '\0';
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 8 && strcmp(de->d_name + l - 8, ".journal") == 0)
			snprintf(path, len, "%s/%s", jdir, de->d_name);
	}
	closedir(d);
	ASSERT_MSG(path[0] != '\0', "no journal in %s", jdir);
	text = journal_read_file(path, NULL, err, sizeof(err));
	ASSERT_MSG(text != NULL, "%s", err);
	return text;
}

/*
 * Each dot is armed (its sent record synced) while the dot before it is
 * still in flight, so that no disk flush sits between the answer that frees
 * a plunge and the plunge: the sent record of the j-th dot comes before the
 * done record of the dot before it, and, the bound, after the done of the
 * one before that (max_dots_in_flight 2).
 */
TEST(session_arms_each_dot_before_the_one_before_is_done)
{
	struct session *s = setup(false);
	char msg[600], path[600], *text, *line, *save = NULL;
	size_t sent = 0, done = 0;

	ready(s);
	ASSERT_EQ(cfg.max_dots_in_flight, 2);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_COMPLETED, 2000);
	text = read_journal(path, sizeof(path));
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "sent ", 5) == 0) {
			/* sent #j (from 0) with done(j-2) in and done(j-1)
			 * not yet */
			if (sent >= 1)
				ASSERT_MSG(done <= sent - 1, "sent #%zu after "
				    "%zu done", sent, done);
			ASSERT_MSG(done + 2 >= sent, "sent #%zu after only %zu "
			    "done: past the in-flight bound", sent, done);
			sent++;
		} else if (strncmp(line, "done ", 5) == 0)
			done++;
	}
	ASSERT_EQ(sent, NDOTS);
	ASSERT_EQ(done, NDOTS);
	free(text);
	session_destroy(&s);
}

/* Per-dot times in windows of 4096 dots: the planner's own within a window,
 * and within a few milliseconds per window border of the whole run's. */
TEST(planning_dot_times_follow_the_estimate)
{
	struct planner_config pc;
	struct planning *pl;
	struct toolpath tp;
	char err[512], *text;
	double *full, start[3] = { 0, 0, 3 }, total;
	float *win;
	size_t i, n = 10000, off = 0, cap = n * 40 + 64;

	config_defaults(&cfg);
	pc = cfg.planner;
	ASSERT_NOT_NULL(text = malloc(cap));
	off += (size_t)snprintf(text + off, cap - off, "id,x,y,depth,dwell_ms\n");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(text + off, cap - off,
		    "%zu,%.2f,%.2f,0.5,%d\n", i + 1, 0.5 * (double)(i % 100),
		    0.5 * (double)(i / 100), 50 + 50 * (int)(i % 3));
	pl = planning_load(&pc, NULL, text, off, "csv", NULL, err, sizeof(err));
	ASSERT_MSG(pl != NULL, "%s", err);
	ASSERT_EQ(toolpath_build(&tp, pl->plan, pl->order, pl->n, start,
	    pl->surf, &pc, err, sizeof(err)), 0);
	ASSERT_NOT_NULL(full = calloc(n, sizeof(*full)));
	ASSERT_NOT_NULL(win = calloc(n, sizeof(*win)));
	total = planning_estimate(pl, &pc, &tp, full);
	ASSERT_GT(total, 0);
	ASSERT_EQ(planning_dot_times(&pc, &tp, win), 0);
	for (i = 0; i < n; i++) {
		/* the first window is the planner's own, to float precision */
		double tol = i < 4096 ? 1e-6 * full[i] + 1e-3 :
		    0.05 * (double)(i / 4096);
		ASSERT_MSG(fabs(win[i] - full[i]) <= tol, "dot %zu: %f vs %f",
		    i, (double)win[i], full[i]);
		if (i > 0)
			ASSERT_GE(win[i], win[i - 1]);
	}
	printf("windowed times: %.4f s off at the last of %zu dots (whole "
	    "run %.1f s)\n", (double)win[n - 1] - full[n - 1], n, total);
	free(full);
	free(win);
	toolpath_free(&tp);
	planning_destroy(&pl);
	free(text);
}

/* A plan file's bytes are not kept: the journal copies the file at start,
 * and a file changed since load refuses start; loaded again, it starts, and
 * the copy beside the journal is the file. */
TEST(session_start_copies_the_plan_file_and_refuses_a_changed_one)
{
	struct session *s = setup(false);
	char msg[600], path[300], jpath[600], copy[620], err[256], *text;
	FILE *f;
	size_t len;

	link_up(s);
	snprintf(path, sizeof(path), "%s/plan.csv", dir);
	ASSERT_NOT_NULL(f = fopen(path, "w"));
	fputs(plan_text, f);
	fclose(f);
	ASSERT_EQ(cmd(s, CTL_LOAD, json_pack("{s:s}", "plan", path), msg,
	    sizeof(msg)), 0);
	ready_loaded(s);
	/* One byte changes after load: the session must not run it. */
	ASSERT_NOT_NULL(f = fopen(path, "a"));
	fputs("# edited\n", f);
	fclose(f);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "changed since it was loaded");
	ASSERT_EQ(session_state(s), SS_READY);
	/* Loaded again (and preflighted again), it runs. */
	ASSERT_EQ(cmd(s, CTL_LOAD, json_pack("{s:s}", "plan", path), msg,
	    sizeof(msg)), 0);
	ASSERT_EQ(cmd(s, CTL_PREFLIGHT, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_READY, 500);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_COMPLETED, 2000);
	free(read_journal(jpath, sizeof(jpath)));
	snprintf(copy, sizeof(copy), "%.*s.plan", (int)(strlen(jpath) - 8),
	    jpath);
	text = journal_read_file(copy, &len, err, sizeof(err));
	ASSERT_MSG(text != NULL, "%s", err);
	ASSERT_EQ(len, strlen(plan_text) + strlen("# edited\n"));
	ASSERT_STR_CONTAINS(text, "# edited");
	free(text);
	session_destroy(&s);
}

TEST(session_refuses_with_state_and_reason)
{
	struct session *s = setup(false);
	char msg[600];

	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "bad_state");
	ASSERT_STR_CONTAINS(msg, "state disconnected");
	link_up(s);
	ASSERT_EQ(cmd(s, CTL_PAUSE, NULL, msg, sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "state idle");
	ASSERT_EQ(cmd(s, CTL_LOAD, json_pack("{s:s, s:s}", "text", plan_text,
	    "format", "csv"), msg, sizeof(msg)), 0);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "state loaded");
	/* Preflight needs homing and an origin first. */
	ASSERT_EQ(cmd(s, CTL_PREFLIGHT, NULL, msg, sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "not_homed");
	session_destroy(&s);
}

/*
 * Every malformed or untimely command is refused with its code and a reason
 * naming the field or the state, and changes nothing: the state stays, no
 * byte goes to the controller.
 */
TEST(session_refusals_change_nothing)
{
	static const struct {
		enum ctl_cmd cmd;
		const char *args;     /* JSON, or NULL */
		const char *code, *words;
	} bad[] = {
		{ CTL_PREFLIGHT, NULL, "no_origin", "origin" },
		{ CTL_SET_ORIGIN, "{\"wco\": \"here\"}", "bad_request", "wco" },
		{ CTL_SET_ORIGIN, "{\"wco\": [1, \"a\", 3]}", "bad_request",
		    "wco[1]" },
		{ CTL_SET_ORIGIN, "{\"wco\": [1, 2]}", "bad_request", "wco" },
		{ CTL_JOG, "{\"x\": \"a\"}", "bad_request", "x: not a number" },
		{ CTL_JOG, "{\"x\": 1, \"feed\": 0}", "bad_request", "feed" },
		{ CTL_JOG, "{\"x\": 1, \"feed\": 20000}", "bad_request", "feed" },
		{ CTL_JOG, "{}", "bad_request", "at least one" },
		{ CTL_JOG, "{\"x\": 1000}", "out_of_envelope", "envelope" },
		{ CTL_REDO, "{\"ids\": [1]}", "bad_state", "state loaded" },
		{ CTL_START, NULL, "bad_state", "state loaded" },
		{ CTL_PAUSE, NULL, "bad_state", "state loaded" },
		{ CTL_RESUME, NULL, "bad_state", "state loaded" },
	};
	struct session *s = setup(false);
	char msg[600];
	size_t i, lines;

	link_up(s);
	ASSERT_EQ(cmd(s, CTL_LOAD, json_pack("{s:s, s:s}", "text", plan_text,
	    "format", "csv"), msg, sizeof(msg)), 0);
	ASSERT_EQ(cmd(s, CTL_HOME, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_LOADED, 50);
	step(s);
	lines = F.nlines;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *args = NULL;
		if (bad[i].args != NULL)
			ASSERT_NOT_NULL(args = json_loads(bad[i].args, 0,
			    NULL));
		ASSERT_MSG(cmd(s, bad[i].cmd, args, msg, sizeof(msg)) == -1,
		    "case %zu accepted", i);
		ASSERT_STR_CONTAINS(msg, bad[i].code);
		ASSERT_STR_CONTAINS(msg, bad[i].words);
		step(s);
		ASSERT_EQ(session_state(s), SS_LOADED);
		ASSERT_EQ(F.nlines, lines);
	}
	session_destroy(&s);
}

TEST(session_bad_plan_keeps_previous)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600];

	link_up(s);
	ASSERT_EQ(cmd(s, CTL_LOAD, json_pack("{s:s, s:s}", "text", plan_text,
	    "format", "csv"), msg, sizeof(msg)), 0);
	ASSERT_EQ(cmd(s, CTL_LOAD, json_pack("{s:s, s:s}", "text",
	    "x,y,depth\n1,2,0.5\n3,oops,0.5\n", "format", "csv"), msg,
	    sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "bad_plan");
	ASSERT_STR_CONTAINS(msg, ":3:");
	session_counts(s, &c);
	ASSERT_EQ(c.total, NDOTS);
	ASSERT_EQ(session_state(s), SS_LOADED);
	session_destroy(&s);
}

TEST(session_bounds_dots_in_flight)
{
	struct session *s = setup(false);
	char msg[600];
	size_t before;
	int i;

	ready(s);
	F.answer = false;    /* the controller goes quiet: nothing confirmed */
	before = F.nlines;
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 50; i++)
		step(s);
	/* Never more plunges out than max_dots_in_flight (2), and never more
	 * bytes than the receive buffer. */
	{
		size_t j, plunges = 0, bytes = 0;
		for (j = before; j < F.nlines; j++) {
			bytes += strlen(F.lines[j]) + 1;
			if (strstr(F.lines[j], "Z-") != NULL)
				plunges++;
		}
		ASSERT_LE(bytes, 128);
		ASSERT_LE(plunges, 2);
	}
	session_destroy(&s);
}

/*
 * A plunge leaves smpd only in the same write as its dwell and its retract:
 * a controller that never hears from smpd again (killed, host powered off)
 * then brings the needle out of the skin by itself. The fake controller
 * here answers one line per round, so the receive buffer stays nearly full
 * and a plunge that fits without its retract is a real possibility.
 */
TEST(session_plunge_goes_with_dwell_and_retract)
{
	struct session *s = setup(false);
	char msg[600];
	size_t plunges = 0;
	int i;

	/* Enough dots in flight that the 128-byte buffer, not the bound,
	 * is what holds lines back. */
	cfg.max_dots_in_flight = 12;
	ready(s);
	F.answer = false;
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 3000 && session_state(s) == SS_RUNNING; i++) {
		const uint8_t *buf;
		size_t n = grbl_tx_pending(F.g, &buf), k, nl = 0, start = 0;
		char lines[64][80];

		for (k = 0; k < n; k++)
			if (buf[k] == '\n') {
				size_t l = k - start < 79 ? k - start : 79;
				ASSERT(nl < 64);   /* 128 bytes hold fewer */
				memcpy(lines[nl], buf + start, l);
				lines[nl++][l] = '\0';
				start = k + 1;
			}
		for (k = 0; k < nl; k++) {
			if (strncmp(lines[k], "G1", 2) != 0 ||
			    strchr(lines[k], 'Z') == NULL)
				continue;
			plunges++;
			ASSERT_MSG(k + 2 < nl, "plunge \"%s\" written without "
			    "its dwell and retract", lines[k]);
			ASSERT_MSG(strncmp(lines[k + 1], "G4", 2) == 0,
			    "after the plunge: \"%s\"", lines[k + 1]);
			ASSERT_MSG(strncmp(lines[k + 2], "G0Z", 3) == 0,
			    "after the dwell: \"%s\"", lines[k + 2]);
		}
		step(s);
		if (grbl_unanswered(F.g) > 0)
			grbl_feed(F.g, "ok\r\n", 4);
	}
	ASSERT_EQ(session_state(s), SS_COMPLETED);
	ASSERT_EQ(plunges, NDOTS);
	session_destroy(&s);
}

/*
 * The time left follows the pace the run really has: this fake controller
 * delivers a dot in a few 10 ms rounds, far faster than the planner's
 * motion estimate, and half way through, the ETA must predict the rest of
 * the run within 30%, not the estimate's figure; and it counts down rather
 * than climbing between confirmations.
 */
TEST(session_eta_follows_the_measured_pace)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600];
	double eta = -1, t_half = 0, est_left, prev = -1, rise = 0;
	json_t *st;

	ready(s);
	/* One answer per 10 ms round: a dot takes several rounds, so there
	 * is time between confirmations for the figure to drift. */
	F.answer = false;
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	st = session_status_json(s, F.now);
	est_left = json_number_value(json_object_get(st, "eta_s"));
	json_decref(st);
	ASSERT_GT(est_left, 5.0);     /* the motion estimate: seconds */
	for (int i = 0; i < 5000 && session_state(s) == SS_RUNNING; i++) {
		step(s);
		if (grbl_unanswered(F.g) > 0)
			grbl_feed(F.g, "ok\r\n", 4);
		session_counts(s, &c);
		/* From a quarter on, the figure only counts down (measured at
		 * "now" instead of the last confirmation it climbed 30 ms per
		 * 10 ms round here between confirmations). */
		if (c.delivered >= NDOTS / 4 && session_state(s) == SS_RUNNING) {
			double now_eta;
			st = session_status_json(s, F.now);
			now_eta = json_number_value(json_object_get(st, "eta_s"));
			json_decref(st);
			if (prev >= 0 && now_eta - prev > rise)
				rise = now_eta - prev;
			prev = now_eta;
		}
		if (eta < 0 && c.delivered >= NDOTS / 2) {
			st = session_status_json(s, F.now);
			eta = json_number_value(json_object_get(st, "eta_s"));
			json_decref(st);
			t_half = F.now;
		}
	}
	ASSERT_EQ(session_state(s), SS_COMPLETED);
	ASSERT_GT(eta, 0);
	ASSERT_NEAR(eta, F.now - t_half, 0.3 * (F.now - t_half));
	ASSERT_LT(rise, 0.01 * (F.now - t_half));
	ASSERT_LT(eta, 0.25 * est_left);
	session_destroy(&s);
}

TEST(session_pause_settles_inflight_and_retracts)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600];
	int i;

	ready(s);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 6; i++)
		step(s);
	F.answer = false;      /* the next dwells stay unconfirmed */
	for (i = 0; i < 3; i++)
		step(s);
	F.answer = true;
	ASSERT_EQ(cmd(s, CTL_PAUSE, NULL, msg, sizeof(msg)), 0);
	ASSERT_EQ(session_state(s), SS_PAUSING);
	run_until(s, SS_PAUSED, 200);
	/* Hold, then reset, then the needle off and a straight retract. */
	ASSERT_EQ(F.rt[F.nrt - 2], GRBL_RT_HOLD);
	ASSERT_EQ(F.rt[F.nrt - 1], GRBL_RT_RESET);
	ASSERT(strcmp(F.lines[F.nlines - 1], "M5") == 0 ||
	    (strcmp(F.lines[F.nlines - 2], "M5") == 0 &&
	    strncmp(F.lines[F.nlines - 1], "G90G0Z", 6) == 0));
	session_counts(s, &c);
	ASSERT(!c.needle_on);
	ASSERT_EQ(c.delivered + c.uncertain + c.pending, NDOTS);
	ASSERT_LE(c.uncertain, 1);
	ASSERT_GT(c.pending, 0);
	/* The journal says the same: a dot armed whose plunge never went is
	 * pending again there too, not left `sent` (uncertain at replay). */
	{
		char path[600], err[256], *text;
		struct journal_replay r;
		size_t k, unc = 0, pend = 0;
		text = read_journal(path, sizeof(path));
		free(text);
		ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
		for (k = 0; k < r.h.dots; k++) {
			unc += r.fate[k] == JF_UNCERTAIN;
			pend += r.fate[k] == JF_PENDING;
		}
		journal_replay_free(&r);
		ASSERT_EQ(unc, c.uncertain);
		ASSERT_EQ(pend, c.pending);
	}

	/* Resume delivers the rest; nothing twice. */
	ASSERT_EQ(cmd(s, CTL_RESUME, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_COMPLETED, 2000);
	session_counts(s, &c);
	ASSERT_EQ(c.delivered + c.uncertain, NDOTS);
	ASSERT_EQ(F.dots, c.delivered);
	session_destroy(&s);
}

TEST(session_alarm_faults_unlocks_and_retracts)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600];
	int i;

	ready(s);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 5; i++)
		step(s);
	/* A hard limit mid-plunge: the tip is in the skin. */
	F.pos[2] = F.wco[2] - 0.4;
	F.alarm = true;
	grbl_feed(F.g, "ALARM:1\r\n", 9);
	run_until(s, SS_FAULTED, 10);
	for (i = 0; i < 50; i++)
		step(s);
	session_counts(s, &c);
	ASSERT(!c.needle_on);
	ASSERT_EQ(F.rt[F.nrt - 1], GRBL_RT_RESET);
	ASSERT_GE(count_lines("$X"), 1);
	ASSERT_STR_CONTAINS(F.lines[F.nlines - 1], "G0Z");
	/* Resume needs homing again after an alarm. */
	ASSERT_EQ(cmd(s, CTL_RESUME, NULL, msg, sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "not_homed");
	ASSERT_EQ(cmd(s, CTL_HOME, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_FAULTED, 50);
	ASSERT_EQ(cmd(s, CTL_RESUME, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_COMPLETED, 2000);
	session_counts(s, &c);
	ASSERT_EQ(c.delivered + c.uncertain, NDOTS);
	session_destroy(&s);
}

TEST(session_deadman_pauses)
{
	struct session *s = setup(true);
	char msg[600];

	ready(s);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "no_heartbeat");
	ASSERT_EQ(cmd(s, CTL_HEARTBEAT, NULL, msg, sizeof(msg)), 0);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	F.answer = false;
	/* 2 s of silence at 10 ms a step. */
	run_until(s, SS_PAUSING, 400);
	F.answer = true;
	run_until(s, SS_PAUSED, 200);
	session_destroy(&s);
}

TEST(session_link_loss_and_recovery_from_journal)
{
	struct session *s = setup(false);
	struct session_counts c, c2;
	char msg[600], err[256];
	int i;

	ready(s);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 6; i++)
		step(s);
	F.answer = false;
	for (i = 0; i < 3; i++)
		step(s);
	F.up = false;
	session_link_down(s, "test: cable pulled", F.now);
	ASSERT_EQ(session_state(s), SS_FAULTED);
	session_counts(s, &c);
	ASSERT_GE(c.uncertain, 1);
	/* The daemon dies here; a new one reads the journal. The controller
	 * keeps its position and work offset. */
	session_destroy(&s);
	{
		char old[240];
		double pos[3], wco[3];
		memcpy(pos, F.pos, sizeof(pos));
		memcpy(wco, F.wco, sizeof(wco));
		snprintf(old, sizeof(old), "%s/j", dir);
		s = setup(false);
		memcpy(F.pos, pos, sizeof(pos));
		memcpy(F.wco, wco, sizeof(wco));
		snprintf(cfg.journal_dir, sizeof(cfg.journal_dir), "%s", old);
	}
	ASSERT_EQ(session_recover(s, F.now, err, sizeof(err)), 1);
	session_counts(s, &c2);
	ASSERT_EQ(c2.total, NDOTS);
	ASSERT_EQ(c2.delivered, c.delivered);
	ASSERT_EQ(c2.uncertain, c.uncertain);
	link_up(s);
	run_until(s, SS_PAUSED, 200);
	session_counts(s, &c2);
	ASSERT(!c2.needle_on);
	/* Uncertain dots are listed and are not repeated by resume. */
	ASSERT_EQ(cmd(s, CTL_RESUME, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_COMPLETED, 2000);
	session_counts(s, &c2);
	ASSERT_EQ(c2.delivered + c2.uncertain, NDOTS);
	ASSERT_EQ(c2.uncertain, c.uncertain);
	session_destroy(&s);
}

TEST(session_redo_and_ack)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600];
	json_t *reply = NULL;
	char code[32], m[256];
	int i;

	ready(s);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 6; i++)
		step(s);
	F.alarm = true;
	grbl_feed(F.g, "ALARM:1\r\n", 9);
	for (i = 0; i < 50; i++)
		step(s);
	ASSERT_EQ(session_state(s), SS_FAULTED);
	session_counts(s, &c);
	ASSERT_GE(c.uncertain, 1);
	ASSERT_EQ(session_command(s, CTL_LIST_UNCERTAIN, NULL, F.now, &reply,
	    code, sizeof(code), m, sizeof(m)), 0);
	ASSERT_EQ(json_array_size(json_object_get(reply, "ids")), c.uncertain);
	{
		json_int_t id = json_integer_value(json_array_get(
		    json_object_get(reply, "ids"), 0));
		/* A dot that is not uncertain cannot be redone, nor one
		 * that does not exist, nor ids that are not ids. */
		ASSERT_EQ(cmd(s, CTL_REDO, json_pack("{s:[i]}", "ids", NDOTS), msg,
		    sizeof(msg)), -1);
		ASSERT_STR_CONTAINS(msg, "not uncertain");
		ASSERT_EQ(cmd(s, CTL_REDO, json_pack("{s:[i]}", "ids", 99999),
		    msg, sizeof(msg)), -1);
		ASSERT_STR_CONTAINS(msg, "not_uncertain");
		ASSERT_EQ(cmd(s, CTL_REDO, json_pack("{s:s}", "ids", "x"), msg,
		    sizeof(msg)), -1);
		ASSERT_STR_CONTAINS(msg, "bad_request");
		ASSERT_EQ(cmd(s, CTL_REDO, json_pack("{s:[f]}", "ids", 1.5), msg,
		    sizeof(msg)), -1);
		ASSERT_STR_CONTAINS(msg, "ids[0]");
		ASSERT_EQ(cmd(s, CTL_ACK_UNCERTAIN, json_pack("{s:[i]}", "ids",
		    99999), msg, sizeof(msg)), -1);
		ASSERT_EQ(cmd(s, CTL_REDO, json_pack("{s:[I]}", "ids", id), msg,
		    sizeof(msg)), 0);
	}
	json_decref(reply);
	ASSERT_EQ(cmd(s, CTL_ACK_UNCERTAIN, NULL, msg, sizeof(msg)), 0);
	session_counts(s, &c);
	ASSERT_EQ(c.uncertain, 0);
	ASSERT_EQ(cmd(s, CTL_HOME, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_FAULTED, 50);
	ASSERT_EQ(cmd(s, CTL_RESUME, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_COMPLETED, 2000);
	session_counts(s, &c);
	ASSERT_EQ(c.delivered + c.acked, NDOTS);
	session_destroy(&s);
}

/*
 * A journal that stops taking writes (a full disk, a dead SD card) stops
 * the run the safe way: no plunge goes out that the journal has not
 * recorded first, the needle goes off, and the session ends faulted. The
 * failure is made real: the journal's descriptor is replaced under it by
 * /dev/full, whose writes fail with ENOSPC.
 */
TEST(session_journal_failure_is_a_safe_stop)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600], link[512], path[64];
	size_t plunges_before = 0, plunges_after = 0, i, mark;
	struct dirent *de;
	DIR *d;
	int full, jfd = -1;

	ready(s);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 2000 && F.dots < 10; i++)
		step(s);
	ASSERT_EQ(session_state(s), SS_RUNNING);
	ASSERT_NOT_NULL(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL) {
		ssize_t n;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strstr(link, ".journal") != NULL)
			jfd = atoi(de->d_name);
	}
	closedir(d);
	ASSERT(jfd >= 0);
	ASSERT((full = open("/dev/full", O_WRONLY)) >= 0);
	ASSERT_EQ(dup2(full, jfd), jfd);
	close(full);
	mark = F.nlines;
	for (i = 0; i < mark; i++)
		plunges_before += strncmp(F.lines[i], "G1", 2) == 0 &&
		    strchr(F.lines[i], 'Z') != NULL;
	run_until(s, SS_FAULTED, 2000);
	for (i = mark; i < F.nlines; i++)
		plunges_after += strncmp(F.lines[i], "G1", 2) == 0 &&
		    strchr(F.lines[i], 'Z') != NULL;
	/* At most the plunges already armed (journalled) went out. */
	ASSERT_LE(plunges_after, (size_t)cfg.max_dots_in_flight);
	ASSERT_GT(plunges_before, 0);
	session_counts(s, &c);
	ASSERT(!c.needle_on);
	ASSERT_LT(c.delivered, NDOTS);
	ASSERT_GE(count_lines("M5"), 2);
	session_destroy(&s);
}

TEST(session_rejected_line_stops_the_run)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600];

	ready(s);
	F.err_at = F.nlines + 40;
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_FAULTED, 500);
	session_counts(s, &c);
	ASSERT(!c.needle_on);
	ASSERT_GT(c.pending, 0);
	ASSERT_EQ(F.rt[F.nrt - 2], GRBL_RT_HOLD);
	ASSERT_EQ(F.rt[F.nrt - 1], GRBL_RT_RESET);
	ASSERT_GE(count_lines("M5"), 2);
	session_destroy(&s);
}

/*
 * Loads plan (CSV text), homes, jogs 30 mm in and 10 mm down from the
 * machine's top and sets the work zero there (G10 L20): the tip is then at
 * work z 0, on the plan's skin, and the program inside the soft limits.
 */
static void
origin_here(struct session *s, const char *plan)
{
	char msg[600];

	link_up(s);
	ASSERT_EQ(cmd(s, CTL_LOAD, json_pack("{s:s, s:s}", "text", plan,
	    "format", "csv"), msg, sizeof(msg)), 0);
	ASSERT_EQ(cmd(s, CTL_HOME, NULL, msg, sizeof(msg)), 0);
	run_until(s, SS_LOADED, 50);
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f, s:f, s:f, s:b}", "x", -30.0,
	    "y", -30.0, "z", -10.0, "relative", 1), msg, sizeof(msg)), 0);
	step(s);
	step(s);
	ASSERT_EQ(cmd(s, CTL_SET_ORIGIN, NULL, msg, sizeof(msg)), 0);
	step(s);
	step(s);
}

TEST(session_preflight_failure_goes_back_to_loaded)
{
	struct session *s = setup(false);
	char msg[600];
	int i;
	size_t j;
	bool failed = false;

	origin_here(s, plan_text);
	ASSERT_NEAR(F.wco[2], -10, 1e-9);
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f}", "z", 3.0), msg,
	    sizeof(msg)), 0);
	step(s);
	step(s);
	F.err_at = F.nlines + 20;
	ASSERT_EQ(cmd(s, CTL_PREFLIGHT, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 500 && session_state(s) == SS_PREFLIGHT; i++)
		step(s);
	ASSERT_EQ(session_state(s), SS_LOADED);
	for (j = 0; j < json_array_size(F.events); j++) {
		json_t *ev = json_array_get(F.events, j);
		const char *op = json_string_value(json_object_get(ev, "op"));
		if (op != NULL && strcmp(op, "preflight") == 0 &&
		    json_is_false(json_object_get(ev, "ok"))) {
			failed = true;
			ASSERT_STR_CONTAINS(json_string_value(json_object_get(ev,
			    "message")), "error:33");
		}
	}
	ASSERT(failed);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), -1);
	session_destroy(&s);
}

/*
 * Jogs never drag the tip through the skin once the origin has put the
 * plan's skin on the machine: not below the clearance plane at either end,
 * nor over a ridge between two low ends, except straight up. Before the
 * origin is set the operator is setting up and may go anywhere in the
 * envelope.
 */
TEST(session_jog_keeps_above_the_skin)
{
	/* Two rows of dots on flat skin at 0 and a ridge at x = 5 (z 3). */
	static const char ridge[] = "x,y,z,depth\n0,0,0,0.5\n0,4,0,0.5\n"
	    "5,0,3,0.5\n5,4,3,0.5\n10,0,0,0.5\n10,4,0,0.5\n";
	struct session *s = setup(false);
	char msg[600];

	/* Setting up, before the origin: the operator may touch off below
	 * any clearance (origin_here jogs down 10 mm to do so). */
	origin_here(s, ridge);
	/* The tip is at the skin (work z 0): sideways is refused, up is not. */
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f}", "x", 1.0), msg,
	    sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "below_clearance");
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f}", "z", 2.0), msg,
	    sizeof(msg)), 0);
	step(s);
	step(s);
	/* Over the flat part at z 2: fine. Across the ridge: refused, the
	 * skin rises to 3 between the ends (4 with the clearance). */
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f, s:f}", "x", 0.0, "y", 4.0),
	    msg, sizeof(msg)), 0);
	step(s);
	step(s);
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f}", "x", 10.0), msg,
	    sizeof(msg)), -1);
	ASSERT_STR_CONTAINS(msg, "below_clearance");
	/* Down below the clearance plane: refused; a relative jog is
	 * checked where it ends. */
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f}", "z", 0.5), msg,
	    sizeof(msg)), -1);
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f, s:b}", "z", -1.5,
	    "relative", 1), msg, sizeof(msg)), -1);
	/* High enough, the ridge is no obstacle. */
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f, s:f}", "x", 10.0, "z", 4.5),
	    msg, sizeof(msg)), -1);    /* rises while it crosses: starts at 2 */
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f}", "z", 4.5), msg,
	    sizeof(msg)), 0);
	step(s);
	step(s);
	ASSERT_EQ(cmd(s, CTL_JOG, json_pack("{s:f}", "x", 10.0), msg,
	    sizeof(msg)), 0);
	session_destroy(&s);
}

TEST(session_lost_answer_is_a_fault)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600];
	int i;

	ready(s);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 6; i++)
		step(s);
	/* An ok goes missing: the controller sits Idle, the host waits. */
	F.answer = false;
	for (i = 0; i < 150; i++)
		step(s);
	ASSERT_EQ(session_state(s), SS_RUNNING);   /* 1.5 s: a dwell, maybe */
	run_until(s, SS_PAUSING, 200);
	F.answer = true;
	run_until(s, SS_FAULTED, 200);
	session_counts(s, &c);
	ASSERT(!c.needle_on);
	session_destroy(&s);
}

TEST(session_shutdown_leaves_it_paused_in_the_journal)
{
	struct session *s = setup(false);
	struct session_counts c;
	char msg[600];
	int i;

	ready(s);
	ASSERT_EQ(cmd(s, CTL_START, NULL, msg, sizeof(msg)), 0);
	for (i = 0; i < 6; i++)
		step(s);
	ASSERT(!session_quiescent(s));
	session_shutdown(s, "SIGTERM", F.now);
	for (i = 0; i < 100 && !session_quiescent(s); i++)
		step(s);
	ASSERT(session_quiescent(s));
	ASSERT_EQ(session_state(s), SS_PAUSED);
	session_counts(s, &c);
	ASSERT(!c.needle_on);
	ASSERT_GT(c.pending, 0);
	session_destroy(&s);
	{
		char path[512];
		snprintf(path, sizeof(path), "%s/j", dir);
		ASSERT_EQ(journal_find_open(path, msg, sizeof(msg)), 1);
	}
}

TEST_MAIN()
