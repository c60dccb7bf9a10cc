/*
 * test_pg_scan.c - the row counter of the postgresql source
 * (plugins/postgresql/pg_scan.c), on custom-format archives built byte by
 * byte as pg_dump writes them to a pipe: the head (WriteHead()), the TOC
 * (WriteToc()) and the data blocks (WriteDataChunks()), fed whole, byte
 * by byte, split anywhere, in the archive versions it reads, and broken
 * in the ways it must refuse.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pg.h"

#define COPY_END	"\\.\n\n\n"
#define NOERR		"no error"

/* An archive being built: intSize 4, offSize 8, custom format. */
struct ab {
	unsigned char	*b;
	size_t		 n, cap;
	size_t		 headlen;	/* bytes of the head: the TOC follows */
	int		 vmin;
	size_t		 cuts[16];	/* where a whole archive may end */
	int		 ncuts;
};

static void
put(struct ab *a, const void *p, size_t len)
{
	unsigned char	*nb;
	size_t		 ncap;

	if (a->n + len > a->cap) {
		ncap = a->cap ? a->cap : 1024;
		while (ncap < a->n + len)
			ncap *= 2;
		nb = realloc(a->b, ncap);
		cr_assert_not_null(nb);
		a->b = nb;
		a->cap = ncap;
	}
	if (len > 0)
		memcpy(a->b + a->n, p, len);
	a->n += len;
}

static void
put_byte(struct ab *a, int c)
{
	unsigned char	 b = (unsigned char)c;

	put(a, &b, 1);
}

static void
put_int(struct ab *a, long long v)
{
	unsigned char	 b[5];
	int		 i;

	b[0] = v < 0;
	if (v < 0)
		v = -v;
	for (i = 1; i < 5; i++, v >>= 8)
		b[i] = (unsigned char)(v & 0xff);
	put(a, b, sizeof(b));
}

static void
put_str(struct ab *a, const char *s)
{
	if (s == NULL) {
		put_int(a, -1);
		return;
	}
	put_int(a, (long long)strlen(s));
	put(a, s, strlen(s));
}

static void
ab_free(struct ab *a)
{
	free(a->b);
	memset(a, 0, sizeof(*a));
}

/*
 * The head of archive version 1.vmin.  comp: the compression byte from
 * 1.15 on (0: none), the compression level before (0: none, -1: default).
 */
static void
start(struct ab *a, int vmin, int comp)
{
	int	 i;

	memset(a, 0, sizeof(*a));
	a->vmin = vmin;
	put(a, "PGDMP", 5);
	put_byte(a, 1);
	put_byte(a, vmin);
	put_byte(a, 0);
	put_byte(a, 4);		/* intSize */
	put_byte(a, 8);		/* offSize */
	put_byte(a, 1);		/* custom */
	if (vmin >= 15)
		put_byte(a, comp);
	else
		put_int(a, comp);
	for (i = 0; i < 7; i++)
		put_int(a, i == 5 ? 126 : i);	/* struct tm */
	put_str(a, "shop");
	put_str(a, "15.18 (Debian 15.18-0+deb12u1)");
	put_str(a, "15.18 (Debian 15.18-0+deb12u1)");
	a->headlen = a->n;
}

/* One TOC entry, as WriteToc() writes it for this archive version. */
static void
entry(struct ab *a, int id, const char *desc, const char *nsp,
    const char *tag, const char *copy)
{
	char	 dep[16];
	int	 data, blobs, table, i;

	blobs = desc != NULL && strcmp(desc, "BLOBS") == 0;
	data = blobs || (desc != NULL && strcmp(desc, "TABLE DATA") == 0);
	table = desc != NULL && strncmp(desc, "TABLE", 5) == 0;
	put_int(a, id);
	put_int(a, data);			/* hadDumper */
	put_str(a, table ? "1259" : "0");	/* tableoid */
	put_str(a, "16390");			/* oid */
	put_str(a, tag);
	put_str(a, desc);
	put_int(a, data ? 3 : 2);		/* section */
	put_str(a, data ? "" : "CREATE SOMETHING;\n");
	put_str(a, data ? "" : "DROP SOMETHING;\n");
	put_str(a, copy);
	put_str(a, nsp);
	put_str(a, "");				/* tablespace */
	if (a->vmin >= 14)
		put_str(a, table ? "heap" : "");	/* tableam */
	if (a->vmin >= 16)
		put_int(a, table ? 'r' : 0);	/* relkind */
	put_str(a, "alice");			/* owner */
	put_str(a, "false");			/* withOids */
	if (data) {
		for (i = 3; i <= 4; i++) {
			snprintf(dep, sizeof(dep), "%d", i);
			put_str(a, dep);
		}
	}
	put_str(a, NULL);
	/* the data position: not set (a pipe), set, or no data */
	put_byte(a, blobs ? 2 : data ? 1 : 3);
	for (i = 0; i < 8; i++)
		put_byte(a, blobs ? 0x10 * (i + 1) : 0);
}

