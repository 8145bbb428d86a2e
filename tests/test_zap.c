/*
 * CurveZMQ on the control socket, proved from the outside: a client with no
 * key, with the wrong server key, or with a key not on the allowlist gets no
 * reply to any command (not even an error: the handshake never completes,
 * or its messages are dropped); a client whose key is on the list does, and
 * is named by its key file. Removing a key and reloading (SIGHUP's
 * ctl_reload_keys) shuts that client out, even on the connection it already
 * had. Also the key file parser and the CURVE status socket.
 */
#include <sys/stat.h>

#include "daemon/ctl.h"
#include "daemon/keys.h"
#include "daemon/pub.h"
#include "daemon/zap.h"
#include "test.h"

struct sec {
	char dir[64];
	char allow[128];
	char srv_pub[41], srv_sec[41];
	char alice_pub[41], alice_sec[41];
	char bob_pub[41], bob_sec[41];
	void *zctx;
	struct ctl *ctl;
	char ep[160];
	int handled;
	char last_client[48];
};

static void
mkpair(struct sec *s, const char *name, char *pub, char *sec)
{
	char base[160], path[170], err[256];

	snprintf(base, sizeof(base), "%s/%s", s->dir, name);
	ASSERT_MSG(keys_generate(base, pub, err, sizeof(err)) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s.key", base);
	ASSERT_MSG(keys_read(path, pub, sec, err, sizeof(err)) == 0, "%s", err);
}

static void
allow(struct sec *s, const char *name)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "cp %s/%s.pub %s/", s->dir, name, s->allow);
	ASSERT_EQ(system(cmd), 0);
}

static void
handler(void *arg, struct ctl *c, const struct ctl_request *req)
{
	struct sec *s = arg;

	s->handled++;
	snprintf(s->last_client, sizeof(s->last_client), "%s", req->client);
	ctl_reply_ok(c, req, json_pack("{s:s}", "client", req->client));
}

static void
sec_up(struct sec *s, const char *transport)
{
	char err[256], keyfile[160];
	const char *eps[1];
	struct ctl_opts o = { 0 };

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/smp-test-zap-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(s->dir));
	snprintf(s->allow, sizeof(s->allow), "%s/allowed", s->dir);
	ASSERT_EQ(mkdir(s->allow, 0700), 0);
	mkpair(s, "server", s->srv_pub, s->srv_sec);
	mkpair(s, "alice", s->alice_pub, s->alice_sec);
	mkpair(s, "bob", s->bob_pub, s->bob_sec);
	allow(s, "alice");
	if (strcmp(transport, "tcp") == 0)
		snprintf(s->ep, sizeof(s->ep), "tcp://127.0.0.1:%d",
		    20000 + getpid() % 20000);
	else
		snprintf(s->ep, sizeof(s->ep), "ipc://%s/control", s->dir);
	snprintf(keyfile, sizeof(keyfile), "%s/server.key", s->dir);
	eps[0] = s->ep;
	o.endpoints = eps;
	o.n_endpoints = 1;
	o.curve = true;
	o.server_secret_key = keyfile;
	o.client_keys_dir = s->allow;
	s->zctx = zmq_ctx_new();
	s->ctl = ctl_new(s->zctx, &o, err, sizeof(err));
	ASSERT_MSG(s->ctl != NULL, "%s", err);
}

static void
sec_down(struct sec *s)
{
	char cmd[128];

	ctl_destroy(&s->ctl);
	zmq_ctx_term(s->zctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	ASSERT_EQ(system(cmd), 0);
}

static void *
client(struct sec *s, const char *server_pub, const char *pub,
    const char *secret)
{
	void *c = zmq_socket(s->zctx, ZMQ_DEALER);
	int zero = 0;

	zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof(zero));
	if (server_pub != NULL) {
		ASSERT_EQ(zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, server_pub,
		    40), 0);
		ASSERT_EQ(zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, pub, 40), 0);
		ASSERT_EQ(zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, secret, 40),
		    0);
	}
	ASSERT_EQ(zmq_connect(c, s->ep), 0);
	return c;
}

