/*
 * Fault spec parser and the seeded generator (see fault.h). Specs are short
 * and come from a trusted command line, but a typo must still be an error
 * that names the item rather than a fault silently not injected.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/fault.h"

void
fault_init(struct fault_set *fs, uint64_t seed)
{
	memset(fs, 0, sizeof(*fs));
	fs->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
}

double
fault_rand(struct fault_set *fs)
{
	/* xorshift64*: enough quality for fault draws, and reproducible. */
	fs->rng ^= fs->rng >> 12;
	fs->rng ^= fs->rng << 25;
	fs->rng ^= fs->rng >> 27;
	return (double)((fs->rng * 2685821657736338717ULL) >> 11) /
	    9007199254740992.0;
}

static int
num(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return (end == s || *end != '\0' || errno != 0 || !isfinite(*v) ||
	    *v < 0) ? -1 : 0;
}

/* Parses key=value pairs of "k=v,k=v" into fe; '@' may start the first. */
static int
params(struct fault_event *fe, char *p, char *err, size_t errlen,
    const char *item)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(p, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		double v;
		if (eq == NULL) {
			snprintf(err, errlen, "fault \"%s\": \"%s\" is not "
			    "key=value", item, tok);
			return -1;
		}
		*eq = '\0';
		if (num(eq + 1, &v) < 0) {
			snprintf(err, errlen, "fault \"%s\": %s: bad number "
			    "\"%s\"", item, tok, eq + 1);
			return -1;
		}
		if (strcmp(tok, "t") == 0)
			fe->t_s = v;
		else if (strcmp(tok, "lines") == 0 && v >= 1 && v <= 1e15 &&
		    v == floor(v))
			fe->lines = (long)v;
		else if (strcmp(tok, "for") == 0 && fe->kind == FAULT_STALL)
			fe->for_s = v;
		else if (strcmp(tok, "code") == 0 && fe->kind == FAULT_ALARM &&
		    v >= 1 && v <= 10 && v == floor(v))
			fe->code = (int)v;
		else {
			snprintf(err, errlen, "fault \"%s\": unexpected or "
			    "out-of-range parameter \"%s\"", item, tok);
			return -1;
		}
	}
	return 0;
}

static int
item(struct fault_set *fs, char *it, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum fault_kind kind;
	} kinds[] = {
		{"close", FAULT_CLOSE}, {"stall", FAULT_STALL},
		{"reset", FAULT_RESET}, {"alarm", FAULT_ALARM},
	};
	char copy[256], *at, *eq;
	double v;
	size_t i;

	snprintf(copy, sizeof(copy), "%s", it);
	if (strcmp(it, "noreply-status-in-alarm") == 0) {
		fs->noreply_status_in_alarm = true;
		return 0;
	}
	at = strchr(it, '@');
	if (at == NULL && (eq = strchr(it, '=')) != NULL) {
		*eq = '\0';
		if (num(eq + 1, &v) < 0) {
			snprintf(err, errlen, "fault \"%s\": bad number", copy);
			return -1;
		}
		if (strcmp(it, "slow") == 0) {
			fs->slow_s = v / 1000.0;
			return 0;
		}
		if (v > 1) {
			snprintf(err, errlen, "fault \"%s\": a probability is "
			    "between 0 and 1", copy);
			return -1;
		}
		if (strcmp(it, "drop-rx") == 0)
			fs->drop_rx = v;
		else if (strcmp(it, "corrupt-rx") == 0)
			fs->corrupt_rx = v;
		else if (strcmp(it, "drop-tx") == 0)
			fs->drop_tx = v;
		else {
			snprintf(err, errlen, "fault \"%s\": unknown kind", copy);
			return -1;
		}
		return 0;
	}
	if (at == NULL) {
		snprintf(err, errlen, "fault \"%s\": unknown kind (expected "
		    "KIND@t=T..., KIND@lines=N, drop-rx=P, corrupt-rx=P, "
		    "drop-tx=P, slow=MS, noreply-status-in-alarm)", copy);
		return -1;
	}
	*at = '\0';
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(it, kinds[i].name) == 0)
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0])) {
		snprintf(err, errlen, "fault \"%s\": unknown kind \"%s\"", copy,
		    it);
		return -1;
	}
	if (fs->nev >= FAULT_MAX) {
		snprintf(err, errlen, "fault \"%s\": more than %d timed faults",
		    copy, FAULT_MAX);
		return -1;
	}
	struct fault_event fe = {.kind = kinds[i].kind, .t_s = -1, .code = 1};
	if (params(&fe, at + 1, err, errlen, copy) < 0)
		return -1;
	if (fe.t_s < 0 && fe.lines == 0) {
		snprintf(err, errlen, "fault \"%s\": needs t=T or lines=N",
		    copy);
		return -1;
	}
	if (fe.kind == FAULT_STALL && fe.for_s <= 0) {
		snprintf(err, errlen, "fault \"%s\": needs for=S > 0", copy);
		return -1;
	}
	fs->ev[fs->nev++] = fe;
	return 0;
}

int
fault_parse(struct fault_set *fs, const char *spec, char *err, size_t errlen)
{
	char buf[1024], *tok, *save = NULL;

	if (spec[0] == '@') {
		FILE *f = fopen(spec + 1, "r");
		int lineno = 0;
		if (f == NULL) {
			snprintf(err, errlen, "%s: %s", spec + 1,
			    strerror(errno));
			return -1;
		}
		while (fgets(buf, sizeof(buf), f) != NULL) {
			char e2[256];
			buf[strcspn(buf, "#\r\n")] = '\0';
			lineno++;
			if (buf[strspn(buf, " \t")] == '\0')
				continue;
			if (fault_parse(fs, buf + strspn(buf, " \t"), e2,
			    sizeof(e2)) < 0) {
				snprintf(err, errlen, "%s:%d: %s", spec + 1,
				    lineno, e2);
				fclose(f);
				return -1;
			}
		}
		fclose(f);
		return 0;
	}
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "fault spec too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, "; \t", &save); tok != NULL;
	    tok = strtok_r(NULL, "; \t", &save))
		if (item(fs, tok, err, errlen) < 0)
			return -1;
	return 0;
}
