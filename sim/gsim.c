/*
 * The controller model (see gsim.h). Shaped after GRBL's own split: bytes
 * arrive in an "interrupt" (wire delivery), where real-time bytes are acted
 * on at once and the rest go into a 128-byte ring that overruns like the
 * hardware's; a "main loop" (parser_step) takes whole lines from the ring
 * and executes them, and a line that cannot finish yet (planner full, waiting
 * for motion to end, dwelling, homing) stays pending and blocks the parser,
 * which is exactly how GRBL withholds its `ok`. Everything is a function of
 * simulated time; nothing here reads a clock.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/grbl_codes.h"
#include "sim/gsim.h"
#include "sim/motion.h"

#define RX_RING 128
#define LINE_MAX_CHARS 79
#define WIRE_MAX 65536
#define TX_MAX 4096
#define TX_LINE 200
#define NSET 160
#define BANNER "Grbl 1.1h ['$' for help]"
#define MSG_UNLOCK "[MSG:'$H'|'$X' to unlock]"

enum mode {
	MODE_IDLE = 0, /* idle, running or holding: see motion and hold */
	MODE_ALARM,
	MODE_CHECK,
	MODE_HOMING,
	MODE_SLEEP,
};

struct txline {
	char s[TX_LINE];
	double depart_s;
	bool status;   /* a status report (merges `?`) */
	bool banner;   /* a banner (merges resets) */
};

struct move {
	double target[3];
	double feed_mm_min;
	enum motion_kind kind;
	bool exact_stop;
};

/* A line that has been parsed and accepted but cannot finish yet. */
struct pending {
	bool active;
	bool sync;            /* wait for motion to end first */
	bool outputs_done;
	int spindle;          /* new spindle: 3, 4, 5; 0 = unchanged */
	double spindle_s;
	int flood, mist;      /* -1 unchanged, 0 off, 1 on */
	double dwell_s;       /* < 0: none */
	bool dwell_started;
	struct move moves[8];
	int nmoves, next_move;
	bool program_end, pause;
	bool homing;
	bool soft_limit;      /* blocked by a soft-limit alarm until reset */
};

struct gc {
	int motion;           /* 0 or 1 (G0/G1), 80 */
	int coord;            /* 0..5 = G54..G59 */
	bool inches, incremental;
	double feed_mm_min;
	int spindle;          /* 3, 4, 5 */
	double spindle_s;
	bool flood, mist;
	int tool;
	double pos[3];        /* machine, end of what is queued */
};

struct gsim {
	struct gsim_opts opts;
	struct skin *skin;
	struct fault_set *fs;
	struct motion *mot;
	double now;
	double byte_s;
	double set[NSET];
	bool has[NSET];
	double coord[6][3], g28[3], g30[3], g92[3];
	double phys_off[3];   /* physical - controller position */
	struct gc gc;
	enum mode mode;
	bool critical;
	bool hold, door;
	bool spindle_stop_ovr;
	int feed_ovr, rapid_ovr, spindle_ovr;
	int wco_counter, ovr_counter;
	bool host;
	/* wire in */
	uint8_t *win;
	double *wtime;
	size_t whead, wcount;
	size_t wdata;         /* of those, bytes of lines (not real-time) */
	double wlast;
	/* receive ring */
	uint8_t ring[RX_RING];
	int rhead, rcount;
	/* line being assembled */
	char line[LINE_MAX_CHARS + 1];
	int llen;
	bool overflow, paren, semi;
	struct pending pend;
	double dwell_left;
	/* answers */
	struct txline *tx;
	size_t thead, tcount;
	double tlast;
	double stall_until;
	bool close_req;
	bool needle;
	/* host-side starvation under way since starve_t0 (starve_update) */
	bool starving;
	double starve_t0;
	struct gsim_stats st;
};

static const int set_order[] = {0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 20, 21,
    22, 23, 24, 25, 26, 27, 30, 31, 32, 100, 101, 102, 110, 111, 112, 120,
    121, 122, 130, 131, 132};

static bool
set_is_int(int n)
{
	return n <= 10 || n == 13 || (n >= 20 && n <= 23) || n == 26 ||
	    (n >= 30 && n <= 32);
}

static void
set_defaults(struct gsim *g)
{
	static const double v[][2] = {{0, 10}, {1, 255}, {2, 0}, {3, 0},
	    {4, 0}, {5, 0}, {6, 0}, {10, 3}, {11, 0.010}, {12, 0.002},
	    {13, 0}, {20, 1}, {21, 0}, {22, 1}, {23, 0}, {24, 25}, {25, 500},
	    {26, 250}, {27, 1}, {30, 1000}, {31, 0}, {32, 0}, {100, 800},
	    {101, 800}, {102, 800}, {110, 3000}, {111, 3000}, {112, 1500},
	    {120, 500}, {121, 500}, {122, 800}, {130, 300}, {131, 300},
	    {132, 100}};
	size_t i;

	memset(g->has, 0, sizeof(g->has));
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		g->set[(int)v[i][0]] = v[i][1];
		g->has[(int)v[i][0]] = true;
	}
}

static void
limits_from_settings(const struct gsim *g, struct motion_limits *lim)
{
	int a;

	for (a = 0; a < 3; a++) {
		lim->max_rate_mm_min[a] = g->set[110 + a];
		lim->accel_mm_s2[a] = g->set[120 + a];
	}
	lim->junction_dev_mm = g->set[11];
}

struct gsim *
gsim_new(const struct gsim_opts *opts, struct skin *skin,
    struct fault_set *faults)
{
	struct gsim *g = NULL;
	struct motion_limits lim;
	double zero[3] = {0, 0, 0};

	if ((g = calloc(1, sizeof(*g))) == NULL)
		goto fail;
	g->opts = *opts;
	g->skin = skin;
	g->fs = faults;
	g->byte_s = opts->baud > 0 ? 10.0 / opts->baud : 0;
	set_defaults(g);
	limits_from_settings(g, &lim);
	if ((g->mot = motion_new(&lim, zero)) == NULL)
		goto fail;
	g->win = malloc(WIRE_MAX);
	g->wtime = malloc(WIRE_MAX * sizeof(double));
	g->tx = calloc(TX_MAX, sizeof(*g->tx));
	if (g->win == NULL || g->wtime == NULL || g->tx == NULL)
		goto fail;
	g->mode = MODE_ALARM;
	g->feed_ovr = g->rapid_ovr = g->spindle_ovr = 100;
	return g;
fail:
	gsim_destroy(&g);
	return NULL;
}

void
gsim_destroy(struct gsim **gp)
{
	struct gsim *g;

	if (gp == NULL || (g = *gp) == NULL)
		return;
	motion_destroy(&g->mot);
	free(g->win);
	free(g->wtime);
	free(g->tx);
	free(g);
	*gp = NULL;
}

/* ---- answers ---- */

static void
tx_line(struct gsim *g, const char *s, bool status, bool banner)
{
	struct txline *l;
	size_t len = strlen(s) + 2;
	double start;

	if (g->tcount >= TX_MAX)
		return; /* a host that never reads loses answers, as on a UART */
	l = &g->tx[(g->thead + g->tcount) % TX_MAX];
	/* Cut a line too long for the slot rather than its CR LF: the host
	 * must still see where it ends. */
	snprintf(l->s, sizeof(l->s), "%.*s\r\n", (int)sizeof(l->s) - 3, s);
	start = g->now + g->fs->slow_s;
	if (start < g->tlast)
		start = g->tlast;
	l->depart_s = start + (double)len * g->byte_s;
	g->tlast = l->depart_s;
	l->status = status;
	l->banner = banner;
	g->tcount++;
}

static void
say(struct gsim *g, const char *s)
{
	tx_line(g, s, false, false);
}

static bool
tx_has_undeparted(const struct gsim *g, bool status)
{
	size_t i;

	for (i = 0; i < g->tcount; i++) {
		const struct txline *l = &g->tx[(g->thead + i) % TX_MAX];
		if (l->depart_s > g->now &&
		    (status ? l->status : l->banner))
			return true;
	}
	return false;
}

