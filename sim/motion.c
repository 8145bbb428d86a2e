/*
 * The motion model (see motion.h). The executing block is the head of a
 * small ring; its remaining path runs one closed-form profile that is rebuilt
 * whenever something changes what it should do (a block queued behind it
 * raising its exit speed, a hold, an override), always starting from the
 * speed the machine has at that moment, so that no change ever makes the
 * speed jump. Profile of the rest of a block, speed over time:
 *
 *        vp _______________
 *          /               \
 *   v0 ___/                 \___ ve      phase 1 (+-a), cruise, phase 3 (-a)
 *
 * A hold replaces it with a single deceleration that may cross into the
 * following blocks before the machine rests.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/motion.h"

struct block {
	double start[MOTION_AXES];
	double target[MOTION_AXES];
	double unit[MOTION_AXES];
	double len_mm;
	double feed_mm_s;      /* programmed; unused for RAPID */
	double vmax_mm_s;      /* slowest-axis limit along the path */
	double accel_mm_s2;    /* slowest-axis limit along the path */
	double junction_mm_s;  /* entry limit from the corner geometry */
	double entry_mm_s;     /* planned entry speed */
	enum motion_kind kind;
};

struct profile {
	double s0_mm;     /* distance into the block when built */
	double v0_mm_s;
	double t1_s, a1;  /* first phase: duration, signed acceleration */
	double vp_mm_s;
	double t2_s;      /* cruise */
	double t3_s, a3;  /* last phase (a3 <= 0) */
	double total_s;
	double elapsed_s;
	double ve_mm_s;   /* speed at the end of the profile */
	bool at_rest_end; /* a hold that stops inside this block */
};

struct motion {
	struct motion_limits lim;
	struct block q[MOTION_BLOCKS];
	int head, count;
	double pos[MOTION_AXES];
	double s_mm;      /* distance done in the executing block */
	double v_mm_s;
	bool hold, cancel;
	int feed_pct, rapid_pct;
	struct profile prof;
};

static struct block *
blk(struct motion *m, int i)
{
	return &m->q[(m->head + i) % MOTION_BLOCKS];
}

static double
nominal(const struct motion *m, const struct block *b)
{
	double v;

	switch (b->kind) {
	case MOTION_RAPID:
		return b->vmax_mm_s * m->rapid_pct / 100.0;
	case MOTION_FEED:
		v = b->feed_mm_s * m->feed_pct / 100.0;
		break;
	default:
		v = b->feed_mm_s;
		break;
	}
	return v < b->vmax_mm_s ? v : b->vmax_mm_s;
}

/* The largest value along unit such that no axis exceeds its own limit. */
static double
limit_along(const double lim[MOTION_AXES], const double unit[MOTION_AXES])
{
	double best = INFINITY;
	int a;

	for (a = 0; a < MOTION_AXES; a++) {
		double u = fabs(unit[a]);
		if (u > 1e-12 && lim[a] / u < best)
			best = lim[a] / u;
	}
	return best;
}

