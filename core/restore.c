/*
 * restore.c - reading an artifact back: verify and restore.
 *
 * The producer is the sink's get of the data object; the stream core
 * hashes the stored bytes (hash_in), decompresses, and hashes the
 * plaintext (hash_out) on the way to the writer.  Only when the producer
 * has ended and both hashes and sizes equal the manifest's is the writer
 * committed; on any mismatch it is aborted, so a restore target never
 * looks complete after a corrupt or truncated read.
 *
 * restore_start is asynchronous: verify first reads the sidecar, then
 * the data streams; the caller's callback gets a struct restore_result.
 * Nothing here runs the loop.  The first SIGINT/SIGTERM aborts every
 * read in progress (an interrupt hook, like http.c's and child.c's).
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "layout.h"
#include "log.h"
#include "plugin.h"
#include "progress.h"
#include "reactor.h"
#include "restore.h"
#include "sinkio.h"
#include "stream.h"
#include "util.h"
#include "writers.h"

struct restore {
	LIST_ENTRY(restore)	 entry;		/* live reads */
	struct zb_config	*cfg;
	const struct artifact	*a;
	struct restore_opts	 o;
	struct zb_inst		*sink;
	struct stream		*st;
	struct progress		*prog;
	char			*name;
	int			 stored_only;	/* encrypted, no identity */
	int			 ended;
	uint64_t		 t0, t_read;
	struct restore_result	 res;
	restore_done_fn		 done;
	void			*arg;
};

static LIST_HEAD(, restore) live = LIST_HEAD_INITIALIZER(live);

static void	rs_end(struct restore *, int status);

/* Log why r failed; the first reason is the result's error. */
static void ZB_PRINTF(2, 3)
rs_fail(struct restore *r, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	if (r->res.error == NULL)
		r->res.error = xstrdup(msg);
}

static void
rd_drained(struct stream *st, void *arg)
{
	struct restore		*r = arg;
	const struct artifact	*a = r->a;

	if (st->bytes_in != a->stored_size ||
	    strcmp(st->sha_in, a->stored_sha) != 0) {
		stream_abort(st, "stored data does not match the manifest: "
		    "%" PRIu64 " bytes with SHA-256 %s, expected %" PRIu64
		    " bytes with %s", st->bytes_in, st->sha_in,
		    a->stored_size, a->stored_sha);
		return;
	}
	if (!r->stored_only && a->plain_sha[0] != '\0' &&
	    (st->bytes_out != a->plain_size ||
	    strcmp(st->sha_out, a->plain_sha) != 0)) {
		stream_abort(st, "restored data does not match the manifest: "
		    "%" PRIu64 " bytes with SHA-256 %s, expected %" PRIu64
		    " bytes with %s", st->bytes_out, st->sha_out,
		    a->plain_size, a->plain_sha);
		return;
	}
	if (!r->stored_only && st->bytes_out != a->plain_size) {
		stream_abort(st, "restored data does not match the manifest: "
		    "%" PRIu64 " bytes, expected %" PRIu64 " bytes",
		    st->bytes_out, a->plain_size);
		return;
	}
	stream_commit(st);
}

static void
rd_finished(struct stream *st, void *arg)
{
	struct restore	*r = arg;
	size_t		 i;
	int		 ok;

	ok = !st->failed && stream_committed(st) == st->nw;
	r->res.peak_buffered = st->live_peak;
	r->res.budget = st->high;
	r->res.restore_ms = now_ms() - r->t_read;
	if (!ok && r->res.error == NULL) {
		/*
		 * The stream logged it; the result says it too: a writer's
		 * own reason, else the stream's (whose failure gives its
		 * writers a plain "stream aborted").
		 */
		for (i = 0; i < st->nw && r->res.error == NULL; i++)
			if (st->w[i]->error != NULL &&
			    strcmp(st->w[i]->error, "stream aborted") != 0)
				r->res.error = xstrdup(st->w[i]->error);
		if (r->res.error == NULL)
			r->res.error = xstrdup(st->error != NULL ? st->error :
			    "failed");
	}
	rs_end(r, ok ? 0 : -1);
}

static const struct stream_owner rd_owner = { rd_drained, rd_finished };

/* The first SIGINT/SIGTERM: abort every read in progress. */
static void
rs_interrupt(int sig, void *arg)
{
	struct restore	*r;

	LIST_FOREACH(r, &live, entry)
		if (r->st != NULL && !r->ended)
			stream_abort(r->st, "interrupted by signal %d", sig);
}

