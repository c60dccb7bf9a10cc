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
 * A run is a state machine (docs/internals/RUN.md): one enum run_state
 * for the run, one enum art_state for each artifact it writes, each
 * changed by one function that logs the transition at debug level.  A
 * stream holds a list of artifacts, the current one last: today one per
 * stream and run; a continuous source (WAL) will end one and start the
 * next within a run.
 *
 * [sink:NAME] max_copies limits the copies written to that sink at once
 * by all runs of this process: an artifact starts only when every sink
 * of its job has a free slot, and waiting runs are served in the order
 * they began to wait (copy_slots_*).
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
#include "retention.h"
#include "run.h"
#include "sinkio.h"
#include "state.h"
#include "stream.h"
#include "util.h"
#include "workers.h"

#define RUN_MAX_STREAMS	4096	/* per plan */
/*
 * At the start of a run, the garbage of its source's earlier runs that
 * was last written more than this long ago is removed (gc.c never
 * touches a live run's directories, whatever their age).
 */
#define RUN_CLEANUP_AGE	(24 * 3600)

/* The run (transitions: run_set_state). */
enum run_state {
	RUN_PLANNING,		/* the source declares its streams */
	RUN_STREAMING,		/* artifacts are written, max_streams at once */
	RUN_FINISHING,		/* all ended: waiting for cleanup, markers */
	RUN_ABORTING,		/* no new artifact; waiting for the running */
	RUN_DONE		/* the summary was handed to the owner */
};

/* One artifact of a stream (transitions: art_set_state). */
enum art_state {
	ART_QUEUED,		/* waiting for a stream slot and sink slots */
	ART_MARKING,		/* in-progress markers being written */
	ART_STREAMING,		/* data flowing to the sinks */
	ART_COMMITTING,		/* sidecars and manifests being written */
	ART_ENDED		/* committed on some sinks, or failed */
};

struct run_stream;

struct run_artifact {
	struct run_stream	*rs;
	enum art_state		 state;
	char			 stamp[ZB_STAMP_LEN];
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
	/* per job sink (job->sinks order): its manifest was written */
	unsigned char		 committed[CFG_MAX_SINKS];
	int			 has_slots;	/* holds copy slots */
	uint64_t		 start_ms, end_ms;
	uint64_t		 plain, stored;	/* when ended */
	uint64_t		 paused_ms;
};

struct run_stream {
	TAILQ_ENTRY(run_stream)	 entry;
	struct run		*run;
	char			*name;
	char			*ext;
	/*
	 * The artifacts of this stream in this run, the current one last.
	 * Today a stream makes exactly one; see stream_next_artifact().
	 */
	struct run_artifact	**arts;
	size_t			 narts;
};

struct meta_put {
	struct run_artifact	*art;
	struct zb_inst		*sink;
	size_t			 idx;		/* in job->sinks */
	char			*manifest;
};

struct run {
	struct zb_io		 io;	/* the plan's handle: first */
	struct zb_config	*cfg;
	struct cfg_job		*job;
	struct job_lock		*lock;		/* borrowed; may be NULL */
	char			 tag[RETENTION_TAG_MAX];	/* "": none */
	struct zb_inst		*source;
	time_t			 start;
	char			 stamp[ZB_STAMP_LEN];
	uint64_t		 start_ms;
	TAILQ_HEAD(, run_stream) streams;
	unsigned		 nstreams;
	enum run_state		 state;
	const char		*failed;	/* why no stream could run */
	char			*abort_why;	/* asked while planning */
	unsigned		 active;	/* artifacts marking to committing */
	unsigned		 side_ops;	/* gc, marker removals */
	TAILQ_ENTRY(run)	 slot_wait;	/* in copy_waiters */
	int			 waiting;	/* for copy slots */
	struct event		*advance_ev;
	run_done_fn		 cb;
	void			*arg;
	struct run_summary	 sum;
	struct run_copy		*copies;	/* sum.copies */
};

static void	advance(struct run *);

static const char *
run_state_str(enum run_state st)
{
	static const char *const names[] = { "planning", "streaming",
	    "finishing", "aborting", "done" };

	return names[st];
}

