/*
 * forget.c - retention on one sink (restic's "forget").
 *
 * Only committed copies (those with a manifest, i.e. what the catalog
 * read) count.  Copies are grouped by source/stream; retention.c decides
 * each group under its policy (a job's keep_* keys override the sink's
 * for the source the job backs up to that sink).  Removal deletes every
 * manifest first, so that an interrupted removal never leaves a listed
 * copy without its data; the data and sidecar of a copy follow once its
 * manifest is gone (a leftover is garbage that prune's collector takes).
 * A manifest the sink refuses to remove because of its own retention
 * (S3 Object Lock: ZB_ERR_RETAINED) leaves its copy whole and retained.
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include "forget.h"
#include "layout.h"
#include "reactor.h"
#include "retention.h"
#include "sinkio.h"
#include "util.h"

const struct retention_policy *
forget_policy(const struct zb_config *cfg, const struct cfg_section *sink,
    const char *source)
{
	const struct cfg_job	*job;
	size_t			 i;

	TAILQ_FOREACH(job, &cfg->jobs, entry) {
		if (job->sec->retention == NULL || job->source == NULL ||
		    strcmp(job->source->name, source) != 0)
			continue;
		for (i = 0; i < job->nsinks; i++)
			if (job->sinks[i] == sink)
				return job->sec->retention;
	}
	return sink->retention;
}

static int
same_group(const struct artifact *a, const struct artifact *b)
{
	return strcmp(a->source, b->source) == 0 &&
	    strcmp(a->stream, b->stream) == 0;
}

/*
 * Decide the n copies of one source/stream: keep[i] and rules[i] for
 * copies[i].
 */
static void
group_keep(const struct zb_config *cfg, const struct cfg_section *sink,
    const struct artifact *const *copies, size_t n, time_t now, int *keep,
    unsigned *rules)
{
	const struct retention_policy	*p;
	struct retention_policy		 all;
	struct retention_copy		*rc;
	size_t				 i, k;
	time_t				 t;
	int				 seq;

	p = forget_policy(cfg, sink, copies[0]->source);
	if (p == NULL) {
		retention_policy_init(&all);
		p = &all;
	}
	rc = xcalloc(n, sizeof(*rc));
	for (i = 0; i < n; i++) {
		if (stamp_parse_seq(copies[i]->stamp, &t, &seq) == -1) {
			t = copies[i]->time;
			seq = 0;
		}
		rc[i].time = t;
		rc[i].seq = seq;
		rc[i].tag = copies[i]->run_tag;
		rc[i].data = (void *)(copies + i);	/* its place */
	}
	retention_apply(p, rc, n, now, config_retention_tz(cfg));
	for (i = 0; i < n; i++) {	/* (rc is sorted now) */
		k = (size_t)((const struct artifact *const *)rc[i].data -
		    copies);
		keep[k] = rc[i].keep;
		rules[k] = rc[i].rules;
	}
	free(rc);
}

/* Decide the n copies of one source/stream, appending to plan. */
static void
decide_group(const struct zb_config *cfg, const struct cfg_section *sink,
    const struct artifact **copies, size_t n, time_t now,
    struct forget_plan *plan)
{
	struct forget_decision	*d;
	unsigned		*rules;
	int			*keep;
	size_t			 i;

	keep = xcalloc(n, sizeof(*keep));
	rules = xcalloc(n, sizeof(*rules));
	group_keep(cfg, sink, copies, n, now, keep, rules);
	plan->d = xreallocarray(plan->d, plan->n + n, sizeof(*plan->d));
	for (i = 0; i < n; i++) {
		d = &plan->d[plan->n++];
		memset(d, 0, sizeof(*d));
		d->copy = copies[i];
		d->keep = keep[i];
		d->rules = rules[i];
		if (!d->keep)
			plan->nremove++;
	}
	free(keep);
	free(rules);
}

void
forget_would_keep(const struct zb_config *cfg, const struct cfg_section *sink,
    const struct catalog *cat, const struct artifact *const *cands, size_t n,
    time_t now, int *keep)
{
	const struct artifact	**v;
	unsigned		 *rules;
	int			 *vkeep, *done;
	size_t			 *from, i, j, nv, k;

	for (k = 0; k < n; k++)
		keep[k] = 1;
	if (n == 0 || cat->errors > 0)
		return;		/* (a partial catalog gets no retention) */
	v = xcalloc(cat->n + n, sizeof(*v));
	vkeep = xcalloc(cat->n + n, sizeof(*vkeep));
	rules = xcalloc(cat->n + n, sizeof(*rules));
	done = xcalloc(n, sizeof(*done));
	from = xcalloc(n, sizeof(*from));
	for (k = 0; k < n; k++) {
		if (done[k])
			continue;
		nv = 0;
		for (i = 0; i < cat->n; i++)
			if (same_group(&cat->items[i], cands[k]))
				v[nv++] = &cat->items[i];
		j = nv;
		for (i = k; i < n; i++)
			if (!done[i] && same_group(cands[i], cands[k])) {
				from[nv - j] = i;
				v[nv++] = cands[i];
				done[i] = 1;
			}
		group_keep(cfg, sink, v, nv, now, vkeep, rules);
		for (i = j; i < nv; i++)
			keep[from[i - j]] = vkeep[i];
	}
	free(from);
	free(v);
	free(vkeep);
	free(rules);
	free(done);
}

