/*
 * The time estimate against hand-computed GRBL motion: trapezoids and
 * triangles, the per-axis limits of a diagonal move, 90-degree corners
 * through the junction deviation, the 50 ms dwell steps, and the time of
 * each dot (what the daemon's ETA is built on). Then whole sessions against
 * smpsim's controller model on its virtual clock: the same G-code the daemon
 * streams, through a 115200 baud wire, the 128-byte receive buffer and the
 * 15-block planner, with a character-counting host that holds each plunge
 * as smpd does; the session time and every dot's time must agree within 1%.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/estimate.h"
#include "planner/gcode.h"
#include "planner/order.h"
#include "planner/plan.h"
#include "planner/surface.h"
#include "planner/toolpath.h"
#include "sim/gsim.h"
#include "test.h"

static struct toolpath_dot tdots[4];

static void
one_dot(struct toolpath *tp, double x, double y)
{
	memset(tp, 0, sizeof(*tp));
	memset(tdots, 0, sizeof(tdots));
	tdots[0].x_mm = x; tdots[0].y_mm = y;
	tdots[0].skin_z = 0; tdots[0].clear_z = 1; tdots[0].hop_z = 1;
	tdots[0].bottom_z = -0.8; tdots[0].dwell_ms = 50;
	tp->d = tdots;
	tp->n = 1;
	tp->start[2] = 1;
}

TEST(exact_trapezoids_triangles_and_dwell_steps)
{
	struct planner_config cfg;
	struct toolpath tp;
	double t[1], total, t2[1], tot2;

	pconfig_defaults(&cfg);
	one_dot(&tp, 0, 0);
	total = estimate_toolpath(&tp, &cfg, t);
	/* plunge 1.8 mm at 10 mm/s, 800 mm/s^2: 2*10/800 + (1.8-0.125)/10 */
	ASSERT_NEAR(t[0], 0.025 + 0.1675 + 0.05, 1e-9);
	/* retract 1.8 mm at 25 mm/s: 2*25/800 + (1.8 - 0.78125)/25 */
	ASSERT_NEAR(total, t[0] + 0.0625 + (1.8 - 0.78125) / 25, 1e-9);
	/* a lateral of 0.1 mm never reaches speed: from rest, out through
	 * a 90-degree corner (jd 0.01 allows a few mm/s), it takes between
	 * pure acceleration, sqrt(2*0.1/500) = 0.02 s, and the stop-to-stop
	 * triangle, 2*sqrt(0.1/500) = 0.0283 s, less what the plunge gains
	 * from not starting at rest */
	one_dot(&tp, 0.1, 0);
	tot2 = estimate_toolpath(&tp, &cfg, t2);
	ASSERT(tot2 - total > 0.015 && tot2 - total < 0.0283);
	/* a sharper junction deviation cannot make it slower */
	cfg.junction_deviation_mm = 0.1;
	ASSERT(estimate_toolpath(&tp, &cfg, NULL) <= tot2 + 1e-12);
	cfg.junction_deviation_mm = 0.01;
	/* dwell steps: 60 ms asked is 100 ms on GRBL */
	one_dot(&tp, 0, 0);
	tdots[0].dwell_ms = toolpath_grbl_dwell_ms(60);
	ASSERT_NEAR(estimate_toolpath(&tp, &cfg, NULL), total + 0.05, 1e-9);
}

TEST(diagonal_limits_and_dot_times)
{
	struct planner_config cfg;
	struct toolpath tp;
	double t[3], total, v, a, d, dt;

	pconfig_defaults(&cfg);
	one_dot(&tp, 30, 40);
	cfg.max_rate_mm_min[0] = 6000;     /* Y limits the diagonal */
	total = estimate_toolpath(&tp, &cfg, t);
	/* lateral 50 mm along (0.6, 0.8): v = min(100/.6, 50/.8) = 62.5
	 * mm/s, a = min(500/.6, 500/.8) = 625 mm/s^2; stop to stop, less
	 * what the corner into the plunge saves */
	v = 62.5; a = 625; d = v * v / a;
	one_dot(&tp, 0, 0);
	dt = total - estimate_toolpath(&tp, &cfg, NULL);
	ASSERT(dt <= v / a * 2 + (50 - d) / v + 1e-9);
	ASSERT(dt >= v / a * 2 + (50 - d) / v - 0.02);
	/* three dots: times increase by at least the dwell, the last before
	 * the end of the program */
	memset(tdots, 0, sizeof(tdots));
	for (int i = 0; i < 3; i++) {
		tdots[i].x_mm = i * 2.0; tdots[i].clear_z = 1;
		tdots[i].hop_z = 1; tdots[i].bottom_z = -0.8;
		tdots[i].dwell_ms = 50;
	}
	tp.n = 3;
	total = estimate_toolpath(&tp, &cfg, t);
	ASSERT(t[0] > 0.05 && t[1] > t[0] + 0.05 && t[2] > t[1] + 0.05);
	ASSERT(total > t[2]);
}

