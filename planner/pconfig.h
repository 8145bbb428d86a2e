/*
 * The planner's view of the configuration: the needle, the work envelope, the
 * machine's kinematics (for the time estimate), and the plan policies. It is
 * read from the `machine`, `needle` and `planner` groups of the same libconfig
 * file the daemon reads (etc/smpd.conf documents every key), so that smpplan
 * and smpd plan identically from one file. Reading a file is the only I/O here.
 */
#ifndef SMP_PLANNER_PCONFIG_H
#define SMP_PLANNER_PCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum actuator_kind {
	ACTUATOR_SPINDLE = 0, /* M3 S<rate> / M5 */
	ACTUATOR_FLOOD,       /* M8 / M9 */
	ACTUATOR_MIST,        /* M7 / M9 */
	ACTUATOR_CUSTOM,      /* on_gcode / off_gcode lines */
};

enum spacing_policy { SPACING_REJECT = 0, SPACING_WARN };

struct planner_config {
	/* machine: work envelope in work coordinates (mm), inclusive */
	double env_min_mm[3], env_max_mm[3];
	/* machine kinematics as the controller has them ($110-$112,
	 * $120-$122, $11), used by the time estimate */
	double max_rate_mm_min[3];
	double accel_mm_s2[3];
	double junction_deviation_mm;
	int planner_blocks;           /* controller look-ahead, 15 on GRBL */

	/* needle */
	double clearance_mm;          /* clearance plane above the skin */
	double max_depth_mm;          /* hard maximum plunge below the skin */
	double min_depth_mm;          /* shallowest plunge accepted (>= 1 um) */
	double plunge_feed_mm_min;    /* feed into the skin */
	double retract_feed_mm_min;   /* feed out of the skin; 0 = rapid */
	uint32_t default_dwell_ms;
	double default_depth_mm;      /* when a plan omits depth; 0 = required */
	double skin_z_mm;             /* flat skin height when nothing better */
	char heightmap_path[256];     /* surface height map file; "" = none */
	enum actuator_kind actuator;
	double spindle_s;             /* S word for ACTUATOR_SPINDLE */
	char on_gcode[80], off_gcode[80]; /* ACTUATOR_CUSTOM lines */

	/* planner policies */
	double min_spacing_mm;
	enum spacing_policy spacing;
	size_t max_dots;
	uint64_t seed;                /* ordering search seed */
	double order_time_budget_s;   /* 0 = the default budget */
	bool line_numbers;            /* emit N words */
	size_t max_diags;             /* findings listed before "and N more" */
};

/* Fills cfg with the built-in defaults (documented in etc/smpd.conf). */
void pconfig_defaults(struct planner_config *cfg);

/*
 * Reads the planner's keys from a libconfig file over the defaults already
 * in cfg. Unknown keys in these groups, wrong types and out-of-range values
 * are errors. Returns 0, or -1 with "file:line: message" in err.
 */
int pconfig_load(struct planner_config *cfg, const char *path, char *err,
    size_t errlen);

/* True when depth_mm is a depth a dot may have: in [min_depth_mm,
 * max_depth_mm]. NaN is never one. Any caller. */
bool pconfig_depth_ok(const struct planner_config *cfg, double depth_mm);

/* Checks that the values are coherent (envelope min < max, depths > 0, ...).
 * Returns 0, or -1 with a message in err. */
int pconfig_check(const struct planner_config *cfg, char *err, size_t errlen);

#endif /* SMP_PLANNER_PCONFIG_H */
