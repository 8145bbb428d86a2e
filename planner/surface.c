/*
 * The skin surface (surface.h). A height map is bilinear inside each grid
 * cell and clamped outside the grid. Along a straight segment a bilinear
 * patch is a quadratic in the segment's parameter, so the highest skin under
 * a hop is found exactly: split the segment where it crosses grid lines (and
 * where clamping starts or stops), and in each piece take the larger of the
 * ends and the quadratic's vertex. Sampling would be cheaper to write but can
 * miss a ridge between samples; with a needle over skin that is not allowed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/grid.h"
#include "planner/surface.h"

struct surface {
	int flat;
	int from_dots;      /* bounds hops; not a measurement of the skin */
	double flat_z;
	double ox, oy, dx, dy;
	size_t nx, ny;
	double *z;          /* ny rows of nx */
};

struct surface *
surface_flat(double z_mm)
{
	struct surface *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->flat = 1;
	s->flat_z = z_mm;
	return s;
}

struct surface *
surface_grid(double ox, double oy, double dx, double dy, size_t nx,
    size_t ny, const double *z)
{
	struct surface *s = NULL;

	if (nx < 2 || ny < 2 || !(dx > 0) || !(dy > 0))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->z = malloc(nx * ny * sizeof(double));
	if (s->z == NULL) {
		free(s);
		return NULL;
	}
	memcpy(s->z, z, nx * ny * sizeof(double));
	s->ox = ox; s->oy = oy; s->dx = dx; s->dy = dy;
	s->nx = nx; s->ny = ny;
	return s;
}

void
surface_destroy(struct surface **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	free((*sp)->z);
	free(*sp);
	*sp = NULL;
}

/* Bilinear height in cell (i, j) at local (u, v) in [0,1]. */
static double
cell_z(const struct surface *s, size_t i, size_t j, double u, double v)
{
	const double *r0 = s->z + j * s->nx + i, *r1 = r0 + s->nx;

	return (1 - v) * ((1 - u) * r0[0] + u * r0[1]) +
	    v * ((1 - u) * r1[0] + u * r1[1]);
}

/* Grid coordinates of (x, y), clamped to [0, n-1]. */
static void
to_grid(const struct surface *s, double x, double y, double *gx, double *gy)
{
	*gx = fmin(fmax((x - s->ox) / s->dx, 0), (double)(s->nx - 1));
	*gy = fmin(fmax((y - s->oy) / s->dy, 0), (double)(s->ny - 1));
}

/* Clamps grid coordinates (already in cell units) into the grid. */
static void
clamp_grid(const struct surface *s, double x, double y, double *gx,
    double *gy)
{
	*gx = fmin(fmax(x, 0), (double)(s->nx - 1));
	*gy = fmin(fmax(y, 0), (double)(s->ny - 1));
}

static double
grid_z(const struct surface *s, double gx, double gy)
{
	size_t i = (size_t)gx, j = (size_t)gy;

	if (i >= s->nx - 1)
		i = s->nx - 2;
	if (j >= s->ny - 1)
		j = s->ny - 2;
	return cell_z(s, i, j, gx - (double)i, gy - (double)j);
}

