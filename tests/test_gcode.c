/*
 * G-code emitter: exact lines for a hand-made toolpath (modal words not
 * repeated, numbers at 3 decimals without trailing zeros, the hop order
 * up-sideways-down), each actuator, line numbers, the reset that makes the
 * next lines spell everything out, and golden files for the sample plans
 * through smpplan. To regenerate a golden file after an intended change:
 * smpplan examples/plans/small.csv -o tests/golden/small.gcode (and see
 * golden_heightmap below for its config), then review the diff.
 */
#include <sys/wait.h>

#include "planner/gcode.h"
#include "test.h"

static struct planner_config cfg;

static void
tiny(struct toolpath *tp)
{
	static struct toolpath_dot d[2];

	memset(tp, 0, sizeof(*tp));
	memset(d, 0, sizeof(d));
	d[0].x_mm = 1; d[0].y_mm = 2; d[0].skin_z = -1.25;
	d[0].clear_z = -0.25; d[0].hop_z = 3.5; d[0].bottom_z = -2.05;
	d[0].dwell_ms = 50; d[0].dwell_asked_ms = 50;
	d[1].x_mm = 1; d[1].y_mm = 4.1235; d[1].skin_z = -1.25;
	d[1].clear_z = -0.25; d[1].hop_z = -0.25; d[1].bottom_z = -2.05;
	d[1].dwell_ms = 100; d[1].dwell_asked_ms = 60;
	tp->d = d;
	tp->n = 2;
}

static void
expect(const struct gcode_line *l, int n, const char *const *want, int nw)
{
	ASSERT_EQ(n, nw);
	for (int i = 0; i < n; i++) {
		ASSERT_STR_EQ(l[i].text, want[i]);
		ASSERT_EQ(l[i].len, strlen(want[i]));
	}
}

TEST(fmt_num)
{
	char b[32];
	ASSERT_EQ(gcode_fmt_num(b, sizeof(b), 1.5), 3); ASSERT_STR_EQ(b, "1.5");
	gcode_fmt_num(b, sizeof(b), -0.25); ASSERT_STR_EQ(b, "-0.25");
	gcode_fmt_num(b, sizeof(b), 12); ASSERT_STR_EQ(b, "12");
	gcode_fmt_num(b, sizeof(b), -0.0001); ASSERT_STR_EQ(b, "0");
	gcode_fmt_num(b, sizeof(b), 0.0005); ASSERT_STR_EQ(b, "0.001");
	gcode_fmt_num(b, sizeof(b), 123.4564); ASSERT_STR_EQ(b, "123.456");
	gcode_fmt_num(b, sizeof(b), -60); ASSERT_STR_EQ(b, "-60");
	gcode_fmt_num(b, sizeof(b), 0.1 + 0.2); ASSERT_STR_EQ(b, "0.3");
}

TEST(exact_lines_spindle)
{
	struct toolpath tp;
	struct gcode_emitter e;
	struct gcode_line l[GCODE_MAX_LINES_PER_DOT];
	static const char *const pre[] = { "G21G90G94", "M3S1000" };
	static const char *const d0[] = { "G0Z3.5", "X1Y2", "Z-0.25",
	    "G1Z-2.05F600", "G4P0.05", "G0Z-0.25" };
	static const char *const d1[] = { "Y4.124", "G1Z-2.05", "G4P0.1",
	    "G0Z-0.25" };
	static const char *const post[] = { "M5", "M2" };
	int n;

	pconfig_defaults(&cfg);
	tiny(&tp);
	gcode_emitter_init(&e, &cfg);
	n = gcode_preamble(&e, l);
	n += gcode_needle_on(&e, l + n);
	expect(l, n, pre, 2);
	ASSERT_EQ(l[0].role, GCODE_SETUP);
	ASSERT_EQ(l[1].role, GCODE_NEEDLE_ON);
	n = gcode_dot(&e, &tp, 0, l);
	expect(l, n, d0, 6);
	ASSERT_EQ(l[0].role, GCODE_HOP);
	ASSERT_EQ(l[1].role, GCODE_HOP);
	ASSERT_EQ(l[2].role, GCODE_DESCEND);
	ASSERT_EQ(l[3].role, GCODE_PLUNGE);
	ASSERT_EQ(l[4].role, GCODE_DWELL);
	ASSERT_EQ(l[5].role, GCODE_RETRACT);
	for (int i = 0; i < n; i++)
		ASSERT_EQ(l[i].dot, 0);
	n = gcode_dot(&e, &tp, 1, l);
	expect(l, n, d1, 4);
	ASSERT_EQ(l[0].dot, 1);
	ASSERT_EQ(l[2].role, GCODE_DWELL);
	n = gcode_postamble(&e, l);
	expect(l, n, post, 2);
	ASSERT_EQ(l[0].role, GCODE_NEEDLE_OFF);
	ASSERT_EQ(l[1].role, GCODE_END);
	ASSERT_EQ(l[1].dot, GCODE_NO_DOT);
}

TEST(reset_spells_everything_out)
{
	struct toolpath tp;
	struct gcode_emitter e;
	struct gcode_line l[GCODE_MAX_LINES_PER_DOT];
	static const char *const d1[] = { "G0Z-0.25", "X1Y4.124",
	    "G1Z-2.05F600", "G4P0.1", "G0Z-0.25" };
	int n;

	pconfig_defaults(&cfg);
	tiny(&tp);
	gcode_emitter_init(&e, &cfg);
	gcode_dot(&e, &tp, 0, l);
	gcode_emitter_reset(&e);
	n = gcode_dot(&e, &tp, 1, l);
	expect(l, n, d1, 5);
}

