/*
 * The control endpoint: request validation (each kind of bad request gets
 * its error code and never reaches the handler), replies that echo the id,
 * the envelope rules (DEALER and REQ clients, extra frames, empty frames),
 * ipc:// permissions and the refusal to take commands from the network
 * without CURVE. The server and the client run in the test's one thread:
 * the client sends, the test polls and dispatches, the client reads.
 */
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "daemon/ctl.h"
#include "test.h"

/* ---- pure validation ---- */

static const char *
parse_code(const char *text)
{
	static char code[32];
	struct ctl_parsed p;
	int rc = ctl_parse(text, strlen(text), 4096, &p);

	snprintf(code, sizeof(code), "%s", rc == 0 ? "ok" : p.code);
	if (rc == 0)
		ASSERT(p.req != NULL && p.code == NULL);
	else
		ASSERT(p.req == NULL && p.code != NULL && p.message[0]);
	ctl_parsed_clear(&p);
	return code;
}

TEST(parse_accepts_every_command)
{
	static const char *ok[] = {
		"{\"id\":1,\"cmd\":\"ping\"}",
		"{\"id\":\"a\",\"cmd\":\"status\"}",
		"{\"id\":null,\"cmd\":\"load\",\"plan\":\"/tmp/p.csv\"}",
		"{\"id\":2,\"cmd\":\"load\",\"text\":\"x,y,depth\\n1,2,0.5\\n\"}",
		"{\"id\":2,\"cmd\":\"load\",\"text\":\"{}\",\"format\":\"json\"}",
		"{\"id\":3,\"cmd\":\"preflight\"}",
		"{\"id\":3,\"cmd\":\"home\"}",
		"{\"id\":3,\"cmd\":\"set-origin\"}",
		"{\"id\":3,\"cmd\":\"set-origin\",\"wco\":[1,2.5,-3]}",
		"{\"id\":3,\"cmd\":\"jog\",\"x\":1}",
		"{\"id\":3,\"cmd\":\"jog\",\"z\":-1.5,\"feed\":300,\"relative\":true}",
		"{\"id\":3,\"cmd\":\"start\"}", "{\"id\":3,\"cmd\":\"pause\"}",
		"{\"id\":3,\"cmd\":\"resume\"}", "{\"id\":3,\"cmd\":\"abort\"}",
		"{\"id\":3,\"cmd\":\"heartbeat\"}",
		"{\"id\":3,\"cmd\":\"ack-uncertain\"}",
		"{\"id\":3,\"cmd\":\"ack-uncertain\",\"ids\":[4,5]}",
		"{\"id\":3,\"cmd\":\"list-uncertain\"}",
		"{\"id\":3,\"cmd\":\"redo\",\"ids\":[7]}",
		"{\"id\":3,\"cmd\":\"config\"}", "{\"id\":true,\"cmd\":\"unlock\"}",
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ASSERT_STR_EQ(parse_code(ok[i]), "ok");
}

TEST(parse_rejects_with_the_right_code)
{
	static const struct { const char *text, *code; } bad[] = {
		{ "", "bad_json" },
		{ "{", "bad_json" },
		{ "not json", "bad_json" },
		{ "[1,2]", "bad_json" },
		{ "\"ping\"", "bad_json" },
		{ "{\"id\":1,\"cmd\":\"ping\"} trailing", "bad_json" },
		{ "{\"id\":1,\"id\":2,\"cmd\":\"ping\"}", "bad_json" },
		{ "{\"id\":1,\"cmd\":\"p\\u0000ing\"}", "bad_json" },
		{ "{\"cmd\":\"ping\"}", "missing_field" },
		{ "{\"id\":[1],\"cmd\":\"ping\"}", "bad_field" },
		{ "{\"id\":{},\"cmd\":\"ping\"}", "bad_field" },
		{ "{\"id\":1}", "missing_field" },
		{ "{\"id\":1,\"cmd\":5}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"fly\"}", "unknown_cmd" },
		{ "{\"id\":1,\"cmd\":\"PING\"}", "unknown_cmd" },
		{ "{\"id\":1,\"cmd\":\"ping\",\"x\":1}", "unknown_field" },
		{ "{\"id\":1,\"cmd\":\"start\",\"force\":true}", "unknown_field" },
		{ "{\"id\":1,\"cmd\":\"load\"}", "missing_field" },
		{ "{\"id\":1,\"cmd\":\"load\",\"plan\":3}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"load\",\"plan\":\"\"}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"load\",\"plan\":\"rel/p.csv\"}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"load\",\"plan\":\"/a\",\"text\":\"b\"}",
		    "bad_field" },
		{ "{\"id\":1,\"cmd\":\"load\",\"plan\":\"/a\",\"format\":\"csv\"}",
		    "bad_field" },
		{ "{\"id\":1,\"cmd\":\"load\",\"text\":\"a\",\"format\":\"xml\"}",
		    "bad_field" },
		{ "{\"id\":1,\"cmd\":\"set-origin\",\"wco\":[1,2]}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"set-origin\",\"wco\":[1,2,\"3\"]}",
		    "bad_field" },
		{ "{\"id\":1,\"cmd\":\"set-origin\",\"wco\":7}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"jog\"}", "missing_field" },
		{ "{\"id\":1,\"cmd\":\"jog\",\"feed\":100}", "missing_field" },
		{ "{\"id\":1,\"cmd\":\"jog\",\"x\":\"1\"}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"jog\",\"x\":true}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"jog\",\"x\":1,\"feed\":0}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"jog\",\"x\":1,\"feed\":-5}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"jog\",\"x\":1,\"relative\":1}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"jog\",\"x\":1,\"speed\":1}",
		    "unknown_field" },
		{ "{\"id\":1,\"cmd\":\"redo\"}", "missing_field" },
		{ "{\"id\":1,\"cmd\":\"redo\",\"ids\":[]}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"redo\",\"ids\":[1.5]}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"redo\",\"ids\":\"1,2\"}", "bad_field" },
		{ "{\"id\":1,\"cmd\":\"ack-uncertain\",\"ids\":[1,null]}",
		    "bad_field" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *got = parse_code(bad[i].text);
		ASSERT_MSG(strcmp(got, bad[i].code) == 0, "%s: got %s, "
		    "want %s", bad[i].text, got, bad[i].code);
	}
}

TEST(parse_rejects_invalid_utf8_and_binary)
{
	struct ctl_parsed p;
	static const char latin1[] = "{\"id\":1,\"cmd\":\"ping\xe9\"}";
	static const unsigned char garbage[] = { 0xff, 0x00, 0x13, 0x37, 0x80,
	    '{', 0xc3 };

	ASSERT_EQ(ctl_parse(latin1, sizeof(latin1) - 1, 4096, &p), -1);
	ASSERT_STR_EQ(p.code, "bad_json");
	ctl_parsed_clear(&p);
	ASSERT_EQ(ctl_parse(garbage, sizeof(garbage), 4096, &p), -1);
	ASSERT_STR_EQ(p.code, "bad_json");
	ctl_parsed_clear(&p);
}

TEST(parse_bounds_size_before_parsing)
{
	struct ctl_parsed p;
	char buf[200];

	/* Invalid JSON, but too_large is decided on the length alone. */
	memset(buf, '{', sizeof(buf));
	ASSERT_EQ(ctl_parse(buf, sizeof(buf), 100, &p), -1);
	ASSERT_STR_EQ(p.code, "too_large");
	ASSERT_STR_CONTAINS(p.message, "200");
	ctl_parsed_clear(&p);
}

TEST(parse_message_names_the_field)
{
	struct ctl_parsed p;
	const char *t = "{\"id\":9,\"cmd\":\"set-origin\",\"wco\":[1,\"b\",3]}";

	ASSERT_EQ(ctl_parse(t, strlen(t), 4096, &p), -1);
	ASSERT_STR_CONTAINS(p.message, "wco");
	ASSERT_STR_CONTAINS(p.message, "[1]");
	/* The id of a bad request is kept so the reply can echo it. */
	ASSERT(p.id != NULL && json_integer_value(p.id) == 9);
	ctl_parsed_clear(&p);
	t = "{\"id\":1,\"cmd\":\"ping\"";
	ASSERT_EQ(ctl_parse(t, strlen(t), 4096, &p), -1);
	ASSERT_STR_CONTAINS(p.message, "byte");
	ctl_parsed_clear(&p);
}

TEST(parse_gives_command_and_args)
{
	struct ctl_parsed p;
	const char *t = "{\"id\":\"j1\",\"cmd\":\"jog\",\"x\":2.5,\"relative\":true}";

	ASSERT_EQ(ctl_parse(t, strlen(t), 4096, &p), 0);
	ASSERT_EQ(p.cmd, CTL_JOG);
	ASSERT_STR_EQ(json_string_value(p.id), "j1");
	ASSERT_NEAR(json_number_value(json_object_get(p.req, "x")), 2.5, 0);
	ctl_parsed_clear(&p);
	ASSERT_STR_EQ(ctl_cmd_name(CTL_ACK_UNCERTAIN), "ack-uncertain");
	ASSERT_STR_EQ(ctl_cmd_name(CTL_SET_ORIGIN), "set-origin");
}

TEST(endpoint_check)
{
	char err[256];

	ASSERT_EQ(ctl_endpoint_check("ipc:///run/smpd/control", false, err,
	    sizeof(err)), 0);
	ASSERT_EQ(ctl_endpoint_check("tcp://127.0.0.1:5555", false, err,
	    sizeof(err)), 0);
	ASSERT_EQ(ctl_endpoint_check("tcp://localhost:5555", false, err,
	    sizeof(err)), 0);
	ASSERT_EQ(ctl_endpoint_check("tcp://[::1]:5555", false, err,
	    sizeof(err)), 0);
	ASSERT_EQ(ctl_endpoint_check("tcp://*:5555", false, err,
	    sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "CURVE");
	ASSERT_EQ(ctl_endpoint_check("tcp://0.0.0.0:5555", false, err,
	    sizeof(err)), -1);
	ASSERT_EQ(ctl_endpoint_check("tcp://eth0:5555", false, err,
	    sizeof(err)), -1);
	ASSERT_EQ(ctl_endpoint_check("tcp://127.0.0.1.evil.com:5555", false,
	    err, sizeof(err)), -1);
	ASSERT_EQ(ctl_endpoint_check("tcp://10.0.0.1:5555", false, err,
	    sizeof(err)), -1);
	ASSERT_EQ(ctl_endpoint_check("tcp://10.0.0.1:5555", true, err,
	    sizeof(err)), 0);
	ASSERT_EQ(ctl_endpoint_check("ipc://relative", false, err,
	    sizeof(err)), -1);
	ASSERT_EQ(ctl_endpoint_check("pgm://eth0;239.1.1.1:5555", true, err,
	    sizeof(err)), -1);
}

/* ---- over sockets ---- */

struct fixture {
	void *zctx;
	struct ctl *ctl;
	void *client;
	char dir[64];
	char ep[128];
};

struct calls {
	int n;
	enum ctl_cmd last;
	int mode;          /* 0 reply ok, 1 no reply, 2 reply twice */
	int second_rc;
};

static void
handler(void *arg, struct ctl *c, const struct ctl_request *req)
{
	struct calls *k = arg;

	k->n++;
	k->last = req->cmd;
	if (k->mode == 1)
		return;
	ASSERT_EQ(ctl_reply_ok(c, req, json_pack("{s:s, s:s}", "cmd",
	    req->cmd_name, "client", req->client)), 0);
	if (k->mode == 2)
		k->second_rc = ctl_reply_err(c, req, "failed", "again");
}

static void
fixture_up(struct fixture *f, int client_type)
{
	char err[256];
	const char *eps[1];
	struct ctl_opts o = { 0 };

	snprintf(f->dir, sizeof(f->dir), "/tmp/smp-test-ctl-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(f->dir));
	snprintf(f->ep, sizeof(f->ep), "ipc://%s/control", f->dir);
	eps[0] = f->ep;
	o.endpoints = eps;
	o.n_endpoints = 1;
	o.ipc_mode = 0660;
	o.max_message_bytes = 1024;
	f->zctx = zmq_ctx_new();
	f->ctl = ctl_new(f->zctx, &o, err, sizeof(err));
	ASSERT_MSG(f->ctl != NULL, "%s", err);
	f->client = zmq_socket(f->zctx, client_type);
	ASSERT_EQ(zmq_connect(f->client, f->ep), 0);
}

static void
fixture_down(struct fixture *f)
{
	char path[192];

	zmq_close(f->client);
	ctl_destroy(&f->ctl);
	ASSERT_NULL(f->ctl);
	ctl_destroy(&f->ctl);      /* NULL is fine */
	zmq_ctx_term(f->zctx);
	snprintf(path, sizeof(path), "%s/control", f->dir);
	ASSERT_EQ(access(path, F_OK), -1);   /* the socket file is removed */
	rmdir(f->dir);
}

/* Serves until the client has a reply (or 2 s pass); returns it parsed. */
static json_t *
roundtrip(struct fixture *f, struct calls *k)
{
	zmq_pollitem_t items[4];
	char buf[4096];
	int i, n, rc;

	for (i = 0; i < 200; i++) {
		n = ctl_pollitems(f->ctl, items, 4);
		zmq_poll(items, n, 10);
		ASSERT_GE(ctl_dispatch(f->ctl, handler, k), 0);
		rc = zmq_recv(f->client, buf, sizeof(buf) - 1, ZMQ_DONTWAIT);
		if (rc == 0)    /* the delimiter echoed to a DEALER */
			rc = zmq_recv(f->client, buf, sizeof(buf) - 1, 0);
		if (rc >= 0) {
			json_error_t je;
			json_t *r;
			ASSERT_LT(rc, (int)sizeof(buf) - 1);
			buf[rc] = '\0';
			r = json_loads(buf, 0, &je);
			ASSERT_MSG(r != NULL, "reply not JSON: %s", buf);
			return r;
		}
	}
	TEST_FAIL_("no reply");
	return NULL;
}

static const char *
err_code(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"),
	    "code"));
}

TEST(bad_requests_get_error_and_never_reach_handler)
{
	struct fixture f;
	struct calls k = { 0 };
	static const struct { const char *text, *code; } bad[] = {
		{ "garbage", "bad_json" },
		{ "{\"id\":5,\"cmd\":\"fly\"}", "unknown_cmd" },
		{ "{\"id\":5,\"cmd\":\"start\",\"now\":1}", "unknown_field" },
		{ "{\"id\":5,\"cmd\":\"redo\"}", "missing_field" },
		{ "{\"id\":5,\"cmd\":\"jog\",\"x\":\"far\"}", "bad_field" },
	};
	size_t i;
	char big[2000];

	fixture_up(&f, ZMQ_DEALER);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *r;
		zmq_send(f.client, bad[i].text, strlen(bad[i].text), 0);
		r = roundtrip(&f, &k);
		ASSERT(json_is_false(json_object_get(r, "ok")));
		ASSERT_STR_EQ(err_code(r), bad[i].code);
		ASSERT(json_object_get(json_object_get(r, "error"),
		    "message") != NULL);
		if (i > 0)
			ASSERT_EQ(json_integer_value(json_object_get(r, "id")),
			    5);
		else
			ASSERT(json_is_null(json_object_get(r, "id")));
		json_decref(r);
	}
	/* Over max_message_bytes (1024): too_large. */
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"id\":6,\"cmd\":\"ping\"}", 21);
	zmq_send(f.client, big, sizeof(big), 0);
	{
		json_t *r = roundtrip(&f, &k);
		ASSERT_STR_EQ(err_code(r), "too_large");
		json_decref(r);
	}
	ASSERT_EQ(k.n, 0);
	fixture_down(&f);
}

