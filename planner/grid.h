/*
 * A uniform bucket grid over points in the plane, internal to the planner:
 * the spacing check, the neighbour lists of the ordering and the dots'
 * surface all need "which points lie near here" for up to a million points,
 * and a counting sort into cells answers that in linear time and two arrays.
 */
#ifndef SMP_PLANNER_GRID_H
#define SMP_PLANNER_GRID_H

#include <stddef.h>
#include <stdint.h>

struct pgrid {
	double x0, y0, cell_mm;
	long nx, ny;
	uint32_t *start;   /* nx*ny+1 offsets into item */
	uint32_t *item;    /* point indices grouped by cell */
};

/* Buckets n points (xy interleaved with stride doubles between points) into
 * cells of about cell_mm, enlarged so there are at most ~2n+16 cells.
 * Returns 0 or -1 on allocation failure. */
int pgrid_build(struct pgrid *g, const double *xy, size_t stride, size_t n,
    double cell_mm);
void pgrid_free(struct pgrid *g);
/* Cell coordinates of a point, clamped into the grid. */
long pgrid_cx(const struct pgrid *g, double x);
long pgrid_cy(const struct pgrid *g, double y);

#endif /* SMP_PLANNER_GRID_H */
