/*
 * The session journal: every dot's fate on disk, so that a crash, a power
 * loss or a lost link loses nothing and no dot is ever delivered twice.
 *
 * One directory holds one journal per session, "<stamp>-<planhash>.journal",
 * beside a verbatim copy of the plan it runs ("....plan") so that a restarted
 * daemon can come back to the same dots without the operator's file. The
 * journal is append-only text, one record per line, each ending in a
 * checksum, so a torn last record (the power went during write) is detected
 * and ignored:
 *
 *   smpd-journal 1 plan=<hex> dots=<n> config=<hex> format=<csv|json> ...  #<crc>
 *   origin <x> <y> <z>        work zero in machine coordinates     #<crc>
 *   sent <index> <id>         written before the plunge is sent    #<crc>
 *   done <index> <id> <t_s>   the dwell's ok arrived               #<crc>
 *   uncertain <index> <id>    may or may not have been delivered   #<crc>
 *   ack <index> <id>          operator: leave it, never deliver it #<crc>
 *   redo <index> <id>         operator: deliver it again           #<crc>
 *   end <completed|aborted> <delivered> <uncertain>                #<crc>
 *
 * Every record but done is fdatasync'd before the caller goes on (sent is
 * the write-ahead for a plunge). done is written at once (a crash of the
 * process cannot lose it: it is in the kernel's cache) and becomes durable
 * against a power loss with the next synced record or journal_commit(); the
 * caller syncs within a short bound. A done lost to a power cut before its
 * sync leaves that dot `sent`, hence uncertain after recovery: never
 * repeated. <index> is the dot's index in the plan, <id> its id, for humans
 * and for cross-checking.
 */
#ifndef SMP_DAEMON_JOURNAL_H
#define SMP_DAEMON_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A dot's fate as the journal knows it. */
enum journal_fate {
	JF_PENDING = 0, /* never sent, or redo asked */
	JF_SENT,        /* plunge sent, no confirmation (uncertain at replay) */
	JF_DONE,        /* delivered */
	JF_UNCERTAIN,   /* declared uncertain */
	JF_ACKED,       /* uncertain, operator said leave it */
};

struct journal_header {
	uint64_t plan_hash;      /* of the plan text */
	uint32_t dots;
	uint64_t config_digest;
	char format[8];          /* "csv" or "json" */
	char machine[64];
	int64_t started;         /* unix time */
};

struct journal;

/*
 * Starts a new journal in dir for a session of the plan text (copied to a
 * sidecar file): creates dir if missing, writes the header, syncs both files
 * and the directory. NULL with a reason in err.
 */
struct journal *journal_create(const char *dir, const struct journal_header *h,
    const char *plan_text, size_t plan_len, char *err, size_t errlen);
/* The same with the plan copied from the file plan_path, in chunks, which
 * must still hash to h->plan_hash (else NULL: "... changed since it was
 * loaded"), so that the daemon need not keep a plan file's bytes. */
struct journal *journal_create_from(const char *dir,
    const struct journal_header *h, const char *plan_path, char *err,
    size_t errlen);
/* Reopens an existing journal for appending (after journal_replay). */
struct journal *journal_reopen(const char *path, char *err, size_t errlen);
/* Closes; accepts NULL; sets *j to NULL. Does not write an end record. */
void journal_close(struct journal **j);
const char *journal_path(const struct journal *j);

/* Appends one record, fdatasync'd (with every record before it) before
 * returning, except done, which is only written (see above). 0, or -1 with
 * errno (the caller must stop the session: a journal that cannot be
 * written cannot protect the next dot). */
int journal_origin(struct journal *j, const double wco[3]);
int journal_sent(struct journal *j, uint32_t index, int64_t id);
int journal_done(struct journal *j, uint32_t index, int64_t id, double t_s);
int journal_uncertain(struct journal *j, uint32_t index, int64_t id);
int journal_ack(struct journal *j, uint32_t index, int64_t id);
int journal_redo(struct journal *j, uint32_t index, int64_t id);
int journal_end(struct journal *j, const char *how, size_t delivered,
    size_t uncertain);
/* Makes every record written so far durable (fdatasync); nothing to do when
 * all are. 0, or -1 with errno. */
int journal_commit(struct journal *j);
/* Whether a record (a done) waits for journal_commit(). */
bool journal_unsynced(const struct journal *j);

/* What a replay found. fate[] has header.dots entries. */
struct journal_replay {
	char path[512];
	char plan_path[512];
	struct journal_header h;
	uint8_t *fate;           /* enum journal_fate per plan index */
	bool ended;              /* an end record: nothing to recover */
	char end_how[16];
	bool torn;               /* the last record was incomplete (ignored) */
	size_t damaged;          /* bad records before the last one */
	bool has_origin;
	double origin[3];
	size_t records;
};

/*
 * Reads a journal. A torn last record is tolerated. A damaged record before
 * the end means the file cannot be trusted about which dots went out, so
 * every dot not known as done becomes uncertain. 0, or -1 with err.
 */
int journal_replay(const char *path, struct journal_replay *r, char *err,
    size_t errlen);
void journal_replay_free(struct journal_replay *r);

/* Finds the newest journal in dir without an end record. 1 with its path,
 * 0 if none (or dir missing), -1 on error. */
int journal_find_open(const char *dir, char *path, size_t len);

/* Reads a whole file into a NUL-terminated buffer the caller frees. */
char *journal_read_file(const char *path, size_t *len, char *err,
    size_t errlen);

/* FNV-1a 64 of a buffer, the plan hash. */
uint64_t journal_hash(const void *buf, size_t len);

#endif /* SMP_DAEMON_JOURNAL_H */
