/*
 * jobq.c - the job queue: what runs when.  Owned by nobody but its front
 * end (zentoria-backupctl run, the daemon's scheduler).
 *
 * A submitted job takes its lock (state.c) at once and keeps it while it
 * waits and runs: a job never runs twice at once on this host, and a
 * second submission is refused without waiting, naming the holder's pid.
 * Queued jobs start in submission order as slots (max_parallel_jobs)
 * free up.  Each entry holds a reference to the config generation it was
 * submitted with, so that a reload does not change a run under its feet.
 *
 * Every run is recorded in state_dir/jobs/<job>.json (jobstate.c), by
 * the CLI's queue as by the daemon's: its start when it starts, its end
 * and outcome when it ends, both under the job lock; the lock is released
 * and done called once the end is written.  So the daemon's catch-up
 * sees a run of zentoria-backupctl, and a second run of the job cannot
 * start before the first one's record is complete.  The run itself is
 * freed and the next ones started from a deferred event, outside the
 * run's own call stack.
 *
 * A copy job (copy_from =) runs the copy service (copy.c) in a slot
 * instead of a run, with the same lock, state file and outcome: ok when
 * every selected copy is on every target, partial when some target has
 * them all, failed otherwise; its summary counts copies as streams.
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copy.h"
#include "jobq.h"
#include "jobstate.h"
#include "metrics.h"
#include "log.h"
#include "reactor.h"
#include "run.h"
#include "state.h"
#include "util.h"

/* RECORDING: the run ended, its outcome is being written (lock held). */
enum jobq_estate { JE_QUEUED, JE_RUNNING, JE_RECORDING, JE_ENDED };

struct jobq_entry {
	TAILQ_ENTRY(jobq_entry)	 entry;
	struct jobq		*q;
	enum jobq_estate	 state;
	struct zb_config	*cfg;		/* a reference */
	struct cfg_job		*job;
	struct job_lock		*lock;
	char			 tag[RETENTION_TAG_MAX];	/* "": none */
	struct run		*run;
	/*
	 * A copy job (copy_from =): the copy service instead of a run, and
	 * the run summary made of its result (no per-stream copies).
	 */
	struct copy		*copy;
	struct run_summary	 copy_sum;
	int			 aborted;
	enum jobq_status	 status;	/* RECORDING: the result */
	const struct run_summary *summary;
	uint64_t		 end_seq;	/* RECORDING: order of ends */
	int			 recorded;
	time_t			 end;
	char			 merr[512];	/* metrics_record_run */
	jobq_done_fn		 done;
	void			*arg;
};

TAILQ_HEAD(jobq_list, jobq_entry);

struct jobq {
	struct jobq_list	 entries;	/* submission order */
	int			 max_parallel;
	size_t			 running;
	uint64_t		 ends, dones;	/* ends seen, dones called */
	struct event		*kick_ev;
	struct jobq_runner	 runner;
};

static const struct jobq_runner default_runner = {
	run_start, run_abort, run_free, run_bytes_in
};

const char *
jobq_status_str(enum jobq_status s)
{
	switch (s) {
	case JOBQ_OK:
		return "ok";
	case JOBQ_PARTIAL:
		return "partial";
	case JOBQ_FAILED:
		return "failed";
	case JOBQ_REFUSED:
		return "refused";
	case JOBQ_ABORTED:
		return "aborted";
	}
	return "?";
}

static void	on_kick(evutil_socket_t, short, void *);
static void	kick(struct jobq *);

struct jobq *
jobq_new(int max_parallel_jobs)
{
	struct jobq	*q;

	q = xcalloc(1, sizeof(*q));
	TAILQ_INIT(&q->entries);
	q->max_parallel = max_parallel_jobs > 0 ? max_parallel_jobs : 1;
	q->kick_ev = event_new(reactor_base(), -1, 0, on_kick, q);
	q->runner = default_runner;
	return q;
}

