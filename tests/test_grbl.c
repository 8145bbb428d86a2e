/*
 * Unit tests of the GRBL protocol engine (drivers/grbl.c): the status-report
 * parser, character counting, real-time bytes, answer matching, banners,
 * flush, alarms, settings and feedback lines. The engine has no I/O, so each
 * case feeds it the controller's side as strings and checks the events.
 */
#include "test.h"

#include "drivers/grbl.h"
#include "drivers/grbl_codes.h"

static struct grbl_event
next_ev(struct grbl *g)
{
	struct grbl_event ev;

	ASSERT_MSG(grbl_next_event(g, &ev), "expected an event");
	return ev;
}

static void
no_more(struct grbl *g)
{
	struct grbl_event ev;

	if (grbl_next_event(g, &ev))
		TEST_FAIL_("unexpected event kind %d text \"%s\"", ev.kind,
		    ev.text);
}

static void
feed(struct grbl *g, const char *s)
{
	grbl_feed(g, s, strlen(s));
}

static struct grbl_status
fresh_status(void)
{
	struct grbl_status st;

	memset(&st, 0, sizeof(st));
	st.substate = -1;
	st.line_no = -1;
	st.ov_feed = st.ov_rapid = st.ov_spindle = 100;
	return st;
}

/* ---- status reports ---- */

TEST(status_every_field)
{
	struct grbl_status st = fresh_status();

	ASSERT_EQ(grbl_parse_status("<Hold:1|MPos:1.000,-2.500,-3.125|Bf:14,"
	    "120|Ln:42|FS:600,1000|Pn:XZP|WCO:0.500,-1.000,2.000|Ov:110,50,"
	    "90|A:SFM>", &st), 0);
	ASSERT_EQ(st.state, GRBL_STATE_HOLD);
	ASSERT_EQ(st.substate, 1);
	ASSERT_NEAR(st.mpos[0], 1.0, 1e-9);
	ASSERT_NEAR(st.mpos[1], -2.5, 1e-9);
	ASSERT_NEAR(st.mpos[2], -3.125, 1e-9);
	ASSERT(st.has_wco);
	ASSERT_NEAR(st.wco[2], 2.0, 1e-9);
	ASSERT_NEAR(st.wpos[0], 0.5, 1e-9);
	ASSERT_NEAR(st.wpos[1], -1.5, 1e-9);
	ASSERT_NEAR(st.wpos[2], -5.125, 1e-9);
	ASSERT(st.has_buf);
	ASSERT_EQ(st.buf_blocks, 14);
	ASSERT_EQ(st.buf_bytes, 120);
	ASSERT_EQ(st.line_no, 42);
	ASSERT_NEAR(st.feed, 600, 1e-9);
	ASSERT_NEAR(st.speed, 1000, 1e-9);
	ASSERT_STR_EQ(st.pins, "XZP");
	ASSERT_EQ(st.ov_feed, 110);
	ASSERT_EQ(st.ov_rapid, 50);
	ASSERT_EQ(st.ov_spindle, 90);
	ASSERT(st.spindle_cw);
	ASSERT(!st.spindle_ccw);
	ASSERT(st.flood);
	ASSERT(st.mist);
}

TEST(status_states)
{
	static const struct {
		const char *s;
		enum grbl_state st;
		int sub;
	} cases[] = {
		{"Idle", GRBL_STATE_IDLE, -1}, {"Run", GRBL_STATE_RUN, -1},
		{"Hold:0", GRBL_STATE_HOLD, 0}, {"Jog", GRBL_STATE_JOG, -1},
		{"Alarm", GRBL_STATE_ALARM, -1}, {"Door:3", GRBL_STATE_DOOR, 3},
		{"Door:0", GRBL_STATE_DOOR, 0}, {"Check", GRBL_STATE_CHECK, -1},
		{"Home", GRBL_STATE_HOME, -1}, {"Sleep", GRBL_STATE_SLEEP, -1},
	};
	char line[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct grbl_status st = fresh_status();
		snprintf(line, sizeof(line), "<%s|MPos:0.000,0.000,0.000|FS:0,"
		    "0>", cases[i].s);
		ASSERT_MSG(grbl_parse_status(line, &st) == 0, "%s", line);
		ASSERT_EQ(st.state, cases[i].st);
		ASSERT_EQ(st.substate, cases[i].sub);
		ASSERT_STR_EQ(grbl_state_name(st.state),
		    cases[i].s[0] == 'H' && cases[i].s[1] == 'o' &&
		    cases[i].s[2] == 'l' ? "Hold" :
		    cases[i].s[0] == 'D' ? "Door" : cases[i].s);
	}
}

