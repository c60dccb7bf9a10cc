/*
 * codec.h - streaming compression and decompression (zstd, gzip).
 */
#ifndef ZB_CODEC_H
#define ZB_CODEC_H

#include <stddef.h>

#include "config.h"	/* struct compression */

struct codec;

/* Output sink for codec bytes: 0, or -1 to stop with an error. */
typedef int (*codec_emit_fn)(void *arg, const void *buf, size_t len);

/* NULL with *err set on failure. */
struct codec	*codec_new(const struct compression *, int decompress,
		    const char **err);
void		 codec_free(struct codec *);
/* Feed input; output goes to emit.  0, or -1 with *err. */
int		 codec_update(struct codec *, const void *, size_t,
		    codec_emit_fn, void *, const char **err);
/* End of input: flush (compress) or check completeness (decompress). */
int		 codec_finish(struct codec *, codec_emit_fn, void *,
		    const char **err);
/* ".zst", ".gz" or "". */
const char	*codec_ext(const struct compression *);

#endif
