/*
 * Dot ordering (order.h). The open path from the start S is held as a
 * cycle: a dummy node D, at distance 0 from every node, sits between the
 * path's free end and S, and the edge D-S is fixed (no move may remove it).
 * The cycle's length is the path's length, moves that change the free end
 * need no special case, and a cycle can be flipped on either side, so a
 * 2-opt reversal takes the shorter of the two and none needs a cap.
 *
 *        S --- a --- b --- ... --- z (free end)
 *        |                          |
 *        +----------- D ------------+      d(D, x) = 0, D-S fixed
 *
 * The cycle is an array t[0..m) with pos[] its inverse; nodes are numbered
 * along a Hilbert curve so that neighbours in the plane are neighbours in
 * memory. The search, in order:
 *
 * 1. Start: greedy matching over the K-nearest-neighbour graph.
 * 2. Local search: sequential 3-opt steps (every 2-opt, segment insertion
 *    with and without reversal, two reversals) over each node's K nearest
 *    neighbours, first improvement, with a queue of dirty nodes in the role
 *    of don't-look bits. During the kicks a step that does not gain may be
 *    made anyway and the search continued from the edge it would close
 *    (Lin-Kernighan, up to LK_DEPTH steps), undone if the chain never
 *    gains.
 * 3. Kicks (iterated local search): a double bridge on four edges a few
 *    dozen positions apart, then local search from its eight ends; kept if
 *    the path got shorter, else undone exactly from a log of reversals.
 *    The number of kicks depends only on the plan's size. On large plans
 *    the cycle is cut into two halves that two threads kick independently
 *    (perturb_halves), which changes nothing in the result but the time.
 *
 * Memory is smpd's limit on large plans, so the neighbour lists keep no
 * lengths (each is recomputed, the same double), the greedy start sorts
 * no edge list (a heap over the sorted neighbour lists gives the same
 * order) and each array lives only through the phase that needs it: 68
 * bytes a dot at the peak (docs/planner.md).
 */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "planner/grid.h"
#include "planner/order.h"

/* Emergency time cap of the whole ordering when the caller gives none. */
#define ORDER_DEFAULT_CAP_S 20.0
/* Kicks of the perturbation, at least and at most. */
#define ORDER_MIN_KICKS 3000UL
#define ORDER_MAX_KICKS 18000UL

#define K 8              /* neighbours per node */
#define KICK_SPAN 30     /* longest segment of a double bridge, positions */
#define EPS 1e-9         /* smallest gain taken, mm */
#define ORDER_ROUNDS 16  /* rounds of the two-core perturbation */
#define ORDER_HALVES_MIN 2000 /* nodes from which it runs on two cores */
#define LK_DEPTH 5       /* steps of a chain during the kicks */
/* Furthest apart, in positions, the ends of a step a chain makes without
 * gain: its reversals are made and often undone, and at 100k dots the
 * long ones were a third of the time for a tenth of a percent. */
#define CHAIN_REACH 5000

struct flip {
	uint32_t i, j;       /* positions reversed, i..j forward */
};

struct ord {
	size_t m;            /* cycle nodes: dots, virtual start, dummy */
	size_t ng;           /* nodes with a position (all but the dummy) */
	uint32_t s, d;       /* the start and the dummy */
	double *xy;          /* 2 per node with a position */
	uint32_t *t, *pos;
	uint32_t *nb;        /* K per node with a position, nearest first */
	uint32_t *queue;     /* ring buffer of qcap nodes */
	uint8_t *inq;
	size_t qh, qn, qcap; /* its head, count and size */
	struct flip *log;    /* reversals since the last kick */
	size_t nlog, caplog;
	int logging, log_failed;
	double gain;         /* sum of the gains of the moves made */
	int depth;           /* steps of a Lin-Kernighan chain */
	/* A part: positions lo..lo+len-1 (wrapping), owned by one thread
	 * while another works on the rest; moves stay inside it. */
	int part;
	size_t lo, len;
	const uint8_t *side; /* the part of every node */
	uint8_t me;          /* this one's */
	uint64_t rng;
};

/* Squared distance between two nodes with a position. */
static inline double
pdist2(const double *xy, size_t a, size_t b)
{
	double dx = xy[2 * a] - xy[2 * b], dy = xy[2 * a + 1] - xy[2 * b + 1];

	return dx * dx + dy * dy;
}

/* Their distance: the expression knn() sorts the neighbour lists by, so a
 * length computed here again is the same double bit for bit (and the
 * lists need not keep theirs: 64 bytes a node). */
static inline double
pdist(const double *xy, size_t a, size_t b)
{
	return sqrt(pdist2(xy, a, b));
}

/* A squared length beyond which a length is no less than g: g^2 with a
 * margin well over the rounding of both (a test without the square root,
 * which is most of the cost of reading a neighbour's length). */
static inline double
beyond(double g)
{
	return g * g * (1 + 1e-7);
}

static inline double
dist(const struct ord *o, uint32_t a, uint32_t b)
{
	if (a == o->d || b == o->d)
		return 0;
	return pdist(o->xy, a, b);
}

/* g is more than the distance from v (not the dummy) to its nearest
 * neighbour (every node has one: a plan has at least three nodes with a
 * position); the square root only where the squares are too close to
 * tell. */
static inline int
past_nearest(const struct ord *o, double g, uint32_t v)
{
	double sq = pdist2(o->xy, v, o->nb[(size_t)v * K]);

	if (sq > beyond(g))
		return 0;
	if (sq < g * g * (1 - 1e-7))
		return 1;
	return g > sqrt(sq);
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
	o->queue[(o->qh + o->qn) % o->qcap] = v;
	o->qn++;
}

static uint32_t
succ(const struct ord *o, uint32_t v)
{
	size_t p = o->pos[v] + 1;

	return o->t[p == o->m ? 0 : p];
}

static uint32_t
pred(const struct ord *o, uint32_t v)
{
	size_t p = o->pos[v];

	return o->t[p == 0 ? o->m - 1 : p - 1];
}

/* b lies on the way forward from a to c (a, b, c may coincide). */
static int
between(const struct ord *o, uint32_t a, uint32_t b, uint32_t c)
{
	size_t pa = o->pos[a], pb = o->pos[b], pc = o->pos[c];
	size_t db = pb >= pa ? pb - pa : pb + o->m - pa;
	size_t dc = pc >= pa ? pc - pa : pc + o->m - pa;

	return db <= dc;
}

/* a and b are within CHAIN_REACH positions of each other along the cycle:
 * a move between them that does not gain is cheap to make and undo. */
