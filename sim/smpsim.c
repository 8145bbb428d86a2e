/*
 * smpsim: a GRBL 1.1 look-alike controller on a pseudo-terminal or a TCP
 * port, for running and testing smpd without hardware. This file is the
 * program around the controller model (gsim.c): options, the transport, the
 * signal flags, and the one poll loop that relates simulated time to wall
 * time. With --speed N simulated time runs N times faster than the wall
 * clock. With --speed max it is a virtual clock: it jumps straight to the
 * next event whenever the host is waiting on the controller (bytes or a line
 * not yet answered) or answers are still on their way to it, and otherwise,
 * once per batch of answers the host has received, gives it a millisecond
 * to speak first, so that answers stay causally consistent with what the
 * host sent. A host that stays silent through its turn is taken at its word
 * until the next answer: the events in between (block ends, dwell steps)
 * run without waiting, but for one last, longer turn before the last block
 * queued ends (a host busy with a disk flush would on a machine still have
 * the queued motion's time to answer).
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, ptsname */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "sim/fault.h"
#include "sim/gsim.h"
#include "sim/skin.h"

#define MAX_WAIT_MS 1   /* --speed max: the host's turn to speak */
#define DRY_WAIT_MS 50  /* ... and its last turn before the planner runs
                           dry, which on a machine takes the motion still
                           queued, hundreds of milliseconds */

static volatile sig_atomic_t got_term, got_usr1;

/*
 * --speed max, the host not waiting on the controller: whether the clock may
 * go on to the next event without giving the host a turn first. silent: the
 * turns it has let pass since the last answer it received (0: it has news;
 * 1: silent through its turn; 2: silent through its last turn too). Answers
 * still on the wire are no news yet; the last turn comes before the last
 * queued block ends.
 */
static bool
host_turn_over(const struct gsim *g, int silent)
{
	return gsim_output_pending(g) || silent >= 2 ||
	    (silent == 1 && gsim_planned_blocks(g) > 1);
}

struct link {
	bool tcp;
	int listen_fd;   /* tcp */
	int fd;          /* pty master or tcp client; -1 none */
	bool host;       /* a host has the link open */
	char path[200];  /* pty slave or tcp://host:port */
	const char *symlink;
	uint8_t out[65536];
	size_t outlen;
};

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: smpsim [--pty] [--link PATH] | [--tcp [HOST:]PORT]\n"
	    "              [--speed N|max] [--baud N] [--skin-log FILE]\n"
	    "              [--skin-z Z | --heightmap FILE | --skin-plan CSV]\n"
	    "              [--skin-origin X,Y,Z]\n"
	    "              [--needle spindle|flood|mist] [--settings FILE]\n"
	    "              [--fault SPEC]... [--seed N] [--summary FILE]\n"
	    "              [--on-open banner|reset|none] [--quiet]\n");
	exit(2);
}

