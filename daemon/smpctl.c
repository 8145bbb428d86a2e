/*
 * smpctl: the operator's client for smpd. Each command is one JSON request
 * on the daemon's control socket (ZeroMQ ROUTER; we are a DEALER) and one
 * reply, printed for a person by default or as the raw JSON with --json, and
 * turned into an exit status scripts can branch on: 0 done, 1 refused by the
 * daemon, 2 bad usage, 3 daemon unreachable or silent, 4 any other failure.
 * `watch` is the supervising console: it subscribes to the status socket,
 * draws a live line, and sends the heartbeat the daemon's deadman needs
 * while a session runs; a single key pauses. `relay` joins several daemons'
 * status feeds into one with ZeroMQ's own proxy, and `keygen` makes the
 * CurveZMQ key pairs the control socket's allowlist is built from.
 *
 * smpctl never retries a command on its own: a command that timed out may
 * have been carried out, and repeating "start" or "redo" is the daemon's
 * decision to refuse, not ours to guess.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon/keys.h"
#include "drivers/transport.h"

#define EX_DONE 0
#define EX_REFUSED 1
#define EX_USAGE 2
#define EX_UNREACHABLE 3
#define EX_FAILURE 4

#define DEFAULT_CONTROL "ipc:///run/smpd/control"
#define DEFAULT_STATUS "ipc:///run/smpd/status"
#define DEFAULT_TIMEOUT_MS 5000
#define INLINE_MAX (64u * 1024 * 1024)

struct opts {
	const char *control;
	const char *status;
	bool json;
	int timeout_ms;
	bool curve;
	char pub[KEYS_Z85_LEN + 1];      /* our key pair */
	char sec[KEYS_Z85_LEN + 1];
	char server[KEYS_Z85_LEN + 1];   /* the daemon's public key */
};

static void *zctx;
static volatile sig_atomic_t quit;
static unsigned long req_counter;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: smpctl [-e ENDPOINT] [-s STATUS_ENDPOINT] [--json] [--timeout MS]\n"
"              [--key FILE --server-key FILE] COMMAND [ARGS]\n"
"commands:\n"
"  ping | status | preflight | home | unlock | start | pause | resume\n"
"  abort | heartbeat | list-uncertain | config\n"
"  load [--inline [--format F]] PLAN  a .csv or .json plan (- = stdin)\n"
"  set-origin [X,Y,Z]            work origin here, or at machine X,Y,Z\n"
"  jog [--relative] [X=] [Y=] [Z=] [F=]\n"
"  ack-uncertain [ID,...]        accept uncertain dots as they are (all)\n"
"  redo ID,...                   deliver these uncertain dots again\n"
"  watch [--until-done] [--heartbeat MS | --no-heartbeat]\n"
"  ports                         serial ports libserialport sees\n"
"  keygen [-o BASENAME]          CURVE key pair: BASENAME.key, .pub\n"
"  relay --bind EP --connect EP [--connect EP ...]\n"
"endpoints default to $SMPCTL_ENDPOINT / $SMPCTL_STATUS, then\n"
"  " DEFAULT_CONTROL " and " DEFAULT_STATUS "\n"
"keys default to $SMPCTL_KEY and $SMPCTL_SERVER_KEY\n"
"exit status: 0 ok, 1 refused, 2 usage, 3 unreachable/timeout, 4 failure\n");
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fmt_hms(char *buf, size_t len, double s)
{
	long t;

	if (!isfinite(s) || s < 0) {
		snprintf(buf, len, "--:--:--");
		return;
	}
	t = (long)(s + 0.5);
	snprintf(buf, len, "%02ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/* ------------------------------------------------------------ sockets */

/* A missing ipc:// socket file means no daemon: say so now rather than
 * after the timeout. */
static int
check_reachable(const char *ep)
{
	struct stat st;

	if (strncmp(ep, "ipc://", 6) == 0 && ep[6] == '/' &&
	    stat(ep + 6, &st) < 0) {
		fprintf(stderr, "smpctl: %s: %s (is smpd running?)\n", ep,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void *
open_socket(const struct opts *o, int type, const char *ep, bool bind,
    bool immediate)
{
	void *s = zmq_socket(zctx, type);
	int zero = 0, one = 1, hwm = 4;

	if (s == NULL) {
		fprintf(stderr, "smpctl: socket: %s\n", zmq_strerror(errno));
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	/* watch's control socket: a heartbeat or a pause that cannot go
	 * now must fail now, not be queued and delivered late. */
	if (immediate) {
		zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one));
		zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	}
	if (o->curve && !bind &&
	    (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, o->server, KEYS_Z85_LEN) ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, o->pub, KEYS_Z85_LEN) ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, o->sec, KEYS_Z85_LEN))) {
		fprintf(stderr, "smpctl: CURVE: %s\n", zmq_strerror(errno));
		zmq_close(s);
		return NULL;
	}
	if ((bind ? zmq_bind(s, ep) : zmq_connect(s, ep)) != 0) {
		fprintf(stderr, "smpctl: %s %s: %s\n", bind ? "bind" :
		    "connect", ep, zmq_strerror(errno));
		zmq_close(s);
		return NULL;
	}
	return s;
}

static json_t *
new_request(const char *cmd)
{
	char id[64];

	snprintf(id, sizeof(id), "smpctl-%ld-%lu", (long)getpid(),
	    ++req_counter);
	return json_pack("{s:s, s:s}", "id", id, "cmd", cmd);
}

/* Sends req (stolen) on sock and waits up to timeout_ms for the reply with
 * the same id. Returns EX_DONE with *reply set, or EX_UNREACHABLE. */
static int
exchange(void *sock, json_t *req, int timeout_ms, json_t **reply)
{
	char *text = json_dumps(req, JSON_COMPACT);
	json_t *id = json_incref(json_object_get(req, "id"));
	double deadline = now_s() + timeout_ms / 1e3;
	int rc = EX_UNREACHABLE;

	json_decref(req);
	*reply = NULL;
	if (text == NULL || zmq_send(sock, text, strlen(text),
	    ZMQ_DONTWAIT) < 0) {
		rc = EX_FAILURE;
		goto out;
	}
	while (!quit) {
		zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
		double left = deadline - now_s();
		zmq_msg_t m;
		json_t *r;

		if (left <= 0)
			break;
		if (zmq_poll(&it, 1, (long)(left * 1e3) + 1) <= 0)
			continue;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			continue;
		}
		r = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
		zmq_msg_close(&m);
		if (r != NULL && json_equal(json_object_get(r, "id"), id)) {
			*reply = r;
			rc = EX_DONE;
			break;
		}
		json_decref(r);   /* a late reply to an earlier request */
	}
out:
	free(text);
	json_decref(id);
	return rc;
}

