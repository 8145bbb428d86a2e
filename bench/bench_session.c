/*
 * A whole session in smpsim, measured: a 20,000-dot plan streamed by smpd at
 * `--speed max`; a 100,000-dot plan loaded, preflighted and started; and a
 * shorter session at four times the real pace. Prints smpd's CPU time per
 * hour of machine time (machine time: the planner's estimate of the
 * session), smpd's peak resident memory (VmHWM, which counts the pages of
 * its shared libraries too: 7 MB of an idle smpd) after each step, and the
 * host-side starvation as the controller saw it: smpsim's count of the times
 * it sat with the needle on, nothing to run and no line of the host on the
 * way (docs/smpsim.md). At `--speed max` the simulator gives the host about
 * 2 ms of wall time per motion event still queued where a machine gives
 * 180 ms, so a journal flush or a wait for a core longer than that counts
 * there; the paced run gives a quarter of the real margin and is the true
 * figure. A benchmark: it prints, it never fails on time.
 *
 * usage: bench_session [DOTS] [BIG_DOTS] [PACED_DOTS]
 *        (defaults 20000 100000 600; 0 skips a part)
 */
#include "e2e/e2e.h"

static void
proc_usage(pid_t pid, double *cpu_s, long *hwm_kb, long *rss_kb)
{
	char path[64], line[512];
	FILE *f;
	long ticks = sysconf(_SC_CLK_TCK);

	*cpu_s = 0;
	*hwm_kb = *rss_kb = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL) {
			char *p = strrchr(line, ')');
			unsigned long ut = 0, st = 0;
			if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d "
			    "%*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
				*cpu_s = (double)(ut + st) / (double)ticks;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			sscanf(line, "VmHWM: %ld", hwm_kb);
			sscanf(line, "VmRSS: %ld", rss_kb);
		}
		fclose(f);
	}
}

static void
memory(struct e2e *e, int dots, const char *after)
{
	double cpu;
	long hwm, rss;

	proc_usage(e->smpd, &cpu, &hwm, &rss);
	printf("  %d dots: smpd after %s: RSS %.1f MB, peak %.1f MB\n", dots,
	    after, rss / 1024.0, hwm / 1024.0);
}

static void
grid_plan(const char *path, int n, double step)
{
	int side = (int)ceil(sqrt((double)n));
	FILE *f = fopen(path, "w");
	int i;

	ASSERT_NOT_NULL(f);
	fprintf(f, "id,x,y,depth,dwell_ms\n");
	for (i = 0; i < n; i++)
		fprintf(f, "%d,%.3f,%.3f,%.2f,%d\n", i + 1,
		    (i % side - side / 2) * step, (i / side - side / 2) * step,
		    0.5 + 0.1 * (i % 6), 50);
	fclose(f);
}

/* smpsim and smpd up, a plan of dots loaded, the machine homed, the origin
 * set, the program preflighted. */
static void
prepare(struct e2e *e, int dots, const char *speed, char *summary,
    size_t sumlen)
{
	json_t *r, *ev;
	size_t from;
	double t0;

	e2e_init(e);
	snprintf(summary, sumlen, "%s/sim-summary.json", e->dir);
	snprintf(e->sim_args, sizeof(e->sim_args), "--speed %s --summary %s",
	    speed, summary);
	e2e_start_sim(e);
	e2e_write_config(e, NULL);
	e2e_start_smpd(e);
	e2e_connect(e);
	grid_plan(e->plan, dots, dots > 40000 ? 0.3 : 0.5);
	e2e_wait_state(e, "idle", 30);
	memory(e, dots, "start-up");
	t0 = e2e_now();
	r = e2e_cmd(e, "load", json_pack("{s:s}", "plan", e->plan));
	ASSERT_MSG(json_is_true(json_object_get(r, "ok")), "load refused");
	json_decref(r);
	printf("  %d dots: load %.2f s\n", dots, e2e_now() - t0);
	memory(e, dots, "load");
	e2e_prepare_machine(e);
	from = json_array_size(e->events);
	t0 = e2e_now();
	e2e_ok(e, "preflight", NULL);
	ev = e2e_wait_event(e, "done", "preflight", &from, 600);
	ASSERT(json_is_true(json_object_get(ev, "ok")));
	printf("  %d dots: preflight ($C) %.2f s wall\n", dots,
	    e2e_now() - t0);
	memory(e, dots, "preflight");
}

