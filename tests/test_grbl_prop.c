/*
 * Property test of the protocol engine against a model controller: random
 * line lengths, random real-time bytes, writes cut at random points, answers
 * and status reports split across reads at random points, random errors and
 * random resets. Whatever the interleaving: the controller's receive buffer
 * never holds more than rx_size line bytes; the line bytes it receives are
 * exactly the lines sent, in order; every line gets exactly one fate (OK,
 * ERROR or LOST) matching what the controller did with it, in order; and a
 * line the controller never answered is never reported OK.
 */
#include "test.h"

#include "drivers/grbl.h"

#define NLINES 3000

static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33) % n;
}

enum fate { FATE_NONE = 0, FATE_OK, FATE_ERROR, FATE_LOST };

struct model {
	int rx_size;
	bool resetting;       /* reset; bytes are lost until the host sees it */
	char rxbuf[4096];     /* line bytes received, not yet processed */
	int rxlen;
	int max_rx;
	char line[128];       /* line being assembled by the controller */
	int linelen;
	int next_line;        /* index of the next line the model completes */
	char out[65536];      /* bytes to the host */
	size_t outlen;
	enum fate truth[NLINES];  /* what the controller answered */
	char sent_text[NLINES][80];
};

static void
model_say(struct model *m, const char *s)
{
	size_t n = strlen(s);

	ASSERT_LT(m->outlen + n, sizeof(m->out));
	memcpy(m->out + m->outlen, s, n);
	m->outlen += n;
}

/* The controller takes bytes off the wire: real-time ones at once, line
 * bytes into its receive buffer. */
static void
model_receive(struct model *m, const uint8_t *b, size_t n, int *rt_seen)
{
	for (size_t i = 0; i < n; i++) {
		if (m->resetting)
			continue;
		if (b[i] == '?' || b[i] == '!' || b[i] == '~' || b[i] >= 0x80) {
			(*rt_seen)++;
			continue;
		}
		m->rxbuf[m->rxlen++] = (char)b[i];
		ASSERT_LE(m->rxlen, m->rx_size);
	}
	if (m->rxlen > m->max_rx)
		m->max_rx = m->rxlen;
}

/* Processes up to k lines from the receive buffer, answering each. */
static void
model_process(struct model *m, int k)
{
	while (k > 0 && m->rxlen > 0) {
		char c = m->rxbuf[0];
		memmove(m->rxbuf, m->rxbuf + 1, (size_t)--m->rxlen);
		if (c != '\n') {
			ASSERT_LT(m->linelen, 80);
			m->line[m->linelen++] = c;
			continue;
		}
		m->line[m->linelen] = '\0';
		ASSERT_LT(m->next_line, NLINES);
		ASSERT_STR_EQ(m->line, m->sent_text[m->next_line]);
		m->linelen = 0;
		if (rnd(10) == 0) {
			m->truth[m->next_line] = FATE_ERROR;
			model_say(m, "error:20\r\n");
		} else {
			m->truth[m->next_line] = FATE_OK;
			model_say(m, "ok\r\n");
		}
		m->next_line++;
		k--;
	}
}

