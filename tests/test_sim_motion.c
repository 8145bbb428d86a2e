/*
 * smpsim's motion model and clock against closed-form results: trapezoid and
 * triangle profiles, the slowest axis limiting a move, look-ahead through a
 * straight junction, the junction-deviation corner speed, feed-hold stopping
 * distance, and dwells in 50 ms steps measured on the controller's own clock.
 */
#include <math.h>

#include "test.h"
#include "sim/gsim.h"
#include "sim/motion.h"

static const struct motion_limits LIM = {
	{3000, 3000, 1500}, {500, 500, 800}, 0.010};

static double
run_to_idle(struct motion *m)
{
	double t = 0;
	int guard = 0;

	while (motion_busy(m) && guard++ < 1000) {
		double dt = motion_time_to_event(m);
		ASSERT(isfinite(dt));
		motion_advance(m, t, dt, NULL, NULL);
		t += dt;
	}
	return t;
}

TEST(trapezoid_time)
{
	double o[3] = {0, 0, 0}, tgt[3] = {-10, 0, 0};
	struct motion *m = motion_new(&LIM, o);

	ASSERT_EQ(motion_push(m, tgt, 600, MOTION_FEED, false), 1);
	/* v = 10 mm/s, a = 500: t = L/v + v/a */
	ASSERT_NEAR(run_to_idle(m), 10.0 / 10 + 10.0 / 500, 1e-9);
	motion_position(m, o);
	ASSERT_NEAR(o[0], -10, 1e-12);
	motion_destroy(&m);
	ASSERT_NULL(m);
}

TEST(triangle_time)
{
	double o[3] = {0, 0, 0}, tgt[3] = {0, -0.1, 0};
	struct motion *m = motion_new(&LIM, o);

	motion_push(m, tgt, 3000, MOTION_FEED, false);
	ASSERT_NEAR(run_to_idle(m), 2 * sqrt(0.1 / 500), 1e-9);
	motion_destroy(&m);
}

TEST(slowest_axis_limits_rapid)
{
	double o[3] = {0, 0, 0}, tgt[3] = {-3, 0, -4};
	struct motion *m = motion_new(&LIM, o);
	double v, a;

	motion_push(m, tgt, 0, MOTION_RAPID, false);
	/* unit (0.6, 0, 0.8): Z limits speed 25/0.8 and accel 800/0.8 */
	v = fmin(50 / 0.6, 25 / 0.8);
	a = fmin(500 / 0.6, 800 / 0.8);
	ASSERT_NEAR(run_to_idle(m), 5 / v + v / a, 1e-9);
	motion_destroy(&m);
}

TEST(lookahead_straight_junction)
{
	double o[3] = {0, 0, 0}, t1[3] = {-5, 0, 0}, t2[3] = {-10, 0, 0};
	struct motion *m = motion_new(&LIM, o);

	motion_push(m, t1, 600, MOTION_FEED, false);
	motion_push(m, t2, 600, MOTION_FEED, false);
	ASSERT_EQ(motion_blocks(m), 2);
	/* no stop in between: same time as one 10 mm move */
	ASSERT_NEAR(run_to_idle(m), 1.0 + 10.0 / 500, 1e-9);
	motion_destroy(&m);
}

TEST(junction_deviation_corner)
{
	double o[3] = {0, 0, 0}, t1[3] = {-10, 0, 0}, t2[3] = {-10, -10, 0};
	struct motion *m = motion_new(&LIM, o);
	double s = sqrt(0.5), vj, a = 500, v = 50, expect;
	double ja;

	motion_push(m, t1, 3000, MOTION_FEED, false);
	motion_push(m, t2, 3000, MOTION_FEED, false);
	/* 90 degrees: sin(theta/2) = sqrt(1/2); junction accel along
	 * (-1,-1)/sqrt2 direction difference -> limited to 500/sqrt(1/2)... */
	ja = fmin(500 / s, 500 / s);
	vj = sqrt(ja * 0.010 * s / (1 - s));
	/* each leg: accelerate/decelerate between 0|vj and v */
	expect = (10 - (v * v) / (2 * a) - (v * v - vj * vj) / (2 * a)) / v +
	    v / a + (v - vj) / a;
	expect *= 2; /* symmetric legs */
	ASSERT_NEAR(run_to_idle(m), expect, 1e-9);
	motion_destroy(&m);
}

TEST(feed_hold_stops_in_v2_over_2a)
{
	double o[3] = {0, 0, 0}, tgt[3] = {-100, 0, 0}, p[3];
	struct motion *m = motion_new(&LIM, o);

	motion_push(m, tgt, 1200, MOTION_FEED, false); /* 20 mm/s */
	motion_advance(m, 0, 1.0, NULL, NULL);         /* cruising */
	motion_position(m, p);
	double x0 = p[0];
	ASSERT_NEAR(motion_speed_mm_s(m), 20, 1e-9);
	motion_hold(m, true);
	ASSERT_NEAR(motion_time_to_event(m), 20.0 / 500, 1e-12);
	motion_advance(m, 1.0, 1.0, NULL, NULL);
	ASSERT(motion_held_at_rest(m));
	motion_position(m, p);
	ASSERT_NEAR(x0 - p[0], 20.0 * 20 / (2 * 500), 1e-9);
	motion_hold(m, false);
	ASSERT(motion_busy(m));
	run_to_idle(m);
	motion_position(m, p);
	ASSERT_NEAR(p[0], -100, 1e-9);
	motion_destroy(&m);
}

