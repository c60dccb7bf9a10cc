/*
 * forget.h - retention on one sink: which committed copies the keep_*
 * policy removes (restic's "forget"), and their removal, manifest first.
 */
#ifndef ZB_FORGET_H
#define ZB_FORGET_H

#include <stddef.h>
#include <time.h>

#include "catalog.h"
#include "config.h"

/* The decision about one copy. */
struct forget_decision {
	const struct artifact	*copy;		/* borrowed from the catalog */
	int			 keep;
	unsigned		 rules;		/* RETENTION_KEEP_* bits */
	int			 removed;	/* out of forget_remove */
	int			 retained;	/* the sink refused to remove
						   its manifest: Object Lock
						   (ZB_ERR_RETAINED) */
	char			*error;		/* a removal that failed; when
						   retained, the sink's "retained
						   until ..." */
};

struct forget_plan {
	struct forget_decision	*d;		/* by source/stream, newest
						   first */
	size_t			 n;
	size_t			 nremove;
};

/*
 * The policy for the copies of source on sink: the keep_* keys of a job
 * that backs source up to sink, if it has any, else the sink's; NULL
 * means keep everything.
 */
const struct retention_policy *forget_policy(const struct zb_config *,
	    const struct cfg_section *sink, const char *source);

/*
 * Decide every copy in cat (the catalog of one sink) at time now.  Copies
 * are grouped by source/stream; each group gets its policy.  Free with
 * forget_plan_free.
 */
void	forget_decide(const struct zb_config *, const struct cfg_section *sink,
	    const struct catalog *cat, time_t now, struct forget_plan *);
void	forget_plan_free(struct forget_plan *);
/*
 * Whether each of the n copies cands, which are not on sink yet (a copy
 * run's candidates), would survive sink's retention were they written
 * there now beside the copies cat (sink's catalog) holds: keep[k] 1 or 0.
 * Everything is kept under no policy, and when cat is incomplete (no
 * retention runs on it then either).
 */
void	forget_would_keep(const struct zb_config *,
	    const struct cfg_section *sink, const struct catalog *cat,
	    const struct artifact *const *cands, size_t n, time_t now,
	    int *keep);

typedef void (*forget_done_fn)(void *arg);

/*
 * Remove the copies plan decided to remove from sink: every manifest
 * first (a copy without it no longer exists), then the data and sidecars
 * of those whose manifest went.  A copy whose manifest the sink refuses
 * to remove for a retention rule of its own (ZB_ERR_RETAINED) is marked
 * retained and left whole.  Sets removed, retained or error in each
 * decision;
 * done runs on the loop when everything ended (maybe before this
 * returns).
 */
void	forget_remove(struct zb_inst *sink, struct forget_plan *,
	    forget_done_fn, void *arg);

#endif
