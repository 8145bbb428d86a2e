/*
 * The status endpoint (see pub.h). XPUB rather than PUB so that the daemon
 * sees each subscription as it arrives (ZMQ_XPUB_VERBOSE passes even repeated
 * ones) and answers a newcomer with a snapshot at once. Every send is
 * ZMQ_DONTWAIT and the per-subscriber queue is bounded by ZMQ_SNDHWM: libzmq
 * then drops, for that subscriber only, what it cannot queue, so one stalled
 * dashboard never slows the machine nor costs the others their messages. The
 * per-topic "seq" is assigned before the send, so every drop, wherever it
 * happens, shows up as a gap at the subscriber.
 */
#include "daemon/pub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ctl.h"
#include "daemon/keys.h"
#include "daemon/zap.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93   /* libzmq >= 4.3, DRAFT in zmq.h */
#endif

#define PUB_MAX_TOPICS 16
#define PUB_TOPIC_MAX 32

struct pub_topic {
	char name[PUB_TOPIC_MAX];
	uint64_t seq;
};

struct pub {
	void *sock;
	struct zap *zap;
	char *machine_id;
	struct pub_topic topics[PUB_MAX_TOPICS];
	int n_topics;
	uint64_t dropped;
	char *keys_dir;            /* curve: the allowlist, "" = open */
	struct ctl_bound bound;  /* ipc files, unlinked on destroy */
};