/* One command, start to end: connect, send, wait, close. */
static int
request(const struct opts *o, json_t *req, json_t **reply)
{
	void *s;
	int rc;

	*reply = NULL;
	if (check_reachable(o->control) < 0) {
		json_decref(req);
		return EX_UNREACHABLE;
	}
	s = open_socket(o, ZMQ_DEALER, o->control, false, false);
	if (s == NULL) {
		json_decref(req);
		return EX_FAILURE;
	}
	rc = exchange(s, req, o->timeout_ms, reply);
	zmq_close(s);
	if (rc == EX_UNREACHABLE && !quit)
		fprintf(stderr, "smpctl: no reply from %s within %d ms (is "
		    "smpd running%s?)\n", o->control, o->timeout_ms,
		    o->curve ? ", is this key on its allowlist" : "");
	return rc;
}

/* ------------------------------------------------------------ output */

static void
print_value(const char *key, json_t *v, int indent)
{
	char *text;

	if (json_is_object(v)) {
		const char *k;
		json_t *e;
		printf("%*s%s:\n", indent, "", key);
		json_object_foreach(v, k, e) {
			print_value(k, e, indent + 2);
		}
		return;
	}
	if (json_is_string(v)) {
		printf("%*s%-12s %s\n", indent, "", key, json_string_value(v));
		return;
	}
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(10));
	printf("%*s%-12s %s\n", indent, "", key, text ? text : "?");
	free(text);
}

static double
num(json_t *o, const char *key, double def)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : def;
}

static void
print_status(json_t *st)
{
	json_t *dots = json_object_get(st, "dots"), *w, *m, *buf;
	char el[16], eta[16];

	printf("state      %s", json_string_value(json_object_get(st, "state"))
	    ? json_string_value(json_object_get(st, "state")) : "?");
	if (json_string_length(json_object_get(st, "reason")) > 0)
		printf(" (%s)", json_string_value(json_object_get(st,
		    "reason")));
	printf("\nlink       %s, controller %s\n",
	    json_string_value(json_object_get(st, "link")) ?
	    json_string_value(json_object_get(st, "link")) : "?",
	    json_string_value(json_object_get(st, "controller")) ?
	    json_string_value(json_object_get(st, "controller")) : "?");
	printf("needle     %s\n", json_is_true(json_object_get(st, "needle")) ?
	    "ON" : "off");
	printf("ready      homed %s, origin %s, preflight %s\n",
	    json_is_true(json_object_get(st, "homed")) ? "yes" : "no",
	    json_is_true(json_object_get(st, "origin")) ? "yes" : "no",
	    json_is_true(json_object_get(st, "preflight")) ? "yes" : "no");
	if (dots != NULL)
		printf("dots       %.0f/%.0f delivered, %.0f uncertain, %.0f in "
		    "flight\n", num(dots, "delivered", 0), num(dots, "total", 0),
		    num(dots, "uncertain", 0), num(dots, "in_flight", 0));
	w = json_object_get(st, "wpos");
	m = json_object_get(st, "mpos");
	if (json_array_size(w) == 3 && json_array_size(m) == 3)
		printf("position   work %.3f %.3f %.3f  machine %.3f %.3f %.3f  "
		    "feed %.0f\n",
		    json_number_value(json_array_get(w, 0)),
		    json_number_value(json_array_get(w, 1)),
		    json_number_value(json_array_get(w, 2)),
		    json_number_value(json_array_get(m, 0)),
		    json_number_value(json_array_get(m, 1)),
		    json_number_value(json_array_get(m, 2)),
		    num(st, "feed", 0));
	buf = json_object_get(st, "buffer");
	if (buf != NULL)
		printf("buffer     %.0f%% full (%.0f blocks, %.0f bytes free)\n",
		    num(buf, "fill", 0) * 100, num(buf, "blocks_free", 0),
		    num(buf, "bytes_free", 0));
	fmt_hms(el, sizeof(el), num(st, "elapsed_s", -1));
	fmt_hms(eta, sizeof(eta), num(st, "eta_s", -1));
	printf("time       elapsed %s, left %s\n", el, eta);
	if (json_is_string(json_object_get(st, "plan")))
		printf("plan       %s\n", json_string_value(json_object_get(st,
		    "plan")));
	if (json_is_string(json_object_get(st, "journal")))
		printf("journal    %s\n", json_string_value(json_object_get(st,
		    "journal")));
}

