/*
 * What an operator meets first: smpplan on the bundled sample plans (exit
 * status, report, G-code that starts and ends safely), its exit codes for an
 * invalid plan (1, every finding as file:line:col) and for usage,
 * configuration and I/O errors (2), the --json report; and the reader's
 * refusal of input that is not text (NUL and control bytes, ill-formed
 * UTF-8 such as a plan saved in a legacy code page), with the position.
 */
#include <jansson.h>

#include "planner/pconfig.h"
#include "planner/plan.h"
#include "test.h"

/* test.h's ASSERT_LT/LE/GT/GE compare as integers: lengths and times are
 * compared here as doubles. */
#define ASSERT_DBL(a, op, b)                                                  \
	ASSERT_MSG((double)(a) op (double)(b), "%.9g %s %.9g", (double)(a),    \
	    #op, (double)(b))

static char dir[64], bin[512], src[512];

static void
setup(void)
{
	const char *b = getenv("SMP_BIN_DIR"), *s = getenv("SMP_SOURCE_DIR");

	ASSERT_NOT_NULL(b);
	ASSERT_NOT_NULL(s);
	snprintf(bin, sizeof(bin), "%s", b);
	snprintf(src, sizeof(src), "%s", s);
	snprintf(dir, sizeof(dir), "/tmp/test_plan_cli.XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
}

static void
cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ASSERT_EQ(system(cmd), 0);
}

#define put(name, text) put_n(name, text, strlen(text))

static void
put_n(const char *name, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fwrite(text, 1, len, f), len);
	ASSERT_EQ(fclose(f), 0);
}

/* Whole file into a static buffer ("" when absent). */
static const char *
get(const char *name)
{
	static char buf[1 << 20];
	char path[256];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	buf[0] = '\0';
	f = fopen(path, "rb");
	if (f == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Runs smpplan with args (%D = the scratch directory, %S = the source
 * tree); stdout to DIR/out, stderr to DIR/err. Returns the exit status. */
static int
smpplan(const char *args)
{
	char cmd[2048], a[1024];
	size_t k = 0;
	int st;

	for (const char *p = args; *p && k + 300 < sizeof(a); p++) {
		if (p[0] == '%' && (p[1] == 'D' || p[1] == 'S')) {
			k += (size_t)snprintf(a + k, sizeof(a) - k, "%s",
			    p[1] == 'D' ? dir : src);
			p++;
		} else
			a[k++] = *p;
	}
	a[k] = '\0';
	snprintf(cmd, sizeof(cmd), "%s/smpplan %s >%s/out 2>%s/err", bin, a,
	    dir, dir);
	st = system(cmd);
	ASSERT(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static size_t
count_lines(const char *text, const char *prefix)
{
	size_t n = 0, l = strlen(prefix);

	for (const char *p = text; *p; ) {
		if (strncmp(p, prefix, l) == 0)
			n++;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return n;
}

TEST(sample_plans_plan_and_report)
{
	static const char *const plans[][2] = {
		{ "examples/plans/sample.csv", NULL },
		{ "examples/plans/small.csv", NULL },
	};
	char conf[1024];

	setup();
	/* the samples carry z; with the height map configured too */
	snprintf(conf, sizeof(conf), "needle: { heightmap = \"%s/examples/"
	    "plans/scalp-heightmap.txt\"; };\n", src);
	put("hm.conf", conf);
	for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
		for (int withmap = 0; withmap < 2; withmap++) {
			char args[512], rows[1 << 16];
			const char *g;
			size_t dots = 0;
			FILE *f;
			snprintf(args, sizeof(args), "%%S/%s -o %%D/out.gcode%s",
			    plans[i][0], withmap ? " -c %D/hm.conf" : "");
			ASSERT_EQ(smpplan(args), 0);
			snprintf(rows, sizeof(rows), "%s/%s", src, plans[i][0]);
			f = fopen(rows, "r");
			ASSERT_NOT_NULL(f);
			while (fgets(rows, sizeof(rows), f) != NULL)
				if (rows[0] != '#' && rows[0] != 'i' &&
				    rows[0] != 'x' && rows[0] != '\n')
					dots++;
			fclose(f);
			ASSERT_GT(dots, 0);
			/* with -o the report is on stdout */
			snprintf(rows, sizeof(rows), "dots            %zu\n",
			    dots);
			ASSERT_STR_CONTAINS(get("out"), rows);
			ASSERT_STR_CONTAINS(get("out"), "estimated time");
			ASSERT_STR_CONTAINS(get("out"), "warnings        0");
			g = get("out.gcode");
			ASSERT(strncmp(g, "G21", 3) == 0);
			ASSERT_EQ(count_lines(g, "G4"), dots);
			ASSERT_EQ(count_lines(g, "G1"), dots);
			ASSERT_EQ(count_lines(g, "M3"), 1);
			ASSERT_EQ(count_lines(g, "M5"), 1);
			ASSERT(strlen(g) > 6 && strcmp(g + strlen(g) - 6,
			    "M5\nM2\n") == 0);
		}
	}
	cleanup();
}

TEST(sample_json_plans_like_small_csv)
{
	char csv[1 << 16];

	setup();
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv -o %D/a.gcode"), 0);
	snprintf(csv, sizeof(csv), "%s", get("a.gcode"));
	ASSERT_EQ(smpplan("%S/examples/plans/sample.json -o %D/b.gcode"), 0);
	ASSERT_STR_CONTAINS(get("out"), "dots            20\n");
	ASSERT_STR_EQ(get("b.gcode"), csv);
	cleanup();
}

TEST(heightmap_option_equals_the_config_key)
{
	char conf[1024], viacfg[1 << 16];

	setup();
	snprintf(conf, sizeof(conf), "needle: { heightmap = \"%s/examples/"
	    "plans/scalp-heightmap.txt\"; };\n", src);
	put("hm.conf", conf);
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv -c %D/hm.conf -o "
	    "%D/a.gcode"), 0);
	snprintf(viacfg, sizeof(viacfg), "%s", get("a.gcode"));
	/* the option wins over the file's key */
	put("other.conf", "needle: { heightmap = \"/nonexistent\"; };\n");
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv -c %D/other.conf "
	    "--heightmap %S/examples/plans/scalp-heightmap.txt -o %D/b.gcode"),
	    0);
	ASSERT_STR_EQ(get("b.gcode"), viacfg);
	/* a height map that cannot be read is a configuration error */
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv --heightmap "
	    "%D/none.txt -o %D/c.gcode"), 2);
	ASSERT_STR_CONTAINS(get("err"), "none.txt");
	put("bad.txt", "smp-heightmap 1\norigin 0 0\nstep 1 1\nsize 2 2\n"
	    "0 1\n1 x\n");
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv --heightmap "
	    "%D/bad.txt -o %D/c.gcode"), 2);
	ASSERT_STR_CONTAINS(get("err"), "bad.txt:6:3: error:");
	cleanup();
}

