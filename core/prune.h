/*
 * prune.h - the prune/retention service: garbage collection (gc.c) and
 * retention (forget.c) on the selected sinks, asynchronous, for the CLI's
 * `prune' and for the daemon after each run.
 */
#ifndef ZB_PRUNE_H
#define ZB_PRUNE_H

#include <stdint.h>
#include <time.h>

#include "config.h"

struct prune_params {
	const char	*sink;		/* NULL: every sink */
	const char	*source;	/* NULL: every source */
	int64_t		 grace_s;	/* garbage: leave what was written
					   since */
	int		 dry_run;	/* decide and report, remove nothing */
	int		 gc;		/* collect garbage */
	int		 retention;	/* apply the keep_* policies */
	time_t		 now;		/* retention's "now"; 0: time(NULL) */
};

enum prune_action {
	PRUNE_KEEP,
	PRUNE_REMOVE,		/* removed (dry run: would be; failed: not) */
	PRUNE_RETAINED		/* the sink refused the removal for its own
				   retention (Object Lock): reason says until
				   when */
};

/*
 * One decision, for the caller to print or log.  Every pointer is
 * borrowed for the duration of the callback.
 *  - garbage (gc.c): what is "object", "pending put" or "directory",
 *    id_or_key the key, reason why;
 *  - retention (forget.c): what is "copy", id_or_key the artifact id,
 *    rules the RETENTION_KEEP_* bits that kept it; reason: the rules
 *    (keep), "no rule keeps it" (remove), the error (failed), "its
 *    manifest; the rest is left as garbage: ERROR" (a removal whose
 *    data or sidecar stayed), or the sink's "retained until ..."
 *    (retained).
 */
struct prune_item {
	const char		*sink;
	const char		*id_or_key;
	const char		*what;
	const char		*reason;
	enum prune_action	 action;
	unsigned		 rules;
	int			 dry_run;
	int			 failed;	/* a removal that did not work */
	const char		*error;		/* retention: a removal that
						   failed in full or in part;
						   NULL otherwise */
};

struct prune_result {
	unsigned	 removed;	/* copies removed (dry: would be) */
	unsigned	 kept;		/* copies a rule kept */
	unsigned	 retained;	/* copies and objects the sinks' Object
					   Lock kept */
	unsigned	 errors;	/* listings, catalogs and removals that
					   failed */
	unsigned	 sinks;		/* sinks looked at */
	unsigned	 gc_removed;	/* garbage objects and pending puts */
	unsigned	 gc_kept;	/* garbage-like directories left */
	int		 interrupted;	/* SIGINT/SIGTERM stopped it early */
};

typedef void (*prune_item_fn)(void *arg, const struct prune_item *);
typedef void (*prune_done_fn)(void *arg, const struct prune_result *);

/*
 * Start pruning: for each selected sink in config order, garbage
 * collection (p->gc; a sink plugin before ABI 1.3 runs its own cleanup
 * first), then retention (p->retention) over the catalog of that sink,
 * restricted to p->source if given: removal of the copies no rule keeps,
 * manifests first, then data and sidecars.  A sink whose catalog cannot
 * be read completely gets no retention (an error): deciding on a partial
 * list could remove the wrong copies.  item (may be NULL) runs for every
 * decision; done once at the end, on the loop, never before prune_start
 * returns.  The params are copied; cfg must outlive the prune.
 */
void	prune_start(struct zb_config *, const struct prune_params *,
	    prune_item_fn item, prune_done_fn done, void *arg);

#endif
