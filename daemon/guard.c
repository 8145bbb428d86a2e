/*
 * The guard process (see guard.h). It is a fork, not a thread, because the
 * one thing it must survive is the death of smpd, and a separate process is
 * the only part of smpd that the kernel does not take down with it. It is
 * forked before libzmq starts its threads so that the child is a clean,
 * single-threaded copy that may use stdio and the log. The protocol is a
 * SOCK_SEQPACKET socket pair: each message is one byte ('F' descriptor,
 * 'N' no descriptor, 'A' armed, 'D' disarmed), 'F' carrying the descriptor
 * as SCM_RIGHTS; end-of-file means smpd is gone.
 */
#define _GNU_SOURCE
#include "daemon/guard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"

#define GUARD_LINES_MAX 512
#define GUARD_POLL_S 0.1        /* `?` period while waiting */

struct guard {
	pid_t pid;
	int sock;                /* smpd's end; -1 once the guard is gone */
	int fd;                  /* descriptor last sent, -1 none */
	dev_t dev;               /* its identity: a new connection may */
	ino_t ino;               /* reuse the number */
	bool armed;              /* as last sent */
	bool dead_logged;
};

void
guard_defaults(struct guard_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->off_lines = "";
	o->lift_mm = 0;
	o->hold_timeout_s = 3.0;
	o->reset_timeout_s = 2.0;
	o->lift_timeout_s = 10.0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------- talking to the machine */

struct wire {
	int fd;
	char buf[256];           /* partial line received */
	size_t len;
	bool failed;             /* write or read error: the link is gone */
};

/* Writes all of p, waiting at most 0.5 s for room. */
static void
wire_write(struct wire *w, const void *p, size_t n)
{
	const char *c = p;
	double deadline = now_s() + 0.5;

	while (n > 0 && !w->failed) {
		ssize_t k = write(w->fd, c, n);
		if (k > 0) {
			c += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN && now_s() < deadline) {
			struct pollfd pfd = { w->fd, POLLOUT, 0 };
			poll(&pfd, 1, 20);
			continue;
		}
		w->failed = true;
	}
}

/* Reads one line (without "\r\n") into out, waiting until deadline.
 * Returns 1 with a line, 0 on timeout, -1 when the link is gone. */
static int
wire_line(struct wire *w, char *out, size_t outlen, double deadline)
{
	for (;;) {
		char *nl = memchr(w->buf, '\n', w->len);
		struct pollfd pfd = { w->fd, POLLIN, 0 };
		double left;
		ssize_t k;

		if (nl != NULL) {
			size_t l = (size_t)(nl - w->buf), c = l;
			if (c > 0 && w->buf[c - 1] == '\r')
				c--;
			if (c >= outlen)
				c = outlen - 1;
			memcpy(out, w->buf, c);
			out[c] = '\0';
			w->len -= l + 1;
			memmove(w->buf, nl + 1, w->len);
			return 1;
		}
		if (w->len == sizeof(w->buf))
			w->len = 0;   /* no line is this long: noise, drop it */
		if (w->failed)
			return -1;
		left = deadline - now_s();
		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			return -1;
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		k = read(w->fd, w->buf + w->len, sizeof(w->buf) - w->len);
		if (k > 0)
			w->len += (size_t)k;
		else if (k == 0 || (errno != EAGAIN && errno != EINTR))
			w->failed = true;
	}
}

/* The state word of a status report ("<Hold:0|MPos:...>"), or "" . */
static void
report_state(const char *line, char *st, size_t stlen)
{
	size_t n = 0;

	st[0] = '\0';
	if (line[0] != '<')
		return;
	for (line++; *line != '\0' && *line != '|' && *line != '>' &&
	    n + 1 < stlen; line++)
		st[n++] = *line;
	st[n] = '\0';
}

/* A state in which nothing moves: a completed hold, idle (GRBL also says
 * Idle during a dwell, when nothing moves either), alarm, check, sleep, a
 * door that has finished stopping. */
static bool
at_rest(const char *st)
{
	return strcmp(st, "Hold:0") == 0 || strcmp(st, "Idle") == 0 ||
	    strncmp(st, "Alarm", 5) == 0 || strcmp(st, "Door:0") == 0 ||
	    strcmp(st, "Door:1") == 0 || strcmp(st, "Check") == 0 ||
	    strcmp(st, "Sleep") == 0;
}

/*
 * Polls `?` every GUARD_POLL_S until a report says the machine is at rest
 * (want_idle: Idle exactly, after answers_due ok/error answers), or until
 * deadline. Returns 1 when seen, 0 on timeout, -1 when the link is gone.
 * *alarm (alarm may be NULL) is set if an alarm shows.
 */
static int
wait_state(struct wire *w, double deadline, bool want_idle,
    int *answers_due, bool *alarm)
{
	char line[256], st[32];
	double next = 0;

	for (;;) {
		double t = now_s();
		int r;

		if (t >= deadline)
			return 0;
		if (t >= next) {
			wire_write(w, "?", 1);
			next = t + GUARD_POLL_S;
		}
		r = wire_line(w, line, sizeof(line), next < deadline ? next :
		    deadline);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		if (strncmp(line, "ALARM:", 6) == 0 && alarm != NULL)
			*alarm = true;
		if (answers_due != NULL && (strcmp(line, "ok") == 0 ||
		    strncmp(line, "error:", 6) == 0)) {
			if (line[0] == 'e')
				log_warnx("guard: the controller answered %s",
				    line);
			if (*answers_due > 0)
				(*answers_due)--;
			continue;
		}
		report_state(line, st, sizeof(st));
		if (st[0] == '\0')
			continue;
		if (strncmp(st, "Alarm", 5) == 0 && alarm != NULL)
			*alarm = true;
		if (want_idle ? (strcmp(st, "Idle") == 0 && (answers_due ==
		    NULL || *answers_due == 0)) : at_rest(st))
			return 1;
	}
}

int
guard_stop_machine(int fd, const struct guard_opts *o)
{
	struct wire w;
	char line[256], lift[64];
	bool alarm = false, banner = false;
	int rest, due = 0, fl;
	double deadline;
	const char *p;

	memset(&w, 0, sizeof(w));
	w.fd = fd;
	if ((fl = fcntl(fd, F_GETFL)) >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);

	/* 1. Feed hold, and wait until the machine stands still. */
	wire_write(&w, "!", 1);
	rest = wait_state(&w, now_s() + o->hold_timeout_s, false, NULL,
	    NULL);
	if (rest < 0) {
		log_warnx("guard: the controller link is gone");
		return 1;
	}
	if (rest == 0)
		log_warnx("guard: no stop reported in %.1f s; resetting "
		    "anyway", o->hold_timeout_s);

	/* 2. Soft reset: motion stops, spindle and coolant outputs off. */
	wire_write(&w, "\x18", 1);
	deadline = now_s() + o->reset_timeout_s;
	while (!banner && wire_line(&w, line, sizeof(line), deadline) > 0)
		banner = strncmp(line, "Grbl ", 5) == 0;
	if (!banner) {
		log_warnx("guard: no banner after the soft reset");
		return 1;
	}
	/* The state after the reset decides, whatever came before it: alarm
	 * (a reset in motion, or a critical alarm) or idle. */
	if (wait_state(&w, now_s() + o->reset_timeout_s, false, NULL,
	    &alarm) <= 0) {
		log_warnx("guard: no status after the soft reset");
		return 1;
	}
	if (alarm) {
		log_warnx("guard: controller in alarm after the reset: needle "
		    "off, tip not lifted (its position is in doubt; smpd "
		    "unlocks and retracts when it is back)");
		return 1;
	}

	/* 3. Needle off, then straight up by the clearance plus the deepest
	 * plunge allowed: above the clearance plane wherever it stopped. */
	wire_write(&w, o->off_lines, strlen(o->off_lines));
	for (p = o->off_lines; *p != '\0'; p++)
		due += *p == '\n';
	snprintf(lift, sizeof(lift), "G91G0Z%.3f\nG90\n", o->lift_mm);
	wire_write(&w, lift, strlen(lift));
	due += 2;
	rest = wait_state(&w, now_s() + o->lift_timeout_s, true, &due,
	    &alarm);
	if (rest <= 0 || alarm) {
		log_warnx("guard: the lift was not confirmed");
		return 1;
	}
	log_warnx("guard: machine stopped: needle off, tip lifted %.3f mm",
	    o->lift_mm);
	return 0;
}

/* ---------------------------------------------------- the socket pair */

/* One message: its type byte and room for one descriptor. */
struct gmsg {
	char type;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov;
	struct msghdr msg;
};

static void
gmsg_init(struct gmsg *m, char type, bool with_fd)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->iov.iov_base = &m->type;
	m->iov.iov_len = 1;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	if (with_fd) {
		m->msg.msg_control = m->cm.buf;
		m->msg.msg_controllen = sizeof(m->cm.buf);
	}
}

