/*
 * The control endpoint (see ctl.h). Everything a client sends is hostile
 * until proved otherwise: the envelope is checked frame by frame, the
 * payload is bounded before it is parsed, parsed by jansson (which rejects
 * invalid UTF-8, NUL escapes and, with our flags, duplicate keys) and then
 * checked against a per-command schema table. Only then does the daemon's
 * handler see it. The schema table is the one place that says which fields a
 * command takes; docs/protocol.md mirrors it.
 *
 * With curve on, the socket is a CURVE server in ZAP domain "smpd-control"
 * with domain enforcement, so libzmq drops any client the ZAP handler (zap.c,
 * polled in the same loop) does not approve, and a missing handler means
 * nobody gets in, not everybody.
 */
#include "daemon/ctl.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/keys.h"
#include "daemon/zap.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93   /* libzmq >= 4.3, DRAFT in zmq.h */
#endif

#define CTL_DEFAULT_MAX_BYTES (1024 * 1024)
#define CTL_BATCH 64         /* messages per dispatch, so timers still run */
#define CTL_MAX_IDS 100000   /* dot ids in one ack-uncertain/redo */

/* ------------------------------------------------------------------ */
/* The schema table. */

enum ctl_ftype {
	F_STRING,     /* non-empty string */
	F_NUMBER,     /* integer or real */
	F_BOOL,
	F_VEC3,       /* [x, y, z] numbers */
	F_IDS         /* [int, ...], non-empty */
};

struct ctl_field {
	const char *name;
	enum ctl_ftype type;
	bool required;
};

#define CTL_MAX_FIELDS 6

struct ctl_schema {
	const char *name;
	struct ctl_field fields[CTL_MAX_FIELDS];
};

/* Indexed by enum ctl_cmd. */
static const struct ctl_schema ctl_schemas[CTL_CMD_COUNT] = {
	[CTL_PING] = { "ping", { { 0 } } },
	[CTL_STATUS] = { "status", { { 0 } } },
	[CTL_LOAD] = { "load", {
		{ "plan", F_STRING, false },
		{ "text", F_STRING, false },
		{ "format", F_STRING, false } } },
	[CTL_PREFLIGHT] = { "preflight", { { 0 } } },
	[CTL_HOME] = { "home", { { 0 } } },
	[CTL_SET_ORIGIN] = { "set-origin", {
		{ "wco", F_VEC3, false } } },
	[CTL_JOG] = { "jog", {
		{ "x", F_NUMBER, false },
		{ "y", F_NUMBER, false },
		{ "z", F_NUMBER, false },
		{ "feed", F_NUMBER, false },
		{ "relative", F_BOOL, false } } },
	[CTL_START] = { "start", { { 0 } } },
	[CTL_PAUSE] = { "pause", { { 0 } } },
	[CTL_RESUME] = { "resume", { { 0 } } },
	[CTL_ABORT] = { "abort", { { 0 } } },
	[CTL_HEARTBEAT] = { "heartbeat", { { 0 } } },
	[CTL_ACK_UNCERTAIN] = { "ack-uncertain", {
		{ "ids", F_IDS, false } } },
	[CTL_LIST_UNCERTAIN] = { "list-uncertain", { { 0 } } },
	[CTL_REDO] = { "redo", {
		{ "ids", F_IDS, true } } },
	[CTL_CONFIG] = { "config", { { 0 } } },
	[CTL_UNLOCK] = { "unlock", { { 0 } } },
};

const char *
ctl_cmd_name(enum ctl_cmd cmd)
{
	if ((int)cmd < 0 || cmd >= CTL_CMD_COUNT)
		return "?";
	return ctl_schemas[cmd].name;
}

static const char *
ctl_type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

