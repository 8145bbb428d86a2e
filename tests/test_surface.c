/*
 * The skin surface's segment maximum, checked against brute force: on random
 * bilinear grids (random size, origin, steps and heights, segments that
 * start and end inside, outside and across the clamped border, along grid
 * lines and through grid points), surface_max_on_segment must never be below
 * the highest of 4000 samples of surface_z along the segment (a hop planned
 * from it would graze the skin) and never above it by more than the sampling
 * can miss (a hop far higher than needed wastes time and is a sign of a
 * wrong cell). Also the dots' own surface on degenerate plans (one dot, a
 * line of dots), where the grid is thinnest.
 */
#include "planner/surface.h"
#include "test.h"

#define ASSERT_DBL(a, op, b)                                                  \
	ASSERT_MSG((double)(a) op (double)(b), "%.9g %s %.9g", (double)(a),    \
	    #op, (double)(b))

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double
urand(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) /
	    9007199254740992.0;
}

/* Highest of k + 1 evenly spaced samples along the segment. */
static double
sampled_max(const struct surface *s, double x0, double y0, double x1,
    double y1, int k)
{
	double best = -INFINITY;

	for (int i = 0; i <= k; i++) {
		double t = (double)i / k;
		best = fmax(best, surface_z(s, x0 + t * (x1 - x0), y0 + t *
		    (y1 - y0)));
	}
	return best;
}

TEST(segment_max_matches_brute_force_on_random_grids)
{
	for (int g = 0; g < 300; g++) {
		size_t nx = 2 + (size_t)(urand() * 7), ny = 2 + (size_t)(urand()
		    * 7);
		double ox = urand() * 20 - 10, oy = urand() * 20 - 10;
		double dx = 0.3 + urand() * 3, dy = 0.3 + urand() * 3;
		double z[81], zmin = INFINITY, zmax = -INFINITY, slope;
		struct surface *s;

		for (size_t i = 0; i < nx * ny; i++) {
			z[i] = urand() * 6 - 3;
			zmin = fmin(zmin, z[i]);
			zmax = fmax(zmax, z[i]);
		}
		s = surface_grid(ox, oy, dx, dy, nx, ny, z);
		ASSERT_NOT_NULL(s);
		/* the steepest the surface can be, per mm */
		slope = (zmax - zmin) * (1 / dx + 1 / dy);
		for (int q = 0; q < 40; q++) {
			double w = (double)(nx - 1) * dx, h = (double)(ny - 1) *
			    dy, x0, y0, x1, y1, m, sm, len;
			/* ends from a box 30% larger than the grid on
			 * each side; some snapped onto grid lines/points */
			x0 = ox - 0.3 * w + urand() * 1.6 * w;
			y0 = oy - 0.3 * h + urand() * 1.6 * h;
			x1 = ox - 0.3 * w + urand() * 1.6 * w;
			y1 = oy - 0.3 * h + urand() * 1.6 * h;
			switch (q % 5) {
			case 1:     /* along a grid row */
				y0 = y1 = oy + floor(urand() * (double)ny) * dy;
				break;
			case 2:     /* along a grid column */
				x0 = x1 = ox + floor(urand() * (double)nx) * dx;
				break;
			case 3:     /* grid point to grid point */
				x0 = ox + floor(urand() * (double)nx) * dx;
				y0 = oy + floor(urand() * (double)ny) * dy;
				x1 = ox + floor(urand() * (double)nx) * dx;
				y1 = oy + floor(urand() * (double)ny) * dy;
				break;
			case 4:     /* a point */
				x1 = x0;
				y1 = y0;
				break;
			}
			m = surface_max_on_segment(s, x0, y0, x1, y1);
			sm = sampled_max(s, x0, y0, x1, y1, 4000);
			len = hypot(x1 - x0, y1 - y0);
			ASSERT_MSG(m >= sm - 1e-9, "grid %d seg %d: max %.9g "
			    "below a sample %.9g", g, q, m, sm);
			ASSERT_MSG(m <= sm + slope * len / 4000 + 1e-9,
			    "grid %d seg %d: max %.9g far above samples %.9g",
			    g, q, m, sm);
			ASSERT_DBL(m, <=, zmax + 1e-12);
			/* either direction gives the same answer */
			ASSERT_NEAR(surface_max_on_segment(s, x1, y1, x0, y0),
			    m, 1e-9);
		}
		surface_destroy(&s);
	}
}

TEST(saddle_interior_maximum)
{
	/* one cell with heights 0, 1 / 1, 0, z = u + v - 2uv: along the
	 * diagonal (0,0)-(1,1) z = 2t(1-t), max 0.5 at the middle, where
	 * neither end nor any grid line crossing is */
	double z[4] = { 0, 1, 1, 0 };
	struct surface *s = surface_grid(0, 0, 1, 1, 2, 2, z);

	ASSERT_NOT_NULL(s);
	ASSERT_NEAR(surface_max_on_segment(s, 0, 0, 1, 1), 0.5, 1e-12);
	ASSERT_NEAR(surface_max_on_segment(s, 0, 0, 0.5, 0.5), 0.5, 1e-12);
	ASSERT_NEAR(surface_max_on_segment(s, 0, 0, 0.25, 0.25), 0.375,
	    1e-12);
	/* outside the map the edge value continues (clamped) */
	ASSERT_NEAR(surface_max_on_segment(s, -5, 0, -5, 1), 1, 1e-12);
	ASSERT_NEAR(surface_z(s, 7, 0.5), 0.5, 1e-12);
	surface_destroy(&s);
}