/* Sends a command and serves for ms; returns the reply or NULL. */
static json_t *
ask(struct sec *s, void *c, const char *cmd, int ms)
{
	char text[128], buf[1024];
	int i, n;

	snprintf(text, sizeof(text), "{\"id\":1,\"cmd\":\"%s\"}", cmd);
	zmq_send(c, text, strlen(text), ZMQ_DONTWAIT);
	for (i = 0; i < ms / 10; i++) {
		zmq_pollitem_t items[4];
		int k = ctl_pollitems(s->ctl, items, 4);
		zmq_poll(items, k, 10);
		ASSERT_GE(ctl_dispatch(s->ctl, handler, s), 0);
		n = zmq_recv(c, buf, sizeof(buf) - 1, ZMQ_DONTWAIT);
		if (n >= 0) {
			buf[n] = '\0';
			return json_loads(buf, 0, NULL);
		}
	}
	return NULL;
}

static const char *all_cmds[] = { "ping", "status", "start", "abort",
    "pause", "home", "unlock", NULL };

static void
no_reply_to_anything(struct sec *s, void *c)
{
	int i;

	for (i = 0; all_cmds[i] != NULL; i++) {
		json_t *r = ask(s, c, all_cmds[i], i == 0 ? 500 : 100);
		ASSERT_MSG(r == NULL, "got a reply to %s", all_cmds[i]);
	}
	ASSERT_EQ(s->handled, 0);
}

TEST(allowed_key_gets_replies_and_is_named)
{
	struct sec s;
	void *c;
	json_t *r;

	sec_up(&s, "ipc");
	ASSERT_EQ(ctl_pollitems(s.ctl, (zmq_pollitem_t[4]){ 0 }, 4), 2);
	c = client(&s, s.srv_pub, s.alice_pub, s.alice_sec);
	r = ask(&s, c, "ping", 2000);
	ASSERT_NOT_NULL(r);
	ASSERT(json_is_true(json_object_get(r, "ok")));
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "client")),
	    "alice");
	json_decref(r);
	ASSERT_EQ(s.handled, 1);
	zmq_close(c);
	sec_down(&s);
}

TEST(no_key_gets_nothing)
{
	struct sec s;
	void *c;

	sec_up(&s, "ipc");
	c = client(&s, NULL, NULL, NULL);
	no_reply_to_anything(&s, c);
	zmq_close(c);
	sec_down(&s);
}

TEST(wrong_server_key_gets_nothing)
{
	struct sec s;
	void *c;

	sec_up(&s, "ipc");
	/* Alice's own key is allowed, but she trusts the wrong server. */
	c = client(&s, s.bob_pub, s.alice_pub, s.alice_sec);
	no_reply_to_anything(&s, c);
	zmq_close(c);
	sec_down(&s);
}

TEST(key_not_on_the_list_gets_nothing)
{
	struct sec s;
	void *c;

	sec_up(&s, "tcp");
	c = client(&s, s.srv_pub, s.bob_pub, s.bob_sec);
	no_reply_to_anything(&s, c);
	{
		/* The shared handler of this context counted the denials. */
		char err[64];
		struct zap *z = zap_get(s.zctx, err, sizeof(err));
		ASSERT_NOT_NULL(z);
		ASSERT_GT(zap_denied(z), 0);
		zap_put(&z);
	}
	zmq_close(c);
	sec_down(&s);
}

TEST(forged_public_key_gets_nothing)
{
	struct sec s;
	void *c;

	sec_up(&s, "ipc");
	/* Claims Alice's public key without her secret. */
	c = client(&s, s.srv_pub, s.alice_pub, s.bob_sec);
	no_reply_to_anything(&s, c);
	zmq_close(c);
	sec_down(&s);
}

