/*
 * test_codec.c - streaming zstd and gzip, both directions.
 */
#include "zb-build.h"

#include <zlib.h>
#include <zstd.h>

#include "codec.h"
#include "testlib.h"

static int
collect(void *arg, const void *p, size_t n)
{
	return buf_add(arg, p, n);
}

static void
fill(unsigned char *p, size_t n)
{
	size_t		 i;
	uint32_t	 x = 12345;

	/* half compressible text, half noise */
	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		p[i] = i % 4096 < 2048 ? (unsigned char)"backup "[i % 7] :
		    (unsigned char)(x >> 24);
	}
}

/* Compress in odd-sized pieces, decompress in other ones. */
static void
round_trip(const struct compression *c)
{
	size_t		 n = 3 * 1024 * 1024 + 17, i, step;
	unsigned char	*in = malloc(n);
	struct buf	 z, out;
	struct codec	*enc, *dec;
	const char	*err;
	size_t		 used;

	fill(in, n);
	buf_init(&z, 2 * n);
	buf_init(&out, 2 * n);
	enc = codec_new(c, 0, &err);
	cr_assert_not_null(enc);
	for (i = 0; i < n; i += step) {
		step = (i % 3 + 1) * 40000;
		if (step > n - i)
			step = n - i;
		cr_assert_eq(codec_update(enc, in + i, step, &used, SIZE_MAX,
		    collect, &z, &err), 0, "%s", err);
	}
	cr_assert_eq(codec_finish(enc, collect, &z, &err), 0);
	cr_assert_lt(z.len, n, "compressed is smaller");
	dec = codec_new(c, 1, &err);
	for (i = 0; i < z.len; i += step) {
		step = 1000 + i % 5000;
		if (step > z.len - i)
			step = z.len - i;
		cr_assert_eq(codec_update(dec, z.data + i, step, &used,
		    SIZE_MAX, collect, &out, &err), 0, "%s", err);
	}
	cr_assert_eq(codec_finish(dec, collect, &out, &err), 0, "%s", err);
	cr_assert_eq(out.len, n);
	cr_assert_eq(memcmp(out.data, in, n), 0);

	/* Truncated input is an error at finish, never a short success. */
	codec_free(dec);
	buf_reset(&out);
	dec = codec_new(c, 1, &err);
	cr_assert_eq(codec_update(dec, z.data, z.len - 10, &used, SIZE_MAX,
	    collect, &out, &err), 0);
	cr_assert_eq(codec_finish(dec, collect, &out, &err), -1);
	codec_free(dec);

	/* A flipped byte fails somewhere before a clean end. */
	z.data[z.len / 2] ^= 0x40;
	buf_reset(&out);
	dec = codec_new(c, 1, &err);
	cr_assert(codec_update(dec, z.data, z.len, &used, SIZE_MAX, collect,
	    &out, &err) == -1 ||
	    codec_finish(dec, collect, &out, &err) == -1 || out.len != n ||
	    memcmp(out.data, in, n) != 0);
	codec_free(dec);
	codec_free(enc);
	buf_free(&z);
	buf_free(&out);
	free(in);
}

Test(codec, zstd_round_trip)
{
	struct compression c = { COMP_ZSTD, 3, 0 };

	round_trip(&c);
}

/* zstd's own threads (a backup with the worker pool): 2 MiB jobs. */
Test(codec, zstd_threads_round_trip)
{
	struct compression c = { COMP_ZSTD, 3, 2 };

	round_trip(&c);
}

/*
 * Every frame carries its content checksum (the manifest's "check"), and
 * a checksum that does not match the bytes is an error.
 */
Test(codec, zstd_frames_carry_their_checksum)
{
	struct compression c = { COMP_ZSTD, 3, 0 };
	struct codec	*enc, *dec;
	struct buf	 z, out;
	const char	*err;
	char		 msg[4096];
	size_t		 n;

	memset(msg, 'z', sizeof(msg));
	buf_init(&z, 8192);
	buf_init(&out, 8192);
	enc = codec_new(&c, 0, &err);
	codec_update(enc, msg, sizeof(msg), &n, SIZE_MAX, collect, &z, &err);
	cr_assert_eq(codec_finish(enc, collect, &z, &err), 0);
	/* RFC 8878 3.1.1.1.1: the descriptor after the magic, bit 2 */
	cr_assert_gt(z.len, 5);
	cr_assert((z.data[4] & 0x04) != 0, "no Content_Checksum_flag");
	z.data[z.len - 1] ^= 0x01;	/* the checksum's last byte */
	dec = codec_new(&c, 1, &err);
	cr_assert(codec_update(dec, z.data, z.len, &n, SIZE_MAX, collect,
	    &out, &err) == -1 || codec_finish(dec, collect, &out, &err) == -1,
	    "a wrong checksum went through");
	codec_free(enc);
	codec_free(dec);
	buf_free(&z);
	buf_free(&out);
}

