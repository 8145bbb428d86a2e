/*
 * Dot ordering: the properties the session depends on and the quality the
 * issue asks for. Every dot appears exactly once (a dot left out is a dot
 * never delivered, a dot twice is a dot delivered twice); the order is the
 * same for the same plan and seed (a resumed or re-planned session must
 * agree with smpplan); the path is shorter than greedy nearest neighbour,
 * which is what a naive planner would give, and never shorter than the
 * minimum spanning tree, which no open path can beat (a check on
 * order_length and order_mst_length as much as on the search).
 */
#include "planner/order.h"
#include "test.h"

/* test.h's ASSERT_LT/LE/GT/GE compare as integers: lengths and times are
 * compared here as doubles. */
#define ASSERT_DBL(a, op, b)                                                  \
	ASSERT_MSG((double)(a) op (double)(b), "%.9g %s %.9g", (double)(a),    \
	    #op, (double)(b))

static uint64_t rng_state;

static double
urand(void)
{
	/* xorshift64*: the plans must be the same on every run */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) /
	    9007199254740992.0;
}

static struct plan *
random_plan(size_t n, double w_mm, double h_mm, uint64_t seed)
{
	struct plan *p = plan_new("<test>");
	struct dot d;

	ASSERT_NOT_NULL(p);
	rng_state = seed;
	memset(&d, 0, sizeof(d));
	for (size_t i = 0; i < n; i++) {
		d.x_mm = urand() * w_mm;
		d.y_mm = urand() * h_mm;
		d.depth_mm = 0.8;
		d.id = (int64_t)i + 1;
		ASSERT_EQ(plan_push(p, &d), 0);
	}
	return p;
}

static void
assert_permutation(const uint32_t *order, size_t n)
{
	unsigned char *seen = calloc(n, 1);

	ASSERT_NOT_NULL(seen);
	for (size_t i = 0; i < n; i++) {
		ASSERT_LT(order[i], n);
		ASSERT_MSG(!seen[order[i]], "dot %u twice", order[i]);
		seen[order[i]] = 1;
	}
	free(seen);
}

/* Greedy nearest neighbour from start (or dot 0), O(n^2): the yardstick. */
static double
nn_length(const struct plan *p, const double *start)
{
	size_t n = p->n;
	unsigned char *used = calloc(n, 1);
	double x, y, len = 0;
	size_t cur;

	ASSERT_NOT_NULL(used);
	if (start != NULL) {
		x = start[0];
		y = start[1];
	} else {
		used[0] = 1;
		x = p->dots[0].x_mm;
		y = p->dots[0].y_mm;
	}
	for (size_t k = start != NULL ? 0 : 1; k < n; k++) {
		double best = INFINITY;
		cur = n;
		for (size_t i = 0; i < n; i++) {
			double dx, dy, d2;
			if (used[i])
				continue;
			dx = p->dots[i].x_mm - x;
			dy = p->dots[i].y_mm - y;
			d2 = dx * dx + dy * dy;
			if (d2 < best) {
				best = d2;
				cur = i;
			}
		}
		used[cur] = 1;
		len += sqrt(best);
		x = p->dots[cur].x_mm;
		y = p->dots[cur].y_mm;
	}
	free(used);
	return len;
}

TEST(tiny_plans)
{
	struct plan *p = plan_new("<test>");
	struct dot d;
	uint32_t order[3];
	double start[2] = { 10, 0 };

	memset(&d, 0, sizeof(d));
	d.depth_mm = 0.8;
	d.x_mm = 0;
	ASSERT_EQ(plan_push(p, &d), 0);
	ASSERT_EQ(order_plan(p, NULL, 1, 0, order, NULL), 0);
	ASSERT_EQ(order[0], 0);
	ASSERT_EQ(order_plan(p, start, 1, 0, order, NULL), 0);
	ASSERT_EQ(order[0], 0);
	ASSERT_NEAR(order_length(p, order, 1, start), 10, 1e-12);
	ASSERT_NEAR(order_length(p, order, 1, NULL), 0, 1e-12);

	/* from a start at x = 10, the dot at 9 comes before the one at 0 */
	d.x_mm = 9;
	ASSERT_EQ(plan_push(p, &d), 0);
	ASSERT_EQ(order_plan(p, start, 1, 0, order, NULL), 0);
	ASSERT_EQ(order[0], 1);
	ASSERT_EQ(order[1], 0);
	ASSERT_NEAR(order_length(p, order, 2, start), 10, 1e-12);

	/* three on a line: an open path walks it end to end */
	d.x_mm = 4;
	ASSERT_EQ(plan_push(p, &d), 0);
	ASSERT_EQ(order_plan(p, start, 1, 0, order, NULL), 0);
	assert_permutation(order, 3);
	ASSERT_NEAR(order_length(p, order, 3, start), 10, 1e-9);
	plan_destroy(&p);
}