double
surface_z(const struct surface *s, double x, double y)
{
	double gx, gy;

	if (s->flat)
		return s->flat_z;
	to_grid(s, x, y, &gx, &gy);
	return grid_z(s, gx, gy);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Adds to t[] every parameter in (0,1) where g0 + t*(g1-g0) crosses an
 * integer (a grid line) or the clamp bounds 0 and hi. */
static size_t
crossings(double a, double b, double hi, double *t, size_t n, size_t cap)
{
	double lo = fmin(a, b), up = fmax(a, b);
	double k;

	if (b == a)
		return n;
	/* Grid lines are whole numbers here: count them with an integer. */
	for (long kk = (long)ceil(fmax(lo, 0)); (double)kk <= fmin(up, hi) &&
	    n < cap; kk++) {
		k = (double)kk;
		if (k > lo && k < up)
			t[n++] = (k - a) / (b - a);
	}
	return n;
}

double
surface_max_on_segment(const struct surface *s, double x0, double y0,
    double x1, double y1)
{
	double ax, ay, bx, by, span, best, *t = NULL, tbuf[256];
	size_t n = 0, cap;

	if (s->flat)
		return s->flat_z;
	/* Unclamped grid coordinates of the ends. */
	ax = (x0 - s->ox) / s->dx; ay = (y0 - s->oy) / s->dy;
	bx = (x1 - s->ox) / s->dx; by = (y1 - s->oy) / s->dy;
	/* Written so that a NaN span (ends far outside a fine map) takes the
	 * bound too: a NaN converted to size_t is undefined. */
	span = fabs(bx - ax) + fabs(by - ay);
	cap = s->nx + s->ny + 8;
	if (span < (double)cap)
		cap = (size_t)span + 8;
	t = cap <= 256 ? tbuf : malloc(cap * sizeof(double));
	if (t == NULL) {
		/* Cannot split: the highest point of the whole map is safe. */
		best = -INFINITY;
		for (size_t i = 0; i < s->nx * s->ny; i++)
			best = fmax(best, s->z[i]);
		return best;
	}
	t[n++] = 0;
	t[n++] = 1;
	n = crossings(ax, bx, (double)(s->nx - 1), t, n, cap);
	n = crossings(ay, by, (double)(s->ny - 1), t, n, cap);
	qsort(t, n, sizeof(double), cmp_double);
	best = -INFINITY;
	for (size_t k = 0; k + 1 < n; k++) {
		double ta = t[k], tb = t[k + 1], tm = 0.5 * (ta + tb);
		double za, zb, zm, gx, gy, c2, c1, tv;
		size_t i, j;
		if (tb - ta < 1e-12) {
			clamp_grid(s, ax + ta * (bx - ax), ay + ta * (by - ay),
			    &gx, &gy);
			best = fmax(best, grid_z(s, gx, gy));
			continue;
		}
		/* The piece lies in one cell (clamped): find it from the
		 * midpoint and evaluate that cell's patch at three points. */
		clamp_grid(s, ax + tm * (bx - ax), ay + tm * (by - ay), &gx, &gy);
		i = (size_t)gx; j = (size_t)gy;
		if (i >= s->nx - 1) i = s->nx - 2;
		if (j >= s->ny - 1) j = s->ny - 2;
#define AT(tt, out) do { double px, py; clamp_grid(s, ax + (tt) * (bx - ax), \
    ay + (tt) * (by - ay), &px, &py); \
    (out) = cell_z(s, i, j, px - (double)i, py - (double)j); } while (0)
		AT(ta, za);
		AT(tb, zb);
		AT(tm, zm);
		best = fmax(best, fmax(za, zb));
		/* z(t) = za + c1 (t-ta) + c2 (t-ta)(t-tb), exact for a
		 * quadratic through the three points */
		c1 = (zb - za) / (tb - ta);
		c2 = (zm - za - c1 * (tm - ta)) / ((tm - ta) * (tm - tb));
		if (c2 < 0) {
			tv = 0.5 * (ta + tb) - c1 / (2 * c2);
			if (tv > ta && tv < tb) {
				double zv;
				AT(tv, zv);
				best = fmax(best, zv);
			}
		}
#undef AT
	}
	if (t != tbuf)
		free(t);
	return best;
}

/* ---- height map files ---- */

/* Reads the next whitespace-separated token, skipping '#' comments; tracks
 * line and column. Returns the token length, 0 at end. */
struct lexer {
	const char *p, *end;
	unsigned line, col;
	unsigned tline, tcol;     /* position of the last token */
	int newline;              /* a newline was passed before the token */
};

