/*
 * rdb_stream.c - parses what a Redis master sends after SYNC or PSYNC, as
 * `redis-cli --rdb' reads it (see redis-rdb-stream.md, section 2):
 *
 *	\n ...			keepalives while the snapshot is prepared
 *	+FULLRESYNC id off\r\n	only after PSYNC
 *	$<len>\r\n <len bytes>	disk-based sync, no trailing CRLF
 *	$EOF:<mark>\r\n <rdb> <mark>	diskless sync, 40-byte mark
 *	-ERR ...\r\n		refusal
 *
 * and checks the RDB on the way through: "REDIS" plus 4 version digits,
 * the 0xff EOF opcode, and the little-endian CRC-64 trailer over every
 * byte before it (0 means the server has rdbchecksum off).
 *
 * Owns one struct rdb_stream.  Invariants: line holds at most
 * RDB_STREAM_LINE_MAX bytes of the header line being read; hold holds at
 * most RDB_STREAM_MARK_LEN bytes, the only diskless bytes not yet emitted,
 * and no mark ever ends inside hold (every end position is searched as
 * bytes arrive), so the mark is never emitted; tail holds the last (at
 * most 8) payload bytes, which crc does not cover yet; crc covers exactly
 * payload - ntail bytes and last is the final byte it covered.  Nothing
 * else is buffered, so memory does not grow with the RDB.
 */
#include "zb-build.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc64.h"
#include "rdb_stream.h"

#define MAGIC_LEN	9	/* "REDIS0011" */
#define TRAILER_LEN	8	/* CRC-64, little-endian */
#define MIN_VERSION	5	/* the first with a checksum trailer */
#define NOT_FOUND	((size_t)-1)

enum state {
	ST_START,	/* skipping keepalive newlines */
	ST_LINE,	/* reading a header line */
	ST_BULK,	/* $<len> payload */
	ST_MARK,	/* $EOF:<mark> payload */
	ST_DONE,
	ST_ERR
};

struct rdb_stream {
	enum state	 state;
	int		 diskless;
	int		 fullresync;	/* +FULLRESYNC already seen */
	int		 version;
	int		 unchecked;
	char		 line[RDB_STREAM_LINE_MAX + 1];
	size_t		 nline;
	uint64_t	 want;		/* $<len> bytes still to come */
	uint8_t		 mark[RDB_STREAM_MARK_LEN];
	uint8_t		 hold[RDB_STREAM_MARK_LEN];
	size_t		 nhold;
	uint8_t		 magic[MAGIC_LEN];
	uint8_t		 tail[TRAILER_LEN];
	size_t		 ntail;
	uint8_t		 last;
	uint64_t	 crc;
	uint64_t	 payload;
	uint64_t	 extra;
	char		 err[256];
};

static int	fail(struct rdb_stream *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));

static int
fail(struct rdb_stream *s, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->state = ST_ERR;
	return -1;
}

/* Printable copy of at most 120 bytes of p, for error messages. */
static void
printable(char *dst, size_t dstlen, const void *p, size_t n)
{
	const unsigned char	*c = p;
	size_t			 i;

	if (n > dstlen - 1)
		n = dstlen - 1;
	for (i = 0; i < n; i++)
		dst[i] = c[i] >= 0x20 && c[i] < 0x7f ? (char)c[i] : '?';
	dst[n] = '\0';
}

/* Checks the bytes of "REDIS" + 4 digits seen so far (have of them). */
static int
check_magic(struct rdb_stream *s, size_t have)
{
	char	show[MAGIC_LEN + 1];
	size_t	i;
	int	v = 0;

	for (i = 0; i < have; i++) {
		if (i < 5 ? s->magic[i] != (uint8_t)"REDIS"[i] :
		    s->magic[i] < '0' || s->magic[i] > '9') {
			printable(show, sizeof(show), s->magic, have);
			return fail(s, "not an RDB: payload starts with "
			    "\"%s\", expected \"REDIS\" and 4 digits", show);
		}
	}
	if (have < MAGIC_LEN)
		return 0;
	for (i = 5; i < MAGIC_LEN; i++)
		v = v * 10 + (s->magic[i] - '0');
	if (v < MIN_VERSION)
		return fail(s, "RDB version %d has no checksum trailer "
		    "(need %d or later)", v, MIN_VERSION);
	s->version = v;
	return 0;
}

