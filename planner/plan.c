/*
 * Dot plans in: the diagnostic list, the plan array, the CSV and JSON readers
 * and the whole-plan validation. Input comes from operators' files and from
 * the network (inline plans through the daemon), so every byte is checked,
 * every finding names its line and column (or JSON path), all findings are
 * listed up to a cap, and a plan is returned only when nothing was wrong:
 * a half-read plan would deliver some dots and silently skip others.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/grid.h"
#include "planner/pconfig.h"
#include "planner/plan.h"
#include "planner/surface.h"

#define MM_PER_IN 25.4
#define DWELL_MAX_MS 60000u  /* a minute at one dot is a mistake, not a plan */
/* Close pairs reported before the spacing check gives up (far more than
 * anyone reads; bounds the time on a plan of dots piled on one spot). */
#define SPACING_MAX_FINDINGS 10000u
/* How far a dot's own z may differ from the height map (mm) before a
 * warning: skin measurement noise, well under a dot's depth. */
#define Z_MAP_TOL_MM 0.1

struct diag_list *
diag_list_new(size_t cap, const char *source)
{
	struct diag_list *dl = calloc(1, sizeof(*dl));

	if (dl == NULL)
		return NULL;
	dl->v = calloc(cap ? cap : 1, sizeof(struct diag));
	if (dl->v == NULL) {
		free(dl);
		return NULL;
	}
	dl->cap = cap;
	snprintf(dl->source, sizeof(dl->source), "%s",
	    source ? source : "<inline>");
	return dl;
}

void
diag_list_destroy(struct diag_list **dlp)
{
	if (dlp == NULL || *dlp == NULL)
		return;
	free((*dlp)->v);
	free(*dlp);
	*dlp = NULL;
}

void
diag_add(struct diag_list *dl, enum diag_severity sev, unsigned line,
    unsigned col, const char *path, const char *fmt, ...)
{
	struct diag *d;
	va_list ap;

	if (dl == NULL)
		return;
	if (sev == DIAG_ERROR)
		dl->errors++;
	else
		dl->warnings++;
	if (dl->n >= dl->cap) {
		dl->dropped++;
		return;
	}
	d = &dl->v[dl->n++];
	d->severity = sev;
	d->line = line;
	d->col = col;
	snprintf(d->path, sizeof(d->path), "%s", path ? path : "");
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
}

const char *
diag_format(const struct diag_list *dl, size_t i, char *buf, size_t len)
{
	const struct diag *d = &dl->v[i];
	const char *sev = d->severity == DIAG_ERROR ? "error" : "warning";

	if (d->path[0] != '\0')
		snprintf(buf, len, "%s: %s: %s: %s", dl->source, d->path, sev,
		    d->msg);
	else if (d->line > 0 && d->col > 0)
		snprintf(buf, len, "%s:%u:%u: %s: %s", dl->source, d->line,
		    d->col, sev, d->msg);
	else if (d->line > 0)
		snprintf(buf, len, "%s:%u: %s: %s", dl->source, d->line, sev,
		    d->msg);
	else
		snprintf(buf, len, "%s: %s: %s", dl->source, sev, d->msg);
	return buf;
}

struct plan *
plan_new(const char *source)
{
	struct plan *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->source = strdup(source ? source : "<inline>");
	if (p->source == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void
plan_destroy(struct plan **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	free((*pp)->dots);
	free((*pp)->source);
	free(*pp);
	*pp = NULL;
}

/* Gives back the unused tail of the dots' array (up to half of it, from the
 * doubling in plan_push): the plan is held for a whole session. */
static void
plan_fit(struct plan *p)
{
	struct dot *nd;

	if (p->n == 0 || p->n == p->cap)
		return;
	if ((nd = realloc(p->dots, p->n * sizeof(*nd))) != NULL) {
		p->dots = nd;
		p->cap = p->n;
	}
}

int
plan_push(struct plan *p, const struct dot *d)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct dot *nd = realloc(p->dots, cap * sizeof(*nd));
		if (nd == NULL)
			return -1;
		p->dots = nd;
		p->cap = cap;
	}
	p->dots[p->n++] = *d;
	return 0;
}

/* ---- CSV ---- */

enum col_kind { COL_X, COL_Y, COL_Z, COL_DEPTH, COL_DWELL, COL_ID, COL_N };
static const char *col_names[COL_N] = { "x", "y", "z", "depth", "dwell_ms",
    "id" };

