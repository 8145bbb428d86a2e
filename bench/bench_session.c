/*
 * A whole session in smpsim, measured: a 20,000-dot plan streamed by smpd at
 * `--speed max`, then a 100,000-dot plan loaded and preflighted. Prints the
 * host-side starvation (time the controller had answered everything while
 * smpd still had lines for it), smpd's CPU time per hour of machine time
 * (machine time: the planner's estimate of the session), and smpd's peak
 * resident memory. A benchmark: it prints, it never fails on time.
 *
 * usage: bench_session [DOTS] [BIG_DOTS]   (defaults 20000 100000)
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

static double
run(int dots, bool deliver)
{
	struct e2e e;
	json_t *r, *ev;
	size_t from;
	double t0, est = 0, cpu, wall;
	long hwm, rss;
	double step = dots > 40000 ? 0.3 : 0.5;

	e2e_init(&e);
	e2e_start_sim(&e);
	e2e_write_config(&e, NULL);
	e2e_start_smpd(&e);
	e2e_connect(&e);
	grid_plan(e.plan, dots, step);
	e2e_wait_state(&e, "idle", 30);
	t0 = e2e_now();
	r = e2e_cmd(&e, "load", json_pack("{s:s}", "plan", e.plan));
	ASSERT_MSG(json_is_true(json_object_get(r, "ok")), "load refused");
	json_decref(r);
	printf("  %d dots: load %.2f s\n", dots, e2e_now() - t0);
	e2e_prepare_machine(&e);
	from = json_array_size(e.events);
	t0 = e2e_now();
	e2e_ok(&e, "preflight", NULL);
	ev = e2e_wait_event(&e, "done", "preflight", &from, 600);
	ASSERT(json_is_true(json_object_get(ev, "ok")));
	printf("  %d dots: preflight ($C) %.2f s wall\n", dots,
	    e2e_now() - t0);
	proc_usage(e.smpd, &cpu, &hwm, &rss);
	printf("  %d dots: smpd after load and preflight: RSS %.1f MB, peak "
	    "%.1f MB, CPU %.2f s\n", dots, rss / 1024.0, hwm / 1024.0, cpu);
	if (deliver) {
		double cpu0 = cpu;
		r = e2e_cmd(&e, "start", NULL);
		ASSERT(json_is_true(json_object_get(r, "ok")));
		est = json_number_value(json_object_get(r, "estimate_s"));
		json_decref(r);
		t0 = e2e_now();
		ev = e2e_wait_event(&e, "session_end", NULL, &from, 1200);
		wall = e2e_now() - t0;
		e2e_pump(&e, 200);
		proc_usage(e.smpd, &cpu, &hwm, &rss);
		printf("  %d dots: session %s, %lld delivered, %.1f s wall, "
		    "machine time (estimate) %.0f s = %.2f h\n", dots,
		    json_string_value(json_object_get(ev, "result")),
		    (long long)json_integer_value(json_object_get(ev,
		    "delivered")), wall, est, est / 3600);
		printf("  %d dots: host-side starvation %.3f s\n", dots,
		    json_number_value(json_object_get(e.last_status,
		    "starved_s")));
		printf("  %d dots: smpd CPU during the session %.2f s = %.1f s "
		    "per hour of machine time (goal < 36)\n", dots, cpu - cpu0,
		    est > 0 ? (cpu - cpu0) / (est / 3600) : 0);
		printf("  %d dots: smpd peak RSS %.1f MB\n", dots, hwm / 1024.0);
	}
	e2e_stop_all(&e);
	return est;
}

int
main(int argc, char **argv)
{
	int dots = argc > 1 ? atoi(argv[1]) : 20000;
	int big = argc > 2 ? atoi(argv[2]) : 100000;

	printf("bench_session: smpd + smpsim --speed max\n");
	run(dots, true);
	if (big > 0)
		run(big, false);
	return 0;
}
