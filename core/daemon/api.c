/*
 * api.c - the control API: owns the /v1/... handlers (status, backups,
 * checks, running a job or a check now) and their JSON (docs/api.md).
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "catalog.h"
#include "check.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "scheduler.h"
#include "util.h"

/* Running streams listed by /v1/status at most. */
#define API_MAX_RUNNING	256

struct api {
	struct zb_config	**cfgp;
	struct sched		*sched;
};

/* A deferred GET /v1/backups. */
struct backups_req {
	struct httpd_req	*req;
	struct zb_config	*cfg;	/* a reference for the load */
	char			*source, *sink;
};

static void
put_time(struct buf *b, time_t t)
{
	if (t <= 0)
		buf_puts(b, "null");
	else
		buf_printf(b, "%lld", (long long)t);
}

static void
put_str(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_puts(b, "null");
	else
		buf_json_str(b, s);
}

/*
 * A sink's last outcome from the copies of the job's newest run there:
 * "ok" when each committed, "failed" when one did not, NULL when none.
 */
static const char *
sink_outcome(const struct obs_copies *c, const char *sink)
{
	time_t	 newest = 0;
	size_t	 i;
	int	 ok = 1;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->v[i].sink, sink) == 0 &&
		    c->v[i].last_run > newest)
			newest = c->v[i].last_run;
	if (newest == 0)
		return NULL;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->v[i].sink, sink) == 0 &&
		    c->v[i].last_run == newest && !c->v[i].success)
			ok = 0;
	return ok ? "ok" : "failed";
}

static void
put_streams(struct buf *b, const struct obs_copies *c, time_t now)
{
	const struct obs_copy	*o;
	size_t			 i;

	buf_puts(b, "[");
	for (i = 0; i < c->n; i++) {
		o = &c->v[i];
		buf_puts(b, i > 0 ? ", {\"stream\": " : "{\"stream\": ");
		buf_json_str(b, o->stream);
		buf_puts(b, ", \"sink\": ");
		buf_json_str(b, o->sink);
		buf_puts(b, ", \"newest_ok\": ");
		put_time(b, o->last_success);
		buf_puts(b, ", \"age_s\": ");
		if (o->last_success > 0)
			buf_printf(b, "%lld", (long long)(now -
			    o->last_success));
		else
			buf_puts(b, "null");
		buf_puts(b, ", \"size\": ");
		if (o->last_success > 0)
			buf_printf(b, "%llu, \"duration_s\": %.3f",
			    (unsigned long long)o->size_bytes, o->duration_s);
		else
			buf_puts(b, "null, \"duration_s\": null");
		buf_puts(b, ", \"last_run\": ");
		put_time(b, o->last_run);
		buf_printf(b, ", \"last_ok\": %s}", o->success ? "true" :
		    "false");
	}
	buf_puts(b, "]");
}