static void
answer(struct gsim *g, int err)
{
	char buf[16];

	if (err == 0) {
		say(g, "ok");
		return;
	}
	g->st.errors++;
	snprintf(buf, sizeof(buf), "error:%d", err);
	say(g, buf);
}

/* ---- outputs: spindle, coolant, needle ---- */

static void
outputs_update(struct gsim *g)
{
	bool on;

	switch (g->opts.needle) {
	case GSIM_NEEDLE_FLOOD:
		on = g->gc.flood;
		break;
	case GSIM_NEEDLE_MIST:
		on = g->gc.mist;
		break;
	default:
		on = g->gc.spindle != 5 && !g->spindle_stop_ovr;
		break;
	}
	if (g->door)
		on = false;
	if (on != g->needle) {
		g->needle = on;
		skin_needle(g->skin, on, g->now);
	}
}

static void
outputs_off(struct gsim *g)
{
	g->gc.spindle = 5;
	g->gc.flood = g->gc.mist = false;
	outputs_update(g);
}

/* ---- positions ---- */

static void
mpos(const struct gsim *g, double p[3])
{
	motion_position(g->mot, p);
}

static void
wco(const struct gsim *g, double w[3])
{
	int a;

	for (a = 0; a < 3; a++)
		w[a] = g->coord[g->gc.coord][a] + g->g92[a];
}

static void
path_cb(void *arg, const double p0[3], const double p1[3], double t0,
    double t1)
{
	struct gsim *g = arg;
	double a[3], b[3];
	int i;

	for (i = 0; i < 3; i++) {
		a[i] = p0[i] + g->phys_off[i];
		b[i] = p1[i] + g->phys_off[i];
	}
	skin_track(g->skin, a, b, t0, t1);
}

/* ---- resets and alarms ---- */

static void
parser_reset(struct gsim *g)
{
	memset(&g->gc, 0, sizeof(g->gc));
	g->gc.spindle = 5;
	mpos(g, g->gc.pos);
	memset(g->g92, 0, sizeof(g->g92));
	g->rhead = g->rcount = 0;
	g->llen = 0;
	g->overflow = g->paren = g->semi = false;
	memset(&g->pend, 0, sizeof(g->pend));
	g->dwell_left = 0;
	g->hold = g->door = g->spindle_stop_ovr = false;
	g->feed_ovr = g->rapid_ovr = g->spindle_ovr = 100;
	motion_set_overrides(g->mot, 100, 100);
	g->wco_counter = 0;
	g->ovr_counter = 1;
	g->critical = false;
	outputs_update(g);
}

static void
banner(struct gsim *g)
{
	tx_line(g, "", false, true);
	tx_line(g, BANNER, false, true);
	if (g->mode == MODE_ALARM)
		say(g, MSG_UNLOCK);
}

static bool
moving(const struct gsim *g)
{
	return motion_busy(g->mot) && !motion_held_at_rest(g->mot);
}

static void
alarm_say(struct gsim *g, int code)
{
	char buf[32], ex[32];

	snprintf(buf, sizeof(buf), "ALARM:%d", code);
	say(g, buf);
	g->st.alarms++;
	snprintf(ex, sizeof(ex), "\"code\":%d", code);
	skin_event(g->skin, "alarm", g->now, ex);
}

static void
soft_reset(struct gsim *g)
{
	int code = 0;
	/* Two resets in a row give one banner, but the second still stops
	 * everything: a command may have started in between, and a host's
	 * reset must always leave motion stopped and the needle off. */
	bool merge = tx_has_undeparted(g, false);

	if (g->mode == MODE_HOMING)
		code = GRBL_ALARM_HOMING_FAIL_RESET;
	else if (moving(g))
		code = GRBL_ALARM_ABORT_CYCLE;
	motion_clear(g->mot);
	outputs_off(g);
	if (code != 0) {
		alarm_say(g, code);
		g->mode = MODE_ALARM;
	}
	if (g->pend.active)
		say(g, "ok");
	if (g->mode == MODE_SLEEP || g->critical)
		g->mode = MODE_ALARM;
	if (g->mode != MODE_ALARM)
		g->mode = MODE_IDLE;
	parser_reset(g);
	if (merge)
		return;
	g->st.resets++;
	skin_event(g->skin, "reset", g->now, "\"kind\":\"soft\"");
	banner(g);
}

/* Stops everything at once and raises ALARM:code; critical alarms then
 * accept nothing but a reset, the others reset as GRBL's mc_reset does. */
static void
raise_alarm(struct gsim *g, int code)
{
	motion_clear(g->mot);
	outputs_off(g);
	mpos(g, g->gc.pos);
	g->mode = MODE_ALARM;
	alarm_say(g, code);
	if (grbl_alarm_is_critical(code)) {
		g->critical = true;
		say(g, "[MSG:Reset to continue]");
		return;
	}
	if (g->pend.active)
		say(g, "ok");
	parser_reset(g);
	g->st.resets++;
	banner(g);
}

static void
power_up(struct gsim *g, bool glitch)
{
	double p[3], zero[3] = {0, 0, 0};
	int a;

	mpos(g, p);
	for (a = 0; a < 3; a++)
		g->phys_off[a] += p[a];
	motion_clear(g->mot);
	motion_set_position(g->mot, zero);
	g->whead = g->wcount = g->wdata = 0;
	g->thead = g->tcount = 0;
	g->mode = g->set[22] != 0 ? MODE_ALARM : MODE_IDLE;
	parser_reset(g);
	outputs_off(g);
	if (glitch) {
		g->st.resets++;
		skin_event(g->skin, "reset", g->now, "\"kind\":\"power\"");
	}
	banner(g);
}

void
gsim_power_up(struct gsim *g, double t)
{
	g->now = t;
	g->tlast = t;
	power_up(g, false);
}

/* ---- status report ---- */

static const char *
state_name(const struct gsim *g)
{
	if (g->mode == MODE_SLEEP)
		return "Sleep";
	if (g->mode == MODE_ALARM)
		return "Alarm";
	if (g->mode == MODE_HOMING)
		return "Home";
	if (g->door)
		return moving(g) ? "Door:2" : "Door:0";
	if (g->mode == MODE_CHECK)
		return "Check";
	if (g->hold)
		return motion_held_at_rest(g->mot) ? "Hold:0" : "Hold:1";
	if (motion_busy(g->mot))
		return motion_current_kind(g->mot) == MOTION_JOG ? "Jog" : "Run";
	return "Idle";
}

static double
nz(double v)
{
	return fabs(v) < 0.0005 ? 0.0 : v;
}

/* Appends to buf[0..len) at *n, keeping *n inside the buffer however long
 * the numbers are (a host can set offsets and rates of 38 digits). */
static void __attribute__((format(printf, 4, 5)))
cat(char *buf, size_t len, int *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n < 0 || (size_t)*n >= len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *n, len - (size_t)*n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	*n = (size_t)*n + (size_t)r >= len ? (int)len - 1 : *n + r;
}