/* Prints a reply and maps it to the exit status. */
static int
report(const struct opts *o, const char *cmd, json_t *r)
{
	json_t *err = json_object_get(r, "error");
	const char *k;
	json_t *v;

	if (!json_is_boolean(json_object_get(r, "ok"))) {
		fprintf(stderr, "smpctl: malformed reply (no \"ok\")\n");
		return EX_FAILURE;
	}
	if (o->json) {
		char *text = json_dumps(r, JSON_COMPACT);
		printf("%s\n", text ? text : "{}");
		free(text);
	}
	if (json_is_false(json_object_get(r, "ok"))) {
		fprintf(stderr, "smpctl: %s refused (%s): %s\n", cmd,
		    json_string_value(json_object_get(err, "code")) ?
		    json_string_value(json_object_get(err, "code")) : "?",
		    json_string_value(json_object_get(err, "message")) ?
		    json_string_value(json_object_get(err, "message")) : "");
		return EX_REFUSED;
	}
	if (o->json)
		return EX_DONE;
	if (strcmp(cmd, "status") == 0 && json_is_object(json_object_get(r,
	    "status"))) {
		print_status(json_object_get(r, "status"));
		return EX_DONE;
	}
	if (strcmp(cmd, "ping") == 0) {
		printf("pong%s%s\n", json_is_string(json_object_get(r,
		    "state")) ? ", state " : "",
		    json_is_string(json_object_get(r, "state")) ?
		    json_string_value(json_object_get(r, "state")) : "");
		return EX_DONE;
	}
	if (strcmp(cmd, "config") == 0) {
		char *text = json_dumps(json_object_get(r, "config") ?
		    json_object_get(r, "config") : r, JSON_INDENT(2) |
		    JSON_REAL_PRECISION(10));
		printf("%s\n", text ? text : "{}");
		free(text);
		return EX_DONE;
	}
	if (strcmp(cmd, "list-uncertain") == 0 && json_is_array(
	    json_object_get(r, "ids"))) {
		json_t *ids = json_object_get(r, "ids");
		size_t i;
		if (json_array_size(ids) == 0) {
			printf("no uncertain dots\n");
			return EX_DONE;
		}
		printf("%zu uncertain dot%s:", json_array_size(ids),
		    json_array_size(ids) == 1 ? "" : "s");
		json_array_foreach(ids, i, v) {
			printf(" %" JSON_INTEGER_FORMAT, json_integer_value(v));
		}
		printf("\n");
		return EX_DONE;
	}
	printf("%s: ok\n", cmd);
	json_object_foreach(r, k, v) {
		if (strcmp(k, "id") != 0 && strcmp(k, "ok") != 0)
			print_value(k, v, 2);
	}
	return EX_DONE;
}

static int
simple(const struct opts *o, const char *cmd, json_t *req)
{
	json_t *r;
	int rc = request(o, req, &r);

	if (rc != EX_DONE)
		return rc;
	rc = report(o, cmd, r);
	json_decref(r);
	return rc;
}

/* ------------------------------------------------------------ arguments */

static int
parse_number(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (end == s || *end != '\0' || errno != 0 || !isfinite(*out)) ?
	    -1 : 0;
}

/* "1,2,3" and/or separate words into a JSON array of integers. */
static json_t *
parse_ids(int argc, char **argv)
{
	json_t *ids = json_array();
	int i;

	for (i = 0; i < argc; i++) {
		char *copy = strdup(argv[i]), *tok, *save = NULL, *end;
		for (tok = strtok_r(copy, ", ", &save); tok != NULL;
		    tok = strtok_r(NULL, ", ", &save)) {
			long long v;
			errno = 0;
			v = strtoll(tok, &end, 10);
			if (*end != '\0' || end == tok || errno != 0) {
				fprintf(stderr, "smpctl: \"%s\" is not a dot "
				    "id\n", tok);
				free(copy);
				json_decref(ids);
				return NULL;
			}
			json_array_append_new(ids, json_integer(v));
		}
		free(copy);
	}
	return ids;
}

static char *
read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t cap = 0, n = 0, got;

	if (f == NULL) {
		fprintf(stderr, "smpctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > INLINE_MAX + 1 ||
			    (nb = realloc(buf, cap + 1)) == NULL) {
				fprintf(stderr, "smpctl: %s: too large to send "
				    "inline\n", path);
				goto fail;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		fprintf(stderr, "smpctl: %s: read error\n", path);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

static int
cmd_load(const struct opts *o, int argc, char **argv)
{
	bool inl = false;
	const char *path = NULL, *dot, *format = NULL;
	json_t *req = new_request("load");
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--inline") == 0)
			inl = true;
		else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc &&
		    (strcmp(argv[i + 1], "csv") == 0 ||
		    strcmp(argv[i + 1], "json") == 0))
			format = argv[++i];
		else if (path == NULL)
			path = argv[i];
		else
			goto usage;
	}
	if (path == NULL)
		goto usage;
	if (inl || strcmp(path, "-") == 0) {
		size_t len;
		char *text = read_all(path, &len);
		if (text == NULL) {
			json_decref(req);
			return EX_FAILURE;
		}
		if (strlen(text) != len) {
			fprintf(stderr, "smpctl: %s: contains NUL bytes, not "
			    "a plan\n", path);
			free(text);
			json_decref(req);
			return EX_FAILURE;
		}
		json_object_set_new(req, "text", json_stringn(text, len));
		free(text);
		if (json_object_get(req, "text") == NULL) {
			fprintf(stderr, "smpctl: %s: not valid UTF-8\n", path);
			json_decref(req);
			return EX_FAILURE;
		}
		dot = strrchr(path, '.');
		if (format == NULL)
			format = dot != NULL && strcmp(dot, ".json") == 0 ?
			    "json" : "csv";
		json_object_set_new(req, "format", json_string(format));
	} else if (format != NULL) {
		goto usage;        /* a file's format comes from its name */
	} else {
		char abs[PATH_MAX];
		/* The daemon runs elsewhere: give it the whole path. */
		if (realpath(path, abs) == NULL) {
			fprintf(stderr, "smpctl: %s: %s\n", path,
			    strerror(errno));
			json_decref(req);
			return EX_FAILURE;
		}
		json_object_set_new(req, "plan", json_string(abs));
	}
	return simple(o, "load", req);
usage:
	json_decref(req);
	fprintf(stderr, "usage: smpctl load [--inline [--format csv|json]] "
	    "PLAN\n");
	return EX_USAGE;
}