static void
assert_above_dots(const struct plan *p, const struct surface *s)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct dot *d = &p->dots[i];
		ASSERT_DBL(surface_z(s, d->x_mm, d->y_mm), >=, d->z_mm);
		for (size_t k = 0; k < p->n; k++) {
			const struct dot *e = &p->dots[k];
			ASSERT_DBL(surface_max_on_segment(s, d->x_mm, d->y_mm,
			    e->x_mm, e->y_mm), >=, fmax(d->z_mm, e->z_mm));
		}
	}
}

TEST(dots_surface_on_degenerate_plans)
{
	struct plan *p = plan_new("<test>");
	struct dot d;
	struct surface *s;

	memset(&d, 0, sizeof(d));
	d.depth_mm = 0.8;
	d.flags = DOT_HAS_Z;
	d.x_mm = 3;
	d.y_mm = -2;
	d.z_mm = -1.25;
	ASSERT_EQ(plan_push(p, &d), 0);
	/* one dot */
	s = surface_from_dots(p, 2.0, 0);
	ASSERT_NOT_NULL(s);
	ASSERT_NEAR(surface_z(s, 3, -2), -1.25, 1e-12);
	assert_above_dots(p, s);
	surface_destroy(&s);
	/* a line of dots along y (zero width in x), z rising and falling */
	for (int i = 1; i < 40; i++) {
		d.y_mm = -2 + i * 1.3;
		d.z_mm = -1.25 + sin(i * 0.4);
		ASSERT_EQ(plan_push(p, &d), 0);
	}
	s = surface_from_dots(p, 2.0, 0);
	ASSERT_NOT_NULL(s);
	assert_above_dots(p, s);
	surface_destroy(&s);
	/* a dot without z counts at the flat skin it is measured from */
	d.flags = 0;
	d.x_mm = 10;
	d.z_mm = 0;
	ASSERT_EQ(plan_push(p, &d), 0);
	s = surface_from_dots(p, 2.0, 0.75);
	ASSERT_NOT_NULL(s);
	ASSERT_DBL(surface_z(s, 10, d.y_mm), >=, 0.75);
	surface_destroy(&s);
	/* no dot with z: no surface of the dots */
	for (size_t i = 0; i < p->n; i++)
		p->dots[i].flags = 0;
	ASSERT_NULL(surface_from_dots(p, 2.0, 0));
	plan_destroy(&p);
}

TEST(plan_z_is_checked_against_a_height_map)
{
	double z[4] = { -1, -1, -1, -1 };
	struct surface *map = surface_grid(-10, -10, 20, 20, 2, 2, z);
	struct surface *flat = surface_flat(-1), *own;
	struct planner_config cfg;
	struct plan *p = plan_new("p.csv");
	struct diag_list *dl = diag_list_new(10, "p.csv");
	static const double dz[] = { -1.05, -1.6, -0.7, -1.2 };
	struct dot d;
	char b[256];

	ASSERT_NOT_NULL(map);
	pconfig_defaults(&cfg);
	memset(&d, 0, sizeof(d));
	d.depth_mm = 0.8;
	for (int i = 0; i < 4; i++) {
		d.x_mm = i * 2.0;
		d.z_mm = dz[i];
		d.flags = DOT_HAS_Z;
		d.id = i + 1;
		d.src_line = (uint32_t)i + 2;
		ASSERT_EQ(plan_push(p, &d), 0);
	}
	d.flags = 0;            /* no z: measured from the map, no check */
	d.x_mm = 9;
	d.src_line = 6;
	d.id = 5;
	ASSERT_EQ(plan_push(p, &d), 0);
	ASSERT(surface_is_measured(map));
	ASSERT(!surface_is_measured(flat));
	ASSERT(!surface_is_measured(NULL));
	ASSERT_EQ(plan_validate(p, &cfg, map, dl), -1);
	ASSERT_EQ(dl->errors, 1);
	ASSERT_EQ(dl->warnings, 2);
	/* 0.6 mm below with a 1 mm clearance: the rapid descent would end
	 * 0.4 mm above the measured skin */
	ASSERT_STR_CONTAINS(diag_format(dl, 0, b, sizeof(b)), "p.csv:3: "
	    "error: dot 2: z -1.6 mm is 0.600 mm below the height map's skin "
	    "-1.000 mm (more than half of needle.clearance_mm)");
	ASSERT_STR_CONTAINS(diag_format(dl, 1, b, sizeof(b)), "p.csv:4: "
	    "warning: dot 3: z -0.7 mm is 0.300 mm above");
	ASSERT_STR_CONTAINS(diag_format(dl, 2, b, sizeof(b)), "p.csv:5: "
	    "warning: dot 4: z -1.2 mm is 0.200 mm below");
	ASSERT_NEAR(p->dots[4].z_mm, -1, 1e-12);
	/* the flat skin and the dots' own surface are no measurement */
	diag_list_destroy(&dl);
	dl = diag_list_new(10, "p.csv");
	ASSERT_EQ(plan_validate(p, &cfg, flat, dl), 0);
	own = surface_from_dots(p, 2.0, cfg.skin_z_mm);
	ASSERT_NOT_NULL(own);
	ASSERT(!surface_is_measured(own));
	ASSERT_EQ(plan_validate(p, &cfg, own, dl), 0);
	ASSERT_EQ(dl->warnings, 0);
	surface_destroy(&own);
	surface_destroy(&flat);
	surface_destroy(&map);
	diag_list_destroy(&dl);
	plan_destroy(&p);
}

TEST_MAIN()
