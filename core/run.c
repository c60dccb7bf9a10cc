/*
 * run.c - one backup run of a job.
 *
 * A run asks its source to plan (declare its streams), then runs at most
 * max_streams of them at once.  Each stream is teed to every sink of the
 * job through the stream core; a sink that committed the data then gets
 * the .sha256 sidecar and, last, the manifest (DESIGN.md section 3).  A
 * copy whose sidecar or manifest could not be written does not exist.
 *
 * Before a stream's data, the run writes an in-progress marker into the
 * artifact directory on every sink (naming this host and the job lock the
 * run holds), and removes it once the copy committed or failed: prune
 * and the garbage collector (gc.c) leave a live run's directories alone.
 * A sink whose marker could not be written gets no copy.
 *
 * Stamps come from state.c: unique per source on this host, so two runs
 * in one second never share artifact ids.
 *
 * Result: ok when every stream has a copy on every sink; partial when
 * every stream has at least one copy; failed otherwise.
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact.h"
#include "codec.h"
#include "gc.h"
#include "io.h"
#include "layout.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "run.h"
#include "sinkio.h"
#include "state.h"
#include "stream.h"
#include "util.h"

#define RUN_MAX_STREAMS	4096	/* per plan */
/*
 * At the start of a run, the garbage of its source's earlier runs that
 * was last written more than this long ago is removed (gc.c never
 * touches a live run's directories, whatever their age).
 */
#define RUN_CLEANUP_AGE	(24 * 3600)

struct run_stream {
	TAILQ_ENTRY(run_stream)	 entry;
	struct run		*run;
	char			*name;
	char			*ext;
	char			*id;
	char			*dir;
	char			*data;		/* data.<ext>[.zst] */
	struct stream		*st;
	time_t			 started;
	time_t			 finished;
	unsigned		 meta_pending;
	unsigned		 marks_pending;
	char			*mark_err[CFG_MAX_SINKS];
	unsigned		 copies_ok;
	int			 running;
};

struct meta_put {
	struct run_stream	*rs;
	struct zb_inst		*sink;
	char			*manifest;
};

struct run {
	struct zb_io		 io;	/* the plan's handle: first */
	struct zb_config	*cfg;
	struct cfg_job		*job;
	struct job_lock		*lock;		/* borrowed; may be NULL */
	struct zb_inst		*source;
	time_t			 start;
	char			 stamp[ZB_STAMP_LEN];
	uint64_t		 start_ms;
	TAILQ_HEAD(, run_stream) streams;
	unsigned		 nstreams;
	int			 planning;
	int			 plan_done;
	int			 plan_failed;
	unsigned		 active;
	unsigned		 side_ops;	/* gc, marker removals */
	int			 aborting;
	int			 ended;
	struct event		*advance_ev;
	run_done_fn		 cb;
	void			*arg;
	struct run_summary	 sum;
};

static void	advance(struct run *);

const char *
run_result_str(enum run_result r)
{
	switch (r) {
	case RUN_OK:
		return "ok";
	case RUN_PARTIAL:
		return "partial";
	default:
		return "failed";
	}
}

const char *
run_job_name(const struct run *run)
{
	return run->job->name;
}

uint64_t
run_bytes_in(const struct run *run)
{
	const struct run_stream	*rs;
	uint64_t		 n = run->sum.plain_bytes;

	TAILQ_FOREACH(rs, &run->streams, entry)
		if (rs->running && rs->st != NULL)
			n += rs->st->bytes_in;
	return n;
}

static void
schedule_advance(struct run *run)
{
	event_active(run->advance_ev, 0, 0);
}

/* ---- the plan handle ---------------------------------------------------- */