static int
cmd_set_origin(const struct opts *o, int argc, char **argv)
{
	json_t *req = new_request("set-origin"), *wco;
	char *copy, *tok, *save = NULL;
	double v;

	if (argc > 2)
		goto usage;
	if (argc == 2) {
		wco = json_array();
		copy = strdup(argv[1]);
		for (tok = strtok_r(copy, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			if (parse_number(tok, &v) < 0) {
				free(copy);
				json_decref(wco);
				goto usage;
			}
			json_array_append_new(wco, json_real(v));
		}
		free(copy);
		if (json_array_size(wco) != 3) {
			json_decref(wco);
			goto usage;
		}
		json_object_set_new(req, "wco", wco);
	}
	return simple(o, "set-origin", req);
usage:
	json_decref(req);
	fprintf(stderr, "usage: smpctl set-origin [X,Y,Z] (machine "
	    "coordinates of the work origin; none = here)\n");
	return EX_USAGE;
}

static int
cmd_jog(const struct opts *o, int argc, char **argv)
{
	json_t *req = new_request("jog");
	int i, axes = 0;
	double v;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		char key;
		if (strcmp(a, "--relative") == 0 || strcmp(a, "-r") == 0) {
			json_object_set_new(req, "relative", json_true());
			continue;
		}
		key = (char)(a[0] | 0x20);
		if (a[0] == '\0' || a[1] != '=' || strchr("xyzf", key) ==
		    NULL || parse_number(a + 2, &v) < 0)
			goto usage;
		if (key == 'f')
			json_object_set_new(req, "feed", json_real(v));
		else {
			char k[2] = { key, '\0' };
			json_object_set_new(req, k, json_real(v));
			axes++;
		}
	}
	if (axes == 0)
		goto usage;
	return simple(o, "jog", req);
usage:
	json_decref(req);
	fprintf(stderr, "usage: smpctl jog [--relative] [X=mm] [Y=mm] [Z=mm] "
	    "[F=mm/min]\n");
	return EX_USAGE;
}

static int
cmd_ids(const struct opts *o, const char *cmd, int argc, char **argv,
    bool required)
{
	json_t *req = new_request(cmd), *ids;

	if (argc > 1) {
		ids = parse_ids(argc - 1, argv + 1);
		if (ids == NULL || json_array_size(ids) == 0) {
			json_decref(ids);
			json_decref(req);
			return EX_USAGE;
		}
		json_object_set_new(req, "ids", ids);
	} else if (required) {
		json_decref(req);
		fprintf(stderr, "usage: smpctl %s ID[,ID...]\n", cmd);
		return EX_USAGE;
	}
	return simple(o, cmd, req);
}

static int
cmd_ports(const struct opts *o)
{
	char *list = transport_list_ports(), *line, *save = NULL;
	json_t *arr;

	if (list == NULL) {
		fprintf(stderr, "smpctl: cannot list serial ports\n");
		return EX_FAILURE;
	}
	arr = json_array();
	for (line = strtok_r(list, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (tab != NULL)
			*tab++ = '\0';
		if (o->json)
			json_array_append_new(arr, json_pack("{s:s, s:s}",
			    "name", line, "description", tab ? tab : ""));
		else
			printf("%-24s %s\n", line, tab ? tab : "");
	}
	if (o->json) {
		char *text = json_dumps(arr, JSON_COMPACT);
		printf("%s\n", text ? text : "[]");
		free(text);
	} else if (json_array_size(arr) == 0 && list[0] == '\0')
		printf("no serial ports found\n");
	json_decref(arr);
	free(list);
	return EX_DONE;
}

static int
cmd_keygen(const struct opts *o, int argc, char **argv)
{
	const char *base = "smpctl";
	char err[512], pub[KEYS_Z85_LEN + 1];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			base = argv[++i];
		else {
			fprintf(stderr, "usage: smpctl keygen [-o BASENAME]\n");
			return EX_USAGE;
		}
	}
	if (keys_generate(base, pub, err, sizeof(err)) < 0) {
		fprintf(stderr, "smpctl: keygen: %s\n", err);
		return EX_FAILURE;
	}
	if (o->json)
		printf("{\"public_key\":\"%s\",\"secret_file\":\"%s.key\","
		    "\"public_file\":\"%s.pub\"}\n", pub, base, base);
	else
		printf("wrote %s.key (secret, mode 0600) and %s.pub\n"
		    "public key: %s\n", base, base, pub);
	return EX_DONE;
}

/* ------------------------------------------------------------ relay */

static void *
relay_waiter(void *arg)
{
	int sig;

	if (sigwait(arg, &sig) == 0)
		quit = 1;
	zmq_ctx_shutdown(zctx);
	return NULL;
}