static int
near(const struct ord *o, uint32_t a, uint32_t b)
{
	size_t d = o->pos[a] > o->pos[b] ? o->pos[a] - o->pos[b] :
	    o->pos[b] - o->pos[a];

	return d <= CHAIN_REACH || o->m - d <= CHAIN_REACH;
}

static int
fixed(const struct ord *o, uint32_t a, uint32_t b)
{
	return (a == o->s && b == o->d) || (a == o->d && b == o->s);
}

/* Reverses positions i..j (forward, wrapping) exactly as asked. */
static void
reverse_raw(struct ord *o, size_t i, size_t j, size_t len)
{
	if (i <= j) {
		/* no wrap: the hot case, without the index checks */
		uint32_t *t = o->t, *pos = o->pos;
		for (; i < j; i++, j--) {
			uint32_t a = t[i], b = t[j];
			t[i] = b;
			pos[b] = (uint32_t)i;
			t[j] = a;
			pos[a] = (uint32_t)j;
		}
		return;
	}

	for (size_t k = 0; k < len / 2; k++) {
		uint32_t a = o->t[i], b = o->t[j];
		o->t[i] = b;
		o->pos[b] = (uint32_t)i;
		o->t[j] = a;
		o->pos[a] = (uint32_t)j;
		i = i + 1 == o->m ? 0 : i + 1;
		j = j == 0 ? o->m - 1 : j - 1;
	}
}

/* Reverses the stretch from position i forward to j, or the rest of the
 * cycle if that is shorter (the same cycle, read the other way round), and
 * logs it when a kick may have to be undone. */
static void
reverse(struct ord *o, size_t i, size_t j)
{
	size_t len = (j >= i ? j - i : j + o->m - i) + 1;
	int other;

	if (o->part) {
		/* the side that stays inside the part, however long */
		size_t oi = i >= o->lo ? i - o->lo : i + o->m - o->lo;
		size_t oj = j >= o->lo ? j - o->lo : j + o->m - o->lo;
		other = oi > oj;
	} else
		other = 2 * len > o->m;
	if (other) {
		size_t ni = j + 1 == o->m ? 0 : j + 1;
		j = i == 0 ? o->m - 1 : i - 1;
		i = ni;
		len = o->m - len;
	}
	if (o->logging) {
		if (o->nlog == o->caplog) {
			size_t cap = o->caplog ? 2 * o->caplog : 256;
			struct flip *nl = realloc(o->log, cap * sizeof(*nl));
			if (nl == NULL) {
				/* cannot be undone: the kick will be kept */
				o->log_failed = 1;
				goto go;
			}
			o->log = nl;
			o->caplog = cap;
		}
		o->log[o->nlog].i = (uint32_t)i;
		o->log[o->nlog].j = (uint32_t)j;
		o->nlog++;
	}
go:
	reverse_raw(o, i, j, len);
}

/*
 * The 2-opt move that removes edges (a,b) and (c,d) and adds (a,c) and
 * (b,d), where b follows a and d follows c in the same direction (either
 * one): the stretch b..c is reversed.
 */
static void
flip(struct ord *o, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	(void)d;
	if (succ(o, a) == b)
		reverse(o, o->pos[b], o->pos[c]);
	else
		reverse(o, o->pos[c], o->pos[b]);
}

/* A 3-opt (or 2-opt) move found by step(): its nodes and kind. */
struct move {
	uint32_t t[7];       /* t[1..6] as in step(); t[5], t[6] unused by 2-opt */
	int kind;            /* MV_2OPT, MV_2OPT2, MV_SWAP, MV_REV2 */
	double g;            /* gain before the closing edge (t_last, t1) */
	double close;        /* gain with it */
};

enum { MV_NONE, MV_2OPT, MV_2OPT2, MV_SWAP, MV_REV2 };

static void
apply_move(struct ord *o, const struct move *mv)
{
	const uint32_t *t = mv->t;

	switch (mv->kind) {
	case MV_2OPT:
		flip(o, t[1], t[2], t[4], t[3]);
		break;
	case MV_2OPT2:
		flip(o, t[1], t[2], t[4], t[3]);
		flip(o, t[1], t[4], t[6], t[5]);
		break;
	case MV_SWAP:
		flip(o, t[1], t[2], t[3], t[4]);
		flip(o, t[1], t[3], t[6], t[5]);
		flip(o, t[3], t[5], t[2], t[4]);
		break;
	case MV_REV2:
		flip(o, t[1], t[2], t[6], t[5]);
		flip(o, t[2], t[5], t[3], t[4]);
		break;
	}
}

/* (a,b) is one of the n edges added earlier in the same chain. */
static int
added(const uint32_t *add, int n, uint32_t a, uint32_t b)
{
	for (int i = 0; i < n; i++)
		if ((add[2 * i] == a && add[2 * i + 1] == b) ||
		    (add[2 * i] == b && add[2 * i + 1] == a))
			return 1;
	return 0;
}

/*
 * One sequential 3-opt step from t1, where t2 is t1's tour neighbour and G
 * the gain so far counting the removal of (t1,t2). "Forward" below means
 * the direction from t1 to t2 (SUC, PRE and BTW read the cycle that way).
 * Removed edges are (t1,t2), (t3,t4), (t5,t6); added ones (t2,t3),
 * (t4,t5), (t6,t1); every partial gain must stay positive (Lin-Kernighan's
 * gain criterion), so the sorted neighbour lists can be cut short.
 *
 *   t4 before t3: closing (t4,t1) is a 2-opt move; or, after it, a second
 *     2-opt from (t1,t4) through t5, t6 (two reversals);
 *   t4 after t3: t2..t3 would close on itself, so t5 must lie in t2..t3
 *     and (t5,t6) reopens it: segment insertion (t6 after t5: t2..t5 and
 *     t6..t3 trade places) or two reversals in place (t6 before t5).
 *
 * The first move whose closing gain is positive goes into *hit (returns
 * 1). Otherwise *best gets the move with the largest gain before closing
 * that could still pay for one more edge (returns 0; best->kind MV_NONE if
 * there is none): the next step of the chain starts from it. Edges added
 * earlier in the chain (add, nadd) are not removed again.
 */
