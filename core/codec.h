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
/*
 * Feed input; output goes to emit; *used says how much input was taken.
 * Returns 0 when all input was taken and nothing is left to flush; 1
 * when it stopped early because another step could pass out_max bytes
 * of output (decompression can expand without bound): call again later
 * with the rest of the input, even if that is zero bytes; -1 with *err.
 * out_max must be at least codec_min_room().
 */
int		 codec_update(struct codec *, const void *, size_t,
		    size_t *used, size_t out_max, codec_emit_fn, void *,
		    const char **err);
/* End of input: flush (compress) or check completeness (decompress). */
int		 codec_finish(struct codec *, codec_emit_fn, void *,
		    const char **err);
/*
 * The same, compressing, in steps: stops once another step could pass
 * out_max bytes of output (at least codec_min_room()) and returns 1; call
 * again (and nothing else) until it returns 0.  -1 with *err.
 */
int		 codec_finish_max(struct codec *, size_t out_max,
		    codec_emit_fn, void *, const char **err);
/* Output room codec_update needs to be worth calling (its window). */
size_t		 codec_min_room(const struct codec *);
/* ".zst", ".gz" or "". */
const char	*codec_ext(const struct compression *);

#endif
