/*
 * The journal: what a crashed daemon finds when it comes back must say
 * exactly which dots went out, which were confirmed, and must survive a torn
 * last record; damage in the middle must make the unknown dots uncertain
 * rather than silently pending (pending dots get delivered again).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "daemon/journal.h"
#include "test.h"

static char dir[256];

static void
mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/smp-test-journal-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
}

static struct journal *
make(const char *sub, uint32_t dots, const char *plan)
{
	struct journal_header h;
	char err[256], path[300];
	struct journal *j;

	memset(&h, 0, sizeof(h));
	h.plan_hash = journal_hash(plan, strlen(plan));
	h.dots = dots;
	h.config_digest = 0xabcdef;
	snprintf(h.format, sizeof(h.format), "csv");
	snprintf(h.machine, sizeof(h.machine), "smp-test");
	h.started = 1700000000;
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	j = journal_create(path, &h, plan, strlen(plan), err, sizeof(err));
	ASSERT_MSG(j != NULL, "%s", err);
	return j;
}

static void
append_raw(const char *path, const char *bytes)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
	close(fd);
}

TEST(journal_records_and_replay)
{
	const char *plan = "x,y,depth\n1,2,0.5\n3,4,0.5\n5,6,0.5\n7,8,0.5\n";
	struct journal_replay r;
	char err[256], path[512];
	double wco[3] = { -10, -20, -5 };
	struct journal *j;
	char *copy;
	size_t len;

	mkdir_tmp();
	j = make("j", 5, plan);
	snprintf(path, sizeof(path), "%s", journal_path(j));
	ASSERT_EQ(journal_origin(j, wco), 0);
	ASSERT_EQ(journal_sent(j, 0, 1), 0);
	ASSERT_EQ(journal_done(j, 0, 1, 0.5), 0);
	ASSERT_EQ(journal_sent(j, 1, 2), 0);   /* never confirmed */
	ASSERT_EQ(journal_sent(j, 2, 3), 0);
	ASSERT_EQ(journal_uncertain(j, 2, 3), 0);
	ASSERT_EQ(journal_ack(j, 2, 3), 0);
	ASSERT_EQ(journal_sent(j, 3, 4), 0);
	ASSERT_EQ(journal_uncertain(j, 3, 4), 0);
	ASSERT_EQ(journal_redo(j, 3, 4), 0);
	journal_close(&j);
	ASSERT_NULL(j);

	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
	ASSERT_EQ(r.h.dots, 5);
	ASSERT_EQ(r.h.plan_hash, journal_hash(plan, strlen(plan)));
	ASSERT_EQ(r.h.config_digest, 0xabcdef);
	ASSERT_STR_EQ(r.h.format, "csv");
	ASSERT_STR_EQ(r.h.machine, "smp-test");
	ASSERT(r.has_origin);
	ASSERT_NEAR(r.origin[0], -10, 1e-9);
	ASSERT_NEAR(r.origin[2], -5, 1e-9);
	ASSERT_EQ(r.fate[0], JF_DONE);
	ASSERT_EQ(r.fate[1], JF_UNCERTAIN);  /* sent, no done */
	ASSERT_EQ(r.fate[2], JF_ACKED);
	ASSERT_EQ(r.fate[3], JF_PENDING);    /* redo asked */
	ASSERT_EQ(r.fate[4], JF_PENDING);
	ASSERT(!r.ended);
	ASSERT(!r.torn);
	ASSERT_EQ(r.damaged, 0);
	/* The plan copy is beside it, byte for byte. */
	copy = journal_read_file(r.plan_path, &len, err, sizeof(err));
	ASSERT_MSG(copy != NULL, "%s", err);
	ASSERT_EQ(len, strlen(plan));
	ASSERT_STR_EQ(copy, plan);
	free(copy);
	journal_replay_free(&r);
}

TEST(journal_done_is_never_demoted)
{
	struct journal_replay r;
	char err[256], path[512];
	struct journal *j;

	mkdir_tmp();
	j = make("j", 2, "p");
	snprintf(path, sizeof(path), "%s", journal_path(j));
	ASSERT_EQ(journal_sent(j, 0, 10), 0);
	ASSERT_EQ(journal_done(j, 0, 10, 1.0), 0);
	ASSERT_EQ(journal_sent(j, 0, 10), 0);
	ASSERT_EQ(journal_uncertain(j, 0, 10), 0);
	ASSERT_EQ(journal_redo(j, 0, 10), 0);
	journal_close(&j);
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
	ASSERT_EQ(r.fate[0], JF_DONE);
	journal_replay_free(&r);
}

TEST(journal_torn_last_record_is_ignored)
{
	struct journal_replay r;
	char err[256], path[512];
	struct journal *j;

	mkdir_tmp();
	j = make("j", 3, "p");
	snprintf(path, sizeof(path), "%s", journal_path(j));
	ASSERT_EQ(journal_sent(j, 0, 1), 0);
	ASSERT_EQ(journal_done(j, 0, 1, 1.0), 0);
	journal_close(&j);
	/* The power went while "done 1 2 ..." was being written. */
	append_raw(path, "done 1 2 1.2");
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
	ASSERT(r.torn);
	ASSERT_EQ(r.damaged, 0);
	ASSERT_EQ(r.fate[0], JF_DONE);
	ASSERT_EQ(r.fate[1], JF_PENDING);
	journal_replay_free(&r);

	/* Reopening cuts the torn tail, so new records parse. */
	j = journal_reopen(path, err, sizeof(err));
	ASSERT_MSG(j != NULL, "%s", err);
	ASSERT_EQ(journal_sent(j, 1, 2), 0);
	ASSERT_EQ(journal_done(j, 1, 2, 2.0), 0);
	journal_close(&j);
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
	ASSERT(!r.torn);
	ASSERT_EQ(r.damaged, 0);
	ASSERT_EQ(r.fate[1], JF_DONE);
	journal_replay_free(&r);
}

