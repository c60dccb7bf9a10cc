/*
 * stream.c - the stream core.
 *
 * A producer (a source's stream, or a sink's get) pushes bytes (or, the fd
 * producer, reads them straight into the chunk being filled:
 * stream_push_room()).  They are
 * hashed, run through the codec, hashed again (not when neither a codec
 * nor age changes them: then one digest is both) and copied into
 * fixed-size chunks; a full chunk is queued once and shared by reference by every
 * writer (the sinks' puts, or a restore target).  Each writer has a cursor
 * into the queue; a chunk is freed when the last writer is past it (and
 * no plugin holds a reference).
 *
 * Invariants:
 *  - live (bytes of allocated chunks) only grows in push() (or in
 *    stream_push_room(), which lends the chunk push() would take); when one
 *    more chunk would pass `high' (the budget) the producer is paused,
 *    and the pump resumes it when the queued bytes (live less the chunk
 *    being filled) have fallen to `low' (high/4), as
 *    relayd does with its prefetch watermarks.  A producer that honours
 *    pause() and pushes at most a chunk at a time keeps live <= high.
 *  - Writers are only called from the pump, a deferred event, never from
 *    inside push() or a writer's own callback, so no plugin is re-entered.
 *  - A failed writer loses only its own copy; the stream fails as a whole
 *    only when its producer fails or no writer is left.
 *  - The owner hears drained() once, then finished() once, as the last
 *    thing the pump does; the owner may free the stream from finished().
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "age.h"
#include "codec.h"
#include "log.h"
#include "reactor.h"
#include "stream.h"
#include "stream_int.h"
#include "util.h"
#include "workers.h"


/*
 * A producer that honours pause() pushes about one chunk beyond the
 * budget; one that is this far beyond it ignores pause().
 */
#define PENDING_MAX	(64 * 1024 * 1024)
/* Spare chunks lent to one transform run at most. */
#define STASH_MAX	8

static void	pump_schedule(struct stream *);
static void	writer_release(struct writer *);
static void	pipe_new(struct stream *);
static void	pipe_free(struct stream *);
static const struct io_vtbl stream_vtbl, writer_vtbl;

static int
writer_live(const struct writer *w)
{
	return w->state == W_IDLE || w->state == W_ACTIVE ||
	    w->state == W_BLOCKED;
}

static size_t
live_writers(const struct stream *st)
{
	size_t	 i, n = 0;

	for (i = 0; i < st->nw; i++)
		if (writer_live(st->w[i]))
			n++;
	return n;
}

size_t
stream_committed(const struct stream *st)
{
	size_t	 i, n = 0;

	for (i = 0; i < st->nw; i++)
		if (st->w[i]->state == W_COMMITTED)
			n++;
	return n;
}

/* ---- chunks ------------------------------------------------------------ */

static struct chunk *
chunk_new(struct stream *st)
{
	struct chunk	*c;

	c = TAILQ_FIRST(&st->spares);
	if (c != NULL) {
		TAILQ_REMOVE(&st->spares, c, entry);
		st->nspare--;
	} else
		c = xmalloc(sizeof(*c) + st->p.chunk_size);
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->cap = st->p.chunk_size;
	c->pub.data = c->data;
	st->live += c->cap;
	if (st->live > st->live_peak)
		st->live_peak = st->live;
	return c;
}

static void
chunk_destroy(struct chunk *c)
{
	struct stream	*st = c->st;

	if (c->queued)
		TAILQ_REMOVE(&st->q, c, entry);
	st->live -= c->cap;
	if ((st->nspare + 1) * st->p.chunk_size <= st->high) {
		TAILQ_INSERT_HEAD(&st->spares, c, entry);
		st->nspare++;
	} else
		free(c);
}

void
chunk_ref(const struct zb_chunk *pub)
{
	struct chunk	*c = (struct chunk *)(uintptr_t)pub;

	c->refs++;
}

void
chunk_unref(const struct zb_chunk *pub)
{
	struct chunk	*c = (struct chunk *)(uintptr_t)pub;
	struct stream	*st = c->st;

	if (--c->refs > 0)
		return;
	chunk_destroy(c);
	pump_schedule(st);	/* maybe resume the producer */
}

/* Queue a filled chunk for every live writer. */
static void
enqueue(struct stream *st, struct chunk *c)
{
	size_t	 i;

	c->refs = (int)live_writers(st);
	if (c->refs == 0 || c->pub.len == 0) {
		chunk_destroy(c);
		return;
	}
	c->queued = 1;
	TAILQ_INSERT_TAIL(&st->q, c, entry);
	for (i = 0; i < st->nw; i++)
		if (writer_live(st->w[i]) && st->w[i]->cursor == NULL)
			st->w[i]->cursor = c;
	pump_schedule(st);
}

/* ---- the stream -------------------------------------------------------- */

static void
on_pump(evutil_socket_t fd, short what, void *arg);
static void
on_tick(evutil_socket_t fd, short what, void *arg);

struct stream *
stream_new(const struct stream_params *p, const struct stream_owner *owner,
    void *arg)
{
	struct stream	*st;
	struct timeval	 sec = { 1, 0 };

	st = xcalloc(1, sizeof(*st));
	st->io.vt = &stream_vtbl;
	st->p = *p;
	st->name = xstrdup(p->name);
	st->p.name = st->name;
	st->owner = owner;
	st->owner_arg = arg;
	TAILQ_INIT(&st->q);
	TAILQ_INIT(&st->spares);
	st->high = p->budget;
	if (st->high < 2 * p->chunk_size)
		st->high = 2 * p->chunk_size;
	st->low = st->high / 4;
	st->put_size = -1;
	pipe_new(st);
	st->pump_ev = event_new(reactor_base(), -1, 0, on_pump, st);
	st->tick_ev = event_new(reactor_base(), -1, EV_PERSIST, on_tick, st);
	evtimer_add(st->tick_ev, &sec);
	return st;
}

