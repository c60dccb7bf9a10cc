/*
 * fuzz_vaultsnap.c - libFuzzer target: the vault plugin's streaming check
 * of a raft snapshot (plugins/vault/snapcheck.c: gunzip, tar headers,
 * pax records, SHA256SUMS).  The first input byte picks the size of the
 * slices the rest is fed in, so that every state of the reader is cut
 * across feeds; a passing archive must expose meta.json.  With
 * ZB_FUZZ_VERBOSE set, the verdict of each input goes to stderr.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "snapcheck.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapcheck	*sc;
	char			 err[256];
	size_t			 slice, off, n, mlen;
	int			 r = 0;

	if (size == 0)
		return 0;
	slice = (size_t)data[0] * 37 + 1;
	data++;
	size--;
	sc = snapcheck_new();
	if (sc == NULL)
		return 0;
	for (off = 0; off < size && r == 0; off += n) {
		n = size - off < slice ? size - off : slice;
		r = snapcheck_feed(sc, data + off, n, err, sizeof(err));
	}
	if (r == 0)
		r = snapcheck_finish(sc, err, sizeof(err));
	if (r == 0 && snapcheck_meta(sc, &mlen) == NULL)
		abort();	/* a passing snapshot has meta.json */
	if (r != 0 && err[0] == '\0')
		abort();	/* a failure always says why */
	if (getenv("ZB_FUZZ_VERBOSE") != NULL)	/* seeing what a seed does */
		fprintf(stderr, "%s\n", r == 0 ? "ok" : err);
	snapcheck_free(sc);
	return 0;
}
