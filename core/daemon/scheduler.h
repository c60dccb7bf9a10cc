/*
 * scheduler.h - when the daemon runs jobs (and checks): next fire times
 * from the schedules, jitter, catch-up at start, no overlap.
 */
#ifndef ZB_SCHEDULER_H
#define ZB_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

struct jobq;
struct sched;

/*
 * A scheduler for generation cfg (it takes a reference) that runs jobs
 * on q (the caller's; it must outlive the scheduler).  Reads each
 * job's state file; a job whose schedule fired while the daemon was
 * down (a fire time after its last recorded start, up to now) is due at
 * once, one run whatever the number of missed fire times.  A job that
 * never ran waits for its next fire time.  Nothing fires before
 * sched_start().
 */
struct sched	*sched_new(struct zb_config *, struct jobq *q);
void		 sched_start(struct sched *);
/*
 * Switch to generation cfg (a new reference; the old one is dropped):
 * jobs that are gone are no longer scheduled (a running one finishes
 * with its generation); a job whose schedules and jitter are unchanged
 * keeps its next fire time; others get the next one after now.
 */
void		 sched_reload(struct sched *, struct zb_config *);
/*
 * Stop firing (SIGTERM); runs queued behind max_parallel_jobs are
 * dropped, running ones go on.  idle(arg) is called on the loop once
 * nothing runs any more and every state file is written.
 */
void		 sched_stop(struct sched *, void (*idle)(void *), void *arg);
/* Runs, checks and retention passes still going. */
size_t		 sched_busy(const struct sched *);
void		 sched_free(struct sched *);
/*
 * Start job (is_check 0) or check `name' now, off schedule (the control
 * API): 0 started (or queued behind max_parallel_jobs; *start its start
 * time), 1 running already (or the job's lock is held), -1 no such job
 * or check, -2 the daemon is stopping.
 */
int		 sched_run_now(struct sched *, int is_check, const char *name,
		    time_t *start);
/* What the scheduler knows of a job or check: -1 if it has no entry. */
struct sched_info {
	int		 running;
	time_t		 next;		/* -1: none */
	time_t		 last_start, last_end;	/* 0: never */
	const char	*outcome;	/* "" when unknown */
	uint64_t	 duration_ms, restore_ms;
	unsigned	 items, failed;
};
int		 sched_info(const struct sched *, int is_check,
		    const char *name, struct sched_info *);

/*
 * The Prometheus text of the state files and of what the scheduler knows
 * now (running jobs, next fires); caller frees.  NULL with err.
 */
char	*sched_metrics(struct sched *, char *err, size_t errlen);

#endif