TEST(status_wpos_to_mpos_and_wco_memory)
{
	struct grbl_status st = fresh_status();

	/* WPos before any WCO: taken as MPos, has_wco false. */
	ASSERT_EQ(grbl_parse_status("<Idle|WPos:1.000,2.000,3.000|FS:0,0>",
	    &st), 0);
	ASSERT(!st.has_wco);
	ASSERT_NEAR(st.mpos[1], 2.0, 1e-9);
	/* WCO later in the same report still applies to its position. */
	ASSERT_EQ(grbl_parse_status("<Idle|WPos:1.000,2.000,3.000|FS:0,0|"
	    "WCO:10.000,-20.000,0.250>", &st), 0);
	ASSERT(st.has_wco);
	ASSERT_NEAR(st.mpos[0], 11.0, 1e-9);
	ASSERT_NEAR(st.mpos[1], -18.0, 1e-9);
	ASSERT_NEAR(st.mpos[2], 3.25, 1e-9);
	/* The next reports omit WCO: remembered, both ways. */
	ASSERT_EQ(grbl_parse_status("<Run|MPos:11.000,-18.000,3.250|FS:100,"
	    "0>", &st), 0);
	ASSERT_NEAR(st.wpos[0], 1.0, 1e-9);
	ASSERT_NEAR(st.wpos[1], 2.0, 1e-9);
	ASSERT_NEAR(st.wpos[2], 3.0, 1e-9);
	ASSERT_EQ(grbl_parse_status("<Run|WPos:0.000,0.000,0.000|FS:100,0>",
	    &st), 0);
	ASSERT_NEAR(st.mpos[0], 10.0, 1e-9);
	ASSERT_NEAR(st.mpos[1], -20.0, 1e-9);
	ASSERT_NEAR(st.mpos[2], 0.25, 1e-9);
	/* Ov remembered; A resets with each Ov report and only then. */
	ASSERT_EQ(grbl_parse_status("<Run|WPos:0,0,0|FS:1,2|Ov:120,100,100|"
	    "A:S>", &st), 0);
	ASSERT(st.spindle_cw);
	ASSERT_EQ(grbl_parse_status("<Run|WPos:0,0,0|FS:1,2>", &st), 0);
	ASSERT_EQ(st.ov_feed, 120);
	ASSERT(st.spindle_cw);
	ASSERT_EQ(grbl_parse_status("<Run|WPos:0,0,0|FS:1,2|Ov:100,100,100>",
	    &st), 0);
	ASSERT(!st.spindle_cw);
	ASSERT_EQ(st.ov_feed, 100);
}

TEST(status_per_report_fields_reset)
{
	struct grbl_status st = fresh_status();

	ASSERT_EQ(grbl_parse_status("<Run|MPos:0,0,0|Bf:3,40|Ln:7|FS:1,0|"
	    "Pn:Z>", &st), 0);
	ASSERT(st.has_buf);
	ASSERT_EQ(grbl_parse_status("<Run|MPos:0,0,0|F:250>", &st), 0);
	ASSERT(!st.has_buf);
	ASSERT_EQ(st.line_no, -1);
	ASSERT_STR_EQ(st.pins, "");
	ASSERT_NEAR(st.feed, 250, 1e-9);
	ASSERT_NEAR(st.speed, 0, 1e-9);
}

TEST(status_extra_axes_and_unknown_fields)
{
	struct grbl_status st = fresh_status();

	ASSERT_EQ(grbl_parse_status("<Idle|MPos:1,2,3,4.5|FS:0,0|SD:1,x|"
	    "H:1>", &st), 0);
	ASSERT_NEAR(st.mpos[2], 3, 1e-9);
}