static int
cmd_relay(const struct opts *o, int argc, char **argv)
{
	const char *bind_ep = NULL;
	sigset_t sigs;
	pthread_t waiter;
	void *xsub = NULL, *xpub = NULL;
	int i, nconn = 0, one = 1, rc = EX_FAILURE;
	struct opts plain = *o;

	plain.curve = false;   /* our own XPUB is served open */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc)
			bind_ep = argv[++i];
		else if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc)
			i++, nconn++;
		else
			goto usage;
	}
	if (bind_ep == NULL || nconn == 0)
		goto usage;
	xpub = open_socket(&plain, ZMQ_XPUB, bind_ep, true, false);
	if (xpub == NULL)
		goto out;
	/* Every downstream subscription goes upstream, even a repeat, so
	 * that each daemon sends a newcomer its snapshot. */
	zmq_setsockopt(xpub, ZMQ_XPUB_VERBOSE, &one, sizeof(one));
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--connect") == 0) {
			i++;
			if (xsub == NULL) {
				xsub = open_socket(o, ZMQ_XSUB, argv[i], false,
				    false);
				if (xsub == NULL)
					goto out;
			} else if (zmq_connect(xsub, argv[i]) != 0) {
				fprintf(stderr, "smpctl: connect %s: %s\n",
				    argv[i], zmq_strerror(errno));
				goto out;
			}
		}
	if (!o->json)
		fprintf(stderr, "smpctl: relaying %d feed%s to %s\n", nconn,
		    nconn == 1 ? "" : "s", bind_ep);
	/* zmq_proxy retries on EINTR, so a signal cannot stop it: a thread
	 * waits for the signal and shuts the context down, which ends the
	 * proxy with ETERM. The signals are blocked in this thread. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (pthread_create(&waiter, NULL, relay_waiter, &sigs) != 0) {
		fprintf(stderr, "smpctl: relay: cannot start a thread\n");
		goto out;
	}
	zmq_proxy(xsub, xpub, NULL);
	rc = quit ? EX_DONE : EX_FAILURE;
	if (!quit) {
		fprintf(stderr, "smpctl: relay: %s\n", zmq_strerror(errno));
		pthread_kill(waiter, SIGHUP);   /* one of those it waits for */
	}
	pthread_join(waiter, NULL);
out:
	if (xsub != NULL)
		zmq_close(xsub);
	if (xpub != NULL)
		zmq_close(xpub);
	return rc;
usage:
	fprintf(stderr, "usage: smpctl relay --bind ENDPOINT --connect "
	    "ENDPOINT [--connect ENDPOINT ...]\n");
	return EX_USAGE;
}

/* ------------------------------------------------------------ watch */

#define WATCH_EVENTS 3

struct watch {
	const struct opts *o;
	bool tty;
	bool until_done;
	int heartbeat_ms;
	struct termios saved;
	bool raw;
	json_t *status;                 /* last status message */
	json_t *end;                    /* session_end event, if seen */
	char events[WATCH_EVENTS][160];
	int n_events;
	uint64_t lost;                  /* messages missed (seq gaps) */
	json_int_t seq[3];              /* status, event, dot */
	const char *control_note;       /* heartbeat trouble, shown */
	double last_plain;
	char last_state[32];
};

static void
watch_raw(struct watch *w, bool on)
{
	if (on && !w->raw && isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &w->saved) == 0) {
		struct termios t = w->saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
			w->raw = true;
	} else if (!on && w->raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &w->saved);
		w->raw = false;
	}
}

static int
term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

static const char *
jstr(json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : def;
}

/* "4:05", or "1:02:03" from an hour on: short enough for one line. */
static void
fmt_short(char *buf, size_t len, double s)
{
	long t;

	if (!isfinite(s) || s < 0) {
		snprintf(buf, len, "--:--");
		return;
	}
	t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60,
		    t % 60);
	else
		snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* The live line: what matters most comes first, and the progress bar takes
 * whatever width is left (width 0: a fixed 20). */
