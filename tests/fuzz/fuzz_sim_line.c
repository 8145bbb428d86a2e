/*
 * libFuzzer target for smpsim's controller model (sim/gsim.h): whatever
 * bytes a host writes (G-code lines, `$` commands, real-time bytes, binary
 * noise, lines past the 128-byte receive buffer), the simulator must not
 * crash, leak, hang or do anything undefined, because every test of the
 * daemon stands on it. The input is written line by line, as a host would,
 * at 115200 baud, and after each line the model runs through its events (a
 * bounded number) while the harness reads every answer. The last line goes
 * out in one write with a soft reset (ctrl-x) behind it, as smpd stops,
 * and the model runs until it is quiet. Checks besides the sanitizers:
 *
 *  - every answer byte is printable ASCII, CR or LF (the driver's parser
 *    treats anything else as line noise);
 *  - after the closing reset the needle is off (a stop leaves the needle
 *    off);
 *  - simulated time never goes back.
 *
 * Seeds: tests/fuzz/corpus/sim_line/.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/fault.h"
#include "sim/gsim.h"
#include "sim/skin.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "invariant failed at line %d: %s\n",  \
			    __LINE__, #c);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

/* Events processed after each line: enough for a line's answer, a dwell or
 * a few moves; bounded so that a long program cannot stall the fuzzer. */
#define EVENTS_PER_LINE 256

static void
drain(struct gsim *g)
{
	uint8_t buf[8192];
	size_t n;

	while ((n = gsim_output(g, gsim_now(g), buf, sizeof(buf))) > 0)
		for (size_t i = 0; i < n; i++)
			CHECK((buf[i] >= 0x20 && buf[i] < 0x7f) ||
			    buf[i] == '\r' || buf[i] == '\n');
}

/* Runs the model from event to event until it has nothing left to do for
 * the host (or the bound is reached), reading the answers as they fall due. */
static void
settle(struct gsim *g, int events)
{
	double before = gsim_now(g);

	for (int i = 0; i < events; i++) {
		double next, now;
		drain(g);
		next = gsim_next_event(g);
		if (!isfinite(next))
			break;
		now = gsim_run(g, next, true);
		CHECK(now >= before);
		before = now;
	}
	drain(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double origin[3] = { 0, 0, 0 };
	struct gsim_opts opts = { .baud = 115200, .needle = GSIM_NEEDLE_SPINDLE,
	    .on_open = GSIM_OPEN_BANNER };
	struct fault_set fs;
	struct skin *skin = NULL;
	struct gsim *g = NULL;
	size_t pos = 0;
	uint8_t *last;

	fault_init(&fs, 1);
	if ((skin = skin_new_flat(-10, origin)) == NULL)
		goto done;
	if ((g = gsim_new(&opts, skin, &fs)) == NULL)
		goto done;
	gsim_power_up(g, 0);
	gsim_host_open(g, 0, false);
	settle(g, EVENTS_PER_LINE);
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl != NULL ? (size_t)(nl - (data + pos)) + 1 :
		    size - pos;
		if (pos + len == size)
			break;
		gsim_input(g, gsim_now(g), data + pos, len);
		pos += len;
		settle(g, EVENTS_PER_LINE);
	}
	/* The last line and the reset in one write, so that the reset can
	 * meet whatever that line left on the wire or in progress. */
	if ((last = malloc(size - pos + 1)) == NULL)
		goto done;
	memcpy(last, data + pos, size - pos);
	last[size - pos] = 0x18;
	gsim_input(g, gsim_now(g), last, size - pos + 1);
	free(last);
	settle(g, 4 * EVENTS_PER_LINE);
	CHECK(!skin_needle_on(skin));
done:
	gsim_destroy(&g);
	skin_destroy(&skin);
	return 0;
}