TEST(planner_holds_fifteen_blocks)
{
	double o[3] = {0, 0, 0}, t[3] = {0, 0, 0};
	struct motion *m = motion_new(&LIM, o);
	int i;

	for (i = 0; i < 15; i++) {
		t[0] = -(i + 1);
		ASSERT_EQ(motion_push(m, t, 600, MOTION_FEED, false), 1);
	}
	t[0] = -20;
	ASSERT_EQ(motion_push(m, t, 600, MOTION_FEED, false), -1);
	motion_destroy(&m);
}

/* Runs a controller with a null skin until an answer is due. */
static double
answer_time(struct gsim *g, const char *line, char *out, size_t cap)
{
	size_t n;

	gsim_input(g, gsim_now(g), (const uint8_t *)line, strlen(line));
	gsim_run(g, INFINITY, true);
	n = gsim_output(g, gsim_now(g), (uint8_t *)out, cap - 1);
	out[n] = '\0';
	return gsim_now(g);
}

TEST(dwell_in_50ms_steps_on_virtual_clock)
{
	double o[3] = {0, 0, 0};
	struct skin *sk = skin_new_flat(-50, o);
	struct fault_set fs;
	struct gsim_opts go = {.baud = 0};
	struct gsim *g;
	char out[512];
	double t0, t1;

	fault_init(&fs, 1);
	g = gsim_new(&go, sk, &fs);
	ASSERT_NOT_NULL(g);
	gsim_power_up(g, 0);
	gsim_output(g, 0, (uint8_t *)out, sizeof(out));
	answer_time(g, "$X\n", out, sizeof(out));
	ASSERT_STR_EQ(out, "[MSG:Caution: Unlocked]\r\nok\r\n");
	t0 = answer_time(g, "G4 P0.06\n", out, sizeof(out));
	ASSERT_STR_EQ(out, "ok\r\n");
	ASSERT_NEAR(t0, 0.10, 1e-9); /* ceil(20 * 0.06) = 2 steps */
	/* a move then a dwell: ok after motion + dwell */
	answer_time(g, "G1 X-10 F600\n", out, sizeof(out));
	ASSERT_STR_EQ(out, "ok\r\n");
	t1 = answer_time(g, "G4 P0\n", out, sizeof(out));
	ASSERT_STR_EQ(out, "ok\r\n");
	ASSERT_NEAR(t1 - t0, 1.0 + 10.0 / 500, 1e-9);
	gsim_destroy(&g);
	skin_destroy(&sk);
}

TEST(baud_rate_costs_wire_time)
{
	double o[3] = {0, 0, 0};
	struct skin *sk = skin_new_flat(-50, o);
	struct fault_set fs;
	struct gsim_opts go = {.baud = 115200};
	struct gsim *g;
	char out[512];
	double t;

	fault_init(&fs, 1);
	g = gsim_new(&go, sk, &fs);
	gsim_power_up(g, 0);
	gsim_run(g, 1.0, false);
	gsim_output(g, 1.0, (uint8_t *)out, sizeof(out));
	/* "$I\n" in (3 bytes), 22+16+4 bytes out, 10 bits each */
	t = answer_time(g, "$I\n", out, sizeof(out));
	ASSERT_STR_EQ(out, "[VER:1.1h.20190830:]\r\n");
	ASSERT_NEAR(t - 1.0, (3 + 22) * 10.0 / 115200, 1e-9);
	gsim_destroy(&g);
	skin_destroy(&sk);
}

/* Random bytes from a G-code alphabet, with real-time bytes mixed in, must
 * never crash or hang the controller and must always be answered or
 * counted; run under the sanitizer build this is a small fuzz. */
TEST_T(random_input_is_survived, 60)
{
	static const char alpha[] = "GMXYZFSPLNT0123456789.-+ ()$;=?!~\n\r";
	double o[3] = {0, 0, 0};
	struct skin *sk = skin_new_flat(-50, o);
	struct fault_set fs;
	struct gsim_opts go = {.baud = 0};
	struct gsim *g;
	uint8_t out[65536];
	unsigned seed = 12345;
	int i, j;

	fault_init(&fs, 1);
	g = gsim_new(&go, sk, &fs);
	gsim_power_up(g, 0);
	for (i = 0; i < 20000; i++) {
		uint8_t buf[40];
		int n = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 39;
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245 + 12345;
			buf[j] = (seed >> 16) % 50 == 0 ?
			    (uint8_t)(0x80 + (seed >> 20) % 40) :
			    (uint8_t)alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		if (i % 7 == 0)
			buf[n++] = '\n';
		if (i % 500 == 0)
			buf[n++] = 0x18;
		gsim_input(g, gsim_now(g), buf, (size_t)n);
		gsim_run(g, gsim_now(g) + 0.05, false);
		gsim_output(g, gsim_now(g), out, sizeof(out));
	}
	ASSERT_GT(gsim_stats(g)->lines, 100);
	gsim_destroy(&g);
	skin_destroy(&sk);
}

TEST_MAIN()
