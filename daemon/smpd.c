/*
 * smpd: the controller daemon of a scalp micropigmentation robot. Shaped
 * like OpenBSD's ntpd: getopt, `-n` to check the configuration, logging set
 * up before anything can fail, signal handlers that only set flags, and one
 * poll loop (zmq_poll) over the control and status sockets, the controller
 * link's descriptor and the next timer deadline. Everything that decides
 * what the machine does is in session.c; this file wires the pieces and
 * makes sure that every way out, including fatal(), stops the machine
 * safely first.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon/config.h"
#include "daemon/ctl.h"
#include "daemon/guard.h"
#include "daemon/log.h"
#include "daemon/pub.h"
#include "daemon/session.h"
#include "drivers/link.h"
#include "drivers/transport.h"
#include "planner/gcode.h"

#define SHUTDOWN_GRACE_S 10.0  /* safe stop budget at SIGTERM */
#define FATAL_GRACE_S 3.0      /* safe stop budget inside fatal() */
#define MAX_ITEMS 16

static volatile sig_atomic_t quit_sig;
static volatile sig_atomic_t reload;

struct smpd {
	struct smpd_config cfg;
	void *zctx;
	struct ctl *ctl;
	struct pub *pub;
	struct link *link;
	struct session *session;
	struct guard *guard;       /* NULL with session.guard = false */
	double now;
};

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		quit_sig = sig;
}

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: smpd [-dnv] [-f file]\n"
	    "       smpd --list-ports\n");
	exit(1);
}

/* ---- systemd */

/*
 * systemd's readiness and watchdog protocol (sd_notify(3)) without
 * libsystemd: that library and the compression and crypto libraries it
 * brings are about 1 MB of smpd's resident memory, for one datagram now and
 * then. NOTIFY_SOCKET names an AF_UNIX datagram socket, '@' first for the
 * abstract namespace. 1 sent, 0 not started by systemd, -1 error.
 */
static int
notify(const char *state)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t len;
	int fd, rc;

	if (e == NULL || e[0] == '\0')
		return 0;
	len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len >= sizeof(sa.sun_path))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, e, len);
	if (e[0] == '@')
		sa.sun_path[0] = '\0';   /* abstract: the name is len bytes */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (e[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	rc = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, salen) < 0 ? -1 : 1;
	close(fd);
	return rc;
}

/* The watchdog period systemd asks for (WATCHDOG_USEC, for this process
 * when WATCHDOG_PID says whom), in microseconds; 0 when none. */
static uint64_t
watchdog_usec(void)
{
	const char *u = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (u == NULL)
		return 0;
	if (p != NULL) {
		long pid;
		errno = 0;
		pid = strtol(p, &end, 10);
		if (errno != 0 || end == p || *end != '\0' || pid != getpid())
			return 0;
	}
	errno = 0;
	v = strtoull(u, &end, 10);
	if (errno != 0 || end == u || *end != '\0')
		return 0;
	return (uint64_t)v;
}

/* ---- the session's view of the world */

static struct grbl *
io_engine(void *arg)
{
	struct smpd *d = arg;

	return link_state(d->link) == LINK_READY ? link_grbl(d->link) : NULL;
}

static void
io_realtime(void *arg, uint8_t b)
{
	link_realtime(((struct smpd *)arg)->link, b);
}

static void
io_flush(void *arg)
{
	link_flush(((struct smpd *)arg)->link);
}

static void
io_drop(void *arg, const char *why)
{
	link_drop(((struct smpd *)arg)->link, why);
}

static void
io_publish(void *arg, const char *topic, json_t *obj)
{
	struct smpd *d = arg;

	if (d->pub != NULL)
		pub_send(d->pub, topic, obj);
	else
		json_decref(obj);
}

static void
log_to_pub(void *arg, enum log_level level, const char *msg)
{
	struct smpd *d = arg;
	static const char *const names[] = { "warning", "info", "debug" };

	if (d->pub != NULL)
		pub_send(d->pub, "log", json_pack("{s:s, s:s}", "level",
		    names[level], "message", msg));
}