static void
chunk(struct ab *a, const void *p, size_t len)
{
	put_int(a, (long long)len);
	put(a, p, len);
}

/* A table data block: its chunks as given (NULL-terminated). */
static void
block(struct ab *a, int id, const char *const *chunks)
{
	int	 i;

	put_byte(a, 1);
	put_int(a, id);
	for (i = 0; chunks[i] != NULL; i++)
		chunk(a, chunks[i], strlen(chunks[i]));
	put_int(a, 0);
}

/* A table data block as pg_dump writes it: a chunk per row, then the end. */
static void
rows_block(struct ab *a, int id, const char *rows)
{
	const char	*p, *nl;

	put_byte(a, 1);
	put_int(a, id);
	for (p = rows; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		cr_assert_not_null(nl);
		chunk(a, p, (size_t)(nl + 1 - p));
	}
	chunk(a, COPY_END, strlen(COPY_END));
	put_int(a, 0);
}

/* Two large objects, their bytes with newlines (and a COPY end look-alike). */
static void
blobs_block(struct ab *a, int id)
{
	static const unsigned char	 bin[] = { 0, '\n', '\n', 0xff, 1, '\n' };

	put_byte(a, 3);
	put_int(a, id);
	put_int(a, 16400);
	chunk(a, "one\ntwo\n\\.\n\n\n", 13);
	put_int(a, 0);
	put_int(a, 16401);
	chunk(a, bin, sizeof(bin));
	chunk(a, "\n", 1);
	put_int(a, 0);
	put_int(a, 0);
}

#define ITEMS_ROWS	"1\tapple\n2\tline one\\nline two\n3\t\\N\n4\t\n"
#define ITEMS_N		4
#define LINES_ROWS	"7\n\n8\n9\n10\n"
#define LINES_N		5
#define NOCOLS_ROWS	"\n\n\n"
#define NOCOLS_N	3

static void
cut_here(struct ab *a)
{
	cr_assert_lt(a->ncuts, 16);
	a->cuts[a->ncuts++] = a->n;
}

/*
 * 3 tables in 2 schemas, a TABLE, a SEQUENCE SET and a BLOBS entry with
 * two large objects; dump ids not in the TOC's order, as pg_dump's are.
 */
static void
std_archive(struct ab *a, int vmin, int comp)
{
	start(a, vmin, comp);
	put_int(a, 7);
	entry(a, 1, "SCHEMA", NULL, "my schema.v2", NULL);
	entry(a, 2, "TABLE", "public", "items", NULL);
	entry(a, 3, "SEQUENCE SET", "public", "items_id_seq", NULL);
	entry(a, 40, "TABLE DATA", "public", "items",
	    "COPY public.items (id, name) FROM stdin;\n");
	entry(a, 12, "TABLE DATA", "my schema.v2", "order.lines x",
	    "COPY \"my schema.v2\".\"order.lines x\" (n) FROM stdin;\n");
	entry(a, 30, "BLOBS", NULL, "BLOBS", NULL);
	entry(a, 25, "TABLE DATA", "public", "nocols",
	    "COPY public.nocols  FROM stdin;\n");
	cut_here(a);
	rows_block(a, 40, ITEMS_ROWS);
	cut_here(a);
	rows_block(a, 12, LINES_ROWS);
	cut_here(a);
	blobs_block(a, 30);
	cut_here(a);
	rows_block(a, 25, NOCOLS_ROWS);
	cut_here(a);
}

