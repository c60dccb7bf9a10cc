/*
 * restore.h - reading an artifact back: verify and restore.
 */
#ifndef ZB_RESTORE_H
#define ZB_RESTORE_H

#include <stdint.h>

#include "artifact.h"
#include "config.h"

struct age_keys;

struct restore_opts {
	const char	*target;	/* --to, or NULL */
	int		 force;
	int		 verify_only;
	/*
	 * test-restore: the source plugin restores into a scratch place and
	 * checks the result against the manifest's facts.
	 */
	int		 test;
	/*
	 * Identities for encrypted artifacts.  Without them verify checks
	 * the stored bytes only, and restore refuses.
	 */
	const struct age_keys *identities;
	/* out: the largest buffer use of the read, and its budget */
	uint64_t	 peak_buffered;
	uint64_t	 budget;
};

/*
 * Read one copy (a->sink) back through the stream core, checking its
 * stored and plaintext SHA-256 and sizes against the manifest while it
 * streams.  verify_only: discard the bytes (and check the sidecar);
 * otherwise hand them to the source's restore writer (or, for a source
 * not in the config, to a file at target), which is committed only if
 * every check passed.  Runs the loop until done (CLI use).  0 when good;
 * -1 with the reason logged.
 */
int	restore_copy(struct zb_config *, const struct artifact *a,
	    struct restore_opts *);

#endif
