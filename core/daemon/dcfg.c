/*
 * dcfg.c - the daemon's view of a configuration generation (dcfg.h).
 *
 * TODO(h4): helper h4's branch gives the config generations their
 * reference count (config_ref/config_unref), config_reload() (plugin
 * instances of unchanged sections carried over), the parsed schedules
 * (cfg_job.schedules, jitter_ms), [daemon] timezone, shutdown_timeout and
 * pid_file.  Until it is merged this file does the same with what main
 * has: a new generation is config_load() + plugin_bind_config() (every
 * plugin instance is created again; the old generation keeps its own
 * until its last run ended), references are counted here, the schedule
 * lines are parsed from the `schedule' key, and the [daemon] keys take
 * their defaults.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcfg.h"
#include "log.h"
#include "plugin.h"
#include "util.h"

#define MAX_GENERATIONS	64

struct generation {
	struct zb_config	*cfg;
	int			 refs;
};

static struct generation	 gens[MAX_GENERATIONS];

static struct generation *
gen_of(const struct zb_config *cfg)
{
	size_t	 i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (gens[i].cfg == cfg)
			return &gens[i];
	return NULL;
}

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
	struct generation	*g;

	(void)old;	/* TODO(h4): config_reload(old, path) */
	cfg = config_load(path);
	if (cfg == NULL)
		return NULL;
	if (plugin_bind_config(cfg, 1) > 0 || check_schedules(cfg) > 0) {
		plugin_unbind_config(cfg);
		config_free(cfg);
		return NULL;
	}
	g = gen_of(NULL);
	if (g == NULL) {
		log_warnx("%s: more than %d configurations still in use",
		    path, MAX_GENERATIONS);
		plugin_unbind_config(cfg);
		config_free(cfg);
		return NULL;
	}
	g->cfg = cfg;
	g->refs = 1;
	return cfg;
}

struct zb_config *
dcfg_ref(struct zb_config *cfg)
{
	struct generation	*g = gen_of(cfg);

	if (cfg == NULL)
		return NULL;
	if (g == NULL)
		fatalx("%s: not a generation", __func__);
	g->refs++;
	return cfg;
}

void
dcfg_unref(struct zb_config *cfg)
{
	struct generation	*g = gen_of(cfg);

	if (cfg == NULL)
		return;
	if (g == NULL || g->refs <= 0)
		fatalx("%s: not a generation", __func__);
	if (--g->refs > 0)
		return;
	plugin_unbind_config(cfg);
	config_free(cfg);
	g->cfg = NULL;
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
