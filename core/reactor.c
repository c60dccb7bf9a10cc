/*
 * reactor.c - owner of the single event_base.
 *
 * Everything in the daemon and the CLI runs on this loop: plugin fds,
 * child pipes, timers and signals.  The one way off the loop is
 * reactor_offload(): a blocking library call (a libarchive disk walk, an
 * fsync) runs on its own thread, which only signals completion through a
 * pipe; its done callback then runs back on the loop.
 *
 * SIGINT and SIGTERM (the "interrupt"): our own handler, not libevent's,
 * so that a signal ends the process whatever the loop thread is blocked
 * in.  While the loop runs (reactor_run, reactor_run_until), the first
 * one is recorded, arms alarm(hard deadline: REACTOR_HARD_DEADLINE_S
 * unless the owner set another) and wakes the loop, which then asks
 * everything to stop: the owner's callback (reactor_on_signal: abort
 * runs, streams) and the interrupt hooks (http.c fails transfers still
 * running after a grace, child.c kills children).  The daemon holds the
 * hooks back (reactor_hold_interrupt_hooks) and runs them itself when its
 * shutdown_timeout is over.  A second signal, the alarm, or a signal while the loop is
 * not running (loading a configuration from a FIFO, say) ends the
 * process at once with 128 + the signal number, after the last-words
 * function (async-signal-safe: SIGKILL to our children) ran.  Copies in
 * progress then have no manifest, so nothing half-written looks
 * complete.
 */
#include "zb-build.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
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

#define MAX_HOOKS	4

struct hook {
	void	(*fn)(int, void *);
	void	*arg;
};

static struct event_base	*base;
static int			 ntimers;	/* zb_timers pending */
static struct event		*hup_ev;
static struct event		*wake_ev;
static int			 wake_fd[2] = { -1, -1 };
static void			(*sig_cb)(int, void *);
static void			*sig_arg;
static struct hook		 hooks[MAX_HOOKS];
static int			 offload_count;
static unsigned int		 hard_deadline = REACTOR_HARD_DEADLINE_S;
static int			 hold_hooks;	/* the owner runs them */
static int			 hooks_ran;

/* Written by the signal handlers, read anywhere. */
static volatile sig_atomic_t	 got_sig;	/* first SIGINT/SIGTERM */
static volatile sig_atomic_t	 dispatching;	/* the loop is running */
static void			(*volatile last_words)(void);
static char			 exit_msg[160];
static size_t			 exit_msg_len;

/* Async-signal-safe: kill our children, say so, _exit. */
static void ZB_DEAD
hard_exit(int sig)
{
	if (last_words != NULL)
		last_words();
	if (exit_msg_len > 0)
		(void)write(STDERR_FILENO, exit_msg, exit_msg_len);
	_exit(128 + sig);
}

static void
on_term_signal(int sig)
{
	int	 saved = errno;
	char	 c = (char)sig;

	if (got_sig != 0 || !dispatching)
		hard_exit(sig);
	got_sig = sig;
	alarm(hard_deadline);
	(void)write(wake_fd[1], &c, 1);
	errno = saved;
}

static void
on_alarm(int sig)
{
	hard_exit(got_sig != 0 ? got_sig : sig);
}

/* On the loop: the first SIGINT/SIGTERM arrived. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	char	 c[16];
	int	 sig = got_sig;

	while (read(fd, c, sizeof(c)) > 0)
		;
	if (sig == 0)
		return;
	event_del(wake_ev);	/* once */
	log_info("interrupted by %s: stopping (at once on a second signal, "
	    "or in %u s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
	    hard_deadline);
	if (sig_cb != NULL)
		sig_cb(sig, sig_arg);
	else
		event_base_loopbreak(base);
	if (!hold_hooks)
		reactor_interrupt_hooks();
}

void
reactor_interrupt_hooks(void)
{
	int	 sig = got_sig != 0 ? got_sig : SIGTERM;
	size_t	 i;

	if (hooks_ran)
		return;
	hooks_ran = 1;
	for (i = 0; i < MAX_HOOKS; i++)
		if (hooks[i].fn != NULL)
			hooks[i].fn(sig, hooks[i].arg);
}

void
reactor_set_hard_deadline(unsigned int s)
{
	hard_deadline = s > 0 ? s : 1;
}

void
reactor_hold_interrupt_hooks(int hold)
{
	hold_hooks = hold;
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	log_debug("signal %d", (int)sig);
	if (sig_cb != NULL)
		sig_cb((int)sig, sig_arg);
}

void
reactor_init(void)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	struct sigaction	 sa;
	size_t			 i;

	base = event_base_new();
	if (base == NULL)
		fatalx("cannot create the event loop");
	signal(SIGPIPE, SIG_IGN);
	got_sig = 0;
	dispatching = 0;
	hooks_ran = 0;
	snprintf(exit_msg, sizeof(exit_msg), "%s: interrupted: exiting now\n",
	    program_invocation_short_name);
	exit_msg_len = strlen(exit_msg);
	if (pipe2(wake_fd, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("%s: pipe2", __func__);
	wake_ev = event_new(base, wake_fd[0], EV_READ | EV_PERSIST, on_wake,
	    base);
	hup_ev = evsignal_new(base, SIGHUP, on_hup, NULL);
	if (wake_ev == NULL || event_add(wake_ev, NULL) == -1 ||
	    hup_ev == NULL || evsignal_add(hup_ev, NULL) == -1)
		fatalx("cannot watch signals");
	/*
	 * SA_RESTART: outside the loop the handler does not return, and
	 * inside it libevent copes either way.
	 */
	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_term_signal;
	for (i = 0; i < ZB_NELEM(sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			fatal("cannot watch signal %d", sigs[i]);
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL) == -1)
		fatal("cannot watch SIGALRM");
}

void
reactor_free(void)
{
	struct sigaction	 sa;

	/* Whatever comes now: the default, which ends the process. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (hup_ev != NULL)
		event_free(hup_ev);
	hup_ev = NULL;
	if (wake_ev != NULL)
		event_free(wake_ev);
	wake_ev = NULL;
	if (wake_fd[0] != -1) {
		close(wake_fd[0]);
		close(wake_fd[1]);
		wake_fd[0] = wake_fd[1] = -1;
	}
	memset(hooks, 0, sizeof(hooks));
	hard_deadline = REACTOR_HARD_DEADLINE_S;
	hold_hooks = 0;
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
	sig_atomic_t	 was = dispatching;
	int		 rc;

	dispatching = 1;
	rc = event_base_dispatch(base);
	dispatching = was;
	return rc;
}

void
reactor_stop(void)
{
	event_base_loopbreak(base);
}

void
reactor_run_until(const int *flag)
{
	sig_atomic_t	 was = dispatching;

	dispatching = 1;
	while (!*flag) {
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			fatalx("event loop failed");
	}
	dispatching = was;
}

void
reactor_on_signal(void (*cb)(int, void *), void *arg)
{
	sig_cb = cb;
	sig_arg = arg;
}

int
reactor_interrupted(void)
{
	return got_sig;
}

void
reactor_on_interrupt(void (*fn)(int, void *), void *arg)
{
	size_t	 i;

	for (i = 0; i < MAX_HOOKS; i++)
		if (hooks[i].fn == fn && hooks[i].arg == arg)
			return;
	for (i = 0; i < MAX_HOOKS; i++) {
		if (hooks[i].fn == NULL) {
			hooks[i].fn = fn;
			hooks[i].arg = arg;
			return;
		}
	}
	fatalx("%s: too many hooks", __func__);
}

void
reactor_last_words(void (*fn)(void))
{
	last_words = fn;
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
