/*
 * Driver benchmark: what the protocol engine costs the daemon per status
 * report and per streamed line, so that its share of the CPU budget (issue
 * 5: under 1% of a core per hour of machine time) can be judged. Prints its
 * figures; never fails on time.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "drivers/grbl.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile double sink;

int
main(void)
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
	t0 = now_s();
	for (i = 0; i < iters; i++) {
		if (grbl_parse_status(report, &st) != 0)
			return 1;
		sink = st.wpos[0];
	}
	dt = now_s() - t0;
	parse_s = dt / (double)iters;
	printf("status parse:        %8.0f ns/report  %10.0f reports/s\n",
	    dt / (double)iters * 1e9, (double)iters / dt);

	/* A controller's stream: reports, answers, messages. */
	while (slen + 200 < sizeof(stream)) {
		slen += (size_t)snprintf(stream + slen, sizeof(stream) - slen,
		    "%s\r\nok\r\nok\r\n[MSG:Pgm End]\r\n", report);
	}
	if ((g = grbl_new(128)) == NULL)
		return 1;
	t0 = now_s();
	for (i = 0; i < 20000; i++) {
		grbl_feed(g, stream, slen);
		while (grbl_next_event(g, &ev))
			events++;
	}
	dt = now_s() - t0;
	printf("feed (mixed stream): %8.1f MB/s        %10.0f events/s\n",
	    (double)slen * 20000 / dt / 1e6, (double)events / dt);
	grbl_destroy(&g);

	/* Streaming: queue a line, write it, take its ok, as the daemon's loop
	 * does, with the buffer kept full as in a real stream. */
	if ((g = grbl_new(128)) == NULL)
		return 1;
	t0 = now_s();
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
	dt = now_s() - t0;
	line_s = dt / (double)iters;
	printf("stream line (send+ok): %6.0f ns/line    %10.0f lines/s\n",
	    line_s * 1e9, 1 / line_s);
	/* A dot is about six lines and takes well over 100 ms of machine
	 * time; 10 dots/s with 10 Hz status is a generous upper bound. */
	printf("engine CPU per machine hour (10 dots/s x 6 lines, 10 Hz "
	    "status): %.3f s (budget for all of smpd: 36 s)\n",
	    10 * 6 * 3600 * line_s + 10 * 3600 * parse_s);
	grbl_destroy(&g);
	return 0;
}