TEST(line_of_dots_is_walked_end_to_end)
{
	struct plan *p = plan_new("<test>");
	struct dot d;
	uint32_t order[200];
	double start[2] = { -1, 0 };

	memset(&d, 0, sizeof(d));
	d.depth_mm = 0.8;
	/* shuffled positions 0..199 on the x axis */
	for (size_t i = 0; i < 200; i++) {
		d.x_mm = (double)((i * 73) % 200);
		ASSERT_EQ(plan_push(p, &d), 0);
	}
	ASSERT_EQ(order_plan(p, start, 7, 0, order, NULL), 0);
	assert_permutation(order, 200);
	ASSERT_NEAR(order_length(p, order, 200, start), 200, 1e-9);
	ASSERT_NEAR(order_mst_length(p), 199, 1e-9);
	plan_destroy(&p);
}

TEST(grid_is_near_optimal)
{
	struct plan *p = plan_new("<test>");
	struct dot d;
	uint32_t *order = malloc(900 * sizeof(*order));
	double len;

	/* a 30 x 30 grid at 1.5 mm: the best open path is 899 * 1.5 mm */
	memset(&d, 0, sizeof(d));
	d.depth_mm = 0.8;
	for (int j = 0; j < 30; j++)
		for (int i = 0; i < 30; i++) {
			d.x_mm = i * 1.5;
			d.y_mm = ((i * 7 + j * 13) % 30) * 1.5;
			ASSERT_EQ(plan_push(p, &d), 0);
		}
	ASSERT_EQ(order_plan(p, NULL, 1, 0, order, NULL), 0);
	assert_permutation(order, 900);
	len = order_length(p, order, 900, NULL);
	ASSERT_DBL(len, >=, 899 * 1.5 - 1e-6);
	ASSERT_DBL(len, <=, 899 * 1.5 * 1.08);
	free(order);
	plan_destroy(&p);
}

TEST(every_dot_once_deterministic_and_shorter_than_nn)
{
	static const size_t sizes[] = { 3, 10, 57, 500, 1500 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		struct plan *p = random_plan(n, 30, 25, 0x5eed + n);
		uint32_t *a = malloc(n * sizeof(*a)), *b = malloc(n *
		    sizeof(*b));
		double start[2] = { -5, -5 }, len, nn, mst;
		struct order_stats st;

		ASSERT_NOT_NULL(a);
		ASSERT_NOT_NULL(b);
		ASSERT_EQ(order_plan(p, start, 42, 10, a, &st), 0);
		assert_permutation(a, n);
		ASSERT_EQ(order_plan(p, start, 42, 10, b, NULL), 0);
		ASSERT_MSG(memcmp(a, b, n * sizeof(*a)) == 0,
		    "n=%zu: same plan and seed, different order", n);

		len = order_length(p, a, n, start);
		nn = nn_length(p, start);
		mst = order_mst_length(p);
		ASSERT_NEAR(len, st.final_mm, 1e-6 * len);
		ASSERT_DBL(st.final_mm, <=, st.local_mm + 1e-9);
		ASSERT_DBL(st.local_mm, <=, st.initial_mm + 1e-9);
		ASSERT_DBL(len, >=, mst - 1e-9);
		if (n >= 57)
			ASSERT_MSG(len < nn, "n=%zu: %.3f mm, nearest neighbour"
			    " %.3f mm", n, len, nn);
		else
			ASSERT_DBL(len, <=, nn + 1e-9);
		if (n >= 500)
			ASSERT_MSG(len < 0.95 * nn, "n=%zu: %.3f mm is not 5%% "
			    "below nearest neighbour %.3f mm", n, len, nn);

		/* without a start the path begins at a dot; still a
		 * permutation, still deterministic */
		ASSERT_EQ(order_plan(p, NULL, 42, 10, a, NULL), 0);
		assert_permutation(a, n);
		ASSERT_EQ(order_plan(p, NULL, 42, 10, b, NULL), 0);
		ASSERT(memcmp(a, b, n * sizeof(*a)) == 0);
		ASSERT_DBL(order_length(p, a, n, NULL), <=, nn_length(p, NULL) +
		    1e-9);
		free(a);
		free(b);
		plan_destroy(&p);
	}
}