void
jobq_set_limit(struct jobq *q, int max_parallel_jobs)
{
	int	 n = max_parallel_jobs > 0 ? max_parallel_jobs : 1;

	if (n == q->max_parallel)
		return;
	log_info("max_parallel_jobs: %d, was %d", n, q->max_parallel);
	q->max_parallel = n;
	kick(q);
}

void
jobq_set_runner(struct jobq *q, const struct jobq_runner *r)
{
	q->runner = *r;
}

static void
kick(struct jobq *q)
{
	event_active(q->kick_ev, 0, 0);
}

static void
entry_free(struct jobq_entry *e)
{
	if (e->run != NULL)
		e->q->runner.free(e->run);
	state_unlock(e->lock);
	config_unref(e->cfg);	/* after the run: it used it */
	free(e);
}

/* The outcome is in the job's state file: release the job, tell. */
static void
finish(struct jobq_entry *e)
{
	struct jobq		*q = e->q;
	struct jobq_result	 res;

	memset(&res, 0, sizeof(res));
	res.job = e->job->name;
	res.status = e->status;
	res.summary = e->summary;	/* the run is freed by on_kick */
	e->state = JE_ENDED;
	q->running--;
	/* Before done: it may submit the job again. */
	state_unlock(e->lock);
	e->lock = NULL;
	log_debug("jobq: job %s ended: %s (%zu running)", e->job->name,
	    jobq_status_str(res.status), q->running);
	e->done(e->arg, &res);
	kick(q);	/* free the run, start the next */
}

/*
 * Records of different jobs finish on worker threads in any order; done
 * is called in the order the runs ended all the same.
 */
static void
on_recorded(void *arg)
{
	struct jobq_entry	*e = arg;
	struct jobq		*q = e->q;

	e->recorded = 1;
	for (;;) {
		TAILQ_FOREACH(e, &q->entries, entry)
			if (e->state == JE_RECORDING && e->recorded &&
			    e->end_seq == q->dones)
				break;
		if (e == NULL)
			return;
		q->dones++;
		finish(e);
	}
}

/* (on a worker) merge the run's copies into state_dir/metrics/ */
static int
record_metrics(void *arg)
{
	struct jobq_entry	*e = arg;
	const char		*sinks[CFG_MAX_SINKS];
	size_t			 i;

	for (i = 0; i < e->job->nsinks; i++)
		sinks[i] = e->job->sinks[i]->name;
	e->merr[0] = '\0';
	return metrics_record_run(e->cfg->state_dir, e->job->name,
	    e->job->source != NULL ? e->job->source->name :
	    e->job->copy_from->name, sinks, jobq_status_str(e->status), e->end,
	    e->summary, e->merr, sizeof(e->merr));
}

static void
metrics_recorded(void *arg, int rc)
{
	struct jobq_entry	*e = arg;
	struct jobstate_change	 c;

	if (rc == -1)
		log_warnx("job %s: its metrics were not recorded: %s",
		    e->job->name, e->merr);
	memset(&c, 0, sizeof(c));
	c.what = JOBSTATE_END;
	c.end = e->end;
	snprintf(c.outcome, sizeof(c.outcome), "%s",
	    jobq_status_str(e->status));
	jobstate_update_async(e->cfg->state_dir, "job", e->job->name, &c,
	    on_recorded, e);
}

/*
 * A run ended: its outcome goes to the job's state file while the job
 * lock is still held, so that no other process's run of the job can
 * start (and record its start) before this end is written.
 */
static void
on_run_done(struct run *run, const struct run_summary *s, void *arg)
{
	struct jobq_entry	*e = arg;

	switch (s->result) {
	case RUN_OK:
		e->status = JOBQ_OK;
		break;
	case RUN_PARTIAL:
		e->status = JOBQ_PARTIAL;
		break;
	default:
		e->status = JOBQ_FAILED;
		break;
	}
	if (e->aborted)
		e->status = JOBQ_ABORTED;
	e->summary = s;
	e->state = JE_RECORDING;
	e->end_seq = e->q->ends++;
	e->end = time(NULL);
	/* the copies' metrics first, then the job's state file */
	if (reactor_offload(record_metrics, metrics_recorded, e) == -1) {
		(void)record_metrics(e);
		metrics_recorded(e, 0);
	}
}

