/*
 * Ordering quality and bounds: never longer than its own starting sweep,
 * within a few percent of the exhaustive optimum on small plans, above the
 * MST lower bound (which is exact on a line), and the path length the stats
 * report is the length of the order returned.
 */
#include <math.h>

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

/* Exhaustive optimum of an open path from dot 0 (n <= 9). */
static double
best_path(const struct plan *p, uint32_t *perm, size_t k, size_t n,
    double sofar, double best)
{
	if (sofar >= best)
		return best;
	if (k == n)
		return sofar;
	for (size_t i = k; i < n; i++) {
		uint32_t t = perm[k];
		double d;
		perm[k] = perm[i];
		perm[i] = t;
		d = hypot(p->dots[perm[k]].x_mm - p->dots[perm[k - 1]].x_mm,
		    p->dots[perm[k]].y_mm - p->dots[perm[k - 1]].y_mm);
		best = best_path(p, perm, k + 1, n, sofar + d, best);
		perm[i] = perm[k];
		perm[k] = t;
	}
	return best;
}

TEST(near_optimal_on_small_plans)
{
	double worst = 1, sum = 0;

	for (uint64_t s = 1; s <= 30; s++) {
		size_t n = 9;
		struct plan *p = random_plan(s * 977, n, 20);
		uint32_t o[9], perm[9];
		double opt, got;
		for (size_t i = 0; i < n; i++)
			perm[i] = (uint32_t)i;
		opt = best_path(p, perm, 1, n, 0, INFINITY);
		ASSERT_EQ(order_plan(p, NULL, s, 0, o, NULL), 0);
		check_perm(o, n);
		ASSERT_EQ(o[0], 0);
		got = order_length(p, o, n, NULL);
		ASSERT(got >= opt - 1e-9);
		worst = fmax(worst, got / opt);
		sum += got / opt;
		plan_destroy(&p);
	}
	printf("path/optimum over 30 plans of 9 dots: mean %.4f, worst %.4f\n",
	    sum / 30, worst);
	ASSERT_MSG(worst < 1.05, "worst %.4f", worst);
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
	printf("n=%zu: sweep %.3f, local %.3f, final %.3f of MST; %.3f s, "
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
