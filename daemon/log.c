/*
 * Logging for smpd (see log.h). Lines go to stderr with a timestamp in the
 * foreground and to syslog otherwise; fatal() runs the registered safe-stop
 * hook before exiting so that no exit path leaves the needle running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "daemon/log.h"

static int log_foreground = 1;
static int log_verbose;
static log_stop_hook stop_hook;
static void *stop_arg;
static int in_fatal;
static log_sink sink;
static void *sink_arg;
static int in_sink;

void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog("smpd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_set_stop_hook(log_stop_hook hook, void *arg)
{
	stop_hook = hook;
	stop_arg = arg;
}

void
log_set_sink(log_sink s, void *arg)
{
	sink = s;
	sink_arg = arg;
}

static void vlog(enum log_level level, int pri, const char *fmt, va_list ap,
    int with_errno, int saved_errno) __attribute__((format(printf, 3, 0)));

static void
vlog(enum log_level level, int pri, const char *fmt, va_list ap,
    int with_errno, int saved_errno)
{
	char msg[1024];
	int n;

	if (level == LOG_LEVEL_DEBUG && log_verbose < 1)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (with_errno && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
		    strerror(saved_errno));
	if (log_foreground) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld smpd: %s\n", stamp,
		    ts.tv_nsec / 1000000, msg);
		fflush(stderr);
	} else
		syslog(pri, "%s", msg);
	/* A sink that fails and logs would recurse forever. */
	if (sink != NULL && !in_sink) {
		in_sink = 1;
		sink(sink_arg, level, msg);
		in_sink = 0;
	}
}

#define LOG_FN(name, level, pri, err)                                         \
	void name(const char *fmt, ...)                                       \
	{                                                                     \
		int saved = errno;                                            \
		va_list ap;                                                   \
		va_start(ap, fmt);                                            \
		vlog(level, pri, fmt, ap, err, saved);                        \
		va_end(ap);                                                   \
		errno = saved;                                                \
	}

LOG_FN(log_warn, LOG_LEVEL_WARN, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, LOG_WARNING, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, LOG_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, LOG_DEBUG, 0)

static void
run_stop_hook(void)
{
	/* A fatal inside the hook must not run it again. */
	if (in_fatal++ == 0 && stop_hook != NULL)
		stop_hook(stop_arg);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, LOG_CRIT, fmt, ap, 1, saved);
	va_end(ap);
	run_stop_hook();
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, LOG_CRIT, fmt, ap, 0, 0);
	va_end(ap);
	run_stop_hook();
	exit(1);
}
