/*
 * stream.h - the stream core: producer -> transforms -> chunk queue ->
 * N writers, with backpressure and per-writer failure isolation.
 */
#ifndef ZB_STREAM_H
#define ZB_STREAM_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "config.h"
#include "artifact.h"
#include "buf.h"
#include "io.h"

#define STREAM_MAX_WRITERS	CFG_MAX_SINKS


enum stream_dir {
	STREAM_STORE,	/* backup: plaintext in, stored bytes out */
	STREAM_LOAD	/* restore/verify: stored bytes in, plaintext out */
};

enum writer_state {
	W_IDLE,		/* created, no ops attached yet */
	W_ACTIVE,	/* taking chunks */
	W_BLOCKED,	/* returned ZB_AGAIN; waiting for ready() */
	W_COMMITTING,	/* commit returned ZB_AGAIN; waiting for done() */
	W_COMMITTED,
	W_FAILED
};

struct stream;
struct stream_pipe;
struct chunk;
TAILQ_HEAD(chunkq, chunk);

struct writer {
	struct zb_io			 io;	/* first: plugins see &io */
	struct stream			*st;
	size_t				 idx;
	char				*name;	/* "sink:local" for messages */
	const struct zb_writer_ops	*ops;
	void				*wctx;
	struct chunk			*cursor;	/* next to offer */
	enum writer_state		 state;
	uint64_t			 bytes;
	uint64_t			 last_progress;	/* now_ms() */
	int64_t				 timeout_ms;	/* 0: none */
	int				 ready_early;	/* ready() inside write() */
	char				*error;
};

/* What the stream tells its owner (a backup run, a restore). */
struct stream_owner {
	/*
	 * The producer ended well and every live writer has all the
	 * bytes: call stream_commit() or stream_abort() (maybe later).
	 */
	void	(*drained)(struct stream *, void *arg);
	/* Producer closed, every writer committed or failed. */
	void	(*finished)(struct stream *, void *arg);
};

struct age_keys;

struct stream_params {
	enum stream_dir		 dir;
	struct compression	 comp;
	/*
	 * age encryption (optional, borrowed): recipients when storing,
	 * identities when loading.  Storing: compress -> encrypt -> hash;
	 * loading: hash -> decrypt -> decompress -> hash.
	 */
	const struct age_keys	*age;
	size_t			 chunk_size;
	size_t			 budget;	/* bytes of live chunks */
	const char		*name;		/* for messages */
	/*
	 * The plaintext's SHA-256 is not wanted: a codec or age changes
	 * the bytes and checks them itself (zstd's frame checksum, gzip's
	 * CRC-32, age's tags), so no stage hashes the plaintext side
	 * (pushed when storing, queued when loading) and its sha_in or
	 * sha_out stays "".  Without a codec and age the one digest is
	 * both, and this changes nothing.
	 */
	int			 skip_plain_sha256;
};

struct stream {
	struct zb_io		 io;	/* the producer's handle: first */
	struct stream_params	 p;
	char			*name;
	const struct stream_owner *owner;
	void			*owner_arg;

	/* producer */
	const struct zb_producer_ops *pops;
	void			*pctx;
	int			 pause_mask;	/* STREAM_PAUSE_* */
	int			 paused;	/* pause() was called */
	int			 producer_done;	/* done() was called */
	int			 producer_closed;

	/* the stages between push and the chunk queue (stream_int.h) */
	struct stream_pipe	*pipe;
	int			 want_finish;	/* producer ended well */
	int			 input_ended;	/* all input through, hashed */
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	char			 sha_in[65];	/* set when drained ("": not */
	char			 sha_out[65];	/* hashed, skip_plain_sha256) */
	int64_t			 put_size;	/* stored bytes known up front,
						   or -1 (stream_set_put_size) */
	int			(*put_file)(void *arg);	/* or NULL */
	void			*put_file_arg;
	int			 put_in_place;	/* stream_set_put_in_place */

