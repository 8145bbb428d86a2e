/*
 * Ordering quality and bounds: never longer than its own start, the
 * exhaustive optimum on small plans, no 2-opt move within the neighbour
 * lists left that gains, within 0.5% of the known optimum on grids, the
 * same order on every run with two threads, above the MST lower bound
 * (which is exact on a line), and the path length the stats report is the
 * length of the order returned.
 */
#include <math.h>
#include <string.h>

#include "planner/order.h"
#include "test.h"

static struct plan *
random_plan(uint64_t seed, size_t n, double side)
{
	struct plan *p = plan_new("r");

	for (size_t i = 0; i < n; i++) {
		struct dot d = { 0 };
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		d.x_mm = (double)(seed >> 33) / 2147483648.0 * side;
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		d.y_mm = (double)(seed >> 33) / 2147483648.0 * side;
		d.depth_mm = 0.5;
		d.dwell_ms = 50;
		d.id = (int64_t)i + 1;
		plan_push(p, &d);
	}
	return p;
}

static void
check_perm(const uint32_t *o, size_t n)
{
	char *seen = calloc(n, 1);

	for (size_t i = 0; i < n; i++) {
		ASSERT(o[i] < n);
		ASSERT(!seen[o[i]]);
		seen[o[i]] = 1;
	}
	free(seen);
}

TEST(stats_match_the_order_and_improve)
{
	for (size_t n = 3; n < 3000; n = n * 3 + 1) {
		struct plan *p = random_plan(n, n, 50);
		uint32_t *a = malloc(n * 4);
		double start[2] = { 25, 25 };
		struct order_stats st;
		ASSERT_EQ(order_plan(p, start, 3, 0, a, &st), 0);
		check_perm(a, n);
		ASSERT(st.local_mm <= st.initial_mm + 1e-9);
		ASSERT(st.final_mm <= st.local_mm + 1e-9);
		ASSERT_NEAR(order_length(p, a, n, start), st.final_mm, 1e-6);
		free(a);
		plan_destroy(&p);
	}
}

/* Exhaustive optimum of an open path from a start (start_xy, or dot 0
 * when it is NULL) through perm[k..n): the best order of the rest. */
static double
best_from(const struct plan *p, uint32_t *perm, size_t k, size_t n,
    double x, double y, double sofar, double best)
{
	if (sofar >= best)
		return best;
	if (k == n)
		return sofar;
	for (size_t i = k; i < n; i++) {
		uint32_t t = perm[k];
		const struct dot *d;
		perm[k] = perm[i];
		perm[i] = t;
		d = &p->dots[perm[k]];
		best = best_from(p, perm, k + 1, n, d->x_mm, d->y_mm, sofar +
		    hypot(d->x_mm - x, d->y_mm - y), best);
		perm[i] = perm[k];
		perm[k] = t;
	}
	return best;
}

TEST(exhaustive_optimum_on_small_plans)
{
	/* 9 dots from dot 0, 8 and 9 dots from a start off the plan: every
	 * one of 90 plans must be ordered optimally */
	for (uint64_t s = 1; s <= 30; s++) {
		for (int v = 0; v < 3; v++) {
			size_t n = v == 1 ? 8 : 9;
			struct plan *p = random_plan(s * 977 + (uint64_t)v, n, 20);
			double start[2] = { -3, 7 }, *sxy = v ? start : NULL;
			uint32_t o[9], perm[9];
			double opt, got;
			for (size_t i = 0; i < n; i++)
				perm[i] = (uint32_t)i;
			opt = sxy ? best_from(p, perm, 0, n, sxy[0], sxy[1], 0,
			    INFINITY) : best_from(p, perm, 1, n, p->dots[0].x_mm,
			    p->dots[0].y_mm, 0, INFINITY);
			ASSERT_EQ(order_plan(p, sxy, s, 0, o, NULL), 0);
			check_perm(o, n);
			if (sxy == NULL)
				ASSERT_EQ(o[0], 0);
			got = order_length(p, o, n, sxy);
			ASSERT_MSG(got <= opt + 1e-9, "plan %llu/%d: %.9f mm, "
			    "optimum %.9f mm", (unsigned long long)s, v, got,
			    opt);
			plan_destroy(&p);
		}
	}
}