static void
status_report(struct gsim *g)
{
	char buf[TX_LINE];
	double p[3], w[3], k;
	int n, a;
	bool busy = moving(g) || g->hold;

	if (g->critical || g->mode == MODE_HOMING)
		return;
	if (g->mode == MODE_ALARM && g->fs->noreply_status_in_alarm)
		return;
	if (tx_has_undeparted(g, true))
		return; /* several `?` before one reply merge */
	mpos(g, p);
	wco(g, w);
	k = g->set[13] != 0 ? 1 / 25.4 : 1;
	if (((int)g->set[10] & 1) == 0)
		for (a = 0; a < 3; a++)
			p[a] -= w[a];
	n = 0;
	cat(buf, sizeof(buf), &n, "<%s|%s:%.3f,%.3f,%.3f", state_name(g),
	    ((int)g->set[10] & 1) ? "MPos" : "WPos", nz(p[0] * k),
	    nz(p[1] * k), nz(p[2] * k));
	if ((int)g->set[10] & 2)
		cat(buf, sizeof(buf), &n, "|Bf:%d,%d",
		    MOTION_BLOCKS - motion_blocks(g->mot), RX_RING - g->rcount);
	cat(buf, sizeof(buf), &n, "|FS:%.0f,%.0f",
	    motion_speed_mm_s(g->mot) * 60 * k,
	    g->needle || g->gc.spindle != 5 ?
	    g->gc.spindle_s * g->spindle_ovr / 100.0 : 0.0);
	if (g->door)
		cat(buf, sizeof(buf), &n, "|Pn:D");
	if (g->wco_counter > 0) {
		g->wco_counter--;
	} else {
		g->wco_counter = (busy ? 30 : 10) - 1;
		cat(buf, sizeof(buf), &n, "|WCO:%.3f,%.3f,%.3f",
		    nz(w[0] * k), nz(w[1] * k), nz(w[2] * k));
		if (g->ovr_counter == 0)
			g->ovr_counter = 1; /* never both in one report */
	}
	if (g->ovr_counter > 0) {
		g->ovr_counter--;
	} else {
		g->ovr_counter = (busy ? 20 : 10) - 1;
		cat(buf, sizeof(buf), &n, "|Ov:%d,%d,%d",
		    g->feed_ovr, g->rapid_ovr, g->spindle_ovr);
		if (g->gc.spindle != 5 || g->gc.flood || g->gc.mist)
			cat(buf, sizeof(buf), &n, "|A:%s%s%s",
			    g->gc.spindle == 3 ? "S" :
			    g->gc.spindle == 4 ? "C" : "",
			    g->gc.flood ? "F" : "", g->gc.mist ? "M" : "");
	}
	cat(buf, sizeof(buf), &n, ">");
	tx_line(g, buf, true, false);
}

/* ---- real-time bytes ---- */

static bool
is_realtime(uint8_t c)
{
	return c == '?' || c == '!' || c == '~' || c == 0x18 || c >= 0x80;
}

static void
resume(struct gsim *g)
{
	if (g->door) {
		if (moving(g))
			return;
		g->door = false;
		outputs_update(g);
	} else if (!g->hold || moving(g)) {
		return;
	}
	g->hold = false;
	g->spindle_stop_ovr = false;
	outputs_update(g);
	motion_hold(g->mot, false);
}

static void
ovr_clamp(int *v, int d, int lo, int hi)
{
	*v += d;
	if (*v < lo)
		*v = lo;
	if (*v > hi)
		*v = hi;
}

static void
realtime(struct gsim *g, uint8_t c)
{
	int f = g->feed_ovr, r = g->rapid_ovr, s = g->spindle_ovr;

	if (c == 0x18) {
		soft_reset(g);
		return;
	}
	if (g->critical)
		return;
	if (c == '?') {
		status_report(g);
		return;
	}
	if (g->mode == MODE_ALARM || g->mode == MODE_SLEEP ||
	    g->mode == MODE_HOMING)
		return;
	switch (c) {
	case '!':
		if (g->mode == MODE_CHECK || g->door)
			break;
		if (motion_busy(g->mot) &&
		    motion_current_kind(g->mot) == MOTION_JOG) {
			motion_cancel(g->mot);
			break;
		}
		g->hold = true;
		motion_hold(g->mot, true);
		break;
	case '~':
		resume(g);
		break;
	case 0x84:
		if (g->mode == MODE_CHECK)
			break;
		g->door = true;
		g->hold = true;
		motion_hold(g->mot, true);
		outputs_update(g);
		break;
	case 0x85:
		if (motion_busy(g->mot) &&
		    motion_current_kind(g->mot) == MOTION_JOG)
			motion_cancel(g->mot);
		break;
	case 0x90: f = 100; break;
	case 0x91: ovr_clamp(&f, 10, 10, 200); break;
	case 0x92: ovr_clamp(&f, -10, 10, 200); break;
	case 0x93: ovr_clamp(&f, 1, 10, 200); break;
	case 0x94: ovr_clamp(&f, -1, 10, 200); break;
	case 0x95: r = 100; break;
	case 0x96: r = 50; break;
	case 0x97: r = 25; break;
	case 0x99: s = 100; break;
	case 0x9A: ovr_clamp(&s, 10, 10, 200); break;
	case 0x9B: ovr_clamp(&s, -10, 10, 200); break;
	case 0x9C: ovr_clamp(&s, 1, 10, 200); break;
	case 0x9D: ovr_clamp(&s, -1, 10, 200); break;
	case 0x9E:
		if (g->hold && motion_held_at_rest(g->mot)) {
			g->spindle_stop_ovr = !g->spindle_stop_ovr;
			outputs_update(g);
		}
		break;
	case 0xA0:
	case 0xA1:
		if (g->mode == MODE_CHECK)
			break;
		if (c == 0xA0)
			g->gc.flood = !g->gc.flood;
		else
			g->gc.mist = !g->gc.mist;
		g->ovr_counter = 0;
		outputs_update(g);
		break;
	default:
		break; /* other extended bytes are ignored */
	}
	if (f != g->feed_ovr || r != g->rapid_ovr || s != g->spindle_ovr) {
		g->feed_ovr = f;
		g->rapid_ovr = r;
		g->spindle_ovr = s;
		g->ovr_counter = 0;
		motion_set_overrides(g->mot, f, r);
	}
}

/* ---- soft limits ---- */

static bool
outside_limits(const struct gsim *g, const double t[3])
{
	int a;

	if (g->set[20] == 0)
		return false;
	for (a = 0; a < 3; a++)
		if (t[a] > 1e-6 || t[a] < -g->set[130 + a] - 1e-6)
			return true;
	return false;
}

/* ---- G-code ---- */

struct word {
	char letter;
	double v;
};

/* Reads a GRBL number (sign, digits, one point; no exponent). */
static int
read_number(const char *s, int *i, double *v)
{
	int j = *i, digits = 0;
	bool dot = false;
	char buf[40];
	size_t n = 0;

	if (s[j] == '-' || s[j] == '+')
		buf[n++] = s[j++];
	while (n < sizeof(buf) - 1) {
		if (isdigit((unsigned char)s[j]))
			digits++;
		else if (s[j] == '.' && !dot)
			dot = true;
		else
			break;
		buf[n++] = s[j++];
	}
	buf[n] = '\0';
	if (digits == 0 || isdigit((unsigned char)s[j]))
		return -1;
	*v = strtod(buf, NULL);
	*i = j;
	return 0;
}