void
stream_free(struct stream *st)
{
	size_t		 i;

	if (st == NULL)
		return;
	if (st->pipe != NULL && st->pipe->inflight > 0)
		fatalx("%s: %s freed with %d jobs on the workers", __func__,
		    st->name, st->pipe->inflight);
	pipe_free(st);
	while (!TAILQ_EMPTY(&st->q))
		chunk_destroy(TAILQ_FIRST(&st->q));
	if (st->live != 0)
		log_warnx("%s: %zu bytes of chunks still referenced at close "
		    "(a plugin kept a chunk reference)", st->name, st->live);
	for (i = 0; i < st->nw; i++) {
		free(st->w[i]->name);
		free(st->w[i]->error);
		free(st->w[i]);
	}
	while (!TAILQ_EMPTY(&st->spares)) {
		struct chunk	*c = TAILQ_FIRST(&st->spares);

		TAILQ_REMOVE(&st->spares, c, entry);
		free(c);
	}
	event_free(st->pump_ev);
	event_free(st->tick_ev);
	free(st->error);
	free(st->name);
	free(st->artifact_id);
	free(st->stream_name);
	facts_free(st->facts);
	free(st);
}

static void
pump_schedule(struct stream *st)
{
	if (st->state != ST_FINISHED)
		event_active(st->pump_ev, 0, 0);
}

static void
producer_close(struct stream *st)
{
	if (st->producer_closed)
		return;
	st->producer_closed = 1;
	/* Without ops yet, stream_set_producer() closes it on arrival. */
	if (st->pops != NULL && st->pops->close != NULL)
		st->pops->close(st->pctx);
}

static void
stream_fail(struct stream *st, const char *msg)
{
	size_t	 i;

	if (st->failed)
		return;
	st->failed = 1;
	st->error = xstrdup(msg);
	st->producer_done = 1;		/* the pump closes it */
	log_warnx("%s: %s", st->name, msg);
	for (i = 0; i < st->nw; i++)
		if (st->w[i]->state != W_COMMITTED &&
		    st->w[i]->state != W_FAILED)
			stream_writer_fail(st->w[i], "%s", "stream aborted");
	st->state = ST_ENDING;
	pump_schedule(st);
}

void
stream_abort(struct stream *st, const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	stream_fail(st, msg);
}

void
stream_pause(struct stream *st, int reason)
{
	st->pause_mask |= reason;
	if (st->paused || st->pops == NULL || st->producer_done)
		return;
	st->paused = 1;
	st->pauses++;
	st->paused_at = now_ms();
	log_debug("%s: pause (%zu bytes buffered)", st->name, st->live);
	if (st->pops->pause != NULL)
		st->pops->pause(st->pctx);
}

uint64_t
stream_paused_ms(const struct stream *st)
{
	return st->paused_ms + (st->paused ? now_ms() - st->paused_at : 0);
}

void
stream_resume(struct stream *st, int reason)
{
	st->pause_mask &= ~reason;
	if (st->pause_mask != 0 || !st->paused || st->producer_done)
		return;
	st->paused = 0;
	st->resumes++;
	st->paused_ms += now_ms() - st->paused_at;
	log_debug("%s: resume (%zu bytes buffered)", st->name, st->live);
	if (st->pops->resume != NULL)
		st->pops->resume(st->pctx);
}

void
stream_set_producer(struct stream *st, const struct zb_producer_ops *ops,
    void *pctx)
{
	st->pops = ops;
	st->pctx = pctx;
	if (st->producer_closed) {
		/* The stream failed before the producer was attached. */
		if (ops->close != NULL)
			ops->close(pctx);
		return;
	}
	if (st->pause_mask != 0 && !st->producer_done)
		stream_pause(st, st->pause_mask);
	pump_schedule(st);
}

void
stream_producer_failed(struct stream *st, const char *msg)
{
	st->producer_done = 1;
	st->producer_closed = 1;
	stream_fail(st, msg);
}

/* ---- producer side: the io handle ------------------------------------- */

/* ---- the pipeline: push -> stages on the workers -> chunk queue -------- */

static void	pipe_kick(struct stream *);
static void	on_stage_done(struct wjob *);
static void	hash_out_done(struct stream *, struct batch *);

