/*
 * Byte transports to a controller (see transport.h). Three ways in, one way
 * out: whatever opened the descriptor, reading and writing go through plain
 * non-blocking read()/write() on it, because that is the only way to tell
 * "nothing yet" (EAGAIN) from "the device is gone" (EOF, EIO, hang-up), which
 * libserialport's non-blocking calls fold together. libserialport opens and
 * configures real serial ports (it knows their quirks and lists them);
 * termios opens ptys and the ttys libserialport cannot see; TCP reaches a
 * network-attached controller or ser2net.
 *
 * Every open takes an exclusive flock() on the device so that two daemons
 * can never stream to one machine at once.
 */
#include "drivers/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define TCP_CONNECT_TIMEOUT_MS 1000

struct transport {
	enum transport_kind kind;
	int fd;
	struct sp_port *sp;     /* TRANSPORT_SERIAL only; owns fd */
	char why[128];          /* why the link is gone, once it is */
};

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

static speed_t
baud_speed(int baud)
{
	switch (baud) {
	case 9600: return B9600;
	case 19200: return B19200;
	case 38400: return B38400;
	case 57600: return B57600;
	case 115200: return B115200;
	case 230400: return B230400;
	case 460800: return B460800;
	case 500000: return B500000;
	case 921600: return B921600;
	case 1000000: return B1000000;
	case 2000000: return B2000000;
	}
	return 0;
}

static struct transport *
transport_alloc(enum transport_kind kind)
{
	struct transport *t = calloc(1, sizeof(*t));

	if (t != NULL) {
		t->kind = kind;
		t->fd = -1;
	}
	return t;
}

/* Takes the device for ourselves, or says who has it. */
static int
lock_device(int fd, const char *path, char *err, size_t errlen)
{
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		seterr(err, errlen, "%s: busy (another program has it open)",
		    path);
	else
		seterr(err, errlen, "%s: lock: %s", path, strerror(errno));
	return -1;
}

