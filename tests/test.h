/*
 * A small test harness in libuv's shape: value-printing assertions, and each
 * test case run in its own child process (fork) with a time limit, so that a
 * crash or a hang in one case is reported and contained while the others run.
 *
 * A test file defines its cases with TEST(name) { ... } and ends with
 * TEST_MAIN(). The binary runs every case, or only those named on its
 * command line; `--list` prints the names. CTest runs each binary once.
 * Set TEST_NOFORK=1 to run cases in-process (for gdb). Every process a case
 * leaves behind in its process group is killed when the case ends.
 */
#ifndef SMP_TEST_H
#define SMP_TEST_H

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef void (*test_fn)(void);

struct test_case {
	const char *name;
	test_fn fn;
	unsigned timeout_s;
};

#define TEST_MAX_CASES 512
static struct test_case test_cases_[TEST_MAX_CASES];
static int test_ncases_;

static inline void
test_register_(const char *name, test_fn fn, unsigned timeout_s)
{
	if (test_ncases_ >= TEST_MAX_CASES) {
		fprintf(stderr, "test.h: too many test cases\n");
		abort();
	}
	test_cases_[test_ncases_].name = name;
	test_cases_[test_ncases_].fn = fn;
	test_cases_[test_ncases_].timeout_s = timeout_s;
	test_ncases_++;
}

/* TEST_T(name, seconds) gives a case its own time limit; TEST uses 60 s. */
#define TEST_T(name, secs)                                                    \
	static void test_##name(void);                                        \
	__attribute__((constructor)) static void test_reg_##name(void)        \
	{                                                                     \
		test_register_(#name, test_##name, (secs));                   \
	}                                                                     \
	static void test_##name(void)
#define TEST(name) TEST_T(name, 60)

#define TEST_FAIL_(...)                                                       \
	do {                                                                  \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);               \
		fprintf(stderr, __VA_ARGS__);                                 \
		fprintf(stderr, "\n");                                        \
		fflush(stderr);                                               \
		abort();                                                      \
	} while (0)

#define ASSERT(cond)                                                          \
	do {                                                                  \
		if (!(cond))                                                  \
			TEST_FAIL_("assertion failed: %s", #cond);           \
	} while (0)

#define ASSERT_MSG(cond, ...)                                                 \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: assertion failed: %s: ",     \
			    __FILE__, __LINE__, #cond);                       \
			fprintf(stderr, __VA_ARGS__);                         \
			fprintf(stderr, "\n");                                \
			fflush(stderr);                                       \
			abort();                                              \
		}                                                             \
	} while (0)

/* Floating operands compare as doubles, everything else as integers, so
 * that ASSERT_LT(0.4, 0.5) does not silently compare 0 with 0. */
#define TEST_IS_FLOAT_(x)                                                     \
	_Generic((x), float: 1, double: 1, long double: 1, default: 0)
#define ASSERT_INT_(a, op, b)                                                 \
	do {                                                                  \
		if (TEST_IS_FLOAT_(a) || TEST_IS_FLOAT_(b)) {                 \
			double fa_ = (double)(a), fb_ = (double)(b);          \
			if (!(fa_ op fb_))                                    \
				TEST_FAIL_("%s %s %s (%.9g vs %.9g)", #a,     \
				    #op, #b, fa_, fb_);                       \
		} else {                                                      \
			long long a_ = (long long)(a), b_ = (long long)(b);   \
			if (!(a_ op b_))                                      \
				TEST_FAIL_("%s %s %s (%lld vs %lld)", #a,     \
				    #op, #b, a_, b_);                         \
		}                                                             \
	} while (0)
#define ASSERT_EQ(a, b) ASSERT_INT_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_(a, >=, b)

#define ASSERT_NEAR(a, b, tol)                                                \
	do {                                                                  \
		double a_ = (double)(a), b_ = (double)(b);                    \
		if (!(fabs(a_ - b_) <= (tol)))                                \
			TEST_FAIL_("%s ~= %s (%.9g vs %.9g, tol %g)", #a,     \
			    #b, a_, b_, (double)(tol));                       \
	} while (0)

#define ASSERT_STR_EQ(a, b)                                                   \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)          \
			TEST_FAIL_("%s == %s (\"%s\" vs \"%s\")", #a, #b,     \
			    a_ ? a_ : "(null)", b_ ? b_ : "(null)");          \
	} while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                      \
	do {                                                                  \
		const char *h_ = (hay), *n_ = (needle);                       \
		if (h_ == NULL || strstr(h_, n_) == NULL)                     \
			TEST_FAIL_("\"%s\" does not contain \"%s\"",          \
			    h_ ? h_ : "(null)", n_);                          \
	} while (0)

#define ASSERT_NOT_NULL(p) ASSERT((p) != NULL)
#define ASSERT_NULL(p) ASSERT((p) == NULL)

static inline int
test_run_one_(const struct test_case *tc)
{
	pid_t pid;
	int status;

	if (getenv("TEST_NOFORK") != NULL) {
		tc->fn();
		return 0;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		/* Its own process group, so that whatever the case starts
		 * (simulators, daemons) is killed with it below, even when
		 * an assertion aborts it halfway. */
		setpgid(0, 0);
		alarm(tc->timeout_s);
		tc->fn();
		fflush(stdout);
		fflush(stderr);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			return -1;
		}
	}
	kill(-pid, SIGKILL);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		fprintf(stderr, "  timed out after %u s\n", tc->timeout_s);
	else if (WIFSIGNALED(status))
		fprintf(stderr, "  killed by signal %d\n", WTERMSIG(status));
	else
		fprintf(stderr, "  exit status %d\n", WEXITSTATUS(status));
	return -1;
}

static inline int
test_main_(int argc, char **argv)
{
	int i, j, failed = 0, ran = 0;
	struct timespec t0, t1;

	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (i = 0; i < test_ncases_; i++)
			printf("%s\n", test_cases_[i].name);
		return 0;
	}
	for (i = 0; i < test_ncases_; i++) {
		int wanted = argc <= 1;
		for (j = 1; j < argc; j++)
			if (strcmp(argv[j], test_cases_[i].name) == 0)
				wanted = 1;
		if (!wanted)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rc = test_run_one_(&test_cases_[i]);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		printf("%s %s (%.0f ms)\n", rc == 0 ? "ok  " : "FAIL",
		    test_cases_[i].name, ms);
		fflush(stdout);
		ran++;
		if (rc != 0)
			failed++;
	}
	printf("%d passed, %d failed\n", ran - failed, failed);
	if (ran == 0) {
		fprintf(stderr, "no test case matched\n");
		return 1;
	}
	return failed ? 1 : 0;
}

#define TEST_MAIN()                                                           \
	int main(int argc, char **argv)                                       \
	{                                                                     \
		return test_main_(argc, argv);                                \
	}

#endif /* SMP_TEST_H */
