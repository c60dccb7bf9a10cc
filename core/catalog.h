/*
 * catalog.h - the list of artifacts, rebuilt from the sinks' manifests.
 */
#ifndef ZB_CATALOG_H
#define ZB_CATALOG_H

#include <stddef.h>

#include "artifact.h"
#include "config.h"

struct catalog {
	struct artifact	*items;		/* sorted: time, id, sink order */
	size_t		 n;
	int		 errors;	/* sinks or manifests unreadable */
};

/*
 * Read every manifest of the given sink (or of all sinks when NULL),
 * optionally only of one source.  Runs the loop until done (CLI use).
 * Unreadable sinks and manifests are logged and counted in errors.
 */
void	catalog_load(struct zb_config *, const char *sink,
	    const char *source, struct catalog *);
void	catalog_free(struct catalog *);
/* The copies of one artifact id, in catalog order. */
size_t	catalog_copies(const struct catalog *, const char *id,
	    const struct artifact **out, size_t max);
/* Sink instance by name, or NULL. */
struct zb_inst *catalog_sink(struct zb_config *, const char *name);

#endif
