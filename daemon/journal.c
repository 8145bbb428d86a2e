/*
 * The session journal (see journal.h for the format). Records are short
 * text lines written with one write() each and closed by a checksum, so the
 * only damage a crash can do is a torn last line, which replay detects and
 * ignores. Durability comes from fdatasync(): every record but done is
 * synced before its function returns (sent before its plunge goes out);
 * done is written at once and synced with the next synced record or by
 * journal_commit(), so that confirming a dot never puts a disk flush between
 * the controller's answer and the next line (see journal.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "daemon/journal.h"

/* The largest planner.max_dots the configuration accepts. */
#define JOURNAL_MAX_DOTS 100000000u

struct journal {
	int fd;
	char path[512];
	bool unsynced;          /* a record was written and not yet synced */
};

#define FNV64_BASIS 1469598103934665603ULL

/* FNV-1a 64 of buf, continued from h (FNV64_BASIS for a start). */
static uint64_t
hash_more(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

uint64_t
journal_hash(const void *buf, size_t len)
{
	return hash_more(FNV64_BASIS, buf, len);
}

static uint32_t
crc(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
journal_commit(struct journal *j)
{
	if (j == NULL || j->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (!j->unsynced)
		return 0;
	if (fdatasync(j->fd) != 0)
		return -1;
	j->unsynced = false;
	return 0;
}

bool
journal_unsynced(const struct journal *j)
{
	return j != NULL && j->unsynced;
}

static int __attribute__((format(printf, 3, 4)))
append(struct journal *j, int sync, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n, m;

	if (j == NULL || j->fd < 0) {
		errno = EBADF;
		return -1;
	}
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 16, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 16) {
		errno = EOVERFLOW;
		return -1;
	}
	m = snprintf(line + n, sizeof(line) - (size_t)n, " #%08x\n",
	    crc(line, (size_t)n));
	if (write_all(j->fd, line, (size_t)n + (size_t)m) != 0)
		return -1;
	j->unsynced = true;
	if (sync)
		return journal_commit(j);
	return 0;
}

static int
mkdir_p(const char *dir)
{
	char tmp[512];
	char *p;

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

#define COPY_CHUNK 65536

/*
 * Writes the plan copy of a new journal to the open file pfd: plan_text when
 * given, else the file src read in chunks (the daemon keeps no copy of a
 * plan file's bytes), whose hash must be h->plan_hash: the file must still
 * hold exactly the bytes that were loaded and checked. 0, or -1 with err.
 */
static int
write_plan_copy(int pfd, const char *copy_path, const struct journal_header *h,
    const char *plan_text, size_t plan_len, const char *src, char *err,
    size_t errlen)
{
	char *buf = NULL;
	uint64_t hash = FNV64_BASIS;
	ssize_t n;
	int sfd = -1, rc = -1;

	if (plan_text != NULL) {
		if (write_all(pfd, plan_text, plan_len) != 0)
			goto io;
		return 0;
	}
	if ((sfd = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
		goto done;
	}
	if ((buf = malloc(COPY_CHUNK)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	while ((n = read(sfd, buf, COPY_CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", src, strerror(errno));
			goto done;
		}
		hash = hash_more(hash, buf, (size_t)n);
		if (write_all(pfd, buf, (size_t)n) != 0)
			goto io;
	}
	if (hash != h->plan_hash) {
		snprintf(err, errlen, "%s changed since it was loaded (load it "
		    "again)", src);
		goto done;
	}
	rc = 0;
	goto done;
io:
	snprintf(err, errlen, "%s: %s", copy_path, strerror(errno));
done:
	if (sfd >= 0)
		close(sfd);
	free(buf);
	return rc;
}

static struct journal *
create(const char *dir, const struct journal_header *h,
    const char *plan_text, size_t plan_len, const char *plan_src, char *err,
    size_t errlen)
{
	struct journal *j = NULL;
	char base[400], plan_path[520];
	struct timeval tv;
	struct tm tm;
	char stamp[32];
	int pfd = -1;

	if (mkdir_p(dir) != 0) {
		snprintf(err, errlen, "journal directory %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if (snprintf(base, sizeof(base), "%s/%s.%06ld-%016" PRIx64, dir, stamp,
	    (long)tv.tv_usec, h->plan_hash) >= (int)sizeof(base)) {
		snprintf(err, errlen, "journal directory name too long");
		goto fail;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	j->fd = -1;
	snprintf(j->path, sizeof(j->path), "%s.journal", base);
	snprintf(plan_path, sizeof(plan_path), "%s.plan", base);

	/* The plan copy first: a journal must never name a missing plan. */
	pfd = open(plan_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (pfd < 0) {
		snprintf(err, errlen, "%s: %s", plan_path, strerror(errno));
		goto fail;
	}
	if (write_plan_copy(pfd, plan_path, h, plan_text, plan_len, plan_src,
	    err, errlen) != 0) {
		close(pfd);
		pfd = -1;
		unlink(plan_path);
		goto fail;
	}
	if (fsync(pfd) != 0) {
		snprintf(err, errlen, "%s: %s", plan_path, strerror(errno));
		goto fail;
	}
	close(pfd);
	pfd = -1;

	j->fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND |
	    O_CLOEXEC, 0640);
	if (j->fd < 0) {
		snprintf(err, errlen, "%s: %s", j->path, strerror(errno));
		goto fail;
	}
	if (append(j, 1, "smpd-journal 1 plan=%016" PRIx64 " dots=%" PRIu32
	    " config=%016" PRIx64 " format=%s started=%" PRId64 " machine=%s",
	    h->plan_hash, h->dots, h->config_digest, h->format, h->started,
	    h->machine[0] ? h->machine : "-") != 0) {
		snprintf(err, errlen, "%s: %s", j->path, strerror(errno));
		goto fail;
	}
	sync_dir(dir);
	return j;
fail:
	if (pfd >= 0)
		close(pfd);
	if (j != NULL && j->fd >= 0) {
		close(j->fd);
		unlink(j->path);
	}
	free(j);
	return NULL;
}

struct journal *
journal_create(const char *dir, const struct journal_header *h,
    const char *plan_text, size_t plan_len, char *err, size_t errlen)
{
	return create(dir, h, plan_text, plan_len, NULL, err, errlen);
}

struct journal *
journal_create_from(const char *dir, const struct journal_header *h,
    const char *plan_path, char *err, size_t errlen)
{
	return create(dir, h, NULL, 0, plan_path, err, errlen);
}

static int check_line(const char *line, size_t len);

struct journal *
journal_reopen(const char *path, char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (j->fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(j);
		return NULL;
	}
	/* A torn last record must not glue itself to the next one, nor turn
	 * into "damage in the middle" once records follow it: cut the file
	 * back to the end of its last valid record. */
	{
		char *buf, *p, *nl;
		size_t len, good_end = 0;

		if ((buf = journal_read_file(path, &len, err, errlen)) == NULL) {
			close(j->fd);
			free(j);
			return NULL;
		}
		for (p = buf; p < buf + len; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(buf + len - p));
			if (nl == NULL)
				break;
			if (nl == p || check_line(p, (size_t)(nl - p)) >= 0)
				good_end = (size_t)(nl + 1 - buf);
		}
		free(buf);
		if (good_end < len && (ftruncate(j->fd, (off_t)good_end) != 0 ||
		    fdatasync(j->fd) != 0))
			goto fail;
	}
	return j;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	close(j->fd);
	free(j);
	return NULL;
}

void
journal_close(struct journal **jp)
{
	if (jp == NULL || *jp == NULL)
		return;
	if ((*jp)->fd >= 0) {
		(void)fdatasync((*jp)->fd);
		close((*jp)->fd);
	}
	free(*jp);
	*jp = NULL;
}

const char *
journal_path(const struct journal *j)
{
	return j->path;
}

int
journal_origin(struct journal *j, const double wco[3])
{
	return append(j, 1, "origin %.4f %.4f %.4f", wco[0], wco[1], wco[2]);
}

int
journal_sent(struct journal *j, uint32_t index, int64_t id)
{
	return append(j, 1, "sent %" PRIu32 " %" PRId64, index, id);
}

int
journal_done(struct journal *j, uint32_t index, int64_t id, double t_s)
{
	return append(j, 0, "done %" PRIu32 " %" PRId64 " %.3f", index, id,
	    t_s);
}

int
journal_uncertain(struct journal *j, uint32_t index, int64_t id)
{
	return append(j, 1, "uncertain %" PRIu32 " %" PRId64, index, id);
}

int
journal_ack(struct journal *j, uint32_t index, int64_t id)
{
	return append(j, 1, "ack %" PRIu32 " %" PRId64, index, id);
}

int
journal_redo(struct journal *j, uint32_t index, int64_t id)
{
	return append(j, 1, "redo %" PRIu32 " %" PRId64, index, id);
}

int
journal_end(struct journal *j, const char *how, size_t delivered,
    size_t uncertain)
{
	return append(j, 1, "end %s %zu %zu", how, delivered, uncertain);
}

char *
journal_read_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *buf = NULL;
	long size;

	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if ((buf = malloc((size_t)size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		snprintf(err, errlen, "%s: read error", path);
		goto fail;
	}
	buf[size] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)size;
	return buf;
fail:
	if (f != NULL)
		fclose(f);
	free(buf);
	return NULL;
}

/* Splits "content #crc" and checks it; returns the content length or -1. */
static int
check_line(const char *line, size_t len)
{
	unsigned int want;
	char *end;

	if (len < 11 || line[len - 10] != ' ' || line[len - 9] != '#')
		return -1;
	want = (unsigned int)strtoul(line + len - 8, &end, 16);
	if (end != line + len)
		return -1;
	if (crc(line, len - 10) != want)
		return -1;
	return (int)(len - 10);
}

static int
parse_header(const char *s, struct journal_header *h)
{
	char fmt[8], machine[64];
	uint64_t plan, cfg;
	uint32_t dots;
	int64_t started;

	/* The journal is this program's own checksummed record (each line's
	 * CRC was checked before it gets here), not outside input: sscanf's
	 * missing overflow report cannot be reached by a valid line. */
	// NOLINTNEXTLINE(cert-err34-c)
	if (sscanf(s, "smpd-journal 1 plan=%" SCNx64 " dots=%" SCNu32
	    " config=%" SCNx64 " format=%7s started=%" SCNd64 " machine=%63s",
	    &plan, &dots, &cfg, fmt, &started, machine) != 6)
		return -1;
	/* Never more dots than a plan may have (planner.max_dots is at most
	 * 1e8): replay allocates one fate per dot, and a header damaged into
	 * "dots=4294967295" that still checksums must not cost 4 GB. */
	if (dots > JOURNAL_MAX_DOTS)
		return -1;
	memset(h, 0, sizeof(*h));
	h->plan_hash = plan;
	h->dots = dots;
	h->config_digest = cfg;
	snprintf(h->format, sizeof(h->format), "%s", fmt);
	snprintf(h->machine, sizeof(h->machine), "%s", machine);
	h->started = started;
	return 0;
}

static int
apply(struct journal_replay *r, const char *s)
{
	char kind[16];
	uint32_t index;
	int64_t id;

	if (strncmp(s, "origin ", 7) == 0) {
		// NOLINTNEXTLINE(cert-err34-c): checksummed own record
		if (sscanf(s + 7, "%lf %lf %lf", &r->origin[0], &r->origin[1],
		    &r->origin[2]) != 3)
			return -1;
		r->has_origin = true;
		return 0;
	}
	if (strncmp(s, "end ", 4) == 0) {
		if (sscanf(s + 4, "%15s", r->end_how) != 1)
			return -1;
		r->ended = true;
		return 0;
	}
	// NOLINTNEXTLINE(cert-err34-c): checksummed own record
	if (sscanf(s, "%15s %" SCNu32 " %" SCNd64, kind, &index, &id) != 3)
		return -1;
	if (index >= r->h.dots)
		return -1;
	if (strcmp(kind, "sent") == 0) {
		/* A dot confirmed stays confirmed; sent never demotes it. */
		if (r->fate[index] != JF_DONE)
			r->fate[index] = JF_SENT;
	} else if (strcmp(kind, "done") == 0)
		r->fate[index] = JF_DONE;
	else if (strcmp(kind, "uncertain") == 0) {
		if (r->fate[index] != JF_DONE)
			r->fate[index] = JF_UNCERTAIN;
	} else if (strcmp(kind, "ack") == 0) {
		if (r->fate[index] != JF_DONE)
			r->fate[index] = JF_ACKED;
	} else if (strcmp(kind, "redo") == 0) {
		if (r->fate[index] != JF_DONE)
			r->fate[index] = JF_PENDING;
	} else
		return -1;
	return 0;
}

int
journal_replay(const char *path, struct journal_replay *r, char *err,
    size_t errlen)
{
	char *buf = NULL, *p, *nl;
	size_t len, i, lineno = 0;
	int n;

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	len = strlen(path);
	if (len > 8 && strcmp(path + len - 8, ".journal") == 0)
		snprintf(r->plan_path, sizeof(r->plan_path), "%.*s.plan",
		    (int)(len - 8), path);
	if ((buf = journal_read_file(path, &len, err, errlen)) == NULL)
		goto fail;
	for (p = buf; p < buf + len; p = nl + 1) {
		size_t l;

		nl = memchr(p, '\n', (size_t)(buf + len - p));
		if (nl == NULL) {
			/* No newline: a torn last record, whatever it says. */
			if (buf + len - p > 0)
				r->torn = true;
			break;
		}
		l = (size_t)(nl - p);
		lineno++;
		if (l == 0)
			continue;        /* journal_reopen's separator */
		n = check_line(p, l);
		if (n >= 0)
			p[n] = '\0';
		if (r->fate == NULL) {
			if (n < 0 || parse_header(p, &r->h) != 0) {
				snprintf(err, errlen,
				    "%s:%zu: not an smpd journal header", path,
				    lineno);
				goto fail;
			}
			if ((r->fate = calloc(r->h.dots ? r->h.dots : 1,
			    1)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			continue;
		}
		if (n < 0 || apply(r, p) != 0) {
			/* The last line may be torn; anything earlier is
			 * damage. Decide once the whole file is read. */
			if (nl + 1 < buf + len)
				r->damaged++;
			else
				r->torn = true;
			continue;
		}
		r->records++;
	}
	if (r->fate == NULL) {
		snprintf(err, errlen, "%s: empty journal", path);
		goto fail;
	}
	for (i = 0; i < r->h.dots; i++) {
		if (r->fate[i] == JF_SENT)
			r->fate[i] = JF_UNCERTAIN;
		/* Damage in the middle: trust only what is known done. */
		if (r->damaged > 0 && r->fate[i] == JF_PENDING)
			r->fate[i] = JF_UNCERTAIN;
	}
	free(buf);
	return 0;
fail:
	free(buf);
	journal_replay_free(r);
	return -1;
}

void
journal_replay_free(struct journal_replay *r)
{
	free(r->fate);
	r->fate = NULL;
}

int
journal_find_open(const char *dir, char *path, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[256] = "";
	char full[800];
	struct journal_replay r;
	char err[256];

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 9 || strcmp(de->d_name + l - 8, ".journal") != 0)
			continue;
		if (strlen(de->d_name) < sizeof(best) &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	if (best[0] == '\0')
		return 0;
	snprintf(full, sizeof(full), "%s/%s", dir, best);
	if (journal_replay(full, &r, err, sizeof(err)) != 0)
		return -1;
	journal_replay_free(&r);
	if (r.ended)
		return 0;
	snprintf(path, len, "%s", full);
	return 1;
}