/* Parses and starts executing one G-code line; 0 or a GRBL error code. */
static int
gcode_line(struct gsim *g, const char *s, bool jog)
{
	struct word w[64] = {{0}};
	int nw = 0, i = 0, a;
	int g0 = -1;          /* non-modal: 4, 10, 28, 281, 30, 301, 53, 92, 921 */
	int gmotion = -1, gdist = -1, gunits = -1, gcoord = -1;
	int mstop = -1, mspin = -1, mcool = -1;
	bool gplane = false, gfeedmode = false, gcutter = false, gctl = false;
	bool g53 = false;
	bool has[26] = {false};
	double val[26] = {0};
	bool axis = false;
	struct gc ns;
	struct pending p;
	double k;

	while (s[i] != '\0') {
		char c = s[i++];
		double v;
		if (c < 'A' || c > 'Z')
			return GRBL_ERR_EXPECTED_COMMAND_LETTER;
		if (read_number(s, &i, &v) < 0)
			return GRBL_ERR_BAD_NUMBER_FORMAT;
		if (nw >= 64)
			return GRBL_ERR_OVERFLOW;
		w[nw].letter = c;
		w[nw].v = v;
		nw++;
	}
	for (i = 0; i < nw; i++) {
		char c = w[i].letter;
		double v = w[i].v;
		int iv, mant;
		int *grp = NULL;

		if ((c == 'G' || c == 'M') && fabs(v) > 1000)
			return GRBL_ERR_GCODE_UNSUPPORTED_COMMAND;
		iv = fabs(v) < 1e9 ? (int)trunc(v) : 0;
		mant = (int)lround((v - iv) * 10);

		if (c == 'G') {
			if (v < 0)
				return GRBL_ERR_GCODE_UNSUPPORTED_COMMAND;
			if (mant != 0 && !((iv == 28 || iv == 30 || iv == 92) &&
			    mant == 1) && !(iv == 38) && !(iv == 43) &&
			    !(iv == 91 && mant == 1))
				return GRBL_ERR_GCODE_COMMAND_VALUE_NOT_INTEGER;
			switch (iv) {
			case 4: case 10: case 28: case 30: case 53: case 92:
				if (g0 >= 0 || (iv == 53 && g53))
					return GRBL_ERR_GCODE_MODAL_GROUP_VIOLATION;
				if (iv == 53) {
					g53 = true;
					if (g0 >= 0)
						return GRBL_ERR_GCODE_MODAL_GROUP_VIOLATION;
					g0 = 53;
				} else {
					g0 = iv * 10 + mant;
					if (mant == 0)
						g0 = iv;
				}
				break;
			case 0: case 1: case 80:
				grp = &gmotion;
				break;
			case 17:
				if (gplane)
					return GRBL_ERR_GCODE_MODAL_GROUP_VIOLATION;
				gplane = true;
				break;
			case 20: case 21:
				grp = &gunits;
				break;
			case 90: case 91:
				if (mant != 0)
					return GRBL_ERR_GCODE_UNSUPPORTED_COMMAND;
				grp = &gdist;
				break;
			case 54: case 55: case 56: case 57: case 58: case 59:
				grp = &gcoord;
				break;
			case 94:
				if (gfeedmode)
					return GRBL_ERR_GCODE_MODAL_GROUP_VIOLATION;
				gfeedmode = true;
				break;
			case 40:
				if (gcutter)
					return GRBL_ERR_GCODE_MODAL_GROUP_VIOLATION;
				gcutter = true;
				break;
			case 61:
				if (gctl)
					return GRBL_ERR_GCODE_MODAL_GROUP_VIOLATION;
				gctl = true;
				break;
			default:
				/* G2/G3 arcs, G18/G19, G38.x probing, G43.1/G49,
				 * G93 are GRBL's but not modelled here. */
				return GRBL_ERR_GCODE_UNSUPPORTED_COMMAND;
			}
			if (grp != NULL) {
				if (*grp >= 0)
					return GRBL_ERR_GCODE_MODAL_GROUP_VIOLATION;
				*grp = iv;
			}
			if (jog && !(iv == 20 || iv == 21 || iv == 53 ||
			    iv == 90 || iv == 91))
				return GRBL_ERR_INVALID_JOG_COMMAND;
			continue;
		}
		if (c == 'M') {
			if (jog)
				return GRBL_ERR_INVALID_JOG_COMMAND;
			if (mant != 0 || v < 0)
				return GRBL_ERR_GCODE_COMMAND_VALUE_NOT_INTEGER;
			switch (iv) {
			case 0: case 1: case 2: case 30:
				grp = &mstop;
				break;
			case 3: case 4: case 5:
				grp = &mspin;
				break;
			case 7: case 8: case 9:
				grp = &mcool;
				break;
			default:
				return GRBL_ERR_GCODE_UNSUPPORTED_COMMAND;
			}
			if (*grp >= 0)
				return GRBL_ERR_GCODE_MODAL_GROUP_VIOLATION;
			*grp = iv;
			continue;
		}
		if (strchr("FIJKLNPRSTXYZ", c) == NULL)
			return GRBL_ERR_GCODE_UNSUPPORTED_COMMAND;
		if (jog && strchr("FNXYZ", c) == NULL)
			return GRBL_ERR_INVALID_JOG_COMMAND;
		if (has[c - 'A'])
			return GRBL_ERR_GCODE_WORD_REPEATED;
		if (v < 0 && strchr("FNPST", c) != NULL)
			return GRBL_ERR_NEGATIVE_VALUE;
		if (c == 'N' && v > 9999999)
			return GRBL_ERR_GCODE_INVALID_LINE_NUMBER;
		if (c == 'T' && v > 255)
			return GRBL_ERR_GCODE_MAX_VALUE_EXCEEDED;
		if (c == 'L' && v != floor(v))
			return GRBL_ERR_GCODE_COMMAND_VALUE_NOT_INTEGER;
		has[c - 'A'] = true;
		val[c - 'A'] = v;
		if (c == 'X' || c == 'Y' || c == 'Z')
			axis = true;
	}

	/* Validate against the state the line would produce. */
	ns = g->gc;
	if (jog) {
		ns.incremental = false;
		ns.motion = 1;
	}
	if (gunits >= 0)
		ns.inches = gunits == 20;
	if (gdist >= 0)
		ns.incremental = gdist == 91;
	if (gcoord >= 0)
		ns.coord = gcoord - 54;
	if (gmotion >= 0)
		ns.motion = gmotion;
	k = ns.inches ? 25.4 : 1;
	if (has['F' - 'A'])
		ns.feed_mm_min = val['F' - 'A'] * k;
	else if (jog)
		ns.feed_mm_min = 0;
	if (has['S' - 'A'])
		ns.spindle_s = val['S' - 'A'];
	if (has['T' - 'A'])
		ns.tool = (int)val['T' - 'A'];

	bool g0axis = g0 == 10 || g0 == 28 || g0 == 30 || g0 == 92;
	bool motion_cmd = false;
	if (g0axis && gmotion >= 0)
		return GRBL_ERR_GCODE_AXIS_COMMAND_CONFLICT;
	if (!g0axis && (axis || gmotion >= 0))
		motion_cmd = true;
	if (g53 && !(ns.motion == 0 || ns.motion == 1))
		return GRBL_ERR_GCODE_G53_INVALID_MOTION_MODE;
	if (g0 == 4 && !has['P' - 'A'])
		return GRBL_ERR_GCODE_VALUE_WORD_MISSING;
	if (g0 == 10) {
		if (!has['L' - 'A'] || !has['P' - 'A'])
			return GRBL_ERR_GCODE_VALUE_WORD_MISSING;
		if (val['L' - 'A'] != 2 && val['L' - 'A'] != 20)
			return GRBL_ERR_GCODE_UNSUPPORTED_COMMAND;
		if (val['P' - 'A'] != floor(val['P' - 'A']))
			return GRBL_ERR_GCODE_COMMAND_VALUE_NOT_INTEGER;
		if (val['P' - 'A'] > 6)
			return GRBL_ERR_GCODE_UNSUPPORTED_COORD_SYS;
		if (!axis)
			return GRBL_ERR_GCODE_NO_AXIS_WORDS;
	}
	if (g0 == 92 && !axis)
		return GRBL_ERR_GCODE_NO_AXIS_WORDS;
	if (motion_cmd) {
		if (ns.motion == 80 && axis)
			return GRBL_ERR_GCODE_AXIS_WORDS_EXIST;
		if ((ns.motion == 1 || jog) && ns.feed_mm_min <= 0)
			return GRBL_ERR_GCODE_UNDEFINED_FEED_RATE;
		if (jog && !axis)
			return GRBL_ERR_INVALID_JOG_COMMAND;
	}
	if (has['P' - 'A'] && g0 != 4 && g0 != 10)
		return GRBL_ERR_GCODE_UNUSED_WORDS;
	if (has['L' - 'A'] && g0 != 10)
		return GRBL_ERR_GCODE_UNUSED_WORDS;
	if (has['I' - 'A'] || has['J' - 'A'] || has['K' - 'A'] ||
	    has['R' - 'A'])
		return GRBL_ERR_GCODE_UNUSED_WORDS;
	if (axis && g0 == 4 && !motion_cmd)
		return GRBL_ERR_GCODE_AXIS_WORDS_EXIST;

	/* Targets, in machine coordinates. */
	double cur_wco[3], target[3], given[3];
	bool ga[3];
	for (a = 0; a < 3; a++) {
		cur_wco[a] = g->coord[ns.coord][a] + g->g92[a];
		ga[a] = has['X' - 'A' + a];
		given[a] = val['X' - 'A' + a] * k;
		target[a] = ns.pos[a];
		if (!ga[a])
			continue;
		if (g53)
			target[a] = given[a];
		else if (ns.incremental)
			target[a] = ns.pos[a] + given[a];
		else
			target[a] = given[a] + cur_wco[a];
	}
	if (jog) {
		if (outside_limits(g, target))
			return GRBL_ERR_TRAVEL_EXCEEDED;
	}

	memset(&p, 0, sizeof(p));
	p.dwell_s = -1;
	p.flood = p.mist = -1;
	if (mspin >= 0 && mspin != g->gc.spindle) {
		p.spindle = mspin;
		p.sync = true;
	}
	if (has['S' - 'A'] && ns.spindle != 5 &&
	    ns.spindle_s != g->gc.spindle_s) {
		p.sync = true;
		p.spindle = mspin >= 0 ? mspin : g->gc.spindle;
	}
	if (mspin >= 0)
		ns.spindle = mspin;
	if (mcool >= 0) {
		p.sync = true;
		p.flood = mcool == 8 ? 1 : mcool == 9 ? 0 : -1;
		p.mist = mcool == 7 ? 1 : mcool == 9 ? 0 : -1;
		if (p.flood >= 0)
			ns.flood = p.flood;
		if (p.mist >= 0)
			ns.mist = p.mist;
	}
	p.spindle_s = ns.spindle_s;
	if (g0 == 4) {
		p.sync = true;
		p.dwell_s = val['P' - 'A'];
	}
	if (g0 == 10) {
		int cs = (int)val['P' - 'A'];
		cs = cs == 0 ? ns.coord : cs - 1;
		p.sync = true;
		for (a = 0; a < 3; a++) {
			if (!ga[a])
				continue;
			if (val['L' - 'A'] == 2)
				g->coord[cs][a] = given[a];
			else
				g->coord[cs][a] = ns.pos[a] - g->g92[a] -
				    given[a];
		}
		g->wco_counter = 0;
	}
	if (g0 == 281 || g0 == 301) {
		p.sync = true;
		memcpy(g0 == 281 ? g->g28 : g->g30, ns.pos, sizeof(g->g28));
	}
	if (g0 == 92) {
		for (a = 0; a < 3; a++)
			if (ga[a])
				g->g92[a] = ns.pos[a] -
				    g->coord[ns.coord][a] - given[a];
		g->wco_counter = 0;
	}
	if (g0 == 921) {
		memset(g->g92, 0, sizeof(g->g92));
		g->wco_counter = 0;
	}
	if (gcoord >= 0 && ns.coord != g->gc.coord)
		g->wco_counter = 0;
	if (g0 == 28 || g0 == 30) {
		const double *home = g0 == 28 ? g->g28 : g->g30;
		if (axis) {
			p.moves[p.nmoves].kind = MOTION_RAPID;
			memcpy(p.moves[p.nmoves++].target, target,
			    sizeof(target));
		}
		p.moves[p.nmoves].kind = MOTION_RAPID;
		memcpy(p.moves[p.nmoves++].target, home, sizeof(target));
		memcpy(ns.pos, home, sizeof(ns.pos));
	} else if (motion_cmd && axis && ns.motion != 80) {
		struct move *m = &p.moves[p.nmoves++];
		m->kind = jog ? MOTION_JOG : ns.motion == 0 ? MOTION_RAPID :
		    MOTION_FEED;
		m->feed_mm_min = ns.feed_mm_min;
		memcpy(m->target, target, sizeof(target));
		memcpy(ns.pos, target, sizeof(ns.pos));
	}
	if (mstop == 0)
		p.pause = p.sync = true;
	if (mstop == 2 || mstop == 30) {
		p.program_end = true;
		p.sync = true;
	}
	if (jog) {
		/* A jog changes no modal state but the position. */
		struct gc keep = g->gc;
		memcpy(keep.pos, ns.pos, sizeof(keep.pos));
		ns = keep;
	}
	{
		/* Outputs change when the line executes (after its sync). */
		struct gc old = g->gc;
		g->gc = ns;
		g->gc.spindle = old.spindle;
		g->gc.flood = old.flood;
		g->gc.mist = old.mist;
		if (p.spindle != 0)
			g->gc.spindle_s = old.spindle_s;
	}
	if (g->mode == MODE_CHECK) {
		/* Check mode: parsed and tracked, nothing moves. */
		g->gc.spindle = 5;
		g->gc.flood = g->gc.mist = false;
		return 0;
	}
	if (p.spindle == 0 && p.flood < 0 && p.mist < 0 && p.dwell_s < 0 &&
	    p.nmoves == 0 && !p.program_end && !p.pause && !p.sync)
		return 0;
	p.active = true;
	g->pend = p;
	return -1; /* pending */
}

