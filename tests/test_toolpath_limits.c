/*
 * The hard limits of a toolpath, each at its edge: the tip never goes deeper
 * than needle.max_depth_mm as the G-code will really command it (three
 * decimals), a start below the clearance plane or outside the envelope is
 * refused, and a hop that the skin pushes above the envelope is a clear
 * error rather than a clipped (and so too low) move.
 */
#include <stdlib.h>

#include "planner/gcode.h"
#include "planner/surface.h"
#include "planner/toolpath.h"
#include "test.h"

static struct planner_config cfg;

static struct plan *
two_dots(double z0, double z1, double depth)
{
	struct plan *p = plan_new("<test>");
	struct dot d = { .x_mm = 0, .y_mm = 0, .depth_mm = depth,
	    .dwell_ms = 50, .flags = DOT_HAS_Z };

	ASSERT_NOT_NULL(p);
	d.z_mm = z0;
	d.id = 1;
	ASSERT_EQ(plan_push(p, &d), 0);
	d.x_mm = 3;
	d.z_mm = z1;
	d.id = 2;
	ASSERT_EQ(plan_push(p, &d), 0);
	return p;
}

TEST(commanded_depth_never_past_the_maximum)
{
	/* skins with more decimals than the G-code carries, each rounding
	 * the other way, at exactly the maximum depth */
	static const double skins[] = { -0.1234, -0.1236, 0.0004, -0.0006,
	    -1.23449, 2.00051 };
	uint32_t order[2] = { 0, 1 };
	double start[3] = { 0, 0, 5 };

	pconfig_defaults(&cfg);
	for (size_t i = 0; i < sizeof(skins) / sizeof(skins[0]); i++) {
		struct plan *p = two_dots(skins[i], skins[i] - 0.0003,
		    cfg.max_depth_mm);
		struct toolpath tp;
		struct gcode_emitter e;
		struct gcode_line l[GCODE_MAX_LINES_PER_DOT];
		char err[256];

		ASSERT_EQ(toolpath_build(&tp, p, order, 2, start, NULL, &cfg,
		    err, sizeof(err)), 0);
		gcode_emitter_init(&e, &cfg);
		for (size_t k = 0; k < 2; k++) {
			int n = gcode_dot(&e, &tp, k, l);
			double skin = p->dots[k].z_mm, z = NAN;
			for (int j = 0; j < n; j++)
				if (l[j].role == GCODE_PLUNGE) {
					const char *zw = strchr(l[j].text, 'Z');
					ASSERT_NOT_NULL(zw);
					z = strtod(zw + 1, NULL);
				}
			ASSERT(isfinite(z));
			/* never deeper than the maximum, never more than the
			 * G-code's resolution shallower */
			ASSERT_MSG(skin - z <= cfg.max_depth_mm + 1e-9,
			    "skin %g, commanded %g: depth %.6f", skin, z,
			    skin - z);
			ASSERT(skin - z > cfg.max_depth_mm - 0.001);
		}
		toolpath_free(&tp);
		plan_destroy(&p);
	}
}

TEST(start_must_be_clear_and_inside)
{
	struct plan *p;
	uint32_t order[2] = { 0, 1 };
	struct toolpath tp;
	char err[256];
	double low[3] = { 0, 0, 0.5 }, out[3] = { 0, 200, 5 };
	double nan_start[3] = { 0, NAN, 5 };

	pconfig_defaults(&cfg);
	p = two_dots(0, 0, 0.8);
	/* flat skin at 0, clearance 1: z 0.5 is inside the clearance */
	ASSERT_EQ(toolpath_build(&tp, p, order, 2, low, NULL, &cfg, err,
	    sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "below the clearance plane");
	ASSERT_NULL(tp.d);
	ASSERT_EQ(tp.n, 0);
	ASSERT_EQ(toolpath_build(&tp, p, order, 2, out, NULL, &cfg, err,
	    sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "outside the envelope");
	ASSERT_EQ(toolpath_build(&tp, p, order, 2, nan_start, NULL, &cfg,
	    err, sizeof(err)), -1);
	/* a bad order entry is refused, not read past the plan */
	order[1] = 7;
	low[2] = 1;
	ASSERT_EQ(toolpath_build(&tp, p, order, 2, low, NULL, &cfg, err,
	    sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "not a dot");
	toolpath_free(&tp);
	plan_destroy(&p);
}

TEST(hop_above_the_envelope_is_an_error)
{
	/* a 19.5 mm ridge between two dots on z 0: clearing it by 1 mm
	 * needs z 20.5, above envelope_max z 20 */
	double z[4 * 2] = { 0, 19.5, 19.5, 0, 0, 19.5, 19.5, 0 };
	struct surface *s = surface_grid(-0.5, -1, 1.5, 2, 4, 2, z);
	struct plan *p;
	uint32_t order[2] = { 0, 1 };
	double start[3] = { -0.5, 0, 1 };
	struct toolpath tp;
	char err[256];

	ASSERT_NOT_NULL(s);
	pconfig_defaults(&cfg);
	p = two_dots(0, 0, 0.8);
	p->dots[0].flags = p->dots[1].flags = 0;    /* skin from the map */
	p->dots[0].x_mm = -0.5;
	p->dots[1].x_mm = 4;
	ASSERT_NEAR(surface_z(s, -0.5, 0), 0, 1e-12);
	ASSERT_NEAR(surface_z(s, 4, 0), 0, 1e-12);
	ASSERT_NEAR(surface_max_on_segment(s, -0.5, 0, 4, 0), 19.5, 1e-9);
	ASSERT_EQ(toolpath_build(&tp, p, order, 2, start, s, &cfg, err,
	    sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "leave the envelope");
	ASSERT_STR_CONTAINS(err, "dot 2");
	/* a ridge the envelope can clear is hopped at its top + clearance */
	cfg.env_max_mm[2] = 25;
	ASSERT_EQ(toolpath_build(&tp, p, order, 2, start, s, &cfg, err,
	    sizeof(err)), 0);
	ASSERT_NEAR(tp.d[1].hop_z, 20.5, 1e-9);
	ASSERT_NEAR(tp.d[1].clear_z, 1, 1e-9);
	toolpath_free(&tp);
	surface_destroy(&s);
	plan_destroy(&p);
}

TEST_MAIN()
