/*
 * smpctl against a stand-in daemon made of the real ctl and pub modules in
 * this process: each case runs the smpctl binary as a child while the test
 * serves its requests, then checks what the daemon received (the exact
 * fields of the request) and what smpctl printed and returned. Also the
 * exit statuses (refused, usage, unreachable), keygen's files, watch with
 * its heartbeat and --until-done, and the relay joining two publishers.
 */
#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "daemon/ctl.h"
#include "daemon/keys.h"
#include "daemon/pub.h"
#include "test.h"

extern char **environ;

struct fake {
	void *zctx;
	struct ctl *ctl;
	struct pub *pub;
	char dir[64];
	char ctl_ep[128], pub_ep[128];
	json_t *last;          /* the last request the handler saw */
	int n_requests;
	int n_heartbeats;
	const char *refuse;    /* reply errors with this code */
	bool silent_done;      /* watch test: published the end */
};

static void
handler(void *arg, struct ctl *c, const struct ctl_request *req)
{
	struct fake *f = arg;

	json_decref(f->last);
	f->last = json_deep_copy(req->args);
	f->n_requests++;
	if (req->cmd == CTL_HEARTBEAT)
		f->n_heartbeats++;
	if (f->refuse != NULL) {
		ctl_reply_err(c, req, f->refuse, "not in state idle");
		return;
	}
	if (req->cmd == CTL_PING)
		ctl_reply_ok(c, req, json_pack("{s:b, s:s}", "pong", 1,
		    "state", "idle"));
	else if (req->cmd == CTL_LIST_UNCERTAIN)
		ctl_reply_ok(c, req, json_pack("{s:[i,i]}", "ids", 4, 9));
	else
		ctl_reply_ok(c, req, json_pack("{s:i}", "dots", 12));
}

static void
fake_up(struct fake *f, bool with_ctl)
{
	char err[256];
	const char *ce[1], *pe[1];
	struct ctl_opts co = { 0 };
	struct pub_opts po = { 0 };

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/smp-test-smpctl-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(f->dir));
	snprintf(f->ctl_ep, sizeof(f->ctl_ep), "ipc://%s/control", f->dir);
	snprintf(f->pub_ep, sizeof(f->pub_ep), "ipc://%s/status", f->dir);
	f->zctx = zmq_ctx_new();
	ce[0] = f->ctl_ep;
	co.endpoints = ce;
	co.n_endpoints = 1;
	co.max_message_bytes = 1 << 20;
	if (with_ctl) {
		f->ctl = ctl_new(f->zctx, &co, err, sizeof(err));
		ASSERT_MSG(f->ctl != NULL, "%s", err);
	}
	pe[0] = f->pub_ep;
	po.endpoints = pe;
	po.n_endpoints = 1;
	po.send_hwm = 1000;
	po.machine_id = "fake-1";
	f->pub = pub_new(f->zctx, &po, err, sizeof(err));
	ASSERT_MSG(f->pub != NULL, "%s", err);
}