static void
check_std(struct pg_scan *s, const char *how)
{
	cr_assert_eq(pg_scan_rows(s, "public", "items"), ITEMS_N, "%s", how);
	cr_assert_eq(pg_scan_rows(s, "public", "nocols"), NOCOLS_N, "%s",
	    how);
	cr_assert_eq(pg_scan_rows(s, "my schema.v2", "order.lines x"),
	    LINES_N, "%s", how);
	cr_assert_eq(pg_scan_rows(s, "public", "missing"), -1, "%s", how);
	cr_assert_eq(pg_scan_rows(s, "my schema", "v2.order.lines x"), -1,
	    "%s", how);
	cr_assert_eq(pg_scan_rows(s, "my schema.v2", "items"), -1, "%s",
	    how);
	cr_assert_eq(pg_scan_rows(s, "public", "items_id_seq"), -1, "%s",
	    how);
	cr_assert_eq(pg_scan_rows(s, "public", "BLOBS"), -1, "%s", how);
}

/* Parse the head (it must be whole and end where built), then a scanner. */
static struct pg_scan *
open_scan(struct ab *a)
{
	struct pg_archive_head	 h;
	struct pg_scan		*s;
	const char		*err = NULL, *why = NULL;

	memset(&h, 0, sizeof(h));
	cr_assert_eq(pg_archive_head(a->b, a->n, &h, &err), 1, "%s", err);
	cr_assert_eq(h.len, a->headlen);
	cr_assert_eq(h.compressed, 0);
	s = pg_scan_new(&h, &why);
	cr_assert_not_null(s, "%s", why != NULL ? why : "(null)");
	return s;
}

/* Feed bytes [headlen, len) in one go. */
static struct pg_scan *
scan_prefix(struct ab *a, size_t len, int *feed)
{
	struct pg_scan	*s;

	s = open_scan(a);
	*feed = pg_scan_feed(s, a->b + a->headlen, len - a->headlen);
	return s;
}

static struct pg_scan *
scan_whole(struct ab *a)
{
	struct pg_scan	*s;
	int		 rc;

	s = scan_prefix(a, a->n, &rc);
	cr_assert_eq(rc, 0, "%s", pg_scan_error(s));
	cr_assert_eq(pg_scan_end(s), 1, "%s", pg_scan_error(s));
	cr_assert_str_eq(pg_scan_error(s), NOERR);
	return s;
}

/* The scan of the whole archive fails, in pg_scan_feed, with a reason. */
static void
expect_refused(struct ab *a, const char *what)
{
	struct pg_scan	*s;
	int		 rc;

	s = scan_prefix(a, a->n, &rc);
	cr_assert_eq(rc, -1, "%s: fed without error", what);
	cr_assert_str_neq(pg_scan_error(s), NOERR, "%s", what);
	cr_assert_eq(pg_scan_feed(s, (const unsigned char *)"\0", 1), -1,
	    "%s: fed after a failure", what);
	cr_assert_eq(pg_scan_end(s), 0, "%s", what);
	cr_assert_str_neq(pg_scan_error(s), NOERR, "%s", what);
	pg_scan_free(s);
}

/* The archive ends after len bytes: fed fine, but incomplete. */
static void
expect_cut(struct ab *a, size_t len, const char *what)
{
	struct pg_scan	*s;
	int		 rc;

	cr_assert_gt(len, a->headlen);
	cr_assert_lt(len, a->n);
	s = scan_prefix(a, len, &rc);
	cr_assert_eq(rc, 0, "%s: %s", what, pg_scan_error(s));
	cr_assert_str_eq(pg_scan_error(s), NOERR, "%s", what);
	cr_assert_eq(pg_scan_end(s), 0, "%s: complete", what);
	cr_assert_str_neq(pg_scan_error(s), NOERR, "%s", what);
	cr_assert_eq(pg_scan_rows(s, "public", "t"), -1, "%s", what);
	pg_scan_free(s);
}

/* One table, public.t (dump id 5), its data block in the chunks given. */
static void
one_table(struct ab *a, const char *const *chunks)
{
	start(a, 14, 0);
	put_int(a, 1);
	entry(a, 5, "TABLE DATA", "public", "t",
	    "COPY public.t (a) FROM stdin;\n");
	block(a, 5, chunks);
}

Test(pg_scan, pg15_archive)
{
	struct ab	 a;
	struct pg_scan	*s;

	std_archive(&a, 14, 0);
	s = scan_whole(&a);
	check_std(s, "whole");
	pg_scan_free(s);
	ab_free(&a);
}

