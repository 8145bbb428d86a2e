/*
 * Checks a controller's settings (`$$`, as the link read them at connect)
 * against what the daemon and planner assume of the machine. Whether to
 * refuse a session is the daemon's policy; this only says what differs and
 * how much it matters: an ERROR is a hazard or makes the program wrong
 * (steppers released between dots, no soft limits, the actuator mode the
 * needle mapping needs, reports in inches), a WARNING makes the time
 * estimate or the preflight's picture of the machine wrong.
 *
 * It takes plain numbers, not the planner's configuration, so that drivers/
 * does not depend on what a planner_config means.
 */
#ifndef SMP_DRIVERS_GRBL_CHECK_H
#define SMP_DRIVERS_GRBL_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "drivers/link.h"

/* What the host expects of the controller. A zero or negative number means
 * "do not check this one". */
struct grbl_expect {
	double max_rate_mm_min[3];    /* $110-$112 the planner assumed */
	double accel_mm_s2[3];        /* $120-$122 */
	double junction_deviation_mm; /* $11 */
	double min_travel_mm[3];      /* $130-$132 must be at least this (the
	                                 work envelope's span per axis) */
	bool homing;                  /* the machine has switches: $22=1 */
	int laser_mode;               /* required $32 (0 or 1); -1: any. A
	                                 spindle-mapped needle needs 0, so that
	                                 M3/M5 wait for motion to stop */
	double rel_tol;               /* relative difference tolerated before a
	                                 warning (0 = 1e-3) */
};

enum grbl_check_level { GRBL_CHECK_WARNING = 1, GRBL_CHECK_ERROR = 2 };

struct grbl_finding {
	enum grbl_check_level level;
	int setting;                  /* the $N concerned */
	double have;                  /* the controller's value (NAN: absent) */
	double want;
	char text[200];               /* one line for the operator */
};

/*
 * Compares info's settings with e. Writes up to max findings to out (errors
 * first, then warnings, each in setting order) and returns how many there
 * are in all (possibly more than max); *nerrors (if not NULL) gets the
 * number of errors. Pure.
 */
size_t grbl_check_settings(const struct link_info *info,
    const struct grbl_expect *e, struct grbl_finding *out, size_t max,
    size_t *nerrors);

/* e with nothing to check but the safety settings ($1, $13, $20). */
void grbl_expect_defaults(struct grbl_expect *e);

#endif /* SMP_DRIVERS_GRBL_CHECK_H */