/* A field's text trimmed of blanks, with its 1-based column. */
struct field {
	const char *s;
	size_t len;
	unsigned col;
};

/* Parses a whole field as a finite double. 0 or -1. */
static int
parse_double(const struct field *f, double *v)
{
	char tmp[64], *end;

	if (f->len == 0 || f->len >= sizeof(tmp))
		return -1;
	memcpy(tmp, f->s, f->len);
	tmp[f->len] = '\0';
	errno = 0;
	*v = strtod(tmp, &end);
	if (*end != '\0' || end == tmp)
		return -1;
	return 0;
}

static int
parse_int(const struct field *f, long long *v)
{
	char tmp[32], *end;

	if (f->len == 0 || f->len >= sizeof(tmp))
		return -1;
	memcpy(tmp, f->s, f->len);
	tmp[f->len] = '\0';
	errno = 0;
	*v = strtoll(tmp, &end, 10);
	if (*end != '\0' || end == tmp || errno == ERANGE)
		return -1;
	return 0;
}

/* Splits line[0..len) at commas into at most max fields. Returns the count
 * (which may exceed max: the extra fields are not stored). */
static size_t
split_fields(const char *line, size_t len, struct field *f, size_t max)
{
	size_t n = 0, i = 0;

	for (;;) {
		size_t a = i, b;
		while (i < len && line[i] != ',')
			i++;
		b = i;
		while (a < b && (line[a] == ' ' || line[a] == '\t'))
			a++;
		while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
			b--;
		if (n < max) {
			f[n].s = line + a;
			f[n].len = b - a;
			f[n].col = (unsigned)a + 1;
		}
		n++;
		if (i >= len)
			break;
		i++;
	}
	return n;
}

/* A CSV dot's depth against the hard maximum, at the depth column. */
static void
check_dot_values(struct dot *d, const struct planner_config *cfg,
    struct diag_list *dl, unsigned line, const unsigned *cols)
{
	if (!pconfig_depth_ok(cfg, d->depth_mm))
		diag_add(dl, DIAG_ERROR, line, cols[COL_DEPTH] ?
		    cols[COL_DEPTH] : 1, NULL, "depth %g mm is not in [%g, %g] "
		    "(needle.min_depth_mm, max_depth_mm)", d->depth_mm,
		    cfg->min_depth_mm, cfg->max_depth_mm);
}

/* Checks a number is finite and records an error at its position. */
static int
want_finite(double v, struct diag_list *dl, unsigned line, unsigned col,
    const char *path, const char *name)
{
	if (isfinite(v))
		return 0;
	diag_add(dl, DIAG_ERROR, line, col, path, "%s is not a finite number",
	    name);
	return -1;
}

static int
find_units(const char *line, size_t len, double *scale, struct diag_list *dl,
    unsigned lineno)
{
	/* "# units: in" or "# units: mm" in a comment before the header */
	const char *u = NULL;
	size_t i;

	for (i = 0; i + 6 <= len; i++)
		if (strncmp(line + i, "units:", 6) == 0) {
			u = line + i + 6;
			break;
		}
	if (u == NULL)
		return 0;
	while (u < line + len && (*u == ' ' || *u == '\t'))
		u++;
	if (line + len - u >= 2 && strncmp(u, "mm", 2) == 0)
		*scale = 1;
	else if (line + len - u >= 2 && strncmp(u, "in", 2) == 0)
		*scale = MM_PER_IN;
	else {
		diag_add(dl, DIAG_ERROR, lineno, (unsigned)(u - line) + 1, NULL,
		    "units must be mm or in");
		return -1;
	}
	return 0;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t k, i;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		k = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;          /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;          /* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		k = 4;
		if (s[0] == 0xf0)
			lo = 0x90;          /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;          /* past U+10FFFF */
	} else
		return 0;
	if (n < k || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return k;
}

/* The first byte that is not text (NUL, control other than tab/CR/LF, or
 * not well-formed UTF-8: a binary file or a plan saved in a legacy code
 * page), reported with its position. Columns count characters. Returns 0
 * if the buffer is text. */
