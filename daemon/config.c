/*
 * Reading smpd's configuration (see config.h). Each group the daemon owns is
 * described by a table of keys with their type, destination and range, so
 * that checking types, ranges and unknown keys is one loop rather than a
 * hand-written branch per key that could forget one. Errors accumulate so
 * that `smpd -n` lists them all at once.
 */
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

enum key_type { K_STR, K_INT, K_FLOAT, K_BOOL, K_ENDPOINTS, K_MODE, K_SIZE };

struct key {
	const char *name;
	enum key_type type;
	size_t off;
	size_t size;        /* K_STR: buffer size */
	double min, max;    /* K_INT, K_FLOAT, K_SIZE, K_MODE */
};

#define OFF(f) offsetof(struct smpd_config, f)
#define SZ(f) sizeof(((struct smpd_config *)0)->f)

static const struct key controller_keys[] = {
	{ "port", K_STR, OFF(port), SZ(port), 0, 0 },
	{ "baud", K_INT, OFF(baud), 0, 1200, 4000000 },
	{ "status_poll_hz", K_FLOAT, OFF(status_poll_hz), 0, 0.5, 50 },
	{ "watchdog_ms", K_INT, OFF(watchdog_ms), 0, 100, 60000 },
	{ "connect_timeout_ms", K_INT, OFF(connect_timeout_ms), 0, 100, 60000 },
	{ "reconnect_max_ms", K_INT, OFF(reconnect_max_ms), 0, 100, 600000 },
	{ "homing", K_BOOL, OFF(homing), 0, 0, 0 },
	{ NULL, 0, 0, 0, 0, 0 },
};

static const struct key session_keys[] = {
	{ "journal", K_STR, OFF(journal_dir), SZ(journal_dir), 0, 0 },
	{ "heartbeat_ms", K_INT, OFF(heartbeat_ms), 0, 100, 600000 },
	{ "require_heartbeat", K_BOOL, OFF(require_heartbeat), 0, 0, 0 },
	{ "max_dots_in_flight", K_INT, OFF(max_dots_in_flight), 0, 1, 64 },
	{ "guard", K_BOOL, OFF(guard), 0, 0, 0 },
	{ NULL, 0, 0, 0, 0, 0 },
};

static const struct key control_keys[] = {
	{ "endpoints", K_ENDPOINTS, OFF(ctl_endpoints), 0, 0, 0 },
	{ "curve", K_BOOL, OFF(ctl_curve), 0, 0, 0 },
	{ "server_secret_key", K_STR, OFF(ctl_secret_key), SZ(ctl_secret_key),
	    0, 0 },
	{ "client_keys_dir", K_STR, OFF(ctl_keys_dir), SZ(ctl_keys_dir), 0, 0 },
	{ "ipc_mode", K_MODE, OFF(ctl_ipc_mode), 0, 0, 0777 },
	{ "ipc_group", K_STR, OFF(ctl_ipc_group), SZ(ctl_ipc_group), 0, 0 },
	{ "max_message_bytes", K_SIZE, OFF(ctl_max_message_bytes), 0, 256,
	    64.0 * 1024 * 1024 },
	{ NULL, 0, 0, 0, 0, 0 },
};

/* server_secret_key, client_keys_dir, ipc_mode and ipc_group are not in
 * etc/smpd.conf's status group, but struct pub_opts takes them: accepted
 * here with the control group's meaning so that CURVE on status can work. */
static const struct key status_keys[] = {
	{ "endpoints", K_ENDPOINTS, OFF(pub_endpoints), 0, 0, 0 },
	{ "rate_running_hz", K_FLOAT, OFF(rate_running_hz), 0, 0.1, 100 },
	{ "rate_idle_hz", K_FLOAT, OFF(rate_idle_hz), 0, 0.01, 100 },
	{ "curve", K_BOOL, OFF(pub_curve), 0, 0, 0 },
	{ "send_hwm", K_INT, OFF(send_hwm), 0, 1, 1000000 },
	{ "server_secret_key", K_STR, OFF(pub_secret_key), SZ(pub_secret_key),
	    0, 0 },
	{ "client_keys_dir", K_STR, OFF(pub_keys_dir), SZ(pub_keys_dir), 0, 0 },
	{ "ipc_mode", K_MODE, OFF(pub_ipc_mode), 0, 0, 0777 },
	{ "ipc_group", K_STR, OFF(pub_ipc_group), SZ(pub_ipc_group), 0, 0 },
	{ NULL, 0, 0, 0, 0, 0 },
};

