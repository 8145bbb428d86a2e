/*
 * Bucket grid (see grid.h): two passes of a counting sort, no per-cell
 * allocation, so a million points cost two arrays and two linear scans.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "planner/grid.h"

long
pgrid_cx(const struct pgrid *g, double x)
{
	double c = floor((x - g->x0) / g->cell_mm);

	if (!(c >= 0))
		return 0;
	if (c >= (double)g->nx)
		return g->nx - 1;
	return (long)c;
}

long
pgrid_cy(const struct pgrid *g, double y)
{
	double c = floor((y - g->y0) / g->cell_mm);

	if (!(c >= 0))
		return 0;
	if (c >= (double)g->ny)
		return g->ny - 1;
	return (long)c;
}

int
pgrid_build(struct pgrid *g, const double *xy, size_t stride, size_t n,
    double cell_mm)
{
	double xmin = INFINITY, ymin = INFINITY, xmax = -INFINITY;
	double ymax = -INFINITY, w, h, maxcells = 2.0 * (double)n + 16;
	size_t i, ncell;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < n; i++) {
		const double *p = xy + i * stride;
		xmin = fmin(xmin, p[0]); xmax = fmax(xmax, p[0]);
		ymin = fmin(ymin, p[1]); ymax = fmax(ymax, p[1]);
	}
	if (n == 0) {
		xmin = ymin = 0;
		xmax = ymax = 1;
	}
	w = xmax - xmin + 1e-9;
	h = ymax - ymin + 1e-9;
	if (!(cell_mm > 0))
		cell_mm = 1;
	/* Too many cells would cost more than the points: grow the cell. */
	if ((w / cell_mm + 1) * (h / cell_mm + 1) > maxcells)
		cell_mm = fmax(cell_mm, sqrt(w * h / maxcells) * 1.5 + 1e-9);
	while ((w / cell_mm + 1) * (h / cell_mm + 1) > maxcells)
		cell_mm *= 1.25;
	g->x0 = xmin;
	g->y0 = ymin;
	g->cell_mm = cell_mm;
	g->nx = (long)(w / cell_mm) + 1;
	g->ny = (long)(h / cell_mm) + 1;
	ncell = (size_t)g->nx * (size_t)g->ny;
	g->start = calloc(ncell + 1, sizeof(uint32_t));
	g->item = malloc((n ? n : 1) * sizeof(uint32_t));
	if (g->start == NULL || g->item == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		const double *p = xy + i * stride;
		g->start[pgrid_cy(g, p[1]) * g->nx + pgrid_cx(g, p[0]) + 1]++;
	}
	for (i = 0; i < ncell; i++)
		g->start[i + 1] += g->start[i];
	{
		uint32_t *fill = malloc((ncell ? ncell : 1) * sizeof(uint32_t));
		if (fill == NULL)
			goto fail;
		memcpy(fill, g->start, ncell * sizeof(uint32_t));
		for (i = 0; i < n; i++) {
			const double *p = xy + i * stride;
			long c = pgrid_cy(g, p[1]) * g->nx + pgrid_cx(g, p[0]);
			/* c < ncell: pgrid_cx/cy clamp into the grid, and
			 * fill holds all ncell starts. */
			g->item[fill[c]++] = (uint32_t)i; // NOLINT(clang-analyzer-core.uninitialized.Assign)
		}
		free(fill);
	}
	return 0;
fail:
	pgrid_free(g);
	return -1;
}

void
pgrid_free(struct pgrid *g)
{
	free(g->start);
	free(g->item);
	memset(g, 0, sizeof(*g));
}