static size_t
lex(struct lexer *lx, const char **tok)
{
	lx->newline = 0;
	for (;;) {
		while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' ||
		    *lx->p == '\r')) {
			lx->p++;
			lx->col++;
		}
		if (lx->p < lx->end && *lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		}
		if (lx->p < lx->end && *lx->p == '\n') {
			lx->p++;
			lx->line++;
			lx->col = 1;
			lx->newline = 1;
			continue;
		}
		break;
	}
	if (lx->p >= lx->end)
		return 0;
	*tok = lx->p;
	lx->tline = lx->line;
	lx->tcol = lx->col;
	while (lx->p < lx->end && *lx->p != ' ' && *lx->p != '\t' &&
	    *lx->p != '\r' && *lx->p != '\n' && *lx->p != '#') {
		lx->p++;
		lx->col++;
	}
	return (size_t)(lx->p - *tok);
}

static int
tok_num(const char *t, size_t n, double *v)
{
	char buf[64], *end;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, t, n);
	buf[n] = '\0';
	*v = strtod(buf, &end);
	return *end == '\0' && isfinite(*v) ? 0 : -1;
}

/* Expects the keyword kw followed by count numbers on the same line. */
static int
header_line(struct lexer *lx, const char *kw, double *v, int count,
    struct diag_list *dl)
{
	const char *t;
	size_t n = lex(lx, &t);

	if (n != strlen(kw) || strncmp(t, kw, n) != 0) {
		diag_add(dl, DIAG_ERROR, lx->tline ? lx->tline : lx->line,
		    lx->tcol ? lx->tcol : 1, NULL, "expected \"%s\"", kw);
		return -1;
	}
	for (int i = 0; i < count; i++) {
		n = lex(lx, &t);
		if (n == 0 || lx->newline || tok_num(t, n, &v[i]) < 0) {
			diag_add(dl, DIAG_ERROR, lx->tline, lx->tcol, NULL,
			    "%s needs %d numbers", kw, count);
			return -1;
		}
	}
	return 0;
}

struct surface *
surface_heightmap_mem(const char *buf, size_t len, struct diag_list *dl)
{
	struct lexer lx = { buf, buf + len, 1, 1, 0, 0, 0 };
	struct surface *s = NULL;
	double ver, org[2], step[2], size[2], *z = NULL;
	size_t nx, ny, k = 0;
	unsigned row_line = 0, cnt = 0;
	const char *t;
	size_t n;

	if (header_line(&lx, "smp-heightmap", &ver, 1, dl) < 0)
		goto fail;
	if (ver != 1) {
		diag_add(dl, DIAG_ERROR, lx.tline, lx.tcol, NULL, "version "
		    "must be 1");
		goto fail;
	}
	if (header_line(&lx, "origin", org, 2, dl) < 0 ||
	    header_line(&lx, "step", step, 2, dl) < 0)
		goto fail;
	/* Bounded so that grid coordinates of any point of any envelope
	 * (machine.envelope_* is within +-10000 mm) stay finite and exact. */
	if (!(fabs(org[0]) <= SURFACE_MAX_COORD_MM) ||
	    !(fabs(org[1]) <= SURFACE_MAX_COORD_MM)) {
		diag_add(dl, DIAG_ERROR, lx.tline, 1, NULL, "origin must be "
		    "within +-%g mm", SURFACE_MAX_COORD_MM);
		goto fail;
	}
	if (!(step[0] >= SURFACE_MIN_STEP_MM) ||
	    !(step[1] >= SURFACE_MIN_STEP_MM) ||
	    !(step[0] <= SURFACE_MAX_COORD_MM) ||
	    !(step[1] <= SURFACE_MAX_COORD_MM)) {
		diag_add(dl, DIAG_ERROR, lx.tline, 1, NULL, "step must be in "
		    "[%g, %g] mm", SURFACE_MIN_STEP_MM, SURFACE_MAX_COORD_MM);
		goto fail;
	}
	if (header_line(&lx, "size", size, 2, dl) < 0)
		goto fail;
	if (size[0] < 2 || size[1] < 2 || size[0] > 10000 || size[1] > 10000 ||
	    size[0] != floor(size[0]) || size[1] != floor(size[1])) {
		diag_add(dl, DIAG_ERROR, lx.tline, 1, NULL, "size must be two "
		    "integers in [2, 10000]");
		goto fail;
	}
	nx = (size_t)size[0];
	ny = (size_t)size[1];
	z = malloc(nx * ny * sizeof(double));
	if (z == NULL) {
		diag_add(dl, DIAG_ERROR, 0, 0, NULL, "out of memory");
		goto fail;
	}
	while ((n = lex(&lx, &t)) > 0) {
		if (lx.tline != row_line) {
			if (row_line != 0 && cnt != nx) {
				diag_add(dl, DIAG_ERROR, row_line, 0, NULL,
				    "row has %u heights, size says %zu", cnt,
				    nx);
				goto fail;
			}
			row_line = lx.tline;
			cnt = 0;
		}
		if (k >= nx * ny) {
			diag_add(dl, DIAG_ERROR, lx.tline, lx.tcol, NULL,
			    "more rows than size says (%zu)", ny);
			goto fail;
		}
		if (tok_num(t, n, &z[k]) < 0) {
			diag_add(dl, DIAG_ERROR, lx.tline, lx.tcol, NULL,
			    "\"%.*s\" is not a finite number", (int)(n > 30 ?
			    30 : n), t);
			goto fail;
		}
		k++;
		cnt++;
	}
	if (row_line != 0 && cnt != nx) {
		diag_add(dl, DIAG_ERROR, row_line, 0, NULL, "row has %u "
		    "heights, size says %zu", cnt, nx);
		goto fail;
	}
	if (k != nx * ny) {
		diag_add(dl, DIAG_ERROR, lx.line, 0, NULL, "%zu rows, size "
		    "says %zu", k / nx, ny);
		goto fail;
	}
	s = surface_grid(org[0], org[1], step[0], step[1], nx, ny, z);
	if (s == NULL)
		diag_add(dl, DIAG_ERROR, 0, 0, NULL, "out of memory");
fail:
	free(z);
	return s;
}

