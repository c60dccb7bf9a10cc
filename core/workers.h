/*
 * workers.h - the worker pool: CPU work (SHA-256, compression, age) off
 * the loop thread.
 *
 * A job's run() executes on a pool thread and may touch only what the
 * job owns; its done() then runs on the loop, never inside
 * workers_submit().  Jobs run in any order and in parallel: a caller that
 * needs an order (the stages of one stream) submits the next job from the
 * previous one's done().  The hand-over through the pool's mutex orders
 * run() after submit() and done() after run() for the memory model, so
 * state passed from one job to the next needs no lock of its own.
 *
 * Without workers_start(), or with 0 threads, run() executes on the loop
 * too, from a deferred event: the same order of calls, on one thread.
 */
#ifndef ZB_WORKERS_H
#define ZB_WORKERS_H

#include <sys/queue.h>

struct wjob {
	void			(*run)(struct wjob *);	/* pool thread */
	void			(*done)(struct wjob *);	/* the loop */
	TAILQ_ENTRY(wjob)	 entry;
};

/* The pool's size for `workers = auto': the CPUs this process may use. */
int	workers_auto(void);
/*
 * Start n threads (0: run jobs on the loop).  Call once the reactor is
 * up; again with another n only after workers_stop().  0, or -1 (logged)
 * when no thread could be started (jobs then run on the loop).
 */
int	workers_start(int n);
/* Wait for the threads to finish the jobs they run, and end them. */
void	workers_stop(void);
/* Threads running (0: jobs run on the loop). */
int	workers_count(void);
void	workers_submit(struct wjob *);
/*
 * Tests only: each pool thread sleeps a random 0 to max_us microseconds
 * before it runs a job, so that jobs finish in shuffled order (0: off).
 */
void	workers_test_jitter(unsigned int max_us);

#endif
