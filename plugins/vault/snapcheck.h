/*
 * snapcheck.h - a streaming check of a Vault/OpenBao raft snapshot: the
 * gzip'd tar of meta.json, state.bin and SHA256SUMS (and optionally
 * SHA256SUMS.sealed), fed in pieces as they arrive.  Pure: no I/O, no
 * host; fuzzed by tests/fuzz/fuzz_vaultsnap.c.
 */
#ifndef ZB_SNAPCHECK_H
#define ZB_SNAPCHECK_H

#include <stddef.h>
#include <stdint.h>

#define SNAPCHECK_META_MAX	(1024 * 1024)	/* meta.json kept for facts */

struct snapcheck;

struct snapcheck	*snapcheck_new(void);
void			 snapcheck_free(struct snapcheck *);
/*
 * Feed n compressed bytes.  0, or -1 with a message in err (errlen
 * bytes): the archive is broken, and every later call fails the same.
 */
int			 snapcheck_feed(struct snapcheck *,
			    const unsigned char *, size_t, char *, size_t);
/*
 * The body ended: 0 when the gzip stream ended, the tar was complete
 * and every entry is there with the sum SHA256SUMS gives it; else -1
 * with a message.
 */
int			 snapcheck_finish(struct snapcheck *, char *, size_t);
/* After a successful finish: meta.json's bytes, and state.bin's size. */
const char		*snapcheck_meta(const struct snapcheck *, size_t *);
uint64_t		 snapcheck_state_size(const struct snapcheck *);

#endif