static int
step(struct ord *o, uint32_t t1, uint32_t t2, double G, const uint32_t *add,
    int nadd, struct move *hit, struct move *best)
{
	int dir = succ(o, t1) != t2;

	best->kind = MV_NONE;
	best->g = 0;
#define SUC(v) (dir ? pred(o, v) : succ(o, v))
#define PRE(v) (dir ? succ(o, v) : pred(o, v))
#define BTW(a, b, c) (dir ? between(o, c, b, a) : between(o, a, b, c))
	/* in a part, another thread owns every node outside it */
#define OUT(v) (o->part && o->side[v] != o->me)
#define KEEP(k, a, b, c, d_, e, f, gg) do {                                   \
	double g_ = (gg);                                                     \
	uint32_t l_ = (k) == MV_2OPT ? (d_) : (f);                            \
	if (g_ > best->g && l_ != o->d && past_nearest(o, g_, l_) &&         \
	    near(o, a, c) && ((k) == MV_2OPT || near(o, a, e))) {             \
		best->kind = (k);                                             \
		best->t[1] = (a); best->t[2] = (b); best->t[3] = (c);         \
		best->t[4] = (d_); best->t[5] = (e); best->t[6] = (f);        \
		best->g = g_;                                                 \
	}                                                                     \
} while (0)
#define HIT(k, a, b, c, d_, e, f, gg, cl) do {                                \
	hit->kind = (k);                                                      \
	hit->t[1] = (a); hit->t[2] = (b); hit->t[3] = (c);                    \
	hit->t[4] = (d_); hit->t[5] = (e); hit->t[6] = (f);                   \
	hit->g = (gg);                                                        \
	hit->close = (cl);                                                    \
	return 1;                                                             \
} while (0)
	uint32_t s2 = SUC(t2), p2 = PRE(t2);
	double far1 = beyond(G);

	for (int k3 = 0; k3 < K && t2 != o->d; k3++) {
		uint32_t t3 = o->nb[(size_t)t2 * K + k3];
		double g1, sq;
		if (t3 == UINT32_MAX)
			break;
		/* skipped before its length is computed: the lengths
		 * ascend, so a later one breaks where this would have */
		if (OUT(t3) || t3 == s2 || t3 == p2)
			continue;
		/* no gain left past a neighbour as far as G */
		if ((sq = pdist2(o->xy, t2, t3)) > far1)
			break;
		g1 = G - sqrt(sq);
		if (g1 <= EPS)
			break;
		for (int c4 = 0; c4 < 2; c4++) {
			uint32_t t4 = c4 ? SUC(t3) : PRE(t3);
			double g1b;
			if (OUT(t4) || fixed(o, t3, t4) || (nadd > 0 && added(add, nadd,
			    t3, t4)))
				continue;
			g1b = g1 + dist(o, t3, t4);
			if (c4 == 0) {
				double cl = g1b - dist(o, t4, t1);
				if (cl > EPS)
					HIT(MV_2OPT, t1, t2, t3, t4, 0, 0, g1b,
					    cl);
				KEEP(MV_2OPT, t1, t2, t3, t4, 0, 0, g1b);
			}
			uint32_t s4 = SUC(t4), p4 = PRE(t4);
			double far2 = beyond(g1b);
			for (int k5 = 0; k5 < K && t4 != o->d; k5++) {
				uint32_t t5 = o->nb[(size_t)t4 * K + k5];
				double g2, sq5;
				if (t5 == UINT32_MAX)
					break;
				if (OUT(t5) || t5 == t1 || t5 == t3 ||
				    t5 == s4 || t5 == p4)
					continue;
				if ((sq5 = pdist2(o->xy, t4, t5)) > far2)
					break;
				g2 = g1b - sqrt(sq5);
				if (g2 <= EPS)
					break;
				if (c4 == 0) {
					/* after the first 2-opt, t2..t4 runs
					 * backwards */
					uint32_t t6 = BTW(t2, t5, t4) ? SUC(t5) :
					    PRE(t5);
					double g3, cl;
					if (OUT(t6) || fixed(o, t5, t6) ||
					    (nadd > 0 && added(add, nadd, t5, t6)))
						continue;
					g3 = g2 + dist(o, t5, t6);
					cl = g3 - dist(o, t6, t1);
					if (cl > EPS)
						HIT(MV_2OPT2, t1, t2, t3, t4, t5,
						    t6, g3, cl);
					KEEP(MV_2OPT2, t1, t2, t3, t4, t5, t6,
					    g3);
					continue;
				}
				if (!BTW(t2, t5, t3))
					continue;
				for (int c6 = 0; c6 < 2; c6++) {
					uint32_t t6 = c6 ? PRE(t5) : SUC(t5);
					double g3, cl;
					if ((c6 == 0 && t5 == t3) ||
					    (c6 == 1 && t5 == t2) || OUT(t6) ||
					    fixed(o, t5, t6) || (nadd > 0 &&
					    added(add, nadd, t5, t6)))
						continue;
					g3 = g2 + dist(o, t5, t6);
					cl = g3 - dist(o, t6, t1);
					if (cl > EPS)
						HIT(c6 ? MV_REV2 : MV_SWAP, t1, t2,
						    t3, t4, t5, t6, g3, cl);
					KEEP(c6 ? MV_REV2 : MV_SWAP, t1, t2, t3,
					    t4, t5, t6, g3);
				}
			}
		}
	}
	return 0;
#undef SUC
#undef PRE
#undef BTW
#undef OUT
#undef KEEP
#undef HIT
}

/*
 * Lin-Kernighan from t1 with 3-opt steps: if no step closes with a gain,
 * the most promising one is made anyway and the search goes on from the
 * edge it would close, up to LK_DEPTH steps; a chain that never gains is
 * undone. Returns 1 if the path got shorter.
 */
