/*
 * Transport tests (drivers/transport.c): a pty pair stands in for a serial
 * controller (the test holds the master, the transport opens the slave
 * through termios), a TCP listener on loopback for a network one, and
 * missing, busy and wrong devices must fail with a clear one-line reason.
 */
#define _XOPEN_SOURCE 700   /* posix_openpt, ptsname */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "drivers/transport.h"

static int
pty_master(char *path, size_t len)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	ASSERT(m >= 0);
	ASSERT_EQ(grantpt(m), 0);
	ASSERT_EQ(unlockpt(m), 0);
	snprintf(path, len, "%s", ptsname(m));
	return m;
}

/* Reads exactly n bytes from fd within 2 s. */
static void
read_exact(int fd, char *buf, size_t n)
{
	size_t got = 0;
	struct pollfd pfd = {fd, POLLIN, 0};

	while (got < n) {
		ASSERT_MSG(poll(&pfd, 1, 2000) == 1, "timeout after %zu of %zu "
		    "bytes", got, n);
		ssize_t r = read(fd, buf + got, n - got);
		ASSERT(r > 0);
		got += (size_t)r;
	}
}

/* Reads from the transport until n bytes came, within 2 s. */
static void
tread_exact(struct transport *t, char *buf, size_t n)
{
	size_t got = 0;
	struct pollfd pfd = {transport_fd(t), POLLIN, 0};

	while (got < n) {
		ASSERT_MSG(poll(&pfd, 1, 2000) == 1, "timeout");
		ssize_t r = transport_read(t, buf + got, n - got);
		ASSERT(r >= 0);
		got += (size_t)r;
	}
}

TEST(pty_roundtrip_raw)
{
	char path[64], err[128], buf[64];
	int m = pty_master(path, sizeof(path));
	struct transport *t = transport_open(path, 115200, err, sizeof(err));
	/* Every byte passes untouched: CR, ^C, XON/XOFF, real-time bytes. */
	static const char down[] = "ok\r\n\x03\x11\x13\x18\x85\x9e\xff";
	static const char up[] = "G1 X1\n?!~\x18\x84\x03\x11\x13\r\xa0";

	ASSERT_MSG(t != NULL, "%s", err);
	ASSERT_EQ(transport_kind(t), TRANSPORT_TERMIOS);
	ASSERT_GE(transport_fd(t), 0);
	/* Nothing there: 0, not an error. */
	ASSERT_EQ(transport_read(t, buf, sizeof(buf)), 0);

	ASSERT_EQ(transport_write(t, up, sizeof(up) - 1),
	    (ssize_t)sizeof(up) - 1);
	read_exact(m, buf, sizeof(up) - 1);
	ASSERT(memcmp(buf, up, sizeof(up) - 1) == 0);

	ASSERT_EQ(write(m, down, sizeof(down) - 1), (ssize_t)sizeof(down) - 1);
	tread_exact(t, buf, sizeof(down) - 1);
	ASSERT(memcmp(buf, down, sizeof(down) - 1) == 0);
	ASSERT_EQ(transport_write(t, "", 0), 0);

	transport_destroy(&t);
	ASSERT_NULL(t);
	transport_destroy(&t);
	transport_destroy(NULL);
	close(m);
}

TEST(pty_hangup_is_link_gone)
{
	char path[64], err[128], buf[16];
	int m = pty_master(path, sizeof(path));
	struct transport *t = transport_open(path, 115200, err, sizeof(err));
	struct pollfd pfd;
	ssize_t r;

	ASSERT_MSG(t != NULL, "%s", err);
	ASSERT_EQ(write(m, "ok\n", 3), 3);
	tread_exact(t, buf, 3);
	close(m);
	pfd.fd = transport_fd(t);
	pfd.events = POLLIN;
	ASSERT_EQ(poll(&pfd, 1, 1000), 1);
	ASSERT(pfd.revents & (POLLHUP | POLLERR | POLLIN));
	r = transport_read(t, buf, sizeof(buf));
	ASSERT_EQ(r, -1);
	ASSERT(strcmp(transport_why(t), "no error") != 0);
	r = transport_write(t, "G0\n", 3);
	ASSERT_EQ(r, -1);
	transport_destroy(&t);
}

