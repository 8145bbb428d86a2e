/*
 * A stand-in for the planner, for test_session while planner/ is being
 * written: a trivial CSV reader (id,x,y,depth,dwell_ms), a flat-skin toolpath
 * and a plain G-code emitter with the same roles and tags as planner/gcode.h.
 * It lets the session's safety logic be tested on its own; the real planner
 * replaces it in every other build (test_session links planner/ when it
 * exists, and the end-to-end tests always do).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/journal.h"
#include "daemon/planning.h"
#include "planner/gcode.h"

void
pconfig_defaults(struct planner_config *c)
{
	memset(c, 0, sizeof(*c));
	c->env_min_mm[0] = -60; c->env_min_mm[1] = -80; c->env_min_mm[2] = -20;
	c->env_max_mm[0] = 60; c->env_max_mm[1] = 80; c->env_max_mm[2] = 20;
	c->max_rate_mm_min[0] = c->max_rate_mm_min[1] = 3000;
	c->max_rate_mm_min[2] = 1500;
	c->accel_mm_s2[0] = c->accel_mm_s2[1] = 500;
	c->accel_mm_s2[2] = 800;
	c->junction_deviation_mm = 0.01;
	c->planner_blocks = 15;
	c->clearance_mm = 1.0;
	c->max_depth_mm = 1.5;
	c->plunge_feed_mm_min = 600;
	c->default_dwell_ms = 50;
	c->actuator = ACTUATOR_SPINDLE;
	c->spindle_s = 1000;
	c->min_spacing_mm = 0.2;
	c->max_dots = 1000000;
	c->max_diags = 50;
}

int
pconfig_load(struct planner_config *c, const char *p, char *e, size_t l)
{
	(void)c; (void)p; (void)e; (void)l;
	return 0;
}

int
pconfig_check(const struct planner_config *c, char *e, size_t l)
{
	(void)c; (void)e; (void)l;
	return 0;
}

struct planning *
planning_load(const struct planner_config *cfg, const char *path,
    const char *text, size_t len, const char *format, json_t *diags,
    char *err, size_t errlen)
{
	struct planning *p = calloc(1, sizeof(*p));
	char *copy = NULL, *line, *save = NULL;
	unsigned lineno = 0;

	(void)cfg; (void)format; (void)diags;
	if (path != NULL) {
		p->text = journal_read_file(path, &len, err, errlen);
		if (p->text == NULL)
			goto fail;
	} else {
		p->text = malloc(len + 1);
		memcpy(p->text, text, len);
		p->text[len] = '\0';
	}
	p->text_len = len;
	p->hash = journal_hash(p->text, len);
	snprintf(p->format, sizeof(p->format), "csv");
	snprintf(p->source, sizeof(p->source), "<inline>");
	p->plan = calloc(1, sizeof(*p->plan));
	if (path != NULL)
		snprintf(p->source, sizeof(p->source), "%s", path);
	copy = strdup(p->text);
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		struct dot d;
		long id;
		int dw;
		char *end;
		lineno++;
		if (line[0] == '#' || strncmp(line, "id,", 3) == 0 ||
		    strncmp(line, "x,", 2) == 0)
			continue;
		memset(&d, 0, sizeof(d));
		if (sscanf(line, "%ld,%lf,%lf,%lf,%d", &id, &d.x_mm, &d.y_mm,
		    &d.depth_mm, &dw) == 5) {
			d.id = id;
			d.dwell_ms = (uint32_t)dw;
		} else {
			/* x,y,depth */
			d.x_mm = strtod(line, &end);
			if (*end != ',' || (d.y_mm = strtod(end + 1, &end),
			    *end != ',')) {
				snprintf(err, errlen, "<inline>:%u:3: not a "
				    "number", lineno);
				goto fail;
			}
			d.depth_mm = strtod(end + 1, &end);
			d.id = lineno - 1;
			d.dwell_ms = 50;
		}
		d.src_line = lineno;
		if (p->plan->n == p->plan->cap) {
			p->plan->cap = p->plan->cap ? p->plan->cap * 2 : 16;
			p->plan->dots = realloc(p->plan->dots,
			    p->plan->cap * sizeof(struct dot));
		}
		p->plan->dots[p->plan->n++] = d;
	}
	free(copy);
	p->n = p->plan->n;
	p->order = calloc(p->n, sizeof(uint32_t));
	for (size_t i = 0; i < p->n; i++)
		p->order[i] = (uint32_t)i;
	return p;
fail:
	free(copy);
	planning_destroy(&p);
	return NULL;
}

void
planning_destroy(struct planning **pp)
{
	struct planning *p = *pp;

	if (p == NULL)
		return;
	if (p->plan != NULL)
		free(p->plan->dots);
	free(p->plan);
	free(p->order);
	free(p->text);
	free(p);
	*pp = NULL;
}

double
planning_safe_z(const struct planning *p, const struct planner_config *cfg,
    double x, double y)
{
	(void)p; (void)x; (void)y;
	return cfg->skin_z_mm + cfg->clearance_mm;
}

