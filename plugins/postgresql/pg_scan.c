/*
 * pg_scan.c - every table's row count, read from a pg_dump custom-format
 * archive as it streams past.
 *
 * After the head (pg_archive.c) comes the TOC (WriteToc() and ReadToc()
 * in pg_backup_archiver.c): an Int count of entries, then per entry
 *   Int dumpId, Int hadDumper, Str tableoid, Str oid, Str tag, Str desc,
 *   Int section, Str defn, Str dropStmt, Str copyStmt, Str namespace,
 *   Str tablespace, Str tableam (1.14 on), Int relkind (1.16 on),
 *   Str owner, Str withOids, one Str per dependency up to a NULL one,
 *   and the custom format's data position: a flag byte and offSize bytes.
 * The data follow (WriteDataChunks()): per entry that has data, a block
 * type byte (1: table data, 3: large objects), Int dumpId, then chunks
 * (Int length and the bytes) up to an Int 0; large objects are an Int
 * oid, chunks and an Int 0 each, up to an oid of 0.  Written to a pipe,
 * the archive ends after the last block (pg_dump cannot seek back to
 * rewrite the TOC).  An Int is a sign byte and intSize bytes, least
 * significant first; a Str an Int length (-1: NULL) and the bytes.
 *
 * Uncompressed (pg_dump -Z0), a TABLE DATA entry's bytes are COPY text:
 * one line per row (a newline inside a value is written as \n), then
 * "\.\n\n\n" (dumpTableData_copy() in pg_dump.c).  So its rows are its
 * newlines less three, checked by the closing bytes.  Compressed data,
 * or data written as INSERT statements, cannot be counted this way: the
 * scanner is not made for the first, and leaves such a table uncounted
 * (-1) for the second.
 *
 * Archive versions 1.12 to 1.16 (pg_dump 9.0 to 17) are read; the caller
 * counts with SQL when pg_scan_new refuses or pg_scan_end says the scan
 * is incomplete.  The scanner never buffers more than one Int or one name.
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define SCAN_NAME_MAX	256	/* a tag, desc or namespace; NAMEDATALEN 64 */
#define SCAN_MIN_VMIN	12
#define SCAN_MAX_VMIN	16
#define BLK_DATA	1
#define BLK_BLOBS	3
#define COPY_END	"\\.\n\n\n"
#define COPY_END_LEN	5

/* What a field of a TOC entry is read as, and what is kept of it. */
enum fkind { F_INT, F_STR, F_DEPS, F_OFFSET };
enum fuse { U_NONE, U_ID, U_TAG, U_DESC, U_COPY, U_NSP };

struct field {
	enum fkind	 kind;
	enum fuse	 use;
};

struct scan_table {
	long long	 dump_id;
	char		*nsp, *rel;
	int		 copy;		/* COPY text: its rows can be counted */
	int		 cut;		/* its name or schema was too long */
	int		 seen;		/* its data block ended */
	long long	 rows;
};

enum phase {
	P_COUNT,	/* the TOC's entry count */
	P_ENTRY,	/* a TOC entry, field by field */
	P_BLOCK,	/* a data block's type, or the end of the archive */
	P_BLOCK_ID,
	P_BLOB_OID,
	P_CHUNK_LEN,
	P_CHUNK,
	P_FAILED
};

struct pg_scan {
	int		 intsize, offsize;
	struct field	 fields[20];
	int		 nfields;
	enum phase	 phase;
	const char	*err;
	/* the Int (or byte, or offset) being read */
	unsigned char	 ib[16];
	size_t		 ilen;
	/* the Str being read: its length is read first */
	int		 in_str;	/* the length is known */
	long long	 str_left;
	char		 str[SCAN_NAME_MAX];
	size_t		 slen;
	int		 str_null;
	int		 str_cut;	/* longer than what was kept */
	/* the TOC */
	long long	 entries_left;
	int		 field;
	struct scan_table cur;		/* the entry being read */
	char		 desc[SCAN_NAME_MAX];
	int		 has_data;
	struct scan_table *tables;
	size_t		 ntables, cap;
	int		 by_name;	/* tables sorted by name (at the end) */
	/* the data */
	int		 blobs;
	struct scan_table *in;		/* the table whose data this is */
	long long	 chunk_left;
	long long	 newlines;
	unsigned char	 tail[COPY_END_LEN];
	size_t		 taillen;
	size_t		 hint;		/* the last block's table, by id */
};

static void
add_field(struct pg_scan *s, enum fkind kind, enum fuse use)
{
	s->fields[s->nfields].kind = kind;
	s->fields[s->nfields].use = use;
	s->nfields++;
}

