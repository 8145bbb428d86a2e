/*
 * Plan readers, validation and the planner's configuration. Every rejection
 * must name where the fault is (line and column, or JSON path), every fault
 * must be listed, and a plan with any error must not come back at all.
 */
#include <math.h>

#include "planner/pconfig.h"
#include "planner/plan.h"
#include "planner/surface.h"
#include "test.h"

static struct planner_config cfg;

static struct plan *
csv(const char *text, struct diag_list **dlp)
{
	pconfig_defaults(&cfg);
	*dlp = diag_list_new(50, "t.csv");
	return plan_read_mem(text, strlen(text), "t.csv", NULL, &cfg, *dlp);
}

/* Reads and validates; returns the diag list (plan freed). */
static struct diag_list *
load(const char *text, int *ok)
{
	struct diag_list *dl;
	struct plan *p = csv(text, &dl);

	*ok = 0;
	if (p != NULL) {
		*ok = plan_validate(p, &cfg, NULL, dl) == 0;
		plan_destroy(&p);
	}
	return dl;
}

static const char *
first(struct diag_list *dl)
{
	static char buf[400];

	ASSERT(dl->n > 0);
	return diag_format(dl, 0, buf, sizeof(buf));
}

TEST(csv_good_any_column_order)
{
	struct diag_list *dl;
	struct plan *p = csv("# crown\n\n  # indented comment\n"
	    "depth, dwell_ms ,y,x,id,z\r\n0.8,60,2,1,7,-3.2\n0.5,50,4,3,9,-3\n",
	    &dl);

	ASSERT_NOT_NULL(p);
	ASSERT_EQ(p->n, 2);
	ASSERT_NEAR(p->dots[0].x_mm, 1, 0);
	ASSERT_NEAR(p->dots[0].y_mm, 2, 0);
	ASSERT_NEAR(p->dots[0].z_mm, -3.2, 0);
	ASSERT_NEAR(p->dots[0].depth_mm, 0.8, 0);
	ASSERT_EQ(p->dots[0].dwell_ms, 60);
	ASSERT_EQ(p->dots[0].id, 7);
	ASSERT_EQ(p->dots[0].src_line, 5);
	ASSERT_EQ(p->dots[0].flags, DOT_HAS_Z | DOT_HAS_DWELL | DOT_HAS_ID);
	ASSERT_EQ(p->dots[1].id, 9);
	ASSERT_EQ(plan_validate(p, &cfg, NULL, dl), 0);
	plan_destroy(&p);
	diag_list_destroy(&dl);
}

TEST(csv_defaults_and_row_ids)
{
	struct diag_list *dl;
	struct plan *p = csv("x,y,depth\n1,2,0.5\n3,4,0.5\n", &dl);

	ASSERT_NOT_NULL(p);
	ASSERT_EQ(p->dots[1].id, 2);
	ASSERT_EQ(p->dots[1].dwell_ms, 50);
	ASSERT_EQ(p->dots[1].flags, 0);
	ASSERT_EQ(plan_validate(p, &cfg, NULL, dl), 0);
	ASSERT_NEAR(p->dots[1].z_mm, 0, 0);   /* flat skin */
	plan_destroy(&p);
	diag_list_destroy(&dl);
}

TEST(csv_inches)
{
	struct diag_list *dl;
	struct plan *p = csv("# units: in\nx,y,depth\n1,-1,0.02\n", &dl);

	ASSERT_NOT_NULL(p);
	ASSERT_NEAR(p->dots[0].x_mm, 25.4, 1e-12);
	ASSERT_NEAR(p->dots[0].y_mm, -25.4, 1e-12);
	ASSERT_NEAR(p->dots[0].depth_mm, 0.508, 1e-12);
	plan_destroy(&p);
	diag_list_destroy(&dl);
}

/* Each bad input: no plan, and the first finding is exactly this. */
struct bad {
	const char *text, *want;
};

