/*
 * Planner benchmark, and the generator of the bundled sample plans.
 *
 *   bench_planner [SIZES...]          e.g. 10000 100000 1000000 (default
 *                                     10k and 100k; 1M takes a while)
 *   bench_planner --gen-sample DIR    writes scalp-heightmap.txt,
 *                                     sample.csv and small.csv (the files in
 *                                     examples/plans; fixed seed, so the
 *                                     output is the same every time)
 *   --write-plans DIR                 also writes each generated plan as
 *                                     DIR/<kind>-<size>.csv, with the start
 *                                     point in a "# start X,Y" line, for an
 *                                     outside solver (docs/planner.md, LKH)
 *   --ref FILE                        lines "<kind>-<size>,<length mm>" (a
 *                                     best known open path from the start,
 *                                     e.g. LKH-3's): prints our path over it
 *
 * For each size and kind (scalp-like: jittered 40/cm^2 grid thinned to
 * 20-40 dots/cm^2 with a feathered edge; uniform random) it generates a plan
 * with a fixed seed, renders it as CSV, and times the whole plan step the
 * way smpd runs it: parse, validate, order, toolpath, emit. It prints the
 * times, the path over the MST lower bound and the G-code bytes per dot.
 * Benchmarks report; they never fail on time.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "planner/estimate.h"
#include "planner/gcode.h"
#include "planner/order.h"
#include "planner/pconfig.h"
#include "planner/plan.h"
#include "planner/surface.h"
#include "planner/toolpath.h"

static uint64_t rng_state;

/* Options shared by every plan of a run. */
static const char *write_dir;  /* --write-plans DIR, or NULL */
static const char *ref_file;   /* --ref FILE, or NULL */

static double
urand(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The demo scalp: a dome, -3 mm at the rim rising to 0 at the crown. */
static double
dome_z(double x, double y)
{
	return -3.0 + 3.0 * exp(-((x / 40) * (x / 40) + (y / 50) * (y / 50)));
}

/* Text buffer */
struct buf {
	char *p;
	size_t n, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->n)
			break;
		b->cap = b->cap ? b->cap * 2 : 1 << 16;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL) {
			perror("realloc");
			exit(1);
		}
	}
	b->n += (size_t)n;
}

/* Scalp-like plan of about n dots: a jittered grid at 40 dots/cm^2 over a
 * square sized for n, kept with a probability that falls from 1 (centre) to
 * 0.5 (20/cm^2) and then to 0 over the outer feather band. */
static void
gen_scalp(struct buf *b, size_t n)
{
	double step = sqrt(100.0 / 40.0);       /* mm between grid points */
	double side = sqrt((double)n / 0.30) * step;
	long cells = (long)(side / step);
	size_t k = 0;

	bprintf(b, "# scalp-like benchmark plan\nid,x,y,depth,dwell_ms\n");
	for (long j = 0; j < cells; j++)
		for (long i = 0; i < cells; i++) {
			double x = (i + 0.25 + 0.5 * urand()) * step - side / 2;
			double y = (j + 0.25 + 0.5 * urand()) * step - side / 2;
			double r = hypot(x, y) / (side / 2), keep;
			keep = r < 0.6 ? 1.0 - r / 1.2 : r < 1.0 ?
			    0.5 * (1.0 - (r - 0.6) / 0.4) : 0;
			if (urand() >= keep)
				continue;
			bprintf(b, "%zu,%.3f,%.3f,0.8,50\n", ++k, x, y);
		}
}

static void
gen_uniform(struct buf *b, size_t n)
{
	double side = sqrt((double)n / 0.3);    /* 30 dots/cm^2 */

	bprintf(b, "# uniform benchmark plan\nid,x,y,depth,dwell_ms\n");
	for (size_t k = 1; k <= n; k++)
		bprintf(b, "%zu,%.3f,%.3f,0.8,50\n", k, (urand() - 0.5) * side,
		    (urand() - 0.5) * side);
}

