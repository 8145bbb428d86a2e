/*
 * What the two plan-reader fuzz targets (fuzz_plan_csv, fuzz_plan_json)
 * share: one input goes through the path smpplan and smpd take with an
 * operator's file (reader, whole-plan validation, the surface, the toolpath
 * and the G-code of every dot), and at each step the promises the rest of
 * the machine relies on are checked, so that the fuzzer hunts for wrong
 * answers as well as for crashes:
 *
 *  - a reader returns a plan exactly when it recorded no error, and every
 *    finding it records formats to a terminated line;
 *  - every dot of a returned plan has finite coordinates, a depth in
 *    (0, max_depth] and a dwell in [0, 60000] ms;
 *  - a validated plan keeps every dot, its skin and its stroke inside the
 *    envelope;
 *  - the toolpath never plunges deeper than max_depth below the skin, hops
 *    at or above the clearance plane, and every G-code line is at most 79
 *    printable characters with no "nan" or "inf" in it.
 *
 * The configuration is the built-in default (etc/smpd.conf) with the
 * spacing policy at "warn", so that plans with close dots still reach the
 * toolpath stage rather than stopping at validation.
 */
#ifndef SMP_TESTS_FUZZ_PLAN_H
#define SMP_TESTS_FUZZ_PLAN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/gcode.h"
#include "planner/pconfig.h"
#include "planner/plan.h"
#include "planner/surface.h"
#include "planner/toolpath.h"

#define FUZZ_CHECK(c)                                                         \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "invariant failed at %s:%d: %s\n",    \
			    __FILE__, __LINE__, #c);                          \
			abort();                                              \
		}                                                             \
	} while (0)

/* Slack for comparisons of lengths the planner computed in doubles. */
#define FUZZ_EPS_MM 1e-6

static void
fuzz_check_diags(const struct diag_list *dl)
{
	char buf[512];

	FUZZ_CHECK(dl->n <= dl->cap);
	FUZZ_CHECK(dl->n + dl->dropped == dl->errors + dl->warnings);
	for (size_t i = 0; i < dl->n; i++) {
		const char *s = diag_format(dl, i, buf, sizeof(buf));
		FUZZ_CHECK(s == buf && strlen(buf) < sizeof(buf));
		FUZZ_CHECK(memchr(dl->v[i].msg, '\0', sizeof(dl->v[i].msg)));
		FUZZ_CHECK(memchr(dl->v[i].path, '\0', sizeof(dl->v[i].path)));
	}
}

static void
fuzz_check_line(const struct gcode_line *l)
{
	FUZZ_CHECK(l->len < sizeof(l->text) && l->len == strlen(l->text));
	for (size_t i = 0; i < l->len; i++)
		FUZZ_CHECK(l->text[i] >= 0x20 && l->text[i] < 0x7f);
	FUZZ_CHECK(strstr(l->text, "nan") == NULL &&
	    strstr(l->text, "inf") == NULL);
}

static void
fuzz_check_toolpath(const struct toolpath *tp,
    const struct planner_config *cfg)
{
	struct gcode_emitter e;
	struct gcode_line lines[GCODE_MAX_LINES_PER_DOT + 8];
	int n;

	for (size_t i = 0; i < tp->n; i++) {
		const struct toolpath_dot *d = &tp->d[i];
		FUZZ_CHECK(isfinite(d->skin_z) && isfinite(d->hop_z) &&
		    isfinite(d->bottom_z) && isfinite(d->clear_z));
		FUZZ_CHECK(d->bottom_z < d->skin_z);
		FUZZ_CHECK(d->skin_z - d->bottom_z <=
		    cfg->max_depth_mm + FUZZ_EPS_MM);
		FUZZ_CHECK(d->clear_z >= d->skin_z + cfg->clearance_mm -
		    FUZZ_EPS_MM);
		FUZZ_CHECK(d->hop_z >= d->clear_z - FUZZ_EPS_MM);
		FUZZ_CHECK(d->dwell_ms % 50 == 0 &&
		    d->dwell_ms >= d->dwell_asked_ms);
	}
	gcode_emitter_init(&e, cfg);
	n = gcode_preamble(&e, lines);
	FUZZ_CHECK(n >= 0 && n <= (int)(sizeof(lines) / sizeof(lines[0])));
	for (int k = 0; k < n; k++)
		fuzz_check_line(&lines[k]);
	for (size_t i = 0; i < tp->n; i++) {
		n = gcode_dot(&e, tp, i, lines);
		FUZZ_CHECK(n > 0 && n <= GCODE_MAX_LINES_PER_DOT);
		for (int k = 0; k < n; k++) {
			fuzz_check_line(&lines[k]);
			FUZZ_CHECK(lines[k].dot == i);
		}
	}
}

