/*
 * sinkio.h - operations on one sink: put/get small objects, list, remove,
 * and streamed reads, all through the stream core.
 */
#ifndef ZB_SINKIO_H
#define ZB_SINKIO_H

#include <stddef.h>
#include <stdint.h>

#include "zentoria/plugin.h"

struct stream;
struct stream_params;
struct stream_owner;

typedef void (*sinkio_done_fn)(void *arg, int status, const char *err);
typedef void (*sinkio_data_fn)(void *arg, int status, const char *err,
	    const char *data, size_t len);
typedef void (*sinkio_entry_fn)(void *arg, const struct zb_list_entry *);
typedef void (*sinkio_pending_fn)(void *arg,
	    const struct zb_pending_entry *);

/*
 * Every key below is relative to the sink's core `prefix =' (the
 * instance's key_prefix): sinkio adds it on the way to the plugin and
 * strips it from what the plugin lists.  sinkio_key is the key as the
 * plugin sees it (caller frees).
 */
char	*sinkio_key(const struct zb_inst *sink, const char *key);
/* The plugin's put_open of key (prefixed), for a stream's writer. */
int	sinkio_put_open(struct zb_inst *sink, struct zb_io *w,
	    const char *key, const struct zb_writer_ops **,
	    void **wctx);
/*
 * Put a small object from memory.  SINKIO_IN_PLACE: the host never takes
 * it alone for a committed copy (a marker, a sidecar), so the sink may
 * write it under its final name (host->put_in_place).
 */
#define SINKIO_IN_PLACE	0x1
void	sinkio_put_buf(struct zb_inst *sink, const char *key, const void *,
	    size_t, int flags, sinkio_done_fn, void *arg);
void	sinkio_get_buf(struct zb_inst *sink, const char *key, size_t max,
	    sinkio_data_fn, void *arg);
void	sinkio_list(struct zb_inst *sink, const char *prefix,
	    sinkio_entry_fn, sinkio_done_fn, void *arg);
void	sinkio_remove(struct zb_inst *sink, const char *key,
	    sinkio_done_fn, void *arg);
/*
 * The plugin's cleanup of interrupted puts started more than
 * older_than_s seconds ago; done at once with ZB_OK for a plugin that
 * has none.
 */
void	sinkio_cleanup(struct zb_inst *sink, int64_t older_than_s,
	    sinkio_done_fn, void *arg);
/*
 * ABI 1.3: the puts that were not committed (running or interrupted),
 * and the removal of one.  sinkio_list_pending is done at once with
 * ZB_OK, listing nothing, for a sink without them.
 */
int	sinkio_has_pending(const struct zb_inst *sink);
void	sinkio_list_pending(struct zb_inst *sink, const char *prefix,
	    sinkio_pending_fn, sinkio_done_fn, void *arg);
void	sinkio_remove_pending(struct zb_inst *sink, const char *key,
	    const char *handle, sinkio_done_fn, void *arg);
/*
 * Start sink's get of key as the producer of st (a stream made by the
 * caller, writers already attached).  0, or -1 when the get could not be
 * opened (the stream has then failed).
 */
int	sinkio_get_into(struct zb_inst *sink, const char *key,
	    struct stream *st);
/*
 * A new descriptor of committed object key when sink keeps it as a local
 * file (ABI 1.7 get_file), or -1: the sink has no get_file, or it failed
 * (logged at debug: the caller then streams the bytes as always).
 */
int	sinkio_get_file(struct zb_inst *sink, const char *key);

#endif
