/*
 * libFuzzer target for the journal replay (daemon/journal.h): after a
 * crash or a power loss, this is what decides which dots went into the skin
 * and so which may never be delivered again. A journal on disk can be torn,
 * truncated, half-written or damaged by the disk, so replay must survive any
 * bytes and must never turn a delivered dot back into a pending one.
 *
 * Each input is replayed twice from a temporary file: as it is (the
 * checksums almost never match, which exercises the damage and torn-record
 * paths), and "sealed", with every complete line's checksum recomputed the
 * way journal.c writes it (an existing " #xxxxxxxx" tail replaced), so that
 * the fuzzer reaches the header and record parsers. Checks besides the
 * sanitizers:
 *
 *  - a failed replay says why, and leaves nothing allocated;
 *  - every fate is a known value, and a replay that found damage in the
 *    middle leaves no dot pending (it cannot know which went out);
 *  - in the sealed replay, every dot with a well-formed done record ends
 *    done: no later record can make it deliverable again.
 *
 * Seeds: tests/fuzz/corpus/journal/.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/journal.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "invariant failed at line %d: %s\n",  \
			    __LINE__, #c);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

/* The record checksum as journal.c computes it (FNV-1a 32 of the text
 * before " #"): the format's definition, repeated here on purpose. */
static uint32_t
record_crc(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static const char *
temp_path(void)
{
	static char path[64];
	int fd;

	if (path[0] != '\0')
		return path;
	snprintf(path, sizeof(path), "/tmp/fuzz_journal.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		abort();
	close(fd);
	return path;
}

static void
write_file(const char *path, const char *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

/* data with every newline-terminated line's checksum made right; a last
 * line without a newline is left as it is (a torn record). */
static char *
seal(const uint8_t *data, size_t size, size_t *outlen)
{
	char *out = malloc(size + (size + 1) * 11 + 1);
	size_t pos = 0, n = 0;

	if (out == NULL)
		return NULL;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len;
		if (nl == NULL) {
			memcpy(out + n, data + pos, size - pos);
			n += size - pos;
			break;
		}
		len = (size_t)(nl - (data + pos));
		if (len >= 10 && data[pos + len - 10] == ' ' &&
		    data[pos + len - 9] == '#')
			len -= 10;
		memcpy(out + n, data + pos, len);
		if (len > 0)
			n += len + (size_t)sprintf(out + n + len, " #%08x",
			    record_crc(out + n, len));
		out[n++] = '\n';
		pos = (size_t)(nl - data) + 1;
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

static void
check_replay(const struct journal_replay *r, int rc, const char *err)
{
	if (rc != 0) {
		CHECK(err[0] != '\0');
		CHECK(r->fate == NULL);
		return;
	}
	CHECK(r->fate != NULL);
	for (uint32_t i = 0; i < r->h.dots; i++) {
		CHECK(r->fate[i] <= JF_ACKED);
		CHECK(r->fate[i] != JF_SENT);
		if (r->damaged > 0)
			CHECK(r->fate[i] != JF_PENDING);
	}
	CHECK(memchr(r->h.format, '\0', sizeof(r->h.format)) != NULL);
	CHECK(memchr(r->h.machine, '\0', sizeof(r->h.machine)) != NULL);
	CHECK(memchr(r->end_how, '\0', sizeof(r->end_how)) != NULL);
}

/* Every well-formed "done <index> <id>" of the sealed text ends done. */
static void
check_done_kept(const char *text, size_t len, const struct journal_replay *r)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		uint32_t index;
		int64_t id;
		char tail[2];
		if (nl == NULL)
			break;
		if (p != text && nl - p > 15 && strncmp(p, "done ", 5) == 0 &&
		    memchr(p, '\0', (size_t)(nl - p)) == NULL) {
			char line[512];
			size_t l = (size_t)(nl - p) - 10;
			if (l < sizeof(line)) {
				memcpy(line, p, l);
				line[l] = '\0';
				// NOLINTNEXTLINE(cert-err34-c): as journal.c
				if (sscanf(line, "done %" SCNu32 " %" SCNd64
				    "%1s", &index, &id, tail) >= 2 &&
				    index < r->h.dots && line[5] >= '0' &&
				    line[5] <= '9')
					CHECK(r->fate[index] == JF_DONE);
			}
		}
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_replay r;
	const char *path = temp_path();
	char err[256], *sealed;
	size_t slen;
	int rc;

	write_file(path, (const char *)data, size);
	err[0] = '\0';
	rc = journal_replay(path, &r, err, sizeof(err));
	check_replay(&r, rc, err);
	journal_replay_free(&r);

	if ((sealed = seal(data, size, &slen)) == NULL)
		return 0;
	write_file(path, sealed, slen);
	err[0] = '\0';
	rc = journal_replay(path, &r, err, sizeof(err));
	check_replay(&r, rc, err);
	if (rc == 0)
		check_done_kept(sealed, slen, &r);
	journal_replay_free(&r);
	free(sealed);
	return 0;
}
