/*
 * util.h - allocation, number and string helpers shared by the core.
 */
#ifndef ZB_UTIL_H
#define ZB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "zentoria/plugin.h"

#define ZB_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Allocation that cannot fail: out of memory is fatal in the daemon. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) ZB_PRINTF(1, 2);

/*
 * Parsers: 0 on success, -1 with *errstr set to a phrase naming what was
 * expected ("a whole number from 1 to 64", ...).
 */
int	 parse_int(const char *, int64_t min, int64_t max, int64_t *,
	    const char **errstr);
int	 parse_size(const char *, int64_t *, const char **errstr);
int	 parse_duration_ms(const char *, int64_t *, const char **errstr);
int	 parse_bool(const char *, int *, const char **errstr);

/*
 * Split a comma separated list; items are trimmed, empty ones are an
 * error.  The caller frees with strv_free().
 */
int	 split_list(const char *, char ***items, size_t *n);
void	 strv_free(char **, size_t);

int	 mkdir_p(const char *path, mode_t mode);
int	 rm_rf(const char *path);
int	 fsync_dir_of(const char *path);
int	 write_all(int fd, const void *, size_t);

/*
 * Run stamps: "2026-11-27T094433Z", or with a collision suffix
 * "2026-11-27T094433Z-01" .. "-99" for further runs of one source in the
 * same second (state.c hands them out).  Byte order is time order.
 * stamp_format writes seq 0 without suffix; buf holds ZB_STAMP_LEN.
 */
#define ZB_STAMP_LEN	sizeof("2026-11-27T094433Z-01")
#define ZB_STAMP_SEQ_MAX	99
void	 stamp_format(time_t, char *buf, size_t);
void	 stamp_format_seq(time_t, int seq, char *buf, size_t);
/* 0 with *t (and *seq if not NULL), or -1. */
int	 stamp_parse(const char *, time_t *);
int	 stamp_parse_seq(const char *, time_t *, int *seq);
/* "2026-11-27T09:44:33Z" */
#define ZB_ISOTIME_LEN	sizeof("2026-11-27T09:44:33Z")
void	 isotime_format(time_t, char *buf, size_t);

/* "12.3 MiB" */
void	 human_bytes(uint64_t, char *buf, size_t);
/* Monotonic milliseconds. */
uint64_t now_ms(void);

int	 valid_name(const char *);	/* [A-Za-z0-9_.-]+, no leading dot */
int	 is_hex_sha256(const char *);
int	 hex_value(int c);		/* 0-15 for a hex digit, else -1 */

#endif
