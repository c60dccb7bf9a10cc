/*
 * dcfg.h - what the daemon reads from a configuration generation beyond
 * what the CLI needs: schedules, time zone, shutdown timeout, pid file,
 * reloads and references.  One place to switch to helper h4's config
 * generations (config_reload, config_ref, cfg_job.schedules, ...).
 */
#ifndef ZB_DCFG_H
#define ZB_DCFG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "cron.h"

#define DCFG_SHUTDOWN_TIMEOUT_MS	30000

/*
 * Load path as a new generation with its plugins bound (old, which may be
 * NULL, stays untouched and in use).  NULL when anything is wrong, each
 * problem logged with file:line.  The caller holds one reference.
 */
struct zb_config	*dcfg_load(const char *path, struct zb_config *old);
struct zb_config	*dcfg_ref(struct zb_config *);
/* The last reference unbinds the plugins and frees the generation. */
void			 dcfg_unref(struct zb_config *);

/*
 * A job's schedule lines (a malloc'd copy in *out, caller frees; *n may
 * be 0: the job only runs from `zentoria-backupctl run') and jitter.
 * -1 with the problem logged as file:line.
 */
int			 dcfg_job_schedules(struct zb_config *,
			    struct cfg_job *, struct cron_sched **out,
			    size_t *n, int64_t *jitter_ms);
/* The zone schedules are read in; NULL: UTC. */
const struct cron_tz	*dcfg_tz(const struct zb_config *);
int64_t			 dcfg_shutdown_timeout_ms(const struct zb_config *);
/* NULL: no pid file. */
const char		*dcfg_pid_file(const struct zb_config *);

#endif
