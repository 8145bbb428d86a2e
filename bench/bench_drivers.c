/*
 * Driver benchmark: what the protocol engine costs the daemon per status
 * report and per streamed line, so that its share of the CPU budget (issue
 * 5: under 1% of a core per hour of machine time) can be judged. Prints its
 * figures; never fails on time.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/grbl.h"
#include "drivers/link.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: the figures should not depend on what else
 * the machine is doing. */
static double
cpu_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile double sink;

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/*
 * The whole driver (link, engine, termios transport, poll loop) streaming
 * G-code to smpsim at --speed max, next to this binary (or in SMP_BIN_DIR):
 * lines per second and this process's CPU per line, syscalls included.
 */
static void
bench_sim(const char *argv0)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], out[512] = "", *at;
	const char *env = getenv("SMP_BIN_DIR");
	struct link_opts o = {.baud = 115200, .status_poll_hz = 10,
	    .watchdog_ms = 2000, .connect_timeout_ms = 2000,
	    .reconnect_max_ms = 1000};
	struct link *l = NULL;
	struct link_event ev;
	int p[2], st, fd;
	size_t olen = 0;
	pid_t pid;
	long sent = 0, oks = 0, total = 20000;
	double t0, c0, end;
	char line[64];

	snprintf(dir, sizeof(dir), "%s", env ? env : argv0);
	snprintf(path, sizeof(path), "%s/smpsim", env ? dir : dirname(dir));
	if (access(path, X_OK) != 0) {
		printf("stream via smpsim:   skipped (%s not built)\n", path);
		return;
	}
	if (pipe(p) != 0 || (pid = fork()) < 0)
		return;
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execl(path, "smpsim", "--speed", "max", "--quiet", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	end = now_s() + 5;
	while ((at = strstr(out, "listening on ")) == NULL ||
	    strchr(at, '\n') == NULL) {
		ssize_t n = read(p[0], out + olen, sizeof(out) - 1 - olen);
		if (n <= 0 || now_s() > end)
			goto done;
		olen += (size_t)n;
		out[olen] = '\0';
	}
	at += strlen("listening on ");
	at[strcspn(at, " \r\n")] = '\0';
	o.port = at;
	if ((l = link_new(&o)) == NULL)
		goto done;
	/* Connect, unlock, then stream short moves as fast as counting
	 * allows. */
	end = now_s() + 10;
	while (link_state(l) != LINK_READY && now_s() < end) {
		short e;
		fd = link_poll_fd(l, &e);
		struct pollfd pf = {fd, e, 0};
		poll(&pf, fd >= 0 ? 1 : 0, 10);
		link_step(l, now_s(), pf.revents);
		while (link_next_event(l, &ev))
			;
	}
	if (link_state(l) != LINK_READY)
		goto done;
	grbl_send_line(link_grbl(l), "$X", 0);
	t0 = now_s();
	c0 = cpu_s();
	end = t0 + 20;
	while (oks < total + 1 && now_s() < end) {
		while (sent < total) {
			snprintf(line, sizeof(line), "G1 X-%ld.%03ld Y-1 F3000",
			    1 + sent % 20, sent % 1000);
			if (!grbl_can_send(link_grbl(l), strlen(line)))
				break;
			grbl_send_line(link_grbl(l), line, (uint64_t)++sent);
		}
		short e;
		fd = link_poll_fd(l, &e);
		struct pollfd pf = {fd, e, 0};
		poll(&pf, fd >= 0 ? 1 : 0, 10);
		link_step(l, now_s(), pf.revents);
		while (link_next_event(l, &ev))
			if (ev.kind == LINK_EV_GRBL && ev.grbl.kind == GRBL_EV_OK)
				oks++;
	}
	printf("stream via smpsim:   %8.0f lines/s     %6.2f us CPU/line "
	    "(driver side, syscalls included; %ld lines)\n",
	    (double)oks / (now_s() - t0), (cpu_s() - c0) / (double)oks * 1e6,
	    oks);
	printf("driver CPU per machine hour at that cost (10 dots/s x 6 "
	    "lines): %.2f s\n", (cpu_s() - c0) / (double)oks * 10 * 6 * 3600);
done:
	link_destroy(&l);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	close(p[0]);
}

int
main(int argc, char **argv)
{
	static const char report[] = "<Run|MPos:12.345,-45.678,-3.210|Bf:12,"
	    "96|FS:3000,1000|WCO:10.000,-20.000,-5.000|Ov:100,100,100|A:S>";
	static const char line[] = "G1 X12.345 Y-45.678 Z-3.210 F3000";
	struct grbl_status st;
	struct grbl_event ev;
	struct grbl *g;
	const uint8_t *buf;
	char stream[4096];
	size_t slen = 0, n;
	long i, iters = 1000000, lines = 0, events = 0;
	double t0, dt, parse_s, line_s;

	memset(&st, 0, sizeof(st));
	t0 = cpu_now_s();
	for (i = 0; i < iters; i++) {
		if (grbl_parse_status(report, &st) != 0)
			return 1;
		sink = st.wpos[0];
	}
	dt = cpu_now_s() - t0;
	parse_s = dt / (double)iters;
	printf("(CPU time of this process)\n");
	printf("status parse:        %8.0f ns/report  %10.0f reports/s\n",
	    dt / (double)iters * 1e9, (double)iters / dt);
	printf("figure: GRBL status report parse | %.0f ns\n",
	    dt / (double)iters * 1e9);

	/* A controller's stream: reports, answers, messages. */
	while (slen + 200 < sizeof(stream)) {
		slen += (size_t)snprintf(stream + slen, sizeof(stream) - slen,
		    "%s\r\nok\r\nok\r\n[MSG:Pgm End]\r\n", report);
	}
	if ((g = grbl_new(128)) == NULL)
		return 1;
	t0 = cpu_now_s();
	for (i = 0; i < 20000; i++) {
		grbl_feed(g, stream, slen);
		while (grbl_next_event(g, &ev))
			events++;
	}
	dt = cpu_now_s() - t0;
	printf("feed (mixed stream): %8.1f MB/s        %10.0f events/s\n",
	    (double)slen * 20000 / dt / 1e6, (double)events / dt);
	grbl_destroy(&g);

	/* Streaming: queue a line, write it, take its ok, as the daemon's loop
	 * does, with the buffer kept full as in a real stream. */
	if ((g = grbl_new(128)) == NULL)
		return 1;
	t0 = cpu_now_s();
	for (i = 0; i < iters; i++) {
		while (grbl_can_send(g, sizeof(line) - 1)) {
			grbl_send_line(g, line, (uint64_t)lines++);
			n = grbl_tx_pending(g, &buf);
			grbl_tx_consume(g, n);
		}
		grbl_feed(g, "ok\r\n", 4);
		while (grbl_next_event(g, &ev))
			sink = (double)ev.tag;
	}
	dt = cpu_now_s() - t0;
	line_s = dt / (double)iters;
	printf("stream line (send+ok): %6.0f ns/line    %10.0f lines/s\n",
	    line_s * 1e9, 1 / line_s);
	/* A dot is about six lines and takes well over 100 ms of machine
	 * time; 10 dots/s with 10 Hz status is a generous upper bound. */
	printf("engine CPU per machine hour (10 dots/s x 6 lines, 10 Hz "
	    "status): %.3f s (budget for all of smpd: 36 s)\n",
	    10 * 6 * 3600 * line_s + 10 * 3600 * parse_s);
	grbl_destroy(&g);
	(void)argc;
	bench_sim(argv[0]);
	return 0;
}