static int
improve(struct ord *o, uint32_t t1)
{
	if (o->part && o->side[t1] != o->me)
		return 0;
	for (int dir = 0; dir < 2; dir++) {
		uint32_t t2 = dir ? pred(o, t1) : succ(o, t1);
		uint32_t add[4 * LK_DEPTH], touched[6 * LK_DEPTH];
		struct move hit, best;
		size_t mark = o->nlog;
		int was = o->logging, nadd = 0, nt = 0;
		double G;

		if (fixed(o, t1, t2) || (o->part && o->side[t2] != o->me))
			continue;
		G = dist(o, t1, t2);
		o->logging = 1;
		for (int depth = 0; depth < o->depth; depth++) {
			if (step(o, t1, t2, G, add, nadd, &hit, &best)) {
				apply_move(o, &hit);
				for (int i = 1; i <= (hit.kind == MV_2OPT ? 4 : 6);
				    i++)
					push(o, hit.t[i]);
				for (int i = 0; i < nt; i++)
					push(o, touched[i]);
				o->gain += hit.close;
				if (!was)
					o->nlog = 0;
				o->logging = was;
				return 1;
			}
			if (best.kind == MV_NONE || depth + 1 == o->depth)
				break;
			apply_move(o, &best);
			add[2 * nadd] = best.t[2];
			add[2 * nadd + 1] = best.t[3];
			nadd++;
			for (int i = 1; i <= (best.kind == MV_2OPT ? 4 : 6);
			    i++)
				touched[nt++] = best.t[i];
			if (best.kind != MV_2OPT) {
				add[2 * nadd] = best.t[4];
				add[2 * nadd + 1] = best.t[5];
				nadd++;
				t2 = best.t[6];
			} else
				t2 = best.t[4];
			G = best.g;
		}
		/* no gain: undo the chain */
		while (o->nlog > mark) {
			size_t i, j;
			o->nlog--;
			i = o->log[o->nlog].i;
			j = o->log[o->nlog].j;
			reverse_raw(o, i, j, (j >= i ? j - i : j + o->m - i) +
			    1);
		}
		o->logging = was;
	}
	return 0;
}

static void
local_search(struct ord *o)
{
	while (o->qn > 0) {
		uint32_t a = o->queue[o->qh];
		o->qh = o->qh + 1 == o->qcap ? 0 : o->qh + 1;
		o->qn--;
		o->inq[a] = 0;
		while (improve(o, a))
			;
	}
}

/* The K nearest of n points (xy interleaved) for each, nearest first (by
 * pdist(), ties in the grid's order), through a grid of about 2 points a
 * cell; a list with fewer than K points ends in UINT32_MAX. */