/* A copy job ended: its result as a run summary, then as a run's end. */
static void
on_copy_done(void *arg, const struct copy_result *r)
{
	struct jobq_entry	*e = arg;
	struct run_summary	*s = &e->copy_sum;
	size_t			 i;
	int			 some = 0;

	e->copy = NULL;		/* it frees itself after this */
	memset(s, 0, sizeof(*s));
	s->streams = r->selected;
	s->copies_ok = r->copied;
	s->copies_failed = r->failed;
	s->stored_bytes = s->plain_bytes = r->bytes;
	s->elapsed_ms = r->duration_ms;
	s->peak_buffered = r->peak_buffered;
	s->budget = r->budget;
	s->nsinks = r->ntargets;
	s->streams_ok = r->selected;
	for (i = 0; i < r->ntargets && i < CFG_MAX_SINKS; i++) {
		s->sink_streams_ok[i] = r->on_target[i];
		if (r->on_target[i] < s->streams_ok)
			s->streams_ok = r->on_target[i];
		if (r->on_target[i] == r->selected)
			some = 1;
	}
	if (r->failed == 0)
		s->result = RUN_OK;
	else
		s->result = some && r->selected > 0 ? RUN_PARTIAL : RUN_FAILED;
	on_run_done(NULL, s, e);
}

static void
start_copy_job(struct jobq_entry *e)
{
	struct copy_params	 p;
	const char		*to[CFG_MAX_SINKS];
	size_t			 i;

	memset(&p, 0, sizeof(p));
	for (i = 0; i < e->job->nsinks; i++)
		to[i] = e->job->sinks[i]->name;
	p.from = e->job->copy_from->name;
	p.to = to;
	p.nto = e->job->nsinks;
	p.sources = e->job->copy_sources;
	p.nsources = e->job->ncopy_sources;
	p.newest_per_stream = e->job->newest_per_stream;
	p.since_s = e->job->since_ms / 1000;
	p.job = e->job->name;
	p.lock = e->lock;
	e->copy = copy_start(e->cfg, &p, NULL, on_copy_done, e);
}

static void
start_queued(struct jobq *q)
{
	struct jobq_entry	*e;
	struct jobstate_change	 c;

	TAILQ_FOREACH(e, &q->entries, entry) {
		if (q->running >= (size_t)q->max_parallel)
			break;
		if (e->state != JE_QUEUED)
			continue;
		e->state = JE_RUNNING;
		q->running++;
		log_debug("jobq: job %s starts (%zu of %d slots)",
		    e->job->name, q->running, q->max_parallel);
		/* (catch-up counts from it, whoever ran the job) */
		memset(&c, 0, sizeof(c));
		c.what = JOBSTATE_START;
		c.start = time(NULL);
		jobstate_update_async(e->cfg->state_dir, "job", e->job->name,
		    &c, NULL, NULL);
		if (e->job->copy_from != NULL) {
			start_copy_job(e);
			continue;
		}
		e->run = q->runner.start(e->cfg, e->job, e->lock,
		    e->tag[0] != '\0' ? e->tag : NULL, on_run_done, e);
	}
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct jobq		*q = arg;
	struct jobq_entry	*e, *next;

	for (e = TAILQ_FIRST(&q->entries); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (e->state != JE_ENDED)
			continue;
		TAILQ_REMOVE(&q->entries, e, entry);
		entry_free(e);
	}
	start_queued(q);
}

