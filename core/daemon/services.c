/*
 * services.c - the scheduler's calls into the core services (services.h).
 *
 * TODO(h2): retention after a run is helper h2's prune_start({sink,
 * source, retention = 1, gc = 0}); main's forget/catalog code blocks on
 * a nested loop, which the daemon cannot do from a callback.  Until h2's
 * branch is merged, services_retention() only logs that it did nothing.
 */
#include "zb-build.h"

#include <stdlib.h>

#include "log.h"
#include "reactor.h"
#include "services.h"
#include "util.h"

struct later {
	void	(*done)(void *, unsigned);
	void	*arg;
};

static void
call_later(void *arg)
{
	struct later	*l = arg;

	l->done(l->arg, 0);
	free(l);
}

void
services_retention(struct zb_config *cfg, const char *sink,
    const char *source, void (*done)(void *, unsigned), void *arg)
{
	struct later	*l;

	(void)cfg;
	log_info("[sink:%s] retention of source %s after the run: not "
	    "applied by this build (TODO(h2): prune_start)", sink, source);
	l = xcalloc(1, sizeof(*l));
	l->done = done;
	l->arg = arg;
	reactor_timer_add(0, call_later, l);
}
