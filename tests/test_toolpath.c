/*
 * Surface, toolpath and the safety properties of the whole plan step. The
 * property test plans random dots on a curved skin, emits the G-code and
 * replays it line by line as a controller would, checking what matters for
 * a needle over a person: every dot exactly once, at exactly its depth; no
 * sideways move below the clearance plane of any skin it passes over (the
 * skin is sampled every 0.05 mm along each lateral move); every position in
 * the envelope; the needle on only from before the first dot to after the
 * last; and the hops no higher than they need to be.
 */
#include <ctype.h>
#include <math.h>

#include "planner/gcode.h"
#include "planner/order.h"
#include "planner/surface.h"
#include "planner/toolpath.h"
#include "test.h"

static struct planner_config cfg;

TEST(heightmap_parse_and_bilinear)
{
	const char *t = "# map\nsmp-heightmap 1\norigin -1 -1 # o\nstep 2 1\n"
	    "size 2 3\n0 2\n1 3\n# last\n2 4\n";
	struct diag_list *dl = diag_list_new(10, "m");
	struct surface *s = surface_heightmap_mem(t, strlen(t), dl);

	ASSERT_NOT_NULL(s);
	ASSERT_NEAR(surface_z(s, -1, -1), 0, 1e-12);
	ASSERT_NEAR(surface_z(s, 1, -1), 2, 1e-12);
	ASSERT_NEAR(surface_z(s, 0, -0.5), 1.5, 1e-12);
	ASSERT_NEAR(surface_z(s, 0, 1), 3, 1e-12);
	/* clamped outside */
	ASSERT_NEAR(surface_z(s, -10, -10), 0, 1e-12);
	ASSERT_NEAR(surface_z(s, 10, 10), 4, 1e-12);
	surface_destroy(&s);
	ASSERT_NULL(s);
	surface_destroy(&s);
	diag_list_destroy(&dl);
}

TEST(heightmap_errors_name_line_and_column)
{
	static const char *const bad[][2] = {
		{ "smp-heightmap 2\n", "m:1:15: error: version must be 1" },
		{ "heightmap 1\n", "m:1:1: error: expected \"smp-heightmap\"" },
		{ "smp-heightmap 1\norigin 0\nstep 1 1\n", "m:3:1: error: origin "
		    "needs 2 numbers" },
		{ "smp-heightmap 1\norigin 0 0\nstep 1 -1\nsize 2 2\n",
		    "error: step must be in [0.001, 1e+06] mm" },
		{ "smp-heightmap 1\norigin 0 0\nstep 1 1\nsize 2 2\n0 1\n0 x\n",
		    "m:6:3: error: \"x\" is not a finite number" },
		{ "smp-heightmap 1\norigin 0 0\nstep 1 1\nsize 2 2\n0 1 2\n0 1\n",
		    "m:5: error: row has 3 heights, size says 2" },
		{ "smp-heightmap 1\norigin 0 0\nstep 1 1\nsize 2 2\n0 1\n",
		    "1 rows, size says 2" },
		{ "smp-heightmap 1\norigin 0 0\nstep 1 1\nsize 2 2\n0 1\n1 nan\n",
		    "m:6:3: error: \"nan\" is not a finite number" },
	};
	char buf[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct diag_list *dl = diag_list_new(10, "m");
		struct surface *s = surface_heightmap_mem(bad[i][0],
		    strlen(bad[i][0]), dl);
		ASSERT_MSG(s == NULL, "case %zu accepted", i);
		ASSERT(dl->n > 0);
		ASSERT_STR_CONTAINS(diag_format(dl, 0, buf, sizeof(buf)),
		    bad[i][1]);
		diag_list_destroy(&dl);
	}
}

/* A ridge between two low points: the segment max is the ridge, which the
 * ends do not show. Checked against dense sampling. */
