/*
 * The ZAP handler, answered from the daemon's poll loop (see zap.h). The
 * request is read frame by frame with hard bounds (RFC 27 has at most seven
 * frames for CURVE, each short); anything malformed is denied, because a
 * handler that guesses lets strangers in. The allowlist is swapped whole on
 * reload, so a request is always checked against one consistent list.
 */
#include "daemon/zap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon/keys.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_MAX_FRAMES 8
#define ZAP_FRAME_MAX 256
#define ZAP_MAX_DOMAINS 4

struct zap_domain {
	char name[32];
	bool open;                 /* any CURVE client accepted */
	struct keys_list *keys;
};

struct zap {
	void *zctx;
	void *sock;
	int refs;
	uint64_t denied;
	struct zap_domain domains[ZAP_MAX_DOMAINS];
	struct zap *next;
};

/* One handler per context; the daemon has one context, tests may have more. */
static struct zap *zap_all;

struct zap *
zap_get(void *zctx, char *err, size_t errlen)
{
	struct zap *z;
	int linger = 0;

	for (z = zap_all; z != NULL; z = z->next)
		if (z->zctx == zctx) {
			z->refs++;
			return z;
		}
	z = calloc(1, sizeof(*z));
	if (z == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	z->zctx = zctx;
	z->sock = zmq_socket(zctx, ZMQ_REP);
	if (z->sock == NULL) {
		snprintf(err, errlen, "zap socket: %s", zmq_strerror(errno));
		goto fail;
	}
	zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(z->sock, ZAP_ENDPOINT) != 0) {
		snprintf(err, errlen, "zap bind %s: %s", ZAP_ENDPOINT,
		    zmq_strerror(errno));
		goto fail;
	}
	z->refs = 1;
	z->next = zap_all;
	zap_all = z;
	return z;
fail:
	if (z != NULL && z->sock != NULL)
		zmq_close(z->sock);
	free(z);
	return NULL;
}

void
zap_put(struct zap **zp)
{
	struct zap *z, **pp;
	int i;

	if (zp == NULL || *zp == NULL)
		return;
	z = *zp;
	*zp = NULL;
	if (--z->refs > 0)
		return;
	for (pp = &zap_all; *pp != NULL; pp = &(*pp)->next)
		if (*pp == z) {
			*pp = z->next;
			break;
		}
	for (i = 0; i < ZAP_MAX_DOMAINS; i++)
		keys_list_destroy(&z->domains[i].keys);
	zmq_close(z->sock);
	free(z);
}

static struct zap_domain *
zap_find(struct zap *z, const char *domain)
{
	int i;

	for (i = 0; i < ZAP_MAX_DOMAINS; i++)
		if (z->domains[i].name[0] != '\0' &&
		    strcmp(z->domains[i].name, domain) == 0)
			return &z->domains[i];
	return NULL;
}

int
zap_set_domain(struct zap *z, const char *domain, const char *keys_dir,
    char *err, size_t errlen)
{
	struct zap_domain *d;
	struct keys_list *l = NULL;
	int i;

	if (strlen(domain) == 0 || strlen(domain) >= sizeof(d->name)) {
		snprintf(err, errlen, "bad ZAP domain \"%s\"", domain);
		return -1;
	}
	if (keys_dir != NULL && keys_dir[0] != '\0') {
		l = keys_list_load(keys_dir, err, errlen);
		if (l == NULL)
			return -1;
	}
	d = zap_find(z, domain);
	for (i = 0; d == NULL && i < ZAP_MAX_DOMAINS; i++)
		if (z->domains[i].name[0] == '\0') {
			d = &z->domains[i];
			snprintf(d->name, sizeof(d->name), "%s", domain);
		}
	if (d == NULL) {
		keys_list_destroy(&l);
		snprintf(err, errlen, "too many ZAP domains");
		return -1;
	}
	keys_list_destroy(&d->keys);
	d->keys = l;
	d->open = l == NULL;
	return 0;
}

void
zap_remove_domain(struct zap *z, const char *domain)
{
	struct zap_domain *d;

	if (z == NULL || (d = zap_find(z, domain)) == NULL)
		return;
	keys_list_destroy(&d->keys);
	memset(d, 0, sizeof(*d));
}

size_t
zap_domain_count(const struct zap *z, const char *domain)
{
	struct zap_domain *d = zap_find((struct zap *)z, domain);

	return d != NULL ? keys_list_count(d->keys) : 0;
}

void *
zap_socket(struct zap *z)
{
	return z->sock;
}

uint64_t
zap_denied(const struct zap *z)
{
	return z->denied;
}

