/*
 * The GRBL 1.1 protocol engine, host side (see grbl.h for the contract).
 *
 * It keeps four queues and nothing else: the bytes to write (real-time bytes
 * at the front, line bytes behind them), the lines sent and not yet answered
 * (length and tag, oldest first: GRBL answers strictly in order), the partial
 * line being received, and the events produced. There is no I/O and no clock
 * here, so every rule of the protocol is tested by feeding it strings.
 *
 * Matching answers to lines is the safety-critical part: an `ok` is what the
 * daemon counts as a delivered dot. Two rules protect it. A banner means the
 * controller reset and forgot its receive buffer, so every unanswered line is
 * LOST, never OK. And after grbl_flush() (the caller reset the controller or
 * lost the link) answers are never matched until the next banner, because
 * GRBL prints the pending `ok` of a dwell or of a blocked line before the
 * banner of a soft reset.
 */
#include "drivers/grbl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_LINE_MAX 256     /* longest controller line kept; longer lines are
                               reported truncated as GRBL_EV_OTHER */
#define RT_PENDING_MAX 256  /* real-time bytes queued and not yet written */

struct pending_line {
	uint64_t tag;
	size_t bytes;       /* with the '\n' */
	bool homing;        /* a `$H`: GRBL answers no `?` until it ends */
};

struct grbl {
	int rx_size;

	/* Output: out[head..len) is pending; the first rt_pending of those
	 * are real-time bytes, which always go out before line bytes. */
	uint8_t *out;
	size_t out_cap, out_head, out_len, rt_pending;

	/* Unanswered lines, a ring. */
	struct pending_line *lines;
	size_t lines_cap, lines_head, lines_n;
	size_t unanswered_bytes;
	size_t homing_n;

	/* Receive side. */
	char rx[RX_LINE_MAX + 1];
	size_t rx_len;
	bool rx_truncated;
	bool flushed;       /* answers are unmatched until the next banner */

	/* Events, a ring that grows. */
	struct grbl_event *ev;
	size_t ev_cap, ev_head, ev_n;
	unsigned long ev_dropped;

	struct grbl_status status;  /* last report, with remembered WCO/Ov */
};

static void
status_init(struct grbl_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = GRBL_STATE_UNKNOWN;
	st->substate = -1;
	st->line_no = -1;
	st->ov_feed = st->ov_rapid = st->ov_spindle = 100;
}

struct grbl *
grbl_new(int rx_size)
{
	struct grbl *g = NULL;

	if (rx_size < 16 || rx_size > 65536)
		goto fail;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		goto fail;
	g->rx_size = rx_size;
	g->out_cap = (size_t)rx_size + RT_PENDING_MAX;
	if ((g->out = malloc(g->out_cap)) == NULL)
		goto fail;
	g->lines_cap = (size_t)rx_size;
	if ((g->lines = calloc(g->lines_cap, sizeof(*g->lines))) == NULL)
		goto fail;
	g->ev_cap = 64;
	if ((g->ev = calloc(g->ev_cap, sizeof(*g->ev))) == NULL)
		goto fail;
	status_init(&g->status);
	return g;
fail:
	grbl_destroy(&g);
	return NULL;
}

void
grbl_destroy(struct grbl **gp)
{
	struct grbl *g;

	if (gp == NULL || (g = *gp) == NULL)
		return;
	free(g->out);
	free(g->lines);
	free(g->ev);
	free(g);
	*gp = NULL;
}

void
grbl_set_rx_size(struct grbl *g, int rx_size)
{
	uint8_t *out;
	struct pending_line *lines;
	size_t i, cap;

	if (rx_size < 16 || rx_size > 65536)
		return;
	cap = (size_t)rx_size + RT_PENDING_MAX;
	if (cap > g->out_cap) {
		if ((out = realloc(g->out, cap)) == NULL)
			return;     /* keep the old, smaller size: still safe */
		g->out = out;
		g->out_cap = cap;
	}
	/* Every line takes at least one byte, so rx_size entries suffice;
	 * never shrink below what is in use. */
	cap = (size_t)rx_size > g->lines_n ? (size_t)rx_size : g->lines_n;
	if (cap != g->lines_cap) {
		if ((lines = calloc(cap, sizeof(*lines))) == NULL)
			return;
		for (i = 0; i < g->lines_n; i++)
			lines[i] = g->lines[(g->lines_head + i) % g->lines_cap];
		free(g->lines);
		g->lines = lines;
		g->lines_cap = cap;
		g->lines_head = 0;
	}
	g->rx_size = rx_size;
}

