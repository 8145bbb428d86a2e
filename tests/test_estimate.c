/*
 * The time estimate against hand-computed GRBL motion: trapezoids and
 * triangles, the per-axis limits of a diagonal move, 90-degree corners
 * through the junction deviation, the 50 ms dwell steps, and the time of
 * each dot (what the daemon's ETA is built on).
 */
#include <math.h>

#include "planner/estimate.h"
#include "planner/toolpath.h"
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

TEST_MAIN()
