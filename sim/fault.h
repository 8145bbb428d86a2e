/*
 * smpsim's fault script: what to break, when, and how often, parsed from
 * --fault specs (grammar in docs/smpsim.md) into a flat list the controller
 * model consults. Random faults draw from one seeded generator so that a run
 * with the same seed and the same input breaks the same way.
 */
#ifndef SMP_SIM_FAULT_H
#define SMP_SIM_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fault_kind {
	FAULT_CLOSE = 0,  /* close the link: at=t or after lines */
	FAULT_STALL,      /* stop answering from t for for_s */
	FAULT_RESET,      /* power glitch at t */
	FAULT_ALARM,      /* ALARM:code at t */
};

#define FAULT_MAX 32

struct fault_event {
	enum fault_kind kind;
	double t_s;       /* simulated time; < 0 when triggered by lines */
	long lines;       /* FAULT_CLOSE after this many lines; 0 = unused */
	double for_s;     /* FAULT_STALL */
	int code;         /* FAULT_ALARM */
	bool fired;
};

struct fault_set {
	struct fault_event ev[FAULT_MAX];
	int nev;
	double drop_rx, corrupt_rx, drop_tx; /* probabilities 0..1 */
	double slow_s;                       /* extra delay of every answer */
	bool noreply_status_in_alarm;
	uint64_t rng;
};

/* Empty set with the given seed. */
void fault_init(struct fault_set *fs, uint64_t seed);
/* Adds one spec (several items separated by ';', or "@FILE" with one spec
 * per line). -1 with a message naming the bad item in err. */
int fault_parse(struct fault_set *fs, const char *spec, char *err,
    size_t errlen);
/* A uniform draw in [0, 1). */
double fault_rand(struct fault_set *fs);

#endif /* SMP_SIM_FAULT_H */