static void
fake_down(struct fake *f)
{
	char cmd[160];

	json_decref(f->last);
	ctl_destroy(&f->ctl);
	pub_destroy(&f->pub);
	zmq_ctx_term(f->zctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	ASSERT_EQ(system(cmd), 0);
}

static const char *
bin(void)
{
	static char path[512];
	const char *d = getenv("SMP_BIN_DIR");

	snprintf(path, sizeof(path), "%s/smpctl", d ? d : "bin");
	return path;
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = calloc(1, 65536);

	if (fp != NULL) {
		size_t n = fread(buf, 1, 65535, fp);
		buf[n] = '\0';
		fclose(fp);
	}
	return buf;
}

typedef void (*tick_fn)(struct fake *f, int new_subs);

/* Runs smpctl with args while serving; returns its exit status and what
 * it printed. */
static int
run(struct fake *f, tick_fn tick, char **out, char **errs, ...)
{
	char *argv[32], op[192], ep[192];
	va_list ap;
	int n = 0, status = -1, i;
	pid_t pid;
	posix_spawn_file_actions_t fa;

	argv[n++] = (char *)bin();
	va_start(ap, errs);
	while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	snprintf(op, sizeof(op), "%s/out", f->dir);
	snprintf(ep, sizeof(ep), "%s/err", f->dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, op, O_WRONLY | O_CREAT |
	    O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, ep, O_WRONLY | O_CREAT |
	    O_TRUNC, 0600);
	ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < 2000; i++) {     /* 20 s at most */
		zmq_pollitem_t items[8];
		int k = 0, subs;
		if (f->ctl != NULL)
			k += ctl_pollitems(f->ctl, items + k, 8 - k);
		k += pub_pollitems(f->pub, items + k, 8 - k);
		zmq_poll(items, k, 10);
		if (f->ctl != NULL)
			ctl_dispatch(f->ctl, handler, f);
		subs = pub_handle(f->pub);
		if (tick != NULL)
			tick(f, subs);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	if (i == 2000) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		TEST_FAIL_("smpctl did not finish");
	}
	*out = slurp(op);
	*errs = slurp(ep);
	ASSERT(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#define RUN(f, tick, out, err, ...) run(f, tick, out, err, "-e", \
    (f)->ctl_ep, "-s", (f)->pub_ep, "--timeout", "2000", __VA_ARGS__, \
    (char *)NULL)

TEST(ping_and_json_output)
{
	struct fake f;
	char *out, *err;

	fake_up(&f, true);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "ping"), 0);
	ASSERT_STR_CONTAINS(out, "pong");
	ASSERT_STR_EQ(json_string_value(json_object_get(f.last, "cmd")),
	    "ping");
	free(out);
	free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "--json", "list-uncertain"), 0);
	{
		json_t *r = json_loads(out, 0, NULL);
		ASSERT_MSG(r != NULL, "--json output not JSON: %s", out);
		ASSERT(json_is_true(json_object_get(r, "ok")));
		ASSERT_EQ(json_array_size(json_object_get(r, "ids")), 2);
		json_decref(r);
	}
	free(out);
	free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "list-uncertain"), 0);
	ASSERT_STR_CONTAINS(out, "2 uncertain dots: 4 9");
	free(out);
	free(err);
	fake_down(&f);
}

TEST(refused_is_exit_1_with_the_reason)
{
	struct fake f;
	char *out, *err;

	fake_up(&f, true);
	f.refuse = "bad_state";
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "start"), 1);
	ASSERT_STR_CONTAINS(err, "bad_state");
	ASSERT_STR_CONTAINS(err, "not in state idle");
	free(out);
	free(err);
	fake_down(&f);
}

TEST(usage_errors_are_exit_2_and_send_nothing)
{
	struct fake f;
	char *out, *err;

	fake_up(&f, true);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "fly"), 2);
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "jog"), 2);
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "jog", "X=abc"), 2);
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "redo"), 2);
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "redo", "1,x"), 2);
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "set-origin", "1,2"), 2);
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "start", "now"), 2);
	free(out), free(err);
	ASSERT_EQ(run(&f, NULL, &out, &err, "--timeout", "0", "ping",
	    (char *)NULL), 2);
	free(out), free(err);
	ASSERT_EQ(f.n_requests, 0);
	fake_down(&f);
}

TEST(unreachable_is_exit_3)
{
	struct fake f;
	char *out, *err;

	/* No socket file at all. */
	fake_up(&f, false);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "ping"), 3);
	ASSERT_STR_CONTAINS(err, "is smpd running");
	free(out), free(err);
	fake_down(&f);
	/* A socket that never answers: the timeout. */
	fake_up(&f, false);
	{
		void *mute = zmq_socket(f.zctx, ZMQ_ROUTER);
		int zero = 0;
		zmq_setsockopt(mute, ZMQ_LINGER, &zero, sizeof(zero));
		ASSERT_EQ(zmq_bind(mute, f.ctl_ep), 0);
		ASSERT_EQ(run(&f, NULL, &out, &err, "-e", f.ctl_ep,
		    "--timeout", "300", "ping", (char *)NULL), 3);
		ASSERT_STR_CONTAINS(err, "no reply");
		free(out), free(err);
		zmq_close(mute);
	}
	fake_down(&f);
}