static const struct bad bads[] = {
	{ "x,y,depth\n1,2,abc\n", "t.csv:2:5: error: depth: \"abc\" is not a "
	    "number" },
	{ "x,y,depth\n1, 2x ,0.5\n", "t.csv:2:4: error: y: \"2x\" is not a "
	    "number" },
	{ "x,y,depth\n1,2\n", "t.csv:2:4: error: 2 fields where the header "
	    "has 3" },
	{ "x,y,depth\n1,2,0.5,9\n", "t.csv:2:9: error: 4 fields where the "
	    "header has 3" },
	{ "x,y,depth\nnan,2,0.5\n", "t.csv:2:1: error: x is not a finite "
	    "number" },
	{ "x,y,depth\n1,inf,0.5\n", "t.csv:2:3: error: y is not a finite "
	    "number" },
	{ "x,y,depth\n1,2,2\n", "t.csv:2:5: error: depth 2 mm is not in "
	    "[0.05, 1.5] (needle.min_depth_mm, max_depth_mm)" },
	{ "x,y,depth\n1,2,0\n", "t.csv:2:5: error: depth 0 mm is not in" },
	{ "x,y,depth\n1,2,0.04\n", "t.csv:2:5: error: depth 0.04 mm is not "
	    "in [0.05, 1.5]" },
	{ "x,y,depth\n1,2,-0.5\n", "t.csv:2:5: error: depth -0.5 mm is not" },
	{ "x,y,depth,color\n", "t.csv:1:11: error: unknown column \"color\"" },
	{ "x,y,x,depth\n", "t.csv:1:5: error: column x named twice" },
	{ "x,depth\n", "t.csv:1:1: error: header lacks the required column y" },
	{ "x,y\n", "t.csv:1:1: error: header lacks the required column depth" },
	{ "x,y,depth,id\n1,2,0.5,7.5\n", "t.csv:2:9: error: id: \"7.5\" is not "
	    "an integer" },
	{ "x,y,depth,dwell_ms\n1,2,0.5,-1\n", "t.csv:2:9: error: dwell_ms -1 "
	    "is not in [0, 60000]" },
	{ "# only comments\n", "t.csv:1: error: no header line" },
	{ "", "t.csv:1: error: no header line" },
	{ "x,y,depth\n1,2,0.5\0\n", "t.csv:2:8: error: not a text file (byte "
	    "0x00)" },
	{ "x,y,depth\n1,2,\x01\n", "t.csv:2:5: error: not a text file" },
	{ "# units: furlong\nx,y,depth\n1,2,0.5\n", "t.csv:1:10: error: units "
	    "must be mm or in" },
};

TEST(csv_each_rejection_names_line_and_column)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct diag_list *dl;
		size_t len = strlen(bads[i].text);
		struct plan *p;
		if (strstr(bads[i].want, "0x00") != NULL)
			len = 19;   /* the text holds a NUL */
		pconfig_defaults(&cfg);
		dl = diag_list_new(50, "t.csv");
		p = plan_read_mem(bads[i].text, len, "t.csv", NULL, &cfg, dl);
		ASSERT_MSG(p == NULL, "case %zu accepted", i);
		ASSERT_MSG(dl->errors > 0, "case %zu: no error", i);
		ASSERT_STR_CONTAINS(first(dl), bads[i].want);
		diag_list_destroy(&dl);
	}
}

TEST(csv_all_errors_listed_nothing_loaded)
{
	struct diag_list *dl;
	struct plan *p = csv("x,y,depth\n1,2,0.5\nq,2,0.5\n1,2,0.5\n1,w,0.5\n"
	    "1,2,9\n", &dl);
	char buf[300];

	ASSERT_NULL(p);
	ASSERT_EQ(dl->errors, 3);
	ASSERT_STR_CONTAINS(diag_format(dl, 0, buf, sizeof(buf)), ":3:1:");
	ASSERT_STR_CONTAINS(diag_format(dl, 1, buf, sizeof(buf)), ":5:3:");
	ASSERT_STR_CONTAINS(diag_format(dl, 2, buf, sizeof(buf)), ":6:5:");
	diag_list_destroy(&dl);
}

TEST(diag_cap_counts_the_rest)
{
	struct diag_list *dl = diag_list_new(2, "f");

	for (int i = 0; i < 5; i++)
		diag_add(dl, DIAG_ERROR, 1, 1, NULL, "e%d", i);
	diag_add(dl, DIAG_WARNING, 1, 1, NULL, "w");
	ASSERT_EQ(dl->n, 2);
	ASSERT_EQ(dl->dropped, 4);
	ASSERT_EQ(dl->errors, 5);
	ASSERT_EQ(dl->warnings, 1);
	diag_list_destroy(&dl);
	ASSERT_NULL(dl);
	diag_list_destroy(&dl);
}