static int
pty_open(struct link *l, char *err, size_t errlen)
{
	struct termios tio;
	int fd, sfd;
	const char *name;

	if ((fd = posix_openpt(O_RDWR | O_NOCTTY)) < 0 || grantpt(fd) < 0 ||
	    unlockpt(fd) < 0 || (name = ptsname(fd)) == NULL) {
		snprintf(err, errlen, "pty: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(l->path, sizeof(l->path), "%s", name);
	/* Raw once: no echo, no CR/LF translation, 8 bits. The setting stays
	 * with the pty while the master is open. */
	if ((sfd = open(l->path, O_RDWR | O_NOCTTY)) >= 0) {
		if (tcgetattr(sfd, &tio) == 0) {
			cfmakeraw(&tio);
			tcsetattr(sfd, TCSANOW, &tio);
		}
		close(sfd);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	l->fd = fd;
	l->host = false;
	if (l->symlink != NULL) {
		unlink(l->symlink);
		if (symlink(l->path, l->symlink) < 0) {
			snprintf(err, errlen, "symlink %s: %s", l->symlink,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int
tcp_listen(struct link *l, const char *spec, char *err, size_t errlen)
{
	char host[128] = "127.0.0.1";
	const char *colon = strrchr(spec, ':'), *port = spec;
	struct sockaddr_in sa;
	socklen_t slen = sizeof(sa);
	int fd, one = 1;
	char *end;
	long p;

	if (colon != NULL) {
		size_t n = (size_t)(colon - spec);
		if (n == 0 || n >= sizeof(host)) {
			snprintf(err, errlen, "--tcp %s: bad host", spec);
			return -1;
		}
		memcpy(host, spec, n);
		host[n] = '\0';
		port = colon + 1;
	}
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p < 0 || p > 65535) {
		snprintf(err, errlen, "--tcp %s: bad port", spec);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" :
	    host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "--tcp %s: host must be an IPv4 address",
		    spec);
		return -1;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &slen) < 0) {
		snprintf(err, errlen, "tcp %s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	l->listen_fd = fd;
	l->fd = -1;
	snprintf(l->path, sizeof(l->path), "tcp://%s:%d", host,
	    ntohs(sa.sin_port));
	return 0;
}

static void
link_drop(struct link *l, struct gsim *g, bool reopen, bool quiet)
{
	char err[256];

	if (l->host)
		gsim_host_close(g, gsim_now(g));
	l->host = false;
	l->outlen = 0;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->tcp || !reopen)
		return;
	if (pty_open(l, err, sizeof(err)) < 0) {
		fprintf(stderr, "smpsim: %s\n", err);
		got_term = 1;
		return;
	}
	if (!quiet)
		fprintf(stderr, "smpsim: link closed; new pty %s\n", l->path);
	printf("smpsim: listening on %s\n", l->path);
	fflush(stdout);
}

static void
write_summary(struct gsim *g, const char *path, double wall0)
{
	FILE *f;

	if (path == NULL)
		return;
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "smpsim: %s: %s\n", path, strerror(errno));
		return;
	}
	gsim_summary(g, f, mono() - wall0);
	fclose(f);
}

static int
parse_xyz(const char *s, double v[3])
{
	char *end;
	int i;

	for (i = 0; i < 3; i++) {
		errno = 0;
		v[i] = strtod(s, &end);
		if (end == s || errno != 0 || !isfinite(v[i]))
			return -1;
		if (i < 2 && *end != ',')
			return -1;
		s = end + 1;
	}
	return *end == '\0' ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"pty", no_argument, NULL, 'P'},
		{"link", required_argument, NULL, 'l'},
		{"tcp", required_argument, NULL, 't'},
		{"speed", required_argument, NULL, 's'},
		{"baud", required_argument, NULL, 'b'},
		{"skin-log", required_argument, NULL, 'L'},
		{"skin-z", required_argument, NULL, 'z'},
		{"heightmap", required_argument, NULL, 'H'},
		{"skin-plan", required_argument, NULL, 'K'},
		{"skin-origin", required_argument, NULL, 'o'},
		{"needle", required_argument, NULL, 'n'},
		{"settings", required_argument, NULL, 'S'},
		{"fault", required_argument, NULL, 'f'},
		{"seed", required_argument, NULL, 'r'},
		{"summary", required_argument, NULL, 'u'},
		{"on-open", required_argument, NULL, 'O'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct gsim_opts go = {.baud = 115200};
	struct link l = {.listen_fd = -1, .fd = -1};
	struct fault_set fs;
	struct skin *skin = NULL;
	struct gsim *g = NULL;
	FILE *skinlog = NULL;
	const char *tcp = NULL, *skin_log = NULL, *heightmap = NULL;
	const char *skin_plan = NULL;
	const char *settings = NULL, *summary = NULL;
	const char *faults[64];
	int nfaults = 0, ch, i;
	double speed = 1, skin_z = 0, origin[3] = {0, 0, 0}, wall0, sim0 = 0;
	bool max = false, quiet = false, first_open = true;
	unsigned long long seed = 1;
	char err[512], *end;
	struct sigaction sa;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'P':
			break;
		case 'l':
			l.symlink = optarg;
			break;
		case 't':
			tcp = optarg;
			break;
		case 's':
			if (strcmp(optarg, "max") == 0) {
				max = true;
				break;
			}
			speed = strtod(optarg, &end);
			if (*end != '\0' || !(speed > 0) || !isfinite(speed)) {
				fprintf(stderr, "smpsim: --speed %s: expected a "
				    "number > 0 or max\n", optarg);
				return 2;
			}
			break;
		case 'b':
			go.baud = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || go.baud < 0) {
				fprintf(stderr, "smpsim: --baud %s: expected "
				    "an integer >= 0\n", optarg);
				return 2;
			}
			break;
		case 'L':
			skin_log = optarg;
			break;
		case 'z':
			skin_z = strtod(optarg, &end);
			if (*end != '\0' || !isfinite(skin_z)) {
				fprintf(stderr, "smpsim: --skin-z %s: not a "
				    "number\n", optarg);
				return 2;
			}
			break;
		case 'H':
			heightmap = optarg;
			break;
		case 'K':
			skin_plan = optarg;
			break;
		case 'o':
			if (parse_xyz(optarg, origin) < 0) {
				fprintf(stderr, "smpsim: --skin-origin %s: "
				    "expected X,Y,Z\n", optarg);
				return 2;
			}
			break;
		case 'n':
			if (strcmp(optarg, "spindle") == 0)
				go.needle = GSIM_NEEDLE_SPINDLE;
			else if (strcmp(optarg, "flood") == 0)
				go.needle = GSIM_NEEDLE_FLOOD;
			else if (strcmp(optarg, "mist") == 0)
				go.needle = GSIM_NEEDLE_MIST;
			else {
				fprintf(stderr, "smpsim: --needle %s: expected "
				    "spindle, flood or mist\n", optarg);
				return 2;
			}
			break;
		case 'S':
			settings = optarg;
			break;
		case 'f':
			if (nfaults >= 64) {
				fprintf(stderr, "smpsim: too many --fault\n");
				return 2;
			}
			faults[nfaults++] = optarg;
			break;
		case 'r':
			seed = strtoull(optarg, &end, 10);
			if (*end != '\0' || *optarg == '\0') {
				fprintf(stderr, "smpsim: --seed %s: expected "
				    "an integer\n", optarg);
				return 2;
			}
			break;
		case 'u':
			summary = optarg;
			break;
		case 'O':
			if (strcmp(optarg, "banner") == 0)
				go.on_open = GSIM_OPEN_BANNER;
			else if (strcmp(optarg, "reset") == 0)
				go.on_open = GSIM_OPEN_RESET;
			else if (strcmp(optarg, "none") == 0)
				go.on_open = GSIM_OPEN_NONE;
			else
				usage();
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (tcp != NULL && l.symlink != NULL) {
		fprintf(stderr, "smpsim: --link applies to the pty, not --tcp\n");
		return 2;
	}
	fault_init(&fs, seed);
	for (i = 0; i < nfaults; i++)
		if (fault_parse(&fs, faults[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "smpsim: --fault: %s\n", err);
			return 2;
		}
	if (heightmap != NULL && skin_plan != NULL) {
		fprintf(stderr, "smpsim: --heightmap or --skin-plan, not both\n");
		return 2;
	}
	if (heightmap != NULL)
		skin = skin_new_heightmap(heightmap, origin, err, sizeof(err));
	else if (skin_plan != NULL)
		skin = skin_new_plan(skin_plan, origin, err, sizeof(err));
	else if ((skin = skin_new_flat(skin_z, origin)) == NULL)
		snprintf(err, sizeof(err), "out of memory");
	if (skin == NULL) {
		fprintf(stderr, "smpsim: %s\n", err);
		return 1;
	}
	if (skin_log != NULL) {
		if ((skinlog = fopen(skin_log, "w")) == NULL) {
			fprintf(stderr, "smpsim: %s: %s\n", skin_log,
			    strerror(errno));
			return 1;
		}
		skin_set_log(skin, skinlog);
	}
	if ((g = gsim_new(&go, skin, &fs)) == NULL) {
		fprintf(stderr, "smpsim: out of memory\n");
		return 1;
	}
	if (settings != NULL &&
	    gsim_load_settings(g, settings, err, sizeof(err)) < 0) {
		fprintf(stderr, "smpsim: %s\n", err);
		return 1;
	}
	l.tcp = tcp != NULL;
	if ((l.tcp ? tcp_listen(&l, tcp, err, sizeof(err)) :
	    pty_open(&l, err, sizeof(err))) < 0) {
		fprintf(stderr, "smpsim: %s\n", err);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	wall0 = mono();
	gsim_power_up(g, 0);
	printf("smpsim: listening on %s\n", l.path);
	fflush(stdout);
	if (!quiet)
		fprintf(stderr, "smpsim: speed %s, baud %d\n",
		    max ? "max" : "real-time multiple", go.baud);

	/* --speed max: the turns the host has let pass since the last answer
	 * it received (0: it has news and gets its turn; 1: silent through
	 * it; 2: silent through its last turn before the planner runs dry). */
	int silent = 0;
	while (!got_term) {
		struct pollfd pfd[2];
		int npfd = 0, timeout, rc;
		double now, next;
		bool got_input = false;

		if (got_usr1) {
			got_usr1 = 0;
			gsim_summary(g, stderr, mono() - wall0);
		}
		if (!max)
			gsim_run(g, sim0 + (mono() - wall0) * speed, false);
		now = gsim_now(g);
		if (gsim_take_close_request(g))
			link_drop(&l, g, true, quiet);
		/* Answers go out only to a host; without one they are lost,
		 * as on a serial line nobody listens to. */
		if (l.host && l.outlen < sizeof(l.out) / 2 &&
		    gsim_output_due(g, now))
			l.outlen += gsim_output(g, now, l.out + l.outlen,
			    sizeof(l.out) - l.outlen);
		if (l.host && l.outlen > 0) {
			ssize_t w = write(l.fd, l.out, l.outlen);
			if (w > 0) {
				silent = 0;   /* news: its turn again */
				memmove(l.out, l.out + w, l.outlen - (size_t)w);
				l.outlen -= (size_t)w;
			}
		}
		next = gsim_next_event(g);
		if (max) {
			/* Never spin: a line blocked for good (a hold, a
			 * critical alarm) has no next event to jump to. */
			if ((l.host && gsim_output_due(g, now)) ||
			    (isfinite(next) && (gsim_host_waiting(g) ||
			    host_turn_over(g, silent))))
				timeout = 0;
			else if (!isfinite(next))
				timeout = 200;
			else
				timeout = silent == 0 ? MAX_WAIT_MS : DRY_WAIT_MS;
		} else {
			double ms = isfinite(next) ?
			    (next - now) / speed * 1e3 : 200;
			timeout = ms < 0 ? 0 : ms > 200 ? 200 : (int)ceil(ms);
		}
		/* A pty master without a host polls as POLLHUP at once, every
		 * time: leave it out and look again after a short sleep. */
		if (l.fd >= 0 && (l.tcp || l.host)) {
			pfd[npfd].fd = l.fd;
			pfd[npfd].events = POLLIN;
			if (l.outlen > 0)
				pfd[npfd].events |= POLLOUT;
			npfd++;
		}
		if (!l.tcp && !l.host && timeout > 20)
			timeout = 20; /* a pty says no more when a host opens */
		if (l.tcp) {
			pfd[npfd].fd = l.listen_fd;
			pfd[npfd].events = POLLIN;
			npfd++;
		}
		rc = poll(pfd, (nfds_t)npfd, timeout);
		if (rc < 0 && errno != EINTR) {
			fprintf(stderr, "smpsim: poll: %s\n", strerror(errno));
			break;
		}
		if (rc > 0 && l.tcp && (pfd[npfd - 1].revents & POLLIN)) {
			int c = accept(l.listen_fd, NULL, NULL);
			if (c >= 0 && l.fd >= 0) {
				close(c); /* one host at a time */
			} else if (c >= 0) {
				fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
				l.fd = c;
				l.host = true;
				gsim_host_open(g, gsim_now(g), !first_open);
				first_open = false;
			}
		}
		if (l.fd >= 0 && rc > 0 && npfd > 0 && pfd[0].fd == l.fd) {
			short re = pfd[0].revents;
			if (!l.tcp) {
				if ((re & POLLHUP) && l.host) {
					gsim_host_close(g, gsim_now(g));
					l.host = false;
					l.outlen = 0;
				} else if (!(re & POLLHUP) && !l.host) {
					l.host = true;
					gsim_host_open(g, gsim_now(g),
					    !first_open);
					first_open = false;
				}
			}
			if (re & POLLIN) {
				uint8_t buf[4096];
				ssize_t n = read(l.fd, buf, sizeof(buf));
				if (n > 0) {
					double t = max ? gsim_now(g) :
					    sim0 + (mono() - wall0) * speed;
					gsim_input(g, t, buf, (size_t)n);
					got_input = true;
				} else if (l.tcp && (n == 0 || (errno != EAGAIN &&
				    errno != EINTR))) {
					link_drop(&l, g, false, quiet);
				}
			} else if (l.tcp && (re & (POLLHUP | POLLERR))) {
				link_drop(&l, g, false, quiet);
			}
		} else if (!l.tcp && l.fd >= 0 && !l.host && rc == 0) {
			/* poll without POLLHUP: check whether a host came */
			struct pollfd q = {.fd = l.fd, .events = 0};
			if (poll(&q, 1, 0) == 0) {
				l.host = true;
				gsim_host_open(g, gsim_now(g), !first_open);
				first_open = false;
			}
		}
		if (max && !got_input && isfinite(next)) {
			/* The host's turn ran out without a word: silent until
			 * it hears something new. */
			if (timeout > 0 && rc == 0 && silent < 2)
				silent++;
			if (gsim_host_waiting(g))
				gsim_run(g, INFINITY, true);
			else if (host_turn_over(g, silent))
				gsim_run(g, next, true);
		}
	}
	if (!max)
		gsim_run(g, sim0 + (mono() - wall0) * speed, false);
	skin_flush_open(skin, gsim_now(g));
	write_summary(g, summary, wall0);
	if (!quiet)
		gsim_summary(g, stderr, mono() - wall0);
	if (l.symlink != NULL && !l.tcp)
		unlink(l.symlink);
	if (skinlog != NULL)
		fclose(skinlog);
	gsim_destroy(&g);
	skin_destroy(&skin);
	return 0;
}
