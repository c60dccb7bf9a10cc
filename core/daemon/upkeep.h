/*
 * upkeep.h - what the daemon does besides runs: retention of one source
 * on one sink after a run, and scheduled checks, each logged and holding
 * its configuration generation until it ended.
 */
#ifndef ZB_UPKEEP_H
#define ZB_UPKEEP_H

#include <stdint.h>

#include "config.h"

/* Retention for source on sink; done(arg, errors) on the loop. */
void	upkeep_retention(struct zb_config *, const char *sink,
	    const char *source, void (*done)(void *, unsigned), void *arg);

struct check_result;

/*
 * Run [check:name] of cfg now (check.c's check_start with its kind, jobs
 * and sinks); done(arg, result) on the loop, result freed after it.
 * -1 when cfg has no such check (done is not called).
 */
int	upkeep_check(struct zb_config *, const char *name,
	    void (*done)(void *, const struct check_result *), void *arg);

#endif