static void
pipe_new(struct stream *st)
{
	struct stream_pipe	*pp;
	const struct stream_params *p = &st->p;
	const char		*err;
	int			 i;

	pp = xcalloc(1, sizeof(*pp));
	st->pipe = pp;
	TAILQ_INIT(&pp->hash_q);
	TAILQ_INIT(&pp->xform_q);
	TAILQ_INIT(&pp->out_q);
	for (i = 0; i < NSTAGES; i++) {
		pp->stage[i].st = st;
		pp->stage[i].id = i;
		pp->stage[i].job.done = on_stage_done;
	}
	pp->stage[STAGE_HASH_IN].job.run = work_hash_in;
	pp->stage[STAGE_XFORM].job.run = work_xform;
	pp->stage[STAGE_HASH_OUT].job.run = work_hash_out;
	pp->hash_in = EVP_MD_CTX_new();
	pp->hash_out = EVP_MD_CTX_new();
	if (pp->hash_in == NULL || pp->hash_out == NULL ||
	    EVP_DigestInit_ex(pp->hash_in, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(pp->hash_out, EVP_sha256(), NULL) != 1)
		fatalx("%s: cannot set up SHA-256", __func__);
	pp->one_hash = p->comp.algo == COMP_NONE && p->age == NULL;
	pp->hash_in_on = pp->one_hash || !p->skip_plain_sha256 ||
	    p->dir != STREAM_STORE;
	pp->hash_out_on = !pp->one_hash && (!p->skip_plain_sha256 ||
	    p->dir == STREAM_STORE);
	pp->xf.st = st;
	pp->xf.store = p->dir == STREAM_STORE;
	pp->xf.chunk_size = p->chunk_size;
	TAILQ_INIT(&pp->xf.stash);
	buf_init(&pp->xf.pending, PENDING_MAX);
	pp->xf.codec = codec_new(&p->comp, p->dir == STREAM_LOAD, &err);
	if (pp->xf.codec == NULL)
		fatalx("%s: %s", __func__, err);
	if (p->age != NULL && p->dir == STREAM_STORE) {
		char	 msg[256];

		pp->xf.enc = age_enc_new(p->age, msg, sizeof(msg));
		if (pp->xf.enc == NULL)
			fatalx("%s: age: %s", __func__, msg);
	} else if (p->age != NULL)
		pp->xf.dec = age_dec_new(p->age);
}

static void
chunks_free(struct chunkq *q)
{
	struct chunk	*c;

	while (!TAILQ_EMPTY(q)) {
		c = TAILQ_FIRST(q);
		TAILQ_REMOVE(q, c, entry);
		free(c);
	}
}

/*
 * Free a batch and the chunks it still holds (none of them queued for
 * the writers): its input chunk, counted in live since push(), and its
 * output chunks, counted since the transform handed them back.
 */
static void
batch_drop(struct batch *b)
{
	struct chunk	*c;

	while (!TAILQ_EMPTY(&b->out)) {
		c = TAILQ_FIRST(&b->out);
		TAILQ_REMOVE(&b->out, c, entry);
		chunk_destroy(c);
	}
	if (b->in != NULL)
		chunk_destroy(b->in);
	free(b);
}

static void
pipe_free(struct stream *st)
{
	struct stream_pipe	*pp = st->pipe;
	struct batch		*b;

	if (pp == NULL)
		return;
	/* A batch may wait in two queues: drop it from the last it is in. */
	while (!TAILQ_EMPTY(&pp->hash_q)) {
		b = TAILQ_FIRST(&pp->hash_q);
		TAILQ_REMOVE(&pp->hash_q, b, hash_entry);
		if (--b->inrefs == 0)
			batch_drop(b);
	}
	while (!TAILQ_EMPTY(&pp->xform_q)) {
		b = TAILQ_FIRST(&pp->xform_q);
		TAILQ_REMOVE(&pp->xform_q, b, xform_entry);
		if (b->in == NULL || --b->inrefs == 0)
			batch_drop(b);
	}
	while (!TAILQ_EMPTY(&pp->out_q)) {
		b = TAILQ_FIRST(&pp->out_q);
		TAILQ_REMOVE(&pp->out_q, b, out_entry);
		batch_drop(b);
	}
	if (pp->in_fill != NULL)
		chunk_destroy(pp->in_fill);
	if (pp->xf.fill != NULL)
		free(pp->xf.fill);
	chunks_free(&pp->xf.stash);
	EVP_MD_CTX_free(pp->hash_in);
	EVP_MD_CTX_free(pp->hash_out);
	codec_free(pp->xf.codec);
	age_enc_free(pp->xf.enc);
	age_dec_free(pp->xf.dec);
	buf_free(&pp->xf.pending);
	free(pp);
	st->pipe = NULL;
}

static struct batch *
batch_new(struct chunk *in, int final)
{
	struct batch	*b = xcalloc(1, sizeof(*b));

	b->in = in;
	b->final = final;
	TAILQ_INIT(&b->out);
	return b;
}

/* A filled input chunk: to the hash stage, and to the transform. */
static void
queue_input(struct stream *st, struct chunk *in)
{
	struct stream_pipe	*pp = st->pipe;
	struct batch		*b = batch_new(in, 0);

	if (pp->hash_in_on) {
		TAILQ_INSERT_TAIL(&pp->hash_q, b, hash_entry);
		b->inrefs++;
	}
	if (!pp->one_hash) {
		TAILQ_INSERT_TAIL(&pp->xform_q, b, xform_entry);
		b->inrefs++;
	}
}

/*
 * The transform holds output back until the budget has room (loading).
 * The loop's copy, taken when the last transform run came back: the
 * xform's own fields belong to a run that may be going on.
 */
static int
xform_blocked(const struct stream_pipe *pp)
{
	return pp->xf_blocked;
}

/* Nothing downstream of the transform can free a chunk by itself. */
static int
nothing_drains(const struct stream *st)
{
	const struct stream_pipe *pp = st->pipe;

	return TAILQ_EMPTY(&st->q) && TAILQ_EMPTY(&pp->out_q) &&
	    !pp->stage[STAGE_HASH_OUT].busy;
}

static size_t
budget_room(const struct stream *st)
{
	return st->live >= st->high ? 0 : st->high - st->live;
}

/* Hand a stage's job, its batches set, to the pool. */
static void
stage_submit(struct stream *st, struct stage *sg)
{
	sg->busy = 1;
	st->pipe->inflight++;
	workers_submit(&sg->job);
}

static void
stage_start(struct stream *st, enum stage_id id, struct batch *b)
{
	struct stage	*sg = &st->pipe->stage[id];

	sg->b[0] = b;
	sg->nb = 1;
	stage_submit(st, sg);
}

/*
 * Bytes one job takes at most (at least one batch): a quarter of the
 * budget, so that while one stage holds a job's chunks (and the
 * transform as much again for its output) the budget has room for the
 * stages before it to go on.
 */
static size_t
batch_bytes_max(const struct stream *st)
{
	return st->high / 4;
}

/*
 * Start a hash stage, if idle, on the batches waiting for it (up to
 * STAGE_BATCH_MAX and batch_bytes_max()), in order: one hand-over for
 * what came in meanwhile.
 */
static void
hash_stage_try(struct stream *st, enum stage_id id)
{
	struct stream_pipe	*pp = st->pipe;
	struct stage		*sg = &pp->stage[id];
	struct batchq		*q = id == STAGE_HASH_IN ? &pp->hash_q :
				    &pp->out_q;
	struct batch		*b;
	size_t			 bytes = 0;

	if (sg->busy || TAILQ_EMPTY(q))
		return;
	sg->nb = 0;
	while (sg->nb < STAGE_BATCH_MAX && !TAILQ_EMPTY(q) &&
	    bytes < batch_bytes_max(st)) {
		b = TAILQ_FIRST(q);
		if (id == STAGE_HASH_IN)
			TAILQ_REMOVE(q, b, hash_entry);
		else
			TAILQ_REMOVE(q, b, out_entry);
		sg->b[sg->nb++] = b;
		bytes += id == STAGE_HASH_IN ? b->in->pub.len : b->out_bytes;
	}
	stage_submit(st, sg);
}

/* Lend spare chunks to the transform run: no mmap for its output. */
static void
lend_stash(struct stream *st, size_t want)
{
	struct xform	*xf = &st->pipe->xf;
	struct chunk	*c;
	size_t		 n = want / st->p.chunk_size + 1;

	if (n > STASH_MAX)
		n = STASH_MAX;
	for (; n > 0 && !TAILQ_EMPTY(&st->spares); n--) {
		c = TAILQ_FIRST(&st->spares);
		TAILQ_REMOVE(&st->spares, c, entry);
		st->nspare--;
		TAILQ_INSERT_TAIL(&xf->stash, c, entry);
	}
}

/*
 * A transform run may make n bytes of output, counted in live when it
 * comes back.  A producer that could push another chunk before then must
 * pause now if that chunk and n would not fit (the pump resumes it only
 * once they do).
 */
static void
xform_reserve(struct stream *st, size_t n)
{
	st->pipe->reserved = n;
	if (st->live + st->p.chunk_size + n > st->high)
		stream_pause(st, STREAM_PAUSE_LAG);
}

/*
 * Storing: start the transform on the batches waiting for it (up to
 * STAGE_BATCH_MAX and batch_bytes_max(), the final flush last) whose
 * output the budget has room for; the first also when nothing else could
 * free a chunk.
 */
static void
xform_store_start(struct stream *st)
{
	struct stream_pipe	*pp = st->pipe;
	struct stage		*sg = &pp->stage[STAGE_XFORM];
	struct batch		*b;
	size_t			 need, total = 0;

	sg->nb = 0;
	while (sg->nb < STAGE_BATCH_MAX && !TAILQ_EMPTY(&pp->xform_q) &&
	    total < batch_bytes_max(st)) {
		b = TAILQ_FIRST(&pp->xform_q);
		need = xform_store_bound(&pp->xf, b->in != NULL ?
		    b->in->pub.len : 0);
		if (st->live + total + need > st->high &&
		    (sg->nb > 0 || !nothing_drains(st)))
			break;
		TAILQ_REMOVE(&pp->xform_q, b, xform_entry);
		sg->b[sg->nb++] = b;
		total += need;
		if (b->final)
			break;
	}
	if (sg->nb == 0)
		return;
	/* zstd's threads may hand over more than this run's input makes:
	 * the rest waits in the codec (xf_blocked) for room. */
	pp->xf.out_max = total;
	xform_reserve(st, total);
	lend_stash(st, total);
	stage_submit(st, sg);
}

/* Start the transform on b (or on a drain run) if the budget allows. */
static void
xform_try(struct stream *st)
{
	struct stream_pipe	*pp = st->pipe;
	struct xform		*xf = &pp->xf;
	struct batch		*b = TAILQ_FIRST(&pp->xform_q);
	size_t			 r = budget_room(st);

	if (pp->stage[STAGE_XFORM].busy)
		return;
	if (xform_blocked(pp) && (b == NULL || !b->final)) {
		/* Loading: the codec holds input back; drain it first. */
		if (r < xform_min_room(xf) && !nothing_drains(st))
			return;
		xf->out_max = r > xform_min_room(xf) ? r :
		    xform_min_room(xf);
		b = batch_new(NULL, 0);
		xform_reserve(st, xf->out_max);
	} else if (b == NULL)
		return;
	else if (xf->store) {
		xform_store_start(st);
		return;
	} else {
		if (r < xform_min_room(xf) && !nothing_drains(st))
			return;
		TAILQ_REMOVE(&pp->xform_q, b, xform_entry);
		xf->out_max = r > xform_min_room(xf) ? r :
		    xform_min_room(xf);
		xform_reserve(st, xf->out_max);
	}
	lend_stash(st, pp->reserved);
	stage_start(st, STAGE_XFORM, b);
}

/* Start every stage that is idle and has work it may do now. */
static void
pipe_kick(struct stream *st)
{
	if (st->failed)
		return;
	hash_stage_try(st, STAGE_HASH_IN);
	if (!st->pipe->one_hash)
		xform_try(st);
	hash_stage_try(st, STAGE_HASH_OUT);
}

/* One stage or the other finished with an input chunk. */
static void
input_release(struct stream *st, struct batch *b)
{
	if (--b->inrefs > 0)
		return;
	if (st->pipe->one_hash && !st->failed) {
		/* The bytes pushed are the bytes stored. */
		st->bytes_out += b->in->pub.len;
		enqueue(st, b->in);
		b->in = NULL;
	}
	batch_drop(b);
}

/* The transform's output, now counted in the budget, to the last hash. */
static void
xform_done(struct stream *st, struct batch *b)
{
	struct stream_pipe	*pp = st->pipe;
	struct xform		*xf = &pp->xf;
	struct batch		*out = batch_new(NULL, 0);
	struct chunk		*c;

	pp->reserved = 0;
	pp->xf_blocked = xf->codec_more || xf->pending_off < xf->pending.len;
	while (!TAILQ_EMPTY(&xf->stash)) {
		c = TAILQ_FIRST(&xf->stash);
		TAILQ_REMOVE(&xf->stash, c, entry);
		TAILQ_INSERT_TAIL(&st->spares, c, entry);
		st->nspare++;
	}
	TAILQ_CONCAT(&out->out, &b->out, entry);
	out->out_bytes = b->out_bytes;
	out->out_chunks = b->out_chunks;
	TAILQ_FOREACH(c, &out->out, entry)
		st->live += c->cap;
	if (st->live > st->live_peak)
		st->live_peak = st->live;
	b->out_bytes = 0;
	b->out_chunks = 0;
	if (out->out_chunks > 0 && !st->failed && pp->hash_out_on)
		TAILQ_INSERT_TAIL(&pp->out_q, out, out_entry);
	else
		hash_out_done(st, out);	/* no hash: to the writers now */
	if (b->final == 2) {
		pp->final_done = 1;
		free(b);
	} else if (b->final == 1)
		/* Flushing waits for the budget: again, first. */
		TAILQ_INSERT_HEAD(&pp->xform_q, b, xform_entry);
	else if (b->in != NULL)
		input_release(st, b);
	else
		free(b);
	if (xf->err[0] != '\0' && !st->failed)
		stream_abort(st, "%s", xf->err);
}

/* HASH_OUT is through a batch: its chunks to the writers, in order. */
static void
hash_out_done(struct stream *st, struct batch *b)
{
	struct chunk	*c;

	if (!st->failed) {
		st->bytes_out += b->out_bytes;
		while (!TAILQ_EMPTY(&b->out)) {
			c = TAILQ_FIRST(&b->out);
			TAILQ_REMOVE(&b->out, c, entry);
			enqueue(st, c);
		}
	}
	batch_drop(b);
}

static void
on_stage_done(struct wjob *j)
{
	struct stage	*sg = (struct stage *)j;
	struct stream	*st = sg->st;
	size_t		 i;

	sg->busy = 0;
	st->pipe->inflight--;
	for (i = 0; i < sg->nb; i++) {
		if (sg->id == STAGE_HASH_IN)
			input_release(st, sg->b[i]);
		else if (sg->id == STAGE_XFORM)
			xform_done(st, sg->b[i]);
		else
			hash_out_done(st, sg->b[i]);
		sg->b[i] = NULL;
	}
	sg->nb = 0;
	pipe_kick(st);
	pump_schedule(st);
}

static void	hex(const unsigned char *, char *);

/* After the producer ended well and every stage is through: the digests. */
static void
try_finish(struct stream *st)
{
	struct stream_pipe	*pp = st->pipe;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen;

	if (!st->want_finish || st->input_ended || st->failed ||
	    pp->inflight > 0 || !TAILQ_EMPTY(&pp->hash_q) ||
	    !TAILQ_EMPTY(&pp->xform_q) || !TAILQ_EMPTY(&pp->out_q) ||
	    (!pp->one_hash && !pp->final_done))
		return;
	st->input_ended = 1;
	st->sha_in[0] = st->sha_out[0] = '\0';
	if (pp->hash_in_on) {
		EVP_DigestFinal_ex(pp->hash_in, md, &mdlen);
		hex(md, st->sha_in);
	}
	if (pp->one_hash)
		memcpy(st->sha_out, st->sha_in, sizeof(st->sha_out));
	else if (pp->hash_out_on) {
		EVP_DigestFinal_ex(pp->hash_out, md, &mdlen);
		hex(md, st->sha_out);
	}
}

static void
hex(const unsigned char *md, char *out)
{
	static const char digits[] = "0123456789abcdef";
	int	 i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

/* ---- producer side: the io handle ------------------------------------- */
/* Budget the running transform job, or one input chunk, needs for output. */
static size_t
out_reserve(const struct stream *st)
{
	const struct xform	*xf = &st->pipe->xf;
	size_t			 n;

	if (st->pipe->one_hash)
		return 0;	/* the input chunk is the output */
	if (xf->store) {
		/* a running job of several batches reserved more */
		n = xform_store_bound(xf, st->p.chunk_size);
		return st->pipe->reserved > n ? st->pipe->reserved : n;
	}
	return xform_min_room(xf) > st->p.chunk_size ? xform_min_room(xf) :
	    st->p.chunk_size;
}

/* After bytes went into the input chunks: push()'s budget checks. */
static int
push_settle(struct stream *st)
{
	struct stream_pipe	*pp = st->pipe;

	if (st->live > st->high + PENDING_MAX) {
		stream_abort(st, "the source does not honour pause()");
		return ZB_ERR;
	}
	pipe_kick(st);
	/*
	 * Pause while the transform holds output back, or when one more
	 * input chunk and what the transform may make of it would not fit:
	 * a producer that honours pause() and pushes at most a chunk at a
	 * time then never takes live past the budget.
	 */
	if (xform_blocked(pp) ||
	    st->live + st->p.chunk_size + out_reserve(st) > st->high) {
		stream_pause(st, STREAM_PAUSE_LAG);
		/* With nothing in flight, nothing else would resume it. */
		pump_schedule(st);
	}
	return st->pause_mask != 0 ? ZB_AGAIN : ZB_OK;
}

static int
st_push(struct zb_io *io, const void *buf, size_t len)
{
	struct stream		*st = (struct stream *)io;
	struct stream_pipe	*pp = st->pipe;
	const unsigned char	*p = buf;
	size_t			 n;

	if (st->failed || st->producer_done || st->state != ST_RUNNING)
		return ZB_ERR;
	st->bytes_in += len;
	while (len > 0) {
		if (pp->in_fill == NULL)
			pp->in_fill = chunk_new(st);
		n = pp->in_fill->cap - pp->in_fill->pub.len;
		if (n > len)
			n = len;
		memcpy(pp->in_fill->data + pp->in_fill->pub.len, p, n);
		pp->in_fill->pub.len += n;
		p += n;
		len -= n;
		if (pp->in_fill->pub.len == pp->in_fill->cap) {
			queue_input(st, pp->in_fill);
			pp->in_fill = NULL;
		}
	}
	return push_settle(st);
}

unsigned char *
stream_push_room(struct zb_io *io, size_t *room)
{
	struct stream		*st = (struct stream *)io;
	struct stream_pipe	*pp;

	*room = 0;
	if (io == NULL || io->vt != &stream_vtbl || st->failed ||
	    st->producer_done || st->state != ST_RUNNING)
		return NULL;
	pp = st->pipe;
	if (pp->in_fill == NULL)
		pp->in_fill = chunk_new(st);
	*room = pp->in_fill->cap - pp->in_fill->pub.len;
	/* A full one is queued at once: no room would read as end of file. */
	if (*room == 0)
		fatalx("%s: the input chunk is full", __func__);
	return pp->in_fill->data + pp->in_fill->pub.len;
}

int
stream_push_filled(struct zb_io *io, size_t len)
{
	struct stream		*st = (struct stream *)io;
	struct stream_pipe	*pp = st->pipe;

	if (st->failed || st->producer_done || st->state != ST_RUNNING)
		return ZB_ERR;
	if (pp->in_fill == NULL ||
	    len > pp->in_fill->cap - pp->in_fill->pub.len)
		fatalx("%s: %zu bytes beyond the room given", __func__, len);
	st->bytes_in += len;
	pp->in_fill->pub.len += len;
	if (pp->in_fill->pub.len == pp->in_fill->cap) {
		queue_input(st, pp->in_fill);
		pp->in_fill = NULL;
	}
	return push_settle(st);
}

static void
st_done(struct zb_io *io, int status, const char *msg)
{
	struct stream		*st = (struct stream *)io;
	struct stream_pipe	*pp = st->pipe;

	if (st->producer_done || st->failed)
		return;
	st->producer_done = 1;
	pump_schedule(st);	/* closes the producer */
	if (status != ZB_OK) {
		stream_abort(st, "source failed: %s", msg ? msg : "error");
		return;
	}
	if (pp->in_fill != NULL && pp->in_fill->pub.len > 0)
		queue_input(st, pp->in_fill);
	else if (pp->in_fill != NULL)
		chunk_destroy(pp->in_fill);
	pp->in_fill = NULL;
	/* The codec's and age's last bytes, and the check that the input
	 * was whole (loading). */
	if (!pp->one_hash) {
		struct batch	*fin = batch_new(NULL, 1);

		TAILQ_INSERT_TAIL(&pp->xform_q, fin, xform_entry);
	}
	pp->input_closed = 1;
	st->want_finish = 1;
	pipe_kick(st);
}

static const char *
st_name(const struct zb_io *io)
{
	const struct stream *st = (const struct stream *)io;

	return st->stream_name != NULL ? st->stream_name : st->name;
}

static const char *
st_artifact_id(const struct zb_io *io)
{
	const struct stream *st = (const struct stream *)io;

	return st->artifact_id != NULL ? st->artifact_id : "";
}

static void
st_fact(struct zb_io *io, const char *group, const char *key,
    const char *str, int64_t num, int is_num)
{
	struct stream	*st = (struct stream *)io;
	struct fact	*f;

	/*
	 * The manifest's readers refuse a name given twice in one object:
	 * a fact set again replaces its value, and a fact named like a group
	 * of the same level is dropped.
	 */
	for (f = st->facts; f != NULL; f = f->next) {
		if ((group == NULL) == (f->group == NULL) &&
		    (group == NULL || strcmp(group, f->group) == 0) &&
		    strcmp(key, f->key) == 0) {
			free(f->str);
			f->str = !is_num && str != NULL ? xstrdup(str) : NULL;
			f->num = num;
			return;
		}
		if ((group == NULL && f->group != NULL &&
		    strcmp(key, f->group) == 0) || (group != NULL &&
		    f->group == NULL && strcmp(group, f->key) == 0)) {
			log_warnx("%s: fact '%s%s%s' ignored: '%s' is both a "
			    "fact and a group of facts", st->name,
			    group ? group : "", group ? "." : "", key,
			    group ? group : key);
			return;
		}
	}
	facts_add(&st->facts, group, key, is_num ? NULL : str, num);
}

static const struct io_vtbl stream_vtbl = {
	.kind = "stream",
	.done = st_done,
	.push = st_push,
	.fact = st_fact,
	.stream_name = st_name,
	.artifact_id = st_artifact_id,
};

size_t
stream_io_chunk_size(const struct zb_io *io)
{
	if (io == NULL || io->vt != &stream_vtbl)
		return 0;
	return ((const struct stream *)io)->p.chunk_size;
}

/* ---- writers ----------------------------------------------------------- */

struct writer *
stream_writer_new(struct stream *st, const char *name, int64_t timeout_ms)
{
	struct writer	*w;

	if (st->nw == STREAM_MAX_WRITERS || st->bytes_in > 0)
		fatalx("%s: writer added to a started or full stream",
		    __func__);
	w = xcalloc(1, sizeof(*w));
	w->io.vt = &writer_vtbl;
	w->st = st;
	w->idx = st->nw;
	w->name = xstrdup(name);
	w->timeout_ms = timeout_ms;
	w->last_progress = now_ms();
	st->w[st->nw++] = w;
	return w;
}

void
stream_writer_attach(struct writer *w, const struct zb_writer_ops *ops,
    void *wctx)
{
	w->ops = ops;
	w->wctx = wctx;
	w->state = W_ACTIVE;
	w->last_progress = now_ms();
	pump_schedule(w->st);
}

/* Drop this writer's claim on every chunk it has not consumed. */
static void
writer_release(struct writer *w)
{
	struct chunk	*c, *next;

	for (c = w->cursor; c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		chunk_unref(&c->pub);
	}
	w->cursor = NULL;
}

void
stream_writer_fail(struct writer *w, const char *fmt, ...)
{
	char			 msg[1024];
	va_list			 ap;
	enum writer_state	 was = w->state;

	if (was == W_COMMITTED || was == W_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->state = W_FAILED;
	free(w->error);
	w->error = xstrdup(msg);
	writer_release(w);
	if (was != W_IDLE && w->ops != NULL && w->ops->abort != NULL)
		w->ops->abort(w->wctx);
	if (!w->st->failed)
		log_warnx("%s: %s: %s", w->st->name, w->name, msg);
	pump_schedule(w->st);
}

static void
w_ready(struct zb_io *io)
{
	struct writer	*w = (struct writer *)io;

	if (w->state == W_BLOCKED) {
		w->state = W_ACTIVE;
		w->last_progress = now_ms();
		pump_schedule(w->st);
	} else if (w->state == W_ACTIVE)
		w->ready_early = 1;	/* before write() returned ZB_AGAIN */
}

static void
w_done(struct zb_io *io, int status, const char *msg)
{
	struct writer	*w = (struct writer *)io;

	if (w->state != W_COMMITTING)
		return;
	if (status == ZB_OK) {
		w->state = W_COMMITTED;
	} else {
		/* The writer cleaned up after its own failed commit. */
		w->state = W_FAILED;
		w->error = xstrdup(msg ? msg : "commit failed");
		log_warnx("%s: %s: %s", w->st->name, w->name, w->error);
	}
	pump_schedule(w->st);
}

static const char *
w_stream_name(const struct zb_io *io)
{
	return st_name(&((const struct writer *)io)->st->io);
}

static const struct fact *
w_facts(const struct zb_io *io)
{
	return ((const struct writer *)io)->st->facts;
}

/* ABI 1.6: what a sink may know of its put. */
static int64_t
w_put_size(const struct zb_io *io)
{
	const struct stream	*st = ((const struct writer *)io)->st;

	return st->p.dir == STREAM_STORE ? st->put_size : -1;
}

static const char *
w_put_sha256(const struct zb_io *io)
{
	const struct stream	*st = ((const struct writer *)io)->st;

	/* The stored digest is final once every stage is through, which
	 * is before drained() and so before any commit. */
	return st->p.dir == STREAM_STORE && st->input_ended &&
	    st->sha_out[0] != '\0' ? st->sha_out : NULL;
}

/*
 * ABI 1.7: the put's bytes as a file, for a stream that stores them as
 * they are (no codec, no age) and whose owner named one.  The stream
 * still pushes every byte to the writer and checks them.
 */
static int
w_put_file(const struct zb_io *io)
{
	const struct stream	*st = ((const struct writer *)io)->st;
	struct stat		 sb;
	int			 fd;

	if (st->p.dir != STREAM_STORE || st->put_file == NULL ||
	    st->put_size < 0 || st->p.comp.algo != COMP_NONE ||
	    st->p.age != NULL)
		return -1;
	fd = st->put_file(st->put_file_arg);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size != (off_t)st->put_size) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ABI 1.9: a marker or a sidecar (stream_set_put_in_place). */
static int
w_put_in_place(const struct zb_io *io)
{
	const struct stream	*st = ((const struct writer *)io)->st;

	return st->p.dir == STREAM_STORE && st->put_in_place;
}

static const struct io_vtbl writer_vtbl = {
	.kind = "writer",
	.done = w_done,
	.ready = w_ready,
	.stream_name = w_stream_name,
	.facts = w_facts,
	.put_size = w_put_size,
	.put_sha256 = w_put_sha256,
	.put_file = w_put_file,
	.put_in_place = w_put_in_place,
};

void
stream_set_put_size(struct stream *st, int64_t size)
{
	st->put_size = size;
}

void
stream_set_put_in_place(struct stream *st)
{
	st->put_in_place = 1;
}

void
stream_set_put_file(struct stream *st, int (*open_file)(void *), void *arg)
{
	st->put_file = open_file;
	st->put_file_arg = arg;
}

void
stream_commit(struct stream *st)
{
	struct writer	*w;
	size_t		 i;
	int		 rc;

	st->state = ST_ENDING;
	for (i = 0; i < st->nw; i++) {
		w = st->w[i];
		if (w->state != W_ACTIVE)
			continue;
		w->state = W_COMMITTING;
		w->last_progress = now_ms();
		rc = w->ops->commit(w->wctx);
		if (rc == ZB_ERR && w->state == W_COMMITTING) {
			w->state = W_FAILED;
			w->error = xstrdup("commit failed");
			log_warnx("%s: %s: commit failed", st->name, w->name);
		} else if (rc == ZB_OK && w->state == W_COMMITTING)
			w->state = W_COMMITTED;
	}
	pump_schedule(st);
}

/* ---- the pump ---------------------------------------------------------- */

/* Offer chunks to one writer until it blocks or has caught up. */
static void
pump_writer(struct writer *w)
{
	struct chunk	*c, *next;
	int		 rc;

	while (w->state == W_ACTIVE && w->cursor != NULL) {
		c = w->cursor;
		w->ready_early = 0;
		rc = w->ops->write(w->wctx, &c->pub);
		if (w->state != W_ACTIVE)
			return;		/* failed from inside write */
		if (rc == ZB_AGAIN) {
			if (w->ready_early)
				pump_schedule(w->st);	/* offer it again */
			else
				w->state = W_BLOCKED;
			return;
		}
		if (rc != ZB_OK) {
			stream_writer_fail(w, "%s", "write failed");
			return;
		}
		w->bytes += c->pub.len;
		w->last_progress = now_ms();
		next = TAILQ_NEXT(c, entry);
		w->cursor = next;
		chunk_unref(&c->pub);
	}
}

static int
all_caught_up(const struct stream *st)
{
	size_t	 i;

	for (i = 0; i < st->nw; i++) {
		const struct writer *w = st->w[i];

		if (w->state == W_FAILED)
			continue;
		if (w->state != W_ACTIVE || w->cursor != NULL)
			return 0;
	}
	return 1;
}

static int
all_final(const struct stream *st)
{
	size_t	 i;

	for (i = 0; i < st->nw; i++)
		if (st->w[i]->state != W_COMMITTED &&
		    st->w[i]->state != W_FAILED)
			return 0;
	return 1;
}

static void
on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*st = arg;
	size_t		 i;

	if (st->producer_done && !st->producer_closed)
		producer_close(st);
	pipe_kick(st);		/* the budget may have room now */
	try_finish(st);
	for (i = 0; i < st->nw; i++)
		pump_writer(st->w[i]);
	if (st->state == ST_RUNNING && live_writers(st) == 0 && st->nw > 0) {
		stream_fail(st, "no destination is left to write to (every sink or target failed)");
		return;		/* stream_fail scheduled another pump */
	}
	/*
	 * The chunk being filled counts against the budget but cannot drain
	 * while the producer is paused, so the low watermark is measured on
	 * the queued bytes alone (else a budget of two chunks never resumes).
	 */
	if (st->paused && !xform_blocked(st->pipe) &&
	    st->live - (st->pipe->in_fill != NULL ?
	    st->pipe->in_fill->cap : 0) <= st->low &&
	    st->live + st->p.chunk_size + st->pipe->reserved <= st->high)
		stream_resume(st, STREAM_PAUSE_LAG);
	if (st->state == ST_RUNNING && st->input_ended && !st->failed &&
	    all_caught_up(st)) {
		st->state = ST_DRAINED;
		st->owner->drained(st, st->owner_arg);
		return;
	}
	if (st->state == ST_ENDING && st->producer_closed && all_final(st) &&
	    st->pipe->inflight == 0) {
		st->state = ST_FINISHED;
		evtimer_del(st->tick_ev);
		st->owner->finished(st, st->owner_arg);	/* may free st */
	}
}

/* Once a second: fail writers that made no progress for too long. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*st = arg;
	struct writer	*w;
	uint64_t	 now = now_ms();
	size_t		 i;

	for (i = 0; i < st->nw; i++) {
		w = st->w[i];
		if (w->timeout_ms <= 0 ||
		    (w->state != W_BLOCKED && w->state != W_COMMITTING))
			continue;
		if (now - w->last_progress > (uint64_t)w->timeout_ms)
			stream_writer_fail(w, "no progress for %.1f s "
			    "(timeout)", w->timeout_ms / 1000.0);
	}
}