static void
handle_request(void *arg, struct ctl *c, const struct ctl_request *req)
{
	struct smpd *d = arg;
	json_t *reply = NULL;
	char code[32], msg[512];

	log_debug("control: %s from %s", req->cmd_name, req->client);
	if (session_command(d->session, req->cmd, req->args, mono_now(),
	    &reply, code, sizeof(code), msg, sizeof(msg)) == 0)
		ctl_reply_ok(c, req, reply);
	else {
		log_info("control: %s from %s refused: %s: %s", req->cmd_name,
		    req->client, code, msg);
		ctl_reply_err(c, req, code, "%s", msg);
	}
}

/* ---- the loop */

static void
drain_link(struct smpd *d, double now)
{
	struct link_event ev;

	session_link_state(d->session, link_state(d->link), now);
	while (link_next_event(d->link, &ev)) {
		switch (ev.kind) {
		case LINK_EV_UP:
			session_link_up(d->session, link_info(d->link), now);
			break;
		case LINK_EV_DOWN:
			session_link_down(d->session, ev.text, now);
			break;
		case LINK_EV_GRBL:
			session_grbl_event(d->session, &ev.grbl, now);
			break;
		case LINK_EV_LOG:
			log_info("link: %s", ev.text);
			break;
		case LINK_EV_NONE:
			break;
		}
	}
	session_link_state(d->session, link_state(d->link), now);
}

/* Keeps the guard told which descriptor reaches the controller and whether
 * it must stop the machine should smpd die now. */
static void
update_guard(struct smpd *d)
{
	struct session_counts c;
	short events;

	if (d->guard == NULL)
		return;
	session_counts(d->session, &c);
	guard_update(d->guard, link_poll_fd(d->link, &events),
	    c.needle_on || !session_quiescent(d->session));
}

/*
 * One pass: poll everything for at most max_ms, then run whatever is due.
 * with_sockets: false inside fatal(), where only the machine matters.
 */
static void
loop_once(struct smpd *d, int max_ms, bool with_sockets)
{
	zmq_pollitem_t items[MAX_ITEMS];
	int n = 0, nctl = 0, npub = 0, link_i = -1, timeout, rc, i;
	short events = 0;
	int fd;
	double now = mono_now();

	if (with_sockets && d->ctl != NULL)
		n += nctl = ctl_pollitems(d->ctl, items + n, MAX_ITEMS - 2);
	if (with_sockets && d->pub != NULL)
		n += npub = pub_pollitems(d->pub, items + n, MAX_ITEMS - 1 - n);
	fd = link_poll_fd(d->link, &events);
	if (fd >= 0) {
		link_i = n++;
		memset(&items[link_i], 0, sizeof(items[link_i]));
		items[link_i].fd = fd;
		items[link_i].events = (short)(((events & POLLIN) ?
		    ZMQ_POLLIN : 0) | ((events & POLLOUT) ? ZMQ_POLLOUT : 0));
	}
	timeout = link_timeout_ms(d->link, now);
	rc = session_timeout_ms(d->session, now);
	if (rc < timeout)
		timeout = rc;
	if (max_ms >= 0 && max_ms < timeout)
		timeout = max_ms;
	if (timeout < 0)
		timeout = 0;
	rc = zmq_poll(items, n, timeout);
	if (rc < 0 && errno != EINTR)
		fatal("zmq_poll");
	now = mono_now();

	{
		short rev = 0;
		if (rc > 0 && link_i >= 0) {
			if (items[link_i].revents & ZMQ_POLLIN)
				rev |= POLLIN;
			if (items[link_i].revents & ZMQ_POLLOUT)
				rev |= POLLOUT;
			if (items[link_i].revents & ZMQ_POLLERR)
				rev |= POLLERR | POLLHUP;
		}
		link_step(d->link, now, rev);
		drain_link(d, now);
	}
	if (with_sockets && rc > 0) {
		for (i = 0; i < nctl; i++)
			if (items[i].revents & ZMQ_POLLIN) {
				ctl_dispatch(d->ctl, handle_request, d);
				break;
			}
		for (i = nctl; i < nctl + npub; i++)
			if (items[i].revents & ZMQ_POLLIN) {
				if (pub_handle(d->pub) > 0)
					session_snapshot(d->session, now);
				break;
			}
	}
	session_tick(d->session, now);
	/* Lines the session just queued go out now, not a poll later. Only
	 * written: an answer read here would wait, unhandled, for the next
	 * wakeup (up to a status poll period), and with it the line it frees. */
	link_flush(d->link);
	drain_link(d, now);
	update_guard(d);
}

