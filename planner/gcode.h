/*
 * G-code emission for a GRBL-class controller. Lines are produced one dot at
 * a time, each tagged with its role and dot, so that the daemon can stream a
 * session of any size without holding its text and can tell which answer
 * confirms which dot: a dot is delivered when the `ok` of its GCODE_DWELL line
 * arrives (GRBL answers G4 only after the plunge has finished and the dwell
 * elapsed). smpplan writes the same lines to a file.
 *
 * The emitter keeps the controller's modal state (motion mode, feed, last
 * position) so that words are not repeated; gcode_emitter_reset() forgets it,
 * which the daemon does after any controller reset or before a resume, so the
 * next lines carry every word they need.
 */
#ifndef SMP_PLANNER_GCODE_H
#define SMP_PLANNER_GCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "planner/pconfig.h"
#include "planner/toolpath.h"

enum gcode_role {
	GCODE_SETUP = 0,   /* preamble: units, distance mode, ... */
	GCODE_NEEDLE_ON,
	GCODE_NEEDLE_OFF,
	GCODE_HOP,         /* lateral or vertical move above the clearance plane */
	GCODE_DESCEND,     /* down to the clearance plane above the dot */
	GCODE_PLUNGE,      /* into the skin: from here the dot may be delivered */
	GCODE_DWELL,       /* its ok confirms the dot */
	GCODE_RETRACT,     /* out of the skin to the clearance plane */
	GCODE_END,         /* program end */
};

#define GCODE_NO_DOT UINT32_MAX
#define GCODE_MAX_LINES_PER_DOT 8

struct gcode_line {
	char text[80];      /* without '\n'; at most 79 characters */
	uint8_t len;
	uint8_t role;       /* enum gcode_role */
	uint32_t dot;       /* toolpath index, or GCODE_NO_DOT */
};

struct gcode_emitter {
	const struct planner_config *cfg;
	bool known;          /* modal state below is valid */
	int motion;          /* 0 or 1 (G0/G1), -1 unknown */
	double feed;         /* last F sent, -1 unknown */
	double pos[3];       /* last commanded position (work coords) */
	bool pos_known[3];
	unsigned long line_no; /* next N word when cfg->line_numbers */
};

/* Starts an emitter with unknown modal state. cfg must outlive it. */
void gcode_emitter_init(struct gcode_emitter *e,
    const struct planner_config *cfg);
/* Forgets all modal state (after a controller reset, before a resume). */
void gcode_emitter_reset(struct gcode_emitter *e);

/* Each of these writes its lines to out (room for GCODE_MAX_LINES_PER_DOT)
 * and returns how many. */
int gcode_preamble(struct gcode_emitter *e, struct gcode_line *out);
int gcode_needle_on(struct gcode_emitter *e, struct gcode_line *out);
int gcode_needle_off(struct gcode_emitter *e, struct gcode_line *out);
/* The lines of toolpath dot i: hop (from the emitter's known position, or
 * with every word when unknown), descend, plunge, dwell, retract. */
int gcode_dot(struct gcode_emitter *e, const struct toolpath *tp, size_t i,
    struct gcode_line *out);
/* Needle off and program end (M5/M9 as configured, then M2). */
int gcode_postamble(struct gcode_emitter *e, struct gcode_line *out);

/* Formats a number at the machine's resolution (3 decimals) without trailing
 * zeros ("1.5", "-0.25", "12"). Returns the length written. */
int gcode_fmt_num(char *buf, size_t len, double v);

#endif /* SMP_PLANNER_GCODE_H */