TEST(status_malformed_rejected_state_unchanged)
{
	static const char *bad[] = {
		"", "<>", "<Idle>", "Idle|MPos:0,0,0>", "<Idle|MPos:0,0,0",
		"<Walk|MPos:0,0,0>", "<Hold:2|MPos:0,0,0>",
		"<Door:4|MPos:0,0,0>", "<Idle:1|MPos:0,0,0>", "<Idle|MPos:0,0>",
		"<Idle|MPos:1,2,3|WPos:1,2,3>", "<Idle|MPos:a,0,0>",
		"<Idle|MPos:0,0,0|MPos:0,0,0>", "<Idle|MPos:1e3,0,0>",
		"<Idle|MPos:inf,0,0>", "<Idle|MPos:nan,0,0>",
		"<Idle|MPos:0,0,0|Bf:1>", "<Idle|MPos:0,0,0|Bf:-1,2>",
		"<Idle|MPos:0,0,0|Ln:x>", "<Idle|MPos:0,0,0|FS:-5,0>",
		"<Idle|MPos:0,0,0|Pn:Q>", "<Idle|MPos:0,0,0|Pn:>",
		"<Idle|MPos:0,0,0|Ov:100,100>", "<Idle|MPos:0,0,0|A:S>",
		"<Idle|MPos:0,0,0|Ov:1,1,1|A:Q>", "<Idle|MPos:0,0,0|WCO:1,2>",
		"<Idle|MPos:0,0,0||>", "<Idle|MPos:0,0,0|:5>",
		"<Idle|MPos:0,,0>", "<Idle|MPos:0,0,0,>", "<Idle|MPos:-,0,0>",
		"<Idle|MPos:0,0,0|Bf:1,2,3>", "<Idle|MPos:0\x01,0,0>",
		"<Idle|MPos:0,0,0|FS:1,2,3>", "<Idle|MPos:1,2,3,4,5,6,7>",
		"<Idle|MPos:1234567890123,0,0>", "<Idle|MPos:0,0,0|Ov:1001,1,1>",
		"<Id<le|MPos:0,0,0>", "<Idle|MPos:0,0,0|7x:1>",
	};
	struct grbl_status st = fresh_status(), before;

	ASSERT_EQ(grbl_parse_status("<Jog|MPos:5,6,7|WCO:1,1,1|Ov:90,25,80>",
	    &st), 0);
	before = st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ASSERT_MSG(grbl_parse_status(bad[i], &st) == -1, "accepted "
		    "\"%s\"", bad[i]);
		ASSERT_MSG(memcmp(&st, &before, sizeof(st)) == 0, "\"%s\" "
		    "changed the status", bad[i]);
	}
}

