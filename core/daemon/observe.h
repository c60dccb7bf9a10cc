/*
 * observe.h - the daemon's memory of results per job x source x stream x
 * sink (read from state_dir/metrics/<job>.json, which the job queue
 * writes when a run ends: see core/metrics.h) and its live view, for
 * /metrics, /v1/status and the status page.
 */
#ifndef ZB_OBSERVE_H
#define ZB_OBSERVE_H

#include <stddef.h>

#include "config.h"
#include "httpd.h"
#include "metrics.h"	/* struct obs_copy, struct obs_running */

struct observe;

/* Loaded from cfg's state_dir (errors are logged: a file is skipped). */
struct observe	*observe_new(struct zb_config *cfg);
/*
 * Read the files again (after a run ended, or a reload with cfg): the
 * copies of jobs no longer configured are dropped.  Blocking (small
 * files, one per job).
 */
void		 observe_refresh(struct observe *, struct zb_config *cfg);
void		 observe_free(struct observe *);
const struct obs_copy *observe_copies(const struct observe *, size_t *n);
/*
 * The running streams (job, stream, sink, bytes, backpressure) into out,
 * at most max; the count.  Today per-stream live bytes are not tracked:
 * 0 (the runs' totals are in the copies once they end).
 */
size_t		 observe_running(const struct observe *,
		    struct obs_running *out, size_t max);

/*
 * GET /metrics (an httpd_handler; arg: the daemon's struct sched): the
 * Prometheus text of the state files and the scheduler's live view.
 */
void		 metrics_http(void *arg, const char *method,
		    const char *path, const char *query,
		    struct httpd_reply *out);

#endif
