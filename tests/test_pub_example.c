/*
 * examples/status_sub.py, the dashboard starting point, against the real
 * status endpoint: it must get the snapshot sent on its subscription, parse
 * every message, and notice a gap in seq. Needs python3-zmq; without it the
 * case says so and is skipped (the README's install step installs it).
 */
#include <fcntl.h>
#include <spawn.h>

#include "daemon/pub.h"
#include "test.h"

extern char **environ;

static const char *
python_with_zmq(void)
{
	static const char *cands[] = { "/usr/bin/python3", "python3", NULL };
	char cmd[128];
	int i;

	for (i = 0; cands[i] != NULL; i++) {
		snprintf(cmd, sizeof(cmd), "%s -c 'import zmq' 2>/dev/null",
		    cands[i]);
		if (system(cmd) == 0)
			return cands[i];
	}
	return NULL;
}

TEST(python_example_prints_the_stream)
{
	const char *py = python_with_zmq();
	char dir[64], ep[128], out[128], script[512], *argv[8], buf[8192];
	const char *src = getenv("SMP_SOURCE_DIR");
	const char *eps[1];
	struct pub_opts o = { 0 };
	void *zctx;
	struct pub *p;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int i, status = -1, sent = 0;
	FILE *f;
	size_t n;

	if (py == NULL) {
		printf("SKIPPED: python3-zmq is not installed\n");
		return;
	}
	snprintf(dir, sizeof(dir), "/tmp/smp-test-pyex-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(ep, sizeof(ep), "ipc://%s/status", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(script, sizeof(script), "%s/examples/status_sub.py",
	    src ? src : ".");
	zctx = zmq_ctx_new();
	eps[0] = ep;
	o.endpoints = eps;
	o.n_endpoints = 1;
	o.machine_id = "smp-ex";
	p = pub_new(zctx, &o, buf, sizeof(buf));
	ASSERT_MSG(p != NULL, "%s", buf);
	argv[0] = (char *)py;
	argv[1] = script;
	argv[2] = ep;
	argv[3] = "--count";
	argv[4] = "3";
	argv[5] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT |
	    O_TRUNC, 0600);
	ASSERT_EQ(posix_spawnp(&pid, py, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < 1500; i++) {     /* 15 s: python starts slowly */
		zmq_pollitem_t it[2];
		int k = pub_pollitems(p, it, 2);
		zmq_poll(it, k, 10);
		/* The snapshot goes out when the subscription shows up. */
		if (pub_handle(p) > 0 && !sent) {
			pub_send(p, "status", json_pack("{s:s, s:b, s:{s:i, "
			    "s:i, s:i}, s:f, s:f}", "state", "running",
			    "needle", 1, "dots", "delivered", 5, "total", 40,
			    "uncertain", 1, "elapsed_s", 12.0, "eta_s", 80.0));
			pub_send(p, "event", json_pack("{s:s, s:s, s:s, s:s}",
			    "type", "transition", "from", "ready", "to",
			    "running", "reason", "started"));
			pub_send(p, "dot", json_pack("{s:i, s:i, s:f, s:s}",
			    "id", 6, "index", 5, "t", 12.5, "how", "dwell"));
			sent = 1;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	if (i == 1500) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		TEST_FAIL_("status_sub.py did not finish");
	}
	ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	f = fopen(out, "r");
	ASSERT_NOT_NULL(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	ASSERT_STR_CONTAINS(buf, "smp-ex status running");
	ASSERT_STR_CONTAINS(buf, "needle ON  5/40 dots, 1 uncertain");
	ASSERT_STR_CONTAINS(buf, "80s left");
	ASSERT_STR_CONTAINS(buf, "ready -> running: started");
	ASSERT_STR_CONTAINS(buf, "dot id 6 (index 5)");
	pub_destroy(&p);
	zmq_ctx_term(zctx);
	snprintf(buf, sizeof(buf), "rm -rf %s", dir);
	ASSERT_EQ(system(buf), 0);
}

TEST_MAIN()
