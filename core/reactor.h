/*
 * reactor.h - the one event loop: timers, signals, worker offload.
 */
#ifndef ZB_REACTOR_H
#define ZB_REACTOR_H

#include <stdint.h>

#include <event2/event.h>

struct zb_timer;

void			 reactor_init(void);
void			 reactor_free(void);
struct event_base	*reactor_base(void);
/* Dispatch until reactor_stop() or no events remain. */
int			 reactor_run(void);
void			 reactor_stop(void);
/* Dispatch until *flag becomes non-zero (the CLI's sequential steps). */
void			 reactor_run_until(const int *flag);
/* Called on the loop on SIGINT/SIGTERM (and SIGHUP with hup set). */
void			 reactor_on_signal(void (*cb)(int sig, void *), void *);

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
