/*
 * stream.c - the stream core.
 *
 * A producer (a source's stream, or a sink's get) pushes bytes.  They are
 * hashed, run through the codec, hashed again and copied into fixed-size
 * chunks; a full chunk is queued once and shared by reference by every
 * writer (the sinks' puts, or a restore target).  Each writer has a cursor
 * into the queue; a chunk is freed when the last writer is past it (and
 * no plugin holds a reference).
 *
 * Invariants:
 *  - live (bytes of allocated chunks) only grows in push(); when one
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

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "codec.h"
#include "log.h"
#include "reactor.h"
#include "stream.h"
#include "util.h"

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
 * Input a producer pushed but the codec could not take yet (the budget had
 * no room for its output) waits here; a producer that honours pause()
 * leaves at most about one push in it.  Beyond this it ignores pause().
 */
#define PENDING_MAX	(64 * 1024 * 1024)

static void	pump_schedule(struct stream *);
static void	writer_release(struct writer *);
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

/* codec output: hash it and copy it into chunks. */
static int
emit_out(void *arg, const void *buf, size_t len)
{
	struct stream		*st = arg;
	const unsigned char	*p = buf;
	size_t			 n;

	EVP_DigestUpdate(st->hash_out, buf, len);
	st->bytes_out += len;
	while (len > 0) {
		if (st->fill == NULL)
			st->fill = chunk_new(st);
		n = st->fill->cap - st->fill->pub.len;
		if (n > len)
			n = len;
		memcpy(st->fill->data + st->fill->pub.len, p, n);
		st->fill->pub.len += n;
		p += n;
		len -= n;
		if (st->fill->pub.len == st->fill->cap) {
			enqueue(st, st->fill);
			st->fill = NULL;
		}
	}
	return 0;
}