static struct smpd *the_daemon;

/* fatal()'s hook: feed hold, needle off, retract, within a short budget. */
static void
emergency_stop(void *arg)
{
	struct smpd *d = arg;
	double deadline;

	if (d == NULL || d->session == NULL || d->link == NULL)
		return;
	log_warnx("emergency: stopping the machine before exit");
	session_shutdown(d->session, "daemon failing (fatal error)",
	    mono_now());
	deadline = mono_now() + FATAL_GRACE_S;
	while (!session_quiescent(d->session) && mono_now() < deadline)
		loop_once(d, 50, false);
	if (!session_quiescent(d->session)) {
		/* Out of time: at least stop all motion and the spindle. */
		link_realtime(d->link, GRBL_RT_HOLD);
		link_realtime(d->link, GRBL_RT_RESET);
		link_step(d->link, mono_now(), 0);
	}
}

/* Forks the guard with the needle-off lines of the configured actuator and
 * a lift of the clearance plus the deepest plunge allowed. */
static void
start_guard(struct smpd *d)
{
	struct gcode_emitter em;
	struct gcode_line out[GCODE_MAX_LINES_PER_DOT];
	struct guard_opts go;
	char lines[GCODE_MAX_LINES_PER_DOT * 81], err[256];
	size_t off = 0;
	int n, i;

	gcode_emitter_init(&em, &d->cfg.planner);
	n = gcode_needle_off(&em, out);
	lines[0] = '\0';
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(lines + off, sizeof(lines) - off,
		    "%s\n", out[i].text);
	guard_defaults(&go);
	go.off_lines = lines;
	go.lift_mm = d->cfg.planner.clearance_mm + d->cfg.planner.max_depth_mm;
	if ((d->guard = guard_new(&go, err, sizeof(err))) == NULL)
		fatalx("%s", err);
}