static int
check_text(const char *buf, size_t len, struct diag_list *dl)
{
	const unsigned char *u = (const unsigned char *)buf;
	unsigned line = 1, col = 1;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = u[i];
		if (c == '\n') {
			line++;
			col = 1;
			continue;
		}
		if (c >= 0x80) {
			size_t k = utf8_len(u + i, len - i);
			if (k == 0) {
				diag_add(dl, DIAG_ERROR, line, col, NULL,
				    "not a text file (byte 0x%02x is not "
				    "valid UTF-8)", c);
				return -1;
			}
			i += k - 1;
			col++;
			continue;
		}
		if (c == 0 || (c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
			diag_add(dl, DIAG_ERROR, line, col, NULL,
			    "not a text file (byte 0x%02x)", c);
			return -1;
		}
		col++;
	}
	return 0;
}

struct plan *
plan_read_csv_mem(const char *buf, size_t len, const char *source,
    const struct planner_config *cfg, struct diag_list *dl)
{
	struct plan *p = NULL;
	int colmap[16];         /* field index -> column kind */
	int have[COL_N];
	size_t ncols = 0, pos = 0, errs0 = dl->errors;
	unsigned lineno = 0;
	double scale = 1;
	bool header = false;

	p = plan_new(source);
	if (p == NULL)
		goto fail;
	p->format = PLAN_FORMAT_CSV;
	for (int k = 0; k < COL_N; k++)
		have[k] = -1;
	while (pos < len) {
		const char *line = buf + pos;
		size_t l = 0, i = 0;
		struct field f[16];
		size_t nf;

		while (pos + l < len && line[l] != '\n')
			l++;
		pos += l + 1;
		lineno++;
		if (l > 0 && line[l - 1] == '\r')
			l--;
		while (i < l && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == l)
			continue;
		if (line[i] == '#') {
			if (!header)
				find_units(line, l, &scale, dl, lineno);
			continue;
		}
		nf = split_fields(line, l, f, 16);
		if (!header) {
			header = true;
			if (nf > 16) {
				diag_add(dl, DIAG_ERROR, lineno, 1, NULL,
				    "header has %zu columns; at most 6 are "
				    "known", nf);
				goto fail;
			}
			ncols = nf;
			for (size_t j = 0; j < nf; j++) {
				int k;
				colmap[j] = -1;
				for (k = 0; k < COL_N; k++)
					if (f[j].len == strlen(col_names[k]) &&
					    strncasecmp(f[j].s, col_names[k],
					    f[j].len) == 0)
						break;
				if (k == COL_N) {
					diag_add(dl, DIAG_ERROR, lineno,
					    f[j].col, NULL, "unknown column "
					    "\"%.*s\" (known: x, y, depth, z, "
					    "dwell_ms, id)", (int)(f[j].len > 40
					    ? 40 : f[j].len), f[j].s);
					continue;
				}
				if (have[k] >= 0) {
					diag_add(dl, DIAG_ERROR, lineno,
					    f[j].col, NULL, "column %s named "
					    "twice", col_names[k]);
					continue;
				}
				have[k] = (int)j;
				colmap[j] = k;
			}
			if (have[COL_X] < 0)
				diag_add(dl, DIAG_ERROR, lineno, 1, NULL,
				    "header lacks the required column x");
			if (have[COL_Y] < 0)
				diag_add(dl, DIAG_ERROR, lineno, 1, NULL,
				    "header lacks the required column y");
			if (have[COL_DEPTH] < 0 && !(cfg->default_depth_mm > 0))
				diag_add(dl, DIAG_ERROR, lineno, 1, NULL,
				    "header lacks the required column depth "
				    "(needle.default_depth_mm is 0)");
			if (dl->errors > errs0)
				goto fail;
			continue;
		}
		if (nf != ncols) {
			diag_add(dl, DIAG_ERROR, lineno, nf > ncols &&
			    ncols < 16 ? f[ncols].col : (unsigned)l + 1, NULL,
			    "%zu fields where the header has %zu", nf, ncols);
			continue;
		}
		{
			struct dot d;
			unsigned cols[COL_N] = { 0 };
			size_t e0 = dl->errors;

			memset(&d, 0, sizeof(d));
			d.depth_mm = cfg->default_depth_mm;
			d.dwell_ms = cfg->default_dwell_ms;
			d.src_line = lineno;
			d.id = (int64_t)p->n + 1;
			for (size_t j = 0; j < nf; j++) {
				int k = colmap[j];
				double v;
				long long iv;
				cols[k] = f[j].col;
				if (k == COL_ID || k == COL_DWELL) {
					if (parse_int(&f[j], &iv) < 0) {
						diag_add(dl, DIAG_ERROR, lineno,
						    f[j].col, NULL, "%s: "
						    "\"%.*s\" is not an integer",
						    col_names[k], (int)(f[j].len
						    > 30 ? 30 : f[j].len), f[j].s);
						continue;
					}
					if (k == COL_ID) {
						d.id = iv;
						d.flags |= DOT_HAS_ID;
					} else if (iv < 0 || iv > DWELL_MAX_MS) {
						diag_add(dl, DIAG_ERROR, lineno,
						    f[j].col, NULL, "dwell_ms "
						    "%lld is not in [0, %u]",
						    iv, DWELL_MAX_MS);
					} else {
						d.dwell_ms = (uint32_t)iv;
						d.flags |= DOT_HAS_DWELL;
					}
					continue;
				}
				if (parse_double(&f[j], &v) < 0) {
					diag_add(dl, DIAG_ERROR, lineno,
					    f[j].col, NULL, "%s: \"%.*s\" is "
					    "not a number", col_names[k],
					    (int)(f[j].len > 30 ? 30 : f[j].len),
					    f[j].s);
					continue;
				}
				if (want_finite(v, dl, lineno, f[j].col, NULL,
				    col_names[k]) < 0)
					continue;
				v *= scale;
				switch (k) {
				case COL_X: d.x_mm = v; break;
				case COL_Y: d.y_mm = v; break;
				case COL_Z: d.z_mm = v; d.flags |= DOT_HAS_Z;
					break;
				default: d.depth_mm = v; break;
				}
			}
			if (dl->errors == e0)
				check_dot_values(&d, cfg, dl, lineno, cols);
			if (dl->errors > errs0)
				continue;  /* keep reading to list them all */
			if (plan_push(p, &d) < 0) {
				diag_add(dl, DIAG_ERROR, lineno, 0, NULL,
				    "out of memory");
				goto fail;
			}
		}
	}
	if (!header) {
		diag_add(dl, DIAG_ERROR, lineno ? lineno : 1, 0, NULL,
		    "no header line (e.g. \"x,y,depth\")");
		goto fail;
	}
	if (dl->errors > errs0)
		goto fail;
	plan_fit(p);
	return p;
fail:
	plan_destroy(&p);
	return NULL;
}