TEST(good_request_reaches_handler_and_echoes_id)
{
	struct fixture f;
	struct calls k = { 0 };
	static const char *ids[] = { "42", "\"req-7\"", "null", "3.5", "false" };
	size_t i;

	fixture_up(&f, ZMQ_DEALER);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char text[128], *got;
		json_t *r, *want;
		snprintf(text, sizeof(text), "{\"id\":%s,\"cmd\":\"pause\"}",
		    ids[i]);
		zmq_send(f.client, text, strlen(text), 0);
		r = roundtrip(&f, &k);
		ASSERT(json_is_true(json_object_get(r, "ok")));
		ASSERT_STR_EQ(json_string_value(json_object_get(r, "cmd")),
		    "pause");
		ASSERT_STR_EQ(json_string_value(json_object_get(r, "client")),
		    "local");
		want = json_loads(ids[i], JSON_DECODE_ANY, NULL);
		ASSERT_MSG(json_equal(json_object_get(r, "id"), want),
		    "id %s not echoed: %s", ids[i],
		    (got = json_dumps(r, 0)));
		json_decref(want);
		json_decref(r);
	}
	ASSERT_EQ(k.n, (int)(sizeof(ids) / sizeof(ids[0])));
	ASSERT_EQ(k.last, CTL_PAUSE);
	fixture_down(&f);
}