static void
list_ports(void)
{
	char *s = transport_list_ports();

	if (s == NULL) {
		fprintf(stderr, "smpd: cannot list serial ports\n");
		exit(1);
	}
	fputs(s, stdout);
	free(s);
	exit(0);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "list-ports", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct smpd *d;
	const char *conffile = "/etc/smpd.conf";
	char err[4096];
	int ch, debug = 0, noaction = 0, verbose = 0, nerr;
	struct sigaction sa;
	struct ctl_opts copts;
	struct pub_opts popts;
	struct link_opts lopts;
	struct session_io io;
	uint64_t wd_usec = 0;
	double wd_next = 0, quit_deadline = 0;
	bool quitting = false;

	while ((ch = getopt_long(argc, argv, "df:nvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'L':
			list_ports();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/* Every large block (a plan's dots, the planner's scratch, a
	 * toolpath: megabytes at 100,000 dots) in its own mapping, returned to
	 * the system when freed. glibc otherwise raises its mmap threshold to
	 * the size of each such block freed, and the next ones come from the
	 * heap, where what a load freed stays resident under the toolpath
	 * built next: 4 MB of smpd's peak at 100,000 dots. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		fprintf(stderr, "smpd: out of memory\n");
		return 1;
	}
	config_defaults(&d->cfg);
	nerr = config_load(&d->cfg, conffile, err, sizeof(err));
	if (noaction) {
		free(d);
		if (nerr > 0) {
			fputs(err, stderr);
			fprintf(stderr, "smpd: %d error%s in %s\n", nerr,
			    nerr == 1 ? "" : "s", conffile);
			return 1;
		}
		printf("configuration OK\n");
		return 0;
	}
	log_init(debug, verbose);
	if (nerr > 0) {
		char *line, *save = NULL;
		for (line = strtok_r(err, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_warnx("%s", line);
		fatalx("%d configuration error%s in %s", nerr,
		    nerr == 1 ? "" : "s", conffile);
	}

	/* Before libzmq starts its threads: the guard is a plain fork. */
	if (d->cfg.guard)
		start_guard(d);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if ((d->zctx = zmq_ctx_new()) == NULL)
		fatal("zmq_ctx_new");
	config_ctl_opts(&d->cfg, &copts);
	if ((d->ctl = ctl_new(d->zctx, &copts, err, sizeof(err))) == NULL)
		fatalx("control endpoint: %s", err);
	config_pub_opts(&d->cfg, &popts);
	if ((d->pub = pub_new(d->zctx, &popts, err, sizeof(err))) == NULL)
		fatalx("status endpoint: %s", err);

	memset(&lopts, 0, sizeof(lopts));
	lopts.port = d->cfg.port;
	lopts.baud = d->cfg.baud;
	lopts.status_poll_hz = d->cfg.status_poll_hz;
	lopts.watchdog_ms = d->cfg.watchdog_ms;
	lopts.connect_timeout_ms = d->cfg.connect_timeout_ms;
	lopts.reconnect_max_ms = d->cfg.reconnect_max_ms;
	if ((d->link = link_new(&lopts)) == NULL)
		fatalx("controller link: out of memory");

	memset(&io, 0, sizeof(io));
	io.engine = io_engine;
	io.realtime = io_realtime;
	io.drop = io_drop;
	io.publish = io_publish;
	io.flush = io_flush;
	io.arg = d;
	if ((d->session = session_new(&d->cfg, &io, err, sizeof(err))) == NULL)
		fatalx("session: %s", err);
	the_daemon = d;
	log_set_stop_hook(emergency_stop, d);
	log_set_sink(log_to_pub, d);

	switch (session_recover(d->session, mono_now(), err, sizeof(err))) {
	case -1:
		fatalx("cannot recover the interrupted session: %s (move the "
		    "journal aside to start afresh, after checking which dots "
		    "were delivered)", err);
	case 1:
		log_warnx("an interrupted session was recovered: it will be "
		    "paused once the controller is safely stopped");
		break;
	default:
		break;
	}

	log_info("smpd started: controller %s, journal %s", d->cfg.port,
	    d->cfg.journal_dir);
	if (notify("READY=1\nSTATUS=running") < 0)
		log_warn("NOTIFY_SOCKET %s", getenv("NOTIFY_SOCKET"));
	wd_usec = watchdog_usec();

	for (;;) {
		double now;

		if (quit_sig && !quitting) {
			quitting = true;
			log_info("%s: stopping the machine safely, then exiting",
			    quit_sig == SIGINT ? "SIGINT" : "SIGTERM");
			(void)notify("STOPPING=1");
			session_shutdown(d->session, quit_sig == SIGINT ?
			    "SIGINT" : "SIGTERM", mono_now());
			quit_deadline = mono_now() + SHUTDOWN_GRACE_S;
		}
		if (quitting && (session_quiescent(d->session) ||
		    mono_now() >= quit_deadline)) {
			if (!session_quiescent(d->session))
				log_warnx("safe stop not confirmed in %.0f s",
				    SHUTDOWN_GRACE_S);
			break;
		}
		if (reload) {
			reload = 0;
			if (ctl_reload_keys(d->ctl) != 0)
				log_warnx("SIGHUP: control keys not reloaded, "
				    "the old list stays: %s",
				    ctl_reload_error(d->ctl));
			else
				log_info("SIGHUP: control keys reloaded (%zu "
				    "allowed)", ctl_allowed_count(d->ctl));
			if (pub_reload_keys(d->pub, err, sizeof(err)) != 0)
				log_warnx("SIGHUP: status keys not reloaded, "
				    "the old list stays: %s", err);
		}
		now = mono_now();
		if (wd_usec > 0 && now >= wd_next) {
			(void)notify("WATCHDOG=1");
			wd_next = now + (double)wd_usec / 2e6;
		}
		loop_once(d, wd_usec > 0 ? (int)fmax(0, (wd_next - now) *
		    1000) : (quitting ? 100 : -1), true);
	}

	/* Armed still only if the safe stop was not confirmed: then the
	 * guard makes its own attempt. */
	update_guard(d);
	if (d->guard != NULL && guard_destroy(&d->guard) > 0)
		log_warnx("guard: its stop was not confirmed");
	log_set_stop_hook(NULL, NULL);
	log_set_sink(NULL, NULL);
	session_destroy(&d->session);
	link_destroy(&d->link);
	ctl_destroy(&d->ctl);
	pub_destroy(&d->pub);
	zmq_ctx_term(d->zctx);
	free(d);
	log_info("smpd exiting");
	return 0;
}
