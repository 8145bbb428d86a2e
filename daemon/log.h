/*
 * Logging for smpd in the OpenSMTPD/ntpd shape: to stderr in the foreground
 * (-d) and to syslog (journald under systemd) otherwise, with a verbosity
 * level for debug lines. fatal()/fatalx() end the process, but first run the
 * safe-stop hook the daemon registered (feed hold, needle off, retract),
 * because a daemon that dies with the needle running is the one failure this
 * program exists to prevent. A sink may mirror every line elsewhere (the
 * status socket's "log" topic).
 */
#ifndef SMP_DAEMON_LOG_H
#define SMP_DAEMON_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_WARN = 0, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* foreground: 1 logs to stderr, 0 to syslog. verbose: 0 info, >= 1 debug. */
void log_init(int foreground, int verbose);
void log_setverbose(int verbose);
int log_getverbose(void);

/* log_warn appends ": strerror(errno)"; the others do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run the safe-stop hook (once), log, exit(1). fatal appends strerror. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* The hook fatal runs before exiting; NULL removes it. It must not call
 * fatal (a second fatal inside the hook exits at once). */
typedef void (*log_stop_hook)(void *arg);
void log_set_stop_hook(log_stop_hook hook, void *arg);

/* A sink that sees every line that passes the verbosity filter (after the
 * primary output). It must not log itself; reentrant calls are dropped. */
typedef void (*log_sink)(void *arg, enum log_level level, const char *msg);
void log_set_sink(log_sink sink, void *arg);

#endif /* SMP_DAEMON_LOG_H */
