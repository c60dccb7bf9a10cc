/*
 * restore.c - reading an artifact back: verify and restore.
 *
 * The producer is the sink's get of the data object; the stream core
 * hashes the stored bytes (hash_in), decompresses, and hashes the
 * plaintext (hash_out) on the way to the writer.  Only when the producer
 * has ended and both hashes and sizes equal the manifest's is the writer
 * committed; on any mismatch it is aborted, so a restore target never
 * looks complete after a corrupt or truncated read.
 */
#include "zb-build.h"

#include <inttypes.h>
#include <signal.h>
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

struct reader {
	const struct artifact	*a;
	int			 stored_only;	/* encrypted, no identity */
	int			 done;
	int			 ok;
};

static void
rd_drained(struct stream *st, void *arg)
{
	struct reader		*r = arg;
	const struct artifact	*a = r->a;

	if (st->bytes_in != a->stored_size ||
	    strcmp(st->sha_in, a->stored_sha) != 0) {
		stream_abort(st, "stored data does not match the manifest: "
		    "%" PRIu64 " bytes with SHA-256 %s, expected %" PRIu64
		    " bytes with %s", st->bytes_in, st->sha_in,
		    a->stored_size, a->stored_sha);
		return;
	}
	if (!r->stored_only && (st->bytes_out != a->plain_size ||
	    strcmp(st->sha_out, a->plain_sha) != 0)) {
		stream_abort(st, "restored data does not match the manifest: "
		    "%" PRIu64 " bytes with SHA-256 %s, expected %" PRIu64
		    " bytes with %s", st->bytes_out, st->sha_out,
		    a->plain_size, a->plain_sha);
		return;
	}
	stream_commit(st);
}

static void
rd_finished(struct stream *st, void *arg)
{
	struct reader	*r = arg;

	r->ok = !st->failed && stream_committed(st) == st->nw;
	r->done = 1;
}

static const struct stream_owner rd_owner = { rd_drained, rd_finished };

static void
rd_signal(int sig, void *arg)
{
	if (sig != SIGHUP)
		stream_abort(arg, "interrupted by signal %d", sig);
}

static uint64_t
rd_bytes(void *arg)
{
	return ((struct stream *)arg)->bytes_in;
}

/* The .sha256 sidecar must name the manifest's hash and data file. */
static int
check_sidecar(struct zb_inst *sink, const struct artifact *a)
{
	char	*key, *data, *err, *want;
	size_t	 len;
	int	 rc = 0;

	key = layout_sidecar_key(a->dir, a->data);
	if (sinkio_get_buf_wait(sink, key, 4096, &data, &len, &err) == -1) {
		log_warnx("%s %s: cannot read the checksum sidecar: %s",
		    sink->prefix, a->id, err ? err : "error");
		free(err);
		free(key);
		return -1;
	}
	want = layout_sidecar_text(a->stored_sha, a->data);
	if (strcmp(data, want) != 0) {
		log_warnx("%s %s: checksum sidecar %s does not match the "
		    "manifest", sink->prefix, a->id, key);
		rc = -1;
	}
	free(want);
	free(data);
	free(key);
	return rc;
}

/*
 * test-restore: the plugin's scratch restore, with the manifest's facts
 * on the stream for it to compare against.
 */
static int
open_test_target(struct zb_inst *inst, const struct artifact *a,
    const struct restore_opts *o, struct writer *w)
{
	const struct zb_writer_ops	*ops;
	struct zb_restore_req		 req;
	const char			*err;
	void				*wctx;

	if (inst->plugin->desc.test_restore_open == NULL) {
		log_warnx("%s: plugin '%s' of %s has no test restore (use "
		    "`verify --deep')", a->id, inst->plugin->desc.name,
		    inst->prefix);
		return -1;
	}
	if (w->st->facts == NULL && artifact_facts(a, o->identities,
	    &w->st->facts, &err) == -1) {
		log_warnx("%s (sink:%s): %s", a->id, a->sink, err);
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.artifact_id = a->id;
	req.stream = a->stream;
	if (inst->plugin->desc.test_restore_open(inst->ctx, &w->io, &req,
	    &ops, &wctx) != ZB_OK) {
		log_warnx("%s: %s could not start a test restore", a->id,
		    inst->prefix);
		return -1;
	}
	stream_writer_attach(w, ops, wctx);
	return 0;
}

static int
open_target(struct zb_config *cfg, const struct artifact *a,
    const struct restore_opts *o, struct writer *w)
{
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
		log_warnx("%s: no [source:%s] in %s: test-restore needs the "
		    "source's configuration", a->id, a->source, cfg->path);
		return -1;
	}
	if (inst == NULL || (inst->plugin->desc.restore_open == NULL &&
	    o->target != NULL)) {
		/* No source that knows better: the plaintext into a file. */
		if (o->target == NULL) {
			log_warnx("%s: no [source:%s] in %s to restore into; "
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
		return open_test_target(inst, a, o, w);
	if (inst->plugin->desc.restore_open == NULL) {
		log_warnx("%s plugin '%s' cannot restore", inst->prefix,
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
		log_warnx("%s: %s could not open the restore target",
		    a->id, inst->prefix);
		return -1;
	}
	stream_writer_attach(w, ops, wctx);
	return 0;
}

int
restore_copy(struct zb_config *cfg, const struct artifact *a,
    struct restore_opts *o)
{
	struct stream_params	 p;
	struct reader		 r = { .a = a };
	struct zb_inst		*sink = catalog_sink(cfg, a->sink);
	struct stream		*st;
	struct writer		*w;
	struct progress		*prog;
	char			*name, *key;

	if (sink == NULL) {
		log_warnx("%s: no [sink:%s] configured", a->id, a->sink);
		return -1;
	}
	if (reactor_interrupted()) {
		log_warnx("%s (sink:%s): not read: interrupted", a->id, a->sink);
		return -1;
	}
	if (o->verify_only && check_sidecar(sink, a) == -1)
		return -1;
	if (a->encrypted && o->identities == NULL && !o->verify_only) {
		log_warnx("%s is encrypted: give --identity FILE or "
		    "--passphrase-file FILE", a->id);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.dir = STREAM_LOAD;
	p.comp = a->comp;
	if (a->encrypted && o->identities == NULL) {
		/* Without a key: the stored bytes against the manifest. */
		r.stored_only = 1;
		p.comp.algo = COMP_NONE;
		log_info("%s is encrypted and no identity was given: checking "
		    "the stored bytes only", a->id);
	} else if (a->encrypted)
		p.age = o->identities;
	p.chunk_size = cfg->chunk_size;
	p.budget = cfg->max_buffer;
	name = xasprintf("%s (from sink:%s)", a->id, a->sink);
	p.name = name;
	st = stream_new(&p, &rd_owner, &r);
	st->stream_name = xstrdup(a->stream);
	st->artifact_id = xstrdup(a->id);
	w = stream_writer_new(st, o->verify_only ? "verify" : o->test ?
	    "test-restore" : "restore", 0);
	if (open_target(cfg, a, o, w) == -1) {
		stream_writer_fail(w, "%s", "cannot open the restore target");
	}
	key = layout_data_key(a->dir, a->data);
	(void)sinkio_get_into(sink, key, st);
	free(key);
	prog = progress_start(name, a->stored_size, rd_bytes, st);
	reactor_on_signal(rd_signal, st);
	reactor_run_until(&r.done);
	reactor_on_signal(NULL, NULL);
	progress_stop(prog);
	o->peak_buffered = st->live_peak;
	o->budget = st->high;
	free(name);
	stream_free(st);
	return r.ok ? 0 : -1;
}