/* ---- events ---- */

static struct grbl_event *
ev_push(struct grbl *g, enum grbl_event_kind kind)
{
	struct grbl_event *ev, *nev;
	size_t i, ncap;

	if (g->ev_n == g->ev_cap) {
		ncap = g->ev_cap * 2;
		if ((nev = calloc(ncap, sizeof(*nev))) == NULL) {
			/* Nothing sane to do without memory; count it so a
			 * caller can see it (grbl_events_dropped). */
			g->ev_dropped++;
			return NULL;
		}
		for (i = 0; i < g->ev_n; i++)
			nev[i] = g->ev[(g->ev_head + i) % g->ev_cap];
		free(g->ev);
		g->ev = nev;
		g->ev_cap = ncap;
		g->ev_head = 0;
	}
	ev = &g->ev[(g->ev_head + g->ev_n) % g->ev_cap];
	g->ev_n++;
	memset(ev, 0, offsetof(struct grbl_event, status));
	ev->kind = kind;
	/* Out-of-band lines belong to the line GRBL is working on. */
	if (g->lines_n > 0 && (kind == GRBL_EV_ALARM || kind == GRBL_EV_MSG ||
	    kind == GRBL_EV_FEEDBACK || kind == GRBL_EV_SETTING)) {
		ev->tag = g->lines[g->lines_head].tag;
		ev->tagged = true;
	}
	return ev;
}

/* Copies s into dst, replacing anything not printable so that text taken
 * from the wire is always safe to log and to put in JSON. */
static void
text_copy(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t i;

	if (n > dstlen - 1)
		n = dstlen - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = '\0';
}

static void
ev_text(struct grbl *g, enum grbl_event_kind kind, const char *s, size_t n)
{
	struct grbl_event *ev;

	if ((ev = ev_push(g, kind)) != NULL)
		text_copy(ev->text, sizeof(ev->text), s, n);
}

bool
grbl_next_event(struct grbl *g, struct grbl_event *ev)
{
	if (g->ev_n == 0)
		return false;
	*ev = g->ev[g->ev_head];
	g->ev_head = (g->ev_head + 1) % g->ev_cap;
	g->ev_n--;
	return true;
}

unsigned long
grbl_events_dropped(const struct grbl *g)
{
	return g->ev_dropped;
}

/* ---- sending ---- */

bool
grbl_can_send(const struct grbl *g, size_t len)
{
	return len <= GRBL_LINE_MAX &&
	    g->unanswered_bytes + len + 1 <= (size_t)g->rx_size;
}

size_t
grbl_free_bytes(const struct grbl *g)
{
	return g->unanswered_bytes >= (size_t)g->rx_size ? 0 :
	    (size_t)g->rx_size - g->unanswered_bytes;
}

/* Whether line may go to GRBL as one line: printable ASCII without the
 * characters GRBL acts on in real time, wherever they appear. */
bool
grbl_line_valid(const char *line, size_t len)
{
	size_t i;

	if (len > GRBL_LINE_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c >= 0x7f || c == GRBL_RT_STATUS ||
		    c == GRBL_RT_HOLD || c == GRBL_RT_RESUME)
			return false;
	}
	return true;
}

/* Whether line is the homing command `$H` (spaces ignored, as GRBL does). */
static bool
line_is_homing(const char *line, size_t len)
{
	char s[4];
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (line[i] == ' ')
			continue;
		if (n == 3)
			return false;
		s[n++] = line[i];
	}
	return n == 2 && s[0] == '$' && (s[1] == 'H' || s[1] == 'h');
}

/* Moves pending output to the start of the buffer when the tail is short. */
static void
out_compact(struct grbl *g, size_t need)
{
	if (g->out_len + need <= g->out_cap)
		return;
	memmove(g->out, g->out + g->out_head, g->out_len - g->out_head);
	g->out_len -= g->out_head;
	g->out_head = 0;
}