static void
put_job(struct api *a, struct buf *b, struct cfg_job *job, time_t now)
{
	struct zb_config	*cfg = *a->cfgp;
	struct sched_info	 si;
	struct obs_copies	 c;
	const char		*oc, *so;
	char			 err[512];
	size_t			 i;

	if (sched_info(a->sched, 0, job->name, &si) == -1) {
		memset(&si, 0, sizeof(si));
		si.next = -1;
		si.outcome = "";
	}
	memset(&c, 0, sizeof(c));
	if (metrics_copies_load(cfg->state_dir, job->name, &c, err,
	    sizeof(err)) == -1)
		log_warnx("GET /v1/status: job %s: %s", job->name, err);
	oc = si.outcome[0] != '\0' && strcmp(si.outcome, "running") != 0 ?
	    si.outcome : NULL;
	buf_puts(b, "{\"name\": ");
	buf_json_str(b, job->name);
	buf_puts(b, ", \"source\": ");
	if (job->source != NULL)
		buf_json_str(b, job->source->name);
	else
		buf_puts(b, "null");
	if (job->copy_from != NULL) {
		buf_puts(b, ", \"copy_from\": ");
		buf_json_str(b, job->copy_from->name);
	}
	buf_printf(b, ", \"running\": %s, \"next_run\": ",
	    si.running ? "true" : "false");
	put_time(b, si.next);
	buf_printf(b, ", \"rpo_s\": %lld, \"last\": ",
	    (long long)(config_job_rpo(job) / 1000));
	if (si.last_start == 0)
		buf_puts(b, "null");
	else {
		buf_puts(b, "{\"start\": ");
		put_time(b, si.last_start);
		buf_puts(b, ", \"end\": ");
		put_time(b, si.running ? 0 : si.last_end);
		buf_puts(b, ", \"outcome\": ");
		put_str(b, si.running ? "running" : oc);
		buf_puts(b, "}");
	}
	buf_puts(b, ", \"sinks\": [");
	for (i = 0; i < job->nsinks; i++) {
		buf_puts(b, i > 0 ? ", {\"sink\": " : "{\"sink\": ");
		buf_json_str(b, job->sinks[i]->name);
		so = sink_outcome(&c, job->sinks[i]->name);
		/* without per-copy results: known only when all was ok */
		if (so == NULL && oc != NULL && strcmp(oc, "ok") == 0)
			so = "ok";
		buf_puts(b, ", \"last_outcome\": ");
		put_str(b, so);
		buf_puts(b, "}");
	}
	buf_puts(b, "], \"streams\": ");
	put_streams(b, &c, now);
	buf_puts(b, "}");
	metrics_copies_free(&c);
}

static void
put_check(struct api *a, struct buf *b, struct cfg_check *chk)
{
	struct sched_info	 si;

	if (sched_info(a->sched, 1, chk->name, &si) == -1) {
		memset(&si, 0, sizeof(si));
		si.next = -1;
		si.outcome = "";
	}
	buf_puts(b, "{\"name\": ");
	buf_json_str(b, chk->name);
	buf_puts(b, ", \"kind\": ");
	buf_json_str(b, check_kind_name((enum check_kind)chk->kind));
	buf_printf(b, ", \"running\": %s, \"next_run\": ",
	    si.running ? "true" : "false");
	put_time(b, si.next);
	buf_puts(b, ", \"last\": ");
	if (si.last_end == 0 || si.running)
		buf_puts(b, "null");
	else {
		buf_printf(b, "{\"ok\": %s, \"time\": ",
		    strcmp(si.outcome, "ok") == 0 ? "true" : "false");
		put_time(b, si.last_end);
		buf_printf(b, ", \"duration_s\": %.3f, \"restore_s\": ",
		    si.duration_ms / 1000.0);
		if (si.restore_ms > 0)
			buf_printf(b, "%.3f", si.restore_ms / 1000.0);
		else
			buf_puts(b, "null");
		buf_printf(b, ", \"items\": %u, \"failed\": %u, "
		    "\"outcome\": ", si.items, si.failed);
		put_str(b, si.outcome[0] != '\0' ? si.outcome : NULL);
		buf_puts(b, "}");
	}
	buf_puts(b, "}");
}

static void
put_checks(struct api *a, struct buf *b)
{
	struct zb_config	*cfg = *a->cfgp;
	struct cfg_check	*chk;
	int			 first = 1;

	buf_puts(b, "[");
	TAILQ_FOREACH(chk, &cfg->checks, entry) {
		buf_puts(b, first ? "" : ",\n  ");
		first = 0;
		put_check(a, b, chk);
	}
	buf_puts(b, "]");
}

/* The running streams: bytes read so far and time paused by backpressure. */
static void
put_running(struct api *a, struct buf *b)
{
	struct obs_running	 r[API_MAX_RUNNING];
	uint64_t		 in_use, budget;
	size_t			 i, n;

	n = sched_running(a->sched, r, API_MAX_RUNNING, &in_use, &budget);
	for (i = 0; i < n; i++) {
		buf_puts(b, i == 0 ? "\n  {\"job\": " : ",\n  {\"job\": ");
		put_str(b, r[i].job);
		buf_puts(b, ", \"stream\": ");
		put_str(b, r[i].stream);
		buf_puts(b, ", \"sink\": ");
		put_str(b, r[i].sink);
		buf_printf(b, ", \"bytes\": %llu, \"backpressure_s\": %.3f}",
		    (unsigned long long)r[i].bytes, r[i].backpressure_s);
	}
}