TEST(actuators_retract_feed_and_line_numbers)
{
	struct toolpath tp;
	struct gcode_emitter e;
	struct gcode_line l[GCODE_MAX_LINES_PER_DOT];
	int n;

	pconfig_defaults(&cfg);
	tiny(&tp);
	cfg.actuator = ACTUATOR_FLOOD;
	gcode_emitter_init(&e, &cfg);
	gcode_needle_on(&e, l);
	ASSERT_STR_EQ(l[0].text, "M8");
	gcode_needle_off(&e, l);
	ASSERT_STR_EQ(l[0].text, "M9");
	cfg.actuator = ACTUATOR_MIST;
	gcode_needle_on(&e, l);
	ASSERT_STR_EQ(l[0].text, "M7");
	cfg.actuator = ACTUATOR_CUSTOM;
	snprintf(cfg.on_gcode, sizeof(cfg.on_gcode), "M62 P0");
	snprintf(cfg.off_gcode, sizeof(cfg.off_gcode), "M63 P0");
	gcode_needle_on(&e, l);
	ASSERT_STR_EQ(l[0].text, "M62 P0");
	n = gcode_postamble(&e, l);
	ASSERT_EQ(n, 2);
	ASSERT_STR_EQ(l[0].text, "M63 P0");
	cfg.actuator = ACTUATOR_SPINDLE;
	cfg.spindle_s = 12000.5;
	cfg.retract_feed_mm_min = 300;
	cfg.line_numbers = true;
	gcode_emitter_init(&e, &cfg);
	n = gcode_preamble(&e, l);
	n += gcode_needle_on(&e, l + n);
	ASSERT_STR_EQ(l[0].text, "N1G21G90G94");
	ASSERT_STR_EQ(l[1].text, "N2M3S12000.5");
	n = gcode_dot(&e, &tp, 0, l);
	ASSERT_STR_EQ(l[0].text, "N3G0Z3.5");
	ASSERT_STR_EQ(l[3].text, "N6G1Z-2.05F600");
	ASSERT_STR_EQ(l[5].text, "N8Z-0.25F300");
	n = gcode_dot(&e, &tp, 1, l);
	ASSERT_STR_EQ(l[0].text, "N9G0Y4.124");
	ASSERT_STR_EQ(l[1].text, "N10G1Z-2.05F600");
	ASSERT_EQ(n, 4);
}

/* Runs smpplan on a sample plan and compares with a golden file. */
static void
golden(const char *plan, const char *conf_text, const char *gold)
{
	char cmd[2048], out[256], conf[256], a[512], b[512];
	const char *bin = getenv("SMP_BIN_DIR"), *src = getenv("SMP_SOURCE_DIR");
	FILE *fa, *fb;
	int line = 0;

	ASSERT_NOT_NULL(bin);
	ASSERT_NOT_NULL(src);
	snprintf(out, sizeof(out), "/tmp/smp-golden-%d.gcode", (int)getpid());
	snprintf(conf, sizeof(conf), "/tmp/smp-golden-%d.conf", (int)getpid());
	fa = fopen(conf, "w");
	ASSERT_NOT_NULL(fa);
	{
		/* conf_text has one "@SRC@" for the source directory */
		const char *at = strstr(conf_text, "@SRC@");
		if (at != NULL)
			fprintf(fa, "%.*s%s%s", (int)(at - conf_text), conf_text,
			    src, at + 5);
		else
			fputs(conf_text, fa);
	}
	fclose(fa);
	snprintf(cmd, sizeof(cmd), "%s/smpplan %s/%s -c %s -o %s >/dev/null",
	    bin, src, plan, conf, out);
	ASSERT_EQ(system(cmd), 0);
	snprintf(a, sizeof(a), "%s/%s", src, gold);
	fa = fopen(a, "r");
	fb = fopen(out, "r");
	ASSERT_NOT_NULL(fa);
	ASSERT_NOT_NULL(fb);
	for (;;) {
		char *ra = fgets(a, sizeof(a), fa), *rb = fgets(b, sizeof(b), fb);
		line++;
		if (ra == NULL || rb == NULL) {
			ASSERT_MSG(ra == NULL && rb == NULL, "%s: lengths differ "
			    "at line %d", gold, line);
			break;
		}
		ASSERT_MSG(strcmp(a, b) == 0, "%s:%d: want %s got %s", gold,
		    line, a, b);
	}
	fclose(fa);
	fclose(fb);
	unlink(out);
	unlink(conf);
}

TEST(golden_small)
{
	golden("examples/plans/small.csv", "# @SRC@\n", "tests/golden/small.gcode");
}

TEST(golden_heightmap)
{
	golden("examples/plans/small.csv", "needle: { heightmap = "
	    "\"@SRC@/examples/plans/scalp-heightmap.txt\"; };\n",
	    "tests/golden/small-heightmap.gcode");
}

TEST(golden_json_inch_flood_numbered)
{
	golden("tests/golden/tiny-inch.json", "# @SRC@\nneedle: { actuator = "
	    "\"flood\"; retract_feed_mm_min = 400.0; };\nplanner: { "
	    "line_numbers = true; };\n", "tests/golden/tiny-inch.gcode");
}

TEST_MAIN()