struct surface *
surface_heightmap_read(const char *path, struct diag_list *dl)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long len;
	struct surface *s = NULL;

	if (f == NULL) {
		diag_add(dl, DIAG_ERROR, 0, 0, NULL, "height map %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)len + 1)) ==
	    NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		diag_add(dl, DIAG_ERROR, 0, 0, NULL, "height map %s: cannot "
		    "read", path);
		goto fail;
	}
	s = surface_heightmap_mem(buf, (size_t)len, dl);
fail:
	free(buf);
	fclose(f);
	return s;
}

/*
 * The dots' own surface: a grid of step cell_mm over the dots' bounding box
 * plus a cell of margin; each grid point takes the highest z among the dots
 * within 2 cells of it, and points with no dot near take the highest z of
 * all. Every dot lies within one cell diagonal (< 2 cells) of the four corners
 * of its cell, so the bilinear surface at a dot is at least the dot's z, and
 * between dots it is at least as high as the nearest dots: a hop over unknown
 * skin never drops below the skin the plan told us about.
 */
double
surface_dot_skin(const struct surface *s, const struct planner_config *cfg,
    const struct dot *d)
{
	if (d->flags & DOT_HAS_Z)
		return d->z_mm;
	if (s == NULL || s->from_dots)
		return cfg->skin_z_mm;
	return surface_z(s, d->x_mm, d->y_mm);
}

int
surface_is_measured(const struct surface *s)
{
	return s != NULL && !s->flat && !s->from_dots;
}

/* A dot close enough to the origin to be inside some envelope; the others
 * are refused by plan_validate, and their extent would overflow the grid. */
static int
dot_in_reach(const struct dot *d)
{
	return fabs(d->x_mm) <= SURFACE_MAX_COORD_MM &&
	    fabs(d->y_mm) <= SURFACE_MAX_COORD_MM &&
	    (!(d->flags & DOT_HAS_Z) || fabs(d->z_mm) <= SURFACE_MAX_COORD_MM);
}

