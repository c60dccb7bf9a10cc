/*
 * sinkio.c - operations on one sink through the plugin's callbacks.
 *
 * Small puts and gets run as ordinary streams (a memory producer or
 * writer on one side), so that chunks, timeouts and ZB_AGAIN behave for
 * plugins exactly as in a backup.  List and remove use a small operation
 * object whose zb_io the plugin completes; an operation is freed only
 * once both its start call has returned and it has completed, so a
 * plugin may call done() before returning.
 */
#include "zb-build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "plugin.h"
#include "sinkio.h"
#include "stream.h"
#include "util.h"
#include "writers.h"

#define SMALL_CHUNK	(64 * 1024)

/* ---- the sink's core prefix -------------------------------------------- */

char *
sinkio_key(const struct zb_inst *sink, const char *key)
{
	return sink->key_prefix != NULL ?
	    xasprintf("%s%s", sink->key_prefix, key) : xstrdup(key);
}

/* A key the plugin reported, without the prefix; NULL: outside it. */
static const char *
strip_key(const struct zb_inst *sink, const char *key)
{
	size_t	 n;

	if (sink->key_prefix == NULL)
		return key;
	n = strlen(sink->key_prefix);
	return strncmp(key, sink->key_prefix, n) == 0 ? key + n : NULL;
}

int
sinkio_put_open(struct zb_inst *sink, struct zb_io *w, const char *key,
    const struct zb_writer_ops **ops, void **wctx)
{
	char	*k = sinkio_key(sink, key);
	int	 rc;

	rc = sink->plugin->desc.put_open(sink->ctx, w, k, ops, wctx);
	free(k);
	return rc;
}

int
sinkio_get_file(struct zb_inst *sink, const char *key)
{
	char	*k;
	int	 fd;

	if (sink->plugin->desc.get_file == NULL)
		return -1;
	k = sinkio_key(sink, key);
	fd = sink->plugin->desc.get_file(sink->ctx, k);
	if (fd == -1)
		log_debug("%s: %s is not available as a file: %s",
		    sink->sec->title, k, strerror(errno));
	free(k);
	return fd;
}

/* ---- small transfers as streams ---------------------------------------- */

struct xfer {
	struct stream	*st;
	struct writer	*w;		/* get: the memory writer */
	struct buf	 mem;		/* get: the object */
	size_t		 max;		/* get: its size limit */
	char		 too_big[96];	/* get: the reason, once over max */
	sinkio_done_fn	 put_cb;
	sinkio_data_fn	 get_cb;
	void		*arg;
};

static void
xfer_drained(struct stream *st, void *arg)
{
	stream_commit(st);
}

static void
xfer_finished(struct stream *st, void *arg)
{
	struct xfer	*x = arg;
	const char	*err = NULL;
	int		 ok;

	ok = !st->failed && stream_committed(st) == st->nw;
	if (!ok && x->too_big[0] != '\0')
		err = x->too_big;	/* not the stream's "no destination" */
	else if (!ok)	/* the writer's reason ("no progress for 1.0 s")
			   says more than the stream's ("no destination") */
		err = st->nw > 0 && st->w[0]->error != NULL ?
		    st->w[0]->error : st->error != NULL ? st->error :
		    "failed";
	if (x->put_cb != NULL)
		x->put_cb(x->arg, ok ? ZB_OK : ZB_ERR, err);
	else
		x->get_cb(x->arg, ok ? ZB_OK : ZB_ERR, err, x->mem.data,
		    x->mem.len);
	stream_free(st);
	buf_free(&x->mem);
	free(x);
}

static const struct stream_owner xfer_owner = {
	xfer_drained, xfer_finished
};

static void
mem_close(void *pctx)
{
}

static const struct zb_producer_ops mem_producer_ops = {
	NULL, NULL, mem_close
};

/* A get's writer: the object into x->mem, refused past x->max bytes. */
static int
get_write(void *wctx, const struct zb_chunk *c)
{
	struct xfer	*x = wctx;

	if (c->len > x->max - x->mem.len) {
		snprintf(x->too_big, sizeof(x->too_big), "larger than %zu "
		    "bytes, the limit for this object", x->max);
		stream_writer_fail(x->w, "%s", x->too_big);
		return ZB_ERR;
	}
	return buf_add(&x->mem, c->data, c->len) == 0 ? ZB_OK : ZB_ERR;
}

