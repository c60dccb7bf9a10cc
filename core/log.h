/*
 * log.h - leveled logging to stderr (the journal under systemd).
 */
#ifndef ZB_LOG_H
#define ZB_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "zentoria/plugin.h"	/* ZB_LOG_* levels */

#if defined(__GNUC__)
#define ZB_DEAD		__attribute__((noreturn))
#else
#define ZB_DEAD
#endif

struct buf;

void	log_init(const char *progname, int level);
/* Tests: also append every message line to b (NULL: stop). */
void	log_capture(struct buf *b);
void	log_set_level(int level);
/*
 * On: each line is "<N>message" with N its sd-daemon(3) priority, for
 * the journal (which adds the time and the program name); off (the
 * default): "prog: level: message".
 */
void	log_set_journal(int on);
/* Whether stderr is the journal stream $JOURNAL_STREAM names (dev:ino). */
int	log_stderr_is_journal(void);
int	log_level(void);
int	log_level_parse(const char *name);	/* -1 when unknown */
/*
 * Copy n bytes of src to dst (dstlen bytes, NUL-terminated) with every
 * control byte (below 0x20, and 0x7f) written as \xNN; stops before a
 * byte that does not fit.  Returns the length written.  Every message is
 * passed through it.
 */
size_t	log_escape(char *dst, size_t dstlen, const char *src, size_t n);
/* log_escape() of all of s, for text printed outside the log; caller
 * frees. */
char	*log_printable(const char *s);
void	log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
	    ZB_PRINTF(3, 0);
void	log_warn(const char *fmt, ...) ZB_PRINTF(1, 2);	/* + strerror */
void	log_warnx(const char *fmt, ...) ZB_PRINTF(1, 2);
void	log_info(const char *fmt, ...) ZB_PRINTF(1, 2);
void	log_debug(const char *fmt, ...) ZB_PRINTF(1, 2);
void	fatal(const char *fmt, ...) ZB_PRINTF(1, 2) ZB_DEAD;
void	fatalx(const char *fmt, ...) ZB_PRINTF(1, 2) ZB_DEAD;

#endif