Test(pg_scan, byte_by_byte)
{
	struct ab	 a;
	struct pg_scan	*s;
	size_t		 i;

	std_archive(&a, 14, 0);
	s = open_scan(&a);
	for (i = a.headlen; i < a.n; i++)
		cr_assert_eq(pg_scan_feed(s, a.b + i, 1), 0, "byte %zu: %s",
		    i, pg_scan_error(s));
	cr_assert_eq(pg_scan_end(s), 1, "%s", pg_scan_error(s));
	check_std(s, "byte by byte");
	pg_scan_free(s);
	ab_free(&a);
}

Test(pg_scan, every_split)
{
	struct ab	 a;
	struct pg_scan	*s;
	size_t		 i;
	char		 how[64];

	std_archive(&a, 14, 0);
	for (i = a.headlen; i <= a.n; i++) {
		snprintf(how, sizeof(how), "split at %zu", i);
		s = open_scan(&a);
		cr_assert_eq(pg_scan_feed(s, a.b + a.headlen, i - a.headlen), 0,
		    "%s: %s", how, pg_scan_error(s));
		cr_assert_eq(pg_scan_feed(s, a.b + i, a.n - i), 0, "%s: %s",
		    how, pg_scan_error(s));
		cr_assert_eq(pg_scan_end(s), 1, "%s: %s", how,
		    pg_scan_error(s));
		check_std(s, how);
		pg_scan_free(s);
	}
	ab_free(&a);
}

/* Ended anywhere, the archive is complete only after the TOC or a block. */
Test(pg_scan, every_prefix)
{
	struct ab	 a;
	struct pg_scan	*s;
	size_t		 len;
	int		 i, rc, whole;

	std_archive(&a, 14, 0);
	cr_assert_eq(a.cuts[a.ncuts - 1], a.n);
	for (len = a.headlen; len <= a.n; len++) {
		whole = 0;
		for (i = 0; i < a.ncuts; i++)
			if (a.cuts[i] == len)
				whole = 1;
		s = scan_prefix(&a, len, &rc);
		cr_assert_eq(rc, 0, "%zu bytes: %s", len, pg_scan_error(s));
		cr_assert_eq(pg_scan_end(s), whole, "%zu bytes", len);
		if (!whole)
			cr_assert_str_neq(pg_scan_error(s), NOERR);
		/* a table whose block did not end is not counted */
		if (len < a.cuts[1])
			cr_assert_eq(pg_scan_rows(s, "public", "items"), -1);
		if (len < a.n)
			cr_assert_eq(pg_scan_rows(s, "public", "nocols"), -1);
		if (whole && len >= a.cuts[1])
			cr_assert_eq(pg_scan_rows(s, "public", "items"),
			    ITEMS_N);
		pg_scan_free(s);
	}
	ab_free(&a);
}

Test(pg_scan, versions)
{
	static const int	 vmins[] = { 12, 13, 14, 15, 16 };
	struct ab		 a;
	struct pg_scan		*s;
	size_t			 i;
	char			 how[32];

	for (i = 0; i < sizeof(vmins) / sizeof(vmins[0]); i++) {
		snprintf(how, sizeof(how), "archive 1.%d", vmins[i]);
		std_archive(&a, vmins[i], 0);
		s = scan_whole(&a);
		check_std(s, how);
		pg_scan_free(s);
		ab_free(&a);
	}
}

Test(pg_scan, versions_refused)
{
	static const int	 vmins[] = { 11, 17 };
	struct pg_archive_head	 h;
	struct ab		 a;
	const char		*err, *why;
	size_t			 i;

	for (i = 0; i < sizeof(vmins) / sizeof(vmins[0]); i++) {
		std_archive(&a, vmins[i], 0);
		memset(&h, 0, sizeof(h));
		cr_assert_eq(pg_archive_head(a.b, a.n, &h, &err), 1);
		cr_assert_eq(h.len, a.headlen);
		cr_assert_eq(h.vmin, vmins[i]);
		why = NULL;
		cr_assert_null(pg_scan_new(&h, &why), "1.%d", vmins[i]);
		cr_assert_not_null(why);
		cr_assert_neq(why[0], '\0');
		ab_free(&a);
	}
}