static int
ctl_fail(struct ctl_parsed *p, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
ctl_fail(struct ctl_parsed *p, const char *code, const char *fmt, ...)
{
	va_list ap;

	p->code = code;
	va_start(ap, fmt);
	vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int
ctl_check_field(struct ctl_parsed *p, const struct ctl_field *f, json_t *v)
{
	size_t i;
	json_t *e;

	switch (f->type) {
	case F_STRING:
		if (!json_is_string(v))
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"%s\": "
			    "expected a string, got %s", f->name,
			    ctl_type_name(v));
		if (json_string_length(v) == 0)
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"%s\": "
			    "empty string", f->name);
		return 0;
	case F_NUMBER:
		if (!json_is_number(v))
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"%s\": "
			    "expected a number, got %s", f->name,
			    ctl_type_name(v));
		return 0;
	case F_BOOL:
		if (!json_is_boolean(v))
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"%s\": "
			    "expected true or false, got %s", f->name,
			    ctl_type_name(v));
		return 0;
	case F_VEC3:
		if (!json_is_array(v) || json_array_size(v) != 3)
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"%s\": "
			    "expected [x, y, z], got %s", f->name,
			    json_is_array(v) ? "an array of another size" :
			    ctl_type_name(v));
		json_array_foreach(v, i, e) {
			if (!json_is_number(e))
				return ctl_fail(p, CTL_E_BAD_FIELD,
				    "field \"%s\"[%zu]: expected a number, "
				    "got %s", f->name, i, ctl_type_name(e));
		}
		return 0;
	case F_IDS:
		if (!json_is_array(v))
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"%s\": "
			    "expected an array of dot ids, got %s", f->name,
			    ctl_type_name(v));
		if (json_array_size(v) == 0)
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"%s\": "
			    "empty list", f->name);
		if (json_array_size(v) > CTL_MAX_IDS)
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"%s\": "
			    "more than %d ids", f->name, CTL_MAX_IDS);
		json_array_foreach(v, i, e) {
			if (!json_is_integer(e))
				return ctl_fail(p, CTL_E_BAD_FIELD,
				    "field \"%s\"[%zu]: expected an integer "
				    "dot id, got %s", f->name, i,
				    ctl_type_name(e));
		}
		return 0;
	}
	return ctl_fail(p, CTL_E_FAILED, "internal: field type");
}

/* Rules that tie fields together, beyond the table. */
static int
ctl_check_rules(struct ctl_parsed *p)
{
	json_t *r = p->req, *plan, *text, *format, *v;

	switch (p->cmd) {
	case CTL_LOAD:
		plan = json_object_get(r, "plan");
		text = json_object_get(r, "text");
		format = json_object_get(r, "format");
		if (plan == NULL && text == NULL)
			return ctl_fail(p, CTL_E_MISSING_FIELD, "load needs "
			    "\"plan\" (a path) or \"text\" (the plan itself)");
		if (plan != NULL && text != NULL)
			return ctl_fail(p, CTL_E_BAD_FIELD, "load takes "
			    "\"plan\" or \"text\", not both");
		if (plan != NULL && json_string_value(plan)[0] != '/')
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"plan\": "
			    "must be an absolute path (the daemon's working "
			    "directory is not yours)");
		if (plan != NULL && json_string_length(plan) >= PATH_MAX)
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"plan\": "
			    "path too long");
		if (plan != NULL && strlen(json_string_value(plan)) !=
		    json_string_length(plan))
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"plan\": "
			    "contains NUL");
		if (format != NULL && text == NULL)
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"format\": "
			    "only with \"text\" (a file's format comes from "
			    "its name)");
		if (format != NULL &&
		    strcmp(json_string_value(format), "csv") != 0 &&
		    strcmp(json_string_value(format), "json") != 0)
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"format\": "
			    "expected \"csv\" or \"json\"");
		return 0;
	case CTL_JOG:
		if (json_object_get(r, "x") == NULL &&
		    json_object_get(r, "y") == NULL &&
		    json_object_get(r, "z") == NULL)
			return ctl_fail(p, CTL_E_MISSING_FIELD, "jog needs at "
			    "least one of \"x\", \"y\", \"z\"");
		v = json_object_get(r, "feed");
		if (v != NULL && !(json_number_value(v) > 0))
			return ctl_fail(p, CTL_E_BAD_FIELD, "field \"feed\": "
			    "must be > 0 mm/min");
		return 0;
	default:
		return 0;
	}
}

int
ctl_parse(const void *buf, size_t len, size_t max_bytes,
    struct ctl_parsed *p)
{
	json_error_t jerr;
	json_t *cmdv;
	const char *key, *name;
	json_t *v;
	int i, k;
	const struct ctl_schema *s;