Test(codec, gzip_round_trip)
{
	struct compression c = { COMP_GZIP, 6, 0 };

	round_trip(&c);
}

Test(codec, zstd_output_is_a_standard_frame)
{
	struct compression c = { COMP_ZSTD, 1, 0 };
	struct codec	*enc;
	struct buf	 z;
	const char	*err, *msg = "hello, zstd frame";
	char		 back[64];
	size_t		 n;

	buf_init(&z, 1024);
	enc = codec_new(&c, 0, &err);
	codec_update(enc, msg, strlen(msg), &n, SIZE_MAX, collect, &z, &err);
	codec_finish(enc, collect, &z, &err);
	n = ZSTD_decompress(back, sizeof(back), z.data, z.len);
	cr_assert(!ZSTD_isError(n));
	cr_assert_eq(n, strlen(msg));
	cr_assert_eq(memcmp(back, msg, n), 0);
	cr_assert_str_eq(codec_ext(&c), ".zst");
	codec_free(enc);
	buf_free(&z);
}

Test(codec, gzip_has_gzip_magic_and_trailing_data_is_refused)
{
	struct compression c = { COMP_GZIP, 6, 0 };
	struct codec	*enc, *dec;
	struct buf	 z, out;
	const char	*err;
	size_t		 used;

	buf_init(&z, 1024);
	buf_init(&out, 1024);
	enc = codec_new(&c, 0, &err);
	codec_update(enc, "abc", 3, &used, SIZE_MAX, collect, &z, &err);
	codec_finish(enc, collect, &z, &err);
	cr_assert_eq((unsigned char)z.data[0], 0x1f);
	cr_assert_eq((unsigned char)z.data[1], 0x8b);
	cr_assert_eq(buf_add(&z, "junk", 4), 0);
	dec = codec_new(&c, 1, &err);
	cr_assert_eq(codec_update(dec, z.data, z.len, &used, SIZE_MAX, collect,
	    &out, &err), -1);
	codec_free(enc);
	codec_free(dec);
	buf_free(&z);
	buf_free(&out);
}

/*
 * Highly compressible input, decompressed under an output cap as the
 * stream core does: no chunk of output may exceed the cap's step, and a
 * frame that ends exactly at a window boundary is complete, not
 * "truncated" (a 128 KiB run of zeros used to fail that way).
 */
static void
capped_zeros(const struct compression *c, size_t n)
{
	unsigned char	*in = calloc(1, n);
	struct codec	*enc, *dec;
	struct buf	 z, out;
	const char	*err;
	size_t		 used, off = 0, before, cap = 256 * 1024;
	int		 rc, calls = 0;

	buf_init(&z, n + 1024);
	buf_init(&out, n + 1);
	enc = codec_new(c, 0, &err);
	cr_assert_eq(codec_update(enc, in, n, &used, SIZE_MAX, collect, &z,
	    &err), 0);
	cr_assert_eq(codec_finish(enc, collect, &z, &err), 0);
	dec = codec_new(c, 1, &err);
	do {
		before = out.len;
		rc = codec_update(dec, z.data + off, z.len - off, &used, cap,
		    collect, &out, &err);
		cr_assert_neq(rc, -1, "%s", err);
		cr_assert_leq(out.len - before, cap, "one call emitted %zu",
		    out.len - before);
		off += used;
		calls++;
	} while (rc == 1);
	cr_assert_eq(off, z.len);
	cr_assert_eq(codec_finish(dec, collect, &out, &err), 0, "%s", err);
	cr_assert_eq(out.len, n);
	cr_assert(n <= cap || calls > 1, "the cap was applied");
	codec_free(enc);
	codec_free(dec);
	buf_free(&z);
	buf_free(&out);
	free(in);
}

Test(codec, zstd_zeros_at_window_boundary_and_capped)
{
	struct compression c = { COMP_ZSTD, 3, 0 };

	capped_zeros(&c, 131072);
	capped_zeros(&c, 8 << 20);
}

Test(codec, gzip_zeros_capped)
{
	struct compression c = { COMP_GZIP, 6, 0 };

	capped_zeros(&c, 131072);
	capped_zeros(&c, 8 << 20);
}