	/* chunk queue */
	struct chunkq		 q;
	/*
	 * Freed chunks kept for reuse, at most a budget's worth: a chunk
	 * (256 KiB) is above glibc's mmap threshold, so without this every
	 * chunk costs an mmap, page faults and a munmap (a fifth of the
	 * time in bench/crypto_core).
	 */
	struct chunkq		 spares;
	size_t			 nspare;
	size_t			 live;		/* bytes in live chunks */
	size_t			 live_peak;
	size_t			 high, low;
	uint64_t		 pauses, resumes;
	uint64_t		 paused_ms;	/* ended pauses, summed */
	uint64_t		 paused_at;	/* now_ms() of the pause */

	/* writers */
	struct writer		*w[STREAM_MAX_WRITERS];
	size_t			 nw;

	enum { ST_RUNNING, ST_DRAINED, ST_ENDING, ST_FINISHED } state;
	int			 failed;	/* the stream as a whole */
	char			*error;
	struct event		*pump_ev;
	struct event		*tick_ev;

	/* for the manifest (set and read by the owner) */
	char			*artifact_id;
	char			*stream_name;	/* as the source declared it */
	struct fact		*facts;
};

#define STREAM_PAUSE_LAG	0x01	/* buffer budget used up */

struct stream	*stream_new(const struct stream_params *,
		    const struct stream_owner *, void *arg);
/*
 * Free a finished stream.  Must not be called from inside one of the
 * stream's own callbacks into the owner other than finished().
 */
void		 stream_free(struct stream *);

/* Attach the producer after the plugin's open call returned. */
void		 stream_set_producer(struct stream *,
		    const struct zb_producer_ops *, void *pctx);
/* The producer could not be opened. */
void		 stream_producer_failed(struct stream *, const char *msg);

/* Writers: create, then attach the plugin's ops or fail it. */
struct writer	*stream_writer_new(struct stream *, const char *name,
		    int64_t timeout_ms);
void		 stream_writer_attach(struct writer *,
		    const struct zb_writer_ops *, void *wctx);
void		 stream_writer_fail(struct writer *, const char *fmt, ...)
		    ZB_PRINTF(2, 3);

/*
 * A store stream whose stored size is known before its first byte (a
 * copy, a small object from memory): its writers' plugins may ask
 * (host->put_size).  Call before the writers are opened.
 */
void		 stream_set_put_size(struct stream *, int64_t);
/*
 * A store stream whose bytes are those of a local file, unchanged (a copy
 * from a `local' sink: no codec, no age): open_file(arg) returns a new
 * descriptor of it, or -1, each time a writer's plugin asks
 * (host->put_file), which is checked to be a regular file of put_size
 * bytes.  Call after stream_set_put_size, before the writers are opened.
 */
void		 stream_set_put_file(struct stream *, int (*open_file)(void *),
		    void *arg);
/*
 * A store stream of an object the host never takes alone for a committed
 * copy (a marker, a sidecar): its sinks may write it in place
 * (host->put_in_place).  Call before the writers are opened.
 */
void		 stream_set_put_in_place(struct stream *);

/* After drained(): commit every live writer, or abort them all. */
void		 stream_commit(struct stream *);
void		 stream_abort(struct stream *, const char *fmt, ...)
		    ZB_PRINTF(2, 3);

void		 stream_pause(struct stream *, int reason);
void		 stream_resume(struct stream *, int reason);
/* Writers that committed. */
size_t		 stream_committed(const struct stream *);
/* Milliseconds the producer was paused (backpressure), the current
 * pause included. */
uint64_t	 stream_paused_ms(const struct stream *);

/* The chunk size of the stream behind a producer's handle, or 0 when io
 * is not a stream's (for the toolkit's adapters). */
size_t		 stream_io_chunk_size(const struct zb_io *);
/*
 * A push without a copy (the fd producer reads straight into the chunk
 * being filled): stream_push_room() gives the fill chunk's free room, or
 * NULL when io is not a stream that takes bytes now (then push() as
 * usual); stream_push_filled() then counts len <= *room bytes written
 * there as pushed, with push()'s answer.  Nothing may come between the
 * two but the write into the room.
 */
unsigned char	*stream_push_room(struct zb_io *, size_t *);
int		 stream_push_filled(struct zb_io *, size_t);
/* Chunk references, for hostapi.c. */
void		 chunk_ref(const struct zb_chunk *);
void		 chunk_unref(const struct zb_chunk *);

#endif