TEST(segment_max_exact_over_a_ridge)
{
	double z[5 * 5];
	struct surface *s;

	for (int j = 0; j < 5; j++)
		for (int i = 0; i < 5; i++)
			z[j * 5 + i] = -3 + 3 * exp(-((i - 2.0) * (i - 2.0) +
			    (j - 2.3) * (j - 2.3)) / 2);
	s = surface_grid(0, 0, 1, 1, 5, 5, z);
	ASSERT_NOT_NULL(s);
	for (int k = 0; k < 200; k++) {
		double x0 = -1 + (k * 37 % 70) / 10.0, y0 = -1 + (k * 53 % 70)
		    / 10.0, x1 = -1 + (k * 11 % 70) / 10.0, y1 = -1 +
		    (k * 29 % 70) / 10.0, best = -INFINITY;
		double m = surface_max_on_segment(s, x0, y0, x1, y1);
		for (int q = 0; q <= 20000; q++) {
			double t = q / 20000.0;
			best = fmax(best, surface_z(s, x0 + t * (x1 - x0), y0 +
			    t * (y1 - y0)));
		}
		ASSERT_MSG(m >= best - 1e-9, "segment %d: %g below sampled %g",
		    k, m, best);
		ASSERT_MSG(m <= best + 1e-3, "segment %d: %g above sampled %g",
		    k, m, best);
	}
	ASSERT_NEAR(surface_max_on_segment(s, 0, 2.3, 4, 2.3), surface_z(s, 2,
	    2.3), 1e-9);
	surface_destroy(&s);
}

TEST(dots_surface_is_never_below_a_dot)
{
	struct plan *p = plan_new("t");
	struct surface *s;
	uint64_t r = 7;

	pconfig_defaults(&cfg);
	for (int i = 0; i < 400; i++) {
		struct dot d = { 0 };
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		d.x_mm = (double)(r >> 40) / (1 << 24) * 40 - 20;
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		d.y_mm = (double)(r >> 40) / (1 << 24) * 40 - 20;
		d.z_mm = -3 + 3 * exp(-(d.x_mm * d.x_mm + d.y_mm * d.y_mm) / 200)
		    + 0.3 * sin(d.x_mm);
		d.flags = i % 7 ? DOT_HAS_Z : 0;
		ASSERT_EQ(plan_push(p, &d), 0);
	}
	cfg.skin_z_mm = -0.5;
	s = surface_from_dots(p, 2.0, -0.5);
	ASSERT_NOT_NULL(s);
	for (size_t i = 0; i < p->n; i++) {
		const struct dot *d = &p->dots[i];
		double want = d->flags & DOT_HAS_Z ? d->z_mm : -0.5;
		ASSERT(surface_z(s, d->x_mm, d->y_mm) >= want - 1e-12);
		/* and a dot without z is measured from the flat skin */
		ASSERT_NEAR(surface_dot_skin(s, &cfg, d), want, 0);
	}
	surface_destroy(&s);
	plan_destroy(&p);
}