/* ---- JSON ---- */

static int
json_num(json_t *v, double *out)
{
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return isfinite(*out) ? 0 : -1;
}

/* One dot of a JSON plan into d; errors under path dots[i]. */
static void
json_dot(json_t *o, size_t i, const double *defs, const bool *hasdef,
    double scale, const struct planner_config *cfg, struct dot *d,
    struct diag_list *dl)
{
	const char *key;
	json_t *v;
	char path[64];
	bool seen[COL_N] = { false };

	memset(d, 0, sizeof(*d));
	d->depth_mm = hasdef[COL_DEPTH] ? defs[COL_DEPTH] :
	    cfg->default_depth_mm;
	d->dwell_ms = hasdef[COL_DWELL] ? (uint32_t)defs[COL_DWELL] :
	    cfg->default_dwell_ms;
	if (hasdef[COL_Z]) {
		d->z_mm = defs[COL_Z];
		d->flags |= DOT_HAS_Z;
	}
	d->id = (int64_t)i + 1;
	d->src_line = (uint32_t)i;
	if (!json_is_object(o)) {
		snprintf(path, sizeof(path), "dots[%zu]", i);
		diag_add(dl, DIAG_ERROR, 0, 0, path, "a dot must be an object");
		return;
	}
	json_object_foreach(o, key, v) {
		int k;
		double x;
		for (k = 0; k < COL_N; k++)
			if (strcmp(key, col_names[k]) == 0)
				break;
		snprintf(path, sizeof(path), "dots[%zu].%.40s", i, key);
		if (k == COL_N) {
			diag_add(dl, DIAG_ERROR, 0, 0, path, "unknown field "
			    "(known: x, y, depth, z, dwell_ms, id)");
			continue;
		}
		seen[k] = true;
		if (k == COL_ID || k == COL_DWELL) {
			if (!json_is_integer(v)) {
				diag_add(dl, DIAG_ERROR, 0, 0, path,
				    "not an integer");
				continue;
			}
			if (k == COL_ID) {
				d->id = json_integer_value(v);
				d->flags |= DOT_HAS_ID;
			} else if (json_integer_value(v) < 0 ||
			    json_integer_value(v) > DWELL_MAX_MS) {
				diag_add(dl, DIAG_ERROR, 0, 0, path, "dwell_ms "
				    "%lld is not in [0, %u]", (long long)
				    json_integer_value(v), DWELL_MAX_MS);
			} else {
				d->dwell_ms = (uint32_t)json_integer_value(v);
				d->flags |= DOT_HAS_DWELL;
			}
			continue;
		}
		if (json_num(v, &x) < 0) {
			diag_add(dl, DIAG_ERROR, 0, 0, path,
			    "not a finite number");
			continue;
		}
		x *= scale;
		switch (k) {
		case COL_X: d->x_mm = x; break;
		case COL_Y: d->y_mm = x; break;
		case COL_Z: d->z_mm = x; d->flags |= DOT_HAS_Z; break;
		default: d->depth_mm = x; break;
		}
	}
	for (int k = COL_X; k <= COL_Y; k++)
		if (!seen[k]) {
			snprintf(path, sizeof(path), "dots[%zu]", i);
			diag_add(dl, DIAG_ERROR, 0, 0, path, "missing %s",
			    col_names[k]);
		}
	if (!seen[COL_DEPTH] && !hasdef[COL_DEPTH] &&
	    !(cfg->default_depth_mm > 0)) {
		snprintf(path, sizeof(path), "dots[%zu]", i);
		diag_add(dl, DIAG_ERROR, 0, 0, path, "missing depth (no "
		    "default in the plan or needle.default_depth_mm)");
		return;
	}
	if (!pconfig_depth_ok(cfg, d->depth_mm)) {
		snprintf(path, sizeof(path), "dots[%zu].depth", i);
		diag_add(dl, DIAG_ERROR, 0, 0, path, "depth %g mm is not in "
		    "[%g, %g] (needle.min_depth_mm, max_depth_mm)",
		    d->depth_mm, cfg->min_depth_mm, cfg->max_depth_mm);
	}
}

