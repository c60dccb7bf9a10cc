/*
 * files_restore.h - the restore side of the files plugin: a tar stream
 * extracted into a directory that appears whole or not at all.
 */
#ifndef ZB_FILES_RESTORE_H
#define ZB_FILES_RESTORE_H

#include <zentoria/plugin.h>

/*
 * zb_plugin_desc.restore_open.  ctx is the instance's struct files and
 * req the host's request, both borrowed for the call only.  On ZB_OK,
 * *ops and *wctx are the writer: it frees itself once it is done (after
 * commit() finished or abort() was called) and the extraction has ended.
 */
int	files_restore_open(void *ctx, struct zb_io *w,
	    const struct zb_restore_req *req,
	    const struct zb_writer_ops **ops, void **wctx);

#endif