struct pg_scan *
pg_scan_new(const struct pg_archive_head *h, const char **why)
{
	struct pg_scan	*s;

	if (h->vmaj != 1 || h->vmin < SCAN_MIN_VMIN ||
	    h->vmin > SCAN_MAX_VMIN) {
		*why = "archive version not known to the row counter";
		return NULL;
	}
	if (h->compressed) {
		*why = "the archive's data is compressed (dump_compression)";
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*why = "out of memory";
		return NULL;
	}
	s->intsize = h->intsize;
	s->offsize = h->offsize;
	add_field(s, F_INT, U_ID);		/* dumpId */
	add_field(s, F_INT, U_NONE);		/* hadDumper */
	add_field(s, F_STR, U_NONE);		/* tableoid */
	add_field(s, F_STR, U_NONE);		/* oid */
	add_field(s, F_STR, U_TAG);
	add_field(s, F_STR, U_DESC);
	add_field(s, F_INT, U_NONE);		/* section */
	add_field(s, F_STR, U_NONE);		/* defn */
	add_field(s, F_STR, U_NONE);		/* dropStmt */
	add_field(s, F_STR, U_COPY);		/* copyStmt */
	add_field(s, F_STR, U_NSP);
	add_field(s, F_STR, U_NONE);		/* tablespace */
	if (h->vmin >= 14)
		add_field(s, F_STR, U_NONE);	/* tableam */
	if (h->vmin >= 16)
		add_field(s, F_INT, U_NONE);	/* relkind */
	add_field(s, F_STR, U_NONE);		/* owner */
	add_field(s, F_STR, U_NONE);		/* withOids */
	add_field(s, F_DEPS, U_NONE);
	add_field(s, F_OFFSET, U_NONE);
	s->phase = P_COUNT;
	return s;
}

static void
table_free(struct scan_table *t)
{
	free(t->nsp);
	free(t->rel);
}

void
pg_scan_free(struct pg_scan *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->ntables; i++)
		table_free(&s->tables[i]);
	table_free(&s->cur);
	free(s->tables);
	free(s);
}

static int
fail(struct pg_scan *s, const char *err)
{
	s->phase = P_FAILED;
	s->err = err;
	return -1;
}

/*
 * Read need bytes into s->ib: 1 when they are all there, 0 when the
 * input ran out first.
 */
static int
take_bytes(struct pg_scan *s, const unsigned char **p, size_t *n,
    size_t need)
{
	size_t	 k = need - s->ilen;

	if (k > *n)
		k = *n;
	memcpy(s->ib + s->ilen, *p, k);
	s->ilen += k;
	*p += k;
	*n -= k;
	if (s->ilen < need)
		return 0;
	s->ilen = 0;
	return 1;
}

/* An Int: 1 (in *v), 0 (more input needed), -1 (malformed). */
static int
take_int(struct pg_scan *s, const unsigned char **p, size_t *n,
    long long *v)
{
	const unsigned char	*b;
	unsigned long long	 u = 0;
	size_t			 need = 1 + (size_t)s->intsize;
	int			 i;

	if (s->ilen == 0 && *n >= need) {
		b = *p;		/* the whole Int is there: no copy */
		*p += need;
		*n -= need;
	} else if (take_bytes(s, p, n, need) == 1)
		b = s->ib;
	else
		return 0;
	for (i = s->intsize - 1; i >= 0; i--)
		u = u << 8 | b[1 + i];
	if (b[0] > 1 || u > 0x7fffffffULL)
		return fail(s, "malformed Int in the archive");
	*v = b[0] ? -(long long)u : (long long)u;
	return 1;
}

/*
 * A Str: 1 when read (s->str_null when NULL; with keep, its first
 * SCAN_NAME_MAX - 1 bytes in s->str, s->str_cut when it had more), 0
 * (more input needed), -1 (malformed).
 */
static int
take_str(struct pg_scan *s, const unsigned char **p, size_t *n, int keep)
{
	long long	 len;
	size_t		 k, room;
	int		 rc;

	if (!s->in_str) {
		rc = take_int(s, p, n, &len);
		if (rc != 1)
			return rc;
		if (len < -1)
			return fail(s, "malformed string length in the TOC");
		s->str_null = len == -1;
		s->str_left = len == -1 ? 0 : len;
		s->str_cut = s->str_left >= SCAN_NAME_MAX;
		s->slen = 0;
		s->in_str = 1;
	}
	k = (size_t)s->str_left < *n ? (size_t)s->str_left : *n;
	room = keep ? SCAN_NAME_MAX - 1 - s->slen : 0;
	memcpy(s->str + s->slen, *p, k < room ? k : room);
	s->slen += k < room ? k : room;
	*p += k;
	*n -= k;
	s->str_left -= (long long)k;
	if (s->str_left > 0)
		return 0;
	s->str[s->slen] = '\0';
	s->in_str = 0;
	return 1;
}