/*
 * No 2-opt move the search can see improves the result. The open path is
 * the cycle start, order..., D with D a node at distance 0 from all (the
 * model order.c uses) and the edge D-start never removed. A 2-opt move
 * removes (t1,t2) and (t3,t4) and adds (t2,t3) and (t4,t1); order.c looks
 * at every one where t3 is among t2's 8 nearest dots and the first
 * exchange already gains (d(t1,t2) > d(t2,t3)), so none of those may gain.
 * The nearest dots are found here by brute force.
 */
static void
check_2opt_optimal(const struct plan *p, const double *start,
    const uint32_t *o)
{
	size_t n = p->n, m = n + 2;   /* start, dots, D */
	double *x = malloc(m * sizeof(double)), *y = malloc(m * sizeof(double));
	uint32_t *pos = malloc(m * sizeof(uint32_t)), *cyc = malloc(m *
	    sizeof(uint32_t));
	size_t bad = 0;
	double worst = 0;

	ASSERT(x && y && pos && cyc);
	/* node 0 is the start, 1..n the dots in path order, n+1 is D */
	x[0] = start[0];
	y[0] = start[1];
	for (size_t i = 0; i < n; i++) {
		x[i + 1] = p->dots[o[i]].x_mm;
		y[i + 1] = p->dots[o[i]].y_mm;
	}
	for (size_t i = 0; i < m; i++)
		cyc[i] = pos[i] = (uint32_t)i;
#define D2(a, b) ((a) == m - 1 || (b) == m - 1 ? 0 : hypot(x[a] - x[b],      \
	y[a] - y[b]))
	for (size_t t2 = 0; t2 + 1 < m; t2++) {
		/* t2's 8 nearest among the start and the dots */
		size_t nb[8];
		double nd[8];
		int k = 0;
		for (size_t j = 0; j + 1 < m; j++) {
			double d;
			int z;
			if (j == t2)
				continue;
			d = D2(t2, j);
			if (k == 8 && d >= nd[7])
				continue;
			z = k < 8 ? k++ : 7;
			while (z > 0 && nd[z - 1] > d) {
				nd[z] = nd[z - 1];
				nb[z] = nb[z - 1];
				z--;
			}
			nd[z] = d;
			nb[z] = j;
		}
		for (int side = 0; side < 2; side++) {
			size_t t1 = cyc[(pos[t2] + (side ? m - 1 : 1)) % m];
			if ((t1 == 0 && t2 == m - 1) || (t2 == 0 && t1 == m - 1))
				continue;
			for (int q = 0; q < k; q++) {
				size_t t3 = nb[q], t4;
				double g1 = D2(t1, t2) - nd[q], g;
				if (g1 <= 1e-7)
					break;
				/* t4 is to t3 what t1 is to t2: then
				 * (t2,t3) and (t4,t1) close a path */
				t4 = cyc[(pos[t3] + (side ? m - 1 : 1)) % m];
				if (t3 == t1 || t4 == t2 || (t3 == 0 &&
				    t4 == m - 1) || (t4 == 0 && t3 == m - 1))
					continue;
				g = g1 + D2(t3, t4) - D2(t4, t1);
				if (g > 1e-7) {
					bad++;
					worst = fmax(worst, g);
				}
			}
		}
	}
#undef D2
	ASSERT_MSG(bad == 0, "%zu improving 2-opt moves, best %.6f mm", bad,
	    worst);
	free(x); free(y); free(pos); free(cyc);
}

TEST(two_opt_optimal_over_the_neighbour_lists)
{
	/* 1500 dots: kicks over the whole path; 6000: kicks in two halves */
	static const size_t sizes[] = { 60, 1500, 6000 };

	for (size_t s = 0; s < 3; s++) {
		size_t n = sizes[s];
		struct plan *p = random_plan(n + 5, n, sqrt((double)n) * 1.8);
		uint32_t *o = malloc(n * sizeof(uint32_t));
		double start[2] = { -1, 4 };
		ASSERT_EQ(order_plan(p, start, 9, 0, o, NULL), 0);
		check_perm(o, n);
		check_2opt_optimal(p, start, o);
		free(o);
		plan_destroy(&p);
	}
}

/*
 * Known optima: on a W x H grid of pitch a, every open path through the
 * W*H points has W*H - 1 edges of at least a, and a path from a corner
 * that sweeps the rows back and forth has exactly that. The grid's many
 * equal distances are the hard case for a search that cuts on gains.
 */
