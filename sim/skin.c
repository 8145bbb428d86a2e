/*
 * The skin model (see skin.h). A path piece is cut into sub-pieces short
 * enough (0.1 mm in XY) that the surface is close to planar over each, and
 * the surface crossings are found by linear interpolation of the depth along
 * the piece; a purely vertical piece is never cut, so the depth of a plunge
 * is exact.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim/skin.h"

#define SKIN_STEP_MM 0.1
#define SKIN_MAX_STEPS 10000  /* 0.1 mm steps up to 1 m, coarser beyond */
#define SKIN_EPS_MM 1e-6   /* deeper than this counts as inside */
#define SKIN_LATERAL_MM 0.001

struct skin {
	double origin[3];
	double flat_z;
	/* height map, when nx > 0 */
	double hx0, hy0, hdx, hdy;
	int nx, ny;
	double *h;
	/* dot plan points (x, y, z), when npts > 0, hashed in cells */
	double *pts;
	size_t npts;
	int *cell_start, *cell_pts;
	int gx, gy;
	double gx0, gy0;
	FILE *log;
	/* the penetration in progress */
	bool inside;
	double in_t, in_x, in_y;  /* entry, skin coordinates */
	double depth, deep[3];     /* deepest point, machine */
	double lateral;
	bool needle_any;
	bool needle;
	size_t n, violations;
};

