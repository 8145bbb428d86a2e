/*
 * Link tests (drivers/link.c) against a scripted fake controller: the test
 * holds the master side of a pty and plays GRBL (banner on reset, $I, $$,
 * status reports, ok), with switches to fall silent, stop answering `?`,
 * raise alarms or vanish. The link opens the slave through a symlink, so the
 * "controller" can be replaced by a new pty to test reconnection. One loop
 * drives both sides with the real clock, as the daemon would.
 */
#define _XOPEN_SOURCE 700   /* posix_openpt, ptsname */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "drivers/link.h"

#define BANNER "\r\nGrbl 1.1h ['$' for help]\r\n"

struct fake {
	int m;                   /* pty master (or TCP peer), -1 when gone */
	int listen_fd;           /* TCP listener when > 0 */
	char path[64];           /* slave */
	char line[256];
	size_t len;
	bool greet_on_reset;     /* answer 0x18 with a banner */
	bool mute_status;        /* ignore `?` */
	bool mute_lines;         /* ignore lines */
	bool alarm;              /* greet in Alarm (homing enabled) */
	bool critical;           /* after a critical alarm: `?` unanswered */
	bool alarm_on_status;    /* the next `?` finds a hard limit instead */
	const char *opt;         /* the [OPT:...] inside */
	int resets, status_q, lines;
	char last_line[256];
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fake_open(struct fake *f)
{
	f->m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	ASSERT(f->m >= 0);
	ASSERT_EQ(grantpt(f->m), 0);
	ASSERT_EQ(unlockpt(f->m), 0);
	snprintf(f->path, sizeof(f->path), "%s", ptsname(f->m));
	f->len = 0;
}

static void
fake_say(struct fake *f, const char *s)
{
	size_t n = strlen(s);

	ASSERT_EQ(write(f->m, s, n), (ssize_t)n);
}

static void
fake_line(struct fake *f, const char *s)
{
	snprintf(f->last_line, sizeof(f->last_line), "%s", s);
	f->lines++;
	if (f->mute_lines)
		return;
	if (strcmp(s, "$I") == 0) {
		fake_say(f, "[VER:1.1h.20190830:]\r\n[OPT:");
		fake_say(f, f->opt ? f->opt : "V,15,128");
		fake_say(f, "]\r\nok\r\n");
	} else if (strcmp(s, "$$") == 0) {
		fake_say(f, "$0=10\r\n$1=255\r\n$10=1\r\n$11=0.010\r\n$20=1\r\n"
		    "$22=1\r\n$32=0\r\n$110=3000.000\r\n$120=500.000\r\n"
		    "$130=200.000\r\n$131=200.000\r\n$132=50.000\r\nok\r\n");
	} else if (strcmp(s, "$X") == 0) {
		f->alarm = false;
		fake_say(f, "[MSG:Caution: Unlocked]\r\nok\r\n");
	} else {
		fake_say(f, "ok\r\n");
	}
}

/* Reads what the link wrote and answers it. */
static void
fake_step(struct fake *f)
{
	unsigned char buf[512];
	ssize_t n;

	if (f->m < 0 && f->listen_fd > 0) {
		f->m = accept(f->listen_fd, NULL, NULL);
		if (f->m >= 0)
			fcntl(f->m, F_SETFL, O_NONBLOCK);
	}
	if (f->m < 0)
		return;
	while ((n = read(f->m, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			unsigned char c = buf[i];
			if (c == '?' && f->alarm_on_status) {
				f->alarm_on_status = false;
				f->critical = true;
				fake_say(f, "ALARM:1\r\n[MSG:Reset to continue]"
				    "\r\n");
			}
			if (c == '?') {
				f->status_q++;
				if (!f->mute_status && !f->critical)
					fake_say(f, f->alarm ?
					    "<Alarm|MPos:0.000,0.000,0.000|"
					    "FS:0,0|WCO:0.000,0.000,0.000>\r\n"
					    : "<Idle|MPos:0.000,0.000,0.000|"
					    "FS:0,0>\r\n");
			} else if (c == 0x18) {
				f->resets++;
				f->critical = false;
				f->len = 0;
				if (f->greet_on_reset) {
					fake_say(f, BANNER);
					if (f->alarm)
						fake_say(f, "[MSG:'$H'|'$X' "
						    "to unlock]\r\n");
				}
			} else if (c == '\n' || c == '\r') {
				f->line[f->len] = '\0';
				if (f->len > 0)
					fake_line(f, f->line);
				f->len = 0;
			} else if (f->len < sizeof(f->line) - 1) {
				f->line[f->len++] = (char)c;
			}
		}
	}
}

static void
fake_close(struct fake *f)
{
	if (f->m >= 0)
		close(f->m);
	f->m = -1;
}

struct run {
	struct link *l;
	struct fake *f;
	struct link_event ev[512];
	int nev;
};

/* Runs link and fake for up to secs, or until an event of kind stop. */
static bool
run_until(struct run *r, double secs, enum link_event_kind stop)
{
	double end = now_s() + secs;
	struct pollfd pfd[2];
	struct link_event ev;
	short events;
	int fd, n, to;
	bool seen = false;

	while (!seen && now_s() < end) {
		fd = link_poll_fd(r->l, &events);
		n = 0;
		pfd[0].fd = fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		if (fd >= 0)
			n = 1;
		if (r->f->m >= 0) {
			pfd[n].fd = r->f->m;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			n++;
		}
		to = link_timeout_ms(r->l, now_s());
		if (to > 20)
			to = 20;
		poll(fd >= 0 ? pfd : pfd + 1, (nfds_t)(fd >= 0 ? n : n), to);
		fake_step(r->f);
		link_step(r->l, now_s(), fd >= 0 ? pfd[0].revents : 0);
		fake_step(r->f);
		while (link_next_event(r->l, &ev)) {
			if (r->nev < (int)(sizeof(r->ev) / sizeof(*r->ev)))
				r->ev[r->nev++] = ev;
			if (ev.kind == stop)
				seen = true;
		}
	}
	return seen;
}

static int
count_events(const struct run *r, enum link_event_kind k, const char *text)
{
	int n = 0;

	for (int i = 0; i < r->nev; i++)
		if (r->ev[i].kind == k && (text == NULL ||
		    strstr(r->ev[i].text, text) != NULL))
			n++;
	return n;
}

static struct link_opts
opts_for(const char *port)
{
	struct link_opts o = {
		.port = port, .baud = 115200, .status_poll_hz = 10,
		.watchdog_ms = 400, .connect_timeout_ms = 300,
		.reconnect_max_ms = 1000,
	};
	return o;
}

TEST_T(handshake_after_soft_reset_fills_info, 20)
{
	struct fake f = {.greet_on_reset = true, .alarm = true,
	    .opt = "VL,35,1024"};
	struct run r = {.f = &f};
	struct link_opts o;
	const struct link_info *info;
	double t0;

	fake_open(&f);
	o = opts_for(f.path);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT_EQ(link_state(r.l), LINK_DOWN);
	ASSERT_EQ(link_poll_fd(r.l, NULL), -1);
	t0 = now_s();
	/* The fake does not greet on open: the link must soft-reset. */
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	ASSERT_GE(now_s() - t0, 0.25);
	ASSERT_EQ(f.resets, 1);
	ASSERT_EQ(count_events(&r, LINK_EV_LOG, "soft reset"), 1);
	ASSERT_EQ(link_state(r.l), LINK_READY);
	info = link_info(r.l);
	ASSERT_STR_EQ(info->version, "1.1h.20190830");
	ASSERT_STR_EQ(info->options, "VL");
	ASSERT_EQ(info->planner_blocks, 35);
	ASSERT_EQ(info->rx_size, 1024);
	ASSERT(info->has_setting[1]);
	ASSERT_NEAR(info->settings[1], 255, 1e-9);
	ASSERT_NEAR(info->settings[11], 0.01, 1e-12);
	ASSERT_NEAR(info->settings[132], 50, 1e-9);
	ASSERT(!info->has_setting[2]);
	ASSERT(info->alarm_at_connect);
	/* The engine counts against the controller's real buffer now. */
	ASSERT(grbl_can_send(link_grbl(r.l), 79));
	char l79[80];
	memset(l79, '0', 79);
	memcpy(l79, "G4 P0.", 6);
	l79[78] = '1';
	l79[79] = '\0';
	for (int i = 0; i < 12; i++)
		ASSERT_EQ(grbl_send_line(link_grbl(r.l), l79, (uint64_t)i), 0);
	ASSERT_EQ(grbl_unanswered_bytes(link_grbl(r.l)), 960);
	/* The handshake's own answers never reach the caller. */
	ASSERT_EQ(count_events(&r, LINK_EV_GRBL, NULL), 0);
	link_destroy(&r.l);
	ASSERT_NULL(r.l);
	link_destroy(NULL);
	fake_close(&f);
}

TEST_T(greeting_on_open_needs_no_reset, 20)
{
	struct fake f = {.greet_on_reset = true};
	struct run r = {.f = &f};
	struct link_opts o;

	fake_open(&f);
	fake_say(&f, BANNER);   /* already waiting when the port opens */
	o = opts_for(f.path);
	o.connect_timeout_ms = 3000;
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT(run_until(&r, 1.0, LINK_EV_UP));
	ASSERT_EQ(f.resets, 0);
	ASSERT(!link_info(r.l)->alarm_at_connect);
	ASSERT_EQ(link_info(r.l)->rx_size, 128);
	link_destroy(&r.l);
	fake_close(&f);
}

TEST_T(lines_and_status_pass_through_when_ready, 20)
{
	struct fake f = {.greet_on_reset = true};
	struct run r = {.f = &f};
	struct link_opts o;
	int oks = 0, status = 0;
	uint64_t next = 10;

	fake_open(&f);
	o = opts_for(f.path);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	r.nev = 0;
	for (uint64_t t = 10; t < 15; t++)
		ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G0 X1", t), 0);
	int q0 = f.status_q;
	run_until(&r, 1.0, LINK_EV_NONE);
	for (int i = 0; i < r.nev; i++) {
		if (r.ev[i].kind != LINK_EV_GRBL)
			continue;
		if (r.ev[i].grbl.kind == GRBL_EV_OK) {
			ASSERT_EQ(r.ev[i].grbl.tag, next);
			next++;
			oks++;
		} else if (r.ev[i].grbl.kind == GRBL_EV_STATUS) {
			status++;
		}
	}
	ASSERT_EQ(oks, 5);
	/* 10 Hz for a second. */
	ASSERT_GE(f.status_q - q0, 8);
	ASSERT_LE(f.status_q - q0, 12);
	ASSERT_GE(status, 8);
	ASSERT_EQ(grbl_last_status(link_grbl(r.l))->state, GRBL_STATE_IDLE);
	link_destroy(&r.l);
	fake_close(&f);
}

/* link_flush writes what is queued and reads nothing: an answer waiting on
 * the line stays for the next link_step, which the caller's poll will see. */
TEST_T(flush_writes_and_reads_nothing, 20)
{
	struct fake f = {.greet_on_reset = true};
	struct run r = {.f = &f};
	struct link_opts o;
	struct link_event ev;
	int lines, i;
	bool ok = false;

	fake_open(&f);
	o = opts_for(f.path);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	lines = f.lines;
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G0 X1", 10), 0);
	link_flush(r.l);
	ASSERT_EQ(grbl_tx_pending(link_grbl(r.l), NULL), 0);
	for (i = 0; i < 50 && f.lines == lines; i++) {
		usleep(2000);
		fake_step(&f);     /* reads the line and answers ok */
	}
	ASSERT_EQ(f.lines, lines + 1);
	ASSERT_STR_EQ(f.last_line, "G0 X1");
	usleep(20000);
	link_flush(r.l);
	ASSERT(!link_next_event(r.l, &ev));
	ASSERT_EQ(grbl_unanswered(link_grbl(r.l)), 1);
	link_step(r.l, now_s(), POLLIN);
	while (link_next_event(r.l, &ev))
		if (ev.kind == LINK_EV_GRBL && ev.grbl.kind == GRBL_EV_OK &&
		    ev.grbl.tag == 10)
			ok = true;
	ASSERT(ok);
	ASSERT_EQ(grbl_unanswered(link_grbl(r.l)), 0);
	link_destroy(&r.l);
	fake_close(&f);
}

TEST_T(watchdog_fires_and_link_recovers, 20)
{
	struct fake f = {.greet_on_reset = true};
	struct run r = {.f = &f};
	struct link_opts o;
	double t0, dt;
	int lost = 0;

	fake_open(&f);
	o = opts_for(f.path);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	/* One line in flight when the controller goes quiet. */
	f.mute_lines = true;
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G1 X5 F100", 77), 0);
	run_until(&r, 0.3, LINK_EV_NONE);
	f.mute_status = true;
	r.nev = 0;
	t0 = now_s();
	ASSERT(run_until(&r, 3, LINK_EV_DOWN));
	dt = now_s() - t0;
	ASSERT_GE(dt, 0.4);
	ASSERT_LE(dt, 0.4 + 0.1 + 0.2);
	ASSERT_STR_CONTAINS(r.ev[r.nev - 1].text, "watchdog");
	for (int i = 0; i < r.nev; i++)
		if (r.ev[i].kind == LINK_EV_GRBL &&
		    r.ev[i].grbl.kind == GRBL_EV_LOST) {
			ASSERT_EQ(r.ev[i].grbl.tag, 77);
			lost++;
		}
	ASSERT_EQ(lost, 1);
	ASSERT_EQ(link_state(r.l), LINK_DOWN);
	ASSERT_EQ(grbl_unanswered(link_grbl(r.l)), 0);
	/* The controller comes back: the link reconnects by itself. */
	f.mute_status = false;
	f.mute_lines = false;
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	ASSERT_EQ(link_state(r.l), LINK_READY);
	link_destroy(&r.l);
	fake_close(&f);
}

TEST_T(critical_alarm_suspends_watchdog, 20)
{
	struct fake f = {.greet_on_reset = true};
	struct run r = {.f = &f};
	struct link_opts o;
	int alarms = 0, banners = 0;

	fake_open(&f);
	o = opts_for(f.path);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	r.nev = 0;
	fake_say(&f, "ALARM:2\r\n[MSG:Reset to continue]\r\n");
	f.critical = true;
	ASSERT(!run_until(&r, 1.5, LINK_EV_DOWN));
	ASSERT(link_alarm_critical(r.l));
	ASSERT_EQ(link_state(r.l), LINK_READY);
	link_realtime(r.l, 0x18);
	run_until(&r, 0.5, LINK_EV_NONE);
	for (int i = 0; i < r.nev; i++) {
		if (r.ev[i].kind != LINK_EV_GRBL)
			continue;
		if (r.ev[i].grbl.kind == GRBL_EV_ALARM) {
			ASSERT_EQ(r.ev[i].grbl.code, 2);
			alarms++;
		}
		if (r.ev[i].grbl.kind == GRBL_EV_BANNER)
			banners++;
	}
	ASSERT_EQ(alarms, 1);
	ASSERT_EQ(banners, 1);
	ASSERT(!link_alarm_critical(r.l));
	/* And after the reset the watchdog is armed again. */
	f.mute_status = true;
	ASSERT(run_until(&r, 2, LINK_EV_DOWN));
	link_destroy(&r.l);
	fake_close(&f);
}

TEST_T(critical_alarm_at_connect_still_comes_up, 20)
{
	struct fake f = {.greet_on_reset = true, .alarm_on_status = true};
	struct run r = {.f = &f};
	struct link_opts o;

	fake_open(&f);
	o = opts_for(f.path);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	/* The `?` of the handshake is never answered: the link must come up
	 * in alarm rather than retry forever. */
	ASSERT(run_until(&r, 3, LINK_EV_UP));
	ASSERT(link_info(r.l)->alarm_at_connect);
	ASSERT(link_alarm_critical(r.l));
	ASSERT_EQ(count_events(&r, LINK_EV_LOG, "ALARM:1"), 1);
	ASSERT(!run_until(&r, 1.0, LINK_EV_DOWN));
	link_destroy(&r.l);
	fake_close(&f);
}

TEST_T(homing_suspends_watchdog, 20)
{
	struct fake f = {.greet_on_reset = true};
	struct run r = {.f = &f};
	struct link_opts o;

	fake_open(&f);
	o = opts_for(f.path);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	f.mute_lines = true;
	f.mute_status = true;      /* GRBL is deaf to `?` while homing */
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "$H", 5), 0);
	ASSERT(!run_until(&r, 1.5, LINK_EV_DOWN));
	f.mute_status = false;
	fake_say(&f, "ok\r\n");
	ASSERT(!run_until(&r, 1.0, LINK_EV_DOWN));
	f.mute_status = true;
	ASSERT(run_until(&r, 2, LINK_EV_DOWN));
	link_destroy(&r.l);
	fake_close(&f);
}

