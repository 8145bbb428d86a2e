/*
 * The ZAP handler (ZeroMQ RFC 27): the REP socket at
 * inproc://zeromq.zap.01 that libzmq asks, during every CURVE handshake on a
 * socket of the same context, whether the client's public key may connect.
 * It runs inside the daemon's single loop (its socket is one more poll item),
 * not in a thread of its own. Each ZAP domain ("smpd-control",
 * "smpd-status") has its own allowlist; a request for an unknown domain, a
 * mechanism other than CURVE, or a key not on the list is denied (status 400)
 * and libzmq then drops the connection before any message gets through.
 *
 * libzmq allows one handler per context, so the handler is shared: zap_get()
 * creates it for a context the first time and counts references after.
 * Main loop only.
 */
#ifndef SMP_DAEMON_ZAP_H
#define SMP_DAEMON_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZAP_DOMAIN_CONTROL "smpd-control"
#define ZAP_DOMAIN_STATUS "smpd-status"

struct zap;

/* The handler of zctx, bound on first use. NULL with the reason in err. */
struct zap *zap_get(void *zctx, char *err, size_t errlen);
/* Drops a reference; the last one closes the socket. Accepts NULL. */
void zap_put(struct zap **z);

/* Sets (or replaces, on reload) the allowlist of a domain from a directory
 * of key files (keys.h). keys_dir "" or NULL means any client that completes
 * the CURVE handshake (it knows the server's public key) is accepted:
 * encryption without client authentication, meant for status only. On
 * failure -1 with "file:line: reason" in err, and the old list is kept. */
int zap_set_domain(struct zap *z, const char *domain, const char *keys_dir,
    char *err, size_t errlen);
/* Forgets a domain: its clients are denied from then on. */
void zap_remove_domain(struct zap *z, const char *domain);
/* Allowed keys in a domain (0 when open or unknown). */
size_t zap_domain_count(const struct zap *z, const char *domain);

/* Checks a message's "User-Id" property (the Z85 public key the ZAP
 * handler approved) against the domain's current list: the client's name
 * (its key file's base name), or NULL when the key is no longer allowed. */
const char *zap_allowed(const struct zap *z, const char *domain,
    const char *user_id);

/* The REP socket to poll for ZMQ_POLLIN. */
void *zap_socket(struct zap *z);
/* Answers every request waiting, never blocking. Returns how many were
 * answered, or -1 on a socket error. */
int zap_handle(struct zap *z);
/* Requests denied so far (for the log and the tests). */
uint64_t zap_denied(const struct zap *z);

#endif /* SMP_DAEMON_ZAP_H */