static int
knn(const double *xy, size_t n, uint32_t *nbl)
{
	struct pgrid g;
	double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY;
	double ymax = -INFINITY, cell;

	for (size_t i = 0; i < n; i++) {
		xmin = fmin(xmin, xy[2 * i]); xmax = fmax(xmax, xy[2 * i]);
		ymin = fmin(ymin, xy[2 * i + 1]);
		ymax = fmax(ymax, xy[2 * i + 1]);
	}
	cell = sqrt(fmax((xmax - xmin) * (ymax - ymin), 1e-6) * 2.0 /
	    (double)n);
	if (pgrid_build(&g, xy, 2, n, cell) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint32_t best[K];
		double bd[K];
		int nb = 0;
		long cx = pgrid_cx(&g, xy[2 * i]);
		long cy = pgrid_cy(&g, xy[2 * i + 1]);
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
						d = pdist(xy, i, j);
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
			/* every point within r cells has been seen */
			if ((nb == K && bd[K - 1] <= (double)r * g.cell_mm) ||
			    (r > g.nx && r > g.ny))
				break;
		}
		for (int k = 0; k < K; k++)
			nbl[i * K + k] = k < nb ? best[k] : UINT32_MAX;
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

/* Position k of the part (the whole cycle when there are no parts). */
static size_t
at(const struct ord *o, size_t k)
{
	k += o->lo;
	return k >= o->m ? k - o->m : k;
}

/* Double bridge on part positions p+1..p+l1+l2+l3: A B C D E -> A D C B E,
 * with B, C, D the l1, l2, l3 positions after p. */
static void
bridge(struct ord *o, size_t p, size_t l1, size_t l2, size_t l3)
{
	uint32_t tmp[3 * KICK_SPAN];
	size_t k, q, n = l1 + l2 + l3;

	for (k = 0; k < n; k++)
		tmp[k] = o->t[at(o, p + 1 + k)];
	for (k = 0; k < n; k++) {
		/* D (tmp[l1+l2..n)), then C, then B */
		uint32_t v = k < l3 ? tmp[l1 + l2 + k] : k < l3 + l2 ?
		    tmp[l1 + k - l3] : tmp[k - l3 - l2];
		q = at(o, p + 1 + k);
		o->t[q] = v;
		o->pos[v] = (uint32_t)q;
	}
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Length of the cycle, which is the open path's (D's edges cost 0). */
static double
cycle_len(const struct ord *o)
{
	double s = 0;

	for (size_t i = 0; i < o->m; i++)
		s += dist(o, o->t[i], o->t[i + 1 == o->m ? 0 : i + 1]);
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

/* Kicks for a plan of n dots, a function of n alone: one per dot, at least
 * ORDER_MIN_KICKS (0.2 s at 300 dots, where more gained 0.01%) and at
 * most ORDER_MAX_KICKS (about 1 s on two cores at 100k dots, within the
 * 2 s plan step). */
static unsigned long
kick_count(size_t n)
{
	unsigned long k = (unsigned long)n;

	if (k < ORDER_MIN_KICKS)
		k = ORDER_MIN_KICKS;
	return k > ORDER_MAX_KICKS ? ORDER_MAX_KICKS : k;
}

/*
 * Iterated 3-opt: each kick is a double bridge on three edges at most
 * 2 * KICK_SPAN positions apart, repaired by local search with its
 * reversals logged. A kick that does not shorten the path is undone
 * exactly (reversals replayed backwards, then the bridge), so the cycle
 * after each kick depends only on the one before and the random numbers.
 * Works on the part o->lo, o->len (the whole cycle if o->part is 0).
 */
static void
perturb(struct ord *o, unsigned long kicks, double t0, double cap_s,
    struct order_stats *st)
{
	size_t span = (o->len - 2) / 3;

	if (span > KICK_SPAN)
		span = KICK_SPAN;
	for (unsigned long kk = 0; kk < kicks; kk++) {
		size_t l1, l2, l3, p;
		uint32_t a, b1, b2, c1, c2, d1, d2, e;
		double delta;
		if ((kk & 255) == 0 && now_s() - t0 > cap_s) {
			st->budget_hit = true;
			break;
		}
		l1 = 1 + (size_t)(rnd(o) % span);
		l2 = 1 + (size_t)(rnd(o) % span);
		l3 = 1 + (size_t)(rnd(o) % span);
		p = (size_t)(rnd(o) % (o->len - l1 - l2 - l3 - 1));
		a = o->t[at(o, p)];
		b1 = o->t[at(o, p + 1)];
		b2 = o->t[at(o, p + l1)];
		c1 = o->t[at(o, p + l1 + 1)];
		c2 = o->t[at(o, p + l1 + l2)];
		d1 = o->t[at(o, p + l1 + l2 + 1)];
		d2 = o->t[at(o, p + l1 + l2 + l3)];
		e = o->t[at(o, p + l1 + l2 + l3 + 1)];
		st->kicks++;
		if (fixed(o, a, b1) || fixed(o, b2, c1) || fixed(o, c2, d1) ||
		    fixed(o, d2, e))
			continue;
		delta = dist(o, a, d1) + dist(o, d2, c1) + dist(o, c2, b1) +
		    dist(o, b2, e) - dist(o, a, b1) - dist(o, b2, c1) -
		    dist(o, c2, d1) - dist(o, d2, e);
		bridge(o, p, l1, l2, l3);
		push(o, a); push(o, b1); push(o, b2); push(o, c1);
		push(o, c2); push(o, d1); push(o, d2); push(o, e);
		o->gain = 0;
		o->nlog = 0;
		o->log_failed = 0;
		o->logging = 1;
		local_search(o);
		o->logging = 0;
		if (delta - o->gain < -EPS || o->log_failed) {
			st->kicks_kept++;
			continue;
		}
		for (size_t q = o->nlog; q-- > 0;) {
			size_t i = o->log[q].i, j = o->log[q].j;
			reverse_raw(o, i, j, (j >= i ? j - i : j + o->m - i) +
			    1);
		}
		bridge(o, p, l3, l2, l1);
	}
}

struct part_job {
	struct ord w;
	int init;            /* local search over the whole half first */
	unsigned long kicks;
	double t0, cap_s;
	struct order_stats st;
};

static void *
part_run(void *arg)
{
	struct part_job *j = arg;

	if (j->init) {
		for (size_t k = 0; k < j->w.len; k++)
			push(&j->w, j->w.t[at(&j->w, k)]);
		local_search(&j->w);
	}
	perturb(&j->w, j->kicks, j->t0, j->cap_s, &j->st);
	return NULL;
}

/*
 * The kicks on two cores, deterministically: in each round the cycle is
 * cut into two halves of positions, and each half gets its own kicks,
 * random numbers, queue and log, with every move kept inside it (all six
 * nodes of a move in the half, every reversal the side inside it). A
 * thread then reads and writes only its own half, plus the two nodes at
 * each cut, which neither may move; so the halves' results do not depend
 * on timing, and running them one after the other gives the same cycle.
 * The cuts move by a fraction of a half from round to round, so no edge
 * stays out of reach. Returns -1 on allocation failure (the cycle is then
 * still a valid one).
 */
static int
perturb_halves(struct ord *o, unsigned rounds, int init, unsigned long kicks,
    double t0, double cap_s, struct order_stats *st)
{
	struct part_job job[2];
	uint8_t *side = malloc(o->m);
	size_t half = o->m / 2;
	int rc = -1;

	memset(job, 0, sizeof(job));
	if (side == NULL)
		goto done;
	for (unsigned r = 0; r < rounds; r++) {
		pthread_t th;
		int threaded;
		for (int h = 0; h < 2; h++) {
			struct ord *w = &job[h].w;
			struct flip *log = w->log;
			size_t caplog = w->caplog;
			*w = *o;
			w->log = h ? log : o->log;
			w->caplog = h ? caplog : o->caplog;
			w->nlog = 0;
			w->qh = w->qn = 0;
			w->part = 1;
			w->me = (uint8_t)h;
			w->side = side;
			w->lo = (r * half / rounds + h * half) % o->m;
			w->len = h ? o->m - half : half;
			/* a half queues only its own nodes: its share of
			 * the queue is enough */
			w->queue = o->queue + (h ? half : 0);
			w->qcap = w->len;
			w->rng = rnd(o);
			for (size_t k = 0; k < w->len; k++)
				side[o->t[at(w, k)]] = (uint8_t)h;
			job[h].init = init;
			job[h].kicks = kicks / (2 * rounds) + (r * 2 +
			    (unsigned)h < kicks % (2 * rounds));
			job[h].t0 = t0;
			job[h].cap_s = cap_s;
		}
		threaded = pthread_create(&th, NULL, part_run, &job[1]) == 0;
		part_run(&job[0]);
		if (threaded)
			pthread_join(th, NULL);
		else
			part_run(&job[1]);
		/* job 0 used o's log; keep what it grew */
		o->log = job[0].w.log;
		o->caplog = job[0].w.caplog;
		for (int h = 0; h < 2; h++) {
			st->kicks += job[h].st.kicks;
			st->kicks_kept += job[h].st.kicks_kept;
			st->budget_hit |= job[h].st.budget_hit;
			memset(&job[h].st, 0, sizeof(job[h].st));
		}
	}
	rc = 0;
done:
	free(job[1].w.log);
	free(side);
	return rc;
}

/*
 * Stable LSD radix sort of n records of `size` bytes by a 64-bit key read
 * at byte offset `off`, 16 bits a pass, over the passes from bit `from`
 * up; a pass where every key has the same digit is skipped (the nodes'
 * Hilbert keys, in a tenth of qsort's time at 100k dots). Returns -1 on
 * allocation failure (the records are then untouched).
 */
static int
radix_sort(void *base, size_t n, size_t size, size_t off, int from)
{
	unsigned char *a = base, *b = malloc(n * size);
	size_t *cnt = malloc(65536 * sizeof(size_t));
	int rc = -1;

	if (b == NULL || cnt == NULL)
		goto done;
	for (int shift = from; shift < 64; shift += 16) {
		size_t sum = 0;
		unsigned char *tmp;
		memset(cnt, 0, 65536 * sizeof(size_t));
		for (size_t i = 0; i < n; i++) {
			uint64_t k;
			memcpy(&k, a + i * size + off, sizeof(k));
			cnt[(k >> shift) & 0xffff]++;
		}
		if (n > 0 && cnt[0] == n)
			continue;
		for (size_t d = 0; d < 65536; d++) {
			size_t c = cnt[d];
			if (c == n)
				break;      /* one digit only: nothing moves */
			cnt[d] = sum;
			sum += c;
		}
		if (sum == 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			uint64_t k;
			memcpy(&k, a + i * size + off, sizeof(k));
			memcpy(b + cnt[(k >> shift) & 0xffff]++ * size, a + i *
			    size, size);
		}
		tmp = a;
		a = b;
		b = tmp;
	}
	if (a != base) {
		memcpy(base, a, n * size);
		b = a;
	}
	rc = 0;
done:
	free(b);
	free(cnt);
	return rc;
}

static uint32_t
uf_find(uint32_t *par, uint32_t x)
{
	while (par[x] != x) {
		par[x] = par[par[x]];
		x = par[x];
	}
	return x;
}

/*
 * The greedy start's fragments, in adj: two slots a node, its neighbours
 * on its fragment (a path). A node with a free side, an end, has in its
 * second slot END | the fragment's other end (itself when alone) instead:
 * whether an edge between two ends would close a cycle is one read, with
 * no union-find array (4 bytes a node).
 */
#define END 0x80000000u

static int
is_end(const uint32_t *adj, uint32_t a)
{
	return (adj[2 * a + 1] & END) != 0;
}

static uint32_t
other_end(const uint32_t *adj, uint32_t a)
{
	return adj[2 * a + 1] & ~END;
}

/* Joins the ends a and b of two fragments into one. */
static void
join(uint32_t *adj, uint32_t a, uint32_t b)
{
	uint32_t oa = other_end(adj, a), ob = other_end(adj, b);

	adj[2 * a + (adj[2 * a] != UINT32_MAX)] = b;
	adj[2 * b + (adj[2 * b] != UINT32_MAX)] = a;
	adj[2 * oa + 1] = END | ob;
	adj[2 * ob + 1] = END | oa;
}

/*
 * An edge of the greedy start as one 64-bit word: the high 32 bits of its
 * length's IEEE double (sign, exponent and 20 bits of mantissa: monotonic
 * in the length, to a part in a million) and, low, its slot in a
 * neighbour list (owner * K + rank), which names both ends. Edges are
 * taken in the order of these words, shortest first and, within a part in
 * a million, by slot: an order that depends on the plan alone.
 */
static uint64_t
edge_key(double w, size_t slot)
{
	uint64_t bits;

	memcpy(&bits, &w, sizeof(bits));
	return (bits & 0xffffffff00000000ull) | (uint32_t)slot;
}

/* Neighbour lists whose edges the greedy start takes: n owners with xy
 * (interleaved) and K neighbours each, nearest first; from[i] is owner
 * i's node (NULL: the owner is the node). once: a pair in both its ends'
 * lists counts from the lower one's only. */
struct gscan {
	const double *xy;
	const uint32_t *list, *from;
	size_t n;
	int once;
	uint32_t *adj;
};

static uint32_t
gnode(const struct gscan *g, uint32_t i)
{
	return g->from != NULL ? g->from[i] : i;
}

/* The key of owner i's first edge from rank k on that could still be
 * taken, UINT64_MAX if none. Edges whose far end is no longer an end are
 * passed over: their turn would come later, when it still would not be. */
static uint64_t
next_edge(const struct gscan *g, uint32_t i, int k)
{
	for (; k < K; k++) {
		uint32_t j = g->list[(size_t)i * K + k];
		if (j == UINT32_MAX)
			break;
		if (j == i || !is_end(g->adj, gnode(g, j)))
			continue;
		if (g->once && j < i) {
			int listed = 0;
			for (int q = 0; q < K; q++)
				listed |= g->list[(size_t)j * K + q] == i;
			if (listed)
				continue;
		}
		return edge_key(pdist(g->xy, i, j), (size_t)i * K + k);
	}
	return UINT64_MAX;
}

static void
sift_down(uint64_t *h, size_t n, size_t i)
{
	uint64_t v = h[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

/*
 * Takes the lists' edges in the order of their keys, each where both its
 * ends are ends of different fragments; adds to *took how many it took.
 * A list is sorted, so its edges' keys ascend, and a min-heap of each
 * list's next edge gives every edge in the order a sort of all of them
 * would, from 8 bytes a list where the edges took 64 and their sort as
 * much again. Returns -1 on allocation failure.
 */
static int
take_edges(const struct gscan *g, size_t *took)
{
	uint64_t *h = malloc((g->n ? g->n : 1) * sizeof(*h));
	size_t hn = 0;

	if (h == NULL)
		return -1;
	for (size_t i = 0; i < g->n; i++) {
		uint64_t key = next_edge(g, (uint32_t)i, 0);
		if (key != UINT64_MAX)
			h[hn++] = key;
	}
	for (size_t i = hn / 2; i-- > 0;)
		sift_down(h, hn, i);
	while (hn > 0) {
		uint32_t slot = (uint32_t)(h[0] & 0xffffffffu);
		uint32_t i = slot / K, a = gnode(g, i);
		uint32_t b = gnode(g, g->list[slot]);
		uint64_t key;
		if (is_end(g->adj, a) && is_end(g->adj, b) &&
		    other_end(g->adj, a) != b) {
			join(g->adj, a, b);
			(*took)++;
		}
		key = is_end(g->adj, a) ? next_edge(g, i, (int)(slot % K) + 1) :
		    UINT64_MAX;
		if (key != UINT64_MAX)
			h[0] = key;
		else
			h[0] = h[--hn];
		sift_down(h, hn, 0);
	}
	free(h);
	return 0;
}

/* Reverses t[i..j]. */
static void
reverse_ids(uint32_t *t, size_t i, size_t j)
{
	for (; i < j; i++, j--) {
		uint32_t v = t[i];
		t[i] = t[j];
		t[j] = v;
	}
}

/*
 * The first cycle, by greedy matching: the neighbour graph's edges,
 * shortest first, each kept if both its ends still have a free side and
 * it joins two fragments. Fragments' ends are then matched the same way
 * over each end's K nearest ends, round after round (each round takes at
 * least the shortest link between two fragments, so it ends), until one
 * path is left. Much better than the Hilbert sweep as a start for 3-opt
 * (about 1.2 against 1.45 x MST), and it leads to a better local optimum.
 * Allocates t and pos and writes the cycle S ... D into them; 8 bytes a
 * node (adj) and 8 a list (the heap) besides the search's own arrays.
 */
static int
greedy(struct ord *o)
{
	size_t ng = o->ng, joined = 0, nend, i, at = 0;
	uint32_t *adj = malloc(2 * ng * sizeof(uint32_t));
	uint32_t *ends = NULL, *enb = NULL, *t, cur, prev, a, b;
	double *exy = NULL;
	struct gscan g;
	int rc = -1;

	if (adj == NULL)
		goto done;
	for (i = 0; i < ng; i++) {
		adj[2 * i] = UINT32_MAX;
		adj[2 * i + 1] = END | (uint32_t)i;
	}
	memset(&g, 0, sizeof(g));
	g.xy = o->xy;
	g.list = o->nb;
	g.n = ng;
	g.once = 1;
	g.adj = adj;
	if (take_edges(&g, &joined) < 0)
		goto done;
	for (int round = 0; joined + 1 < ng && round < 64; round++) {
		nend = 0;
		for (i = 0; i < ng; i++)
			nend += is_end(adj, (uint32_t)i);
		if (nend == 0)     /* not with fragments left: for the analyser */
			break;
		ends = malloc(nend * sizeof(uint32_t));
		exy = malloc(2 * nend * sizeof(double));
		enb = malloc(nend * K * sizeof(uint32_t));
		if (ends == NULL || exy == NULL || enb == NULL)
			goto done;
		nend = 0;
		for (i = 0; i < ng; i++)
			if (is_end(adj, (uint32_t)i)) {
				ends[nend] = (uint32_t)i;
				exy[2 * nend] = o->xy[2 * i];
				exy[2 * nend + 1] = o->xy[2 * i + 1];
				nend++;
			}
		if (knn(exy, nend, enb) < 0)
			goto done;
		/* both directions: the nearest link between two fragments is
		 * in the list of at least one of its ends, not always both */
		g.xy = exy;
		g.list = enb;
		g.from = ends;
		g.n = nend;
		g.once = 0;
		if (take_edges(&g, &joined) < 0)
			goto done;
		free(ends); free(exy); free(enb);
		ends = enb = NULL;
		exy = NULL;
	}
	/* Each round takes a good share of the links left; should a
	 * pathological plan leave fragments after 64, they are chained in
	 * node order, each from its lower-numbered end. */
	if (joined + 1 < ng) {
		uint32_t last = UINT32_MAX;
		for (i = 0; i < ng; i++) {
			uint32_t oe;
			if (!is_end(adj, (uint32_t)i) ||
			    other_end(adj, (uint32_t)i) < i)
				continue;
			oe = other_end(adj, (uint32_t)i);
			if (last != UINT32_MAX)
				join(adj, last, (uint32_t)i);
			last = oe;
		}
	}
	/* walk the path from its lower-numbered end into t, ... */
	if ((o->t = t = malloc(o->m * sizeof(uint32_t))) == NULL)
		goto done;
	for (cur = 0; !is_end(adj, cur); cur++)
		;
	prev = UINT32_MAX;
	for (i = 0; i < ng; i++) {
		uint32_t next = adj[2 * cur] != prev ? adj[2 * cur] :
		    adj[2 * cur + 1];
		if (cur == o->s)
			at = i;
		t[i] = cur;
		prev = cur;
		cur = next;
	}
	free(adj);
	adj = NULL;
	/* ... close it, and turn it so that S comes first and D goes beside
	 * it in place of the longer of S's two edges */
	i = at;
	a = t[(i + 1) % ng];
	b = t[(i + ng - 1) % ng];
	if (i > 0) {
		reverse_ids(t, 0, i - 1);
		reverse_ids(t, i, ng - 1);
		reverse_ids(t, 0, ng - 1);
	}
	if (dist(o, o->s, a) >= dist(o, o->s, b))
		reverse_ids(t, 1, ng - 1);
	t[ng] = o->d;
	if ((o->pos = malloc(o->m * sizeof(uint32_t))) == NULL)
		goto done;
	for (i = 0; i < o->m; i++)
		o->pos[t[i]] = (uint32_t)i;
	rc = 0;
done:
	free(adj); free(ends); free(enb); free(exy);
	return rc;
}

/* Coordinate c (0 x, 1 y) of node i in the plan's numbering: the dots,
 * then the virtual start if there is one. */
static double
node_x(const struct plan *p, const double *start_xy, size_t i, int c)
{
	if (start_xy != NULL && i == p->n)
		return start_xy[c];
	return c ? p->dots[i].y_mm : p->dots[i].x_mm;
}

int
order_plan(const struct plan *p, const double *start_xy, uint64_t seed,
    double budget_s, uint32_t *order, struct order_stats *st)
{
	struct ord o;
	struct order_stats s;
	uint64_t *keys = NULL;
	uint32_t *orig = NULL;
	double t0 = now_s(), xmin = INFINITY, ymin = INFINITY, span = 0;
	size_t n = p->n, i, k, at, first;
	int virt = start_xy != NULL, back, halves;

	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	for (i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	if (n <= 2 - (size_t)virt) {
		if (st)
			*st = s;
		return 0;
	}
	/*
	 * Each array is allocated when it is first needed and the greedy
	 * start's freed before the search's are allocated, so the peak is
	 * the larger of the two phases, not their sum (docs/planner.md).
	 */
	o.ng = n + (size_t)virt;
	o.m = o.ng + 1;
	keys = malloc(o.ng * sizeof(uint64_t));
	orig = malloc(o.ng * sizeof(uint32_t));
	if (!keys || !orig)
		goto fail;
	/*
	 * Nodes are renumbered along a Hilbert curve: node 0 is the start,
	 * 1..ng-1 the other nodes in curve order, ng the dummy. That keeps a
	 * node's neighbours close to it in memory (xy, pos, neighbour lists),
	 * so the search's random reads stay in cache on large plans.
	 */
	first = virt ? n : 0;
	for (i = 0; i < o.ng; i++) {
		xmin = fmin(xmin, node_x(p, start_xy, i, 0));
		ymin = fmin(ymin, node_x(p, start_xy, i, 1));
	}
	for (i = 0; i < o.ng; i++)
		span = fmax(span, fmax(node_x(p, start_xy, i, 0) - xmin,
		    node_x(p, start_xy, i, 1) - ymin));
	span = span > 0 ? span : 1;
	k = 0;
	for (i = 0; i < o.ng; i++) {
		uint32_t hx, hy;
		if (i == first)
			continue;
		hx = (uint32_t)((node_x(p, start_xy, i, 0) - xmin) / span *
		    65535.0);
		hy = (uint32_t)((node_x(p, start_xy, i, 1) - ymin) / span *
		    65535.0);
		keys[k++] = (uint64_t)hilbert(hx, hy) << 32 | i;
	}
	/* curve index in the high half, node in the low (already in order) */
	if (radix_sort(keys, k, sizeof(uint64_t), 0, 32) < 0)
		qsort(keys, k, sizeof(uint64_t), cmp_u64);
	orig[0] = (uint32_t)first;
	for (i = 0; i < k; i++)
		orig[i + 1] = (uint32_t)(keys[i] & 0xffffffffu);
	free(keys);
	keys = NULL;
	o.xy = malloc(o.ng * 2 * sizeof(double));
	o.nb = malloc(o.ng * K * sizeof(uint32_t));
	if (!o.xy || !o.nb)
		goto fail;
	for (i = 0; i < o.ng; i++) {
		o.xy[2 * i] = node_x(p, start_xy, orig[i], 0);
		o.xy[2 * i + 1] = node_x(p, start_xy, orig[i], 1);
	}
	o.s = 0;
	o.d = (uint32_t)o.ng;
	o.rng = seed;
	if (knn(o.xy, o.ng, o.nb) < 0)
		goto fail;
	if (greedy(&o) < 0)
		goto fail;
	/* zeroed: no cost, as every slot is written in the first pass, and
	 * the static analyser cannot tell that a slot is written first */
	o.queue = calloc(o.m, sizeof(uint32_t));
	o.qcap = o.m;
	o.inq = calloc(o.m, 1);
	if (!o.queue || !o.inq)
		goto fail;
	s.initial_mm = cycle_len(&o);

	if (budget_s <= 0)
		budget_s = ORDER_DEFAULT_CAP_S;
	o.lo = 0;
	o.len = o.m;
	halves = o.m >= ORDER_HALVES_MIN;
	/* local search: on a large plan each half first, on two cores; then
	 * a pass over every node (the only one on a small plan), which after
	 * the halves has little more to do than what lay across the cuts */
	o.depth = 1;
	if (halves && perturb_halves(&o, 1, 1, 0, t0, budget_s, &s) < 0)
		goto fail;
	for (i = 0; i < o.m; i++)
		push(&o, o.t[i]);
	local_search(&o);
	s.local_mm = cycle_len(&o);
	s.local_s = now_s() - t0;

	o.depth = LK_DEPTH;
	if (halves) {
		if (perturb_halves(&o, ORDER_ROUNDS, 0, kick_count(n), t0,
		    budget_s, &s) < 0)
			goto fail;
	} else if (o.m >= 8)
		perturb(&o, kick_count(n), t0, budget_s, &s);
	/* the halves could not make moves across their cuts: one more pass
	 * over every node leaves no move of the search that gains */
	o.part = 0;
	o.depth = 1;
	for (i = 0; i < o.m; i++)
		push(&o, o.t[i]);
	local_search(&o);
	s.final_mm = cycle_len(&o);

	/* read the cycle from S away from D (S itself only if it is a dot) */
	at = o.pos[o.s];
	back = succ(&o, o.s) == o.d;
	k = 0;
	for (i = virt ? 1 : 0; i + 1 < o.m; i++)
		order[k++] = orig[o.t[back ? (at + o.m - i) % o.m : (at + i) %
		    o.m]];
	s.seconds = now_s() - t0;
	if (st)
		*st = s;
	free(o.xy); free(o.t); free(o.pos); free(o.nb); free(o.queue);
	free(o.inq); free(o.log); free(keys); free(orig);
	return 0;
fail:
	free(o.xy); free(o.t); free(o.pos); free(o.nb); free(o.queue);
	free(o.inq); free(o.log); free(keys); free(orig);
	if (st)
		*st = s;
	return -1;
}

/* ---- MST lower bound: Kruskal over the K-nearest-neighbour graph ---- */

/* A list's next edge in the MST's heap, with its exact length. */
struct mst_edge {
	double w;
	uint32_t slot;       /* owner * K + rank */
};

static int
mst_less(const struct mst_edge *a, const struct mst_edge *b)
{
	return a->w < b->w || (a->w == b->w && a->slot < b->slot);
}

static void
mst_sift(struct mst_edge *h, size_t n, size_t i)
{
	struct mst_edge v = h[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && mst_less(&h[c + 1], &h[c]))
			c++;
		if (!mst_less(&h[c], &v))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

/* Node i's first edge from rank k on into another tree, into *e; 0 if
 * none. A pair in both ends' lists counts from the lower end only. */
static int
mst_next(const struct ord *o, uint32_t *par, uint32_t i, int k,
    struct mst_edge *e)
{
	for (; k < K; k++) {
		uint32_t j = o->nb[(size_t)i * K + k];
		if (j == UINT32_MAX)
			break;
		if (j < i) {
			int listed = 0;
			for (int q = 0; q < K; q++)
				listed |= o->nb[(size_t)j * K + q] == i;
			if (listed)
				continue;
		}
		if (uf_find(par, i) == uf_find(par, j))
			continue;
		e->w = pdist(o->xy, i, j);
		e->slot = (uint32_t)((size_t)i * K + (size_t)k);
		return 1;
	}
	return 0;
}

/*
 * Kruskal's edges shortest first from a min-heap of each neighbour list's
 * next edge, as in the greedy start (16 bytes a dot where all the edges
 * and their sort took 15 times that). Ties between equal lengths may go
 * either way: the tree's length, its sum, is the same bit for bit, its
 * lengths being added in ascending order whichever edges they are.
 */
double
order_mst_length(const struct plan *p)
{
	struct ord o;
	struct mst_edge *h = NULL;
	uint32_t *par = NULL;
	size_t hn = 0, joined = 0;
	double len = -1;

	memset(&o, 0, sizeof(o));
	if (p->n < 2)
		return 0;
	o.m = o.ng = p->n;
	o.d = o.s = UINT32_MAX;
	o.xy = malloc(o.m * 2 * sizeof(double));
	o.nb = malloc(o.m * K * sizeof(uint32_t));
	h = malloc(o.m * sizeof(*h));
	par = malloc(o.m * sizeof(uint32_t));
	if (!o.xy || !o.nb || !h || !par)
		goto done;
	for (size_t i = 0; i < o.m; i++) {
		o.xy[2 * i] = p->dots[i].x_mm;
		o.xy[2 * i + 1] = p->dots[i].y_mm;
		par[i] = (uint32_t)i;
	}
	if (knn(o.xy, o.m, o.nb) < 0)
		goto done;
	for (size_t i = 0; i < o.m; i++)
		hn += (size_t)mst_next(&o, par, (uint32_t)i, 0, &h[hn]);
	for (size_t i = hn / 2; i-- > 0;)
		mst_sift(h, hn, i);
	len = 0;
	while (hn > 0 && joined + 1 < o.m) {
		uint32_t slot = h[0].slot, i = slot / K;
		uint32_t ra = uf_find(par, i), rb = uf_find(par, o.nb[slot]);
		if (ra != rb) {
			par[ra] = rb;
			len += h[0].w;
			joined++;
		}
		if (!mst_next(&o, par, i, (int)(slot % K) + 1, &h[0]))
			h[0] = h[--hn];
		mst_sift(h, hn, 0);
	}
	/* A K-NN graph of clustered plans can be disconnected; the bound
	 * then misses the links between clusters and stays a lower bound. */
done:
	free(o.xy); free(o.nb); free(h); free(par);
	return len;
}