static void
expect_invalid(const char *text, const char *want)
{
	int ok;
	struct diag_list *dl = load(text, &ok);

	ASSERT_MSG(!ok, "accepted: %s", text);
	ASSERT_STR_CONTAINS(first(dl), want);
	diag_list_destroy(&dl);
}

TEST(validate_envelope)
{
	expect_invalid("x,y,depth\n61,0,0.5\n", "t.csv:2: error: dot 1: x 61 mm "
	    "is outside the envelope [-60, 60]");
	expect_invalid("x,y,depth\n0,-81,0.5\n", "t.csv:2: error: dot 1: y -81");
	expect_invalid("x,y,z,depth\n0,0,25,0.5\n", "dot 1: z 25 mm is outside");
	expect_invalid("x,y,z,depth\n0,0,19.5,0.5\n", "dot 1: its stroke "
	    "19..20.5");
}

TEST(validate_duplicate_ids)
{
	expect_invalid("id,x,y,depth\n4,0,0,0.5\n5,1,0,0.5\n4,2,0,0.5\n",
	    "t.csv:4: error: id 4 already used (line 2)");
}

TEST(validate_spacing_reject_and_warn)
{
	struct diag_list *dl;
	struct plan *p;
	int ok;

	expect_invalid("x,y,depth\n0,0,0.5\n0.1,0.1,0.5\n", "t.csv:3: error: "
	    "dot 2 is 0.141 mm from dot 1, closer than");
	p = csv("x,y,depth\n0,0,0.5\n0.1,0.1,0.5\n5,5,0.5\n", &dl);
	cfg.spacing = SPACING_WARN;
	ok = plan_validate(p, &cfg, NULL, dl) == 0;
	ASSERT(ok);
	ASSERT_EQ(dl->warnings, 1);
	ASSERT_EQ(dl->errors, 0);
	plan_destroy(&p);
	diag_list_destroy(&dl);
	/* exactly at the spacing is allowed */
	dl = load("x,y,depth\n0,0,0.5\n0.2,0,0.5\n", &ok);
	ASSERT(ok);
	diag_list_destroy(&dl);
}

TEST(validate_empty_and_max_dots)
{
	struct diag_list *dl;
	struct plan *p;

	expect_invalid("x,y,depth\n", "t.csv: error: the plan has no dots");
	p = csv("x,y,depth\n0,0,0.5\n1,0,0.5\n2,0,0.5\n", &dl);
	cfg.max_dots = 2;
	ASSERT_EQ(plan_validate(p, &cfg, NULL, dl), -1);
	ASSERT_STR_CONTAINS(first(dl), "3 dots, more than planner.max_dots (2)");
	plan_destroy(&p);
	diag_list_destroy(&dl);
}

TEST(validate_z_from_surface)
{
	struct diag_list *dl;
	struct plan *p = csv("x,y,depth\n1,1,0.5\n", &dl);
	double z[4] = { -2, -2, -2, -2 };
	struct surface *s = surface_grid(0, 0, 1, 1, 2, 2, z);

	ASSERT_EQ(plan_validate(p, &cfg, s, dl), 0);
	ASSERT_NEAR(p->dots[0].z_mm, -2, 1e-12);
	surface_destroy(&s);
	plan_destroy(&p);
	diag_list_destroy(&dl);
}

static struct plan *
json(const char *text, struct diag_list **dlp)
{
	pconfig_defaults(&cfg);
	*dlp = diag_list_new(50, "t.json");
	return plan_read_mem(text, strlen(text), "t.json", NULL, &cfg, *dlp);
}

