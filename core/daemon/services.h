/*
 * services.h - the core services the scheduler calls after and besides
 * runs: retention of one source on one sink (helper h2's prune_start)
 * and scheduled checks (helper h1's check_start).  One place to switch
 * to them.
 */
#ifndef ZB_SERVICES_H
#define ZB_SERVICES_H

#include <stdint.h>

#include "config.h"

/* Retention for source on sink; done(arg, errors) on the loop. */
void	services_retention(struct zb_config *, const char *sink,
	    const char *source, void (*done)(void *, unsigned), void *arg);

struct check_result;

/*
 * Run [check:name] of cfg now (check.c's check_start with its kind, jobs
 * and sinks); done(arg, result) on the loop, result freed after it.
 * -1 when cfg has no such check (done is not called).
 */
int	services_check(struct zb_config *, const char *name,
	    void (*done)(void *, const struct check_result *), void *arg);

#endif