TEST(status_via_feed_becomes_event_and_last_status)
{
	struct grbl *g = grbl_new(128);
	struct grbl_event ev;

	ASSERT_EQ(grbl_last_status(g)->state, GRBL_STATE_UNKNOWN);
	feed(g, "<Idle|MPos:0.000,0.000,0.000|Bf:15,128|FS:0,0|WCO:1.000,"
	    "2.000,3.000>\r\n<Idle|MPos:0.000,0.000,0.000|FS:0,0>\r\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_STATUS);
	ASSERT_EQ(ev.status.buf_bytes, 128);
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_STATUS);
	ASSERT(ev.status.has_wco);
	ASSERT_NEAR(ev.status.wpos[2], -3.0, 1e-9);
	ASSERT_EQ(grbl_last_status(g)->state, GRBL_STATE_IDLE);
	/* A broken report is OTHER and leaves the last status alone. */
	feed(g, "<Run|MPos:1,2>\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OTHER);
	ASSERT_EQ(grbl_last_status(g)->state, GRBL_STATE_IDLE);
	no_more(g);
	grbl_destroy(&g);
	ASSERT_NULL(g);
	grbl_destroy(&g);
	grbl_destroy(NULL);
}

/* ---- character counting ---- */

TEST(counting_never_exceeds_rx_size)
{
	struct grbl *g = grbl_new(128);
	char line[80];
	int sent = 0, answered = 0;
	uint64_t expect = 0;
	struct grbl_event ev;

	/* Lines of varied lengths; answer one at a time; the count of bytes
	 * unanswered never exceeds 128 and answers pop in order. */
	for (int round = 0; round < 2000; round++) {
		int len = 1 + (round * 37) % 79;
		memset(line, 'G', (size_t)len);
		line[len] = '\0';
		if (grbl_can_send(g, (size_t)len)) {
			ASSERT_EQ(grbl_send_line(g, line, (uint64_t)sent), 0);
			sent++;
			/* written to the port at once */
			grbl_tx_consume(g, grbl_tx_pending(g, NULL));
		} else {
			ASSERT_EQ(grbl_send_line(g, line, 999999), -1);
			ASSERT_GT(grbl_unanswered_bytes(g) + (size_t)len + 1,
			    128);
			feed(g, round % 3 ? "ok\r\n" : "error:20\r\n");
			ev = next_ev(g);
			ASSERT_EQ(ev.kind, round % 3 ? GRBL_EV_OK :
			    GRBL_EV_ERROR);
			if (ev.kind == GRBL_EV_ERROR)
				ASSERT_EQ(ev.code, 20);
			ASSERT_EQ(ev.tag, expect);
			expect++;
			answered++;
		}
		ASSERT_LE(grbl_unanswered_bytes(g), 128);
		ASSERT_EQ(grbl_unanswered(g), (size_t)(sent - answered));
	}
	ASSERT_GT(answered, 100);
	grbl_destroy(&g);
}

TEST(counting_includes_newline_exact_fit)
{
	struct grbl *g = grbl_new(128);
	char a[64], b[64];
	const uint8_t *buf;

	memset(a, 'A', 63);
	a[63] = '\0';
	memset(b, 'B', 62);
	b[62] = '\0';
	ASSERT_EQ(grbl_send_line(g, a, 1), 0);       /* 64 bytes */
	ASSERT(grbl_can_send(g, 63));               /* 64 + 64 = 128 */
	ASSERT(!grbl_can_send(g, 64));
	ASSERT_EQ(grbl_send_line(g, b, 2), 0);       /* 63 bytes */
	ASSERT_EQ(grbl_unanswered_bytes(g), 127);
	ASSERT(grbl_can_send(g, 0));
	ASSERT(!grbl_can_send(g, 1));
	ASSERT_EQ(grbl_tx_pending(g, &buf), 127);
	ASSERT_EQ(buf[63], '\n');
	ASSERT_EQ(buf[126], '\n');
	grbl_destroy(&g);
}

TEST(line_validation)
{
	struct grbl *g = grbl_new(128);
	char longl[81];

	memset(longl, 'X', 80);
	longl[80] = '\0';
	ASSERT_EQ(grbl_send_line(g, longl, 1), -1);
	longl[79] = '\0';
	ASSERT_EQ(grbl_send_line(g, longl, 1), 0);
	ASSERT_EQ(grbl_send_line(g, "G0 X?1", 2), -1);
	ASSERT_EQ(grbl_send_line(g, "M3!", 2), -1);
	ASSERT_EQ(grbl_send_line(g, "~", 2), -1);
	ASSERT_EQ(grbl_send_line(g, "G0\nX1", 2), -1);
	ASSERT_EQ(grbl_send_line(g, "G0\rX1", 2), -1);
	ASSERT_EQ(grbl_send_line(g, "G0\tX1", 2), -1);
	ASSERT_EQ(grbl_send_line(g, "G0 X\x80", 2), -1);
	ASSERT_EQ(grbl_send_line(g, "G0 X\x18", 2), -1);
	ASSERT_EQ(grbl_unanswered(g), 1);
	ASSERT_EQ(grbl_unanswered_bytes(g), 80);
	ASSERT(grbl_line_valid("G4 P0.05", 8));
	grbl_destroy(&g);
	ASSERT_NULL(grbl_new(0));
	ASSERT_NULL(grbl_new(-5));
}

TEST(realtime_ahead_of_lines_outside_count)
{
	struct grbl *g = grbl_new(128);
	const uint8_t *buf;
	size_t n;

	ASSERT_EQ(grbl_send_line(g, "G1 X10 F100", 1), 0);
	ASSERT_EQ(grbl_send_line(g, "G4 P0.1", 2), 0);
	grbl_send_realtime(g, GRBL_RT_HOLD);
	grbl_send_realtime(g, GRBL_RT_STATUS);
	grbl_send_realtime(g, GRBL_RT_STATUS);     /* merged */
	grbl_send_realtime(g, GRBL_RT_RESET);
	grbl_send_realtime(g, GRBL_RT_RESET);      /* acts once anyway */
	n = grbl_tx_pending(g, &buf);
	ASSERT_EQ(n, 3 + 12 + 8);
	ASSERT_EQ(buf[0], '!');
	ASSERT_EQ(buf[1], '?');
	ASSERT_EQ(buf[2], 0x18);
	ASSERT(memcmp(buf + 3, "G1 X10 F100\nG4 P0.1\n", 20) == 0);
	ASSERT_EQ(grbl_unanswered_bytes(g), 20);
	/* Half a line written, then a real-time byte: it goes next, ahead of
	 * the rest of the line (GRBL picks it out of the middle). */
	grbl_tx_consume(g, 6);
	grbl_send_realtime(g, GRBL_RT_RESUME);
	n = grbl_tx_pending(g, &buf);
	ASSERT_EQ(n, 1 + 17);
	ASSERT_EQ(buf[0], '~');
	ASSERT(memcmp(buf + 1, "X10 F100\nG4 P0.1\n", 17) == 0);
	grbl_tx_consume(g, n);
	ASSERT_EQ(grbl_tx_pending(g, &buf), 0);
	grbl_send_realtime(g, GRBL_RT_STATUS);
	ASSERT_EQ(grbl_tx_pending(g, &buf), 1);
	ASSERT_EQ(grbl_unanswered_bytes(g), 20);
	grbl_destroy(&g);
}

TEST(many_realtime_with_full_buffer)
{
	struct grbl *g = grbl_new(128);
	const uint8_t *buf;
	size_t n, i, lines = 0;

	while (grbl_send_line(g, "G1X1", lines) == 0)
		lines++;
	ASSERT_EQ(lines, 25);
	for (i = 0; i < 1000; i++)
		grbl_send_realtime(g, (uint8_t)(0x91 + i % 2));
	n = grbl_tx_pending(g, &buf);
	ASSERT_GE(n, 125);
	ASSERT_LE(n, 125 + 256);
	ASSERT(memcmp(buf + n - 5, "G1X1\n", 5) == 0);
	/* Full: an override is dropped, a reset never is. */
	grbl_send_realtime(g, 0x91);
	ASSERT_EQ(grbl_tx_pending(g, &buf), n);
	grbl_send_realtime(g, GRBL_RT_RESET);
	n = grbl_tx_pending(g, &buf);
	ASSERT_EQ(n, 1 + 125);
	ASSERT_EQ(buf[0], GRBL_RT_RESET);
	ASSERT(memcmp(buf + 1, "G1X1\n", 5) == 0);
	grbl_destroy(&g);
}

TEST(realtime_order_kept_duplicates_merged)
{
	struct grbl *g = grbl_new(128);
	const uint8_t *buf;
	size_t n;

	/* hold, resume, hold must stay three bytes: the last one wins. */
	grbl_send_realtime(g, GRBL_RT_HOLD);
	grbl_send_realtime(g, GRBL_RT_HOLD);
	grbl_send_realtime(g, GRBL_RT_RESUME);
	grbl_send_realtime(g, GRBL_RT_HOLD);
	grbl_send_realtime(g, 0x91);
	grbl_send_realtime(g, 0x91);          /* +10% twice is +20% */
	n = grbl_tx_pending(g, &buf);
	ASSERT_EQ(n, 5);
	ASSERT(memcmp(buf, "!~!\x91\x91", 5) == 0);
	grbl_destroy(&g);
}

TEST(answers_pop_in_order_with_tags)
{
	struct grbl *g = grbl_new(128);
	struct grbl_event ev;

	ASSERT_EQ(grbl_send_line(g, "G0 Z5", 100), 0);
	ASSERT_EQ(grbl_send_line(g, "G1 X1", 200), 0);
	ASSERT_EQ(grbl_send_line(g, "G4 P0.05", 300), 0);
	/* Split across feeds, \r\n endings, blank lines ignored. */
	feed(g, "o");
	no_more(g);
	feed(g, "k\r\n\r\n\nerror:2");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OK);
	ASSERT_EQ(ev.tag, 100);
	no_more(g);
	feed(g, "2\r\nok\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_ERROR);
	ASSERT_EQ(ev.tag, 200);
	ASSERT_EQ(ev.code, 22);
	ASSERT_STR_EQ(grbl_error_text(ev.code), "Feed rate undefined");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OK);
	ASSERT_EQ(ev.tag, 300);
	no_more(g);
	ASSERT_EQ(grbl_unanswered(g), 0);
	ASSERT_EQ(grbl_unanswered_bytes(g), 0);
	/* An ok nobody waits for is never an OK. */
	feed(g, "ok\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OTHER);
	ASSERT_STR_CONTAINS(ev.text, "unmatched");
	/* Malformed error codes are not answers. */
	ASSERT_EQ(grbl_send_line(g, "G0 Z5", 7), 0);
	feed(g, "error:\nerror:x1\nerror:99999\nOK\n");
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(next_ev(g).kind, GRBL_EV_OTHER);
	ASSERT_EQ(grbl_unanswered(g), 1);
	grbl_destroy(&g);
}

TEST(banner_loses_every_unanswered_line)
{
	struct grbl *g = grbl_new(128);
	struct grbl_event ev;
	const uint8_t *buf;

	for (uint64_t t = 1; t <= 5; t++)
		ASSERT_EQ(grbl_send_line(g, "G1 X1 Y1", t), 0);
	grbl_tx_consume(g, 18);   /* two lines written, three queued */
	feed(g, "ok\r\n\r\nGrbl 1.1h ['$' for help]\r\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OK);
	ASSERT_EQ(ev.tag, 1);
	for (uint64_t t = 2; t <= 5; t++) {
		ev = next_ev(g);
		ASSERT_EQ(ev.kind, GRBL_EV_LOST);
		ASSERT_EQ(ev.tag, t);
	}
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_BANNER);
	ASSERT_STR_EQ(ev.text, "Grbl 1.1h ['$' for help]");
	no_more(g);
	ASSERT_EQ(grbl_unanswered(g), 0);
	ASSERT_EQ(grbl_tx_pending(g, &buf), 0);
	/* After it, answers match again. */
	ASSERT_EQ(grbl_send_line(g, "$X", 9), 0);
	feed(g, "[MSG:Caution: Unlocked]\r\nok\r\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_MSG);
	ASSERT_STR_EQ(ev.text, "Caution: Unlocked");
	ASSERT(ev.tagged);
	ASSERT_EQ(ev.tag, 9);
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OK);
	ASSERT(ev.tagged);
	ASSERT_EQ(ev.tag, 9);
	/* grblHAL's banner counts too. */
	feed(g, "GrblHAL 1.1f ['$' or '$HELP' for help]\n");
	ASSERT_EQ(next_ev(g).kind, GRBL_EV_BANNER);
	grbl_destroy(&g);
}

TEST(flush_then_late_ok_is_not_ok)
{
	struct grbl *g = grbl_new(128);
	struct grbl_event ev;
	const uint8_t *buf;
	size_t n;

	ASSERT_EQ(grbl_send_line(g, "G1 Z-1 F600", 1), 0);
	ASSERT_EQ(grbl_send_line(g, "G4 P0.1", 2), 0);
	ASSERT_EQ(grbl_send_line(g, "G0 Z1", 3), 0);
	grbl_tx_consume(g, 12);
	grbl_send_realtime(g, GRBL_RT_RESET);
	grbl_flush(g);
	for (uint64_t t = 1; t <= 3; t++) {
		ev = next_ev(g);
		ASSERT_EQ(ev.kind, GRBL_EV_LOST);
		ASSERT_EQ(ev.tag, t);
	}
	no_more(g);
	/* The reset still goes out; the unsent lines do not. */
	n = grbl_tx_pending(g, &buf);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(buf[0], 0x18);
	/* GRBL prints the pending dwell's ok, then an alarm, then the
	 * banner; the ok must not count as a delivery. A line sent in between
	 * is not matched either. */
	ASSERT_EQ(grbl_send_line(g, "G0 Z2", 4), 0);
	feed(g, "ok\r\nerror:9\r\nALARM:3\r\n<Alarm|MPos:0,0,0|FS:0,0>\r\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OTHER);
	ASSERT_STR_CONTAINS(ev.text, "after flush");
	ASSERT_EQ(next_ev(g).kind, GRBL_EV_OTHER);
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_ALARM);
	ASSERT_EQ(ev.code, 3);
	ASSERT_EQ(next_ev(g).kind, GRBL_EV_STATUS);
	feed(g, "\r\nGrbl 1.1h ['$' for help]\r\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_LOST);
	ASSERT_EQ(ev.tag, 4);
	ASSERT_EQ(next_ev(g).kind, GRBL_EV_BANNER);
	ASSERT_EQ(grbl_send_line(g, "G0 Z2", 5), 0);
	feed(g, "ok\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OK);
	ASSERT_EQ(ev.tag, 5);
	grbl_destroy(&g);
}

TEST(disconnect_forgets_everything)
{
	struct grbl *g = grbl_new(128);
	const uint8_t *buf;

	ASSERT_EQ(grbl_send_line(g, "G0 Z2", 1), 0);
	grbl_send_realtime(g, GRBL_RT_RESUME);
	feed(g, "<Idle|MPos:0,0");
	grbl_disconnect(g);
	ASSERT_EQ(next_ev(g).kind, GRBL_EV_LOST);
	no_more(g);
	ASSERT_EQ(grbl_tx_pending(g, &buf), 0);
	/* The partial line is gone: the next line parses on its own. */
	feed(g, "Grbl 1.1h ['$' for help]\n");
	ASSERT_EQ(next_ev(g).kind, GRBL_EV_BANNER);
	grbl_destroy(&g);
}

TEST(alarm_events_and_codes)
{
	struct grbl *g = grbl_new(128);
	struct grbl_event ev;

	ASSERT_EQ(grbl_send_line(g, "G0 X-999", 1), 0);
	/* A soft-limit alarm replaces the ok: the line stays unanswered. */
	feed(g, "ALARM:2\r\n[MSG:Reset to continue]\r\nALARM:x\r\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_ALARM);
	ASSERT_EQ(ev.code, 2);
	ASSERT(ev.tagged);          /* the refused line */
	ASSERT_EQ(ev.tag, 1);
	ASSERT(grbl_alarm_is_critical(ev.code));
	ASSERT_STR_EQ(grbl_alarm_text(ev.code),
	    "Soft limit: target outside machine travel");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_MSG);
	ASSERT_STR_EQ(ev.text, "Reset to continue");
	ASSERT_EQ(next_ev(g).kind, GRBL_EV_OTHER);
	ASSERT_EQ(grbl_unanswered(g), 1);
	ASSERT(!grbl_alarm_is_critical(3));
	ASSERT_NULL(grbl_alarm_text(11));
	ASSERT_NULL(grbl_error_text(18));
	ASSERT_NULL(grbl_error_text(-1));
	ASSERT_NOT_NULL(grbl_error_text(38));
	grbl_destroy(&g);
}

TEST(settings_and_feedback_lines)
{
	struct grbl *g = grbl_new(128);
	struct grbl_event ev;

	feed(g, "$0=10\r\n$1=255\r\n$11=0.010\r\n$130=-200.5\r\n$$=1\r\n$1=\r\n"
	    "$1=2x\r\n[VER:1.1h.20190830:]\r\n[OPT:V,15,128]\r\n[GC:G0 G54 G17 "
	    "G21 G90 G94 M5 M9 T0 F0 S0]\r\n[MSG:'$H'|'$X' to unlock]\r\n"
	    "[oops\r\nhello\r\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_SETTING);
	ASSERT(!ev.tagged);         /* no line in flight */
	ASSERT_EQ(ev.setting, 0);
	ASSERT_NEAR(ev.value, 10, 1e-12);
	ev = next_ev(g);
	ASSERT_EQ(ev.setting, 1);
	ASSERT_NEAR(ev.value, 255, 1e-12);
	ev = next_ev(g);
	ASSERT_EQ(ev.setting, 11);
	ASSERT_NEAR(ev.value, 0.01, 1e-12);
	ev = next_ev(g);
	ASSERT_EQ(ev.setting, 130);
	ASSERT_NEAR(ev.value, -200.5, 1e-12);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(next_ev(g).kind, GRBL_EV_OTHER);
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_FEEDBACK);
	ASSERT_STR_EQ(ev.text, "VER:1.1h.20190830:");
	ev = next_ev(g);
	ASSERT_STR_EQ(ev.text, "OPT:V,15,128");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_FEEDBACK);
	ASSERT_STR_CONTAINS(ev.text, "GC:G0 G54");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_MSG);
	ASSERT_STR_EQ(ev.text, "'$H'|'$X' to unlock");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OTHER);
	ASSERT_STR_EQ(ev.text, "[oops");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OTHER);
	ASSERT_STR_EQ(ev.text, "hello");
	no_more(g);
	grbl_destroy(&g);
}