/* Decides one request. frames[] as in RFC 27: version, request id, domain,
 * address, routing id, mechanism, credentials... Returns the user id
 * (the client's Z85 public key, or "curve" in an open domain) or NULL to
 * deny, with the reason in why. */
static const char *
zap_decide(struct zap *z, uint8_t frames[][ZAP_FRAME_MAX], size_t *lens,
    int n, const char **why)
{
	static char user_z85[KEYS_Z85_LEN + 1];
	char domain[64];
	struct zap_domain *d;
	const char *name;

	if (n < 6 || lens[0] != 3 || memcmp(frames[0], "1.0", 3) != 0) {
		*why = "malformed ZAP request";
		return NULL;
	}
	if (lens[2] >= sizeof(domain)) {
		*why = "unknown domain";
		return NULL;
	}
	memcpy(domain, frames[2], lens[2]);
	domain[lens[2]] = '\0';
	d = zap_find(z, domain);
	if (d == NULL) {
		*why = "unknown domain";
		return NULL;
	}
	if (lens[5] != 5 || memcmp(frames[5], "CURVE", 5) != 0 || n != 7 ||
	    lens[6] != KEYS_BIN_LEN) {
		*why = "CURVE required";
		return NULL;
	}
	if (d->open)
		return "curve";
	name = keys_list_find(d->keys, frames[6]);
	if (name == NULL) {
		*why = "key not allowed";
		return NULL;
	}
	/* The User-Id is the key itself, not its name, so that the socket's
	 * owner can check each message against the list as it is now
	 * (zap_allowed): a key removed and reloaded stops working even on a
	 * connection made before. */
	zmq_z85_encode(user_z85, frames[6], KEYS_BIN_LEN);
	return user_z85;
}

const char *
zap_allowed(const struct zap *z, const char *domain, const char *user_id)
{
	struct zap_domain *d = zap_find((struct zap *)z, domain);
	uint8_t key[KEYS_BIN_LEN];

	if (d == NULL || user_id == NULL)
		return NULL;
	if (d->open)
		return strcmp(user_id, "curve") == 0 ? "curve" : NULL;
	if (strlen(user_id) != KEYS_Z85_LEN ||
	    zmq_z85_decode(key, user_id) == NULL)
		return NULL;
	return keys_list_find(d->keys, key);
}

static int
zap_send(void *sock, const void *buf, size_t len, bool more)
{
	return zmq_send(sock, buf, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

int
zap_handle(struct zap *z)
{
	static uint8_t frames[ZAP_MAX_FRAMES][ZAP_FRAME_MAX];
	size_t lens[ZAP_MAX_FRAMES];
	int answered = 0;

	/* Bounded, so a storm of handshakes cannot hold the loop; the rest
	 * wait for the next poll. */
	while (answered < 64) {
		int n = 0, more = 0, truncated = 0;
		size_t moresz = sizeof(more);
		const char *user, *why = "";

		do {
			uint8_t scratch[ZAP_FRAME_MAX];
			uint8_t *dst = n < ZAP_MAX_FRAMES ? frames[n] : scratch;
			int rc = zmq_recv(z->sock, dst, ZAP_FRAME_MAX,
			    n == 0 ? ZMQ_DONTWAIT : 0);
			if (rc < 0) {
				if (n == 0 && (errno == EAGAIN ||
				    errno == EINTR))
					return answered;
				return -1;
			}
			if (rc > ZAP_FRAME_MAX)
				truncated = 1;
			if (n < ZAP_MAX_FRAMES)
				lens[n] = (size_t)rc > ZAP_FRAME_MAX ?
				    ZAP_FRAME_MAX : (size_t)rc;
			n++;
			if (zmq_getsockopt(z->sock, ZMQ_RCVMORE, &more,
			    &moresz) != 0)
				return -1;
		} while (more);
		if (truncated || n > ZAP_MAX_FRAMES) {
			user = NULL;
			why = "malformed ZAP request";
		} else
			user = zap_decide(z, frames, lens, n, &why);
		if (user == NULL)
			z->denied++;
		/* REP must answer even a malformed request, or it wedges. */
		if (zap_send(z->sock, "1.0", 3, true) < 0 ||
		    zap_send(z->sock, n > 1 ? frames[1] : (uint8_t *)"",
		    n > 1 ? lens[1] : 0, true) < 0 ||
		    zap_send(z->sock, user ? "200" : "400", 3, true) < 0 ||
		    zap_send(z->sock, user ? "OK" : why,
		    strlen(user ? "OK" : why), true) < 0 ||
		    zap_send(z->sock, user ? user : "", user ? strlen(user) : 0,
		    true) < 0 ||
		    zap_send(z->sock, "", 0, false) < 0)
			return -1;
		answered++;
	}
	return answered;
}