static int
plan_add_stream(struct zb_io *io, const char *name, const char *ext)
{
	struct run		*run = (struct run *)io;
	struct run_stream	*rs;

	if (!valid_name(name) || !valid_name(ext)) {
		log_warnx("[job:%s] %s plugin bug: bad stream name '%s' or "
		    "extension '%s'", run->job->name, run->source->prefix,
		    name, ext);
		return ZB_ERR;
	}
	TAILQ_FOREACH(rs, &run->streams, entry)
		if (strcmp(rs->name, name) == 0) {
			log_warnx("[job:%s] %s plugin bug: stream '%s' "
			    "declared twice", run->job->name,
			    run->source->prefix, name);
			return ZB_ERR;
		}
	if (run->nstreams == RUN_MAX_STREAMS || run->plan_done) {
		log_warnx("[job:%s] too many streams, or declared after the "
		    "plan ended", run->job->name);
		return ZB_ERR;
	}
	rs = xcalloc(1, sizeof(*rs));
	rs->run = run;
	rs->name = xstrdup(name);
	rs->ext = xstrdup(ext);
	rs->id = layout_artifact_id(run->source->sec->name, name,
	    run->stamp);
	rs->dir = layout_artifact_dir(run->source->sec->name, name,
	    run->stamp);
	rs->data = layout_data_name(ext, codec_ext(&run->job->comp),
	    run->cfg->encrypt);
	TAILQ_INSERT_TAIL(&run->streams, rs, entry);
	run->nstreams++;
	return ZB_OK;
}

static void
plan_done(struct zb_io *io, int status, const char *msg)
{
	struct run	*run = (struct run *)io;

	if (run->plan_done)
		return;
	run->plan_done = 1;
	if (status != ZB_OK) {
		run->plan_failed = 1;
		log_warnx("[job:%s] %s could not plan the backup: %s",
		    run->job->name, run->source->prefix,
		    msg != NULL ? msg : "error");
	}
	if (!run->planning)
		schedule_advance(run);
}

static const struct io_vtbl plan_vtbl = {
	.kind = "plan",
	.done = plan_done,
	.add_stream = plan_add_stream,
};

/* ---- in-progress markers ---------------------------------------------- */

struct side_op {
	struct run	*run;
	char		*what;
};

static void
side_op_done(void *arg, int status, const char *err)
{
	struct side_op	*o = arg;
	struct run	*run = o->run;

	if (status != ZB_OK)
		log_warnx("[job:%s] %s: %s", run->job->name, o->what,
		    err != NULL ? err : "failed");
	free(o->what);
	free(o);
	run->side_ops--;
	schedule_advance(run);
}

static char *
marker_key(const struct run_stream *rs)
{
	return layout_marker_key(rs->dir);
}

static char *
build_marker(const struct run_stream *rs)
{
	struct run	*run = rs->run;
	struct buf	 b;
	char		 started[ZB_ISOTIME_LEN];

	isotime_format(time(NULL), started, sizeof(started));
	buf_init(&b, MARKER_MAX);
	(void)buf_printf(&b, "{\n  \"format\": \"%s\",\n  \"job\": ",
	    MARKER_FORMAT);
	(void)buf_json_str(&b, run->job->name);
	(void)buf_puts(&b, ",\n  \"id\": ");
	(void)buf_json_str(&b, rs->id);
	(void)buf_printf(&b, ",\n  \"stamp\": \"%s\",\n  \"host\": ",
	    run->stamp);
	(void)buf_json_str(&b, state_host_id());
	(void)buf_printf(&b, ",\n  \"pid\": %ld,\n  \"lock\": ",
	    (long)getpid());
	(void)buf_json_str(&b, run->lock != NULL ?
	    state_lock_path(run->lock) : "");
	(void)buf_printf(&b, ",\n  \"started\": \"%s\"\n}\n", started);
	return buf_take(&b);
}

/* The copy committed or failed: its marker goes (a leftover is
 * harmless: prune takes it once this run is over). */
static void
remove_markers(struct run_stream *rs)
{
	struct run	*run = rs->run;
	struct side_op	*o;
	char		*key;
	size_t		 i;

	key = marker_key(rs);
	for (i = 0; i < run->job->nsinks; i++) {
		if (rs->mark_err[i] != NULL)
			continue;	/* never written */
		o = xcalloc(1, sizeof(*o));
		o->run = run;
		o->what = xasprintf("%s: %s: cannot remove the in-progress "
		    "marker", rs->id, run->job->sinks[i]->inst->sec->title);
		run->side_ops++;
		sinkio_remove(run->job->sinks[i]->inst, key, side_op_done, o);
	}
	free(key);
}