TEST_T(reconnect_after_controller_closes, 20)
{
	struct fake f = {.greet_on_reset = true};
	struct run r = {.f = &f};
	struct link_opts o;
	char dir[] = "/tmp/smp-link-XXXXXX", sym[128];
	int lost = 0;

	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(sym, sizeof(sym), "%s/grbl", dir);
	fake_open(&f);
	ASSERT_EQ(symlink(f.path, sym), 0);
	o = opts_for(sym);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	f.mute_lines = true;
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G0 Z5", 1), 0);
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G0 Z6", 2), 0);
	run_until(&r, 0.1, LINK_EV_NONE);
	r.nev = 0;
	/* The controller vanishes, and its device with it. */
	fake_close(&f);
	unlink(sym);
	ASSERT(run_until(&r, 2, LINK_EV_DOWN));
	for (int i = 0; i < r.nev; i++)
		if (r.ev[i].kind == LINK_EV_GRBL &&
		    r.ev[i].grbl.kind == GRBL_EV_LOST)
			ASSERT_EQ(r.ev[i].grbl.tag, (uint64_t)++lost);
	ASSERT_EQ(lost, 2);
	/* While it is missing: a clear reason, retried with backoff. */
	run_until(&r, 1.0, LINK_EV_NONE);
	ASSERT_GE(count_events(&r, LINK_EV_LOG, "no such device"), 1);
	ASSERT_LE(count_events(&r, LINK_EV_LOG, "no such device"), 3);
	/* A new controller appears at the same name. */
	f.mute_lines = false;
	fake_open(&f);
	ASSERT_EQ(symlink(f.path, sym), 0);
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	ASSERT_EQ(grbl_send_line(link_grbl(r.l), "G0 Z5", 3), 0);
	r.nev = 0;
	run_until(&r, 0.3, LINK_EV_NONE);
	bool ok3 = false;
	for (int i = 0; i < r.nev; i++)
		if (r.ev[i].kind == LINK_EV_GRBL &&
		    r.ev[i].grbl.kind == GRBL_EV_OK && r.ev[i].grbl.tag == 3)
			ok3 = true;
	ASSERT(ok3);
	link_destroy(&r.l);
	fake_close(&f);
	unlink(sym);
	rmdir(dir);
}