static void
profile_build(struct motion *m)
{
	struct profile *p = &m->prof;
	struct block *b;
	double L, v0, a, ve, vn, vp, d1, d3;

	memset(p, 0, sizeof(*p));
	if (m->count == 0)
		return;
	b = blk(m, 0);
	L = b->len_mm - m->s_mm;
	if (L < 0)
		L = 0;
	v0 = m->v_mm_s;
	a = b->accel_mm_s2;
	p->s0_mm = m->s_mm;
	p->v0_mm_s = v0;
	if (m->hold) {
		double dstop = v0 * v0 / (2 * a);
		p->a1 = -a;
		if (dstop <= L) {
			p->t1_s = v0 / a;
			p->ve_mm_s = 0;
			p->at_rest_end = true;
		} else {
			p->ve_mm_s = sqrt(v0 * v0 - 2 * a * L);
			p->t1_s = (v0 - p->ve_mm_s) / a;
		}
		p->vp_mm_s = p->ve_mm_s;
		p->total_s = p->t1_s;
		return;
	}
	ve = m->count > 1 ? blk(m, 1)->entry_mm_s : 0;
	vn = nominal(m, b);
	if (ve > vn)
		ve = vn;
	vp = sqrt((2 * a * L + v0 * v0 + ve * ve) / 2);
	if (vp > vn)
		vp = vn;
	if (vp < ve)
		vp = ve;
	d1 = fabs(vp * vp - v0 * v0) / (2 * a);
	d3 = (vp * vp - ve * ve) / (2 * a);
	p->ve_mm_s = ve;
	if (L <= 1e-12) {
		p->total_s = 0;
		p->vp_mm_s = ve;
		return;
	}
	if (d1 + d3 > L + 1e-9 || vp <= 1e-12) {
		/* Too fast to make the exit speed at the planned rate (an
		 * override just lowered it): change speed uniformly instead. */
		p->a1 = (ve * ve - v0 * v0) / (2 * L);
		p->t1_s = 2 * L / (v0 + ve);
		p->vp_mm_s = ve;
		p->total_s = p->t1_s;
		return;
	}
	p->a1 = vp >= v0 ? a : -a;
	p->t1_s = fabs(vp - v0) / a;
	p->vp_mm_s = vp;
	p->t2_s = (L - d1 - d3) / vp;
	p->a3 = -a;
	p->t3_s = (vp - ve) / a;
	p->total_s = p->t1_s + p->t2_s + p->t3_s;
}

/* Distance from the profile's start and speed at tau seconds into it. */
static void
profile_eval(const struct profile *p, double tau, double *s, double *v)
{
	double d1, d2, t;

	if (tau <= p->t1_s) {
		*s = p->v0_mm_s * tau + p->a1 * tau * tau / 2;
		*v = p->v0_mm_s + p->a1 * tau;
		return;
	}
	d1 = p->v0_mm_s * p->t1_s + p->a1 * p->t1_s * p->t1_s / 2;
	if (tau <= p->t1_s + p->t2_s) {
		*s = d1 + p->vp_mm_s * (tau - p->t1_s);
		*v = p->vp_mm_s;
		return;
	}
	d2 = p->vp_mm_s * p->t2_s;
	t = tau - p->t1_s - p->t2_s;
	if (t > p->t3_s)
		t = p->t3_s;
	*s = d1 + d2 + p->vp_mm_s * t + p->a3 * t * t / 2;
	*v = p->vp_mm_s + p->a3 * t;
	if (*v < 0)
		*v = 0;
}

/* Look-ahead: backward from a stop after the last block, then forward from
 * the speed the machine has now. */
static void
replan(struct motion *m)
{
	double exit_v = 0;
	int i;

	for (i = m->count - 1; i >= 1; i--) {
		struct block *b = blk(m, i), *pb = blk(m, i - 1);
		double emax = b->junction_mm_s;
		double reach;

		if (nominal(m, b) < emax)
			emax = nominal(m, b);
		if (nominal(m, pb) < emax)
			emax = nominal(m, pb);
		reach = sqrt(exit_v * exit_v + 2 * b->accel_mm_s2 * b->len_mm);
		b->entry_mm_s = emax < reach ? emax : reach;
		exit_v = b->entry_mm_s;
	}
	if (m->count > 1) {
		struct block *b0 = blk(m, 0);
		double rem = b0->len_mm - m->s_mm;
		double reach = sqrt(m->v_mm_s * m->v_mm_s +
		    2 * b0->accel_mm_s2 * (rem > 0 ? rem : 0));
		if (blk(m, 1)->entry_mm_s > reach)
			blk(m, 1)->entry_mm_s = reach;
	}
	for (i = 1; i + 1 < m->count; i++) {
		struct block *b = blk(m, i), *nb = blk(m, i + 1);
		double reach = sqrt(b->entry_mm_s * b->entry_mm_s +
		    2 * b->accel_mm_s2 * b->len_mm);
		if (nb->entry_mm_s > reach)
			nb->entry_mm_s = reach;
	}
	profile_build(m);
}

