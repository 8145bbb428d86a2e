/*
 * smpsim conformance and fault suite: each case starts the real program,
 * opens its pty as a host would (raw termios) and checks exact answers, the
 * skin log and the summary. Cases that depend on when a real-time byte lands
 * run at --speed 1 with short moves; the rest run at --speed max.
 */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "sim/fault.h"
#include "test.h"

#define BANNER "\r\nGrbl 1.1h ['$' for help]\r\n"
#define UNLOCK "[MSG:'$H'|'$X' to unlock]\r\n"

struct sim {
	pid_t pid;
	int fd;
	FILE *out;
	char path[256];
	char buf[65536];
	size_t len;
};

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sim_start(struct sim *s, const char *const *args)
{
	const char *bin = getenv("SMP_BIN_DIR");
	char exe[512], line[512];
	const char *argv[40];
	int p[2], n = 0;
	struct termios tio;

	ASSERT_NOT_NULL(bin);
	snprintf(exe, sizeof(exe), "%s/smpsim", bin);
	argv[n++] = exe;
	argv[n++] = "--quiet";
	while (args != NULL && *args != NULL && n < 38)
		argv[n++] = *args++;
	argv[n] = NULL;
	ASSERT_EQ(pipe(p), 0);
	s->pid = fork();
	ASSERT(s->pid >= 0);
	if (s->pid == 0) {
		/* a failed case must not leave its simulator behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		close(p[0]);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	s->out = fdopen(p[0], "r");
	ASSERT_NOT_NULL(fgets(line, sizeof(line), s->out));
	ASSERT_MSG(strncmp(line, "smpsim: listening on ", 21) == 0, "%s", line);
	line[strcspn(line, "\n")] = '\0';
	snprintf(s->path, sizeof(s->path), "%s", line + 21);
	s->len = 0;
	s->fd = -1;
	if (strncmp(s->path, "tcp://", 6) == 0)
		return;
	s->fd = open(s->path, O_RDWR | O_NOCTTY);
	ASSERT(s->fd >= 0);
	tcgetattr(s->fd, &tio);
	cfmakeraw(&tio);
	tcsetattr(s->fd, TCSANOW, &tio);
}

/* Stops smpsim with SIGTERM; returns its exit status. */
static int
sim_stop(struct sim *s)
{
	int st;

	if (s->fd >= 0)
		close(s->fd);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, &st, 0);
	fclose(s->out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
sim_send(struct sim *s, const char *str)
{
	size_t n = strlen(str);
	ASSERT_EQ(write(s->fd, str, n), (long)n);
}

static void
sim_byte(struct sim *s, unsigned char c)
{
	ASSERT_EQ(write(s->fd, &c, 1), 1);
}

/* Reads for up to ms, stopping once want bytes are buffered. */
static void
sim_read(struct sim *s, size_t want, int ms)
{
	double end = now_s() + ms / 1e3;

	while (s->len < want) {
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		int left = (int)((end - now_s()) * 1e3);
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		ssize_t n = read(s->fd, s->buf + s->len,
		    sizeof(s->buf) - 1 - s->len);
		if (n <= 0)
			break;
		s->len += (size_t)n;
	}
	s->buf[s->len] = '\0';
}

/* The next answer bytes must be exactly want. */
#define EXPECT(s, want) EXPECT_T(s, want, 3000)
#define EXPECT_T(s, want, ms)                                                 \
	do {                                                                  \
		const char *w_ = (want);                                      \
		size_t wl_ = strlen(w_);                                      \
		sim_read((s), wl_, (ms));                                     \
		ASSERT_MSG((s)->len >= wl_ && memcmp((s)->buf, w_, wl_) == 0,\
		    "got \"%s\" want \"%s\"", (s)->buf, w_);                 \
		memmove((s)->buf, (s)->buf + wl_, (s)->len - wl_);            \
		(s)->len -= wl_;                                              \
		(s)->buf[(s)->len] = '\0';                                    \
	} while (0)

/* Nothing must arrive within ms. */
static void
expect_silence(struct sim *s, int ms)
{
	sim_read(s, s->len + 1, ms);
	ASSERT_MSG(s->len == 0, "unexpected \"%s\"", s->buf);
}

static void
unlocked(struct sim *s, const char *const *args)
{
	sim_start(s, args);
	EXPECT(s, BANNER UNLOCK);
	sim_send(s, "$X\n");
	EXPECT(s, "[MSG:Caution: Unlocked]\r\nok\r\n");
}

static const char *const MAX[] = {"--speed", "max", NULL};
static const char *const RT[] = {"--speed", "1", NULL};

TEST(banner_locked_and_unlock)
{
	struct sim s;

	sim_start(&s, MAX);
	EXPECT(&s, BANNER UNLOCK);
	sim_send(&s, "G0 X-1\n");
	EXPECT(&s, "error:9\r\n");
	sim_send(&s, "$X\n");
	EXPECT(&s, "[MSG:Caution: Unlocked]\r\nok\r\n");
	sim_send(&s, "G0 X-1\r\n");
	EXPECT(&s, "ok\r\nok\r\n"); /* \r and \n each end a line */
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(dollar_commands)
{
	struct sim s;

	sim_start(&s, MAX);
	EXPECT(&s, BANNER UNLOCK);
	sim_send(&s, "$I\n");
	EXPECT(&s, "[VER:1.1h.20190830:]\r\n[OPT:V,15,128]\r\nok\r\n");
	sim_send(&s, "$$\n");
	EXPECT(&s, "$0=10\r\n$1=255\r\n$2=0\r\n$3=0\r\n$4=0\r\n$5=0\r\n$6=0\r\n"
	    "$10=3\r\n$11=0.010\r\n$12=0.002\r\n$13=0\r\n$20=1\r\n$21=0\r\n"
	    "$22=1\r\n$23=0\r\n$24=25.000\r\n$25=500.000\r\n$26=250\r\n"
	    "$27=1.000\r\n$30=1000\r\n$31=0\r\n$32=0\r\n$100=800.000\r\n"
	    "$101=800.000\r\n$102=800.000\r\n$110=3000.000\r\n"
	    "$111=3000.000\r\n$112=1500.000\r\n$120=500.000\r\n"
	    "$121=500.000\r\n$122=800.000\r\n$130=300.000\r\n"
	    "$131=300.000\r\n$132=100.000\r\nok\r\n");
	sim_send(&s, "$G\n");
	EXPECT(&s, "[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]\r\nok\r\n");
	sim_send(&s, "$11=0.02\n$$\n");
	sim_read(&s, 2000, 500);
	ASSERT_STR_CONTAINS(s.buf, "ok\r\n$0=10");
	ASSERT_STR_CONTAINS(s.buf, "$11=0.020\r\n");
	s.len = 0;
	/* settings persist across a soft reset */
	sim_byte(&s, 0x18);
	EXPECT(&s, BANNER UNLOCK);
	sim_send(&s, "$11\n$RST=$\n$$\n");
	sim_read(&s, 2000, 500);
	ASSERT_STR_CONTAINS(s.buf, "error:3\r\nok\r\n$0=10");
	ASSERT_STR_CONTAINS(s.buf, "$11=0.010\r\n");
	s.len = 0;
	sim_send(&s, "$#\n");
	EXPECT(&s, "[G54:0.000,0.000,0.000]\r\n[G55:0.000,0.000,0.000]\r\n"
	    "[G56:0.000,0.000,0.000]\r\n[G57:0.000,0.000,0.000]\r\n"
	    "[G58:0.000,0.000,0.000]\r\n[G59:0.000,0.000,0.000]\r\n"
	    "[G28:0.000,0.000,0.000]\r\n[G30:0.000,0.000,0.000]\r\n"
	    "[G92:0.000,0.000,0.000]\r\n[TLO:0.000]\r\n"
	    "[PRB:0.000,0.000,0.000:0]\r\nok\r\n");
	sim_send(&s, "$X\n$H\n");
	EXPECT(&s, "[MSG:Caution: Unlocked]\r\nok\r\nok\r\n");
	sim_byte(&s, '?');
	EXPECT(&s, "<Idle|MPos:-1.000,-1.000,-1.000|Bf:15,128|FS:0,0|WCO:0.000,0.000,0.000>\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(error_codes)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
		{"G1 X-1\n", "error:22\r\n"},
		{"G0 X-1 X-2\n", "error:25\r\n"},
		{"G0 G1 X-1\n", "error:21\r\n"},
		{"F-1\n", "error:4\r\n"},
		{"Q1\n", "error:20\r\n"},
		{"1\n", "error:1\r\n"},
		{"G\n", "error:2\r\n"},
		{"G4\n", "error:28\r\n"},
		{"G0 X-1 P1\n", "error:36\r\n"},
		{"G80 X-1\n", "error:31\r\n"},
		{"G10 L2 P1\n", "error:26\r\n"},
		{"G92\n", "error:26\r\n"},
		{"T300\n", "error:38\r\n"},
		{"N99999999\n", "error:27\r\n"},
		{"G1.5\n", "error:23\r\n"},
		{"G2 X-1 Y-1 I-1\n", "error:20\r\n"},
		{"G10 L2 P8 X0\n", "error:29\r\n"},
		{"G53 G80\n", "error:30\r\n"},
		{"G10 L2 P1 X0 G0\n", "error:24\r\n"},
		{"$Z\n", "error:3\r\n"},
		{"$100=-1\n", "error:4\r\n"},
		{"$0=1\n", "error:6\r\n"},
		{"G0 (a comment) X-1 ; another\n", "ok\r\n"},
		{"g0x-2\n", "ok\r\n"},
		{"\n", "ok\r\n"},
	};
	struct sim s;
	size_t i;

	unlocked(&s, MAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sim_send(&s, cases[i].line);
		EXPECT(&s, cases[i].want);
	}
	/* 80 characters after stripping: error:11 */
	sim_send(&s, "G0X-1.0000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000\n");
	EXPECT(&s, "error:11\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(status_report_cadence)
{
	struct sim s;
	int i;

	unlocked(&s, MAX);
	sim_byte(&s, '?');
	EXPECT(&s, "<Idle|MPos:0.000,0.000,0.000|Bf:15,128|FS:0,0|"
	    "WCO:0.000,0.000,0.000>\r\n");
	sim_byte(&s, '?');
	EXPECT(&s, "<Idle|MPos:0.000,0.000,0.000|Bf:15,128|FS:0,0|"
	    "Ov:100,100,100>\r\n");
	for (i = 0; i < 8; i++) {
		sim_byte(&s, '?');
		EXPECT(&s, "<Idle|MPos:0.000,0.000,0.000|Bf:15,128|FS:0,0>\r\n");
	}
	sim_byte(&s, '?');
	EXPECT(&s, "<Idle|MPos:0.000,0.000,0.000|Bf:15,128|FS:0,0|"
	    "WCO:0.000,0.000,0.000>\r\n");
	/* WCO on change, and WPos when $10 bit 0 is clear */
	sim_send(&s, "G10 L2 P1 X-10 Y-20 Z-5\n$10=2\n");
	EXPECT(&s, "ok\r\nok\r\n");
	sim_byte(&s, '?');
	EXPECT(&s, "<Idle|WPos:10.000,20.000,5.000|Bf:15,128|FS:0,0|"
	    "WCO:-10.000,-20.000,-5.000>\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(soft_limit_alarm_and_reset)
{
	struct sim s;

	unlocked(&s, MAX);
	sim_send(&s, "G0 X1\n");
	EXPECT(&s, "ALARM:2\r\n[MSG:Reset to continue]\r\n");
	sim_byte(&s, '?');
	sim_send(&s, "$X\n");
	expect_silence(&s, 300);
	sim_byte(&s, 0x18);
	EXPECT(&s, "ok\r\n" BANNER UNLOCK);
	sim_send(&s, "G0 X-1\n");
	EXPECT(&s, "error:9\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(reset_while_moving_alarm3)
{
	struct sim s;

	unlocked(&s, RT);
	sim_send(&s, "G1 X-10 F60\n");
	EXPECT(&s, "ok\r\n");
	usleep(200000);
	sim_byte(&s, '?');
	sim_read(&s, 10, 500);
	ASSERT_STR_CONTAINS(s.buf, "<Run|MPos:-0.");
	s.len = 0;
	sim_byte(&s, 0x18);
	EXPECT(&s, "ALARM:3\r\n" BANNER UNLOCK);
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(feed_hold_and_resume)
{
	struct sim s;

	unlocked(&s, RT);
	sim_send(&s, "G1 X-5 F600\n");
	EXPECT(&s, "ok\r\n");
	usleep(150000);
	sim_byte(&s, '!');
	usleep(150000);
	sim_byte(&s, '?');
	sim_read(&s, 10, 500);
	ASSERT_STR_CONTAINS(s.buf, "<Hold:0|");
	ASSERT_STR_CONTAINS(s.buf, "FS:0,0");
	s.len = 0;
	sim_byte(&s, '~');
	usleep(50000);
	sim_byte(&s, '?');
	sim_read(&s, 10, 500);
	ASSERT_STR_CONTAINS(s.buf, "<Run|");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(dwell_reports_idle_and_answers_late)
{
	struct sim s;
	double t0;

	unlocked(&s, RT);
	t0 = now_s();
	sim_send(&s, "G4 P0.4\n");
	usleep(100000);
	sim_byte(&s, '?');
	sim_read(&s, 10, 300);
	ASSERT_STR_CONTAINS(s.buf, "<Idle|"); /* GRBL's known bug */
	s.len = 0;
	EXPECT(&s, "ok\r\n");
	ASSERT_GE((now_s() - t0) * 1000, 380);
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(planner_full_withholds_ok_and_rx_overruns)
{
	struct sim s;
	char line[64];
	int i, oks = 0;
	char *p;

	unlocked(&s, RT);
	for (i = 0; i < 20; i++) {
		snprintf(line, sizeof(line), "G1 X-%d F60\n", i + 1);
		sim_send(&s, line);
	}
	sim_read(&s, 1000, 400);
	for (p = s.buf; (p = strstr(p, "ok")) != NULL; p++)
		oks++;
	ASSERT_EQ(oks, 15); /* 15 blocks queued; the 16th line waits */
	s.len = 0;
	/* lines 17-20 (4 x 12 bytes) wait in the 128-byte buffer */
	sim_byte(&s, '?');
	sim_read(&s, 10, 300);
	ASSERT_STR_CONTAINS(s.buf, "|Bf:0,80|");
	s.len = 0;
	for (i = 0; i < 20; i++)
		sim_send(&s, "G1 X-1 F60\n"); /* 220 bytes: 136 lost */
	usleep(100000);
	sim_byte(&s, '?');
	sim_read(&s, 10, 300);
	ASSERT_STR_CONTAINS(s.buf, "|Bf:0,0|");
	s.len = 0;
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(check_mode)
{
	struct sim s;

	unlocked(&s, MAX);
	sim_send(&s, "$C\n");
	EXPECT(&s, "[MSG:Enabled]\r\nok\r\n");
	sim_send(&s, "G1 X-1\nG0 X-5\n?");
	EXPECT(&s, "error:22\r\nok\r\n<Check|MPos:0.000,0.000,0.000|");
	s.len = 0;
	sim_send(&s, "$C\n");
	sim_read(&s, 200, 300);
	ASSERT_STR_CONTAINS(s.buf, "[MSG:Disabled]\r\nok\r\n" BANNER);
	ASSERT_EQ(sim_stop(&s), 0);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[1 << 16];
	size_t n;

	ASSERT_NOT_NULL(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

TEST(skin_log_and_summary)
{
	struct sim s;
	char log[128], sum[128], *txt;
	const char *args[] = {"--speed", "max", "--skin-origin", "0,0,-10",
	    "--skin-log", log, "--summary", sum, NULL};

	snprintf(log, sizeof(log), "/tmp/test_sim_skin.%d", getpid());
	snprintf(sum, sizeof(sum), "/tmp/test_sim_sum.%d", getpid());
	unlocked(&s, args);
	sim_send(&s, "G0 X-5 Y-6 Z-9\nM3 S1000\nG1 Z-10.8 F600\nG4 P0.05\n"
	    "G0 Z-9\nM5\nG4 P0\n");
	EXPECT(&s, "ok\r\nok\r\nok\r\nok\r\nok\r\nok\r\nok\r\n");
	/* a sideways move in the skin is flagged */
	sim_send(&s, "G1 Z-10.5 F600\nG1 X-5.5\nG0 Z-9\nG4 P0\n");
	EXPECT(&s, "ok\r\nok\r\nok\r\nok\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
	txt = slurp(log);
	ASSERT_STR_CONTAINS(txt, "{\"event\":\"needle\",\"on\":true,");
	ASSERT_STR_CONTAINS(txt, "\"n\":1,");
	ASSERT_STR_CONTAINS(txt, "\"x\":-5.000,\"y\":-6.000,\"depth\":0.800,"
	    "\"dur_ms\":");
	ASSERT_STR_CONTAINS(txt, "\"needle\":true,\"lateral\":false,"
	    "\"lateral_mm\":0.000,\"mx\":-5.000,\"my\":-6.000,\"mz\":-10.800}");
	ASSERT_STR_CONTAINS(txt, "{\"event\":\"needle\",\"on\":false,");
	ASSERT_STR_CONTAINS(txt, "\"n\":2,");
	ASSERT_STR_CONTAINS(txt, "\"needle\":false,\"lateral\":true,"
	    "\"lateral_mm\":0.500,");
	txt = slurp(sum);
	ASSERT_STR_CONTAINS(txt, "\"penetrations\":2,\"violations\":1,");
	ASSERT_STR_CONTAINS(txt, "\"needle_on\":false");
	unlink(log);
	unlink(sum);
}

/* Host-side starvation in the summary: the needle on, nothing to run and
 * nothing from the host on the way; ended only by the host's next line. */
TEST(host_starvation_in_summary)
{
	struct sim s;
	char sum[128], *txt, *p;
	const char *args[] = {"--speed", "1", "--summary", sum, NULL};
	double t;

	snprintf(sum, sizeof(sum), "/tmp/test_sim_starve.%d", getpid());
	unlocked(&s, args);
	/* Sent together: the controller never runs dry between them. */
	sim_send(&s, "M3 S1000\nG0 X-1\nG0 X-2\n");
	EXPECT(&s, "ok\r\nok\r\nok\r\n");
	/* The 2 mm take about 0.1 s; then 0.3 s or more with nothing. */
	usleep(400000);
	sim_send(&s, "G0 X-3\nM5\n");
	EXPECT(&s, "ok\r\nok\r\n");
	/* Idle with the needle off is no starvation. */
	usleep(200000);
	sim_send(&s, "G0 X-4\nG4 P0\n");
	EXPECT(&s, "ok\r\nok\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
	txt = slurp(sum);
	ASSERT_STR_CONTAINS(txt, "\"starved_n\":1,");
	p = strstr(txt, "\"starved_s\":");
	ASSERT_NOT_NULL(p);
	t = strtod(p + 12, NULL);
	ASSERT_MSG(t > 0.25 && t < 1.5, "starved_s %f", t);
	p = strstr(txt, "\"starved_max_s\":");
	ASSERT_NOT_NULL(p);
	ASSERT_NEAR(strtod(p + 16, NULL), t, 1e-6);
	unlink(sum);
}

TEST(link_symlink_and_reopen)
{
	struct sim s;
	char link[128];
	struct stat st;
	const char *args[] = {"--speed", "max", "--link", link, NULL};

	snprintf(link, sizeof(link), "/tmp/test_sim_link.%d", getpid());
	unlocked(&s, args);
	ASSERT_EQ(lstat(link, &st), 0);
	ASSERT(S_ISLNK(st.st_mode));
	/* the host closes and opens again: state kept, greeted */
	close(s.fd);
	usleep(100000);
	s.fd = open(link, O_RDWR | O_NOCTTY);
	ASSERT(s.fd >= 0);
	{
		struct termios tio;
		tcgetattr(s.fd, &tio);
		cfmakeraw(&tio);
		tcsetattr(s.fd, TCSANOW, &tio);
	}
	EXPECT(&s, BANNER);
	sim_send(&s, "G0 X-1\n");
	EXPECT(&s, "ok\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
	ASSERT_NE(lstat(link, &st), 0);
}

TEST(tcp_transport)
{
	struct sim s;
	const char *args[] = {"--speed", "max", "--tcp", "0", NULL};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int port;

	sim_start(&s, args);
	ASSERT_EQ(sscanf(s.path, "tcp://127.0.0.1:%d", &port), 1);
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(connect(s.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	EXPECT(&s, BANNER UNLOCK);
	sim_send(&s, "$X\n");
	EXPECT(&s, "[MSG:Caution: Unlocked]\r\nok\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(jog_and_cancel)
{
	struct sim s;

	unlocked(&s, RT);
	sim_send(&s, "$J=G91 X-1 F600\n");
	EXPECT(&s, "ok\r\n");
	sim_send(&s, "$J=G91 X2 F600\n");
	EXPECT(&s, "error:15\r\n"); /* beyond soft limits */
	sim_send(&s, "$J=X-1\n");
	EXPECT(&s, "error:22\r\n");
	sim_send(&s, "$J=G91 X-30 F600\n");
	EXPECT(&s, "ok\r\n");
	usleep(200000);
	sim_byte(&s, '?');
	sim_read(&s, 10, 300);
	ASSERT_STR_CONTAINS(s.buf, "<Jog|");
	s.len = 0;
	sim_byte(&s, 0x85);
	usleep(100000);
	sim_byte(&s, '?');
	sim_read(&s, 10, 300);
	ASSERT_STR_CONTAINS(s.buf, "<Idle|");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(feed_override_changes_speed)
{
	struct sim s;

	unlocked(&s, RT);
	sim_send(&s, "G1 X-20 F600\n");
	EXPECT(&s, "ok\r\n");
	sim_byte(&s, '?');
	sim_byte(&s, '?'); /* merged or answered: skip WCO/Ov reports */
	usleep(200000);
	sim_read(&s, sizeof(s.buf) - 1, 100);
	s.len = 0;
	sim_byte(&s, 0x91);
	sim_byte(&s, 0x91);
	usleep(200000);
	sim_byte(&s, '?');
	sim_read(&s, 20, 300);
	ASSERT_STR_CONTAINS(s.buf, "|FS:720,0|");
	ASSERT_STR_CONTAINS(s.buf, "|Ov:120,100,100>");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(safety_door_turns_needle_off)
{
	struct sim s;

	unlocked(&s, RT);
	sim_send(&s, "M3 S500\n");
	EXPECT(&s, "ok\r\n");
	sim_byte(&s, 0x84);
	usleep(50000);
	sim_byte(&s, '?');
	sim_read(&s, 10, 300);
	ASSERT_STR_CONTAINS(s.buf, "<Door:0|");
	s.len = 0;
	sim_byte(&s, '~');
	usleep(50000);
	sim_byte(&s, '?');
	sim_read(&s, 10, 300);
	ASSERT_STR_CONTAINS(s.buf, "<Idle|");
	ASSERT_EQ(sim_stop(&s), 0);
}

/* ---- faults ---- */

TEST(fault_close_after_lines)
{
	struct sim s;
	const char *args[] = {"--speed", "max", "--fault", "close@lines=2",
	    NULL};
	char line[256];

	unlocked(&s, args);
	sim_send(&s, "G0 X-1\n");
	/* the second line closes the link: the pty hangs up, a new one */
	sim_read(&s, 100, 300);
	ASSERT_NOT_NULL(fgets(line, sizeof(line), s.out));
	ASSERT_STR_CONTAINS(line, "smpsim: listening on /dev/pts/");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(fault_close_at_time_tcp)
{
	struct sim s;
	const char *args[] = {"--speed", "1", "--tcp", "0", "--fault",
	    "close@t=0.3", NULL};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int port;
	char c;

	sim_start(&s, args);
	ASSERT_EQ(sscanf(s.path, "tcp://127.0.0.1:%d", &port), 1);
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(connect(s.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	EXPECT(&s, BANNER UNLOCK);
	/* the server hangs up at t = 0.3 s */
	struct pollfd pfd = {.fd = s.fd, .events = POLLIN};
	ASSERT_EQ(poll(&pfd, 1, 2000), 1);
	ASSERT_EQ(read(s.fd, &c, 1), 0);
	close(s.fd);
	/* and takes the next host, state kept (still locked) */
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(connect(s.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	EXPECT(&s, BANNER UNLOCK);
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(on_open_reset_loses_position)
{
	struct sim s;
	char link[128];
	const char *args[] = {"--speed", "max", "--on-open", "reset",
	    "--link", link, NULL};
	struct termios tio;

	snprintf(link, sizeof(link), "/tmp/test_sim_link2.%d", getpid());
	unlocked(&s, args);
	sim_send(&s, "G0 X-5\nG4 P0\n");
	EXPECT(&s, "ok\r\nok\r\n");
	close(s.fd);
	usleep(100000);
	s.fd = open(link, O_RDWR | O_NOCTTY);
	ASSERT(s.fd >= 0);
	tcgetattr(s.fd, &tio);
	cfmakeraw(&tio);
	tcsetattr(s.fd, TCSANOW, &tio);
	EXPECT(&s, BANNER UNLOCK);
	sim_byte(&s, '?');
	EXPECT(&s, "<Alarm|MPos:0.000,0.000,0.000|");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(fault_power_glitch)
{
	struct sim s;
	const char *args[] = {"--speed", "1", "--fault", "reset@t=0.3", NULL};

	unlocked(&s, args);
	sim_send(&s, "G1 X-10 F600\n");
	EXPECT(&s, "ok\r\n");
	EXPECT_T(&s, BANNER UNLOCK, 1000);
	sim_byte(&s, '?');
	/* position is lost: the controller believes it is at 0 */
	EXPECT(&s, "<Alarm|MPos:0.000,0.000,0.000|Bf:15,128|FS:0,0|"
	    "WCO:0.000,0.000,0.000>\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(fault_hard_limit_alarm)
{
	struct sim s;
	const char *args[] = {"--speed", "1", "--fault", "alarm@t=0.3,code=1",
	    NULL};

	unlocked(&s, args);
	EXPECT_T(&s, "ALARM:1\r\n[MSG:Reset to continue]\r\n", 1000);
	sim_byte(&s, '?');
	expect_silence(&s, 200);
	sim_byte(&s, 0x18);
	EXPECT(&s, BANNER UNLOCK);
	ASSERT_EQ(sim_stop(&s), 0);
}

/* A fault may be due after a line count instead of a time: here the third
 * line received ($X was the first) is answered, then the alarm comes. */
TEST(fault_alarm_after_lines)
{
	struct sim s;
	const char *args[] = {"--speed", "max", "--fault",
	    "alarm@lines=3,code=1", NULL};
	char err[256];
	struct fault_set fs;

	unlocked(&s, args);
	sim_send(&s, "G21\n");
	EXPECT(&s, "ok\r\n");
	sim_send(&s, "G90\n");
	EXPECT(&s, "ok\r\nALARM:1\r\n[MSG:Reset to continue]\r\n");
	ASSERT_EQ(sim_stop(&s), 0);
	fault_init(&fs, 1);
	ASSERT_EQ(fault_parse(&fs, "reset@lines=0", err, sizeof(err)), -1);
	ASSERT_EQ(fault_parse(&fs, "stall@lines=7,for=1", err, sizeof(err)),
	    0);
	ASSERT_EQ(fs.ev[0].lines, 7);
}

TEST(fault_stall)
{
	struct sim s;
	const char *args[] = {"--speed", "1", "--fault", "stall@t=0.2,for=0.6",
	    NULL};

	unlocked(&s, args);
	usleep(300000);
	sim_send(&s, "$I\n");
	expect_silence(&s, 300);
	EXPECT_T(&s, "[VER:1.1h.20190830:]\r\n", 1000);
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(fault_drop_and_corrupt)
{
	struct sim s;
	char sum[128], *txt;
	const char *a1[] = {"--speed", "max", "--fault", "drop-tx=1", NULL};
	const char *a2[] = {"--speed", "max", "--fault", "drop-rx=1;slow=0",
	    "--summary", sum, NULL};
	const char *a3[] = {"--speed", "max", "--fault", "corrupt-rx=1",
	    "--seed", "7", "--summary", sum, NULL};

	snprintf(sum, sizeof(sum), "/tmp/test_sim_sumf.%d", getpid());
	sim_start(&s, a1);
	expect_silence(&s, 300);
	ASSERT_EQ(sim_stop(&s), 0);

	sim_start(&s, a2);
	EXPECT(&s, BANNER UNLOCK);
	sim_send(&s, "$X\n");
	expect_silence(&s, 300);
	ASSERT_EQ(sim_stop(&s), 0);
	txt = slurp(sum);
	ASSERT_STR_CONTAINS(txt, "\"rx_fault_dropped\":3,");

	sim_start(&s, a3);
	EXPECT(&s, BANNER UNLOCK);
	sim_send(&s, "$X\n");
	sim_read(&s, 1000, 300);
	ASSERT(strstr(s.buf, "Unlocked") == NULL);
	ASSERT_EQ(sim_stop(&s), 0);
	txt = slurp(sum);
	ASSERT_STR_CONTAINS(txt, "\"rx_fault_corrupted\":3,");
	unlink(sum);
}

TEST(fault_slow_answers)
{
	struct sim s;
	const char *args[] = {"--speed", "1", "--fault", "slow=300", NULL};
	double t0;

	sim_start(&s, args);
	EXPECT(&s, BANNER UNLOCK);
	t0 = now_s();
	sim_send(&s, "$X\n");
	EXPECT(&s, "[MSG:Caution: Unlocked]\r\nok\r\n");
	ASSERT_GE((now_s() - t0) * 1000, 280);
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(fault_noreply_status_in_alarm)
{
	struct sim s;
	const char *args[] = {"--speed", "max", "--fault",
	    "noreply-status-in-alarm", NULL};

	sim_start(&s, args);
	EXPECT(&s, BANNER UNLOCK);
	sim_byte(&s, '?');
	expect_silence(&s, 300);
	sim_send(&s, "$X\n?");
	EXPECT(&s, "[MSG:Caution: Unlocked]\r\nok\r\n<Idle|");
	ASSERT_EQ(sim_stop(&s), 0);
}

TEST(bad_options_are_rejected)
{
	const char *bin = getenv("SMP_BIN_DIR");
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "%s/smpsim --fault bogus@t=1 2>/dev/null",
	    bin);
	ASSERT_EQ(WEXITSTATUS(system(cmd)), 2);
	snprintf(cmd, sizeof(cmd), "%s/smpsim --speed fast 2>/dev/null", bin);
	ASSERT_EQ(WEXITSTATUS(system(cmd)), 2);
	snprintf(cmd, sizeof(cmd), "%s/smpsim --heightmap /nonexistent "
	    "2>/dev/null", bin);
	ASSERT_EQ(WEXITSTATUS(system(cmd)), 1);
}

TEST_MAIN()