static void
watch_line(struct watch *w, char *buf, size_t len, int width)
{
	json_t *st = w->status, *dots = json_object_get(st, "dots");
	double done = num(dots, "delivered", 0), total = num(dots, "total", 0);
	double el = num(st, "elapsed_s", -1), unc = num(dots, "uncertain", 0);
	char bar[64], els[16], etas[16], head[256], tail[256], unc_s[48];
	int i, fill, bw;

	if (st == NULL) {
		snprintf(buf, len, "waiting for status from %s ...",
		    w->o->status);
		return;
	}
	fmt_short(els, sizeof(els), el);
	fmt_short(etas, sizeof(etas), num(st, "eta_s", -1));
	/* Deadman trouble goes up front, where a narrow terminal keeps it. */
	snprintf(head, sizeof(head), "%-9s needle %-3s%s%s",
	    jstr(st, "state", "?"),
	    json_is_true(json_object_get(st, "needle")) ? "ON" : "off",
	    w->control_note ? " ! " : "",
	    w->control_note ? w->control_note : "");
	snprintf(unc_s, sizeof(unc_s), ", %.0f uncertain", unc);
	snprintf(tail, sizeof(tail), "%.0f/%.0f %3.0f%% %4.0f/min  %s "
	    "elapsed, %s left%s%s", done, total,
	    total > 0 ? 100 * done / total : 0, el > 1 ? done * 60 / el : 0,
	    els, etas, unc > 0 ? unc_s : "",
	    w->lost ? "  (missed updates)" : "");
	bw = width > 0 ? width - (int)strlen(head) - (int)strlen(tail) - 4 :
	    20;
	if (bw > 40)
		bw = 40;
	if (bw < 5)
		bw = 5;
	fill = total > 0 ? (int)(bw * done / total) : 0;
	for (i = 0; i < bw; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[bw] = '\0';
	snprintf(buf, len, "%s [%s] %s", head, bar, tail);
}

static void
watch_draw(struct watch *w, bool force)
{
	char line[512];
	double t = now_s();
	const char *state = jstr(w->status, "state", "");

	watch_line(w, line, sizeof(line), w->tty ? term_width() - 1 : 0);
	if (w->tty) {
		int width = term_width() - 1;
		if ((int)strlen(line) > width)
			line[width] = '\0';
		printf("\r\033[K%s", line);
		fflush(stdout);
		return;
	}
	/* Plain output: a line per state change, else one per 5 s. */
	if (force || strcmp(state, w->last_state) != 0 ||
	    t - w->last_plain >= 5) {
		printf("%s\n", line);
		fflush(stdout);
		w->last_plain = t;
		snprintf(w->last_state, sizeof(w->last_state), "%s", state);
	}
}

static void
watch_event(struct watch *w, const char *text)
{
	if (w->tty)
		printf("\r\033[K");
	printf("%s\n", text);
	snprintf(w->events[w->n_events % WATCH_EVENTS], sizeof(w->events[0]),
	    "%s", text);
	w->n_events++;
	watch_draw(w, false);
}

static void
describe_event(json_t *e, char *buf, size_t len)
{
	const char *type = jstr(e, "type", "?");

	if (strcmp(type, "transition") == 0)
		snprintf(buf, len, "%s -> %s: %s", jstr(e, "from", "?"),
		    jstr(e, "to", "?"), jstr(e, "reason", ""));
	else if (strcmp(type, "alarm") == 0 || strcmp(type, "error") == 0)
		snprintf(buf, len, "%s %.0f: %s", type, num(e, "code", 0),
		    jstr(e, "message", ""));
	else if (strcmp(type, "session_end") == 0)
		snprintf(buf, len, "session %s: %.0f/%.0f delivered, %.0f "
		    "uncertain", jstr(e, "result", "?"), num(e, "delivered", 0),
		    num(e, "total", 0), num(e, "uncertain", 0));
	else if (strcmp(type, "session_start") == 0)
		snprintf(buf, len, "session started: %.0f dots, estimated "
		    "%.0f min %02.0f s, journal %s", num(e, "dots", 0),
		    floor(num(e, "estimate_s", 0) / 60),
		    fmod(num(e, "estimate_s", 0), 60), jstr(e, "journal", "?"));
	else if (strcmp(type, "uncertain") == 0) {
		char *ids = json_dumps(json_object_get(e, "ids"),
		    JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, len, "uncertain dots %s", ids ? ids : "?");
		free(ids);
	} else if (json_is_string(json_object_get(e, "message")))
		snprintf(buf, len, "%s: %s", type, jstr(e, "message", ""));
	else {
		char *t = json_dumps(e, JSON_COMPACT);
		snprintf(buf, len, "%s", t ? t : type);
		free(t);
	}
}

static bool
terminal_state(const char *s)
{
	return strcmp(s, "completed") == 0 || strcmp(s, "aborted") == 0 ||
	    strcmp(s, "faulted") == 0;
}

static void
watch_message(struct watch *w, const char *topic, json_t *m)
{
	static const char *topics[3] = { "status", "event", "dot" };
	json_int_t seq = json_integer_value(json_object_get(m, "seq"));
	char text[256], stamp[16];
	time_t t;
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(topic, topics[i]) == 0) {
			if (w->seq[i] != 0 && seq > w->seq[i] + 1)
				w->lost += (uint64_t)(seq - w->seq[i] - 1);
			w->seq[i] = seq;
		}
	if (strcmp(topic, "status") == 0) {
		json_decref(w->status);
		w->status = json_incref(m);
		watch_draw(w, false);
	} else if (strcmp(topic, "event") == 0) {
		if (strcmp(jstr(m, "type", ""), "session_end") == 0) {
			json_decref(w->end);
			w->end = json_incref(m);
		}
		t = time(NULL);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&t));
		describe_event(m, text, sizeof(text) - 16);
		{
			char line[300];
			snprintf(line, sizeof(line), "%s %s", stamp, text);
			watch_event(w, line);
		}
	}
}

static int
watch_summary(struct watch *w)
{
	const char *state = jstr(w->status, "state", "?");
	json_t *dots = json_object_get(w->status, "dots");
	char el[16];

	if (w->tty)
		printf("\r\033[K");
	if (w->end != NULL) {
		fmt_hms(el, sizeof(el), num(w->end, "elapsed_s", -1));
		printf("session %s: %.0f of %.0f dots delivered, %.0f "
		    "uncertain, elapsed %s\n", jstr(w->end, "result", state),
		    num(w->end, "delivered", 0), num(w->end, "total", 0),
		    num(w->end, "uncertain", 0), el);
	} else {
		fmt_hms(el, sizeof(el), num(w->status, "elapsed_s", -1));
		printf("session %s: %.0f of %.0f dots delivered, %.0f "
		    "uncertain, elapsed %s\n", state, num(dots, "delivered", 0),
		    num(dots, "total", 0), num(dots, "uncertain", 0), el);
	}
	fflush(stdout);
	return strcmp(state, "completed") == 0 ? EX_DONE : EX_REFUSED;
}

/* The pause key. The operator must know at once whether the pause went
 * out; its reply shows up as an event line later. */