/* ---- $ commands ---- */

static void
say_setting(struct gsim *g, int n)
{
	char buf[64];

	if (set_is_int(n))
		snprintf(buf, sizeof(buf), "$%d=%d", n, (int)g->set[n]);
	else
		snprintf(buf, sizeof(buf), "$%d=%.3f", n, g->set[n]);
	say(g, buf);
}

static void
say_coord(struct gsim *g, const char *name, const double v[3])
{
	char buf[96];

	snprintf(buf, sizeof(buf), "[%s:%.3f,%.3f,%.3f]", name, nz(v[0]),
	    nz(v[1]), nz(v[2]));
	say(g, buf);
}

/* Stores $n=v; 0 or a GRBL error code. wire: written by the host (step
 * rate checked), not loaded from a file. */
static int
setting_store(struct gsim *g, int n, double v, bool wire)
{
	struct motion_limits lim;

	if (n < 0 || n >= NSET || !g->has[n])
		return GRBL_ERR_INVALID_STATEMENT;
	if (v < 0)
		return GRBL_ERR_NEGATIVE_VALUE;
	if (set_is_int(n))
		v = trunc(v);
	/* Integer settings are masks, flags and counts of at most 16 bits on
	 * GRBL; a larger one would not survive conversion to int. */
	if (set_is_int(n) && v > 65535)
		return GRBL_ERR_INVALID_STATEMENT;
	if (n == 0 && v < 3)
		return GRBL_ERR_SETTING_STEP_PULSE_MIN;
	if (n == 20 && v != 0 && g->set[22] == 0)
		return GRBL_ERR_SOFT_LIMIT_ERROR;
	if (wire && n >= 100 && n <= 112) {
		int ax = n % 10;
		double spm = n < 110 ? v : g->set[100 + ax];
		double rate = n < 110 ? g->set[110 + ax] : v;
		if (spm * rate / 60.0 > 30000 * 1.34)
			return GRBL_ERR_MAX_STEP_RATE_EXCEEDED;
	}
	if ((n >= 110 && n <= 112) || (n >= 120 && n <= 122)) {
		if (v <= 0)
			return GRBL_ERR_NEGATIVE_VALUE;
	}
	g->set[n] = v;
	limits_from_settings(g, &lim);
	motion_set_limits(g->mot, &lim);
	return 0;
}