TEST(req_client_envelope_works)
{
	struct fixture f;
	struct calls k = { 0 };
	json_t *r;

	fixture_up(&f, ZMQ_REQ);
	zmq_send(f.client, "{\"id\":1,\"cmd\":\"ping\"}", 21, 0);
	r = roundtrip(&f, &k);
	ASSERT(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	zmq_send(f.client, "{\"id\":2,\"cmd\":\"nope\"}", 21, 0);
	r = roundtrip(&f, &k);
	ASSERT_STR_EQ(err_code(r), "unknown_cmd");
	json_decref(r);
	ASSERT_EQ(k.n, 1);
	fixture_down(&f);
}

TEST(frame_abuse_is_answered_not_obeyed)
{
	struct fixture f;
	struct calls k = { 0 };
	json_t *r;
	int i;

	fixture_up(&f, ZMQ_DEALER);
	/* Two JSON frames: neither is run. */
	zmq_send(f.client, "{\"id\":1,\"cmd\":\"start\"}", 22, ZMQ_SNDMORE);
	zmq_send(f.client, "{\"id\":2,\"cmd\":\"start\"}", 22, 0);
	r = roundtrip(&f, &k);
	ASSERT_STR_EQ(err_code(r), "bad_frames");
	json_decref(r);
	/* Many frames. */
	for (i = 0; i < 50; i++)
		zmq_send(f.client, "x", 1, ZMQ_SNDMORE);
	zmq_send(f.client, "x", 1, 0);
	r = roundtrip(&f, &k);
	ASSERT_STR_EQ(err_code(r), "bad_frames");
	json_decref(r);
	/* One empty frame. */
	zmq_send(f.client, "", 0, 0);
	r = roundtrip(&f, &k);
	ASSERT_STR_EQ(err_code(r), "bad_json");
	json_decref(r);
	/* Delimiter then an empty request. */
	zmq_send(f.client, "", 0, ZMQ_SNDMORE);
	zmq_send(f.client, "", 0, 0);
	r = roundtrip(&f, &k);
	ASSERT_STR_EQ(err_code(r), "bad_json");
	json_decref(r);
	/* Delimiter, then two frames. */
	zmq_send(f.client, "", 0, ZMQ_SNDMORE);
	zmq_send(f.client, "{\"id\":1,\"cmd\":\"abort\"}", 22, ZMQ_SNDMORE);
	zmq_send(f.client, "x", 1, 0);
	r = roundtrip(&f, &k);
	ASSERT_STR_EQ(err_code(r), "bad_frames");
	json_decref(r);
	/* Binary garbage. */
	zmq_send(f.client, "\x00\xff\xfe\x01", 4, 0);
	r = roundtrip(&f, &k);
	ASSERT_STR_EQ(err_code(r), "bad_json");
	json_decref(r);
	ASSERT_EQ(k.n, 0);
	/* And the endpoint still works afterwards. */
	zmq_send(f.client, "{\"id\":3,\"cmd\":\"status\"}", 23, 0);
	r = roundtrip(&f, &k);
	ASSERT(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	ASSERT_EQ(k.n, 1);
	fixture_down(&f);
}

TEST(exactly_one_reply_per_request)
{
	struct fixture f;
	struct calls k = { 0 };
	json_t *r;
	char buf[256];

	fixture_up(&f, ZMQ_DEALER);
	k.mode = 1;    /* the handler forgets to answer */
	zmq_send(f.client, "{\"id\":1,\"cmd\":\"home\"}", 21, 0);
	r = roundtrip(&f, &k);
	ASSERT_STR_EQ(err_code(r), "failed");
	json_decref(r);
	k.mode = 2;    /* the handler answers twice */
	zmq_send(f.client, "{\"id\":2,\"cmd\":\"home\"}", 21, 0);
	r = roundtrip(&f, &k);
	ASSERT(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	ASSERT_EQ(k.second_rc, -1);
	usleep(50000);
	ASSERT_EQ(zmq_recv(f.client, buf, sizeof(buf), ZMQ_DONTWAIT), -1);
	fixture_down(&f);
}

TEST(ipc_socket_file_has_the_configured_mode)
{
	struct fixture f;
	struct stat st;
	char path[192];

	fixture_up(&f, ZMQ_DEALER);
	snprintf(path, sizeof(path), "%s/control", f.dir);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT(S_ISSOCK(st.st_mode));
	ASSERT_EQ(st.st_mode & 0777, 0660);
	fixture_down(&f);
}

TEST(ipc_group_applies_or_fails_clearly)
{
	char dir[64], ep[110], path[100], err[256];
	const char *eps[1];
	struct ctl_opts o = { 0 };
	struct group *gr = getgrnam("daemon");
	struct stat st;
	void *zctx = zmq_ctx_new();
	struct ctl *c;

	snprintf(dir, sizeof(dir), "/tmp/smp-test-ctl-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control", dir);
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	eps[0] = ep;
	o.endpoints = eps;
	o.n_endpoints = 1;
	o.ipc_mode = 0660;
	o.ipc_group = "no-such-group-smp";
	c = ctl_new(zctx, &o, err, sizeof(err));
	ASSERT_NULL(c);
	ASSERT_STR_CONTAINS(err, "no-such-group-smp");
	if (gr != NULL && geteuid() == 0) {
		o.ipc_group = "daemon";
		c = ctl_new(zctx, &o, err, sizeof(err));
		ASSERT_MSG(c != NULL, "%s", err);
		ASSERT_EQ(stat(path, &st), 0);
		ASSERT_EQ(st.st_gid, gr->gr_gid);
		ASSERT_EQ(st.st_mode & 0777, 0660);
		ctl_destroy(&c);
	} else
		printf("group change not checked (needs root and group "
		    "\"daemon\")\n");
	zmq_ctx_term(zctx);
	unlink(path);
	rmdir(dir);
}

TEST(refuses_to_take_an_endpoint_from_a_running_daemon)
{
	struct fixture f;
	char err[256];
	const char *eps[1];
	struct ctl_opts o = { 0 };
	struct ctl *second;
	struct calls k = { 0 };
	json_t *r;

	fixture_up(&f, ZMQ_DEALER);
	eps[0] = f.ep;
	o.endpoints = eps;
	o.n_endpoints = 1;
	second = ctl_new(f.zctx, &o, err, sizeof(err));
	ASSERT_NULL(second);
	ASSERT_STR_CONTAINS(err, "already running");
	/* The first one still serves. */
	zmq_send(f.client, "{\"id\":1,\"cmd\":\"ping\"}", 21, 0);
	r = roundtrip(&f, &k);
	ASSERT(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	fixture_down(&f);
}

TEST(replaces_a_stale_socket_file)
{
	char dir[64], path[96], ep[110], err[256];
	const char *eps[1];
	struct ctl_opts o = { 0 };
	struct sockaddr_un sa;
	void *zctx;
	struct ctl *c;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/smp-test-ctl-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control", dir);
	/* A socket file left by a crash: bound once, nobody listening. */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	eps[0] = ep;
	o.endpoints = eps;
	o.n_endpoints = 1;
	zctx = zmq_ctx_new();
	c = ctl_new(zctx, &o, err, sizeof(err));
	ASSERT_MSG(c != NULL, "%s", err);
	ctl_destroy(&c);
	zmq_ctx_term(zctx);
	rmdir(dir);
}

TEST(refuses_network_tcp_without_curve)
{
	char err[256];
	const char *eps[] = { "tcp://0.0.0.0:0" };
	struct ctl_opts o = { 0 };
	void *zctx = zmq_ctx_new();
	struct ctl *c;

	o.endpoints = eps;
	o.n_endpoints = 1;
	c = ctl_new(zctx, &o, err, sizeof(err));
	ASSERT_NULL(c);
	ASSERT_STR_CONTAINS(err, "0.0.0.0");
	/* curve without keys is refused too, not silently open. */
	o.curve = true;
	c = ctl_new(zctx, &o, err, sizeof(err));
	ASSERT_NULL(c);
	ASSERT_STR_CONTAINS(err, "server_secret_key");
	eps[0] = "tcp://127.0.0.1:0";
	o.curve = false;
	c = ctl_new(zctx, &o, err, sizeof(err));
	ASSERT_MSG(c != NULL, "%s", err);
	ctl_destroy(&c);
	zmq_ctx_term(zctx);
}

TEST_MAIN()