/* ---- sidecar and manifest ------------------------------------------------ */

static void	meta_manifest_done(void *, int, const char *);

static void
stream_ended(struct run_stream *rs)
{
	struct run	*run = rs->run;
	struct stream	*st = rs->st;
	char		 plain[32], stored[32];
	unsigned	 nsinks = (unsigned)run->job->nsinks;

	rs->running = 0;
	run->active--;
	if (st->live_peak > run->sum.peak_buffered)
		run->sum.peak_buffered = st->live_peak;
	run->sum.budget = st->high;
	run->sum.pauses += st->pauses;
	run->sum.resumes += st->resumes;
	run->sum.copies_ok += rs->copies_ok;
	run->sum.copies_failed += nsinks - rs->copies_ok;
	if (rs->copies_ok == nsinks)
		run->sum.streams_ok++;
	if (rs->copies_ok > 0) {
		run->sum.plain_bytes += st->bytes_in;
		run->sum.stored_bytes += st->bytes_out;
		human_bytes(st->bytes_in, plain, sizeof(plain));
		human_bytes(st->bytes_out, stored, sizeof(stored));
		log_info("[job:%s] %s: %s, stored %s, on %u of %u sink%s",
		    run->job->name, rs->id, plain, stored, rs->copies_ok,
		    nsinks, nsinks == 1 ? "" : "s");
	} else
		log_warnx("[job:%s] %s: FAILED, no copy was made%s%s",
		    run->job->name, rs->id, st->error ? ": " : "",
		    st->error ? st->error : "");
	stream_free(st);
	rs->st = NULL;
	remove_markers(rs);
	schedule_advance(run);
}

static void
meta_free(struct meta_put *m)
{
	free(m->manifest);
	free(m);
}

static void
meta_failed(struct meta_put *m, const char *what, const char *err)
{
	struct run_stream	*rs = m->rs;

	log_warnx("[job:%s] %s: %s: %s not written, this copy does not "
	    "count: %s", rs->run->job->name, rs->id, m->sink->sec->title,
	    what, err != NULL ? err : "error");
}

static void
meta_sidecar_done(void *arg, int status, const char *err)
{
	struct meta_put		*m = arg;
	struct run_stream	*rs = m->rs;
	char			*key;

	if (status != ZB_OK || rs->run->aborting) {
		/* An aborted run makes no artifact, not even a complete one. */
		meta_failed(m, status != ZB_OK ? "checksum sidecar" :
		    "manifest", status != ZB_OK ? err : "the run was aborted");
		meta_free(m);
		if (--rs->meta_pending == 0)
			stream_ended(rs);
		return;
	}
	key = layout_manifest_key(rs->dir);
	sinkio_put_buf(m->sink, key, m->manifest, strlen(m->manifest),
	    meta_manifest_done, m);
	free(key);
}

static void
meta_manifest_done(void *arg, int status, const char *err)
{
	struct meta_put		*m = arg;
	struct run_stream	*rs = m->rs;

	if (status != ZB_OK)
		meta_failed(m, "manifest", err);
	else
		rs->copies_ok++;
	meta_free(m);
	if (--rs->meta_pending == 0)
		stream_ended(rs);
}

/*
 * The names of every stream the run planned, in plan order (the caller
 * frees the array, not the names).  The plan is done before any stream
 * starts, so this is the whole run.
 */
#if RUN_MAX_STREAMS > MANIFEST_MAX_STREAMS
#error "a run may plan more streams than its manifests may list"
#endif

static const char **
run_planned(const struct run *run, size_t *n)
{
	const struct run_stream	*rs;
	const char		**v;

	v = xcalloc(run->nstreams > 0 ? run->nstreams : 1, sizeof(*v));
	*n = 0;
	TAILQ_FOREACH(rs, &run->streams, entry)
		if (*n < run->nstreams)
			v[(*n)++] = rs->name;
	return v;
}