	memset(p, 0, sizeof(*p));
	if (max_bytes == 0)
		max_bytes = CTL_DEFAULT_MAX_BYTES;
	if (len > max_bytes)
		return ctl_fail(p, CTL_E_TOO_LARGE, "request of %zu bytes, "
		    "the limit is %zu", len, max_bytes);
	if (len == 0)
		return ctl_fail(p, CTL_E_BAD_JSON, "empty request");
	p->req = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (p->req == NULL)
		return ctl_fail(p, CTL_E_BAD_JSON, "byte %d (line %d, column "
		    "%d): %s", jerr.position, jerr.line, jerr.column,
		    jerr.text);
	if (!json_is_object(p->req)) {
		ctl_fail(p, CTL_E_BAD_JSON, "expected a JSON object, got %s",
		    ctl_type_name(p->req));
		goto fail;
	}
	v = json_object_get(p->req, "id");
	if (v != NULL && (json_is_object(v) || json_is_array(v))) {
		ctl_fail(p, CTL_E_BAD_FIELD, "field \"id\": expected a "
		    "string, number, boolean or null, got %s",
		    ctl_type_name(v));
		goto fail;
	}
	if (v != NULL)
		p->id = json_incref(v);
	if (v == NULL) {
		ctl_fail(p, CTL_E_MISSING_FIELD, "missing field \"id\" (any "
		    "value, echoed in the reply)");
		goto fail;
	}
	cmdv = json_object_get(p->req, "cmd");
	if (cmdv == NULL) {
		ctl_fail(p, CTL_E_MISSING_FIELD, "missing field \"cmd\"");
		goto fail;
	}
	if (!json_is_string(cmdv)) {
		ctl_fail(p, CTL_E_BAD_FIELD, "field \"cmd\": expected a "
		    "string, got %s", ctl_type_name(cmdv));
		goto fail;
	}
	name = json_string_value(cmdv);
	for (i = 0; i < CTL_CMD_COUNT; i++)
		if (strlen(name) == json_string_length(cmdv) &&
		    strcmp(name, ctl_schemas[i].name) == 0)
			break;
	if (i == CTL_CMD_COUNT) {
		ctl_fail(p, CTL_E_UNKNOWN_CMD, "unknown command \"%.64s\"",
		    name);
		goto fail;
	}
	p->cmd = (enum ctl_cmd)i;
	s = &ctl_schemas[i];
	json_object_foreach(p->req, key, v) {
		if (strcmp(key, "id") == 0 || strcmp(key, "cmd") == 0)
			continue;
		for (k = 0; k < CTL_MAX_FIELDS && s->fields[k].name; k++)
			if (strcmp(key, s->fields[k].name) == 0)
				break;
		if (k == CTL_MAX_FIELDS || s->fields[k].name == NULL) {
			ctl_fail(p, CTL_E_UNKNOWN_FIELD, "%s takes no field "
			    "\"%.64s\"", s->name, key);
			goto fail;
		}
		if (ctl_check_field(p, &s->fields[k], v) < 0)
			goto fail;
	}
	for (k = 0; k < CTL_MAX_FIELDS && s->fields[k].name; k++)
		if (s->fields[k].required &&
		    json_object_get(p->req, s->fields[k].name) == NULL) {
			ctl_fail(p, CTL_E_MISSING_FIELD, "%s needs field "
			    "\"%s\"", s->name, s->fields[k].name);
			goto fail;
		}
	if (ctl_check_rules(p) < 0)
		goto fail;
	return 0;
fail:
	json_decref(p->req);
	p->req = NULL;
	return -1;
}

void
ctl_parsed_clear(struct ctl_parsed *p)
{
	json_decref(p->req);
	json_decref(p->id);
	p->req = NULL;
	p->id = NULL;
}

/* ------------------------------------------------------------------ */
/* Endpoints. */

