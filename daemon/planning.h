/*
 * The daemon's use of the planner, in one place: read a plan (a file or
 * inline text), validate it, order it, resolve its skin surface and estimate
 * its time, keeping what the journal needs to store the exact plan a session
 * ran: the text of an inline plan, the path and hash of a file (whose bytes
 * are dropped once parsed: a 100,000-dot file is 2.8 MB). The planner is
 * pure; this file is where the daemon's I/O (reading the file) meets it.
 * Main loop only.
 */
#ifndef SMP_DAEMON_PLANNING_H
#define SMP_DAEMON_PLANNING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "planner/pconfig.h"
#include "planner/plan.h"
#include "planner/toolpath.h"

struct surface;

struct planning {
	struct plan *plan;
	uint32_t *order;        /* plan indices in delivery order */
	size_t n;               /* == plan->n */
	struct surface *surf;   /* the skin the toolpath is built over */
	char *path;             /* the file it was read from, or NULL */
	char *text;             /* an inline plan's bytes, NUL-terminated
	                           (NULL for a file: see journal_create_from) */
	size_t text_len;
	char format[8];         /* "csv" or "json" */
	uint64_t hash;          /* journal_hash() of the plan's bytes */
	char source[256];       /* path or "<inline>" */
	size_t warnings;
};

/*
 * Loads a plan from path, or from text (len bytes, format "csv"/"json",
 * NULL = guess from the first non-blank byte) when path is NULL. On failure
 * returns NULL with the first error in err ("file:line:col: message") and
 * every finding appended to diags (a JSON array, may be NULL) as
 * {"line", "col", "path", "severity", "message"}.
 */
struct planning *planning_load(const struct planner_config *cfg,
    const char *path, const char *text, size_t len, const char *format,
    json_t *diags, char *err, size_t errlen);
void planning_destroy(struct planning **p);

/* The lowest Z (work coordinates) that clears the skin by the clearance
 * at (x, y). */
double planning_safe_z(const struct planning *p,
    const struct planner_config *cfg, double x, double y);
/* The same over the whole XY segment (x0,y0)-(x1,y1): the skin between the
 * ends may be higher than at either (a jog across the crown). */
double planning_safe_z_segment(const struct planning *p,
    const struct planner_config *cfg, double x0, double y0, double x1,
    double y1);

/* The planner's estimate of the time to run tp, and of the time at which
 * each of its dots completes (t_dot may be NULL; else tp->n entries). */
double planning_estimate(const struct planning *p,
    const struct planner_config *cfg, const struct toolpath *tp,
    double *t_dot);

/* The estimated time at which each dot of tp completes (t_dot: tp->n
 * entries), windowed so as to hold 32 KB rather than 8 bytes a dot; within
 * milliseconds of planning_estimate's. 0, or -1 out of memory. */
int planning_dot_times(const struct planner_config *cfg,
    const struct toolpath *tp, float *t_dot);

#endif /* SMP_DAEMON_PLANNING_H */
