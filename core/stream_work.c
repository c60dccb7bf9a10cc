/*
 * stream_work.c - the stages of a stream that compute over its bytes,
 * run by the worker pool (workers.c): SHA-256 of what was pushed, the
 * transform (age decryption, the codec, age encryption) and SHA-256 of
 * what is queued for the writers.
 *
 * Each function runs one stage on one batch, on a pool thread, and
 * touches only that stage's state and its batches (stream_int.h); it
 * calls nothing of the loop (no logging, no budget: a failure is written
 * into xf->err and reported by the loop).  stream.c runs the jobs of one
 * stage one at a time, each on its batches in order, so each stage sees
 * the stream's bytes in order while different stages run on different
 * threads.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "codec.h"
#include "stream_int.h"
#include "util.h"

static struct stream_pipe *
pipe_of(struct wjob *j)
{
	struct stage	*sg = (struct stage *)j;

	return sg->st->pipe;
}

void
work_hash_in(struct wjob *j)
{
	struct stage	*sg = (struct stage *)j;
	struct chunk	*c;
	size_t		 i;

	for (i = 0; i < sg->nb; i++) {
		c = sg->b[i]->in;
		if (c != NULL && c->pub.len > 0)
			EVP_DigestUpdate(pipe_of(j)->hash_in, c->data,
			    c->pub.len);
	}
}

void
work_hash_out(struct wjob *j)
{
	struct stage	*sg = (struct stage *)j;
	struct chunk	*c;
	size_t		 i;

	for (i = 0; i < sg->nb; i++)
		TAILQ_FOREACH(c, &sg->b[i]->out, entry)
			EVP_DigestUpdate(pipe_of(j)->hash_out, c->data,
			    c->pub.len);
}

/* ---- the transform ------------------------------------------------------ */

static struct chunk *
out_chunk(struct xform *xf)
{
	struct chunk	*c = TAILQ_FIRST(&xf->stash);

	if (c != NULL)
		TAILQ_REMOVE(&xf->stash, c, entry);
	else {
		c = xmalloc(sizeof(*c) + xf->chunk_size);
		xf->malloced++;
	}
	memset(c, 0, sizeof(*c));
	c->st = xf->st;
	c->cap = xf->chunk_size;
	c->pub.data = c->data;
	return c;
}

/* Final output: copy into chunks; a full one goes to the batch. */
static int
emit_out(void *arg, const void *buf, size_t len)
{
	struct xform		*xf = arg;
	const unsigned char	*p = buf;
	size_t			 n;

	xf->out_made += len;
	while (len > 0) {
		if (xf->fill == NULL)
			xf->fill = out_chunk(xf);
		n = xf->fill->cap - xf->fill->pub.len;
		if (n > len)
			n = len;
		memcpy(xf->fill->data + xf->fill->pub.len, p, n);
		xf->fill->pub.len += n;
		p += n;
		len -= n;
		if (xf->fill->pub.len == xf->fill->cap) {
			TAILQ_INSERT_TAIL(&xf->b->out, xf->fill, entry);
			xf->b->out_bytes += xf->fill->pub.len;
			xf->b->out_chunks++;
			xf->fill = NULL;
		}
	}
	return 0;
}

/* Codec output, encrypted first when storing to age recipients. */
static int
emit(void *arg, const void *buf, size_t len)
{
	struct xform	*xf = arg;

	if (xf->enc != NULL)
		return age_enc_update(xf->enc, buf, len, emit_out, xf);
	return emit_out(xf, buf, len);
}

/* Output room left in this run. */
static size_t
room(const struct xform *xf)
{
	return xf->out_made >= xf->out_max ? 0 : xf->out_max - xf->out_made;
}

/*
 * Run input through the codec while this run has room for its output.
 * Returns the bytes taken, or -1 with xf->err set.
 */
static ssize_t
run_codec(struct xform *xf, const unsigned char *p, size_t len)
{
	const char	*err;
	size_t		 used = 0, n, r;
	int		 rc;

	for (;;) {
		r = room(xf);
		if (r < codec_min_room(xf->codec))
			return (ssize_t)used;
		rc = codec_update(xf->codec, p + used, len - used, &n, r, emit,
		    xf, &err);
		if (rc == -1) {
			snprintf(xf->err, sizeof(xf->err), "%s: %s", xf->store ?
			    "compression failed" : "stored data is corrupt",
			    err);
			return -1;
		}
		used += n;
		xf->codec_more = rc == 1;
		if (!xf->codec_more)
			return (ssize_t)used;
	}
}

static int
blocked(const struct xform *xf)
{
	return xf->codec_more || xf->pending_off < xf->pending.len;
}

