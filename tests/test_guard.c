/*
 * The guard process (daemon/guard.c) against a scripted controller on a
 * pseudo-terminal: the test process plays GRBL on the master side, and a
 * stand-in for smpd (a forked child) starts the guard, hands it the slave
 * side and is then killed with SIGKILL, as the kernel's OOM killer or a
 * crash would end smpd. What reaches the controller is checked byte for
 * byte: the order of hold, reset and lines, and that nothing at all is sent
 * when the machine was not armed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <termios.h>

#include "daemon/guard.h"
#include "daemon/log.h"
#include "test.h"

/* How the scripted controller behaves. */
struct script {
	bool never_rests;        /* reports Run whatever happens */
	bool alarm_after_reset;  /* the reset finds it moving: ALARM:3 */
};

/* What it heard. */
struct heard {
	char rt[64];             /* real-time bytes, in order ('R' = 0x18) */
	size_t nrt;
	char lines[16][80];
	size_t nlines;
	size_t lines_before_reset;
	size_t bytes;
};

static int
open_pty(int *slave)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	struct termios t;

	ASSERT(m >= 0);
	ASSERT_EQ(grantpt(m), 0);
	ASSERT_EQ(unlockpt(m), 0);
	*slave = open(ptsname(m), O_RDWR | O_NOCTTY | O_NONBLOCK);
	ASSERT(*slave >= 0);
	/* Raw both ways: no echo, no CR/LF translation, as smpd sets it. */
	ASSERT_EQ(tcgetattr(*slave, &t), 0);
	cfmakeraw(&t);
	ASSERT_EQ(tcsetattr(*slave, TCSANOW, &t), 0);
	return m;
}

static void
say(int m, const char *s)
{
	ASSERT_EQ(write(m, s, strlen(s)), (ssize_t)strlen(s));
}

/*
 * Plays the controller on master m until nothing has come for quiet_s
 * seconds (after something came) or until limit_s.
 */
static void
play(int m, const struct script *sc, struct heard *h, double quiet_s,
    double limit_s)
{
	char line[80];
	size_t ll = 0;
	bool hold = false, reset = false, alarm = false, lifted = false;
	double t0 = (double)time(NULL), last = 0;

	memset(h, 0, sizeof(*h));
	for (;;) {
		struct pollfd p = { m, POLLIN, 0 };
		unsigned char buf[256];
		ssize_t n;
		struct timespec ts;
		double now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
		if (last == 0)
			last = now;
		if ((h->bytes > 0 && now - last > quiet_s) ||
		    (double)time(NULL) - t0 > limit_s)
			return;
		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(m, buf, sizeof(buf));
		if (n <= 0)
			continue;
		last = now;
		h->bytes += (size_t)n;
		for (ssize_t i = 0; i < n; i++) {
			unsigned char c = buf[i];
			char rep[128];
			if (c == '?' || c == '!' || c == 0x18) {
				ASSERT(h->nrt < sizeof(h->rt));
				h->rt[h->nrt++] = c == 0x18 ? 'R' : (char)c;
			}
			if (c == '!')
				hold = true;
			else if (c == 0x18) {
				reset = true;
				hold = false;
				alarm = sc->alarm_after_reset;
				h->lines_before_reset = h->nlines;
				if (alarm)
					say(m, "ALARM:3\r\n");
				say(m, "\r\nGrbl 1.1h ['$' for help]\r\n");
				if (alarm)
					say(m, "[MSG:'$H'|'$X' to unlock]\r\n");
			} else if (c == '?') {
				const char *st = alarm ? "Alarm" :
				    sc->never_rests && !reset ? "Run" :
				    hold ? "Hold:0" : "Idle";
				snprintf(rep, sizeof(rep), "<%s|MPos:1.000,2.000,"
				    "%.3f|FS:0,0>\r\n", st, lifted ? -2.5 : -5.0);
				say(m, rep);
			} else if (c == '\n') {
				line[ll] = '\0';
				ASSERT(h->nlines < 16);
				snprintf(h->lines[h->nlines++], 80, "%s", line);
				ll = 0;
				say(m, alarm ? "error:9\r\n" : "ok\r\n");
				if (strncmp(line, "G91G0Z", 6) == 0)
					lifted = true;
			} else if (c != '\r' && ll + 1 < sizeof(line)) {
				line[ll++] = (char)c;
			}
		}
	}
}

/* Forks a stand-in for smpd that starts a guard on slave, arms it (or
 * not), reports through a pipe that it is ready, and waits to be killed. */