static const char *const planner_groups[] = { "machine", "needle", "planner",
	NULL };

struct errbuf {
	char *buf;
	size_t len, used;
	int count;
};

static void __attribute__((format(printf, 4, 5)))
add_err(struct errbuf *e, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	e->count++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e->buf == NULL || e->used + 1 >= e->len)
		return;
	if (line > 0)
		n = snprintf(e->buf + e->used, e->len - e->used, "%s:%d: %s\n",
		    file, line, msg);
	else if (line < 0) /* msg already names its position */
		n = snprintf(e->buf + e->used, e->len - e->used, "%s\n", msg);
	else
		n = snprintf(e->buf + e->used, e->len - e->used, "%s: %s\n",
		    file, msg);
	if (n > 0)
		e->used += (size_t)n < e->len - e->used ? (size_t)n :
		    e->len - e->used - 1;
}

void
config_fix_pointers(struct smpd_config *cfg)
{
	size_t i;

	for (i = 0; i < CONFIG_MAX_ENDPOINTS; i++) {
		cfg->ctl_endpoints.ptr[i] = cfg->ctl_endpoints.v[i];
		cfg->pub_endpoints.ptr[i] = cfg->pub_endpoints.v[i];
	}
}

void
config_defaults(struct smpd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->machine_id, sizeof(cfg->machine_id), "smp-1");
	cfg->baud = 115200;
	cfg->status_poll_hz = 10.0;
	cfg->watchdog_ms = 1000;
	cfg->connect_timeout_ms = 5000;
	cfg->reconnect_max_ms = 10000;
	cfg->homing = true;
	snprintf(cfg->journal_dir, sizeof(cfg->journal_dir),
	    "/var/lib/smpd/journal");
	cfg->heartbeat_ms = 2000;
	cfg->require_heartbeat = true;
	cfg->max_dots_in_flight = 2;
	cfg->guard = true;
	snprintf(cfg->ctl_endpoints.v[0], CONFIG_PATH_MAX,
	    "ipc:///run/smpd/control");
	cfg->ctl_endpoints.n = 1;
	cfg->ctl_ipc_mode = 0660;
	cfg->ctl_max_message_bytes = 1048576;
	snprintf(cfg->pub_endpoints.v[0], CONFIG_PATH_MAX,
	    "ipc:///run/smpd/status");
	cfg->pub_endpoints.n = 1;
	cfg->rate_running_hz = 10.0;
	cfg->rate_idle_hz = 1.0;
	cfg->pub_ipc_mode = 0660;
	cfg->send_hwm = 1000;
	pconfig_defaults(&cfg->planner);
	config_fix_pointers(cfg);
}

static int
get_number(const config_setting_t *s, double *v)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		*v = config_setting_get_int(s);
		return 0;
	case CONFIG_TYPE_INT64:
		*v = (double)config_setting_get_int64(s);
		return 0;
	case CONFIG_TYPE_FLOAT:
		*v = config_setting_get_float(s);
		return 0;
	default:
		return -1;
	}
}

