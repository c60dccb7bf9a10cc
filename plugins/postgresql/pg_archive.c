/*
 * pg_archive.c - the head of a pg_dump custom-format archive.
 *
 * WriteHead() in pg_backup_archiver.c: "PGDMP", the archive version
 * (major, minor, revision), intSize, offSize, the format (1 = custom),
 * the compression (one byte from archive version 1.15, an Int before),
 * seven Ints of creation time, then three strings: the database name,
 * the server version and pg_dump's version.  An Int is a sign byte and
 * intSize bytes, least significant first; a string an Int length (-1
 * for none) and the bytes.
 */
#include "zb-build.h"

#include <stdio.h>
#include <string.h>

#include "pg.h"

struct rd {
	const unsigned char	*p;
	size_t			 len, off;
	int			 intsize;
};

/* 1: read, 0: need more, -1: bad. */
static int
rd_int(struct rd *r, long long *out)
{
	unsigned long long	 v = 0;
	int			 i, sign;

	if (r->off + 1 + (size_t)r->intsize > r->len)
		return 0;
	sign = r->p[r->off++];
	for (i = 0; i < r->intsize; i++)
		v |= (unsigned long long)r->p[r->off++] << (8 * i);
	if (sign > 1 || v > (1ULL << 40))
		return -1;
	*out = sign ? -(long long)v : (long long)v;
	return 1;
}

static int
rd_str(struct rd *r, char *dst, size_t dstlen)
{
	long long	 n;
	int		 rc;

	rc = rd_int(r, &n);
	if (rc != 1)
		return rc;
	if (n < 0) {
		dst[0] = '\0';
		return 1;
	}
	if ((size_t)n >= dstlen)
		return -1;
	if (r->off + (size_t)n > r->len)
		return 0;
	memcpy(dst, r->p + r->off, (size_t)n);
	dst[n] = '\0';
	r->off += (size_t)n;
	return 1;
}

int
pg_archive_head(const unsigned char *p, size_t len,
    struct pg_archive_head *h, const char **err)
{
	struct rd	 r = { p, len, 0, 0 };
	long long	 v;
	int		 i, rc, offsize;

	*err = "not a pg_dump custom-format archive (no PGDMP header)";
	if (len < 5)
		return memcmp(p, "PGDMP", len) == 0 ? 0 : -1;
	if (memcmp(p, "PGDMP", 5) != 0)
		return -1;
	if (len < 11)
		return 0;
	h->vmaj = p[5];
	h->vmin = p[6];
	h->vrev = p[7];
	r.intsize = h->intsize = p[8];
	offsize = h->offsize = p[9];
	h->format = p[10];
	r.off = 11;
	*err = "unsupported pg_dump archive version or layout";
	if (h->vmaj != 1 || h->vmin < 10 || r.intsize < 4 || r.intsize > 8 ||
	    offsize < 4 || offsize > 8)
		return -1;
	if (h->format != 1) {
		*err = "not a custom-format archive (pg_dump -Fc)";
		return -1;
	}
	if (h->vmin >= 15) {
		if (r.off + 1 > len)
			return 0;
		h->compressed = p[r.off++] != 0;	/* the algorithm */
	} else {
		rc = rd_int(&r, &v);
		if (rc != 1)
			return rc;
		h->compressed = v != 0;		/* the level; -1: default */
	}
	for (i = 0; i < 7; i++) {
		rc = rd_int(&r, &v);
		if (rc != 1)
			return rc;
	}
	*err = "malformed pg_dump archive header";
	rc = rd_str(&r, h->dbname, sizeof(h->dbname));
	if (rc == 1)
		rc = rd_str(&r, h->server_version, sizeof(h->server_version));
	if (rc == 1)
		rc = rd_str(&r, h->dump_version, sizeof(h->dump_version));
	h->len = r.off;
	return rc;
}