int
grbl_send_line(struct grbl *g, const char *line, uint64_t tag)
{
	size_t len = strlen(line);
	struct pending_line *pl;

	if (!grbl_line_valid(line, len) || !grbl_can_send(g, len) ||
	    g->lines_n == g->lines_cap)
		return -1;
	out_compact(g, len + 1);
	/* Unanswered bytes bound the line bytes pending, and out_cap leaves
	 * RT_PENDING_MAX for real-time bytes, so this always fits. */
	if (g->out_len + len + 1 > g->out_cap)
		return -1;
	memcpy(g->out + g->out_len, line, len);
	g->out[g->out_len + len] = '\n';
	g->out_len += len + 1;

	pl = &g->lines[(g->lines_head + g->lines_n) % g->lines_cap];
	pl->tag = tag;
	pl->bytes = len + 1;
	pl->homing = line_is_homing(line, len);
	g->lines_n++;
	g->unanswered_bytes += len + 1;
	if (pl->homing)
		g->homing_n++;
	return 0;
}

void
grbl_send_realtime(struct grbl *g, uint8_t byte)
{
	size_t at, i;

	/* Several `?` before one reply merge into one reply anyway. */
	if (byte == GRBL_RT_STATUS) {
		for (i = 0; i < g->rt_pending; i++)
			if (g->out[g->out_head + i] == GRBL_RT_STATUS)
				return;
	}
	/* Hold, resume, reset, door and jog cancel are idempotent: the same
	 * byte twice in a row acts once. */
	if (g->rt_pending > 0 && g->out[g->out_head + g->rt_pending - 1] ==
	    byte && (byte == GRBL_RT_HOLD || byte == GRBL_RT_RESUME ||
	    byte == GRBL_RT_RESET || byte == GRBL_RT_DOOR ||
	    byte == GRBL_RT_JOG_CANCEL))
		return;
	if (g->rt_pending >= RT_PENDING_MAX) {
		/* The transport has not taken a byte in ages. A reset still
		 * goes: it supersedes every real-time byte before it. */
		if (byte != GRBL_RT_RESET)
			return;
		memmove(g->out + g->out_head, g->out + g->out_head +
		    g->rt_pending, g->out_len - g->out_head - g->rt_pending);
		g->out_len -= g->rt_pending;
		g->rt_pending = 0;
	}
	if (g->out_head > 0) {
		/* Room in front: shift the real-time bytes down by one. */
		g->out_head--;
		memmove(g->out + g->out_head, g->out + g->out_head + 1,
		    g->rt_pending);
	} else {
		out_compact(g, 1);
		if (g->out_len + 1 > g->out_cap)
			return;
		at = g->out_head + g->rt_pending;
		memmove(g->out + at + 1, g->out + at, g->out_len - at);
		g->out_len++;
	}
	g->out[g->out_head + g->rt_pending] = byte;
	g->rt_pending++;
}

size_t
grbl_tx_pending(const struct grbl *g, const uint8_t **buf)
{
	if (buf != NULL)
		*buf = g->out + g->out_head;
	return g->out_len - g->out_head;
}

void
grbl_tx_consume(struct grbl *g, size_t n)
{
	size_t pending = g->out_len - g->out_head;

	if (n > pending)
		n = pending;
	g->out_head += n;
	g->rt_pending = n >= g->rt_pending ? 0 : g->rt_pending - n;
	if (g->out_head == g->out_len)
		g->out_head = g->out_len = 0;
}

size_t
grbl_unanswered(const struct grbl *g)
{
	return g->lines_n;
}

size_t
grbl_unanswered_bytes(const struct grbl *g)
{
	return g->unanswered_bytes;
}

bool
grbl_homing_pending(const struct grbl *g)
{
	return g->homing_n > 0;
}

static struct pending_line
lines_pop(struct grbl *g)
{
	struct pending_line pl = g->lines[g->lines_head];

	g->lines_head = (g->lines_head + 1) % g->lines_cap;
	g->lines_n--;
	g->unanswered_bytes -= pl.bytes;
	if (pl.homing)
		g->homing_n--;
	return pl;
}