static const char *
art_state_str(enum art_state st)
{
	static const char *const names[] = { "queued", "marking",
	    "streaming", "committing", "ended" };

	return names[st];
}

/* The one place a run changes state. */
static void
run_set_state(struct run *run, enum run_state to)
{
	log_debug("run %s %s: %s -> %s", run->job->name, run->stamp,
	    run_state_str(run->state), run_state_str(to));
	run->state = to;
}

/* The one place an artifact changes state. */
static void
art_set_state(struct run_artifact *art, enum art_state to)
{
	struct run	*run = art->rs->run;

	log_debug("run %s %s: %s: %s -> %s", run->job->name, run->stamp,
	    art->id, art_state_str(art->state), art_state_str(to));
	art->state = to;
}

/* The stream's current artifact (the last). */
static struct run_artifact *
current_art(const struct run_stream *rs)
{
	return rs->arts[rs->narts - 1];
}

/*
 * Start the stream's next artifact, stamped stamp: the extension point
 * for continuous sources, which will end one artifact and start the
 * next within a run.  Today it is called once per stream, with the
 * run's stamp, when the plan declares the stream.
 */
static struct run_artifact *
stream_next_artifact(struct run_stream *rs, const char *stamp)
{
	struct run		*run = rs->run;
	struct run_artifact	*art;

	art = xcalloc(1, sizeof(*art));
	art->rs = rs;
	art->state = ART_QUEUED;
	snprintf(art->stamp, sizeof(art->stamp), "%s", stamp);
	art->id = layout_artifact_id(run->source->sec->name, rs->name,
	    art->stamp);
	art->dir = layout_artifact_dir(run->source->sec->name, rs->name,
	    art->stamp);
	art->data = layout_data_name(rs->ext, codec_ext(&run->job->comp),
	    run->cfg->encrypt);
	rs->arts = xreallocarray(rs->arts, rs->narts + 1, sizeof(*rs->arts));
	rs->arts[rs->narts++] = art;
	return art;
}

static void
art_free(struct run_artifact *art)
{
	size_t	 i;

	stream_free(art->st);
	for (i = 0; i < CFG_MAX_SINKS; i++)
		free(art->mark_err[i]);
	free(art->id);
	free(art->dir);
	free(art->data);
	free(art);
}

/* ---- copy slots: [sink:NAME] max_copies ---------------------------------- */

/*
 * Copies being written to each limited sink, by sink name (an instance
 * outlives a config generation), and the runs waiting for a slot, in
 * the order they began to wait.  Process-wide: the limit holds across
 * all runs, whichever queue or generation started them.
 */
struct copy_slot {
	char		*sink;
	unsigned	 used;
};

static struct copy_slot		*copy_slots;
static size_t			 ncopy_slots;
static TAILQ_HEAD(, run)	 copy_waiters =
    TAILQ_HEAD_INITIALIZER(copy_waiters);

static unsigned
sink_max_copies(const struct cfg_section *sec)
{
	const struct cfg_kv	*kv = config_kv(sec, "max_copies");

	return kv != NULL && kv->num > 0 ? (unsigned)kv->num : 0;
}

static struct copy_slot *
copy_slot(const char *sink, int create)
{
	size_t	 i;

	for (i = 0; i < ncopy_slots; i++)
		if (strcmp(copy_slots[i].sink, sink) == 0)
			return &copy_slots[i];
	if (!create)
		return NULL;
	copy_slots = xreallocarray(copy_slots, ncopy_slots + 1,
	    sizeof(*copy_slots));
	copy_slots[ncopy_slots].sink = xstrdup(sink);
	copy_slots[ncopy_slots].used = 0;
	return &copy_slots[ncopy_slots++];
}

/* Whether runs a and b share a sink that has a limit. */
static int
share_limited_sink(const struct run *a, const struct run *b)
{
	size_t	 i, j;

	for (i = 0; i < a->job->nsinks; i++) {
		if (sink_max_copies(a->job->sinks[i]) == 0)
			continue;
		for (j = 0; j < b->job->nsinks; j++)
			if (strcmp(a->job->sinks[i]->name,
			    b->job->sinks[j]->name) == 0)
				return 1;
	}
	return 0;
}

