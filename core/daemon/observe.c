/*
 * observe.c - owns the daemon's in-memory copy of the per job x source x
 * stream x sink results (state_dir/metrics/<job>.json, core/metrics.c)
 * and the GET /metrics handler.
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <stdlib.h>

#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "scheduler.h"
#include "util.h"

struct observe {
	struct obs_copies	 c;
};

struct observe *
observe_new(struct zb_config *cfg)
{
	struct observe	*o = xcalloc(1, sizeof(*o));

	observe_refresh(o, cfg);
	return o;
}

void
observe_refresh(struct observe *o, struct zb_config *cfg)
{
	struct cfg_job	*job;
	char		 err[512];

	metrics_copies_free(&o->c);
	TAILQ_FOREACH(job, &cfg->jobs, entry)
		if (metrics_copies_load(cfg->state_dir, job->name, &o->c, err,
		    sizeof(err)) == -1)
			log_warnx("%s", err);
}

void
observe_free(struct observe *o)
{
	if (o == NULL)
		return;
	metrics_copies_free(&o->c);
	free(o);
}

const struct obs_copy *
observe_copies(const struct observe *o, size_t *n)
{
	*n = o->c.n;
	return o->c.v;
}

size_t
observe_running(const struct observe *o, struct obs_running *out,
    size_t max)
{
	(void)o;
	(void)out;
	(void)max;
	return 0;
}

void
metrics_http(void *arg, const char *method, const char *path,
    const char *query, struct httpd_reply *out)
{
	struct sched	*s = arg;
	char		*text, err[512];

	(void)method;
	(void)path;
	(void)query;
	text = sched_metrics(s, err, sizeof(err));
	if (text == NULL) {
		log_warnx("GET /metrics: %s", err);
		httpd_error(out, 500, err);
		return;
	}
	out->status = 200;
	out->content_type = METRICS_CONTENT_TYPE;
	(void)buf_puts(&out->body, text);
	free(text);
}
