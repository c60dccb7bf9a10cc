/*
 * s3_buf.h - what the s3 plugin has instead of the daemon's util.h and
 * buf.h: its allocators (s3_alloc.c) and buffers, which are the host's
 * struct zb_buf and host->buf_* (ABI 1.5) with three conveniences on
 * top.  s3_host is set by init (or by a test that links these files).
 */
#ifndef ZB_S3_BUF_H
#define ZB_S3_BUF_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

extern const struct zb_host_api *s3_host;

#ifndef ZB_NELEM
#define ZB_NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* s3_alloc.c: out of memory aborts, as in the daemon. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xasprintf(const char *, ...) ZB_PRINTF(1, 2);
int	 is_hex_sha256(const char *);

static inline void
s3_buf_init(struct zb_buf *b, size_t max)
{
	s3_host->buf_init(b, max);
}

static inline void
s3_buf_free(struct zb_buf *b)
{
	s3_host->buf_free(b);
}

/* 0, or -1 (errno EMSGSIZE) past the cap; a failure is sticky. */
static inline int
s3_buf_add(struct zb_buf *b, const void *p, size_t n)
{
	return s3_host->buf_add(b, p, n);
}

static inline int
s3_buf_puts(struct zb_buf *b, const char *s)
{
	return s3_host->buf_add(b, s, strlen(s));
}

#define s3_buf_printf(b, ...)	s3_host->buf_printf((b), __VA_ARGS__)

/* Empty it, keeping its memory and cap. */
static inline void
s3_buf_reset(struct zb_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Hand over the data (caller frees); the buffer is empty afterwards. */
static inline char *
s3_buf_take(struct zb_buf *b)
{
	char	*p = b->data != NULL ? b->data : xstrdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

#endif
