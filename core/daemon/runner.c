/*
 * runner.c - job runs for the daemon (runner.h): a thin wrapper over the
 * core's job queue (jobq.c), which takes the job lock at submission
 * (refused at once when held, by the CLI say), starts runs in order up
 * to max_parallel_jobs and holds each run's config generation.  The one
 * queue is made with the max_parallel_jobs of the first configuration:
 * a reload does not change it (docs/daemon.md).
 */
#include "zb-build.h"

#include <stdlib.h>

#include "jobq.h"
#include "log.h"
#include "runner.h"
#include "util.h"

struct call {
	runner_done_fn	 done;
	void		*arg;
};

static struct jobq	*q;

const char *
runner_status_str(enum runner_status s)
{
	return jobq_status_str((enum jobq_status)s);
}

static void
on_done(void *arg, const struct jobq_result *jr)
{
	struct call		*c = arg;
	struct runner_result	 r;

	r.job = jr->job;
	r.error = jr->error;
	r.summary = jr->summary;
	switch (jr->status) {
	case JOBQ_OK:
		r.status = RUNNER_OK;
		break;
	case JOBQ_PARTIAL:
		r.status = RUNNER_PARTIAL;
		break;
	case JOBQ_REFUSED:
		r.status = RUNNER_REFUSED;
		break;
	case JOBQ_ABORTED:
		r.status = RUNNER_ABORTED;
		break;
	default:
		r.status = RUNNER_FAILED;
		break;
	}
	c->done(c->arg, &r);
	free(c);
}

int
runner_submit(struct zb_config *cfg, const char *name, const char *tag,
    runner_done_fn done, void *arg)
{
	struct jobq_opts	 opts = { tag };
	struct call		*c;

	if (q == NULL)
		q = jobq_new(cfg->max_parallel_jobs);
	c = xcalloc(1, sizeof(*c));
	c->done = done;
	c->arg = arg;
	if (jobq_submit(q, cfg, name, &opts, on_done, c) == -1) {
		free(c);
		return -1;
	}
	return 0;
}

int
runner_running(const char *name)
{
	return q != NULL && jobq_running(q, name);
}

void
runner_cancel_queued(const char *why)
{
	if (q != NULL)
		jobq_cancel_queued(q, why);
}

void
runner_abort_all(const char *why)
{
	if (q != NULL)
		jobq_abort_all(q, why);
}

size_t
runner_active(void)
{
	return q != NULL ? jobq_active(q) : 0;
}

void
runner_free(void)
{
	jobq_free(q);
	q = NULL;
}