Test(pg_scan, compressed_refused)
{
	static const struct {
		int	 vmin, comp;
	}			 c[] = {
		{ 14, -1 }, { 14, 6 }, { 12, 9 }, { 15, 1 }, { 15, 2 },
		{ 16, 3 }
	};
	struct pg_archive_head	 h;
	struct ab		 a;
	const char		*err, *why;
	size_t			 i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		std_archive(&a, c[i].vmin, c[i].comp);
		memset(&h, 0, sizeof(h));
		cr_assert_eq(pg_archive_head(a.b, a.n, &h, &err), 1);
		cr_assert_eq(h.len, a.headlen);
		cr_assert_neq(h.compressed, 0);
		why = NULL;
		cr_assert_null(pg_scan_new(&h, &why), "1.%d compression %d",
		    c[i].vmin, c[i].comp);
		cr_assert_not_null(why);
		cr_assert_neq(why[0], '\0');
		ab_free(&a);
	}
}

/* The end mark alone, and split across chunks anywhere. */
Test(pg_scan, empty_table_and_split_end)
{
	static const char *const	 empty[] = { COPY_END, NULL };
	static const char *const	 split1[] = { "1\n2\n\\", ".\n\n\n",
	    NULL };
	static const char *const	 split2[] = { "1\n2\n\\.\n\n", "\n",
	    NULL };
	static const char *const	 split3[] = { "1\n", "2\n\\.", "\n",
	    "\n\n", NULL };
	static const char *const	 bytes[] = { "a", "\n", "\n", "b",
	    "\n", "\\", ".", "\n", "\n", "\n", NULL };
	static const char *const	 one[] = { "x\ny\nz\n\\.\n\n\n", NULL };
	struct ab			 a;
	struct pg_scan			*s;

	start(&a, 14, 0);
	put_int(&a, 6);
	entry(&a, 1, "TABLE DATA", "public", "empty",
	    "COPY public.empty (a) FROM stdin;\n");
	entry(&a, 2, "TABLE DATA", "public", "split1",
	    "COPY public.split1 (a) FROM stdin;\n");
	entry(&a, 3, "TABLE DATA", "public", "split2",
	    "COPY public.split2 (a) FROM stdin;\n");
	entry(&a, 4, "TABLE DATA", "public", "split3",
	    "COPY public.split3 (a) FROM stdin;\n");
	entry(&a, 5, "TABLE DATA", "public", "bytes",
	    "COPY public.bytes (a) FROM stdin;\n");
	entry(&a, 6, "TABLE DATA", "public", "one",
	    "COPY public.one (a) FROM stdin;\n");
	block(&a, 1, empty);
	block(&a, 2, split1);
	block(&a, 3, split2);
	block(&a, 4, split3);
	block(&a, 5, bytes);
	block(&a, 6, one);
	s = scan_whole(&a);
	cr_assert_eq(pg_scan_rows(s, "public", "empty"), 0);
	cr_assert_eq(pg_scan_rows(s, "public", "split1"), 2);
	cr_assert_eq(pg_scan_rows(s, "public", "split2"), 2);
	cr_assert_eq(pg_scan_rows(s, "public", "split3"), 2);
	cr_assert_eq(pg_scan_rows(s, "public", "bytes"), 3);
	cr_assert_eq(pg_scan_rows(s, "public", "one"), 3);
	pg_scan_free(s);
	ab_free(&a);
}

/* Data dumped as INSERT statements has no copyStmt: not counted. */
Test(pg_scan, insert_data_uncounted)
{
	static const char *const	 ins[] = {
	    "INSERT INTO public.ins VALUES (1);\n",
	    "INSERT INTO public.ins VALUES (2);\n", "\n\n", NULL };
	static const char *const	 ins_end[] = { "INSERT 1;\n", COPY_END,
	    NULL };
	struct ab			 a;
	struct pg_scan			*s;

	start(&a, 14, 0);
	put_int(&a, 4);
	entry(&a, 1, "TABLE DATA", "public", "before",
	    "COPY public.before (a) FROM stdin;\n");
	entry(&a, 2, "TABLE DATA", "public", "ins", NULL);
	entry(&a, 3, "TABLE DATA", "public", "ins2", NULL);
	entry(&a, 4, "TABLE DATA", "public", "after",
	    "COPY public.after (a) FROM stdin;\n");
	rows_block(&a, 1, "1\n2\n");
	block(&a, 2, ins);
	block(&a, 3, ins_end);
	rows_block(&a, 4, "1\n2\n3\n");
	s = scan_whole(&a);
	cr_assert_eq(pg_scan_rows(s, "public", "before"), 2);
	cr_assert_eq(pg_scan_rows(s, "public", "ins"), -1);
	cr_assert_eq(pg_scan_rows(s, "public", "ins2"), -1);
	cr_assert_eq(pg_scan_rows(s, "public", "after"), 3);
	pg_scan_free(s);
	ab_free(&a);
}

