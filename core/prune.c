/*
 * prune.c - the prune/retention service, sink after sink:
 *  1. garbage (p.gc): what failed and interrupted runs left (gc.c).  A
 *     directory a live run is writing is never touched (its in-progress
 *     marker and the job lock say so), and neither is anything written
 *     within the grace period.  A sink plugin without pending-put listing
 *     (before ABI 1.3) first runs its own cleanup, by start time alone;
 *  2. retention (p.retention): the catalog of the sink (of one source if
 *     asked), the keep_* decisions (forget.c), the removal of the copies
 *     no rule keeps, manifest first.  A copy whose removal the sink
 *     refuses for a retention of its own (S3 Object Lock) is retained,
 *     not failed.
 * Every decision goes to the caller's item callback, the counts to its
 * done callback.  Asynchronous: each step starts the next operation and
 * returns; the operation's callback wakes the step event, so a callback
 * that completes inside its start call is harmless.  Nothing here runs
 * the loop.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "forget.h"
#include "gc.h"
#include "log.h"
#include "plugin.h"
#include "prune.h"
#include "reactor.h"
#include "retention.h"
#include "sinkio.h"
#include "util.h"

enum prune_step {
	P_SINK,			/* pick the next sink, or end */
	P_CLEANUP,		/* a pre-1.3 sink's own cleanup */
	P_GC,			/* garbage collection */
	P_CATALOG,		/* load the sink's catalog */
	P_DECIDE,		/* keep_* decisions, start the removals */
	P_REPORT		/* report the decisions */
};

struct prune {
	struct zb_config	*cfg;
	struct prune_params	 p;
	char			*sink;		/* owned copies of p's */
	char			*source;
	char			*prefix;	/* gc: "" or "source/" */
	prune_item_fn		 item;
	prune_done_fn		 done;
	void			*arg;
	struct event		*ev;
	enum prune_step		 step;
	struct cfg_section	*sec;		/* the sink at hand */
	struct catalog		*cat;
	struct forget_plan	 plan;
	struct prune_result	 res;
};

static void
wake(struct prune *pr)
{
	event_active(pr->ev, 0, 0);
}

static void
report(struct prune *pr, const struct prune_item *it)
{
	if (pr->item != NULL)
		pr->item(pr->arg, it);
}

/* ---- callbacks of the steps' operations ------------------------------------ */

static void
catalog_destroy_opt(struct catalog *cat)
{
	if (cat != NULL)
		catalog_destroy(cat);
}

static void
on_cleaned(void *arg, int status, const char *err)
{
	struct prune	*pr = arg;

	if (status != ZB_OK) {
		log_warnx("sink:%s: cleanup of interrupted uploads: %s",
		    pr->sec->name, err != NULL ? err : "failed");
		pr->res.errors++;
	}
	wake(pr);
}

static void
on_gc_item(void *arg, const struct gc_item *g)
{
	struct prune		*pr = arg;
	struct prune_item	 it;

	memset(&it, 0, sizeof(it));
	it.sink = g->sink;
	it.id_or_key = g->key;
	it.what = g->what;
	it.reason = g->reason;
	it.action = g->action == GC_REMOVE ? PRUNE_REMOVE :
	    g->action == GC_RETAINED ? PRUNE_RETAINED : PRUNE_KEEP;
	it.dry_run = g->dry_run;
	it.failed = g->failed;
	report(pr, &it);
}

static void
on_gc_done(void *arg, const struct gc_result *res)
{
	struct prune	*pr = arg;

	pr->res.gc_removed += res->removed;
	pr->res.gc_kept += res->kept;
	pr->res.retained += res->retained;
	pr->res.errors += res->errors;
	wake(pr);
}

static void
on_catalog(void *arg, struct catalog *cat)
{
	struct prune	*pr = arg;

	pr->cat = cat;
	wake(pr);
}

static void
on_forgotten(void *arg)
{
	wake(arg);
}

/* ---- retention: reporting ---------------------------------------------------- */

static void
report_decision(struct prune *pr, const struct forget_decision *d)
{
	struct prune_item	 it;
	char			 rules[128], *why = NULL;

	memset(&it, 0, sizeof(it));
	it.sink = pr->sec->name;
	it.id_or_key = d->copy->id;
	it.what = "copy";
	it.rules = d->rules;
	it.dry_run = pr->p.dry_run;
	if (d->keep) {
		it.action = PRUNE_KEEP;
		it.reason = retention_rules_format(d->rules, ",", rules,
		    sizeof(rules));
		pr->res.kept++;
	} else if (pr->p.dry_run) {
		it.action = PRUNE_REMOVE;
		it.reason = "no rule keeps it";
		pr->res.removed++;
	} else if (d->retained) {
		it.action = PRUNE_RETAINED;
		it.reason = d->error;
		pr->res.retained++;
	} else if (!d->removed) {
		it.action = PRUNE_REMOVE;
		it.failed = 1;
		it.reason = d->error != NULL ? d->error : "error";
		it.error = d->error;
		pr->res.errors++;
	} else {
		it.action = PRUNE_REMOVE;
		if (d->error != NULL) {
			why = xasprintf("its manifest; the rest is left as "
			    "garbage: %s", d->error);
			it.reason = why;
			it.error = d->error;
		} else
			it.reason = "no rule keeps it";
		pr->res.removed++;
	}
	report(pr, &it);
	free(why);
}