static pid_t
fake_smpd(int slave, bool armed, const char *off_lines)
{
	int p[2];
	pid_t pid;
	char c;

	ASSERT_EQ(pipe(p), 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		struct guard_opts o;
		struct guard *g;
		char err[256];

		close(p[0]);
		guard_defaults(&o);
		o.off_lines = off_lines;
		o.lift_mm = 2.5;
		o.hold_timeout_s = 0.6;
		o.reset_timeout_s = 1.0;
		o.lift_timeout_s = 2.0;
		if ((g = guard_new(&o, err, sizeof(err))) == NULL)
			_exit(3);
		if (guard_update(g, slave, armed) != 0)
			_exit(4);
		if (write(p[1], "r", 1) != 1)
			_exit(5);
		for (;;)
			pause();
	}
	close(p[1]);
	ASSERT_EQ(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void
kill_and_reap(pid_t pid)
{
	int st;

	ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

TEST(guard_stops_the_machine_when_smpd_is_killed)
{
	struct script sc = { false, false };
	struct heard h;
	int slave, m = open_pty(&slave);
	pid_t pid;
	size_t i, reset_at = 0, hold_at = 99;

	log_init(1, 0);
	pid = fake_smpd(slave, true, "M5\n");
	close(slave);    /* only the guard holds it now */
	kill_and_reap(pid);
	play(m, &sc, &h, 1.0, 20);
	/* Hold first, reset after it, and no G-code before the reset. */
	for (i = 0; i < h.nrt; i++) {
		if (h.rt[i] == '!' && hold_at == 99)
			hold_at = i;
		if (h.rt[i] == 'R')
			reset_at = i;
	}
	ASSERT_EQ(hold_at, 0);
	ASSERT_GT(reset_at, hold_at);
	ASSERT_EQ(h.lines_before_reset, 0);
	/* Then the needle off and a straight lift, nothing else. */
	ASSERT_EQ(h.nlines, 3);
	ASSERT_STR_EQ(h.lines[0], "M5");
	ASSERT_STR_EQ(h.lines[1], "G91G0Z2.500");
	ASSERT_STR_EQ(h.lines[2], "G90");
	close(m);
}

TEST(guard_sends_nothing_when_not_armed)
{
	struct script sc = { false, false };
	struct heard h;
	int slave, m = open_pty(&slave);
	pid_t pid;

	log_init(1, 0);
	pid = fake_smpd(slave, false, "M5\n");
	close(slave);
	kill_and_reap(pid);
	play(m, &sc, &h, 0.5, 2);
	ASSERT_EQ(h.bytes, 0);
	close(m);
}

/*
 * A controller that never reports standing still is reset anyway (that
 * stops it and switches its outputs off); in alarm afterwards its position
 * is in doubt, so the guard neither unlocks nor lifts.
 */
TEST(guard_leaves_an_alarm_locked)
{
	struct script sc = { true, true };
	struct heard h;
	int slave, m = open_pty(&slave);
	pid_t pid;
	size_t i;
	bool reset = false;

	log_init(1, 0);
	pid = fake_smpd(slave, true, "M9\n");
	close(slave);
	kill_and_reap(pid);
	play(m, &sc, &h, 1.5, 20);
	for (i = 0; i < h.nrt; i++)
		reset |= h.rt[i] == 'R';
	ASSERT(reset);
	ASSERT_EQ(h.nlines, 0);
	close(m);
}

/* The descriptor that counts is the last one smpd handed over; a closed
 * link is handed back ('N') and then nothing is sent anywhere. */
TEST(guard_follows_the_link)
{
	struct script sc = { false, false };
	struct heard ha, hb;
	int sa, sb, ma = open_pty(&sa), mb = open_pty(&sb);
	struct guard_opts o;
	struct guard *g;
	char err[256];

	log_init(1, 0);
	guard_defaults(&o);
	o.off_lines = "M5\n";
	o.lift_mm = 1.5;
	o.hold_timeout_s = 0.6;
	/* Controller B is played by a child forked before the guard, so that
	 * it holds no copy of smpd's end of the guard's socket. */
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		play(mb, &sc, &hb, 1.0, 20);
		_exit(hb.nlines == 3 &&
		    strcmp(hb.lines[1], "G91G0Z1.500") == 0 ? 0 : 1);
	}
	ASSERT_NOT_NULL(g = guard_new(&o, err, sizeof(err)));
	ASSERT_EQ(guard_update(g, sa, true), 0);
	ASSERT_EQ(guard_update(g, sb, true), 0);
	close(sa);
	close(sb);
	/* A destroyed armed guard is smpd giving up: it stops the machine. */
	ASSERT_EQ(guard_destroy(&g), 0);
	ASSERT_NULL(g);
	{
		int st;
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	play(ma, &sc, &ha, 0.3, 1);
	ASSERT_EQ(ha.bytes, 0);

	/* Link closed before smpd died: nothing to talk to, nothing sent. */
	ASSERT_NOT_NULL(g = guard_new(&o, err, sizeof(err)));
	ASSERT_EQ(guard_update(g, -1, true), 0);
	ASSERT_EQ(guard_destroy(&g), 0);
	close(ma);
	close(mb);
}

TEST(guard_refuses_a_bad_configuration)
{
	struct guard_opts o;
	char err[256];

	guard_defaults(&o);
	o.off_lines = "M5\n";
	ASSERT_NULL(guard_new(&o, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "lift");
	ASSERT_EQ(guard_destroy(NULL), -1);
}

TEST_MAIN()
