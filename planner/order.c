/*
 * Dot ordering (order.h). The path is an array t[0..m) of node numbers with
 * t[0] the fixed start; pos[] maps a node back to its place. Local search
 * uses two move kinds over each node's K nearest neighbours: 2-opt (reverse
 * t[i+1..j]) and Or-opt (move a run of 1-3 nodes elsewhere, either way
 * round). A queue of "dirty" nodes plays the role of don't-look bits: only
 * nodes whose edges changed are looked at again. Reversals in an open path
 * cannot take the shorter side, so their length is capped; the cap costs a
 * little quality only on the rare long reversal.
 *
 * Perturbation: a window of consecutive positions gets a random segment
 * swap (the double bridge, local to the window), then local search restricted
 * to the window; the window is kept only if it got shorter. Windows are
 * independent of the rest of the path, so undoing one is copying it back.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "planner/grid.h"
#include "planner/order.h"

/* Kicks of the perturbation search at most, and the emergency time cap. */
#define ORDER_MAX_KICKS 30000UL
#define ORDER_DEFAULT_CAP_S 20.0

#define K 8              /* neighbours per node */
#define MAX_REV 1000    /* longest reversal or shift, in positions */
#define WIN 48           /* perturbation window, positions */

struct ord {
	size_t m;            /* nodes: dots (+1 virtual start) */
	double *xy;          /* 2m */
	uint32_t *t, *pos;
	uint32_t *nb;        /* K per node */
	uint32_t *queue;
	uint8_t *inq;
	size_t qh, qn;       /* ring buffer head and count */
	size_t lo, hi;       /* positions moves may touch: [lo, hi] */
	uint64_t rng;
};

static double
dist(const struct ord *o, uint32_t a, uint32_t b)
{
	double dx = o->xy[2 * a] - o->xy[2 * b];
	double dy = o->xy[2 * a + 1] - o->xy[2 * b + 1];

	return sqrt(dx * dx + dy * dy);
}

/* Distance between the nodes at positions i and j; a position past the end
 * of the open path is "no node" and costs nothing. */
static double
dpos(const struct ord *o, size_t i, size_t j)
{
	if (i >= o->m || j >= o->m)
		return 0;
	return dist(o, o->t[i], o->t[j]);
}