TEST(removed_key_is_refused_after_reload)
{
	struct sec s;
	void *c, *c2;
	json_t *r;
	char path[200];

	sec_up(&s, "ipc");
	c = client(&s, s.srv_pub, s.alice_pub, s.alice_sec);
	r = ask(&s, c, "ping", 2000);
	ASSERT_NOT_NULL(r);
	json_decref(r);
	snprintf(path, sizeof(path), "%s/alice.pub", s.allow);
	ASSERT_EQ(unlink(path), 0);
	/* Not reloaded yet: the old list still holds. */
	r = ask(&s, c, "ping", 2000);
	ASSERT_NOT_NULL(r);
	json_decref(r);
	ASSERT_EQ(ctl_reload_keys(s.ctl), 0);
	s.handled = 0;
	/* The open connection is cut off... */
	no_reply_to_anything(&s, c);
	/* ...and so is a new one. */
	c2 = client(&s, s.srv_pub, s.alice_pub, s.alice_sec);
	no_reply_to_anything(&s, c2);
	/* Bob, added and reloaded, gets in. */
	allow(&s, "bob");
	ASSERT_EQ(ctl_reload_keys(s.ctl), 0);
	zmq_close(c);
	c = client(&s, s.srv_pub, s.bob_pub, s.bob_sec);
	r = ask(&s, c, "ping", 2000);
	ASSERT_NOT_NULL(r);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "client")), "bob");
	json_decref(r);
	zmq_close(c);
	zmq_close(c2);
	sec_down(&s);
}

TEST(bad_key_file_keeps_the_old_list)
{
	struct sec s;
	void *c;
	json_t *r;
	char path[200];
	FILE *f;

	sec_up(&s, "ipc");
	snprintf(path, sizeof(path), "%s/typo.pub", s.allow);
	f = fopen(path, "w");
	fputs("public-key = \"tooshort\"\n", f);
	fclose(f);
	ASSERT_EQ(ctl_allowed_count(s.ctl), 1);
	ASSERT_EQ(ctl_reload_keys(s.ctl), -1);
	ASSERT_STR_CONTAINS(ctl_reload_error(s.ctl), "typo.pub:1:");
	ASSERT_EQ(ctl_allowed_count(s.ctl), 1);
	c = client(&s, s.srv_pub, s.alice_pub, s.alice_sec);
	r = ask(&s, c, "ping", 2000);
	ASSERT_NOT_NULL(r);
	json_decref(r);
	zmq_close(c);
	sec_down(&s);
}