static int
get_commit(void *wctx)
{
	return ZB_OK;
}

static void
get_abort(void *wctx)
{
}

static const struct zb_writer_ops get_writer_ops = {
	get_write, get_commit, get_abort
};

static struct stream *
small_stream(const char *name, struct xfer *x, enum stream_dir dir)
{
	struct stream_params	 p;

	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.comp.algo = COMP_NONE;
	p.chunk_size = SMALL_CHUNK;
	p.budget = 4 * SMALL_CHUNK;
	p.name = name;
	return stream_new(&p, &xfer_owner, x);
}

void
sinkio_put_buf(struct zb_inst *sink, const char *key, const void *data,
    size_t len, int flags, sinkio_done_fn cb, void *arg)
{
	const struct zb_writer_ops	*ops;
	struct xfer			*x;
	struct writer			*w;
	void				*wctx;
	char				*name;

	x = xcalloc(1, sizeof(*x));
	x->put_cb = cb;
	x->arg = arg;
	name = xasprintf("%s %s", sink->prefix, key);
	x->st = small_stream(name, x, STREAM_STORE);
	stream_set_put_size(x->st, (int64_t)len);
	if (flags & SINKIO_IN_PLACE)
		stream_set_put_in_place(x->st);
	free(name);
	x->st->io.inst = sink;
	w = stream_writer_new(x->st, sink->sec->title, sink->timeout_ms);
	w->io.inst = sink;
	if (sinkio_put_open(sink, &w->io, key, &ops, &wctx) == ZB_OK)
		stream_writer_attach(w, ops, wctx);
	else
		stream_writer_fail(w, "cannot open %s for writing", key);
	/* The memory producer: everything at once. */
	if (len > 0)
		(void)io_push(&x->st->io, data, len);
	io_done(&x->st->io, ZB_OK, NULL);
	stream_set_producer(x->st, &mem_producer_ops, NULL);
}

int
sinkio_get_into(struct zb_inst *sink, const char *key, struct stream *st)
{
	const struct zb_plugin_desc	*d = &sink->plugin->desc;
	const struct zb_producer_ops	*ops;
	void				*pctx;
	char				 msg[1024], *k;
	int				 rc;

	st->io.inst = sink;
	k = sinkio_key(sink, key);
	rc = d->get_open(sink->ctx, &st->io, k, &ops, &pctx);
	free(k);
	if (rc != ZB_OK) {
		snprintf(msg, sizeof(msg), "%s cannot read %s", sink->prefix,
		    key);
		stream_producer_failed(st, msg);
		return -1;
	}
	stream_set_producer(st, ops, pctx);
	return 0;
}

void
sinkio_get_buf(struct zb_inst *sink, const char *key, size_t max,
    sinkio_data_fn cb, void *arg)
{
	struct xfer	*x;
	struct writer	*w;
	char		*name;

	x = xcalloc(1, sizeof(*x));
	x->get_cb = cb;
	x->arg = arg;
	buf_init(&x->mem, max);
	x->max = max;
	name = xasprintf("%s %s", sink->prefix, key);
	x->st = small_stream(name, x, STREAM_LOAD);
	free(name);
	w = stream_writer_new(x->st, "memory", 0);
	x->w = w;
	stream_writer_attach(w, &get_writer_ops, x);
	(void)sinkio_get_into(sink, key, x->st);
}

/* ---- list and remove ---------------------------------------------------- */

struct op {
	struct zb_io	 io;
	int		 starting;
	int		 completed;
	int		 status;
	char		*err;
	sinkio_entry_fn	 entry_cb;
	sinkio_pending_fn pending_cb;
	sinkio_done_fn	 done_cb;
	void		*arg;
};

static void
op_finish(struct op *o)
{
	o->done_cb(o->arg, o->status, o->err);
	free(o->err);
	free(o);
}

static void
op_done(struct zb_io *io, int status, const char *msg)
{
	struct op	*o = (struct op *)io;

	if (o->completed)
		return;
	o->completed = 1;
	o->status = status;
	o->err = msg != NULL ? xstrdup(msg) : NULL;
	if (!o->starting)
		op_finish(o);
}

static void
op_list_add(struct zb_io *io, const struct zb_list_entry *e)
{
	struct op		*o = (struct op *)io;
	struct zb_list_entry	 s = *e;

	s.key = strip_key(io->inst, e->key);
	if (!o->completed && o->entry_cb != NULL && s.key != NULL)
		o->entry_cb(o->arg, &s);
}

