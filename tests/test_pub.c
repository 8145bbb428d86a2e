/*
 * The status endpoint: every message is [topic, JSON] with seq/ts/schema/
 * machine added, seq counts per topic, a new subscription is seen at once
 * (so the daemon can send a snapshot), and a subscriber that does not read
 * never blocks the publisher: it loses messages and sees the gap in seq.
 */
#include <sys/stat.h>

#include "daemon/pub.h"
#include "test.h"

struct fx {
	void *zctx;
	struct pub *pub;
	char dir[64];
	char ep[128];
};

static void
fx_up(struct fx *f, int hwm)
{
	char err[256];
	const char *eps[1];
	struct pub_opts o = { 0 };

	snprintf(f->dir, sizeof(f->dir), "/tmp/smp-test-pub-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(f->dir));
	snprintf(f->ep, sizeof(f->ep), "ipc://%s/status", f->dir);
	eps[0] = f->ep;
	o.endpoints = eps;
	o.n_endpoints = 1;
	o.ipc_mode = 0660;
	o.send_hwm = hwm;
	o.machine_id = "smp-test";
	f->zctx = zmq_ctx_new();
	f->pub = pub_new(f->zctx, &o, err, sizeof(err));
	ASSERT_MSG(f->pub != NULL, "%s", err);
}

static void
fx_down(struct fx *f)
{
	pub_destroy(&f->pub);
	ASSERT_NULL(f->pub);
	pub_destroy(&f->pub);
	zmq_ctx_term(f->zctx);
	rmdir(f->dir);
}

static void *
subscriber(struct fx *f, const char *topic)
{
	void *s = zmq_socket(f->zctx, ZMQ_SUB);
	int zero = 0;

	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
	ASSERT_EQ(zmq_connect(s, f->ep), 0);
	return s;
}

/* Polls the publisher until n new subscriptions were seen (2 s at most). */
static int
wait_subs_ms(struct fx *f, int n, int ms)
{
	zmq_pollitem_t items[4];
	int got = 0, i, k;

	for (i = 0; i < ms / 10 && got < n; i++) {
		k = pub_pollitems(f->pub, items, 4);
		zmq_poll(items, k, 10);
		got += pub_handle(f->pub);
	}
	return got;
}

static int
wait_subs(struct fx *f, int n)
{
	return wait_subs_ms(f, n, 2000);
}

static json_t *
recv_msg_ms(void *s, char *topic, size_t tlen, int ms)
{
	char buf[8192];
	int rc, more = 0;
	size_t sz = sizeof(more);
	zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
	json_t *r;

	if (zmq_poll(&it, 1, ms) != 1)
		return NULL;
	rc = zmq_recv(s, topic, tlen - 1, 0);
	ASSERT_GE(rc, 0);
	topic[rc] = '\0';
	zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz);
	ASSERT_EQ(more, 1);
	rc = zmq_recv(s, buf, sizeof(buf) - 1, 0);
	ASSERT_GE(rc, 0);
	buf[rc] = '\0';
	zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz);
	ASSERT_EQ(more, 0);
	r = json_loads(buf, 0, NULL);
	ASSERT_MSG(r != NULL, "not JSON: %s", buf);
	return r;
}

static json_t *
recv_msg(void *s, char *topic, size_t tlen)
{
	return recv_msg_ms(s, topic, tlen, 2000);
}

TEST(new_subscriber_is_detected)
{
	struct fx f;
	void *s1, *s2;

	fx_up(&f, 1000);
	ASSERT_EQ(wait_subs_ms(&f, 1, 100), 0);   /* nothing yet */
	s1 = subscriber(&f, "status");
	ASSERT_EQ(wait_subs(&f, 1), 1);
	/* A second subscriber to the same topic is seen too (XPUB_VERBOSE). */
	s2 = subscriber(&f, "status");
	ASSERT_EQ(wait_subs(&f, 1), 1);
	zmq_close(s1);
	zmq_close(s2);
	fx_down(&f);
}

TEST(messages_carry_seq_ts_schema_machine)
{
	struct fx f;
	void *s;
	json_t *m;
	char topic[32];
	struct timespec now;

	fx_up(&f, 1000);
	s = subscriber(&f, "");
	ASSERT_EQ(wait_subs(&f, 1), 1);
	ASSERT_EQ(pub_send(f.pub, "status", json_pack("{s:s, s:i}", "state",
	    "idle", "delivered", 3)), 0);
	m = recv_msg(s, topic, sizeof(topic));
	ASSERT_NOT_NULL(m);
	ASSERT_STR_EQ(topic, "status");
	ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")), "idle");
	ASSERT_EQ(json_integer_value(json_object_get(m, "delivered")), 3);
	ASSERT_EQ(json_integer_value(json_object_get(m, "seq")), 1);
	ASSERT_EQ(json_integer_value(json_object_get(m, "schema")),
	    PUB_SCHEMA);
	ASSERT_STR_EQ(json_string_value(json_object_get(m, "machine")),
	    "smp-test");
	clock_gettime(CLOCK_REALTIME, &now);
	ASSERT_NEAR(json_number_value(json_object_get(m, "ts")),
	    (double)now.tv_sec, 5.0);
	json_decref(m);
	zmq_close(s);
	fx_down(&f);
}