struct pub *
pub_new(void *zctx, const struct pub_opts *o, char *err, size_t errlen)
{
	struct pub *p = NULL;
	char pub[KEYS_Z85_LEN + 1], sec[KEYS_Z85_LEN + 1], e2[256];
	int one = 1, zero = 0, hwm;
	size_t i;

	sec[0] = '\0';
	if (o->n_endpoints == 0) {
		snprintf(err, errlen, "status: no endpoint");
		goto fail;
	}
	for (i = 0; i < o->n_endpoints; i++)
		/* Watching is open to anyone allowed: any tcp host is fine. */
		if (ctl_endpoint_check(o->endpoints[i], true, err, errlen) < 0)
			goto fail;
	p = calloc(1, sizeof(*p));
	if (p == NULL ||
	    (p->machine_id = strdup(o->machine_id ? o->machine_id : "")) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	p->sock = zmq_socket(zctx, ZMQ_XPUB);
	if (p->sock == NULL) {
		snprintf(err, errlen, "status socket: %s", zmq_strerror(errno));
		goto fail;
	}
	hwm = o->send_hwm > 0 ? o->send_hwm : 1000;
	if (zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(p->sock, ZMQ_XPUB_VERBOSE, &one, sizeof(one)) != 0) {
		snprintf(err, errlen, "status socket options: %s",
		    zmq_strerror(errno));
		goto fail;
	}
	if (o->curve) {
		if (o->server_secret_key == NULL ||
		    o->server_secret_key[0] == '\0') {
			snprintf(err, errlen, "status: curve needs "
			    "server_secret_key");
			goto fail;
		}
		if (keys_read(o->server_secret_key, pub, sec, e2,
		    sizeof(e2)) < 0) {
			snprintf(err, errlen, "status: %s", e2);
			goto fail;
		}
		p->keys_dir = strdup(o->client_keys_dir ? o->client_keys_dir :
		    "");
		if (p->keys_dir == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		p->zap = zap_get(zctx, err, errlen);
		if (p->zap == NULL)
			goto fail;
		if (zap_set_domain(p->zap, ZAP_DOMAIN_STATUS,
		    o->client_keys_dir, e2, sizeof(e2)) < 0) {
			snprintf(err, errlen, "status: %s", e2);
			goto fail;
		}
		if (zmq_setsockopt(p->sock, ZMQ_CURVE_SERVER, &one,
		    sizeof(one)) != 0 ||
		    zmq_setsockopt(p->sock, ZMQ_CURVE_SECRETKEY, sec,
		    KEYS_Z85_LEN) != 0 ||
		    zmq_setsockopt(p->sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN_STATUS,
		    strlen(ZAP_DOMAIN_STATUS)) != 0 ||
		    zmq_setsockopt(p->sock, ZMQ_ZAP_ENFORCE_DOMAIN,
		    &one, sizeof(one)) != 0) {
			snprintf(err, errlen, "status: CURVE: %s",
			    zmq_strerror(errno));
			goto fail;
		}
	}
	if (ctl_bind_all(p->sock, o->endpoints, o->n_endpoints, o->ipc_mode,
	    o->ipc_group, &p->bound, err, errlen) < 0)
		goto fail;
	explicit_bzero(sec, sizeof(sec));
	return p;
fail:
	explicit_bzero(sec, sizeof(sec));
	pub_destroy(&p);
	return NULL;
}

void
pub_destroy(struct pub **pp)
{
	struct pub *p;

	if (pp == NULL || *pp == NULL)
		return;
	p = *pp;
	*pp = NULL;
	if (p->sock != NULL)
		zmq_close(p->sock);
	if (p->zap != NULL) {
		zap_remove_domain(p->zap, ZAP_DOMAIN_STATUS);
		zap_put(&p->zap);
	}
	ctl_bound_close(&p->bound);
	free(p->machine_id);
	free(p->keys_dir);
	free(p);
}

int
pub_pollitems(struct pub *p, zmq_pollitem_t *items, int max)
{
	return ctl_sock_pollitems(p->sock, p->zap != NULL ?
	    zap_socket(p->zap) : NULL, items, max);
}

int
pub_handle(struct pub *p)
{
	int subs = 0, n;
	uint8_t buf[1 + PUB_TOPIC_MAX];

	if (p->zap != NULL)
		zap_handle(p->zap);
	/* Each subscription is one frame: 1 (subscribe) or 0, then the
	 * prefix. Bounded so a flood cannot hold the loop. */
	for (n = 0; n < 1024; n++) {
		int rc = zmq_recv(p->sock, buf, sizeof(buf), ZMQ_DONTWAIT);
		if (rc < 0)
			break;
		if (rc >= 1 && buf[0] == 1)
			subs++;
	}
	return subs;
}

static struct pub_topic *
pub_topic(struct pub *p, const char *name)
{
	int i;

	for (i = 0; i < p->n_topics; i++)
		if (strcmp(p->topics[i].name, name) == 0)
			return &p->topics[i];
	if (p->n_topics == PUB_MAX_TOPICS || strlen(name) == 0 ||
	    strlen(name) >= PUB_TOPIC_MAX)
		return NULL;
	snprintf(p->topics[i].name, PUB_TOPIC_MAX, "%s", name);
	p->topics[i].seq = 0;
	p->n_topics++;
	return &p->topics[i];
}

static void
pub_free_text(void *data, void *hint)
{
	(void)hint;
	free(data);
}

int
pub_send(struct pub *p, const char *topic, json_t *obj)
{
	struct pub_topic *t;
	struct timespec ts;
	zmq_msg_t msg;
	char *text = NULL;
	int rc = -1;

	if (obj == NULL || !json_is_object(obj) ||
	    (t = pub_topic(p, topic)) == NULL) {
		p->dropped++;
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	json_object_set_new(obj, "seq", json_integer((json_int_t)++t->seq));
	json_object_set_new(obj, "ts", json_real((double)ts.tv_sec +
	    (double)ts.tv_nsec / 1e9));
	json_object_set_new(obj, "schema", json_integer(PUB_SCHEMA));
	json_object_set_new(obj, "machine", json_string(p->machine_id));
	text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(16));
	if (text == NULL) {
		p->dropped++;
		goto out;
	}
	if (zmq_send(p->sock, topic, strlen(topic), ZMQ_SNDMORE |
	    ZMQ_DONTWAIT) < 0) {
		p->dropped++;
		goto out;
	}
	/* The text is handed over without a copy; libzmq frees it. */
	if (zmq_msg_init_data(&msg, text, strlen(text), pub_free_text,
	    NULL) != 0) {
		/* The topic frame went out alone; end the message empty so
		 * the socket stays in step. */
		zmq_send(p->sock, "", 0, ZMQ_DONTWAIT);
		p->dropped++;
		goto out;
	}
	text = NULL;
	if (zmq_msg_send(&msg, p->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&msg);
		p->dropped++;
		goto out;
	}
	rc = 0;
out:
	free(text);
	json_decref(obj);
	return rc;
}

uint64_t
pub_dropped(const struct pub *p)
{
	return p->dropped;
}

int
pub_reload_keys(struct pub *p, char *err, size_t errlen)
{
	if (p->zap == NULL)
		return 0;
	return zap_set_domain(p->zap, ZAP_DOMAIN_STATUS, p->keys_dir, err,
	    errlen);
}
