/*
 * Regression tests for what fuzzing found (tests/fuzz/), one case per
 * finding, each with the input the fuzzer produced (or its minimal form)
 * and the behaviour the fix gives. Every case here failed before its fix.
 * Findings in the planner, whose fixes belong to the planner's engineers,
 * are in test_regress_fuzz_planner.c until they are fixed.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "daemon/journal.h"
#include "sim/gsim.h"
#include "sim/skin.h"
#include "test.h"

/* ---- journal ---- */

/* The record checksum of journal.c (FNV-1a 32 of the text). */
static uint32_t
record_crc(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* Writes the records (NULL-terminated list), each with its checksum, to a
 * new temporary file whose path is left in path. */
static void
write_journal(char *path, size_t len, const char *const *recs)
{
	FILE *f;
	int fd;

	snprintf(path, len, "/tmp/smp-regress-XXXXXX");
	ASSERT((fd = mkstemp(path)) >= 0);
	ASSERT_NOT_NULL(f = fdopen(fd, "w"));
	for (; *recs != NULL; recs++)
		fprintf(f, "%s #%08x\n", *recs, record_crc(*recs));
	ASSERT_EQ(fclose(f), 0);
}

/*
 * fuzz_journal, out-of-memory: a checksummed header whose dot count is past
 * 32 bits ("dots=55555555555555555555", read as 4294967295) made replay
 * calloc 4 GB before reading a single record. A journal can never hold more
 * dots than a plan may have (planner.max_dots <= 1e8): such a header is not
 * a journal header.
 */
TEST(journal_header_dot_count_bounded)
{
	static const char *const huge[] = {
	    "smpd-journal 1 plan=9f3a1c2b4d5e6f70 dots=55555555555555555555 "
	    "config=0123456789abcdef format=csv started=1746293400 "
	    "machine=robot-1", "sent 0 1", NULL };
	static const char *const over[] = {
	    "smpd-journal 1 plan=9f3a1c2b4d5e6f70 dots=100000001 "
	    "config=0123456789abcdef format=csv started=1746293400 "
	    "machine=robot-1", NULL };
	static const char *const most[] = {
	    "smpd-journal 1 plan=9f3a1c2b4d5e6f70 dots=100000000 "
	    "config=0123456789abcdef format=csv started=1746293400 "
	    "machine=robot-1", "done 99999999 100000000 1.000", NULL };
	struct journal_replay r;
	char path[64], err[256];

	write_journal(path, sizeof(path), huge);
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "not an smpd journal header");
	ASSERT(r.fate == NULL);
	unlink(path);

	write_journal(path, sizeof(path), over);
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), -1);
	unlink(path);

	/* The largest plan still replays. */
	write_journal(path, sizeof(path), most);
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
	ASSERT_EQ(r.h.dots, 100000000u);
	ASSERT_EQ(r.fate[99999999], JF_DONE);
	ASSERT_EQ(r.fate[0], JF_PENDING);
	journal_replay_free(&r);
	unlink(path);
}

/* ---- smpsim's controller model ---- */

/* A controller at 115200 baud, unlocked, with a flat skin at z = -10. */
struct sim {
	struct fault_set fs;
	struct skin *skin;
	struct gsim *g;
	char out[65536];        /* every answer so far */
	size_t outlen;
};

/* Runs the model through its events (at most n), collecting answers. */
static void
sim_settle(struct sim *m, int n)
{
	for (int i = 0; i < n; i++) {
		double next;
		m->outlen += gsim_output(m->g, gsim_now(m->g),
		    (uint8_t *)m->out + m->outlen, sizeof(m->out) - 1 -
		    m->outlen);
		next = gsim_next_event(m->g);
		if (!isfinite(next))
			break;
		gsim_run(m->g, next, true);
	}
	m->outlen += gsim_output(m->g, gsim_now(m->g), (uint8_t *)m->out +
	    m->outlen, sizeof(m->out) - 1 - m->outlen);
	m->out[m->outlen] = '\0';
}

static void
sim_write(struct sim *m, const char *s)
{
	gsim_input(m->g, gsim_now(m->g), (const uint8_t *)s, strlen(s));
	sim_settle(m, 1000);
}

