/*
 * runner.h - the daemon's way to run jobs: the core's job queue
 * (core/jobq.h), one per daemon.
 */
#ifndef ZB_RUNNER_H
#define ZB_RUNNER_H

#include <stddef.h>

#include "config.h"
#include "run.h"

enum runner_status {
	RUNNER_OK, RUNNER_PARTIAL, RUNNER_FAILED, RUNNER_REFUSED,
	RUNNER_ABORTED
};

struct runner_result {
	const char			*job;
	enum runner_status		 status;
	const char			*error;		/* REFUSED: why */
	const struct run_summary	*summary;	/* NULL unless it ran */
};

typedef void (*runner_done_fn)(void *arg, const struct runner_result *);

/*
 * Queue a run of job with generation cfg (referenced until the run
 * ended), tagged tag (the schedule line's tag=, or NULL).  The job lock is taken now: when it is held (a CLI run, say),
 * done gets RUNNER_REFUSED with the holder's pid in error before this
 * returns.  Runs start in submission order, at most [daemon]
 * max_parallel_jobs at once.  -1: no such job.
 */
int		 runner_submit(struct zb_config *, const char *job,
		    const char *tag, runner_done_fn, void *arg);
int		 runner_running(const char *job);
/* End the queued runs that did not start (aborted, done called). */
void		 runner_cancel_queued(const char *why);
/* Abort every queued and running run; each done still comes. */
void		 runner_abort_all(const char *why);
/* Queued and running. */
size_t		 runner_active(void);
const char	*runner_status_str(enum runner_status);
/* At exit, once runner_active() is 0. */
void		 runner_free(void);

#endif
