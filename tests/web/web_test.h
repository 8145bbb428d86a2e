/*
 * Helpers for smpweb's tests: start smpweb on a free loopback port and read
 * the port it printed, and a raw HTTP exchange on a socket (so the tests see
 * exactly the bytes a browser would, with no client library deciding for
 * them). Header only, like tests/e2e/e2e.h, which it builds on.
 */
#ifndef SMP_TESTS_WEB_TEST_H
#define SMP_TESTS_WEB_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "e2e/e2e.h"

struct web_proc {
	pid_t pid;
	int port;
	char log[320];
};

/* Starts smpweb with args (a shell word list) and waits for its
 * "listening on" line. */
static inline void
web_start(struct web_proc *wp, const char *dir, const char *args)
{
	char bin[512], cmd[2048], line[512];
	int fds[2];
	FILE *f;
	const char *p;

	e2e_bin("smpweb", bin, sizeof(bin));
	snprintf(wp->log, sizeof(wp->log), "%s/smpweb.log", dir);
	ASSERT_EQ(pipe(fds), 0);
	wp->pid = fork();
	ASSERT(wp->pid >= 0);
	if (wp->pid == 0) {
		int logfd;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		logfd = open(wp->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fds[1], 1);
		if (logfd >= 0)
			dup2(logfd, 2);
		close(fds[0]);
		snprintf(cmd, sizeof(cmd), "exec %s --listen 127.0.0.1:0 %s",
		    bin, args);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	ASSERT_NOT_NULL(f);
	ASSERT_MSG(fgets(line, sizeof(line), f) != NULL,
	    "smpweb printed nothing (see %s)", wp->log);
	fclose(f);
	ASSERT_STR_CONTAINS(line, "smpweb: listening on http");
	/* "...://HOST:PORT/ (status ...)": the port ends the authority. */
	p = strstr(line, "://");
	ASSERT_NOT_NULL(p);
	{
		const char *slash = strchr(p + 3, '/'), *c = slash;
		ASSERT_NOT_NULL(slash);
		while (c > p && *c != ':')
			c--;
		wp->port = atoi(c + 1);
	}
	ASSERT_GT(wp->port, 0);
}

static inline void
web_stop(struct web_proc *wp)
{
	int rc;

	if (wp->pid <= 0)
		return;
	kill(wp->pid, SIGTERM);
	rc = e2e_wait_pid(wp->pid, 10);
	if (rc < 0) {
		kill(wp->pid, SIGKILL);
		e2e_wait_pid(wp->pid, 5);
	}
	wp->pid = 0;
	ASSERT_MSG(rc == 0, "smpweb exited %d on SIGTERM; see %s", rc,
	    wp->log);
}

/* Sends one request (raw text) and returns what came back, up to len - 1
 * bytes, until the server closes or 3 s pass. */
static inline size_t
web_http(int port, const char *request, char *out, size_t len)
{
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	double deadline = e2e_now() + 3;
	struct timeval tv = { 0, 200000 };

	ASSERT(s >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(write(s, request, strlen(request)), (ssize_t)strlen(request));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < len - 1 && e2e_now() < deadline) {
		ssize_t n = read(s, out + got, len - 1 - got);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
		/* A WebSocket upgrade stays open: its reply is all there is. */
		if (got > 0 && strstr(out, "\r\n\r\n") != NULL &&
		    strncmp(out, "HTTP/1.1 101", 12) == 0)
			break;
		out[got] = '\0';
	}
	out[got] = '\0';
	close(s);
	return got;
}

#endif /* SMP_TESTS_WEB_TEST_H */