TEST(coincident_dots_are_all_kept)
{
	/* validation rejects dots this close, but the order must still be a
	 * permutation if it is ever handed them (spacing = warn, 0 spacing) */
	struct plan *p = plan_new("<test>");
	struct dot d;
	uint32_t order[120];

	memset(&d, 0, sizeof(d));
	d.depth_mm = 0.8;
	for (int i = 0; i < 120; i++) {
		d.x_mm = (i % 3) * 2.0;
		d.y_mm = (i % 5 == 0) ? 1.0 : 0.0;
		ASSERT_EQ(plan_push(p, &d), 0);
	}
	ASSERT_EQ(order_plan(p, NULL, 3, 0, order, NULL), 0);
	assert_permutation(order, 120);
	plan_destroy(&p);
}

TEST_T(hundred_thousand_dots_in_budget, 60)
{
	size_t n = 100000;
	struct plan *p = random_plan(n, 250, 200, 99);
	uint32_t *a = malloc(n * sizeof(*a));
	struct order_stats st;

	ASSERT_NOT_NULL(a);
	ASSERT_EQ(order_plan(p, NULL, 1, 2.0, a, &st), 0);
	assert_permutation(a, n);
	/* the budget caps the perturbation, not the local search; leave room
	 * for a loaded machine */
	ASSERT_DBL(st.seconds, <, 20.0);
	ASSERT_DBL(st.final_mm, <, 0.93 * st.initial_mm);
	ASSERT_DBL(st.final_mm, >=, order_mst_length(p) - 1e-6);
	fprintf(stderr, "100k dots: %.3f s, initial %.0f mm, local %.0f mm, "
	    "final %.0f mm, MST %.0f mm\n", st.seconds, st.initial_mm,
	    st.local_mm, st.final_mm, order_mst_length(p));
	free(a);
	plan_destroy(&p);
}

/* AddressSanitizer's shadow memory and redzones would count as the
 * ordering's: its builds check the order but not the bound. */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif
#ifndef ASAN_BUILD
#define ASAN_BUILD 0
#endif

/* A field of /proc/self/status in kB, -1 if there is none. */
static long
status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

/*
 * The ordering's memory as smpd feels it: the peak resident set over
 * order_plan (VmHWM, reset through /proc/self/clear_refs first) minus the
 * resident set before, on 100k dots. Its arrays come to 68 bytes a dot at
 * the peak (docs/planner.md); the bound leaves room for the order written
 * (4) and the allocator, and is well under the 227 bytes a dot it took
 * when the neighbour distances and the greedy start's sorted edges were
 * kept. Each case runs in a fresh child, so no freed memory of another
 * hides the cost.
 */
TEST_T(ordering_memory_per_dot, 60)
{
	size_t n = 100000;
	struct plan *p = random_plan(n, 250, 200, 7);
	uint32_t *a = malloc(n * sizeof(*a));
	FILE *f = fopen("/proc/self/clear_refs", "w");
	long before = -1, peak;
	double per_dot;

	ASSERT_NOT_NULL(a);
	if (f != NULL) {
		int ok = fputs("5", f) >= 0;
		if (fclose(f) == 0 && ok)
			before = status_kb("VmRSS:");
	}
	if (before < 0) {
		/* no peak to reset (not Linux, or /proc locked down) */
		fprintf(stderr, "skipped: cannot reset the peak RSS\n");
		free(a);
		plan_destroy(&p);
		return;
	}
	ASSERT_EQ(order_plan(p, NULL, 1, 0, a, NULL), 0);
	peak = status_kb("VmHWM:");
	assert_permutation(a, n);
	per_dot = (double)(peak - before) * 1024.0 / (double)n;
	fprintf(stderr, "100k dots: ordering peak %.2f MB over %.2f MB, %.1f "
	    "bytes a dot%s\n", (double)(peak - before) / 1024.0,
	    (double)before / 1024.0, per_dot, ASAN_BUILD ? " (AddressSanitizer"
	    " build: not checked)" : "");
	if (!ASAN_BUILD)
		ASSERT_DBL(per_dot, <, 85.0);
	free(a);
	plan_destroy(&p);
}

TEST_MAIN()