TEST(json_good_with_defaults_and_inches)
{
	struct diag_list *dl;
	struct plan *p = json("{\"format\": \"smp-dot-plan\", \"version\": 1,"
	    "\"units\": \"mm\", \"defaults\": {\"depth\": 0.8, \"dwell_ms\": 60},"
	    "\"dots\": [{\"x\": 1.0, \"y\": 2.0, \"z\": -3.2, \"id\": 7},"
	    "{\"x\": 3, \"y\": 4, \"depth\": 0.5, \"dwell_ms\": 100}]}", &dl);

	ASSERT_NOT_NULL(p);
	ASSERT_EQ(p->n, 2);
	ASSERT_EQ(p->format, PLAN_FORMAT_JSON);
	ASSERT_NEAR(p->dots[0].depth_mm, 0.8, 0);
	ASSERT_EQ(p->dots[0].dwell_ms, 60);
	ASSERT_EQ(p->dots[0].id, 7);
	ASSERT_EQ(p->dots[1].id, 2);
	ASSERT_EQ(p->dots[1].dwell_ms, 100);
	ASSERT_NEAR(p->dots[0].z_mm, -3.2, 0);
	plan_destroy(&p);
	diag_list_destroy(&dl);
	p = json("{\"units\": \"in\", \"defaults\": {\"depth\": 0.02},"
	    "\"dots\": [{\"x\": 1, \"y\": 0.5}]}", &dl);
	ASSERT_NOT_NULL(p);
	ASSERT_NEAR(p->dots[0].x_mm, 25.4, 1e-12);
	ASSERT_NEAR(p->dots[0].depth_mm, 0.508, 1e-12);
	plan_destroy(&p);
	diag_list_destroy(&dl);
}

static const struct bad jbads[] = {
	{ "{\"dots\": [{\"x\": 1, \"y\": \"a\", \"depth\": 0.5}]}",
	    "t.json: dots[0].y: error: not a finite number" },
	{ "{\"dots\": [{\"x\": 1, \"depth\": 0.5}]}", "t.json: dots[0]: error: "
	    "missing y" },
	{ "{\"dots\": [{\"x\": 1, \"y\": 1}]}", "t.json: dots[0]: error: "
	    "missing depth" },
	{ "{\"dots\": [{\"x\": 1, \"y\": 1, \"depth\": 0.5, \"q\": 1}]}",
	    "t.json: dots[0].q: error: unknown field" },
	{ "{\"dots\": [{\"x\": 1, \"y\": 1, \"depth\": 3}]}", "t.json: "
	    "dots[0].depth: error: depth 3 mm is not in [0.05, 1.5]" },
	{ "{\"dots\": [1]}", "t.json: dots[0]: error: a dot must be an object" },
	{ "{\"units\": \"cm\", \"dots\": []}", "t.json: units: error: must be" },
	{ "{\"version\": 2, \"dots\": []}", "t.json: version: error: must be 1" },
	{ "{\"format\": \"x\", \"dots\": []}", "t.json: format: error: must be" },
	{ "{\"dots\": {}}", "t.json: dots: error: missing, or not an array" },
	{ "{\"dots\": [], \"extra\": 1}", "t.json: extra: error: unknown field" },
	{ "{\"defaults\": {\"depth\": \"deep\"}, \"dots\": []}", "t.json: "
	    "defaults.depth: error: not a valid number" },
	{ "{\"dots\": [\n{\"x\": 1,,}]}", "t.json:2:" },
	{ "{\"dots\": [{\"x\": 1, \"x\": 2}]}", "t.json:1:" },
	{ "{\"dots\": [{\"x\": 1, \"y\": 1, \"depth\": 0.5, \"id\": 1.5}]}",
	    "t.json: dots[0].id: error: not an integer" },
};

TEST(json_each_rejection_names_its_path)
{
	for (size_t i = 0; i < sizeof(jbads) / sizeof(jbads[0]); i++) {
		struct diag_list *dl;
		struct plan *p = json(jbads[i].text, &dl);
		ASSERT_MSG(p == NULL, "case %zu accepted", i);
		ASSERT_STR_CONTAINS(first(dl), jbads[i].want);
		diag_list_destroy(&dl);
	}
}

TEST(json_validation_uses_paths)
{
	struct diag_list *dl;
	struct plan *p = json("{\"defaults\": {\"depth\": 0.5}, \"dots\": ["
	    "{\"x\": 0, \"y\": 0, \"id\": 3}, {\"x\": 70, \"y\": 0, \"id\": 3}"
	    "]}", &dl);

	ASSERT_NOT_NULL(p);
	ASSERT_EQ(plan_validate(p, &cfg, NULL, dl), -1);
	ASSERT_EQ(dl->errors, 2);
	ASSERT_STR_CONTAINS(first(dl), "t.json: dots[1].x: error: dot 3: x 70");
	plan_destroy(&p);
	diag_list_destroy(&dl);
}