static bool
ctl_host_is_loopback(const char *host, size_t len)
{
	char h[256];

	if (len == 0 || len >= sizeof(h))
		return false;
	memcpy(h, host, len);
	h[len] = '\0';
	if (strcmp(h, "localhost") == 0 || strcmp(h, "lo") == 0 ||
	    strcmp(h, "[::1]") == 0 || strcmp(h, "::1") == 0)
		return true;
	/* 127.0.0.0/8, written as a dotted quad only. */
	if (strncmp(h, "127.", 4) == 0) {
		const char *q = h + 4;
		int part;
		for (part = 0; part < 3; part++) {
			char *end;
			long v;
			if (*q < '0' || *q > '9')
				return false;
			v = strtol(q, &end, 10);
			if (v > 255 || end - q > 3)
				return false;
			if (part < 2 && *end != '.')
				return false;
			if (part == 2 && *end != '\0')
				return false;
			q = end + 1;
		}
		return true;
	}
	return false;
}

int
ctl_endpoint_check(const char *ep, bool curve, char *err, size_t errlen)
{
	const char *host, *colon;

	if (strncmp(ep, "ipc://", 6) == 0) {
		if (ep[6] != '/' && ep[6] != '@') {
			snprintf(err, errlen, "%s: ipc:// path must be "
			    "absolute", ep);
			return -1;
		}
		return 0;
	}
	if (strncmp(ep, "inproc://", 9) == 0)
		return 0;
	if (strncmp(ep, "tcp://", 6) != 0) {
		snprintf(err, errlen, "%s: only ipc://, tcp:// and inproc:// "
		    "endpoints", ep);
		return -1;
	}
	host = ep + 6;
	/* "tcp://src;host:port" binds from a source address: refuse. */
	colon = strrchr(host, ':');
	if (colon == NULL || colon[1] == '\0' || strchr(host, ';') != NULL) {
		snprintf(err, errlen, "%s: expected tcp://HOST:PORT", ep);
		return -1;
	}
	if (!curve && !ctl_host_is_loopback(host, (size_t)(colon - host))) {
		snprintf(err, errlen, "%s: refusing to take commands from "
		    "the network without CURVE (set control.curve = true, or "
		    "bind 127.0.0.1)", ep);
		return -1;
	}
	return 0;
}

/* libzmq replaces an existing ipc:// socket file without asking, so a
 * second daemon would silently take the endpoint from a running one. A
 * file nobody answers on is stale (a crash) and may be replaced. */
static bool
ctl_ipc_in_use(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;      /* zmq_bind will report it */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

/* The umask covers the window between bind and chmod, so that no client
 * can connect through looser permissions in between. */
int
ctl_bind(void *sock, const char *ep, int mode, const char *group, char *err,
    size_t errlen)
{
	const char *path = ep + 6;
	struct group *gr = NULL;
	mode_t old;
	int rc;

	if (strncmp(ep, "ipc://", 6) != 0 || path[0] == '@') {
		if (zmq_bind(sock, ep) != 0) {
			snprintf(err, errlen, "bind %s: %s", ep,
			    zmq_strerror(errno));
			return -1;
		}
		return 0;
	}
	if (mode == 0)
		mode = 0660;
	/* Everything that can fail is checked before the file exists. */
	if (group != NULL && group[0] != '\0' &&
	    (gr = getgrnam(group)) == NULL) {
		snprintf(err, errlen, "%s: no group \"%s\" (ipc_group)", ep,
		    group);
		return -1;
	}
	if (ctl_ipc_in_use(path)) {
		snprintf(err, errlen, "bind %s: another process is listening "
		    "there (is smpd already running?)", ep);
		return -1;
	}
	old = umask((mode_t)(~mode & 0777));
	rc = zmq_bind(sock, ep);
	umask(old);
	if (rc != 0) {
		snprintf(err, errlen, "bind %s: %s", ep, zmq_strerror(errno));
		return -1;
	}
	if (chmod(path, (mode_t)mode) < 0) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		goto fail;
	}
	if (gr != NULL && chown(path, (uid_t)-1, gr->gr_gid) < 0) {
		snprintf(err, errlen, "chown %s :%s: %s", path, group,
		    strerror(errno));
		goto fail;
	}
	return 0;
fail:
	/* Nobody may connect through the wrong permissions meanwhile. */
	zmq_unbind(sock, ep);
	unlink(path);
	return -1;
}

struct ctl_route {
	zmq_msg_t ident;
	bool delim;            /* REQ-style empty delimiter frame */
	bool replied;
};