TEST(seq_counts_per_topic)
{
	struct fx f;
	void *s;
	char topic[32];
	int i;
	json_int_t want_status = 1, want_event = 1, want_dot = 1;

	fx_up(&f, 1000);
	s = subscriber(&f, "");
	ASSERT_EQ(wait_subs(&f, 1), 1);
	for (i = 0; i < 10; i++) {
		const char *t = i % 3 == 0 ? "status" : i % 3 == 1 ? "event" :
		    "dot";
		ASSERT_EQ(pub_send(f.pub, t, json_object()), 0);
	}
	for (i = 0; i < 10; i++) {
		json_t *m = recv_msg(s, topic, sizeof(topic));
		json_int_t seq;
		ASSERT_NOT_NULL(m);
		seq = json_integer_value(json_object_get(m, "seq"));
		if (strcmp(topic, "status") == 0)
			ASSERT_EQ(seq, want_status++);
		else if (strcmp(topic, "event") == 0)
			ASSERT_EQ(seq, want_event++);
		else
			ASSERT_EQ(seq, want_dot++);
		json_decref(m);
	}
	ASSERT_EQ(want_status, 5);
	ASSERT_EQ(want_event, 4);
	ASSERT_EQ(want_dot, 4);
	zmq_close(s);
	fx_down(&f);
}

TEST(topic_filter_applies)
{
	struct fx f;
	void *s;
	char topic[32];
	json_t *m;

	fx_up(&f, 1000);
	s = subscriber(&f, "event");
	ASSERT_EQ(wait_subs(&f, 1), 1);
	pub_send(f.pub, "status", json_object());
	pub_send(f.pub, "event", json_pack("{s:s}", "type", "state"));
	m = recv_msg(s, topic, sizeof(topic));
	ASSERT_NOT_NULL(m);
	ASSERT_STR_EQ(topic, "event");
	json_decref(m);
	zmq_close(s);
	fx_down(&f);
}

TEST(slow_subscriber_never_blocks_and_sees_gaps)
{
	struct fx f;
	void *s;
	char topic[32];
	int i, rcvhwm = 10, got = 0;
	json_int_t last = 0, gaps = 0;
	struct timespec t0, t1;
	json_t *m;

	fx_up(&f, 10);
	s = zmq_socket(f.zctx, ZMQ_SUB);
	zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm));
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
	ASSERT_EQ(zmq_connect(s, f.ep), 0);
	ASSERT_EQ(wait_subs(&f, 1), 1);
	/* The subscriber reads nothing while 20000 messages go out. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 20000; i++)
		pub_send(f.pub, "status", json_pack("{s:i}", "i", i));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Never blocked: far less than a second for 20000 sends. */
	ASSERT_LT((t1.tv_sec - t0.tv_sec), 3);
	while ((m = recv_msg_ms(s, topic, sizeof(topic), 200)) != NULL) {
		json_int_t seq = json_integer_value(json_object_get(m, "seq"));
		ASSERT_GT(seq, last);
		if (seq != last + 1)
			gaps++;
		last = seq;
		got++;
		json_decref(m);
		if (seq == 20000)
			break;
	}
	ASSERT_GT(got, 0);
	ASSERT_LT(got, 20000);      /* some were dropped... */
	ASSERT_GT(gaps, 0);         /* ...and the subscriber can tell */
	zmq_close(s);
	fx_down(&f);
}

TEST(bad_topic_or_object_is_dropped_and_counted)
{
	struct fx f;

	fx_up(&f, 1000);
	ASSERT_EQ(pub_dropped(f.pub), 0);
	ASSERT_EQ(pub_send(f.pub, "status", json_array()), -1);
	ASSERT_EQ(pub_send(f.pub, "", json_object()), -1);
	ASSERT_EQ(pub_send(f.pub, "status", NULL), -1);
	ASSERT_EQ(pub_dropped(f.pub), 3);
	fx_down(&f);
}

TEST(ipc_mode_applies)
{
	struct fx f;
	struct stat st;
	char path[192];

	fx_up(&f, 1000);
	snprintf(path, sizeof(path), "%s/status", f.dir);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0660);
	fx_down(&f);
}

TEST_MAIN()
