/*
 * smpd as a process, without a controller: it starts on a configuration
 * whose port does not exist (and keeps retrying), answers every command over
 * ZeroMQ (refusing what needs a controller, with the state), takes a plan,
 * refuses a bad one with its line and keeps the previous, publishes status
 * at once to a new subscriber, survives SIGHUP, and exits 0 on SIGTERM.
 */
#include "e2e/e2e.h"

TEST_T(smpd_without_controller, 60)
{
	struct e2e e;
	json_t *r;
	FILE *f;

	e2e_init(&e);
	/* No simulator: the port is missing, the link keeps retrying. */
	e2e_write_config(&e, NULL);
	e2e_start_smpd(&e);
	e2e_connect(&e);

	e2e_ok(&e, "ping", NULL);
	e2e_pump(&e, 500);
	ASSERT_STR_EQ(e.state, "disconnected");

	r = e2e_cmd(&e, "home", NULL);
	ASSERT(json_is_false(json_object_get(r, "ok")));
	ASSERT_STR_CONTAINS(json_string_value(json_object_get(json_object_get(
	    r, "error"), "message")), "state disconnected");
	json_decref(r);

	f = fopen(e.plan, "w");
	ASSERT_NOT_NULL(f);
	fputs("id,x,y,depth,dwell_ms\n1,0,0,0.5,50\n2,1,0,0.5,50\n", f);
	fclose(f);
	r = e2e_cmd(&e, "load", json_pack("{s:s}", "plan", e.plan));
	ASSERT(json_is_true(json_object_get(r, "ok")));
	ASSERT_EQ(json_integer_value(json_object_get(r, "dots")), 2);
	json_decref(r);

	r = e2e_cmd(&e, "load", json_pack("{s:s, s:s}", "text",
	    "x,y,depth\n1,2,0.5\n3,oops,0.5\n", "format", "csv"));
	ASSERT(json_is_false(json_object_get(r, "ok")));
	ASSERT_STR_CONTAINS(json_string_value(json_object_get(json_object_get(
	    r, "error"), "message")), ":3:");
	json_decref(r);

	r = e2e_cmd(&e, "status", NULL);
	ASSERT(json_is_true(json_object_get(r, "ok")));
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(
	    json_object_get(r, "status"), "dots"), "total")), 2);
	json_decref(r);

	r = e2e_cmd(&e, "config", NULL);
	ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r,
	    "config"), "machine_id")), "smp-e2e");
	json_decref(r);

	/* A new subscriber gets a snapshot at once. */
	e2e_disconnect(&e);
	e2e_connect(&e);
	json_decref(e.last_status);
	e.last_status = NULL;
	e2e_pump(&e, 300);
	ASSERT_NOT_NULL(e.last_status);

	kill(e.smpd, SIGHUP);
	e2e_ok(&e, "ping", NULL);

	kill(e.smpd, SIGTERM);
	ASSERT_EQ(e2e_wait_pid(e.smpd, 10), 0);
	e.smpd = 0;
	e2e_stop_all(&e);
}

TEST_MAIN()