struct ctl {
	void *sock;
	struct zap *zap;
	bool curve;
	char *keys_dir;
	size_t max_bytes;
	struct ctl_bound bound; /* ipc files, unlinked on destroy */
	uint64_t revoked;      /* messages dropped: key no longer allowed */
	char reload_err[512];
};

struct ctl *
ctl_new(void *zctx, const struct ctl_opts *o, char *err, size_t errlen)
{
	struct ctl *c = NULL;
	char pub[KEYS_Z85_LEN + 1], sec[KEYS_Z85_LEN + 1];
	int one = 1, zero = 0;
	int64_t maxmsg;
	size_t i;

	sec[0] = '\0';
	if (o->n_endpoints == 0) {
		snprintf(err, errlen, "control: no endpoint");
		goto fail;
	}
	for (i = 0; i < o->n_endpoints; i++)
		if (ctl_endpoint_check(o->endpoints[i], o->curve, err,
		    errlen) < 0)
			goto fail;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c->curve = o->curve;
	c->max_bytes = o->max_message_bytes ? o->max_message_bytes :
	    CTL_DEFAULT_MAX_BYTES;
	c->sock = zmq_socket(zctx, ZMQ_ROUTER);
	if (c->sock == NULL) {
		snprintf(err, errlen, "control socket: %s",
		    zmq_strerror(errno));
		goto fail;
	}
	zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero));
	/* Frames beyond this are cut off by libzmq (the peer is dropped);
	 * between max_bytes and this they get a too_large reply. */
	maxmsg = (int64_t)c->max_bytes + 65536;
	zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (o->curve) {
		char e2[256];
		if (o->server_secret_key == NULL ||
		    o->server_secret_key[0] == '\0') {
			snprintf(err, errlen, "control: curve needs "
			    "server_secret_key");
			goto fail;
		}
		if (o->client_keys_dir == NULL ||
		    o->client_keys_dir[0] == '\0') {
			snprintf(err, errlen, "control: curve needs "
			    "client_keys_dir (the allowlist)");
			goto fail;
		}
		if (keys_read(o->server_secret_key, pub, sec, e2,
		    sizeof(e2)) < 0) {
			snprintf(err, errlen, "control: %s", e2);
			goto fail;
		}
		c->keys_dir = strdup(o->client_keys_dir);
		if (c->keys_dir == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		c->zap = zap_get(zctx, err, errlen);
		if (c->zap == NULL)
			goto fail;
		if (zap_set_domain(c->zap, ZAP_DOMAIN_CONTROL, c->keys_dir, e2,
		    sizeof(e2)) < 0) {
			snprintf(err, errlen, "control: %s", e2);
			goto fail;
		}
		if (zmq_setsockopt(c->sock, ZMQ_CURVE_SERVER, &one,
		    sizeof(one)) != 0 ||
		    zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, sec,
		    KEYS_Z85_LEN) != 0 ||
		    zmq_setsockopt(c->sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN_CONTROL,
		    strlen(ZAP_DOMAIN_CONTROL)) != 0) {
			snprintf(err, errlen, "control: CURVE: %s (libzmq "
			    "without libsodium/tweetnacl?)",
			    zmq_strerror(errno));
			goto fail;
		}
		/* Fail closed: without this, libzmq 4.3 lets every client in
		 * when no ZAP handler answers. */
		if (zmq_setsockopt(c->sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one,
		    sizeof(one)) != 0) {
			snprintf(err, errlen, "control: ZMQ_ZAP_ENFORCE_DOMAIN:"
			    " %s (libzmq 4.3 or later needed)",
			    zmq_strerror(errno));
			goto fail;
		}
	}
	if (ctl_bind_all(c->sock, o->endpoints, o->n_endpoints, o->ipc_mode,
	    o->ipc_group, &c->bound, err, errlen) < 0)
		goto fail;
	explicit_bzero(sec, sizeof(sec));
	return c;
fail:
	explicit_bzero(sec, sizeof(sec));
	ctl_destroy(&c);
	return NULL;
}