TEST(mangled_answers_are_suspect)
{
	struct grbl *g = grbl_new(128);
	struct grbl_event ev;

	/* Nothing in flight: noise is just noise. */
	feed(g, "o k\r\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OTHER);
	ASSERT_EQ(ev.code, 0);
	ASSERT_EQ(grbl_send_line(g, "G4 P0.1", 41), 0);
	ASSERT_EQ(grbl_send_line(g, "G0 Z1", 42), 0);
	/* In flight: a line that could have been an answer is flagged, with
	 * the line whose answer it may have been. */
	feed(g, "o k\r\nerrr:20\r\nokok\r\n[MSG:x\r\n");
	for (int i = 0; i < 4; i++) {
		ev = next_ev(g);
		ASSERT_EQ(ev.kind, GRBL_EV_OTHER);
		ASSERT_EQ(ev.code, GRBL_OTHER_SUSPECT);
		ASSERT(ev.tagged);
		ASSERT_EQ(ev.tag, 41);
	}
	/* Report-shaped junk and startup-line results are not answers. */
	feed(g, "<Idle|bad>\r\n[FOO:1]\r\n>G21:ok\r\n");
	for (int i = 0; i < 3; i++) {
		ev = next_ev(g);
		ASSERT_EQ(ev.kind, i == 1 ? GRBL_EV_FEEDBACK : GRBL_EV_OTHER);
		ASSERT_EQ(ev.code, 0);
	}
	/* Matching itself is unchanged: answers still pop in order. */
	feed(g, "ok\r\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OK);
	ASSERT_EQ(ev.tag, 41);
	no_more(g);
	grbl_destroy(&g);
}

TEST(overlong_and_binary_lines)
{
	struct grbl *g = grbl_new(128);
	struct grbl_event ev;
	char big[1000];

	memset(big, 'o', sizeof(big));
	grbl_feed(g, big, sizeof(big));
	feed(g, "k\n");
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OTHER);
	ASSERT_EQ(strlen(ev.text), sizeof(ev.text) - 1);
	/* A truncated "<...>" is not parsed as a status. */
	memset(big, '0', sizeof(big));
	memcpy(big, "<Idle|MPos:", 11);
	grbl_feed(g, big, sizeof(big));
	feed(g, ",0,0>\n");
	ASSERT_EQ(next_ev(g).kind, GRBL_EV_OTHER);
	grbl_feed(g, "o\0k\n\x01\xff\n", 7);
	ev = next_ev(g);
	ASSERT_EQ(ev.kind, GRBL_EV_OTHER);
	ASSERT_STR_EQ(ev.text, "o?k");
	ev = next_ev(g);
	ASSERT_STR_EQ(ev.text, "??");
	no_more(g);
	grbl_destroy(&g);
}

TEST(rx_size_from_info)
{
	struct grbl *g = grbl_new(128);
	char line[80];
	int n = 0;

	memset(line, 'X', 79);
	line[79] = '\0';
	grbl_set_rx_size(g, 1024);
	while (grbl_send_line(g, line, (uint64_t)n) == 0)
		n++;
	ASSERT_EQ(n, 12);    /* 12 * 80 = 960 <= 1024 < 13 * 80 */
	ASSERT_LE(grbl_unanswered_bytes(g), 1024);
	/* Shrinking with lines in flight keeps them and blocks new ones. */
	grbl_set_rx_size(g, 128);
	ASSERT_EQ(grbl_unanswered(g), 12);
	ASSERT(!grbl_can_send(g, 0));
	for (int i = 0; i < 12; i++) {
		feed(g, "ok\n");
		ASSERT_EQ(next_ev(g).tag, (uint64_t)i);
	}
	ASSERT(grbl_can_send(g, 79));
	grbl_set_rx_size(g, 5);          /* nonsense: ignored */
	ASSERT(grbl_can_send(g, 79));
	grbl_destroy(&g);
}

TEST(homing_pending)
{
	struct grbl *g = grbl_new(128);

	ASSERT(!grbl_homing_pending(g));
	ASSERT_EQ(grbl_send_line(g, "G0 X1", 1), 0);
	ASSERT_EQ(grbl_send_line(g, "$H", 2), 0);
	ASSERT(grbl_homing_pending(g));
	feed(g, "ok\n");
	ASSERT(grbl_homing_pending(g));
	feed(g, "ok\n");
	ASSERT(!grbl_homing_pending(g));
	ASSERT_EQ(grbl_send_line(g, "$ H", 3), 0);
	ASSERT(grbl_homing_pending(g));
	grbl_flush(g);
	ASSERT(!grbl_homing_pending(g));
	ASSERT_EQ(grbl_send_line(g, "$HX", 4), 0);
	ASSERT(!grbl_homing_pending(g));
	grbl_destroy(&g);
}

TEST_MAIN()
