/*
 * Dot plans: the in-memory form every reader produces and every later stage
 * (surface, order, toolpath, G-code, estimate) consumes, and the diagnostic
 * list that carries every validation error with its position in the input.
 *
 * A plan is a plain array of dots rather than an opaque object: the ordering
 * and toolpath code walk it millions of times and the daemon indexes it by
 * position, so the layout is part of the contract. All lengths are mm, all
 * coordinates work coordinates (the operator sets the origin on the machine).
 */
#ifndef SMP_PLANNER_PLAN_H
#define SMP_PLANNER_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define DOT_HAS_Z 0x01     /* z came from the plan, not the surface model */
#define DOT_HAS_DWELL 0x02 /* dwell_ms came from the plan */
#define DOT_HAS_ID 0x04    /* id came from the plan */

struct dot {
	double x_mm, y_mm;  /* work coordinates */
	double z_mm;        /* skin surface height at the dot (work coords) */
	double depth_mm;    /* how far below the skin the tip goes, > 0 */
	uint32_t dwell_ms;  /* time at the bottom of the plunge */
	int64_t id;         /* the plan's id, or the 1-based row number */
	uint32_t src_line;  /* line (CSV) or dot index (JSON) for messages */
	uint8_t flags;      /* DOT_HAS_* */
};

struct plan {
	struct dot *dots;
	size_t n;
	size_t cap;
	char *source;       /* file name or "<inline>", for messages */
	uint8_t format;     /* PLAN_FORMAT_*: how src_line reads in messages */
};

#define PLAN_FORMAT_CSV 0
#define PLAN_FORMAT_JSON 1

enum diag_severity { DIAG_ERROR = 0, DIAG_WARNING = 1 };

/* One validation finding. line/col are 1-based (0 = not applicable);
 * path is a JSON path such as "dots[12].depth" (empty for CSV). */
struct diag {
	enum diag_severity severity;
	unsigned line, col;
	char path[64];
	char msg[160];
};

/* A bounded list of findings: at most cap are kept, the rest counted. */
struct diag_list {
	struct diag *v;
	size_t n, cap;
	size_t dropped;     /* findings beyond cap */
	size_t errors;      /* all errors seen, kept or dropped */
	size_t warnings;    /* all warnings seen, kept or dropped */
	char source[128];   /* file name used when formatting */
};

/* Allocates a diagnostic list that keeps at most cap entries. NULL on
 * allocation failure. */
struct diag_list *diag_list_new(size_t cap, const char *source);
void diag_list_destroy(struct diag_list **dl);
/* Records a finding (printf-style message). Never fails: past cap it counts. */
void diag_add(struct diag_list *dl, enum diag_severity sev, unsigned line,
    unsigned col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Formats entry i as "file:line:col: error: msg" (or "file: path: ...") into
 * buf; returns buf. */
const char *diag_format(const struct diag_list *dl, size_t i, char *buf,
    size_t len);

/* An empty plan; NULL on allocation failure. */
struct plan *plan_new(const char *source);
void plan_destroy(struct plan **p);
/* Appends a dot (copied). 0, or -1 on allocation failure. */
int plan_push(struct plan *p, const struct dot *d);

struct planner_config;
struct surface;

/*
 * Readers. Each parses the whole input, records every finding in dl (with
 * line and column, or JSON path) and returns a plan only when there was no
 * error: nothing is ever partly loaded. Defaults from cfg fill omitted
 * fields (dwell, depth). The reader checks syntax and per-field values
 * (finite numbers, depth range, ids); plan_validate() checks the whole plan.
 * source names the input in messages ("<inline>" for a buffer).
 */
struct plan *plan_read_csv_mem(const char *buf, size_t len,
    const char *source, const struct planner_config *cfg,
    struct diag_list *dl);
struct plan *plan_read_json_mem(const char *buf, size_t len,
    const char *source, const struct planner_config *cfg,
    struct diag_list *dl);
/* format "csv", "json" or NULL (guess: '{' as the first non-blank byte is
 * JSON, anything else CSV). Rejects input with NUL or non-text bytes. */
struct plan *plan_read_mem(const char *buf, size_t len, const char *source,
    const char *format, const struct planner_config *cfg,
    struct diag_list *dl);
/* Reads a file; the format comes from the extension (.csv, .json), else
 * from the content as plan_read_mem. */
struct plan *plan_read_file(const char *path,
    const struct planner_config *cfg, struct diag_list *dl);
/* Same as plan_read_file for CSV only. */
struct plan *plan_read_csv(const char *path, const struct planner_config *cfg,
    struct diag_list *dl);

/*
 * Whole-plan checks: empty plan, max dots, depth in (0, max_depth], every
 * dot inside the envelope (x, y, its skin z, and its bottom), duplicate ids,
 * spacing (error or warning by cfg->spacing). Dots without z get their skin
 * height from surf (NULL = flat skin at cfg->skin_z_mm), stored in z_mm.
 * Returns 0 when no error was found (warnings allowed), else -1.
 */
int plan_validate(struct plan *p, const struct planner_config *cfg,
    const struct surface *surf, struct diag_list *dl);

#endif /* SMP_PLANNER_PLAN_H */
