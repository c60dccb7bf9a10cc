/*
 * dcfg.c - the daemon's view of a configuration generation (dcfg.h).
 *
 * Generations, references and reloads are config.c's (config_reload
 * carries plugin instances of unchanged sections over); so are the
 * parsed schedules and [daemon] keys.  This file is what is left of the
 * adapter the daemon used before those were merged: a few accessors.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcfg.h"
#include "log.h"
#include "util.h"

struct zb_config *
dcfg_load(const char *path, struct zb_config *old)
{
	return config_reload(old, path);
}

struct zb_config *
dcfg_ref(struct zb_config *cfg)
{
	return config_ref(cfg);
}

void
dcfg_unref(struct zb_config *cfg)
{
	config_unref(cfg);
}

int
dcfg_job_schedules(struct zb_config *cfg, struct cfg_job *job,
    struct cron_sched **out, size_t *n, int64_t *jitter_ms)
{
	(void)cfg;
	*n = job->nschedules;
	*out = NULL;
	if (*n > 0) {
		*out = xreallocarray(NULL, *n, sizeof(**out));
		memcpy(*out, job->crons, *n * sizeof(**out));
	}
	*jitter_ms = job->jitter_ms;
	return 0;
}

const struct cron_tz *
dcfg_tz(const struct zb_config *cfg)
{
	return cfg->tz;
}

int64_t
dcfg_shutdown_timeout_ms(const struct zb_config *cfg)
{
	return cfg->shutdown_timeout_ms;
}

const char *
dcfg_pid_file(const struct zb_config *cfg)
{
	return cfg->pid_file;
}