struct plan *
plan_read_json_mem(const char *buf, size_t len, const char *source,
    const struct planner_config *cfg, struct diag_list *dl)
{
	struct plan *p = NULL;
	json_t *root = NULL, *v, *dots;
	json_error_t jerr;
	const char *key;
	double scale = 1, defs[COL_N] = { 0 };
	bool hasdef[COL_N] = { false };
	size_t errs0 = dl->errors, i;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		diag_add(dl, DIAG_ERROR, (unsigned)(jerr.line > 0 ? jerr.line :
		    1), (unsigned)(jerr.column > 0 ? jerr.column : 1), NULL,
		    "JSON: %s", jerr.text);
		goto fail;
	}
	if (!json_is_object(root)) {
		diag_add(dl, DIAG_ERROR, 0, 0, "$", "a plan is a JSON object");
		goto fail;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "format") == 0) {
			if (!json_is_string(v) || strcmp(json_string_value(v),
			    "smp-dot-plan") != 0)
				diag_add(dl, DIAG_ERROR, 0, 0, "format",
				    "must be \"smp-dot-plan\"");
		} else if (strcmp(key, "version") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) != 1)
				diag_add(dl, DIAG_ERROR, 0, 0, "version",
				    "must be 1");
		} else if (strcmp(key, "units") == 0) {
			if (json_is_string(v) && strcmp(json_string_value(v),
			    "mm") == 0)
				scale = 1;
			else if (json_is_string(v) &&
			    strcmp(json_string_value(v), "in") == 0)
				scale = MM_PER_IN;
			else
				diag_add(dl, DIAG_ERROR, 0, 0, "units",
				    "must be \"mm\" or \"in\"");
		} else if (strcmp(key, "defaults") != 0 &&
		    strcmp(key, "dots") != 0 && strcmp(key, "name") != 0 &&
		    strcmp(key, "comment") != 0) {
			char path[64];
			snprintf(path, sizeof(path), "%.60s", key);
			diag_add(dl, DIAG_ERROR, 0, 0, path, "unknown field "
			    "(known: format, version, units, defaults, dots, "
			    "name, comment)");
		}
	}
	v = json_object_get(root, "defaults");
	if (v != NULL && !json_is_object(v))
		diag_add(dl, DIAG_ERROR, 0, 0, "defaults", "must be an object");
	else if (v != NULL) {
		json_t *dv;
		json_object_foreach(v, key, dv) {
			char path[64];
			int k;
			snprintf(path, sizeof(path), "defaults.%.40s", key);
			for (k = 0; k < COL_N; k++)
				if (strcmp(key, col_names[k]) == 0)
					break;
			if (k != COL_DEPTH && k != COL_DWELL && k != COL_Z) {
				diag_add(dl, DIAG_ERROR, 0, 0, path, "unknown "
				    "default (known: depth, dwell_ms, z)");
				continue;
			}
			if (k == COL_DWELL ? !json_is_integer(dv) ||
			    json_integer_value(dv) < 0 ||
			    json_integer_value(dv) > DWELL_MAX_MS :
			    json_num(dv, &defs[k]) < 0) {
				diag_add(dl, DIAG_ERROR, 0, 0, path, "not a "
				    "valid %s", k == COL_DWELL ? "dwell_ms "
				    "(integer in [0, 60000])" : "number");
				continue;
			}
			if (k == COL_DWELL)
				defs[k] = (double)json_integer_value(dv);
			else
				defs[k] *= scale;
			hasdef[k] = true;
		}
	}
	/* Defaults are applied in mm: scale is folded in above. */
	dots = json_object_get(root, "dots");
	if (!json_is_array(dots)) {
		diag_add(dl, DIAG_ERROR, 0, 0, "dots", "missing, or not an "
		    "array");
		goto fail;
	}
	if (dl->errors > errs0)
		goto fail;
	p = plan_new(source);
	if (p == NULL)
		goto fail;
	p->format = PLAN_FORMAT_JSON;
	for (i = 0; i < json_array_size(dots); i++) {
		struct dot d;
		size_t e0 = dl->errors;
		json_dot(json_array_get(dots, i), i, defs, hasdef, scale, cfg,
		    &d, dl);
		if (dl->errors == e0 && dl->errors == errs0 &&
		    plan_push(p, &d) < 0) {
			diag_add(dl, DIAG_ERROR, 0, 0, NULL, "out of memory");
			goto fail;
		}
	}
	if (dl->errors > errs0)
		goto fail;
	json_decref(root);
	plan_fit(p);
	return p;
