/*
 * The settings check (see grbl_check.h). Two passes over one list of rules,
 * errors first, so that a short output buffer keeps what matters most.
 */
#include "drivers/grbl_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct sink {
	struct grbl_finding *out;
	size_t max, n, nerrors;
	enum grbl_check_level pass;
};

static void
add(struct sink *s, enum grbl_check_level level, int setting, double have,
    double want, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
add(struct sink *s, enum grbl_check_level level, int setting, double have,
    double want, const char *fmt, ...)
{
	struct grbl_finding *f;
	va_list ap;

	if (level != s->pass)
		return;
	if (level == GRBL_CHECK_ERROR)
		s->nerrors++;
	if (s->n++ >= s->max || s->out == NULL)
		return;
	f = &s->out[s->n - 1];
	f->level = level;
	f->setting = setting;
	f->have = have;
	f->want = want;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
}

/* The setting, or NAN when the controller did not report it. */
static double
get(const struct link_info *info, int n)
{
	if (n < 0 || n >= LINK_MAX_SETTINGS || !info->has_setting[n])
		return NAN;
	return info->settings[n];
}

/* "=V", or " (not reported)", to follow "$N". */
static const char *
vstr(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, " (not reported)");
	else
		snprintf(buf, len, "=%g", v);
	return buf;
}

static bool
differs(double have, double want, double tol)
{
	return fabs(have - want) > tol * fabs(want);
}

static void
rules(const struct link_info *info, const struct grbl_expect *e,
    struct sink *s)
{
	static const char axis[3] = {'X', 'Y', 'Z'};
	double tol = e->rel_tol > 0 ? e->rel_tol : 1e-3;
	double v;
	char b[32];
	int k;

	v = get(info, 1);
	if (isnan(v))
		add(s, GRBL_CHECK_ERROR, 1, v, 255, "$1 (step idle delay) not "
		    "reported; need $1=255 so the steppers hold between dots");
	else if (v != 255)
		add(s, GRBL_CHECK_ERROR, 1, v, 255, "$1=%g: the steppers "
		    "release %g ms after each stop and the needle head may "
		    "drift between dots; set $1=255", v, v);

	v = get(info, 13);
	if (!isnan(v) && v != 0)
		add(s, GRBL_CHECK_ERROR, 13, v, 0, "$13=%g: the controller "
		    "reports inches; set $13=0 (millimetres)", v);

	v = get(info, 20);
	if (isnan(v) || v != 1)
		add(s, GRBL_CHECK_ERROR, 20, v, 1, "$20%s: soft limits are "
		    "off; set $20=1 so no move can leave the machine's travel",
		    vstr(b, sizeof(b), v));

	v = get(info, 22);
	if (e->homing && (isnan(v) || v != 1))
		add(s, GRBL_CHECK_ERROR, 22, v, 1, "$22%s: homing is disabled "
		    "but the configuration says the machine has switches "
		    "(controller.homing); set $22=1", vstr(b, sizeof(b), v));

	v = get(info, 32);
	if (e->laser_mode == 0 || e->laser_mode == 1) {
		if (isnan(v) || v != e->laser_mode)
			add(s, GRBL_CHECK_ERROR, 32, v, e->laser_mode,
			    "$32%s: the needle actuator needs $32=%d (%s)",
			    vstr(b, sizeof(b), v),
			    e->laser_mode, e->laser_mode == 0 ? "M3/M5 wait "
			    "for motion to stop, G0 keeps the needle state" :
			    "laser mode");
	}

	for (k = 0; k < 3; k++) {
		if (e->min_travel_mm[k] <= 0)
			continue;
		v = get(info, 130 + k);
		if (isnan(v) || v < e->min_travel_mm[k])
			add(s, GRBL_CHECK_ERROR, 130 + k, v,
			    e->min_travel_mm[k], "$%d%s: %c travel is shorter "
			    "than the work envelope's %g mm", 130 + k,
			    vstr(b, sizeof(b), v),
			    axis[k], e->min_travel_mm[k]);
	}

	for (k = 0; k < 3; k++) {
		if (e->max_rate_mm_min[k] <= 0)
			continue;
		v = get(info, 110 + k);
		if (isnan(v) || differs(v, e->max_rate_mm_min[k], tol))
			add(s, GRBL_CHECK_WARNING, 110 + k, v,
			    e->max_rate_mm_min[k], "$%d%s: %c max rate differs "
			    "from the planner's %g mm/min; time estimates will "
			    "be off", 110 + k, vstr(b, sizeof(b), v), axis[k],
			    e->max_rate_mm_min[k]);
	}
	for (k = 0; k < 3; k++) {
		if (e->accel_mm_s2[k] <= 0)
			continue;
		v = get(info, 120 + k);
		if (isnan(v) || differs(v, e->accel_mm_s2[k], tol))
			add(s, GRBL_CHECK_WARNING, 120 + k, v,
			    e->accel_mm_s2[k], "$%d%s: %c acceleration differs "
			    "from the planner's %g mm/s^2; time estimates will "
			    "be off", 120 + k, vstr(b, sizeof(b), v), axis[k],
			    e->accel_mm_s2[k]);
	}
	if (e->junction_deviation_mm > 0) {
		v = get(info, 11);
		if (isnan(v) || differs(v, e->junction_deviation_mm, tol))
			add(s, GRBL_CHECK_WARNING, 11, v,
			    e->junction_deviation_mm, "$11%s: junction "
			    "deviation differs from the planner's %g mm",
			    vstr(b, sizeof(b), v),
			    e->junction_deviation_mm);
	}
}

size_t
grbl_check_settings(const struct link_info *info, const struct grbl_expect *e,
    struct grbl_finding *out, size_t max, size_t *nerrors)
{
	struct sink s = {.out = out, .max = max};

	s.pass = GRBL_CHECK_ERROR;
	rules(info, e, &s);
	s.pass = GRBL_CHECK_WARNING;
	rules(info, e, &s);
	if (nerrors != NULL)
		*nerrors = s.nerrors;
	return s.n;
}

void
grbl_expect_defaults(struct grbl_expect *e)
{
	memset(e, 0, sizeof(*e));
	e->laser_mode = -1;
	e->rel_tol = 1e-3;
}
