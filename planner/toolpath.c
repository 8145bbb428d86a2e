/*
 * Toolpath (toolpath.h): each ordered dot gets its skin height, clearance
 * plane, bottom and the height of the lateral move that reaches it. The
 * lateral move runs at hop_z, the lowest height that clears the skin by the
 * clearance along the whole segment (surface_max_on_segment is exact for the
 * bilinear surface) and is not below where the needle already is: a hop
 * never goes down before it goes sideways, so the needle is never moved
 * sideways below the clearance plane of any skin it passes over.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/surface.h"
#include "planner/toolpath.h"

uint32_t
toolpath_grbl_dwell_ms(uint32_t asked_ms)
{
	return (uint32_t)(((uint64_t)asked_ms + 49) / 50 * 50);
}

double
toolpath_safe_z(const struct surface *surf, const struct planner_config *cfg,
    double x0, double y0, double x1, double y1)
{
	double top = surf ? surface_max_on_segment(surf, x0, y0, x1, y1) :
	    cfg->skin_z_mm;

	return top + cfg->clearance_mm;
}

void
toolpath_free(struct toolpath *tp)
{
	if (tp == NULL)
		return;
	free(tp->d);
	memset(tp, 0, sizeof(*tp));
}

static int
inside(const struct planner_config *cfg, double x, double y, double z)
{
	return x >= cfg->env_min_mm[0] && x <= cfg->env_max_mm[0] &&
	    y >= cfg->env_min_mm[1] && y <= cfg->env_max_mm[1] &&
	    z >= cfg->env_min_mm[2] && z <= cfg->env_max_mm[2];
}

int
toolpath_build(struct toolpath *tp, const struct plan *plan,
    const uint32_t *order, size_t n, const double start[3],
    const struct surface *surf, const struct planner_config *cfg, char *err,
    size_t errlen)
{
	double px = start[0], py = start[1], pz = start[2], pskin;

	memset(tp, 0, sizeof(*tp));
	memcpy(tp->start, start, sizeof(tp->start));
	if (!isfinite(px) || !isfinite(py) || !isfinite(pz) ||
	    !inside(cfg, px, py, pz)) {
		snprintf(err, errlen, "start %g,%g,%g is outside the envelope",
		    px, py, pz);
		goto fail;
	}
	pskin = surf ? surface_z(surf, px, py) : cfg->skin_z_mm;
	if (pz < pskin + cfg->clearance_mm - 1e-9) {
		snprintf(err, errlen, "start z %g is below the clearance plane "
		    "%g at %g,%g", pz, pskin + cfg->clearance_mm, px, py);
		goto fail;
	}
	tp->d = calloc(n ? n : 1, sizeof(*tp->d));
	if (tp->d == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct toolpath_dot *t = &tp->d[i];
		const struct dot *d;
		double seg, depth;

		if (order[i] >= plan->n) {
			snprintf(err, errlen, "order[%zu] = %u is not a dot",
			    i, order[i]);
			goto fail;
		}
		d = &plan->dots[order[i]];
		t->plan_index = order[i];
		/* the position the G-code will really command (3 decimals),
		 * so that the hop is checked over the segment actually run */
		t->x_mm = round(d->x_mm * 1000) / 1000;
		t->y_mm = round(d->y_mm * 1000) / 1000;
		t->skin_z = surface_dot_skin(surf, cfg, d);
		depth = d->depth_mm;
		if (!pconfig_depth_ok(cfg, depth)) {
			snprintf(err, errlen, "dot %lld: depth %g is not in "
			    "[%g, %g]", (long long)d->id, depth,
			    cfg->min_depth_mm, cfg->max_depth_mm);
			goto fail;
		}
		/* Heights above the skin go up to the next micrometre: the
		 * G-code carries 3 decimals, and rounding them to nearest could
		 * shave up to 0.5 um off the clearance. */
		t->clear_z = ceil((t->skin_z + cfg->clearance_mm) * 1000 -
		    1e-6) / 1000;
		/* The bottom goes up to the micrometre too: rounding it to
		 * nearest in the G-code could put the tip up to 0.5 um deeper
		 * than asked, past max_depth when the depth is the maximum. */
		t->bottom_z = ceil((t->skin_z - depth) * 1000 - 1e-6) / 1000;
		/* The skin under the hop, and the skin at both ends as the
		 * plan gave it (a dot's z may sit above the surface model). */
		seg = toolpath_safe_z(surf, cfg, px, py, t->x_mm, t->y_mm);
		t->hop_z = fmax(fmax(ceil(seg * 1000 - 1e-6) / 1000,
		    t->clear_z), pz);
		t->dwell_asked_ms = d->dwell_ms;
		t->dwell_ms = toolpath_grbl_dwell_ms(d->dwell_ms);
		if (!inside(cfg, t->x_mm, t->y_mm, t->hop_z) ||
		    !inside(cfg, t->x_mm, t->y_mm, t->bottom_z) ||
		    !inside(cfg, px, py, t->hop_z)) {
			snprintf(err, errlen, "dot %lld: its moves (x %g, y %g,"
			    " z %g..%g) leave the envelope", (long long)d->id,
			    t->x_mm, t->y_mm, t->bottom_z, t->hop_z);
			goto fail;
		}
		tp->xy_length_mm += hypot(t->x_mm - px, t->y_mm - py);
		tp->z_travel_mm += (t->hop_z - pz) + (t->hop_z - t->clear_z) +
		    2 * (t->clear_z - t->bottom_z);
		px = t->x_mm;
		py = t->y_mm;
		pz = t->clear_z;
	}
	tp->n = n;
	return 0;
fail:
	free(tp->d);
	memset(tp, 0, sizeof(*tp));
	memcpy(tp->start, start, sizeof(tp->start));
	return -1;
}