TEST_T(missing_port_backs_off, 20)
{
	struct fake f = {.m = -1};
	struct run r = {.f = &f};
	struct link_opts o = opts_for("/dev/ttyNOSUCH-smp");
	double t0 = now_s();

	o.reconnect_max_ms = 1000;
	ASSERT_NOT_NULL(r.l = link_new(&o));
	link_step(r.l, t0, 0);
	ASSERT_EQ(link_timeout_ms(r.l, t0), 250);
	link_step(r.l, t0 + 0.25, 0);
	ASSERT_EQ(link_timeout_ms(r.l, t0 + 0.25), 500);
	link_step(r.l, t0 + 0.75, 0);
	ASSERT_EQ(link_timeout_ms(r.l, t0 + 0.75), 1000);
	link_step(r.l, t0 + 1.75, 0);
	ASSERT_EQ(link_timeout_ms(r.l, t0 + 1.75), 1000);
	/* Too early: no attempt. */
	link_step(r.l, t0 + 2.0, 0);
	struct link_event ev;
	int n = 0;
	while (link_next_event(r.l, &ev)) {
		ASSERT_EQ(ev.kind, LINK_EV_LOG);
		ASSERT_STR_CONTAINS(ev.text, "/dev/ttyNOSUCH-smp: no such "
		    "device; retrying in");
		n++;
	}
	ASSERT_EQ(n, 4);
	ASSERT_EQ(link_state(r.l), LINK_DOWN);
	/* Harmless while down. */
	link_realtime(r.l, '!');
	link_drop(r.l, "test");
	ASSERT(!link_next_event(r.l, &ev));
	link_destroy(&r.l);
}

