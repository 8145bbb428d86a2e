/*
 * CurveZMQ key files and the client allowlist (see keys.h for the format).
 * Parsing is strict and names the file and line of any fault: an allowlist is
 * a security boundary, so a damaged file fails the whole load (the caller
 * keeps its previous list) instead of being skipped in silence.
 */
#include "daemon/keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define KEYS_FILE_MAX 4096   /* bytes; a key file is ~200 */
#define KEYS_LIST_MAX 4096   /* allowed clients, far above any clinic */

struct keys_entry {
	uint8_t key[KEYS_BIN_LEN];
	char name[KEYS_NAME_MAX];
};

struct keys_list {
	struct keys_entry *v;
	size_t n;
};

static bool
keys_z85_valid(const char *z85)
{
	uint8_t bin[KEYS_BIN_LEN];

	if (strlen(z85) != KEYS_Z85_LEN)
		return false;
	return zmq_z85_decode(bin, z85) != NULL;
}

/* Parses one line 'name = "value"' (spaces optional, quotes optional). */
static int
keys_parse_line(char *line, char **name, char **value)
{
	char *p = line, *eq, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	eq = strchr(p, '=');
	if (eq == NULL)
		return -1;
	end = eq;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	*name = p;
	p = eq + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r'))
		end--;
	*end = '\0';
	if (*p == '"') {
		if (end - p < 2 || end[-1] != '"')
			return -1;
		end[-1] = '\0';
		p++;
	}
	*value = p;
	return 0;
}

int
keys_read(const char *path, char *pub_z85, char *sec_z85, char *err,
    size_t errlen)
{
	char buf[KEYS_FILE_MAX + 1], *line, *next, *name, *value;
	int fd = -1, lineno = 0, rc = -1;
	ssize_t n;
	size_t len = 0;
	bool have_pub = false, have_sec = false;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		if (len >= sizeof(buf) - 1)
			break;
	}
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (len >= KEYS_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes, not a key file",
		    path, KEYS_FILE_MAX);
		goto fail;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: binary data, not a key file", path);
		goto fail;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		char *p;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '\r' || *p == '#')
			continue;
		if (strchr(p, '=') == NULL) {
			/* A bare Z85 key: the public key. */
			char *e = p + strlen(p);
			while (e > p && (e[-1] == '\r' || e[-1] == ' ' ||
			    e[-1] == '\t'))
				*--e = '\0';
			if (have_pub || !keys_z85_valid(p)) {
				snprintf(err, errlen, "%s:%d: expected "
				    "'public-key = \"<40 Z85 characters>\"'",
				    path, lineno);
				goto fail;
			}
			memcpy(pub_z85, p, KEYS_Z85_LEN + 1);
			have_pub = true;
			continue;
		}
		if (keys_parse_line(p, &name, &value) < 0) {
			snprintf(err, errlen, "%s:%d: unbalanced quotes", path,
			    lineno);
			goto fail;
		}
		if (strcmp(name, "public-key") == 0 ||
		    strcmp(name, "secret-key") == 0) {
			bool is_pub = name[0] == 'p';
			if (!keys_z85_valid(value)) {
				snprintf(err, errlen, "%s:%d: %s is not a "
				    "40-character Z85 key", path, lineno, name);
				goto fail;
			}
			if (is_pub ? have_pub : have_sec) {
				snprintf(err, errlen, "%s:%d: %s given twice",
				    path, lineno, name);
				goto fail;
			}
			if (is_pub) {
				memcpy(pub_z85, value, KEYS_Z85_LEN + 1);
				have_pub = true;
			} else {
				if (sec_z85 != NULL)
					memcpy(sec_z85, value, KEYS_Z85_LEN + 1);
				have_sec = true;
			}
		} else {
			snprintf(err, errlen, "%s:%d: unknown key \"%s\" "
			    "(public-key, secret-key)", path, lineno, name);
			goto fail;
		}
	}
	if (!have_pub) {
		snprintf(err, errlen, "%s: no public-key", path);
		goto fail;
	}
	if (sec_z85 != NULL && !have_sec) {
		snprintf(err, errlen, "%s: no secret-key (this is a public key "
		    "file; use the .key file)", path);
		goto fail;
	}
	if (sec_z85 != NULL) {
		/* The pair must match, or the handshake fails obscurely. */
		char derived[KEYS_Z85_LEN + 1];
		if (zmq_curve_public(derived, sec_z85) != 0 ||
		    strcmp(derived, pub_z85) != 0) {
			snprintf(err, errlen, "%s: public-key does not belong "
			    "to secret-key", path);
			goto fail;
		}
	}
	rc = 0;
