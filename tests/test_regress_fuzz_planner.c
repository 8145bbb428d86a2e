/*
 * Regression tests for what fuzzing found in the planner, one case per
 * finding, each with the input that showed it; every case failed before its
 * fix. Two were undefined behaviour (a NaN converted to size_t) reachable
 * from an operator's file through smpplan and smpd, so this binary compiles
 * the planner with UndefinedBehaviorSanitizer (tests/fuzz.cmake) and they
 * fail on any build should the bug come back.
 */
#include "planner/pconfig.h"
#include "planner/plan.h"
#include "planner/surface.h"
#include "planner/toolpath.h"
#include "test.h"

/*
 * fuzz_heightmap: a map whose origin is far and whose step is tiny,
 *   "smp-heightmap 1\norigin 1e300 0\nstep 1e-300 1\nsize 2 2\n0 0\n0 0\n"
 *   hex 736d702d6865696768746d617020310a6f726967696e2031653330302030
 *       0a737465702031652d33303020310a73697a65203220320a3020300a3020300a
 * is accepted, and surface_max_on_segment() then computes grid coordinates
 * (0 - 1e300) / 1e-300 = -inf, their difference inf - inf = NaN, and casts
 * it to size_t (planner/surface.c, "cap = (size_t)(...)"): undefined. The
 * same path computes every hop's safe height. Fixed both ways: the reader
 * refuses an origin beyond +-1e6 mm or a step outside [0.001, 1e6] mm, and
 * the segment code bounds a NaN span.
 */
TEST(heightmap_far_origin_tiny_step)
{
	static const char map[] = "smp-heightmap 1\norigin 1e300 0\n"
	    "step 1e-300 1\nsize 2 2\n0 0\n0 0\n";
	struct diag_list *dl = diag_list_new(8, "<test>");
	struct surface *s;

	ASSERT_NOT_NULL(dl);
	s = surface_heightmap_mem(map, sizeof(map) - 1, dl);
	if (s != NULL) {
		double top = surface_max_on_segment(s, 0, 0, 10, 0);
		ASSERT(isfinite(top));
		ASSERT_GE(top, surface_z(s, 0, 0));
		ASSERT_GE(top, surface_z(s, 10, 0));
	} else {
		ASSERT_GT(dl->errors, 0u);
	}
	surface_destroy(&s);
	diag_list_destroy(&dl);
}

/*
 * fuzz_plan_csv: two dots with z more than DBL_MAX apart in x,
 *   "x,y,z,depth\n-1e308,0,0,0.5\n1e308,0,0,0.5\n"
 *   hex 782c792c7a2c64657074680a2d31653330382c302c302c302e350a3165333038
 *       2c302c302c302e350a
 * pass the reader (each number is finite), and surface_for_plan(), which
 * smpd (daemon/planning.c) and smpplan call before plan_validate(), builds
 * the dots' surface: xmax - xmin = inf, the cell doubling ends at
 * inf / inf = NaN, and "nx = (size_t)((xmax - xmin) / cell_mm) + 3" is
 * undefined (planner/surface.c, surface_from_dots). On x86 with gcc the
 * programs then said "out of memory"; now dots beyond +-1e6 mm (outside
 * every envelope) add nothing to the dots' surface, and validation gives
 * the envelope error for both.
 */
TEST(plan_wider_than_double_range)
{
	static const char plan[] = "x,y,z,depth\n-1e308,0,0,0.5\n"
	    "1e308,0,0,0.5\n";
	struct planner_config cfg;
	struct diag_list *dl;
	struct plan *p;
	struct surface *s;

	pconfig_defaults(&cfg);
	ASSERT_NOT_NULL(dl = diag_list_new(8, "<test>"));
	ASSERT_NOT_NULL(p = plan_read_mem(plan, sizeof(plan) - 1, "<test>",
	    "csv", &cfg, dl));
	s = surface_for_plan(&cfg, p, dl);
	if (s != NULL) {
		ASSERT_EQ(plan_validate(p, &cfg, s, dl), -1);
		ASSERT_GE(dl->errors, 2u);
	} else {
		/* Refusing the plan here is fine too, for the right reason. */
		ASSERT_GT(dl->errors, 0u);
		ASSERT(strstr(dl->v[0].msg, "out of memory") == NULL);
	}
	surface_destroy(&s);
	plan_destroy(&p);
	diag_list_destroy(&dl);
}

