/*
 * Configuration edges the planner owns beyond test_plan.c's defaults and
 * key names: every planner key's range is enforced with the file and line,
 * and an actuator line (needle.on_gcode / off_gcode, sent verbatim to the
 * controller) may not carry GRBL real-time bytes (? ! ~, 0x80 and up, which
 * GRBL acts on even inside a comment) or be a $ system command. A load that
 * fails leaves the caller's configuration as it was.
 */
#include <unistd.h>

#include "planner/pconfig.h"
#include "test.h"

static char path[64];

static int
load(struct planner_config *c, const char *text, char *err, size_t len)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/smp-test-pconfig2-%d.conf",
	    (int)getpid());
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fputs(text, f);
	ASSERT_EQ(fclose(f), 0);
	return pconfig_load(c, path, err, len);
}

TEST(actuator_lines_are_plain_gcode)
{
	static const char *const bad[] = {
		"M62 P0 ; on!", "M62 P0 (spin?)", "M63~", "$X", "  $H",
		"M62 P0\t", "M62 P\xc3\xa9",
	};
	struct planner_config c, before;
	char err[512], conf[256];

	pconfig_defaults(&c);
	ASSERT_EQ(load(&c, "needle:\n{\n  actuator = \"custom\";\n"
	    "  on_gcode = \"M62 P0\";\n  off_gcode = \"M63 P0 (needle off)\";\n"
	    "};\n", err, sizeof(err)), 0);
	ASSERT_EQ(c.actuator, ACTUATOR_CUSTOM);
	ASSERT_STR_EQ(c.on_gcode, "M62 P0");
	ASSERT_STR_EQ(c.off_gcode, "M63 P0 (needle off)");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = c;
		snprintf(conf, sizeof(conf), "# custom actuator\nneedle:\n{\n"
		    "  actuator = \"custom\";\n  off_gcode = \"M63 P0\";\n"
		    "  on_gcode = \"%s\";\n};\n", bad[i]);
		ASSERT_MSG(load(&c, conf, err, sizeof(err)) == -1,
		    "accepted on_gcode \"%s\"", bad[i]);
		ASSERT_STR_CONTAINS(err, ":6: needle.on_gcode");
		ASSERT(memcmp(&c, &before, sizeof(c)) == 0);
	}
	/* 71 characters fit beside the longest N word; 72 do not */
	{
		char line[80];
		memset(line, 'x', sizeof(line));
		memcpy(line, "M62 P0 (", 8);
		line[70] = ')';
		line[71] = '\0';
		snprintf(conf, sizeof(conf), "needle:\n{\n  actuator = "
		    "\"custom\";\n  on_gcode = \"%s\";\n  off_gcode = "
		    "\"M63 P0\";\n};\n", line);
		pconfig_defaults(&c);
		ASSERT_EQ(load(&c, conf, err, sizeof(err)), 0);
		ASSERT_EQ(strlen(c.on_gcode), 71);
		line[71] = ')';
		line[72] = '\0';
		snprintf(conf, sizeof(conf), "needle:\n{\n  actuator = "
		    "\"custom\";\n  on_gcode = \"%s\";\n  off_gcode = "
		    "\"M63 P0\";\n};\n", line);
		ASSERT_EQ(load(&c, conf, err, sizeof(err)), -1);
		ASSERT_STR_CONTAINS(err, ":4: needle.on_gcode is longer than "
		    "71");
	}
	/* custom without both lines is incoherent */
	pconfig_defaults(&c);
	ASSERT_EQ(load(&c, "needle: { actuator = \"custom\"; on_gcode = "
	    "\"M62 P0\"; };\n", err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "on_gcode and off_gcode");
	unlink(path);
}

TEST(ranges_name_the_line)
{
	static const char *const bad[][2] = {
		{ "needle:\n{\n  clearance_mm = -1.0;\n};\n", ":3:" },
		{ "needle:\n{\n  max_depth_mm = 0.0;\n};\n", ":3" },
		{ "needle:\n{\n  plunge_feed_mm_min = \"fast\";\n};\n", ":3:" },
		{ "machine:\n{\n  accel_mm_s2 = [500.0, 500.0];\n};\n", ":3:" },
		{ "machine:\n{\n  envelope_min = [0.0, 0.0, 30.0];\n};\n", "" },
		{ "planner:\n{\n  spacing = \"maybe\";\n};\n", ":3:" },
		{ "planner:\n{\n  line_numbers = 1;\n};\n", ":3:" },
		{ "planner:\n{\n  max_diags = 0;\n};\n", "" },
		{ "needle:\n{\n  default_depth_mm = 2.0;\n};\n", "" },
		{ "machine = 3;\n", ":1:" },
		{ "needle:\n{\n  clearance_mm = = 1.0;\n};\n", ":3:" }, /* syntax */
	};
	struct planner_config c, before;
	char err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pconfig_defaults(&c);
		before = c;
		ASSERT_MSG(load(&c, bad[i][0], err, sizeof(err)) == -1,
		    "accepted: %s", bad[i][0]);
		ASSERT_STR_CONTAINS(err, path);
		ASSERT_STR_CONTAINS(err, bad[i][1]);
		ASSERT(memcmp(&c, &before, sizeof(c)) == 0);
	}
	unlink(path);
	/* a file that is not there */
	pconfig_defaults(&c);
	ASSERT_EQ(pconfig_load(&c, "/nonexistent/smpd.conf", err, sizeof(err)),
	    -1);
	ASSERT_STR_CONTAINS(err, "/nonexistent/smpd.conf");
}

TEST_MAIN()
