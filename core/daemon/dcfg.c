/*
 * dcfg.c - the daemon's view of a configuration generation (dcfg.h).
 *
 * Generations, references and reloads are config.c's (config_reload
 * carries plugin instances of unchanged sections over).
 * TODO(h4): the parsed schedules (cfg_job.schedules, jitter_ms) and the
 * [daemon] keys timezone, shutdown_timeout and pid_file come with helper
 * h4's next commits; until then the schedule lines are parsed here from
 * the `schedule' key and the [daemon] keys take their defaults.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcfg.h"
#include "log.h"
#include "util.h"

/* Every job's schedules parse: the daemon's own check of a new file. */
static int
check_schedules(struct zb_config *cfg)
{
	struct cfg_job		*job;
	struct cron_sched	*cs;
	size_t			 n;
	int64_t			 jitter;
	int			 errors = 0;

	TAILQ_FOREACH(job, &cfg->jobs, entry) {
		if (dcfg_job_schedules(cfg, job, &cs, &n, &jitter) == -1)
			errors++;
		else
			free(cs);
	}
	return errors;
}

struct zb_config *
dcfg_load(const char *path, struct zb_config *old)
{
	struct zb_config	*cfg;

	cfg = config_reload(old, path);
	if (cfg != NULL && check_schedules(cfg) > 0) {
		config_unref(cfg);
		return NULL;
	}
	return cfg;
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
	struct cfg_kv	*kv;
	char		 err[512];

	/* TODO(h4): job->schedules, job->jitter_ms */
	*out = NULL;
	*n = 0;
	*jitter_ms = 0;
	kv = config_kv(job->sec, "schedule");
	if (kv == NULL)
		return 0;
	if (cron_parse_list(kv->value, out, n, err, sizeof(err)) == -1) {
		config_error(cfg, job->sec, kv, "schedule", "%s", err);
		return -1;
	}
	return 0;
}

const struct cron_tz *
dcfg_tz(const struct zb_config *cfg)
{
	(void)cfg;	/* TODO(h4): cfg->tz */
	return NULL;
}

int64_t
dcfg_shutdown_timeout_ms(const struct zb_config *cfg)
{
	(void)cfg;	/* TODO(h4): cfg->shutdown_timeout_ms */
	return DCFG_SHUTDOWN_TIMEOUT_MS;
}

const char *
dcfg_pid_file(const struct zb_config *cfg)
{
	(void)cfg;	/* TODO(h4): cfg->pid_file */
	return NULL;
}