struct surface *
surface_from_dots(const struct plan *p, double cell_mm, double skin_z_mm)
{
	double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY;
	double ymax = -INFINITY, zmax = -INFINITY, *z = NULL;
	size_t nx, ny, i, m = 0;
	struct surface *s = NULL;
	double *xyz = NULL;
	struct pgrid g;

	memset(&g, 0, sizeof(g));
	for (i = 0; i < p->n; i++) {
		const struct dot *d = &p->dots[i];
		if (!dot_in_reach(d))
			continue;
		xmin = fmin(xmin, d->x_mm); xmax = fmax(xmax, d->x_mm);
		ymin = fmin(ymin, d->y_mm); ymax = fmax(ymax, d->y_mm);
		zmax = fmax(zmax, d->flags & DOT_HAS_Z ? d->z_mm : skin_z_mm);
		m += (d->flags & DOT_HAS_Z) != 0;
	}
	if (m == 0 || !(cell_mm > 0))
		return NULL;
	m = 0;
	/* At most ~4M grid points whatever the plan's extent. */
	while (((xmax - xmin) / cell_mm + 3) * ((ymax - ymin) / cell_mm + 3) >
	    4e6)
		cell_mm *= 2;
	nx = (size_t)((xmax - xmin) / cell_mm) + 3;
	ny = (size_t)((ymax - ymin) / cell_mm) + 3;
	z = malloc(nx * ny * sizeof(double));
	xyz = malloc(p->n * 3 * sizeof(double));
	if (z == NULL || xyz == NULL)
		goto fail;
	for (i = 0; i < p->n; i++) {
		const struct dot *d = &p->dots[i];
		if (!dot_in_reach(d))
			continue;
		xyz[3 * m] = d->x_mm;
		xyz[3 * m + 1] = d->y_mm;
		xyz[3 * m + 2] = d->flags & DOT_HAS_Z ? d->z_mm : skin_z_mm;
		m++;
	}
	if (pgrid_build(&g, xyz, 3, m, cell_mm) < 0)
		goto fail;
	for (size_t j = 0; j < ny; j++)
		for (size_t k = 0; k < nx; k++) {
			double gx = xmin - cell_mm + (double)k * cell_mm;
			double gy = ymin - cell_mm + (double)j * cell_mm;
			double r = 2 * cell_mm, best = -INFINITY;
			long reach = (long)ceil(r / g.cell_mm);
			long cx = pgrid_cx(&g, gx), cy = pgrid_cy(&g, gy);
			for (long y = cy - reach; y <= cy + reach; y++) {
				if (y < 0 || y >= g.ny)
					continue;
				for (long x = cx - reach; x <= cx + reach; x++) {
					long c = y * g.nx + x;
					if (x < 0 || x >= g.nx)
						continue;
					for (uint32_t q = g.start[c];
					    q < g.start[c + 1]; q++) {
						const double *pt = xyz + 3 *
						    g.item[q];
						double ddx = pt[0] - gx;
						double ddy = pt[1] - gy;
						if (ddx * ddx + ddy * ddy <= r * r)
							best = fmax(best, pt[2]);
					}
				}
			}
			z[j * nx + k] = isfinite(best) ? best : zmax;
		}
	s = surface_grid(xmin - cell_mm, ymin - cell_mm, cell_mm, cell_mm, nx,
	    ny, z);
	if (s != NULL)
		s->from_dots = 1;
fail:
	pgrid_free(&g);
	free(xyz);
	free(z);
	return s;
}

struct surface *
surface_for_plan(const struct planner_config *cfg, const struct plan *p,
    struct diag_list *dl)
{
	struct surface *s;

	if (cfg->heightmap_path[0] != '\0')
		return surface_heightmap_read(cfg->heightmap_path, dl);
	if (p != NULL) {
		for (size_t i = 0; i < p->n; i++)
			if (p->dots[i].flags & DOT_HAS_Z) {
				if (!dot_in_reach(&p->dots[i]))
					continue;
				s = surface_from_dots(p, 2.0,
				    cfg->skin_z_mm);
				if (s == NULL)
					diag_add(dl, DIAG_ERROR, 0, 0, NULL,
					    "out of memory");
				return s;
			}
	}
	s = surface_flat(cfg->skin_z_mm);
	if (s == NULL)
		diag_add(dl, DIAG_ERROR, 0, 0, NULL, "out of memory");
	return s;
}
