/*
 * files.h - the `files' source plugin: the instance context that init()
 * builds from the configuration, shared by files.c (which owns it),
 * files_backup.c and files_restore.c.
 */
#ifndef ZB_FILES_H
#define ZB_FILES_H

#include <stddef.h>

#include <zentoria/plugin.h>

#define FILES_IOBUF		(64 * 1024)	/* bytes per read or send */

/*
 * Read-only once init() returned.  A stream or a restore keeps nothing of
 * it past its open call (backup copies the paths and excludes): a reload
 * may free the instance while a walk or an extraction still runs.
 */
/* One configured [source:NAME] with plugin = files. */
struct files {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	char			**paths;	/* absolute, normalized */
	size_t			 npaths;
	char			**excludes;
	size_t			 nexcludes;
	char			*stream;
	int			 one_fs;
	int			 restore_devices;	/* mknod device nodes */
	int			 restore_setid;		/* keep set-id bits */
};

#endif