static void
sim_start(struct sim *m)
{
	static const double origin[3] = { 0, 0, 0 };
	struct gsim_opts o = { .baud = 115200 };

	memset(m, 0, sizeof(*m));
	fault_init(&m->fs, 1);
	ASSERT_NOT_NULL(m->skin = skin_new_flat(-10, origin));
	ASSERT_NOT_NULL(m->g = gsim_new(&o, m->skin, &m->fs));
	gsim_power_up(m->g, 0);
	gsim_host_open(m->g, 0, false);
	sim_write(m, "$X\n");
	m->outlen = 0;
}

static void
sim_stop(struct sim *m)
{
	gsim_destroy(&m->g);
	skin_destroy(&m->skin);
}

/*
 * fuzz_sim_line, stack-buffer-overflow in status_report(): work offsets
 * and a spindle speed of 38 digits made the report longer than its
 * 200-byte buffer, and "n += snprintf(buf + n, sizeof(buf) - n, ...)" went
 * on writing past it. A report too long for a line is now cut, and every
 * answer line, cut or not, still ends in CR LF.
 */
TEST(sim_status_report_with_huge_numbers)
{
	struct sim m;
	char *line, *save = NULL;
	int reports = 0;

	sim_start(&m);
	sim_write(&m, "G10L2P1X-99999999999999999999999999999999999999\n");
	sim_write(&m, "G10L2P1Y-99999999999999999999999999999999999999\n");
	sim_write(&m, "G10L2P1Z-99999999999999999999999999999999999999\n");
	sim_write(&m, "M3S99999999999999999999999999999999999999\n");
	sim_write(&m, "?");
	sim_write(&m, "$10=2\n");
	sim_write(&m, "?");
	ASSERT_STR_CONTAINS(m.out, "<Idle|WPos:99999999999999");
	for (line = strtok_r(m.out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		size_t l = strlen(line);
		ASSERT_MSG(l >= 1 && line[l - 1] == '\r', "line without CR "
		    "LF: \"%s\"", line);
		ASSERT_LT(l, 200u);
		reports += line[0] == '<';
	}
	ASSERT_EQ(reports, 2);
	sim_write(&m, "\x18");
	ASSERT(!skin_needle_on(m.skin));
	sim_stop(&m);
}

/*
 * fuzz_sim_line, float-cast-overflow in say_setting(): "$1=1e20" (written
 * out in digits) was stored, and "$$" converted it to int. Integer
 * settings larger than 16 bits are now refused with error:3 and the old
 * value stays.
 */
TEST(sim_integer_setting_out_of_range)
{
	struct sim m;

	sim_start(&m);
	sim_write(&m, "$1=99999999999999999999\n");
	ASSERT_STR_CONTAINS(m.out, "error:3");
	m.outlen = 0;
	sim_write(&m, "$1=65535\n");
	ASSERT_STR_CONTAINS(m.out, "ok");
	m.outlen = 0;
	sim_write(&m, "$$\n");
	ASSERT_STR_CONTAINS(m.out, "$1=65535\r\n");
	sim_stop(&m);
}

/*
 * fuzz_sim_line, float-cast-overflow in skin_track(): with soft limits off
 * a host can command a move of 1e11 mm; the skin tracker's step count
 * (length / 0.1 mm) overflowed an int, and on x86 came out negative, so the
 * whole piece went untracked. Now a piece takes at most 10000 steps (0.1 mm
 * up to 1 m, coarser beyond): a sideways move under the skin is still
 * seen, however long, and quickly.
 */
TEST(skin_tracks_a_huge_move)
{
	static const double origin[3] = { 0, 0, 0 };
	const double above[3] = { 0, 0, 1 }, in[3] = { 0, 0, -1 };
	const double far[3] = { 1e11, 0, -1 };
	struct skin *s;

	ASSERT_NOT_NULL(s = skin_new_flat(0, origin));
	skin_needle(s, true, 0);
	skin_track(s, above, in, 0, 1);
	ASSERT_EQ(skin_penetrations(s), 1u);
	ASSERT_EQ(skin_violations(s), 0u);
	skin_track(s, in, far, 1, 2);
	skin_flush_open(s, 2);
	ASSERT_EQ(skin_penetrations(s), 1u);
	ASSERT_EQ(skin_violations(s), 1u);
	skin_destroy(&s);
}

/*
 * The skin of a dot plan (smpsim --skin-plan) asked for its height far off
 * the plan: the cell numbers, floor(x / 2 mm), overflowed an int. The
 * answer is the plan's first dot (nothing is within the search), as it was
 * for points merely far.
 */
TEST(skin_plan_height_far_away)
{
	static const double origin[3] = { 0, 0, 0 };
	char path[64], err[256];
	struct skin *s;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/smp-regress-XXXXXX");
	ASSERT((fd = mkstemp(path)) >= 0);
	ASSERT_NOT_NULL(f = fdopen(fd, "w"));
	fprintf(f, "x,y,z\n0,0,-1.5\n1,0,-1\n0,1,-1\n");
	ASSERT_EQ(fclose(f), 0);
	s = skin_new_plan(path, origin, err, sizeof(err));
	ASSERT_MSG(s != NULL, "%s", err);
	ASSERT_NEAR(skin_height(s, 1e12, -1e12), -1.5, 1e-9);
	ASSERT_NEAR(skin_height(s, 0, 0), -1.5, 1e-9);
	skin_destroy(&s);
	unlink(path);
}

/*
 * fuzz_sim_line, invariant "after the closing reset the needle is off": a
 * ctrl-x that arrived while the banner of the reset before it was still on
 * the wire was ignored altogether ("two resets in a row give one banner"),
 * so "ctrl-x M3S1000 CR ctrl-x" left the spindle (the needle) on. The second
 * reset now stops everything and only its banner is merged.
 */
TEST(sim_second_reset_still_stops)
{
	struct sim m;
	const char *s = "\x18M3S1000\r\x18";

	sim_start(&m);
	gsim_input(m.g, gsim_now(m.g), (const uint8_t *)s, strlen(s));
	sim_settle(&m, 1000);
	ASSERT(!skin_needle_on(m.skin));
	/* Still one banner for the two resets. */
	ASSERT_STR_CONTAINS(m.out, "Grbl 1.1h");
	ASSERT(strstr(strstr(m.out, "Grbl 1.1h") + 1, "Grbl 1.1h") == NULL);
	sim_stop(&m);
}

/*
 * fuzz_sim_line, timeout: "$H", "$20=0", "X999999", "$H" (homing back from
 * a kilometre away, 1.4e5 simulated seconds) hung the simulator. Past about
 * 1e4 s the clock's resolution is coarser than the motion's completion
 * tolerance (1e-12 s): a block's last remainder r had now + r == now, so
 * the event loop stepped to the same instant for ever. Any long session at
 * --speed max could have met it. The remainder is now finished in place.
 */
TEST_T(sim_time_does_not_stand_still, 10)
{
	struct sim m;

	sim_start(&m);
	sim_write(&m, "$H\n");
	sim_write(&m, "$20=0\n");
	sim_write(&m, "X999999\n");
	m.outlen = 0;
	sim_write(&m, "$H\n");
	ASSERT_STR_CONTAINS(m.out, "ok");
	ASSERT_GT(gsim_now(m.g), 1e5);
	m.outlen = 0;
	sim_write(&m, "?");
	ASSERT_STR_CONTAINS(m.out, "<Idle|MPos:-1.000,-1.000,-1.000");
	sim_stop(&m);
}

/*
 * fuzz_heightmap, out-of-memory: smpsim's height-map reader allocated the
 * whole grid from the size line before reading a row, so a 60-byte file
 * saying "size 43333 35333" asked for 12 GB. Its bounds are now the
 * planner's (each side in [2, 10000]): both readers accept the same maps.
 */
TEST(sim_heightmap_size_bounded)
{
	static const double origin[3] = { 0, 0, 0 };
	char path[64], err[256];
	struct skin *s;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/smp-regress-XXXXXX");
	ASSERT((fd = mkstemp(path)) >= 0);
	ASSERT_NOT_NULL(f = fdopen(fd, "w"));
	fprintf(f, "smp-heightmap 1\r\norigin -70 -8.\r\nstep 40 40\r\n"
	    "size 43333 35333\n-3 -2\n");
	ASSERT_EQ(fclose(f), 0);
	s = skin_new_heightmap(path, origin, err, sizeof(err));
	ASSERT(s == NULL);
	ASSERT_STR_CONTAINS(err, ":4: size must be two integers in [2, 10000]");
	unlink(path);
}

TEST_MAIN()