/* More tables than the scanner's first allocation, ids in no order. */
Test(pg_scan, many_tables)
{
	struct ab	 a;
	struct pg_scan	*s;
	char		 rel[16], stmt[64], rows[16];
	int		 i, j;

	start(&a, 14, 0);
	put_int(&a, 150);
	for (i = 0; i < 150; i++) {
		snprintf(rel, sizeof(rel), "t%03d", i);
		snprintf(stmt, sizeof(stmt), "COPY public.%s (a) FROM stdin;\n",
		    rel);
		entry(&a, i * 37 % 151 + 1, "TABLE DATA", "public", rel, stmt);
	}
	/* the blocks in the TOC's order, the second half backwards */
	for (i = 0; i < 150; i++) {
		j = i < 75 ? i : 224 - i;
		memset(rows, '\n', (size_t)(j % 7));	/* rows of no columns */
		rows[j % 7] = '\0';
		rows_block(&a, j * 37 % 151 + 1, rows);
	}
	s = scan_whole(&a);
	for (i = 0; i < 150; i++) {
		snprintf(rel, sizeof(rel), "t%03d", i);
		cr_assert_eq(pg_scan_rows(s, "public", rel), i % 7, "%s", rel);
	}
	cr_assert_eq(pg_scan_rows(s, "public", "t150"), -1);
	pg_scan_free(s);
	ab_free(&a);
}

/* An empty TOC: complete, nothing counted. */
Test(pg_scan, no_toc_entries)
{
	struct ab	 a;
	struct pg_scan	*s;

	start(&a, 14, 0);
	put_int(&a, 0);
	s = scan_whole(&a);
	cr_assert_eq(pg_scan_rows(s, "public", "t"), -1);
	pg_scan_free(s);
	ab_free(&a);
}

/* A TOC without table data (pg_dump -s): complete, nothing counted. */
Test(pg_scan, no_table_data)
{
	struct ab	 a;
	struct pg_scan	*s;

	start(&a, 14, 0);
	put_int(&a, 2);
	entry(&a, 1, "TABLE", "public", "t", NULL);
	entry(&a, 2, "SEQUENCE SET", "public", "t_id_seq", NULL);
	s = scan_whole(&a);
	cr_assert_eq(pg_scan_rows(s, "public", "t"), -1);
	pg_scan_free(s);
	ab_free(&a);
}

Test(pg_scan, refuse_bad_copy_end)
{
	static const char *const	 no_end[] = { "1\n", "2\n", NULL };
	static const char *const	 short_end[] = { "1\n", "\\.\n\n", NULL };
	static const char *const	 after_end[] = { "1\n\\.\n\n\nx", NULL };
	static const char *const	 extra_nl[] = { COPY_END, "\n", NULL };
	static const char *const	 nothing[] = { NULL };
	static const char *const	*cases[] = { no_end, short_end,
	    after_end, extra_nl, nothing };
	struct ab			 a;
	size_t				 i;
	char				 how[32];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(how, sizeof(how), "case %zu", i);
		one_table(&a, cases[i]);
		expect_refused(&a, how);
		ab_free(&a);
	}
}

Test(pg_scan, refuse_block_type)
{
	static const char *const	 rows[] = { "1\n", COPY_END, NULL };
	struct ab			 a;

	/* type 2 (never written) for an id the TOC does not have */
	one_table(&a, rows);
	put_byte(&a, 2);
	put_int(&a, 6);
	put_int(&a, 0);
	expect_refused(&a, "block type 2");
	ab_free(&a);

	/* type 0 before any block */
	start(&a, 14, 0);
	put_int(&a, 1);
	entry(&a, 5, "TABLE DATA", "public", "t",
	    "COPY public.t (a) FROM stdin;\n");
	put_byte(&a, 0);
	put_int(&a, 5);
	put_int(&a, 0);
	expect_refused(&a, "block type 0");
	ab_free(&a);
}

