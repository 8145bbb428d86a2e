/*
 * smpweb in a real browser: smpsim, smpd and smpweb run, headless Chromium
 * (page_driver.js, playwright-core) opens the page, and a 100-dot session
 * runs at the simulator's full speed. The page must show the plan before the
 * session (taken from the plan file the status names), then every dot
 * delivered and the state `completed`; a second smpweb started after the
 * session (it never saw a `dot` message) must show the same from the
 * journal; and when smpd goes away the page must say so. Screenshots are
 * saved in <build>/web-artifacts/.
 *
 * Missing chromium or node_modules is a failure that says what to install,
 * never a silent skip.
 */
#include "web/web_test.h"

struct driver {
	pid_t pid;
	FILE *in, *out;
};

static void
driver_start(struct driver *d)
{
	const char *src = getenv("SMP_SOURCE_DIR");
	char dir[512], mod[600];
	int to[2], from[2];

	ASSERT_MSG(src != NULL, "SMP_SOURCE_DIR is not set (run under ctest)");
	ASSERT_MSG(access("/usr/bin/chromium", X_OK) == 0, "/usr/bin/chromium "
	    "is missing: apt-get install chromium");
	snprintf(dir, sizeof(dir), "%s/tests/web", src);
	snprintf(mod, sizeof(mod), "%s/node_modules/playwright-core", dir);
	ASSERT_MSG(access(mod, R_OK) == 0, "%s is missing: run `npm ci` in %s",
	    mod, dir);
	ASSERT_EQ(pipe(to), 0);
	ASSERT_EQ(pipe(from), 0);
	d->pid = fork();
	ASSERT(d->pid >= 0);
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		if (chdir(dir) != 0)
			_exit(126);
		execlp("node", "node", "page_driver.js", (char *)NULL);
		printf("fail node is missing: apt-get install nodejs npm\n");
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	d->in = fdopen(to[1], "w");
	d->out = fdopen(from[0], "r");
	ASSERT_NOT_NULL(d->in);
	ASSERT_NOT_NULL(d->out);
}

/* Sends one command and returns the driver's answer; the test fails on
 * "fail ...". */
