/*
 * services.c - the scheduler's calls into the core services (services.h):
 * retention after a run is prune.c's prune_start({sink, source,
 * retention = 1, gc = 0}); each decision that removes or fails is
 * logged, kept copies only at debug level.  The generation is referenced
 * until the prune ended (prune_start wants cfg to outlive it).
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include "dcfg.h"
#include "log.h"
#include "prune.h"
#include "services.h"
#include "util.h"

struct pruning {
	struct zb_config	*cfg;		/* a reference */
	char			*sink;
	char			*source;
	void			(*done)(void *, unsigned);
	void			*arg;
};

static void
on_item(void *arg, const struct prune_item *it)
{
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
on_done(void *arg, const struct prune_result *r)
{
	struct pruning	*p = arg;

	(r->errors > 0 ? log_warnx : log_info)("[sink:%s] retention of "
	    "source %s: %u removed, %u kept, %u retained, %u error%s",
	    p->sink, p->source, r->removed, r->kept, r->retained, r->errors,
	    r->errors == 1 ? "" : "s");
	p->done(p->arg, r->errors);
	dcfg_unref(p->cfg);
	free(p->sink);
	free(p->source);
	free(p);
}

void
services_retention(struct zb_config *cfg, const char *sink,
    const char *source, void (*done)(void *, unsigned), void *arg)
{
	struct prune_params	 pp;
	struct pruning		*p;

	p = xcalloc(1, sizeof(*p));
	p->cfg = dcfg_ref(cfg);
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
