/*
 * testlib.h - helpers shared by the Criterion unit tests, and their main():
 * a program in which a test was skipped and none failed exits 77, which
 * automake counts as SKIP (Criterion's own main would exit 0, a PASS).
 */
#ifndef ZB_TESTLIB_H
#define ZB_TESTLIB_H

#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "util.h"

static struct buf test_log;

/* Capture every log line; Criterion forks per test, so this is fresh. */
static inline void
test_log_start(void)
{
	log_init("test", ZB_LOG_DEBUG);
	buf_init(&test_log, 8 << 20);
	log_capture(&test_log);
}

static inline const char *
test_logged(void)
{
	return test_log.data != NULL ? test_log.data : "";
}

#define assert_logged(s)						\
	cr_assert(strstr(test_logged(), (s)) != NULL,			\
	    "expected in the log: \"%s\"\nlog was:\n%s", (s), test_logged())
#define assert_not_logged(s)						\
	cr_assert(strstr(test_logged(), (s)) == NULL,			\
	    "unexpected in the log: \"%s\"\nlog was:\n%s", (s), test_logged())

static inline const char *
test_plugin_dir(void)
{
	const char	*d = getenv("ZB_TEST_PLUGIN_DIR");

	cr_assert(d != NULL, "ZB_TEST_PLUGIN_DIR is not set (run via make "
	    "check)");
	return d;
}

static inline char *
test_tmpdir(void)
{
	char	 tmpl[] = "/tmp/zbtest.XXXXXX";
	char	*d = mkdtemp(tmpl);

	cr_assert(d != NULL);
	return xstrdup(d);
}

/* Config text with %s substitutions, loaded as "test.ini". */
static inline struct zb_config *
test_config(const char *fmt, ...)
{
	struct zb_config	*cfg;
	va_list			 ap;
	char			*text;

	va_start(ap, fmt);
	cr_assert(vasprintf(&text, fmt, ap) >= 0);
	va_end(ap);
	cfg = config_load_buf("test.ini", text, strlen(text), 0);
	free(text);
	return cfg;
}

/*
 * A skipped vector suite (test data from ../shared) also prints this
 * marker; scripts/test.sh fails when a test log holds it.
 */
#define TEST_VECTOR_SKIP_MARK	"VECTOR SUITE SKIPPED"

#define skip_vector_suite(name, ...) do {				\
	printf(TEST_VECTOR_SKIP_MARK ": %s\n", (name));			\
	fflush(stdout);							\
	cr_skip_test(__VA_ARGS__);					\
} while (0)

static size_t testlib_skipped;

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	testlib_skipped = stats->tests_skipped;
}

int
main(int argc, char *argv[])
{
	struct criterion_test_set	*tests = criterion_initialize();
	int				 rc;

	rc = criterion_handle_args(argc, argv, true);
	if (rc > 0) {
		rc = criterion_run_all_tests(tests) ? 0 : 1;
		if (rc == 0 && testlib_skipped > 0) {
			printf("%zu test(s) skipped: exit 77 (SKIP)\n",
			    testlib_skipped);
			rc = 77;
		}
	} else
		rc = -rc;
	criterion_finalize(tests);
	return rc;
}

#endif