/* codec output: encrypted first when storing to age recipients. */
static int
emit(void *arg, const void *buf, size_t len)
{
	struct stream	*st = arg;

	if (st->enc != NULL)
		return age_enc_update(st->enc, buf, len, emit_out, st);
	return emit_out(st, buf, len);
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
	const char	*err;
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
	buf_init(&st->pending, PENDING_MAX);
	st->high = p->budget;
	if (st->high < 2 * p->chunk_size)
		st->high = 2 * p->chunk_size;
	st->low = st->high / 4;
	st->hash_in = EVP_MD_CTX_new();
	st->hash_out = EVP_MD_CTX_new();
	if (st->hash_in == NULL || st->hash_out == NULL ||
	    EVP_DigestInit_ex(st->hash_in, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(st->hash_out, EVP_sha256(), NULL) != 1)
		fatalx("%s: cannot set up SHA-256", __func__);
	st->codec = codec_new(&p->comp, p->dir == STREAM_LOAD, &err);
	if (st->codec == NULL)
		fatalx("%s: %s", __func__, err);
	if (p->age != NULL && p->dir == STREAM_STORE) {
		char	 msg[256];

		st->enc = age_enc_new(p->age, msg, sizeof(msg));
		if (st->enc == NULL)
			fatalx("%s: age: %s", __func__, msg);
	} else if (p->age != NULL)
		st->dec = age_dec_new(p->age);
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
	if (st->fill != NULL)
		chunk_destroy(st->fill);
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
	EVP_MD_CTX_free(st->hash_in);
	EVP_MD_CTX_free(st->hash_out);
	codec_free(st->codec);
	age_enc_free(st->enc);
	age_dec_free(st->dec);
	buf_free(&st->pending);
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

/* Output bytes the budget has room for now (free fill space included). */
static size_t
room(const struct stream *st)
{
	size_t	 fill = st->fill != NULL ? st->fill->cap - st->fill->pub.len : 0;
	size_t	 r = (st->live >= st->high ? 0 : st->high - st->live) + fill;
	size_t	 slack;

	if (st->enc == NULL)
		return r;
	/*
	 * age adds a tag per 64 KiB chunk and its header once, and one
	 * update may release the chunk it was holding back.
	 */
	slack = r / (AGE_CHUNK / 16) + AGE_CHUNK + 32 +
	    (st->bytes_out == 0 ? 4096 : 0);
	return r > slack ? r - slack : 0;
}

static int
blocked(const struct stream *st)
{
	return st->codec_more || st->pending_off < st->pending.len;
}

/*
 * Run input through the codec while the budget has room for its output.
 * Returns the bytes taken, or -1 when the stream was aborted.
 */
static ssize_t
run_codec(struct stream *st, const unsigned char *p, size_t len)
{
	const char	*err;
	size_t		 used = 0, n, r;
	int		 rc;

	for (;;) {
		r = room(st);
		if (r < codec_min_room(st->codec))
			return (ssize_t)used;
		rc = codec_update(st->codec, p + used, len - used, &n, r, emit,
		    st, &err);
		if (rc == -1) {
			stream_abort(st, "%s: %s", st->p.dir == STREAM_STORE ?
			    "compression failed" : "stored data is corrupt",
			    err);
			return -1;
		}
		used += n;
		st->codec_more = rc == 1;
		if (!st->codec_more)
			return (ssize_t)used;
	}
}

/* Feed what is pending; 0, or -1 when the stream was aborted. */
static int
feed_pending(struct stream *st)
{
	ssize_t	 n;

	if (!blocked(st))
		return 0;
	n = run_codec(st, (unsigned char *)st->pending.data + st->pending_off,
	    st->pending.len - st->pending_off);
	if (n == -1)
		return -1;
	st->pending_off += (size_t)n;
	if (st->pending_off == st->pending.len && !st->codec_more) {
		buf_reset(&st->pending);
		st->pending_off = 0;
	}
	return 0;
}

/*
 * Input for the codec (pushed bytes, or what decryption released): run it
 * through now if the budget has room, else keep it pending.  0 or -1.
 */
static int
accept_input(void *arg, const void *buf, size_t len)
{
	struct stream	*st = arg;
	ssize_t		 n = 0;

	/* Keep the order: behind pending input, the new bytes wait too. */
	if (!blocked(st)) {
		n = run_codec(st, buf, len);
		if (n == -1)
			return -1;
	}
	if ((size_t)n < len) {
		if (buf_add(&st->pending, (const char *)buf + n, len - n) == -1) {
			stream_abort(st, "the source does not honour pause()");
			return -1;
		}
		if (feed_pending(st) == -1)
			return -1;
	}
	return 0;
}

static int
decrypt(struct stream *st, const void *buf, size_t len, int end)
{
	enum age_status	 rc;

	rc = end ? age_dec_finish(st->dec, accept_input, st) :
	    age_dec_update(st->dec, buf, len, accept_input, st);
	if (rc == AGE_OK)
		return 0;
	if (!st->failed)
		stream_abort(st, "cannot decrypt: %s", age_dec_error(st->dec));
	return -1;
}

static int
st_push(struct zb_io *io, const void *buf, size_t len)
{
	struct stream	*st = (struct stream *)io;

	if (st->failed || st->producer_done || st->state != ST_RUNNING)
		return ZB_ERR;
	EVP_DigestUpdate(st->hash_in, buf, len);
	st->bytes_in += len;
	if ((st->dec != NULL ? decrypt(st, buf, len, 0) :
	    accept_input(st, buf, len)) == -1)
		return ZB_ERR;
	/*
	 * Pause while input is waiting or one more chunk would not fit: a
	 * producer that honours pause() and pushes at most a chunk at a time
	 * then never takes live past the budget.
	 */
	if (blocked(st) || st->live + st->p.chunk_size > st->high)
		stream_pause(st, STREAM_PAUSE_LAG);
	return st->pause_mask != 0 ? ZB_AGAIN : ZB_OK;
}

/* After the producer ended well and all input is through: flush, hash. */
static void	hex(const unsigned char *, char *);

static void
try_finish(struct stream *st)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	const char	*err;

	if (!st->want_finish || st->input_ended || st->failed || blocked(st))
		return;
	st->input_ended = 1;
	if (codec_finish(st->codec, emit, st, &err) == -1) {
		stream_abort(st, "%s: %s", st->p.dir == STREAM_STORE ?
		    "compression failed" : "stored data is corrupt", err);
		return;
	}
	if (st->enc != NULL && age_enc_finish(st->enc, emit_out, st) != 0) {
		stream_abort(st, "%s", "encryption failed");
		return;
	}
	if (st->fill != NULL) {
		enqueue(st, st->fill);
		st->fill = NULL;
	}
	EVP_DigestFinal_ex(st->hash_in, md, &mdlen);
	hex(md, st->sha_in);
	EVP_DigestFinal_ex(st->hash_out, md, &mdlen);
	hex(md, st->sha_out);
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

static void
st_done(struct zb_io *io, int status, const char *msg)
{
	struct stream	*st = (struct stream *)io;

	if (st->producer_done || st->failed)
		return;
	st->producer_done = 1;
	pump_schedule(st);	/* closes the producer */
	if (status != ZB_OK) {
		stream_abort(st, "source failed: %s", msg ? msg : "error");
		return;
	}
	/* The last chunk's plaintext is released here, or it is missing. */
	if (st->dec != NULL && decrypt(st, NULL, 0, 1) == -1)
		return;
	st->want_finish = 1;
	try_finish(st);
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

static const struct io_vtbl writer_vtbl = {
	.kind = "writer",
	.done = w_done,
	.ready = w_ready,
	.stream_name = w_stream_name,
	.facts = w_facts,
};

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
	if (!st->failed && feed_pending(st) == -1)
		return;		/* aborted: another pump is scheduled */
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
	if (st->paused && !blocked(st) &&
	    st->live - (st->fill != NULL ? st->fill->cap : 0) <= st->low)
		stream_resume(st, STREAM_PAUSE_LAG);
	if (blocked(st) && room(st) >= codec_min_room(st->codec))
		pump_schedule(st);	/* feed more next turn */
	if (st->state == ST_RUNNING && st->input_ended && !st->failed &&
	    all_caught_up(st)) {
		st->state = ST_DRAINED;
		st->owner->drained(st, st->owner_arg);
		return;
	}
	if (st->state == ST_ENDING && st->producer_closed && all_final(st)) {
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