/* The entry just read: kept when it is a table's data. */
static int
entry_done(struct pg_scan *s)
{
	struct scan_table	*t;

	if (s->cur.dump_id <= 0)
		return fail(s, "TOC entry with an id out of range");
	if (strcmp(s->desc, "TABLE DATA") != 0) {
		table_free(&s->cur);
		memset(&s->cur, 0, sizeof(s->cur));
		return 0;
	}
	if (s->cur.rel == NULL || s->cur.nsp == NULL)
		return fail(s, "TABLE DATA entry without a name or schema");
	if (s->cur.cut)
		return fail(s, "a table name in the TOC is too long");
	if (s->ntables == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		t = reallocarray(s->tables, s->cap, sizeof(*t));
		if (t == NULL)
			return fail(s, "out of memory");
		s->tables = t;
	}
	s->cur.rows = -1;
	s->tables[s->ntables++] = s->cur;
	memset(&s->cur, 0, sizeof(s->cur));
	return 0;
}

static int
by_id(const void *a, const void *b)
{
	const struct scan_table	*x = a, *y = b;

	return (x->dump_id > y->dump_id) - (x->dump_id < y->dump_id);
}

/* Keep what a field says of the current entry. */
static int
use_field(struct pg_scan *s, enum fuse use, long long v)
{
	char	**dst = NULL;

	switch (use) {
	case U_ID:
		s->cur.dump_id = v;
		return 0;
	case U_DESC:
		if (s->str_null)
			return fail(s, "TOC entry without a description");
		memcpy(s->desc, s->str, s->slen + 1);
		return 0;
	case U_COPY:
		s->cur.copy = !s->str_null && strncmp(s->str, "COPY ", 5) == 0;
		return 0;
	case U_TAG:
		dst = &s->cur.rel;
		break;
	case U_NSP:
		dst = &s->cur.nsp;
		break;
	case U_NONE:
		return 0;
	}
	if (s->str_null)
		return 0;
	s->cur.cut |= s->str_cut;	/* a function's signature, say */
	free(*dst);
	if ((*dst = strdup(s->str)) == NULL)
		return fail(s, "out of memory");
	return 0;
}

/* One TOC entry's fields; 1 when the entry is complete. */
static int
scan_entry(struct pg_scan *s, const unsigned char **p, size_t *n)
{
	const struct field	*f;
	long long		 v = 0;
	int			 rc;

	while (s->field < s->nfields) {
		f = &s->fields[s->field];
		switch (f->kind) {
		case F_INT:
			rc = take_int(s, p, n, &v);
			break;
		case F_STR:
			rc = take_str(s, p, n, f->use != U_NONE);
			break;
		case F_DEPS:
			rc = take_str(s, p, n, 0);
			if (rc == 1 && !s->str_null)
				continue;	/* another dependency */
			break;
		case F_OFFSET:
			rc = take_bytes(s, p, n, 1 + (size_t)s->offsize);
			break;
		default:
			return fail(s, "unknown TOC field");
		}
		if (rc != 1)
			return rc;
		if (use_field(s, f->use, v) == -1)
			return -1;
		s->field++;
	}
	s->field = 0;
	if (entry_done(s) == -1)
		return -1;
	return 1;
}