/*
 * Take a slot on every limited sink of the run's job for one artifact,
 * all or none: 1 taken, 0 full (or a run that waits longer needs one of
 * the same sinks: no overtaking).
 */
static int
copy_slots_take(struct run *run)
{
	const struct copy_slot	*cs;
	struct run		*w;
	unsigned		 limit;
	size_t			 i;

	TAILQ_FOREACH(w, &copy_waiters, slot_wait) {
		if (w == run)
			break;
		if (share_limited_sink(run, w))
			return 0;
	}
	for (i = 0; i < run->job->nsinks; i++) {
		limit = sink_max_copies(run->job->sinks[i]);
		cs = copy_slot(run->job->sinks[i]->name, 0);
		if (limit > 0 && cs != NULL && cs->used >= limit)
			return 0;
	}
	for (i = 0; i < run->job->nsinks; i++)
		if (sink_max_copies(run->job->sinks[i]) > 0)
			copy_slot(run->job->sinks[i]->name, 1)->used++;
	return 1;
}

static void
copy_wait(struct run *run)
{
	if (run->waiting)
		return;
	run->waiting = 1;
	TAILQ_INSERT_TAIL(&copy_waiters, run, slot_wait);
	log_debug("run %s %s: waiting for a copy slot (max_copies)",
	    run->job->name, run->stamp);
}

static void
copy_unwait(struct run *run)
{
	struct run	*w;

	if (!run->waiting)
		return;
	run->waiting = 0;
	TAILQ_REMOVE(&copy_waiters, run, slot_wait);
	/* Those behind it may have waited for it only (no overtaking). */
	TAILQ_FOREACH(w, &copy_waiters, slot_wait)
		event_active(w->advance_ev, 0, 0);
}

/* The artifact's copies ended: its slots go to the waiting runs. */
static void
copy_slots_release(struct run_artifact *art)
{
	struct run		*run = art->rs->run, *w;
	struct copy_slot	*cs;
	size_t			 i;

	if (!art->has_slots)
		return;
	art->has_slots = 0;
	for (i = 0; i < run->job->nsinks; i++) {
		if (sink_max_copies(run->job->sinks[i]) == 0)
			continue;
		cs = copy_slot(run->job->sinks[i]->name, 0);
		if (cs == NULL || cs->used == 0)
			continue;
		if (--cs->used == 0) {
			free(cs->sink);
			*cs = copy_slots[--ncopy_slots];
			if (ncopy_slots == 0) {
				free(copy_slots);
				copy_slots = NULL;
			}
		}
	}
	/* In waiting order: the first one's advance runs first. */
	TAILQ_FOREACH(w, &copy_waiters, slot_wait)
		event_active(w->advance_ev, 0, 0);
}

/* Whether a waiting run needs a slot of the limited sink sec. */
static int
waiter_needs(const struct cfg_section *sec)
{
	struct run	*w;
	size_t		 j;

	TAILQ_FOREACH(w, &copy_waiters, slot_wait)
		for (j = 0; j < w->job->nsinks; j++)
			if (strcmp(w->job->sinks[j]->name, sec->name) == 0)
				return 1;
	return 0;
}

int
run_slots_take(struct cfg_section *const *sinks, size_t n)
{
	const struct copy_slot	*cs;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (sink_max_copies(sinks[i]) == 0)
			continue;
		cs = copy_slot(sinks[i]->name, 0);
		if (waiter_needs(sinks[i]) || (cs != NULL &&
		    cs->used >= sink_max_copies(sinks[i])))
			return 0;
	}
	for (i = 0; i < n; i++)
		if (sink_max_copies(sinks[i]) > 0)
			copy_slot(sinks[i]->name, 1)->used++;
	return 1;
}