/* ------------------------------------------------------------ the child */

static int
child_main(int sock, const struct guard_opts *o)
{
	int fd = -1;
	bool armed = false;

	for (;;) {
		struct gmsg m;
		struct cmsghdr *c;
		ssize_t n;

		gmsg_init(&m, 0, true);
		n = recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;   /* smpd is gone, however it went */
		switch (m.type) {
		case 'F':
			c = CMSG_FIRSTHDR(&m.msg);
			if (c == NULL || c->cmsg_type != SCM_RIGHTS ||
			    c->cmsg_len != CMSG_LEN(sizeof(int)))
				break;
			if (fd >= 0)
				close(fd);
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
			break;
		case 'N':
			if (fd >= 0)
				close(fd);
			fd = -1;
			break;
		case 'A':
			armed = true;
			break;
		case 'D':
			armed = false;
			break;
		default:
			break;
		}
	}
	if (!armed || fd < 0)
		return 0;
	log_warnx("guard: smpd is gone with the machine armed: stopping it");
	return guard_stop_machine(fd, o);
}

struct guard *
guard_new(const struct guard_opts *o, char *err, size_t errlen)
{
	struct guard *g = NULL;
	int sv[2] = { -1, -1 };
	pid_t pid;

	if (!(o->lift_mm > 0) || o->off_lines == NULL) {
		snprintf(err, errlen, "guard: no lift or needle-off lines");
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "guard: out of memory");
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, errlen, "guard: socketpair: %s", strerror(errno));
		goto fail;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "guard: fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		struct sigaction sa;
		int rc;

		/* systemd stops a unit by signalling its whole cgroup: the
		 * guard must finish its stop, not die with smpd. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		prctl(PR_SET_NAME, "smpd-guard");
		close(sv[0]);
		free(g);   /* smpd's handle, not the child's */
		/* Nothing of smpd's but the socket and stdio: a descriptor
		 * held here would keep a journal or a socket alive. */
		if (sv[1] > 3)
			close_range(3, (unsigned)sv[1] - 1, 0);
		close_range((unsigned)sv[1] + 1, ~0U, 0);
		rc = child_main(sv[1], o);
		_exit(rc);
	}
	close(sv[1]);
	g->pid = pid;
	g->sock = sv[0];
	g->fd = -1;
	return g;
fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	free(g);
	return NULL;
}

/* Sends one message; 0, or -1 (the guard is gone, or try again later). */
static int
send_msg(struct guard *g, char type, int fd)
{
	struct gmsg m;

	gmsg_init(&m, type, fd >= 0);
	if (fd >= 0) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (;;) {
		if (sendmsg(g->sock, &m.msg, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (!g->dead_logged)
				log_warnx("guard: gone (%s): smpd's own stops "
				    "only from now on", strerror(errno));
			g->dead_logged = true;
			close(g->sock);
			g->sock = -1;
		}
		return -1;
	}
}

int
guard_update(struct guard *g, int fd, bool armed)
{
	struct stat sb;
	dev_t dev = 0;
	ino_t ino = 0;

	if (g == NULL || g->sock < 0)
		return -1;
	if (fd >= 0 && fstat(fd, &sb) == 0) {
		dev = sb.st_dev;
		ino = sb.st_ino;
	}
	if (fd != g->fd || dev != g->dev || ino != g->ino) {
		if (send_msg(g, fd >= 0 ? 'F' : 'N', fd) != 0)
			return -1;
		g->fd = fd;
		g->dev = dev;
		g->ino = ino;
	}
	if (armed != g->armed) {
		if (send_msg(g, armed ? 'A' : 'D', -1) != 0)
			return -1;
		g->armed = armed;
	}
	return 0;
}

bool
guard_alive(const struct guard *g)
{
	return g != NULL && g->sock >= 0;
}

int
guard_destroy(struct guard **gp)
{
	struct guard *g;
	int status = 0, rc = -1;
	pid_t r = -1;

	if (gp == NULL || (g = *gp) == NULL)
		return -1;
	if (g->sock >= 0)
		close(g->sock);
	if (g->pid > 0)
		while ((r = waitpid(g->pid, &status, 0)) < 0 && errno == EINTR)
			;
	if (r == g->pid && WIFEXITED(status))
		rc = WEXITSTATUS(status);
	free(g);
	*gp = NULL;
	return rc;
}
