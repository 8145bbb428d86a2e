/*
 * smpd's configuration reader: the sample file is valid, and every kind of
 * mistake is reported with file:line (unknown keys, wrong types, values out
 * of range, a missing required key), all at once; `smpd -n` says the same.
 */
#include "daemon/config.h"
#include "test.h"

static const char *
write_conf(const char *text)
{
	static char path[128];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/smp-test-config-XXXXXX");
	fd = mkstemp(path);
	ASSERT(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *
sample(void)
{
	static char path[512];
	const char *src = getenv("SMP_SOURCE_DIR");

	snprintf(path, sizeof(path), "%s/etc/smpd.conf", src ? src : "..");
	return path;
}

TEST(config_sample_is_valid)
{
	struct smpd_config c;
	char err[4096];

	config_defaults(&c);
	ASSERT_EQ(config_load(&c, sample(), err, sizeof(err)), 0);
	ASSERT_STR_EQ(c.machine_id, "smp-1");
	ASSERT_STR_EQ(c.port, "/tmp/smpsim0");
	ASSERT_EQ(c.baud, 115200);
	ASSERT_EQ(c.watchdog_ms, 1000);
	ASSERT(c.homing);
	ASSERT_EQ(c.max_dots_in_flight, 2);
	ASSERT_EQ(c.ctl_ipc_mode, 0660);
	ASSERT_EQ(c.ctl_endpoints.n, 1);
	ASSERT_STR_EQ(c.ctl_endpoints.v[0], "ipc:///run/smpd/control");
	ASSERT_NEAR(c.rate_running_hz, 10.0, 1e-9);
	ASSERT_EQ(c.send_hwm, 1000);
	ASSERT_NEAR(c.planner.clearance_mm, 1.0, 1e-9);
	ASSERT_NE(c.digest, 0);
}

TEST(config_opts_point_into_config)
{
	struct smpd_config c;
	struct ctl_opts co;
	struct pub_opts po;
	char err[4096];

	config_defaults(&c);
	ASSERT_EQ(config_load(&c, sample(), err, sizeof(err)), 0);
	config_ctl_opts(&c, &co);
	config_pub_opts(&c, &po);
	ASSERT_EQ(co.n_endpoints, 1);
	ASSERT_STR_EQ(co.endpoints[0], "ipc:///run/smpd/control");
	ASSERT_EQ(co.max_message_bytes, 1048576);
	ASSERT_STR_EQ(po.endpoints[0], "ipc:///run/smpd/status");
	ASSERT_STR_EQ(po.machine_id, "smp-1");
	ASSERT_EQ(po.send_hwm, 1000);
}

TEST(config_every_error_with_its_line)
{
	struct smpd_config c;
	char err[4096];
	const char *p = write_conf(
	    "machine_id = \"m\";\n"                 /* 1 */
	    "controller: {\n"                       /* 2 */
	    "  port = \"/dev/ttyUSB0\";\n"          /* 3 */
	    "  baud = \"fast\";\n"                  /* 4 wrong type */
	    "  watchdgo_ms = 100;\n"                /* 5 unknown key */
	    "};\n"
	    "session: {\n"                          /* 7 */
	    "  max_dots_in_flight = 0;\n"           /* 8 out of range */
	    "  heartbeat_ms = 2000;\n"
	    "};\n"
	    "colour = \"blue\";\n"                  /* 11 unknown group */
	    "status: { endpoints = [\"http://x\"]; };\n"); /* 12 */

	config_defaults(&c);
	ASSERT_EQ(config_load(&c, p, err, sizeof(err)), 5);
	ASSERT_STR_CONTAINS(err, ":4: controller.baud: expected an integer");
	ASSERT_STR_CONTAINS(err, ":5: controller.watchdgo_ms: unknown key");
	ASSERT_STR_CONTAINS(err, ":8: session.max_dots_in_flight");
	ASSERT_STR_CONTAINS(err, ":11: colour: unknown key");
	ASSERT_STR_CONTAINS(err, ":12: status.endpoints[0]");
	unlink(p);
}

TEST(config_port_required_and_syntax_error_line)
{
	struct smpd_config c;
	char err[4096];
	const char *p = write_conf("session: { journal = \"/tmp/j\"; };\n");

	config_defaults(&c);
	ASSERT_EQ(config_load(&c, p, err, sizeof(err)), 1);
	ASSERT_STR_CONTAINS(err, "controller.port: required");
	unlink(p);

	p = write_conf("controller: {\n port = \"/dev/x\";\n baud = = 9600; };\n");
	config_defaults(&c);
	ASSERT_EQ(config_load(&c, p, err, sizeof(err)), 1);
	ASSERT_STR_CONTAINS(err, ":3:");
	unlink(p);

	config_defaults(&c);
	ASSERT_EQ(config_load(&c, "/nonexistent/smpd.conf", err, sizeof(err)),
	    1);
	ASSERT_STR_CONTAINS(err, "/nonexistent/smpd.conf: cannot read");
}

TEST(config_planner_groups_go_to_the_planner)
{
	struct smpd_config c;
	char err[4096];
	const char *p = write_conf(
	    "controller: { port = \"/dev/x\"; };\n"
	    "needle: { clearance_mm = 2.5; };\n");

	config_defaults(&c);
	ASSERT_EQ(config_load(&c, p, err, sizeof(err)), 0);
	ASSERT_NEAR(c.planner.clearance_mm, 2.5, 1e-9);
	unlink(p);

	p = write_conf("controller: { port = \"/dev/x\"; };\n"
	    "needle: { clearence_mm = 2.5; };\n");
	config_defaults(&c);
	ASSERT_GE(config_load(&c, p, err, sizeof(err)), 1);
	ASSERT_STR_CONTAINS(err, "clearence_mm");
	unlink(p);
}

TEST(smpd_n_checks_a_file)
{
	char cmd[1024];
	const char *bin = getenv("SMP_BIN_DIR");
	const char *p;
	FILE *f;
	char out[512] = "";

	ASSERT_NOT_NULL(bin);
	snprintf(cmd, sizeof(cmd), "%s/smpd -n -f %s 2>&1", bin, sample());
	f = popen(cmd, "r");
	ASSERT_NOT_NULL(f);
	ASSERT_NOT_NULL(fgets(out, sizeof(out), f));
	ASSERT_EQ(pclose(f), 0);
	ASSERT_STR_EQ(out, "configuration OK\n");

	p = write_conf("controller: { port = 5; };\n");
	snprintf(cmd, sizeof(cmd), "%s/smpd -n -f %s 2>&1", bin, p);
	f = popen(cmd, "r");
	ASSERT_NOT_NULL(f);
	ASSERT_NOT_NULL(fgets(out, sizeof(out), f));
	ASSERT_NE(pclose(f), 0);
	ASSERT_STR_CONTAINS(out, ":1: controller.port: expected a string");
	unlink(p);
}

TEST_MAIN()
