/*
 * gc.h - garbage collection on one sink: what failed and interrupted
 * runs left behind (artifact directories without a manifest, puts that
 * were never committed), never what a live run is still writing.
 */
#ifndef ZB_GC_H
#define ZB_GC_H

#include <stdint.h>
#include <time.h>

#include "zentoria/plugin.h"

enum gc_action {
	GC_REMOVE,		/* removed (or, dry run: would be) */
	GC_KEEP,		/* garbage-like, but kept: see reason */
	GC_RETAINED		/* the sink refused to remove it for its own
				   retention (Object Lock): reason says until
				   when */
};

/* One decision, for the caller to print or log. */
struct gc_item {
	const char	*sink;		/* the section name */
	const char	*key;		/* object, or artifact directory */
	const char	*what;		/* "object", "pending put", "directory" */
	enum gc_action	 action;
	int		 dry_run;
	int		 failed;	/* a removal that did not work */
	const char	*reason;
};

struct gc_result {
	unsigned	 removed;	/* objects and pending puts */
	unsigned	 kept;		/* directories left alone */
	unsigned	 errors;	/* listings and removals that failed */
	unsigned	 retained;	/* objects the sink's retention kept */
};

typedef void (*gc_item_fn)(void *arg, const struct gc_item *);
typedef void (*gc_done_fn)(void *arg, const struct gc_result *);

struct gc_params {
	struct zb_inst	*sink;
	const char	*prefix;	/* "" or "source/": what to look at */
	int64_t		 grace_s;	/* leave what was written since */
	int		 dry_run;
	gc_item_fn	 item;		/* may be NULL */
	gc_done_fn	 done;
	void		*arg;
};

/*
 * A directory holding an in-progress marker of a run on another host is
 * taken as alive for this long after the marker was written: this host
 * cannot ask that host's lock.
 */
#define GC_FOREIGN_RUN_MAX	(7 * 24 * 3600)

/*
 * Start collecting on p->sink; p->done runs on the loop once every
 * listing and removal ended (it may run before gc_start returns).  The
 * params are copied.
 */
void	gc_start(const struct gc_params *p);
/*
 * Whether the in-progress marker text (LAYOUT_MARKER_NAME), written age
 * seconds ago, belongs to a live run or copy: on this host, its job lock
 * is held by that run; from another host, it is younger than
 * GC_FOREIGN_RUN_MAX.  1 with *why (caller frees) saying whose; 0 (an
 * unreadable marker too).
 */
int	gc_marker_alive(const char *text, size_t len, time_t age,
	    char **why);

#endif