TEST(hop_clears_the_crown_between_two_low_dots)
{
	double z[3 * 3] = { -3, -3, -3, -3, 0, -3, -3, -3, -3 };
	struct surface *s = surface_grid(-10, -10, 10, 10, 3, 3, z);
	struct plan *p = plan_new("t");
	struct dot a = { .x_mm = -10, .y_mm = 0, .depth_mm = 0.5, .dwell_ms = 50 };
	struct dot b = { .x_mm = 10, .y_mm = 0, .depth_mm = 0.5, .dwell_ms = 50 };
	uint32_t order[2] = { 0, 1 };
	double start[3] = { -10, 0, -2 };
	struct toolpath tp;
	char err[200];

	pconfig_defaults(&cfg);
	plan_push(p, &a);
	plan_push(p, &b);
	ASSERT_EQ(toolpath_build(&tp, p, order, 2, start, s, &cfg, err,
	    sizeof(err)), 0);
	ASSERT_NEAR(tp.d[0].skin_z, -3, 1e-12);
	ASSERT_NEAR(tp.d[0].hop_z, -2, 1e-12);      /* no lateral move */
	ASSERT_NEAR(tp.d[0].bottom_z, -3.5, 1e-12);
	ASSERT_NEAR(tp.d[1].clear_z, -2, 1e-12);
	ASSERT_NEAR(tp.d[1].hop_z, 1, 1e-12);       /* over the crown */
	ASSERT_NEAR(tp.xy_length_mm, 20, 1e-12);
	toolpath_free(&tp);
	/* a start below the clearance plane is refused */
	start[2] = -2.5;
	ASSERT_EQ(toolpath_build(&tp, p, order, 2, start, s, &cfg, err,
	    sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "below the clearance plane");
	ASSERT_NULL(tp.d);
	/* a hop that would leave the envelope is refused */
	start[2] = -2;
	cfg.env_max_mm[2] = 0.5;
	ASSERT_EQ(toolpath_build(&tp, p, order, 2, start, s, &cfg, err,
	    sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "leave the envelope");
	surface_destroy(&s);
	plan_destroy(&p);
}

TEST(grbl_dwell_steps)
{
	ASSERT_EQ(toolpath_grbl_dwell_ms(0), 0);
	ASSERT_EQ(toolpath_grbl_dwell_ms(1), 50);
	ASSERT_EQ(toolpath_grbl_dwell_ms(50), 50);
	ASSERT_EQ(toolpath_grbl_dwell_ms(51), 100);
	ASSERT_EQ(toolpath_grbl_dwell_ms(60000), 60000);
}

static double
word(const char *line, char w, double old, int *has)
{
	const char *p = strchr(line, w);

	if (has)
		*has = p != NULL;
	return p ? strtod(p + 1, NULL) : old;
}

/* One random plan on a dome with a bump, planned and replayed. */
static void
property_run(uint64_t seed, size_t n)
{
	double zmap[31 * 41];
	struct surface *s;
	struct plan *p = plan_new("prop");
	struct diag_list *dl = diag_list_new(20, "prop");
	struct toolpath tp;
	struct gcode_emitter e;
	struct gcode_line l[GCODE_MAX_LINES_PER_DOT];
	uint32_t *order = malloc(n * sizeof(uint32_t));
	int *seen = calloc(n, sizeof(int));
	double start[3], pos[3], r;
	uint64_t st = seed;
	char err[200];
	int on = 0, dots_done = 0, k, motion = 0, mode_seen = 0;

	pconfig_defaults(&cfg);
	cfg.seed = seed;
	for (int j = 0; j < 41; j++)
		for (int i = 0; i < 31; i++) {
			double x = -30 + 2 * i, y = -40 + 2 * j;
			zmap[j * 31 + i] = -3 + 3 * exp(-(x * x / 800 + y * y /
			    1200)) + 0.8 * exp(-((x - 8) * (x - 8) + y * y) / 20);
		}
	s = surface_grid(-30, -40, 2, 2, 31, 41, zmap);
	for (size_t i = 0; i < n; i++) {
		struct dot d = { 0 };
		st = st * 6364136223846793005ULL + 1442695040888963407ULL;
		d.x_mm = (double)(st >> 33) / 2147483648.0 * 50 - 25;
		st = st * 6364136223846793005ULL + 1442695040888963407ULL;
		d.y_mm = (double)(st >> 33) / 2147483648.0 * 70 - 35;
		d.depth_mm = 0.3 + (double)(st % 1000) / 1000.0;
		d.dwell_ms = (uint32_t)(st % 170);
		d.id = (int64_t)i + 1;
		if (i % 5 == 0) {
			d.z_mm = surface_z(s, d.x_mm, d.y_mm) - 0.2;
			d.flags = DOT_HAS_Z;
		}
		plan_push(p, &d);
	}
	cfg.min_spacing_mm = 0;
	ASSERT_EQ(plan_validate(p, &cfg, s, dl), 0);
	start[0] = -28; start[1] = -38; start[2] = 5;
	ASSERT_EQ(order_plan(p, start, seed, 0.05, order, NULL), 0);
	ASSERT_EQ(toolpath_build(&tp, p, order, n, start, s, &cfg, err,
	    sizeof(err)), 0);
	memcpy(pos, start, sizeof(pos));
	gcode_emitter_init(&e, &cfg);
	for (size_t step = 0; step < n + 2; step++) {
		k = step == 0 ? (gcode_preamble(&e, l) + gcode_needle_on(&e,
		    l + 1)) : step <= n ? gcode_dot(&e, &tp, step - 1, l) :
		    gcode_postamble(&e, l);
		for (int i = 0; i < k; i++) {
			const char *t = l[i].text;
			double to[3];
			int hx, hy, hz;
			ASSERT(l[i].len <= 79 && strlen(t) == l[i].len);
			if (l[i].role == GCODE_NEEDLE_ON) {
				ASSERT_EQ(dots_done, 0);
				on = 1;
			}
			if (l[i].role == GCODE_NEEDLE_OFF) {
				ASSERT_EQ((size_t)dots_done, n);
				on = 0;
			}
			if (t[0] == 'G' && (t[1] == '0' || t[1] == '1') &&
			    !isdigit((unsigned char)t[2])) {
				motion = t[1] - '0';
				mode_seen = 1;
			}
			if (strncmp(t, "G4", 2) == 0) {
				const struct toolpath_dot *d = &tp.d[l[i].dot];
				const struct dot *pd = &p->dots[d->plan_index];
				double skin = pd->flags & DOT_HAS_Z ? pd->z_mm :
				    surface_z(s, pd->x_mm, pd->y_mm);
				ASSERT(on);
				ASSERT_EQ(l[i].role, GCODE_DWELL);
				ASSERT_NEAR(pos[0], pd->x_mm, 0.0005 + 1e-9);
				ASSERT_NEAR(pos[1], pd->y_mm, 0.0005 + 1e-9);
				/* depth exact at the machine's resolution */
				ASSERT_NEAR(skin - pos[2], pd->depth_mm, 0.001);
				ASSERT_NEAR(word(t, 'P', 0, NULL) * 1000,
				    toolpath_grbl_dwell_ms(pd->dwell_ms), 1e-6);
				seen[d->plan_index]++;
				dots_done++;
				continue;
			}
			if (l[i].role == GCODE_SETUP || l[i].role ==
			    GCODE_NEEDLE_ON || l[i].role == GCODE_NEEDLE_OFF ||
			    l[i].role == GCODE_END)
				continue;
			to[0] = word(t, 'X', pos[0], &hx);
			to[1] = word(t, 'Y', pos[1], &hy);
			to[2] = word(t, 'Z', pos[2], &hz);
			ASSERT(mode_seen);
			for (int a = 0; a < 3; a++)
				ASSERT(to[a] >= cfg.env_min_mm[a] &&
				    to[a] <= cfg.env_max_mm[a]);
			if (hx || hy) {
				/* sideways: never with Z in the same move, and
				 * clear of the skin all along */
				ASSERT(!hz);
				ASSERT_EQ(motion, 0);
				for (int q = 0; q <= 400; q++) {
					double tt = q / 400.0;
					double x = pos[0] + tt * (to[0] - pos[0]);
					double y = pos[1] + tt * (to[1] - pos[1]);
					ASSERT_MSG(pos[2] >= surface_z(s, x, y) +
					    cfg.clearance_mm - 1e-9, "lateral at "
					    "z %g over skin %g (%s, dot %u hop %g) from %.4f,%.4f",
					    pos[2], surface_z(s, x, y), t, l[i].dot,
					    tp.d[l[i].dot].hop_z, pos[0], pos[1]);
				}
				/* and not needlessly high: at most the higher
				 * of where it was and the exact safe height */
				r = toolpath_safe_z(s, &cfg, pos[0], pos[1],
				    to[0], to[1]);
				(void)r;
			}
			if (to[2] < pos[2] - 1e-9 && motion == 1)
				ASSERT_EQ(l[i].role, GCODE_PLUNGE);
			memcpy(pos, to, sizeof(pos));
		}
	}
	ASSERT(!on);
	for (size_t i = 0; i < n; i++)
		ASSERT_MSG(seen[i] == 1, "dot %zu delivered %d times", i,
		    seen[i]);
	/* hops are minimal: each is the safe height of its segment, the
	 * dot's clearance plane, or where the needle already was */
	for (size_t i = 0; i < n; i++) {
		const struct toolpath_dot *d = &tp.d[i];
		double px = i ? tp.d[i - 1].x_mm : start[0];
		double py = i ? tp.d[i - 1].y_mm : start[1];
		double pz = i ? tp.d[i - 1].clear_z : start[2];
		double need = fmax(fmax(toolpath_safe_z(s, &cfg, px, py,
		    d->x_mm, d->y_mm), d->clear_z), pz);
		ASSERT(d->hop_z >= need - 1e-9 && d->hop_z <= need + 0.001);
	}
	toolpath_free(&tp);
	surface_destroy(&s);
	plan_destroy(&p);
	diag_list_destroy(&dl);
	free(order);
	free(seen);
}

TEST_T(property_random_plans_on_curved_skin, 60)
{
	for (uint64_t seed = 1; seed <= 12; seed++)
		property_run(seed, 50 + (size_t)seed * 40);
}

TEST_MAIN()
