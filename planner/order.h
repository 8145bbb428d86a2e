/*
 * Dot order: an open path through every dot from a start point, as short as
 * a fixed amount of work allows. A greedy-matching start, Lin-Kernighan
 * style local search (sequential 3-opt steps over neighbour lists, chained
 * up to five deep), then iterated local search with double-bridge kicks,
 * on two threads for large plans. The number of kicks depends only on the
 * plan's size and the two threads never touch the same part of the path,
 * so the result is the same for a plan and seed on every run, in smpplan
 * and smpd alike (docs/planner.md).
 */
#ifndef SMP_PLANNER_ORDER_H
#define SMP_PLANNER_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "planner/plan.h"

struct order_stats {
	double initial_mm;   /* path after the greedy start */
	double local_mm;     /* after local search */
	double final_mm;     /* after the kicks */
	unsigned long kicks, kicks_kept;
	double local_s;      /* wall time up to the end of local search */
	double seconds;      /* wall time of the whole ordering */
	bool budget_hit;     /* stopped by the time cap: not reproducible */
};

/*
 * Writes into order[0..p->n) the plan indices in delivery order, starting
 * from start_xy (NULL = the plan's first dot). seed drives the kicks, whose
 * number is fixed by the plan's size: the order depends only on the plan
 * and the seed. budget_s is an emergency time cap (0 = 20 s); reaching it
 * sets st->budget_hit, and the order is then not reproducible. st may be
 * NULL. Uses a second thread for plans of 2000 dots or more (joined before
 * it returns; without one the same work runs on the caller's thread, with
 * the same result). Returns 0, or -1 on allocation failure (order is then
 * the plan's own order).
 */
int order_plan(const struct plan *p, const double *start_xy, uint64_t seed,
    double budget_s, uint32_t *order, struct order_stats *st);
/* XY length of the open path start_xy (may be NULL) -> order[0] -> ... */
double order_length(const struct plan *p, const uint32_t *order, size_t n,
    const double *start_xy);
/* Length of the minimum spanning tree of the dots' XY positions (a lower
 * bound on any open path through them); over a k-nearest-neighbour graph,
 * exact in practice for planar point sets. -1 on allocation failure. */
double order_mst_length(const struct plan *p);

#endif /* SMP_PLANNER_ORDER_H */