/* Feed what is pending; 0, or -1 with xf->err. */
static int
feed_pending(struct xform *xf)
{
	ssize_t	 n;

	if (!blocked(xf) || xf->finishing)
		return 0;
	n = run_codec(xf, (unsigned char *)xf->pending.data + xf->pending_off,
	    xf->pending.len - xf->pending_off);
	if (n == -1)
		return -1;
	xf->pending_off += (size_t)n;
	if (xf->pending_off == xf->pending.len && !xf->codec_more) {
		buf_reset(&xf->pending);
		xf->pending_off = 0;
	}
	return 0;
}

/* Input for the codec: through now while there is room, else pending. */
static int
accept_input(void *arg, const void *buf, size_t len)
{
	struct xform	*xf = arg;
	ssize_t		 n = 0;

	if (!blocked(xf)) {
		n = run_codec(xf, buf, len);
		if (n == -1)
			return -1;
	}
	if ((size_t)n < len &&
	    buf_add(&xf->pending, (const char *)buf + n, len - n) == -1) {
		snprintf(xf->err, sizeof(xf->err), "%s",
		    "the source does not honour pause()");
		return -1;
	}
	return 0;
}

static int
decrypt(struct xform *xf, const void *buf, size_t len, int end)
{
	enum age_status	 rc;

	rc = end ? age_dec_finish(xf->dec, accept_input, xf) :
	    age_dec_update(xf->dec, buf, len, accept_input, xf);
	if (rc == AGE_OK)
		return 0;
	if (xf->err[0] == '\0')
		snprintf(xf->err, sizeof(xf->err), "cannot decrypt: %s",
		    age_dec_error(xf->dec));
	return -1;
}

/*
 * End of input: flush the codec and age, hand over the last chunk.  The
 * codec's end goes out within the run's room (zstd's threads may hold
 * several jobs' output): while there is more, codec_more stays set and
 * the loop runs the flush again.
 */
static int
flush(struct xform *xf)
{
	const char	*err;
	int		 rc;

	if (!xf->finishing) {
		if (xf->dec != NULL && decrypt(xf, NULL, 0, 1) == -1)
			return -1;
		if (feed_pending(xf) == -1)
			return -1;
		if (blocked(xf))
			return 0;	/* the loop runs the flush again */
		xf->finishing = 1;
	}
	rc = codec_finish_max(xf->codec, room(xf) > xform_min_room(xf) ?
	    room(xf) : xform_min_room(xf), emit, xf, &err);
	if (rc == -1) {
		snprintf(xf->err, sizeof(xf->err), "%s: %s", xf->store ?
		    "compression failed" : "stored data is corrupt", err);
		return -1;
	}
	xf->codec_more = rc == 1;
	if (xf->codec_more)
		return 0;
	if (xf->enc != NULL && age_enc_finish(xf->enc, emit_out, xf) != 0) {
		snprintf(xf->err, sizeof(xf->err), "%s", "encryption failed");
		return -1;
	}
	if (xf->fill != NULL) {
		TAILQ_INSERT_TAIL(&xf->b->out, xf->fill, entry);
		xf->b->out_bytes += xf->fill->pub.len;
		xf->b->out_chunks++;
		xf->fill = NULL;
	}
	xf->b->final = 2;	/* flushed */
	return 0;
}

/* One batch through the transform; 0, or -1 with xf->err set. */
static int
xform_batch(struct xform *xf, struct batch *b)
{
	struct chunk	*in = b->in;

	xf->b = b;
	if (feed_pending(xf) == -1)
		return -1;
	if (in != NULL && in->pub.len > 0) {
		if (xf->dec != NULL) {
			if (decrypt(xf, in->data, in->pub.len, 0) == -1)
				return -1;
		} else if (accept_input(xf, in->data, in->pub.len) == -1)
			return -1;
	}
	if (b->final == 1)
		return flush(xf);
	return 0;
}

void
work_xform(struct wjob *j)
{
	struct stage	*sg = (struct stage *)j;
	struct xform	*xf = &sg->st->pipe->xf;
	size_t		 i;

	xf->out_made = 0;
	xf->malloced = 0;
	for (i = 0; i < sg->nb; i++)
		if (xform_batch(xf, sg->b[i]) == -1)
			return;
}

/* What a transform run needs (see stream_int.h). */
size_t
xform_min_room(const struct xform *xf)
{
	return codec_min_room(xf->codec);
}

size_t
xform_store_bound(const struct xform *xf, size_t len)
{
	/* zstd and gzip add little to incompressible input; age adds a tag
	 * per 64 KiB chunk and its header once. */
	size_t	 n = len + len / 128 + 2 * codec_min_room(xf->codec);

	if (xf->enc != NULL)
		n += n / (AGE_CHUNK / 16) + AGE_CHUNK + 4096;
	return n;
}
