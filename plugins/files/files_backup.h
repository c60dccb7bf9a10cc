/*
 * files_backup.h - the backup side of the files plugin: one pax tar of
 * the configured paths, produced into a host stream.
 */
#ifndef ZB_FILES_BACKUP_H
#define ZB_FILES_BACKUP_H

#include <zentoria/plugin.h>

/*
 * zb_plugin_desc.stream_open.  ctx is the instance's struct files,
 * borrowed for the call only.  On ZB_OK, *ops and *pctx are the producer:
 * it frees itself once the host has called its close() and the walk has
 * ended.
 */
int	files_backup_open(void *ctx, struct zb_io *s,
	    const struct zb_producer_ops **ops, void **pctx);

#endif