/* Verification of payload bytes: magic, CRC over all but the trailer. */
static int
vfy_add(struct rdb_stream *s, const uint8_t *p, size_t n)
{
	size_t	k, drop;

	if (s->payload < MAGIC_LEN) {
		k = MAGIC_LEN - (size_t)s->payload;
		if (k > n)
			k = n;
		memcpy(s->magic + s->payload, p, k);
		if (check_magic(s, (size_t)s->payload + k) == -1)
			return -1;
	}
	s->payload += n;
	if (s->ntail + n <= TRAILER_LEN) {
		memcpy(s->tail + s->ntail, p, n);
		s->ntail += n;
		return 0;
	}
	/* These bytes can no longer be part of the trailer. */
	drop = s->ntail + n - TRAILER_LEN;
	k = drop < s->ntail ? drop : s->ntail;
	if (k > 0) {
		s->crc = crc64_update(s->crc, s->tail, k);
		s->last = s->tail[k - 1];
		memmove(s->tail, s->tail + k, s->ntail - k);
		s->ntail -= k;
		drop -= k;
	}
	if (drop > 0) {
		s->crc = crc64_update(s->crc, p, drop);
		s->last = p[drop - 1];
		p += drop;
		n -= drop;
	}
	memcpy(s->tail + s->ntail, p, n);
	s->ntail += n;
	return 0;
}

/* The payload has ended: check what only the end can tell. */
static int
vfy_end(struct rdb_stream *s)
{
	uint64_t	stored = 0;
	int		i;

	if (s->payload < MAGIC_LEN + 1 + TRAILER_LEN)
		return fail(s, "RDB too short: %llu bytes",
		    (unsigned long long)s->payload);
	if (s->last != 0xff)
		return fail(s, "RDB does not end with the EOF opcode (0xff) "
		    "before its checksum");
	for (i = TRAILER_LEN - 1; i >= 0; i--)
		stored = stored << 8 | s->tail[i];
	if (stored == 0)
		s->unchecked = 1;	/* rdbchecksum no: nothing to check */
	else if (stored != s->crc)
		return fail(s, "RDB checksum mismatch: trailer says %016llx, "
		    "data gives %016llx", (unsigned long long)stored,
		    (unsigned long long)s->crc);
	s->state = ST_DONE;
	return 0;
}

static int
put(struct rdb_stream *s, const uint8_t *p, size_t n,
    rdb_stream_emit_cb emit, void *arg)
{
	if (n == 0)
		return 0;
	if (vfy_add(s, p, n) == -1)
		return -1;
	if (emit != NULL && emit(arg, p, n) == -1)
		return fail(s, "storing the RDB failed after %llu bytes",
		    (unsigned long long)s->payload);
	return 0;
}

static int
parse_bulk_len(struct rdb_stream *s, const char *p, size_t n)
{
	char		show[64];
	uint64_t	v = 0;
	size_t		i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' ||
		    v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			break;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (n == 0 || i != n) {
		printable(show, sizeof(show), p, n);
		return fail(s, "bad bulk length \"$%s\" in the SYNC reply",
		    show);
	}
	s->want = v;
	s->state = ST_BULK;
	if (v == 0)
		return vfy_end(s);
	return 0;
}

