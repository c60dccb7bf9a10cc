/*
 * reactor.h - the one event loop: timers, signals, worker offload.
 */
#ifndef ZB_REACTOR_H
#define ZB_REACTOR_H

#include <stdint.h>

#include <event2/event.h>

struct zb_timer;

/*
 * After the first SIGINT/SIGTERM, the process ends at the latest this
 * many seconds later, whatever it is waiting on (the default; the daemon
 * sets its own with reactor_set_hard_deadline()).
 */
#define REACTOR_HARD_DEADLINE_S		3
/*
 * How long, after the first SIGINT/SIGTERM, HTTP transfers may still run
 * (an S3 abort of a multipart upload) and children may take to exit
 * after SIGTERM, before they are failed or get SIGKILL.
 */
#define REACTOR_INTERRUPT_GRACE_MS	1000

void			 reactor_init(void);
void			 reactor_free(void);
struct event_base	*reactor_base(void);
/* Dispatch until reactor_stop() or no events remain. */
int			 reactor_run(void);
void			 reactor_stop(void);
/*
 * Dispatch until *flag becomes non-zero (the CLI's sequential steps).
 * After an interrupt it goes on until *flag is set: the operations
 * waited for end by themselves, with an error (see reactor.c).
 */
void			 reactor_run_until(const int *flag);
/*
 * The owner's callback, called on the loop on the first SIGINT/SIGTERM
 * (and on SIGHUP) while the loop runs: abort what is going on.  Without
 * one, SIGINT/SIGTERM break reactor_run().
 */
void			 reactor_on_signal(void (*cb)(int sig, void *), void *);
/*
 * The hard deadline, in seconds after the first SIGINT/SIGTERM (default
 * REACTOR_HARD_DEADLINE_S; at least 1).
 */
void			 reactor_set_hard_deadline(unsigned int s);
/*
 * hold 1: the first SIGINT/SIGTERM reaches the owner's callback only; the
 * interrupt hooks (which fail HTTP transfers and kill children) wait
 * until the owner calls reactor_interrupt_hooks() (the daemon lets runs
 * finish up to its shutdown_timeout first).  hold 0 (the default): the
 * hooks run right after the owner's callback.
 */
void			 reactor_hold_interrupt_hooks(int hold);
/* Run the interrupt hooks now (once; later calls are no-ops). */
void			 reactor_interrupt_hooks(void);
/* The first SIGINT/SIGTERM seen (the signal number), or 0. */
int			 reactor_interrupted(void);
/*
 * Also call fn(sig, arg) on the loop on the first SIGINT/SIGTERM, after
 * the owner's callback (http.c, child.c); registering twice is a no-op.
 * Cleared by reactor_free().
 */
void			 reactor_on_interrupt(void (*fn)(int sig, void *),
			    void *arg);
/*
 * fn runs in a signal handler right before the process ends on a second
 * signal or at the hard deadline: it must be async-signal-safe.
 */
void			 reactor_last_words(void (*fn)(void));

struct zb_timer		*reactor_timer_add(uint64_t ms, void (*cb)(void *),
			    void *arg);
void			 reactor_timer_del(struct zb_timer *);
/* Timers added and not yet fired or deleted (a plugin's retry, say). */
int			 reactor_timers_pending(void);

/*
 * Run work(arg) on a new thread; done(arg, result) then runs on the loop.
 * Returns 0 or -1 (errno).
 */
int			 reactor_offload(int (*work)(void *),
			    void (*done)(void *, int), void *arg);
/* Number of offloaded jobs not yet completed (for shutdown and tests). */
int			 reactor_offload_pending(void);

#endif
