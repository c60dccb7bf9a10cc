/*
 * workers.c - the worker pool (workers.h): a fixed set of threads taking
 * jobs from one queue under a mutex, and handing them back to the loop
 * through a second queue and a pipe that wakes it.
 *
 * Loop side: workers_submit() and the done() callbacks.  Pool side: run().
 * Both queues and `stopping' are guarded by `mu'; nothing else is shared.
 */
#include "zb-build.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "reactor.h"
#include "util.h"
#include "workers.h"

#define WORKERS_MAX	64

TAILQ_HEAD(wjobq, wjob);

static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cv = PTHREAD_COND_INITIALIZER;
static struct wjobq	 todo = TAILQ_HEAD_INITIALIZER(todo);
static struct wjobq	 finished = TAILQ_HEAD_INITIALIZER(finished);
static pthread_t	 threads[WORKERS_MAX];
static int		 nthreads;
static unsigned int	 jitter_us;	/* tests: workers_test_jitter() */
static int		 stopping;
static int		 wake[2] = { -1, -1 };
static int		 wake_pending;	/* a byte is in the pipe */
static struct event	*wake_ev;	/* pool: jobs came back */
static struct event	*inline_ev;	/* no pool: run jobs here */

int
workers_auto(void)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

#ifdef CPU_COUNT
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) > 0)
		n = CPU_COUNT(&set);
#endif
	if (n < 1)
		n = 1;
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	return (int)n;
}

static void *
worker_main(void *arg)
{
	struct wjob	*j;
	char		 b = 1;
	unsigned int	 seed = (unsigned int)(uintptr_t)arg, jitter;

	pthread_mutex_lock(&mu);
	for (;;) {
		while (TAILQ_EMPTY(&todo) && !stopping)
			pthread_cond_wait(&cv, &mu);
		j = TAILQ_FIRST(&todo);
		if (j == NULL)
			break;		/* stopping, and nothing left */
		TAILQ_REMOVE(&todo, j, entry);
		jitter = jitter_us;
		pthread_mutex_unlock(&mu);
		if (jitter > 0)
			usleep((useconds_t)(rand_r(&seed) % jitter));
		j->run(j);
		pthread_mutex_lock(&mu);
		TAILQ_INSERT_TAIL(&finished, j, entry);
		if (!wake_pending) {
			wake_pending = 1;
			(void)write(wake[1], &b, 1);
		}
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* The loop: call done() for every job that came back. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct wjobq	 batch = TAILQ_HEAD_INITIALIZER(batch);
	struct wjob	*j;
	char		 b[64];

	(void)what;
	(void)arg;
	pthread_mutex_lock(&mu);
	while (read(fd, b, sizeof(b)) > 0)
		;
	wake_pending = 0;
	TAILQ_CONCAT(&batch, &finished, entry);
	pthread_mutex_unlock(&mu);
	while (!TAILQ_EMPTY(&batch)) {
		j = TAILQ_FIRST(&batch);
		TAILQ_REMOVE(&batch, j, entry);
		j->done(j);
	}
}

/* No pool: run the queued jobs on the loop, then their done(). */
static void
on_inline(evutil_socket_t fd, short what, void *arg)
{
	struct wjobq	 batch = TAILQ_HEAD_INITIALIZER(batch);
	struct wjob	*j;

	(void)fd;
	(void)what;
	(void)arg;
	TAILQ_CONCAT(&batch, &todo, entry);
	while (!TAILQ_EMPTY(&batch)) {
		j = TAILQ_FIRST(&batch);
		TAILQ_REMOVE(&batch, j, entry);
		j->run(j);
		j->done(j);
	}
}

int
workers_start(int n)
{
	int	 i, rc = 0;

	if (inline_ev == NULL)
		inline_ev = event_new(reactor_base(), -1, 0, on_inline, NULL);
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	if (n <= 0 || nthreads > 0)
		return 0;
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("workers: pipe");
		return -1;
	}
	wake_ev = event_new(reactor_base(), wake[0], EV_READ | EV_PERSIST,
	    on_wake, NULL);
	event_add(wake_ev, NULL);
	stopping = 0;
	for (i = 0; i < n; i++) {
		rc = pthread_create(&threads[i], NULL, worker_main,
		    (void *)(uintptr_t)(i + 1));
		if (rc != 0) {
			log_warnx("workers: cannot start thread %d of %d: %s",
			    i + 1, n, strerror(rc));
			break;
		}
		nthreads++;
	}
	log_debug("workers: %d thread%s", nthreads, nthreads == 1 ? "" : "s");
	return nthreads == n ? 0 : -1;
}

void
workers_stop(void)
{
	int	 i;

	if (nthreads > 0) {
		pthread_mutex_lock(&mu);
		stopping = 1;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		for (i = 0; i < nthreads; i++)
			pthread_join(threads[i], NULL);
		nthreads = 0;
		/* What came back after the loop's last turn. */
		on_wake(wake[0], EV_READ, NULL);
		event_free(wake_ev);
		wake_ev = NULL;
		close(wake[0]);
		close(wake[1]);
		wake[0] = wake[1] = -1;
	}
	if (inline_ev != NULL) {
		on_inline(-1, 0, NULL);
		event_free(inline_ev);
		inline_ev = NULL;
	}
}

void
workers_test_jitter(unsigned int max_us)
{
	pthread_mutex_lock(&mu);
	jitter_us = max_us;
	pthread_mutex_unlock(&mu);
}

int
workers_count(void)
{
	return nthreads;
}

void
workers_submit(struct wjob *j)
{
	if (nthreads == 0) {
		if (inline_ev == NULL)
			inline_ev = event_new(reactor_base(), -1, 0,
			    on_inline, NULL);
		TAILQ_INSERT_TAIL(&todo, j, entry);
		event_active(inline_ev, 0, 0);
		return;
	}
	pthread_mutex_lock(&mu);
	TAILQ_INSERT_TAIL(&todo, j, entry);
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}