/* Every unanswered line becomes LOST, and line bytes not yet written are
 * dropped with them (they were counted as unanswered). A line partly written
 * is dropped too: its head sits in the controller's buffer, which the reset
 * that follows clears. Real-time bytes stay: a queued soft reset must go. */
static void
lose_all(struct grbl *g)
{
	struct pending_line pl;
	struct grbl_event *ev;

	while (g->lines_n > 0) {
		pl = lines_pop(g);
		if ((ev = ev_push(g, GRBL_EV_LOST)) != NULL) {
			ev->tag = pl.tag;
			ev->tagged = true;
		}
	}
	g->out_len = g->out_head + g->rt_pending;
}

void
grbl_flush(struct grbl *g)
{
	lose_all(g);
	g->flushed = true;
}

void
grbl_disconnect(struct grbl *g)
{
	lose_all(g);
	g->flushed = true;
	g->out_head = g->out_len = g->rt_pending = 0;
	g->rx_len = 0;
	g->rx_truncated = false;
}

/* ---- receiving ---- */

/* Parses a decimal number as GRBL prints it: [-]digits[.digits]. No
 * exponents, no inf/nan, no locale. Returns the end, or NULL. */
static const char *
parse_num(const char *s, const char *end, double *v)
{
	double x = 0, scale = 1;
	bool neg = false, digits = false;
	int n = 0;

	if (s < end && (*s == '-' || *s == '+')) {
		neg = *s == '-';
		s++;
	}
	while (s < end && *s >= '0' && *s <= '9') {
		if (++n > 12)
			return NULL;
		x = x * 10 + (*s++ - '0');
		digits = true;
	}
	if (s < end && *s == '.') {
		s++;
		while (s < end && *s >= '0' && *s <= '9') {
			if (++n > 18)
				return NULL;
			scale /= 10;
			x += (*s++ - '0') * scale;
			digits = true;
		}
	}
	if (!digits)
		return NULL;
	*v = neg ? -x : x;
	return s;
}

/* Parses exactly "int" (non-negative, at most 9 digits) over [s, end). */
static int
parse_uint(const char *s, const char *end, long *v)
{
	long x = 0;

	if (s == end || end - s > 9)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		x = x * 10 + (*s - '0');
	}
	*v = x;
	return 0;
}

/* Parses a comma list of min..max numbers filling out[0..min). Extra axes
 * beyond min (grblHAL with more than three) are read and ignored. Returns
 * the count, or -1. */
static int
parse_list(const char *s, const char *end, double *out, int min, int max)
{
	double v;
	int n = 0;

	for (;;) {
		if ((s = parse_num(s, end, &v)) == NULL || n == max)
			return -1;
		if (n < min)
			out[n] = v;
		n++;
		if (s == end)
			break;
		if (*s++ != ',')
			return -1;
	}
	return n >= min ? n : -1;
}

static int
parse_int_list(const char *s, const char *end, long *out, int n)
{
	const char *comma;
	int i;

	for (i = 0; i < n; i++) {
		comma = s;
		while (comma < end && *comma != ',')
			comma++;
		if ((i < n - 1) != (comma < end))
			return -1;
		if (parse_uint(s, comma, &out[i]) < 0)
			return -1;
		s = comma + 1;
	}
	return 0;
}

static const struct {
	const char *name;
	enum grbl_state state;
	int max_sub;        /* -1: no substate allowed */
} state_names[] = {
	{"Idle", GRBL_STATE_IDLE, -1},   {"Run", GRBL_STATE_RUN, -1},
	{"Hold", GRBL_STATE_HOLD, 1},    {"Jog", GRBL_STATE_JOG, -1},
	{"Alarm", GRBL_STATE_ALARM, -1}, {"Door", GRBL_STATE_DOOR, 3},
	{"Check", GRBL_STATE_CHECK, -1}, {"Home", GRBL_STATE_HOME, -1},
	{"Sleep", GRBL_STATE_SLEEP, -1},
};