static double
grid_path(size_t w, size_t h, double a, uint64_t seed)
{
	struct plan *p = plan_new("g");
	size_t n = w * h;
	uint32_t *o = malloc(n * sizeof(uint32_t));
	double len, opt = (double)(n - 1) * a;

	/* dot 0 is the corner (0, 0); the others in a scrambled order */
	for (size_t i = 0; i < n; i++) {
		size_t k = (i * 7919) % n, col = k % w, row = k / w;
		struct dot d = { .x_mm = (double)col * a,
		    .y_mm = (double)row * a, .depth_mm = 0.5 };
		plan_push(p, &d);
	}
	ASSERT_EQ(order_plan(p, NULL, seed, 0, o, NULL), 0);
	check_perm(o, n);
	ASSERT_EQ(o[0], 0);
	len = order_length(p, o, n, NULL);
	ASSERT(len >= opt - 1e-6);
	free(o);
	plan_destroy(&p);
	return len / opt;
}

TEST(grids_against_their_known_optimum)
{
	double r;

	r = grid_path(7, 5, 1.5, 1);
	printf("7 x 5 grid: %.6f of the optimum\n", r);
	ASSERT_MSG(r < 1 + 1e-9, "7 x 5 grid: %.6f of the optimum", r);
	r = grid_path(40, 25, 1.5, 2);
	printf("40 x 25 grid: %.6f of the optimum\n", r);
	ASSERT_MSG(r < 1.005, "40 x 25 grid: %.6f of the optimum", r);
	r = grid_path(120, 100, 1.6, 3);
	printf("120 x 100 grid: %.6f of the optimum\n", r);
	ASSERT_MSG(r < 1.005, "120 x 100 grid: %.6f of the optimum", r);
}

/* Above ORDER_HALVES_MIN nodes the kicks run on two threads: the order
 * must still be the same on every run. */
TEST(same_order_on_every_run_with_two_threads)
{
	size_t n = 20000;
	struct plan *p = random_plan(77, n, 260);
	uint32_t *a = malloc(n * sizeof(uint32_t)), *b = malloc(n *
	    sizeof(uint32_t));
	struct order_stats sa, sb;

	ASSERT_EQ(order_plan(p, NULL, 5, 0, a, &sa), 0);
	check_perm(a, n);
	for (int run = 0; run < 3; run++) {
		ASSERT_EQ(order_plan(p, NULL, 5, 0, b, &sb), 0);
		ASSERT_MSG(memcmp(a, b, n * sizeof(uint32_t)) == 0,
		    "run %d: a different order", run);
		ASSERT_EQ(sa.kicks_kept, sb.kicks_kept);
	}
	/* and another seed gives another order (the seed is used) */
	ASSERT_EQ(order_plan(p, NULL, 6, 0, b, NULL), 0);
	ASSERT(memcmp(a, b, n * sizeof(uint32_t)) != 0);
	free(a);
	free(b);
	plan_destroy(&p);
}

TEST(above_mst_and_far_below_the_sweep)
{
	size_t n = 5000;
	struct plan *p = random_plan(42, n, 130);
	uint32_t *o = malloc(n * 4);
	struct order_stats st;
	double mst = order_mst_length(p);

	ASSERT_EQ(order_plan(p, NULL, 1, 0, o, &st), 0);
	check_perm(o, n);
	printf("n=%zu: start %.3f, local %.3f, final %.3f of MST; %.3f s, "
	    "%lu kicks (%lu kept)\n", n, st.initial_mm / mst, st.local_mm / mst,
	    st.final_mm / mst, st.seconds, st.kicks, st.kicks_kept);
	ASSERT(st.final_mm > mst);
	/* optimal open paths of uniform points run ~1.10-1.15 x MST */
	ASSERT(st.final_mm < 1.25 * mst);
	ASSERT(st.final_mm < 0.9 * st.initial_mm);
	free(o);
	plan_destroy(&p);
}

TEST(mst_exact_on_a_line_and_a_square)
{
	struct plan *p = plan_new("l");

	for (int i = 0; i < 10; i++) {
		struct dot d = { .x_mm = (i * 7) % 10, .y_mm = 0 };
		plan_push(p, &d);
	}
	ASSERT_NEAR(order_mst_length(p), 9, 1e-12);
	plan_destroy(&p);
	p = plan_new("s");
	for (int i = 0; i < 4; i++) {
		struct dot d = { .x_mm = i & 1, .y_mm = i >> 1 };
		plan_push(p, &d);
	}
	ASSERT_NEAR(order_mst_length(p), 3, 1e-12);
	plan_destroy(&p);
}

TEST_MAIN()