static char *
build_manifest(struct run_stream *rs, struct zb_inst *sink)
{
	struct run		*run = rs->run;
	struct stream		*st = rs->st;
	struct manifest_in	 m;
	const char		**planned;
	char			*text;

	memset(&m, 0, sizeof(m));
	m.id = rs->id;
	m.job = run->job->name;
	m.source = run->source->sec->name;
	m.stream = rs->name;
	m.stamp = run->stamp;
	m.data = rs->data;
	m.source_plugin = run->source->plugin->desc.name;
	m.source_plugin_version = run->source->plugin->desc.version ?
	    run->source->plugin->desc.version : "";
	m.sink = sink->sec->name;
	m.sink_plugin = sink->plugin->desc.name;
	m.sink_plugin_version = sink->plugin->desc.version ?
	    sink->plugin->desc.version : "";
	m.started = rs->started;
	m.finished = rs->finished;
	m.stored_size = st->bytes_out;
	m.plain_size = st->bytes_in;
	m.stored_sha = st->sha_out;
	m.plain_sha = st->sha_in;
	m.comp = &run->job->comp;
	m.age = run->cfg->encrypt ? run->cfg->recipients : NULL;
	m.facts = st->facts;
	planned = run_planned(run, &m.run_nstreams);
	m.run_streams = planned;
	m.run_stamp = run->stamp;
	text = manifest_build(&m);
	free(planned);
	return text;
}

/* ---- the stream's owner ---------------------------------------------------- */

static void
rs_drained(struct stream *st, void *arg)
{
	if (st->bytes_in == 0) {
		stream_abort(st, "the source produced no data");
		return;
	}
	stream_commit(st);
}

static void
rs_finished(struct stream *st, void *arg)
{
	struct run_stream	*rs = arg;
	struct meta_put		*m;
	struct writer		*w;
	char			*sidecar, *key;
	size_t			 i;

	rs->finished = time(NULL);
	for (i = 0; i < st->nw; i++) {
		w = st->w[i];
		if (w->state != W_COMMITTED)
			continue;
		m = xcalloc(1, sizeof(*m));
		m->rs = rs;
		m->sink = w->io.inst;
		m->manifest = build_manifest(rs, m->sink);
		if (m->manifest == NULL) {
			meta_failed(m, "manifest", "too large");
			meta_free(m);
			continue;
		}
		rs->meta_pending++;
		sidecar = layout_sidecar_text(st->sha_out, rs->data);
		key = layout_sidecar_key(rs->dir, rs->data);
		sinkio_put_buf(m->sink, key, sidecar, strlen(sidecar),
		    meta_sidecar_done, m);
		free(key);
		free(sidecar);
	}
	if (rs->meta_pending == 0)
		stream_ended(rs);
}

static const struct stream_owner rs_owner = { rs_drained, rs_finished };

/* Every marker was written or failed: open the stream and its copies. */
static void
open_stream(struct run *run, struct run_stream *rs)
{
	const struct zb_plugin_desc	*d;
	const struct zb_producer_ops	*pops;
	const struct zb_writer_ops	*wops;
	struct stream_params		 p;
	struct zb_inst			*sink;
	struct writer			*w;
	void				*ctx;
	char				*name, *key;
	size_t				 i, slots;

	slots = (size_t)run->cfg->max_parallel_jobs * run->job->max_streams;
	memset(&p, 0, sizeof(p));
	p.dir = STREAM_STORE;
	p.comp = run->job->comp;
	p.chunk_size = run->cfg->chunk_size;
	p.budget = run->cfg->max_buffer / slots;
	p.age = run->cfg->encrypt ? run->cfg->recipients : NULL;
	name = xasprintf("[job:%s] %s", run->job->name, rs->id);
	p.name = name;
	rs->st = stream_new(&p, &rs_owner, rs);
	free(name);
	rs->st->artifact_id = xstrdup(rs->id);
	rs->st->stream_name = xstrdup(rs->name);

	key = layout_data_key(rs->dir, rs->data);
	for (i = 0; i < run->job->nsinks; i++) {
		sink = run->job->sinks[i]->inst;
		w = stream_writer_new(rs->st, sink->sec->title,
		    sink->timeout_ms);
		w->io.inst = sink;
		if (rs->mark_err[i] != NULL)
			stream_writer_fail(w, "cannot write the in-progress "
			    "marker: %s", rs->mark_err[i]);
		else if (sink->plugin->desc.put_open(sink->ctx, &w->io, key,
		    &wops, &ctx) == ZB_OK)
			stream_writer_attach(w, wops, ctx);
		else
			stream_writer_fail(w, "cannot open %s", key);
	}
	free(key);

	log_info("[job:%s] %s: started", run->job->name, rs->id);
	d = &run->source->plugin->desc;
	rs->st->io.inst = run->source;
	if (d->stream_open(run->source->ctx, &rs->st->io, &pops, &ctx) ==
	    ZB_OK)
		stream_set_producer(rs->st, pops, ctx);
	else
		stream_producer_failed(rs->st, "the source could not start "
		    "this stream");
}