static int
parse_state(const char *s, const char *end, struct grbl_status *st)
{
	const char *colon = memchr(s, ':', (size_t)(end - s));
	size_t nlen = (size_t)((colon ? colon : end) - s);
	size_t i;
	long sub;

	for (i = 0; i < sizeof(state_names) / sizeof(*state_names); i++) {
		if (strlen(state_names[i].name) != nlen ||
		    memcmp(state_names[i].name, s, nlen) != 0)
			continue;
		st->state = state_names[i].state;
		st->substate = -1;
		if (colon == NULL)
			return 0;
		if (parse_uint(colon + 1, end, &sub) < 0 ||
		    sub > state_names[i].max_sub)
			return -1;
		st->substate = (int)sub;
		return 0;
	}
	return -1;
}

static bool
field_is(const char *s, const char *colon, const char *name)
{
	size_t n = strlen(name);

	return (size_t)(colon - s) == n && memcmp(s, name, n) == 0;
}

enum {
	F_MPOS = 1 << 0, F_WPOS = 1 << 1, F_BF = 1 << 2, F_LN = 1 << 3,
	F_FS = 1 << 4, F_PN = 1 << 5, F_WCO = 1 << 6, F_OV = 1 << 7,
	F_A = 1 << 8,
};

int
grbl_parse_status(const char *line, struct grbl_status *out)
{
	struct grbl_status st = *out;
	const char *s, *end, *bar, *colon;
	double pos[3], v[2];
	long iv[3];
	unsigned seen = 0, bit;
	size_t len, i;
	int k;

	len = strlen(line);
	if (len < 3 || line[0] != '<' || line[len - 1] != '>')
		return -1;
	for (i = 1; i < len - 1; i++)
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] >= 0x7f || line[i] == '<' ||
		    line[i] == '>')
			return -1;
	s = line + 1;
	end = line + len - 1;

	/* Fields a report carries only when they apply. */
	st.has_buf = false;
	st.buf_blocks = st.buf_bytes = 0;
	st.line_no = -1;
	st.pins[0] = '\0';

	bar = memchr(s, '|', (size_t)(end - s));
	if (parse_state(s, bar ? bar : end, &st) < 0)
		return -1;
	while (bar != NULL) {
		s = bar + 1;
		bar = memchr(s, '|', (size_t)(end - s));
		const char *fend = bar ? bar : end;
		if ((colon = memchr(s, ':', (size_t)(fend - s))) == NULL)
			return -1;
		const char *val = colon + 1;
		if (field_is(s, colon, "MPos")) {
			bit = F_MPOS;
			if (parse_list(val, fend, pos, 3, 6) < 0)
				return -1;
		} else if (field_is(s, colon, "WPos")) {
			bit = F_WPOS;
			if (parse_list(val, fend, pos, 3, 6) < 0)
				return -1;
		} else if (field_is(s, colon, "Bf")) {
			bit = F_BF;
			if (parse_int_list(val, fend, iv, 2) < 0 ||
			    iv[0] > 100000 || iv[1] > 1000000)
				return -1;
			st.has_buf = true;
			st.buf_blocks = (int)iv[0];
			st.buf_bytes = (int)iv[1];
		} else if (field_is(s, colon, "Ln")) {
			bit = F_LN;
			if (parse_uint(val, fend, &iv[0]) < 0)
				return -1;
			st.line_no = iv[0];
		} else if (field_is(s, colon, "FS")) {
			bit = F_FS;
			if (parse_list(val, fend, v, 2, 2) < 0 || v[0] < 0 ||
			    v[1] < 0)
				return -1;
			st.feed = v[0];
			st.speed = v[1];
		} else if (field_is(s, colon, "F")) {
			bit = F_FS;
			if (parse_list(val, fend, v, 1, 1) < 0 || v[0] < 0)
				return -1;
			st.feed = v[0];
			st.speed = 0;
		} else if (field_is(s, colon, "Pn")) {
			bit = F_PN;
			if (fend - val < 1 ||
			    (size_t)(fend - val) >= sizeof(st.pins))
				return -1;
			for (i = 0; val + i < fend; i++) {
				if (strchr("XYZABCUVWPDHRSET", val[i]) == NULL)
					return -1;
				st.pins[i] = val[i];
			}
			st.pins[i] = '\0';
		} else if (field_is(s, colon, "WCO")) {
			bit = F_WCO;
			if (parse_list(val, fend, st.wco, 3, 6) < 0)
				return -1;
			st.has_wco = true;
		} else if (field_is(s, colon, "Ov")) {
			bit = F_OV;
			if (parse_int_list(val, fend, iv, 3) < 0 ||
			    iv[0] > 1000 || iv[1] > 1000 || iv[2] > 1000)
				return -1;
			st.ov_feed = (int)iv[0];
			st.ov_rapid = (int)iv[1];
			st.ov_spindle = (int)iv[2];
		} else if (field_is(s, colon, "A")) {
			bit = F_A;
			if (fend - val < 1)
				return -1;
			for (i = 0; val + i < fend; i++)
				if (strchr("SCFMT", val[i]) == NULL)
					return -1;
		} else {
			/* An unknown field (grblHAL adds some): ignored, as
			 * GRBL's interface notes ask of a host, but it must
			 * at least have a name. */
			if (colon == s)
				return -1;
			for (const char *p = s; p < colon; p++)
				if (!((*p >= 'A' && *p <= 'Z') ||
				    (*p >= 'a' && *p <= 'z')))
					return -1;
			continue;
		}
		if (seen & bit)
			return -1;
		seen |= bit;
		if (bit == F_A) {
			/* Remembered: A rides on Ov reports only. */
			st.spindle_cw = memchr(val, 'S', (size_t)(fend - val));
			st.spindle_ccw = memchr(val, 'C', (size_t)(fend - val));
			st.flood = memchr(val, 'F', (size_t)(fend - val));
			st.mist = memchr(val, 'M', (size_t)(fend - val));
		}
	}
	/* Exactly one position, in whichever frame $10 asked for. */
	if (((seen & F_MPOS) != 0) == ((seen & F_WPOS) != 0))
		return -1;
	if ((seen & F_A) && !(seen & F_OV))
		return -1;
	/* An Ov report without A means every accessory is off. */
	if ((seen & F_OV) && !(seen & F_A))
		st.spindle_cw = st.spindle_ccw = st.flood = st.mist = false;
	for (k = 0; k < 3; k++) {
		double wco = st.has_wco ? st.wco[k] : 0;
		if (seen & F_MPOS) {
			st.mpos[k] = pos[k];
			st.wpos[k] = pos[k] - wco;
		} else {
			st.wpos[k] = pos[k];
			st.mpos[k] = pos[k] + wco;
		}
	}
	*out = st;
	return 0;
}

