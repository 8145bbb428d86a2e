/*
 * bench_sim: how fast smpsim runs a whole session at --speed max. It starts
 * smpsim on a pty, streams a generated program of N dots (default 20,000: a
 * grid at 0.7 mm, each dot a hop at clearance height, a descent to the skin,
 * a plunge, a 50 ms dwell and a retract, as smpd emits them) with GRBL's
 * character-counting protocol from its own minimal host, and prints wall
 * time, simulated time and the speed-up read from smpsim's summary. It also
 * checks that every dot penetrated once. It never fails on time.
 *
 * usage: bench_sim [DOTS]
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct host {
	int fd;
	int inflight[256];   /* lengths of unanswered lines */
	int head, n, bytes;
	char rx[4096];
	size_t rxlen;
	long oks, errors;
};

/* Reads answers, popping one line per ok/error. */
static int
host_read(struct host *h, int ms)
{
	struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
	ssize_t r;
	char *nl;

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	r = read(h->fd, h->rx + h->rxlen, sizeof(h->rx) - 1 - h->rxlen);
	if (r <= 0)
		return -1;
	h->rxlen += (size_t)r;
	h->rx[h->rxlen] = '\0';
	while ((nl = strchr(h->rx, '\n')) != NULL) {
		*nl = '\0';
		if (strncmp(h->rx, "ok", 2) == 0 ||
		    strncmp(h->rx, "error:", 6) == 0) {
			if (h->rx[0] == 'e') {
				h->errors++;
				fprintf(stderr, "bench_sim: %s\n", h->rx);
			}
			h->oks++;
			if (h->n > 0) {
				h->bytes -= h->inflight[h->head];
				h->head = (h->head + 1) % 256;
				h->n--;
			}
		} else if (strncmp(h->rx, "ALARM", 5) == 0) {
			fprintf(stderr, "bench_sim: %s\n", h->rx);
			return -1;
		}
		size_t used = (size_t)(nl + 1 - h->rx);
		memmove(h->rx, nl + 1, h->rxlen - used);
		h->rxlen -= used;
		h->rx[h->rxlen] = '\0';
	}
	return 0;
}

static int
host_send(struct host *h, const char *line)
{
	int len = (int)strlen(line);

	while (h->bytes + len > 128 || h->n >= 255)
		if (host_read(h, 1000) < 0)
			return -1;
	if (write(h->fd, line, (size_t)len) != len)
		return -1;
	h->inflight[(h->head + h->n) % 256] = len;
	h->n++;
	h->bytes += len;
	return 0;
}

int
main(int argc, char **argv)
{
	char self[PATH_MAX], exe[PATH_MAX + 16], line[128], sum[64];
	char skin[64];
	int p[2], dots = argc > 1 ? atoi(argv[1]) : 20000, i, side;
	pid_t pid;
	FILE *out, *f;
	struct termios tio;
	struct host h = {0};
	double t0, wall, sim = 0;
	long pens = 0, viol = -1;

	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl < 0 || dots <= 0)
		return 2;
	self[sl] = '\0';
	snprintf(exe, sizeof(exe), "%s/smpsim", dirname(self));
	snprintf(sum, sizeof(sum), "/tmp/bench_sim_sum.%d", getpid());
	snprintf(skin, sizeof(skin), "/tmp/bench_sim_skin.%d", getpid());
	if (pipe(p) < 0)
		return 1;
	if ((pid = fork()) == 0) {
		dup2(p[1], 1);
		execl(exe, exe, "--speed", "max", "--quiet", "--skin-origin",
		    "0,0,-10", "--summary", sum, "--skin-log", skin,
		    (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	out = fdopen(p[0], "r");
	if (fgets(line, sizeof(line), out) == NULL) {
		fprintf(stderr, "bench_sim: %s did not start\n", exe);
		return 1;
	}
	line[strcspn(line, "\n")] = '\0';
	h.fd = open(line + strlen("smpsim: listening on "), O_RDWR | O_NOCTTY);
	if (h.fd < 0)
		return 1;
	tcgetattr(h.fd, &tio);
	cfmakeraw(&tio);
	tcsetattr(h.fd, TCSANOW, &tio);
	t0 = now_s();
	host_send(&h, "$X\n");
	host_send(&h, "G21 G90 G94\n");
	host_send(&h, "G0 Z-9\n");
	host_send(&h, "M3 S1000\n");
	for (side = 1; side * side < dots; side++)
		;
	for (i = 0; i < dots; i++) {
		double x = -5 - 0.7 * (i % side), y = -5 - 0.7 * (i / side);
		snprintf(line, sizeof(line), "G0 X%.3f Y%.3f\n", x, y);
		if (host_send(&h, line) < 0 ||
		    host_send(&h, "G0 Z-10\n") < 0 ||
		    host_send(&h, "G1 Z-10.8 F600\n") < 0 ||
		    host_send(&h, "G4 P0.05\n") < 0 ||
		    host_send(&h, "G0 Z-9\n") < 0) {
			fprintf(stderr, "bench_sim: link failed at dot %d\n", i);
			break;
		}
	}
	host_send(&h, "M5\n");
	host_send(&h, "G4 P0\n");
	while (h.n > 0)
		if (host_read(&h, 2000) < 0)
			break;
	wall = now_s() - t0;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if ((f = fopen(sum, "r")) != NULL) {
		char buf[2048];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		char *q;
		buf[n] = '\0';
		if ((q = strstr(buf, "\"sim_time_s\":")) != NULL)
			sim = atof(q + 13);
		if ((q = strstr(buf, "\"penetrations\":")) != NULL)
			pens = atol(q + 15);
		if ((q = strstr(buf, "\"violations\":")) != NULL)
			viol = atol(q + 13);
		fclose(f);
	}
	unlink(sum);
	unlink(skin);
	printf("dots %d, lines %ld (errors %ld)\n", dots, h.oks, h.errors);
	printf("wall time     %.2f s\n", wall);
	printf("simulated     %.1f s (%.2f h)\n", sim, sim / 3600);
	printf("speed-up      %.0fx\n", wall > 0 ? sim / wall : 0);
	printf("penetrations  %ld (expected %d), violations %ld\n", pens, dots,
	    viol);
	printf("figure: smpsim alone, %d-dot session at --speed max | %.2f s "
	    "wall for %.2f h, %.0fx real time\n", dots, wall, sim / 3600,
	    wall > 0 ? sim / wall : 0);
	return 0;
}
