/*
 * Session-time model (estimate.h), after GRBL 1.1's planner: a block's
 * nominal speed and acceleration are the configured per-axis limits scaled
 * by the move's direction (the most limiting axis wins), the speed through a
 * corner comes from the junction deviation, the planner looks ahead over
 * planner_blocks blocks and always plans the last one to stop, and a dwell or
 * a spindle change first waits for every queued move to finish (so motion
 * comes to rest before it). Each block is then a trapezoid (or triangle).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "planner/estimate.h"

struct blk {
	double len_mm, u[3];
	double v_nom, accel;     /* mm/s, mm/s^2 */
	double v_junc;           /* max entry speed from the corner, mm/s */
	double v_in, v_out;
};

struct est {
	const struct planner_config *cfg;
	struct blk *b;
	size_t n, cap;
	double pos[3];
	double t;                /* seconds so far (flushed blocks + waits) */
};

/* The largest value of a per-axis limit along unit vector u. */
static double
axis_limit(const double *lim, const double *u)
{
	double v = INFINITY;

	for (int a = 0; a < 3; a++)
		if (fabs(u[a]) > 1e-12)
			v = fmin(v, lim[a] / fabs(u[a]));
	return v;
}

static double
trapezoid_s(const struct blk *b)
{
	double a = b->accel, vn = b->v_nom, vi = b->v_in, vo = b->v_out;
	double da = (vn * vn - vi * vi) / (2 * a);
	double dd = (vn * vn - vo * vo) / (2 * a);
	double vp;

	if (da + dd <= b->len_mm)
		return (vn - vi) / a + (vn - vo) / a + (b->len_mm - da - dd) /
		    vn;
	vp = sqrt((2 * a * b->len_mm + vi * vi + vo * vo) / 2);
	if (vp < fmax(vi, vo))
		vp = fmax(vi, vo);
	return (vp - vi) / a + (vp - vo) / a;
}

/* Plans the queued blocks (which end at rest: a sync follows) and adds
 * their time. The look-ahead is windowed: block k may only count on the
 * planner_blocks - 1 blocks after it, the last of which must stop. */
static void
flush(struct est *e)
{
	size_t n = e->n, w = (size_t)(e->cfg->planner_blocks > 0 ?
	    e->cfg->planner_blocks : 1);
	double prev_out = 0;

	for (size_t k = 0; k < n; k++) {
		size_t last = k + w - 1 < n - 1 ? k + w - 1 : n - 1;
		double v = 0;   /* exit speed of block j in the backward pass */
		/* backward over the window: the fastest entry into each
		 * block from which the window's end can still be reached at
		 * rest */
		for (size_t j = last + 1; j-- > k;) {
			struct blk *b = &e->b[j];
			v = fmin(fmin(b->v_junc, b->v_nom),
			    sqrt(v * v + 2 * b->accel * b->len_mm));
		}
		/* v is the most block k may enter at; forward limit too */
		{
			struct blk *b = &e->b[k];
			double in = fmin(v, prev_out);
			double vmax_out;
			b->v_in = in;
			/* exit: as fast as the next block's window allows,
			 * reachable by accelerating from in */
			vmax_out = sqrt(in * in + 2 * b->accel * b->len_mm);
			if (k + 1 < n) {
				size_t last2 = k + w < n - 1 ? k + w : n - 1;
				double v2 = 0;
				for (size_t j = last2 + 1; j-- > k + 1;) {
					struct blk *c = &e->b[j];
					v2 = fmin(fmin(c->v_junc, c->v_nom),
					    sqrt(v2 * v2 + 2 * c->accel *
					    c->len_mm));
				}
				b->v_out = fmin(fmin(v2, vmax_out), b->v_nom);
			} else
				b->v_out = 0;
			prev_out = b->v_out;
			e->t += trapezoid_s(b);
		}
	}
	e->n = 0;
}

static int
add_move(struct est *e, const double *to, double feed_mm_min)
{
	struct blk *b;
	double d[3], len = 0, rate[3], lim;

	for (int a = 0; a < 3; a++) {
		d[a] = to[a] - e->pos[a];
		len += d[a] * d[a];
	}
	len = sqrt(len);
	if (len < 1e-6)
		return 0;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct blk *nb = realloc(e->b, cap * sizeof(*nb));
		if (nb == NULL)
			return -1;
		e->b = nb;
		e->cap = cap;
	}
	b = &e->b[e->n];
	memset(b, 0, sizeof(*b));
	b->len_mm = len;
	for (int a = 0; a < 3; a++) {
		b->u[a] = d[a] / len;
		rate[a] = e->cfg->max_rate_mm_min[a] / 60.0;
	}
	lim = axis_limit(rate, b->u);
	b->v_nom = feed_mm_min > 0 ? fmin(feed_mm_min / 60.0, lim) : lim;
	b->accel = axis_limit(e->cfg->accel_mm_s2, b->u);
	b->v_junc = 0;
	if (e->n > 0) {
		const struct blk *p = &e->b[e->n - 1];
		double cos_t = -(p->u[0] * b->u[0] + p->u[1] * b->u[1] +
		    p->u[2] * b->u[2]);
		if (cos_t < -0.999999)
			b->v_junc = INFINITY;        /* straight on */
		else if (cos_t <= 0.999999) {
			double ju[3], jn = 0, ja, s;
			for (int a = 0; a < 3; a++) {
				ju[a] = b->u[a] - p->u[a];
				jn += ju[a] * ju[a];
			}
			jn = sqrt(jn);
			for (int a = 0; a < 3; a++)
				ju[a] /= jn;
			ja = axis_limit(e->cfg->accel_mm_s2, ju);
			s = sqrt(0.5 * (1 - cos_t));
			b->v_junc = sqrt(ja * e->cfg->junction_deviation_mm *
			    s / (1 - s));
		}
		b->v_junc = fmin(b->v_junc, fmin(p->v_nom, b->v_nom));
	}
	e->n++;
	memcpy(e->pos, to, sizeof(e->pos));
	return 0;
}

double
estimate_toolpath(const struct toolpath *tp, const struct planner_config *cfg,
    double *t_dot)
{
	struct est e;
	double to[3];

	memset(&e, 0, sizeof(e));
	e.cfg = cfg;
	memcpy(e.pos, tp->start, sizeof(e.pos));
	/* needle on: a spindle change waits for the (empty) planner */
	for (size_t i = 0; i < tp->n; i++) {
		const struct toolpath_dot *d = &tp->d[i];
		if (d->hop_z > e.pos[2] + 1e-9) {
			to[0] = e.pos[0]; to[1] = e.pos[1]; to[2] = d->hop_z;
			if (add_move(&e, to, 0) < 0)
				goto oom;
		}
		to[0] = d->x_mm; to[1] = d->y_mm; to[2] = e.pos[2];
		if (add_move(&e, to, 0) < 0)
			goto oom;
		to[2] = d->clear_z;
		if (add_move(&e, to, 0) < 0)
			goto oom;
		to[2] = d->bottom_z;
		if (add_move(&e, to, cfg->plunge_feed_mm_min) < 0)
			goto oom;
		flush(&e);                 /* G4 waits for motion to end */
		e.t += d->dwell_ms / 1000.0;
		if (t_dot != NULL)
			t_dot[i] = e.t;
		to[2] = d->clear_z;
		if (add_move(&e, to, cfg->retract_feed_mm_min) < 0)
			goto oom;
	}
	flush(&e);                         /* needle off waits too */
	free(e.b);
	return e.t;
oom:
	free(e.b);
	return -1;
}