struct skin *
skin_new_flat(double z_mm, const double origin[3])
{
	struct skin *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	memcpy(s->origin, origin, sizeof(s->origin));
	s->flat_z = z_mm;
	return s;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Reads the next number from *p; col gives its column (1-based) in line. */
static int
next_num(const char **p, const char *line, double *v, int *col)
{
	char *end;

	while (**p == ' ' || **p == '\t')
		(*p)++;
	*col = (int)(*p - line) + 1;
	if (**p == '\0')
		return 1;
	errno = 0;
	*v = strtod(*p, &end);
	if (end == *p || errno != 0 || !isfinite(*v) ||
	    (*end != '\0' && *end != ' ' && *end != '\t'))
		return -1;
	*p = end;
	return 0;
}

struct skin *
skin_new_heightmap(const char *path, const double origin[3], char *err,
    size_t errlen)
{
	struct skin *s = NULL;
	FILE *f = NULL;
	char line[65536];
	int lineno = 0, stage = 0, row = 0;
	bool have_origin = false, have_step = false;

	if ((f = fopen(path, "r")) == NULL) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((s = skin_new_flat(0, origin)) == NULL) {
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *hash = strchr(line, '#'), *nl = strchr(line, '\n');
		const char *p = line;
		double v[2];
		int col, i, rc;

		lineno++;
		if (nl == NULL && !feof(f)) {
			seterr(err, errlen, "%s:%d: line too long", path, lineno);
			goto fail;
		}
		if (nl != NULL)
			*nl = '\0';
		if (hash != NULL)
			*hash = '\0';
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\0')
			continue;
		for (char *q = line + strlen(line); q > line &&
		    (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\r');)
			*--q = '\0';
		if (stage == 0) {
			if (strcmp(p, "smp-heightmap 1") != 0) {
				seterr(err, errlen, "%s:%d:1: expected "
				    "\"smp-heightmap 1\"", path, lineno);
				goto fail;
			}
			stage = 1;
			continue;
		}
		if (stage == 1) {
			const char *kw = p;
			size_t kl = strcspn(p, " \t");
			p += kl;
			for (i = 0; i < 2; i++) {
				rc = next_num(&p, line, &v[i], &col);
				if (rc != 0) {
					seterr(err, errlen, "%s:%d:%d: %s", path,
					    lineno, col, rc > 0 ?
					    "missing number" : "not a number");
					goto fail;
				}
			}
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != '\0') {
				seterr(err, errlen, "%s:%d:%d: unexpected text",
				    path, lineno, (int)(p - line) + 1);
				goto fail;
			}
			if (kl == 6 && strncmp(kw, "origin", 6) == 0) {
				s->hx0 = v[0];
				s->hy0 = v[1];
				have_origin = true;
			} else if (kl == 4 && strncmp(kw, "step", 4) == 0) {
				if (v[0] <= 0 || v[1] <= 0) {
					seterr(err, errlen, "%s:%d: step must "
					    "be > 0", path, lineno);
					goto fail;
				}
				s->hdx = v[0];
				s->hdy = v[1];
				have_step = true;
			} else if (kl == 4 && strncmp(kw, "size", 4) == 0) {
				/* The planner's bounds: a map both read
				 * alike, and a header alone cannot ask for
				 * more than 1e8 points (800 MB). */
				if (v[0] < 2 || v[1] < 2 || v[0] > 10000 ||
				    v[1] > 10000 || v[0] != floor(v[0]) ||
				    v[1] != floor(v[1])) {
					seterr(err, errlen, "%s:%d: size must "
					    "be two integers in [2, 10000]",
					    path, lineno);
					goto fail;
				}
				if (!have_origin || !have_step) {
					seterr(err, errlen, "%s:%d: size before "
					    "origin and step", path, lineno);
					goto fail;
				}
				s->nx = (int)v[0];
				s->ny = (int)v[1];
				s->h = calloc((size_t)s->nx * (size_t)s->ny,
				    sizeof(double));
				if (s->h == NULL) {
					seterr(err, errlen, "out of memory");
					goto fail;
				}
				stage = 2;
			} else {
				seterr(err, errlen, "%s:%d:1: expected origin, "
				    "step or size", path, lineno);
				goto fail;
			}
			continue;
		}
		if (row >= s->ny) {
			seterr(err, errlen, "%s:%d:1: more than %d rows", path,
			    lineno, s->ny);
			goto fail;
		}
		for (i = 0; i < s->nx; i++) {
			rc = next_num(&p, line, &s->h[row * s->nx + i], &col);
			if (rc != 0) {
				seterr(err, errlen, "%s:%d:%d: %s (row %d has "
				    "%d of %d heights)", path, lineno, col,
				    rc > 0 ? "missing number" : "not a number",
				    row + 1, i, s->nx);
				goto fail;
			}
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0') {
			seterr(err, errlen, "%s:%d:%d: more than %d heights",
			    path, lineno, (int)(p - line) + 1, s->nx);
			goto fail;
		}
		row++;
	}
	if (stage < 2 || row < s->ny) {
		seterr(err, errlen, "%s:%d: %s", path, lineno, stage < 2 ?
		    "missing header line" : "fewer rows than size says");
		goto fail;
	}
	fclose(f);
	return s;
fail:
	if (f != NULL)
		fclose(f);
	skin_destroy(&s);
	return NULL;
}

/* Splits a CSV line in place into at most max fields. */
static int
csv_split(char *line, char **f, int max)
{
	int n = 0;

	f[n++] = line;
	for (; *line != '\0'; line++)
		if (*line == ',') {
			*line = '\0';
			if (n >= max)
				return -1;
			f[n++] = line + 1;
		}
	return n;
}

static char *
trim(char *p)
{
	char *e;

	while (*p == ' ' || *p == '\t')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return p;
}

#define PLAN_CELL_MM 2.0

static int
plan_index(struct skin *s)
{
	double x1 = -INFINITY, y1 = -INFINITY;
	size_t i;
	int c, ncell;

	s->gx0 = s->gy0 = INFINITY;
	for (i = 0; i < s->npts; i++) {
		s->gx0 = fmin(s->gx0, s->pts[3 * i]);
		s->gy0 = fmin(s->gy0, s->pts[3 * i + 1]);
		x1 = fmax(x1, s->pts[3 * i]);
		y1 = fmax(y1, s->pts[3 * i + 1]);
	}
	/* The cell counts are checked as doubles first: dots kilometres
	 * apart would not fit an int. */
	if (!(((x1 - s->gx0) / PLAN_CELL_MM + 1) *
	    ((y1 - s->gy0) / PLAN_CELL_MM + 1) <= 4e7))
		return -1;
	s->gx = (int)((x1 - s->gx0) / PLAN_CELL_MM) + 1;
	s->gy = (int)((y1 - s->gy0) / PLAN_CELL_MM) + 1;
	if ((double)s->gx * s->gy > 4e7)
		return -1;
	ncell = s->gx * s->gy;
	s->cell_start = calloc((size_t)ncell + 1, sizeof(int));
	s->cell_pts = calloc(s->npts, sizeof(int));
	if (s->cell_start == NULL || s->cell_pts == NULL)
		return -1;
	for (i = 0; i < s->npts; i++) {
		c = (int)((s->pts[3 * i + 1] - s->gy0) / PLAN_CELL_MM) * s->gx +
		    (int)((s->pts[3 * i] - s->gx0) / PLAN_CELL_MM);
		s->cell_start[c + 1]++;
	}
	for (c = 0; c < ncell; c++)
		s->cell_start[c + 1] += s->cell_start[c];
	int *fill = calloc((size_t)ncell, sizeof(int));
	if (fill == NULL)
		return -1;
	for (i = 0; i < s->npts; i++) {
		c = (int)((s->pts[3 * i + 1] - s->gy0) / PLAN_CELL_MM) * s->gx +
		    (int)((s->pts[3 * i] - s->gx0) / PLAN_CELL_MM);
		s->cell_pts[s->cell_start[c] + fill[c]++] = (int)i;
	}
	free(fill);
	return 0;
}

struct skin *
skin_new_plan(const char *path, const double origin[3], char *err,
    size_t errlen)
{
	struct skin *s = NULL;
	FILE *f = NULL;
	char line[4096], *fld[64];
	int lineno = 0, cx = -1, cy = -1, cz = -1, nf, i;
	size_t cap = 0;

	if ((f = fopen(path, "r")) == NULL) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((s = skin_new_flat(0, origin)) == NULL)
		goto oom;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p;
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((nf = csv_split(p, fld, 64)) < 0) {
			seterr(err, errlen, "%s:%d: too many columns", path,
			    lineno);
			goto fail;
		}
		if (cx < 0 && cy < 0 && cz < 0) {
			for (i = 0; i < nf; i++) {
				char *h = trim(fld[i]);
				if (strcmp(h, "x") == 0) cx = i;
				else if (strcmp(h, "y") == 0) cy = i;
				else if (strcmp(h, "z") == 0) cz = i;
			}
			if (cx < 0 || cy < 0 || cz < 0) {
				seterr(err, errlen, "%s:%d: the header needs x, "
				    "y and z columns", path, lineno);
				goto fail;
			}
			continue;
		}
		if (s->npts == cap) {
			cap = cap ? cap * 2 : 1024;
			double *np = realloc(s->pts, cap * 3 * sizeof(double));
			if (np == NULL)
				goto oom;
			s->pts = np;
		}
		int col[3] = {cx, cy, cz};
		for (i = 0; i < 3; i++) {
			char *end, *v;
			if (col[i] >= nf) {
				seterr(err, errlen, "%s:%d: missing column %c",
				    path, lineno, "xyz"[i]);
				goto fail;
			}
			v = trim(fld[col[i]]);
			errno = 0;
			s->pts[3 * s->npts + i] = strtod(v, &end);
			if (end == v || *end != '\0' || errno != 0 ||
			    !isfinite(s->pts[3 * s->npts + i])) {
				seterr(err, errlen, "%s:%d:%d: %c is not a number",
				    path, lineno, (int)(fld[col[i]] - line) + 1,
				    "xyz"[i]);
				goto fail;
			}
		}
		s->npts++;
	}
	if (s->npts == 0) {
		seterr(err, errlen, "%s: no dots", path);
		goto fail;
	}
	if (plan_index(s) < 0) {
		seterr(err, errlen, "%s: plan too large to index", path);
		goto fail;
	}
	fclose(f);
	return s;
oom:
	seterr(err, errlen, "out of memory");
fail:
	if (f != NULL)
		fclose(f);
	skin_destroy(&s);
	return NULL;
}

/* Inverse-distance weighting of the dots within the surrounding cells (the
 * nearest dot alone when none is that close): exact at every dot. */
static double
plan_height(const struct skin *s, double x, double y)
{
	/* Cells of a point far off the grid, clamped to where the search
	 * (at most 2048 cells around) still finds no cell of it: the answer
	 * is the same, and the cell numbers stay ints. */
	int ci = (int)fmin(fmax(floor((x - s->gx0) / PLAN_CELL_MM), -8192),
	    (double)s->gx + 8192);
	int cj = (int)fmin(fmax(floor((y - s->gy0) / PLAN_CELL_MM), -8192),
	    (double)s->gy + 8192);
	double wsum = 0, zsum = 0, best = INFINITY, bestz = 0;
	int r, i, j, k;

	for (r = 1; r < 4096; r *= 2) {
		for (j = cj - r; j <= cj + r; j++) {
			if (j < 0 || j >= s->gy)
				continue;
			for (i = ci - r; i <= ci + r; i++) {
				if (i < 0 || i >= s->gx)
					continue;
				int c = j * s->gx + i;
				for (k = s->cell_start[c];
				    k < s->cell_start[c + 1]; k++) {
					const double *p = &s->pts[3 *
					    s->cell_pts[k]];
					double d2 = (p[0] - x) * (p[0] - x) +
					    (p[1] - y) * (p[1] - y);
					if (d2 < 1e-18)
						return p[2];
					if (d2 < best) {
						best = d2;
						bestz = p[2];
					}
					if (r == 1) {
						wsum += 1 / d2;
						zsum += p[2] / d2;
					}
				}
			}
		}
		if (wsum > 0)
			return zsum / wsum;
		if (isfinite(best))
			return bestz;
	}
	return s->pts[2]; /* farther than any search: the first dot */
}

void
skin_destroy(struct skin **s)
{
	if (s == NULL || *s == NULL)
		return;
	free((*s)->pts);
	free((*s)->cell_start);
	free((*s)->cell_pts);
	free((*s)->h);
	free(*s);
	*s = NULL;
}

void
skin_set_log(struct skin *s, FILE *log)
{
	s->log = log;
}

double
skin_height(const struct skin *s, double x, double y)
{
	double fx, fy, tx, ty;
	int i, j;

	if (s->npts > 0)
		return plan_height(s, x, y);
	if (s->nx == 0)
		return s->flat_z;
	fx = (x - s->hx0) / s->hdx;
	fy = (y - s->hy0) / s->hdy;
	if (fx < 0)
		fx = 0;
	if (fy < 0)
		fy = 0;
	if (fx > s->nx - 1)
		fx = s->nx - 1;
	if (fy > s->ny - 1)
		fy = s->ny - 1;
	i = (int)fx;
	j = (int)fy;
	if (i > s->nx - 2)
		i = s->nx - 2;
	if (j > s->ny - 2)
		j = s->ny - 2;
	tx = fx - i;
	ty = fy - j;
	return s->h[j * s->nx + i] * (1 - tx) * (1 - ty) +
	    s->h[j * s->nx + i + 1] * tx * (1 - ty) +
	    s->h[(j + 1) * s->nx + i] * (1 - tx) * ty +
	    s->h[(j + 1) * s->nx + i + 1] * tx * ty;
}

/* How far p (machine) is below the surface; negative above it. */
static double
depth_at(const struct skin *s, const double p[3])
{
	return skin_height(s, p[0] - s->origin[0], p[1] - s->origin[1]) -
	    (p[2] - s->origin[2]);
}

static void
finish(struct skin *s, double t)
{
	s->inside = false;
	if (s->lateral > SKIN_LATERAL_MM)
		s->violations++;
	if (s->log == NULL)
		return;
	fprintf(s->log, "{\"n\":%zu,\"t\":%.3f,\"x\":%.3f,\"y\":%.3f,"
	    "\"depth\":%.3f,\"dur_ms\":%.1f,\"needle\":%s,\"lateral\":%s,"
	    "\"lateral_mm\":%.3f,\"mx\":%.3f,\"my\":%.3f,\"mz\":%.3f}\n",
	    s->n, s->in_t, s->in_x, s->in_y, s->depth, (t - s->in_t) * 1e3,
	    s->needle_any ? "true" : "false",
	    s->lateral > SKIN_LATERAL_MM ? "true" : "false", s->lateral,
	    s->deep[0], s->deep[1], s->deep[2]);
	fflush(s->log);
}

static void
inside_point(struct skin *s, const double p[3], double d)
{
	double lx = p[0] - s->origin[0] - s->in_x;
	double ly = p[1] - s->origin[1] - s->in_y;
	double lat = sqrt(lx * lx + ly * ly);

	if (lat > s->lateral)
		s->lateral = lat;
	if (d > s->depth) {
		s->depth = d;
		memcpy(s->deep, p, sizeof(s->deep));
	}
}

static void
lerp3(const double a[3], const double b[3], double f, double out[3])
{
	int i;

	for (i = 0; i < 3; i++)
		out[i] = a[i] + (b[i] - a[i]) * f;
}

void
skin_track(struct skin *s, const double p0[3], const double p1[3], double t0,
    double t1)
{
	double dx = p1[0] - p0[0], dy = p1[1] - p0[1];
	double xy = sqrt(dx * dx + dy * dy);
	/* SKIN_STEP_MM steps, but at most SKIN_MAX_STEPS for one piece: a
	 * host may command a move of kilometres with soft limits off, far
	 * beyond any machine's travel, and it must not stall the simulator. */
	int n = xy > SKIN_STEP_MM ? (int)fmin(ceil(xy / SKIN_STEP_MM),
	    SKIN_MAX_STEPS) : 1, k;
	double a[3], b[3], da, db;

	memcpy(a, p0, sizeof(a));
	da = depth_at(s, a);
	for (k = 1; k <= n; k++) {
		double ta = t0 + (t1 - t0) * (k - 1) / n;
		double tb = t0 + (t1 - t0) * k / n;
		bool ina = da > SKIN_EPS_MM, inb;

		lerp3(p0, p1, (double)k / n, b);
		db = depth_at(s, b);
		inb = db > SKIN_EPS_MM;
		if (!ina && inb) {
			double f = (SKIN_EPS_MM - da) / (db - da), c[3];
			lerp3(a, b, f, c);
			s->inside = true;
			s->n++;
			s->in_t = ta + (tb - ta) * f;
			s->in_x = c[0] - s->origin[0];
			s->in_y = c[1] - s->origin[1];
			s->depth = 0;
			memcpy(s->deep, c, sizeof(s->deep));
			s->lateral = 0;
			s->needle_any = s->needle;
		}
		if (s->inside && inb) {
			inside_point(s, b, db);
		} else if (s->inside && !inb) {
			double f = (da - SKIN_EPS_MM) / (da - db), c[3];
			lerp3(a, b, f, c);
			inside_point(s, c, SKIN_EPS_MM);
			finish(s, ta + (tb - ta) * f);
		}
		memcpy(a, b, sizeof(a));
		da = db;
	}
}

void
skin_needle(struct skin *s, bool on, double t)
{
	if (s->needle == on)
		return;
	s->needle = on;
	if (on && s->inside)
		s->needle_any = true;
	if (s->log != NULL) {
		fprintf(s->log, "{\"event\":\"needle\",\"on\":%s,\"t\":%.3f}\n",
		    on ? "true" : "false", t);
		fflush(s->log);
	}
}

void
skin_event(struct skin *s, const char *name, double t, const char *extra)
{
	if (s->log == NULL)
		return;
	fprintf(s->log, "{\"event\":\"%s\",\"t\":%.3f%s%s}\n", name, t,
	    extra != NULL ? "," : "", extra != NULL ? extra : "");
	fflush(s->log);
}

void
skin_flush_open(struct skin *s, double t)
{
	if (s->inside)
		finish(s, t);
}

size_t
skin_penetrations(const struct skin *s)
{
	return s->n;
}

size_t
skin_violations(const struct skin *s)
{
	return s->violations;
}

bool
skin_needle_on(const struct skin *s)
{
	return s->needle;
}