TEST_T(random_interleavings, 60)
{
	for (uint64_t seed = 1; seed <= 30; seed++) {
		struct model *m = calloc(1, sizeof(*m));
		enum fate seen[NLINES] = {0};
		struct grbl *g;
		struct grbl_event ev;
		const uint8_t *buf;
		int sent = 0, rt_sent = 0, rt_seen = 0, resets = 0;
		int next_answer = 0;   /* the oldest line with no fate seen */

		rng_state = seed;
		m->rx_size = seed % 3 == 0 ? 256 : 128;
		g = grbl_new(128);
		ASSERT_NOT_NULL(g);
		grbl_set_rx_size(g, m->rx_size);
		for (int step = 0; sent < NLINES || grbl_unanswered(g) > 0;
		    step++) {
			ASSERT_LT(step, 200000);
			/* Host: queue lines while they fit. */
			while (sent < NLINES) {
				int len = 1 + (int)rnd(79);
				char *t = m->sent_text[sent];
				for (int i = 0; i < len; i++)
					t[i] = (char)('A' + rnd(26));
				t[len] = '\0';
				if (!grbl_can_send(g, (size_t)len))
					break;
				ASSERT_EQ(grbl_send_line(g, t, (uint64_t)sent),
				    0);
				sent++;
			}
			if (rnd(4) == 0) {
				grbl_send_realtime(g, (uint8_t)"?!~\x90"[rnd(4)]);
				rt_sent++;
			}
			/* Wire, host to controller: a random cut. */
			size_t n = grbl_tx_pending(g, &buf);
			if (n > 0) {
				size_t w = 1 + rnd((uint32_t)n);
				model_receive(m, buf, w, &rt_seen);
				grbl_tx_consume(g, w);
			}
			/* Controller: works through some lines, reports. */
			model_process(m, (int)rnd(3));
			if (rnd(5) == 0)
				model_say(m, "<Run|MPos:1.000,2.000,3.000|Bf:"
				    "3,40|FS:100,0>\r\n");
			if (!m->resetting && rnd(400) == 0) {
				/* A reset: buffer and partial line gone, and
				 * (in this model) whatever the host writes
				 * before it sees the banner; see driver.md on
				 * that window. */
				m->rxlen = m->linelen = 0;
				m->resetting = true;
				model_say(m, "\r\nGrbl 1.1h ['$' for help]\r\n");
				resets++;
			}
			/* Wire, controller to host: a random cut. */
			if (m->outlen > 0) {
				size_t r = 1 + rnd((uint32_t)m->outlen);
				grbl_feed(g, m->out, r);
				memmove(m->out, m->out + r, m->outlen - r);
				m->outlen -= r;
			}
			while (grbl_next_event(g, &ev)) {
				enum fate f;
				switch (ev.kind) {
				case GRBL_EV_OK: f = FATE_OK; break;
				case GRBL_EV_ERROR: f = FATE_ERROR; break;
				case GRBL_EV_LOST: f = FATE_LOST; break;
				case GRBL_EV_STATUS:
					continue;
				case GRBL_EV_BANNER:
					/* Every line sent so far got its fate
					 * (LOST events came first). */
					ASSERT_EQ(next_answer, sent);
					m->resetting = false;
					m->rxlen = m->linelen = 0;
					m->next_line = sent;
					continue;
				default:
					TEST_FAIL_("seed %llu: event %d \"%s\"",
					    (unsigned long long)seed, ev.kind,
					    ev.text);
				}
				ASSERT_EQ(ev.tag, (uint64_t)next_answer);
				ASSERT_EQ(seen[ev.tag], FATE_NONE);
				seen[ev.tag] = f;
				if (f != FATE_LOST)
					ASSERT_EQ(f, m->truth[ev.tag]);
				else
					ASSERT_EQ(m->truth[ev.tag], FATE_NONE);
				next_answer++;
			}
			ASSERT_LE(grbl_unanswered_bytes(g), (size_t)m->rx_size);
		}
		/* Drain the rest of the controller's output. */
		grbl_feed(g, m->out, m->outlen);
		while (grbl_next_event(g, &ev))
			ASSERT(ev.kind == GRBL_EV_STATUS);
		ASSERT_EQ(next_answer, NLINES);
		for (int i = 0; i < NLINES; i++)
			ASSERT(seen[i] != FATE_NONE);
		ASSERT_LE(m->max_rx, m->rx_size);
		ASSERT_GT(m->max_rx, m->rx_size - 80);
		ASSERT_LE(rt_seen, rt_sent);
		grbl_destroy(&g);
		free(m);
		ASSERT_GT(resets, 0);
	}
}

TEST_MAIN()
