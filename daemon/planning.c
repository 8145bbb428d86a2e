/*
 * The daemon's use of the planner (see planning.h): read the plan's bytes,
 * hash and parse them, resolve the skin surface, validate the whole plan and
 * order it. A file's bytes are dropped as soon as they are parsed, before
 * the planner's scratch for validation and ordering comes: at 100,000 dots
 * that keeps the peak of a load under smpd's memory goal; the journal copies
 * the file again at start and checks its hash. Every finding goes to the
 * caller's JSON list; the first error, with its line and column, is the
 * reply's message. Nothing is kept unless everything passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/journal.h"
#include "daemon/planning.h"
#include "planner/estimate.h"
#include "planner/order.h"
#include "planner/surface.h"

static const char *
guess_format(const char *path, const char *text, size_t len)
{
	size_t i, l;

	if (path != NULL && (l = strlen(path)) > 5) {
		if (strcmp(path + l - 5, ".json") == 0)
			return "json";
		if (strcmp(path + l - 4, ".csv") == 0)
			return "csv";
	}
	for (i = 0; i < len; i++) {
		if (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' ||
		    text[i] == '\n')
			continue;
		return text[i] == '{' ? "json" : "csv";
	}
	return "csv";
}

/* Every finding into diags; the first error (or a summary) into err. */
static void
report(const struct diag_list *dl, json_t *diags, char *err, size_t errlen)
{
	char buf[512];
	size_t i;
	bool have = false;

	for (i = 0; i < dl->n; i++) {
		const struct diag *d = &dl->v[i];
		diag_format(dl, i, buf, sizeof(buf));
		if (diags != NULL)
			json_array_append_new(diags, json_pack(
			    "{s:i, s:i, s:s, s:s, s:s}", "line", (int)d->line,
			    "col", (int)d->col, "path", d->path, "severity",
			    d->severity == DIAG_ERROR ? "error" : "warning",
			    "message", buf));
		if (!have && d->severity == DIAG_ERROR) {
			if (dl->errors > 1)
				snprintf(err, errlen, "%s (and %zu more error%s)",
				    buf, dl->errors - 1,
				    dl->errors == 2 ? "" : "s");
			else
				snprintf(err, errlen, "%s", buf);
			have = true;
		}
	}
	if (!have)
		snprintf(err, errlen, "%s: the plan was refused", dl->source);
}

struct planning *
planning_load(const struct planner_config *cfg, const char *path,
    const char *text, size_t len, const char *format, json_t *diags,
    char *err, size_t errlen)
{
	struct planning *p = NULL;
	struct diag_list *dl = NULL;
	struct order_stats ost;
	const char *source = path != NULL ? path : "<inline>";

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (dl = diag_list_new(cfg->max_diags > 0 ? cfg->max_diags : 50,
	    source)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	snprintf(p->source, sizeof(p->source), "%s", source);
	if (path != NULL) {
		if ((p->path = strdup(path)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if ((p->text = journal_read_file(path, &len, err, errlen)) ==
		    NULL)
			goto fail;
	} else {
		if ((p->text = malloc(len + 1)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		memcpy(p->text, text, len);
		p->text[len] = '\0';
	}
	p->text_len = len;
	if (format != NULL && strcmp(format, "csv") != 0 &&
	    strcmp(format, "json") != 0) {
		snprintf(err, errlen, "format: \"%s\" is neither csv nor json",
		    format);
		goto fail;
	}
	snprintf(p->format, sizeof(p->format), "%s", format != NULL ? format :
	    guess_format(path, p->text, len));

	p->hash = journal_hash(p->text, len);
	p->plan = plan_read_mem(p->text, len, source, p->format, cfg, dl);
	if (path != NULL) {
		free(p->text);
		p->text = NULL;
	}
	if (p->plan == NULL) {
		report(dl, diags, err, errlen);
		goto fail;
	}
	if ((p->surf = surface_for_plan(cfg, p->plan, dl)) == NULL) {
		report(dl, diags, err, errlen);
		goto fail;
	}
	if (plan_validate(p->plan, cfg, p->surf, dl) != 0) {
		report(dl, diags, err, errlen);
		goto fail;
	}
	p->n = p->plan->n;
	if ((p->order = malloc(sizeof(*p->order) * (p->n ? p->n : 1))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (order_plan(p->plan, NULL, cfg->seed, cfg->order_time_budget_s,
	    p->order, &ost) != 0) {
		snprintf(err, errlen, "out of memory while ordering");
		goto fail;
	}
	if (ost.budget_hit)
		diag_add(dl, DIAG_WARNING, 0, 0, "", "ordering stopped at its "
		    "time cap: this order is not reproducible");
	p->warnings = dl->warnings;
	if (diags != NULL && dl->warnings > 0) {
		char dummy[8];
		report(dl, diags, dummy, sizeof(dummy));
	}
	diag_list_destroy(&dl);
	return p;
fail:
	diag_list_destroy(&dl);
	planning_destroy(&p);
	return NULL;
}

void
planning_destroy(struct planning **pp)
{
	struct planning *p;

	if (pp == NULL || *pp == NULL)
		return;
	p = *pp;
	plan_destroy(&p->plan);
	surface_destroy(&p->surf);
	free(p->order);
	free(p->text);
	free(p->path);
	free(p);
	*pp = NULL;
}

double
planning_safe_z(const struct planning *p, const struct planner_config *cfg,
    double x, double y)
{
	return toolpath_safe_z(p->surf, cfg, x, y, x, y);
}

double
planning_safe_z_segment(const struct planning *p,
    const struct planner_config *cfg, double x0, double y0, double x1,
    double y1)
{
	return toolpath_safe_z(p->surf, cfg, x0, y0, x1, y1);
}

double
planning_estimate(const struct planning *p, const struct planner_config *cfg,
    const struct toolpath *tp, double *t_dot)
{
	(void)p;
	return estimate_toolpath(tp, cfg, t_dot);
}

#define DOT_TIMES_CHUNK 4096

/*
 * The planner's estimator over windows of the toolpath, each starting where
 * the needle is after the dot before it (over that dot, at its clearance
 * plane), so that only a window's worth of doubles is ever held. Each window
 * ends with the machine at rest where the whole run would round the corner
 * from the retract into the next hop (about 3 mm/s with the sample
 * settings): a few milliseconds per 4096 dots, nothing for a time left.
 */
int
planning_dot_times(const struct planner_config *cfg,
    const struct toolpath *tp, float *t_dot)
{
	struct toolpath w;
	double *t = NULL, t0 = 0, tw;
	size_t i, k;

	if ((t = malloc(DOT_TIMES_CHUNK * sizeof(*t))) == NULL)
		return -1;
	for (i = 0; i < tp->n; i += w.n) {
		memset(&w, 0, sizeof(w));
		w.d = tp->d + i;
		w.n = tp->n - i < DOT_TIMES_CHUNK ? tp->n - i : DOT_TIMES_CHUNK;
		if (i == 0)
			memcpy(w.start, tp->start, sizeof(w.start));
		else {
			w.start[0] = tp->d[i - 1].x_mm;
			w.start[1] = tp->d[i - 1].y_mm;
			w.start[2] = tp->d[i - 1].clear_z;
		}
		if ((tw = estimate_toolpath(&w, cfg, t)) < 0) {
			free(t);
			return -1;
		}
		for (k = 0; k < w.n; k++)
			t_dot[i + k] = (float)(t0 + t[k]);
		t0 += tw;      /* with its last retract: where the next starts */
	}
	free(t);
	return 0;
}