static uint64_t
rnd(struct ord *o)
{
	/* splitmix64: small, fast, and the same everywhere */
	uint64_t z = (o->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
push(struct ord *o, uint32_t v)
{
	if (o->inq[v])
		return;
	o->inq[v] = 1;
	o->queue[(o->qh + o->qn) % o->m] = v;
	o->qn++;
}

static void
push_pos(struct ord *o, size_t p)
{
	if (p < o->m)
		push(o, o->t[p]);
}

static void
reverse(struct ord *o, size_t i, size_t j)
{
	while (i < j) {
		uint32_t a = o->t[i], b = o->t[j];
		o->t[i] = b; o->pos[b] = (uint32_t)i;
		o->t[j] = a; o->pos[a] = (uint32_t)j;
		i++;
		j--;
	}
}

/* 2-opt: remove (t[i],t[i+1]) and (t[j],t[j+1]), reverse t[i+1..j]. */
static double
gain_2opt(const struct ord *o, size_t i, size_t j)
{
	return dpos(o, i, i + 1) + dpos(o, j, j + 1) - dpos(o, i, j) -
	    dpos(o, i + 1, j + 1);
}

static int
try_2opt(struct ord *o, uint32_t a)
{
	size_t p = o->pos[a];

	for (int k = 0; k < K; k++) {
		uint32_t c = o->nb[(size_t)a * K + k];
		size_t q, i, j;
		if (c == UINT32_MAX)
			break;
		q = o->pos[c];
		for (int v = 0; v < 2; v++) {
			i = p < q ? p : q;
			j = p < q ? q : p;
			if (v == 1) {
				if (i == 0)
					continue;
				i--;
				j--;
			}
			if (j <= i + 1 || i < o->lo - 1 || j > o->hi ||
			    j - i > MAX_REV)
				continue;
			if (gain_2opt(o, i, j) > 1e-9) {
				reverse(o, i + 1, j);
				push_pos(o, i); push_pos(o, i + 1);
				push_pos(o, j); push_pos(o, j + 1);
				return 1;
			}
		}
	}
	return 0;
}

/* Or-opt: move t[s..e] (1-3 nodes) to between positions k and k+1. */
static void
or_move(struct ord *o, size_t s, size_t e, size_t k, int rev)
{
	uint32_t seg[3];
	size_t L = e - s + 1, i;

	for (i = 0; i < L; i++)
		seg[i] = o->t[rev ? e - i : s + i];
	if (k > e) {
		memmove(&o->t[s], &o->t[e + 1], (k - e) * sizeof(uint32_t));
		memcpy(&o->t[k - L + 1], seg, L * sizeof(uint32_t));
		for (i = s; i <= k; i++)
			o->pos[o->t[i]] = (uint32_t)i;
	} else {
		memmove(&o->t[k + 1 + L], &o->t[k + 1], (s - k - 1) *
		    sizeof(uint32_t));
		memcpy(&o->t[k + 1], seg, L * sizeof(uint32_t));
		for (i = k + 1; i <= e; i++)
			o->pos[o->t[i]] = (uint32_t)i;
	}
}

static int
try_oropt(struct ord *o, uint32_t a)
{
	size_t p = o->pos[a];

	for (size_t L = 1; L <= 3; L++) {
		/* segments of length L that start or end at a */
		for (int side = 0; side < 2; side++) {
			size_t s = side ? p + 1 - L : p, e = s + L - 1;
			double rem;
			if ((side && p + 1 < L) || s < 1 || e >= o->m ||
			    s < o->lo || e > o->hi || (side && L == 1))
				continue;
			rem = dpos(o, s - 1, s) + dpos(o, e, e + 1) -
			    dpos(o, s - 1, e + 1);
			if (rem <= 1e-9)
				continue;
			for (int end = 0; end < 2; end++) {
				uint32_t x = o->t[end ? e : s];
				for (int k = 0; k < K; k++) {
					uint32_t c = o->nb[(size_t)x * K + k];
					size_t q;
					if (c == UINT32_MAX)
						break;
					q = o->pos[c];
					if (q >= s - 1 && q <= e)
						continue;
					/* insert between q and q+1, or
					 * between q-1 and q */
					for (int w = 0; w < 2; w++) {
						size_t kk = w ? q - 1 : q;
						double add0, add1, base;
						if (w && q == 0)
							continue;
						if (kk >= s - 1 && kk <= e)
							continue;
						if (kk + 1 < o->lo || kk > o->hi
						    || (kk > e ? kk - s : e - kk)
						    > MAX_REV)
							continue;
						base = dpos(o, kk, kk + 1);
						add0 = dist(o, o->t[kk], o->t[s])
						    + dpos(o, e, kk + 1) - base;
						add1 = dist(o, o->t[kk], o->t[e])
						    + dpos(o, s, kk + 1) - base;
						if (kk + 1 >= o->m) {
							add0 = dist(o, o->t[kk],
							    o->t[s]);
							add1 = dist(o, o->t[kk],
							    o->t[e]);
						}
						if (rem - fmin(add0, add1) >
						    1e-9) {
							size_t lo = s - 1;
							push_pos(o, s - 1);
							push_pos(o, e + 1);
							push_pos(o, kk);
							push_pos(o, kk + 1);
							or_move(o, s, e, kk,
							    add1 < add0);
							(void)lo;
							push(o, o->t[o->pos[a]]);
							return 1;
						}
					}
				}
			}
		}
	}
	return 0;
}

static void
local_search(struct ord *o)
{
	if (o->m == 0)
		return;         /* nothing to order (and no queue to index) */
	while (o->qn > 0) {
		uint32_t a = o->queue[o->qh];
		o->qh = (o->qh + 1) % o->m;
		o->qn--;
		o->inq[a] = 0;
		if (o->pos[a] < o->lo - (o->lo > 0) || o->pos[a] > o->hi)
			continue;
		if (try_2opt(o, a) || try_oropt(o, a))
			push(o, a);
	}
}

/* K nearest neighbours of every node through a grid of ~2 nodes a cell. */
static int
neighbours(struct ord *o)
{
	struct pgrid g;
	double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY;
	double ymax = -INFINITY, cell;

	for (size_t i = 0; i < o->m; i++) {
		xmin = fmin(xmin, o->xy[2 * i]); xmax = fmax(xmax, o->xy[2 * i]);
		ymin = fmin(ymin, o->xy[2 * i + 1]);
		ymax = fmax(ymax, o->xy[2 * i + 1]);
	}
	cell = sqrt(fmax((xmax - xmin) * (ymax - ymin), 1e-6) * 2.0 /
	    (double)o->m);
	if (pgrid_build(&g, o->xy, 2, o->m, cell) < 0)
		return -1;
	for (size_t i = 0; i < o->m; i++) {
		uint32_t best[K];
		double bd[K];
		int nb = 0;
		long cx = pgrid_cx(&g, o->xy[2 * i]);
		long cy = pgrid_cy(&g, o->xy[2 * i + 1]);
		for (long r = 0;; r++) {
			for (long y = cy - r; y <= cy + r; y++) {
				if (y < 0 || y >= g.ny)
					continue;
				for (long x = cx - r; x <= cx + r; x++) {
					long c;
					if (x < 0 || x >= g.nx || (labs(x - cx)
					    != r && labs(y - cy) != r))
						continue;
					c = y * g.nx + x;
					for (uint32_t q = g.start[c];
					    q < g.start[c + 1]; q++) {
						uint32_t j = g.item[q];
						double d;
						int z;
						if (j == i)
							continue;
						d = dist(o, (uint32_t)i, j);
						if (nb == K && d >= bd[K - 1])
							continue;
						z = nb < K ? nb++ : K - 1;
						while (z > 0 && bd[z - 1] > d) {
							bd[z] = bd[z - 1];
							best[z] = best[z - 1];
							z--;
						}
						bd[z] = d;
						best[z] = j;
					}
				}
			}
			/* every node within r cells has been seen */
			if ((nb == K && bd[K - 1] <= (double)r * g.cell_mm) ||
			    (r > g.nx && r > g.ny))
				break;
		}
		for (int k = 0; k < K; k++)
			o->nb[i * K + k] = k < nb ? best[k] : UINT32_MAX;
	}
	pgrid_free(&g);
	return 0;
}

static uint32_t
hilbert(uint32_t x, uint32_t y)
{
	uint32_t d = 0;

	for (uint32_t s = 1u << 15; s > 0; s >>= 1) {
		uint32_t rx = (x & s) > 0, ry = (y & s) > 0;
		d += s * s * ((3 * rx) ^ ry);
		if (ry == 0) {
			if (rx == 1) {
				x = s - 1 - (x & (s - 1)) + (x & ~(s - 1));
				y = s - 1 - (y & (s - 1)) + (y & ~(s - 1));
				x &= 0xffff; y &= 0xffff;
			}
			uint32_t tmp = x; x = y; y = tmp;
		}
	}
	return d;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
path_len(const struct ord *o, size_t a, size_t b)
{
	double s = 0;

	for (size_t i = a; i < b && i + 1 < o->m; i++)
		s += dpos(o, i, i + 1);
	return s;
}

double
order_length(const struct plan *p, const uint32_t *order, size_t n,
    const double *start_xy)
{
	double s = 0;

	for (size_t i = 0; i < n; i++) {
		const struct dot *d = &p->dots[order[i]];
		if (i > 0)
			s += hypot(d->x_mm - p->dots[order[i - 1]].x_mm,
			    d->y_mm - p->dots[order[i - 1]].y_mm);
		else if (start_xy != NULL)
			s += hypot(d->x_mm - start_xy[0], d->y_mm - start_xy[1]);
	}
	return s;
}

int
order_plan(const struct plan *p, const double *start_xy, uint64_t seed,
    double budget_s, uint32_t *order, struct order_stats *st)
{
	struct ord o;
	struct order_stats s;
	uint64_t *keys = NULL;
	uint32_t save[WIN + 2];
	double t0 = now_s(), xmin = INFINITY, ymin = INFINITY, span = 0;
	size_t n = p->n, first, i, k;
	unsigned long kicks;
	size_t win;
	int virt = start_xy != NULL;

	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	for (i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	if (n <= 2 - (size_t)virt) {
		if (st)
			*st = s;
		return 0;
	}
	o.m = n + (size_t)virt;
	o.xy = malloc(o.m * 2 * sizeof(double));
	o.t = malloc(o.m * sizeof(uint32_t));
	o.pos = malloc(o.m * sizeof(uint32_t));
	o.nb = malloc(o.m * K * sizeof(uint32_t));
	o.queue = malloc(o.m * sizeof(uint32_t));
	o.inq = calloc(o.m, 1);
	keys = malloc(o.m * sizeof(uint64_t));
	if (!o.xy || !o.t || !o.pos || !o.nb || !o.queue || !o.inq || !keys)
		goto fail;
	for (i = 0; i < n; i++) {
		o.xy[2 * i] = p->dots[i].x_mm;
		o.xy[2 * i + 1] = p->dots[i].y_mm;
	}
	if (virt) {
		o.xy[2 * n] = start_xy[0];
		o.xy[2 * n + 1] = start_xy[1];
	}
	o.rng = seed;
	if (neighbours(&o) < 0)
		goto fail;
	/* Hilbert sweep over every node but the start. */
	first = virt ? n : 0;
	for (i = 0; i < o.m; i++) {
		xmin = fmin(xmin, o.xy[2 * i]);
		ymin = fmin(ymin, o.xy[2 * i + 1]);
	}
	for (i = 0; i < o.m; i++)
		span = fmax(span, fmax(o.xy[2 * i] - xmin, o.xy[2 * i + 1] -
		    ymin));
	span = span > 0 ? span : 1;
	k = 0;
	for (i = 0; i < o.m; i++) {
		uint32_t hx, hy;
		if (i == first)
			continue;
		hx = (uint32_t)((o.xy[2 * i] - xmin) / span * 65535.0);
		hy = (uint32_t)((o.xy[2 * i + 1] - ymin) / span * 65535.0);
		keys[k++] = (uint64_t)hilbert(hx, hy) << 32 | i;
	}
	qsort(keys, k, sizeof(uint64_t), cmp_u64);
	o.t[0] = (uint32_t)first;
	for (i = 0; i < k; i++)
		o.t[i + 1] = (uint32_t)(keys[i] & 0xffffffffu);
	for (i = 0; i < o.m; i++)
		o.pos[o.t[i]] = (uint32_t)i;
	s.initial_mm = path_len(&o, 0, o.m);

	o.lo = 1;
	o.hi = o.m - 1;
	for (i = 0; i < o.m; i++)
		push(&o, o.t[i]);
	local_search(&o);
	s.local_mm = path_len(&o, 0, o.m);
	s.local_s = now_s() - t0;

	/*
	 * Perturbation: a number of kicks fixed by the plan's size, so the
	 * order depends on nothing but the plan and the seed (smpplan and
	 * smpd must order a plan identically). Small plans get many kicks per
	 * dot; large ones a fixed total, which keeps 100k dots within the
	 * planning goal. The time budget is only an emergency cap: reaching
	 * it is reported (budget_hit), since the order is then no longer
	 * reproducible.
	 */
	if (budget_s <= 0)
		budget_s = ORDER_DEFAULT_CAP_S;
	/* small plans: a window over the whole path, more kicks per dot */
	win = o.m - 1 < WIN ? o.m - 1 : WIN;
	kicks = win >= 5 ? (unsigned long)o.m * (o.m < 1000 ? 20 : 3) : 0;
	if (kicks > ORDER_MAX_KICKS)
		kicks = ORDER_MAX_KICKS;
	for (unsigned long kk = 0; kk < kicks; kk++) {
		size_t a, w = win, c1, c2, c3, len;
		double before, after;
		if ((kk & 255) == 0 && now_s() - t0 > budget_s) {
			s.budget_hit = true;
			break;
		}
		a = 1 + (size_t)(rnd(&o) % (o.m - w));
		/* the window [a, a+w): saved with its neighbours' edges */
		before = path_len(&o, a - 1, a + w);
		memcpy(save, &o.t[a], w * sizeof(uint32_t));
		/* segment swap B<->C inside the window: A B C D -> A C B D */
		c1 = a + 1 + (size_t)(rnd(&o) % (w - 3));
		c2 = c1 + 1 + (size_t)(rnd(&o) % (a + w - 2 - c1));
		c3 = c2 + 1 + (size_t)(rnd(&o) % (a + w - 1 - c2));
		len = c2 - c1;
		{
			uint32_t tmp[WIN];
			memcpy(tmp, &o.t[c1], len * sizeof(uint32_t));
			memmove(&o.t[c1], &o.t[c2], (c3 - c2) *
			    sizeof(uint32_t));
			memcpy(&o.t[c1 + c3 - c2], tmp, len * sizeof(uint32_t));
		}
		/* the ends of the three new edges (t holds them already) */
		push_pos(&o, c1 - 1); push_pos(&o, c1);
		push_pos(&o, c1 + c3 - c2 - 1); push_pos(&o, c1 + c3 - c2);
		push_pos(&o, c3 - 1); push_pos(&o, c3);
		/* and two random reversals: a swap of short segments alone
		 * is one Or-opt move, which local search simply undoes */
		for (int r = 0; r < 2; r++) {
			size_t r0 = a + (size_t)(rnd(&o) % w), r1 = a +
			    (size_t)(rnd(&o) % w);
			if (r0 > r1) {
				size_t tmp = r0;
				r0 = r1;
				r1 = tmp;
			}
			/* the reversal's two new edges are what to look at */
			push_pos(&o, r0 - 1);
			push_pos(&o, r0);
			push_pos(&o, r1);
			push_pos(&o, r1 + 1);
			while (r0 < r1) {
				uint32_t tmp = o.t[r0];
				o.t[r0++] = o.t[r1];
				o.t[r1--] = tmp;
			}
		}
		for (i = a; i < a + w; i++)
			o.pos[o.t[i]] = (uint32_t)i;
		o.lo = a;
		o.hi = a + w - 1;
		local_search(&o);
		after = path_len(&o, a - 1, a + w);
		s.kicks++;
		if (after < before - 1e-9) {
			s.kicks_kept++;
			/* the whole path may improve again around it */
			continue;
		}
		memcpy(&o.t[a], save, w * sizeof(uint32_t));
		for (i = a; i < a + w; i++)
			o.pos[o.t[i]] = (uint32_t)i;
	}
	s.final_mm = path_len(&o, 0, o.m);
	k = 0;
	for (i = virt ? 1 : 0; i < o.m; i++)
		order[k++] = o.t[i];
	s.seconds = now_s() - t0;
	if (st)
		*st = s;
	free(o.xy); free(o.t); free(o.pos); free(o.nb); free(o.queue);
	free(o.inq); free(keys);
	return 0;
fail:
	free(o.xy); free(o.t); free(o.pos); free(o.nb); free(o.queue);
	free(o.inq); free(keys);
	if (st)
		*st = s;
	return -1;
}

/* ---- MST lower bound: Kruskal over the K-nearest-neighbour graph ---- */

static uint32_t
uf_find(uint32_t *par, uint32_t x)
{
	while (par[x] != x) {
		par[x] = par[par[x]];
		x = par[x];
	}
	return x;
}

struct edge {
	double w;
	uint32_t a, b;
};

static int
cmp_edge(const void *x, const void *y)
{
	double a = ((const struct edge *)x)->w, b = ((const struct edge *)y)->w;

	return a < b ? -1 : a > b;
}

double
order_mst_length(const struct plan *p)
{
	struct ord o;
	struct edge *e = NULL;
	uint32_t *par = NULL;
	size_t ne = 0, joined = 0;
	double len = -1;

	memset(&o, 0, sizeof(o));
	if (p->n < 2)
		return 0;
	o.m = p->n;
	o.xy = malloc(o.m * 2 * sizeof(double));
	o.nb = malloc(o.m * K * sizeof(uint32_t));
	e = malloc(o.m * K * sizeof(*e));
	par = malloc(o.m * sizeof(uint32_t));
	if (!o.xy || !o.nb || !e || !par)
		goto done;
	for (size_t i = 0; i < o.m; i++) {
		o.xy[2 * i] = p->dots[i].x_mm;
		o.xy[2 * i + 1] = p->dots[i].y_mm;
		par[i] = (uint32_t)i;
	}
	if (neighbours(&o) < 0)
		goto done;
	for (size_t i = 0; i < o.m; i++)
		for (int k = 0; k < K; k++) {
			uint32_t j = o.nb[i * K + k];
			if (j != UINT32_MAX && j > i) {
				e[ne].a = (uint32_t)i;
				e[ne].b = j;
				e[ne].w = dist(&o, (uint32_t)i, j);
				ne++;
			} else if (j != UINT32_MAX && j < i) {
				/* keep j->i only if i is not in j's list */
				int found = 0;
				for (int q = 0; q < K; q++)
					found |= o.nb[(size_t)j * K + q] == i;
				if (!found) {
					e[ne].a = j;
					e[ne].b = (uint32_t)i;
					e[ne].w = dist(&o, (uint32_t)i, j);
					ne++;
				}
			}
		}
	qsort(e, ne, sizeof(*e), cmp_edge);
	len = 0;
	for (size_t i = 0; i < ne && joined + 1 < o.m; i++) {
		uint32_t ra = uf_find(par, e[i].a), rb = uf_find(par, e[i].b);
		if (ra == rb)
			continue;
		par[ra] = rb;
		len += e[i].w;
		joined++;
	}
	/* A K-NN graph of clustered plans can be disconnected; the bound
	 * then misses the links between clusters and stays a lower bound. */
done:
	free(o.xy); free(o.nb); free(e); free(par);
	return len;
}