static int
cmp_group(const void *a, const void *b)
{
	const struct artifact	*x = *(const struct artifact *const *)a;
	const struct artifact	*y = *(const struct artifact *const *)b;
	int			 c;

	c = strcmp(x->source, y->source);
	return c != 0 ? c : strcmp(x->stream, y->stream);
}

void
forget_decide(const struct zb_config *cfg, const struct cfg_section *sink,
    const struct catalog *cat, time_t now, struct forget_plan *plan)
{
	const struct artifact	**v;
	size_t			  i, j;

	memset(plan, 0, sizeof(*plan));
	if (cat->n == 0)
		return;
	v = xcalloc(cat->n, sizeof(*v));
	for (i = 0; i < cat->n; i++)
		v[i] = &cat->items[i];
	qsort(v, cat->n, sizeof(*v), cmp_group);
	for (i = 0; i < cat->n; i = j) {
		for (j = i + 1; j < cat->n && same_group(v[i], v[j]); j++)
			;
		decide_group(cfg, sink, v + i, j - i, now, plan);
	}
	free(v);
}

void
forget_plan_free(struct forget_plan *plan)
{
	size_t	 i;

	for (i = 0; i < plan->n; i++)
		free(plan->d[i].error);
	free(plan->d);
	memset(plan, 0, sizeof(*plan));
}

/* ---- removal ------------------------------------------------------------- */

struct forget_run {
	struct zb_inst		*sink;
	struct forget_plan	*plan;
	unsigned		 pending;
	int			 phase;		/* 0 manifests, 1 the rest */
	struct event		*ev;
	forget_done_fn		 done;
	void			*arg;
};

struct forget_op {
	struct forget_run	*fr;
	struct forget_decision	*d;
};

static void	start_phase(struct forget_run *);

static void
on_removed(void *arg, int status, const char *err)
{
	struct forget_op	*o = arg;
	struct forget_run	*fr = o->fr;

	if (status == ZB_ERR_RETAINED && fr->phase == 0)
		o->d->retained = 1;	/* kept whole: no data removal */
	if (status != ZB_OK && o->d->error == NULL)
		o->d->error = xstrdup(err != NULL ? err : status ==
		    ZB_ERR_RETAINED ? "retained by the sink" : "cannot remove");
	else if (status == ZB_OK && fr->phase == 0)
		o->d->removed = 1;
	free(o);
	if (--fr->pending == 0)
		event_active(fr->ev, 0, 0);
}

static void
remove_key(struct forget_run *fr, struct forget_decision *d, char *key)
{
	struct forget_op	*o;

	o = xcalloc(1, sizeof(*o));
	o->fr = fr;
	o->d = d;
	fr->pending++;
	sinkio_remove(fr->sink, key, on_removed, o);
	free(key);
}

static void
on_phase_done(evutil_socket_t fd, short what, void *arg)
{
	struct forget_run	*fr = arg;

	if (fr->pending > 0)
		return;
	if (fr->phase == 0) {
		fr->phase = 1;
		start_phase(fr);
		if (fr->pending > 0)
			return;
	}
	event_free(fr->ev);
	fr->done(fr->arg);
	free(fr);
}

static void
start_phase(struct forget_run *fr)
{
	struct forget_decision	*d;
	const struct artifact	*a;
	size_t			 i;

	/* All removals of a phase at once: a sink may batch them. */
	fr->pending++;		/* none may end the phase while starting */
	for (i = 0; i < fr->plan->n; i++) {
		d = &fr->plan->d[i];
		a = d->copy;
		if (d->keep)
			continue;
		if (fr->phase == 0)
			remove_key(fr, d, layout_manifest_key(a->dir));
		else if (d->removed) {
			remove_key(fr, d, layout_data_key(a->dir, a->data));
			remove_key(fr, d, layout_sidecar_key(a->dir,
			    a->data));
		}
	}
	if (--fr->pending == 0)
		event_active(fr->ev, 0, 0);
}

void
forget_remove(struct zb_inst *sink, struct forget_plan *plan,
    forget_done_fn done, void *arg)
{
	struct forget_run	*fr;

	fr = xcalloc(1, sizeof(*fr));
	fr->sink = sink;
	fr->plan = plan;
	fr->done = done;
	fr->arg = arg;
	fr->ev = event_new(reactor_base(), -1, 0, on_phase_done, fr);
	start_phase(fr);
}