struct motion *
motion_new(const struct motion_limits *lim, const double pos[MOTION_AXES])
{
	struct motion *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->lim = *lim;
	memcpy(m->pos, pos, sizeof(m->pos));
	m->feed_pct = 100;
	m->rapid_pct = 100;
	return m;
}

void
motion_destroy(struct motion **m)
{
	if (m == NULL || *m == NULL)
		return;
	free(*m);
	*m = NULL;
}

void
motion_set_limits(struct motion *m, const struct motion_limits *lim)
{
	m->lim = *lim;
}

int
motion_push(struct motion *m, const double target[MOTION_AXES],
    double feed_mm_min, enum motion_kind kind, bool exact_stop)
{
	struct block *b, *pb;
	double d[MOTION_AXES], len = 0, rate_mm_s[MOTION_AXES];
	const double *from;
	int a;

	if (m->count >= MOTION_BLOCKS)
		return -1;
	from = m->count > 0 ? blk(m, m->count - 1)->target : m->pos;
	for (a = 0; a < MOTION_AXES; a++) {
		d[a] = target[a] - from[a];
		len += d[a] * d[a];
	}
	len = sqrt(len);
	if (len < 1e-6)
		return 0;
	b = blk(m, m->count);
	memset(b, 0, sizeof(*b));
	memcpy(b->start, from, sizeof(b->start));
	memcpy(b->target, target, sizeof(b->target));
	for (a = 0; a < MOTION_AXES; a++) {
		b->unit[a] = d[a] / len;
		rate_mm_s[a] = m->lim.max_rate_mm_min[a] / 60.0;
	}
	b->len_mm = len;
	b->kind = kind;
	b->feed_mm_s = feed_mm_min / 60.0;
	b->vmax_mm_s = limit_along(rate_mm_s, b->unit);
	b->accel_mm_s2 = limit_along(m->lim.accel_mm_s2, b->unit);
	b->junction_mm_s = 0;
	if (m->count > 0 && !exact_stop) {
		double cos_t = 0, ju[MOTION_AXES], jl = 0;
		pb = blk(m, m->count - 1);
		for (a = 0; a < MOTION_AXES; a++) {
			cos_t -= pb->unit[a] * b->unit[a];
			ju[a] = b->unit[a] - pb->unit[a];
			jl += ju[a] * ju[a];
		}
		if (cos_t < -0.999999) {
			b->junction_mm_s = INFINITY; /* straight on */
		} else if (cos_t <= 0.999999) {
			double sin_h = sqrt(0.5 * (1.0 - cos_t)), aj;
			jl = sqrt(jl);
			for (a = 0; a < MOTION_AXES; a++)
				ju[a] /= jl;
			aj = limit_along(m->lim.accel_mm_s2, ju);
			b->junction_mm_s = sqrt(aj * m->lim.junction_dev_mm *
			    sin_h / (1.0 - sin_h));
		}
	}
	m->count++;
	replan(m);
	return 1;
}

int
motion_blocks(const struct motion *m)
{
	return m->count;
}

bool
motion_busy(const struct motion *m)
{
	return m->count > 0;
}

enum motion_kind
motion_current_kind(const struct motion *m)
{
	return m->count > 0 ? m->q[m->head].kind : MOTION_FEED;
}

static void
block_point(const struct block *b, double s, double out[MOTION_AXES])
{
	int a;

	for (a = 0; a < MOTION_AXES; a++)
		out[a] = b->start[a] + b->unit[a] * s;
}

static void
pop(struct motion *m)
{
	m->head = (m->head + 1) % MOTION_BLOCKS;
	m->count--;
	m->s_mm = 0;
}

