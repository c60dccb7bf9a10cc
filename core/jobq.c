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
 * A run's end is handled in its callback (lock released, done called);
 * the run itself is freed and the next ones started from a deferred
 * event, outside the run's own call stack.
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "jobq.h"
#include "log.h"
#include "reactor.h"
#include "run.h"
#include "state.h"
#include "util.h"

enum jobq_estate { JE_QUEUED, JE_RUNNING, JE_ENDED };

struct jobq_entry {
	TAILQ_ENTRY(jobq_entry)	 entry;
	struct jobq		*q;
	enum jobq_estate	 state;
	struct zb_config	*cfg;		/* a reference */
	struct cfg_job		*job;
	struct job_lock		*lock;
	struct run		*run;
	int			 aborted;
	jobq_done_fn		 done;
	void			*arg;
};

TAILQ_HEAD(jobq_list, jobq_entry);

struct jobq {
	struct jobq_list	 entries;	/* submission order */
	int			 max_parallel;
	size_t			 running;
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

static void
on_run_done(struct run *run, const struct run_summary *s, void *arg)
{
	struct jobq_entry	*e = arg;
	struct jobq		*q = e->q;
	struct jobq_result	 res;

	memset(&res, 0, sizeof(res));
	res.job = e->job->name;
	res.summary = s;
	switch (s->result) {
	case RUN_OK:
		res.status = JOBQ_OK;
		break;
	case RUN_PARTIAL:
		res.status = JOBQ_PARTIAL;
		break;
	default:
		res.status = JOBQ_FAILED;
		break;
	}
	if (e->aborted)
		res.status = JOBQ_ABORTED;
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

static void
start_queued(struct jobq *q)
{
	struct jobq_entry	*e;

	TAILQ_FOREACH(e, &q->entries, entry) {
		if (q->running >= (size_t)q->max_parallel)
			break;
		if (e->state != JE_QUEUED)
			continue;
		e->state = JE_RUNNING;
		q->running++;
		log_debug("jobq: job %s starts (%zu of %d slots)",
		    e->job->name, q->running, q->max_parallel);
		e->run = q->runner.start(e->cfg, e->job, e->lock, on_run_done,
		    e);
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
    jobq_done_fn done, void *arg)
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
		if (e->state == JE_RUNNING)
			n += q->runner.bytes_in(e->run);
	return n;
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
