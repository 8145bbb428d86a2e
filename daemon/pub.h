/*
 * The status endpoint: a ZeroMQ XPUB socket publishing JSON on topics
 * "status", "event", "dot" and "log". Every message is two frames, the topic
 * and one JSON object to which this module adds "seq" (per topic, so a
 * subscriber sees gaps), "ts" (wall time, s), "schema" and "machine". Sends
 * never block: a slow subscriber loses messages (visible through seq), never
 * slows the daemon. XPUB shows new subscriptions so that the caller can
 * publish a full snapshot at once. Main loop only.
 */
#ifndef SMP_DAEMON_PUB_H
#define SMP_DAEMON_PUB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define PUB_SCHEMA 1

struct pub_opts {
	const char *const *endpoints;
	size_t n_endpoints;
	bool curve;
	const char *server_secret_key;
	const char *client_keys_dir;
	int ipc_mode;
	const char *ipc_group;
	int send_hwm;
	const char *machine_id;
};

struct pub;

struct pub *pub_new(void *zctx, const struct pub_opts *opts, char *err,
    size_t errlen);
void pub_destroy(struct pub **p);

int pub_pollitems(struct pub *p, zmq_pollitem_t *items, int max);
/* Reads subscription messages; returns how many new subscriptions arrived
 * (the caller then publishes a snapshot). */
int pub_handle(struct pub *p);

/* Publishes obj (stolen) on topic, adding seq/ts/schema/machine. 0, or -1
 * if it was dropped (counted). */
int pub_send(struct pub *p, const char *topic, json_t *obj);
/* Messages dropped so far because a send would have blocked. */
uint64_t pub_dropped(const struct pub *p);

/* With curve: re-reads the status allowlist (SIGHUP). Applies to new
 * connections; a subscriber already connected keeps its stream until it
 * reconnects (XPUB cannot filter per subscriber). 0, or -1 with the old list
 * kept and the reason in err. Without curve: 0. */
int pub_reload_keys(struct pub *p, char *err, size_t errlen);

#endif /* SMP_DAEMON_PUB_H */
