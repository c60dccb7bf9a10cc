/*
 * restore.h - reading an artifact back: verify, restore, test-restore.
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
};

struct restore_result {
	int		 status;	/* 0 good, -1 failed */
	char		*error;		/* why it failed (also logged), or
					   NULL; freed after the callback */
	uint64_t	 elapsed_ms;	/* from restore_start to the end */
	uint64_t	 restore_ms;	/* the read itself (test-restore:
					   the measured restore time) */
	uint64_t	 peak_buffered;	/* the largest buffer use of the
					   read, and its budget */
	uint64_t	 budget;
};

typedef void (*restore_done_fn)(void *arg, const struct restore_result *);

/*
 * Start reading one copy (a->sink) back through the stream core, checking
 * its stored and plaintext SHA-256 and sizes against the manifest while it
 * streams.  verify_only: discard the bytes (after checking the .sha256
 * sidecar); otherwise hand them to the source's restore writer (test: its
 * scratch restore; a source not in the config: a file at target), which
 * is committed only if every check passed.  done is called on the loop,
 * never from inside this call; a, o and what they point to must stay
 * valid until then.  The first SIGINT/SIGTERM aborts the read (the
 * target is not completed).
 */
void	restore_start(struct zb_config *, const struct artifact *a,
	    const struct restore_opts *o, restore_done_fn, void *arg);

#endif
