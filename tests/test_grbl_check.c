/*
 * Tests of the settings check (drivers/grbl_check.c): a controller set up as
 * the sample configuration assumes passes clean; each hazard is an error
 * naming its setting; kinematic differences are warnings; errors come first
 * and the count is right even when the output buffer is short.
 */
#include "test.h"

#include "drivers/grbl_check.h"

static void
set(struct link_info *info, int n, double v)
{
	info->settings[n] = v;
	info->has_setting[n] = true;
}

/* GRBL as etc/smpd.conf expects it. */
static void
good_info(struct link_info *info)
{
	memset(info, 0, sizeof(*info));
	set(info, 1, 255);
	set(info, 10, 1);
	set(info, 11, 0.010);
	set(info, 13, 0);
	set(info, 20, 1);
	set(info, 22, 1);
	set(info, 32, 0);
	set(info, 110, 3000);
	set(info, 111, 3000);
	set(info, 112, 1500);
	set(info, 120, 500);
	set(info, 121, 500);
	set(info, 122, 800);
	set(info, 130, 200);
	set(info, 131, 200);
	set(info, 132, 50);
}

static void
good_expect(struct grbl_expect *e)
{
	grbl_expect_defaults(e);
	e->max_rate_mm_min[0] = e->max_rate_mm_min[1] = 3000;
	e->max_rate_mm_min[2] = 1500;
	e->accel_mm_s2[0] = e->accel_mm_s2[1] = 500;
	e->accel_mm_s2[2] = 800;
	e->junction_deviation_mm = 0.01;
	e->min_travel_mm[0] = 120;
	e->min_travel_mm[1] = 160;
	e->min_travel_mm[2] = 40;
	e->homing = true;
	e->laser_mode = 0;
}

TEST(clean_controller_passes)
{
	struct link_info info;
	struct grbl_expect e;
	struct grbl_finding f[8];
	size_t nerr = 99;

	good_info(&info);
	good_expect(&e);
	ASSERT_EQ(grbl_check_settings(&info, &e, f, 8, &nerr), 0);
	ASSERT_EQ(nerr, 0);
	/* Within the tolerance is not a difference. */
	set(&info, 110, 3000.5);
	ASSERT_EQ(grbl_check_settings(&info, &e, f, 8, &nerr), 0);
}

TEST(each_hazard_is_an_error)
{
	static const struct {
		int setting;
		double value;
		const char *text;
	} cases[] = {
		{1, 25, "$1=25: the steppers release"},
		{13, 1, "reports inches"},
		{20, 0, "soft limits are off"},
		{22, 0, "homing is disabled"},
		{32, 1, "needs $32=0"},
		{130, 100, "X travel is shorter"},
		{132, 39.9, "Z travel is shorter"},
	};
	struct link_info info;
	struct grbl_expect e;
	struct grbl_finding f[8];
	size_t nerr;

	good_expect(&e);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		good_info(&info);
		set(&info, cases[i].setting, cases[i].value);
		ASSERT_EQ(grbl_check_settings(&info, &e, f, 8, &nerr), 1);
		ASSERT_EQ(nerr, 1);
		ASSERT_EQ(f[0].level, GRBL_CHECK_ERROR);
		ASSERT_EQ(f[0].setting, cases[i].setting);
		ASSERT_NEAR(f[0].have, cases[i].value, 1e-12);
		ASSERT_STR_CONTAINS(f[0].text, cases[i].text);
	}
}

TEST(missing_settings_are_errors)
{
	struct link_info info;
	struct grbl_expect e;
	struct grbl_finding f[16];
	size_t nerr, n;

	memset(&info, 0, sizeof(info));
	good_expect(&e);
	n = grbl_check_settings(&info, &e, f, 16, &nerr);
	/* $1 $20 $22 $32 $130-132 errors; 7 kinematic warnings. */
	ASSERT_EQ(nerr, 7);
	ASSERT_EQ(n, 14);
	ASSERT_STR_CONTAINS(f[0].text, "$1 (step idle delay) not reported");
	ASSERT_STR_CONTAINS(f[1].text, "$20 (not reported)");
	ASSERT(isnan(f[1].have));
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(f[i].level, i < nerr ? GRBL_CHECK_ERROR :
		    GRBL_CHECK_WARNING);
}

TEST(kinematics_differ_warnings_after_errors)
{
	struct link_info info;
	struct grbl_expect e;
	struct grbl_finding f[2];
	size_t nerr, n;

	good_info(&info);
	good_expect(&e);
	set(&info, 112, 1000);
	set(&info, 120, 250);
	set(&info, 11, 0.02);
	set(&info, 1, 254);
	/* Only two slots: the error first, and the total still counted. */
	n = grbl_check_settings(&info, &e, f, 2, &nerr);
	ASSERT_EQ(n, 4);
	ASSERT_EQ(nerr, 1);
	ASSERT_EQ(f[0].setting, 1);
	ASSERT_EQ(f[1].level, GRBL_CHECK_WARNING);
	ASSERT_EQ(f[1].setting, 112);
	ASSERT_STR_CONTAINS(f[1].text, "Z max rate differs from the "
	    "planner's 1500 mm/min");
	ASSERT_EQ(grbl_check_settings(&info, &e, NULL, 0, NULL), 4);
}

TEST(unchecked_when_not_asked)
{
	struct link_info info;
	struct grbl_expect e;
	struct grbl_finding f[4];
	size_t nerr;

	/* Defaults check only $1, $13, $20: a flood-mapped needle on a
	 * machine without switches may have any $22, $32. */
	good_info(&info);
	set(&info, 22, 0);
	set(&info, 32, 1);
	set(&info, 110, 1);
	grbl_expect_defaults(&e);
	ASSERT_EQ(grbl_check_settings(&info, &e, f, 4, &nerr), 0);
	set(&info, 20, 0);
	ASSERT_EQ(grbl_check_settings(&info, &e, f, 4, &nerr), 1);
	ASSERT_EQ(f[0].setting, 20);
}

TEST_MAIN()
