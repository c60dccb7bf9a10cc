/*
 * test_pg_archive.c - the custom-format header check of the postgresql
 * source (plugins/postgresql/pg_archive.c), on headers built byte by byte
 * as pg_dump's WriteHead() writes them.
 */
#include "zb-build.h"

#include <string.h>

#include <criterion/criterion.h>

#include "pg.h"

struct hb {
	unsigned char	 b[512];
	size_t		 n;
	int		 intsize;
};

static void
put_int(struct hb *h, long long v)
{
	int	 i;

	h->b[h->n++] = v < 0;
	if (v < 0)
		v = -v;
	for (i = 0; i < h->intsize; i++, v >>= 8)
		h->b[h->n++] = (unsigned char)(v & 0xff);
}

static void
put_str(struct hb *h, const char *s)
{
	if (s == NULL) {
		put_int(h, -1);
		return;
	}
	put_int(h, (long long)strlen(s));
	memcpy(h->b + h->n, s, strlen(s));
	h->n += strlen(s);
}

/* A header of archive version 1.vmin, custom format unless told. */
static void
build(struct hb *h, int vmin, int format)
{
	int	 i;

	memset(h, 0, sizeof(*h));
	h->intsize = 4;
	memcpy(h->b, "PGDMP", 5);
	h->b[5] = 1;
	h->b[6] = (unsigned char)vmin;
	h->b[7] = 0;
	h->b[8] = 4;		/* intSize */
	h->b[9] = 8;		/* offSize */
	h->b[10] = (unsigned char)format;
	h->n = 11;
	if (vmin >= 15)
		h->b[h->n++] = 0;	/* compression algorithm: none */
	else
		put_int(h, -1);		/* compression level: default */
	for (i = 0; i < 7; i++)
		put_int(h, i == 5 ? 126 : i);	/* struct tm */
	put_str(h, "shop");
	put_str(h, "15.18 (Debian 15.18-0+deb12u1)");
	put_str(h, "15.18 (Debian 15.18-0+deb12u1)");
}

Test(pg_archive, pg15_header)
{
	struct pg_archive_head	 a;
	struct hb		 h;
	const char		*err;

	build(&h, 14, 1);
	cr_assert_eq(pg_archive_head(h.b, h.n, &a, &err), 1);
	cr_assert_eq(a.vmaj, 1);
	cr_assert_eq(a.vmin, 14);
	cr_assert_str_eq(a.dbname, "shop");
	cr_assert_str_eq(a.dump_version, "15.18 (Debian 15.18-0+deb12u1)");
}

Test(pg_archive, pg16_compression_byte)
{
	struct pg_archive_head	 a;
	struct hb		 h;
	const char		*err;

	build(&h, 15, 1);
	cr_assert_eq(pg_archive_head(h.b, h.n, &a, &err), 1);
	cr_assert_str_eq(a.server_version, "15.18 (Debian 15.18-0+deb12u1)");
}

Test(pg_archive, every_prefix_wants_more)
{
	struct pg_archive_head	 a;
	struct hb		 h;
	const char		*err;
	size_t			 i;

	build(&h, 14, 1);
	for (i = 0; i < h.n; i++)
		cr_assert_eq(pg_archive_head(h.b, i, &a, &err), 0,
		    "prefix of %zu bytes", i);
}

Test(pg_archive, refused)
{
	struct pg_archive_head	 a;
	struct hb		 h;
	const char		*err;

	cr_assert_eq(pg_archive_head((const unsigned char *)"PGDMX", 5, &a,
	    &err), -1);
	cr_assert_eq(pg_archive_head((const unsigned char *)"-- SQL", 6, &a,
	    &err), -1);
	build(&h, 14, 3);	/* tar */
	cr_assert_eq(pg_archive_head(h.b, h.n, &a, &err), -1);
	cr_assert(strstr(err, "custom") != NULL);
	build(&h, 14, 1);
	h.b[5] = 2;		/* archive major 2 */
	cr_assert_eq(pg_archive_head(h.b, h.n, &a, &err), -1);
	build(&h, 14, 1);
	h.b[8] = 99;		/* intSize */
	cr_assert_eq(pg_archive_head(h.b, h.n, &a, &err), -1);
}

Test(pg_archive, long_string_refused)
{
	struct pg_archive_head	 a;
	struct hb		 h;
	const char		*err;
	char			 name[300];
	int			 i;

	memset(&h, 0, sizeof(h));
	build(&h, 14, 1);
	h.n = 11 + 5 + 7 * 5;	/* up to the dbname */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	put_str(&h, name);
	for (i = 0; i < 2; i++)
		put_str(&h, "15");
	cr_assert_eq(pg_archive_head(h.b, h.n, &a, &err), -1);
}