int
jobq_submit(struct jobq *q, struct zb_config *cfg, const char *name,
    const struct jobq_opts *opts, jobq_done_fn done, void *arg)
{
	struct jobq_entry	*e;
	struct jobq_result	 res;
	struct cfg_job		*job;
	struct job_lock		*lock;
	char			 err[512];

	job = config_job(cfg, name);
	if (job == NULL)
		return -1;
	lock = state_lock_job(cfg, job->name, err, sizeof(err));
	if (lock == NULL) {
		log_warnx("[job:%s] refused: %s", job->name, err);
		memset(&res, 0, sizeof(res));
		res.job = job->name;
		res.status = JOBQ_REFUSED;
		res.error = err;
		done(arg, &res);
		return 0;
	}
	e = xcalloc(1, sizeof(*e));
	e->q = q;
	e->state = JE_QUEUED;
	e->cfg = config_ref(cfg);
	e->job = job;
	e->lock = lock;
	if (opts != NULL && opts->tag != NULL)
		snprintf(e->tag, sizeof(e->tag), "%s", opts->tag);
	e->done = done;
	e->arg = arg;
	TAILQ_INSERT_TAIL(&q->entries, e, entry);
	log_debug("jobq: job %s queued (%zu active)", job->name,
	    jobq_active(q));
	kick(q);
	return 0;
}

int
jobq_running(const struct jobq *q, const char *job)
{
	const struct jobq_entry	*e;

	TAILQ_FOREACH(e, &q->entries, entry)
		if (e->state != JE_ENDED && strcmp(e->job->name, job) == 0)
			return 1;
	return 0;
}

size_t
jobq_active(const struct jobq *q)
{
	const struct jobq_entry	*e;
	size_t			 n = 0;

	TAILQ_FOREACH(e, &q->entries, entry)
		if (e->state != JE_ENDED)
			n++;
	return n;
}

uint64_t
jobq_bytes_in(const struct jobq *q)
{
	const struct jobq_entry	*e;
	uint64_t		 n = 0;

	TAILQ_FOREACH(e, &q->entries, entry)
		if (e->state == JE_RUNNING && e->copy != NULL)
			n += copy_bytes(e->copy);
		else if (e->state == JE_RUNNING && e->run != NULL)
			n += q->runner.bytes_in(e->run);
	return n;
}

struct live_ctx {
	const char	*job;
	void		(*fn)(void *, const char *, const struct run_live *);
	void		*arg;
};

static void
live_one(void *arg, const struct run_live *l)
{
	struct live_ctx	*c = arg;

	c->fn(c->arg, c->job, l);
}

void
jobq_live(const struct jobq *q,
    void (*fn)(void *, const char *job, const struct run_live *), void *arg)
{
	const struct jobq_entry	*e;
	struct live_ctx		 c;

	if (q->runner.start != run_start)
		return;		/* a fake run */
	c.fn = fn;
	c.arg = arg;
	TAILQ_FOREACH(e, &q->entries, entry)
		if (e->state == JE_RUNNING && e->run != NULL) {
			c.job = e->job->name;
			run_live(e->run, live_one, &c);
		}
}

void
jobq_cancel_queued(struct jobq *q, const char *why)
{
	struct jobq_entry	*e, *next;
	struct jobq_result	 res;

	for (e = TAILQ_FIRST(&q->entries); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (e->state != JE_QUEUED)
			continue;
		TAILQ_REMOVE(&q->entries, e, entry);
		memset(&res, 0, sizeof(res));
		res.job = e->job->name;
		res.status = JOBQ_ABORTED;
		res.error = why;
		log_debug("jobq: job %s aborted before it started: %s",
		    e->job->name, why);
		state_unlock(e->lock);
		e->lock = NULL;
		e->done(e->arg, &res);
		entry_free(e);
	}
}

void
jobq_abort_all(struct jobq *q, const char *why)
{
	struct jobq_entry	*e;

	jobq_cancel_queued(q, why);
	TAILQ_FOREACH(e, &q->entries, entry) {
		if (e->state == JE_RUNNING && !e->aborted) {
			e->aborted = 1;
			if (e->copy != NULL)
				copy_abort(e->copy, why);
			else if (e->run != NULL)
				q->runner.abort(e->run, why);
		}
	}
}

void
jobq_free(struct jobq *q)
{
	struct jobq_entry	*e;

	if (q == NULL)
		return;
	for (;;) {
		e = TAILQ_FIRST(&q->entries);
		if (e == NULL)
			break;
		TAILQ_REMOVE(&q->entries, e, entry);
		entry_free(e);
	}
	event_free(q->kick_ev);
	free(q);
}
