/*
 * smpd's configuration: the libconfig file documented by etc/smpd.conf. This
 * module reads the top-level machine_id and the controller, session, control
 * and status groups; the machine, needle and planner groups belong to the
 * planner and are read by pconfig_load() so that smpplan and smpd plan
 * identically from one file. Every error names file:line; unknown keys are
 * errors, because a misspelt safety key silently left at its default is how
 * a machine ends up doing what nobody configured.
 */
#ifndef SMP_DAEMON_CONFIG_H
#define SMP_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ctl.h"
#include "daemon/pub.h"
#include "planner/pconfig.h"

#define CONFIG_MAX_ENDPOINTS 8
#define CONFIG_PATH_MAX 256

struct config_endpoints {
	char v[CONFIG_MAX_ENDPOINTS][CONFIG_PATH_MAX];
	const char *ptr[CONFIG_MAX_ENDPOINTS]; /* ptr[i] == v[i], for opts */
	size_t n;
};

struct smpd_config {
	char path[CONFIG_PATH_MAX];
	uint64_t digest;               /* FNV-1a of the file's bytes */
	char machine_id[64];

	/* controller */
	char port[CONFIG_PATH_MAX];
	int baud;
	double status_poll_hz;
	int watchdog_ms;
	int connect_timeout_ms;
	int reconnect_max_ms;
	bool homing;

	/* session */
	char journal_dir[CONFIG_PATH_MAX]; /* one journal file per session */
	int heartbeat_ms;
	bool require_heartbeat;
	int max_dots_in_flight;
	bool guard;                        /* the guard process (guard.h) */

	/* control */
	struct config_endpoints ctl_endpoints;
	bool ctl_curve;
	char ctl_secret_key[CONFIG_PATH_MAX];
	char ctl_keys_dir[CONFIG_PATH_MAX];
	int ctl_ipc_mode;
	char ctl_ipc_group[64];
	size_t ctl_max_message_bytes;

	/* status */
	struct config_endpoints pub_endpoints;
	double rate_running_hz;
	double rate_idle_hz;
	bool pub_curve;
	char pub_secret_key[CONFIG_PATH_MAX];
	char pub_keys_dir[CONFIG_PATH_MAX];
	int pub_ipc_mode;
	char pub_ipc_group[64];
	int send_hwm;

	/* machine, needle, planner (pconfig_load) */
	struct planner_config planner;
};

/* The built-in defaults, as etc/smpd.conf documents them. */
void config_defaults(struct smpd_config *cfg);

/*
 * Reads path over the defaults. Every problem found is appended to err as
 * one "file:line: message" line (as many as fit). Returns the number of
 * errors (0 = the configuration is usable).
 */
int config_load(struct smpd_config *cfg, const char *path, char *err,
    size_t errlen);

/* Points the endpoint arrays' ptr[] at their strings again: call it after
 * copying a struct smpd_config (config_defaults does it). */
void config_fix_pointers(struct smpd_config *cfg);

/* Fills the endpoint options from cfg (pointers into cfg). */
void config_ctl_opts(const struct smpd_config *cfg, struct ctl_opts *o);
void config_pub_opts(const struct smpd_config *cfg, struct pub_opts *o);

#endif /* SMP_DAEMON_CONFIG_H */