TEST(requests_carry_the_right_fields)
{
	struct fake f;
	char *out, *err, plan[192], cwd[512], rel[256];
	FILE *fp;
	json_t *w;

	fake_up(&f, true);
	snprintf(plan, sizeof(plan), "%s/p.csv", f.dir);
	fp = fopen(plan, "w");
	fputs("x,y,depth\n1,2,0.5\n", fp);
	fclose(fp);
	/* A relative path becomes absolute. */
	ASSERT_NOT_NULL(getcwd(cwd, sizeof(cwd)));
	ASSERT_EQ(chdir(f.dir), 0);
	snprintf(rel, sizeof(rel), "./p.csv");
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "load", rel), 0);
	ASSERT_EQ(chdir(cwd), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(f.last, "plan")),
	    plan);
	ASSERT_NULL(json_object_get(f.last, "text"));
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "load", "--inline", plan), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(f.last, "text")),
	    "x,y,depth\n1,2,0.5\n");
	ASSERT_STR_EQ(json_string_value(json_object_get(f.last, "format")),
	    "csv");
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "load", "--inline", "--format",
	    "json", plan), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(f.last, "format")),
	    "json");
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "load", "--format", "json", plan),
	    2);
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "load", "/nonexistent/p.csv"), 4);
	free(out), free(err);

	ASSERT_EQ(RUN(&f, NULL, &out, &err, "jog", "--relative", "X=1.5",
	    "z=-0.25", "F=300"), 0);
	ASSERT_NEAR(json_number_value(json_object_get(f.last, "x")), 1.5, 0);
	ASSERT_NEAR(json_number_value(json_object_get(f.last, "z")), -0.25, 0);
	ASSERT_NULL(json_object_get(f.last, "y"));
	ASSERT_NEAR(json_number_value(json_object_get(f.last, "feed")), 300,
	    0);
	ASSERT(json_is_true(json_object_get(f.last, "relative")));
	free(out), free(err);

	ASSERT_EQ(RUN(&f, NULL, &out, &err, "set-origin", "-10,20.5,-3"), 0);
	w = json_object_get(f.last, "wco");
	ASSERT_EQ(json_array_size(w), 3);
	ASSERT_NEAR(json_number_value(json_array_get(w, 1)), 20.5, 0);
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "set-origin"), 0);
	ASSERT_NULL(json_object_get(f.last, "wco"));
	free(out), free(err);

	ASSERT_EQ(RUN(&f, NULL, &out, &err, "redo", "3,5", "8"), 0);
	w = json_object_get(f.last, "ids");
	ASSERT_EQ(json_array_size(w), 3);
	ASSERT_EQ(json_integer_value(json_array_get(w, 2)), 8);
	free(out), free(err);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "ack-uncertain"), 0);
	ASSERT_NULL(json_object_get(f.last, "ids"));
	ASSERT_STR_EQ(json_string_value(json_object_get(f.last, "cmd")),
	    "ack-uncertain");
	free(out), free(err);
	fake_down(&f);
}

TEST(ports_lists_what_libserialport_sees)
{
	struct fake f;
	char *out, *err;
	json_t *arr;
	size_t i;
	json_t *e;

	fake_up(&f, false);
	ASSERT_EQ(run(&f, NULL, &out, &err, "--json", "ports", (char *)NULL),
	    0);
	arr = json_loads(out, 0, NULL);
	ASSERT_MSG(json_is_array(arr), "not a JSON array: %s", out);
	json_array_foreach(arr, i, e) {
		ASSERT(json_is_string(json_object_get(e, "name")));
		ASSERT(json_is_string(json_object_get(e, "description")));
	}
	json_decref(arr);
	free(out), free(err);
	ASSERT_EQ(run(&f, NULL, &out, &err, "ports", "extra", (char *)NULL),
	    2);
	free(out), free(err);
	fake_down(&f);
}