fail:
	json_decref(root);
	plan_destroy(&p);
	return NULL;
}

/* ---- entry points ---- */

struct plan *
plan_read_mem(const char *buf, size_t len, const char *source,
    const char *format, const struct planner_config *cfg,
    struct diag_list *dl)
{
	size_t i = 0;

	if (check_text(buf, len, dl) < 0)
		return NULL;
	if (format == NULL) {
		while (i < len && isspace((unsigned char)buf[i]))
			i++;
		format = i < len && buf[i] == '{' ? "json" : "csv";
	}
	if (strcmp(format, "json") == 0)
		return plan_read_json_mem(buf, len, source, cfg, dl);
	if (strcmp(format, "csv") == 0)
		return plan_read_csv_mem(buf, len, source, cfg, dl);
	diag_add(dl, DIAG_ERROR, 0, 0, NULL, "unknown plan format \"%.20s\" "
	    "(csv or json)", format);
	return NULL;
}

/* Reads a whole file into a NUL-terminated buffer; NULL with a diag. */
static char *
slurp(const char *path, size_t *lenp, struct diag_list *dl)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, r;

	if (f == NULL) {
		diag_add(dl, DIAG_ERROR, 0, 0, NULL, "cannot open: %s",
		    strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				diag_add(dl, DIAG_ERROR, 0, 0, NULL,
				    "out of memory reading the file");
				goto fail;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		diag_add(dl, DIAG_ERROR, 0, 0, NULL, "read error: %s",
		    strerror(errno));
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

struct plan *
plan_read_file(const char *path, const struct planner_config *cfg,
    struct diag_list *dl)
{
	const char *dot = strrchr(path, '.'), *fmt = NULL;
	struct plan *p;
	size_t len;
	char *buf = slurp(path, &len, dl);

	if (buf == NULL)
		return NULL;
	if (dot != NULL && strcasecmp(dot, ".csv") == 0)
		fmt = "csv";
	else if (dot != NULL && strcasecmp(dot, ".json") == 0)
		fmt = "json";
	p = plan_read_mem(buf, len, path, fmt, cfg, dl);
	free(buf);
	return p;
}

struct plan *
plan_read_csv(const char *path, const struct planner_config *cfg,
    struct diag_list *dl)
{
	struct plan *p;
	size_t len;
	char *buf = slurp(path, &len, dl);

	if (buf == NULL)
		return NULL;
	p = plan_read_mem(buf, len, path, "csv", cfg, dl);
	free(buf);
	return p;
}

/* ---- whole-plan validation ---- */

/* Where a dot's finding is reported: its line (CSV) or dots[i] (JSON). */
static void
dot_where(const struct plan *p, const struct dot *d, const char *field,
    unsigned *line, char *path, size_t pathlen)
{
	path[0] = '\0';
	*line = 0;
	if (p->format == PLAN_FORMAT_JSON)
		snprintf(path, pathlen, "dots[%u]%s%s", d->src_line,
		    field ? "." : "", field ? field : "");
	else
		*line = d->src_line;
}

static int
cmp_id(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

int
plan_validate(struct plan *p, const struct planner_config *cfg,
    const struct surface *surf, struct diag_list *dl)
{
	size_t errs0 = dl->errors, i;
	char path[64];
	unsigned line;
	int64_t *ids = NULL;
	struct pgrid g;

	memset(&g, 0, sizeof(g));
	if (p->n == 0) {
		diag_add(dl, DIAG_ERROR, 0, 0, NULL, "the plan has no dots");
		return -1;
	}
	if (p->n > cfg->max_dots) {
		diag_add(dl, DIAG_ERROR, 0, 0, NULL, "%zu dots, more than "
		    "planner.max_dots (%zu)", p->n, cfg->max_dots);
		return -1;
	}
	for (i = 0; i < p->n; i++) {
		struct dot *d = &p->dots[i];
		static const char *ax[3] = { "x", "y", "z" };
		double v[3];
		if (!(d->flags & DOT_HAS_Z))
			d->z_mm = surface_dot_skin(surf, cfg, d);
		v[0] = d->x_mm; v[1] = d->y_mm; v[2] = d->z_mm;
		for (int a = 0; a < 3; a++)
			if (v[a] < cfg->env_min_mm[a] ||
			    v[a] > cfg->env_max_mm[a]) {
				dot_where(p, d, ax[a], &line, path,
				    sizeof(path));
				diag_add(dl, DIAG_ERROR, line, 0, path, "dot %lld:"
				    " %s %g mm%s is outside the envelope "
				    "[%g, %g]", (long long)d->id, ax[a], v[a],
				    a == 2 && !(d->flags & DOT_HAS_Z) ?
				    " (skin)" : "", cfg->env_min_mm[a],
				    cfg->env_max_mm[a]);
			}
		if (d->z_mm - d->depth_mm < cfg->env_min_mm[2] ||
		    d->z_mm + cfg->clearance_mm > cfg->env_max_mm[2]) {
			dot_where(p, d, NULL, &line, path, sizeof(path));
			diag_add(dl, DIAG_ERROR, line, 0, path, "dot %lld: its "
			    "stroke %g..%g mm leaves the envelope in z",
			    (long long)d->id, d->z_mm - d->depth_mm,
			    d->z_mm + cfg->clearance_mm);
		}
		/* A dot's own z against the measured skin. Below it, the
		 * dot goes that much deeper into the skin than the plan says;
		 * more than half the clearance below, the rapid descent to
		 * the dot's clearance plane would end close to or inside the
		 * skin: an error. Above it, the needle falls short. Beyond
		 * measurement noise, plan and map disagree: a warning. */
		if ((d->flags & DOT_HAS_Z) && surface_is_measured(surf)) {
			double m = surface_z(surf, d->x_mm, d->y_mm);
			int bad = d->z_mm < m - cfg->clearance_mm / 2;
			if (bad || fabs(d->z_mm - m) > Z_MAP_TOL_MM) {
				dot_where(p, d, "z", &line, path,
				    sizeof(path));
				diag_add(dl, bad ? DIAG_ERROR : DIAG_WARNING,
				    line, 0, path, "dot %lld: z %g mm is %.3f "
				    "mm %s the height map's skin %.3f mm%s",
				    (long long)d->id, d->z_mm, fabs(d->z_mm -
				    m), d->z_mm < m ? "below" : "above", m,
				    bad ? " (more than half of "
				    "needle.clearance_mm)" : "");
			}
		}
		if (!pconfig_depth_ok(cfg, d->depth_mm)) {
			dot_where(p, d, "depth", &line, path, sizeof(path));
			diag_add(dl, DIAG_ERROR, line, 0, path, "depth %g mm is "
			    "not in [%g, %g]", d->depth_mm, cfg->min_depth_mm,
			    cfg->max_depth_mm);
		}
	}
	/* duplicate ids: sort (id, index) pairs */
	ids = malloc(p->n * 2 * sizeof(int64_t));
	if (ids == NULL)
		goto oom;
	for (i = 0; i < p->n; i++) {
		ids[2 * i] = p->dots[i].id;
		ids[2 * i + 1] = (int64_t)i;
	}
	qsort(ids, p->n, 2 * sizeof(int64_t), cmp_id);
	for (i = 1; i < p->n; i++)
		if (ids[2 * i] == ids[2 * i - 2]) {
			const struct dot *d = &p->dots[ids[2 * i + 1]];
			const struct dot *f = &p->dots[ids[2 * i - 1]];
			dot_where(p, d, "id", &line, path, sizeof(path));
			diag_add(dl, DIAG_ERROR, line, 0, path, "id %lld "
			    "already used (%s %u)", (long long)d->id,
			    p->format == PLAN_FORMAT_JSON ? "dots index" :
			    "line", f->src_line);
		}
	free(ids);
	ids = NULL;
	/* spacing: every pair closer than min_spacing, through a grid. Only
	 * dots inside the envelope's XY take part (the others are errors
	 * already): one far outlier would stretch the grid's cells until
	 * every dot shares one and the check went quadratic. The findings
	 * are capped for the same reason (a million dots on one spot are a
	 * trillion pairs): past the cap the check stops and says so. */
	if (cfg->min_spacing_mm > 0) {
		double r = cfg->min_spacing_mm, r2 = r * r, *xy;
		uint32_t *idx;
		size_t m = 0, found = 0;
		long reach;
		xy = malloc((p->n * 2 + 1) * sizeof(double));
		idx = malloc((p->n + 1) * sizeof(uint32_t));
		if (xy == NULL || idx == NULL) {
			free(xy);
			free(idx);
			goto oom;
		}
		for (i = 0; i < p->n; i++) {
			const struct dot *d = &p->dots[i];
			if (d->x_mm < cfg->env_min_mm[0] ||
			    d->x_mm > cfg->env_max_mm[0] ||
			    d->y_mm < cfg->env_min_mm[1] ||
			    d->y_mm > cfg->env_max_mm[1])
				continue;
			xy[2 * m] = d->x_mm;
			xy[2 * m + 1] = d->y_mm;
			idx[m++] = (uint32_t)i;
		}
		if (pgrid_build(&g, xy, 2, m, r) < 0) {
			free(xy);
			free(idx);
			goto oom;
		}
		reach = (long)ceil(r / g.cell_mm);
		for (size_t a = 0; a < m && found < SPACING_MAX_FINDINGS; a++) {
			const struct dot *d = &p->dots[idx[a]];
			long cx = pgrid_cx(&g, d->x_mm), cy = pgrid_cy(&g,
			    d->y_mm);
			for (long y = cy - reach; y <= cy + reach; y++) {
				if (y < 0 || y >= g.ny)
					continue;
				for (long x = cx - reach; x <= cx + reach; x++) {
					long c = y * g.nx + x;
					if (x < 0 || x >= g.nx)
						continue;
					for (uint32_t k = g.start[c];
					    k < g.start[c + 1] &&
					    found < SPACING_MAX_FINDINGS; k++) {
						const struct dot *e =
						    &p->dots[idx[g.item[k]]];
						double dx = e->x_mm - d->x_mm;
						double dy = e->y_mm - d->y_mm;
						if (g.item[k] <= a ||
						    dx * dx + dy * dy >= r2)
							continue;
						found++;
						dot_where(p, e, NULL, &line,
						    path, sizeof(path));
						diag_add(dl, cfg->spacing ==
						    SPACING_REJECT ? DIAG_ERROR :
						    DIAG_WARNING, line, 0, path,
						    "dot %lld is %.3f mm from "
						    "dot %lld, closer than "
						    "planner.min_spacing_mm %g",
						    (long long)e->id, sqrt(dx *
						    dx + dy * dy), (long long)
						    d->id, r);
					}
				}
			}
		}
		if (found >= SPACING_MAX_FINDINGS)
			diag_add(dl, cfg->spacing == SPACING_REJECT ?
			    DIAG_ERROR : DIAG_WARNING, 0, 0, NULL, "spacing "
			    "check stopped after %u pairs closer than "
			    "planner.min_spacing_mm %g", SPACING_MAX_FINDINGS,
			    r);
		pgrid_free(&g);
		free(xy);
		free(idx);
	}
	return dl->errors > errs0 ? -1 : 0;
oom:
	free(ids);
	pgrid_free(&g);
	diag_add(dl, DIAG_ERROR, 0, 0, NULL, "out of memory validating");
	return -1;
}
