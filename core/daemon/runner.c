/*
 * runner.c - job runs for the daemon (runner.h).
 *
 * TODO(h3): helper h3's core/jobq.[ch] is the shared job queue (the CLI's
 * `run' uses it too).  Until it is merged this adapter does the same for
 * the daemon alone with run_start(): lock at submit (refused at once
 * when held), a FIFO, at most max_parallel_jobs runs, each holding a
 * reference to its configuration generation until it ended.
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcfg.h"
#include "log.h"
#include "reactor.h"
#include "runner.h"
#include "state.h"
#include "util.h"

struct item {
	TAILQ_ENTRY(item)	 entry;
	struct zb_config	*cfg;		/* a reference */
	struct cfg_job		*job;
	struct job_lock		*lock;
	struct run		*run;
	runner_done_fn		 done;
	void			*arg;
	int			 aborted;
	int			 finished;
};

TAILQ_HEAD(itemq, item);
static struct itemq	 queued = TAILQ_HEAD_INITIALIZER(queued);
static struct itemq	 running = TAILQ_HEAD_INITIALIZER(running);
static size_t		 nrunning, nqueued;

static void	pump(void);

const char *
runner_status_str(enum runner_status s)
{
	switch (s) {
	case RUNNER_OK:
		return "ok";
	case RUNNER_PARTIAL:
		return "partial";
	case RUNNER_FAILED:
		return "failed";
	case RUNNER_REFUSED:
		return "refused";
	case RUNNER_ABORTED:
		return "aborted";
	}
	return "?";
}

/* Later, on the loop: a run is not freed inside its own callback. */
static void
item_free(void *arg)
{
	struct item	*it = arg;

	run_free(it->run);
	state_unlock(it->lock);
	dcfg_unref(it->cfg);
	free(it);
	pump();
}

static void
on_run_done(struct run *run, const struct run_summary *s, void *arg)
{
	struct item		*it = arg;
	struct runner_result	 r;

	memset(&r, 0, sizeof(r));
	r.job = it->job->name;
	r.summary = s;
	switch (s->result) {
	case RUN_OK:
		r.status = RUNNER_OK;
		break;
	case RUN_PARTIAL:
		r.status = it->aborted ? RUNNER_ABORTED : RUNNER_PARTIAL;
		break;
	default:
		r.status = it->aborted ? RUNNER_ABORTED : RUNNER_FAILED;
		break;
	}
	TAILQ_REMOVE(&running, it, entry);
	nrunning--;
	it->finished = 1;
	/* The lock goes before done: the job may be submitted again. */
	state_unlock(it->lock);
	it->lock = NULL;
	it->done(it->arg, &r);
	reactor_timer_add(0, item_free, it);
}

static void
pump(void)
{
	struct item	*it;

	for (;;) {
		it = TAILQ_FIRST(&queued);
		if (it == NULL ||
		    nrunning >= (size_t)it->cfg->max_parallel_jobs)
			break;
		TAILQ_REMOVE(&queued, it, entry);
		nqueued--;
		TAILQ_INSERT_TAIL(&running, it, entry);
		nrunning++;
		it->run = run_start(it->cfg, it->job, it->lock, on_run_done,
		    it);
	}
}

int
runner_submit(struct zb_config *cfg, const char *name, runner_done_fn done,
    void *arg)
{
	struct runner_result	 r;
	struct cfg_job		*job;
	struct job_lock		*lock;
	struct item		*it;
	char			 err[512];

	job = config_job(cfg, name);
	if (job == NULL)
		return -1;
	lock = state_lock_job(cfg, name, err, sizeof(err));
	if (lock == NULL) {
		memset(&r, 0, sizeof(r));
		r.job = name;
		r.status = RUNNER_REFUSED;
		r.error = err;
		done(arg, &r);
		return 0;
	}
	it = xcalloc(1, sizeof(*it));
	it->cfg = dcfg_ref(cfg);
	it->job = job;
	it->lock = lock;
	it->done = done;
	it->arg = arg;
	TAILQ_INSERT_TAIL(&queued, it, entry);
	nqueued++;
	if (nrunning >= (size_t)cfg->max_parallel_jobs)
		log_info("[job:%s] queued: %zu job%s running "
		    "(max_parallel_jobs = %d)", name, nrunning,
		    nrunning == 1 ? "" : "s", cfg->max_parallel_jobs);
	pump();
	return 0;
}

int
runner_running(const char *name)
{
	struct item	*it;

	TAILQ_FOREACH(it, &queued, entry)
		if (strcmp(it->job->name, name) == 0)
			return 1;
	TAILQ_FOREACH(it, &running, entry)
		if (strcmp(it->job->name, name) == 0)
			return 1;
	return 0;
}

void
runner_cancel_queued(const char *why)
{
	struct runner_result	 r;
	struct item		*it;

	/* Queued ones never started: they end here, aborted. */
	for (;;) {
		it = TAILQ_FIRST(&queued);
		if (it == NULL)
			break;
		TAILQ_REMOVE(&queued, it, entry);
		nqueued--;
		memset(&r, 0, sizeof(r));
		r.job = it->job->name;
		r.status = RUNNER_ABORTED;
		r.error = why;
		state_unlock(it->lock);
		it->lock = NULL;
		it->done(it->arg, &r);
		reactor_timer_add(0, item_free, it);
	}
}

void
runner_abort_all(const char *why)
{
	struct item	*it;

	runner_cancel_queued(why);
	TAILQ_FOREACH(it, &running, entry) {
		it->aborted = 1;
		run_abort(it->run, why);
	}
}

size_t
runner_active(void)
{
	return nrunning + nqueued;
}