TEST(journal_bad_checksum_at_end_is_torn_in_middle_is_damage)
{
	struct journal_replay r;
	char err[256], path[512];
	struct journal *j;

	mkdir_tmp();
	j = make("j", 4, "p");
	snprintf(path, sizeof(path), "%s", journal_path(j));
	ASSERT_EQ(journal_sent(j, 0, 1), 0);
	ASSERT_EQ(journal_done(j, 0, 1, 1.0), 0);
	journal_close(&j);
	append_raw(path, "sent 1 2 #00000000\n");
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
	ASSERT(r.torn);
	ASSERT_EQ(r.damaged, 0);
	ASSERT_EQ(r.fate[1], JF_PENDING);
	journal_replay_free(&r);

	/* Reopening cuts it: it was never a record. */
	j = journal_reopen(path, err, sizeof(err));
	ASSERT_NOT_NULL(j);
	/* A bad record followed by good ones is damage: the journal can no
	 * longer say which dots went out. */
	append_raw(path, "sent 1 2 #00000000\n");
	ASSERT_EQ(journal_sent(j, 2, 3), 0);
	journal_close(&j);
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
	ASSERT_EQ(r.damaged, 1);
	ASSERT_EQ(r.fate[0], JF_DONE);
	ASSERT_EQ(r.fate[1], JF_UNCERTAIN);
	ASSERT_EQ(r.fate[2], JF_UNCERTAIN);
	ASSERT_EQ(r.fate[3], JF_UNCERTAIN);
	journal_replay_free(&r);
}

TEST(journal_rejects_garbage_and_out_of_range)
{
	struct journal_replay r;
	char err[256], path[512];
	struct journal *j;
	FILE *f;

	mkdir_tmp();
	snprintf(path, sizeof(path), "%s/garbage.journal", dir);
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fputs("hello world\n", f);
	fclose(f);
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "garbage.journal:1: not an smpd journal");

	/* An index beyond the plan counts as damage, not a crash. */
	j = make("k", 2, "p");
	snprintf(path, sizeof(path), "%s", journal_path(j));
	ASSERT_EQ(journal_sent(j, 7, 8), 0);
	ASSERT_EQ(journal_sent(j, 1, 2), 0);
	journal_close(&j);
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
	ASSERT_EQ(r.damaged, 1);
	ASSERT_EQ(r.fate[0], JF_UNCERTAIN);
	ASSERT_EQ(r.fate[1], JF_UNCERTAIN);
	journal_replay_free(&r);

	ASSERT_EQ(journal_replay("/nonexistent/x.journal", &r, err,
	    sizeof(err)), -1);
	ASSERT_STR_CONTAINS(err, "/nonexistent/x.journal");
}

TEST(journal_find_open_picks_newest_unfinished)
{
	char sub[300], path[512], found[512];
	struct journal *a, *b;

	mkdir_tmp();
	snprintf(sub, sizeof(sub), "%s/j", dir);
	ASSERT_EQ(journal_find_open(sub, found, sizeof(found)), 0);
	a = make("j", 1, "a");
	journal_close(&a);
	usleep(2000);
	b = make("j", 1, "b");
	snprintf(path, sizeof(path), "%s", journal_path(b));
	ASSERT_EQ(journal_find_open(sub, found, sizeof(found)), 1);
	ASSERT_STR_EQ(found, path);
	ASSERT_EQ(journal_end(b, "completed", 1, 0), 0);
	journal_close(&b);
	/* The newest is finished: nothing to recover. */
	ASSERT_EQ(journal_find_open(sub, found, sizeof(found)), 0);
}

/* done is written at once (a replay sees it) and synced later; every other
 * record syncs what is before it. */
TEST(journal_done_waits_for_the_next_sync)
{
	const char *plan = "x,y,depth\n1,2,0.5\n3,4,0.5\n";
	struct journal_replay r;
	char err[256], path[512];
	struct journal *j;

	mkdir_tmp();
	j = make("c", 2, plan);
	ASSERT(!journal_unsynced(j));
	ASSERT_EQ(journal_sent(j, 0, 1), 0);
	ASSERT(!journal_unsynced(j));
	ASSERT_EQ(journal_done(j, 0, 1, 1.5), 0);
	ASSERT(journal_unsynced(j));
	snprintf(path, sizeof(path), "%s", journal_path(j));
	ASSERT_EQ(journal_replay(path, &r, err, sizeof(err)), 0);
	ASSERT_EQ(r.fate[0], JF_DONE);
	journal_replay_free(&r);
	ASSERT_EQ(journal_commit(j), 0);
	ASSERT(!journal_unsynced(j));
	ASSERT_EQ(journal_done(j, 1, 2, 2.5), 0);
	ASSERT(journal_unsynced(j));
	ASSERT_EQ(journal_sent(j, 1, 2), 0);    /* syncs the done too */
	ASSERT(!journal_unsynced(j));
	ASSERT_EQ(journal_commit(j), 0);        /* nothing to do */
	journal_close(&j);
	ASSERT_NULL(j);
	ASSERT(!journal_unsynced(NULL));
	ASSERT_EQ(journal_commit(NULL), -1);
}

TEST(journal_create_fails_cleanly)
{
	struct journal_header h;
	char err[256];

	memset(&h, 0, sizeof(h));
	h.dots = 1;
	snprintf(h.format, sizeof(h.format), "csv");
	ASSERT_NULL(journal_create("/proc/smp-no-such/dir", &h, "p", 1, err,
	    sizeof(err)));
	ASSERT_STR_CONTAINS(err, "/proc/smp-no-such");
}

TEST_MAIN()