static void
get_status(void *arg, const char *method, const char *path,
    const char *query, struct httpd_reply *out)
{
	struct api		*a = arg;
	struct zb_config	*cfg = *a->cfgp;
	struct cfg_job		*job;
	struct buf		*b = &out->body;
	time_t			 now = time(NULL);
	int			 first = 1;

	buf_printf(b, "{\"version\": \"%s\", \"now\": %lld,\n \"jobs\": [",
	    PACKAGE_VERSION, (long long)now);
	TAILQ_FOREACH(job, &cfg->jobs, entry) {
		buf_puts(b, first ? "" : ",\n  ");
		first = 0;
		put_job(a, b, job, now);
	}
	buf_puts(b, "],\n \"running\": [");
	put_running(a, b);
	buf_puts(b, "],\n \"checks\": ");
	put_checks(a, b);
	buf_puts(b, "}\n");
}

/* For probes and scrapers: under the rule of /metrics (metrics_auth). */
static void
get_health(void *arg, const char *method, const char *path,
    const char *query, struct httpd_reply *out)
{
	buf_printf(&out->body, "{\"ok\": true, \"version\": \"%s\"}\n",
	    PACKAGE_VERSION);
}

static void
get_checks(void *arg, const char *method, const char *path,
    const char *query, struct httpd_reply *out)
{
	struct api	*a = arg;

	buf_puts(&out->body, "{\"checks\": ");
	put_checks(a, &out->body);
	buf_puts(&out->body, "}\n");
}

/* NAME of /v1/jobs/NAME/run (a copy), or NULL. */
static char *
path_name(const char *path, const char *prefix)
{
	size_t	 pl = strlen(prefix), n;

	if (strncmp(path, prefix, pl) != 0)
		return NULL;
	n = strcspn(path + pl, "/");
	return n > 0 ? xstrndup(path + pl, n) : NULL;
}

static void
run_now(struct api *a, int is_check, const char *path,
    struct httpd_reply *out)
{
	const char	*what = is_check ? "check" : "job";
	char		*name, msg[512];
	time_t		 start = 0;
	int		 r;

	name = path_name(path, is_check ? "/v1/checks/" : "/v1/jobs/");
	if (name == NULL) {
		httpd_error(out, 404, "no such resource");
		return;
	}
	r = sched_run_now(a->sched, is_check, name, &start);
	switch (r) {
	case -1:
		snprintf(msg, sizeof(msg), "%s %s: not in the configuration",
		    what, name);
		httpd_error(out, 404, msg);
		break;
	case -2:
		httpd_error(out, 503, "the daemon is stopping");
		break;
	case 1:
		snprintf(msg, sizeof(msg), "%s %s: running already", what,
		    name);
		httpd_error(out, 409, msg);
		break;
	default:
		out->status = 202;
		buf_printf(&out->body, "{\"%s\": ", what);
		buf_json_str(&out->body, name);
		buf_printf(&out->body, ", \"accepted_at\": %lld}\n",
		    (long long)start);
		break;
	}
	free(name);
}

static void
post_job_run(void *arg, const char *method, const char *path,
    const char *query, struct httpd_reply *out)
{
	run_now(arg, 0, path, out);
}

static void
post_check_run(void *arg, const char *method, const char *path,
    const char *query, struct httpd_reply *out)
{
	run_now(arg, 1, path, out);
}

