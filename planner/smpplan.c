/*
 * smpplan: plan a dot plan offline, exactly as smpd would, and write the
 * G-code and a report. It is the operator's check before a session (does
 * the plan validate, how long will it take) and the planner's test bench.
 *
 *   smpplan PLAN [-c CONFIG] [-o OUT.gcode] [--json] [--start X,Y,Z]
 *           [--heightmap FILE]
 *
 * Exit status: 0 planned, 1 the plan is invalid (every finding printed as
 * file:line:col: error: message), 2 usage, configuration or I/O error.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
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

static void
usage(void)
{
	fprintf(stderr, "usage: smpplan PLAN [-c CONFIG] [-o OUT.gcode] "
	    "[--json] [--start X,Y,Z]\n               [--heightmap FILE]\n"
	    "  PLAN     a dot plan, CSV or JSON (docs/plan-format.md)\n"
	    "  -c       configuration (etc/smpd.conf: machine, needle, "
	    "planner groups)\n"
	    "  -o       write the G-code there (default: standard output, "
	    "report on stderr)\n"
	    "  --json   the report as JSON\n"
	    "  --start  where the needle starts (work coords; default: above "
	    "the first dot)\n"
	    "  --heightmap  the skin's height map (docs/heightmap.md), in "
	    "place of\n"
	    "           needle.heightmap\n");
	exit(2);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
print_diags(const struct diag_list *dl, FILE *f)
{
	char buf[512];

	for (size_t i = 0; i < dl->n; i++)
		fprintf(f, "%s\n", diag_format(dl, i, buf, sizeof(buf)));
	if (dl->dropped > 0)
		fprintf(f, "%s: and %zu more\n", dl->source, dl->dropped);
}

static int
write_lines(FILE *f, const struct gcode_line *l, int n, size_t *bytes)
{
	for (int i = 0; i < n; i++) {
		if (fwrite(l[i].text, 1, l[i].len, f) != l[i].len ||
		    fputc('\n', f) == EOF)
			return -1;
		*bytes += (size_t)l[i].len + 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "start", required_argument, NULL, 's' },
		{ "heightmap", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct planner_config cfg;
	struct diag_list *dl = NULL;
	struct plan *plan = NULL;
	struct surface *surf = NULL;
	struct toolpath tp;
	struct gcode_emitter em;
	struct gcode_line lines[GCODE_MAX_LINES_PER_DOT];
	struct order_stats ost;
	uint32_t *order = NULL;
	const char *cfgpath = NULL, *outpath = NULL, *planpath;
	const char *hmpath = NULL;
	double start[3], t0, t_parse, t_valid, t_order, t_tp, t_emit, est;
	double mst, *start_xy = NULL;
	bool json = false, have_start = false;
	size_t bytes = 0, dwell_changed = 0;
	FILE *out = NULL, *rep;
	char err[512];
	int c, rc = 2, n;

	memset(&tp, 0, sizeof(tp));
	while ((c = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'o': outpath = optarg; break;
		case 'j': json = true; break;
		case 'm': hmpath = optarg; break;
		case 's': {
			/* exactly three numbers: a missing Z must not leave
			 * the start height to chance */
			char *e = optarg;
			int k;
			for (k = 0; k < 3; k++) {
				const char *b = k == 0 ? e : e + 1;
				if (k > 0 && *e != ',')
					break;
				start[k] = strtod(b, &e);
				if (e == b)
					break;
			}
			if (k < 3 || *e != '\0' || !isfinite(start[0]) ||
			    !isfinite(start[1]) || !isfinite(start[2])) {
				fprintf(stderr, "smpplan: --start wants X,Y,Z "
				    "in mm, got \"%s\"\n", optarg);
				return 2;
			}
			have_start = true;
			break;
		}
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	planpath = argv[optind];
	pconfig_defaults(&cfg);
	if (cfgpath != NULL && pconfig_load(&cfg, cfgpath, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "smpplan: %s\n", err);
		return 2;
	}
	if (hmpath != NULL) {
		if (strlen(hmpath) >= sizeof(cfg.heightmap_path)) {
			fprintf(stderr, "smpplan: --heightmap: path longer than "
			    "%zu characters\n", sizeof(cfg.heightmap_path) - 1);
			return 2;
		}
		snprintf(cfg.heightmap_path, sizeof(cfg.heightmap_path), "%s",
		    hmpath);
	}
	dl = diag_list_new(cfg.max_diags, planpath);
	if (dl == NULL)
		goto fail;
	t0 = now_s();
	plan = plan_read_file(planpath, &cfg, dl);
	t_parse = now_s() - t0;
	if (plan == NULL) {
		print_diags(dl, stderr);
		rc = dl->n > 0 && dl->v[0].line == 0 && dl->v[0].path[0] == 0 &&
		    strncmp(dl->v[0].msg, "cannot open", 11) == 0 ? 2 : 1;
		goto fail;
	}
	t0 = now_s();
	{
		struct diag_list *sdl = diag_list_new(cfg.max_diags,
		    cfg.heightmap_path[0] ? cfg.heightmap_path : planpath);
		if (sdl == NULL)
			goto fail;
		surf = surface_for_plan(&cfg, plan, sdl);
		if (surf == NULL) {
			print_diags(sdl, stderr);
			diag_list_destroy(&sdl);
			goto fail;
		}
		diag_list_destroy(&sdl);
	}
	if (plan_validate(plan, &cfg, surf, dl) < 0) {
		print_diags(dl, stderr);
		rc = 1;
		goto fail;
	}
	t_valid = now_s() - t0;

	t0 = now_s();
	order = malloc(plan->n * sizeof(uint32_t));
	if (order == NULL)
		goto fail;
	if (have_start)
		start_xy = start;
	if (order_plan(plan, start_xy, cfg.seed, cfg.order_time_budget_s,
	    order, &ost) < 0) {
		fprintf(stderr, "smpplan: out of memory ordering\n");
		goto fail;
	}
	t_order = now_s() - t0;
	if (ost.budget_hit)
		diag_add(dl, DIAG_WARNING, 0, 0, "", "ordering stopped at the "
		    "%.0f s time cap: this order is not reproducible",
		    cfg.order_time_budget_s > 0 ? cfg.order_time_budget_s : 20.0);

	t0 = now_s();
	if (!have_start) {
		const struct dot *d = &plan->dots[order[0]];
		start[0] = d->x_mm;
		start[1] = d->y_mm;
		/* the dots' own surface may sit above the dot itself */
		start[2] = fmax(d->z_mm + cfg.clearance_mm, toolpath_safe_z(
		    surf, &cfg, d->x_mm, d->y_mm, d->x_mm, d->y_mm));
	}
	if (toolpath_build(&tp, plan, order, plan->n, start, surf, &cfg, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "%s: error: %s\n", planpath, err);
		rc = 1;
		goto fail;
	}
	for (size_t i = 0; i < tp.n; i++)
		if (tp.d[i].dwell_ms != tp.d[i].dwell_asked_ms) {
			const struct dot *d = &plan->dots[tp.d[i].plan_index];
			dwell_changed++;
			char path[32] = "";
			if (plan->format == PLAN_FORMAT_JSON)
				snprintf(path, sizeof(path), "dots[%u]",
				    d->src_line);
			diag_add(dl, DIAG_WARNING, plan->format ==
			    PLAN_FORMAT_CSV ? d->src_line : 0, 0, path, "dot %lld:"
			    " dwell %u ms runs as %u ms (GRBL dwells in 50 ms "
			    "steps)", (long long)d->id, tp.d[i].dwell_asked_ms,
			    tp.d[i].dwell_ms);
		}
	t_tp = now_s() - t0;

	t0 = now_s();
	if (outpath != NULL) {
		out = fopen(outpath, "w");
		if (out == NULL) {
			fprintf(stderr, "smpplan: %s: %s\n", outpath,
			    strerror(errno));
			goto fail;
		}
	} else
		out = stdout;
	gcode_emitter_init(&em, &cfg);
	n = gcode_preamble(&em, lines);
	n += gcode_needle_on(&em, lines + n);
	if (write_lines(out, lines, n, &bytes) < 0)
		goto werr;
	for (size_t i = 0; i < tp.n; i++) {
		n = gcode_dot(&em, &tp, i, lines);
		if (write_lines(out, lines, n, &bytes) < 0)
			goto werr;
	}
	n = gcode_postamble(&em, lines);
	if (write_lines(out, lines, n, &bytes) < 0 || fflush(out) != 0)
		goto werr;
	t_emit = now_s() - t0;
	est = estimate_toolpath(&tp, &cfg, NULL);
	mst = order_mst_length(plan);

	rep = outpath != NULL ? stdout : stderr;
	if (json) {
		json_t *r = json_object(), *w = json_array();
		char buf[512];
		for (size_t i = 0; i < dl->n; i++)
			json_array_append_new(w, json_string(diag_format(dl, i,
			    buf, sizeof(buf))));
		json_object_set_new(r, "plan", json_string(planpath));
		json_object_set_new(r, "dots", json_integer((json_int_t)
		    plan->n));
		json_object_set_new(r, "xy_path_mm", json_real(tp.xy_length_mm));
		json_object_set_new(r, "mst_mm", json_real(mst));
		json_object_set_new(r, "path_over_mst", json_real(mst > 0 ?
		    tp.xy_length_mm / mst : 0));
		json_object_set_new(r, "z_travel_mm", json_real(tp.z_travel_mm));
		json_object_set_new(r, "z_travel_per_dot_mm",
		    json_real(tp.z_travel_mm / (double)tp.n));
		json_object_set_new(r, "estimated_s", json_real(est));
		json_object_set_new(r, "gcode_bytes", json_integer((json_int_t)
		    bytes));
		json_object_set_new(r, "bytes_per_dot", json_real((double)bytes
		    / (double)tp.n));
		json_object_set_new(r, "dwell_changed", json_integer(
		    (json_int_t)dwell_changed));
		json_object_set_new(r, "phases_s", json_pack("{s:f,s:f,s:f,"
		    "s:f,s:f}", "parse", t_parse, "validate", t_valid, "order",
		    t_order, "toolpath", t_tp, "emit", t_emit));
		json_object_set_new(r, "order", json_pack("{s:f,s:f,s:f,s:I,"
		    "s:I,s:b}", "initial_mm", ost.initial_mm, "local_mm",
		    ost.local_mm, "final_mm", ost.final_mm, "kicks",
		    (json_int_t)ost.kicks, "kicks_kept",
		    (json_int_t)ost.kicks_kept, "time_cap_hit",
		    ost.budget_hit));
		json_object_set_new(r, "warnings_total",
		    json_integer((json_int_t)dl->warnings));
		json_object_set_new(r, "warnings", w);
		json_dumpf(r, rep, JSON_INDENT(2));
		fputc('\n', rep);
		json_decref(r);
	} else {
		print_diags(dl, rep);
		fprintf(rep, "dots            %zu\n", plan->n);
		fprintf(rep, "xy path         %.1f mm (MST bound %.1f mm, "
		    "ratio %.3f)\n", tp.xy_length_mm, mst, mst > 0 ?
		    tp.xy_length_mm / mst : 0);
		fprintf(rep, "vertical travel %.2f mm per dot\n",
		    tp.z_travel_mm / (double)tp.n);
		fprintf(rep, "estimated time  %.1f s (%.0f min %.0f s)\n", est,
		    floor(est / 60), fmod(est, 60));
		fprintf(rep, "g-code          %zu bytes, %.1f per dot\n", bytes,
		    (double)bytes / (double)tp.n);
		fprintf(rep, "warnings        %zu\n", dl->warnings);
		fprintf(rep, "planning        parse %.3f s, validate %.3f s, "
		    "order %.3f s, toolpath %.3f s, emit %.3f s\n", t_parse,
		    t_valid, t_order, t_tp, t_emit);
	}
	rc = 0;
	goto done;
werr:
	fprintf(stderr, "smpplan: writing G-code: %s\n", strerror(errno));
	rc = 2;
fail:
done:
	if (out != NULL && out != stdout && fclose(out) != 0 && rc == 0) {
		fprintf(stderr, "smpplan: %s: %s\n", outpath, strerror(errno));
		rc = 2;
	}
	toolpath_free(&tp);
	free(order);
	surface_destroy(&surf);
	plan_destroy(&plan);
	diag_list_destroy(&dl);
	return rc;
}