int
motion_advance(struct motion *m, double now_s, double dt_s, motion_path_fn fn,
    void *arg)
{
	int done = 0;
	double t = now_s;

	while (dt_s > 0 && m->count > 0) {
		struct profile *p = &m->prof;
		struct block *b = blk(m, 0);
		double rem = p->total_s - p->elapsed_s, step, s, v;
		double p0[MOTION_AXES];

		if (p->at_rest_end && rem <= 0) {
			m->v_mm_s = 0;
			if (m->cancel) {
				motion_clear(m);
				continue;
			}
			break;
		}
		memcpy(p0, m->pos, sizeof(p0));
		step = dt_s < rem ? dt_s : rem;
		if (step >= rem - 1e-12) {
			step = rem;
			profile_eval(p, p->total_s, &s, &v);
			if (p->at_rest_end) {
				m->s_mm = p->s0_mm + s;
				if (m->s_mm > b->len_mm)
					m->s_mm = b->len_mm;
				block_point(b, m->s_mm, m->pos);
				m->v_mm_s = 0;
				p->elapsed_s = p->total_s;
			} else {
				memcpy(m->pos, b->target, sizeof(m->pos));
				m->v_mm_s = p->ve_mm_s;
				pop(m);
				done++;
				profile_build(m);
			}
		} else {
			p->elapsed_s += step;
			profile_eval(p, p->elapsed_s, &s, &v);
			m->s_mm = p->s0_mm + s;
			if (m->s_mm > b->len_mm)
				m->s_mm = b->len_mm;
			m->v_mm_s = v;
			block_point(b, m->s_mm, m->pos);
		}
		if (fn != NULL)
			fn(arg, p0, m->pos, t, t + step);
		t += step;
		dt_s -= step;
	}
	if (m->count == 0) {
		m->v_mm_s = 0;
		m->hold = m->hold && !m->cancel;
		m->cancel = false;
	} else if (m->cancel && m->prof.at_rest_end &&
	    m->prof.elapsed_s >= m->prof.total_s) {
		motion_clear(m);
	}
	return done;
}

double
motion_time_to_event(const struct motion *m)
{
	double rem;

	if (m->count == 0)
		return INFINITY;
	rem = m->prof.total_s - m->prof.elapsed_s;
	if (m->prof.at_rest_end && rem <= 0)
		return m->cancel ? 0 : INFINITY;
	return rem > 0 ? rem : 0;
}

void
motion_hold(struct motion *m, bool on)
{
	if (m->hold == on)
		return;
	m->hold = on;
	if (!on)
		m->cancel = false;
	replan(m);
}

bool
motion_held_at_rest(const struct motion *m)
{
	if (!m->hold)
		return false;
	if (m->count == 0)
		return true;
	return m->prof.at_rest_end && m->prof.elapsed_s >= m->prof.total_s;
}

void
motion_set_overrides(struct motion *m, int feed_pct, int rapid_pct)
{
	if (m->feed_pct == feed_pct && m->rapid_pct == rapid_pct)
		return;
	m->feed_pct = feed_pct;
	m->rapid_pct = rapid_pct;
	replan(m);
}

void
motion_clear(struct motion *m)
{
	m->count = 0;
	m->head = 0;
	m->s_mm = 0;
	m->v_mm_s = 0;
	m->hold = false;
	m->cancel = false;
	memset(&m->prof, 0, sizeof(m->prof));
}

void
motion_cancel(struct motion *m)
{
	if (m->count == 0)
		return;
	m->cancel = true;
	if (!m->hold) {
		m->hold = true;
		replan(m);
	}
	if (motion_held_at_rest(m))
		motion_clear(m);
}

void
motion_position(const struct motion *m, double pos[MOTION_AXES])
{
	memcpy(pos, m->pos, sizeof(m->pos));
}

double
motion_speed_mm_s(const struct motion *m)
{
	return m->v_mm_s;
}

void
motion_set_position(struct motion *m, const double pos[MOTION_AXES])
{
	memcpy(m->pos, pos, sizeof(m->pos));
}