Test(pg_scan, refuse_cut)
{
	static const char *const	 rows[] = { "1\n", "22222\n", COPY_END,
	    NULL };
	struct ab			 a;
	size_t				 toc_mid, chunk_mid, after_id;

	start(&a, 14, 0);
	put_int(&a, 2);
	entry(&a, 5, "TABLE DATA", "public", "t",
	    "COPY public.t (a) FROM stdin;\n");
	toc_mid = a.n + 12;	/* inside the second entry's tableoid */
	entry(&a, 6, "TABLE", "public", "t", NULL);
	put_byte(&a, 1);
	put_int(&a, 5);
	after_id = a.n;
	chunk(&a, rows[0], strlen(rows[0]));
	chunk_mid = a.n + 5 + 3;	/* inside "22222\n" */
	chunk(&a, rows[1], strlen(rows[1]));
	chunk(&a, rows[2], strlen(rows[2]));
	put_int(&a, 0);

	expect_cut(&a, a.headlen + 2, "in the entry count");
	expect_cut(&a, toc_mid, "in the TOC");
	expect_cut(&a, after_id - 5 - 1 - 3, "in a data position");
	expect_cut(&a, after_id - 2, "in a block's dumpId");
	expect_cut(&a, after_id, "after a block's dumpId");
	expect_cut(&a, after_id + 2, "in a chunk length");
	expect_cut(&a, chunk_mid, "in a chunk");
	expect_cut(&a, a.n - 5, "before the block's end");
	expect_cut(&a, a.n - 1, "in the block's end");
	ab_free(&a);
}

Test(pg_scan, refuse_negative_chunk)
{
	struct ab	 a;

	start(&a, 14, 0);
	put_int(&a, 1);
	entry(&a, 5, "TABLE DATA", "public", "t",
	    "COPY public.t (a) FROM stdin;\n");
	put_byte(&a, 1);
	put_int(&a, 5);
	chunk(&a, "1\n", 2);
	put_int(&a, -3);
	put(&a, "\\.\n", 3);
	put_int(&a, 0);
	expect_refused(&a, "negative chunk length");
	ab_free(&a);
}

Test(pg_scan, refuse_sign_byte)
{
	static const unsigned char	 bad[] = { 2, 2, 0, 0, 0 };
	struct ab			 a;
	size_t				 off;

	/* in the TOC: the entry count */
	start(&a, 14, 0);
	put(&a, bad, sizeof(bad));
	entry(&a, 5, "TABLE", "public", "t", NULL);
	expect_refused(&a, "sign byte 2 in the entry count");
	ab_free(&a);

	/* in the TOC: hadDumper, an Int the scanner does not use */
	start(&a, 14, 0);
	put_int(&a, 1);
	off = a.n;
	entry(&a, 5, "TABLE", "public", "t", NULL);
	cr_assert_eq(a.b[off + 5], 0);
	a.b[off + 5] = 2;
	expect_refused(&a, "sign byte 2 in hadDumper");
	ab_free(&a);

	/* in the data: a chunk length */
	start(&a, 14, 0);
	put_int(&a, 1);
	entry(&a, 5, "TABLE DATA", "public", "t",
	    "COPY public.t (a) FROM stdin;\n");
	put_byte(&a, 1);
	put_int(&a, 5);
	put(&a, bad, sizeof(bad));
	put(&a, "1\n", 2);
	chunk(&a, COPY_END, strlen(COPY_END));
	put_int(&a, 0);
	expect_refused(&a, "sign byte 2 in a chunk length");
	ab_free(&a);
}

Test(pg_scan, refuse_long_tag)
{
	static const char *const	 rows[] = { COPY_END, NULL };
	struct ab			 a;
	char				 tag[301];

	memset(tag, 'x', sizeof(tag) - 1);
	tag[sizeof(tag) - 1] = '\0';
	start(&a, 14, 0);
	put_int(&a, 1);
	entry(&a, 5, "TABLE DATA", "public", tag,
	    "COPY public.t (a) FROM stdin;\n");
	block(&a, 5, rows);
	expect_refused(&a, "tag of 300 bytes");
	ab_free(&a);
}

/* A function's signature is its tag: a long one is no table's name. */
Test(pg_scan, long_function_tag)
{
	static const char *const	 rows[] = { "1\n", "2\n", COPY_END, NULL };
	struct ab			 a;
	struct pg_scan			*s;
	char				 tag[2001];

	memset(tag, 'x', sizeof(tag) - 1);
	tag[sizeof(tag) - 1] = '\0';
	start(&a, 14, 0);
	put_int(&a, 2);
	entry(&a, 4, "FUNCTION", "public", tag, NULL);
	entry(&a, 5, "TABLE DATA", "public", "t",
	    "COPY public.t (a) FROM stdin;\n");
	block(&a, 5, rows);
	s = scan_whole(&a);
	cr_assert_eq(pg_scan_rows(s, "public", "t"), 2);
	pg_scan_free(s);
	ab_free(&a);
}

