/*
 * The GRBL 1.1 protocol engine, host side. It owns no descriptor and never
 * blocks: the caller feeds it the bytes it read and the current time, asks it
 * whether a line fits, hands it lines and real-time bytes to send, drains the
 * bytes it produced to the transport, and takes events from it. This keeps it
 * inside the daemon's single poll loop and makes it testable without a port.
 *
 * Streaming uses GRBL's character counting: the sum of the lengths (with the
 * '\n') of the lines sent and not yet answered stays within the controller's
 * receive buffer (128 bytes unless `$I` said otherwise). Every ok/error:N
 * answers the oldest unanswered line, and its event carries that line's tag.
 * Real-time bytes bypass the count.
 */
#ifndef SMP_DRIVERS_GRBL_H
#define SMP_DRIVERS_GRBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRBL_RT_STATUS '?'
#define GRBL_RT_HOLD '!'
#define GRBL_RT_RESUME '~'
#define GRBL_RT_RESET 0x18
#define GRBL_RT_DOOR 0x84
#define GRBL_RT_JOG_CANCEL 0x85
#define GRBL_RT_SPINDLE_STOP 0x9E

#define GRBL_LINE_MAX 79        /* characters, without the '\n' */

enum grbl_state {
	GRBL_STATE_UNKNOWN = 0,
	GRBL_STATE_IDLE,
	GRBL_STATE_RUN,
	GRBL_STATE_HOLD,        /* sub 0: complete, 1: decelerating */
	GRBL_STATE_JOG,
	GRBL_STATE_ALARM,
	GRBL_STATE_DOOR,        /* sub 0..3 */
	GRBL_STATE_CHECK,
	GRBL_STATE_HOME,
	GRBL_STATE_SLEEP,
};

/* One parsed status report. Fields absent from a report keep has_* false;
 * the engine remembers the last WCO and Ov so that wpos is always valid once
 * a WCO has been seen. */
struct grbl_status {
	enum grbl_state state;
	int substate;                 /* -1 when none */
	double mpos[3];               /* machine position, mm */
	double wpos[3];               /* work position, mm */
	double wco[3];
	bool has_wco;                 /* a WCO has been seen since connect */
	int buf_blocks, buf_bytes;    /* Bf: free planner blocks, free rx bytes */
	bool has_buf;
	long line_no;                 /* Ln, -1 when absent */
	double feed, speed;           /* FS (or F), mm/min and rpm */
	char pins[12];                /* Pn letters, "" when none */
	int ov_feed, ov_rapid, ov_spindle; /* percent */
	bool spindle_cw, spindle_ccw, flood, mist; /* A: field */
};

enum grbl_event_kind {
	GRBL_EV_NONE = 0,
	GRBL_EV_OK,        /* tag: the line it answers */
	GRBL_EV_ERROR,     /* tag, code: error:N for that line */
	GRBL_EV_ALARM,     /* code: ALARM:N */
	GRBL_EV_STATUS,    /* status: a full report */
	GRBL_EV_BANNER,    /* text: "Grbl 1.1h ['$' for help]"; the controller
	                      reset, every unanswered line is dropped (their
	                      tags are reported as GRBL_EV_LOST first) */
	GRBL_EV_LOST,      /* tag: a line that will never be answered */
	GRBL_EV_MSG,       /* text: the inside of [MSG:...] */
	GRBL_EV_FEEDBACK,  /* text: the inside of other [...] lines ($I, $G,
	                      $#, ...), e.g. "VER:1.1h.20190830:" */
	GRBL_EV_SETTING,   /* setting, value: one "$N=V" line of `$$` */
	GRBL_EV_OTHER,     /* text: a line the engine did not recognise;
	                      code GRBL_OTHER_SUSPECT when it may be a
	                      mangled answer (see below), else 0 */
};

/* GRBL_EV_OTHER's code when the line came while lines were in flight and is
 * not report-shaped: it may have been an ok or error:N mangled on the wire,
 * so later answers may be matched one line late (never early) and an error
 * may go unseen. tag: the oldest line in flight. A cautious caller stops
 * streaming and resets. Extension. */
#define GRBL_OTHER_SUSPECT 1

