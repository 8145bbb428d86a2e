/*
 * smpsim's skin model: the height-map reader (values, bilinear interpolation,
 * clamping, and errors that name the line and column), penetration records
 * (entry point, depth, lateral motion) and the fault-spec parser.
 */
#include "test.h"
#include "sim/fault.h"
#include "sim/skin.h"

static const char *
write_tmp(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_sim_skin.%d", getpid());
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fputs(text, f);
	fclose(f);
	return path;
}

TEST(heightmap_bilinear_and_clamped)
{
	double o[3] = {0, 0, 0};
	char err[256];
	const char *p = write_tmp("# test\nsmp-heightmap 1\norigin -1 -1\n"
	    "step 2 2 # comment\nsize 2 2\n0 2\n4 6\n");
	struct skin *s = skin_new_heightmap(p, o, err, sizeof(err));

	ASSERT_MSG(s != NULL, "%s", err);
	ASSERT_NEAR(skin_height(s, -1, -1), 0, 1e-12);
	ASSERT_NEAR(skin_height(s, 1, -1), 2, 1e-12);
	ASSERT_NEAR(skin_height(s, -1, 1), 4, 1e-12);
	ASSERT_NEAR(skin_height(s, 0, 0), 3, 1e-12);
	ASSERT_NEAR(skin_height(s, 100, 100), 6, 1e-12); /* clamped */
	ASSERT_NEAR(skin_height(s, -100, 0), 2, 1e-12);
	skin_destroy(&s);
	ASSERT_NULL(s);
	unlink(p);
}

TEST(heightmap_errors_name_line_and_column)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"smp-heightmap 2\n", ":1:1: expected \"smp-heightmap 1\""},
		{"smp-heightmap 1\norigin 0 x\n", ":2:10: not a number"},
		{"smp-heightmap 1\norigin 0 0\nstep 0 1\n", ":3: step must be > 0"},
		{"smp-heightmap 1\norigin 0 0\nstep 1 1\nsize 2 2\n1 2\n3\n",
		    ":6:2: missing number (row 2 has 1 of 2 heights)"},
		{"smp-heightmap 1\norigin 0 0\nstep 1 1\nsize 2 2\n1 2\n3 4 5\n",
		    ":6:5: more than 2 heights"},
		{"smp-heightmap 1\norigin 0 0\nstep 1 1\nsize 2 2\n1 2\n",
		    ": fewer rows than size says"},
		{"smp-heightmap 1\norigin 0 0\nstep 1 1\nsize 2 2\n1 nan\n3 4\n",
		    ":5:3: not a number"},
	};
	double o[3] = {0, 0, 0};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = write_tmp(cases[i].text);
		struct skin *s = skin_new_heightmap(p, o, err, sizeof(err));
		ASSERT_NULL(s);
		ASSERT_STR_CONTAINS(err, cases[i].want);
		unlink(p);
	}
}

TEST(penetration_record)
{
	double o[3] = {10, 20, -5};
	struct skin *s = skin_new_flat(1, o); /* surface at machine z -4 */
	double a[3] = {12, 23, -3}, b[3] = {12, 23, -4.5}, c[3] = {12.5, 23, -4.5};
	char buf[4096] = {0};
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	skin_set_log(s, f);
	skin_needle(s, true, 0.5);
	skin_track(s, a, b, 1.0, 2.0);
	ASSERT_EQ(skin_penetrations(s), 1);
	skin_track(s, b, c, 2.0, 3.0); /* sideways inside */
	skin_track(s, c, a, 3.0, 4.0);
	fflush(f);
	ASSERT_STR_CONTAINS(buf, "{\"event\":\"needle\",\"on\":true,\"t\":0.500}");
	ASSERT_STR_CONTAINS(buf, "{\"n\":1,\"t\":1.667,\"x\":2.000,\"y\":3.000,"
	    "\"depth\":0.500,\"dur_ms\":");
	ASSERT_STR_CONTAINS(buf, "\"needle\":true,\"lateral\":true,"
	    "\"lateral_mm\":0.500,\"mx\":12.000,\"my\":23.000,\"mz\":-4.500}");
	ASSERT_EQ(skin_violations(s), 1);
	fclose(f);
	skin_destroy(&s);
}

TEST(skin_from_plan_z_column)
{
	double o[3] = {0, 0, 0};
	char err[256];
	const char *p = write_tmp("# plan\nx, y,depth, z\n0,0,0.8,-3\n"
	    "1,0,0.8,-2\n0,1,0.8,-1\n");
	struct skin *s = skin_new_plan(p, o, err, sizeof(err));

	ASSERT_MSG(s != NULL, "%s", err);
	ASSERT_NEAR(skin_height(s, 0, 0), -3, 1e-12); /* exact at dots */
	ASSERT_NEAR(skin_height(s, 1, 0), -2, 1e-12);
	ASSERT_NEAR(skin_height(s, 0, 1), -1, 1e-12);
	double mid = skin_height(s, 0.5, 0.5);
	ASSERT(mid > -3 && mid < -1);
	skin_destroy(&s);
	p = write_tmp("x,y,depth\n0,0,1\n");
	ASSERT_NULL(skin_new_plan(p, o, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, ":1: the header needs x, y and z columns");
	p = write_tmp("x,y,z\n0,0,-1\n0,zz,1\n");
	ASSERT_NULL(skin_new_plan(p, o, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, ":3:3: y is not a number");
	unlink(p);
}

TEST(fault_specs)
{
	struct fault_set fs;
	char err[256];

	fault_init(&fs, 3);
	ASSERT_EQ(fault_parse(&fs, "close@lines=5;stall@t=1.5,for=2 "
	    "alarm@t=3,code=2", err, sizeof(err)), 0);
	ASSERT_EQ(fault_parse(&fs, "drop-rx=0.25;slow=40;"
	    "noreply-status-in-alarm", err, sizeof(err)), 0);
	ASSERT_EQ(fs.nev, 3);
	ASSERT_EQ(fs.ev[0].lines, 5);
	ASSERT_NEAR(fs.ev[1].for_s, 2, 0);
	ASSERT_EQ(fs.ev[2].code, 2);
	ASSERT_NEAR(fs.drop_rx, 0.25, 0);
	ASSERT_NEAR(fs.slow_s, 0.040, 1e-12);
	ASSERT(fs.noreply_status_in_alarm);
	ASSERT_EQ(fault_parse(&fs, "stall@t=1", err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "needs for=S");
	ASSERT_EQ(fault_parse(&fs, "drop-rx=2", err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "probability");
	ASSERT_EQ(fault_parse(&fs, "alarm@t=1,code=11", err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "code");
	ASSERT_EQ(fault_parse(&fs, "explode@t=1", err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "unknown kind \"explode\"");
	/* the generator is deterministic for a seed */
	struct fault_set a, b;
	fault_init(&a, 9);
	fault_init(&b, 9);
	for (int i = 0; i < 100; i++) {
		double x = fault_rand(&a);
		ASSERT(x >= 0 && x < 1);
		ASSERT_NEAR(x, fault_rand(&b), 0);
	}
}

TEST_MAIN()