Test(pg_scan, refuse_repeated_block)
{
	static const char *const	 rows[] = { "1\n", COPY_END, NULL };
	struct ab			 a;

	one_table(&a, rows);
	block(&a, 5, rows);
	expect_refused(&a, "two blocks for one table");
	ab_free(&a);
}

Test(pg_scan, refuse_bad_entry)
{
	static const char *const	 rows[] = { "1\n", COPY_END, NULL };
	struct ab			 a;

	/* no description */
	start(&a, 14, 0);
	put_int(&a, 1);
	entry(&a, 5, NULL, "public", "t", "COPY public.t (a) FROM stdin;\n");
	block(&a, 5, rows);
	expect_refused(&a, "NULL desc");
	ab_free(&a);

	/* table data without a schema */
	start(&a, 14, 0);
	put_int(&a, 1);
	entry(&a, 5, "TABLE DATA", NULL, "t",
	    "COPY public.t (a) FROM stdin;\n");
	block(&a, 5, rows);
	expect_refused(&a, "NULL namespace");
	ab_free(&a);

	/* dump id 0 */
	start(&a, 14, 0);
	put_int(&a, 1);
	entry(&a, 0, "TABLE", "public", "t", NULL);
	expect_refused(&a, "dump id 0");
	ab_free(&a);

	/* a negative entry count */
	start(&a, 14, 0);
	put_int(&a, -1);
	expect_refused(&a, "negative entry count");
	ab_free(&a);
}

/*
 * "COPY public.rel (c0000, c0001, ..., cxxx) FROM stdin;\n" of exactly
 * want bytes, into buf.
 */
static void
copy_stmt(char *buf, size_t cap, const char *rel, size_t want)
{
	static const char	 tail[] = ") FROM stdin;\n";
	size_t			 len;
	int			 c;

	cr_assert_lt(want, cap);
	len = (size_t)snprintf(buf, cap, "COPY public.%s (", rel);
	for (c = 0; len + 7 + 1 + sizeof(tail) - 1 <= want; c++)
		len += (size_t)snprintf(buf + len, cap - len, "c%04d, ", c);
	buf[len++] = 'c';
	while (len < want - (sizeof(tail) - 1))
		buf[len++] = 'x';
	memcpy(buf + len, tail, sizeof(tail));
	cr_assert_eq(strlen(buf), want);
}

/* A wide column list: a copyStmt longer than the scanner keeps of it. */
Test(pg_scan, long_copy_stmt)
{
	static const size_t	 lens[] = { 254, 255, 256, 257, 258, 2400 };
	struct ab		 a;
	struct pg_scan		*s;
	char			 stmt[4096], rel[16], rows[64];
	size_t			 i, j;

	start(&a, 14, 0);
	put_int(&a, 6);
	for (i = 0; i < 6; i++) {
		snprintf(rel, sizeof(rel), "w%zu", lens[i]);
		copy_stmt(stmt, sizeof(stmt), rel, lens[i]);
		entry(&a, (int)(i + 1), "TABLE DATA", "public", rel, stmt);
	}
	for (i = 0; i < 6; i++) {
		for (j = 0; j <= i; j++)
			rows[j] = '\n';
		rows[j] = '\0';
		rows_block(&a, (int)(i + 1), rows);
	}
	s = scan_whole(&a);
	for (i = 0; i < 6; i++) {
		snprintf(rel, sizeof(rel), "w%zu", lens[i]);
		cr_assert_eq(pg_scan_rows(s, "public", rel), (long long)i + 1,
		    "%s", rel);
	}
	pg_scan_free(s);

	/* and byte by byte */
	s = open_scan(&a);
	for (i = a.headlen; i < a.n; i++)
		cr_assert_eq(pg_scan_feed(s, a.b + i, 1), 0, "byte %zu: %s",
		    i, pg_scan_error(s));
	cr_assert_eq(pg_scan_end(s), 1, "%s", pg_scan_error(s));
	for (i = 0; i < 6; i++) {
		snprintf(rel, sizeof(rel), "w%zu", lens[i]);
		cr_assert_eq(pg_scan_rows(s, "public", rel), (long long)i + 1,
		    "%s", rel);
	}
	pg_scan_free(s);
	ab_free(&a);
}