TEST(keygen_writes_a_private_pair)
{
	struct fake f;
	char *out, *err, base[192], path[200], pub[41], sec[41], e2[256];
	struct stat st;

	fake_up(&f, false);
	snprintf(base, sizeof(base), "%s/op", f.dir);
	ASSERT_EQ(run(&f, NULL, &out, &err, "keygen", "-o", base,
	    (char *)NULL), 0);
	ASSERT_STR_CONTAINS(out, "public key: ");
	snprintf(path, sizeof(path), "%s.key", base);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0600);
	ASSERT_EQ(keys_read(path, pub, sec, e2, sizeof(e2)), 0);
	ASSERT_STR_CONTAINS(out, pub);
	snprintf(path, sizeof(path), "%s.pub", base);
	ASSERT_EQ(keys_read(path, pub, NULL, e2, sizeof(e2)), 0);
	/* The public file holds no secret. */
	ASSERT_EQ(keys_read(path, pub, sec, e2, sizeof(e2)), -1);
	free(out), free(err);
	/* Never overwrites. */
	ASSERT_EQ(run(&f, NULL, &out, &err, "keygen", "-o", base,
	    (char *)NULL), 4);
	ASSERT_STR_CONTAINS(err, "exists");
	free(out), free(err);
	fake_down(&f);
}

/* The watch test's daemon: "running" at once for a newcomer, then, after
 * two heartbeats, the end of the session. */
static void
watch_tick(struct fake *f, int subs)
{
	if (subs > 0 && !f->silent_done)
		pub_send(f->pub, "status", json_pack("{s:s, s:b, s:{s:i, s:i, "
		    "s:i}, s:f, s:f}", "state", "running", "needle", 1, "dots",
		    "delivered", 3, "total", 10, "uncertain", 0, "elapsed_s",
		    2.0, "eta_s", 5.0));
	if (f->n_heartbeats >= 2 && !f->silent_done) {
		f->silent_done = true;
		pub_send(f->pub, "dot", json_pack("{s:i, s:i}", "id", 10,
		    "index", 9));
		pub_send(f->pub, "event", json_pack("{s:s, s:s, s:i, s:i, "
		    "s:i, s:f}", "type", "session_end", "result", "completed",
		    "delivered", 10, "total", 10, "uncertain", 0, "elapsed_s",
		    7.0));
		pub_send(f->pub, "status", json_pack("{s:s, s:b, s:{s:i, s:i, "
		    "s:i}, s:f}", "state", "completed", "needle", 0, "dots",
		    "delivered", 10, "total", 10, "uncertain", 0, "elapsed_s",
		    7.0));
	}
}

TEST(watch_keeps_the_heartbeat_and_ends_with_a_summary)
{
	struct fake f;
	char *out, *err;

	fake_up(&f, true);
	ASSERT_EQ(RUN(&f, watch_tick, &out, &err, "watch", "--until-done",
	    "--heartbeat", "100"), 0);
	ASSERT_GE(f.n_heartbeats, 2);
	ASSERT_STR_CONTAINS(out, "running");
	ASSERT_STR_CONTAINS(out, "3/10");
	ASSERT_STR_CONTAINS(out, "session completed: 10 of 10 dots delivered");
	free(out), free(err);
	fake_down(&f);
}

/* The deadman must not depend on the daemon answering: against a control
 * socket that never replies, watch keeps sending a heartbeat every period. */
