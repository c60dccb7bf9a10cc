/*
 * upkeep.c - the daemon's work besides runs (upkeep.h).  Retention after
 * a run is prune.c's prune_start({sink, source, retention = 1, gc = 0});
 * each decision that removes or fails is logged, kept copies only at
 * debug level.  The generation is referenced until the prune ended
 * (prune_start wants cfg to outlive it).
 * A scheduled check is check.c's check_start() with the section's kind,
 * jobs and sinks, and the host's age identities if it has any (for
 * deep-verify and test-restore of encrypted copies).
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "metrics.h"
#include "prune.h"
#include "reactor.h"
#include "upkeep.h"
#include "util.h"

struct pruning {
	struct zb_config	*cfg;		/* a reference */
	char			*sink;
	char			*source;
	uint64_t		 copies;	/* kept or retained */
	unsigned		 errors;	/* of the pass */
	char			 err[512];	/* of the metrics record */
	void			(*done)(void *, unsigned);
	void			*arg;
};

static void
on_item(void *arg, const struct prune_item *it)
{
	struct pruning	*p = arg;

	if (strcmp(it->what, "copy") == 0 && !it->failed &&
	    it->action != PRUNE_REMOVE)
		p->copies++;
	if (it->failed || it->error != NULL)
		log_warnx("[sink:%s] retention: %s %s: %s", it->sink,
		    it->what, it->id_or_key, it->error != NULL ? it->error :
		    it->reason);
	else if (it->action == PRUNE_REMOVE)
		log_info("[sink:%s] retention: removed %s %s (%s)", it->sink,
		    it->what, it->id_or_key, it->reason);
	else if (it->action == PRUNE_RETAINED)
		log_info("[sink:%s] retention: %s %s %s", it->sink, it->what,
		    it->id_or_key, it->reason);
	else
		log_debug("[sink:%s] retention: kept %s %s (%s)", it->sink,
		    it->what, it->id_or_key, it->reason);
}

static void
pruning_end(struct pruning *p)
{
	p->done(p->arg, p->errors);
	config_unref(p->cfg);
	free(p->sink);
	free(p->source);
	free(p);
}

/* Off the loop: the file is flock'ed and fsync'ed. */
static int
record_work(void *arg)
{
	struct pruning	*p = arg;

	return metrics_record_retained(p->cfg->state_dir, p->sink, p->source,
	    p->copies, p->err, sizeof(p->err));
}

static void
record_done(void *arg, int rc)
{
	struct pruning	*p = arg;

	if (rc == -1)
		log_warnx("metrics: %s", p->err);
	pruning_end(p);
}

static void
on_done(void *arg, const struct prune_result *r)
{
	struct pruning	*p = arg;

	(r->errors > 0 ? log_warnx : log_info)("[sink:%s] retention of "
	    "source %s: %u removed, %u kept, %u retained, %u error%s",
	    p->sink, p->source, r->removed, r->kept, r->retained, r->errors,
	    r->errors == 1 ? "" : "s");
	p->errors = r->errors;
	/* (a pass with errors may have seen part of the sink only) */
	if (r->errors > 0 || r->interrupted)
		pruning_end(p);
	else if (reactor_offload(record_work, record_done, p) == -1)
		record_done(p, record_work(p));	/* no thread: on the loop */
}

void
upkeep_retention(struct zb_config *cfg, const char *sink,
    const char *source, void (*done)(void *, unsigned), void *arg)
{
	struct prune_params	 pp;
	struct pruning		*p;

	p = xcalloc(1, sizeof(*p));
	p->cfg = config_ref(cfg);
	p->sink = xstrdup(sink);
	p->source = xstrdup(source);
	p->done = done;
	p->arg = arg;
	memset(&pp, 0, sizeof(pp));
	pp.sink = p->sink;
	pp.source = p->source;
	pp.retention = 1;
	pp.gc = 0;
	prune_start(cfg, &pp, on_item, on_done, p);
}

struct checking {
	struct zb_config	*cfg;		/* a reference */
	const char		**jobs;
	const char		**sinks;
	void			(*done)(void *, const struct check_result *);
	void			*arg;
};

static void
on_checked(void *arg, const struct check_result *r)
{
	struct checking	*c = arg;

	c->done(c->arg, r);
	config_unref(c->cfg);
	free(c->jobs);
	free(c->sinks);
	free(c);
}

int
upkeep_check(struct zb_config *cfg, const char *name,
    void (*done)(void *, const struct check_result *), void *arg)
{
	struct cfg_check	*chk = config_check(cfg, name);
	struct check_params	 cp;
	struct checking		*c;
	size_t			 i;

	if (chk == NULL)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->cfg = config_ref(cfg);
	c->done = done;
	c->arg = arg;
	c->jobs = xcalloc(chk->njobs + 1, sizeof(*c->jobs));
	for (i = 0; i < chk->njobs; i++)
		c->jobs[i] = chk->jobs[i]->name;
	c->sinks = xcalloc(chk->nsinks + 1, sizeof(*c->sinks));
	for (i = 0; i < chk->nsinks; i++)
		c->sinks[i] = chk->sinks[i]->name;
	memset(&cp, 0, sizeof(cp));
	cp.kind = (enum check_kind)chk->kind;
	cp.jobs = c->jobs;
	cp.njobs = chk->njobs;
	cp.sinks = c->sinks;
	cp.nsinks = chk->nsinks;
	cp.identities = cfg->identities;
	check_start(cfg, &cp, on_checked, c);
	return 0;
}