void
ctl_destroy(struct ctl **cp)
{
	struct ctl *c;

	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	*cp = NULL;
	if (c->sock != NULL)
		zmq_close(c->sock);
	if (c->zap != NULL) {
		zap_remove_domain(c->zap, ZAP_DOMAIN_CONTROL);
		zap_put(&c->zap);
	}
	ctl_bound_close(&c->bound);
	free(c->keys_dir);
	free(c);
}

int
ctl_bind_all(void *sock, const char *const *endpoints, size_t n,
    int ipc_mode, const char *ipc_group, struct ctl_bound *b, char *err,
    size_t errlen)
{
	size_t i;

	b->n_ipc = 0;
	if ((b->ipc_paths = calloc(n ? n : 1, sizeof(*b->ipc_paths))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *ep = endpoints[i];
		if (ctl_bind(sock, ep, ipc_mode, ipc_group, err, errlen) < 0)
			return -1;
		if (strncmp(ep, "ipc:///", 7) == 0) {
			char *path = strdup(ep + 6);
			if (path == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			b->ipc_paths[b->n_ipc++] = path;
		}
	}
	return 0;
}

void
ctl_bound_close(struct ctl_bound *b)
{
	size_t i;

	for (i = 0; i < b->n_ipc; i++) {
		unlink(b->ipc_paths[i]);
		free(b->ipc_paths[i]);
	}
	free(b->ipc_paths);
	b->ipc_paths = NULL;
	b->n_ipc = 0;
}

int
ctl_sock_pollitems(void *sock, void *zap_sock, zmq_pollitem_t *items,
    int max)
{
	int n = 0;

	if (n < max) {
		items[n].socket = sock;
		items[n].fd = -1;
		items[n].events = ZMQ_POLLIN;
		items[n].revents = 0;
		n++;
	}
	if (zap_sock != NULL && n < max) {
		items[n].socket = zap_sock;
		items[n].fd = -1;
		items[n].events = ZMQ_POLLIN;
		items[n].revents = 0;
		n++;
	}
	return n;
}

int
ctl_pollitems(struct ctl *c, zmq_pollitem_t *items, int max)
{
	return ctl_sock_pollitems(c->sock, c->zap != NULL ?
	    zap_socket(c->zap) : NULL, items, max);
}

int
ctl_reload_keys(struct ctl *c)
{
	c->reload_err[0] = '\0';
	if (!c->curve)
		return 0;
	return zap_set_domain(c->zap, ZAP_DOMAIN_CONTROL, c->keys_dir,
	    c->reload_err, sizeof(c->reload_err));
}

const char *
ctl_reload_error(const struct ctl *c)
{
	return c->reload_err;
}

size_t
ctl_allowed_count(const struct ctl *c)
{
	return c->curve ? zap_domain_count(c->zap, ZAP_DOMAIN_CONTROL) : 0;
}

/* ------------------------------------------------------------------ */
/* Replies. */

static int
ctl_send_reply(struct ctl *c, struct ctl_route *r, json_t *id, json_t *obj)
{
	zmq_msg_t ident;
	char *text;
	int rc = -1;

	if (r->replied)
		goto out;
	r->replied = true;
	json_object_set(obj, "id", id != NULL ? id : json_null());
	text = json_dumps(obj, JSON_COMPACT);
	if (text == NULL)
		goto out;
	/* Never block on a client: ROUTER drops what it cannot route. */
	zmq_msg_init(&ident);
	zmq_msg_copy(&ident, &r->ident);
	if (zmq_msg_send(&ident, c->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&ident);
		free(text);
		goto out;
	}
	if (r->delim && zmq_send(c->sock, "", 0, ZMQ_SNDMORE |
	    ZMQ_DONTWAIT) < 0) {
		free(text);
		goto out;
	}
	rc = zmq_send(c->sock, text, strlen(text), ZMQ_DONTWAIT) < 0 ? -1 : 0;
	free(text);
out:
	json_decref(obj);
	return rc;
}

static json_t *
ctl_error_obj(const char *code, const char *message)
{
	return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code,
	    "message", message);
}

int
ctl_reply_ok(struct ctl *c, const struct ctl_request *req, json_t *fields)
{
	json_t *obj = json_object();

	if (obj == NULL) {
		json_decref(fields);
		return -1;
	}
	if (fields != NULL && json_is_object(fields))
		json_object_update(obj, fields);
	json_decref(fields);
	json_object_set_new(obj, "ok", json_true());
	return ctl_send_reply(c, req->route_, req->id, obj);
}

int
ctl_reply_err(struct ctl *c, const struct ctl_request *req, const char *code,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ctl_send_reply(c, req->route_, req->id,
	    ctl_error_obj(code, msg));
}

/* ------------------------------------------------------------------ */
/* Dispatch. */

/* Reads the rest of a message after the identity: keeps the first `keep`
 * frames, drops any more (counting them). Returns frames seen, or -1 on
 * error with nothing left open. */
static int
ctl_recv_body(void *sock, zmq_msg_t *f, int keep)
{
	int n = 0, more = 1;
	size_t sz = sizeof(more);

	while (more) {
		zmq_msg_t scratch, *m;
		zmq_msg_init(&scratch);
		m = n < keep ? &f[n] : &scratch;
		if (m != &scratch)
			zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, 0) < 0) {
			int i;
			zmq_msg_close(&scratch);
			for (i = 0; i <= n && i < keep; i++)
				zmq_msg_close(&f[i]);
			return -1;
		}
		if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) != 0)
			more = 0;
		zmq_msg_close(&scratch);
		n++;
	}
	return n;
}