TEST(json_report)
{
	json_t *r;
	json_error_t e;

	setup();
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv --json -o "
	    "%D/small.gcode"), 0);
	r = json_loads(get("out"), 0, &e);
	ASSERT_MSG(r != NULL, "report is not JSON: %s", e.text);
	ASSERT_EQ(json_integer_value(json_object_get(r, "dots")), 20);
	ASSERT_DBL(json_real_value(json_object_get(r, "estimated_s")), >, 0);
	ASSERT_DBL(json_real_value(json_object_get(r, "xy_path_mm")), >=,
	    json_real_value(json_object_get(r, "mst_mm")));
	ASSERT_EQ(json_integer_value(json_object_get(r, "gcode_bytes")),
	    (json_int_t)strlen(get("small.gcode")));
	ASSERT_EQ(json_array_size(json_object_get(r, "warnings")), 0);
	json_decref(r);

	/* rounded dwells are warnings, in the report */
	put("dw.csv", "x,y,depth,dwell_ms\n0,0,0.8,60\n2,0,0.8,100\n");
	ASSERT_EQ(smpplan("%D/dw.csv --json -o %D/dw.gcode"), 0);
	r = json_loads(get("out"), 0, &e);
	ASSERT_NOT_NULL(r);
	ASSERT_EQ(json_integer_value(json_object_get(r, "dwell_changed")), 1);
	ASSERT_STR_CONTAINS(json_string_value(json_array_get(json_object_get(r,
	    "warnings"), 0)), "dw.csv:2:");
	ASSERT_STR_CONTAINS(json_string_value(json_array_get(json_object_get(r,
	    "warnings"), 0)), "60 ms runs as 100 ms");
	json_decref(r);
	cleanup();
}

TEST(invalid_plan_exits_1_with_every_finding)
{
	const char *bad = "# two bad rows, one bad value each\n"
	    "x,y,depth\n"
	    "1,2,0.8\n"
	    "3,4,9\n"
	    "5,nan,0.8\n"
	    "500,0,0.8\n";

	setup();
	put("bad.csv", bad);
	ASSERT_EQ(smpplan("%D/bad.csv -o %D/bad.gcode"), 1);
	ASSERT_STR_CONTAINS(get("err"), "bad.csv:4:5: error: depth 9 mm");
	ASSERT_STR_CONTAINS(get("err"), "bad.csv:5:3: error: y is not a "
	    "finite number");
	/* the envelope is checked only on a plan that parsed */
	ASSERT(strstr(get("err"), "bad.csv:6") == NULL);
	ASSERT(strstr(get("out"), "dots") == NULL);
	/* once it parses, the envelope finding is reported on its line */
	put("env.csv", "x,y,depth\n1,2,0.8\n500,0,0.8\n");
	ASSERT_EQ(smpplan("%D/env.csv -o %D/env.gcode"), 1);
	ASSERT_STR_CONTAINS(get("err"), "env.csv:3:");
	ASSERT_STR_CONTAINS(get("err"), "error:");
	/* too close together: rejected by default */
	put("close.csv", "x,y,depth\n0,0,0.8\n0.1,0,0.8\n");
	ASSERT_EQ(smpplan("%D/close.csv -o %D/c.gcode"), 1);
	ASSERT_STR_CONTAINS(get("err"), "close.csv:3:");
	ASSERT_STR_CONTAINS(get("err"), "min_spacing_mm");
	cleanup();
}