void
run_slots_release(struct cfg_section *const *sinks, size_t n)
{
	struct copy_slot	*cs;
	struct run		*w;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (sink_max_copies(sinks[i]) == 0)
			continue;
		cs = copy_slot(sinks[i]->name, 0);
		if (cs == NULL || cs->used == 0)
			continue;
		if (--cs->used == 0) {
			free(cs->sink);
			*cs = copy_slots[--ncopy_slots];
			if (ncopy_slots == 0) {
				free(copy_slots);
				copy_slots = NULL;
			}
		}
	}
	TAILQ_FOREACH(w, &copy_waiters, slot_wait)
		event_active(w->advance_ev, 0, 0);
}

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
	const struct run_stream		*rs;
	const struct run_artifact	*art;
	uint64_t			 n = run->sum.plain_bytes;
	size_t				 i;

	/* (an ended artifact's bytes are in the summary) */
	TAILQ_FOREACH(rs, &run->streams, entry)
		for (i = 0; i < rs->narts; i++) {
			art = rs->arts[i];
			if ((art->state == ART_STREAMING ||
			    art->state == ART_COMMITTING) && art->st != NULL)
				n += art->st->bytes_in;
		}
	return n;
}

void
run_live(const struct run *run, void (*fn)(void *, const struct run_live *),
    void *arg)
{
	const struct run_stream		*rs;
	const struct run_artifact	*art;
	struct run_live			 l;
	size_t				 i;

	TAILQ_FOREACH(rs, &run->streams, entry)
		for (i = 0; i < rs->narts; i++) {
			art = rs->arts[i];
			if ((art->state != ART_STREAMING &&
			    art->state != ART_COMMITTING) || art->st == NULL)
				continue;
			l.stream = rs->name;
			l.bytes_in = art->st->bytes_in;
			l.bytes_out = art->st->bytes_out;
			l.backpressure_s = stream_paused_ms(art->st) / 1000.0;
			l.buffered = art->st->live;
			l.budget = art->st->high;
			fn(arg, &l);
		}
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
	if (run->nstreams == RUN_MAX_STREAMS || run->state != RUN_PLANNING) {
		log_warnx("[job:%s] too many streams, or declared after the "
		    "plan ended", run->job->name);
		return ZB_ERR;
	}
	rs = xcalloc(1, sizeof(*rs));
	rs->run = run;
	rs->name = xstrdup(name);
	rs->ext = xstrdup(ext);
	(void)stream_next_artifact(rs, run->stamp);
	TAILQ_INSERT_TAIL(&run->streams, rs, entry);
	run->nstreams++;
	return ZB_OK;
}