struct mark_put {
	struct run_stream	*rs;
	size_t			 idx;
};

static void
mark_done(void *arg, int status, const char *err)
{
	struct mark_put		*m = arg;
	struct run_stream	*rs = m->rs;
	struct run		*run = rs->run;

	if (status != ZB_OK)
		rs->mark_err[m->idx] = xstrdup(err != NULL ? err : "failed");
	free(m);
	if (--rs->marks_pending > 0)
		return;
	if (!run->aborting) {
		open_stream(run, rs);
		return;
	}
	/* Aborted while the markers were written: no stream to end. */
	rs->running = 0;
	run->active--;
	run->sum.copies_failed += (unsigned)run->job->nsinks;
	remove_markers(rs);
	schedule_advance(run);
}

/* Write the stream's in-progress markers, then open it (open_stream). */
static void
start_stream(struct run *run, struct run_stream *rs)
{
	struct mark_put	*m;
	char		*marker, *key;
	size_t		 i, n = run->job->nsinks;

	rs->started = time(NULL);
	rs->running = 1;
	run->active++;
	marker = build_marker(rs);
	key = marker_key(rs);
	rs->marks_pending = (unsigned)n;	/* before any may complete */
	for (i = 0; i < n; i++) {
		m = xcalloc(1, sizeof(*m));
		m->rs = rs;
		m->idx = i;
		sinkio_put_buf(run->job->sinks[i]->inst, key, marker,
		    strlen(marker), mark_done, m);
	}
	free(key);
	free(marker);
}

/* ---- the run ------------------------------------------------------------------ */

static void
finish(struct run *run)
{
	struct run_summary	*s = &run->sum;

	run->ended = 1;
	s->streams = run->nstreams;
	s->elapsed_ms = now_ms() - run->start_ms;
	if (run->plan_failed || run->nstreams == 0 || s->copies_ok == 0)
		s->result = RUN_FAILED;
	else if (s->streams_ok == s->streams)
		s->result = RUN_OK;
	else {
		/* partial only if every stream has some copy */
		struct run_stream *rs;

		s->result = RUN_PARTIAL;
		TAILQ_FOREACH(rs, &run->streams, entry)
			if (rs->copies_ok == 0)
				s->result = RUN_FAILED;
	}
	if (run->nstreams == 0 && !run->plan_failed)
		log_warnx("[job:%s] the source declared no streams",
		    run->job->name);
	(s->result == RUN_OK ? log_info : log_warnx)("[job:%s] run %s: %s "
	    "(%u of %u streams on every sink, %u copies made, %u failed) "
	    "in %.1f s", run->job->name, run->stamp,
	    run_result_str(s->result), s->streams_ok, s->streams,
	    s->copies_ok, s->copies_failed, s->elapsed_ms / 1000.0);
	run->cb(run, s, run->arg);
}

static void
advance(struct run *run)
{
	struct run_stream	*rs;

	if (run->ended || !run->plan_done)
		return;
	if (!run->plan_failed && !run->aborting) {
		TAILQ_FOREACH(rs, &run->streams, entry) {
			if (run->active >= (unsigned)run->job->max_streams)
				break;
			if (rs->st == NULL && rs->started == 0)
				start_stream(run, rs);
		}
	}
	if (run->active > 0 || run->side_ops > 0)
		return;
	TAILQ_FOREACH(rs, &run->streams, entry)
		if (rs->started == 0 && !run->plan_failed && !run->aborting)
			return;
	finish(run);
}

static void
on_advance(evutil_socket_t fd, short what, void *arg)
{
	advance(arg);
}

