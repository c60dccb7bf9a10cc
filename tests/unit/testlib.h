/*
 * testlib.h - helpers shared by the Criterion unit tests.
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

#endif
