/*
 * smpsim's skin: a surface (flat, or a height map per docs/heightmap.md read
 * by its own reader, since the simulator shares no code with the planner)
 * placed in machine space, and a recorder that follows the needle tip along
 * every path piece the motion model reports. Each time the tip goes below the
 * surface it records one penetration and writes it as a JSON line when the
 * tip comes back out, flushed at once so that a killed simulator still leaves
 * its log. Sideways motion below the surface is a safety violation and is
 * flagged and counted.
 */
#ifndef SMP_SIM_SKIN_H
#define SMP_SIM_SKIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct skin;

/* A flat skin at height z_mm (skin coordinates); origin is the machine
 * position of the skin coordinates' origin. NULL on allocation failure. */
struct skin *skin_new_flat(double z_mm, const double origin[3]);
/* A skin from a height map file; NULL with a message naming the line (and
 * column) of the fault in err. */
struct skin *skin_new_heightmap(const char *path, const double origin[3],
    char *err, size_t errlen);
/* A skin through the dots of a CSV dot plan (header naming x, y, z; '#'
 * comment lines): exact at each dot, inverse-distance weighted between
 * neighbours within 2 mm cells. NULL with file:line[:column] in err. */
struct skin *skin_new_plan(const char *path, const double origin[3],
    char *err, size_t errlen);
void skin_destroy(struct skin **s);

/* Log file for penetrations and events (NULL: none). Not owned. */
void skin_set_log(struct skin *s, FILE *log);
/* Surface height (skin coordinates) at skin coordinates x, y. */
double skin_height(const struct skin *s, double x_mm, double y_mm);
/* The tip moved from p0 to p1 (machine mm) between t0 and t1. */
void skin_track(struct skin *s, const double p0[3], const double p1[3],
    double t0_s, double t1_s);
/* The needle actuator switched; logged as an event. */
void skin_needle(struct skin *s, bool on, double t_s);
/* Logs an event line {"event":name,"t":..,<extra>} (extra: JSON members
 * without braces, or NULL). */
void skin_event(struct skin *s, const char *name, double t_s,
    const char *extra);
/* Writes the penetration in progress, if any (at exit). */
void skin_flush_open(struct skin *s, double t_s);

size_t skin_penetrations(const struct skin *s);
size_t skin_violations(const struct skin *s);
bool skin_needle_on(const struct skin *s);

#endif /* SMP_SIM_SKIN_H */