/* ---- whole sessions against smpsim's controller model ---- */

/* The host: GRBL's character counting over the 128-byte receive buffer,
 * answers read the moment they are due (no host latency), and smpd's rules
 * for a plunge (daemon/session.c): it goes only once the hop and descend
 * lines of its dot are answered, and with fewer than two dots in flight. */
struct host {
	struct gsim *g;
	struct gcode_line *l;
	size_t n, next;
	size_t fifo[256], fh, fn;     /* unanswered lines, oldest first */
	int bytes;
	size_t prelude;
	long next_plunge, next_confirm;
	bool hold_plunge;
	char rx[4096];            /* answers not yet read to their end */
	size_t rxn;
};

/* Takes the answers due now; returns how many were ok/error. */
static int
host_read(struct host *h, double *t_dot, double t0, double *t_end)
{
	int k = 0;
	char *nl;

	h->rxn += gsim_output(h->g, gsim_now(h->g), (uint8_t *)h->rx + h->rxn,
	    sizeof(h->rx) - h->rxn);
	ASSERT(h->rxn < sizeof(h->rx));
	while ((nl = memchr(h->rx, '\n', h->rxn)) != NULL) {
		size_t used = (size_t)(nl + 1 - h->rx);
		ASSERT_MSG(strncmp(h->rx, "error", 5) != 0 &&
		    strncmp(h->rx, "ALARM", 5) != 0, "controller: %.*s",
		    (int)used, h->rx);
		if (strncmp(h->rx, "ok", 2) == 0 && h->fn > 0) {
			const struct gcode_line *l = &h->l[h->fifo[h->fh]];
			h->bytes -= l->len + 1;
			h->fh = (h->fh + 1) % 256;
			h->fn--;
			if (l->role == GCODE_DWELL) {
				t_dot[l->dot] = gsim_now(h->g) - t0;
				h->next_confirm = (long)l->dot + 1;
			}
			if ((l->role == GCODE_HOP ||
			    l->role == GCODE_DESCEND) && h->prelude > 0)
				h->prelude--;
			if (l->role == GCODE_END)
				*t_end = gsim_now(h->g) - t0;
			k++;
		}
		memmove(h->rx, h->rx + used, h->rxn - used);
		h->rxn -= used;
	}
	return k;
}

static void
host_pump(struct host *h)
{
	char buf[256];
	size_t len = 0;

	while (h->next < h->n) {
		const struct gcode_line *l = &h->l[h->next];
		if (h->hold_plunge && l->role == GCODE_PLUNGE &&
		    (h->prelude > 0 || h->next_plunge - h->next_confirm >= 2))
			break;
		if (h->bytes + l->len + 1 > 128)
			break;
		ASSERT(h->fn < 256);
		memcpy(buf + len, l->text, l->len);
		buf[len + l->len] = '\n';
		len += (size_t)l->len + 1;
		h->bytes += l->len + 1;
		h->fifo[(h->fh + h->fn) % 256] = h->next;
		h->fn++;
		if (l->role == GCODE_PLUNGE)
			h->next_plunge = (long)l->dot + 1;
		if (l->role == GCODE_HOP || l->role == GCODE_DESCEND)
			h->prelude++;
		h->next++;
	}
	if (len > 0)
		gsim_input(h->g, gsim_now(h->g), (const uint8_t *)buf, len);
}

/* One line, sent and answered before the next (setup). */
static void
sim_command(struct gsim *g, const char *line)
{
	char out[512];
	size_t n = 0;
	int guard = 0;

	gsim_input(g, gsim_now(g), (const uint8_t *)line, strlen(line));
	do {
		ASSERT(guard++ < 100);
		gsim_run(g, INFINITY, true);
		n += gsim_output(g, gsim_now(g), (uint8_t *)out + n,
		    sizeof(out) - 1 - n);
		out[n] = '\0';
		ASSERT_MSG(strstr(out, "error") == NULL &&
		    strstr(out, "ALARM") == NULL, "%s -> %s", line, out);
	} while (strstr(out, "ok\r\n") == NULL);
}

/*
 * Runs toolpath tp (work coordinates) on smpsim's controller model with the
 * machine limits of sim_cfg, from rest at tp->start: the session's G-code
 * from the preamble to the program end, as smpd emits it. Fills t_dot[i]
 * with the time of dot i's dwell ok from the first line; returns the time of
 * the program end's ok.
 */