static void
read_key(struct smpd_config *cfg, const struct key *k, config_setting_t *s,
    const char *file, const char *group, struct errbuf *e)
{
	char *dst = (char *)cfg + k->off;
	int line = (int)config_setting_source_line(s);
	double v;

	switch (k->type) {
	case K_STR: {
		const char *str = config_setting_get_string(s);
		if (str == NULL) {
			add_err(e, file, line, "%s.%s: expected a string",
			    group, k->name);
			return;
		}
		if (strlen(str) >= k->size) {
			add_err(e, file, line, "%s.%s: longer than %zu bytes",
			    group, k->name, k->size - 1);
			return;
		}
		memcpy(dst, str, strlen(str) + 1);
		return;
	}
	case K_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			add_err(e, file, line,
			    "%s.%s: expected true or false", group, k->name);
			return;
		}
		*(bool *)dst = config_setting_get_bool(s) != 0;
		return;
	case K_INT:
	case K_SIZE:
	case K_MODE:
		if (config_setting_type(s) != CONFIG_TYPE_INT &&
		    config_setting_type(s) != CONFIG_TYPE_INT64) {
			add_err(e, file, line, "%s.%s: expected an integer",
			    group, k->name);
			return;
		}
		get_number(s, &v);
		if (k->type == K_MODE && v > 0777) {
			/* libconfig reads 0660 as decimal 660: take the
			 * digits as the octal the writer meant. */
			char digits[32];
			char *end;
			snprintf(digits, sizeof(digits), "%.0f", v);
			v = (double)strtol(digits, &end, 8);
			if (*end != '\0')
				v = -1;
		}
		if (v < k->min || v > k->max) {
			add_err(e, file, line, "%s.%s: %s out of range [%g, %g]",
			    group, k->name,
			    k->type == K_MODE ? "mode" : "value", k->min,
			    k->max);
			return;
		}
		if (k->type == K_SIZE)
			*(size_t *)dst = (size_t)v;
		else
			*(int *)dst = (int)v;
		return;
	case K_FLOAT:
		if (get_number(s, &v) != 0 || !isfinite(v)) {
			add_err(e, file, line, "%s.%s: expected a number",
			    group, k->name);
			return;
		}
		if (v < k->min || v > k->max) {
			add_err(e, file, line, "%s.%s: %g out of range [%g, %g]",
			    group, k->name, v, k->min, k->max);
			return;
		}
		memcpy(dst, &v, sizeof(v));
		return;
	case K_ENDPOINTS: {
		struct config_endpoints *ep = (struct config_endpoints *)dst;
		int i, n;
		if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
		    config_setting_type(s) != CONFIG_TYPE_LIST) {
			add_err(e, file, line,
			    "%s.%s: expected an array of strings", group,
			    k->name);
			return;
		}
		n = config_setting_length(s);
		if (n < 1 || n > CONFIG_MAX_ENDPOINTS) {
			add_err(e, file, line,
			    "%s.%s: between 1 and %d endpoints needed", group,
			    k->name, CONFIG_MAX_ENDPOINTS);
			return;
		}
		for (i = 0; i < n; i++) {
			const char *str = config_setting_get_string_elem(s, i);
			if (str == NULL || strlen(str) >= CONFIG_PATH_MAX ||
			    (strncmp(str, "ipc://", 6) != 0 &&
			    strncmp(str, "tcp://", 6) != 0)) {
				add_err(e, file, line,
				    "%s.%s[%d]: expected \"ipc://...\" or "
				    "\"tcp://...\"", group, k->name, i);
				return;
			}
		}
		for (i = 0; i < n; i++)
			snprintf(ep->v[i], CONFIG_PATH_MAX, "%s",
			    config_setting_get_string_elem(s, i));
		ep->n = (size_t)n;
		return;
	}
	}
}

static void
read_group(struct smpd_config *cfg, config_t *lc, const char *group,
    const struct key *keys, const char *file, struct errbuf *e)
{
	config_setting_t *g = config_lookup(lc, group);
	int i, n;

	if (g == NULL)
		return;
	if (!config_setting_is_group(g)) {
		add_err(e, file, (int)config_setting_source_line(g),
		    "%s: expected a group { ... }", group);
		return;
	}
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct key *k;

		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, name) == 0)
				break;
		if (k->name == NULL) {
			add_err(e, file, (int)config_setting_source_line(s),
			    "%s.%s: unknown key", group, name);
			continue;
		}
		read_key(cfg, k, s, file, group, e);
	}
}

static uint64_t
file_digest(const char *path)
{
	uint64_t h = 1469598103934665603ULL;
	unsigned char buf[4096];
	size_t n, i;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (i = 0; i < n; i++) {
			h ^= buf[i];
			h *= 1099511628211ULL;
		}
	fclose(f);
	return h;
}