TEST(watch_heartbeats_even_when_unanswered)
{
	struct fake f;
	void *mute;
	int zero = 0, beats = 0, i, status = -1, done = 0;
	char *argv[12];
	pid_t pid;
	posix_spawn_file_actions_t fa;

	fake_up(&f, false);
	mute = zmq_socket(f.zctx, ZMQ_ROUTER);
	zmq_setsockopt(mute, ZMQ_LINGER, &zero, sizeof(zero));
	ASSERT_EQ(zmq_bind(mute, f.ctl_ep), 0);
	argv[0] = (char *)bin();
	argv[1] = "-e";
	argv[2] = f.ctl_ep;
	argv[3] = "-s";
	argv[4] = f.pub_ep;
	argv[5] = "watch";
	argv[6] = "--until-done";
	argv[7] = "--heartbeat";
	argv[8] = "100";
	argv[9] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < 1000; i++) {
		char buf[256];
		zmq_pollitem_t it = { mute, 0, ZMQ_POLLIN, 0 };
		zmq_poll(&it, 1, 10);
		pub_handle(f.pub);
		int len;
		while ((len = zmq_recv(mute, buf, sizeof(buf) - 1,
		    ZMQ_DONTWAIT)) >= 0) {
			int more = 0;
			size_t sz = sizeof(more);
			buf[len < (int)sizeof(buf) - 1 ? len :
			    (int)sizeof(buf) - 1] = '\0';
			zmq_getsockopt(mute, ZMQ_RCVMORE, &more, &sz);
			if (!more && strstr(buf, "heartbeat") != NULL)
				beats++;
		}
		if (beats >= 6 && !done) {
			pub_send(f.pub, "status", json_pack("{s:s}", "state",
			    "aborted"));
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			done = 1;
			break;
		}
	}
	ASSERT(done);
	ASSERT_GE(beats, 6);
	/* aborted: a summary and exit status 1 (not completed). */
	ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	zmq_close(mute);
	fake_down(&f);
}

/* Two publishers (two robots) and one relay: a subscriber of the relay
 * hears both machines, and each publisher sees the subscription (so it
 * could send its snapshot). */