TEST(curve_refuses_to_start_without_its_keys)
{
	char err[256], dir[64], keyfile[100];
	const char *eps[] = { "tcp://0.0.0.0:0" };
	struct ctl_opts o = { 0 };
	void *zctx = zmq_ctx_new();
	char pub[41];

	snprintf(dir, sizeof(dir), "/tmp/smp-test-zap2-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
	o.endpoints = eps;
	o.n_endpoints = 1;
	o.curve = true;
	snprintf(keyfile, sizeof(keyfile), "%s/srv", dir);
	ASSERT_EQ(keys_generate(keyfile, pub, err, sizeof(err)), 0);
	snprintf(keyfile, sizeof(keyfile), "%s/srv.key", dir);
	o.server_secret_key = keyfile;
	ASSERT_NULL(ctl_new(zctx, &o, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "client_keys_dir");
	o.client_keys_dir = "/nonexistent/keys";
	ASSERT_NULL(ctl_new(zctx, &o, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "/nonexistent/keys");
	/* The public file is not a secret key. */
	snprintf(keyfile, sizeof(keyfile), "%s/srv.pub", dir);
	o.client_keys_dir = dir;
	ASSERT_NULL(ctl_new(zctx, &o, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "secret");
	zmq_ctx_term(zctx);
	snprintf(keyfile, sizeof(keyfile), "rm -rf %s", dir);
	ASSERT_EQ(system(keyfile), 0);
}

TEST(key_file_parser)
{
	char dir[64], path[100], pub[41], sec[41], err[256];
	FILE *f;
	static const struct { const char *text, *want; } bad[] = {
		{ "", "no public-key" },
		{ "public-key = \"abc\"\n", ":1:" },
		{ "# c\n\npublic-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
		    "\"\nfoo = 1\n", ":4: unknown key" },
		{ "public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n",
		    ":1: unbalanced" },
	};
	size_t i;

	snprintf(dir, sizeof(dir), "/tmp/smp-test-keys-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k", dir);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = fopen(path, "w");
		fputs(bad[i].text, f);
		fclose(f);
		ASSERT_EQ(keys_read(path, pub, NULL, err, sizeof(err)), -1);
		ASSERT_STR_CONTAINS(err, bad[i].want);
	}
	/* A bare Z85 key (another tool's format) is a public key. */
	f = fopen(path, "w");
	fputs("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n", f);
	fclose(f);
	ASSERT_EQ(keys_read(path, pub, NULL, err, sizeof(err)), 0);
	ASSERT_STR_EQ(pub, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
	/* A secret that does not match its public key. */
	f = fopen(path, "w");
	fputs("public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n"
	    "secret-key = \"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\"\n", f);
	fclose(f);
	ASSERT_EQ(keys_read(path, pub, sec, err, sizeof(err)), 0);
	f = fopen(path, "w");
	fputs("public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n"
	    "secret-key = \"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs\"\n", f);
	fclose(f);
	ASSERT_EQ(keys_read(path, pub, sec, err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "does not belong");
	unlink(path);
	rmdir(dir);
}

TEST(curve_status_socket)
{
	char dir[64], base[100], keyfile[110], err[256], ep[128];
	char srv_pub[41], cli_pub[41], cli_sec[41];
	const char *eps[1];
	struct pub_opts o = { 0 };
	void *zctx = zmq_ctx_new(), *good, *plain;
	struct pub *p;
	int i, got_good = 0, got_plain = 0, zero = 0;

	snprintf(dir, sizeof(dir), "/tmp/smp-test-zap3-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(base, sizeof(base), "%s/srv", dir);
	ASSERT_EQ(keys_generate(base, srv_pub, err, sizeof(err)), 0);
	snprintf(base, sizeof(base), "%s/cli", dir);
	ASSERT_EQ(keys_generate(base, cli_pub, err, sizeof(err)), 0);
	snprintf(keyfile, sizeof(keyfile), "%s/cli.key", dir);
	ASSERT_EQ(keys_read(keyfile, cli_pub, cli_sec, err, sizeof(err)), 0);
	snprintf(keyfile, sizeof(keyfile), "%s/srv.key", dir);
	snprintf(ep, sizeof(ep), "ipc://%s/status", dir);
	eps[0] = ep;
	o.endpoints = eps;
	o.n_endpoints = 1;
	o.curve = true;
	o.server_secret_key = keyfile;
	o.client_keys_dir = "";     /* any client knowing the server key */
	o.machine_id = "m";
	p = pub_new(zctx, &o, err, sizeof(err));
	ASSERT_MSG(p != NULL, "%s", err);
	good = zmq_socket(zctx, ZMQ_SUB);
	plain = zmq_socket(zctx, ZMQ_SUB);
	zmq_setsockopt(good, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(plain, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(good, ZMQ_CURVE_SERVERKEY, srv_pub, 40);
	zmq_setsockopt(good, ZMQ_CURVE_PUBLICKEY, cli_pub, 40);
	zmq_setsockopt(good, ZMQ_CURVE_SECRETKEY, cli_sec, 40);
	zmq_setsockopt(good, ZMQ_SUBSCRIBE, "", 0);
	zmq_setsockopt(plain, ZMQ_SUBSCRIBE, "", 0);
	ASSERT_EQ(zmq_connect(good, ep), 0);
	ASSERT_EQ(zmq_connect(plain, ep), 0);
	for (i = 0; i < 100 && got_good < 3; i++) {
		zmq_pollitem_t items[4];
		char buf[256];
		int k = pub_pollitems(p, items, 4);
		zmq_poll(items, k, 10);
		pub_handle(p);
		pub_send(p, "status", json_object());
		while (zmq_recv(good, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
			got_good++;
		while (zmq_recv(plain, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
			got_plain++;
	}
	ASSERT_GE(got_good, 3);
	ASSERT_EQ(got_plain, 0);
	/* Open domain: a reload of "" is a no-op success. */
	ASSERT_EQ(pub_reload_keys(p, err, sizeof(err)), 0);
	zmq_close(good);
	zmq_close(plain);
	pub_destroy(&p);
	zmq_ctx_term(zctx);
	snprintf(base, sizeof(base), "rm -rf %s", dir);
	ASSERT_EQ(system(base), 0);
}

static void *
curve_sub(void *zctx, const char *ep, const char *srv, const char *pub,
    const char *sec)
{
	void *s = zmq_socket(zctx, ZMQ_SUB);
	int zero = 0;

	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, srv, 40);
	zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
	zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
	ASSERT_EQ(zmq_connect(s, ep), 0);
	return s;
}

/* Publishes for ms and counts what each subscriber got. */
static void
pump(struct pub *p, void **subs, int *got, int n, int ms)
{
	int i, k;

	for (i = 0; i < ms / 10; i++) {
		zmq_pollitem_t items[4];
		char buf[512];
		int m = pub_pollitems(p, items, 4);
		zmq_poll(items, m, 10);
		pub_handle(p);
		pub_send(p, "status", json_object());
		for (k = 0; k < n; k++)
			while (zmq_recv(subs[k], buf, sizeof(buf),
			    ZMQ_DONTWAIT) >= 0)
				got[k]++;
	}
}

TEST(curve_status_allowlist_and_reload)
{
	struct sec s;
	char err[256], keyfile[160], ep[160], path[200];
	const char *eps[1];
	struct pub_opts o = { 0 };
	struct pub *p;
	void *subs[3];
	int got[3] = { 0, 0, 0 };

	/* sec_up makes the keys and a control socket; the status socket
	 * shares its context, so both domains share one ZAP handler. */
	sec_up(&s, "ipc");
	snprintf(keyfile, sizeof(keyfile), "%s/server.key", s.dir);
	snprintf(ep, sizeof(ep), "ipc://%s/status", s.dir);
	eps[0] = ep;
	o.endpoints = eps;
	o.n_endpoints = 1;
	o.curve = true;
	o.server_secret_key = keyfile;
	o.client_keys_dir = s.allow;       /* alice only */
	o.machine_id = "m";
	p = pub_new(s.zctx, &o, err, sizeof(err));
	ASSERT_MSG(p != NULL, "%s", err);
	subs[0] = curve_sub(s.zctx, ep, s.srv_pub, s.alice_pub, s.alice_sec);
	subs[1] = curve_sub(s.zctx, ep, s.srv_pub, s.bob_pub, s.bob_sec);
	pump(p, subs, got, 2, 500);
	ASSERT_GT(got[0], 0);
	ASSERT_EQ(got[1], 0);
	/* Alice removed: after the reload a new connection gets nothing. */
	snprintf(path, sizeof(path), "%s/alice.pub", s.allow);
	ASSERT_EQ(unlink(path), 0);
	ASSERT_EQ(pub_reload_keys(p, err, sizeof(err)), 0);
	subs[2] = curve_sub(s.zctx, ep, s.srv_pub, s.alice_pub, s.alice_sec);
	pump(p, subs, got, 3, 500);
	ASSERT_EQ(got[2], 0);
	/* The control domain is untouched by the status reload. */
	ASSERT_EQ(ctl_allowed_count(s.ctl), 1);
	zmq_close(subs[0]);
	zmq_close(subs[1]);
	zmq_close(subs[2]);
	pub_destroy(&p);
	sec_down(&s);
}

TEST_MAIN()