static void
backups_done(void *arg, struct catalog *cat)
{
	struct backups_req	*br = arg;
	struct httpd_reply	 out;
	const struct artifact	*it;
	size_t			 i;

	memset(&out, 0, sizeof(out));
	buf_init(&out.body, 16 * 1024 * 1024);
	out.status = 200;
	out.content_type = "application/json";
	buf_printf(&out.body, "{\"errors\": %d, \"backups\": [",
	    cat != NULL ? cat->errors : 1);
	for (i = 0; cat != NULL && i < cat->n; i++) {
		it = &cat->items[i];
		buf_puts(&out.body, i > 0 ? ",\n  {\"id\": " : "\n  {\"id\": ");
		buf_json_str(&out.body, it->id);
		buf_puts(&out.body, ", \"job\": ");
		put_str(&out.body, it->job);
		buf_puts(&out.body, ", \"source\": ");
		put_str(&out.body, it->source);
		buf_puts(&out.body, ", \"stream\": ");
		put_str(&out.body, it->stream);
		buf_puts(&out.body, ", \"sink\": ");
		put_str(&out.body, it->sink);
		buf_puts(&out.body, ", \"stamp\": ");
		put_str(&out.body, it->stamp);
		buf_puts(&out.body, ", \"time\": ");
		put_time(&out.body, it->time);
		buf_printf(&out.body, ", \"stored_size\": %llu, "
		    "\"plain_size\": %llu, \"encrypted\": %s, \"tag\": ",
		    (unsigned long long)it->stored_size,
		    (unsigned long long)it->plain_size,
		    it->encrypted ? "true" : "false");
		put_str(&out.body, it->run_tag);
		buf_puts(&out.body, "}");
	}
	buf_puts(&out.body, "]}\n");
	if (cat != NULL)
		catalog_destroy(cat);
	httpd_reply_send(br->req, &out);
	config_unref(br->cfg);
	free(br->source);
	free(br->sink);
	free(br);
}

static void
get_backups(void *arg, struct httpd_req *req, const char *method,
    const char *path, const char *query)
{
	struct api		*a = arg;
	struct backups_req	*br;
	struct catalog_query	 q;
	struct evkeyvalq	 params;
	struct httpd_reply	 out;
	const char		*v;
	char			 msg[300];

	TAILQ_INIT(&params);
	if (query != NULL && evhttp_parse_query_str(query, &params) == -1) {
		memset(&out, 0, sizeof(out));
		buf_init(&out.body, 4096);
		httpd_error(&out, 400, "bad query string");
		httpd_reply_send(req, &out);
		return;
	}
	br = xcalloc(1, sizeof(*br));
	br->req = req;
	v = evhttp_find_header(&params, "source");
	br->source = v != NULL ? xstrdup(v) : NULL;
	v = evhttp_find_header(&params, "sink");
	br->sink = v != NULL ? xstrdup(v) : NULL;
	evhttp_clear_headers(&params);
	snprintf(msg, sizeof(msg), "sink:%.200s", br->sink != NULL ?
	    br->sink : "");
	if (br->sink != NULL && config_section(*a->cfgp, msg) == NULL) {
		memset(&out, 0, sizeof(out));
		buf_init(&out.body, 4096);
		snprintf(msg, sizeof(msg), "sink %.200s: not in the "
		    "configuration", br->sink);
		httpd_error(&out, 404, msg);
		httpd_reply_send(req, &out);
		free(br->source);
		free(br->sink);
		free(br);
		return;
	}
	br->cfg = config_ref(*a->cfgp);
	memset(&q, 0, sizeof(q));
	q.source = br->source;
	q.sink = br->sink;
	catalog_load_start(br->cfg, &q, backups_done, br);
}

struct api *
api_new(struct httpd *h, struct zb_config **cfgp, struct sched *s)
{
	struct api	*a = xcalloc(1, sizeof(*a));

	a->cfgp = cfgp;
	a->sched = s;
	httpd_route(h, "GET", "/v1/health", HTTPD_PUBLIC_METRICS,
	    get_health, a);
	httpd_route(h, "GET", "/v1/status", HTTPD_AUDITOR, get_status, a);
	httpd_route(h, "GET", "/v1/checks", HTTPD_AUDITOR, get_checks, a);
	httpd_route_async(h, "GET", "/v1/backups", HTTPD_AUDITOR,
	    get_backups, a);
	httpd_route(h, "POST", "/v1/jobs/*/run", HTTPD_ADMIN, post_job_run,
	    a);
	httpd_route(h, "POST", "/v1/checks/*/run", HTTPD_ADMIN,
	    post_check_run, a);
	return a;
}

void
api_free(struct api *a)
{
	free(a);
}