static void
start_homing(struct gsim *g)
{
	struct pending p;
	double sw[3], pos[3], po = g->set[27];
	int a, step;

	memset(&p, 0, sizeof(p));
	p.dwell_s = -1;
	p.flood = p.mist = -1;
	mpos(g, pos);
	for (a = 0; a < 3; a++)
		sw[a] = -g->phys_off[a]; /* the switches are at physical 0 */
	/* Z first, then X and Y together, as GRBL's default cycles. */
	for (step = 0; step < 2; step++) {
		double seek[3], off[3];
		int lo = step == 0 ? 2 : 0, hi = step == 0 ? 3 : 2;
		memcpy(seek, pos, sizeof(seek));
		for (a = lo; a < hi; a++)
			seek[a] = sw[a];
		memcpy(off, seek, sizeof(off));
		for (a = lo; a < hi; a++)
			off[a] = sw[a] - po;
		p.moves[p.nmoves++] = (struct move){{seek[0], seek[1], seek[2]},
		    g->set[25], MOTION_JOG, true};
		p.moves[p.nmoves++] = (struct move){{off[0], off[1], off[2]},
		    g->set[25], MOTION_JOG, true};
		p.moves[p.nmoves++] = (struct move){{seek[0], seek[1], seek[2]},
		    g->set[24], MOTION_JOG, true};
		p.moves[p.nmoves++] = (struct move){{off[0], off[1], off[2]},
		    g->set[25], MOTION_JOG, true};
		memcpy(pos, off, sizeof(pos));
	}
	p.homing = true;
	p.active = true;
	g->pend = p;
	g->mode = MODE_HOMING;
}

/* Executes a `$` line; 0/error code, or -1 when it completes later. */
static int
system_line(struct gsim *g, const char *s)
{
	bool idle = g->mode == MODE_IDLE && !motion_busy(g->mot) && !g->hold;
	bool idle_or_alarm = idle || g->mode == MODE_ALARM;
	int i;

	if (s[1] == '\0') {
		say(g, "[HLP:$$ $# $G $I $N $x=val $Nx=line $J=line $SLP $C "
		    "$X $H ~ ! ? ctrl-x]");
		return 0;
	}
	if (strcmp(s, "$G") == 0) {
		char buf[128];
		snprintf(buf, sizeof(buf), "[GC:G%d G%d G17 G%d G%d G94 M%d M%s "
		    "T%d F%.0f S%.0f]", g->gc.motion, 54 + g->gc.coord,
		    g->gc.inches ? 20 : 21, g->gc.incremental ? 91 : 90,
		    g->gc.spindle, g->gc.flood && g->gc.mist ? "7 M8" :
		    g->gc.flood ? "8" : g->gc.mist ? "7" : "9", g->gc.tool,
		    g->gc.feed_mm_min / (g->gc.inches ? 25.4 : 1),
		    g->gc.spindle_s);
		say(g, buf);
		return 0;
	}
	if (strncmp(s, "$J=", 3) == 0) {
		if (g->mode != MODE_IDLE || g->door ||
		    (motion_busy(g->mot) &&
		    motion_current_kind(g->mot) != MOTION_JOG) ||
		    (g->hold && !motion_busy(g->mot)))
			return GRBL_ERR_IDLE_ERROR;
		return gcode_line(g, s + 3, true);
	}
	if (strcmp(s, "$X") == 0) {
		if (g->mode == MODE_ALARM) {
			g->mode = MODE_IDLE;
			say(g, "[MSG:Caution: Unlocked]");
		}
		return 0;
	}
	if (strcmp(s, "$C") == 0) {
		if (g->mode == MODE_CHECK) {
			say(g, "[MSG:Disabled]");
			say(g, "ok");
			g->mode = MODE_IDLE;
			parser_reset(g);
			g->st.resets++;
			banner(g);
			return -2; /* answered */
		}
		if (!idle)
			return GRBL_ERR_IDLE_ERROR;
		g->mode = MODE_CHECK;
		say(g, "[MSG:Enabled]");
		return 0;
	}
	if (!idle_or_alarm)
		return GRBL_ERR_IDLE_ERROR;
	if (strcmp(s, "$H") == 0) {
		if (g->set[22] == 0)
			return GRBL_ERR_SETTING_DISABLED;
		start_homing(g);
		return -1;
	}
	if (strcmp(s, "$$") == 0) {
		for (i = 0; i < (int)(sizeof(set_order) / sizeof(int)); i++)
			say_setting(g, set_order[i]);
		return 0;
	}
	if (strcmp(s, "$#") == 0) {
		static const char *names[] = {"G54", "G55", "G56", "G57",
		    "G58", "G59"};
		double tlo[3] = {0, 0, 0};
		for (i = 0; i < 6; i++)
			say_coord(g, names[i], g->coord[i]);
		say_coord(g, "G28", g->g28);
		say_coord(g, "G30", g->g30);
		say_coord(g, "G92", g->g92);
		say(g, "[TLO:0.000]");
		(void)tlo;
		say(g, "[PRB:0.000,0.000,0.000:0]");
		return 0;
	}
	if (strcmp(s, "$I") == 0) {
		say(g, "[VER:1.1h.20190830:]");
		say(g, "[OPT:V,15,128]");
		return 0;
	}
	if (strcmp(s, "$N") == 0) {
		say(g, "$N0=");
		say(g, "$N1=");
		return 0;
	}
	if (strcmp(s, "$SLP") == 0) {
		motion_clear(g->mot);
		outputs_off(g);
		say(g, "ok");
		say(g, "[MSG:Sleeping]");
		g->mode = MODE_SLEEP;
		return -2;
	}
	if (strncmp(s, "$RST=", 5) == 0) {
		char c = s[5];
		if (s[6] != '\0' || (c != '$' && c != '#' && c != '*'))
			return GRBL_ERR_INVALID_STATEMENT;
		if (c == '$' || c == '*') {
			struct motion_limits lim;
			set_defaults(g);
			limits_from_settings(g, &lim);
			motion_set_limits(g->mot, &lim);
		}
		if (c == '#' || c == '*') {
			memset(g->coord, 0, sizeof(g->coord));
			memset(g->g28, 0, sizeof(g->g28));
			memset(g->g30, 0, sizeof(g->g30));
			g->wco_counter = 0;
		}
		return 0;
	}
	if (isdigit((unsigned char)s[1])) {
		int j = 1, n = 0;
		double v;
		while (isdigit((unsigned char)s[j]) && n < 1000)
			n = n * 10 + (s[j++] - '0');
		if (s[j] != '=')
			return GRBL_ERR_INVALID_STATEMENT;
		j++;
		if (read_number(s, &j, &v) < 0 || s[j] != '\0')
			return GRBL_ERR_BAD_NUMBER_FORMAT;
		return setting_store(g, n, v, true);
	}
	return GRBL_ERR_INVALID_STATEMENT;
}

/* ---- the "main loop": lines out of the ring ---- */

static bool
parser_blocked(const struct gsim *g)
{
	return g->pend.active || g->critical || g->mode == MODE_SLEEP;
}

static void check_fault_lines(struct gsim *g);

static void
line_done(struct gsim *g)
{
	int rc;

	g->line[g->llen] = '\0';
	g->st.lines++;
	if (g->overflow)
		rc = GRBL_ERR_OVERFLOW;
	else if (g->llen == 0)
		rc = 0;
	else if (g->line[0] == '$')
		rc = system_line(g, g->line);
	else if (g->mode == MODE_ALARM ||
	    (motion_busy(g->mot) && motion_current_kind(g->mot) == MOTION_JOG))
		rc = GRBL_ERR_SYSTEM_GC_LOCK;
	else
		rc = gcode_line(g, g->line, false);
	if (rc >= 0)
		answer(g, rc);
	g->llen = 0;
	g->overflow = g->paren = g->semi = false;
	check_fault_lines(g);
}

static void
parser_step(struct gsim *g)
{
	while (!parser_blocked(g) && g->rcount > 0) {
		uint8_t c = g->ring[g->rhead];
		g->rhead = (g->rhead + 1) % RX_RING;
		g->rcount--;
		if (c == '\n' || c == '\r') {
			line_done(g);
		} else if (g->paren) {
			if (c == ')')
				g->paren = false;
		} else if (g->semi || c <= ' ' || c == '/' || c == '%') {
			continue;
		} else if (c == '(') {
			g->paren = true;
		} else if (c == ';') {
			g->semi = true;
		} else if (g->llen >= LINE_MAX_CHARS) {
			g->overflow = true;
		} else {
			g->line[g->llen++] = (char)toupper(c);
		}
	}
}

