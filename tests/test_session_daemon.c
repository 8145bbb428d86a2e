/*
 * smpd as a process, without a controller: it starts on a configuration
 * whose port does not exist (and keeps retrying), answers every command over
 * ZeroMQ (refusing what needs a controller, with the state), takes a plan,
 * refuses a bad one with its line and keeps the previous, publishes status
 * at once to a new subscriber, survives SIGHUP, and exits 0 on SIGTERM;
 * tells systemd it is ready, alive and stopping (NOTIFY_SOCKET).
 * And a clinic's single feed: two daemons joined by `smpctl relay`.
 */
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

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

/* Waits for a datagram on fd holding want; false after timeout_ms. */
static bool
notified(int fd, const char *want, int timeout_ms)
{
	double deadline = e2e_now() + timeout_ms / 1000.0;
	char buf[256];

	while (e2e_now() < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, want) != NULL)
			return true;
	}
	return false;
}

/*
 * systemd's protocol, spoken without libsystemd: READY=1 once serving,
 * WATCHDOG=1 at half the period WATCHDOG_USEC asks for, STOPPING=1 on
 * SIGTERM; to a socket path and to an abstract name ('@').
 */
TEST_T(smpd_notifies_systemd, 60)
{
	int round;

	for (round = 0; round < 2; round++) {
		struct e2e e;
		struct sockaddr_un sa;
		socklen_t salen;
		char name[108];
		int fd;

		e2e_init(&e);
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		if (round == 0) {
			snprintf(name, sizeof(name), "%s/notify", e.dir);
			snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name);
			salen = sizeof(sa);
		} else {
			snprintf(name, sizeof(name), "@smp-test-notify-%d",
			    (int)getpid());
			memcpy(sa.sun_path, name, strlen(name));
			sa.sun_path[0] = '\0';
			salen = (socklen_t)(offsetof(struct sockaddr_un,
			    sun_path) + strlen(name));
		}
		fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		ASSERT(fd >= 0);
		ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, salen), 0);
		setenv("NOTIFY_SOCKET", name, 1);
		setenv("WATCHDOG_USEC", "200000", 1);
		e2e_write_config(&e, NULL);
		e2e_start_smpd(&e);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		ASSERT_MSG(notified(fd, "READY=1", 10000), "no READY=1 on %s",
		    name);
		ASSERT_MSG(notified(fd, "WATCHDOG=1", 1000), "no WATCHDOG=1");
		ASSERT_MSG(notified(fd, "WATCHDOG=1", 1000), "one WATCHDOG=1 "
		    "only");
		kill(e.smpd, SIGTERM);
		ASSERT_MSG(notified(fd, "STOPPING=1", 5000), "no STOPPING=1");
		ASSERT_EQ(e2e_wait_pid(e.smpd, 10), 0);
		e.smpd = 0;
		close(fd);
		e2e_stop_all(&e);
	}
}

/* Gives a written configuration its own machine_id. */
static void
set_machine_id(struct e2e *e, const char *id)
{
	char buf[8192], *p;
	size_t n;
	FILE *f = fopen(e->conf, "r");

	ASSERT_NOT_NULL(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "\"smp-e2e\"");
	ASSERT_NOT_NULL(p);
	f = fopen(e->conf, "w");
	ASSERT_NOT_NULL(f);
	fprintf(f, "%.*s\"%s\"%s", (int)(p - buf), buf, id, p + 9);
	fclose(f);
}

/*
 * Two robots, one feed: two smpd processes publish status on their own
 * endpoints; `smpctl relay` (zmq_proxy between an XSUB connected to both and
 * an XPUB) joins them. A subscriber of the relay hears both machines, and
 * gets each one's snapshot at once (the relay forwards its subscription).
 */
TEST_T(relay_joins_two_daemons, 60)
{
	struct e2e a, b;
	char bin[512], relay_ep[400];
	pid_t relay;
	void *zctx, *sub;
	int from_a = 0, from_b = 0, status;
	double t0;

	e2e_init(&a);
	e2e_init(&b);
	e2e_write_config(&a, NULL);
	e2e_write_config(&b, NULL);
	set_machine_id(&a, "robot-a");
	set_machine_id(&b, "robot-b");
	e2e_start_smpd(&a);
	e2e_start_smpd(&b);
	e2e_connect(&a);   /* waits for each daemon to answer */
	e2e_connect(&b);

	snprintf(relay_ep, sizeof(relay_ep), "ipc://%s/all", a.dir);
	e2e_bin("smpctl", bin, sizeof(bin));
	relay = fork();
	ASSERT(relay >= 0);
	if (relay == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(bin, "smpctl", "relay", "--bind", relay_ep, "--connect",
		    a.pub_ep, "--connect", b.pub_ep, (char *)NULL);
		_exit(127);
	}
	for (t0 = e2e_now(); access(relay_ep + 6, F_OK) != 0;) {
		ASSERT_MSG(e2e_now() - t0 < 5, "the relay did not bind");
		usleep(20000);
	}
	zctx = zmq_ctx_new();
	sub = zmq_socket(zctx, ZMQ_SUB);
	ASSERT_EQ(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "status", 6), 0);
	ASSERT_EQ(zmq_connect(sub, relay_ep), 0);
	/* Idle daemons publish at 2 Hz; the snapshot comes sooner. */
	for (t0 = e2e_now(); from_a == 0 || from_b == 0;) {
		zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
		char topic[16], buf[8192];
		int n;
		json_t *m;
		const char *mid;

		ASSERT_MSG(e2e_now() - t0 < 10, "heard robot-a %d times, "
		    "robot-b %d times", from_a, from_b);
		if (zmq_poll(&it, 1, 100) != 1)
			continue;
		ASSERT_GT(zmq_recv(sub, topic, sizeof(topic), 0), 0);
		n = zmq_recv(sub, buf, sizeof(buf) - 1, 0);
		ASSERT_GT(n, 0);
		buf[n] = '\0';
		m = json_loads(buf, 0, NULL);
		ASSERT_NOT_NULL(m);
		mid = json_string_value(json_object_get(m, "machine"));
		ASSERT_NOT_NULL(mid);
		ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")),
		    "disconnected");
		if (strcmp(mid, "robot-a") == 0)
			from_a++;
		else if (strcmp(mid, "robot-b") == 0)
			from_b++;
		else
			ASSERT_MSG(0, "unknown machine %s", mid);
		json_decref(m);
	}
	zmq_close(sub);
	zmq_ctx_term(zctx);
	kill(relay, SIGTERM);
	ASSERT_EQ(waitpid(relay, &status, 0), relay);
	ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	e2e_stop_all(&a);
	e2e_stop_all(&b);
}

TEST_MAIN()