struct grbl_event {
	enum grbl_event_kind kind;
	uint64_t tag;
	/* Whether tag names a line: always for OK, ERROR and LOST; for ALARM,
	 * MSG, FEEDBACK and SETTING when a line was unanswered as it came,
	 * tag is the oldest such line, the one GRBL was working on (for
	 * ALARM:2 the line refused by the soft limits, for [MSG:...] the
	 * line that printed it). Extension. */
	bool tagged;
	int code;
	int setting;
	double value;
	char text[128];
	struct grbl_status status;
};

struct grbl;

/* rx_size: the controller's receive buffer (128 for GRBL; from $I later). */
struct grbl *grbl_new(int rx_size);
void grbl_destroy(struct grbl **g);

/* Sets the receive-buffer size used for counting (after `$I` reports it). */
void grbl_set_rx_size(struct grbl *g, int rx_size);

/* Feeds bytes read from the controller. Complete lines become events. */
void grbl_feed(struct grbl *g, const char *buf, size_t len);

/* Whether a line of len characters (without '\n') may be sent now. */
bool grbl_can_send(const struct grbl *g, size_t len);
/* Bytes (each line's '\n' included) that may be sent now before the
 * receive buffer is full: for a caller that must send lines together. */
size_t grbl_free_bytes(const struct grbl *g);
/*
 * Queues line (without '\n'; at most GRBL_LINE_MAX characters, printable
 * ASCII, no real-time characters) for output and counts it as unanswered.
 * tag comes back on its OK/ERROR/LOST event. Returns 0, or -1 if it does
 * not fit now or is malformed (nothing is queued then).
 */
int grbl_send_line(struct grbl *g, const char *line, uint64_t tag);
/* Queues a real-time byte; it goes out ahead of any queued line bytes. */
void grbl_send_realtime(struct grbl *g, uint8_t byte);

/* Bytes waiting to be written: *buf points inside the engine, valid until the
 * next call that changes it. Returns the count. */
size_t grbl_tx_pending(const struct grbl *g, const uint8_t **buf);
/* Marks n pending bytes as written to the transport. */
void grbl_tx_consume(struct grbl *g, size_t n);

/* Lines sent and not yet answered, and the bytes they occupy. */
size_t grbl_unanswered(const struct grbl *g);
size_t grbl_unanswered_bytes(const struct grbl *g);

/*
 * Forgets every unanswered line, each reported as a GRBL_EV_LOST event, and
 * discards queued line output (queued real-time bytes, such as the soft
 * reset the caller just asked for, still go out). For the caller that has
 * sent (or is about to send) a soft reset or lost the link: answers that
 * arrive afterwards until the next banner are reported as GRBL_EV_OTHER,
 * never as OK, so that a late "ok" of a flushed line is not mistaken for a
 * delivery. ALARM, status and messages are still reported as such.
 */
void grbl_flush(struct grbl *g);

/* Takes the next event; false when there is none. Events come in the order
 * the controller's lines arrived. Text fields hold printable ASCII only. */
bool grbl_next_event(struct grbl *g, struct grbl_event *ev);

/* The last status report parsed (state UNKNOWN before the first). */
const struct grbl_status *grbl_last_status(const struct grbl *g);

/*
 * Parses one status report line ("<Idle|MPos:...>") into st, using and
 * updating the remembered WCO/Ov in st for fields the report omits.
 * Returns 0, or -1 if the line is not a well-formed report (st unchanged).
 * Pure; exposed for tests and fuzzing.
 */
int grbl_parse_status(const char *line, struct grbl_status *st);

const char *grbl_state_name(enum grbl_state s);

/* Extensions beyond the first contract (drivers engineer). */

/* Whether len bytes of line may be sent as one GRBL line: at most
 * GRBL_LINE_MAX printable ASCII characters, none of `?` `!` `~`. */
bool grbl_line_valid(const char *line, size_t len);
/* Whether a `$H` sent is still unanswered: GRBL answers no `?` while it
 * homes, so a watchdog must wait for the homing cycle's own end. */
bool grbl_homing_pending(const struct grbl *g);
/* For a connection that closed or is about to be replaced: like
 * grbl_flush(), and also forgets the partial line received and every queued
 * byte, real-time ones included, so nothing of the old connection leaks into
 * the next. Remembered status (WCO, Ov) is kept. */
void grbl_disconnect(struct grbl *g);
/* Events lost because memory ran out (0 unless malloc failed). */
unsigned long grbl_events_dropped(const struct grbl *g);

#endif /* SMP_DRIVERS_GRBL_H */