static uint64_t
rd_bytes(void *arg)
{
	return ((struct stream *)arg)->bytes_in;
}

/*
 * test-restore: the plugin's scratch restore, with the manifest's facts
 * on the stream for it to compare against.
 */
static int
open_test_target(struct restore *r, struct zb_inst *inst, struct writer *w)
{
	const struct artifact		*a = r->a;
	const struct restore_opts	*o = &r->o;
	const struct zb_writer_ops	*ops;
	struct zb_restore_req		 req;
	const char			*err;
	void				*wctx;

	if (inst->plugin->desc.test_restore_open == NULL) {
		rs_fail(r, "%s: plugin '%s' of %s has no test restore (use "
		    "`verify --deep')", a->id, inst->plugin->desc.name,
		    inst->prefix);
		return -1;
	}
	if (w->st->facts == NULL && artifact_facts(a, o->identities,
	    &w->st->facts, &err) == -1) {
		rs_fail(r, "%s (sink:%s): %s", a->id, a->sink, err);
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.artifact_id = a->id;
	req.stream = a->stream;
	if (inst->plugin->desc.test_restore_open(inst->ctx, &w->io, &req,
	    &ops, &wctx) != ZB_OK) {
		rs_fail(r, "%s: %s could not start a test restore", a->id,
		    inst->prefix);
		return -1;
	}
	stream_writer_attach(w, ops, wctx);
	return 0;
}

static int
open_target(struct restore *r, struct writer *w)
{
	struct zb_config		*cfg = r->cfg;
	const struct artifact		*a = r->a;
	const struct restore_opts	*o = &r->o;
	const struct zb_writer_ops	*ops;
	struct zb_restore_req		 req;
	struct cfg_section		*src;
	struct zb_inst			*inst;
	void				*wctx;
	const char			*err;
	char				*title;

	if (o->verify_only) {
		stream_writer_attach(w, &null_writer_ops, NULL);
		return 0;
	}
	title = xasprintf("source:%s", a->source);
	src = config_section(cfg, title);
	free(title);
	inst = src != NULL ? src->inst : NULL;
	if (o->test && inst == NULL) {
		rs_fail(r, "%s: no [source:%s] in %s: test-restore needs the "
		    "source's configuration", a->id, a->source, cfg->path);
		return -1;
	}
	if (inst == NULL || (inst->plugin->desc.restore_open == NULL &&
	    o->target != NULL)) {
		/* No source that knows better: the plaintext into a file. */
		if (o->target == NULL) {
			rs_fail(r, "%s: no [source:%s] in %s to restore into; "
			    "give --to FILE to write the data to a file",
			    a->id, a->source, cfg->path);
			return -1;
		}
		if (file_writer_open(&w->io, a->id, o->target, o->force, &ops,
		    &wctx) != ZB_OK)
			return -1;
		stream_writer_attach(w, ops, wctx);
		return 0;
	}
	w->io.inst = inst;
	/* What the backup recorded, for the plugin (host->fact_get). */
	if (!o->test && artifact_facts(a, o->identities, &w->st->facts,
	    &err) == -1)
		log_warnx("%s (sink:%s): %s; restoring without them", a->id,
		    a->sink, err);
	if (o->test)
		return open_test_target(r, inst, w);
	if (inst->plugin->desc.restore_open == NULL) {
		rs_fail(r, "%s plugin '%s' cannot restore", inst->prefix,
		    inst->plugin->desc.name);
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.artifact_id = a->id;
	req.stream = a->stream;
	req.target = o->target;
	req.force = o->force;
	if (inst->plugin->desc.restore_open(inst->ctx, &w->io, &req, &ops,
	    &wctx) != ZB_OK) {
		rs_fail(r, "%s: %s could not open the restore target",
		    a->id, inst->prefix);
		return -1;
	}
	stream_writer_attach(w, ops, wctx);
	return 0;
}

/* Deliver r's result on the loop, then free it. */
static void
rs_deliver(void *arg)
{
	struct restore	*r = arg;

	progress_stop(r->prog);
	if (r->st != NULL)
		stream_free(r->st);
	LIST_REMOVE(r, entry);
	r->res.elapsed_ms = now_ms() - r->t0;
	r->done(r->arg, &r->res);
	free(r->res.error);
	free(r->name);
	free(r);
}

/* The end: the result goes out from a timer, never from a caller. */
static void
rs_end(struct restore *r, int status)
{
	if (r->ended)
		return;
	r->ended = 1;
	r->res.status = status;
	if (status != 0 && r->res.error == NULL)
		r->res.error = xstrdup("failed");
	(void)reactor_timer_add(0, rs_deliver, r);
}

/* Read the data object through the stream core into the target. */
static void
rs_read(struct restore *r)
{
	const struct artifact	*a = r->a;
	struct stream_params	 p;
	struct writer		*w;
	char			*key;

	if (reactor_interrupted()) {
		rs_fail(r, "%s (sink:%s): not read: interrupted", a->id,
		    a->sink);
		rs_end(r, -1);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.dir = STREAM_LOAD;
	p.comp = a->comp;
	if (a->encrypted && r->o.identities == NULL) {
		/* Without a key: the stored bytes against the manifest. */
		r->stored_only = 1;
		p.comp.algo = COMP_NONE;
		log_info("%s is encrypted and no identity was given: checking "
		    "the stored bytes only", a->id);
	} else if (a->encrypted)
		p.age = r->o.identities;
	/* No SHA-256 recorded: the codec's or age's check covers it. */
	p.skip_plain_sha256 = a->plain_sha[0] == '\0';
	p.chunk_size = r->cfg->chunk_size;
	p.budget = r->cfg->max_buffer;
	r->name = xasprintf("%s (from sink:%s)", a->id, a->sink);
	p.name = r->name;
	r->t_read = now_ms();
	r->st = stream_new(&p, &rd_owner, r);
	r->st->stream_name = xstrdup(a->stream);
	r->st->artifact_id = xstrdup(a->id);
	w = stream_writer_new(r->st, r->o.verify_only ? "verify" :
	    r->o.test ? "test-restore" : "restore", 0);
	if (open_target(r, w) == -1)
		stream_writer_fail(w, "%s", "cannot open the restore target");
	key = layout_data_key(a->dir, a->data);
	(void)sinkio_get_into(r->sink, key, r->st);
	free(key);
	if (!r->ended)
		r->prog = progress_start(r->name, a->stored_size, rd_bytes,
		    r->st);
}

/* The .sha256 sidecar must name the manifest's hash and data file. */
static void
on_sidecar(void *arg, int status, const char *err, const char *data,
    size_t len)
{
	struct restore		*r = arg;
	const struct artifact	*a = r->a;
	char			*key, *want;

	key = layout_sidecar_key(a->dir, a->data);
	if (status != ZB_OK) {
		rs_fail(r, "%s %s: cannot read the checksum sidecar: %s",
		    r->sink->prefix, a->id, err ? err : "error");
		free(key);
		rs_end(r, -1);
		return;
	}
	want = layout_sidecar_text(a->stored_sha, a->data);
	if (len != strlen(want) || memcmp(data, want, len) != 0) {
		rs_fail(r, "%s %s: checksum sidecar %s does not match the "
		    "manifest", r->sink->prefix, a->id, key);
		free(want);
		free(key);
		rs_end(r, -1);
		return;
	}
	free(want);
	free(key);
	rs_read(r);
}

void
restore_start(struct zb_config *cfg, const struct artifact *a,
    const struct restore_opts *o, restore_done_fn done, void *arg)
{
	struct restore	*r;
	char		*key;

	r = xcalloc(1, sizeof(*r));
	r->cfg = cfg;
	r->a = a;
	r->o = *o;
	r->done = done;
	r->arg = arg;
	r->t0 = now_ms();
	LIST_INSERT_HEAD(&live, r, entry);
	reactor_on_interrupt(rs_interrupt, NULL);
	r->sink = catalog_sink(cfg, a->sink);
	if (r->sink == NULL) {
		rs_fail(r, "%s: no [sink:%s] configured", a->id, a->sink);
		rs_end(r, -1);
		return;
	}
	if (reactor_interrupted()) {
		rs_fail(r, "%s (sink:%s): not read: interrupted", a->id,
		    a->sink);
		rs_end(r, -1);
		return;
	}
	if (a->encrypted && o->identities == NULL && !o->verify_only) {
		rs_fail(r, "%s is encrypted: give --identity FILE or "
		    "--passphrase-file FILE", a->id);
		rs_end(r, -1);
		return;
	}
	if (!o->verify_only) {
		rs_read(r);
		return;
	}
	key = layout_sidecar_key(a->dir, a->data);
	sinkio_get_buf(r->sink, key, 4096, on_sidecar, r);
	free(key);
}