static double
sim_session(const struct toolpath *tp, const struct planner_config *sim_cfg,
    bool hold_plunge, double *t_dot)
{
	double o[3] = {0, 0, 0}, t0, t_end = -1;
	struct skin *sk = skin_new_flat(-1000, o);
	struct fault_set fs;
	struct gsim_opts go = {.baud = 115200};
	struct gcode_emitter em;
	struct host h;
	char line[128];
	int guard = 0;

	ASSERT_NOT_NULL(sk);
	fault_init(&fs, 1);
	memset(&h, 0, sizeof(h));
	h.hold_plunge = hold_plunge;
	h.g = gsim_new(&go, sk, &fs);
	ASSERT_NOT_NULL(h.g);
	gsim_power_up(h.g, 0);
	gsim_run(h.g, 1, false);
	gsim_output(h.g, 1, (uint8_t *)line, sizeof(line));
	sim_command(h.g, "$X\n");
	for (int a = 0; a < 3; a++) {
		snprintf(line, sizeof(line), "$%d=%.3f\n", 110 + a,
		    sim_cfg->max_rate_mm_min[a]);
		sim_command(h.g, line);
		snprintf(line, sizeof(line), "$%d=%.3f\n", 120 + a,
		    sim_cfg->accel_mm_s2[a]);
		sim_command(h.g, line);
	}
	snprintf(line, sizeof(line), "$11=%.4f\n",
	    sim_cfg->junction_deviation_mm);
	sim_command(h.g, line);
	/* the work origin inside the soft limits, then rest at the start */
	sim_command(h.g, "G10L2P1X-150Y-150Z-50\n");
	snprintf(line, sizeof(line), "G0X%.3fY%.3fZ%.3f\n", tp->start[0],
	    tp->start[1], tp->start[2]);
	sim_command(h.g, line);
	sim_command(h.g, "G4P0\n");

	h.l = calloc(tp->n * GCODE_MAX_LINES_PER_DOT + 8, sizeof(*h.l));
	ASSERT_NOT_NULL(h.l);
	gcode_emitter_init(&em, sim_cfg);
	h.n += (size_t)gcode_preamble(&em, h.l + h.n);
	h.n += (size_t)gcode_needle_on(&em, h.l + h.n);
	for (size_t i = 0; i < tp->n; i++)
		h.n += (size_t)gcode_dot(&em, tp, i, h.l + h.n);
	h.n += (size_t)gcode_postamble(&em, h.l + h.n);

	t0 = gsim_now(h.g);
	while (h.next < h.n || h.fn > 0) {
		ASSERT(guard++ < 10000000);
		host_pump(&h);
		gsim_run(h.g, INFINITY, true);
		if (host_read(&h, t_dot, t0, &t_end) == 0)
			ASSERT_MSG(isfinite(gsim_next_event(h.g)) ||
			    gsim_output_due(h.g, gsim_now(h.g)),
			    "stuck at line %zu of %zu", h.next, h.n);
	}
	free(h.l);
	gsim_destroy(&h.g);
	skin_destroy(&sk);
	ASSERT(t_end > 0);
	return t_end;
}

/* A plan's toolpath as smpd builds it: ordered from the plan's first dot,
 * started from rest at start (work coordinates). */
static void
session_toolpath(struct toolpath *tp, const char *csv, const char *path,
    struct planner_config *cfg, const double start[3])
{
	struct diag_list *dl = diag_list_new(8, "test");
	struct plan *plan;
	struct surface *surf;
	uint32_t *order;
	char err[512];

	ASSERT_NOT_NULL(dl);
	plan = path != NULL ? plan_read_file(path, cfg, dl) :
	    plan_read_csv_mem(csv, strlen(csv), "<grid>", cfg, dl);
	ASSERT_NOT_NULL(plan);
	surf = surface_for_plan(cfg, plan, dl);
	ASSERT_NOT_NULL(surf);
	ASSERT_EQ(plan_validate(plan, cfg, surf, dl), 0);
	order = malloc(plan->n * sizeof(*order));
	ASSERT_NOT_NULL(order);
	ASSERT_EQ(order_plan(plan, NULL, cfg->seed, 0, order, NULL), 0);
	memset(tp, 0, sizeof(*tp));
	ASSERT_MSG(toolpath_build(tp, plan, order, plan->n, start, surf, cfg,
	    err, sizeof(err)) == 0, "%s", err);
	free(order);
	surface_destroy(&surf);
	plan_destroy(&plan);
	diag_list_destroy(&dl);
}

/* Largest |estimate - sim| over the dots, relative to the sim's time, and
 * the session times; prints both so a failure says where. */
