/*
 * fuzz_qdrant.c - libFuzzer target: the qdrant plugin's reading of
 * Qdrant's JSON envelope and the answers in it (plugins/qdrant/
 * qdrant_json.c), which come from the network, through the host's JSON
 * reader.  What it returns must be within its bounds: a snapshot name
 * without '/', a checksum of 64 lowercase hex digits or none, a size and
 * a points count not negative, a vector config that is text of the input.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "qdrant.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct zb_host_api *h = hostapi_get();
	const char	*p = (const char *)data;
	struct qd_snap	 sn;
	struct qd_info	 in;
	char		 err[1024], ver[128];
	char		**names;
	size_t		 n, i;

	if (qj_envelope(h, p, size, err, sizeof(err)) != ZB_OK &&
	    strlen(err) >= sizeof(err))
		abort();
	(void)qj_true(h, p, size, err, sizeof(err));
	if (qj_version(h, p, size, ver, sizeof(ver), err, sizeof(err)) ==
	    ZB_OK && ver[0] == '\0')
		abort();
	if (qj_snapshot(h, p, size, &sn, err, sizeof(err)) == ZB_OK) {
		if (sn.name[0] == '\0' || strchr(sn.name, '/') != NULL ||
		    sn.size < 0)
			abort();
		n = strlen(sn.checksum);
		if (n != 0 && n != 64)
			abort();
		for (i = 0; i < n; i++)
			if (strchr("0123456789abcdef", sn.checksum[i]) == NULL)
				abort();
	}
	if (qj_info(h, p, size, &in, err, sizeof(err)) == ZB_OK) {
		if (in.points < -1)
			abort();
		if (in.vectors != NULL && (strlen(in.vectors) > size ||
		    memmem(data, size, in.vectors, strlen(in.vectors)) ==
		    NULL))
			abort();
		qj_info_clear(&in);
	}
	if (qj_collections(h, p, size, &names, &n, err, sizeof(err)) ==
	    ZB_OK) {
		for (i = 0; i < n; i++)
			if (names[i][0] == '\0' || strlen(names[i]) > 255)
				abort();
		qj_names_free(names, n);
	}
	return 0;
}
