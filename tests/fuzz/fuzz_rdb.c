/*
 * fuzz_rdb.c - libFuzzer target: the Redis plugin's SYNC reply parser.
 * The first input byte picks where the rest is cut in two, so that the
 * parser's state carries across feeds; every emitted byte is checked to
 * stay within what was fed.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "rdb_stream.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct sink {
	size_t	total;
	size_t	limit;
};

static int
count(void *arg, const void *p, size_t n)
{
	struct sink	*k = arg;

	(void)p;
	k->total += n;
	if (k->total > k->limit)
		abort();	/* emitted more than was fed */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rdb_stream	*s;
	struct sink		 k;
	size_t			 cut;
	int			 r;

	if (size == 0)
		return 0;
	cut = size > 1 ? data[0] % size : 0;
	data++;
	size--;
	if (cut > size)
		cut = size;
	k.total = 0;
	k.limit = size;
	s = rdb_stream_new();
	if (s == NULL)
		return 0;
	r = rdb_stream_feed(s, data, cut, count, &k);
	if (r != RDB_STREAM_ERR)
		r = rdb_stream_feed(s, data + cut, size - cut, count, &k);
	if (r == RDB_STREAM_DONE && rdb_stream_bytes(s) != k.total)
		abort();
	(void)rdb_stream_finish(s);
	if (rdb_stream_bytes(s) < k.total)
		abort();
	rdb_stream_free(s);
	return 0;
}
