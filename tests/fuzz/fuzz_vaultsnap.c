/*
 * fuzz_vaultsnap.c - libFuzzer target: the vault plugin's streaming check
 * of a raft snapshot (plugins/vault/snapcheck.c: gunzip, tar headers,
 * pax records, SHA256SUMS).  The first input byte picks the size of the
 * slices the rest is fed in, so that every state of the reader is cut
 * across feeds; with its high bit set, the rest is a tar that the
 * harness gzips first, so that mutations reach the tar reader and the
 * SHA256SUMS parser past the gzip CRC.  A passing archive must expose
 * meta.json.  With
 * ZB_FUZZ_VERBOSE set, the verdict of each input goes to stderr.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "snapcheck.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* gzip in[0..n) into a fresh buffer; NULL on failure. */
static unsigned char *
gzip_of(const uint8_t *in, size_t n, size_t *outlen)
{
	z_stream	 zs;
	unsigned char	*out;
	size_t		 cap;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&zs, n) + 32;
	out = malloc(cap);
	if (out == NULL) {
		deflateEnd(&zs);
		return NULL;
	}
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&zs);
		free(out);
		return NULL;
	}
	*outlen = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapcheck	*sc;
	unsigned char		*gz = NULL;
	char			 err[256];
	size_t			 slice, off, n, mlen;
	int			 r = 0;

	if (size == 0)
		return 0;
	slice = (size_t)(data[0] & 0x7f) * 37 + 1;
	if (data[0] & 0x80) {
		gz = gzip_of(data + 1, size - 1, &size);
		if (gz == NULL)
			return 0;
		data = gz;
	} else {
		data++;
		size--;
	}
	sc = snapcheck_new();
	if (sc == NULL) {
		free(gz);
		return 0;
	}
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
	free(gz);
	return 0;
}