int
ctl_dispatch(struct ctl *c, ctl_handler h, void *arg)
{
	int count = 0;

	if (c->zap != NULL)
		zap_handle(c->zap);
	while (count < CTL_BATCH) {
		struct ctl_route route;
		zmq_msg_t f[3];
		int nf, more = 0, i, kept;
		size_t sz = sizeof(more);
		zmq_msg_t *payload = NULL;
		struct ctl_parsed p;
		struct ctl_request req;
		const char *user = NULL;

		memset(&route, 0, sizeof(route));
		zmq_msg_init(&route.ident);
		if (zmq_msg_recv(&route.ident, c->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&route.ident);
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
		count++;
		if (zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &sz) != 0 ||
		    !more) {
			/* ROUTER always adds a body; nothing to answer. */
			zmq_msg_close(&route.ident);
			continue;
		}
		nf = ctl_recv_body(c->sock, f, 3);
		if (nf < 0) {
			zmq_msg_close(&route.ident);
			return -1;
		}
		kept = nf < 3 ? nf : 3;
		memset(&p, 0, sizeof(p));
		if (nf >= 2 && zmq_msg_size(&f[0]) == 0) {
			route.delim = true;
			if (nf == 2)
				payload = &f[1];
		} else if (nf == 1)
			payload = &f[0];
		if (c->curve && (user = zap_allowed(c->zap,
		    ZAP_DOMAIN_CONTROL, zmq_msg_gets(&f[0], "User-Id"))) ==
		    NULL) {
			/* Its key was removed since it connected: it gets
			 * nothing, as if it had never been let in. */
			c->revoked++;
			route.replied = true;
		} else if (payload == NULL) {
			p.code = CTL_E_BAD_FRAMES;
			snprintf(p.message, sizeof(p.message), "expected one "
			    "JSON frame (after an optional empty delimiter), "
			    "got %d frames", nf);
		} else if (ctl_parse(zmq_msg_data(payload),
		    zmq_msg_size(payload), c->max_bytes, &p) == 0) {
			memset(&req, 0, sizeof(req));
			req.cmd = p.cmd;
			req.cmd_name = ctl_cmd_name(p.cmd);
			req.id = p.id;
			req.args = p.req;
			snprintf(req.client, sizeof(req.client), "%s",
			    c->curve ? user : "local");
			req.route_ = &route;
			h(arg, c, &req);
			if (!route.replied)
				ctl_send_reply(c, &route, p.id,
				    ctl_error_obj(CTL_E_FAILED, "the daemon "
				    "did not answer this request"));
		}
		if (p.code != NULL)
			ctl_send_reply(c, &route, p.id,
			    ctl_error_obj(p.code, p.message));
		ctl_parsed_clear(&p);
		for (i = 0; i < kept; i++)
			zmq_msg_close(&f[i]);
		zmq_msg_close(&route.ident);
	}
	return count;
}
