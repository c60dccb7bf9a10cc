/*
 * log.c - leveled logging.
 *
 * One line per message on stderr: "<prog>: <level>: <message>".  Messages
 * about a job or plugin instance start with its id, which the callers
 * (hostapi.c, run.c) prepend.  Messages are written with one write(2) so
 * that concurrent children's stderr lines do not interleave with ours.
 */
#include "zb-build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static const char	*log_prog = "zentoria";
static struct buf	*log_buf;
static int		 log_lvl = ZB_LOG_INFO;

static const char *const level_names[] = {
	"error", "warning", "info", "debug"
};

void
log_init(const char *progname, int level)
{
	log_prog = progname;
	log_lvl = level;
}

void
log_capture(struct buf *b)
{
	log_buf = b;
}

void
log_set_level(int level)
{
	log_lvl = level;
}

int
log_level(void)
{
	return log_lvl;
}

int
log_level_parse(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcmp(name, "warn") == 0)
		return ZB_LOG_WARN;
	return -1;
}

void
log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	char	 line[2048];
	int	 n, m;

	if (level > log_lvl)
		return;
	if (level < 0)
		level = 0;
	if (level > ZB_LOG_DEBUG)
		level = ZB_LOG_DEBUG;
	n = snprintf(line, sizeof(line), "%s: %s: %s%s", log_prog,
	    level_names[level], prefix ? prefix : "", prefix ? " " : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)write(STDERR_FILENO, line, n);
	if (log_buf != NULL)
		(void)buf_add(log_buf, line, n);
}

static void log_str(int, const char *, ...) ZB_PRINTF(2, 3);

static void
log_str(int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	char	 msg[1536];
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_str(ZB_LOG_ERROR, "%s: %s", msg, strerror(saved));
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(ZB_LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(ZB_LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(ZB_LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char	 msg[1536];
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_str(ZB_LOG_ERROR, "fatal: %s: %s", msg, strerror(saved));
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	char	 msg[1536];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_str(ZB_LOG_ERROR, "fatal: %s", msg);
	exit(1);
}
