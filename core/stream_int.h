/*
 * stream_int.h - what stream.c (the loop's half of a stream) shares with
 * stream_work.c (the half that runs on the worker pool): chunks, the
 * batches that travel through the stages, and the transform's state.
 * Nothing outside these two files includes it.
 */
#ifndef ZB_STREAM_INT_H
#define ZB_STREAM_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"
#include "stream.h"
#include "workers.h"

struct chunk {
	struct zb_chunk		 pub;	/* first: plugins see &pub */
	struct stream		*st;
	int			 refs;
	int			 queued;
	TAILQ_ENTRY(chunk)	 entry;
	size_t			 cap;
	unsigned char		 data[];
};

/*
 * One unit of work through the stages: an input chunk the producer
 * filled (or none: a drain or the final flush), and the output chunks
 * the transform made of it.  `in' is read by the hash and the transform
 * stages at once; `inrefs' counts those still reading it.
 */
struct batch {
	TAILQ_ENTRY(batch)	 hash_entry;	/* stage queues */
	TAILQ_ENTRY(batch)	 xform_entry;
	TAILQ_ENTRY(batch)	 out_entry;
	struct chunk		*in;
	int			 inrefs;
	int			 final;		/* flush the transform */
	struct chunkq		 out;		/* made by the transform */
	size_t			 out_bytes;
	size_t			 out_chunks;
};
TAILQ_HEAD(batchq, batch);

/*
 * The transform: decryption, the codec, encryption, and the output
 * chunks they fill.  Only the transform job that is running touches it
 * (one at a time per stream); the loop reads the results after done().
 */
struct xform {
	struct codec		*codec;
	struct age_enc		*enc;	/* storing, encrypted */
	struct age_dec		*dec;	/* loading, encrypted */
	int			 store;
	size_t			 chunk_size;
	struct buf		 pending;	/* input the codec has not
						 * taken yet (a bounded run) */
	size_t			 pending_off;
	int			 codec_more;	/* output held back */
	int			 finishing;	/* the codec's end is being
						 * flushed (codec_finish_max) */
	struct chunk		*fill;		/* partly filled output */
	struct chunkq		 stash;		/* spare chunks lent by the
						 * loop for this run */
	struct stream		*st;		/* for chunk->st only */
	/* one run */
	struct batch		*b;
	size_t			 out_max;	/* bytes of output allowed */
	size_t			 out_made;
	size_t			 malloced;	/* chunks not from the stash */
	char			 err[256];	/* set: the run failed */
};

/* Stages of a stream, in the order bytes go through them. */
enum stage_id {
	STAGE_HASH_IN,	/* SHA-256 of the bytes pushed */
	STAGE_XFORM,	/* decrypt, codec, encrypt */
	STAGE_HASH_OUT,	/* SHA-256 of the bytes queued */
	NSTAGES
};

/*
 * Batches one job of a hash stage takes at most: all that waited for it,
 * so that a stage behind the producer catches up in one hand-over instead
 * of a round trip through the loop per chunk.  XFORM takes one batch.
 */
#define STAGE_BATCH_MAX	16

struct stage {
	struct wjob		 job;	/* first */
	struct stream		*st;
	enum stage_id		 id;
	int			 busy;
	struct batch		*b[STAGE_BATCH_MAX];	/* what the running
							 * job works on, in
							 * stream order */
	size_t			 nb;
};

/* The pipeline of one stream (struct stream's `pipe'). */
struct stream_pipe {
	struct stage		 stage[NSTAGES];
	struct batchq		 hash_q;	/* waiting for each stage */
	struct batchq		 xform_q;
	struct batchq		 out_q;
	struct xform		 xf;
	EVP_MD_CTX		*hash_in;	/* bytes pushed */
	EVP_MD_CTX		*hash_out;	/* bytes queued */
	int			 one_hash;	/* no codec, no age: the
						 * bytes queued are the bytes
						 * pushed, hashed once */
	int			 hash_in_on;	/* HASH_IN runs (not the */
	int			 hash_out_on;	/* skipped plaintext side) */
	struct chunk		*in_fill;	/* input being filled */
	int			 inflight;	/* jobs not back yet */
	int			 input_closed;	/* no more input batches */
	int			 final_queued;
	int			 final_done;	/* the flush came through */
	size_t			 reserved;	/* output a running
						 * transform may still make */
	int			 xf_blocked;	/* the last run held output
						 * back (the loop's copy) */
};

/* stream_work.c: the jobs' run() functions (pool threads). */
void	work_hash_in(struct wjob *);
void	work_xform(struct wjob *);
void	work_hash_out(struct wjob *);
/*
 * Output room a transform run needs to be worth starting (the codec's
 * window), and the output chunks a run of input len may make at most
 * when storing (compression and age overhead), for the loop's budget.
 */
size_t	xform_min_room(const struct xform *);
size_t	xform_store_bound(const struct xform *, size_t len);

#endif
