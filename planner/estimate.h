/*
 * The session-time model of a GRBL-class controller, so that smpplan can
 * report a session's length and the daemon an ETA. Each toolpath dot becomes
 * the blocks its G-code makes (hop up, lateral, descend, plunge, retract);
 * each block gets GRBL's nominal speed and acceleration (per-axis limits
 * scaled by the move's direction), junction speeds from the junction
 * deviation, and a look-ahead of planner_blocks ending at rest; dwells wait
 * for the planner to empty and last a whole number of 50 ms steps.
 */
#ifndef SMP_PLANNER_ESTIMATE_H
#define SMP_PLANNER_ESTIMATE_H

#include <stddef.h>

#include "planner/pconfig.h"
#include "planner/toolpath.h"

/*
 * Returns the estimated time in seconds from the first line to the end of
 * the program (needle on, every dot, the final retract, needle off), and
 * fills t_dot[i] (if not NULL, tp->n entries) with the time at which dot i's
 * dwell ends, i.e. when its confirming ok arrives.
 */
double estimate_toolpath(const struct toolpath *tp,
    const struct planner_config *cfg, double *t_dot);

#endif /* SMP_PLANNER_ESTIMATE_H */