static struct transport *
open_termios(const char *path, int baud, char *err, size_t errlen)
{
	struct transport *t = NULL;
	struct termios tio;
	speed_t sp = baud_speed(baud);

	if (sp == 0) {
		seterr(err, errlen, "%s: unsupported baud rate %d", path, baud);
		goto fail;
	}
	if ((t = transport_alloc(TRANSPORT_TERMIOS)) == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if ((t->fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) <
	    0) {
		seterr(err, errlen, "%s: %s", path,
		    errno == EBUSY ? "busy" : strerror(errno));
		goto fail;
	}
	if (!isatty(t->fd)) {
		seterr(err, errlen, "%s: not a tty", path);
		goto fail;
	}
	if (lock_device(t->fd, path, err, errlen) < 0)
		goto fail;
	if (tcgetattr(t->fd, &tio) < 0) {
		seterr(err, errlen, "%s: tcgetattr: %s", path, strerror(errno));
		goto fail;
	}
	/* Raw 8N1, no flow control of any kind, reads never wait. */
	cfmakeraw(&tio);
	tio.c_cflag &= ~(CSTOPB | PARENB | CRTSCTS | CSIZE);
	tio.c_cflag |= CS8 | CLOCAL | CREAD;
	tio.c_iflag &= ~(IXON | IXOFF | IXANY);
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	if (cfsetispeed(&tio, sp) < 0 || cfsetospeed(&tio, sp) < 0 ||
	    tcsetattr(t->fd, TCSANOW, &tio) < 0) {
		seterr(err, errlen, "%s: tcsetattr: %s", path, strerror(errno));
		goto fail;
	}
	return t;
fail:
	transport_destroy(&t);
	return NULL;
}

static const char *
sp_why(void)
{
	static char buf[128];
	char *msg = sp_last_error_message();

	snprintf(buf, sizeof(buf), "%s", msg ? msg : "unknown error");
	sp_free_error_message(msg);
	return buf;
}

static struct transport *
open_serial(struct sp_port *port, const char *path, int baud, char *err,
    size_t errlen)
{
	struct transport *t = NULL;

	if ((t = transport_alloc(TRANSPORT_SERIAL)) == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		sp_free_port(port);
		goto fail;
	}
	t->sp = port;
	if (sp_open(port, SP_MODE_READ_WRITE) != SP_OK) {
		seterr(err, errlen, "%s: %s", path,
		    errno == EBUSY ? "busy" : sp_why());
		goto fail;
	}
	if (sp_get_port_handle(port, &t->fd) != SP_OK) {
		seterr(err, errlen, "%s: no descriptor: %s", path, sp_why());
		t->fd = -1;
		goto fail;
	}
	if (lock_device(t->fd, path, err, errlen) < 0)
		goto fail;
	if (sp_set_baudrate(port, baud) != SP_OK ||
	    sp_set_bits(port, 8) != SP_OK ||
	    sp_set_parity(port, SP_PARITY_NONE) != SP_OK ||
	    sp_set_stopbits(port, 1) != SP_OK ||
	    sp_set_flowcontrol(port, SP_FLOWCONTROL_NONE) != SP_OK) {
		seterr(err, errlen, "%s: configure %d 8N1: %s", path, baud,
		    sp_why());
		goto fail;
	}
	if (set_nonblock(t->fd) < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return t;
fail:
	transport_destroy(&t);
	return NULL;
}

/* Splits "host:port" (host may be "[v6]"). */
static int
split_hostport(const char *s, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		n = (size_t)(close - s - 1);
		s++;
		colon = close + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hostlen || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= portlen)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	if (strlen(port) > 5)
		return -1;
	long v = 0;
	for (const char *p = port; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v > 0 && v < 65536 ? 0 : -1;
}

static struct transport *
open_tcp(const char *spec, char *err, size_t errlen)
{
	struct transport *t = NULL;
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[8];
	int rc, soerr, one = 1;
	socklen_t sl;
	struct pollfd pfd;

	if (split_hostport(spec + 6, host, sizeof(host), port,
	    sizeof(port)) < 0) {
		seterr(err, errlen, "%s: expected tcp://host:port", spec);
		goto fail;
	}
	if ((t = transport_alloc(TRANSPORT_TCP)) == NULL) {
		seterr(err, errlen, "%s: out of memory", spec);
		goto fail;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		seterr(err, errlen, "%s: %s", spec, gai_strerror(rc));
		goto fail;
	}
	seterr(err, errlen, "%s: no address", spec);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		t->fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (t->fd < 0) {
			seterr(err, errlen, "%s: socket: %s", spec,
			    strerror(errno));
			continue;
		}
		if (connect(t->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			/* Bounded wait: loopback and LAN answer at once; a
			 * dead host costs one short stall, then the caller's
			 * backoff. */
			pfd.fd = t->fd;
			pfd.events = POLLOUT;
			rc = poll(&pfd, 1, TCP_CONNECT_TIMEOUT_MS);
			sl = sizeof(soerr);
			if (rc == 1 && getsockopt(t->fd, SOL_SOCKET, SO_ERROR,
			    &soerr, &sl) == 0 && soerr == 0)
				break;
			errno = rc == 0 ? ETIMEDOUT : (rc == 1 ? soerr : errno);
		}
		seterr(err, errlen, "%s: connect: %s", spec, strerror(errno));
		close(t->fd);
		t->fd = -1;
	}
	if (t->fd < 0)
		goto fail;
	/* Real-time bytes must not wait for Nagle. */
	setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	freeaddrinfo(res);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	return t;
fail:
	if (res != NULL)
		freeaddrinfo(res);
	transport_destroy(&t);
	return NULL;
}

struct transport *
transport_open(const char *spec, int baud, char *err, size_t errlen)
{
	struct sp_port *port = NULL;
	struct stat sb;

	if (spec == NULL || spec[0] == '\0') {
		seterr(err, errlen, "no controller port configured");
		return NULL;
	}
	if (strncmp(spec, "tcp://", 6) == 0)
		return open_tcp(spec, err, errlen);
	if (stat(spec, &sb) < 0) {
		seterr(err, errlen, "%s: %s", spec,
		    errno == ENOENT ? "no such device" : strerror(errno));
		return NULL;
	}
	if (!S_ISCHR(sb.st_mode)) {
		seterr(err, errlen, "%s: not a tty", spec);
		return NULL;
	}
	if (baud_speed(baud) == 0) {
		seterr(err, errlen, "%s: unsupported baud rate %d", spec, baud);
		return NULL;
	}
	/* libserialport finds only real ports (it needs /sys/class/tty);
	 * ptys and the rest go through termios. */
	if (sp_get_port_by_name(spec, &port) == SP_OK)
		return open_serial(port, spec, baud, err, errlen);
	return open_termios(spec, baud, err, errlen);
}

void
transport_destroy(struct transport **tp)
{
	struct transport *t;

	if (tp == NULL || (t = *tp) == NULL)
		return;
	if (t->sp != NULL) {
		/* sp_close closes the descriptor and drops the lock. */
		sp_close(t->sp);
		sp_free_port(t->sp);
	} else if (t->fd >= 0) {
		close(t->fd);
	}
	free(t);
	*tp = NULL;
}

int
transport_fd(const struct transport *t)
{
	return t->fd;
}

enum transport_kind
transport_kind(const struct transport *t)
{
	return t->kind;
}

const char *
transport_why(const struct transport *t)
{
	return t->why[0] ? t->why : "no error";
}

ssize_t
transport_read(struct transport *t, void *buf, size_t len)
{
	ssize_t n;

	for (;;) {
		n = read(t->fd, buf, len);
		if (n > 0)
			return n;
		if (n == 0) {
			/* A tty read with VMIN=0 returns 0 when nothing is
			 * there, not only at EOF; poll tells them apart. */
			if (t->kind != TRANSPORT_TCP) {
				struct pollfd pfd = {t->fd, POLLIN, 0};
				if (poll(&pfd, 1, 0) <= 0 ||
				    !(pfd.revents & (POLLHUP | POLLERR)))
					return 0;
			}
			snprintf(t->why, sizeof(t->why), "end of file");
			errno = ECONNRESET;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		snprintf(t->why, sizeof(t->why), "read: %s", strerror(errno));
		return -1;
	}
}

ssize_t
transport_write(struct transport *t, const void *buf, size_t len)
{
	ssize_t n;

	if (len == 0)
		return 0;
	for (;;) {
		if (t->kind == TRANSPORT_TCP)
			n = send(t->fd, buf, len, MSG_NOSIGNAL);
		else
			n = write(t->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		snprintf(t->why, sizeof(t->why), "write: %s", strerror(errno));
		return -1;
	}
}

char *
transport_list_ports(void)
{
	struct sp_port **ports = NULL;
	char *out = NULL, *p;
	size_t cap = 1, used = 0;
	int i, n;

	if (sp_list_ports(&ports) != SP_OK)
		return NULL;
	for (i = 0; ports[i] != NULL; i++) {
		const char *d = sp_get_port_description(ports[i]);
		cap += strlen(sp_get_port_name(ports[i])) +
		    strlen(d ? d : "") + 2;
	}
	if ((out = malloc(cap)) == NULL)
		goto done;
	out[0] = '\0';
	for (i = 0; ports[i] != NULL; i++) {
		const char *d = sp_get_port_description(ports[i]);
		p = out + used;
		n = snprintf(p, cap - used, "%s\t%s\n",
		    sp_get_port_name(ports[i]), d ? d : "");
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
done:
	sp_free_port_list(ports);
	return out;
}