/* The reference length of plan `name` in ref_file, or -1 if none. */
static double
ref_length(const char *name)
{
	FILE *f;
	char line[256];
	double len = -1;
	size_t nl = strlen(name);

	if (ref_file == NULL)
		return -1;
	f = fopen(ref_file, "r");
	if (f == NULL) {
		perror(ref_file);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *end;
		double v;
		if (strncmp(line, name, nl) != 0 || line[nl] != ',')
			continue;
		v = strtod(line + nl + 1, &end);
		if (end != line + nl + 1 && v > 0)
			len = v;
	}
	fclose(f);
	return len;
}

/* The plan as generated, for a reference solver outside this tree. */
static int
write_plan(const char *name, const struct buf *b, const double *start)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.csv", write_dir, name);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	/* exact: the start is the least x and y of 3-decimal dots */
	fprintf(f, "# start %.3f,%.3f\n", start[0], start[1]);
	if (fwrite(b->p, 1, b->n, f) != b->n || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

static int
bench_one(const char *kind, size_t n)
{
	struct planner_config cfg;
	struct diag_list *dl;
	struct buf b = { 0 };
	struct plan *p;
	struct surface *s;
	struct toolpath tp;
	struct gcode_emitter em;
	struct gcode_line l[GCODE_MAX_LINES_PER_DOT];
	struct order_stats ost;
	uint32_t *order;
	double t0, tparse, tval, tord, ttp, temit, mst, start[3], est, ref;
	size_t bytes = 0;
	char err[256], name[64], refs[16];

	pconfig_defaults(&cfg);
	for (int a = 0; a < 2; a++) {
		cfg.env_min_mm[a] = -2000;
		cfg.env_max_mm[a] = 2000;
	}
	cfg.min_spacing_mm = 0.01;
	cfg.max_dots = 2000000;
	cfg.spacing = SPACING_WARN;
	rng_state = 12345;
	if (strcmp(kind, "scalp") == 0)
		gen_scalp(&b, n);
	else
		gen_uniform(&b, n);
	snprintf(name, sizeof(name), "%s-%zu", kind, n);
	dl = diag_list_new(20, kind);
	t0 = now_s();
	p = plan_read_csv_mem(b.p, b.n, kind, &cfg, dl);
	tparse = now_s() - t0;
	if (p == NULL) {
		fprintf(stderr, "bench: generated plan rejected\n");
		return -1;
	}
	t0 = now_s();
	s = surface_flat(0);
	if (plan_validate(p, &cfg, s, dl) < 0) {
		fprintf(stderr, "bench: generated plan invalid\n");
		return -1;
	}
	tval = now_s() - t0;
	order = malloc(p->n * sizeof(uint32_t));
	start[0] = p->dots[0].x_mm;
	start[1] = p->dots[0].y_mm;
	start[2] = 1.0;
	for (size_t i = 0; i < p->n; i++) {
		start[0] = fmin(start[0], p->dots[i].x_mm);
		start[1] = fmin(start[1], p->dots[i].y_mm);
	}
	if (write_dir != NULL && write_plan(name, &b, start) < 0) {
		free(order);
		return -1;
	}
	t0 = now_s();
	if (order == NULL || order_plan(p, start, cfg.seed, 0, order,
	    &ost) < 0) {
		fprintf(stderr, "bench: out of memory\n");
		return -1;
	}
	tord = now_s() - t0;
	t0 = now_s();
	if (toolpath_build(&tp, p, order, p->n, start, s, &cfg, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		return -1;
	}
	ttp = now_s() - t0;
	t0 = now_s();
	gcode_emitter_init(&em, &cfg);
	{
		int k = gcode_preamble(&em, l);
		k += gcode_needle_on(&em, l + k);
		for (int i = 0; i < k; i++)
			bytes += l[i].len + 1u;
		for (size_t d = 0; d < tp.n; d++) {
			k = gcode_dot(&em, &tp, d, l);
			for (int i = 0; i < k; i++)
				bytes += l[i].len + 1u;
		}
		k = gcode_postamble(&em, l);
		for (int i = 0; i < k; i++)
			bytes += l[i].len + 1u;
	}
	temit = now_s() - t0;
	est = estimate_toolpath(&tp, &cfg, NULL);
	mst = order_mst_length(p);
	ref = ref_length(name);
	if (ref > 0)
		snprintf(refs, sizeof(refs), "%.4f", ost.final_mm / ref);
	else
		snprintf(refs, sizeof(refs), "-");
	printf("%-8s %8zu %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f | %6.3f %6.3f "
	    "%6.3f | %5.1f %8.0f | %6.3f %7lu | %11.3f %s\n", kind, p->n,
	    tparse, tval, tord, ttp, temit, tparse + tval + tord + ttp + temit,
	    ost.initial_mm / mst, ost.local_mm / mst, ost.final_mm / mst,
	    (double)bytes / (double)p->n, est, ost.local_s, ost.kicks,
	    ost.final_mm, refs);
	/* One line for scripts/bench.sh's closing table. */
	printf("figure: plan step, %s %zu dots | %.2f s; path %.3f x MST%s%s; "
	    "%.1f B/dot\n", kind, p->n, tparse + tval + tord + ttp + temit,
	    ost.final_mm / mst, ref > 0 ? ", x LKH-3 " : "", ref > 0 ? refs :
	    "", (double)bytes / (double)p->n);
	fflush(stdout);
	toolpath_free(&tp);
	free(order);
	surface_destroy(&s);
	plan_destroy(&p);
	diag_list_destroy(&dl);
	free(b.p);
	return 0;
}

/* examples/plans: the dome height map, sample.csv (~300 dots, Poisson disk
 * r >= 1.2 mm by dart throwing in a crown-shaped patch), small.csv and
 * sample.json (small.csv's dots as JSON). */
static int
gen_sample(const char *dir)
{
	char path[512];
	FILE *f;
	double ox = -50, oy = -60, st = 2.0, *z;
	size_t nx = 51, ny = 61;
	struct surface *s;
	double px[400], py[400];
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/scalp-heightmap.txt", dir);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	z = malloc(nx * ny * sizeof(double));
	fprintf(f, "# Demo scalp patch: a dome, -3 mm at the rim rising to 0 "
	    "at the crown\n# (z = -3 + 3 exp(-((x/40)^2 + (y/50)^2))). "
	    "Generated by\n# bench_planner --gen-sample; format in "
	    "docs/heightmap.md.\nsmp-heightmap 1\norigin %g %g\nstep %g %g\n"
	    "size %zu %zu\n", ox, oy, st, st, nx, ny);
	for (size_t j = 0; j < ny; j++)
		for (size_t i = 0; i < nx; i++) {
			/* round to what the file holds, so the surface the
			 * planner reads is the one the dots were placed on */
			double v = round(dome_z(ox + (double)i * st, oy +
			    (double)j * st) * 1000) / 1000;
			z[j * nx + i] = v;
			fprintf(f, "%.3f%c", v, i + 1 == nx ? '\n' : ' ');
		}
	fclose(f);
	s = surface_grid(ox, oy, st, st, nx, ny, z);
	free(z);
	rng_state = 2026;
	for (int tries = 0; tries < 200000 && n < 300; tries++) {
		/* crown: an ellipse around (0, 10), 17 x 22 mm semi-axes */
		double x = (urand() * 2 - 1) * 17, y = 10 + (urand() * 2 - 1) * 22;
		size_t k;
		if ((x / 17) * (x / 17) + ((y - 10) / 22) * ((y - 10) / 22) > 1)
			continue;
		x = round(x * 1000) / 1000;
		y = round(y * 1000) / 1000;
		for (k = 0; k < n; k++)
			if (hypot(px[k] - x, py[k] - y) < 1.2)
				break;
		if (k < n)
			continue;
		px[n] = x;
		py[n] = y;
		n++;
	}
	for (int which = 0; which < 2; which++) {
		size_t m = which ? 20 : n;
		snprintf(path, sizeof(path), "%s/%s", dir, which ? "small.csv" :
		    "sample.csv");
		f = fopen(path, "w");
		if (f == NULL) {
			perror(path);
			return -1;
		}
		fprintf(f, "# %s demo plan on the dome of scalp-heightmap.txt: "
		    "%zu dots, spacing >= 1.2 mm,\n# depth 0.8 mm, dwell 50 ms, "
		    "z from the height map. Generated by\n# bench_planner "
		    "--gen-sample.\nid,x,y,z,depth,dwell_ms\n", which ?
		    "Small" : "Crown", m);
		for (size_t k = 0; k < m; k++)
			fprintf(f, "%zu,%.3f,%.3f,%.3f,0.8,50\n", k + 1, px[k],
			    py[k], surface_z(s, px[k], py[k]));
		fclose(f);
	}
	/* sample.json: small.csv's dots in the JSON format, depth and dwell
	 * as plan defaults, so both readers plan the demo identically */
	snprintf(path, sizeof(path), "%s/sample.json", dir);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	fprintf(f, "{\n  \"format\": \"smp-dot-plan\",\n  \"version\": 1,\n"
	    "  \"units\": \"mm\",\n  \"comment\": \"small.csv in JSON: 20 dots "
	    "on the dome of scalp-heightmap.txt. Generated by bench_planner "
	    "--gen-sample.\",\n  \"defaults\": { \"depth\": 0.8, "
	    "\"dwell_ms\": 50 },\n  \"dots\": [\n");
	for (size_t k = 0; k < 20 && k < n; k++)
		fprintf(f, "    { \"id\": %zu, \"x\": %.3f, \"y\": %.3f, "
		    "\"z\": %.3f }%s\n", k + 1, px[k], py[k], surface_z(s,
		    px[k], py[k]), k + 1 < 20 && k + 1 < n ? "," : "");
	fprintf(f, "  ]\n}\n");
	fclose(f);
	surface_destroy(&s);
	printf("wrote %s: %zu dots in sample.csv, 20 in small.csv and "
	    "sample.json\n", dir, n);
	return 0;
}

int
main(int argc, char **argv)
{
	size_t sizes[8] = { 10000, 100000 };
	int ns = 0;

	if (argc == 3 && strcmp(argv[1], "--gen-sample") == 0)
		return gen_sample(argv[2]) < 0;
	for (int i = 1; i < argc; i++) {
		char *end;
		if (strcmp(argv[i], "--write-plans") == 0 && i + 1 < argc)
			write_dir = argv[++i];
		else if (strcmp(argv[i], "--ref") == 0 && i + 1 < argc)
			ref_file = argv[++i];
		else if (ns < 8 && (sizes[ns] = strtoul(argv[i], &end, 10)) >
		    0 && *end == '\0')
			ns++;
		else {
			fprintf(stderr, "usage: bench_planner [--write-plans DIR]"
			    " [--ref FILE] [SIZES...]\n       bench_planner "
			    "--gen-sample DIR\n");
			return 2;
		}
	}
	if (ns == 0) {
		sizes[0] = 10000;
		sizes[1] = 100000;
		ns = 2;
	}
	printf("%-8s %8s %7s %7s %7s %7s %7s %7s | %6s %6s %6s | %5s %8s | "
	    "%6s %7s | %11s %s\n", "plan", "dots", "parse", "valid", "order",
	    "tpath", "emit", "total", "start", "local", "final", "B/dot", "est_s",
	    "loc_s", "kicks", "path_mm", "/ref");
	printf("%-8s %8s %7s %7s %7s %7s %7s %7s | %20s | %5s\n", "", "",
	    "s", "s", "s", "s", "s", "s", "path / MST bound", "");
	for (int i = 0; i < ns; i++) {
		if (bench_one("scalp", sizes[i]) < 0 ||
		    bench_one("uniform", sizes[i]) < 0)
			return 1;
	}
	return 0;
}
