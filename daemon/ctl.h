/*
 * The control endpoint: a ZeroMQ ROUTER socket taking JSON requests
 * ({"id": 7, "cmd": "start", ...}) and answering each with exactly one JSON
 * reply. This module owns the socket, the CurveZMQ/ZAP allowlist and the
 * validation of every request (size bound, JSON, known command, known fields
 * of the right types); only a request that passed reaches the caller's
 * handler, which answers it with ctl_reply_ok()/ctl_reply_err(). A malformed
 * request is answered here and changes nothing. Main loop only.
 */
#ifndef SMP_DAEMON_CTL_H
#define SMP_DAEMON_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

enum ctl_cmd {
	CTL_PING = 0,
	CTL_STATUS,
	CTL_LOAD,           /* "plan": path, or "text" + "format" (csv|json) */
	CTL_PREFLIGHT,
	CTL_HOME,
	CTL_SET_ORIGIN,     /* optional "wco": [x, y, z] machine coords of work 0 */
	CTL_JOG,            /* "x"/"y"/"z" (mm), optional "feed", "relative" */
	CTL_START,
	CTL_PAUSE,
	CTL_RESUME,
	CTL_ABORT,
	CTL_HEARTBEAT,
	CTL_ACK_UNCERTAIN,  /* optional "ids": [int...] (default all) */
	CTL_LIST_UNCERTAIN,
	CTL_REDO,           /* "ids": [int...], uncertain dots only */
	CTL_CONFIG,
	CTL_UNLOCK,         /* `$X` after an alarm, explicit operator act */
	CTL_CMD_COUNT
};

struct ctl_opts {
	const char *const *endpoints;  /* "ipc://...", "tcp://..." */
	size_t n_endpoints;
	bool curve;                    /* CurveZMQ + ZAP allowlist */
	const char *server_secret_key; /* key file (smpctl keygen) */
	const char *client_keys_dir;   /* allowed client public keys */
	int ipc_mode;                  /* e.g. 0660 */
	const char *ipc_group;         /* "" = leave the group alone */
	size_t max_message_bytes;
};

/* A request that passed validation. args is the whole request object
 * (borrowed; valid during the handler call only). */
struct ctl_request {
	enum ctl_cmd cmd;
	const char *cmd_name;
	json_t *id;                    /* the client's id, echoed in the reply */
	json_t *args;
	char client[48];               /* who: key fingerprint or "local" */
	void *route_;                  /* private: the ROUTER identity */
};

struct ctl;

typedef void (*ctl_handler)(void *arg, struct ctl *c,
    const struct ctl_request *req);

/* Binds every endpoint (refusing a non-loopback tcp:// without curve) and
 * starts the ZAP handler. NULL with a reason in err. */
struct ctl *ctl_new(void *zctx, const struct ctl_opts *opts, char *err,
    size_t errlen);
void ctl_destroy(struct ctl **c);

/* Fills up to max poll items (sockets to poll for ZMQ_POLLIN); returns the
 * count. */
int ctl_pollitems(struct ctl *c, zmq_pollitem_t *items, int max);
/* Reads the messages waiting (after poll said so), answers the bad ones and
 * calls h for each valid request. Returns the number of requests read. */
int ctl_dispatch(struct ctl *c, ctl_handler h, void *arg);

/* Replies {"id":..,"ok":true, ...fields}; fields (may be NULL) is stolen. */
int ctl_reply_ok(struct ctl *c, const struct ctl_request *req,
    json_t *fields);
/* Replies {"id":..,"ok":false,"error":{"code":code,"message":...}}. */
int ctl_reply_err(struct ctl *c, const struct ctl_request *req,
    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Re-reads the client key directory (SIGHUP). 0 or -1 (old list kept). */
int ctl_reload_keys(struct ctl *c);

const char *ctl_cmd_name(enum ctl_cmd cmd);

#endif /* SMP_DAEMON_CTL_H */
