/*
 * Dot order: an open path through every dot from a start point, as short as
 * the time allows. A Hilbert-curve sweep gives the first path (linear-time
 * and never pathological, unlike nearest neighbour on sparse plans); 2-opt and Or-opt over neighbour lists with don't-look bits take it to
 * a local optimum; then windowed perturbation (a double bridge inside a short
 * stretch of the path, re-optimised locally and kept only if shorter) runs
 * for a number of kicks that depends only on the plan size, so the result is
 * deterministic for a plan and seed (docs/planner.md).
 */
#ifndef SMP_PLANNER_ORDER_H
#define SMP_PLANNER_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "planner/plan.h"

struct order_stats {
	double initial_mm;   /* path after the space-filling-curve start */
	double local_mm;     /* after 2-opt + Or-opt */
	double final_mm;     /* after perturbation */
	unsigned long kicks, kicks_kept;
	double local_s;      /* wall time up to the end of local search */
	double seconds;      /* wall time of the whole ordering */
	bool budget_hit;     /* stopped by the time cap: not reproducible */
};

/*
 * Writes into order[0..p->n) the plan indices in delivery order, starting
 * from start_xy (NULL = the plan's first dot). seed drives the perturbation,
 * whose length is fixed by the plan's size: the order depends only on the
 * plan and the seed. budget_s is an emergency time cap (0 = 20 s); reaching
 * it sets st->budget_hit, and the order is then not reproducible. st may be NULL. Returns 0, or -1 on allocation
 * failure (order is then the plan's own order).
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