static void
watch_pause(struct watch *w, void *ctl)
{
	char text[96], line[200];

	snprintf(text, sizeof(text), "{\"id\":\"key-%ld-%lu\",\"cmd\":"
	    "\"pause\"}", (long)getpid(), ++req_counter);
	if (ctl == NULL || zmq_send(ctl, text, strlen(text),
	    ZMQ_DONTWAIT) < 0) {
		snprintf(line, sizeof(line), "PAUSE NOT SENT: %s is not "
		    "connected; use another console", w->o->control);
		watch_event(w, line);
		return;
	}
	watch_event(w, "pause sent");
}

static int
cmd_watch(const struct opts *o, int argc, char **argv)
{
	struct watch w;
	void *sub = NULL, *ctl = NULL;
	double next_hb, hb_ok;
	char hb_note[160];
	int i, rc = EX_FAILURE;

	memset(&w, 0, sizeof(w));
	w.o = o;
	w.heartbeat_ms = 1000;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--until-done") == 0)
			w.until_done = true;
		else if (strcmp(argv[i], "--no-heartbeat") == 0)
			w.heartbeat_ms = 0;
		else if (strcmp(argv[i], "--heartbeat") == 0 && i + 1 < argc) {
			double v;
			if (parse_number(argv[++i], &v) < 0 || v < 50 ||
			    v > 60000) {
				fprintf(stderr, "smpctl: --heartbeat takes "
				    "50..60000 ms\n");
				return EX_USAGE;
			}
			w.heartbeat_ms = (int)v;
		} else {
			fprintf(stderr, "usage: smpctl watch [--until-done] "
			    "[--heartbeat MS | --no-heartbeat]\n");
			return EX_USAGE;
		}
	}
	w.tty = isatty(STDOUT_FILENO);
	if (check_reachable(o->status) < 0)
		return EX_UNREACHABLE;
	sub = open_socket(o, ZMQ_SUB, o->status, false, false);
	if (sub == NULL)
		goto out;
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "status", 6);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "event", 5);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "dot", 3);
	/* Opened even with --no-heartbeat: the pause key needs it. */
	if (check_reachable(o->control) == 0)
		ctl = open_socket(o, ZMQ_DEALER, o->control, false, true);
	if (w.heartbeat_ms > 0 && ctl == NULL)
		w.control_note = "no heartbeat: control unreachable";
	if (isatty(STDIN_FILENO))
		watch_raw(&w, true);
	if (w.tty)
		printf("keys: p or space = pause, q = quit watching\n");
	watch_draw(&w, true);
	/* The first heartbeat once the connection had a moment to form. */
	hb_ok = now_s();
	next_hb = hb_ok + 0.1;
	while (!quit) {
		zmq_pollitem_t items[3];
		int n = 0;
		double t = now_s();

		/* A heartbeat every period whatever became of the last one:
		 * a reply lost to a daemon restart must not stop the
		 * deadman. Replies are told apart by their "hb-" ids. */
		if (ctl != NULL && w.heartbeat_ms > 0 && t >= next_hb) {
			char text[96];
			snprintf(text, sizeof(text), "{\"id\":\"hb-%ld-%lu\","
			    "\"cmd\":\"heartbeat\"}", (long)getpid(),
			    ++req_counter);
			if (zmq_send(ctl, text, strlen(text), ZMQ_DONTWAIT) < 0)
				w.control_note = "heartbeat not sent: control "
				    "not connected";
			else if (t - hb_ok > 3.0 * w.heartbeat_ms / 1e3 + 0.5)
				w.control_note = "heartbeat unanswered";
			next_hb = t + w.heartbeat_ms / 1e3;
		}
		items[n++] = (zmq_pollitem_t){ sub, 0, ZMQ_POLLIN, 0 };
		if (ctl != NULL)
			items[n++] = (zmq_pollitem_t){ ctl, 0, ZMQ_POLLIN, 0 };
		if (w.raw)
			items[n++] = (zmq_pollitem_t){ NULL, STDIN_FILENO,
			    ZMQ_POLLIN, 0 };
		if (zmq_poll(items, n, ctl != NULL ? (long)((next_hb -
		    now_s()) * 1e3) + 1 : 1000) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (;;) {
			char topic[32];
			zmq_msg_t m;
			int tl = zmq_recv(sub, topic, sizeof(topic) - 1,
			    ZMQ_DONTWAIT), more = 0;
			size_t sz = sizeof(more);
			json_t *j;
			if (tl < 0)
				break;
			topic[tl < (int)sizeof(topic) - 1 ? tl :
			    (int)sizeof(topic) - 1] = '\0';
			zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &sz);
			if (!more)
				continue;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, sub, 0) < 0) {
				zmq_msg_close(&m);
				break;
			}
			j = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0,
			    NULL);
			zmq_msg_close(&m);
			/* Drain any further frames of a malformed message. */
			zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &sz);
			while (more && zmq_recv(sub, topic, 0, 0) >= 0)
				zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &sz);
			if (json_is_object(j))
				watch_message(&w, topic, j);
			json_decref(j);
		}
		if (ctl != NULL) {
			char buf[4096];
			int len;
			while ((len = zmq_recv(ctl, buf, sizeof(buf) - 1,
			    ZMQ_DONTWAIT)) >= 0) {
				json_t *r;
				if (len >= (int)sizeof(buf))
					continue;
				r = json_loadb(buf, (size_t)len, 0, NULL);
				if (r != NULL && strncmp(jstr(r, "id", ""),
				    "hb-", 3) == 0) {
					hb_ok = now_s();
					if (json_is_true(json_object_get(r,
					    "ok")))
						w.control_note = NULL;
					else {
						snprintf(hb_note,
						    sizeof(hb_note), "heartbeat "
						    "refused: %s", jstr(
						    json_object_get(r, "error"),
						    "message", "?"));
						w.control_note = hb_note;
					}
				} else if (r != NULL) {
					/* the answer to a key press */
					char line[300];
					json_t *e = json_object_get(r, "error");
					snprintf(line, sizeof(line), "pause: %s%s",
					    json_is_true(json_object_get(r,
					    "ok")) ? "ok" : "refused: ",
					    jstr(e, "message", ""));
					watch_event(&w, line);
				}
				json_decref(r);
			}
		}
		if (w.raw && (items[n - 1].revents & ZMQ_POLLIN)) {
			char c;
			while (read(STDIN_FILENO, &c, 1) == 1) {
				if (c == 'q' || c == 'Q') {
					quit = 1;
				} else if ((c == 'p' || c == 'P' || c == ' ')) {
					watch_pause(&w, ctl);
				}
			}
		}
		if (w.until_done && w.status != NULL &&
		    terminal_state(jstr(w.status, "state", ""))) {
			watch_raw(&w, false);
			rc = watch_summary(&w);
			goto out;
		}
	}
	if (w.tty)
		printf("\n");
	rc = EX_DONE;