const char *
grbl_state_name(enum grbl_state s)
{
	switch (s) {
	case GRBL_STATE_UNKNOWN: return "Unknown";
	case GRBL_STATE_IDLE: return "Idle";
	case GRBL_STATE_RUN: return "Run";
	case GRBL_STATE_HOLD: return "Hold";
	case GRBL_STATE_JOG: return "Jog";
	case GRBL_STATE_ALARM: return "Alarm";
	case GRBL_STATE_DOOR: return "Door";
	case GRBL_STATE_CHECK: return "Check";
	case GRBL_STATE_HOME: return "Home";
	case GRBL_STATE_SLEEP: return "Sleep";
	}
	return "Unknown";
}

const struct grbl_status *
grbl_last_status(const struct grbl *g)
{
	return &g->status;
}

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "Grbl 1.1h ['$' for help]", and grblHAL's "GrblHAL 1.1f ['$' or '$HELP'
 * for help]". */
static bool
is_banner(const char *s)
{
	return (has_prefix(s, "Grbl ") || has_prefix(s, "GrblHAL ")) &&
	    strstr(s, "for help]") != NULL;
}

/* An answer (ok or error:N) to the oldest unanswered line. */
static void
answer(struct grbl *g, const char *line, bool ok, int code)
{
	struct pending_line pl;
	struct grbl_event *ev;

	if (g->flushed || g->lines_n == 0) {
		/* Late answer of a flushed line, or one we never sent: never
		 * a delivery. */
		char buf[96];
		snprintf(buf, sizeof(buf), "%.40s (unmatched%s)", line,
		    g->flushed ? ", after flush" : "");
		ev_text(g, GRBL_EV_OTHER, buf, strlen(buf));
		return;
	}
	pl = lines_pop(g);
	if ((ev = ev_push(g, ok ? GRBL_EV_OK : GRBL_EV_ERROR)) != NULL) {
		ev->tag = pl.tag;
		ev->tagged = true;
		ev->code = code;
	}
}

