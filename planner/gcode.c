/*
 * G-code for GRBL (gcode.h). Every byte is streamed over a 115200 baud line
 * and every line costs a round trip in GRBL's 128-byte receive buffer, so
 * lines carry only the words that change: the motion mode and feed are
 * modal, an axis already at its target is left out, numbers have three
 * decimals (GRBL's resolution in mm) without trailing zeros. The emitter
 * tracks what the controller already knows; after gcode_emitter_reset() the
 * next lines spell everything out.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "planner/gcode.h"

int
gcode_fmt_num(char *buf, size_t len, double v)
{
	int n;
	double r = round(v * 1000.0) / 1000.0;

	if (r == 0)
		r = 0;  /* no "-0" */
	n = snprintf(buf, len, "%.3f", r);
	if (n < 0 || (size_t)n >= len)
		return n;
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	return n;
}

void
gcode_emitter_init(struct gcode_emitter *e, const struct planner_config *cfg)
{
	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	e->line_no = 1;
	gcode_emitter_reset(e);
}

void
gcode_emitter_reset(struct gcode_emitter *e)
{
	e->known = false;
	e->motion = -1;
	e->feed = -1;
	for (int a = 0; a < 3; a++)
		e->pos_known[a] = false;
}

/* Starts line out with its N word (if configured), role and dot. */
static void
line_start(struct gcode_emitter *e, struct gcode_line *l, int role,
    uint32_t dot)
{
	l->len = 0;
	l->text[0] = '\0';
	l->role = (uint8_t)role;
	l->dot = dot;
	if (e->cfg->line_numbers) {
		l->len = (uint8_t)snprintf(l->text, sizeof(l->text), "N%lu",
		    e->line_no);
		/* GRBL takes N up to 9999999; wrap well before. */
		e->line_no = e->line_no >= 9999999 ? 1 : e->line_no + 1;
	}
}

static void
put(struct gcode_line *l, const char *s)
{
	size_t n = strlen(s);

	if (l->len + n > 79)
		n = 79 - l->len;  /* cannot happen for our words */
	memcpy(l->text + l->len, s, n);
	l->len = (uint8_t)(l->len + n);
	l->text[l->len] = '\0';
}

static void
put_word(struct gcode_line *l, char w, double v)
{
	char num[40], word[48];

	gcode_fmt_num(num, sizeof(num), v);
	snprintf(word, sizeof(word), "%c%s", w, num);
	put(l, word);
}

/* Same position at the machine's resolution. */
static int
same(double a, double b)
{
	return fabs(round(a * 1000) - round(b * 1000)) < 0.5;
}

static void
put_motion(struct gcode_emitter *e, struct gcode_line *l, int g)
{
	if (e->motion != g) {
		put(l, g ? "G1" : "G0");
		e->motion = g;
	}
}

/* A move of the given axes; returns 1 if a line was written. Axes already
 * at the target (and known) are left out. */
static int
move(struct gcode_emitter *e, struct gcode_line *l, int role, uint32_t dot,
    int g, const double *x, const double *y, const double *z, double feed)
{
	const double *v[3] = { x, y, z };
	static const char ax[3] = { 'X', 'Y', 'Z' };
	int any = 0;

	for (int a = 0; a < 3; a++)
		if (v[a] != NULL && !(e->pos_known[a] && same(e->pos[a],
		    *v[a])))
			any = 1;
	if (!any)
		return 0;
	line_start(e, l, role, dot);
	put_motion(e, l, g);
	for (int a = 0; a < 3; a++) {
		if (v[a] == NULL || (e->pos_known[a] && same(e->pos[a], *v[a])))
			continue;
		put_word(l, ax[a], *v[a]);
		e->pos[a] = *v[a];
		e->pos_known[a] = true;
	}
	if (g == 1 && !(e->feed >= 0 && same(e->feed, feed))) {
		put_word(l, 'F', feed);
		e->feed = feed;
	}
	return 1;
}

