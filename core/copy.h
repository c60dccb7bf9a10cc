/*
 * copy.h - the copy service: committed copies of one sink replicated to
 * other sinks, the stored bytes unchanged (issue 12: copy jobs,
 * `zentoria-backupctl copy').
 */
#ifndef ZB_COPY_H
#define ZB_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct copy;
struct job_lock;

struct copy_params {
	const char		*from;		/* [sink:NAME] copied from */
	const char *const	*to;		/* [sink:NAME]s copied to */
	size_t			 nto;
	const char *const	*sources;	/* only these; nsources 0: all */
	size_t			 nsources;
	int			 newest_per_stream; /* catalog_newest's pick */
	int64_t			 since_s;	/* copies newer than now -
						   since_s; 0: all */
	int			 dry_run;	/* decide, copy nothing */
	const char		*job;		/* for messages, or NULL */
	/*
	 * The copy job's lock (state.c), named in the in-progress markers
	 * so that prune on this host knows the copy is alive; NULL: none
	 * (the markers then protect for prune's grace period only).
	 */
	struct job_lock		*lock;
};

enum copy_action {
	COPY_COPIED,		/* data, sidecar, manifest written */
	COPY_PRESENT,		/* the target has it already: untouched */
	COPY_WOULD_COPY,	/* dry run */
	COPY_FAILED,		/* error says why; no manifest written */
	COPY_EXPIRED		/* the target's retention would remove it at
				   once: not copied (error says which rule set) */
};

/*
 * One (copy, target) decision.  A selection problem (an unknown sink, a
 * catalog that could not be read completely) is a failed item whose id
 * is "sink:NAME" or "catalog".
 */
struct copy_item {
	const char		*id;
	const char		*sink;		/* the target */
	enum copy_action	 action;
	uint64_t		 bytes;		/* stored bytes */
	uint64_t		 duration_ms;
	const char		*error;		/* COPY_FAILED */
};

struct copy_result {
	unsigned	 selected;	/* origin copies the filters kept */
	unsigned	 copied, present, would_copy, failed, expired;
	uint64_t	 bytes;		/* stored bytes copied */
	uint64_t	 duration_ms;
	uint64_t	 peak_buffered, budget;	/* the largest stream use */
	int		 interrupted;
	/*
	 * per target (params' order): of the selected copies, those there
	 * now and those its retention does not want (COPY_EXPIRED), so that
	 * a target that got all it keeps counts as whole
	 */
	size_t		 ntargets;
	unsigned	 on_target[CFG_MAX_SINKS];
};

typedef void (*copy_item_fn)(void *arg, const struct copy_item *);
typedef void (*copy_done_fn)(void *arg, const struct copy_result *);

/*
 * Start copying: load the catalogs of the origin and of each target,
 * select the origin's committed copies the filters keep, and for each
 * one missing on some target stream the stored data object once from
 * the origin to every such target (one copy at a time, within the stream
 * budget; a limited target's max_copies slot is taken while it is
 * written), check its size and SHA-256 against the manifest on the way
 * (a mismatch aborts: nothing is committed), then write the sidecar,
 * then the manifest naming the target sink, last.  A copy already on a
 * target is left alone.  item (may be NULL) is called for every
 * decision as it is made; done once, on the loop, never from inside
 * this call; the strings of both are borrowed for the call.  The copy
 * frees itself after done.  cfg must outlive it.
 */
struct copy	*copy_start(struct zb_config *, const struct copy_params *,
		    copy_item_fn item, copy_done_fn done, void *arg);
/* Abort the copy in progress (no manifest); the rest fail unstarted. */
void		 copy_abort(struct copy *, const char *why);
/* Stored bytes moved so far (progress lines). */
uint64_t	 copy_bytes(const struct copy *);
const char	*copy_action_str(enum copy_action);

#endif