static double
compare(const char *what, const struct toolpath *tp,
    const struct planner_config *est_cfg,
    const struct planner_config *sim_cfg, bool hold_plunge)
{
	double *te = calloc(tp->n, sizeof(double));
	double *ts = calloc(tp->n, sizeof(double));
	double est, sim, worst = 0;
	size_t wi = 0;

	ASSERT(te != NULL && ts != NULL);
	est = estimate_toolpath(tp, est_cfg, te);
	sim = sim_session(tp, sim_cfg, hold_plunge, ts);
	for (size_t i = 0; i < tp->n; i++) {
		double r = fabs(te[i] - ts[i]) / ts[i];
		if (r > worst) {
			worst = r;
			wi = i;
		}
	}
	fprintf(stderr, "%s: %zu dots, estimate %.3f s, smpsim %.3f s "
	    "(%+.3f%%); worst dot %zu: %.3f s vs %.3f s (%.3f%%)\n", what,
	    tp->n, est, sim, (est - sim) / sim * 100, wi, te[wi], ts[wi],
	    worst * 100);
	free(te);
	free(ts);
	return fmax(worst, fabs(est - sim) / sim);
}

TEST_T(session_matches_smpsim_curved_sample, 120)
{
	struct planner_config cfg;
	struct toolpath tp;
	const char *src = getenv("SMP_SOURCE_DIR");
	char plan[1024];
	/* where the demo leaves the needle: 10 mm over the work origin */
	double start[3] = {0, 0, 10};

	ASSERT_NOT_NULL(src);
	pconfig_defaults(&cfg);
	snprintf(plan, sizeof(plan), "%s/examples/plans/sample.csv", src);
	snprintf(cfg.heightmap_path, sizeof(cfg.heightmap_path),
	    "%s/examples/plans/scalp-heightmap.txt", src);
	session_toolpath(&tp, NULL, plan, &cfg, start);
	ASSERT_EQ(tp.n, 300);
	ASSERT_LT(compare("curved sample, smpd's streaming", &tp, &cfg, &cfg,
	    true), 0.01);
	ASSERT_LT(compare("curved sample, free streaming", &tp, &cfg, &cfg,
	    false), 0.01);
	toolpath_free(&tp);
}

/* A flat 20 x 20 grid at 0.8 mm, depths 0.5-1.0 mm and dwells from 0 to
 * 150 ms (a 60 ms one runs as 100), with a long first hop from the side. */
static char *
grid_csv(void)
{
	size_t cap = 64 * 400 + 64, len = 0;
	char *s = malloc(cap);

	ASSERT_NOT_NULL(s);
	len += (size_t)snprintf(s + len, cap - len, "id,x,y,depth,dwell_ms\n");
	for (int i = 0; i < 400; i++) {
		static const int dwell[] = {50, 50, 100, 60, 0, 150};
		int col = i % 20, row = i / 20;
		len += (size_t)snprintf(s + len, cap - len, "%d,%.3f,%.3f,"
		    "%.2f,%d\n", i + 1, col * 0.8, row * 0.8,
		    0.5 + 0.1 * (i % 6), dwell[i % 6]);
	}
	return s;
}

TEST_T(session_matches_smpsim_flat_grid, 120)
{
	struct planner_config cfg;
	struct toolpath tp;
	char *csv = grid_csv();
	double start[3] = {-30, 40, 5};

	pconfig_defaults(&cfg);
	session_toolpath(&tp, csv, NULL, &cfg, start);
	ASSERT_EQ(tp.n, 400);
	ASSERT_LT(compare("flat grid, smpd's streaming", &tp, &cfg, &cfg,
	    true), 0.01);
	/* a retract at a feed rather than a rapid, and a slower X */
	cfg.retract_feed_mm_min = 900;
	cfg.max_rate_mm_min[0] = 2000;
	cfg.accel_mm_s2[1] = 300;
	ASSERT_LT(compare("flat grid, G1 retract, slow X", &tp, &cfg, &cfg,
	    true), 0.01);
	toolpath_free(&tp);
	free(csv);
}

/* The comparison can fail: an estimate that believes in a machine other
 * than the one the controller runs is caught. */
TEST_T(session_comparison_catches_a_wrong_model, 120)
{
	struct planner_config cfg, wrong;
	struct toolpath tp;
	char *csv = grid_csv();
	double start[3] = {0, 0, 5};

	pconfig_defaults(&cfg);
	session_toolpath(&tp, csv, NULL, &cfg, start);
	wrong = cfg;
	wrong.accel_mm_s2[0] = wrong.accel_mm_s2[1] = 1000;
	ASSERT_GT(compare("flat grid, estimate with twice the XY "
	    "acceleration", &tp, &wrong, &cfg, true), 0.01);
	wrong = cfg;
	wrong.plunge_feed_mm_min = 660;
	ASSERT_GT(compare("flat grid, estimate with a 10% faster plunge",
	    &tp, &wrong, &cfg, true), 0.01);
	toolpath_free(&tp);
	free(csv);
}

TEST_MAIN()