/* ---- the steps --------------------------------------------------------------------- */

static int
selected(const struct prune *pr, const struct cfg_section *sec)
{
	return sec->kind == CFG_SINK && sec->inst != NULL &&
	    (pr->sink == NULL || strcmp(sec->name, pr->sink) == 0);
}

static void
finish(struct prune *pr)
{
	pr->done(pr->arg, &pr->res);
	forget_plan_free(&pr->plan);
	catalog_destroy_opt(pr->cat);
	event_free(pr->ev);
	free(pr->sink);
	free(pr->source);
	free(pr->prefix);
	free(pr);
}

static void
step(evutil_socket_t fd, short what, void *arg)
{
	struct prune		*pr = arg;
	struct gc_params	 gp;
	struct catalog_query	 q;
	size_t			 i;

	for (;;) {
		switch (pr->step) {
		case P_SINK:
			pr->sec = pr->sec == NULL ?
			    TAILQ_FIRST(&pr->cfg->sections) :
			    TAILQ_NEXT(pr->sec, entry);
			while (pr->sec != NULL && !selected(pr, pr->sec))
				pr->sec = TAILQ_NEXT(pr->sec, entry);
			if (pr->sec == NULL) {
				finish(pr);
				return;
			}
			if (reactor_interrupted()) {
				pr->res.interrupted = 1;
				finish(pr);
				return;
			}
			pr->res.sinks++;
			pr->step = P_CLEANUP;
			break;
		case P_CLEANUP:
			pr->step = P_GC;
			if (pr->p.gc && !pr->p.dry_run &&
			    !sinkio_has_pending(pr->sec->inst)) {
				sinkio_cleanup(pr->sec->inst, pr->p.grace_s,
				    on_cleaned, pr);
				return;
			}
			break;
		case P_GC:
			pr->step = P_CATALOG;
			if (pr->p.gc) {
				memset(&gp, 0, sizeof(gp));
				gp.sink = pr->sec->inst;
				gp.prefix = pr->prefix;
				gp.grace_s = pr->p.grace_s;
				gp.dry_run = pr->p.dry_run;
				gp.item = on_gc_item;
				gp.done = on_gc_done;
				gp.arg = pr;
				gc_start(&gp);
				return;
			}
			break;
		case P_CATALOG:
			if (reactor_interrupted()) {
				pr->res.interrupted = 1;
				finish(pr);
				return;
			}
			if (!pr->p.retention) {
				pr->step = P_SINK;
				break;
			}
			pr->step = P_DECIDE;
			memset(&q, 0, sizeof(q));
			q.sink = pr->sec->name;
			q.source = pr->source;
			catalog_load_start(pr->cfg, &q, on_catalog, pr);
			return;
		case P_DECIDE:
			pr->step = P_REPORT;
			if (pr->cat == NULL || pr->cat->errors > 0) {
				/*
				 * Deciding on a partial list could remove
				 * the wrong copies.
				 */
				log_warnx("sink:%s: retention skipped: the "
				    "catalog could not be read completely",
				    pr->sec->name);
				pr->res.errors++;
				catalog_destroy_opt(pr->cat);
				pr->cat = NULL;
				pr->step = P_SINK;
				break;
			}
			forget_decide(pr->cfg, pr->sec, pr->cat, pr->p.now,
			    &pr->plan);
			if (!pr->p.dry_run && pr->plan.nremove > 0 &&
			    !reactor_interrupted()) {
				forget_remove(pr->sec->inst, &pr->plan,
				    on_forgotten, pr);
				return;
			}
			break;
		case P_REPORT:
			for (i = 0; i < pr->plan.n; i++)
				report_decision(pr, &pr->plan.d[i]);
			forget_plan_free(&pr->plan);
			catalog_destroy_opt(pr->cat);
			pr->cat = NULL;
			pr->step = P_SINK;
			break;
		}
	}
}

void
prune_start(struct zb_config *cfg, const struct prune_params *p,
    prune_item_fn item, prune_done_fn done, void *arg)
{
	struct prune	*pr;

	pr = xcalloc(1, sizeof(*pr));
	pr->cfg = cfg;
	pr->p = *p;
	pr->sink = p->sink != NULL ? xstrdup(p->sink) : NULL;
	pr->source = p->source != NULL ? xstrdup(p->source) : NULL;
	pr->p.sink = pr->sink;
	pr->p.source = pr->source;
	pr->prefix = p->source != NULL ? xasprintf("%s/", p->source) :
	    xstrdup("");
	if (pr->p.now == 0)
		pr->p.now = time(NULL);
	pr->item = item;
	pr->done = done;
	pr->arg = arg;
	pr->step = P_SINK;
	pr->ev = event_new(reactor_base(), -1, 0, step, pr);
	wake(pr);
}