TEST(relay_joins_two_feeds)
{
	struct fake f;
	struct pub *p2;
	char err[256], ep2[160], relay_ep[160];
	const char *pe[1];
	struct pub_opts po = { 0 };
	pid_t pid;
	char *argv[10];
	void *sub;
	int i, from1 = 0, from2 = 0, subs1 = 0, subs2 = 0, status;

	fake_up(&f, false);
	snprintf(ep2, sizeof(ep2), "ipc://%s/status2", f.dir);
	snprintf(relay_ep, sizeof(relay_ep), "ipc://%s/all", f.dir);
	pe[0] = ep2;
	po.endpoints = pe;
	po.n_endpoints = 1;
	po.machine_id = "fake-2";
	p2 = pub_new(f.zctx, &po, err, sizeof(err));
	ASSERT_MSG(p2 != NULL, "%s", err);
	argv[0] = (char *)bin();
	argv[1] = "relay";
	argv[2] = "--bind";
	argv[3] = relay_ep;
	argv[4] = "--connect";
	argv[5] = f.pub_ep;
	argv[6] = "--connect";
	argv[7] = ep2;
	argv[8] = NULL;
	/* The relay runs until told to stop: if this case dies on a failed
	 * assertion, the relay must die with it. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		_exit(127);
	}
	sub = zmq_socket(f.zctx, ZMQ_SUB);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "status", 6);
	for (i = 0; i < 100 && access(relay_ep + 6, F_OK) != 0; i++)
		usleep(20000);
	ASSERT_EQ(zmq_connect(sub, relay_ep), 0);
	for (i = 0; i < 500 && (from1 == 0 || from2 == 0); i++) {
		zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
		subs1 += pub_handle(f.pub);
		subs2 += pub_handle(p2);
		pub_send(f.pub, "status", json_pack("{s:s}", "state", "idle"));
		pub_send(p2, "status", json_pack("{s:s}", "state", "running"));
		if (zmq_poll(&it, 1, 10) == 1) {
			char topic[16], buf[1024];
			int n;
			json_t *m;
			zmq_recv(sub, topic, sizeof(topic), 0);
			n = zmq_recv(sub, buf, sizeof(buf) - 1, 0);
			ASSERT_GT(n, 0);
			buf[n] = '\0';
			m = json_loads(buf, 0, NULL);
			ASSERT_NOT_NULL(m);
			if (strcmp(json_string_value(json_object_get(m,
			    "machine")), "fake-1") == 0)
				from1++;
			else if (strcmp(json_string_value(json_object_get(m,
			    "machine")), "fake-2") == 0)
				from2++;
			json_decref(m);
		}
	}
	ASSERT_GT(from1, 0);
	ASSERT_GT(from2, 0);
	ASSERT_GT(subs1, 0);
	ASSERT_GT(subs2, 0);
	kill(pid, SIGTERM);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	zmq_close(sub);
	pub_destroy(&p2);
	fake_down(&f);
}

/* smpctl with --key/--server-key against a CURVE control socket. */
TEST(curve_keys_from_the_command_line)
{
	struct fake f;
	char *out, *err, base[160], allow[160], cmd[400], keyfile[200];
	char srvpub[200], bobkey[200], pub[41];
	const char *ce[1];
	struct ctl_opts co = { 0 };

	fake_up(&f, false);
	snprintf(allow, sizeof(allow), "%s/allowed", f.dir);
	ASSERT_EQ(mkdir(allow, 0700), 0);
	snprintf(base, sizeof(base), "%s/server", f.dir);
	ASSERT_EQ(keys_generate(base, pub, cmd, sizeof(cmd)), 0);
	snprintf(base, sizeof(base), "%s/alice", f.dir);
	ASSERT_EQ(run(&f, NULL, &out, &err, "keygen", "-o", base,
	    (char *)NULL), 0);
	free(out), free(err);
	snprintf(base, sizeof(base), "%s/bob", f.dir);
	ASSERT_EQ(run(&f, NULL, &out, &err, "keygen", "-o", base,
	    (char *)NULL), 0);
	free(out), free(err);
	snprintf(cmd, sizeof(cmd), "cp %s/alice.pub %s/", f.dir, allow);
	ASSERT_EQ(system(cmd), 0);
	snprintf(keyfile, sizeof(keyfile), "%s/server.key", f.dir);
	ce[0] = f.ctl_ep;
	co.endpoints = ce;
	co.n_endpoints = 1;
	co.curve = true;
	co.server_secret_key = keyfile;
	co.client_keys_dir = allow;
	f.ctl = ctl_new(f.zctx, &co, cmd, sizeof(cmd));
	ASSERT_MSG(f.ctl != NULL, "%s", cmd);
	snprintf(keyfile, sizeof(keyfile), "%s/alice.key", f.dir);
	snprintf(bobkey, sizeof(bobkey), "%s/bob.key", f.dir);
	snprintf(srvpub, sizeof(srvpub), "%s/server.pub", f.dir);
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "--key", keyfile, "--server-key",
	    srvpub, "ping"), 0);
	ASSERT_STR_CONTAINS(out, "pong");
	free(out), free(err);
	ASSERT_EQ(run(&f, NULL, &out, &err, "-e", f.ctl_ep, "--timeout",
	    "500", "--key", bobkey, "--server-key", srvpub, "ping",
	    (char *)NULL), 3);
	ASSERT_STR_CONTAINS(err, "allowlist");
	free(out), free(err);
	ASSERT_EQ(run(&f, NULL, &out, &err, "-e", f.ctl_ep, "--timeout",
	    "500", "ping", (char *)NULL), 3);
	free(out), free(err);
	/* Half a key pair is a usage error. */
	ASSERT_EQ(RUN(&f, NULL, &out, &err, "--key", keyfile, "ping"), 2);
	free(out), free(err);
	ASSERT_EQ(f.n_requests, 1);
	fake_down(&f);
}

TEST_MAIN()
