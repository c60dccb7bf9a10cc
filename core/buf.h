/*
 * buf.h - a growable byte buffer with a hard cap fixed at creation.
 */
#ifndef ZB_BUF_H
#define ZB_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "zentoria/plugin.h"

struct buf {
	char	*data;		/* always NUL-terminated when non-NULL */
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* appends beyond this fail */
	int	 failed;	/* an append failed: sticky */
};

void	buf_init(struct buf *, size_t max);
void	buf_free(struct buf *);
void	buf_reset(struct buf *);
/*
 * 0, or -1 with errno EMSGSIZE when the cap would be passed; a failure
 * is sticky (b->failed), so a series of appends can be checked once.
 */
int	buf_add(struct buf *, const void *, size_t);
int	buf_puts(struct buf *, const char *);
int	buf_printf(struct buf *, const char *, ...) ZB_PRINTF(2, 3);
/* Append s as a JSON string literal, quotes included. */
int	buf_json_str(struct buf *, const char *);
/* Hand over the data (caller frees); the buffer is empty afterwards. */
char	*buf_take(struct buf *);

#endif
