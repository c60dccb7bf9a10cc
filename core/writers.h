/*
 * writers.h - writers the core provides itself: discard (verify),
 * memory (small objects such as manifests), file (restore to a path).
 */
#ifndef ZB_WRITERS_H
#define ZB_WRITERS_H

#include "buf.h"
#include "zentoria/plugin.h"

struct zb_io;

extern const struct zb_writer_ops null_writer_ops;
extern const struct zb_writer_ops mem_writer_ops;

/* The memory writer's context is a struct buf the caller owns. */

/*
 * A file written to a temporary name beside path, then fsync'd and
 * renamed over it at commit (refused at open when path exists, unless
 * force).  Created 0600.  ZB_OK with ops and wctx set, or ZB_ERR logged.
 */
int	file_writer_open(struct zb_io *w, const char *prefix, const char *path,
	    int force, const struct zb_writer_ops **ops, void **wctx);

#endif
