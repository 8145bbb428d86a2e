/*
 * The skin surface: where the skin is at any (x, y), so that a dot's depth is
 * measured from the skin at that dot and every hop clears the skin along its
 * whole length. Three kinds: a flat skin at one height; a height map
 * (docs/heightmap.md, bilinear between grid points, clamped at the edges);
 * and, when the dots carry z but no map is given, a conservative map built
 * from the dots themselves (each grid point holds the highest dot near it, so
 * the interpolated surface is never below a dot it was built from).
 */
#ifndef SMP_PLANNER_SURFACE_H
#define SMP_PLANNER_SURFACE_H

#include <stddef.h>

#include "planner/plan.h"
#include "planner/pconfig.h"

struct surface;

/* A height map's origin lies within +-SURFACE_MAX_COORD_MM and its steps in
 * [SURFACE_MIN_STEP_MM, SURFACE_MAX_COORD_MM]: grid coordinates of any point
 * of an envelope then stay finite. Dots farther out than that add nothing
 * to the dots' surface (they are outside every envelope). */
#define SURFACE_MAX_COORD_MM 1e6
#define SURFACE_MIN_STEP_MM 1e-3

/* A flat skin at z_mm. NULL on allocation failure. */
struct surface *surface_flat(double z_mm);
/* Parses a height map (docs/heightmap.md). NULL with every finding in dl. */
struct surface *surface_heightmap_mem(const char *buf, size_t len,
    struct diag_list *dl);
struct surface *surface_heightmap_read(const char *path, struct diag_list *dl);
/* A grid of nx*ny heights (row-major, row j at y = oy + j*dy). Copies z. */
struct surface *surface_grid(double ox, double oy, double dx, double dy,
    size_t nx, size_t ny, const double *z);
/* The conservative surface of the dots (see above); cell_mm is the grid
 * step. Dots without z count at skin_z_mm (the flat skin they are measured
 * from). NULL if no dot has z, or on allocation failure. */
struct surface *surface_from_dots(const struct plan *p, double cell_mm,
    double skin_z_mm);
/*
 * The surface smpplan and smpd use for a plan: the configured height map if
 * any, else the dots' own surface when some dots carry z, else flat at
 * skin_z_mm. NULL with the reason in dl (a height map error) or on
 * allocation failure.
 */
struct surface *surface_for_plan(const struct planner_config *cfg,
    const struct plan *p, struct diag_list *dl);
void surface_destroy(struct surface **s);

/*
 * The skin a dot's depth is measured from: its z when the plan gives one,
 * else the height map, else the flat skin at cfg->skin_z_mm (a surface built
 * from the dots bounds hops only; it is not a measurement). s may be NULL.
 */
double surface_dot_skin(const struct surface *s,
    const struct planner_config *cfg, const struct dot *d);

/* 1 for a height map (or grid): a measurement of the skin that a plan's
 * own z can be checked against; 0 for a flat skin or the dots' surface. */
int surface_is_measured(const struct surface *s);

/* Skin height at (x, y). */
double surface_z(const struct surface *s, double x_mm, double y_mm);
/* The highest skin along the straight segment (x0,y0)-(x1,y1): exact for
 * the bilinear surface (each grid cell crossed, its quadratic maximised). */
double surface_max_on_segment(const struct surface *s, double x0, double y0,
    double x1, double y1);

#endif /* SMP_PLANNER_SURFACE_H */