static int
simple(struct gcode_emitter *e, struct gcode_line *out, int role,
    const char *text)
{
	line_start(e, out, role, GCODE_NO_DOT);
	put(out, text);
	return 1;
}

int
gcode_preamble(struct gcode_emitter *e, struct gcode_line *out)
{
	/* mm, absolute, feed per minute, no tool radius/length offsets that
	 * a previous job could have left */
	e->known = true;
	return simple(e, out, GCODE_SETUP, "G21G90G94");
}

int
gcode_needle_on(struct gcode_emitter *e, struct gcode_line *out)
{
	char buf[80];

	switch (e->cfg->actuator) {
	case ACTUATOR_SPINDLE: {
		char num[40];
		gcode_fmt_num(num, sizeof(num), e->cfg->spindle_s);
		snprintf(buf, sizeof(buf), "M3S%s", num);
		return simple(e, out, GCODE_NEEDLE_ON, buf);
	}
	case ACTUATOR_FLOOD:
		return simple(e, out, GCODE_NEEDLE_ON, "M8");
	case ACTUATOR_MIST:
		return simple(e, out, GCODE_NEEDLE_ON, "M7");
	default:
		return simple(e, out, GCODE_NEEDLE_ON, e->cfg->on_gcode);
	}
}

int
gcode_needle_off(struct gcode_emitter *e, struct gcode_line *out)
{
	switch (e->cfg->actuator) {
	case ACTUATOR_SPINDLE:
		return simple(e, out, GCODE_NEEDLE_OFF, "M5");
	case ACTUATOR_FLOOD:
	case ACTUATOR_MIST:
		return simple(e, out, GCODE_NEEDLE_OFF, "M9");
	default:
		return simple(e, out, GCODE_NEEDLE_OFF, e->cfg->off_gcode);
	}
}

int
gcode_dot(struct gcode_emitter *e, const struct toolpath *tp, size_t i,
    struct gcode_line *out)
{
	const struct toolpath_dot *d = &tp->d[i];
	uint32_t dot = (uint32_t)i;
	double retract = e->cfg->retract_feed_mm_min;
	char num[40], buf[48];
	int n = 0;

	/* Up first (never sideways then up): when the height is unknown the
	 * Z word goes out anyway, hop_z being at or above where we are. */
	if (!e->pos_known[2] || d->hop_z > e->pos[2] + 1e-9)
		n += move(e, &out[n], GCODE_HOP, dot, 0, NULL, NULL, &d->hop_z,
		    0);
	n += move(e, &out[n], GCODE_HOP, dot, 0, &d->x_mm, &d->y_mm, NULL, 0);
	n += move(e, &out[n], GCODE_DESCEND, dot, 0, NULL, NULL, &d->clear_z,
	    0);
	if (!move(e, &out[n], GCODE_PLUNGE, dot, 1, NULL, NULL, &d->bottom_z,
	    e->cfg->plunge_feed_mm_min)) {
		/* Already at the bottom (cannot happen: depth > 0); keep the
		 * plunge line so the dot's lines are always the same shape. */
		line_start(e, &out[n], GCODE_PLUNGE, dot);
		put_motion(e, &out[n], 1);
		put_word(&out[n], 'Z', d->bottom_z);
	}
	n++;
	line_start(e, &out[n], GCODE_DWELL, dot);
	gcode_fmt_num(num, sizeof(num), d->dwell_ms / 1000.0);
	snprintf(buf, sizeof(buf), "G4P%s", num);
	put(&out[n], buf);
	n++;
	if (retract > 0)
		n += move(e, &out[n], GCODE_RETRACT, dot, 1, NULL, NULL,
		    &d->clear_z, retract);
	else
		n += move(e, &out[n], GCODE_RETRACT, dot, 0, NULL, NULL,
		    &d->clear_z, 0);
	return n;
}

int
gcode_postamble(struct gcode_emitter *e, struct gcode_line *out)
{
	int n = gcode_needle_off(e, out);

	n += simple(e, &out[n], GCODE_END, "M2");
	return n;
}