/* Runs one input through reader, validation, surface, toolpath and G-code;
 * format is "csv" or "json" (plan_read_mem, as the programs read files). */
static int
fuzz_plan_one(const uint8_t *data, size_t size, const char *format)
{
	struct planner_config cfg;
	struct diag_list *dl = NULL;
	struct plan *p = NULL;
	struct surface *surf = NULL;
	struct toolpath tp;
	uint32_t *order = NULL;
	char err[256];
	double start[3];

	memset(&tp, 0, sizeof(tp));
	pconfig_defaults(&cfg);
	cfg.spacing = SPACING_WARN;
	if ((dl = diag_list_new(cfg.max_diags, "<fuzz>")) == NULL)
		goto done;
	p = plan_read_mem((const char *)data, size, "<fuzz>", format, &cfg,
	    dl);
	fuzz_check_diags(dl);
	FUZZ_CHECK((p != NULL) == (dl->errors == 0));
	if (p == NULL)
		goto done;
	for (size_t i = 0; i < p->n; i++) {
		const struct dot *d = &p->dots[i];
		FUZZ_CHECK(isfinite(d->x_mm) && isfinite(d->y_mm) &&
		    isfinite(d->z_mm) && isfinite(d->depth_mm));
		FUZZ_CHECK(d->depth_mm > 0 && d->depth_mm <= cfg.max_depth_mm);
		FUZZ_CHECK(d->dwell_ms <= 60000);
	}

	/* The surface the programs would use, then the whole-plan checks. */
	surf = surface_for_plan(&cfg, p, dl);
	FUZZ_CHECK(surf != NULL);
	if (plan_validate(p, &cfg, surf, dl) != 0) {
		fuzz_check_diags(dl);
		FUZZ_CHECK(dl->errors > 0);
		goto done;
	}
	fuzz_check_diags(dl);
	FUZZ_CHECK(dl->errors == 0);
	for (size_t i = 0; i < p->n; i++) {
		const struct dot *d = &p->dots[i];
		double skin = surface_dot_skin(surf, &cfg, d);
		FUZZ_CHECK(d->x_mm >= cfg.env_min_mm[0] &&
		    d->x_mm <= cfg.env_max_mm[0]);
		FUZZ_CHECK(d->y_mm >= cfg.env_min_mm[1] &&
		    d->y_mm <= cfg.env_max_mm[1]);
		FUZZ_CHECK(skin - d->depth_mm >= cfg.env_min_mm[2] -
		    FUZZ_EPS_MM);
		FUZZ_CHECK(skin + cfg.clearance_mm <= cfg.env_max_mm[2] +
		    FUZZ_EPS_MM);
	}

	/* The plan order (the search is not what is fuzzed here) from the
	 * envelope's top corner, as a freshly homed machine would start. */
	if ((order = malloc(p->n * sizeof(*order))) == NULL)
		goto done;
	for (size_t i = 0; i < p->n; i++)
		order[i] = (uint32_t)i;
	start[0] = cfg.env_min_mm[0];
	start[1] = cfg.env_min_mm[1];
	start[2] = cfg.env_max_mm[2];
	if (toolpath_build(&tp, p, order, p->n, start, surf, &cfg, err,
	    sizeof(err)) == 0) {
		FUZZ_CHECK(tp.n == p->n);
		fuzz_check_toolpath(&tp, &cfg);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
done:
	toolpath_free(&tp);
	free(order);
	surface_destroy(&surf);
	plan_destroy(&p);
	diag_list_destroy(&dl);
	return 0;
}

#endif /* SMP_TESTS_FUZZ_PLAN_H */