fail:
	if (fd >= 0)
		close(fd);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int
keys_write_file(const char *path, mode_t mode, const char *text, char *err,
    size_t errlen)
{
	int fd;
	size_t len = strlen(text), off = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* open() applies the umask; the secret must be 0600 whatever it is. */
	if (fchmod(fd, mode) < 0)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(path);
	return -1;
}

int
keys_generate(const char *basename, char *pub_z85, char *err, size_t errlen)
{
	char pub[KEYS_Z85_LEN + 1], sec[KEYS_Z85_LEN + 1];
	char keypath[4096], pubpath[4096], text[512];
	int rc = -1;

	if (snprintf(keypath, sizeof(keypath), "%s.key", basename) >=
	    (int)sizeof(keypath) ||
	    snprintf(pubpath, sizeof(pubpath), "%s.pub", basename) >=
	    (int)sizeof(pubpath)) {
		snprintf(err, errlen, "%s: name too long", basename);
		return -1;
	}
	if (zmq_curve_keypair(pub, sec) != 0) {
		snprintf(err, errlen, "zmq_curve_keypair: %s (libzmq built "
		    "without CURVE?)", zmq_strerror(zmq_errno()));
		return -1;
	}
	snprintf(text, sizeof(text),
	    "# smpd CURVE key pair: keep this file private (0600).\n"
	    "# Give %s.pub to the daemon's client_keys_dir.\n"
	    "public-key = \"%s\"\nsecret-key = \"%s\"\n", basename, pub, sec);
	if (keys_write_file(keypath, 0600, text, err, errlen) < 0)
		goto fail;
	snprintf(text, sizeof(text),
	    "# smpd CURVE public key: safe to share.\npublic-key = \"%s\"\n",
	    pub);
	if (keys_write_file(pubpath, 0644, text, err, errlen) < 0) {
		unlink(keypath);
		goto fail;
	}
	if (pub_z85 != NULL)
		memcpy(pub_z85, pub, sizeof(pub));
	rc = 0;
fail:
	explicit_bzero(sec, sizeof(sec));
	explicit_bzero(text, sizeof(text));
	return rc;
}

static int
keys_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keys_entry *)a)->name,
	    ((const struct keys_entry *)b)->name);
}

struct keys_list *
keys_list_load(const char *dir, char *err, size_t errlen)
{
	struct keys_list *l = NULL;
	DIR *d = NULL;
	struct dirent *de;
	size_t cap = 0;

	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		char path[4096], pub[KEYS_Z85_LEN + 1], *dot;
		struct stat st;
		struct keys_entry *e;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path)) {
			snprintf(err, errlen, "%s/%s: path too long", dir,
			    de->d_name);
			goto fail;
		}
		if (stat(path, &st) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (l->n == KEYS_LIST_MAX) {
			snprintf(err, errlen, "%s: more than %d keys", dir,
			    KEYS_LIST_MAX);
			goto fail;
		}
		if (keys_read(path, pub, NULL, err, errlen) < 0)
			goto fail;
		if (l->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct keys_entry *nv = realloc(l->v,
			    ncap * sizeof(*nv));
			if (nv == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			l->v = nv;
			cap = ncap;
		}
		e = &l->v[l->n];
		zmq_z85_decode(e->key, pub);
		if (strlen(de->d_name) >= sizeof(e->name)) {
			snprintf(err, errlen, "%s: file name longer than %d "
			    "characters", path, KEYS_NAME_MAX - 1);
			goto fail;
		}
		memcpy(e->name, de->d_name, strlen(de->d_name) + 1);
		dot = strrchr(e->name, '.');
		if (dot != NULL && (strcmp(dot, ".pub") == 0 ||
		    strcmp(dot, ".key") == 0))
			*dot = '\0';
		l->n++;
	}
	if (errno != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	closedir(d);
	/* Sorted by name so that logs and duplicates are deterministic. */
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), keys_entry_cmp);
	return l;
fail:
	if (d != NULL)
		closedir(d);
	keys_list_destroy(&l);
	return NULL;
}

void
keys_list_destroy(struct keys_list **lp)
{
	if (lp == NULL || *lp == NULL)
		return;
	free((*lp)->v);
	free(*lp);
	*lp = NULL;
}

size_t
keys_list_count(const struct keys_list *l)
{
	return l != NULL ? l->n : 0;
}

const char *
keys_list_find(const struct keys_list *l, const uint8_t *key)
{
	size_t i;

	if (l == NULL)
		return NULL;
	for (i = 0; i < l->n; i++)
		if (memcmp(l->v[i].key, key, KEYS_BIN_LEN) == 0)
			return l->v[i].name;
	return NULL;
}
