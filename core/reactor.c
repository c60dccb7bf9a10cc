/*
 * reactor.c - owner of the single event_base.
 *
 * Everything in the daemon and the CLI runs on this loop: plugin fds,
 * child pipes, timers and signals.  The one way off the loop is
 * reactor_offload(): a blocking library call (a libarchive disk walk, an
 * fsync) runs on its own thread, which only signals completion through a
 * pipe; its done callback then runs back on the loop.
 */
#include "zb-build.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reactor.h"
#include "util.h"

struct zb_timer {
	struct event	*ev;
	void		(*cb)(void *);
	void		*arg;
};

struct offload {
	pthread_t	 thread;
	int		 pipe[2];
	struct event	*ev;
	int		(*work)(void *);
	void		(*done)(void *, int);
	void		*arg;
	int		 result;
};

static struct event_base	*base;
static int			 ntimers;	/* zb_timers pending */
static struct event		*sig_ev[3];
static void			(*sig_cb)(int, void *);
static void			*sig_arg;
static int			 offload_count;

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_debug("signal %d", (int)sig);
	if (sig_cb != NULL)
		sig_cb((int)sig, sig_arg);
	else if (sig != SIGHUP)
		event_base_loopbreak(base);
}

void
reactor_init(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	size_t	 i;

	base = event_base_new();
	if (base == NULL)
		fatalx("cannot create the event loop");
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < ZB_NELEM(sigs); i++) {
		sig_ev[i] = evsignal_new(base, sigs[i], on_signal, NULL);
		if (sig_ev[i] == NULL || evsignal_add(sig_ev[i], NULL) == -1)
			fatalx("cannot watch signal %d", sigs[i]);
	}
}

void
reactor_free(void)
{
	size_t	 i;

	for (i = 0; i < ZB_NELEM(sig_ev); i++) {
		if (sig_ev[i] != NULL)
			event_free(sig_ev[i]);
		sig_ev[i] = NULL;
	}
	if (base != NULL)
		event_base_free(base);
	base = NULL;
}

struct event_base *
reactor_base(void)
{
	return base;
}

int
reactor_run(void)
{
	return event_base_dispatch(base);
}

void
reactor_stop(void)
{
	event_base_loopbreak(base);
}

void
reactor_run_until(const int *flag)
{
	while (!*flag) {
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			fatalx("event loop failed");
	}
}

void
reactor_on_signal(void (*cb)(int, void *), void *arg)
{
	sig_cb = cb;
	sig_arg = arg;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct zb_timer	*t = arg;
	void		(*cb)(void *) = t->cb;
	void		*cbarg = t->arg;

	/* One-shot: free first so the callback may add a new timer. */
	event_free(t->ev);
	free(t);
	ntimers--;
	cb(cbarg);
}

struct zb_timer *
reactor_timer_add(uint64_t ms, void (*cb)(void *), void *arg)
{
	struct zb_timer	*t;
	struct timeval	 tv;

	t = xcalloc(1, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
	t->ev = evtimer_new(base, on_timer, t);
	if (t->ev == NULL)
		fatalx("%s: evtimer_new", __func__);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(t->ev, &tv);
	ntimers++;
	return t;
}

void
reactor_timer_del(struct zb_timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
	ntimers--;
}

int
reactor_timers_pending(void)
{
	return ntimers;
}

static void *
offload_main(void *arg)
{
	struct offload	*o = arg;
	sigset_t	 all;
	char		 c = 0;

	/* Signals belong to the loop thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	o->result = o->work(o->arg);
	(void)write_all(o->pipe[1], &c, 1);
	return NULL;
}

static void
offload_finished(evutil_socket_t fd, short what, void *arg)
{
	struct offload	*o = arg;

	pthread_join(o->thread, NULL);
	event_free(o->ev);
	close(o->pipe[0]);
	close(o->pipe[1]);
	offload_count--;
	o->done(o->arg, o->result);
	free(o);
}

int
reactor_offload(int (*work)(void *), void (*done)(void *, int), void *arg)
{
	struct offload	*o;
	int		 err;

	o = xcalloc(1, sizeof(*o));
	o->work = work;
	o->done = done;
	o->arg = arg;
	if (pipe2(o->pipe, O_CLOEXEC) == -1) {
		free(o);
		return -1;
	}
	o->ev = event_new(base, o->pipe[0], EV_READ, offload_finished, o);
	event_add(o->ev, NULL);
	err = pthread_create(&o->thread, NULL, offload_main, o);
	if (err != 0) {
		event_free(o->ev);
		close(o->pipe[0]);
		close(o->pipe[1]);
		free(o);
		errno = err;
		return -1;
	}
	offload_count++;
	return 0;
}

int
reactor_offload_pending(void)
{
	return offload_count;
}
