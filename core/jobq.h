/*
 * jobq.h - the job queue, a core service of the CLI and the daemon: runs
 * jobs in submission order, at most max_parallel_jobs at once, each
 * under its job lock (state.c) and its config generation.
 */
#ifndef ZB_JOBQ_H
#define ZB_JOBQ_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "retention.h"
#include "run.h"

struct jobq;
struct job_lock;

enum jobq_status {
	JOBQ_OK,		/* every stream on every sink */
	JOBQ_PARTIAL,		/* every stream on some sink */
	JOBQ_FAILED,
	JOBQ_REFUSED,		/* the job's lock is held: error names the pid */
	JOBQ_ABORTED		/* jobq_abort_all(): summary NULL if it never ran */
};

struct jobq_result {
	const char			*job;
	enum jobq_status		 status;
	const char			*error;		/* or NULL */
	const struct run_summary	*summary;	/* NULL unless it ran */
};

typedef void (*jobq_done_fn)(void *arg, const struct jobq_result *);

/* How to run a job (NULL: the defaults, all zero). */
struct jobq_opts {
	/* the run's tag (a schedule line's tag=, `run --tag'): valid as
	 * retention_tag_valid() says, or NULL; copied */
	const char	*tag;
};

struct jobq	*jobq_new(int max_parallel_jobs);
/*
 * Change max_parallel_jobs (a reload): a higher limit starts queued runs
 * now; a lower one lets the running ones finish and starts no more
 * until fewer than the limit run.
 */
void		 jobq_set_limit(struct jobq *, int max_parallel_jobs);
/*
 * Queue a run of job of cfg with opts (NULL: none).  The queue takes the job's lock at once: a
 * job running already (in this queue, another process, the daemon) is
 * refused without waiting: done is called with JOBQ_REFUSED before
 * jobq_submit returns.  Otherwise done is called on the loop when the
 * run has ended (or was aborted before it started); the result is only
 * valid during the call.  The queue holds a reference to cfg until then.
 * 0, or -1 when cfg has no such job (done is not called).
 */
int		 jobq_submit(struct jobq *, struct zb_config *,
		    const char *job, const struct jobq_opts *,
		    jobq_done_fn done, void *arg);
/* Whether job is queued or running in this queue. */
int		 jobq_running(const struct jobq *, const char *job);
/*
 * Abort every running run (no manifest for a copy in progress) and end
 * every queued one with JOBQ_ABORTED (done called before this returns).
 */
void		 jobq_abort_all(struct jobq *, const char *why);
/*
 * End every queued run that has not started with JOBQ_ABORTED (done
 * called before this returns); running ones go on (the daemon's SIGTERM).
 */
void		 jobq_cancel_queued(struct jobq *, const char *why);
/* Jobs queued or running. */
size_t		 jobq_active(const struct jobq *);
/* Plaintext bytes read by the running runs so far (progress lines). */
uint64_t	 jobq_bytes_in(const struct jobq *);
/*
 * Call fn for each running stream of the queue's running runs (with the
 * job's name); see run_live().  A fake runner (tests) reports none.
 */
void		 jobq_live(const struct jobq *,
		    void (*fn)(void *, const char *job, const struct run_live *),
		    void *arg);
/* Free the queue; only once jobq_active() is 0 (or at exit). */
void		 jobq_free(struct jobq *);

/*
 * How the queue starts, aborts and frees a run: run.c's by default; the
 * unit tests put a fake one in.
 */
struct jobq_runner {
	struct run	*(*start)(struct zb_config *, struct cfg_job *,
			    struct job_lock *, const char *tag, run_done_fn,
			    void *);
	void		 (*abort)(struct run *, const char *why);
	void		 (*free)(struct run *);
	uint64_t	 (*bytes_in)(const struct run *);
};
void		 jobq_set_runner(struct jobq *, const struct jobq_runner *);
const char	*jobq_status_str(enum jobq_status);

#endif