int
config_load(struct smpd_config *cfg, const char *path, char *err,
    size_t errlen)
{
	struct errbuf e = { err, errlen, 0, 0 };
	config_t lc;
	config_setting_t *root, *s;
	char perr[512];
	int i, n;
	bool have_port = false;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	config_init(&lc);
	if (!config_read_file(&lc, path)) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			add_err(&e, path, 0, "cannot read: %s",
			    strerror(errno));
		else
			add_err(&e, path, config_error_line(&lc), "%s",
			    config_error_text(&lc));
		goto done;
	}
	cfg->digest = file_digest(path);

	root = config_root_setting(&lc);
	n = config_setting_length(root);
	for (i = 0; i < n; i++) {
		const char *name;
		int j, known = 0;

		s = config_setting_get_elem(root, (unsigned)i);
		name = config_setting_name(s);
		if (strcmp(name, "machine_id") == 0) {
			const char *id = config_setting_get_string(s);
			if (id == NULL || id[0] == '\0' ||
			    strlen(id) >= sizeof(cfg->machine_id))
				add_err(&e, path,
				    (int)config_setting_source_line(s),
				    "machine_id: expected a non-empty string of "
				    "at most %zu bytes",
				    sizeof(cfg->machine_id) - 1);
			else
				snprintf(cfg->machine_id,
				    sizeof(cfg->machine_id), "%s", id);
			continue;
		}
		if (strcmp(name, "controller") == 0 ||
		    strcmp(name, "session") == 0 ||
		    strcmp(name, "control") == 0 ||
		    strcmp(name, "status") == 0)
			continue;
		for (j = 0; planner_groups[j] != NULL; j++)
			if (strcmp(planner_groups[j], name) == 0)
				known = 1;
		if (!known)
			add_err(&e, path, (int)config_setting_source_line(s),
			    "%s: unknown key", name);
	}

	read_group(cfg, &lc, "controller", controller_keys, path, &e);
	read_group(cfg, &lc, "session", session_keys, path, &e);
	read_group(cfg, &lc, "control", control_keys, path, &e);
	read_group(cfg, &lc, "status", status_keys, path, &e);

	s = config_lookup(&lc, "controller.port");
	if (s != NULL && cfg->port[0] != '\0')
		have_port = true;
	if (!have_port)
		add_err(&e, path, 0, "controller.port: required");
	if (cfg->journal_dir[0] == '\0')
		add_err(&e, path, 0, "session.journal: must not be empty");
	if (cfg->ctl_curve && cfg->ctl_secret_key[0] == '\0')
		add_err(&e, path, 0,
		    "control.curve needs control.server_secret_key");
	if (cfg->ctl_curve && cfg->ctl_keys_dir[0] == '\0')
		add_err(&e, path, 0,
		    "control.curve needs control.client_keys_dir");
	if (cfg->pub_curve && cfg->pub_secret_key[0] == '\0' &&
	    cfg->ctl_secret_key[0] == '\0')
		add_err(&e, path, 0,
		    "status.curve needs a server_secret_key");

	/* The planner's groups: its own reader, its own checks. */
	if (pconfig_load(&cfg->planner, path, perr, sizeof(perr)) != 0 ||
	    pconfig_check(&cfg->planner, perr, sizeof(perr)) != 0)
		add_err(&e, path, -1, "%s", perr);
done:
	config_destroy(&lc);
	return e.count;
}

void
config_ctl_opts(const struct smpd_config *cfg, struct ctl_opts *o)
{
	const struct config_endpoints *ep = &cfg->ctl_endpoints;

	memset(o, 0, sizeof(*o));
	o->endpoints = ep->ptr;
	o->n_endpoints = ep->n;
	o->curve = cfg->ctl_curve;
	o->server_secret_key = cfg->ctl_secret_key;
	o->client_keys_dir = cfg->ctl_keys_dir;
	o->ipc_mode = cfg->ctl_ipc_mode;
	o->ipc_group = cfg->ctl_ipc_group;
	o->max_message_bytes = cfg->ctl_max_message_bytes;
}

void
config_pub_opts(const struct smpd_config *cfg, struct pub_opts *o)
{
	const struct config_endpoints *ep = &cfg->pub_endpoints;

	memset(o, 0, sizeof(*o));
	o->endpoints = ep->ptr;
	o->n_endpoints = ep->n;
	o->curve = cfg->pub_curve;
	o->server_secret_key = cfg->pub_secret_key[0] != '\0' ?
	    cfg->pub_secret_key : cfg->ctl_secret_key;
	o->client_keys_dir = cfg->pub_keys_dir[0] != '\0' ?
	    cfg->pub_keys_dir : cfg->ctl_keys_dir;
	o->ipc_mode = cfg->pub_ipc_mode;
	o->ipc_group = cfg->pub_ipc_group[0] != '\0' ? cfg->pub_ipc_group :
	    cfg->ctl_ipc_group;
	o->send_hwm = cfg->send_hwm;
	o->machine_id = cfg->machine_id;
}
