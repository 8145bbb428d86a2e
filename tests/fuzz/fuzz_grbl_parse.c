/*
 * libFuzzer target for the controller-facing parser: the bytes a controller
 * (or a noisy cable) can send. Each input is parsed as one status report and
 * fed to an engine with lines in flight, checking the engine's invariants:
 * counting never exceeds the receive buffer, event text is printable and
 * terminated, a parsed report has finite positions with WPos = MPos - WCO,
 * and a rejected report leaves the status untouched.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/grbl.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "invariant failed: %s\n", #c);        \
			abort();                                              \
		}                                                             \
	} while (0)

static void
check_status(const struct grbl_status *st)
{
	for (int k = 0; k < 3; k++) {
		CHECK(isfinite(st->mpos[k]) && isfinite(st->wpos[k]));
		double wco = st->has_wco ? st->wco[k] : 0;
		CHECK(fabs(st->mpos[k] - wco - st->wpos[k]) <=
		    1e-9 * (1 + fabs(st->mpos[k]) + fabs(wco)));
	}
	CHECK(memchr(st->pins, '\0', sizeof(st->pins)) != NULL);
	CHECK(st->feed >= 0 && st->speed >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct grbl_status base;
	struct grbl_status st, before;
	struct grbl_event ev;
	struct grbl *g;
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* One report, over a status with history. */
	if (base.state == GRBL_STATE_UNKNOWN)
		grbl_parse_status("<Idle|MPos:1.000,2.000,3.000|FS:0,0|WCO:"
		    "0.500,0.500,0.500|Ov:100,100,100>", &base);
	st = before = base;
	if (grbl_parse_status(s, &st) == 0)
		check_status(&st);
	else
		CHECK(memcmp(&st, &before, sizeof(st)) == 0);
	free(s);

	/* The whole stream, with lines in flight. */
	if ((g = grbl_new(128)) == NULL)
		return 0;
	for (uint64_t t = 0; grbl_send_line(g, "G1 X1.000 Y2.000 F600", t) == 0;
	    t++)
		;
	grbl_feed(g, (const char *)data, size);
	CHECK(grbl_unanswered_bytes(g) <= 128);
	while (grbl_next_event(g, &ev)) {
		size_t n = strnlen(ev.text, sizeof(ev.text));
		CHECK(n < sizeof(ev.text));
		for (size_t i = 0; i < n; i++)
			CHECK(ev.text[i] >= 0x20 && ev.text[i] < 0x7f);
		if (ev.kind == GRBL_EV_STATUS)
			check_status(&ev.status);
		if (ev.kind == GRBL_EV_OK || ev.kind == GRBL_EV_ERROR ||
		    ev.kind == GRBL_EV_LOST)
			CHECK(ev.tag < 6);
	}
	CHECK(grbl_unanswered_bytes(g) <= 128);
	grbl_destroy(&g);
	return 0;
}