static void
gc_item(void *arg, const struct gc_item *it)
{
	struct run	*run = arg;

	/* (log lines escape control bytes of keys themselves) */
	if (it->action != GC_REMOVE)
		return;
	if (it->failed)
		log_warnx("[job:%s] sink:%s: %s %s: %s", run->job->name,
		    it->sink, it->what, it->key, it->reason);
	else
		log_info("[job:%s] sink:%s: removed %s %s (%s)",
		    run->job->name, it->sink, it->what, it->key, it->reason);
}

static void
gc_done(void *arg, const struct gc_result *res)
{
	struct run	*run = arg;

	run->side_ops--;
	schedule_advance(run);
}

/* What dead runs of this source left on the sinks, alongside this run. */
static void
start_cleanup(struct run *run)
{
	struct gc_params	 gp;
	char			*prefix;
	size_t			 i;

	prefix = layout_source_prefix(run->source->sec->name);
	for (i = 0; i < run->job->nsinks; i++) {
		memset(&gp, 0, sizeof(gp));
		gp.sink = run->job->sinks[i]->inst;
		gp.prefix = prefix;
		gp.grace_s = RUN_CLEANUP_AGE;
		gp.item = gc_item;
		gp.done = gc_done;
		gp.arg = run;
		run->side_ops++;
		gc_start(&gp);
	}
	free(prefix);
}

struct run *
run_start(struct zb_config *cfg, struct cfg_job *job, struct job_lock *lock,
    run_done_fn cb, void *arg)
{
	struct run	*run;
	char		 err[512];
	int		 rc;

	run = xcalloc(1, sizeof(*run));
	run->io.vt = &plan_vtbl;
	run->cfg = cfg;
	run->job = job;
	run->lock = lock;
	run->source = job->source->inst;
	run->io.inst = run->source;
	run->cb = cb;
	run->arg = arg;
	run->start = time(NULL);
	run->start_ms = now_ms();
	TAILQ_INIT(&run->streams);
	run->advance_ev = event_new(reactor_base(), -1, 0, on_advance, run);
	if (state_next_stamp(cfg, job->source->name, run->start, run->stamp,
	    err, sizeof(err)) == -1) {
		stamp_format(run->start, run->stamp, sizeof(run->stamp));
		run->plan_done = 1;
		run->plan_failed = 1;
		log_warnx("[job:%s] cannot start a run: %s", job->name, err);
		schedule_advance(run);
		return run;
	}
	if (lock != NULL)
		state_lock_set_run(lock, run->stamp);
	log_info("[job:%s] run %s started: %s -> %zu sink%s", job->name,
	    run->stamp, job->source->title, job->nsinks,
	    job->nsinks == 1 ? "" : "s");

	start_cleanup(run);
	run->planning = 1;
	rc = run->source->plugin->desc.plan(run->source->ctx, &run->io);
	run->planning = 0;
	if (rc == ZB_ERR && !run->plan_done)
		plan_done(&run->io, ZB_ERR, "plan() failed");
	schedule_advance(run);
	return run;
}

void
run_abort(struct run *run, const char *why)
{
	struct run_stream	*rs;

	if (run->ended || run->aborting)
		return;
	run->aborting = 1;
	log_warnx("[job:%s] aborting: %s", run->job->name, why);
	TAILQ_FOREACH(rs, &run->streams, entry)
		if (rs->running && rs->st != NULL &&
		    rs->st->state != ST_FINISHED)
			stream_abort(rs->st, "%s", why);
	schedule_advance(run);
}

void
run_free(struct run *run)
{
	struct run_stream	*rs;
	size_t			 i;

	if (run == NULL)
		return;
	for (;;) {
		rs = TAILQ_FIRST(&run->streams);
		if (rs == NULL)
			break;
		TAILQ_REMOVE(&run->streams, rs, entry);
		stream_free(rs->st);
		for (i = 0; i < CFG_MAX_SINKS; i++)
			free(rs->mark_err[i]);
		free(rs->name);
		free(rs->ext);
		free(rs->id);
		free(rs->dir);
		free(rs->data);
		free(rs);
	}
	event_free(run->advance_ev);
	free(run);
}