/*
 * fuzz_plan_csv, invariant "bottom_z < skin_z": a depth of 8e-47 mm,
 *   "id,x,y,z,depth,dwell_ms\n1,12.167,8.752,-0.349,0.000...0008,50\n"
 * was in (0, max_depth], so the reader took it, and the toolpath's bottom,
 * rounded up to the G-code's micrometre, was the skin itself: a "dot" that
 * never entered the skin, journalled as delivered. Depths now lie in
 * [needle.min_depth_mm, max_depth_mm], min_depth_mm at least 1 um.
 */
TEST(depth_below_one_micrometre)
{
	static const char plan[] = "# S\nid,x,y,z,depth,dwell_ms\n"
	    "1,12.167,8.752,-0.349,0.00000000000000000000000000000000000000"
	    "0000008,50\n2,5.690,4.930,-0.091,0.8,50\n";
	struct planner_config cfg;
	struct diag_list *dl;
	struct plan *p;
	char buf[256];

	pconfig_defaults(&cfg);
	ASSERT_NOT_NULL(dl = diag_list_new(8, "<test>"));
	p = plan_read_mem(plan, sizeof(plan) - 1, "<test>", "csv", &cfg, dl);
	ASSERT_NULL(p);
	ASSERT_EQ(dl->errors, 1u);
	diag_format(dl, 0, buf, sizeof(buf));
	ASSERT_STR_CONTAINS(buf, "<test>:3:");
	ASSERT_STR_CONTAINS(buf, "not in [0.05, 1.5]");
	diag_list_destroy(&dl);

	/* The smallest floor allowed still leaves a stroke into the skin. */
	cfg.min_depth_mm = 0.0005;
	ASSERT_EQ(pconfig_check(&cfg, buf, sizeof(buf)), -1);
	cfg.min_depth_mm = 0.001;
	ASSERT_EQ(pconfig_check(&cfg, buf, sizeof(buf)), 0);
}

/* With the smallest floor, every depth at it gives a bottom below the skin,
 * whatever the skin's fraction of a micrometre. */
TEST(depth_at_floor_enters_skin)
{
	struct planner_config cfg;
	struct diag_list *dl;
	struct plan *p;
	struct toolpath tp;
	uint32_t order[64];
	double start[3];
	char text[8192], err[256];
	size_t len = 0;

	pconfig_defaults(&cfg);
	cfg.min_depth_mm = 0.001;
	len += (size_t)snprintf(text + len, sizeof(text) - len,
	    "x,y,z,depth\n");
	for (int i = 0; i < 64; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "%g,0,%.7f,0.001\n", i * 0.5, -0.3 - i * 0.0000137);
	ASSERT_NOT_NULL(dl = diag_list_new(8, "<test>"));
	ASSERT_NOT_NULL(p = plan_read_mem(text, len, "<test>", "csv", &cfg,
	    dl));
	for (uint32_t i = 0; i < 64; i++)
		order[i] = i;
	start[0] = 0; start[1] = 0; start[2] = 10;
	memset(&tp, 0, sizeof(tp));
	ASSERT_MSG(toolpath_build(&tp, p, order, 64, start, NULL, &cfg, err,
	    sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < tp.n; i++) {
		ASSERT_LT(tp.d[i].bottom_z, tp.d[i].skin_z);
		ASSERT_LE(tp.d[i].skin_z - tp.d[i].bottom_z, 0.001 + 1e-9);
	}
	toolpath_free(&tp);
	plan_destroy(&p);
	diag_list_destroy(&dl);
}

TEST_MAIN()