static void
plan_done(struct zb_io *io, int status, const char *msg)
{
	struct run	*run = (struct run *)io;

	if (run->state != RUN_PLANNING)
		return;
	if (status != ZB_OK) {
		run->failed = "the source could not plan the backup";
		log_warnx("[job:%s] %s could not plan the backup: %s",
		    run->job->name, run->source->prefix,
		    msg != NULL ? msg : "error");
	}
	if (run->abort_why != NULL)
		run_set_state(run, RUN_ABORTING);
	else
		run_set_state(run, run->failed != NULL ? RUN_FINISHING :
		    RUN_STREAMING);
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
marker_key(const struct run_artifact *art)
{
	return layout_marker_key(art->dir);
}

static char *
build_marker(const struct run_artifact *art)
{
	struct run	*run = art->rs->run;
	struct buf	 b;
	char		 started[ZB_ISOTIME_LEN];

	isotime_format(time(NULL), started, sizeof(started));
	buf_init(&b, MARKER_MAX);
	(void)buf_printf(&b, "{\n  \"format\": \"%s\",\n  \"job\": ",
	    MARKER_FORMAT);
	(void)buf_json_str(&b, run->job->name);
	(void)buf_puts(&b, ",\n  \"id\": ");
	(void)buf_json_str(&b, art->id);
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
remove_markers(struct run_artifact *art)
{
	struct run	*run = art->rs->run;
	struct side_op	*o;
	char		*key;
	size_t		 i;

	key = marker_key(art);
	for (i = 0; i < run->job->nsinks; i++) {
		if (art->mark_err[i] != NULL)
			continue;	/* never written */
		o = xcalloc(1, sizeof(*o));
		o->run = run;
		o->what = xasprintf("%s: %s: cannot remove the in-progress "
		    "marker", art->id, run->job->sinks[i]->inst->sec->title);
		run->side_ops++;
		sinkio_remove(run->job->sinks[i]->inst, key, side_op_done, o);
	}
	free(key);
}

/* ---- sidecar and manifest ------------------------------------------------ */

static void	meta_manifest_done(void *, int, const char *);

/* The artifact's copies ended (committed on some sinks, or failed). */
static void
art_ended(struct run_artifact *art)
{
	struct run	*run = art->rs->run;
	struct stream	*st = art->st;
	char		 plain[32], stored[32];
	unsigned	 nsinks = (unsigned)run->job->nsinks;

	art_set_state(art, ART_ENDED);
	run->active--;
	copy_slots_release(art);
	if (st->live_peak > run->sum.peak_buffered)
		run->sum.peak_buffered = st->live_peak;
	run->sum.budget = st->high;
	run->sum.pauses += st->pauses;
	run->sum.resumes += st->resumes;
	run->sum.copies_ok += art->copies_ok;
	run->sum.copies_failed += nsinks - art->copies_ok;
	art->plain = st->bytes_in;
	art->stored = st->bytes_out;
	art->paused_ms = stream_paused_ms(st);
	art->end_ms = now_ms();
	if (art->copies_ok > 0) {
		run->sum.plain_bytes += st->bytes_in;
		run->sum.stored_bytes += st->bytes_out;
		human_bytes(st->bytes_in, plain, sizeof(plain));
		human_bytes(st->bytes_out, stored, sizeof(stored));
		log_info("[job:%s] %s: %s, stored %s, on %u of %u sink%s",
		    run->job->name, art->id, plain, stored, art->copies_ok,
		    nsinks, nsinks == 1 ? "" : "s");
	} else
		log_warnx("[job:%s] %s: FAILED, no copy was made%s%s",
		    run->job->name, art->id, st->error ? ": " : "",
		    st->error ? st->error : "");
	stream_free(st);
	art->st = NULL;
	remove_markers(art);
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
	struct run_artifact	*art = m->art;

	log_warnx("[job:%s] %s: %s: %s not written, this copy does not "
	    "count: %s", art->rs->run->job->name, art->id,
	    m->sink->sec->title, what, err != NULL ? err : "error");
}

static void
meta_sidecar_done(void *arg, int status, const char *err)
{
	struct meta_put		*m = arg;
	struct run_artifact	*art = m->art;
	char			*key;

	if (status != ZB_OK || art->rs->run->state == RUN_ABORTING) {
		/* An aborted run makes no artifact, not even a complete one. */
		meta_failed(m, status != ZB_OK ? "checksum sidecar" :
		    "manifest", status != ZB_OK ? err : "the run was aborted");
		meta_free(m);
		if (--art->meta_pending == 0)
			art_ended(art);
		return;
	}
	key = layout_manifest_key(art->dir);
	sinkio_put_buf(m->sink, key, m->manifest, strlen(m->manifest), 0,
	    meta_manifest_done, m);
	free(key);
}

static void
meta_manifest_done(void *arg, int status, const char *err)
{
	struct meta_put		*m = arg;
	struct run_artifact	*art = m->art;

	if (status != ZB_OK)
		meta_failed(m, "manifest", err);
	else {
		art->copies_ok++;
		if (m->idx < CFG_MAX_SINKS)
			art->committed[m->idx] = 1;
	}
	meta_free(m);
	if (--art->meta_pending == 0)
		art_ended(art);
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
build_manifest(struct run_artifact *art, struct zb_inst *sink)
{
	struct run		*run = art->rs->run;
	struct stream		*st = art->st;
	struct manifest_in	 m;
	const char		**planned;
	char			*text;

	memset(&m, 0, sizeof(m));
	m.id = art->id;
	m.job = run->job->name;
	m.source = run->source->sec->name;
	m.stream = art->rs->name;
	m.stamp = art->stamp;
	m.data = art->data;
	m.source_plugin = run->source->plugin->desc.name;
	m.source_plugin_version = run->source->plugin->desc.version ?
	    run->source->plugin->desc.version : "";
	m.sink = sink->sec->name;
	m.sink_plugin = sink->plugin->desc.name;
	m.sink_plugin_version = sink->plugin->desc.version ?
	    sink->plugin->desc.version : "";
	m.started = art->started;
	m.finished = art->finished;
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
	m.run_tag = run->tag[0] != '\0' ? run->tag : NULL;
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

/* The index of sink in the run's job->sinks. */
static size_t
sink_index(const struct run *run, const struct zb_inst *sink)
{
	size_t	 i;

	for (i = 0; i < run->job->nsinks; i++)
		if (run->job->sinks[i]->inst == sink)
			break;
	return i;	/* found: the writers are the job's sinks */
}

static void
rs_finished(struct stream *st, void *arg)
{
	struct run_artifact	*art = arg;
	struct meta_put		*m;
	struct writer		*w;
	char			*sidecar, *key;
	size_t			 i;

	art_set_state(art, ART_COMMITTING);
	art->finished = time(NULL);
	for (i = 0; i < st->nw; i++) {
		w = st->w[i];
		if (w->state != W_COMMITTED)
			continue;
		m = xcalloc(1, sizeof(*m));
		m->art = art;
		m->sink = w->io.inst;
		m->idx = sink_index(art->rs->run, m->sink);
		m->manifest = build_manifest(art, m->sink);
		if (m->manifest == NULL) {
			meta_failed(m, "manifest", "too large");
			meta_free(m);
			continue;
		}
		art->meta_pending++;
		sidecar = layout_sidecar_text(st->sha_out, art->data);
		key = layout_sidecar_key(art->dir, art->data);
		sinkio_put_buf(m->sink, key, sidecar, strlen(sidecar),
		    SINKIO_IN_PLACE, meta_sidecar_done, m);
		free(key);
		free(sidecar);
	}
	if (art->meta_pending == 0)
		art_ended(art);
}

static const struct stream_owner rs_owner = { rs_drained, rs_finished };

/* Every marker was written or failed: open the stream and its copies. */
static void
open_stream(struct run *run, struct run_artifact *art)
{
	const struct zb_plugin_desc	*d;
	const struct zb_producer_ops	*pops;
	const struct zb_writer_ops	*wops;
	struct stream_params		 p;
	struct zb_inst			*sink;
	struct writer			*w;
	void				*ctx;
	char				*name, *key;
	size_t				 i;

	memset(&p, 0, sizeof(p));
	p.dir = STREAM_STORE;
	p.comp = run->job->comp;
	/* zstd's own threads where the pool has cores for them. */
	p.comp.threads = workers_count();
	p.chunk_size = run->cfg->chunk_size;
	p.budget = config_stream_budget(run->cfg, run->job->max_streams);
	p.age = run->cfg->encrypt ? run->cfg->recipients : NULL;
	/* The manifest names the codec's or age's check instead. */
	p.skip_plain_sha256 = 1;
	name = xasprintf("[job:%s] %s", run->job->name, art->id);
	p.name = name;
	art->st = stream_new(&p, &rs_owner, art);
	free(name);
	art->st->artifact_id = xstrdup(art->id);
	art->st->stream_name = xstrdup(art->rs->name);

	key = layout_data_key(art->dir, art->data);
	for (i = 0; i < run->job->nsinks; i++) {
		sink = run->job->sinks[i]->inst;
		w = stream_writer_new(art->st, sink->sec->title,
		    sink->timeout_ms);
		w->io.inst = sink;
		if (art->mark_err[i] != NULL)
			stream_writer_fail(w, "cannot write the in-progress "
			    "marker: %s", art->mark_err[i]);
		else if (sinkio_put_open(sink, &w->io, key, &wops, &ctx) ==
		    ZB_OK)
			stream_writer_attach(w, wops, ctx);
		else
			stream_writer_fail(w, "cannot open %s", key);
	}
	free(key);

	art_set_state(art, ART_STREAMING);
	log_info("[job:%s] %s: started", run->job->name, art->id);
	d = &run->source->plugin->desc;
	art->st->io.inst = run->source;
	if (d->stream_open(run->source->ctx, &art->st->io, &pops, &ctx) ==
	    ZB_OK)
		stream_set_producer(art->st, pops, ctx);
	else
		stream_producer_failed(art->st, "the source could not start "
		    "this stream");
}

struct mark_put {
	struct run_artifact	*art;
	size_t			 idx;
};

static void
mark_done(void *arg, int status, const char *err)
{
	struct mark_put		*m = arg;
	struct run_artifact	*art = m->art;
	struct run		*run = art->rs->run;

	if (status != ZB_OK)
		art->mark_err[m->idx] = xstrdup(err != NULL ? err : "failed");
	free(m);
	if (--art->marks_pending > 0)
		return;
	if (run->state != RUN_ABORTING) {
		open_stream(run, art);
		return;
	}
	/* Aborted while the markers were written: no stream to end. */
	art_set_state(art, ART_ENDED);
	run->active--;
	copy_slots_release(art);
	run->sum.copies_failed += (unsigned)run->job->nsinks;
	remove_markers(art);
	schedule_advance(run);
}

/* Write the artifact's in-progress markers, then open it (open_stream). */
static void
start_stream(struct run *run, struct run_artifact *art)
{
	struct mark_put	*m;
	char		*marker, *key;
	size_t		 i, n = run->job->nsinks;

	art_set_state(art, ART_MARKING);
	art->started = time(NULL);
	art->start_ms = now_ms();
	run->active++;
	marker = build_marker(art);
	key = marker_key(art);
	art->marks_pending = (unsigned)n;	/* before any may complete */
	for (i = 0; i < n; i++) {
		m = xcalloc(1, sizeof(*m));
		m->art = art;
		m->idx = i;
		sinkio_put_buf(run->job->sinks[i]->inst, key, marker,
		    strlen(marker), SINKIO_IN_PLACE, mark_done, m);
	}
	free(key);
	free(marker);
}

/* ---- the run ------------------------------------------------------------------ */

static void
finish(struct run *run)
{
	struct run_summary		*s = &run->sum;
	const struct run_stream		*rs;
	size_t				 i, k;
	int				 all, some, every_some = 1;
	int				 on[CFG_MAX_SINKS];

	copy_unwait(run);
	run->copies = xcalloc((size_t)run->nstreams * run->job->nsinks + 1,
	    sizeof(*run->copies));
	TAILQ_FOREACH(rs, &run->streams, entry) {
		const struct run_artifact	*a;

		if (rs->narts == 0)
			continue;
		a = rs->arts[rs->narts - 1];
		for (k = 0; k < run->job->nsinks; k++) {
			struct run_copy	*c = &run->copies[s->ncopies++];

			c->stream = rs->name;
			c->sink = k;
			c->committed = a->committed[k];
			c->plain_bytes = a->plain;
			c->stored_bytes = a->stored;
			c->backpressure_s = a->paused_ms / 1000.0;
			if (a->end_ms > a->start_ms && a->start_ms > 0)
				c->duration_s = (a->end_ms - a->start_ms) /
				    1000.0;
		}
	}
	s->copies = run->copies;
	s->streams = run->nstreams;
	s->nsinks = run->job->nsinks;
	s->elapsed_ms = now_ms() - run->start_ms;
	TAILQ_FOREACH(rs, &run->streams, entry) {
		all = some = 1;
		for (k = 0; k < s->nsinks; k++)
			on[k] = rs->narts > 0;
		for (i = 0; i < rs->narts; i++) {
			if (rs->arts[i]->copies_ok < run->job->nsinks)
				all = 0;
			if (rs->arts[i]->copies_ok == 0)
				some = 0;
			for (k = 0; k < s->nsinks; k++)
				on[k] &= rs->arts[i]->committed[k];
		}
		s->streams_ok += all;
		every_some &= some;
		for (k = 0; k < s->nsinks; k++)
			s->sink_streams_ok[k] += on[k];
	}
	if (run->failed != NULL || run->nstreams == 0 || s->copies_ok == 0)
		s->result = RUN_FAILED;
	else if (s->streams_ok == s->streams)
		s->result = RUN_OK;
	else	/* partial only if every stream has some copy */
		s->result = every_some ? RUN_PARTIAL : RUN_FAILED;
	if (run->nstreams == 0 && run->failed == NULL)
		log_warnx("[job:%s] the source declared no streams",
		    run->job->name);
	(s->result == RUN_OK ? log_info : log_warnx)("[job:%s] run %s: %s "
	    "(%u of %u streams on every sink, %u copies made, %u failed) "
	    "in %.1f s", run->job->name, run->stamp,
	    run_result_str(s->result), s->streams_ok, s->streams,
	    s->copies_ok, s->copies_failed, s->elapsed_ms / 1000.0);
	run_set_state(run, RUN_DONE);
	run->cb(run, s, run->arg);
}

/*
 * Start queued artifacts in plan order while the job's max_streams and
 * the sinks' max_copies allow.
 */
static void
start_artifacts(struct run *run)
{
	struct run_stream	*rs;
	struct run_artifact	*art;

	TAILQ_FOREACH(rs, &run->streams, entry) {
		if (run->active >= (unsigned)run->job->max_streams)
			break;
		art = current_art(rs);
		if (art->state != ART_QUEUED)
			continue;
		if (!copy_slots_take(run)) {
			copy_wait(run);
			return;
		}
		art->has_slots = 1;
		start_stream(run, art);
	}
	copy_unwait(run);
}

static int
queued_left(const struct run *run)
{
	const struct run_stream	*rs;

	TAILQ_FOREACH(rs, &run->streams, entry)
		if (current_art(rs)->state == ART_QUEUED)
			return 1;
	return 0;
}

static void
advance(struct run *run)
{
	switch (run->state) {
	case RUN_PLANNING:
	case RUN_DONE:
		return;
	case RUN_STREAMING:
		start_artifacts(run);
		if (run->active > 0 || queued_left(run))
			return;
		run_set_state(run, RUN_FINISHING);
		/* FALLTHROUGH */
	case RUN_FINISHING:
	case RUN_ABORTING:
		if (run->active > 0 || run->side_ops > 0)
			return;
		finish(run);
		return;
	}
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

int
run_sink_whole(const struct run_summary *s, size_t i)
{
	return i < s->nsinks && s->streams > 0 &&
	    s->sink_streams_ok[i] == s->streams;
}

struct run *
run_start(struct zb_config *cfg, struct cfg_job *job, struct job_lock *lock,
    const char *tag, run_done_fn cb, void *arg)
{
	struct run	*run;
	char		 err[512];
	int		 rc;

	run = xcalloc(1, sizeof(*run));
	run->io.vt = &plan_vtbl;
	run->cfg = cfg;
	run->job = job;
	run->lock = lock;
	if (tag != NULL)
		snprintf(run->tag, sizeof(run->tag), "%s", tag);
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
		run->failed = "no stamp";
		run_set_state(run, RUN_FINISHING);
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
	rc = run->source->plugin->desc.plan(run->source->ctx, &run->io);
	if (rc == ZB_ERR && run->state == RUN_PLANNING)
		plan_done(&run->io, ZB_ERR, "plan() failed");
	schedule_advance(run);
	return run;
}

void
run_abort(struct run *run, const char *why)
{
	struct run_stream	*rs;
	struct run_artifact	*art;
	size_t			 i;

	if (run->state == RUN_DONE || run->state == RUN_ABORTING ||
	    run->abort_why != NULL)
		return;
	log_warnx("[job:%s] aborting: %s", run->job->name, why);
	if (run->state == RUN_PLANNING) {
		/* The plan ends first (plan_done): no stream starts then. */
		run->abort_why = xstrdup(why);
		return;
	}
	run_set_state(run, RUN_ABORTING);
	TAILQ_FOREACH(rs, &run->streams, entry)
		for (i = 0; i < rs->narts; i++) {
			art = rs->arts[i];
			if ((art->state == ART_STREAMING ||
			    art->state == ART_COMMITTING) && art->st != NULL &&
			    art->st->state != ST_FINISHED)
				stream_abort(art->st, "%s", why);
		}
	schedule_advance(run);
}

void
run_free(struct run *run)
{
	struct run_stream	*rs;
	size_t			 i;

	if (run == NULL)
		return;
	copy_unwait(run);
	free(run->copies);
	for (;;) {
		rs = TAILQ_FIRST(&run->streams);
		if (rs == NULL)
			break;
		TAILQ_REMOVE(&run->streams, rs, entry);
		for (i = 0; i < rs->narts; i++) {
			copy_slots_release(rs->arts[i]);
			art_free(rs->arts[i]);
		}
		free(rs->arts);
		free(rs->name);
		free(rs->ext);
		free(rs);
	}
	free(run->abort_why);
	event_free(run->advance_ev);
	free(run);
}
