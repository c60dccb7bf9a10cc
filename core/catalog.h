/*
 * catalog.h - the list of artifacts, rebuilt from the sinks' manifests.
 */
#ifndef ZB_CATALOG_H
#define ZB_CATALOG_H

#include <stddef.h>
#include <time.h>

#include "artifact.h"
#include "config.h"

/*
 * A run of a source as one sink holds it: the copies there whose
 * manifests name the same run (job and run stamp).  It is complete when
 * every stream the run planned has a copy on that sink.  A copy whose
 * manifest predates run records is a complete run of its own.
 */
struct catalog_run {
	const char		*sink;
	const char		*source;
	const char		*job;
	const char		*stamp;		/* the run's */
	size_t			 planned;	/* streams the run planned */
	size_t			 present;	/* of them, with a copy here */
	const char		**missing;	/* the others, in plan order */
	size_t			 nmissing;
	int			 complete;
	int			 recorded;	/* 0: no run record (old copy) */
};

struct catalog {
	struct artifact		*items;	/* sorted: time, id, sink order */
	size_t			 n;
	struct catalog_run	*runs;	/* by sink, source, job, stamp */
	size_t			 nruns;
	size_t			*item_run; /* items[i] is in runs[item_run[i]] */
	int			 errors;   /* sinks or manifests unreadable */
};

/* The result of a selection: copies, and the runs left out. */
struct catalog_pick {
	const struct artifact		**copies;	/* catalog order */
	size_t				 n;
	const struct catalog_run	**skipped;	/* each once */
	size_t				 nskipped;
};

/* What to load; NULL or zero fields select everything. */
struct catalog_query {
	const char	*sink;		/* NULL: every sink */
	const char	*source;	/* NULL: every source */
	const char	*job;		/* NULL: any (copies whose run names
					   this job) */
	time_t		 since, until;	/* copies with since <= time < until;
					   0: open.  A range can cut a run:
					   its copies outside are not there */
};

/* The loaded catalog: the callback frees it with catalog_destroy. */
typedef void (*catalog_done_fn)(void *arg, struct catalog *cat);

/*
 * Start reading the manifests of the sinks the query selects (q may be
 * NULL: everything).  All selected sinks are listed at once; manifests are
 * read at most 8 at a time per catalog, across sinks.  done is called on
 * the loop (never from inside this call) once everything is read.
 * Unreadable sinks and manifests are logged and counted in cat->errors; so
 * is a load cut short by SIGINT/SIGTERM.  The config must outlive the
 * load.
 */
void	catalog_load_start(struct zb_config *, const struct catalog_query *,
	    catalog_done_fn, void *arg);
/* catalog_free, then the struct itself (what catalog_done_fn hands). */
void	catalog_destroy(struct catalog *);
void	catalog_free(struct catalog *);
/*
 * Group cat's items into runs (a load does this; for tests that
 * fill items themselves).  Replaces any earlier grouping.
 */
void	catalog_group_runs(struct catalog *);
/* The run a copy (an element of cat->items) belongs to. */
const struct catalog_run *catalog_run_of(const struct catalog *,
	    const struct artifact *);
/*
 * "The latest": for every source/stream (only of source when not NULL)
 * the copies of its newest artifact among the copies whose run is
 * complete on their sink.  Incomplete runs holding a copy at least as
 * new as that go to skipped.  Free with catalog_pick_free.
 */
void	catalog_latest(const struct catalog *, const char *source,
	    struct catalog_pick *);
/*
 * Per sink: for every source/stream/sink the newest copy whose run is
 * complete on that sink (catalog_latest's rule applied to each sink on its
 * own).  Incomplete runs on that sink holding a copy at least as new go
 * to skipped.  Free with catalog_pick_free.
 */
void	catalog_newest(const struct catalog *, struct catalog_pick *);
void	catalog_pick_free(struct catalog_pick *);
/* The copies of one artifact id, in catalog order. */
size_t	catalog_copies(const struct catalog *, const char *id,
	    const struct artifact **out, size_t max);
/* Sink instance by name, or NULL. */
struct zb_inst *catalog_sink(struct zb_config *, const char *name);

#endif