static double
start(struct e2e *e)
{
	json_t *r = e2e_cmd(e, "start", NULL);
	double est;

	ASSERT(json_is_true(json_object_get(r, "ok")));
	est = json_number_value(json_object_get(r, "estimate_s"));
	json_decref(r);
	return est;
}

static void
starvation(int dots, const char *summary, const char *how)
{
	json_error_t je;
	json_t *sum = json_load_file(summary, 0, &je);

	ASSERT_MSG(sum != NULL, "no smpsim summary %s", summary);
	printf("  %d dots: host-side starvation (smpsim, %s): %lld times, "
	    "%.3f s in all, longest %.3f s\n", dots, how,
	    (long long)json_integer_value(json_object_get(sum, "starved_n")),
	    json_number_value(json_object_get(sum, "starved_s")),
	    json_number_value(json_object_get(sum, "starved_max_s")));
	printf("figure: host-side starvation, %d dots (%s) | %lld times, "
	    "%.3f s\n", dots, how,
	    (long long)json_integer_value(json_object_get(sum, "starved_n")),
	    json_number_value(json_object_get(sum, "starved_s")));
	json_decref(sum);
}

/* A whole session: CPU, memory and starvation. */
static void
whole(int dots, const char *speed, bool cpu_figures)
{
	struct e2e e;
	json_t *ev;
	size_t from;
	char summary[400];
	double t0, est, cpu0, cpu, wall;
	long hwm, rss;

	prepare(&e, dots, speed, summary, sizeof(summary));
	proc_usage(e.smpd, &cpu0, &hwm, &rss);
	from = json_array_size(e.events);
	est = start(&e);
	t0 = e2e_now();
	ev = e2e_wait_event(&e, "session_end", NULL, &from, 3600);
	wall = e2e_now() - t0;
	e2e_pump(&e, 200);
	proc_usage(e.smpd, &cpu, &hwm, &rss);
	printf("  %d dots: session %s, %lld delivered, %.1f s wall, machine "
	    "time (estimate) %.0f s = %.2f h\n", dots,
	    json_string_value(json_object_get(ev, "result")),
	    (long long)json_integer_value(json_object_get(ev, "delivered")),
	    wall, est, est / 3600);
	if (cpu_figures) {
		printf("  %d dots: smpd CPU during the session %.2f s = %.1f s "
		    "per hour of machine time (goal < 36)\n", dots, cpu - cpu0,
		    est > 0 ? (cpu - cpu0) / (est / 3600) : 0);
		printf("  %d dots: smpd peak RSS %.1f MB\n", dots,
		    hwm / 1024.0);
		printf("figure: smpd + smpsim, %d-dot session at --speed max | "
		    "%.1f s wall for %.2f h; smpd CPU %.1f s per machine hour, "
		    "peak RSS %.1f MB\n", dots, wall, est / 3600, est > 0 ?
		    (cpu - cpu0) / (est / 3600) : 0, hwm / 1024.0);
	}
	e2e_stop_all(&e);
	starvation(dots, summary, strcmp(speed, "max") == 0 ?
	    "--speed max" : "paced");
}

/* A big plan: loaded, preflighted, started and streamed for a while. */
static void
big(int dots)
{
	struct e2e e;
	char summary[400];
	double est, t0;

	prepare(&e, dots, "max", summary, sizeof(summary));
	est = start(&e);
	t0 = e2e_now();
	while (e2e_now() < t0 + 3)
		e2e_pump(&e, 100);
	printf("  %d dots: started (estimate %.1f h), %zu delivered so far\n",
	    dots, est / 3600, e.dots_seen);
	memory(&e, dots, "start and 3 s of streaming");
	{
		double cpu;
		long hwm, rss;
		proc_usage(e.smpd, &cpu, &hwm, &rss);
		printf("figure: smpd peak RSS, %d-dot plan loaded, preflighted, "
		    "streaming | %.1f MB\n", dots, hwm / 1024.0);
	}
	e2e_stop_all(&e);
}

int
main(int argc, char **argv)
{
	int dots = argc > 1 ? atoi(argv[1]) : 20000;
	int bigdots = argc > 2 ? atoi(argv[2]) : 100000;
	int paced = argc > 3 ? atoi(argv[3]) : 600;

	printf("bench_session: smpd + smpsim\n");
	if (dots > 0)
		whole(dots, "max", true);
	if (bigdots > 0)
		big(bigdots);
	if (paced > 0) {
		printf("  at four times the real pace (--speed 4):\n");
		whole(paced, "4", false);
	}
	return 0;
}