TEST_T(silent_controller_gives_up_and_retries, 20)
{
	struct fake f = {.greet_on_reset = false};
	struct run r = {.f = &f};
	struct link_opts o;

	fake_open(&f);
	o = opts_for(f.path);
	o.connect_timeout_ms = 200;
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT(run_until(&r, 3, LINK_EV_DOWN));
	ASSERT_STR_CONTAINS(r.ev[r.nev - 1].text, "no banner");
	ASSERT_EQ(f.resets, 1);
	/* It answers the next attempt. */
	f.greet_on_reset = true;
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	link_destroy(&r.l);
	fake_close(&f);
}

TEST_T(caller_drop_reports_down, 20)
{
	struct fake f = {.greet_on_reset = true};
	struct run r = {.f = &f};
	struct link_opts o;

	fake_open(&f);
	o = opts_for(f.path);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	r.nev = 0;
	link_drop(r.l, "settings check failed");
	struct link_event ev;
	ASSERT(link_next_event(r.l, &ev));
	ASSERT_EQ(ev.kind, LINK_EV_DOWN);
	ASSERT_STR_CONTAINS(ev.text, "settings check failed");
	ASSERT_EQ(link_poll_fd(r.l, NULL), -1);
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	link_destroy(&r.l);
	fake_close(&f);
}

TEST_T(handshake_over_tcp, 20)
{
	struct fake f = {.m = -1, .greet_on_reset = true};
	struct run r = {.f = &f};
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct link_opts o;
	char spec[64];

	f.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT(f.listen_fd > 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(bind(f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ASSERT_EQ(listen(f.listen_fd, 1), 0);
	ASSERT_EQ(getsockname(f.listen_fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
	o = opts_for(spec);
	ASSERT_NOT_NULL(r.l = link_new(&o));
	/* A network board greets nobody when a client connects: the link
	 * resets it. */
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	ASSERT_EQ(f.resets, 1);
	ASSERT_STR_EQ(link_info(r.l)->version, "1.1h.20190830");
	/* The peer goes away: DOWN, and it comes back. */
	fake_close(&f);
	ASSERT(run_until(&r, 2, LINK_EV_DOWN));
	ASSERT(run_until(&r, 5, LINK_EV_UP));
	link_destroy(&r.l);
	fake_close(&f);
	close(f.listen_fd);
}

TEST_MAIN()
