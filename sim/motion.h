/*
 * smpsim's motion model: GRBL's planner and stepper reduced to their timing.
 * Blocks are straight moves in machine space; each runs a trapezoidal (or
 * triangular) speed profile limited by its slowest axis, with junction
 * speeds from the junction-deviation rule and look-ahead over every buffered
 * block (backward pass from a stop at the end, forward pass from the speed
 * the machine has now). Time is advanced by the caller in arbitrary steps and
 * the model reports the straight pieces of path it travelled, so that the
 * skin model sees every penetration exactly. It computes in closed form, never
 * in step ticks, which is what lets a 3-hour session run in seconds.
 */
#ifndef SMP_SIM_MOTION_H
#define SMP_SIM_MOTION_H

#include <stdbool.h>

#define MOTION_AXES 3
/* GRBL 1.1 keeps 16 blocks of which 15 are usable. */
#define MOTION_BLOCKS 15

struct motion_limits {
	double max_rate_mm_min[MOTION_AXES]; /* $110-$112 */
	double accel_mm_s2[MOTION_AXES];     /* $120-$122 */
	double junction_dev_mm;              /* $11 */
};

/* Called for each straight piece of path travelled, from p0 at time t0_s to
 * p1 at t1_s (machine mm, simulated seconds). */
typedef void (*motion_path_fn)(void *arg, const double p0[MOTION_AXES],
    const double p1[MOTION_AXES], double t0_s, double t1_s);

enum motion_kind {
	MOTION_FEED = 0,  /* G1, jog, homing: feed rate applies, feed override */
	MOTION_RAPID,     /* G0: axis maximum rates, rapid override */
	MOTION_JOG,       /* $J=: feed rate, no override */
};

struct motion;

/* A stopped machine at pos (machine mm). NULL on allocation failure. */
struct motion *motion_new(const struct motion_limits *lim,
    const double pos[MOTION_AXES]);
void motion_destroy(struct motion **m);

/* New limits ($11, $110-$122 changed); applies to blocks queued later. */
void motion_set_limits(struct motion *m, const struct motion_limits *lim);
/* Queues a straight move to target at feed_mm_min (ignored for RAPID).
 * exact_stop forces a stop before it (homing). Returns 1 if queued, 0 if the
 * move has no length (nothing to do), -1 if the buffer is full. */
int motion_push(struct motion *m, const double target[MOTION_AXES],
    double feed_mm_min, enum motion_kind kind, bool exact_stop);
/* Blocks queued, including the one executing. */
int motion_blocks(const struct motion *m);
/* Whether anything moves or is queued to move. */
bool motion_busy(const struct motion *m);
/* The kind of the executing block (meaningful while busy). */
enum motion_kind motion_current_kind(const struct motion *m);
/* Advances time by dt_s, reporting path pieces to fn (may be NULL). now_s is
 * the simulated time at the start of the step. Returns the number of blocks
 * completed in the step. */
int motion_advance(struct motion *m, double now_s, double dt_s,
    motion_path_fn fn, void *arg);
/* Seconds until the next block completes or a hold comes to rest; INFINITY
 * when nothing moves. */
double motion_time_to_event(const struct motion *m);
/* Feed hold: decelerate at the blocks' acceleration to a stop (true), or
 * resume from it (false). */
void motion_hold(struct motion *m, bool on);
/* Whether a hold is active and the machine has come to rest. */
bool motion_held_at_rest(const struct motion *m);
/* Overrides in percent: feed 10-200 (FEED and not JOG), rapid 25/50/100. */
void motion_set_overrides(struct motion *m, int feed_pct, int rapid_pct);
/* Removes every queued block and stops at once (reset, alarm). */
void motion_clear(struct motion *m);
/* Removes every block but the executing one and brings that to a stop as a
 * hold would (jog cancel); the machine is then idle where it stopped. */
void motion_cancel(struct motion *m);
/* Where the machine is now (machine mm) and how fast it moves (mm/s). */
void motion_position(const struct motion *m, double pos[MOTION_AXES]);
double motion_speed_mm_s(const struct motion *m);
/* Sets the position of a stopped machine (power-up, homing). */
void motion_set_position(struct motion *m, const double pos[MOTION_AXES]);

#endif /* SMP_SIM_MOTION_H */
