/*
 * Byte transports to a controller behind one interface: serial devices
 * through libserialport, pseudo-terminals and ttys that libserialport cannot
 * drive through termios (its port lookup needs /sys/class/tty and its open
 * issues modem-line ioctls a pty rejects), and TCP for network-attached
 * controllers (tcp://host:port, ser2net). Every transport is non-blocking and
 * exposes a file descriptor for the caller's poll loop.
 */
#ifndef SMP_DRIVERS_TRANSPORT_H
#define SMP_DRIVERS_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

struct transport;

enum transport_kind { TRANSPORT_SERIAL, TRANSPORT_TERMIOS, TRANSPORT_TCP };

/*
 * Opens spec: "tcp://host:port", or a device path. A path that libserialport
 * knows is opened through it; any other tty or pty through termios (raw,
 * 8N1, no flow control, at baud). Returns NULL with a one-line reason in err
 * (missing, busy, not a tty, refused, ...). Never blocks longer than a TCP
 * connect to loopback or a serial open.
 */
struct transport *transport_open(const char *spec, int baud, char *err,
    size_t errlen);
/* Closes and frees; accepts NULL; sets *t to NULL. */
void transport_destroy(struct transport **t);

/* The descriptor to poll for reading (and writing when output is pending). */
int transport_fd(const struct transport *t);
enum transport_kind transport_kind(const struct transport *t);

/* Non-blocking read: bytes read (> 0), 0 if nothing is available now, -1 if
 * the link is gone (EOF, hang-up, I/O error; errno says which). */
ssize_t transport_read(struct transport *t, void *buf, size_t len);
/* Non-blocking write: bytes written (possibly fewer than len, possibly 0),
 * or -1 if the link is gone. */
ssize_t transport_write(struct transport *t, const void *buf, size_t len);

/* Why the link is gone, after transport_read/transport_write returned -1
 * ("end of file", "read: Input/output error", ...). Extension. */
const char *transport_why(const struct transport *t);

/*
 * Lists the serial ports libserialport sees, one "name\tdescription" line
 * each, into a newly allocated string the caller frees. NULL on failure.
 */
char *transport_list_ports(void);

#endif /* SMP_DRIVERS_TRANSPORT_H */