static void
op_pending_add(struct zb_io *io, const struct zb_pending_entry *e)
{
	struct op		*o = (struct op *)io;
	struct zb_pending_entry	 s = *e;

	s.key = strip_key(io->inst, e->key);
	if (!o->completed && o->pending_cb != NULL && s.key != NULL)
		o->pending_cb(o->arg, &s);
}

static const struct io_vtbl pending_vtbl = {
	.kind = "list_pending", .done = op_done, .pending_add = op_pending_add
};
static const struct io_vtbl list_vtbl = {
	.kind = "list", .done = op_done, .list_add = op_list_add
};
static const struct io_vtbl remove_vtbl = {
	.kind = "remove", .done = op_done
};

static struct op *
op_new(struct zb_inst *sink, const struct io_vtbl *vt, sinkio_done_fn cb,
    void *arg)
{
	struct op	*o = xcalloc(1, sizeof(*o));

	o->io.vt = vt;
	o->io.inst = sink;
	o->done_cb = cb;
	o->arg = arg;
	o->starting = 1;
	return o;
}

/* After the plugin's start call returned rc. */
static void
op_started(struct op *o, int rc, const char *what)
{
	o->starting = 0;
	if (o->completed) {
		op_finish(o);
		return;
	}
	if (rc == ZB_ERR) {
		o->completed = 1;
		o->status = ZB_ERR;
		o->err = xstrdup(what);
		op_finish(o);
	}
}

void
sinkio_list(struct zb_inst *sink, const char *prefix, sinkio_entry_fn ecb,
    sinkio_done_fn cb, void *arg)
{
	struct op	*o = op_new(sink, &list_vtbl, cb, arg);
	char		*k = sinkio_key(sink, prefix);
	int		 rc;

	o->entry_cb = ecb;
	rc = sink->plugin->desc.list(sink->ctx, &o->io, k);
	free(k);
	op_started(o, rc, "the plugin could not start listing");
}

void
sinkio_remove(struct zb_inst *sink, const char *key, sinkio_done_fn cb,
    void *arg)
{
	struct op	*o = op_new(sink, &remove_vtbl, cb, arg);
	char		*k = sinkio_key(sink, key);
	int		 rc;

	rc = sink->plugin->desc.remove(sink->ctx, &o->io, k);
	free(k);
	op_started(o, rc, "the plugin could not start the removal");
}

void
sinkio_cleanup(struct zb_inst *sink, int64_t older_than_s, sinkio_done_fn cb,
    void *arg)
{
	struct op	*o;
	int		 rc;

	if (sink->plugin->desc.cleanup == NULL) {
		cb(arg, ZB_OK, NULL);	/* nothing to clean up */
		return;
	}
	o = op_new(sink, &remove_vtbl, cb, arg);
	rc = sink->plugin->desc.cleanup(sink->ctx, &o->io, older_than_s);
	op_started(o, rc, "the plugin could not start the cleanup");
}

int
sinkio_has_pending(const struct zb_inst *sink)
{
	return sink->plugin->desc.list_pending != NULL &&
	    sink->plugin->desc.remove_pending != NULL;
}

void
sinkio_list_pending(struct zb_inst *sink, const char *prefix,
    sinkio_pending_fn ecb, sinkio_done_fn cb, void *arg)
{
	struct op	*o;
	char		*k;
	int		 rc;

	if (!sinkio_has_pending(sink)) {
		cb(arg, ZB_OK, NULL);	/* nothing it can show */
		return;
	}
	o = op_new(sink, &pending_vtbl, cb, arg);
	o->pending_cb = ecb;
	k = sinkio_key(sink, prefix);
	rc = sink->plugin->desc.list_pending(sink->ctx, &o->io, k);
	free(k);
	op_started(o, rc, "the plugin could not start listing pending puts");
}

void
sinkio_remove_pending(struct zb_inst *sink, const char *key,
    const char *handle, sinkio_done_fn cb, void *arg)
{
	struct op	*o = op_new(sink, &remove_vtbl, cb, arg);
	char		*k = sinkio_key(sink, key);
	int		 rc;

	rc = sink->plugin->desc.remove_pending(sink->ctx, &o->io, k,
	    handle);
	free(k);
	op_started(o, rc, "the plugin could not start the removal");
}