static void
driver_do(struct driver *d, char *ans, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
driver_do(struct driver *d, char *ans, size_t len, const char *fmt, ...)
{
	char cmd[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fprintf(d->in, "%s\n", cmd);
	fflush(d->in);
	ASSERT_MSG(fgets(ans, (int)len, d->out) != NULL, "page driver gave no "
	    "answer to \"%s\"", cmd);
	ans[strcspn(ans, "\n")] = '\0';
	ASSERT_MSG(strncmp(ans, "ok", 2) == 0, "page: \"%s\" -> %s", cmd, ans);
}

static void
driver_stop(struct driver *d)
{
	char ans[256];

	driver_do(d, ans, sizeof(ans), "quit");
	fclose(d->in);
	fclose(d->out);
	ASSERT_EQ(e2e_wait_pid(d->pid, 20), 0);
}

static void
artifact(char *path, size_t len, const char *name)
{
	const char *b = getenv("SMP_BUILD_DIR");
	char dir[400];

	snprintf(dir, sizeof(dir), "%s/web-artifacts", b ? b : "/tmp");
	mkdir(dir, 0755);
	snprintf(path, len, "%s/%s", dir, name);
}

TEST_T(web_page_shows_the_whole_session, 150)
{
	struct e2e e;
	struct web_proc wp, wp2;
	struct driver d;
	char args[1200], ans[4096], shot[512];
	size_t from;
	json_t *r, *ev;

	e2e_init(&e);
	e2e_start_sim(&e);
	e2e_write_config(&e, NULL);
	e2e_start_smpd(&e);
	e2e_connect(&e);
	e2e_write_plan(e.plan, 10, 10, 1.0);

	snprintf(args, sizeof(args), "-v --status %s -f %s", e.pub_ep, e.conf);
	web_start(&wp, e.dir, args);
	driver_start(&d);
	driver_do(&d, ans, sizeof(ans), "open http://127.0.0.1:%d/", wp.port);

	r = e2e_cmd(&e, "load", json_pack("{s:s}", "plan", e.plan));
	ASSERT_MSG(json_is_true(json_object_get(r, "ok")), "load refused");
	json_decref(r);
	/* Geometry from the plan file the status names, before any dot. */
	driver_do(&d, ans, sizeof(ans), "plan 100 15");
	ASSERT_STR_CONTAINS(ans, "\"pending\":100");

	e2e_prepare_machine(&e);
	from = json_array_size(e.events);
	e2e_ok(&e, "preflight", NULL);
	ev = e2e_wait_event(&e, "done", "preflight", &from, 60);
	ASSERT(json_is_true(json_object_get(ev, "ok")));
	e2e_wait_state(&e, "ready", 5);
	driver_do(&d, ans, sizeof(ans), "state ready 0 10");

	e2e_ok(&e, "start", NULL);
	ev = e2e_wait_event(&e, "session_end", NULL, &from, 90);
	ASSERT_STR_EQ(json_string_value(json_object_get(ev, "result")),
	    "completed");
	ASSERT_EQ(json_integer_value(json_object_get(ev, "delivered")), 100);

	/* What a person sees: the state, 100 / 100, every dot delivered. */
	driver_do(&d, ans, sizeof(ans), "state completed 100 20");
	ASSERT_STR_CONTAINS(ans, "\"dots\":\"100 / 100\"");
	ASSERT_STR_CONTAINS(ans, "\"pending\":0");
	ASSERT_STR_CONTAINS(ans, "\"uncertain\":0");
	ASSERT_STR_CONTAINS(ans, "\"banner\":\"\"");
	artifact(shot, sizeof(shot), "smpweb.png");
	driver_do(&d, ans, sizeof(ans), "screenshot %s", shot);

	/* A watcher started after the session knows every dot from the
	 * journal alone. */
	web_start(&wp2, e.dir, args);
	driver_do(&d, ans, sizeof(ans), "open http://127.0.0.1:%d/",
	    wp2.port);
	driver_do(&d, ans, sizeof(ans), "state completed 100 15");
	ASSERT_STR_CONTAINS(ans, "\"dots\":\"100 / 100\"");
	web_stop(&wp2);

	/* The daemon goes: the page says so within a few seconds. */
	driver_do(&d, ans, sizeof(ans), "open http://127.0.0.1:%d/", wp.port);
	driver_do(&d, ans, sizeof(ans), "state completed 100 10");
	e2e_disconnect(&e);
	kill(e.smpd, SIGTERM);
	ASSERT_EQ(e2e_wait_pid(e.smpd, 15), 0);
	e.smpd = 0;
	driver_do(&d, ans, sizeof(ans), "banner 10");
	ASSERT_STR_CONTAINS(ans, "smpd");
	artifact(shot, sizeof(shot), "smpweb-daemon-gone.png");
	driver_do(&d, ans, sizeof(ans), "screenshot %s", shot);

	/* smpweb goes: the page says the link is lost. */
	web_stop(&wp);
	driver_do(&d, ans, sizeof(ans), "banner 10");
	ASSERT_STR_CONTAINS(ans, "No connection to smpweb");
	driver_stop(&d);
	e2e_stop_all(&e);
}

/*
 * Mid-session: an smpweb started while the session runs (it never saw the
 * first dots' messages) shows them at once, from the journal, then follows
 * the session to the end. The simulator runs at 4x so the session lasts a
 * few seconds.
 */
TEST_T(web_watcher_started_mid_session_catches_up, 150)
{
	struct e2e e;
	struct web_proc wp;
	struct driver d;
	char args[1200], ans[4096];
	size_t from, before;
	json_t *ev;

	e2e_init(&e);
	snprintf(e.sim_args, sizeof(e.sim_args), "--speed 4");
	e2e_start_sim(&e);
	e2e_write_config(&e, NULL);
	e2e_start_smpd(&e);
	e2e_connect(&e);
	e2e_write_plan(e.plan, 8, 8, 1.0);
	from = e2e_load_and_start(&e);
	{
		double deadline = e2e_now() + 60;
		while (e.dots_seen < 10) {
			ASSERT_MSG(e2e_now() < deadline, "10 dots not "
			    "delivered in 60 s");
			e2e_pump(&e, 100);
		}
	}
	before = e.dots_seen;
	ASSERT_MSG(strcmp(e.state, "running") == 0, "the session ended "
	    "before the watcher started (state %s)", e.state);

	snprintf(args, sizeof(args), "--status %s -f %s", e.pub_ep, e.conf);
	web_start(&wp, e.dir, args);
	driver_start(&d);
	driver_do(&d, ans, sizeof(ans), "open http://127.0.0.1:%d/", wp.port);
	driver_do(&d, ans, sizeof(ans), "caughtup %zu 10", before);
	ASSERT_STR_CONTAINS(ans, "\"total\":64");
	ASSERT_STR_CONTAINS(ans, "\"state\":\"running\"");
	ev = e2e_wait_event(&e, "session_end", NULL, &from, 90);
	ASSERT_STR_EQ(json_string_value(json_object_get(ev, "result")),
	    "completed");
	driver_do(&d, ans, sizeof(ans), "state completed 64 20");
	ASSERT_STR_CONTAINS(ans, "\"dots\":\"64 / 64\"");
	driver_stop(&d);
	web_stop(&wp);
	e2e_stop_all(&e);
}

/*
 * A controller alarm mid-session (smpsim's fault injection): the page must
 * show the alarm in the event list as an alarm, the state the daemon
 * reports, and exactly the dots the daemon declared uncertain, drawn so.
 */
TEST_T(web_alarm_and_uncertain_dots, 150)
{
	struct e2e e;
	struct web_proc wp;
	struct driver d;
	char args[1200], ans[4096], shot[512];
	size_t from;
	json_int_t unc;
	json_t *ev;

	e2e_init(&e);
	/* After the preflight's ~745 lines, about half way through the run,
	 * whatever the machine's load (a time would race the preflight). */
	snprintf(e.sim_args, sizeof(e.sim_args), "--speed 20 --fault "
	    "alarm@lines=1100,code=1");
	e2e_start_sim(&e);
	e2e_write_config(&e, NULL);
	e2e_start_smpd(&e);
	e2e_connect(&e);
	e2e_write_plan(e.plan, 15, 12, 1.0);
	snprintf(args, sizeof(args), "--status %s -f %s", e.pub_ep, e.conf);
	web_start(&wp, e.dir, args);
	driver_start(&d);
	driver_do(&d, ans, sizeof(ans), "open http://127.0.0.1:%d/", wp.port);
	e2e_ok(&e, "load", json_pack("{s:s}", "plan", e.plan));
	e2e_prepare_machine(&e);
	from = json_array_size(e.events);
	e2e_ok(&e, "preflight", NULL);
	ev = e2e_wait_event(&e, "done", "preflight", &from, 60);
	ASSERT(json_is_true(json_object_get(ev, "ok")));
	e2e_wait_state(&e, "ready", 5);
	e2e_ok(&e, "start", NULL);
	e2e_wait_event(&e, "alarm", NULL, &from, 60);
	e2e_wait_state(&e, "faulted", 30);
	/* The stop settles the dots in flight; the counts hold once a status
	 * says none is left in flight (smpd may publish none for a few
	 * seconds while it resets the controller). */
	{
		double deadline = e2e_now() + 20;
		for (;;) {
			json_t *dots;
			json_decref(e.last_status);
			e.last_status = NULL;
			e2e_pump(&e, 200);
			dots = json_object_get(e.last_status, "dots");
			if (e.last_status != NULL && strcmp(e.state,
			    "faulted") == 0 && json_integer_value(
			    json_object_get(dots, "in_flight")) == 0)
				break;
			ASSERT_MSG(e2e_now() < deadline, "no settled faulted "
			    "status in 20 s (state %s)", e.state);
		}
	}
	unc = json_integer_value(json_object_get(json_object_get(
	    e.last_status, "dots"), "uncertain"));
	driver_do(&d, ans, sizeof(ans), "fault faulted %lld 15",
	    (long long)unc);
	ASSERT_STR_CONTAINS(ans, "ALARM 1");
	artifact(shot, sizeof(shot), "smpweb-alarm.png");
	driver_do(&d, ans, sizeof(ans), "screenshot %s", shot);
	driver_stop(&d);
	web_stop(&wp);
	e2e_stop_all(&e);
}

/*
 * A 100k-dot plan in the page: drawn in full, and the figures of a full
 * repaint and of a frame applying 1000 dot messages printed (a benchmark's
 * figures, never a pass/fail on time). No daemon runs: the page must also
 * say that smpd is not heard from.
 */
TEST_T(web_page_draws_100k_dots, 120)
{
	struct e2e e;
	struct web_proc wp;
	struct driver d;
	char args[1200], ans[4096];

	e2e_init(&e);
	e2e_write_plan(e.plan, 320, 313, 0.3);
	snprintf(args, sizeof(args), "--status %s --plan %s", e.pub_ep,
	    e.plan);
	web_start(&wp, e.dir, args);
	driver_start(&d);
	driver_do(&d, ans, sizeof(ans), "open http://127.0.0.1:%d/", wp.port);
	driver_do(&d, ans, sizeof(ans), "plan 100160 60");
	ASSERT_STR_CONTAINS(ans, "\"pending\":100160");
	driver_do(&d, ans, sizeof(ans), "banner 10");
	ASSERT_STR_CONTAINS(ans, "smpd has not been heard from");
	driver_do(&d, ans, sizeof(ans), "bench 1000");
	fprintf(stderr, "page with 100160 dots: %s\n", ans + 3);
	driver_stop(&d);
	web_stop(&wp);
}

TEST_MAIN()