static struct scan_table *
find_id(struct pg_scan *s, long long id)
{
	size_t	 lo = 0, hi = s->ntables, mid;

	/* the blocks come in the TOC's order: try the next one first */
	if (s->hint < s->ntables && s->tables[s->hint].dump_id == id)
		return &s->tables[s->hint++];
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->tables[mid].dump_id == id) {
			s->hint = mid + 1;
			return &s->tables[mid];
		}
		if (s->tables[mid].dump_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A table's data block ended: its rows, from the COPY text. */
static int
block_done(struct pg_scan *s)
{
	struct scan_table	*t = s->in;

	if (t == NULL)
		return 0;
	if (t->seen)
		return fail(s, "two data blocks for one table");
	t->seen = 1;
	if (!t->copy)
		return 0;
	if (s->taillen < COPY_END_LEN || memcmp(s->tail, COPY_END,
	    COPY_END_LEN) != 0 || s->newlines < 3)
		return fail(s, "table data that does not end as COPY text");
	t->rows = s->newlines - 3;
	return 0;
}

/* Count the newlines of a chunk of table data; keep its last bytes. */
static void
count_data(struct pg_scan *s, const unsigned char *p, size_t n)
{
	const unsigned char	*q = p, *end = p + n;
	size_t			 keep;

	for (;;) {
		q = memchr(q, '\n', (size_t)(end - q));
		if (q == NULL)
			break;
		s->newlines++;
		q++;
	}
	if (n >= COPY_END_LEN) {
		memcpy(s->tail, end - COPY_END_LEN, COPY_END_LEN);
		s->taillen = COPY_END_LEN;
		return;
	}
	keep = s->taillen + n > COPY_END_LEN ? COPY_END_LEN - n : s->taillen;
	memmove(s->tail, s->tail + s->taillen - keep, keep);
	memcpy(s->tail + keep, p, n);
	s->taillen = keep + n;
}

int
pg_scan_feed(struct pg_scan *s, const unsigned char *p, size_t n)
{
	long long	 v;
	size_t		 k;
	int		 rc;

	while (n > 0) {
		switch (s->phase) {
		case P_FAILED:
			return -1;
		case P_COUNT:
			rc = take_int(s, &p, &n, &v);
			if (rc != 1)
				return rc;
			if (v < 0)
				return fail(s, "negative TOC entry count");
			s->entries_left = v;
			s->phase = v > 0 ? P_ENTRY : P_BLOCK;
			break;
		case P_ENTRY:
			rc = scan_entry(s, &p, &n);
			if (rc != 1)
				return rc;
			if (--s->entries_left == 0) {
				if (s->ntables > 0)
					qsort(s->tables, s->ntables,
					    sizeof(*s->tables), by_id);
				s->phase = P_BLOCK;
			}
			break;
		case P_BLOCK:
			s->blobs = *p == BLK_BLOBS;
			if (*p != BLK_DATA && *p != BLK_BLOBS)
				return fail(s, "unknown data block type");
			p++;
			n--;
			s->phase = P_BLOCK_ID;
			break;
		case P_BLOCK_ID:
			rc = take_int(s, &p, &n, &v);
			if (rc != 1)
				return rc;
			s->in = s->blobs ? NULL : find_id(s, v);
			s->newlines = 0;
			s->taillen = 0;
			s->phase = s->blobs ? P_BLOB_OID : P_CHUNK_LEN;
			break;
		case P_BLOB_OID:
			rc = take_int(s, &p, &n, &v);
			if (rc != 1)
				return rc;
			s->phase = v == 0 ? P_BLOCK : P_CHUNK_LEN;
			break;
		case P_CHUNK_LEN:
			rc = take_int(s, &p, &n, &v);
			if (rc != 1)
				return rc;
			if (v < 0)
				return fail(s, "negative data chunk length");
			s->chunk_left = v;
			if (v > 0)
				s->phase = P_CHUNK;
			else if (s->blobs)
				s->phase = P_BLOB_OID;
			else {
				if (block_done(s) == -1)
					return -1;
				s->phase = P_BLOCK;
			}
			break;
		case P_CHUNK:
			k = (size_t)s->chunk_left < n ? (size_t)s->chunk_left :
			    n;
			if (s->in != NULL && s->in->copy)
				count_data(s, p, k);
			p += k;
			n -= k;
			s->chunk_left -= (long long)k;
			if (s->chunk_left == 0)
				s->phase = P_CHUNK_LEN;
			break;
		}
	}
	return s->phase == P_FAILED ? -1 : 0;
}

int
pg_scan_end(struct pg_scan *s)
{
	if (s->phase == P_FAILED)
		return 0;
	if (s->phase != P_BLOCK || s->ilen != 0) {
		s->err = "the archive ended inside the TOC or a data block";
		s->phase = P_FAILED;
		return 0;
	}
	return 1;
}

const char *
pg_scan_error(const struct pg_scan *s)
{
	return s->err != NULL ? s->err : "no error";
}

static int
by_name(const void *a, const void *b)
{
	const struct scan_table	*x = a, *y = b;
	int			 c = strcmp(x->nsp, y->nsp);

	return c != 0 ? c : strcmp(x->rel, y->rel);
}

long long
pg_scan_rows(struct pg_scan *s, const char *nsp, const char *rel)
{
	struct scan_table	 key, *t;

	if (s->ntables == 0)
		return -1;
	if (!s->by_name) {
		qsort(s->tables, s->ntables, sizeof(*s->tables), by_name);
		s->by_name = 1;
	}
	key.nsp = (char *)(uintptr_t)nsp;
	key.rel = (char *)(uintptr_t)rel;
	t = bsearch(&key, s->tables, s->ntables, sizeof(*s->tables), by_name);
	if (t == NULL || !t->seen)
		return -1;
	return t->rows;
}
