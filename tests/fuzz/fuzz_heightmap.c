/*
 * libFuzzer target for the two height-map readers (docs/heightmap.md): the
 * planner's (surface_heightmap_mem), whose surface decides how deep every
 * dot goes and how high every hop flies, and the simulator's own
 * (skin_new_heightmap, which shares no code with the planner so that the
 * simulator cannot inherit the planner's mistakes, and so reads the same
 * text from a file). Besides the sanitizers' "no crash, no leak, no
 * undefined behaviour", it checks what the planner relies on:
 *
 *  - a rejected map comes with at least one error, an accepted one with
 *    none;
 *  - heights are finite everywhere a plan can reach;
 *  - surface_max_on_segment() is never below the skin at any point of the
 *    segment (a hop planned from it would clip the skin);
 *  - when both readers accept the same text, they describe the same skin
 *    (the simulator records penetrations against the map the planner
 *    planned with).
 *
 * Seeds: tests/fuzz/corpus/heightmap/.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "planner/plan.h"
#include "planner/surface.h"
#include "sim/skin.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "invariant failed at line %d: %s\n",  \
			    __LINE__, #c);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

/* Where plans live (the default envelope, and a margin past it). */
static const double probe_mm[][2] = {
	{ 0, 0 }, { -60, -80 }, { 60, 80 }, { -60, 80 }, { 60, -80 },
	{ 12.5, -3.25 }, { -100, 0 }, { 0, 100 }, { 1e-3, 7.77 },
};
#define NPROBE (sizeof(probe_mm) / sizeof(probe_mm[0]))

/* Relative slack for heights that can be as large as the map says. */
static double
slack(double a, double b)
{
	return 1e-9 * (1 + fabs(a) + fabs(b));
}

static const char *
temp_path(void)
{
	static char path[64];
	int fd;

	if (path[0] != '\0')
		return path;
	snprintf(path, sizeof(path), "/tmp/fuzz_heightmap.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		abort();
	close(fd);
	return path;
}

static void
write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double origin[3] = { 0, 0, 0 };
	struct diag_list *dl;
	struct surface *s;
	struct skin *sk;
	char err[512];
	const char *path = temp_path();

	if ((dl = diag_list_new(16, "<fuzz>")) == NULL)
		return 0;
	s = surface_heightmap_mem((const char *)data, size, dl);
	CHECK((s == NULL) == (dl->errors > 0));
	if (s != NULL) {
		CHECK(surface_is_measured(s) == 1);
		for (size_t i = 0; i < NPROBE; i++)
			CHECK(isfinite(surface_z(s, probe_mm[i][0],
			    probe_mm[i][1])));
		for (size_t i = 0; i < NPROBE; i++)
			for (size_t j = i + 1; j < NPROBE; j++) {
				const double *a = probe_mm[i], *b = probe_mm[j];
				double top = surface_max_on_segment(s, a[0],
				    a[1], b[0], b[1]);
				CHECK(isfinite(top));
				for (int k = 0; k <= 16; k++) {
					double t = k / 16.0;
					double z = surface_z(s, a[0] + t *
					    (b[0] - a[0]), a[1] + t *
					    (b[1] - a[1]));
					CHECK(top >= z - slack(top, z));
				}
			}
	}

	write_file(path, data, size);
	err[0] = '\0';
	sk = skin_new_heightmap(path, origin, err, sizeof(err));
	CHECK((sk == NULL) == (err[0] != '\0'));
	if (sk != NULL)
		for (size_t i = 0; i < NPROBE; i++) {
			double h = skin_height(sk, probe_mm[i][0],
			    probe_mm[i][1]);
			CHECK(isfinite(h));
			if (s != NULL) {
				double z = surface_z(s, probe_mm[i][0],
				    probe_mm[i][1]);
				CHECK(fabs(h - z) <= slack(h, z));
			}
		}
	skin_destroy(&sk);
	surface_destroy(&s);
	diag_list_destroy(&dl);
	return 0;
}
