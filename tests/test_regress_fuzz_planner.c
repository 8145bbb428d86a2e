/*
 * Open fuzzing findings in the planner, kept as failing tests until the
 * planner's engineers fix them (planner/ was being edited when they were
 * found, so the tests engineer reported them rather than fixing them). Both
 * are undefined behaviour, a NaN converted to size_t, reachable from an
 * operator's file through smpplan and smpd; this binary compiles the planner
 * with UndefinedBehaviorSanitizer (tests/fuzz.cmake) so that each case fails
 * on any build while the bug is there. It is built only with
 * -DSMP_REGRESS_OPEN=ON, so that the default suite stays green; when a fix
 * lands, move its case to test_regress_fuzz.c.
 */
#include "planner/pconfig.h"
#include "planner/plan.h"
#include "planner/surface.h"
#include "test.h"

/*
 * fuzz_heightmap: a map whose origin is far and whose step is tiny,
 *   "smp-heightmap 1\norigin 1e300 0\nstep 1e-300 1\nsize 2 2\n0 0\n0 0\n"
 *   hex 736d702d6865696768746d617020310a6f726967696e2031653330302030
 *       0a737465702031652d33303020310a73697a65203220320a3020300a3020300a
 * is accepted, and surface_max_on_segment() then computes grid coordinates
 * (0 - 1e300) / 1e-300 = -inf, their difference inf - inf = NaN, and casts
 * it to size_t (planner/surface.c, "cap = (size_t)(...)"): undefined. The
 * same path computes every hop's safe height. Either the reader refuses a
 * map whose grid coordinates are not finite over the envelope, or the
 * segment code stays finite.
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
 * programs then say "out of memory"; the right answer is the envelope
 * error for both dots.
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

TEST_MAIN()