TEST(usage_config_and_io_errors_exit_2)
{
	setup();
	ASSERT_EQ(smpplan(""), 2);
	ASSERT_STR_CONTAINS(get("err"), "usage");
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv --bogus"), 2);
	ASSERT_EQ(smpplan("%D/does-not-exist.csv"), 2);
	ASSERT_STR_CONTAINS(get("err"), "cannot open");
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv --start 1,2"), 2);
	ASSERT_STR_CONTAINS(get("err"), "--start");
	put("bad.conf", "needle:\n{\n  clearance_mm = 1.0;\n  depht = 2.0;\n"
	    "};\n");
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv -c %D/bad.conf"), 2);
	ASSERT_STR_CONTAINS(get("err"), "bad.conf:4");
	ASSERT_STR_CONTAINS(get("err"), "depht");
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv -o %D/no/such/dir/x"),
	    2);
	cleanup();
}

TEST(start_point_is_honoured)
{
	setup();
	ASSERT_EQ(smpplan("%S/examples/plans/small.csv --start 0,0,5 -o "
	    "%D/s.gcode"), 0);
	/* from z 5 the first dot needs no hop above it: the emitter states
	 * the height once, then the first move is lateral */
	ASSERT_STR_CONTAINS(get("s.gcode"), "M3S1000\nG0Z5\nX");
	cleanup();
}

TEST(not_text_is_refused_with_its_position)
{
	static const struct {
		const char *text;
		size_t len;
		const char *want;
	} bad[] = {
		{ "x,y,depth\n1,2\0,0.8\n", 19, "t:2:4: error: not a text" },
		{ "x,y,depth\n1,2,0.8\x1b\n", 19, "t:2:8: error: not a text" },
		{ "# caf\xe9\nx,y,depth\n", 18, "t:1:6: error: not a text file"
		    " (byte 0xe9 is not valid UTF-8)" },
		{ "# \xc0\xaf\nx,y,depth\n", 16, "t:1:3:" },     /* overlong */
		{ "# \xed\xa0\x80\nx,y,depth\n", 17, "t:1:3:" }, /* surrogate */
		{ "# \xf4\x90\x80\x80\nx,y,depth\n", 18, "t:1:3:" },
		{ "# \xe2\x82\nx,y,depth\n", 16, "t:1:3:" },     /* cut short */
		{ "x,y,depth\n1,2,0.8\n\xff", 19, "t:3:1:" },
	};
	struct planner_config cfg;
	char b[512];

	pconfig_defaults(&cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct diag_list *dl = diag_list_new(10, "t");
		struct plan *p = plan_read_mem(bad[i].text, bad[i].len, "t",
		    NULL, &cfg, dl);
		ASSERT_MSG(p == NULL, "case %zu loaded", i);
		ASSERT_EQ(dl->n, 1);
		ASSERT_STR_CONTAINS(diag_format(dl, 0, b, sizeof(b)),
		    bad[i].want);
		diag_list_destroy(&dl);
	}
	/* well-formed UTF-8 in comments is text; columns count characters */
	{
		const char *ok = "# Müller, crown ✓ 𝄞\nx,y,depth\n1,2,0.8\n";
		const char *bad2 = "# ✓\xff\nx,y,depth\n";
		struct diag_list *dl = diag_list_new(10, "t");
		struct plan *p = plan_read_mem(ok, strlen(ok), "t", NULL, &cfg,
		    dl);
		ASSERT_NOT_NULL(p);
		ASSERT_EQ(p->n, 1);
		plan_destroy(&p);
		p = plan_read_mem(bad2, strlen(bad2), "t", NULL, &cfg, dl);
		ASSERT_NULL(p);
		ASSERT_STR_CONTAINS(diag_format(dl, 0, b, sizeof(b)),
		    "t:1:4:");
		diag_list_destroy(&dl);
	}
	/* and through smpplan: exit 1, nothing written */
	setup();
	put("latin1.csv", "# caf\xe9\nx,y,depth\n1,2,0.8\n");
	ASSERT_EQ(smpplan("%D/latin1.csv -o %D/l.gcode"), 1);
	ASSERT_STR_CONTAINS(get("err"), "latin1.csv:1:6: error: not a text");
	ASSERT_STR_EQ(get("l.gcode"), "");
	cleanup();
}

TEST_MAIN()
