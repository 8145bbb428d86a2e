/*
 * smpplan as a program: exit 0 with G-code and a report on a good plan, 1
 * with every finding as file:line:col on a bad one (and no G-code file
 * written), 2 on usage and configuration errors; --json carries the report
 * fields the issue lists; --start moves where the path begins.
 */
#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test.h"

static char tmp[128];

static int
run(const char *args, char *out, size_t outlen)
{
	char cmd[2048];
	FILE *f;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "cd %s && %s/smpplan %s 2>&1",
	    getenv("SMP_SOURCE_DIR"), getenv("SMP_BIN_DIR"), args);
	f = popen(cmd, "r");
	ASSERT_NOT_NULL(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fputs(text, f);
	fclose(f);
}

/* Test cases end in _exit (tests/test.h): each one removes its own
 * directory when it passes. */
static void
cleanup(void)
{
	char cmd[256];

	if (strncmp(tmp, "/tmp/smp-test-smpplan-", 22) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmp);
	}
}

static void
setup(void)
{
	ASSERT_NOT_NULL(getenv("SMP_BIN_DIR"));
	ASSERT_NOT_NULL(getenv("SMP_SOURCE_DIR"));
	snprintf(tmp, sizeof(tmp), "/tmp/smp-test-smpplan-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(tmp));
}

TEST(good_plan_report_and_gcode)
{
	char out[8192], args[512];
	struct stat sb;

	setup();
	snprintf(args, sizeof(args), "examples/plans/sample.csv -c "
	    "etc/smpd.conf -o %s/s.gcode", tmp);
	ASSERT_EQ(run(args, out, sizeof(out)), 0);
	ASSERT_STR_CONTAINS(out, "dots            300");
	ASSERT_STR_CONTAINS(out, "estimated time");
	snprintf(args, sizeof(args), "%s/s.gcode", tmp);
	ASSERT_EQ(stat(args, &sb), 0);
	ASSERT_GT(sb.st_size, 300 * 30);
	cleanup();
}

TEST(json_report_fields)
{
	char out[16384], args[512];
	json_t *r;
	json_error_t e;
	static const char *const keys[] = { "dots", "xy_path_mm", "mst_mm",
	    "z_travel_per_dot_mm", "estimated_s", "phases_s", "warnings",
	    "bytes_per_dot" };

	setup();
	snprintf(args, sizeof(args), "examples/plans/small.csv --json -o "
	    "%s/s.gcode", tmp);
	ASSERT_EQ(run(args, out, sizeof(out)), 0);
	r = json_loads(out, 0, &e);
	ASSERT_MSG(r != NULL, "%s: %s", e.text, out);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ASSERT_MSG(json_object_get(r, keys[i]) != NULL, "no %s", keys[i]);
	ASSERT_EQ(json_integer_value(json_object_get(r, "dots")), 20);
	ASSERT(json_real_value(json_object_get(r, "xy_path_mm")) >=
	    json_real_value(json_object_get(r, "mst_mm")));
	ASSERT(json_real_value(json_object_get(r, "estimated_s")) > 20 * 0.05);
	ASSERT_NOT_NULL(json_object_get(json_object_get(r, "phases_s"),
	    "order"));
	json_decref(r);
	cleanup();
}

TEST(bad_plan_exit_1_every_finding_no_output)
{
	char out[8192], args[512];
	struct stat sb;

	setup();
	write_file("bad.csv", "x,y,depth\n1,2,abc\n1,2,0.5\n99,2,0.5\n"
	    "1,q,0.5\n");
	snprintf(args, sizeof(args), "%s/bad.csv -o %s/bad.gcode", tmp, tmp);
	ASSERT_EQ(run(args, out, sizeof(out)), 1);
	ASSERT_STR_CONTAINS(out, "bad.csv:2:5: error: depth: \"abc\" is not a "
	    "number");
	ASSERT_STR_CONTAINS(out, "bad.csv:5:3: error: y: \"q\"");
	snprintf(args, sizeof(args), "%s/bad.gcode", tmp);
	ASSERT_NE(stat(args, &sb), 0);
	/* validation after reading: the envelope */
	write_file("far.csv", "x,y,depth\n1,2,0.5\n99,2,0.5\n");
	snprintf(args, sizeof(args), "%s/far.csv -o %s/far.gcode", tmp, tmp);
	ASSERT_EQ(run(args, out, sizeof(out)), 1);
	ASSERT_STR_CONTAINS(out, "far.csv:3: error: dot 2: x 99 mm is outside");
	/* not text */
	write_file("bin.csv", "x,y,depth\n\x01\x02\n");
	snprintf(args, sizeof(args), "%s/bin.csv", tmp);
	ASSERT_EQ(run(args, out, sizeof(out)), 1);
	ASSERT_STR_CONTAINS(out, "bin.csv:2:1: error: not a text file");
	cleanup();
}

TEST(usage_and_config_errors_exit_2)
{
	char out[8192], args[512];

	setup();
	ASSERT_EQ(run("", out, sizeof(out)), 2);
	ASSERT_STR_CONTAINS(out, "usage: smpplan");
	ASSERT_EQ(run("/nonexistent/plan.csv", out, sizeof(out)), 2);
	write_file("c.conf", "needle: { max_depth = 1.0; };\n");
	snprintf(args, sizeof(args), "examples/plans/small.csv -c %s/c.conf",
	    tmp);
	ASSERT_EQ(run(args, out, sizeof(out)), 2);
	ASSERT_STR_CONTAINS(out, "c.conf:1: unknown key needle.max_depth");
	ASSERT_EQ(run("examples/plans/small.csv --start 1,2", out,
	    sizeof(out)), 2);
	write_file("h.conf", "needle: { heightmap = \"/nonexistent\"; };\n");
	snprintf(args, sizeof(args), "examples/plans/small.csv -c %s/h.conf",
	    tmp);
	ASSERT_EQ(run(args, out, sizeof(out)), 2);
	ASSERT_STR_CONTAINS(out, "height map /nonexistent");
	cleanup();
}

TEST(start_point_is_where_the_path_begins)
{
	char out[8192], args[512], path[256], line[128];
	FILE *f;
	int hop = 0;

	setup();
	snprintf(args, sizeof(args), "examples/plans/small.csv --start "
	    "-50,-70,10 -o %s/st.gcode", tmp);
	ASSERT_EQ(run(args, out, sizeof(out)), 0);
	snprintf(path, sizeof(path), "%s/st.gcode", tmp);
	f = fopen(path, "r");
	ASSERT_NOT_NULL(f);
	/* the first move keeps the start's height: nothing goes below 10
	 * before the first lateral move */
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strchr(line, 'X') != NULL || strchr(line, 'Y') != NULL)
			break;
		if (strchr(line, 'Z') != NULL) {
			ASSERT(strtod(strchr(line, 'Z') + 1, NULL) >= 10);
			hop = 1;
		}
	}
	fclose(f);
	ASSERT(hop);
	/* a start below the skin's clearance plane is refused */
	snprintf(args, sizeof(args), "examples/plans/small.csv --start 0,0,-5 "
	    "-o %s/st2.gcode", tmp);
	ASSERT_EQ(run(args, out, sizeof(out)), 1);
	ASSERT_STR_CONTAINS(out, "below the clearance plane");
	cleanup();
}

TEST_MAIN()