TEST(busy_missing_and_wrong_devices)
{
	char path[64], err[128];
	int m = pty_master(path, sizeof(path));
	struct transport *t, *t2;

	t = transport_open(path, 115200, err, sizeof(err));
	ASSERT_MSG(t != NULL, "%s", err);
	t2 = transport_open(path, 115200, err, sizeof(err));
	ASSERT_NULL(t2);
	ASSERT_STR_CONTAINS(err, "busy");
	ASSERT_STR_CONTAINS(err, path);
	transport_destroy(&t);
	/* Free again once the first closes. */
	t = transport_open(path, 115200, err, sizeof(err));
	ASSERT_MSG(t != NULL, "%s", err);
	transport_destroy(&t);

	ASSERT_NULL(transport_open("/dev/ttyNOSUCH-smp", 115200, err,
	    sizeof(err)));
	ASSERT_STR_EQ(err, "/dev/ttyNOSUCH-smp: no such device");
	ASSERT_NULL(transport_open("/dev/null", 115200, err, sizeof(err)));
	ASSERT_STR_EQ(err, "/dev/null: not a tty");
	ASSERT_NULL(transport_open("/etc/hostname", 115200, err,
	    sizeof(err)));
	ASSERT_STR_CONTAINS(err, "not a tty");
	ASSERT_NULL(transport_open(path, 12345, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "unsupported baud rate 12345");
	ASSERT_NULL(transport_open("", 115200, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "no controller port");
	ASSERT_NULL(transport_open(NULL, 115200, err, sizeof(err)));
	/* No room for the reason is fine too. */
	ASSERT_NULL(transport_open("/dev/ttyNOSUCH-smp", 115200, NULL, 0));
	close(m);
}

static int
tcp_listener(int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT(s >= 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ASSERT_EQ(listen(s, 4), 0);
	ASSERT_EQ(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return s;
}

TEST(tcp_roundtrip_and_close)
{
	char spec[64], err[128], buf[32];
	int port, ls = tcp_listener(&port), c;
	struct transport *t;

	snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
	t = transport_open(spec, 115200, err, sizeof(err));
	ASSERT_MSG(t != NULL, "%s", err);
	ASSERT_EQ(transport_kind(t), TRANSPORT_TCP);
	c = accept(ls, NULL, NULL);
	ASSERT(c >= 0);
	ASSERT_EQ(transport_read(t, buf, sizeof(buf)), 0);
	ASSERT_EQ(transport_write(t, "$I\n?", 4), 4);
	read_exact(c, buf, 4);
	ASSERT(memcmp(buf, "$I\n?", 4) == 0);
	ASSERT_EQ(write(c, "ok\r\n", 4), 4);
	tread_exact(t, buf, 4);
	ASSERT(memcmp(buf, "ok\r\n", 4) == 0);
	close(c);
	struct pollfd pfd = {transport_fd(t), POLLIN, 0};
	ASSERT_EQ(poll(&pfd, 1, 1000), 1);
	ASSERT_EQ(transport_read(t, buf, sizeof(buf)), -1);
	ASSERT_STR_EQ(transport_why(t), "end of file");
	transport_destroy(&t);

	/* localhost by name works too. */
	snprintf(spec, sizeof(spec), "tcp://localhost:%d", port);
	t = transport_open(spec, 115200, err, sizeof(err));
	ASSERT_MSG(t != NULL, "%s", err);
	transport_destroy(&t);
	close(ls);
}

TEST(tcp_refused_and_bad_specs)
{
	char spec[64], err[128];
	int port, ls = tcp_listener(&port);

	close(ls);   /* nobody listens there now */
	snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
	ASSERT_NULL(transport_open(spec, 115200, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "refused");
	ASSERT_STR_CONTAINS(err, spec);
	ASSERT_NULL(transport_open("tcp://127.0.0.1", 115200, err,
	    sizeof(err)));
	ASSERT_STR_CONTAINS(err, "expected tcp://host:port");
	ASSERT_NULL(transport_open("tcp://:23", 115200, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "expected tcp://host:port");
	ASSERT_NULL(transport_open("tcp://h:70000", 115200, err,
	    sizeof(err)));
	ASSERT_NULL(transport_open("tcp://h:2x", 115200, err, sizeof(err)));
	ASSERT_NULL(transport_open("tcp://[::1:23", 115200, err,
	    sizeof(err)));
}

TEST(list_ports)
{
	char *s = transport_list_ports();

	/* A container may have no serial port at all: an empty list is
	 * still a list, and each line has its tab. */
	ASSERT_NOT_NULL(s);
	for (char *line = s; *line; line = strchr(line, '\n') + 1) {
		ASSERT_NOT_NULL(strchr(line, '\n'));
		ASSERT(memchr(line, '\t', (size_t)(strchr(line, '\n') - line))
		    != NULL);
	}
	free(s);
}

TEST_MAIN()