double
planning_estimate(const struct planning *p, const struct planner_config *cfg,
    const struct toolpath *tp, double *t_dot)
{
	(void)p; (void)cfg;
	for (size_t i = 0; t_dot != NULL && i < tp->n; i++)
		t_dot[i] = 0.5 * (double)(i + 1);
	return 0.5 * (double)tp->n;
}

int
toolpath_build(struct toolpath *tp, const struct plan *plan,
    const uint32_t *order, size_t n, const double start[3],
    const struct surface *surf, const struct planner_config *cfg, char *err,
    size_t errlen)
{
	(void)surf;
	memset(tp, 0, sizeof(*tp));
	tp->d = calloc(n ? n : 1, sizeof(*tp->d));
	tp->n = n;
	memcpy(tp->start, start, sizeof(tp->start));
	for (size_t i = 0; i < n; i++) {
		const struct dot *d = &plan->dots[order[i]];
		struct toolpath_dot *t = &tp->d[i];
		if (d->x_mm < cfg->env_min_mm[0] || d->x_mm > cfg->env_max_mm[0]) {
			snprintf(err, errlen, "dot %lld outside the envelope",
			    (long long)d->id);
			free(tp->d);
			memset(tp, 0, sizeof(*tp));
			return -1;
		}
		t->plan_index = order[i];
		t->x_mm = d->x_mm;
		t->y_mm = d->y_mm;
		t->skin_z = cfg->skin_z_mm;
		t->clear_z = t->skin_z + cfg->clearance_mm;
		t->hop_z = t->clear_z;
		t->bottom_z = t->skin_z - fmin(d->depth_mm, cfg->max_depth_mm);
		t->dwell_ms = (d->dwell_ms + 49) / 50 * 50;
		t->dwell_asked_ms = d->dwell_ms;
	}
	return 0;
}

void
toolpath_free(struct toolpath *tp)
{
	free(tp->d);
	memset(tp, 0, sizeof(*tp));
}

int
gcode_fmt_num(char *buf, size_t len, double v)
{
	int n = snprintf(buf, len, "%.3f", v);
	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 1 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (strcmp(buf, "-0") == 0)
		n = snprintf(buf, len, "0");
	return n;
}

void
gcode_emitter_init(struct gcode_emitter *e, const struct planner_config *c)
{
	memset(e, 0, sizeof(*e));
	e->cfg = c;
}

void
gcode_emitter_reset(struct gcode_emitter *e)
{
	gcode_emitter_init(e, e->cfg);
}

/* prefix + number (or just prefix when v is NAN) */
static int
put(struct gcode_line *out, int n, int role, uint32_t dot, const char *prefix,
    double v)
{
	char num[32] = "";

	if (!isnan(v))
		gcode_fmt_num(num, sizeof(num), v);
	snprintf(out[n].text, sizeof(out[n].text), "%s%s", prefix, num);
	out[n].len = (uint8_t)strlen(out[n].text);
	out[n].role = (uint8_t)role;
	out[n].dot = dot;
	return n + 1;
}

int
gcode_preamble(struct gcode_emitter *e, struct gcode_line *out)
{
	(void)e;
	return put(out, 0, GCODE_SETUP, GCODE_NO_DOT, "G21G90", NAN);
}

int
gcode_needle_on(struct gcode_emitter *e, struct gcode_line *out)
{
	return put(out, 0, GCODE_NEEDLE_ON, GCODE_NO_DOT, "M3S",
	    e->cfg->spindle_s);
}

int
gcode_needle_off(struct gcode_emitter *e, struct gcode_line *out)
{
	(void)e;
	return put(out, 0, GCODE_NEEDLE_OFF, GCODE_NO_DOT, "M5", NAN);
}

int
gcode_dot(struct gcode_emitter *e, const struct toolpath *tp, size_t i,
    struct gcode_line *out)
{
	const struct toolpath_dot *d = &tp->d[i];
	char x[32], y[32];
	int n = 0;

	n = put(out, n, GCODE_HOP, (uint32_t)i, "G0Z", d->hop_z);
	gcode_fmt_num(x, sizeof(x), d->x_mm);
	gcode_fmt_num(y, sizeof(y), d->y_mm);
	snprintf(out[n].text, sizeof(out[n].text), "X%sY%s", x, y);
	out[n].len = (uint8_t)strlen(out[n].text);
	out[n].role = GCODE_HOP;
	out[n].dot = (uint32_t)i;
	n++;
	n = put(out, n, GCODE_DESCEND, (uint32_t)i, "Z", d->clear_z);
	n = put(out, n, GCODE_PLUNGE, (uint32_t)i, "G1F600Z", d->bottom_z);
	n = put(out, n, GCODE_DWELL, (uint32_t)i, "G4P",
	    d->dwell_ms / 1000.0);
	n = put(out, n, GCODE_RETRACT, (uint32_t)i, "G0Z", d->clear_z);
	e->known = true;
	return n;
}

int
gcode_postamble(struct gcode_emitter *e, struct gcode_line *out)
{
	(void)e;
	put(out, 0, GCODE_NEEDLE_OFF, GCODE_NO_DOT, "M5", NAN);
	return put(out, 1, GCODE_END, GCODE_NO_DOT, "M2", NAN);
}
