/*
 * rdb_stream.h - push parser for a Redis master's reply to SYNC/PSYNC.
 */
#ifndef ZB_REDIS_RDB_STREAM_H
#define ZB_REDIS_RDB_STREAM_H

#include <stddef.h>
#include <stdint.h>

#define RDB_STREAM_LINE_MAX	512	/* longest header line accepted */
#define RDB_STREAM_MARK_LEN	40	/* $EOF:<mark> of diskless sync */

enum rdb_stream_status {
	RDB_STREAM_MORE = 0,	/* consumed everything; feed more */
	RDB_STREAM_DONE = 1,	/* whole RDB seen and verified */
	RDB_STREAM_ERR = -1	/* see rdb_stream_error() */
};

/* Receives RDB bytes to store (borrowed); return 0, or -1 to abort. */
typedef int	(*rdb_stream_emit_cb)(void *, const void *, size_t);

struct rdb_stream;

/* Returns a parser owned by the caller (rdb_stream_free), NULL on ENOMEM. */
struct rdb_stream	*rdb_stream_new(void);
void			 rdb_stream_free(struct rdb_stream *);

/*
 * Feed the next len bytes received from the master (borrowed).  RDB bytes
 * go to emit(arg, ...) in order; the framing and the $EOF mark never do.
 * An error is sticky; whatever was emitted before it must be discarded.
 * Bytes after the end of the RDB (a pre-6.2 master continues with its
 * command stream) are ignored and counted by rdb_stream_extra().
 */
int	rdb_stream_feed(struct rdb_stream *, const void *, size_t,
	    rdb_stream_emit_cb, void *);

/* At end of input: 0 if the RDB was complete and verified, else -1. */
int	rdb_stream_finish(struct rdb_stream *);

/* The last error, a static string owned by the parser; "" if none. */
const char	*rdb_stream_error(const struct rdb_stream *);

uint64_t	rdb_stream_bytes(const struct rdb_stream *);	/* RDB bytes */
uint64_t	rdb_stream_extra(const struct rdb_stream *);	/* ignored */
int		rdb_stream_version(const struct rdb_stream *);	/* 0: unknown */
int		rdb_stream_diskless(const struct rdb_stream *);
/* 1 if the trailer was 0: the server runs with rdbchecksum no. */
int		rdb_stream_unchecked(const struct rdb_stream *);

#endif
