/*
 * test_reactor.c - SIGINT/SIGTERM in reactor.c: the first one, while
 * the loop runs, reaches the owner's callback and the interrupt hooks;
 * if what the loop waits for never ends, the process still ends
 * REACTOR_HARD_DEADLINE_S later with 128 + the signal; a second signal,
 * or one while the loop is not running, ends it at once.
 */
#include "zb-build.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "reactor.h"
#include "testlib.h"

static int	 owner_sig, hook_sig, hook_arg_ok, flag;
static struct timespec t0;

static double
since_start(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec - t0.tv_sec) +
	    (double)(ts.tv_nsec - t0.tv_nsec) / 1e9;
}

static void
owner(int sig, void *arg)
{
	owner_sig = sig;
}

static void
hook(int sig, void *arg)
{
	hook_sig = sig;
	hook_arg_ok = arg == &flag;
	flag = 1;
}

static void
send_term(void *arg)
{
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(getpid(), *(int *)arg);
}

/* Last words: an end before the deadline is a different exit status. */
static void
too_early(void)
{
	if (since_start() < REACTOR_HARD_DEADLINE_S - 0.5)
		_exit(99);
}

Test(reactor, first_signal_reaches_owner_and_hooks)
{
	static int	 sig = SIGTERM;

	reactor_init();
	reactor_on_signal(owner, NULL);
	reactor_on_interrupt(hook, &flag);
	reactor_on_interrupt(hook, &flag);	/* no-op */
	cr_assert_eq(reactor_interrupted(), 0);
	reactor_timer_add(50, send_term, &sig);
	reactor_run_until(&flag);
	cr_assert_eq(owner_sig, SIGTERM);
	cr_assert_eq(hook_sig, SIGTERM);
	cr_assert(hook_arg_ok);
	cr_assert_eq(reactor_interrupted(), SIGTERM);
	alarm(0);	/* the deadline is not what this test is about */
}

/* Nothing ends what the loop waits for: the deadline does. */
Test(reactor, hard_deadline_ends_the_process, .exit_code = 128 + SIGINT,
    .timeout = 15)
{
	static int	 sig = SIGINT;
	int		 never = 0;

	reactor_init();
	reactor_last_words(too_early);
	reactor_timer_add(50, send_term, &sig);
	reactor_run_until(&never);
}

static void
send_twice(void *arg)
{
	kill(getpid(), SIGTERM);
	kill(getpid(), SIGTERM);
}

Test(reactor, second_signal_ends_the_process_at_once,
    .exit_code = 128 + SIGTERM, .timeout = 15)
{
	int	 never = 0;

	reactor_init();
	reactor_timer_add(50, send_twice, NULL);
	alarm(0);
	reactor_run_until(&never);
}

Test(reactor, signal_outside_the_loop_ends_the_process,
    .exit_code = 128 + SIGTERM, .timeout = 15)
{
	reactor_init();
	kill(getpid(), SIGTERM);
	sleep(10);	/* a blocking open() of a FIFO, say */
}

/*
 * The daemon's way: hooks held back until the owner runs them (after its
 * shutdown_timeout); the owner's callback still comes at once.
 */
static void
run_hooks_later(void *arg)
{
	cr_assert_eq(hook_sig, 0, "a held hook ran on the signal");
	reactor_interrupt_hooks();
}

static void
owner_defers(int sig, void *arg)
{
	owner_sig = sig;
	reactor_timer_add(100, run_hooks_later, NULL);
}

Test(reactor, held_hooks_run_when_the_owner_says)
{
	static int	 sig = SIGTERM;

	reactor_init();
	reactor_hold_interrupt_hooks(1);
	reactor_on_signal(owner_defers, NULL);
	reactor_on_interrupt(hook, &flag);
	reactor_timer_add(50, send_term, &sig);
	reactor_run_until(&flag);
	cr_assert_eq(owner_sig, SIGTERM);
	cr_assert_eq(hook_sig, SIGTERM);
	cr_assert(since_start() >= 0.09, "hooks ran after %.3f s",
	    since_start());
	reactor_interrupt_hooks();	/* once */
	alarm(0);
}

/* Last words: the deadline set by the owner, not the default. */
static void
not_at_one_second(void)
{
	if (since_start() < 0.5 || since_start() > 2.5)
		_exit(98);
}

Test(reactor, owner_sets_the_hard_deadline, .exit_code = 128 + SIGTERM,
    .timeout = 15)
{
	static int	 sig = SIGTERM;
	int		 never = 0;

	reactor_init();
	reactor_set_hard_deadline(1);
	reactor_hold_interrupt_hooks(1);
	reactor_last_words(not_at_one_second);
	reactor_timer_add(50, send_term, &sig);
	reactor_run_until(&never);
}