TEST_T(million_dots_load, 60)
{
	size_t n = 1000000, cap = n * 24 + 64, len;
	char *buf = malloc(cap);
	struct diag_list *dl;
	struct plan *p;

	ASSERT_NOT_NULL(buf);
	len = (size_t)snprintf(buf, cap, "x,y,depth\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%.2f,%.2f,0.5\n",
		    (double)(i % 1000) * 0.1 - 50, (double)(i / 1000) * 0.15 -
		    75);
	pconfig_defaults(&cfg);
	cfg.min_spacing_mm = 0.05;
	dl = diag_list_new(50, "big");
	p = plan_read_mem(buf, len, "big", NULL, &cfg, dl);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(p->n, n);
	ASSERT_EQ(plan_validate(p, &cfg, NULL, dl), 0);
	plan_destroy(&p);
	diag_list_destroy(&dl);
	free(buf);
}

static int
write_conf(const char *text, char *path)
{
	FILE *f;

	snprintf(path, 64, "/tmp/smp-test-pconfig-%d.conf", (int)getpid());
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	fclose(f);
	return 0;
}

TEST(pconfig_defaults_match_sample_config)
{
	struct planner_config d, f;
	char err[300], path[300];

	pconfig_defaults(&d);
	pconfig_defaults(&f);
	snprintf(path, sizeof(path), "%s/etc/smpd.conf", getenv("SMP_SOURCE_DIR")
	    ? getenv("SMP_SOURCE_DIR") : ".");
	/* start f from different values so the file must set every one */
	f.clearance_mm = 7; f.max_depth_mm = 0.3; f.env_min_mm[1] = 0;
	f.max_rate_mm_min[2] = 1; f.seed = 99; f.max_diags = 3;
	f.actuator = ACTUATOR_MIST; f.spacing = SPACING_WARN;
	ASSERT_MSG(pconfig_load(&f, path, err, sizeof(err)) == 0, "%s", err);
	ASSERT_EQ(memcmp(&d, &f, sizeof(d)), 0);
}

TEST(pconfig_errors_name_the_line)
{
	struct planner_config c;
	char err[300], path[64];

	pconfig_defaults(&c);
	ASSERT_EQ(write_conf("session: { anything = 1; };\nneedle:\n{\n"
	    "  max_depht_mm = 1.0;\n};\n", path), 0);
	ASSERT_EQ(pconfig_load(&c, path, err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, ":4: unknown key needle.max_depht_mm");
	ASSERT_EQ(write_conf("needle: { clearance_mm = \"high\"; };\n", path), 0);
	ASSERT_EQ(pconfig_load(&c, path, err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, ":1: needle.clearance_mm must be a number");
	ASSERT_EQ(write_conf("machine: { envelope_min = [1.0, 2.0]; };\n", path),
	    0);
	ASSERT_EQ(pconfig_load(&c, path, err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "machine.envelope_min must be [x, y, z]");
	ASSERT_EQ(write_conf("planner: { spacing = \"maybe\"; };\n", path), 0);
	ASSERT_EQ(pconfig_load(&c, path, err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "planner.spacing \"maybe\"");
	ASSERT_EQ(write_conf("needle: { max_depth_mm = 0.5; default_depth_mm "
	    "= 0.8; };\n", path), 0);
	ASSERT_EQ(pconfig_load(&c, path, err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "default_depth_mm 0.8 is not 0 and not in [min_depth_mm 0.05, max_depth_mm 0.5]");
	ASSERT_EQ(write_conf("needle: { clearance_mm = ; };\n", path), 0);
	ASSERT_EQ(pconfig_load(&c, path, err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, ":1: ");
	/* a failed load changes nothing */
	ASSERT_NEAR(c.clearance_mm, 1.0, 0);
	ASSERT_EQ(write_conf("needle: { actuator = \"flood\"; clearance_mm = 2;"
	    " };\nplanner: { line_numbers = true; seed = 42; };\n", path), 0);
	ASSERT_MSG(pconfig_load(&c, path, err, sizeof(err)) == 0, "%s", err);
	ASSERT_EQ(c.actuator, ACTUATOR_FLOOD);
	ASSERT_NEAR(c.clearance_mm, 2, 0);
	ASSERT(c.line_numbers);
	ASSERT_EQ(c.seed, 42);
	unlink(path);
}

TEST_MAIN()