/* A complete header line (without its \n) is in s->line. */
static int
header_line(struct rdb_stream *s)
{
	char	show[128];
	size_t	n = s->nline;

	if (n > 0 && s->line[n - 1] == '\r')
		n--;
	s->line[n] = '\0';
	s->nline = 0;
	printable(show, sizeof(show), s->line, n);
	switch (s->line[0]) {
	case '-':
		return fail(s, "master refused the sync: %s", show);
	case '+':
		if (!s->fullresync &&
		    strncmp(s->line, "+FULLRESYNC", 11) == 0 &&
		    (n == 11 || s->line[11] == ' ')) {
			s->fullresync = 1;
			s->state = ST_START;
			return 0;
		}
		if (strncmp(s->line, "+CONTINUE", 9) == 0)
			return fail(s, "master offered a partial resync "
			    "(%s), which carries no RDB", show);
		return fail(s, "unexpected reply to SYNC: %s", show);
	default:	/* '$', checked by line_feed */
		break;
	}
	if (n >= 5 && memcmp(s->line + 1, "EOF:", 4) == 0) {
		if (n - 5 != RDB_STREAM_MARK_LEN)
			return fail(s, "diskless EOF mark is %zu bytes, "
			    "expected %d", n - 5, RDB_STREAM_MARK_LEN);
		memcpy(s->mark, s->line + 5, RDB_STREAM_MARK_LEN);
		s->diskless = 1;
		s->state = ST_MARK;
		return 0;
	}
	return parse_bulk_len(s, s->line + 1, n - 1);
}

static int
line_feed(struct rdb_stream *s, const uint8_t *p, size_t n, size_t *used)
{
	const uint8_t	*nl;
	size_t		 k;

	if (s->state == ST_START) {
		if (p[0] == '\n') {
			*used = 1;
			return 0;
		}
		if (p[0] != '$' && p[0] != '+' && p[0] != '-')
			return fail(s, "unexpected byte 0x%02x where the SYNC "
			    "reply should start", p[0]);
		s->state = ST_LINE;
	}
	nl = memchr(p, '\n', n);
	k = nl != NULL ? (size_t)(nl - p) : n;
	if (k > RDB_STREAM_LINE_MAX - s->nline)
		return fail(s, "SYNC reply header longer than %d bytes",
		    RDB_STREAM_LINE_MAX);
	memcpy(s->line + s->nline, p, k);
	s->nline += k;
	if (nl == NULL) {
		*used = n;
		return 0;
	}
	*used = k + 1;
	return header_line(s);
}

static int
bulk_feed(struct rdb_stream *s, const uint8_t *p, size_t n, size_t *used,
    rdb_stream_emit_cb emit, void *arg)
{
	size_t	k = n;

	if (k > s->want)
		k = (size_t)s->want;
	*used = k;
	if (put(s, p, k, emit, arg) == -1)
		return -1;
	s->want -= k;
	if (s->want == 0)
		return vfy_end(s);
	return 0;
}

/* Offset of the first whole mark in p[0..n), or NOT_FOUND. */
static size_t
find_mark(const struct rdb_stream *s, const uint8_t *p, size_t n)
{
	const uint8_t	*c;
	size_t		 i = 0;

	while (n >= RDB_STREAM_MARK_LEN &&
	    i <= n - RDB_STREAM_MARK_LEN) {
		c = memchr(p + i, s->mark[0], n - RDB_STREAM_MARK_LEN + 1 - i);
		if (c == NULL)
			break;
		i = (size_t)(c - p);
		if (memcmp(c, s->mark, RDB_STREAM_MARK_LEN) == 0)
			return i;
		i++;
	}
	return NOT_FOUND;
}