/* Moves a pending line on as far as it can go now. */
static void
pending_step(struct gsim *g)
{
	struct pending *p = &g->pend;

	if (!p->active || p->soft_limit)
		return;
	if (p->sync && motion_busy(g->mot))
		return;
	if (!p->outputs_done) {
		p->outputs_done = true;
		if (p->spindle != 0) {
			g->gc.spindle = p->spindle;
			g->gc.spindle_s = p->spindle_s;
		}
		if (p->flood >= 0)
			g->gc.flood = p->flood;
		if (p->mist >= 0)
			g->gc.mist = p->mist;
		outputs_update(g);
		if (p->dwell_s >= 0) {
			/* 50 ms steps: ceil(20 P) of them. */
			g->dwell_left = ceil(p->dwell_s * 20 - 1e-9) * 0.05;
			p->dwell_started = true;
		}
	}
	if (p->dwell_started && g->dwell_left > 1e-12)
		return;
	while (p->next_move < p->nmoves) {
		struct move *m = &p->moves[p->next_move];
		if (!p->homing && outside_limits(g, m->target)) {
			/* Stop as a feed hold does, then ALARM:2. */
			if (moving(g)) {
				g->hold = true;
				motion_hold(g->mot, true);
				return;
			}
			p->soft_limit = true;
			raise_alarm(g, GRBL_ALARM_SOFT_LIMIT);
			return;
		}
		int rc = motion_push(g->mot, m->target, m->feed_mm_min,
		    m->kind, m->exact_stop);
		if (rc < 0)
			return;
		p->next_move++;
	}
	if (p->homing) {
		double pos[3];
		int a;
		if (motion_busy(g->mot))
			return;
		for (a = 0; a < 3; a++) {
			pos[a] = -g->set[27];
			g->phys_off[a] = 0;
		}
		motion_set_position(g->mot, pos);
		memcpy(g->gc.pos, pos, sizeof(pos));
		g->mode = MODE_IDLE;
	}
	if (p->program_end) {
		g->gc.motion = 1;
		g->gc.coord = 0;
		g->gc.incremental = false;
		g->gc.spindle = 5;
		g->gc.flood = g->gc.mist = false;
		memset(g->g92, 0, sizeof(g->g92));
		g->feed_ovr = g->rapid_ovr = g->spindle_ovr = 100;
		motion_set_overrides(g->mot, 100, 100);
		g->wco_counter = 0;
		outputs_update(g);
	}
	if (p->pause) {
		g->hold = true;
		motion_hold(g->mot, true);
	}
	p->active = false;
	say(g, "ok");
}

/* A soft-limit stop under way finishes into the alarm once at rest. */
static void
soft_limit_step(struct gsim *g)
{
	struct pending *p = &g->pend;

	if (p->active && !p->soft_limit && p->next_move < p->nmoves &&
	    g->hold && motion_held_at_rest(g->mot) && !p->homing &&
	    outside_limits(g, p->moves[p->next_move].target)) {
		p->soft_limit = true;
		raise_alarm(g, GRBL_ALARM_SOFT_LIMIT);
	}
}

/*
 * Host-side starvation: the needle on (a session is delivering), the
 * controller free to run (not held, locked or checking), nothing to run
 * (planner empty, no line pending) and nothing from the host to run next: no
 * byte of a line on the wire, in the receive buffer or half parsed. It ends
 * when the host's next bytes go on the wire; the time they then take on it is
 * the link's, not the host's. An interval that ends otherwise (a hold, an
 * alarm, the needle off) is not counted. At --speed max the clock stands
 * still while the host is awaited, so intervals last zero seconds there and
 * their count is the measure. Every change of these conditions passes
 * through settle(), which calls this at its end.
 */
static void
starve_update(struct gsim *g)
{
	bool idle = g->needle && g->mode == MODE_IDLE && !g->critical &&
	    !g->hold && !g->door && !motion_busy(g->mot) && !g->pend.active;
	bool host_data = g->wdata > 0 || g->rcount > 0 || g->llen > 0;

	if (idle && !host_data && !g->starving) {
		g->starving = true;
		g->starve_t0 = g->now;
	} else if (g->starving && !(idle && !host_data)) {
		double d = g->now - g->starve_t0;
		g->starving = false;
		if (host_data && g->needle) {
			g->st.starved_n++;
			g->st.starved_s += d;
			if (d > g->st.starved_max_s)
				g->st.starved_max_s = d;
		}
	}
}

static void
settle(struct gsim *g)
{
	int guard;

	for (guard = 0; guard < 64; guard++) {
		bool was = g->pend.active;
		uint64_t lines = g->st.lines;
		soft_limit_step(g);
		pending_step(g);
		parser_step(g);
		if (was == g->pend.active && lines == g->st.lines)
			break;
	}
	if (g->mode == MODE_IDLE && !motion_busy(g->mot) && !g->pend.active)
		mpos(g, g->gc.pos);
	starve_update(g);
}

/* ---- faults ---- */

static void fire(struct gsim *g, struct fault_event *fe);

/* Faults due after the Nth line received (KIND@lines=N), fired once that
 * line has been taken: a fault that lands in a chosen phase of a session
 * whatever the host's speed. */
static void
check_fault_lines(struct gsim *g)
{
	int i;

	for (i = 0; i < g->fs->nev; i++) {
		struct fault_event *fe = &g->fs->ev[i];
		if (!fe->fired && fe->lines > 0 && fe->t_s < 0 &&
		    (long)g->st.lines >= fe->lines)
			fire(g, fe);
	}
}

static void
fire(struct gsim *g, struct fault_event *fe)
{
	fe->fired = true;
	switch (fe->kind) {
	case FAULT_CLOSE:
		g->close_req = true;
		break;
	case FAULT_STALL:
		g->stall_until = g->now + fe->for_s;
		break;
	case FAULT_RESET:
		power_up(g, true);
		break;
	case FAULT_ALARM:
		raise_alarm(g, fe->code);
		break;
	}
}

/* ---- wire and time ---- */

static void
deliver(struct gsim *g, uint8_t c)
{
	if (is_realtime(c)) {
		realtime(g, c);
		return;
	}
	if (g->rcount >= RX_RING) {
		g->st.rx_overrun++;
		return;
	}
	g->ring[(g->rhead + g->rcount) % RX_RING] = c;
	g->rcount++;
}

void
gsim_input(struct gsim *g, double t, const uint8_t *buf, size_t n)
{
	size_t i;

	if (t > g->now)
		gsim_run(g, t, false);
	for (i = 0; i < n; i++) {
		uint8_t c = buf[i];
		double at;
		g->st.bytes_rx++;
		if (g->fs->drop_rx > 0 && fault_rand(g->fs) < g->fs->drop_rx) {
			g->st.rx_fault_dropped++;
			continue;
		}
		if (g->fs->corrupt_rx > 0 &&
		    fault_rand(g->fs) < g->fs->corrupt_rx) {
			c ^= (uint8_t)(1u << (int)(fault_rand(g->fs) * 8));
			g->st.rx_fault_corrupted++;
		}
		if (g->wcount >= WIRE_MAX) {
			g->st.rx_overrun++;
			continue;
		}
		at = g->now > g->wlast ? g->now : g->wlast;
		at += g->byte_s;
		g->wlast = at;
		g->win[(g->whead + g->wcount) % WIRE_MAX] = c;
		g->wtime[(g->whead + g->wcount) % WIRE_MAX] = at;
		g->wcount++;
		if (!is_realtime(c))
			g->wdata++;
	}
	settle(g);
}

