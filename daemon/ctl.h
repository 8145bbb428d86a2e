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
	char client[48];               /* who: allowed key name, or "local" */
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
/* Reads the messages waiting (call it when any item from ctl_pollitems is
 * readable; it never blocks and also serves the ZAP handler), answers the
 * bad ones and calls h for each valid request. h must answer during the
 * call, exactly once, with ctl_reply_ok/ctl_reply_err (a long operation
 * answers at once and reports its end on the event topic); if it does not,
 * "failed" is sent for it. Returns the number of messages read, -1 on a
 * socket error. */
int ctl_dispatch(struct ctl *c, ctl_handler h, void *arg);

/* Replies {"id":..,"ok":true, ...fields}; fields (may be NULL) is stolen. */
int ctl_reply_ok(struct ctl *c, const struct ctl_request *req,
    json_t *fields);
/* Replies {"id":..,"ok":false,"error":{"code":code,"message":...}}. */
int ctl_reply_err(struct ctl *c, const struct ctl_request *req,
    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Re-reads the client key directory (SIGHUP). 0 or -1 (old list kept;
 * ctl_reload_error() says which file and line). */
int ctl_reload_keys(struct ctl *c);
/* Why the last ctl_reload_keys failed ("" after a success). */
const char *ctl_reload_error(const struct ctl *c);
/* Allowed clients on the list now (0 without curve), for the log. */
size_t ctl_allowed_count(const struct ctl *c);

const char *ctl_cmd_name(enum ctl_cmd cmd);

/* The error codes of a reply (docs/protocol.md). The first group is sent by
 * this module for a request that fails validation; the handler uses the
 * second group. */
#define CTL_E_TOO_LARGE "too_large"         /* over max_message_bytes */
#define CTL_E_BAD_FRAMES "bad_frames"       /* not one payload frame */
#define CTL_E_BAD_JSON "bad_json"           /* not UTF-8 JSON / not object */
#define CTL_E_UNKNOWN_CMD "unknown_cmd"
#define CTL_E_MISSING_FIELD "missing_field"
#define CTL_E_UNKNOWN_FIELD "unknown_field"
#define CTL_E_BAD_FIELD "bad_field"         /* wrong type or value */
#define CTL_E_REFUSED "refused"             /* not allowed in this state */
#define CTL_E_NOT_FOUND "not_found"         /* file, dot id... */
#define CTL_E_BUSY "busy"                   /* another operation runs */
#define CTL_E_BAD_PLAN "bad_plan"           /* plan rejected (line, col) */
#define CTL_E_FAILED "failed"               /* anything else */

/* Checks one endpoint: ipc://, tcp:// (loopback only unless curve) or
 * inproc://. 0, or -1 with the reason in err. Used by ctl_new and smpd -n. */
int ctl_endpoint_check(const char *endpoint, bool curve, char *err,
    size_t errlen);

/* Binds sock to endpoint; an ipc:// socket file gets mode (0 = 0660) and
 * group ("" or NULL = unchanged) before any client can connect. 0 or -1 with
 * the reason in err. pub.c binds with it too. */
int ctl_bind(void *sock, const char *endpoint, int ipc_mode,
    const char *ipc_group, char *err, size_t errlen);

/* The ipc:// socket files one socket made, removed when it closes. */
struct ctl_bound {
	char **ipc_paths;
	size_t n_ipc;
};
/* Binds sock to every endpoint with ctl_bind, remembering in b the ipc
 * files it creates. 0 or -1 with the reason in err (what was bound stays
 * in b for ctl_bound_close). Used by ctl_new and pub_new. */
int ctl_bind_all(void *sock, const char *const *endpoints, size_t n,
    int ipc_mode, const char *ipc_group, struct ctl_bound *b, char *err,
    size_t errlen);
/* Removes the ipc files of b and frees it; accepts an empty b. */
void ctl_bound_close(struct ctl_bound *b);
/* Poll items for sock and, when not NULL, the ZAP handler's socket. */
int ctl_sock_pollitems(void *sock, void *zap_sock, zmq_pollitem_t *items,
    int max);

/* Validation without sockets (ctl_dispatch uses it; the fuzzer drives it). */
struct ctl_parsed {
	enum ctl_cmd cmd;
	json_t *req;          /* the request object (owned), NULL if bad */
	json_t *id;           /* the id (owned reference) or NULL if none */
	const char *code;     /* CTL_E_... when bad, else NULL */
	char message[256];    /* names the faulty field or byte offset */
};
/* Validates one request payload of len bytes: size bound, UTF-8 JSON
 * object, "id" scalar, known "cmd", known fields of the right types. 0 with
 * out->req set, or -1 with out->code/message set (out->id holds the id when
 * one could be read, so the error reply can echo it). Always release out
 * with ctl_parsed_clear(). Pure: no I/O, no global state. */
int ctl_parse(const void *buf, size_t len, size_t max_bytes,
    struct ctl_parsed *out);
void ctl_parsed_clear(struct ctl_parsed *p);

#endif /* SMP_DAEMON_CTL_H */