static int
mark_feed(struct rdb_stream *s, const uint8_t *p, size_t n, size_t *used,
    rdb_stream_emit_cb emit, void *arg)
{
	uint8_t	win[2 * RDB_STREAM_MARK_LEN];
	size_t	nb, i, rel, k;

	/* A mark that starts in hold and ends in p. */
	nb = n < RDB_STREAM_MARK_LEN - 1 ? n : RDB_STREAM_MARK_LEN - 1;
	memcpy(win, s->hold, s->nhold);
	memcpy(win + s->nhold, p, nb);
	i = find_mark(s, win, s->nhold + nb);
	if (i != NOT_FOUND) {
		if (i + RDB_STREAM_MARK_LEN <= s->nhold)
			return fail(s, "internal error: EOF mark in hold");
		*used = i + RDB_STREAM_MARK_LEN - s->nhold;
		s->nhold = 0;
		if (put(s, win, i, emit, arg) == -1)
			return -1;
		return vfy_end(s);
	}
	i = find_mark(s, p, n);
	if (i != NOT_FOUND) {
		*used = i + RDB_STREAM_MARK_LEN;
		if (put(s, s->hold, s->nhold, emit, arg) == -1 ||
		    put(s, p, i, emit, arg) == -1)
			return -1;
		s->nhold = 0;
		return vfy_end(s);
	}
	/* No mark yet: release all but the last MARK_LEN bytes. */
	*used = n;
	if (s->nhold + n <= RDB_STREAM_MARK_LEN) {
		memcpy(s->hold + s->nhold, p, n);
		s->nhold += n;
		return 0;
	}
	rel = s->nhold + n - RDB_STREAM_MARK_LEN;
	k = rel < s->nhold ? rel : s->nhold;
	if (put(s, s->hold, k, emit, arg) == -1)
		return -1;
	memmove(s->hold, s->hold + k, s->nhold - k);
	s->nhold -= k;
	rel -= k;
	if (put(s, p, rel, emit, arg) == -1)
		return -1;
	memcpy(s->hold + s->nhold, p + rel, n - rel);
	s->nhold += n - rel;
	return 0;
}

static int
status(const struct rdb_stream *s)
{
	if (s->state == ST_ERR)
		return RDB_STREAM_ERR;
	if (s->state == ST_DONE)
		return RDB_STREAM_DONE;
	return RDB_STREAM_MORE;
}

struct rdb_stream *
rdb_stream_new(void)
{
	struct rdb_stream	*s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->state = ST_START;
	s->crc = CRC64_INIT;
	return s;
}

void
rdb_stream_free(struct rdb_stream *s)
{
	free(s);
}

int
rdb_stream_feed(struct rdb_stream *s, const void *data, size_t len,
    rdb_stream_emit_cb emit, void *arg)
{
	const uint8_t	*p = data;
	size_t		 used;
	int		 r;

	while (len > 0) {
		used = 0;
		switch (s->state) {
		case ST_START:
		case ST_LINE:
			r = line_feed(s, p, len, &used);
			break;
		case ST_BULK:
			r = bulk_feed(s, p, len, &used, emit, arg);
			break;
		case ST_MARK:
			r = mark_feed(s, p, len, &used, emit, arg);
			break;
		case ST_DONE:
			s->extra += len;
			return RDB_STREAM_DONE;
		default:
			return RDB_STREAM_ERR;
		}
		if (r == -1)
			return RDB_STREAM_ERR;
		p += used;
		len -= used;
	}
	return status(s);
}

int
rdb_stream_finish(struct rdb_stream *s)
{
	switch (s->state) {
	case ST_DONE:
		return 0;
	case ST_ERR:
		return -1;
	case ST_START:
	case ST_LINE:
		return fail(s, "connection closed before the RDB header");
	case ST_BULK:
		return fail(s, "RDB truncated: %llu of %llu bytes",
		    (unsigned long long)s->payload,
		    (unsigned long long)(s->payload + s->want));
	case ST_MARK:
		return fail(s, "RDB truncated: diskless EOF mark not seen "
		    "after %llu bytes",
		    (unsigned long long)(s->payload + s->nhold));
	}
	return -1;
}

const char *
rdb_stream_error(const struct rdb_stream *s)
{
	return s->err;
}

uint64_t
rdb_stream_bytes(const struct rdb_stream *s)
{
	return s->payload;
}

uint64_t
rdb_stream_extra(const struct rdb_stream *s)
{
	return s->extra;
}

int
rdb_stream_version(const struct rdb_stream *s)
{
	return s->version;
}

int
rdb_stream_diskless(const struct rdb_stream *s)
{
	return s->diskless;
}

int
rdb_stream_unchecked(const struct rdb_stream *s)
{
	return s->unchecked;
}