static double
next_internal(const struct gsim *g)
{
	double t = INFINITY, m;
	int i;

	if (g->now < g->stall_until)
		t = g->stall_until;
	else if (g->wcount > 0)
		t = g->wtime[g->whead];
	if (g->tcount > 0 && g->tx[g->thead].depart_s > g->now &&
	    g->tx[g->thead].depart_s < t)
		t = g->tx[g->thead].depart_s;
	m = motion_time_to_event(g->mot);
	if (isfinite(m) && g->now + m < t)
		t = g->now + m;
	if (g->pend.active && g->pend.dwell_started && g->dwell_left > 0 &&
	    !g->hold && g->now + g->dwell_left < t)
		t = g->now + g->dwell_left;
	for (i = 0; i < g->fs->nev; i++) {
		const struct fault_event *fe = &g->fs->ev[i];
		if (!fe->fired && fe->t_s >= 0 && fe->t_s < t)
			t = fe->t_s > g->now ? fe->t_s : g->now;
	}
	return t;
}

double
gsim_next_event(const struct gsim *g)
{
	return next_internal(g);
}

/* Moves time to t (no event lies strictly between now and t). */
static void
step_to(struct gsim *g, double t)
{
	double dt = t - g->now;
	int i;

	if (dt > 0) {
		motion_advance(g->mot, g->now, dt, path_cb, g);
		if (g->pend.active && g->pend.dwell_started && !g->hold) {
			g->dwell_left -= dt;
			if (g->dwell_left < 1e-9)
				g->dwell_left = 0;
		}
		g->now = t;
	} else {
		/* Far into simulated time (a move of kilometres lasts 1e9 s)
		 * a remainder can fall below the clock's resolution, now + rem
		 * == now: finish it here, or time would stand still. */
		double m = motion_time_to_event(g->mot);
		if (m > 0 && isfinite(m) && g->now + m <= g->now)
			motion_advance(g->mot, g->now, m, path_cb, g);
		if (g->pend.active && g->pend.dwell_started && !g->hold &&
		    g->dwell_left > 0 && g->now + g->dwell_left <= g->now)
			g->dwell_left = 0;
	}
	for (i = 0; i < g->fs->nev; i++) {
		struct fault_event *fe = &g->fs->ev[i];
		if (!fe->fired && fe->t_s >= 0 && fe->t_s <= g->now)
			fire(g, fe);
	}
	while (g->wcount > 0 && g->now >= g->stall_until &&
	    g->wtime[g->whead] <= g->now + 1e-12) {
		uint8_t c = g->win[g->whead];
		g->whead = (g->whead + 1) % WIRE_MAX;
		g->wcount--;
		if (!is_realtime(c))
			g->wdata--;
		deliver(g, c);
		settle(g);
	}
	settle(g);
}

double
gsim_run(struct gsim *g, double t, bool stop_on_output)
{
	for (;;) {
		double te = next_internal(g);
		if (te > t || !isfinite(te))
			break;
		step_to(g, te);
		if (stop_on_output && gsim_output_due(g, g->now))
			return g->now;
	}
	if (t > g->now && isfinite(t))
		step_to(g, t);
	return g->now;
}

bool
gsim_output_due(const struct gsim *g, double t)
{
	return g->tcount > 0 && t >= g->stall_until &&
	    g->tx[g->thead].depart_s <= t;
}

int
gsim_planned_blocks(const struct gsim *g)
{
	return motion_blocks(g->mot);
}

bool
gsim_output_pending(const struct gsim *g)
{
	return g->tcount > 0;
}

size_t
gsim_output(struct gsim *g, double t, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	while (gsim_output_due(g, t)) {
		struct txline *l = &g->tx[g->thead];
		size_t len = strlen(l->s), i;
		if (n + len > cap)
			break;
		for (i = 0; i < len; i++) {
			if (g->fs->drop_tx > 0 &&
			    fault_rand(g->fs) < g->fs->drop_tx) {
				g->st.tx_fault_dropped++;
				continue;
			}
			buf[n++] = (uint8_t)l->s[i];
		}
		g->st.bytes_tx += len;
		g->thead = (g->thead + 1) % TX_MAX;
		g->tcount--;
	}
	return n;
}

bool
gsim_host_waiting(const struct gsim *g)
{
	return g->wcount > 0 || g->rcount > 0 || g->pend.active ||
	    g->llen > 0;
}

bool
gsim_take_close_request(struct gsim *g)
{
	bool r = g->close_req;

	g->close_req = false;
	return r;
}

void
gsim_host_open(struct gsim *g, double t, bool greet)
{
	gsim_run(g, t, false);
	g->host = true;
	g->tlast = g->now;
	if (!greet)
		return;
	if (g->opts.on_open == GSIM_OPEN_RESET)
		power_up(g, true);
	else if (g->opts.on_open == GSIM_OPEN_BANNER)
		banner(g);
}

void
gsim_host_close(struct gsim *g, double t)
{
	gsim_run(g, t, false);
	g->host = false;
	/* What was on the wire or not yet sent is lost with the link. */
	g->whead = g->wcount = g->wdata = 0;
	g->thead = g->tcount = 0;
	g->tlast = g->now;
}

double
gsim_now(const struct gsim *g)
{
	return g->now;
}

const struct gsim_stats *
gsim_stats(const struct gsim *g)
{
	return &g->st;
}

int
gsim_load_settings(struct gsim *g, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char buf[256];
	int lineno = 0, rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		char *p = buf, *end;
		long n;
		double v;
		lineno++;
		buf[strcspn(buf, "#;\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			continue;
		if (*p != '$' || !isdigit((unsigned char)p[1])) {
			snprintf(err, errlen, "%s:%d:%d: expected $N=V", path,
			    lineno, (int)(p - buf) + 1);
			rc = -1;
			break;
		}
		n = strtol(p + 1, &end, 10);
		if (*end != '=') {
			snprintf(err, errlen, "%s:%d:%d: expected '='", path,
			    lineno, (int)(end - buf) + 1);
			rc = -1;
			break;
		}
		p = end + 1;
		errno = 0;
		v = strtod(p, &end);
		while (*end == ' ' || *end == '\t')
			end++;
		if (end == p || *end != '\0' || errno != 0 || !isfinite(v)) {
			snprintf(err, errlen, "%s:%d:%d: bad number", path,
			    lineno, (int)(p - buf) + 1);
			rc = -1;
			break;
		}
		int e = setting_store(g, (int)(n < NSET ? n : NSET), v, false);
		if (e != 0) {
			snprintf(err, errlen, "%s:%d: $%ld=%g: %s", path,
			    lineno, n, v, grbl_error_text(e) ?
			    grbl_error_text(e) : "rejected");
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

void
gsim_summary(const struct gsim *g, FILE *f, double wall_s)
{
	const struct gsim_stats *s = &g->st;

	fprintf(f, "{\"penetrations\":%zu,\"violations\":%zu,"
	    "\"sim_time_s\":%.3f,\"wall_time_s\":%.3f,\"speedup\":%.1f,"
	    "\"bytes_rx\":%llu,\"bytes_tx\":%llu,\"bytes_dropped\":%llu,"
	    "\"rx_overrun\":%llu,\"rx_fault_dropped\":%llu,"
	    "\"rx_fault_corrupted\":%llu,\"tx_fault_dropped\":%llu,"
	    "\"lines\":%llu,\"errors\":%llu,\"alarms\":%llu,\"resets\":%llu,"
	    "\"starved_n\":%llu,\"starved_s\":%.6f,\"starved_max_s\":%.6f,"
	    "\"needle_on\":%s}\n",
	    skin_penetrations(g->skin), skin_violations(g->skin), g->now,
	    wall_s, wall_s > 0 ? g->now / wall_s : 0.0,
	    (unsigned long long)s->bytes_rx, (unsigned long long)s->bytes_tx,
	    (unsigned long long)s->rx_overrun +
	    (unsigned long long)s->rx_fault_dropped,
	    (unsigned long long)s->rx_overrun,
	    (unsigned long long)s->rx_fault_dropped,
	    (unsigned long long)s->rx_fault_corrupted,
	    (unsigned long long)s->tx_fault_dropped,
	    (unsigned long long)s->lines, (unsigned long long)s->errors,
	    (unsigned long long)s->alarms, (unsigned long long)s->resets,
	    (unsigned long long)s->starved_n, s->starved_s, s->starved_max_s,
	    g->needle ? "true" : "false");
	fflush(f);
}
