/*
 * Toolpath: the ordered dots turned into the heights the needle moves at.
 * Every dot is delivered the same way (DESIGN.md): hop at a safe height to
 * above the dot, descend to the clearance plane above the skin, plunge at the
 * plunge feed to skin - depth, dwell, retract to the clearance plane.
 *
 *        hop_z  ___________________________
 *              |                           |
 *   clear_z  __|  (prev dot)               |__ clear_z (this dot)
 *             ||                             |
 *   skin ~~~~~||~~~~~~~~~~~~~~~~~~~~~~~~~~~~~|~~~~~~~~~~
 *   bottom_z  v                              v  dwell
 *
 * hop_z is the lowest height that clears the skin by clearance along the
 * whole straight XY segment from the previous position, not just at its ends.
 * All heights are work coordinates in mm. The daemon rebuilds a toolpath from
 * the machine's current position when it resumes, so the start is an input.
 */
#ifndef SMP_PLANNER_TOOLPATH_H
#define SMP_PLANNER_TOOLPATH_H

#include <stddef.h>
#include <stdint.h>

#include "planner/plan.h"
#include "planner/pconfig.h"

struct surface;

struct toolpath_dot {
	uint32_t plan_index;  /* index into plan->dots */
	double x_mm, y_mm;    /* work coordinates */
	double skin_z;        /* skin surface at the dot */
	double clear_z;       /* skin_z + clearance */
	double hop_z;         /* safe height of the lateral move to this dot */
	double bottom_z;      /* skin_z - depth (depth capped by max_depth) */
	uint32_t dwell_ms;    /* as the controller will really dwell (50 ms steps) */
	uint32_t dwell_asked_ms; /* as the plan asked */
};

struct toolpath {
	struct toolpath_dot *d;
	size_t n;
	double start[3];      /* where the needle is before the first dot */
	double xy_length_mm;  /* lateral travel */
	double z_travel_mm;   /* vertical travel */
};

/*
 * Builds the toolpath of the dots order[0..n) of plan, starting from start
 * (work coordinates; start[2] must already be clear of the skin). Every dot's
 * skin height is resolved (dot z, else the surface). Fails, with a message in
 * err, if a dot or a hop would leave the envelope or a depth exceeds the
 * hard maximum. Returns 0 or -1; on failure *tp is left empty.
 */
int toolpath_build(struct toolpath *tp, const struct plan *plan,
    const uint32_t *order, size_t n, const double start[3],
    const struct surface *surf, const struct planner_config *cfg, char *err,
    size_t errlen);
/* Frees the arrays of tp (not tp itself); accepts an empty toolpath. */
void toolpath_free(struct toolpath *tp);

/* The lowest height clearing the skin by clearance along the XY segment
 * (x0,y0)-(x1,y1). */
double toolpath_safe_z(const struct surface *surf,
    const struct planner_config *cfg, double x0, double y0, double x1,
    double y1);

/* The dwell GRBL really performs for a request: ceil(ms / 50) * 50 ms. */
uint32_t toolpath_grbl_dwell_ms(uint32_t asked_ms);

#endif /* SMP_PLANNER_TOOLPATH_H */