/* A line the engine does not recognise. GRBL sends nothing but answers,
 * reports, [...] feedback, settings, banners and startup-line results
 * (">G21:ok"), so anything else while lines are in flight may be a mangled
 * answer: later answers would then be matched one line late (a line credited
 * only once a later line's answer came, so never before it ran) and an
 * error:N could be credited as ok. Flag it; the caller decides. */
static void
other(struct grbl *g, const char *s, size_t len)
{
	struct grbl_event *ev;
	bool benign = (s[0] == '<' && s[len - 1] == '>') ||
	    (s[0] == '[' && s[len - 1] == ']') || s[0] == '>';

	if ((ev = ev_push(g, GRBL_EV_OTHER)) == NULL)
		return;
	text_copy(ev->text, sizeof(ev->text), s, len);
	if (g->lines_n > 0 && (!benign || g->rx_truncated)) {
		ev->code = GRBL_OTHER_SUSPECT;
		ev->tag = g->lines[g->lines_head].tag;
		ev->tagged = true;
	}
}

/* Parses "$N=V" exactly. */
static int
parse_setting(const char *s, long *n, double *v)
{
	const char *eq = strchr(s, '=');
	const char *end;

	if (s[0] != '$' || eq == NULL || parse_uint(s + 1, eq, n) < 0 ||
	    *n > 9999)
		return -1;
	end = eq + 1 + strlen(eq + 1);
	if (parse_num(eq + 1, end, v) != end)
		return -1;
	return 0;
}

static void
handle_line(struct grbl *g, const char *s, size_t len)
{
	struct grbl_event *ev;
	long n;
	double v;

	if (g->rx_truncated) {
		other(g, s, len);
		return;
	}
	if (strcmp(s, "ok") == 0) {
		answer(g, s, true, 0);
	} else if (has_prefix(s, "error:")) {
		if (parse_uint(s + 6, s + len, &n) < 0 || n > 255)
			other(g, s, len);
		else
			answer(g, s, false, (int)n);
	} else if (has_prefix(s, "ALARM:")) {
		if (parse_uint(s + 6, s + len, &n) < 0 || n > 255) {
			other(g, s, len);
		} else if ((ev = ev_push(g, GRBL_EV_ALARM)) != NULL) {
			ev->code = (int)n;
		}
	} else if (s[0] == '<') {
		if (grbl_parse_status(s, &g->status) < 0) {
			other(g, s, len);
		} else if ((ev = ev_push(g, GRBL_EV_STATUS)) != NULL) {
			ev->status = g->status;
		}
	} else if (has_prefix(s, "[MSG:") && s[len - 1] == ']') {
		ev_text(g, GRBL_EV_MSG, s + 5, len - 6);
	} else if (s[0] == '[' && len >= 2 && s[len - 1] == ']') {
		ev_text(g, GRBL_EV_FEEDBACK, s + 1, len - 2);
	} else if (s[0] == '$' && parse_setting(s, &n, &v) == 0) {
		if ((ev = ev_push(g, GRBL_EV_SETTING)) != NULL) {
			ev->setting = (int)n;
			ev->value = v;
			text_copy(ev->text, sizeof(ev->text), s, len);
		}
	} else if (is_banner(s)) {
		/* The controller reset: its receive buffer is gone, so every
		 * unanswered line is lost, and answers match again. */
		lose_all(g);
		g->flushed = false;
		ev_text(g, GRBL_EV_BANNER, s, len);
	} else {
		other(g, s, len);
	}
}

void
grbl_feed(struct grbl *g, const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = buf[i];
		if (c == '\n' || c == '\r') {
			if (g->rx_len > 0) {
				g->rx[g->rx_len] = '\0';
				handle_line(g, g->rx, g->rx_len);
			}
			g->rx_len = 0;
			g->rx_truncated = false;
			continue;
		}
		if (c == '\0')
			c = '?';   /* keep strings whole; never valid anyway */
		if (g->rx_len < RX_LINE_MAX)
			g->rx[g->rx_len++] = c;
		else
			g->rx_truncated = true;
	}
}
