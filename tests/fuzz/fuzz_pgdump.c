/*
 * fuzz_pgdump.c - libFuzzer target: the postgresql source's reading of
 * a pg_dump custom-format archive.  The header check (pg_archive.c):
 * every prefix is fed as the plugin does while the header arrives; a
 * prefix of a complete header must not be refused, and the strings read
 * must be NUL-terminated within bounds.  The row counter (pg_scan.c):
 * what follows a complete header is fed whole, then in slices whose size
 * the input's last byte picks (1 to 8 bytes): both must end the same way
 * (the verdict, the reason, a table's rows).
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Scan p in slices of step bytes (0: whole); the verdict and the rows. */
static int
scan(const struct pg_archive_head *h, const uint8_t *p, size_t n,
    size_t step, long long *rows, char *why, size_t whylen)
{
	struct pg_scan	*s;
	const char	*err;
	size_t		 off, k;
	int		 rc = 0;

	*rows = -2;
	why[0] = '\0';
	s = pg_scan_new(h, &err);
	if (s == NULL)
		return -2;
	for (off = 0; off < n && rc == 0; off += k) {
		k = step == 0 || n - off < step ? n - off : step;
		rc = pg_scan_feed(s, p + off, k);
	}
	if (rc == 0 && pg_scan_end(s) == 1) {
		rc = 1;
		*rows = pg_scan_rows(s, "public", "t");
	}
	strncpy(why, pg_scan_error(s), whylen - 1);
	why[whylen - 1] = '\0';
	pg_scan_free(s);
	return rc;
}

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
	if (full == 1) {
		struct pg_archive_head	 h1;
		long long		 rows1, rows2;
		char			 why1[128], why2[128];
		int			 rc1, rc2;

		if (pg_archive_head(data, lim, &h1, &err) != 1 || h1.len > lim)
			abort();
		rc1 = scan(&h1, data + h1.len, size - h1.len, 0, &rows1, why1,
		    sizeof(why1));
		rc2 = scan(&h1, data + h1.len, size - h1.len,
		    1 + data[size - 1] % 8, &rows2, why2, sizeof(why2));
		if (rc1 != rc2 || rows1 != rows2 || strcmp(why1, why2) != 0)
			abort();	/* the slicing changed the verdict */
	}
	return 0;
}
