/*
 * The spacing check on hostile plans: it must stay fast however the dots
 * are placed, since smpd validates every plan it is sent. Two shapes used
 * to make it quadratic: dots piled on one spot (every pair is a finding),
 * and one dot far outside the envelope, which stretched the spatial grid
 * until all the others shared a cell. Each must now be rejected, with the
 * findings that matter, in well under a second.
 */
#include "planner/pconfig.h"
#include "planner/plan.h"
#include "test.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

TEST_T(dots_on_one_spot, 20)
{
	struct planner_config cfg;
	struct plan *p = plan_new("<pile>");
	struct diag_list *dl = diag_list_new(50, "<pile>");
	struct dot d;
	double t0;

	pconfig_defaults(&cfg);
	memset(&d, 0, sizeof(d));
	d.depth_mm = 0.8;
	for (int i = 0; i < 200000; i++) {
		d.x_mm = (i % 2) * 0.01;
		d.id = i + 1;
		d.src_line = (uint32_t)i + 2;
		ASSERT_EQ(plan_push(p, &d), 0);
	}
	t0 = now_s();
	ASSERT_EQ(plan_validate(p, &cfg, NULL, dl), -1);
	ASSERT_MSG(now_s() - t0 < 5, "%.3f s", now_s() - t0);
	/* capped, and the cap is said */
	ASSERT(dl->errors > 1000 && dl->errors < 20000);
	ASSERT_STR_CONTAINS(dl->v[0].msg, "closer than planner.min_spacing");
	/* the same pile with spacing = warn: warnings, no error */
	diag_list_destroy(&dl);
	dl = diag_list_new(20000, "<pile>");
	cfg.spacing = SPACING_WARN;
	ASSERT_EQ(plan_validate(p, &cfg, NULL, dl), 0);
	ASSERT_EQ(dl->errors, 0);
	ASSERT_STR_CONTAINS(dl->v[dl->n - 1].msg, "spacing check stopped");
	diag_list_destroy(&dl);
	plan_destroy(&p);
}

TEST_T(one_far_outlier, 20)
{
	struct planner_config cfg;
	struct plan *p = plan_new("<grid>");
	struct diag_list *dl = diag_list_new(50, "<grid>");
	struct dot d;
	double t0;
	char b[256];

	pconfig_defaults(&cfg);
	memset(&d, 0, sizeof(d));
	d.depth_mm = 0.8;
	d.x_mm = 1e9;
	d.id = 1;
	d.src_line = 2;
	ASSERT_EQ(plan_push(p, &d), 0);
	/* 90,000 dots 0.25 mm apart: valid but for the outlier */
	for (int i = 0; i < 300; i++)
		for (int j = 0; j < 300; j++) {
			d.x_mm = -37 + i * 0.25;
			d.y_mm = -37 + j * 0.25;
			d.id++;
			d.src_line++;
			ASSERT_EQ(plan_push(p, &d), 0);
		}
	t0 = now_s();
	ASSERT_EQ(plan_validate(p, &cfg, NULL, dl), -1);
	ASSERT_MSG(now_s() - t0 < 5, "%.3f s", now_s() - t0);
	ASSERT_EQ(dl->errors, 1);
	ASSERT_STR_CONTAINS(diag_format(dl, 0, b, sizeof(b)),
	    "<grid>:2: error: dot 1: x 1e+09 mm is outside the envelope");
	/* without the outlier the plan is valid, and still quick */
	p->dots[0].x_mm = 50;
	diag_list_destroy(&dl);
	dl = diag_list_new(50, "<grid>");
	t0 = now_s();
	ASSERT_EQ(plan_validate(p, &cfg, NULL, dl), 0);
	ASSERT_MSG(now_s() - t0 < 5, "%.3f s", now_s() - t0);
	diag_list_destroy(&dl);
	plan_destroy(&p);
}

TEST_MAIN()
