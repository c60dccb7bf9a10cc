/*
 * log.c - leveled logging.
 *
 * One line per message on stderr: "<prog>: <level>: <message>", or, in
 * journal mode (log_set_journal: the daemon under systemd), "<N><message>"
 * with N the sd-daemon(3) priority (3 error, 4 warning, 6 info, 7 debug),
 * which journald reads as the entry's priority; the journal adds the
 * time and the program name itself.  Messages
 * about a job or plugin instance start with its id, which the callers
 * (hostapi.c, run.c) prepend.  Messages are written with one write(2) so
 * that concurrent children's stderr lines do not interleave with ours.
 *
 * Messages carry text from outside: config values and section names,
 * object keys from sinks, plugins' and children's words.  No log line
 * legitimately holds a control byte, so every byte below 0x20 and 0x7f
 * (ESC, CR, LF, ...) of the finished message is shown as \xNN: nothing
 * logged can move the cursor, recolour a terminal or forge a log line.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "util.h"

static const char	*log_prog = "zentoria";
static struct buf	*log_buf;
static int		 log_lvl = ZB_LOG_INFO;
static int		 log_journal;

static const char *const level_names[] = {
	"error", "warning", "info", "debug"
};
/* sd-daemon(3) priorities (SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG). */
static const char *const level_prefixes[] = {
	"<3>", "<4>", "<6>", "<7>"
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

void
log_set_journal(int on)
{
	log_journal = on;
}

int
log_stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	struct stat		 sb;
	uintmax_t		 dev, ino;
	char			*end;

	if (js == NULL || fstat(STDERR_FILENO, &sb) == -1)
		return 0;
	errno = 0;
	dev = strtoumax(js, &end, 10);
	if (errno != 0 || end == js || *end != ':')
		return 0;
	js = end + 1;
	ino = strtoumax(js, &end, 10);
	if (errno != 0 || end == js || *end != '\0')
		return 0;
	return dev == (uintmax_t)sb.st_dev && ino == (uintmax_t)sb.st_ino;
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

size_t
log_escape(char *dst, size_t dstlen, const char *src, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 c;
	size_t			 i, o = 0;

	if (dstlen == 0)
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)src[i];
		if (c >= 0x20 && c != 0x7f) {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
			continue;
		}
		if (o + 4 >= dstlen)
			break;
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 0xf];
	}
	dst[o] = '\0';
	return o;
}

char *
log_printable(const char *s)
{
	size_t	 n = strlen(s), len = n * 4 + 1;
	char	*out = xmalloc(len);

	log_escape(out, len, s, n);
	return out;
}

void
log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	char	 raw[2048], line[2048];
	int	 n, m;

	if (level > log_lvl)
		return;
	if (level < 0)
		level = 0;
	if (level > ZB_LOG_DEBUG)
		level = ZB_LOG_DEBUG;
	n = snprintf(raw, sizeof(raw), "%s%s", prefix ? prefix : "",
	    prefix ? " " : "");
	if (n < 0 || (size_t)n >= sizeof(raw))
		n = 0;
	m = vsnprintf(raw + n, sizeof(raw) - n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n >= sizeof(raw))
		n = sizeof(raw) - 1;
	if (log_journal)
		m = snprintf(line, sizeof(line), "%s", level_prefixes[level]);
	else
		m = snprintf(line, sizeof(line), "%s: %s: ", log_prog,
		    level_names[level]);
	if (m < 0 || (size_t)m >= sizeof(line))
		m = 0;
	m += (int)log_escape(line + m, sizeof(line) - 1 - m, raw, (size_t)n);
	line[m++] = '\n';
	(void)write(STDERR_FILENO, line, m);
	if (log_buf != NULL)
		(void)buf_add(log_buf, line, m);
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