out:
	watch_raw(&w, false);
	json_decref(w.status);
	json_decref(w.end);
	if (sub != NULL)
		zmq_close(sub);
	if (ctl != NULL)
		zmq_close(ctl);
	return rc;
}

/* ------------------------------------------------------------ main */

static int
load_keys(struct opts *o, const char *key_file, const char *server_file)
{
	char err[512];

	if (key_file == NULL && server_file == NULL)
		return 0;
	if (key_file == NULL || server_file == NULL) {
		fprintf(stderr, "smpctl: CURVE needs both --key (your .key "
		    "file) and --server-key (the daemon's public key)\n");
		return EX_USAGE;
	}
	if (keys_read(key_file, o->pub, o->sec, err, sizeof(err)) < 0 ||
	    keys_read(server_file, o->server, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "smpctl: %s\n", err);
		return EX_FAILURE;
	}
	o->curve = true;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "status", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "server-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o;
	const char *key_file = getenv("SMPCTL_KEY");
	const char *server_file = getenv("SMPCTL_SERVER_KEY");
	const char *cmd;
	struct sigaction sa;
	int ch, rc;
	double v;

	memset(&o, 0, sizeof(o));
	o.control = getenv("SMPCTL_ENDPOINT");
	o.status = getenv("SMPCTL_STATUS");
	o.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (key_file != NULL && key_file[0] == '\0')
		key_file = NULL;
	if (server_file != NULL && server_file[0] == '\0')
		server_file = NULL;
	/* '+': options after the command belong to the command. */
	while ((ch = getopt_long(argc, argv, "+e:s:jt:h", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'e':
			o.control = optarg;
			break;
		case 's':
			o.status = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 't':
			if (parse_number(optarg, &v) < 0 || v < 1 ||
			    v > 3600000) {
				fprintf(stderr, "smpctl: --timeout takes "
				    "1..3600000 ms\n");
				return EX_USAGE;
			}
			o.timeout_ms = (int)v;
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'K':
			server_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_DONE;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EX_USAGE;
	}
	if (o.control == NULL || o.control[0] == '\0')
		o.control = DEFAULT_CONTROL;
	if (o.status == NULL || o.status[0] == '\0')
		o.status = DEFAULT_STATUS;
	cmd = argv[0];
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(&o, argc, argv);
	if (strcmp(cmd, "ports") == 0)
		return argc == 1 ? cmd_ports(&o) : EX_USAGE;
	if ((rc = load_keys(&o, key_file, server_file)) != 0)
		return rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;   /* no SA_RESTART: zmq_poll returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	zctx = zmq_ctx_new();
	if (zctx == NULL) {
		fprintf(stderr, "smpctl: zmq_ctx_new: %s\n",
		    zmq_strerror(errno));
		return EX_FAILURE;
	}
	if (strcmp(cmd, "load") == 0)
		rc = cmd_load(&o, argc, argv);
	else if (strcmp(cmd, "set-origin") == 0)
		rc = cmd_set_origin(&o, argc, argv);
	else if (strcmp(cmd, "jog") == 0)
		rc = cmd_jog(&o, argc, argv);
	else if (strcmp(cmd, "ack-uncertain") == 0)
		rc = cmd_ids(&o, cmd, argc, argv, false);
	else if (strcmp(cmd, "redo") == 0)
		rc = cmd_ids(&o, cmd, argc, argv, true);
	else if (strcmp(cmd, "watch") == 0)
		rc = cmd_watch(&o, argc, argv);
	else if (strcmp(cmd, "relay") == 0)
		rc = cmd_relay(&o, argc, argv);
	else {
		static const char *plain[] = { "ping", "status", "preflight",
		    "home", "unlock", "start", "pause", "resume", "abort",
		    "heartbeat", "list-uncertain", "config", NULL };
		int i;
		for (i = 0; plain[i] != NULL; i++)
			if (strcmp(cmd, plain[i]) == 0)
				break;
		if (plain[i] == NULL) {
			fprintf(stderr, "smpctl: unknown command \"%s\"\n",
			    cmd);
			usage(stderr);
			rc = EX_USAGE;
		} else if (argc != 1) {
			fprintf(stderr, "smpctl: %s takes no arguments\n", cmd);
			rc = EX_USAGE;
		} else
			rc = simple(&o, cmd, new_request(cmd));
	}
	explicit_bzero(o.sec, sizeof(o.sec));
	zmq_ctx_term(zctx);
	return rc;
}
