/*
 * fuzz_pgdump.c - libFuzzer target: the postgresql source's check of a
 * pg_dump custom-format header.  Every prefix is fed as the plugin does
 * while the header arrives; a prefix of a complete header must not be
 * refused, and the strings read must be NUL-terminated within bounds.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_archive_head	 h;
	const char		*err;
	size_t			 n, lim = size < PG_ARCHIVE_HEAD_MAX ? size :
	    PG_ARCHIVE_HEAD_MAX;
	int			 r, full;

	full = pg_archive_head(data, lim, &h, &err);
	for (n = 0; n < lim; n++) {
		r = pg_archive_head(data, n, &h, &err);
		if (r == 1 && full != 1)
			abort();	/* a prefix complete, the whole not */
		if (r == -1 && full != -1)
			abort();	/* refused early, accepted later */
		if (r == 1 && (strlen(h.dbname) >= sizeof(h.dbname) ||
		    strlen(h.dump_version) >= sizeof(h.dump_version)))
			abort();
	}
	return 0;
}
